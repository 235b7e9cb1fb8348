//! # concord-discovery-client: what a process does with a discovery URL
//!
//! The client side of etcd's v2 discovery protocol and of Concord's member
//! registry, below every process that takes `--discovery`, so that the
//! `concord-discovery` service (which serves these requests with the
//! gateway's router and the watch hub) and the gateway and watch tiers
//! (which follow the registry) depend on it, not on each other.
//!
//! - [`client`]: what a new member does with `--discovery <url>` (read the
//!   size, register its ID and peer URLs, wait for the others, take the
//!   first `size` registrations as the initial cluster), against any v2
//!   keys API: the `concord-discovery` service, a `concord`, or a real
//!   etcd. The `concord` and `concord-consensus` members call it.
//! - [`members`]: the member registry under a token: the leader of a
//!   cluster bootstrapped by it publishes the members and the leader there;
//!   gateways and watch services follow it ([`members::member_urls`]).

pub mod client;
pub mod members;
