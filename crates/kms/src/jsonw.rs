//! The per-call JSON output (responses of the data-plane operations, audit records): typed
//! structs deriving `serde::Serialize`, written by [`to_writer`] into a reused buffer, and two
//! field helpers ([`Base64`], [`Camel`]).
//!
//! [`to_writer`] is a `serde` serializer whose text is `serde_json`'s compact output, byte for
//! byte (the tests compare the two on arbitrary values), with one difference in speed: a string
//! that needs no escaping (no `"`, `\` or control character — nearly every ARN, id, base64
//! blob and context value, and every member name) is copied as it is after a check that runs
//! a word (8 bytes) at a time, and a struct's member names, constants once inlined, cost no
//! check at all, where `serde_json` examines each byte on its way out (11 k of the 40.6 k
//! instructions of a Decrypt, docs/benchmarks.md, "KMS in process"). Any string that needs
//! escaping, and every number, is written by `serde_json` itself.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::ser::{self, Serialize, Serializer};
use zeroize::Zeroize as _;

/// Appends `value` to `out` as compact JSON: the text `serde_json::to_writer` writes.
///
/// # Errors
/// Where `serde_json` fails: a map key that is not a string, a number or a boolean, or an
/// error of the value's own `Serialize`.
pub(crate) fn to_writer<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), serde_json::Error> {
    value.serialize(&mut Writer {
        out,
        cap: usize::MAX,
    })
}

/// [`to_writer`], with every string value and member name longer than `cap` bytes cut to its
/// first `cap` bytes (at a character boundary) followed by [`truncation_marker`]'s text (the
/// audit trail's bound on what one call can make it hold, docs/kms.md, "Audit").
///
/// # Errors
/// As [`to_writer`].
pub(crate) fn to_writer_capped<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
    cap: usize,
) -> Result<(), serde_json::Error> {
    value.serialize(&mut Writer { out, cap })
}

/// What follows the kept part of a string cut by [`to_writer_capped`]: ` …[truncated: N
/// bytes]`, N the length of the whole string.
pub(crate) fn truncation_marker(len: usize) -> String {
    format!(" …[truncated: {len} bytes]")
}

/// Whether `s` can go between quotes as it is (the bytes `serde_json` escapes are `"`, `\`
/// and the control characters below 0x20). Checks eight bytes at a time, as one word (for a
/// constant, such as a member name, the check folds away).
#[inline(always)]
pub(crate) fn plain(s: &str) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // Whether any byte of `w` is below `n` (n <= 0x80), or is zero.
    let below = |w: u64, n: u64| w.wrapping_sub(ONES * n) & !w & HIGH;
    let zero = |w: u64| below(w, 1);
    let special = |w: u64| below(w, 0x20) | zero(w ^ (ONES * 0x22)) | zero(w ^ (ONES * 0x5c));
    let word = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
    let bytes = s.as_bytes();
    if bytes.len() < 8 {
        // The bytes in a word padded with a byte that needs no escaping.
        let mut w = u64::from_le_bytes([b'a'; 8]);
        for (i, &b) in bytes.iter().enumerate() {
            w = (w & !(0xff << (8 * i))) | (u64::from(b) << (8 * i));
        }
        return special(w) == 0;
    }
    let mut found = 0;
    for w in bytes.chunks_exact(8) {
        found |= special(word(w));
    }
    // The tail, as the last eight bytes (overlapping the last whole word).
    found |= special(word(&bytes[bytes.len() - 8..]));
    found == 0
}

/// A `serde` serializer appending compact JSON to a buffer.
struct Writer<'b> {
    out: &'b mut Vec<u8>,
    /// The longest string written whole ([`to_writer_capped`]).
    cap: usize,
}

impl Writer<'_> {
    /// The contents of a JSON string (without its quotes).
    fn string_contents(&mut self, s: &str) -> Result<(), serde_json::Error> {
        if plain(s) {
            self.out.extend_from_slice(s.as_bytes());
            return Ok(());
        }
        let start = self.out.len();
        serde_json::to_writer(&mut *self.out, s)?;
        // Drop the quotes serde_json wrote around the escaped text.
        self.out.remove(start);
        self.out.pop();
        Ok(())
    }

    #[inline(always)]
    fn string(&mut self, s: &str) -> Result<(), serde_json::Error> {
        if s.len() > self.cap {
            return self.truncated(s);
        }
        self.whole_string(s)
    }

    /// A string longer than the cap: its first `cap` bytes and the marker.
    #[cold]
    #[inline(never)]
    fn truncated(&mut self, s: &str) -> Result<(), serde_json::Error> {
        let mut end = self.cap;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut text = String::with_capacity(end + 32);
        text.push_str(&s[..end]);
        text.push_str(&truncation_marker(s.len()));
        self.whole_string(&text)
    }

    #[inline(always)]
    fn whole_string(&mut self, s: &str) -> Result<(), serde_json::Error> {
        if plain(s) {
            let out = &mut *self.out;
            out.extend_from_slice(b"\"");
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(b"\"");
            Ok(())
        } else {
            self.escaped(s)
        }
    }

    /// A string that needs escaping, as `serde_json` writes it.
    #[cold]
    #[inline(never)]
    fn escaped(&mut self, s: &str) -> Result<(), serde_json::Error> {
        serde_json::to_writer(&mut *self.out, s)
    }

    /// A scalar, as `serde_json` writes it.
    fn scalar<T: Serialize>(&mut self, v: T) -> Result<(), serde_json::Error> {
        serde_json::to_writer(&mut *self.out, &v)
    }

    /// Opens `{"variant":` for an enum variant with content.
    fn open_variant(&mut self, variant: &str) -> Result<(), serde_json::Error> {
        self.out.push(b'{');
        self.string(variant)?;
        self.out.push(b':');
        Ok(())
    }
}

/// An array, object or variant being written.
struct Compound<'s, 'b> {
    w: &'s mut Writer<'b>,
    first: bool,
    /// What closes it: `]`, `}`, `]}` or `}}`.
    close: &'static [u8],
}

impl<'s, 'b> Compound<'s, 'b> {
    fn open(w: &'s mut Writer<'b>, open: u8, close: &'static [u8]) -> Self {
        w.out.push(open);
        Self {
            w,
            first: true,
            close,
        }
    }

    #[inline(always)]
    fn comma(&mut self) {
        if !self.first {
            self.w.out.push(b',');
        }
        self.first = false;
    }

    #[inline(always)]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), serde_json::Error> {
        self.comma();
        value.serialize(&mut *self.w)
    }

    /// A member name: a string; a number or a boolean is quoted, as `serde_json` does.
    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), serde_json::Error> {
        self.comma();
        let start = self.w.out.len();
        key.serialize(&mut *self.w)?;
        match self.w.out.get(start) {
            Some(b'"') => Ok(()),
            Some(b'0'..=b'9' | b'-' | b't' | b'f') => {
                self.w.out.insert(start, b'"');
                self.w.out.push(b'"');
                Ok(())
            }
            _ => Err(ser::Error::custom("key must be a string")),
        }
    }

    #[inline(always)]
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), serde_json::Error> {
        self.w.out.push(b':');
        value.serialize(&mut *self.w)
    }

    /// A struct member's name and the colon after it.
    #[inline(always)]
    fn field_name(&mut self, name: &str) -> Result<(), serde_json::Error> {
        if !plain(name) {
            self.comma();
            self.w.escaped(name)?;
            self.w.out.push(b':');
            return Ok(());
        }
        let out = &mut *self.w.out;
        if self.first {
            self.first = false;
            out.extend_from_slice(b"\"");
        } else {
            out.extend_from_slice(b",\"");
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        Ok(())
    }

    fn close(self) -> Result<(), serde_json::Error> {
        self.w.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl<'s, 'b> Serializer for &'s mut Writer<'b> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = Compound<'s, 'b>;
    type SerializeTuple = Compound<'s, 'b>;
    type SerializeTupleStruct = Compound<'s, 'b>;
    type SerializeTupleVariant = Compound<'s, 'b>;
    type SerializeMap = Compound<'s, 'b>;
    type SerializeStruct = Compound<'s, 'b>;
    type SerializeStructVariant = Compound<'s, 'b>;

    #[inline(always)]
    fn serialize_bool(self, v: bool) -> Result<(), Self::Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Self::Error> {
        self.scalar(v)
    }
    fn serialize_char(self, v: char) -> Result<(), Self::Error> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }
    #[inline(always)]
    fn serialize_str(self, v: &str) -> Result<(), Self::Error> {
        self.string(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Self::Error> {
        serde_json::Serializer::new(&mut *self.out).serialize_bytes(v)
    }
    #[inline(always)]
    fn serialize_none(self) -> Result<(), Self::Error> {
        self.serialize_unit()
    }
    #[inline(always)]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Self::Error> {
        value.serialize(self)
    }
    #[inline(always)]
    fn serialize_unit(self) -> Result<(), Self::Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Self::Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Self::Error> {
        self.string(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        self.open_variant(variant)?;
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'s, 'b>, Self::Error> {
        Ok(Compound::open(self, b'[', b"]"))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Compound<'s, 'b>, Self::Error> {
        Ok(Compound::open(self, b'[', b"]"))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, 'b>, Self::Error> {
        Ok(Compound::open(self, b'[', b"]"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, 'b>, Self::Error> {
        self.open_variant(variant)?;
        Ok(Compound::open(self, b'[', b"]}"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'s, 'b>, Self::Error> {
        Ok(Compound::open(self, b'{', b"}"))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, 'b>, Self::Error> {
        Ok(Compound::open(self, b'{', b"}"))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, 'b>, Self::Error> {
        self.open_variant(variant)?;
        Ok(Compound::open(self, b'{', b"}}"))
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), Self::Error> {
        /// Writes each piece of the text as string contents.
        struct Pieces<'w, 'b> {
            w: &'w mut Writer<'b>,
            error: Option<serde_json::Error>,
        }
        impl fmt::Write for Pieces<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.w.string_contents(s).map_err(|e| {
                    self.error = Some(e);
                    fmt::Error
                })
            }
        }
        self.out.push(b'"');
        let mut pieces = Pieces {
            w: &mut *self,
            error: None,
        };
        if fmt::write(&mut pieces, format_args!("{value}")).is_err() {
            return Err(pieces
                .error
                .unwrap_or_else(|| ser::Error::custom("a Display implementation failed")));
        }
        self.out.push(b'"');
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = serde_json::Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Self::Error> {
        self.close()
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = serde_json::Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Self::Error> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = serde_json::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Self::Error> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = serde_json::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Self::Error> {
        self.close()
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = serde_json::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Self::Error> {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        self.value(value)
    }
    fn end(self) -> Result<(), Self::Error> {
        self.close()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = serde_json::Error;
    #[inline(always)]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        self.field_name(key)?;
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Self::Error> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = serde_json::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<(), Self::Error> {
        self.close()
    }
}

/// Bytes serialized as a base64 (standard alphabet, padded) JSON string.
///
/// The text is encoded in pieces through a stack buffer that is wiped afterwards, so that a
/// plaintext leaves no copy behind but the output.
#[derive(Clone, Copy)]
pub(crate) struct Base64<'a>(pub(crate) &'a [u8]);

/// Input bytes encoded per piece (a multiple of 3, so that only the last piece is padded).
const PIECE: usize = 3 * 256;

impl fmt::Display for Base64<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; PIECE / 3 * 4];
        let mut used = 0;
        let mut result = Ok(());
        for piece in self.0.chunks(PIECE) {
            result = match B64.encode_slice(piece, &mut text) {
                Ok(n) => {
                    used = used.max(n);
                    std::str::from_utf8(&text[..n])
                        .map_err(|_| fmt::Error)
                        .and_then(|t| f.write_str(t))
                }
                Err(_) => Err(fmt::Error),
            };
            if result.is_err() {
                break;
            }
        }
        text[..used].zeroize();
        result
    }
}

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.len() > PIECE {
            return s.collect_str(self);
        }
        // One piece (a data key, a ciphertext blob): encoded here, then wiped.
        let mut text = [0u8; PIECE / 3 * 4];
        let n = B64
            .encode_slice(self.0, &mut text)
            .map_err(ser::Error::custom)?;
        let result = match std::str::from_utf8(&text[..n]) {
            Ok(t) => s.serialize_str(t),
            Err(e) => Err(ser::Error::custom(e)),
        };
        text[..n].zeroize();
        result
    }
}

/// A member name serialized in camelCase (first letter lowered), as audit records name
/// request members (`ebsim_kms_api::types::constraint::camel`).
#[derive(Clone, Copy)]
pub(crate) struct Camel<'a>(pub(crate) &'a str);

impl Serialize for Camel<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = self.0;
        let mut buf = [0u8; 64];
        match name.as_bytes().first() {
            Some(first) if first.is_ascii_uppercase() && name.len() <= buf.len() => {
                let lowered = &mut buf[..name.len()];
                lowered.copy_from_slice(name.as_bytes());
                lowered[0] = first.to_ascii_lowercase();
                // Only an ASCII byte changed: still UTF-8.
                match std::str::from_utf8(lowered) {
                    Ok(text) => s.serialize_str(text),
                    Err(_) => s.serialize_str(&ebsim_kms_api::types::constraint::camel(name)),
                }
            }
            Some(first) if first.is_ascii_uppercase() => {
                s.serialize_str(&ebsim_kms_api::types::constraint::camel(name))
            }
            _ => s.serialize_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
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
}
