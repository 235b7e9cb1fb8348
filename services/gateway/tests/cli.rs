//! The `concord-gateway` binary's command line.

use std::process::Command;

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
