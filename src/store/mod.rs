//! `lite.db`: the one SQLite database, and the one thread that writes it.
//!
//! The store thread owns the only read-write connection. Callers send it jobs (closures) over a
//! channel and await the answer; each job runs in its own `BEGIN IMMEDIATE` transaction, in
//! order. That gives the gateway one writer with no lock contention, and keeps SQLite's blocking
//! I/O off the executor thread. The CLI opens its own short connection instead (`open_cli`),
//! relying on WAL and `busy_timeout` while the gateway runs.
//!
//! The tables and their rules are in `10-messaging.md` M7–M9; one module per table group.

pub mod compaction;
pub mod delegations;
pub mod history;
pub mod inbox;
pub mod messages;
pub mod outbox;
mod schema;
pub mod sessions;
pub mod state;

use std::any::Any;
use std::path::Path;
use std::thread;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

/// Why the store could not do something.
#[derive(Debug)]
pub enum StoreError {
    /// The database was written by a newer hermes-lite (exit 78).
    TooNew { found: i64, supported: i64 },
    /// The file is not a database we can read (corrupt, or not SQLite).
    Corrupt(String),
    /// Any other SQLite error (disk full, read-only, ...).
    Sqlite(rusqlite::Error),
    /// The store thread is gone (the gateway is stopping).
    Closed,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::TooNew { found, supported } => write!(
                f,
                "lite.db has schema version {found}, newer than this hermes-lite supports ({supported}); \
                 run a newer hermes-lite or restore a backup"
            ),
            StoreError::Corrupt(why) => write!(f, "{why}"),
            StoreError::Sqlite(e) => write!(f, "database error: {e}"),
            StoreError::Closed => write!(f, "the store is closed"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;
/// A store call with its result type erased (see [`Store::call_erased`]).
type Erased = Box<dyn FnOnce(&Transaction) -> rusqlite::Result<Box<dyn Any + Send>> + Send>;

/// A handle to the store thread. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    jobs: async_channel::Sender<Job>,
}

impl Store {
    /// Opens (creating or migrating) `path` and starts the store thread.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = open_connection(path)?;
        // A bounded queue: callers wait (backpressure) instead of piling up jobs in memory.
        let (tx, rx) = async_channel::bounded::<Job>(256);
        thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                let mut conn = conn;
                while let Ok(job) = rx.recv_blocking() {
                    job(&mut conn);
                }
                let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start the store thread: {e}")))?;
        Ok(Store { jobs: tx })
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the store thread and returns its result.
    /// An error rolls the transaction back.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> rusqlite::Result<T> + Send + 'static,
    {
        let erased: Erased = Box::new(move |tx| f(tx).map(|v| Box::new(v) as Box<dyn Any + Send>));
        let value = self.call_erased(erased).await?;
        Ok(*value.downcast::<T>().expect("a store call returns the type it was given"))
    }

    /// [`Store::call`] without its types: one copy of the channel and await code serves every
    /// call site (generic copies of it cost tens of KiB of binary).
    async fn call_erased(&self, f: Erased) -> Result<Box<dyn Any + Send>> {
        let (reply_tx, reply_rx) = async_channel::bounded(1);
        let job: Job = Box::new(move |conn| {
            let result = run_in_transaction(conn, f);
            let _ = reply_tx.try_send(result);
        });
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        reply_rx.recv().await.map_err(|_| StoreError::Closed)?
    }

    /// Like [`Store::call`], for threads outside the executor (tool threads, tests).
    pub fn call_blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> rusqlite::Result<T> + Send + 'static,
    {
        smol::block_on(self.call(f))
    }

    /// Stops the thread after the jobs already queued (it checkpoints the WAL on the way out).
    pub fn close(&self) {
        self.jobs.close();
    }
}

fn run_in_transaction<T>(conn: &mut Connection, f: impl FnOnce(&Transaction) -> rusqlite::Result<T>) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

/// Opens the database for the gateway: pragmas, then migrations.
fn open_connection(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| describe_open_error(path, e))?;
    set_permissions(path);
    configure(&conn).map_err(|e| describe_open_error(path, e))?;
    schema::migrate(&mut conn).map_err(|e| match e {
        StoreError::Sqlite(e) => describe_open_error(path, e),
        other => other,
    })?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // journal_mode returns a row; read it rather than execute_batch.
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if mode != "wal" {
        log::warn!("lite.db: WAL mode unavailable here (journal_mode={mode}); continuing");
    }
    conn.execute_batch(
        "PRAGMA synchronous=NORMAL;
         PRAGMA foreign_keys=ON;
         PRAGMA cache_size=-512;
         PRAGMA temp_store=MEMORY;",
    )
}

fn describe_open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    let text = e.to_string();
    if text.contains("not a database") || text.contains("malformed") || text.contains("corrupt") {
        StoreError::Corrupt(format!(
            "{} is damaged ({text}). hermes-lite never overwrites it: move it aside \
             (mv {p} {p}.broken) to start with an empty store, or restore a backup",
            path.display(),
            p = path.display()
        ))
    } else {
        StoreError::Sqlite(e)
    }
}

fn set_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

/// Seconds since the Unix epoch, as stored in every `*_at` column.
pub fn now() -> f64 {
    crate::clock::now()
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use std::path::PathBuf;

    /// A store in a fresh temporary directory; the directory is removed on drop.
    pub struct TempStore {
        pub store: Store,
        pub dir: PathBuf,
    }

    impl TempStore {
        pub fn new() -> TempStore {
            let dir = crate::test_util::temp_dir("store");
            let store = Store::open(&dir.join("lite.db")).unwrap();
            TempStore { store, dir }
        }
    }

    impl Drop for TempStore {
        fn drop(&mut self) {
            self.store.close();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::TempStore;
    use super::*;

    #[test]
    fn calls_run_in_order_and_errors_roll_back() {
        let t = TempStore::new();
        smol::block_on(async {
            t.store.call(|tx| tx.execute("INSERT INTO kv(key, value) VALUES ('a', '1')", [])).await.unwrap();
            let failed = t
                .store
                .call(|tx| {
                    tx.execute("INSERT INTO kv(key, value) VALUES ('b', '2')", [])?;
                    tx.execute("INSERT INTO kv(key, value) VALUES ('a', 'dup')", [])
                })
                .await;
            assert!(failed.is_err());
            let keys: Vec<String> = t
                .store
                .call(|tx| {
                    let mut st = tx.prepare("SELECT key FROM kv ORDER BY key")?;
                    let rows = st.query_map([], |r| r.get(0))?;
                    rows.collect()
                })
                .await
                .unwrap();
            assert_eq!(keys, vec!["a".to_string()]);
        });
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = crate::test_util::temp_dir("store-new");
        let path = dir.join("lite.db");
        {
            let t = Store::open(&path).unwrap();
            t.call_blocking(|tx| tx.execute("UPDATE schema_version SET version = 999", [])).unwrap();
            t.close();
        }
        // The thread may still hold the file briefly; opening a second connection is fine in WAL.
        match Store::open(&path) {
            Err(StoreError::TooNew { found: 999, .. }) => {}
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("opened a newer schema"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_file_is_refused_and_left_alone() {
        let dir = crate::test_util::temp_dir("store-bad");
        let path = dir.join("lite.db");
        std::fs::write(
            &path,
            b"this is not sqlite at all, not even close.............................................",
        )
        .unwrap();
        let before = std::fs::read(&path).unwrap();
        match Store::open(&path) {
            Err(StoreError::Corrupt(msg)) => assert!(msg.contains("move it aside"), "{msg}"),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("opened a damaged file"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
