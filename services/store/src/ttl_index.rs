//! The TTL schedule (etcd's `v2store/ttl_key_heap.go`): every node with an
//! expiry, by (expiry, path), so the next one due is first and a node's
//! entry can be found again from its old expiry when it changes or goes.

use std::collections::BTreeSet;

use crate::node::{join, Body, Node};
use crate::UnixNanos;

#[derive(Debug, Default)]
pub(crate) struct TtlIndex(BTreeSet<(UnixNanos, String)>);

impl TtlIndex {
    /// The index of every node of the tree under `root` that has an expiry.
    pub(crate) fn of_tree(root: &Node) -> TtlIndex {
        let mut ttl = BTreeSet::new();
        let mut stack = vec![("/".to_string(), root)];
        while let Some((p, n)) = stack.pop() {
            if let Some(t) = n.expire_at {
                ttl.insert((t, p.clone()));
            }
            if let Body::Dir(ch) = &n.body {
                for (name, c) in ch {
                    stack.push((join(&p, name), c));
                }
            }
        }
        TtlIndex(ttl)
    }

    /// The node at `path` changed its expiry from `old` to `new` (either
    /// may be none).
    pub(crate) fn replace(&mut self, path: &str, old: Option<UnixNanos>, new: Option<UnixNanos>) {
        if let Some(t) = old {
            self.0.remove(&(t, path.to_string()));
        }
        if let Some(t) = new {
            self.0.insert((t, path.to_string()));
        }
    }

    /// Removes the entries of `node` (at `path`) and of its descendants.
    pub(crate) fn forget_subtree(&mut self, path: &str, node: &Node) {
        let mut stack = vec![(path.to_string(), node)];
        while let Some((p, n)) = stack.pop() {
            if let Some(t) = n.expire_at {
                self.0.remove(&(t, p.clone()));
            }
            if let Body::Dir(children) = &n.body {
                for (name, c) in children {
                    stack.push((join(&p, name), c));
                }
            }
        }
    }

    /// Takes out the earliest entry due at `now`, if any, and gives its path.
    pub(crate) fn pop_due(&mut self, now: UnixNanos) -> Option<String> {
        let (t, _) = self.0.first()?;
        if *t > now {
            return None;
        }
        self.0.pop_first().map(|(_, path)| path)
    }

    /// The earliest expiry time of any node.
    pub(crate) fn next_expiry(&self) -> Option<UnixNanos> {
        self.0.first().map(|(t, _)| *t)
    }
}
