//! The schema of `lite.db` and its numbered migrations.
//!
//! Each migration runs once, in order, inside one transaction, and bumps `schema_version`.
//! A database with a version above [`SCHEMA_VERSION`] was written by a newer hermes-lite and is
//! refused rather than guessed at.

use rusqlite::Connection;

use super::{Result, StoreError};

/// The version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: sessions, messages (+FTS5), the inbound journal, the outbox, cursors, kv.
    r#"
    CREATE TABLE sessions(
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        platform TEXT NOT NULL,
        chat_id TEXT,
        chat_type TEXT,
        thread_id TEXT,
        user_id TEXT,
        display_name TEXT,
        title TEXT UNIQUE,
        model TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        ended_at REAL,
        end_reason TEXT,
        parent_id TEXT REFERENCES sessions(id) ON DELETE SET NULL,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        message_count INTEGER NOT NULL DEFAULT 0,
        resume_pending INTEGER NOT NULL DEFAULT 0,
        resume_reason TEXT,
        suspended INTEGER NOT NULL DEFAULT 0,
        restart_failures INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_key ON sessions(key, updated_at);

    CREATE TABLE messages(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT,
        tool_calls TEXT,
        tool_call_id TEXT,
        tool_name TEXT,
        platform_message_id TEXT,
        created_at REAL NOT NULL,
        token_count INTEGER,
        active INTEGER NOT NULL DEFAULT 1,
        inbox_id INTEGER
    );
    CREATE INDEX messages_session ON messages(session_id, active, id);
    CREATE INDEX messages_inbox ON messages(inbox_id) WHERE inbox_id IS NOT NULL;

    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, tool_name,
        content='messages', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content, tool_name) VALUES (new.id, new.content, new.tool_name);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, tool_name)
            VALUES ('delete', old.id, old.content, old.tool_name);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, tool_name ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, tool_name)
            VALUES ('delete', old.id, old.content, old.tool_name);
        INSERT INTO messages_fts(rowid, content, tool_name) VALUES (new.id, new.content, new.tool_name);
    END;

    CREATE TABLE inbox(
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        update_id TEXT,
        message_key TEXT NOT NULL,
        session_key TEXT,
        payload TEXT NOT NULL,
        received_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'received',
        attempts INTEGER NOT NULL DEFAULT 0,
        UNIQUE(platform, message_key)
    );
    CREATE INDEX inbox_state ON inbox(state, id);

    CREATE TABLE outbox(
        id INTEGER PRIMARY KEY,
        idem_key TEXT NOT NULL UNIQUE,
        session_id TEXT,
        platform TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        thread_id TEXT,
        reply_to TEXT,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        platform_message_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX outbox_state ON outbox(state, id);

    CREATE TABLE platform_state(
        platform TEXT PRIMARY KEY,
        cursor TEXT,
        updated_at REAL NOT NULL
    );

    CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT);
    "#,
    // 2: per-session settings of the chat commands (/yolo, /personality, /reasoning).
    r#"
    ALTER TABLE sessions ADD COLUMN yolo INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN personality TEXT;
    ALTER TABLE sessions ADD COLUMN reasoning TEXT;
    "#,
    // 3: reasoning tokens of the session (A5).
    r#"
    ALTER TABLE sessions ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
    "#,
    // 4: the system prompt built on a session's first turn and reused by its later turns (A11).
    r#"
    ALTER TABLE sessions ADD COLUMN system_prompt TEXT;
    "#,
    // 5: background delegations, so a restart can report lost ones and deliver finished ones (A23).
    r#"
    CREATE TABLE delegations(
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        session_key TEXT NOT NULL,
        source_json TEXT NOT NULL,
        goal_json TEXT NOT NULL,
        context TEXT,
        role TEXT NOT NULL,
        model TEXT NOT NULL,
        status TEXT NOT NULL,
        dispatched_at REAL NOT NULL,
        completed_at REAL,
        result_json TEXT,
        delivered_at REAL
    );
    CREATE INDEX delegations_status ON delegations(status, delivered_at);
    "#,
];

/// Brings the database to [`SCHEMA_VERSION`], or refuses a newer one.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);")?;
    let current: Option<i64> = conn.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))?;
    let current = current.unwrap_or(0);
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew { found: current, supported: SCHEMA_VERSION });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute("DELETE FROM schema_version", [])?;
        tx.execute("INSERT INTO schema_version(version) VALUES (?1)", [version])?;
        tx.commit()?;
        log::info!("lite.db: migrated to schema version {version}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_an_empty_database_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let rows: i64 = conn.query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 1);
    }

    #[test]
    fn fts_follows_inserts_updates_and_deletes() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO sessions(id, key, platform, created_at, updated_at) VALUES ('s', 'k', 'telegram', 0, 0);
             INSERT INTO messages(session_id, role, content, created_at) VALUES ('s', 'user', 'the café is open', 0);",
        )
        .unwrap();
        let hits = |conn: &Connection, q: &str| -> i64 {
            conn.query_row("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1", [q], |r| r.get(0)).unwrap()
        };
        assert_eq!(hits(&conn, "cafe"), 1, "diacritics are folded");
        conn.execute("UPDATE messages SET content = 'closed now'", []).unwrap();
        assert_eq!(hits(&conn, "cafe"), 0);
        assert_eq!(hits(&conn, "closed"), 1);
        conn.execute("DELETE FROM messages", []).unwrap();
        assert_eq!(hits(&conn, "closed"), 0);
    }
}
