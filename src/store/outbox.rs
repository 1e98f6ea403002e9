//! `outbox`: every outgoing message is first a row here, keyed by an idempotency key derived
//! from (session, turn, part). A row is `pending` until the platform confirms it (`sent`, with
//! the platform's message id), so a crash never sends a `sent` row twice; edits of a streamed
//! message update the same row. Rows left `pending` are sent once after a restart, or dropped
//! when too old (M29).

use rusqlite::{OptionalExtension, Row, Transaction, params};

/// Where an outbox row is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxState {
    Pending,
    Sent,
    Failed,
    Dropped,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
            OutboxState::Dropped => "dropped",
        }
    }

    fn parse(text: &str) -> OutboxState {
        match text {
            "sent" => OutboxState::Sent,
            "failed" => OutboxState::Failed,
            "dropped" => OutboxState::Dropped,
            _ => OutboxState::Pending,
        }
    }
}

/// One outgoing message.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub idem_key: String,
    pub session_id: Option<String>,
    pub platform: String,
    pub chat_id: String,
    pub thread_id: Option<String>,
    pub reply_to: Option<String>,
    pub kind: String,
    pub body: String,
    pub state: OutboxState,
    pub platform_message_id: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: f64,
}

/// A message about to be sent.
#[derive(Clone, Debug, Default)]
pub struct NewOutbox {
    pub idem_key: String,
    pub session_id: Option<String>,
    pub platform: String,
    pub chat_id: String,
    pub thread_id: Option<String>,
    pub reply_to: Option<String>,
    /// `text` or `media`.
    pub kind: String,
    pub body: String,
}

const COLUMNS: &str = "id, idem_key, session_id, platform, chat_id, thread_id, reply_to, kind, body, state, \
     platform_message_id, attempts, last_error, created_at";

fn from_row(r: &Row) -> rusqlite::Result<OutboxRow> {
    let state: String = r.get(9)?;
    Ok(OutboxRow {
        id: r.get(0)?,
        idem_key: r.get(1)?,
        session_id: r.get(2)?,
        platform: r.get(3)?,
        chat_id: r.get(4)?,
        thread_id: r.get(5)?,
        reply_to: r.get(6)?,
        kind: r.get(7)?,
        body: r.get(8)?,
        state: OutboxState::parse(&state),
        platform_message_id: r.get(10)?,
        attempts: r.get(11)?,
        last_error: r.get(12)?,
        created_at: r.get(13)?,
    })
}

pub fn by_key(tx: &Transaction, idem_key: &str) -> rusqlite::Result<Option<OutboxRow>> {
    tx.query_row(&format!("SELECT {COLUMNS} FROM outbox WHERE idem_key = ?1"), [idem_key], from_row).optional()
}

/// Inserts a pending row, or returns the row already stored under that key (whatever its
/// state): the caller decides from its state whether anything is left to send.
pub fn insert_or_get(tx: &Transaction, new: &NewOutbox, now: f64) -> rusqlite::Result<OutboxRow> {
    tx.execute(
        "INSERT OR IGNORE INTO outbox(idem_key, session_id, platform, chat_id, thread_id, reply_to, kind, body, \
         created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        params![
            new.idem_key,
            new.session_id,
            new.platform,
            new.chat_id,
            new.thread_id,
            new.reply_to,
            new.kind,
            new.body,
            now
        ],
    )?;
    by_key(tx, &new.idem_key)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// Counts an attempt to send (before the platform is called).
pub fn note_attempt(tx: &Transaction, id: i64, now: f64) -> rusqlite::Result<()> {
    tx.execute("UPDATE outbox SET attempts = attempts + 1, updated_at = ?2 WHERE id = ?1", params![id, now])?;
    Ok(())
}

/// The platform confirmed the message; `body` is what it now shows.
pub fn mark_sent(tx: &Transaction, id: i64, platform_message_id: &str, body: &str, now: f64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE outbox SET state = 'sent', platform_message_id = ?2, body = ?3, last_error = NULL, updated_at = ?4 \
         WHERE id = ?1",
        params![id, platform_message_id, body, now],
    )?;
    Ok(())
}

/// Records the text an edit made visible (the row stays `sent`).
pub fn set_body(tx: &Transaction, id: i64, body: &str, now: f64) -> rusqlite::Result<()> {
    tx.execute("UPDATE outbox SET body = ?2, updated_at = ?3 WHERE id = ?1", params![id, body, now])?;
    Ok(())
}

/// Replaces the text a pending row will send (a rerun of an interrupted turn).
pub fn set_pending_body(tx: &Transaction, id: i64, body: &str, now: f64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE outbox SET body = ?2, updated_at = ?3 WHERE id = ?1 AND state = 'pending'",
        params![id, body, now],
    )?;
    Ok(())
}

pub fn mark_final(
    tx: &Transaction,
    id: i64,
    state: OutboxState,
    error: Option<&str>,
    now: f64,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE outbox SET state = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, state.as_str(), error, now],
    )?;
    Ok(())
}

/// The rows whose idempotency key starts with `prefix` (all parts of one turn), by key order.
pub fn with_prefix(tx: &Transaction, prefix: &str) -> rusqlite::Result<Vec<OutboxRow>> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE idem_key >= ?1 AND idem_key < ?1 || x'ff' ORDER BY id"
    ))?;
    let rows = stmt.query_map([prefix], from_row)?;
    rows.collect()
}

/// Every row still `pending`, oldest first.
pub fn pending(tx: &Transaction) -> rusqlite::Result<Vec<OutboxRow>> {
    let mut stmt = tx.prepare(&format!("SELECT {COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY id"))?;
    let rows = stmt.query_map([], from_row)?;
    rows.collect()
}

/// Deletes rows in a final state older than `before` (retention, M9).
pub fn prune(tx: &Transaction, before: f64) -> rusqlite::Result<usize> {
    tx.execute("DELETE FROM outbox WHERE state != 'pending' AND updated_at < ?1", [before])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::TempStore;

    fn new(key: &str) -> NewOutbox {
        NewOutbox {
            idem_key: key.into(),
            platform: "telegram".into(),
            chat_id: "1".into(),
            kind: "text".into(),
            body: "hello".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_key_is_inserted_once_and_keeps_its_state() {
        let t = TempStore::new();
        t.store
            .call_blocking(|tx| {
                let a = insert_or_get(tx, &new("s:1:0"), 1.0)?;
                assert_eq!(a.state, OutboxState::Pending);
                mark_sent(tx, a.id, "77", "hello there", 2.0)?;
                let again = insert_or_get(tx, &new("s:1:0"), 3.0)?;
                assert_eq!(again.id, a.id);
                assert_eq!(again.state, OutboxState::Sent);
                assert_eq!(again.platform_message_id.as_deref(), Some("77"));
                assert_eq!(again.body, "hello there");
                insert_or_get(tx, &new("s:1:1"), 4.0)?;
                insert_or_get(tx, &new("s:10:0"), 4.0)?;
                let turn: Vec<String> = with_prefix(tx, "s:1:")?.into_iter().map(|r| r.idem_key).collect();
                assert_eq!(turn, vec!["s:1:0", "s:1:1"]);
                assert_eq!(pending(tx)?.len(), 2);
                Ok(())
            })
            .unwrap();
    }
}
