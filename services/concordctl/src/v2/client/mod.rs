//! etcd's Go v2 client (`go.etcd.io/etcd/client`, as etcdctl 3.4 uses it),
//! re-done: the same endpoint handling, requests, fail-over and errors.
//!
//! - Endpoints are shuffled when set (`SetEndpoints`), so the order of a
//!   command's attempts, like etcdctl's, is random.
//! - `sync` (`Sync`) lists the members (`GET /v2/members`) and, when their
//!   client URLs differ from the endpoints, uses them (shuffled) instead.
//! - A request (`Do`, `call.rs`) tries the endpoints in turn from the last
//!   one that answered; connection failures, header timeouts and 5xx
//!   answers move on to the next, and when all failed the error is a
//!   cluster error listing each. "One-shot" requests (delete, create) stop
//!   at the first failure. One attempt (`attempt.rs`) follows redirects.
//! - Deadlines: `--timeout` bounds each attempt until the response headers
//!   (not for `wait=true`), `--total-timeout` the command's context (except
//!   watches), and the dial the smaller of 30s and `--total-timeout`.
//!
//! The APIs on top: `keys.rs` (`/v2/keys`), `members.rs` (`/v2/members`),
//! `health.rs` (cluster-health's `/health`).

mod action;
mod attempt;
mod call;
mod error;
mod go_json;
mod health;
mod keys;
mod members;

pub(crate) use members::new_urls;

use std::time::{Duration, Instant};

use crate::http::{parse_url, Url};

pub use action::{Action, SetOptions};
pub use error::Error;
pub use go_json::syntax_error as json_syntax_error;
pub use keys::KeysResponse;
pub use members::Member;

/// The client's settings: etcdctl's global flags.
pub struct Config {
    pub endpoints: Vec<String>,
    /// `--timeout`; zero: none.
    pub header_timeout: Duration,
    /// `--total-timeout`.
    pub total_timeout: Duration,
    /// `--debug`: print each request as a cURL command on stderr.
    pub debug: bool,
}

pub struct Client {
    endpoints: Vec<Url>,
    pinned: usize,
    header_timeout: Duration,
    total_timeout: Duration,
    debug: bool,
    rng: u64,
}

/// etcdctl's `getEndpoints`: each endpoint parsed, `http` when it has no
/// scheme, and printed back as Go prints a URL.
fn normalise_endpoints(eps: &[String]) -> Result<Vec<String>, String> {
    eps.iter()
        .map(|ep| {
            let mut u = parse_url(ep)?;
            if u.scheme.is_empty() {
                u.scheme = "http".into();
            }
            Ok(u.to_string())
        })
        .collect()
}

impl Client {
    /// etcdctl's `newClient`: `Err` is the text etcdctl prints before
    /// exiting with 1.
    pub fn new(cfg: Config) -> Result<Client, String> {
        let eps = normalise_endpoints(&cfg.endpoints)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut c = Client {
            endpoints: Vec::new(),
            pinned: 0,
            header_timeout: cfg.header_timeout,
            total_timeout: cfg.total_timeout,
            debug: cfg.debug,
            rng: nanos ^ (u64::from(std::process::id()) << 32) | 1,
        };
        c.set_endpoints(&eps).map_err(|e| e.text())?;
        Ok(c)
    }

    fn next_rand(&mut self, n: usize) -> usize {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }

    /// Go's `shuffleEndpoints`.
    fn shuffle(&mut self, eps: Vec<Url>) -> Vec<Url> {
        let n = eps.len();
        let mut p = vec![0usize; n];
        for i in 0..n {
            let j = self.next_rand(i + 1);
            p[i] = p[j];
            p[j] = i;
        }
        p.iter().map(|&k| eps[k].clone()).collect()
    }

    fn parse_endpoints(eps: &[String]) -> Result<Vec<Url>, Error> {
        if eps.is_empty() {
            return Err(Error::NoEndpoints);
        }
        eps.iter()
            .map(|e| parse_url(e).map_err(Error::raw))
            .collect()
    }

    fn set_endpoints(&mut self, eps: &[String]) -> Result<(), Error> {
        let neps = Self::parse_endpoints(eps)?;
        self.endpoints = self.shuffle(neps);
        self.pinned = 0;
        Ok(())
    }

    /// The endpoints in the order requests try them.
    pub fn endpoints(&self) -> Vec<String> {
        self.endpoints.iter().map(|u| u.to_string()).collect()
    }

    /// A context with `--total-timeout` (etcdctl's `contextWithTotalTimeout`).
    pub fn total_context(&self) -> Option<Instant> {
        Some(Instant::now() + self.total_timeout)
    }

    /// The dialer's timeout: etcdctl's `DialTimeout` is 30s, or
    /// `--total-timeout` when that is shorter.
    fn dial_timeout(&self) -> Duration {
        if self.total_timeout.is_zero() {
            Duration::from_secs(30)
        } else {
            self.total_timeout.min(Duration::from_secs(30))
        }
    }

    /// `Sync`: the members' client URLs become the endpoints.
    pub fn sync(&mut self, ctx: Option<Instant>) -> Result<(), Error> {
        let ms = self.members(ctx)?;
        let eps: Vec<String> = ms.iter().flat_map(|m| m.client_urls.clone()).collect();
        let neps = Self::parse_endpoints(&eps)?;
        let mut left: Vec<String> = self.endpoints();
        let mut right: Vec<String> = neps.iter().map(|u| u.to_string()).collect();
        left.sort();
        right.sort();
        if left == right {
            return Ok(());
        }
        self.endpoints = self.shuffle(neps);
        self.pinned = 0;
        Ok(())
    }
}
