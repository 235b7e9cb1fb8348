//! The watch workload: W watchers over key ranges, spread over S gRPC Watch
//! streams, while writers put at a fixed total rate. Checks that every
//! acknowledged write reaches every watcher of its range once and in
//! revision order, and measures delivery latency two ways:
//! - `p50_ms` ...: from the put's send to the event's receipt (v2bench's
//!   watch latency, which is comparable across servers);
//! - `ack_p50_ms` ...: from the put's answer to the event's receipt, 0 for
//!   an event that came first (counted in `delivered_before_ack`): etcd
//!   notifies watchers as it applies, before it answers the put, so most of
//!   these are 0 and the tail is what they show.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use concord_rpc::etcd::etcdserverpb::{
    kv_client::KvClient, watch_client::WatchClient, watch_request::RequestUnion, PutRequest,
    WatchCreateRequest, WatchRequest,
};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch as signal};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::kv_ops::value;
use crate::procs::{self, CpuSnapshot};
use crate::stats::{Errors, Latencies};

/// What one watch run does.
pub struct Plan {
    pub prefix: String,
    pub watchers: usize,
    pub streams: usize,
    pub groups: usize,
    pub keys_per_group: usize,
    pub rate: f64,
    pub writers: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub drain: Duration,
    pub value_size: usize,
    pub timeout: Duration,
}

/// An acknowledged write.
struct Write {
    rev: i64,
    group: usize,
    sent_ns: u64,
    acked_ns: u64,
    measured: bool,
}

/// What one watcher received, in arrival order.
#[derive(Default)]
struct Received {
    /// (mod_revision, receipt time in ns since the run's base).
    events: Vec<(i64, u64)>,
    duplicates: u64,
    out_of_order: u64,
}

/// The key prefix of group `g`; watchers of g watch every key under it.
fn group_prefix(prefix: &str, g: usize) -> Vec<u8> {
    format!("{prefix}{g}/").into_bytes()
}

/// etcd's range end for "every key with this prefix" (clientv3.GetPrefixRangeEnd).
fn prefix_end(p: &[u8]) -> Vec<u8> {
    let mut end = p.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn ns_since(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

/// One Watch stream: creates its watchers one after the other, then records
/// every event until `stop`.
async fn stream(
    ch: Channel,
    mine: Vec<(usize, Vec<u8>)>,
    base: Instant,
    last: Arc<Vec<AtomicI64>>,
    mut stop: signal::Receiver<bool>,
    errors: Arc<std::sync::Mutex<Errors>>,
) -> anyhow::Result<Vec<(usize, Received)>> {
    let (tx, rx) = mpsc::channel::<WatchRequest>(16);
    let create = |key: &[u8]| WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: key.to_vec(),
            range_end: prefix_end(key),
            ..Default::default()
        })),
    };
    let mut client = WatchClient::new(ch);
    // The first create goes before the call: a server may hold its headers
    // until it has something to answer.
    tx.send(create(&mine[0].1)).await?;
    let mut resp = client.watch(ReceiverStream::new(rx)).await?.into_inner();
    let mut by_id: HashMap<i64, usize> = HashMap::new();
    for (n, (idx, key)) in mine.iter().enumerate() {
        if n > 0 {
            tx.send(create(key)).await?;
        }
        let m = resp
            .message()
            .await?
            .ok_or_else(|| anyhow!("watch stream ended while creating"))?;
        if !m.created || m.canceled {
            bail!("watch create answered {m:?}");
        }
        by_id.insert(m.watch_id, n);
        // Non-zero marks it created (a revision is at least 1).
        last[*idx].store(m.header.map_or(0, |h| h.revision).max(1), Ordering::Relaxed);
    }
    let mut got: Vec<Received> = mine.iter().map(|_| Received::default()).collect();
    loop {
        let m = tokio::select! {
            m = resp.message() => m,
            _ = stop.changed() => break,
        };
        let m = match m {
            Ok(Some(m)) => m,
            Ok(None) => {
                errors
                    .lock()
                    .unwrap()
                    .add("stream ended", "the server ended a watch stream");
                break;
            }
            Err(s) => {
                errors
                    .lock()
                    .unwrap()
                    .add(&format!("{:?}", s.code()), s.message());
                break;
            }
        };
        let at = ns_since(base);
        let Some(&n) = by_id.get(&m.watch_id) else {
            continue;
        };
        if m.canceled {
            let why = format!(
                "{} (compact_revision {})",
                m.cancel_reason, m.compact_revision
            );
            errors.lock().unwrap().add("canceled", &why);
        }
        let r = &mut got[n];
        for ev in m.events {
            let rev = ev.kv.map_or(0, |kv| kv.mod_revision);
            match r.events.last() {
                Some(&(prev, _)) if rev == prev => r.duplicates += 1,
                Some(&(prev, _)) if rev < prev => r.out_of_order += 1,
                _ => {}
            }
            r.events.push((rev, at));
            last[mine[n].0].fetch_max(rev, Ordering::Relaxed);
        }
    }
    drop(tx);
    Ok(mine.into_iter().map(|(idx, _)| idx).zip(got).collect())
}

/// One writer: puts at `rate / writers` per second, round-robin over the
/// keys of every group, until `end`.
#[allow(clippy::too_many_arguments)]
async fn writer(
    ch: Channel,
    w: usize,
    plan: Arc<Plan>,
    base: Instant,
    start: Instant,
    measured_from: Instant,
    end: Instant,
    value: Vec<u8>,
) -> (Vec<Write>, Errors) {
    let mut kv = KvClient::new(ch);
    let interval = Duration::from_secs_f64(plan.writers as f64 / plan.rate);
    let mut next = start + interval.mul_f64(w as f64 / plan.writers as f64);
    let mut j = w;
    let mut done = Vec::new();
    let mut errors = Errors::default();
    let total_keys = plan.groups * plan.keys_per_group;
    loop {
        if next >= end {
            break;
        }
        // Behind schedule (a slow answer): send at once, the rate catches up.
        tokio::time::sleep_until(next.into()).await;
        // Measured by its slot, not by when it went out, so the measured
        // window holds exactly rate x duration writes.
        let measured = next >= measured_from;
        next += interval;
        let k = j % total_keys;
        j += plan.writers;
        let group = k % plan.groups;
        let mut key = group_prefix(&plan.prefix, group);
        key.extend_from_slice((k / plan.groups).to_string().as_bytes());
        let sent_ns = ns_since(base);
        let req = PutRequest {
            key,
            value: value.clone(),
            ..Default::default()
        };
        match tokio::time::timeout(plan.timeout, kv.put(req)).await {
            Ok(Ok(r)) => done.push(Write {
                rev: r.into_inner().header.map_or(0, |h| h.revision),
                group,
                sent_ns,
                acked_ns: ns_since(base),
                measured,
            }),
            Ok(Err(s)) => errors.add(&format!("{:?}", s.code()), s.message()),
            Err(_) => errors.add("client timeout", "put not answered within --timeout"),
        }
    }
    (done, errors)
}

/// Runs the watch workload over `channels`; returns the row's fields and the
/// CPU snapshots of the measured window.
pub async fn run(
    channels: &[Channel],
    plan: Plan,
) -> anyhow::Result<(Map<String, Value>, (CpuSnapshot, CpuSnapshot))> {
    let plan = Arc::new(plan);
    let base = Instant::now();
    let last: Arc<Vec<AtomicI64>> =
        Arc::new((0..plan.watchers).map(|_| AtomicI64::new(0)).collect());
    let errors = Arc::new(std::sync::Mutex::new(Errors::default()));
    let (stop_tx, stop_rx) = signal::channel(false);

    // Watcher i watches group i mod G, on stream i mod S.
    let streams = plan.streams.clamp(1, plan.watchers);
    let mut per_stream: Vec<Vec<(usize, Vec<u8>)>> = vec![Vec::new(); streams];
    for i in 0..plan.watchers {
        per_stream[i % streams].push((i, group_prefix(&plan.prefix, i % plan.groups)));
    }
    let t_reg = Instant::now();
    let tasks: Vec<_> = per_stream
        .into_iter()
        .enumerate()
        .map(|(s, mine)| {
            tokio::spawn(stream(
                channels[s % channels.len()].clone(),
                mine,
                base,
                last.clone(),
                stop_rx.clone(),
                errors.clone(),
            ))
        })
        .collect();
    // Every watcher is created once its last watched revision is set.
    let reg_deadline = Instant::now() + Duration::from_secs(60);
    while last.iter().any(|l| l.load(Ordering::Relaxed) == 0) {
        if Instant::now() > reg_deadline || tasks.iter().any(|t| t.is_finished()) {
            let _ = stop_tx.send(true);
            for t in tasks {
                t.await?.context("creating watchers")?;
            }
            bail!("watchers not created within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let register_s = t_reg.elapsed().as_secs_f64();

    let start = Instant::now() + Duration::from_millis(50);
    let measured_from = start + plan.warmup;
    let end = measured_from + plan.duration;
    let mut rng = fastrand::Rng::new();
    let writers: Vec<_> = (0..plan.writers)
        .map(|w| {
            tokio::spawn(writer(
                channels[w % channels.len()].clone(),
                w,
                plan.clone(),
                base,
                start,
                measured_from,
                end,
                value(&mut rng, plan.value_size),
            ))
        })
        .collect();
    tokio::time::sleep_until(measured_from.into()).await;
    let cpu0 = procs::snapshot();
    tokio::time::sleep_until(end.into()).await;
    let cpu1 = procs::snapshot();
    let mut writes = Vec::new();
    let mut write_errors = Errors::default();
    for w in writers {
        let (d, e) = w.await?;
        writes.extend(d);
        write_errors.merge(e);
    }

    // Wait until every watcher has the last write of its group, at most --watch-drain.
    let mut final_rev = vec![0i64; plan.groups];
    for w in &writes {
        final_rev[w.group] = final_rev[w.group].max(w.rev);
    }
    let drain_deadline = Instant::now() + plan.drain;
    while Instant::now() < drain_deadline
        && (0..plan.watchers).any(|i| last[i].load(Ordering::Relaxed) < final_rev[i % plan.groups])
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop_tx.send(true);
    let mut received: Vec<(usize, Received)> = Vec::new();
    for t in tasks {
        received.extend(t.await??);
    }
    let watch_errors = Arc::try_unwrap(errors)
        .ok()
        .map(|m| m.into_inner().unwrap())
        .unwrap_or_default();
    Ok((
        summarize(
            &plan,
            &writes,
            received,
            write_errors,
            watch_errors,
            register_s,
        ),
        (cpu0, cpu1),
    ))
}

/// The row: delivery latencies of the measured writes, and the delivery check.
fn summarize(
    plan: &Plan,
    writes: &[Write],
    received: Vec<(usize, Received)>,
    write_errors: Errors,
    watch_errors: Errors,
    register_s: f64,
) -> Map<String, Value> {
    let by_rev: HashMap<i64, &Write> = writes.iter().map(|w| (w.rev, w)).collect();
    let mut expected: Vec<Vec<i64>> = vec![Vec::new(); plan.groups];
    for w in writes {
        expected[w.group].push(w.rev);
    }
    let (mut from_ack, mut from_send) = (Latencies::default(), Latencies::default());
    let (mut missed, mut dups, mut ooo, mut unacked, mut before_ack) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for (i, r) in &received {
        dups += r.duplicates;
        ooo += r.out_of_order;
        let seen: HashSet<i64> = r.events.iter().map(|e| e.0).collect();
        missed += expected[i % plan.groups]
            .iter()
            .filter(|rev| !seen.contains(rev))
            .count() as u64;
        for &(rev, at) in &r.events {
            let Some(w) = by_rev.get(&rev) else {
                unacked += 1;
                continue;
            };
            if !w.measured {
                continue;
            }
            if at < w.acked_ns {
                before_ack += 1;
            }
            from_ack.push(at.saturating_sub(w.acked_ns) / 1000);
            from_send.push(at.saturating_sub(w.sent_ns) / 1000);
        }
    }
    let measured_writes = writes.iter().filter(|w| w.measured).count();
    let secs = plan.duration.as_secs_f64();
    let mut m = Map::new();
    m.insert("workload".into(), json!(format!("watch@{}/s", plan.rate)));
    m.insert("conc".into(), json!(plan.watchers));
    m.insert(
        "streams".into(),
        json!(plan.streams.clamp(1, plan.watchers)),
    );
    m.insert("groups".into(), json!(plan.groups));
    m.insert("keys_per_group".into(), json!(plan.keys_per_group));
    m.insert("duration_s".into(), json!(secs));
    m.insert("requests".into(), json!(from_send.len()));
    m.insert(
        "rps".into(),
        json!(((from_send.len() as f64 / secs) * 10.0).round() / 10.0),
    );
    m.extend(from_send.fields(""));
    m.extend(from_ack.fields("ack_"));
    let mut errors = Errors::default();
    errors.merge(write_errors);
    let write_error_count = errors.total();
    let watch_error_count = watch_errors.total();
    errors.merge(watch_errors);
    m.extend(errors.fields());
    m.insert("writes".into(), json!(measured_writes));
    m.insert(
        "write_rps".into(),
        json!(((measured_writes as f64 / secs) * 10.0).round() / 10.0),
    );
    m.insert("target_write_rps".into(), json!(plan.rate));
    m.insert("write_errors".into(), json!(write_error_count));
    m.insert("watch_errors".into(), json!(watch_error_count));
    m.insert("missed_events".into(), json!(missed));
    m.insert("duplicate_events".into(), json!(dups));
    m.insert("out_of_order_events".into(), json!(ooo));
    m.insert("unacked_events".into(), json!(unacked));
    m.insert("delivered_before_ack".into(), json!(before_ack));
    m.insert(
        "register_s".into(),
        json!((register_s * 1000.0).round() / 1000.0),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(groups: usize) -> Plan {
        Plan {
            prefix: "p/".into(),
            watchers: 2,
            streams: 1,
            groups,
            keys_per_group: 1,
            rate: 10.0,
            writers: 1,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(1),
            drain: Duration::ZERO,
            value_size: 1,
            timeout: Duration::from_secs(1),
        }
    }

    fn received(events: &[(i64, u64)], duplicates: u64, out_of_order: u64) -> Received {
        Received {
            events: events.to_vec(),
            duplicates,
            out_of_order,
        }
    }

    fn write(rev: i64, group: usize) -> Write {
        Write {
            rev,
            group,
            sent_ns: 1_000_000,
            acked_ns: 2_000_000,
            measured: true,
        }
    }

    #[test]
    fn delivery_check_counts_gaps_copies_and_disorder() {
        let writes = [write(2, 0), write(3, 0), write(4, 0)];
        // Watcher 0: 2, 2 (copy), 4 (3 missed); watcher 1: 3, 2 (out of order), 4, 9 (unacked).
        let w0 = received(&[(2, 3_000_000), (2, 3_000_000), (4, 1_500_000)], 1, 0);
        let w1 = received(
            &[
                (3, 3_000_000),
                (2, 3_000_000),
                (4, 3_000_000),
                (9, 3_000_000),
            ],
            0,
            1,
        );
        let m = summarize(
            &plan(1),
            &writes,
            vec![(0, w0), (1, w1)],
            Errors::default(),
            Errors::default(),
            0.0,
        );
        assert_eq!(m["missed_events"], json!(1));
        assert_eq!(m["duplicate_events"], json!(1));
        assert_eq!(m["out_of_order_events"], json!(1));
        assert_eq!(m["unacked_events"], json!(1));
        assert_eq!(m["delivered_before_ack"], json!(1));
        assert_eq!(m["requests"], json!(6));
        assert_eq!(m["p50_ms"], json!(2.0));
    }

    #[test]
    fn each_watcher_expects_only_its_group() {
        let writes = [write(2, 0), write(3, 1)];
        let w0 = received(&[(2, 3_000_000)], 0, 0);
        let w1 = received(&[(3, 3_000_000)], 0, 0);
        let m = summarize(
            &plan(2),
            &writes,
            vec![(0, w0), (1, w1)],
            Errors::default(),
            Errors::default(),
            0.0,
        );
        assert_eq!(m["missed_events"], json!(0));
        assert_eq!(m["requests"], json!(2));
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"a/1/"), b"a/10".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}
