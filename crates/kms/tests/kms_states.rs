//! Reset and saved states through the admin API: a reset forgets keys, principals, the
//! clock, faults and the audit trail (in memory and on a data dir); a saved state comes back
//! whole; attached volumes, bad or missing names and corrupt saves change nothing; only the
//! default account's root may call them.

mod common;

use std::path::Path;

use common::{create_key, iam, ok, root};
use ebsim_data_dir::{DataDir, ExclusiveLock};
use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig};
use serde_json::{Value, json};

const VOL: &str = "vol-0123456789abcdef0";

fn admin(kms: &Kms, op: &str, req: Value) -> Value {
    kms.admin_json(&root(), op, req.clone())
        .unwrap_or_else(|e| panic!("{op} {req}: {e}"))
}

fn admin_err(kms: &Kms, caller: &Caller, op: &str, req: Value) -> (ErrorType, String) {
    match kms.admin_json(caller, op, req.clone()) {
        Ok(v) => panic!("{op} {req} should fail, got {v}"),
        Err(e) => (e.error_type, e.message.unwrap_or_default()),
    }
}

fn key_ids(kms: &Kms) -> Vec<String> {
    let out = ok(kms, &root(), "ListKeys", json!({}));
    let mut ids: Vec<String> = out["Keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["KeyId"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

fn principals(kms: &Kms) -> usize {
    let users = iam(kms, &root(), "ListUsers", &[]);
    users.iter().filter(|(k, _)| k == "UserName").count()
}

/// Keys, an alias, a grant, a user, a clock offset, a fault, audit records.
fn populate(kms: &Kms) -> String {
    let (id, _) = create_key(kms);
    ok(
        kms,
        &root(),
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    );
    ok(
        kms,
        &root(),
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": "arn:aws:iam::111122223333:user/u", "Operations": ["Decrypt"]}),
    );
    iam(kms, &root(), "CreateUser", &[("UserName", "alice")]);
    admin(kms, "AdvanceClock", json!({"Days": 3}));
    admin(
        kms,
        "SetFault",
        json!({"Operation": "GenerateRandom", "Kind": "outage"}),
    );
    id
}

fn assert_fresh(kms: &Kms) {
    assert!(
        admin(kms, "ReadAudit", json!({}))["Records"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "the audit trail is empty"
    );
    assert_eq!(key_ids(kms), Vec::<String>::new());
    assert_eq!(principals(kms), 0);
    assert_eq!(
        admin(kms, "GetClock", json!({}))["OffsetSeconds"],
        json!(0.0)
    );
    ok(kms, &root(), "GenerateRandom", json!({"NumberOfBytes": 8}));
    let aliases = ok(kms, &root(), "ListAliases", json!({}));
    assert!(
        !aliases.to_string().contains("alias/app"),
        "aliases are gone: {aliases}"
    );
}

#[test]
fn an_in_memory_reset_forgets_everything() {
    let (kms, _clock) = common::kms();
    populate(&kms);
    assert_eq!(
        common::kind(&kms, &root(), "GenerateRandom", json!({"NumberOfBytes": 8})),
        ErrorType::KMSInternalException
    );
    assert_eq!(admin(&kms, "Reset", json!({})), json!({}));
    assert_fresh(&kms);
    // Saved states need a data dir.
    for (op, req) in [
        ("SaveState", json!({"Name": "s"})),
        ("RestoreState", json!({"Name": "s"})),
        ("ListStates", json!({})),
        ("DeleteState", json!({"Name": "s"})),
    ] {
        let (t, msg) = admin_err(&kms, &root(), op, req);
        assert_eq!(t, ErrorType::UnsupportedOperationException, "{op}");
        assert!(msg.contains("need a data dir"), "{msg}");
    }
}

#[test]
fn only_the_default_root_may_reset_or_use_states() {
    let (kms, _clock) = common::kms();
    let (id, _) = create_key(&kms);
    let other_root = Caller::new("arn:aws:iam::444455556666:root");
    let user = Caller::new("arn:aws:iam::111122223333:user/alice");
    let forwarded = root().via("ec2.amazonaws.com");
    for caller in [&other_root, &user, &forwarded] {
        for op in ["Reset", "ListStates", "SaveState"] {
            let (t, msg) = admin_err(&kms, caller, op, json!({"Name": "s"}));
            assert_eq!(t, ErrorType::AccessDeniedException, "{op} by {caller:?}");
            assert!(msg.contains(&format!("ebsim:{op}")), "{msg}");
        }
    }
    assert_eq!(key_ids(&kms), vec![id]);
}

fn open(dir: &Path) -> Kms {
    Kms::open(dir, KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// A volume directory as the volume layer writes one (the KMS only looks at its lock).
fn fake_volume(dir: &Path, contents: &[u8]) {
    let d = DataDir::new(dir);
    std::fs::create_dir_all(d.volume(VOL)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.volume_data(VOL), contents).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.volume_lock(VOL), b"").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_data_dir_reset_keeps_the_credential_and_the_saved_states() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = DataDir::new(tmp.path());
    let kms = open(tmp.path());
    populate(&kms);
    fake_volume(tmp.path(), b"image");
    std::fs::create_dir_all(d.workspaces()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.workspaces().join("ws-1.json"), b"{}").unwrap_or_else(|e| panic!("{e}"));
    admin(&kms, "SaveState", json!({"Name": "before"}));
    let credential = std::fs::read(d.service_credential()).unwrap_or_else(|e| panic!("{e}"));

    admin(&kms, "Reset", json!({}));
    assert_fresh(&kms);
    assert!(!d.volumes().exists() && !d.workspaces().exists());
    assert_eq!(
        std::fs::read(d.service_credential()).unwrap_or_default(),
        credential
    );
    assert!(
        kms.lookup_access_key(kms.service_access_key_id().unwrap_or_default())
            .is_some()
    );
    assert_eq!(
        admin(&kms, "ListStates", json!({}))["States"][0]["Name"],
        json!("before")
    );
    let on_disk = std::fs::read_to_string(d.kms_state()).unwrap_or_default();
    assert!(
        !on_disk.contains("alice"),
        "state.json is reset too: {on_disk}"
    );
    // Reopened, the data dir is still fresh.
    drop(kms);
    let kms = open(tmp.path());
    assert_eq!(key_ids(&kms), Vec::<String>::new());
    assert_eq!(principals(&kms), 0);
}

#[test]
fn save_change_restore_gives_the_saved_state_back() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = DataDir::new(tmp.path());
    let kms = open(tmp.path());
    let id = populate(&kms);
    fake_volume(tmp.path(), b"saved image");
    let ctx = json!({"purpose": "test"});
    let blob = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": "alias/app", "Plaintext": "c2VjcmV0", "EncryptionContext": ctx}),
    )["CiphertextBlob"]
        .clone();
    let clock = admin(&kms, "GetClock", json!({}))["OffsetSeconds"].clone();
    assert_eq!(
        admin(&kms, "SaveState", json!({"Name": "base"})),
        json!({"Name": "base"})
    );

    // Change things: a new key, the first one disabled, another user, the image, the clock.
    let (other, _) = create_key(&kms);
    ok(&kms, &root(), "DisableKey", json!({"KeyId": id}));
    iam(&kms, &root(), "CreateUser", &[("UserName", "bob")]);
    admin(&kms, "AdvanceClock", json!({"Days": 10}));
    std::fs::write(d.volume_data(VOL), b"changed").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(key_ids(&kms).len(), 2);

    assert_eq!(
        admin(&kms, "RestoreState", json!({"Name": "base"})),
        json!({"Name": "base"})
    );
    let records = admin(&kms, "ReadAudit", json!({}))["Records"].clone();
    assert_eq!(records, json!([]), "the audit trail starts empty");
    assert_eq!(key_ids(&kms), vec![id.clone()]);
    assert!(!key_ids(&kms).contains(&other));
    assert_eq!(principals(&kms), 1, "alice, not bob");
    assert_eq!(admin(&kms, "GetClock", json!({}))["OffsetSeconds"], clock);
    let plain = ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
    );
    assert_eq!(plain["Plaintext"], json!("c2VjcmV0"));
    assert_eq!(
        std::fs::read(d.volume_data(VOL)).unwrap_or_default(),
        b"saved image"
    );
    // The restored state is the one on disk.
    drop(kms);
    let kms = open(tmp.path());
    assert_eq!(key_ids(&kms), vec![id]);
    // A state restores as often as asked, and is deleted by name.
    create_key(&kms);
    admin(&kms, "RestoreState", json!({"Name": "base"}));
    assert_eq!(key_ids(&kms).len(), 1);
    admin(&kms, "DeleteState", json!({"Name": "base"}));
    assert_eq!(admin(&kms, "ListStates", json!({})), json!({"States": []}));
}

#[test]
fn refusals_change_nothing() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = DataDir::new(tmp.path());
    let kms = open(tmp.path());
    let id = populate(&kms);
    fake_volume(tmp.path(), b"image");
    admin(&kms, "SaveState", json!({"Name": "good"}));
    let state_before = std::fs::read(d.kms_state()).unwrap_or_default();

    // An attached volume (its lock held, as `ebsim volume serve` holds it).
    let attached =
        ExclusiveLock::try_acquire(&d.volume_lock(VOL)).unwrap_or_else(|e| panic!("{e}"));
    for (op, req, action) in [
        ("Reset", json!({}), "reset"),
        ("RestoreState", json!({"Name": "good"}), "restore"),
        ("SaveState", json!({"Name": "other"}), "save"),
    ] {
        let (t, msg) = admin_err(&kms, &root(), op, req);
        assert_eq!(t, ErrorType::ConflictException, "{op}");
        assert_eq!(
            msg,
            format!("Volume {VOL} is attached; detach it before a {action}.")
        );
    }
    drop(attached);

    // Bad and missing names.
    for bad in ["", ".", "..", "a/b", "../good", &"x".repeat(65)] {
        for op in ["SaveState", "RestoreState", "DeleteState"] {
            let (t, _) = admin_err(&kms, &root(), op, json!({"Name": bad}));
            assert_eq!(t, ErrorType::ValidationException, "{op} {bad:?}");
        }
    }
    let (t, _) = admin_err(&kms, &root(), "SaveState", json!({}));
    assert_eq!(t, ErrorType::ValidationException);
    for op in ["RestoreState", "DeleteState"] {
        let (t, msg) = admin_err(&kms, &root(), op, json!({"Name": "missing"}));
        assert_eq!(t, ErrorType::NotFoundException, "{op}");
        assert_eq!(msg, "State missing does not exist.");
    }

    // A corrupt saved state is refused before anything changes.
    let corrupt = d.states().join("corrupt");
    std::fs::create_dir_all(corrupt.join("kms")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(corrupt.join("kms/state.json"), b"{\"keys\": 5")
        .unwrap_or_else(|e| panic!("{e}"));
    let (t, msg) = admin_err(&kms, &root(), "RestoreState", json!({"Name": "corrupt"}));
    assert_eq!(t, ErrorType::KMSInternalException);
    assert!(msg.starts_with("State corrupt is corrupt"), "{msg}");

    assert_eq!(key_ids(&kms), vec![id]);
    assert_eq!(principals(&kms), 1);
    assert_eq!(
        std::fs::read(d.kms_state()).unwrap_or_default(),
        state_before
    );
    assert_eq!(
        std::fs::read(d.volume_data(VOL)).unwrap_or_default(),
        b"image"
    );
    assert!(!d.states().join("other").exists());
    let names: Vec<Value> = admin(&kms, "ListStates", json!({}))["States"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["Name"].clone())
        .collect();
    assert_eq!(names, [json!("corrupt"), json!("good")]);
}
