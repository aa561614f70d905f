//! The data-plane operations (Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext,
//! ReEncrypt) without `serde_json::Value` trees: the request is deserialized into a typed,
//! borrowing struct, the answer is written straight as JSON text, and so is the audit record.
//!
//! The typed parse accepts only the plain shapes: every member one of these operations reads,
//! with the right JSON type, strings without escapes (except in encryption contexts), no
//! `null`, no `DryRun`. Anything else takes the general path ([`Kms::call_json`]), which has
//! every validation message; the handlers are the same code for both paths (they read the
//! request through [`Req`]), so a request answers alike on either.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{B64, Ev, Kms, R, SystemClock, ser};
use crate::api::Caller;
use crate::clock::Clock as _;
use crate::jsonw;
use crate::state::Key;

/// Read access to a request's members, with the general path's type errors.
pub(super) trait Req {
    /// A string member (`None` when absent or null).
    fn opt_str(&self, name: &str) -> R<Option<&str>>;
    /// An integer member.
    fn opt_int(&self, name: &str) -> R<Option<i64>>;
    /// A boolean member (`false` when absent or null).
    fn opt_bool(&self, name: &str) -> R<bool>;
    /// A map-of-strings member (empty when absent or null).
    fn context(&self, name: &str) -> R<BTreeMap<String, String>>;
    /// A list-of-strings member.
    fn string_list(&self, name: &str) -> R<Option<Vec<String>>>;
}

impl Req for Map<String, Value> {
    fn opt_str(&self, name: &str) -> R<Option<&str>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ser(format!("STRING_VALUE can not be converted to {name}"))),
        }
    }

    fn opt_int(&self, name: &str) -> R<Option<i64>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ser(format!("Value for {name} is not an integer"))),
        }
    }

    fn opt_bool(&self, name: &str) -> R<bool> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ser(format!("Value for {name} is not a boolean"))),
        }
    }

    fn context(&self, name: &str) -> R<BTreeMap<String, String>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(ser(format!("{name} values must be strings"))),
                })
                .collect(),
            Some(_) => Err(ser(format!("{name} must be a map of strings"))),
        }
    }

    fn string_list(&self, name: &str) -> R<Option<Vec<String>>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| ser(format!("{name} must be a list of strings")))
                })
                .collect::<R<Vec<_>>>()
                .map(Some),
            Some(_) => Err(ser(format!("{name} must be a list"))),
        }
    }
}

/// A member that is either absent or set to a non-null value of `T` (a `null` fails the
/// typed parse, so that such a request takes the general path).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) enum Opt<T> {
    #[default]
    Absent,
    Set(T),
}

impl<T> Opt<T> {
    fn get(&self) -> Option<&T> {
        match self {
            Self::Absent => None,
            Self::Set(v) => Some(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Opt<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Opt::Set)
    }
}

/// The members of the data-plane operations, borrowed from the request body (no `Debug`: a
/// request may carry a plaintext).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HotReq<'a> {
    #[serde(rename = "KeyId", default, borrow)]
    key_id: Opt<&'a str>,
    #[serde(rename = "CiphertextBlob", default, borrow)]
    ciphertext_blob: Opt<&'a str>,
    #[serde(rename = "Plaintext", default, borrow)]
    plaintext: Opt<&'a str>,
    #[serde(rename = "EncryptionContext", default)]
    encryption_context: Opt<BTreeMap<String, String>>,
    #[serde(rename = "GrantTokens", default, borrow)]
    grant_tokens: Opt<Vec<&'a str>>,
    #[serde(rename = "EncryptionAlgorithm", default, borrow)]
    encryption_algorithm: Opt<&'a str>,
    #[serde(rename = "NumberOfBytes", default)]
    number_of_bytes: Opt<i64>,
    #[serde(rename = "KeySpec", default, borrow)]
    key_spec: Opt<&'a str>,
    #[serde(rename = "SourceKeyId", default, borrow)]
    source_key_id: Opt<&'a str>,
    #[serde(rename = "DestinationKeyId", default, borrow)]
    destination_key_id: Opt<&'a str>,
    #[serde(rename = "SourceEncryptionContext", default)]
    source_encryption_context: Opt<BTreeMap<String, String>>,
    #[serde(rename = "DestinationEncryptionContext", default)]
    destination_encryption_context: Opt<BTreeMap<String, String>>,
    #[serde(rename = "SourceEncryptionAlgorithm", default, borrow)]
    source_encryption_algorithm: Opt<&'a str>,
    #[serde(rename = "DestinationEncryptionAlgorithm", default, borrow)]
    destination_encryption_algorithm: Opt<&'a str>,
}

impl HotReq<'_> {
    fn str_field(&self, name: &str) -> Option<&str> {
        let f = match name {
            "KeyId" => &self.key_id,
            "CiphertextBlob" => &self.ciphertext_blob,
            "Plaintext" => &self.plaintext,
            "EncryptionAlgorithm" => &self.encryption_algorithm,
            "KeySpec" => &self.key_spec,
            "SourceKeyId" => &self.source_key_id,
            "DestinationKeyId" => &self.destination_key_id,
            "SourceEncryptionAlgorithm" => &self.source_encryption_algorithm,
            "DestinationEncryptionAlgorithm" => &self.destination_encryption_algorithm,
            _ => return None,
        };
        f.get().copied()
    }

    fn map_field(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        match name {
            "EncryptionContext" => self.encryption_context.get(),
            "SourceEncryptionContext" => self.source_encryption_context.get(),
            "DestinationEncryptionContext" => self.destination_encryption_context.get(),
            _ => None,
        }
    }

    /// Writes the audited members as the general path does (`requestParameters`: the
    /// members in the order of their names, names in camelCase; `null` when none).
    /// Writes `requestParameters`: the members `audited` names (the operation table's list),
    /// in name order, names in camelCase; `null` when there are none.
    pub(super) fn write_audit_params(&self, audited: &crate::ops::Operation, out: &mut String) {
        let mut first = true;
        let mut sep = |out: &mut String, name: &str| {
            out.push(if first { '{' } else { ',' });
            first = false;
            jsonw::key(out, name);
        };
        let on = |member: &str| audited.records_member(member);
        let ctx = |out: &mut String, m: &Opt<BTreeMap<String, String>>| {
            if let Opt::Set(m) = m {
                jsonw::string_map(out, m);
            }
        };
        if on("DestinationEncryptionContext") && self.destination_encryption_context.get().is_some()
        {
            sep(out, "destinationEncryptionContext");
            ctx(out, &self.destination_encryption_context);
        }
        if on("DestinationKeyId")
            && let Opt::Set(v) = self.destination_key_id
        {
            sep(out, "destinationKeyId");
            jsonw::str(out, v);
        }
        if on("EncryptionAlgorithm")
            && let Opt::Set(v) = self.encryption_algorithm
        {
            sep(out, "encryptionAlgorithm");
            jsonw::str(out, v);
        }
        if on("EncryptionContext") && self.encryption_context.get().is_some() {
            sep(out, "encryptionContext");
            ctx(out, &self.encryption_context);
        }
        if on("KeyId")
            && let Opt::Set(v) = self.key_id
        {
            sep(out, "keyId");
            jsonw::str(out, v);
        }
        if on("KeySpec")
            && let Opt::Set(v) = self.key_spec
        {
            sep(out, "keySpec");
            jsonw::str(out, v);
        }
        if on("NumberOfBytes")
            && let Opt::Set(n) = self.number_of_bytes
        {
            sep(out, "numberOfBytes");
            jsonw::int(out, n);
        }
        if on("SourceEncryptionContext") && self.source_encryption_context.get().is_some() {
            sep(out, "sourceEncryptionContext");
            ctx(out, &self.source_encryption_context);
        }
        if on("SourceKeyId")
            && let Opt::Set(v) = self.source_key_id
        {
            sep(out, "sourceKeyId");
            jsonw::str(out, v);
        }
        if first {
            out.push_str("null");
        } else {
            out.push('}');
        }
    }
}

impl Req for HotReq<'_> {
    fn opt_str(&self, name: &str) -> R<Option<&str>> {
        Ok(self.str_field(name))
    }

    fn opt_int(&self, name: &str) -> R<Option<i64>> {
        Ok(match name {
            "NumberOfBytes" => self.number_of_bytes.get().copied(),
            _ => None,
        })
    }

    fn opt_bool(&self, _name: &str) -> R<bool> {
        // No boolean member is part of the typed parse (DryRun takes the general path).
        Ok(false)
    }

    fn context(&self, name: &str) -> R<BTreeMap<String, String>> {
        Ok(self.map_field(name).cloned().unwrap_or_default())
    }

    fn string_list(&self, name: &str) -> R<Option<Vec<String>>> {
        Ok(match name {
            "GrantTokens" => self
                .grant_tokens
                .get()
                .map(|t| t.iter().map(|s| (*s).to_string()).collect()),
            _ => None,
        })
    }
}

/// The data-plane operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HotOp {
    Encrypt,
    Decrypt,
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    ReEncrypt,
}

impl HotOp {
    fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "Encrypt" => Self::Encrypt,
            "Decrypt" => Self::Decrypt,
            "GenerateDataKey" => Self::GenerateDataKey,
            "GenerateDataKeyWithoutPlaintext" => Self::GenerateDataKeyWithoutPlaintext,
            "ReEncrypt" => Self::ReEncrypt,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Encrypt => "Encrypt",
            Self::Decrypt => "Decrypt",
            Self::GenerateDataKey => "GenerateDataKey",
            Self::GenerateDataKeyWithoutPlaintext => "GenerateDataKeyWithoutPlaintext",
            Self::ReEncrypt => "ReEncrypt",
        }
    }
}

// ---------------------------------------------------------------------------------------
// answers (written as `serde_json` writes the same object: members in name order)

const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

fn b64_member(out: &mut String, name: &str, bytes: &[u8]) {
    jsonw::key(out, name);
    out.push('"');
    B64.encode_string(bytes, out);
    out.push('"');
}

/// Parses text this module wrote (always valid JSON) back into a value, for the general
/// path.
fn to_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The answer of Encrypt.
pub(super) struct EncryptOut<'s> {
    pub(super) blob: Vec<u8>,
    pub(super) key: &'s Key,
    pub(super) material_id: &'s str,
}

impl EncryptOut<'_> {
    pub(super) fn write(&self, out: &mut String) {
        out.push('{');
        b64_member(out, "CiphertextBlob", &self.blob);
        out.push(',');
        jsonw::str_member(out, "EncryptionAlgorithm", SYMMETRIC_DEFAULT);
        out.push(',');
        jsonw::str_member(out, "KeyId", &self.key.arn);
        out.push(',');
        jsonw::str_member(out, "KeyMaterialId", self.material_id);
        out.push('}');
    }

    pub(super) fn to_value(&self) -> Value {
        let mut s = String::new();
        self.write(&mut s);
        to_value(&s)
    }
}

/// The answer of GenerateDataKey / GenerateDataKeyWithoutPlaintext.
pub(super) struct DataKeyOut<'s> {
    pub(super) blob: Vec<u8>,
    pub(super) key: &'s Key,
    pub(super) material_id: &'s str,
    /// The data key, for GenerateDataKey only.
    pub(super) plaintext: Option<Zeroizing<Vec<u8>>>,
}

impl DataKeyOut<'_> {
    pub(super) fn write(&self, out: &mut String) {
        out.push('{');
        b64_member(out, "CiphertextBlob", &self.blob);
        out.push(',');
        jsonw::str_member(out, "KeyId", &self.key.arn);
        out.push(',');
        jsonw::str_member(out, "KeyMaterialId", self.material_id);
        if let Some(p) = &self.plaintext {
            out.push(',');
            b64_member(out, "Plaintext", p);
        }
        out.push('}');
    }

    pub(super) fn to_value(&self) -> Value {
        let mut s = Zeroizing::new(String::new());
        self.write(&mut s);
        to_value(&s)
    }
}

/// The answer of Decrypt.
pub(super) struct DecryptOut<'s> {
    pub(super) key: &'s Key,
    pub(super) plaintext: Zeroizing<Vec<u8>>,
    pub(super) material_id: &'s str,
}

impl DecryptOut<'_> {
    pub(super) fn write(&self, out: &mut String) {
        out.push('{');
        jsonw::str_member(out, "EncryptionAlgorithm", SYMMETRIC_DEFAULT);
        out.push(',');
        jsonw::str_member(out, "KeyId", &self.key.arn);
        out.push(',');
        jsonw::str_member(out, "KeyMaterialId", self.material_id);
        out.push(',');
        b64_member(out, "Plaintext", &self.plaintext);
        out.push('}');
    }

    pub(super) fn to_value(&self) -> Value {
        let mut s = Zeroizing::new(String::new());
        self.write(&mut s);
        to_value(&s)
    }
}

/// The answer of ReEncrypt.
pub(super) struct ReEncryptOut<'s> {
    pub(super) blob: Vec<u8>,
    pub(super) src: &'s Key,
    pub(super) dst: &'s Key,
    pub(super) src_material_id: &'s str,
    pub(super) dst_material_id: &'s str,
}

impl ReEncryptOut<'_> {
    pub(super) fn write(&self, out: &mut String) {
        out.push('{');
        b64_member(out, "CiphertextBlob", &self.blob);
        out.push(',');
        jsonw::str_member(out, "DestinationEncryptionAlgorithm", SYMMETRIC_DEFAULT);
        out.push(',');
        jsonw::str_member(out, "DestinationKeyMaterialId", self.dst_material_id);
        out.push(',');
        jsonw::str_member(out, "KeyId", &self.dst.arn);
        out.push(',');
        jsonw::str_member(out, "SourceEncryptionAlgorithm", SYMMETRIC_DEFAULT);
        out.push(',');
        jsonw::str_member(out, "SourceKeyId", &self.src.arn);
        out.push(',');
        jsonw::str_member(out, "SourceKeyMaterialId", self.src_material_id);
        out.push('}');
    }

    pub(super) fn to_value(&self) -> Value {
        let mut s = String::new();
        self.write(&mut s);
        to_value(&s)
    }
}

// ---------------------------------------------------------------------------------------

impl Kms {
    /// Answers a data-plane operation whose body has the plain typed shape; `None` when the
    /// operation or the body is for the general path.
    pub(super) fn call_hot(
        &self,
        caller: &Caller,
        operation: &str,
        body: &[u8],
    ) -> Option<R<Vec<u8>>> {
        let op = HotOp::parse(operation)?;
        let start = body.iter().position(|b| !b.is_ascii_whitespace());
        let req: HotReq<'_> = match start {
            None => HotReq::default(),
            // Only an object (a struct also deserializes from an array).
            Some(i) if body[i] == b'{' => serde_json::from_slice(body).ok()?,
            Some(_) => return None,
        };
        let mut ev = Ev::default();
        let mut out = String::with_capacity(400);
        let result = self.run_hot(caller, op, &req, &mut ev, &mut out);
        self.record(
            caller,
            op.name(),
            super::AuditParams::Hot(&req),
            &ev,
            result.as_ref().err(),
        );
        Some(result.map(|()| out.into_bytes()))
    }

    /// [`Kms::run`] for a typed request (no DryRun; every data-plane operation reads only).
    fn run_hot(
        &self,
        caller: &Caller,
        op: HotOp,
        req: &HotReq<'_>,
        ev: &mut Ev,
        out: &mut String,
    ) -> R<()> {
        self.faults.apply(op.name(), SystemClock.now())?;
        let now = self.now();
        self.maintain(now)?;
        for key_ref in [
            req.key_id.get(),
            req.destination_key_id.get(),
            req.source_key_id.get(),
        ]
        .into_iter()
        .flatten()
        {
            self.ensure_managed(caller, key_ref, now)?;
        }
        let st = self.state.read();
        match op {
            HotOp::Encrypt => self.encrypt(&st, caller, req, ev)?.write(out),
            HotOp::Decrypt => self.decrypt(&st, caller, req, ev)?.write(out),
            HotOp::GenerateDataKey => self
                .generate_data_key(&st, caller, req, ev, true)?
                .write(out),
            HotOp::GenerateDataKeyWithoutPlaintext => self
                .generate_data_key(&st, caller, req, ev, false)?
                .write(out),
            HotOp::ReEncrypt => self.re_encrypt(&st, caller, req, ev)?.write(out),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::{Caller, Kms, KmsConfig, KmsError};

    const ROOT: &str = "arn:aws:iam::111122223333:root";
    const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/vol-1";

    fn last_record(kms: &Kms) -> Value {
        let mut r = kms.audit_records().pop().unwrap_or_default();
        if let Value::Object(m) = &mut r {
            for k in ["requestID", "eventID", "eventTime"] {
                assert!(m.remove(k).is_some_and(|v| v.is_string()), "{k}");
            }
        }
        r
    }

    /// Members that differ between two calls because they are random.
    fn mask(mut v: Value) -> Value {
        if let Value::Object(m) = &mut v {
            for k in ["CiphertextBlob"] {
                if let Some(x) = m.get_mut(k) {
                    assert!(x.is_string());
                    *x = json!("<random>");
                }
            }
        }
        v
    }

    /// The typed path and the general path answer and audit alike.
    fn same(kms: &Kms, caller: &Caller, op: &str, req: &Value) -> Result<Value, KmsError> {
        let body = serde_json::to_vec(req).unwrap_or_default();
        let typed = kms
            .call_hot(caller, op, &body)
            .unwrap_or_else(|| panic!("{op} {req} took the general path"))
            .map(|b| serde_json::from_slice::<Value>(&b).unwrap_or_default());
        let typed_rec = last_record(kms);
        let general = kms.call_json(caller, op, req.clone());
        let general_rec = last_record(kms);
        assert_eq!(typed_rec, general_rec, "{op} {req}");
        match (&typed, &general) {
            (Ok(a), Ok(b)) => {
                let (a, b) = (mask(a.clone()), mask(b.clone()));
                if op == "GenerateDataKey" {
                    assert_eq!(
                        a.as_object().map(|m| m.keys().collect::<Vec<_>>()),
                        b.as_object().map(|m| m.keys().collect::<Vec<_>>())
                    );
                    assert_eq!(a["KeyId"], b["KeyId"]);
                } else {
                    assert_eq!(a, b, "{op} {req}");
                }
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{op} {req}"),
            _ => panic!("{op} {req}: typed {typed:?} general {general:?}"),
        }
        typed
    }

    #[test]
    fn typed_path_answers_and_audits_like_the_general_path() {
        let kms = Kms::in_memory(KmsConfig::default());
        let root = Caller::new(ROOT);
        let session = Caller::new(SESSION);
        let via =
            Caller::new("arn:aws:iam::111122223333:user/alice").via("ec2.us-west-2.amazonaws.com");
        let key = kms
            .call_json(&root, "CreateKey", json!({}))
            .unwrap_or_default();
        let arn = key["KeyMetadata"]["Arn"].clone();
        let key2 = kms
            .call_json(&root, "CreateKey", json!({}))
            .unwrap_or_default();
        let arn2 = key2["KeyMetadata"]["Arn"].clone();
        let ctx = json!({"aws:ebs:id": "vol-1", "odd \"key\"\n": "tab\t \\ é"});
        let grant = kms.call_json(
            &root,
            "CreateGrant",
            json!({"KeyId": arn, "GranteePrincipal": SESSION, "Operations": ["Decrypt"],
                   "Constraints": {"EncryptionContextSubset": {"aws:ebs:id": "vol-1"}}}),
        );
        assert!(grant.is_ok(), "{grant:?}");

        let gdk = same(
            &kms,
            &root,
            "GenerateDataKey",
            &json!({"KeyId": arn, "NumberOfBytes": 64, "EncryptionContext": ctx}),
        );
        let gdk = gdk.unwrap_or_default();
        assert!(gdk["Plaintext"].is_string());
        let wrapped = same(
            &kms,
            &via,
            "GenerateDataKeyWithoutPlaintext",
            &json!({"KeyId": "alias/aws/ebs", "KeySpec": "AES_256", "EncryptionContext": ctx}),
        );
        assert!(wrapped.is_ok(), "{wrapped:?}");
        let blob = gdk["CiphertextBlob"].clone();
        let dec = same(
            &kms,
            &session,
            "Decrypt",
            &json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
        );
        assert_eq!(dec.unwrap_or_default()["Plaintext"], gdk["Plaintext"]);
        let enc = same(
            &kms,
            &root,
            "Encrypt",
            &json!({"KeyId": arn2, "Plaintext": "aGVsbG8=", "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        );
        assert!(enc.is_ok(), "{enc:?}");
        let re = same(
            &kms,
            &root,
            "ReEncrypt",
            &json!({"CiphertextBlob": blob,
            "SourceEncryptionContext": ctx, "DestinationKeyId": arn2,
            "DestinationEncryptionContext": {"a": "b"}, "SourceKeyId": arn}),
        );
        assert!(re.is_ok(), "{re:?}");

        // Refusals.
        for (caller, op, req) in [
            (
                &session,
                "Decrypt",
                json!({"CiphertextBlob": blob, "EncryptionContext": {"aws:ebs:id": "vol-2"}}),
            ),
            (&session, "Decrypt", json!({"CiphertextBlob": blob})),
            (
                &root,
                "Decrypt",
                json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "KeyId": arn2}),
            ),
            (
                &root,
                "Decrypt",
                json!({"CiphertextBlob": "AAAA", "EncryptionContext": ctx}),
            ),
            (&root, "Decrypt", json!({"CiphertextBlob": "not base64!"})),
            (&root, "Decrypt", json!({})),
            (
                &root,
                "Decrypt",
                json!({"CiphertextBlob": blob, "GrantTokens": ["bogus"]}),
            ),
            (
                &root,
                "Decrypt",
                json!({"CiphertextBlob": blob, "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
            ),
            (
                &session,
                "Encrypt",
                json!({"KeyId": arn, "Plaintext": "aGVsbG8="}),
            ),
            (&root, "Encrypt", json!({"KeyId": arn, "Plaintext": ""})),
            (
                &root,
                "GenerateDataKey",
                json!({"KeyId": arn, "NumberOfBytes": 0}),
            ),
            (
                &root,
                "GenerateDataKey",
                json!({"KeyId": arn, "NumberOfBytes": 64, "KeySpec": "AES_256"}),
            ),
            (
                &root,
                "GenerateDataKey",
                json!({"KeyId": arn, "KeySpec": "AES_512"}),
            ),
            (
                &root,
                "GenerateDataKeyWithoutPlaintext",
                json!({"KeyId": "alias/nope", "NumberOfBytes": 8}),
            ),
            (
                &root,
                "GenerateDataKeyWithoutPlaintext",
                json!({"NumberOfBytes": 8}),
            ),
            (
                &root,
                "ReEncrypt",
                json!({"CiphertextBlob": blob, "SourceEncryptionContext": ctx}),
            ),
        ] {
            assert!(same(&kms, caller, op, &req).is_err(), "{op} {req}");
        }
    }

    #[test]
    fn unusual_bodies_take_the_general_path() {
        let kms = Kms::in_memory(KmsConfig::default());
        let root = Caller::new(ROOT);
        for body in [
            &br#"{"KeyId": null, "NumberOfBytes": 8}"#[..],
            br#"{"KeyId": "k", "NumberOfBytes": 8.0}"#,
            br#"{"KeyId": "a\/b", "NumberOfBytes": 8}"#,
            br#"{"KeyId": "k", "NumberOfBytes": 8, "DryRun": false}"#,
            br#"{"KeyId": "k", "NumberOfBytes": 8, "Description": "x"}"#,
            br#"{"KeyId": "k", "KeyId": "k"}"#,
            br#"{"EncryptionContext": {"a": 1}}"#,
            br#"["k", null]"#,
            b"not json",
        ] {
            assert!(
                kms.call_hot(&root, "GenerateDataKey", body).is_none(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(kms.call_hot(&root, "DescribeKey", b"{}").is_none());
        // An empty body is an empty request on either path.
        let typed = kms.call_hot(&root, "GenerateDataKey", b" ");
        assert!(matches!(typed, Some(Err(_))));
    }
}

#[cfg(test)]
mod account_tests {
    use proptest::prelude::*;

    use crate::Caller;

    proptest! {
        #[test]
        fn principal_account_matches_caller_account(s in "[a:1-3]{0,12}|arn:aws:(iam|sts)::[0-9]{10,13}:[a-z:/]{0,12}") {
            let caller = Caller::new(s.clone());
            prop_assert_eq!(super::super::principal_account(&s), caller.account());
        }
    }
}
