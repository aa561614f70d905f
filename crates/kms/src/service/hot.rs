//! The data-plane operations (Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext,
//! ReEncrypt) without `serde_json::Value` trees: the body is deserialized straight into the
//! operation's typed request, and the answer is a response struct borrowing from the handler's
//! result, serialized through `serde` into the response buffer (`crate::jsonw::to_writer`,
//! the text `serde_json` writes), as the audit record is (`crate::audit::AuditRecord`).
//!
//! The typed parse accepts only the plain shapes: members of the request type with the right
//! JSON type, no `null`, no `DryRun` or `DryRunModifiers`. Anything else takes the general
//! path ([`Kms::call_json`]), which reads the same request type from its JSON members with
//! every SerializationException message; the handlers are the same code for both paths, so a
//! request answers alike on either.

use ebsim_kms_api::types::Members;
use ebsim_kms_api::types::crypto::{
    DecryptRequest, EncryptRequest, GenerateDataKeyRequest, GenerateDataKeyWithoutPlaintextRequest,
    ReEncryptRequest,
};
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::Value;
use zeroize::Zeroizing;

use super::{Ev, Kms, R, SystemClock};
use crate::api::Caller;
use crate::clock::Clock as _;
use crate::jsonw::{self, Base64};
use crate::state::Key;

/// A data-plane request, typed.
pub(super) enum HotReq {
    Encrypt(EncryptRequest),
    Decrypt(DecryptRequest),
    /// GenerateDataKey or GenerateDataKeyWithoutPlaintext (the same members).
    DataKey(GenerateDataKeyRequest),
    ReEncrypt(ReEncryptRequest),
}

/// The typed request in `body`, `None` when it is not of the plain shape.
fn typed<T: DeserializeOwned + Default>(body: &[u8]) -> Option<T> {
    match body.iter().position(|b| !b.is_ascii_whitespace()) {
        None => Some(T::default()),
        // Only an object (a struct also deserializes from an array).
        Some(i) if body[i] == b'{' => serde_json::from_slice(body).ok(),
        Some(_) => None,
    }
}

impl HotReq {
    fn parse(op: HotOp, body: &[u8]) -> Option<Self> {
        let req = match op {
            HotOp::Encrypt => Self::Encrypt(typed(body)?),
            HotOp::Decrypt => Self::Decrypt(typed(body)?),
            HotOp::GenerateDataKey => Self::DataKey(typed(body)?),
            HotOp::GenerateDataKeyWithoutPlaintext => {
                Self::DataKey(typed::<GenerateDataKeyWithoutPlaintextRequest>(body)?.into())
            }
            HotOp::ReEncrypt => Self::ReEncrypt(typed(body)?),
        };
        // An asymmetric algorithm (RSA-OAEP) takes the general path too.
        let asym = |a: &Option<String>| super::asym::is_asymmetric_algorithm(a.as_deref());
        let dry = match &req {
            Self::Encrypt(r) => r.dry_run.is_some() || asym(&r.encryption_algorithm),
            Self::Decrypt(r) => {
                r.dry_run.is_some()
                    || r.dry_run_modifiers.is_some()
                    || asym(&r.encryption_algorithm)
            }
            Self::DataKey(r) => r.dry_run.is_some(),
            Self::ReEncrypt(r) => {
                r.dry_run.is_some()
                    || r.dry_run_modifiers.is_some()
                    || asym(&r.source_encryption_algorithm)
                    || asym(&r.destination_encryption_algorithm)
            }
        };
        (!dry).then_some(req)
    }

    /// The request's members (for its audit record).
    pub(super) fn members(&self) -> &dyn Members {
        match self {
            Self::Encrypt(r) => r,
            Self::Decrypt(r) => r,
            Self::DataKey(r) => r,
            Self::ReEncrypt(r) => r,
        }
    }

    /// The key references the request names.
    /// The keys the request names, each with the action the call asks on it.
    fn key_refs(&self, op: HotOp) -> [Option<(&str, &'static str)>; 2] {
        fn named<'a>(
            k: &'a Option<String>,
            action: &'static str,
        ) -> Option<(&'a str, &'static str)> {
            k.as_deref().map(|k| (k, action))
        }
        match self {
            Self::Encrypt(r) => [named(&r.key_id, op.name()), None],
            Self::Decrypt(r) => [named(&r.key_id, op.name()), None],
            Self::DataKey(r) => [named(&r.key_id, op.name()), None],
            Self::ReEncrypt(r) => [
                named(&r.destination_key_id, "ReEncryptTo"),
                named(&r.source_key_id, "ReEncryptFrom"),
            ],
        }
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
// answers: each `*Out` serializes as its operation's response body, through a struct that
// borrows from it (members in name order, as `serde_json` writes the same object as a value)

const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

/// Bytes of member names, quotes, colons, commas, braces and constant values a response
/// body has at most (ReEncrypt's, the longest, has 195).
const BODY_FRAME: usize = 256;

/// The most bytes `s` takes as a JSON string: its quotes, and, when it needs escaping (never
/// for an ARN or a material id), six bytes (`\u00XX`) for each of its bytes.
fn str_max(s: &str) -> usize {
    if jsonw::plain(s) {
        2 + s.len()
    } else {
        2 + 6 * s.len()
    }
}

/// The bytes `n` bytes take as a base64 JSON string.
fn b64_max(n: usize) -> usize {
    2 + n.div_ceil(3) * 4
}

/// Serializes `out` as JSON text appended to `buf`, which first grows to hold all of it: the
/// text is written in place, never copied by a growing buffer (a copy would leave plaintext
/// behind in freed memory; docs/kms.md, "Plaintext in memory").
fn write_json(out: &impl Serialize, max_len: usize, buf: &mut Vec<u8>) {
    buf.reserve_exact(max_len);
    let capacity = buf.capacity();
    // These structs have no map with keys that are not strings: writing them cannot fail.
    let _ = jsonw::to_writer(buf, out);
    debug_assert_eq!(buf.capacity(), capacity, "the response outgrew its bound");
}

/// `out` as a JSON value, for the general path: its text is written into a buffer wiped
/// afterwards and parsed (`serde_json::to_value` would build long base64 text in a growing
/// string; the strings of the value are allocated once, at their length).
fn json_value(out: &impl Serialize, max_len: usize) -> Value {
    let mut text = Zeroizing::new(Vec::new());
    write_json(out, max_len, &mut text);
    serde_json::from_slice(&text).unwrap_or(Value::Null)
}

/// The answer of Encrypt.
pub(super) struct EncryptOut<'s> {
    pub(super) blob: Vec<u8>,
    pub(super) key: &'s Key,
    pub(super) material_id: &'s str,
}

/// The body of an Encrypt answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptBody<'a> {
    ciphertext_blob: Base64<'a>,
    encryption_algorithm: &'static str,
    key_id: &'a str,
    key_material_id: &'a str,
}

impl Serialize for EncryptOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EncryptBody {
            ciphertext_blob: Base64(&self.blob),
            encryption_algorithm: SYMMETRIC_DEFAULT,
            key_id: &self.key.arn,
            key_material_id: self.material_id,
        }
        .serialize(s)
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

/// The body of a GenerateDataKey / GenerateDataKeyWithoutPlaintext answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyBody<'a> {
    ciphertext_blob: Base64<'a>,
    key_id: &'a str,
    key_material_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<Base64<'a>>,
}

impl Serialize for DataKeyOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DataKeyBody {
            ciphertext_blob: Base64(&self.blob),
            key_id: &self.key.arn,
            key_material_id: self.material_id,
            plaintext: self.plaintext.as_deref().map(|p| Base64(p)),
        }
        .serialize(s)
    }
}

/// The answer of Decrypt.
pub(super) struct DecryptOut<'s> {
    pub(super) key: &'s Key,
    pub(super) plaintext: Zeroizing<Vec<u8>>,
    pub(super) material_id: &'s str,
}

/// The body of a Decrypt answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptBody<'a> {
    encryption_algorithm: &'static str,
    key_id: &'a str,
    key_material_id: &'a str,
    plaintext: Base64<'a>,
}

impl Serialize for DecryptOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DecryptBody {
            encryption_algorithm: SYMMETRIC_DEFAULT,
            key_id: &self.key.arn,
            key_material_id: self.material_id,
            plaintext: Base64(&self.plaintext),
        }
        .serialize(s)
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

/// The body of a ReEncrypt answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncryptBody<'a> {
    ciphertext_blob: Base64<'a>,
    destination_encryption_algorithm: &'static str,
    destination_key_material_id: &'a str,
    key_id: &'a str,
    source_encryption_algorithm: &'static str,
    source_key_id: &'a str,
    source_key_material_id: &'a str,
}

impl Serialize for ReEncryptOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ReEncryptBody {
            ciphertext_blob: Base64(&self.blob),
            destination_encryption_algorithm: SYMMETRIC_DEFAULT,
            destination_key_material_id: self.dst_material_id,
            key_id: &self.dst.arn,
            source_encryption_algorithm: SYMMETRIC_DEFAULT,
            source_key_id: &self.src.arn,
            source_key_material_id: self.src_material_id,
        }
        .serialize(s)
    }
}

impl EncryptOut<'_> {
    fn max_len(&self) -> usize {
        BODY_FRAME + b64_max(self.blob.len()) + str_max(&self.key.arn) + str_max(self.material_id)
    }
}

impl DataKeyOut<'_> {
    fn max_len(&self) -> usize {
        BODY_FRAME
            + b64_max(self.blob.len())
            + str_max(&self.key.arn)
            + str_max(self.material_id)
            + self.plaintext.as_ref().map_or(0, |p| b64_max(p.len()))
    }
}

impl DecryptOut<'_> {
    fn max_len(&self) -> usize {
        BODY_FRAME
            + str_max(&self.key.arn)
            + str_max(self.material_id)
            + b64_max(self.plaintext.len())
    }
}

impl ReEncryptOut<'_> {
    fn max_len(&self) -> usize {
        BODY_FRAME
            + b64_max(self.blob.len())
            + str_max(&self.src.arn)
            + str_max(&self.dst.arn)
            + str_max(self.src_material_id)
            + str_max(self.dst_material_id)
    }
}

macro_rules! json_out {
    ($($out:ident),*) => {$(
        impl $out<'_> {
            /// Appends the response body to `buf` (grown first to hold all of it).
            pub(super) fn write(&self, buf: &mut Vec<u8>) {
                write_json(self, self.max_len(), buf);
            }

            /// The response body as a JSON value (the general path).
            pub(super) fn to_value(&self) -> Value {
                json_value(self, self.max_len())
            }
        }
    )*};
}
json_out!(EncryptOut, DataKeyOut, DecryptOut, ReEncryptOut);

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
        let req = HotReq::parse(op, body)?;
        let mut ev = Ev::default();
        // Allocated by the answer's `write`, at the answer's size.
        let mut out = Vec::new();
        let result = self.run_hot(caller, op, &req, &mut ev, &mut out);
        self.record(
            caller,
            op.name(),
            super::AuditParams::Hot(&req),
            &ev,
            result.as_ref().err(),
        );
        Some(result.map(|()| out))
    }

    /// [`Kms::run`] for a typed request (no DryRun; every data-plane operation reads only).
    fn run_hot(
        &self,
        caller: &Caller,
        op: HotOp,
        req: &HotReq,
        ev: &mut Ev,
        out: &mut Vec<u8>,
    ) -> R<()> {
        self.faults.apply(op.name(), || SystemClock.now())?;
        let now = self.now();
        ev.now = Some(now);
        self.maintain(now)?;
        for (key_ref, action) in req.key_refs(op).into_iter().flatten() {
            self.ensure_managed(caller, key_ref, action, now)?;
        }
        let st = self.state.read();
        match (op, req) {
            (HotOp::Encrypt, HotReq::Encrypt(r)) => {
                self.handle_encrypt(&st, caller, r, ev)?.write(out)
            }
            (HotOp::Decrypt, HotReq::Decrypt(r)) => {
                self.handle_decrypt(&st, caller, r, ev)?.write(out)
            }
            (HotOp::GenerateDataKey, HotReq::DataKey(r)) => self
                .handle_generate_data_key(&st, caller, r, ev, true)?
                .write(out),
            (HotOp::GenerateDataKeyWithoutPlaintext, HotReq::DataKey(r)) => self
                .handle_generate_data_key(&st, caller, r, ev, false)?
                .write(out),
            (HotOp::ReEncrypt, HotReq::ReEncrypt(r)) => {
                self.handle_re_encrypt(&st, caller, r, ev)?.write(out);
            }
            _ => return Err(super::internal("request of another operation")),
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
            (&root, "Decrypt", json!({"CiphertextBlob": "bm90IGEga2V5"})),
            (&root, "Decrypt", json!({})),
            (
                &root,
                "Decrypt",
                json!({"CiphertextBlob": blob, "GrantTokens": ["bogus"]}),
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

    /// Every answer fits the buffer its `write` allocated (`write_json` asserts that the
    /// buffer never grew), for data keys of every size and the longest ARNs.
    #[test]
    fn answers_are_written_without_growing_their_buffer() {
        let kms = Kms::in_memory(KmsConfig::default());
        let root = Caller::new(ROOT);
        let key = kms
            .call_json(&root, "CreateKey", json!({}))
            .unwrap_or_default();
        let arn = key["KeyMetadata"]["Arn"].clone();
        for n in [1, 2, 3, 32, 64, 255, 256, 767, 768, 769, 1024] {
            let body =
                serde_json::to_vec(&json!({"KeyId": arn, "NumberOfBytes": n})).unwrap_or_default();
            let out = kms.call_hot(&root, "GenerateDataKey", &body);
            let Some(Ok(out)) = out else {
                panic!("GenerateDataKey of {n} bytes: {out:?}")
            };
            let v: Value = serde_json::from_slice(&out).unwrap_or_default();
            let blob = v["CiphertextBlob"].clone();
            for (op, req) in [
                ("Decrypt", json!({"CiphertextBlob": blob})),
                (
                    "ReEncrypt",
                    json!({"CiphertextBlob": blob, "DestinationKeyId": arn}),
                ),
                (
                    "Encrypt",
                    json!({"KeyId": arn, "Plaintext": v["Plaintext"]}),
                ),
            ] {
                let body = serde_json::to_vec(&req).unwrap_or_default();
                let out = kms.call_hot(&root, op, &body);
                assert!(matches!(out, Some(Ok(_))), "{op} of {n} bytes: {out:?}");
                let mut req = req;
                req["DryRun"] = json!(false);
                let body = serde_json::to_vec(&req).unwrap_or_default();
                assert!(kms.call_hot(&root, op, &body).is_none());
                let general = kms.call(&root, op, &body);
                assert!(general.is_ok(), "{op} of {n} bytes: {general:?}");
            }
        }
    }

    #[test]
    fn unusual_bodies_take_the_general_path() {
        let kms = Kms::in_memory(KmsConfig::default());
        let root = Caller::new(ROOT);
        for body in [
            &br#"{"KeyId": null, "NumberOfBytes": 8}"#[..],
            br#"{"KeyId": "k", "NumberOfBytes": 8.0}"#,
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
        // A blob that is not base64 takes the general path, which has the message.
        assert!(
            kms.call_hot(&root, "Decrypt", br#"{"CiphertextBlob": "not base64!"}"#)
                .is_none()
        );
        // Escaped strings are plain: the typed parse unescapes them.
        let typed = kms.call_hot(
            &root,
            "GenerateDataKey",
            br#"{"KeyId": "a\/b", "NumberOfBytes": 8}"#,
        );
        assert!(matches!(typed, Some(Err(_))));
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
