//! `concord-watch`: the watch fan-out tier as its own process. It follows
//! the committed events of the consensus members (gRPC Events service),
//! keeps etcd's 1000-event history in a [`WatchHub`], and serves the
//! gateways' watches on its listen URL (gRPC Watch service). Any number
//! of replicas can run; each follows consensus on its own. The members
//! are given (--consensus-endpoints) or taken from the member registry of
//! the discovery URL the cluster was bootstrapped with (--discovery),
//! followed without a restart.
//!
//! Beside it, on the same listener, etcd's v3 `Watch` service
//! (concord-v3rpc's) for the gateways' v3 watches, served from a window of
//! the members' recent revisions ([`concord_watch::v3_tier`]); what the
//! window does not hold is relayed to the members.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{CommandFactory, Parser};
use concord_discovery_client::members::member_urls;
use concord_process::args::{LogArgs, MembersArgs, ProcessArgs};
use concord_process::{init_logging, listen_addr, shutdown_signal};
use concord_rpc::endpoints::Endpoints;
use concord_rpc::etcd::etcdserverpb::watch_server::WatchServer;
use concord_rpc::keyspace_grpc::GrpcKeyspace;
use concord_rpc::watch_grpc::WatchService;
use concord_watch::follower::{self, GrpcFollower};
use concord_watch::v3_tier::{self, V3Tier};
use concord_watch::WatchHub;
use tonic::transport::server::TcpIncoming;
use tracing::{info, warn};

/// How long a stop waits for open watch streams before it closes them.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// HTTP/2 connection window: room for ~70,000 watch requests in flight on
/// one gateway's connection (see the server below).
const CONNECTION_WINDOW: u32 = 32 << 20;
const DEFAULT_LISTEN_URL: &str = "http://127.0.0.1:2680";
/// How long to wait for the member registry's first view (--discovery).
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(60);

/// The flags, each also a `CONCORD_*` variable and a config-file key
/// ([`concord_process::settings`]).
#[derive(Parser, Debug)]
#[command(
    name = "concord-watch",
    version,
    about = "Concord's watch fan-out: serves v2 watches (long polls, streams, waitIndex) and etcd's \
             v3 Watch to the gateways over gRPC, fed by the consensus members' committed events. \
             Settings: defaults < --config-file (YAML, keys as the flags; see config/concord-watch.yaml) \
             < CONCORD_* environment < flags."
)]
struct Flags {
    #[command(flatten)]
    process: ProcessArgs,
    /// URL to serve the gRPC Watch service on, as http://host:port (port 0
    /// picks a free port; the one bound is logged).
    #[arg(long, default_value = DEFAULT_LISTEN_URL)]
    listen_url: String,
    #[command(flatten)]
    members: MembersArgs,
    /// With --discovery: the URL gateways reach this replica at, announced
    /// in the member registry (gateways given only the discovery URL use
    /// it) [default: the listen URL, with the port bound].
    #[arg(long)]
    advertise_url: Option<String>,
    /// NATS URL of the event bus (nats://host:4222): committed events are
    /// read from its JetStream stream instead of a member's gRPC stream
    /// (gaps filled, and outages covered, over gRPC). Empty: no bus.
    #[arg(long, default_value = "")]
    event_bus_url: String,
    #[command(flatten)]
    log: LogArgs,
}

/// The watch service's command: its flags with its default name (and
/// what it does with the members it is given).
fn command() -> clap::Command {
    let cmd = Flags::command().mut_arg("consensus_endpoints", |a| {
        a.help(
            "Client URLs of the consensus members serving the Events service \
             (comma-separated; required here or in the file, unless --discovery is given); \
             one is followed at a time, the next when it fails",
        )
    });
    concord_process::settings::command(cmd, "watch")
}

fn settings() -> anyhow::Result<Flags> {
    let s: Flags = concord_process::settings::load(command())?;
    let members = &s.members;
    if members.consensus_endpoints.is_empty() && members.discovery.is_none() {
        bail!("no consensus members: give --consensus-endpoints URL[,URL...] or --discovery URL (flag, CONCORD_* variable or config file)");
    }
    if let Some(bad) = members
        .consensus_endpoints
        .iter()
        .find(|u| !u.starts_with("http://") && !u.starts_with("https://"))
    {
        bail!("--consensus-endpoints {bad:?}: expected http://host:port");
    }
    Ok(s)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("concord-watch: {e:#}");
            std::process::exit(1);
        }
    };
    init_logging(&flags.process.name, &flags.log.log_level);
    let addr = listen_addr(&flags.listen_url)?;
    // The members: as given, or the member registry's (followed).
    let mut members = None;
    let urls = match &flags.members.discovery {
        Some(url) => {
            let rx = member_urls(url, REGISTRY_TIMEOUT).await?;
            let urls = rx.borrow().clone();
            info!("consensus members {urls:?} from the member registry at {url}");
            members = Some(rx);
            urls
        }
        None => flags.members.consensus_endpoints.clone(),
    };
    let endpoints =
        Endpoints::new(&urls).map_err(|e| anyhow::anyhow!("consensus endpoints: {e}"))?;
    // v3: its own channels to the members registered at start (as a
    // gateway's v3 keyspace), one whole-keyspace watch feeding the window.
    let v3 = V3Tier::new(Arc::new(GrpcKeyspace::new(
        Endpoints::new(&urls).map_err(|e| anyhow::anyhow!("consensus endpoints: {e}"))?,
    )));
    let v3_follower = tokio::spawn(v3_tier::follow_members(v3.clone()));

    let hub = Arc::new(WatchHub::new(0));
    // Watches are refused (Unavailable, so gateways use another replica)
    // until the hub knows the store index from consensus.
    let (ready_tx, ready_rx) = tokio::sync::watch::channel(false);
    let mut grpc = GrpcFollower::new(hub.clone(), endpoints, ready_tx);
    if let Some(rx) = members {
        grpc = grpc.following_members(rx);
    }
    let follower = if flags.event_bus_url.is_empty() {
        tokio::spawn(follower::follow_with(grpc))
    } else {
        tokio::spawn(concord_watch::bus::subscriber::follow_with(
            grpc,
            flags.event_bus_url.clone(),
        ))
    };

    let incoming = TcpIncoming::bind(addr)
        .with_context(|| format!("cannot listen on {addr}"))?
        .with_nodelay(Some(true));
    let bound = incoming.local_addr()?;
    info!(
        "serving watches on http://{bound}, following consensus at {}",
        urls.join(",")
    );
    // Announced in the member registry, for gateways given only the
    // discovery URL.
    let advertise = flags
        .advertise_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let announcer = flags
        .members
        .discovery
        .clone()
        .map(|url| tokio::spawn(announce(url, advertise.clone())));
    let service = WatchService::new(hub)
        .with_readiness(ready_rx)
        .into_server();
    let limits = concord_v3rpc::Limits {
        max_request_bytes: concord_v3rpc::MAX_REQUEST_BYTES,
        max_txn_ops: concord_v3rpc::MAX_TXN_OPS,
    };
    let v3_watch = WatchServer::new(concord_v3rpc::watch::WatchService::new(
        v3,
        limits,
        concord_v3rpc::PROGRESS_NOTIFY_INTERVAL,
    ))
    .max_decoding_message_size(limits.max_received())
    .max_encoding_message_size(usize::MAX);
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(
        concord_rpc::keepalive::server()
            // Every long poll holds a stream: no cap below the watchers'.
            .max_concurrent_streams(None)
            // h2 refuses a connection (GOAWAY "too_many_data_frames") once
            // its small unread request frames exceed half the connection
            // window: a gateway opening thousands of watches at once needs
            // a window well above hyper's 1 MiB.
            .initial_connection_window_size(Some(CONNECTION_WINDOW))
            .add_service(service)
            .add_service(v3_watch)
            .add_service(concord_rpc::health::service())
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopping_rx.await;
            }),
    );
    tokio::select! {
        _ = shutdown_signal() => info!("received a stop signal, shutting down"),
        r = &mut server => {
            follower.abort();
            v3_follower.abort();
            r??;
            bail!("the watch server stopped");
        }
    }
    follower.abort();
    v3_follower.abort();
    if let (Some(task), Some(url)) = (announcer, &flags.members.discovery) {
        task.abort();
        if let Err(e) = concord_discovery_client::members::withdraw_watch(url, "", &advertise).await
        {
            warn!("cannot withdraw this replica from the member registry: {e}");
        }
    }
    let _ = stopping_tx.send(());
    // Long polls and streams never end on their own: after a short grace
    // the runtime's end closes them (gateways see a broken stream and
    // answer their clients cleanly).
    let _ = tokio::time::timeout(STOP_GRACE, server).await;
    info!("stopped");
    Ok(())
}

/// Announces this replica under the discovery URL every
/// [`concord_discovery_client::members::REFRESH`] (each announcement lives
/// [`concord_discovery_client::members::VIEW_TTL`]).
async fn announce(url: String, advertise: String) {
    // Logged on the first success and after each outage.
    let mut failing = true;
    let mut logged_error = false;
    loop {
        match concord_discovery_client::members::announce_watch(&url, "", &advertise).await {
            Ok(()) => {
                if std::mem::replace(&mut failing, false) {
                    info!("announced this replica as {advertise} in the member registry at {url}");
                }
            }
            Err(e) => {
                // (Also the first attempt's failure: `failing` starts true.)
                if !std::mem::replace(&mut failing, true) || !logged_error {
                    logged_error = true;
                    warn!("cannot announce this replica in the member registry at {url}: {e} (retrying)");
                }
            }
        }
        let pause = if failing {
            Duration::from_secs(1)
        } else {
            concord_discovery_client::members::REFRESH
        };
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_is_set_by_its_flag_variable_and_file_key() {
        let failures = concord_process::flags_check::check_split_binary(command);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
