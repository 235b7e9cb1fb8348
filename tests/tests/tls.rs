//! TLS on the client URLs (`--cert-file`, `--key-file`, `--trusted-ca-file`,
//! `--client-cert-auth`, `--auto-tls`) and the peer URLs (`--peer-*`), with
//! etcd 3.4's own clients: etcdctl v3 (gRPC over HTTP/2, ALPN h2) and v2
//! (HTTP/1.1) and curl on one https:// port, each command also run against
//! etcd 3.4 with the same certificates and compared. The certificates are
//! made in the test with the `openssl` CLI: a CA, a server certificate for
//! 127.0.0.1 and localhost, a client certificate, and one from another CA.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use concord_tests::{concord_bin, free_port, output_bounded, which, READY_TIMEOUT};

/// A bound on one CLI run: a hang fails the test instead of hanging it.
const CLI_LIMIT: Duration = Duration::from_secs(30);

/// The tools these tests drive; a machine without them skips the tests.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let missing: Vec<&str> = ["openssl", "curl", "etcdctl"]
        .into_iter()
        .filter(|t| which(t).is_none())
        .collect();
    if !missing.is_empty() {
        eprintln!("skipped: {} not installed", missing.join(", "));
        return None;
    }
    Some((which("etcdctl")?, which("curl")?))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run openssl");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Certificate files in `dir`: `ca.pem`, `server.pem`/`server-key.pem`
/// (SAN 127.0.0.1, localhost; server and client use, as etcd's peers need),
/// `client.pem`/`client-key.pem` (CN `client`), and `other.pem`/
/// `other-key.pem` signed by another CA.
fn make_certs(dir: &Path) {
    let ossl = || {
        let mut c = Command::new("openssl");
        c.current_dir(dir);
        c
    };
    for ca in ["ca", "other-ca"] {
        run(ossl().args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{ca}-key.pem"),
            "-out",
            &format!("{ca}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={ca}"),
        ]));
    }
    for (name, cn, ca) in [
        ("server", "server", "ca"),
        ("client", "client", "ca"),
        ("other", "client", "other-ca"),
    ] {
        run(ossl().args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ]));
        std::fs::write(
            dir.join(format!("{name}.ext")),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        .unwrap();
        run(ossl().args([
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}-key.pem"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ]));
    }
}

/// One server process (concord or etcd), killed when dropped.
struct Proc {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

/// Starts `bin` as a one-member cluster serving https:// on a fresh port,
/// with `extra` flags; returns once `ready` (a curl over TLS) succeeds.
fn start(bin: &Path, dir: &Path, name: &str, extra: &[&str], ready: &[&str]) -> Proc {
    let port = free_port();
    let peer = format!("http://127.0.0.1:{}", free_port());
    let client = format!("https://127.0.0.1:{port}");
    let data = dir.join(format!("{name}.data"));
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(bin)
        .args(["--name", name, "--data-dir"])
        .arg(&data)
        .args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", &format!("{name}={peer}")])
        .args(["--enable-v2=true"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start server");
    let mut p = Proc { child, log, port };
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = p.child.try_wait() {
            panic!("{name} exited with {status}: {}", p.log_text());
        }
        let out = curl(dir, ready, &format!("{}/health", p.url()), &[]);
        if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("true") {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{name} not ready: {}",
            p.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn curl(dir: &Path, tls: &[&str], url: &str, extra: &[&str]) -> Output {
    let mut c = Command::new("curl");
    c.current_dir(dir)
        .args(["-sS", "--max-time", "10"])
        .args(tls)
        .args(extra)
        .arg(url);
    output_bounded(c, CLI_LIMIT)
}

fn etcdctl(etcdctl: &Path, dir: &Path, api: &str, args: &[&str]) -> Output {
    let mut c = Command::new(etcdctl);
    c.current_dir(dir).env("ETCDCTL_API", api).args(args);
    output_bounded(c, CLI_LIMIT)
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The client certificate flags of each client.
const V3_TLS: &[&str] = &[
    "--cacert",
    "ca.pem",
    "--cert",
    "client.pem",
    "--key",
    "client-key.pem",
];
const V2_TLS: &[&str] = &[
    "--ca-file",
    "ca.pem",
    "--cert-file",
    "client.pem",
    "--key-file",
    "client-key.pem",
];
const CURL_TLS: &[&str] = &[
    "--cacert",
    "ca.pem",
    "--cert",
    "client.pem",
    "--key",
    "client-key.pem",
];
const SERVER_TLS: &[&str] = &[
    "--cert-file",
    "server.pem",
    "--key-file",
    "server-key.pem",
    "--trusted-ca-file",
    "ca.pem",
    "--client-cert-auth",
];

/// What one server answers to the client-TLS script: each line a command
/// and its exit code and output (timings and ports masked).
fn client_script(ctl: &Path, dir: &Path, p: &Proc) -> Vec<String> {
    let ep = p.url();
    let v3 = |args: &[&str]| {
        let mut a = vec!["--endpoints", ep.as_str()];
        a.extend_from_slice(V3_TLS);
        a.extend_from_slice(args);
        etcdctl(ctl, dir, "3", &a)
    };
    let v2 = |args: &[&str]| {
        let mut a = vec!["--endpoints", ep.as_str()];
        a.extend_from_slice(V2_TLS);
        a.extend_from_slice(args);
        etcdctl(ctl, dir, "2", &a)
    };
    let line = |what: &str, out: Output| {
        let masked = text(&out)
            .replace(&ep, "ENDPOINT")
            .split("took = ")
            .next()
            .unwrap_or_default()
            .to_string();
        format!("{what}: {:?} {masked:?}", out.status.code())
    };
    let mut lines = vec![
        line("v3 endpoint health", v3(&["endpoint", "health"])),
        line("v3 put", v3(&["put", "foo", "bar"])),
        line("v3 get", v3(&["get", "foo"])),
        line("v2 set", v2(&["set", "/v2key", "v2value"])),
        line("v2 get", v2(&["get", "/v2key"])),
    ];
    let put = curl(
        dir,
        CURL_TLS,
        &format!("{ep}/v2/keys/curlkey"),
        &["-XPUT", "-d", "value=bar"],
    );
    // The index differs between the two (etcd's v2 and v3 stores differ).
    let put_text = text(&put);
    assert!(
        put_text.contains(r#""value":"bar""#),
        "curl PUT: {put_text}"
    );
    lines.push(line(
        "curl GET key",
        curl(
            dir,
            CURL_TLS,
            &format!("{ep}/v2/keys/curlkey"),
            &["-o", "/dev/null", "-w", "%{http_code}"],
        ),
    ));
    lines.push(line(
        "curl GET /version",
        curl(dir, CURL_TLS, &format!("{ep}/version"), &[]),
    ));
    // Refused: no client certificate, one from another CA, plain HTTP.
    let refused = |out: Output| format!("{}", !out.status.success());
    lines.push(format!(
        "curl without a client cert refused: {}",
        refused(curl(
            dir,
            &["--cacert", "ca.pem"],
            &format!("{ep}/version"),
            &[]
        ))
    ));
    lines.push(format!(
        "curl with another CA's cert refused: {}",
        refused(curl(
            dir,
            &[
                "--cacert",
                "ca.pem",
                "--cert",
                "other.pem",
                "--key",
                "other-key.pem"
            ],
            &format!("{ep}/version"),
            &[]
        ))
    ));
    let plain = curl(
        dir,
        &[],
        &format!("http://127.0.0.1:{}/version", p.port),
        &[],
    );
    lines.push(format!(
        "curl http:// to the TLS port: {:?}",
        plain.status.code()
    ));
    lines.push(format!(
        "etcdctl v3 without a client cert refused: {}",
        refused(etcdctl(
            ctl,
            dir,
            "3",
            &[
                "--endpoints",
                &ep,
                "--cacert",
                "ca.pem",
                "--dial-timeout",
                "2s",
                "--command-timeout",
                "3s",
                "get",
                "foo"
            ]
        ))
    ));
    lines.push(format!(
        "etcdctl v2 without a client cert refused: {}",
        refused(etcdctl(
            ctl,
            dir,
            "2",
            &["--endpoints", &ep, "--ca-file", "ca.pem", "get", "/v2key"]
        ))
    ));
    lines
}

#[test]
fn client_tls_serves_v2_v3_and_curl_and_refuses_what_etcd_refuses() {
    let Some((ctl, _)) = tools() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_certs(dir);
    let concord = start(&concord_bin(), dir, "concord", SERVER_TLS, CURL_TLS);
    let got = client_script(&ctl, dir, &concord);

    // Garbage and a half-open TLS hello: closed, and the member serves on.
    let mut s = TcpStream::connect(("127.0.0.1", concord.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"\x00\x01garbage\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(buf.is_empty(), "garbage answered with {buf:?}");
    let mut s = TcpStream::connect(("127.0.0.1", concord.port)).unwrap();
    s.write_all(b"\x16\x03\x01\x00\x05hello").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.read_to_end(&mut buf);
    let after = curl(dir, CURL_TLS, &format!("{}/version", concord.url()), &[]);
    assert!(
        after.status.success(),
        "not serving after garbage: {}",
        concord.log_text()
    );
    let log = concord.log_text();
    assert!(
        log.contains("serving client traffic securely on 127.0.0.1:"),
        "{log}"
    );
    assert!(
        log.contains("(error \"tls: client didn't provide a certificate\", ServerName \"\")"),
        "{log}"
    );
    assert!(
        log.contains("tls: first record does not look like a TLS handshake"),
        "{log}"
    );
    drop(concord);

    let Some(etcd_bin) = which("etcd") else {
        eprintln!("etcd 3.4 not installed: checked concord alone");
        assert!(got[0].contains("is healthy"), "{got:#?}");
        return;
    };
    let etcd = start(&etcd_bin, dir, "etcd", SERVER_TLS, CURL_TLS);
    let want = client_script(&ctl, dir, &etcd);
    drop(etcd);
    let diffs: Vec<String> = want
        .iter()
        .zip(&got)
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("etcd:    {w}\nconcord: {g}"))
        .collect();
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn auto_tls_serves_a_self_signed_certificate() {
    let Some((ctl, _)) = tools() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The auto certificate is ECDSA: one TLS 1.2 ECDSA suite allowed.
    let p = start(
        &concord_bin(),
        dir,
        "auto",
        &[
            "--auto-tls",
            "--cipher-suites",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ],
        &["-k"],
    );
    let ep = p.url();
    let ctl_args = |args: &[&str]| {
        let mut a = vec![
            "--endpoints",
            ep.as_str(),
            "--insecure-transport=false",
            "--insecure-skip-tls-verify",
        ];
        a.extend_from_slice(args);
        etcdctl(&ctl, dir, "3", &a)
    };
    assert_eq!(text(&ctl_args(&["put", "foo", "bar"])), "OK\n");
    assert_eq!(text(&ctl_args(&["get", "foo"])), "foo\nbar\n");
    let cert = dir.join("auto.data/fixtures/client/cert.pem");
    assert!(cert.exists(), "{}", p.log_text());
    // The certificate is self-signed: verified against itself it passes.
    let out = curl(
        dir,
        &["--cacert", cert.to_str().unwrap()],
        &format!("{ep}/version"),
        &[],
    );
    assert!(text(&out).contains("etcdserver"), "{out:?}");
    // --cipher-suites: TLS 1.2 offers only the suites listed.
    let v = format!("{ep}/version");
    let tls12 = |cipher: &str| {
        curl(
            dir,
            &["-k", "--tls-max", "1.2", "--ciphers", cipher],
            &v,
            &[],
        )
    };
    assert!(tls12("ECDHE-ECDSA-AES128-GCM-SHA256").status.success());
    assert!(!tls12("ECDHE-ECDSA-AES256-GCM-SHA384").status.success());
}

#[test]
fn https_without_a_certificate_is_refused_in_etcds_words() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}");
    let mut c = Command::new(concord_bin());
    c.current_dir(dir).args([
        "--data-dir",
        "x",
        "--listen-client-urls",
        &url,
        "--advertise-client-urls",
        &url,
    ]);
    let out = output_bounded(c, CLI_LIMIT);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "TLS key/cert (--cert-file, --key-file) must be provided for client url {url} with HTTPS scheme"
    );
    assert!(err.contains(&want), "{err}");
    let mut c = Command::new(concord_bin());
    c.current_dir(dir).args([
        "--data-dir",
        "y",
        "--cert-file",
        "s.pem",
        "--key-file",
        "k.pem",
        "--cipher-suites",
        "TLS_RSA_WITH_RC4_128_SHA",
    ]);
    let out = output_bounded(c, CLI_LIMIT);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unexpected TLS cipher suite \"TLS_RSA_WITH_RC4_128_SHA\""),
        "{err}"
    );
}

/// One member of a peer-TLS cluster: plain client URL, https:// peer URL.
struct PeerMember {
    name: String,
    client_port: u16,
    peer_port: u16,
}

impl PeerMember {
    fn new(name: &str) -> PeerMember {
        PeerMember {
            name: name.to_string(),
            client_port: free_port(),
            peer_port: free_port(),
        }
    }

    fn client(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn peer(&self) -> String {
        format!("https://127.0.0.1:{}", self.peer_port)
    }

    /// Starts the member with mutual peer TLS (the CN checked too).
    fn start(&self, dir: &Path, initial_cluster: &str, state: &str) -> Proc {
        let log = dir.join(format!("{}.log", self.name));
        let child = Command::new(concord_bin())
            .current_dir(dir)
            .args([
                "--name",
                &self.name,
                "--data-dir",
                &format!("{}.data", self.name),
            ])
            .args([
                "--listen-client-urls",
                &self.client(),
                "--advertise-client-urls",
                &self.client(),
            ])
            .args([
                "--listen-peer-urls",
                &self.peer(),
                "--initial-advertise-peer-urls",
                &self.peer(),
            ])
            .args([
                "--initial-cluster",
                initial_cluster,
                "--initial-cluster-state",
                state,
            ])
            .args([
                "--peer-cert-file",
                "server.pem",
                "--peer-key-file",
                "server-key.pem",
                "--peer-trusted-ca-file",
                "ca.pem",
                "--peer-client-cert-auth",
                "--peer-cert-allowed-cn",
                "server",
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start concord");
        Proc {
            child,
            log,
            port: self.client_port,
        }
    }
}

/// Polls `check` until it holds (a CLI run each time), or fails with `what`.
fn eventually(what: &str, mut check: impl FnMut() -> bool, logs: impl Fn() -> String) {
    let deadline = Instant::now() + READY_TIMEOUT;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: timed out\n{}", logs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn peer_tls_cluster_elects_replicates_and_changes_members() {
    let Some((ctl, _)) = tools() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_certs(dir);
    let members: Vec<PeerMember> = ["m1", "m2", "m3"]
        .iter()
        .map(|n| PeerMember::new(n))
        .collect();
    let initial: Vec<String> = members
        .iter()
        .map(|m| format!("{}={}", m.name, m.peer()))
        .collect();
    let mut procs: Vec<Proc> = members
        .iter()
        .map(|m| m.start(dir, &initial.join(","), "new"))
        .collect();
    let logs = |procs: &[Proc]| {
        procs
            .iter()
            .map(|p| p.log_text())
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    let v3 = |m: &PeerMember, args: &[&str]| {
        let mut a = vec!["--endpoints".to_string(), m.client()];
        a.extend(args.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        etcdctl(&ctl, dir, "3", &a)
    };
    // Elected: a linearizable put succeeds through every member.
    for m in &members {
        eventually(
            &format!("{} healthy", m.name),
            || v3(m, &["endpoint", "health"]).status.success(),
            || logs(&procs),
        );
    }
    assert_eq!(
        text(&v3(&members[0], &["put", "tlskey", "over-tls"])),
        "OK\n"
    );
    for m in &members {
        eventually(
            &format!("put readable on {}", m.name),
            || text(&v3(m, &["get", "tlskey", "--consistency=s"])) == "tlskey\nover-tls\n",
            || logs(&procs),
        );
    }
    // A member added over TLS, then removed.
    let m4 = PeerMember::new("m4");
    // etcd refuses a member change until every member has been connected
    // for 5 s ("etcdserver: unhealthy cluster"), Concord too: retried.
    let mut added = String::new();
    eventually(
        "member add",
        || {
            let peer_urls = format!("--peer-urls={}", m4.peer());
            let add = v3(&members[0], &["member", "add", "m4", &peer_urls]);
            let err = String::from_utf8_lossy(&add.stderr).into_owned();
            assert!(
                add.status.success() || err.contains("unhealthy cluster"),
                "member add: {err}"
            );
            added = text(&add);
            add.status.success()
        },
        || logs(&procs),
    );
    let id = added
        .split_whitespace()
        .nth(1)
        .expect("Member <id> added")
        .to_string();
    let cluster4 = added
        .lines()
        .find_map(|l| l.strip_prefix("ETCD_INITIAL_CLUSTER=\""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("ETCD_INITIAL_CLUSTER")
        .to_string();
    procs.push(m4.start(dir, &cluster4, "existing"));
    eventually(
        "m4 serves a linearizable read",
        || text(&v3(&m4, &["get", "tlskey"])) == "tlskey\nover-tls\n",
        || logs(&procs),
    );
    let list = text(&v3(&members[1], &["member", "list"]));
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(list.contains(&m4.peer()), "{list}");
    let remove = v3(&members[0], &["member", "remove", &id]);
    assert!(remove.status.success(), "{remove:?}");
    // The removed member learns it over TLS and stops, as etcd's does.
    let mut m4_proc = procs.pop().expect("m4");
    let m4_log = m4_proc.log.clone();
    eventually(
        "m4 stops once removed",
        || matches!(m4_proc.child.try_wait(), Ok(Some(_))),
        || std::fs::read_to_string(&m4_log).unwrap_or_default(),
    );
    assert_eq!(
        text(&v3(&members[2], &["member", "list"])).lines().count(),
        3
    );
    assert_eq!(text(&v3(&members[1], &["put", "after", "removal"])), "OK\n");
    // The peer port takes only the CA's certificates with the allowed CN.
    let peer_url = format!("{}/", members[0].peer());
    let plain = curl(dir, &[], &peer_url.replace("https://", "http://"), &[]);
    assert!(
        !plain.status.success(),
        "plain HTTP to the peer port: {plain:?}"
    );
    let wrong_cn = curl(dir, CURL_TLS, &peer_url, &[]);
    assert!(
        !wrong_cn.status.success(),
        "CN client accepted: {wrong_cn:?}"
    );
    let log = procs[0].log_text();
    assert!(log.contains("peerTLS: cert = server.pem"), "{log}");
    assert!(log.contains("CommonName authentication failed"), "{log}");
}
