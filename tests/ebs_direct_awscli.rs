//! aws-cli's `aws ebs` against `ebsim serve` (docs/ebs-direct.md): a snapshot written with
//! start-snapshot, put-snapshot-block (the block from a file, botocore's UNSIGNED-PAYLOAD) and
//! complete-snapshot; listed and read back with list-snapshot-blocks and get-snapshot-block;
//! restored by `ebsim volume create --snapshot` and read through `ebsim volume read`; bad input
//! answered with AWS's codes.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::tools::Aws;
use sha2::Digest as _;

const BLOCK: usize = 524_288;

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn b64sha(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(data))
}

#[test]
fn aws_cli_ebs_direct_against_ebsim_serve() {
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
    let started = aws.ok(&["ebs", "start-snapshot", "--volume-size", "1", "--encrypted"]);
    assert_eq!(started["Status"], "pending", "{started}");
    assert!(
        started["KmsKeyArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:kms:")
    );
    let sid = started["SnapshotId"].as_str().unwrap().to_owned();
    let block: Vec<u8> = (0..BLOCK).map(|i| (i % 251) as u8 + 1).collect();
    let file = tmp.path().join("block");
    std::fs::write(&file, &block).unwrap();
    // A streaming blob: aws-cli takes a plain path.
    let blob = file.display().to_string();
    let sum = b64sha(&block);
    let put = |index: &str, checksum: &str| {
        vec![
            "ebs",
            "put-snapshot-block",
            "--snapshot-id",
            &sid,
            "--block-index",
            index,
            "--block-data",
            &blob,
            "--data-length",
            "524288",
            "--checksum",
            checksum,
            "--checksum-algorithm",
            "SHA256",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<String>>()
    };
    let p = put("2", &sum);
    assert_eq!(aws.ok(&args(&p))["Checksum"], sum.as_str());
    let bad_sum = put("3", &b64sha(b"other"));
    aws.fails(&args(&bad_sum), "ValidationException");
    let out_of_range = put("2048", &sum);
    aws.fails(&args(&out_of_range), "ValidationException");
    aws.ok(&[
        "ebs",
        "complete-snapshot",
        "--snapshot-id",
        &sid,
        "--changed-blocks-count",
        "1",
    ]);
    aws.fails(&args(&p), "ValidationException");
    let listed = aws.ok(&["ebs", "list-snapshot-blocks", "--snapshot-id", &sid]);
    let blocks = listed["Blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 1, "{listed}");
    assert_eq!(blocks[0]["BlockIndex"], 2);
    let token = blocks[0]["BlockToken"].as_str().unwrap();
    let outfile = tmp.path().join("out");
    let got = aws.ok(&[
        "ebs",
        "get-snapshot-block",
        "--snapshot-id",
        &sid,
        "--block-index",
        "2",
        "--block-token",
        token,
        outfile.to_str().unwrap(),
    ]);
    assert_eq!(got["Checksum"], sum.as_str(), "{got}");
    assert_eq!(std::fs::read(&outfile).unwrap(), block);
    aws.fails(
        &[
            "ebs",
            "get-snapshot-block",
            "--snapshot-id",
            &sid,
            "--block-index",
            "2",
            "--block-token",
            "AAAA",
            outfile.to_str().unwrap(),
        ],
        "ValidationException",
    );
    aws.fails(
        &[
            "ebs",
            "list-snapshot-blocks",
            "--snapshot-id",
            "snap-0123456789abcdef0",
        ],
        "ResourceNotFoundException",
    );
    let d = aws.ok(&["ec2", "describe-snapshots", "--snapshot-ids", &sid]);
    assert_eq!(d["Snapshots"][0]["State"], "completed", "{d}");
    // Restored by the CLI, read back through the CLI.
    let vol = ebsim
        .ok(&["volume", "create", "--snapshot", &sid])
        .trim()
        .to_owned();
    let read = ebsim.output(&[
        "volume",
        "read",
        &vol,
        "--offset",
        &(2 * BLOCK).to_string(),
        "--length",
        &BLOCK.to_string(),
    ]);
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert_eq!(read.stdout, block);
    let status = server.stop().expect("server stopped");
    assert!(status.success());
}
