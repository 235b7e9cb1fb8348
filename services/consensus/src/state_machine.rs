//! The state machine: the v2 store and the v3 keyspace, fed committed
//! entries in order.
//!
//! Both live in memory; their durable form is a snapshot file holding
//! them serialised *together with* the last applied log id and the
//! membership (one file, written to a temp name, fsynced and renamed), so
//! the applied index can never disagree with the state it describes. Files
//! are named `<term>-<index>.snap` (hex, as etcd names its snapshots): the
//! newest index wins, so a snapshot built late can never shadow a newer one
//! that was installed meanwhile, and the newest [`MAX_SNAPSHOTS`] are kept.
//! On start the latest snapshot is loaded and openraft re-applies the
//! committed log tail after it.
//!
//! Membership entries are applied here too: every member removed from the
//! cluster is tombstoned (etcd's `removed_members`), so peers refuse its
//! traffic forever, and a member that sees itself removed says so. The
//! changes re-applied on start (the log that was already there) are logged
//! at DEBUG, then one INFO line sums up the membership recovered; changes
//! made while the member runs are logged at INFO.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use concord_api::EventSink;
use concord_mvcc::{Alarm, AlarmAction, AlarmRequest, Keyspace};
use concord_store::{Applied, Store};
use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, StorageIOError,
};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::applied_requests::AppliedRequests;
use crate::ids::{hex, url_list};
use crate::simple_tokens::SimpleTokens;
use crate::v3_watchers::V3Watchers;
type Membership = openraft::Membership<u64, crate::types::MemberNode>;
use crate::types::{
    CommandResult, LogId, Reply, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

/// State shared between the state machine (owned by openraft) and readers.
pub struct Shared {
    pub store: RwLock<Store>,
    pub sink: Arc<dyn EventSink>,
    /// The v3 keyspace (separate from the v2 store, as in etcd 3.4).
    pub keyspace: Arc<RwLock<Keyspace>>,
    /// Its watchers, handed each change under the keyspace's write lock.
    pub v3_watchers: Arc<V3Watchers>,
    /// The auth tokens this member gave (`simple_tokens.rs`), as the
    /// `Authenticate` entries are applied.
    pub tokens: SimpleTokens,
    /// Index of the last applied raft entry (`X-Raft-Index`); waiters are
    /// woken straight from the state machine, not via openraft's metrics.
    applied: tokio::sync::watch::Sender<u64>,
    /// This member's and its cluster's IDs.
    pub me: u64,
    pub cluster_id: u64,
    /// Members removed from the cluster: never let back in.
    pub removed: RwLock<BTreeSet<u64>>,
    /// Set once this member learns that it was removed.
    pub removed_self: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    /// Index of the last applied raft entry.
    pub fn applied_index(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until the entry at `index` has been applied here; false if that
    /// did not happen within `timeout`.
    pub async fn wait_applied(&self, index: u64, timeout: std::time::Duration) -> bool {
        // The common case on every read: nothing to wait for, no timer.
        if self.applied_index() >= index {
            return true;
        }
        let mut rx = self.applied.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|a| *a >= index))
            .await
            .is_ok_and(|r| r.is_ok());
        reached
    }

    fn set_applied(&self, index: u64) {
        self.applied.send_replace(index);
    }

    /// This member learned that it was removed: say so as etcd does.
    pub fn mark_removed_self(&self) {
        if !self.removed_self.send_replace(true) {
            // etcd's words; WARN: the member stops as asked, nothing failed.
            warn!("the member has been permanently removed from the cluster");
            warn!("the data-dir used by this member must be removed");
        }
    }
}

/// What a snapshot's data holds: the store, the removed members, the
/// recent writes by request ID (`applied_requests.rs`), the v3 keyspace
/// and its active alarms (NOSPACE: every member refuses puts until one
/// disarms it, so the alarm is replicated state).
#[derive(Serialize, Deserialize)]
struct SnapshotState {
    removed: BTreeSet<u64>,
    store: Vec<u8>,
    requests: Vec<u8>,
    keyspace: Vec<u8>,
    alarms: Vec<Alarm>,
}

/// A snapshot written before alarms existed.
#[derive(Deserialize)]
struct SnapshotStateV3 {
    removed: BTreeSet<u64>,
    store: Vec<u8>,
    requests: Vec<u8>,
    keyspace: Vec<u8>,
}

/// A snapshot written before the v3 keyspace existed.
#[derive(Deserialize)]
struct SnapshotStateV2 {
    removed: BTreeSet<u64>,
    store: Vec<u8>,
    requests: Vec<u8>,
}

/// A snapshot written before request IDs existed.
#[derive(Deserialize)]
struct SnapshotStateV1 {
    removed: BTreeSet<u64>,
    store: Vec<u8>,
}

/// The state a snapshot's data describes.
struct Decoded {
    store: Store,
    removed: BTreeSet<u64>,
    requests: AppliedRequests,
    keyspace: Keyspace,
}

fn decode_state(data: &[u8]) -> Result<Decoded, StorageError> {
    // Newest layout first: an older one is a prefix of it, and bincode
    // would read a newer snapshot as an older one, dropping the rest.
    let (removed, store, requests, keyspace, alarms) =
        match bincode::deserialize::<SnapshotState>(data) {
            Ok(s) => (s.removed, s.store, s.requests, s.keyspace, s.alarms),
            Err(e) => match bincode::deserialize::<SnapshotStateV3>(data) {
                Ok(s) => (s.removed, s.store, s.requests, s.keyspace, Vec::new()),
                Err(_) => match bincode::deserialize::<SnapshotStateV2>(data) {
                    Ok(s) => (s.removed, s.store, s.requests, Vec::new(), Vec::new()),
                    Err(_) => match bincode::deserialize::<SnapshotStateV1>(data) {
                        Ok(s) => (s.removed, s.store, Vec::new(), Vec::new(), Vec::new()),
                        Err(_) => return Err(sm_err(e)),
                    },
                },
            },
        };
    let mut keyspace = if keyspace.is_empty() {
        Keyspace::default()
    } else {
        bincode::deserialize::<Keyspace>(&keyspace).map_err(sm_err)?
    };
    keyspace.restore_alarms(alarms);
    Ok(Decoded {
        store: Store::recover(&store).map_err(sm_err)?,
        removed,
        requests: AppliedRequests::recover(&requests).map_err(sm_err)?,
        keyspace,
    })
}

/// The on-disk snapshot: metadata and the store, in one file.
#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

pub struct StateMachine {
    shared: Arc<Shared>,
    /// Recent writes by request ID: applied at most once.
    requests: AppliedRequests,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    snap_dir: PathBuf,
    /// The last log index that was on disk when the member started: the
    /// entries up to it are history being re-applied, not news.
    replay_until: Option<u64>,
    /// Whether the recovered membership was summed up already.
    recovered: bool,
}

/// The newest index in the raft log beside the snapshot dir (`raft.db` in
/// the member dir), read once at start; `None` for an empty log.
fn last_log_index_on_disk(snap_dir: &Path) -> Option<u64> {
    let path = snap_dir.parent()?.join("raft.db");
    if !path.exists() {
        return None;
    }
    let read = || -> rusqlite::Result<Option<u64>> {
        let conn = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.query_row("SELECT MAX(idx) FROM log", [], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .map(|i| i.map(|i| i.max(0) as u64))
    };
    read().unwrap_or_else(|e| {
        debug!("cannot read the last log index of {}: {e}", path.display());
        None
    })
}

impl StateMachine {
    /// Once the history is re-applied: one INFO line for the membership.
    fn report_recovered(&mut self) {
        let applied = self.last_applied.map_or(0, |l| l.index);
        if self.recovered || self.replay_until.is_some_and(|r| applied < r) {
            return;
        }
        self.recovered = true;
        let nodes: Vec<String> = self
            .last_membership
            .membership()
            .nodes()
            .map(|(id, n)| {
                format!(
                    "{} (name {:?}, peer URLs {})",
                    hex(*id),
                    n.name,
                    url_list(&n.peer_urls)
                )
            })
            .collect();
        if nodes.is_empty() {
            return;
        }
        let removed = self.shared.removed.read().len();
        info!(
            "recovered membership of cluster {}: {} member(s) [{}], {removed} removed, at raft index {applied}",
            hex(self.shared.cluster_id),
            nodes.len(),
            nodes.join(", ")
        );
    }
}

fn sm_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_state_machine(AnyError::new(&e)).into()
}

fn snap_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_snapshot(None, AnyError::new(&e)).into()
}

/// Snapshot files kept (etcd's `--max-snapshots` default).
pub const MAX_SNAPSHOTS: usize = 5;

fn snap_name(meta: &SnapshotMeta) -> String {
    let (term, index) = meta
        .last_log_id
        .map_or((0, 0), |l| (l.leader_id.term, l.index));
    format!("{term:016x}-{index:016x}.snap")
}

/// The snapshot files in `dir`, oldest first, by (index, term).
fn list_snapshots(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for ent in std::fs::read_dir(dir)? {
        let path = ent?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some((term, index)) = name
            .strip_suffix(".snap")
            .and_then(|stem| stem.split_once('-'))
        else {
            continue;
        };
        if let (Ok(t), Ok(i)) = (
            u64::from_str_radix(term, 16),
            u64::from_str_radix(index, 16),
        ) {
            found.push(((i, t), path));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Writes a snapshot file atomically and durably, then drops the oldest
/// beyond [`MAX_SNAPSHOTS`].
fn write_snapshot_file(dir: &Path, file: &SnapshotFile) -> std::io::Result<()> {
    use std::io::Write;
    let bytes = bincode::serialize(file).map_err(std::io::Error::other)?;
    let name = snap_name(&file.meta);
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(&name))?;
    std::fs::File::open(dir)?.sync_all()?;
    let all = list_snapshots(dir)?;
    for old in &all[..all.len().saturating_sub(MAX_SNAPSHOTS)] {
        if let Err(e) = std::fs::remove_file(old) {
            warn!("cannot remove old snapshot {}: {e}", old.display());
        }
    }
    Ok(())
}

/// Reads the newest snapshot file in `dir`, if any.
fn read_latest_snapshot(dir: &Path) -> std::io::Result<Option<SnapshotFile>> {
    let Some(path) = list_snapshots(dir)?.pop() else {
        return Ok(None);
    };
    let bytes = std::fs::read(&path)?;
    let file = bincode::deserialize(&bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })?;
    Ok(Some(file))
}

impl StateMachine {
    /// Opens the state machine, loading the latest snapshot in `snap_dir`.
    pub fn open(
        snap_dir: PathBuf,
        sink: Arc<dyn EventSink>,
        me: u64,
        cluster_id: u64,
    ) -> Result<(Self, Arc<Shared>), StorageError> {
        std::fs::create_dir_all(&snap_dir).map_err(snap_err)?;
        let mut store = Store::new();
        let mut keyspace = Keyspace::default();
        let mut removed = BTreeSet::new();
        let mut requests = AppliedRequests::default();
        let mut last_applied = None;
        let mut last_membership = StoredMembership::default();
        let latest = read_latest_snapshot(&snap_dir).map_err(|e| {
            StorageError::from(StorageIOError::read_snapshot(None, AnyError::new(&e)))
        })?;
        if let Some(file) = latest {
            Decoded {
                store,
                removed,
                requests,
                keyspace,
            } = decode_state(&file.data)?;
            last_applied = file.meta.last_log_id;
            last_membership = file.meta.last_membership;
            info!(
                "loaded snapshot at raft index {} (store index {}, revision {})",
                last_applied.map_or(0, |l| l.index),
                store.index(),
                keyspace.revision()
            );
        }
        sink.reset(store.index());
        let keyspace = Arc::new(RwLock::new(keyspace));
        let shared = Arc::new(Shared {
            store: RwLock::new(store),
            sink,
            v3_watchers: V3Watchers::new(keyspace.clone()),
            tokens: SimpleTokens::default(),
            keyspace,
            applied: tokio::sync::watch::channel(last_applied.map_or(0, |l| l.index)).0,
            me,
            cluster_id,
            removed: RwLock::new(removed),
            removed_self: tokio::sync::watch::channel(false).0,
        });
        if shared.removed.read().contains(&me) {
            shared.mark_removed_self();
        }
        let replay_until = last_log_index_on_disk(&snap_dir);
        let mut sm = StateMachine {
            shared: shared.clone(),
            requests,
            last_applied,
            last_membership,
            snap_dir,
            replay_until,
            // A new member has nothing to recover.
            recovered: replay_until.is_none() && last_applied.is_none(),
        };
        sm.report_recovered();
        Ok((sm, shared))
    }
}

/// Applies one v3 write of raft entry `index` at the proposal's time `now`
/// (lease times are the proposer's, so every member applies the same),
/// checked against its user's permissions if a client sent it, and hands
/// its changes to the watchers.
fn apply_v3(
    keyspace: &mut Keyspace,
    shared: &Shared,
    command: &concord_mvcc::Command,
    now: i64,
    index: u64,
) -> crate::types::V3Result {
    use concord_mvcc::{Command, Outcome};
    let (user, command) = match command {
        Command::AsUser {
            user,
            auth_revision,
            command,
        } => (Some((user.as_str(), *auth_revision)), &**command),
        other => (None, other),
    };
    let stamped;
    let command = match command {
        Command::LeaseGrant { request, .. } => {
            stamped = Command::LeaseGrant {
                request: *request,
                now,
            };
            &stamped
        }
        Command::LeaseKeepAlive { id, .. } => {
            stamped = Command::LeaseKeepAlive { id: *id, now };
            &stamped
        }
        Command::LeasePromote { extend_nanos, .. } => {
            stamped = Command::LeasePromote {
                now,
                extend_nanos: *extend_nanos,
            };
            &stamped
        }
        other => other,
    };
    let mut outcome = match user {
        Some((user, auth_revision)) => keyspace.apply_as(user, auth_revision, command)?,
        None => keyspace.apply(command)?,
    };
    if let (Command::Alarm(req), Outcome::Alarm(resp)) = (command, &outcome) {
        log_alarm_change(req, resp);
    }
    if let (Command::Auth(req), Outcome::Auth(resp)) = (command, &mut outcome) {
        keep_tokens(&shared.tokens, req, resp, index);
    }
    let events = match &outcome {
        Outcome::Put(a) => &a.events,
        Outcome::DeleteRange(a) => &a.events,
        Outcome::Txn(a) => &a.events,
        Outcome::LeaseRevoke(a) => &a.events,
        _ => return Ok(outcome),
    };
    if !events.is_empty() {
        shared.v3_watchers.publish(keyspace.revision(), events);
    }
    Ok(outcome)
}

/// The tokens an applied auth request gives or takes back: an
/// `Authenticate` answers the whole token, made of its prefix and `index`.
fn keep_tokens(
    tokens: &SimpleTokens,
    req: &concord_mvcc::AuthRequest,
    resp: &mut concord_mvcc::AuthResponse,
    index: u64,
) {
    use concord_mvcc::{AuthRequest, AuthResponse};
    match (req, resp) {
        (AuthRequest::Authenticate { name, .. }, AuthResponse::Token(token)) => {
            *token = tokens.assign(token, index, name);
        }
        (AuthRequest::UserDelete { name }, _)
        | (AuthRequest::UserChangePassword { name, .. }, _) => tokens.invalidate_user(name),
        (AuthRequest::Disable, _) => tokens.clear(),
        _ => {}
    }
}

/// An alarm raised or disarmed, in etcd's words.
fn log_alarm_change(req: &AlarmRequest, resp: &concord_mvcc::AlarmResponse) {
    for a in &resp.alarms {
        match req.action {
            AlarmAction::Activate => {
                warn!(
                    "alarm {} raised by peer {}",
                    a.alarm.name(),
                    hex(a.member_id)
                )
            }
            AlarmAction::Deactivate => info!(
                "alarm disarmed action:DEACTIVATE memberID:{} alarm:{}",
                a.member_id,
                a.alarm.name()
            ),
            AlarmAction::Get => {}
        }
    }
}

/// Logs who joined and who left (at DEBUG while `replaying` the history),
/// tombstones the members that left.
fn apply_membership(shared: &Shared, old: &Membership, new: &Membership, replaying: bool) {
    macro_rules! log {
        ($($arg:tt)*) => {
            if replaying {
                debug!($($arg)*)
            } else {
                info!($($arg)*)
            }
        };
    }
    {
        let cluster = hex(shared.cluster_id);
        for (id, node) in new.nodes() {
            if old.get_node(id).is_none() {
                log!(
                    "added member {} {} to cluster {cluster}",
                    hex(*id),
                    url_list(&node.peer_urls)
                );
            } else if old.get_node(id) != Some(node) {
                log!(
                    "updated member {} (name {:?}, peer URLs {}, client URLs {}) in cluster {cluster}",
                    hex(*id),
                    node.name,
                    url_list(&node.peer_urls),
                    url_list(&node.client_urls)
                );
            }
        }
        let gone: Vec<u64> = old
            .nodes()
            .map(|(id, _)| *id)
            .filter(|id| new.get_node(id).is_none())
            .collect();
        for id in gone {
            log!("removed member {} from cluster {cluster}", hex(id));
            shared.removed.write().insert(id);
            if id == shared.me {
                shared.mark_removed_self();
            }
        }
    }
}

/// Builds snapshots from a copy of the store taken under the read lock.
pub struct SnapshotBuilder {
    data: Vec<u8>,
    meta: SnapshotMeta,
    snap_dir: PathBuf,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let file = SnapshotFile {
            meta: self.meta.clone(),
            data: std::mem::take(&mut self.data),
        };
        let dir = self.snap_dir.clone();
        let file =
            tokio::task::spawn_blocking(move || write_snapshot_file(&dir, &file).map(|()| file))
                .await
                .map_err(snap_err)?
                .map_err(snap_err)?;
        info!(
            "saved snapshot at raft index {}",
            file.meta.last_log_id.map_or(0, |l| l.index)
        );
        Ok(Snapshot {
            meta: file.meta,
            snapshot: Box::new(Cursor::new(file.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Reply>, StorageError>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut replies = Vec::new();
        let mut last = None;
        let mut store = self.shared.store.write();
        for entry in entries {
            self.last_applied = Some(entry.log_id);
            let reply = match entry.payload {
                EntryPayload::Blank => Reply::default(),
                EntryPayload::Membership(m) => {
                    let replaying = self.replay_until.is_some_and(|r| entry.log_id.index <= r);
                    apply_membership(
                        &self.shared,
                        self.last_membership.membership(),
                        &m,
                        replaying,
                    );
                    self.last_membership = StoredMembership::new(Some(entry.log_id), m);
                    Reply::default()
                }
                EntryPayload::Normal(p) => {
                    let mut results = Vec::with_capacity(p.commands.len());
                    for (i, command) in p.commands.iter().enumerate() {
                        let id = p.ids.get(i).copied().unwrap_or(0);
                        // Sent again after an unknown outcome, and applied
                        // already: the first apply's answer, no change.
                        if let Some(first) = self.requests.get(id) {
                            results.push(first.clone());
                            continue;
                        }
                        let result = match store.apply(command, p.now) {
                            Applied::Write(result) => {
                                // Internal (v2 auth) writes consume no index
                                // and are never watched.
                                let watched = result.as_ref().is_ok_and(|e| {
                                    !concord_store::internal::is_internal(&e.node.key)
                                });
                                if let (true, Ok(event)) = (watched, &result) {
                                    // Published under the write lock: watchers
                                    // see events in index order, none missed.
                                    self.shared.sink.publish(Arc::new(event.clone()));
                                }
                                Some(result)
                            }
                            Applied::Expired(events) => {
                                for e in events {
                                    self.shared.sink.publish(Arc::new(e));
                                }
                                None
                            }
                        };
                        let result = CommandResult {
                            result,
                            store_index: store.index(),
                            ..Default::default()
                        };
                        self.requests.record(id, &result, p.now);
                        results.push(result);
                    }
                    if !p.v3.is_empty() {
                        let first_id = p.commands.len();
                        let mut keyspace = self.shared.keyspace.write();
                        for (i, command) in p.v3.iter().enumerate() {
                            let id = p.ids.get(first_id + i).copied().unwrap_or(0);
                            if let Some(first) = self.requests.get(id) {
                                results.push(first.clone());
                                continue;
                            }
                            let result = apply_v3(
                                &mut keyspace,
                                &self.shared,
                                command,
                                p.now,
                                entry.log_id.index,
                            );
                            let result = CommandResult {
                                result: None,
                                store_index: store.index(),
                                v3: Some(result),
                                revision: keyspace.revision(),
                            };
                            self.requests.record(id, &result, p.now);
                            results.push(result);
                        }
                    }
                    Reply { results }
                }
            };
            last = Some(entry.log_id.index);
            replies.push(reply);
        }
        drop(store);
        if let Some(index) = last {
            self.shared.set_applied(index);
        }
        self.report_recovered();
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let state = SnapshotState {
            removed: self.shared.removed.read().clone(),
            store: self.shared.store.read().save(),
            requests: self.requests.save(),
            keyspace: bincode::serialize(&*self.shared.keyspace.read()).unwrap_or_default(),
            alarms: self.shared.keyspace.read().alarms(),
        };
        let data = bincode::serialize(&state).unwrap_or_default();
        let last = self.last_applied;
        SnapshotBuilder {
            data,
            meta: SnapshotMeta {
                last_log_id: last,
                last_membership: self.last_membership.clone(),
                snapshot_id: format!(
                    "{}-{}",
                    last.map_or(0, |l| l.leader_id.term),
                    last.map_or(0, |l| l.index)
                ),
            },
            snap_dir: self.snap_dir.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let Decoded {
            store,
            removed,
            requests,
            keyspace,
        } = decode_state(&data)?;
        let file = SnapshotFile {
            meta: meta.clone(),
            data,
        };
        // On disk first: once the store is replaced, the applied index must
        // survive a crash together with it.
        let dir = self.snap_dir.clone();
        tokio::task::spawn_blocking(move || write_snapshot_file(&dir, &file))
            .await
            .map_err(snap_err)?
            .map_err(snap_err)?;
        let index = store.index();
        {
            let mut guard = self.shared.store.write();
            *guard = store;
            // Under the write lock, like publish: no event slips in between.
            self.shared.sink.reset(index);
        }
        *self.shared.keyspace.write() = keyspace;
        self.shared.v3_watchers.restore();
        self.requests = requests;
        let me_removed = removed.contains(&self.shared.me);
        *self.shared.removed.write() = removed;
        if me_removed {
            self.shared.mark_removed_self();
        }
        self.last_applied = meta.last_log_id;
        self.last_membership = meta.last_membership.clone();
        self.shared
            .set_applied(meta.last_log_id.map_or(0, |l| l.index));
        info!(
            "installed snapshot at raft index {}",
            meta.last_log_id.map_or(0, |l| l.index)
        );
        self.report_recovered();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        // Read from disk each time: builds finish on another task, and this
        // is only asked for when a follower needs a snapshot.
        let dir = self.snap_dir.clone();
        let latest = tokio::task::spawn_blocking(move || read_latest_snapshot(&dir))
            .await
            .map_err(snap_err)?
            .map_err(|e| {
                StorageError::from(StorageIOError::read_snapshot(None, AnyError::new(&e)))
            })?;
        Ok(latest.map(|f| Snapshot {
            meta: f.meta,
            snapshot: Box::new(Cursor::new(f.data)),
        }))
    }
}
