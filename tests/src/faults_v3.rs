//! # The fault suite's v3 clients: etcd's v3 API under the same faults
//!
//! Beside the v2 clients of [`crate::faults`], tonic clients of etcd's v3
//! gRPC API (`concord_rpc::etcd`) run through the same client URLs while
//! the same faults are played, and their history is checked with the same
//! checker ([`linearizability::check`]):
//!
//! - KV clients: linearizable Range, Put, Txn compare-and-swap (compare the
//!   value, or the mod_revision of a value seen, then put; the failure
//!   branch ranges the key, so a refusal says which value was there), and
//!   DeleteRange, on [`KEYS`] keys. The keys have the v2 clients' names: the
//!   two keyspaces are separate, so a value of the other API showing up is
//!   a violation too. Every value is written once, so a compare on the
//!   mod_revision of a value is a compare on that value, and the register
//!   model (value, or absent) is what the checker verifies.
//! - Lease clients: grant a lease of [`LEASE_TTL`] s (never kept alive), put
//!   a key of their own with it, revoke one lease in three, and read the key
//!   linearizably until it is gone. In the history, the expiry is a delete
//!   of unknown outcome invoked at the lease's deadline (grant invoked +
//!   granted TTL: it cannot be earlier), and a revoke a delete: so a read
//!   before the deadline must see the key, and no read may see it again
//!   after one missed it. Apart from the checker, no read may see the key
//!   later than [`REVOKE_MARGIN`] after its deadline or, if writes were
//!   unavailable meanwhile (a leader change: the v2 probes say when), after
//!   the TTL, an election timeout and that margin from the end of the last
//!   such outage: a new leader gives every lease its full TTL again plus an
//!   election timeout, as etcd's lessor does, so leader changes closer
//!   together than that keep a lease alive (etcd 3.4 does so too). Every
//!   lease's key must be gone in the end.
//!
//! Each call has a deadline ([`DEADLINE`], as etcd's clients set one), sent
//! as `grpc-timeout` too. A call without an answer (deadline passed,
//! `etcdserver: request timed out` and the like, the connection lost) has
//! an unknown outcome, as for the v2 clients; a connection that could not
//! be opened sent nothing and is left out. After any failure a client opens
//! a connection to another endpoint, as etcd's client balancer does.
//!
//! Besides values, the answers carry revisions, checked across keys: each
//! value is seen at one mod_revision and no two values share one (a write
//! applied twice would show), and revisions follow real time (an op that
//! starts after another ended reports a revision at least as high, higher
//! if it wrote).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_rpc::etcd::etcdserverpb::{
    compare, kv_client::KvClient, lease_client::LeaseClient, request_op, response_op, Compare,
    DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest, PutRequest, RangeRequest, RequestOp,
    TxnRequest,
};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::linearizability::{self, Call, Op, Ret};
use crate::READY_TIMEOUT;

/// KV clients.
const KV_CLIENTS: usize = 3;
/// Lease clients.
const LEASE_CLIENTS: usize = 3;
/// Keys the KV clients share.
pub const KEYS: usize = 4;
/// Deadline of one call (etcd's clients: a few seconds at most).
const DEADLINE: Duration = Duration::from_secs(2);
/// Opening a connection (TCP and HTTP/2) may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A client's pause between two ops.
const THINK: Duration = Duration::from_millis(5);
/// The TTL the lease clients ask for (etcd's minimum with a 1 s election
/// timeout is 2 s; the granted TTL is what counts).
const LEASE_TTL: i64 = 3;
/// How often a lease client reads its key.
const LEASE_POLL: Duration = Duration::from_millis(200);
/// How long after a lease is due its key may still be seen: the leader
/// looks for expired leases every 500 ms, then the revoke is committed and
/// applied (on 2 loaded cores), and a client reads every [`LEASE_POLL`].
const REVOKE_MARGIN: Duration = Duration::from_secs(3);
/// The suite's election timeout: a new leader renews every lease for its
/// TTL plus this (etcd's lessor `Promote`; Concord does the same).
const ELECTION: Duration = Duration::from_secs(1);
/// Probe acknowledgements further apart than this: writes were unavailable
/// in between.
const OUTAGE_GAP: Duration = Duration::from_millis(500);
/// Client ids: KV clients from [`KV_BASE`], lease clients from
/// [`LEASE_BASE`], the final reads [`FINAL_READER`], a lease's expiry
/// [`EXPIRY`].
const KV_BASE: usize = 200;
const LEASE_BASE: usize = 210;
const FINAL_READER: usize = 299;
const EXPIRY: usize = 298;

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Answered (a refused compare-and-swap included).
    Answered,
    /// No connection could be opened: nothing was sent.
    NotSent,
    /// The deadline passed (ours, or the server's DEADLINE_EXCEEDED).
    Timeout,
    /// UNAVAILABLE from the server (`etcdserver: request timed out`,
    /// `leader changed`, `no leader`, ...).
    Unavailable,
    /// The connection broke after the call was sent.
    Lost,
    /// A write refused for good (`requested lease not found`): no effect.
    Refused,
    /// Another error.
    OtherError,
}

impl Outcome {
    fn unknown(self) -> bool {
        matches!(
            self,
            Outcome::Timeout | Outcome::Unavailable | Outcome::Lost
        )
    }
}

fn classify(s: &Status) -> Outcome {
    let server_said = s.message().starts_with("etcdserver:");
    match s.code() {
        Code::DeadlineExceeded | Code::Cancelled => Outcome::Timeout,
        // etcd's own context deadline (from grpc-timeout), as UNKNOWN.
        Code::Unknown if s.message().contains("deadline exceeded") => Outcome::Timeout,
        // A connection that broke under the call (tonic's words).
        Code::Unknown if s.message().contains("transport error") => Outcome::Lost,
        Code::Unavailable if server_said => Outcome::Unavailable,
        // The channel's new connection (after the old one broke) could not
        // be opened: the call never left.
        Code::Unavailable if s.message().contains("tcp connect error") => Outcome::NotSent,
        Code::Unavailable => Outcome::Lost,
        Code::NotFound if s.message().contains("lease not found") => Outcome::Refused,
        _ => Outcome::OtherError,
    }
}

/// What a v3 client asked for.
#[derive(Clone, Debug)]
enum V3Call {
    Range,
    Put {
        value: String,
        lease: i64,
    },
    /// Txn: if the value is `expect` (`rev: None`) or the mod_revision is
    /// `rev` (that of `expect`), put `new`; else range the key.
    Cas {
        expect: String,
        rev: Option<i64>,
        new: String,
    },
    Delete,
}

impl V3Call {
    /// The call in the checker's model.
    fn model(&self) -> Call {
        match self {
            V3Call::Range => Call::Read,
            V3Call::Put { value, .. } => Call::Write(value.clone()),
            V3Call::Cas { expect, new, .. } => Call::Cas {
                expect: expect.clone(),
                new: new.clone(),
            },
            V3Call::Delete => Call::Delete,
        }
    }
}

/// One v3 call as a client saw it.
#[derive(Clone, Debug)]
struct Record {
    op: Op,
    outcome: Outcome,
    detail: String,
    /// The answer's header revision.
    revision: Option<i64>,
    /// The value the answer carried, with its mod_revision (a range; the
    /// failure branch of a txn), or the value a put or a successful txn
    /// wrote, at the header's revision.
    seen: Option<(String, i64)>,
    /// The op wrote (the revision is its own).
    wrote: bool,
}

/// One lease a lease client granted and put a key with.
#[derive(Clone, Debug)]
struct LeaseRun {
    /// The checker's key, and the value put.
    key: String,
    value: String,
    ttl: i64,
    grant_invoke: u64,
    /// grant_invoke + the granted TTL: the earliest the key may go.
    deadline: u64,
    put: Outcome,
    revoke: Option<Outcome>,
    /// The read that first missed the key (its return), if one did.
    gone_by: Option<u64>,
    /// The last read that saw the key (its invocation).
    seen_at: Option<u64>,
}

fn nanos_since(start: Instant) -> u64 {
    start.elapsed().as_nanos() as u64
}

/// The checker's name of v3 key `key` (the v2 clients use the bare names).
fn model_key(key: &str) -> String {
    format!("v3 {key}")
}

fn kv_key(k: usize) -> String {
    format!("faults/k{k}")
}

/// A small PRNG (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A client's connection: to one endpoint until a call fails, then to
/// another.
struct Conn {
    ports: Vec<u16>,
    next: usize,
    channel: Option<Channel>,
}

impl Conn {
    fn new(ports: Vec<u16>, first: usize) -> Conn {
        Conn {
            next: first % ports.len(),
            ports,
            channel: None,
        }
    }

    /// The open channel, or a new one to the next endpoint; `None` if it
    /// could not be opened in time.
    async fn channel(&mut self) -> Option<Channel> {
        if let Some(c) = &self.channel {
            return Some(c.clone());
        }
        let port = self.ports[self.next];
        self.next = (self.next + 1) % self.ports.len();
        let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .expect("endpoint")
            .connect_timeout(CONNECT_TIMEOUT);
        let c = tokio::time::timeout(CONNECT_TIMEOUT, endpoint.connect())
            .await
            .ok()?
            .ok()?;
        self.channel = Some(c.clone());
        Some(c)
    }

    fn failed(&mut self) {
        self.channel = None;
    }
}

/// A request with the deadline as `grpc-timeout`.
fn request<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(DEADLINE);
    r
}

/// Awaits a call within [`DEADLINE`].
async fn within<T>(
    call: impl std::future::Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, Status> {
    match tokio::time::timeout(DEADLINE, call).await {
        Ok(r) => r.map(tonic::Response::into_inner),
        Err(_) => Err(Status::deadline_exceeded("client deadline")),
    }
}

/// (value, mod_revision) of the first key-value of a range answer.
fn first_kv(kvs: &[concord_rpc::etcd::mvccpb::KeyValue]) -> Option<(String, i64)> {
    kvs.first().map(|kv| {
        (
            String::from_utf8_lossy(&kv.value).into_owned(),
            kv.mod_revision,
        )
    })
}

/// What one call returned, for the checker and the revision checks.
struct Answer {
    ret: Ret,
    revision: Option<i64>,
    seen: Option<(String, i64)>,
    wrote: bool,
}

/// Sends `call` on `key` over `channel`.
async fn perform(channel: Channel, key: &str, call: &V3Call) -> Result<Answer, Status> {
    let mut kv = KvClient::new(channel);
    let k = key.as_bytes().to_vec();
    let rev = |h: Option<concord_rpc::etcd::etcdserverpb::ResponseHeader>| h.map(|h| h.revision);
    match call {
        V3Call::Range => {
            // serializable: false, the default: a linearizable read.
            let r = within(kv.range(request(RangeRequest {
                key: k,
                ..Default::default()
            })))
            .await?;
            let seen = first_kv(&r.kvs);
            Ok(Answer {
                ret: Ret::Value(seen.as_ref().map(|(v, _)| v.clone())),
                revision: rev(r.header),
                seen,
                wrote: false,
            })
        }
        V3Call::Put { value, lease } => {
            let r = within(kv.put(request(PutRequest {
                key: k,
                value: value.clone().into_bytes(),
                lease: *lease,
                ..Default::default()
            })))
            .await?;
            let revision = rev(r.header);
            Ok(Answer {
                ret: Ret::Ok,
                revision,
                seen: revision.map(|r| (value.clone(), r)),
                wrote: true,
            })
        }
        V3Call::Cas {
            expect,
            rev: on_rev,
            new,
        } => {
            let (target, union) = match on_rev {
                None => (
                    compare::CompareTarget::Value,
                    compare::TargetUnion::Value(expect.clone().into_bytes()),
                ),
                Some(r) => (
                    compare::CompareTarget::Mod,
                    compare::TargetUnion::ModRevision(*r),
                ),
            };
            let op = |r: request_op::Request| RequestOp { request: Some(r) };
            let r = within(kv.txn(request(TxnRequest {
                compare: vec![Compare {
                    result: compare::CompareResult::Equal as i32,
                    target: target as i32,
                    key: k.clone(),
                    range_end: Vec::new(),
                    target_union: Some(union),
                }],
                success: vec![op(request_op::Request::RequestPut(PutRequest {
                    key: k.clone(),
                    value: new.clone().into_bytes(),
                    ..Default::default()
                }))],
                failure: vec![op(request_op::Request::RequestRange(RangeRequest {
                    key: k,
                    ..Default::default()
                }))],
            })))
            .await?;
            let revision = rev(r.header);
            if r.succeeded {
                return Ok(Answer {
                    ret: Ret::Ok,
                    revision,
                    seen: revision.map(|r| (new.clone(), r)),
                    wrote: true,
                });
            }
            let range = r.responses.into_iter().find_map(|o| match o.response {
                Some(response_op::Response::ResponseRange(rr)) => Some(rr),
                _ => None,
            });
            let Some(range) = range else {
                return Err(Status::internal("a refused txn without its range"));
            };
            let seen = first_kv(&range.kvs);
            Ok(Answer {
                ret: Ret::CasFailedSaw(seen.as_ref().map(|(v, _)| v.clone())),
                revision,
                seen,
                wrote: false,
            })
        }
        V3Call::Delete => {
            let r = within(kv.delete_range(request(DeleteRangeRequest {
                key: k,
                ..Default::default()
            })))
            .await?;
            Ok(Answer {
                ret: Ret::Ok,
                revision: rev(r.header),
                seen: None,
                // A delete of an absent key writes nothing; one that
                // deleted has its own revision.
                wrote: r.deleted > 0,
            })
        }
    }
}

/// Performs `call` through `conn` and records it (`None`: nothing was sent
/// or it was refused for good: not part of the history).
async fn record(
    conn: &mut Conn,
    client: usize,
    key: &str,
    call: &V3Call,
    start: Instant,
) -> (Option<Record>, Outcome) {
    let Some(channel) = conn.channel().await else {
        return (None, Outcome::NotSent);
    };
    let invoke = nanos_since(start);
    let result = perform(channel, key, call).await;
    let complete = nanos_since(start);
    let op = |ret: Ret| Op {
        client,
        key: model_key(key),
        call: call.model(),
        ret,
        invoke,
        complete,
    };
    match result {
        Ok(a) => (
            Some(Record {
                op: op(a.ret),
                outcome: Outcome::Answered,
                detail: String::new(),
                revision: a.revision,
                seen: a.seen,
                wrote: a.wrote,
            }),
            Outcome::Answered,
        ),
        Err(s) => {
            conn.failed();
            let outcome = classify(&s);
            if matches!(outcome, Outcome::Refused | Outcome::NotSent) {
                return (None, outcome);
            }
            let detail = format!("{:?}: {}", s.code(), s.message());
            let rec = Record {
                op: op(Ret::Unknown),
                outcome,
                detail,
                revision: None,
                seen: None,
                wrote: false,
            };
            (Some(rec), outcome)
        }
    }
}

/// A pause after an op: longer when no connection could be opened.
async fn pause(outcome: Outcome) {
    let d = if outcome == Outcome::NotSent {
        Duration::from_millis(20)
    } else {
        THINK
    };
    tokio::time::sleep(d).await;
}

/// A KV client: random ops on random keys until `stop`.
async fn kv_client(
    id: usize,
    ports: Vec<u16>,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<Record> {
    let seed = 0xD1B5_4A32_D192_ED03u64 ^ (id as u64 + 1) ^ nanos_since(start).rotate_left(23);
    let mut rng = Rng(seed | 1);
    let mut conn = Conn::new(ports, id);
    // What this client last saw of each key: (value, mod_revision), what
    // its next compare-and-swap expects.
    let mut seen: Vec<Option<(String, i64)>> = vec![None; KEYS];
    let mut records = Vec::new();
    let mut seq = 0;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let k = rng.below(KEYS);
        let value = format!("v3c{id}.{seq}");
        let call = match (rng.below(10), &seen[k]) {
            (0..=3, _) => V3Call::Range,
            (9, _) => V3Call::Delete,
            (4..=5, _) | (_, None) => V3Call::Put { value, lease: 0 },
            (r, Some((expect, rev))) => V3Call::Cas {
                expect: expect.clone(),
                rev: (r % 2 == 0).then_some(*rev),
                new: value,
            },
        };
        let (rec, outcome) = record(&mut conn, KV_BASE + id, &kv_key(k), &call, start).await;
        seen[k] = match (&call, &rec) {
            (V3Call::Delete, Some(r)) if r.outcome == Outcome::Answered => None,
            (_, Some(r)) => r.seen.clone(),
            _ => None,
        };
        records.extend(rec);
        pause(outcome).await;
    }
    records
}

/// What a lease client did: its calls, its leases, how many grants failed.
type LeaseClientDone = (Vec<Record>, Vec<LeaseRun>, usize);

/// A lease client: grants leases, puts a key with each, until `stop`; the
/// lease taken when `stop` came is followed until its key is gone.
async fn lease_client(
    id: usize,
    ports: Vec<u16>,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> LeaseClientDone {
    let client = LEASE_BASE + id;
    let mut conn = Conn::new(ports, id + 1);
    let mut records = Vec::new();
    let mut runs = Vec::new();
    let mut grants_failed = 0;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let Some(channel) = conn.channel().await else {
            pause(Outcome::NotSent).await;
            continue;
        };
        let grant_invoke = nanos_since(start);
        let grant = within(
            LeaseClient::new(channel).lease_grant(request(LeaseGrantRequest {
                ttl: LEASE_TTL,
                id: 0,
            })),
        )
        .await;
        let grant = match grant {
            Ok(g) if g.error.is_empty() => g,
            _ => {
                // Unknown or refused: a lease without a key at most.
                conn.failed();
                grants_failed += 1;
                pause(Outcome::Lost).await;
                continue;
            }
        };
        let key = format!("faults/lease/{id}.{n}");
        let value = format!("l{id}.{n}");
        let put = V3Call::Put {
            value: value.clone(),
            lease: grant.id,
        };
        let deadline =
            grant_invoke + Duration::from_secs(grant.ttl.max(0) as u64).as_nanos() as u64;
        let (rec, put_outcome) = record(&mut conn, client, &key, &put, start).await;
        let mut run = LeaseRun {
            key: model_key(&key),
            value,
            ttl: grant.ttl,
            grant_invoke,
            deadline,
            put: put_outcome,
            revoke: None,
            gone_by: None,
            seen_at: None,
        };
        let Some(rec) = rec else {
            // Not sent, or the lease was gone already: nothing to follow.
            runs.push(run);
            continue;
        };
        records.push(rec);
        // The expiry: it may happen from the deadline on.
        records.push(Record {
            op: Op {
                client: EXPIRY,
                key: model_key(&key),
                call: Call::Delete,
                ret: Ret::Unknown,
                invoke: deadline,
                complete: deadline,
            },
            outcome: Outcome::Timeout,
            detail: "expiry".into(),
            revision: None,
            seen: None,
            wrote: false,
        });
        // One lease in three revoked, a second after its grant.
        let revoke_at =
            (n % 3 == 0).then(|| grant_invoke + Duration::from_secs(1).as_nanos() as u64);
        // Read the key until a read misses it, then once more.
        let give_up = deadline + READY_TIMEOUT.as_nanos() as u64;
        let mut misses = 0;
        while misses < 2 && nanos_since(start) < give_up {
            if run.revoke.is_none() && revoke_at.is_some_and(|t| nanos_since(start) >= t) {
                let outcome = revoke(&mut conn, client, &key, grant.id, start, &mut records).await;
                run.revoke = Some(outcome);
            }
            let (rec, outcome) = record(&mut conn, client, &key, &V3Call::Range, start).await;
            if let Some(rec) = rec {
                match &rec.op.ret {
                    Ret::Value(Some(_)) => run.seen_at = Some(rec.op.invoke),
                    Ret::Value(None) => {
                        misses += 1;
                        run.gone_by.get_or_insert(rec.op.complete);
                    }
                    _ => {}
                }
                records.push(rec);
            }
            if outcome != Outcome::Answered {
                pause(outcome).await;
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
        runs.push(run);
    }
    (records, runs, grants_failed)
}

/// Revokes lease `id` (whose key is `key`): a delete of the key, known
/// when answered (also "lease not found": it was gone already).
async fn revoke(
    conn: &mut Conn,
    client: usize,
    key: &str,
    id: i64,
    start: Instant,
    records: &mut Vec<Record>,
) -> Outcome {
    let Some(channel) = conn.channel().await else {
        return Outcome::NotSent;
    };
    let invoke = nanos_since(start);
    let r =
        within(LeaseClient::new(channel).lease_revoke(request(LeaseRevokeRequest { id }))).await;
    let complete = nanos_since(start);
    let (ret, outcome, detail) = match r {
        Ok(_) => (Ret::Ok, Outcome::Answered, String::new()),
        Err(s) if classify(&s) == Outcome::Refused => (Ret::Ok, Outcome::Answered, String::new()),
        Err(s) if classify(&s) == Outcome::NotSent => {
            conn.failed();
            return Outcome::NotSent;
        }
        Err(s) => {
            conn.failed();
            (
                Ret::Unknown,
                classify(&s),
                format!("{:?}: {}", s.code(), s.message()),
            )
        }
    };
    records.push(Record {
        op: Op {
            client,
            key: model_key(key),
            call: Call::Delete,
            ret,
            invoke,
            complete,
        },
        outcome,
        detail,
        revision: None,
        seen: None,
        wrote: false,
    });
    outcome
}

/// The v3 clients of one fault run.
pub struct Load {
    rt: Runtime,
    ports: Vec<u16>,
    start: Instant,
    stop: Arc<AtomicBool>,
    kv: Vec<JoinHandle<Vec<Record>>>,
    leases: Vec<JoinHandle<LeaseClientDone>>,
}

impl Load {
    /// Starts the clients on `ports` (members, or gateways); times are
    /// counted from `start`, the v2 clients' clock.
    pub fn start(ports: Vec<u16>, start: Instant) -> Load {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let stop = Arc::new(AtomicBool::new(false));
        let kv = (0..KV_CLIENTS)
            .map(|id| rt.spawn(kv_client(id, ports.clone(), start, stop.clone())))
            .collect();
        let leases = (0..LEASE_CLIENTS)
            .map(|id| rt.spawn(lease_client(id, ports.clone(), start, stop.clone())))
            .collect();
        Load {
            rt,
            ports,
            start,
            stop,
            kv,
            leases,
        }
    }

    /// Stops the clients (the lease clients once their last key is gone)
    /// and reads every key through every endpoint.
    pub fn finish(self) -> Finished {
        self.stop.store(true, Ordering::Relaxed);
        let Load {
            rt,
            ports,
            start,
            kv,
            leases,
            ..
        } = self;
        rt.block_on(async move {
            let mut records = Vec::new();
            for h in kv {
                records.extend(h.await.expect("v3 kv client"));
            }
            let mut runs = Vec::new();
            let mut grants_failed = 0;
            for h in leases {
                let (r, l, g) = h.await.expect("v3 lease client");
                records.extend(r);
                runs.extend(l);
                grants_failed += g;
            }
            let finals = final_reads(&ports, start).await;
            Finished {
                records,
                leases: runs,
                grants_failed,
                finals,
            }
        })
    }
}

/// Linearizable reads of every KV key through every endpoint, each asked
/// again until answered (within [`READY_TIMEOUT`]).
async fn final_reads(ports: &[u16], start: Instant) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    for k in 0..KEYS {
        for (i, &port) in ports.iter().enumerate() {
            let deadline = Instant::now() + READY_TIMEOUT;
            let mut conn = Conn::new(vec![port], i);
            loop {
                let (rec, outcome) =
                    record(&mut conn, FINAL_READER, &kv_key(k), &V3Call::Range, start).await;
                if outcome == Outcome::Answered {
                    out.extend(rec);
                    break;
                }
                if Instant::now() > deadline {
                    let why = rec.map_or("no connection".to_string(), |r| r.detail);
                    return Err(format!(
                        "final read of {} through port {port}: {why}",
                        kv_key(k)
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(out)
}

/// What the v3 clients did.
pub struct Finished {
    records: Vec<Record>,
    leases: Vec<LeaseRun>,
    grants_failed: usize,
    finals: Result<Vec<Record>, String>,
}

fn secs(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

fn pct(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Intervals in which no probe write was acknowledged for longer than
/// [`OUTAGE_GAP`] (`acks`: the probes' acknowledgement times).
fn outages(acks: &[u64]) -> Vec<(u64, u64)> {
    let mut acks = acks.to_vec();
    acks.sort_unstable();
    acks.windows(2)
        .filter(|w| w[1] - w[0] > OUTAGE_GAP.as_nanos() as u64)
        .map(|w| (w[0], w[1]))
        .collect()
}

/// The latest a lease's key may be seen: [`REVOKE_MARGIN`] after its
/// deadline, or, for each outage (in time order, `outages`) that began
/// before that limit while the lease lived, the renewal a new leader gives
/// it from the outage's end: TTL + [`ELECTION`] + [`REVOKE_MARGIN`].
fn lease_limit(run: &LeaseRun, outages: &[(u64, u64)]) -> u64 {
    let nanos = |d: Duration| d.as_nanos() as u64;
    let renewed = nanos(Duration::from_secs(run.ttl.max(0) as u64) + ELECTION + REVOKE_MARGIN);
    let mut limit = run.deadline + nanos(REVOKE_MARGIN);
    for &(from, to) in outages {
        if to > run.grant_invoke && from <= limit {
            limit = limit.max(to + renewed);
        }
    }
    limit
}

/// Each value at one mod_revision, no two values at one; revisions in real
/// time order. The problems found.
fn revision_checks(records: &[Record]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut rev_of: HashMap<&str, (i64, &Record)> = HashMap::new();
    let mut value_at: HashMap<i64, (&str, &Record)> = HashMap::new();
    for r in records {
        let Some((v, rev)) = &r.seen else { continue };
        if let Some((other, first)) = rev_of.get(v.as_str()) {
            if other != rev {
                problems.push(format!(
                    "value {v:?} seen at mod_revision {other} ({}) and {rev} ({})",
                    first.op, r.op
                ));
            }
        } else {
            rev_of.insert(v.as_str(), (*rev, r));
        }
        match value_at.get(rev) {
            Some((other, first)) if *other != v.as_str() => problems.push(format!(
                "revision {rev} holds {other:?} ({}) and {v:?} ({})",
                first.op, r.op
            )),
            Some(_) => {}
            None => {
                value_at.insert(*rev, (v.as_str(), r));
            }
        }
        if let (Some(h), Some((_, m))) = (r.revision, &r.seen) {
            if m > &h {
                problems.push(format!("{}: mod_revision {m} above the header's {h}", r.op));
            }
        }
    }
    // Real time: ops with a revision, by return time; each op's revision
    // against the highest one of the ops that returned before it started.
    let with_rev: Vec<(&Record, i64)> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Answered)
        .filter_map(|r| r.revision.map(|rev| (r, rev)))
        .collect();
    let mut by_complete = with_rev.clone();
    by_complete.sort_by_key(|&(r, _)| r.op.complete);
    let mut by_invoke = with_rev;
    by_invoke.sort_by_key(|&(r, _)| r.op.invoke);
    let mut highest: Option<(i64, &Record)> = None;
    let mut j = 0;
    for (r, rev) in by_invoke {
        while j < by_complete.len() && by_complete[j].0.op.complete < r.op.invoke {
            let (e, erev) = by_complete[j];
            if highest.is_none_or(|(h, _)| erev > h) {
                highest = Some((erev, e));
            }
            j += 1;
        }
        if let Some((h, before)) = highest {
            if rev < h || (r.wrote && rev == h) {
                problems.push(format!(
                    "revision {rev} of {} (it {}), after {} returned revision {h}",
                    r.op,
                    if r.wrote { "wrote" } else { "read" },
                    before.op
                ));
            }
        }
    }
    problems
}

impl Finished {
    /// Prints the figures of the v3 clients on `label` and checks their
    /// history; `acks`: when the v2 probes' writes were acknowledged. What
    /// failed, if anything.
    pub fn report(&self, label: &str, acks: &[u64]) -> Result<(), String> {
        let mut failures = Vec::new();
        let recs = &self.records;
        let is_lease = |r: &Record| r.op.key.starts_with("v3 faults/lease/");
        let kv: Vec<&Record> = recs
            .iter()
            .filter(|r| !is_lease(r) && r.op.client != EXPIRY)
            .collect();
        let lease_ops: Vec<&Record> = recs
            .iter()
            .filter(|r| is_lease(r) && r.op.client != EXPIRY)
            .collect();
        let count =
            |set: &[&Record], f: &dyn Fn(&Record) -> bool| set.iter().filter(|r| f(r)).count();
        let all: Vec<&Record> = kv.iter().chain(&lease_ops).copied().collect();
        let total = all.len();
        let unknown = count(&all, &|r| r.outcome.unknown());
        let by = |o: Outcome| count(&all, &|r| r.outcome == o);
        eprintln!("=== v3 on {label}: {KV_CLIENTS} kv clients on {KEYS} keys, {LEASE_CLIENTS} lease clients ===");
        eprintln!(
            "  kv ops {}: ranges answered {}, puts acked {}, txn cas acked {} / refused {}, deletes acked {}",
            kv.len(),
            count(&kv, &|r| matches!(r.op.ret, Ret::Value(_))),
            count(&kv, &|r| matches!(r.op.call, Call::Write(_)) && r.op.ret == Ret::Ok),
            count(&kv, &|r| matches!(r.op.call, Call::Cas { .. }) && r.op.ret == Ret::Ok),
            count(&kv, &|r| matches!(r.op.ret, Ret::CasFailedSaw(_))),
            count(&kv, &|r| r.op.call == Call::Delete && r.op.ret == Ret::Ok),
        );
        eprintln!(
            "  unknown outcome {unknown} = {:.2} % of {total} ops (kv and lease; timeout {}, unavailable {}, connection lost {}, other errors {})",
            pct(unknown, total),
            by(Outcome::Timeout),
            by(Outcome::Unavailable),
            by(Outcome::Lost),
            by(Outcome::OtherError),
        );
        let mut examples: BTreeMap<Outcome, Vec<&str>> = BTreeMap::new();
        for r in all.iter().filter(|r| r.outcome != Outcome::Answered) {
            let list = examples.entry(r.outcome).or_default();
            if list.len() < 3 && !list.contains(&r.detail.as_str()) {
                list.push(&r.detail);
            }
        }
        for (o, list) in &examples {
            for d in list {
                eprintln!(
                    "    e.g. {o:?}: {}",
                    d.chars().take(200).collect::<String>()
                );
            }
        }

        // Leases.
        let outages = outages(acks);
        let followed: Vec<&LeaseRun> = self
            .leases
            .iter()
            .filter(|l| !matches!(l.put, Outcome::NotSent | Outcome::Refused))
            .collect();
        // A lease lived through an outage (a leader killed, paused, cut
        // off; every member killed): expiry must work after it too.
        let lived_through = |l: &LeaseRun| {
            let end = l.gone_by.unwrap_or(u64::MAX);
            outages
                .iter()
                .any(|&(from, to)| to > l.grant_invoke && from < end)
        };
        // How long after its deadline each lease that expired (acknowledged
        // put, no revoke) was seen gone: in quiet times, and through an
        // outage.
        let mut quiet: Vec<i64> = Vec::new();
        let mut renewed: Vec<i64> = Vec::new();
        for l in &followed {
            let limit = lease_limit(l, &outages);
            if let Some(gone) = l.gone_by {
                if l.put == Outcome::Answered && l.revoke.is_none() {
                    let late = gone as i64 - l.deadline as i64;
                    if lived_through(l) {
                        renewed.push(late);
                    } else {
                        quiet.push(late);
                    }
                }
            } else if l.put == Outcome::Answered || l.seen_at.is_some() {
                failures.push(format!(
                    "lease key {} (ttl {} s, deadline {:.2} s) never seen gone",
                    l.key,
                    l.ttl,
                    secs(l.deadline)
                ));
            }
            let late = lease_ops
                .iter()
                .filter(|r| r.op.key == l.key && r.op.invoke > limit)
                .find(|r| r.op.ret == Ret::Value(Some(l.value.clone())));
            if let Some(r) = late {
                failures.push(format!(
                    "lease key {} seen {:.2} s after its deadline {:.2} s (allowed until {:.2} s): {}",
                    l.key,
                    secs(r.op.invoke.saturating_sub(l.deadline)),
                    secs(l.deadline),
                    secs(limit),
                    r.op
                ));
            }
        }
        let spread = |v: &mut Vec<i64>| {
            v.sort_unstable();
            let at = |i: usize| v.get(i).map_or(0.0, |&n| n as f64 / 1e9);
            format!(
                "{} leases, median {:.2} s, max {:.2} s",
                v.len(),
                at(v.len() / 2),
                at(v.len().wrapping_sub(1))
            )
        };
        let ttl = followed.first().map_or(LEASE_TTL, |l| l.ttl);
        let through = followed
            .iter()
            .filter(|l| l.gone_by.is_some() && lived_through(l))
            .count();
        let max_of = |v: &[i64]| v.iter().copied().max().unwrap_or(0) as f64 / 1e9;
        let (quiet_max, renewed_max) = (max_of(&quiet), max_of(&renewed));
        eprintln!(
            "  leases: {} granted with a key put (ttl {ttl} s), {} grants failed, {} revoked, {} seen gone ({through} of them lived through an outage: {} of {:.1} s in all)",
            followed.len(),
            self.grants_failed,
            followed
                .iter()
                .filter(|l| l.revoke == Some(Outcome::Answered))
                .count(),
            followed.iter().filter(|l| l.gone_by.is_some()).count(),
            outages.len(),
            outages.iter().map(|(a, b)| secs(b - a)).sum::<f64>(),
        );
        eprintln!(
            "  expired leases seen gone after their deadline: in quiet times {} (allowed {:.0} s); through an outage {} (allowed ttl + {:.0} s after the last)",
            spread(&mut quiet),
            REVOKE_MARGIN.as_secs_f64(),
            spread(&mut renewed),
            (ELECTION + REVOKE_MARGIN).as_secs_f64(),
        );

        // Revisions.
        let revision_problems = revision_checks(recs);
        for p in revision_problems.iter().take(5) {
            eprintln!("  revision problem: {p}");
        }
        if !revision_problems.is_empty() {
            failures.push(format!(
                "{} revision problems, the first: {}",
                revision_problems.len(),
                revision_problems[0]
            ));
        }

        // The history.
        let mut history: Vec<Op> = recs.iter().map(|r| r.op.clone()).collect();
        let mut lost = Vec::new();
        match &self.finals {
            Ok(finals) => {
                for f in finals {
                    let possible = linearizability::possible_final_values(&history, &f.op.key);
                    if let Ret::Value(v) = &f.op.ret {
                        if !possible.contains(v) {
                            lost.push(format!(
                                "{}: final read {v:?}, but the last write was one of {possible:?}",
                                f.op.key
                            ));
                        }
                    }
                }
                history.extend(finals.iter().map(|r| r.op.clone()));
            }
            Err(e) => failures.push(e.clone()),
        }
        failures.extend(lost.iter().cloned());
        let checking = Instant::now();
        let verdict = linearizability::check(&history);
        let linearizable = if verdict.is_ok() { "yes" } else { "NO" };
        if verdict.is_ok() {
            crate::faults::planted_stale_read_is_found(&history, &model_key(&kv_key(0)));
        }
        let keys = history
            .iter()
            .map(|o| o.key.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        eprintln!(
            "  linearizable: {linearizable} ({} ops in the history, {keys} keys, checked in {:.2} s); acknowledged writes lost: {}; revision problems: {}",
            history.len(),
            checking.elapsed().as_secs_f64(),
            lost.len(),
            revision_problems.len()
        );
        eprintln!(
            "FAULTS-V3 {label}: ops {total}, unknown {unknown} ({:.2} %), linearizable {linearizable}, leases {} (gone at most {quiet_max:.2} s after the deadline in quiet times, {renewed_max:.2} s through outages), revisions {}",
            pct(unknown, total),
            followed.len(),
            if revision_problems.is_empty() { "ok" } else { "NOT OK" },
        );
        if let Err(v) = &verdict {
            failures.push(format!("the v3 history is not linearizable:\n{v}"));
        }
        if !failures.is_empty() || std::env::var_os("CLUSTER_KEEP").is_some() {
            let path = std::env::temp_dir().join(format!(
                "concord-faults-v3-{}-{}.history",
                label.split(' ').next().unwrap_or("x"),
                std::process::id()
            ));
            let mut sorted: Vec<&Record> = recs.iter().collect();
            sorted.sort_by_key(|r| r.op.invoke);
            let text: String = sorted
                .iter()
                .map(|r| format!("{} rev {:?} seen {:?}\n", r.op, r.revision, r.seen))
                .collect();
            let _ = std::fs::write(&path, text);
            eprintln!("  v3 history written to {}", path.display());
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        client: usize,
        invoke: u64,
        complete: u64,
        call: Call,
        ret: Ret,
        rev: i64,
        wrote: bool,
    ) -> Record {
        let seen = match (&call, &ret) {
            (Call::Write(v), Ret::Ok) => Some((v.clone(), rev)),
            (_, Ret::Value(Some(v))) => Some((v.clone(), rev - 1)),
            _ => None,
        };
        Record {
            op: Op {
                client,
                key: "v3 k".into(),
                call,
                ret,
                invoke,
                complete,
            },
            outcome: Outcome::Answered,
            detail: String::new(),
            revision: Some(rev),
            seen,
            wrote,
        }
    }

    #[test]
    fn revisions_must_follow_real_time() {
        let ok = [
            rec(0, 0, 1, Call::Write("a".into()), Ret::Ok, 2, true),
            rec(1, 2, 3, Call::Read, Ret::Value(Some("a".into())), 3, false),
            rec(0, 4, 5, Call::Write("b".into()), Ret::Ok, 4, true),
        ];
        assert!(
            revision_checks(&ok).is_empty(),
            "{:?}",
            revision_checks(&ok)
        );
        // A write after a read returned revision 3 cannot be at 3.
        let mut bad = ok.clone();
        bad[2].revision = Some(3);
        bad[2].seen = Some(("b".into(), 3));
        assert!(!revision_checks(&bad).is_empty());
        // One value at two revisions: applied twice.
        let mut twice = ok.to_vec();
        twice.push(rec(
            2,
            6,
            7,
            Call::Read,
            Ret::Value(Some("a".into())),
            8,
            false,
        ));
        assert!(revision_checks(&twice)
            .iter()
            .any(|p| p.contains("seen at mod_revision")));
    }

    #[test]
    fn outages_stretch_a_lease_limit() {
        let s = 1_000_000_000u64;
        let run = LeaseRun {
            key: "v3 l".into(),
            value: "v".into(),
            ttl: 3,
            grant_invoke: 10 * s,
            deadline: 13 * s,
            put: Outcome::Answered,
            revoke: None,
            gone_by: None,
            seen_at: None,
        };
        let plain = lease_limit(&run, &[]);
        assert_eq!(plain, 16 * s, "deadline + revoke margin");
        // A leader change renews it: TTL + election + margin from its end.
        assert_eq!(lease_limit(&run, &[(14 * s, 16 * s)]), 23 * s);
        // Leader changes in a row, each before the renewed limit.
        let chain = [(14 * s, 16 * s), (22 * s, 24 * s), (40 * s, 41 * s)];
        assert_eq!(lease_limit(&run, &chain), 31 * s);
        assert_eq!(
            lease_limit(&run, &[(2 * s, 5 * s)]),
            plain,
            "before the grant"
        );
        assert_eq!(
            lease_limit(&run, &[(17 * s, 18 * s)]),
            plain,
            "after it was due"
        );
        let acks = [s, s + 100, 3 * s, 3 * s + 50];
        assert_eq!(outages(&acks), vec![(s + 100, 3 * s)]);
    }
}
