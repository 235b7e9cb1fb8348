//! What the single-member tests share: the member's settings on a data dir
//! (no peers: the peer URLs are never dialled) and a sink that records the
//! v2 events it is handed.

use std::sync::Arc;

use concord_api::EventSink;
use concord_consensus::ConsensusConfig;
use concord_store::Event;
use parking_lot::Mutex;

/// Records every v2 event the state machine publishes.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<Arc<Event>>>,
}

impl EventSink for Recorder {
    fn publish(&self, event: Arc<Event>) {
        self.events.lock().push(event);
    }
    fn reset(&self, _store_index: u64) {}
}

/// A lone member `n1` on `dir`, snapshotting every `snapshot_count`
/// entries, with short raft timeouts.
pub fn config(dir: &std::path::Path, snapshot_count: u64) -> ConsensusConfig {
    ConsensusConfig {
        name: "n1".into(),
        data_dir: dir.to_path_buf(),
        initial_cluster: vec![("n1".into(), vec!["http://127.0.0.1:1".into()])],
        initial_cluster_token: "test".into(),
        advertise_client_urls: vec!["http://127.0.0.1:2".into()],
        initial_advertise_peer_urls: vec!["http://127.0.0.1:1".into()],
        snapshot_count,
        heartbeat_interval_ms: 50,
        election_timeout_ms: 300,
        join_existing: false,
        strict_reconfig_check: true,
    }
}
