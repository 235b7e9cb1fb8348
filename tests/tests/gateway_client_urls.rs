//! # What a gateway reports as the members' client URLs
//!
//! A `concord-consensus` member's client URL serves gRPC, so a client that
//! syncs the member list through a gateway (etcdctl v2, `concordctl`
//! without `--no-sync`) needs the gateway to report URLs it can speak to
//! (`services/gateway/src/advertise.rs`). Against a real split deployment
//! (three members, a watch replica, gateways):
//!
//! - a gateway given `--advertise-client-urls` reports them as every
//!   member's client URLs in `/v2/members`, `/v2/members/leader` and
//!   `/v2/machines`;
//! - without it, a gateway listening on 127.0.0.1 (as scripts/split-local's)
//!   reports its listen URL; one listening on 0.0.0.0 only reports the
//!   members' own URLs (compose.yaml's members advertise the front);
//! - `concordctl` without `--no-sync`, and `ETCDCTL_API=2 etcdctl` where it
//!   is installed, read and write through such gateways.

use std::process::Command;
use std::time::Duration;

use concord_tests::split::{bin, serial, urls, Split, SplitOptions};
use concord_tests::{free_port, output_bounded, which};
use serde_json::{json, Value};

const CLIENT: Duration = Duration::from_secs(60);

/// Starts one more gateway on `listen` with `extra` flags and waits until
/// it is healthy; returns its index in `s.gateway_ports`.
fn gateway(s: &mut Split, listen_host: &str, extra: &[String]) -> usize {
    let port = free_port();
    let g = s.gateway_ports.len();
    s.gateway_ports.push(port);
    let mut args = vec![
        "--name".to_string(),
        format!("g{}", g + 1),
        "--listen-client-urls".into(),
        format!("http://{listen_host}:{port}"),
        "--consensus-endpoints".into(),
        urls(&s.consensus_clients),
        "--watch-endpoints".into(),
        urls(&s.watch_ports),
    ];
    args.extend_from_slice(extra);
    s.spawn(&format!("g{}", g + 1), &bin("concord-gateway"), &args);
    s.wait_healthy(g);
    g
}

/// The client URLs of every member listed by gateway `g`, and the count.
fn client_urls(s: &Split, g: usize) -> (Vec<Value>, usize) {
    let r = s.req(g, "GET", "/v2/members", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let members = r.json()["members"].as_array().cloned().unwrap_or_default();
    let mut all: Vec<Value> = members.iter().map(|m| m["clientURLs"].clone()).collect();
    all.dedup();
    (all, members.len())
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// Runs a v2 client (concordctl, etcdctl) against `endpoint`, without
/// `--no-sync`; its stdout, failing on a non-zero exit.
fn client(program: &std::path::Path, endpoint: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(program);
    cmd.env_remove("ETCDCTL_ENDPOINTS")
        .env("ETCDCTL_API", "2")
        .args(["--endpoints", endpoint])
        .args(args);
    let out = output_bounded(cmd, CLIENT);
    assert!(
        out.status.success(),
        "{} --endpoints {endpoint} {args:?}: {}\nstdout: {}\nstderr: {}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn syncing_clients_work_through_gateways() {
    let _serial = serial();
    let mut s = Split::start_with(SplitOptions {
        watches: 1,
        ..SplitOptions::default()
    });
    let (g1, g2) = (s.gateway_ports[0], s.gateway_ports[1]);

    // Advertised: the given URLs, for every member, in each listing.
    let advertised = vec![
        "--advertise-client-urls".to_string(),
        format!("{},{}", url(g1), url(g2)),
    ];
    let g3 = gateway(&mut s, "127.0.0.1", &advertised);
    let both = json!([url(g1), url(g2)]);
    assert_eq!(client_urls(&s, g3), (vec![both.clone()], 3));
    let leader = s.req(g3, "GET", "/v2/members/leader", "").json();
    assert_eq!(leader["clientURLs"], both, "{leader}");
    let machines = s.req(g3, "GET", "/v2/machines", "").text();
    let mut expected = vec![url(g1); 3];
    expected.extend(vec![url(g2); 3]);
    assert_eq!(machines, expected.join(", "));

    // Not advertised: the listen URL with a host (scripts/split-local's
    // gateways before they advertised), or, listening on 0.0.0.0 only, the
    // members' own URLs.
    assert_eq!(client_urls(&s, 0), (vec![json!([url(g1)])], 3));
    let g4 = gateway(&mut s, "0.0.0.0", &[]);
    let mut own: Vec<Value> = client_urls(&s, g4).0;
    own.sort_by_key(|v| v.to_string());
    let mut members: Vec<Value> = s
        .consensus_clients
        .iter()
        .map(|&p| json!([url(p)]))
        .collect();
    members.sort_by_key(|v| v.to_string());
    assert_eq!(own, members);

    // Clients that sync the member list first.
    let ctl = bin("concordctl");
    let g3_url = url(s.gateway_ports[g3]);
    client(&ctl, &g3_url, &["set", "/synced", "yes"]);
    assert_eq!(client(&ctl, &url(g1), &["get", "/synced"]), "yes\n");
    // After the sync it asks g1 or g2, which report their own listen URL:
    // never a member's gRPC URL.
    let listed = client(&ctl, &g3_url, &["member", "list"]);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    let gateway_urls = [url(g1), url(g2)];
    for line in listed.lines() {
        let listed_url = line
            .split(" clientURLs=")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .unwrap_or("");
        assert!(gateway_urls.iter().any(|u| u == listed_url), "{listed}");
    }
    match which("etcdctl") {
        Some(etcdctl) => {
            client(&etcdctl, &url(g1), &["set", "/etcdctl", "v2"]);
            assert_eq!(client(&etcdctl, &g3_url, &["get", "/etcdctl"]), "v2\n");
            let health = client(&etcdctl, &g3_url, &["cluster-health"]);
            assert!(health.ends_with("cluster is healthy\n"), "{health}");
        }
        None => eprintln!("etcdctl not installed: the etcdctl part is SKIPPED"),
    }
}
