//! The data-plane operations (Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext,
//! ReEncrypt) without `serde_json::Value` trees: the body is deserialized straight into the
//! operation's typed request, the answer is written straight as JSON text, and so is the
//! audit record.
//!
//! The typed parse accepts only the plain shapes: members of the request type with the right
//! JSON type, no `null`, no `DryRun` or `DryRunModifiers`. Anything else takes the general
//! path ([`Kms::call_json`]), which reads the same request type from its JSON members with
//! every SerializationException message; the handlers are the same code for both paths, so a
//! request answers alike on either.

use base64::Engine as _;
use ebsim_kms_api::types::crypto::{
    DecryptRequest, EncryptRequest, GenerateDataKeyRequest, GenerateDataKeyWithoutPlaintextRequest,
    ReEncryptRequest,
};
use ebsim_kms_api::types::{MemberRef, Members};
use serde::de::DeserializeOwned;
use serde_json::Value;
use zeroize::Zeroizing;

use super::{B64, Ev, Kms, R, SystemClock};
use crate::api::Caller;
use crate::clock::Clock as _;
use crate::jsonw;
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
        let dry = match &req {
            Self::Encrypt(r) => r.dry_run.is_some(),
            Self::Decrypt(r) => r.dry_run.is_some() || r.dry_run_modifiers.is_some(),
            Self::DataKey(r) => r.dry_run.is_some(),
            Self::ReEncrypt(r) => r.dry_run.is_some() || r.dry_run_modifiers.is_some(),
        };
        (!dry).then_some(req)
    }

    fn members(&self) -> &dyn Members {
        match self {
            Self::Encrypt(r) => r,
            Self::Decrypt(r) => r,
            Self::DataKey(r) => r,
            Self::ReEncrypt(r) => r,
        }
    }

    /// The key references the request names.
    fn key_refs(&self) -> [Option<&str>; 2] {
        match self {
            Self::Encrypt(r) => [r.key_id.as_deref(), None],
            Self::Decrypt(r) => [r.key_id.as_deref(), None],
            Self::DataKey(r) => [r.key_id.as_deref(), None],
            Self::ReEncrypt(r) => [r.destination_key_id.as_deref(), r.source_key_id.as_deref()],
        }
    }

    /// Writes `requestParameters`: the members `audited` names (the operation table's list),
    /// in name order, names in camelCase; `null` when there are none (as the general path
    /// writes them).
    pub(super) fn write_audit_params(&self, audited: &crate::ops::Operation, out: &mut String) {
        let mut members: Vec<(&'static str, MemberRef<'_>)> = Vec::with_capacity(4);
        self.members().visit(&mut |name, v| {
            if audited.records_member(name) {
                members.push((name, v));
            }
        });
        if members.is_empty() {
            out.push_str("null");
            return;
        }
        members.sort_unstable_by_key(|(name, _)| *name);
        for (i, (name, v)) in members.iter().enumerate() {
            out.push(if i == 0 { '{' } else { ',' });
            jsonw::key(out, &ebsim_kms_api::types::constraint::camel(name));
            match v {
                MemberRef::Str(s) => jsonw::str(out, s),
                MemberRef::Int(n) => jsonw::int(out, *n),
                MemberRef::Bool(b) => jsonw::bool(out, *b),
                MemberRef::Map(m) => jsonw::string_map(out, m),
                MemberRef::List(l) => {
                    out.push('[');
                    for (j, item) in l.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        jsonw::str(out, item);
                    }
                    out.push(']');
                }
                MemberRef::Opaque => out.push_str("null"),
            }
        }
        out.push('}');
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
        let req = HotReq::parse(op, body)?;
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
        req: &HotReq,
        ev: &mut Ev,
        out: &mut String,
    ) -> R<()> {
        self.faults.apply(op.name(), SystemClock.now())?;
        let now = self.now();
        self.maintain(now)?;
        for key_ref in req.key_refs().into_iter().flatten() {
            self.ensure_managed(caller, key_ref, now)?;
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
