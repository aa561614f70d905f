//! The S3-compatible snapshot store against moto's S3 server on loopback:
//! `--snapshot-store s3://bucket/prefix`, endpoint and credentials from the AWS variables.
#![cfg(feature = "external-tools")]

use std::process::Command;

use ebsim_test_support::ebsim::{Ebsim, ok};
use ebsim_test_support::process::Moto;

fn python(moto: &Moto, script: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("python3");
    ok(&out, "python3 boto3")
}

/// The object keys of the bucket.
fn keys(moto: &Moto) -> Vec<String> {
    python(
        moto,
        "import boto3\nfor o in boto3.client('s3').list_objects_v2(Bucket='snaps').get('Contents', []): print(o['Key'])",
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

#[test]
fn snapshots_in_an_s3_bucket_on_moto() {
    let moto = Moto::start();
    python(
        &moto,
        "import boto3; boto3.client('s3').create_bucket(Bucket='snaps')",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let e = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir.path());
    let run = |args: &[&str]| {
        let mut c = e.command(args);
        c.env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("EBSIM_SNAPSHOT_STORE", "s3://snaps/team/a");
        ok(&c.output().expect("ebsim"), &format!("ebsim {args:?}"))
    };
    let vol = e
        .ok(&["volume", "create", "--size", "2MiB"])
        .trim()
        .to_owned();
    let data: Vec<u8> = (0..700_000u32).map(|i| (i * 13 % 241) as u8).collect();
    let input = dir.path().join("in.bin");
    std::fs::write(&input, &data).expect("input");
    e.ok(&[
        "volume",
        "write",
        &vol,
        "--input",
        input.to_str().expect("path"),
    ]);
    let snap: serde_json::Value =
        serde_json::from_str(&run(&["--json", "snapshot", "create", &vol, "--wait"]))
            .expect("json");
    assert_eq!(snap["state"], "completed");
    let sid = snap["snapshot_id"].as_str().expect("id").to_owned();
    let objects = keys(&moto);
    assert_eq!(
        objects
            .iter()
            .filter(|k| k.starts_with("team/a/blocks/"))
            .count(),
        2,
        "{objects:?}"
    );
    assert!(
        objects.contains(&format!("team/a/manifests/{sid}.json")),
        "{objects:?}"
    );
    // Nothing of it in the data dir.
    assert!(
        std::fs::read_dir(dir.path().join("snapshots/blocks"))
            .expect("dir")
            .next()
            .is_none()
    );
    assert!(run(&["snapshot", "list"]).contains(&sid));
    let restored = run(&["volume", "create", "--snapshot", &sid])
        .trim()
        .to_owned();
    let out = dir.path().join("out.bin");
    e.ok(&[
        "volume",
        "read",
        &restored,
        "--length",
        "700000",
        "--output",
        out.to_str().expect("path"),
    ]);
    assert_eq!(std::fs::read(&out).expect("out"), data);
    run(&["snapshot", "delete", &sid]);
    assert!(keys(&moto).is_empty(), "everything removed");
}
