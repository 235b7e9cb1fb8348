//! What the router answers before any handler, as Go's `ServeMux` and
//! etcd's CORS wrapper do: 404 for paths nobody serves, 405 with `Allow`,
//! redirects of unclean paths, 400 for a bad escape, and `OPTIONS`.

use crate::fakes::Fixture;

#[tokio::test]
async fn unknown_paths_are_404() {
    let fx = Fixture::new();
    for uri in ["/", "/v2", "/v2/", "/v2/nope", "/v2/keysx"] {
        fx.get(uri).await.go_error(404, "404 page not found");
    }
}

#[tokio::test]
async fn methods_a_resource_does_not_serve_are_405() {
    let fx = Fixture::new();
    fx.send("PATCH", "/v2/keys/a", None, "")
        .await
        .not_allowed("HEAD,GET,PUT,POST,DELETE");
}

#[tokio::test]
async fn unclean_paths_are_redirected() {
    let fx = Fixture::new();
    let a = fx.get("/v2/keys//a").await;
    a.exactly(
        301,
        "text/html; charset=utf-8",
        "<a href=\"/v2/keys/a\">Moved Permanently</a>.\n\n",
    );
    assert_eq!(a.header("location"), Some("/v2/keys/a"));
    let a = fx.get("/v2/keys/a/../b?x=1").await;
    assert_eq!(
        (a.status, a.header("location")),
        (301, Some("/v2/keys/b?x=1"))
    );
    // No body for other methods.
    let a = fx.form("PUT", "/v2/keys//a", "value=1").await;
    assert_eq!(
        (a.status, a.header("location"), a.body.as_str()),
        (301, Some("/v2/keys/a"), "")
    );
}

#[tokio::test]
async fn escapes_in_the_path() {
    let fx = Fixture::new();
    let a = fx.get("/v2/keys/%zz").await;
    a.exactly(400, "text/plain; charset=utf-8", "400 Bad Request");
    // An escaped slash is a slash.
    fx.get("/v2/keys/a%2Fb").await.is(
        404,
        3,
        r#"{"errorCode":100,"message":"Key not found","cause":"/a","index":3}"#,
    );
    fx.get("/v2/keys")
        .await
        .is(200, 3, r#"{"action":"get","node":{"dir":true}}"#);
}

/// etcd's CORS wrapper: permissive headers on every answer, an empty 200
/// for any OPTIONS.
#[tokio::test]
async fn cors_on_every_answer() {
    let fx = Fixture::new();
    for uri in ["/v2/keys/a", "/v2/members", "/nope"] {
        let a = fx.send("OPTIONS", uri, None, "").await;
        assert_eq!((a.status, a.body.as_str()), (200, ""));
    }
    for a in [
        fx.send("OPTIONS", "/v2/keys/a", None, "").await,
        fx.get("/v2/keys/nope").await,
        fx.get("/nope").await,
        fx.get("/v2/members").await,
    ] {
        assert_eq!(
            a.header("access-control-allow-headers"),
            Some("accept, content-type, authorization")
        );
        assert_eq!(
            a.header("access-control-allow-methods"),
            Some("POST, GET, OPTIONS, PUT, DELETE")
        );
        assert_eq!(a.header("access-control-allow-origin"), Some("*"));
    }
}
