//! The nodes of the v2 tree (etcd's `v2store/node.go`): a file's value or
//! a directory's children, the two indexes, the expiry; and the path
//! helpers that walk it. Nodes do not store their paths: paths are rebuilt
//! while walking, which keeps 100k keys cheap.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::NANOS_PER_SEC;
use crate::{NodeExtern, UnixNanos};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Body {
    File(String),
    Dir(BTreeMap<String, Node>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Node {
    pub(crate) created_index: u64,
    pub(crate) modified_index: u64,
    pub(crate) expire_at: Option<UnixNanos>,
    pub(crate) body: Body,
}

impl Node {
    pub(crate) fn dir(index: u64, expire_at: Option<UnixNanos>) -> Node {
        Node {
            created_index: index,
            modified_index: index,
            expire_at,
            body: Body::Dir(BTreeMap::new()),
        }
    }

    pub(crate) fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir(_))
    }

    pub(crate) fn value(&self) -> &str {
        match &self.body {
            Body::File(v) => v,
            Body::Dir(_) => "",
        }
    }

    /// `expiration` and `ttl` as etcd prints them at time `now` (ttl is
    /// rounded up to whole seconds).
    pub(crate) fn expiration_and_ttl(&self, now: UnixNanos) -> (Option<UnixNanos>, i64) {
        match self.expire_at {
            None => (None, 0),
            Some(t) => {
                let left = t.saturating_sub(now);
                let mut ttl = left / NANOS_PER_SEC;
                if left % NANOS_PER_SEC > 0 {
                    ttl += 1;
                }
                (Some(t), ttl)
            }
        }
    }

    /// etcd's `node.Repr`: the node (and, if `recursive`, its visible
    /// descendants) as clients see it.
    pub(crate) fn repr(&self, path: &str, recursive: bool, now: UnixNanos) -> NodeExtern {
        let (expiration, ttl) = self.expiration_and_ttl(now);
        let mut out = NodeExtern {
            key: extern_key(path),
            expiration,
            ttl,
            modified_index: self.modified_index,
            created_index: self.created_index,
            ..Default::default()
        };
        match &self.body {
            Body::File(v) => out.value = Some(v.clone()),
            Body::Dir(children) => {
                out.dir = true;
                if recursive {
                    out.nodes = list_children(path, children, true, now);
                }
            }
        }
        out
    }
}

/// Visible children of a directory, in key order (so `sorted` is free).
pub(crate) fn list_children(
    path: &str,
    children: &BTreeMap<String, Node>,
    recursive: bool,
    now: UnixNanos,
) -> Vec<NodeExtern> {
    children
        .iter()
        .filter(|(name, _)| !name.starts_with('_'))
        .map(|(name, child)| child.repr(&join(path, name), recursive, now))
        .collect()
}

/// The root is shown without a key, as etcd shows its `/1` namespace root.
fn extern_key(path: &str) -> String {
    if path == "/" {
        String::new()
    } else {
        path.to_string()
    }
}

pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

pub(crate) fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// Splits a clean path into its parent directory and last name.
pub(crate) fn split_last(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}
