//! Who may use the gateway (M21–M23): deny by default, first matching rule allows.
//!
//! Rules, in order: a chat allowlist (`TELEGRAM_GROUP_ALLOWED_CHATS`) for group chats; bots are
//! refused unless `<P>_ALLOW_BOTS` is `mentions` or `all`; no user id → deny; `<P>_ALLOW_ALL_USERS`
//! or `GATEWAY_ALLOW_ALL_USERS`; the user id in `<P>_ALLOWED_USERS`, `GATEWAY_ALLOWED_USERS` (or,
//! in groups, `<P>_GROUP_ALLOWED_USERS`), where `*` means everyone; a role the platform matched
//! against its own role allowlist (Discord); a pairing approval. There is
//! no path where a missing or unparsable list or pairing file means "allow".

use hermes_platform::settings::parse_bool;
use hermes_platform::{ChatType, EventKind, Source};

use crate::config::Config;
use crate::gateway::Gateway;
use crate::pairing;
use crate::store::inbox::{InboxRow, InboxState};

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
    // Legacy shim (CAC §3.2.11): group ids (leading `-`) in TELEGRAM_GROUP_ALLOWED_USERS.
    if group
        && source.chat_id.starts_with('-')
        && entries(config, &format!("{p}_GROUP_ALLOWED_USERS")).any(|e| e == source.chat_id)
    {
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
    // The platform admitted the sender by a configured role (Discord DISCORD_ALLOWED_ROLES).
    if source.role_authorized == Some(true) {
        return Verdict::Allowed;
    }
    // Pairing approvals join the allow rules (a union: the order does not change the verdict).
    // Checked last, so allowlisted users' messages never touch the approvals file.
    if crate::pairing::is_approved(&config.home, &source.platform, user) {
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

/// Finishes an event from someone not allowed: a DM text may get a pairing code (CAC §3.4);
/// everything else (groups, edits, buttons, reactions, media) is dropped without a word.
pub async fn refuse(gw: &std::rc::Rc<Gateway>, row: &InboxRow) {
    let event = &row.event;
    let source = &event.source;
    log::info!(
        "{}: ignored a {:?} event from unauthorized user {} in chat {}",
        source.platform,
        event.kind,
        source.user_id.as_deref().unwrap_or("?"),
        source.chat_id
    );
    let text_dm = source.chat_type == ChatType::Dm
        && matches!(event.kind, EventKind::Text | EventKind::Command)
        && !source.is_bot;
    if let (true, Some(user)) = (text_dm, source.user_id.clone().filter(|u| !u.is_empty()))
        && dm_behavior(&gw.config, &source.platform) == DmBehavior::Pair
    {
        let store = pairing::Store::open(&gw.config.home);
        let (platform, name) = (source.platform.clone(), source.user_name.clone().unwrap_or_default());
        let answer = crate::runtime::blocking(move || {
            let now = pairing::store::now();
            if store.rate_limited(&platform, &user, now) {
                return Ok(None);
            }
            match store.generate(&platform, &user, &name, now)? {
                Some(code) => Ok(Some(pairing::code_text(&platform, &code))),
                None => {
                    store.record_rate_limit(&platform, &user, now)?;
                    Ok(Some(pairing::TOO_MANY.to_string()))
                }
            }
        })
        .await;
        match answer {
            Ok(Some(text)) => {
                let chat = hermes_platform::ChatRef::new(source.chat_id.clone(), source.thread_id.clone());
                if let Some(outlet) = gw.outlet(&source.platform, chat, None, None)
                    && let Ok((outbox_id, _)) =
                        outlet.send_row(&format!("pair:{}", row.id), &text, Default::default()).await
                {
                    // Codes are kept only as salted hashes (CAC §3.4): the delivered text goes.
                    let scrub = move |tx: &rusqlite::Transaction| {
                        crate::store::outbox::set_body(tx, outbox_id, "[pairing code]", crate::store::now())
                    };
                    if let Err(e) = gw.store.call(scrub).await {
                        log::warn!("{}: could not clear a sent pairing code from the outbox: {e}", source.platform);
                    }
                }
            }
            Ok(None) => {}
            Err::<_, String>(e) => log::warn!("{}: pairing: {e}; no code was sent", source.platform),
        }
    }
    gw.finish_rows(&[row.id], InboxState::Skipped).await;
}

/// What an unauthorized DM gets (CAC §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmBehavior {
    /// A pairing code.
    Pair,
    /// Nothing.
    Ignore,
}

/// A per-platform key: `platforms.<p>.KEY`, `platforms.<p>.extra.KEY`, or the top-level `<p>:`
/// block (directly or under `extra:`).
pub fn platform_key(config: &Config, platform: &str, key: &str) -> Option<String> {
    let block = config.platform_blocks.get(platform);
    block
        .and_then(|b| b.get(key).or_else(|| b.get(&format!("extra.{key}"))))
        .map(|v| v.value.clone())
        .or_else(|| config.access.platform_keys.get(&format!("{platform}.{key}")).cloned())
}

/// Resolves `pair` or `ignore` as Hermes does: the platform's own setting, email ignores, a
/// global `ignore`, any allowlist for the platform ignores, otherwise pair.
pub fn dm_behavior(config: &Config, platform: &str) -> DmBehavior {
    let parse = |v: &str| match v.trim().to_ascii_lowercase().as_str() {
        "pair" => Some(DmBehavior::Pair),
        "ignore" => Some(DmBehavior::Ignore),
        _ => None,
    };
    if let Some(b) = platform_key(config, platform, "unauthorized_dm_behavior").as_deref().and_then(parse) {
        return b;
    }
    if platform == "email" {
        return DmBehavior::Ignore;
    }
    if config.access.unauthorized_dm_behavior.as_deref().and_then(parse) == Some(DmBehavior::Ignore) {
        return DmBehavior::Ignore;
    }
    if has_allowlist(config, platform) {
        return DmBehavior::Ignore;
    }
    DmBehavior::Pair
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
            role_authorized: None,
        }
    }

    #[test]
    fn a_role_matched_by_the_platform_admits_and_old_events_without_the_field_still_parse() {
        let c = test_config(&[]);
        let mut s = src(ChatType::Group, Some("9"), false);
        assert_eq!(check(&c, &s), Verdict::Denied);
        s.role_authorized = Some(true);
        assert_eq!(check(&c, &s), Verdict::Allowed);
        // An event journaled before the field existed: the same JSON without it.
        let new = miniserde::json::to_string(&src(ChatType::Group, Some("9"), false));
        let old = new.replace(r#","role_authorized":null"#, "");
        assert!(!old.contains("role_authorized"), "{new}");
        let parsed: Source = miniserde::json::from_str(&old).expect("journaled before the field existed");
        assert_eq!(parsed.role_authorized, None);
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
    fn legacy_group_ids_and_pairing_approvals_allow() {
        let group = src(ChatType::Group, Some("7"), false);
        assert_eq!(check(&test_config(&[("TELEGRAM_GROUP_ALLOWED_USERS", "-100")]), &group), Verdict::Allowed);
        assert_eq!(check(&test_config(&[("TELEGRAM_GROUP_ALLOWED_USERS", "-5")]), &group), Verdict::Denied);
        let home = crate::test_util::temp_dir("auth-pairing");
        let mut config = test_config(&[]);
        config.home = home.clone();
        let dm = src(ChatType::Dm, Some("42"), false);
        assert_eq!(check(&config, &dm), Verdict::Denied);
        let dir = home.join("platforms/pairing");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("telegram-approved.json"), r#"{"42": {"user_name": "Ann", "approved_at": 1.5}}"#)
            .unwrap();
        assert_eq!(check(&config, &dm), Verdict::Allowed);
        std::fs::write(dir.join("telegram-approved.json"), r#"{"42": oops"#).unwrap();
        assert_eq!(check(&config, &dm), Verdict::Denied, "a malformed file allows nobody");
        std::fs::remove_dir_all(home).unwrap();
    }

    #[test]
    fn dm_behavior_resolves_like_hermes() {
        use DmBehavior::*;
        let mut c = test_config(&[]);
        assert_eq!(dm_behavior(&c, "telegram"), Pair);
        assert_eq!(dm_behavior(&c, "email"), Ignore);
        assert_eq!(dm_behavior(&test_config(&[("TELEGRAM_ALLOWED_USERS", "1")]), "telegram"), Ignore);
        assert_eq!(dm_behavior(&test_config(&[("GATEWAY_ALLOWED_USERS", "1")]), "telegram"), Ignore);
        c.access.unauthorized_dm_behavior = Some("ignore".into());
        assert_eq!(dm_behavior(&c, "telegram"), Ignore);
        c.access.platform_keys.insert("telegram.unauthorized_dm_behavior".into(), "pair".into());
        assert_eq!(dm_behavior(&c, "telegram"), Pair);
        let mut c = test_config(&[("TELEGRAM_ALLOWED_USERS", "1")]);
        c.platform_blocks.entry("telegram".into()).or_default().insert(
            "extra.unauthorized_dm_behavior".into(),
            hermes_platform::settings::SettingValue { value: "pair".into(), origin: "x".into() },
        );
        assert_eq!(dm_behavior(&c, "telegram"), Pair);
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
