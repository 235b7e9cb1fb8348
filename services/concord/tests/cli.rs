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

/// concord-gateway's settings: the file is read, its unknown keys refused
/// naming it, and an endpoint list is required from some layer.
#[test]
fn gateway_settings_are_layered_and_checked() {
    let gw = env!("CARGO_BIN_EXE_concord-gateway");
    let out = Command::new(gw).output().expect("run concord-gateway");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--consensus-endpoints is required"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.yaml");
    std::fs::write(
        &file,
        "consensus-endpoints: [http://127.0.0.1:1]\nbogus: 1\n",
    )
    .unwrap();
    let out = Command::new(gw)
        .arg("--config-file")
        .arg(&file)
        .output()
        .expect("run concord-gateway");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&file.display().to_string()) && err.contains("bogus"),
        "{err}"
    );

    // The file gives the consensus members, the environment the watch
    // replicas: a complete configuration, refused only for its bad level.
    std::fs::write(&file, "consensus-endpoints: [http://127.0.0.1:1]\n").unwrap();
    let out = Command::new(gw)
        .arg("--config-file")
        .arg(&file)
        .env("CONCORD_WATCH_ENDPOINTS", "http://127.0.0.1:2")
        .args(["--listen-client-urls", "http://127.0.0.1:notaport"])
        .output()
        .expect("run concord-gateway");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notaport"), "{err}");
}
