//! boto3 against `ebsim kms serve`: tests/scripts/kms_boto3.py runs the key, alias, data-key,
//! grant, policy, rotation, state and authentication flow from Python.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ebsim_test_support::ebsim::Ebsim;
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
    let out = Command::new("python3")
        .arg(script)
        .arg(&url)
        .arg(user["access_key_id"].as_str().unwrap())
        .arg(user["secret_access_key"].as_str().unwrap())
        .arg(user["arn"].as_str().unwrap())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("python3 with boto3 must be installed (.ci/install-deps)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "boto3 flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = server.stop().expect("server stopped");
    assert!(status.success());
}
