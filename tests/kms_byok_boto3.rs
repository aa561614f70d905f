//! Bring your own key and multi-Region keys with boto3 against `ebsim kms serve`:
//! tests/scripts/kms_byok_boto3.py
//! wraps material offline with Python `cryptography` as AWS documents it (each wrapping
//! algorithm), imports it, uses it, lets it expire on the simulated clock and imports it
//! again.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::tools;

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
    tools::python(
        script,
        &[&server.url(), &env!("CARGO_BIN_EXE_ebsim"), &data],
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
    tools::python(script, &[&server.url()]);
    assert!(server.stop().expect("server stopped").success());
}
