//! `Txn`: etcd's request checks (`checkTxnRequest`, `checkIntervals` in
//! `v3rpc/key.go`), compares, and the apply of the chosen branch
//! (`applierV3backend.Txn` in `etcdserver/apply.go`).
//!
//! A txn is one write: all its changes share one main revision, and it adds
//! a revision only if it changed something.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::range::KeySpan;
use crate::store::{validate_delete, validate_put, validate_range, Applied, Keyspace, Writer};
use crate::types::{
    compare::TargetUnion, request_op::Request, response_op::Response, Compare, CompareResult,
    CompareTarget, KeyValue, RequestOp, ResponseHeader, ResponseOp, TxnRequest, TxnResponse,
};

/// etcd's `checkTxnRequest` and `checkIntervals` on both branches: the
/// checks made before a txn is proposed.
pub fn validate_txn(req: &TxnRequest, max_txn_ops: usize) -> Result<()> {
    check_txn(req, max_txn_ops as i64)?;
    check_intervals(&req.success)?;
    check_intervals(&req.failure)?;
    Ok(())
}

fn check_txn(req: &TxnRequest, max_ops: i64) -> Result<()> {
    let ops = req
        .compare
        .len()
        .max(req.success.len())
        .max(req.failure.len()) as i64;
    if ops > max_ops {
        return Err(Error::TooManyOps);
    }
    if req.compare.iter().any(|c| c.key.is_empty()) {
        return Err(Error::EmptyKey);
    }
    for op in req.success.iter().chain(&req.failure) {
        // A nested txn gets what the outer one left of the budget.
        check_op(op, max_ops - ops)?;
    }
    Ok(())
}

fn check_op(op: &RequestOp, max_ops: i64) -> Result<()> {
    match &op.request {
        Some(Request::RequestRange(r)) => validate_range(r),
        Some(Request::RequestPut(p)) => validate_put(p),
        Some(Request::RequestDeleteRange(d)) => validate_delete(d),
        Some(Request::RequestTxn(t)) => check_txn(t, max_ops),
        None => Err(Error::KeyNotFound),
    }
}

/// The ranges deleted in a branch, as etcd's interval tree holds them.
#[derive(Default)]
struct Deletes(Vec<(Vec<u8>, Vec<u8>)>);

impl Deletes {
    /// etcd's `Intersects(NewStringAffinePoint(k))`. A delete's interval is
    /// `[key, range_end)` compared as plain strings, so a from-key delete
    /// (`range_end` `"\0"`) covers no key here, as in etcd 3.4; a single-key
    /// delete is `[key, key + "\0")`.
    fn covers(&self, k: &[u8]) -> bool {
        self.0.iter().any(|(start, end)| {
            if end.is_empty() {
                k == start.as_slice()
            } else {
                k >= start.as_slice() && k < end.as_slice()
            }
        })
    }
}

/// etcd's `checkIntervals`: no key put twice, or put and deleted, in one
/// branch (nested txns included, either of whose branches may run).
fn check_intervals(ops: &[RequestOp]) -> Result<(BTreeSet<Vec<u8>>, Deletes)> {
    let mut dels = Deletes::default();
    for op in ops {
        if let Some(Request::RequestDeleteRange(d)) = &op.request {
            dels.0.push((d.key.clone(), d.range_end.clone()));
        }
    }
    let mut puts: BTreeSet<Vec<u8>> = BTreeSet::new();
    for op in ops {
        let Some(Request::RequestTxn(t)) = &op.request else {
            continue;
        };
        let (puts_then, dels_then) = check_intervals(&t.success)?;
        let (puts_else, dels_else) = check_intervals(&t.failure)?;
        for k in &puts_then {
            if puts.contains(k) || dels.covers(k) {
                return Err(Error::DuplicateKey);
            }
            puts.insert(k.clone());
        }
        for k in &puts_else {
            if puts.contains(k) && !puts_then.contains(k) {
                return Err(Error::DuplicateKey);
            }
            if dels.covers(k) {
                return Err(Error::DuplicateKey);
            }
            puts.insert(k.clone());
        }
        dels.0.extend(dels_then.0);
        dels.0.extend(dels_else.0);
    }
    for op in ops {
        let Some(Request::RequestPut(p)) = &op.request else {
            continue;
        };
        if puts.contains(&p.key) || dels.covers(&p.key) {
            return Err(Error::DuplicateKey);
        }
        puts.insert(p.key.clone());
    }
    Ok((puts, dels))
}

/// Which branch each txn takes, decided before any of it runs: this txn's,
/// then one per nested txn of the branch taken, in order.
struct Path {
    succeeded: bool,
    nested: Vec<Path>,
}

fn branch(req: &TxnRequest, succeeded: bool) -> &[RequestOp] {
    if succeeded {
        &req.success
    } else {
        &req.failure
    }
}

/// etcd's `compareKV`.
fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    let int = |v: i64, want: Option<i64>| v.cmp(&want.unwrap_or(0));
    let ord = match c.target {
        CompareTarget::Value => {
            let want: &[u8] = match &c.target_union {
                Some(TargetUnion::Value(v)) => v,
                _ => &[],
            };
            kv.value.as_slice().cmp(want)
        }
        CompareTarget::Create => int(
            kv.create_revision,
            match c.target_union {
                Some(TargetUnion::CreateRevision(r)) => Some(r),
                _ => None,
            },
        ),
        CompareTarget::Mod => int(
            kv.mod_revision,
            match c.target_union {
                Some(TargetUnion::ModRevision(r)) => Some(r),
                _ => None,
            },
        ),
        CompareTarget::Version => int(
            kv.version,
            match c.target_union {
                Some(TargetUnion::Version(r)) => Some(r),
                _ => None,
            },
        ),
        CompareTarget::Lease => int(
            kv.lease,
            match c.target_union {
                Some(TargetUnion::Lease(r)) => Some(r),
                _ => None,
            },
        ),
    };
    match c.result {
        CompareResult::Equal => ord.is_eq(),
        CompareResult::NotEqual => ord.is_ne(),
        CompareResult::Greater => ord.is_gt(),
        CompareResult::Less => ord.is_lt(),
    }
}

impl Keyspace {
    /// etcd's `applyCompare`: every key in the compare's range must pass; a
    /// missing key is a zero key-value, except that a value compare on no
    /// key fails.
    fn compare(&self, c: &Compare) -> bool {
        let span = KeySpan::new(&c.key, &c.range_end);
        let mut any = false;
        for kv in self.kvs_at(span, self.revision) {
            any = true;
            if !compare_kv(c, kv) {
                return false;
            }
        }
        if any {
            return true;
        }
        c.target != CompareTarget::Value && compare_kv(c, &KeyValue::default())
    }

    fn path(&self, req: &TxnRequest) -> Path {
        let succeeded = req.compare.iter().all(|c| self.compare(c));
        let nested = branch(req, succeeded)
            .iter()
            .filter_map(|op| match &op.request {
                Some(Request::RequestTxn(t)) => Some(self.path(t)),
                _ => None,
            })
            .collect();
        Path { succeeded, nested }
    }

    /// etcd's `checkRequestPut` and `checkRequestRange` over the branches
    /// that will run, against the keyspace before the txn.
    fn check_branch(&self, req: &TxnRequest, path: &Path) -> Result<()> {
        let mut nested = path.nested.iter();
        for op in branch(req, path.succeeded) {
            match &op.request {
                Some(Request::RequestTxn(t)) => {
                    if let Some(p) = nested.next() {
                        self.check_branch(t, p)?;
                    }
                }
                Some(Request::RequestPut(p)) => {
                    if (p.ignore_value || p.ignore_lease)
                        && self
                            .kvs_at(KeySpan::Single(&p.key), self.revision)
                            .next()
                            .is_none()
                    {
                        return Err(Error::KeyNotFound);
                    }
                    if p.lease != 0 && !self.leases.contains(p.lease) {
                        return Err(Error::LeaseNotFound);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_ranges(&self, req: &TxnRequest, path: &Path) -> Result<()> {
        let mut nested = path.nested.iter();
        for op in branch(req, path.succeeded) {
            match &op.request {
                Some(Request::RequestTxn(t)) => {
                    if let Some(p) = nested.next() {
                        self.check_ranges(t, p)?;
                    }
                }
                // Unlike a plain Range, a negative revision below the
                // compaction (or below -1 before any) is refused, as etcd's
                // `checkRequestRange` does.
                Some(Request::RequestRange(r)) if r.revision != 0 => {
                    if r.revision > self.revision {
                        return Err(Error::FutureRev);
                    }
                    if r.revision < self.compact_revision {
                        return Err(Error::Compacted);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `Txn`: checks the request, evaluates the compares, then runs the
    /// chosen branch as one write.
    pub fn txn(&mut self, req: &TxnRequest) -> Result<Applied<TxnResponse>> {
        validate_txn(req, self.config.max_txn_ops)?;
        let path = self.path(req);
        self.check_branch(req, &path)?;
        self.check_ranges(req, &path)?;
        let mut w = self.writer();
        let mut response = self.apply_branch(&mut w, req, &path);
        response.header = ResponseHeader::at(w.read_rev());
        Ok(self.finish(w, response))
    }

    fn apply_branch(&mut self, w: &mut Writer, req: &TxnRequest, path: &Path) -> TxnResponse {
        let mut nested = path.nested.iter();
        let mut responses = Vec::new();
        for op in branch(req, path.succeeded) {
            let response = match &op.request {
                // Cannot fail after `check_ranges` (reads at or above the
                // compaction, at or below the revision the txn began at).
                Some(Request::RequestRange(r)) => Some(Response::ResponseRange(
                    self.range_at(r, w.read_rev()).unwrap_or_default(),
                )),
                Some(Request::RequestPut(p)) => Some(Response::ResponsePut(self.put_op(w, p))),
                Some(Request::RequestDeleteRange(d)) => {
                    Some(Response::ResponseDeleteRange(self.delete_op(w, d)))
                }
                Some(Request::RequestTxn(t)) => nested
                    .next()
                    .map(|p| Response::ResponseTxn(self.apply_branch(w, t, p))),
                None => None,
            };
            responses.push(ResponseOp { response });
        }
        TxnResponse {
            header: ResponseHeader::default(),
            succeeded: path.succeeded,
            responses,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_key_delete_covers_nothing_in_the_duplicate_check() {
        let dels = Deletes(vec![(b"a".to_vec(), vec![0])]);
        assert!(!dels.covers(b"b"));
        let dels = Deletes(vec![(b"a".to_vec(), b"c".to_vec())]);
        assert!(dels.covers(b"b") && dels.covers(b"a") && !dels.covers(b"c"));
    }
}
