//! The v2 proxy a `concord` becomes when discovery finds its cluster full
//! (`--discovery-fallback proxy`, etcd's default), as etcd 3.4's
//! `httpproxy`: every request on the client URLs is passed to one of the
//! members' client URLs and the answer streamed back (long polls and
//! `stream=true` watches too). A member that cannot be reached is skipped
//! for 5 s (etcd's `--proxy-failure-wait`) and the request, its body kept,
//! goes to the next; the members' client URLs are learnt from their peer
//! URLs (the membership lookup a joining member uses) and refreshed every
//! 30 s (`--proxy-refresh-interval`). `GET /v2/config/local/proxy` shows
//! the endpoints. The proxy holds no data and takes part in no election.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use concord_consensus::member::config::ServerConfig;
use concord_consensus::member::proxy_cluster::{proxy_cluster_file, save_proxy_cluster};
use concord_consensus::member::server::{ProxyFallback, STOP_GRACE};
use concord_consensus::network::PeerConn;
use concord_process::serve::{Listener, Serving};
use concord_process::shutdown_signal;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tracing::{info, warn};

/// etcd's `--proxy-failure-wait` default.
const FAILURE_WAIT: Duration = Duration::from_secs(5);
/// etcd's `--proxy-refresh-interval` default.
const REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// etcd's `--proxy-dial-timeout` default.
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);
/// A request body the proxy keeps to send again (Go's form limit).
const MAX_BODY: usize = 10 << 20;

/// Headers that belong to one connection, not to the request (Go's
/// `httputil` list).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

struct Endpoint {
    url: String,
    /// Unavailable until then, after a failed request.
    failed_until: Option<Instant>,
}

#[derive(Clone)]
struct Director {
    endpoints: Arc<Mutex<Vec<Endpoint>>>,
}

impl Director {
    fn available(&self) -> Vec<String> {
        let now = Instant::now();
        let eps = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        eps.iter()
            .filter(|e| e.failed_until.is_none_or(|t| t <= now))
            .map(|e| e.url.clone())
            .collect()
    }

    fn all(&self) -> Vec<String> {
        let eps = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        eps.iter().map(|e| e.url.clone()).collect()
    }

    fn failed(&self, url: &str) {
        let mut eps = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = eps.iter_mut().find(|e| e.url == url) {
            e.failed_until = Some(Instant::now() + FAILURE_WAIT);
        }
    }

    fn replace(&self, urls: Vec<String>) {
        let mut eps = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        *eps = urls
            .into_iter()
            .map(|url| Endpoint {
                url,
                failed_until: None,
            })
            .collect();
    }
}

/// The members' client URLs, asked of the first peer URL that answers
/// (etcd's `GetClusterFromRemotePeers`).
async fn client_urls(peer_urls: &[String]) -> Option<Vec<String>> {
    for url in peer_urls {
        let Ok(conn) = PeerConn::new(url, 0, 0) else {
            continue;
        };
        match conn.membership(Duration::from_secs(2)).await {
            Ok(info) => {
                let mut urls: Vec<String> = info
                    .members
                    .into_iter()
                    .flat_map(|(_, m)| m.client_urls)
                    .collect();
                urls.sort();
                urls.dedup();
                // etcd shuffles the endpoints, so proxies spread their load.
                let mut seed = [0u8; 8];
                if getrandom::fill(&mut seed).is_ok() && !urls.is_empty() {
                    let k = (u64::from_le_bytes(seed) % urls.len() as u64) as usize;
                    urls.rotate_left(k);
                }
                return Some(urls);
            }
            Err(e) => warn!("proxy: could not get the members from {url}: {e}"),
        }
    }
    None
}

/// etcd's v2 proxy, as the all-in-one's fallback.
pub struct V2Proxy;

#[async_trait::async_trait]
impl ProxyFallback for V2Proxy {
    /// Serves the v2 proxy on `listeners` until SIGTERM/SIGINT.
    async fn run(
        &self,
        cfg: &ServerConfig,
        peer_urls: Vec<String>,
        from_file: bool,
        listeners: Vec<Listener>,
    ) -> anyhow::Result<()> {
        run(cfg, peer_urls, from_file, listeners).await
    }
}

/// Serves the v2 proxy on `listeners` until SIGTERM/SIGINT.
async fn run(
    cfg: &ServerConfig,
    peer_urls: Vec<String>,
    from_file: bool,
    listeners: Vec<Listener>,
) -> anyhow::Result<()> {
    info!("proxy: this proxy supports v2 API only!");
    let list = format!("[{}]", peer_urls.join(" "));
    if from_file {
        info!(
            "proxy: using peer urls {list} from cluster file {:?}",
            proxy_cluster_file(&cfg.data_dir).display().to_string()
        );
    } else {
        info!("proxy: using peer urls {list} ");
        save_proxy_cluster(&cfg.data_dir, &peer_urls)?;
    }
    let director = Director {
        endpoints: Arc::default(),
    };
    refresh(&director, &peer_urls).await;
    let refresher = {
        let director = director.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH_INTERVAL).await;
                refresh(&director, &peer_urls).await;
            }
        })
    };
    let app = Router::new().fallback(forward).with_state(director);
    let mut serving = Serving::new();
    for (l, url) in listeners.into_iter().zip(&cfg.listen_client_urls) {
        info!("v2 proxy started listening on client requests on {url:?}");
        serving.http(l, app.clone());
    }
    shutdown_signal().await;
    info!("received a stop signal, shutting down");
    serving.stop(STOP_GRACE).await;
    refresher.abort();
    info!("concord proxy stopped");
    Ok(())
}

async fn refresh(director: &Director, peer_urls: &[String]) {
    match client_urls(peer_urls).await {
        Some(urls) => {
            if urls != director.all() {
                let quoted: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
                info!("proxy/httpproxy: endpoints found [{}]", quoted.join(" "));
            }
            director.replace(urls);
        }
        None => warn!("proxy: zero endpoints currently available"),
    }
}

/// etcd's `httptypes.HTTPError` body: `{"message":"..."}`.
fn proxy_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// etcd's proxy wraps every answer in its CORS handler, on top of the
/// member's own CORS headers (so each appears twice, as through etcd's).
fn with_cors(mut r: Response) -> Response {
    for (name, value) in concord_gateway::CORS_HEADERS {
        r.headers_mut()
            .append(name, HeaderValue::from_static(value));
    }
    r
}

async fn forward(State(director): State<Director>, req: Request) -> Response {
    if req.uri().path() == "/v2/config/local/proxy" {
        if req.method() != Method::GET {
            let mut r = Response::new(Body::from("Method Not Allowed"));
            *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            r.headers_mut()
                .insert("allow", HeaderValue::from_static("GET"));
            return with_cors(r);
        }
        let body = format!(
            "{}\n",
            serde_json::json!({ "endpoints": director.available() })
        );
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return with_cors(r);
    }
    if req.method() == Method::OPTIONS {
        return with_cors(Response::new(Body::empty()));
    }
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return with_cors(proxy_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("httpproxy: failed to read request body: {e}"),
            ))
        }
    };
    let endpoints = director.available();
    if endpoints.is_empty() {
        warn!("proxy: zero endpoints currently available");
        return with_cors(proxy_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "httpproxy: zero endpoints currently available",
        ));
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    for ep in &endpoints {
        match send(ep, &parts, &path_and_query, body.clone()).await {
            Ok(resp) => return with_cors(resp),
            Err(e) => {
                warn!("proxy: failed to direct request to {ep}: {e}");
                director.failed(ep);
            }
        }
    }
    let msg = format!(
        "unable to get response from {} endpoint(s)",
        endpoints.len()
    );
    warn!("proxy: {msg}");
    with_cors(proxy_error(
        StatusCode::BAD_GATEWAY,
        &format!("httpproxy: {msg}"),
    ))
}

/// One try at one member: the request with its headers (less the
/// connection's own), the answer's body streamed back.
async fn send(
    endpoint: &str,
    parts: &axum::http::request::Parts,
    path_and_query: &str,
    body: bytes::Bytes,
) -> anyhow::Result<Response> {
    let hostport = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("unsupported endpoint {endpoint}"))?
        .trim_end_matches('/');
    let stream = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(hostport))
        .await
        .map_err(|_| anyhow::anyhow!("dial tcp {hostport}: i/o timeout"))??;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(path_and_query);
    for (k, v) in &parts.headers {
        if !HOP_BY_HOP.contains(&k.as_str()) && k != "host" {
            req = req.header(k, v);
        }
    }
    req = req.header("host", hostport);
    let req = req.body(http_body_util::Full::new(body))?;
    let resp = sender.send_request(req).await?;
    let (rparts, rbody) = resp.into_parts();
    let mut out = Response::new(Body::new(rbody));
    *out.status_mut() = rparts.status;
    for (k, v) in &rparts.headers {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            out.headers_mut().append(k.clone(), v.clone());
        }
    }
    Ok(out)
}
