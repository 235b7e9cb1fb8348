//! What the store answers with: etcd's `Event` and `NodeExtern`, serialised
//! exactly as etcd's v2 JSON (field order, omitted empty fields).

use serde::{Deserialize, Serialize};

use crate::time::UnixNanos;

/// The `action` of a v2 response or watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Get,
    Create,
    Set,
    Update,
    Delete,
    CompareAndSwap,
    CompareAndDelete,
    Expire,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// A node as clients see it (etcd's `NodeExtern`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeExtern {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// `None` for directories; `Some("")` is an empty value and is printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dir: bool,
    /// Absolute expiry time, printed as RFC 3339 with nanoseconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::rfc3339_opt"
    )]
    pub expiration: Option<UnixNanos>,
    /// Seconds left, rounded up, relative to the time of the request.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ttl: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeExtern>,
    #[serde(rename = "modifiedIndex", default, skip_serializing_if = "is_zero_u64")]
    pub modified_index: u64,
    #[serde(rename = "createdIndex", default, skip_serializing_if = "is_zero_u64")]
    pub created_index: u64,
}

/// One store operation's result, and the unit of watch history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub action: Action,
    pub node: NodeExtern,
    #[serde(rename = "prevNode", default, skip_serializing_if = "Option::is_none")]
    pub prev_node: Option<NodeExtern>,
    /// The store index after this operation (the `X-Etcd-Index` header).
    #[serde(skip)]
    pub etcd_index: u64,
    /// A TTL refresh: applied, but never delivered to watchers.
    #[serde(skip)]
    pub refresh: bool,
}

impl Event {
    /// The index this event happened at: `modifiedIndex` of its node.
    pub fn index(&self) -> u64 {
        self.node.modified_index
    }

    /// True for a `create`, or a `set` that made a new node (HTTP 201).
    pub fn is_created(&self) -> bool {
        match self.action {
            Action::Create => true,
            Action::Set => self.prev_node.is_none(),
            _ => false,
        }
    }
}
