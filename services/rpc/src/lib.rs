//! # concord-rpc: the gRPC contracts between Concord's services
//!
//! Generated from the `.proto` files in the workspace's `proto/` folder:
//! - [`peer`]: the member-to-member protocol on the peer URLs (raft
//!   messages, requests forwarded to the leader, membership lookup);
//! - [`store`]: the v2 store's nodes, events, commands and errors as plain
//!   protobuf messages, shared by the contracts below;
//! - [`kv`]: writes, reads, store stats and positions, served by a
//!   consensus member to the gateways;
//! - [`events`]: the resumable stream of committed events ("after index
//!   N") that the watch tier follows;
//! - [`watch`]: v2 watches, served by the watch tier to the gateways;
//! - [`cluster`]: members, leadership, member changes and raft statistics;
//! - [`etcd`]: etcd 3.4's own v3 API (`proto/etcd/`, unchanged), which the
//!   gateway serves to v3 clients and concordctl calls.
//!
//! [`codec`] converts between these messages and Concord's Rust types, in
//! one place for every service and client, and [`etcd_codec`] between
//! etcd's v3 messages and the v3 keyspace's types; [`keyspace_grpc`] is
//! the v3 keyspace contract for a gateway, over the members' own v3
//! services; [`endpoints`] is how a client
//! of a tier picks a member and moves on from one that is gone;
//! [`kv_grpc`] and [`cluster_grpc`] serve the `Kv` and `Cluster` traits on
//! the wire and implement them for callers in other processes;
//! [`call_stream`] carries many calls on one long-lived stream (peers'
//! raft messages, gateways' writes);
//! [`events_grpc`] serves a member's committed events and follows them
//! from the watch tier; [`watch_grpc`] serves a watch hub and implements
//! the `Watch` trait over the watch replicas; [`health`] is the standard
//! `grpc.health.v1` service every gRPC server of Concord answers (container
//! healthchecks probe it with `concordctl probe --grpc`); [`keepalive`] is
//! how every connection between processes notices a peer that stopped
//! answering (HTTP/2 PINGs, connect timeouts).

pub mod peer {
    tonic::include_proto!("concord.peer");
}

pub mod store {
    tonic::include_proto!("concord.store");
}

#[allow(clippy::large_enum_variant)] // generated: a oneof holds an Event inline
pub mod kv {
    tonic::include_proto!("concord.kv");
}

#[allow(clippy::large_enum_variant)] // generated: a oneof holds an Event inline
pub mod events {
    tonic::include_proto!("concord.events");
}

#[allow(clippy::large_enum_variant)] // generated: a oneof holds an Event inline
pub mod watch {
    tonic::include_proto!("concord.watch");
}

pub mod cluster {
    tonic::include_proto!("concord.cluster");
}

pub mod auth_grpc;
pub mod call_stream;
pub mod caller_grpc;
pub mod cluster_grpc;
pub mod codec;
pub mod endpoints;
pub mod etcd;
pub mod etcd_codec;
pub mod events_grpc;
pub mod health;
pub mod keepalive;
pub mod keyspace_grpc;
pub mod kv_grpc;
pub mod watch_grpc;
