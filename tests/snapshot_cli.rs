//! `ebsim snapshot …` and `ebsim volume create --snapshot` end to end: a snapshot of a volume
//! that `ebsim volume serve` holds attached in another process is copied through that process;
//! restores read back the same bytes; bad input exits 1 naming EC2's error code.

use ebsim_test_support::ebsim::Ebsim;

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).expect("json")
}

#[test]
fn snapshot_of_a_served_volume_copy_and_restore_through_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir.path());
    let kms = e.serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let vol = e
        .ok(&["volume", "create", "--size", "3MiB"])
        .trim()
        .to_owned();
    let data: Vec<u8> = (0..1_200_000u32).map(|i| (i * 31 % 253) as u8).collect();
    let input = dir.path().join("in.bin");
    std::fs::write(&input, &data).expect("input");
    e.ok(&[
        "volume",
        "write",
        &vol,
        "--offset",
        "5000",
        "--input",
        input.to_str().expect("path"),
    ]);

    // Attached by `volume serve`: the snapshot goes through its copy service.
    let served = e.serve(&["volume", "serve", &vol, "--listen", "127.0.0.1:0"]);
    let snap = json(&e.ok(&[
        "--json",
        "snapshot",
        "create",
        &vol,
        "--wait",
        "--description",
        "served",
    ]));
    assert_eq!(snap["state"], "completed");
    assert_eq!(snap["progress"], 100);
    assert_eq!(snap["block_count"], 3);
    assert_eq!(snap["description"], "served");
    let sid = snap["snapshot_id"].as_str().expect("id").to_owned();
    // A second one stores nothing new.
    let again = json(&e.ok(&["--json", "snapshot", "create", &vol, "--wait"]));
    assert_eq!(again["changed_blocks"], 0);
    assert_eq!(again["parent"], sid.as_str());
    served.stop();

    let listed = json(&e.ok(&["--json", "snapshot", "list"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    let key = json(&e.ok(&["--json", "key", "create"]))["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    let copy = json(&e.ok(&[
        "--json",
        "snapshot",
        "copy",
        &sid,
        "--kms-key-id",
        &key,
        "--wait",
    ]));
    assert_eq!(copy["kms_key_id"], key.as_str());
    let copy_id = copy["snapshot_id"].as_str().expect("id").to_owned();
    e.ok(&["snapshot", "delete", &sid]);
    let restored = e
        .ok(&["volume", "create", "--snapshot", &copy_id])
        .trim()
        .to_owned();
    let out = dir.path().join("out.bin");
    e.ok(&[
        "volume",
        "read",
        &restored,
        "--offset",
        "5000",
        "--length",
        "1200000",
        "--output",
        out.to_str().expect("path"),
    ]);
    assert_eq!(std::fs::read(&out).expect("out"), data);

    // Bad input: exit 1, EC2's code on stderr, nothing made.
    for (args, code) in [
        (
            vec!["snapshot", "describe", vol.as_str()],
            "InvalidSnapshotID.Malformed",
        ),
        (
            vec!["snapshot", "describe", "snap-0123456789abcdef0"],
            "InvalidSnapshot.NotFound",
        ),
        (
            vec!["snapshot", "create", copy_id.as_str()],
            "InvalidVolumeID.Malformed",
        ),
        (
            vec![
                "snapshot",
                "copy",
                copy_id.as_str(),
                "--source-region",
                "xx-nowhere-9",
            ],
            "InvalidParameterValue",
        ),
        (
            vec![
                "volume",
                "create",
                "--snapshot",
                copy_id.as_str(),
                "--size",
                "1MiB",
            ],
            "InvalidParameterValue",
        ),
    ] {
        let out = e.output(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(code), "{args:?}: {stderr}");
    }
    assert_eq!(
        json(&e.ok(&["--json", "snapshot", "list"]))
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    kms.stop();
}
