//! `/v2/keys`: each method with each of its parameters, and each error
//! it answers. The tables are etcd 3.4.23's answers to the same requests,
//! sent in the same order to a fresh member (index 3); expirations are the
//! fakes' clock plus the TTL.

use crate::fakes::{Fixture, Step};

/// GET of files, directories (sorted, recursive), hidden keys and the
/// root; HEAD; `quorum` and `dir` change nothing in the answer; every
/// parameter GET parses, refused as etcd refuses it (index 0).
#[rustfmt::skip]
const GETS: &[Step] = &[
    ("GET", "/v2/keys/", "", 200, 3, r#"{"action":"get","node":{"dir":true}}"#),
    ("PUT", "/v2/keys/dir/b", "value=2", 201, 4, r#"{"action":"set","node":{"key":"/dir/b","value":"2","modifiedIndex":4,"createdIndex":4}}"#),
    ("PUT", "/v2/keys/dir/a", "value=1", 201, 5, r#"{"action":"set","node":{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5}}"#),
    ("PUT", "/v2/keys/dir/sub/c", "value=3", 201, 6, r#"{"action":"set","node":{"key":"/dir/sub/c","value":"3","modifiedIndex":6,"createdIndex":6}}"#),
    ("PUT", "/v2/keys/dir/_h", "value=h", 201, 7, r#"{"action":"set","node":{"key":"/dir/_h","value":"h","modifiedIndex":7,"createdIndex":7}}"#),
    ("GET", "/v2/keys/dir?sorted=true", "", 200, 7, r#"{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5},{"key":"/dir/b","value":"2","modifiedIndex":4,"createdIndex":4},{"key":"/dir/sub","dir":true,"modifiedIndex":6,"createdIndex":6}],"modifiedIndex":4,"createdIndex":4}}"#),
    ("GET", "/v2/keys/dir?recursive=true&sorted=true", "", 200, 7, r#"{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5},{"key":"/dir/b","value":"2","modifiedIndex":4,"createdIndex":4},{"key":"/dir/sub","dir":true,"nodes":[{"key":"/dir/sub/c","value":"3","modifiedIndex":6,"createdIndex":6}],"modifiedIndex":6,"createdIndex":6}],"modifiedIndex":4,"createdIndex":4}}"#),
    ("GET", "/v2/keys/?recursive=true&sorted=true", "", 200, 7, r#"{"action":"get","node":{"dir":true,"nodes":[{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5},{"key":"/dir/b","value":"2","modifiedIndex":4,"createdIndex":4},{"key":"/dir/sub","dir":true,"nodes":[{"key":"/dir/sub/c","value":"3","modifiedIndex":6,"createdIndex":6}],"modifiedIndex":6,"createdIndex":6}],"modifiedIndex":4,"createdIndex":4}]}}"#),
    ("GET", "/v2/keys/dir/a", "", 200, 7, r#"{"action":"get","node":{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5}}"#),
    ("GET", "/v2/keys/dir/a?quorum=true", "", 200, 7, r#"{"action":"get","node":{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5}}"#),
    ("GET", "/v2/keys/dir/a?recursive=true", "", 200, 7, r#"{"action":"get","node":{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5}}"#),
    ("GET", "/v2/keys/dir/_h", "", 200, 7, r#"{"action":"get","node":{"key":"/dir/_h","value":"h","modifiedIndex":7,"createdIndex":7}}"#),
    ("HEAD", "/v2/keys/dir/a", "", 200, 7, r#""#),
    ("HEAD", "/v2/keys/nope", "", 404, 7, r#""#),
    ("GET", "/v2/keys/dir/sub?dir=true", "", 200, 7, r#"{"action":"get","node":{"key":"/dir/sub","dir":true,"nodes":[{"key":"/dir/sub/c","value":"3","modifiedIndex":6,"createdIndex":6}],"modifiedIndex":6,"createdIndex":6}}"#),
    ("GET", "/v2/keys/dir/a/x", "", 400, 7, r#"{"errorCode":104,"message":"Not a directory","cause":"/dir/a","index":7}"#),
    ("GET", "/v2/keys/nope", "", 404, 7, r#"{"errorCode":100,"message":"Key not found","cause":"/nope","index":7}"#),
    ("GET", "/v2/keys/dir/nope/deeper", "", 404, 7, r#"{"errorCode":100,"message":"Key not found","cause":"/dir/nope","index":7}"#),
    ("GET", "/v2/keys/dir?recursive=maybe", "", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"recursive\"","index":0}"#),
    ("GET", "/v2/keys/dir?sorted=2", "", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"sorted\"","index":0}"#),
    ("GET", "/v2/keys/dir?quorum=x", "", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"quorum\"","index":0}"#),
    ("GET", "/v2/keys/dir?wait=no", "", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"wait\"","index":0}"#),
    ("GET", "/v2/keys/dir?dir=yes", "", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"dir\"","index":0}"#),
    ("GET", "/v2/keys/dir?stream=x", "", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"stream\"","index":0}"#),
    ("GET", "/v2/keys/dir?waitIndex=abc", "", 400, 0, r#"{"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"waitIndex\"","index":0}"#),
    ("GET", "/v2/keys/dir?waitIndex=-1", "", 400, 0, r#"{"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"waitIndex\"","index":0}"#),
    ("GET", "/v2/keys/dir?prevIndex=x", "", 400, 0, r#"{"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"prevIndex\"","index":0}"#),
    ("GET", "/v2/keys/dir?noValueOnSuccess=x", "", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"noValueOnSuccess\"","index":0}"#),
    ("GET", "/v2/keys/dir?value=%zz", "", 400, 0, r#"{"errorCode":210,"message":"Invalid POST form","cause":"invalid URL escape \"%zz\"","index":0}"#),
    ("GET", "/v2/keys/dir/a?recursive=T&sorted=0&quorum=1", "", 200, 7, r#"{"action":"get","node":{"key":"/dir/a","value":"1","modifiedIndex":5,"createdIndex":5}}"#),
];

#[tokio::test]
async fn get_answers_files_and_directories() {
    Fixture::new().replay(GETS).await;
}

/// PUT: set, create (prevExist=false), update (prevExist=true),
/// compare-and-swap (prevValue, prevIndex), directories, TTLs and refresh,
/// noValueOnSuccess, and each error on the way.
#[rustfmt::skip]
const PUTS: &[Step] = &[
    ("PUT", "/v2/keys/a", "value=1", 201, 4, r#"{"action":"set","node":{"key":"/a","value":"1","modifiedIndex":4,"createdIndex":4}}"#),
    ("PUT", "/v2/keys/a", "value=2", 200, 5, r#"{"action":"set","node":{"key":"/a","value":"2","modifiedIndex":5,"createdIndex":5},"prevNode":{"key":"/a","value":"1","modifiedIndex":4,"createdIndex":4}}"#),
    ("PUT", "/v2/keys/a?value=q", "value=3", 200, 6, r#"{"action":"set","node":{"key":"/a","value":"3","modifiedIndex":6,"createdIndex":6},"prevNode":{"key":"/a","value":"2","modifiedIndex":5,"createdIndex":5}}"#),
    ("PUT", "/v2/keys/b?value=fromquery", "", 201, 7, r#"{"action":"set","node":{"key":"/b","value":"fromquery","modifiedIndex":7,"createdIndex":7}}"#),
    ("PUT", "/v2/keys/c", "", 201, 8, r#"{"action":"set","node":{"key":"/c","value":"","modifiedIndex":8,"createdIndex":8}}"#),
    ("PUT", "/v2/keys/a", "value=4&prevExist=false", 412, 8, r#"{"errorCode":105,"message":"Key already exists","cause":"/a","index":8}"#),
    ("PUT", "/v2/keys/new", "value=1&prevExist=false", 201, 9, r#"{"action":"create","node":{"key":"/new","value":"1","modifiedIndex":9,"createdIndex":9}}"#),
    ("PUT", "/v2/keys/missing", "value=1&prevExist=true", 404, 9, r#"{"errorCode":100,"message":"Key not found","cause":"/missing","index":9}"#),
    ("PUT", "/v2/keys/a", "value=5&prevExist=true", 200, 10, r#"{"action":"update","node":{"key":"/a","value":"5","modifiedIndex":10,"createdIndex":6},"prevNode":{"key":"/a","value":"3","modifiedIndex":6,"createdIndex":6}}"#),
    ("PUT", "/v2/keys/a", "value=6&prevValue=5", 200, 11, r#"{"action":"compareAndSwap","node":{"key":"/a","value":"6","modifiedIndex":11,"createdIndex":6},"prevNode":{"key":"/a","value":"5","modifiedIndex":10,"createdIndex":6}}"#),
    ("PUT", "/v2/keys/a", "value=7&prevValue=nope", 412, 11, r#"{"errorCode":101,"message":"Compare failed","cause":"[nope != 6]","index":11}"#),
    ("PUT", "/v2/keys/a", "value=7&prevIndex=12", 412, 11, r#"{"errorCode":101,"message":"Compare failed","cause":"[12 != 11]","index":11}"#),
    ("PUT", "/v2/keys/a", "value=7&prevIndex=1", 412, 11, r#"{"errorCode":101,"message":"Compare failed","cause":"[1 != 11]","index":11}"#),
    ("PUT", "/v2/keys/a", "value=8&prevIndex=12&prevValue=6&prevExist=true", 412, 11, r#"{"errorCode":101,"message":"Compare failed","cause":"[12 != 11]","index":11}"#),
    ("PUT", "/v2/keys/missing", "value=1&prevValue=x", 404, 11, r#"{"errorCode":100,"message":"Key not found","cause":"/missing","index":11}"#),
    ("PUT", "/v2/keys/a", "value=1&prevValue=", 400, 0, r#"{"errorCode":201,"message":"PrevValue is Required in POST form","cause":"\"prevValue\" cannot be empty","index":0}"#),
    ("PUT", "/v2/keys/a", "value=1&prevIndex=abc", 400, 0, r#"{"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"prevIndex\"","index":0}"#),
    ("PUT", "/v2/keys/a", "value=1&prevExist=maybe", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for prevExist","index":0}"#),
    ("PUT", "/v2/keys/a", "value=1&noValueOnSuccess=true", 200, 12, r#"{"action":"set"}"#),
    ("PUT", "/v2/keys/d", "dir=true", 201, 13, r#"{"action":"set","node":{"key":"/d","dir":true,"modifiedIndex":13,"createdIndex":13}}"#),
    ("PUT", "/v2/keys/d", "dir=true", 403, 13, r#"{"errorCode":102,"message":"Not a file","cause":"/d","index":13}"#),
    ("PUT", "/v2/keys/d", "value=x", 403, 13, r#"{"errorCode":102,"message":"Not a file","cause":"/d","index":13}"#),
    ("PUT", "/v2/keys/d", "value=x&prevExist=true", 403, 13, r#"{"errorCode":102,"message":"Not a file","cause":"/d","index":13}"#),
    ("PUT", "/v2/keys/d", "value=x&prevValue=y", 403, 13, r#"{"errorCode":102,"message":"Not a file","cause":"/d","index":13}"#),
    ("PUT", "/v2/keys/a/b", "value=1", 400, 13, r#"{"errorCode":104,"message":"Not a directory","cause":"/a","index":13}"#),
    ("PUT", "/v2/keys/", "value=1", 400, 13, r#"{"errorCode":107,"message":"Root is read only","cause":"/","index":13}"#),
    ("PUT", "/v2/keys/a", "value=1&wait=true", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"\"wait\" can only be used with GET requests","index":0}"#),
    ("PUT", "/v2/keys/a", "value=%zz", 400, 0, r#"{"errorCode":210,"message":"Invalid POST form","cause":"invalid URL escape \"%zz\"","index":0}"#),
    ("PUT", "/v2/keys/a?x=%zz", "value=1", 400, 0, r#"{"errorCode":210,"message":"Invalid POST form","cause":"invalid URL escape \"%zz\"","index":0}"#),
    ("PUT", "/v2/keys/a", "value=1&ttl=abc", 400, 0, r#"{"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \"ttl\"","index":0}"#),
    ("PUT", "/v2/keys/a", "value=1&ttl=-1", 400, 0, r#"{"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \"ttl\"","index":0}"#),
    ("PUT", "/v2/keys/a", "value=1&ttl=", 200, 14, r#"{"action":"set","node":{"key":"/a","value":"1","modifiedIndex":14,"createdIndex":14},"prevNode":{"key":"/a","value":"1","modifiedIndex":12,"createdIndex":12}}"#),
    ("PUT", "/v2/keys/t", "value=1&ttl=5", 201, 15, r#"{"action":"set","node":{"key":"/t","value":"1","expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":15,"createdIndex":15}}"#),
    ("PUT", "/v2/keys/t", "ttl=10&refresh=true&prevExist=true", 200, 16, r#"{"action":"update","node":{"key":"/t","value":"1","expiration":"2025-11-24T16:00:10Z","ttl":10,"modifiedIndex":16,"createdIndex":15},"prevNode":{"key":"/t","value":"1","expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":15,"createdIndex":15}}"#),
    ("PUT", "/v2/keys/t", "ttl=10&refresh=true", 200, 17, r#"{"action":"set","node":{"key":"/t","value":"1","expiration":"2025-11-24T16:00:10Z","ttl":10,"modifiedIndex":17,"createdIndex":17},"prevNode":{"key":"/t","value":"1","expiration":"2025-11-24T16:00:10Z","ttl":10,"modifiedIndex":16,"createdIndex":15}}"#),
    ("PUT", "/v2/keys/t", "value=1&refresh=true&ttl=5", 400, 0, r#"{"errorCode":211,"message":"Value provided on refresh","cause":"A value was provided on a refresh","index":0}"#),
    ("PUT", "/v2/keys/t", "refresh=true", 400, 0, r#"{"errorCode":212,"message":"A TTL must be provided on refresh","cause":"No TTL value set","index":0}"#),
    ("PUT", "/v2/keys/t", "refresh=x", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for refresh","index":0}"#),
    ("PUT", "/v2/keys/nott", "refresh=true&ttl=5", 404, 17, r#"{"errorCode":100,"message":"Key not found","cause":"/nott","index":17}"#),
];

/// After ttl=0 (whose expiration etcd prints by its own clock; the
/// conformance suite checks it).
#[rustfmt::skip]
const PUTS_AFTER_TTL_0: &[Step] = &[
    ("PUT", "/v2/keys/dt", "dir=true&ttl=5", 201, 19, r#"{"action":"set","node":{"key":"/dt","dir":true,"expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":19,"createdIndex":19}}"#),
    ("PUT", "/v2/keys/dt", "dir=true&ttl=7&prevExist=true", 200, 20, r#"{"action":"update","node":{"key":"/dt","dir":true,"expiration":"2025-11-24T16:00:07Z","ttl":7,"modifiedIndex":20,"createdIndex":19},"prevNode":{"key":"/dt","dir":true,"expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":19,"createdIndex":19}}"#),
    ("PUT", "/v2/keys/a", "value=1&dir=true", 200, 21, r#"{"action":"set","node":{"key":"/a","dir":true,"modifiedIndex":21,"createdIndex":21},"prevNode":{"key":"/a","value":"1","modifiedIndex":14,"createdIndex":14}}"#),
];

#[tokio::test]
async fn put_sets_creates_updates_and_swaps() {
    let fx = Fixture::new();
    fx.replay(PUTS).await;
    let zero = fx.form("PUT", "/v2/keys/t", "value=1&ttl=0").await;
    assert_eq!(
        (zero.status, zero.header("x-etcd-index")),
        (200, Some("18"))
    );
    fx.replay(PUTS_AFTER_TTL_0).await;
}

/// POST: in-order keys named by their index, in a directory or the root.
#[rustfmt::skip]
const POSTS: &[Step] = &[
    ("POST", "/v2/keys/q", "value=a", 201, 4, r#"{"action":"create","node":{"key":"/q/00000000000000000004","value":"a","modifiedIndex":4,"createdIndex":4}}"#),
    ("POST", "/v2/keys/q", "value=b", 201, 5, r#"{"action":"create","node":{"key":"/q/00000000000000000005","value":"b","modifiedIndex":5,"createdIndex":5}}"#),
    ("POST", "/v2/keys/q", "", 201, 6, r#"{"action":"create","node":{"key":"/q/00000000000000000006","value":"","modifiedIndex":6,"createdIndex":6}}"#),
    ("POST", "/v2/keys/q", "dir=true", 201, 7, r#"{"action":"create","node":{"key":"/q/00000000000000000007","dir":true,"modifiedIndex":7,"createdIndex":7}}"#),
    ("POST", "/v2/keys/q", "value=t&ttl=5", 201, 8, r#"{"action":"create","node":{"key":"/q/00000000000000000008","value":"t","expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":8,"createdIndex":8}}"#),
    ("GET", "/v2/keys/q?sorted=true&recursive=true", "", 200, 8, r#"{"action":"get","node":{"key":"/q","dir":true,"nodes":[{"key":"/q/00000000000000000004","value":"a","modifiedIndex":4,"createdIndex":4},{"key":"/q/00000000000000000005","value":"b","modifiedIndex":5,"createdIndex":5},{"key":"/q/00000000000000000006","value":"","modifiedIndex":6,"createdIndex":6},{"key":"/q/00000000000000000007","dir":true,"modifiedIndex":7,"createdIndex":7},{"key":"/q/00000000000000000008","value":"t","expiration":"2025-11-24T16:00:05Z","ttl":5,"modifiedIndex":8,"createdIndex":8}],"modifiedIndex":4,"createdIndex":4}}"#),
    ("PUT", "/v2/keys/f", "value=1", 201, 9, r#"{"action":"set","node":{"key":"/f","value":"1","modifiedIndex":9,"createdIndex":9}}"#),
    ("POST", "/v2/keys/f", "value=x", 400, 9, r#"{"errorCode":104,"message":"Not a directory","cause":"/f","index":9}"#),
    ("POST", "/v2/keys/", "value=r", 201, 10, r#"{"action":"create","node":{"key":"/00000000000000000010","value":"r","modifiedIndex":10,"createdIndex":10}}"#),
    ("POST", "/v2/keys/q", "value=x&prevExist=true", 201, 11, r#"{"action":"create","node":{"key":"/q/00000000000000000011","value":"x","modifiedIndex":11,"createdIndex":11}}"#),
    ("POST", "/v2/keys/q", "value=x&ttl=abc", 400, 0, r#"{"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \"ttl\"","index":0}"#),
    ("POST", "/v2/keys/q", "value=x&wait=true", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"\"wait\" can only be used with GET requests","index":0}"#),
];

#[tokio::test]
async fn post_creates_in_order_keys() {
    Fixture::new().replay(POSTS).await;
}

/// DELETE: files, directories (dir, recursive), compare-and-delete, the
/// root, and a form body, which Go does not read for DELETE.
#[rustfmt::skip]
const DELETES: &[Step] = &[
    ("PUT", "/v2/keys/f", "value=1", 201, 4, r#"{"action":"set","node":{"key":"/f","value":"1","modifiedIndex":4,"createdIndex":4}}"#),
    ("PUT", "/v2/keys/g", "value=1", 201, 5, r#"{"action":"set","node":{"key":"/g","value":"1","modifiedIndex":5,"createdIndex":5}}"#),
    ("PUT", "/v2/keys/h", "value=1", 201, 6, r#"{"action":"set","node":{"key":"/h","value":"1","modifiedIndex":6,"createdIndex":6}}"#),
    ("PUT", "/v2/keys/empty", "dir=true", 201, 7, r#"{"action":"set","node":{"key":"/empty","dir":true,"modifiedIndex":7,"createdIndex":7}}"#),
    ("PUT", "/v2/keys/full/x", "value=1", 201, 8, r#"{"action":"set","node":{"key":"/full/x","value":"1","modifiedIndex":8,"createdIndex":8}}"#),
    ("PUT", "/v2/keys/full/y/z", "value=2", 201, 9, r#"{"action":"set","node":{"key":"/full/y/z","value":"2","modifiedIndex":9,"createdIndex":9}}"#),
    ("DELETE", "/v2/keys/f", "", 200, 10, r#"{"action":"delete","node":{"key":"/f","modifiedIndex":10,"createdIndex":4},"prevNode":{"key":"/f","value":"1","modifiedIndex":4,"createdIndex":4}}"#),
    ("DELETE", "/v2/keys/f", "", 404, 10, r#"{"errorCode":100,"message":"Key not found","cause":"/f","index":10}"#),
    ("DELETE", "/v2/keys/empty", "", 403, 10, r#"{"errorCode":102,"message":"Not a file","cause":"/empty","index":10}"#),
    ("DELETE", "/v2/keys/empty?dir=true", "", 200, 11, r#"{"action":"delete","node":{"key":"/empty","dir":true,"modifiedIndex":11,"createdIndex":7},"prevNode":{"key":"/empty","dir":true,"modifiedIndex":7,"createdIndex":7}}"#),
    ("DELETE", "/v2/keys/full?dir=true", "", 403, 11, r#"{"errorCode":108,"message":"Directory not empty","cause":"/full","index":11}"#),
    ("DELETE", "/v2/keys/full", "", 403, 11, r#"{"errorCode":102,"message":"Not a file","cause":"/full","index":11}"#),
    ("DELETE", "/v2/keys/full?recursive=true", "", 200, 12, r#"{"action":"delete","node":{"key":"/full","dir":true,"modifiedIndex":12,"createdIndex":8},"prevNode":{"key":"/full","dir":true,"modifiedIndex":8,"createdIndex":8}}"#),
    ("DELETE", "/v2/keys/g?prevValue=2", "", 412, 12, r#"{"errorCode":101,"message":"Compare failed","cause":"[2 != 1]","index":12}"#),
    ("DELETE", "/v2/keys/g?prevIndex=1", "", 412, 12, r#"{"errorCode":101,"message":"Compare failed","cause":"[1 != 5]","index":12}"#),
    ("DELETE", "/v2/keys/g?prevValue=1", "", 200, 13, r#"{"action":"compareAndDelete","node":{"key":"/g","modifiedIndex":13,"createdIndex":5},"prevNode":{"key":"/g","value":"1","modifiedIndex":5,"createdIndex":5}}"#),
    ("DELETE", "/v2/keys/h?prevIndex=6", "", 200, 14, r#"{"action":"compareAndDelete","node":{"key":"/h","modifiedIndex":14,"createdIndex":6},"prevNode":{"key":"/h","value":"1","modifiedIndex":6,"createdIndex":6}}"#),
    ("DELETE", "/v2/keys/h?prevIndex=abc", "", 400, 0, r#"{"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"prevIndex\"","index":0}"#),
    ("DELETE", "/v2/keys/h?prevValue=", "", 400, 0, r#"{"errorCode":201,"message":"PrevValue is Required in POST form","cause":"\"prevValue\" cannot be empty","index":0}"#),
    ("DELETE", "/v2/keys/gone?prevValue=1", "", 404, 14, r#"{"errorCode":100,"message":"Key not found","cause":"/gone","index":14}"#),
    ("DELETE", "/v2/keys/", "", 400, 14, r#"{"errorCode":107,"message":"Root is read only","cause":"/","index":14}"#),
    ("DELETE", "/v2/keys/?recursive=true", "", 400, 14, r#"{"errorCode":107,"message":"Root is read only","cause":"/","index":14}"#),
    ("DELETE", "/v2/keys/x?recursive=maybe", "", 400, 0, r#"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"recursive\"","index":0}"#),
    ("PUT", "/v2/keys/d2/x", "value=1", 201, 15, r#"{"action":"set","node":{"key":"/d2/x","value":"1","modifiedIndex":15,"createdIndex":15}}"#),
    ("DELETE", "/v2/keys/d2?prevValue=1", "", 403, 15, r#"{"errorCode":102,"message":"Not a file","cause":"/d2","index":15}"#),
    ("DELETE", "/v2/keys/d2/x/y", "", 400, 15, r#"{"errorCode":104,"message":"Not a directory","cause":"/d2/x","index":15}"#),
    ("DELETE", "/v2/keys/d2", "dir=true&recursive=true", 403, 15, r#"{"errorCode":102,"message":"Not a file","cause":"/d2","index":15}"#),
];

#[tokio::test]
async fn delete_removes_files_and_directories() {
    Fixture::new().replay(DELETES).await;
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
