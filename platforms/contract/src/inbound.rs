//! The inbound half of a platform: handing events to the gateway, journal first.
//!
//! A platform collects the events of one poll (or one webhook request) and calls
//! [`InboundSink::submit`] with them and its new cursor. `submit` blocks until the gateway has
//! written every event to its inbox and stored the cursor, in one transaction. Only then does
//! the platform commit anything to the remote side (Telegram: the next `getUpdates` offset; a
//! webhook: the HTTP 200). A crash at any point therefore loses nothing: either the events are
//! in the inbox, or the platform will deliver them again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::event::MessageEvent;

/// One batch on its way to the journal.
pub struct InboundBatch {
    pub platform: String,
    pub events: Vec<MessageEvent>,
    /// The cursor to store with the events (poll offset, sync token), if the platform has one.
    pub cursor: Option<String>,
    pub ack: Ack,
}

/// The gateway's answer to one batch. Dropping it unanswered counts as a failure.
pub struct Ack(mpsc::SyncSender<Result<(), String>>);

impl Ack {
    /// Every event of the batch and its cursor are durable.
    pub fn journaled(self) {
        let _ = self.0.send(Ok(()));
    }

    /// Journaling failed (disk full, ...); the platform must deliver the batch again later.
    pub fn failed(self, why: String) {
        let _ = self.0.send(Err(why));
    }
}

/// Why [`InboundSink::submit`] did not journal the batch.
#[derive(Debug, Clone, PartialEq)]
pub enum SubmitError {
    /// The gateway is stopping; the platform thread should end.
    Closed,
    /// The journal write failed; keep the cursor and try again after a pause.
    Journal(String),
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubmitError::Closed => write!(f, "gateway stopping"),
            SubmitError::Journal(why) => write!(f, "journal write failed: {why}"),
        }
    }
}

/// Where a platform delivers its events. Cheap to clone.
#[derive(Clone)]
pub struct InboundSink {
    platform: String,
    tx: async_channel::Sender<InboundBatch>,
}

impl InboundSink {
    pub fn new(platform: impl Into<String>, tx: async_channel::Sender<InboundBatch>) -> Self {
        InboundSink { platform: platform.into(), tx }
    }

    /// Hands a batch to the gateway and blocks until it is journaled. Call it from the
    /// platform's own thread, never from async code. An empty batch with a cursor is fine (it
    /// stores the cursor alone, e.g. after updates the platform filtered out).
    pub fn submit(&self, events: Vec<MessageEvent>, cursor: Option<String>) -> Result<(), SubmitError> {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        let batch = InboundBatch { platform: self.platform.clone(), events, cursor, ack: Ack(ack_tx) };
        self.tx.send_blocking(batch).map_err(|_| SubmitError::Closed)?;
        match ack_rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(SubmitError::Journal(why)),
            Err(_) => Err(SubmitError::Closed),
        }
    }

    /// True once the gateway stopped listening.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// When a platform was last heard from. Shared between the platform thread (which touches it
/// after each successful poll or frame) and the gateway (status, watchdog).
#[derive(Clone, Debug, Default)]
pub struct Liveness(Arc<AtomicU64>);

impl Liveness {
    pub fn new() -> Self {
        Liveness::default()
    }

    /// Records "heard from the platform just now".
    pub fn touch(&self) {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        self.0.store(ms, Ordering::Relaxed);
    }

    /// The last time [`Liveness::touch`] was called, if ever.
    pub fn last(&self) -> Option<SystemTime> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_returns_after_the_ack() {
        let (tx, rx) = async_channel::bounded(1);
        let sink = InboundSink::new("telegram", tx);
        let journal = std::thread::spawn(move || {
            let batch = rx.recv_blocking().unwrap();
            assert_eq!(batch.cursor.as_deref(), Some("5"));
            batch.ack.journaled();
            let batch = rx.recv_blocking().unwrap();
            batch.ack.failed("disk full".into());
            let batch = rx.recv_blocking().unwrap();
            drop(batch.ack);
        });
        assert_eq!(sink.submit(Vec::new(), Some("5".into())), Ok(()));
        assert_eq!(sink.submit(Vec::new(), None), Err(SubmitError::Journal("disk full".into())));
        assert_eq!(sink.submit(Vec::new(), None), Err(SubmitError::Closed));
        journal.join().unwrap();
        assert_eq!(sink.submit(Vec::new(), None), Err(SubmitError::Closed));
    }

    #[test]
    fn liveness_starts_unknown() {
        let live = Liveness::new();
        assert!(live.last().is_none());
        live.touch();
        assert!(live.last().is_some());
    }
}
