//! Go's `encoding/json` where etcdctl's requests and errors show it:
//! `json.Marshal`'s HTML escaping, and the syntax error a body that is not
//! JSON gets (`invalid character 'x' looking for beginning of value`).

use concord_store::go;
use serde_json::Value;

/// `json.Marshal`: `<`, `>` and `&` in strings escaped.
pub fn marshal(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// What `json.Unmarshal` says of a body that is not JSON, for the cases
/// seen in practice (empty, or a first character that starts no value).
pub fn syntax_error(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match text.trim_start().chars().next() {
        None => "unexpected end of JSON input".into(),
        Some(c) => format!(
            "invalid character {} looking for beginning of value",
            quote_char(c)
        ),
    }
}

/// Go's `%q` of a rune, as encoding/json quotes it in errors.
fn quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '\\' => "'\\\\'".into(),
        c if c.is_control() => {
            let q = go::quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
        c => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_are_worded_as_go() {
        assert_eq!(syntax_error(b""), "unexpected end of JSON input");
        assert_eq!(
            syntax_error(b" <html>"),
            "invalid character '<' looking for beginning of value"
        );
        assert_eq!(
            syntax_error(b"\x01"),
            "invalid character '\\x01' looking for beginning of value"
        );
    }

    #[test]
    fn marshal_escapes_html() {
        let v = serde_json::json!({ "a": "<&>" });
        assert_eq!(marshal(&v), r#"{"a":"\u003c\u0026\u003e"}"#);
    }
}
