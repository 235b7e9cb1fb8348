//! Every answer a keys request can fail with, whichever contract refused
//! it: each v2 errorCode as etcd writes it (`v2error.Error.WriteTo`: the
//! JSON and a newline, the status of `errorStatus`, `X-Etcd-Index` = the
//! error's index), and the failures that are not the store's, which etcd's
//! `writeKeyError` answers as errorCode 300 with the error's text.

use concord_api::ApiError;
use concord_store::{Error, ErrorCode};

use crate::fakes::Fixture;

/// etcd's `v2error/error.go`: every code, its message and its status.
const ETCD_ERRORS: [(u32, &str, u16); 32] = [
    (100, "Key not found", 404),
    (101, "Compare failed", 412),
    (102, "Not a file", 403),
    (103, "Reached the max number of peers in the cluster", 400),
    (104, "Not a directory", 400),
    (105, "Key already exists", 412),
    (106, "The prefix of given key is a keyword in etcd", 400),
    (107, "Root is read only", 400),
    (108, "Directory not empty", 403),
    (109, "Peer address has existed", 400),
    (110, "The request requires user authentication", 401),
    (200, "Value is Required in POST form", 400),
    (201, "PrevValue is Required in POST form", 400),
    (202, "The given TTL in POST form is not a number", 400),
    (203, "The given index in POST form is not a number", 400),
    (204, "Value or TTL is required in POST form", 400),
    (205, "The given timeout in POST form is not a number", 400),
    (206, "Name is required in POST form", 400),
    (207, "Index or value is required", 400),
    (208, "Index and value cannot both be specified", 400),
    (209, "Invalid field", 400),
    (210, "Invalid POST form", 400),
    (211, "Value provided on refresh", 400),
    (212, "A TTL must be provided on refresh", 400),
    (300, "Raft Internal Error", 500),
    (301, "During Leader Election", 500),
    (400, "watcher is cleared due to etcd recovery", 400),
    (
        401,
        "The event in requested index is outdated and cleared",
        400,
    ),
    (402, "Standby Internal Error", 400),
    (403, "Invalid active size", 400),
    (404, "Standby remove delay", 400),
    (500, "Client Internal Error", 400),
];

/// Whether a read, a write or a watch fails, the error is answered alike.
#[tokio::test]
async fn every_error_code_is_etcds_json() {
    let fx = Fixture::new();
    for (code, message, status) in ETCD_ERRORS {
        let error = Error::new(ErrorCode::from_code(code).unwrap(), "/why", 9);
        let json =
            format!(r#"{{"errorCode":{code},"message":"{message}","cause":"/why","index":9}}"#);
        fx.kv.fail_next(ApiError::Store(error.clone()));
        fx.get("/v2/keys/a").await.is(status, 9, &json);
        fx.kv.fail_next(ApiError::Store(error.clone()));
        fx.form("PUT", "/v2/keys/a", "value=1")
            .await
            .is(status, 9, &json);
        fx.watch.fail_next(ApiError::Store(error));
        fx.get("/v2/keys/a?wait=true").await.is(status, 9, &json);
    }
}

/// A write that consensus could not complete, a member shutting down, no
/// leader: errorCode 300 with the error's text, index 0.
#[tokio::test]
async fn failures_outside_the_store_are_raft_internal_errors() {
    let fx = Fixture::new();
    for (e, cause) in [
        (
            ApiError::Internal("etcdserver: request timed out".into()),
            "etcdserver: request timed out",
        ),
        (
            ApiError::NoLeader("etcdserver: no leader".into()),
            "etcdserver: no leader",
        ),
        (ApiError::Stopping, "etcdserver: server stopped"),
    ] {
        let json = format!(
            r#"{{"errorCode":300,"message":"Raft Internal Error","cause":"{cause}","index":0}}"#
        );
        fx.kv.fail_next(e.clone());
        fx.form("PUT", "/v2/keys/a", "value=1")
            .await
            .is(500, 0, &json);
        fx.kv.fail_next(e.clone());
        fx.form("DELETE", "/v2/keys/a", "").await.is(500, 0, &json);
        fx.kv.fail_next(e);
        fx.get("/v2/keys/a?quorum=true").await.is(500, 0, &json);
    }
    // Nothing was written.
    fx.get("/v2/keys/a").await.is(
        404,
        3,
        r#"{"errorCode":100,"message":"Key not found","cause":"/a","index":3}"#,
    );
}
