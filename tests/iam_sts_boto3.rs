//! boto3's iam and sts clients against `ebsim serve`: tests/scripts/iam_sts_boto3.py runs
//! the user, role, session, managed policy, pagination and bad-input flows from Python; then
//! the audit trail shows the assumed-role session as the principal of its Decrypt.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::tools;

#[test]
fn boto3_iam_and_sts_against_ebsim_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let server = ebsim.serve(&["serve", "--listen", "127.0.0.1:0"]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/iam_sts_boto3.py"
    );
    tools::python(
        script,
        &[&server.url(), &env!("CARGO_BIN_EXE_ebsim"), &data],
    );
    let trail = ebsim.ok(&["--json", "audit"]);
    assert!(
        trail.lines().any(|l| l.contains("\"Decrypt\"")
            && l.contains("arn:aws:sts::111122223333:assumed-role/reader/job-1")),
        "no Decrypt by the session in the audit trail:\n{trail}"
    );
    let status = server.stop().expect("server stopped");
    assert!(status.success());
}
