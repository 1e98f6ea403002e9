//! Finding the live session of a key, and the automatic reset policy (M4, M5): applied on the
//! next message, and by a watcher every 5 minutes that ends expired idle sessions and tells
//! their chats.

use std::rc::Rc;
use std::time::Duration;

use hermes_platform::{ChatRef, SendOptions, Source};

use super::{Gateway, session_key};
use crate::clock;
use crate::config::{ResetMode, ResetPolicy};
use crate::store::sessions::{self, NewSession, Session};
use rusqlite::Transaction;

use crate::store::{self, Store, StoreError};

/// The live session for a message, and whether an old one was just reset by the policy.
pub struct Live {
    pub session: Session,
    /// Why the previous session was reset by the policy (`idle`, `daily`), if it was.
    pub auto_reset: Option<&'static str>,
}

/// Returns the key's live session, ending it first when the reset policy says it expired, or
/// creates one. Runs inside the caller's transaction, so two callers never create two live
/// sessions.
pub fn ensure(tx: &Transaction, key: &str, source: &Source, policy: &ResetPolicy, now: f64) -> rusqlite::Result<Live> {
    let mut auto_reset = None;
    if let Some(s) = sessions::live_for_key(tx, key)? {
        match expired(policy, s.updated_at, now) {
            None => {
                sessions::touch(tx, &s.id, now)?;
                return Ok(Live { session: s, auto_reset: None });
            }
            Some(reason) => {
                sessions::end(tx, &s.id, reason, now)?;
                auto_reset = Some(reason);
            }
        }
    }
    Ok(Live { session: sessions::create(tx, &new_session(key, source, None, now), now)?, auto_reset })
}

fn new_session(key: &str, source: &Source, title: Option<String>, now: f64) -> NewSession {
    NewSession {
        id: session_key::new_session_id(now),
        key: key.to_string(),
        platform: source.platform.clone(),
        chat_id: Some(source.chat_id.clone()),
        chat_type: Some(source.chat_type.as_str().to_string()),
        thread_id: source.thread_id.clone(),
        user_id: source.user_id.clone(),
        display_name: source.user_name.clone(),
        // Set only by /model: a session without one follows the configured model.
        model: None,
        title,
    }
}

/// `/new [title]`: ends the key's live session and, with a title, starts the next one now so
/// it carries the title. `Err(owner)` when another session holds the title (nothing changes).
pub fn rotate(
    tx: &Transaction,
    key: &str,
    source: &Source,
    reason: &str,
    title: Option<String>,
    now: f64,
) -> rusqlite::Result<Result<(), String>> {
    if let Some(t) = &title
        && let Some(owner) = sessions::title_owner(tx, t)?
    {
        return Ok(Err(owner));
    }
    if let Some(s) = sessions::live_for_key(tx, key)? {
        sessions::end(tx, &s.id, reason, now)?;
    }
    if title.is_some() {
        sessions::create(tx, &new_session(key, source, title, now), now)?;
    }
    Ok(Ok(()))
}

/// Ends the key's live session, if any (`/new`, `/reset`).
pub async fn end(store: &Store, key: &str, reason: &str) -> Result<bool, StoreError> {
    let (key, reason) = (key.to_string(), reason.to_string());
    store
        .call(move |tx| match sessions::live_for_key(tx, &key)? {
            Some(s) => sessions::end(tx, &s.id, &reason, store::now()),
            None => Ok(false),
        })
        .await
}

/// How often the watcher looks for expired sessions (M5; Hermes' `_session_expiry_watcher`).
const WATCH_EVERY: Duration = Duration::from_secs(300);

/// The reset watcher: every 5 minutes it ends the live sessions the policy says expired. Each
/// platform also gets a sweep when it connects ([`sweep`] from recovery), for sessions that
/// expired while the gateway was down.
pub async fn watch_resets(gw: Rc<Gateway>) {
    if matches!(gw.config.session_reset.mode, ResetMode::None) {
        return;
    }
    loop {
        smol::Timer::after(WATCH_EVERY).await;
        sweep(&gw, None).await;
    }
}

/// Ends the expired live sessions of connected platforms (of `only`, if given), unless their
/// actor is working, and sends each chat the auto-reset notice once. Ending the session here
/// means the next message finds no live session and sends no second notice.
pub async fn sweep(gw: &Rc<Gateway>, only: Option<&str>) {
    if matches!(gw.config.session_reset.mode, ResetMode::None) {
        return;
    }
    if let Err(e) = sweep_once(gw, only).await {
        log::warn!("reset watcher: {e}");
    }
}

async fn sweep_once(gw: &Rc<Gateway>, only: Option<&str>) -> Result<(), StoreError> {
    let policy = gw.config.session_reset.clone();
    let now = clock::now();
    let live = gw.store.call(sessions::live_all).await?;
    for s in live {
        if only.is_some_and(|p| p != s.platform) || !gw.is_ready(&s.platform) {
            continue; // its turn comes when the platform connects
        }
        let Some(reason) = expired(&policy, s.updated_at, now) else { continue };
        if gw.actor(&s.key).is_some_and(|a| !a.is_idle()) {
            continue; // working or about to: the policy applies on its next message instead
        }
        let id = s.id.clone();
        let ended = gw.store.call(move |tx| sessions::end(tx, &id, reason, store::now())).await?;
        if !ended {
            continue;
        }
        log::info!("session {} ({}) reset by the {reason} policy", s.id, s.key);
        let excluded = policy.notify_exclude_platforms.contains(&s.platform);
        let Some(chat_id) = s.chat_id.clone().filter(|_| policy.notify && !excluded) else { continue };
        let Some(outlet) = gw.outlet(&s.platform, ChatRef::new(chat_id, s.thread_id.clone()), None, None) else {
            continue;
        };
        let opts = SendOptions { plain: true, ..Default::default() };
        let _ = outlet.send(&format!("reset:{}", s.id), &reset_notice(reason, &policy), opts).await;
    }
    Ok(())
}

/// Why a session last active at `updated_at` has expired at `now`, if it has.
pub fn expired(policy: &ResetPolicy, updated_at: f64, now: f64) -> Option<&'static str> {
    let idle = matches!(policy.mode, ResetMode::Idle | ResetMode::Both)
        && now - updated_at >= policy.idle_minutes as f64 * 60.0;
    if idle {
        return Some("idle");
    }
    let daily =
        matches!(policy.mode, ResetMode::Daily | ResetMode::Both) && crossed_hour(policy.at_hour, updated_at, now);
    daily.then_some("daily")
}

/// True when the local clock passed `hour:00` between `then` and `now`.
fn crossed_hour(hour: u32, then: f64, now: f64) -> bool {
    if now <= then {
        return false;
    }
    let t = clock::local(now);
    let since_boundary =
        ((t.hour as i64 - hour as i64).rem_euclid(24) * 3600 + t.minute as i64 * 60 + t.second as i64) as f64;
    let last_boundary = now - since_boundary;
    then < last_boundary
}

/// The Hermes auto-reset notice (GC §1.6 item 5).
pub fn reset_notice(reason: &str, policy: &ResetPolicy) -> String {
    let why = match reason {
        "daily" => format!("daily schedule at {}:00", policy.at_hour),
        _ => {
            let m = policy.idle_minutes;
            if m >= 60 { format!("inactive for {}h {}m", m / 60, m % 60) } else { format!("inactive for {m}m") }
        }
    };
    format!(
        "◐ Session automatically reset ({why}). Conversation history cleared.\nUse /resume to browse and restore a \
         previous session.\nAdjust reset timing in config.yaml under session_reset."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util;

    #[test]
    fn idle_and_daily_expiry() {
        let mut policy = test_util::config(&[]).session_reset;
        assert_eq!(expired(&policy, 0.0, 1e9), None);
        policy.mode = ResetMode::Idle;
        policy.idle_minutes = 10;
        assert_eq!(expired(&policy, 1000.0, 1000.0 + 599.0), None);
        assert_eq!(expired(&policy, 1000.0, 1000.0 + 600.0), Some("idle"));
        policy.mode = ResetMode::Daily;
        assert_eq!(expired(&policy, 1000.0, 1000.0 + 2.0 * 86400.0), Some("daily"));
        assert_eq!(expired(&policy, 1000.0, 1001.0), crossed_hour(4, 1000.0, 1001.0).then_some("daily"));
    }
}
