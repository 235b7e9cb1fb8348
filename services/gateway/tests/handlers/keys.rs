//! `/v2/keys`: each method with each of its parameters, and each error
//! it answers, as etcd 3.4.23 answered the same requests in the same order
//! on a fresh member (index 3).

use crate::fakes::Fixture;

/// GET of files, directories (sorted, recursive), hidden keys and the
/// root; HEAD; `quorum` and `dir` change nothing in the answer.
#[tokio::test]
async fn get_answers_files_and_directories() {
    let fx = Fixture::new();
    fx.form("GET", "/v2/keys/", "")
        .await
        .is(200, 3, r#"{"action":"get","node":{"dir":true}}"#);
    fx.form("PUT", "/v2/keys/dir/b", "value=2").await.is(201, 4, r#"{"action":"set","node":{"key":"/dir/b","value":"2","modifiedIndex":4,"createdIndex":4}}"#);
    fx.form("PUT", "/v2/keys/dir/a", "value=1").await.is(201, 5, r#"{"action":"set","node":{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5}}"#);
    fx.form("PUT", "/v2/keys/dir/sub/c", "value=3").await.is(201, 6, r#"{"action":"set","node":{"key":"/dir/sub/c","value":"3","modifiedIndex":6,"createdIndex":6}}"#);
    fx.form("PUT", "/v2/keys/dir/_h", "value=h").await.is(201, 7, r#"{"action":"set","node":{"key":"/dir/_h","value":"h","modifiedIndex":7,"createdIndex":7}}"#);
    fx.form("GET", "/v2/keys/dir?sorted=true", "").await.is(200, 7, r#"{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5},{"key":"/dir/b","value":"2","modifiedIndex":4,"createdIndex":4},{"key":"/dir/sub","dir":true,"modifiedIndex":6,"createdIndex":6}],"modifiedIndex":4,"createdIndex":4}}"#);
    fx.form("GET", "/v2/keys/dir?recursive=true&sorted=true", "").await.is(200, 7, r#"{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5},{"key":"/dir/b","value":"2","modifiedIndex":4,"createdIndex":4},{"key":"/dir/sub","dir":true,"nodes":[{"key":"/dir/sub/c","value":"3","modifiedIndex":6,"createdIndex":6}],"modifiedIndex":6,"createdIndex":6}],"modifiedIndex":4,"createdIndex":4}}"#);
    fx.form("GET", "/v2/keys/?recursive=true&sorted=true", "").await.is(200, 7, r#"{"action":"get","node":{"dir":true,"nodes":[{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5},{"key":"/dir/b","value":"2","modifiedIndex":4,"createdIndex":4},{"key":"/dir/sub","dir":true,"nodes":[{"key":"/dir/sub/c","value":"3","modifiedIndex":6,"createdIndex":6}],"modifiedIndex":6,"createdIndex":6}],"modifiedIndex":4,"createdIndex":4}]}}"#);
    fx.form("GET", "/v2/keys/dir/a", "").await.is(200, 7, r#"{"action":"get","node":{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5}}"#);
    fx.form("GET", "/v2/keys/dir/a?quorum=true", "").await.is(200, 7, r#"{"action":"get","node":{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5}}"#);
    fx.form("GET", "/v2/keys/dir/a?recursive=true", "").await.is(200, 7, r#"{"action":"get","node":{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5}}"#);
    fx.form("GET", "/v2/keys/dir/_h", "").await.is(200, 7, r#"{"action":"get","node":{"key":"/dir/_h","value":"h","modifiedIndex":7,"createdIndex":7}}"#);
    fx.form("HEAD", "/v2/keys/dir/a", "")
        .await
        .is(200, 7, r#""#);
    fx.form("HEAD", "/v2/keys/nope", "").await.is(404, 7, r#""#);
    fx.form("GET", "/v2/keys/dir/sub?dir=true", "").await.is(200, 7, r#"{"action":"get","node":{"key":"/dir/sub","dir":true,"nodes":[{"key":"/dir/sub/c","value":"3","modifiedIndex":6,"createdIndex":6}],"modifiedIndex":6,"createdIndex":6}}"#);
    fx.form("GET", "/v2/keys/dir/a/x", "").await.is(
        400,
        7,
        r#"{"errorCode":104,"message":"Not a directory","cause":"/dir/a","index":7}"#,
    );
    fx.form("GET", "/v2/keys/nope", "").await.is(
        404,
        7,
        r#"{"errorCode":100,"message":"Key not found","cause":"/nope","index":7}"#,
    );
    fx.form("GET", "/v2/keys/dir/nope/deeper", "").await.is(
        404,
        7,
        r#"{"errorCode":100,"message":"Key not found","cause":"/dir/nope","index":7}"#,
    );
}

/// Every GET parameter etcd parses, refused as etcd refuses it (index 0).
#[tokio::test]
async fn get_refuses_bad_parameters() {
    let fx = Fixture::new();
    fx.form("PUT", "/v2/keys/dir/a", "value=1").await;
    fx.form("GET", "/v2/keys/dir?recursive=maybe", "").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"recursive\"","index":0}"#);
    fx.form("GET", "/v2/keys/dir?sorted=2", "").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"sorted\"","index":0}"#);
    fx.form("GET", "/v2/keys/dir?quorum=x", "").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"quorum\"","index":0}"#);
    fx.form("GET", "/v2/keys/dir?wait=no", "").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"wait\"","index":0}"#);
    fx.form("GET", "/v2/keys/dir?dir=yes", "").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"dir\"","index":0}"#);
    fx.form("GET", "/v2/keys/dir?stream=x", "").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"stream\"","index":0}"#);
    fx.form("GET", "/v2/keys/dir?waitIndex=abc", "").await.is(400, 0, r#"{"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"waitIndex\"","index":0}"#);
    fx.form("GET", "/v2/keys/dir?waitIndex=-1", "").await.is(400, 0, r#"{"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"waitIndex\"","index":0}"#);
    fx.form("GET", "/v2/keys/dir?prevIndex=x", "").await.is(400, 0, r#"{"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"prevIndex\"","index":0}"#);
    fx.form("GET", "/v2/keys/dir?noValueOnSuccess=x", "").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"noValueOnSuccess\"","index":0}"#);
    fx.form("GET", "/v2/keys/dir?value=%zz", "").await.is(400, 0, r#"{"errorCode":210,"message":"Invalid POST form","cause":"invalid URL escape \"%zz\"","index":0}"#);
    fx.form("GET", "/v2/keys/dir/a?recursive=T&sorted=0&quorum=1", "").await.is(200, 4, r#"{"action":"get","node":{"key":"/dir/a","value":"1","modifiedIndex":4,"createdIndex":4}}"#);
}

/// PUT: set, create (prevExist=false), update (prevExist=true),
/// compare-and-swap (prevValue, prevIndex), directories, TTLs and refresh,
/// noValueOnSuccess, and each error on the way.
#[tokio::test]
async fn put_sets_creates_updates_and_swaps() {
    let fx = Fixture::new();
    fx.form("PUT", "/v2/keys/a", "value=1").await.is(
        201,
        4,
        r#"{"action":"set","node":{"key":"/a","value":"1","modifiedIndex":4,"createdIndex":4}}"#,
    );
    fx.form("PUT", "/v2/keys/a", "value=2").await.is(200, 5, r#"{"action":"set","node":{"key":"/a","value":"2","modifiedIndex":5,"createdIndex":5},"prevNode":{"key":"/a","value":"1","modifiedIndex":4,"createdIndex":4}}"#);
    fx.form("PUT", "/v2/keys/a?value=q", "value=3").await.is(200, 6, r#"{"action":"set","node":{"key":"/a","value":"3","modifiedIndex":6,"createdIndex":6},"prevNode":{"key":"/a","value":"2","modifiedIndex":5,"createdIndex":5}}"#);
    fx.form("PUT", "/v2/keys/b?value=fromquery", "").await.is(201, 7, r#"{"action":"set","node":{"key":"/b","value":"fromquery","modifiedIndex":7,"createdIndex":7}}"#);
    fx.form("PUT", "/v2/keys/c", "").await.is(
        201,
        8,
        r#"{"action":"set","node":{"key":"/c","value":"","modifiedIndex":8,"createdIndex":8}}"#,
    );
    fx.form("PUT", "/v2/keys/a", "value=4&prevExist=false")
        .await
        .is(
            412,
            8,
            r#"{"errorCode":105,"message":"Key already exists","cause":"/a","index":8}"#,
        );
    fx.form("PUT", "/v2/keys/new", "value=1&prevExist=false").await.is(201, 9, r#"{"action":"create","node":{"key":"/new","value":"1","modifiedIndex":9,"createdIndex":9}}"#);
    fx.form("PUT", "/v2/keys/missing", "value=1&prevExist=true")
        .await
        .is(
            404,
            9,
            r#"{"errorCode":100,"message":"Key not found","cause":"/missing","index":9}"#,
        );
    fx.form("PUT", "/v2/keys/a", "value=5&prevExist=true").await.is(200, 10, r#"{"action":"update","node":{"key":"/a","value":"5","modifiedIndex":10,"createdIndex":6},"prevNode":{"key":"/a","value":"3","modifiedIndex":6,"createdIndex":6}}"#);
    fx.form("PUT", "/v2/keys/a", "value=6&prevValue=5").await.is(200, 11, r#"{"action":"compareAndSwap","node":{"key":"/a","value":"6","modifiedIndex":11,"createdIndex":6},"prevNode":{"key":"/a","value":"5","modifiedIndex":10,"createdIndex":6}}"#);
    fx.form("PUT", "/v2/keys/a", "value=7&prevValue=nope")
        .await
        .is(
            412,
            11,
            r#"{"errorCode":101,"message":"Compare failed","cause":"[nope != 6]","index":11}"#,
        );
    fx.form("PUT", "/v2/keys/a", "value=7&prevIndex=12")
        .await
        .is(
            412,
            11,
            r#"{"errorCode":101,"message":"Compare failed","cause":"[12 != 11]","index":11}"#,
        );
    fx.form("PUT", "/v2/keys/a", "value=7&prevIndex=1")
        .await
        .is(
            412,
            11,
            r#"{"errorCode":101,"message":"Compare failed","cause":"[1 != 11]","index":11}"#,
        );
    fx.form(
        "PUT",
        "/v2/keys/a",
        "value=8&prevIndex=12&prevValue=6&prevExist=true",
    )
    .await
    .is(
        412,
        11,
        r#"{"errorCode":101,"message":"Compare failed","cause":"[12 != 11]","index":11}"#,
    );
    fx.form("PUT", "/v2/keys/missing", "value=1&prevValue=x")
        .await
        .is(
            404,
            11,
            r#"{"errorCode":100,"message":"Key not found","cause":"/missing","index":11}"#,
        );
    fx.form("PUT", "/v2/keys/a", "value=1&prevValue=").await.is(400, 0, r#"{"errorCode":201,"message":"PrevValue is Required in POST form","cause":"\"prevValue\" cannot be empty","index":0}"#);
    fx.form("PUT", "/v2/keys/a", "value=1&prevIndex=abc").await.is(400, 0, r#"{"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"prevIndex\"","index":0}"#);
    fx.form("PUT", "/v2/keys/a", "value=1&prevExist=maybe").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for prevExist","index":0}"#);
    fx.form("PUT", "/v2/keys/a", "value=1&noValueOnSuccess=true")
        .await
        .is(200, 12, r#"{"action":"set"}"#);
    fx.form("PUT", "/v2/keys/d", "dir=true").await.is(
        201,
        13,
        r#"{"action":"set","node":{"key":"/d","dir":true,"modifiedIndex":13,"createdIndex":13}}"#,
    );
    fx.form("PUT", "/v2/keys/d", "dir=true").await.is(
        403,
        13,
        r#"{"errorCode":102,"message":"Not a file","cause":"/d","index":13}"#,
    );
    fx.form("PUT", "/v2/keys/d", "value=x").await.is(
        403,
        13,
        r#"{"errorCode":102,"message":"Not a file","cause":"/d","index":13}"#,
    );
    fx.form("PUT", "/v2/keys/d", "value=x&prevExist=true")
        .await
        .is(
            403,
            13,
            r#"{"errorCode":102,"message":"Not a file","cause":"/d","index":13}"#,
        );
    fx.form("PUT", "/v2/keys/d", "value=x&prevValue=y")
        .await
        .is(
            403,
            13,
            r#"{"errorCode":102,"message":"Not a file","cause":"/d","index":13}"#,
        );
    fx.form("PUT", "/v2/keys/a/b", "value=1").await.is(
        400,
        13,
        r#"{"errorCode":104,"message":"Not a directory","cause":"/a","index":13}"#,
    );
    fx.form("PUT", "/v2/keys/", "value=1").await.is(
        400,
        13,
        r#"{"errorCode":107,"message":"Root is read only","cause":"/","index":13}"#,
    );
    fx.form("PUT", "/v2/keys/a", "value=1&wait=true").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"\"wait\" can only be used with GET requests","index":0}"#);
    fx.form("PUT", "/v2/keys/a", "value=%zz").await.is(400, 0, r#"{"errorCode":210,"message":"Invalid POST form","cause":"invalid URL escape \"%zz\"","index":0}"#);
    fx.form("PUT", "/v2/keys/a?x=%zz", "value=1").await.is(400, 0, r#"{"errorCode":210,"message":"Invalid POST form","cause":"invalid URL escape \"%zz\"","index":0}"#);
    fx.form("PUT", "/v2/keys/a", "value=1&ttl=abc").await.is(400, 0, r#"{"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \"ttl\"","index":0}"#);
    fx.form("PUT", "/v2/keys/a", "value=1&ttl=-1").await.is(400, 0, r#"{"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \"ttl\"","index":0}"#);
    fx.form("PUT", "/v2/keys/a", "value=1&ttl=").await.is(200, 14, r#"{"action":"set","node":{"key":"/a","value":"1","modifiedIndex":14,"createdIndex":14},"prevNode":{"key":"/a","value":"1","modifiedIndex":12,"createdIndex":12}}"#);
    fx.form("PUT", "/v2/keys/t", "value=1&ttl=5").await.is(201, 15, r#"{"action":"set","node":{"key":"/t","value":"1","expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":15,"createdIndex":15}}"#);
    fx.form("PUT", "/v2/keys/t", "ttl=10&refresh=true&prevExist=true").await.is(200, 16, r#"{"action":"update","node":{"key":"/t","value":"1","expiration":"2025-11-24T16:00:10Z","ttl":10,"modifiedIndex":16,"createdIndex":15},"prevNode":{"key":"/t","value":"1","expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":15,"createdIndex":15}}"#);
    fx.form("PUT", "/v2/keys/t", "ttl=10&refresh=true").await.is(200, 17, r#"{"action":"set","node":{"key":"/t","value":"1","expiration":"2025-11-24T16:00:10Z","ttl":10,"modifiedIndex":17,"createdIndex":17},"prevNode":{"key":"/t","value":"1","expiration":"2025-11-24T16:00:10Z","ttl":10,"modifiedIndex":16,"createdIndex":15}}"#);
    fx.form("PUT", "/v2/keys/t", "value=1&refresh=true&ttl=5").await.is(400, 0, r#"{"errorCode":211,"message":"Value provided on refresh","cause":"A value was provided on a refresh","index":0}"#);
    fx.form("PUT", "/v2/keys/t", "refresh=true").await.is(400, 0, r#"{"errorCode":212,"message":"A TTL must be provided on refresh","cause":"No TTL value set","index":0}"#);
    fx.form("PUT", "/v2/keys/t", "refresh=x").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for refresh","index":0}"#);
    fx.form("PUT", "/v2/keys/nott", "refresh=true&ttl=5")
        .await
        .is(
            404,
            17,
            r#"{"errorCode":100,"message":"Key not found","cause":"/nott","index":17}"#,
        );
    // etcd prints the expiration of ttl=0 by its own clock (the
    // conformance suite checks it); the write itself is the same.
    let zero = fx.form("PUT", "/v2/keys/t", "value=1&ttl=0").await;
    assert_eq!(
        (zero.status, zero.header("x-etcd-index")),
        (200, Some("18"))
    );
    fx.form("PUT", "/v2/keys/dt", "dir=true&ttl=5").await.is(201, 19, r#"{"action":"set","node":{"key":"/dt","dir":true,"expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":19,"createdIndex":19}}"#);
    fx.form("PUT", "/v2/keys/dt", "dir=true&ttl=7&prevExist=true").await.is(200, 20, r#"{"action":"update","node":{"key":"/dt","dir":true,"expiration":"2025-11-24T16:00:07Z","ttl":7,"modifiedIndex":20,"createdIndex":19},"prevNode":{"key":"/dt","dir":true,"expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":19,"createdIndex":19}}"#);
    fx.form("PUT", "/v2/keys/a", "value=1&dir=true").await.is(200, 21, r#"{"action":"set","node":{"key":"/a","dir":true,"modifiedIndex":21,"createdIndex":21},"prevNode":{"key":"/a","value":"1","modifiedIndex":14,"createdIndex":14}}"#);
}

/// POST: in-order keys named by their index, in a directory or the root.
#[tokio::test]
async fn post_creates_in_order_keys() {
    let fx = Fixture::new();
    fx.form("POST", "/v2/keys/q", "value=a").await.is(201, 4, r#"{"action":"create","node":{"key":"/q/00000000000000000004","value":"a","modifiedIndex":4,"createdIndex":4}}"#);
    fx.form("POST", "/v2/keys/q", "value=b").await.is(201, 5, r#"{"action":"create","node":{"key":"/q/00000000000000000005","value":"b","modifiedIndex":5,"createdIndex":5}}"#);
    fx.form("POST", "/v2/keys/q", "").await.is(201, 6, r#"{"action":"create","node":{"key":"/q/00000000000000000006","value":"","modifiedIndex":6,"createdIndex":6}}"#);
    fx.form("POST", "/v2/keys/q", "dir=true").await.is(201, 7, r#"{"action":"create","node":{"key":"/q/00000000000000000007","dir":true,"modifiedIndex":7,"createdIndex":7}}"#);
    fx.form("POST", "/v2/keys/q", "value=t&ttl=5").await.is(201, 8, r#"{"action":"create","node":{"key":"/q/00000000000000000008","value":"t","expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":8,"createdIndex":8}}"#);
    fx.form("GET", "/v2/keys/q?sorted=true&recursive=true", "").await.is(200, 8, r#"{"action":"get","node":{"key":"/q","dir":true,"nodes":[{"key":"/q/00000000000000000004","value":"a","modifiedIndex":4,"createdIndex":4},{"key":"/q/00000000000000000005","value":"b","modifiedIndex":5,"createdIndex":5},{"key":"/q/00000000000000000006","value":"","modifiedIndex":6,"createdIndex":6},{"key":"/q/00000000000000000007","dir":true,"modifiedIndex":7,"createdIndex":7},{"key":"/q/00000000000000000008","value":"t","expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":8,"createdIndex":8}],"modifiedIndex":4,"createdIndex":4}}"#);
    fx.form("PUT", "/v2/keys/f", "value=1").await.is(
        201,
        9,
        r#"{"action":"set","node":{"key":"/f","value":"1","modifiedIndex":9,"createdIndex":9}}"#,
    );
    fx.form("POST", "/v2/keys/f", "value=x").await.is(
        400,
        9,
        r#"{"errorCode":104,"message":"Not a directory","cause":"/f","index":9}"#,
    );
    fx.form("POST", "/v2/keys/", "value=r").await.is(201, 10, r#"{"action":"create","node":{"key":"/00000000000000000010","value":"r","modifiedIndex":10,"createdIndex":10}}"#);
    fx.form("POST", "/v2/keys/q", "value=x&prevExist=true").await.is(201, 11, r#"{"action":"create","node":{"key":"/q/00000000000000000011","value":"x","modifiedIndex":11,"createdIndex":11}}"#);
    fx.form("POST", "/v2/keys/q", "value=x&ttl=abc").await.is(400, 0, r#"{"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \"ttl\"","index":0}"#);
    fx.form("POST", "/v2/keys/q", "value=x&wait=true").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"\"wait\" can only be used with GET requests","index":0}"#);
}

/// DELETE: files, directories (dir, recursive), compare-and-delete, the
/// root, and a form body, which Go does not read for DELETE.
#[tokio::test]
async fn delete_removes_files_and_directories() {
    let fx = Fixture::new();
    for k in ["f", "g", "h"] {
        fx.form("PUT", &format!("/v2/keys/{k}"), "value=1").await;
    }
    fx.form("PUT", "/v2/keys/empty", "dir=true").await;
    fx.form("PUT", "/v2/keys/full/x", "value=1").await;
    fx.form("PUT", "/v2/keys/full/y/z", "value=2").await;
    fx.form("DELETE", "/v2/keys/f", "").await.is(200, 10, r#"{"action":"delete","node":{"key":"/f","modifiedIndex":10,"createdIndex":4},"prevNode":{"key":"/f","value":"1","modifiedIndex":4,"createdIndex":4}}"#);
    fx.form("DELETE", "/v2/keys/f", "").await.is(
        404,
        10,
        r#"{"errorCode":100,"message":"Key not found","cause":"/f","index":10}"#,
    );
    fx.form("DELETE", "/v2/keys/empty", "").await.is(
        403,
        10,
        r#"{"errorCode":102,"message":"Not a file","cause":"/empty","index":10}"#,
    );
    fx.form("DELETE", "/v2/keys/empty?dir=true", "").await.is(200, 11, r#"{"action":"delete","node":{"key":"/empty","dir":true,"modifiedIndex":11,"createdIndex":7},"prevNode":{"key":"/empty","dir":true,"modifiedIndex":7,"createdIndex":7}}"#);
    fx.form("DELETE", "/v2/keys/full?dir=true", "").await.is(
        403,
        11,
        r#"{"errorCode":108,"message":"Directory not empty","cause":"/full","index":11}"#,
    );
    fx.form("DELETE", "/v2/keys/full", "").await.is(
        403,
        11,
        r#"{"errorCode":102,"message":"Not a file","cause":"/full","index":11}"#,
    );
    fx.form("DELETE", "/v2/keys/full?recursive=true", "").await.is(200, 12, r#"{"action":"delete","node":{"key":"/full","dir":true,"modifiedIndex":12,"createdIndex":8},"prevNode":{"key":"/full","dir":true,"modifiedIndex":8,"createdIndex":8}}"#);
    fx.form("DELETE", "/v2/keys/g?prevValue=2", "").await.is(
        412,
        12,
        r#"{"errorCode":101,"message":"Compare failed","cause":"[2 != 1]","index":12}"#,
    );
    fx.form("DELETE", "/v2/keys/g?prevIndex=1", "").await.is(
        412,
        12,
        r#"{"errorCode":101,"message":"Compare failed","cause":"[1 != 5]","index":12}"#,
    );
    fx.form("DELETE", "/v2/keys/g?prevValue=1", "").await.is(200, 13, r#"{"action":"compareAndDelete","node":{"key":"/g","modifiedIndex":13,"createdIndex":5},"prevNode":{"key":"/g","value":"1","modifiedIndex":5,"createdIndex":5}}"#);
    fx.form("DELETE", "/v2/keys/h?prevIndex=6", "").await.is(200, 14, r#"{"action":"compareAndDelete","node":{"key":"/h","modifiedIndex":14,"createdIndex":6},"prevNode":{"key":"/h","value":"1","modifiedIndex":6,"createdIndex":6}}"#);
    fx.form("DELETE", "/v2/keys/h?prevIndex=abc", "").await.is(400, 0, r#"{"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"prevIndex\"","index":0}"#);
    fx.form("DELETE", "/v2/keys/h?prevValue=", "").await.is(400, 0, r#"{"errorCode":201,"message":"PrevValue is Required in POST form","cause":"\"prevValue\" cannot be empty","index":0}"#);
    fx.form("DELETE", "/v2/keys/gone?prevValue=1", "").await.is(
        404,
        14,
        r#"{"errorCode":100,"message":"Key not found","cause":"/gone","index":14}"#,
    );
    fx.form("DELETE", "/v2/keys/", "").await.is(
        400,
        14,
        r#"{"errorCode":107,"message":"Root is read only","cause":"/","index":14}"#,
    );
    fx.form("DELETE", "/v2/keys/?recursive=true", "").await.is(
        400,
        14,
        r#"{"errorCode":107,"message":"Root is read only","cause":"/","index":14}"#,
    );
    fx.form("DELETE", "/v2/keys/x?recursive=maybe", "").await.is(400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"recursive\"","index":0}"#);
    fx.form("PUT", "/v2/keys/d2/x", "value=1").await;
    fx.form("DELETE", "/v2/keys/d2?prevValue=1", "").await.is(
        403,
        15,
        r#"{"errorCode":102,"message":"Not a file","cause":"/d2","index":15}"#,
    );
    fx.form("DELETE", "/v2/keys/d2/x/y", "").await.is(
        400,
        15,
        r#"{"errorCode":104,"message":"Not a directory","cause":"/d2/x","index":15}"#,
    );
    fx.form("DELETE", "/v2/keys/d2", "dir=true&recursive=true")
        .await
        .is(
            403,
            15,
            r#"{"errorCode":102,"message":"Not a file","cause":"/d2","index":15}"#,
        );
}

/// Go's `ParseForm`: the body only with a form content type (parameters
/// allowed), before the query string.
#[tokio::test]
async fn the_form_body_and_the_query() {
    let fx = Fixture::new();
    fx.send("PUT", "/v2/keys/ct", Some("text/plain"), "value=1").await.is(201, 4, r#"{"action":"set","node":{"key":"/ct","value":"","modifiedIndex":4,"createdIndex":4}}"#);
    fx.send("PUT", "/v2/keys/ct", Some("application/x-www-form-urlencoded; charset=utf-8"), "value=9").await.is(200, 5, r#"{"action":"set","node":{"key":"/ct","value":"9","modifiedIndex":5,"createdIndex":5},"prevNode":{"key":"/ct","value":"","modifiedIndex":4,"createdIndex":4}}"#);
    fx.send("PUT", "/v2/keys/ct?value=q", Some("application/json"), "value=9").await.is(200, 6, r#"{"action":"set","node":{"key":"/ct","value":"q","modifiedIndex":6,"createdIndex":6},"prevNode":{"key":"/ct","value":"9","modifiedIndex":5,"createdIndex":5}}"#);
}

/// Every answer that is not an error carries the raft position it was
/// produced at; errors carry only their index.
#[tokio::test]
async fn raft_headers_on_answers_not_on_errors() {
    let fx = Fixture::new();
    fx.form("PUT", "/v2/keys/a", "value=1").await.raft(5);
    fx.get("/v2/keys/a").await.raft(5);
    fx.form("POST", "/v2/keys/q", "").await.raft(6);
    fx.form("DELETE", "/v2/keys/a", "").await.raft(7);
    for a in [
        fx.get("/v2/keys/a").await,
        fx.get("/v2/keys/a?wait=maybe").await,
    ] {
        assert_eq!(
            (a.header("x-raft-index"), a.header("x-raft-term")),
            (None, None)
        );
    }
}

/// Go's `ParseForm` reads at most 10 MiB of form.
#[tokio::test]
async fn a_form_over_10_mib_is_refused() {
    let fx = Fixture::new();
    let form = |len: usize| format!("value={}", "x".repeat(len - "value=".len()));
    fx.form("PUT", "/v2/keys/big", &form((10 << 20) + 1))
        .await
        .is(
            400,
            0,
            r#"{"errorCode":210,"message":"Invalid POST form","cause":"http: POST too large","index":0}"#,
        );
    let a = fx.form("PUT", "/v2/keys/big", &form(10 << 20)).await;
    assert_eq!((a.status, a.header("x-etcd-index")), (201, Some("4")));
}
