//! `get`, `put` and `del` (`get_command.go`, `put_command.go`,
//! `del_command.go`): their arguments read into etcd's requests as
//! clientv3's options build them (`WithPrefix`, `WithFromKey`,
//! `WithRange`, `WithSort`...), with etcdctl's argument errors; `txn`
//! reads its request lines through the same functions.

use std::io::Read;

use concord_rpc::etcd::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest};

use crate::v3::cli::Parsed;
use crate::v3::client::{self, Retry};
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_ARGS, EXIT_BAD_FEATURE, EXIT_ERROR};
use crate::v3::globals::session;
use crate::v3::go_text::parse_int;
use crate::v3::printer::{self, Writer};

/// clientv3's `getPrefix`: the first key past every key with `prefix`
/// (`\0`, all keys from the start, when there is none).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(&last) = end.last() {
        if last < 0xff {
            *end.last_mut().expect("non-empty") += 1;
            return end;
        }
        end.pop();
    }
    vec![0]
}

const PREFIX_AND_FROM_KEY: &str =
    "`--prefix` and `--from-key` cannot be set at the same time, choose one";
const TOO_MANY_WITH_PREFIX: &str =
    "too many arguments, only accept one argument when `--prefix` or `--from-key` is set";

/// etcdctl's `getGetOp`.
pub fn range_request(p: &Parsed) -> Result<RangeRequest, Fail> {
    let args = &p.args;
    if args.is_empty() {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "get command needs one argument as key and an optional argument as range_end",
        ));
    }
    let (prefix, from_key) = (p.bool("prefix"), p.bool("from-key"));
    if prefix && from_key {
        return Err(Fail::new(EXIT_BAD_ARGS, PREFIX_AND_FROM_KEY));
    }
    let mut req = RangeRequest::default();
    match p.string("consistency").as_str() {
        "s" => req.serializable = true,
        "l" => {}
        other => {
            return Err(Fail::new(
                EXIT_BAD_FEATURE,
                format!(
                    "unknown consistency flag {}",
                    concord_store::go::quote(other)
                ),
            ))
        }
    }
    req.key = args[0].clone().into_bytes();
    if args.len() > 1 {
        if prefix || from_key {
            return Err(Fail::new(EXIT_BAD_ARGS, TOO_MANY_WITH_PREFIX));
        }
        req.range_end = args[1].clone().into_bytes();
    }
    req.limit = p.int64("limit");
    req.revision = p.int64("rev").max(0);
    // SortOrder: NONE 0, ASCEND 1, DESCEND 2.
    let order_flag = p.string("order");
    let mut order = match order_flag.to_uppercase().as_str() {
        "ASCEND" => 1,
        "DESCEND" => 2,
        "" => 0,
        _ => {
            return Err(Fail::new(
                EXIT_BAD_FEATURE,
                format!("bad sort order {order_flag}"),
            ))
        }
    };
    // SortTarget: KEY 0, VERSION 1, CREATE 2, MOD 3, VALUE 4.
    let target_flag = p.string("sort-by");
    let target = match target_flag.to_uppercase().as_str() {
        "CREATE" => 2,
        "KEY" | "" => 0,
        "MODIFY" => 3,
        "VALUE" => 4,
        "VERSION" => 1,
        _ => {
            return Err(Fail::new(
                EXIT_BAD_FEATURE,
                format!("bad sort target {target_flag}"),
            ))
        }
    };
    // clientv3's WithSort: keys come sorted ascending anyway.
    if target == 0 && order == 1 {
        order = 0;
    }
    req.sort_order = order;
    req.sort_target = target;
    if prefix {
        with_prefix(&mut req.key, &mut req.range_end);
    }
    if from_key {
        with_from_key(&mut req.key, &mut req.range_end);
    }
    req.keys_only = p.bool("keys-only");
    Ok(req)
}

/// etcdctl's `--prefix`: from `\0` on for the empty key, else
/// `WithPrefix`.
fn with_prefix(key: &mut Vec<u8>, end: &mut Vec<u8>) {
    if key.is_empty() {
        *key = vec![0];
        *end = vec![0];
    } else {
        *end = prefix_end(key);
    }
}

/// `WithFromKey`.
fn with_from_key(key: &mut Vec<u8>, end: &mut Vec<u8>) {
    if key.is_empty() {
        *key = vec![0];
    }
    *end = vec![0];
}

/// etcdctl's `getPutOp`; `stdin` gives the value when no second
/// argument does (`argOrStdin`).
pub fn put_request(p: &Parsed, stdin: Option<&mut dyn Read>) -> Result<PutRequest, Fail> {
    const NEEDS: &str = "put command needs 1 argument and input from stdin or 2 arguments";
    let args = &p.args;
    if args.is_empty() {
        return Err(Fail::new(EXIT_BAD_ARGS, NEEDS));
    }
    let ignore_value = p.bool("ignore-value");
    if ignore_value && args.len() > 1 {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "put command needs only 1 argument when 'ignore-value' is set",
        ));
    }
    let mut value = Vec::new();
    if !ignore_value {
        if let Some(v) = args.get(1) {
            value = v.clone().into_bytes();
        } else {
            let mut buf = Vec::new();
            let read = stdin.map(|s| s.read_to_end(&mut buf));
            if buf.is_empty() || !matches!(read, Some(Ok(_))) {
                return Err(Fail::new(EXIT_BAD_ARGS, NEEDS));
            }
            value = buf;
        }
    }
    let lease_flag = p.string("lease");
    let lease = parse_int(&lease_flag, 16).map_err(|why| {
        Fail::new(
            EXIT_BAD_ARGS,
            format!("bad lease ID ({why}), expecting ID in Hex"),
        )
    })?;
    Ok(PutRequest {
        key: args[0].clone().into_bytes(),
        value,
        lease,
        prev_kv: p.bool("prev-kv"),
        ignore_value,
        ignore_lease: p.bool("ignore-lease"),
    })
}

/// etcdctl's `getDelOp`.
pub fn delete_request(p: &Parsed) -> Result<DeleteRangeRequest, Fail> {
    let args = &p.args;
    if args.is_empty() || args.len() > 2 {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "del command needs one argument as key and an optional argument as range_end",
        ));
    }
    let (prefix, from_key) = (p.bool("prefix"), p.bool("from-key"));
    if prefix && from_key {
        return Err(Fail::new(EXIT_BAD_ARGS, PREFIX_AND_FROM_KEY));
    }
    let mut req = DeleteRangeRequest {
        key: args[0].clone().into_bytes(),
        ..Default::default()
    };
    if args.len() > 1 {
        if prefix || from_key {
            return Err(Fail::new(EXIT_BAD_ARGS, TOO_MANY_WITH_PREFIX));
        }
        req.range_end = args[1].clone().into_bytes();
    }
    if prefix {
        with_prefix(&mut req.key, &mut req.range_end);
    }
    req.prev_kv = p.bool("prev-kv");
    if from_key {
        with_from_key(&mut req.key, &mut req.range_end);
    }
    Ok(req)
}

pub fn get(mut p: Parsed) -> Outcome {
    let req = range_request(&p)?;
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(Some(s.command_timeout), Retry::Repeatable, |ch| {
            let r = req.clone();
            async move { client::kv(ch).range(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    let mut writer = s.writer;
    if p.bool("print-value-only") {
        match writer {
            Writer::Simple { hex, .. } => {
                writer = Writer::Simple {
                    hex,
                    value_only: true,
                }
            }
            _ => {
                return Err(Fail::new(
                    EXIT_BAD_ARGS,
                    "print-value-only is only for `--write-out=simple`",
                ))
            }
        }
    }
    printer::get(writer, &resp)
}

pub fn put(mut p: Parsed) -> Outcome {
    let req = put_request(&p, Some(&mut std::io::stdin() as &mut dyn Read))?;
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(Some(s.command_timeout), Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::kv(ch).put(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::put(s.writer, &resp)
}

pub fn del(mut p: Parsed) -> Outcome {
    let req = delete_request(&p)?;
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(Some(s.command_timeout), Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::kv(ch).delete_range(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::del(s.writer, &resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_as_clientv3() {
        assert_eq!(prefix_end(b"a"), b"b");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
    }
}
