//! `configure`: Discord's settings from env and `platforms.discord.*`, every problem at once.

use std::time::Duration;

use hermes_platform::{Configured, SettingError, Settings};

pub const DEFAULT_API_BASE: &str = "https://discord.com/api/v10";
/// How long to wait after an Invalid Session (op 9) before identifying again: Discord asks for a
/// random 1–5 s.
const INVALID_SESSION_WAIT: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(5));

/// Which outbound messages reference the message they answer (`DISCORD_REPLY_TO_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyToMode {
    /// Only the first message of a reply (Hermes' default).
    First,
    Off,
    All,
}

/// Which messages from other bots are taken in (`DISCORD_ALLOW_BOTS`: none|mentions|all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllowBots {
    None,
    Mentions,
    All,
}

/// Discord's validated configuration.
#[derive(Clone, Debug)]
pub struct DiscordConfig {
    pub token: String,
    /// REST base without a trailing slash (`https://discord.com/api/v10`).
    pub api_base: String,
    /// `DISCORD_GATEWAY_URL`: skips `GET /gateway/bot` (tests, proxies).
    pub gateway_url: Option<String>,
    pub allowed_users: Vec<String>,
    pub allowed_roles: Vec<String>,
    pub allowed_channels: Vec<String>,
    pub ignored_channels: Vec<String>,
    pub require_mention: bool,
    pub free_response_channels: Vec<String>,
    pub allow_bots: AllowBots,
    pub reply_to_mode: ReplyToMode,
    pub home_channel: Option<String>,
    /// The random wait after an Invalid Session lies in this range (inclusive bounds).
    pub invalid_session_wait: (Duration, Duration),
}

/// Reads Discord's settings. `Off` when no token is set and `enabled` is not written as true.
pub fn configure(settings: &Settings) -> Configured<DiscordConfig> {
    let mut errors = Vec::new();
    let Some(token) = settings.bot_token(
        "DISCORD_BOT_TOKEN",
        "a bot token from the Discord developer portal (Bot → Reset Token), without \"Bot \"",
        "a Discord bot token",
        &mut errors,
    ) else {
        // A mistyped `enabled` is still worth reporting.
        return if errors.is_empty() { Configured::Off } else { Configured::Invalid(errors) };
    };

    let api_base = match settings.get("DISCORD_API_BASE", "extra.api_base") {
        None => DEFAULT_API_BASE.to_string(),
        Some(v) => match url_with_scheme(&v.value, &["http://", "https://"]) {
            Some(url) => url,
            None => {
                errors.push(SettingError {
                    key: settings.key_name("DISCORD_API_BASE", "extra.api_base"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "an http:// or https:// URL of the REST API (like https://discord.com/api/v10)".into(),
                });
                String::new()
            }
        },
    };
    let gateway_url = settings.get("DISCORD_GATEWAY_URL", "extra.gateway_url").and_then(|v| {
        match url_with_scheme(&v.value, &["ws://", "wss://"]) {
            Some(url) => Some(url),
            None => {
                errors.push(SettingError {
                    key: settings.key_name("DISCORD_GATEWAY_URL", "extra.gateway_url"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "a ws:// or wss:// URL (like wss://gateway.discord.gg)".into(),
                });
                None
            }
        }
    });

    let mut ids = |env: &str, key: &str| {
        let list = settings.list(env, key);
        if let Some(bad) = list.iter().find(|id| !is_snowflake(id)) {
            let origin = settings.get(env, key).map(|v| v.origin).unwrap_or_default();
            errors.push(SettingError {
                key: settings.key_name(env, key),
                origin,
                found: Some(bad.clone()),
                expected: "comma-separated Discord ids (numbers; Developer Mode → Copy ID)".into(),
            });
        }
        list
    };
    let allowed_roles = ids("DISCORD_ALLOWED_ROLES", "extra.allowed_roles");
    let allowed_channels = ids("DISCORD_ALLOWED_CHANNELS", "extra.allowed_channels");
    let ignored_channels = ids("DISCORD_IGNORED_CHANNELS", "extra.ignored_channels");
    let free_response_channels = ids("DISCORD_FREE_RESPONSE_CHANNELS", "extra.free_response_channels");
    // `*` is allowed in the user list (everyone), so it is not checked as ids.
    let allowed_users = settings.list("DISCORD_ALLOWED_USERS", "extra.allowed_users");

    let require_mention = settings
        .flag("DISCORD_REQUIRE_MENTION", "extra.require_mention")
        .unwrap_or_else(|e| {
            errors.push(e);
            None
        })
        .unwrap_or(true);

    let reply_to_mode = match settings.get("DISCORD_REPLY_TO_MODE", "extra.reply_to_mode") {
        None => ReplyToMode::First,
        Some(v) => match v.value.trim().to_ascii_lowercase().as_str() {
            "first" => ReplyToMode::First,
            "off" | "none" | "false" => ReplyToMode::Off,
            "all" => ReplyToMode::All,
            _ => {
                errors.push(SettingError {
                    key: settings.key_name("DISCORD_REPLY_TO_MODE", "extra.reply_to_mode"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "first, off or all".into(),
                });
                ReplyToMode::First
            }
        },
    };

    let allow_bots = match settings.get("DISCORD_ALLOW_BOTS", "extra.allow_bots") {
        None => AllowBots::None,
        Some(v) => match v.value.trim().to_ascii_lowercase().as_str() {
            "none" | "false" | "no" | "off" | "0" => AllowBots::None,
            "mentions" => AllowBots::Mentions,
            "all" | "true" | "yes" | "on" | "1" => AllowBots::All,
            _ => {
                errors.push(SettingError {
                    key: settings.key_name("DISCORD_ALLOW_BOTS", "extra.allow_bots"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "none, mentions or all".into(),
                });
                AllowBots::None
            }
        },
    };

    let home_channel = settings.get("DISCORD_HOME_CHANNEL", "extra.home_channel").and_then(|v| {
        if is_snowflake(v.value.trim()) {
            Some(v.value.trim().to_string())
        } else {
            errors.push(SettingError {
                key: settings.key_name("DISCORD_HOME_CHANNEL", "extra.home_channel"),
                origin: v.origin,
                found: Some(v.value),
                expected: "a channel id (a number; Developer Mode → Copy Channel ID)".into(),
            });
            None
        }
    });

    // Test hook: a short wait after op 9 keeps the invalid-session test fast.
    let invalid_session_wait = match settings.get("DISCORD_INVALID_SESSION_WAIT_MS", "extra.invalid_session_wait_ms") {
        None => INVALID_SESSION_WAIT,
        Some(v) => match v.value.trim().parse::<u64>() {
            Ok(ms) if ms <= 60_000 => (Duration::from_millis(ms), Duration::from_millis(ms)),
            _ => {
                errors.push(SettingError {
                    key: settings.key_name("DISCORD_INVALID_SESSION_WAIT_MS", "extra.invalid_session_wait_ms"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "milliseconds from 0 to 60000".into(),
                });
                INVALID_SESSION_WAIT
            }
        },
    };

    if !errors.is_empty() {
        return Configured::Invalid(errors);
    }
    Configured::On(DiscordConfig {
        token,
        api_base,
        gateway_url,
        allowed_users,
        allowed_roles,
        allowed_channels,
        ignored_channels,
        require_mention,
        free_response_channels,
        allow_bots,
        reply_to_mode,
        home_channel,
        invalid_session_wait,
    })
}

impl DiscordConfig {
    /// The REST host (and port), for logs.
    pub fn api_host(&self) -> &str {
        let rest = self.api_base.split_once("://").map(|(_, rest)| rest).unwrap_or(&self.api_base);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// A Discord id: decimal digits.
pub(crate) fn is_snowflake(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `raw` without a trailing `/` when it starts with one of `schemes` and has a host.
fn url_with_scheme(raw: &str, schemes: &[&str]) -> Option<String> {
    let url = raw.trim().trim_end_matches('/');
    let lower = url.to_ascii_lowercase();
    let scheme = schemes.iter().find(|s| lower.starts_with(**s))?;
    let host = url[scheme.len()..].split(['/', '?']).next().unwrap_or("");
    if host.is_empty() || url.contains(char::is_whitespace) || url.contains('#') {
        return None;
    }
    Some(url.to_string())
}
