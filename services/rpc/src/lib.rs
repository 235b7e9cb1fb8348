//! # concord-rpc: the gRPC contracts between Concord's services
//!
//! Generated from the `.proto` files in the workspace's `proto/` folder:
//! - [`peer`]: the member-to-member protocol on the peer URLs (raft
//!   messages, requests forwarded to the leader, membership lookup).
//!
//! No logic lives here; the services implement and call these contracts.

pub mod peer {
    tonic::include_proto!("concord.peer");
}
