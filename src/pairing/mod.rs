//! DM pairing (M24, CAC §3.4): a stranger gets a one-time code, the owner approves it with
//! `hermes-lite pairing approve`, and the user is let in without a restart.
//!
//! The files are the live source: the gateway re-reads a platform's approved file whenever its
//! size or modification time changes, so approvals and revocations count at the next message.

pub mod cli;
pub mod code;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

pub use store::Store;

/// The pairing text a stranger gets (Hermes' words; the command is this binary's).
pub fn code_text(platform: &str, code: &str) -> String {
    format!(
        "Hi~ I don't recognize you yet!\n\nHere's your pairing code: `{code}`\n\nAsk the bot owner to run:\n`hermes-lite pairing approve {platform} {code}`"
    )
}

/// Sent when no code can be issued (lockout or three codes already waiting).
pub const TOO_MANY: &str = "Too many pairing requests right now~ Please try again later!";

type Stamp = (SystemTime, u64);
/// A file's stamp when read, and the approved ids or why it could not be read.
type Cached = (PathBuf, Option<Stamp>, Result<Vec<String>, String>);

/// The approved ids (sorted) per file, with the stamp they were read at: one entry per
/// platform's file.
static APPROVED: Mutex<Vec<Cached>> = Mutex::new(Vec::new());

/// True when pairing approved `user_id` on `platform`. A malformed or unreadable file means
/// "not approved" and is logged once per version of the file.
pub fn is_approved(home: &Path, platform: &str, user_id: &str) -> bool {
    let store = Store::open(home);
    let path = store.approved_path(platform);
    let stamp = std::fs::metadata(&path).ok().map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
    let mut cache = APPROVED.lock().unwrap_or_else(|e| e.into_inner());
    let at = match cache.iter().position(|(p, ..)| *p == path) {
        Some(i) => i,
        None => {
            cache.push((path, None, Ok(Vec::new())));
            cache.len() - 1
        }
    };
    let entry = &mut cache[at];
    if entry.1 != stamp || stamp.is_none() {
        let read = if stamp.is_none() {
            Ok(Vec::new())
        } else {
            store.approved(platform).map(|v| crate::sorted::unique(v.into_iter().map(|a| a.user_id)))
        };
        if let Err(e) = &read {
            log::warn!("pairing: {e}; no user is approved by pairing on {platform} until it is fixed");
        }
        entry.1 = stamp;
        entry.2 = read;
    }
    matches!(&entry.2, Ok(ids) if ids.binary_search_by(|id| id.as_str().cmp(user_id)).is_ok())
}

/// Every problem with the pairing files (for `config check`).
pub fn check_files(home: &Path) -> Vec<String> {
    let store = Store::open(home);
    let now = store::now();
    let mut out = Vec::new();
    for p in store.platforms() {
        if let Err(e) = store.approved(&p) {
            out.push(e);
        }
        if let Err(e) = store.pending(&p, now) {
            out.push(e);
        }
    }
    if let Err(e) = store.lockout_until("", now) {
        out.push(e);
    }
    out
}

/// The allowlist variable approvals mirror into.
fn allow_var(platform: &str) -> String {
    format!("{}_ALLOWED_USERS", platform.to_ascii_uppercase())
}

/// The last value `.env` assigns to `key`, unquoted.
fn env_value(env_path: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(env_path).ok()?;
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        if let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(v);
            let v = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')).unwrap_or(v);
            found = Some(v.to_string());
        }
    }
    found
}

fn list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_string).collect()
}

/// Appends an approved user to a non-empty, non-`*` allowlist in `.env` (open gateways stay
/// open, and an empty list is not turned into a restrictive one).
pub fn mirror_add(home: &Path, platform: &str, user_id: &str) -> std::io::Result<()> {
    let env = home.join(".env");
    let var = allow_var(platform);
    let Some(current) = env_value(&env, &var) else { return Ok(()) };
    let mut ids = list(&current);
    if ids.is_empty() || ids.iter().any(|e| e == "*") || ids.iter().any(|e| e == user_id) {
        return Ok(());
    }
    ids.push(user_id.to_string());
    crate::config::env_file::update(&env, &[(&var, Some(&ids.join(",")))])
}

/// Removes a revoked user from the allowlist in `.env`; the variable goes when it empties.
pub fn mirror_remove(home: &Path, platform: &str, user_id: &str) -> std::io::Result<()> {
    let env = home.join(".env");
    let var = allow_var(platform);
    let Some(current) = env_value(&env, &var) else { return Ok(()) };
    let ids = list(&current);
    if !ids.iter().any(|e| e == user_id) {
        return Ok(());
    }
    let rest: Vec<String> = ids.into_iter().filter(|e| e != user_id).collect();
    let joined = rest.join(",");
    crate::config::env_file::update(&env, &[(&var, if rest.is_empty() { None } else { Some(&joined) })])
}
