//! The steps of [`Consensus::start`](super::Consensus::start) that stand on
//! their own: openraft's settings from etcd's flags, the restarted
//! ex-leader's vote, bootstrapping a new cluster, and the peer servers.

use std::path::Path;
use std::sync::Weak;

use super::*;

/// openraft restores a member whose stored vote is a committed vote for
/// itself as leader at once, without asking anyone: a restarted ex-leader
/// would claim a term the cluster has left (two leaders in /v2/stats/self)
/// and, if it was removed meanwhile, never learn it. Kept as an uncommitted
/// vote (the same term, the same choice, so no second vote in that term),
/// it starts as a follower and leads again only through an election.
pub(super) async fn keep_own_vote_uncommitted(
    log: &mut SqliteLogStore,
    vote: Option<Vote<u64>>,
    member_id: u64,
) -> Result<(), openraft::StorageError<u64>> {
    let own_committed =
        vote.filter(|v| v.is_committed() && v.leader_id().voted_for() == Some(member_id));
    if let Some(v) = own_committed {
        log.save_vote(&Vote::new(v.leader_id().term, member_id))
            .await?;
    }
    Ok(())
}

/// openraft's settings from etcd's flags.
pub(super) fn raft_config(
    cfg: &ConsensusConfig,
    cluster_id: u64,
) -> Result<Arc<Config>, ConsensusError> {
    let config = Config {
        cluster_name: hex(cluster_id),
        heartbeat_interval: cfg.heartbeat_interval_ms,
        // openraft 0.9 lets a follower that knows a leader stand for
        // election only after the leader lease (`election_timeout_max`)
        // plus its random timeout in [min, max). With [0.4, 0.7)
        // election timeouts, the lease (voters ignore candidates while
        // they hear from a leader) is 7 heartbeats by default and a
        // follower stands 1.1-1.4 election timeouts after the leader's
        // last message, within etcd's 1-2 (with [0.5, 1) it stood at
        // 1.5-2 and writes resumed 1.66-2.11 s after a leader kill;
        // with [1, 2), 3-4).
        election_timeout_min: (cfg.election_timeout_ms * 2 / 5).max(cfg.heartbeat_interval_ms + 1),
        election_timeout_max: (cfg.election_timeout_ms * 7 / 10).max(cfg.heartbeat_interval_ms + 2),
        install_snapshot_timeout: (cfg.election_timeout_ms * 10).max(10_000),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_count.max(1)),
        // Like etcd's 5000 catch-up entries kept after a snapshot.
        max_in_snapshot_log_to_keep: 5000.min(cfg.snapshot_count),
        max_payload_entries: 4096,
        ..Default::default()
    };
    Ok(Arc::new(
        config
            .validate()
            .map_err(|e| ConsensusError::Raft(e.to_string()))?,
    ))
}

/// Initializes raft with the initial members on a member's first start,
/// records in the identity that raft has state, and lets a lone voter
/// lead again at once.
pub(super) async fn bootstrap(
    raft: &Raft,
    mut identity: Identity,
    identity_path: &Path,
) -> Result<Identity, ConsensusError> {
    // Asked of raft, not of the identity file: a crash between writing
    // the identity and initializing must not leave a member that never
    // bootstraps. A joining member has no initial members: the leader
    // brings it the log.
    let initialized = raft
        .is_initialized()
        .await
        .map_err(|e| ConsensusError::Raft(e.to_string()))?;
    if !initialized && !identity.initial_members.is_empty() {
        info!(
            "bootstrapping cluster {} with {} member(s)",
            hex(identity.cluster_id),
            identity.initial_members.len()
        );
        raft.initialize(identity.initial_members.clone())
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))?;
    }
    // Recorded once raft has state (at bootstrap, or on the first
    // restart of a member that joined and received the log).
    if !identity.has_raft_state && (initialized || !identity.initial_members.is_empty()) {
        identity.has_raft_state = true;
        save_identity(&identity, identity_path)?;
    }
    // A lone voter restarted on its data dir need not wait an election
    // timeout to lead again (etcd advances its election ticks likewise).
    let voters: Vec<u64> = raft
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .voter_ids()
        .collect();
    if initialized && voters == [identity.member_id] {
        if let Err(e) = raft.trigger().elect().await {
            warn!("could not start an election at once: {e}");
        }
    }
    Ok(identity)
}

/// Serves the peer protocol on each of `listeners`, over TLS when the
/// process has peer TLS.
pub(super) fn serve_peers(
    node: &Weak<Consensus>,
    listeners: Vec<tokio::net::TcpListener>,
) -> Vec<JoinHandle<()>> {
    listeners
        .into_iter()
        .map(|listener| {
            let service = PeerServer::new(PeerService { node: node.clone() })
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES);
            // TLS when the member has peer TLS (--peer-cert-file,
            // --peer-auto-tls; tls_transport.rs).
            let tls = crate::tls_transport::peer_tls().map(|t| t.server.clone());
            let incoming = crate::tls_transport::incoming(listener, tls);
            tokio::spawn(async move {
                let served = concord_rpc::keepalive::server()
                    .add_service(service)
                    .serve_with_incoming(incoming)
                    .await;
                if let Err(e) = served {
                    error!("peer server stopped: {e}");
                }
            })
        })
        .collect()
}
