//! Our HTTP KMS client against someone else's server: moto's KMS. Wrap and unwrap of a
//! volume data key under an encryption context, and a wrong context refused.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim::kms::ErrorType;
use ebsim::kms_client::{AccessKey, EncryptionContext, HttpConfig, Identity, KmsClient};
use ebsim_test_support::process::Moto;

#[test]
fn ebsim_client_wraps_and_unwraps_against_moto() {
    let moto = Moto::start();
    let config = HttpConfig::new(&moto.url)
        .unwrap()
        .credentials(AccessKey::new("test", "test"))
        .region("us-west-2");
    let client = KmsClient::http(config).unwrap();
    let key = client
        .call(
            &Identity::Default,
            "CreateKey",
            serde_json::json!({"Description": "ebsim interop"}),
        )
        .unwrap();
    let key_id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();

    let ctx = EncryptionContext::workspaces(
        "vol-0123456789abcdef0",
        "S-1-5-21-1004336348-1177238915-682003330-512",
        "d-926724a1b2",
    )
    .unwrap();
    let wrapped = client
        .generate_wrapped_data_key(&Identity::Default, &key_id, &ctx)
        .unwrap();
    assert!(wrapped.key_arn.ends_with(&key_id), "{}", wrapped.key_arn);
    let k1 = client
        .decrypt_data_key(&Identity::Default, &wrapped.ciphertext_blob, &ctx)
        .unwrap();
    let k2 = client
        .decrypt_data_key(&Identity::Default, &wrapped.ciphertext_blob, &ctx)
        .unwrap();
    assert_eq!(k1.len(), 64);
    assert_eq!(k1.as_bytes(), k2.as_bytes());

    let wrong = EncryptionContext::ebs("vol-0123456789abcdef0").unwrap();
    let err = client
        .decrypt_data_key(&Identity::Default, &wrapped.ciphertext_blob, &wrong)
        .unwrap_err();
    assert_eq!(
        err.kms_error_type(),
        Some(ErrorType::InvalidCiphertextException),
        "{err}"
    );

    let missing = client
        .call(
            &Identity::Default,
            "DescribeKey",
            serde_json::json!({"KeyId": "alias/none"}),
        )
        .unwrap_err();
    assert_eq!(
        missing.kms_error_type(),
        Some(ErrorType::NotFoundException),
        "{missing}"
    );
}
