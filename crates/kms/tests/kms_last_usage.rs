//! GetKeyLastUsage across KMS instances on one data dir (docs/kms.md): the last use is saved
//! when the KMS closes, read back when the next opens, and forgotten for deleted keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_kms::{Caller, Kms, KmsConfig};
use serde_json::json;

const ROOT: &str = "arn:aws:iam::111122223333:root";

#[test]
fn last_usage_survives_a_reopen_of_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let root = Caller::new(ROOT);
    let (arn, request_id) = {
        let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
        let arn = kms.call_json(&root, "CreateKey", json!({})).unwrap()["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap()
            .to_owned();
        let before = kms
            .call_json(&root, "GetKeyLastUsage", json!({"KeyId": arn}))
            .unwrap();
        assert!(before.get("KeyLastUsage").is_none(), "{before}");
        kms.call_json(&root, "Encrypt", json!({"KeyId": arn, "Plaintext": "aGk="}))
            .unwrap();
        let now = kms
            .call_json(&root, "GetKeyLastUsage", json!({"KeyId": arn}))
            .unwrap();
        assert_eq!(now["KeyLastUsage"]["Operation"], "Encrypt");
        (arn, now["KeyLastUsage"]["KmsRequestId"].clone())
    };
    let file = dir.path().join("kms/key-last-usage.json");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
    let again = kms
        .call_json(&root, "GetKeyLastUsage", json!({"KeyId": arn}))
        .unwrap();
    assert_eq!(again["KeyLastUsage"]["Operation"], "Encrypt");
    assert_eq!(again["KeyLastUsage"]["KmsRequestId"], request_id);
    // A key scheduled for deletion and deleted is forgotten at the next close.
    let doomed = kms.call_json(&root, "CreateKey", json!({})).unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    kms.call_json(
        &root,
        "Encrypt",
        json!({"KeyId": doomed, "Plaintext": "aGk="}),
    )
    .unwrap();
    kms.call_json(
        &root,
        "ScheduleKeyDeletion",
        json!({"KeyId": doomed, "PendingWindowInDays": 7}),
    )
    .unwrap();
    kms.admin_json(&root, "AdvanceClock", json!({"Days": 8}))
        .unwrap();
    // Any call runs what fell due.
    kms.call_json(&root, "ListKeys", json!({})).unwrap();
    drop(kms);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains(&arn));
    assert!(!saved.contains(&doomed), "{saved}");
}

#[test]
fn an_unreadable_record_file_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    drop(Kms::open(dir.path(), KmsConfig::default()).unwrap());
    std::fs::write(dir.path().join("kms/key-last-usage.json"), b"{not json").unwrap();
    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
    let root = Caller::new(ROOT);
    let arn = kms.call_json(&root, "CreateKey", json!({})).unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = kms
        .call_json(&root, "GetKeyLastUsage", json!({"KeyId": arn}))
        .unwrap();
    assert!(out.get("KeyLastUsage").is_none());
}
