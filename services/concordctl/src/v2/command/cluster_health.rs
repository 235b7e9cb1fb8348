//! etcdctl's `cluster-health` (`cluster_health.go`): no sync; the member
//! list from the endpoints, then each member's client URLs' `/health`
//! until one answers.

use std::process::ExitCode;
use std::time::Duration;

use super::util::must_new_client;
use crate::v2::client::{json_syntax_error, Client, Member};
use crate::v2::exit::{handle_error, EXIT_CLUSTER_NOT_HEALTHY, EXIT_SERVER_ERROR};
use crate::v2::flags::Globals;

/// How one member's `/health` answered.
enum Health {
    Healthy,
    Unhealthy,
    /// Not JSON: Go's decoding error.
    Undecodable(String),
}

/// etcdctl decodes `{"health":"true"}`, falling back to `{"health":true}`;
/// the field name matches case-insensitively, as in Go.
fn decode_health(body: &[u8]) -> Health {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return Health::Undecodable(json_syntax_error(body)),
    };
    let field = v.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("health"))
            .map(|(_, v)| v)
    });
    match field {
        Some(serde_json::Value::String(s)) if s == "true" => Health::Healthy,
        Some(serde_json::Value::Bool(true)) => Health::Healthy,
        _ => Health::Unhealthy,
    }
}

/// One member's check, printed; `true` when it is healthy.
fn check_member(c: &Client, m: &Member) -> bool {
    if m.client_urls.is_empty() {
        println!(
            "member {} is unreachable: no available published client urls",
            m.id
        );
        return false;
    }
    for url in &m.client_urls {
        let answer = c.health(url).map(|body| decode_health(&body));
        match answer {
            Err(e) | Ok(Health::Undecodable(e)) => {
                println!(
                    "failed to check the health of member {} on {url}: {e}",
                    m.id
                );
            }
            Ok(Health::Healthy) => {
                println!("member {} is healthy: got healthy result from {url}", m.id);
                return true;
            }
            Ok(Health::Unhealthy) => {
                println!(
                    "member {} is unhealthy: got unhealthy result from {url}",
                    m.id
                );
                return false;
            }
        }
    }
    println!(
        "member {} is unreachable: [{}] are all unreachable",
        m.id,
        m.client_urls.join(" ")
    );
    false
}

/// One round over the members; `true` when all are healthy.
fn check_cluster(c: &Client, ms: &[Member]) -> bool {
    let healthy = ms.iter().filter(|m| check_member(c, m)).count();
    if healthy == ms.len() {
        println!("cluster is healthy");
    } else if healthy == 0 {
        println!("cluster is unavailable");
    } else {
        println!("cluster is degraded");
    }
    healthy == ms.len()
}

pub fn run(g: &Globals, forever: bool) -> ExitCode {
    let mut c = match must_new_client(g, false) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // context.TODO(): no --total-timeout for the list.
    let ms = match c.members(None) {
        Ok(m) => m,
        Err(e) => {
            println!("cluster may be unhealthy: failed to list members");
            return handle_error(EXIT_SERVER_ERROR, &e);
        }
    };
    loop {
        let healthy = check_cluster(&c, &ms);
        if !forever {
            return if healthy {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CLUSTER_NOT_HEALTHY)
            };
        }
        println!("\nnext check after 10 second...\n");
        std::thread::sleep(Duration::from_secs(10));
    }
}
