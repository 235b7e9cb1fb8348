//! A real v3 client library's own test suite against Concord: the `etcd3`
//! PyPI package, version 0.12.0, its sdist's `tests/test_etcd3.py`,
//! unchanged (issue 20). `tests/etcd3-py/run` runs it against one endpoint;
//! this test runs it against a fresh etcd 3.4 and then a fresh concord, and
//! requires every test that passed against etcd to pass against concord.
//! Tests that fail against etcd too (a 3-member pifpaf cluster, auth,
//! pgrep for pifpaf processes) are only reported.
//!
//! Skipped, with a message, where etcd is not installed or the harness
//! cannot make its Python venv (no python3 venv, PyPI not reachable).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use concord_tests::{which, Server};

/// What pytest gets (the harness's `CONCORD_ETCD3_TIMEOUT`); about 100 s
/// against etcd on 2 cores.
const PYTEST_LIMIT: Duration = Duration::from_secs(25 * 60);
/// The whole harness run: pytest, plus making the venv the first time.
const HARNESS_LIMIT: Duration = Duration::from_secs(45 * 60);
/// The harness's exit status for "this machine cannot run the suite".
const UNAVAILABLE: i32 = 77;
/// etcd 3.4 passes 78 of the suite's 82 tests on one member (about 73 of 77 where
/// the harness cannot make a network namespace). Fewer than this means the
/// harness, not the server, is broken, and the comparison would be empty.
const ETCD_PASSES_AT_LEAST: usize = 60;

/// One harness run's lists (`OUTDIR/*.txt`).
struct Outcome {
    passed: BTreeSet<String>,
    /// Test id -> the first line of its failure.
    failed: BTreeMap<String, String>,
    skipped: BTreeSet<String>,
    deselected: BTreeSet<String>,
}

/// The harness as a process group of its own (pytest, etcdctl, the
/// relays), killed whole when dropped.
struct Harness {
    child: Child,
    log: PathBuf,
}

impl Harness {
    fn start(endpoint: &str, outdir: &Path) -> Harness {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("etcd3-py/run");
        let log = outdir.with_extension("harness.log");
        let file = std::fs::File::create(&log).expect("harness log");
        let child = Command::new("bash")
            .arg(&script)
            .arg(endpoint)
            .arg(outdir)
            .env("CONCORD_ETCD3_TIMEOUT", PYTEST_LIMIT.as_secs().to_string())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        Harness { child, log }
    }

    /// Waits for the harness to exit, killing it after [`HARNESS_LIMIT`].
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + HARNESS_LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= deadline {
                self.kill_group();
                panic!(
                    "the etcd3 harness still ran after {HARNESS_LIMIT:?}:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill_group(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.kill_group();
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs the suite against `server`, its lists in `outdir`; `Err` with the
/// harness's words when this machine cannot run it.
fn run_suite(server: &Server, outdir: &Path) -> Result<Outcome, String> {
    let endpoint = format!("http://127.0.0.1:{}", server.client_port);
    let mut harness = Harness::start(&endpoint, outdir);
    let status = harness.wait();
    if status.code() == Some(UNAVAILABLE) {
        return Err(harness.log_text());
    }
    assert!(
        status.success(),
        "the etcd3 harness failed against {} ({status}):\n{}",
        server.name,
        harness.log_text()
    );
    let failed = lines(&outdir.join("failures.txt"))
        .into_iter()
        .map(|l| match l.split_once('\t') {
            Some((id, why)) => (id.to_string(), why.to_string()),
            None => (l, String::new()),
        })
        .collect();
    Ok(Outcome {
        passed: lines(&outdir.join("passed.txt")).into_iter().collect(),
        failed,
        skipped: lines(&outdir.join("skipped.txt")).into_iter().collect(),
        deselected: lines(&outdir.join("deselected.txt")).into_iter().collect(),
    })
}

/// What a test did in `outcome`, with the reason where it failed.
fn verdict(outcome: &Outcome, id: &str) -> String {
    if let Some(why) = outcome.failed.get(id) {
        format!("failed: {why}")
    } else if outcome.passed.contains(id) {
        "passed".to_string()
    } else if outcome.skipped.contains(id) {
        "skipped".to_string()
    } else {
        "not run".to_string()
    }
}

fn summary(outcome: &Outcome) -> String {
    format!(
        "{} passed, {} failed, {} skipped, {} deselected",
        outcome.passed.len(),
        outcome.failed.len(),
        outcome.skipped.len(),
        outcome.deselected.len()
    )
}

#[test]
fn every_etcd3_client_test_that_passes_against_etcd_passes_against_concord() {
    if which("etcd").is_none() {
        eprintln!("skipped: etcd 3.4 is not installed (Debian: etcd-server)");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("etcd3-suite-")
        .tempdir()
        .expect("tempdir");
    let (etcd_out, concord_out) = (dir.path().join("etcd"), dir.path().join("concord"));

    let mut etcd = Server::etcd("etcd3-suite", &dir.path().join("etcd-data")).expect("etcd");
    let want = match run_suite(&etcd, &etcd_out) {
        Ok(outcome) => outcome,
        Err(why) => {
            eprintln!("skipped: the etcd3 suite cannot run on this machine:\n{why}");
            return;
        }
    };
    etcd.kill9();
    eprintln!("etcd 3.4: {}", summary(&want));
    for (id, why) in &want.failed {
        eprintln!("  fails against etcd too: {id}: {why}");
    }
    assert!(
        want.passed.len() >= ETCD_PASSES_AT_LEAST,
        "only {} tests passed against etcd 3.4 (at least {ETCD_PASSES_AT_LEAST} expected): \
         the harness is broken; its output is in {}",
        want.passed.len(),
        dir.keep().display()
    );

    let mut concord = Server::concord("etcd3-suite", &dir.path().join("concord-data"));
    let got = run_suite(&concord, &concord_out)
        .unwrap_or_else(|why| panic!("the harness ran against etcd, not against concord:\n{why}"));
    concord.kill9();
    eprintln!("concord: {}", summary(&got));

    let regressions: Vec<String> = want
        .passed
        .iter()
        .filter(|id| !got.passed.contains(*id))
        .map(|id| format!("  {id}: {}", verdict(&got, id)))
        .collect();
    let only_concord: Vec<&String> = got
        .passed
        .iter()
        .filter(|id| !want.passed.contains(*id))
        .collect();
    for id in &only_concord {
        eprintln!(
            "  passes against concord only: {id}: etcd {}",
            verdict(&want, id)
        );
    }
    if !regressions.is_empty() {
        let kept = dir.keep();
        panic!(
            "{} of the {} etcd3 client tests that pass against etcd 3.4 do not pass against \
             concord:\n{}\n(pytest's output: {}/{{etcd,concord}}/pytest.log)",
            regressions.len(),
            want.passed.len(),
            regressions.join("\n"),
            kept.display()
        );
    }
}
