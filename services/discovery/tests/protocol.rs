//! The discovery service and the protocol client together, in one process
//! on a real socket: the service's answers (status, JSON, headers), and
//! `join_cluster` / `get_cluster` against it, as etcd 3.4 members use them.

use std::sync::Arc;

use concord_discovery::registry::Registry;
use concord_discovery::service;
use concord_discovery_client::client::{self, DiscoveryError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts the service on a free port; returns its base URL.
async fn start(dir: &std::path::Path) -> (String, Arc<Registry>) {
    let registry = Registry::open(dir).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = service::router(registry.clone(), "discovery", &base);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, registry)
}

/// One HTTP/1.1 exchange: (status, headers lowercased, body).
async fn call(base: &str, method: &str, path: &str, form: Option<&str>) -> (u16, String, String) {
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let body = form.unwrap_or("");
    let ct = if form.is_some() {
        "Content-Type: application/x-www-form-urlencoded\r\n"
    } else {
        ""
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{ct}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), body.to_string())
}

fn path_of(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    rest[rest.find('/').unwrap()..].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_token_and_the_keys_api_answer_as_etcd() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _reg) = start(dir.path()).await;
    let (status, _, url) = call(&base, "GET", "/new?size=5", None).await;
    assert_eq!(status, 200);
    assert!(
        url.starts_with(&format!("{base}/v2/keys/_etcd/registry/")),
        "{url}"
    );
    let token = path_of(&url);
    let (status, head, body) = call(&base, "GET", &format!("{token}/_config/size"), None).await;
    assert_eq!(status, 200);
    assert!(head.contains("x-etcd-index: 1"), "{head}");
    assert!(body.contains(r#""value":"5""#), "{body}");
    // Registration: create-only, so a second one with the same ID is 105.
    let key = format!("{token}/8e9e05c52164694d?prevExist=false");
    let (status, _, body) = call(&base, "PUT", &key, Some("value=a%3Dhttp%3A%2F%2F1%3A2380")).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body.starts_with(r#"{"action":"create","node":{"key":"/_etcd/registry/"#),
        "{body}"
    );
    let (status, _, body) = call(&base, "PUT", &key, Some("value=x")).await;
    assert_eq!(status, 412, "{body}");
    assert!(
        body.starts_with(
            r#"{"errorCode":105,"message":"Key already exists","cause":"/_etcd/registry/"#
        ),
        "{body}"
    );
    // The token dir lists the registration, not the hidden _config.
    let (status, _, body) = call(
        &base,
        "GET",
        &format!("{token}?recursive=false&sorted=false&quorum=false"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("8e9e05c52164694d") && !body.contains("_config"),
        "{body}"
    );
    // discovery.etcd.io's short form.
    let short = token.trim_start_matches("/v2/keys/_etcd/registry");
    let (status, _, body) = call(&base, "GET", &format!("{short}/_config/size"), None).await;
    assert_eq!(
        (status, body.contains(r#""value":"5""#)),
        (200, true),
        "{body}"
    );
    // A bad size, other paths, the token list.
    let (status, head, body) = call(&base, "GET", "/new?size=abc", None).await;
    assert_eq!(status, 400);
    assert!(head.contains("text/plain; charset=utf-8"));
    assert_eq!(body, "strconv.Atoi: parsing \"abc\": invalid syntax\n");
    assert_eq!(call(&base, "GET", "/v2/keys/foo", None).await.0, 404);
    assert_eq!(
        call(&base, "GET", "/v2/keys/_etcd/registry/", None).await.0,
        404
    );
    assert_eq!(call(&base, "GET", "/v2/members", None).await.0, 404);
    assert_eq!(call(&base, "GET", "/health", None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_join_and_a_fourth_finds_the_cluster_full() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _reg) = start(dir.path()).await;
    let (_, _, url) = call(&base, "GET", "/new?size=3", None).await;
    let joins: Vec<_> = (1..=3u64)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let me =
                    client::member_config(&format!("m{i}"), &[format!("http://10.0.0.{i}:2380")]);
                client::join_cluster(&url, "", i, &me).await
            })
        })
        .collect();
    let mut clusters = Vec::new();
    for j in joins {
        clusters.push(j.await.unwrap().unwrap());
    }
    assert!(clusters.iter().all(|c| c == &clusters[0]), "{clusters:?}");
    let mut names: Vec<&str> = clusters[0].split(',').collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "m1=http://10.0.0.1:2380",
            "m2=http://10.0.0.2:2380",
            "m3=http://10.0.0.3:2380"
        ]
    );
    let late = client::join_cluster(&url, "", 4, "m4=http://10.0.0.4:2380").await;
    assert_eq!(late, Err(DiscoveryError::FullCluster));
    // A proxy asks without registering and gets the same cluster.
    assert_eq!(client::get_cluster(&url, "").await.unwrap(), clusters[0]);
    // The same ID again: etcd's duplicate.
    let (_, _, url2) = call(&base, "GET", "/new?size=2", None).await;
    let first = {
        let url2 = url2.clone();
        tokio::spawn(async move { client::join_cluster(&url2, "", 7, "a=http://1:2380").await })
    };
    let key = format!("{}/7", path_of(&url2));
    while call(&base, "GET", &key, None).await.0 != 200 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let dup = client::join_cluster(&url2, "", 7, "a=http://1:2380").await;
    assert_eq!(dup, Err(DiscoveryError::DuplicateId));
    first.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_bad_sizes_fail_as_in_etcd() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _reg) = start(dir.path()).await;
    call(&base, "GET", "/new", None).await;
    let missing = format!("{base}/v2/keys/_etcd/registry/nosize");
    let e = client::join_cluster(&missing, "", 1, "a=http://1:2380")
        .await
        .unwrap_err();
    // etcd 3.4 prints the error answer itself here.
    assert_eq!(
        e.to_string(),
        "100: Key not found (/_etcd/registry/nosize) [1]"
    );
    call(
        &base,
        "PUT",
        "/v2/keys/_etcd/registry/bad/_config/size",
        Some("value=abc"),
    )
    .await;
    let bad = format!("{base}/v2/keys/_etcd/registry/bad");
    let e = client::join_cluster(&bad, "", 1, "a=http://1:2380")
        .await
        .unwrap_err();
    assert_eq!(e, DiscoveryError::BadSizeKey);
    assert_eq!(e.to_string(), "discovery: size key is bad");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_registry_is_followed() {
    use concord_api::Member;
    use concord_discovery_client::members::{fetch, follow, publish, ClusterView};
    let dir = tempfile::tempdir().unwrap();
    let (base, _reg) = start(dir.path()).await;
    let (_, _, url) = call(&base, "GET", "/new?size=3", None).await;
    assert_eq!(fetch(&url, "").await.unwrap().0, None);
    let mut rx = follow(&url, "").unwrap();
    let member = |id: &str| Member {
        id: id.into(),
        name: format!("n{id}"),
        peer_urls: vec![format!("http://{id}:2380")],
        client_urls: vec![format!("http://{id}:2379")],
    };
    let mut view = ClusterView {
        cluster_id: "c1".into(),
        leader: "a".into(),
        healthy: true,
        members: vec![member("a"), member("b")],
    };
    publish(&url, "", &view).await.unwrap();
    rx.wait_for(|v| v.as_ref() == Some(&view)).await.unwrap();
    assert_eq!(
        view.client_urls_leader_first(),
        ["http://a:2379", "http://b:2379"]
    );
    // A member added, the leader changed: the follower sees both.
    view.members.push(member("c"));
    view.leader = "c".into();
    publish(&url, "", &view).await.unwrap();
    rx.wait_for(|v| v.as_ref() == Some(&view)).await.unwrap();
    assert_eq!(view.client_urls_leader_first()[0], "http://c:2379");
    // The view stays hidden from the discovery protocol's listing.
    let (_, _, body) = call(&base, "GET", &path_of(&url), None).await;
    assert!(!body.contains("_cluster"), "{body}");
    assert_eq!(fetch(&url, "").await.unwrap().0, Some(view));
}
