//! Key-policy evaluation cost per request, for the KMS Decrypt path.
//!
//! `evaluate/*`: one compiled policy, one request (principal, action, resource, condition
//! keys), as Kms evaluates it on every call. Peer in the same run: `reparse_json`, the cost of
//! only parsing the same policy text into a `serde_json::Value`, which is what evaluation
//! would pay per call if it re-read the document. The ratio peer / evaluate is the figure.
//! Target: evaluation well under 1 µs for a realistic 3–5 statement policy.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ebsim_kms::policy::{ConditionValues, Decision, PolicyDocument, RequestContext};

const KEY: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// Five statements in the shape of a console key policy plus an EBS-style condition.
const POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Id": "key-consolepolicy-3",
  "Statement": [
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "Allow access for Key Administrators", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:role/KeyAdmin"},
     "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:ScheduleKeyDeletion",
                "kms:CancelKeyDeletion"],
     "Resource": "*"},
    {"Sid": "Deny other regions", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
     "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-west-2", "us-east-1"]}}},
    {"Sid": "Allow use of the key through EBS", "Effect": "Allow", "Principal": {"AWS": "*"},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
     "Resource": "*",
     "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333", "kms:ViaService": "ec2.us-west-2.amazonaws.com"},
                   "StringLike": {"kms:EncryptionContext:aws:ebs:id": "vol-*"}}},
    {"Sid": "Allow attachment of persistent resources", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:role/KeyUser"},
     "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
     "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}
  ]
}"#;

fn bench(c: &mut Criterion) {
    let policy = PolicyDocument::parse_key_policy(POLICY).expect("valid benchmark policy");
    let mut cv = ConditionValues::new();
    cv.insert("kms:CallerAccount", "111122223333")
        .insert("aws:RequestedRegion", "us-west-2")
        .insert("kms:ViaService", "ec2.us-west-2.amazonaws.com")
        .insert("kms:EncryptionContext:aws:ebs:id", "vol-1234abcd")
        .insert_many("kms:EncryptionContextKeys", ["aws:ebs:id"]);
    let ebs = "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/i-0123";
    let req = RequestContext::new(ebs, "kms:Decrypt", KEY, &cv);
    assert!(matches!(policy.evaluate(&req), Decision::Allow { .. }));
    let user = "arn:aws:iam::111122223333:user/alice";
    let delegated = RequestContext::new(user, "kms:ScheduleKeyDeletion", KEY, &cv);
    assert!(matches!(
        policy.evaluate(&delegated),
        Decision::DelegatedToIam { .. }
    ));

    let mut g = c.benchmark_group("policy");
    g.bench_function("evaluate/ebs_decrypt_allow", |b| {
        b.iter(|| black_box(&policy).evaluate(black_box(&req)))
    });
    g.bench_function("evaluate/user_delete_delegated", |b| {
        b.iter(|| black_box(&policy).evaluate(black_box(&delegated)))
    });
    g.bench_function("evaluate/with_condition_values_built", |b| {
        b.iter(|| {
            let mut cv = ConditionValues::new();
            cv.insert("kms:CallerAccount", "111122223333")
                .insert("aws:RequestedRegion", "us-west-2")
                .insert("kms:ViaService", "ec2.us-west-2.amazonaws.com")
                .insert("kms:EncryptionContext:aws:ebs:id", "vol-1234abcd");
            black_box(&policy).evaluate(&RequestContext::new(ebs, "kms:Decrypt", KEY, &cv))
        })
    });
    g.bench_function("reparse_json", |b| {
        b.iter(|| {
            serde_json::from_str::<serde_json::Value>(black_box(POLICY)).map(|v| v.is_object())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
