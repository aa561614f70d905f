//! Encryption-context keys that differ only by case (docs/kms.md, "Encryption context"):
//! in an Allow statement and a grant constraint the condition must hold for every pair whose
//! key matches case-insensitively, a Deny applies if it holds for any, and a child grant on
//! a case variant of its parent's key is no looser than the parent.

mod common;

use common::{ROOT, create_key, fails, iam, kms, ok, root};
use ebsim_kms::{Caller, ErrorType, Kms};
use serde_json::{Value, json};

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

fn alice(kms: &Kms) -> Caller {
    iam(kms, &root(), "CreateUser", &[("UserName", "alice")]);
    Caller::new(ALICE)
}

fn encrypt(kms: &Kms, caller: &Caller, id: &str, ctx: Value) -> Result<Value, ErrorType> {
    kms.call_json(
        caller,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AAAA", "EncryptionContext": ctx}),
    )
    .map_err(|e| e.error_type)
}

fn policy(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn root_statement() -> Value {
    json!({"Sid": "root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*",
           "Resource": "*"})
}

#[test]
fn a_deny_applies_when_any_case_variant_meets_it() {
    let (kms, _) = kms();
    let (id, _) = create_key(&kms);
    let alice = alice(&kms);
    let p = policy(json!([
        root_statement(),
        {"Sid": "use", "Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "kms:Encrypt",
         "Resource": "*"},
        {"Sid": "only-alice-tenant", "Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt",
         "Resource": "*",
         "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "alice"}}}
    ]));
    ok(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": id, "PolicyName": "default", "Policy": p}),
    );
    assert!(encrypt(&kms, &alice, &id, json!({"tenant": "alice"})).is_ok());
    assert!(encrypt(&kms, &alice, &id, json!({"TENANT": "alice"})).is_ok());
    assert_eq!(
        encrypt(
            &kms,
            &alice,
            &id,
            json!({"tenant": "bob", "TENANT": "alice"})
        ),
        Err(ErrorType::AccessDeniedException),
        "bob under one spelling is denied, whatever the other says"
    );
    assert_eq!(
        encrypt(
            &kms,
            &alice,
            &id,
            json!({"tenant": "alice", "Tenant": "bob"})
        ),
        Err(ErrorType::AccessDeniedException)
    );
}

#[test]
fn an_allow_holds_only_when_every_case_variant_meets_it() {
    let (kms, _) = kms();
    let (id, _) = create_key(&kms);
    let alice = alice(&kms);
    let p = policy(json!([
        root_statement(),
        {"Sid": "bob-only", "Effect": "Allow", "Principal": {"AWS": ALICE},
         "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "bob"}}}
    ]));
    ok(
        &kms,
        &root(),
        "PutKeyPolicy",
        json!({"KeyId": id, "PolicyName": "default", "Policy": p}),
    );
    assert!(encrypt(&kms, &alice, &id, json!({"Tenant": "bob"})).is_ok());
    assert!(encrypt(&kms, &alice, &id, json!({"tenant": "bob", "TENANT": "bob"})).is_ok());
    assert_eq!(
        encrypt(
            &kms,
            &alice,
            &id,
            json!({"tenant": "bob", "TENANT": "alice"})
        ),
        Err(ErrorType::AccessDeniedException)
    );
}

#[test]
fn grant_constraints_and_child_grants_read_case_variants_strictly() {
    let (kms, _) = kms();
    let (id, arn) = create_key(&kms);
    let ws = "arn:aws:sts::111122223333:assumed-role/aws:workspaces/ws-1";
    let ebs = "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/i-1";
    let blob = |ctx: Value| {
        ok(
            &kms,
            &root(),
            "Encrypt",
            json!({"KeyId": id, "Plaintext": "AAAA", "EncryptionContext": ctx}),
        )["CiphertextBlob"]
            .clone()
    };
    ok(
        &kms,
        &root(),
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": ws, "Operations": ["Decrypt", "CreateGrant"],
               "Constraints": {"EncryptionContextSubset": {"aws:ebs:id": "vol-1"}}}),
    );
    let decrypt = |caller: &Caller, ctx: Value| {
        kms.call_json(
            caller,
            "Decrypt",
            json!({"CiphertextBlob": blob(ctx.clone()), "EncryptionContext": ctx}),
        )
        .map_err(|e| e.error_type)
    };
    let wsc = Caller::new(ws);
    assert!(decrypt(&wsc, json!({"AWS:EBS:ID": "vol-1"})).is_ok());
    assert_eq!(
        decrypt(&wsc, json!({"aws:ebs:id": "vol-1", "AWS:EBS:ID": "vol-2"})),
        Err(ErrorType::AccessDeniedException),
        "a grant constraint must hold for every case variant"
    );
    // A child on the upper-case spelling of the parent's key is allowed (it implies the
    // parent) and is no looser: the mixed context its lookup once let through is refused.
    ok(
        &kms,
        &wsc,
        "CreateGrant",
        json!({"KeyId": arn, "GranteePrincipal": ebs, "Operations": ["Decrypt"],
               "Constraints": {"EncryptionContextSubset": {"AWS:EBS:ID": "vol-1"}}}),
    );
    let ebsc = Caller::new(ebs);
    assert!(decrypt(&ebsc, json!({"aws:ebs:id": "vol-1"})).is_ok());
    assert_eq!(
        decrypt(&ebsc, json!({"aws:ebs:id": "vol-2", "AWS:EBS:ID": "vol-1"})),
        Err(ErrorType::AccessDeniedException)
    );
    // A child naming another value under a case variant is looser, and refused.
    let e = fails(
        &kms,
        &wsc,
        "CreateGrant",
        json!({"KeyId": arn, "GranteePrincipal": ebs, "Operations": ["Decrypt"],
               "Constraints": {"EncryptionContextSubset": {"AWS:EBS:ID": "vol-2"}}}),
    );
    assert_eq!(e.error_type, ErrorType::AccessDeniedException);
}
