//! Leases as replicated data (etcd's `lease/lessor.go`, without its clock).
//!
//! A lease is its id, its granted TTL, the keys attached to it and its
//! expiry, a Unix time in nanoseconds computed from the `now` the caller
//! passes: granting, renewing and promoting set it; nothing here reads a
//! clock or revokes by itself. The leader asks [`Leases::expired`] which
//! leases to propose revoking.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::{Applied, Keyspace};
use crate::types::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse,
    LeaseRevokeResponse, LeaseStatus, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
    ResponseHeader,
};

/// etcd's `lease.MaxLeaseTTL`, in seconds.
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// One lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: i64,
    /// The granted TTL in seconds (the one asked for, raised to the minimum).
    pub ttl: i64,
    /// When the lease expires, Unix nanoseconds.
    pub expiry: i64,
    /// The keys attached to it.
    pub keys: BTreeSet<Vec<u8>>,
}

impl Lease {
    /// Whole seconds left at `now`, truncated as etcd's
    /// `int64(Remaining().Seconds())`.
    pub fn remaining_secs(&self, now: i64) -> i64 {
        self.expiry.saturating_sub(now) / NANOS_PER_SEC
    }
}

/// Every lease, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leases {
    by_id: BTreeMap<i64, Lease>,
    /// How many ids were chosen by the keyspace: the seed of the next one.
    auto_ids: u64,
}

fn expiry_after(now: i64, ttl_secs: i64) -> i64 {
    now.saturating_add(ttl_secs.saturating_mul(NANOS_PER_SEC))
}

/// splitmix64: spreads a counter over the id space deterministically.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Leases {
    pub fn get(&self, id: i64) -> Option<&Lease> {
        self.by_id.get(&id)
    }

    pub fn contains(&self, id: i64) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Every lease, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Lease> {
        self.by_id.values()
    }

    /// Grants lease `id` (0: one chosen here, positive, deterministic) for
    /// `ttl` seconds raised to `min_ttl`, expiring `ttl` after `now`.
    pub(crate) fn grant(&mut self, id: i64, ttl: i64, min_ttl: i64, now: i64) -> Result<&Lease> {
        if ttl > MAX_LEASE_TTL {
            return Err(Error::LeaseTtlTooLarge);
        }
        let id = if id == 0 { self.next_auto_id() } else { id };
        if self.by_id.contains_key(&id) {
            return Err(Error::LeaseExist);
        }
        let ttl = ttl.max(min_ttl);
        let lease = Lease {
            id,
            ttl,
            expiry: expiry_after(now, ttl),
            keys: BTreeSet::new(),
        };
        Ok(self.by_id.entry(id).or_insert(lease))
    }

    fn next_auto_id(&mut self) -> i64 {
        loop {
            self.auto_ids = self.auto_ids.wrapping_add(1);
            let id = (mix(self.auto_ids) & (i64::MAX as u64)) as i64;
            if id != 0 && !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }

    /// Removes a lease, returning it (with its keys).
    pub(crate) fn remove(&mut self, id: i64) -> Option<Lease> {
        self.by_id.remove(&id)
    }

    /// Sets the expiry of `id` to its TTL after `now`; returns the TTL.
    pub(crate) fn renew(&mut self, id: i64, now: i64) -> Result<i64> {
        let lease = self.by_id.get_mut(&id).ok_or(Error::LeaseNotFound)?;
        lease.expiry = expiry_after(now, lease.ttl);
        Ok(lease.ttl)
    }

    /// What a new leader does (etcd's `Promote`): every lease expires its
    /// TTL plus `extend_nanos` after `now`.
    pub(crate) fn promote(&mut self, now: i64, extend_nanos: i64) {
        let base = now.saturating_add(extend_nanos);
        for lease in self.by_id.values_mut() {
            lease.expiry = expiry_after(base, lease.ttl);
        }
    }

    /// The leases expired at `now` (expiry at or before it), soonest first.
    pub fn expired(&self, now: i64) -> Vec<i64> {
        let mut due: Vec<(i64, i64)> = self
            .by_id
            .values()
            .filter(|l| l.expiry <= now)
            .map(|l| (l.expiry, l.id))
            .collect();
        due.sort_unstable();
        due.into_iter().map(|(_, id)| id).collect()
    }

    /// A lease read back from a backend file: no keys yet, and no expiry
    /// until a leader promotes it.
    pub(crate) fn restore(&mut self, id: i64, ttl: i64) {
        self.by_id.insert(
            id,
            Lease {
                id,
                ttl,
                expiry: i64::MAX,
                keys: BTreeSet::new(),
            },
        );
    }

    pub(crate) fn attach(&mut self, id: i64, key: &[u8]) {
        if let Some(lease) = self.by_id.get_mut(&id) {
            lease.keys.insert(key.to_vec());
        }
    }

    pub(crate) fn detach(&mut self, id: i64, key: &[u8]) {
        if let Some(lease) = self.by_id.get_mut(&id) {
            lease.keys.remove(key);
        }
    }
}

impl Keyspace {
    /// `LeaseGrant` at `now` (Unix nanoseconds). `id` 0 gets an id chosen
    /// here; etcd's proposer picks one instead, so a server may as well.
    pub fn lease_grant(&mut self, req: &LeaseGrantRequest, now: i64) -> Result<LeaseGrantResponse> {
        let min_ttl = self.config.min_lease_ttl;
        let lease = self.leases.grant(req.id, req.ttl, min_ttl, now)?;
        Ok(LeaseGrantResponse {
            header: ResponseHeader::at(self.revision),
            id: lease.id,
            ttl: lease.ttl,
            error: String::new(),
        })
    }

    /// `LeaseRevoke`, also what an expiry proposes: deletes every attached
    /// key in key order, all in one revision (none if it had no keys).
    pub fn lease_revoke(&mut self, id: i64) -> Result<Applied<LeaseRevokeResponse>> {
        let lease = self.leases.remove(id).ok_or(Error::LeaseNotFound)?;
        let mut w = self.writer();
        for key in &lease.keys {
            let current = self.keys.get(key).and_then(|h| h.latest()).cloned();
            if let Some(kv) = current {
                self.write_delete(&mut w, &kv);
            }
        }
        let Applied { events, .. } = self.finish(w, ());
        Ok(Applied {
            response: LeaseRevokeResponse {
                header: ResponseHeader::at(self.revision),
            },
            events,
        })
    }

    /// A keep-alive at `now`: the lease expires its TTL after `now`.
    pub fn lease_keep_alive(&mut self, id: i64, now: i64) -> Result<LeaseKeepAliveResponse> {
        let ttl = self.leases.renew(id, now)?;
        Ok(LeaseKeepAliveResponse {
            header: ResponseHeader::at(self.revision),
            id,
            ttl,
        })
    }

    /// `LeaseTimeToLive` at `now`.
    pub fn lease_time_to_live(
        &self,
        req: &LeaseTimeToLiveRequest,
        now: i64,
    ) -> LeaseTimeToLiveResponse {
        let header = ResponseHeader::at(self.revision);
        match self.leases.get(req.id) {
            None => LeaseTimeToLiveResponse {
                header,
                id: req.id,
                ttl: -1,
                ..Default::default()
            },
            Some(lease) => LeaseTimeToLiveResponse {
                header,
                id: lease.id,
                ttl: lease.remaining_secs(now),
                granted_ttl: lease.ttl,
                keys: if req.keys {
                    lease.keys.iter().cloned().collect()
                } else {
                    Vec::new()
                },
            },
        }
    }

    /// `LeaseLeases`.
    pub fn lease_leases(&self) -> LeaseLeasesResponse {
        LeaseLeasesResponse {
            header: ResponseHeader::at(self.revision),
            leases: self
                .leases
                .iter()
                .map(|l| LeaseStatus { id: l.id })
                .collect(),
        }
    }

    /// The leases whose expiry is at or before `now`, soonest first: what a
    /// leader proposes to revoke.
    pub fn expired_leases(&self, now: i64) -> Vec<i64> {
        self.leases.expired(now)
    }

    /// What a new leader applies (etcd's `Promote`): every lease gets its
    /// full TTL again, plus `extend_nanos`, from `now`.
    pub fn lease_promote(&mut self, now: i64, extend_nanos: i64) {
        self.leases.promote(now, extend_nanos);
    }
}
