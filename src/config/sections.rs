//! The typed sections of `config.yaml` other than the model, each with its env bridge and
//! the precedence Hermes gives it (CAC §2.1): "config wins" keys read `config.yaml` first,
//! "env wins" keys the environment first. Defaults are hermes-lite's (see `types.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::read::Reader;
use super::types::*;
use super::yaml::Kind;

pub fn agent(r: &Reader) -> AgentConfig {
    let max_turns = r.cfg("agent.max_turns").or_else(|| r.env("HERMES_MAX_ITERATIONS"));
    let max_turns = r.int(max_turns, 1, u32::MAX as i64).map_or(90, |n| n as u32);
    let retries = r.any_int(r.cfg("agent.api_max_retries")).map_or(3, |n| n.clamp(1, u32::MAX as i64) as u32);
    let secs = |key: &str, env: &str, default: u64| {
        let raw = r.cfg(&format!("agent.{key}")).or_else(|| r.env(env));
        r.secs(raw).unwrap_or(Duration::from_secs(default))
    };
    AgentConfig {
        max_turns,
        api_max_retries: retries,
        gateway_timeout: secs("gateway_timeout", "HERMES_AGENT_TIMEOUT", 1800),
        gateway_timeout_warning: secs("gateway_timeout_warning", "HERMES_AGENT_TIMEOUT_WARNING", 900),
        gateway_notify_interval: secs("gateway_notify_interval", "HERMES_AGENT_NOTIFY_INTERVAL", 180),
        restart_drain_timeout: secs("restart_drain_timeout", "HERMES_RESTART_DRAIN_TIMEOUT", 0),
        stream_read_timeout: {
            let raw = r.env("HERMES_STREAM_READ_TIMEOUT");
            r.secs(raw).unwrap_or(Duration::from_secs(120))
        },
    }
}

/// `streaming:` (top level, `gateway.streaming` as fallback). `mode:`/`transport: off`
/// (YAML `off` included) turns it off.
pub fn streaming(r: &Reader) -> StreamingConfig {
    let base = if r.node("streaming").is_some() { "streaming" } else { "gateway.streaming" };
    r.section(base);
    let mut enabled = r.bool(r.cfg(&format!("{base}.enabled"))).unwrap_or(true);
    for key in ["mode", "transport"] {
        let raw = r.cfg(&format!("{base}.{key}"));
        let on = r.choice(
            raw,
            &[
                ("off", false),
                ("false", false),
                ("no", false),
                ("auto", true),
                ("edit", true),
                ("draft", true),
                ("on", true),
                ("true", true),
                ("yes", true),
            ],
        );
        if on == Some(false) {
            enabled = false;
        }
    }
    let edit_interval =
        r.positive(r.cfg(&format!("{base}.edit_interval"))).map_or(Duration::from_secs(1), Duration::from_secs_f64);
    let threshold = r.int(r.cfg(&format!("{base}.buffer_threshold")), 1, 1 << 20).map_or(24, |n| n as usize);
    let cursor = r.string(r.cfg(&format!("{base}.cursor"))).unwrap_or_else(|| " ▉".to_string());
    StreamingConfig { enabled, edit_interval, buffer_threshold: threshold, cursor }
}

pub fn display(r: &Reader) -> DisplayConfig {
    r.section("display");
    let busy = r.cfg("display.busy_input_mode").or_else(|| r.env("HERMES_GATEWAY_BUSY_INPUT_MODE"));
    let busy_input_mode = r
        .choice(busy, &[("interrupt", BusyMode::Interrupt), ("queue", BusyMode::Queue), ("steer", BusyMode::Steer)])
        .unwrap_or(BusyMode::Interrupt);
    let ack = r.cfg("display.busy_ack_enabled").or_else(|| r.env("HERMES_GATEWAY_BUSY_ACK_ENABLED"));
    let busy_ack_enabled = r.bool(ack).unwrap_or(true);
    let mut platform_streaming = BTreeMap::new();
    if let Some((_, platforms)) = r.section("display.platforms")
        && let Kind::Map(entries) = &platforms.kind
    {
        for (name, _) in entries {
            let path = format!("display.platforms.{}", name.name);
            if r.section(&path).is_none() {
                continue;
            }
            if let Some(on) = r.bool(r.cfg(&format!("{path}.streaming"))) {
                platform_streaming.insert(name.name.clone(), on);
            }
        }
    }
    DisplayConfig { busy_input_mode, busy_ack_enabled, platform_streaming }
}

/// `session_reset:` (or `gateway.session_reset`); `SESSION_IDLE_MINUTES` and
/// `SESSION_RESET_HOUR` win. Out-of-range hours and non-positive minutes fall back to the
/// defaults, as Hermes does.
pub fn session_reset(r: &Reader) -> ResetPolicy {
    let base = if r.node("session_reset").is_some() { "session_reset" } else { "gateway.session_reset" };
    r.section(base);
    let mode = r.cfg(&format!("{base}.mode"));
    let mode = r
        .choice(
            mode,
            &[
                ("none", ResetMode::None),
                ("off", ResetMode::None),
                ("false", ResetMode::None),
                ("idle", ResetMode::Idle),
                ("daily", ResetMode::Daily),
                ("both", ResetMode::Both),
            ],
        )
        .unwrap_or(ResetMode::None);
    let hour = r.env("SESSION_RESET_HOUR").or_else(|| r.cfg(&format!("{base}.at_hour")));
    let at_hour = r.any_int(hour).filter(|h| (0..=23).contains(h)).map_or(4, |h| h as u32);
    let idle = r.env("SESSION_IDLE_MINUTES").or_else(|| r.cfg(&format!("{base}.idle_minutes")));
    let idle_minutes = r.any_int(idle).filter(|m| *m > 0).map_or(1440, |m| m as u64);
    let notify = r.bool(r.cfg(&format!("{base}.notify"))).unwrap_or(true);
    let notify_exclude_platforms = r
        .list(&format!("{base}.notify_exclude_platforms"))
        .unwrap_or_else(|| vec!["api_server".into(), "webhook".into()]);
    ResetPolicy { mode, at_hour, idle_minutes, notify, notify_exclude_platforms }
}

pub fn sessions(r: &Reader) -> SessionsConfig {
    let group = r.cfg_gw("group_sessions_per_user");
    let thread = r.cfg_gw("thread_sessions_per_user");
    SessionsConfig {
        group_sessions_per_user: r.bool(group).unwrap_or(true),
        thread_sessions_per_user: r.bool(thread).unwrap_or(false),
    }
}

pub fn gateway(r: &Reader) -> GatewayConfig {
    r.section("gateway");
    let secs = |key: &str, default: u64| {
        let raw = r.cfg(&format!("gateway.{key}"));
        r.int(raw, 0, i64::MAX).map_or(Duration::from_secs(default), |n| Duration::from_secs(n as u64))
    };
    let backlog_max_age = secs("backlog_max_age_seconds", 900);
    let session_actor_idle = secs("session_actor_idle_seconds", 300);
    let outbox_ttl = secs("outbox_ttl_seconds", 600);
    let poison = r.cfg("gateway.poison_threshold");
    let max_actors = r.cfg("gateway.max_session_actors");
    GatewayConfig {
        max_session_actors: r.int(max_actors, 1, 100_000).map_or(512, |n| n as usize),
        backlog_max_age,
        poison_threshold: r.int(poison, 1, 1000).map_or(3, |n| n as u32),
        session_actor_idle,
        outbox_ttl,
        auto_resume: r.bool(r.cfg("gateway.auto_resume")).unwrap_or(true),
        clock_offset_seconds: r.int(r.cfg("gateway.clock_offset_seconds"), -(1 << 40), 1 << 40).unwrap_or(0),
    }
}

/// `logging.level` takes Python's names (`WARNING`, `CRITICAL`) as Hermes configs have them.
pub fn logging(r: &Reader) -> LoggingConfig {
    use log::LevelFilter as L;
    r.section("logging");
    let level = r.cfg("logging.level");
    let level = r
        .choice(
            level,
            &[
                ("debug", L::Debug),
                ("info", L::Info),
                ("warning", L::Warn),
                ("warn", L::Warn),
                ("error", L::Error),
                ("critical", L::Error),
            ],
        )
        .unwrap_or(L::Info);
    let size = r.positive(r.cfg("logging.max_size_mb")).map_or(1 << 20, |mb| (mb * 1_048_576.0) as u64);
    let backups = r.int(r.cfg("logging.backup_count"), 0, 100).map_or(3, |n| n as u32);
    LoggingConfig { level, max_size_bytes: size, backup_count: backups }
}

/// `timezone` (config wins) or `HERMES_TIMEZONE`; empty = the system's.
pub fn timezone(r: &Reader) -> Option<String> {
    let raw = r.cfg("timezone").or_else(|| r.env("HERMES_TIMEZONE"));
    let tz = r.string(raw.clone())?.trim().to_string();
    if tz.is_empty() {
        return None;
    }
    let plausible = tz.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c)) && !tz.contains("..");
    if !plausible {
        r.wrong(raw.as_ref()?, "an IANA time zone such as Europe/Berlin");
        return None;
    }
    Some(tz)
}
