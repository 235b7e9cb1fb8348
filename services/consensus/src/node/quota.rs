//! The backend quota (`--quota-backend-bytes`), as etcd 3.4's
//! `etcdserver/quota.go`: 0 means etcd's default of 2 GiB, a negative
//! quota none at all, and more than 8 GiB is warned about. When the
//! keyspace outgrows it, the leader raises the NOSPACE alarm through the
//! raft log (checked every [`CHECK_INTERVAL`] against the keyspace's size
//! as it changes, [`concord_mvcc::Keyspace::size`]); from then on every
//! member refuses puts, txns with puts and lease grants with etcd's
//! "etcdserver: mvcc: database space exceeded" (`concord_mvcc::alarm`),
//! until the alarm is disarmed (`etcdctl alarm disarm`, once compaction
//! freed space; still over the quota, it is raised again).

use std::sync::Weak;

use concord_mvcc::{AlarmAction, AlarmRequest, AlarmType};

use super::*;

/// etcd's `DefaultQuotaBytes`.
pub const DEFAULT_QUOTA_BYTES: i64 = 2 * 1024 * 1024 * 1024;
/// etcd's `MaxQuotaBytes`: above it, a warning.
pub const MAX_QUOTA_BYTES: i64 = 8 * 1024 * 1024 * 1024;
/// How often the leader compares the keyspace's size with the quota.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The quota `--quota-backend-bytes` asks for, logged as etcd does;
/// `None`: no quota.
pub fn effective_quota(flag: i64) -> Option<u64> {
    if flag < 0 {
        warn!("disabling backend quota");
        return None;
    }
    if flag == 0 {
        info!("enabling backend quota with default value (2.1 GB)");
        return Some(DEFAULT_QUOTA_BYTES as u64);
    }
    if flag > MAX_QUOTA_BYTES {
        warn!("backend quota {flag} exceeds maximum recommended quota {MAX_QUOTA_BYTES}");
    }
    Some(flag as u64)
}

/// While this member leads: raises NOSPACE once the keyspace is larger
/// than `quota` bytes.
pub(super) async fn watch_quota(node: Weak<Consensus>, quota: u64) {
    let mut tick = tokio::time::interval(CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(n) = node.upgrade() else { return };
        let over = {
            let ks = n.shared.keyspace.read();
            ks.size() > quota && !ks.no_space()
        };
        if !over || !n.is_leader() {
            continue;
        }
        let raise = concord_mvcc::Command::Alarm(AlarmRequest {
            action: AlarmAction::Activate,
            member_id: n.member_id(),
            alarm: AlarmType::NoSpace,
        });
        if let Err(e) = n.propose(Write::V3(raise), 0).await {
            warn!("cannot raise the NOSPACE alarm: {e}");
        }
    }
}
