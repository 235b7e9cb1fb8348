//! etcd's Go v3 client (`clientv3` 3.4) as etcdctl uses it, on tonic: one
//! connection to the first endpoint that answers; every unary call bounded
//! by the command's deadline, waiting for a connection as grpc-go's
//! wait-for-ready calls do; clientv3's retry interceptor (a warning line
//! per failed attempt, retries of read-only calls on `Unavailable`); and
//! its error texts (`error.rs`, `log.rs`).

pub mod error;
pub mod log;

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, Instant};

use concord_rpc::etcd::etcdserverpb::{
    cluster_client::ClusterClient, kv_client::KvClient, lease_client::LeaseClient,
    maintenance_client::MaintenanceClient, watch_client::WatchClient,
};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

pub use error::CallError;

/// What the global flags say of the connection.
#[derive(Debug, Clone)]
pub struct Config {
    pub endpoints: Vec<String>,
    pub dial_timeout: Duration,
    pub keepalive_time: Duration,
    pub keepalive_timeout: Duration,
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
}

impl Client {
    pub fn new(cfg: Config) -> Client {
        Client {
            cfg,
            group: format!("endpoint://client-{}", log::uuid4()),
            passthrough: false,
            channel: RefCell::new(None),
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
    pub async fn channel(&self, deadline: Option<Instant>) -> Result<Channel, Status> {
        if let Some(c) = self.channel.borrow().as_ref() {
            return Ok(c.clone());
        }
        let mut last_error = None;
        loop {
            for ep in &self.cfg.endpoints {
                let Ok(endpoint) = Endpoint::from_shared(url(ep)) else {
                    continue;
                };
                let endpoint = endpoint
                    .connect_timeout(self.cfg.dial_timeout)
                    .http2_keep_alive_interval(self.cfg.keepalive_time.max(Duration::from_secs(10)))
                    .keep_alive_timeout(self.cfg.keepalive_timeout)
                    .tcp_nodelay(true);
                let attempt = endpoint.connect();
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
        F: FnMut(Channel) -> Fut,
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

/// An endpoint as a URL tonic dials: `host:port` alone means plain HTTP/2,
/// as clientv3 reads it.
fn url(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
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

pub fn kv(ch: Channel) -> KvClient<Channel> {
    KvClient::new(ch).max_decoding_message_size(MAX_MESSAGE)
}

pub fn lease(ch: Channel) -> LeaseClient<Channel> {
    LeaseClient::new(ch).max_decoding_message_size(MAX_MESSAGE)
}

pub fn cluster(ch: Channel) -> ClusterClient<Channel> {
    ClusterClient::new(ch).max_decoding_message_size(MAX_MESSAGE)
}

pub fn maintenance(ch: Channel) -> MaintenanceClient<Channel> {
    MaintenanceClient::new(ch).max_decoding_message_size(MAX_MESSAGE)
}

pub fn watch(ch: Channel) -> WatchClient<Channel> {
    WatchClient::new(ch).max_decoding_message_size(MAX_MESSAGE)
}
