//! `delegations`: one row per background delegation (A23).
//!
//! The registry keeps running delegations in memory; the row is what survives a restart. At
//! startup a row still `running` is one whose children died with the old process, so the chat is
//! told it was lost; a finished row without `delivered_at` is a result the chat never got, so it
//! is delivered, and `delivered_at` makes that happen exactly once.

// Used by the background delegation registry, which lands after this module.

use hermes_platform::Source;
use rusqlite::{OptionalExtension, Row, Transaction, params};

/// Finished rows older than this are pruned (Hermes keeps delivered rows 7 days).
const RETENTION_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// One background delegation as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct DelegationRow {
    pub id: String,
    pub session_id: String,
    pub session_key: String,
    /// Where the completion is injected (the chat that dispatched it).
    pub source: Source,
    pub goals: Vec<String>,
    pub context: Option<String>,
    pub role: String,
    pub model: String,
    /// `running`, `completed`, `error`, `interrupted` or `lost`.
    pub status: String,
    pub dispatched_at: f64,
    pub completed_at: Option<f64>,
    pub result_json: Option<String>,
    pub delivered_at: Option<f64>,
}

const COLUMNS: &str = "id, session_id, session_key, source_json, goal_json, context, role, model, status, \
     dispatched_at, completed_at, result_json, delivered_at";

/// `None` (with a warning) when the stored JSON does not parse: one damaged row must not stop
/// the others from being reported or delivered.
fn from_row(r: &Row) -> rusqlite::Result<Option<DelegationRow>> {
    let id: String = r.get(0)?;
    let source_json: String = r.get(3)?;
    let goal_json: String = r.get(4)?;
    let source = match miniserde::json::from_str::<Source>(&source_json) {
        Ok(source) => source,
        Err(_) => {
            log::warn!("delegation {id}: stored source does not parse; skipping the row");
            return Ok(None);
        }
    };
    let goals = match miniserde::json::from_str::<Vec<String>>(&goal_json) {
        Ok(goals) => goals,
        Err(_) => {
            log::warn!("delegation {id}: stored goals do not parse; skipping the row");
            return Ok(None);
        }
    };
    Ok(Some(DelegationRow {
        id,
        session_id: r.get(1)?,
        session_key: r.get(2)?,
        source,
        goals,
        context: r.get(5)?,
        role: r.get(6)?,
        model: r.get(7)?,
        status: r.get(8)?,
        dispatched_at: r.get(9)?,
        completed_at: r.get(10)?,
        result_json: r.get(11)?,
        delivered_at: r.get(12)?,
    }))
}

fn list(tx: &Transaction, filter: &str, order: &str) -> rusqlite::Result<Vec<DelegationRow>> {
    let mut stmt = tx.prepare(&format!("SELECT {COLUMNS} FROM delegations WHERE {filter} ORDER BY {order}"))?;
    let rows = stmt.query_map([], from_row)?;
    let mut out = Vec::new();
    for row in rows {
        if let Some(row) = row? {
            out.push(row);
        }
    }
    Ok(out)
}

pub fn insert(tx: &Transaction, row: &DelegationRow) -> rusqlite::Result<()> {
    tx.execute(
        &format!("INSERT INTO delegations({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
        params![
            row.id,
            row.session_id,
            row.session_key,
            miniserde::json::to_string(&row.source),
            miniserde::json::to_string(&row.goals),
            row.context,
            row.role,
            row.model,
            row.status,
            row.dispatched_at,
            row.completed_at,
            row.result_json,
            row.delivered_at
        ],
    )?;
    Ok(())
}

/// running → `status` with the result and `completed_at`; false when the row was not running
/// (already finished, or marked lost by a restart).
pub fn finish(tx: &Transaction, id: &str, status: &str, result_json: &str, now: f64) -> rusqlite::Result<bool> {
    let changed = tx.execute(
        "UPDATE delegations SET status = ?2, result_json = ?3, completed_at = ?4 WHERE id = ?1 AND status = 'running'",
        params![id, status, result_json, now],
    )?;
    Ok(changed == 1)
}

/// Sets `delivered_at` once; false when it was already set (or no such row), so a second
/// delivery attempt knows to stay silent.
pub fn mark_delivered(tx: &Transaction, id: &str, now: f64) -> rusqlite::Result<bool> {
    let changed = tx
        .execute("UPDATE delegations SET delivered_at = ?2 WHERE id = ?1 AND delivered_at IS NULL", params![id, now])?;
    Ok(changed == 1)
}

/// At startup: every `running` row becomes `lost` (its children died with the old process) and
/// is returned so its chat can be told. `delivered_at` is set at once: the notice is sent at most
/// once, even if this startup crashes before sending it.
pub fn mark_lost(tx: &Transaction, now: f64) -> rusqlite::Result<Vec<DelegationRow>> {
    let mut rows = list(tx, "status = 'running'", "dispatched_at, id")?;
    tx.execute(
        "UPDATE delegations SET status = 'lost', completed_at = ?1, delivered_at = ?1 WHERE status = 'running'",
        [now],
    )?;
    for row in &mut rows {
        row.status = "lost".into();
        row.completed_at = Some(now);
        row.delivered_at = Some(now);
    }
    Ok(rows)
}

/// Finished (`completed`, `error`, `interrupted`) rows not yet delivered, oldest first.
pub fn undelivered(tx: &Transaction) -> rusqlite::Result<Vec<DelegationRow>> {
    list(
        tx,
        "status IN ('completed', 'error', 'interrupted') AND delivered_at IS NULL",
        "completed_at, dispatched_at, id",
    )
}

pub fn get(tx: &Transaction, id: &str) -> rusqlite::Result<Option<DelegationRow>> {
    let row = tx.query_row(&format!("SELECT {COLUMNS} FROM delegations WHERE id = ?1"), [id], from_row).optional()?;
    Ok(row.flatten())
}

/// Deletes rows that are not running and were dispatched more than 7 days before `now`;
/// returns how many.
pub fn prune(tx: &Transaction, now: f64) -> rusqlite::Result<usize> {
    tx.execute("DELETE FROM delegations WHERE status != 'running' AND dispatched_at < ?1", [now - RETENTION_SECONDS])
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_platform::ChatType;
    use rusqlite::Connection;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        conn
    }

    fn row(id: &str, status: &str, dispatched_at: f64) -> DelegationRow {
        DelegationRow {
            id: id.into(),
            session_id: "s1".into(),
            session_key: "agent:main:telegram:dm:42".into(),
            source: Source {
                platform: "telegram".into(),
                chat_id: "42".into(),
                chat_name: None,
                chat_type: ChatType::Dm,
                user_id: Some("7".into()),
                user_name: Some("ann".into()),
                thread_id: None,
                is_bot: false,
                role_authorized: None,
            },
            goals: vec!["find the bug".into(), "write \"tests\"".into()],
            context: Some("repo at /src".into()),
            role: "leaf".into(),
            model: "gpt-x".into(),
            status: status.into(),
            dispatched_at,
            completed_at: None,
            result_json: None,
            delivered_at: None,
        }
    }

    fn ids(rows: &[DelegationRow]) -> Vec<&str> {
        rows.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn insert_then_get_round_trips() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let r = row("deleg_1", "running", 100.0);
        insert(&tx, &r).unwrap();
        assert_eq!(get(&tx, "deleg_1").unwrap(), Some(r));
        assert_eq!(get(&tx, "nope").unwrap(), None);
    }

    #[test]
    fn finish_only_from_running() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        insert(&tx, &row("d", "running", 100.0)).unwrap();
        assert!(finish(&tx, "d", "completed", "{\"results\":[]}", 150.0).unwrap());
        assert!(!finish(&tx, "d", "error", "{}", 160.0).unwrap());
        assert!(!finish(&tx, "missing", "error", "{}", 160.0).unwrap());
        let got = get(&tx, "d").unwrap().unwrap();
        assert_eq!(got.status, "completed");
        assert_eq!(got.completed_at, Some(150.0));
        assert_eq!(got.result_json.as_deref(), Some("{\"results\":[]}"));
    }

    #[test]
    fn mark_delivered_only_once() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        insert(&tx, &row("d", "running", 100.0)).unwrap();
        finish(&tx, "d", "completed", "{}", 150.0).unwrap();
        assert!(mark_delivered(&tx, "d", 151.0).unwrap());
        assert!(!mark_delivered(&tx, "d", 152.0).unwrap());
        assert!(!mark_delivered(&tx, "missing", 152.0).unwrap());
        assert_eq!(get(&tx, "d").unwrap().unwrap().delivered_at, Some(151.0));
    }

    #[test]
    fn mark_lost_returns_running_rows_and_leaves_finished_ones() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        insert(&tx, &row("run1", "running", 100.0)).unwrap();
        insert(&tx, &row("run2", "running", 90.0)).unwrap();
        insert(&tx, &row("done", "running", 80.0)).unwrap();
        finish(&tx, "done", "completed", "{}", 120.0).unwrap();
        let lost = mark_lost(&tx, 200.0).unwrap();
        assert_eq!(ids(&lost), ["run2", "run1"]);
        assert!(lost.iter().all(|r| r.status == "lost" && r.delivered_at == Some(200.0)));
        assert_eq!(get(&tx, "run1").unwrap().unwrap().status, "lost");
        assert_eq!(get(&tx, "run1").unwrap().unwrap().completed_at, Some(200.0));
        let done = get(&tx, "done").unwrap().unwrap();
        assert_eq!((done.status.as_str(), done.completed_at), ("completed", Some(120.0)));
        assert!(mark_lost(&tx, 300.0).unwrap().is_empty(), "a second startup finds nothing running");
        assert!(undelivered(&tx).unwrap().iter().all(|r| r.id == "done"), "lost rows are not delivered again");
    }

    #[test]
    fn undelivered_lists_finished_undelivered_rows_oldest_first() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        for (id, status, done_at) in
            [("a", "completed", 130.0), ("b", "error", 110.0), ("c", "interrupted", 120.0), ("d", "completed", 100.0)]
        {
            insert(&tx, &row(id, "running", 50.0)).unwrap();
            finish(&tx, id, status, "{}", done_at).unwrap();
        }
        insert(&tx, &row("running", "running", 50.0)).unwrap();
        mark_delivered(&tx, "d", 140.0).unwrap();
        assert_eq!(ids(&undelivered(&tx).unwrap()), ["b", "c", "a"]);
    }

    #[test]
    fn a_row_with_an_unparsable_source_is_skipped_not_fatal() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        insert(&tx, &row("good", "running", 100.0)).unwrap();
        insert(&tx, &row("bad", "running", 90.0)).unwrap();
        tx.execute("UPDATE delegations SET source_json = '{not json' WHERE id = 'bad'", []).unwrap();
        assert_eq!(get(&tx, "bad").unwrap(), None);
        assert_eq!(ids(&mark_lost(&tx, 200.0).unwrap()), ["good"]);
        let status: String = tx.query_row("SELECT status FROM delegations WHERE id = 'bad'", [], |r| r.get(0)).unwrap();
        assert_eq!(status, "lost", "the damaged row is still marked lost, so it is never resumed");
    }

    #[test]
    fn prune_keeps_running_and_recent_rows() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let now = 10.0 * 86400.0;
        let old = now - 8.0 * 86400.0;
        insert(&tx, &row("old-running", "running", old)).unwrap();
        insert(&tx, &row("old-done", "running", old)).unwrap();
        finish(&tx, "old-done", "completed", "{}", old + 10.0).unwrap();
        insert(&tx, &row("recent-done", "running", now - 86400.0)).unwrap();
        finish(&tx, "recent-done", "completed", "{}", now - 86000.0).unwrap();
        assert_eq!(prune(&tx, now).unwrap(), 1);
        assert_eq!(get(&tx, "old-done").unwrap(), None);
        assert!(get(&tx, "old-running").unwrap().is_some());
        assert!(get(&tx, "recent-done").unwrap().is_some());
    }
}
