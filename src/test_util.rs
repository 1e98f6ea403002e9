//! Helpers for unit tests.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh empty directory under the system temp dir; the caller removes it.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hermes-lite-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A configuration with every default and the given environment, for unit tests.
pub fn config(env: &[(&str, &str)]) -> crate::config::Config {
    use crate::config::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;
    let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config {
        home: std::env::temp_dir(),
        env: Arc::new(env),
        env_origin: Arc::new(BTreeMap::new()),
        platform_blocks: BTreeMap::new(),
        model: ModelConfig {
            name: "test-model".into(),
            provider: "custom".into(),
            api_mode: ApiMode::OpenAiChat,
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: None,
            context_length: None,
            max_tokens: None,
            pricing: None,
        },
        fallbacks: Vec::new(),
        warnings: Vec::new(),
        agent: AgentConfig {
            max_turns: 90,
            api_max_retries: 3,
            gateway_timeout: Duration::from_secs(1800),
            gateway_timeout_warning: Duration::from_secs(900),
            gateway_notify_interval: Duration::from_secs(180),
            restart_drain_timeout: Duration::ZERO,
            stream_read_timeout: Duration::from_secs(120),
        },
        streaming: StreamingConfig {
            enabled: true,
            edit_interval: Duration::from_secs(1),
            buffer_threshold: 24,
            cursor: " ▉".into(),
        },
        display: DisplayConfig {
            busy_input_mode: BusyMode::Interrupt,
            busy_ack_enabled: true,
            platform_streaming: BTreeMap::new(),
        },
        session_reset: ResetPolicy {
            mode: ResetMode::None,
            at_hour: 4,
            idle_minutes: 1440,
            notify: true,
            notify_exclude_platforms: vec!["api_server".into(), "webhook".into()],
        },
        sessions: SessionsConfig { group_sessions_per_user: true, thread_sessions_per_user: false },
        gateway: GatewayConfig {
            backlog_max_age: Duration::from_secs(900),
            poison_threshold: 3,
            max_session_actors: 512,
            session_actor_idle: Duration::from_secs(300),
            outbox_ttl: Duration::from_secs(600),
            auto_resume: true,
            clock_offset_seconds: 0,
        },
        logging: LoggingConfig { level: log::LevelFilter::Info, max_size_bytes: 1 << 20, backup_count: 3 },
        access: Default::default(),
        commands: Default::default(),
        tools: crate::tools::test_env::config(&std::env::temp_dir()),
        timezone: None,
        ssl_cert_file: None,
    }
}
