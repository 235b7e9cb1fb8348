//! # concord-tests: the harness for cross-service tests
//!
//! Starts real `concord` (and, for side-by-side checks, real `etcd`)
//! processes on free 127.0.0.1 ports, talks plain HTTP/1.1 to them, and
//! kills every child it started when dropped. Nothing here is mocked.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod cluster;
pub mod etcdctl_script;
pub mod etcdctl_v3;
pub mod faults;
pub mod faults_v3;
pub mod linearizability;
pub mod split;

/// How long a server gets to become ready; generous for 2-core CI machines.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The `concord` binary: `$CONCORD_BIN` if set (a build in another target
/// dir), else the release (or debug) one next to this test executable.
pub fn concord_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CONCORD_BIN") {
        let bin = PathBuf::from(bin);
        assert!(bin.exists(), "CONCORD_BIN={} not found", bin.display());
        return bin;
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> -> target/<profile>/concord
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("concord");
    assert!(
        bin.exists(),
        "{} not found: build the workspace first (cargo build --release --workspace)",
        bin.display()
    );
    bin
}

/// A free TCP port on 127.0.0.1, below the kernel's ephemeral range
/// (32768-60999 on Linux), so that no outgoing connection of another process
/// can take it between this check and the server's bind. Ports are handed
/// out once per test process from a random starting point in 20000-32767;
/// each is checked to be bindable now.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_700;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    if NEXT.load(Ordering::Relaxed) == u32::MAX {
        let seed = std::process::id()
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
        let _ = NEXT.compare_exchange(u32::MAX, seed % SPAN, Ordering::Relaxed, Ordering::Relaxed);
    }
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN)
}

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Sends one HTTP/1.1 request (`Connection: close`) and reads the answer
/// (30 s deadline per step).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> std::io::Result<Response> {
    cluster::request(
        port,
        method,
        path,
        content_type,
        body,
        Duration::from_secs(30),
    )
}

fn parse_response(raw: &[u8], head: bool) -> std::io::Result<Response> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head_text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if head {
        Vec::new()
    } else if chunked {
        dechunk(rest).ok_or_else(|| bad("bad chunked body"))?
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A server process (concord or etcd) that is killed when dropped.
pub struct Server {
    pub child: Child,
    pub client_port: u16,
    pub peer_port: u16,
    pub data_dir: PathBuf,
    pub name: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts a single-member concord on fresh ports in `data_dir`.
    pub fn concord(name: &str, data_dir: &Path) -> Server {
        Self::start(concord_bin(), name, data_dir, free_port(), free_port(), &[])
    }

    /// [`Self::concord`] with more flags.
    pub fn concord_with(name: &str, data_dir: &Path, extra: &[&str]) -> Server {
        Self::start(
            concord_bin(),
            name,
            data_dir,
            free_port(),
            free_port(),
            extra,
        )
    }

    /// Restarts a concord on the same data dir and ports.
    pub fn restart_concord(
        name: &str,
        data_dir: &Path,
        client_port: u16,
        peer_port: u16,
    ) -> Server {
        Self::start(concord_bin(), name, data_dir, client_port, peer_port, &[])
    }

    /// Starts a single-member etcd 3.4 with --enable-v2, if etcd is installed.
    pub fn etcd(name: &str, data_dir: &Path) -> Option<Server> {
        Self::etcd_with(name, data_dir, &[])
    }

    /// [`Self::etcd`] with more flags.
    pub fn etcd_with(name: &str, data_dir: &Path, extra: &[&str]) -> Option<Server> {
        let etcd = which("etcd")?;
        let mut flags = vec!["--enable-v2=true"];
        flags.extend_from_slice(extra);
        Some(Self::start(
            etcd,
            name,
            data_dir,
            free_port(),
            free_port(),
            &flags,
        ))
    }

    fn start(
        bin: PathBuf,
        name: &str,
        data_dir: &Path,
        client_port: u16,
        peer_port: u16,
        extra: &[&str],
    ) -> Server {
        let client = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log = data_dir.with_extension("log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(&bin)
            .args(["--name", name])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("{name}={peer}")])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut s = Server {
            child,
            client_port,
            peer_port,
            data_dir: data_dir.to_path_buf(),
            name: name.to_string(),
            log,
        };
        s.wait_ready();
        s
    }

    /// Waits until `/health` answers 200 (polling; no fixed sleeps).
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "server exited with {status}: {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(r) = http(self.client_port, "GET", "/health", None, b"") {
                if r.status == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "server not ready after {READY_TIMEOUT:?}: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    pub fn request(&self, method: &str, path: &str) -> Response {
        http(self.client_port, method, path, None, b"").expect("request")
    }

    pub fn form(&self, method: &str, path: &str, body: &str) -> Response {
        http(
            self.client_port,
            method,
            path,
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
        )
        .expect("request")
    }

    /// kill -9.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The path of an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// `Command::output()` with a deadline: a run still going after `limit` is
/// killed (its exit code is then -1), so a hanging CLI fails a test
/// instead of hanging it.
pub fn output_bounded(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run CLI");
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}
