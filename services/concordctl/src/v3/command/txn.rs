//! `txn` (`txn_command.go`): compares, success requests and failure
//! requests read from stdin, each block ended by an empty line; `-i`
//! prompts for each block. Compares read as `fmt.Sscanf`'s
//! `%q) %s %q`; requests are `get`, `put` and `del` command lines split
//! as etcdctl's `argify` splits them and parsed with those commands'
//! flags. The transaction has no deadline, as etcdctl gives it none.

use std::io::BufRead;

use concord_rpc::etcd::etcdserverpb::{compare, request_op, Compare, RequestOp, TxnRequest};
use concord_store::go;

use super::kv::{delete_request, put_request, range_request};
use crate::v3::cli::parse::parse_local;
use crate::v3::cli::spec::{Command, DEL, GET, PUT};
use crate::v3::cli::Parsed;
use crate::v3::client::{self, Retry};
use crate::v3::exit::{
    Fail, Outcome, EXIT_BAD_ARGS, EXIT_BAD_CONNECTION, EXIT_ERROR, EXIT_INVALID_INPUT,
};
use crate::v3::globals::session;
use crate::v3::printer;

pub fn run(mut p: Parsed) -> Outcome {
    if !p.args.is_empty() {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "txn command does not accept argument",
        ));
    }
    let interactive = p.bool("interactive");
    let s = session(&mut p)?;
    let stdin = std::io::stdin();
    let mut reader = stdin.lock();
    let prompt = |text: &str| {
        if interactive {
            println!("{text}");
        }
    };
    prompt("compares:");
    let compares = read_compares(&mut reader)?;
    prompt("success requests (get, put, del):");
    let success = read_ops(&mut reader)?;
    prompt("failure requests (get, put, del):");
    let failure = read_ops(&mut reader)?;
    let req = TxnRequest {
        compare: compares,
        success,
        failure,
    };
    let resp = s
        .client
        .unary(None, Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::kv(ch).txn(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::txn(s.writer, &resp)
}

/// One line, trimmed; `Err` (`EOF`) when the input ends before its
/// newline, as Go's `ReadString('\n')`.
fn read_line(r: &mut impl BufRead) -> Result<String, Fail> {
    let mut buf = Vec::new();
    match r.read_until(b'\n', &mut buf) {
        Ok(_) if buf.ends_with(b"\n") => Ok(String::from_utf8_lossy(&buf).trim().to_string()),
        Ok(_) => Err(Fail::new(EXIT_INVALID_INPUT, "EOF")),
        Err(e) => Err(Fail::new(EXIT_INVALID_INPUT, e.to_string())),
    }
}

fn read_compares(r: &mut impl BufRead) -> Result<Vec<Compare>, Fail> {
    let mut out = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            return Ok(out);
        }
        out.push(parse_compare(&line).map_err(|e| Fail::new(EXIT_INVALID_INPUT, e))?);
    }
}

fn read_ops(r: &mut impl BufRead) -> Result<Vec<RequestOp>, Fail> {
    let mut out = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            return Ok(out);
        }
        out.push(parse_request(&line)?);
    }
}

/// etcdctl's `parseRequestUnion`: a `get`, `put` or `del` command line
/// (a unique prefix names the command, as cobra allows).
fn parse_request(line: &str) -> Result<RequestOp, Fail> {
    let args = argify(line)?;
    if args.len() < 2 {
        return Err(Fail::new(
            EXIT_INVALID_INPUT,
            format!("invalid txn compare request: {line}"),
        ));
    }
    let invalid = || Fail::new(EXIT_INVALID_INPUT, format!("invalid txn request: {line}"));
    let commands: [&'static Command; 3] = [&PUT, &GET, &DEL];
    let name = &args[0];
    let cmd = commands
        .iter()
        .find(|c| c.name == name)
        .or_else(|| {
            let mut m = commands
                .iter()
                .filter(|c| c.name.starts_with(name.as_str()));
            match (m.next(), m.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        })
        .ok_or_else(invalid)?;
    let parsed = parse_local(cmd, &args[1..]).map_err(|_| invalid())?;
    let request = match cmd.name {
        "put" => request_op::Request::RequestPut(put_request(&parsed, None)?),
        "get" => request_op::Request::RequestRange(range_request(&parsed)?),
        _ => request_op::Request::RequestDeleteRange(delete_request(&parsed)?),
    };
    Ok(RequestOp {
        request: Some(request),
    })
}

/// etcdctl's `parseCompare`: `<target>("<key>") <op> "<value>"`.
fn parse_compare(line: &str) -> Result<Compare, String> {
    let Some((target, rest)) = line.split_once('(') else {
        return Err(format!("malformed comparison: {line}"));
    };
    let mut scan = Scan { s: rest };
    let key = scan.quoted();
    let op = key.as_ref().ok().and_then(|_| {
        scan.skip_spaces();
        scan.literal(')').then(|| scan.word())
    });
    let val = op.as_ref().map(|_| scan.quoted());
    let (key, op, val) = match (key, op, val) {
        (Ok(k), Some(o), Some(Ok(v))) if !o.is_empty() => (k, o, v),
        (k, o, v) => {
            let key = k.unwrap_or_default();
            let op = o.unwrap_or_default();
            let val = v.and_then(Result::ok).unwrap_or_default();
            return Err(format!(
                "malformed comparison: {line}; got {target}({}) {op} {}",
                go::quote(&key),
                go::quote(&val)
            ));
        }
    };
    // Compare.CompareResult: EQUAL 0, GREATER 1, LESS 2, NOT_EQUAL 3.
    let result = match op.as_str() {
        "=" => 0,
        ">" => 1,
        "<" => 2,
        "!=" => 3,
        _ => return Err(format!("malformed comparison: {line} (Unknown result op)")),
    };
    let invalid = || format!("invalid txn compare request: {line}");
    let int = || val.parse::<i64>().map_err(|_| invalid());
    // Compare.CompareTarget: VERSION 0, CREATE 1, MOD 2, VALUE 3, LEASE 4.
    let (target_code, union) = match target {
        "ver" | "version" => (0, compare::TargetUnion::Version(int()?)),
        "c" | "create" => (1, compare::TargetUnion::CreateRevision(int()?)),
        "m" | "mod" => (2, compare::TargetUnion::ModRevision(int()?)),
        "val" | "value" => (3, compare::TargetUnion::Value(val.clone().into_bytes())),
        // etcdctl 3.4 builds a lease compare it cannot give a value to
        // (clientv3 panics on the string); no request is sent either way.
        "lease" => return Err(format!("malformed comparison: {line} (bad compare value)")),
        _ => {
            return Err(format!(
                "malformed comparison: {line} (unknown target {target})"
            ))
        }
    };
    Ok(Compare {
        result,
        target: target_code,
        key: key.into_bytes(),
        range_end: Vec::new(),
        target_union: Some(union),
    })
}

/// Just enough of `fmt.Sscanf` for `%q) %s %q`.
struct Scan<'a> {
    s: &'a str,
}

impl Scan<'_> {
    fn skip_spaces(&mut self) {
        self.s = self.s.trim_start_matches([' ', '\t', '\r', '\n']);
    }

    fn literal(&mut self, c: char) -> bool {
        match self.s.strip_prefix(c) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }

    fn word(&mut self) -> String {
        self.skip_spaces();
        let end = self.s.find(char::is_whitespace).unwrap_or(self.s.len());
        let w = self.s[..end].to_string();
        self.s = &self.s[end..];
        w
    }

    /// A Go quoted string (`"..."` with escapes, or a raw `` `...` ``).
    fn quoted(&mut self) -> Result<String, ()> {
        self.skip_spaces();
        let (q, end) = quoted_prefix(self.s).ok_or(())?;
        self.s = &self.s[end..];
        Ok(q)
    }
}

/// The Go string literal at the start of `s`, unquoted, and its length.
fn quoted_prefix(s: &str) -> Option<(String, usize)> {
    if let Some(rest) = s.strip_prefix('`') {
        let end = rest.find('`')?;
        return Some((rest[..end].to_string(), end + 2));
    }
    let rest = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 2)),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        let v = u32::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from_u32(v)?);
                    }
                    _ => return None,
                }
            }
            '\n' => return None,
            c => out.push(c),
        }
    }
    None
}

/// etcdctl's `argify`: words, `"double quoted"` strings (unquoted as Go
/// literals) and `'single quoted'` ones, as its regular expression
/// `"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?` finds them.
pub fn argify(s: &str) -> Result<Vec<String>, Fail> {
    let mut raw: Vec<(&str, char)> = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i..].chars().next().expect("in bounds");
        if c == '"' {
            if let Some(len) = double_quoted_len(&s[i..]) {
                raw.push((&s[i..i + len], '"'));
                i += len;
                continue;
            }
        } else if c == '\'' {
            if let Some(end) = s[i + 1..].find('\'') {
                raw.push((&s[i..i + end + 2], '\''));
                i += end + 2;
                continue;
            }
        } else if !c.is_whitespace() {
            let end = s[i..].find(char::is_whitespace).map_or(s.len(), |e| i + e);
            raw.push((&s[i..end], 'w'));
            i = end;
            continue;
        }
        i += c.len_utf8();
    }
    let n = raw.len();
    raw.into_iter()
        .map(|(tok, kind)| match kind {
            // etcdctl slices a single-quoted word by the number of words
            // (`args[i][1 : len(args)-1]`), not by its own length.
            '\'' => tok
                .get(1..n.saturating_sub(1).max(1))
                .map(String::from)
                .ok_or_else(|| {
                    Fail::new(
                        EXIT_BAD_CONNECTION,
                        "runtime error: slice bounds out of range",
                    )
                }),
            '"' => quoted_prefix(tok)
                .map(|(v, _)| v)
                .ok_or_else(|| Fail::new(EXIT_INVALID_INPUT, "invalid syntax")),
            _ => Ok(tok.to_string()),
        })
        .collect()
}

/// The length of a `"..."` token with backslash escapes, if closed.
fn double_quoted_len(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_read_as_etcdctl() {
        let c = parse_compare("value(\"foo\") = \"baz\"").unwrap();
        assert_eq!(c.key, b"foo");
        assert_eq!(c.target, 3);
        assert_eq!(c.result, 0);
        let c = parse_compare("mod(\"foo\") < \"2\"").unwrap();
        assert_eq!(c.target_union, Some(compare::TargetUnion::ModRevision(2)));
        assert!(parse_compare("nope").is_err());
    }

    #[test]
    fn requests_read_as_etcdctl() {
        let op = parse_request("put foo qux").unwrap();
        match op.request {
            Some(request_op::Request::RequestPut(p)) => {
                assert_eq!(p.key, b"foo");
                assert_eq!(p.value, b"qux");
            }
            other => panic!("{other:?}"),
        }
        let op = parse_request("get \"a b\" --prefix").unwrap();
        match op.request {
            Some(request_op::Request::RequestRange(r)) => {
                assert_eq!(r.key, b"a b");
                assert_eq!(r.range_end, b"a c");
            }
            other => panic!("{other:?}"),
        }
    }
}
