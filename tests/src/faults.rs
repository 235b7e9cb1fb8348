//! The fault suite's machinery: client threads doing quorum reads, writes
//! and compare-and-swap over the v2 API while a [`Deployment`] is hurt
//! (leader killed, paused, cut off; every member killed; the deployment's
//! own faults), every request recorded and the history checked for
//! linearizability, and the figures printed (unknown outcomes, time until
//! writes are acknowledged again), not asserted: they are read side by
//! side with etcd 3.4's in the same run.
//!
//! Deployments: the members of a cluster and the split's gateways
//! (`tests/tests/faults.rs`), the compose deployment and etcd in containers
//! (`tests/tests/compose.rs`).
//!
//! Every request is recorded with its invocation and return times and its
//! outcome: an answer (a value, an acknowledgement, a compare-and-swap
//! refused with errorCode 100 or 101), or unknown (a timeout, errorCode 300,
//! the connection lost after the request was sent, any other error answer).
//! A refused connection delivered nothing and is left out of the history.
//! The history is then checked with [`linearizability::check`] (every key
//! must be linearizable), and a final quorum read of every key through every
//! client port must give the value of a write that could be the last one
//! (no acknowledged write lost).
//!
//! With [`Workloads::v3`], etcd's v3 API is driven too, beside the v2
//! clients and under the same faults ([`crate::faults_v3`]).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::cluster::{request_sent, SendError};
use crate::linearizability::{self, Call, CasFailure, Op, Ret};
use crate::{form_encode, which, Response, READY_TIMEOUT};

/// Client threads.
const CLIENTS: usize = 5;
/// Keys they share.
const KEYS: usize = 4;
/// Client-side deadline of one request: longer than a pause, and than
/// etcd's own request timeout (5 s + 2 election timeouts), so that a server
/// that answers in time is not counted as unknown.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// A client's pause between two requests.
const THINK: Duration = Duration::from_millis(5);
/// A probe's deadline per write: short, so that a write stranded by a
/// fault does not hide for long that writes go through again.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// The probes' client ids (plus the member's index) and key.
const PROBE: usize = 90;
const PROBE_KEY: &str = "faults/probe";
/// Client id of the final reads.
const FINAL_READER: usize = 99;

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Answered: a value, an acknowledgement or a refused compare-and-swap.
    Answered,
    /// The connection was refused (or not accepted in time): not delivered.
    NotSent,
    /// No answer within [`CLIENT_TIMEOUT`].
    Timeout,
    /// errorCode 300 (etcd: "request timed out", "leader changed", ...).
    Code300,
    /// The connection broke after the request was sent.
    Lost,
    /// Another error answer.
    OtherError,
}

impl Outcome {
    fn unknown(self) -> bool {
        matches!(self, Outcome::Timeout | Outcome::Code300 | Outcome::Lost)
    }
}

/// One request as a client saw it.
struct Record {
    op: Op,
    outcome: Outcome,
    /// What an error looked like, for the report.
    detail: String,
}

/// A small PRNG (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn nanos_since(start: Instant) -> u64 {
    start.elapsed().as_nanos() as u64
}

fn key_name(k: usize) -> String {
    format!("faults/k{k}")
}

/// Sends `call` on `key` to the member listening on `port` and classifies
/// the answer.
fn perform(port: u16, key: &str, call: &Call, timeout: Duration) -> (Ret, Outcome, String) {
    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    let r = match call {
        Call::Read => request_sent(
            port,
            "GET",
            &format!("/v2/keys/{key}?quorum=true"),
            None,
            b"",
            timeout,
        ),
        Call::Write(v) => request_sent(
            port,
            "PUT",
            &format!("/v2/keys/{key}"),
            FORM,
            format!("value={}", form_encode(v)).as_bytes(),
            timeout,
        ),
        Call::Cas { expect, new } => request_sent(
            port,
            "PUT",
            &format!("/v2/keys/{key}?prevValue={}", form_encode(expect)),
            FORM,
            format!("value={}", form_encode(new)).as_bytes(),
            timeout,
        ),
        Call::Delete => unreachable!("the v2 clients do not delete"),
    };
    match r {
        Err(SendError::NotSent(e)) => (Ret::Unknown, Outcome::NotSent, e.to_string()),
        Err(SendError::Lost(e))
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
        {
            (Ret::Unknown, Outcome::Timeout, e.to_string())
        }
        Err(SendError::Lost(e)) => (Ret::Unknown, Outcome::Lost, e.to_string()),
        Ok(resp) => classify(call, &resp),
    }
}

fn classify(call: &Call, resp: &Response) -> (Ret, Outcome, String) {
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    let code = body["errorCode"].as_u64();
    let answered = |ret: Ret| (ret, Outcome::Answered, String::new());
    match (call, resp.status, code) {
        (Call::Read, 200, _) => answered(Ret::Value(
            body["node"]["value"].as_str().map(str::to_string),
        )),
        (Call::Read, 404, Some(100)) => answered(Ret::Value(None)),
        (Call::Write(_), 200 | 201, _) => answered(Ret::Ok),
        (Call::Cas { .. }, 200, _) => answered(Ret::Ok),
        (Call::Cas { .. }, 404, Some(100)) => answered(Ret::CasFailed(CasFailure::NotFound)),
        (Call::Cas { .. }, 412, Some(101)) => answered(Ret::CasFailed(CasFailure::Mismatch)),
        (_, _, Some(300)) => (
            Ret::Unknown,
            Outcome::Code300,
            format!("{} {}", resp.status, resp.text().trim()),
        ),
        _ => (
            Ret::Unknown,
            Outcome::OtherError,
            format!("{} {}", resp.status, resp.text().trim()),
        ),
    }
}

/// A probe: writes to its own key through member `i` (on `port`), with a
/// short deadline, until `stop`; what it did. The probes' acknowledgements
/// tell when writes went through again after a fault (the other clients
/// may wait for [`CLIENT_TIMEOUT`] on a request that the fault stranded).
fn probe(i: usize, port: u16, start: Instant, stop: Arc<AtomicBool>) -> Vec<Record> {
    let mut records = Vec::new();
    let mut seq = 0;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let call = Call::Write(format!("p{i}.{seq}"));
        let invoke = nanos_since(start);
        let (ret, outcome, detail) = perform(port, PROBE_KEY, &call, PROBE_TIMEOUT);
        let complete = nanos_since(start);
        records.push(Record {
            op: Op {
                client: PROBE + i,
                key: PROBE_KEY.into(),
                call,
                ret,
                invoke,
                complete,
            },
            outcome,
            detail,
        });
        thread::sleep(if outcome == Outcome::NotSent {
            Duration::from_millis(20)
        } else {
            Duration::from_millis(10)
        });
    }
    records
}

/// One client: random ops on random keys through random members until
/// `stop`; what it did.
fn client(id: usize, ports: Vec<u16>, start: Instant, stop: Arc<AtomicBool>) -> Vec<Record> {
    let seed = 0x9E37_79B9_7F4A_7C15u64 ^ (id as u64 + 1) ^ nanos_since(start).rotate_left(17);
    let mut rng = Rng(seed | 1);
    // The value this client last saw for each key: what its next
    // compare-and-swap expects.
    let mut seen: Vec<Option<String>> = vec![None; KEYS];
    let mut records = Vec::new();
    let mut seq = 0;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let k = rng.below(KEYS);
        let key = key_name(k);
        let port = ports[rng.below(ports.len())];
        let value = format!("c{id}.{seq}");
        let call = match (rng.below(10), &seen[k]) {
            (0..=3, _) => Call::Read,
            (4..=6, _) | (_, None) => Call::Write(value),
            (_, Some(expect)) => Call::Cas {
                expect: expect.clone(),
                new: value,
            },
        };
        let invoke = nanos_since(start);
        let (ret, outcome, detail) = perform(port, &key, &call, CLIENT_TIMEOUT);
        let complete = nanos_since(start);
        match (&call, &ret) {
            (_, Ret::Value(v)) => seen[k] = v.clone(),
            (Call::Write(v) | Call::Cas { new: v, .. }, Ret::Ok) => seen[k] = Some(v.clone()),
            _ => seen[k] = None,
        }
        records.push(Record {
            op: Op {
                client: id,
                key,
                call,
                ret,
                invoke,
                complete,
            },
            outcome,
            detail,
        });
        // A member that refuses connections is down: do not spin on it.
        thread::sleep(if outcome == Outcome::NotSent {
            Duration::from_millis(20)
        } else {
            THINK
        });
    }
    records
}

/// Stops the clients when dropped (also when the test panics).
struct StopClients(Arc<AtomicBool>);

impl Drop for StopClients {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A fault that lasts until this is dropped (also when the test panics).
pub struct Cut(Option<Box<dyn FnOnce()>>);

impl Cut {
    /// A cut that `undo` ends.
    pub fn new(undo: impl FnOnce() + 'static) -> Cut {
        Cut(Some(Box::new(undo)))
    }
}

impl Drop for Cut {
    fn drop(&mut self) {
        if let Some(undo) = self.0.take() {
            undo();
        }
    }
}

impl From<Partition> for Cut {
    fn from(p: Partition) -> Cut {
        Cut::new(move || drop(p))
    }
}

/// iptables rules cutting one member off on the loopback, removed when
/// dropped (also when the test panics).
pub struct Partition {
    rules: Vec<Vec<String>>,
}

/// Marks this process's rules, so that rules left by a killed run can be
/// told apart and removed.
const RULE_TAG: &str = "concord-faults-";

fn iptables(args: &[String]) -> Result<(), String> {
    let out = Command::new("iptables")
        .arg("-w")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("iptables: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "iptables {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether the partition step can run here: root, iptables installed and
/// usable; why not otherwise. Removes rules left by runs that were killed.
pub fn partition_supported() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next().map(str::to_string));
    if uid.as_deref() != Some("0") {
        return Err("not root".into());
    }
    if which("iptables").is_none() {
        return Err("iptables is not installed".into());
    }
    let out = Command::new("iptables")
        .args(["-w", "-S", "OUTPUT"])
        .output()
        .map_err(|e| format!("iptables: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "iptables -S OUTPUT failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(pos) = line.find(RULE_TAG) else {
            continue;
        };
        let pid: String = line[pos + RULE_TAG.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Some(spec) = line.strip_prefix("-A ") {
            let mut args = vec!["-D".to_string()];
            args.extend(spec.split_whitespace().map(str::to_string));
            eprintln!("removing a rule left by an earlier run: {line}");
            let _ = iptables(&args);
        }
    }
    Ok(())
}

impl Partition {
    /// Drops, on the loopback, every packet to or from `victim_ports` (the
    /// victim's peer port; in the split its client port too, so that
    /// gateways lose it as a dead host), and every packet the victim
    /// (group id `gid`) sends to `other_peers`. An error (the rules added
    /// so far removed) if iptables refuses a rule.
    pub fn cut(victim_ports: &[u16], gid: u32, other_peers: &[u16]) -> Result<Partition, String> {
        let tag = format!("{RULE_TAG}{}", std::process::id());
        let victim = victim_ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let others = other_peers
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let multiport = |dir: &str, ports: &str| -> Vec<String> {
            ["-m", "multiport", dir, ports].map(String::from).to_vec()
        };
        let mut owner: Vec<String> = ["-m", "owner", "--gid-owner", &gid.to_string()]
            .map(String::from)
            .to_vec();
        owner.extend(multiport("--dports", &others));
        let matches: [Vec<String>; 3] = [
            multiport("--dports", &victim),
            multiport("--sports", &victim),
            owner,
        ];
        let mut p = Partition { rules: Vec::new() };
        for m in matches {
            let mut rule: Vec<String> = ["OUTPUT", "-o", "lo", "-p", "tcp"]
                .map(String::from)
                .to_vec();
            rule.extend(m);
            rule.extend(["-m", "comment", "--comment", &tag, "-j", "DROP"].map(String::from));
            let mut insert = vec!["-I".to_string()];
            insert.extend(rule.iter().cloned());
            iptables(&insert)?;
            p.rules.push(rule);
        }
        Ok(p)
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        for rule in self.rules.drain(..).rev() {
            let mut delete = vec!["-D".to_string()];
            delete.extend(rule);
            if let Err(e) = iptables(&delete) {
                eprintln!("could not remove a partition rule: {e}");
            }
        }
    }
}

/// A fault the test played, for the report.
struct Fault {
    what: String,
    at: u64,
}

fn secs(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

fn pct(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Quorum reads of every key through every client port, retried until
/// each answers (deadline [`READY_TIMEOUT`]): ops for the history.
fn final_reads(d: &dyn Deployment, start: Instant) -> Vec<Op> {
    let mut ops = Vec::new();
    let keys = (0..KEYS).map(key_name).chain([PROBE_KEY.to_string()]);
    for key in keys {
        for port in d.client_ports() {
            let deadline = Instant::now() + READY_TIMEOUT;
            loop {
                let invoke = nanos_since(start);
                let (ret, outcome, detail) = perform(port, &key, &Call::Read, CLIENT_TIMEOUT);
                let complete = nanos_since(start);
                if outcome == Outcome::Answered {
                    ops.push(Op {
                        client: FINAL_READER,
                        key: key.clone(),
                        call: Call::Read,
                        ret,
                        invoke,
                        complete,
                    });
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "final quorum read of {key} through port {port}: {outcome:?} {detail}\n{}",
                    d.log_tails(30)
                );
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
    ops
}

/// The checker's teeth on this very history: a read after everything that
/// returns an acknowledged value of `key` that cannot be its last must be
/// rejected (a proof, not the step budget running out).
pub(crate) fn planted_stale_read_is_found(history: &[Op], key: &str) {
    let key = key.to_string();
    let possible = linearizability::possible_final_values(history, &key);
    let stale = history
        .iter()
        .filter(|o| o.key == key && o.ret == Ret::Ok)
        .filter_map(|o| match &o.call {
            Call::Write(v) | Call::Cas { new: v, .. } => Some(v.clone()),
            Call::Read | Call::Delete => None,
        })
        .find(|v| !possible.contains(&Some(v.clone())));
    let Some(stale) = stale else {
        eprintln!("  self-check skipped: no acknowledged write of {key} is surely overwritten");
        return;
    };
    let mut ops: Vec<Op> = history.iter().filter(|o| o.key == key).cloned().collect();
    let last = history.iter().map(|o| o.complete).max().unwrap_or(0);
    let planted = Op {
        client: 1000,
        key: key.clone(),
        call: Call::Read,
        ret: Ret::Value(Some(stale)),
        invoke: last + 1,
        complete: last + 2,
    };
    ops.push(planted.clone());
    let started = Instant::now();
    let verdict = linearizability::check(&ops);
    eprintln!(
        "  self-check: a stale read planted after the {} ops of {key}: {} in {:.2} s",
        ops.len() - 1,
        match &verdict {
            Ok(()) => "accepted (wrong)".to_string(),
            Err(v) if v.gave_up => "search gave up".to_string(),
            Err(_) => "rejected".to_string(),
        },
        started.elapsed().as_secs_f64()
    );
    match verdict {
        Err(v) => {
            assert!(
                !v.gave_up,
                "the checker gave up on a planted stale read:\n{v}"
            );
            assert_eq!(v.stuck_at, planted, "{v}");
        }
        Ok(()) => panic!("the checker accepted a planted stale read: {planted}"),
    }
}

/// What the fault run needs of a deployment: where clients send requests,
/// and the members to hurt.
pub trait Deployment {
    /// Where the clients send their requests (members, or gateways).
    fn client_ports(&self) -> Vec<u16>;
    /// Waits until every process answers and a leader is known.
    fn wait_ready(&mut self);
    /// The member that leads.
    fn leader(&mut self) -> usize;
    fn member_name(&self, i: usize) -> String;
    fn members(&self) -> usize;
    fn kill9(&mut self, i: usize);
    /// Starts member `i` again and waits until it serves.
    fn restart(&mut self, i: usize);
    fn stop(&mut self, i: usize);
    fn cont(&mut self, i: usize);
    fn kill9_all(&mut self);
    fn start_all(&mut self);
    /// Cuts member `i` off (iptables DROP rules, a network disconnected)
    /// until the [`Cut`] is dropped; why not, where it cannot be done.
    fn cut(&mut self, i: usize) -> Result<Cut, String>;
    /// How a pause is made, for the report.
    fn pause_words(&self) -> &'static str {
        "paused (SIGSTOP)"
    }
    /// How a cut-off is made, for the report.
    fn cut_words(&self) -> &'static str {
        "cut off (iptables DROP)"
    }
    /// Faults beyond the members' (a gateway, a watch replica), each
    /// played and undone by [`Deployment::play`].
    fn extra_faults(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// Plays extra fault `what` (`undo`: ends it).
    fn play(&mut self, _what: &str, _undo: bool) {}
    fn log_tails(&self, n: usize) -> String;
}

/// Which clients a fault run drives besides the v2 ones.
#[derive(Clone, Copy, Debug, Default)]
pub struct Workloads {
    /// etcd's v3 API ([`crate::faults_v3`]) on the same client URLs.
    pub v3: bool,
}

/// Plays the faults on `d` under load, prints the figures and checks the
/// history (panics if it is not linearizable or lost a write).
pub fn run_faults(d: &mut dyn Deployment, label: &str) {
    run_faults_with(d, label, Workloads::default());
}

/// [`run_faults`] with the clients of `workloads` too; every history is
/// checked (and every figure printed) before the first failure panics.
pub fn run_faults_with(d: &mut dyn Deployment, label: &str, workloads: Workloads) {
    let n = d.members();
    let start = Instant::now();
    let ports = d.client_ports();
    let v3 = workloads
        .v3
        .then(|| crate::faults_v3::Load::start(ports.clone(), start));
    let stop = Arc::new(AtomicBool::new(false));
    let stop_guard = StopClients(stop.clone());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (ports, stop) = (ports.clone(), stop.clone());
            thread::spawn(move || client(id, ports, start, stop))
        })
        .collect();
    let probers: Vec<_> = ports
        .iter()
        .enumerate()
        .map(|(i, &port)| {
            let stop = stop.clone();
            thread::spawn(move || probe(i, port, start, stop))
        })
        .collect();
    let mut faults: Vec<Fault> = Vec::new();
    let settle = |d: &mut dyn Deployment, pause: Duration| {
        d.wait_ready();
        thread::sleep(pause);
    };
    thread::sleep(Duration::from_secs(3));

    // 1. The leader killed -9, restarted on its data dir 4 s later.
    // Down longer than a failover takes, so that the time until writes are
    // acknowledged again is the cluster's, not the restart's.
    let l = d.leader();
    d.kill9(l);
    faults.push(Fault {
        what: format!("leader {} killed -9", d.member_name(l)),
        at: nanos_since(start),
    });
    thread::sleep(Duration::from_secs(4));
    faults.push(Fault {
        what: format!("{} restarted", d.member_name(l)),
        at: nanos_since(start),
    });
    d.restart(l);
    settle(d, Duration::from_secs(2));

    // 2. The leader paused for 3 s.
    let l = d.leader();
    d.stop(l);
    faults.push(Fault {
        what: format!("leader {} {}", d.member_name(l), d.pause_words()),
        at: nanos_since(start),
    });
    thread::sleep(Duration::from_secs(3));
    faults.push(Fault {
        what: format!("{} resumed", d.member_name(l)),
        at: nanos_since(start),
    });
    d.cont(l);
    settle(d, Duration::from_secs(2));

    // 3. The leader cut off for 4 s.
    let l = d.leader();
    let cut = d.cut(l).map(|cut| (l, cut));
    let mut skipped = String::new();
    match cut {
        Ok((l, cut)) => {
            faults.push(Fault {
                what: format!("leader {} {}", d.member_name(l), d.cut_words()),
                at: nanos_since(start),
            });
            thread::sleep(Duration::from_secs(4));
            faults.push(Fault {
                what: format!("{} reconnected", d.member_name(l)),
                at: nanos_since(start),
            });
            drop(cut);
            settle(d, Duration::from_secs(2));
        }
        Err(why) => {
            eprintln!("faults on {label}: cut-off step skipped: {why}");
            skipped = format!(" (cut-off step skipped: {why})");
        }
    }

    // 4. Every member killed -9 at once, restarted 1 s later.
    d.kill9_all();
    faults.push(Fault {
        what: "all members killed -9".into(),
        at: nanos_since(start),
    });
    thread::sleep(Duration::from_secs(1));
    faults.push(Fault {
        what: "all members restarted".into(),
        at: nanos_since(start),
    });
    d.start_all();
    settle(d, Duration::from_secs(3));

    // 5. The deployment's own faults: each process killed -9 and started
    // again 2 s later.
    for what in d.extra_faults() {
        d.play(what, false);
        faults.push(Fault {
            what: format!("{what} killed -9"),
            at: nanos_since(start),
        });
        thread::sleep(Duration::from_secs(2));
        faults.push(Fault {
            what: format!("{what} restarted"),
            at: nanos_since(start),
        });
        d.play(what, true);
        settle(d, Duration::from_secs(2));
    }
    let end = nanos_since(start);

    drop(stop_guard);
    let records: Vec<Record> = clients
        .into_iter()
        .flat_map(|h| h.join().expect("client thread"))
        .collect();
    let probes: Vec<Record> = probers
        .into_iter()
        .flat_map(|h| h.join().expect("probe thread"))
        .collect();
    let finals = final_reads(d, start);
    // What the v3 clients add to the run's time: their last leases gone,
    // their final reads.
    let finishing = Instant::now();
    let v3 = v3.map(crate::faults_v3::Load::finish);
    if v3.is_some() {
        eprintln!(
            "v3 clients on {label} stopped, last leases gone and final reads done in {:.1} s",
            finishing.elapsed().as_secs_f64()
        );
    }

    // --- figures -------------------------------------------------------
    let total = records.len();
    let count = |f: &dyn Fn(&Record) -> bool| records.iter().filter(|r| f(r)).count();
    let is_write = |r: &Record| !matches!(r.op.call, Call::Read);
    let acked = count(&|r| r.op.ret == Ret::Ok);
    let reads = count(&|r| matches!(r.op.ret, Ret::Value(_)));
    let cas_failed = count(&|r| matches!(r.op.ret, Ret::CasFailed(_)));
    let by_outcome = |o: Outcome| count(&|r| r.outcome == o);
    let unknown = count(&|r| r.outcome.unknown());
    let unknown_writes = count(&|r| r.outcome.unknown() && is_write(r));
    // The clients' delivered ops invoked while a fault was on (from each
    // fault to the step that ends it: the faults are the even steps).
    let during: Vec<&Record> = records
        .iter()
        .filter(|r| r.outcome != Outcome::NotSent)
        .filter(|r| {
            faults.chunks(2).any(|w| {
                let until = w.get(1).map_or(end, |g| g.at);
                r.op.invoke >= w[0].at && r.op.invoke < until
            })
        })
        .collect();
    let during_unknown = during.iter().filter(|r| r.outcome.unknown()).count();
    let not_sent = by_outcome(Outcome::NotSent);
    let other = by_outcome(Outcome::OtherError);
    eprintln!(
        "=== faults on {label}: {n} members, {CLIENTS} clients, {KEYS} keys, {:.1} s under load ===",
        secs(end)
    );
    for (j, f) in faults.iter().enumerate() {
        let until = faults.get(j + 1).map_or(end, |g| g.at);
        let window: Vec<&Record> = records
            .iter()
            .filter(|r| r.op.invoke >= f.at && r.op.invoke < until)
            .collect();
        let resumed = probes
            .iter()
            .filter(|r| r.op.invoke >= f.at && r.op.ret == Ret::Ok)
            .map(|r| r.op.complete)
            .min()
            .map_or("never".to_string(), |t| {
                format!("{:.2} s", secs(t.saturating_sub(f.at)))
            });
        // (Every fault is stamped once it took effect.)
        eprintln!(
            "  {:6.2} s  {:<44} writes acked again after {resumed:>7} (probes) | until the next step, clients: {} ops, {} unknown, {} refused",
            secs(f.at),
            f.what,
            window.len(),
            window.iter().filter(|r| r.outcome.unknown()).count(),
            window.iter().filter(|r| r.outcome == Outcome::NotSent).count(),
        );
    }
    eprintln!(
        "  clients' ops {total}: writes/cas acknowledged {acked}, reads answered {reads}, cas refused (100/101) {cas_failed}"
    );
    eprintln!(
        "  failed {}: not delivered (connection refused) {not_sent}, other error answers {other}",
        not_sent + other
    );
    eprintln!(
        "  unknown outcome {unknown} = {:.2} % of all ops (writes/cas {unknown_writes}; timeout {}, errorCode 300 {}, connection lost {})",
        pct(unknown, total),
        by_outcome(Outcome::Timeout),
        by_outcome(Outcome::Code300),
        by_outcome(Outcome::Lost),
    );
    eprintln!(
        "  while a fault was on: {} delivered ops, {during_unknown} unknown ({:.1} %)",
        during.len(),
        pct(during_unknown, during.len())
    );
    eprintln!(
        "  probes (one per member, own key, {PROBE_TIMEOUT:?} deadline, not in the figures above): {} writes, {} acknowledged, {} unknown",
        probes.len(),
        probes.iter().filter(|r| r.op.ret == Ret::Ok).count(),
        probes.iter().filter(|r| r.outcome.unknown()).count(),
    );
    // A few examples of each kind of error, for the report.
    let mut examples: BTreeMap<Outcome, Vec<String>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.outcome != Outcome::Answered) {
        let list = examples.entry(r.outcome).or_default();
        if list.len() < 3 && !list.contains(&r.detail) {
            list.push(r.detail.clone());
        }
    }
    for (o, list) in &examples {
        for d in list {
            eprintln!(
                "    e.g. {o:?}: {}",
                d.chars().take(200).collect::<String>()
            );
        }
    }

    // --- checks --------------------------------------------------------
    let mut history: Vec<Op> = records
        .iter()
        .chain(&probes)
        .filter(|r| r.outcome != Outcome::NotSent)
        .map(|r| r.op.clone())
        .collect();
    // A final read outside the writes that could be last lost a write.
    let mut lost = Vec::new();
    for f in &finals {
        let possible = linearizability::possible_final_values(&history, &f.key);
        let Ret::Value(v) = &f.ret else {
            unreachable!()
        };
        if !possible.contains(v) {
            lost.push(format!(
                "{}: final quorum read {v:?}, but the last write was one of {possible:?}",
                f.key
            ));
        }
    }
    history.extend(finals.iter().cloned());
    let checking = Instant::now();
    let verdict = linearizability::check(&history);
    let linearizable = if verdict.is_ok() { "yes" } else { "NO" };
    if verdict.is_ok() {
        planted_stale_read_is_found(&history, &key_name(0));
    }
    eprintln!(
        "  linearizable: {linearizable} ({} ops in the history, {} keys, checked in {:.2} s); acknowledged writes lost: {}",
        history.len(),
        KEYS + 1,
        checking.elapsed().as_secs_f64(),
        lost.len()
    );
    eprintln!(
        "FAULTS {label}: ops {total}, acked {acked}, failed {}, unknown {unknown} ({:.2} %), linearizable {linearizable}, acknowledged writes lost {}{skipped}",
        not_sent + other,
        pct(unknown, total),
        lost.len()
    );
    if verdict.is_err() || !lost.is_empty() || std::env::var_os("CLUSTER_KEEP").is_some() {
        let path = std::env::temp_dir().join(format!(
            "concord-faults-{}-{}.history",
            label.split(' ').next().unwrap_or("x"),
            std::process::id()
        ));
        let mut sorted = history.clone();
        sorted.sort_by_key(|o| o.invoke);
        let text: String = sorted.iter().map(|o| format!("{o}\n")).collect();
        let _ = std::fs::write(&path, text);
        eprintln!(
            "  history written to {}\n{}",
            path.display(),
            d.log_tails(40)
        );
    }
    // The v3 clients' figures and checks, before any failure is raised.
    let acks: Vec<u64> = probes
        .iter()
        .filter(|r| r.op.ret == Ret::Ok)
        .map(|r| r.op.complete)
        .collect();
    let v3_verdict = v3.map_or(Ok(()), |f| f.report(label, &acks));
    if v3_verdict.is_err() {
        eprintln!("{}", d.log_tails(40));
    }
    assert!(
        lost.is_empty(),
        "{label}: acknowledged writes lost:\n{}",
        lost.join("\n")
    );
    if let Err(v) = verdict {
        panic!("{label}: the history is not linearizable:\n{v}");
    }
    if let Err(e) = v3_verdict {
        panic!("{label}, v3 clients:\n{e}");
    }
}
