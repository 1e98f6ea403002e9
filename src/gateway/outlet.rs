//! Delivery to one chat through the outbox (M29, M32).
//!
//! Every message is first an outbox row under an idempotency key; a key that was already sent
//! is never sent again (after a crash, or when a turn is rerun), and edits of a streamed message
//! update that same row. Platform calls run on the blocking pool with the retry rules of M32:
//! network errors retried twice with backoff, `retry_after` honoured, and never a blind retry
//! when the platform may already have the message.

use std::sync::Arc;
use std::time::Duration;

use hermes_platform::backoff::delivery_retry_delay;
use hermes_platform::{Adapter, ChatRef, SendError, SendOptions};
use smol::Timer;

use super::texts;
use crate::runtime;
use crate::store::outbox::{self, NewOutbox, OutboxState};
use crate::store::{self, Store};

/// Network retries after the first attempt (M32).
const NETWORK_RETRIES: u32 = 2;
/// Rate-limit waits honoured per message before giving up.
const RATE_LIMIT_WAITS: u32 = 3;
/// The longest `retry_after` we sleep on.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// One chat, reached through one platform adapter.
#[derive(Clone)]
pub struct Outlet {
    pub store: Store,
    pub adapter: Arc<dyn Adapter>,
    pub chat: ChatRef,
    pub session_id: Option<String>,
    /// The platform message the reply answers (the adapter applies its reply mode).
    pub reply_to: Option<String>,
}

impl Outlet {
    pub fn platform(&self) -> &str {
        self.adapter.platform()
    }

    /// An outbox row for a text message to this chat.
    fn new_row(&self, idem_key: &str, body: &str, reply_to: Option<String>) -> NewOutbox {
        NewOutbox {
            idem_key: idem_key.to_string(),
            session_id: self.session_id.clone(),
            platform: self.platform().to_string(),
            chat_id: self.chat.chat_id.clone(),
            thread_id: self.chat.thread_id.clone(),
            reply_to,
            kind: "text".into(),
            body: body.to_string(),
        }
    }

    /// Sends `text` as one message under `idem_key`, unless that key was already sent (then its
    /// message id is returned and nothing is sent). Returns the platform message id.
    pub async fn send(&self, idem_key: &str, text: &str, opts: SendOptions) -> Result<String, SendError> {
        self.send_row(idem_key, text, opts).await.map(|(_, id)| id)
    }

    /// [`Outlet::send`], also returning the outbox row id (for later edits of the message).
    pub async fn send_row(&self, idem_key: &str, text: &str, opts: SendOptions) -> Result<(i64, String), SendError> {
        let new = self.new_row(idem_key, text, opts.reply_to.clone());
        let body = text.to_string();
        // One transaction: the row, its body and the first attempt.
        let row = self
            .store
            .call(move |tx| {
                let row = outbox::insert_or_get(tx, &new, store::now())?;
                if row.state != OutboxState::Sent {
                    if row.body != body {
                        outbox::set_pending_body(tx, row.id, &body, store::now())?;
                    }
                    outbox::note_attempt(tx, row.id, store::now())?;
                }
                Ok(row)
            })
            .await
            .map_err(|e| SendError::Fatal(format!("outbox: {e}")))?;
        if row.state == OutboxState::Sent {
            let id = row.platform_message_id.ok_or_else(|| SendError::Fatal("sent row without id".into()))?;
            return Ok((row.id, id));
        }
        self.deliver(row.id, idem_key, text, opts, true).await.map(|id| (row.id, id))
    }

    /// Sends a pending outbox row found at startup (M29), once.
    pub async fn resend(
        &self,
        row_id: i64,
        idem_key: &str,
        text: &str,
        opts: SendOptions,
    ) -> Result<String, SendError> {
        self.deliver(row_id, idem_key, text, opts, false).await
    }

    /// `noted`: the first attempt is already counted on the row.
    async fn deliver(
        &self,
        row_id: i64,
        idem_key: &str,
        text: &str,
        opts: SendOptions,
        noted: bool,
    ) -> Result<String, SendError> {
        let mut network_failures = 0;
        let mut rate_waits = 0;
        let mut noted = noted;
        let mut opts = opts;
        opts.idempotency_key = Some(idem_key.to_string());
        loop {
            if !std::mem::take(&mut noted) {
                let _ = self.store.call(move |tx| outbox::note_attempt(tx, row_id, store::now())).await;
            }
            let adapter = self.adapter.clone();
            let chat = self.chat.clone();
            let body = text.to_string();
            let o = opts.clone();
            let result = runtime::blocking(move || adapter.send_text(&chat, &body, &o)).await;
            match result {
                Ok(message_id) => {
                    let (id, body) = (message_id.clone(), text.to_string());
                    if let Err(e) =
                        self.store.call(move |tx| outbox::mark_sent(tx, row_id, &id, &body, store::now())).await
                    {
                        log::error!("outbox {idem_key}: sent but not recorded: {e}");
                    }
                    return Ok(message_id);
                }
                Err(SendError::RateLimited { retry_after }) if rate_waits < RATE_LIMIT_WAITS => {
                    rate_waits += 1;
                    Timer::after(retry_after.min(MAX_RETRY_AFTER)).await;
                }
                Err(e) if e.is_retryable() && network_failures < NETWORK_RETRIES => {
                    network_failures += 1;
                    log::warn!("{}: send failed ({e}); retry {network_failures}/{NETWORK_RETRIES}", self.platform());
                    Timer::after(delivery_retry_delay(network_failures)).await;
                }
                Err(e) => {
                    let why = e.to_string();
                    let _ = self
                        .store
                        .call(move |tx| outbox::mark_final(tx, row_id, OutboxState::Failed, Some(&why), store::now()))
                        .await;
                    log::error!(
                        "{} chat {}: message {idem_key} not delivered: {e}",
                        self.platform(),
                        self.chat.chat_id
                    );
                    if e.is_retryable() {
                        self.tell_delivery_failed(idem_key).await;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// After retries ran out on a network error, say so once (GC §1.11 item 10).
    async fn tell_delivery_failed(&self, idem_key: &str) {
        if idem_key.ends_with(":delivery-failed") {
            return;
        }
        let key = format!("{idem_key}:delivery-failed");
        let adapter = self.adapter.clone();
        let chat = self.chat.clone();
        let new = self.new_row(&key, texts::DELIVERY_FAILED, None);
        let Ok(row) = self.store.call(move |tx| outbox::insert_or_get(tx, &new, store::now())).await else { return };
        if row.state == OutboxState::Sent {
            return;
        }
        let opts = SendOptions { plain: true, idempotency_key: Some(key.clone()), ..Default::default() };
        let sent = runtime::blocking(move || adapter.send_text(&chat, texts::DELIVERY_FAILED, &opts)).await;
        let state = if sent.is_ok() { OutboxState::Sent } else { OutboxState::Failed };
        let id = sent.ok();
        let _ = self
            .store
            .call(move |tx| match id {
                Some(id) => outbox::mark_sent(tx, row.id, &id, texts::DELIVERY_FAILED, store::now()),
                None => outbox::mark_final(tx, row.id, state, Some("delivery-failure notice failed"), store::now()),
            })
            .await;
    }

    /// Replaces the text of a sent message and records it on its row. "Not modified" is success
    /// (the adapter maps it); rate limits are returned for the caller to handle.
    pub async fn edit(&self, row_id: i64, message_id: &str, text: &str) -> Result<(), SendError> {
        let adapter = self.adapter.clone();
        let chat = self.chat.clone();
        let (id, body) = (message_id.to_string(), text.to_string());
        runtime::blocking(move || adapter.edit_text(&chat, &id, &body, false)).await?;
        let body = text.to_string();
        if let Err(e) = self.store.call(move |tx| outbox::set_body(tx, row_id, &body, store::now())).await {
            log::warn!("outbox row {row_id}: edit not recorded: {e}");
        }
        Ok(())
    }

    /// Deletes a message this bot sent (leftovers of a rerun) and marks its row dropped.
    pub async fn delete(&self, row_id: i64, message_id: &str) {
        if self.adapter.capabilities().can_delete {
            let adapter = self.adapter.clone();
            let chat = self.chat.clone();
            let id = message_id.to_string();
            if let Err(e) = runtime::blocking(move || adapter.delete(&chat, &id)).await {
                log::warn!("{}: could not delete message {message_id}: {e}", self.platform());
            }
        }
        let _ = self
            .store
            .call(move |tx| outbox::mark_final(tx, row_id, OutboxState::Dropped, Some("replaced"), store::now()))
            .await;
    }

    /// Shows "typing…" once; failures only matter to the log.
    pub async fn typing(&self) {
        let adapter = self.adapter.clone();
        let chat = self.chat.clone();
        if let Err(e) = runtime::blocking(move || adapter.typing(&chat)).await {
            log::debug!("typing indicator failed: {e}");
        }
    }
}
