//! Queries behind /title, /sessions, /resume and /branch: titles (unique across sessions), the
//! sessions of one chat, full-text search over their messages, and moving a session key onto
//! another session (switch, branch).
//!
//! "This chat" is the platform and chat id a session was created in: a user only ever sees and
//! resumes sessions of the chat they type in.

use rusqlite::{OptionalExtension, Transaction, params};

use super::sessions::{self, NewSession, Session};

/// One line of a session list.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionSummary {
    pub id: String,
    pub title: Option<String>,
    pub message_count: i64,
    pub updated_at: f64,
    /// None for the live session.
    pub ended_at: Option<f64>,
}

/// The best match of a search in one session.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchHit {
    pub session_id: String,
    pub title: Option<String>,
    pub snippet: String,
}

/// Why a title could not be set.
#[derive(Clone, Debug, PartialEq)]
pub enum TitleError {
    /// Held by another session (the session id).
    InUse(String),
    NoSession,
}

/// Sets a session's title (a manual title replaces any other); `None` clears it.
pub fn set_title(tx: &Transaction, id: &str, title: Option<&str>) -> rusqlite::Result<Result<(), TitleError>> {
    if let Some(t) = title
        && let Some(holder) = super::sessions::title_owner(tx, t)?
        && holder != id
    {
        return Ok(Err(TitleError::InUse(holder)));
    }
    let n = tx.execute("UPDATE sessions SET title = ?2 WHERE id = ?1", params![id, title])?;
    Ok(if n == 1 { Ok(()) } else { Err(TitleError::NoSession) })
}

/// Sets an automatic title only when the session still has none (a manual /title wins); a title
/// another session holds becomes `"base #N"`. Returns the title written, if any.
pub fn set_auto_title_if_empty(tx: &Transaction, id: &str, base: &str) -> rusqlite::Result<Option<String>> {
    let current: Option<Option<String>> =
        tx.query_row("SELECT title FROM sessions WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    if !matches!(current, Some(None)) {
        return Ok(None);
    }
    let mut title = base.to_string();
    let mut n = 2;
    while super::sessions::title_owner(tx, &title)?.is_some() {
        title = format!("{base} #{n}");
        n += 1;
    }
    let changed = tx.execute("UPDATE sessions SET title = ?2 WHERE id = ?1 AND title IS NULL", params![id, title])?;
    Ok((changed == 1).then_some(title))
}

/// Messages the user sent in a session (active ones: an undone turn does not count).
pub fn user_message_count(tx: &Transaction, id: &str) -> rusqlite::Result<i64> {
    tx.query_row("SELECT count(*) FROM messages WHERE session_id = ?1 AND role = 'user' AND active = 1", [id], |r| {
        r.get(0)
    })
}

/// The newest sessions of a chat, newest activity first; only titled ones when `titled`.
pub fn recent_for_chat(
    tx: &Transaction,
    platform: &str,
    chat_id: &str,
    titled: bool,
    limit: usize,
) -> rusqlite::Result<Vec<SessionSummary>> {
    let filter = if titled { "AND title IS NOT NULL" } else { "AND message_count > 0" };
    let mut st = tx.prepare(&format!(
        "SELECT id, title, message_count, updated_at, ended_at FROM sessions \
         WHERE platform = ?1 AND chat_id = ?2 {filter} ORDER BY updated_at DESC, created_at DESC LIMIT ?3"
    ))?;
    let rows = st.query_map(params![platform, chat_id, limit as i64], |r| {
        Ok(SessionSummary {
            id: r.get(0)?,
            title: r.get(1)?,
            message_count: r.get(2)?,
            updated_at: r.get(3)?,
            ended_at: r.get(4)?,
        })
    })?;
    rows.collect()
}

/// Turns what a user typed into an FTS5 query that cannot break its syntax: every word becomes
/// a quoted phrase (quotes doubled), all of them required; words without a letter or digit are
/// dropped (they hold no token). None when nothing is left to search.
pub fn fts_query(input: &str) -> Option<String> {
    let terms: Vec<String> = input
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Full-text search over the messages of a chat's sessions: the best hit per session, best
/// sessions first, at most `limit`.
pub fn search(
    tx: &Transaction,
    platform: &str,
    chat_id: &str,
    input: &str,
    limit: usize,
) -> rusqlite::Result<Vec<SearchHit>> {
    let Some(query) = fts_query(input) else { return Ok(Vec::new()) };
    let mut st = tx.prepare(
        "SELECT m.session_id, s.title, snippet(messages_fts, 0, '«', '»', '…', 12) \
         FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid JOIN sessions s ON s.id = m.session_id \
         WHERE messages_fts MATCH ?1 AND s.platform = ?2 AND s.chat_id = ?3 AND m.active = 1 \
         AND m.role IN ('user', 'assistant') ORDER BY rank LIMIT 200",
    )?;
    let rows = st.query_map(params![query, platform, chat_id], |r| {
        Ok(SearchHit { session_id: r.get(0)?, title: r.get(1)?, snippet: r.get(2)? })
    })?;
    let mut hits: Vec<SearchHit> = Vec::new();
    for hit in rows {
        let hit = hit?;
        if hits.len() < limit && !hits.iter().any(|h| h.session_id == hit.session_id) {
            hits.push(hit);
        }
    }
    Ok(hits)
}

/// A session of this chat named by `arg`: a number from the titled list, a session id, or a
/// title (the newest `"title #N"` variant when there is one, else the exact title).
pub fn resolve(
    tx: &Transaction,
    platform: &str,
    chat_id: &str,
    arg: &str,
    list_len: usize,
) -> rusqlite::Result<Option<Session>> {
    let owned = |s: Option<Session>| s.filter(|s| s.platform == platform && s.chat_id.as_deref() == Some(chat_id));
    if let Ok(n) = arg.parse::<usize>()
        && (1..=list_len).contains(&n)
    {
        let list = recent_for_chat(tx, platform, chat_id, true, list_len)?;
        if let Some(s) = list.get(n - 1) {
            return Ok(owned(sessions::get(tx, &s.id)?));
        }
    }
    if let Some(s) = owned(sessions::get(tx, arg)?) {
        return Ok(Some(s));
    }
    let mut st = tx.prepare(
        "SELECT id, title FROM sessions WHERE platform = ?1 AND chat_id = ?2 AND substr(title, 1, length(?3)) = ?3 \
         ORDER BY created_at DESC, rowid DESC",
    )?;
    let candidates: Vec<(String, String)> =
        st.query_map(params![platform, chat_id, arg], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let is_variant = |t: &str| {
        t.strip_prefix(arg)
            .and_then(|rest| rest.strip_prefix(" #"))
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    let pick = candidates.iter().find(|(_, t)| is_variant(t)).or_else(|| candidates.iter().find(|(_, t)| t == arg));
    match pick {
        Some((id, _)) => sessions::get(tx, id),
        None => Ok(None),
    }
}

/// Makes `target` the live session of `key`: the key's current live session ends with
/// `session_switch` and the target is reopened under this key.
pub fn switch_to(tx: &Transaction, key: &str, target: &str, now: f64) -> rusqlite::Result<Option<Session>> {
    if let Some(live) = sessions::live_for_key(tx, key)?
        && live.id != target
    {
        sessions::end(tx, &live.id, "session_switch", now)?;
    }
    tx.execute(
        "UPDATE sessions SET key = ?2, ended_at = NULL, end_reason = NULL, updated_at = ?3, resume_pending = 0 \
         WHERE id = ?1",
        params![target, key, now],
    )?;
    sessions::get(tx, target)
}

/// Copies the active history of `from` into a new session `new_id` (parent `from`, same chat,
/// model and settings), which becomes the live session of `from`'s key; `from` ends `branched`.
pub fn branch(
    tx: &Transaction,
    from: &Session,
    new_id: &str,
    title: Option<&str>,
    now: f64,
) -> rusqlite::Result<Session> {
    let new = NewSession {
        id: new_id.to_string(),
        key: from.key.clone(),
        platform: from.platform.clone(),
        chat_id: from.chat_id.clone(),
        chat_type: from.chat_type.clone(),
        thread_id: from.thread_id.clone(),
        user_id: from.user_id.clone(),
        display_name: from.display_name.clone(),
        model: from.model.clone(),
        title: title.map(str::to_string),
    };
    sessions::end(tx, &from.id, "branched", now)?;
    sessions::create(tx, &new, now)?;
    tx.execute(
        "UPDATE sessions SET parent_id = p.id, yolo = p.yolo, personality = p.personality, reasoning = p.reasoning \
         FROM (SELECT id, yolo, personality, reasoning FROM sessions WHERE id = ?2) AS p WHERE sessions.id = ?1",
        params![new_id, from.id],
    )?;
    let copied = tx.execute(
        "INSERT INTO messages(session_id, role, content, tool_calls, tool_call_id, tool_name, platform_message_id, \
         created_at, token_count) SELECT ?1, role, content, tool_calls, tool_call_id, tool_name, platform_message_id, \
         created_at, token_count FROM messages WHERE session_id = ?2 AND active = 1 ORDER BY id",
        params![new_id, from.id],
    )?;
    tx.execute("UPDATE sessions SET message_count = ?2 WHERE id = ?1", params![new_id, copied as i64])?;
    sessions::get(tx, new_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::messages::{NewMessage, append};
    use crate::store::test_support::TempStore;

    fn new(id: &str, key: &str, chat: &str) -> NewSession {
        NewSession {
            id: id.into(),
            key: key.into(),
            platform: "telegram".into(),
            chat_id: Some(chat.into()),
            ..Default::default()
        }
    }

    #[test]
    fn fts_query_quotes_every_word() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query("paris trip"), Some("\"paris\" \"trip\"".into()));
        assert_eq!(fts_query("a\"b OR NEAR("), Some("\"a\"\"b\" \"OR\" \"NEAR(\"".into()));
        assert_eq!(fts_query("\"\" * ("), None);
    }

    #[test]
    fn hostile_queries_do_not_break_search() {
        let t = TempStore::new();
        t.store
            .call_blocking(|tx| {
                sessions::create(tx, &new("a", "k", "1"), 1.0)?;
                sessions::create(tx, &new("b", "k2", "2"), 1.0)?;
                append(tx, "a", &NewMessage::new("user", "planning a trip to Paris"), 1.0)?;
                append(tx, "b", &NewMessage::new("user", "Paris secrets of another chat"), 1.0)?;
                for q in ["\"", "paris OR", "NEAR(paris", "*", "paris\"", "col:paris", "(", "^paris"] {
                    search(tx, "telegram", "1", q, 10)?;
                }
                let hits = search(tx, "telegram", "1", "PARIS trip", 10)?;
                assert_eq!(hits.len(), 1);
                assert_eq!(hits[0].session_id, "a");
                assert!(hits[0].snippet.contains("«Paris»"), "{}", hits[0].snippet);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn titles_are_unique_and_auto_titles_number_themselves() {
        let t = TempStore::new();
        t.store
            .call_blocking(|tx| {
                for id in ["a", "b", "c"] {
                    sessions::create(tx, &new(id, id, "1"), 1.0)?;
                }
                assert_eq!(set_title(tx, "a", Some("Trip"))?, Ok(()));
                assert_eq!(set_title(tx, "b", Some("Trip"))?, Err(TitleError::InUse("a".into())));
                assert_eq!(set_title(tx, "a", Some("Trip"))?, Ok(()), "its own title again");
                assert_eq!(set_auto_title_if_empty(tx, "a", "Other")?, None, "a manual title wins");
                assert_eq!(set_auto_title_if_empty(tx, "b", "Trip")?.as_deref(), Some("Trip #2"));
                assert_eq!(set_auto_title_if_empty(tx, "c", "Trip")?.as_deref(), Some("Trip #3"));
                let found = resolve(tx, "telegram", "1", "Trip", 10)?.unwrap();
                assert_eq!(found.id, "c", "the newest numbered variant");
                assert!(resolve(tx, "telegram", "2", "Trip", 10)?.is_none(), "another chat's sessions");
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn switch_and_branch_move_the_key() {
        let t = TempStore::new();
        t.store
            .call_blocking(|tx| {
                sessions::create(tx, &new("old", "k", "1"), 1.0)?;
                append(tx, "old", &NewMessage::new("user", "first"), 1.0)?;
                sessions::end(tx, "old", "new_command", 2.0)?;
                sessions::create(tx, &new("cur", "k", "1"), 3.0)?;
                let s = switch_to(tx, "k", "old", 4.0)?.unwrap();
                assert_eq!((s.ended_at, s.key.as_str()), (None, "k"));
                assert_eq!(sessions::get(tx, "cur")?.unwrap().end_reason.as_deref(), Some("session_switch"));
                assert_eq!(sessions::live_for_key(tx, "k")?.unwrap().id, "old");
                let b = branch(tx, &s, "br", Some("Fork"), 5.0)?;
                assert_eq!((b.message_count, b.title.as_deref()), (1, Some("Fork")));
                assert_eq!(sessions::live_for_key(tx, "k")?.unwrap().id, "br");
                assert_eq!(sessions::get(tx, "old")?.unwrap().end_reason.as_deref(), Some("branched"));
                assert_eq!(user_message_count(tx, "br")?, 1);
                let parent: Option<String> =
                    tx.query_row("SELECT parent_id FROM sessions WHERE id='br'", [], |r| r.get(0))?;
                assert_eq!(parent.as_deref(), Some("old"));
                Ok(())
            })
            .unwrap();
    }
}
