//! What a member's data dir must hold before raft may start on it.
//!
//! A data dir is either new (nothing of raft in it: the member bootstraps
//! or joins) or a complete set that agrees with itself: `identity.json`,
//! a `raft.db` holding raft state (a vote or log entries) and, where the
//! log has been compacted, a snapshot reaching at least to where the log
//! now starts. Anything else is damage (a truncated file, a lost SQLite
//! `-wal`, a deleted snapshot): starting on it would bootstrap a new, empty
//! cluster over the member's data or forget a vote, so the member refuses,
//! naming the file and the way back.

use std::path::Path;

use openraft::{LogState, Vote};

use super::ConsensusError;
use crate::types::{LogId, TypeConfig};

/// The file names inside `<data-dir>/member`.
pub(super) const IDENTITY_FILE: &str = "identity.json";
pub(super) const RAFT_LOG_FILE: &str = "raft.db";
pub(super) const SNAPSHOT_DIR: &str = "snap";

/// What a member dir held when the member started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// No identity: a new member (a raft log may be left from a first start
    /// that stopped before writing the identity; it must hold nothing).
    New,
    /// An identity and a non-empty raft log beside it.
    Existing,
}

fn damaged(path: &Path, problem: impl Into<String>) -> ConsensusError {
    ConsensusError::DamagedDataDir {
        file: path.display().to_string(),
        problem: problem.into(),
    }
}

/// Checks the files before anything opens (and so creates) them.
pub(super) fn inspect(member_dir: &Path) -> Result<Found, ConsensusError> {
    let identity = member_dir.join(IDENTITY_FILE);
    let log = member_dir.join(RAFT_LOG_FILE);
    if !identity.exists() {
        return Ok(Found::New);
    }
    match std::fs::metadata(&log) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(damaged(
            &log,
            format!("the raft log is missing beside {IDENTITY_FILE}"),
        )),
        Err(e) => Err(damaged(&log, e.to_string())),
        Ok(m) if m.len() == 0 => Err(damaged(&log, "the raft log is empty (0 bytes)")),
        Ok(_) => Ok(Found::Existing),
    }
}

/// Checks the opened raft log against what the dir should hold.
pub(super) fn check_opened(
    member_dir: &Path,
    found: Found,
    had_raft_state: bool,
    vote: Option<&Vote<u64>>,
    log: &LogState<TypeConfig>,
    snapshot: Option<LogId>,
) -> Result<(), ConsensusError> {
    let log_path = member_dir.join(RAFT_LOG_FILE);
    let has_state = vote.is_some() || log.last_log_id.is_some() || snapshot.is_some();
    match found {
        Found::New if has_state => Err(damaged(
            &member_dir.join(IDENTITY_FILE),
            format!("the member identity is missing beside a raft log and snapshots that hold raft state ({RAFT_LOG_FILE}, {SNAPSHOT_DIR}/)"),
        )),
        Found::New => Ok(()),
        // A first start that stopped between writing the identity and
        // initializing raft left no state yet: it starts again.
        Found::Existing if !had_raft_state && !has_state => Ok(()),
        Found::Existing if vote.is_none() && log.last_log_id.is_none() => Err(damaged(
            &log_path,
            format!(
                "the raft log holds no raft state (no vote, no entries) although {IDENTITY_FILE} says this member has started before (was the file or its -wal lost?)"
            ),
        )),
        Found::Existing => {
            let purged = log.last_purged_log_id.map(|l| l.index);
            let covered = snapshot.map(|l| l.index);
            match (purged, covered) {
                (Some(p), Some(s)) if p > s => Err(damaged(
                    &member_dir.join(SNAPSHOT_DIR),
                    format!("the newest snapshot ends at raft index {s}, but the raft log ({RAFT_LOG_FILE}) starts after index {p}: entries {}..={p} are lost", s + 1),
                )),
                (Some(p), None) => Err(damaged(
                    &member_dir.join(SNAPSHOT_DIR),
                    format!("no snapshot, but the raft log ({RAFT_LOG_FILE}) was compacted up to index {p}: the snapshot it needs is missing"),
                )),
                _ => Ok(()),
            }
        }
    }
}
