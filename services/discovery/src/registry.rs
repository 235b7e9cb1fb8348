//! The discovery service's keys: etcd's v2 store (`concord-store`, the
//! same tree, indexes, errors and events a member serves) in memory, made
//! durable in SQLite, and published to a watch hub (`concord-watch`) for
//! `wait=true` requests.
//!
//! Every write is applied to the store, then recorded in the `log` table
//! (the command and the time it was applied at) in a transaction that
//! commits with `synchronous=FULL` (an fsync) before the hub or the client
//! hears of it: an answered registration survives a kill -9 or a power
//! loss. A start loads the newest `snapshot` row and re-applies the log
//! after it; the store is pure (it never reads a clock), so the replay
//! rebuilds exactly the same tree and indexes. Every [`SNAPSHOT_EVERY`]
//! writes the store is saved and the log before it dropped, in one
//! transaction.
//!
//! The `tokens` table records when each token (the first key component
//! under `/_etcd/registry`) was first written; [`Registry::expire_tokens`]
//! deletes the tokens older than the TTL, as a recorded `delete` of the
//! token's directory, so watchers see it go.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use concord_api::{ApiError, EventSink, KvResponse, RaftPosition, ReadRequest};
use concord_store::{Applied, Command, Store, StoreStats, UnixNanos};
use concord_watch::WatchHub;
use rusqlite::{params, Connection, OptionalExtension};
use tracing::{error, info};

/// Where tokens live in the key space (discovery.etcd.io's prefix).
pub const REGISTRY_DIR: &str = "/_etcd/registry";
/// The SQLite file inside the data dir.
pub const DB_FILE: &str = "discovery.db";
/// Writes between two snapshots of the store.
pub const SNAPSHOT_EVERY: u64 = 1000;

/// Why the registry cannot open or record.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot create the data dir {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("{path}: damaged: {why}")]
    Damaged { path: String, why: String },
}

/// The time now, in Unix nanoseconds.
pub fn now_nanos() -> UnixNanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

struct Inner {
    store: Store,
    db: Connection,
    /// Writes recorded so far (the last `log.seq`): the `X-Raft-Index`.
    seq: u64,
    /// `log.seq` covered by the newest snapshot.
    snapshot_seq: u64,
    /// Token -> when it was first written.
    tokens: BTreeMap<String, UnixNanos>,
}

/// The durable store behind the discovery service, shared by the HTTP
/// handlers (as `concord_api::Kv`) and the expiry task.
pub struct Registry {
    inner: Mutex<Inner>,
    hub: Arc<WatchHub>,
    path: PathBuf,
    cluster_id: u64,
}

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> RegistryError + '_ {
    move |source| RegistryError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

/// The token a key belongs to: its first component under the registry.
pub fn token_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(REGISTRY_DIR)?.strip_prefix('/')?;
    let token = rest.split('/').next().unwrap_or("");
    (!token.is_empty()).then_some(token)
}

fn command_key(cmd: &Command) -> Option<&str> {
    match cmd {
        Command::Set { key, .. }
        | Command::Create { key, .. }
        | Command::Update { key, .. }
        | Command::CompareAndSwap { key, .. }
        | Command::Delete { key, .. }
        | Command::CompareAndDelete { key, .. } => Some(key),
        Command::ExpireKeys => None,
    }
}

impl Registry {
    /// Opens (or creates) the registry in `data_dir`, replaying what the
    /// last run recorded.
    pub fn open(data_dir: &Path) -> Result<Arc<Registry>, RegistryError> {
        std::fs::create_dir_all(data_dir).map_err(|source| RegistryError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let e = sql(&path);
        let db = Connection::open(&path).map_err(&e)?;
        db.pragma_update(None, "journal_mode", "WAL").map_err(&e)?;
        db.pragma_update(None, "synchronous", "FULL").map_err(&e)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1),
                 seq INTEGER NOT NULL, store BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL,
                 command TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY,
                 created_at INTEGER NOT NULL);",
        )
        .map_err(&e)?;
        let cluster_id: Option<String> = db
            .query_row("SELECT value FROM meta WHERE key = 'cluster_id'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(&e)?;
        let cluster_id = match cluster_id {
            Some(hex) => u64::from_str_radix(&hex, 16).map_err(|_| RegistryError::Damaged {
                path: path.display().to_string(),
                why: format!("cluster_id {hex:?} is not hex"),
            })?,
            None => {
                let mut b = [0u8; 8];
                getrandom::fill(&mut b).map_err(|err| RegistryError::Damaged {
                    path: path.display().to_string(),
                    why: format!("no random source: {err}"),
                })?;
                let id = u64::from_be_bytes(b);
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('cluster_id', ?1)",
                    params![format!("{id:x}")],
                )
                .map_err(&e)?;
                id
            }
        };
        let snap: Option<(u64, Vec<u8>)> = db
            .query_row("SELECT seq, store FROM snapshot WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(&e)?;
        let (mut store, snapshot_seq) = match snap {
            Some((seq, data)) => (
                Store::recover(&data).map_err(|err| RegistryError::Damaged {
                    path: path.display().to_string(),
                    why: err.to_string(),
                })?,
                seq,
            ),
            None => (Store::new(), 0),
        };
        let mut seq = snapshot_seq;
        {
            let mut stmt = db
                .prepare("SELECT seq, at, command FROM log WHERE seq > ?1 ORDER BY seq")
                .map_err(&e)?;
            let rows = stmt
                .query_map(params![snapshot_seq], |r| {
                    Ok((
                        r.get::<_, u64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(&e)?;
            for row in rows {
                let (s, at, text) = row.map_err(&e)?;
                let cmd: Command =
                    serde_json::from_str(&text).map_err(|err| RegistryError::Damaged {
                        path: path.display().to_string(),
                        why: format!("log entry {s}: {err}"),
                    })?;
                let _ = store.apply(&cmd, at);
                seq = s;
            }
        }
        let mut tokens = BTreeMap::new();
        {
            let mut stmt = db
                .prepare("SELECT token, created_at FROM tokens")
                .map_err(&e)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(&e)?;
            for row in rows {
                let (t, at) = row.map_err(&e)?;
                tokens.insert(t, at);
            }
        }
        info!(
            "recovered the registry from {}: {} token(s), store index {}, {} write(s) replayed",
            path.display(),
            tokens.len(),
            store.index(),
            seq - snapshot_seq
        );
        let hub = Arc::new(WatchHub::new(store.index()));
        Ok(Arc::new(Registry {
            inner: Mutex::new(Inner {
                store,
                db,
                seq,
                snapshot_seq,
                tokens,
            }),
            hub,
            path: path.clone(),
            cluster_id,
        }))
    }

    /// The watch hub that sees every recorded event.
    pub fn hub(&self) -> Arc<WatchHub> {
        self.hub.clone()
    }

    /// A random ID, chosen when the data dir was created
    /// (`X-Etcd-Cluster-ID`).
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies, records and publishes one write (blocking: it fsyncs).
    pub fn write_blocking(&self, cmd: &Command) -> Result<KvResponse, ApiError> {
        let now = now_nanos();
        let mut g = self.lock();
        let event = match g.store.apply(cmd, now) {
            Applied::Write(Ok(event)) => vec![event],
            Applied::Write(Err(e)) => return Err(ApiError::Store(e)),
            Applied::Expired(events) => events,
        };
        if let Err(e) = self.record(&mut g, cmd, now) {
            // The store already holds the write and the disk does not: no
            // answer may claim it, and the memory cannot be taken back.
            // Stop, as etcd stops when it cannot write its WAL.
            error!(
                "cannot record a write in {}: {e}; stopping",
                self.path.display()
            );
            std::process::exit(1);
        }
        for ev in &event {
            self.hub.publish(Arc::new(ev.clone()));
        }
        let raft = RaftPosition {
            index: g.seq,
            term: 1,
        };
        match event.into_iter().last() {
            Some(event) => Ok(KvResponse { event, raft }),
            None => Err(ApiError::Internal("nothing was written".into())),
        }
    }

    /// One transaction: the command, the token's first write, and every
    /// [`SNAPSHOT_EVERY`] writes a snapshot replacing the log before it.
    fn record(&self, g: &mut Inner, cmd: &Command, now: UnixNanos) -> rusqlite::Result<()> {
        let text = serde_json::to_string(cmd)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let seq = g.seq + 1;
        let new_token = command_key(cmd)
            .and_then(token_of)
            .filter(|t| !g.tokens.contains_key(*t))
            .map(str::to_string);
        let snapshot = (seq - g.snapshot_seq >= SNAPSHOT_EVERY).then(|| g.store.save());
        let tx = g.db.transaction()?;
        tx.execute(
            "INSERT INTO log (seq, at, command) VALUES (?1, ?2, ?3)",
            params![seq, now, text],
        )?;
        if let Some(t) = &new_token {
            tx.execute(
                "INSERT OR IGNORE INTO tokens (token, created_at) VALUES (?1, ?2)",
                params![t, now],
            )?;
        }
        if let Some(data) = &snapshot {
            tx.execute(
                "INSERT OR REPLACE INTO snapshot (id, seq, store) VALUES (1, ?1, ?2)",
                params![seq, data],
            )?;
            tx.execute("DELETE FROM log WHERE seq <= ?1", params![seq])?;
        }
        tx.commit()?;
        g.seq = seq;
        if snapshot.is_some() {
            g.snapshot_seq = seq;
        }
        if let Some(t) = new_token {
            g.tokens.insert(t, now);
        }
        Ok(())
    }

    /// Reads the store.
    pub fn read(&self, req: &ReadRequest) -> Result<KvResponse, ApiError> {
        let g = self.lock();
        let event = g
            .store
            .get(&req.key, req.recursive, req.sorted, now_nanos())
            .map_err(ApiError::Store)?;
        Ok(KvResponse {
            event,
            raft: RaftPosition {
                index: g.seq,
                term: 1,
            },
        })
    }

    /// Deletes every token first written more than `ttl` ago (and expires
    /// keys written with a TTL of their own). Returns the tokens deleted.
    pub fn expire_tokens(&self, ttl: std::time::Duration) -> Vec<String> {
        let now = now_nanos();
        let ttl = i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX);
        let old: Vec<(String, UnixNanos)> = self
            .lock()
            .tokens
            .iter()
            .filter(|(_, at)| now.saturating_sub(**at) >= ttl)
            .map(|(t, at)| (t.clone(), *at))
            .collect();
        let mut gone = Vec::new();
        for (token, created) in old {
            let cmd = Command::Delete {
                key: format!("{REGISTRY_DIR}/{token}"),
                dir: true,
                recursive: true,
            };
            // Already deleted by a client: just forget it.
            let _ = self.write_blocking(&cmd);
            let mut g = self.lock();
            if let Err(e) =
                g.db.execute("DELETE FROM tokens WHERE token = ?1", params![token])
            {
                error!("cannot forget the expired token {token}: {e}");
                continue;
            }
            g.tokens.remove(&token);
            info!(
                "token {token} expired (first written {}), deleted",
                concord_store::time::format_rfc3339_nano(created)
            );
            gone.push(token);
        }
        let due = self.lock().store.next_expiry().is_some_and(|t| t <= now);
        if due {
            let _ = self.write_blocking(&Command::ExpireKeys);
        }
        gone
    }

    /// The tokens held, with the time each was first written.
    pub fn tokens(&self) -> Vec<(String, UnixNanos)> {
        self.lock()
            .tokens
            .iter()
            .map(|(t, at)| (t.clone(), *at))
            .collect()
    }

    pub fn store_index(&self) -> u64 {
        self.lock().store.index()
    }

    pub fn position(&self) -> RaftPosition {
        RaftPosition {
            index: self.lock().seq,
            term: 1,
        }
    }

    pub fn store_stats(&self) -> StoreStats {
        self.lock().store.stats()
    }
}

/// The registry as the gateway's `Kv` contract.
pub struct RegistryKv(pub Arc<Registry>);

#[async_trait]
impl concord_api::Kv for RegistryKv {
    async fn write(&self, cmd: Command) -> Result<KvResponse, ApiError> {
        let reg = self.0.clone();
        tokio::task::spawn_blocking(move || reg.write_blocking(&cmd))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    }

    async fn read(&self, req: ReadRequest) -> Result<KvResponse, ApiError> {
        self.0.read(&req)
    }

    fn store_index(&self) -> u64 {
        self.0.store_index()
    }

    fn raft_position(&self) -> RaftPosition {
        self.0.position()
    }

    async fn store_stats(&self) -> Result<StoreStats, ApiError> {
        Ok(self.0.store_stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(key: &str, value: &str) -> Command {
        Command::Create {
            key: key.into(),
            dir: false,
            value: value.into(),
            unique: false,
            ttl: None,
        }
    }

    #[test]
    fn a_reopened_registry_holds_every_answered_write() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(dir.path()).unwrap();
        let id = reg.cluster_id();
        reg.write_blocking(&create("/_etcd/registry/t1/_config/size", "3"))
            .unwrap();
        let r = reg
            .write_blocking(&create("/_etcd/registry/t1/abc", "a=http://1:2380"))
            .unwrap();
        assert_eq!(r.event.node.created_index, 2);
        let dup = reg
            .write_blocking(&create("/_etcd/registry/t1/abc", "a=http://1:2380"))
            .unwrap_err();
        assert!(
            dup.to_string().starts_with("105: Key already exists"),
            "{dup}"
        );
        drop(reg);
        let reg = Registry::open(dir.path()).unwrap();
        assert_eq!(reg.cluster_id(), id);
        assert_eq!(reg.store_index(), 2);
        assert_eq!(reg.tokens().len(), 1);
        let got = reg
            .read(&ReadRequest {
                key: "/_etcd/registry/t1/abc".into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(got.event.node.value.as_deref(), Some("a=http://1:2380"));
    }

    #[test]
    fn snapshots_replace_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(dir.path()).unwrap();
        for i in 0..(SNAPSHOT_EVERY + 5) {
            reg.write_blocking(&create(&format!("/_etcd/registry/t/{i}"), "x"))
                .unwrap();
        }
        drop(reg);
        let reg = Registry::open(dir.path()).unwrap();
        assert_eq!(reg.store_index(), SNAPSHOT_EVERY + 5);
        let n: u64 = reg
            .lock()
            .db
            .query_row("SELECT COUNT(*) FROM log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 5);
    }

    #[test]
    fn old_tokens_expire() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(dir.path()).unwrap();
        reg.write_blocking(&create("/_etcd/registry/old/_config/size", "3"))
            .unwrap();
        assert!(reg
            .expire_tokens(std::time::Duration::from_secs(3600))
            .is_empty());
        assert_eq!(reg.expire_tokens(std::time::Duration::ZERO), vec!["old"]);
        assert!(reg.tokens().is_empty());
        drop(reg);
        let reg = Registry::open(dir.path()).unwrap();
        assert!(reg.tokens().is_empty());
        assert!(reg
            .read(&ReadRequest {
                key: "/_etcd/registry/old".into(),
                ..Default::default()
            })
            .is_err());
    }

    #[test]
    fn tokens_are_the_first_component() {
        assert_eq!(token_of("/_etcd/registry/abc/_config/size"), Some("abc"));
        assert_eq!(token_of("/_etcd/registry/abc"), Some("abc"));
        assert_eq!(token_of("/_etcd/registry"), None);
        assert_eq!(token_of("/other/abc"), None);
    }
}
