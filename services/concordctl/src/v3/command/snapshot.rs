//! `snapshot save <filename>` (`snapshot_command.go`, clientv3's
//! `snapshot.Save`): the member's snapshot stream written to
//! `<filename>.part`, checked to end in its sha256 (etcd's snapshots are
//! padded to 512 bytes plus the 32-byte digest), synced and renamed, with
//! the zap lines etcdctl's snapshot manager and client log on stderr. No
//! deadline unless `--command-timeout` is given.

use concord_consensus::node::go_os_error;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use concord_rpc::etcd::etcdserverpb::SnapshotRequest;
use tokio_stream::StreamExt;

use crate::v3::cli::Parsed;
use crate::v3::client::{self, error::CallError, log};
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_ARGS, EXIT_INTERRUPTED};
use crate::v3::globals::session;
use crate::v3::go_text::humanize_bytes;
use crate::v3::printer::json::quote;

const SHA256_SIZE: u64 = 32;

pub fn save(mut p: Parsed) -> Outcome {
    let [path] = p.args.as_slice() else {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "snapshot save expects one argument",
        ));
    };
    let path = path.clone();
    let timeout = p
        .changed("command-timeout")
        .then(|| crate::v3::globals::command_timeout(&p));
    let s = session(&mut p)?;
    let fail = |text: String| Fail::new(EXIT_INTERRUPTED, text);
    if s.endpoints.len() != 1 {
        return Err(fail(format!(
            "snapshot must be requested to one selected node, not multiple [{}]",
            s.endpoints.join(" ")
        )));
    }
    let ep = s.endpoints[0].clone();
    let part = format!("{path}.part");
    let outcome = fetch(&s.client, &ep, &part, &path, timeout);
    let _ = std::fs::remove_file(&part);
    outcome.map_err(fail)?;
    println!("Snapshot saved at {path}");
    Ok(())
}

/// Streams the snapshot into `part`, then renames it to `path`.
fn fetch(
    c: &client::Client,
    ep: &str,
    part: &str,
    path: &str,
    timeout: Option<Duration>,
) -> Result<(), String> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(part)
        .map_err(|e| format!("could not open {part} (open {part}: {})", go_os_error(&e)))?;
    log::zap(
        "info",
        true,
        "snapshot/v3_snapshot.go:119",
        "created temporary db file",
        &[("path", quote(part))],
    );
    let start = Instant::now();
    let deadline = timeout.map(|t| start + t);
    let run = async {
        let ch = c.channel(deadline).await?;
        let mut stream = client::maintenance(ch)
            .snapshot(SnapshotRequest {})
            .await?
            .into_inner();
        log::zap(
            "info",
            false,
            "clientv3/maintenance.go:200",
            "opened snapshot stream; downloading",
            &[],
        );
        log::zap(
            "info",
            true,
            "snapshot/v3_snapshot.go:127",
            "fetching snapshot",
            &[("endpoint", quote(ep))],
        );
        let mut size = 0u64;
        while let Some(msg) = stream.next().await {
            let msg = msg?;
            f.write_all(&msg.blob)
                .map_err(|e| tonic::Status::unknown(e.to_string()))?;
            size += msg.blob.len() as u64;
        }
        log::zap(
            "info",
            false,
            "clientv3/maintenance.go:208",
            "completed snapshot read; closing",
            &[],
        );
        Ok::<u64, tonic::Status>(size)
    };
    let bounded = async {
        match deadline {
            Some(d) => match tokio::time::timeout_at(d.into(), run).await {
                Ok(outcome) => outcome,
                Err(_) => Err(tonic::Status::deadline_exceeded(
                    "context deadline exceeded",
                )),
            },
            None => run.await,
        }
    };
    let size = crate::runtime::block_on(bounded)?.map_err(|status| {
        CallError {
            status: Box::new(status),
            deadline_passed: deadline.is_some_and(|d| Instant::now() >= d),
        }
        .text()
    })?;
    if size % 512 != SHA256_SIZE {
        return Err(format!("sha256 checksum not found [bytes: {size}]"));
    }
    f.sync_all().map_err(|e| e.to_string())?;
    drop(f);
    log::zap(
        "info",
        true,
        "snapshot/v3_snapshot.go:142",
        "fetched snapshot",
        &[
            ("endpoint", quote(ep)),
            ("size", quote(&humanize_bytes(size))),
            ("took", format!("{}", start.elapsed().as_secs_f64())),
        ],
    );
    std::fs::rename(part, path).map_err(|e| {
        format!(
            "could not rename {part} to {path} (rename {part} {path}: {})",
            go_os_error(&e)
        )
    })?;
    log::zap(
        "info",
        true,
        "snapshot/v3_snapshot.go:152",
        "saved",
        &[("path", quote(path))],
    );
    Ok(())
}
