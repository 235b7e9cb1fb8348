//! # concord-v3rpc: etcd's v3rpc
//!
//! The etcd v3 API: etcd 3.4's gRPC services (`KV`, `Watch`, `Lease`,
//! `Cluster`, `Maintenance`, `Auth`) over the keyspace contract
//! ([`KeyspaceV3`]) and the member registry ([`Cluster`]), with
//! `grpc.health.v1` answering SERVING for the server (service "").
//!
//! One file per service, as etcd's `v3rpc` keeps them apart: [`kv`],
//! [`watch`], [`lease`], [`cluster`], [`maintenance`], [`auth`]; the
//! protobuf ⇄ keyspace conversions in [`codec`] (concord-rpc's), etcd's errors in
//! [`error`], the response header in [`header`]. [`routes`] mounts them
//! all as one axum router, to be served on a member's (or a gateway's)
//! client URLs over h2c, and on concord-consensus's contract listener for
//! the split's gateways: etcd's own `rpc.proto` is the contract between
//! them.

// The services answer tonic's `Status` as their error, as tonic's own
// traits do: it is built once and sent at once, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod access;
pub mod auth;
pub mod cluster;
pub mod error;
pub mod header;
pub mod kv;
pub mod lease;
pub mod maintenance;
pub mod watch;

/// The protobuf ⇄ keyspace conversions, in concord-rpc so that a
/// gateway's client of the members' v3 services shares them.
pub use concord_rpc::etcd_codec as codec;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use concord_api::v3::KeyspaceV3;
use concord_api::Cluster;
use concord_rpc::caller_grpc::{caller_of, Face};
use concord_rpc::etcd::etcdserverpb as pb;
use tonic::Status;

use self::error::V3Error;

/// etcd's `--max-request-bytes` default: the largest write proposed.
pub const MAX_REQUEST_BYTES: usize = 3 * 512 * 1024;
/// etcd's `grpcOverheadBytes`: a received message may be this much larger
/// than the largest request (etcd's gRPC `MaxRecvMsgSize`).
pub const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;
/// etcd's `--max-txn-ops` default.
pub const MAX_TXN_OPS: usize = 128;
/// etcd's progress notification interval for `progress_notify` watchers.
pub const PROGRESS_NOTIFY_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// What tonic may decode at all; the exact limit (and etcd's answer past
/// it) is checked on the decoded message, see [`Limits::check_received`].
const DECODE_CEILING: usize = 64 * 1024 * 1024;

/// The services' settings, etcd's defaults by default.
#[derive(Debug, Clone, Copy)]
pub struct V3Options {
    pub max_request_bytes: usize,
    pub max_txn_ops: usize,
    pub progress_notify_interval: Duration,
}

impl Default for V3Options {
    fn default() -> Self {
        V3Options {
            max_request_bytes: MAX_REQUEST_BYTES,
            max_txn_ops: MAX_TXN_OPS,
            progress_notify_interval: PROGRESS_NOTIFY_INTERVAL,
        }
    }
}

/// The size limits every service checks.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_request_bytes: usize,
    pub max_txn_ops: usize,
}

impl Limits {
    /// The largest message received (etcd's gRPC `MaxRecvMsgSize`).
    pub fn max_received(&self) -> usize {
        self.max_request_bytes + GRPC_OVERHEAD_BYTES
    }

    /// grpc-go's refusal of a message above the receive limit.
    pub fn check_received<M: prost::Message>(&self, msg: &M) -> Result<(), Status> {
        let size = msg.encoded_len();
        let limit = self.max_received();
        if size > limit {
            return Err(V3Error::MessageTooLarge { size, limit }.into());
        }
        Ok(())
    }

    /// etcd's refusal of a write larger than `--max-request-bytes`.
    pub fn check_proposal(&self, size: usize) -> Result<(), Status> {
        if size > self.max_request_bytes {
            return Err(V3Error::RequestTooLarge.into());
        }
        Ok(())
    }
}

/// Every v3 service and `grpc.health.v1` with etcd's defaults.
pub fn routes(keyspace: Arc<dyn KeyspaceV3>, cluster: Arc<dyn Cluster>) -> Router {
    routes_with(keyspace, cluster, V3Options::default())
}

/// Every v3 service and `grpc.health.v1`, with `options`, for clients.
pub fn routes_with(
    keyspace: Arc<dyn KeyspaceV3>,
    cluster: Arc<dyn Cluster>,
    options: V3Options,
) -> Router {
    all_services(keyspace, cluster, options)
        .add_service(concord_rpc::health::service())
        .into_axum_router()
        .layer(axum::middleware::from_fn_with_state(
            Face::Client,
            with_caller,
        ))
}

/// Every v3 service without `grpc.health.v1`, for a gRPC server that
/// serves other contracts and its health beside them (concord-consensus's
/// contract listener, where gateways mark the requests of their clients).
pub fn services(
    keyspace: Arc<dyn KeyspaceV3>,
    cluster: Arc<dyn Cluster>,
    options: V3Options,
) -> tonic::service::Routes {
    let router = all_services(keyspace, cluster, options)
        .into_axum_router()
        .layer(axum::middleware::from_fn_with_state(
            Face::Contract,
            with_caller,
        ));
    tonic::service::Routes::from(router)
}

/// Handles a request as its caller's ([`concord_api::caller`]): what the
/// keyspace checks and a gateway forwards.
async fn with_caller(
    axum::extract::State(face): axum::extract::State<Face>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match caller_of(request.headers(), face) {
        Some(c) => concord_api::caller::scope(c, next.run(request)).await,
        None => next.run(request).await,
    }
}

fn all_services(
    keyspace: Arc<dyn KeyspaceV3>,
    cluster: Arc<dyn Cluster>,
    options: V3Options,
) -> tonic::service::Routes {
    let limits = Limits {
        max_request_bytes: options.max_request_bytes,
        max_txn_ops: options.max_txn_ops,
    };
    let kv = pb::kv_server::KvServer::new(kv::KvService::new(keyspace.clone(), limits))
        .max_decoding_message_size(DECODE_CEILING)
        .max_encoding_message_size(usize::MAX);
    let watch = pb::watch_server::WatchServer::new(watch::WatchService::new(
        keyspace.clone(),
        limits,
        options.progress_notify_interval,
    ))
    .max_decoding_message_size(DECODE_CEILING)
    .max_encoding_message_size(usize::MAX);
    let lease =
        pb::lease_server::LeaseServer::new(lease::LeaseService::new(keyspace.clone(), limits))
            .max_decoding_message_size(DECODE_CEILING);
    let cluster_svc = pb::cluster_server::ClusterServer::new(cluster::ClusterService::new(
        keyspace.clone(),
        cluster.clone(),
    ))
    .max_decoding_message_size(DECODE_CEILING);
    let maintenance = pb::maintenance_server::MaintenanceServer::new(
        maintenance::MaintenanceService::new(keyspace.clone(), cluster),
    )
    .max_decoding_message_size(DECODE_CEILING);
    let auth = pb::auth_server::AuthServer::new(auth::AuthService::new(keyspace))
        .max_decoding_message_size(DECODE_CEILING);
    tonic::service::Routes::new(kv)
        .add_service(watch)
        .add_service(lease)
        .add_service(cluster_svc)
        .add_service(maintenance)
        .add_service(auth)
}
