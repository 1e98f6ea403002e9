//! Where a session's context compaction lives (A10): the summary is an ordinary message row,
//! and `kv` `compaction:<session id>` says which rows the model sees from then on — the head
//! rows, the summary, then every row from the tail's first id on. The summarised rows stay
//! active (searchable, `/undo` works as before); only the loader skips them.

use rusqlite::Transaction;

use super::messages::{self, NewMessage, StoredMessage};
use super::state;

fn kv_key(session_id: &str) -> String {
    format!("compaction:{session_id}")
}

/// Stores `summary` (role assistant) and the compaction; returns the summary row.
pub fn save(
    tx: &Transaction,
    session_id: &str,
    summary: &str,
    head: &[i64],
    tail_from: i64,
    now: f64,
) -> rusqlite::Result<StoredMessage> {
    let id = messages::append(tx, session_id, &NewMessage::new("assistant", summary), now)?;
    let head: Vec<String> = head.iter().map(i64::to_string).collect();
    state::kv_set(tx, &kv_key(session_id), &format!("{id} {tail_from} {}", head.join(",")))?;
    Ok(messages::by_ids(tx, session_id, &[id])?.remove(0))
}

/// The history the model gets: after a compaction head + summary + tail (the tail within the
/// budget), else [`messages::recent`]. A summary undone by `/undo` ends the compaction.
pub fn load(
    tx: &Transaction,
    session_id: &str,
    budget: usize,
    max_rows: usize,
) -> rusqlite::Result<Vec<StoredMessage>> {
    let saved = state::kv_get(tx, &kv_key(session_id))?;
    let parsed = saved.as_deref().and_then(|v| {
        let mut parts = v.splitn(3, ' ');
        let summary: i64 = parts.next()?.parse().ok()?;
        let tail_from: i64 = parts.next()?.parse().ok()?;
        let head: Vec<i64> = parts.next().unwrap_or("").split(',').filter_map(|s| s.parse().ok()).collect();
        Some((summary, tail_from, head))
    });
    let Some((summary_id, tail_from, head_ids)) = parsed else {
        return messages::recent(tx, session_id, budget, max_rows);
    };
    let summary = messages::by_ids(tx, session_id, &[summary_id])?;
    if summary.is_empty() {
        return messages::recent(tx, session_id, budget, max_rows);
    }
    let mut out = messages::by_ids(tx, session_id, &head_ids)?;
    out.extend(summary);
    out.extend(messages::recent_since(tx, session_id, tail_from, summary_id, budget, max_rows)?);
    Ok(out)
}
