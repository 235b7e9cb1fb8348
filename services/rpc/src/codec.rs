//! The one codec between Concord's Rust types and the protobuf messages of
//! `proto/`: every service and every client converts through here, so a
//! field is mapped in exactly one place.

use std::sync::Arc;

use concord_api::{
    ApiError, Committed, CountStats, FollowerStats, KnownLeader, LatencyStats, LeaderStats,
    LeaderTransferError, Member, MembershipError, RaftPosition, RaftRole, SelfStats, WatchRequest,
};
use concord_store::{Action, Command, ErrorCode, Event, NodeExtern, StoreStats};

use crate::{cluster as pc, events as pe, kv as pk, store as ps, watch as pw};

/// A message that arrived without a field it must have.
#[derive(Debug, thiserror::Error)]
#[error("malformed message: {0}")]
pub struct Malformed(pub &'static str);

impl From<Malformed> for ApiError {
    fn from(m: Malformed) -> ApiError {
        ApiError::Internal(m.to_string())
    }
}

// --- store values ---------------------------------------------------------

pub fn node_to_proto(n: &NodeExtern) -> ps::Node {
    ps::Node {
        key: n.key.clone(),
        value: n.value.clone(),
        dir: n.dir,
        expiration: n.expiration,
        ttl: n.ttl,
        nodes: n.nodes.iter().map(node_to_proto).collect(),
        modified_index: n.modified_index,
        created_index: n.created_index,
    }
}

pub fn node_from_proto(n: ps::Node) -> NodeExtern {
    NodeExtern {
        key: n.key,
        value: n.value,
        dir: n.dir,
        expiration: n.expiration,
        ttl: n.ttl,
        nodes: n.nodes.into_iter().map(node_from_proto).collect(),
        modified_index: n.modified_index,
        created_index: n.created_index,
    }
}

fn action_to_proto(a: Action) -> ps::Action {
    match a {
        Action::Get => ps::Action::Get,
        Action::Create => ps::Action::Create,
        Action::Set => ps::Action::Set,
        Action::Update => ps::Action::Update,
        Action::Delete => ps::Action::Delete,
        Action::CompareAndSwap => ps::Action::CompareAndSwap,
        Action::CompareAndDelete => ps::Action::CompareAndDelete,
        Action::Expire => ps::Action::Expire,
    }
}

fn action_from_proto(a: ps::Action) -> Action {
    match a {
        ps::Action::Get => Action::Get,
        ps::Action::Create => Action::Create,
        ps::Action::Set => Action::Set,
        ps::Action::Update => Action::Update,
        ps::Action::Delete => Action::Delete,
        ps::Action::CompareAndSwap => Action::CompareAndSwap,
        ps::Action::CompareAndDelete => Action::CompareAndDelete,
        ps::Action::Expire => Action::Expire,
    }
}

pub fn event_to_proto(e: &Event) -> ps::Event {
    ps::Event {
        action: action_to_proto(e.action) as i32,
        node: Some(node_to_proto(&e.node)),
        prev_node: e.prev_node.as_ref().map(node_to_proto),
        etcd_index: e.etcd_index,
        refresh: e.refresh,
    }
}

pub fn event_from_proto(e: ps::Event) -> Result<Event, Malformed> {
    let action = ps::Action::try_from(e.action).map_err(|_| Malformed("event action"))?;
    Ok(Event {
        action: action_from_proto(action),
        node: node_from_proto(e.node.ok_or(Malformed("event node"))?),
        prev_node: e.prev_node.map(node_from_proto),
        etcd_index: e.etcd_index,
        refresh: e.refresh,
    })
}

pub fn command_to_proto(c: &Command) -> ps::Command {
    use ps::command::Kind;
    let kind = match c.clone() {
        Command::Set {
            key,
            dir,
            value,
            ttl,
            refresh,
        } => Kind::Set(ps::command::Set {
            key,
            dir,
            value,
            ttl,
            refresh,
        }),
        Command::Create {
            key,
            dir,
            value,
            unique,
            ttl,
        } => Kind::Create(ps::command::Create {
            key,
            dir,
            value,
            unique,
            ttl,
        }),
        Command::Update {
            key,
            value,
            ttl,
            refresh,
        } => Kind::Update(ps::command::Update {
            key,
            value,
            ttl,
            refresh,
        }),
        Command::CompareAndSwap {
            key,
            prev_value,
            prev_index,
            value,
            ttl,
            refresh,
        } => Kind::CompareAndSwap(ps::command::CompareAndSwap {
            key,
            prev_value,
            prev_index,
            value,
            ttl,
            refresh,
        }),
        Command::Delete {
            key,
            dir,
            recursive,
        } => Kind::Delete(ps::command::Delete {
            key,
            dir,
            recursive,
        }),
        Command::CompareAndDelete {
            key,
            prev_value,
            prev_index,
        } => Kind::CompareAndDelete(ps::command::CompareAndDelete {
            key,
            prev_value,
            prev_index,
        }),
        Command::ExpireKeys => Kind::ExpireKeys(ps::command::ExpireKeys {}),
    };
    ps::Command { kind: Some(kind) }
}

pub fn command_from_proto(c: ps::Command) -> Result<Command, Malformed> {
    use ps::command::Kind;
    Ok(match c.kind.ok_or(Malformed("command kind"))? {
        Kind::Set(s) => Command::Set {
            key: s.key,
            dir: s.dir,
            value: s.value,
            ttl: s.ttl,
            refresh: s.refresh,
        },
        Kind::Create(s) => Command::Create {
            key: s.key,
            dir: s.dir,
            value: s.value,
            unique: s.unique,
            ttl: s.ttl,
        },
        Kind::Update(s) => Command::Update {
            key: s.key,
            value: s.value,
            ttl: s.ttl,
            refresh: s.refresh,
        },
        Kind::CompareAndSwap(s) => Command::CompareAndSwap {
            key: s.key,
            prev_value: s.prev_value,
            prev_index: s.prev_index,
            value: s.value,
            ttl: s.ttl,
            refresh: s.refresh,
        },
        Kind::Delete(s) => Command::Delete {
            key: s.key,
            dir: s.dir,
            recursive: s.recursive,
        },
        Kind::CompareAndDelete(s) => Command::CompareAndDelete {
            key: s.key,
            prev_value: s.prev_value,
            prev_index: s.prev_index,
        },
        Kind::ExpireKeys(_) => Command::ExpireKeys,
    })
}

pub fn store_stats_to_proto(s: &StoreStats) -> ps::StoreStats {
    ps::StoreStats {
        gets_success: s.gets_success,
        gets_fail: s.gets_fail,
        sets_success: s.sets_success,
        sets_fail: s.sets_fail,
        delete_success: s.delete_success,
        delete_fail: s.delete_fail,
        update_success: s.update_success,
        update_fail: s.update_fail,
        create_success: s.create_success,
        create_fail: s.create_fail,
        compare_and_swap_success: s.compare_and_swap_success,
        compare_and_swap_fail: s.compare_and_swap_fail,
        compare_and_delete_success: s.compare_and_delete_success,
        compare_and_delete_fail: s.compare_and_delete_fail,
        expire_count: s.expire_count,
        watchers: s.watchers,
    }
}

pub fn store_stats_from_proto(s: ps::StoreStats) -> StoreStats {
    StoreStats {
        gets_success: s.gets_success,
        gets_fail: s.gets_fail,
        sets_success: s.sets_success,
        sets_fail: s.sets_fail,
        delete_success: s.delete_success,
        delete_fail: s.delete_fail,
        update_success: s.update_success,
        update_fail: s.update_fail,
        create_success: s.create_success,
        create_fail: s.create_fail,
        compare_and_swap_success: s.compare_and_swap_success,
        compare_and_swap_fail: s.compare_and_swap_fail,
        compare_and_delete_success: s.compare_and_delete_success,
        compare_and_delete_fail: s.compare_and_delete_fail,
        expire_count: s.expire_count,
        watchers: s.watchers,
    }
}

// --- errors and positions -------------------------------------------------

pub fn api_error_to_proto(e: &ApiError) -> pk::ApiError {
    use pk::api_error::Kind;
    let kind = match e {
        ApiError::Store(s) => Kind::Store(ps::StoreError {
            error_code: s.code.code(),
            cause: s.cause.clone(),
            index: s.index,
        }),
        ApiError::NoLeader(m) => Kind::NoLeader(m.clone()),
        ApiError::Internal(m) => Kind::Internal(m.clone()),
        ApiError::Stopping => Kind::Stopping(pk::Empty {}),
    };
    pk::ApiError { kind: Some(kind) }
}

pub fn api_error_from_proto(e: pk::ApiError) -> ApiError {
    use pk::api_error::Kind;
    match e.kind {
        Some(Kind::Store(s)) => match ErrorCode::from_code(s.error_code) {
            Some(code) => ApiError::Store(concord_store::Error::new(code, s.cause, s.index)),
            None => ApiError::Internal(format!("unknown errorCode {}", s.error_code)),
        },
        Some(Kind::NoLeader(m)) => ApiError::NoLeader(m),
        Some(Kind::Internal(m)) => ApiError::Internal(m),
        Some(Kind::Stopping(_)) => ApiError::Stopping,
        None => ApiError::Internal("malformed message: error kind".into()),
    }
}

pub fn raft_to_proto(r: RaftPosition) -> pk::RaftPosition {
    pk::RaftPosition {
        index: r.index,
        term: r.term,
    }
}

pub fn raft_from_proto(r: Option<pk::RaftPosition>) -> RaftPosition {
    r.map(|r| RaftPosition {
        index: r.index,
        term: r.term,
    })
    .unwrap_or_default()
}

/// A request ID on the wire (`None` for 0, none).
pub fn request_id_to_proto(id: concord_api::RequestId) -> Option<pk::RequestId> {
    (id != 0).then_some(pk::RequestId {
        origin: (id >> 64) as u64,
        seq: id as u64,
    })
}

/// A request ID from the wire (0: none).
pub fn request_id_from_proto(id: Option<pk::RequestId>) -> concord_api::RequestId {
    id.map_or(0, |id| (u128::from(id.origin) << 64) | u128::from(id.seq))
}

// --- cluster --------------------------------------------------------------

pub fn member_to_proto(m: &Member) -> pc::Member {
    pc::Member {
        id: m.id.clone(),
        name: m.name.clone(),
        peer_urls: m.peer_urls.clone(),
        client_urls: m.client_urls.clone(),
    }
}

pub fn member_from_proto(m: pc::Member) -> Member {
    Member {
        id: m.id,
        name: m.name,
        peer_urls: m.peer_urls,
        client_urls: m.client_urls,
    }
}

pub fn membership_error_to_proto(e: &MembershipError) -> pc::MembershipError {
    use pc::membership_error::Kind;
    let (kind, detail) = match e {
        MembershipError::NotFound(id) => (Kind::NotFound, id.clone()),
        MembershipError::Removed(id) => (Kind::Removed, id.clone()),
        MembershipError::IdExists => (Kind::IdExists, String::new()),
        MembershipError::IdRemoved => (Kind::IdRemoved, String::new()),
        MembershipError::PeerUrlExists => (Kind::PeerUrlExists, String::new()),
        MembershipError::Unhealthy => (Kind::Unhealthy, String::new()),
        MembershipError::NotEnoughStarted => (Kind::NotEnoughStarted, String::new()),
        MembershipError::Internal(m) => (Kind::Internal, m.clone()),
    };
    pc::MembershipError {
        kind: kind as i32,
        detail,
    }
}

pub fn membership_error_from_proto(e: pc::MembershipError) -> MembershipError {
    use pc::membership_error::Kind;
    match Kind::try_from(e.kind).unwrap_or(Kind::Internal) {
        Kind::NotFound => MembershipError::NotFound(e.detail),
        Kind::Removed => MembershipError::Removed(e.detail),
        Kind::IdExists => MembershipError::IdExists,
        Kind::IdRemoved => MembershipError::IdRemoved,
        Kind::PeerUrlExists => MembershipError::PeerUrlExists,
        Kind::Unhealthy => MembershipError::Unhealthy,
        Kind::NotEnoughStarted => MembershipError::NotEnoughStarted,
        Kind::Internal => MembershipError::Internal(e.detail),
    }
}

pub fn transfer_error_to_proto(e: &LeaderTransferError) -> pc::LeaderTransferError {
    use pc::leader_transfer_error::Kind;
    let (kind, detail) = match e {
        LeaderTransferError::NotLeader => (Kind::NotLeader, String::new()),
        LeaderTransferError::BadTransferee => (Kind::BadTransferee, String::new()),
        LeaderTransferError::TimedOut => (Kind::TimedOut, String::new()),
        LeaderTransferError::NotCapable => (Kind::NotCapable, String::new()),
        LeaderTransferError::Internal(m) => (Kind::Internal, m.clone()),
    };
    pc::LeaderTransferError {
        kind: kind as i32,
        detail,
    }
}

pub fn transfer_error_from_proto(e: pc::LeaderTransferError) -> LeaderTransferError {
    use pc::leader_transfer_error::Kind;
    match Kind::try_from(e.kind).unwrap_or(Kind::Internal) {
        Kind::NotLeader => LeaderTransferError::NotLeader,
        Kind::BadTransferee => LeaderTransferError::BadTransferee,
        Kind::TimedOut => LeaderTransferError::TimedOut,
        Kind::NotCapable => LeaderTransferError::NotCapable,
        Kind::Internal => LeaderTransferError::Internal(e.detail),
    }
}

pub fn self_stats_to_proto(s: &SelfStats) -> pc::SelfStatsReply {
    pc::SelfStatsReply {
        name: s.name.clone(),
        id: s.id,
        role: match s.role {
            RaftRole::Follower => pc::RaftRole::Follower,
            RaftRole::Candidate => pc::RaftRole::Candidate,
            RaftRole::Leader => pc::RaftRole::Leader,
        } as i32,
        start_time: s.start_time,
        leader: s.leader.map(|l| pc::KnownLeader {
            id: l.id,
            since: l.since,
            uptime_nanos: l.uptime_nanos,
        }),
        recv_append_request_cnt: s.recv_append_request_cnt,
        send_append_request_cnt: s.send_append_request_cnt,
    }
}

pub fn self_stats_from_proto(s: pc::SelfStatsReply) -> SelfStats {
    SelfStats {
        name: s.name,
        id: s.id,
        role: match pc::RaftRole::try_from(s.role).unwrap_or(pc::RaftRole::Follower) {
            pc::RaftRole::Follower => RaftRole::Follower,
            pc::RaftRole::Candidate => RaftRole::Candidate,
            pc::RaftRole::Leader => RaftRole::Leader,
        },
        start_time: s.start_time,
        leader: s.leader.map(|l| KnownLeader {
            id: l.id,
            since: l.since,
            uptime_nanos: l.uptime_nanos,
        }),
        recv_append_request_cnt: s.recv_append_request_cnt,
        send_append_request_cnt: s.send_append_request_cnt,
    }
}

pub fn leader_stats_to_proto(s: &LeaderStats) -> pc::LeaderStats {
    pc::LeaderStats {
        leader: s.leader.clone(),
        followers: s
            .followers
            .iter()
            .map(|(id, f)| {
                (
                    id.clone(),
                    pc::FollowerStats {
                        latency_current: f.latency.current,
                        latency_average: f.latency.average,
                        latency_standard_deviation: f.latency.standard_deviation,
                        latency_minimum: f.latency.minimum,
                        latency_maximum: f.latency.maximum,
                        fail: f.counts.fail,
                        success: f.counts.success,
                    },
                )
            })
            .collect(),
    }
}

pub fn leader_stats_from_proto(s: pc::LeaderStats) -> LeaderStats {
    LeaderStats {
        leader: s.leader,
        followers: s
            .followers
            .into_iter()
            .map(|(id, f)| {
                (
                    id,
                    FollowerStats {
                        latency: LatencyStats {
                            current: f.latency_current,
                            average: f.latency_average,
                            standard_deviation: f.latency_standard_deviation,
                            minimum: f.latency_minimum,
                            maximum: f.latency_maximum,
                        },
                        counts: CountStats {
                            fail: f.fail,
                            success: f.success,
                        },
                    },
                )
            })
            .collect(),
    }
}

// --- committed events and watches ----------------------------------------

pub fn committed_to_proto(c: &Committed) -> pe::EventsReply {
    use pe::events_reply::Kind;
    let kind = match c {
        Committed::Event(e) => Kind::Event(event_to_proto(e)),
        Committed::Reset(i) => Kind::Reset(pe::Reset { store_index: *i }),
    };
    pe::EventsReply { kind: Some(kind) }
}

pub fn committed_from_proto(r: pe::EventsReply) -> Result<Committed, Malformed> {
    use pe::events_reply::Kind;
    Ok(match r.kind.ok_or(Malformed("events reply kind"))? {
        Kind::Event(e) => Committed::Event(Arc::new(event_from_proto(e)?)),
        Kind::Reset(r) => Committed::Reset(r.store_index),
    })
}

pub fn watch_request_to_proto(r: &WatchRequest) -> pw::WatchRequest {
    pw::WatchRequest {
        key: r.key.clone(),
        recursive: r.recursive,
        stream: r.stream,
        since_index: r.since_index,
        after_index: r.after_index,
    }
}

pub fn watch_request_from_proto(r: pw::WatchRequest) -> WatchRequest {
    WatchRequest {
        key: r.key,
        recursive: r.recursive,
        stream: r.stream,
        since_index: r.since_index,
        after_index: r.after_index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(key: &str, value: Option<&str>, nodes: Vec<NodeExtern>) -> NodeExtern {
        NodeExtern {
            key: key.into(),
            value: value.map(String::from),
            dir: value.is_none(),
            expiration: Some(1_764_000_000_123_456_789),
            ttl: 7,
            nodes,
            modified_index: 9,
            created_index: 3,
        }
    }

    #[test]
    fn events_round_trip() {
        let e = Event {
            action: Action::CompareAndSwap,
            node: node("/d", None, vec![node("/d/a", Some(""), vec![])]),
            prev_node: Some(node("/d", Some("x"), vec![])),
            etcd_index: 12,
            refresh: true,
        };
        assert_eq!(event_from_proto(event_to_proto(&e)).unwrap(), e);
    }

    #[test]
    fn commands_round_trip() {
        let commands = vec![
            Command::Set {
                key: "/a".into(),
                dir: false,
                value: "v".into(),
                ttl: Some(5),
                refresh: true,
            },
            Command::Create {
                key: "/q".into(),
                dir: true,
                value: String::new(),
                unique: true,
                ttl: None,
            },
            Command::Update {
                key: "/a".into(),
                value: "w".into(),
                ttl: Some(u64::MAX),
                refresh: false,
            },
            Command::CompareAndSwap {
                key: "/a".into(),
                prev_value: "w".into(),
                prev_index: 4,
                value: "z".into(),
                ttl: None,
                refresh: false,
            },
            Command::Delete {
                key: "/d".into(),
                dir: true,
                recursive: true,
            },
            Command::CompareAndDelete {
                key: "/a".into(),
                prev_value: String::new(),
                prev_index: 8,
            },
            Command::ExpireKeys,
        ];
        for c in commands {
            assert_eq!(command_from_proto(command_to_proto(&c)).unwrap(), c);
        }
    }

    #[test]
    fn errors_round_trip() {
        let store = ApiError::Store(concord_store::Error::new(
            ErrorCode::TestFailed,
            "[a != b]",
            7,
        ));
        match api_error_from_proto(api_error_to_proto(&store)) {
            ApiError::Store(s) => {
                assert_eq!(s.code, ErrorCode::TestFailed);
                assert_eq!((s.cause.as_str(), s.index), ("[a != b]", 7));
            }
            other => panic!("{other:?}"),
        }
        let removed = MembershipError::Removed("8e9e05c52164694d".into());
        let back = membership_error_from_proto(membership_error_to_proto(&removed));
        assert_eq!(back.to_string(), removed.to_string());
        for e in [
            LeaderTransferError::NotLeader,
            LeaderTransferError::BadTransferee,
            LeaderTransferError::TimedOut,
            LeaderTransferError::NotCapable,
            LeaderTransferError::Internal("x".into()),
        ] {
            assert_eq!(transfer_error_from_proto(transfer_error_to_proto(&e)), e);
        }
    }

    #[test]
    fn committed_and_watch_requests_round_trip() {
        let e = Event {
            action: Action::Set,
            node: node("/a", Some("v"), vec![]),
            prev_node: None,
            etcd_index: 9,
            refresh: false,
        };
        match committed_from_proto(committed_to_proto(&Committed::Event(Arc::new(e.clone())))) {
            Ok(Committed::Event(back)) => assert_eq!(*back, e),
            other => panic!("{other:?}"),
        }
        match committed_from_proto(committed_to_proto(&Committed::Reset(40))) {
            Ok(Committed::Reset(40)) => {}
            other => panic!("{other:?}"),
        }
        let r = WatchRequest {
            key: "/d".into(),
            recursive: true,
            stream: true,
            since_index: Some(3),
            after_index: 12,
        };
        let back = watch_request_from_proto(watch_request_to_proto(&r));
        assert_eq!(
            (
                back.key,
                back.recursive,
                back.stream,
                back.since_index,
                back.after_index
            ),
            ("/d".to_string(), true, true, Some(3), 12)
        );
    }
}
