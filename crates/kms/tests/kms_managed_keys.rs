//! AWS managed keys are created only in the caller's own account, only for a caller allowed
//! to use them, and a call's persistence cost follows what it changed, not the size of the
//! state (measured in bytes written, not time).

mod common;

use common::{ROOT, fails, iam, ok};
use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig, PersistStats};
use serde_json::json;

fn open(dir: &std::path::Path) -> Kms {
    Kms::open(dir, KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn stats(kms: &Kms) -> PersistStats {
    kms.persist_stats().unwrap_or_default()
}

fn written(s: PersistStats) -> u64 {
    s.journal_bytes + s.snapshot_bytes
}

fn key_count(kms: &Kms) -> usize {
    ok(kms, &Caller::new(ROOT), "ListKeys", json!({"Limit": 1000}))["Keys"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn managed_keys_are_not_created_for_other_accounts_or_unauthorized_callers() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let kms = open(dir.path());
    let root = Caller::new(ROOT);
    iam(&kms, &root, "CreateUser", &[("UserName", "nobody")]);
    let nobody = Caller::new("arn:aws:iam::111122223333:user/nobody");
    let before = stats(&kms);
    // Any 12-digit account named in an alias ARN: nothing is created anywhere.
    for i in 0..2087u64 {
        let alias = format!(
            "arn:aws:kms:us-west-2:{:012}:alias/aws/ebs",
            200_000_000_000 + i
        );
        let e = fails(&kms, &nobody, "DescribeKey", json!({ "KeyId": alias }));
        assert_eq!(e.error_type, ErrorType::NotFoundException, "{e}");
    }
    // Its own account's managed key, which it may not use: refused, nothing created.
    let e = fails(
        &kms,
        &nobody,
        "DescribeKey",
        json!({"KeyId": "alias/aws/ebs"}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException, "{e}");
    let e = fails(
        &kms,
        &nobody,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": "alias/aws/ebs", "NumberOfBytes": 64}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException, "{e}");
    assert_eq!(stats(&kms), before, "no refused call wrote anything");
    assert_eq!(key_count(&kms), 0);
    // The account's root may: the key is made once, in its account.
    let d = ok(
        &kms,
        &root,
        "DescribeKey",
        json!({"KeyId": "alias/aws/ebs"}),
    );
    assert_eq!(d["KeyMetadata"]["KeyManager"], json!("AWS"));
    assert_eq!(d["KeyMetadata"]["AWSAccountId"], json!("111122223333"));
    ok(
        &kms,
        &root,
        "DescribeKey",
        json!({"KeyId": "alias/aws/ebs"}),
    );
    assert_eq!(key_count(&kms), 1);
    drop(kms);
    let size = std::fs::metadata(dir.path().join("kms/state.json")).map_or(0, |m| m.len());
    assert!(size < 16 * 1024, "state.json holds {size} bytes");
}

#[test]
fn a_call_writes_what_it_changed_however_large_the_state() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let kms = open(dir.path());
    let root = Caller::new(ROOT);
    let create = |n: usize| {
        let before = stats(&kms);
        for i in 0..n {
            ok(
                &kms,
                &root,
                "CreateKey",
                json!({"Description": format!("key {i}")}),
            );
        }
        let after = stats(&kms);
        (written(after) - written(before)) / n as u64
    };
    let small = create(50);
    let large = create(1000);
    drop(kms);
    let state = std::fs::metadata(dir.path().join("kms/state.json")).map_or(0, |m| m.len());
    assert!(state > 1024 * 1024, "the state grew to {state} bytes");
    eprintln!(
        "bytes written per CreateKey: {small} (50 keys), {large} (growing to 1050 keys, {state} bytes of state)"
    );
    // Rewriting the whole state per call would average state/2 per call (over 700 KB here).
    assert!(
        large < 3 * small.max(2048),
        "bytes per call: {small} with 50 keys, {large} while growing to 1050 keys ({state} bytes)"
    );
    // Reopened, everything is there (the journal was folded in at close).
    let kms = open(dir.path());
    assert_eq!(
        ok(&kms, &root, "ListKeys", json!({"Limit": 1000}))["Truncated"],
        json!(true)
    );
}

#[test]
fn the_journal_replays_after_a_crash_and_a_torn_line_is_ignored() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = Caller::new(ROOT);
    let kms = open(dir.path());
    let k = ok(&kms, &root, "CreateKey", json!({}));
    let id = k["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ok(
        &kms,
        &root,
        "CreateAlias",
        json!({"AliasName": "alias/a", "TargetKeyId": id}),
    );
    ok(&kms, &root, "DisableKey", json!({"KeyId": id}));
    // A crash: the process ends without closing the KMS (no fold into state.json).
    std::mem::forget(kms);
    let journal = dir.path().join("kms/state.journal");
    let lines = std::fs::read_to_string(&journal).unwrap_or_default();
    assert_eq!(lines.lines().count(), 3, "{lines}");
    // And a line torn while it was written.
    let mut torn = lines.into_bytes();
    torn.extend_from_slice(br#"{"generation":0,"keys":{"x":"#);
    std::fs::write(&journal, &torn).unwrap_or_else(|e| panic!("{e}"));
    // The lock died with the "process": take it over as a new process would.
    std::fs::remove_file(dir.path().join("kms/.lock")).unwrap_or_else(|e| panic!("{e}"));
    let kms = open(dir.path());
    let d = ok(&kms, &root, "DescribeKey", json!({"KeyId": "alias/a"}));
    assert_eq!(d["KeyMetadata"]["KeyState"], json!("Disabled"));
    assert_eq!(
        std::fs::metadata(&journal).map_or(1, |m| m.len()),
        0,
        "opening folded the journal into state.json"
    );
}
