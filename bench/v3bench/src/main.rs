//! v3bench: a closed-loop load generator for etcd's v3 API (KV and Watch
//! over gRPC), the v3 counterpart of ../shared/bench's v2bench. Each
//! (workload, clients) pair is one run and prints one JSON line on stdout
//! with v2bench's row fields (`workload`, `conc`, `rps`, `p50_ms` ...
//! `max_ms`, `errors`, `client_cpu_pct`/`server_cpu_pct`/`other_cpu_pct`,
//! `server_mem_kb`), so a row list wrapped as `{"meta":..., "results": [...]}`
//! is also what `v2bench --compare` and `--median` read.

mod args;
mod closed_loop;
mod conns;
mod kv_ops;
mod procs;
mod stats;
mod watch;

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use concord_rpc::etcd::etcdserverpb::{
    kv_client::KvClient, maintenance_client::MaintenanceClient, StatusRequest,
};
use serde_json::{json, Map, Value};
use tonic::transport::Channel;

use args::{Args, Workload};
use closed_loop::Window;

fn log(msg: &str) {
    eprintln!("[v3bench {}] {msg}", clock());
}

/// UTC wall-clock time of day, hh:mm:ss, as v2bench's log lines carry it.
fn clock() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{:02}:{:02}:{:02}", s / 3600 % 24, s / 60 % 60, s % 60)
}

/// A random tag for this invocation, so txn and watch keys are fresh.
fn run_tag() -> String {
    format!("{:08x}", fastrand::u32(..))
}

/// Endpoints with the members that do not lead first (Maintenance.Status),
/// so one client goes through a follower; the given order when a member
/// cannot say.
async fn follower_first(endpoints: &[String]) -> Vec<String> {
    let mut ranked = Vec::new();
    for (i, e) in endpoints.iter().enumerate() {
        let leads = async {
            let mut m = MaintenanceClient::connect(e.clone()).await.ok()?;
            let s = m.status(StatusRequest {}).await.ok()?.into_inner();
            Some(s.header.map(|h| h.member_id) == Some(s.leader))
        };
        let leads = tokio::time::timeout(Duration::from_secs(3), leads)
            .await
            .ok()
            .flatten();
        ranked.push((leads == Some(true), i, e.clone()));
    }
    ranked.sort();
    ranked.into_iter().map(|(_, _, e)| e).collect()
}

/// Runs one closed-loop KV workload at `clients` clients.
async fn run_kv(
    a: &Args,
    w: Workload,
    clients: usize,
    channels: &[Channel],
    tag: &str,
) -> anyhow::Result<Map<String, Value>> {
    let warmup = Duration::from_secs_f64(a.warmup);
    let window = match a.requests {
        Some(n) => Window::Requests(n),
        None => Window::For(Duration::from_secs_f64(a.duration)),
    };
    let timeout = Duration::from_secs_f64(a.timeout);
    let kv = |i: usize| KvClient::new(channels[i % channels.len()].clone());
    let failed = Arc::new(AtomicU64::new(0));
    let out = match w {
        Workload::Put => {
            let ops = (0..clients).map(|i| {
                let mut rng = fastrand::Rng::new();
                let value = kv_ops::value(&mut rng, a.value_size);
                kv_ops::Put {
                    kv: kv(i),
                    rng,
                    prefix: a.prefix.clone(),
                    key_space: a.key_space,
                    value,
                }
            });
            closed_loop::run(ops.collect(), warmup, window, timeout).await
        }
        Workload::Range | Workload::RangeSerializable => {
            let ops = (0..clients).map(|i| kv_ops::Range {
                kv: kv(i),
                rng: fastrand::Rng::new(),
                prefix: a.prefix.clone(),
                keys: a.read_keys,
                serializable: w == Workload::RangeSerializable,
            });
            closed_loop::run(ops.collect(), warmup, window, timeout).await
        }
        Workload::Txn => {
            let ops = (0..clients).map(|i| {
                let prefix = format!("{}txn/{tag}/{clients}/{i}/", a.prefix);
                kv_ops::Txn::new(
                    kv(i),
                    fastrand::Rng::new(),
                    &prefix,
                    a.txn_keys.max(1),
                    a.value_size,
                    failed.clone(),
                )
            });
            closed_loop::run(ops.collect(), warmup, window, timeout).await
        }
        Workload::Watch => unreachable!("watch is not a closed loop"),
    };
    let mut m = Map::new();
    m.insert("workload".into(), json!(w.name()));
    m.insert("conc".into(), json!(clients));
    m.insert(
        "duration_s".into(),
        json!((out.seconds * 1000.0).round() / 1000.0),
    );
    m.insert("requests".into(), json!(out.latencies.len()));
    let rps = if out.seconds > 0.0 {
        out.latencies.len() as f64 / out.seconds
    } else {
        0.0
    };
    m.insert("rps".into(), json!((rps * 10.0).round() / 10.0));
    m.extend(out.latencies.fields(""));
    m.extend(out.errors.fields());
    if w == Workload::Txn {
        m.insert("cas_failed".into(), json!(failed.load(Ordering::Relaxed)));
    }
    m.extend(procs::cpu_pct(&out.cpu.0, &out.cpu.1, &a.pids));
    Ok(m)
}

/// Runs the watch workload with `watchers` watchers.
async fn run_watch(
    a: &Args,
    watchers: usize,
    channels: &[Channel],
    tag: &str,
) -> anyhow::Result<Map<String, Value>> {
    let plan = watch::Plan {
        prefix: format!("{}watch/{tag}/{watchers}/", a.prefix),
        watchers,
        streams: if a.watch_streams > 0 {
            a.watch_streams
        } else {
            channels.len()
        },
        groups: a.watch_groups.max(1),
        keys_per_group: a.watch_keys.max(1),
        rate: a.watch_rate,
        writers: a.watch_writers.max(1),
        warmup: Duration::from_secs_f64(a.warmup),
        duration: Duration::from_secs_f64(a.duration),
        drain: Duration::from_secs_f64(a.watch_drain),
        value_size: a.value_size,
        timeout: Duration::from_secs_f64(a.timeout),
    };
    let (mut m, cpu) = watch::run(channels, plan).await?;
    m.extend(procs::cpu_pct(&cpu.0, &cpu.1, &a.pids));
    Ok(m)
}

/// One row: runs it, adds the common fields, prints it as one JSON line.
async fn row(
    a: &Args,
    eps: &[String],
    w: Workload,
    clients: usize,
    tag: &str,
) -> anyhow::Result<Value> {
    let n = conns::count(a.conns, clients, eps.len());
    let channels = conns::connect(eps, n).await?;
    let mut m = match w {
        Workload::Watch => run_watch(a, clients, &channels, tag).await?,
        _ => run_kv(a, w, clients, &channels, tag).await?,
    };
    m.insert("conns".into(), json!(n));
    if !a.pids.is_empty() {
        m.insert("server_mem_kb".into(), procs::servers_mem(&a.pids));
    }
    m.insert("endpoints".into(), json!(eps));
    if let Some(l) = &a.label {
        m.insert("label".into(), json!(l));
    }
    Ok(Value::Object(m))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    if a.endpoints.is_empty() || a.clients.contains(&0) {
        bail!("need at least one endpoint, and client counts above 0");
    }
    if a.requests.is_some() && a.workloads.contains(&Workload::Watch) {
        bail!("--requests does not apply to watch (it runs for --duration)");
    }
    let eps = if a.follower_first {
        let eps = follower_first(&a.endpoints).await;
        log(&format!("endpoints, followers first: {}", eps.join(",")));
        eps
    } else {
        a.endpoints.clone()
    };
    let tag = run_tag();
    let mut loaded = false;
    let stdout = std::io::stdout();
    for &w in &a.workloads {
        if matches!(w, Workload::Range | Workload::RangeSerializable) && !loaded {
            let chans = conns::connect(&eps, conns::count(a.conns, 64, eps.len())).await?;
            let s = kv_ops::preload(
                &chans,
                &a.prefix,
                a.read_keys,
                a.value_size,
                Duration::from_secs_f64(a.timeout),
            )
            .await
            .context("preload")?;
            log(&format!("preloaded {} keys in {s:.1} s", a.read_keys));
            loaded = true;
        }
        for &c in &a.clients {
            let r = row(&a, &eps, w, c, &tag)
                .await
                .with_context(|| format!("{} at {c} clients", w.name()))?;
            log(&format!(
                "{:<20} c={:<4} {:>10} req/s  p50 {:>7} ms  p99 {:>7} ms  errors {}  cpu cli {}% srv {}% other {}%",
                r["workload"].as_str().unwrap_or("?"),
                c,
                r["rps"],
                r["p50_ms"],
                r["p99_ms"],
                r["errors"],
                r["client_cpu_pct"],
                r.get("server_cpu_pct").unwrap_or(&Value::Null),
                r["other_cpu_pct"],
            ));
            let mut out = stdout.lock();
            writeln!(out, "{r}")?;
            out.flush()?;
            if a.pause > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(a.pause)).await;
            }
        }
    }
    Ok(())
}
