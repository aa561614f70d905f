//! Writing JSON text straight into a `String`, for the per-call output (responses of the hot
//! operations, audit records) without building `serde_json::Value` trees first.
//!
//! Strings that need no escaping (no `"`, `\` or control character — nearly every ARN, id,
//! base64 blob and context value) are copied as they are; any other string is escaped by
//! `serde_json` itself, so the text is always what `serde_json` would have written.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// Whether `s` can go between quotes as it is (the bytes `serde_json` escapes are `"`, `\`
/// and the control characters below 0x20).
fn plain(s: &str) -> bool {
    let special = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    let mut chunks = s.as_bytes().chunks_exact(16);
    for chunk in &mut chunks {
        // No early exit inside a chunk, so the check compiles to vector compares.
        if chunk.iter().fold(false, |acc, &b| acc | special(b)) {
            return false;
        }
    }
    !chunks.remainder().iter().any(|&b| special(b))
}

/// Appends `s` as a JSON string.
pub(crate) fn str(out: &mut String, s: &str) {
    if plain(s) {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else if let Ok(text) = serde_json::to_string(s) {
        out.push_str(&text);
    }
}

/// Appends `"name":` (the name must need no escaping: a constant of this crate).
pub(crate) fn key(out: &mut String, name: &str) {
    out.push('"');
    out.push_str(name);
    out.push_str("\":");
}

/// Appends `"name":"value"`.
pub(crate) fn str_member(out: &mut String, name: &str, value: &str) {
    key(out, name);
    str(out, value);
}

/// Appends an integer.
pub(crate) fn int(out: &mut String, n: i64) {
    let _ = write!(out, "{n}");
}

/// Appends `true` / `false`.
pub(crate) fn bool(out: &mut String, b: bool) {
    out.push_str(if b { "true" } else { "false" });
}

/// Appends a map of strings as an object (in the map's order, as `serde_json` writes it).
pub(crate) fn string_map(out: &mut String, map: &BTreeMap<String, String>) {
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        str(out, k);
        out.push(':');
        str(out, v);
    }
    out.push('}');
}

/// Appends any JSON value, compact, as `serde_json::to_string` writes it.
pub(crate) fn value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => bool(out, *b),
        Value::Number(n) => {
            if let Ok(text) = serde_json::to_string(n) {
                out.push_str(&text);
            }
        }
        Value::String(s) => str(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                value(out, item);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                str(out, k);
                out.push(':');
                value(out, item);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn same_text_as_serde_json() {
        let v = json!({
            "a": "plain", "b": "quote \" backslash \\ newline \n tab \t nul \u{0} del \u{7f}",
            "c": [1, -2, 3.5, true, false, null, "é ✓ 𝄞"], "d": {}, "e": [], "f": {"x": {"y": 1e300}}
        });
        let mut out = String::new();
        value(&mut out, &v);
        assert_eq!(out, serde_json::to_string(&v).unwrap_or_default());
        let mut m = BTreeMap::new();
        m.insert("k\"1".to_string(), "v\n".to_string());
        m.insert("aws:ebs:id".to_string(), "vol-1".to_string());
        let mut out = String::new();
        string_map(&mut out, &m);
        assert_eq!(out, serde_json::to_string(&m).unwrap_or_default());
    }

    proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(s in "\\PC*|[\\x00-\\x7f]{0,40}") {
            let mut out = String::new();
            str(&mut out, &s);
            prop_assert_eq!(out, serde_json::to_string(&s).unwrap_or_default());
        }
    }
}
