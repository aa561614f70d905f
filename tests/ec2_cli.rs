//! `ebsim ebs …` and `ebsim volume create` with no server (the EC2 service opened in the
//! command's process), then `ebsim serve` taking the EC2 state over: the setting persists,
//! the volume the CLI made is adopted into the EC2 state, and `ebsim volume delete` of a
//! volume the EC2 state has attached is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_test_support::ebsim::Ebsim;
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn ebs_settings_and_volumes_without_then_with_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let status = json(&ebsim.ok(&["--json", "ebs", "encryption-by-default", "status"]));
    assert_eq!(status["ebs_encryption_by_default"], false, "{status}");
    ebsim.ok(&["ebs", "encryption-by-default", "enable"]);
    let east = json(&ebsim.ok(&[
        "--json",
        "--region",
        "us-east-1",
        "ebs",
        "encryption-by-default",
        "status",
    ]));
    assert_eq!(
        east["ebs_encryption_by_default"], false,
        "per region: {east}"
    );
    assert_eq!(
        ebsim.ok(&["ebs", "default-key", "show"]).trim(),
        "alias/aws/ebs"
    );
    let bad = ebsim.output(&["ebs", "default-key", "set", "alias/missing"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("InvalidParameterValue"),
        "{bad:?}"
    );
    let vol = ebsim
        .ok(&["volume", "create", "--size", "1MiB"])
        .trim()
        .to_owned();
    let state_file = data.join("ec2/state.json");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&state_file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let server = ebsim.serve(&["serve", "--listen", "127.0.0.1:0"]);
    let status = json(&ebsim.ok(&["--json", "ebs", "encryption-by-default", "status"]));
    assert_eq!(status["ebs_encryption_by_default"], true, "{status}");
    let served = ebsim
        .ok(&["volume", "create", "--size", "2MiB"])
        .trim()
        .to_owned();
    // A volume restored from a snapshot through the server is EC2's, with its snapshot id.
    let snap = json(&ebsim.ok(&["--json", "snapshot", "create", &served, "--wait"]));
    let snap_id = snap["snapshot_id"].as_str().unwrap().to_owned();
    let restored = ebsim
        .ok(&["volume", "create", "--snapshot", &snap_id, "--size", "4MiB"])
        .trim()
        .to_owned();
    let meta = json(&ebsim.ok(&["--json", "volume", "describe", &restored]));
    assert_eq!(meta["size_bytes"], 4 << 20, "{meta}");
    ebsim.ok(&["ebs", "encryption-by-default", "disable"]);
    assert!(server.stop().expect("stopped").success());

    let state = json(&std::fs::read_to_string(&state_file).unwrap());
    let scope = &state["scopes"]["111122223333/us-west-2"];
    assert_eq!(scope["encryption_by_default"]["enabled"], false, "{state}");
    for id in [&vol, &served, &restored] {
        assert_eq!(scope["volumes"][id]["status"], "available", "{id}: {state}");
        assert_eq!(scope["volumes"][id]["encrypted"], true);
    }
    assert_eq!(scope["volumes"][&restored]["snapshot_id"], snap_id.as_str());
    // An attachment the EC2 state records keeps `ebsim volume delete` off the volume.
    let mut edited = state.clone();
    edited["scopes"]["111122223333/us-west-2"]["volumes"][&vol]["attachment"] = serde_json::json!({
        "instance_id": "i-0123456789abcdef0", "device": "/dev/sdf",
        "attach_time": "2026-01-01T00:00:00.000Z", "delete_on_termination": false
    });
    std::fs::write(&state_file, serde_json::to_vec(&edited).unwrap()).unwrap();
    let refused = ebsim.output(&["volume", "delete", &vol]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("VolumeInUse"),
        "{refused:?}"
    );
    assert!(data.join("volumes").join(&vol).is_dir());
    ebsim.ok(&["volume", "delete", &served]);
    assert!(!data.join("volumes").join(&served).exists());
}
