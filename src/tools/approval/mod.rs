//! Dangerous-command detection and the approval decision (A16, AD §3.3). The chat flow that
//! asks the user lives in the gateway (`tool_host`); this module decides whether to ask.
//! Matching is done with token checks (patterns.rs), not regexes: smaller, and it sees through
//! quoting and spacing tricks.

mod patterns;

use std::sync::Mutex;

use super::{HostAsk, ToolEnv};
use crate::config::approvals::ApprovalMode;

#[derive(Debug, PartialEq)]
pub enum Verdict {
    Safe,
    Dangerous { key: &'static str, description: &'static str },
    Hardline { description: &'static str },
}

pub fn classify(command: &str) -> Verdict {
    let parsed = patterns::parse(command);
    if let Some(description) = patterns::hardline(&parsed) {
        return Verdict::Hardline { description };
    }
    match patterns::dangerous(&parsed) {
        Some((key, description)) => Verdict::Dangerous { key, description },
        None => Verdict::Safe,
    }
}

/// Session approvals (`/approve session`): (session key, pattern key), oldest first.
static SESSION_APPROVALS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
const MAX_SESSION_APPROVALS: usize = 1024;

pub fn approve_for_session(session_key: &str, key: &str) {
    let mut list = SESSION_APPROVALS.lock().unwrap_or_else(|e| e.into_inner());
    if list.iter().any(|(s, k)| s == session_key && k == key) {
        return;
    }
    if list.len() >= MAX_SESSION_APPROVALS {
        list.remove(0);
    }
    list.push((session_key.to_string(), key.to_string()));
}

pub fn is_approved(session_key: &str, key: &str) -> bool {
    let list = SESSION_APPROVALS.lock().unwrap_or_else(|e| e.into_inner());
    list.iter().any(|(s, k)| s == session_key && k == key)
}

/// A `command_allowlist` entry approves: the pattern key or description (what Hermes stores),
/// the command itself, or a command prefix ending in `*`.
fn allowlisted(allowlist: &[String], command: &str, key: &str, description: &str) -> bool {
    let cmd = patterns::normalise(command);
    allowlist.iter().any(|e| {
        let e = e.trim();
        e == key
            || e == description
            || patterns::normalise(e) == cmd
            || e.strip_suffix('*').is_some_and(|p| !p.is_empty() && cmd.starts_with(&patterns::normalise(p)))
    })
}

fn denied(reason: Option<&str>, timeout: bool) -> String {
    let mut text = String::from("BLOCKED: Command denied by user.");
    if let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty()) {
        text.push_str(&format!(" Reason given by the user: \"{r}\"."));
    }
    if timeout {
        text.push_str(" No answer came before the approval timed out. Silence is not consent.");
    }
    text.push_str(
        " The user has NOT consented to this command. Do NOT retry this command, do NOT rephrase it or run an \
         equivalent command to get around this decision. Stop the current workflow and ask the user how to proceed.",
    );
    text
}

/// Decides whether `command` may run: `Ok(None)` runs it, `Ok(Some(note))` runs it with a note
/// for the result (it was approved), `Err(text)` blocks it with the Hermes text.
pub fn check(env: &ToolEnv, command: &str) -> Result<Option<String>, String> {
    let (key, description) = match classify(command) {
        Verdict::Safe => return Ok(None),
        Verdict::Hardline { description } => {
            return Err(format!(
                "BLOCKED: this command is on the hardline block list ({description}) and can never run, whatever \
                 the approval mode. Do NOT retry it or rephrase it to get around the block."
            ));
        }
        Verdict::Dangerous { key, description } => (key, description),
    };
    let a = &env.config.approvals;
    if env.yolo
        || a.mode == ApprovalMode::Off
        || allowlisted(&a.allowlist, command, key, description)
        || is_approved(&env.session.session_key, key)
    {
        return Ok(None);
    }
    let answer = env.host.ask(HostAsk::Approval { command: command.to_string(), reason: description.to_string() });
    match answer.as_deref() {
        Some("once") => Ok(Some(format!("Command was flagged ({description}) and approved by the user."))),
        Some("session") => {
            approve_for_session(&env.session.session_key, key);
            Ok(Some(format!("Command was flagged ({description}) and approved by the user for this session.")))
        }
        // gateway persists the command to `command_allowlist` in config.yaml.
        Some("always") => {
            approve_for_session(&env.session.session_key, key);
            Ok(Some(format!("Command was flagged ({description}) and permanently approved by the user.")))
        }
        Some("timeout") => Err(denied(None, true)),
        Some(other) => Err(denied(other.strip_prefix("deny:"), false)),
        None => Err(denied(None, false)),
    }
}

#[cfg(test)]
mod tests;
