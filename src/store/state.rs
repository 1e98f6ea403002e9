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
