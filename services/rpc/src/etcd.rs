//! etcd 3.4's v3 API as generated from its own protos (`proto/etcd/`,
//! unchanged): the messages and the server and client code of the `KV`,
//! `Watch`, `Lease`, `Cluster`, `Maintenance` and `Auth` services
//! ([`etcdserverpb`]), the key-values and events ([`mvccpb`]) and the auth
//! records ([`authpb`]). Siblings, as the generated code refers to
//! `super::mvccpb` and `super::authpb`.

/// `etcdserverpb`: the v3 services and their requests and responses.
#[allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

/// `mvccpb`: `KeyValue` and `Event`.
#[allow(clippy::doc_lazy_continuation)]
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// `authpb`: users, roles and permissions.
#[allow(clippy::doc_lazy_continuation)]
pub mod authpb {
    tonic::include_proto!("authpb");
}
