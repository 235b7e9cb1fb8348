//! etcd's configuration surface: flags (also in Go's `-flag value` syntax),
//! `ETCD_*` / `CONCORD_*` environment variables and the `--config-file`
//! YAML, each setting declared once ([`Flags`]) and layered by
//! `concord_process::flags` as defaults < file < environment < flags, into
//! one [`ServerConfig`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{ArgMatches, Args, Command, CommandFactory, FromArgMatches, Parser};
use concord_process::args::{LogArgs, ProcessArgs};
use concord_process::tls::TlsInfo;
use concord_process::{flags, settings};
use concord_store::go::parse_bool;

use crate::node::{AutoCompaction, AutoCompactionError};

/// The command line, as etcd spells it: one declaration per flag, from
/// which `--help` ([`super::help`]), the `ETCD_*`/`CONCORD_*` variables,
/// the config file's keys and the defaults all come
/// ([`concord_process::flags`]). Values stay text here; [`resolve`] checks
/// them with etcd's words. `--help` is [`super::help`]'s text, not clap's.
#[derive(Debug, Parser)]
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
    /// `--config-file` and `--name` (etcd's wording and default: [`command`]).
    #[command(flatten)]
    pub process: ProcessArgs,
    #[command(flatten)]
    pub member: MemberFlags,
    #[command(flatten)]
    pub clustering: ClusteringFlags,
    #[command(flatten)]
    pub security: SecurityFlags,
    /// `--log-level` (etcd's wording: [`command`]).
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub logging: LoggingFlags,
}

/// etcd's "Member" flags.
#[derive(Debug, Args)]
#[command(next_help_heading = "Member")]
pub struct MemberFlags {
    /// Derived from `--name` when not given (see [`super::help`]).
    #[arg(long, help = "Path to the data directory.")]
    pub data_dir: Option<String>,
    #[arg(
        long,
        help = "Accepted and ignored: Concord keeps its raft log (one SQLite file) in the data directory."
    )]
    pub wal_dir: Option<String>,
    #[arg(
        long,
        default_value = "100000",
        help = "Number of committed transactions to trigger a snapshot to disk."
    )]
    pub snapshot_count: String,
    #[arg(
        long,
        default_value = "100",
        help = "Time (in milliseconds) of a heartbeat interval."
    )]
    pub heartbeat_interval: String,
    #[arg(
        long,
        default_value = "1000",
        help = "Time (in milliseconds) for an election to timeout. Must be at least 5 times --heartbeat-interval."
    )]
    pub election_timeout: String,
    #[arg(
        long,
        default_value = "http://localhost:2380",
        help = "List of URLs to listen on for peer traffic (https:// serves TLS: --peer-cert-file, --peer-auto-tls)."
    )]
    pub listen_peer_urls: String,
    #[arg(
        long,
        default_value = "http://localhost:2379",
        help = "List of URLs to listen on for client traffic (https:// serves TLS: --cert-file, --auto-tls)."
    )]
    pub listen_client_urls: String,
    #[arg(
        long,
        default_value = "5",
        help = "Accepted and ignored: Concord keeps the newest 5 snapshot files."
    )]
    pub max_snapshots: String,
    #[arg(
        long,
        default_value = "5",
        help = "Accepted and ignored: Concord's raft log is one SQLite file, not WAL segment files."
    )]
    pub max_wals: String,
    #[arg(
        long,
        default_value = "1572864",
        help = "Maximum client request size in bytes the server will accept."
    )]
    pub max_request_bytes: String,
    #[arg(
        long,
        default_value = "0",
        allow_negative_numbers = true,
        help = "Raise alarms when backend size exceeds the given quota (0 defaults to low space quota)."
    )]
    pub quota_backend_bytes: String,
    #[arg(
        long,
        default_value = "0",
        help = "Concord only: threads serving requests (0: one less than the CPUs, at least 1, leaving a core to the raft log writer's fsyncs)."
    )]
    pub worker_threads: String,
    #[arg(
        long,
        default_value = "",
        help = "Concord only (concord-consensus): NATS URL (nats://host:4222) of the event bus; while this member leads it publishes the committed events to JetStream for concord-watch replicas."
    )]
    pub event_bus_url: String,
}

/// etcd's "Clustering" flags.
#[derive(Debug, Args)]
#[command(next_help_heading = "Clustering")]
pub struct ClusteringFlags {
    #[arg(
        long,
        default_value = "http://localhost:2380",
        help = "List of this member's peer URLs to advertise to the rest of the cluster."
    )]
    pub initial_advertise_peer_urls: String,
    /// Derived from `--name` and `--initial-advertise-peer-urls` when not
    /// given (see [`super::help`]).
    #[arg(
        long,
        help = "Initial cluster configuration for bootstrapping: name=peerURL,... (without it, the member bootstraps alone as <--name>=<--initial-advertise-peer-urls>)."
    )]
    pub initial_cluster: Option<String>,
    #[arg(
        long,
        default_value = "new",
        help = "Initial cluster state ('new' or 'existing')."
    )]
    pub initial_cluster_state: String,
    #[arg(
        long,
        default_value = "etcd-cluster",
        help = "Initial cluster token for the cluster during bootstrap; mixed into the member and cluster IDs."
    )]
    pub initial_cluster_token: String,
    #[arg(
        long,
        default_value = "http://localhost:2379",
        help = "List of this member's client URLs to advertise to the public."
    )]
    pub advertise_client_urls: String,
    #[arg(
        long,
        help = "Discovery URL used to bootstrap the cluster (etcd's v2 discovery protocol): a URL from concord-discovery's /new, or a key path on any v2 keys API (etcd, concord) holding <path>/_config/size. The member registers there and waits for the token's size of members; the initial cluster token becomes the URL. Ignored once the data dir holds a member."
    )]
    pub discovery: Option<String>,
    #[arg(
        long,
        default_value = "proxy",
        help = "Expected behavior ('exit' or 'proxy') when discovery services fails: a member beyond the token's size exits with 'discovery: cluster is full', or serves the v2 API as a proxy to the discovered cluster (concord only; concord-consensus exits)."
    )]
    pub discovery_fallback: String,
    #[arg(long, help = "HTTP proxy to use for traffic to discovery service.")]
    pub discovery_proxy: Option<String>,
    #[arg(
        long,
        num_args = 0..=1,
        default_value = "true",
        default_missing_value = "true",
        help = "Reject reconfiguration requests that would cause quorum loss (enforced, as in etcd)."
    )]
    pub strict_reconfig_check: String,
    #[arg(
        long,
        default_value = "0",
        help = "Auto compaction retention length. 0 means disable auto compaction."
    )]
    pub auto_compaction_retention: String,
    #[arg(
        long,
        default_value = "periodic",
        help = "Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention."
    )]
    pub auto_compaction_mode: String,
    #[arg(
        long,
        num_args = 0..=1,
        default_value = "true",
        default_missing_value = "true",
        help = "Accepted for etcd compatibility, with any value: Concord always serves the etcd v2 API (and only it)."
    )]
    pub enable_v2: String,
}

/// etcd's "Security" flags that Concord serves (TLS on the client and peer
/// URLs, `concord_process::tls`); the rest of the section is in
/// [`super::unsupported`].
#[derive(Debug, Args)]
#[command(next_help_heading = "Security")]
pub struct SecurityFlags {
    #[arg(
        long,
        default_value = "",
        help = "Path to the client server TLS cert file."
    )]
    pub cert_file: String,
    #[arg(
        long,
        default_value = "",
        help = "Path to the client server TLS key file."
    )]
    pub key_file: String,
    #[arg(
        long,
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true",
        help = "Enable client cert authentication."
    )]
    pub client_cert_auth: String,
    #[arg(
        long,
        default_value = "",
        help = "Path to the client server TLS trusted CA cert file."
    )]
    pub trusted_ca_file: String,
    #[arg(
        long,
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true",
        help = "Client TLS using generated certificates."
    )]
    pub auto_tls: String,
    #[arg(
        long,
        default_value = "",
        help = "Path to the peer server TLS cert file."
    )]
    pub peer_cert_file: String,
    #[arg(
        long,
        default_value = "",
        help = "Path to the peer server TLS key file."
    )]
    pub peer_key_file: String,
    #[arg(
        long,
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true",
        help = "Enable peer client cert authentication."
    )]
    pub peer_client_cert_auth: String,
    #[arg(
        long,
        default_value = "",
        help = "Path to the peer server TLS trusted CA file."
    )]
    pub peer_trusted_ca_file: String,
    #[arg(
        long,
        default_value = "",
        help = "Required CN for client certs connecting to the peer endpoint."
    )]
    pub peer_cert_allowed_cn: String,
    #[arg(
        long,
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true",
        help = "Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided."
    )]
    pub peer_auto_tls: String,
    #[arg(
        long,
        default_value = "",
        help = "Comma-separated list of supported TLS cipher suites between client/server and peers (empty: rustls's defaults; Go's names of the TLS 1.2 ECDHE AES-GCM and ChaCha20-Poly1305 suites)."
    )]
    pub cipher_suites: String,
    #[arg(
        long,
        default_value = "300",
        help_heading = "Auth",
        help = "Time (in seconds) of the auth-token-ttl."
    )]
    pub auth_token_ttl: String,
}

/// etcd's "Logging" flags, after `--log-level`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Logging")]
pub struct LoggingFlags {
    #[arg(
        long,
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true",
        help = "Enable debug-level logging (same as --log-level=debug)."
    )]
    pub debug: String,
}

/// The environment prefixes of a member's settings, lowest first.
pub const ENV_PREFIXES: &[&str] = &["ETCD", "CONCORD"];

/// The member's command: [`Flags`], with the shared `--name` and
/// `--log-level` in etcd's words, defaults and sections.
pub fn command() -> Command {
    Flags::command()
        .mut_arg("name", |a| {
            a.default_value("default")
                .help("Human-readable name for this member.")
                .help_heading("Member")
        })
        .mut_arg("log_level", |a| {
            a.help("Configures log level. Only supports debug, info, warn, error, panic, or fatal (panic and fatal log as error). The CONCORD_LOG or RUST_LOG variable, a level or a tracing filter such as 'info,concord_consensus=debug', takes precedence.")
                .help_heading("Logging")
        })
}

/// A command line as given: the flags clap read, and the etcd flags
/// Concord lacks, as (flag name, value), taken out of it by
/// [`take_unsupported`] before clap sees it.
#[derive(Debug)]
pub struct CommandLine {
    pub flags: Flags,
    matches: ArgMatches,
    unsupported: Vec<(String, String)>,
}

/// Parses a command line (Go syntax too).
pub fn parse_flags<I: IntoIterator<Item = String>>(args: I) -> Result<CommandLine, clap::Error> {
    let (args, unsupported) = take_unsupported(normalize_args(args));
    let matches = command().try_get_matches_from(args)?;
    Ok(CommandLine {
        flags: Flags::from_arg_matches(&matches)?,
        matches,
        unsupported,
    })
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
        let Some(u) = super::unsupported::unsupported(name) else {
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
        found.push((u.name.to_string(), value));
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

/// The effective configuration of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `--auth-token-ttl`: how long a simple token lives after its last use.
    pub auth_token_ttl: std::time::Duration,
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
    /// `--auto-compaction-mode` and `--auto-compaction-retention`.
    pub auto_compaction: AutoCompaction,
    /// `--quota-backend-bytes` as given (0: etcd's default, negative:
    /// none).
    pub quota_backend_bytes: i64,
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
    /// `--cert-file`, `--key-file`, `--trusted-ca-file`,
    /// `--client-cert-auth`, `--auto-tls`: TLS on https:// client URLs.
    pub client_tls: TlsInfo,
    /// The `--peer-*` twins (and `--peer-cert-allowed-cn`): TLS on https://
    /// peer URLs, served and dialled.
    pub peer_tls: TlsInfo,
    /// `--cipher-suites`, Go's names (checked when TLS is set up).
    pub cipher_suites: Vec<String>,
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
    /// A value clap refuses (none of a member's flags is typed, so only
    /// a broken declaration).
    #[error("{0}")]
    Flag(String),
    #[error("{0}")]
    AutoCompaction(#[from] AutoCompactionError),
}

/// etcd's YAML config file, its keys as the flags' names (`data-dir`; etcd
/// also reads `data_dir`).
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
            let k = k.replace('_', "-").to_lowercase();
            // etcd's YAML nests the TLS settings: `client-transport-security:
            // {cert-file: ..}` is --cert-file, the peer one --peer-cert-file.
            let prefix = match k.as_str() {
                "client-transport-security" => Some(""),
                "peer-transport-security" => Some("peer-"),
                _ => None,
            };
            if let (Some(prefix), Ok(table)) = (prefix, v.clone().into_table()) {
                for (nk, nv) in table {
                    let nk = nk.replace('_', "-").to_lowercase();
                    // The keys whose flags are not named prefix + key.
                    let flag = match (prefix, nk.as_str()) {
                        ("", "crl-file") => "client-crl-file".to_string(),
                        ("", "allowed-hostname") => "client-cert-allowed-hostname".to_string(),
                        ("peer-", "allowed-cn") => "peer-cert-allowed-cn".to_string(),
                        ("peer-", "allowed-hostname") => "peer-cert-allowed-hostname".to_string(),
                        _ => format!("{prefix}{nk}"),
                    };
                    out.insert(flag, nv);
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

/// The member's settings, layered: defaults < config file < `ETCD_*` <
/// `CONCORD_*` < flags, as clap's matches of [`command`].
pub fn layered_matches(
    given: &CommandLine,
    env: &BTreeMap<String, String>,
) -> Result<ArgMatches, ConfigError> {
    let cmd = command();
    let file = flags::config_file(&given.matches, ENV_PREFIXES, env).map(|path| {
        Box::new(EtcdYamlFile(PathBuf::from(path))) as Box<dyn config::Source + Send + Sync>
    });
    let unsupported: Vec<&str> = super::unsupported::UNSUPPORTED
        .iter()
        .map(|u| u.name)
        .collect();
    let sources = flags::Sources {
        env_prefixes: ENV_PREFIXES,
        env,
        file,
        extra_keys: &unsupported,
    };
    let mut b = flags::layer(&cmd, &given.matches, sources)?;
    for (key, value) in &given.unsupported {
        b = b.set_override(key.as_str(), value.as_str())?;
    }
    let built = b.build()?;
    // An etcd setting Concord lacks, from any layer, stops the start unless
    // its value changes nothing.
    for u in super::unsupported::UNSUPPORTED {
        let given = built
            .get::<config::Value>(u.name)
            .ok()
            .and_then(flags::value_text);
        if given.is_some_and(|v| !u.accepts(&v)) {
            return Err(ConfigError::Unsupported(u.name));
        }
    }
    flags::reparse(&cmd, &built).map_err(|e| ConfigError::Flag(settings::clap_text(&e)))
}

/// Builds the effective configuration: defaults < config file <
/// `ETCD_*` < `CONCORD_*` < flags.
pub fn layered(
    given: &CommandLine,
    env: &BTreeMap<String, String>,
) -> Result<ServerConfig, ConfigError> {
    let matches = layered_matches(given, env)?;
    let flags = Flags::from_arg_matches(&matches)
        .map_err(|e| ConfigError::Flag(settings::clap_text(&e)))?;
    resolve(flags)
}

fn resolve(flags: Flags) -> Result<ServerConfig, ConfigError> {
    let Flags {
        process: ProcessArgs { name, .. },
        member: m,
        clustering: c,
        security: sec,
        log: LogArgs { log_level },
        logging: LoggingFlags { debug },
        ..
    } = flags;
    let flag_bool = |key: &'static str, v: &str| {
        parse_bool(v).ok_or_else(|| ConfigError::Invalid {
            key,
            value: v.to_string(),
            why: "not a boolean".into(),
        })
    };
    let client_tls = TlsInfo {
        cert_file: sec.cert_file.trim().to_string(),
        key_file: sec.key_file.trim().to_string(),
        trusted_ca_file: sec.trusted_ca_file.trim().to_string(),
        client_cert_auth: flag_bool("client-cert-auth", &sec.client_cert_auth)?,
        auto_tls: flag_bool("auto-tls", &sec.auto_tls)?,
        allowed_cn: String::new(),
    };
    let peer_tls = TlsInfo {
        cert_file: sec.peer_cert_file.trim().to_string(),
        key_file: sec.peer_key_file.trim().to_string(),
        trusted_ca_file: sec.peer_trusted_ca_file.trim().to_string(),
        client_cert_auth: flag_bool("peer-client-cert-auth", &sec.peer_client_cert_auth)?,
        auto_tls: flag_bool("peer-auto-tls", &sec.peer_auto_tls)?,
        allowed_cn: sec.peer_cert_allowed_cn.trim().to_string(),
    };
    let initial_advertise_peer_urls = split_list(&c.initial_advertise_peer_urls);
    let discovery = c
        .discovery
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(String::from);
    // etcd: one way to bootstrap (its words; `--discovery-srv` is refused
    // as unsupported before this).
    if discovery.is_some()
        && c.initial_cluster
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
    let discovery_fallback = match c.discovery_fallback.trim() {
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
    let initial_cluster = match c.initial_cluster.as_deref() {
        Some(s) if !s.trim().is_empty() => parse_initial_cluster(s)?,
        _ => vec![(name.clone(), initial_advertise_peer_urls.clone())],
    };
    let initial_cluster_state = match c.initial_cluster_state.as_str() {
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
    let debug = parse_bool(&debug).unwrap_or(false);
    let log_level = tracing_level(&log_level)?;
    let strict_reconfig_check =
        parse_bool(&c.strict_reconfig_check).ok_or_else(|| ConfigError::Invalid {
            key: "strict-reconfig-check",
            value: c.strict_reconfig_check.clone(),
            why: "not a boolean".into(),
        })?;
    let data_dir = m
        .data_dir
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| format!("{name}.etcd"));
    let election_timeout_ms = parse_u64("election-timeout", &m.election_timeout)?;
    let heartbeat_interval_ms = parse_u64("heartbeat-interval", &m.heartbeat_interval)?;
    if heartbeat_interval_ms == 0 || election_timeout_ms < 5 * heartbeat_interval_ms {
        return Err(ConfigError::Cluster(format!(
            "--election-timeout[{election_timeout_ms}ms] should be at least as 5 times as --heartbeat-interval[{heartbeat_interval_ms}ms]"
        )));
    }
    Ok(ServerConfig {
        data_dir: PathBuf::from(data_dir),
        listen_client_urls: split_list(&m.listen_client_urls),
        advertise_client_urls: split_list(&c.advertise_client_urls),
        listen_peer_urls: split_list(&m.listen_peer_urls),
        initial_advertise_peer_urls,
        initial_cluster,
        initial_cluster_state,
        initial_cluster_token: c.initial_cluster_token,
        snapshot_count: parse_u64("snapshot-count", &m.snapshot_count)?,
        heartbeat_interval_ms,
        election_timeout_ms,
        max_request_bytes: parse_u64("max-request-bytes", &m.max_request_bytes)? as usize,
        auth_token_ttl: std::time::Duration::from_secs(parse_u64(
            "auth-token-ttl",
            &sec.auth_token_ttl,
        )?),
        log_level: if debug {
            "debug".into()
        } else {
            log_level.into()
        },
        strict_reconfig_check,
        auto_compaction: AutoCompaction::parse(
            &c.auto_compaction_mode,
            &c.auto_compaction_retention,
        )?,
        quota_backend_bytes: m.quota_backend_bytes.trim().parse().map_err(|_| {
            // Go's flag package, as etcd reports a bad value.
            ConfigError::Cluster(format!(
                "invalid value {:?} for flag -quota-backend-bytes: parse error",
                m.quota_backend_bytes
            ))
        })?,
        worker_threads: match parse_u64("worker-threads", &m.worker_threads)? {
            0 => default_worker_threads(),
            n => n as usize,
        },
        event_bus_url: Some(m.event_bus_url.trim().to_string()).filter(|u| !u.is_empty()),
        name,
        discovery,
        discovery_fallback,
        discovery_proxy: c.discovery_proxy.unwrap_or_default().trim().to_string(),
        client_tls,
        peer_tls,
        cipher_suites: split_list(&sec.cipher_suites),
    })
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
        assert_eq!(c.auto_compaction, AutoCompaction::Off);
        assert_eq!(c.quota_backend_bytes, 0);
        let c = parse(&["--quota-backend-bytes", "-1"], &[]);
        assert_eq!(c.quota_backend_bytes, -1);
    }

    #[test]
    fn auto_compaction_flags_as_etcd_reads_them() {
        let c = parse(&["--auto-compaction-retention", "2"], &[]);
        assert_eq!(
            c.auto_compaction,
            AutoCompaction::Periodic(std::time::Duration::from_secs(7200))
        );
        let c = parse(
            &["--auto-compaction-retention=1000"],
            &[("ETCD_AUTO_COMPACTION_MODE", "revision")],
        );
        assert_eq!(
            c.auto_compaction,
            AutoCompaction::Revision {
                retention: 1000,
                interval: crate::node::REVISION_INTERVAL
            }
        );
        let flags = parse_flags(
            [
                "concord",
                "--auto-compaction-mode",
                "foo",
                "--auto-compaction-retention",
                "1",
            ]
            .map(String::from),
        )
        .unwrap();
        assert_eq!(
            layered(&flags, &Default::default())
                .unwrap_err()
                .to_string(),
            "error verifying flags, unknown auto-compaction-mode \"foo\". See 'concord --help'."
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
        let want = "this etcd flag is not supported by Concord (yet): --client-crl-file";
        assert_eq!(
            parse_err(&["--client-crl-file", "/a.pem", "--name", "x"], &[]),
            want
        );
        assert_eq!(parse_err(&["-client-crl-file=/a.pem"], &[]), want);
        assert_eq!(parse_err(&[], &[("ETCD_CLIENT_CRL_FILE", "/a.pem")]), want);
        assert_eq!(
            parse_err(&["--force-new-cluster"], &[]),
            "this etcd flag is not supported by Concord (yet): --force-new-cluster"
        );
        // A bool flag does not take the next argument as its value.
        let c = parse(&["--force-new-cluster=false", "--name", "n"], &[]);
        assert_eq!(c.name, "n");
        assert_eq!(parse_err(&["--name", "x", "--client-crl-file"], &[]), want);
        let c = parse(&["--client-crl-file", "", "--log-outputs", "stderr"], &[]);
        assert_eq!(c.name, "default");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etcd.yaml");
        std::fs::write(
            &path,
            "name: f\npeer-transport-security:\n  crl-file: /b.pem\n",
        )
        .unwrap();
        assert_eq!(
            parse_err(&["--config-file", path.to_str().unwrap()], &[]),
            "this etcd flag is not supported by Concord (yet): --peer-crl-file"
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
    fn tls_flags_from_every_layer() {
        let c = parse(
            &[
                "--cert-file",
                "s.pem",
                "-key-file=s-key.pem",
                "--client-cert-auth",
                "--peer-auto-tls=true",
                "--cipher-suites",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            ],
            &[("ETCD_TRUSTED_CA_FILE", "ca.pem")],
        );
        assert_eq!(c.client_tls.cert_file, "s.pem");
        assert_eq!(c.client_tls.key_file, "s-key.pem");
        assert_eq!(c.client_tls.trusted_ca_file, "ca.pem");
        assert!(c.client_tls.client_cert_auth && !c.client_tls.auto_tls);
        assert!(c.peer_tls.auto_tls && !c.peer_tls.client_cert_auth);
        assert_eq!(c.cipher_suites.len(), 2);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etcd.yaml");
        std::fs::write(
            &path,
            "name: f\npeer-transport-security:\n  cert-file: p.pem\n  client-cert-auth: true\n  allowed-cn: m1\n",
        )
        .unwrap();
        let c = parse(&["--config-file", path.to_str().unwrap()], &[]);
        assert_eq!(c.peer_tls.cert_file, "p.pem");
        assert!(c.peer_tls.client_cert_auth);
        assert_eq!(c.peer_tls.allowed_cn, "m1");
        assert_eq!(c.client_tls, Default::default());
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
        assert_eq!(f.flags.version.as_deref(), Some("true"));
        assert!(parse_flags(["concord", "--version", "x"].map(String::from)).is_err());
        assert!(
            parse_flags(["concord", "-h"].map(String::from))
                .unwrap()
                .flags
                .help
        );
    }

    #[test]
    fn every_flag_is_set_by_its_flag_variables_and_file_key() {
        fn load(args: Vec<String>, env: BTreeMap<String, String>) -> Result<ArgMatches, String> {
            let given = parse_flags(args).map_err(|e| e.to_string())?;
            layered_matches(&given, &env).map_err(|e| e.to_string())
        }
        let dir = tempfile::tempdir().unwrap();
        let bin = concord_process::flags_check::Binary {
            command: command(),
            help: crate::member::help::text(),
            env_prefixes: ENV_PREFIXES,
            samples: &[],
            load: &load,
        };
        let failures = concord_process::flags_check::check_every_flag(&bin, dir.path());
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
