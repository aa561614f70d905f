//! Keys: CreateKey (every key spec and its refusals), the KeyId forms, DescribeKey,
//! ListKeys, key states (Disabled, PendingDeletion), descriptions, tags, rotation.

use serde_json::{Value, json};

use crate::harness::{Corpus, Who};

/// A key made by the script.
#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub arn: String,
}

/// The keys later sections use.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Symmetric, default policy, alias `alias/corpus-a`.
    pub a: Key,
    /// Symmetric, tagged.
    pub b: Key,
    /// RSA_2048 ENCRYPT_DECRYPT.
    pub rsa: Key,
    /// HMAC_256.
    pub hmac: Key,
    /// Symmetric, scheduled for deletion in 7 days (deleted by the clock section).
    pub doomed: Key,
    /// A ciphertext under `doomed`, made before its deletion was scheduled.
    pub doomed_blob: Value,
    /// Symmetric, 90-day automatic rotation.
    pub r90: Key,
    /// The AWS managed key of `alias/aws/ebs`.
    pub ebs: Key,
}

/// The key in a CreateKey/DescribeKey answer; panics (naming the step) when there is none.
pub fn key_of(step: &str, v: &Value) -> Key {
    let m = &v["KeyMetadata"];
    match (m["KeyId"].as_str(), m["Arn"].as_str()) {
        (Some(id), Some(arn)) => Key {
            id: id.to_owned(),
            arn: arn.to_owned(),
        },
        _ => panic!("{step}: no key in {v}"),
    }
}

fn create(c: &mut Corpus, step: &str, body: Value) -> Key {
    let v = c.kms(step, &Who::Root, "CreateKey", body);
    key_of(step, &v)
}

pub fn run(c: &mut Corpus) -> Keys {
    let root = Who::Root;
    c.norm.keep(crate::script_crypto::HELLO);
    let a = create(c, "keys/create a (no members)", json!({}));
    let b = create(
        c,
        "keys/create b (description and tags)",
        json!({"Description": "corpus key b", "Tags": [{"TagKey": "team", "TagValue": "storage"}, {"TagKey": "empty", "TagValue": ""}]}),
    );
    create(
        c,
        "keys/create with KeySpec and equal CustomerMasterKeySpec",
        json!({"KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}),
    );
    let rsa = create(
        c,
        "keys/create RSA_2048 ENCRYPT_DECRYPT",
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
    );
    for (spec, usage) in [
        ("RSA_3072", "SIGN_VERIFY"),
        ("ECC_NIST_P256", "SIGN_VERIFY"),
        ("ECC_NIST_P521", "SIGN_VERIFY"),
        ("ECC_NIST_P384", "KEY_AGREEMENT"),
        ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"),
        ("ML_DSA_65", "SIGN_VERIFY"),
    ] {
        create(
            c,
            &format!("keys/create {spec} {usage}"),
            json!({"KeySpec": spec, "KeyUsage": usage}),
        );
    }
    let hmac = create(
        c,
        "keys/create HMAC_256 through CustomerMasterKeySpec",
        json!({"CustomerMasterKeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    );
    for (step, body) in [
        (
            "keys/create refused: description over 8192",
            json!({"Description": "d".repeat(8193)}),
        ),
        (
            "keys/create refused: SM2 (no aws-cn partition)",
            json!({"KeySpec": "SM2", "KeyUsage": "ENCRYPT_DECRYPT"}),
        ),
        (
            "keys/create refused: unknown KeySpec",
            json!({"KeySpec": "AES_256"}),
        ),
        (
            "keys/create refused: asymmetric without KeyUsage",
            json!({"KeySpec": "RSA_4096"}),
        ),
        (
            "keys/create refused: KeyUsage not for the spec",
            json!({"KeySpec": "HMAC_512", "KeyUsage": "ENCRYPT_DECRYPT"}),
        ),
        (
            "keys/create refused: KeySpec and CustomerMasterKeySpec differ",
            json!({"KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "RSA_2048"}),
        ),
        (
            "keys/create refused: Origin EXTERNAL_KEY_STORE without a store",
            json!({"Origin": "EXTERNAL_KEY_STORE"}),
        ),
        (
            "keys/create refused: XksKeyId without Origin EXTERNAL_KEY_STORE",
            json!({"XksKeyId": "ext-1"}),
        ),
        (
            "keys/create refused: unknown Origin",
            json!({"Origin": "ON_PREMISES"}),
        ),
        (
            "keys/create refused: reserved tag key",
            json!({"Tags": [{"TagKey": "aws:owner", "TagValue": "x"}]}),
        ),
        (
            "keys/create refused: a tag key twice",
            json!({"Tags": [{"TagKey": "k", "TagValue": "1"}, {"TagKey": "k", "TagValue": "2"}]}),
        ),
        (
            "keys/create refused: 51 tags",
            json!({"Tags": (0..51).map(|i| json!({"TagKey": format!("t{i}"), "TagValue": "v"})).collect::<Vec<_>>()}),
        ),
        (
            "keys/create refused: empty tag key",
            json!({"Tags": [{"TagKey": "", "TagValue": "v"}]}),
        ),
        (
            "keys/create refused: tag value over 256",
            json!({"Tags": [{"TagKey": "k", "TagValue": "v".repeat(257)}]}),
        ),
        (
            "keys/create refused: Tags not a list",
            json!({"Tags": {"TagKey": "k"}}),
        ),
        (
            "keys/create refused: tag without TagValue",
            json!({"Tags": [{"TagKey": "k"}]}),
        ),
        (
            "keys/create refused: bypass flag not a boolean",
            json!({"BypassPolicyLockoutSafetyCheck": "yes"}),
        ),
        (
            "keys/create refused: Description not a string",
            json!({"Description": 7}),
        ),
    ] {
        c.kms(step, &root, "CreateKey", body);
    }
    c.call(
        "keys/create refused: body not JSON",
        &root,
        "TrentService.CreateKey",
        b"{\"Description\": ",
    );
    c.call(
        "keys/create refused: body a JSON array",
        &root,
        "TrentService.CreateKey",
        b"[]",
    );
    key_id_forms(c, &a);
    let ebs = key_of(
        "keys/describe alias/aws/ebs (creates the AWS managed key)",
        &c.kms(
            "keys/describe alias/aws/ebs (creates the AWS managed key)",
            &root,
            "DescribeKey",
            json!({"KeyId": "alias/aws/ebs"}),
        ),
    );
    c.kms(
        "keys/describe alias/aws/workspaces by alias ARN",
        &root,
        "DescribeKey",
        json!({"KeyId": "arn:aws:kms:us-west-2:111122223333:alias/aws/workspaces"}),
    );
    c.kms("keys/list", &root, "ListKeys", json!({}));
    c.call(
        "keys/list with an empty body",
        &root,
        "TrentService.ListKeys",
        b"",
    );
    for (step, body) in [
        ("keys/list refused: Limit 0", json!({"Limit": 0})),
        ("keys/list refused: Limit 1001", json!({"Limit": 1001})),
        (
            "keys/list refused: Limit not a number",
            json!({"Limit": "ten"}),
        ),
        ("keys/list refused: bad Marker", json!({"Marker": "next"})),
    ] {
        c.kms(step, &root, "ListKeys", body);
    }
    states(c);
    let doomed = create(
        c,
        "keys/create doomed",
        json!({"Description": "deleted by the clock"}),
    );
    let doomed_blob = c.kms(
        "keys/encrypt hello under doomed",
        &root,
        "Encrypt",
        json!({"KeyId": doomed.id, "Plaintext": "aGVsbG8="}),
    )["CiphertextBlob"]
        .clone();
    c.kms(
        "keys/schedule deletion of doomed in 7 days",
        &root,
        "ScheduleKeyDeletion",
        json!({"KeyId": doomed.arn, "PendingWindowInDays": 7}),
    );
    tags(c, &b);
    let r90 = rotation(c, &rsa, &hmac);
    Keys {
        a,
        b,
        rsa,
        hmac,
        doomed,
        doomed_blob,
        r90,
        ebs,
    }
}

/// The KeyId forms: id, ARN, alias name, alias ARN, and the refused ones.
fn key_id_forms(c: &mut Corpus, a: &Key) {
    let root = Who::Root;
    c.kms(
        "forms/create alias/corpus-a",
        &root,
        "CreateAlias",
        json!({"AliasName": "alias/corpus-a", "TargetKeyId": a.id}),
    );
    let forms = [
        ("forms/describe by key id", json!(a.id)),
        ("forms/describe by key ARN", json!(a.arn)),
        ("forms/describe by alias name", json!("alias/corpus-a")),
        (
            "forms/describe by alias ARN",
            json!("arn:aws:kms:us-west-2:111122223333:alias/corpus-a"),
        ),
        (
            "forms/describe refused: key/<id>",
            json!(format!("key/{}", a.id)),
        ),
        (
            "forms/describe refused: upper-case id",
            json!(a.id.to_uppercase()),
        ),
        (
            "forms/describe refused: braced id",
            json!(format!("{{{}}}", a.id)),
        ),
        (
            "forms/describe refused: ARN of another region",
            json!(a.arn.replace("us-west-2", "eu-west-1")),
        ),
        (
            "forms/describe refused: ARN of another service",
            json!(a.arn.replace(":kms:", ":s3:")),
        ),
        (
            "forms/describe refused: ARN with a bad resource",
            json!(a.arn.replace(":key/", ":thing/")),
        ),
        (
            "forms/describe refused: key that does not exist",
            json!("00000000-0000-4000-8000-000000000000"),
        ),
        (
            "forms/describe refused: alias that does not exist",
            json!("alias/none"),
        ),
        ("forms/describe refused: empty KeyId", json!("")),
        (
            "forms/describe refused: KeyId over 2048",
            json!("k".repeat(2049)),
        ),
        ("forms/describe refused: KeyId not a string", json!(42)),
    ];
    c.norm.keep("00000000-0000-4000-8000-000000000000");
    for (step, key_id) in forms {
        c.kms(step, &root, "DescribeKey", json!({"KeyId": key_id}));
    }
    c.kms(
        "forms/describe refused: no KeyId",
        &root,
        "DescribeKey",
        json!({}),
    );
    c.kms(
        "forms/describe refused: 11 grant tokens",
        &root,
        "DescribeKey",
        json!({"KeyId": a.id, "GrantTokens": vec!["t"; 11]}),
    );
    c.kms(
        "forms/describe refused: junk grant token",
        &root,
        "DescribeKey",
        json!({"KeyId": a.id, "GrantTokens": ["junk"]}),
    );
    c.kms(
        "forms/describe refused: DryRun",
        &root,
        "DescribeKey",
        json!({"KeyId": a.id, "DryRun": true}),
    );
    c.kms(
        "forms/enable refused: alias on a management operation",
        &root,
        "EnableKey",
        json!({"KeyId": "alias/corpus-a"}),
    );
}

/// Disabled and PendingDeletion, and what each refuses.
fn states(c: &mut Corpus) {
    let root = Who::Root;
    let d = create(c, "states/create d", json!({"Description": "states"}));
    c.kms(
        "states/disable d",
        &root,
        "DisableKey",
        json!({"KeyId": d.id}),
    );
    c.kms(
        "states/describe disabled d",
        &root,
        "DescribeKey",
        json!({"KeyId": d.id}),
    );
    for (op, body) in [
        ("Encrypt", json!({"KeyId": d.id, "Plaintext": "aGVsbG8="})),
        (
            "GenerateDataKey",
            json!({"KeyId": d.id, "KeySpec": "AES_256"}),
        ),
        (
            "CreateGrant",
            json!({"KeyId": d.id, "GranteePrincipal": "arn:aws:iam::111122223333:user/alice", "Operations": ["Decrypt"]}),
        ),
        ("EnableKeyRotation", json!({"KeyId": d.id})),
        ("RotateKeyOnDemand", json!({"KeyId": d.id})),
    ] {
        c.kms(&format!("states/{op} refused: d disabled"), &root, op, body);
    }
    c.kms(
        "states/update description of disabled d",
        &root,
        "UpdateKeyDescription",
        json!({"KeyId": d.id, "Description": "disabled but described"}),
    );
    c.kms(
        "states/enable d",
        &root,
        "EnableKey",
        json!({"KeyId": d.id}),
    );
    for days in [6, 31] {
        c.kms(
            &format!("states/schedule deletion refused: {days} days"),
            &root,
            "ScheduleKeyDeletion",
            json!({"KeyId": d.id, "PendingWindowInDays": days}),
        );
    }
    c.kms(
        "states/schedule deletion of d (default 30 days)",
        &root,
        "ScheduleKeyDeletion",
        json!({"KeyId": d.id}),
    );
    c.kms(
        "states/describe pending d",
        &root,
        "DescribeKey",
        json!({"KeyId": d.arn}),
    );
    for (op, body) in [
        ("Encrypt", json!({"KeyId": d.id, "Plaintext": "aGVsbG8="})),
        ("EnableKey", json!({"KeyId": d.id})),
        ("DisableKey", json!({"KeyId": d.id})),
        ("ScheduleKeyDeletion", json!({"KeyId": d.id})),
        (
            "UpdateKeyDescription",
            json!({"KeyId": d.id, "Description": "x"}),
        ),
        (
            "TagResource",
            json!({"KeyId": d.id, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
        ),
        ("UntagResource", json!({"KeyId": d.id, "TagKeys": ["a"]})),
        (
            "CreateAlias",
            json!({"AliasName": "alias/to-pending", "TargetKeyId": d.id}),
        ),
    ] {
        c.kms(
            &format!("states/{op} refused: d pending deletion"),
            &root,
            op,
            body,
        );
    }
    c.kms(
        "states/rotation status of pending d",
        &root,
        "GetKeyRotationStatus",
        json!({"KeyId": d.id}),
    );
    c.kms(
        "states/tags of pending d",
        &root,
        "ListResourceTags",
        json!({"KeyId": d.id}),
    );
    c.kms(
        "states/cancel deletion of d",
        &root,
        "CancelKeyDeletion",
        json!({"KeyId": d.id}),
    );
    c.kms(
        "states/cancel deletion refused: d not pending",
        &root,
        "CancelKeyDeletion",
        json!({"KeyId": d.id}),
    );
    c.kms(
        "states/describe d after cancel",
        &root,
        "DescribeKey",
        json!({"KeyId": d.id}),
    );
    c.kms(
        "states/enable d again",
        &root,
        "EnableKey",
        json!({"KeyId": d.id}),
    );
    c.kms(
        "states/update description refused: none given",
        &root,
        "UpdateKeyDescription",
        json!({"KeyId": d.id}),
    );
    c.kms(
        "states/update description refused: over 8192",
        &root,
        "UpdateKeyDescription",
        json!({"KeyId": d.id, "Description": "x".repeat(8193)}),
    );
}

fn tags(c: &mut Corpus, b: &Key) {
    let root = Who::Root;
    let tag = |k: &str, v: &str| json!({"TagKey": k, "TagValue": v});
    for (step, op, body) in [
        (
            "tags/tag b",
            "TagResource",
            json!({"KeyId": b.id, "Tags": [tag("env", "prod"), tag("team", "db")]}),
        ),
        ("tags/list b", "ListResourceTags", json!({"KeyId": b.id})),
        (
            "tags/list b, one per page",
            "ListResourceTags",
            json!({"KeyId": b.id, "Limit": 1}),
        ),
        (
            "tags/list b, second page",
            "ListResourceTags",
            json!({"KeyId": b.id, "Limit": 1, "Marker": "1"}),
        ),
        (
            "tags/list refused: Limit 51",
            "ListResourceTags",
            json!({"KeyId": b.id, "Limit": 51}),
        ),
        (
            "tags/list refused: bad Marker",
            "ListResourceTags",
            json!({"KeyId": b.id, "Marker": "x"}),
        ),
        (
            "tags/tag refused: reserved key",
            "TagResource",
            json!({"KeyId": b.id, "Tags": [tag("AWS:x", "1")]}),
        ),
        (
            "tags/tag refused: key twice",
            "TagResource",
            json!({"KeyId": b.id, "Tags": [tag("x", "1"), tag("x", "2")]}),
        ),
        (
            "tags/tag refused: no Tags",
            "TagResource",
            json!({"KeyId": b.id}),
        ),
        (
            "tags/tag refused: key over 128",
            "TagResource",
            json!({"KeyId": b.id, "Tags": [tag(&"k".repeat(129), "1")]}),
        ),
        (
            "tags/tag refused: over 50 tags on the key",
            "TagResource",
            json!({"KeyId": b.id, "Tags": (0..48).map(|i| tag(&format!("n{i}"), "v")).collect::<Vec<_>>()}),
        ),
        (
            "tags/untag b",
            "UntagResource",
            json!({"KeyId": b.id, "TagKeys": ["team", "absent"]}),
        ),
        (
            "tags/untag refused: no TagKeys",
            "UntagResource",
            json!({"KeyId": b.id}),
        ),
        (
            "tags/untag refused: empty tag key",
            "UntagResource",
            json!({"KeyId": b.id, "TagKeys": [""]}),
        ),
        (
            "tags/untag refused: TagKeys not a list",
            "UntagResource",
            json!({"KeyId": b.id, "TagKeys": "env"}),
        ),
        (
            "tags/list b after untag",
            "ListResourceTags",
            json!({"KeyId": b.arn}),
        ),
    ] {
        c.kms(step, &root, op, body);
    }
}

/// Rotation status, periods, on-demand rotations and their limit, rotation listings.
fn rotation(c: &mut Corpus, rsa: &Key, hmac: &Key) -> Key {
    let root = Who::Root;
    let r = create(c, "rotation/create r90", json!({"Description": "rotates"}));
    c.kms(
        "rotation/status off",
        &root,
        "GetKeyRotationStatus",
        json!({"KeyId": r.id}),
    );
    for days in [89, 2561] {
        c.kms(
            &format!("rotation/enable refused: {days} days"),
            &root,
            "EnableKeyRotation",
            json!({"KeyId": r.id, "RotationPeriodInDays": days}),
        );
    }
    c.kms(
        "rotation/enable every 90 days",
        &root,
        "EnableKeyRotation",
        json!({"KeyId": r.id, "RotationPeriodInDays": 90}),
    );
    c.kms(
        "rotation/status on",
        &root,
        "GetKeyRotationStatus",
        json!({"KeyId": r.arn}),
    );
    c.kms(
        "rotation/rotate on demand",
        &root,
        "RotateKeyOnDemand",
        json!({"KeyId": r.id}),
    );
    c.kms(
        "rotation/list rotations",
        &root,
        "ListKeyRotations",
        json!({"KeyId": r.id}),
    );
    c.kms(
        "rotation/list all key material",
        &root,
        "ListKeyRotations",
        json!({"KeyId": r.id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
    );
    c.kms(
        "rotation/list all key material, one per page",
        &root,
        "ListKeyRotations",
        json!({"KeyId": r.id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL", "Limit": 1}),
    );
    c.kms(
        "rotation/list refused: unknown IncludeKeyMaterial",
        &root,
        "ListKeyRotations",
        json!({"KeyId": r.id, "IncludeKeyMaterial": "SOME"}),
    );
    c.kms(
        "rotation/describe r90",
        &root,
        "DescribeKey",
        json!({"KeyId": r.id}),
    );
    for (op, key) in [
        ("GetKeyRotationStatus", rsa),
        ("EnableKeyRotation", rsa),
        ("RotateKeyOnDemand", hmac),
        ("ListKeyRotations", hmac),
    ] {
        c.kms(
            &format!("rotation/{op} refused: asymmetric or HMAC key"),
            &root,
            op,
            json!({"KeyId": key.id}),
        );
    }
    let once = create(c, "rotation/create on-demand limit key", json!({}));
    c.kms(
        "rotation/enable then disable rotation",
        &root,
        "EnableKeyRotation",
        json!({"KeyId": once.id}),
    );
    c.kms(
        "rotation/disable rotation",
        &root,
        "DisableKeyRotation",
        json!({"KeyId": once.id}),
    );
    for i in 1..=25 {
        c.kms(
            &format!("rotation/on-demand rotation {i} of 25"),
            &root,
            "RotateKeyOnDemand",
            json!({"KeyId": once.id}),
        );
    }
    c.kms(
        "rotation/on-demand rotation refused: 26th",
        &root,
        "RotateKeyOnDemand",
        json!({"KeyId": once.id}),
    );
    c.kms(
        "rotation/list 26 rotations, ten per page",
        &root,
        "ListKeyRotations",
        json!({"KeyId": once.id, "Limit": 10, "Marker": "10"}),
    );
    r
}
