//! `ebsim alias list` and `ebsim grant list` return every entry, however many pages KMS
//! answers in (ListAliases and ListGrants give at most 100 per page).
//!
//! The defect this guards against: both commands asked for one page of 100 and printed it,
//! so a key with 150 grants showed 100 and said nothing about the rest.

use std::path::Path;

use ebsim::kms::{Caller, Kms, KmsConfig};
use ebsim_test_support::ebsim::Ebsim;
use serde_json::{Value, json};

// The grant quota of a key (50,000, as in AWS) leaves room for the 150 grants below.
const _: () = assert!(ebsim::kms::GRANT_QUOTA >= 150);

fn ebsim(dir: &Path, args: &[&str]) -> String {
    Ebsim::new(env!("CARGO_BIN_EXE_ebsim"))
        .data_dir(dir)
        .ok(args)
}

fn call(kms: &Kms, op: &str, req: Value) -> Value {
    kms.call_json(&Caller::new(kms.root_arn()), op, req)
        .unwrap_or_else(|e| panic!("{op}: {e}"))
}

#[test]
fn alias_list_shows_150_aliases_over_three_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut keys = Vec::new();
    {
        let kms = Kms::open(dir.path(), KmsConfig::default()).expect("open");
        for k in 0..3 {
            let key = call(&kms, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
                .as_str()
                .expect("key id")
                .to_owned();
            // AWS allows 50 aliases per key.
            for a in 0..50 {
                call(
                    &kms,
                    "CreateAlias",
                    json!({"AliasName": format!("alias/app-{k}-{a:02}"), "TargetKeyId": key}),
                );
            }
            keys.push(key);
        }
    }
    let listed = ebsim(dir.path(), &["--json", "alias", "list"]);
    let v: Value = serde_json::from_str(&listed).expect("JSON");
    assert_eq!(v["Truncated"], json!(false));
    let mut names: Vec<&str> = v["Aliases"]
        .as_array()
        .expect("Aliases")
        .iter()
        .filter_map(|a| a["AliasName"].as_str())
        .filter(|n| n.starts_with("alias/app-"))
        .collect();
    names.sort_unstable();
    let mut want: Vec<String> = (0..3)
        .flat_map(|k| (0..50).map(move |a| format!("alias/app-{k}-{a:02}")))
        .collect();
    want.sort_unstable();
    assert_eq!(names, want);

    let text = ebsim(dir.path(), &["alias", "list"]);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("alias/app-")).count(),
        150,
        "{text}"
    );
    for (k, key) in keys.iter().enumerate() {
        let text = ebsim(dir.path(), &["alias", "list", "--key", key]);
        assert_eq!(text.lines().count(), 50, "{text}");
        assert!(
            text.lines()
                .all(|l| l.starts_with(&format!("alias/app-{k}-")))
        );
    }
}

#[test]
fn grant_list_shows_150_grants_on_one_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = {
        let kms = Kms::open(dir.path(), KmsConfig::default()).expect("open");
        let key = call(&kms, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
            .as_str()
            .expect("key id")
            .to_owned();
        for g in 0..150 {
            call(
                &kms,
                "CreateGrant",
                json!({"KeyId": key, "Operations": ["Decrypt"],
                       "GranteePrincipal": format!("arn:aws:iam::111122223333:user/u{g:03}")}),
            );
        }
        key
    };
    let v: Value =
        serde_json::from_str(&ebsim(dir.path(), &["--json", "grant", "list", &key])).expect("JSON");
    let mut grantees: Vec<&str> = v["Grants"]
        .as_array()
        .expect("Grants")
        .iter()
        .filter_map(|g| g["GranteePrincipal"].as_str())
        .collect();
    grantees.sort_unstable();
    grantees.dedup();
    assert_eq!(grantees.len(), 150);
    assert_eq!(grantees[149], "arn:aws:iam::111122223333:user/u149");

    let text = ebsim(dir.path(), &["grant", "list", &key]);
    assert_eq!(text.lines().count(), 150, "{text}");
}

#[test]
fn read_only_commands_need_an_existing_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nothing-here");
    for args in [
        &["key", "list"][..],
        &["alias", "list"],
        &["volume", "list"],
        &["audit"],
    ] {
        let out = Ebsim::new(env!("CARGO_BIN_EXE_ebsim"))
            .data_dir(&missing)
            .output(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("no data dir at {}", missing.display())),
            "{args:?}: {stderr}"
        );
        assert!(!missing.exists(), "{args:?} created the data dir");
    }
    // A command that creates things creates it.
    ebsim(&missing, &["key", "create"]);
    assert!(missing.is_dir());
}
