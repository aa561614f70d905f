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
mod tests;
