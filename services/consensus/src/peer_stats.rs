//! Raft traffic counters: what `/v2/stats/leader` and `/v2/stats/self`
//! report, and since when each peer has answered without a failure
//! (etcd's transport "active since", which the strict reconfiguration check
//! asks). Changes of a peer's state are logged in etcd's words ("peer X
//! became active" / "became inactive"), so an operator reads when a member
//! stopped answering and when it came back.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use concord_api::{CountStats, FollowerStats, LatencyStats};
use parking_lot::Mutex;
use tracing::{info, warn};

use crate::ids::hex;

/// Counters for one peer, as the leader sees it.
#[derive(Debug, Default, Clone)]
struct Peer {
    /// Append round trips, in milliseconds.
    count: u64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
    current: f64,
    success: u64,
    fail: u64,
    /// Answering without a failure since then.
    active_since: Option<Instant>,
    /// When a failure was last logged (None while active).
    failure_logged: Option<Instant>,
}

/// How often a peer that keeps failing is reported again (etcd's
/// `statusMonitoringInterval`).
const REPORT_EVERY: Duration = Duration::from_secs(30);

impl Peer {
    /// Starts or ends the active period and says so once.
    fn record(&mut self, id: u64, outcome: Result<(), &dyn Display>) {
        match outcome {
            Ok(()) => {
                if self.active_since.is_none() {
                    info!("peer {} became active", hex(id));
                    self.active_since = Some(Instant::now());
                    self.failure_logged = None;
                }
            }
            Err(e) => {
                if self.active_since.take().is_some() {
                    warn!(
                        "peer {} became inactive (message send to peer failed): {e}",
                        hex(id)
                    );
                    self.failure_logged = Some(Instant::now());
                } else if self
                    .failure_logged
                    .is_none_or(|t| t.elapsed() >= REPORT_EVERY)
                {
                    warn!("health check for peer {} could not connect: {e}", hex(id));
                    self.failure_logged = Some(Instant::now());
                }
            }
        }
    }
}

/// Traffic counters of this member.
#[derive(Debug, Default)]
pub struct PeerStats {
    peers: Mutex<BTreeMap<u64, Peer>>,
    sent_appends: AtomicU64,
    received_appends: AtomicU64,
}

impl PeerStats {
    /// An append sent to `peer`, and how it went.
    pub fn append_sent(&self, peer: u64, took: Duration, outcome: Result<(), &dyn Display>) {
        self.sent_appends.fetch_add(1, Ordering::Relaxed);
        let mut peers = self.peers.lock();
        let p = peers.entry(peer).or_default();
        let ok = outcome.is_ok();
        p.record(peer, outcome);
        if !ok {
            p.fail += 1;
            return;
        }
        let ms = took.as_secs_f64() * 1000.0;
        p.success += 1;
        p.current = ms;
        p.min = if p.count == 0 { ms } else { p.min.min(ms) };
        p.max = p.max.max(ms);
        p.count += 1;
        p.sum += ms;
        p.sum_sq += ms * ms;
    }

    /// Any other call to `peer` (a vote, a snapshot chunk), and how it went.
    pub fn called(&self, peer: u64, outcome: Result<(), &dyn Display>) {
        self.peers
            .lock()
            .entry(peer)
            .or_default()
            .record(peer, outcome);
    }

    /// An append received from the leader.
    pub fn append_received(&self) {
        self.received_appends.fetch_add(1, Ordering::Relaxed);
    }

    pub fn sent_appends(&self) -> u64 {
        self.sent_appends.load(Ordering::Relaxed)
    }

    pub fn received_appends(&self) -> u64 {
        self.received_appends.load(Ordering::Relaxed)
    }

    /// True if the last call to `peer` succeeded.
    pub fn connected(&self, peer: u64) -> bool {
        self.peers
            .lock()
            .get(&peer)
            .is_some_and(|p| p.active_since.is_some())
    }

    /// True if `peer` has answered every call for at least `period`.
    pub fn active_for(&self, peer: u64, period: Duration) -> bool {
        self.peers
            .lock()
            .get(&peer)
            .and_then(|p| p.active_since)
            .is_some_and(|t| t.elapsed() >= period)
    }

    /// Latency and counts of each of `followers`, keyed by hex ID.
    pub fn followers(&self, followers: &[u64]) -> BTreeMap<String, FollowerStats> {
        let peers = self.peers.lock();
        followers
            .iter()
            .map(|id| {
                let p = peers.get(id).cloned().unwrap_or_default();
                let (average, sd) = if p.count == 0 {
                    (0.0, 0.0)
                } else {
                    let n = p.count as f64;
                    let avg = p.sum / n;
                    (avg, (p.sum_sq / n - avg * avg).max(0.0).sqrt())
                };
                let stats = FollowerStats {
                    latency: LatencyStats {
                        current: p.current,
                        average,
                        standard_deviation: sd,
                        minimum: p.min,
                        maximum: p.max,
                    },
                    counts: CountStats {
                        fail: p.fail,
                        success: p.success,
                    },
                };
                (hex(*id), stats)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_statistics() {
        let s = PeerStats::default();
        s.append_sent(1, Duration::from_millis(2), Ok(()));
        s.append_sent(1, Duration::from_millis(4), Ok(()));
        s.append_sent(1, Duration::from_millis(9), Err(&"refused"));
        let f = &s.followers(&[1, 2])["1"];
        assert_eq!((f.counts.success, f.counts.fail), (2, 1));
        assert!((f.latency.average - 3.0).abs() < 1e-9);
        assert!((f.latency.standard_deviation - 1.0).abs() < 1e-9);
        assert!((f.latency.minimum - 2.0).abs() < 1e-9);
        assert!((f.latency.maximum - 4.0).abs() < 1e-9);
        assert!((f.latency.current - 4.0).abs() < 1e-9);
        assert_eq!(s.sent_appends(), 3);
        // The failure ended the active period; a success starts a new one.
        assert!(!s.active_for(1, Duration::ZERO));
        s.called(1, Ok(()));
        assert!(s.active_for(1, Duration::ZERO));
        assert!(!s.active_for(1, Duration::from_secs(5)));
        assert!(!s.active_for(2, Duration::ZERO));
    }
}
