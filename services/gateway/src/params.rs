//! etcd's `parseKeyRequest`: the form (body first, then query, as Go's
//! `ParseForm`), the typed parameters and their exact error answers.

use concord_store::go::{parse_bool, parse_query};
use concord_store::{Error, ErrorCode};

/// Decoded `key=value` pairs in Go's `r.Form` order.
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Builds the form from the form body (if any) and the query string.
    pub fn parse(body: Option<&str>, query: Option<&str>) -> Result<Form, String> {
        let mut v = Vec::new();
        let mut first_err = None;
        if let Some(b) = body {
            if let Err(e) = parse_query(b, &mut v) {
                first_err = Some(e);
            }
        }
        if let Some(q) = query {
            if let Err(e) = parse_query(q, &mut v) {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(Form(v)),
        }
    }

    /// The first value of `key` (Go's `r.Form[key][0]`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Go's `r.FormValue`: the first value or "".
    pub fn value(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }
}

/// A parameter error: etcd answers these with index 0.
fn req_err(code: ErrorCode, cause: &str) -> Error {
    Error::new(code, cause, 0)
}

/// Every parameter of a `/v2/keys` request.
#[derive(Debug, Default, Clone)]
pub struct KeyParams {
    pub value: String,
    pub dir: bool,
    pub prev_value: String,
    pub prev_index: u64,
    pub prev_exist: Option<bool>,
    pub wait: bool,
    pub wait_index: u64,
    pub recursive: bool,
    pub sorted: bool,
    pub quorum: bool,
    pub stream: bool,
    pub no_value_on_success: bool,
    pub ttl: Option<u64>,
    pub refresh: bool,
}

fn get_u64(form: &Form, key: &str, code: ErrorCode, cause: &str) -> Result<u64, Error> {
    match form.get(key) {
        None => Ok(0),
        Some(v) => v.parse::<u64>().map_err(|_| req_err(code, cause)),
    }
}

fn get_bool(form: &Form, key: &str, cause: &str) -> Result<bool, Error> {
    match form.get(key) {
        None => Ok(false),
        Some(v) => parse_bool(v).ok_or_else(|| req_err(ErrorCode::InvalidField, cause)),
    }
}

impl KeyParams {
    /// The checks of etcd's `parseKeyRequest`, in its order.
    pub fn parse(form: &Form, method: &str) -> Result<KeyParams, Error> {
        let prev_index = get_u64(
            form,
            "prevIndex",
            ErrorCode::IndexNaN,
            r#"invalid value for "prevIndex""#,
        )?;
        let wait_index = get_u64(
            form,
            "waitIndex",
            ErrorCode::IndexNaN,
            r#"invalid value for "waitIndex""#,
        )?;
        let recursive = get_bool(form, "recursive", r#"invalid value for "recursive""#)?;
        let sorted = get_bool(form, "sorted", r#"invalid value for "sorted""#)?;
        let wait = get_bool(form, "wait", r#"invalid value for "wait""#)?;
        let dir = get_bool(form, "dir", r#"invalid value for "dir""#)?;
        let quorum = get_bool(form, "quorum", r#"invalid value for "quorum""#)?;
        let stream = get_bool(form, "stream", r#"invalid value for "stream""#)?;
        if wait && method != "GET" {
            return Err(req_err(
                ErrorCode::InvalidField,
                r#""wait" can only be used with GET requests"#,
            ));
        }
        let prev_value = form.value("prevValue").to_string();
        if form.get("prevValue").is_some() && prev_value.is_empty() {
            return Err(req_err(
                ErrorCode::PrevValueRequired,
                r#""prevValue" cannot be empty"#,
            ));
        }
        let no_value_on_success = get_bool(
            form,
            "noValueOnSuccess",
            r#"invalid value for "noValueOnSuccess""#,
        )?;
        let ttl = if form.value("ttl").is_empty() {
            None
        } else {
            Some(get_u64(
                form,
                "ttl",
                ErrorCode::TtlNaN,
                r#"invalid value for "ttl""#,
            )?)
        };
        let prev_exist =
            match form.get("prevExist") {
                None => None,
                Some(v) => Some(parse_bool(v).ok_or_else(|| {
                    req_err(ErrorCode::InvalidField, "invalid value for prevExist")
                })?),
            };
        let mut refresh = false;
        if let Some(v) = form.get("refresh") {
            refresh = parse_bool(v)
                .ok_or_else(|| req_err(ErrorCode::InvalidField, "invalid value for refresh"))?;
            if refresh {
                if !form.value("value").is_empty() {
                    return Err(req_err(
                        ErrorCode::RefreshValue,
                        "A value was provided on a refresh",
                    ));
                }
                if ttl.is_none() {
                    return Err(req_err(ErrorCode::RefreshTtlRequired, "No TTL value set"));
                }
            }
        }
        Ok(KeyParams {
            value: form.value("value").to_string(),
            dir,
            prev_value,
            prev_index,
            prev_exist,
            wait,
            wait_index,
            recursive,
            sorted,
            quorum,
            stream,
            no_value_on_success,
            ttl,
            refresh,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_before_query_and_escapes() {
        let f = Form::parse(Some("value=a%20b+c&ttl=5"), Some("value=q&x=1")).unwrap();
        assert_eq!(f.get("value"), Some("a b c"));
        assert_eq!(f.get("x"), Some("1"));
        assert_eq!(
            Form::parse(Some("value=%zz"), None).unwrap_err(),
            r#"invalid URL escape "%zz""#
        );
    }

    #[test]
    fn parameter_errors_are_etcds() {
        use ErrorCode::*;
        let p = |q: &str| KeyParams::parse(&Form::parse(None, Some(q)).unwrap(), "PUT");
        for (query, code, cause) in [
            ("ttl=abc", TtlNaN, r#"invalid value for "ttl""#),
            ("prevIndex=-1", IndexNaN, r#"invalid value for "prevIndex""#),
            (
                "prevValue=",
                PrevValueRequired,
                r#""prevValue" cannot be empty"#,
            ),
            (
                "wait=true",
                InvalidField,
                r#""wait" can only be used with GET requests"#,
            ),
            (
                "refresh=true&value=x&ttl=1",
                RefreshValue,
                "A value was provided on a refresh",
            ),
            ("refresh=true", RefreshTtlRequired, "No TTL value set"),
            (
                "prevExist=nope",
                InvalidField,
                "invalid value for prevExist",
            ),
        ] {
            let e = p(query).unwrap_err();
            assert_eq!(
                (e.code, e.cause.as_str(), e.index),
                (code, cause, 0),
                "{query}"
            );
        }
        assert_eq!(p("ttl=").unwrap().ttl, None);
        assert!(p("recursive=T&sorted=0").unwrap().recursive);
    }
}
