//! [`Endpoints`]: the members of one tier a client may call (consensus
//! members for a gateway, watch replicas, ...), used one at a time and
//! left for the next when the current one cannot be reached, so a client
//! moves on from a dead or removed member without a restart.
//!
//! What may be sent again is the caller's choice: a call that surely never
//! reached the server ([`never_sent`]: no connection could be made) is
//! always safe to send elsewhere; one that may have reached it only if it
//! has no effect (reads, stats, watches).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// Pause between two rounds over every endpoint.
pub const ROUND_PAUSE: Duration = Duration::from_millis(100);

/// True if the call failed because no connection to the server could be
/// made (refused, or the connect timed out): nothing was sent.
pub fn never_sent(s: &Status) -> bool {
    if s.code() != Code::Unavailable {
        return false;
    }
    if s.message().starts_with(crate::call_stream::NOT_SENT) {
        return true;
    }
    let mut next = std::error::Error::source(s);
    while let Some(e) = next {
        // hyper-util's connector: no address for the name (a stopped
        // container's name leaves Docker's DNS), or no TCP connection
        // (refused, unreachable, or the connect timed out).
        let text = e.to_string();
        if text.contains("tcp connect error") || text.contains("dns error") {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        next = e.source();
    }
    s.message().contains("tcp connect error") || s.message().contains("dns error")
}

/// An endpoint that is not a URL tonic can connect to.
#[derive(Debug, thiserror::Error)]
#[error("bad endpoint {0}")]
pub struct BadEndpoint(pub String);

/// True for the ways a call fails when its server is gone (refused, reset,
/// a connection that broke under it: hyper reports the last as "operation
/// was canceled"), as opposed to an answer from the server.
fn transport_failure(s: &Status) -> bool {
    matches!(
        s.code(),
        Code::Unavailable | Code::Cancelled | Code::Unknown
    )
}

/// A lazily connected channel to `url` (connects on first use).
pub fn channel(url: &str) -> Result<Channel, BadEndpoint> {
    let endpoint =
        Endpoint::from_shared(url.to_string()).map_err(|e| BadEndpoint(format!("{url:?}: {e}")))?;
    Ok(crate::keepalive::client(endpoint).connect_lazy())
}

/// The endpoints of one tier, with the one in use.
#[derive(Clone)]
pub struct Endpoints {
    urls: Arc<[String]>,
    channels: Arc<[Channel]>,
    current: Arc<AtomicUsize>,
}

impl Endpoints {
    /// `urls`: at least one, as `http://host:port`.
    pub fn new(urls: &[String]) -> Result<Endpoints, BadEndpoint> {
        if urls.is_empty() {
            return Err(BadEndpoint("(none given)".into()));
        }
        let channels: Vec<Channel> = urls.iter().map(|u| channel(u)).collect::<Result<_, _>>()?;
        Ok(Endpoints {
            urls: urls.to_vec().into(),
            channels: channels.into(),
            current: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The endpoint in use: its position and channel.
    pub fn current(&self) -> (usize, Channel) {
        let i = self.current.load(Ordering::Acquire) % self.channels.len();
        (i, self.channels[i].clone())
    }

    /// The channel of endpoint `i`.
    pub fn channel_at(&self, i: usize) -> Channel {
        self.channels[i % self.channels.len()].clone()
    }

    /// The position of `url` among the endpoints (a trailing `/` ignored).
    pub fn position(&self, url: &str) -> Option<usize> {
        let url = url.trim_end_matches('/');
        self.urls
            .iter()
            .position(|u| u.trim_end_matches('/') == url)
    }

    /// Moves on from endpoint `i` (if it is still the one in use).
    pub fn failed(&self, i: usize) {
        let next = (i + 1) % self.channels.len();
        let _ = self
            .current
            .compare_exchange(i, next, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Runs `call` on the endpoint in use; while it fails without having
    /// been sent (or, if `idempotent`, with `Unavailable`), moves on to the
    /// next endpoint and sends it again, until `timeout` has passed.
    pub async fn call<T, F, Fut>(
        &self,
        idempotent: bool,
        timeout: Duration,
        mut call: F,
    ) -> Result<T, Status>
    where
        F: FnMut(Channel) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        self.call_indexed(idempotent, timeout, |_, ch| call(ch))
            .await
    }

    /// [`Endpoints::call`], with the position of the endpoint called.
    pub async fn call_indexed<T, F, Fut>(
        &self,
        idempotent: bool,
        timeout: Duration,
        mut call: F,
    ) -> Result<T, Status>
    where
        F: FnMut(usize, Channel) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let deadline = Instant::now() + timeout;
        let mut tried = 0usize;
        loop {
            let (i, ch) = self.current();
            let left = deadline.saturating_duration_since(Instant::now());
            let err = match tokio::time::timeout(left, call(i, ch)).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(s)) => s,
                Err(_) => return Err(Status::deadline_exceeded("no answer in time")),
            };
            let again = never_sent(&err) || (idempotent && transport_failure(&err));
            if !again || Instant::now() >= deadline {
                return Err(err);
            }
            self.failed(i);
            tried += 1;
            if tried.is_multiple_of(self.channels.len()) {
                let pause = ROUND_PAUSE.min(deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(pause).await;
            }
        }
    }
}
