//! Loader tests over real files in a temporary home.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::test_util::temp_dir;

fn home(config: Option<&str>, dotenv: Option<&str>) -> PathBuf {
    let dir = temp_dir("config");
    if let Some(c) = config {
        std::fs::write(dir.join("config.yaml"), c).unwrap();
    }
    if let Some(e) = dotenv {
        std::fs::write(dir.join(".env"), e).unwrap();
    }
    dir
}

fn opts(home: &Path, env: &[(&str, &str)]) -> LoadOptions {
    let mut process_env: std::collections::BTreeMap<String, String> =
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    // Keep a real /etc/hermes out of the tests.
    process_env.insert("HERMES_MANAGED_DIR".into(), home.join("no-managed").display().to_string());
    LoadOptions { home: home.to_path_buf(), process_env }
}

fn ok(config: Option<&str>, dotenv: Option<&str>, env: &[(&str, &str)]) -> Config {
    let dir = home(config, dotenv);
    let c = load(&opts(&dir, env)).unwrap_or_else(|p| panic!("{p:#?}"));
    std::fs::remove_dir_all(dir).unwrap();
    c
}

fn problems(config: Option<&str>, dotenv: Option<&str>, env: &[(&str, &str)]) -> Vec<String> {
    let dir = home(config, dotenv);
    let p = load(&opts(&dir, env)).expect_err("expected problems");
    std::fs::remove_dir_all(dir).unwrap();
    p.iter().map(|p| p.to_string()).collect()
}

const LOCAL: &str = "model:\n  default: test-model\n  provider: custom\n  base_url: http://127.0.0.1:9/v1\n";

#[test]
fn defaults_match_the_test_config() {
    let got = ok(Some(LOCAL), None, &[]);
    let mut want = crate::test_util::config(&[]);
    want.home = got.home.clone();
    want.env = got.env.clone();
    // Without HOME the workspace is `/`; the tools see the loaded home and environment.
    let mut tools = (*want.tools).clone();
    (tools.workspace, tools.home, tools.env) = ("/".into(), got.home.clone(), got.env.clone());
    want.tools = std::sync::Arc::new(tools);
    assert_eq!(format!("{got:?}"), format!("{want:?}"));
}

#[test]
fn precedence_process_then_dotenv_then_top_level_scalars() {
    let config = format!("{LOCAL}C: from-config\nD: from-config\nE: from-config\nNESTED:\n  x: 1\nE: last\n");
    let c = ok(Some(&config), Some("# secrets\nB=from-dotenv\nD=from-dotenv\n"), &[("A", "p"), ("B", "p"), ("C", "p")]);
    let env = |k: &str| c.env.get(k).map(String::as_str);
    let origin = |k: &str| c.env_origin.get(k).map(String::as_str);
    assert_eq!((env("A"), origin("A")), (Some("p"), None));
    assert_eq!((env("B"), origin("B")), (Some("from-dotenv"), Some(".env:2")));
    assert_eq!((env("C"), origin("C")), (Some("p"), None));
    assert_eq!((env("D"), origin("D")), (Some("from-dotenv"), Some(".env:3")));
    assert_eq!((env("E"), origin("E")), (Some("last"), Some("config.yaml:10")));
    assert_eq!(env("NESTED"), None);
    assert_eq!(c.platform_settings("x").env_origin("D"), ".env:3");
}

#[test]
fn config_values_expand_env_references() {
    let c = ok(
        Some("model:\n  default: m\n  provider: custom\n  base_url: ${BASE}/v1\n  api_key: ${LOCAL_KEY}\n"),
        Some("LOCAL_KEY=abc123\n"),
        &[("BASE", "http://10.0.0.2:8080")],
    );
    assert_eq!(c.model.base_url, "http://10.0.0.2:8080/v1");
    assert_eq!(c.model.api_key.as_deref(), Some("abc123"));
}

#[test]
fn model_forms() {
    let c = ok(Some("model: anthropic/claude-sonnet-4\n"), Some("OPENROUTER_API_KEY=sk-or-1\n"), &[]);
    assert_eq!(
        (c.model.name.as_str(), c.model.provider.as_str(), c.model.base_url.as_str(), c.model.api_key.as_deref()),
        ("anthropic/claude-sonnet-4", "openrouter", "https://openrouter.ai/api/v1", Some("sk-or-1"))
    );
    let c = ok(
        Some("model:\n  model: gpt-4o\n  provider: openai\n  context_length: 128000\n  max_tokens: 4096\n"),
        None,
        &[("OPENAI_API_KEY", "sk-1")],
    );
    assert_eq!((c.model.name.as_str(), c.model.provider.as_str()), ("gpt-4o", "openai"));
    assert_eq!(c.model.base_url, "https://api.openai.com/v1");
    assert_eq!((c.model.context_length, c.model.max_tokens), (Some(128000), Some(4096)));
    assert_eq!(c.model.api_mode, ApiMode::OpenAiChat);
    let c = ok(Some("model:\n  default: qwen3\n  provider: ollama\n"), None, &[]);
    assert_eq!(
        (c.model.provider.as_str(), c.model.base_url.as_str(), c.model.api_key.as_deref()),
        ("custom", "http://127.0.0.1:11434/v1", None)
    );
    // Root-level provider/base_url are normalised into model.*; a trailing slash goes.
    let c = ok(Some("model: llama\nprovider: custom\nbase_url: http://router.lan:8000/v1/\n"), None, &[]);
    assert_eq!((c.model.provider.as_str(), c.model.base_url.as_str()), ("custom", "http://router.lan:8000/v1"));
    // auto with a base URL is that endpoint; without one, the first key found.
    let c = ok(Some("model:\n  default: m\n  base_url: http://10.1.1.1/v1\n"), None, &[]);
    assert_eq!(c.model.provider, "custom");
    let c = ok(Some("model: m\n"), None, &[("NOUS_API_KEY", "nous-key")]);
    assert_eq!((c.model.provider.as_str(), c.model.api_key.as_deref()), ("nous", Some("nous-key")));
    let c = ok(Some("model: m\n"), None, &[("HERMES_INFERENCE_PROVIDER", "openai"), ("OPENAI_API_KEY", "k")]);
    assert_eq!(c.model.provider, "openai");
}

#[test]
fn provider_keys_resolve_and_missing_ones_name_the_variable() {
    let c = ok(Some("model:\n  default: m\n  provider: openrouter\n"), None, &[("OPENAI_API_KEY", "sk-openai")]);
    assert_eq!(c.model.api_key.as_deref(), Some("sk-openai"));
    let c = ok(
        Some("model:\n  default: m\n  provider: openai\n  api_key: from-config\n"),
        None,
        &[("OPENAI_API_KEY", "env")],
    );
    assert_eq!(c.model.api_key.as_deref(), Some("from-config"));
    assert_eq!(
        problems(Some("model:\n  default: m\n  provider: openrouter\n"), None, &[]),
        ["config.yaml:1: model.api_key: provider openrouter needs an API key: set OPENROUTER_API_KEY in .env \
          (or `model.api_key` in config.yaml)"]
    );
    assert_eq!(
        problems(Some("model: m\n"), None, &[]),
        ["config.yaml:1: model.provider: no provider is set and no provider key was found; set `model.provider` \
          in config.yaml and its key in .env (e.g. OPENROUTER_API_KEY)"]
    );
    let c = ok(Some("model:\n  default: m\n  provider: anthropic\n"), None, &[("ANTHROPIC_API_KEY", "k")]);
    assert_eq!(
        (c.model.api_mode, c.model.base_url.as_str()),
        (ApiMode::AnthropicMessages, "https://api.anthropic.com")
    );
    assert_eq!(c.model.api_key.as_deref(), Some("k"));
    let c = ok(Some("model:\n  default: m\n  base_url: https://api.example.com/anthropic/\n"), None, &[]);
    assert_eq!((c.model.api_mode, c.model.provider.as_str()), (ApiMode::AnthropicMessages, "custom"));
    let p = problems(Some("model:\n  default: m\n  provider: bogus\n"), None, &[]);
    assert!(p[0].starts_with("config.yaml:3: model.provider: expected a provider this build supports"), "{p:?}");
    let p = problems(Some("model:\n  default: m\n  provider: custom\n"), None, &[]);
    assert!(p[0].contains("model.base_url: provider custom needs the server's URL"), "{p:?}");
}

#[test]
fn missing_model_name_is_a_problem() {
    assert_eq!(
        problems(Some("model:\n  default: ''\n  provider: custom\n  base_url: http://x/v1\n"), None, &[]),
        ["config.yaml:2: model.default: expected a model name, found an empty value"]
    );
    let p = problems(None, None, &[("OPENROUTER_API_KEY", "k")]);
    assert_eq!(
        p,
        [
            "config.yaml: model: no model is set; write `model:` with `default: <model name>` and `provider:` in config.yaml"
        ]
    );
}

#[test]
fn invalid_utf8_in_config_and_dotenv() {
    let dir = home(None, None);
    std::fs::write(dir.join("config.yaml"), b"model: m\ntimezone: \"Europe/Berl\xFFn\"\n").unwrap();
    std::fs::write(dir.join(".env"), b"A=1\nB=\xFE\n").unwrap();
    let p: Vec<String> = load(&opts(&dir, &[])).unwrap_err().iter().map(|p| p.to_string()).collect();
    std::fs::remove_dir_all(dir).unwrap();
    assert!(p.contains(&".env:2: not valid UTF-8 (byte 0xFE at column 3)".to_string()), "{p:?}");
    assert!(p.contains(&"config.yaml:2: not valid UTF-8 (byte 0xFF at column 23)".to_string()), "{p:?}");
    assert_eq!(p.len(), 2, "nothing else once config.yaml is unreadable: {p:?}");
}

#[test]
fn yaml_syntax_error_names_the_line() {
    let p = problems(Some("model: m\nagent:\n  max_turns: 5\n   bad: [\n"), None, &[]);
    assert!(p.iter().any(|p| p.starts_with("config.yaml:4: YAML syntax error")), "{p:?}");
}

#[test]
fn wrong_types_are_all_reported_with_file_line_and_key() {
    let config = format!(
        "{LOCAL}agent:\n  max_turns: many\n  gateway_timeout: -3\nstreaming:\n  enabled: perhaps\n  edit_interval: 0\n\
         display:\n  busy_input_mode: shout\nsession_reset:\n  mode: weekly\n  at_hour: noon\n\
         logging:\n  level: loud\ngateway: [1]\nplatforms:\n  telegram: 5\n"
    );
    let p = problems(Some(&config), Some("HERMES_GATEWAY_BUSY_ACK_ENABLED=sometimes\nnot a line\n"), &[]);
    let want = [
        ".env:2: expected KEY=VALUE, found \"not a line\"",
        "config.yaml:6: agent.max_turns: expected a whole number, found \"many\"",
        "config.yaml:7: agent.gateway_timeout: expected a number of seconds (0 or more), found \"-3\"",
        "config.yaml:9: streaming.enabled: expected true or false, found \"perhaps\"",
        "config.yaml:10: streaming.edit_interval: expected a number above 0, found \"0\"",
        "config.yaml:12: display.busy_input_mode: expected interrupt, queue or steer, found \"shout\"",
        ".env:1: HERMES_GATEWAY_BUSY_ACK_ENABLED: expected true or false, found \"sometimes\"",
        "config.yaml:14: session_reset.mode: expected none, off, false, idle, daily or both, found \"weekly\"",
        "config.yaml:15: session_reset.at_hour: expected a whole number, found \"noon\"",
        "config.yaml:18: gateway: expected a section of keys, found a list",
        "config.yaml:17: logging.level: expected debug, info, warning, warn, error or critical, found \"loud\"",
        "config.yaml:20: platforms.telegram: expected a section of keys, found \"5\"",
    ];
    assert_eq!(p, want);
}

#[test]
fn config_wins_and_env_wins_keys() {
    let config =
        format!("{LOCAL}agent:\n  max_turns: 10\nsession_reset:\n  mode: both\n  idle_minutes: 60\n  at_hour: 30\n");
    let env = [
        ("HERMES_MAX_ITERATIONS", "20"),
        ("HERMES_AGENT_TIMEOUT", "0"),
        ("SESSION_IDLE_MINUTES", "15"),
        ("HERMES_GATEWAY_BUSY_INPUT_MODE", "queue"),
        ("HERMES_TIMEZONE", "Europe/Berlin"),
    ];
    let c = ok(Some(&config), None, &env);
    assert_eq!(c.agent.max_turns, 10);
    assert_eq!(c.agent.gateway_timeout, Duration::ZERO);
    assert_eq!(c.session_reset.mode, ResetMode::Both);
    assert_eq!(c.session_reset.idle_minutes, 15);
    assert_eq!(c.session_reset.at_hour, 4, "out of range falls back as Hermes does");
    assert_eq!(c.display.busy_input_mode, BusyMode::Queue);
    assert_eq!(c.timezone.as_deref(), Some("Europe/Berlin"));
    let c = ok(Some(&format!("{LOCAL}timezone: Asia/Tokyo\ndisplay:\n  busy_input_mode: steer\n")), None, &env);
    assert_eq!((c.timezone.as_deref(), c.display.busy_input_mode), (Some("Asia/Tokyo"), BusyMode::Steer));
}

#[test]
fn sections_read_their_values() {
    let config = format!(
        "{LOCAL}streaming:\n  mode: off\n  edit_interval: 0.5\n  buffer_threshold: 40\n  cursor: ''\n\
         display:\n  busy_ack_enabled: no\n  platforms:\n    telegram:\n      streaming: false\n    discord: {{}}\n\
         gateway:\n  group_sessions_per_user: false\n  poison_threshold: 5\n  outbox_ttl_seconds: 60\n  auto_resume: off\n\
         thread_sessions_per_user: true\nsession_reset:\n  notify_exclude_platforms: [webhook]\n\
         logging:\n  level: WARNING\n  max_size_mb: 2\n  backup_count: 1\n"
    );
    let c = ok(Some(&config), None, &[]);
    assert!(!c.streaming.enabled);
    assert_eq!(c.streaming.edit_interval, Duration::from_millis(500));
    assert_eq!((c.streaming.buffer_threshold, c.streaming.cursor.as_str()), (40, ""));
    assert!(!c.display.busy_ack_enabled);
    assert_eq!(c.display.platform_streaming.into_iter().collect::<Vec<_>>(), [("telegram".to_string(), false)]);
    assert!(!c.sessions.group_sessions_per_user && c.sessions.thread_sessions_per_user);
    assert_eq!(
        (c.gateway.poison_threshold, c.gateway.outbox_ttl, c.gateway.auto_resume),
        (5, Duration::from_secs(60), false)
    );
    assert_eq!(c.session_reset.notify_exclude_platforms, ["webhook"]);
    assert_eq!(c.logging.level, log::LevelFilter::Warn);
    assert_eq!((c.logging.max_size_bytes, c.logging.backup_count), (2 << 20, 1));
}

#[test]
fn platform_blocks_flatten_with_origins() {
    let config = format!(
        "{LOCAL}gateway:\n  platforms:\n    telegram:\n      token: old\n      reply_to_mode: all\n\
         platforms:\n  telegram:\n    token: new\n    allow_from: [1, 2]\n    extra:\n      base_url: http://x\n"
    );
    let c = ok(Some(&config), None, &[]);
    let s = c.platform_settings("telegram");
    let v = |k: &str| s.config(k).map(|v| (v.value.clone(), v.origin.clone()));
    assert_eq!(v("token"), Some(("new".into(), "config.yaml:12:12".into())));
    assert_eq!(v("reply_to_mode"), Some(("all".into(), "config.yaml:9:22".into())));
    assert_eq!(v("allow_from").map(|v| v.0), Some("1,2".into()));
    assert_eq!(v("extra.base_url").map(|v| v.1), Some("config.yaml:15:17".into()));
    assert_eq!(s.list("NOPE", "allow_from"), ["1", "2"]);
}

#[test]
fn ssl_cert_file_must_exist() {
    let p = problems(Some(LOCAL), Some("SSL_CERT_FILE=/nonexistent/ca.pem\n"), &[]);
    assert_eq!(p, [".env:1: SSL_CERT_FILE: no such file: /nonexistent/ca.pem (a PEM file of extra CA certificates)"]);
    let dir = home(Some(LOCAL), None);
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, "pem").unwrap();
    let c = load(&opts(&dir, &[("SSL_CERT_FILE", ca.to_str().unwrap())])).unwrap();
    assert_eq!(c.ssl_cert_file, Some(ca));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn managed_dotenv_overrides_last() {
    let dir = home(Some(LOCAL), Some("X=user\n"));
    let managed = dir.join("managed");
    std::fs::create_dir(&managed).unwrap();
    std::fs::write(managed.join(".env"), "\nX=admin\n").unwrap();
    let mut o = opts(&dir, &[]);
    o.process_env.insert("HERMES_MANAGED_DIR".into(), managed.display().to_string());
    let c = load(&o).unwrap();
    assert_eq!(c.env["X"], "admin");
    assert_eq!(c.env_origin["X"], format!("{}:2", managed.join(".env").display()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_files_are_fine_and_top_level_must_be_a_map() {
    let p = problems(Some("- a\n- b\n"), None, &[]);
    assert_eq!(p[0], "config.yaml:1: expected a section of keys at the top level, found a list");
}

#[test]
fn fallbacks_resolve_dedupe_and_skip_entries_without_a_key() {
    let config = "model:\n  default: main\n  provider: openrouter\n  pricing:\n    input: 3\n    output: 15\n\
fallback_providers:\n  - provider: anthropic\n    model: claude\n  - provider: openai\n    model: gpt\n\
fallback_model:\n  provider: anthropic\n  model: claude\n";
    let c = ok(Some(config), None, &[("OPENROUTER_API_KEY", "or-key"), ("ANTHROPIC_API_KEY", "an-key")]);
    let got: Vec<(&str, &str, ApiMode)> =
        c.fallbacks.iter().map(|f| (f.name.as_str(), f.provider.as_str(), f.api_mode)).collect();
    assert_eq!(got, [("claude", "anthropic", ApiMode::AnthropicMessages)]);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    let w = c.warnings[0].to_string();
    assert!(w.contains("provider openai needs an API key: set OPENAI_API_KEY") && w.contains("skipped"), "{w}");
    let pricing = c.model.pricing.expect("pricing");
    let usage = crate::store::sessions::Usage { input_tokens: 1_000_000, output_tokens: 100_000, ..Default::default() };
    assert!((pricing.cost(&usage) - 4.5).abs() < 1e-9);
    // A missing primary key stays a problem; a fallback without a model is one too.
    let p =
        problems(Some("model:\n  default: m\n  provider: openai\nfallback_model:\n  provider: openai\n"), None, &[]);
    assert!(p.iter().any(|p| p.contains("model.api_key: provider openai needs an API key")), "{p:?}");
    assert!(p.iter().any(|p| p.contains("fallback_model: expected an entry with `model:`")), "{p:?}");
    let p = problems(Some("model:\n  default: m\n  pricing:\n    input: -1\n"), None, &[("OPENAI_API_KEY", "k")]);
    assert!(p[0].contains("model.pricing.input: expected a price in USD per million tokens"), "{p:?}");
}
