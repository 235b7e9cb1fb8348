//! etcdctl 3.4 speaking v3 (`ETCDCTL_API=3`, gRPC) to Concord and to etcd
//! 3.4: the parity script (`concord_tests::etcdctl_v3`) against a fresh
//! single member of each, outputs and exit codes compared after masking
//! what differs by nature (ports, member, cluster and lease IDs, raft
//! terms, timings). The walkthrough's `ETCDCTL_API=3 etcdctl put foo bar`
//! is its first line.

use concord_tests::etcdctl_v3::{differences, run_script, SCRIPT};
use concord_tests::{which, Server};

#[test]
fn etcdctl_v3_prints_the_same_against_concord_as_against_etcd() {
    let Some(etcdctl) = which("etcdctl") else {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(mut etcd) = Server::etcd("default", &dir.path().join("etcd")) else {
        eprintln!("skipped: etcd 3.4 is not installed");
        return;
    };
    let want = run_script(&etcdctl, &etcd);
    etcd.kill9();
    let mut concord = Server::concord("default", &dir.path().join("concord"));
    let got = run_script(&etcdctl, &concord);
    concord.kill9();
    let diffs = differences(&want, &got, "etcd 3.4", "concord");
    assert!(
        diffs.is_empty(),
        "{} of {} commands differ:\n{}",
        diffs.len(),
        SCRIPT.len(),
        diffs.join("\n")
    );
}
