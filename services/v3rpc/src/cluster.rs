//! etcd's `Cluster` service (v3rpc's `member.go`) over the member registry
//! (`concord_api::Cluster`): `MemberList`, `MemberAdd`, `MemberRemove`,
//! `MemberUpdate`. Concord's members are all voters: a learner cannot be
//! added (etcd's answer when the cluster holds as many learners as it may,
//! here none) and `MemberPromote` finds no learner to promote.

use std::sync::Arc;

use concord_api::v3::KeyspaceV3;
use concord_api::Cluster;
use concord_rpc::etcd::etcdserverpb as pb;
use tonic::{Request, Response, Status};

use super::error::{status, V3Error};
use super::header::without_revision;

/// The `Cluster` service.
pub struct ClusterService {
    keyspace: Arc<dyn KeyspaceV3>,
    cluster: Arc<dyn Cluster>,
}

impl ClusterService {
    pub fn new(keyspace: Arc<dyn KeyspaceV3>, cluster: Arc<dyn Cluster>) -> Self {
        ClusterService { keyspace, cluster }
    }

    fn header(&self) -> Option<pb::ResponseHeader> {
        Some(without_revision(self.keyspace.header()))
    }

    async fn members(&self) -> Result<Vec<pb::Member>, Status> {
        let members = self.cluster.members().await.map_err(status)?;
        Ok(members.into_iter().map(member).collect())
    }
}

/// The registry's member (hex id) as etcd's protobuf member.
fn member(m: concord_api::Member) -> pb::Member {
    pb::Member {
        id: parse_id(&m.id).unwrap_or_default(),
        name: m.name,
        peer_ur_ls: m.peer_urls,
        client_ur_ls: m.client_urls,
        is_learner: false,
    }
}

fn parse_id(hex: &str) -> Option<u64> {
    u64::from_str_radix(hex, 16).ok()
}

/// etcd's `types.NewURLs` on peer URLs: each parses, with a scheme etcd
/// knows, a `host:port` and no path.
fn check_urls(urls: &[String]) -> Result<Vec<String>, V3Error> {
    if urls.is_empty() {
        return Err(V3Error::MemberBadUrls);
    }
    let mut out = Vec::with_capacity(urls.len());
    for u in urls {
        let u = u.trim();
        let (scheme, rest) = u.split_once("://").ok_or(V3Error::MemberBadUrls)?;
        if !matches!(scheme, "http" | "https" | "unix" | "unixs") {
            return Err(V3Error::MemberBadUrls);
        }
        let host_port = rest.strip_suffix('/').unwrap_or(rest);
        if host_port.contains('/') || host_port.contains('?') || host_port.contains('#') {
            return Err(V3Error::MemberBadUrls);
        }
        let (_, port) = host_port.rsplit_once(':').ok_or(V3Error::MemberBadUrls)?;
        if port.parse::<u16>().is_err() {
            return Err(V3Error::MemberBadUrls);
        }
        out.push(u.to_string());
    }
    out.sort();
    Ok(out)
}

#[tonic::async_trait]
impl pb::cluster_server::Cluster for ClusterService {
    async fn member_add(
        &self,
        request: Request<pb::MemberAddRequest>,
    ) -> Result<Response<pb::MemberAddResponse>, Status> {
        let req = request.into_inner();
        let urls = check_urls(&req.peer_ur_ls).map_err(status)?;
        super::access::require_admin(self.keyspace.as_ref()).await?;
        if req.is_learner {
            return Err(status(V3Error::TooManyLearners));
        }
        let added = self
            .cluster
            .add_member(urls.clone())
            .await
            .map_err(status)?;
        let members = self.members().await?;
        Ok(Response::new(pb::MemberAddResponse {
            header: self.header(),
            member: Some(pb::Member {
                id: parse_id(&added.id).unwrap_or_default(),
                peer_ur_ls: urls,
                ..Default::default()
            }),
            members,
        }))
    }

    async fn member_remove(
        &self,
        request: Request<pb::MemberRemoveRequest>,
    ) -> Result<Response<pb::MemberRemoveResponse>, Status> {
        let id = request.into_inner().id;
        super::access::require_admin(self.keyspace.as_ref()).await?;
        self.cluster.remove_member(id).await.map_err(status)?;
        let members = self.members().await?;
        Ok(Response::new(pb::MemberRemoveResponse {
            header: self.header(),
            members,
        }))
    }

    async fn member_update(
        &self,
        request: Request<pb::MemberUpdateRequest>,
    ) -> Result<Response<pb::MemberUpdateResponse>, Status> {
        let req = request.into_inner();
        let urls = check_urls(&req.peer_ur_ls).map_err(status)?;
        super::access::require_admin(self.keyspace.as_ref()).await?;
        self.cluster
            .update_member(req.id, urls)
            .await
            .map_err(status)?;
        let members = self.members().await?;
        Ok(Response::new(pb::MemberUpdateResponse {
            header: self.header(),
            members,
        }))
    }

    async fn member_list(
        &self,
        _request: Request<pb::MemberListRequest>,
    ) -> Result<Response<pb::MemberListResponse>, Status> {
        let members = self.members().await?;
        Ok(Response::new(pb::MemberListResponse {
            header: self.header(),
            members,
        }))
    }

    async fn member_promote(
        &self,
        request: Request<pb::MemberPromoteRequest>,
    ) -> Result<Response<pb::MemberPromoteResponse>, Status> {
        let id = request.into_inner().id;
        super::access::require_admin(self.keyspace.as_ref()).await?;
        let members = self.cluster.members().await.map_err(status)?;
        // No member is a learner: a known one cannot be promoted, an
        // unknown one is not found, as etcd answers each.
        if members.iter().any(|m| parse_id(&m.id) == Some(id)) {
            Err(status(V3Error::MemberNotLearner))
        } else {
            Err(status(V3Error::MemberNotFound))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_urls_checked_as_etcd() {
        assert!(check_urls(&["http://10.0.0.1:2380".into()]).is_ok());
        assert!(check_urls(&[]).is_err());
        assert!(check_urls(&["10.0.0.1:2380".into()]).is_err());
        assert!(check_urls(&["ftp://10.0.0.1:2380".into()]).is_err());
        assert!(check_urls(&["http://10.0.0.1".into()]).is_err());
        assert!(check_urls(&["http://10.0.0.1:2380/path".into()]).is_err());
    }
}
