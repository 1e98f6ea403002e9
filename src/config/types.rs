//! The resolved configuration the runtime uses: every value already defaulted, validated and
//! typed. Built by [`super::load`] from `HERMES_HOME` (see the module docs for precedence).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hermes_platform::Settings;

/// Everything the gateway reads from `config.yaml`, `.env` and the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// The Hermes home directory (`HERMES_HOME`, `--home`, `-p NAME`, else `~/.hermes`).
    pub home: PathBuf,
    /// The merged environment: process env, then `.env` (overriding), then top-level scalar
    /// keys of `config.yaml` (only where unset), then the managed `.env` (overriding).
    pub env: Arc<BTreeMap<String, String>>,
    /// Where each variable that did not come from the process came from: `.env:4`,
    /// `config.yaml:3`, `/etc/hermes/.env:2`.
    pub env_origin: Arc<BTreeMap<String, String>>,
    /// `platforms.<name>.*` of config.yaml flattened to dotted keys, per platform name.
    pub platform_blocks: BTreeMap<String, BTreeMap<String, hermes_platform::settings::SettingValue>>,
    pub model: ModelConfig,
    /// `fallback_providers:` then `fallback_model:` (deduplicated), each resolved like the
    /// primary; entries without a key are left out with a warning (A4, AD §2.2).
    pub fallbacks: Vec<ModelConfig>,
    /// Things worth saying that do not stop the gateway (a fallback without a key).
    pub warnings: Vec<super::Problem>,
    pub agent: AgentConfig,
    pub streaming: StreamingConfig,
    pub display: DisplayConfig,
    pub session_reset: ResetPolicy,
    pub sessions: SessionsConfig,
    pub gateway: GatewayConfig,
    pub logging: LoggingConfig,
    pub access: super::AccessConfig,
    pub commands: super::CommandsConfig,
    /// What the agent's tools read (shared with tool threads).
    pub tools: Arc<super::ToolsConfig>,
    /// IANA zone from `timezone` (or `HERMES_TIMEZONE`); `None` = the system's.
    pub timezone: Option<String>,
    /// Extra CA certificates (`SSL_CERT_FILE`), added to the built-in roots.
    pub ssl_cert_file: Option<PathBuf>,
}

impl Config {
    /// The settings view a platform crate reads its configuration from.
    pub fn platform_settings(&self, platform: &str) -> Settings {
        Settings::new(
            platform,
            self.env.clone(),
            self.env_origin.clone(),
            self.platform_blocks.get(platform).cloned().unwrap_or_default(),
        )
    }

    /// A non-empty variable of the merged environment.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// The wire protocol of the model provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiMode {
    /// `POST {base_url}/chat/completions`.
    OpenAiChat,
    /// `POST {base_url}/v1/messages`.
    AnthropicMessages,
}

/// The model and how to reach it, resolved as Hermes does (AD §2.1).
#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// The model name sent to the provider (`model.default`, `model.model`, or `model: "x"`).
    pub name: String,
    /// The resolved provider id (`openrouter`, `openai`, `nous`, `custom`, ...).
    pub provider: String,
    pub api_mode: ApiMode,
    /// Without a trailing slash, e.g. `https://openrouter.ai/api/v1`.
    pub base_url: String,
    /// `None` for local servers that need no key.
    pub api_key: Option<String>,
    /// `model.context_length`, if set.
    pub context_length: Option<u64>,
    /// `model.max_tokens`, if set (sent as `max_tokens`).
    pub max_tokens: Option<u64>,
    /// `model.pricing`, USD per million tokens; `None` = cost only when the provider says it.
    pub pricing: Option<Pricing>,
}

/// `model.pricing: {input, output, cache_read, cache_write}` in USD per million tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pricing {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}

impl Pricing {
    /// The cost of one call's usage in USD.
    pub fn cost(&self, u: &crate::store::sessions::Usage) -> f64 {
        (u.input_tokens as f64 * self.input
            + u.output_tokens as f64 * self.output
            + u.cache_read_tokens as f64 * self.cache_read
            + u.cache_write_tokens as f64 * self.cache_write)
            / 1e6
    }
}

/// `agent.*` (with the `HERMES_*` env bridges; config wins over env as in Hermes).
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// `agent.max_turns` / `HERMES_MAX_ITERATIONS`, default 90.
    pub max_turns: u32,
    /// `agent.api_max_retries`, default 3 (floor 1).
    pub api_max_retries: u32,
    /// `agent.gateway_timeout` / `HERMES_AGENT_TIMEOUT`, default 1800 s; zero = unlimited.
    pub gateway_timeout: Duration,
    /// `agent.gateway_timeout_warning` / `HERMES_AGENT_TIMEOUT_WARNING`, default 900 s.
    pub gateway_timeout_warning: Duration,
    /// `agent.gateway_notify_interval` / `HERMES_AGENT_NOTIFY_INTERVAL`, default 180 s; zero = off.
    pub gateway_notify_interval: Duration,
    /// `agent.restart_drain_timeout` / `HERMES_RESTART_DRAIN_TIMEOUT`, default 0 (interrupt at
    /// once; the turn resumes after the restart), as Hermes.
    pub restart_drain_timeout: Duration,
    /// `HERMES_STREAM_READ_TIMEOUT`, default 120 s between bytes of a model stream.
    pub stream_read_timeout: Duration,
}

/// `streaming.*`.
#[derive(Clone, Debug)]
pub struct StreamingConfig {
    /// `streaming.enabled`, default **true** here (Hermes: false); `mode: off` also disables.
    pub enabled: bool,
    /// `streaming.edit_interval` seconds, default 1.0.
    pub edit_interval: Duration,
    /// `streaming.buffer_threshold` characters, default 24.
    pub buffer_threshold: usize,
    /// `streaming.cursor`, default `" ▉"`.
    pub cursor: String,
}

/// How a message that arrives while a turn runs is handled (M15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusyMode {
    Interrupt,
    Queue,
    Steer,
}

/// `display.*`.
#[derive(Clone, Debug)]
pub struct DisplayConfig {
    /// `display.busy_input_mode` (config wins) / `HERMES_GATEWAY_BUSY_INPUT_MODE`; default interrupt.
    pub busy_input_mode: BusyMode,
    /// `display.busy_ack_enabled` / `HERMES_GATEWAY_BUSY_ACK_ENABLED`, default true.
    pub busy_ack_enabled: bool,
    /// `display.platforms.<p>.streaming` overrides, per platform name.
    pub platform_streaming: BTreeMap<String, bool>,
}

/// When sessions reset on their own (M5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetMode {
    None,
    Idle,
    Daily,
    Both,
}

/// `session_reset:` (env `SESSION_IDLE_MINUTES`, `SESSION_RESET_HOUR` win).
#[derive(Clone, Debug)]
pub struct ResetPolicy {
    pub mode: ResetMode,
    /// 0..=23, default 4 (out of range → 4, as Hermes).
    pub at_hour: u32,
    /// Default 1440 (≤ 0 → 1440, as Hermes).
    pub idle_minutes: u64,
    pub notify: bool,
    /// Default `[api_server, webhook]`.
    pub notify_exclude_platforms: Vec<String>,
}

/// Session key options (top-level keys, `gateway:` nesting as fallback).
#[derive(Clone, Debug)]
pub struct SessionsConfig {
    /// `group_sessions_per_user`, default true.
    pub group_sessions_per_user: bool,
    /// `thread_sessions_per_user`, default false.
    pub thread_sessions_per_user: bool,
}

/// `gateway.*` knobs of hermes-lite's own.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// `gateway.backlog_max_age_seconds`, default 900.
    pub backlog_max_age: Duration,
    /// `gateway.poison_threshold`, default 3.
    pub poison_threshold: u32,
    /// `gateway.max_session_actors`, default 512: sessions with a live actor at once; more
    /// active chats wait in the inbox (backpressure, not memory growth).
    pub max_session_actors: usize,
    /// `gateway.session_actor_idle_seconds`, default 300.
    pub session_actor_idle: Duration,
    /// `gateway.outbox_ttl_seconds`, default 600.
    pub outbox_ttl: Duration,
    /// `gateway.auto_resume`, default true.
    pub auto_resume: bool,
    /// `gateway.clock_offset_seconds`, default 0: shifts the gateway's wall clock, so tests of
    /// time-based policies (session resets, expiries) run without sleeping.
    pub clock_offset_seconds: i64,
}

/// `logging.*`.
#[derive(Clone, Debug)]
pub struct LoggingConfig {
    /// `logging.level`, default info.
    pub level: log::LevelFilter,
    /// `logging.max_size_mb` in bytes, default 1 MiB.
    pub max_size_bytes: u64,
    /// `logging.backup_count`, default 3.
    pub backup_count: u32,
}
