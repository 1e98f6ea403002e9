//! The admin/user split for slash commands (M25, CAC §3.5) and /whoami.
//!
//! Per platform and scope (DM or group), gating is on only when that scope's admin list is
//! non-empty: admins run everything, others run `user_allowed_commands` plus /help and /whoami.
//! Admin lists do not cross scopes; the DM command list falls back to the group one.

use hermes_platform::{ChatType, Source};

use super::registry::{self, CommandDef};
use super::{After, Command};
use crate::config::Config;
use crate::gateway::actor::ActorState;
use crate::gateway::auth::platform_key;
use crate::store::inbox::InboxRow;

pub const COMMANDS: &[CommandDef] = &[CommandDef::new("whoami", "", "Show who you are and what you can run")];

/// Always allowed, whatever the lists say.
const FLOOR: &[&str] = &["help", "whoami"];
/// At most this many commands are named in a denial.
const DENIAL_LIST_MAX: usize = 12;

/// What a user may run in one scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tier {
    /// No admin list for the scope: every command.
    Unrestricted,
    Admin,
    /// The commands allowed (sorted, floor included) and whether any were configured.
    User {
        commands: Vec<String>,
        configured: bool,
    },
}

impl Tier {
    fn name(&self) -> &'static str {
        match self {
            Tier::Unrestricted => "unrestricted",
            Tier::Admin => "admin",
            Tier::User { .. } => "user",
        }
    }
}

fn is_dm(source: &Source) -> bool {
    source.chat_type == ChatType::Dm
}

/// A list setting: a YAML list (joined with commas) or a comma string.
fn list(config: &Config, platform: &str, key: &str) -> Vec<String> {
    platform_key(config, platform, key)
        .unwrap_or_default()
        .split(',')
        .map(|e| e.trim().trim_matches(|c| c == '"' || c == '\'').trim())
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

fn command_list(config: &Config, platform: &str, key: &str) -> Vec<String> {
    list(config, platform, key).into_iter().map(|c| c.trim_start_matches('/').to_lowercase()).collect()
}

/// The sender's tier in this chat's scope.
pub fn tier(config: &Config, source: &Source) -> Tier {
    let p = source.platform.as_str();
    let (admins_key, cmds_key) = if is_dm(source) {
        ("allow_admin_from", "user_allowed_commands")
    } else {
        ("group_allow_admin_from", "group_user_allowed_commands")
    };
    let admins = list(config, p, admins_key);
    if admins.is_empty() {
        return Tier::Unrestricted;
    }
    if source.user_id.as_deref().is_some_and(|u| admins.iter().any(|a| a == u)) {
        return Tier::Admin;
    }
    let mut cmds = command_list(config, p, cmds_key);
    if cmds.is_empty() && is_dm(source) {
        cmds = command_list(config, p, "group_user_allowed_commands");
    }
    let configured = !cmds.is_empty();
    let cmds = crate::sorted::unique(cmds.into_iter().chain(FLOOR.iter().map(|s| s.to_string())));
    Tier::User { commands: cmds, configured }
}

/// True when the sender may run `name` (the typed name; the built-in it means counts too).
/// Bare-word approval answers ask this for `approve`; skills are not gated.
pub fn may_run(state: &ActorState, row: &InboxRow, name: &str) -> bool {
    allowed(&tier(&state.gw.config, &row.event.source), name)
}

fn allowed(tier: &Tier, name: &str) -> bool {
    let Tier::User { commands, .. } = tier else { return true };
    let name = name.trim_start_matches('/').to_lowercase();
    let canonical = registry::find(&name).map(|d| d.name);
    commands.iter().any(|c| *c == name || Some(c.as_str()) == canonical)
}

/// The denial text (Hermes' words).
fn denial(name: &str, tier: &Tier) -> String {
    match tier {
        Tier::User { commands, configured: true } => {
            let mut shown: Vec<String> = commands.iter().take(DENIAL_LIST_MAX).map(|c| format!("/{c}")).collect();
            if commands.len() > DENIAL_LIST_MAX {
                shown.push("…".into());
            }
            format!("⛔ /{name} is admin-only here. You can run: {}. Use /whoami for the full list.", shown.join(", "))
        }
        _ => format!(
            "⛔ /{name} is admin-only here. No slash commands are enabled for non-admins on this platform. Ask an admin to add you to allow_admin_from or to set user_allowed_commands."
        ),
    }
}

/// True when the sender may run `cmd` here; otherwise the denial was sent. Built-ins and quick
/// commands are gated; other names (skills, unknown) pass on to their handlers.
pub async fn gate(state: &ActorState, row: &InboxRow, cmd: &Command) -> bool {
    let known = registry::find(&cmd.name).is_some()
        || state.gw.config.commands.quick_commands.iter().any(|(n, _)| *n == cmd.name);
    if !known {
        return true;
    }
    let tier = tier(&state.gw.config, &row.event.source);
    if allowed(&tier, &cmd.name) {
        return true;
    }
    log::info!(
        "{}: /{} refused for non-admin {} in chat {}",
        row.platform,
        cmd.name,
        row.event.source.user_id.as_deref().unwrap_or("?"),
        row.event.source.chat_id
    );
    state.reply(row, &denial(&cmd.name, &tier)).await;
    false
}

pub async fn handle(state: &ActorState, row: &InboxRow, cmd: &Command) -> Option<After> {
    if cmd.name != "whoami" {
        return None;
    }
    state.reply(row, &whoami(&state.gw.config, &row.event.source)).await;
    Some(After::Done)
}

/// Platform, scope, user id, tier and the commands the sender can run.
pub fn whoami(config: &Config, source: &Source) -> String {
    let tier = tier(config, source);
    let commands = match &tier {
        Tier::User { commands, .. } => commands.iter().map(|c| format!("/{c}")).collect::<Vec<_>>().join(", "),
        _ => "all commands".to_string(),
    };
    format!(
        "👤 Platform: {}\nScope: {}\nUser ID: {}\nTier: {}\nYou can run: {commands}",
        source.platform,
        if is_dm(source) { "dm" } else { "group" },
        source.user_id.as_deref().unwrap_or("unknown"),
        tier.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_platform::settings::SettingValue;

    fn config(keys: &[(&str, &str)]) -> Config {
        let mut c = crate::test_util::config(&[]);
        let block = c.platform_blocks.entry("telegram".into()).or_default();
        for (k, v) in keys {
            block.insert(k.to_string(), SettingValue { value: v.to_string(), origin: "test".into() });
        }
        c
    }

    fn src(dm: bool, user: &str) -> Source {
        Source {
            platform: "telegram".into(),
            chat_id: if dm { user.into() } else { "-100".into() },
            chat_name: None,
            chat_type: if dm { ChatType::Dm } else { ChatType::Group },
            user_id: Some(user.into()),
            user_name: None,
            thread_id: None,
            is_bot: false,
            role_authorized: None,
        }
    }

    #[test]
    fn tiers_and_scopes() {
        let c = config(&[("extra.allow_admin_from", "1, 2"), ("user_allowed_commands", "/Status,new")]);
        assert_eq!(tier(&c, &src(true, "1")), Tier::Admin);
        let user = tier(&c, &src(true, "7"));
        assert!(
            allowed(&user, "status") && allowed(&user, "help") && allowed(&user, "whoami") && allowed(&user, "new")
        );
        assert!(!allowed(&user, "model"));
        assert_eq!(tier(&c, &src(false, "7")), Tier::Unrestricted, "admin lists do not cross scopes");
        assert_eq!(tier(&config(&[]), &src(true, "7")), Tier::Unrestricted);

        let c = config(&[("allow_admin_from", "1"), ("group_user_allowed_commands", "status")]);
        let t = tier(&c, &src(true, "7"));
        assert!(allowed(&t, "status"), "the DM list falls back to the group list");
        let none = tier(&config(&[("allow_admin_from", "1")]), &src(true, "7"));
        assert!(!allowed(&none, "new"));
        assert!(denial("new", &none).contains("No slash commands are enabled for non-admins"));
        assert_eq!(
            denial("new", &t),
            "⛔ /new is admin-only here. You can run: /help, /status, /whoami. Use /whoami for the full list."
        );
        let mut top = crate::test_util::config(&[]);
        top.access.platform_keys.insert("telegram.allow_admin_from".into(), "9".into());
        assert_eq!(tier(&top, &src(true, "9")), Tier::Admin, "top-level <platform>: block");
        assert!(whoami(&top, &src(true, "5")).contains("Tier: user"));
    }
}
