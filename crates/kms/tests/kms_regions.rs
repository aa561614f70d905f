//! Each region has its own keys, aliases, grants and schedules; ARNs and audit records name
//! the caller's region; a ciphertext or an ARN of another region finds nothing.

mod common;

use common::{ROOT, fails, kms, ok};
use ebsim_kms::{Caller, ErrorType, Region};
use serde_json::json;

fn in_region(name: &str) -> Caller {
    Caller::new(ROOT).in_region(Region::parse(name).unwrap_or_else(|| panic!("{name}")))
}

fn key_ids(kms: &ebsim_kms::Kms, caller: &Caller) -> Vec<String> {
    let out = ok(kms, caller, "ListKeys", json!({}));
    out["Keys"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k["KeyArn"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn regions_keep_their_own_keys_aliases_and_grants() {
    let (kms, _) = kms();
    let east = in_region("us-east-1");
    let sea = in_region("ap-southeast-1");
    let default = Caller::new(ROOT);

    let k = ok(&kms, &east, "CreateKey", json!({}));
    let arn = k["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let id = k["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        arn.starts_with("arn:aws:kms:us-east-1:111122223333:key/"),
        "{arn}"
    );

    // Listed in its region only.
    assert_eq!(key_ids(&kms, &east), vec![arn.clone()]);
    assert!(key_ids(&kms, &sea).is_empty());
    assert!(
        key_ids(&kms, &default).is_empty(),
        "the default region is us-west-2"
    );

    // Another region does not find it by id or by ARN.
    for key_ref in [&id, &arn] {
        let e = fails(&kms, &sea, "DescribeKey", json!({"KeyId": key_ref}));
        assert_eq!(e.error_type, ErrorType::NotFoundException, "{key_ref}: {e}");
    }
    let e = fails(&kms, &default, "DescribeKey", json!({"KeyId": id}));
    assert_eq!(e.error_type, ErrorType::NotFoundException);

    // Aliases are regional: the same name in two regions names two keys.
    ok(
        &kms,
        &east,
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    );
    let k2 = ok(&kms, &sea, "CreateKey", json!({}));
    let id2 = k2["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ok(
        &kms,
        &sea,
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id2}),
    );
    let d = ok(&kms, &sea, "DescribeKey", json!({"KeyId": "alias/app"}));
    assert_eq!(d["KeyMetadata"]["KeyId"], json!(id2));
    let d = ok(&kms, &east, "DescribeKey", json!({"KeyId": "alias/app"}));
    assert_eq!(d["KeyMetadata"]["KeyId"], json!(id));
    let e = fails(&kms, &default, "DescribeKey", json!({"KeyId": "alias/app"}));
    assert_eq!(e.error_type, ErrorType::NotFoundException);
    let aliases = ok(&kms, &east, "ListAliases", json!({}));
    assert!(
        aliases["Aliases"]
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x["AliasArn"]
                .as_str()
                .is_some_and(|s| s.starts_with("arn:aws:kms:us-east-1:")))),
        "{aliases}"
    );

    // A ciphertext of one region does not decrypt in another.
    let enc = ok(
        &kms,
        &east,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "aGVsbG8="}),
    );
    let blob = enc["CiphertextBlob"].clone();
    let dec = ok(&kms, &east, "Decrypt", json!({"CiphertextBlob": blob}));
    assert_eq!(dec["Plaintext"], json!("aGVsbG8="));
    let e = fails(&kms, &sea, "Decrypt", json!({"CiphertextBlob": blob}));
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);

    // Grants: retiring by token and listing retirable grants see the caller's region only.
    let g = ok(
        &kms,
        &east,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": "arn:aws:iam::111122223333:role/r",
               "RetiringPrincipal": "arn:aws:iam::111122223333:role/r",
               "Operations": ["Decrypt"]}),
    );
    let retirable = |c: &Caller| {
        ok(
            &kms,
            c,
            "ListRetirableGrants",
            json!({"RetiringPrincipal": "arn:aws:iam::111122223333:role/r"}),
        )["Grants"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(retirable(&east), 1);
    assert_eq!(retirable(&sea), 0);
    let e = fails(
        &kms,
        &sea,
        "RetireGrant",
        json!({"GrantToken": g["GrantToken"]}),
    );
    assert_eq!(e.error_type, ErrorType::InvalidGrantTokenException);
    ok(
        &kms,
        &east,
        "RetireGrant",
        json!({"GrantToken": g["GrantToken"]}),
    );
}

#[test]
fn managed_keys_and_audit_records_name_the_callers_region() {
    let (kms, _) = kms();
    let east = in_region("us-east-1");
    let d = ok(
        &kms,
        &east,
        "DescribeKey",
        json!({"KeyId": "alias/aws/ebs"}),
    );
    let arn = d["KeyMetadata"]["Arn"].as_str().unwrap_or_default();
    assert!(
        arn.starts_with("arn:aws:kms:us-east-1:111122223333:key/"),
        "{arn}"
    );
    let west = ok(
        &kms,
        &Caller::new(ROOT),
        "DescribeKey",
        json!({"KeyId": "alias/aws/ebs"}),
    );
    assert_ne!(west["KeyMetadata"]["KeyId"], d["KeyMetadata"]["KeyId"]);
    let policy = ok(
        &kms,
        &east,
        "GetKeyPolicy",
        json!({"KeyId": d["KeyMetadata"]["KeyId"], "PolicyName": "default"}),
    );
    assert!(
        policy["Policy"]
            .as_str()
            .is_some_and(|p| p.contains("ec2.us-east-1.amazonaws.com")),
        "{policy}"
    );
    let records = kms.audit_records();
    let regions: Vec<&str> = records
        .iter()
        .filter_map(|r| r["awsRegion"].as_str())
        .collect();
    assert_eq!(regions, ["us-east-1", "us-west-2", "us-east-1"]);
}

#[test]
fn deletions_fall_due_in_every_region() {
    let (kms, _) = kms();
    let east = in_region("eu-west-1");
    let k = ok(&kms, &east, "CreateKey", json!({}));
    let id = k["KeyMetadata"]["KeyId"].clone();
    ok(
        &kms,
        &east,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    kms.admin_json(&Caller::new(ROOT), "AdvanceClock", json!({"Days": 8}))
        .unwrap_or_else(|e| panic!("{e}"));
    let e = fails(&kms, &east, "DescribeKey", json!({"KeyId": id}));
    assert_eq!(e.error_type, ErrorType::NotFoundException);
}
