//! `messages`: the transcript of each session, in `id` order (never by time: clocks jump).
//!
//! History for a turn is read newest-first up to a size budget, so a long conversation never
//! loads whole into memory; rows stay on disk (and searchable) whatever the budget drops.

use rusqlite::{OptionalExtension, Row, Transaction, params};

/// One stored message. `tool_calls` is the OpenAI JSON array, as text.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMessage {
    pub id: i64,
    pub role: String,
    pub content: Option<String>,
    pub tool_calls: Option<String>,
    pub tool_call_id: Option<String>,
    pub tool_name: Option<String>,
    pub platform_message_id: Option<String>,
    pub created_at: f64,
    pub inbox_id: Option<i64>,
}

impl StoredMessage {
    /// Rough size in characters, for history budgets.
    pub fn size(&self) -> usize {
        self.content.as_deref().map_or(0, str::len) + self.tool_calls.as_deref().map_or(0, str::len) + 16
    }
}

/// A message to append.
#[derive(Clone, Debug, Default)]
pub struct NewMessage {
    pub role: String,
    pub content: Option<String>,
    pub tool_calls: Option<String>,
    pub tool_call_id: Option<String>,
    pub tool_name: Option<String>,
    pub platform_message_id: Option<String>,
    pub inbox_id: Option<i64>,
}

impl NewMessage {
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        NewMessage { role: role.to_string(), content: Some(content.into()), ..Default::default() }
    }
}

const COLUMNS: &str =
    "id, role, content, tool_calls, tool_call_id, tool_name, platform_message_id, created_at, inbox_id";

fn from_row(r: &Row) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        id: r.get(0)?,
        role: r.get(1)?,
        content: r.get(2)?,
        tool_calls: r.get(3)?,
        tool_call_id: r.get(4)?,
        tool_name: r.get(5)?,
        platform_message_id: r.get(6)?,
        created_at: r.get(7)?,
        inbox_id: r.get(8)?,
    })
}

/// Appends one message and counts it on the session.
pub fn append(tx: &Transaction, session_id: &str, m: &NewMessage, now: f64) -> rusqlite::Result<i64> {
    let tokens = (m.content.as_deref().map_or(0, str::len) + m.tool_calls.as_deref().map_or(0, str::len)) / 4;
    tx.execute(
        "INSERT INTO messages(session_id, role, content, tool_calls, tool_call_id, tool_name, \
         platform_message_id, created_at, token_count, inbox_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            session_id,
            m.role,
            m.content,
            m.tool_calls,
            m.tool_call_id,
            m.tool_name,
            m.platform_message_id,
            now,
            tokens as i64,
            m.inbox_id
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute(
        "UPDATE sessions SET message_count = message_count + 1, updated_at = ?2 WHERE id = ?1",
        params![session_id, now],
    )?;
    Ok(id)
}

/// The newest active messages of a session whose sizes add up to at most `budget` characters
/// (at most `max_rows`), in conversation order, starting at a user message.
pub fn recent(
    tx: &Transaction,
    session_id: &str,
    budget: usize,
    max_rows: usize,
) -> rusqlite::Result<Vec<StoredMessage>> {
    recent_since(tx, session_id, 0, 0, budget, max_rows)
}

/// [`recent`] among rows from id `since` on, without row `skip` (a compaction's tail; see
/// `store::compaction`).
pub fn recent_since(
    tx: &Transaction,
    session_id: &str,
    since: i64,
    skip: i64,
    budget: usize,
    max_rows: usize,
) -> rusqlite::Result<Vec<StoredMessage>> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages WHERE session_id = ?1 AND active = 1 AND id >= ?2 AND id != ?3 ORDER BY id DESC"
    ))?;
    let mut rows = stmt.query(params![session_id, since, skip])?;
    let mut picked = Vec::new();
    let mut used = 0usize;
    while let Some(row) = rows.next()? {
        let m = from_row(row)?;
        if !picked.is_empty() && (used + m.size() > budget || picked.len() >= max_rows) {
            break;
        }
        used += m.size();
        picked.push(m);
    }
    picked.reverse();
    if since > 0 && picked.len() < max_rows && used <= budget && picked.first().is_some_and(|m| m.id == since) {
        return Ok(picked); // the whole tail: it starts where the compaction cut it
    }
    // A history that starts mid-exchange (a tool result, an assistant reply) confuses models.
    let first_user = picked.iter().position(|m| m.role == "user").unwrap_or(picked.len());
    picked.drain(..first_user);
    Ok(picked)
}

/// Active rows by id, in id order (a compaction's head and summary).
pub fn by_ids(tx: &Transaction, session_id: &str, ids: &[i64]) -> rusqlite::Result<Vec<StoredMessage>> {
    let mut stmt =
        tx.prepare_cached(&format!("SELECT {COLUMNS} FROM messages WHERE session_id = ?1 AND id = ?2 AND active = 1"))?;
    let mut out = Vec::new();
    for id in ids {
        out.extend(stmt.query_row(params![session_id, id], from_row).optional()?);
    }
    Ok(out)
}

/// The user message stored for an inbox event, if a previous attempt already stored it.
pub fn user_message_for_inbox(tx: &Transaction, session_id: &str, inbox_id: i64) -> rusqlite::Result<Option<i64>> {
    tx.query_row(
        "SELECT id FROM messages WHERE session_id = ?1 AND inbox_id = ?2 AND role = 'user' ORDER BY id LIMIT 1",
        params![session_id, inbox_id],
        |r| r.get(0),
    )
    .optional()
}

/// The final answer stored for an inbox event (an assistant message without tool calls), if a
/// previous attempt got that far: a rerun delivers it instead of asking the model again.
pub fn final_for_inbox(tx: &Transaction, session_id: &str, inbox_id: i64) -> rusqlite::Result<Option<String>> {
    tx.query_row(
        "SELECT content FROM messages WHERE session_id = ?1 AND inbox_id = ?2 AND role = 'assistant' \
         AND tool_calls IS NULL ORDER BY id DESC LIMIT 1",
        params![session_id, inbox_id],
        |r| r.get::<_, Option<String>>(0),
    )
    .optional()
    .map(Option::flatten)
}

/// The newest active user message of a session: its id and text.
pub fn last_user(tx: &Transaction, session_id: &str) -> rusqlite::Result<Option<(i64, String)>> {
    tx.query_row(
        "SELECT id, coalesce(content, '') FROM messages WHERE session_id = ?1 AND active = 1 AND role = 'user' \
         ORDER BY id DESC LIMIT 1",
        [session_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Soft-deletes (`active = 0`) the session's rows from `from_id` on; they stay searchable on
/// disk. Returns how many rows went.
pub fn deactivate_from(tx: &Transaction, session_id: &str, from_id: i64) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE messages SET active = 0 WHERE session_id = ?1 AND id >= ?2 AND active = 1",
        params![session_id, from_id],
    )
}

/// `/undo N` (GC §2.9): soft-deletes the last `n` user turns, that is every row from the
/// `n`-th last active user message on (fewer when the session has fewer). Returns the removed
/// user texts, oldest first; empty when there was nothing to undo.
pub fn rewind_user_turns(tx: &Transaction, session_id: &str, n: usize) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, coalesce(content, '') FROM messages WHERE session_id = ?1 AND active = 1 AND role = 'user' \
         ORDER BY id DESC LIMIT ?2",
    )?;
    let mut turns: Vec<(i64, String)> =
        stmt.query_map(params![session_id, n as i64], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let Some(&(from, _)) = turns.last() else { return Ok(Vec::new()) };
    deactivate_from(tx, session_id, from)?;
    turns.reverse();
    Ok(turns.into_iter().map(|(_, text)| text).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sessions::{NewSession, create};
    use crate::store::test_support::TempStore;

    #[test]
    fn recent_respects_the_budget_and_starts_at_a_user_message() {
        let t = TempStore::new();
        let rows = t
            .store
            .call_blocking(|tx| {
                let s =
                    NewSession { id: "s".into(), key: "k".into(), platform: "telegram".into(), ..Default::default() };
                create(tx, &s, 0.0)?;
                for i in 0..10 {
                    append(tx, "s", &NewMessage::new("user", format!("question {i} {}", "x".repeat(50))), i as f64)?;
                    append(tx, "s", &NewMessage::new("assistant", format!("answer {i} {}", "y".repeat(50))), i as f64)?;
                }
                let all = recent(tx, "s", usize::MAX, 1000)?;
                let some = recent(tx, "s", 250, 1000)?;
                let capped = recent(tx, "s", usize::MAX, 3)?;
                let count: i64 = tx.query_row("SELECT message_count FROM sessions WHERE id='s'", [], |r| r.get(0))?;
                Ok((all, some, capped, count))
            })
            .unwrap();
        let (all, some, capped, count) = rows;
        assert_eq!(all.len(), 20);
        assert_eq!(count, 20);
        assert!(some.len() < 20 && !some.is_empty());
        assert_eq!(some[0].role, "user");
        assert!(some.last().unwrap().content.as_deref().unwrap().starts_with("answer 9"));
        assert_eq!(capped.len(), 2, "3 newest rows minus the leading assistant row");
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn undo_and_retry_deactivate_whole_turns() {
        let t = TempStore::new();
        t.store
            .call_blocking(|tx| {
                let s =
                    NewSession { id: "s".into(), key: "k".into(), platform: "telegram".into(), ..Default::default() };
                create(tx, &s, 0.0)?;
                for i in 0..3 {
                    append(tx, "s", &NewMessage::new("user", format!("q{i}")), 0.0)?;
                    append(tx, "s", &NewMessage::new("tool", format!("t{i}")), 0.0)?;
                    append(tx, "s", &NewMessage::new("assistant", format!("a{i}")), 0.0)?;
                }
                assert_eq!(rewind_user_turns(tx, "s", 2)?, vec!["q1".to_string(), "q2".to_string()]);
                let left: Vec<_> = recent(tx, "s", usize::MAX, 100)?.into_iter().filter_map(|m| m.content).collect();
                assert_eq!(left, vec!["q0", "t0", "a0"]);
                assert_eq!(last_user(tx, "s")?.map(|(_, t)| t).as_deref(), Some("q0"));
                assert_eq!(rewind_user_turns(tx, "s", 5)?, vec!["q0".to_string()]);
                assert!(rewind_user_turns(tx, "s", 1)?.is_empty());
                assert_eq!(last_user(tx, "s")?, None);
                Ok(())
            })
            .unwrap();
    }
}
