//! # concord-discovery: bootstrap by discovery token
//!
//! etcd's v2 discovery protocol, both sides:
//!
//! - [`client`]: what a new member does with `--discovery <url>` (read the
//!   size, register its ID and peer URLs, wait for the others, take the
//!   first `size` registrations as the initial cluster), against any v2
//!   keys API: this crate's service, a `concord`, or a real etcd. The
//!   `concord` and `concord-consensus` members call it.
//! - The `concord-discovery` service, which must exist before any cluster
//!   does, so it keeps its own state: [`registry`] (the v2 store of
//!   `concord-store`, durable in SQLite, published to a watch hub) and
//!   [`service`] (`/new?size=N` and the keys API under
//!   `/v2/keys/_etcd/registry/<token>`, answered by `concord-gateway`'s
//!   code, so its JSON, errors and headers are a member's, hence etcd's);
//!   tokens expire after a configurable time ([`registry::Registry::expire_tokens`]).
//! - [`members`]: the member registry under a token: the leader of a
//!   cluster bootstrapped by it publishes the members and the leader there;
//!   gateways and watch services follow it.

pub mod client;
pub mod members;
pub mod registry;
pub mod service;
