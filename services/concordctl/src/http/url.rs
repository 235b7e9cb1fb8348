//! Go's `net/url` as far as etcdctl's requests (and its `--debug` cURL
//! lines) depend on it: `url.Parse` of the endpoint forms, `URL.String()`,
//! path and query escaping, `Values.Encode()`. Unescaping is
//! `concord_store::go`'s, shared with the servers.

use concord_store::go;

/// A URL as Go's `url.Parse` splits the forms etcdctl meets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    /// `localhost:2379` parses as scheme `localhost`, opaque `2379`.
    pub opaque: String,
    /// `host:port` (brackets kept for IPv6).
    pub host: String,
    /// Unescaped path.
    pub path: String,
    /// Already encoded query, without `?`.
    pub query: String,
}

/// Go's `url.Parse`, for the forms endpoint lists contain. The error is
/// worded as Go's (`parse "127.0.0.1:2379": first path segment in URL
/// cannot contain colon`).
pub fn parse_url(raw: &str) -> Result<Url, String> {
    let fail = |why: &str| Err(format!("parse {}: {why}", go::quote(raw)));
    if raw.chars().any(|c| c < ' ' || c == '\x7f') {
        return fail("net/url: invalid control character in URL");
    }
    // The fragment is not part of a request.
    let no_frag = raw.split('#').next().unwrap_or("");
    let (scheme, rest) = match get_scheme(no_frag) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q.to_string()),
        None => (rest, String::new()),
    };
    let mut url = Url {
        scheme: scheme.to_ascii_lowercase(),
        opaque: String::new(),
        host: String::new(),
        path: String::new(),
        query,
    };
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_string();
            return Ok(url);
        }
        let first = rest.split('/').next().unwrap_or("");
        if first.contains(':') {
            return fail("first path segment in URL cannot contain colon");
        }
    }
    let rest = if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        // Credentials in the URL are not used by etcdctl's v2 client.
        url.host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, h)| h)
            .to_string();
        &after[end..]
    } else {
        rest
    };
    url.path = match go::path_unescape(rest) {
        Some(p) => p,
        None => return fail("invalid URL escape"),
    };
    Ok(url)
}

/// Go's `getScheme`.
fn get_scheme(raw: &str) -> Result<(&str, &str), &'static str> {
    for (i, c) in raw.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            ':' => {
                if i == 0 {
                    return Err("missing protocol scheme");
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

impl Url {
    /// The request target of an HTTP/1.1 request line: the escaped path
    /// (rooted) and the query.
    pub fn request_target(&self) -> String {
        let mut target = escape_path(&self.path);
        if !target.starts_with('/') {
            target.insert(0, '/');
        }
        if !self.query.is_empty() {
            target.push('?');
            target.push_str(&self.query);
        }
        target
    }
}

impl std::fmt::Display for Url {
    /// Go's `URL.String()`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        if !self.scheme.is_empty() {
            s.push_str(&self.scheme);
            s.push(':');
        }
        if !self.opaque.is_empty() {
            s.push_str(&self.opaque);
        } else {
            if (!self.scheme.is_empty() || !self.host.is_empty())
                && (!self.host.is_empty() || !self.path.is_empty())
            {
                s.push_str("//");
                s.push_str(&self.host);
            }
            let p = escape_path(&self.path);
            if !p.is_empty() && !p.starts_with('/') && !self.host.is_empty() {
                s.push('/');
            }
            s.push_str(&p);
        }
        if !self.query.is_empty() {
            s.push('?');
            s.push_str(&self.query);
        }
        f.write_str(&s)
    }
}

/// The two of Go's escaping modes (`url.escape`'s `encoding`) etcdctl's
/// requests use.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `encodePath`: a path's reserved characters stay.
    Path,
    /// `encodeQueryComponent`: everything reserved is escaped, a space is `+`.
    QueryComponent,
}

/// Go's `url.escape`: the unreserved characters (and, in a path, the
/// reserved ones that may stand there) as they are, the rest `%XX`.
fn escape(s: &str, mode: Mode) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => true,
            b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@' => mode == Mode::Path,
            _ => false,
        };
        if keep {
            out.push(b as char);
        } else if b == b' ' && mode == Mode::QueryComponent {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Go's escaping of a whole path (`URL.EscapedPath`).
pub fn escape_path(p: &str) -> String {
    escape(p, Mode::Path)
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    escape(s, Mode::QueryComponent)
}

/// Go's `url.Values.Encode()`: sorted by key.
pub fn encode_values(pairs: &[(&str, String)]) -> String {
    let mut v: Vec<&(&str, String)> = pairs.iter().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v.iter()
        .map(|(k, val)| format!("{}={}", query_escape(k), query_escape(val)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_print_as_go_does() {
        let u = parse_url("http://127.0.0.1:2379/").unwrap();
        assert_eq!(u.host, "127.0.0.1:2379");
        assert_eq!(u.to_string(), "http://127.0.0.1:2379/");
        assert_eq!(
            parse_url("127.0.0.1:2379").unwrap_err(),
            "parse \"127.0.0.1:2379\": first path segment in URL cannot contain colon"
        );
        let u = parse_url("localhost:2379").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.opaque.as_str()),
            ("localhost", "2379")
        );
        assert_eq!(u.to_string(), "localhost:2379");
        let mut u = parse_url("myhost").unwrap();
        u.scheme = "http".into();
        assert_eq!(u.to_string(), "http://myhost");
        let mut u = parse_url("http://h:1").unwrap();
        u.path = "/v2/keys/a b/c?d#e%f+g".into();
        assert_eq!(u.to_string(), "http://h:1/v2/keys/a%20b/c%3Fd%23e%25f+g");
    }

    #[test]
    fn request_targets_are_rooted_and_escaped() {
        let mut u = parse_url("http://h:1").unwrap();
        assert_eq!(u.request_target(), "/");
        u.path = "/v2/keys/a b".into();
        u.query = "wait=true".into();
        assert_eq!(u.request_target(), "/v2/keys/a%20b?wait=true");
    }

    #[test]
    fn values_encode_sorted_with_query_escaping() {
        let v = [("value", "a&b=c/d é".to_string()), ("ttl", "5".to_string())];
        assert_eq!(encode_values(&v), "ttl=5&value=a%26b%3Dc%2Fd+%C3%A9");
    }
}
