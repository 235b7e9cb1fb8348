//! etcd's configuration surface: flags (also in Go's `-flag value` syntax),
//! `ETCD_*` / `CONCORD_*` environment variables and the `--config-file`
//! YAML, layered with the `config` crate as defaults < file < environment <
//! flags, into one [`ServerConfig`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use concord_store::go::parse_bool;
use serde::Deserialize;

/// The command line, as etcd spells it. Every option is optional here:
/// defaults live in [`layered`], so that a flag that was not given does not
/// hide the file or the environment. `--help` is [`crate::help`]'s text,
/// not clap's.
#[derive(Debug, Parser, Default)]
#[command(
    name = "concord",
    about = "Concord: an etcd-compatible key-value store (all-in-one server)",
    disable_version_flag = true,
    disable_help_flag = true,
    args_override_self = true
)]
pub struct Flags {
    /// Print the help and exit.
    #[arg(short = 'h', long = "help")]
    pub help: bool,
    /// Print the version and exit (`--version`, or Go's `--version=true`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub version: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long = "data-dir")]
    pub data_dir: Option<String>,
    /// Accepted and ignored: the raft log lives in the data dir.
    #[arg(long = "wal-dir")]
    pub wal_dir: Option<String>,
    #[arg(long = "listen-client-urls")]
    pub listen_client_urls: Option<String>,
    #[arg(long = "advertise-client-urls")]
    pub advertise_client_urls: Option<String>,
    #[arg(long = "listen-peer-urls")]
    pub listen_peer_urls: Option<String>,
    #[arg(long = "initial-advertise-peer-urls")]
    pub initial_advertise_peer_urls: Option<String>,
    #[arg(long = "initial-cluster")]
    pub initial_cluster: Option<String>,
    #[arg(long = "initial-cluster-state")]
    pub initial_cluster_state: Option<String>,
    #[arg(long = "initial-cluster-token")]
    pub initial_cluster_token: Option<String>,
    /// etcd's v2 discovery: the token's URL on a discovery service.
    #[arg(long)]
    pub discovery: Option<String>,
    /// `exit` or `proxy` (the default) when the discovered cluster is full.
    #[arg(long = "discovery-fallback")]
    pub discovery_fallback: Option<String>,
    /// An HTTP proxy for the requests to the discovery service.
    #[arg(long = "discovery-proxy")]
    pub discovery_proxy: Option<String>,
    #[arg(long = "snapshot-count")]
    pub snapshot_count: Option<String>,
    #[arg(long = "heartbeat-interval")]
    pub heartbeat_interval: Option<String>,
    #[arg(long = "election-timeout")]
    pub election_timeout: Option<String>,
    #[arg(long = "config-file")]
    pub config_file: Option<String>,
    /// Accepted; the v2 API is always on.
    #[arg(long = "enable-v2", num_args = 0..=1, default_missing_value = "true")]
    pub enable_v2: Option<String>,
    #[arg(long = "max-request-bytes")]
    pub max_request_bytes: Option<String>,
    #[arg(long = "log-level")]
    pub log_level: Option<String>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub debug: Option<String>,
    #[arg(long = "strict-reconfig-check", num_args = 0..=1, default_missing_value = "true")]
    pub strict_reconfig_check: Option<String>,
    #[arg(long = "worker-threads")]
    pub worker_threads: Option<String>,
    #[arg(long = "event-bus-url")]
    pub event_bus_url: Option<String>,
    /// Accepted and ignored: Concord keeps 5 snapshot files.
    #[arg(long = "max-snapshots")]
    pub max_snapshots: Option<String>,
    /// Accepted and ignored: the raft log is one SQLite file.
    #[arg(long = "max-wals")]
    pub max_wals: Option<String>,
    /// etcd flags Concord lacks, as (config key, value), taken out of the
    /// command line by [`take_unsupported`] before clap sees it.
    #[arg(skip)]
    pub unsupported: Vec<(String, String)>,
}

/// Parses a command line (Go syntax too) into [`Flags`].
pub fn parse_flags<I: IntoIterator<Item = String>>(args: I) -> Result<Flags, clap::Error> {
    let (args, unsupported) = take_unsupported(normalize_args(args));
    let mut flags = Flags::try_parse_from(args)?;
    flags.unsupported = unsupported;
    Ok(flags)
}

/// Takes the etcd flags that Concord does not support out of a normalized
/// command line, with their values (as Go's flag package reads them: a
/// bool flag takes a value only as `--flag=value`), so that they can be
/// checked like the same setting from the environment or the config file.
pub fn take_unsupported(args: Vec<String>) -> (Vec<String>, Vec<(String, String)>) {
    let mut rest = Vec::with_capacity(args.len());
    let mut found = Vec::new();
    let mut it = args.into_iter().enumerate().peekable();
    while let Some((i, a)) = it.next() {
        if a == "--" {
            rest.push(a);
            rest.extend(it.map(|(_, a)| a));
            break;
        }
        let flag = (i > 0).then(|| a.strip_prefix("--")).flatten();
        let (name, inline) = match flag {
            Some(f) => match f.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (f, None),
            },
            None => ("", None),
        };
        let Some(u) = crate::help::unsupported(name) else {
            rest.push(a);
            continue;
        };
        let value = match inline {
            Some(v) => v,
            None if u.is_bool => "true".to_string(),
            // Go: "flag needs an argument"; never a value that is accepted.
            None => it
                .next()
                .map_or_else(|| "(missing)".to_string(), |(_, v)| v),
        };
        found.push((u.key(), value));
    }
    (rest, found)
}

/// Rewrites Go-style flags (`-name x`, `-name=x`) to `--name x` so that
/// clap can parse exactly what etcd accepts. A lone `-` and values are left
/// alone.
pub fn normalize_args<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            if i > 0 && a.len() > 2 && a.starts_with('-') && !a.starts_with("--") {
                let name = a[1..].split('=').next().unwrap_or("");
                if name.len() > 1 {
                    return format!("-{a}");
                }
            }
            a
        })
        .collect()
}

/// What a member serves on its client URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `concord`: the v2 HTTP API, with the gateway and the watch hub in
    /// this process.
    AllInOne,
    /// `concord-consensus`: the KV, cluster and committed-events gRPC
    /// contracts, for gateways and watch services in other processes.
    Consensus,
}

/// The effective configuration of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub name: String,
    pub data_dir: PathBuf,
    pub listen_client_urls: Vec<String>,
    pub advertise_client_urls: Vec<String>,
    pub listen_peer_urls: Vec<String>,
    pub initial_advertise_peer_urls: Vec<String>,
    /// name -> peer URLs, in the order given.
    pub initial_cluster: Vec<(String, Vec<String>)>,
    pub initial_cluster_state: ClusterState,
    pub initial_cluster_token: String,
    pub snapshot_count: u64,
    pub heartbeat_interval_ms: u64,
    pub election_timeout_ms: u64,
    pub max_request_bytes: usize,
    pub log_level: String,
    /// `--strict-reconfig-check` (default true, as in etcd 3.4).
    pub strict_reconfig_check: bool,
    /// Runtime worker threads (`--worker-threads`, resolved from 0 = auto).
    pub worker_threads: usize,
    /// `--event-bus-url`: a NATS URL the leader publishes committed events
    /// to for the watch tier (concord-consensus; `None`: no bus).
    pub event_bus_url: Option<String>,
    /// `--discovery`: bootstrap by etcd's v2 discovery protocol instead of
    /// `--initial-cluster` (`None` when not given or empty).
    pub discovery: Option<String>,
    /// `--discovery-fallback`: what a member beyond the token's size does.
    pub discovery_fallback: DiscoveryFallback,
    /// `--discovery-proxy`: an HTTP proxy for discovery requests ("" none).
    pub discovery_proxy: String,
}

/// What a member does when discovery finds the cluster full (etcd's
/// `--discovery-fallback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryFallback {
    /// Stop with "discovery: cluster is full".
    Exit,
    /// Serve the v2 API as a proxy to the cluster (etcd's default).
    Proxy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    New,
    Existing,
}

/// A configuration that cannot be used; printed as etcd would.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("error reading configuration: {0}")]
    Source(#[from] config::ConfigError),
    #[error("invalid value {value:?} for {key}: {why}")]
    Invalid {
        key: &'static str,
        value: String,
        why: String,
    },
    #[error("{0}")]
    Cluster(String),
    /// etcd's words for a level it does not know (etcd panics with them).
    #[error("unknown level {0:?} (--log-level supports debug, info, warn, error, panic, fatal)")]
    LogLevel(String),
    #[error("this etcd flag is not supported by Concord (yet): --{0}")]
    Unsupported(&'static str),
}

/// Raw layered values, as strings, in etcd's key names with `_`.
#[derive(Debug, Deserialize)]
struct Raw {
    name: String,
    data_dir: Option<String>,
    listen_client_urls: String,
    advertise_client_urls: String,
    listen_peer_urls: String,
    initial_advertise_peer_urls: String,
    initial_cluster: Option<String>,
    initial_cluster_state: String,
    initial_cluster_token: String,
    discovery: Option<String>,
    discovery_fallback: String,
    discovery_proxy: Option<String>,
    snapshot_count: String,
    heartbeat_interval: String,
    election_timeout: String,
    max_request_bytes: String,
    log_level: String,
    debug: String,
    strict_reconfig_check: String,
    worker_threads: String,
    event_bus_url: String,
}

/// etcd's YAML config file with keys like `data-dir`, renamed to the
/// `data_dir` spelling the environment layer produces.
#[derive(Debug, Clone)]
struct EtcdYamlFile(PathBuf);

impl config::Source for EtcdYamlFile {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<config::Map<String, config::Value>, config::ConfigError> {
        let file = config::File::from(self.0.as_path()).format(config::FileFormat::Yaml);
        let map = config::Source::collect(&file)?;
        let mut out = config::Map::new();
        for (k, v) in map {
            let k = k.replace('-', "_").to_lowercase();
            // etcd's YAML nests the TLS settings: `client-transport-security:
            // {cert-file: ..}` is --cert-file, the peer one --peer-cert-file.
            let prefix = match k.as_str() {
                "client_transport_security" => Some(""),
                "peer_transport_security" => Some("peer_"),
                _ => None,
            };
            if let (Some(prefix), Ok(table)) = (prefix, v.clone().into_table()) {
                for (nk, nv) in table {
                    let nk = nk.replace('-', "_").to_lowercase();
                    out.insert(format!("{prefix}{nk}"), nv);
                }
                continue;
            }
            out.insert(k, v);
        }
        Ok(out)
    }
}

/// Lists in flags and environment are comma-separated, as in etcd.
fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

fn parse_u64(key: &'static str, v: &str) -> Result<u64, ConfigError> {
    v.trim()
        .parse()
        .map_err(|e: std::num::ParseIntError| ConfigError::Invalid {
            key,
            value: v.to_string(),
            why: e.to_string(),
        })
}

/// Parses `name=url,name=url2,other=url3` into name -> URLs (a name may
/// appear several times, once per peer URL, as in etcd).
pub fn parse_initial_cluster(s: &str) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for part in split_list(s) {
        let (name, url) = part.split_once('=').ok_or_else(|| {
            ConfigError::Cluster(format!(
                "invalid --initial-cluster entry {part:?}: want name=URL"
            ))
        })?;
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, urls)) => urls.push(url.to_string()),
            None => out.push((name.to_string(), vec![url.to_string()])),
        }
    }
    Ok(out)
}

/// Builds the effective configuration: defaults < config file <
/// `ETCD_*` < `CONCORD_*` < flags.
pub fn layered(flags: &Flags, env: &BTreeMap<String, String>) -> Result<ServerConfig, ConfigError> {
    let mut b = config::Config::builder()
        .set_default("name", "default")?
        .set_default("listen_client_urls", "http://localhost:2379")?
        .set_default("advertise_client_urls", "http://localhost:2379")?
        .set_default("listen_peer_urls", "http://localhost:2380")?
        .set_default("initial_advertise_peer_urls", "http://localhost:2380")?
        .set_default("initial_cluster_state", "new")?
        .set_default("initial_cluster_token", "etcd-cluster")?
        .set_default("discovery_fallback", "proxy")?
        .set_default("snapshot_count", "100000")?
        .set_default("heartbeat_interval", "100")?
        .set_default("election_timeout", "1000")?
        .set_default("max_request_bytes", "1572864")?
        .set_default("log_level", "info")?
        .set_default("debug", "false")?
        .set_default("strict_reconfig_check", "true")?
        .set_default("worker_threads", "0")?
        .set_default("event_bus_url", "")?;
    let config_file = flags.config_file.clone().or_else(|| {
        env.get("CONCORD_CONFIG_FILE")
            .or_else(|| env.get("ETCD_CONFIG_FILE"))
            .cloned()
    });
    if let Some(path) = config_file {
        b = b.add_source(EtcdYamlFile(PathBuf::from(path)));
    }
    let env_map: config::Map<String, String> = env.clone().into_iter().collect();
    for prefix in ["ETCD", "CONCORD"] {
        b = b.add_source(
            config::Environment::with_prefix(prefix)
                .source(Some(env_map.clone()))
                .try_parsing(false),
        );
    }
    let overrides: [(&str, &Option<String>); 20] = [
        ("name", &flags.name),
        ("data_dir", &flags.data_dir),
        ("listen_client_urls", &flags.listen_client_urls),
        ("advertise_client_urls", &flags.advertise_client_urls),
        ("listen_peer_urls", &flags.listen_peer_urls),
        (
            "initial_advertise_peer_urls",
            &flags.initial_advertise_peer_urls,
        ),
        ("initial_cluster", &flags.initial_cluster),
        ("initial_cluster_state", &flags.initial_cluster_state),
        ("initial_cluster_token", &flags.initial_cluster_token),
        ("discovery", &flags.discovery),
        ("discovery_fallback", &flags.discovery_fallback),
        ("discovery_proxy", &flags.discovery_proxy),
        ("snapshot_count", &flags.snapshot_count),
        ("heartbeat_interval", &flags.heartbeat_interval),
        ("election_timeout", &flags.election_timeout),
        ("max_request_bytes", &flags.max_request_bytes),
        ("log_level", &flags.log_level),
        ("strict_reconfig_check", &flags.strict_reconfig_check),
        ("worker_threads", &flags.worker_threads),
        ("event_bus_url", &flags.event_bus_url),
    ];
    for (key, value) in overrides {
        if let Some(v) = value {
            b = b.set_override(key, v.as_str())?;
        }
    }
    if let Some(v) = &flags.debug {
        b = b.set_override("debug", v.as_str())?;
    }
    for (key, value) in &flags.unsupported {
        b = b.set_override(key.as_str(), value.as_str())?;
    }
    let built = b.build()?;
    // An etcd setting Concord lacks, from any layer, stops the start unless
    // its value changes nothing.
    for u in crate::help::UNSUPPORTED {
        let key = u.key();
        let given = built.get::<config::Value>(&key).ok().and_then(value_text);
        if given.is_some_and(|v| !u.accepts(&v)) {
            return Err(ConfigError::Unsupported(u.name));
        }
    }
    let raw: Raw = built.try_deserialize()?;
    resolve(raw)
}

fn resolve(raw: Raw) -> Result<ServerConfig, ConfigError> {
    let initial_advertise_peer_urls = split_list(&raw.initial_advertise_peer_urls);
    let discovery = raw
        .discovery
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(String::from);
    // etcd: one way to bootstrap (its words; `--discovery-srv` is refused
    // as unsupported before this).
    if discovery.is_some()
        && raw
            .initial_cluster
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty())
    {
        return Err(ConfigError::Cluster(
            "error verifying flags, multiple discovery or bootstrap flags are set. \
             Choose one of \"initial-cluster\", \"discovery\" or \"discovery-srv\". \
             See 'concord --help'."
                .into(),
        ));
    }
    let discovery_fallback = match raw.discovery_fallback.trim() {
        "exit" => DiscoveryFallback::Exit,
        "proxy" => DiscoveryFallback::Proxy,
        other => {
            // Go's flag package, as etcd reports a bad value.
            return Err(ConfigError::Cluster(format!(
                "invalid value {other:?} for flag -discovery-fallback: invalid value"
            )));
        }
    };
    // etcd: without --initial-cluster the member bootstraps alone with its
    // own advertised peer URLs.
    let initial_cluster = match raw.initial_cluster.as_deref() {
        Some(s) if !s.trim().is_empty() => parse_initial_cluster(s)?,
        _ => vec![(raw.name.clone(), initial_advertise_peer_urls.clone())],
    };
    let initial_cluster_state = match raw.initial_cluster_state.as_str() {
        "new" => ClusterState::New,
        "existing" => ClusterState::Existing,
        other => {
            return Err(ConfigError::Invalid {
                key: "initial-cluster-state",
                value: other.to_string(),
                why: "valid values include 'new', 'existing'".into(),
            })
        }
    };
    let debug = parse_bool(&raw.debug).unwrap_or(false);
    let log_level = tracing_level(&raw.log_level)?;
    let strict_reconfig_check =
        parse_bool(&raw.strict_reconfig_check).ok_or_else(|| ConfigError::Invalid {
            key: "strict-reconfig-check",
            value: raw.strict_reconfig_check.clone(),
            why: "not a boolean".into(),
        })?;
    let data_dir = raw
        .data_dir
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| format!("{}.etcd", raw.name));
    let election_timeout_ms = parse_u64("election-timeout", &raw.election_timeout)?;
    let heartbeat_interval_ms = parse_u64("heartbeat-interval", &raw.heartbeat_interval)?;
    if heartbeat_interval_ms == 0 || election_timeout_ms < 5 * heartbeat_interval_ms {
        return Err(ConfigError::Cluster(format!(
            "--election-timeout[{election_timeout_ms}ms] should be at least as 5 times as --heartbeat-interval[{heartbeat_interval_ms}ms]"
        )));
    }
    Ok(ServerConfig {
        data_dir: PathBuf::from(data_dir),
        listen_client_urls: split_list(&raw.listen_client_urls),
        advertise_client_urls: split_list(&raw.advertise_client_urls),
        listen_peer_urls: split_list(&raw.listen_peer_urls),
        initial_advertise_peer_urls,
        initial_cluster,
        initial_cluster_state,
        initial_cluster_token: raw.initial_cluster_token,
        snapshot_count: parse_u64("snapshot-count", &raw.snapshot_count)?,
        heartbeat_interval_ms,
        election_timeout_ms,
        max_request_bytes: parse_u64("max-request-bytes", &raw.max_request_bytes)? as usize,
        log_level: if debug {
            "debug".into()
        } else {
            log_level.into()
        },
        strict_reconfig_check,
        worker_threads: match parse_u64("worker-threads", &raw.worker_threads)? {
            0 => default_worker_threads(),
            n => n as usize,
        },
        event_bus_url: Some(raw.event_bus_url.trim().to_string()).filter(|u| !u.is_empty()),
        name: raw.name,
        discovery,
        discovery_fallback,
        discovery_proxy: raw.discovery_proxy.unwrap_or_default().trim().to_string(),
    })
}

/// A configuration value as etcd's flag would read it: `None` for YAML's
/// empty value (`cert-file:`), a list (`log-outputs: [stderr]`) joined with
/// commas, a map as something no flag accepts.
fn value_text(v: config::Value) -> Option<String> {
    match v.kind {
        config::ValueKind::Nil => None,
        config::ValueKind::Array(items) => Some(
            items
                .into_iter()
                .filter_map(value_text)
                .collect::<Vec<_>>()
                .join(","),
        ),
        config::ValueKind::Table(_) => Some("{...}".into()),
        _ => v.into_string().ok(),
    }
}

/// etcd's log levels (`logutil.ConvertToZapLevel`, which also takes
/// `dpanic`) as tracing levels: the levels above error log as error.
pub fn tracing_level(level: &str) -> Result<&'static str, ConfigError> {
    Ok(match level {
        "debug" => "debug",
        "info" => "info",
        "warn" => "warn",
        "error" | "dpanic" | "panic" | "fatal" => "error",
        other => return Err(ConfigError::LogLevel(other.to_string())),
    })
}

/// One worker thread less than the CPUs (at least one), so the raft log
/// writer thread keeps a core. Measured on 2 cores: a second worker cost ~10%
/// of 3-member write throughput at 1-15 clients; single member: puts equal,
/// gets +19% at 16 clients and -3% at 256.
fn default_worker_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> ServerConfig {
        let flags = parse_flags(
            std::iter::once("concord".to_string()).chain(args.iter().map(|s| s.to_string())),
        )
        .expect("flags parse");
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        layered(&flags, &env).expect("config")
    }

    #[test]
    fn defaults_are_etcds() {
        let c = parse(&[], &[]);
        assert_eq!(c.name, "default");
        assert_eq!(c.data_dir, PathBuf::from("default.etcd"));
        assert_eq!(c.listen_client_urls, vec!["http://localhost:2379"]);
        assert_eq!(c.listen_peer_urls, vec!["http://localhost:2380"]);
        assert_eq!(
            c.initial_cluster,
            vec![(
                "default".to_string(),
                vec!["http://localhost:2380".to_string()]
            )]
        );
        assert_eq!(c.initial_cluster_token, "etcd-cluster");
        assert_eq!(c.snapshot_count, 100_000);
        assert_eq!(
            (c.heartbeat_interval_ms, c.election_timeout_ms),
            (100, 1000)
        );
    }

    #[test]
    fn go_flag_syntax_and_last_wins() {
        let c = parse(
            &[
                "-name",
                "a",
                "--name=b",
                "-data-dir=/tmp/x",
                "--enable-v2",
                "-name",
                "c",
            ],
            &[],
        );
        assert_eq!(c.name, "c");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        let c = parse(&["--enable-v2=true", "--name", "n1"], &[]);
        assert_eq!(c.name, "n1");
        assert_eq!(c.data_dir, PathBuf::from("n1.etcd"));
    }

    #[test]
    fn env_below_flags() {
        let env = [("ETCD_NAME", "fromenv"), ("ETCD_SNAPSHOT_COUNT", "50")];
        let c = parse(&[], &env);
        assert_eq!(c.name, "fromenv");
        assert_eq!(c.snapshot_count, 50);
        let c = parse(&["--name", "flag"], &env);
        assert_eq!(c.name, "flag");
        assert_eq!(c.snapshot_count, 50);
    }

    #[test]
    fn config_file_below_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etcd.yaml");
        std::fs::write(
            &path,
            "name: filename\ndata-dir: /var/lib/x\nsnapshot-count: 7\ninitial-cluster: filename=http://10.0.0.1:2380,b=http://10.0.0.2:2380\ninitial-cluster-state: existing\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = parse(&["--config-file", p], &[]);
        assert_eq!(c.name, "filename");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/x"));
        assert_eq!(c.snapshot_count, 7);
        assert_eq!(c.initial_cluster.len(), 2);
        assert_eq!(c.initial_cluster_state, ClusterState::Existing);
        let c = parse(&["--config-file", p], &[("ETCD_SNAPSHOT_COUNT", "9")]);
        assert_eq!(c.snapshot_count, 9);
        let c = parse(
            &["--config-file", p, "--snapshot-count", "11"],
            &[("ETCD_SNAPSHOT_COUNT", "9")],
        );
        assert_eq!(c.snapshot_count, 11);
    }

    #[test]
    fn initial_cluster_with_several_urls() {
        let ic = parse_initial_cluster("a=http://1:2380,a=http://2:2380,b=http://3:2380").unwrap();
        assert_eq!(ic[0].1.len(), 2);
        assert_eq!(ic[1].0, "b");
        assert!(parse_initial_cluster("nonsense").is_err());
    }

    fn parse_err(args: &[&str], env: &[(&str, &str)]) -> String {
        let flags = parse_flags(
            std::iter::once("concord".to_string()).chain(args.iter().map(|s| s.to_string())),
        )
        .expect("flags parse");
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        layered(&flags, &env).expect_err("refused").to_string()
    }

    #[test]
    fn unsupported_etcd_flags_refused_unless_default() {
        let want = "this etcd flag is not supported by Concord (yet): --cert-file";
        assert_eq!(
            parse_err(&["--cert-file", "/a.pem", "--name", "x"], &[]),
            want
        );
        assert_eq!(parse_err(&["-cert-file=/a.pem"], &[]), want);
        assert_eq!(parse_err(&[], &[("ETCD_CERT_FILE", "/a.pem")]), want);
        assert_eq!(
            parse_err(&["--force-new-cluster"], &[]),
            "this etcd flag is not supported by Concord (yet): --force-new-cluster"
        );
        // A bool flag does not take the next argument as its value.
        let c = parse(&["--force-new-cluster=false", "--name", "n"], &[]);
        assert_eq!(c.name, "n");
        assert_eq!(parse_err(&["--name", "x", "--cert-file"], &[]), want);
        let c = parse(&["--cert-file", "", "--log-outputs", "stderr"], &[]);
        assert_eq!(c.name, "default");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etcd.yaml");
        std::fs::write(
            &path,
            "name: f\nclient-transport-security:\n  cert-file: /a.pem\n",
        )
        .unwrap();
        assert_eq!(
            parse_err(&["--config-file", path.to_str().unwrap()], &[]),
            want
        );
        std::fs::write(
            &path,
            "name: f\npeer-transport-security:\n  client-cert-auth: true\n",
        )
        .unwrap();
        assert_eq!(
            parse_err(&["--config-file", path.to_str().unwrap()], &[]),
            "this etcd flag is not supported by Concord (yet): --peer-client-cert-auth"
        );
        // etcd's sample config, with its settings that change nothing.
        std::fs::write(
            &path,
            "name: f\nquota-backend-bytes: 0\nproxy: 'off'\ndiscovery:\nlog-outputs: [stderr]\nclient-transport-security:\n  cert-file:\n  client-cert-auth: false\n  auto-tls: false\npeer-transport-security:\n  key-file:\n  auto-tls: false\n",
        )
        .unwrap();
        assert_eq!(
            parse(&["--config-file", path.to_str().unwrap()], &[]).name,
            "f"
        );
    }

    #[test]
    fn log_levels_are_etcds() {
        assert_eq!(parse(&["--log-level", "fatal"], &[]).log_level, "error");
        assert_eq!(parse(&["--log-level", "warn"], &[]).log_level, "warn");
        assert_eq!(parse(&["--debug"], &[]).log_level, "debug");
        assert_eq!(
            parse_err(&["--log-level", "verbose"], &[]),
            "unknown level \"verbose\" (--log-level supports debug, info, warn, error, panic, fatal)"
        );
        assert!(parse_err(&[], &[("ETCD_LOG_LEVEL", "DEBUG")]).contains("unknown level"));
    }

    #[test]
    fn discovery_flags_and_env() {
        let c = parse(&[], &[]);
        assert_eq!(c.discovery, None);
        assert_eq!(c.discovery_fallback, DiscoveryFallback::Proxy);
        let c = parse(
            &[
                "--discovery",
                "http://d:2382/v2/keys/_etcd/registry/t",
                "-discovery-fallback=exit",
            ],
            &[("ETCD_DISCOVERY_PROXY", "10.0.0.9:3128")],
        );
        assert_eq!(
            c.discovery.as_deref(),
            Some("http://d:2382/v2/keys/_etcd/registry/t")
        );
        assert_eq!(c.discovery_fallback, DiscoveryFallback::Exit);
        assert_eq!(c.discovery_proxy, "10.0.0.9:3128");
        let c = parse(
            &[],
            &[
                ("ETCD_DISCOVERY", "http://d/t"),
                ("CONCORD_DISCOVERY_FALLBACK", "exit"),
            ],
        );
        assert_eq!(c.discovery.as_deref(), Some("http://d/t"));
        assert_eq!(c.discovery_fallback, DiscoveryFallback::Exit);
        assert_eq!(
            parse_err(
                &["--discovery", "http://d/t", "--discovery-fallback", "bogus"],
                &[]
            ),
            "invalid value \"bogus\" for flag -discovery-fallback: invalid value"
        );
        assert!(parse_err(
            &["--discovery", "http://d/t"],
            &[("ETCD_INITIAL_CLUSTER", "a=http://1:2380")]
        )
        .starts_with("error verifying flags, multiple discovery or bootstrap flags are set."));
        assert_eq!(
            parse_err(&["--discovery-srv", "example.com"], &[]),
            "this etcd flag is not supported by Concord (yet): --discovery-srv"
        );
    }

    #[test]
    fn version_takes_no_separate_value() {
        let f = parse_flags(["concord", "--version"].map(String::from)).unwrap();
        assert_eq!(f.version.as_deref(), Some("true"));
        assert!(parse_flags(["concord", "--version", "x"].map(String::from)).is_err());
        assert!(
            parse_flags(["concord", "-h"].map(String::from))
                .unwrap()
                .help
        );
    }
}
