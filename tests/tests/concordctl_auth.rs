//! concordctl's security commands and flags as etcdctl 3.4's: the
//! `user` and `role` commands in every writer (concordctl against etcd
//! 3.4 and against Concord, each compared with etcdctl against etcd 3.4),
//! `auth enable` and the `--user`/`--password` flows (token, wrong
//! password, password prompt, permission denied, `auth disable`), and the
//! TLS flags (`--cacert`, `--cert`, `--key`, `--insecure-skip-tls-verify`,
//! `--insecure-transport`, `https://` endpoints) against a TLS etcd and a
//! TLS Concord, with certificates made here with rcgen.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use concord_tests::etcdctl_v3::{concordctl_bin, differences, normalise, RUN_LIMIT};
use concord_tests::{concord_bin, free_port, which, Server, READY_TIMEOUT};

/// One run of a client: exit code, stdout and stderr, without clientv3's
/// retry warnings (their times and client IDs differ run to run).
fn transcript(ctl: &Path, endpoint: &str, args: &[&str], stdin: &str, dir: &Path) -> String {
    transcript_api("3", ctl, endpoint, args, stdin, dir)
}

/// [`transcript`] with `ETCDCTL_API` set to `api`.
fn transcript_api(
    api: &str,
    ctl: &Path,
    endpoint: &str,
    args: &[&str],
    stdin: &str,
    dir: &Path,
) -> String {
    let mut child = Command::new(ctl)
        .current_dir(dir)
        .env("ETCDCTL_API", api)
        .env_remove("ETCDCTL_ENDPOINTS")
        .arg(format!("--endpoints={endpoint}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the client runs");
    let mut input = child.stdin.take().expect("stdin");
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let out = bounded(child, RUN_LIMIT);
    let stderr: String = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.contains("retry_interceptor"))
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "$ {}\n{}{}[exit {}]",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        stderr,
        out.status.code().unwrap_or(-1)
    )
}

/// Waits for `child` at most `limit` (a hang fails the comparison rather
/// than the whole run), reading its output meanwhile.
fn bounded(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("client output"),
        Err(_) => {
            // Our own child, by its id: no stray process outlives the test.
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            rx.recv().expect("killed client").expect("client output")
        }
    }
}

/// The user and role script: every command, in each writer that prints
/// it (protobuf is compared on one server only, as its bytes carry the
/// cluster's IDs unmasked).
fn user_role_script() -> Vec<(Vec<&'static str>, &'static str)> {
    let mut s: Vec<(Vec<&str>, &str)> = vec![
        (vec!["user", "add", "alice:pw"], ""),
        (vec!["user", "add", "alice:pw"], ""),
        (vec!["user", "add", "bob", "--no-password"], ""),
        (vec!["user", "add", "carol", "--new-user-password=c"], ""),
        (
            vec!["user", "add", "dave", "--interactive=false"],
            "d1 d2\n",
        ),
        (vec!["user", "add", ":x"], ""),
        (vec!["user", "add"], ""),
        (vec!["role", "add", "r1"], ""),
        (vec!["role", "add", "r1"], ""),
        (vec!["role", "add", "r2"], ""),
        (
            vec!["role", "grant-permission", "r1", "readwrite", "foo"],
            "",
        ),
        (
            vec!["role", "grant-permission", "r1", "READ", "--prefix", "pre/"],
            "",
        ),
        (
            vec!["role", "grant-permission", "r1", "write", "--from-key", "z"],
            "",
        ),
        (
            vec!["role", "grant-permission", "r1", "write", "a", "c"],
            "",
        ),
        (
            vec!["role", "grant-permission", "r1", "read", "", "--prefix"],
            "",
        ),
        (vec!["role", "grant-permission", "r1", "nope", "k"], ""),
        (
            vec![
                "role",
                "grant-permission",
                "r1",
                "read",
                "k",
                "--prefix",
                "--from-key",
            ],
            "",
        ),
        (
            vec![
                "role",
                "grant-permission",
                "r1",
                "read",
                "k",
                "l",
                "--prefix",
            ],
            "",
        ),
        (vec!["role", "grant-permission", "r1", "read"], ""),
        (vec!["user", "grant-role", "alice", "r1"], ""),
        (vec!["user", "grant-role", "alice", "r2"], ""),
        (vec!["user", "grant-role", "alice", "nosuch"], ""),
        (vec!["user", "grant-role", "alice"], ""),
    ];
    for w in ["simple", "json", "fields", "table"] {
        for cmd in [
            vec!["role", "get", "r1"],
            vec!["role", "list"],
            vec!["user", "get", "alice"],
            vec!["user", "get", "alice", "--detail"],
            vec!["user", "list"],
            vec!["role", "add", "tmp"],
            vec!["role", "delete", "tmp"],
            vec!["user", "add", "tmp:x"],
            vec!["user", "passwd", "tmp", "--interactive=false"],
            vec!["user", "grant-role", "tmp", "r2"],
            vec!["user", "revoke-role", "tmp", "r2"],
            vec!["user", "delete", "tmp"],
        ] {
            let mut args = vec!["-w", w];
            args.extend(cmd);
            s.push((args, "np\n"));
        }
    }
    s.extend([
        (vec!["role", "get", "nosuch"], ""),
        (vec!["user", "get", "nosuch"], ""),
        (vec!["role", "revoke-permission", "r1", "nosuch"], ""),
        (
            vec!["role", "revoke-permission", "r1", "z", "--from-key"],
            "",
        ),
        (vec!["role", "revoke-permission", "r1", "a", "c"], ""),
        (
            vec!["role", "revoke-permission", "r1", "pre/", "--prefix"],
            "",
        ),
        (vec!["role", "revoke-permission", "r1", "foo"], ""),
        (vec!["role", "revoke-permission", "r1", "", "--prefix"], ""),
        (vec!["role", "revoke-permission", "r1"], ""),
        (vec!["role", "get", "r1"], ""),
        (vec!["user", "revoke-role", "alice", "r1"], ""),
        (vec!["user", "revoke-role", "alice", "r1"], ""),
        (
            vec!["user", "passwd", "nobody", "--interactive=false"],
            "x\n",
        ),
        (vec!["user", "list", "extra"], ""),
        (vec!["role", "list", "extra"], ""),
        (vec!["role", "delete", "r2"], ""),
        (vec!["user", "get", "alice"], ""),
        (vec!["user", "delete", "alice"], ""),
        (vec!["user", "delete", "alice"], ""),
        (vec!["auth", "disable", "extra"], ""),
        (vec!["auth", "enable"], ""),
        (vec!["user", "list"], ""),
    ]);
    s
}

fn run_user_role(ctl: &Path, server: &Server, dir: &Path) -> Vec<String> {
    let ep = format!("http://127.0.0.1:{}", server.client_port);
    user_role_script()
        .iter()
        .map(|(args, stdin)| normalise(&transcript(ctl, &ep, args, stdin, dir), server))
        .collect()
}

#[test]
fn user_and_role_commands_print_what_etcdctl_prints() {
    let Some(etcdctl) = which("etcdctl") else {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    };
    let concordctl = concordctl_bin();
    let dir = tempfile::tempdir().unwrap();
    let Some(etcd) = Server::etcd("default", &dir.path().join("e1")) else {
        eprintln!("skipped: etcd 3.4 is not installed");
        return;
    };
    let want = run_user_role(&etcdctl, &etcd, dir.path());
    // protobuf: both clients on the same server, so the bytes match whole.
    let ep = format!("http://127.0.0.1:{}", etcd.client_port);
    let mut pb_diffs = Vec::new();
    for cmd in [
        &["-w", "protobuf", "role", "get", "r1"][..],
        &["-w", "protobuf", "role", "list"],
        &["-w", "protobuf", "user", "list"],
        &["-w", "protobuf", "user", "get", "root"],
        &["-w", "protobuf", "role", "add", "pb"],
    ] {
        let a = transcript(&etcdctl, &ep, cmd, "", dir.path());
        let _ = transcript(&etcdctl, &ep, &["role", "delete", "pb"], "", dir.path());
        let b = transcript(&concordctl, &ep, cmd, "", dir.path());
        let _ = transcript(&etcdctl, &ep, &["role", "delete", "pb"], "", dir.path());
        if a != b {
            pb_diffs.push(format!("--- etcdctl\n{a}\n+++ concordctl\n{b}"));
        }
    }
    drop(etcd);
    let etcd = Server::etcd("default", &dir.path().join("e2")).expect("etcd ran before");
    let against_etcd = run_user_role(&concordctl, &etcd, dir.path());
    drop(etcd);
    let concord = Server::concord("default", &dir.path().join("c"));
    let against_concord = run_user_role(&concordctl, &concord, dir.path());
    drop(concord);
    let mut diffs = differences(&want, &against_etcd, "etcdctl, etcd", "concordctl, etcd");
    diffs.extend(differences(
        &want,
        &against_concord,
        "etcdctl, etcd",
        "concordctl, concord",
    ));
    diffs.extend(pb_diffs);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // The script did what it says (a guard against all failing alike).
    assert!(want[0].contains("User alice created"), "{}", want[0]);
    assert!(want.iter().any(|t| t.contains("(prefix pre/)")));
    assert!(want.iter().any(|t| t.contains("\"PermType\" :  READWRITE")));
}

/// The `auth enable` and `--user` script: root and a user with a role on
/// `foo`, auth enabled (etcdctl adds the root role itself), then calls
/// with and without a user, a wrong password, `--password`, the password
/// prompt, a permitted and a refused write, and `auth disable`.
const AUTH_SCRIPT: &[(&[&str], &str)] = &[
    (&["user", "add", "root:rootpw"], ""),
    (&["user", "add", "alice:alicepw"], ""),
    (&["role", "add", "r1"], ""),
    (&["role", "grant-permission", "r1", "readwrite", "foo"], ""),
    (&["user", "grant-role", "alice", "r1"], ""),
    (&["--user", "root:rootpw", "user", "list"], ""),
    (&["auth", "enable"], ""),
    (&["role", "list"], ""),
    (&["user", "list"], ""),
    (&["--user", "root:rootpw", "user", "list"], ""),
    (
        &["--user", "root:rootpw", "-w", "json", "user", "get", "root"],
        "",
    ),
    (&["--user", "root:wrong", "user", "list"], ""),
    (&["--user", "nobody:x", "user", "list"], ""),
    (
        &["--user", "root", "--password", "rootpw", "role", "list"],
        "",
    ),
    (&["--user", "root", "role", "get", "root"], "rootpw\n"),
    (&["--user", "alice:alicepw", "put", "foo", "1"], ""),
    (&["--user", "alice:alicepw", "get", "foo"], ""),
    (&["--user", "alice:alicepw", "put", "bar", "1"], ""),
    (&["--user", "alice:alicepw", "user", "list"], ""),
    (&["put", "foo", "2"], ""),
    (&["--user", "root:rootpw", "auth", "enable"], ""),
    (&["--user", "alice:alicepw", "auth", "disable"], ""),
    (&["--user", "root:rootpw", "auth", "disable"], ""),
    (&["--user", "root:rootpw", "auth", "disable"], ""),
    // Authentication off: --user is no error (clientv3 goes on without a
    // token), even with a wrong password.
    (&["--user", "root:wrong", "get", "foo"], ""),
    (&["user", "delete", "root"], ""),
    (&["auth", "enable"], ""),
    (&["role", "delete", "root"], ""),
    (&["user", "add", "root:rootpw"], ""),
    (&["auth", "enable"], ""),
    (&["--user", "root:rootpw", "role", "get", "root"], ""),
    (&["--user", "root:rootpw", "auth", "disable"], ""),
];

fn run_auth(ctl: &Path, server: &Server, dir: &Path) -> Vec<String> {
    let ep = format!("http://127.0.0.1:{}", server.client_port);
    AUTH_SCRIPT
        .iter()
        .map(|(args, stdin)| normalise(&transcript(ctl, &ep, args, stdin, dir), server))
        .collect()
}

/// etcdctl's transcript of [`AUTH_SCRIPT`] on a fresh etcd, and
/// concordctl's on a fresh server of `kind`; the differing steps.
fn auth_differences(kind: &str) -> Option<Vec<String>> {
    let Some(etcdctl) = which("etcdctl") else {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(etcd) = Server::etcd("default", &dir.path().join("e1")) else {
        eprintln!("skipped: etcd 3.4 is not installed");
        return None;
    };
    let want = run_auth(&etcdctl, &etcd, dir.path());
    drop(etcd);
    assert!(
        want[6].contains("Authentication Enabled"),
        "etcd refused auth enable: {}",
        want[6]
    );
    let server = match kind {
        "etcd" => Server::etcd("default", &dir.path().join("e2")).expect("etcd ran before"),
        _ => Server::concord("default", &dir.path().join("c")),
    };
    let got = run_auth(&concordctl_bin(), &server, dir.path());
    drop(server);
    Some(differences(
        &want,
        &got,
        "etcdctl, etcd",
        &format!("concordctl, {kind}"),
    ))
}

#[test]
fn auth_enable_and_user_flows_match_etcdctl_against_etcd() {
    if let Some(diffs) = auth_differences("etcd") {
        assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    }
}

#[test]
fn auth_enable_and_user_flows_match_etcdctl_against_concord() {
    if let Some(diffs) = auth_differences("concord") {
        assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    }
}

/// `ca.pem` (and `other-ca.pem`, a CA that signed nothing here), the
/// server's `server.pem`/`server-key.pem` (127.0.0.1 and localhost) and
/// the client's `client.pem`/`client-key.pem`, all ECDSA P-256.
fn make_certs(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    let ca_params = |cn: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, cn);
        p
    };
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params("ca").self_signed(&ca_key).unwrap();
    let other_key = KeyPair::generate().unwrap();
    let other = ca_params("other-ca").self_signed(&other_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("other-ca.pem"), other.pem()).unwrap();
    for (name, cn) in [("server", "server"), ("client", "client")] {
        let key = KeyPair::generate().unwrap();
        let mut p =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = p.signed_by(&key, &ca, &ca_key).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
    }
}

/// A server (etcd or concord) serving its client URL over TLS with client
/// certificates required; killed when dropped.
struct TlsServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CLIENT_TLS: &[&str] = &[
    "--cacert",
    "ca.pem",
    "--cert",
    "client.pem",
    "--key",
    "client-key.pem",
];

/// Starts `bin` on `https://127.0.0.1:<fresh port>` in `dir` (where the
/// certificates are); ready once concordctl's `endpoint health` over TLS
/// says so (polled; the server's exit fails at once).
fn start_tls(bin: &Path, dir: &Path, name: &str) -> TlsServer {
    let port = free_port();
    let client = format!("https://127.0.0.1:{port}");
    let peer = format!("http://127.0.0.1:{}", free_port());
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(bin)
        .current_dir(dir)
        .args(["--name", name, "--data-dir", &format!("{name}.data")])
        .args(["--listen-client-urls", &client])
        .args(["--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &format!("{name}={peer}")])
        .args(["--cert-file", "server.pem", "--key-file", "server-key.pem"])
        .args(["--trusted-ca-file", "ca.pem", "--client-cert-auth"])
        .arg("--enable-v2=true")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start server");
    let mut s = TlsServer { child, port, log };
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = s.child.try_wait() {
            panic!(
                "{name} exited with {status}: {}",
                std::fs::read_to_string(&s.log).unwrap_or_default()
            );
        }
        let mut args = CLIENT_TLS.to_vec();
        args.extend(["endpoint", "health"]);
        let t = transcript(&concordctl_bin(), &client, &args, "", dir);
        if t.ends_with("[exit 0]") {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{name} not ready over TLS ({t}): {}",
            std::fs::read_to_string(&s.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The TLS script: `(endpoint kind, flags)`, where the kind is `https`
/// (`https://127.0.0.1:P`), `bare` (`127.0.0.1:P`) or `http`.
const TLS_SCRIPT: &[(&str, &[&str])] = &[
    (
        "https",
        &[
            "--cacert",
            "ca.pem",
            "--cert",
            "client.pem",
            "--key",
            "client-key.pem",
            "put",
            "k",
            "v",
        ],
    ),
    (
        "https",
        &[
            "--cacert",
            "ca.pem",
            "--cert",
            "client.pem",
            "--key",
            "client-key.pem",
            "get",
            "k",
        ],
    ),
    // A bare endpoint is TLS when a TLS file is given.
    (
        "bare",
        &[
            "--cacert",
            "ca.pem",
            "--cert",
            "client.pem",
            "--key",
            "client-key.pem",
            "get",
            "k",
        ],
    ),
    // No CA: nothing to check the server against but with the skip flag.
    (
        "https",
        &[
            "--insecure-skip-tls-verify",
            "--insecure-transport=false",
            "--cert",
            "client.pem",
            "--key",
            "client-key.pem",
            "get",
            "k",
        ],
    ),
    (
        "bare",
        &[
            "--insecure-skip-tls-verify",
            "--cert",
            "client.pem",
            "--key",
            "client-key.pem",
            "get",
            "k",
        ],
    ),
    (
        "https",
        &[
            "--cacert",
            "ca.pem",
            "--cert",
            "client.pem",
            "--key",
            "client-key.pem",
            "-w",
            "json",
            "role",
            "list",
        ],
    ),
    // The flags' errors.
    (
        "https",
        &["--cacert", "ca.pem", "--cert", "client.pem", "get", "k"],
    ),
    ("https", &["--cacert", "", "get", "k"]),
    ("https", &["--cacert", "missing.pem", "get", "k"]),
];

/// Refused connections: only the exit code is compared (grpc-go's and
/// rustls's reasons are worded differently in the warnings).
const TLS_REFUSED: &[(&str, &[&str])] = &[
    // The server wants a client certificate.
    (
        "https",
        &["--cacert", "ca.pem", "--command-timeout=3s", "get", "k"],
    ),
    // The server's certificate is not from the CA given.
    (
        "https",
        &[
            "--cacert",
            "other-ca.pem",
            "--cert",
            "client.pem",
            "--key",
            "client-key.pem",
            "--command-timeout=3s",
            "get",
            "k",
        ],
    ),
    // Plain HTTP/2 to a TLS port.
    ("http", &["--command-timeout=3s", "get", "k"]),
];

fn endpoint(kind: &str, port: u16) -> String {
    match kind {
        "https" => format!("https://127.0.0.1:{port}"),
        "http" => format!("http://127.0.0.1:{port}"),
        _ => format!("127.0.0.1:{port}"),
    }
}

fn tls_transcripts(ctl: &Path, s: &TlsServer, dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = TLS_SCRIPT
        .iter()
        .map(|(kind, args)| {
            let t = transcript(ctl, &endpoint(kind, s.port), args, "", dir);
            // The header's IDs differ from server to server, the ports
            // from run to run.
            let t = t.replace(&s.port.to_string(), "PORT");
            mask_ids(&t)
        })
        .collect();
    for (kind, args) in TLS_REFUSED {
        let t = transcript(ctl, &endpoint(kind, s.port), args, "", dir);
        let code = t.rsplit("[exit ").next().unwrap_or("").to_string();
        out.push(format!("$ {kind} {}\n[exit {code}", args.join(" ")));
    }
    // v2 (HTTP/1.1 over TLS): the same files under v2's flag names, and
    // --username sent as Basic auth (the server has auth off, so any
    // user reads; the prompt is etcdctl's).
    let ep = endpoint("https", s.port);
    for (args, stdin) in V2_TLS_SCRIPT {
        let t = transcript_api("2", ctl, &ep, args, stdin, dir);
        out.push(t.replace(&s.port.to_string(), "PORT"));
    }
    let t = transcript_api(
        "2",
        ctl,
        &ep,
        &["--ca-file", "ca.pem", "get", "/v2k"],
        "",
        dir,
    );
    let code = t.rsplit("[exit ").next().unwrap_or("").to_string();
    out.push(format!("$ v2 without a client certificate\n[exit {code}"));
    out
}

const V2_TLS: [&str; 6] = [
    "--ca-file",
    "ca.pem",
    "--cert-file",
    "client.pem",
    "--key-file",
    "client-key.pem",
];

/// v2's TLS script: `(arguments, stdin)`.
const V2_TLS_SCRIPT: &[(&[&str], &str)] = &[
    (
        &[
            V2_TLS[0], V2_TLS[1], V2_TLS[2], V2_TLS[3], V2_TLS[4], V2_TLS[5], "set", "/v2k", "v",
        ],
        "",
    ),
    (
        &[
            V2_TLS[0], V2_TLS[1], V2_TLS[2], V2_TLS[3], V2_TLS[4], V2_TLS[5], "get", "/v2k",
        ],
        "",
    ),
    (
        &[
            V2_TLS[0], V2_TLS[1], V2_TLS[2], V2_TLS[3], V2_TLS[4], V2_TLS[5], "-u", "root:pw",
            "get", "/v2k",
        ],
        "",
    ),
    (
        &[
            V2_TLS[0],
            V2_TLS[1],
            V2_TLS[2],
            V2_TLS[3],
            V2_TLS[4],
            V2_TLS[5],
            "--username",
            "root",
            "get",
            "/v2k",
        ],
        "pw\n",
    ),
];

/// JSON's `"cluster_id"`, `"member_id"`, `"revision"` and `"raft_term"`
/// masked (both clients write to one server, so revisions move on).
fn mask_ids(t: &str) -> String {
    let mut out = String::new();
    let mut rest = t;
    while let Some(i) = [
        "\"cluster_id\":",
        "\"member_id\":",
        "\"revision\":",
        "\"raft_term\":",
    ]
    .iter()
    .filter_map(|k| rest.find(k).map(|i| (i, k.len())))
    .min()
    .map(|(i, l)| i + l)
    {
        out.push_str(&rest[..i]);
        out.push('N');
        rest = rest[i..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

#[test]
fn tls_flags_reach_etcd_and_concord_as_etcdctls() {
    let (Some(etcdctl), Some(etcd)) = (which("etcdctl"), which("etcd")) else {
        eprintln!("skipped: etcd 3.4 is not installed");
        return;
    };
    let concordctl = concordctl_bin();
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let e = start_tls(&etcd, dir.path(), "etcd");
    let want = tls_transcripts(&etcdctl, &e, dir.path());
    let got_etcd = tls_transcripts(&concordctl, &e, dir.path());
    drop(e);
    let c = start_tls(&concord_bin(), dir.path(), "concord");
    let got_concord = tls_transcripts(&concordctl, &c, dir.path());
    drop(c);
    let mut diffs = differences(&want, &got_etcd, "etcdctl, etcd", "concordctl, etcd");
    diffs.extend(differences(
        &want,
        &got_concord,
        "etcdctl, etcd",
        "concordctl, concord",
    ));
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(want[1].contains("\nk\nv\n"), "{}", want[1]);
    assert!(want[3].contains("\nk\nv\n"), "{}", want[3]);
}
