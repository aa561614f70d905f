//! boto3's iam and sts clients against `ebsim serve`: tests/scripts/iam_sts_boto3.py runs
//! the user, role, session, managed policy, pagination and bad-input flows from Python; then
//! the audit trail shows the assumed-role session as the principal of its Decrypt.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ebsim_test_support::ebsim::Ebsim;

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
        "boto3 IAM/STS flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
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
