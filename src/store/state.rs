//! `platform_state` (each platform's cursor: poll offset, sync token) and `kv` (small flags).

use rusqlite::{OptionalExtension, Transaction, params};

pub fn cursor(tx: &Transaction, platform: &str) -> rusqlite::Result<Option<String>> {
    tx.query_row("SELECT cursor FROM platform_state WHERE platform = ?1", [platform], |r| r.get(0))
        .optional()
        .map(Option::flatten)
}

pub fn set_cursor(tx: &Transaction, platform: &str, cursor: &str, now: f64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO platform_state(platform, cursor, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT(platform) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        params![platform, cursor, now],
    )?;
    Ok(())
}

/// The `kv` value of `key`.
pub fn kv_get(tx: &Transaction, key: &str) -> rusqlite::Result<Option<String>> {
    tx.query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0)).optional().map(Option::flatten)
}

/// Sets `key` in `kv`, replacing its value.
pub fn kv_set(tx: &Transaction, key: &str, value: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO kv(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub fn kv_remove(tx: &Transaction, key: &str) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM kv WHERE key = ?1", [key])?;
    Ok(())
}
