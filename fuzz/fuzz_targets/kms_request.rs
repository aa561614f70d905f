//! The KMS JSON 1.1 request decoder behind `Kms::call` (the data plane's typed parse and the
//! general path's member reading, with their SerializationException and validation errors),
//! on an in-memory KMS with one key (`alias/fuzz`): the first byte picks the operation, the
//! rest is the body. Never panics, and every answer is a JSON object.
#![no_main]

use std::sync::OnceLock;

use ebsim_kms::{Caller, Kms, KmsConfig};

/// Operations whose state stays bounded under any input (no CreateKey, no CreateAlias).
const OPS: [&str; 24] = [
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "ReEncrypt",
    "DescribeKey",
    "ListKeys",
    "ListAliases",
    "ListGrants",
    "ListRetirableGrants",
    "GetKeyPolicy",
    "ListKeyPolicies",
    "GetKeyRotationStatus",
    "ListResourceTags",
    "GenerateRandom",
    "GenerateMac",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "RevokeGrant",
    "NoSuchOperation",
];

const ROOT: &str = "arn:aws:iam::111122223333:root";

fn kms() -> &'static Kms {
    static KMS: OnceLock<Kms> = OnceLock::new();
    KMS.get_or_init(|| {
        let kms = Kms::in_memory(KmsConfig::default());
        let root = Caller::new(ROOT);
        let made = kms
            .call(&root, "CreateKey", b"{}")
            .expect("CreateKey");
        let made: serde_json::Value = serde_json::from_slice(&made).expect("JSON");
        let id = made["KeyMetadata"]["KeyId"].as_str().expect("KeyId").to_owned();
        let alias = serde_json::json!({"AliasName": "alias/fuzz", "TargetKeyId": id});
        kms.call(&root, "CreateAlias", alias.to_string().as_bytes())
            .expect("CreateAlias");
        kms
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&op, body)) = data.split_first() else {
        return;
    };
    let op = OPS[usize::from(op) % OPS.len()];
    let caller = Caller::new(ROOT);
    if let Ok(out) = kms().call(&caller, op, body) {
        let v: serde_json::Value = serde_json::from_slice(&out).expect("an answer that is JSON");
        assert!(v.is_object(), "{op}: {v}");
    }
});
