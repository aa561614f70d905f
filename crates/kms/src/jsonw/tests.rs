//! Tests of `jsonw`.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

use super::*;

fn ours(v: &(impl Serialize + ?Sized)) -> Result<String, String> {
    let mut out = Vec::new();
    to_writer(&mut out, v).map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

fn theirs(v: &(impl Serialize + ?Sized)) -> Result<String, String> {
    serde_json::to_string(v).map_err(|e| e.to_string())
}

#[derive(Serialize)]
enum E {
    Unit,
    Newtype(&'static str),
    Tuple(i8, Option<u8>),
    Struct { a: char, b: (), c: [f32; 2] },
}

#[derive(Serialize)]
struct Unit;

#[derive(Serialize)]
struct Shapes<'a> {
    s: &'a str,
    #[serde(rename = "odd \"name\"")]
    odd: bool,
    none: Option<i32>,
    some: Option<i128>,
    bytes: &'a [u8],
    #[serde(with = "serde_bytes_like")]
    raw: &'a [u8],
    unit: Unit,
    tuple: (u128, i64, f64, f64),
    enums: Vec<E>,
    int_keys: BTreeMap<i32, &'a str>,
    bool_keys: BTreeMap<bool, ()>,
    char_keys: BTreeMap<char, u16>,
    b64: Base64<'a>,
    camel: Camel<'a>,
    value: Value,
}

/// `serialize_bytes`, which derive does not use on its own.
mod serde_bytes_like {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
}

#[test]
fn same_text_as_serde_json() {
    let shapes = Shapes {
        s: "quote \" backslash \\ newline \n tab \t nul \u{0} del \u{7f} é ✓ 𝄞",
        odd: true,
        none: None,
        some: Some(-170_141_183_460_469_231_731_687_303_715_884_105_728),
        bytes: &[0, 1, 255],
        raw: &[9, 10],
        unit: Unit,
        tuple: (u128::MAX, i64::MIN, 1e300, f64::NAN),
        enums: vec![
            E::Unit,
            E::Newtype("n\"t"),
            E::Tuple(-1, None),
            E::Struct {
                a: '"',
                b: (),
                c: [0.1, f32::INFINITY],
            },
        ],
        int_keys: [(-3, "a"), (7, "b")].into_iter().collect(),
        bool_keys: [(false, ()), (true, ())].into_iter().collect(),
        char_keys: [('x', 1), ('\n', 2)].into_iter().collect(),
        b64: Base64(&[0xfb; 1000]),
        camel: Camel("EncryptionContext"),
        value: json!({
            "a": "plain", "b": [1, -2, 3.5, true, false, null, "é"], "c": {}, "d": [],
            "e": {"x": {"y": 1e-300, "z": u64::MAX}}
        }),
    };
    assert_eq!(ours(&shapes), theirs(&shapes));
    let empty: (Vec<u8>, BTreeMap<String, u8>, [u8; 0]) = Default::default();
    assert_eq!(ours(&empty), theirs(&empty));
}

#[test]
fn keys_that_are_not_strings_numbers_or_booleans_fail() {
    let m: BTreeMap<Option<u8>, u8> = [(None, 1)].into_iter().collect();
    assert!(ours(&m).is_err() && theirs(&m).is_err());
    let m: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
    assert!(ours(&m).is_err() && theirs(&m).is_err());
}

#[test]
fn base64_pieces_join_into_one_string() {
    for len in [
        0,
        1,
        2,
        3,
        64,
        PIECE - 1,
        PIECE,
        PIECE + 1,
        3 * PIECE + 2,
        4096,
    ] {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let expected = B64.encode(&bytes);
        assert_eq!(ours(&Base64(&bytes)), theirs(&expected), "{len} bytes");
        assert_eq!(theirs(&Base64(&bytes)), theirs(&expected), "{len} bytes");
        let value = serde_json::to_value(Base64(&bytes)).unwrap_or_default();
        assert_eq!(value, Value::String(expected));
    }
}

#[test]
fn capped_strings_keep_their_head_and_say_how_long_they_were() {
    let capped = |v: &Value, cap: usize| {
        let mut out = Vec::new();
        to_writer_capped(&mut out, v, cap).map_err(|e| e.to_string())?;
        serde_json::from_slice::<Value>(&out).map_err(|e| e.to_string())
    };
    let long = "k".repeat(1 << 20);
    let v = json!({ "keyId": long, long.clone(): ["short", "é".repeat(600)] });
    let out = capped(&v, 1024).unwrap_or_default();
    let head = format!("{}{}", "k".repeat(1024), truncation_marker(1 << 20));
    assert_eq!(out["keyId"], json!(head));
    // A member name is cut as a value is; a multi-byte character is never split.
    let list = &out[head.as_str()];
    assert_eq!(list[0], json!("short"));
    let e = list[1].as_str().unwrap_or_default();
    assert_eq!(e, format!("{}{}", "é".repeat(512), truncation_marker(1200)));
    // Under the cap, the text is serde_json's.
    let small = json!({"a": "b".repeat(1024), "c": "quote \" and \n"});
    assert_eq!(capped(&small, 1024), Ok(small.clone()));
    let mut out = Vec::new();
    assert!(to_writer_capped(&mut out, &small, 1024).is_ok());
    assert_eq!(
        Ok(String::from_utf8(out).unwrap_or_default()),
        theirs(&small)
    );
    // A cut string that needs escaping is escaped.
    let q = json!("\"".repeat(2000));
    let out = capped(&q, 10).unwrap_or_default();
    assert_eq!(
        out,
        json!(format!("{}{}", "\"".repeat(10), truncation_marker(2000)))
    );
}

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC*|[\\x00-\\x7f]{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}|[\\x00-\\x7f]{0,8}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_value_is_written_as_serde_json_writes_it(v in any_value()) {
        prop_assert_eq!(ours(&v), theirs(&v));
    }

    #[test]
    fn plain_is_exactly_needing_no_escape(s in "\\PC{0,40}|[\\x00-\\x7f]{0,40}|[ -~é]{0,40}") {
        let naive = !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
        prop_assert_eq!(plain(&s), naive);
    }

    #[test]
    fn any_string_is_written_as_serde_json_writes_it(s in "\\PC*|[\\x00-\\x7f]{0,40}") {
        prop_assert_eq!(ours(&s), theirs(&s));
        let m: BTreeMap<&str, &str> = [(s.as_str(), s.as_str())].into_iter().collect();
        prop_assert_eq!(ours(&m), theirs(&m));
        let text = format_args!("{s}").to_string();
        prop_assert_eq!(ours(&format_args!("{s}")), theirs(&text));
    }

    #[test]
    fn camel_is_the_api_crates_camel(s in "\\PC{0,70}|[A-Za-z]{0,70}") {
        prop_assert_eq!(
            theirs(&Camel(&s)),
            theirs(&ebsim_kms_api::types::constraint::camel(&s))
        );
    }
}
