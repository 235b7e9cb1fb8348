//! The raft log, vote, committed log id and last purged log id in SQLite,
//! with group commit.
//!
//! WAL journal with `synchronous=FULL`: a committed transaction is on disk.
//! All writes go, in order, to one writer thread. It takes every operation
//! queued since its last commit (appends from many concurrent client
//! writes, truncations, metadata) and writes them in ONE transaction, so a
//! burst of writes costs one fsync. An append's flush callback fires only
//! after the commit holding it returned: that is what makes an acknowledged
//! write durable.
//!
//! The newest entries (up to [`CACHE_ENTRIES`] or [`CACHE_BYTES`] of them,
//! always the last one, and every entry not yet on disk), the vote and the
//! log pointers are kept in memory, so the raft
//! core reads them without touching SQLite; only a lagging follower's
//! catch-up reads older entries, through a second connection on a blocking
//! thread (WAL readers do not block the writer).
//!
//! The committed log id is written lazily, at most once per
//! [`COMMITTED_IDLE_FLUSH`]: it rides along with the first transaction after
//! that, or is written on its own after that much quiet, so it never costs
//! the write path an extra fsync (nor, mostly, an extra page). Each commit
//! only updates it in memory; the writer thread is woken once per write of
//! it, not once per commit. A stale value is
//! safe: on restart openraft re-applies up to it and the leader commits the
//! rest again.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, Entry, LogState, OptionalSend, RaftLogReader, StorageIOError, Vote};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;
use tracing::error;

use crate::types::{LogId, StorageError, TypeConfig};

/// Entries kept in memory once they are on disk (the tail the state
/// machine and up-to-date followers read).
pub const CACHE_ENTRIES: usize = 8192;

/// Bytes (encoded) of on-disk entries kept in memory: big values batched
/// by many clients must not pin gigabytes.
pub const CACHE_BYTES: usize = 64 << 20;

/// How long a committed log id may wait for a transaction to ride along.
pub const COMMITTED_IDLE_FLUSH: Duration = Duration::from_millis(100);

/// One queued write.
enum Op {
    Append {
        entries: Vec<(u64, Vec<u8>)>,
        callback: LogFlushed<TypeConfig>,
    },
    Truncate {
        from: u64,
        done: oneshot::Sender<Result<(), String>>,
    },
    Purge {
        upto: LogId,
        value: Vec<u8>,
    },
    PutMeta {
        key: &'static str,
        value: Vec<u8>,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// The committed log id in memory changed (sent once per write of it,
    /// not once per change: the writer takes the newest value itself).
    CommittedChanged,
    /// Write the committed log id now if it changed (on stopping: a member
    /// that applied its own removal must find it again on restart).
    Flush {
        done: oneshot::Sender<Result<(), String>>,
    },
}

/// What the raft core reads, kept in memory.
#[derive(Default)]
struct Mem {
    /// The newest contiguous run of entries, by index, with encoded sizes.
    entries: BTreeMap<u64, (Entry<TypeConfig>, usize)>,
    /// Sum of the encoded sizes in `entries`.
    bytes: usize,
    /// Entries up to here are on disk (so may leave the cache).
    durable_upto: u64,
    /// How many on-disk entries the cache keeps.
    cache_entries: usize,
    vote: Option<Vote<u64>>,
    committed: Option<LogId>,
    /// `committed` changed since the writer last wrote it (and the writer
    /// was told): later changes need no wake-up of their own.
    committed_unsaved: bool,
    last_purged: Option<LogId>,
}

impl Mem {
    fn insert(&mut self, e: Entry<TypeConfig>, size: usize) {
        if let Some((_, old)) = self.entries.insert(e.log_id.index, (e, size)) {
            self.bytes -= old;
        }
        self.bytes += size;
    }

    /// Drops the entries at `index` and after.
    fn truncate_from(&mut self, index: u64) {
        let gone = self.entries.split_off(&index);
        self.bytes -= gone.values().map(|(_, n)| n).sum::<usize>();
    }

    /// Drops the entries up to and including `index`.
    fn purge_upto(&mut self, index: u64) {
        let keep = self.entries.split_off(&index.saturating_add(1));
        let gone = std::mem::replace(&mut self.entries, keep);
        self.bytes -= gone.values().map(|(_, n)| n).sum::<usize>();
    }

    /// Lets the oldest on-disk entries go while the cache is over budget;
    /// the newest entry always stays (it is the last log id).
    fn trim(&mut self) {
        while self.entries.len() > 1
            && (self.entries.len() > self.cache_entries || self.bytes > CACHE_BYTES)
        {
            match self.entries.first_key_value() {
                Some((&i, _)) if i <= self.durable_upto => {
                    if let Some((_, (_, n))) = self.entries.pop_first() {
                        self.bytes -= n;
                    }
                }
                _ => break,
            }
        }
    }
}

/// A handle on the SQLite log; clones share the writer, reader and cache.
#[derive(Clone)]
pub struct SqliteLogStore {
    writer: mpsc::Sender<Op>,
    reader: Arc<Mutex<Connection>>,
    mem: Arc<Mutex<Mem>>,
}

fn io_write(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_logs(AnyError::error(e.to_string())).into()
}

fn io_read(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::read_logs(AnyError::error(e.to_string())).into()
}

fn to_sql_err(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn open_conn(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(Duration::from_secs(30))?;
    Ok(conn)
}

fn read_meta<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    key: &str,
) -> rusqlite::Result<Option<T>> {
    let v: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?;
    v.map(|b| serde_json::from_slice(&b).map_err(to_sql_err))
        .transpose()
}

/// Reads the entries with `start <= index < end`, in index order, with
/// their encoded sizes.
fn read_entries(
    conn: &Connection,
    start: u64,
    end: u64,
) -> rusqlite::Result<Vec<(Entry<TypeConfig>, usize)>> {
    let mut stmt =
        conn.prepare_cached("SELECT entry FROM log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")?;
    let rows = stmt.query_map(
        params![
            start.min(i64::MAX as u64) as i64,
            end.min(i64::MAX as u64) as i64
        ],
        |r| r.get::<_, Vec<u8>>(0),
    )?;
    let mut out = Vec::new();
    for row in rows {
        let b = row?;
        out.push((serde_json::from_slice(&b).map_err(to_sql_err)?, b.len()));
    }
    Ok(out)
}

/// Reads the newest `n` entries, in index order.
fn read_tail(conn: &Connection, n: usize) -> rusqlite::Result<Vec<(Entry<TypeConfig>, usize)>> {
    let first: Option<i64> = conn
        .query_row(
            "SELECT idx FROM log ORDER BY idx DESC LIMIT 1 OFFSET ?1",
            [n.saturating_sub(1) as i64],
            |r| r.get(0),
        )
        .optional()?;
    match first {
        Some(first) => read_entries(conn, first as u64, u64::MAX),
        // Fewer than n entries: all of them.
        None => read_entries(conn, 0, u64::MAX),
    }
}

impl SqliteLogStore {
    /// Opens (or creates) the log database at `path`, loads the vote, the
    /// log pointers and the newest entries, and starts the writer thread.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        Self::open_with_cache(path, CACHE_ENTRIES)
    }

    /// [`Self::open`] keeping `cache_entries` on-disk entries in memory
    /// (tests use a tiny cache to exercise reads from disk).
    pub fn open_with_cache(path: &Path, cache_entries: usize) -> rusqlite::Result<Self> {
        let conn = open_conn(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);",
        )?;
        let mut mem = Mem {
            vote: read_meta(&conn, "vote")?,
            committed: read_meta(&conn, "committed")?,
            last_purged: read_meta(&conn, "last_purged")?,
            cache_entries: cache_entries.max(1),
            ..Default::default()
        };
        for (e, size) in read_tail(&conn, mem.cache_entries)? {
            mem.durable_upto = e.log_id.index;
            mem.insert(e, size);
        }
        mem.trim();
        let mem = Arc::new(Mutex::new(mem));
        let reader = open_conn(path)?;
        let (tx, rx) = mpsc::channel();
        let m = mem.clone();
        std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || writer_loop(conn, rx, m))
            .map_err(to_sql_err)?;
        Ok(SqliteLogStore {
            writer: tx,
            reader: Arc::new(Mutex::new(reader)),
            mem,
        })
    }

    /// Writes the committed log id now if it changed since last written.
    pub async fn flush(&self) -> Result<(), StorageError> {
        let (done, rx) = oneshot::channel();
        self.send(Op::Flush { done })?;
        rx.await.map_err(io_write)?.map_err(io_write)
    }

    fn send(&self, op: Op) -> Result<(), StorageError> {
        self.writer
            .send(op)
            .map_err(|_| io_write("the raft log writer has stopped"))
    }

    /// Runs `f` on the reader connection on a blocking thread.
    async fn with_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StorageError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || f(&reader.lock()))
            .await
            .map_err(io_read)?
            .map_err(io_read)
    }
}

/// Drains the queue, writes a batch in one transaction, then reports.
fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Op>, mem: Arc<Mutex<Mem>>) {
    // When the committed log id in memory must be written by, if it changed.
    let mut deferred: Option<Instant> = None;
    loop {
        let first = match &deferred {
            Some(deadline) => {
                let wait = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(wait) {
                    Ok(op) => Some(op),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            None => match rx.recv() {
                Ok(op) => Some(op),
                Err(_) => break,
            },
        };
        let timed_out = first.is_none();
        let mut flush = false;
        let mut work = Vec::new();
        for op in first
            .into_iter()
            .chain(std::iter::from_fn(|| rx.try_recv().ok()))
        {
            match op {
                Op::CommittedChanged => {
                    deferred.get_or_insert_with(|| Instant::now() + COMMITTED_IDLE_FLUSH);
                }
                op @ Op::Flush { .. } => {
                    flush = true;
                    work.push(op);
                }
                op => work.push(op),
            }
        }
        // Only a newer committed id: let it wait for real work.
        if work.is_empty() && !timed_out {
            continue;
        }
        // While busy, the committed id rides along at most once per
        // COMMITTED_IDLE_FLUSH: every transaction carrying it writes one
        // more page (the meta table's) to the WAL before its fsync.
        let due = timed_out || flush || deferred.is_some_and(|d| d <= Instant::now());
        let committed = if due {
            deferred = None;
            take_committed(&mem)
        } else {
            None
        };
        let res = write_batch(&mut conn, &work, committed.as_deref()).map_err(|e| e.to_string());
        if let Err(e) = &res {
            error!("raft log write failed: {e}");
        }
        report(work, &res, &mem);
    }
    // Stopping: do not drop the last committed id.
    if let Some(c) = take_committed(&mem) {
        if let Err(e) = write_batch(&mut conn, &[], Some(&c)) {
            error!("raft log write failed: {e}");
        }
    }
}

/// The committed log id to write, if it changed since it was last taken.
fn take_committed(mem: &Mutex<Mem>) -> Option<Vec<u8>> {
    let mut m = mem.lock();
    if !std::mem::take(&mut m.committed_unsaved) {
        return None;
    }
    match serde_json::to_vec(&m.committed) {
        Ok(v) => Some(v),
        Err(e) => {
            error!("cannot encode the committed log id: {e}");
            None
        }
    }
}

/// Tells everyone waiting on a batch how it went, and lets durable entries
/// leave the cache.
fn report(work: Vec<Op>, res: &Result<(), String>, mem: &Mutex<Mem>) {
    for op in work {
        match op {
            Op::Append { entries, callback } => {
                if res.is_ok() {
                    let mut m = mem.lock();
                    if let Some((last, _)) = entries.last() {
                        m.durable_upto = m.durable_upto.max(*last);
                    }
                    m.trim();
                }
                callback.log_io_completed(res.clone().map_err(std::io::Error::other));
            }
            Op::Truncate { from, done } => {
                if res.is_ok() {
                    let mut m = mem.lock();
                    m.durable_upto = m.durable_upto.min(from.saturating_sub(1));
                }
                let _ = done.send(res.clone());
            }
            Op::PutMeta { done, .. } | Op::Flush { done } => {
                let _ = done.send(res.clone());
            }
            Op::Purge { .. } | Op::CommittedChanged => {}
        }
    }
}

fn put_meta(tx: &rusqlite::Transaction, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

fn write_batch(
    conn: &mut Connection,
    batch: &[Op],
    committed: Option<&[u8]>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for op in batch {
        match op {
            Op::Append { entries, .. } => {
                let mut stmt =
                    tx.prepare_cached("INSERT OR REPLACE INTO log (idx, entry) VALUES (?1, ?2)")?;
                for (idx, b) in entries {
                    stmt.execute(params![*idx as i64, b])?;
                }
            }
            Op::Truncate { from, .. } => {
                tx.execute("DELETE FROM log WHERE idx >= ?1", [*from as i64])?;
            }
            Op::Purge { upto, value } => {
                put_meta(&tx, "last_purged", value)?;
                tx.execute("DELETE FROM log WHERE idx <= ?1", [upto.index as i64])?;
            }
            Op::PutMeta { key, value, .. } => put_meta(&tx, key, value)?,
            Op::CommittedChanged | Op::Flush { .. } => {}
        }
    }
    if let Some(c) = committed {
        put_meta(&tx, "committed", c)?;
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
        let (cached, cache_first) = {
            let m = self.mem.lock();
            let cached: Vec<_> = m
                .entries
                .range(start..end)
                .map(|(_, (e, _))| e.clone())
                .collect();
            (cached, m.entries.first_key_value().map(|(i, _)| *i))
        };
        // Older than the cache: only a lagging follower's catch-up gets here.
        let disk_end = cache_first.unwrap_or(u64::MAX).min(end);
        if start >= disk_end {
            return Ok(cached);
        }
        let mut out = self
            .with_reader(move |c| read_entries(c, start, disk_end))
            .await?
            .into_iter()
            .map(|(e, _)| e)
            .collect::<Vec<_>>();
        out.extend(cached);
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for SqliteLogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let m = self.mem.lock();
        // The cache always holds the newest entry when there is one.
        let last = m
            .entries
            .last_key_value()
            .map(|(_, (e, _))| e.log_id)
            .or(m.last_purged);
        Ok(LogState {
            last_purged_log_id: m.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        let value = serde_json::to_vec(vote).map_err(io_write)?;
        let (done, rx) = oneshot::channel();
        self.send(Op::PutMeta {
            key: "vote",
            value,
            done,
        })?;
        // A vote must be on disk before it is acted upon.
        rx.await.map_err(io_write)?.map_err(io_write)?;
        self.mem.lock().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        Ok(self.mem.lock().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // One wake-up of the writer per write of the id, not one per commit.
        let wake = {
            let mut m = self.mem.lock();
            m.committed = committed;
            !std::mem::replace(&mut m.committed_unsaved, true)
        };
        if wake {
            self.send(Op::CommittedChanged)?;
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.mem.lock().committed)
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
            // Readable at once (openraft requires it), durable at the callback.
            let mut m = self.mem.lock();
            for e in entries {
                let b = serde_json::to_vec(&e).map_err(io_write)?;
                let index = e.log_id.index;
                m.insert(e, b.len());
                encoded.push((index, b));
            }
        }
        self.send(Op::Append {
            entries: encoded,
            callback,
        })
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let emptied = {
            let mut m = self.mem.lock();
            m.truncate_from(log_id.index);
            m.entries.is_empty()
        };
        let (done, rx) = oneshot::channel();
        self.send(Op::Truncate {
            from: log_id.index,
            done,
        })?;
        rx.await.map_err(io_write)?.map_err(io_write)?;
        if emptied {
            // Truncated below the cache: the newest entries left are on disk.
            let n = self.mem.lock().cache_entries;
            let tail = self.with_reader(move |c| read_tail(c, n)).await?;
            let mut m = self.mem.lock();
            for (e, size) in tail {
                if !m.entries.contains_key(&e.log_id.index) {
                    m.insert(e, size);
                }
            }
            m.trim();
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut m = self.mem.lock();
            m.purge_upto(log_id.index);
            m.last_purged = Some(log_id);
        }
        let value = serde_json::to_vec(&log_id).map_err(io_write)?;
        // Not awaited: a purge lost in a crash is simply redone later.
        self.send(Op::Purge {
            upto: log_id,
            value,
        })
    }
}
