//! boto3's ec2 client against `ebsim serve`: tests/scripts/ec2_boto3.py runs the encrypted
//! volume, encryption-by-default, unusable-key, filter, pagination, authorization and
//! bad-input flows from Python, writing and reading the attached volume with `ebsim volume
//! write/read`; then the audit trail shows who made each KMS call of an attachment.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::tools;

#[test]
fn boto3_ec2_against_ebsim_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let server = ebsim.serve(&["serve", "--listen", "127.0.0.1:0"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/ec2_boto3.py");
    tools::python(
        script,
        &[&server.url(), &env!("CARGO_BIN_EXE_ebsim"), &data],
    );
    // The attachment's KMS calls, by the principals AWS names: CreateGrant by the caller via
    // EC2, Decrypt and RetireGrant by the instance's EC2 infrastructure session.
    let trail = ebsim.ok(&["--json", "audit"]);
    let records: Vec<serde_json::Value> = trail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by = |event: &str, who: &dyn Fn(&str) -> bool| {
        records.iter().any(|r| {
            r["eventName"] == event
                && r["errorCode"].is_null()
                && who(r["userIdentity"]["arn"].as_str().unwrap_or(""))
        })
    };
    let session = |a: &str| a.contains(":assumed-role/aws:ec2-infrastructure/i-");
    let root = |a: &str| a == "arn:aws:iam::111122223333:root";
    assert!(
        by("CreateGrant", &root),
        "no CreateGrant by the caller:\n{trail}"
    );
    assert!(
        by("Decrypt", &session),
        "no Decrypt by an instance session:\n{trail}"
    );
    assert!(
        by("RetireGrant", &session),
        "no RetireGrant by an instance session:\n{trail}"
    );
    assert!(by("GenerateDataKeyWithoutPlaintext", &root));
    let grant = records
        .iter()
        .find(|r| r["eventName"] == "CreateGrant" && r["errorCode"].is_null())
        .unwrap();
    assert_eq!(
        grant["userIdentity"]["invokedBy"], "ec2.amazonaws.com",
        "{grant}"
    );
    let state = std::fs::metadata(data.join("ec2/state.json")).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(state.permissions().mode() & 0o777, 0o600);
    let status = server.stop().expect("server stopped");
    assert!(status.success());
}
