//! The v2 handlers against fakes of the contracts ([`fakes`]): every route
//! of the gateway, its answers and its errors, checked without consensus,
//! sockets or processes. The expected answers are etcd 3.4.23's to the
//! same requests (recorded from a fresh one-member etcd with
//! `--enable-v2`), its source where no single member can be brought to
//! answer (a follower's stats, a cluster without a leader).

mod base;
mod errors;
mod fakes;
mod keys;
mod members;
mod routes;
mod stats;
mod watch;
