//! `/v2/members` (etcd's `membersHandler`): list, add, remove and update
//! members, and `/v2/members/leader`, with etcd's checks of peer URLs and
//! its answers to membership errors.

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use concord_api::MembershipError;
use concord_store::go;

use crate::error::{self, go_http_error, http_error, GatewayError};
use crate::response::{allow, json_response, with_cluster_id};
use crate::v2auth::{has_write_root_access, no_credentials, read_body, AuthStore};
use crate::GatewayState;

/// Member requests are JSON; anything larger than this is not a member.
const MAX_JSON_BYTES: usize = 1 << 20;

/// The scheme (lowercased), host and path of `u` as Go's `url.Parse`
/// splits them, or the errors of its scheme scan (`getScheme`, and a
/// colon in a first segment that has no scheme before it).
fn go_url_parts(u: &str) -> Result<(String, &str, &str), String> {
    let parse_error = |why: &str| format!("parse {}: {why}", go::quote(u));
    let (mut scheme, mut rest) = ("", u);
    for (i, c) in u.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(parse_error("missing protocol scheme")),
            ':' => {
                (scheme, rest) = (&u[..i], &u[i + 1..]);
                break;
            }
            _ => break,
        }
    }
    let first_segment = rest.split('/').next().unwrap_or("");
    if scheme.is_empty() && !rest.starts_with('/') && first_segment.contains(':') {
        return Err(parse_error(
            "first path segment in URL cannot contain colon",
        ));
    }
    let (host, path) = match rest.strip_prefix("//") {
        Some(authority) => match authority.find('/') {
            Some(i) => (&authority[..i], &authority[i..]),
            None => (authority, ""),
        },
        // No authority: no host (a rootless rest is Go's opaque part).
        None => ("", rest),
    };
    Ok((scheme.to_ascii_lowercase(), host, path))
}

/// Go's `types.NewURLs` checks on member peer URLs.
fn check_urls(urls: &[String]) -> Result<Vec<String>, String> {
    if urls.is_empty() {
        return Err("no valid URLs given".into());
    }
    let mut out = Vec::new();
    for u in urls {
        let u = u.trim();
        let (scheme, host, path) = go_url_parts(u)?;
        if !matches!(scheme.as_str(), "http" | "https" | "unix" | "unixs") {
            return Err(format!(
                "URL scheme must be http, https, unix, or unixs: {u}"
            ));
        }
        match host.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() || p.parse::<u16>().is_ok() => {}
            _ => {
                return Err(format!(
                    "URL address does not have the form \"host:port\": {u}"
                ))
            }
        }
        if !path.is_empty() {
            return Err(format!("URL must not contain a path: {u}"));
        }
        // As Go's `URL.String()` gives it back: the scheme lowercased.
        out.push(format!("{scheme}{}", &u[scheme.len()..]));
    }
    out.sort();
    Ok(out)
}

/// Go's `json.Unmarshal` of etcd's `{"peerURLs": []string}`: the key
/// matched without regard to case, `null` as nothing (an element as ""),
/// and Go's words for a value of another type.
fn peer_urls_from_json(bytes: &[u8]) -> Result<Vec<String>, String> {
    use serde_json::Value;
    const BODY_TYPE: &str = r#"struct { PeerURLs []string "json:\"peerURLs\"" }"#;
    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
    let field_error = |v: &Value, ty: &str| {
        format!(
            "json: cannot unmarshal {} into Go struct field .peerURLs of type {ty}",
            kind(v)
        )
    };
    let body: Value = serde_json::from_slice(bytes).map_err(|e| error::go_json_error(&e, bytes))?;
    let fields = match &body {
        Value::Null => return Ok(Vec::new()),
        Value::Object(fields) => fields,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type {BODY_TYPE}",
                kind(other)
            ))
        }
    };
    let urls = fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("peerURLs"))
        .map(|(_, v)| v);
    match urls {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(u) => Ok(u.clone()),
                Value::Null => Ok(String::new()),
                other => Err(field_error(other, "string")),
            })
            .collect(),
        Some(other) => Err(field_error(other, "[]string")),
    }
}

async fn read_member_body(req: Request) -> Result<Vec<String>, Response> {
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let ct = match ct.find(';') {
        Some(i) => ct[..i].trim().to_lowercase(),
        None => ct,
    };
    if ct != "application/json" {
        return Err(http_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Bad Content-Type {ct}, accept application/json"),
        ));
    }
    let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BYTES)
        .await
        .map_err(|e| http_error(StatusCode::BAD_REQUEST, &e.to_string()))?;
    peer_urls_from_json(&bytes)
        .and_then(|urls| check_urls(&urls))
        .map_err(|e| http_error(StatusCode::BAD_REQUEST, &e))
}

fn membership_error(e: MembershipError) -> Response {
    let status = match e {
        MembershipError::NotFound(_) => StatusCode::NOT_FOUND,
        MembershipError::Removed(_) => StatusCode::GONE,
        MembershipError::IdExists | MembershipError::PeerUrlExists => StatusCode::CONFLICT,
        MembershipError::Unhealthy
        | MembershipError::NotEnoughStarted
        | MembershipError::IdRemoved
        | MembershipError::Internal(_) => {
            // etcd logs any other error (a timeout too) and answers a
            // plain 500 (`etcdhttp.WriteError`).
            tracing::warn!("v2 response error: {e}");
            return http_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    http_error(status, &e.to_string())
}

/// etcd's `getID` with no ID in the path: Go's `http.Error` 405, without
/// an `Allow` header.
fn no_member_id() -> Response {
    go_http_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

fn parse_member_id(s: &str) -> Result<u64, Response> {
    u64::from_str_radix(s, 16)
        .map_err(|_| http_error(StatusCode::NOT_FOUND, &format!("No such member: {s}")))
}

pub(crate) async fn members(st: GatewayState, req: Request, rest: &str) -> Response {
    if let Some(r) = allow(&req, &["GET", "POST", "DELETE", "PUT"]) {
        return r;
    }
    // With v2 auth on, etcd lets only root change the membership.
    let sec = AuthStore::new(st.kv.clone());
    if !has_write_root_access(&sec, req.method(), req.headers()).await {
        // Read off the connection, not to have the refusal reset.
        let _ = read_body(req).await;
        return no_credentials();
    }
    let r = match *req.method() {
        Method::GET => match rest {
            "" => match st.cluster.members().await {
                Ok(ms) => {
                    // A struct, not `json!`, to keep etcd's field order.
                    #[derive(serde::Serialize)]
                    struct Members {
                        members: Vec<concord_api::Member>,
                    }
                    let mut b = serde_json::to_vec(&Members { members: ms }).unwrap_or_default();
                    b.push(b'\n');
                    json_response(StatusCode::OK, b)
                }
                Err(e) => GatewayError::from(e).into_response(),
            },
            "leader" => match st.cluster.leader().await {
                Ok(Some(m)) => {
                    let mut b = serde_json::to_vec(&m).unwrap_or_default();
                    b.push(b'\n');
                    json_response(StatusCode::OK, b)
                }
                _ => http_error(StatusCode::SERVICE_UNAVAILABLE, "During election"),
            },
            _ => http_error(StatusCode::NOT_FOUND, "Not found"),
        },
        Method::POST => match read_member_body(req).await {
            Err(r) => r,
            Ok(urls) => match st.cluster.add_member(urls).await {
                Ok(m) => {
                    let mut b = serde_json::to_vec(&m).unwrap_or_default();
                    b.push(b'\n');
                    json_response(StatusCode::CREATED, b)
                }
                Err(e) => membership_error(e),
            },
        },
        Method::DELETE => {
            if rest.is_empty() {
                return with_cluster_id(no_member_id(), &st);
            }
            match parse_member_id(rest) {
                Err(r) => r,
                Ok(id) => match st.cluster.remove_member(id).await {
                    Ok(()) => StatusCode::NO_CONTENT.into_response(),
                    Err(e) => membership_error(e),
                },
            }
        }
        _ => {
            if rest.is_empty() {
                return with_cluster_id(no_member_id(), &st);
            }
            match parse_member_id(rest) {
                Err(r) => r,
                Ok(id) => match read_member_body(req).await {
                    Err(r) => r,
                    Ok(urls) => match st.cluster.update_member(id, urls).await {
                        Ok(()) => StatusCode::NO_CONTENT.into_response(),
                        Err(e) => membership_error(e),
                    },
                },
            }
        }
    };
    with_cluster_id(r, &st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_urls() {
        assert!(check_urls(&[]).is_err());
        assert!(check_urls(&["not a url".into()])
            .unwrap_err()
            .starts_with("URL scheme"));
        assert!(check_urls(&["http://10.0.0.1".into()])
            .unwrap_err()
            .contains("host:port"));
        assert!(check_urls(&["http://10.0.0.1:2380/x".into()])
            .unwrap_err()
            .contains("path"));
        assert_eq!(
            check_urls(&["HTTP://10.0.0.1:2380".into()]).unwrap(),
            ["http://10.0.0.1:2380"]
        );
    }
}
