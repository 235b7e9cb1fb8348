//! The `concord` binary's command line: version output and flag errors.

use std::process::Command;

#[test]
fn version_prints_concord_and_etcd_api_versions() {
    let out = Command::new(env!("CARGO_BIN_EXE_concord"))
        .arg("--version")
        .output()
        .expect("run concord");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(concat!("concord Version: ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("etcd API Version: 2"), "{text}");
    // Go flag syntax works for --version too.
    let out = Command::new(env!("CARGO_BIN_EXE_concord"))
        .arg("-version")
        .output()
        .expect("run concord");
    assert!(out.status.success());
}

#[test]
fn bad_flag_value_exits_with_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_concord"))
        .args(["--initial-cluster-state", "sideways"])
        .output()
        .expect("run concord");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("initial-cluster-state"), "{text}");
}
