//! The requests etcdctl's commands make, as the Go client's `httpAction`s
//! build them (`keys.go`'s `getAction`, `setAction`, ...,
//! `members.go`'s actions): method, path below the endpoint, query, body.

use concord_store::go;

use crate::http::{encode_values, Url};

/// Where a request goes, relative to an endpoint.
enum Target {
    /// `/v2/keys<key>`, canonicalised.
    Keys(String),
    /// `/v2/members[/<suffix>]`, joined.
    Members(String),
}

/// One request as the Go client's `httpAction`s build it.
pub struct Action {
    pub method: &'static str,
    target: Target,
    query: String,
    pub content_type: Option<&'static str>,
    /// `None`: no body (GET, DELETE); `Some("")` is printed as `-d ""`.
    pub body: Option<String>,
}

/// `client.SetOptions`, as etcdctl fills it.
#[derive(Default)]
pub struct SetOptions {
    pub prev_value: String,
    pub prev_index: u64,
    /// `"true"` / `"false"`; `None` is `PrevIgnore`.
    pub prev_exist: Option<&'static str>,
    pub ttl: u64,
    pub dir: bool,
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

impl Action {
    /// The request's URL on the endpoint `ep`.
    pub fn url(&self, ep: &Url) -> Url {
        let mut u = ep.clone();
        u.path = match &self.target {
            Target::Keys(key) => {
                let key = if key.is_empty() || key.starts_with('/') {
                    key.clone()
                } else {
                    format!("/{key}")
                };
                go::clean_url_path(&format!("{}/v2/keys{key}", ep.path))
            }
            Target::Members(suffix) => {
                let p = go::join(&ep.path, "/v2/members");
                if suffix.is_empty() {
                    p
                } else {
                    go::join(&p, suffix)
                }
            }
        };
        if !self.query.is_empty() {
            u.query = self.query.clone();
        } else if matches!(self.target, Target::Keys(_)) {
            u.query.clear();
        }
        u
    }

    /// A watch (`wait=true`): no header timeout.
    pub fn is_wait(&self) -> bool {
        self.query.split('&').any(|kv| kv == "wait=true")
    }

    fn keys(method: &'static str, key: &str, query: String, body: Option<String>) -> Action {
        Action {
            method,
            target: Target::Keys(key.into()),
            query,
            content_type: if method == "GET" { None } else { FORM },
            body,
        }
    }

    /// `getAction`.
    pub fn get(key: &str, recursive: bool, sorted: bool, quorum: bool) -> Action {
        let query = encode_values(&[
            ("recursive", recursive.to_string()),
            ("sorted", sorted.to_string()),
            ("quorum", quorum.to_string()),
        ]);
        Action::keys("GET", key, query, None)
    }

    /// `waitAction`.
    pub fn wait(key: &str, wait_index: u64, recursive: bool) -> Action {
        let query = encode_values(&[
            ("wait", "true".into()),
            ("waitIndex", wait_index.to_string()),
            ("recursive", recursive.to_string()),
        ]);
        Action::keys("GET", key, query, None)
    }

    /// `setAction`.
    pub fn set(key: &str, value: &str, o: &SetOptions) -> Action {
        let mut params: Vec<(&str, String)> = Vec::new();
        let mut form: Vec<(&str, String)> = Vec::new();
        if o.dir {
            params.push(("dir", "true".into()));
        } else {
            if !o.prev_value.is_empty() {
                params.push(("prevValue", o.prev_value.clone()));
            }
            form.push(("value", value.into()));
        }
        if o.prev_index != 0 {
            params.push(("prevIndex", o.prev_index.to_string()));
        }
        if let Some(p) = o.prev_exist {
            params.push(("prevExist", p.into()));
        }
        if o.ttl > 0 {
            form.push(("ttl", o.ttl.to_string()));
        }
        Action::keys(
            "PUT",
            key,
            encode_values(&params),
            Some(encode_values(&form)),
        )
    }

    /// `deleteAction`.
    pub fn delete(
        key: &str,
        prev_value: &str,
        prev_index: u64,
        dir: bool,
        recursive: bool,
    ) -> Action {
        let mut params: Vec<(&str, String)> = Vec::new();
        if !prev_value.is_empty() {
            params.push(("prevValue", prev_value.into()));
        }
        if prev_index != 0 {
            params.push(("prevIndex", prev_index.to_string()));
        }
        if dir {
            params.push(("dir", "true".into()));
        }
        if recursive {
            params.push(("recursive", "true".into()));
        }
        Action::keys("DELETE", key, encode_values(&params), None)
    }

    /// `createInOrderAction`.
    pub fn create_in_order(dir: &str, value: &str, ttl: u64) -> Action {
        let mut form = vec![("value", value.to_string())];
        if ttl > 0 {
            form.push(("ttl", ttl.to_string()));
        }
        Action::keys("POST", dir, String::new(), Some(encode_values(&form)))
    }

    /// A members API request (`/v2/members[/<suffix>]`), JSON when it has
    /// a body.
    pub fn members(method: &'static str, suffix: &str, body: Option<String>) -> Action {
        Action {
            method,
            target: Target::Members(suffix.into()),
            query: String::new(),
            content_type: body.as_ref().map(|_| "application/json"),
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_url;

    #[test]
    fn actions_build_etcdctls_urls() {
        let ep = parse_url("http://h:1").unwrap();
        let a = Action::get("a", false, true, false);
        assert_eq!(
            a.url(&ep).to_string(),
            "http://h:1/v2/keys/a?quorum=false&recursive=false&sorted=true"
        );
        assert_eq!(a.content_type, None);
        let a = Action::set(
            "/d",
            "",
            &SetOptions {
                dir: true,
                prev_exist: Some("false"),
                ttl: 100,
                ..Default::default()
            },
        );
        assert_eq!(
            a.url(&ep).to_string(),
            "http://h:1/v2/keys/d?dir=true&prevExist=false"
        );
        assert_eq!(a.body.as_deref(), Some("ttl=100"));
        assert_eq!(a.content_type, FORM);
        let a = Action::wait("/w", 0, true);
        assert!(a.is_wait());
        assert_eq!(
            a.url(&ep).to_string(),
            "http://h:1/v2/keys/w?recursive=true&wait=true&waitIndex=0"
        );
        let a = Action::delete("/x", "", 3, false, false);
        assert_eq!((a.content_type, a.body.as_deref()), (FORM, None));
        let a = Action::members("DELETE", "abc", None);
        assert_eq!(a.url(&ep).to_string(), "http://h:1/v2/members/abc");
    }
}
