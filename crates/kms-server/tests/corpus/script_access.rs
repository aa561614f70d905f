//! Who may do what: key policies (and their refusals), IAM identity policies, cross-account
//! access, grants (every operation and refusal), aliases and their quota.

use serde_json::{Value, json};

use crate::harness::{Corpus, Who};
use crate::script_crypto::{EC2, HELLO};
use crate::script_keys::{Key, Keys, key_of};

pub const ROOT: &str = "arn:aws:iam::111122223333:root";
pub const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
pub const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/i-0abc";
pub const OTHER_ROOT: &str = "arn:aws:iam::444455556666:root";
const VENDOR_ROLE: &str = "arn:aws:iam::444455556666:role/Vendor_EKM";
const VENDOR_SESSION: &str = "arn:aws:sts::444455556666:assumed-role/Vendor_EKM/s1";

/// Creates an IAM user with an access key (IAM actions, in process) and returns its
/// credential.
pub fn user(c: &mut Corpus, name: &str) -> Who {
    c.iam(ROOT, "CreateUser", &[("UserName", name)]);
    let key = c.iam(ROOT, "CreateAccessKey", &[("UserName", name)]);
    let field = |n: &str| {
        key.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("CreateAccessKey {name}: no {n}"))
    };
    let akid = field("AccessKeyId");
    c.norm.name(&akid, &format!("<akid of {name}>"));
    Who::Iam {
        label: format!("iam user {name}"),
        akid,
        secret: field("SecretAccessKey"),
    }
}

/// An inline policy of a user or role (IAM PutUserPolicy or PutRolePolicy as `root`).
fn put_policy(c: &Corpus, root: &str, action: &str, names: [(&str, &str); 2], policy: &Value) {
    let text = match policy {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    c.iam(
        root,
        action,
        &[names[0], names[1], ("PolicyDocument", &text)],
    );
}

fn policy(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn root_statement() -> Value {
    json!({"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"})
}

pub fn run(c: &mut Corpus, k: &Keys) {
    let alice = user(c, "alice");
    let bob = user(c, "bob");
    let carol = user(c, "carol");
    identity_policies(c, k, &alice, &bob, &carol);
    key_policies(c, &alice, &bob);
    cross_account(c, k);
    grants(c, k, &alice);
    crate::script_aliases::run(c, k, &alice, &bob);
}

fn identity_policies(c: &mut Corpus, k: &Keys, alice: &Who, bob: &Who, carol: &Who) {
    let a = &k.a.id;
    for (step, op, body) in [
        (
            "iam/alice encrypt refused",
            "Encrypt",
            json!({"KeyId": a, "Plaintext": HELLO}),
        ),
        ("iam/alice create key refused", "CreateKey", json!({})),
        ("iam/alice list keys refused", "ListKeys", json!({})),
        ("iam/alice list aliases refused", "ListAliases", json!({})),
        (
            "iam/alice random refused",
            "GenerateRandom",
            json!({"NumberOfBytes": 8}),
        ),
        (
            "iam/alice describe refused",
            "DescribeKey",
            json!({"KeyId": a}),
        ),
    ] {
        c.kms(step, alice, op, body);
    }
    put_policy(
        c,
        ROOT,
        "PutUserPolicy",
        [("UserName", "bob"), ("PolicyName", "use")],
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateKey", "kms:ListKeys",
                "kms:ListAliases", "kms:CreateAlias", "kms:TagResource", "kms:GenerateRandom"], "Resource": "*"},
            {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:tier": "secret"}}}]}),
    );
    put_policy(
        c,
        ROOT,
        "PutUserPolicy",
        [("UserName", "carol"), ("PolicyName", "limited")],
        &Value::String(policy(json!([
            {"Effect": "Allow", "Action": ["kms:CreateKey", "kms:ListAliases"], "Resource": "*"},
            {"Effect": "Deny", "Action": "kms:ListAliases", "Resource": "*"}]))),
    );
    let secret = c.kms(
        "iam/bob encrypt (identity policy)",
        bob,
        "Encrypt",
        json!({"KeyId": a, "Plaintext": HELLO, "EncryptionContext": {"tier": "secret"}}),
    );
    c.kms(
        "iam/bob decrypt refused: explicit deny in his policy",
        bob,
        "Decrypt",
        json!({"CiphertextBlob": secret["CiphertextBlob"], "EncryptionContext": {"tier": "secret"}}),
    );
    let public = c.kms(
        "iam/bob encrypt public",
        bob,
        "Encrypt",
        json!({"KeyId": a, "Plaintext": HELLO, "EncryptionContext": {"tier": "public"}}),
    );
    c.kms(
        "iam/bob decrypt public",
        bob,
        "Decrypt",
        json!({"CiphertextBlob": public["CiphertextBlob"], "EncryptionContext": {"tier": "public"}}),
    );
    let v = c.kms(
        "iam/bob create key with tags",
        bob,
        "CreateKey",
        json!({"Description": "bob's", "Tags": [{"TagKey": "owner", "TagValue": "bob"}]}),
    );
    key_of("iam/bob create key with tags", &v);
    c.kms("iam/bob list keys", bob, "ListKeys", json!({}));
    c.kms(
        "iam/bob random",
        bob,
        "GenerateRandom",
        json!({"NumberOfBytes": 4}),
    );
    c.kms(
        "iam/bob disable refused: no identity policy allows",
        bob,
        "DisableKey",
        json!({"KeyId": a}),
    );
    c.kms(
        "iam/carol create key with tags refused: no TagResource",
        carol,
        "CreateKey",
        json!({"Tags": [{"TagKey": "owner", "TagValue": "carol"}]}),
    );
    c.kms(
        "iam/carol list aliases refused: explicit deny",
        carol,
        "ListAliases",
        json!({}),
    );
}

fn key_policies(c: &mut Corpus, alice: &Who, bob: &Who) {
    let root = Who::Root;
    let text = policy(json!([root_statement(),
        {"Sid": "NoBob", "Effect": "Deny", "Principal": {"AWS": BOB}, "Action": "kms:Encrypt", "Resource": "*"},
        {"Sid": "AliceUses", "Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"}]));
    let p = key_of(
        "policy/create p with a key policy",
        &c.kms(
            "policy/create p with a key policy",
            &root,
            "CreateKey",
            json!({"Policy": text, "Description": "policy"}),
        ),
    );
    c.kms(
        "policy/bob encrypt refused: explicit deny in the key policy",
        bob,
        "Encrypt",
        json!({"KeyId": p.id, "Plaintext": HELLO}),
    );
    c.kms(
        "policy/alice encrypt (key policy statement)",
        alice,
        "Encrypt",
        json!({"KeyId": p.id, "Plaintext": HELLO}),
    );
    c.kms(
        "policy/get p's policy",
        &root,
        "GetKeyPolicy",
        json!({"KeyId": p.id}),
    );
    c.kms(
        "policy/list p's policies",
        &root,
        "ListKeyPolicies",
        json!({"KeyId": p.arn}),
    );
    c.kms(
        "policy/get refused: policy name other than default",
        &root,
        "GetKeyPolicy",
        json!({"KeyId": p.id, "PolicyName": "other"}),
    );
    let lockout = policy(json!([
        {"Effect": "Allow", "Principal": {"AWS": BOB}, "Action": "kms:Encrypt", "Resource": "*"}]));
    let big = format!(
        "{{\"Version\": \"2012-10-17\", \"Statement\": [], \"Id\": \"{}\"}}",
        "x".repeat(33_000)
    );
    for (step, body) in [
        (
            "policy/put refused: policy name other than default",
            json!({"KeyId": p.id, "PolicyName": "other", "Policy": policy(json!([root_statement()]))}),
        ),
        ("policy/put refused: no Policy", json!({"KeyId": p.id})),
        (
            "policy/put refused: malformed JSON",
            json!({"KeyId": p.id, "Policy": "{\"Version\": \"2012-10-17\", \"Statement\": [ {} }"}),
        ),
        (
            "policy/put refused: unknown element",
            json!({"KeyId": p.id, "Policy": policy(json!([{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Colour": "red"}]))}),
        ),
        (
            "policy/put refused: lockout",
            json!({"KeyId": p.id, "Policy": lockout}),
        ),
        (
            "policy/put refused: over 32 KiB",
            json!({"KeyId": p.id, "Policy": big}),
        ),
        (
            "policy/put refused: alias",
            json!({"KeyId": "alias/corpus-a", "Policy": lockout}),
        ),
        (
            "policy/put the root-only policy",
            json!({"KeyId": p.id, "Policy": policy(json!([root_statement()]))}),
        ),
    ] {
        c.kms(step, &root, "PutKeyPolicy", body);
    }
    c.kms(
        "policy/create refused: malformed policy",
        &root,
        "CreateKey",
        json!({"Policy": "{\"Version\": \"2012-10-17\", \"Statement\": [}"}),
    );
    c.kms(
        "policy/create refused: lockout",
        &root,
        "CreateKey",
        json!({"Policy": lockout}),
    );
    c.kms(
        "policy/create refused: over 32 KiB",
        &root,
        "CreateKey",
        json!({"Policy": big}),
    );
    let locked = key_of(
        "policy/create with lockout, bypassing the check",
        &c.kms(
            "policy/create with lockout, bypassing the check",
            &root,
            "CreateKey",
            json!({"Policy": lockout, "BypassPolicyLockoutSafetyCheck": true}),
        ),
    );
    c.kms(
        "policy/put refused: the root is locked out",
        &root,
        "PutKeyPolicy",
        json!({"KeyId": locked.id, "Policy": policy(json!([root_statement()]))}),
    );
    c.kms(
        "policy/describe refused: the root is locked out",
        &root,
        "DescribeKey",
        json!({"KeyId": locked.arn}),
    );
}

fn cross_account(c: &mut Corpus, k: &Keys) {
    let root = Who::Root;
    let text = policy(json!([root_statement(),
        {"Sid": "Vendor", "Effect": "Allow", "Principal": {"AWS": VENDOR_ROLE}, "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]));
    let x = key_of(
        "cross/create x for the vendor",
        &c.kms(
            "cross/create x for the vendor",
            &root,
            "CreateKey",
            json!({"Policy": text}),
        ),
    );
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": OTHER_ROOT}, "Action": "sts:AssumeRole"}]})
    .to_string();
    c.iam(
        OTHER_ROOT,
        "CreateRole",
        &[
            ("RoleName", "Vendor_EKM"),
            ("AssumeRolePolicyDocument", &trust),
        ],
    );
    let vendor = Who::acting(VENDOR_SESSION);
    c.kms(
        "cross/vendor encrypt refused: no identity policy",
        &vendor,
        "Encrypt",
        json!({"KeyId": x.arn, "Plaintext": HELLO}),
    );
    put_policy(
        c,
        OTHER_ROOT,
        "PutRolePolicy",
        [("RoleName", "Vendor_EKM"), ("PolicyName", "ekm")],
        &json!({"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]}),
    );
    let w = c.kms(
        "cross/vendor encrypt",
        &vendor,
        "Encrypt",
        json!({"KeyId": x.arn, "Plaintext": HELLO}),
    );
    c.kms(
        "cross/vendor decrypt",
        &vendor,
        "Decrypt",
        json!({"CiphertextBlob": w["CiphertextBlob"]}),
    );
    c.kms(
        "cross/vendor encrypt refused: bare key id resolves in its own account",
        &vendor,
        "Encrypt",
        json!({"KeyId": x.id, "Plaintext": HELLO}),
    );
    let other = Who::acting(OTHER_ROOT);
    c.kms(
        "cross/other root describe refused: no key policy",
        &other,
        "DescribeKey",
        json!({"KeyId": k.a.arn}),
    );
    let own = c.kms(
        "cross/other root create key",
        &other,
        "CreateKey",
        json!({"Description": "other account"}),
    );
    key_of("cross/other root create key", &own);
    c.kms(
        "cross/other root list keys, one per page",
        &other,
        "ListKeys",
        json!({"Limit": 1}),
    );
    c.kms(
        "cross/other root list aliases",
        &other,
        "ListAliases",
        json!({}),
    );
}

fn grants(c: &mut Corpus, k: &Keys, alice: &Who) {
    let root = Who::Root;
    let a = &k.a;
    let named = json!({"KeyId": a.id, "GranteePrincipal": SESSION, "RetiringPrincipal": ALICE,
        "Operations": ["Decrypt", "GenerateDataKeyWithoutPlaintext"],
        "Constraints": {"EncryptionContextSubset": {"aws:ebs:id": "vol-1"}}, "Name": "attach-vol-1"});
    let g1 = c.kms(
        "grants/create a named grant",
        &root,
        "CreateGrant",
        named.clone(),
    );
    let g1_id = g1["GrantId"].as_str().unwrap_or_default().to_owned();
    let retry = c.kms(
        "grants/create the same named grant again",
        &root,
        "CreateGrant",
        named,
    );
    let v1 = c.kms(
        "grants/encrypt for vol-1",
        &root,
        "Encrypt",
        json!({"KeyId": a.id, "Plaintext": HELLO, "EncryptionContext": {"aws:ebs:id": "vol-1"}}),
    );
    let v2 = c.kms(
        "grants/encrypt for vol-2",
        &root,
        "Encrypt",
        json!({"KeyId": a.id, "Plaintext": HELLO, "EncryptionContext": {"aws:ebs:id": "vol-2"}}),
    );
    let session = Who::acting(SESSION);
    c.kms(
        "grants/session decrypt through the grant",
        &session,
        "Decrypt",
        json!({"CiphertextBlob": v1["CiphertextBlob"], "EncryptionContext": {"aws:ebs:id": "vol-1"},
               "GrantTokens": [g1["GrantToken"]]}),
    );
    c.kms(
        "grants/session decrypt refused: context outside the constraint",
        &session,
        "Decrypt",
        json!({"CiphertextBlob": v2["CiphertextBlob"], "EncryptionContext": {"aws:ebs:id": "vol-2"}}),
    );
    c.kms(
        "grants/session encrypt refused: operation not granted",
        &session,
        "Encrypt",
        json!({"KeyId": a.arn, "Plaintext": HELLO, "EncryptionContext": {"aws:ebs:id": "vol-1"}}),
    );
    c.kms(
        "grants/session data key through the grant",
        &session,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": a.arn, "NumberOfBytes": 64, "EncryptionContext": {"aws:ebs:id": "vol-1"}}),
    );
    c.kms(
        "grants/service principal grant",
        &root,
        "CreateGrant",
        json!({"KeyId": a.arn, "GranteeServicePrincipal": "ec2.amazonaws.com", "Operations": ["DescribeKey", "Decrypt"]}),
    );
    c.kms(
        "grants/service principal describes through its grant",
        &Who::acting("ec2.amazonaws.com"),
        "DescribeKey",
        json!({"KeyId": a.arn}),
    );
    c.kms(
        "grants/grant to an EC2-form grantee with CreateGrant",
        &root,
        "CreateGrant",
        json!({"KeyId": a.id, "GranteePrincipal": "111122223333:aws:ec2-infrastructure:i-0def",
               "Operations": ["Decrypt", "CreateGrant"], "Constraints": {"EncryptionContextEquals": {"aws:ebs:id": "vol-3"}}}),
    );
    let i0def = Who::acting("arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/i-0def");
    for (step, ops, constraints) in [
        (
            "grants/child grant with equal constraints",
            json!(["Decrypt"]),
            json!({"EncryptionContextEquals": {"aws:ebs:id": "vol-3"}}),
        ),
        (
            "grants/child grant refused: looser constraints",
            json!(["Decrypt"]),
            json!({"EncryptionContextSubset": {"aws:ebs:id": "vol-3"}}),
        ),
        (
            "grants/child grant refused: more operations",
            json!(["Encrypt"]),
            json!({"EncryptionContextEquals": {"aws:ebs:id": "vol-3"}}),
        ),
    ] {
        c.kms(
            step,
            &i0def,
            "CreateGrant",
            json!({"KeyId": a.arn, "GranteePrincipal": BOB, "Operations": ops, "Constraints": constraints}),
        );
    }
    for (step, filter) in [
        ("grants/list a", json!({})),
        ("grants/list a by grant id", json!({"GrantId": g1_id})),
        (
            "grants/list a by grantee",
            json!({"GranteePrincipal": SESSION}),
        ),
        (
            "grants/list a by service grantee",
            json!({"GranteeServicePrincipal": "ec2.amazonaws.com"}),
        ),
        ("grants/list a, two per page", json!({"Limit": 2})),
        (
            "grants/list a, second page",
            json!({"Limit": 2, "Marker": "2"}),
        ),
        (
            "grants/list refused: bad grant id",
            json!({"GrantId": "g-1"}),
        ),
        ("grants/list refused: bad Marker", json!({"Marker": "two"})),
        ("grants/list refused: Limit 101", json!({"Limit": 101})),
    ] {
        let mut body = filter;
        body["KeyId"] = json!(a.id);
        c.kms(step, &root, "ListGrants", body);
    }
    grant_refusals(c, k);
    retire_and_revoke(c, k, alice, &g1_id, &retry);
}

fn grant_refusals(c: &mut Corpus, k: &Keys) {
    let root = Who::Root;
    let id = &k.a.id;
    let many: serde_json::Map<String, Value> =
        (0..9).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (step, body) in [
        (
            "grants/create refused: no grantee",
            json!({"KeyId": id, "Operations": ["Decrypt"]}),
        ),
        (
            "grants/create refused: grantee and service grantee",
            json!({"KeyId": id, "GranteePrincipal": BOB, "GranteeServicePrincipal": "ec2.amazonaws.com", "Operations": ["Decrypt"]}),
        ),
        (
            "grants/create refused: not a service principal",
            json!({"KeyId": id, "GranteeServicePrincipal": "ec2.example.com", "Operations": ["Decrypt"]}),
        ),
        (
            "grants/create refused: grantee with a space",
            json!({"KeyId": id, "GranteePrincipal": "bad principal", "Operations": ["Decrypt"]}),
        ),
        (
            "grants/create refused: retiring principal with a space",
            json!({"KeyId": id, "GranteePrincipal": BOB, "RetiringPrincipal": "bad principal", "Operations": ["Decrypt"]}),
        ),
        (
            "grants/create refused: no operations",
            json!({"KeyId": id, "GranteePrincipal": BOB}),
        ),
        (
            "grants/create refused: empty operations",
            json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": []}),
        ),
        (
            "grants/create refused: unknown operation",
            json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Fly"]}),
        ),
        (
            "grants/create refused: 9 constraint pairs",
            json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "Constraints": {"EncryptionContextSubset": many}}),
        ),
        (
            "grants/create refused: Constraints not an object",
            json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "Constraints": []}),
        ),
        (
            "grants/create refused: bad name",
            json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "Name": "bad name"}),
        ),
        (
            "grants/create refused: alias",
            json!({"KeyId": "alias/corpus-a", "GranteePrincipal": BOB, "Operations": ["Decrypt"]}),
        ),
        (
            "grants/create refused: junk grant token",
            json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "GrantTokens": ["junk"]}),
        ),
        (
            "grants/create refused: Encrypt on an HMAC key",
            json!({"KeyId": k.hmac.id, "GranteePrincipal": BOB, "Operations": ["Encrypt"]}),
        ),
        (
            "grants/create GenerateMac on an HMAC key",
            json!({"KeyId": k.hmac.id, "GranteePrincipal": BOB, "Operations": ["GenerateMac", "VerifyMac"]}),
        ),
        (
            "grants/create refused: dry run would succeed",
            json!({"KeyId": id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "DryRun": true}),
        ),
    ] {
        c.kms(step, &root, "CreateGrant", body);
    }
    let q = key_of(
        "grants/create the grant quota key",
        &c.kms(
            "grants/create the grant quota key",
            &root,
            "CreateKey",
            json!({}),
        ),
    );
    for i in 1..=6 {
        c.kms(
            &format!("grants/quota grant {i} of 6"),
            &root,
            "CreateGrant",
            json!({"KeyId": q.id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "Name": format!("g{i}")}),
        );
    }
    c.kms(
        "grants/quota refused: a 7th grant",
        &root,
        "CreateGrant",
        json!({"KeyId": q.id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "Name": "g7"}),
    );
    c.kms(
        "grants/quota: retrying a named grant adds nothing",
        &root,
        "CreateGrant",
        json!({"KeyId": q.id, "GranteePrincipal": BOB, "Operations": ["Decrypt"], "Name": "g6"}),
    );
}

fn retire_and_revoke(c: &mut Corpus, k: &Keys, alice: &Who, g1: &str, retry: &Value) {
    let root = Who::Root;
    let a: &Key = &k.a;
    let missing = "ab".repeat(32);
    c.norm.keep(&missing);
    for (step, who, body) in [
        (
            "grants/retirable for alice",
            &root,
            json!({"RetiringPrincipal": ALICE}),
        ),
        ("grants/retirable refused: no principal", &root, json!({})),
        (
            "grants/retirable refused: principal and service principal",
            &root,
            json!({"RetiringPrincipal": ALICE, "RetiringServicePrincipal": "ec2.amazonaws.com"}),
        ),
        (
            "grants/retirable refused: alice has no policy",
            alice,
            json!({"RetiringPrincipal": ALICE}),
        ),
    ] {
        c.kms(step, who, "ListRetirableGrants", body);
    }
    let session = Who::acting(SESSION);
    for (step, who, body) in [
        (
            "grants/retire refused: the grantee may not",
            &session,
            json!({"KeyId": a.arn, "GrantId": g1}),
        ),
        (
            "grants/retire refused: KeyId not an ARN",
            &root,
            json!({"KeyId": a.id, "GrantId": g1}),
        ),
        (
            "grants/retire refused: bad grant id",
            &root,
            json!({"KeyId": a.arn, "GrantId": "NOPE"}),
        ),
        (
            "grants/retire refused: no such grant",
            &root,
            json!({"KeyId": a.arn, "GrantId": missing}),
        ),
        (
            "grants/retire refused: junk token",
            &root,
            json!({"GrantToken": "%%%"}),
        ),
        (
            "grants/retire refused: no GrantId",
            &root,
            json!({"KeyId": a.arn}),
        ),
        (
            "grants/retire dry run",
            &root,
            json!({"KeyId": a.arn, "GrantId": g1, "DryRun": true}),
        ),
        (
            "grants/retire by token (the retiring principal)",
            alice,
            json!({"GrantToken": retry["GrantToken"]}),
        ),
        (
            "grants/retire refused: token of a retired grant",
            alice,
            json!({"GrantToken": retry["GrantToken"]}),
        ),
    ] {
        c.kms(step, who, "RetireGrant", body);
    }
    let list = c.kms(
        "grants/list a after retiring",
        &root,
        "ListGrants",
        json!({"KeyId": a.arn}),
    );
    let last = list["Grants"]
        .as_array()
        .and_then(|g| g.last())
        .map(|g| g["GrantId"].clone())
        .unwrap_or_default();
    for (step, who, body) in [
        (
            "grants/revoke refused: bad grant id",
            &root,
            json!({"KeyId": a.id, "GrantId": "xyz"}),
        ),
        (
            "grants/revoke refused: no such grant",
            &root,
            json!({"KeyId": a.id, "GrantId": missing}),
        ),
        (
            "grants/revoke refused: alice may not",
            alice,
            json!({"KeyId": a.id, "GrantId": last}),
        ),
        (
            "grants/revoke dry run",
            &root,
            json!({"KeyId": a.id, "GrantId": last, "DryRun": true}),
        ),
        (
            "grants/revoke",
            &root,
            json!({"KeyId": a.id, "GrantId": last}),
        ),
    ] {
        c.kms(step, who, "RevokeGrant", body);
    }
    // The AWS managed key: a grant through EC2, revoked by the root.
    let g = c.kms(
        "grants/grant on alias/aws/ebs through ec2",
        &Who::via(Some(ALICE), EC2),
        "CreateGrant",
        json!({"KeyId": k.ebs.arn, "GranteePrincipal": SESSION, "Operations": ["Decrypt"]}),
    );
    c.kms(
        "grants/root revokes on the managed key",
        &root,
        "RevokeGrant",
        json!({"KeyId": k.ebs.id, "GrantId": g["GrantId"]}),
    );
    for (op, body) in [
        ("DisableKey", json!({"KeyId": k.ebs.id})),
        ("EnableKeyRotation", json!({"KeyId": k.ebs.id})),
        ("ScheduleKeyDeletion", json!({"KeyId": k.ebs.id})),
        (
            "CreateAlias",
            json!({"AliasName": "alias/mine", "TargetKeyId": k.ebs.id}),
        ),
    ] {
        c.kms(&format!("managed/{op} refused"), &root, op, body);
    }
    c.kms(
        "managed/rotation status",
        &root,
        "GetKeyRotationStatus",
        json!({"KeyId": k.ebs.id}),
    );
}
