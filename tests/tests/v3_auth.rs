//! The v3 `Auth` service's user and role management, side by side with
//! etcd 3.4: the same etcdctl commands (users with and without a password,
//! roles, key permissions on a key, a prefix and a key onward, grants,
//! revokes, deletes, a password change, `auth enable` without a root user)
//! print the same lines and exit with the same codes on both.
//!
//!
//! Then auth enabled, side by side again: etcdctl `--user` (a token from
//! `Authenticate`), a request without one, a wrong password, a user whose
//! role grants a prefix read-write and a key write-only, what it may not
//! read or write, the reads a user may make of itself, a revoked role, a
//! deleted user, and `auth disable`.

use std::path::Path;

use concord_tests::etcdctl_script::{run, ENFORCED};
use concord_tests::{which, Server};

/// The script: etcdctl's arguments, and what it reads on stdin.
const SCRIPT: &[(&[&str], &str)] = &[
    (&["user", "add", "alice:pw"], ""),
    (&["user", "add", "alice:pw"], ""),
    (&["user", "add", "bob", "--no-password"], ""),
    (&["user", "add", ":x"], ""),
    (&["role", "add", "r1"], ""),
    (&["role", "add", "r1"], ""),
    (&["role", "grant-permission", "r1", "readwrite", "foo"], ""),
    (
        &["role", "grant-permission", "r1", "read", "--prefix", "pre/"],
        "",
    ),
    (
        &["role", "grant-permission", "r1", "write", "--from-key", "z"],
        "",
    ),
    (&["role", "grant-permission", "r1", "write", "foo"], ""),
    (&["role", "get", "r1"], ""),
    (&["role", "get", "root"], ""),
    (&["role", "list"], ""),
    (&["user", "grant-role", "alice", "r1"], ""),
    (&["user", "grant-role", "alice", "r1"], ""),
    (&["user", "grant-role", "alice", "nosuch"], ""),
    (&["user", "grant-role", "alice", "root"], ""),
    (&["user", "revoke-role", "alice", "root"], ""),
    (&["user", "revoke-role", "alice", "root"], ""),
    (&["user", "get", "alice"], ""),
    (&["user", "get", "alice", "--detail"], ""),
    (&["user", "list"], ""),
    (&["role", "revoke-permission", "r1", "nosuch"], ""),
    (&["role", "revoke-permission", "r1", "z"], ""),
    (&["role", "revoke-permission", "r1", "foo"], ""),
    (&["role", "get", "r1"], ""),
    (&["user", "passwd", "alice", "--interactive=false"], "pw2\n"),
    (
        &["user", "passwd", "nobody", "--interactive=false"],
        "pw2\n",
    ),
    (&["role", "delete", "r1"], ""),
    (&["user", "get", "alice"], ""),
    (&["user", "delete", "alice"], ""),
    (&["user", "delete", "alice"], ""),
    (&["user", "list"], ""),
    (&["auth", "disable"], ""),
    (&["auth", "enable"], ""),
    (&["-w", "json", "role", "get", "nosuch"], ""),
];

/// Each command's exit code and output (stdout then stderr, without
/// clientv3's retry warnings, which carry times and client IDs).
fn run_script(etcdctl: &Path, port: u16) -> Vec<String> {
    run(SCRIPT, etcdctl, port)
}

#[test]
fn users_and_roles_answer_as_etcds() {
    let Some(etcdctl) = which("etcdctl") else {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(mut etcd) = Server::etcd("e", &dir.path().join("e")) else {
        eprintln!("skipped: etcd is not installed");
        return;
    };
    let mut concord = Server::concord("c", &dir.path().join("c"));
    etcd.wait_ready();
    concord.wait_ready();
    let want = run_script(&etcdctl, etcd.client_port);
    let got = run_script(&etcdctl, concord.client_port);
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g, w);
    }
    // The script did what it says (a guard against both failing alike).
    assert!(want[0].contains("User alice created"), "{}", want[0]);
    assert!(
        want[10].contains("[pre/, pre0) (prefix pre/)"),
        "{}",
        want[10]
    );
    assert!(want.last().unwrap().contains("role name not found"));
}

#[test]
fn auth_is_enforced_as_etcd_enforces_it() {
    let Some(etcdctl) = which("etcdctl") else {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(mut etcd) = Server::etcd("e", &dir.path().join("e")) else {
        eprintln!("skipped: etcd is not installed");
        return;
    };
    let mut concord = Server::concord("c", &dir.path().join("c"));
    etcd.wait_ready();
    concord.wait_ready();
    let want = run(ENFORCED, &etcdctl, etcd.client_port);
    let got = run(ENFORCED, &etcdctl, concord.client_port);
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g, w);
    }
    // Guards against both failing alike.
    assert!(want[1].contains("Authentication Enabled"), "{}", want[1]);
    assert!(want[2].contains("user name is empty"), "{}", want[2]);
    assert!(want[12].contains("app/x\n1"), "{}", want[12]);
    assert!(want[14].contains("permission denied"), "{}", want[14]);
    assert!(want.last().unwrap().contains("foo\nbar"));
}

/// etcd's answer to a put made with `token` (the code's number and the
/// message), over its own gRPC API.
fn put_with_token(rt: &tokio::runtime::Runtime, port: u16, token: &str) -> (i32, String) {
    use concord_rpc::etcd::etcdserverpb::{kv_client::KvClient, PutRequest};
    rt.block_on(async {
        let mut kv = KvClient::connect(format!("http://127.0.0.1:{port}"))
            .await
            .expect("connects");
        let mut req = tonic::Request::new(PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        });
        req.metadata_mut()
            .insert("token", token.parse().expect("ascii token"));
        match kv.put(req).await {
            Ok(_) => (0, "OK".to_string()),
            Err(s) => (s.code() as i32, s.message().to_string()),
        }
    })
}

fn authenticate(rt: &tokio::runtime::Runtime, port: u16) -> String {
    use concord_rpc::etcd::etcdserverpb::{auth_client::AuthClient, AuthenticateRequest};
    rt.block_on(async {
        let mut auth = AuthClient::connect(format!("http://127.0.0.1:{port}"))
            .await
            .expect("connects");
        auth.authenticate(AuthenticateRequest {
            name: "root".into(),
            password: "rootpw".into(),
        })
        .await
        .expect("authenticates")
        .into_inner()
        .token
    })
}

/// `--auth-token-ttl`: a token unused for longer is refused as etcd
/// refuses it ("invalid auth token", Unauthenticated), one in use lives
/// on, and a made-up one is refused alike.
#[test]
fn tokens_expire_after_their_ttl_as_etcds() {
    let Some(etcdctl) = which("etcdctl") else {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ttl = ["--auth-token-ttl", "2"];
    let Some(mut etcd) = Server::etcd_with("e", &dir.path().join("e"), &ttl) else {
        eprintln!("skipped: etcd is not installed");
        return;
    };
    let mut concord = Server::concord_with("c", &dir.path().join("c"), &ttl);
    etcd.wait_ready();
    concord.wait_ready();
    let setup: &[(&[&str], &str)] = &[
        (&["user", "add", "root:rootpw"], ""),
        (&["auth", "enable"], ""),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut answers = Vec::new();
    for port in [etcd.client_port, concord.client_port] {
        let set = run(setup, &etcdctl, port);
        assert!(set[1].contains("Authentication Enabled"), "{}", set[1]);
        let token = authenticate(&rt, port);
        let mut seen = vec![put_with_token(&rt, port, &token)];
        // Used every half TTL: it lives on.
        for _ in 0..4 {
            std::thread::sleep(std::time::Duration::from_millis(1000));
            seen.push(put_with_token(&rt, port, &token));
        }
        // Unused for twice its TTL (etcd sweeps each second): expired.
        std::thread::sleep(std::time::Duration::from_millis(4500));
        seen.push(put_with_token(&rt, port, &token));
        seen.push(put_with_token(&rt, port, "madeup.1"));
        answers.push(seen);
    }
    assert_eq!(answers[1], answers[0]);
    let want = &answers[0];
    assert_eq!(want[4], (0, "OK".to_string()));
    assert_eq!(want[5], (16, "etcdserver: invalid auth token".to_string()));
    assert_eq!(want[6], want[5]);
}
