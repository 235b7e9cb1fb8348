//! Who this member is: its name, member ID and cluster ID, written once to
//! `<data-dir>/member/identity.json` (like etcd's WAL metadata) when the
//! member bootstraps a new cluster or joins an existing one.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConsensusConfig, ConsensusError};
use crate::ids::{self, hex};
use crate::network::PeerConn;
use crate::types::{MemberNode, MembershipInfo};

/// Who this member is; written once, at bootstrap, like etcd's WAL
/// metadata. On restart it is what counts; the initial-cluster flags are
/// ignored, as etcd ignores them once it has a data dir.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Identity {
    pub(super) name: String,
    pub(super) member_id: u64,
    pub(super) cluster_id: u64,
    /// The membership raft is initialized with (until it has been); empty
    /// for a member that joined an existing cluster.
    #[serde(default)]
    pub(super) initial_members: BTreeMap<u64, MemberNode>,
    /// True once raft has state on disk for this identity (a vote or log
    /// entries): from then on a raft log without state is damage, not a
    /// first start that stopped early. Identity files from before this
    /// field existed belong to members that started, hence the default.
    #[serde(default = "started_before")]
    pub(super) has_raft_state: bool,
    /// `--initial-cluster-token`: mixed into the IDs of members added later.
    #[serde(default)]
    pub(super) cluster_token: String,
}

fn started_before() -> bool {
    true
}

fn data_dir_err(path: &Path) -> impl FnOnce(std::io::Error) -> ConsensusError + '_ {
    move |source| ConsensusError::DataDir {
        path: path.display().to_string(),
        source,
    }
}

/// Reads the identity of an existing data dir, or computes it from the
/// flags (etcd's IDs) and writes it durably (temp file, fsync, rename).
pub(super) fn load_or_create_identity(
    cfg: &ConsensusConfig,
    path: &Path,
) -> Result<Identity, ConsensusError> {
    if path.exists() {
        let bytes = std::fs::read(path).map_err(data_dir_err(path))?;
        return serde_json::from_slice(&bytes).map_err(|e| ConsensusError::DamagedDataDir {
            file: path.display().to_string(),
            problem: format!("the member identity is unreadable: {e}"),
        });
    }
    let mut initial = BTreeMap::new();
    for (name, urls) in &cfg.initial_cluster {
        let id = ids::member_id(urls, &cfg.initial_cluster_token, None);
        // Every member must bootstrap raft with the same membership: client
        // URLs are published by each member once it runs.
        initial.insert(
            id,
            MemberNode {
                name: name.clone(),
                peer_urls: urls.clone(),
                client_urls: Vec::new(),
            },
        );
    }
    let me = initial
        .iter()
        .find(|(_, n)| n.name == cfg.name)
        .map(|(id, _)| *id)
        .ok_or_else(|| ConsensusError::NotInInitialCluster(cfg.name.clone()))?;
    let ids_list: Vec<u64> = initial.keys().copied().collect();
    let identity = Identity {
        name: cfg.name.clone(),
        member_id: me,
        cluster_id: ids::cluster_id(&ids_list),
        initial_members: initial,
        has_raft_state: false,
        cluster_token: cfg.initial_cluster_token.clone(),
    };
    save_identity(&identity, path)?;
    Ok(identity)
}

pub(super) fn save_identity(identity: &Identity, path: &Path) -> Result<(), ConsensusError> {
    let bytes = serde_json::to_vec(identity).map_err(|e| ConsensusError::Storage(e.to_string()))?;
    write_durably(path, &bytes).map_err(data_dir_err(path))
}

fn sorted(urls: &[String]) -> Vec<String> {
    let mut v = urls.to_vec();
    v.sort();
    v
}

/// `--initial-cluster-state existing`: the member was added with `member
/// add`; its ID and the cluster's come from the running members (etcd's
/// `GetClusterFromRemotePeers`), matched by this member's peer URLs.
pub(super) async fn join_identity(
    cfg: &ConsensusConfig,
    path: &Path,
) -> Result<Identity, ConsensusError> {
    let mine = sorted(&cfg.initial_advertise_peer_urls);
    let mut last_err = String::from("no other member in --initial-cluster");
    // A few rounds: the member may be started right after `member add`,
    // while the others are still committing it.
    for round in 0..5 {
        if round > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        for (_, urls) in &cfg.initial_cluster {
            if sorted(urls) == mine {
                continue;
            }
            for url in urls {
                let info: MembershipInfo = match PeerConn::new(url, 0, 0) {
                    Ok(conn) => match conn.membership(Duration::from_secs(2)).await {
                        Ok(info) => info,
                        Err(e) => {
                            last_err = e.to_string();
                            continue;
                        }
                    },
                    Err(e) => {
                        last_err = e.to_string();
                        continue;
                    }
                };
                if info.members.len() != cfg.initial_cluster.len() {
                    return Err(ConsensusError::Join(format!(
                        "error validating peerURLs {{ClusterID:{} Members:{}}}: member count is unequal",
                        hex(info.cluster_id),
                        info.members.len()
                    )));
                }
                let Some((id, _)) = info
                    .members
                    .iter()
                    .find(|(_, n)| sorted(&n.peer_urls) == mine)
                else {
                    return Err(ConsensusError::Join(format!(
                        "error validating peerURLs {{ClusterID:{}}}: unmatched member while checking PeerURLs {:?}",
                        hex(info.cluster_id),
                        mine
                    )));
                };
                let identity = Identity {
                    name: cfg.name.clone(),
                    member_id: *id,
                    cluster_id: info.cluster_id,
                    initial_members: BTreeMap::new(),
                    has_raft_state: false,
                    cluster_token: cfg.initial_cluster_token.clone(),
                };
                save_identity(&identity, path)?;
                return Ok(identity);
            }
        }
    }
    Err(ConsensusError::Join(format!(
        "could not retrieve cluster information from the given URLs ({last_err})"
    )))
}

fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}
