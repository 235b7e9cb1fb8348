//! # concord-discovery: bootstrap by discovery token
//!
//! etcd's v2 discovery protocol, the service side (the client side, what a
//! member, a gateway or a watch service does with a discovery URL, is
//! `concord-discovery-client`, below the gateway and the watch tier that
//! this service is built from):
//!
//! - The `concord-discovery` service, which must exist before any cluster
//!   does, so it keeps its own state: [`registry`] (the v2 store of
//!   `concord-store`, durable in SQLite, published to a watch hub) and
//!   [`service`] (`/new?size=N` and the keys API under
//!   `/v2/keys/_etcd/registry/<token>`, answered by `concord-gateway`'s
//!   code, so its JSON, errors and headers are a member's, hence etcd's);
//!   tokens expire after a configurable time ([`registry::Registry::expire_tokens`]).
//!   The member registry (`concord_discovery_client::members`) is plain
//!   keys under a token, so the service serves it with no code of its own.

pub mod registry;
pub mod service;
