//! # concord-mvcc: the etcd v3 keyspace as a pure library
//!
//! The data behind etcd 3.4's v3 API: the multi-version key-value store
//! (etcd's `mvcc` package: revisions, `create_revision`/`mod_revision`/
//! `version`, tombstones, history and compaction), the request semantics
//! its `applierV3backend` gives `Range`, `Put`, `DeleteRange`, `Txn` and
//! `Compact`, and the lessor's data (leases, their TTLs and attached keys).
//! Answers and errors are etcd's, checked against etcd 3.4 (see the tests).
//!
//! What it is not: it does no I/O, reads no clock, spawns nothing and has no
//! async. It is the state machine that consensus replicates: every write is
//! a [`Command`] applied in log order, every time it needs (lease grant,
//! keep-alive, expiry) is a `now` passed in, and every call is
//! deterministic, so members that apply the same commands in the same order
//! hold equal [`Keyspace`]s. Persisting it (the whole state is serde data,
//! [`snapshot`]), serving gRPC, watch fan-out, deciding when leases expire
//! (the leader asks [`Keyspace::expired_leases`] and proposes revokes),
//! linearizable reads and headers (cluster id, member id, raft term) belong
//! to the services around it.
//!
//! Layout:
//! - [`types`]: requests, responses, `KeyValue`, `Event`, named as etcd's
//!   protos so a codec maps field for field;
//! - [`store`]: the [`Keyspace`], puts, deletes, compaction, revisions;
//! - [`key_index`]: one key's history (generations and tombstones);
//! - [`range`]: key ranges and `Range` (limit, sort, filters, counts);
//! - [`txn`]: `Txn` checks, compares, nested branches;
//! - [`lease`]: leases as data;
//! - [`watch`]: history since a revision, for watchers catching up;
//! - [`command`]: the replicated writes;
//! - [`snapshot`]: serde for the whole keyspace;
//! - [`bbolt`]: the keyspace as a bbolt file, etcd's snapshot format;
//! - [`replicate`]: a read replica kept at another keyspace's latest
//!   revision from its watch events (a split gateway's serializable reads);
//! - [`hash`]: `HashKV`'s checksum of the history;
//! - [`alarm`]: alarms (NOSPACE) and the writes they refuse;
//! - [`auth`]: users, roles and key permissions (etcd's auth store) and
//!   the checks made with them;
//! - [`size`]: the keyspace's size, kept as it changes (for the quota);
//! - [`error`]: etcd's error texts and gRPC codes.

pub mod alarm;
pub mod auth;
pub mod auth_check;
pub mod bbolt;
pub mod command;
pub mod error;
pub mod etcd_backend;
pub mod hash;
pub mod key_index;
pub mod lease;
pub mod range;
pub mod replicate;
pub mod size;
pub mod snapshot;
pub mod store;
pub mod txn;
pub mod types;
pub mod watch;

pub use alarm::{Alarm, AlarmAction, AlarmRequest, AlarmResponse, AlarmType};
pub use auth::{AuthRequest, AuthResponse, AuthStore, PermType, Permission};
pub use command::{Command, Outcome};
pub use error::{Error, GrpcCode, Result};
pub use lease::{Lease, Leases, MAX_LEASE_TTL};
pub use range::KeySpan;
pub use replicate::{Replica, ReplicationError};
pub use store::{validate_delete, validate_put, validate_range, Applied, Config, Keyspace};
pub use txn::validate_txn;
pub use types::*;
pub use watch::History;
