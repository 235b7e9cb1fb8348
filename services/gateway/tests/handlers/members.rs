//! `/v2/members` (etcd's `membersHandler`): the list, the leader, adding,
//! updating and removing members, and each refusal, with etcd 3.4.23's
//! `{"message"}` bodies (recorded) over the fake's members.

use std::sync::Arc;

use concord_api::MembershipError;
use concord_gateway::advertise::AdvertisedClientUrls;

use crate::fakes::{Fixture, ADDED, CLUSTER_ID, ME, OTHER};

const A: &str = r#"{"id":"8e9e05c52164694d","name":"a","peerURLs":["http://127.0.0.1:2380"],"clientURLs":["http://127.0.0.1:2379"]}"#;
const B: &str = r#"{"id":"91bc3c398fb3c146","name":"b","peerURLs":["http://127.0.0.1:2480"],"clientURLs":["http://127.0.0.1:2479"]}"#;

#[tokio::test]
async fn the_list_and_the_leader() {
    let fx = Fixture::new();
    let list = format!("{{\"members\":[{A},{B}]}}\n");
    for uri in ["/v2/members", "/v2/members/"] {
        let a = fx.get(uri).await;
        a.exactly(200, "application/json", &list);
        assert_eq!(a.header("x-etcd-cluster-id"), Some(CLUSTER_ID));
    }
    fx.get("/v2/members/leader")
        .await
        .exactly(200, "application/json", &format!("{A}\n"));
    // Nothing else is served below /v2/members, a member's ID neither.
    fx.get("/v2/members/foo").await.message(404, "Not found");
    fx.get(&format!("/v2/members/{ME}"))
        .await
        .message(404, "Not found");
    // etcd's answer while there is no leader (its source: "During election").
    fx.cluster.set_has_leader(false);
    fx.get("/v2/members/leader")
        .await
        .message(503, "During election");
}

#[tokio::test]
async fn add_answers_the_new_member() {
    let fx = Fixture::new();
    let a = fx
        .send(
            "POST",
            "/v2/members",
            Some("Application/JSON; charset=utf-8"),
            r#"{"peerURLs":["http://127.0.0.1:2999","http://127.0.0.1:2998"]}"#,
        )
        .await;
    // The peer URLs sorted, no name or client URLs until it starts.
    a.exactly(
        201,
        "application/json",
        &format!("{{\"id\":\"{ADDED}\",\"name\":\"\",\"peerURLs\":[\"http://127.0.0.1:2998\",\"http://127.0.0.1:2999\"],\"clientURLs\":[]}}\n"),
    );
    assert_eq!(a.header("x-etcd-cluster-id"), Some(CLUSTER_ID));
    let list = fx.get("/v2/members").await.body;
    assert!(list.ends_with(&format!("{B},{{\"id\":\"{ADDED}\",\"name\":\"\",\"peerURLs\":[\"http://127.0.0.1:2998\",\"http://127.0.0.1:2999\"],\"clientURLs\":[]}}]}}\n")), "{list}");
    // Given back as Go's URL.String() does: the scheme lowercased.
    let fx = Fixture::new();
    fx.json("POST", "/v2/members", r#"{"peerURLs":["HTTP://127.0.0.1:2999"]}"#)
        .await
        .exactly(
            201,
            "application/json",
            &format!("{{\"id\":\"{ADDED}\",\"name\":\"\",\"peerURLs\":[\"http://127.0.0.1:2999\"],\"clientURLs\":[]}}\n"),
        );
}

/// The body checks of etcd's `unmarshalRequest` and `types.NewURLs`, for
/// POST and PUT alike.
#[tokio::test]
async fn a_body_that_is_not_peer_urls_is_refused() {
    let fx = Fixture::new();
    let urls = r#"{"peerURLs":["http://127.0.0.1:2999"]}"#;
    for (method, uri) in [
        ("POST", "/v2/members"),
        ("PUT", &*format!("/v2/members/{ME}")),
    ] {
        fx.send(method, uri, Some("text/plain"), urls)
            .await
            .message(415, "Bad Content-Type text/plain, accept application/json");
        fx.send(method, uri, None, urls)
            .await
            .message(415, "Bad Content-Type , accept application/json");
        // Lowercased only with parameters, as etcd does.
        fx.send(method, uri, Some("Application/JSON"), urls)
            .await
            .message(
                415,
                "Bad Content-Type Application/JSON, accept application/json",
            );
        for (body, message) in [
            (r#"{"peerURLs":[]}"#, "no valid URLs given"),
            ("{}", "no valid URLs given"),
            ("x", "invalid character 'x' looking for beginning of value"),
            (
                "{x}",
                "invalid character 'x' looking for beginning of object key string",
            ),
            (r#"{"peerURLs":["#, "unexpected end of JSON input"),
            ("null", "no valid URLs given"),
            (r#"{"peerURLs":null}"#, "no valid URLs given"),
            (
                r#"{"peerURLs":[null]}"#,
                "URL scheme must be http, https, unix, or unixs: ",
            ),
            (
                r#"{"PEERURLS":[":1"]}"#,
                r#"parse ":1": missing protocol scheme"#,
            ),
            (
                "[]",
                r#"json: cannot unmarshal array into Go value of type struct { PeerURLs []string "json:\"peerURLs\"" }"#,
            ),
            (
                "1",
                r#"json: cannot unmarshal number into Go value of type struct { PeerURLs []string "json:\"peerURLs\"" }"#,
            ),
            (
                r#"{"peerURLs":"x"}"#,
                "json: cannot unmarshal string into Go struct field .peerURLs of type []string",
            ),
            (
                r#"{"peerURLs":{}}"#,
                "json: cannot unmarshal object into Go struct field .peerURLs of type []string",
            ),
            (
                r#"{"peerURLs":[true,"x"]}"#,
                "json: cannot unmarshal bool into Go struct field .peerURLs of type string",
            ),
            (
                r#"{"peerURLs":[[]]}"#,
                "json: cannot unmarshal array into Go struct field .peerURLs of type string",
            ),
            ("", "unexpected end of JSON input"),
            (
                r#"{"peerURLs":["127.0.0.1:2999"]}"#,
                r#"parse "127.0.0.1:2999": first path segment in URL cannot contain colon"#,
            ),
            (
                r#"{"peerURLs":[":2999"]}"#,
                r#"parse ":2999": missing protocol scheme"#,
            ),
            (
                r#"{"peerURLs":["localhost:2999"]}"#,
                "URL scheme must be http, https, unix, or unixs: localhost:2999",
            ),
            (
                r#"{"peerURLs":["http:/x:1"]}"#,
                r#"URL address does not have the form "host:port": http:/x:1"#,
            ),
            (
                r#"{"peerURLs":["http://127.0.0.1"]}"#,
                r#"URL address does not have the form "host:port": http://127.0.0.1"#,
            ),
            (
                r#"{"peerURLs":["http://127.0.0.1:2999/p"]}"#,
                "URL must not contain a path: http://127.0.0.1:2999/p",
            ),
        ] {
            fx.json(method, uri, body).await.message(400, message);
        }
    }
}

#[tokio::test]
async fn update_and_remove() {
    let fx = Fixture::new();
    let moved = r#"{"peerURLs":["http://127.0.0.1:3380"]}"#;
    let a = fx.json("PUT", &format!("/v2/members/{OTHER}"), moved).await;
    a.exactly(204, "", "");
    assert_eq!(a.header("x-etcd-cluster-id"), Some(CLUSTER_ID));
    assert!(fx
        .get("/v2/members")
        .await
        .body
        .contains(r#""name":"b","peerURLs":["http://127.0.0.1:3380"]"#));
    // Another member's peer URL.
    fx.json("PUT", &format!("/v2/members/{ME}"), moved)
        .await
        .message(409, "membership: peerURL exists");
    fx.json("POST", "/v2/members", moved)
        .await
        .message(409, "membership: peerURL exists");

    let a = fx
        .send("DELETE", &format!("/v2/members/{OTHER}"), None, "")
        .await;
    a.exactly(204, "", "");
    assert_eq!(a.header("x-etcd-cluster-id"), Some(CLUSTER_ID));
    assert_eq!(
        fx.get("/v2/members").await.body,
        format!("{{\"members\":[{A}]}}\n")
    );
    // Removed for good (etcd's source: 410, "Member permanently removed").
    fx.send("DELETE", &format!("/v2/members/{OTHER}"), None, "")
        .await
        .message(410, &format!("Member permanently removed: {OTHER}"));
}

#[tokio::test]
async fn an_unknown_member_is_404() {
    let fx = Fixture::new();
    let urls = r#"{"peerURLs":["http://127.0.0.1:2999"]}"#;
    for (id, shown) in [("abc", "abc"), ("00abc", "abc"), ("xyz", "xyz")] {
        let uri = format!("/v2/members/{id}");
        fx.json("PUT", &uri, urls)
            .await
            .message(404, &format!("No such member: {shown}"));
        fx.send("DELETE", &uri, None, "")
            .await
            .message(404, &format!("No such member: {shown}"));
    }
}

#[tokio::test]
async fn methods_the_members_api_does_not_serve() {
    let fx = Fixture::new();
    // No ID: Go's http.Error 405, with the cluster ID and no Allow.
    for method in ["PUT", "DELETE"] {
        let a = fx.json(method, "/v2/members", "{}").await;
        a.go_error(405, "Method Not Allowed");
        assert_eq!(a.header("allow"), None);
        assert_eq!(a.header("x-etcd-cluster-id"), Some(CLUSTER_ID));
    }
    fx.send("DELETE", "/v2/members/", None, "")
        .await
        .go_error(405, "Method Not Allowed");
    let a = fx.send("PATCH", "/v2/members", None, "").await;
    a.not_allowed("GET,POST,DELETE,PUT");
    assert_eq!(a.header("x-etcd-cluster-id"), None);
}

/// What the cluster refuses, as etcd's `membersHandler` maps it: the ID
/// and URL conflicts are 409 with their text; anything else (a timeout,
/// too few members started, an unhealthy cluster) is logged and answered
/// with a plain 500.
#[tokio::test]
async fn membership_errors_as_etcd_answers_them() {
    let fx = Fixture::new();
    let urls = r#"{"peerURLs":["http://127.0.0.1:2999"]}"#;
    fx.cluster.fail_next(MembershipError::IdExists);
    fx.json("POST", "/v2/members", urls)
        .await
        .message(409, "membership: ID exists");
    for e in [
        MembershipError::Unhealthy,
        MembershipError::NotEnoughStarted,
        MembershipError::IdRemoved,
        MembershipError::Internal("etcdserver: request timed out".into()),
    ] {
        fx.cluster.fail_next(e.clone());
        fx.json("POST", "/v2/members", urls)
            .await
            .message(500, "Internal Server Error");
        fx.cluster.fail_next(e.clone());
        fx.send("DELETE", &format!("/v2/members/{OTHER}"), None, "")
            .await
            .message(500, "Internal Server Error");
        fx.cluster.fail_next(e);
        fx.json("PUT", &format!("/v2/members/{OTHER}"), urls)
            .await
            .message(500, "Internal Server Error");
    }
}

/// A gateway given its advertised client URLs reports them as every
/// started member's, in /v2/members, /v2/members/leader and /v2/machines;
/// an unstarted member keeps none; the rest of each member is the
/// cluster's.
#[tokio::test]
async fn advertised_client_urls_stand_for_the_members_client_urls() {
    let urls = vec![
        "http://127.0.0.1:2679".to_string(),
        "http://127.0.0.1:2779".to_string(),
    ];
    let fx = Fixture::over(|c| Arc::new(AdvertisedClientUrls::new(c, urls.clone())));
    fx.json(
        "POST",
        "/v2/members",
        r#"{"peerURLs":["http://127.0.0.1:2580"]}"#,
    )
    .await;
    let gw = r#"["http://127.0.0.1:2679","http://127.0.0.1:2779"]"#;
    fx.get("/v2/members").await.exactly(
        200,
        "application/json",
        &format!(
            "{{\"members\":[{},{},{{\"id\":\"{ADDED}\",\"name\":\"\",\"peerURLs\":[\"http://127.0.0.1:2580\"],\"clientURLs\":[]}}]}}\n",
            A.replace(r#"["http://127.0.0.1:2379"]"#, gw),
            B.replace(r#"["http://127.0.0.1:2479"]"#, gw),
        ),
    );
    fx.get("/v2/members/leader").await.exactly(
        200,
        "application/json",
        &format!("{}\n", A.replace(r#"["http://127.0.0.1:2379"]"#, gw)),
    );
    fx.get("/v2/machines").await.exactly(
        200,
        "text/plain; charset=utf-8",
        "http://127.0.0.1:2679, http://127.0.0.1:2679, http://127.0.0.1:2779, http://127.0.0.1:2779",
    );
}
