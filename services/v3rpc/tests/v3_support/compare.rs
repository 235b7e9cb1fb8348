//! Running one scenario against Concord's routes and against etcd 3.4, and
//! comparing what each step answered, field for field, with what differs
//! by nature masked: the cluster and member ids and the raft term in
//! headers (and in member lists, the ids). Scenarios use explicit lease ids
//! so that those compare too.

use std::fmt::Debug;
use std::future::Future;

use tonic::{Response, Status};

use super::etcd::Etcd;
use super::server::{Clients, TestServer};

/// What one step answered, as text.
pub type Outcome = String;

/// An answer as text: the message (ids masked) or the error's code and text.
pub fn masked<T: Debug>(r: Result<Response<T>, Status>) -> Outcome {
    match r {
        Ok(resp) => mask(&format!("{:?}", resp.get_ref())),
        Err(s) => error(&s),
    }
}

/// An error as clients see it: code and exact text.
pub fn error(s: &Status) -> Outcome {
    format!("error {:?}: {}", s.code(), s.message())
}

/// Replaces the numbers after the fields that differ by nature with `_`.
pub fn mask(text: &str) -> String {
    const FIELDS: [&str; 4] = ["cluster_id: ", "member_id: ", "raft_term: ", " id: "];
    let mut out = text.to_string();
    for field in FIELDS {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(field) {
            let (head, tail) = rest.split_at(i + field.len());
            result.push_str(head);
            let digits = tail.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 {
                result.push('_');
            }
            rest = &tail[digits..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

/// Runs `scenario` against Concord's routes over the in-process keyspace,
/// then (when etcd is installed) against a fresh etcd 3.4, and asserts that
/// every step answered the same. Returns Concord's outcomes, for the test's
/// own checks.
pub async fn both<F, Fut>(scenario: F) -> Vec<Outcome>
where
    F: Fn(Clients) -> Fut,
    Fut: Future<Output = Vec<Outcome>>,
{
    let server = TestServer::start().await;
    let ours = scenario(Clients::connect(&server.endpoint()).await).await;
    if let Some(etcd) = Etcd::start().await {
        let theirs = scenario(Clients::connect(&etcd.endpoint).await).await;
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(a, b, "step {i}: Concord (left) and etcd 3.4 (right) differ");
        }
        assert_eq!(ours.len(), theirs.len(), "steps");
    }
    ours
}
