//! Go's standard library where etcd's behaviour rests on it, in one place:
//! `path.Clean` and `path.Join`, `net/http`'s `cleanPath`, `url`'s
//! unescaping and `ParseQuery`, `time.ParseDuration` and
//! `strconv.ParseBool`. The store, the gateway, discovery and concordctl
//! all answer as etcd does only if they read paths, queries, durations and
//! booleans exactly as Go does, so each of these is written once, here,
//! with Go's own cases as its tests.

/// Go's `path.Clean`: collapses `//`, `.` and `..` (a rooted path cannot
/// climb above `/`); `""` is `"."`.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    clean_segments(p, p.starts_with('/'))
}

/// Go's `path.Clean("/" + p)`, without building `"/" + p`: the store's
/// keys are always rooted.
pub fn clean_rooted(p: &str) -> String {
    clean_segments(p, true)
}

fn clean_segments(p: &str, rooted: bool) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(p.len() + 1);
    for (i, s) in parts.iter().enumerate() {
        if rooted || i > 0 {
            out.push('/');
        }
        out.push_str(s);
    }
    if out.is_empty() {
        out.push(if rooted { '/' } else { '.' });
    }
    out
}

/// Go's `path.Join` of two elements (empty ones are left out).
pub fn join(a: &str, b: &str) -> String {
    let joined = match (a.is_empty(), b.is_empty()) {
        (true, true) => return String::new(),
        (true, false) => b.to_string(),
        (false, true) => a.to_string(),
        (false, false) => format!("{a}/{b}"),
    };
    clean(&joined)
}

/// `net/http`'s `cleanPath` (and etcd's `pathutil.CanonicalURLPath`, the
/// same function): rooted, cleaned, a trailing slash kept.
pub fn clean_url_path(p: &str) -> String {
    if p.is_empty() {
        return "/".into();
    }
    let mut np = clean_rooted(p);
    if p.ends_with('/') && np != "/" {
        np.push('/');
    }
    np
}

/// Go's `url` unescaping of one component: `%XX` escapes, and `+` as a
/// space in a query (`plus_is_space`). The error is Go's `EscapeError`
/// wording: `invalid URL escape "%zz"`.
fn unescape(s: &str, plus_is_space: bool) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (
                    b.get(i + 1).and_then(|c| hex(*c)),
                    b.get(i + 2).and_then(|c| hex(*c)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(b.len());
                        return Err(format!(
                            "invalid URL escape {:?}",
                            String::from_utf8_lossy(&b[i..end])
                        ));
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Go's `url.PathUnescape` (what `r.URL.Path` holds): `None` on a bad
/// escape or on bytes that are not UTF-8.
pub fn path_unescape(s: &str) -> Option<String> {
    String::from_utf8(unescape(s, false).ok()?).ok()
}

/// Go's `url.QueryUnescape` for one component (`+` is a space).
pub fn query_unescape(s: &str) -> Result<String, String> {
    Ok(String::from_utf8_lossy(&unescape(s, true)?).into_owned())
}

/// Go's `url.ParseQuery`, appending the pairs to `into` in order (a `;` is
/// an error since Go 1.17).
pub fn parse_query(q: &str, into: &mut Vec<(String, String)>) -> Result<(), String> {
    for part in q.split('&') {
        if part.is_empty() {
            continue;
        }
        if part.contains(';') {
            return Err("invalid semicolon separator in query".into());
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        into.push((query_unescape(k)?, query_unescape(v)?));
    }
    Ok(())
}

/// Go's `time.ParseDuration`: a signed sequence of decimal numbers, each
/// with an optional fraction and a unit (`300ms`, `-1.5h`, `2h45m`); `0`
/// needs no unit. The answer is Go's `time.Duration`: nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    parse_duration_units(s, false)
}

/// [`parse_duration`] with `d` (24h) as one more unit, for flags that take
/// days (`--token-ttl 7d`).
pub fn parse_duration_with_days(s: &str) -> Result<i64, String> {
    parse_duration_units(s, true)
}

const OVERFLOW: u64 = 1 << 63;

fn duration_unit(u: &str, days: bool) -> Option<u64> {
    Some(match u {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" if days => 86_400_000_000_000,
        _ => return None,
    })
}

/// Go's algorithm, step for step: integers exact, the fraction scaled in
/// floating point, anything past `1<<63` ns an error.
fn parse_duration_units(orig: &str, days: bool) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(orig));
    let mut s = orig;
    let mut neg = false;
    if let Some(c) = s.chars().next() {
        if c == '-' || c == '+' {
            neg = c == '-';
            s = &s[1..];
        }
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        let first = s.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        // The integer part.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let mut v: u64 = 0;
        for c in s[..int_len].bytes() {
            if v > OVERFLOW / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > OVERFLOW {
                return Err(invalid());
            }
        }
        let pre = int_len > 0;
        s = &s[int_len..];
        // The fraction: digits past what fits are dropped.
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for c in rest[..frac_len].bytes() {
                if overflow {
                    continue;
                }
                if f > (OVERFLOW - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > OVERFLOW {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = frac_len > 0;
            s = &rest[frac_len..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        // The unit.
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", quote(orig)));
        }
        let u = &s[..unit_len];
        s = &s[unit_len..];
        let Some(unit) = duration_unit(u, days) else {
            return Err(format!(
                "time: unknown unit {} in duration {}",
                quote(u),
                quote(orig)
            ));
        };
        if v > OVERFLOW / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > OVERFLOW {
                return Err(invalid());
            }
        }
        d += v;
        if d > OVERFLOW {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > OVERFLOW - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

/// Go's `strconv.Quote` (what `%q` prints).
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.ParseBool`: the spellings etcd accepts for a boolean flag
/// (`--strict-reconfig-check=T`) and a v2 query parameter (`?dir=1`).
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_as_go() {
        // Go's path.Clean tests (src/path/path_test.go).
        for (p, want) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("//abc", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("a//b/../c/.", "a/c"),
            ("/..", "/"),
            ("a/../..", ".."),
        ] {
            assert_eq!(clean(p), want, "Clean({p:?})");
        }
        assert_eq!(clean_rooted(""), "/");
        assert_eq!(clean_rooted("a//b/../c/."), "/a/c");
        assert_eq!(clean_rooted("../a"), "/a");
    }

    #[test]
    fn join_and_url_paths_as_go() {
        assert_eq!(join("/", "/v2/members"), "/v2/members");
        assert_eq!(join("/v2/members", "abc"), "/v2/members/abc");
        assert_eq!(join("", ""), "");
        assert_eq!(clean_url_path("//v2/keys//a/../b/"), "/v2/keys/b/");
        assert_eq!(clean_url_path("/v2/keys/"), "/v2/keys/");
        assert_eq!(clean_url_path("/v2/keys/./a/../b"), "/v2/keys/b");
        assert_eq!(clean_url_path("/"), "/");
        assert_eq!(clean_url_path(""), "/");
        assert_eq!(clean_url_path("a/"), "/a/");
    }

    #[test]
    fn unescape_as_go() {
        assert_eq!(path_unescape("/a%20b+c").as_deref(), Some("/a b+c"));
        assert_eq!(path_unescape("%2F%2f"), Some("//".into()));
        assert_eq!(path_unescape("%zz"), None);
        assert_eq!(path_unescape("%4"), None);
        assert_eq!(path_unescape("%+1"), None);
        assert_eq!(path_unescape("%ff"), None);
        assert_eq!(query_unescape("a%20b+c").unwrap(), "a b c");
        assert_eq!(
            query_unescape("x%zz").unwrap_err(),
            r#"invalid URL escape "%zz""#
        );
        assert_eq!(
            query_unescape("%4").unwrap_err(),
            r#"invalid URL escape "%4""#
        );
        let mut v = Vec::new();
        parse_query("a=1&&b&c=%41", &mut v).unwrap();
        let want = [("a", "1"), ("b", ""), ("c", "A")];
        assert_eq!(
            v,
            want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
        );
        assert_eq!(
            parse_query("a=1;b=2", &mut v).unwrap_err(),
            "invalid semicolon separator in query"
        );
    }

    #[test]
    fn durations_as_go() {
        const S: i64 = 1_000_000_000;
        for (s, want) in [
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("5s", 5 * S),
            ("30s", 30 * S),
            ("1478s", 1478 * S),
            ("-5s", -5 * S),
            ("+5s", 5 * S),
            ("-0s", 0),
            ("5.0s", 5 * S),
            ("5.6s", 5 * S + 600_000_000),
            ("5.s", 5 * S),
            (".5s", S / 2),
            ("1.0s", S),
            ("1.00s", S),
            ("1.004s", S + 4_000_000),
            ("1.0040s", S + 4_000_000),
            ("100.00100s", 100 * S + 1_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000),
            ("12μs", 12_000),
            ("13ms", 13_000_000),
            ("14s", 14 * S),
            ("15m", 15 * 60 * S),
            ("16h", 16 * 3600 * S),
            ("3h30m", (3 * 3600 + 30 * 60) * S),
            ("10.5s4m", 4 * 60 * S + 10 * S + S / 2),
            ("-2m3.4s", -(2 * 60 * S + 3 * S + 400_000_000)),
            (
                "1h2m3s4ms5us6ns",
                3600 * S + 2 * 60 * S + 3 * S + 4_000_000 + 5_000 + 6,
            ),
            ("39h9m14.425s", (39 * 3600 + 9 * 60 + 14) * S + 425_000_000),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * 60 * S),
            ("9007199254740993ns", (1 << 53) + 1),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("0.100000000000000000000h", 6 * 60 * S),
            ("1h2m3.5s", 3600 * S + 2 * 60 * S + 3 * S + S / 2),
            ("-1.5h", -(5400 * S)),
            ("300ms", 300_000_000),
            ("2h45m", (2 * 3600 + 45 * 60) * S),
            ("2.3s", 2_300_000_000),
        ] {
            assert_eq!(parse_duration(s), Ok(want), "ParseDuration({s:?})");
        }
        for s in [
            "",
            "3",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "9223372036854775808ns",
            "-9223372036854775809ns",
            "1x",
        ] {
            assert!(parse_duration(s).is_err(), "ParseDuration({s:?})");
        }
        assert_eq!(
            parse_duration("").unwrap_err(),
            r#"time: invalid duration """#
        );
        assert_eq!(
            parse_duration("1").unwrap_err(),
            r#"time: missing unit in duration "1""#
        );
        assert_eq!(
            parse_duration("1x").unwrap_err(),
            r#"time: unknown unit "x" in duration "1x""#
        );
        assert_eq!(parse_duration_with_days("1d12h"), Ok(36 * 3600 * S));
    }

    #[test]
    fn quote_as_go() {
        assert_eq!(quote("{\"a\":[\"b\"]}"), "\"{\\\"a\\\":[\\\"b\\\"]}\"");
        assert_eq!(quote("é\n"), "\"é\\n\"");
    }

    #[test]
    fn bools_as_go() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        for bad in ["", "yes", "tRUE", "2", " true"] {
            assert_eq!(parse_bool(bad), None);
        }
    }
}
