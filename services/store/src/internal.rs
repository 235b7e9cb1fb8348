//! etcd's internal namespaces of the v2 store (`/2/...`: v2 auth's users,
//! roles and `enabled` flag), kept beside the key tree, out of `/v2/keys`'
//! reach.
//!
//! etcd keeps user keys under `/1` and auth under `/2` of one tree, so the
//! two can never meet. Concord's tree holds user keys at its root, so a
//! user could write `/2/users/root`; internal entries therefore live in
//! their own map, addressed by commands whose key starts with
//! [`INTERNAL_PREFIX`]. Every key the gateway takes from a `/v2/keys` URL
//! starts with `/`, so no user key can name an internal entry.
//!
//! Internal writes go through the raft log like any command and are saved
//! with the store's snapshot, but consume no store index and make no
//! watch event (a watcher of `/` must not see a password hash; the hub and
//! read replicas count on gap-free indexes).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Action, Command, Error, ErrorCode, Event, NodeExtern};

/// What a command key starts with to address an internal entry:
/// `internal:/2/users/root` is etcd's `/2/users/root`.
pub const INTERNAL_PREFIX: &str = "internal:";

/// The command key of etcd's internal path `path` (e.g. `/2/enabled`).
pub fn internal_key(path: &str) -> String {
    format!("{INTERNAL_PREFIX}{path}")
}

/// True for a key (of a command, a read or an event) in the internal
/// namespace.
pub fn is_internal(key: &str) -> bool {
    key.starts_with(INTERNAL_PREFIX)
}

/// The internal entries: etcd's path (`/2/users/root`) to its value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Internal {
    entries: BTreeMap<String, String>,
}

fn event(action: Action, key: &str, value: Option<String>, index: u64) -> Event {
    Event {
        action,
        node: NodeExtern {
            key: key.to_string(),
            value,
            ..Default::default()
        },
        prev_node: None,
        etcd_index: index,
        refresh: false,
    }
}

impl Internal {
    /// Applies a write whose key is internal. Only what etcd's v2 auth
    /// sends is meaningful: create (prevExist=false), update
    /// (prevExist=true), set and delete; directories are implicit.
    pub(crate) fn apply(&mut self, cmd: &Command, index: u64) -> Result<Event, Error> {
        let err = |code, path: &str| Error::new(code, path, index);
        match cmd {
            Command::Create {
                key, value, dir, ..
            } => {
                let path = strip(key);
                if *dir {
                    // etcd's ensureAuthDirectories: the directories exist
                    // as soon as anything is in them.
                    return Ok(event(Action::Create, key, None, index));
                }
                if self.entries.contains_key(path) {
                    return Err(err(ErrorCode::NodeExist, path));
                }
                self.entries.insert(path.to_string(), value.clone());
                Ok(event(Action::Create, key, Some(value.clone()), index))
            }
            Command::Update { key, value, .. } => {
                let path = strip(key);
                match self.entries.get_mut(path) {
                    Some(v) => {
                        *v = value.clone();
                        Ok(event(Action::Update, key, Some(value.clone()), index))
                    }
                    None => Err(err(ErrorCode::KeyNotFound, path)),
                }
            }
            Command::Set { key, value, .. } => {
                self.entries.insert(strip(key).to_string(), value.clone());
                Ok(event(Action::Set, key, Some(value.clone()), index))
            }
            Command::Delete { key, .. } => {
                let path = strip(key);
                match self.entries.remove(path) {
                    Some(_) => Ok(event(Action::Delete, key, None, index)),
                    None => Err(err(ErrorCode::KeyNotFound, path)),
                }
            }
            _ => Err(err(ErrorCode::RaftInternal, "not an internal write")),
        }
    }

    /// A GET of an internal key: the entry, or a directory (`/2/users`)
    /// listing the entries one level below it.
    pub(crate) fn get(&self, key: &str, index: u64) -> Result<Event, Error> {
        let path = strip(key).trim_end_matches('/');
        if let Some(v) = self.entries.get(path) {
            return Ok(event(Action::Get, key, Some(v.clone()), index));
        }
        let dir = format!("{path}/");
        let nodes: Vec<NodeExtern> = self
            .entries
            .range(dir.clone()..)
            .take_while(|(k, _)| k.starts_with(&dir))
            .filter(|(k, _)| !k[dir.len()..].contains('/'))
            .map(|(k, v)| NodeExtern {
                key: k.clone(),
                value: Some(v.clone()),
                ..Default::default()
            })
            .collect();
        if nodes.is_empty() {
            return Err(Error::new(ErrorCode::KeyNotFound, path, index));
        }
        let mut ev = event(Action::Get, key, None, index);
        ev.node.dir = true;
        ev.node.nodes = nodes;
        Ok(ev)
    }
}

fn strip(key: &str) -> &str {
    key.strip_prefix(INTERNAL_PREFIX).unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(key: &str, value: &str) -> Command {
        Command::Create {
            key: internal_key(key),
            dir: false,
            value: value.into(),
            unique: false,
            ttl: None,
        }
    }

    #[test]
    fn create_update_delete_and_list() {
        let mut i = Internal::default();
        i.apply(&create("/2/users/a", "1"), 0).unwrap();
        let e = i.apply(&create("/2/users/a", "2"), 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::NodeExist);
        i.apply(&create("/2/users/b", "3"), 0).unwrap();
        i.apply(&create("/2/roles/x", "4"), 0).unwrap();
        let list = i.get(&internal_key("/2/users/"), 0).unwrap();
        let keys: Vec<_> = list.node.nodes.iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys, ["/2/users/a", "/2/users/b"]);
        let del = Command::Delete {
            key: internal_key("/2/users/a"),
            dir: false,
            recursive: false,
        };
        i.apply(&del, 0).unwrap();
        let e = i.apply(&del, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::KeyNotFound);
        let upd = Command::Update {
            key: internal_key("/2/users/a"),
            value: "5".into(),
            ttl: None,
            refresh: false,
        };
        assert_eq!(i.apply(&upd, 0).unwrap_err().code, ErrorCode::KeyNotFound);
    }
}
