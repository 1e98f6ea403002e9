//! Streaming an answer into a chat by editing messages (M35–M39).
//!
//! The first message appears once 4 characters are visible; then it is edited at most once per
//! `edit_interval`, and only when `buffer_threshold` new characters arrived or the segment
//! ended. A cursor marks it as unfinished. At the platform's length limit the message is
//! finalized and the text continues in a new one; a tool call ends the segment (M37).
//! Flood control: a rate limit is waited out; after three, editing stops and the rest of the
//! answer is sent as new messages holding only what is not visible yet (M38).
//!
//! Exactly once (M39): each message of a turn is an outbox row keyed `turn:<inbox>:<part>`. The
//! final text is delivered by editing what is already visible, never by sending it again; a
//! rerun of the same turn after a crash edits the messages of the earlier attempt.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hermes_platform::split::{split_head, split_message};
use hermes_platform::{Capabilities, SendError, SendOptions};
use smol::Timer;

use super::outlet::Outlet;
use super::postprocess::{could_be_silence, displayable, redact};
use crate::store::outbox::{OutboxRow, OutboxState};

/// Room kept free below the platform limit while streaming (cursor, escapes, redaction).
const STREAM_MARGIN: usize = 100;
/// Rate limits tolerated in one turn before editing stops (M38).
const MAX_FLOOD_STRIKES: u32 = 3;
/// Characters that must be visible before the first message is sent (M36).
const MIN_FIRST_CHARS: usize = 4;

/// Streaming settings for one platform.
#[derive(Clone, Debug)]
pub struct StreamSettings {
    /// Edit messages as text arrives; false = send the final answer only.
    pub enabled: bool,
    pub interval: Duration,
    pub threshold: usize,
    pub cursor: String,
}

/// The message currently being edited.
struct Live {
    part: usize,
    row_id: i64,
    message_id: String,
    /// Visible text without the cursor.
    shown: String,
}

/// Delivers one turn's answer, streamed or whole.
pub struct ReplyStream {
    outlet: Outlet,
    prefix: String,
    settings: StreamSettings,
    caps: Capabilities,
    secrets: Rc<Vec<String>>,
    /// Raw text of the current segment since the current message started.
    segment: String,
    /// Every delta of the current segment, including what overflow already finalized.
    streamed: String,
    live: Option<Live>,
    next_part: usize,
    last_edit: Instant,
    flood_strikes: u32,
    editing_off: bool,
    /// Sent messages of an earlier attempt of this turn, by part.
    previous: BTreeMap<usize, OutboxRow>,
}

impl ReplyStream {
    /// `prefix` is the turn's idempotency prefix (`turn:<inbox id>:`).
    /// `earlier` are the outbox rows under `prefix` (an earlier attempt's messages), read by the
    /// caller in the transaction that starts the turn.
    pub fn new(
        outlet: Outlet,
        prefix: String,
        settings: StreamSettings,
        secrets: Rc<Vec<String>>,
        earlier: Vec<OutboxRow>,
    ) -> ReplyStream {
        let caps = outlet.adapter.capabilities().clone();
        let previous = earlier
            .into_iter()
            .filter_map(|r| r.idem_key[prefix.len()..].parse::<usize>().ok().map(|part| (part, r)))
            .filter(|(_, r)| r.state == OutboxState::Sent && r.platform_message_id.is_some())
            .collect();
        let enabled = settings.enabled && caps.can_edit;
        let mut settings = settings;
        settings.enabled = enabled;
        if !caps.streaming_cursor {
            settings.cursor.clear();
        }
        ReplyStream {
            outlet,
            prefix,
            settings,
            caps,
            secrets,
            segment: String::new(),
            streamed: String::new(),
            live: None,
            next_part: 0,
            last_edit: Instant::now(),
            flood_strikes: 0,
            editing_off: false,
            previous,
        }
    }

    /// New answer text from the model.
    pub async fn push(&mut self, delta: &str) {
        self.segment.push_str(delta);
        self.streamed.push_str(delta);
        if self.settings.enabled {
            self.update(false).await;
        }
    }

    /// When the next throttled edit is due, if one is waiting.
    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.settings.enabled || self.editing_off {
            return None;
        }
        let live = self.live.as_ref()?;
        let pending = self.segment.chars().count().saturating_sub(live.shown.chars().count());
        (pending >= self.settings.threshold).then(|| self.last_edit + self.settings.interval)
    }

    pub async fn tick(&mut self) {
        if self.settings.enabled {
            self.update(false).await;
        }
    }

    /// A tool call: what was streamed so far is final; later text starts a new message.
    pub async fn end_segment(&mut self) {
        let text = std::mem::take(&mut self.segment);
        self.streamed.clear();
        self.close_segment(&text).await;
    }

    /// A line that is not part of the answer (a fallback took over): its own message, after
    /// whatever was streamed so far.
    pub async fn notice(&mut self, text: &str) {
        self.end_segment().await;
        self.close_segment(text).await;
    }

    /// The turn's final answer (already post-processed). Edits what is visible into it and
    /// sends what does not fit; sends it whole when nothing was streamed.
    pub async fn finish(&mut self, final_text: &str) {
        let streamed = std::mem::take(&mut self.streamed);
        let rest = std::mem::take(&mut self.segment);
        let flushed = streamed.len() > rest.len();
        let text = if !flushed {
            final_text.to_string()
        } else if redact(streamed.trim_end(), &self.secrets) == final_text.trim_end() {
            // Earlier parts were finalized at the length limit; only the rest is left.
            redact(&rest, &self.secrets)
        } else {
            log::warn!("the final answer differs from what was streamed; sending its unstreamed part as is");
            redact(&rest, &self.secrets)
        };
        self.close_segment(&text).await;
        self.drop_leftovers().await;
    }

    /// The turn was interrupted: leave what is visible, without the cursor.
    pub async fn abandon(&mut self) {
        self.streamed.clear();
        if let Some(live) = self.live.take()
            && !self.settings.cursor.is_empty()
            && !self.editing_off
        {
            let _ = self.outlet.edit(live.row_id, &live.message_id, &live.shown).await;
        }
        self.segment.clear();
    }

    /// Shows the current segment if the rules say so (M36).
    async fn update(&mut self, force: bool) {
        if self.editing_off {
            return;
        }
        self.handle_overflow().await;
        if self.live.is_none() && could_be_silence(&self.segment) {
            return;
        }
        let visible = displayable(&self.segment, &self.secrets);
        match &self.live {
            None => {
                if visible.chars().count() >= MIN_FIRST_CHARS {
                    let with_cursor = format!("{visible}{}", self.settings.cursor);
                    if let Some(live) = self.open(&with_cursor, &visible).await {
                        self.live = Some(live);
                    }
                }
            }
            Some(live) => {
                let new_chars = visible.chars().count().saturating_sub(live.shown.chars().count());
                let due = self.last_edit.elapsed() >= self.settings.interval && new_chars >= self.settings.threshold;
                if (force || due) && visible != live.shown {
                    let with_cursor = format!("{visible}{}", self.settings.cursor);
                    self.show(&with_cursor, &visible).await;
                }
            }
        }
    }

    /// At the length limit, the current message is finalized and the text continues below.
    async fn handle_overflow(&mut self) {
        let budget =
            self.caps.max_message_len.saturating_sub(self.caps.measure(&self.settings.cursor) + STREAM_MARGIN).max(64);
        while self.caps.measure(&self.segment) > budget {
            let (head, rest) = split_head(&self.segment, budget, self.caps.len_unit);
            if head.is_empty() {
                break;
            }
            let head = redact(&head, &self.secrets);
            self.put_final(&head).await;
            self.segment = rest;
        }
    }

    /// Makes `text` the final content of the current message, or a new message when none is live.
    async fn put_final(&mut self, text: &str) {
        match self.live.take() {
            Some(live) => {
                if !self.edit_with_retry(&live, text).await {
                    self.editing_off = true;
                    self.send_continuation(&live.shown, text).await;
                }
            }
            None => {
                let _ = self.open(text, text).await;
            }
        }
    }

    async fn close_segment(&mut self, raw: &str) {
        let text = redact(raw.trim_end(), &self.secrets);
        let limit = self.caps.max_message_len;
        match self.live.take() {
            Some(live) if !self.editing_off => {
                let (head, rest) = split_head(&text, limit, self.caps.len_unit);
                if self.edit_with_retry(&live, &head).await {
                    self.send_pieces(&rest).await;
                } else {
                    self.editing_off = true;
                    self.send_continuation(&live.shown, &text).await;
                }
            }
            Some(live) => self.send_continuation(&live.shown, &text).await,
            None => {
                if text.trim().is_empty() {
                    return;
                }
                for part in split_message(&text, limit, self.caps.len_unit) {
                    let _ = self.open(&part, &part).await;
                }
            }
        }
    }

    /// Flood fallback (M38): only what is not visible yet goes out, as new messages.
    async fn send_continuation(&mut self, shown: &str, full: &str) {
        let rest = match full.strip_prefix(shown) {
            Some(rest) => rest.trim_start(),
            None if shown.is_empty() => full,
            None => {
                log::warn!("streamed text and final answer differ; sending the whole answer below");
                full
            }
        };
        self.send_pieces(rest).await;
    }

    /// Sends `text` as new messages of at most the platform limit each (no numbering: they
    /// continue a message already visible).
    async fn send_pieces(&mut self, text: &str) {
        let mut rest = text.trim().to_string();
        while !rest.is_empty() {
            let (head, tail) = split_head(&rest, self.caps.max_message_len, self.caps.len_unit);
            if head.is_empty() {
                break;
            }
            let _ = self.open(&head, &head).await;
            rest = tail.trim_start().to_string();
        }
    }

    /// Puts `text` into the turn's next message: edits the same part of an earlier attempt if
    /// there is one, else sends. `shown` is `text` without the cursor.
    async fn open(&mut self, text: &str, shown: &str) -> Option<Live> {
        let part = self.next_part;
        self.next_part += 1;
        if let Some(row) = self.previous.remove(&part) {
            let message_id = row.platform_message_id.unwrap_or_default();
            let mut live = Live { part, row_id: row.id, message_id, shown: String::new() };
            if self.edit_with_retry(&live, text).await {
                self.last_edit = Instant::now();
                live.shown = shown.to_string();
                return Some(live);
            }
        }
        let key = format!("{}{part}", self.prefix);
        let opts = SendOptions { reply_to: self.outlet.reply_to.clone(), continuation: part > 0, ..Default::default() };
        match self.outlet.send_row(&key, text, opts).await {
            Ok((row_id, message_id)) => {
                self.last_edit = Instant::now();
                Some(Live { part, row_id, message_id, shown: shown.to_string() })
            }
            Err(e) => {
                log::warn!("{}: streamed message not sent: {e}", self.outlet.platform());
                self.editing_off = true;
                None
            }
        }
    }

    /// One streaming edit; rate limits count as strikes (M38).
    async fn show(&mut self, with_cursor: &str, shown: &str) {
        let Some(live) = &self.live else { return };
        match self.outlet.edit(live.row_id, &live.message_id, with_cursor).await {
            Ok(()) => {
                if let Some(live) = &mut self.live {
                    live.shown = shown.to_string();
                }
                self.last_edit = Instant::now();
            }
            Err(SendError::RateLimited { retry_after }) => {
                self.flood_strikes += 1;
                log::warn!(
                    "{}: edit rate-limited ({} of {MAX_FLOOD_STRIKES})",
                    self.outlet.platform(),
                    self.flood_strikes
                );
                if self.flood_strikes >= MAX_FLOOD_STRIKES {
                    self.editing_off = true;
                } else {
                    Timer::after(retry_after.min(Duration::from_secs(30))).await;
                    self.last_edit = Instant::now();
                }
            }
            Err(e) => {
                log::warn!("{}: streaming edit failed ({e}); the rest comes as new messages", self.outlet.platform());
                self.editing_off = true;
            }
        }
    }

    /// A final edit, waiting out rate limits while strikes remain. False when it cannot be done.
    async fn edit_with_retry(&mut self, live: &Live, text: &str) -> bool {
        loop {
            match self.outlet.edit(live.row_id, &live.message_id, text).await {
                Ok(()) => return true,
                Err(SendError::RateLimited { retry_after }) if self.flood_strikes < MAX_FLOOD_STRIKES => {
                    self.flood_strikes += 1;
                    Timer::after(retry_after.min(Duration::from_secs(30))).await;
                }
                Err(e) => {
                    log::warn!("{}: final edit of part {} failed: {e}", self.outlet.platform(), live.part);
                    return false;
                }
            }
        }
    }

    /// Messages of an earlier attempt beyond what this answer needed are removed.
    async fn drop_leftovers(&mut self) {
        let leftovers: Vec<OutboxRow> = std::mem::take(&mut self.previous).into_values().collect();
        for row in leftovers {
            if let Some(id) = &row.platform_message_id {
                self.outlet.delete(row.id, id).await;
            }
        }
    }
}
