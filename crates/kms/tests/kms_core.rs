//! End-to-end tests of the KMS service through its JSON entry point.

mod common;

use common::{ROOT, create_key, fails, iam, kms, leaf, ok, root, trust};
use ebsim_kms::{Caller, ErrorType, KmsError};
use serde_json::{Value, json};

const EC2: &str = "ec2.us-west-2.amazonaws.com";

fn ebs_ctx(vol: &str) -> Value {
    json!({"aws:ebs:id": vol})
}

#[test]
fn create_describe_and_key_id_forms() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    assert_eq!(
        uuid::Uuid::parse_str(&id).map(|u| u.get_version_num()).ok(),
        Some(4)
    );
    assert_eq!(arn, format!("arn:aws:kms:us-west-2:111122223333:key/{id}"));
    ok(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    );
    for form in [
        id.clone(),
        arn.clone(),
        "alias/app".into(),
        "arn:aws:kms:us-west-2:111122223333:alias/app".into(),
    ] {
        let d = ok(&kms, &root(), "DescribeKey", json!({"KeyId": form}));
        let m = &d["KeyMetadata"];
        assert_eq!(m["KeyId"], json!(id));
        assert_eq!(m["KeyState"], json!("Enabled"));
        assert_eq!(m["KeyManager"], json!("CUSTOMER"));
        assert_eq!(m["KeySpec"], json!("SYMMETRIC_DEFAULT"));
        assert_eq!(m["CurrentKeyMaterialId"].as_str().map(str::len), Some(64));
    }
    // Management operations refuse aliases.
    let e = fails(&kms, &root(), "DisableKey", json!({"KeyId": "alias/app"}));
    assert_eq!(e.error_type, ErrorType::InvalidArnException);
    let e = fails(
        &kms,
        &root(),
        "DescribeKey",
        json!({"KeyId": "fake-key-id"}),
    );
    assert_eq!(e.error_type, ErrorType::NotFoundException);
    assert_eq!(e.message.as_deref(), Some("Invalid keyId 'fake-key-id'"));
    let missing = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let e = fails(&kms, &root(), "DescribeKey", json!({"KeyId": missing}));
    assert_eq!(e.message, Some(format!("Key '{missing}' does not exist")));
    let e = fails(
        &kms,
        &root(),
        "DescribeKey",
        json!({"KeyId": arn.replace("us-west-2", "us-east-1")}),
    );
    assert_eq!(e.message.as_deref(), Some("Invalid arn us-east-1"));
    let e = fails(&kms, &root(), "DescribeKey", json!({"KeyId": "alias/none"}));
    assert_eq!(e.error_type, ErrorType::NotFoundException);
    let keys = ok(&kms, &root(), "ListKeys", json!({}));
    assert_eq!(keys["Keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(keys["Truncated"], json!(false));
}

#[test]
fn encrypt_decrypt_context_and_tampering() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    let ctx = json!({"purpose": "test", "a": "b"});
    let enc = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "aGVsbG8=", "EncryptionContext": ctx}),
    );
    assert_eq!(enc["KeyId"], json!(arn));
    let blob = enc["CiphertextBlob"].clone();
    let dec = ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": {"a": "b", "purpose": "test"}}),
    );
    assert_eq!(dec["Plaintext"], json!("aGVsbG8="));
    assert_eq!(dec["KeyId"], json!(arn));
    let e = fails(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": {"a": "B", "purpose": "test"}}),
    );
    assert_eq!(e, KmsError::invalid_ciphertext());
    let e = fails(&kms, &root(), "Decrypt", json!({"CiphertextBlob": blob}));
    assert_eq!(e, KmsError::invalid_ciphertext());
    let e = fails(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": "bm90IGEgYmxvYg=="}),
    );
    assert_eq!(e, KmsError::invalid_ciphertext());
    // Tampering with the sealed part.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = b64
        .decode(blob.as_str().unwrap_or_default())
        .unwrap_or_default();
    let last = raw.len() - 1;
    raw[last] ^= 0x40;
    let e = fails(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": b64.encode(&raw), "EncryptionContext": ctx}),
    );
    assert_eq!(e, KmsError::invalid_ciphertext());
    // A different KeyId.
    let (other, _) = create_key(&kms);
    let e = fails(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "KeyId": other}),
    );
    assert_eq!(e.error_type, ErrorType::IncorrectKeyException);
    // Validation.
    let big = b64.encode(vec![1u8; 4097]);
    let e = fails(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": big}),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    let e = fails(&kms, &root(), "GenerateDataKey", json!({"KeyId": id}));
    assert_eq!(e.error_type, ErrorType::ValidationException);
    let e = fails(
        &kms,
        &root(),
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_256", "NumberOfBytes": 32}),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    let e = fails(
        &kms,
        &root(),
        "GenerateDataKey",
        json!({"KeyId": id, "NumberOfBytes": 1025}),
    );
    assert!(
        e.message
            .unwrap_or_default()
            .contains("less than or equal to 1024")
    );
    let gdk = ok(
        &kms,
        &root(),
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_256"}),
    );
    assert_eq!(
        b64.decode(gdk["Plaintext"].as_str().unwrap_or_default())
            .map(|v| v.len())
            .ok(),
        Some(32)
    );
    let e = fails(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": gdk["CiphertextBlob"], "GrantTokens": ["junk!"]}),
    );
    assert_eq!(e.error_type, ErrorType::InvalidGrantTokenException);
    let e = fails(&kms, &root(), "NoSuchOp", json!({}));
    assert_eq!(e.error_type, ErrorType::UnknownOperationException);
    let e = kms
        .call(&root(), "DescribeKey", b"{not json")
        .err()
        .map(|e| e.error_type);
    assert_eq!(e, Some(ErrorType::SerializationException));
}

#[test]
fn asymmetric_and_hmac_keys_are_described_but_refused_for_data_keys() {
    let (kms, _) = kms();
    let e = fails(&kms, &root(), "CreateKey", json!({"KeySpec": "RSA_2048"}));
    assert_eq!(e.error_type, ErrorType::ValidationException);
    for (spec, usage) in [
        ("RSA_2048", "SIGN_VERIFY"),
        ("HMAC_256", "GENERATE_VERIFY_MAC"),
        ("ECC_NIST_P256", "SIGN_VERIFY"),
    ] {
        let k = ok(
            &kms,
            &root(),
            "CreateKey",
            json!({"KeySpec": spec, "KeyUsage": usage}),
        );
        let id = k["KeyMetadata"]["KeyId"].clone();
        assert_eq!(k["KeyMetadata"]["KeySpec"], json!(spec));
        let e = fails(
            &kms,
            &root(),
            "GenerateDataKeyWithoutPlaintext",
            json!({"KeyId": id, "NumberOfBytes": 64}),
        );
        assert_eq!(e.error_type, ErrorType::InvalidKeyUsageException);
        let e = fails(
            &kms,
            &root(),
            "Encrypt",
            json!({"KeyId": id, "Plaintext": "aGk="}),
        );
        assert_eq!(e.error_type, ErrorType::InvalidKeyUsageException);
        let e = fails(&kms, &root(), "EnableKeyRotation", json!({"KeyId": id}));
        assert_eq!(e.error_type, ErrorType::UnsupportedOperationException);
        let e = fails(
            &kms,
            &root(),
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": ROOT, "Operations": ["Decrypt"]}),
        );
        assert_eq!(e.error_type, ErrorType::ValidationException);
    }
}

/// The EBS pattern: managed key, GDKWP via ec2, a grant for the EC2 infrastructure session.
#[test]
fn ebs_pattern_with_managed_key_and_grant() {
    let (kms, _) = kms();
    let user = "arn:aws:iam::111122223333:user/alice";
    let created = iam(&kms, &root(), "CreateUser", &[("UserName", "alice")]);
    assert_eq!(leaf(&created, "Arn"), user);
    let alice = Caller::new(user);
    // Direct use of the managed key is refused by its policy (no via-service).
    let e = fails(
        &kms,
        &alice,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": "alias/aws/ebs", "NumberOfBytes": 64, "EncryptionContext": ebs_ctx("vol-1")}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    let d = ok(
        &kms,
        &root(),
        "DescribeKey",
        json!({"KeyId": "alias/aws/ebs"}),
    );
    assert_eq!(d["KeyMetadata"]["KeyManager"], json!("AWS"));
    let key_arn = d["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let via = Caller::new(user).via(EC2);
    let w1 = ok(
        &kms,
        &via,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": "alias/aws/ebs", "NumberOfBytes": 64, "EncryptionContext": ebs_ctx("vol-1")}),
    );
    assert_eq!(w1["KeyId"], json!(key_arn));
    assert!(w1.get("Plaintext").is_none());
    let w2 = ok(
        &kms,
        &via,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": "alias/aws/ebs", "NumberOfBytes": 64, "EncryptionContext": ebs_ctx("vol-2")}),
    );
    let session = "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/i-0abc";
    let g = ok(
        &kms,
        &via,
        "CreateGrant",
        json!({"KeyId": key_arn, "GranteePrincipal": session, "RetiringPrincipal": user,
        "Operations": ["Decrypt"], "Constraints": {"EncryptionContextSubset": {"aws:ebs:id": "vol-1"}}, "Name": "attach-vol-1"}),
    );
    let gid = g["GrantId"].as_str().unwrap_or_default().to_string();
    assert_eq!(gid.len(), 64);
    let ec2 = Caller::new(session);
    let plain = ok(
        &kms,
        &ec2,
        "Decrypt",
        json!({"CiphertextBlob": w1["CiphertextBlob"], "EncryptionContext": ebs_ctx("vol-1")}),
    );
    use base64::Engine as _;
    let pt = base64::engine::general_purpose::STANDARD
        .decode(plain["Plaintext"].as_str().unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(pt.len(), 64);
    // Right grant, wrong context for this blob: the crypto check fails.
    let e = fails(
        &kms,
        &ec2,
        "Decrypt",
        json!({"CiphertextBlob": w1["CiphertextBlob"], "EncryptionContext": {"aws:ebs:id": "vol-1", "x": "y"}}),
    );
    assert_eq!(e, KmsError::invalid_ciphertext());
    // Another volume's context: the grant does not cover it.
    let e = fails(
        &kms,
        &ec2,
        "Decrypt",
        json!({"CiphertextBlob": w2["CiphertextBlob"], "EncryptionContext": ebs_ctx("vol-2")}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    assert!(e.message.unwrap_or_default().starts_with(&format!(
        "User: {session} is not authorized to perform: kms:Decrypt on resource: {key_arn}"
    )));
    // Named retry: same id, new token.
    let g2 = ok(
        &kms,
        &via,
        "CreateGrant",
        json!({"KeyId": key_arn, "GranteePrincipal": session, "RetiringPrincipal": user,
        "Operations": ["Decrypt"], "Constraints": {"EncryptionContextSubset": {"aws:ebs:id": "vol-1"}}, "Name": "attach-vol-1"}),
    );
    assert_eq!(g2["GrantId"], json!(gid));
    assert_ne!(g2["GrantToken"], g["GrantToken"]);
    let list = ok(&kms, &root(), "ListGrants", json!({"KeyId": key_arn}));
    assert_eq!(list["Grants"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["Grants"][0]["GranteePrincipal"], json!(session));
    // Audit: the Decrypt names the grant.
    let recs = kms.audit_records();
    let dec = recs
        .iter()
        .find(|r| r["eventName"] == "Decrypt" && r.get("errorCode").is_none())
        .cloned()
        .unwrap_or_default();
    assert_eq!(dec["additionalEventData"]["grantId"], json!(gid));
    assert_eq!(dec["userIdentity"]["type"], json!("AssumedRole"));
    let gdk = recs
        .iter()
        .find(|r| {
            r["eventName"] == "GenerateDataKeyWithoutPlaintext" && r.get("errorCode").is_none()
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(gdk["requestParameters"]["numberOfBytes"], json!(64));
    assert_eq!(gdk["requestParameters"]["keyId"], json!("alias/aws/ebs"));
    assert_eq!(gdk["userIdentity"]["invokedBy"], json!("ec2.amazonaws.com"));
    for r in &recs {
        let text = r.to_string();
        assert!(
            !text.contains(plain["Plaintext"].as_str().unwrap_or("-")),
            "plaintext in audit"
        );
        assert!(
            !text.contains(w1["CiphertextBlob"].as_str().unwrap_or("-")),
            "blob in audit"
        );
    }
    // Retire: the session may not (no RetireGrant op), the retiring principal may.
    let e = fails(
        &kms,
        &ec2,
        "RetireGrant",
        json!({"KeyId": key_arn, "GrantId": gid}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    ok(
        &kms,
        &alice,
        "RetireGrant",
        json!({"GrantToken": g2["GrantToken"]}),
    );
    let e = fails(
        &kms,
        &ec2,
        "Decrypt",
        json!({"CiphertextBlob": w1["CiphertextBlob"], "EncryptionContext": ebs_ctx("vol-1")}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    let e = fails(&kms, &alice, "RetireGrant", json!({"GrantToken": "%%%"}));
    assert_eq!(e.error_type, ErrorType::InvalidGrantTokenException);
    let e = fails(
        &kms,
        &root(),
        "RevokeGrant",
        json!({"KeyId": key_arn, "GrantId": "xyz"}),
    );
    assert_eq!(e.error_type, ErrorType::InvalidGrantIdException);
}

#[test]
fn child_grants_are_subsets() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    let ws = "arn:aws:sts::111122223333:assumed-role/aws:workspaces/ws-1";
    let ebs = "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/vol-1";
    ok(
        &kms,
        &root(),
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": ws, "Operations": ["Decrypt", "CreateGrant", "GenerateDataKeyWithoutPlaintext"],
        "Constraints": {"EncryptionContextSubset": {"aws:workspaces:sid-directoryid": "[S-1-5-21-1]@[d-12345678]"}}}),
    );
    let wsc = Caller::new(ws);
    // Stricter child: OK.
    ok(
        &kms,
        &wsc,
        "CreateGrant",
        json!({"KeyId": arn, "GranteePrincipal": ebs, "Operations": ["Decrypt"],
        "Constraints": {"EncryptionContextSubset": {"aws:workspaces:sid-directoryid": "[S-1-5-21-1]@[d-12345678]", "aws:ebs:id": "vol-1"}}}),
    );
    // Looser child: refused.
    let e = fails(
        &kms,
        &wsc,
        "CreateGrant",
        json!({"KeyId": arn, "GranteePrincipal": ebs, "Operations": ["Decrypt"],
        "Constraints": {"EncryptionContextSubset": {"aws:ebs:id": "vol-1"}}}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    // More operations than the parent: refused.
    let e = fails(
        &kms,
        &wsc,
        "CreateGrant",
        json!({"KeyId": arn, "GranteePrincipal": ebs, "Operations": ["Encrypt"],
        "Constraints": {"EncryptionContextSubset": {"aws:workspaces:sid-directoryid": "[S-1-5-21-1]@[d-12345678]"}}}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    let e = fails(
        &kms,
        &root(),
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": ebs, "Operations": ["Fly"]}),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    let e = fails(
        &kms,
        &root(),
        "CreateGrant",
        json!({"KeyId": "alias/aws/ebs", "GranteePrincipal": ebs, "Operations": ["Decrypt"]}),
    );
    assert_eq!(e.error_type, ErrorType::InvalidArnException);
}

#[test]
fn key_states_and_deletion() {
    let (kms, clock) = kms();
    let (id, arn) = create_key(&kms);
    let w = ok(
        &kms,
        &root(),
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": id, "NumberOfBytes": 64}),
    );
    ok(&kms, &root(), "DisableKey", json!({"KeyId": id}));
    let e = fails(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": w["CiphertextBlob"]}),
    );
    assert_eq!(
        e,
        KmsError::new(ErrorType::DisabledException, format!("{arn} is disabled."))
    );
    ok(&kms, &root(), "EnableKey", json!({"KeyId": id}));
    ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": w["CiphertextBlob"]}),
    );
    for days in [6, 31] {
        let e = fails(
            &kms,
            &root(),
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": days}),
        );
        assert_eq!(e.error_type, ErrorType::ValidationException);
    }
    let e = fails(&kms, &root(), "CancelKeyDeletion", json!({"KeyId": id}));
    assert_eq!(e.message, Some(format!("{arn} is not pending deletion.")));
    let s = ok(
        &kms,
        &root(),
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    assert_eq!(s["KeyState"], json!("PendingDeletion"));
    let e = fails(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": w["CiphertextBlob"]}),
    );
    assert_eq!(
        e,
        KmsError::new(
            ErrorType::KMSInvalidStateException,
            format!("{arn} is pending deletion.")
        )
    );
    let e = fails(&kms, &root(), "EnableKey", json!({"KeyId": id}));
    assert_eq!(e.error_type, ErrorType::KMSInvalidStateException);
    ok(&kms, &root(), "CancelKeyDeletion", json!({"KeyId": id}));
    let d = ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}));
    assert_eq!(d["KeyMetadata"]["KeyState"], json!("Disabled"));
    ok(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/doomed", "TargetKeyId": id}),
    );
    ok(
        &kms,
        &root(),
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    clock.advance(7.0 * 86_400.0 + 1.0);
    let e = fails(&kms, &root(), "DescribeKey", json!({"KeyId": id}));
    assert_eq!(e.error_type, ErrorType::NotFoundException);
    let e = fails(
        &kms,
        &root(),
        "DescribeKey",
        json!({"KeyId": "alias/doomed"}),
    );
    assert_eq!(e.error_type, ErrorType::NotFoundException);
    let e = fails(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": w["CiphertextBlob"]}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
}

#[test]
fn rotation_keeps_old_blobs() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    let old = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "b2xk"}),
    );
    let m0 = ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CurrentKeyMaterialId"].clone();
    let r = ok(&kms, &root(), "RotateKeyOnDemand", json!({"KeyId": id}));
    assert_eq!(r["KeyId"], json!(arn));
    let m1 = ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CurrentKeyMaterialId"].clone();
    assert_ne!(m0, m1);
    let new = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "bmV3"}),
    );
    assert_eq!(new["KeyMaterialId"], m1);
    let d = ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": old["CiphertextBlob"]}),
    );
    assert_eq!(
        (d["Plaintext"].clone(), d["KeyMaterialId"].clone()),
        (json!("b2xk"), m0)
    );
    // Automatic rotation, evaluated lazily as the clock passes the period.
    let e = fails(
        &kms,
        &root(),
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 89}),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    ok(
        &kms,
        &root(),
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    );
    let s = ok(&kms, &root(), "GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(
        (
            s["KeyRotationEnabled"].clone(),
            s["RotationPeriodInDays"].clone()
        ),
        (json!(true), json!(90))
    );
    let adv = kms
        .admin_json(&root(), "AdvanceClock", json!({"Days": 91}))
        .map_err(|e| e.to_string());
    assert!(adv.is_ok());
    let m2 = ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CurrentKeyMaterialId"].clone();
    assert_ne!(m2, m1);
    let rots = ok(&kms, &root(), "ListKeyRotations", json!({"KeyId": id}));
    let types: Vec<Value> = rots["Rotations"]
        .as_array()
        .map(|a| a.iter().map(|r| r["RotationType"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(types, vec![json!("ON_DEMAND"), json!("AUTOMATIC")]);
    ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": old["CiphertextBlob"]}),
    );
    ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": new["CiphertextBlob"]}),
    );
    for _ in 1..25 {
        ok(&kms, &root(), "RotateKeyOnDemand", json!({"KeyId": id}));
    }
    let e = fails(&kms, &root(), "RotateKeyOnDemand", json!({"KeyId": id}));
    assert_eq!(e.error_type, ErrorType::LimitExceededException);
}

#[test]
fn policies_iam_and_lockout() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    iam(&kms, &root(), "CreateUser", &[("UserName", "bob")]);
    let bob = Caller::new("arn:aws:iam::111122223333:user/bob");
    // Default policy delegates to IAM; bob has no identity policy yet: the identity-based
    // policy is the one missing.
    let e = fails(
        &kms,
        &bob,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "aGk="}),
    );
    assert_eq!(
        e.message,
        Some(format!(
            "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Encrypt on resource: {arn} because no identity-based policy allows the kms:Encrypt action"
        ))
    );
    let e = fails(&kms, &bob, "CreateKey", json!({}));
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    let use_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:CreateKey"], "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:tier": "secret"}}}]})
    .to_string();
    iam(
        &kms,
        &root(),
        "PutUserPolicy",
        &[
            ("UserName", "bob"),
            ("PolicyName", "use"),
            ("PolicyDocument", &use_policy),
        ],
    );
    let c = ok(
        &kms,
        &bob,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "aGk=", "EncryptionContext": {"tier": "secret"}}),
    );
    let e = fails(
        &kms,
        &bob,
        "Decrypt",
        json!({"CiphertextBlob": c["CiphertextBlob"], "EncryptionContext": {"tier": "secret"}}),
    );
    assert!(
        e.message
            .unwrap_or_default()
            .ends_with("with an explicit deny in an identity-based policy")
    );
    ok(&kms, &bob, "CreateKey", json!({}));
    // Key policy Deny wins.
    let deny = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "NoBob", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "kms:Encrypt", "Resource": "*"}]}).to_string();
    ok(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": deny}),
    );
    let e = fails(
        &kms,
        &bob,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "aGk="}),
    );
    assert!(
        e.message
            .unwrap_or_default()
            .ends_with("with an explicit deny in a resource-based policy")
    );
    assert_eq!(
        ok(&kms, &root(), "GetKeyPolicy", json!({"KeyId": id}))["Policy"],
        json!(deny)
    );
    // Lockout.
    let lockout = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "kms:Encrypt", "Resource": "*"}]}).to_string();
    let e = fails(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": lockout}),
    );
    assert_eq!(
        e.message.as_deref(),
        Some("The new key policy will not allow you to update the key policy in the future.")
    );
    ok(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": lockout, "BypassPolicyLockoutSafetyCheck": true}),
    );
    let e = fails(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": "{\"Version\": \"2012-10-17\", \"Statement\": [ {} }"}),
    );
    assert_eq!(
        e.error_type,
        ErrorType::AccessDeniedException,
        "root is locked out now"
    );
    let (id2, _) = create_key(&kms);
    let e = fails(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": id2, "Policy": "{\"Version\": \"2012-10-17\", \"Statement\": [ {} }"}),
    );
    assert_eq!(e.error_type, ErrorType::MalformedPolicyDocumentException);
    assert!(e.message.unwrap_or_default().contains("line"));
    let big = format!(
        "{{\"Version\": \"2012-10-17\", \"Statement\": [], \"Id\": \"{}\"}}",
        "x".repeat(33_000)
    );
    let e = fails(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": id2, "Policy": big}),
    );
    assert_eq!(e.error_type, ErrorType::LimitExceededException);
}

#[test]
fn cross_account_needs_key_policy_and_identity_policy() {
    let (kms, _) = kms();
    let vendor_role = "arn:aws:iam::444455556666:role/Vendor_EKM";
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Vendor", "Effect": "Allow", "Principal": {"AWS": vendor_role}, "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]}).to_string();
    let k = ok(&kms, &root(), "CreateKey", json!({"Policy": policy}));
    let arn = k["KeyMetadata"]["Arn"].clone();
    let vendor_root = Caller::new("arn:aws:iam::444455556666:root");
    iam(
        &kms,
        &vendor_root,
        "CreateRole",
        &[
            ("RoleName", "Vendor_EKM"),
            (
                "AssumeRolePolicyDocument",
                &trust("arn:aws:iam::444455556666:root"),
            ),
        ],
    );
    let session = Caller::new("arn:aws:sts::444455556666:assumed-role/Vendor_EKM/s1");
    let e = fails(
        &kms,
        &session,
        "Encrypt",
        json!({"KeyId": arn, "Plaintext": "aGk="}),
    );
    assert!(
        e.message
            .unwrap_or_default()
            .contains("no identity-based policy")
    );
    let vendor_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]})
    .to_string();
    iam(
        &kms,
        &vendor_root,
        "PutRolePolicy",
        &[
            ("RoleName", "Vendor_EKM"),
            ("PolicyName", "p"),
            ("PolicyDocument", &vendor_policy),
        ],
    );
    let c = ok(
        &kms,
        &session,
        "Encrypt",
        json!({"KeyId": arn, "Plaintext": "aGk="}),
    );
    ok(
        &kms,
        &session,
        "Decrypt",
        json!({"CiphertextBlob": c["CiphertextBlob"]}),
    );
    let rec = kms
        .audit_records()
        .into_iter()
        .rev()
        .find(|r| r["eventName"] == "Decrypt")
        .unwrap_or_default();
    assert_eq!(
        rec["additionalEventData"]["policyStatementSid"],
        json!("Vendor")
    );
    // A bare key id resolves in the caller's own account.
    let e = fails(
        &kms,
        &session,
        "Encrypt",
        json!({"KeyId": k["KeyMetadata"]["KeyId"], "Plaintext": "aGk="}),
    );
    assert_eq!(e.error_type, ErrorType::NotFoundException);
}

#[test]
fn aliases() {
    let (kms, _) = kms();
    let (id, _) = create_key(&kms);
    let (id2, _) = create_key(&kms);
    let e = fails(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "app", "TargetKeyId": id}),
    );
    assert_eq!(e.error_type, ErrorType::ValidationException);
    let e = fails(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/aws/mine", "TargetKeyId": id}),
    );
    assert_eq!(e.error_type, ErrorType::InvalidAliasNameException);
    ok(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    );
    let e = fails(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    );
    assert_eq!(e.error_type, ErrorType::AlreadyExistsException);
    ok(
        &kms,
        &root(),
        "UpdateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id2}),
    );
    let d = ok(&kms, &root(), "DescribeKey", json!({"KeyId": "alias/app"}));
    assert_eq!(d["KeyMetadata"]["KeyId"], json!(id2));
    let l = ok(&kms, &root(), "ListAliases", json!({}));
    let names: Vec<&str> = l["Aliases"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["AliasName"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names.contains(&"alias/app") && names.contains(&"alias/aws/ebs"),
        "{names:?}"
    );
    ok(
        &kms,
        &root(),
        "DeleteAlias",
        json!({"AliasName": "alias/app"}),
    );
    let e = fails(
        &kms,
        &root(),
        "DeleteAlias",
        json!({"AliasName": "alias/app"}),
    );
    assert_eq!(e.error_type, ErrorType::NotFoundException);
}

#[test]
fn faults_and_admin_access() {
    let (kms, _) = kms();
    let (id, _) = create_key(&kms);
    let alice = Caller::new("arn:aws:iam::111122223333:user/alice");
    assert_eq!(
        kms.admin_json(&alice, "GetClock", json!({}))
            .err()
            .map(|e| e.error_type),
        Some(ErrorType::AccessDeniedException)
    );
    kms.admin_json(
        &root(),
        "SetFault",
        json!({"Operation": "*", "Kind": "outage", "ErrorType": "DependencyTimeoutException"}),
    )
    .map(|_| ())
    .unwrap_or_else(|e| panic!("{e}"));
    let e = fails(&kms, &root(), "DescribeKey", json!({"KeyId": id}));
    assert_eq!(e.error_type, ErrorType::DependencyTimeoutException);
    kms.admin_json(&root(), "ClearFaults", json!({}))
        .map(|_| ())
        .unwrap_or_else(|e| panic!("{e}"));
    ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}));
    let last = kms.audit_records();
    assert!(
        last.iter()
            .any(|r| r["errorCode"] == "DependencyTimeoutException")
    );
    assert!(
        kms.lookup_access_key("test")
            .is_some_and(|c| c.principal == ROOT && c.secret.as_str() == "test" && !c.is_service)
    );
    iam(&kms, &root(), "CreateUser", &[("UserName", "carol")]);
    let u = iam(&kms, &root(), "CreateAccessKey", &[("UserName", "carol")]);
    let akid = leaf(&u, "AccessKeyId");
    let akid = akid.as_str();
    assert!(akid.starts_with("AKIA") && akid.len() == 20);
    assert_eq!(leaf(&u, "SecretAccessKey").len(), 40);
    assert_eq!(
        kms.lookup_access_key(akid).map(|c| c.principal),
        Some("arn:aws:iam::111122223333:user/carol".into())
    );
    assert!(kms.lookup_access_key("AKIANOPE").is_none());
}

#[test]
fn the_typed_api_round_trips_a_data_key() {
    use ebsim_kms::types::crypto::{DecryptRequest, GenerateDataKeyRequest};
    let kms = ebsim_kms::Kms::in_memory(ebsim_kms::KmsConfig::default());
    let root = Caller::new(ROOT);
    let key = kms.call_json(&root, "CreateKey", json!({})).unwrap();
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    let ctx: std::collections::BTreeMap<String, String> =
        [("aws:ebs:id".to_owned(), "vol-1".to_owned())].into();
    let dk = kms
        .generate_data_key(
            &root,
            GenerateDataKeyRequest {
                key_id: Some(arn.clone()),
                number_of_bytes: Some(64),
                encryption_context: Some(ctx.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(dk.key_id, arn);
    let plain = dk.plaintext.expect("GenerateDataKey returns the plaintext");
    assert_eq!(plain.expose().len(), 64);
    let out = kms
        .decrypt(
            &root,
            DecryptRequest {
                ciphertext_blob: Some(dk.ciphertext_blob.clone()),
                encryption_context: Some(ctx),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(out.plaintext.expose(), plain.expose());
    // A wrong context is the opaque crypto failure, typed.
    let e = kms
        .decrypt(
            &root,
            DecryptRequest {
                ciphertext_blob: Some(dk.ciphertext_blob),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::InvalidCiphertextException);
    // Validation messages come from the declarations.
    let e = kms.decrypt(&root, DecryptRequest::default()).unwrap_err();
    assert_eq!(
        e.message.as_deref(),
        Some(
            "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"
        )
    );
}

/// IAM users, roles and their policies are IAM actions only: no admin operation makes them
/// (docs/iam.md).
#[test]
fn no_admin_operation_makes_iam_principals() {
    let (kms, _) = kms();
    for op in [
        "CreateUser",
        "CreateRole",
        "PutPrincipalPolicy",
        "ListPrincipals",
    ] {
        assert!(!ebsim_kms::ADMIN_OPERATIONS.contains(&op), "{op}");
        let e = kms
            .admin_json(&root(), op, json!({"UserName": "u", "RoleName": "r"}))
            .err()
            .map(|e| e.error_type);
        assert_eq!(e, Some(ErrorType::UnknownOperationException), "{op}");
    }
    assert!(ebsim_kms::ADMIN_OPERATIONS.contains(&"AdvanceClock"));
}
