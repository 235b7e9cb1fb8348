//! Command line: what to run (workloads, client counts, sizes) and where.

use clap::{Parser, ValueEnum};

/// One measured workload.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Put of a random key of `--key-space`, `--value-size` bytes.
    Put,
    /// Linearizable Range of one preloaded key.
    Range,
    /// Serializable Range of one preloaded key (answered by the member reached).
    RangeSerializable,
    /// Compare-and-swap: Txn comparing a key's mod_revision, put on success.
    Txn,
    /// Watchers over a range while a writer puts at `--watch-rate`.
    Watch,
}

impl Workload {
    /// The name in the JSON rows (the value-enum spelling).
    pub fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Range => "range",
            Workload::RangeSerializable => "range-serializable",
            Workload::Txn => "txn",
            Workload::Watch => "watch",
        }
    }
}

/// Closed-loop load generator for etcd's v3 API (KV and Watch over gRPC).
///
/// Every (workload, clients) pair is one run and prints one JSON line on
/// stdout; progress goes to stderr.
#[derive(Parser, Debug, Clone)]
#[command(name = "v3bench", version)]
pub struct Args {
    /// Client URLs (h2c gRPC); connections go to them round-robin.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    pub endpoints: Vec<String>,
    /// Workloads, in this order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "put,range,range-serializable,txn,watch"
    )]
    pub workloads: Vec<Workload>,
    /// Client counts: one run per count (for watch: the number of watchers).
    #[arg(long, value_delimiter = ',', default_value = "1,64,256")]
    pub clients: Vec<usize>,
    /// HTTP/2 connections per run; 0 = min(clients, 8), rounded up to a
    /// multiple of the endpoint count.
    #[arg(long, default_value_t = 0)]
    pub conns: usize,
    /// Seconds measured per run.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Measure this many requests instead of --duration (not for watch).
    #[arg(long)]
    pub requests: Option<u64>,
    /// Seconds of unmeasured load before the measured window of each run.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Idle seconds between runs.
    #[arg(long, default_value_t = 1.0)]
    pub pause: f64,
    /// Per-request timeout, seconds (a late answer counts as an error).
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
    /// Prefix of every key written.
    #[arg(long, default_value = "bench/")]
    pub prefix: String,
    /// put: keys are uniform random in [0, N).
    #[arg(long, default_value_t = 100_000)]
    pub key_space: u64,
    /// range: keys [0, N) are preloaded and read uniformly at random.
    #[arg(long, default_value_t = 10_000)]
    pub read_keys: u64,
    /// Bytes of every value written.
    #[arg(long, default_value_t = 256)]
    pub value_size: usize,
    /// txn: keys of each client (no other client touches them).
    #[arg(long, default_value_t = 16)]
    pub txn_keys: usize,
    /// watch: gRPC Watch streams the watchers are spread over; 0 = one per
    /// connection.
    #[arg(long, default_value_t = 0)]
    pub watch_streams: usize,
    /// watch: writes per second, in total.
    #[arg(long, default_value_t = 1000.0)]
    pub watch_rate: f64,
    /// watch: watcher i watches the range of group i mod G (so each write
    /// reaches watchers/G watchers).
    #[arg(long, default_value_t = 1)]
    pub watch_groups: usize,
    /// watch: keys per group, written round-robin.
    #[arg(long, default_value_t = 100)]
    pub watch_keys: usize,
    /// watch: writer tasks sharing --watch-rate (one put outstanding each).
    #[arg(long, default_value_t = 8)]
    pub watch_writers: usize,
    /// watch: seconds to wait after the last write for every event.
    #[arg(long, default_value_t = 5.0)]
    pub watch_drain: f64,
    /// Server PIDs: their CPU and memory (VmHWM/VmRSS) go into every row.
    #[arg(long, value_delimiter = ',')]
    pub pids: Vec<u32>,
    /// Free text copied into every row.
    #[arg(long)]
    pub label: Option<String>,
    /// Put endpoints whose member does not lead first (asked with
    /// Maintenance.Status), so a 1-client run goes through a follower.
    #[arg(long)]
    pub follower_first: bool,
}
