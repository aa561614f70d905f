//! Persistence: state survives reopening, the data dir is locked, files are private.

use std::os::unix::fs::PermissionsExt;

use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig, KmsOpenError};
use serde_json::json;

const ROOT: &str = "arn:aws:iam::111122223333:root";

#[test]
fn state_survives_reopen_and_lock_excludes_a_second_opener() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = Caller::new(ROOT);
    let (id, blob, gid) = {
        let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            Kms::open(dir.path(), KmsConfig::default()),
            Err(KmsOpenError::Locked { .. })
        ));
        let msg = Kms::open(dir.path(), KmsConfig::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("in use by another process"), "{msg}");
        let k = kms
            .call_json(&root, "CreateKey", json!({"Description": "persist"}))
            .unwrap_or_else(|e| panic!("{e}"));
        let id = k["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        kms.call_json(
            &root,
            "CreateAlias",
            json!({"AliasName": "alias/p", "TargetKeyId": id}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        kms.call_json(&root, "RotateKeyOnDemand", json!({"KeyId": id}))
            .unwrap_or_else(|e| panic!("{e}"));
        let w = kms
            .call_json(&root, "GenerateDataKeyWithoutPlaintext", json!({"KeyId": "alias/p", "NumberOfBytes": 64, "EncryptionContext": {"aws:ebs:id": "vol-1"}}))
            .unwrap_or_else(|e| panic!("{e}"));
        let g = kms
            .call_json(&root, "CreateGrant", json!({"KeyId": id, "GranteePrincipal": "arn:aws:iam::111122223333:user/u", "Operations": ["Decrypt"]}))
            .unwrap_or_else(|e| panic!("{e}"));
        kms.admin_json(&root, "AdvanceClock", json!({"Days": 2}))
            .unwrap_or_else(|e| panic!("{e}"));
        (id, w["CiphertextBlob"].clone(), g["GrantId"].clone())
    };
    let state = dir.path().join("kms/state.json");
    let mode = std::fs::metadata(&state)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o600);
    let cred = Kms::service_credential_path(dir.path());
    let mode = std::fs::metadata(&cred)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o600);
    assert!(dir.path().join("audit/kms-audit.jsonl").exists());
    let audit =
        std::fs::read_to_string(dir.path().join("audit/kms-audit.jsonl")).unwrap_or_default();
    assert!(audit.lines().count() >= 5, "{audit}");

    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let d = kms
        .call_json(&root, "DescribeKey", json!({"KeyId": "alias/p"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d["KeyMetadata"]["KeyId"], json!(id));
    assert_eq!(d["KeyMetadata"]["Description"], json!("persist"));
    let p = kms
        .call_json(
            &root,
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": {"aws:ebs:id": "vol-1"}}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(p["Plaintext"].is_string());
    let grants = kms
        .call_json(&root, "ListGrants", json!({"KeyId": id}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(grants["Grants"][0]["GrantId"], gid);
    let clock = kms
        .admin_json(&root, "GetClock", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(clock["OffsetSeconds"], json!(2.0 * 86_400.0));
    let (akid, _) = {
        let text = std::fs::read_to_string(&cred).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        (
            v["AccessKeyId"].as_str().unwrap_or_default().to_string(),
            (),
        )
    };
    assert!(kms.lookup_access_key(&akid).is_some_and(|c| c.is_service));
}

#[test]
fn corrupt_state_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("kms")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("kms/state.json"), b"{ truncated")
        .unwrap_or_else(|e| panic!("{e}"));
    let e = Kms::open(dir.path(), KmsConfig::default()).err();
    assert!(matches!(e, Some(KmsOpenError::Corrupt { .. })), "{e:?}");
    let _ = ErrorType::NotFoundException;
}

#[test]
fn audit_line_torn_by_a_crash_does_not_swallow_the_next_record() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("audit")).unwrap_or_else(|e| panic!("{e}"));
    let trail = dir.path().join("audit/kms-audit.jsonl");
    std::fs::write(
        &trail,
        b"{\"eventVersion\":\"1.08\"}\n{\"eventVersion\":\"1.0",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    {
        let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        kms.call_json(&Caller::new(ROOT), "CreateKey", json!({}))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let text = std::fs::read_to_string(&trail).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.get(1), Some(&"{\"eventVersion\":\"1.0"), "{text}");
    let created = lines
        .iter()
        .skip(2)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["eventName"] == json!("CreateKey"))
        .count();
    assert_eq!(created, 1, "{text}");
}
