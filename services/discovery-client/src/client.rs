//! The member's side of etcd's v2 discovery protocol (etcd 3.4's
//! `v2discovery`), against any v2 keys API: Concord's discovery service, a
//! single `concord`, a real etcd, or anything serving the same paths.
//!
//! A discovery URL is `http://host[:port]/<key path of the token>`
//! (`http://d:2382/v2/keys/_etcd/registry/<token>`): everything after the
//! host is the token's key path, requests go to `<host><that path>/...`.
//! [`join_cluster`] is what a new member does:
//!
//! 1. `GET <token>/_config/size`, then `GET <token>`: the registrations,
//!    ordered by `createdIndex`; if `size` others registered before this
//!    member, the cluster is full ([`DiscoveryError::FullCluster`]);
//! 2. `PUT <token>/<member id>?prevExist=false` with `name=peerURL,...`
//!    (a 105 answer: [`DiscoveryError::DuplicateId`]), then a watch on that
//!    key until the write is visible;
//! 3. step 1 again, then a recursive watch on `<token>` (`wait=true`,
//!    `waitIndex` one past the last index seen) until `size` members have
//!    registered;
//! 4. the first `size` registrations are the initial cluster.
//!
//! The requests, their parameters and the log lines are etcd's (the same
//! query strings its Go client sends, so a recorded exchange reads alike).
//! A request that cannot reach the service, or a 5xx answer, is retried
//! after 2, 4, 8, ... 256 s, then every 256 s, as etcd retries; an error
//! answer of the keys API (JSON with an `errorCode`) ends the bootstrap.

use std::time::Duration;

use bytes::Bytes;
use concord_store::NodeExtern;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;
use tracing::{error, info};

/// etcd's `client.DefaultRequestTimeout`, for every request but a watch.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// etcd's discovery transport dials with a 30 s timeout.
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);
/// After this many retries the backoff stays constant (etcd's
/// `maxExpoentialRetries`).
const MAX_EXPONENTIAL_RETRIES: u32 = 8;

/// Why discovery failed; the texts are etcd 3.4's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("discovery: invalid URL")]
    InvalidUrl,
    #[error("discovery: size key is bad")]
    BadSizeKey,
    #[error("discovery: found duplicate id")]
    DuplicateId,
    #[error("discovery: found duplicate name")]
    DuplicateName,
    #[error("discovery: cluster is full")]
    FullCluster,
    #[error("discovery: bad discovery endpoint")]
    BadDiscoveryEndpoint,
    /// The discovery URL itself cannot be used (Go's `url.Parse` errors,
    /// or a scheme Concord does not speak).
    #[error("{0}")]
    Url(String),
    /// `--discovery-proxy` cannot be used (etcd's words).
    #[error("invalid proxy address {proxy:?}: {why}")]
    Proxy { proxy: String, why: String },
    /// An error answer of the keys API, as etcd's Go client prints one.
    #[error("{0}")]
    Remote(RemoteError),
    /// The service could not be reached where etcd does not retry (the
    /// registration: a retry could find its own first try a duplicate).
    #[error("client: etcd cluster is unavailable or misconfigured; {0}")]
    Unavailable(String),
}

/// A v2 error answer (`{"errorCode":100,"message":...}`), printed as etcd's
/// Go client prints `client.Error`: `100: Key not found (/x) [7]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, thiserror::Error)]
#[error("{code}: {message} ({cause}) [{index}]")]
pub struct RemoteError {
    #[serde(rename = "errorCode")]
    pub code: u64,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub cause: String,
    #[serde(default)]
    pub index: u64,
}

/// etcd's v2 "node exists" error code.
const NODE_EXIST: u64 = 105;

/// The outcome of one request when it is not an answer of the keys API:
/// the service could not be reached, answered 5xx, or did not speak JSON.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Retried with backoff (etcd's `client.ClusterError`); the detail is
    /// logged as etcd logs `ClusterError.Detail()`.
    Cluster(String),
    Remote(RemoteError),
    InvalidJson,
}

/// One successful keys answer.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) node: NodeExtern,
    /// `X-Etcd-Index`.
    pub(crate) index: u64,
}

#[derive(Deserialize)]
struct KeysBody {
    node: NodeExtern,
}

/// Where the requests go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    host: String,
    port: u16,
    /// The token's key path, `/v2/keys/_etcd/registry/<token>`.
    pub(crate) token_path: String,
    /// `http://host:port` as the URL gave it, for log lines.
    base: String,
}

/// Splits `http://host[:port]/path` (etcd's `url.Parse`, for the URLs a
/// discovery flag holds).
fn parse_url(url: &str) -> Result<Target, DiscoveryError> {
    let rest = match url.split_once("://") {
        Some(("http", rest)) => rest,
        Some(("https", _)) => {
            return Err(DiscoveryError::Url(format!(
                "https discovery URLs are not supported by Concord (yet): {url}"
            )))
        }
        Some((scheme, _)) => {
            return Err(DiscoveryError::Url(format!(
                "unsupported protocol scheme {scheme:?} in the discovery URL {url}"
            )))
        }
        None => {
            return Err(DiscoveryError::Url(format!(
                "the discovery URL {url:?} is not http://host[:port]/path"
            )))
        }
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h,
            p.parse::<u16>()
                .map_err(|_| DiscoveryError::Url(format!("invalid port {p:?} in {url}")))?,
        ),
        _ => (hostport, 80),
    };
    if host.is_empty() {
        return Err(DiscoveryError::Url(format!("no host in {url}")));
    }
    let token_path = path.trim_end_matches('/').to_string();
    Ok(Target {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
        token_path,
        base: format!("http://{hostport}"),
    })
}

/// etcd's `newProxyFunc`: a proxy given without a scheme is `http://`.
fn parse_proxy(proxy: &str) -> Result<Option<Target>, DiscoveryError> {
    if proxy.is_empty() {
        return Ok(None);
    }
    let with_scheme = if proxy.contains("://") {
        proxy.to_string()
    } else {
        format!("http://{proxy}")
    };
    parse_url(&with_scheme)
        .map(Some)
        .map_err(|e| DiscoveryError::Proxy {
            proxy: proxy.to_string(),
            why: e.to_string(),
        })
}

/// A discovery session for one member (or a proxy: `id` 0).
pub(crate) struct Discovery {
    pub(crate) target: Target,
    proxy: Option<Target>,
    /// The member's ID in hex, as its key under the token.
    self_key: String,
    retries: u32,
}

/// Registers the member `id` (with its `name=peerURL,...` as `config`)
/// under the discovery URL and waits for the cluster: the first `size`
/// registrations, as `name=peerURL,...` (etcd's `JoinCluster`).
pub async fn join_cluster(
    url: &str,
    proxy: &str,
    id: u64,
    config: &str,
) -> Result<String, DiscoveryError> {
    let mut d = Discovery::new(url, proxy, id)?;
    // Fast path: a full cluster needs no registration.
    d.check_cluster().await?;
    d.create_self(config).await?;
    let (nodes, size, index) = d.check_cluster().await?;
    let all = d.wait_nodes(nodes, size, index).await?;
    nodes_to_cluster(&all, size)
}

/// The cluster behind a discovery URL, without registering (etcd's
/// `GetCluster`, what a proxy asks): the first `size` registrations once
/// there are that many, at once if the cluster is full.
pub async fn get_cluster(url: &str, proxy: &str) -> Result<String, DiscoveryError> {
    let mut d = Discovery::new(url, proxy, 0)?;
    let (nodes, size, index) = match d.check_cluster_full_ok().await? {
        Checked::Full(nodes, size) => return nodes_to_cluster(&nodes, size),
        Checked::Open(nodes, size, index) => (nodes, size, index),
    };
    let all = d.wait_nodes(nodes, size, index).await?;
    nodes_to_cluster(&all, size)
}

enum Checked {
    Open(Vec<NodeExtern>, usize, u64),
    Full(Vec<NodeExtern>, usize),
}

/// The last path component (Go's `path.Base`).
fn base(key: &str) -> &str {
    key.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

impl Discovery {
    pub(crate) fn new(url: &str, proxy: &str, id: u64) -> Result<Discovery, DiscoveryError> {
        let target = parse_url(url)?;
        let proxy = parse_proxy(proxy)?;
        if let Some(p) = &proxy {
            info!("using proxy {:?}", p.base);
        }
        Ok(Discovery {
            target,
            proxy,
            self_key: format!("{id:x}"),
            retries: 0,
        })
    }

    /// etcd's `checkCluster`, with a full cluster as an error.
    async fn check_cluster(&mut self) -> Result<(Vec<NodeExtern>, usize, u64), DiscoveryError> {
        match self.check_cluster_full_ok().await? {
            Checked::Open(nodes, size, index) => Ok((nodes, size, index)),
            Checked::Full(..) => Err(DiscoveryError::FullCluster),
        }
    }

    /// The size and the registrations, ordered by `createdIndex`, and
    /// whether this member is too late to be among the first `size`.
    async fn check_cluster_full_ok(&mut self) -> Result<Checked, DiscoveryError> {
        loop {
            let size_key = format!("{}/_config/size", self.target.token_path);
            let size = match self.get(&size_key).await {
                Ok(a) => a.node.value.unwrap_or_default(),
                Err(Failure::Cluster(detail)) => {
                    self.backoff("cluster status check", &detail).await;
                    continue;
                }
                Err(Failure::InvalidJson) => return Err(DiscoveryError::BadDiscoveryEndpoint),
                // etcd 3.4 means to say "discovery: size key not found"
                // here, but its check never matches: it prints the error
                // answer itself ("100: Key not found (...) [n]"), as here.
                Err(Failure::Remote(e)) => return Err(DiscoveryError::Remote(e)),
            };
            // Go's strconv.Atoi: an optional sign and decimal digits.
            let size: i64 = size.parse().map_err(|_| DiscoveryError::BadSizeKey)?;
            let token = self.target.token_path.clone();
            let answer = match self.get(&token).await {
                Ok(a) => a,
                Err(Failure::Cluster(detail)) => {
                    self.backoff("cluster status check", &detail).await;
                    continue;
                }
                Err(Failure::InvalidJson) => return Err(DiscoveryError::BadDiscoveryEndpoint),
                Err(Failure::Remote(e)) => return Err(DiscoveryError::Remote(e)),
            };
            let mut nodes: Vec<NodeExtern> = answer
                .node
                .nodes
                .into_iter()
                .filter(|n| base(&n.key) != "_config")
                .collect();
            nodes.sort_by_key(|n| n.created_index);
            let size = usize::try_from(size).unwrap_or(0);
            // Find this member's place: beyond the first `size`, too late.
            for (i, n) in nodes.iter().enumerate() {
                if base(&n.key) == self.self_key {
                    break;
                }
                if i + 1 >= size {
                    nodes.truncate(size);
                    return Ok(Checked::Full(nodes, size));
                }
            }
            return Ok(Checked::Open(nodes, size, answer.index));
        }
    }

    /// Registers this member, then waits until the registration can be
    /// read back (etcd's `createSelf`).
    async fn create_self(&mut self, config: &str) -> Result<(), DiscoveryError> {
        let key = format!("{}/{}", self.target.token_path, self.self_key);
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("value", config)
            .finish();
        let created = match self
            .request(
                Method::PUT,
                &format!("{key}?prevExist=false"),
                Some(body),
                Some(REQUEST_TIMEOUT),
            )
            .await
        {
            Ok(a) => a,
            Err(Failure::Remote(e)) if e.code == NODE_EXIST => {
                return Err(DiscoveryError::DuplicateId)
            }
            Err(Failure::Remote(e)) => return Err(DiscoveryError::Remote(e)),
            Err(Failure::InvalidJson) => return Err(DiscoveryError::BadDiscoveryEndpoint),
            // etcd does not retry the registration either: a timeout may
            // have registered it, and a second try would find a duplicate.
            Err(Failure::Cluster(detail)) => return Err(DiscoveryError::Unavailable(detail)),
        };
        let wait = format!(
            "{key}?recursive=false&wait=true&waitIndex={}",
            created.node.created_index
        );
        match self.request(Method::GET, &wait, None, None).await {
            Ok(_) => Ok(()),
            Err(Failure::Remote(e)) => Err(DiscoveryError::Remote(e)),
            Err(Failure::InvalidJson) => Err(DiscoveryError::BadDiscoveryEndpoint),
            Err(Failure::Cluster(detail)) => Err(DiscoveryError::Unavailable(detail)),
        }
    }

    /// Watches the token until `size` members have registered (etcd's
    /// `waitNodes`, with its log lines).
    async fn wait_nodes(
        &mut self,
        mut nodes: Vec<NodeExtern>,
        mut size: usize,
        mut index: u64,
    ) -> Result<Vec<NodeExtern>, DiscoveryError> {
        'retry: loop {
            nodes.truncate(size);
            for n in &nodes {
                if base(&n.key) == self.self_key {
                    info!("discovery: found self {} in the cluster", base(&n.key));
                } else {
                    info!("discovery: found peer {} in the cluster", base(&n.key));
                }
            }
            let mut all = nodes.clone();
            let mut next = index + 1;
            while all.len() < size {
                info!(
                    "discovery: found {} peer(s), waiting for {} more",
                    all.len(),
                    size - all.len()
                );
                let watch = format!(
                    "{}?recursive=true&wait=true&waitIndex={next}",
                    self.target.token_path
                );
                match self.request(Method::GET, &watch, None, None).await {
                    Ok(a) => {
                        info!("discovery: found peer {} in the cluster", base(&a.node.key));
                        next = a.node.modified_index + 1;
                        all.push(a.node);
                    }
                    Err(Failure::Cluster(detail)) => {
                        self.backoff("waiting for other nodes", &detail).await;
                        let (n, s, i) = self.check_cluster().await?;
                        (nodes, size, index) = (n, s, i);
                        continue 'retry;
                    }
                    Err(Failure::Remote(e)) => return Err(DiscoveryError::Remote(e)),
                    Err(Failure::InvalidJson) => return Err(DiscoveryError::BadDiscoveryEndpoint),
                }
            }
            info!("discovery: found {} needed peer(s)", all.len());
            return Ok(all);
        }
    }

    /// etcd's `logAndBackoffForRetry`: 2, 4, ... 256 s, then 256 s on.
    async fn backoff(&mut self, step: &str, detail: &str) {
        error!("discovery: {detail}");
        self.retries = self.retries.saturating_add(1);
        let wait = Duration::from_secs(1 << self.retries.min(MAX_EXPONENTIAL_RETRIES));
        info!(
            "discovery: {step}: error connecting to {}, retrying in {}s",
            self.target.base,
            wait.as_secs()
        );
        tokio::time::sleep(wait).await;
    }

    /// A plain GET, with the parameters etcd's Go client sends.
    async fn get(&self, key: &str) -> Result<Answer, Failure> {
        self.request(
            Method::GET,
            &format!("{key}?quorum=false&recursive=false&sorted=false"),
            None,
            Some(REQUEST_TIMEOUT),
        )
        .await
    }

    /// One request on a new connection (through the proxy if there is one).
    pub(crate) async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        form: Option<String>,
        timeout: Option<Duration>,
    ) -> Result<Answer, Failure> {
        let fut = self.exchange(method, path_and_query, form);
        let (status, index, body) = match timeout {
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r,
                Err(_) => Err(Failure::Cluster(format!(
                    "error #0: client: endpoint {} exceeded header timeout",
                    self.target.base
                ))),
            },
            None => fut.await,
        }?;
        if status.is_server_error() {
            let why = if matches!(
                status,
                StatusCode::INTERNAL_SERVER_ERROR | StatusCode::SERVICE_UNAVAILABLE
            ) {
                format!("client: etcd member {} has no leader", self.target.base)
            } else {
                format!(
                    "client: etcd member {} returns server error [{}]",
                    self.target.base,
                    status.canonical_reason().unwrap_or("")
                )
            };
            return Err(Failure::Cluster(format!("error #0: {why}")));
        }
        if status.is_success() {
            let parsed: KeysBody =
                serde_json::from_slice(&body).map_err(|_| Failure::InvalidJson)?;
            return Ok(Answer {
                node: parsed.node,
                index,
            });
        }
        match serde_json::from_slice::<RemoteError>(&body) {
            Ok(e) => Err(Failure::Remote(e)),
            Err(_) => Err(Failure::InvalidJson),
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path_and_query: &str,
        form: Option<String>,
    ) -> Result<(StatusCode, u64, Bytes), Failure> {
        let via = self.proxy.as_ref().unwrap_or(&self.target);
        let failed = |e: &dyn std::fmt::Display| Failure::Cluster(format!("error #0: {e}"));
        let stream = match tokio::time::timeout(
            DIAL_TIMEOUT,
            TcpStream::connect((via.host.as_str(), via.port)),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(failed(&format!(
                    "dial tcp {}:{}: connect: {}",
                    via.host,
                    via.port,
                    io_reason(&e)
                )))
            }
            Err(_) => {
                return Err(failed(&format!(
                    "dial tcp {}:{}: i/o timeout",
                    via.host, via.port
                )))
            }
        };
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| failed(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        // Through a proxy the request line carries the whole URL.
        let uri = match &self.proxy {
            Some(_) => format!("{}{path_and_query}", self.target.base),
            None => path_and_query.to_string(),
        };
        let host = match self.target.port {
            80 => self.target.host.clone(),
            p => format!("{}:{p}", self.target.host),
        };
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", host);
        let body = match form {
            Some(f) => {
                req = req.header("content-type", "application/x-www-form-urlencoded");
                Full::new(Bytes::from(f))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body).map_err(|e| failed(&e))?;
        let resp = sender.send_request(req).await.map_err(|e| failed(&e))?;
        let status = resp.status();
        let index = resp
            .headers()
            .get("x-etcd-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| failed(&e))?
            .to_bytes();
        Ok((status, index, body))
    }
}

/// Go's wording of a failed connect (`connection refused`).
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}

/// etcd's `nodesToCluster`: the registrations' values joined by commas;
/// fewer names than `size` means two members registered the same name.
fn nodes_to_cluster(nodes: &[NodeExtern], size: usize) -> Result<String, DiscoveryError> {
    let joined = nodes
        .iter()
        .map(|n| n.value.clone().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(",");
    let mut names = std::collections::BTreeSet::new();
    for pair in joined.split(',').filter(|p| !p.is_empty()) {
        let (name, url) = pair.split_once('=').ok_or(DiscoveryError::InvalidUrl)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(DiscoveryError::InvalidUrl);
        }
        names.insert(name.to_string());
    }
    if names.len() != size {
        return Err(DiscoveryError::DuplicateName);
    }
    Ok(joined)
}

/// etcd's `types.URLsMap.String()` for one member: its `name=URL` pairs,
/// sorted, comma-separated (the value it registers).
pub fn member_config(name: &str, peer_urls: &[String]) -> String {
    let mut pairs: Vec<String> = peer_urls.iter().map(|u| format!("{name}={u}")).collect();
    pairs.sort();
    pairs.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_as_etcd_does() {
        let t = parse_url("http://127.0.0.1:2382/v2/keys/_etcd/registry/abc").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 2382));
        assert_eq!(t.token_path, "/v2/keys/_etcd/registry/abc");
        assert_eq!(t.base, "http://127.0.0.1:2382");
        let t = parse_url("http://discovery.example/abc").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.token_path.as_str()),
            ("discovery.example", 80, "/abc")
        );
        assert!(parse_url("https://discovery.etcd.io/abc").is_err());
        assert!(parse_url("foo").is_err());
        assert_eq!(parse_proxy("").unwrap().map(|p| p.base), None);
        assert_eq!(
            parse_proxy("10.0.0.1:3128").unwrap().map(|p| p.base),
            Some("http://10.0.0.1:3128".to_string())
        );
    }

    #[test]
    fn registration_value_is_etcds_urls_map() {
        let urls = ["http://b:2380".to_string(), "http://a:2380".to_string()];
        assert_eq!(
            member_config("m1", &urls),
            "m1=http://a:2380,m1=http://b:2380"
        );
    }

    fn node(key: &str, value: &str) -> NodeExtern {
        NodeExtern {
            key: key.into(),
            value: Some(value.into()),
            ..Default::default()
        }
    }

    #[test]
    fn cluster_from_nodes() {
        let ns = [
            node("/t/1", "a=http://1:2380"),
            node("/t/2", "b=http://2:2380"),
        ];
        assert_eq!(
            nodes_to_cluster(&ns, 2).unwrap(),
            "a=http://1:2380,b=http://2:2380"
        );
        let dup = [
            node("/t/1", "a=http://1:2380"),
            node("/t/2", "a=http://2:2380"),
        ];
        assert_eq!(
            nodes_to_cluster(&dup, 2),
            Err(DiscoveryError::DuplicateName)
        );
        assert_eq!(
            nodes_to_cluster(&[node("/t/1", "nonsense")], 1),
            Err(DiscoveryError::InvalidUrl)
        );
    }

    #[test]
    fn remote_errors_print_as_etcds_client() {
        let e: RemoteError = serde_json::from_str(
            r#"{"errorCode":100,"message":"Key not found","cause":"/_etcd/registry/nosize","index":7}"#,
        )
        .unwrap();
        assert_eq!(
            e.to_string(),
            "100: Key not found (/_etcd/registry/nosize) [7]"
        );
    }
}
