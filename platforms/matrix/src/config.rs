//! `configure`: Matrix's settings from env and `platforms.matrix.*`, every problem at once (P10).

use std::time::Duration;

use hermes_platform::settings::mask_secret;
use hermes_platform::{Configured, SettingError, Settings};

pub const DEFAULT_MAX_MESSAGE_LENGTH: usize = 16000;
const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// How the bot authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `MATRIX_ACCESS_TOKEN`.
    Token(String),
    /// `MATRIX_USER_ID` + `MATRIX_PASSWORD`; the token and device the login gives are kept in
    /// the platform's stored state so restarts reuse them.
    Password { user_id: String, password: String },
}

/// Matrix's validated configuration.
#[derive(Clone, Debug)]
pub struct MatrixConfig {
    /// `https://matrix.example.org`, without a trailing slash.
    pub homeserver: String,
    pub auth: Auth,
    /// `MATRIX_USER_ID` when given (checked against `whoami`).
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    /// Users whose invites are accepted (`MATRIX_ALLOWED_USERS`; `*` = anyone). The gateway
    /// applies the same list to messages.
    pub allowed_users: Vec<String>,
    /// Rooms the bot listens in; empty = any room.
    pub allowed_rooms: Vec<String>,
    pub require_mention: bool,
    pub free_response_rooms: Vec<String>,
    pub home_channel: Option<String>,
    pub max_message_length: usize,
    /// The `timeout` of `/sync`; the HTTP timeout is 15 s longer.
    pub sync_timeout: Duration,
}

/// Reads Matrix's settings. `Off` when no homeserver is set and `enabled` is not written as true.
pub fn configure(settings: &Settings) -> Configured<MatrixConfig> {
    let mut errors = Vec::new();
    let enabled = settings.enabled_explicit().unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let homeserver = settings.get("MATRIX_HOMESERVER", "extra.homeserver");
    if enabled == Some(false) {
        return Configured::Off;
    }
    if homeserver.is_none() && enabled != Some(true) {
        return if errors.is_empty() { Configured::Off } else { Configured::Invalid(errors) };
    }
    let homeserver = match homeserver {
        None => {
            errors.push(SettingError {
                key: "MATRIX_HOMESERVER".into(),
                origin: "env".into(),
                found: None,
                expected: format!(
                    "the homeserver URL (like https://matrix.example.org), because {} is true",
                    settings.key_path("enabled")
                ),
            });
            String::new()
        }
        Some(v) => match normalize_homeserver(&v.value) {
            Some(url) => url,
            None => {
                errors.push(SettingError {
                    key: settings.key_name("MATRIX_HOMESERVER", "extra.homeserver"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "an http:// or https:// URL of the homeserver (like https://matrix.example.org)".into(),
                });
                String::new()
            }
        },
    };

    let user_id = match settings.get("MATRIX_USER_ID", "extra.user_id") {
        None => None,
        Some(v) if is_user_id(v.value.trim()) => Some(v.value.trim().to_string()),
        Some(v) => {
            errors.push(SettingError {
                key: settings.key_name("MATRIX_USER_ID", "extra.user_id"),
                origin: v.origin,
                found: Some(v.value),
                expected: "a full Matrix user id like @hermes:example.org".into(),
            });
            None
        }
    };
    let token = settings.get("MATRIX_ACCESS_TOKEN", "token");
    let password = settings.get("MATRIX_PASSWORD", "extra.password");
    let auth = match (token, password) {
        (Some(t), _) if t.value.trim().contains(char::is_whitespace) => {
            errors.push(SettingError {
                key: settings.key_name("MATRIX_ACCESS_TOKEN", "token"),
                origin: t.origin,
                found: Some(mask_secret(t.value.trim())),
                expected: "an access token without spaces".into(),
            });
            None
        }
        (Some(t), _) => Some(Auth::Token(t.value.trim().to_string())),
        (None, Some(p)) => match &user_id {
            Some(u) => Some(Auth::Password { user_id: u.clone(), password: p.value }),
            None => {
                if settings.get("MATRIX_USER_ID", "extra.user_id").is_none() {
                    errors.push(SettingError {
                        key: "MATRIX_USER_ID".into(),
                        origin: "env".into(),
                        found: None,
                        expected: "the bot's user id (like @hermes:example.org), needed with MATRIX_PASSWORD".into(),
                    });
                }
                None
            }
        },
        (None, None) => {
            errors.push(SettingError {
                key: "MATRIX_ACCESS_TOKEN".into(),
                origin: "env".into(),
                found: None,
                expected: "an access token, or MATRIX_USER_ID and MATRIX_PASSWORD to log in".into(),
            });
            None
        }
    };

    let require_mention = settings
        .flag("MATRIX_REQUIRE_MENTION", "extra.require_mention")
        .unwrap_or_else(|e| {
            errors.push(e);
            None
        })
        .unwrap_or(true);

    let max_message_length = match settings.get("MATRIX_MAX_MESSAGE_LENGTH", "extra.max_message_length") {
        None => DEFAULT_MAX_MESSAGE_LENGTH,
        Some(v) => match v.value.trim().parse::<usize>() {
            Ok(n) if (100..=60000).contains(&n) => n,
            _ => {
                errors.push(SettingError {
                    key: settings.key_name("MATRIX_MAX_MESSAGE_LENGTH", "extra.max_message_length"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "a number of characters from 100 to 60000 (default 16000)".into(),
                });
                DEFAULT_MAX_MESSAGE_LENGTH
            }
        },
    };

    let sync_timeout = match settings.get("MATRIX_SYNC_TIMEOUT", "extra.sync_timeout") {
        None => DEFAULT_SYNC_TIMEOUT,
        Some(v) => match v.value.trim().parse::<u64>() {
            Ok(secs) if secs <= 300 => Duration::from_secs(secs),
            _ => {
                errors.push(SettingError {
                    key: settings.key_name("MATRIX_SYNC_TIMEOUT", "extra.sync_timeout"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "whole seconds from 0 to 300".into(),
                });
                DEFAULT_SYNC_TIMEOUT
            }
        },
    };

    let allowed_rooms = settings.list("MATRIX_ALLOWED_ROOMS", "extra.allowed_rooms");
    let free_response_rooms = settings.list("MATRIX_FREE_RESPONSE_ROOMS", "extra.free_response_rooms");
    for (env, key, list) in [
        ("MATRIX_ALLOWED_ROOMS", "extra.allowed_rooms", &allowed_rooms),
        ("MATRIX_FREE_RESPONSE_ROOMS", "extra.free_response_rooms", &free_response_rooms),
    ] {
        for room in list.iter().filter(|r| !(r.starts_with('!') || r.starts_with('#')) || !r.contains(':')) {
            errors.push(SettingError {
                key: settings.key_name(env, key),
                origin: settings.get(env, key).map(|v| v.origin).unwrap_or_else(|| "env".into()),
                found: Some(room.clone()),
                expected: "room ids like !abc:example.org, comma-separated".into(),
            });
        }
    }

    if !errors.is_empty() {
        return Configured::Invalid(errors);
    }
    let Some(auth) = auth else { return Configured::Invalid(errors) };
    Configured::On(MatrixConfig {
        homeserver,
        auth,
        user_id,
        device_id: settings.get("MATRIX_DEVICE_ID", "extra.device_id").map(|v| v.value.trim().to_string()),
        allowed_users: settings.list("MATRIX_ALLOWED_USERS", "extra.allowed_users"),
        allowed_rooms,
        require_mention,
        free_response_rooms,
        home_channel: settings.get("MATRIX_HOME_CHANNEL", "extra.home_channel").map(|v| v.value.trim().to_string()),
        max_message_length,
        sync_timeout,
    })
}

fn is_user_id(id: &str) -> bool {
    id.starts_with('@') && id.len() > 3 && id[1..].contains(':') && !id.contains(char::is_whitespace)
}

/// `http(s)://host[:port][/path]` without a trailing slash; `None` when it is not such a URL.
pub fn normalize_homeserver(raw: &str) -> Option<String> {
    let url = raw.trim().trim_end_matches('/');
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) || url.contains(['?', '#']) {
        return None;
    }
    Some(url.to_string())
}

impl MatrixConfig {
    /// True when `user` may invite the bot into a room (MATRIX_ALLOWED_USERS, `*` = anyone).
    pub fn may_invite(&self, user: &str) -> bool {
        self.allowed_users.iter().any(|u| u == "*" || u == user)
    }

    pub fn room_allowed(&self, room: &str) -> bool {
        self.allowed_rooms.is_empty() || self.allowed_rooms.iter().any(|r| r == room)
    }
}
