//! Writes applied at most once: the state machine remembers the result of
//! every recent write that carried a [`RequestId`], and a write with an ID
//! it holds is answered with that result instead of being applied again.
//!
//! This is what lets a gateway (or a member forwarding to the leader) send
//! a write again when its first attempt's fate is unknown: the leader died
//! or was cut off after the write was handed to it. The second copy may be
//! applied before or after the first one commits (a new leader commits the
//! old leader's entry only if a majority has it); either way one of them
//! changes the store and both answer alike.
//!
//! The table is part of the replicated state: every member applies the same
//! entries with the same proposal times, so every member keeps and drops
//! the same IDs, and snapshots carry it.

use std::collections::{HashMap, VecDeque};

use concord_api::RequestId;
use concord_store::UnixNanos;
use serde::{Deserialize, Serialize};

use crate::types::CommandResult;

/// How long an ID is remembered, in the proposals' time: far longer than
/// any retry (a gateway gives up on a write after its request timeout).
const KEEP_FOR_NANOS: i64 = 60_000_000_000;

/// At most this many IDs are remembered (the oldest go first). Retries
/// happen while the cluster has no leader or has just elected one, when
/// few writes are applied, so the window in writes is rarely reached.
const KEEP_AT_MOST: usize = 100_000;

/// The results of recent writes that carried a request ID.
#[derive(Default)]
pub struct AppliedRequests {
    results: HashMap<RequestId, CommandResult>,
    /// IDs in the order they were applied, with their proposal time.
    order: VecDeque<(RequestId, UnixNanos)>,
}

impl AppliedRequests {
    /// The result the write named `id` was applied with, if remembered.
    pub fn get(&self, id: RequestId) -> Option<&CommandResult> {
        if id == 0 {
            return None;
        }
        self.results.get(&id)
    }

    /// Remembers that the write named `id` (proposed at `now`) was applied
    /// with `result`, and forgets what is too old.
    pub fn record(&mut self, id: RequestId, result: &CommandResult, now: UnixNanos) {
        if id == 0 {
            return;
        }
        if self.results.insert(id, result.clone()).is_none() {
            self.order.push_back((id, now));
        }
        while let Some(&(old, at)) = self.order.front() {
            if self.order.len() <= KEEP_AT_MOST && now.saturating_sub(at) <= KEEP_FOR_NANOS {
                break;
            }
            self.order.pop_front();
            self.results.remove(&old);
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The table as snapshot data, oldest first (JSON: the store's events
    /// skip empty fields, which bincode cannot read back).
    pub fn save(&self) -> Vec<u8> {
        let saved: Vec<Saved> = self
            .order
            .iter()
            .filter_map(|&(id, at)| {
                Some(Saved {
                    id: ((id >> 64) as u64, id as u64),
                    at,
                    result: self.results.get(&id)?.clone(),
                })
            })
            .collect();
        serde_json::to_vec(&saved).unwrap_or_default()
    }

    pub fn recover(data: &[u8]) -> Result<AppliedRequests, serde_json::Error> {
        let mut t = AppliedRequests::default();
        if data.is_empty() {
            return Ok(t);
        }
        let saved: Vec<Saved> = serde_json::from_slice(data)?;
        for s in saved {
            let id = (u128::from(s.id.0) << 64) | u128::from(s.id.1);
            t.results.insert(id, s.result);
            t.order.push_back((id, s.at));
        }
        Ok(t)
    }
}

/// One remembered write in a snapshot (the ID as two halves: JSON numbers
/// are read back as at most 64 bits by many readers).
#[derive(Serialize, Deserialize)]
struct Saved {
    id: (u64, u64),
    at: UnixNanos,
    result: CommandResult,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(index: u64) -> CommandResult {
        CommandResult {
            result: None,
            store_index: index,
            ..Default::default()
        }
    }

    #[test]
    fn remembers_and_forgets_by_age_and_count() {
        let mut t = AppliedRequests::default();
        t.record(7, &result(1), 0);
        assert_eq!(t.get(7).map(|r| r.store_index), Some(1));
        assert!(t.get(0).is_none());
        // Recorded again (a duplicate that slipped through): kept once.
        t.record(7, &result(2), 1);
        assert_eq!(t.len(), 1);
        // Older than KEEP_FOR_NANOS when a later write is applied: gone.
        t.record(8, &result(3), KEEP_FOR_NANOS + 1);
        assert!(t.get(7).is_none());
        assert!(t.get(8).is_some());
        for id in 100..100 + KEEP_AT_MOST as u128 {
            t.record(id, &result(4), KEEP_FOR_NANOS + 2);
        }
        assert_eq!(t.len(), KEEP_AT_MOST);
        assert!(t.get(8).is_none(), "the oldest goes first");
        let back = AppliedRequests::recover(&t.save()).unwrap();
        assert_eq!(back.len(), KEEP_AT_MOST);
        assert!(back.get(100).is_some());
    }
}
