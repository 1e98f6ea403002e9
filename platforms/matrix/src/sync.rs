//! The `/sync` long-poll thread (P11): journal each batch, and only then move `since`.
//!
//! `since` is what confirms events to us, so it moves (in memory and in `platform_state`) only
//! after [`InboundSink::submit`] returned: a crash in between makes the next sync deliver the
//! same events again, and the inbox drops the duplicates by event id.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hermes_platform::backoff::{Backoff, restart_on_panic};
use hermes_platform::{InboundSink, MessageEvent, SubmitError};
use miniserde::json::Value;

use crate::api::{ApiError, SYNC_BODY_LIMIT, enc};
use crate::config::Auth;
use crate::connect::login;
use crate::inbound::{Intake, convert};
use crate::json::{array_at, bool_at, entries, obj, s, str_at};
use crate::state::Shared;

/// Timeline messages (clear and encrypted) and membership; no presence, account data,
/// receipts or typing.
pub(crate) const FILTER: &str = r#"{"presence":{"not_types":["*"]},"account_data":{"not_types":["*"]},"room":{"timeline":{"types":["m.room.message","m.room.encrypted","m.room.member"],"limit":50},"state":{"types":["m.room.member"],"lazy_load_members":true},"ephemeral":{"not_types":["*"]},"account_data":{"not_types":["*"]}}}"#;

/// How long a `since` that carried no events may stay unstored.
const CURSOR_IDLE_STORE: Duration = Duration::from_secs(60);

pub(crate) const ENCRYPTION_NOTICE: &str = "🔒 This room is end-to-end encrypted, and hermes-lite cannot read encrypted messages yet. Please talk to me in an unencrypted room or a direct chat without encryption.";

pub(crate) struct Syncer {
    pub shared: Arc<Shared>,
    /// Global timeout = sync timeout + 15 s, so a stalled sync is abandoned and rebuilt.
    pub sync_agent: ureq::Agent,
    pub sink: InboundSink,
    /// Store the cursor at the next sync even without events (a new login to persist).
    pub dirty: bool,
}

impl Syncer {
    pub fn run(mut self) {
        let pause = |s: &Self, wait| {
            s.shared.sleep(wait);
            !s.shared.stopped()
        };
        restart_on_panic(&mut self, "matrix: the sync loop", Self::sync_loop, pause);
    }

    fn since(&self) -> Option<String> {
        self.shared.stored.lock().unwrap_or_else(|e| e.into_inner()).since.clone()
    }

    fn sync_loop(&mut self) {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut last_store = Instant::now();
        while !self.shared.stopped() {
            let since = self.since();
            // The first sync after login only learns where "now" is: history is not ours.
            let timeout = if since.is_some() { self.shared.config.sync_timeout } else { Duration::ZERO };
            let batch = match self.sync(since.as_deref(), timeout) {
                Ok(batch) => batch,
                Err(e) if e.is_unknown_token() => {
                    if !self.relogin(&e) {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    let wait = match e.rate_limit() {
                        Some(wait) => {
                            log::warn!("matrix: /sync rate limited, waiting {} ms", wait.as_millis());
                            wait
                        }
                        None => {
                            let wait = backoff.next_delay();
                            log::warn!("matrix: /sync failed: {e}; retrying in {:.1} s", wait.as_secs_f32());
                            wait
                        }
                    };
                    self.shared.sleep(wait);
                    continue;
                }
            };
            self.shared.liveness.touch();
            backoff.reset();
            let Some(next) = str_at(&batch, &["next_batch"]).map(str::to_string) else {
                log::warn!("matrix: /sync answer without next_batch; retrying");
                self.shared.sleep(backoff.next_delay());
                continue;
            };
            self.handle_invites(&batch);
            let (events, encrypted) = if since.is_some() { self.intake(&batch) } else { (Vec::new(), Vec::new()) };
            if since.is_none() {
                log::info!("matrix: first sync: history skipped, listening from now on");
            }
            // A batch with nothing for the gateway (our own echoes while streaming, membership)
            // moves `since` in memory only; it is stored with the next events or every
            // CURSOR_IDLE_STORE. Replaying such a stretch after a crash delivers nothing new
            // (the inbox drops event ids it has).
            if events.is_empty() && encrypted.is_empty() && !self.dirty && since.is_some() {
                if since.as_deref() != Some(next.as_str()) && last_store.elapsed() < CURSOR_IDLE_STORE {
                    self.shared.stored.lock().unwrap_or_else(|e| e.into_inner()).since = Some(next);
                    continue;
                }
                if since.as_deref() == Some(next.as_str()) {
                    continue;
                }
            }
            let cursor = {
                let mut stored = self.shared.stored.lock().unwrap_or_else(|e| e.into_inner()).clone();
                stored.since = Some(next.clone());
                stored
            };
            if !self.submit(events, cursor.to_cursor()) {
                return;
            }
            *self.shared.stored.lock().unwrap_or_else(|e| e.into_inner()) = cursor;
            self.dirty = false;
            last_store = Instant::now();
            for room in encrypted {
                self.notice_encryption(&room);
            }
        }
    }

    fn sync(&self, since: Option<&str>, timeout: Duration) -> Result<Value, ApiError> {
        let mut query = format!("filter={}&timeout={}", enc(FILTER), timeout.as_millis());
        if let Some(since) = since {
            query.push_str(&format!("&since={}", enc(since)));
        }
        self.shared.api.call(&self.sync_agent, "GET", "/sync", &query, None, SYNC_BODY_LIMIT)
    }

    /// The access token stopped working: log in again with the password (same device), or stop
    /// for good with a clear message when the token came from the configuration.
    fn relogin(&mut self, error: &ApiError) -> bool {
        let config = &self.shared.config;
        let Auth::Password { .. } = &config.auth else {
            log::error!(
                "matrix: the homeserver rejected MATRIX_ACCESS_TOKEN ({error}); syncing stopped — set a valid token"
            );
            self.shared.fatal.store(true, Ordering::SeqCst);
            return false;
        };
        let device = self.shared.stored.lock().unwrap_or_else(|e| e.into_inner()).device_id.clone();
        match login(&self.shared.api, &self.shared.agent, config, device.as_deref()) {
            Ok(session) => {
                log::info!("matrix: logged in again (device {})", session.device_id);
                self.shared.api.set_token(&session.access_token);
                let mut stored = self.shared.stored.lock().unwrap_or_else(|e| e.into_inner());
                stored.access_token = Some(session.access_token);
                stored.device_id = Some(session.device_id);
                self.dirty = true;
                true
            }
            Err(e) if !e.retryable => {
                log::error!("matrix: {e}; syncing stopped");
                self.shared.fatal.store(true, Ordering::SeqCst);
                false
            }
            Err(e) => {
                log::warn!("matrix: {e}; retrying");
                self.shared.sleep(Duration::from_secs(5));
                true
            }
        }
    }

    /// Joins rooms that allowed users invited the bot to (P11); remembers `is_direct`.
    fn handle_invites(&self, batch: &Value) {
        let bot = &self.shared.bot.user_id;
        for (room_id, room) in entries(batch, &["rooms", "invite"]) {
            let mut inviter = None;
            let mut direct = false;
            for ev in array_at(room, &["invite_state", "events"]) {
                if str_at(ev, &["type"]) == Some("m.room.member")
                    && str_at(ev, &["state_key"]) == Some(bot.as_str())
                    && str_at(ev, &["content", "membership"]) == Some("invite")
                {
                    inviter = str_at(ev, &["sender"]).map(str::to_string);
                    direct = bool_at(ev, &["content", "is_direct"]).unwrap_or(false);
                }
            }
            let Some(inviter) = inviter else { continue };
            let config = &self.shared.config;
            if !config.may_invite(&inviter) && !config.allowed_rooms.iter().any(|r| r == room_id) {
                log::info!("matrix: ignoring an invite to {room_id} from {inviter} (not in MATRIX_ALLOWED_USERS)");
                continue;
            }
            if direct {
                self.shared.direct_rooms.lock().unwrap_or_else(|e| e.into_inner()).insert(room_id.to_string());
            }
            match self.shared.call_patiently("POST", &format!("/join/{}", enc(room_id)), Some(&obj([]))) {
                Ok(_) => log::info!("matrix: joined {room_id} (invited by {inviter})"),
                Err(e) => log::warn!("matrix: cannot join {room_id}: {e}"),
            }
        }
        for (room_id, _) in entries(batch, &["rooms", "leave"]) {
            self.shared.forget_room(room_id);
        }
    }

    /// The batch's timeline events as `MessageEvent`s, and the rooms with encrypted messages.
    fn intake(&self, batch: &Value) -> (Vec<MessageEvent>, Vec<String>) {
        let mut events = Vec::new();
        let mut encrypted = Vec::new();
        for (room_id, room) in entries(batch, &["rooms", "join"]) {
            let timeline = array_at(room, &["timeline", "events"]);
            let membership_changed = array_at(room, &["state", "events"])
                .iter()
                .chain(timeline)
                .any(|e| str_at(e, &["type"]) == Some("m.room.member"));
            if membership_changed {
                self.shared.forget_room(room_id);
            }
            if !timeline.iter().any(|e| str_at(e, &["type"]) != Some("m.room.member")) {
                continue;
            }
            let info = self.shared.room(room_id);
            let own = |id: &str| self.shared.is_own(id);
            for ev in timeline {
                let id = str_at(ev, &["event_id"]).unwrap_or("?");
                let result = catch_unwind(AssertUnwindSafe(|| {
                    convert(ev, room_id, &info, &self.shared.bot, &self.shared.config, &own)
                }));
                match result {
                    Ok(Intake::Event(event)) => events.push(*event),
                    Ok(Intake::Encrypted) => {
                        if !encrypted.iter().any(|r| r == room_id) {
                            encrypted.push(room_id.to_string());
                        }
                    }
                    Ok(Intake::Skip(why)) => {
                        if str_at(ev, &["type"]) == Some("m.room.message") {
                            log::debug!("matrix: {room_id} {id}: skipped ({why})");
                        }
                    }
                    Err(_) => log::warn!("matrix: skipped event {id}: converting it panicked"),
                }
            }
        }
        (events, encrypted)
    }

    fn submit(&self, events: Vec<MessageEvent>, cursor: String) -> bool {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        loop {
            match self.sink.submit(events.clone(), Some(cursor.clone())) {
                Ok(()) => return true,
                Err(SubmitError::Closed) => {
                    log::info!("matrix: the gateway stopped taking events; syncing ends");
                    return false;
                }
                Err(SubmitError::Journal(why)) => {
                    let wait = backoff.next_delay();
                    log::warn!("matrix: journaling a batch failed ({why}); retrying in {:.1} s", wait.as_secs_f32());
                    self.shared.sleep(wait);
                    if self.shared.stopped() {
                        return false;
                    }
                }
            }
        }
    }

    /// One notice per room (per run; the transaction id makes a resend after a restart with
    /// the same device a no-op at the homeserver for as long as it keeps transaction ids).
    fn notice_encryption(&self, room_id: &str) {
        if !self.shared.encryption_noticed.lock().unwrap_or_else(|e| e.into_inner()).insert(room_id.to_string()) {
            return;
        }
        let content = obj([("msgtype", s("m.notice")), ("body", s(ENCRYPTION_NOTICE))]);
        let txn = format!("e2ee-notice-{room_id}");
        let path = format!("/rooms/{}/send/m.room.message/{}", enc(room_id), enc(&txn));
        match self.shared.call_patiently("PUT", &path, Some(&content)) {
            Ok(v) => {
                if let Some(id) = str_at(&v, &["event_id"]) {
                    self.shared.remember_own(id);
                }
                log::info!("matrix: {room_id} is encrypted; told the room it is not supported");
            }
            Err(e) => log::warn!("matrix: cannot tell {room_id} that encryption is not supported: {e}"),
        }
    }
}
