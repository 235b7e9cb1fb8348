//! etcd's presentation of a member's raft statistics: `/v2/stats/self`
//! with hex IDs, "StateLeader", RFC 3339 times and Go durations, rendered
//! from the data the `Cluster` contract carries; and the `/v2/stats/*`
//! handlers (etcd's `statsHandler`: self, store, leader).

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use concord_api::{RaftRole, SelfStats};
use concord_store::time::format_rfc3339_nano;
use serde::Serialize;

use crate::error::{http_error, GatewayError};
use crate::response::{allow, json_response};
use crate::GatewayState;

/// `/v2/stats/self` in etcd's field order.
#[derive(Serialize)]
struct EtcdSelfStats {
    name: String,
    id: String,
    state: &'static str,
    #[serde(rename = "startTime")]
    start_time: String,
    #[serde(rename = "leaderInfo")]
    leader_info: EtcdLeaderInfo,
    #[serde(rename = "recvAppendRequestCnt")]
    recv_append_request_cnt: u64,
    #[serde(rename = "sendAppendRequestCnt")]
    send_append_request_cnt: u64,
}

#[derive(Serialize, Default)]
struct EtcdLeaderInfo {
    leader: String,
    uptime: String,
    #[serde(rename = "startTime")]
    start_time: String,
}

/// The JSON body of `/v2/stats/self`.
pub fn self_stats_json(s: &SelfStats) -> Vec<u8> {
    let body = EtcdSelfStats {
        name: s.name.clone(),
        id: format!("{:x}", s.id),
        state: match s.role {
            RaftRole::Leader => "StateLeader",
            RaftRole::Candidate => "StateCandidate",
            RaftRole::Follower => "StateFollower",
        },
        start_time: format_rfc3339_nano(s.start_time),
        leader_info: s
            .leader
            .map(|l| EtcdLeaderInfo {
                leader: format!("{:x}", l.id),
                uptime: go_duration(l.uptime_nanos),
                start_time: format_rfc3339_nano(l.since),
            })
            .unwrap_or_default(),
        recv_append_request_cnt: s.recv_append_request_cnt,
        send_append_request_cnt: s.send_append_request_cnt,
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Go's `time.Duration.String()`, as etcd prints `uptime`.
pub fn go_duration(nanos: i64) -> String {
    if nanos <= 0 {
        return "0s".into();
    }
    let secs_total = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let (h, m, s) = (secs_total / 3600, (secs_total % 3600) / 60, secs_total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&s.to_string());
    if frac > 0 {
        let f = format!("{frac:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('s');
    out
}

pub(crate) async fn stats_self(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET"]) {
        return r;
    }
    match st.stats.self_stats().await {
        Ok(s) => json_response(StatusCode::OK, self_stats_json(&s)),
        Err(e) => GatewayError::from(e).into_response(),
    }
}

pub(crate) async fn stats_store(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET"]) {
        return r;
    }
    match st.kv.store_stats().await {
        Ok(mut s) => {
            s.watchers = match st.watch.watcher_count().await {
                Ok(n) => n,
                Err(e) => return GatewayError::from(e).into_response(),
            };
            json_response(StatusCode::OK, serde_json::to_vec(&s).unwrap_or_default())
        }
        Err(e) => GatewayError::from(e).into_response(),
    }
}

pub(crate) async fn stats_leader(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET"]) {
        return r;
    }
    match st.stats.leader_stats().await {
        Ok(Some(s)) => json_response(StatusCode::OK, serde_json::to_vec(&s).unwrap_or_default()),
        Ok(None) => http_error(StatusCode::FORBIDDEN, "not current leader"),
        Err(e) => GatewayError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_api::KnownLeader;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(2_826_385_412), "2.826385412s");
        assert_eq!(go_duration(62_500_000_000), "1m2.5s");
        assert_eq!(go_duration(3_723_000_000_000), "1h2m3s");
        assert_eq!(go_duration(0), "0s");
    }

    #[test]
    fn self_stats_as_etcd_prints_them() {
        let s = SelfStats {
            name: "infra1".into(),
            id: 0x8e9e05c52164694d,
            role: RaftRole::Leader,
            start_time: 1_764_000_000_120_000_000,
            leader: Some(KnownLeader {
                id: 0x8e9e05c52164694d,
                since: 1_764_000_001_000_000_000,
                uptime_nanos: 62_500_000_000,
            }),
            recv_append_request_cnt: 0,
            send_append_request_cnt: 12,
        };
        let text = String::from_utf8(self_stats_json(&s)).unwrap();
        assert_eq!(
            text,
            r#"{"name":"infra1","id":"8e9e05c52164694d","state":"StateLeader","startTime":"2025-11-24T16:00:00.12Z","leaderInfo":{"leader":"8e9e05c52164694d","uptime":"1m2.5s","startTime":"2025-11-24T16:00:01Z"},"recvAppendRequestCnt":0,"sendAppendRequestCnt":12}"#
        );
    }
}
