//! KMS Decrypt and GenerateDataKeyWithoutPlaintext in process: a customer key with a
//! realistic five-statement policy, the caller allowed through a grant with an
//! EncryptionContextSubset constraint (the EBS attach pattern), the audit trail on.
//!
//! `decrypt/grant/audit_file` is the same call on a KMS opened on a data dir, whose audit
//! trail is also appended (buffered) to its file, as under `ebsim kms serve`.
//!
//! Peer in the same run: `aes_gcm_open_only`, the bare AES-256-GCM open of the same blob size
//! (the floor). Target: >= 200,000 Decrypt/s on one core (`decrypt/grant` <= 5 µs).
//!
//! `cargo bench --bench kms`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ebsim_kms::{Caller, Kms, KmsConfig};
use serde_json::json;

const ROOT: &str = "arn:aws:iam::111122223333:root";
const SESSION: &str =
    "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/vol-0123456789abcdef0";

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
                "kms:CancelKeyDeletion"], "Resource": "*"},
    {"Sid": "Allow use of the key through EBS", "Effect": "Allow", "Principal": {"AWS": "*"},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
     "Resource": "*",
     "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333", "kms:ViaService": "ec2.us-west-2.amazonaws.com"}}},
    {"Sid": "Allow attachment of persistent resources", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"},
     "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
     "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
    {"Sid": "Deny plaintext data keys", "Effect": "Deny", "Principal": "*",
     "Action": "kms:GenerateDataKey", "Resource": "*",
     "Condition": {"StringNotEquals": {"kms:CallerAccount": "111122223333"}}}
  ]
}"#;

/// Creates the key (with [`POLICY`]) and the grant on `kms`; returns the Decrypt and the
/// GenerateDataKeyWithoutPlaintext request bodies.
fn setup(kms: &Kms) -> (Vec<u8>, Vec<u8>) {
    let root = Caller::new(ROOT);
    let key = kms
        .call_json(&root, "CreateKey", json!({"Policy": POLICY}))
        .unwrap_or_else(|e| panic!("{e}"));
    let arn = key["KeyMetadata"]["Arn"].clone();
    let ctx = json!({"aws:ebs:id": "vol-0123456789abcdef0"});
    kms.call_json(
        &root,
        "CreateGrant",
        json!({"KeyId": arn, "GranteePrincipal": SESSION, "Operations": ["Decrypt"],
               "Constraints": {"EncryptionContextSubset": ctx}}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let gdk_req =
        serde_json::to_vec(&json!({"KeyId": arn, "NumberOfBytes": 64, "EncryptionContext": ctx}))
            .unwrap_or_default();
    let wrapped = kms
        .call(&via(), "GenerateDataKeyWithoutPlaintext", &gdk_req)
        .unwrap_or_else(|e| panic!("{e}"));
    let wrapped: serde_json::Value = serde_json::from_slice(&wrapped).unwrap_or_default();
    let dec_req = serde_json::to_vec(
        &json!({"CiphertextBlob": wrapped["CiphertextBlob"], "EncryptionContext": ctx}),
    )
    .unwrap_or_default();
    // Check once that the path really succeeds through the grant.
    kms.call(&Caller::new(SESSION), "Decrypt", &dec_req)
        .unwrap_or_else(|e| panic!("{e}"));
    (dec_req, gdk_req)
}

fn via() -> Caller {
    Caller::new("arn:aws:iam::111122223333:user/alice").via("ec2.us-west-2.amazonaws.com")
}

fn bench(c: &mut Criterion) {
    let kms = Kms::in_memory(KmsConfig::default());
    let (dec_req, gdk_req) = setup(&kms);
    let via = via();
    let session = Caller::new(SESSION);
    // The same KMS on a data dir: every record is also appended (buffered) to
    // DIR/audit/kms-audit.jsonl, as under `ebsim kms serve`.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let kms_dir = Kms::open(dir.path(), KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let (dir_dec_req, _) = setup(&kms_dir);

    let mut g = c.benchmark_group("kms");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decrypt/grant", |b| {
        b.iter(|| kms.call(black_box(&session), "Decrypt", black_box(&dec_req)))
    });
    g.bench_function("decrypt/grant/audit_file", |b| {
        b.iter(|| kms_dir.call(black_box(&session), "Decrypt", black_box(&dir_dec_req)))
    });
    g.bench_function("decrypt/key_policy_via_ec2", |b| {
        b.iter(|| kms.call(black_box(&via), "Decrypt", black_box(&dec_req)))
    });
    g.bench_function("generate_data_key_without_plaintext/via_ec2", |b| {
        b.iter(|| {
            kms.call(
                black_box(&via),
                "GenerateDataKeyWithoutPlaintext",
                black_box(&gdk_req),
            )
        })
    });
    // Peer: the bare AEAD open of a blob of the same size.
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let cipher = aes_gcm::Aes256Gcm::new(&[7u8; 32].into());
    let nonce = [1u8; 12];
    let sealed = cipher
        .encrypt(
            &nonce.into(),
            Payload {
                msg: &[0u8; 64],
                aad: &[0u8; 90],
            },
        )
        .unwrap_or_default();
    g.bench_function("aes_gcm_open_only", |b| {
        b.iter(|| {
            cipher.decrypt(
                &nonce.into(),
                Payload {
                    msg: black_box(&sealed),
                    aad: &[0u8; 90],
                },
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
