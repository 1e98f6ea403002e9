//! `approvals.*` and the top-level `command_allowlist` (A16, A17): how dangerous commands are
//! approved.

use std::time::Duration;

use super::read::Reader;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalMode {
    /// Ask in the chat (`smart` behaves the same: no aux approval model in this build).
    Manual,
    /// Never ask (hardline blocks still apply).
    Off,
}

#[derive(Clone, Debug)]
pub struct ApprovalsConfig {
    pub mode: ApprovalMode,
    /// `approvals.timeout`, default 60 s: no answer by then blocks the command.
    pub timeout: Duration,
    /// `command_allowlist`: commands approved for good (exact, or a prefix ending in `*`).
    pub allowlist: Vec<String>,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        ApprovalsConfig { mode: ApprovalMode::Manual, timeout: Duration::from_secs(60), allowlist: Vec::new() }
    }
}

pub fn read(r: &Reader) -> ApprovalsConfig {
    let modes = [
        ("manual", ApprovalMode::Manual),
        ("smart", ApprovalMode::Manual),
        ("off", ApprovalMode::Off),
        ("false", ApprovalMode::Off),
    ];
    ApprovalsConfig {
        mode: r.choice(r.cfg("approvals.mode"), &modes).unwrap_or(ApprovalMode::Manual),
        timeout: r.secs(r.cfg("approvals.timeout")).unwrap_or(Duration::from_secs(60)),
        allowlist: r.list("command_allowlist").unwrap_or_default(),
    }
}
