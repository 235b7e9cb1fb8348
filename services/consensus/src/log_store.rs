//! The raft log, vote and committed index in SQLite.
//!
//! WAL journal with `synchronous=FULL`: a committed transaction is on disk.
//! openraft hands over whole batches of entries, and a batch is written in
//! one transaction, so a burst of concurrent client writes costs one fsync.
//! The flush callback fires only after that commit returned, which is what
//! makes an acknowledged write durable.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, Entry, LogState, OptionalSend, RaftLogReader, StorageIOError, Vote};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};

use crate::types::{LogId, StorageError, TypeConfig};

/// A handle on the SQLite log; clones share the connection.
#[derive(Clone)]
pub struct SqliteLogStore {
    conn: Arc<Mutex<Connection>>,
}

fn io_write(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_logs(AnyError::new(&e)).into()
}

fn io_read(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_logs(AnyError::new(&e)).into()
}

/// Runs blocking disk work without stalling the other tasks of the runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl SqliteLogStore {
    /// Opens (or creates) the log database at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);",
        )?;
        Ok(SqliteLogStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StorageError> {
        let conn = self.conn.lock();
        let v: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(io_read)?;
        match v {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b).map(Some).map_err(io_read),
        }
    }

    fn put_meta<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), StorageError> {
        let b = serde_json::to_vec(value).map_err(io_write)?;
        let conn = self.conn.lock();
        blocking(|| {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, b],
            )
        })
        .map_err(io_write)?;
        Ok(())
    }

    fn last_entry_log_id(&self) -> Result<Option<LogId>, StorageError> {
        let conn = self.conn.lock();
        let v: Option<Vec<u8>> = conn
            .query_row("SELECT entry FROM log ORDER BY idx DESC LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(io_read)?;
        match v {
            None => Ok(None),
            Some(b) => {
                let e: Entry<TypeConfig> = serde_json::from_slice(&b).map_err(io_read)?;
                Ok(Some(e.log_id))
            }
        }
    }
}

fn bound_start(b: Bound<&u64>) -> i64 {
    match b {
        Bound::Included(x) => *x as i64,
        Bound::Excluded(x) => *x as i64 + 1,
        Bound::Unbounded => 0,
    }
}

fn bound_end(b: Bound<&u64>) -> i64 {
    match b {
        Bound::Included(x) => (*x as i64).saturating_add(1),
        Bound::Excluded(x) => *x as i64,
        Bound::Unbounded => i64::MAX,
    }
}

impl RaftLogReader<TypeConfig> for SqliteLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let start = bound_start(range.start_bound());
        let end = bound_end(range.end_bound());
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached("SELECT entry FROM log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
            .map_err(io_read)?;
        let rows = stmt
            .query_map(params![start, end], |r| r.get::<_, Vec<u8>>(0))
            .map_err(io_read)?;
        let mut out = Vec::new();
        for row in rows {
            let b = row.map_err(io_read)?;
            out.push(serde_json::from_slice(&b).map_err(io_read)?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for SqliteLogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.get_meta("last_purged")?;
        let last = self.last_entry_log_id()?.or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        self.put_meta("vote", vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        self.get_meta("vote")
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.put_meta("committed", &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.get_meta::<Option<LogId>>("committed")?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut encoded = Vec::new();
        for e in entries {
            encoded.push((
                e.log_id.index as i64,
                serde_json::to_vec(&e).map_err(io_write)?,
            ));
        }
        let mut conn = self.conn.lock();
        let res = blocking(|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            {
                let mut stmt =
                    tx.prepare_cached("INSERT OR REPLACE INTO log (idx, entry) VALUES (?1, ?2)")?;
                for (idx, b) in &encoded {
                    stmt.execute(params![idx, b])?;
                }
            }
            // With synchronous=FULL the commit is the fsync.
            tx.commit()
        });
        match res {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(io_write(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let conn = self.conn.lock();
        blocking(|| conn.execute("DELETE FROM log WHERE idx >= ?1", [log_id.index as i64]))
            .map_err(io_write)?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.put_meta("last_purged", &log_id)?;
        let conn = self.conn.lock();
        blocking(|| conn.execute("DELETE FROM log WHERE idx <= ?1", [log_id.index as i64]))
            .map_err(io_write)?;
        Ok(())
    }
}
