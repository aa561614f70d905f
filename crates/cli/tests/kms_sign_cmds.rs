//! `ebsim key sign|verify|public-key|mac|verify-mac` on an embedded data dir.

use base64::Engine as _;
use ebsim_kms::{Caller, Kms, KmsConfig};
use ebsim_test_support::ebsim::Cli;
use serde_json::{Value, json};

fn run(dir: &std::path::Path, args: &[&str]) -> Result<(), ebsim_cli::CliError> {
    Cli::new(dir).run(args)
}

fn call(dir: &std::path::Path, op: &str, req: Value) -> Value {
    let kms = Kms::open(dir, KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let root = Caller::new(kms.root_arn());
    kms.call_json(&root, op, req)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn sign_verify_public_key_and_macs_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    run(
        d,
        &[
            "key",
            "create",
            "--key-spec",
            "ECC_NIST_P256",
            "--key-usage",
            "SIGN_VERIFY",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let arn = call(d, "ListKeys", json!({}))["Keys"][0]["KeyArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let msg = d.join("msg.txt");
    std::fs::write(&msg, b"release 1.0").unwrap_or_else(|e| panic!("{e}"));
    let sig = d.join("sig.bin");
    let (m, s) = (
        msg.to_str().unwrap_or_default(),
        sig.to_str().unwrap_or_default(),
    );
    run(
        d,
        &[
            "key",
            "sign",
            &arn,
            "--algorithm",
            "ECDSA_SHA_256",
            "--input",
            m,
            "--output",
            s,
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    run(
        d,
        &[
            "key",
            "verify",
            &arn,
            "--algorithm",
            "ECDSA_SHA_256",
            "--input",
            m,
            "--signature-file",
            s,
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let e = run(
        d,
        &[
            "key",
            "verify",
            &arn,
            "--algorithm",
            "ECDSA_SHA_256",
            "--message",
            "release 1.1",
            "--signature-file",
            s,
        ],
    )
    .err()
    .unwrap_or_else(|| panic!("a changed message must not verify"));
    assert!(
        e.to_string().contains("KMSInvalidSignatureException"),
        "{e}"
    );
    let e = run(
        d,
        &[
            "key",
            "sign",
            &arn,
            "--algorithm",
            "ECDSA_SHA_384",
            "--message",
            "x",
        ],
    )
    .err()
    .unwrap_or_else(|| panic!("a wrong algorithm must fail"));
    assert!(e.to_string().contains("InvalidKeyUsageException"), "{e}");
    // The public key file is the DER GetPublicKey answers.
    let der = d.join("pub.der");
    run(
        d,
        &[
            "key",
            "public-key",
            &arn,
            "--output",
            der.to_str().unwrap_or_default(),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let expected = call(d, "GetPublicKey", json!({"KeyId": arn}))["PublicKey"].clone();
    let written = std::fs::read(&der).unwrap_or_default();
    assert_eq!(
        json!(base64::engine::general_purpose::STANDARD.encode(written)),
        expected
    );

    run(
        d,
        &[
            "key",
            "create",
            "--key-spec",
            "HMAC_256",
            "--key-usage",
            "GENERATE_VERIFY_MAC",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let keys = call(d, "ListKeys", json!({}));
    let hmac = keys["Keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| k["KeyArn"].as_str().unwrap_or_default().to_owned())
        .find(|k| *k != arn)
        .unwrap_or_default();
    let mac = call(
        d,
        "GenerateMac",
        json!({"KeyId": hmac, "Message": "dG9rZW4=", "MacAlgorithm": "HMAC_SHA_256"}),
    )["Mac"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    run(
        d,
        &[
            "key",
            "mac",
            &hmac,
            "--algorithm",
            "HMAC_SHA_256",
            "--message",
            "token",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    run(
        d,
        &[
            "key",
            "verify-mac",
            &hmac,
            "--algorithm",
            "HMAC_SHA_256",
            "--message",
            "token",
            "--mac",
            &mac,
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let e = run(
        d,
        &[
            "key",
            "verify-mac",
            &hmac,
            "--algorithm",
            "HMAC_SHA_256",
            "--message",
            "tokem",
            "--mac",
            &mac,
        ],
    )
    .err()
    .unwrap_or_else(|| panic!("a wrong MAC must fail"));
    assert!(e.to_string().contains("KMSInvalidMacException"), "{e}");
    let e = run(
        d,
        &[
            "key",
            "verify-mac",
            &hmac,
            "--algorithm",
            "HMAC_SHA_256",
            "--message",
            "t",
            "--mac",
            "!!",
        ],
    )
    .err()
    .unwrap_or_else(|| panic!("a MAC that is not base64 must fail"));
    assert!(e.to_string().contains("base64"), "{e}");
}
