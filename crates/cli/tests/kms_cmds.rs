//! `ebsim key|alias|grant|audit|clock` on an embedded data dir.

use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig};
use ebsim_test_support::ebsim::Cli;
use serde_json::json;

fn run(dir: &std::path::Path, args: &[&str]) -> Result<(), ebsim_cli::CliError> {
    Cli::new(dir).run(args)
}

#[test]
fn key_alias_grant_clock_and_audit_commands() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    run(d, &["key", "create", "--description", "cli key"]).unwrap_or_else(|e| panic!("{e}"));
    let (id, arn) = {
        let kms = Kms::open(d, KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let root = Caller::new(kms.root_arn());
        let keys = kms
            .call_json(&root, "ListKeys", json!({}))
            .unwrap_or_else(|e| panic!("{e}"));
        (
            keys["Keys"][0]["KeyId"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            keys["Keys"][0]["KeyArn"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    run(d, &["alias", "create", "alias/cli", &id]).unwrap_or_else(|e| panic!("{e}"));
    run(d, &["--json", "key", "describe", "alias/cli"]).unwrap_or_else(|e| panic!("{e}"));
    run(d, &["key", "disable", &id]).unwrap_or_else(|e| panic!("{e}"));
    run(
        d,
        &[
            "grant",
            "create",
            &id,
            "--grantee",
            "arn:aws:iam::111122223333:user/u",
            "--operations",
            "Decrypt",
            "--subset",
            "aws:ebs:id=vol-1",
        ],
    )
    .err()
    .map(|e| assert!(e.to_string().contains("DisabledException"), "{e}"))
    .unwrap_or_else(|| panic!("CreateGrant on a disabled key must fail"));
    run(d, &["key", "enable", &id]).unwrap_or_else(|e| panic!("{e}"));
    run(
        d,
        &[
            "grant",
            "create",
            &id,
            "--grantee",
            "arn:aws:iam::111122223333:user/u",
            "--operations",
            "Decrypt",
            "--subset",
            "aws:ebs:id=vol-1",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    run(d, &["key", "rotate", &id]).unwrap_or_else(|e| panic!("{e}"));
    run(d, &["key", "enable-rotation", &id, "--period-days", "90"])
        .unwrap_or_else(|e| panic!("{e}"));
    run(d, &["clock", "advance", "100"]).unwrap_or_else(|e| panic!("{e}"));
    run(d, &["key", "schedule-deletion", &id, "--days", "7"]).unwrap_or_else(|e| panic!("{e}"));
    let e = run(d, &["key", "schedule-deletion", &id, "--days", "7"])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("KMSInvalidStateException") && e.contains("is pending deletion."),
        "{e}"
    );
    run(d, &["key", "cancel-deletion", &id]).unwrap_or_else(|e| panic!("{e}"));
    run(d, &["audit", "--limit", "5"]).unwrap_or_else(|e| panic!("{e}"));

    let kms = Kms::open(d, KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let root = Caller::new(kms.root_arn());
    let m = kms
        .call_json(&root, "DescribeKey", json!({"KeyId": "alias/cli"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        m["KeyMetadata"]["KeyState"],
        json!("Disabled"),
        "cancel leaves the key Disabled"
    );
    assert_eq!(m["KeyMetadata"]["Arn"], json!(arn));
    let grants = kms
        .call_json(&root, "ListGrants", json!({"KeyId": id}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        grants["Grants"][0]["Constraints"]["EncryptionContextSubset"],
        json!({"aws:ebs:id": "vol-1"})
    );
    let rotations = kms
        .call_json(&root, "ListKeyRotations", json!({"KeyId": id}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rotations["Rotations"].as_array().map(Vec::len),
        Some(2),
        "on demand + one automatic after 100 days"
    );
    let clock = kms
        .admin_json(&root, "GetClock", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(clock["OffsetSeconds"], json!(100.0 * 86_400.0));
    let trail = std::fs::read_to_string(d.join("audit/kms-audit.jsonl")).unwrap_or_default();
    assert!(
        trail
            .lines()
            .any(|l| l.contains("\"errorCode\":\"DisabledException\""))
    );
    drop(kms);
    let e = run(
        d,
        &[
            "--as",
            "arn:aws:iam::111122223333:user/nobody",
            "key",
            "disable",
            &id,
        ],
    )
    .err();
    assert_eq!(
        e.and_then(|e| match e {
            ebsim_cli::CliError::Kms(k) => Some(k.error_type),
            _ => None,
        }),
        Some(ErrorType::AccessDeniedException)
    );
}

#[test]
fn key_tag_untag_and_tags_commands() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    run(
        d,
        &["key", "create", "--tag", "team=storage", "--tag", "env="],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let tags = |d: &std::path::Path| {
        let kms = Kms::open(d, KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let root = Caller::new(kms.root_arn());
        let keys = kms
            .call_json(&root, "ListKeys", json!({}))
            .unwrap_or_else(|e| panic!("{e}"));
        let id = keys["Keys"][0]["KeyId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let t = kms
            .call_json(&root, "ListResourceTags", json!({"KeyId": id}))
            .unwrap_or_else(|e| panic!("{e}"));
        (id, t["Tags"].clone())
    };
    let (id, t) = tags(d);
    assert_eq!(
        t,
        json!([{"TagKey": "team", "TagValue": "storage"}, {"TagKey": "env", "TagValue": ""}])
    );
    run(d, &["key", "tag", &id, "env=prod", "cost=42"]).unwrap_or_else(|e| panic!("{e}"));
    run(d, &["key", "untag", &id, "team"]).unwrap_or_else(|e| panic!("{e}"));
    run(d, &["key", "tags", &id]).unwrap_or_else(|e| panic!("{e}"));
    run(d, &["--json", "key", "tags", &id]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        tags(d).1,
        json!([{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "cost", "TagValue": "42"}])
    );
    let e = run(d, &["key", "tag", &id, "no-value"])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("KEY=VALUE"), "{e}");
    let e = run(d, &["key", "tag", &id, "aws:x=1"])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("TagException"), "{e}");
    assert!(
        run(d, &["key", "untag", &id]).is_err(),
        "tag keys are required"
    );
    assert_eq!(tags(d).1.as_array().map(Vec::len), Some(2));
}
