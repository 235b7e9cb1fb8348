//! `httpClusterClient.Do`: a request tried on each endpoint in turn, from
//! the one that answered last, until one answers below 500.

use std::time::Instant;

use super::{Action, Client, Error};
use crate::http::{self, TransportError};

/// Go's `http.StatusText` for the 5xx codes.
fn status_text(code: u16) -> &'static str {
    match code {
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "",
    }
}

/// The Go client's error for a 5xx answer from `ep`.
fn server_error(ep: &http::Url, status: u16) -> String {
    match status {
        500 | 503 => format!("client: etcd member {ep} has no leader"),
        s => format!(
            "client: etcd member {ep} returns server error [{}]",
            status_text(s)
        ),
    }
}

impl Client {
    /// `httpClusterClient.Do`.
    pub fn call(
        &mut self,
        act: &Action,
        ctx: Option<Instant>,
        one_shot: bool,
    ) -> Result<http::Response, Error> {
        let n = self.endpoints.len();
        if n == 0 {
            return Err(Error::NoEndpoints);
        }
        let eps = self.endpoints.clone();
        let pinned = self.pinned;
        let mut errs: Vec<(String, bool)> = Vec::new();
        for i in pinned..pinned + n {
            let k = i % n;
            let failed = match self.attempt(&eps[k], act, ctx) {
                Err(TransportError::Deadline) => return Err(Error::deadline()),
                Err(TransportError::HeaderTimeout) => {
                    let text = format!("client: endpoint {} exceeded header timeout", eps[k]);
                    errs.push((text.clone(), false));
                    (text, false)
                }
                Err(TransportError::Other { text, connection }) => {
                    errs.push((text.clone(), connection));
                    (text, connection)
                }
                Ok(resp) if resp.status / 100 == 5 => {
                    errs.push((server_error(&eps[k], resp.status), false));
                    // Go returns cerr.Errors[0] for a one-shot request.
                    errs[0].clone()
                }
                Ok(resp) => {
                    self.pinned = k;
                    return Ok(resp);
                }
            };
            if one_shot {
                let (text, connection) = failed;
                self.pinned = (k + 1) % n;
                return Err(Error::Raw { text, connection });
            }
        }
        Err(Error::Cluster(errs))
    }
}
