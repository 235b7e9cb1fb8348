//! The discovery service's HTTP face.
//!
//! - `GET /new?size=N` (discovery.etcd.io's endpoint; size 3 by default)
//!   creates a token with `_config/size` = N and answers with its discovery
//!   URL, `<advertise-url>/v2/keys/_etcd/registry/<token>`;
//! - `/v2/keys/_etcd/registry/<token>...` is etcd's v2 keys API, served by
//!   the same gateway code as a member's (`concord-gateway`: every
//!   parameter, etcd's JSON, error bodies, statuses and `X-Etcd-Index`,
//!   `X-Raft-Index`, `X-Raft-Term`, `X-Etcd-Cluster-ID` headers), over the
//!   durable [`Registry`];
//! - `/<token>...` is the same, as discovery.etcd.io's short URLs were;
//! - `/health` and `/version` as on a member; anything else is Go's 404.
//!
//! The list of all tokens (`/v2/keys/_etcd/registry` itself) is not
//! served: a token is its own password.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use concord_api::{
    ApiError, Cluster, KnownLeader, LeaderStats, Member, MembershipError, RaftRole, RaftStats,
    SelfStats,
};
use concord_gateway::error::go_http_error as go_error;
use concord_gateway::GatewayState;
use concord_store::{Command, UnixNanos};
use tracing::{info, warn};

use crate::registry::{now_nanos, Registry, RegistryKv, REGISTRY_DIR};

/// The size of a token made without `?size=` (discovery.etcd.io's).
pub const DEFAULT_SIZE: i64 = 3;

#[derive(Clone)]
struct Service {
    registry: Arc<Registry>,
    gateway: Router,
    /// `http://host:port` of this service, as members must reach it.
    advertise_url: String,
}

/// The discovery service's router. `advertise_url` is the base of the
/// discovery URLs `/new` hands out.
pub fn router(registry: Arc<Registry>, name: &str, advertise_url: &str) -> Router {
    let me = Arc::new(SelfMember {
        id: registry.cluster_id(),
        name: name.to_string(),
        client_urls: vec![advertise_url.to_string()],
        started: now_nanos(),
    });
    let gateway = concord_gateway::router(GatewayState {
        kv: Arc::new(RegistryKv(registry.clone())),
        watch: registry.hub(),
        cluster: me.clone(),
        stats: me,
    });
    Router::new().fallback(dispatch).with_state(Service {
        registry,
        gateway,
        advertise_url: advertise_url.trim_end_matches('/').to_string(),
    })
}

/// discovery.etcd.io's tokens: 16 random bytes in hex.
fn is_token(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn dispatch(State(svc): State<Service>, mut req: Request) -> Response {
    let path = req.uri().path().to_string();
    let registry_prefix = format!("/v2/keys{REGISTRY_DIR}/");
    if path == "/new" {
        return new_token(&svc, req).await;
    }
    let to_gateway = match path.strip_prefix(&registry_prefix) {
        Some(rest) => !rest.split('/').next().unwrap_or("").is_empty(),
        None => matches!(path.as_str(), "/health" | "/version"),
    };
    if to_gateway {
        return serve(&svc.gateway, req).await;
    }
    // discovery.etcd.io's short form: /<token>/... is the token's keys.
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if is_token(first) {
        let rewritten = match req.uri().query() {
            Some(q) => format!("/v2/keys{REGISTRY_DIR}{path}?{q}"),
            None => format!("/v2/keys{REGISTRY_DIR}{path}"),
        };
        if let Ok(uri) = rewritten.parse::<Uri>() {
            *req.uri_mut() = uri;
            return serve(&svc.gateway, req).await;
        }
    }
    go_error(StatusCode::NOT_FOUND, "404 page not found")
}

async fn serve(gateway: &Router, req: Request) -> Response {
    use tower::ServiceExt;
    match gateway.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// Go's `strconv.Atoi` error text.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    s.parse()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

/// What makes a token: its `_config/size` key, created (never replaced).
fn size_command(token: &str, size: i64) -> Command {
    Command::Create {
        key: format!("{REGISTRY_DIR}/{token}/_config/size"),
        dir: false,
        value: size.to_string(),
        unique: false,
        ttl: None,
    }
}

/// Makes the token `token` of `size` members unless it exists (a token
/// named in advance, for deployments that give their members the
/// discovery URL before the service runs); true if it was made now.
pub fn ensure_token(registry: &Registry, token: &str, size: i64) -> Result<bool, ApiError> {
    match registry.write_blocking(&size_command(token, size)) {
        Ok(_) => Ok(true),
        Err(ApiError::Store(e)) if e.code == concord_store::ErrorCode::NodeExist => Ok(false),
        Err(e) => Err(e),
    }
}

/// The discovery URL of `token` as members are given it.
pub fn discovery_url(advertise_url: &str, token: &str) -> String {
    format!("{advertise_url}/v2/keys{REGISTRY_DIR}/{token}")
}

/// `GET /new?size=N` (any method; `size` from a form body too, as Go's
/// `FormValue` reads it).
async fn new_token(svc: &Service, req: Request) -> Response {
    let query = req.uri().query().unwrap_or("").to_string();
    let is_form = matches!(*req.method(), Method::POST | Method::PUT)
        && req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let from = |text: &[u8]| {
        form_urlencoded::parse(text)
            .find(|(k, _)| k == "size")
            .map(|(_, v)| v.into_owned())
    };
    let given = if is_form { from(&body) } else { None }.or_else(|| from(query.as_bytes()));
    let size = match given.as_deref() {
        None | Some("") => DEFAULT_SIZE,
        Some(s) => match atoi(s) {
            Ok(n) if n >= 1 => n,
            Ok(n) => {
                return go_error(
                    StatusCode::BAD_REQUEST,
                    &format!("invalid size {n}: a cluster has at least 1 member"),
                )
            }
            Err(e) => return go_error(StatusCode::BAD_REQUEST, &e),
        },
    };
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        warn!("cannot make a token: {e}");
        return go_error(StatusCode::BAD_REQUEST, "Unable to generate token");
    }
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let cmd = size_command(&token, size);
    let reg = svc.registry.clone();
    match tokio::task::spawn_blocking(move || reg.write_blocking(&cmd)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            warn!("setupToken returned: {e}");
            return go_error(StatusCode::BAD_REQUEST, "Unable to generate token");
        }
        Err(e) => {
            warn!("setupToken returned: {e}");
            return go_error(StatusCode::BAD_REQUEST, "Unable to generate token");
        }
    }
    info!("New cluster created {token} (size {size})");
    let mut r = Response::new(Body::from(discovery_url(&svc.advertise_url, &token)));
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The discovery service as the one "member" the gateway code asks about
/// (`X-Etcd-Cluster-ID`, `/health`); it is not a raft member and takes no
/// member changes.
struct SelfMember {
    id: u64,
    name: String,
    client_urls: Vec<String>,
    started: UnixNanos,
}

impl SelfMember {
    fn member(&self) -> Member {
        Member {
            id: format!("{:x}", self.id),
            name: self.name.clone(),
            peer_urls: Vec::new(),
            client_urls: self.client_urls.clone(),
        }
    }
}

const NOT_A_CLUSTER: &str = "the discovery service has no members to change";

#[async_trait]
impl Cluster for SelfMember {
    fn cluster_id(&self) -> String {
        format!("{:x}", self.id)
    }
    async fn members(&self) -> Result<Vec<Member>, ApiError> {
        Ok(vec![self.member()])
    }
    async fn leader(&self) -> Result<Option<Member>, ApiError> {
        Ok(Some(self.member()))
    }
    async fn add_member(&self, _: Vec<String>) -> Result<Member, MembershipError> {
        Err(MembershipError::Internal(NOT_A_CLUSTER.into()))
    }
    async fn remove_member(&self, _: u64) -> Result<(), MembershipError> {
        Err(MembershipError::Internal(NOT_A_CLUSTER.into()))
    }
    async fn update_member(&self, _: u64, _: Vec<String>) -> Result<(), MembershipError> {
        Err(MembershipError::Internal(NOT_A_CLUSTER.into()))
    }
    async fn healthy(&self) -> bool {
        true
    }
}

#[async_trait]
impl RaftStats for SelfMember {
    async fn self_stats(&self) -> Result<SelfStats, ApiError> {
        let now = now_nanos();
        Ok(SelfStats {
            name: self.name.clone(),
            id: self.id,
            role: RaftRole::Leader,
            start_time: self.started,
            leader: Some(KnownLeader {
                id: self.id,
                since: self.started,
                uptime_nanos: now - self.started,
            }),
            recv_append_request_cnt: 0,
            send_append_request_cnt: 0,
        })
    }
    async fn leader_stats(&self) -> Result<Option<LeaderStats>, ApiError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_go() {
        assert_eq!(atoi("5"), Ok(5));
        assert_eq!(atoi("+5"), Ok(5));
        assert_eq!(
            atoi("x"),
            Err("strconv.Atoi: parsing \"x\": invalid syntax".into())
        );
        assert_eq!(
            atoi("99999999999999999999"),
            Err("strconv.Atoi: parsing \"99999999999999999999\": value out of range".into())
        );
        assert!(is_token("0123456789abcdef0123456789abcdef"));
        assert!(!is_token("v2"));
    }
}
