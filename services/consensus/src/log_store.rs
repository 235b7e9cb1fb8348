//! The raft log, vote and committed index in SQLite, with group commit.
//!
//! WAL journal with `synchronous=FULL`: a committed transaction is on disk.
//! All writes go, in order, to one writer thread. It takes every operation
//! queued since its last commit (appends from many concurrent client
//! writes, truncations, metadata) and writes them in ONE transaction, so a
//! burst of writes costs one fsync. An append's flush callback fires only
//! after the commit holding it returned: that is what makes an acknowledged
//! write durable. Entries appended but not yet committed stay readable from
//! an in-memory overlay; committed ones are read through a second
//! connection (WAL readers do not block the writer).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, Entry, LogState, OptionalSend, RaftLogReader, StorageIOError, Vote};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::types::{LogId, StorageError, TypeConfig};

/// One queued write.
enum Op {
    Append {
        entries: Vec<(u64, LogId, Vec<u8>)>,
        callback: LogFlushed<TypeConfig>,
    },
    Truncate {
        from: u64,
        done: oneshot::Sender<Result<(), String>>,
    },
    Purge {
        upto: LogId,
        done: oneshot::Sender<Result<(), String>>,
    },
    PutMeta {
        key: &'static str,
        value: Vec<u8>,
        done: Option<oneshot::Sender<Result<(), String>>>,
    },
}

/// Appended entries whose transaction has not committed yet, by index.
type Pending = Arc<Mutex<BTreeMap<u64, (LogId, Entry<TypeConfig>)>>>;

/// A handle on the SQLite log; clones share the writer and the reader.
#[derive(Clone)]
pub struct SqliteLogStore {
    writer: mpsc::Sender<Op>,
    reader: Arc<Mutex<Connection>>,
    /// Appended entries whose transaction has not committed yet.
    pending: Pending,
}

fn io_write(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_logs(AnyError::error(e.to_string())).into()
}

fn io_read(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_logs(AnyError::new(&e)).into()
}

fn open_conn(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(conn)
}

impl SqliteLogStore {
    /// Opens (or creates) the log database at `path` and starts its writer.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = open_conn(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);",
        )?;
        let reader = open_conn(path)?;
        let pending = Arc::new(Mutex::new(BTreeMap::new()));
        let (tx, rx) = mpsc::channel();
        let p = pending.clone();
        std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || writer_loop(conn, rx, p))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(SqliteLogStore {
            writer: tx,
            reader: Arc::new(Mutex::new(reader)),
            pending,
        })
    }

    fn send(&self, op: Op) -> Result<(), StorageError> {
        self.writer
            .send(op)
            .map_err(|_| io_write("the raft log writer has stopped"))
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StorageError> {
        let conn = self.reader.lock();
        let v: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(io_read)?;
        match v {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b).map(Some).map_err(io_read),
        }
    }

    async fn put_meta<T: serde::Serialize>(
        &self,
        key: &'static str,
        value: &T,
        wait: bool,
    ) -> Result<(), StorageError> {
        let value = serde_json::to_vec(value).map_err(io_write)?;
        if !wait {
            return self.send(Op::PutMeta {
                key,
                value,
                done: None,
            });
        }
        let (done, rx) = oneshot::channel();
        self.send(Op::PutMeta {
            key,
            value,
            done: Some(done),
        })?;
        rx.await.map_err(io_write)?.map_err(io_write)
    }

    fn last_committed_log_id(&self) -> Result<Option<LogId>, StorageError> {
        let conn = self.reader.lock();
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

/// Drains the queue, writes a batch in one transaction, then reports.
fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Op>, pending: Pending) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(op) = rx.try_recv() {
            batch.push(op);
        }
        let res = write_batch(&mut conn, &batch).map_err(|e| e.to_string());
        for op in batch {
            match op {
                Op::Append { entries, callback } => {
                    if res.is_ok() {
                        let mut p = pending.lock();
                        for (idx, log_id, _) in &entries {
                            if p.get(idx).map(|(l, _)| l) == Some(log_id) {
                                p.remove(idx);
                            }
                        }
                    }
                    callback.log_io_completed(res.clone().map_err(std::io::Error::other));
                }
                Op::Truncate { done, .. } | Op::Purge { done, .. } => {
                    let _ = done.send(res.clone());
                }
                Op::PutMeta { done, .. } => {
                    if let Some(d) = done {
                        let _ = d.send(res.clone());
                    }
                }
            }
        }
    }
}

fn write_batch(conn: &mut Connection, batch: &[Op]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for op in batch {
        match op {
            Op::Append { entries, .. } => {
                let mut stmt =
                    tx.prepare_cached("INSERT OR REPLACE INTO log (idx, entry) VALUES (?1, ?2)")?;
                for (idx, _, b) in entries {
                    stmt.execute(params![*idx as i64, b])?;
                }
            }
            Op::Truncate { from, .. } => {
                tx.execute("DELETE FROM log WHERE idx >= ?1", [*from as i64])?;
            }
            Op::Purge { upto, .. } => {
                let v = serde_json::to_vec(upto)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('last_purged', ?1)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![v],
                )?;
                tx.execute("DELETE FROM log WHERE idx <= ?1", [upto.index as i64])?;
            }
            Op::PutMeta { key, value, .. } => {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![key, value],
                )?;
            }
        }
    }
    // With synchronous=FULL the commit is the (one) fsync of the batch.
    tx.commit()
}

fn bound_start(b: Bound<&u64>) -> u64 {
    match b {
        Bound::Included(x) => *x,
        Bound::Excluded(x) => x.saturating_add(1),
        Bound::Unbounded => 0,
    }
}

fn bound_end(b: Bound<&u64>) -> u64 {
    match b {
        Bound::Included(x) => x.saturating_add(1),
        Bound::Excluded(x) => *x,
        Bound::Unbounded => u64::MAX,
    }
}

impl RaftLogReader<TypeConfig> for SqliteLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let start = bound_start(range.start_bound());
        let end = bound_end(range.end_bound());
        if start >= end {
            return Ok(Vec::new());
        }
        let mut out: BTreeMap<u64, Entry<TypeConfig>> = BTreeMap::new();
        {
            let conn = self.reader.lock();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT idx, entry FROM log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
                )
                .map_err(io_read)?;
            let rows = stmt
                .query_map(
                    params![start as i64, end.min(i64::MAX as u64) as i64],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
                )
                .map_err(io_read)?;
            for row in rows {
                let (idx, b) = row.map_err(io_read)?;
                out.insert(idx as u64, serde_json::from_slice(&b).map_err(io_read)?);
            }
        }
        // Entries still on their way to disk are newer than what SQLite has.
        for (idx, (_, e)) in self.pending.lock().range(start..end) {
            out.insert(*idx, e.clone());
        }
        Ok(out.into_values().collect())
    }
}

impl RaftLogStorage<TypeConfig> for SqliteLogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.get_meta("last_purged")?;
        let pending_last = self.pending.lock().values().next_back().map(|(l, _)| *l);
        let last = pending_last
            .or(self.last_committed_log_id()?)
            .or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        // A vote must be on disk before it is acted upon.
        self.put_meta("vote", vote, true).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        self.get_meta("vote")
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
        {
            let mut p = self.pending.lock();
            for e in entries {
                let b = serde_json::to_vec(&e).map_err(io_write)?;
                encoded.push((e.log_id.index, e.log_id, b));
                p.insert(e.log_id.index, (e.log_id, e));
            }
        }
        self.send(Op::Append {
            entries: encoded,
            callback,
        })
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut p = self.pending.lock();
            let _ = p.split_off(&log_id.index);
        }
        let (done, rx) = oneshot::channel();
        self.send(Op::Truncate {
            from: log_id.index,
            done,
        })?;
        rx.await.map_err(io_write)?.map_err(io_write)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let (done, rx) = oneshot::channel();
        self.send(Op::Purge { upto: log_id, done })?;
        rx.await.map_err(io_write)?.map_err(io_write)
    }
}
