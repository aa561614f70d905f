//! ReEncrypt with an RSA key on either side (docs/kms.md, "Asymmetric and HMAC keys"): a
//! symmetric ciphertext re-encrypted under RSA-OAEP and back, RSA to RSA, the members AWS
//! requires (SourceKeyId and the algorithms), no encryption context on the RSA side, the
//! ReEncryptFrom/ReEncryptTo permissions, the RSA size limit, and the trail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::{fails, kms, ok, root};
use ebsim_kms::{Caller, ErrorType, Kms};
use serde_json::{Value, json};

fn key(kms: &Kms, spec: &str) -> String {
    let body = if spec == "SYMMETRIC_DEFAULT" {
        json!({})
    } else {
        json!({"KeySpec": spec, "KeyUsage": "ENCRYPT_DECRYPT"})
    };
    ok(kms, &root(), "CreateKey", body)["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
}

#[test]
fn symmetric_to_rsa_to_rsa_to_symmetric_keeps_the_plaintext() {
    let (kms, _) = kms();
    let sym = key(&kms, "SYMMETRIC_DEFAULT");
    let rsa = key(&kms, "RSA_2048");
    let rsa3 = key(&kms, "RSA_3072");
    let pt = "c2VjcmV0IGRhdGEga2V5IGJ5dGVz"; // "secret data key bytes"
    let c0 = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": sym, "Plaintext": pt, "EncryptionContext": {"a": "b"}}),
    );
    // Symmetric → RSA-OAEP SHA-256.
    let c1 = ok(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": c0["CiphertextBlob"], "SourceEncryptionContext": {"a": "b"},
               "DestinationKeyId": rsa, "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_eq!(c1["KeyId"], json!(rsa));
    assert_eq!(c1["SourceKeyId"], json!(sym));
    assert_eq!(c1["SourceEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    assert_eq!(c1["DestinationEncryptionAlgorithm"], "RSAES_OAEP_SHA_256");
    assert!(c1["SourceKeyMaterialId"].is_string());
    assert!(c1.get("DestinationKeyMaterialId").is_none());
    assert_eq!(b64(&c1["CiphertextBlob"]).len(), 256);
    let d = ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"KeyId": rsa, "CiphertextBlob": c1["CiphertextBlob"],
               "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_eq!(d["Plaintext"], pt);
    // RSA-2048 SHA-256 → RSA-3072 SHA-1.
    let c2 = ok(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": c1["CiphertextBlob"], "SourceKeyId": rsa,
               "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
               "DestinationKeyId": rsa3, "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
    );
    assert_eq!(b64(&c2["CiphertextBlob"]).len(), 384);
    assert_eq!(c2["SourceKeyId"], json!(rsa));
    // RSA → symmetric, under a new context.
    let c3 = ok(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": c2["CiphertextBlob"], "SourceKeyId": rsa3,
               "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_1",
               "DestinationKeyId": sym, "DestinationEncryptionContext": {"c": "d"}}),
    );
    assert_eq!(c3["DestinationEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    assert!(c3["DestinationKeyMaterialId"].is_string());
    let d = ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": c3["CiphertextBlob"], "EncryptionContext": {"c": "d"}}),
    );
    assert_eq!(d["Plaintext"], pt);
    assert_eq!(d["KeyId"], json!(sym));
}

#[test]
fn missing_members_contexts_and_limits_get_aws_errors() {
    let (kms, _) = kms();
    let sym = key(&kms, "SYMMETRIC_DEFAULT");
    let rsa = key(&kms, "RSA_2048");
    let rsa_ct = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": rsa, "Plaintext": "aGk=", "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
    )["CiphertextBlob"]
        .clone();
    // An RSA ciphertext without SourceKeyId: nothing names the key.
    let e = fails(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": rsa_ct, "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_1",
               "DestinationKeyId": sym}),
    );
    assert_eq!(e.error_type, ErrorType::InvalidCiphertextException);
    // The wrong source algorithm: opaque.
    let e = fails(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": rsa_ct, "SourceKeyId": rsa,
               "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "DestinationKeyId": sym}),
    );
    assert_eq!(e.error_type, ErrorType::InvalidCiphertextException);
    assert_eq!(e.message, None);
    // A context on the RSA side.
    let e = fails(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": rsa_ct, "SourceKeyId": rsa,
               "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_1",
               "SourceEncryptionContext": {"a": "b"}, "DestinationKeyId": sym}),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    // An RSA destination without its algorithm.
    let sym_ct = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": sym, "Plaintext": base64::engine::general_purpose::STANDARD.encode([7u8; 191])}),
    )["CiphertextBlob"]
        .clone();
    let e = fails(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": sym_ct, "DestinationKeyId": rsa}),
    );
    assert_eq!(e.error_type, ErrorType::InvalidKeyUsageException);
    assert_eq!(
        e.message.as_deref(),
        Some("Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.")
    );
    // An RSA algorithm for a symmetric destination.
    let e = fails(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": sym_ct, "DestinationKeyId": sym,
               "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_eq!(e.error_type, ErrorType::InvalidKeyUsageException);
    // 191 bytes do not fit RSA-2048 with SHA-256 (190 at most).
    let e = fails(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": sym_ct, "DestinationKeyId": rsa,
               "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    assert_eq!(
        e.message.as_deref(),
        Some(
            "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes."
        )
    );
    // A signing key cannot be a destination.
    let signer = ok(
        &kms,
        &root(),
        "CreateKey",
        json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}),
    )["KeyMetadata"]["Arn"]
        .clone();
    let e = fails(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": rsa_ct, "SourceKeyId": rsa,
               "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_1", "DestinationKeyId": signer,
               "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
    );
    assert_eq!(e.error_type, ErrorType::InvalidKeyUsageException);
}

#[test]
fn re_encrypt_from_and_to_are_authorized_on_each_key() {
    let (kms, _) = kms();
    let sym = key(&kms, "SYMMETRIC_DEFAULT");
    let policy = |actions: &[&str]| {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"},
             "Action": actions, "Resource": "*"}]})
        .to_string()
    };
    let rsa = ok(
        &kms,
        &root(),
        "CreateKey",
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT",
               "Policy": policy(&["kms:ReEncryptFrom"])}),
    )["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": sym, "PolicyName": "default", "Policy": policy(&["kms:Encrypt"])}),
    );
    let app = Caller::new("arn:aws:iam::111122223333:role/App");
    let rsa_ct = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": rsa, "Plaintext": "aGk=", "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
    )["CiphertextBlob"]
        .clone();
    let req = json!({"CiphertextBlob": rsa_ct, "SourceKeyId": rsa,
                     "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_1", "DestinationKeyId": sym});
    // ReEncryptFrom on the RSA key but not ReEncryptTo on the symmetric one.
    let e = fails(&kms, &app, "ReEncrypt", req.clone());
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    assert!(e.message.unwrap_or_default().contains("kms:ReEncryptTo"));
    ok(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": sym, "PolicyName": "default", "Policy": policy(&["kms:ReEncryptTo"])}),
    );
    let out = ok(&kms, &app, "ReEncrypt", req.clone());
    assert_eq!(out["SourceKeyId"], json!(rsa));
    // Without ReEncryptFrom on the source.
    ok(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": rsa, "PolicyName": "default", "Policy": policy(&["kms:Decrypt"])}),
    );
    let e = fails(&kms, &app, "ReEncrypt", req);
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    assert!(e.message.unwrap_or_default().contains("kms:ReEncryptFrom"));
    // The trail records the calls against the source key, with no plaintext or ciphertext.
    let records = kms.audit_records();
    let recs: Vec<_> = records
        .iter()
        .filter(|r| r["eventName"] == "ReEncrypt")
        .collect();
    assert_eq!(recs.len(), 3);
    for r in recs {
        assert_eq!(r["resources"][0]["ARN"], json!(rsa), "{r}");
        let text = r.to_string();
        assert!(!text.contains(rsa_ct.as_str().unwrap()), "{text}");
    }
}
