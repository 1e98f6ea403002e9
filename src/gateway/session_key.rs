//! Session keys and ids exactly as Hermes builds them (M3, M4; GC §2.1), so an existing Hermes
//! user's conversations map the same way.

use hermes_platform::{ChatType, Source};

use crate::config::SessionsConfig;

/// `agent:main:{platform}:dm:{chat_id}[:{thread_id}]` for DMs; otherwise
/// `agent:main:{platform}:{chat_type}:{chat_id}[:{thread_id}][:{user_id}]`, with the user part
/// when sessions are per user (groups by default; threads only with `thread_sessions_per_user`).
pub fn build(source: &Source, options: &SessionsConfig) -> String {
    let platform = &source.platform;
    if source.chat_type == ChatType::Dm {
        let mut key = if !source.chat_id.is_empty() {
            format!("agent:main:{platform}:dm:{}", source.chat_id)
        } else if let Some(user) = &source.user_id {
            format!("agent:main:{platform}:dm:{user}")
        } else {
            format!("agent:main:{platform}:dm")
        };
        if let Some(thread) = &source.thread_id {
            key.push(':');
            key.push_str(thread);
        }
        return key;
    }
    let mut key = format!("agent:main:{platform}:{}:{}", source.chat_type.as_str(), source.chat_id);
    if let Some(thread) = &source.thread_id {
        key.push(':');
        key.push_str(thread);
    }
    let per_user =
        if source.thread_id.is_some() { options.thread_sessions_per_user } else { options.group_sessions_per_user };
    if per_user && let Some(user) = &source.user_id {
        key.push(':');
        key.push_str(user);
    }
    key
}

/// True when several people write into the session (their messages get a `[name]` prefix).
pub fn is_shared(source: &Source, options: &SessionsConfig) -> bool {
    if source.chat_type == ChatType::Dm {
        return false;
    }
    if source.thread_id.is_some() { !options.thread_sessions_per_user } else { !options.group_sessions_per_user }
}

/// A new session id: `YYYYmmdd_HHMMSS_<8 hex>` in local time.
pub fn new_session_id(now: f64) -> String {
    format!("{}_{}", crate::clock::compact_local(now), crate::clock::random_hex(8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(chat_type: ChatType, chat: &str, user: Option<&str>, thread: Option<&str>) -> Source {
        Source {
            platform: "telegram".into(),
            chat_id: chat.into(),
            chat_name: None,
            chat_type,
            user_id: user.map(str::to_string),
            user_name: None,
            thread_id: thread.map(str::to_string),
            is_bot: false,
            role_authorized: None,
        }
    }

    #[test]
    fn keys_match_hermes() {
        let per_user = SessionsConfig { group_sessions_per_user: true, thread_sessions_per_user: false };
        let shared = SessionsConfig { group_sessions_per_user: false, thread_sessions_per_user: true };
        let cases = [
            (src(ChatType::Dm, "123456789", Some("123456789"), None), &per_user, "agent:main:telegram:dm:123456789"),
            (src(ChatType::Dm, "5", Some("5"), Some("9")), &per_user, "agent:main:telegram:dm:5:9"),
            (src(ChatType::Group, "-100123", Some("987"), None), &per_user, "agent:main:telegram:group:-100123:987"),
            (src(ChatType::Group, "-100123", Some("987"), None), &shared, "agent:main:telegram:group:-100123"),
            (
                src(ChatType::Forum, "-100123", Some("987"), Some("42")),
                &per_user,
                "agent:main:telegram:forum:-100123:42",
            ),
            (
                src(ChatType::Forum, "-100123", Some("987"), Some("42")),
                &shared,
                "agent:main:telegram:forum:-100123:42:987",
            ),
            (src(ChatType::Group, "-1", None, None), &per_user, "agent:main:telegram:group:-1"),
        ];
        for (source, options, want) in cases {
            assert_eq!(build(&source, options), want);
        }
        assert!(is_shared(&src(ChatType::Forum, "-1", Some("1"), Some("2")), &per_user));
        assert!(!is_shared(&src(ChatType::Group, "-1", Some("1"), None), &per_user));
    }

    #[test]
    fn session_ids_have_the_hermes_shape() {
        let id = new_session_id(1_700_000_000.0);
        assert_eq!(id.len(), 15 + 1 + 8);
        assert_eq!(id.as_bytes()[15], b'_');
    }
}
