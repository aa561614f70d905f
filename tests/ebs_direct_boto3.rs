//! boto3's ebs client against `ebsim serve`: tests/scripts/ebs_direct_boto3.py writes snapshots
//! through the EBS direct APIs, reads them and EC2 CreateSnapshot's back, restores one to a
//! volume read with `ebsim volume read`, and checks every bad input, UNSIGNED-PAYLOAD and the
//! `ebs:` actions' authorization. Then the audit trail shows the snapshot's data key made for
//! the new snapshot id.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::tools;

#[test]
fn boto3_ebs_direct_against_ebsim_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let server = ebsim.serve(&["serve", "--listen", "127.0.0.1:0"]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/ebs_direct_boto3.py"
    );
    tools::python(
        script,
        &[&server.url(), &env!("CARGO_BIN_EXE_ebsim"), &data],
    );
    let trail = ebsim.ok(&["--json", "audit"]);
    assert!(
        trail.lines().any(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            r["eventName"] == "GenerateDataKeyWithoutPlaintext"
                && r["requestParameters"]["encryptionContext"]["aws:ebs:id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("snap-"))
        }),
        "no data key made for a snapshot id:\n{trail}"
    );
    let status = server.stop().expect("server stopped");
    assert!(status.success());
}
