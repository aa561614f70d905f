//! boto3 against `ebsim kms serve`: tests/scripts/kms_boto3.py runs the key, alias, data-key,
//! grant, policy, rotation, state and authentication flow from Python.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::tools;
use serde_json::Value;

#[test]
fn boto3_flow_against_ebsim_kms_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let server = ebsim.serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let url = server.url();
    let user = ebsim.output(&["--json", "iam", "create-user", "bob"]);
    assert!(
        user.status.success(),
        "iam create-user: {}",
        String::from_utf8_lossy(&user.stderr)
    );
    let user: Value = serde_json::from_slice(&user.stdout).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/kms_boto3.py");
    tools::python(
        script,
        &[
            &url,
            &user["access_key_id"].as_str().unwrap(),
            &user["secret_access_key"].as_str().unwrap(),
            &user["arn"].as_str().unwrap(),
        ],
    );
    let status = server.stop().expect("server stopped");
    assert!(status.success());
}
