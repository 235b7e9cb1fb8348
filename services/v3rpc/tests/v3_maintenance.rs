//! The `Maintenance` and `Auth` services and grpc.health.v1: status,
//! alarms, defragment, hashes, leader moves and auth answered as etcd 3.4
//! answers them (compared step for step), and the snapshot stream as etcd
//! sends it (chunks, then the SHA-256 of the whole).

mod v3_support;

use concord_rpc::etcd::etcdserverpb::{
    alarm_request::AlarmAction, AlarmRequest, AuthDisableRequest, AuthEnableRequest,
    AuthRoleAddRequest, AuthRoleDeleteRequest, AuthRoleGetRequest, AuthRoleListRequest,
    AuthUserAddRequest, AuthUserDeleteRequest, AuthUserGetRequest, AuthUserListRequest,
    AuthenticateRequest, DefragmentRequest, HashKvRequest, MoveLeaderRequest, PutRequest,
    SnapshotRequest, StatusRequest,
};
use sha2::{Digest, Sha256};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
use v3_support::server::TestServer;
use v3_support::{both, masked, Clients, Outcome};

async fn maintenance_scenario(c: Clients) -> Vec<Outcome> {
    let mut m = c.maintenance.clone();
    let mut out = Vec::new();
    c.kv.clone()
        .put(PutRequest {
            key: "a".into(),
            value: "1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let s = m.status(StatusRequest {}).await.unwrap().into_inner();
    out.push(format!(
        "version {} leader is self {} learner {} errors {:?} revision {}",
        s.version,
        s.leader == s.header.unwrap().member_id,
        s.is_learner,
        s.errors,
        s.header.unwrap().revision
    ));
    out.push(masked(
        m.alarm(AlarmRequest {
            action: AlarmAction::Get as i32,
            member_id: 0,
            alarm: 0,
        })
        .await,
    ));
    out.push(masked(m.defragment(DefragmentRequest {}).await));
    let h = m
        .hash_kv(HashKvRequest { revision: 0 })
        .await
        .unwrap()
        .into_inner();
    out.push(format!(
        "hashkv revision {} compact {}",
        h.header.unwrap().revision,
        h.compact_revision
    ));
    out.push(masked(m.hash_kv(HashKvRequest { revision: 50 }).await));
    out.push(masked(
        m.move_leader(MoveLeaderRequest { target_id: 42 }).await,
    ));
    let me = s.header.unwrap().member_id;
    out.push(masked(
        m.move_leader(MoveLeaderRequest { target_id: me }).await,
    ));
    // The snapshot's shape: chunks counting down, then a SHA-256 of them.
    let mut stream = m.snapshot(SnapshotRequest {}).await.unwrap().into_inner();
    let mut chunks = Vec::new();
    while let Some(msg) = stream.message().await.unwrap() {
        chunks.push(msg);
    }
    let (sum, data) = chunks.split_last().unwrap();
    let blob: Vec<u8> = data.iter().flat_map(|c| c.blob.clone()).collect();
    let counts_down = data
        .iter()
        .scan(blob.len(), |left, c| {
            *left -= c.blob.len();
            Some(c.remaining_bytes as usize == *left)
        })
        .all(|ok| ok);
    out.push(format!(
        "snapshot: chunks of at most 32 KiB {}, counting down {}, sha256 trailer {}",
        data.iter().all(|c| c.blob.len() <= 32 * 1024),
        counts_down,
        sum.remaining_bytes == 0 && sum.blob == Sha256::digest(&blob).to_vec()
    ));
    out
}

#[tokio::test]
async fn maintenance_answers_as_etcd() {
    let out = both(maintenance_scenario).await;
    assert_eq!(
        out[0],
        "version 3.4.23 leader is self true learner false errors [] revision 2"
    );
    assert!(out[1].contains("alarms: []"), "{}", out[1]);
    assert_eq!(
        out[4],
        "error OutOfRange: etcdserver: mvcc: required revision is a future revision"
    );
    assert_eq!(
        out[5],
        "error FailedPrecondition: etcdserver: bad leader transferee"
    );
    assert!(out[6].starts_with("MoveLeaderResponse"), "{}", out[6]);
    assert_eq!(
        out[7],
        "snapshot: chunks of at most 32 KiB true, counting down true, sha256 trailer true"
    );
}

async fn auth_scenario(c: Clients) -> Vec<Outcome> {
    let mut a = c.auth.clone();
    let name = |n: &str| n.to_string();
    vec![
        masked(
            a.authenticate(AuthenticateRequest {
                name: name("root"),
                password: name("x"),
            })
            .await,
        ),
        masked(a.auth_enable(AuthEnableRequest {}).await),
        masked(a.auth_disable(AuthDisableRequest {}).await),
        masked(a.user_list(AuthUserListRequest {}).await),
        masked(a.role_list(AuthRoleListRequest {}).await),
        masked(a.user_get(AuthUserGetRequest { name: name("bob") }).await),
        masked(a.role_get(AuthRoleGetRequest { role: name("r") }).await),
        masked(
            a.user_delete(AuthUserDeleteRequest { name: name("bob") })
                .await,
        ),
        masked(
            a.role_delete(AuthRoleDeleteRequest { role: name("r") })
                .await,
        ),
        masked(
            a.user_add(AuthUserAddRequest {
                name: String::new(),
                ..Default::default()
            })
            .await,
        ),
        masked(
            a.role_add(AuthRoleAddRequest {
                name: String::new(),
            })
            .await,
        ),
    ]
}

#[tokio::test]
async fn auth_answers_as_etcd_with_auth_disabled() {
    let out = both(auth_scenario).await;
    assert_eq!(
        out[0],
        "error FailedPrecondition: etcdserver: authentication is not enabled"
    );
    assert_eq!(
        out[1],
        "error FailedPrecondition: etcdserver: root user does not exist"
    );
}

#[tokio::test]
async fn health_is_serving() {
    let server = TestServer::start().await;
    let c = Clients::connect(&server.endpoint()).await;
    let status = HealthClient::new(c.channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    // And the local snapshot is the keyspace itself.
    let mut stream = c
        .maintenance
        .clone()
        .snapshot(SnapshotRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut blob = Vec::new();
    while let Some(msg) = stream.message().await.unwrap() {
        if msg.remaining_bytes == 0 && msg.blob.len() == 32 {
            break;
        }
        blob.extend(msg.blob);
    }
    // Padded with NULs to whole sectors: the JSON ends before them.
    let end = blob.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let restored: concord_api::v3::mvcc::Keyspace = serde_json::from_slice(&blob[..end]).unwrap();
    assert_eq!(restored.revision(), 1);
}
