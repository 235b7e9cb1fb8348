//! The KV workloads' requests (put, range, compare-and-swap txn) and the
//! preload of the keys that range reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use concord_rpc::etcd::etcdserverpb::{
    compare, kv_client::KvClient, request_op, response_op, Compare, PutRequest, RangeRequest,
    RequestOp, TxnRequest,
};
use tonic::transport::Channel;
use tonic::Status;

use crate::closed_loop::{self, Op, Window};

/// A value of `size` random alphanumerics.
pub fn value(rng: &mut fastrand::Rng, size: usize) -> Vec<u8> {
    (0..size).map(|_| rng.alphanumeric() as u8).collect()
}

/// The key of index `k` under `prefix`.
pub fn key(prefix: &str, k: u64) -> Vec<u8> {
    format!("{prefix}{k}").into_bytes()
}

/// Put of a uniform random key in [0, key_space).
pub struct Put {
    pub kv: KvClient<Channel>,
    pub rng: fastrand::Rng,
    pub prefix: String,
    pub key_space: u64,
    pub value: Vec<u8>,
}

impl Op for Put {
    fn call(&mut self) -> impl std::future::Future<Output = Result<(), Status>> + Send {
        let req = PutRequest {
            key: key(&self.prefix, self.rng.u64(0..self.key_space)),
            value: self.value.clone(),
            ..Default::default()
        };
        async move { self.kv.put(req).await.map(|_| ()) }
    }
}

/// Range of one uniform random key in [0, keys), which must exist.
pub struct Range {
    pub kv: KvClient<Channel>,
    pub rng: fastrand::Rng,
    pub prefix: String,
    pub keys: u64,
    pub serializable: bool,
}

impl Op for Range {
    fn call(&mut self) -> impl std::future::Future<Output = Result<(), Status>> + Send {
        let req = RangeRequest {
            key: key(&self.prefix, self.rng.u64(0..self.keys)),
            serializable: self.serializable,
            ..Default::default()
        };
        async move {
            let r = self.kv.range(req).await?.into_inner();
            // A read that finds nothing is wrong, not fast.
            if r.kvs.len() != 1 {
                return Err(Status::not_found(format!(
                    "range found {} keys",
                    r.kvs.len()
                )));
            }
            Ok(())
        }
    }
}

/// Compare-and-swap on keys only this client writes: Txn(mod_revision ==
/// the one last seen) then put, else range to learn the current one. Every
/// swap should succeed (fresh keys start at mod_revision 0); a failure is
/// counted (a lost update, or a timed-out write that was applied after all).
pub struct Txn {
    pub kv: KvClient<Channel>,
    pub rng: fastrand::Rng,
    pub keys: Vec<Vec<u8>>,
    /// mod_revision last seen per key; -1 = unknown (after an error).
    pub revs: Vec<i64>,
    pub value: Vec<u8>,
    pub failed: Arc<AtomicU64>,
}

impl Txn {
    pub fn new(
        kv: KvClient<Channel>,
        mut rng: fastrand::Rng,
        prefix: &str,
        n: usize,
        value_size: usize,
        failed: Arc<AtomicU64>,
    ) -> Txn {
        let keys = (0..n as u64).map(|j| key(prefix, j)).collect();
        let value = value(&mut rng, value_size);
        Txn {
            kv,
            rng,
            keys,
            revs: vec![0; n],
            value,
            failed,
        }
    }
}

impl Op for Txn {
    fn call(&mut self) -> impl std::future::Future<Output = Result<(), Status>> + Send {
        let i = self.rng.usize(0..self.keys.len());
        let key = self.keys[i].clone();
        let req = TxnRequest {
            compare: vec![Compare {
                result: compare::CompareResult::Equal as i32,
                target: compare::CompareTarget::Mod as i32,
                key: key.clone(),
                target_union: Some(compare::TargetUnion::ModRevision(self.revs[i])),
                ..Default::default()
            }],
            success: vec![RequestOp {
                request: Some(request_op::Request::RequestPut(PutRequest {
                    key: key.clone(),
                    value: self.value.clone(),
                    ..Default::default()
                })),
            }],
            failure: vec![RequestOp {
                request: Some(request_op::Request::RequestRange(RangeRequest {
                    key,
                    ..Default::default()
                })),
            }],
        };
        // Unknown until answered: a timeout or error leaves it unknown.
        self.revs[i] = -1;
        async move {
            let r = self.kv.txn(req).await?.into_inner();
            if r.succeeded {
                // The put's revision is the txn's: the key's mod_revision now.
                self.revs[i] = r.header.map_or(-1, |h| h.revision);
            } else {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let found = r.responses.into_iter().find_map(|op| match op.response {
                    Some(response_op::Response::ResponseRange(rr)) => rr.kvs.into_iter().next(),
                    _ => None,
                });
                self.revs[i] = found.map_or(0, |kv| kv.mod_revision);
            }
            Ok(())
        }
    }
}

/// Put of key next-in-line, for the preload.
struct PutNext {
    kv: KvClient<Channel>,
    prefix: String,
    next: Arc<AtomicU64>,
    value: Vec<u8>,
}

impl Op for PutNext {
    fn call(&mut self) -> impl std::future::Future<Output = Result<(), Status>> + Send {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let req = PutRequest {
            key: key(&self.prefix, k),
            value: self.value.clone(),
            ..Default::default()
        };
        async move { self.kv.put(req).await.map(|_| ()) }
    }
}

/// Writes keys [0, n) once each, 64 at a time over `channels`, then checks
/// the first and the last.
pub async fn preload(
    channels: &[Channel],
    prefix: &str,
    n: u64,
    value_size: usize,
    timeout: Duration,
) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicU64::new(0));
    let mut rng = fastrand::Rng::new();
    let ops: Vec<PutNext> = (0..64)
        .map(|i| PutNext {
            kv: KvClient::new(channels[i % channels.len()].clone()),
            prefix: prefix.to_string(),
            next: next.clone(),
            value: value(&mut rng, value_size),
        })
        .collect();
    let out = closed_loop::run(ops, Duration::ZERO, Window::Requests(n), timeout).await;
    if out.errors.total() > 0 {
        bail!(
            "preload: {} puts failed: {:?}",
            out.errors.total(),
            out.errors.fields()
        );
    }
    let mut kv = KvClient::new(channels[0].clone());
    for k in [0, n - 1] {
        let r = kv
            .range(RangeRequest {
                key: key(prefix, k),
                ..Default::default()
            })
            .await?
            .into_inner();
        if r.kvs.len() != 1 || r.kvs[0].value.len() != value_size {
            bail!("preload check: key {k} missing or short");
        }
    }
    Ok(out.seconds)
}
