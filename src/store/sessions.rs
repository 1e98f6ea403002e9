//! `sessions`: one row per conversation. A session key maps to at most one live (not ended)
//! session; `/new`, resets and expiry end it and a new row takes over the key.

use rusqlite::{OptionalExtension, Row, Transaction, params};

/// A session as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub id: String,
    pub key: String,
    pub platform: String,
    pub chat_id: Option<String>,
    pub chat_type: Option<String>,
    pub thread_id: Option<String>,
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub model: Option<String>,
    pub created_at: f64,
    pub updated_at: f64,
    pub ended_at: Option<f64>,
    pub end_reason: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub cost_usd: f64,
    pub message_count: i64,
    pub resume_pending: bool,
    pub resume_reason: Option<String>,
    pub suspended: bool,
    pub restart_failures: i64,
}

/// What a new session row starts with.
#[derive(Clone, Debug, Default)]
pub struct NewSession {
    pub id: String,
    pub key: String,
    pub platform: String,
    pub chat_id: Option<String>,
    pub chat_type: Option<String>,
    pub thread_id: Option<String>,
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    pub model: Option<String>,
    pub title: Option<String>,
}

/// Token counters of one model call or one turn.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    /// Output tokens the model spent thinking (already counted in `output_tokens`).
    pub reasoning_tokens: i64,
    pub cost_usd: f64,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.cost_usd += other.cost_usd;
    }
}

const COLUMNS: &str = "id, key, platform, chat_id, chat_type, thread_id, user_id, display_name, title, model, \
     created_at, updated_at, ended_at, end_reason, input_tokens, output_tokens, cache_read_tokens, \
     cache_write_tokens, cost_usd, message_count, resume_pending, resume_reason, suspended, restart_failures, reasoning_tokens";

fn from_row(r: &Row) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        key: r.get(1)?,
        platform: r.get(2)?,
        chat_id: r.get(3)?,
        chat_type: r.get(4)?,
        thread_id: r.get(5)?,
        user_id: r.get(6)?,
        display_name: r.get(7)?,
        title: r.get(8)?,
        model: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        ended_at: r.get(12)?,
        end_reason: r.get(13)?,
        input_tokens: r.get(14)?,
        output_tokens: r.get(15)?,
        cache_read_tokens: r.get(16)?,
        cache_write_tokens: r.get(17)?,
        cost_usd: r.get(18)?,
        message_count: r.get(19)?,
        resume_pending: r.get::<_, i64>(20)? != 0,
        resume_reason: r.get(21)?,
        suspended: r.get::<_, i64>(22)? != 0,
        restart_failures: r.get(23)?,
        reasoning_tokens: r.get(24)?,
    })
}

pub fn get(tx: &Transaction, id: &str) -> rusqlite::Result<Option<Session>> {
    tx.query_row(&format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1"), [id], from_row).optional()
}

/// The live session of a key, if any (the newest, should there ever be two).
pub fn live_for_key(tx: &Transaction, key: &str) -> rusqlite::Result<Option<Session>> {
    tx.query_row(
        &format!(
            "SELECT {COLUMNS} FROM sessions WHERE key = ?1 AND ended_at IS NULL \
             ORDER BY updated_at DESC, created_at DESC LIMIT 1"
        ),
        [key],
        from_row,
    )
    .optional()
}

pub fn create(tx: &Transaction, new: &NewSession, now: f64) -> rusqlite::Result<Session> {
    tx.execute(
        "INSERT INTO sessions(id, key, platform, chat_id, chat_type, thread_id, user_id, display_name, model, \
         title, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        params![
            new.id,
            new.key,
            new.platform,
            new.chat_id,
            new.chat_type,
            new.thread_id,
            new.user_id,
            new.display_name,
            new.model,
            new.title,
            now
        ],
    )?;
    get(tx, &new.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// Ends a live session (first writer wins: an already ended row keeps its reason).
pub fn end(tx: &Transaction, id: &str, reason: &str, now: f64) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "UPDATE sessions SET ended_at = ?2, end_reason = ?3, updated_at = ?2, resume_pending = 0 \
         WHERE id = ?1 AND ended_at IS NULL",
        params![id, now, reason],
    )?;
    Ok(n == 1)
}

/// Marks activity (every inbound message bumps `updated_at`).
pub fn touch(tx: &Transaction, id: &str, now: f64) -> rusqlite::Result<()> {
    tx.execute("UPDATE sessions SET updated_at = ?2 WHERE id = ?1", params![id, now])?;
    Ok(())
}

pub fn add_usage(tx: &Transaction, id: &str, usage: &Usage) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE sessions SET input_tokens = input_tokens + ?2, output_tokens = output_tokens + ?3, \
         cache_read_tokens = cache_read_tokens + ?4, cache_write_tokens = cache_write_tokens + ?5, \
         cost_usd = cost_usd + ?6, reasoning_tokens = reasoning_tokens + ?7 WHERE id = ?1",
        params![
            id,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            usage.cost_usd,
            usage.reasoning_tokens
        ],
    )?;
    Ok(())
}

/// Every live session (the reset watcher checks each against the policy).
pub fn live_all(tx: &Transaction) -> rusqlite::Result<Vec<Session>> {
    let mut stmt = tx.prepare_cached(&format!("SELECT {COLUMNS} FROM sessions WHERE ended_at IS NULL ORDER BY id"))?;
    let rows = stmt.query_map([], from_row)?;
    rows.collect()
}

/// Longest title, in characters (GC §2.10).
pub const MAX_TITLE: usize = 100;

/// A title as Hermes stores it (GC §2.10): control, zero-width and bidi characters removed,
/// whitespace collapsed; `Ok(None)` when nothing is left, `Err` when it is too long.
pub fn sanitize_title(raw: &str) -> Result<Option<String>, String> {
    let invisible =
        |c: char| matches!(c as u32, 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2069 | 0xFEFF | 0xFFF9..=0xFFFC);
    let kept: String = raw
        .chars()
        .filter(|c| !invisible(*c))
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control())
        .collect();
    let title = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.is_empty() {
        return Ok(None);
    }
    if title.chars().count() > MAX_TITLE {
        return Err(format!("Title is too long ({} characters, max {MAX_TITLE}).", title.chars().count()));
    }
    Ok(Some(title))
}

/// The session that holds `title`, if any (titles are unique across sessions).
pub fn title_owner(tx: &Transaction, title: &str) -> rusqlite::Result<Option<String>> {
    tx.query_row("SELECT id FROM sessions WHERE title = ?1", [title], |r| r.get(0)).optional()
}

/// A session's own settings from the chat commands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prefs {
    /// `/personality`: a key of `agent.personalities`.
    pub personality: Option<String>,
    /// `/reasoning`: sent as `reasoning_effort`.
    pub reasoning: Option<String>,
    /// `/yolo`: approvals are skipped.
    pub yolo: bool,
    /// The system prompt stored by the session's first turn (`None`: build it).
    pub system_prompt: Option<String>,
}

/// Reads a session's [`Prefs`] (defaults when the row is gone).
pub fn prefs(tx: &Transaction, session_id: &str) -> rusqlite::Result<Prefs> {
    let found = tx
        .query_row(
            "SELECT personality, reasoning, yolo, system_prompt FROM sessions WHERE id = ?1",
            [session_id],
            |r| {
                Ok(Prefs {
                    personality: r.get(0)?,
                    reasoning: r.get(1)?,
                    yolo: r.get::<_, i64>(2)? != 0,
                    system_prompt: r.get(3)?,
                })
            },
        )
        .optional()?;
    Ok(found.unwrap_or_default())
}

/// Stores the system prompt a session's later turns reuse.
pub fn set_system_prompt(tx: &Transaction, id: &str, prompt: &str) -> rusqlite::Result<()> {
    tx.execute("UPDATE sessions SET system_prompt = ?2 WHERE id = ?1", params![id, prompt])?;
    Ok(())
}

/// Forgets a session's system prompt so its next turn builds a fresh one (after compression,
/// `/personality`, ...).
pub fn clear_system_prompt(tx: &Transaction, id: &str) -> rusqlite::Result<()> {
    tx.execute("UPDATE sessions SET system_prompt = NULL WHERE id = ?1", [id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::TempStore;

    fn new(id: &str, key: &str) -> NewSession {
        NewSession { id: id.into(), key: key.into(), platform: "telegram".into(), ..Default::default() }
    }

    #[test]
    fn one_live_session_per_key() {
        let t = TempStore::new();
        t.store
            .call_blocking(|tx| {
                create(tx, &new("a", "k"), 1.0)?;
                assert_eq!(live_for_key(tx, "k")?.unwrap().id, "a");
                assert!(end(tx, "a", "new_command", 2.0)?);
                assert!(!end(tx, "a", "other", 3.0)?, "first writer wins");
                assert!(live_for_key(tx, "k")?.is_none());
                create(tx, &new("b", "k"), 4.0)?;
                assert_eq!(live_for_key(tx, "k")?.unwrap().id, "b");
                assert_eq!(get(tx, "a")?.unwrap().end_reason.as_deref(), Some("new_command"));
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn usage_accumulates() {
        let t = TempStore::new();
        t.store
            .call_blocking(|tx| {
                create(tx, &new("a", "k"), 1.0)?;
                let u = Usage { input_tokens: 10, output_tokens: 5, ..Default::default() };
                add_usage(tx, "a", &u)?;
                add_usage(tx, "a", &u)?;
                let s = get(tx, "a")?.unwrap();
                assert_eq!((s.input_tokens, s.output_tokens), (20, 10));
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn the_system_prompt_is_stored_read_with_the_prefs_and_cleared() {
        let t = TempStore::new();
        t.store
            .call_blocking(|tx| {
                create(tx, &new("a", "k"), 1.0)?;
                assert_eq!(prefs(tx, "a")?.system_prompt, None);
                set_system_prompt(tx, "a", "You are Hermes")?;
                assert_eq!(prefs(tx, "a")?.system_prompt.as_deref(), Some("You are Hermes"));
                clear_system_prompt(tx, "a")?;
                assert_eq!(prefs(tx, "a")?.system_prompt, None);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn titles_are_sanitized_and_unique() {
        assert_eq!(sanitize_title("  my\u{200B}  title\n ").unwrap().as_deref(), Some("my title"));
        assert_eq!(sanitize_title(" \u{202E} ").unwrap(), None);
        assert!(sanitize_title(&"x".repeat(101)).is_err());
        assert!(sanitize_title(&"é".repeat(100)).unwrap().is_some());
        let t = TempStore::new();
        t.store
            .call_blocking(|tx| {
                let mut s = new("a", "k");
                s.title = Some("mine".into());
                create(tx, &s, 1.0)?;
                create(tx, &new("b", "k2"), 1.0)?;
                assert_eq!(title_owner(tx, "mine")?.as_deref(), Some("a"));
                assert_eq!(title_owner(tx, "other")?, None);
                end(tx, "a", "new", 2.0)?;
                let live: Vec<String> = live_all(tx)?.into_iter().map(|s| s.id).collect();
                assert_eq!(live, vec!["b".to_string()]);
                Ok(())
            })
            .unwrap();
    }
}
