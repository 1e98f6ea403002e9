//! Who may use the gateway (M21–M23): deny by default, first matching rule allows.
//!
//! Rules, in order: a chat allowlist (`TELEGRAM_GROUP_ALLOWED_CHATS`) for group chats; bots are
//! refused unless `<P>_ALLOW_BOTS` is `mentions` or `all`; no user id → deny; `<P>_ALLOW_ALL_USERS`
//! or `GATEWAY_ALLOW_ALL_USERS`; the user id in `<P>_ALLOWED_USERS`, `GATEWAY_ALLOWED_USERS` (or,
//! in groups, `<P>_GROUP_ALLOWED_USERS`), where `*` means everyone. There is no path where a
//! missing or unparsable list means "allow". (Pairing approvals join these rules with the
//! pairing feature.)

use hermes_platform::settings::parse_bool;
use hermes_platform::{ChatType, Source};

use crate::config::Config;

/// The verdict for one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied,
}

/// Decides whether `source` may reach the agent or any command.
pub fn check(config: &Config, source: &Source) -> Verdict {
    let p = source.platform.to_ascii_uppercase();
    let group = source.chat_type != ChatType::Dm;

    if group && list_matches(config, &format!("{p}_GROUP_ALLOWED_CHATS"), &source.chat_id) {
        return Verdict::Allowed;
    }
    if source.is_bot {
        let bots = config.env_var(&format!("{p}_ALLOW_BOTS")).unwrap_or("none").to_ascii_lowercase();
        return if bots == "mentions" || bots == "all" { Verdict::Allowed } else { Verdict::Denied };
    }
    let Some(user) = source.user_id.as_deref().filter(|u| !u.is_empty()) else {
        return Verdict::Denied;
    };
    if flag(config, &format!("{p}_ALLOW_ALL_USERS")) || flag(config, "GATEWAY_ALLOW_ALL_USERS") {
        return Verdict::Allowed;
    }
    let mut lists = vec![format!("{p}_ALLOWED_USERS"), "GATEWAY_ALLOWED_USERS".to_string()];
    if group {
        lists.push(format!("{p}_GROUP_ALLOWED_USERS"));
    }
    if lists.iter().any(|var| list_matches(config, var, user)) {
        return Verdict::Allowed;
    }
    Verdict::Denied
}

/// True when the platform lets everyone in (startup prints a warning for it, M22).
pub fn allows_everyone(config: &Config, platform: &str) -> bool {
    let p = platform.to_ascii_uppercase();
    flag(config, &format!("{p}_ALLOW_ALL_USERS"))
        || flag(config, "GATEWAY_ALLOW_ALL_USERS")
        || [format!("{p}_ALLOWED_USERS"), "GATEWAY_ALLOWED_USERS".to_string()]
            .iter()
            .any(|var| entries(config, var).any(|e| e == "*"))
}

/// True when any allowlist is configured for the platform (then unknown DMs are ignored, M23).
pub fn has_allowlist(config: &Config, platform: &str) -> bool {
    let p = platform.to_ascii_uppercase();
    [
        format!("{p}_ALLOWED_USERS"),
        format!("{p}_GROUP_ALLOWED_USERS"),
        format!("{p}_GROUP_ALLOWED_CHATS"),
        "GATEWAY_ALLOWED_USERS".to_string(),
    ]
    .iter()
    .any(|var| entries(config, var).next().is_some())
}

fn flag(config: &Config, var: &str) -> bool {
    config.env_var(var).and_then(parse_bool).unwrap_or(false)
}

fn entries<'a>(config: &'a Config, var: &str) -> impl Iterator<Item = &'a str> {
    config.env_var(var).unwrap_or("").split(',').map(str::trim).filter(|e| !e.is_empty())
}

/// `*`, the id itself, or the id before an `@` (Hermes matches `user@host` style ids too).
fn list_matches(config: &Config, var: &str, id: &str) -> bool {
    let short = id.split('@').next().unwrap_or(id);
    entries(config, var).any(|e| e == "*" || e == id || e == short)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::config as test_config;

    fn src(chat_type: ChatType, user: Option<&str>, is_bot: bool) -> Source {
        Source {
            platform: "telegram".into(),
            chat_id: if chat_type == ChatType::Dm { "42".into() } else { "-100".into() },
            chat_name: None,
            chat_type,
            user_id: user.map(str::to_string),
            user_name: None,
            thread_id: None,
            is_bot,
        }
    }

    /// The environment, the event's source, and the verdict expected.
    type Case = (Vec<(&'static str, &'static str)>, Source, Verdict);

    #[test]
    fn deny_by_default_and_each_allow_rule() {
        use Verdict::*;
        let dm = src(ChatType::Dm, Some("42"), false);
        let cases: Vec<Case> = vec![
            (vec![], dm.clone(), Denied),
            (vec![("TELEGRAM_ALLOWED_USERS", "")], dm.clone(), Denied),
            (vec![("TELEGRAM_ALLOWED_USERS", "7, 42")], dm.clone(), Allowed),
            (vec![("TELEGRAM_ALLOWED_USERS", "7")], dm.clone(), Denied),
            (vec![("GATEWAY_ALLOWED_USERS", "42")], dm.clone(), Allowed),
            (vec![("TELEGRAM_ALLOWED_USERS", "*")], dm.clone(), Allowed),
            (vec![("GATEWAY_ALLOW_ALL_USERS", "true")], dm.clone(), Allowed),
            (vec![("GATEWAY_ALLOW_ALL_USERS", "maybe")], dm.clone(), Denied),
            (vec![("TELEGRAM_ALLOW_ALL_USERS", "yes")], dm.clone(), Allowed),
            (vec![("DISCORD_ALLOWED_USERS", "42")], dm.clone(), Denied),
            (vec![("TELEGRAM_ALLOWED_USERS", "42")], src(ChatType::Dm, None, false), Denied),
            (vec![("TELEGRAM_ALLOWED_USERS", "*")], src(ChatType::Dm, Some("42"), true), Denied),
            (vec![("TELEGRAM_ALLOW_BOTS", "all")], src(ChatType::Dm, Some("42"), true), Allowed),
            (vec![("TELEGRAM_GROUP_ALLOWED_USERS", "42")], dm.clone(), Denied),
            (vec![("TELEGRAM_GROUP_ALLOWED_USERS", "42")], src(ChatType::Group, Some("42"), false), Allowed),
            (vec![("TELEGRAM_GROUP_ALLOWED_CHATS", "-100")], src(ChatType::Group, None, false), Allowed),
            (vec![("TELEGRAM_GROUP_ALLOWED_CHATS", "-100")], dm.clone(), Denied),
        ];
        for (env, source, want) in cases {
            let config = test_config(&env);
            assert_eq!(check(&config, &source), want, "env {env:?} source {source:?}");
        }
    }

    #[test]
    fn open_and_allowlisted_platforms_are_recognised() {
        assert!(allows_everyone(&test_config(&[("GATEWAY_ALLOW_ALL_USERS", "1")]), "telegram"));
        assert!(allows_everyone(&test_config(&[("TELEGRAM_ALLOWED_USERS", "1,*")]), "telegram"));
        assert!(!allows_everyone(&test_config(&[("TELEGRAM_ALLOWED_USERS", "1")]), "telegram"));
        assert!(has_allowlist(&test_config(&[("TELEGRAM_ALLOWED_USERS", "1")]), "telegram"));
        assert!(!has_allowlist(&test_config(&[]), "telegram"));
    }
}
