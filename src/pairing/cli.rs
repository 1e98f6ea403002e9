//! `hermes-lite pairing …`: the operator's side, with Hermes' outputs. Works while the gateway
//! runs: both sides only read and atomically replace the files.

use std::path::Path;

use super::store::{self, Approval, Store};

/// Exit codes: 0 done, 1 failed.
const OK: i32 = 0;
const FAILED: i32 = 1;

fn ago(now: f64, then: f64) -> String {
    let mins = ((now - then).max(0.0) / 60.0) as u64;
    format!("{mins}m ago")
}

pub fn list(home: &Path) -> i32 {
    let store = Store::open(home);
    let now = store::now();
    let mut code = OK;
    let mut pending = Vec::new();
    let mut approved = Vec::new();
    for p in store.platforms() {
        match store.pending(&p, now) {
            Ok(v) => pending.extend(v.into_iter().map(|e| (p.clone(), e))),
            Err(e) => {
                eprintln!("error: {e}");
                code = FAILED;
            }
        }
        match store.approved(&p) {
            Ok(v) => approved.extend(v.into_iter().map(|e| (p.clone(), e))),
            Err(e) => {
                eprintln!("error: {e}");
                code = FAILED;
            }
        }
    }
    if pending.is_empty() {
        println!("\n  No pending pairing requests.");
    } else {
        println!("\n  Pending Pairing Requests ({}):", pending.len());
        println!("  {:<12} {:<10} {:<20} {:<20} Age", "Platform", "Code", "User ID", "Name");
        println!("  {:<12} {:<10} {:<20} {:<20} ---", "--------", "----", "-------", "----");
        for (p, e) in &pending {
            let short: String = e.hash.chars().take(8).collect();
            println!("  {p:<12} {short:<10} {:<20} {:<20} {}", e.user_id, e.user_name, ago(now, e.created_at));
        }
    }
    if approved.is_empty() {
        println!("\n  No approved users.\n");
    } else {
        println!("\n  Approved Users ({}):", approved.len());
        println!("  {:<12} {:<20} Name", "Platform", "User ID");
        println!("  {:<12} {:<20} ----", "--------", "-------");
        for (p, a) in &approved {
            println!("  {p:<12} {:<20} {}", a.user_id, a.user_name);
        }
        println!();
    }
    code
}

pub fn approve(home: &Path, platform: &str, code: &str) -> i32 {
    let platform = platform.trim().to_lowercase();
    let code = super::code::normalise(code);
    let store = Store::open(home);
    let now = store::now();
    match store.approve(&platform, &code, now) {
        Ok(Approval::Approved { user_id, user_name }) => {
            let display = if user_name.is_empty() { user_id.clone() } else { format!("{user_name} ({user_id})") };
            println!("\n  Approved! User {display} on {platform} can now use the bot~");
            println!("  They'll be recognized automatically on their next message.\n");
            if let Err(e) = super::mirror_add(home, &platform, &user_id) {
                eprintln!("warning: could not add {user_id} to the allowlist in .env: {e}");
            }
            OK
        }
        Ok(Approval::LockedOut { until }) => {
            let mins = ((until - now) / 60.0).ceil().max(1.0) as u64;
            println!("\n  Platform '{platform}' is locked out after too many failed approval attempts.");
            println!("  Try again in {mins} minute(s), or delete \"_lockout:{platform}\" from");
            println!("  {}\n", store.dir.join(store::RATE_FILE).display());
            FAILED
        }
        Ok(Approval::NotFound) => {
            println!("\n  Code '{code}' not found or expired for platform '{platform}'.");
            println!("  Run 'hermes-lite pairing list' to see pending codes.\n");
            FAILED
        }
        Err(e) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}

pub fn revoke(home: &Path, platform: &str, user_id: &str) -> i32 {
    let platform = platform.trim().to_lowercase();
    let store = Store::open(home);
    match store.revoke(&platform, user_id) {
        Ok(true) => {
            println!("\n  Revoked access for user {user_id} on {platform}.\n");
            if let Err(e) = super::mirror_remove(home, &platform, user_id) {
                eprintln!("warning: could not remove {user_id} from the allowlist in .env: {e}");
            }
            OK
        }
        Ok(false) => {
            println!("\n  User {user_id} not found in approved list for {platform}.\n");
            FAILED
        }
        Err(e) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}

pub fn clear_pending(home: &Path) -> i32 {
    match Store::open(home).clear_pending() {
        Ok(n) => {
            println!("\n  Cleared {n} pending pairing request(s).\n");
            OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}
