//! HTTP to the v2 endpoints, trying each endpoint in turn until one
//! answers, as etcdctl's client does.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

pub const EXIT_BAD_CONNECTION: u8 = 2;
pub const EXIT_CLUSTER_NOT_HEALTHY: u8 = 5;

/// Why a call failed, already worded as etcdctl words it.
pub enum Failure {
    /// The server answered with a v2 error: `100: Key not found (/a) [12]`.
    Server(String),
    /// No endpoint answered.
    Unavailable(String),
    /// Anything else the server said.
    Other(String),
}

/// A keys answer: the event JSON and the `X-Etcd-Index` header.
pub struct KeysResponse {
    pub body: Value,
    pub index: u64,
}

impl KeysResponse {
    pub fn node_is_dir(&self) -> bool {
        self.body["node"]["dir"].as_bool().unwrap_or(false)
    }
    pub fn node_key(&self) -> &str {
        self.body["node"]["key"].as_str().unwrap_or("")
    }
    pub fn node_modified_index(&self) -> u64 {
        self.body["node"]["modifiedIndex"].as_u64().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "peerURLs", default)]
    pub peer_urls: Vec<String>,
    #[serde(rename = "clientURLs", default)]
    pub client_urls: Vec<String>,
}

pub struct Client {
    endpoints: Vec<String>,
    agent: ureq::Agent,
    debug: bool,
}

/// Percent-encodes a key path, keeping `/`.
fn escape_path(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn escape(s: &str) -> String {
    escape_path(s).replace('/', "%2F")
}

fn encode(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Go's dial error text, as etcdctl shows it.
fn dial_error(endpoint: &str) -> String {
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .trim_end_matches('/');
    format!("dial tcp {host}: connect: connection refused")
}

impl Client {
    pub fn new(endpoints: &str, debug: bool) -> Client {
        let endpoints = endpoints
            .split(',')
            .map(|e| e.trim().trim_end_matches('/').to_string())
            .filter(|e| !e.is_empty())
            .collect();
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(2))
            .build();
        Client {
            endpoints,
            agent,
            debug,
        }
    }

    /// One request, failing over between endpoints on connection errors.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, String)>,
    ) -> Result<(u16, u64, String), Failure> {
        let mut errors = Vec::new();
        for ep in &self.endpoints {
            let url = format!("{ep}{path}");
            if self.debug {
                eprintln!("cURL Command: curl -X {method} {url}");
            }
            let req = self.agent.request(method, &url);
            let res = match &body {
                Some((ct, b)) => req.set("Content-Type", ct).send_string(b),
                None => req.call(),
            };
            let resp = match res {
                Ok(r) => r,
                Err(ureq::Error::Status(_, r)) => r,
                Err(ureq::Error::Transport(_)) => {
                    errors.push(dial_error(ep));
                    continue;
                }
            };
            let status = resp.status();
            let index = resp
                .header("X-Etcd-Index")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let text = resp
                .into_string()
                .map_err(|e| Failure::Other(e.to_string()))?;
            return Ok((status, index, text));
        }
        let list: Vec<String> = errors
            .iter()
            .enumerate()
            .map(|(i, e)| format!("error #{i}: {e}"))
            .collect();
        Err(Failure::Unavailable(format!(
            "client: etcd cluster is unavailable or misconfigured; {}\n\n{}\n",
            list.join("; "),
            list.join("\n")
        )))
    }

    /// A `/v2/keys` request; v2 errors become etcdctl's error text.
    pub fn keys(
        &self,
        method: &str,
        key: &str,
        query: &[(&str, String)],
        form: &[(&str, String)],
    ) -> Result<KeysResponse, Failure> {
        let key = if key.starts_with('/') {
            key.to_string()
        } else {
            format!("/{key}")
        };
        let mut path = format!("/v2/keys{}", escape_path(&key));
        if !query.is_empty() {
            path.push('?');
            path.push_str(&encode(query));
        }
        let body = if form.is_empty() {
            None
        } else {
            Some(("application/x-www-form-urlencoded", encode(form)))
        };
        let (_, index, text) = self.call(method, &path, body)?;
        let v: Value = serde_json::from_str(&text).map_err(|e| Failure::Other(e.to_string()))?;
        if let Some(code) = v.get("errorCode") {
            return Err(Failure::Server(format!(
                "{}: {} ({}) [{}]",
                code,
                v["message"].as_str().unwrap_or(""),
                v["cause"].as_str().unwrap_or(""),
                v["index"]
            )));
        }
        Ok(KeysResponse { body: v, index })
    }

    pub fn members(&self) -> Result<Vec<Member>, Failure> {
        #[derive(Deserialize)]
        struct List {
            members: Vec<Member>,
        }
        let (_, _, text) = self.call("GET", "/v2/members", None)?;
        let l: List = serde_json::from_str(&text).map_err(|e| Failure::Other(e.to_string()))?;
        Ok(l.members)
    }

    pub fn leader_id(&self) -> Result<String, Failure> {
        let (status, _, text) = self.call("GET", "/v2/members/leader", None)?;
        if status != 200 {
            return Err(Failure::Other(text));
        }
        let m: Member = serde_json::from_str(&text).map_err(|e| Failure::Other(e.to_string()))?;
        Ok(m.id)
    }

    fn member_error(status: u16, text: &str) -> Failure {
        let msg = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v["message"].as_str().map(String::from))
            .unwrap_or_else(|| text.to_string());
        Failure::Other(format!("{msg} (HTTP {status})"))
    }

    pub fn add_member(&self, peer_url: &str) -> Result<Member, Failure> {
        let body = serde_json::json!({ "peerURLs": [peer_url] }).to_string();
        let (status, _, text) =
            self.call("POST", "/v2/members", Some(("application/json", body)))?;
        if status != 201 {
            return Err(Self::member_error(status, &text));
        }
        serde_json::from_str(&text).map_err(|e| Failure::Other(e.to_string()))
    }

    pub fn remove_member(&self, id: &str) -> Result<(), Failure> {
        let (status, _, text) = self.call("DELETE", &format!("/v2/members/{id}"), None)?;
        if status != 204 {
            return Err(Self::member_error(status, &text));
        }
        Ok(())
    }

    pub fn update_member(&self, id: &str, urls: &str) -> Result<(), Failure> {
        let list: Vec<&str> = urls.split(',').collect();
        let body = serde_json::json!({ "peerURLs": list }).to_string();
        let (status, _, text) = self.call(
            "PUT",
            &format!("/v2/members/{id}"),
            Some(("application/json", body)),
        )?;
        if status != 204 {
            return Err(Self::member_error(status, &text));
        }
        Ok(())
    }

    /// `GET <url>/health` answers `{"health":"true"}`.
    pub fn health(&self, url: &str) -> bool {
        match self
            .agent
            .get(&format!("{}/health", url.trim_end_matches('/')))
            .call()
        {
            Ok(r) => r
                .into_string()
                .map(|t| t.contains("\"true\""))
                .unwrap_or(false),
            Err(_) => false,
        }
    }
}
