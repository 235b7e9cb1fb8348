//! Auto-compaction (`--auto-compaction-mode`, `--auto-compaction-retention`),
//! as etcd 3.4's `v3compactor`: the leader proposes `Compaction` requests
//! through the raft log, like a client's `Compact`; followers keep their
//! samples but propose nothing (etcd pauses their compactors).
//!
//! - periodic: a revision is sampled every tenth of the retention (of an
//!   hour at most); once the retention has passed since the start (and
//!   then every retention, an hour at most) the keyspace is compacted to
//!   the oldest sample kept, the revision of `retention` ago;
//! - revision: every 5 minutes, to the current revision minus the
//!   retention (unless that was the last compaction already).
//!
//! Logged in etcd's words ("Starting auto-compaction at revision N
//! (retention: ...)", "Finished auto-compaction at revision N").

use std::collections::VecDeque;
use std::sync::Weak;

use concord_mvcc::{CompactionRequest, Error as MvccError};

use super::*;

/// How often the revision compactor looks (etcd's `revInterval`).
pub const REVISION_INTERVAL: Duration = Duration::from_secs(5 * 60);
const HOUR: Duration = Duration::from_secs(3600);

/// What the leader compacts on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoCompaction {
    /// Retention 0: no auto-compaction (etcd's default).
    #[default]
    Off,
    /// Keep this much history (by time).
    Periodic(Duration),
    /// Keep the last `retention` revisions, checked every `interval`
    /// ([`REVISION_INTERVAL`] from the flags).
    Revision { retention: i64, interval: Duration },
}

/// The flags' values etcd refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AutoCompactionError {
    #[error("error verifying flags, unknown auto-compaction-mode {0:?}. See 'concord --help'.")]
    UnknownMode(String),
    #[error("error parsing CompactionRetention: {0}")]
    Retention(String),
}

impl AutoCompaction {
    /// The two flags as etcd reads them: a whole number is hours
    /// (periodic) or revisions (revision); anything else a Go duration
    /// (whose nanoseconds count as revisions in revision mode, as in etcd).
    pub fn parse(mode: &str, retention: &str) -> Result<Self, AutoCompactionError> {
        let mode = mode.trim();
        let periodic = match mode {
            "periodic" | "" => true,
            "revision" => false,
            other => return Err(AutoCompactionError::UnknownMode(other.to_string())),
        };
        let retention = retention.trim();
        let amount = match retention.parse::<i64>() {
            Ok(n) if n >= 0 => {
                if periodic {
                    n.saturating_mul(HOUR.as_nanos() as i64)
                } else {
                    n
                }
            }
            _ => concord_store::go::parse_duration(retention)
                .map_err(AutoCompactionError::Retention)?,
        };
        Ok(match (amount, periodic) {
            (n, _) if n <= 0 => AutoCompaction::Off,
            (n, true) => AutoCompaction::Periodic(Duration::from_nanos(n as u64)),
            (n, false) => AutoCompaction::Revision {
                retention: n,
                interval: REVISION_INTERVAL,
            },
        })
    }
}

/// Runs the compactor `mode` asks for until the member stops.
pub(super) async fn auto_compact(node: Weak<Consensus>, mode: AutoCompaction) {
    match mode {
        AutoCompaction::Off => {}
        AutoCompaction::Periodic(period) => periodic(node, period).await,
        AutoCompaction::Revision {
            retention,
            interval,
        } => by_revision(node, retention, interval).await,
    }
}

async fn periodic(node: Weak<Consensus>, period: Duration) {
    let compact_interval = period.min(HOUR);
    let sample_interval = (compact_interval / 10).max(Duration::from_millis(1));
    // The oldest sample kept is the revision of `period` ago.
    let kept = (period.as_nanos() / sample_interval.as_nanos()) as usize + 1;
    let retention = go_duration(period);
    let mut samples: VecDeque<i64> = VecDeque::with_capacity(kept + 1);
    let mut last_success = Instant::now();
    let mut wait = period;
    loop {
        {
            let Some(n) = node.upgrade() else { return };
            samples.push_back(n.shared.keyspace.read().revision());
        }
        if samples.len() > kept {
            samples.pop_front();
        }
        tokio::time::sleep(sample_interval).await;
        let Some(n) = node.upgrade() else { return };
        if !n.is_leader() || last_success.elapsed() < wait {
            continue;
        }
        // The first compaction waits the whole retention, the next ones
        // an hour at most.
        wait = compact_interval;
        let rev = samples[0];
        if n.auto_compact_to(rev, &retention, sample_interval).await {
            last_success = Instant::now();
        }
    }
}

async fn by_revision(node: Weak<Consensus>, retention: i64, interval: Duration) {
    let mut last = 0;
    loop {
        tokio::time::sleep(interval).await;
        let Some(n) = node.upgrade() else { return };
        if !n.is_leader() {
            continue;
        }
        let rev = n.shared.keyspace.read().revision() - retention;
        if rev <= 0 || rev == last {
            continue;
        }
        let words = format!("{retention} revisions");
        if n.auto_compact_to(rev, &words, interval).await {
            last = rev;
        }
    }
}

impl Consensus {
    /// Proposes one compaction to `rev`; true once it is applied (or the
    /// keyspace was compacted there already).
    async fn auto_compact_to(&self, rev: i64, retention: &str, retry: Duration) -> bool {
        info!("Starting auto-compaction at revision {rev} (retention: {retention})");
        let compact = concord_mvcc::Command::Compaction(CompactionRequest {
            revision: rev,
            physical: false,
        });
        let failure = match self.propose(Write::V3(compact), 0).await {
            Ok((res, _)) => match res.v3 {
                Some(Ok(_)) | Some(Err(MvccError::Compacted)) => {
                    info!("Finished auto-compaction at revision {rev}");
                    return true;
                }
                Some(Err(e)) => e.to_string(),
                None => "no keyspace answer".to_string(),
            },
            Err(e) => e.to_string(),
        };
        warn!("Failed auto-compaction at revision {rev} ({failure})");
        warn!("Retry after {}", go_duration(retry));
        false
    }
}

/// Go's `time.Duration.String()` (`2s`, `1h0m0s`, `1.5s`, `300ms`), as
/// etcd prints the retention.
fn go_duration(d: Duration) -> String {
    const SEC: u128 = 1_000_000_000;
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < SEC {
        let (div, unit) = match ns {
            n if n < 1_000 => (1, "ns"),
            n if n < 1_000_000 => (1_000, "µs"),
            _ => (1_000_000, "ms"),
        };
        return format!("{}{unit}", decimal(ns, div));
    }
    let hours = ns / (3600 * SEC);
    let minutes = ns / (60 * SEC) % 60;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}s", decimal(ns % (60 * SEC), SEC)));
    out
}

/// `v / div` with its fraction, trailing zeros dropped.
fn decimal(v: u128, div: u128) -> String {
    let (whole, rest) = (v / div, v % div);
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let frac = format!("{rest:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_as_etcd_reads_it() {
        assert_eq!(
            AutoCompaction::parse("periodic", "0"),
            Ok(AutoCompaction::Off)
        );
        assert_eq!(
            AutoCompaction::parse("periodic", "1"),
            Ok(AutoCompaction::Periodic(HOUR))
        );
        assert_eq!(
            AutoCompaction::parse("periodic", "5m"),
            Ok(AutoCompaction::Periodic(Duration::from_secs(300)))
        );
        assert_eq!(
            AutoCompaction::parse("revision", "1000"),
            Ok(AutoCompaction::Revision {
                retention: 1000,
                interval: REVISION_INTERVAL
            })
        );
        assert_eq!(
            AutoCompaction::parse("foo", "1").unwrap_err().to_string(),
            "error verifying flags, unknown auto-compaction-mode \"foo\". See 'concord --help'."
        );
        assert_eq!(
            AutoCompaction::parse("periodic", "xyz")
                .unwrap_err()
                .to_string(),
            "error parsing CompactionRetention: time: invalid duration \"xyz\""
        );
    }

    #[test]
    fn durations_printed_as_go() {
        assert_eq!(go_duration(Duration::from_secs(2)), "2s");
        assert_eq!(go_duration(HOUR), "1h0m0s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(200)), "200ms");
    }
}
