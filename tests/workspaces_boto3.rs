//! boto3's workspaces client (and aws-cli) against `ebsim serve`:
//! tests/scripts/workspaces_boto3.py runs directories, bundles, create, describe, reboot and
//! rebuild with data on the user volume, stop/start, terminate, unusable keys, authorization
//! and bad input.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ebsim_test_support::ebsim::Ebsim;

#[test]
fn boto3_workspaces_against_ebsim_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let server = ebsim.serve(&["serve", "--listen", "127.0.0.1:0"]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/workspaces_boto3.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(server.url())
        .arg(env!("CARGO_BIN_EXE_ebsim"))
        .arg(&data)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("python3 with boto3 must be installed (.ci/install-deps)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "boto3 WorkSpaces flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The WorkSpace's grant was made by the caller via WorkSpaces.
    let trail = ebsim.ok(&["--json", "audit"]);
    assert!(
        trail.lines().any(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            r["eventName"] == "CreateGrant"
                && r["errorCode"].is_null()
                && r["userIdentity"]["invokedBy"] == "workspaces.amazonaws.com"
        }),
        "no CreateGrant via WorkSpaces:\n{trail}"
    );
    let status = server.stop().expect("server stopped");
    assert!(status.success());
}
