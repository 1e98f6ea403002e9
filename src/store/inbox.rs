//! `inbox`: the inbound journal. Every event is written here (deduplicated on
//! `(platform, message_key)`) together with the platform's cursor, in one transaction, before
//! the platform may acknowledge it. Rows then move `received → processing → done`, or to
//! `skipped` (too old) or `quarantined` (poison); after a crash, unfinished rows are replayed.

use hermes_platform::MessageEvent;
use rusqlite::{Row, Transaction, params};

/// Where an inbox row is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxState {
    Received,
    Processing,
    Done,
    Skipped,
    Quarantined,
}

impl InboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxState::Received => "received",
            InboxState::Processing => "processing",
            InboxState::Done => "done",
            InboxState::Skipped => "skipped",
            InboxState::Quarantined => "quarantined",
        }
    }

    fn parse(text: &str) -> InboxState {
        match text {
            "processing" => InboxState::Processing,
            "done" => InboxState::Done,
            "skipped" => InboxState::Skipped,
            "quarantined" => InboxState::Quarantined,
            _ => InboxState::Received,
        }
    }
}

/// One journaled event.
#[derive(Clone, Debug)]
pub struct InboxRow {
    pub id: i64,
    pub platform: String,
    pub event: MessageEvent,
    pub received_at: f64,
    pub state: InboxState,
}

fn from_row(r: &Row) -> rusqlite::Result<Option<InboxRow>> {
    let payload: String = r.get(2)?;
    let id: i64 = r.get(0)?;
    let Ok(event) = miniserde::json::from_str::<MessageEvent>(&payload) else {
        log::error!("inbox row {id} has an unreadable payload; leaving it");
        return Ok(None);
    };
    let state: String = r.get(4)?;
    Ok(Some(InboxRow { id, platform: r.get(1)?, event, received_at: r.get(3)?, state: InboxState::parse(&state) }))
}

/// Journals a batch and the platform's cursor. Returns the rows that are new (duplicates of
/// already journaled events are dropped silently), in batch order.
pub fn journal(
    tx: &Transaction,
    platform: &str,
    events: Vec<MessageEvent>,
    cursor: Option<&str>,
    now: f64,
) -> rusqlite::Result<Vec<InboxRow>> {
    let mut fresh = Vec::new();
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO inbox(platform, update_id, message_key, payload, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for event in events {
            let payload = miniserde::json::to_string(&event);
            let n = insert.execute(params![platform, event.update_id, event.message_key, payload, now])?;
            if n == 1 {
                fresh.push(InboxRow {
                    id: tx.last_insert_rowid(),
                    platform: platform.to_string(),
                    event,
                    received_at: now,
                    state: InboxState::Received,
                });
            }
        }
    }
    if let Some(cursor) = cursor {
        super::state::set_cursor(tx, platform, cursor, now)?;
    }
    Ok(fresh)
}

pub fn set_state(tx: &Transaction, id: i64, state: InboxState) -> rusqlite::Result<()> {
    tx.execute("UPDATE inbox SET state = ?2 WHERE id = ?1", params![id, state.as_str()])?;
    Ok(())
}

/// Marks a row as being processed and counts the attempt; returns the attempt number.
pub fn start_processing(tx: &Transaction, id: i64, session_key: &str) -> rusqlite::Result<i64> {
    tx.execute(
        "UPDATE inbox SET state = 'processing', attempts = attempts + 1, session_key = ?2 WHERE id = ?1",
        params![id, session_key],
    )?;
    tx.query_row("SELECT attempts FROM inbox WHERE id = ?1", [id], |r| r.get(0))
}

/// Rows a crash left unfinished (`received` or `processing`), oldest first.
pub fn unfinished(tx: &Transaction) -> rusqlite::Result<Vec<InboxRow>> {
    let mut stmt = tx.prepare(
        "SELECT id, platform, payload, received_at, state, attempts FROM inbox \
         WHERE state IN ('received', 'processing') ORDER BY id",
    )?;
    let rows = stmt.query_map([], from_row)?;
    let mut out = Vec::new();
    for row in rows {
        if let Some(row) = row? {
            out.push(row);
        }
    }
    Ok(out)
}

/// Deletes rows in a final state older than `before` (retention, M9).
pub fn prune(tx: &Transaction, before: f64) -> rusqlite::Result<usize> {
    tx.execute("DELETE FROM inbox WHERE state IN ('done', 'skipped', 'quarantined') AND received_at < ?1", [before])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::TempStore;
    use hermes_platform::{ChatType, Source};

    fn event(key: &str) -> MessageEvent {
        let source = Source {
            platform: "telegram".into(),
            chat_id: "1".into(),
            chat_name: None,
            chat_type: ChatType::Dm,
            user_id: Some("1".into()),
            user_name: None,
            thread_id: None,
            is_bot: false,
            role_authorized: None,
        };
        MessageEvent::text(source, "9", key, "hi", 0.0)
    }

    #[test]
    fn journal_dedups_and_stores_the_cursor_with_the_events() {
        let t = TempStore::new();
        let (first, second, cursor, unfinished_ids) = t
            .store
            .call_blocking(|tx| {
                let first = journal(tx, "telegram", vec![event("1"), event("2")], Some("2"), 1.0)?;
                let second = journal(tx, "telegram", vec![event("2"), event("3")], Some("3"), 2.0)?;
                let cursor = crate::store::state::cursor(tx, "telegram")?;
                set_state(tx, first[0].id, InboxState::Done)?;
                start_processing(tx, first[1].id, "k")?;
                let unfinished_ids: Vec<i64> = unfinished(tx)?.iter().map(|r| r.id).collect();
                Ok((first, second, cursor, unfinished_ids))
            })
            .unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(second.len(), 1, "a duplicate is dropped");
        assert_eq!(second[0].event.message_key, "3");
        assert_eq!(cursor.as_deref(), Some("3"));
        assert_eq!(unfinished_ids, vec![first[1].id, second[0].id]);
    }
}
