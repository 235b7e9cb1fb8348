//! Generated v2 requests (methods, odd paths and encodings, every query
//! parameter with odd values, empty and huge bodies, bad JSON to
//! /v2/members) sent to a running concord, and the same sequence to a real
//! etcd 3.4 where one is installed. Every request must get a well-formed
//! answer in time (a long poll may legitimately wait), the server must not
//! panic or hang, and where etcd runs beside it the status and errorCode of
//! each answer must be etcd's.
//!
//! The generator is a seeded xorshift, so a failure names the seed and the
//! request number and replays exactly (`FUZZ_SEED=<n>`).

use std::time::Duration;

use concord_tests::cluster::request;
use concord_tests::{Response, Server};

/// Requests per run; the whole test stays within a minute on 2 cores.
const REQUESTS: usize = 1500;

/// How long a request that does not wait may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);
/// How long a long poll (wait=true, stream=true) is given before the test
/// moves on (not answering then is correct: nothing changed).
const LONG_POLL: Duration = Duration::from_millis(300);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const METHODS: &[&str] = &[
    "GET", "GET", "GET", "PUT", "PUT", "PUT", "POST", "DELETE", "DELETE", "HEAD", "PATCH",
    "OPTIONS",
];

const KEY_PARTS: &[&str] = &[
    "a",
    "b",
    "dir",
    "x y",
    "%20",
    "%2F",
    "%2f",
    "%00",
    "%zz",
    "%",
    "%C3%A9",
    "\u{e9}",
    "..",
    ".",
    "",
    "_hidden",
    "_etcd",
    "a+b",
    "q%3Fx",
    "%23frag",
    "~",
    "UPPER",
    "very-long-key-part-very-long-key-part-very-long-key-part-very-long-key-part",
];

const PARAMS: &[&str] = &[
    "value",
    "ttl",
    "dir",
    "prevExist",
    "prevValue",
    "prevIndex",
    "recursive",
    "sorted",
    "wait",
    "waitIndex",
    "quorum",
    "stream",
    "refresh",
    "noValueOnSuccess",
    "consistent",
    "unknown",
];

const VALUES: &[&str] = &[
    "",
    "true",
    "false",
    "TRUE",
    "True",
    "t",
    "F",
    "1",
    "0",
    "-1",
    "2",
    "1.5",
    "1e3",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "abc",
    "%00",
    "%zz",
    "x%20y",
    "%E2%82%AC",
    "0x10",
    " 1",
    "100000",
];

const MEMBER_BODIES: &[&str] = &[
    "",
    "{",
    "null",
    "[]",
    "{}",
    "{\"peerURLs\":[]}",
    "{\"peerURLs\":null}",
    "{\"peerURLs\":\"PEER\"}",
    "{\"peerURLs\":[\"not a url\"]}",
    // A member that exists already (409): adding a real new one would
    // leave the single member without a quorum, on etcd as here.
    "{\"peerURLs\":[\"PEER\"],\"extra\":1}",
    "{\"peerURLs\":[\"PEER\",\"PEER\"]}",
    "{\"peerURLs\":[1,2]}",
    "{\"peerURLs\":[\"ftp://127.0.0.1:1\"]}",
    "{\"peerURLs\":[\"PEER\"]}",
    "\u{0}\u{1}",
];

/// One generated request.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Req {
    /// A request line HTTP does not allow (a raw space, or raw non-ASCII
    /// bytes that Go's server takes and hyper's refuses): a 400 or a closed
    /// connection are both fine; it is not compared with etcd.
    fn bad_request_line(&self) -> bool {
        self.path.bytes().any(|b| b == b' ' || !b.is_ascii())
    }

    fn long_poll(&self) -> bool {
        let q = self.path.split_once('?').map_or("", |(_, q)| q);
        self.method == "GET"
            && q.split('&').any(|kv| {
                matches!(
                    kv,
                    "wait=true" | "wait=1" | "wait=t" | "wait=TRUE" | "wait=True" | "stream=true"
                )
            })
    }
}

/// TTLs whose effect does not depend on when each server's expiry tick
/// runs (a key that expires within the run would expire at different
/// requests on the two servers): long, or refused.
const TTL_VALUES: &[&str] = &[
    "",
    "abc",
    "-1",
    "1.5",
    "3600",
    "86400",
    "9223372036",
    "18446744073709551616",
    "0x10",
    "%00",
    " 1",
];

fn query(rng: &mut Rng) -> String {
    let n = rng.below(4);
    let mut parts = Vec::new();
    for _ in 0..n {
        let p = rng.pick(PARAMS);
        let v = if p == "ttl" {
            rng.pick(TTL_VALUES)
        } else {
            rng.pick(VALUES)
        };
        parts.push(format!("{p}={v}"));
    }
    if rng.chance(5) {
        parts.push("&&==&".into());
    }
    parts.join("&")
}

fn generate(rng: &mut Rng) -> Req {
    let method = rng.pick(METHODS).to_string();
    let kind = rng.below(100);
    let (path, content_type, body) = if kind < 8 {
        // Membership: bad JSON, wrong types, wrong content types.
        let m = ["POST", "PUT", "DELETE", "GET"][rng.below(4)];
        let id = ["", "/", "/abc", "/0", "/ffffffffffffffff", "/%zz"][rng.below(6)];
        let ct = [
            Some("application/json"),
            Some("application/x-www-form-urlencoded"),
            None,
            Some("text/plain"),
        ][rng.below(4)];
        let body = rng.pick(MEMBER_BODIES).as_bytes().to_vec();
        return Req {
            method: m.to_string(),
            path: format!("/v2/members{id}"),
            content_type: ct.map(String::from),
            body,
        };
    } else if kind < 14 {
        let p = [
            "/v2/stats/self",
            "/v2/stats/store",
            "/v2/stats/leader",
            "/v2/stats/",
            "/v2/stats/nope",
            "/version",
            "/health",
            "/v2/machines",
            "/v2",
            "/v2/",
            "/",
            "//v2//keys",
            "/v2/keys",
        ][rng.below(13)];
        (p.to_string(), None, Vec::new())
    } else {
        let depth = 1 + rng.below(3);
        let mut path = String::from("/v2/keys");
        for _ in 0..depth {
            path.push('/');
            path.push_str(rng.pick(KEY_PARTS));
        }
        let q = query(rng);
        if !q.is_empty() {
            path.push('?');
            path.push_str(&q);
        }
        let body_kind = rng.below(10);
        let (ct, body) = match body_kind {
            0 => (None, Vec::new()),
            1 => (Some("application/x-www-form-urlencoded"), Vec::new()),
            2 => (Some("application/json"), b"{\"value\":1}".to_vec()),
            3 => (
                Some("application/x-www-form-urlencoded"),
                format!("value={}", "v".repeat(rng.below(200_000))).into_bytes(),
            ),
            4 => (
                Some("application/x-www-form-urlencoded"),
                vec![0xFF, 0xFE, b'=', 0x00, b'&'],
            ),
            _ => (
                Some("application/x-www-form-urlencoded"),
                query(rng).into_bytes(),
            ),
        };
        (path, ct.map(String::from), body)
    };
    Req {
        method,
        path,
        content_type,
        body,
    }
}

/// What must match etcd: the status, whether the body is JSON and, for an
/// error, its errorCode.
fn essence(r: &Response) -> String {
    let json = serde_json::from_slice::<serde_json::Value>(&r.body).ok();
    let kind = match &json {
        Some(_) => "json",
        None if r.body.is_empty() => "empty",
        None => "text",
    };
    let code = json
        .and_then(|v| v.get("errorCode").cloned())
        .map(|c| format!(" errorCode {c}"))
        .unwrap_or_default();
    format!("{} {kind}{code}", r.status)
}

/// Checks one answer is well formed; returns it (None for a long poll that
/// is still waiting).
fn send(port: u16, req: &Req, n: usize, seed: u64) -> Option<Response> {
    send_to(port, req, n, seed, false)
}

/// The same against etcd: what it does is the reference, not under test
/// (Go's server may reset a connection whose body it did not read).
fn send_to_reference(port: u16, req: &Req, n: usize, seed: u64) -> Option<Response> {
    send_to(port, req, n, seed, true)
}

/// `req` for the server with this peer port (`PEER` in a members body).
fn for_server(req: &Req, peer_port: u16) -> Req {
    let body = String::from_utf8_lossy(&req.body);
    if !req.path.starts_with("/v2/members") || !body.contains("PEER") {
        return req.clone();
    }
    let peer = format!("http://127.0.0.1:{peer_port}");
    Req {
        body: body.replace("PEER", &peer).into_bytes(),
        ..req.clone()
    }
}

fn send_to(port: u16, req: &Req, n: usize, seed: u64, reference: bool) -> Option<Response> {
    let limit = if req.long_poll() {
        LONG_POLL
    } else {
        ANSWER_WITHIN
    };
    let r = request(
        port,
        &req.method,
        &req.path,
        req.content_type.as_deref(),
        &req.body,
        limit,
    );
    let r = match r {
        Ok(r) if req.bad_request_line() => {
            assert!(
                r.status == 400 || r.status < 500,
                "seed {seed} request {n}: {} for {req:?}",
                r.status
            );
            return None;
        }
        Ok(r) => r,
        Err(_) if req.long_poll() || req.bad_request_line() || reference => return None,
        Err(e) => panic!("seed {seed} request {n}: no answer to {req:?}: {e}"),
    };
    assert!(
        (100..600).contains(&r.status),
        "seed {seed} request {n}: status {} for {req:?}",
        r.status
    );
    let json = r
        .header("Content-Type")
        .is_some_and(|c| c.starts_with("application/json"));
    if json && req.method != "HEAD" && !r.body.is_empty() && !req.long_poll() {
        assert!(
            serde_json::from_slice::<serde_json::Value>(&r.body).is_ok()
                || r.text()
                    .lines()
                    .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
            "seed {seed} request {n}: a JSON answer that does not parse for {req:?}: {}",
            r.text()
        );
    }
    Some(r)
}

/// The seeds run by default (each on fresh servers); `FUZZ_SEED=<n>` runs
/// that one alone.
const SEEDS: [u64; 4] = [0x5EED_C0C0_2026, 1, 8, 77];

#[test]
fn generated_requests_get_well_formed_answers_like_etcd() {
    let seeds: Vec<u64> = match std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        None => SEEDS.to_vec(),
    };
    for seed in seeds {
        fuzz(seed);
    }
}

fn fuzz(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut concord = Server::concord("fuzz", &dir.path().join("concord"));
    let mut etcd = Server::etcd("fuzz", &dir.path().join("etcd"));
    if etcd.is_none() {
        eprintln!("etcd not installed: checking concord alone (no comparison)");
    }
    // FUZZ_TRACE=<part of a path>: print both answers for those requests.
    let trace = std::env::var("FUZZ_TRACE").ok();
    let mut rng = Rng(seed);
    let mut differ = Vec::new();
    let mut compared = 0;
    for n in 0..REQUESTS {
        let req = generate(&mut rng);
        let ours = send(
            concord.client_port,
            &for_server(&req, concord.peer_port),
            n,
            seed,
        );
        if let Some(e) = &etcd {
            let theirs = send_to_reference(e.client_port, &for_server(&req, e.peer_port), n, seed);
            if let Some(t) = trace.as_deref().filter(|t| req.path.contains(*t)) {
                let show = |r: &Option<Response>| {
                    r.as_ref().map_or("-".to_string(), |r| {
                        format!(
                            "{} {}",
                            r.status,
                            r.text().chars().take(200).collect::<String>()
                        )
                    })
                };
                eprintln!(
                    "trace {t} #{n} {} {} body {:?}\n  concord {}\n  etcd    {}",
                    req.method,
                    req.path,
                    String::from_utf8_lossy(&req.body)
                        .chars()
                        .take(80)
                        .collect::<String>(),
                    show(&ours),
                    show(&theirs)
                );
            }
            if let (Some(a), Some(b)) = (&ours, &theirs) {
                compared += 1;
                if essence(a) != essence(b) {
                    differ.push(format!(
                        "#{n} {} {} [{}] body {} bytes: concord {} etcd {} ({} / {})",
                        req.method,
                        req.path,
                        req.content_type.as_deref().unwrap_or("-"),
                        req.body.len(),
                        essence(a),
                        essence(b),
                        a.text().chars().take(160).collect::<String>(),
                        b.text().chars().take(160).collect::<String>(),
                    ));
                }
            }
        }
        // Still serving, and not dead, every so often.
        if n % 100 == 99 {
            assert!(
                concord.child.try_wait().unwrap().is_none(),
                "concord exited at request {n}"
            );
            let r = request(
                concord.client_port,
                "GET",
                "/health",
                None,
                b"",
                ANSWER_WITHIN,
            )
            .unwrap_or_else(|e| panic!("seed {seed}: /health after request {n}: {e}"));
            assert_eq!(
                r.status,
                200,
                "seed {seed}: /health after request {n}: {}\n{}",
                r.text(),
                std::fs::read_to_string(&concord.log).unwrap_or_default()
            );
        }
    }
    assert!(
        concord.child.try_wait().unwrap().is_none(),
        "concord exited"
    );
    let log = std::fs::read_to_string(&concord.log).unwrap_or_default();
    assert!(!log.contains("panicked"), "concord panicked:\n{log}");
    concord.kill9();
    if let Some(e) = etcd.as_mut() {
        e.kill9();
        eprintln!(
            "seed {seed}: {compared} answers compared with etcd 3.4, {} differ",
            differ.len()
        );
        assert!(
            differ.is_empty(),
            "seed {seed}: answers that differ from etcd 3.4 (status, errorCode):\n{}",
            differ.join("\n")
        );
    }
}
