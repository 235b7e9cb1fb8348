//! `concord-watch`: the watch fan-out tier as its own process. It follows
//! the committed events of the consensus members (gRPC Events service),
//! keeps etcd's 1000-event history in a [`WatchHub`], and serves the
//! gateways' watches on its listen URL (gRPC Watch service). Any number
//! of replicas can run; each follows consensus on its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use concord_rpc::endpoints::Endpoints;
use concord_rpc::watch_grpc::WatchService;
use concord_watch::{follower, WatchHub};
use tonic::transport::server::TcpIncoming;
use tracing::info;

/// How long a stop waits for open watch streams before it closes them.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// HTTP/2 connection window: room for ~70,000 watch requests in flight on
/// one gateway's connection (see the server below).
const CONNECTION_WINDOW: u32 = 32 << 20;
const DEFAULT_LISTEN_URL: &str = "http://127.0.0.1:2680";

/// Concord's watch fan-out: serves v2 watches (long polls, streams,
/// waitIndex) to the gateways over gRPC, fed by the consensus members'
/// committed events.
///
/// Settings come from, weakest first: the defaults, the config file
/// (YAML with the flags' names as keys), CONCORD_* environment variables,
/// flags.
#[derive(Parser, Debug)]
#[command(name = "concord-watch", version)]
struct Flags {
    /// URL to serve the gRPC Watch service on, as http://host:port (port 0
    /// picks a free port; the one bound is logged) [default:
    /// http://127.0.0.1:2680, where scripts/split-local puts it].
    #[arg(long = "listen-url", env = "CONCORD_LISTEN_URL")]
    listen_url: Option<String>,
    /// Client URLs of the consensus members serving the Events service,
    /// comma-separated; one is followed at a time, the next when it fails
    /// (required, here or in the config file).
    #[arg(long = "consensus-endpoints", env = "CONCORD_CONSENSUS_ENDPOINTS")]
    consensus_endpoints: Option<String>,
    /// Log level: debug, info, warn, error or off (or a tracing filter)
    /// [default: info].
    #[arg(long = "log-level", env = "CONCORD_LOG_LEVEL")]
    log_level: Option<String>,
    /// A YAML file with any of the settings above (keys listen-url,
    /// consensus-endpoints as a list or a comma-separated string,
    /// log-level).
    #[arg(long = "config-file", env = "CONCORD_CONFIG_FILE")]
    config_file: Option<std::path::PathBuf>,
}

/// The effective settings.
struct Settings {
    listen_url: String,
    consensus_endpoints: Vec<String>,
    log_level: String,
}

fn split_urls(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(String::from)
        .collect()
}

/// Flags (and their environment variables) over the config file over the
/// defaults.
fn settings(flags: Flags) -> anyhow::Result<Settings> {
    let file = match &flags.config_file {
        Some(path) => config::Config::builder()
            .add_source(config::File::from(path.as_path()).format(config::FileFormat::Yaml))
            .build()
            .with_context(|| format!("--config-file {}", path.display()))?,
        None => config::Config::default(),
    };
    let text = |key: &str| -> anyhow::Result<Option<String>> {
        match file.get::<config::Value>(key) {
            Ok(v) => {
                Ok(Some(v.into_string().with_context(|| {
                    format!("config file: {key} is not a string")
                })?))
            }
            Err(config::ConfigError::NotFound(_)) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("config file: {key}")),
        }
    };
    let file_endpoints = match file.get::<config::Value>("consensus-endpoints") {
        Ok(v) => match v.clone().into_array() {
            Ok(list) => Some(
                list.into_iter()
                    .map(|u| u.into_string())
                    .collect::<Result<Vec<_>, _>>()
                    .context("config file: consensus-endpoints")?,
            ),
            Err(_) => Some(split_urls(
                &v.into_string()
                    .context("config file: consensus-endpoints")?,
            )),
        },
        Err(config::ConfigError::NotFound(_)) => None,
        Err(e) => return Err(e).context("config file: consensus-endpoints"),
    };
    let consensus_endpoints = match flags.consensus_endpoints {
        Some(s) => split_urls(&s),
        None => file_endpoints.unwrap_or_default(),
    };
    if consensus_endpoints.is_empty() {
        bail!("no consensus members: give --consensus-endpoints URL[,URL...]");
    }
    if let Some(bad) = consensus_endpoints
        .iter()
        .find(|u| !u.starts_with("http://") && !u.starts_with("https://"))
    {
        bail!("--consensus-endpoints {bad:?}: expected http://host:port");
    }
    Ok(Settings {
        listen_url: match flags.listen_url {
            Some(u) => u,
            None => text("listen-url")?.unwrap_or_else(|| DEFAULT_LISTEN_URL.into()),
        },
        consensus_endpoints,
        log_level: match flags.log_level {
            Some(l) => l,
            None => text("log-level")?.unwrap_or_else(|| "info".into()),
        },
    })
}

/// `http://host:port` as an address to bind (`localhost` is 127.0.0.1).
fn listen_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("--listen-url {url:?}: expected http://host:port");
    };
    let host_port = rest.trim_end_matches('/');
    let host_port = host_port.replace("localhost:", "127.0.0.1:");
    host_port
        .parse()
        .with_context(|| format!("--listen-url {url:?}: expected http://host:port"))
}

fn init_logging(level: &str) -> anyhow::Result<()> {
    let filter = match level {
        // etcd's names for "errors only".
        "panic" | "fatal" => "error".to_string(),
        // Our lines at the level asked for; the libraries' only when they
        // are warnings or worse (or not at all, below that).
        "error" | "off" => level.to_string(),
        "trace" | "debug" | "info" | "warn" => {
            format!("warn,concord_watch={level},concord_rpc={level}")
        }
        directives => directives.to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .with_context(|| format!("--log-level {level:?}: not a level or a tracing filter"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => info!("SIGINT: stopping"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = settings(Flags::parse())?;
    init_logging(&flags.log_level)?;
    let addr = listen_addr(&flags.listen_url)?;
    let endpoints = Endpoints::new(&flags.consensus_endpoints)
        .map_err(|e| anyhow::anyhow!("--consensus-endpoints: {e}"))?;

    let hub = Arc::new(WatchHub::new(0));
    // Watches are refused (Unavailable, so gateways use another replica)
    // until the hub knows the store index from consensus.
    let (ready_tx, ready_rx) = tokio::sync::watch::channel(false);
    let follower = tokio::spawn(follower::follow(hub.clone(), endpoints, ready_tx));

    let incoming = TcpIncoming::bind(addr)
        .with_context(|| format!("cannot listen on {addr}"))?
        .with_nodelay(Some(true));
    let bound = incoming.local_addr()?;
    info!(
        "serving watches on http://{bound}, following consensus at {}",
        flags.consensus_endpoints.join(",")
    );
    let service = WatchService::new(hub)
        .with_readiness(ready_rx)
        .into_server();
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(
        tonic::transport::Server::builder()
            // Every long poll holds a stream: no cap below the watchers'.
            .max_concurrent_streams(None)
            // h2 refuses a connection (GOAWAY "too_many_data_frames") once
            // its small unread request frames exceed half the connection
            // window: a gateway opening thousands of watches at once needs
            // a window well above hyper's 1 MiB.
            .initial_connection_window_size(Some(CONNECTION_WINDOW))
            .http2_keepalive_interval(Some(Duration::from_secs(10)))
            .http2_keepalive_timeout(Some(Duration::from_secs(5)))
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopping_rx.await;
            }),
    );
    tokio::select! {
        _ = stop_signal() => {}
        r = &mut server => {
            follower.abort();
            r??;
            bail!("the watch server stopped");
        }
    }
    follower.abort();
    let _ = stopping_tx.send(());
    // Long polls and streams never end on their own: after a short grace
    // the runtime's end closes them (gateways see a broken stream and
    // answer their clients cleanly).
    let _ = tokio::time::timeout(STOP_GRACE, server).await;
    info!("stopped");
    Ok(())
}
