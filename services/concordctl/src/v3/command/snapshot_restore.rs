//! `snapshot restore <filename>` (`snapshot_command.go`, clientv3's
//! `snapshot.Restore`): a new member's data dir written from a snapshot
//! file by `concord-consensus`'s restore (`node/restore.rs`), with etcd's
//! flags, checks, zap lines on stderr and errors. `concord --data-dir D`
//! with the same `--name`, `--initial-cluster` and token then starts a new
//! cluster holding the snapshot's v3 keyspace.
//!
//! etcdctl's lines name a `wal-dir` (`<data-dir>/member/wal`); a Concord
//! member keeps its raft log in `<data-dir>/member/raft.db` instead, so the
//! line is etcd's and `--wal-dir` itself is refused.

use std::path::PathBuf;

use concord_consensus::ids::hex;
use concord_consensus::node::{RestoreConfig, RestorePlan};

use crate::v3::cli::Parsed;
use crate::v3::client::log;
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_ARGS, EXIT_BAD_FEATURE, EXIT_ERROR};
use crate::v3::printer::json::quote;

pub fn restore(p: Parsed) -> Outcome {
    let [path] = p.args.as_slice() else {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "snapshot restore requires exactly one argument",
        ));
    };
    let peer_urls: Vec<String> = p
        .string("initial-advertise-peer-urls")
        .split(',')
        .map(str::to_string)
        .collect();
    let initial_cluster = urls_map(&p.string("initial-cluster"));
    // etcd's `types.NewURLs`, the advertised URLs first, as `Restore`.
    let urls = |list: &[String]| {
        let refs: Vec<&str> = list.iter().map(String::as_str).collect();
        crate::v2::new_urls(&refs).map_err(|e| Fail::new(EXIT_ERROR, e))
    };
    urls(&peer_urls)?;
    for (_, list) in &initial_cluster {
        urls(list)?;
    }
    if !p.string("wal-dir").is_empty() {
        return Err(Fail::new(
            EXIT_BAD_FEATURE,
            "concordctl does not support --wal-dir: a Concord member keeps its raft log in <data-dir>/member/raft.db",
        ));
    }
    let name = p.string("name");
    let data_dir = match p.string("data-dir") {
        d if d.is_empty() => format!("{name}.etcd"),
        d => d,
    };
    let cfg = RestoreConfig {
        snapshot_path: PathBuf::from(path),
        name,
        data_dir: PathBuf::from(&data_dir),
        initial_cluster,
        initial_cluster_token: p.string("initial-cluster-token"),
        initial_advertise_peer_urls: peer_urls,
        skip_hash_check: p.bool("skip-hash-check"),
    };
    let fail = |e: concord_consensus::node::RestoreError| Fail::new(EXIT_ERROR, e.to_string());
    let plan = RestorePlan::new(cfg).map_err(fail)?;
    let member_dir = format!("{data_dir}/member");
    let fields = [
        ("path", quote(path)),
        ("wal-dir", quote(&format!("{member_dir}/wal"))),
        ("data-dir", quote(&data_dir)),
        ("snap-dir", quote(&format!("{member_dir}/snap"))),
    ];
    log::zap(
        "info",
        true,
        "snapshot/v3_snapshot.go:296",
        "restoring snapshot",
        &fields,
    );
    crate::runtime::block_on(plan.write())
        .map_err(|e| Fail::new(EXIT_ERROR, e))?
        .map_err(fail)?;
    for (id, member) in plan.members() {
        let mut urls = member.peer_urls.clone();
        urls.sort();
        let urls: Vec<String> = urls.iter().map(|u| quote(u)).collect();
        log::zap(
            "info",
            true,
            "membership/cluster.go:392",
            "added member",
            &[
                ("cluster-id", quote(&hex(plan.cluster_id()))),
                ("local-member-id", quote("0")),
                ("added-peer-id", quote(&hex(*id))),
                ("added-peer-peer-urls", format!("[{}]", urls.join(","))),
            ],
        );
    }
    log::zap(
        "info",
        true,
        "snapshot/v3_snapshot.go:309",
        "restored snapshot",
        &fields,
    );
    Ok(())
}

/// etcd's `types.NewURLsMap`: `name=url` pairs joined by commas, read as
/// a query string (a pair without `=` is a name with an empty URL, which
/// the URL check then refuses as etcd does), each name's URLs in order.
fn urls_map(s: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for pair in s.split(',').filter(|p| !p.is_empty()) {
        let (name, url) = pair.split_once('=').unwrap_or((pair, ""));
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, urls)) => urls.push(url.to_string()),
            None => out.push((name.to_string(), vec![url.to_string()])),
        }
    }
    out
}
