//! `/v2/stats/*` (etcd's `statsHandler`): one member's raft statistics
//! rendered as etcd renders them (field order, hex IDs, "StateLeader",
//! RFC 3339 times, Go durations; JSON without a newline), the leader's
//! follower statistics, and the store's counters with the watch tier's
//! watchers.

use crate::fakes::Fixture;

#[tokio::test]
async fn self_stats_of_a_leader_and_of_a_follower() {
    let fx = Fixture::new();
    let leader = r#"{"name":"a","id":"8e9e05c52164694d","state":"StateLeader","startTime":"2025-11-24T15:00:00.12Z","leaderInfo":{"leader":"8e9e05c52164694d","uptime":"1m2.5s","startTime":"2025-11-24T15:00:01Z"},"recvAppendRequestCnt":0,"sendAppendRequestCnt":12}"#;
    fx.get("/v2/stats/self")
        .await
        .exactly(200, "application/json", leader);
    fx.cluster.set_leads(false);
    fx.get("/v2/stats/self").await.exactly(
        200,
        "application/json",
        &leader.replace("StateLeader", "StateFollower"),
    );
}

#[tokio::test]
async fn leader_stats_only_on_the_leader() {
    let fx = Fixture::new();
    fx.get("/v2/stats/leader").await.exactly(
        200,
        "application/json",
        r#"{"leader":"8e9e05c52164694d","followers":{"91bc3c398fb3c146":{"latency":{"current":0.5,"average":0.25,"standardDeviation":0.125,"minimum":0.0625,"maximum":1.5},"counts":{"fail":1,"success":42}}}}"#,
    );
    fx.cluster.set_leads(false);
    fx.get("/v2/stats/leader")
        .await
        .message(403, "not current leader");
}

#[tokio::test]
async fn store_stats_count_the_stores_operations_and_the_watchers() {
    let fx = Fixture::new();
    fx.form("PUT", "/v2/keys/a", "value=1").await;
    fx.form("PUT", "/v2/keys/a", "value=2&prevExist=false")
        .await;
    fx.get("/v2/keys/a").await;
    let _watching = fx.watch("/v2/keys/w?wait=true").await;
    fx.get("/v2/stats/store").await.exactly(
        200,
        "application/json",
        r#"{"getsSuccess":1,"getsFail":0,"setsSuccess":1,"setsFail":0,"deleteSuccess":0,"deleteFail":0,"updateSuccess":0,"updateFail":0,"createSuccess":0,"createFail":1,"compareAndSwapSuccess":0,"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"compareAndDeleteFail":0,"expireCount":0,"watchers":1}"#,
    );
}

#[tokio::test]
async fn stats_are_get_only_and_only_these_three() {
    let fx = Fixture::new();
    for uri in ["/v2/stats/self", "/v2/stats/leader", "/v2/stats/store"] {
        fx.send("POST", uri, None, "").await.not_allowed("GET");
    }
    for uri in ["/v2/stats", "/v2/stats/", "/v2/stats/nope"] {
        fx.get(uri).await.go_error(404, "404 page not found");
    }
}
