//! The members API (`httpMembersAPI`): list, leader, add, remove, update,
//! with the Go client's checks of the peer URLs (etcd's `types.NewURLs`)
//! and its errors.

use std::time::Instant;

use serde::Deserialize;
use serde_json::Value;

use super::go_json::{marshal, syntax_error};
use super::{Action, Client, Error};
use crate::http::{self, parse_url};

#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "peerURLs", default)]
    pub peer_urls: Vec<String>,
    #[serde(rename = "clientURLs", default)]
    pub client_urls: Vec<String>,
}

/// etcd's `types.NewURLs`: validated and sorted peer URLs (also what
/// v3's `snapshot restore` checks its URLs with).
pub(crate) fn new_urls(strs: &[&str]) -> Result<Vec<String>, String> {
    if strs.is_empty() {
        return Err("no valid URLs given".into());
    }
    let mut out = Vec::new();
    for s in strs {
        let s = s.trim();
        let u = parse_url(s)?;
        if !matches!(u.scheme.as_str(), "http" | "https" | "unix" | "unixs") {
            return Err(format!(
                "URL scheme must be http, https, unix, or unixs: {s}"
            ));
        }
        let host_port_ok = if let Some(rest) = u.host.strip_prefix('[') {
            rest.split_once(']')
                .is_some_and(|(_, tail)| tail.starts_with(':') && !tail[1..].contains(':'))
        } else {
            u.host
                .split_once(':')
                .is_some_and(|(_, port)| !port.contains(':'))
        };
        if !host_port_ok {
            return Err(format!(
                "URL address does not have the form \"host:port\": {s}"
            ));
        }
        if !u.path.is_empty() {
            return Err(format!("URL must not contain a path: {s}"));
        }
        out.push(u.to_string());
    }
    out.sort();
    Ok(out)
}

/// A JSON answer decoded, or Go's syntax error.
fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|_| Error::raw(syntax_error(body)))
}

/// A members error answer: its `message`.
fn message(body: &[u8]) -> Error {
    match decode::<Value>(body) {
        Ok(v) => Error::raw(v["message"].as_str().unwrap_or("")),
        Err(e) => e,
    }
}

fn unexpected(status: u16) -> Error {
    Error::raw(format!("unexpected status code {status}"))
}

/// The body of an add or update: `{"peerURLs":[...]}`.
fn peer_urls_body(urls: &[&str]) -> Result<String, Error> {
    let urls = new_urls(urls).map_err(Error::raw)?;
    Ok(marshal(&serde_json::json!({ "peerURLs": urls })))
}

impl Client {
    /// A GET of the members API whose answer must be 200.
    fn members_get(&mut self, suffix: &str, ctx: Option<Instant>) -> Result<http::Response, Error> {
        let resp = self.call(&Action::members("GET", suffix, None), ctx, false)?;
        match resp.status {
            200 => Ok(resp),
            s => Err(unexpected(s)),
        }
    }

    /// `httpMembersAPI.List`.
    pub fn members(&mut self, ctx: Option<Instant>) -> Result<Vec<Member>, Error> {
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            members: Option<Vec<Member>>,
        }
        let resp = self.members_get("", ctx)?;
        let list: List = decode(&resp.body)?;
        Ok(list.members.unwrap_or_default())
    }

    /// `httpMembersAPI.Leader`.
    pub fn leader(&mut self, ctx: Option<Instant>) -> Result<Member, Error> {
        let resp = self.members_get("leader", ctx)?;
        decode(&resp.body)
    }

    /// `httpMembersAPI.Add`.
    pub fn add_member(&mut self, ctx: Option<Instant>, peer_url: &str) -> Result<Member, Error> {
        let body = peer_urls_body(&[peer_url])?;
        let resp = self.call(&Action::members("POST", "", Some(body)), ctx, false)?;
        match resp.status {
            201 => decode(&resp.body),
            409 => Err(message(&resp.body)),
            s => Err(unexpected(s)),
        }
    }

    /// `httpMembersAPI.Remove`.
    pub fn remove_member(&mut self, ctx: Option<Instant>, id: &str) -> Result<(), Error> {
        let resp = self.call(&Action::members("DELETE", id, None), ctx, false)?;
        match resp.status {
            204 | 410 => Ok(()),
            s => Err(unexpected(s)),
        }
    }

    /// `httpMembersAPI.Update`.
    pub fn update_member(
        &mut self,
        ctx: Option<Instant>,
        id: &str,
        urls: &[&str],
    ) -> Result<(), Error> {
        let body = peer_urls_body(urls)?;
        let resp = self.call(&Action::members("PUT", id, Some(body)), ctx, false)?;
        match resp.status {
            204 => Ok(()),
            404 | 409 => Err(message(&resp.body)),
            s => Err(unexpected(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_urls_are_validated_and_sorted() {
        assert_eq!(
            new_urls(&["http://b:2", "http://a:1"]).unwrap(),
            vec!["http://a:1", "http://b:2"]
        );
        assert_eq!(
            new_urls(&["notaurl"]).unwrap_err(),
            "URL scheme must be http, https, unix, or unixs: notaurl"
        );
        assert_eq!(
            new_urls(&["http://a"]).unwrap_err(),
            "URL address does not have the form \"host:port\": http://a"
        );
        assert_eq!(
            new_urls(&["http://a:1/p"]).unwrap_err(),
            "URL must not contain a path: http://a:1/p"
        );
    }

    #[test]
    fn member_errors_are_the_go_clients() {
        assert_eq!(
            message(br#"{"message":"Member not found"}"#).text(),
            "Member not found"
        );
        assert_eq!(
            message(b"oops").text(),
            "invalid character 'o' looking for beginning of value"
        );
        assert_eq!(unexpected(500).text(), "unexpected status code 500");
    }
}
