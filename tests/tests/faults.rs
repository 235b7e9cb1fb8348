//! The fault suite (`concord_tests::faults`) on processes of this
//! machine: a 3-member `concord` cluster and etcd 3.4's (clients on every
//! member; the cut-off leader loses its peers only), and the split
//! deployment through its two gateways (`faults_split`: the cut-off leader
//! loses its client port too, as a host that stops answering; then a
//! gateway and the watch replica are killed). The partition step needs
//! root and iptables (skipped with a message otherwise).
//!
//! Each run drives etcd's v3 API too (`concord_tests::faults_v3`: Range,
//! Put, Txn compare-and-swap, DeleteRange, leases), beside the v2 clients,
//! through the same members or gateways: the same faults cost no more time.

use std::thread;
use std::time::{Duration, Instant};

use concord_tests::cluster::{Cluster, Flavor, Options};
use concord_tests::faults::{
    partition_supported, run_faults_with, Cut, Deployment, Partition, Workloads,
};
use concord_tests::split::{serial, Split, SplitOptions};
use concord_tests::READY_TIMEOUT;

#[test]
fn faults_concord() {
    faults_on(Flavor::Concord);
}

#[test]
fn faults_etcd() {
    faults_on(Flavor::Etcd);
}

fn faults_on(flavor: Flavor) {
    let _one = one_at_a_time();
    let label = match flavor {
        Flavor::Concord => "concord",
        Flavor::Etcd => "etcd 3.4",
    };
    let partition = partition_supported();
    // Distinct group ids per member (and per test process), for the owner
    // match of the partition's rules.
    let gid_base = 40_000 + (std::process::id() % 5_000) * 4;
    let mut options = Options::default();
    if partition.is_ok() {
        options = options.member_gids(gid_base);
    }
    let Some(c) = Cluster::start_with(flavor, 3, options) else {
        return;
    };
    let mut d = Members {
        cluster: c,
        gids: partition.map(|()| gid_base),
    };
    run_faults_with(&mut d, label, Workloads { v3: true });
}

/// The fault suite through two gateways of the split deployment (three
/// concord-consensus members, one concord-watch, two concord-gateways), the
/// clients spread over the gateways. Beyond the members' faults: the
/// leader cut off from everyone (peers and gateways: a host that stops
/// answering), a gateway killed, the watch replica killed.
#[test]
fn faults_split() {
    let _one = one_at_a_time();
    let _split = serial();
    let partition = partition_supported();
    let gid_base = 45_000 + (std::process::id() % 5_000) * 4;
    let s = Split::start_with(SplitOptions {
        watches: 1,
        member_gids: partition.is_ok().then_some(gid_base),
        ..SplitOptions::default()
    });
    let mut d = Gateways {
        split: s,
        gids: partition.map(|()| gid_base),
    };
    run_faults_with(&mut d, "concord split (2 gateways)", Workloads { v3: true });
}

/// The fault tests one at a time: each loads both cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A cluster of members, clients on every member; `gids`: the members'
/// group id base (iptables' owner match), or why the cut-off step cannot
/// run here.
struct Members {
    cluster: Cluster,
    gids: Result<u32, String>,
}

impl Deployment for Members {
    fn client_ports(&self) -> Vec<u16> {
        self.cluster.members.iter().map(|m| m.client_port).collect()
    }
    fn wait_ready(&mut self) {
        self.cluster.wait_ready();
    }
    fn leader(&mut self) -> usize {
        self.cluster.leader()
    }
    fn member_name(&self, i: usize) -> String {
        self.cluster.members[i].name.clone()
    }
    fn members(&self) -> usize {
        self.cluster.members.len()
    }
    fn kill9(&mut self, i: usize) {
        self.cluster.kill9(i);
    }
    fn restart(&mut self, i: usize) {
        self.cluster.restart(i);
    }
    fn stop(&mut self, i: usize) {
        self.cluster.stop(i);
    }
    fn cont(&mut self, i: usize) {
        self.cluster.cont(i);
    }
    fn kill9_all(&mut self) {
        self.cluster.kill9_all();
    }
    fn start_all(&mut self) {
        for i in 0..self.cluster.members.len() {
            self.cluster.spawn(i);
        }
    }
    /// Only from its peers: clients still reach it (as in a partition
    /// between members).
    fn cut(&mut self, i: usize) -> Result<Cut, String> {
        let gid = self.gids.clone()? + i as u32;
        let m = &self.cluster.members;
        let others: Vec<u16> = (0..m.len())
            .filter(|&j| j != i)
            .map(|j| m[j].peer_port)
            .collect();
        Ok(Partition::cut(&[m[i].peer_port], gid, &others)?.into())
    }
    fn log_tails(&self, n: usize) -> String {
        self.cluster.all_log_tails(n)
    }
}

/// The split deployment, clients on its two gateways (`gids` as for
/// [`Members`]).
struct Gateways {
    split: Split,
    gids: Result<u32, String>,
}

impl Gateways {
    fn name(i: usize) -> String {
        format!("c{}", i + 1)
    }
}

impl Deployment for Gateways {
    fn client_ports(&self) -> Vec<u16> {
        self.split.gateway_ports.clone()
    }
    fn wait_ready(&mut self) {
        for g in 0..self.split.gateway_ports.len() {
            self.split.wait_healthy(g);
        }
        self.leader();
    }
    fn leader(&mut self) -> usize {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let named = self
                .split
                .leader_via(0)
                .or_else(|| self.split.leader_via(1));
            if let Some(i) = named.and_then(|n| (0..3).find(|&i| Gateways::name(i) == n)) {
                return i;
            }
            assert!(
                Instant::now() < deadline,
                "no leader known through the gateways:\n{}",
                self.split.logs()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
    fn member_name(&self, i: usize) -> String {
        Gateways::name(i)
    }
    fn members(&self) -> usize {
        self.split.consensus_clients.len()
    }
    fn kill9(&mut self, i: usize) {
        self.split.kill9(&Gateways::name(i));
    }
    fn restart(&mut self, i: usize) {
        self.split.respawn(&Gateways::name(i));
        self.wait_ready();
    }
    fn stop(&mut self, i: usize) {
        self.split.signal(&Gateways::name(i), "-STOP");
    }
    fn cont(&mut self, i: usize) {
        self.split.signal(&Gateways::name(i), "-CONT");
    }
    fn kill9_all(&mut self) {
        for i in 0..self.members() {
            self.split.signal(&Gateways::name(i), "-KILL");
        }
        for i in 0..self.members() {
            self.split.kill9(&Gateways::name(i));
        }
    }
    fn start_all(&mut self) {
        for i in 0..self.members() {
            self.split.respawn(&Gateways::name(i));
        }
    }
    /// From everyone: its peers, the gateways and the watch replica (its
    /// client port too), as a host that stops answering.
    fn cut(&mut self, i: usize) -> Result<Cut, String> {
        let gid = self.gids.clone()? + i as u32;
        let p = &self.split.peer_ports;
        let others: Vec<u16> = (0..p.len()).filter(|&j| j != i).map(|j| p[j]).collect();
        Ok(Partition::cut(&[p[i], self.split.consensus_clients[i]], gid, &others)?.into())
    }
    fn extra_faults(&self) -> Vec<&'static str> {
        vec!["g1", "w1"]
    }
    fn play(&mut self, what: &str, undo: bool) {
        if undo {
            self.split.respawn(what);
        } else {
            self.split.kill9(what);
        }
    }
    fn log_tails(&self, n: usize) -> String {
        let mut out = String::new();
        for (name, _) in &self.split.procs {
            let text = std::fs::read_to_string(self.split.dir.path().join(format!("{name}.log")))
                .unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {name} ---\n"));
            for l in &lines[lines.len().saturating_sub(n)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}
