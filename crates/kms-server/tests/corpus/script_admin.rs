//! The admin operations (clock, faults, IAM, audit) and their refusals, the simulated clock
//! crossing a deletion window and a rotation period, unknown operations, and the key quota.

use serde_json::json;

use crate::harness::{Corpus, KEY_QUOTA, Who};
use crate::script_access::{ALICE, user};
use crate::script_crypto::{EC2, HELLO};
use crate::script_keys::Keys;

const DAY_MINUTES: f64 = 24.0 * 60.0;

pub fn run(c: &mut Corpus, k: &Keys) {
    clock(c, k);
    faults(c, k);
    iam(c);
    refusals(c);
    unknown_operations(c);
    key_quota(c);
}

fn clock(c: &mut Corpus, k: &Keys) {
    let root = Who::Root;
    c.admin("clock/get", &root, "GetClock", json!({}));
    c.admin(
        "clock/advance 8 days",
        &root,
        "AdvanceClock",
        json!({"Days": 8}),
    );
    c.kms(
        "clock/describe refused: doomed was deleted",
        &root,
        "DescribeKey",
        json!({"KeyId": k.doomed.id}),
    );
    c.kms(
        "clock/decrypt refused: the key of the blob was deleted",
        &root,
        "Decrypt",
        json!({"CiphertextBlob": k.doomed_blob}),
    );
    // r90 rotates 90 days after the start: stop 10 minutes short of it.
    c.admin(
        "clock/advance to 10 minutes before r90's rotation",
        &root,
        "AdvanceClock",
        json!({"Days": 82.0 - 10.0 / DAY_MINUTES}),
    );
    c.kms(
        "clock/rotate on demand refused: automatic rotation due",
        &root,
        "RotateKeyOnDemand",
        json!({"KeyId": k.r90.id}),
    );
    c.admin(
        "clock/advance 1 day",
        &root,
        "AdvanceClock",
        json!({"Days": 1}),
    );
    c.kms(
        "clock/r90 rotated automatically",
        &root,
        "ListKeyRotations",
        json!({"KeyId": k.r90.id}),
    );
    c.kms(
        "clock/r90 rotation status",
        &root,
        "GetKeyRotationStatus",
        json!({"KeyId": k.r90.id}),
    );
    c.kms(
        "clock/rotate r90 on demand",
        &root,
        "RotateKeyOnDemand",
        json!({"KeyId": k.r90.arn}),
    );
    c.kms(
        "clock/encrypt with r90's newest material",
        &root,
        "Encrypt",
        json!({"KeyId": k.r90.id, "Plaintext": HELLO}),
    );
    for (step, body) in [
        ("clock/advance refused: no Days", json!({})),
        ("clock/advance refused: negative", json!({"Days": -1})),
        (
            "clock/advance refused: Days not a number",
            json!({"Days": "1"}),
        ),
    ] {
        c.admin(step, &root, "AdvanceClock", body);
    }
    c.admin("clock/get after advancing", &root, "GetClock", json!({}));
}

fn faults(c: &mut Corpus, k: &Keys) {
    let root = Who::Root;
    let a = &k.a.id;
    c.admin(
        "faults/outage on DescribeKey",
        &root,
        "SetFault",
        json!({"Operation": "DescribeKey", "Kind": "outage"}),
    );
    c.kms(
        "faults/describe refused: outage",
        &root,
        "DescribeKey",
        json!({"KeyId": a}),
    );
    c.admin(
        "faults/dependency timeout everywhere",
        &root,
        "SetFault",
        json!({"Operation": "*", "Kind": "outage", "ErrorType": "DependencyTimeoutException"}),
    );
    c.kms(
        "faults/encrypt refused: dependency timeout",
        &root,
        "Encrypt",
        json!({"KeyId": a, "Plaintext": HELLO}),
    );
    c.admin("faults/clear", &root, "ClearFaults", json!({}));
    c.kms(
        "faults/describe after clearing",
        &root,
        "DescribeKey",
        json!({"KeyId": a}),
    );
    c.admin(
        "faults/throttle GenerateRandom",
        &root,
        "SetFault",
        json!({"Operation": "GenerateRandom", "Kind": "throttle", "RatePerSecond": 0.001}),
    );
    c.kms(
        "faults/random within the rate",
        &root,
        "GenerateRandom",
        json!({"NumberOfBytes": 4}),
    );
    c.kms(
        "faults/random refused: throttled",
        &root,
        "GenerateRandom",
        json!({"NumberOfBytes": 4}),
    );
    c.admin(
        "faults/latency on ListAliases",
        &root,
        "SetFault",
        json!({"Operation": "ListAliases", "Kind": "latency", "LatencyMs": 1}),
    );
    c.kms(
        "faults/list aliases with latency",
        &root,
        "ListAliases",
        json!({"Limit": 1}),
    );
    c.admin("faults/clear again", &root, "ClearFaults", json!({}));
    for (step, body) in [
        (
            "faults/set refused: no Operation",
            json!({"Kind": "outage"}),
        ),
        (
            "faults/set refused: unknown Kind",
            json!({"Operation": "*", "Kind": "fire"}),
        ),
        (
            "faults/set refused: outage of another error type",
            json!({"Operation": "*", "Kind": "outage", "ErrorType": "NotFoundException"}),
        ),
        (
            "faults/set refused: throttle without a rate",
            json!({"Operation": "*", "Kind": "throttle"}),
        ),
        (
            "faults/set refused: throttle rate 0",
            json!({"Operation": "*", "Kind": "throttle", "RatePerSecond": 0}),
        ),
        (
            "faults/set refused: latency without LatencyMs",
            json!({"Operation": "*", "Kind": "latency"}),
        ),
        (
            "faults/set refused: latency over a minute",
            json!({"Operation": "*", "Kind": "latency", "LatencyMs": 60_001}),
        ),
    ] {
        c.admin(step, &root, "SetFault", body);
    }
}

fn iam(c: &mut Corpus) {
    let root = Who::Root;
    // IAM users, roles and policies are IAM actions only (docs/iam.md).
    for (step, op, body) in [
        (
            "admin/create user refused: not an admin operation",
            "CreateUser",
            json!({"UserName": "dave"}),
        ),
        (
            "admin/create role refused: not an admin operation",
            "CreateRole",
            json!({"RoleName": "Auditor"}),
        ),
        (
            "admin/put policy refused: not an admin operation",
            "PutPrincipalPolicy",
            json!({"PrincipalArn": ALICE, "PolicyName": "p", "PolicyDocument": {}}),
        ),
        (
            "admin/list principals refused: not an admin operation",
            "ListPrincipals",
            json!({}),
        ),
        (
            "admin/read the last two audit records",
            "ReadAudit",
            json!({"Limit": 2}),
        ),
    ] {
        c.admin(step, &root, op, body);
    }
}

fn refusals(c: &mut Corpus) {
    let eve = user(c, "eve");
    c.admin(
        "admin/get clock refused: an IAM user",
        &eve,
        "GetClock",
        json!({}),
    );
    c.admin(
        "admin/get clock refused: the service acting for a user",
        &Who::acting(ALICE),
        "GetClock",
        json!({}),
    );
    c.admin(
        "admin/get clock refused: a forwarded root",
        &Who::via(None, EC2),
        "GetClock",
        json!({}),
    );
    c.admin(
        "admin/get clock with the service credential",
        &Who::Service {
            principal: None,
            via: None,
        },
        "GetClock",
        json!({}),
    );
    c.admin(
        "admin/refused: unknown admin operation",
        &Who::Root,
        "Reboot",
        json!({}),
    );
    c.call(
        "admin/refused: body not JSON",
        &Who::Root,
        "EbsimAdmin.GetClock",
        b"{",
    );
    c.call(
        "admin/refused: body a JSON string",
        &Who::Root,
        "EbsimAdmin.GetClock",
        b"\"clock\"",
    );
    c.call(
        "admin/get clock with an empty body",
        &Who::Root,
        "EbsimAdmin.GetClock",
        b"  ",
    );
}

fn unknown_operations(c: &mut Corpus) {
    for op in ["importKeyMaterial", "Bogus", ""] {
        c.call(
            &format!("unknown/operation {op:?}"),
            &Who::Root,
            &format!("TrentService.{op}"),
            b"{}",
        );
    }
}

/// Customer managed keys up to the quota, then LimitExceededException.
fn key_quota(c: &mut Corpus) {
    for i in 1..=KEY_QUOTA + 1 {
        let v = c.kms(
            &format!("quota/create key {i}"),
            &Who::Root,
            "CreateKey",
            json!({"Description": "quota"}),
        );
        if v["__type"] == "LimitExceededException" {
            return;
        }
    }
    panic!("CreateKey never reached the key quota of {KEY_QUOTA}");
}
