//! etcdctl's printers (`ctlv2/command/format.go`, `ls_command.go`).

use serde_json::{json, Value};

use super::client::KeysResponse;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Simple,
    Extended,
    Json,
    /// etcdctl runs the command anyway and says so where it would print.
    Unsupported(String),
}

impl Format {
    pub fn parse(s: &str) -> Format {
        match s {
            "simple" => Format::Simple,
            "extended" => Format::Extended,
            "json" => Format::Json,
            other => Format::Unsupported(other.to_string()),
        }
    }
}

fn str_field<'a>(n: &'a Value, k: &str) -> &'a str {
    n[k].as_str().unwrap_or("")
}

/// A node as the Go v2 client marshals it: `value` always present, `nodes`
/// null when absent, `dir`, `expiration` and `ttl` only when set.
fn go_node(n: &Value) -> Value {
    if n.is_null() {
        return Value::Null;
    }
    let mut m = serde_json::Map::new();
    m.insert("key".into(), json!(str_field(n, "key")));
    if n["dir"].as_bool().unwrap_or(false) {
        m.insert("dir".into(), json!(true));
    }
    m.insert("value".into(), json!(str_field(n, "value")));
    m.insert(
        "nodes".into(),
        match n["nodes"].as_array() {
            Some(a) => Value::Array(a.iter().map(go_node).collect()),
            None => Value::Null,
        },
    );
    m.insert(
        "createdIndex".into(),
        json!(n["createdIndex"].as_u64().unwrap_or(0)),
    );
    m.insert(
        "modifiedIndex".into(),
        json!(n["modifiedIndex"].as_u64().unwrap_or(0)),
    );
    if let Some(e) = n["expiration"].as_str() {
        m.insert("expiration".into(), json!(e));
    }
    if let Some(t) = n["ttl"].as_i64().filter(|t| *t != 0) {
        m.insert("ttl".into(), json!(t));
    }
    Value::Object(m)
}

/// Writes `v` with keys in insertion order (serde_json's Map is sorted
/// without `preserve_order`, so objects are written by hand).
fn write_ordered(v: &Value, order: &[&str], out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            let mut first = true;
            for k in order {
                if let Some(x) = m.get(*k) {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push(':');
                    write_ordered(x, order, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_ordered(x, order, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

const ORDER: &[&str] = &[
    "action",
    "key",
    "dir",
    "value",
    "nodes",
    "createdIndex",
    "modifiedIndex",
    "expiration",
    "ttl",
    "node",
    "prevNode",
];

/// etcdctl's `printResponseKey`.
pub fn print_response(resp: &KeysResponse, format: &Format) {
    let b = &resp.body;
    let node = &b["node"];
    let action = str_field(b, "action");
    match format {
        Format::Simple => {
            if action != "delete" {
                println!("{}", str_field(node, "value"));
            } else {
                println!("PrevNode.Value: {}", str_field(&b["prevNode"], "value"));
            }
        }
        Format::Extended => {
            println!("Key: {}", str_field(node, "key"));
            println!(
                "Created-Index: {}",
                node["createdIndex"].as_u64().unwrap_or(0)
            );
            println!(
                "Modified-Index: {}",
                node["modifiedIndex"].as_u64().unwrap_or(0)
            );
            if !b["prevNode"].is_null() {
                println!("PrevNode.Value: {}", str_field(&b["prevNode"], "value"));
            }
            println!("TTL: {}", node["ttl"].as_i64().unwrap_or(0));
            println!("Index: {}", resp.index);
            if action != "delete" {
                println!();
                println!("{}", str_field(node, "value"));
            }
        }
        Format::Json => {
            let v = json!({
                "action": action,
                "node": go_node(node),
                "prevNode": go_node(&b["prevNode"]),
            });
            // Go's client marshals its Node fields in this order: action, node, prevNode.
            let mut out = String::new();
            write_ordered(&v, ORDER, &mut out);
            println!("{out}");
        }
        Format::Unsupported(name) => eprintln!("Unsupported output format: {name}"),
    }
}

fn print_tree(n: &Value, p: bool) {
    let key = str_field(n, "key");
    if n["dir"].as_bool().unwrap_or(false) && p {
        println!("{key}/");
    } else {
        println!("{key}");
    }
    if let Some(children) = n["nodes"].as_array() {
        for c in children {
            print_tree(c, p);
        }
    }
}

/// etcdctl's `printLs`.
pub fn print_ls(resp: &KeysResponse, format: &Format, p: bool) {
    if *format != Format::Simple {
        return print_response(resp, format);
    }
    let node = &resp.body["node"];
    if !node["dir"].as_bool().unwrap_or(false) {
        println!("{}", str_field(node, "key"));
    }
    if let Some(children) = node["nodes"].as_array() {
        for c in children {
            print_tree(c, p);
        }
    }
}
