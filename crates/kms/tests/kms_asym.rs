//! Asymmetric and HMAC keys through the typed API (docs/kms.md, "Asymmetric and HMAC keys"):
//! each new operation with valid input and with each error of its botocore `errors` list
//! that ebsim can produce, the key-state table of the new operations, the material kept
//! across a reopen, and no secret in the audit trail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{iam, kms, ok, root};
use ebsim_kms::types::asym::*;
use ebsim_kms::types::crypto::{DecryptRequest, EncryptRequest};
use ebsim_kms::types::{Blob, SecretBlob};
use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig, KmsError};
use serde_json::{Value, json};
use sha2::Digest as _;

fn key(kms: &Kms, spec: &str, usage: &str) -> String {
    let out = ok(
        kms,
        &root(),
        "CreateKey",
        json!({"KeySpec": spec, "KeyUsage": usage}),
    );
    out["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
}

fn secret(b: &[u8]) -> Option<SecretBlob> {
    Some(SecretBlob::from(b.to_vec()))
}

fn sign_req(key: &str, alg: &str, mt: Option<&str>, msg: &[u8]) -> SignRequest {
    SignRequest {
        key_id: Some(key.into()),
        message: secret(msg),
        message_type: mt.map(Into::into),
        signing_algorithm: Some(alg.into()),
        ..Default::default()
    }
}

fn verify_req(key: &str, alg: &str, mt: Option<&str>, msg: &[u8], sig: &[u8]) -> VerifyRequest {
    VerifyRequest {
        key_id: Some(key.into()),
        message: secret(msg),
        message_type: mt.map(Into::into),
        signature: Some(Blob(sig.to_vec())),
        signing_algorithm: Some(alg.into()),
        ..Default::default()
    }
}

fn error<T: ebsim_kms::types::Call>(kms: &Kms, caller: &Caller, req: &T) -> KmsError {
    match kms.send(caller, req) {
        Ok(_) => panic!("{} should fail", T::OPERATION),
        Err(e) => e,
    }
}

fn is(e: &KmsError, t: ErrorType, msg: &str) {
    assert_eq!(e.error_type, t, "{e}");
    assert_eq!(e.message.as_deref().unwrap_or(""), msg, "{e}");
}

#[test]
fn every_signing_spec_signs_verifies_and_describes_its_algorithms() {
    let (kms, _) = kms();
    let cases: &[(&str, &[&str])] = &[
        (
            "RSA_2048",
            &["RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_512"],
        ),
        ("RSA_3072", &["RSASSA_PSS_SHA_384"]),
        ("ECC_NIST_P256", &["ECDSA_SHA_256"]),
        ("ECC_NIST_P384", &["ECDSA_SHA_384"]),
        ("ECC_NIST_P521", &["ECDSA_SHA_512"]),
        ("ECC_SECG_P256K1", &["ECDSA_SHA_256"]),
        ("ECC_NIST_EDWARDS25519", &["ED25519_SHA_512"]),
        ("ML_DSA_44", &["ML_DSA_SHAKE_256"]),
    ];
    for (spec, algs) in cases {
        let arn = key(&kms, spec, "SIGN_VERIFY");
        let d = ok(&kms, &root(), "DescribeKey", json!({"KeyId": arn}));
        assert!(d["KeyMetadata"]["SigningAlgorithms"].is_array(), "{spec}");
        assert!(d["KeyMetadata"]["EncryptionAlgorithms"].is_null(), "{spec}");
        assert!(d["KeyMetadata"]["CurrentKeyMaterialId"].is_null(), "{spec}");
        for alg in *algs {
            let s = kms
                .send(&root(), &sign_req(&arn, alg, None, b"msg"))
                .unwrap();
            assert_eq!(s.key_id, arn);
            assert_eq!(s.signing_algorithm, *alg);
            let v = kms
                .send(
                    &root(),
                    &verify_req(&arn, alg, None, b"msg", &s.signature.0),
                )
                .unwrap();
            assert!(v.signature_valid);
            let e = error(
                &kms,
                &root(),
                &verify_req(&arn, alg, None, b"msh", &s.signature.0),
            );
            assert_eq!(e.error_type, ErrorType::KMSInvalidSignatureException);
            assert_eq!(e.message, None);
        }
        let pk = kms
            .send(
                &root(),
                &GetPublicKeyRequest {
                    key_id: Some(arn.clone()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(pk.key_spec, *spec);
        assert_eq!(pk.key_usage, "SIGN_VERIFY");
        assert_eq!(pk.public_key.0[0], 0x30, "DER SubjectPublicKeyInfo");
        assert!(pk.signing_algorithms.is_some() && pk.encryption_algorithms.is_none());
    }
}

#[test]
fn message_types_follow_aws_rules() {
    let (kms, _) = kms();
    let p256 = key(&kms, "ECC_NIST_P256", "SIGN_VERIFY");
    let digest = sha2::Sha256::digest(b"hello");
    let s = kms
        .send(
            &root(),
            &sign_req(&p256, "ECDSA_SHA_256", Some("DIGEST"), &digest),
        )
        .unwrap();
    // A DIGEST signature verifies as the RAW message it is the digest of.
    kms.send(
        &root(),
        &verify_req(&p256, "ECDSA_SHA_256", None, b"hello", &s.signature.0),
    )
    .unwrap();
    let e = error(
        &kms,
        &root(),
        &sign_req(&p256, "ECDSA_SHA_256", Some("DIGEST"), &digest[..31]),
    );
    is(
        &e,
        ErrorType::ValidationException,
        "Digest is invalid length for algorithm ECDSA_SHA_256.",
    );
    let e = error(&kms, &root(), &sign_req(&p256, "ECDSA_SHA_384", None, b"m"));
    is(
        &e,
        ErrorType::InvalidKeyUsageException,
        "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256.",
    );
    let e = error(
        &kms,
        &root(),
        &sign_req(&p256, "ECDSA_SHA_256", None, &[0u8; 4097]),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    assert!(e.message.unwrap().contains("less than or equal to 4096"));
    let e = error(
        &kms,
        &root(),
        &sign_req(&p256, "ECDSA_SHA_256", Some("EXTERNAL_MU"), &[0u8; 64]),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);

    let ed = key(&kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY");
    let e = error(
        &kms,
        &root(),
        &sign_req(&ed, "ED25519_SHA_512", Some("DIGEST"), &[0u8; 64]),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    let e = error(
        &kms,
        &root(),
        &sign_req(&ed, "ED25519_PH_SHA_512", None, b"m"),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    let d = sha2::Sha512::digest(b"m");
    let s = kms
        .send(
            &root(),
            &sign_req(&ed, "ED25519_PH_SHA_512", Some("DIGEST"), &d),
        )
        .unwrap();
    kms.send(
        &root(),
        &verify_req(
            &ed,
            "ED25519_PH_SHA_512",
            Some("DIGEST"),
            &d,
            &s.signature.0,
        ),
    )
    .unwrap();

    let ml = key(&kms, "ML_DSA_65", "SIGN_VERIFY");
    let e = error(
        &kms,
        &root(),
        &sign_req(&ml, "ML_DSA_SHAKE_256", Some("EXTERNAL_MU"), &[0u8; 63]),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    let e = error(
        &kms,
        &root(),
        &sign_req(&ml, "ML_DSA_SHAKE_256", Some("DIGEST"), &[0u8; 64]),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    let s = kms
        .send(
            &root(),
            &sign_req(&ml, "ML_DSA_SHAKE_256", Some("EXTERNAL_MU"), &[9u8; 64]),
        )
        .unwrap();
    assert_eq!(s.signature.0.len(), 3309);
    // A signature of the wrong length does not verify.
    let e = error(
        &kms,
        &root(),
        &verify_req(
            &ml,
            "ML_DSA_SHAKE_256",
            Some("EXTERNAL_MU"),
            &[9u8; 64],
            &s.signature.0[1..],
        ),
    );
    assert_eq!(e.error_type, ErrorType::KMSInvalidSignatureException);
}

#[test]
fn wrong_usage_grant_tokens_and_missing_keys() {
    let (kms, _) = kms();
    let sym = ok(&kms, &root(), "CreateKey", json!({}))["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let hmac = key(&kms, "HMAC_256", "GENERATE_VERIFY_MAC");
    let e = error(&kms, &root(), &sign_req(&sym, "ECDSA_SHA_256", None, b"m"));
    is(
        &e,
        ErrorType::InvalidKeyUsageException,
        &format!("{sym} key usage is ENCRYPT_DECRYPT which is not valid for Sign."),
    );
    let e = error(
        &kms,
        &root(),
        &verify_req(&hmac, "ECDSA_SHA_256", None, b"m", b"s"),
    );
    is(
        &e,
        ErrorType::InvalidKeyUsageException,
        &format!("{hmac} key usage is GENERATE_VERIFY_MAC which is not valid for Verify."),
    );
    let mut r = sign_req(&hmac, "ECDSA_SHA_256", None, b"m");
    r.grant_tokens = Some(vec!["not-a-token".into()]);
    assert_eq!(
        error(&kms, &root(), &r).error_type,
        ErrorType::InvalidGrantTokenException
    );
    let missing = "arn:aws:kms:us-west-2:111122223333:key/00000000-0000-0000-0000-000000000000";
    assert_eq!(
        error(
            &kms,
            &root(),
            &sign_req(missing, "ECDSA_SHA_256", None, b"m")
        )
        .error_type,
        ErrorType::NotFoundException
    );
    let e = error(
        &kms,
        &root(),
        &GetPublicKeyRequest {
            key_id: Some(sym.clone()),
            ..Default::default()
        },
    );
    assert_eq!(e.error_type, ErrorType::UnsupportedOperationException);
    let e = error(
        &kms,
        &root(),
        &GetPublicKeyRequest {
            key_id: Some(hmac.clone()),
            ..Default::default()
        },
    );
    assert_eq!(e.error_type, ErrorType::UnsupportedOperationException);
    let e = error(
        &kms,
        &root(),
        &GetPublicKeyRequest {
            key_id: Some("alias/none".into()),
            ..Default::default()
        },
    );
    assert_eq!(e.error_type, ErrorType::NotFoundException);
    // Dry runs.
    let p = key(&kms, "ECC_NIST_P256", "SIGN_VERIFY");
    let mut r = sign_req(&p, "ECDSA_SHA_256", None, b"m");
    r.dry_run = Some(true);
    assert_eq!(
        error(&kms, &root(), &r).error_type,
        ErrorType::DryRunOperationException
    );
    // Injected outages.
    kms.admin_json(
        &root(),
        "SetFault",
        json!({"Operation": "Sign", "Kind": "outage", "ErrorType": "DependencyTimeoutException"}),
    )
    .unwrap();
    assert_eq!(
        error(&kms, &root(), &sign_req(&p, "ECDSA_SHA_256", None, b"m")).error_type,
        ErrorType::DependencyTimeoutException
    );
    kms.admin_json(
        &root(),
        "SetFault",
        json!({"Operation": "Sign", "Kind": "outage", "ErrorType": "KMSInternalException"}),
    )
    .unwrap();
    assert_eq!(
        error(&kms, &root(), &sign_req(&p, "ECDSA_SHA_256", None, b"m")).error_type,
        ErrorType::KMSInternalException
    );
    kms.admin_json(&root(), "ClearFaults", json!({})).unwrap();
    // Key specs and usages of CreateKey.
    let e = kms
        .call_json(
            &root(),
            "CreateKey",
            json!({"KeySpec": "SM2", "KeyUsage": "SIGN_VERIFY"}),
        )
        .unwrap_err();
    is(
        &e,
        ErrorType::UnsupportedOperationException,
        "KeySpec SM2 is not supported in this Region",
    );
    let e = kms
        .call_json(
            &root(),
            "CreateKey",
            json!({"KeySpec": "ECC_SECG_P256K1", "KeyUsage": "KEY_AGREEMENT"}),
        )
        .unwrap_err();
    is(
        &e,
        ErrorType::ValidationException,
        "KeyUsage KEY_AGREEMENT is not compatible with KeySpec ECC_SECG_P256K1.",
    );
}

#[test]
fn hmac_keys_generate_and_verify_macs() {
    let (kms, _) = kms();
    for (spec, alg, len) in [
        ("HMAC_224", "HMAC_SHA_224", 28),
        ("HMAC_512", "HMAC_SHA_512", 64),
    ] {
        let arn = key(&kms, spec, "GENERATE_VERIFY_MAC");
        let d = ok(&kms, &root(), "DescribeKey", json!({"KeyId": arn}));
        assert_eq!(d["KeyMetadata"]["MacAlgorithms"], json!([alg]));
        let m = kms
            .send(
                &root(),
                &GenerateMacRequest {
                    key_id: Some(arn.clone()),
                    message: secret(b"tok"),
                    mac_algorithm: Some(alg.into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(m.mac.0.len(), len);
        assert_eq!(m.key_id, arn);
        let v = kms
            .send(
                &root(),
                &VerifyMacRequest {
                    key_id: Some(arn.clone()),
                    message: secret(b"tok"),
                    mac_algorithm: Some(alg.into()),
                    mac: Some(m.mac.clone()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(v.mac_valid);
        let e = error(
            &kms,
            &root(),
            &VerifyMacRequest {
                key_id: Some(arn.clone()),
                message: secret(b"tok2"),
                mac_algorithm: Some(alg.into()),
                mac: Some(m.mac.clone()),
                ..Default::default()
            },
        );
        is(&e, ErrorType::KMSInvalidMacException, "");
        let other = if alg == "HMAC_SHA_224" {
            "HMAC_SHA_256"
        } else {
            "HMAC_SHA_384"
        };
        let e = error(
            &kms,
            &root(),
            &GenerateMacRequest {
                key_id: Some(arn.clone()),
                message: secret(b"tok"),
                mac_algorithm: Some(other.into()),
                ..Default::default()
            },
        );
        is(
            &e,
            ErrorType::InvalidKeyUsageException,
            &format!("Algorithm {other} is incompatible with key spec {spec}."),
        );
    }
    let e = kms
        .call_json(
            &root(),
            "GenerateMac",
            json!({"KeyId": "k", "Message": "AA==", "MacAlgorithm": "INVALID"}),
        )
        .unwrap_err();
    is(
        &e,
        ErrorType::ValidationException,
        "1 validation error detected: Value 'INVALID' at 'macAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [HMAC_SHA_384, HMAC_SHA_256, HMAC_SHA_224, HMAC_SHA_512]",
    );
    let sign = key(&kms, "ECC_NIST_P256", "SIGN_VERIFY");
    let e = error(
        &kms,
        &root(),
        &GenerateMacRequest {
            key_id: Some(sign.clone()),
            message: secret(b"tok"),
            mac_algorithm: Some("HMAC_SHA_256".into()),
            ..Default::default()
        },
    );
    is(
        &e,
        ErrorType::InvalidKeyUsageException,
        &format!("{sign} key usage is SIGN_VERIFY which is not valid for GenerateMac."),
    );
}

#[test]
fn rsa_oaep_encrypt_and_decrypt_with_aws_limits() {
    let (kms, _) = kms();
    let arn = key(&kms, "RSA_2048", "ENCRYPT_DECRYPT");
    let d = ok(&kms, &root(), "DescribeKey", json!({"KeyId": arn}));
    assert_eq!(
        d["KeyMetadata"]["EncryptionAlgorithms"],
        json!(["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
    );
    let enc = |alg: &str, pt: &[u8]| EncryptRequest {
        key_id: Some(arn.clone()),
        plaintext: secret(pt),
        encryption_algorithm: Some(alg.into()),
        ..Default::default()
    };
    let c = kms
        .send(&root(), &enc("RSAES_OAEP_SHA_256", &[5u8; 190]))
        .unwrap();
    assert_eq!(c.ciphertext_blob.0.len(), 256);
    let dec = |alg: &str, blob: &[u8]| DecryptRequest {
        key_id: Some(arn.clone()),
        ciphertext_blob: Some(Blob(blob.to_vec())),
        encryption_algorithm: Some(alg.into()),
        ..Default::default()
    };
    let p = kms
        .send(&root(), &dec("RSAES_OAEP_SHA_256", &c.ciphertext_blob.0))
        .unwrap();
    assert_eq!(p.plaintext.expose(), &[5u8; 190]);
    is(
        &error(
            &kms,
            &root(),
            &dec("RSAES_OAEP_SHA_1", &c.ciphertext_blob.0),
        ),
        ErrorType::InvalidCiphertextException,
        "",
    );
    is(
        &error(&kms, &root(), &enc("RSAES_OAEP_SHA_256", &[5u8; 191])),
        ErrorType::ValidationException,
        "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.",
    );
    is(
        &error(&kms, &root(), &enc("RSAES_OAEP_SHA_1", &[5u8; 215])),
        ErrorType::ValidationException,
        "Algorithm RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt data larger than 214 bytes.",
    );
    let e = kms
        .call_json(
            &root(),
            "Encrypt",
            json!({"KeyId": arn, "Plaintext": "aGk="}),
        )
        .unwrap_err();
    is(
        &e,
        ErrorType::InvalidKeyUsageException,
        "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.",
    );
    let e = kms.call_json(&root(), "Encrypt", json!({"KeyId": arn, "Plaintext": "aGk=", "EncryptionAlgorithm": "RSAES_OAEP_SHA_1", "EncryptionContext": {"a": "b"}})).unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationException);
    let e = kms
        .call_json(
            &root(),
            "Encrypt",
            json!({"KeyId": arn, "Plaintext": "aGk=", "EncryptionAlgorithm": "SM2PKE"}),
        )
        .unwrap_err();
    is(
        &e,
        ErrorType::InvalidKeyUsageException,
        "Algorithm SM2PKE is incompatible with key spec RSA_2048.",
    );
    let signer = key(&kms, "RSA_2048", "SIGN_VERIFY");
    let e = kms.call_json(&root(), "Encrypt", json!({"KeyId": signer, "Plaintext": "aGk=", "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"})).unwrap_err();
    is(
        &e,
        ErrorType::InvalidKeyUsageException,
        &format!("{signer} key usage is SIGN_VERIFY which is not valid for Encrypt."),
    );
}

#[test]
fn ecdh_and_data_key_pairs() {
    let (kms, _) = kms();
    let a = key(&kms, "ECC_NIST_P256", "KEY_AGREEMENT");
    let b = key(&kms, "ECC_NIST_P256", "KEY_AGREEMENT");
    let pk = |k: &str| {
        kms.send(
            &root(),
            &GetPublicKeyRequest {
                key_id: Some(k.into()),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let (pa, pb) = (pk(&a), pk(&b));
    assert_eq!(pa.key_agreement_algorithms, Some(vec!["ECDH".to_owned()]));
    let derive = |k: &str, peer: &[u8]| DeriveSharedSecretRequest {
        key_id: Some(k.into()),
        key_agreement_algorithm: Some("ECDH".into()),
        public_key: Some(Blob(peer.to_vec())),
        ..Default::default()
    };
    let ab = kms.send(&root(), &derive(&a, &pb.public_key.0)).unwrap();
    let ba = kms.send(&root(), &derive(&b, &pa.public_key.0)).unwrap();
    assert_eq!(ab.shared_secret.expose(), ba.shared_secret.expose());
    assert_eq!(ab.shared_secret.expose().len(), 32);
    assert_eq!(ab.key_origin, "AWS_KMS");
    is(
        &error(&kms, &root(), &derive(&a, b"\x04not a key")),
        ErrorType::ValidationException,
        "",
    );
    let p384 = key(&kms, "ECC_NIST_P384", "KEY_AGREEMENT");
    is(
        &error(&kms, &root(), &derive(&a, &pk(&p384).public_key.0)),
        ErrorType::ValidationException,
        "",
    );
    let signer = key(&kms, "ECC_NIST_P256", "SIGN_VERIFY");
    is(
        &error(&kms, &root(), &derive(&signer, &pb.public_key.0)),
        ErrorType::InvalidKeyUsageException,
        &format!("{signer} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret."),
    );

    let sym = ok(&kms, &root(), "CreateKey", json!({}))["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let ctx: ebsim_kms::types::StringMap = [("app".to_owned(), "x".to_owned())].into();
    let pair = kms
        .send(
            &root(),
            &GenerateDataKeyPairRequest {
                key_id: Some(sym.clone()),
                key_pair_spec: Some("ECC_NIST_P384".into()),
                encryption_context: Some(ctx.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    let private = pair.private_key_plaintext.unwrap();
    assert_eq!(pair.key_material_id.as_deref().map(str::len), Some(64));
    let opened = kms
        .send(
            &root(),
            &DecryptRequest {
                ciphertext_blob: Some(pair.private_key_ciphertext_blob.clone()),
                encryption_context: Some(ctx),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(opened.plaintext.expose(), private.expose());
    is(
        &error(
            &kms,
            &root(),
            &DecryptRequest {
                ciphertext_blob: Some(pair.private_key_ciphertext_blob),
                ..Default::default()
            },
        ),
        ErrorType::InvalidCiphertextException,
        "",
    );
    let w = kms
        .send(
            &root(),
            &GenerateDataKeyPairWithoutPlaintextRequest {
                key_id: Some(sym.clone()),
                key_pair_spec: Some("RSA_2048".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(w.private_key_plaintext.is_none());
    let e = error(
        &kms,
        &root(),
        &GenerateDataKeyPairRequest {
            key_id: Some(sym.clone()),
            key_pair_spec: Some("SM2".into()),
            ..Default::default()
        },
    );
    is(
        &e,
        ErrorType::UnsupportedOperationException,
        "KeyPairSpec SM2 is not supported in this Region",
    );
    let e = error(
        &kms,
        &root(),
        &GenerateDataKeyPairRequest {
            key_id: Some(signer.clone()),
            key_pair_spec: Some("RSA_2048".into()),
            ..Default::default()
        },
    );
    assert_eq!(e.error_type, ErrorType::InvalidKeyUsageException);
    let e = kms
        .call_json(
            &root(),
            "GenerateDataKeyPair",
            json!({"KeyId": sym, "KeyPairSpec": "HMAC_256"}),
        )
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::ValidationException);
}

#[test]
fn key_last_usage_reports_the_last_successful_use() {
    let (kms, _) = kms();
    let arn = key(&kms, "ECC_NIST_P256", "SIGN_VERIFY");
    let last = |kms: &Kms| {
        kms.send(
            &root(),
            &GetKeyLastUsageRequest {
                key_id: Some(arn.clone()),
            },
        )
        .unwrap()
    };
    let before = last(&kms);
    assert!(before.key_last_usage.is_none());
    assert_eq!(before.key_creation_date, before.tracking_start_date);
    kms.send(&root(), &sign_req(&arn, "ECDSA_SHA_256", None, b"m"))
        .unwrap();
    let after = last(&kms).key_last_usage.unwrap();
    assert_eq!(after.operation, "Sign");
    assert_eq!(after.cloud_trail_event_id.len(), 36);
    // A refused call is no use.
    let _ = kms.send(
        &root(),
        &verify_req(&arn, "ECDSA_SHA_256", None, b"m", b"bad"),
    );
    assert_eq!(last(&kms).key_last_usage.unwrap().operation, "Sign");
    let e = error(
        &kms,
        &root(),
        &GetKeyLastUsageRequest {
            key_id: Some("alias/x".into()),
        },
    );
    assert_eq!(e.error_type, ErrorType::InvalidArnException);
    let e = error(
        &kms,
        &root(),
        &GetKeyLastUsageRequest {
            key_id: Some(
                "arn:aws:kms:us-west-2:111122223333:key/00000000-0000-0000-0000-000000000000"
                    .into(),
            ),
        },
    );
    assert_eq!(e.error_type, ErrorType::NotFoundException);
}

/// The key-state rows of the new operations (docs/kms.md).
#[test]
fn key_state_table_of_the_new_operations() {
    let (kms, _) = kms();
    let sign = key(&kms, "ECC_NIST_P256", "SIGN_VERIFY");
    let mac = key(&kms, "HMAC_256", "GENERATE_VERIFY_MAC");
    let agree = key(&kms, "ECC_NIST_P256", "KEY_AGREEMENT");
    let sym = ok(&kms, &root(), "CreateKey", json!({}))["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let peer = kms
        .send(
            &root(),
            &GetPublicKeyRequest {
                key_id: Some(agree.clone()),
                ..Default::default()
            },
        )
        .unwrap()
        .public_key;
    let sig = kms
        .send(&root(), &sign_req(&sign, "ECDSA_SHA_256", None, b"m"))
        .unwrap()
        .signature;
    let m = kms
        .send(
            &root(),
            &GenerateMacRequest {
                key_id: Some(mac.clone()),
                message: secret(b"m"),
                mac_algorithm: Some("HMAC_SHA_256".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .mac;
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let calls: Vec<(&str, String, Value)> = vec![
        (
            "Sign",
            sign.clone(),
            json!({"KeyId": sign, "Message": "bQ==", "SigningAlgorithm": "ECDSA_SHA_256"}),
        ),
        (
            "Verify",
            sign.clone(),
            json!({"KeyId": sign, "Message": "bQ==", "SigningAlgorithm": "ECDSA_SHA_256", "Signature": b64(&sig.0)}),
        ),
        ("GetPublicKey", sign.clone(), json!({"KeyId": sign})),
        (
            "GenerateMac",
            mac.clone(),
            json!({"KeyId": mac, "Message": "bQ==", "MacAlgorithm": "HMAC_SHA_256"}),
        ),
        (
            "VerifyMac",
            mac.clone(),
            json!({"KeyId": mac, "Message": "bQ==", "MacAlgorithm": "HMAC_SHA_256", "Mac": b64(&m.0)}),
        ),
        (
            "DeriveSharedSecret",
            agree.clone(),
            json!({"KeyId": agree, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(&peer.0)}),
        ),
        (
            "GenerateDataKeyPair",
            sym.clone(),
            json!({"KeyId": sym, "KeyPairSpec": "ECC_NIST_P256"}),
        ),
        (
            "GenerateDataKeyPairWithoutPlaintext",
            sym.clone(),
            json!({"KeyId": sym, "KeyPairSpec": "ECC_NIST_P256"}),
        ),
        ("GetKeyLastUsage", sym.clone(), json!({"KeyId": sym})),
    ];
    for (op, arn, req) in &calls {
        ok(&kms, &root(), op, req.clone());
        ok(&kms, &root(), "DisableKey", json!({"KeyId": arn}));
        let disabled = kms.call_json(&root(), op, req.clone());
        ok(
            &kms,
            &root(),
            "ScheduleKeyDeletion",
            json!({"KeyId": arn, "PendingWindowInDays": 7}),
        );
        let pending = kms.call_json(&root(), op, req.clone());
        ok(&kms, &root(), "CancelKeyDeletion", json!({"KeyId": arn}));
        ok(&kms, &root(), "EnableKey", json!({"KeyId": arn}));
        if *op == "GetKeyLastUsage" {
            assert!(
                disabled.is_ok() && pending.is_ok(),
                "{op} answers in any state"
            );
            continue;
        }
        is(
            &disabled.unwrap_err(),
            ErrorType::DisabledException,
            &format!("{arn} is disabled."),
        );
        is(
            &pending.unwrap_err(),
            ErrorType::KMSInvalidStateException,
            &format!("{arn} is pending deletion."),
        );
    }
}

#[test]
fn material_survives_a_reopen_and_never_reaches_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let (arn, sig, mac_arn, mac) = {
        let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
        let arn = key(&kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY");
        let sig = kms
            .send(
                &root(),
                &sign_req(&arn, "ED25519_SHA_512", None, b"persist"),
            )
            .unwrap()
            .signature;
        let mac_arn = key(&kms, "HMAC_384", "GENERATE_VERIFY_MAC");
        let mac = kms
            .send(
                &root(),
                &GenerateMacRequest {
                    key_id: Some(mac_arn.clone()),
                    message: secret(b"persist"),
                    mac_algorithm: Some("HMAC_SHA_384".into()),
                    ..Default::default()
                },
            )
            .unwrap()
            .mac;
        (arn, sig, mac_arn, mac)
    };
    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
    kms.send(
        &root(),
        &verify_req(&arn, "ED25519_SHA_512", None, b"persist", &sig.0),
    )
    .unwrap();
    kms.send(
        &root(),
        &VerifyMacRequest {
            key_id: Some(mac_arn),
            message: secret(b"persist"),
            mac_algorithm: Some("HMAC_SHA_384".into()),
            mac: Some(mac),
            ..Default::default()
        },
    )
    .unwrap();
    let sym = ok(&kms, &root(), "CreateKey", json!({}))["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let pair = kms
        .send(
            &root(),
            &GenerateDataKeyPairRequest {
                key_id: Some(sym),
                key_pair_spec: Some("ECC_NIST_P256".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let private = pair.private_key_plaintext.unwrap();
    use base64::Engine as _;
    let private_b64 = base64::engine::general_purpose::STANDARD.encode(private.expose());
    let message_b64 = base64::engine::general_purpose::STANDARD.encode(b"persist");
    let trail = std::fs::read_to_string(ebsim_data_dir::DataDir::new(dir.path()).audit_log())
        .unwrap_or_default();
    let memory = serde_json::to_string(&kms.audit_records()).unwrap();
    for text in [&trail, &memory] {
        assert!(text.contains("\"Sign\"") || text.contains("GenerateDataKeyPair"));
        assert!(
            !text.contains(&private_b64),
            "private key in the audit trail"
        );
        assert!(!text.contains(&message_b64), "message in the audit trail");
    }
    assert!(
        memory.contains("\"signingAlgorithm\":\"ED25519_SHA_512\"")
            || memory.contains("ED25519_SHA_512")
    );
    // The state file is private.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(dir.path().join("kms/state.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn policies_see_the_new_condition_keys_and_the_trail_records_the_calls() {
    let (kms, _) = kms();
    let arn = key(&kms, "RSA_2048", "SIGN_VERIFY");
    let mac = key(&kms, "HMAC_256", "GENERATE_VERIFY_MAC");
    let policy = |deny: Value| {
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            deny
        ]})
        .to_string()
    };
    let put = |k: &str, deny: Value| {
        ok(
            &kms,
            &root(),
            "PutKeyPolicy",
            json!({"KeyId": k, "Policy": policy(deny)}),
        );
    };
    put(
        &arn,
        json!({"Sid": "nopss", "Effect": "Deny", "Principal": "*", "Action": ["kms:Sign"], "Resource": "*",
        "Condition": {"StringLike": {"kms:SigningAlgorithm": "RSASSA_PSS_*"}, "StringEquals": {"kms:KeySpec": "RSA_2048", "kms:KeyUsage": "SIGN_VERIFY", "kms:MessageType": "RAW"}}}),
    );
    kms.send(
        &root(),
        &sign_req(&arn, "RSASSA_PKCS1_V1_5_SHA_256", None, b"m"),
    )
    .unwrap();
    let e = error(
        &kms,
        &root(),
        &sign_req(&arn, "RSASSA_PSS_SHA_256", None, b"m"),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    assert!(
        e.message
            .unwrap()
            .contains("explicit deny in a resource-based policy")
    );
    // DIGEST is another message type: the Deny does not apply.
    let d = sha2::Sha256::digest(b"m");
    kms.send(
        &root(),
        &sign_req(&arn, "RSASSA_PSS_SHA_256", Some("DIGEST"), &d),
    )
    .unwrap();
    put(
        &mac,
        json!({"Sid": "no512", "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateMac", "Resource": "*",
        "Condition": {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}}),
    );
    let e = error(
        &kms,
        &root(),
        &GenerateMacRequest {
            key_id: Some(mac.clone()),
            message: secret(b"m"),
            mac_algorithm: Some("HMAC_SHA_256".into()),
            ..Default::default()
        },
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    // A grant allows Sign to its grantee.
    let user = Caller::new("arn:aws:iam::111122223333:user/signer");
    assert_eq!(
        error(
            &kms,
            &user,
            &sign_req(&arn, "RSASSA_PKCS1_V1_5_SHA_256", None, b"m")
        )
        .error_type,
        ErrorType::AccessDeniedException
    );
    let g = ok(
        &kms,
        &root(),
        "CreateGrant",
        json!({"KeyId": arn, "GranteePrincipal": "arn:aws:iam::111122223333:user/signer", "Operations": ["Sign"]}),
    );
    kms.send(
        &user,
        &sign_req(&arn, "RSASSA_PKCS1_V1_5_SHA_256", None, b"m"),
    )
    .unwrap();
    let records = kms.audit_records();
    let last = records.last().unwrap();
    assert_eq!(last["eventName"], json!("Sign"));
    assert_eq!(last["additionalEventData"]["grantId"], g["GrantId"]);
    assert_eq!(
        last["requestParameters"]["signingAlgorithm"],
        json!("RSASSA_PKCS1_V1_5_SHA_256")
    );
    assert!(last["requestParameters"].get("message").is_none());
}

#[test]
fn recipient_is_refused_where_it_would_change_the_answer() {
    let (kms, _) = kms();
    let sym = ok(&kms, &root(), "CreateKey", json!({}))["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = kms
        .call_json(&root(), "GenerateDataKeyPair", json!({"KeyId": sym, "KeyPairSpec": "RSA_2048", "Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": "AA=="}}))
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::UnsupportedOperationException);
    // Decrypt, GenerateDataKey and GenerateRandom would answer in plaintext outside the
    // enclave: refused too, over the wire body as well as through JSON values.
    let recipient =
        json!({"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": "AA=="});
    let blob = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": sym, "Plaintext": "aGk="}),
    )["CiphertextBlob"]
        .clone();
    for (op, body) in [
        (
            "Decrypt",
            json!({"CiphertextBlob": blob, "Recipient": recipient}),
        ),
        (
            "GenerateDataKey",
            json!({"KeyId": sym, "KeySpec": "AES_256", "Recipient": recipient}),
        ),
        (
            "GenerateRandom",
            json!({"NumberOfBytes": 16, "Recipient": recipient}),
        ),
    ] {
        let wire = serde_json::to_vec(&body).unwrap();
        let e = kms.call(&root(), op, &wire).unwrap_err();
        assert_eq!(
            e.error_type,
            ErrorType::UnsupportedOperationException,
            "{op}"
        );
        // Without it, the same call answers.
        let mut plain = body.clone();
        plain.as_object_mut().unwrap().remove("Recipient");
        ok(&kms, &root(), op, plain);
    }
}

#[test]
fn create_key_sees_the_requested_key_spec_and_usage() {
    let (kms, _) = kms();
    iam(&kms, &root(), "CreateUser", &[("UserName", "maker")]);
    let arn = "arn:aws:iam::111122223333:user/maker";
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*",
        "Condition": {"StringEquals": {"kms:KeySpec": "HMAC_256", "kms:KeyUsage": "GENERATE_VERIFY_MAC"}}}]})
    .to_string();
    iam(
        &kms,
        &root(),
        "PutUserPolicy",
        &[
            ("UserName", "maker"),
            ("PolicyName", "p"),
            ("PolicyDocument", &policy),
        ],
    );
    let maker = Caller::new(arn);
    kms.call_json(
        &maker,
        "CreateKey",
        json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    )
    .unwrap();
    let e = kms.call_json(&maker, "CreateKey", json!({})).unwrap_err();
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    let e = kms
        .call_json(
            &maker,
            "CreateKey",
            json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}),
        )
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
}
