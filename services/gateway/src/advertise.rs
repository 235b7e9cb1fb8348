//! # The client URLs a gateway hands out
//!
//! Clients that sync the member list (etcdctl v2, `concordctl` without
//! `--no-sync`) read `/v2/members` and then talk to the members' client
//! URLs. In the split deployment those are `concord-consensus` members'
//! URLs, which serve gRPC, not the v2 API: a syncing client would get
//! `malformed HTTP response "\x00\x00\x12\x04..."`. etcd's own v2 proxy
//! never has that problem (its members all speak v2), so a gateway stands
//! in the same place: given the URLs clients reach it by, it reports them
//! as the client URLs of every started member, in `/v2/members`,
//! `/v2/members/leader` and `/v2/machines` (which all read
//! [`Cluster::members`] or [`Cluster::leader`]).
//!
//! [`reported_client_urls`] decides which URLs: the gateway's
//! `--advertise-client-urls` when given (etcd's flag); otherwise its
//! `--listen-client-urls` that name a host (not `0.0.0.0` or `[::]`, which
//! no client can dial); otherwise none, and the members' own client URLs
//! pass through unchanged, which is right when the members advertise a v2
//! front themselves (compose.yaml: `--advertise-client-urls
//! http://front:2379`, gateways listening on 0.0.0.0).
//!
//! A member added but not started yet has no client URLs; it keeps none,
//! so `member list` still shows it as unstarted.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use concord_api::{ApiError, Cluster, LeaderTransferError, Member, MembershipError};

/// The client URLs a gateway reports for the members: `advertise` if not
/// empty, else the `listen` URLs whose host is not unspecified; `None`
/// (report the members' own) when neither gives one.
pub fn reported_client_urls(advertise: &[String], listen: &[String]) -> Option<Vec<String>> {
    let urls: Vec<String> = if advertise.is_empty() {
        listen
            .iter()
            .filter(|u| !unspecified_host(u))
            .cloned()
            .collect()
    } else {
        advertise.to_vec()
    };
    (!urls.is_empty()).then_some(urls)
}

/// Whether `url`'s host is `0.0.0.0`, `[::]` (or `::`): listen-only
/// addresses that no client can dial.
fn unspecified_host(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let hostport = rest.split('/').next().unwrap_or(rest);
    let host = match hostport.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified())
}

/// A [`Cluster`] whose started members report `urls` as their client URLs;
/// everything else is `inner`'s.
pub struct AdvertisedClientUrls {
    inner: Arc<dyn Cluster>,
    urls: Vec<String>,
}

impl AdvertisedClientUrls {
    pub fn new(inner: Arc<dyn Cluster>, urls: Vec<String>) -> AdvertisedClientUrls {
        AdvertisedClientUrls { inner, urls }
    }

    fn rewrite(&self, mut m: Member) -> Member {
        if !m.client_urls.is_empty() {
            m.client_urls = self.urls.clone();
        }
        m
    }
}

#[async_trait]
impl Cluster for AdvertisedClientUrls {
    fn cluster_id(&self) -> String {
        self.inner.cluster_id()
    }

    async fn members(&self) -> Result<Vec<Member>, ApiError> {
        let ms = self.inner.members().await?;
        Ok(ms.into_iter().map(|m| self.rewrite(m)).collect())
    }

    async fn leader(&self) -> Result<Option<Member>, ApiError> {
        Ok(self.inner.leader().await?.map(|m| self.rewrite(m)))
    }

    async fn add_member(&self, peer_urls: Vec<String>) -> Result<Member, MembershipError> {
        // A new member has no client URLs until it starts.
        self.inner.add_member(peer_urls).await
    }

    async fn remove_member(&self, id: u64) -> Result<(), MembershipError> {
        self.inner.remove_member(id).await
    }

    async fn update_member(&self, id: u64, peer_urls: Vec<String>) -> Result<(), MembershipError> {
        self.inner.update_member(id, peer_urls).await
    }

    async fn healthy(&self) -> bool {
        self.inner.healthy().await
    }

    async fn move_leader(&self, target: u64) -> Result<(), LeaderTransferError> {
        self.inner.move_leader(target).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn advertised_urls_win_then_dialable_listen_urls() {
        assert_eq!(
            reported_client_urls(&s(&["http://gw:2379"]), &s(&["http://0.0.0.0:2379"])),
            Some(s(&["http://gw:2379"]))
        );
        assert_eq!(
            reported_client_urls(&[], &s(&["http://127.0.0.1:2679", "http://0.0.0.0:2779"])),
            Some(s(&["http://127.0.0.1:2679"]))
        );
        assert_eq!(
            reported_client_urls(&[], &s(&["http://localhost:2379"])),
            Some(s(&["http://localhost:2379"]))
        );
        assert_eq!(
            reported_client_urls(&[], &s(&["http://[::1]:2379"])),
            Some(s(&["http://[::1]:2379"]))
        );
        assert_eq!(
            reported_client_urls(&[], &s(&["http://0.0.0.0:2379", "http://[::]:2379"])),
            None
        );
        assert_eq!(reported_client_urls(&[], &[]), None);
    }
}
