//! boto3's workspaces client (and aws-cli) against `ebsim serve`:
//! tests/scripts/workspaces_boto3.py runs directories, bundles, create, describe, reboot and
//! rebuild with data on the user volume, stop/start, terminate, unusable keys, authorization
//! and bad input.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::tools;

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
    tools::python(
        script,
        &[&server.url(), &env!("CARGO_BIN_EXE_ebsim"), &data],
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
