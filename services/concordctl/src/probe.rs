//! `concordctl probe`: a container healthcheck, Concord's own (etcdctl has
//! no such command, so it is hidden from `--help`).
//!
//! Concord's images are `FROM scratch`: no shell, no curl. A compose
//! healthcheck runs this instead:
//!
//! - `concordctl probe http://127.0.0.1:2379`: `GET /health` of a v2
//!   endpoint (`concord`, `concord-gateway`, the front) must answer 200 with
//!   `{"health":"true"}` (the member or gateway reached a quorum);
//! - `concordctl probe --grpc http://127.0.0.1:2379`: the standard gRPC
//!   health service (`grpc.health.v1.Health/Check`, service "") of a gRPC
//!   endpoint (`concord-consensus`, `concord-watch`) must answer SERVING.
//!
//! Exit code 0 when healthy, 1 otherwise, with one line saying why on
//! stderr. The whole probe is bounded by `--timeout` (default 2 s), so a
//! hung server fails the check instead of hanging it.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::http::{self, parse_url, Deadlines, TransportError};

/// Probes `url` (v2 HTTP `/health`, or gRPC health with `grpc`) within
/// `timeout`; prints why on stderr when unhealthy.
pub fn run(url: &str, grpc: bool, timeout: Duration) -> ExitCode {
    let outcome = if grpc {
        probe_grpc(url, timeout)
    } else {
        probe_http(url, timeout)
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("probe {url}: {why}");
            ExitCode::from(1)
        }
    }
}

/// `GET <url>/health`: 200 and `"health":"true"` (or `true`).
fn probe_http(url: &str, timeout: Duration) -> Result<(), String> {
    let full = format!("{}/health", url.trim_end_matches('/'));
    let u = parse_url(&full)?;
    let limit = Instant::now() + timeout;
    let d = Deadlines::client_timeout(limit, limit);
    let resp = match http::round_trip(&http::Request::get(&u), d) {
        Ok(r) => r,
        Err(TransportError::HeaderTimeout | TransportError::Deadline) => {
            return Err(format!("no answer within {timeout:?}"))
        }
        Err(TransportError::Other { text, .. }) => return Err(text),
    };
    let body = String::from_utf8_lossy(&resp.body);
    if resp.status != 200 {
        return Err(format!("status {}: {}", resp.status, body.trim()));
    }
    let healthy = serde_json::from_slice::<serde_json::Value>(&resp.body)
        .ok()
        .and_then(|v| v.get("health").cloned())
        .is_some_and(|h| h == "true" || h == true);
    if healthy {
        Ok(())
    } else {
        Err(format!("unhealthy: {}", body.trim()))
    }
}

/// `grpc.health.v1.Health/Check` with the empty service name (the server
/// as a whole): SERVING.
fn probe_grpc(url: &str, timeout: Duration) -> Result<(), String> {
    crate::runtime::block_on(async {
        let check = async {
            let endpoint = tonic::transport::Endpoint::from_shared(url.to_string())
                .map_err(|e| format!("bad URL: {e}"))?
                .connect_timeout(timeout);
            let channel = endpoint
                .connect()
                .await
                .map_err(|e| format!("cannot connect: {}", error_chain(&e)))?;
            let answer = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map_err(|s| format!("health check failed: {:?} {}", s.code(), s.message()))?;
            let status = answer.into_inner().status;
            if status == ServingStatus::Serving as i32 {
                Ok(())
            } else {
                let name = ServingStatus::try_from(status)
                    .map(|s| s.as_str_name().to_string())
                    .unwrap_or_else(|_| status.to_string());
                Err(format!("not serving: {name}"))
            }
        };
        match tokio::time::timeout(timeout, check).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    })?
}

/// An error with its causes, `a: b: c` (tonic's transport error alone says
/// only "transport error").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
