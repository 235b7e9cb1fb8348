//! CPU and memory of processes, from /proc: the load generator's own CPU,
//! the servers' (`--pids`), everybody else's (interference on a shared
//! machine), and the servers' VmHWM/VmRSS. Per-process scheduler times, as
//! v2bench reads them (the machine-wide /proc/stat undercounts bursts).

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{json, Map, Value};

/// /proc's clock ticks per second (USER_HZ, 100 on every Linux ABI).
const TICKS: f64 = 100.0;

/// CPU seconds of every process at one moment.
pub struct CpuSnapshot {
    at: Instant,
    /// pid -> (start time in ticks, CPU seconds), so a reused pid is told apart.
    all: HashMap<u32, (u64, f64)>,
}

/// (start time, CPU seconds) of one process, from /proc/PID/stat.
fn stat(pid: &str) -> Option<(u64, f64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces and parens.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    let start: u64 = f.get(19)?.parse().ok()?;
    Some((start, (utime + stime) as f64 / TICKS))
}

/// Every process's CPU time now.
pub fn snapshot() -> CpuSnapshot {
    let mut all = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(pid) = name.parse::<u32>() else {
                continue;
            };
            if let Some(v) = stat(name) {
                all.insert(pid, v);
            }
        }
    }
    CpuSnapshot {
        at: Instant::now(),
        all,
    }
}

/// `client_cpu_pct`, `server_cpu_pct` (summed over `servers`) and
/// `other_cpu_pct` between two snapshots, in % of one core.
pub fn cpu_pct(a: &CpuSnapshot, b: &CpuSnapshot, servers: &[u32]) -> Map<String, Value> {
    let dt = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    let me = std::process::id();
    let used = |pid: u32| -> f64 {
        match (a.all.get(&pid), b.all.get(&pid)) {
            (Some(x), Some(y)) if x.0 == y.0 => y.1 - x.1,
            // Started during the interval: all of its time is in it.
            (None, Some(y)) => y.1,
            _ => 0.0,
        }
    };
    let pct = |s: f64| (1000.0 * s / dt).round() / 10.0;
    let mut out = Map::new();
    out.insert("client_cpu_pct".into(), json!(pct(used(me))));
    if !servers.is_empty() {
        out.insert(
            "server_cpu_pct".into(),
            json!(pct(servers.iter().map(|&p| used(p)).sum())),
        );
    }
    let other: f64 = b
        .all
        .keys()
        .filter(|&&p| p != me && !servers.contains(&p))
        .map(|&p| used(p))
        .sum();
    out.insert("other_cpu_pct".into(), json!(pct(other)));
    out
}

/// {"VmHWM": kB, "VmRSS": kB} of one process (empty once it is gone).
pub fn mem_kb(pid: u32) -> Value {
    let mut out = Map::new();
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        for line in s.lines() {
            for key in ["VmHWM", "VmRSS"] {
                if let Some(v) = line.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
                    if let Some(kb) = v
                        .split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                    {
                        out.insert(key.into(), json!(kb));
                    }
                }
            }
        }
    }
    Value::Object(out)
}

/// `server_mem_kb` of a row: each server's memory, by pid.
pub fn servers_mem(pids: &[u32]) -> Value {
    Value::Object(pids.iter().map(|p| (p.to_string(), mem_kb(*p))).collect())
}
