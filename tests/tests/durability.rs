//! Acknowledged writes survive kill -9: 1000 writes, SIGKILL, restart on the
//! same data dir, every key is there and the store index did not go back.

use concord_tests::Server;

#[test]
fn thousand_acknowledged_writes_survive_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d1");
    let mut s = Server::concord("d1", &data);
    let mut last_index = 0u64;
    for i in 0..1000 {
        let r = s.form(
            "PUT",
            &format!("/v2/keys/durable/k{i}"),
            &format!("value=v{i}"),
        );
        assert!(
            r.status == 200 || r.status == 201,
            "write {i}: {} {}",
            r.status,
            r.text()
        );
        last_index = r.header("X-Etcd-Index").unwrap().parse().unwrap();
    }
    let (client, peer) = (s.client_port, s.peer_port);
    s.kill9();
    drop(s);

    let s = Server::restart_concord("d1", &data, client, peer);
    for i in 0..1000 {
        let r = s.request("GET", &format!("/v2/keys/durable/k{i}"));
        assert_eq!(r.status, 200, "key k{i} lost after kill -9: {}", r.text());
        assert_eq!(r.json()["node"]["value"], format!("v{i}"));
    }
    let r = s.request("GET", "/v2/keys/durable");
    let index: u64 = r.header("X-Etcd-Index").unwrap().parse().unwrap();
    assert!(
        index >= last_index,
        "X-Etcd-Index went back: {index} < {last_index}"
    );
    assert_eq!(r.json()["node"]["nodes"].as_array().unwrap().len(), 1000);
}
