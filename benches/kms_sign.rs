//! KMS Sign in process, with the policy check and the audit trail on: a KMS on a data dir
//! (every audit record also appended to its file, as under `ebsim kms serve`), a signing key
//! whose key policy allows an IAM user by a condition on `kms:SigningAlgorithm`, and the
//! request as the wire brings it (`Kms::call` with a JSON body). RSA-2048 with
//! RSASSA_PKCS1_V1_5_SHA_256 and ECDSA P-256 with ECDSA_SHA_256, the algorithms of `openssl
//! speed rsa2048 ecdsap256`, which bench/kms-sign.sh runs beside this in the same run.
//!
//! `cargo bench --bench kms_sign`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ebsim_kms::{Caller, Kms, KmsConfig};
use serde_json::json;

const ROOT: &str = "arn:aws:iam::111122223333:root";
const SIGNER: &str = "arn:aws:iam::111122223333:user/release-signer";

fn policy() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Release signing", "Effect": "Allow", "Principal": {"AWS": SIGNER},
             "Action": ["kms:Sign", "kms:Verify", "kms:GetPublicKey"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:SigningAlgorithm": ["RSASSA_PKCS1_V1_5_SHA_256", "ECDSA_SHA_256"]}}},
            {"Sid": "No PSS", "Effect": "Deny", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
             "Condition": {"StringLike": {"kms:SigningAlgorithm": "RSASSA_PSS_*"}}}
        ]
    })
    .to_string()
}

/// A signing key of `spec` and the Sign request body for `algorithm`.
fn setup(kms: &Kms, spec: &str, algorithm: &str) -> Vec<u8> {
    let root = Caller::new(ROOT);
    let key = kms
        .call_json(
            &root,
            "CreateKey",
            json!({"KeySpec": spec, "KeyUsage": "SIGN_VERIFY", "Policy": policy()}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let req = serde_json::to_vec(&json!({
        "KeyId": key["KeyMetadata"]["Arn"],
        "Message": "cmVsZWFzZSAxLjAuMCBtYW5pZmVzdA==",
        "SigningAlgorithm": algorithm,
    }))
    .unwrap_or_default();
    // The path really succeeds, through the key policy.
    kms.call(&Caller::new(SIGNER), "Sign", &req)
        .unwrap_or_else(|e| panic!("{e}"));
    req
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let rsa = setup(&kms, "RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256");
    let ecdsa = setup(&kms, "ECC_NIST_P256", "ECDSA_SHA_256");
    let signer = Caller::new(SIGNER);
    let mut g = c.benchmark_group("kms_sign");
    g.throughput(Throughput::Elements(1));
    g.bench_function("rsa2048_pkcs1_sha256", |b| {
        b.iter(|| kms.call(black_box(&signer), "Sign", black_box(&rsa)))
    });
    g.bench_function("ecdsa_p256_sha256", |b| {
        b.iter(|| kms.call(black_box(&signer), "Sign", black_box(&ecdsa)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
