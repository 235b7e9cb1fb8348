//! What the watch tests build their events and watch requests from.

// Each test crate uses its own part of this module.
#![allow(dead_code)]

use std::sync::Arc;

use concord_api::WatchRequest;
use concord_store::{Action, Event, NodeExtern};

/// An event at `index` on `key` (a directory, or a file holding `v<index>`).
pub fn ev(action: Action, key: &str, index: u64, dir: bool) -> Arc<Event> {
    Arc::new(Event {
        action,
        node: NodeExtern {
            key: key.to_string(),
            value: (!dir).then(|| format!("v{index}")),
            dir,
            modified_index: index,
            created_index: index,
            ..Default::default()
        },
        prev_node: None,
        etcd_index: index,
        refresh: false,
    })
}

/// A set of the file `key` at `index`.
pub fn set(key: &str, index: u64) -> Arc<Event> {
    ev(Action::Set, key, index, false)
}

/// A watch of `key` (from `since`, or from now).
pub fn req(key: &str, recursive: bool, stream: bool, since: Option<u64>) -> WatchRequest {
    WatchRequest {
        key: key.to_string(),
        recursive,
        stream,
        since_index: since,
        after_index: 0,
    }
}
