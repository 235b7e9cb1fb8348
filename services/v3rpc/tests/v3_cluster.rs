//! The `Cluster` service: etcd's errors compared with etcd 3.4 (bad peer
//! URLs, unknown members, promoting a voter), then member changes over the
//! registry and learners refused, on Concord alone.

mod v3_support;

use concord_rpc::etcd::etcdserverpb::{
    MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest,
    MemberUpdateRequest,
};
use v3_support::server::TestServer;
use v3_support::{both, masked, Clients, Outcome};

async fn errors_scenario(c: Clients) -> Vec<Outcome> {
    let mut cl = c.cluster.clone();
    let mut out = Vec::new();
    let list = cl
        .member_list(MemberListRequest {})
        .await
        .unwrap()
        .into_inner();
    let me = &list.members[0];
    out.push(format!(
        "{} member(s), name {}, learner {}",
        list.members.len(),
        me.name,
        me.is_learner
    ));
    for urls in [vec![], vec!["10.0.0.9:2380"], vec!["http://10.0.0.9"]] {
        out.push(masked(
            cl.member_add(MemberAddRequest {
                peer_ur_ls: urls.into_iter().map(String::from).collect(),
                is_learner: false,
            })
            .await,
        ));
    }
    out.push(masked(
        cl.member_remove(MemberRemoveRequest { id: 42 }).await,
    ));
    out.push(masked(
        cl.member_update(MemberUpdateRequest {
            id: 42,
            peer_ur_ls: vec!["http://10.0.0.9:2380".into()],
        })
        .await,
    ));
    out.push(masked(
        cl.member_promote(MemberPromoteRequest { id: 42 }).await,
    ));
    out.push(masked(
        cl.member_promote(MemberPromoteRequest { id: me.id }).await,
    ));
    out
}

#[tokio::test]
async fn cluster_errors_as_etcd() {
    let out = both(errors_scenario).await;
    assert_eq!(out[0], "1 member(s), name default, learner false");
    assert_eq!(
        out[1],
        "error InvalidArgument: etcdserver: given member URLs are invalid"
    );
    assert_eq!(out[4], "error NotFound: etcdserver: member not found");
    assert_eq!(
        out[7],
        "error FailedPrecondition: etcdserver: can only promote a learner member"
    );
}

#[tokio::test]
async fn member_changes_go_to_the_registry() {
    let server = TestServer::start().await;
    let c = Clients::connect(&server.endpoint()).await;
    let mut cl = c.cluster.clone();
    let added = cl
        .member_add(MemberAddRequest {
            peer_ur_ls: vec!["http://10.0.0.2:2380".into()],
            is_learner: false,
        })
        .await
        .unwrap()
        .into_inner();
    let new = added.member.clone().unwrap();
    assert_eq!(new.peer_ur_ls, ["http://10.0.0.2:2380"]);
    assert_eq!(added.members.len(), 2);
    let h = added.header.unwrap();
    assert_eq!((h.revision, h.raft_term), (0, 2), "etcd's cluster header");
    assert!(h.cluster_id != 0 && h.member_id != 0);
    // The same peer URL again.
    let again = cl
        .member_add(MemberAddRequest {
            peer_ur_ls: vec!["http://10.0.0.2:2380".into()],
            is_learner: false,
        })
        .await
        .unwrap_err();
    assert_eq!(again.message(), "etcdserver: Peer URLs already exists");
    // Learners are refused as etcd refuses one too many.
    let learner = cl
        .member_add(MemberAddRequest {
            peer_ur_ls: vec!["http://10.0.0.3:2380".into()],
            is_learner: true,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (learner.code(), learner.message()),
        (
            tonic::Code::FailedPrecondition,
            "etcdserver: too many learner members in cluster"
        )
    );
    let updated = cl
        .member_update(MemberUpdateRequest {
            id: new.id,
            peer_ur_ls: vec!["http://10.0.0.4:2380".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(updated
        .members
        .iter()
        .any(|m| m.id == new.id && m.peer_ur_ls == ["http://10.0.0.4:2380"]));
    let removed = cl
        .member_remove(MemberRemoveRequest { id: new.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(removed.members.len(), 1);
}
