//! Bring your own key and multi-Region keys with boto3 against `ebsim kms serve`:
//! tests/scripts/kms_byok_boto3.py
//! wraps material offline with Python `cryptography` as AWS documents it (each wrapping
//! algorithm), imports it, uses it, lets it expire on the simulated clock and imports it
//! again.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ebsim_test_support::ebsim::Ebsim;

#[test]
fn boto3_imports_material_wrapped_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let server = ebsim.serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/kms_byok_boto3.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(server.url())
        .arg(env!("CARGO_BIN_EXE_ebsim"))
        .arg(&data)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("python3 with boto3 and cryptography must be installed (.ci/install-deps)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "boto3 BYOK flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.stop().expect("server stopped").success());
}

/// tests/scripts/kms_mrk_boto3.py: a multi-Region primary encrypts in us-west-2 and its
/// replica decrypts in us-east-1; UpdatePrimaryRegion; the deletion rule.
#[test]
fn boto3_multi_region_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(tmp.path().join("data"));
    let server = ebsim.serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/kms_mrk_boto3.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(server.url())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("python3 with boto3 must be installed (.ci/install-deps)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "boto3 multi-Region flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.stop().expect("server stopped").success());
}
