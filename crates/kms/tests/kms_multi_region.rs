//! Multi-Region keys (docs/kms.md, "Multi-Region keys"): `mrk-` ids, MultiRegionConfiguration,
//! ReplicateKey (same or unknown region refused, one replica per region), a ciphertext of the
//! primary's region decrypts in a replica's, rotation on the primary reaches the replicas and
//! is refused on a replica, UpdatePrimaryRegion, the PendingReplicaDeletion rule, conditions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ROOT, fails, kms, ok};
use ebsim_kms::{Caller, ErrorType, Kms, Region};
use serde_json::{Value, json};

const DAY: f64 = 86_400.0;

fn in_region(name: &str) -> Caller {
    Caller::new(ROOT).in_region(Region::parse(name).unwrap())
}

fn meta(kms: &Kms, caller: &Caller, id: &str) -> Value {
    ok(kms, caller, "DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone()
}

fn primary(kms: &Kms) -> (String, String) {
    let west = in_region("us-west-2");
    let m = ok(kms, &west, "CreateKey", json!({"MultiRegion": true}))["KeyMetadata"].clone();
    let id = m["KeyId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("mrk-") && id.len() == 36, "{id}");
    assert!(
        id[4..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(m["MultiRegion"], true);
    assert_eq!(
        m["MultiRegionConfiguration"]["MultiRegionKeyType"],
        "PRIMARY"
    );
    assert_eq!(
        m["MultiRegionConfiguration"]["PrimaryKey"]["Region"],
        "us-west-2"
    );
    assert_eq!(m["MultiRegionConfiguration"]["ReplicaKeys"], json!([]));
    (id, m["Arn"].as_str().unwrap().to_owned())
}

#[test]
fn a_replica_decrypts_what_the_primary_encrypted() {
    let (kms, _) = kms();
    let (west, east) = (in_region("us-west-2"), in_region("us-east-1"));
    let (id, arn) = primary(&kms);
    let blob = ok(
        &kms,
        &west,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AQID", "EncryptionContext": {"a": "b"}}),
    )["CiphertextBlob"]
        .clone();
    // No replica yet: us-east-1 does not know the key.
    assert_eq!(
        fails(&kms, &east, "DescribeKey", json!({"KeyId": id})).error_type,
        ErrorType::NotFoundException
    );
    let r = ok(
        &kms,
        &west,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-east-1", "Description": "east",
               "Tags": [{"TagKey": "site", "TagValue": "east"}]}),
    );
    let replica_arn = arn.replace("us-west-2", "us-east-1");
    assert_eq!(r["ReplicaKeyMetadata"]["Arn"], replica_arn.as_str());
    assert_eq!(r["ReplicaKeyMetadata"]["KeyId"], id.as_str());
    assert_eq!(r["ReplicaKeyMetadata"]["Description"], "east");
    assert_eq!(r["ReplicaTags"][0]["TagKey"], "site");
    assert!(
        r["ReplicaPolicy"]
            .as_str()
            .unwrap()
            .contains("Enable IAM User Permissions")
    );
    let rm = meta(&kms, &east, &id);
    assert_eq!(
        rm["MultiRegionConfiguration"]["MultiRegionKeyType"],
        "REPLICA"
    );
    assert_eq!(
        rm["MultiRegionConfiguration"]["PrimaryKey"]["Arn"],
        arn.as_str()
    );
    assert_eq!(
        rm["MultiRegionConfiguration"]["ReplicaKeys"][0]["Region"],
        "us-east-1"
    );
    let pm = meta(&kms, &west, &id);
    assert_eq!(
        pm["MultiRegionConfiguration"]["ReplicaKeys"][0]["Arn"],
        replica_arn.as_str()
    );
    assert_eq!(pm["Description"], "", "description is the replica's own");
    let d = ok(
        &kms,
        &east,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": {"a": "b"}}),
    );
    assert_eq!(d["Plaintext"], "AQID");
    assert_eq!(d["KeyId"], replica_arn.as_str());
    // And back: the replica's ciphertext decrypts at the primary.
    let back = ok(
        &kms,
        &east,
        "Encrypt",
        json!({"KeyId": replica_arn, "Plaintext": "BAU="}),
    );
    let d = ok(
        &kms,
        &west,
        "Decrypt",
        json!({"CiphertextBlob": back["CiphertextBlob"]}),
    );
    assert_eq!(d["Plaintext"], "BAU=");
    // The state of each related key is its own.
    ok(&kms, &east, "DisableKey", json!({"KeyId": id}));
    ok(
        &kms,
        &west,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AQ=="}),
    );
}

#[test]
fn replicate_key_refuses_what_aws_refuses() {
    let (kms, _) = kms();
    let west = in_region("us-west-2");
    let (id, _) = primary(&kms);
    let rep = |region: &str| {
        fails(
            &kms,
            &west,
            "ReplicateKey",
            json!({"KeyId": id, "ReplicaRegion": region}),
        )
        .error_type
    };
    assert_eq!(
        rep("us-west-2"),
        ErrorType::ValidationException,
        "its own region"
    );
    assert_eq!(
        rep("xx-nowhere-9"),
        ErrorType::UnsupportedOperationException,
        "unknown"
    );
    assert_eq!(
        rep("Not A Region"),
        ErrorType::ValidationException,
        "malformed"
    );
    ok(
        &kms,
        &west,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "eu-west-1"}),
    );
    assert_eq!(rep("eu-west-1"), ErrorType::AlreadyExistsException);
    // Only a primary replicates.
    let eu = in_region("eu-west-1");
    let e = fails(
        &kms,
        &eu,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-east-1"}),
    );
    assert_eq!(e.error_type, ErrorType::UnsupportedOperationException);
    let single = ok(&kms, &west, "CreateKey", json!({}))["KeyMetadata"]["KeyId"].clone();
    let e = fails(
        &kms,
        &west,
        "ReplicateKey",
        json!({"KeyId": single, "ReplicaRegion": "us-east-1"}),
    );
    assert_eq!(e.error_type, ErrorType::UnsupportedOperationException);
    // A disabled primary: DisabledException, nothing replicated.
    ok(&kms, &west, "DisableKey", json!({"KeyId": id}));
    assert_eq!(rep("us-east-1"), ErrorType::DisabledException);
    assert_eq!(
        fails(
            &kms,
            &in_region("us-east-1"),
            "DescribeKey",
            json!({"KeyId": id})
        )
        .error_type,
        ErrorType::NotFoundException
    );
    // A malformed mrk id.
    assert_eq!(
        fails(
            &kms,
            &west,
            "DescribeKey",
            json!({"KeyId": "mrk-fake-key-id"})
        )
        .error_type,
        ErrorType::NotFoundException
    );
}

#[test]
fn rotation_and_update_primary_region() {
    let (kms, _) = kms();
    let (west, east) = (in_region("us-west-2"), in_region("us-east-1"));
    let (id, _) = primary(&kms);
    ok(
        &kms,
        &west,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-east-1"}),
    );
    ok(&kms, &west, "RotateKeyOnDemand", json!({"KeyId": id}));
    let blob = ok(
        &kms,
        &west,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AQ=="}),
    )["CiphertextBlob"]
        .clone();
    ok(&kms, &east, "Decrypt", json!({"CiphertextBlob": blob}));
    assert_eq!(
        meta(&kms, &east, &id)["CurrentKeyMaterialId"],
        meta(&kms, &west, &id)["CurrentKeyMaterialId"],
        "the rotation reached the replica"
    );
    for op in [
        "RotateKeyOnDemand",
        "EnableKeyRotation",
        "DisableKeyRotation",
    ] {
        assert_eq!(
            fails(&kms, &east, op, json!({"KeyId": id})).error_type,
            ErrorType::UnsupportedOperationException,
            "{op} on a replica"
        );
    }
    ok(&kms, &west, "EnableKeyRotation", json!({"KeyId": id}));
    assert_eq!(
        ok(&kms, &east, "GetKeyRotationStatus", json!({"KeyId": id}))["KeyRotationEnabled"],
        true
    );
    // UpdatePrimaryRegion: to a region without a replica is NotFoundException.
    assert_eq!(
        fails(
            &kms,
            &west,
            "UpdatePrimaryRegion",
            json!({"KeyId": id, "PrimaryRegion": "eu-west-1"})
        )
        .error_type,
        ErrorType::NotFoundException
    );
    ok(
        &kms,
        &west,
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": "us-east-1"}),
    );
    assert_eq!(
        meta(&kms, &east, &id)["MultiRegionConfiguration"]["MultiRegionKeyType"],
        "PRIMARY"
    );
    assert_eq!(
        meta(&kms, &west, &id)["MultiRegionConfiguration"]["MultiRegionKeyType"],
        "REPLICA"
    );
    assert_eq!(
        fails(
            &kms,
            &west,
            "UpdatePrimaryRegion",
            json!({"KeyId": id, "PrimaryRegion": "us-west-2"})
        )
        .error_type,
        ErrorType::UnsupportedOperationException,
        "the old primary is a replica now"
    );
    ok(
        &kms,
        &east,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "eu-west-1"}),
    );
    ok(
        &kms,
        &in_region("eu-west-1"),
        "Decrypt",
        json!({"CiphertextBlob": blob}),
    );
}

#[test]
fn a_primary_with_replicas_waits_for_their_deletion() {
    let (kms, clock) = kms();
    let (west, east) = (in_region("us-west-2"), in_region("us-east-1"));
    let (id, _) = primary(&kms);
    ok(
        &kms,
        &west,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-east-1"}),
    );
    let s = ok(
        &kms,
        &west,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    assert_eq!(s["KeyState"], "PendingReplicaDeletion");
    assert!(s.get("DeletionDate").is_none());
    let m = meta(&kms, &west, &id);
    assert_eq!(m["KeyState"], "PendingReplicaDeletion");
    assert_eq!(m["PendingDeletionWindowInDays"], 7);
    assert!(m.get("DeletionDate").is_none());
    let e = fails(
        &kms,
        &west,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AQ=="}),
    );
    assert_eq!(e.error_type, ErrorType::KMSInvalidStateException);
    let e = fails(
        &kms,
        &west,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "eu-west-1"}),
    );
    assert_eq!(e.error_type, ErrorType::KMSInvalidStateException);
    // Replicas are unaffected, however long the primary waits.
    clock.advance(60.0 * DAY);
    ok(
        &kms,
        &east,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AQ=="}),
    );
    assert_eq!(meta(&kms, &west, &id)["KeyState"], "PendingReplicaDeletion");
    ok(
        &kms,
        &east,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    clock.advance(8.0 * DAY);
    assert_eq!(
        fails(&kms, &east, "DescribeKey", json!({"KeyId": id})).error_type,
        ErrorType::NotFoundException,
        "the replica is deleted"
    );
    let m = meta(&kms, &west, &id);
    assert_eq!(m["KeyState"], "PendingDeletion", "its window starts now");
    assert!(m["DeletionDate"].as_f64().unwrap() > kms.now() + 6.9 * DAY);
    clock.advance(8.0 * DAY);
    assert_eq!(
        fails(&kms, &west, "DescribeKey", json!({"KeyId": id})).error_type,
        ErrorType::NotFoundException
    );
    // CancelKeyDeletion of a primary pending replica deletion leaves it Disabled.
    let (id2, _) = primary(&kms);
    ok(
        &kms,
        &west,
        "ReplicateKey",
        json!({"KeyId": id2, "ReplicaRegion": "us-east-1"}),
    );
    ok(&kms, &west, "ScheduleKeyDeletion", json!({"KeyId": id2}));
    ok(&kms, &west, "CancelKeyDeletion", json!({"KeyId": id2}));
    assert_eq!(meta(&kms, &west, &id2)["KeyState"], "Disabled");
}

#[test]
fn multi_region_conditions() {
    let (kms, _) = kms();
    let west = in_region("us-west-2");
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "only-east", "Effect": "Deny", "Principal": "*", "Action": "kms:ReplicateKey", "Resource": "*",
             "Condition": {"StringNotEquals": {"kms:ReplicaRegion": "us-east-1"}}},
            {"Sid": "no-replica-use", "Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:MultiRegionKeyType": "REPLICA"}}},
            {"Sid": "mrk-only", "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateDataKey", "Resource": "*",
             "Condition": {"Bool": {"kms:MultiRegion": "false"}}},
            {"Sid": "decrypt-at-primary", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:MultiRegionKeyType": "REPLICA"}}},
        ]
    })
    .to_string();
    let id = ok(
        &kms,
        &west,
        "CreateKey",
        json!({"MultiRegion": true, "Policy": policy}),
    )["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = fails(
        &kms,
        &west,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "eu-west-1"}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    ok(
        &kms,
        &west,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-east-1", "Policy": policy}),
    );
    ok(
        &kms,
        &west,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AQ=="}),
    );
    ok(
        &kms,
        &west,
        "GenerateDataKey",
        json!({"KeyId": id, "NumberOfBytes": 32}),
    );
    let e = fails(
        &kms,
        &in_region("us-east-1"),
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AQ=="}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
    // Decrypt sees the condition keys of the key its ciphertext names.
    let blob = ok(
        &kms,
        &west,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AQ=="}),
    )["CiphertextBlob"]
        .clone();
    ok(&kms, &west, "Decrypt", json!({"CiphertextBlob": blob}));
    let e = fails(
        &kms,
        &in_region("us-east-1"),
        "Decrypt",
        json!({"CiphertextBlob": blob}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
}

/// The key-state table of ReplicateKey and UpdatePrimaryRegion (docs/kms.md, "Multi-Region keys"):
/// allowed on an enabled primary; `DisabledException` on a disabled one;
/// `KMSInvalidStateException` while pending deletion or import; nothing changes when refused.
#[test]
fn replicate_and_update_primary_in_each_key_state() {
    let (kms, _) = kms();
    let west = in_region("us-west-2");
    for state in ["Enabled", "Disabled", "PendingDeletion", "PendingImport"] {
        let req = if state == "PendingImport" {
            json!({"MultiRegion": true, "Origin": "EXTERNAL"})
        } else {
            json!({"MultiRegion": true})
        };
        let m = ok(&kms, &west, "CreateKey", req)["KeyMetadata"].clone();
        let (id, arn) = (m["KeyId"].as_str().unwrap(), m["Arn"].as_str().unwrap());
        // A replica made first, for UpdatePrimaryRegion (an imported key's replica waits for
        // its material too).
        if state != "PendingImport" {
            ok(
                &kms,
                &west,
                "ReplicateKey",
                json!({"KeyId": id, "ReplicaRegion": "eu-west-1"}),
            );
        }
        match state {
            "Disabled" => {
                ok(&kms, &west, "DisableKey", json!({"KeyId": id}));
            }
            "PendingDeletion" => {
                ok(&kms, &west, "ScheduleKeyDeletion", json!({"KeyId": id}));
            }
            _ => {}
        }
        let shown = if state == "PendingDeletion" {
            "PendingReplicaDeletion"
        } else {
            state
        };
        assert_eq!(meta(&kms, &west, id)["KeyState"], shown);
        let rep = kms.call_json(
            &west,
            "ReplicateKey",
            json!({"KeyId": id, "ReplicaRegion": "ap-south-1"}),
        );
        let upd = kms.call_json(
            &west,
            "UpdatePrimaryRegion",
            json!({"KeyId": id, "PrimaryRegion": "eu-west-1"}),
        );
        match state {
            "Enabled" => {
                rep.unwrap();
                upd.unwrap();
            }
            "Disabled" => {
                for r in [rep, upd] {
                    let e = r.unwrap_err();
                    assert_eq!(e.error_type, ErrorType::DisabledException);
                    assert_eq!(e.message, Some(format!("{arn} is disabled.")));
                }
            }
            _ => {
                for r in [rep, upd] {
                    let e = r.unwrap_err();
                    assert_eq!(e.error_type, ErrorType::KMSInvalidStateException, "{state}");
                }
                assert_eq!(meta(&kms, &west, id)["KeyState"], shown, "nothing changed");
            }
        }
    }
}

#[test]
fn the_audit_trail_records_the_multi_region_calls() {
    let (kms, _) = kms();
    let west = in_region("us-west-2");
    let (id, _) = primary(&kms);
    ok(
        &kms,
        &west,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-east-1", "Description": "d"}),
    );
    ok(
        &kms,
        &west,
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": "us-east-1"}),
    );
    let records = kms.audit_records();
    let find = |name: &str| {
        records
            .iter()
            .rev()
            .find(|r| r["eventName"] == name)
            .unwrap()
            .clone()
    };
    let r = find("ReplicateKey");
    assert_eq!(r["requestParameters"]["replicaRegion"], "us-east-1");
    assert_eq!(r["awsRegion"], "us-west-2");
    assert!(r["resources"].to_string().contains(&id), "{r}");
    let u = find("UpdatePrimaryRegion");
    assert_eq!(u["requestParameters"]["primaryRegion"], "us-east-1");
}

/// Aliases are the related key's own: one name in two regions, each naming its region's key.
#[test]
fn aliases_of_related_keys_are_their_own() {
    let (kms, _) = kms();
    let (west, east) = (in_region("us-west-2"), in_region("us-east-1"));
    let (id, _) = primary(&kms);
    ok(
        &kms,
        &west,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-east-1"}),
    );
    for c in [&west, &east] {
        ok(
            &kms,
            c,
            "CreateAlias",
            json!({"AliasName": "alias/global", "TargetKeyId": id}),
        );
        let listed = ok(&kms, c, "ListAliases", json!({"KeyId": id}));
        assert_eq!(
            listed["Aliases"][0]["TargetKeyId"],
            id.as_str(),
            "the wire id, no region"
        );
        let m = meta(&kms, c, "alias/global");
        assert_eq!(m["KeyId"], id.as_str());
    }
    let blob = ok(
        &kms,
        &west,
        "Encrypt",
        json!({"KeyId": "alias/global", "Plaintext": "AQ=="}),
    )["CiphertextBlob"]
        .clone();
    let d = ok(
        &kms,
        &east,
        "Decrypt",
        json!({"CiphertextBlob": blob, "KeyId": "alias/global"}),
    );
    assert_eq!(d["Plaintext"], "AQ==");
}
