//! The fakes of the contracts the gateway is written against, and the
//! client the tests send requests with. A fake is the contract's seam, not
//! a mocked network: [`FakeKv`] is the pure store behind a lock (no raft),
//! [`FakeWatch`] the real watch hub fed by that store, [`FakeCluster`] a
//! member list with etcd's membership rules, which also gives the member's
//! raft statistics. Each can be told to fail its next call, as a member
//! that lost its leader or timed out would.
//!
//! The store starts at index 3 and the raft index runs one ahead of it, as
//! in a fresh one-member etcd 3.4, so that the answers recorded from etcd
//! apply as they are.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use concord_api::{
    ApiError, Cluster, EventSink, FollowerStats, KnownLeader, Kv, KvResponse, LeaderStats, Member,
    MembershipError, RaftPosition, RaftRole, RaftStats, ReadRequest, SelfStats, Watch,
    WatchRequest, Watcher,
};
use concord_gateway::GatewayState;
use concord_store::store::Applied;
use concord_store::{Command, Store, StoreStats};
use concord_watch::WatchHub;
use parking_lot::Mutex;
use tower::ServiceExt;

/// The fakes' clock (2025-11-24T16:00:00Z): every write and read happens
/// at this instant, so TTLs and expirations are exact.
pub const NOW: i64 = 1_764_000_000_000_000_000;
/// A fresh etcd's store index (its members and version keys).
pub const START_INDEX: u64 = 3;
/// The raft term of every answer.
pub const TERM: u64 = 2;
pub const CLUSTER_ID: &str = "cdf818194e3a8c32";
/// The member the gateway is attached to, and the other one.
pub const ME: &str = "8e9e05c52164694d";
pub const OTHER: &str = "91bc3c398fb3c146";
/// The ID the fake gives the next member added.
pub const ADDED: &str = "a8266ecf031671f3";

/// The store itself as the `Kv`, publishing every event to the hub.
pub struct FakeKv {
    store: Mutex<Store>,
    hub: Arc<WatchHub>,
    fail: Mutex<Option<ApiError>>,
}

impl FakeKv {
    /// The next call (read, write or stats) fails with `e`.
    pub fn fail_next(&self, e: ApiError) {
        *self.fail.lock() = Some(e);
    }

    fn failure(&self) -> Result<(), ApiError> {
        self.fail.lock().take().map_or(Ok(()), Err)
    }
}

#[async_trait]
impl Kv for FakeKv {
    async fn write(&self, cmd: Command) -> Result<KvResponse, ApiError> {
        self.failure()?;
        let mut store = self.store.lock();
        match store.apply(&cmd, NOW) {
            Applied::Write(Ok(mut event)) => {
                event.etcd_index = store.index();
                self.hub.publish(Arc::new(event.clone()));
                Ok(KvResponse {
                    event,
                    raft: raft_at(store.index()),
                })
            }
            Applied::Write(Err(e)) => Err(ApiError::Store(e)),
            Applied::Expired(_) => Err(ApiError::Internal("unexpected expiry".into())),
        }
    }

    async fn read(&self, req: ReadRequest) -> Result<KvResponse, ApiError> {
        // The v2 auth check reads the internal namespace before every keys
        // request: the failure is meant for the request's own call.
        if !concord_store::internal::is_internal(&req.key) {
            self.failure()?;
        }
        let store = self.store.lock();
        let event = store.get(&req.key, req.recursive, req.sorted, NOW)?;
        Ok(KvResponse {
            event,
            raft: raft_at(store.index()),
        })
    }

    fn store_index(&self) -> u64 {
        self.store.lock().index()
    }

    fn raft_position(&self) -> RaftPosition {
        raft_at(self.store_index())
    }

    async fn store_stats(&self) -> Result<StoreStats, ApiError> {
        self.failure()?;
        Ok(self.store.lock().stats())
    }
}

/// The raft position of a one-member etcd whose store is at `store_index`.
fn raft_at(store_index: u64) -> RaftPosition {
    RaftPosition {
        index: store_index + 1,
        term: TERM,
    }
}

/// The watch hub the store publishes to.
pub struct FakeWatch {
    hub: Arc<WatchHub>,
    fail: Mutex<Option<ApiError>>,
}

impl FakeWatch {
    /// The next watch fails with `e`.
    pub fn fail_next(&self, e: ApiError) {
        *self.fail.lock() = Some(e);
    }
}

#[async_trait]
impl Watch for FakeWatch {
    async fn watch(&self, req: WatchRequest) -> Result<Watcher, ApiError> {
        if let Some(e) = self.fail.lock().take() {
            return Err(e);
        }
        self.hub.watch(req).await
    }

    async fn watcher_count(&self) -> Result<u64, ApiError> {
        self.hub.watcher_count().await
    }
}

/// A member as the fake lists it; `port` is its client port, the peer
/// port the next one.
pub fn member(id: &str, name: &str, port: u16) -> Member {
    Member {
        id: id.into(),
        name: name.into(),
        peer_urls: vec![format!("http://127.0.0.1:{}", port + 1)],
        client_urls: vec![format!("http://127.0.0.1:{port}")],
    }
}

/// Two started members ([`ME`] leads); member changes as etcd's
/// `RaftCluster` checks them: a peer URL in use is refused, a removed ID
/// stays removed.
pub struct FakeCluster {
    members: Mutex<Vec<Member>>,
    removed: Mutex<Vec<u64>>,
    leads: Mutex<bool>,
    has_leader: Mutex<bool>,
    healthy: Mutex<bool>,
    fail: Mutex<Option<MembershipError>>,
}

impl FakeCluster {
    /// This member leads (`true`, the default) or follows.
    pub fn set_leads(&self, leads: bool) {
        *self.leads.lock() = leads;
    }

    /// Whether the cluster has a leader at all (an election going on).
    pub fn set_has_leader(&self, has: bool) {
        *self.has_leader.lock() = has;
    }

    pub fn set_healthy(&self, healthy: bool) {
        *self.healthy.lock() = healthy;
    }

    /// The next member change fails with `e`.
    pub fn fail_next(&self, e: MembershipError) {
        *self.fail.lock() = Some(e);
    }

    fn failure(&self) -> Result<(), MembershipError> {
        self.fail.lock().take().map_or(Ok(()), Err)
    }

    fn url_in_use(&self, urls: &[String], except: Option<&str>) -> bool {
        self.members
            .lock()
            .iter()
            .any(|m| Some(m.id.as_str()) != except && m.peer_urls.iter().any(|u| urls.contains(u)))
    }

    fn known(&self, id: u64) -> Result<(), MembershipError> {
        let hex = format!("{id:x}");
        if self.removed.lock().contains(&id) {
            return Err(MembershipError::Removed(hex));
        }
        if !self.members.lock().iter().any(|m| m.id == hex) {
            return Err(MembershipError::NotFound(hex));
        }
        Ok(())
    }
}

#[async_trait]
impl Cluster for FakeCluster {
    fn cluster_id(&self) -> String {
        CLUSTER_ID.into()
    }

    async fn members(&self) -> Result<Vec<Member>, ApiError> {
        Ok(self.members.lock().clone())
    }

    async fn leader(&self) -> Result<Option<Member>, ApiError> {
        let members = self.members.lock();
        Ok(self
            .has_leader
            .lock()
            .then(|| members.iter().find(|m| m.id == ME).cloned())
            .flatten())
    }

    async fn add_member(&self, peer_urls: Vec<String>) -> Result<Member, MembershipError> {
        self.failure()?;
        if self.url_in_use(&peer_urls, None) {
            return Err(MembershipError::PeerUrlExists);
        }
        let m = Member {
            id: ADDED.into(),
            name: String::new(),
            peer_urls,
            client_urls: Vec::new(),
        };
        self.members.lock().push(m.clone());
        Ok(m)
    }

    async fn remove_member(&self, id: u64) -> Result<(), MembershipError> {
        self.failure()?;
        self.known(id)?;
        let hex = format!("{id:x}");
        self.members.lock().retain(|m| m.id != hex);
        self.removed.lock().push(id);
        Ok(())
    }

    async fn update_member(&self, id: u64, peer_urls: Vec<String>) -> Result<(), MembershipError> {
        self.failure()?;
        self.known(id)?;
        let hex = format!("{id:x}");
        if self.url_in_use(&peer_urls, Some(&hex)) {
            return Err(MembershipError::PeerUrlExists);
        }
        for m in self.members.lock().iter_mut().filter(|m| m.id == hex) {
            m.peer_urls = peer_urls.clone();
        }
        Ok(())
    }

    async fn healthy(&self) -> bool {
        *self.healthy.lock()
    }
}

/// The fake's start (2025-11-24T16:00:00.12Z) and when it saw its leader.
pub const STARTED: i64 = NOW - 3_600_000_000_000 + 120_000_000;
pub const LEADER_SINCE: i64 = NOW - 3_599_000_000_000;

#[async_trait]
impl RaftStats for FakeCluster {
    async fn self_stats(&self) -> Result<SelfStats, ApiError> {
        let leads = *self.leads.lock();
        Ok(SelfStats {
            name: "a".into(),
            id: u64::from_str_radix(ME, 16).unwrap(),
            role: if leads {
                RaftRole::Leader
            } else {
                RaftRole::Follower
            },
            start_time: STARTED,
            leader: Some(KnownLeader {
                id: u64::from_str_radix(ME, 16).unwrap(),
                since: LEADER_SINCE,
                uptime_nanos: 62_500_000_000,
            }),
            recv_append_request_cnt: 0,
            send_append_request_cnt: 12,
        })
    }

    async fn leader_stats(&self) -> Result<Option<LeaderStats>, ApiError> {
        let mut followers = std::collections::BTreeMap::new();
        let mut f = FollowerStats::default();
        f.latency.current = 0.5;
        f.latency.average = 0.25;
        f.latency.standard_deviation = 0.125;
        f.latency.minimum = 0.0625;
        f.latency.maximum = 1.5;
        f.counts.success = 42;
        f.counts.fail = 1;
        followers.insert(OTHER.to_string(), f);
        Ok(self.leads.lock().then(|| LeaderStats {
            leader: ME.into(),
            followers,
        }))
    }
}

/// A gateway over the fakes, and the fakes, to change or fail.
pub struct Fixture {
    pub app: axum::Router,
    pub kv: Arc<FakeKv>,
    pub watch: Arc<FakeWatch>,
    pub cluster: Arc<FakeCluster>,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::over(|c| c)
    }

    /// The gateway over the fake cluster as `wrap` presents it.
    pub fn over(wrap: impl FnOnce(Arc<dyn Cluster>) -> Arc<dyn Cluster>) -> Fixture {
        let hub = Arc::new(WatchHub::new(START_INDEX));
        let kv = Arc::new(FakeKv {
            store: Mutex::new(Store::from_nodes(START_INDEX, &[]).unwrap()),
            hub: hub.clone(),
            fail: Mutex::new(None),
        });
        let watch = Arc::new(FakeWatch {
            hub,
            fail: Mutex::new(None),
        });
        let cluster = Arc::new(FakeCluster {
            members: Mutex::new(vec![member(ME, "a", 2379), member(OTHER, "b", 2479)]),
            removed: Mutex::new(Vec::new()),
            leads: Mutex::new(true),
            has_leader: Mutex::new(true),
            healthy: Mutex::new(true),
            fail: Mutex::new(None),
        });
        let app = concord_gateway::router(GatewayState {
            kv: kv.clone(),
            watch: watch.clone(),
            cluster: wrap(cluster.clone()),
            stats: cluster.clone(),
        });
        Fixture {
            app,
            kv,
            watch,
            cluster,
        }
    }

    /// Sends a request with `body` of `content_type` (none: no header).
    pub async fn send(
        &self,
        method: &str,
        uri: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req.body(Body::from(body.to_string())).unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// A request with a form body (as curl -d sends it), or none if empty.
    pub async fn form(&self, method: &str, uri: &str, form: &str) -> Answer {
        let ct = (!form.is_empty()).then_some("application/x-www-form-urlencoded");
        self.send(method, uri, ct, form).await
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.send("GET", uri, None, "").await
    }

    /// Starts a watch: answers once the gateway has registered it and sent
    /// its headers, before any event.
    pub async fn watch(&self, uri: &str) -> Watching {
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        Watching {
            head: Answer {
                status: resp.status().as_u16(),
                headers: resp.headers().clone(),
                body: String::new(),
            },
            events: Box::pin(resp.into_body().into_data_stream()),
        }
    }

    /// Sends each request in turn, checking each answer as [`Answer::is`].
    pub async fn replay(&self, steps: &[Step<'_>]) {
        for &(method, uri, form, status, etcd_index, json) in steps {
            let answer = self.form(method, uri, form).await;
            if let Err(e) = answer.check(status, etcd_index, json) {
                panic!("{method} {uri} {form:?}:\n{e}");
            }
        }
    }

    /// A members request with a JSON body.
    pub async fn json(&self, method: &str, uri: &str, body: &str) -> Answer {
        self.send(method, uri, Some("application/json"), body).await
    }
}

/// One request and etcd's answer to it: method, URI, form body, status,
/// `X-Etcd-Index` and the JSON (`""` for HEAD).
pub type Step<'a> = (&'a str, &'a str, &'a str, u16, u64, &'a str);

/// A watch under way: its headers, then its events as they come.
pub struct Watching {
    pub head: Answer,
    events: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<bytes::Bytes, axum::Error>> + Send>,
    >,
}

impl Watching {
    /// The next event's line (without its newline), or `None` once the
    /// watch has ended.
    pub async fn next(&mut self) -> Option<String> {
        use futures_util::StreamExt;
        let chunk = self.events.next().await?.unwrap();
        let line = String::from_utf8(chunk.to_vec()).unwrap();
        Some(
            line.strip_suffix('\n')
                .expect("one event per line")
                .to_string(),
        )
    }

    /// A long poll's one event (it ends after it).
    pub async fn event(mut self) -> String {
        let line = self.next().await.expect("an event");
        assert_eq!(self.next().await, None, "a long poll ends after one event");
        line
    }
}

/// One answer of the gateway.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// A `/v2/keys` answer as etcd gives it: `status`, `X-Etcd-Index`,
    /// the cluster ID, and `json` and a newline (nothing for HEAD: `""`).
    #[track_caller]
    pub fn is(&self, status: u16, etcd_index: u64, json: &str) -> &Answer {
        if let Err(e) = self.check(status, etcd_index, json) {
            panic!("{e}");
        }
        self
    }

    fn check(&self, status: u16, etcd_index: u64, json: &str) -> Result<(), String> {
        let body = if json.is_empty() {
            String::new()
        } else {
            format!("{json}\n")
        };
        let got = (
            self.status,
            self.body.as_str(),
            self.header("x-etcd-index"),
            self.header("content-type"),
            self.header("x-etcd-cluster-id"),
        );
        let index = etcd_index.to_string();
        let want = (
            status,
            body.as_str(),
            Some(index.as_str()),
            Some("application/json"),
            Some(CLUSTER_ID),
        );
        if got == want {
            Ok(())
        } else {
            Err(format!("got  {got:?}\nwant {want:?}"))
        }
    }

    /// The raft position headers of a keys answer that is not an error.
    #[track_caller]
    pub fn raft(&self, index: u64) -> &Answer {
        assert_eq!(self.header("x-raft-index"), Some(&*index.to_string()));
        assert_eq!(self.header("x-raft-term"), Some(&*TERM.to_string()));
        self
    }

    /// An answer of the members or stats API: `{"message":...}` JSON, no
    /// newline.
    #[track_caller]
    pub fn message(&self, status: u16, message: &str) -> &Answer {
        let body = serde_json::json!({ "message": message }).to_string();
        self.exactly(status, "application/json", &body)
    }

    /// `status`, `body`, and `content_type` (`""`: none).
    #[track_caller]
    pub fn exactly(&self, status: u16, content_type: &str, body: &str) -> &Answer {
        assert_eq!((self.status, self.body.as_str()), (status, body));
        let expected = (!content_type.is_empty()).then_some(content_type);
        assert_eq!(self.header("content-type"), expected);
        self
    }

    /// Go's `http.Error` answer (plain text, not to be sniffed).
    #[track_caller]
    pub fn go_error(&self, status: u16, text: &str) -> &Answer {
        self.exactly(status, "text/plain; charset=utf-8", &format!("{text}\n"));
        assert_eq!(self.header("x-content-type-options"), Some("nosniff"));
        self
    }

    /// Go's 405 with the methods the resource allows.
    #[track_caller]
    pub fn not_allowed(&self, allow: &str) -> &Answer {
        self.go_error(405, "Method Not Allowed");
        assert_eq!(self.header("allow"), Some(allow));
        self
    }
}
