//! The key-state table of the import operations (docs/kms.md, "Imported key material"): what
//! GetParametersForImport, ImportKeyMaterial and DeleteImportedKeyMaterial do to an `EXTERNAL`
//! key that is Enabled, Disabled, PendingDeletion or PendingImport, what the other operations
//! do to a key pending import, and that the import state survives a reopen of the data dir.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{fails, kms, ok, root};
use ebsim_kms::{ErrorType, Kms, KmsConfig};
use serde_json::{Value, json};

const MATERIAL: [u8; 32] = [0x33; 32];

/// (ImportToken, EncryptedKeyMaterial) for `MATERIAL`, base64.
fn wrapped(kms: &Kms, id: &str) -> (String, String) {
    let p = ok(
        kms,
        &root(),
        "GetParametersForImport",
        json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    let public = B64.decode(p["PublicKey"].as_str().unwrap()).unwrap();
    let key =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&public).unwrap()).unwrap();
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(&OAEP_SHA256_MGF1SHA256, &MATERIAL, &mut out, None)
        .unwrap()
        .len();
    out.truncate(n);
    (
        p["ImportToken"].as_str().unwrap().to_owned(),
        B64.encode(out),
    )
}

fn import_req(id: &str, w: &(String, String)) -> Value {
    json!({"KeyId": id, "ImportToken": w.0, "EncryptedKeyMaterial": w.1,
           "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})
}

fn key_state(kms: &Kms, id: &str) -> String {
    ok(kms, &root(), "DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["KeyState"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An `EXTERNAL` key in `state`, and the wrapped material it was (or can be) given.
fn key_in(kms: &Kms, state: &str) -> (String, String, (String, String)) {
    let m = ok(kms, &root(), "CreateKey", json!({"Origin": "EXTERNAL"}));
    let id = m["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let arn = m["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    // Generated before the key may be pending deletion (GetParametersForImport is refused then).
    let w = wrapped(kms, &id);
    if state != "PendingImport" {
        ok(kms, &root(), "ImportKeyMaterial", import_req(&id, &w));
    }
    match state {
        "Disabled" => {
            ok(kms, &root(), "DisableKey", json!({"KeyId": id}));
        }
        "PendingDeletion" => {
            ok(kms, &root(), "ScheduleKeyDeletion", json!({"KeyId": id}));
        }
        _ => {}
    }
    assert_eq!(key_state(kms, &id), state);
    (id, arn, w)
}

#[test]
fn the_import_operations_in_each_key_state() {
    let (kms, _) = kms();
    for state in ["Enabled", "Disabled", "PendingDeletion", "PendingImport"] {
        // GetParametersForImport: refused only while pending deletion.
        let (id, arn, _) = key_in(&kms, state);
        let req = json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_1", "WrappingKeySpec": "RSA_2048"});
        match kms.call_json(&root(), "GetParametersForImport", req) {
            Ok(_) => assert_ne!(state, "PendingDeletion"),
            Err(e) => {
                assert_eq!(state, "PendingDeletion", "{e}");
                assert_eq!(e.error_type, ErrorType::KMSInvalidStateException);
                assert_eq!(e.message, Some(format!("{arn} is pending deletion.")));
            }
        }
        // ImportKeyMaterial (the same material again): refused only while pending deletion;
        // a key pending import becomes Enabled, a disabled one stays disabled.
        let (id, arn, w) = key_in(&kms, state);
        match kms.call_json(&root(), "ImportKeyMaterial", import_req(&id, &w)) {
            Ok(_) => {
                let want = if state == "PendingImport" {
                    "Enabled"
                } else {
                    state
                };
                assert_eq!(key_state(&kms, &id), want, "{state}");
            }
            Err(e) => {
                assert_eq!(state, "PendingDeletion", "{e}");
                assert_eq!(e.message, Some(format!("{arn} is pending deletion.")));
                assert_eq!(key_state(&kms, &id), state, "nothing changed");
            }
        }
        // DeleteImportedKeyMaterial: allowed in every state; the key is then pending import
        // unless it is pending deletion.
        let (id, _, _) = key_in(&kms, state);
        ok(
            &kms,
            &root(),
            "DeleteImportedKeyMaterial",
            json!({"KeyId": id}),
        );
        let want = if state == "PendingDeletion" {
            "PendingDeletion"
        } else {
            "PendingImport"
        };
        assert_eq!(key_state(&kms, &id), want, "{state}");
    }
}

#[test]
fn a_key_pending_import_is_managed_but_not_used() {
    let (kms, _) = kms();
    let (id, arn, _) = key_in(&kms, "PendingImport");
    let pending = format!("{arn} is pending import.");
    for (op, req) in [
        ("Encrypt", json!({"KeyId": id, "Plaintext": "AQ=="})),
        ("GenerateDataKey", json!({"KeyId": id, "NumberOfBytes": 32})),
        ("EnableKey", json!({"KeyId": id})),
        ("DisableKey", json!({"KeyId": id})),
        ("RotateKeyOnDemand", json!({"KeyId": id})),
        (
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": "arn:aws:iam::111122223333:root", "Operations": ["Decrypt"]}),
        ),
    ] {
        let e = fails(&kms, &root(), op, req);
        assert_eq!(e.error_type, ErrorType::KMSInvalidStateException, "{op}");
        assert_eq!(e.message.as_deref(), Some(pending.as_str()), "{op}");
    }
    for (op, req) in [
        (
            "UpdateKeyDescription",
            json!({"KeyId": id, "Description": "d"}),
        ),
        (
            "TagResource",
            json!({"KeyId": id, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
        ),
        (
            "CreateAlias",
            json!({"AliasName": "alias/byok", "TargetKeyId": id}),
        ),
        ("GetKeyPolicy", json!({"KeyId": id})),
    ] {
        ok(&kms, &root(), op, req);
    }
    ok(&kms, &root(), "ScheduleKeyDeletion", json!({"KeyId": id}));
    assert_eq!(key_state(&kms, &id), "PendingDeletion");
    ok(&kms, &root(), "CancelKeyDeletion", json!({"KeyId": id}));
    assert_eq!(
        key_state(&kms, &id),
        "PendingImport",
        "back to waiting for material"
    );
}

#[test]
fn the_import_state_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (id, w, blob) = {
        let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
        let (id, _, w) = key_in(&kms, "Enabled");
        let blob = ok(
            &kms,
            &root(),
            "Encrypt",
            json!({"KeyId": id, "Plaintext": "AQID"}),
        )["CiphertextBlob"]
            .clone();
        ok(
            &kms,
            &root(),
            "DeleteImportedKeyMaterial",
            json!({"KeyId": id}),
        );
        (id, w, blob)
    };
    let state = std::fs::read_to_string(dir.path().join("kms/state.json")).unwrap();
    assert!(
        !state.contains(&B64.encode(MATERIAL)),
        "deleted material is gone from the state"
    );
    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
    assert_eq!(key_state(&kms, &id), "PendingImport");
    // The token handed out before the reopen still works: its wrapping key was kept.
    ok(&kms, &root(), "ImportKeyMaterial", import_req(&id, &w));
    let d = ok(&kms, &root(), "Decrypt", json!({"CiphertextBlob": blob}));
    assert_eq!(d["Plaintext"], "AQID");
}
