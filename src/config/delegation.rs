//! `delegation.*` (A18–A20, AD §4.13): how many subagents, how deep, how long, which model.

use std::time::Duration;

use super::read::Reader;

#[derive(Clone, Debug, PartialEq)]
pub struct DelegationConfig {
    /// `delegation.max_concurrent_children` (3): tasks in one batch, run side by side.
    pub max_concurrent_children: usize,
    /// `delegation.max_async_children` (else `max_concurrent_children`, else 3;
    /// `DELEGATION_MAX_CONCURRENT_CHILDREN` overrides): background units running at once.
    pub max_async_children: usize,
    /// `delegation.max_iterations` (50): the tool-calling budget of one child.
    pub max_iterations: u32,
    /// `delegation.child_timeout_seconds` (1800 here; Hermes has none): wall clock per child.
    pub child_timeout: Duration,
    /// `delegation.max_summary_chars` (24 000; 0 = no cap).
    pub max_summary_chars: usize,
    /// `delegation.model`: the children's model; `None` = the parent session's.
    pub model: Option<String>,
    /// `delegation.subagent_auto_approve` (false): children's dangerous commands are denied.
    pub subagent_auto_approve: bool,
    /// `delegation.max_spawn_depth` (1): agents above this depth may spawn; 1 = children never do.
    pub max_spawn_depth: u32,
    /// `delegation.orchestrator_enabled` (true): `role: orchestrator` is honoured (within the depth).
    pub orchestrator_enabled: bool,
}

impl Default for DelegationConfig {
    fn default() -> Self {
        DelegationConfig {
            max_concurrent_children: 3,
            max_async_children: 3,
            max_iterations: 50,
            child_timeout: Duration::from_secs(1800),
            max_summary_chars: 24_000,
            model: None,
            subagent_auto_approve: false,
            max_spawn_depth: 1,
            orchestrator_enabled: true,
        }
    }
}

pub fn read(r: &Reader) -> DelegationConfig {
    let d = DelegationConfig::default();
    let concurrent = r.int(r.cfg("delegation.max_concurrent_children"), 1, 64).map(|n| n as usize);
    let env_cap = r.int(r.env("DELEGATION_MAX_CONCURRENT_CHILDREN"), 1, 64).map(|n| n as usize);
    let async_cap = r.int(r.cfg("delegation.max_async_children"), 1, 64).map(|n| n as usize);
    let timeout = r.int(
        r.cfg("delegation.child_timeout_seconds").or_else(|| r.env("DELEGATION_CHILD_TIMEOUT_SECONDS")),
        0,
        86_400,
    );
    DelegationConfig {
        max_concurrent_children: env_cap.or(concurrent).unwrap_or(d.max_concurrent_children),
        max_async_children: env_cap.or(async_cap).or(concurrent).unwrap_or(d.max_async_children),
        max_iterations: r.int(r.cfg("delegation.max_iterations"), 1, 1000).map_or(d.max_iterations, |n| n as u32),
        // 0 means "none" in Hermes; here a child always has a wall clock, so 0 keeps the default.
        child_timeout: timeout.filter(|s| *s > 0).map_or(d.child_timeout, |s| Duration::from_secs(s as u64)),
        max_summary_chars: r
            .int(r.cfg("delegation.max_summary_chars"), 0, 1_000_000)
            .map_or(d.max_summary_chars, |n| n as usize),
        model: r.string(r.cfg("delegation.model")).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
        subagent_auto_approve: r.bool(r.cfg("delegation.subagent_auto_approve")).unwrap_or(false),
        max_spawn_depth: r.int(r.cfg("delegation.max_spawn_depth"), 1, 8).map_or(d.max_spawn_depth, |n| n as u32),
        orchestrator_enabled: r.bool(r.cfg("delegation.orchestrator_enabled")).unwrap_or(true),
    }
}
