//! `/v2/machines`, `/health` and `/version` (etcd's `machinesHandler` and
//! `etcdhttp` base handlers), as etcd 3.4.23 answers them.

use crate::fakes::Fixture;

#[tokio::test]
async fn machines_are_the_members_client_urls() {
    let fx = Fixture::new();
    // Sorted, ", "-joined, no newline.
    fx.get("/v2/machines").await.exactly(
        200,
        "text/plain; charset=utf-8",
        "http://127.0.0.1:2379, http://127.0.0.1:2479",
    );
    // HEAD is served (the server leaves the body out).
    assert_eq!(fx.send("HEAD", "/v2/machines", None, "").await.status, 200);
    fx.send("POST", "/v2/machines", None, "")
        .await
        .not_allowed("GET,HEAD");
}

#[tokio::test]
async fn health_follows_the_cluster() {
    let fx = Fixture::new();
    fx.get("/health")
        .await
        .exactly(200, "text/plain; charset=utf-8", r#"{"health":"true"}"#);
    // etcd answers an unhealthy member with http.Error (its source).
    fx.cluster.set_healthy(false);
    fx.get("/health")
        .await
        .go_error(503, r#"{"health":"false"}"#);
    for method in ["HEAD", "POST"] {
        let a = fx.send(method, "/health", None, "").await;
        assert_eq!((a.status, a.header("allow")), (405, Some("GET")));
    }
}

#[tokio::test]
async fn version_is_etcds() {
    let fx = Fixture::new();
    for uri in ["/version", "/version?x=1"] {
        fx.get(uri).await.exactly(
            200,
            "application/json",
            r#"{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}"#,
        );
    }
    fx.send("POST", "/version", None, "")
        .await
        .not_allowed("GET");
}
