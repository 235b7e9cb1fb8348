//! What the v3 service tests share: the in-process keyspace behind the
//! contract (`keyspace`), a member registry (`cluster`), the served routes
//! and the generated clients (`server`), etcd 3.4 as the reference
//! (`etcd`) and the comparison of answers with ids and times masked
//! (`compare`).

#![allow(dead_code)] // each test file uses its own part

pub mod cluster;
pub mod compare;
pub mod etcd;
pub mod keyspace;
pub mod server;
pub mod watch;

#[allow(unused_imports)] // not every test file renders answers
pub use compare::{both, masked, Outcome};
#[allow(unused_imports)]
pub use server::Clients;
