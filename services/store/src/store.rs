//! The v2 store: a tree of nodes, the global index, the TTL schedule.
//!
//! Semantics follow etcd 3.4's `v2store` operation by operation (the event
//! each one produces, the index it consumes, the error and cause it fails
//! with). The nodes are `node.rs`'s, the TTL schedule `ttl_index.rs`'s.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::go;
use crate::internal::{self, Internal};
use crate::node::{components, join, list_children, split_last, Body, Node};
use crate::time::{MIN_EXPIRE_TIME, NANOS_PER_SEC};
use crate::ttl_index::TtlIndex;
use crate::{Action, Command, Error, ErrorCode, Event, NodeExtern, StoreStats, UnixNanos};

/// What applying one command produced. (Not boxed: it is moved once, from
/// the state machine to the proposer.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A client write: its event, or the v2 error it failed with.
    Write(Result<Event, Error>),
    /// [`Command::ExpireKeys`]: one `expire` event per expired node, in order.
    Expired(Vec<Event>),
}

/// A snapshot could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode store snapshot: {0}")]
pub struct RecoverError(pub String);

#[derive(Debug, Default)]
struct Counters {
    gets_success: AtomicU64,
    gets_fail: AtomicU64,
    sets_success: u64,
    sets_fail: u64,
    delete_success: u64,
    delete_fail: u64,
    update_success: u64,
    update_fail: u64,
    create_success: u64,
    create_fail: u64,
    cas_success: u64,
    cas_fail: u64,
    cad_success: u64,
    cad_fail: u64,
    expire_count: u64,
}

/// The etcd v2 store.
#[derive(Debug)]
pub struct Store {
    pub(crate) root: Node,
    pub(crate) index: u64,
    /// Every node with a TTL, the next expiry first.
    pub(crate) ttl: TtlIndex,
    counters: Counters,
    /// etcd's `/2` namespace (v2 auth), out of `/v2/keys`' reach.
    internal: Internal,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    index: u64,
    root: Node,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

fn bump(ok: bool, success: &mut u64, fail: &mut u64) {
    if ok {
        *success += 1
    } else {
        *fail += 1
    }
}

impl Store {
    /// An empty store: the root directory only, index 0.
    pub fn new() -> Self {
        Store {
            root: Node::dir(0, None),
            index: 0,
            ttl: TtlIndex::default(),
            counters: Counters::default(),
            internal: Internal::default(),
        }
    }

    /// The global store index (`X-Etcd-Index`).
    pub fn index(&self) -> u64 {
        self.index
    }

    fn err(&self, code: ErrorCode, cause: impl Into<String>) -> Error {
        Error::new(code, cause, self.index)
    }

    /// etcd's `internalGet`: 104 if a file is in the way, 100 naming the
    /// first missing path.
    fn lookup(&self, path: &str) -> Result<&Node, Error> {
        let mut node = &self.root;
        let mut walked = String::from("/");
        for name in components(path) {
            match &node.body {
                Body::File(_) => return Err(self.err(ErrorCode::NotDir, walked)),
                Body::Dir(children) => match children.get(name) {
                    Some(child) => node = child,
                    None => return Err(self.err(ErrorCode::KeyNotFound, join(&walked, name))),
                },
            }
            walked = join(&walked, name);
        }
        Ok(node)
    }

    fn lookup_mut(&mut self, path: &str) -> Option<&mut Node> {
        let mut node = &mut self.root;
        for name in components(path) {
            match &mut node.body {
                Body::File(_) => return None,
                Body::Dir(children) => node = children.get_mut(name)?,
            }
        }
        Some(node)
    }

    /// GET: the node at `key` (and its children; all descendants if
    /// `recursive`; children in key order if `sorted`). `now` sets `ttl`.
    pub fn get(
        &self,
        key: &str,
        recursive: bool,
        sorted: bool,
        now: UnixNanos,
    ) -> Result<Event, Error> {
        let _ = sorted; // children are always kept in key order
        if internal::is_internal(key) {
            // Not counted: etcd's auth checks on every request must not
            // show in /v2/stats/store.
            return self.internal.get(key, self.index);
        }
        let path = go::clean_rooted(key);
        match self.lookup(&path) {
            Ok(node) => {
                self.counters.gets_success.fetch_add(1, Ordering::Relaxed);
                let mut out = node.repr(&path, false, now);
                if let Body::Dir(children) = &node.body {
                    out.nodes = list_children(&path, children, recursive, now);
                }
                Ok(Event {
                    action: Action::Get,
                    node: out,
                    prev_node: None,
                    etcd_index: self.index,
                    refresh: false,
                })
            }
            Err(e) => {
                self.counters.gets_fail.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Applies one replicated command proposed at time `now`.
    pub fn apply(&mut self, cmd: &Command, now: UnixNanos) -> Applied {
        if let Some(key) = cmd.key() {
            if internal::is_internal(key) {
                return Applied::Write(self.internal.apply(cmd, self.index));
            }
        }
        // etcd: now.Add(time.Duration(ttl) * time.Second).UnixNano(), in
        // Go's wrapping int64 arithmetic, and a time before 2000 means
        // permanent (v2store's minExpireTime): a huge TTL lands in the
        // past (expires at once) or wraps before 2000 (never expires),
        // exactly as on etcd.
        let expire = |ttl: &Option<u64>| {
            ttl.and_then(|s| {
                let at = now.wrapping_add((s as i64).wrapping_mul(NANOS_PER_SEC));
                (at >= MIN_EXPIRE_TIME).then_some(at)
            })
        };
        let result = match cmd {
            Command::Set {
                key,
                dir,
                value,
                ttl,
                refresh,
            } => self.set(key, *dir, value, expire(ttl), *refresh, now),
            Command::Create {
                key,
                dir,
                value,
                unique,
                ttl,
            } => self.create(key, *dir, value, *unique, expire(ttl), now),
            Command::Update {
                key,
                value,
                ttl,
                refresh,
            } => self.update(key, value, expire(ttl), *refresh, now),
            Command::CompareAndSwap {
                key,
                prev_value,
                prev_index,
                value,
                ttl,
                refresh,
            } => self.compare_and_swap(
                key,
                prev_value,
                *prev_index,
                value,
                expire(ttl),
                *refresh,
                now,
            ),
            Command::Delete {
                key,
                dir,
                recursive,
            } => self.delete(key, *dir, *recursive, now),
            Command::CompareAndDelete {
                key,
                prev_value,
                prev_index,
            } => self.compare_and_delete(key, prev_value, *prev_index, now),
            Command::ExpireKeys => return Applied::Expired(self.expire_keys(now)),
        };
        let ok = result.is_ok();
        let c = &mut self.counters;
        let (success, fail) = match cmd {
            Command::Set { .. } => (&mut c.sets_success, &mut c.sets_fail),
            Command::Create { .. } => (&mut c.create_success, &mut c.create_fail),
            Command::Update { .. } => (&mut c.update_success, &mut c.update_fail),
            Command::CompareAndSwap { .. } => (&mut c.cas_success, &mut c.cas_fail),
            Command::Delete { .. } => (&mut c.delete_success, &mut c.delete_fail),
            Command::CompareAndDelete { .. } => (&mut c.cad_success, &mut c.cad_fail),
            Command::ExpireKeys => return Applied::Write(result),
        };
        bump(ok, success, fail);
        Applied::Write(result)
    }

    /// etcd's `internalCreate`: creates missing parent directories, then the
    /// node; `replace` allows overwriting a file (Set), not a directory.
    #[allow(clippy::too_many_arguments)]
    fn internal_create(
        &mut self,
        key: &str,
        dir: bool,
        value: &str,
        unique: bool,
        replace: bool,
        expire_at: Option<UnixNanos>,
        action: Action,
        now: UnixNanos,
    ) -> Result<Event, Error> {
        let next = self.index + 1;
        let mut path = go::clean_rooted(key);
        if unique {
            path = go::clean_rooted(&format!("{path}/{next:020}"));
        }
        if path == "/" {
            return Err(self.err(ErrorCode::RootReadOnly, "/"));
        }
        let (parent_path, name) = split_last(&path);
        let parent_path = parent_path.to_string();
        let name = name.to_string();
        // Walk to the parent, checking that nothing in the way is a file.
        {
            let mut node = &self.root;
            let mut walked = String::from("/");
            for seg in components(&parent_path) {
                if let Body::Dir(children) = &node.body {
                    match children.get(seg) {
                        Some(child) if child.is_dir() => node = child,
                        Some(_) => return Err(self.err(ErrorCode::NotDir, join(&walked, seg))),
                        None => break,
                    }
                }
                walked = join(&walked, seg);
            }
            if let Body::Dir(children) = &node.body {
                if components(&parent_path).count() == components(&walked).count() {
                    if let Some(existing) = children.get(&name) {
                        if !replace {
                            return Err(self.err(ErrorCode::NodeExist, path.clone()));
                        }
                        if existing.is_dir() {
                            return Err(self.err(ErrorCode::NotFile, path.clone()));
                        }
                    }
                }
            }
        }
        // Now create missing directories (with the next index, as etcd does).
        let mut node = &mut self.root;
        for seg in components(&parent_path) {
            let Body::Dir(children) = &mut node.body else {
                return Err(Error::new(
                    ErrorCode::NotDir,
                    parent_path.clone(),
                    self.index,
                ));
            };
            node = children
                .entry(seg.to_string())
                .or_insert_with(|| Node::dir(next, None));
        }
        let Body::Dir(children) = &mut node.body else {
            return Err(Error::new(
                ErrorCode::NotDir,
                parent_path.clone(),
                self.index,
            ));
        };
        let new = Node {
            created_index: next,
            modified_index: next,
            expire_at,
            body: if dir {
                Body::Dir(BTreeMap::new())
            } else {
                Body::File(value.to_string())
            },
        };
        let new_repr = new.repr(&path, false, now);
        let prev = children.insert(name, new);
        let prev_node = prev.as_ref().map(|p| p.repr(&path, false, now));
        self.ttl
            .replace(&path, prev.as_ref().and_then(|p| p.expire_at), expire_at);
        self.index = next;
        Ok(Event {
            action,
            node: new_repr,
            prev_node,
            etcd_index: next,
            refresh: false,
        })
    }

    fn set(
        &mut self,
        key: &str,
        dir: bool,
        value: &str,
        expire_at: Option<UnixNanos>,
        refresh: bool,
        now: UnixNanos,
    ) -> Result<Event, Error> {
        let path = go::clean_rooted(key);
        let mut value = value.to_string();
        match self.lookup(&path) {
            Ok(n) if refresh => value = n.value().to_string(),
            Ok(_) => {}
            Err(e) if e.code != ErrorCode::KeyNotFound || refresh => return Err(e),
            Err(_) => {}
        }
        let mut e =
            self.internal_create(&path, dir, &value, false, true, expire_at, Action::Set, now)?;
        e.refresh = refresh;
        Ok(e)
    }

    fn create(
        &mut self,
        key: &str,
        dir: bool,
        value: &str,
        unique: bool,
        expire_at: Option<UnixNanos>,
        now: UnixNanos,
    ) -> Result<Event, Error> {
        self.internal_create(
            key,
            dir,
            value,
            unique,
            false,
            expire_at,
            Action::Create,
            now,
        )
    }

    fn update(
        &mut self,
        key: &str,
        value: &str,
        expire_at: Option<UnixNanos>,
        refresh: bool,
        now: UnixNanos,
    ) -> Result<Event, Error> {
        let path = go::clean_rooted(key);
        if path == "/" {
            return Err(self.err(ErrorCode::RootReadOnly, "/"));
        }
        if self.lookup(&path)?.is_dir() && !value.is_empty() {
            return Err(self.err(ErrorCode::NotFile, path));
        }
        self.rewrite(&path, value, expire_at, refresh, Action::Update, now)
    }

    /// The common end of update and compare-and-swap (etcd's `n.Write` +
    /// `UpdateTTL`): new value (kept on refresh), new modifiedIndex, new
    /// expiry; `createdIndex` stays. The node at `path` exists.
    fn rewrite(
        &mut self,
        path: &str,
        value: &str,
        expire_at: Option<UnixNanos>,
        refresh: bool,
        action: Action,
        now: UnixNanos,
    ) -> Result<Event, Error> {
        let next = self.index + 1;
        let missing = || Error::new(ErrorCode::KeyNotFound, path.to_string(), 0);
        let prev = self
            .lookup(path)
            .map_err(|_| missing())?
            .repr(path, false, now);
        let node = self.lookup_mut(path).ok_or_else(missing)?;
        let old_expiry = node.expire_at;
        if let Body::File(v) = &mut node.body {
            if !refresh {
                *v = value.to_string();
            }
        }
        node.modified_index = next;
        node.expire_at = expire_at;
        let repr = node.repr(path, false, now);
        self.ttl.replace(path, old_expiry, expire_at);
        self.index = next;
        Ok(Event {
            action,
            node: repr,
            prev_node: Some(prev),
            etcd_index: next,
            refresh,
        })
    }

    fn compare_fail_cause(n: &Node, prev_value: &str, prev_index: u64) -> Option<String> {
        let index_match = prev_index == 0 || n.modified_index == prev_index;
        let value_match = prev_value.is_empty() || n.value() == prev_value;
        match (value_match, index_match) {
            (true, true) => None,
            (false, true) => Some(format!("[{} != {}]", prev_value, n.value())),
            (true, false) => Some(format!("[{} != {}]", prev_index, n.modified_index)),
            (false, false) => Some(format!(
                "[{} != {}] [{} != {}]",
                prev_value,
                n.value(),
                prev_index,
                n.modified_index
            )),
        }
    }

    /// The clean path of the file a compare-and-swap/delete acts on, once it
    /// exists, is not the root or a directory, and matches the conditions.
    fn compared_file(&self, key: &str, prev_value: &str, prev_index: u64) -> Result<String, Error> {
        let path = go::clean_rooted(key);
        if path == "/" {
            return Err(self.err(ErrorCode::RootReadOnly, "/"));
        }
        let n = self.lookup(&path)?;
        if n.is_dir() {
            return Err(self.err(ErrorCode::NotFile, path));
        }
        if let Some(cause) = Self::compare_fail_cause(n, prev_value, prev_index) {
            return Err(self.err(ErrorCode::TestFailed, cause));
        }
        Ok(path)
    }

    #[allow(clippy::too_many_arguments)]
    fn compare_and_swap(
        &mut self,
        key: &str,
        prev_value: &str,
        prev_index: u64,
        value: &str,
        expire_at: Option<UnixNanos>,
        refresh: bool,
        now: UnixNanos,
    ) -> Result<Event, Error> {
        let path = self.compared_file(key, prev_value, prev_index)?;
        self.rewrite(
            &path,
            value,
            expire_at,
            refresh,
            Action::CompareAndSwap,
            now,
        )
    }

    /// Removes the node at `path` (already checked to exist) and every TTL
    /// entry of its subtree.
    pub(crate) fn remove_node(&mut self, path: &str) -> Option<Node> {
        let (parent, name) = split_last(path);
        let parent = self.lookup_mut(parent)?;
        let Body::Dir(children) = &mut parent.body else {
            return None;
        };
        let removed = children.remove(name)?;
        self.ttl.forget_subtree(path, &removed);
        Some(removed)
    }

    /// Removes the existing node at `path` as one write: the next index, and
    /// the event (`delete`, `compareAndDelete` or `expire`) telling what it was.
    fn remove_with_event(&mut self, path: &str, action: Action, now: UnixNanos) -> Option<Event> {
        let n = self.lookup(path).ok()?;
        let next = self.index + 1;
        let prev = n.repr(path, false, now);
        let node = NodeExtern {
            key: path.to_string(),
            dir: n.is_dir(),
            modified_index: next,
            created_index: n.created_index,
            ..Default::default()
        };
        self.remove_node(path)?;
        self.index = next;
        Some(Event {
            action,
            node,
            prev_node: Some(prev),
            etcd_index: next,
            refresh: false,
        })
    }

    fn delete(
        &mut self,
        key: &str,
        dir: bool,
        recursive: bool,
        now: UnixNanos,
    ) -> Result<Event, Error> {
        let path = go::clean_rooted(key);
        if path == "/" {
            return Err(self.err(ErrorCode::RootReadOnly, "/"));
        }
        let dir = dir || recursive;
        let n = self.lookup(&path)?;
        if let Body::Dir(children) = &n.body {
            if !dir {
                return Err(self.err(ErrorCode::NotFile, path));
            }
            if !children.is_empty() && !recursive {
                return Err(self.err(ErrorCode::DirNotEmpty, path));
            }
        }
        self.remove_with_event(&path, Action::Delete, now)
            .ok_or_else(|| self.err(ErrorCode::KeyNotFound, path))
    }

    fn compare_and_delete(
        &mut self,
        key: &str,
        prev_value: &str,
        prev_index: u64,
        now: UnixNanos,
    ) -> Result<Event, Error> {
        let path = self.compared_file(key, prev_value, prev_index)?;
        self.remove_with_event(&path, Action::CompareAndDelete, now)
            .ok_or_else(|| self.err(ErrorCode::KeyNotFound, path))
    }

    /// etcd's `DeleteExpiredKeys`: every node due at `now`, earliest first,
    /// each removal one `expire` event and one index.
    fn expire_keys(&mut self, now: UnixNanos) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(path) = self.ttl.pop_due(now) {
            if let Some(event) = self.remove_with_event(&path, Action::Expire, now) {
                self.counters.expire_count += 1;
                events.push(event);
            }
        }
        events
    }

    /// The earliest expiry time of any node, if any node has a TTL.
    pub fn next_expiry(&self) -> Option<UnixNanos> {
        self.ttl.next_expiry()
    }

    /// The operation counters (`watchers` left at 0).
    pub fn stats(&self) -> StoreStats {
        let c = &self.counters;
        StoreStats {
            gets_success: c.gets_success.load(Ordering::Relaxed),
            gets_fail: c.gets_fail.load(Ordering::Relaxed),
            sets_success: c.sets_success,
            sets_fail: c.sets_fail,
            delete_success: c.delete_success,
            delete_fail: c.delete_fail,
            update_success: c.update_success,
            update_fail: c.update_fail,
            create_success: c.create_success,
            create_fail: c.create_fail,
            compare_and_swap_success: c.cas_success,
            compare_and_swap_fail: c.cas_fail,
            compare_and_delete_success: c.cad_success,
            compare_and_delete_fail: c.cad_fail,
            expire_count: c.expire_count,
            watchers: 0,
        }
    }

    /// Serialises the whole store (tree, index, TTLs, then the internal
    /// namespace) for a snapshot.
    pub fn save(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct SavedRef<'a> {
            index: u64,
            root: &'a Node,
        }
        let mut out = bincode::serialize(&SavedRef {
            index: self.index,
            root: &self.root,
        })
        .unwrap_or_default();
        // Appended rather than a new field: a snapshot written before the
        // internal namespace existed still reads back (as empty).
        if let Ok(more) = bincode::serialize(&self.internal) {
            out.extend_from_slice(&more);
        }
        out
    }

    /// Rebuilds a store from [`Store::save`]'s output.
    pub fn recover(data: &[u8]) -> Result<Store, RecoverError> {
        let mut rest = data;
        let saved: Saved =
            bincode::deserialize_from(&mut rest).map_err(|e| RecoverError(e.to_string()))?;
        let internal = if rest.is_empty() {
            Internal::default()
        } else {
            bincode::deserialize_from(&mut rest).map_err(|e| RecoverError(e.to_string()))?
        };
        if !saved.root.is_dir() {
            return Err(RecoverError("root is not a directory".into()));
        }
        Ok(Store {
            ttl: TtlIndex::of_tree(&saved.root),
            root: saved.root,
            index: saved.index,
            counters: Counters::default(),
            internal,
        })
    }
}
