//! `ebsim volume …` and `ebsim workspace …` end to end through the command line, against a KMS
//! endpoint (an ebsim-kms-server on 127.0.0.1:0 in front of the grant-aware KMS double of the
//! control-plane tests), with the data dir's service credential for the EBS identities.

#[path = "../crates/workspaces/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;

use support::{KmsDouble, Transport};

fn run(dir: &Path, url: &str, args: &[&str]) -> Result<(), ebsim::cli::CliError> {
    let mut argv = vec![
        "ebsim",
        "--data-dir",
        dir.to_str().unwrap_or_default(),
        "--kms-endpoint",
        url,
    ];
    argv.extend_from_slice(args);
    ebsim::cli::run(argv)
}

fn setup() -> (
    tempfile::TempDir,
    Arc<KmsDouble>,
    ebsim::kms_server::ServerHandle,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let kms = Arc::new(KmsDouble::default());
    let (_client, server) = support::client(&kms, Transport::Http);
    std::fs::create_dir_all(dir.path().join("kms")).expect("mkdir");
    std::fs::write(
        dir.path().join("kms/service-credential"),
        r#"{"AccessKeyId":"svc","SecretAccessKey":"svc-secret"}"#,
    )
    .expect("credential");
    (dir, kms, server.expect("server"))
}

fn volume_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("volumes"))
        .map(|r| {
            r.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn create_write_read_delete_through_the_cli() {
    let (dir, kms, server) = setup();
    let url = server.url();
    run(
        dir.path(),
        &url,
        &["volume", "create", "--size", "2MiB", "--sector-size", "512"],
    )
    .expect("create");
    let ids = volume_ids(dir.path());
    assert_eq!(ids.len(), 1);
    let vol = &ids[0];
    let input = dir.path().join("in.bin");
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&input, &data).expect("input");
    run(
        dir.path(),
        &url,
        &[
            "volume",
            "write",
            vol,
            "--offset",
            "777",
            "--input",
            input.to_str().unwrap_or_default(),
        ],
    )
    .expect("write");
    let output = dir.path().join("out.bin");
    run(
        dir.path(),
        &url,
        &[
            "volume",
            "read",
            vol,
            "--offset",
            "777",
            "--length",
            "10000",
            "--output",
            output.to_str().unwrap_or_default(),
        ],
    )
    .expect("read");
    assert_eq!(std::fs::read(&output).expect("output"), data);
    // Attach decrypted as the EC2 infrastructure session, through the service credential.
    let decrypts: Vec<_> = kms
        .0
        .lock()
        .expect("lock")
        .calls
        .iter()
        .filter(|c| c.0 == "Decrypt")
        .cloned()
        .collect();
    assert_eq!(decrypts.len(), 2);
    assert!(
        decrypts
            .iter()
            .all(|c| c.1.ends_with(&format!("aws:ec2-infrastructure/{vol}")))
    );

    let err = run(
        dir.path(),
        &url,
        &["volume", "read", vol, "--offset", "2MiB", "--length", "1"],
    )
    .expect_err("past the end");
    assert!(err.to_string().contains("passes the end"), "{err}");
    let err = run(dir.path(), &url, &["volume", "create", "--size", "1000"]).expect_err("bad size");
    assert!(
        err.to_string().contains("multiple of the sector size"),
        "{err}"
    );
    assert_eq!(
        volume_ids(dir.path()).len(),
        1,
        "nothing made by the failed create"
    );
    assert!(
        kms.grants().iter().filter(|g| !g.retired).count() == 1,
        "its grant was retired again"
    );

    run(dir.path(), &url, &["volume", "delete", vol]).expect("delete");
    assert!(volume_ids(dir.path()).is_empty());
    assert!(kms.grants().iter().all(|g| g.retired));
    let err = run(dir.path(), &url, &["volume", "describe", vol]).expect_err("gone");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn workspace_lifecycle_through_the_cli() {
    let (dir, kms, server) = setup();
    let url = server.url();
    run(
        dir.path(),
        &url,
        &[
            "workspace",
            "launch",
            "--user-sid",
            "S-1-5-21-1-2-3-1107",
            "--directory",
            "d-1234abcd01",
            "--root-size",
            "1MiB",
            "--user-size",
            "1MiB",
        ],
    )
    .expect("launch");
    let ws: Vec<String> = std::fs::read_dir(dir.path().join("workspaces"))
        .expect("records")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .collect();
    assert_eq!(ws.len(), 1);
    assert_eq!(volume_ids(dir.path()).len(), 2);
    run(dir.path(), &url, &["workspace", "reboot", &ws[0]]).expect("reboot");
    run(dir.path(), &url, &["workspace", "rebuild", &ws[0]]).expect("rebuild");
    run(dir.path(), &url, &["workspace", "terminate", &ws[0]]).expect("terminate");
    assert!(volume_ids(dir.path()).is_empty());
    assert!(kms.grants().iter().all(|g| g.retired));
    let err = run(dir.path(), &url, &["workspace", "reboot", &ws[0]]).expect_err("terminated");
    assert!(err.to_string().contains("terminated"), "{err}");
}
