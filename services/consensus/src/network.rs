//! The raft transport between members.
//!
//! A single-member cluster never sends raft RPCs; multi-member transport
//! over gRPC on the peer URLs is the next step (see ARCHITECTURE.md). Until
//! then every peer is reported unreachable, which openraft handles as a
//! down member.

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use crate::types::{MemberNode, TypeConfig};

/// Creates one client per peer.
#[derive(Clone, Default)]
pub struct PeerNetwork;

/// A client for one peer.
pub struct PeerClient {
    target: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("no raft transport to member {0:016x} (multi-member clusters are not supported yet)")]
struct NoTransport(u64);

fn unreachable<E: std::error::Error>(target: u64) -> RPCError<u64, MemberNode, E> {
    RPCError::Network(NetworkError::new(&NoTransport(target)))
}

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, _node: &MemberNode) -> PeerClient {
        PeerClient { target }
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, MemberNode, RaftError<u64>>> {
        Err(unreachable(self.target))
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, MemberNode, RaftError<u64, InstallSnapshotError>>,
    > {
        Err(unreachable(self.target))
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, MemberNode, RaftError<u64>>> {
        Err(unreachable(self.target))
    }
}
