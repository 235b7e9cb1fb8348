//! Malformed requests get etcd 3.4's answer (status, errorCode, message,
//! cause), side by side with a real etcd, and the server keeps serving.

use concord_tests::{http, Response, Server};

/// One malformed (or edge) request.
struct Case {
    method: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    body: &'static [u8],
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const JSON: Option<&str> = Some("application/json");

fn cases() -> Vec<Case> {
    let c = |method, path, content_type, body| Case {
        method,
        path,
        content_type,
        body,
    };
    vec![
        c("PUT", "/v2/keys/m/ttl?ttl=abc", FORM, b"value=1"),
        c("PUT", "/v2/keys/m/ttl", FORM, b"value=1&ttl=-1"),
        c("PUT", "/v2/keys/m/ttl", FORM, b"value=1&ttl=1.5"),
        c("PUT", "/v2/keys/m/pi?prevIndex=abc", FORM, b"value=1"),
        c("PUT", "/v2/keys/m/pi?prevIndex=-3", FORM, b"value=1"),
        c("PUT", "/v2/keys/m/pv?prevValue=", FORM, b"value=1"),
        c("GET", "/v2/keys/m?recursive=maybe", None, b""),
        c("GET", "/v2/keys/m?sorted=2", None, b""),
        c("GET", "/v2/keys/m?quorum=yes", None, b""),
        c("PUT", "/v2/keys/m/b?prevExist=nope", FORM, b"value=1"),
        c("PUT", "/v2/keys/m/b?dir=tru", FORM, b""),
        c("GET", "/v2/keys/m?wait=true&waitIndex=abc", None, b""),
        c("PUT", "/v2/keys/m/w?wait=true", FORM, b"value=1"),
        c("PUT", "/v2/keys/m/r?refresh=true", FORM, b"value=1&ttl=5"),
        c("PUT", "/v2/keys/m/r?refresh=true", FORM, b""),
        c("PUT", "/v2/keys/m/enc", FORM, b"value=%zz"),
        c("PUT", "/v2/keys/m/%zz", FORM, b"value=1"),
        c("PUT", "/v2/keys/", FORM, b"value=1"),
        c("PUT", "/v2/keys", FORM, b"value=1"),
        c("DELETE", "/v2/keys/?recursive=true", None, b""),
        c("POST", "/v2/keys/", FORM, b"value=1"),
        c("PUT", "/v2/keys/m/dirval?dir=true", FORM, b"value=x"),
        c("PATCH", "/v2/keys/m/x", None, b""),
        c("OPTIONS", "/v2/keys/m/x", None, b""),
        c("POST", "/v2/members", JSON, b"{not json"),
        c(
            "POST",
            "/v2/members",
            Some("text/plain"),
            b"{\"peerURLs\":[\"http://127.0.0.1:1\"]}",
        ),
        c(
            "POST",
            "/v2/members",
            JSON,
            b"{\"peerURLs\":[\"not a url\"]}",
        ),
        c("POST", "/v2/members", JSON, b"{}"),
        c(
            "PUT",
            "/v2/members/zz",
            JSON,
            b"{\"peerURLs\":[\"http://127.0.0.1:1\"]}",
        ),
        c("DELETE", "/v2/members/not-hex", None, b""),
        c("PATCH", "/v2/members", None, b""),
        c("POST", "/health", None, b""),
        c("GET", "/v2/nothing", None, b""),
    ]
}

/// The top-level keys of a JSON object, in the order they were written.
fn key_order(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let (mut depth, mut keys, mut chars) = (0, Vec::new(), text.char_indices().peekable());
    while let Some((i, c)) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            '"' => {
                let start = i + 1;
                let mut end = start;
                while let Some((j, c)) = chars.next() {
                    if c == '\\' {
                        chars.next();
                    } else if c == '"' {
                        end = j;
                        break;
                    }
                }
                if depth == 1 && text[end + 1..].trim_start().starts_with(':') {
                    keys.push(text[start..end].to_string());
                }
            }
            _ => {}
        }
    }
    keys
}

/// What is compared: the status, and for JSON errors the code, message,
/// cause and field order (indices differ between two independent stores, so
/// only "zero or not" is compared for them).
fn essence(r: &Response) -> String {
    match serde_json::from_slice::<serde_json::Value>(&r.body) {
        Ok(v) if v.get("errorCode").is_some() => format!(
            "{} {:?} errorCode={} message={} cause={} index_zero={}",
            r.status,
            key_order(&r.body),
            v["errorCode"],
            v["message"],
            v["cause"],
            v["index"].as_u64() == Some(0)
        ),
        Ok(v) if v.get("message").is_some() => format!("{} message={}", r.status, v["message"]),
        _ => format!("{}", r.status),
    }
}

#[test]
fn malformed_requests_answered_as_etcd() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = Server::etcd("ref", &dir.path().join("etcd"))
        .expect("etcd 3.4 must be installed for this test (apt-get install etcd-server)");
    let concord = Server::concord("cand", &dir.path().join("concord"));
    for s in [&etcd, &concord] {
        let r = s.form("PUT", "/v2/keys/m/existing", "value=1");
        assert!(r.status == 201 || r.status == 200);
    }
    let mut diffs = Vec::new();
    for c in cases() {
        // The reference is asked again if it reset the connection: etcd
        // 3.4 once did so under a loaded CI run, and answered next time.
        let want = (0..3)
            .map(|_| http(etcd.client_port, c.method, c.path, c.content_type, c.body))
            .find(|r| !matches!(r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset))
            .expect("three attempts")
            .unwrap();
        let got = http(
            concord.client_port,
            c.method,
            c.path,
            c.content_type,
            c.body,
        )
        .unwrap();
        let (w, g) = (essence(&want), essence(&got));
        if w != g {
            diffs.push(format!(
                "{} {} {:?}\n  etcd:    {w}\n  concord: {g}",
                c.method,
                c.path,
                String::from_utf8_lossy(c.body)
            ));
        }
        // The server is alive after every bad request.
        assert_eq!(concord.request("GET", "/v2/keys/m/existing").status, 200);
    }
    assert!(
        diffs.is_empty(),
        "answers differ from etcd 3.4:\n{}",
        diffs.join("\n")
    );
}

/// etcd's v2 API has no 1.5 MiB limit (that is v3's): a form body is cut
/// at Go's `ParseForm` limit of 10 MiB, answered as errorCode 210.
#[test]
fn oversized_form_is_refused_like_etcd_and_server_survives() {
    let dir = tempfile::tempdir().unwrap();
    let concord = Server::concord("big", &dir.path().join("concord"));
    let big = format!("value={}", "x".repeat(11 * 1024 * 1024));
    let r = concord.form("PUT", "/v2/keys/big", &big);
    assert_eq!(r.status, 400, "11 MiB form accepted");
    let v = r.json();
    assert_eq!(v["errorCode"], 210);
    assert_eq!(v["cause"], "http: POST too large");
    let ok = format!("value={}", "x".repeat(3 * 1024 * 1024));
    assert_eq!(concord.form("PUT", "/v2/keys/ok", &ok).status, 201);
    let r = concord.request("GET", "/v2/keys/ok");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["node"]["value"].as_str().map(str::len),
        Some(3 * 1024 * 1024)
    );
}
