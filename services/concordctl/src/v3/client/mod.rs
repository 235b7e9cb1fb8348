//! etcd's Go v3 client (`clientv3` 3.4) as etcdctl uses it, on tonic: one
//! connection to the first endpoint that answers; every unary call bounded
//! by the command's deadline, waiting for a connection as grpc-go's
//! wait-for-ready calls do; clientv3's retry interceptor (a warning line
//! per failed attempt, retries of read-only calls on `Unavailable`); and
//! its error texts (`error.rs`, `log.rs`); TLS per endpoint as clientv3
//! picks it (`connector.rs`); and, with `--user`, clientv3's token: one
//! `Authenticate` when the client is made, the token sent as the `token`
//! metadata of every call, and a new one fetched when the server says it
//! is no longer valid.

pub mod connector;
pub mod error;
pub mod log;

use std::cell::RefCell;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concord_rpc::etcd::etcdserverpb::{
    auth_client::AuthClient, cluster_client::ClusterClient, kv_client::KvClient,
    lease_client::LeaseClient, maintenance_client::MaintenanceClient, watch_client::WatchClient,
    AuthenticateRequest,
};
use rustls::ClientConfig;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::tls::{self, TlsFiles};
use connector::{scheme, Connector};
pub use error::CallError;

/// The token of the authenticated user, shared by every call made on the
/// connection (clientv3's per-RPC credentials).
#[derive(Debug, Clone, Default)]
pub struct Token(Arc<Mutex<Option<AsciiMetadataValue>>>);

impl Token {
    fn set(&self, token: Option<AsciiMetadataValue>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = token;
    }
}

impl Interceptor for Token {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(t) = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            req.metadata_mut().insert("token", t);
        }
        Ok(req)
    }
}

/// The connection every call is made on: the channel, with the token.
pub type Ch = InterceptedService<Channel, Token>;

/// The server's answer when authentication is off, which clientv3 takes
/// as "no token needed".
const AUTH_NOT_ENABLED: &str = "etcdserver: authentication is not enabled";
/// The server's answers that make clientv3 fetch a new token and retry.
const TOKEN_INVALID: &[&str] = &[
    "etcdserver: invalid auth token",
    "etcdserver: revision of auth store is old",
];

/// What the global flags say of the connection.
#[derive(Debug, Clone)]
pub struct Config {
    pub endpoints: Vec<String>,
    pub dial_timeout: Duration,
    pub keepalive_time: Duration,
    pub keepalive_timeout: Duration,
    /// The flags' TLS configuration: set when a TLS file is given or
    /// `--insecure-transport=false` (etcdctl's `cfg.TLS`).
    pub tls: Option<Arc<ClientConfig>>,
    /// `--user`'s name and password (none without `--user`, or with an
    /// empty password, as clientv3 then does not authenticate).
    pub auth: Option<(String, String)>,
}

/// Whether clientv3 retries a call that failed with `Unavailable`
/// (read-only calls: `repeatable`; writes: `nonRepeatable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Repeatable,
    NonRepeatable,
}

/// clientv3's retry bound (`defaultUnaryMaxRetries`) and backoff step.
const MAX_ATTEMPTS: u32 = 100;
const BACKOFF: Duration = Duration::from_millis(25);

/// A v3 client on the endpoints.
pub struct Client {
    cfg: Config,
    /// clientv3's resolver group: `endpoint://client-<uuid>`.
    group: String,
    /// A client of one named member dials it directly (grpc-go's
    /// `passthrough` target), and says why its last dial failed.
    passthrough: bool,
    channel: RefCell<Option<Channel>>,
    token: Token,
}

impl Client {
    pub fn new(cfg: Config) -> Client {
        Client {
            cfg,
            group: format!("endpoint://client-{}", log::uuid4()),
            passthrough: false,
            channel: RefCell::new(None),
            token: Token::default(),
        }
    }

    /// A client of one endpoint only (clientv3's `Dial(ep)` for the
    /// maintenance calls that name their member), in the same resolver
    /// group.
    pub fn for_endpoint(&self, endpoint: &str) -> Client {
        Client {
            cfg: Config {
                endpoints: vec![endpoint.to_string()],
                ..self.cfg.clone()
            },
            group: self.group.clone(),
            passthrough: true,
            channel: RefCell::new(None),
            token: self.token.clone(),
        }
    }

    /// grpc-go's target, as the warnings name it.
    fn target(&self) -> String {
        let first = self.cfg.endpoints.first().map(String::as_str).unwrap_or("");
        if self.passthrough {
            return format!("passthrough:///{}", host(first));
        }
        format!("{}/{}", self.group, host(first))
    }

    /// The connection, made on first use: each endpoint in turn, again and
    /// again until one answers or `deadline` passes (grpc-go's calls wait
    /// for a ready connection).
    pub async fn channel(&self, deadline: Option<Instant>) -> Result<Ch, Status> {
        let ch = self.plain_channel(deadline).await?;
        Ok(InterceptedService::new(ch, self.token.clone()))
    }

    /// The TLS an endpoint is dialled with (clientv3's `processCreds`).
    fn tls_for(&self, ep: &str) -> Result<Option<Arc<ClientConfig>>, String> {
        match scheme(ep).as_str() {
            "http" => Ok(None),
            "https" => match &self.cfg.tls {
                Some(c) => Ok(Some(c.clone())),
                None => tls::client_config(&TlsFiles::default(), &[b"h2"])
                    .map(Some)
                    .map_err(|e| e.to_string()),
            },
            "" => Ok(self.cfg.tls.clone()),
            _ => Ok(None),
        }
    }

    async fn plain_channel(&self, deadline: Option<Instant>) -> Result<Channel, Status> {
        if let Some(c) = self.channel.borrow().as_ref() {
            return Ok(c.clone());
        }
        let mut last_error = None;
        loop {
            for ep in &self.cfg.endpoints {
                // tonic sees plain HTTP/2: TLS, when it applies, is the
                // connector's.
                let Ok(endpoint) = Endpoint::from_shared(format!("http://{}", host(ep))) else {
                    continue;
                };
                let tls = match self.tls_for(ep) {
                    Ok(Some(c)) => match tls::server_name(hostname(host(ep))) {
                        Some(name) => Some((c, name)),
                        None => continue,
                    },
                    Ok(None) => None,
                    Err(why) => {
                        last_error = Some(why);
                        continue;
                    }
                };
                let connector = Connector {
                    addr: host(ep).to_string(),
                    tls,
                };
                let endpoint = endpoint
                    .connect_timeout(self.cfg.dial_timeout)
                    .http2_keep_alive_interval(self.cfg.keepalive_time.max(Duration::from_secs(10)))
                    .keep_alive_timeout(self.cfg.keepalive_timeout)
                    .tcp_nodelay(true);
                let attempt = endpoint.connect_with_connector(connector);
                let outcome = match deadline {
                    Some(d) => match tokio::time::timeout_at(d.into(), attempt).await {
                        Ok(r) => r,
                        Err(_) => break,
                    },
                    None => attempt.await,
                };
                match outcome {
                    Ok(c) => {
                        *self.channel.borrow_mut() = Some(c.clone());
                        return Ok(c);
                    }
                    Err(e) => last_error = Some(dial_error(host(ep), &e)),
                }
            }
            if deadline.is_some_and(|d| Instant::now() + Duration::from_millis(100) >= d) {
                if let Some(d) = deadline {
                    tokio::time::sleep_until(d.into()).await;
                }
                let why = match (&last_error, self.passthrough) {
                    (Some(e), true) => format!(
                        "latest balancer error: connection error: desc = \"transport: Error while dialing {e}\""
                    ),
                    _ => "latest balancer error: all SubConns are in TransientFailure".to_string(),
                };
                return Err(Status::deadline_exceeded(why));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One unary call with clientv3's interceptor: `call` is made on the
    /// connection until it succeeds, fails for good, or `timeout` (the
    /// command's deadline; none for the calls etcdctl makes without one)
    /// passes; each failed attempt is logged as clientv3 logs it.
    pub fn unary<T, F, Fut>(
        &self,
        timeout: Option<Duration>,
        retry: Retry,
        mut call: F,
    ) -> Result<T, CallError>
    where
        F: FnMut(Ch) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let deadline = timeout.map(|t| Instant::now() + t);
        let run = async {
            let mut attempt = 0;
            loop {
                if attempt > 0 {
                    // clientv3's linear backoff with 10% jitter, kept plain.
                    let wait = BACKOFF * attempt;
                    if deadline.is_some_and(|d| Instant::now() + wait >= d) {
                        if let Some(d) = deadline {
                            tokio::time::sleep_until(d.into()).await;
                        }
                        return Err(Status::deadline_exceeded("context deadline exceeded"));
                    }
                    tokio::time::sleep(wait).await;
                }
                let outcome = match self.channel(deadline).await {
                    Ok(ch) => {
                        let fut = call(ch);
                        match deadline {
                            Some(d) => match tokio::time::timeout_at(d.into(), fut).await {
                                Ok(r) => r,
                                Err(_) => {
                                    Err(Status::deadline_exceeded("context deadline exceeded"))
                                }
                            },
                            None => fut.await,
                        }
                    }
                    Err(s) => Err(s),
                };
                let status = match outcome {
                    Ok(r) => return Ok(r.into_inner()),
                    Err(s) => s,
                };
                log::retry_warning(&self.target(), attempt, &status);
                if self.cfg.auth.is_some() && TOKEN_INVALID.contains(&status.message()) {
                    // clientv3's `shouldRefreshToken`: a new token, then
                    // the call again.
                    self.fetch_token(deadline).await?;
                    attempt += 1;
                    if attempt >= MAX_ATTEMPTS {
                        return Err(status);
                    }
                    continue;
                }
                let passed = deadline.is_some_and(|d| Instant::now() >= d);
                if passed || matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled) {
                    return Err(status);
                }
                if !safe_to_retry(retry, &status) || attempt + 1 >= MAX_ATTEMPTS {
                    return Err(status);
                }
                attempt += 1;
            }
        };
        let outcome = match crate::runtime::block_on(run) {
            Ok(outcome) => outcome,
            Err(why) => Err(Status::unavailable(why)),
        };
        outcome.map_err(|status| CallError {
            status: Box::new(status),
            deadline_passed: deadline.is_some_and(|d| Instant::now() >= d),
        })
    }
}

impl Client {
    /// clientv3's `getToken`, within `deadline`: `Authenticate` with the
    /// flags' name and password, the token kept for every later call.
    /// Authentication being off is no error: calls then go without a token.
    async fn fetch_token(&self, deadline: Option<Instant>) -> Result<(), Status> {
        let Some((name, password)) = self.cfg.auth.clone() else {
            return Ok(());
        };
        self.token.set(None);
        let ch = self.plain_channel(deadline).await?;
        let mut auth = AuthClient::new(ch);
        let call = auth.authenticate(AuthenticateRequest { name, password });
        let resp = match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), call)
                .await
                .map_err(|_| Status::deadline_exceeded("context deadline exceeded"))?,
            None => call.await,
        };
        match resp {
            Ok(r) => {
                let token = MetadataValue::try_from(r.into_inner().token)
                    .map_err(|e| Status::internal(e.to_string()))?;
                self.token.set(Some(token));
                Ok(())
            }
            Err(s) if s.message() == AUTH_NOT_ENABLED => Ok(()),
            Err(s) => Err(s),
        }
    }

    /// The first token, fetched when the client is made (clientv3's `New`
    /// with a user name), bounded by the dial timeout.
    pub fn authenticate(&self) -> Result<(), CallError> {
        let deadline = Instant::now() + self.cfg.dial_timeout;
        let outcome = match crate::runtime::block_on(self.fetch_token(Some(deadline))) {
            Ok(outcome) => outcome,
            Err(why) => Err(Status::unavailable(why)),
        };
        outcome.map_err(|status| CallError {
            status: Box::new(status),
            deadline_passed: Instant::now() >= deadline,
        })
    }
}

/// The host of `host:port` (an IPv6 literal without its brackets).
fn hostname(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    addr.rsplit_once(':').map_or(addr, |(h, _)| h)
}

/// Go's words for a failed dial: `dial tcp <addr>: connect: <why>`.
fn dial_error(addr: &str, e: &tonic::transport::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let why = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::TimedOut => "i/o timeout".to_string(),
                _ => io.to_string(),
            };
            return format!("dial tcp {addr}: connect: {why}");
        }
        source = s.source();
    }
    format!("dial tcp {addr}: {e}")
}

/// clientv3's `isSafeRetry`: read-only calls on `Unavailable` that is not
/// one of etcd's own errors; writes only when no connection was there.
fn safe_to_retry(retry: Retry, status: &Status) -> bool {
    if status.code() != Code::Unavailable {
        return false;
    }
    match retry {
        Retry::Repeatable => true,
        Retry::NonRepeatable => matches!(
            status.message(),
            "there is no address available" | "there is no connection available"
        ),
    }
}

/// An endpoint's host and port, without its scheme (clientv3's
/// `endpoint.Interpret`).
pub fn host(endpoint: &str) -> &str {
    endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .trim_end_matches('/')
}

/// No limit on what a response may carry, as clientv3's
/// `MaxCallRecvMsgSize` default (`math.MaxInt32`).
const MAX_MESSAGE: usize = i32::MAX as usize;

pub fn kv(ch: Ch) -> KvClient<Ch> {
    KvClient::new(ch).max_decoding_message_size(MAX_MESSAGE)
}

pub fn lease(ch: Ch) -> LeaseClient<Ch> {
    LeaseClient::new(ch).max_decoding_message_size(MAX_MESSAGE)
}

pub fn cluster(ch: Ch) -> ClusterClient<Ch> {
    ClusterClient::new(ch).max_decoding_message_size(MAX_MESSAGE)
}

pub fn maintenance(ch: Ch) -> MaintenanceClient<Ch> {
    MaintenanceClient::new(ch).max_decoding_message_size(MAX_MESSAGE)
}

pub fn watch(ch: Ch) -> WatchClient<Ch> {
    WatchClient::new(ch).max_decoding_message_size(MAX_MESSAGE)
}

pub fn auth(ch: Ch) -> AuthClient<Ch> {
    AuthClient::new(ch).max_decoding_message_size(MAX_MESSAGE)
}
