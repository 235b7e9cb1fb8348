//! The v2 handlers against fakes of the contracts: a `Kv` that is the pure
//! store behind a lock (no raft), the watch hub fed by that store, and a
//! `Cluster` with fixed members. The trait seam is the test seam: what the
//! gateway answers is checked without consensus, sockets or processes.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use concord_api::{
    ApiError, Cluster, EventSink, Kv, KvResponse, LeaderStats, Member, MembershipError,
    RaftPosition, RaftStats, ReadRequest, SelfStats, Watch,
};
use concord_gateway::advertise::AdvertisedClientUrls;
use concord_gateway::GatewayState;
use concord_store::store::Applied;
use concord_store::{Command, Store, StoreStats};
use concord_watch::WatchHub;
use parking_lot::Mutex;
use tower::ServiceExt;

const NOW: i64 = 1_764_000_000_000_000_000;

/// The store itself as the `Kv`, publishing every event to the hub.
struct FakeKv {
    store: Mutex<Store>,
    hub: Arc<WatchHub>,
}

#[async_trait]
impl Kv for FakeKv {
    async fn write(&self, cmd: Command) -> Result<KvResponse, ApiError> {
        let mut store = self.store.lock();
        match store.apply(&cmd, NOW) {
            Applied::Write(Ok(mut event)) => {
                event.etcd_index = store.index();
                self.hub.publish(Arc::new(event.clone()));
                Ok(KvResponse {
                    event,
                    raft: self.raft_position(),
                })
            }
            Applied::Write(Err(e)) => Err(ApiError::Store(e)),
            Applied::Expired(_) => Err(ApiError::Internal("unexpected expiry".into())),
        }
    }

    async fn read(&self, req: ReadRequest) -> Result<KvResponse, ApiError> {
        let event = self
            .store
            .lock()
            .get(&req.key, req.recursive, req.sorted, NOW)?;
        Ok(KvResponse {
            event,
            raft: self.raft_position(),
        })
    }

    fn store_index(&self) -> u64 {
        self.store.lock().index()
    }

    fn raft_position(&self) -> RaftPosition {
        RaftPosition { index: 7, term: 2 }
    }

    async fn store_stats(&self) -> Result<StoreStats, ApiError> {
        Ok(self.store.lock().stats())
    }
}

/// Two members; this one follows, or leads with `leads` (also its stats).
struct FakeCluster {
    leads: bool,
}

fn member(id: &str, name: &str, port: u16) -> Member {
    Member {
        id: id.into(),
        name: name.into(),
        peer_urls: vec![format!("http://127.0.0.1:{}", port + 1)],
        client_urls: vec![format!("http://127.0.0.1:{port}")],
    }
}

#[async_trait]
impl Cluster for FakeCluster {
    fn cluster_id(&self) -> String {
        "cdf818194e3a8c32".into()
    }
    async fn members(&self) -> Result<Vec<Member>, ApiError> {
        Ok(vec![
            member("8e9e05c52164694d", "a", 2379),
            member("91bc3c398fb3c146", "b", 2479),
        ])
    }
    async fn leader(&self) -> Result<Option<Member>, ApiError> {
        Ok(Some(member("8e9e05c52164694d", "a", 2379)))
    }
    async fn add_member(&self, _: Vec<String>) -> Result<Member, MembershipError> {
        Err(MembershipError::PeerUrlExists)
    }
    async fn remove_member(&self, id: u64) -> Result<(), MembershipError> {
        Err(MembershipError::NotFound(format!("{id:x}")))
    }
    async fn update_member(&self, _: u64, _: Vec<String>) -> Result<(), MembershipError> {
        Ok(())
    }
    async fn healthy(&self) -> bool {
        true
    }
}

#[async_trait]
impl RaftStats for FakeCluster {
    async fn self_stats(&self) -> Result<SelfStats, ApiError> {
        Ok(SelfStats {
            name: "a".into(),
            id: 0x8e9e05c52164694d,
            ..Default::default()
        })
    }
    async fn leader_stats(&self) -> Result<Option<LeaderStats>, ApiError> {
        Ok(self.leads.then(|| LeaderStats {
            leader: "8e9e05c52164694d".into(),
            followers: Default::default(),
        }))
    }
}

fn gateway(leads: bool) -> axum::Router {
    gateway_over(leads, |c| c)
}

/// The gateway over the fake cluster as `wrap` presents it.
fn gateway_over(
    leads: bool,
    wrap: impl FnOnce(Arc<dyn Cluster>) -> Arc<dyn Cluster>,
) -> axum::Router {
    let hub = Arc::new(WatchHub::new(0));
    let kv: Arc<dyn Kv> = Arc::new(FakeKv {
        store: Mutex::new(Store::new()),
        hub: hub.clone(),
    });
    let watch: Arc<dyn Watch> = hub;
    let fake = Arc::new(FakeCluster { leads });
    let cluster: Arc<dyn Cluster> = wrap(fake.clone());
    let stats: Arc<dyn RaftStats> = fake;
    concord_gateway::router(GatewayState {
        kv,
        watch,
        cluster,
        stats,
    })
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    form: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if form.is_some() {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    let req = req
        .body(Body::from(form.unwrap_or_default().to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn keys_answer_as_etcd_with_its_headers() {
    let app = gateway(false);
    let (s, h, b) = call(&app, "PUT", "/v2/keys/a", Some("value=1")).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(
        b.trim_end(),
        r#"{"action":"set","node":{"key":"/a","value":"1","modifiedIndex":1,"createdIndex":1}}"#
    );
    assert_eq!(h["x-etcd-index"], "1");
    assert_eq!(h["x-raft-index"], "7");
    assert_eq!(h["x-raft-term"], "2");
    assert_eq!(h["x-etcd-cluster-id"], "cdf818194e3a8c32");

    let (s, _, b) = call(&app, "PUT", "/v2/keys/a?prevValue=2", Some("value=3")).await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED, "{b}");
    assert_eq!(
        b.trim_end(),
        r#"{"errorCode":101,"message":"Compare failed","cause":"[2 != 1]","index":1}"#
    );
    let (s, _, b) = call(&app, "GET", "/v2/keys/nope", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        b.trim_end(),
        r#"{"errorCode":100,"message":"Key not found","cause":"/nope","index":1}"#
    );
    let (s, _, b) = call(&app, "PUT", "/v2/keys/t?ttl=abc", Some("value=1")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains(r#""errorCode":202"#), "{b}");
}

#[tokio::test]
async fn a_waiting_watch_gets_the_next_write() {
    let app = gateway(false);
    call(&app, "PUT", "/v2/keys/w", Some("value=0")).await;
    let waiting = {
        let app = app.clone();
        tokio::spawn(
            async move { call(&app, "GET", "/v2/keys/w?wait=true&waitIndex=2", None).await },
        )
    };
    let (s, _, _) = call(&app, "PUT", "/v2/keys/w", Some("value=1")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, b) = waiting.await.unwrap();
    assert_eq!(s, StatusCode::OK);
    assert!(
        b.contains(r#""value":"1""#) && b.contains(r#""action":"set""#),
        "{b}"
    );
}

#[tokio::test]
async fn members_and_stats_come_from_the_cluster_contract() {
    let app = gateway(false);
    let (s, _, b) = call(&app, "GET", "/v2/members", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.starts_with(r#"{"members":[{"id":"8e9e05c52164694d","name":"a","peerURLs":["http://127.0.0.1:2380"],"clientURLs":["http://127.0.0.1:2379"]}"#), "{b}");
    let (s, _, b) = call(&app, "GET", "/v2/stats/leader", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(b.trim_end(), r#"{"message":"not current leader"}"#);
    let (s, _, b) = call(&gateway(true), "GET", "/v2/stats/leader", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains(r#""leader":"8e9e05c52164694d""#), "{b}");
    let (s, _, b) = call(&app, "DELETE", "/v2/members/abc", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, _, b) = call(&app, "GET", "/v2/stats/self", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains(r#""state":"StateFollower""#), "{b}");
}

/// The fake's two members and a third one added but not started yet (no
/// name, no client URLs).
struct WithUnstarted(Arc<dyn Cluster>);

#[async_trait]
impl Cluster for WithUnstarted {
    fn cluster_id(&self) -> String {
        self.0.cluster_id()
    }
    async fn members(&self) -> Result<Vec<Member>, ApiError> {
        let mut ms = self.0.members().await?;
        ms.push(Member {
            id: "a8266ecf031671f3".into(),
            name: String::new(),
            peer_urls: vec!["http://127.0.0.1:2580".into()],
            client_urls: Vec::new(),
        });
        Ok(ms)
    }
    async fn leader(&self) -> Result<Option<Member>, ApiError> {
        self.0.leader().await
    }
    async fn add_member(&self, urls: Vec<String>) -> Result<Member, MembershipError> {
        self.0.add_member(urls).await
    }
    async fn remove_member(&self, id: u64) -> Result<(), MembershipError> {
        self.0.remove_member(id).await
    }
    async fn update_member(&self, id: u64, urls: Vec<String>) -> Result<(), MembershipError> {
        self.0.update_member(id, urls).await
    }
    async fn healthy(&self) -> bool {
        self.0.healthy().await
    }
}

/// A gateway given its advertised client URLs reports them as every
/// started member's, in /v2/members, /v2/members/leader and /v2/machines;
/// an unstarted member keeps none; the rest of each member is the
/// cluster's.
#[tokio::test]
async fn advertised_client_urls_stand_for_the_members_client_urls() {
    let urls = vec![
        "http://127.0.0.1:2679".to_string(),
        "http://127.0.0.1:2779".to_string(),
    ];
    let app = gateway_over(false, |c| {
        Arc::new(AdvertisedClientUrls::new(
            Arc::new(WithUnstarted(c)),
            urls.clone(),
        ))
    });
    let (s, _, b) = call(&app, "GET", "/v2/members", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let gw = r#"["http://127.0.0.1:2679","http://127.0.0.1:2779"]"#;
    assert_eq!(
        b.trim_end(),
        format!(
            r#"{{"members":[{{"id":"8e9e05c52164694d","name":"a","peerURLs":["http://127.0.0.1:2380"],"clientURLs":{gw}}},{{"id":"91bc3c398fb3c146","name":"b","peerURLs":["http://127.0.0.1:2480"],"clientURLs":{gw}}},{{"id":"a8266ecf031671f3","name":"","peerURLs":["http://127.0.0.1:2580"],"clientURLs":[]}}]}}"#
        )
    );
    let (s, _, b) = call(&app, "GET", "/v2/members/leader", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b.trim_end(),
        format!(
            r#"{{"id":"8e9e05c52164694d","name":"a","peerURLs":["http://127.0.0.1:2380"],"clientURLs":{gw}}}"#
        )
    );
    let (s, _, b) = call(&app, "GET", "/v2/machines", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b,
        "http://127.0.0.1:2679, http://127.0.0.1:2679, http://127.0.0.1:2779, http://127.0.0.1:2779"
    );
    // Without the wrapper, the members' own URLs (what compose relies on).
    let (_, _, b) = call(&gateway(false), "GET", "/v2/machines", None).await;
    assert_eq!(b, "http://127.0.0.1:2379, http://127.0.0.1:2479");
}
