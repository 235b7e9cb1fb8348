//! `concord-gateway`: the stateless client face of a split cluster. It
//! serves the whole etcd v2 API (the same router as `concord`) and, beside
//! it on the same listeners, etcd's v3 gRPC API (concord-v3rpc over
//! `GrpcKeyspace`, which calls the members' own v3 services), and keeps no
//! keys: writes, reads, members and stats go to `concord-consensus`
//! members, watches (v2 and v3) to `concord-watch` replicas, all over
//! gRPC. Any number
//! of gateways serve one cluster; each moves on from a member or replica
//! that dies without a restart.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use concord_api::v3::KeyspaceV3;
use concord_api::{Cluster, Kv, RaftStats, Watch};
use concord_gateway::advertise::{reported_client_urls, AdvertisedClientUrls};
use concord_gateway::keyspace_replica::KeyspaceReplica;
use concord_gateway::read_replica::ReadReplica;
use concord_gateway::GatewayState;
use concord_process::args::{LogArgs, MembersArgs, ProcessArgs};
use concord_process::serve::Serving;
use concord_process::{init_logging, listen_addr};
use concord_rpc::cluster_grpc::{GrpcCluster, GrpcRaftStats};
use concord_rpc::endpoints::Endpoints;
use concord_rpc::keyspace_grpc::GrpcKeyspace;
use concord_rpc::kv_grpc::GrpcKv;
use concord_rpc::watch_grpc::GrpcWatch;
use tracing::info;

mod v3_watch;

/// How long the gateway looks for a consensus member at start-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stop waits for requests in flight (long-poll watches never
/// finish on their own).
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The flags, each also a `CONCORD_*` variable and a config-file key
/// ([`concord_process::settings`]).
#[derive(Parser, Debug)]
#[command(
    name = "concord-gateway",
    version,
    about = "Concord's stateless etcd v2 HTTP gateway (talks gRPC to concord-consensus and concord-watch). \
             Settings: defaults < --config-file (YAML, keys as the flags; see config/concord-gateway.yaml) \
             < CONCORD_* environment < flags."
)]
struct Flags {
    #[command(flatten)]
    process: ProcessArgs,
    /// URLs to serve the v2 API on (comma-separated).
    #[arg(long, default_value = "http://127.0.0.1:2379", value_delimiter = ',')]
    listen_client_urls: Vec<String>,
    /// URLs clients reach this gateway by (comma-separated), as etcd's flag:
    /// /v2/members, /v2/members/leader and /v2/machines report them as every
    /// started member's client URLs, so that clients which sync the member
    /// list (etcdctl, concordctl without --no-sync) come back to a gateway
    /// instead of a member's gRPC URL. Default: the --listen-client-urls
    /// that name a host (not 0.0.0.0 or [::]); with none, the members' own
    /// client URLs are reported (right when the members advertise a v2
    /// front, as in compose.yaml).
    #[arg(long, value_delimiter = ',')]
    advertise_client_urls: Vec<String>,
    #[command(flatten)]
    members: MembersArgs,
    /// URLs of concord-watch replicas (comma-separated; required here or in
    /// the file, unless --discovery is given: then the replicas announced
    /// in the member registry by `concord-watch --discovery` are used).
    #[arg(long, value_delimiter = ',')]
    watch_endpoints: Vec<String>,
    /// Keep read replicas in the gateway, each loaded from a member, then
    /// fed its committed changes: of the v2 store, answering plain GETs,
    /// and of the v3 keyspace, answering serializable ranges
    /// (`etcdctl get --consistency=s`) at the latest revision; false sends
    /// every read to the members.
    #[arg(long, default_value = "true", action = clap::ArgAction::Set)]
    read_replica: bool,
    #[command(flatten)]
    log: LogArgs,
}

/// The gateway's command: its flags with its default name.
fn command() -> clap::Command {
    concord_process::settings::command(Flags::command(), "gateway")
}

fn main() -> ExitCode {
    let settings: Flags = concord_process::settings::load_or_exit(command());
    for (what, list) in [
        (
            "--consensus-endpoints",
            &settings.members.consensus_endpoints,
        ),
        ("--watch-endpoints", &settings.watch_endpoints),
    ] {
        // The member registry stands for both.
        if list.is_empty() && settings.members.discovery.is_none() {
            eprintln!(
                "concord-gateway: {what} is required (flag, CONCORD_* variable or config file)"
            );
            return ExitCode::from(1);
        }
    }
    init_logging(&settings.process.name, &settings.log.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

/// The consensus members as the gateway sees them, and how its read
/// replica follows them (a fixed list, or the member registry's).
struct Attached {
    kv: Arc<dyn Kv>,
    keyspace: Arc<dyn KeyspaceV3>,
    cluster: Arc<dyn Cluster>,
    stats: Arc<dyn RaftStats>,
    replica_endpoints: Endpoints,
    members: Option<tokio::sync::watch::Receiver<Vec<String>>>,
}

async fn attach(flags: &MembersArgs) -> anyhow::Result<Attached> {
    Ok(match &flags.discovery {
        // The members from the member registry (registry_follower.rs).
        Some(url) => {
            let f =
                concord_gateway::registry_follower::FollowedConsensus::attach(url, CONNECT_TIMEOUT)
                    .await?;
            let members = f.members();
            let urls = members.borrow().clone();
            Attached {
                // The v3 keyspace over the members registered at start.
                keyspace: Arc::new(GrpcKeyspace::new(Endpoints::new(&urls)?)),
                kv: f.clone(),
                cluster: f.clone(),
                stats: f,
                replica_endpoints: Endpoints::new(&urls)?,
                members: Some(members),
            }
        }
        None => {
            let consensus = Endpoints::new(&flags.consensus_endpoints)?;
            let cluster = GrpcCluster::connect(consensus.clone(), CONNECT_TIMEOUT).await?;
            info!("attached to cluster {}", cluster.cluster_id());
            Attached {
                stats: Arc::new(GrpcRaftStats::new(consensus.clone())),
                // Its own channels: v3 watches and keep-alives are
                // long-lived streams beside the v2 calls.
                keyspace: Arc::new(GrpcKeyspace::new(Endpoints::new(
                    &flags.consensus_endpoints,
                )?)),
                kv: Arc::new(GrpcKv::new(consensus)),
                cluster: Arc::new(cluster),
                // Its own channels: the replica's event stream does not
                // share a connection with the client requests.
                replica_endpoints: Endpoints::new(&flags.consensus_endpoints)?,
                members: None,
            }
        }
    })
}

async fn run(flags: Flags) -> anyhow::Result<()> {
    info!(
        "starting concord-gateway {} (etcd v2 and v3 APIs; consensus {:?}, watch {:?})",
        env!("CARGO_PKG_VERSION"),
        flags.members.consensus_endpoints,
        flags.watch_endpoints
    );
    let mut listeners = Vec::new();
    for url in &flags.listen_client_urls {
        let l = tokio::net::TcpListener::bind(listen_addr(url)?)
            .await
            .with_context(|| format!("cannot listen for clients on {url}"))?;
        info!("listening for client requests on {url}");
        listeners.push(l);
    }
    let Attached {
        kv,
        keyspace,
        cluster,
        stats,
        replica_endpoints,
        members,
    } = attach(&flags.members).await?;
    let cluster: Arc<dyn Cluster> = match reported_client_urls(
        &flags.advertise_client_urls,
        &flags.listen_client_urls,
    ) {
        Some(urls) => {
            info!("reporting {urls:?} as the members' client URLs");
            Arc::new(AdvertisedClientUrls::new(cluster, urls))
        }
        None => {
            info!("no --advertise-client-urls, listening on no host: reporting the members' own client URLs");
            cluster
        }
    };
    let kv: Arc<dyn Kv> = if flags.read_replica {
        ReadReplica::start(kv, replica_endpoints, members)
    } else {
        kv
    };
    // Beside the v2 replica, with the same switch: the v3 keyspace for
    // serializable ranges, loaded and followed through the gateway's own
    // v3 client of the members.
    let keyspace: Arc<dyn KeyspaceV3> = if flags.read_replica {
        KeyspaceReplica::start(keyspace)
    } else {
        keyspace
    };
    // v3 watches through the watch tier, as the v2 ones.
    let keyspace: Arc<dyn KeyspaceV3> = match &flags.members.discovery {
        Some(url) if flags.watch_endpoints.is_empty() => {
            v3_watch::WatchTier::followed(keyspace, url, CONNECT_TIMEOUT).await?
        }
        _ => v3_watch::WatchTier::fixed(keyspace, &flags.watch_endpoints)?,
    };
    let watch: Arc<dyn Watch> = match &flags.members.discovery {
        // The replicas announced in the member registry.
        Some(url) if flags.watch_endpoints.is_empty() => {
            concord_gateway::registry_follower::FollowedWatch::attach(url, CONNECT_TIMEOUT).await?
        }
        _ => Arc::new(GrpcWatch::new(Endpoints::new(&flags.watch_endpoints)?)),
    };
    let v2 = concord_gateway::router(GatewayState {
        kv,
        watch,
        cluster: cluster.clone(),
        stats,
    });
    let v3 = concord_v3rpc::routes(keyspace, cluster);
    let app = concord_gateway::grpc_or_http(v3, v2);

    let mut serving = Serving::new();
    serving.http_all(listeners, &app);
    concord_process::shutdown_signal().await;
    info!("received a stop signal, shutting down");
    serving.stop(STOP_GRACE).await;
    info!("concord-gateway stopped");
    Ok(())
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
