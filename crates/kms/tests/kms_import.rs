//! Imported key material (docs/kms.md, "Imported key material"): an `EXTERNAL` key waits in
//! PendingImport; material wrapped with the public key of GetParametersForImport (each
//! wrapping algorithm) is imported and used; it expires on the simulated clock and comes
//! back when the same material is imported again; bad tokens, wrong or foreign material get
//! AWS's errors and change nothing; HMAC and asymmetric keys take imported material;
//! NEW_KEY_MATERIAL and RotateKeyOnDemand rotate an imported symmetric key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded as _};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{fails, kind, kms, ok, root};
use ebsim_kms::{ErrorType, Kms};
use serde_json::{Value, json};

const DAY: f64 = 86_400.0;

fn external_key(kms: &Kms, extra: Value) -> (String, String) {
    let mut req = json!({"Origin": "EXTERNAL"});
    if let (Value::Object(r), Value::Object(e)) = (&mut req, extra) {
        r.extend(e);
    }
    let k = ok(kms, &root(), "CreateKey", req);
    let m = &k["KeyMetadata"];
    assert_eq!(m["KeyState"], "PendingImport");
    assert_eq!(m["Enabled"], false);
    assert_eq!(m["Origin"], "EXTERNAL");
    assert!(m.get("ExpirationModel").is_none());
    (
        m["KeyId"].as_str().unwrap().to_owned(),
        m["Arn"].as_str().unwrap().to_owned(),
    )
}

fn params(kms: &Kms, key: &str, alg: &str, spec: &str) -> (Vec<u8>, Vec<u8>) {
    let p = ok(
        kms,
        &root(),
        "GetParametersForImport",
        json!({"KeyId": key, "WrappingAlgorithm": alg, "WrappingKeySpec": spec}),
    );
    let b = |n: &str| B64.decode(p[n].as_str().unwrap()).unwrap();
    (b("PublicKey"), b("ImportToken"))
}

/// Wraps `material` with the SPKI `public` key as AWS documents it for `alg`.
fn wrap(public: &[u8], alg: &str, material: &[u8]) -> Vec<u8> {
    let key = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(public).unwrap()).unwrap();
    let oaep = if alg.ends_with("SHA_1") {
        &OAEP_SHA1_MGF1SHA1
    } else {
        &OAEP_SHA256_MGF1SHA256
    };
    let rsa = |plain: &[u8]| {
        let mut out = vec![0u8; key.ciphertext_size()];
        let n = key.encrypt(oaep, plain, &mut out, None).unwrap().len();
        out.truncate(n);
        out
    };
    if alg.starts_with("RSAES_OAEP") {
        return rsa(material);
    }
    let aes = [0x42u8; 32];
    let mut out = rsa(&aes);
    let kek = AesKek::new(&AES_256, &aes).unwrap();
    let mut buf = vec![0u8; material.len() + 16];
    let n = kek.wrap_with_padding(material, &mut buf).unwrap().len();
    out.extend_from_slice(&buf[..n]);
    out
}

fn import(kms: &Kms, key: &str, token: &[u8], wrapped: &[u8], extra: Value) -> Value {
    let mut req = json!({
        "KeyId": key,
        "ImportToken": B64.encode(token),
        "EncryptedKeyMaterial": B64.encode(wrapped),
    });
    if let (Value::Object(r), Value::Object(e)) = (&mut req, extra) {
        r.extend(e);
    }
    ok(kms, &root(), "ImportKeyMaterial", req)
}

fn import_err(kms: &Kms, key: &str, token: &[u8], wrapped: &[u8], extra: Value) -> ErrorType {
    let mut req = json!({
        "KeyId": key,
        "ImportToken": B64.encode(token),
        "EncryptedKeyMaterial": B64.encode(wrapped),
    });
    if let (Value::Object(r), Value::Object(e)) = (&mut req, extra) {
        r.extend(e);
    }
    fails(kms, &root(), "ImportKeyMaterial", req).error_type
}

fn state(kms: &Kms, key: &str) -> Value {
    ok(kms, &root(), "DescribeKey", json!({"KeyId": key}))["KeyMetadata"].clone()
}

fn no_expiry() -> Value {
    json!({"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})
}

#[test]
fn each_wrapping_algorithm_imports_symmetric_material_that_encrypts() {
    let (kms, _) = kms();
    for (alg, spec) in [
        ("RSAES_OAEP_SHA_1", "RSA_2048"),
        ("RSAES_OAEP_SHA_256", "RSA_3072"),
        ("RSA_AES_KEY_WRAP_SHA_1", "RSA_2048"),
        ("RSA_AES_KEY_WRAP_SHA_256", "RSA_4096"),
    ] {
        let (id, arn) = external_key(&kms, json!({}));
        assert_eq!(
            kind(
                &kms,
                &root(),
                "Encrypt",
                json!({"KeyId": id, "Plaintext": "aGk="})
            ),
            ErrorType::KMSInvalidStateException
        );
        let (public, token) = params(&kms, &id, alg, spec);
        let material = [7u8; 32];
        let out = import(
            &kms,
            &id,
            &token,
            &wrap(&public, alg, &material),
            no_expiry(),
        );
        assert_eq!(out["KeyId"], arn.as_str());
        assert_eq!(out["KeyMaterialId"].as_str().unwrap().len(), 64, "{alg}");
        let m = state(&kms, &id);
        assert_eq!(m["KeyState"], "Enabled", "{alg}");
        assert_eq!(m["ExpirationModel"], "KEY_MATERIAL_DOES_NOT_EXPIRE");
        assert_eq!(m["CurrentKeyMaterialId"], out["KeyMaterialId"]);
        let c = ok(
            &kms,
            &root(),
            "Encrypt",
            json!({"KeyId": id, "Plaintext": "aGVsbG8="}),
        );
        let d = ok(
            &kms,
            &root(),
            "Decrypt",
            json!({"CiphertextBlob": c["CiphertextBlob"]}),
        );
        assert_eq!(d["Plaintext"], "aGVsbG8=", "{alg}");
    }
}

#[test]
fn refused_wrapping_choices_and_keys_of_other_origins() {
    let (kms, _) = kms();
    let (id, _) = external_key(&kms, json!({}));
    let gp = |alg: &str, spec: &str| {
        fails(
            &kms,
            &root(),
            "GetParametersForImport",
            json!({"KeyId": id, "WrappingAlgorithm": alg, "WrappingKeySpec": spec}),
        )
        .error_type
    };
    assert_eq!(
        gp("RSAES_PKCS1_V1_5", "RSA_2048"),
        ErrorType::ValidationException
    );
    assert_eq!(
        gp("SM2PKE", "SM2"),
        ErrorType::UnsupportedOperationException
    );
    assert_eq!(
        gp("RSAES_OAEP_SHA_256", "RSA_1024"),
        ErrorType::ValidationException
    );
    let (own, arn) = common::create_key(&kms);
    let e = fails(
        &kms,
        &root(),
        "GetParametersForImport",
        json!({"KeyId": own, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    assert_eq!(e.error_type, ErrorType::UnsupportedOperationException);
    assert_eq!(
        e.message.as_deref(),
        Some(format!("{arn} origin is AWS_KMS which is not valid for this operation.").as_str())
    );
    assert_eq!(
        kind(
            &kms,
            &root(),
            "DeleteImportedKeyMaterial",
            json!({"KeyId": own})
        ),
        ErrorType::UnsupportedOperationException
    );
    assert_eq!(
        kind(&kms, &root(), "EnableKey", json!({"KeyId": id})),
        ErrorType::KMSInvalidStateException
    );
}

#[test]
fn expiry_deletion_and_reimport_on_the_simulated_clock() {
    let (kms, clock) = kms();
    let (id, _) = external_key(&kms, json!({}));
    let alg = "RSAES_OAEP_SHA_256";
    let (public, token) = params(&kms, &id, alg, "RSA_2048");
    let material = [9u8; 32];
    let now = kms.now();
    assert_eq!(
        import_err(&kms, &id, &token, &wrap(&public, alg, &material), json!({})),
        ErrorType::ValidationException,
        "KEY_MATERIAL_EXPIRES needs ValidTo"
    );
    assert_eq!(
        import_err(
            &kms,
            &id,
            &token,
            &wrap(&public, alg, &material),
            json!({"ValidTo": now + 400.0 * DAY})
        ),
        ErrorType::ValidationException
    );
    let first = import(
        &kms,
        &id,
        &token,
        &wrap(&public, alg, &material),
        json!({"ValidTo": now + 2.0 * DAY, "ExpirationModel": "KEY_MATERIAL_EXPIRES"}),
    );
    let m = state(&kms, &id);
    assert_eq!(m["ExpirationModel"], "KEY_MATERIAL_EXPIRES");
    assert_eq!(m["ValidTo"], json!(now + 2.0 * DAY));
    let c = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AQID"}),
    );
    clock.advance(3.0 * DAY);
    let m = state(&kms, &id);
    assert_eq!(m["KeyState"], "PendingImport");
    assert!(m.get("ExpirationModel").is_none());
    assert_eq!(
        m["CurrentKeyMaterialId"], first["KeyMaterialId"],
        "the id stays"
    );
    assert_eq!(
        kind(
            &kms,
            &root(),
            "Decrypt",
            json!({"CiphertextBlob": c["CiphertextBlob"]})
        ),
        ErrorType::KMSInvalidStateException
    );
    // The token has expired by now (24 hours).
    assert_eq!(
        import_err(
            &kms,
            &id,
            &token,
            &wrap(&public, alg, &material),
            no_expiry()
        ),
        ErrorType::ExpiredImportTokenException
    );
    let (public, token) = params(&kms, &id, alg, "RSA_3072");
    assert_eq!(
        import_err(
            &kms,
            &id,
            &token,
            &wrap(&public, alg, &[8u8; 32]),
            no_expiry()
        ),
        ErrorType::IncorrectKeyMaterialException,
        "other material"
    );
    assert_eq!(
        import_err(
            &kms,
            &id,
            &token,
            &wrap(&public, alg, &[9u8; 16]),
            no_expiry()
        ),
        ErrorType::IncorrectKeyMaterialException,
        "wrong length"
    );
    assert_eq!(
        state(&kms, &id)["KeyState"],
        "PendingImport",
        "nothing changed"
    );
    let again = import(
        &kms,
        &id,
        &token,
        &wrap(&public, alg, &material),
        no_expiry(),
    );
    assert_eq!(again["KeyMaterialId"], first["KeyMaterialId"]);
    assert_eq!(state(&kms, &id)["KeyState"], "Enabled");
    let d = ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": c["CiphertextBlob"]}),
    );
    assert_eq!(d["Plaintext"], "AQID", "old ciphertext decrypts again");
    let del = ok(
        &kms,
        &root(),
        "DeleteImportedKeyMaterial",
        json!({"KeyId": id}),
    );
    assert_eq!(del["KeyMaterialId"], first["KeyMaterialId"]);
    assert_eq!(state(&kms, &id)["KeyState"], "PendingImport");
}

#[test]
fn bad_tokens_and_material_change_nothing() {
    let (kms, _) = kms();
    let (a, _) = external_key(&kms, json!({}));
    let (b, _) = external_key(&kms, json!({}));
    let alg = "RSAES_OAEP_SHA_1";
    let (pa, ta) = params(&kms, &a, alg, "RSA_2048");
    let (pb, tb) = params(&kms, &b, alg, "RSA_2048");
    let material = [1u8; 32];
    assert_eq!(
        import_err(&kms, &a, &tb, &wrap(&pb, alg, &material), no_expiry()),
        ErrorType::InvalidImportTokenException,
        "a token of another key"
    );
    assert_eq!(
        import_err(
            &kms,
            &a,
            b"garbage",
            &wrap(&pa, alg, &material),
            no_expiry()
        ),
        ErrorType::InvalidImportTokenException
    );
    assert_eq!(
        import_err(&kms, &a, &ta, &wrap(&pb, alg, &material), no_expiry()),
        ErrorType::InvalidCiphertextException,
        "material wrapped for another key"
    );
    assert_eq!(state(&kms, &a)["KeyState"], "PendingImport");
    import(&kms, &a, &ta, &wrap(&pa, alg, &material), no_expiry());
    assert_eq!(
        import_err(&kms, &a, &ta, &wrap(&pa, alg, &[2u8; 32]), no_expiry()),
        ErrorType::IncorrectKeyMaterialException,
        "other material into a key that has material"
    );
}

#[test]
fn new_key_material_rotates_an_imported_key_on_demand() {
    let (kms, _) = kms();
    let (id, _) = external_key(&kms, json!({}));
    let alg = "RSA_AES_KEY_WRAP_SHA_256";
    let (public, token) = params(&kms, &id, alg, "RSA_2048");
    let first = import(
        &kms,
        &id,
        &token,
        &wrap(&public, alg, &[1u8; 32]),
        no_expiry(),
    );
    let c = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AQID"}),
    );
    assert_eq!(
        kind(&kms, &root(), "RotateKeyOnDemand", json!({"KeyId": id})),
        ErrorType::KMSInvalidStateException
    );
    let mut extra = no_expiry();
    extra["ImportType"] = json!("NEW_KEY_MATERIAL");
    extra["KeyMaterialDescription"] = json!("second half");
    let second = import(
        &kms,
        &id,
        &token,
        &wrap(&public, alg, &[2u8; 32]),
        extra.clone(),
    );
    assert_eq!(
        state(&kms, &id)["CurrentKeyMaterialId"],
        first["KeyMaterialId"]
    );
    let list = ok(
        &kms,
        &root(),
        "ListKeyRotations",
        json!({"KeyId": id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
    );
    let states: Vec<&str> = list["Rotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["KeyMaterialState"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["CURRENT", "PENDING_ROTATION"]);
    assert_eq!(
        import_err(&kms, &id, &token, &wrap(&public, alg, &[3u8; 32]), extra),
        ErrorType::KMSInvalidStateException,
        "one material pending rotation at a time"
    );
    ok(&kms, &root(), "RotateKeyOnDemand", json!({"KeyId": id}));
    assert_eq!(
        state(&kms, &id)["CurrentKeyMaterialId"],
        second["KeyMaterialId"]
    );
    let d = ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": c["CiphertextBlob"]}),
    );
    assert_eq!(d["Plaintext"], "AQID");
    assert_eq!(
        kind(&kms, &root(), "EnableKeyRotation", json!({"KeyId": id})),
        ErrorType::UnsupportedOperationException
    );
}

#[test]
fn hmac_and_asymmetric_keys_take_imported_material() {
    let (kms, _) = kms();
    let alg = "RSA_AES_KEY_WRAP_SHA_256";
    // HMAC: raw key bytes.
    let (h, _) = external_key(
        &kms,
        json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    );
    let (public, token) = params(&kms, &h, alg, "RSA_2048");
    assert_eq!(
        import_err(
            &kms,
            &h,
            &token,
            &wrap(&public, alg, &[5u8; 16]),
            no_expiry()
        ),
        ErrorType::IncorrectKeyMaterialException
    );
    import(
        &kms,
        &h,
        &token,
        &wrap(&public, alg, &[5u8; 32]),
        no_expiry(),
    );
    let mac = ok(
        &kms,
        &root(),
        "GenerateMac",
        json!({"KeyId": h, "Message": "aGk=", "MacAlgorithm": "HMAC_SHA_256"}),
    );
    let want = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &[5u8; 32]),
        b"hi",
    );
    assert_eq!(
        mac["Mac"],
        B64.encode(want.as_ref()),
        "the imported secret is the MAC key"
    );
    // ECC: PKCS #8 DER of a P-256 key; verifying with its public key outside KMS.
    let (e, _) = external_key(
        &kms,
        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    );
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &rng,
    )
    .unwrap();
    let other = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &rng,
    )
    .unwrap();
    let (public, token) = params(&kms, &e, alg, "RSA_4096");
    import(
        &kms,
        &e,
        &token,
        &wrap(&public, alg, pkcs8.as_ref()),
        no_expiry(),
    );
    let sig = ok(
        &kms,
        &root(),
        "Sign",
        json!({"KeyId": e, "Message": "aGk=", "SigningAlgorithm": "ECDSA_SHA_256"}),
    );
    let kp = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        pkcs8.as_ref(),
    )
    .unwrap();
    use aws_lc_rs::signature::KeyPair as _;
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        kp.public_key().as_ref(),
    )
    .verify(
        b"hi",
        &B64.decode(sig["Signature"].as_str().unwrap()).unwrap(),
    )
    .expect("the imported private key signed");
    // Bound forever: other material is refused, the same comes back after deletion.
    ok(
        &kms,
        &root(),
        "DeleteImportedKeyMaterial",
        json!({"KeyId": e}),
    );
    assert_eq!(state(&kms, &e)["KeyState"], "PendingImport");
    assert_eq!(
        import_err(
            &kms,
            &e,
            &token,
            &wrap(&public, alg, other.as_ref()),
            no_expiry()
        ),
        ErrorType::IncorrectKeyMaterialException
    );
    import(
        &kms,
        &e,
        &token,
        &wrap(&public, alg, pkcs8.as_ref()),
        no_expiry(),
    );
    assert_eq!(state(&kms, &e)["KeyState"], "Enabled");
    // An RSA key of the wrong size is not an RSA_2048 key.
    let (r, _) = external_key(
        &kms,
        json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}),
    );
    let big = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa3072).unwrap();
    let der =
        aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&big).unwrap();
    let (public, token) = params(&kms, &r, alg, "RSA_2048");
    assert_eq!(
        import_err(
            &kms,
            &r,
            &token,
            &wrap(&public, alg, der.as_ref()),
            no_expiry()
        ),
        ErrorType::IncorrectKeyMaterialException
    );
}

#[test]
fn import_conditions_and_the_audit_trail() {
    let (kms, _) = kms();
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "oaep256", "Effect": "Deny", "Principal": "*", "Action": "kms:GetParametersForImport", "Resource": "*",
             "Condition": {"StringNotEquals": {"kms:WrappingAlgorithm": "RSAES_OAEP_SHA_256"}}},
            {"Sid": "expires", "Effect": "Deny", "Principal": "*", "Action": "kms:ImportKeyMaterial", "Resource": "*",
             "Condition": {"StringNotEquals": {"kms:ExpirationModel": "KEY_MATERIAL_EXPIRES"}}},
        ]
    })
    .to_string();
    let (id, _) = external_key(&kms, json!({"Policy": policy}));
    assert_eq!(
        kind(
            &kms,
            &root(),
            "GetParametersForImport",
            json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_1", "WrappingKeySpec": "RSA_2048"})
        ),
        ErrorType::AccessDeniedException
    );
    let alg = "RSAES_OAEP_SHA_256";
    let (public, token) = params(&kms, &id, alg, "RSA_2048");
    assert_eq!(
        import_err(
            &kms,
            &id,
            &token,
            &wrap(&public, alg, &[4u8; 32]),
            no_expiry()
        ),
        ErrorType::AccessDeniedException
    );
    let valid_to = kms.now() + DAY;
    import(
        &kms,
        &id,
        &token,
        &wrap(&public, alg, &[4u8; 32]),
        json!({"ValidTo": valid_to, "ExpirationModel": "KEY_MATERIAL_EXPIRES"}),
    );
    let token_b64 = B64.encode(&token);
    let trail = serde_json::to_string(&kms.audit_records()).unwrap();
    assert!(!trail.contains(&token_b64), "no import token in the trail");
    let rec = kms
        .audit_records()
        .into_iter()
        .rev()
        .find(|r| r["eventName"] == "ImportKeyMaterial")
        .unwrap();
    assert_eq!(
        rec["requestParameters"]["expirationModel"],
        "KEY_MATERIAL_EXPIRES"
    );
    assert_eq!(rec["requestParameters"]["validTo"], json!(valid_to));
    assert!(
        rec["requestParameters"]
            .get("encryptedKeyMaterial")
            .is_none()
    );
    assert!(rec["requestParameters"].get("importToken").is_none());
}

/// A replica of an imported multi-Region key starts without material and takes the same
/// material by import; a ciphertext of the primary then decrypts in the replica's region.
#[test]
fn a_replica_of_an_imported_key_takes_the_same_material() {
    let (kms, _) = kms();
    let east = ebsim_kms::Caller::new(common::ROOT)
        .in_region(ebsim_kms::Region::parse("us-east-1").unwrap());
    let (id, _) = external_key(&kms, json!({"MultiRegion": true}));
    let alg = "RSAES_OAEP_SHA_256";
    let (public, token) = params(&kms, &id, alg, "RSA_2048");
    let material = [0x61u8; 32];
    let first = import(
        &kms,
        &id,
        &token,
        &wrap(&public, alg, &material),
        no_expiry(),
    );
    let blob = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AQID"}),
    )["CiphertextBlob"]
        .clone();
    let r = ok(
        &kms,
        &root(),
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-east-1"}),
    );
    assert_eq!(r["ReplicaKeyMetadata"]["KeyState"], "PendingImport");
    let p = ok(
        &kms,
        &east,
        "GetParametersForImport",
        json!({"KeyId": id, "WrappingAlgorithm": alg, "WrappingKeySpec": "RSA_2048"}),
    );
    let rpub = B64.decode(p["PublicKey"].as_str().unwrap()).unwrap();
    let other = kms.call_json(
        &east,
        "ImportKeyMaterial",
        json!({"KeyId": id, "ImportToken": p["ImportToken"], "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
               "EncryptedKeyMaterial": B64.encode(wrap(&rpub, alg, &[0x62u8; 32]))}),
    );
    assert_eq!(
        other.unwrap_err().error_type,
        ErrorType::IncorrectKeyMaterialException
    );
    let out = ok(
        &kms,
        &east,
        "ImportKeyMaterial",
        json!({"KeyId": id, "ImportToken": p["ImportToken"], "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
               "EncryptedKeyMaterial": B64.encode(wrap(&rpub, alg, &material))}),
    );
    assert_eq!(out["KeyMaterialId"], first["KeyMaterialId"]);
    let d = ok(&kms, &east, "Decrypt", json!({"CiphertextBlob": blob}));
    assert_eq!(d["Plaintext"], "AQID");
}
