//! `configure`: Telegram's settings from env and `platforms.telegram.*`, every problem at once.

use std::time::Duration;

use hermes_platform::{Configured, SettingError, Settings};

pub const DEFAULT_BASE_URL: &str = "https://api.telegram.org/bot";
const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(30);
/// 20 MB: what the public Bot API lets a bot download at all.
const DEFAULT_MAX_DOWNLOAD: u64 = 20 * 1024 * 1024;

/// Which outbound messages quote the message they answer (`TELEGRAM_REPLY_TO_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyToMode {
    /// Only the first message of a reply (Hermes' default).
    First,
    Off,
    All,
}

/// Which messages from other bots are taken in (`TELEGRAM_ALLOW_BOTS`: none|mentions|all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllowBots {
    None,
    /// Only when they mention or reply to this bot.
    Mentions,
    All,
}

/// Telegram's validated configuration.
#[derive(Clone, Debug)]
pub struct TelegramConfig {
    pub token: String,
    /// Ends with `/bot`; requests go to `{base_url}{token}/{method}`.
    pub base_url: String,
    /// `TELEGRAM_PROXY`, an `http(s)://` or `socks5://` proxy for every Bot API call.
    pub proxy: Option<String>,
    pub require_mention: bool,
    /// Group chat ids where every message is handled, mentioned or not.
    pub free_response_chats: Vec<String>,
    /// Lower-case words that count as mentioning the bot (substring match).
    pub mention_patterns: Vec<String>,
    /// Forum topic ids whose messages are ignored.
    pub ignored_threads: Vec<String>,
    pub reply_to_mode: ReplyToMode,
    pub allow_bots: AllowBots,
    /// The `timeout` of `getUpdates`; the HTTP read timeout is 15 s longer.
    pub poll_timeout: Duration,
    /// Inbound files larger than this are not downloaded (`TELEGRAM_MAX_DOWNLOAD_BYTES`).
    pub max_download_bytes: u64,
}

/// Reads Telegram's settings. `Off` when no token is set and `enabled` is not written as true.
pub fn configure(settings: &Settings) -> Configured<TelegramConfig> {
    let mut errors = Vec::new();
    let Some(token) = settings.bot_token(
        "TELEGRAM_BOT_TOKEN",
        "a bot token from @BotFather (like 123456:ABC-DEF...)",
        "a bot token from @BotFather",
        &mut errors,
    ) else {
        // A mistyped `enabled` is still worth reporting.
        return if errors.is_empty() { Configured::Off } else { Configured::Invalid(errors) };
    };

    let base_url = match settings.get("TELEGRAM_BASE_URL", "extra.base_url") {
        None => DEFAULT_BASE_URL.to_string(),
        Some(v) => match normalize_base_url(&v.value) {
            Some(url) => url,
            None => {
                errors.push(SettingError {
                    key: settings.key_name("TELEGRAM_BASE_URL", "extra.base_url"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "an http:// or https:// URL of a Bot API server (like https://api.telegram.org/bot)"
                        .into(),
                });
                String::new()
            }
        },
    };

    let proxy = settings.get("TELEGRAM_PROXY", "extra.proxy_url").and_then(|v| {
        let value = v.value.trim().to_string();
        let ok = ["http://", "https://", "socks5://", "socks4://", "socks5h://", "socks4a://"]
            .iter()
            .any(|scheme| value.to_ascii_lowercase().starts_with(scheme) && value.len() > scheme.len());
        if ok {
            Some(value)
        } else {
            errors.push(SettingError {
                key: settings.key_name("TELEGRAM_PROXY", "extra.proxy_url"),
                origin: v.origin,
                found: Some(v.value),
                expected: "a proxy URL like http://host:port or socks5://host:port".into(),
            });
            None
        }
    });

    let require_mention = settings
        .flag("TELEGRAM_REQUIRE_MENTION", "extra.require_mention")
        .unwrap_or_else(|e| {
            errors.push(e);
            None
        })
        .unwrap_or(true);

    let reply_to_mode = match settings.get("TELEGRAM_REPLY_TO_MODE", "extra.reply_to_mode") {
        None => ReplyToMode::First,
        Some(v) => match v.value.trim().to_ascii_lowercase().as_str() {
            "first" => ReplyToMode::First,
            "off" | "none" | "false" => ReplyToMode::Off,
            "all" => ReplyToMode::All,
            _ => {
                errors.push(SettingError {
                    key: settings.key_name("TELEGRAM_REPLY_TO_MODE", "extra.reply_to_mode"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "first, off or all".into(),
                });
                ReplyToMode::First
            }
        },
    };

    let allow_bots = match settings.get("TELEGRAM_ALLOW_BOTS", "extra.allow_bots") {
        None => AllowBots::None,
        Some(v) => match v.value.trim().to_ascii_lowercase().as_str() {
            "none" | "false" | "no" | "off" | "0" => AllowBots::None,
            "mentions" => AllowBots::Mentions,
            "all" | "true" | "yes" | "on" | "1" => AllowBots::All,
            _ => {
                errors.push(SettingError {
                    key: settings.key_name("TELEGRAM_ALLOW_BOTS", "extra.allow_bots"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "none, mentions or all".into(),
                });
                AllowBots::None
            }
        },
    };

    let poll_timeout = match settings.get("TELEGRAM_POLL_TIMEOUT", "extra.poll_timeout") {
        None => DEFAULT_POLL_TIMEOUT,
        Some(v) => match v.value.trim().parse::<u64>() {
            Ok(secs) if secs <= 600 => Duration::from_secs(secs),
            _ => {
                errors.push(SettingError {
                    key: settings.key_name("TELEGRAM_POLL_TIMEOUT", "extra.poll_timeout"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "whole seconds from 0 to 600".into(),
                });
                DEFAULT_POLL_TIMEOUT
            }
        },
    };

    let max_download_bytes = match settings.get("TELEGRAM_MAX_DOWNLOAD_BYTES", "extra.max_download_bytes") {
        None => DEFAULT_MAX_DOWNLOAD,
        Some(v) => match v.value.trim().parse::<u64>() {
            Ok(bytes) => bytes,
            Err(_) => {
                errors.push(SettingError {
                    key: settings.key_name("TELEGRAM_MAX_DOWNLOAD_BYTES", "extra.max_download_bytes"),
                    origin: v.origin,
                    found: Some(v.value),
                    expected: "a size in bytes (like 20971520)".into(),
                });
                DEFAULT_MAX_DOWNLOAD
            }
        },
    };

    if !errors.is_empty() {
        return Configured::Invalid(errors);
    }
    Configured::On(TelegramConfig {
        token,
        base_url,
        proxy,
        require_mention,
        free_response_chats: settings.list("TELEGRAM_FREE_RESPONSE_CHATS", "extra.free_response_chats"),
        mention_patterns: settings
            .list("TELEGRAM_MENTION_PATTERNS", "extra.mention_patterns")
            .into_iter()
            .map(|p| p.to_lowercase())
            .collect(),
        ignored_threads: settings.list("TELEGRAM_IGNORED_THREADS", "extra.ignored_threads"),
        reply_to_mode,
        allow_bots,
        poll_timeout,
        max_download_bytes,
    })
}

impl TelegramConfig {
    /// The Bot API server's host (and port), for logs: never the token.
    pub fn base_host(&self) -> &str {
        let rest = self.base_url.split_once("://").map(|(_, rest)| rest).unwrap_or(&self.base_url);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// Accepts `http(s)://host[:port][/path]` with or without the trailing `/bot` (Hermes writes it
/// with) and returns it ending in `/bot`. `None` when it is not an http(s) URL with a host.
pub fn normalize_base_url(raw: &str) -> Option<String> {
    let url = raw.trim().trim_end_matches('/');
    let lower = url.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return None;
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) || url.contains(['?', '#']) {
        return None;
    }
    if url.ends_with("/bot") { Some(url.to_string()) } else { Some(format!("{url}/bot")) }
}
