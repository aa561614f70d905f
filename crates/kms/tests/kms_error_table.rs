//! The error table and the key-state rules (docs/kms.md; crates/kms-api/src/ops.rs), operation by operation: the cases the
//! other test files do not cover, plus ConflictException, DryRun, and the tag operations.

mod common;

use common::{ROOT, create_key, fails, kind, kms, ok, root};
use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig, KmsError};
use serde_json::{Value, json};

const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const DAY: f64 = 86_400.0;

fn grant(kms: &Kms, key: &str) -> String {
    let g = ok(
        kms,
        &root(),
        "CreateGrant",
        json!({"KeyId": key, "GranteePrincipal": BOB, "Operations": ["Decrypt"]}),
    );
    g["GrantId"].as_str().unwrap_or_default().to_string()
}

/// Every operation that uses the key for cryptography, with a request on `key`.
fn crypto_requests(key: &str, blob: &Value) -> Vec<(&'static str, Value)> {
    vec![
        ("Encrypt", json!({"KeyId": key, "Plaintext": "aGk="})),
        ("Decrypt", json!({"CiphertextBlob": blob})),
        (
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_256"}),
        ),
        (
            "GenerateDataKeyWithoutPlaintext",
            json!({"KeyId": key, "NumberOfBytes": 64}),
        ),
        (
            "ReEncrypt",
            json!({"CiphertextBlob": blob, "DestinationKeyId": key}),
        ),
        (
            "CreateGrant",
            json!({"KeyId": key, "GranteePrincipal": BOB, "Operations": ["Decrypt"]}),
        ),
    ]
}

#[test]
fn disabled_key_refuses_crypto_grants_and_rotation_changes() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    let blob = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "aGk="}),
    )["CiphertextBlob"]
        .clone();
    ok(&kms, &root(), "DisableKey", json!({"KeyId": id}));
    let disabled = KmsError::new(ErrorType::DisabledException, format!("{arn} is disabled."));
    for (op, req) in crypto_requests(&id, &blob) {
        assert_eq!(fails(&kms, &root(), op, req), disabled, "{op}");
    }
    for op in [
        "EnableKeyRotation",
        "DisableKeyRotation",
        "RotateKeyOnDemand",
    ] {
        assert_eq!(
            fails(&kms, &root(), op, json!({"KeyId": id})),
            disabled,
            "{op}"
        );
    }
    // Still allowed while disabled (§8).
    ok(&kms, &root(), "GetKeyRotationStatus", json!({"KeyId": id}));
    ok(&kms, &root(), "DisableKey", json!({"KeyId": id}));
    ok(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/off", "TargetKeyId": id}),
    );
    ok(
        &kms,
        &root(),
        "UpdateKeyDescription",
        json!({"KeyId": id, "Description": "off"}),
    );
}

#[test]
fn pending_deletion_refuses_what_the_state_table_says_and_allows_the_rest() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    let (other, _) = create_key(&kms);
    let blob = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "aGk="}),
    )["CiphertextBlob"]
        .clone();
    let gid = grant(&kms, &id);
    let gid2 = grant(&kms, &id);
    ok(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/old", "TargetKeyId": id}),
    );
    ok(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/moving", "TargetKeyId": id}),
    );
    ok(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/to-pending", "TargetKeyId": other}),
    );
    ok(
        &kms,
        &root(),
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    let pending = KmsError::new(
        ErrorType::KMSInvalidStateException,
        format!("{arn} is pending deletion."),
    );
    for (op, req) in crypto_requests(&id, &blob) {
        assert_eq!(fails(&kms, &root(), op, req), pending, "{op}");
    }
    for (op, req) in [
        ("EnableKey", json!({"KeyId": id})),
        ("DisableKey", json!({"KeyId": id})),
        ("EnableKeyRotation", json!({"KeyId": id})),
        ("DisableKeyRotation", json!({"KeyId": id})),
        ("RotateKeyOnDemand", json!({"KeyId": id})),
        ("ScheduleKeyDeletion", json!({"KeyId": id})),
        (
            "UpdateKeyDescription",
            json!({"KeyId": id, "Description": "x"}),
        ),
        (
            "TagResource",
            json!({"KeyId": id, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
        ),
        ("UntagResource", json!({"KeyId": id, "TagKeys": ["a"]})),
        (
            "CreateAlias",
            json!({"AliasName": "alias/new", "TargetKeyId": id}),
        ),
        (
            "UpdateAlias",
            json!({"AliasName": "alias/to-pending", "TargetKeyId": id}),
        ),
    ] {
        assert_eq!(fails(&kms, &root(), op, req.clone()), pending, "{op} {req}");
    }
    // Allowed in PendingDeletion (§8).
    let d = ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}));
    assert_eq!(d["KeyMetadata"]["KeyState"], json!("PendingDeletion"));
    assert_eq!(d["KeyMetadata"]["Enabled"], json!(false));
    assert!(d["KeyMetadata"]["DeletionDate"].is_f64());
    ok(&kms, &root(), "GetKeyPolicy", json!({"KeyId": id}));
    let policy = ok(&kms, &root(), "GetKeyPolicy", json!({"KeyId": id}))["Policy"].clone();
    ok(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": policy}),
    );
    ok(&kms, &root(), "ListGrants", json!({"KeyId": id}));
    ok(&kms, &root(), "ListResourceTags", json!({"KeyId": id}));
    let s = ok(&kms, &root(), "GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(s["KeyRotationEnabled"], json!(false));
    ok(
        &kms,
        &root(),
        "RetireGrant",
        json!({"KeyId": arn, "GrantId": gid}),
    );
    ok(
        &kms,
        &root(),
        "RevokeGrant",
        json!({"KeyId": id, "GrantId": gid2}),
    );
    // UpdateAlias away from a key pending deletion is fine; DeleteAlias too.
    ok(
        &kms,
        &root(),
        "UpdateAlias",
        json!({"AliasName": "alias/moving", "TargetKeyId": other}),
    );
    ok(
        &kms,
        &root(),
        "DeleteAlias",
        json!({"AliasName": "alias/old"}),
    );
}

#[test]
fn not_found_cases() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    let missing_gid = "ab".repeat(32);
    assert_eq!(
        fails(
            &kms,
            &root(),
            "GetKeyPolicy",
            json!({"KeyId": id, "PolicyName": "other"})
        ),
        KmsError::new(ErrorType::NotFoundException, "Policy other does not exist")
    );
    for (op, req) in [
        (
            "RevokeGrant",
            json!({"KeyId": id, "GrantId": missing_gid.clone()}),
        ),
        (
            "RetireGrant",
            json!({"KeyId": arn, "GrantId": missing_gid.clone()}),
        ),
        ("DeleteAlias", json!({"AliasName": "alias/none"})),
        (
            "UpdateAlias",
            json!({"AliasName": "alias/none", "TargetKeyId": id}),
        ),
        (
            "ListGrants",
            json!({"KeyId": "arn:aws:kms:us-west-2:111122223333:key/00000000-0000-4000-8000-000000000000"}),
        ),
        (
            "DescribeKey",
            json!({"KeyId": "arn:aws:kms:us-west-2:111122223333:alias/none"}),
        ),
        // Only the four documented forms: not `key/<id>` outside an ARN, not an upper-case
        // id, not a braced one.
        ("DescribeKey", json!({"KeyId": format!("key/{id}")})),
        ("DescribeKey", json!({"KeyId": id.to_uppercase()})),
        ("DescribeKey", json!({"KeyId": format!("{{{id}}}")})),
    ] {
        assert_eq!(
            kind(&kms, &root(), op, req.clone()),
            ErrorType::NotFoundException,
            "{op} {req}"
        );
    }
}

#[test]
fn incorrect_key_invalid_ciphertext_and_key_usage_on_re_encrypt() {
    let (kms, _) = kms();
    let (a, _) = create_key(&kms);
    let (b, _) = create_key(&kms);
    let blob = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": a, "Plaintext": "aGk=", "EncryptionContext": {"k": "v"}}),
    )["CiphertextBlob"]
        .clone();
    let e = fails(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": blob, "SourceKeyId": b, "DestinationKeyId": b,
               "SourceEncryptionContext": {"k": "v"}}),
    );
    assert_eq!(e.error_type, ErrorType::IncorrectKeyException);
    assert_eq!(
        e.message.as_deref(),
        Some("The key ID in the request does not identify a CMK that can perform this operation.")
    );
    // A different context: opaque InvalidCiphertextException, no message.
    let e = fails(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": blob, "DestinationKeyId": b, "SourceEncryptionContext": {"k": "V"}}),
    );
    assert_eq!(e, KmsError::invalid_ciphertext());
    // An HMAC destination cannot encrypt.
    let hmac = ok(
        &kms,
        &root(),
        "CreateKey",
        json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    )["KeyMetadata"]["KeyId"]
        .clone();
    assert_eq!(
        kind(
            &kms,
            &root(),
            "ReEncrypt",
            json!({"CiphertextBlob": blob, "DestinationKeyId": hmac, "SourceEncryptionContext": {"k": "v"}})
        ),
        ErrorType::InvalidKeyUsageException
    );
    // An RSA algorithm on a symmetric key.
    assert_eq!(
        kind(
            &kms,
            &root(),
            "Encrypt",
            json!({"KeyId": a, "Plaintext": "aGk=", "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"})
        ),
        ErrorType::InvalidKeyUsageException
    );
    // The same blob still re-encrypts with the right context.
    ok(
        &kms,
        &root(),
        "ReEncrypt",
        json!({"CiphertextBlob": blob, "SourceKeyId": a, "DestinationKeyId": b, "SourceEncryptionContext": {"k": "v"}}),
    );
}

#[test]
fn malformed_policy_and_limits_on_create_key() {
    let (kms, _) = kms();
    let e = fails(
        &kms,
        &root(),
        "CreateKey",
        json!({"Policy": "{\"Version\": \"2012-10-17\", \"Statement\": [}"}),
    );
    assert_eq!(e.error_type, ErrorType::MalformedPolicyDocumentException);
    // A policy that locks the caller out, at creation.
    let lockout = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": BOB}, "Action": "kms:Decrypt", "Resource": "*"}]})
    .to_string();
    let e = fails(&kms, &root(), "CreateKey", json!({"Policy": lockout}));
    assert_eq!(
        e,
        KmsError::new(
            ErrorType::MalformedPolicyDocumentException,
            "The new key policy will not allow you to update the key policy in the future."
        )
    );
    ok(
        &kms,
        &root(),
        "CreateKey",
        json!({"Policy": lockout, "BypassPolicyLockoutSafetyCheck": true}),
    );
    let big = json!({"Version": "2012-10-17", "Statement": [{"Sid": "x".repeat(33_000), "Effect": "Allow",
        "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}]})
    .to_string();
    assert_eq!(
        kind(&kms, &root(), "CreateKey", json!({"Policy": big})),
        ErrorType::LimitExceededException
    );
    let keys = ok(&kms, &root(), "ListKeys", json!({}));
    assert_eq!(
        keys["Keys"].as_array().map(Vec::len),
        Some(1),
        "refused CreateKey calls create nothing"
    );
}

#[test]
fn fifty_aliases_per_key() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    for i in 0..50 {
        ok(
            &kms,
            &root(),
            "CreateAlias",
            json!({"AliasName": format!("alias/a{i}"), "TargetKeyId": id}),
        );
    }
    let e = fails(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/a50", "TargetKeyId": arn}),
    );
    assert_eq!(e.error_type, ErrorType::LimitExceededException);
    let (other, _) = create_key(&kms);
    ok(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/a50", "TargetKeyId": other}),
    );
    let e = fails(
        &kms,
        &root(),
        "UpdateAlias",
        json!({"AliasName": "alias/a50", "TargetKeyId": id}),
    );
    assert_eq!(e.error_type, ErrorType::LimitExceededException);
    // Re-pointing one of the 50 at the same key is not a 51st.
    ok(
        &kms,
        &root(),
        "UpdateAlias",
        json!({"AliasName": "alias/a0", "TargetKeyId": id}),
    );
}

#[test]
fn grant_token_and_grant_id_errors() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    let gid = grant(&kms, &id);
    let token = ok(
        &kms,
        &root(),
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "Name": "t"}),
    )["GrantToken"]
        .clone();
    // A well-formed token whose grant is gone.
    ok(
        &kms,
        &root(),
        "RetireGrant",
        json!({"GrantToken": token.clone()}),
    );
    assert_eq!(
        kind(&kms, &root(), "RetireGrant", json!({"GrantToken": token})),
        ErrorType::InvalidGrantTokenException
    );
    // Junk tokens in GrantTokens of any grant operation.
    for (op, req) in [
        (
            "Encrypt",
            json!({"KeyId": id, "Plaintext": "aGk=", "GrantTokens": ["junk"]}),
        ),
        ("DescribeKey", json!({"KeyId": id, "GrantTokens": ["junk"]})),
        (
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "GrantTokens": ["junk"]}),
        ),
    ] {
        assert_eq!(
            kind(&kms, &root(), op, req),
            ErrorType::InvalidGrantTokenException,
            "{op}"
        );
    }
    for (op, req) in [
        ("ListGrants", json!({"KeyId": id, "GrantId": "nope"})),
        ("RetireGrant", json!({"KeyId": arn, "GrantId": "nope"})),
        ("RevokeGrant", json!({"KeyId": id, "GrantId": "NOPE"})),
    ] {
        assert_eq!(
            kind(&kms, &root(), op, req),
            ErrorType::InvalidGrantIdException,
            "{op}"
        );
    }
    let listed = ok(
        &kms,
        &root(),
        "ListGrants",
        json!({"KeyId": id, "GrantId": gid}),
    );
    assert_eq!(listed["Grants"].as_array().map(Vec::len), Some(1));
    // RetireGrant by KeyId needs the key ARN.
    assert_eq!(
        kind(
            &kms,
            &root(),
            "RetireGrant",
            json!({"KeyId": id, "GrantId": gid})
        ),
        ErrorType::InvalidArnException
    );
}

#[test]
fn aws_managed_keys_refuse_management() {
    let (kms, _) = kms();
    let ebs = ok(
        &kms,
        &root(),
        "DescribeKey",
        json!({"KeyId": "alias/aws/ebs"}),
    );
    let id = ebs["KeyMetadata"]["KeyId"].clone();
    assert_eq!(ebs["KeyMetadata"]["KeyManager"], json!("AWS"));
    // The managed key policy grants the account root no management: AccessDenied through
    // normal evaluation.
    for op in [
        "DisableKey",
        "ScheduleKeyDeletion",
        "RotateKeyOnDemand",
        "EnableKeyRotation",
    ] {
        assert_eq!(
            kind(&kms, &root(), op, json!({"KeyId": id})),
            ErrorType::AccessDeniedException,
            "{op}"
        );
    }
    let s = ok(&kms, &root(), "GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(s["KeyRotationEnabled"], json!(true));
    let e = fails(
        &kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/mine", "TargetKeyId": id}),
    );
    assert!(
        matches!(
            e.error_type,
            ErrorType::AccessDeniedException | ErrorType::UnsupportedOperationException
        ),
        "{e}"
    );
}

#[test]
fn rotate_on_demand_conflicts_with_an_automatic_rotation_due_within_20_minutes() {
    let (kms, clock) = kms();
    let (id, arn) = create_key(&kms);
    ok(
        &kms,
        &root(),
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    );
    // Far from the automatic rotation: fine.
    ok(&kms, &root(), "RotateKeyOnDemand", json!({"KeyId": id}));
    let before = ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CurrentKeyMaterialId"].clone();
    let next = ok(&kms, &root(), "GetKeyRotationStatus", json!({"KeyId": id}))["NextRotationDate"]
        .as_f64()
        .unwrap_or_default();
    let now = ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CreationDate"]
        .as_f64()
        .unwrap_or_default();
    // 19 minutes before the automatic rotation.
    clock.advance(next - now - 19.0 * 60.0);
    let e = fails(&kms, &root(), "RotateKeyOnDemand", json!({"KeyId": id}));
    assert_eq!(e.error_type, ErrorType::ConflictException);
    assert!(
        e.message.as_deref().is_some_and(|m| m.contains(&arn)),
        "{e}"
    );
    let after = ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CurrentKeyMaterialId"].clone();
    assert_eq!(before, after, "a refused rotation changes nothing");
    // Once the automatic rotation has happened, on-demand rotation works again.
    clock.advance(20.0 * 60.0);
    let auto = ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CurrentKeyMaterialId"].clone();
    assert_ne!(auto, before, "the automatic rotation ran");
    ok(&kms, &root(), "RotateKeyOnDemand", json!({"KeyId": id}));
    // 21 minutes before the next one: allowed.
    clock.advance(90.0 * DAY - 20.0 * 60.0 - 21.0 * 60.0);
    ok(&kms, &root(), "RotateKeyOnDemand", json!({"KeyId": id}));
    // Without automatic rotation there is never a conflict.
    ok(&kms, &root(), "DisableKeyRotation", json!({"KeyId": id}));
    clock.advance(20.0 * 60.0);
    ok(&kms, &root(), "RotateKeyOnDemand", json!({"KeyId": id}));
}

#[test]
fn dry_run_on_every_operation_that_takes_it() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    let (other, _) = create_key(&kms);
    let blob = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "aGk=", "EncryptionContext": {"k": "v"}}),
    )["CiphertextBlob"]
        .clone();
    let gid = grant(&kms, &id);
    let dry = KmsError::new(
        ErrorType::DryRunOperationException,
        "The request would have succeeded, but the DryRun option is set.",
    );
    for (op, req) in [
        (
            "Encrypt",
            json!({"KeyId": id, "Plaintext": "aGk=", "DryRun": true}),
        ),
        (
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": {"k": "v"}, "DryRun": true}),
        ),
        (
            "GenerateDataKey",
            json!({"KeyId": id, "NumberOfBytes": 32, "DryRun": true}),
        ),
        (
            "ReEncrypt",
            json!({"CiphertextBlob": blob, "SourceEncryptionContext": {"k": "v"}, "DestinationKeyId": other, "DryRun": true}),
        ),
        (
            "Decrypt",
            json!({"KeyId": id, "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]}),
        ),
        (
            "ReEncrypt",
            json!({"SourceKeyId": id, "DestinationKeyId": other, "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]}),
        ),
        (
            "RetireGrant",
            json!({"KeyId": arn, "GrantId": gid, "DryRun": true}),
        ),
        (
            "RevokeGrant",
            json!({"KeyId": id, "GrantId": gid, "DryRun": true}),
        ),
    ] {
        assert_eq!(fails(&kms, &root(), op, req.clone()), dry, "{op} {req}");
    }
    let grants = ok(&kms, &root(), "ListGrants", json!({"KeyId": id}));
    assert_eq!(
        grants["Grants"].as_array().map(Vec::len),
        Some(1),
        "dry runs retire and revoke nothing"
    );
    // A dry run that would fail answers the failure.
    let bob = Caller::new(BOB);
    for (op, req) in [
        (
            "Encrypt",
            json!({"KeyId": id, "Plaintext": "aGk=", "DryRun": true}),
        ),
        (
            "Decrypt",
            json!({"KeyId": other, "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]}),
        ),
        (
            "RevokeGrant",
            json!({"KeyId": id, "GrantId": gid, "DryRun": true}),
        ),
    ] {
        assert_eq!(
            kind(&kms, &bob, op, req),
            ErrorType::AccessDeniedException,
            "{op}"
        );
    }
    // Bob's grant on `id` covers Decrypt: the ciphertext-free dry run sees it.
    assert_eq!(
        kind(
            &kms,
            &bob,
            "Decrypt",
            json!({"KeyId": id, "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]})
        ),
        ErrorType::DryRunOperationException
    );
    assert_eq!(
        kind(
            &kms,
            &root(),
            "Decrypt",
            json!({"CiphertextBlob": blob, "DryRun": true})
        ),
        ErrorType::InvalidCiphertextException,
        "a dry run still checks the ciphertext unless told not to"
    );
    assert_eq!(
        kind(
            &kms,
            &root(),
            "Decrypt",
            json!({"DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]})
        ),
        ErrorType::ValidationException,
        "without a ciphertext the key must be named"
    );
    assert_eq!(
        kind(
            &kms,
            &root(),
            "Decrypt",
            json!({"KeyId": id, "DryRun": true, "DryRunModifiers": ["SKIP"]})
        ),
        ErrorType::ValidationException
    );
    assert_eq!(
        kind(
            &kms,
            &root(),
            "Decrypt",
            json!({"KeyId": id, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]})
        ),
        ErrorType::ValidationException,
        "IGNORE_CIPHERTEXT without DryRun is a plain Decrypt, which needs its ciphertext"
    );
    ok(&kms, &root(), "DisableKey", json!({"KeyId": other}));
    assert_eq!(
        kind(
            &kms,
            &root(),
            "ReEncrypt",
            json!({"SourceKeyId": id, "DestinationKeyId": other, "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]})
        ),
        ErrorType::DisabledException
    );
    // Operations without a DryRun member refuse it and change nothing.
    for (op, req) in [
        ("DescribeKey", json!({"KeyId": id, "DryRun": true})),
        ("ListKeys", json!({"DryRun": true})),
        ("DisableKey", json!({"KeyId": id, "DryRun": true})),
        ("CreateKey", json!({"DryRun": true})),
    ] {
        assert_eq!(
            kind(&kms, &root(), op, req),
            ErrorType::ValidationException,
            "{op}"
        );
    }
    let d = ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}));
    assert_eq!(d["KeyMetadata"]["KeyState"], json!("Enabled"));
    assert_eq!(
        ok(&kms, &root(), "ListKeys", json!({}))["Keys"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn tags_on_create_tag_untag_and_list() {
    let (kms, _) = kms();
    let k = ok(
        &kms,
        &root(),
        "CreateKey",
        json!({"Tags": [{"TagKey": "team", "TagValue": "storage"}, {"TagKey": "env", "TagValue": ""}]}),
    );
    let id = k["KeyMetadata"]["KeyId"].clone();
    let tags = |kms: &Kms| {
        ok(kms, &root(), "ListResourceTags", json!({"KeyId": id}))["Tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| {
                        format!(
                            "{}={}",
                            t["TagKey"].as_str().unwrap_or("?"),
                            t["TagValue"].as_str().unwrap_or("?")
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(tags(&kms), vec!["team=storage", "env="]);
    ok(
        &kms,
        &root(),
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "cost", "TagValue": "42"}]}),
    );
    assert_eq!(tags(&kms), vec!["team=storage", "env=prod", "cost=42"]);
    ok(
        &kms,
        &root(),
        "UntagResource",
        json!({"KeyId": id, "TagKeys": ["team", "absent"]}),
    );
    assert_eq!(tags(&kms), vec!["env=prod", "cost=42"]);
    // Paging.
    let p = ok(
        &kms,
        &root(),
        "ListResourceTags",
        json!({"KeyId": id, "Limit": 1}),
    );
    assert_eq!(
        (p["Tags"].as_array().map(Vec::len), p["Truncated"].clone()),
        (Some(1), json!(true))
    );
    let p2 = ok(
        &kms,
        &root(),
        "ListResourceTags",
        json!({"KeyId": id, "Limit": 1, "Marker": p["NextMarker"]}),
    );
    assert_eq!(p2["Tags"][0]["TagKey"], json!("cost"));
    assert_eq!(
        kind(
            &kms,
            &root(),
            "ListResourceTags",
            json!({"KeyId": id, "Limit": 51})
        ),
        ErrorType::ValidationException
    );
    // Errors, each changing nothing.
    for (op, req, want) in [
        (
            "TagResource",
            json!({"KeyId": id, "Tags": [{"TagKey": "aws:reserved", "TagValue": "x"}]}),
            ErrorType::TagException,
        ),
        (
            "TagResource",
            json!({"KeyId": id, "Tags": [{"TagKey": "d", "TagValue": "1"}, {"TagKey": "d", "TagValue": "2"}]}),
            ErrorType::TagException,
        ),
        (
            "TagResource",
            json!({"KeyId": id, "Tags": [{"TagKey": "k".repeat(129), "TagValue": "x"}]}),
            ErrorType::ValidationException,
        ),
        (
            "TagResource",
            json!({"KeyId": id, "Tags": [{"TagKey": "k", "TagValue": "v".repeat(257)}]}),
            ErrorType::ValidationException,
        ),
        (
            "TagResource",
            json!({"KeyId": id}),
            ErrorType::ValidationException,
        ),
        (
            "UntagResource",
            json!({"KeyId": id}),
            ErrorType::ValidationException,
        ),
        (
            "TagResource",
            json!({"KeyId": "alias/x", "Tags": []}),
            ErrorType::InvalidArnException,
        ),
        (
            "CreateKey",
            json!({"Tags": [{"TagKey": "AWS:x", "TagValue": "1"}]}),
            ErrorType::TagException,
        ),
    ] {
        assert_eq!(kind(&kms, &root(), op, req.clone()), want, "{op} {req}");
    }
    assert_eq!(tags(&kms), vec!["env=prod", "cost=42"]);
    // At most 50 tags per key.
    let many: Vec<Value> = (0..48)
        .map(|i| json!({"TagKey": format!("t{i}"), "TagValue": "x"}))
        .collect();
    ok(
        &kms,
        &root(),
        "TagResource",
        json!({"KeyId": id, "Tags": many}),
    );
    assert_eq!(
        kind(
            &kms,
            &root(),
            "TagResource",
            json!({"KeyId": id, "Tags": [{"TagKey": "one-too-many", "TagValue": "x"}]})
        ),
        ErrorType::LimitExceededException
    );
    // Replacing a value does not count as a new tag.
    ok(
        &kms,
        &root(),
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "t0", "TagValue": "y"}]}),
    );
    // Authorization: kms:TagResource in the key policy (Bob has nothing).
    let bob = Caller::new(BOB);
    assert_eq!(
        kind(
            &kms,
            &bob,
            "TagResource",
            json!({"KeyId": id, "Tags": [{"TagKey": "b", "TagValue": "1"}]})
        ),
        ErrorType::AccessDeniedException
    );
    assert_eq!(
        kind(&kms, &bob, "ListResourceTags", json!({"KeyId": id})),
        ErrorType::AccessDeniedException
    );
    assert_eq!(
        kind(
            &kms,
            &bob,
            "CreateKey",
            json!({"Tags": [{"TagKey": "b", "TagValue": "1"}]})
        ),
        ErrorType::AccessDeniedException
    );
}

#[test]
fn grants_to_service_principals() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    let svc = "dynamodb.us-west-2.amazonaws.com";
    let ctx = json!({"aws:dynamodb:tableName": "t1"});
    let blob = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "aGk=", "EncryptionContext": ctx}),
    )["CiphertextBlob"]
        .clone();
    let service = Caller::new(svc);
    assert_eq!(
        kind(
            &kms,
            &service,
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx})
        ),
        ErrorType::AccessDeniedException
    );
    let g = ok(
        &kms,
        &root(),
        "CreateGrant",
        json!({"KeyId": id, "GranteeServicePrincipal": svc, "RetiringServicePrincipal": svc,
               "Operations": ["Decrypt"], "Constraints": {"EncryptionContextSubset": ctx}}),
    );
    let gid = g["GrantId"].clone();
    let d = ok(
        &kms,
        &service,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
    );
    assert_eq!(d["Plaintext"], json!("aGk="));
    let listed = ok(
        &kms,
        &root(),
        "ListGrants",
        json!({"KeyId": id, "GranteeServicePrincipal": svc}),
    );
    let entry = &listed["Grants"][0];
    assert_eq!(entry["GrantId"], gid);
    assert_eq!(entry["GranteePrincipal"], json!(svc));
    assert_eq!(entry["GranteeServicePrincipal"], json!(svc));
    assert_eq!(entry["RetiringServicePrincipal"], json!(svc));
    let none = ok(
        &kms,
        &root(),
        "ListGrants",
        json!({"KeyId": id, "GranteeServicePrincipal": "ec2.amazonaws.com"}),
    );
    assert_eq!(none["Grants"].as_array().map(Vec::len), Some(0));
    let retirable = ok(
        &kms,
        &root(),
        "ListRetirableGrants",
        json!({"RetiringServicePrincipal": svc}),
    );
    assert_eq!(retirable["Grants"][0]["GrantId"], gid);
    // A user grant does not list a service entry.
    grant(&kms, &id);
    let all = ok(&kms, &root(), "ListGrants", json!({"KeyId": id}));
    let users: Vec<&Value> = all["Grants"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|g| g["GranteePrincipal"] == json!(BOB))
                .collect()
        })
        .unwrap_or_default();
    assert!(users.len() == 1 && users[0].get("GranteeServicePrincipal").is_none());
    for req in [
        json!({"KeyId": id, "GranteePrincipal": BOB, "GranteeServicePrincipal": svc, "Operations": ["Decrypt"]}),
        json!({"KeyId": id, "Operations": ["Decrypt"]}),
        json!({"KeyId": id, "GranteeServicePrincipal": "arn:aws:iam::111122223333:root", "Operations": ["Decrypt"]}),
        json!({"KeyId": id, "GranteePrincipal": BOB, "RetiringPrincipal": BOB, "RetiringServicePrincipal": svc, "Operations": ["Decrypt"]}),
    ] {
        assert_eq!(
            kind(&kms, &root(), "CreateGrant", req.clone()),
            ErrorType::ValidationException,
            "{req}"
        );
    }
    assert_eq!(
        kind(
            &kms,
            &root(),
            "ListRetirableGrants",
            json!({"RetiringPrincipal": BOB, "RetiringServicePrincipal": svc})
        ),
        ErrorType::ValidationException
    );
    // The retiring service retires it; the grant no longer allows Decrypt.
    ok(
        &kms,
        &service,
        "RetireGrant",
        json!({"KeyId": arn, "GrantId": gid}),
    );
    assert_eq!(
        kind(
            &kms,
            &service,
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx})
        ),
        ErrorType::AccessDeniedException
    );
}

#[test]
fn faults_are_per_operation_switchable_and_latency_delays() {
    let (kms, _) = kms();
    let (id, _) = create_key(&kms);
    let admin = |req: Value| {
        kms.admin_json(&root(), "SetFault", req)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    admin(json!({"Operation": "Decrypt", "Kind": "outage"}));
    let blob = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "aGk="}),
    )["CiphertextBlob"]
        .clone();
    assert_eq!(
        kind(&kms, &root(), "Decrypt", json!({"CiphertextBlob": blob})),
        ErrorType::KMSInternalException
    );
    admin(
        json!({"Operation": "GenerateDataKeyWithoutPlaintext", "Kind": "latency", "LatencyMs": 80}),
    );
    let t = std::time::Instant::now();
    ok(
        &kms,
        &root(),
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": id, "NumberOfBytes": 64}),
    );
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(80),
        "latency fault not applied: {:?}",
        t.elapsed()
    );
    kms.admin_json(&root(), "ClearFaults", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    ok(&kms, &root(), "Decrypt", json!({"CiphertextBlob": blob}));
    for bad in [
        json!({"Operation": "Decrypt", "Kind": "latency"}),
        json!({"Operation": "Decrypt", "Kind": "latency", "LatencyMs": 600_000}),
        json!({"Operation": "Decrypt", "Kind": "outage", "ErrorType": "NotFoundException"}),
    ] {
        let e = kms.admin_json(&root(), "SetFault", bad.clone()).err();
        assert_eq!(
            e.map(|e| e.error_type),
            Some(ErrorType::ValidationException),
            "{bad}"
        );
    }
}

#[test]
fn key_and_grant_quotas() {
    assert_eq!(
        (ebsim_kms::KEY_QUOTA, ebsim_kms::GRANT_QUOTA),
        (100_000, 50_000)
    );
    let kms = Kms::in_memory(KmsConfig::default().key_quota(2).grant_quota(2));
    let (id, _) = create_key(&kms);
    create_key(&kms);
    let e = fails(&kms, &root(), "CreateKey", json!({}));
    assert_eq!(e.error_type, ErrorType::LimitExceededException);
    // AWS managed keys do not count, and other accounts have their own quota.
    ok(
        &kms,
        &root(),
        "DescribeKey",
        json!({"KeyId": "alias/aws/ebs"}),
    );
    ok(
        &kms,
        &Caller::new("arn:aws:iam::444455556666:root"),
        "CreateKey",
        json!({}),
    );
    let named =
        json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "Name": "n"});
    let first = ok(&kms, &root(), "CreateGrant", named.clone());
    grant(&kms, &id);
    let e = fails(
        &kms,
        &root(),
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Encrypt"]}),
    );
    assert_eq!(e.error_type, ErrorType::LimitExceededException);
    // A retry of an existing named grant is not a new grant.
    let retry = ok(&kms, &root(), "CreateGrant", named);
    assert_eq!(retry["GrantId"], first["GrantId"]);
    assert_ne!(retry["GrantToken"], first["GrantToken"]);
}

#[test]
fn grant_constraint_and_token_limits() {
    let (kms, _) = kms();
    let (id, _) = create_key(&kms);
    let pairs = |n: usize, len: usize| -> Value {
        (0..n)
            .map(|i| (format!("k{i}"), Value::String("v".repeat(len))))
            .collect::<serde_json::Map<String, Value>>()
            .into()
    };
    for (constraint, good) in [
        (json!({"EncryptionContextSubset": pairs(8, 384)}), true),
        (json!({"EncryptionContextEquals": pairs(8, 1)}), true),
        (json!({"EncryptionContextSubset": pairs(9, 1)}), false),
        (json!({"EncryptionContextEquals": pairs(1, 385)}), false),
    ] {
        let req = json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "Constraints": constraint});
        if good {
            ok(&kms, &root(), "CreateGrant", req);
        } else {
            assert_eq!(
                kind(&kms, &root(), "CreateGrant", req.clone()),
                ErrorType::ValidationException,
                "{req}"
            );
        }
    }
    let token = ok(
        &kms,
        &root(),
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Decrypt"]}),
    )["GrantToken"]
        .clone();
    let ten: Vec<Value> = (0..10).map(|_| token.clone()).collect();
    ok(
        &kms,
        &root(),
        "DescribeKey",
        json!({"KeyId": id, "GrantTokens": ten}),
    );
    let eleven: Vec<Value> = (0..11).map(|_| token.clone()).collect();
    assert_eq!(
        kind(
            &kms,
            &root(),
            "DescribeKey",
            json!({"KeyId": id, "GrantTokens": eleven})
        ),
        ErrorType::ValidationException
    );
    // EnableKeyRotation again changes the period.
    ok(
        &kms,
        &root(),
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    );
    ok(
        &kms,
        &root(),
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 2560}),
    );
    let s = ok(&kms, &root(), "GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(s["RotationPeriodInDays"], json!(2560));
    assert_eq!(
        kind(
            &kms,
            &root(),
            "EnableKeyRotation",
            json!({"KeyId": id, "RotationPeriodInDays": 2561})
        ),
        ErrorType::ValidationException
    );
}

#[test]
fn a_disabled_key_is_not_rotated_and_rotates_once_when_enabled_again() {
    let (kms, clock) = kms();
    let (id, _) = create_key(&kms);
    ok(
        &kms,
        &root(),
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    );
    let materials = |kms: &Kms| {
        ok(
            kms,
            &root(),
            "ListKeyRotations",
            json!({"KeyId": id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
        )["Rotations"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default()
    };
    assert_eq!(materials(&kms), 1);
    ok(&kms, &root(), "DisableKey", json!({"KeyId": id}));
    clock.advance(400.0 * DAY);
    assert_eq!(materials(&kms), 1, "no rotation while disabled");
    let s = ok(&kms, &root(), "GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(s["KeyRotationEnabled"], json!(true), "status unchanged");
    ok(&kms, &root(), "EnableKey", json!({"KeyId": id}));
    assert_eq!(materials(&kms), 2, "one rotation at once on re-enable");
    let s = ok(&kms, &root(), "GetKeyRotationStatus", json!({"KeyId": id}));
    let next = s["NextRotationDate"].as_f64().unwrap_or_default();
    let created =
        ok(&kms, &root(), "DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CreationDate"]
            .as_f64()
            .unwrap_or_default();
    assert!(
        (next - (created + 490.0 * DAY)).abs() < 1.0,
        "the next rotation is one period after the re-enable: {next}"
    );
    // While enabled, every period that passes rotates.
    clock.advance(180.0 * DAY + 1.0);
    assert_eq!(materials(&kms), 4);
}

#[test]
fn create_key_enums_and_origins() {
    let (kms, _) = kms();
    for (req, want) in [
        (
            json!({"Origin": "SOMEWHERE"}),
            ErrorType::ValidationException,
        ),
        (
            json!({"Origin": "AWS_CLOUDHSM"}),
            ErrorType::ValidationException,
        ),
        (
            json!({"Origin": "EXTERNAL_KEY_STORE", "CustomKeyStoreId": "cks-1234567890abcdef0"}),
            ErrorType::CustomKeyStoreNotFoundException,
        ),
        (
            json!({"KeySpec": "AES_999"}),
            ErrorType::ValidationException,
        ),
        (
            json!({"KeySpec": "HMAC_256", "KeyUsage": "ENCRYPT_DECRYPT"}),
            ErrorType::ValidationException,
        ),
        (
            json!({"KeySpec": "RSA_2048", "CustomerMasterKeySpec": "RSA_4096", "KeyUsage": "SIGN_VERIFY"}),
            ErrorType::ValidationException,
        ),
        (
            json!({"Description": "d".repeat(8193)}),
            ErrorType::ValidationException,
        ),
    ] {
        assert_eq!(kind(&kms, &root(), "CreateKey", req.clone()), want, "{req}");
    }
    let k = ok(
        &kms,
        &root(),
        "CreateKey",
        json!({"CustomerMasterKeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
    );
    assert_eq!(
        (
            k["KeyMetadata"]["KeySpec"].clone(),
            k["KeyMetadata"]["CustomerMasterKeySpec"].clone()
        ),
        (json!("RSA_2048"), json!("RSA_2048"))
    );
    assert_eq!(
        ok(&kms, &root(), "ListKeys", json!({}))["Keys"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn re_encrypt_checks_the_blob_length_before_opening_it() {
    let (kms, _) = kms();
    let (key, _) = create_key(&kms);
    for blob in [String::new(), "A".repeat(8200)] {
        let e = fails(
            &kms,
            &root(),
            "ReEncrypt",
            json!({"CiphertextBlob": blob, "DestinationKeyId": key}),
        );
        assert_eq!(e.error_type, ErrorType::ValidationException, "{e}");
        assert!(e.to_string().contains("between 1 and 6144"), "{e}");
    }
}

#[test]
fn tag_and_service_principal_members_are_audited() {
    let (kms, _) = kms();
    let (key, _) = create_key(&kms);
    ok(
        &kms,
        &root(),
        "TagResource",
        json!({"KeyId": key, "Tags": [{"TagKey": "team", "TagValue": "storage"}]}),
    );
    ok(
        &kms,
        &root(),
        "UntagResource",
        json!({"KeyId": key, "TagKeys": ["team"]}),
    );
    ok(
        &kms,
        &root(),
        "CreateGrant",
        json!({
            "KeyId": key,
            "GranteeServicePrincipal": "ebs.amazonaws.com",
            "Operations": ["Decrypt"],
        }),
    );
    let records = kms.audit_records();
    let params = |event: &str| {
        records
            .iter()
            .rev()
            .find(|r| r["eventName"] == event)
            .map(|r| r["requestParameters"].clone())
            .unwrap_or_else(|| panic!("no {event} record"))
    };
    assert_eq!(
        params("TagResource")["tags"],
        json!([{"TagKey": "team", "TagValue": "storage"}])
    );
    assert_eq!(params("UntagResource")["tagKeys"], json!(["team"]));
    assert_eq!(
        params("CreateGrant")["granteeServicePrincipal"],
        "ebs.amazonaws.com"
    );
}
