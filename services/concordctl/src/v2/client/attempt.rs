//! One attempt of a request against one endpoint, following redirects as
//! the Go client's `redirectFollowingHTTPClient` over `simpleHTTPClient`
//! does, with `--debug`'s cURL line before each hop.

use std::time::Instant;

use concord_store::go;

use super::{Action, Client};
use crate::http::{self, parse_url, Deadlines, TransportError, Url};

/// Redirects followed before giving up (the Go client's `checkRedirect`).
const MAX_REDIRECTS: usize = 10;

/// `--debug`'s line for one request.
fn curl_line(act: &Action, url: &Url) -> String {
    let mut line = format!("cURL Command: curl -X {} {url}", act.method);
    if let Some(b) = &act.body {
        line.push_str(&format!(" -d {}", go::quote(b)));
    }
    line
}

impl Client {
    /// The deadlines of one hop: the dial timeout, `--timeout` until the
    /// headers (not for a watch), and the command's context.
    fn hop_deadlines(&self, act: &Action, ctx: Option<Instant>) -> Deadlines {
        let now = Instant::now();
        let header =
            (!act.is_wait() && !self.header_timeout.is_zero()).then(|| now + self.header_timeout);
        Deadlines {
            dial: Some(now + self.dial_timeout()),
            header,
            context: ctx,
        }
    }

    /// One request to `url`.
    fn hop(
        &self,
        url: &Url,
        act: &Action,
        ctx: Option<Instant>,
    ) -> Result<http::Response, TransportError> {
        if self.debug {
            eprintln!("{}", curl_line(act, url));
        }
        let req = http::Request {
            method: act.method,
            url,
            content_type: act.content_type,
            body: act.body.as_deref().map(str::as_bytes),
        };
        http::round_trip(&req, self.hop_deadlines(act, ctx))
    }

    /// One attempt against `ep`: the request, then each redirect's
    /// `Location`.
    pub(super) fn attempt(
        &self,
        ep: &Url,
        act: &Action,
        ctx: Option<Instant>,
    ) -> Result<http::Response, TransportError> {
        let mut url = act.url(ep);
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.hop(&url, act, ctx)?;
            if resp.status / 100 != 3 {
                return Ok(resp);
            }
            let Some(loc) = resp.header("Location") else {
                return Err(TransportError::other("location header not set"));
            };
            url = parse_url(loc).map_err(|_| {
                TransportError::other(format!("location header not valid URL: {loc}"))
            })?;
        }
        Err(TransportError::other("client: too many redirects"))
    }
}
