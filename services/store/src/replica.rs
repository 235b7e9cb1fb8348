//! A store rebuilt from another store's output instead of from commands:
//! the contents as a list of nodes ([`Store::nodes`], [`Store::from_nodes`])
//! and the committed events after them ([`Store::apply_event`]).
//!
//! This is how a gateway keeps a read replica: it loads a member's nodes at
//! some store index, then applies that member's committed events in index
//! order. An event says what the node looks like after the write (value,
//! indexes, expiry), and a write's missing parent directories are created
//! with the write's index, as the store itself creates them, so the replica
//! holds exactly the member's tree. A replica never expires keys by itself:
//! expiry arrives as the member's `expire` events.

use std::collections::BTreeMap;

use crate::go::clean_rooted as clean_path;
use crate::node::{components, join, split_last, Body, Node};
use crate::{Action, Event, NodeExtern, Store};

/// An event that cannot be applied to this replica: it must load the
/// member's nodes again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("event at index {got} does not follow index {last}")]
    OutOfOrder { last: u64, got: u64 },
    #[error("event at index {index} does not fit the tree: {why}")]
    Mismatch { index: u64, why: String },
}

impl Store {
    /// Every node except the root, hidden ones included, parents before
    /// their children, each with its full key and without children.
    pub fn nodes(&self) -> Vec<NodeExtern> {
        fn push_children<'a>(stack: &mut Vec<(String, &'a Node)>, path: &str, n: &'a Node) {
            if let Body::Dir(children) = &n.body {
                // Reversed, so that they come off the stack in key order.
                for (name, c) in children.iter().rev() {
                    stack.push((join(path, name), c));
                }
            }
        }
        let mut out = Vec::new();
        let mut stack = Vec::new();
        push_children(&mut stack, "/", &self.root);
        while let Some((path, n)) = stack.pop() {
            out.push(NodeExtern {
                key: path.clone(),
                value: match &n.body {
                    Body::File(v) => Some(v.clone()),
                    Body::Dir(_) => None,
                },
                dir: n.is_dir(),
                expiration: n.expire_at,
                ttl: 0,
                nodes: Vec::new(),
                modified_index: n.modified_index,
                created_index: n.created_index,
            });
            push_children(&mut stack, &path, n);
        }
        out
    }

    /// A store holding `nodes` (as [`Store::nodes`] lists them) at store
    /// index `index`.
    pub fn from_nodes(index: u64, nodes: &[NodeExtern]) -> Result<Store, ReplayError> {
        let mut store = Store::new();
        for n in nodes {
            store.put_node(n, n.created_index, index)?;
        }
        store.index = index;
        Ok(store)
    }

    /// Applies the next committed event of the store this one replicates.
    pub fn apply_event(&mut self, e: &Event) -> Result<(), ReplayError> {
        let index = e.etcd_index;
        if index != self.index + 1 {
            return Err(ReplayError::OutOfOrder {
                last: self.index,
                got: index,
            });
        }
        match e.action {
            Action::Delete | Action::CompareAndDelete | Action::Expire => {
                let path = clean_path(&e.node.key);
                if path == "/" || self.remove_node(&path).is_none() {
                    return Err(ReplayError::Mismatch {
                        index,
                        why: format!("no node {path} to remove"),
                    });
                }
            }
            Action::Get => {
                return Err(ReplayError::Mismatch {
                    index,
                    why: "a get is not a write".into(),
                })
            }
            Action::Create | Action::Set | Action::Update | Action::CompareAndSwap => {
                self.put_node(&e.node, index, index)?
            }
        }
        self.index = index;
        Ok(())
    }

    /// Makes the node at `n.key` look as `n` says (a directory keeps its
    /// children); missing parents are created with `parents_index`.
    fn put_node(
        &mut self,
        n: &NodeExtern,
        parents_index: u64,
        index: u64,
    ) -> Result<(), ReplayError> {
        let path = clean_path(&n.key);
        let mismatch = |why: String| ReplayError::Mismatch { index, why };
        if path == "/" {
            return Err(mismatch("the root is read-only".into()));
        }
        let (parent, name) = split_last(&path);
        let mut node = &mut self.root;
        for seg in components(parent) {
            let Body::Dir(children) = &mut node.body else {
                return Err(mismatch(format!("a file is in the way of {path}")));
            };
            node = children
                .entry(seg.to_string())
                .or_insert_with(|| Node::dir(parents_index, None));
        }
        let Body::Dir(children) = &mut node.body else {
            return Err(mismatch(format!("a file is in the way of {path}")));
        };
        let old = children.remove(name);
        let body = match (n.dir, old) {
            (true, Some(old)) => {
                self.ttl.replace(&path, old.expire_at, None);
                match old.body {
                    Body::Dir(kept) => Body::Dir(kept),
                    Body::File(_) => Body::Dir(BTreeMap::new()),
                }
            }
            (true, None) => Body::Dir(BTreeMap::new()),
            (false, old) => {
                if let Some(old) = &old {
                    self.ttl.forget_subtree(&path, old);
                }
                Body::File(n.value.clone().unwrap_or_default())
            }
        };
        children.insert(
            name.to_string(),
            Node {
                created_index: n.created_index,
                modified_index: n.modified_index,
                expire_at: n.expiration,
                body,
            },
        );
        self.ttl.replace(&path, None, n.expiration);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Applied, Command};

    const SEC: i64 = 1_000_000_000;
    const T0: i64 = 1_700_000_000 * SEC;

    /// A small deterministic generator (no dependency for one test).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    fn random_command(r: &mut Rng) -> Command {
        let keys = [
            "/a",
            "/a/b",
            "/a/b/c",
            "/a/d",
            "/e",
            "/_hidden/x",
            "/q",
            "/a/b/c/f",
        ];
        let key = keys[r.next(keys.len() as u64) as usize].to_string();
        let ttl = match r.next(4) {
            0 => Some(1 + r.next(3)),
            _ => None,
        };
        let value = format!("v{}", r.next(5));
        match r.next(9) {
            0 => Command::Set {
                key,
                dir: r.next(3) == 0,
                value,
                ttl,
                refresh: false,
            },
            1 => Command::Create {
                key,
                dir: r.next(3) == 0,
                value,
                unique: r.next(2) == 0,
                ttl,
            },
            2 => Command::Update {
                key,
                value,
                ttl,
                refresh: r.next(2) == 0,
            },
            3 => Command::CompareAndSwap {
                key,
                prev_value: format!("v{}", r.next(5)),
                prev_index: 0,
                value,
                ttl,
                refresh: false,
            },
            4 => Command::Delete {
                key,
                dir: r.next(2) == 0,
                recursive: r.next(2) == 0,
            },
            5 => Command::CompareAndDelete {
                key,
                prev_value: format!("v{}", r.next(5)),
                prev_index: 0,
            },
            6 => Command::ExpireKeys,
            _ => Command::Set {
                key,
                dir: false,
                value,
                ttl,
                refresh: false,
            },
        }
    }

    /// A member's store runs random commands; a replica loaded from its
    /// nodes part-way through and fed its events afterwards holds the same
    /// tree, index and TTL schedule at every step.
    #[test]
    fn a_replica_fed_events_matches_the_store() {
        for seed in 0..40 {
            let mut r = Rng(seed);
            let mut member = Store::new();
            let mut replica: Option<Store> = None;
            let mut now = T0;
            for step in 0..400 {
                if step == 50 + seed as usize {
                    replica = Some(Store::from_nodes(member.index(), &member.nodes()).unwrap());
                }
                now += r.next(700) as i64 * SEC / 1000;
                let events = match member.apply(&random_command(&mut r), now) {
                    Applied::Write(Ok(e)) => vec![e],
                    Applied::Write(Err(_)) => vec![],
                    Applied::Expired(es) => es,
                };
                if let Some(rep) = replica.as_mut() {
                    for e in &events {
                        rep.apply_event(e)
                            .unwrap_or_else(|err| panic!("seed {seed} step {step}: {err} ({e:?})"));
                    }
                    assert_eq!(rep.nodes(), member.nodes(), "seed {seed} step {step}");
                    assert_eq!(rep.index(), member.index());
                    assert_eq!(rep.next_expiry(), member.next_expiry());
                    assert_eq!(
                        rep.get("/", true, true, now).ok(),
                        member.get("/", true, true, now).ok()
                    );
                }
            }
            assert!(member.index() > 40, "seed {seed}: too few writes");
        }
    }

    #[test]
    fn an_event_out_of_order_is_refused() {
        let mut member = Store::new();
        let mut events = Vec::new();
        for i in 0..3 {
            let cmd = Command::Set {
                key: format!("/k{i}"),
                dir: false,
                value: "v".into(),
                ttl: None,
                refresh: false,
            };
            if let Applied::Write(Ok(e)) = member.apply(&cmd, T0) {
                events.push(e);
            }
        }
        let mut replica = Store::new();
        replica.apply_event(&events[0]).unwrap();
        assert_eq!(
            replica.apply_event(&events[2]),
            Err(ReplayError::OutOfOrder { last: 1, got: 3 })
        );
        assert_eq!(
            replica.apply_event(&events[0]),
            Err(ReplayError::OutOfOrder { last: 1, got: 1 })
        );
        replica.apply_event(&events[1]).unwrap();
        assert_eq!(replica.nodes(), member.nodes()[..2].to_vec());
    }
}
