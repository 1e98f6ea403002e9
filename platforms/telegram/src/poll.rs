//! The long-poll thread: `getUpdates`, journal, and only then move the offset (P6, P7).
//!
//! The offset sent to Telegram is what confirms updates there, so it moves only after
//! [`InboundSink::submit`] returned: a crash between poll and journal makes Telegram deliver
//! the same updates again, and the inbox drops the duplicates by update id.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hermes_platform::backoff::{Backoff, restart_on_panic};
use hermes_platform::{InboundSink, Liveness, MessageEvent, SubmitError};
use miniserde::json::Value;

use crate::api::{Api, ApiError, POLL_BODY_LIMIT, SHORT_BODY_LIMIT};
use crate::config::TelegramConfig;
use crate::inbound::{BotIdentity, convert};
use crate::media::Downloader;
use crate::wire::{Body, Update, raw_update_id, strings};

/// Shared between the poll thread and the adapter.
#[derive(Clone, Default)]
pub(crate) struct PollState {
    /// Set by `Adapter::stop`; checked between polls and during waits.
    pub stop: Arc<AtomicBool>,
    /// Set when Telegram rejected the token mid-run: the thread ended for good.
    pub fatal: Arc<AtomicBool>,
    pub liveness: Liveness,
}

pub(crate) struct Poller {
    pub api: Api,
    /// Global timeout = poll timeout + 15 s, so a stalled poll is abandoned and rebuilt.
    pub poll_agent: ureq::Agent,
    pub short_agent: ureq::Agent,
    pub config: TelegramConfig,
    pub bot: BotIdentity,
    pub sink: InboundSink,
    pub state: PollState,
    /// The next `offset` for `getUpdates` (last journaled update id + 1).
    pub offset: Option<i64>,
    pub downloader: Downloader,
}

impl Poller {
    /// Polls until stopped, the gateway closes, or the token is rejected. A panic inside the
    /// loop is logged and the loop restarts from the last journaled offset after a pause (P4).
    pub fn run(mut self) {
        let pause = |p: &Self, wait| {
            p.sleep(wait);
            !p.stopped()
        };
        restart_on_panic(&mut self, "telegram: the poll loop", Self::poll_loop, pause);
    }

    fn poll_loop(&mut self) {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut warned_conflict = false;
        while !self.stopped() {
            let updates = match self.get_updates() {
                Ok(updates) => updates,
                Err(error) => {
                    let wait = match &error {
                        ApiError::Status { code: 401 | 404, description, .. } => {
                            log::error!(
                                "telegram: the Bot API rejected the token ({description}); polling stopped — check TELEGRAM_BOT_TOKEN"
                            );
                            self.state.fatal.store(true, Ordering::SeqCst);
                            return;
                        }
                        ApiError::Status { code: 429, retry_after, .. } => {
                            let wait = retry_after.unwrap_or(Duration::from_secs(5));
                            log::warn!("telegram: getUpdates rate limited, waiting {} s", wait.as_secs());
                            wait
                        }
                        ApiError::Status { code: 409, description, .. } => {
                            if !warned_conflict {
                                log::warn!(
                                    "telegram: getUpdates conflict ({description}): another poller or a webhook uses this token; retrying"
                                );
                                warned_conflict = true;
                            }
                            backoff.next_delay()
                        }
                        other => {
                            let wait = backoff.next_delay();
                            log::warn!("telegram: getUpdates failed: {other}; retrying in {:.1} s", wait.as_secs_f32());
                            wait
                        }
                    };
                    self.sleep(wait);
                    continue;
                }
            };
            self.state.liveness.touch();
            backoff.reset();
            warned_conflict = false;
            if updates.is_empty() {
                continue;
            }
            let (events, callbacks, next_offset) = self.intake(&updates);
            if !self.submit(events, next_offset) {
                return;
            }
            self.offset = Some(next_offset);
            for id in callbacks {
                self.answer_callback(&id);
            }
        }
    }

    fn stopped(&self) -> bool {
        self.state.stop.load(Ordering::SeqCst)
    }

    fn get_updates(&self) -> Result<Vec<Value>, ApiError> {
        let mut body = Body::new()
            .int("timeout", self.config.poll_timeout.as_secs() as i64)
            .value("allowed_updates", strings(["message", "edited_message", "callback_query", "message_reaction"]));
        if let Some(offset) = self.offset {
            body = body.int("offset", offset);
        }
        self.api.call(&self.poll_agent, "getUpdates", &body, POLL_BODY_LIMIT)
    }

    /// Converts a batch; returns the events, the callback ids to answer and the next offset.
    /// A malformed update (or one whose conversion panics) is logged and skipped.
    fn intake(&self, updates: &[Value]) -> (Vec<MessageEvent>, Vec<String>, i64) {
        let mut events = Vec::new();
        let mut callbacks = Vec::new();
        let mut next = self.offset.unwrap_or(0);
        for raw in updates {
            let Some(update_id) = raw_update_id(raw) else {
                log::warn!("telegram: skipped an update without a numeric update_id");
                continue;
            };
            next = next.max(update_id + 1);
            let json = miniserde::json::to_string(raw);
            let update: Update = match miniserde::json::from_str(&json) {
                Ok(update) => update,
                Err(_) => {
                    log::warn!("telegram: skipped update {update_id}: it does not have the documented shape");
                    continue;
                }
            };
            match catch_unwind(AssertUnwindSafe(|| convert(&update, &self.bot, &self.config))) {
                Ok(Ok(intake)) => {
                    callbacks.extend(intake.callback_id);
                    let Some(mut event) = intake.event else {
                        continue;
                    };
                    for (n, file) in intake.files.iter().enumerate() {
                        match self.downloader.fetch(update_id, n, file) {
                            Ok(media) => event.media.push(media),
                            Err(why) => log::warn!("telegram: update {update_id}: attachment not downloaded: {why}"),
                        }
                    }
                    events.push(event);
                }
                Ok(Err(why)) => log::warn!("telegram: skipped update {update_id}: {why}"),
                Err(_) => {
                    log::warn!("telegram: skipped update {update_id}: converting it panicked")
                }
            }
        }
        (events, callbacks, next)
    }

    /// Journals the batch with its cursor, retrying journal failures. False when the gateway
    /// is stopping (or `stop` was called while waiting).
    fn submit(&self, events: Vec<MessageEvent>, next_offset: i64) -> bool {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        loop {
            match self.sink.submit(events.clone(), Some(next_offset.to_string())) {
                Ok(()) => return true,
                Err(SubmitError::Closed) => {
                    log::info!("telegram: the gateway stopped taking events; polling ends");
                    return false;
                }
                Err(SubmitError::Journal(why)) => {
                    let wait = backoff.next_delay();
                    log::warn!("telegram: journaling a batch failed ({why}); retrying in {:.1} s", wait.as_secs_f32());
                    self.sleep(wait);
                    if self.stopped() {
                        return false;
                    }
                }
            }
        }
    }

    /// `answerCallbackQuery` stops the button's spinner; failures only cost cosmetics.
    fn answer_callback(&self, id: &str) {
        let body = Body::new().str("callback_query_id", id);
        if let Err(e) = self.api.call_raw(&self.short_agent, "answerCallbackQuery", &body, SHORT_BODY_LIMIT) {
            log::debug!("telegram: answerCallbackQuery failed: {e}");
        }
    }

    /// Sleeps up to `wait`, waking early when `stop` is set.
    fn sleep(&self, wait: Duration) {
        let until = Instant::now() + wait;
        while !self.stopped() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
}
