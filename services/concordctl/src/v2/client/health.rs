//! cluster-health's plain `http.Client` GET of `<url>/health`: no
//! fail-over, no cURL line, the client's dial timeout.

use std::time::{Duration, Instant};

use concord_store::go;

use super::Client;
use crate::http::{self, parse_url, Deadlines, TransportError};

impl Client {
    /// The body of `<url>/health`, or Go's error (`Get "<url>/health":
    /// ...`). Unlike etcdctl, whose request has no deadline and hangs on a
    /// stopped member, the whole request is bounded by `--total-timeout`,
    /// failing as Go's `Client.Timeout` does.
    pub fn health(&self, url: &str) -> Result<Vec<u8>, String> {
        let full = format!("{url}/health");
        let wrap = |e: String| format!("Get {}: {e}", go::quote(&full));
        let u = parse_url(&full).map_err(&wrap)?;
        let now = Instant::now();
        let limit = now + self.total_timeout.max(Duration::from_millis(1));
        let d = Deadlines::client_timeout(now + self.dial_timeout(), limit);
        match http::round_trip(&http::Request::get(&u), d) {
            Ok(r) => Ok(r.body),
            Err(TransportError::HeaderTimeout | TransportError::Deadline) => Err(wrap(
                "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".into(),
            )),
            Err(TransportError::Other { text, .. }) => Err(wrap(text)),
        }
    }
}
