//! `ebsim volume …` and `ebsim workspace …` end to end through the command line, against a KMS
//! endpoint (an ebsim-kms-server on 127.0.0.1:0 in front of the grant-aware KMS double of the
//! control-plane tests), with the data dir's service credential for the EBS identities.

use std::path::Path;

use ebsim_test_support::ebsim::Cli;
use ebsim_test_support::kms_double::served_data_dir;

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
    let (dir, kms, server) = served_data_dir();
    let cli = Cli::new(dir.path()).kms_endpoint(server.url());
    cli.run(&["volume", "create", "--size", "2MiB", "--sector-size", "512"])
        .expect("create");
    let ids = volume_ids(dir.path());
    assert_eq!(ids.len(), 1);
    let vol = &ids[0];
    let input = dir.path().join("in.bin");
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&input, &data).expect("input");
    cli.run(&[
        "volume",
        "write",
        vol,
        "--offset",
        "777",
        "--input",
        input.to_str().unwrap_or_default(),
    ])
    .expect("write");
    let output = dir.path().join("out.bin");
    cli.run(&[
        "volume",
        "read",
        vol,
        "--offset",
        "777",
        "--length",
        "10000",
        "--output",
        output.to_str().unwrap_or_default(),
    ])
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

    let err = cli
        .run(&["volume", "read", vol, "--offset", "2MiB", "--length", "1"])
        .expect_err("past the end");
    assert!(err.to_string().contains("passes the end"), "{err}");
    let err = cli
        .run(&["volume", "create", "--size", "1000"])
        .expect_err("bad size");
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

    cli.run(&["volume", "delete", vol]).expect("delete");
    assert!(volume_ids(dir.path()).is_empty());
    assert!(kms.grants().iter().all(|g| g.retired));
    let err = cli.run(&["volume", "describe", vol]).expect_err("gone");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn workspace_lifecycle_through_the_cli() {
    let (dir, kms, server) = served_data_dir();
    let cli = Cli::new(dir.path()).kms_endpoint(server.url());
    cli.run(&[
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
    ])
    .expect("launch");
    let ws: Vec<String> = std::fs::read_dir(dir.path().join("workspaces"))
        .expect("records")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .collect();
    assert_eq!(ws.len(), 1);
    assert_eq!(volume_ids(dir.path()).len(), 2);
    cli.run(&["workspace", "reboot", &ws[0]]).expect("reboot");
    cli.run(&["workspace", "rebuild", &ws[0]]).expect("rebuild");
    cli.run(&["workspace", "terminate", &ws[0]])
        .expect("terminate");
    assert!(volume_ids(dir.path()).is_empty());
    assert!(kms.grants().iter().all(|g| g.retired));
    let err = cli
        .run(&["workspace", "reboot", &ws[0]])
        .expect_err("terminated");
    assert!(err.to_string().contains("terminated"), "{err}");
}

#[test]
fn serve_refuses_non_loopback_and_unknown_volumes() {
    let (dir, _kms, server) = served_data_dir();
    let cli = Cli::new(dir.path()).kms_endpoint(server.url());
    let err = cli
        .run(&[
            "volume",
            "serve",
            "vol-0123456789abcdef0",
            "--listen",
            "0.0.0.0:0",
        ])
        .expect_err("non-loopback refused");
    assert!(err.to_string().contains("--allow-remote"), "{err}");
    assert!(
        matches!(err, ebsim::cli::CliError::InvalidArgument(_)),
        "{err:?}"
    );
    let err = cli
        .run(&[
            "volume",
            "serve",
            "vol-0123456789abcdef0",
            "--listen",
            "127.0.0.1:0",
        ])
        .expect_err("unknown volume refused");
    assert!(err.to_string().contains("vol-0123456789abcdef0"), "{err}");
    cli.ok(&["volume", "create", "--size", "1MiB"]);
    let vol = volume_ids(dir.path()).pop().expect("one volume");
    let err = cli
        .run(&["volume", "serve", &vol, &vol, "--listen", "127.0.0.1:0"])
        .expect_err("a volume named twice is refused");
    assert!(err.to_string().contains("twice"), "{err}");
}

/// `volume read --output FILE --json` describes the read in one JSON line; an output that
/// cannot be written fails before the volume is attached (no Decrypt in the trail).
#[test]
fn read_to_a_file_prints_json_and_checks_the_file_first() {
    use ebsim_test_support::ebsim::Ebsim;
    let dir = tempfile::tempdir().expect("tempdir");
    let e = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir.path().join("d"));
    e.ok(&["volume", "create", "--size", "1MiB"]);
    let ids = volume_ids(&dir.path().join("d"));
    let vol = ids[0].as_str();
    let out = dir.path().join("out.bin");
    let line = e.ok(&[
        "--json",
        "volume",
        "read",
        vol,
        "--offset",
        "10",
        "--length",
        "100",
        "--output",
        out.to_str().expect("utf-8"),
    ]);
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    assert_eq!(
        v,
        serde_json::json!({"volume_id": vol, "offset": 10, "length": 100,
            "output": out.to_str().expect("utf-8")})
    );
    assert_eq!(std::fs::read(&out).expect("output"), vec![0u8; 100]);
    let decrypts = |e: &Ebsim| {
        e.ok(&["--json", "audit"])
            .lines()
            .filter(|l| l.contains("\"eventName\":\"Decrypt\""))
            .count()
    };
    let before = decrypts(&e);
    assert!(before >= 1, "the read above attached the volume");
    let bad = dir.path().join("missing-dir").join("x.bin");
    let o = e.output(&[
        "volume",
        "read",
        vol,
        "--length",
        "1",
        "--output",
        bad.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot write"));
    assert_eq!(
        decrypts(&e),
        before,
        "the volume was attached before the output was checked"
    );
}
