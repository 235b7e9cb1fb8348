//! The member's v3 watchers (etcd's `watchableStore`) over its keyspace:
//! concord-watch's [`V3Watchers`], shared with the watch tier, which runs
//! the same hub over its window of the members' recent revisions.

pub use concord_watch::v3_watchers::{V3Watchers, WatchHistory};
