//! aws-cli's `aws ec2` against `ebsim serve` (docs/ec2.md): a volume made by `ebsim volume
//! create` through the running server and one made by `aws ec2 create-volume`, both listed
//! and filtered; an instance with a volume attached, the volume written and read back by
//! `ebsim volume write/read`; encryption by default; errors by code.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::tools::Aws;
use serde_json::Value;

#[test]
fn aws_cli_ec2_against_ebsim_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let server = ebsim.serve(&["serve", "--listen", "127.0.0.1:0"]);
    let url = server.url();
    let aws = Aws {
        url: &url,
        key: "test".into(),
        secret: "test".into(),
        token: None,
    };
    // `ebsim volume create` goes through the server's EC2 (with its per-volume grant).
    let cli_vol = ebsim
        .ok(&["volume", "create", "--size", "4MiB"])
        .trim()
        .to_owned();
    let listed = aws.ok(&["ec2", "describe-volumes", "--volume-ids", &cli_vol]);
    assert_eq!(listed["Volumes"][0]["State"], "available", "{listed}");
    assert_eq!(listed["Volumes"][0]["Encrypted"], true);
    let key = aws.ok(&["kms", "create-key"])["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = aws.ok(&[
        "ec2",
        "create-volume",
        "--size",
        "10",
        "--availability-zone",
        "us-west-2b",
        "--encrypted",
        "--kms-key-id",
        &key,
        "--volume-type",
        "gp3",
        "--iops",
        "4000",
        "--tag-specifications",
        "ResourceType=volume,Tags=[{Key=team,Value=db}]",
    ]);
    let vol = v["VolumeId"].as_str().unwrap().to_owned();
    assert_eq!(
        (v["Iops"].as_u64(), v["Throughput"].as_u64()),
        (Some(4000), Some(125)),
        "{v}"
    );
    let by_tag = aws.ok(&[
        "ec2",
        "describe-volumes",
        "--filters",
        "Name=tag:team,Values=db",
    ]);
    let ids: Vec<&str> = by_tag["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["VolumeId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [vol.as_str()]);
    let run = aws.ok(&[
        "ec2",
        "run-instances",
        "--image-id",
        "ami-0abcdef1",
        "--count",
        "1",
        "--placement",
        "AvailabilityZone=us-west-2b",
    ]);
    let inst = run["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_owned();
    aws.ok(&[
        "ec2",
        "attach-volume",
        "--volume-id",
        &vol,
        "--instance-id",
        &inst,
        "--device",
        "/dev/sdf",
    ]);
    let on = aws.ok(&[
        "ec2",
        "describe-volumes",
        "--filters",
        &format!("Name=attachment.instance-id,Values={inst}"),
    ]);
    // The volume and the instance's root volume (at /dev/xvda).
    let devices: Vec<(&str, &str)> = on["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["VolumeId"].as_str().unwrap(),
                v["Attachments"][0]["Device"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(devices.len(), 2, "{on}");
    assert!(devices.contains(&(vol.as_str(), "/dev/sdf")), "{on}");
    assert!(devices.iter().any(|(_, d)| *d == "/dev/xvda"), "{on}");
    let input = tmp.path().join("in.bin");
    std::fs::write(&input, b"through aws ec2 attach-volume").unwrap();
    ebsim.ok(&[
        "volume",
        "write",
        &vol,
        "--offset",
        "100",
        "--input",
        input.to_str().unwrap(),
    ]);
    let back = ebsim.output(&["volume", "read", &vol, "--offset", "100", "--length", "29"]);
    assert_eq!(back.stdout, b"through aws ec2 attach-volume");
    // `ebsim volume delete` goes through the server too: an attached volume is refused.
    let refused = ebsim.output(&["volume", "delete", &vol]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("VolumeInUse"),
        "{refused:?}"
    );
    ebsim.ok(&["volume", "delete", &cli_vol]);
    aws.fails(
        &["ec2", "describe-volumes", "--volume-ids", &cli_vol],
        "InvalidVolume.NotFound",
    );
    aws.fails(
        &[
            "ec2",
            "delete-volume",
            "--volume-id",
            "snap-0123456789abcdef0",
        ],
        "InvalidParameterValue",
    );
    aws.fails(
        &["ec2", "delete-volume", "--volume-id", "vol-1"],
        "InvalidVolumeID.Malformed",
    );
    aws.fails(
        &["ec2", "delete-volume", "--volume-id", &vol],
        "VolumeInUse",
    );
    aws.fails(
        &[
            "ec2",
            "create-volume",
            "--size",
            "1",
            "--availability-zone",
            "us-west-2a",
            "--no-encrypted",
            "--kms-key-id",
            &key,
        ],
        "InvalidParameterDependency",
    );
    let ebd = aws.ok(&["ec2", "enable-ebs-encryption-by-default"]);
    assert_eq!(ebd["EbsEncryptionByDefault"], true);
    let status = ebsim.ok(&["--json", "ebs", "encryption-by-default", "status"]);
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["ebs_encryption_by_default"], true, "{status}");
    assert_eq!(
        aws.ok(&["ec2", "get-ebs-default-kms-key-id"])["KmsKeyId"],
        "alias/aws/ebs"
    );
    ebsim.ok(&["ebs", "default-key", "set", &key]);
    assert_eq!(
        aws.ok(&["ec2", "get-ebs-default-kms-key-id"])["KmsKeyId"],
        key.as_str()
    );
    aws.ok(&["ec2", "detach-volume", "--volume-id", &vol]);
    aws.ok(&["ec2", "terminate-instances", "--instance-ids", &inst]);
    aws.ok(&["ec2", "delete-volume", "--volume-id", &vol]);
    assert!(server.stop().expect("stopped").success());
}
