//! openraft's own storage conformance suite, run against the SQLite log
//! store and the snapshotting state machine, on real files in a temp dir.

use std::sync::Arc;

use concord_api::EventSink;
use concord_consensus::log_store::SqliteLogStore;
use concord_consensus::state_machine::StateMachine;
use concord_consensus::TypeConfig;
use concord_store::Event;
use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;

struct NoWatchers;

impl EventSink for NoWatchers {
    fn publish(&self, _event: Arc<Event>) {}
    fn reset(&self, _store_index: u64) {}
}

/// Builds stores keeping `cache` on-disk log entries in memory.
struct Builder {
    cache: usize,
}

impl StoreBuilder<TypeConfig, SqliteLogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, SqliteLogStore, StateMachine), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = SqliteLogStore::open_with_cache(&dir.path().join("raft.db"), self.cache)
            .expect("open log");
        let (sm, _shared) =
            StateMachine::open(dir.path().join("snap"), Arc::new(NoWatchers), 1, 1)?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite() {
    let builder = Builder {
        cache: concord_consensus::log_store::CACHE_ENTRIES,
    };
    if let Err(e) = Suite::test_all(builder) {
        panic!("openraft storage suite failed: {e}");
    }
}

/// The same suite with a one-entry cache: reads, truncation and purge go
/// through SQLite rather than memory.
#[test]
fn openraft_storage_suite_reading_from_disk() {
    if let Err(e) = Suite::test_all(Builder { cache: 1 }) {
        panic!("openraft storage suite (1-entry cache) failed: {e}");
    }
}
