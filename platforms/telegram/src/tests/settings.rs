use std::time::Duration;

use hermes_platform::{Configured, PlatformConfig, Settings};

use crate::{ReplyToMode, TelegramConfig, configure};

fn on(env: &[(&str, &str)], config: &[(&str, &str)]) -> TelegramConfig {
    match configure(&Settings::from_pairs("telegram", env, config)) {
        Configured::On(c) => c,
        other => panic!("expected On, got {other:?}"),
    }
}

#[test]
fn off_without_token() {
    assert!(matches!(configure(&Settings::from_pairs("telegram", &[], &[])), Configured::Off));
    let s = Settings::from_pairs("telegram", &[("TELEGRAM_BOT_TOKEN", "1:abc")], &[("enabled", "false")]);
    assert!(matches!(configure(&s), Configured::Off));
}

#[test]
fn enabled_without_token_is_invalid() {
    let s = Settings::from_pairs("telegram", &[], &[("enabled", "true")]);
    let Configured::Invalid(errors) = configure(&s) else { panic!("expected Invalid") };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].key, "TELEGRAM_BOT_TOKEN");
    assert!(errors[0].found.is_none());
    let s = Settings::from_pairs("telegram", &[], &[("enabled", "maybe")]);
    let Configured::Invalid(errors) = configure(&s) else { panic!("expected Invalid") };
    assert_eq!(errors[0].key, "platforms.telegram.enabled");
}

#[test]
fn defaults_and_token_from_config() {
    let c = on(&[], &[("token", "123456:abcdefgh")]);
    assert_eq!(c.token, "123456:abcdefgh");
    assert_eq!(c.base_url, "https://api.telegram.org/bot");
    assert!(c.require_mention);
    assert_eq!(c.reply_to_mode, ReplyToMode::First);
    assert_eq!(c.poll_timeout, Duration::from_secs(30));
    assert_eq!(c.secrets(), vec!["123456:abcdefgh".to_string()]);
    let describe = c.describe();
    assert!(!describe.contains("123456:abcdefgh"), "{describe}");
    assert!(describe.contains("…efgh") && describe.contains("api.telegram.org"), "{describe}");
}

#[test]
fn base_url_forms() {
    let token = ("TELEGRAM_BOT_TOKEN", "1:abc");
    assert_eq!(on(&[token, ("TELEGRAM_BASE_URL", "http://127.0.0.1:8081")], &[]).base_url, "http://127.0.0.1:8081/bot");
    assert_eq!(
        on(&[token, ("TELEGRAM_BASE_URL", "http://127.0.0.1:8081/bot/")], &[]).base_url,
        "http://127.0.0.1:8081/bot"
    );
    assert_eq!(
        on(&[token], &[("extra.base_url", "https://tg.example/api/bot")]).base_url,
        "https://tg.example/api/bot"
    );
    // Env wins over config.
    let c = on(&[token, ("TELEGRAM_BASE_URL", "http://a:1")], &[("extra.base_url", "http://b:2")]);
    assert_eq!(c.base_url, "http://a:1/bot");
    assert_eq!(c.base_host(), "a:1");
}

#[test]
fn every_problem_at_once() {
    let s = Settings::from_pairs(
        "telegram",
        &[
            ("TELEGRAM_BOT_TOKEN", "1:abc"),
            ("TELEGRAM_BASE_URL", "ftp://x"),
            ("TELEGRAM_REPLY_TO_MODE", "sometimes"),
            ("TELEGRAM_REQUIRE_MENTION", "maybe"),
            ("TELEGRAM_POLL_TIMEOUT", "soon"),
        ],
        &[],
    );
    let Configured::Invalid(errors) = configure(&s) else { panic!("expected Invalid") };
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        ["TELEGRAM_BASE_URL", "TELEGRAM_REQUIRE_MENTION", "TELEGRAM_REPLY_TO_MODE", "TELEGRAM_POLL_TIMEOUT"]
    );
    let s =
        Settings::from_pairs("telegram", &[("TELEGRAM_BOT_TOKEN", "1:abc")], &[("extra.base_url", "localhost:8081")]);
    let Configured::Invalid(errors) = configure(&s) else { panic!("expected Invalid") };
    assert_eq!(errors[0].key, "platforms.telegram.extra.base_url");
}

#[test]
fn group_rule_lists() {
    let c = on(
        &[
            ("TELEGRAM_BOT_TOKEN", "1:abc"),
            ("TELEGRAM_REQUIRE_MENTION", "false"),
            ("TELEGRAM_FREE_RESPONSE_CHATS", "-100, -200"),
            ("TELEGRAM_MENTION_PATTERNS", "Hermes, hey bot"),
            ("TELEGRAM_REPLY_TO_MODE", "all"),
            ("TELEGRAM_POLL_TIMEOUT", "1"),
        ],
        &[],
    );
    assert!(!c.require_mention);
    assert_eq!(c.free_response_chats, ["-100", "-200"]);
    assert_eq!(c.mention_patterns, ["hermes", "hey bot"]);
    assert_eq!(c.reply_to_mode, ReplyToMode::All);
    assert_eq!(c.poll_timeout, Duration::from_secs(1));
}
