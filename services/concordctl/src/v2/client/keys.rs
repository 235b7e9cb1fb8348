//! The keys API (`httpKeysAPI`): a `/v2/keys` call and its answer as
//! `unmarshalHTTPResponse` reads it; a v2 error becomes `100: Key not
//! found (/a) [12]`.

use std::time::Instant;

use concord_store::go;
use serde_json::Value;

use super::error::EMPTY_BODY;
use super::{Action, Client, Error};
use crate::http;

/// A keys answer: the event JSON and the `X-Etcd-Index` header.
#[derive(Debug)]
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
    pub fn action(&self) -> &str {
        self.body["action"].as_str().unwrap_or("")
    }
}

const INVALID: &str =
    "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint";

/// `unmarshalSuccessfulKeysResponse`.
fn success(resp: &http::Response) -> Result<KeysResponse, Error> {
    if resp.body.is_empty() {
        return Err(Error::raw(EMPTY_BODY));
    }
    let body: Value = serde_json::from_slice(&resp.body).map_err(|_| Error::raw(INVALID))?;
    let index = match resp.header("X-Etcd-Index") {
        Some(v) if !v.is_empty() => v.parse().map_err(|_| {
            Error::raw(format!(
                "strconv.ParseUint: parsing {}: invalid syntax",
                go::quote(v)
            ))
        })?,
        _ => 0,
    };
    Ok(KeysResponse { body, index })
}

/// `unmarshalFailedKeysResponse`: the v2 error as etcd's `Error()`.
fn failure(resp: &http::Response) -> Error {
    let v = match serde_json::from_slice::<Value>(&resp.body) {
        Ok(v) if v.is_object() || v.is_null() => v,
        _ => return Error::raw(INVALID),
    };
    Error::raw(format!(
        "{}: {} ({}) [{}]",
        v["errorCode"].as_i64().unwrap_or(0),
        v["message"].as_str().unwrap_or(""),
        v["cause"].as_str().unwrap_or(""),
        v["index"].as_u64().unwrap_or(0)
    ))
}

impl Client {
    /// A `/v2/keys` call and `unmarshalHTTPResponse`.
    pub fn keys(
        &mut self,
        act: &Action,
        ctx: Option<Instant>,
        one_shot: bool,
    ) -> Result<KeysResponse, Error> {
        let resp = self.call(act, ctx, one_shot)?;
        match resp.status {
            200 | 201 => success(&resp),
            _ => Err(failure(&resp)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, index: &str, body: &str) -> http::Response {
        http::Response {
            status,
            headers: vec![("x-etcd-index".into(), index.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn answers_and_errors_read_as_the_go_client() {
        let ok = success(&answer(200, "7", r#"{"action":"get"}"#)).unwrap();
        assert_eq!((ok.action(), ok.index), ("get", 7));
        assert!(success(&answer(200, "7", "")).unwrap_err().is_empty_body());
        assert_eq!(
            success(&answer(200, "x", "{}")).unwrap_err().text(),
            "strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        let e = failure(&answer(
            404,
            "",
            r#"{"errorCode":100,"message":"Key not found","cause":"/a","index":12}"#,
        ));
        assert_eq!(e.text(), "100: Key not found (/a) [12]");
        assert_eq!(failure(&answer(404, "", "[1]")).text(), INVALID);
    }
}
