//! Normalisation: generated values become stable placeholders, consistently across a run.
//!
//! - key ids (UUIDs, also inside ARNs and messages) → `<key-N>` by first appearance
//!   (`<key-N:upper>` where a request wrote one in upper case);
//! - grant ids (64 hex digits) → `<grant-N>`, key material ids → `<material-N>`;
//! - ciphertext blobs → `<blob-N>`, random plaintexts → `<bytes-N len=L>`, grant tokens →
//!   `<token-N>`, created access keys and secrets → `<akid-N>` / `<secret-N>`, key material
//!   in `state.json` → `<material-secret len=L>`;
//! - audit `requestID` / `eventID` → `<request-id>` / `<event-id>`, SigV4 dates in messages
//!   → `<amz-date>`, the server's address → `<server-addr>`.
//!
//! Values the script writes itself (known plaintexts, made-up ids) are registered with
//! [`Normalizer::keep`] and stay literal. Everything else (fixed-clock times, ARNs of
//! principals, messages) stays as recorded.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Raw value → placeholder, with per-kind counters.
#[derive(Debug, Default)]
pub struct Normalizer {
    map: HashMap<String, String>,
    counters: HashMap<&'static str, usize>,
    /// Literal substring replacements applied to every free text (the server address).
    subs: Vec<(String, String)>,
    /// Values found by field, not by pattern: replaced by substring in raw text.
    opaque: Vec<(String, String)>,
}

/// Generated values (blobs, tokens, keys, secrets) are at least this long; shorter values
/// in their fields are the script's own (`"AAAA"`, `"junk"`). Random plaintexts can be
/// shorter (the script keeps its own literal).
const MIN_GENERATED: usize = 16;
/// Runs of one character at least this long are written `<N×'c'>`.
const MIN_RUN: usize = 32;

/// Fields whose string value is a key material id.
const MATERIAL_FIELDS: [&str; 4] = [
    "KeyMaterialId",
    "CurrentKeyMaterialId",
    "SourceKeyMaterialId",
    "DestinationKeyMaterialId",
];

impl Normalizer {
    /// Keeps `raw` literal wherever it appears as a whole value.
    pub fn keep(&mut self, raw: &str) {
        self.map.insert(raw.to_owned(), raw.to_owned());
    }

    /// Maps `raw` to a fixed placeholder.
    pub fn name(&mut self, raw: &str, placeholder: &str) {
        self.map.insert(raw.to_owned(), placeholder.to_owned());
        self.opaque.push((raw.to_owned(), placeholder.to_owned()));
    }

    /// Replaces `raw` by `with` inside every free text.
    pub fn substitute(&mut self, raw: &str, with: &str) {
        self.subs.push((raw.to_owned(), with.to_owned()));
    }

    /// The placeholder already given to `raw`, if any.
    pub fn known(&self, raw: &str) -> Option<&str> {
        self.map.get(raw).map(String::as_str)
    }

    fn assign(&mut self, raw: &str, kind: &'static str, suffix: &str, opaque: bool) -> String {
        if let Some(p) = self.map.get(raw) {
            return p.clone();
        }
        let n = self.counters.entry(kind).or_insert(0);
        *n += 1;
        let p = format!("<{kind}-{n}{suffix}>");
        self.map.insert(raw.to_owned(), p.clone());
        if opaque {
            self.opaque.push((raw.to_owned(), p.clone()));
        }
        p
    }

    /// A JSON value, normalised (objects are walked in the order of their normalised member
    /// names, so that first appearances never depend on a map's random order).
    pub fn value(&mut self, v: &Value) -> Value {
        self.walk(v, None)
    }

    fn walk(&mut self, v: &Value, field: Option<&str>) -> Value {
        match v {
            Value::Object(m) => {
                let mut members: Vec<(String, &String, &Value)> =
                    m.iter().map(|(k, x)| (self.text(k), k, x)).collect();
                members.sort_by(|a, b| a.0.cmp(&b.0));
                let mut out = Map::new();
                for (name, raw_name, x) in members {
                    let x = self.walk(x, Some(raw_name));
                    out.insert(name, x);
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| self.walk(x, field)).collect()),
            Value::String(s) => Value::String(self.string(s, field)),
            other => other.clone(),
        }
    }

    fn string(&mut self, s: &str, field: Option<&str>) -> String {
        if let Some(p) = self.map.get(s) {
            return p.clone();
        }
        if s.len() < MIN_GENERATED && field != Some("Plaintext") {
            // Too short to be generated: a value the script wrote.
            return self.text(s);
        }
        match field {
            Some("CiphertextBlob") => self.assign(s, "blob", "", true),
            Some("Plaintext") => {
                let len = base64_len(s);
                self.assign(s, "bytes", &format!(" len={len}"), true)
            }
            Some("GrantToken" | "GrantTokens") => self.assign(s, "token", "", true),
            Some("AccessKeyId" | "access_key_id") => self.assign(s, "akid", "", true),
            Some("SecretAccessKey") => self.assign(s, "secret", "", true),
            // Key material in state.json (IAM secrets were seen as SecretAccessKey first).
            // An RSA private key's DER length varies with its integers' leading zeros: longer
            // secrets (PKCS #8 private keys of asymmetric keys) keep no length.
            Some("secret") if base64_len(s) > 64 => {
                let p = "<private-key>".to_owned();
                self.opaque.push((s.to_owned(), p.clone()));
                p
            }
            Some("secret") => {
                let p = format!("<material-secret len={}>", base64_len(s));
                self.opaque.push((s.to_owned(), p.clone()));
                p
            }
            Some(f @ ("requestID" | "eventID")) => {
                let p = if f == "requestID" {
                    "<request-id>"
                } else {
                    "<event-id>"
                };
                self.map.insert(s.to_ascii_lowercase(), p.to_owned());
                p.to_owned()
            }
            Some(f) if MATERIAL_FIELDS.contains(&f) => self.assign(s, "material", "", false),
            Some("id") if is_hex64(s) => self.assign(s, "material", "", false),
            // IAM unique ids of users, roles and managed policies (random).
            Some("id")
                if s.len() == 21
                    && ["AIDA", "AROA", "ANPA"].iter().any(|p| s.starts_with(p))
                    && s.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
            {
                self.assign(s, "iam-id", "", false)
            }
            _ => self.text(s),
        }
    }

    /// Free text: known values, UUIDs, 64-hex ids and SigV4 dates are replaced where they
    /// occur.
    pub fn text(&mut self, s: &str) -> String {
        if let Some(p) = self.map.get(s) {
            return p.clone();
        }
        let mut s = s.to_owned();
        for (raw, with) in &self.subs {
            if s.contains(raw.as_str()) {
                s = s.replace(raw.as_str(), with);
            }
        }
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        let mut plain = 0;
        while i < b.len() {
            let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
            if boundary && let Some(raw) = uuid_at(&s, i) {
                out.push_str(&s[plain..i]);
                let lower = raw.to_ascii_lowercase();
                let p = match self.map.get(&lower) {
                    Some(p) => p.clone(),
                    None => self.assign(&lower, "key", "", false),
                };
                if raw != lower && p.starts_with("<key-") {
                    out.push_str(&p.replace('>', ":upper>"));
                } else {
                    out.push_str(&p);
                }
                i += raw.len();
                plain = i;
                continue;
            }
            if boundary && let Some(raw) = hex64_at(&s, i) {
                out.push_str(&s[plain..i]);
                let p = self.assign(raw, "grant", "", false);
                out.push_str(&p);
                i += 64;
                plain = i;
                continue;
            }
            if boundary && amz_date_at(b, i) {
                out.push_str(&s[plain..i]);
                out.push_str("<amz-date>");
                i += 16;
                plain = i;
                continue;
            }
            i += 1;
        }
        out.push_str(&s[plain..]);
        out
    }

    /// Raw JSON text (an audit line): as [`Normalizer::text`], and every value already
    /// named by field (blobs, tokens, secrets) replaced where it occurs.
    pub fn raw(&mut self, text: &str) -> String {
        let mut out = self.text(text);
        for (raw, p) in &self.opaque {
            if raw.len() >= MIN_GENERATED && out.contains(raw.as_str()) {
                out = out.replace(raw.as_str(), p);
            }
        }
        collapse_runs(&out)
    }
}

/// `s` with every run of one character at least [`MIN_RUN`] long written `<N×'c'>`
/// (long made-up values stay readable and exact).
pub fn collapse_runs(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let n = chars[i..].iter().take_while(|&&x| x == c).count();
        if n >= MIN_RUN {
            out.push_str(&format!("<{n}×'{c}'>"));
        } else {
            out.extend(std::iter::repeat_n(c, n));
        }
        i += n;
    }
    out
}

/// Decoded length of standard base64 text.
pub fn base64_len(s: &str) -> usize {
    let pad = s.bytes().rev().take_while(|&b| b == b'=').count();
    (s.len() / 4 * 3).saturating_sub(pad)
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A UUID (8-4-4-4-12 hex digits, either case) starting at `i`, not followed by another
/// alphanumeric.
fn uuid_at(s: &str, i: usize) -> Option<&str> {
    let b = s.as_bytes().get(i..i + 36)?;
    let ok = b.iter().enumerate().all(|(j, &c)| {
        if matches!(j, 8 | 13 | 18 | 23) {
            c == b'-'
        } else {
            is_hex(c)
        }
    });
    let after = s.as_bytes().get(i + 36);
    (ok && after.is_none_or(|c| !c.is_ascii_alphanumeric())).then(|| &s[i..i + 36])
}

/// A run of exactly 64 lowercase hex digits starting at `i`.
fn hex64_at(s: &str, i: usize) -> Option<&str> {
    let b = s.as_bytes();
    let run = b[i..]
        .iter()
        .take_while(|&&c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        .count();
    let after = b.get(i + run);
    (run == 64 && after.is_none_or(|c| !c.is_ascii_alphanumeric())).then(|| &s[i..i + 64])
}

/// `YYYYMMDDTHHMMSSZ` at `i`.
fn amz_date_at(b: &[u8], i: usize) -> bool {
    let Some(w) = b.get(i..i + 16) else {
        return false;
    };
    w.iter().enumerate().all(|(j, &c)| match j {
        8 => c == b'T',
        15 => c == b'Z',
        _ => c.is_ascii_digit(),
    })
}

/// Natural number of the first `<key-N` in `s` (for sorting listings whose order follows
/// the random key ids).
pub fn key_number(s: &str) -> usize {
    s.split_once("<key-")
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or(usize::MAX)
}

/// The member order of a JSON text: for each path (`.` between members, `[]` for array
/// elements, `*` for the members of the maps named in `maps`), every distinct sequence of
/// member names, in the order they are written.
pub fn member_order(text: &str, maps: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = Order {
        path: String::new(),
        maps,
        out: &mut out,
    };
    seed.deserialize(&mut de)
        .unwrap_or_else(|e| panic!("member_order: {e}"));
    out
}

struct Order<'a, 'm> {
    path: String,
    maps: &'a [&'a str],
    out: &'m mut BTreeMap<String, BTreeSet<String>>,
}

impl<'de> DeserializeSeed<'de> for Order<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Order<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let path = format!("{}[]", self.path);
        while seq
            .next_element_seed(Order {
                path: path.clone(),
                maps: self.maps,
                out: &mut *self.out,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let last = self.path.rsplit(['.', '[']).next().unwrap_or_default();
        let is_map = self.maps.contains(&last);
        let mut names = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let child = if is_map {
                format!("{}.*", self.path)
            } else {
                format!("{}.{name}", self.path)
            };
            names.push(name);
            map.next_value_seed(Order {
                path: child,
                maps: self.maps,
                out: &mut *self.out,
            })?;
        }
        if !is_map {
            let path = if self.path.is_empty() {
                "."
            } else {
                &self.path
            };
            self.out
                .entry(path.to_owned())
                .or_default()
                .insert(names.join(","));
        }
        Ok(())
    }
}
