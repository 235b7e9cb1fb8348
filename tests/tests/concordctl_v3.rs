//! concordctl speaks v3 as etcdctl 3.4 does (issue 21): the etcdctl
//! parity script (`concord_tests::etcdctl_v3`) run with etcd's own
//! etcdctl against a fresh etcd 3.4 is the reference; concordctl against
//! a fresh etcd 3.4, and concordctl against a fresh Concord, must each
//! print the same, step by step, after the same masking.

use concord_tests::etcdctl_v3::{concordctl_bin, differences, run_script, SCRIPT};
use concord_tests::{which, Server};

#[test]
fn concordctl_v3_prints_what_etcdctl_prints_against_etcd_and_concord() {
    let Some(etcdctl) = which("etcdctl") else {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    };
    let concordctl = concordctl_bin();
    let dir = tempfile::tempdir().unwrap();
    let Some(mut etcd) = Server::etcd("default", &dir.path().join("etcd")) else {
        eprintln!("skipped: etcd 3.4 is not installed");
        return;
    };
    let want = run_script(&etcdctl, &etcd);
    etcd.kill9();
    let mut etcd = Server::etcd("default", &dir.path().join("etcd2")).expect("etcd ran before");
    let against_etcd = run_script(&concordctl, &etcd);
    etcd.kill9();
    let mut concord = Server::concord("default", &dir.path().join("concord"));
    let against_concord = run_script(&concordctl, &concord);
    concord.kill9();
    let mut diffs = differences(
        &want,
        &against_etcd,
        "etcdctl, etcd 3.4",
        "concordctl, etcd 3.4",
    );
    diffs.extend(differences(
        &want,
        &against_concord,
        "etcdctl, etcd 3.4",
        "concordctl, concord",
    ));
    assert!(
        diffs.is_empty(),
        "{} of {} transcripts differ:\n{}",
        diffs.len(),
        2 * SCRIPT.len(),
        diffs.join("\n")
    );
}
