//! A data dir written by an earlier build opens with the current code.
//!
//! `tests/data/datadir-v1/` holds what the `ebsim` command line left in a data dir:
//! `kms/state.json` (two keys — one with a tag, an on-demand rotation and 90-day automatic
//! rotation, one with a custom key policy —, the alias `alias/fixture`, a named grant, and the
//! grant `volume create` makes for its volume), `kms/service-credential`, and one 64 KiB
//! encrypted volume (`volumes/<vol-id>/metadata.json` + `data.img`) holding [`known_bytes`]
//! at [`OFFSET`], written before the key was rotated (so reading it needs the older key
//! material). `tests/data/datadir-v1.json` names what the generator made (key ids, alias,
//! grant id, volume id, the policy).
//!
//! A second test saves the fixture as a state, resets the data dir and restores the state
//! (`ebsim state save|reset|restore`), and reads the known bytes back again.
//!
//! The test copies the fixture into a temporary data dir (git keeps no file modes: the copy
//! gets 0700 directories and 0600 files, as the code writes them), then lists and describes
//! the keys, alias, grant, tags, rotation and policy through `ebsim --data-dir`, and reads the
//! known bytes back from the volume.
//!
//! The generator is the ignored test [`generate_datadir_fixture`]; it overwrites the fixture
//! and is only for a new fixture version (copy it to `datadir-v2` and keep v1 as it is):
//!
//! ```text
//! cargo test -p ebsim --test datadir_fixture -- --ignored generate_datadir_fixture
//! ```
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// Where in the volume the known bytes are (across the first 4 KiB sector boundary).
const OFFSET: u64 = 4000;
/// How many known bytes.
const LENGTH: usize = 300;
const GRANTEE: &str = "arn:aws:iam::111122223333:user/fixture-reader";

/// The bytes the generator wrote at [`OFFSET`].
fn known_bytes() -> Vec<u8> {
    let mut b = b"ebsim datadir fixture v1: known bytes at offset 4000, across a sector boundary. "
        .to_vec();
    let mut i: u32 = 0;
    while b.len() < LENGTH {
        b.push((i.wrapping_mul(7).wrapping_add(3) % 256) as u8);
        i += 1;
    }
    b
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/datadir-v1")
}

fn manifest_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/datadir-v1.json")
}

/// Runs `ebsim --data-dir DIR [--json] ARGS…`; returns stdout, panicking with stderr on
/// failure.
fn ebsim(dir: &Path, json: bool, args: &[&str]) -> Vec<u8> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ebsim"));
    cmd.arg("--data-dir").arg(dir);
    if json {
        cmd.arg("--json");
    }
    let out = cmd
        .args(args)
        .env_remove("EBSIM_KMS_ENDPOINT")
        .env_remove("EBSIM_PRINCIPAL")
        .env_remove("EBSIM_DATA_DIR")
        .output()
        .unwrap_or_else(|e| panic!("running ebsim {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ebsim {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn ebsim_json(dir: &Path, args: &[&str]) -> Value {
    let out = ebsim(dir, true, args);
    serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "ebsim {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out)
        )
    })
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str().unwrap_or_else(|| panic!("{what}: not a string"))
}

/// Copies `from` into `to` with the modes the code writes: 0700 directories, 0600 files.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
}

#[test]
fn the_datadir_fixture_opens_with_the_current_code() {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(manifest_path()).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    copy_tree(&fixture(), &dir);
    let key_a = str_of(&manifest["key_a"], "key_a");
    let key_b = str_of(&manifest["key_b"], "key_b");
    let vol = str_of(&manifest["volume_id"], "volume_id");
    let grant_id = str_of(&manifest["grant_id"], "grant_id");

    let keys = ebsim_json(&dir, &["key", "list"]);
    let ids: Vec<&str> = keys["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["KeyId"].as_str())
        .collect();
    assert!(
        ids.contains(&key_a) && ids.contains(&key_b),
        "{ids:?} lacks a fixture key"
    );
    // Written before regions and accounts existed: its keys are us-west-2's, of 111122223333.
    assert!(
        keys["Keys"].as_array().unwrap().iter().all(|k| k["KeyArn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:kms:us-west-2:111122223333:key/"))),
        "{keys}"
    );
    let east = ebsim_json(&dir, &["--region", "us-east-1", "key", "list"]);
    assert_eq!(east["Keys"], json!([]), "{east}");

    let a = ebsim_json(&dir, &["key", "describe", "alias/fixture"]);
    assert_eq!(a["KeyMetadata"]["KeyId"], json!(key_a));
    assert_eq!(a["KeyMetadata"]["Description"], json!("fixture key a"));
    assert_eq!(a["KeyMetadata"]["KeyState"], json!("Enabled"));
    let rotation = ebsim_json(&dir, &["key", "rotation-status", key_a]);
    assert_eq!(rotation["KeyRotationEnabled"], json!(true));
    assert_eq!(rotation["RotationPeriodInDays"], json!(90));
    // The CLI runs on the wall clock: once the fixture's next rotation date has passed,
    // opening the data dir rotates the key (and moves the date on).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let next = rotation["NextRotationDate"].as_f64().unwrap();
    assert!(next > now, "next rotation {next} is not after now {now}");
    let due = manifest["key_a_next_rotation"].as_f64().unwrap();
    let current = &a["KeyMetadata"]["CurrentKeyMaterialId"];
    if due > now {
        assert_eq!(
            current, &manifest["key_a_current_material"],
            "the current material after the on-demand rotation"
        );
        assert_eq!(next, due);
    } else {
        assert_ne!(
            current, &manifest["key_a_current_material"],
            "rotated on open"
        );
    }
    let tags = ebsim_json(&dir, &["key", "tags", key_a]);
    assert_eq!(
        tags["Tags"],
        json!([{"TagKey": "purpose", "TagValue": "fixture"}])
    );

    let b = ebsim_json(&dir, &["key", "describe", key_b]);
    assert_eq!(b["KeyMetadata"]["Description"], json!("fixture key b"));
    let policy = ebsim_json(&dir, &["key", "policy", "get", key_b]);
    assert_eq!(policy["Policy"], manifest["key_b_policy"]);

    let aliases = ebsim_json(&dir, &["alias", "list"]);
    let alias = aliases["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["AliasName"] == "alias/fixture")
        .cloned()
        .unwrap_or_else(|| panic!("no alias/fixture in {aliases}"));
    assert_eq!(alias["TargetKeyId"], json!(key_a));

    let grants = ebsim_json(&dir, &["grant", "list", key_a]);
    let grants = grants["Grants"].as_array().unwrap();
    let named = grants
        .iter()
        .find(|g| g["GrantId"] == grant_id)
        .unwrap_or_else(|| panic!("grant {grant_id} missing from {grants:?}"));
    assert_eq!(named["Name"], json!("fixture-grant"));
    assert_eq!(named["GranteePrincipal"], json!(GRANTEE));
    assert_eq!(named["Operations"], json!(["Decrypt", "DescribeKey"]));
    assert_eq!(
        named["Constraints"],
        json!({"EncryptionContextSubset": {"purpose": "fixture"}})
    );
    let volume = ebsim_json(&dir, &["volume", "describe", vol]);
    assert!(
        grants.iter().any(|g| g["GrantId"] == volume["grant_id"]),
        "the volume's grant is on the key"
    );
    assert_eq!(volume["size_bytes"], json!(65536));
    assert_eq!(volume["kms_key_arn"], a["KeyMetadata"]["Arn"]);

    assert_eq!(read_known(&dir, vol, tmp.path()), known_bytes());
    // The loaded rotation schedule runs: 91 simulated days later the key has rotated, and
    // the volume (its data key wrapped under the first material) still reads.
    ebsim(&dir, true, &["clock", "advance", "91"]);
    let later = ebsim_json(&dir, &["key", "describe", key_a]);
    assert_ne!(
        later["KeyMetadata"]["CurrentKeyMaterialId"],
        a["KeyMetadata"]["CurrentKeyMaterialId"]
    );
    assert_eq!(read_known(&dir, vol, tmp.path()), known_bytes());
    let image = std::fs::read(dir.join("volumes").join(vol).join("data.img")).unwrap();
    assert_eq!(image.len(), 65536);
    assert!(
        !image.windows(24).any(|w| w == &known_bytes()[..24]),
        "data.img holds the known bytes in the clear"
    );
}

/// Migration: the fixture, saved as a state, reset and restored, gives its keys, alias and
/// known bytes back.
#[test]
fn the_datadir_fixture_survives_save_reset_restore() {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(manifest_path()).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    copy_tree(&fixture(), &dir);
    let key_a = str_of(&manifest["key_a"], "key_a");
    let key_b = str_of(&manifest["key_b"], "key_b");
    let vol = str_of(&manifest["volume_id"], "volume_id");
    let key_list = |dir: &Path| -> Vec<String> {
        ebsim_json(dir, &["key", "list"])["Keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["KeyId"].as_str().map(str::to_owned))
            .collect()
    };

    ebsim(&dir, false, &["state", "save", "fixture"]);
    ebsim(&dir, false, &["state", "reset"]);
    assert!(key_list(&dir).is_empty(), "the reset left keys");
    assert_eq!(ebsim_json(&dir, &["volume", "list"]), json!([]));
    assert!(
        dir.join("kms/service-credential").exists(),
        "the service credential survives a reset"
    );

    ebsim(&dir, false, &["state", "restore", "fixture"]);
    let ids = key_list(&dir);
    assert!(
        ids.iter().any(|k| k == key_a) && ids.iter().any(|k| k == key_b),
        "{ids:?} lacks a fixture key"
    );
    let a = ebsim_json(&dir, &["key", "describe", "alias/fixture"]);
    assert_eq!(a["KeyMetadata"]["KeyId"], json!(key_a));
    assert_eq!(
        a["KeyMetadata"]["Arn"],
        json!(format!("arn:aws:kms:us-west-2:111122223333:key/{key_a}"))
    );
    assert_eq!(read_known(&dir, vol, tmp.path()), known_bytes());
}

/// `ebsim volume read` of the known bytes.
fn read_known(dir: &Path, vol: &str, scratch: &Path) -> Vec<u8> {
    let out = scratch.join("read.bin");
    ebsim(
        dir,
        false,
        &[
            "volume",
            "read",
            vol,
            "--offset",
            &OFFSET.to_string(),
            "--length",
            &LENGTH.to_string(),
            "--output",
            out.to_str().unwrap(),
        ],
    );
    std::fs::read(&out).unwrap()
}

/// Writes the fixture with the current build (see the module documentation).
#[test]
#[ignore = "writes tests/data/datadir-v1; run by hand for a new fixture version"]
fn generate_datadir_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let key_a = ebsim_json(
        &dir,
        &[
            "key",
            "create",
            "--description",
            "fixture key a",
            "--tag",
            "purpose=fixture",
        ],
    );
    let key_a = str_of(&key_a["KeyMetadata"]["KeyId"], "key a").to_owned();
    let policy = serde_json::to_string_pretty(&json!({
        "Version": "2012-10-17",
        "Id": "fixture-policy",
        "Statement": [
            {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "FixtureReader", "Effect": "Allow", "Principal": {"AWS": GRANTEE},
             "Action": ["kms:DescribeKey", "kms:Decrypt"], "Resource": "*"}
        ]
    }))
    .unwrap();
    let policy_file = tmp.path().join("policy.json");
    std::fs::write(&policy_file, &policy).unwrap();
    let key_b = ebsim_json(
        &dir,
        &[
            "key",
            "create",
            "--description",
            "fixture key b",
            "--policy-file",
            policy_file.to_str().unwrap(),
        ],
    );
    let key_b = str_of(&key_b["KeyMetadata"]["KeyId"], "key b").to_owned();
    ebsim(&dir, true, &["alias", "create", "alias/fixture", &key_a]);
    let grant = ebsim_json(
        &dir,
        &[
            "grant",
            "create",
            &key_a,
            "--grantee",
            GRANTEE,
            "--operations",
            "Decrypt,DescribeKey",
            "--subset",
            "purpose=fixture",
            "--name",
            "fixture-grant",
        ],
    );
    let grant_id = str_of(&grant["GrantId"], "grant id").to_owned();
    let volume = ebsim_json(
        &dir,
        &[
            "volume",
            "create",
            "--size",
            "64KiB",
            "--key",
            "alias/fixture",
        ],
    );
    let vol = str_of(&volume["volume_id"], "volume id").to_owned();
    let input = tmp.path().join("known.bin");
    std::fs::write(&input, known_bytes()).unwrap();
    ebsim(
        &dir,
        false,
        &[
            "volume",
            "write",
            &vol,
            "--offset",
            &OFFSET.to_string(),
            "--input",
            input.to_str().unwrap(),
        ],
    );
    // Rotated after the volume's data key was wrapped: reading needs the older material.
    ebsim(&dir, true, &["key", "rotate", &key_a]);
    ebsim(
        &dir,
        true,
        &["key", "enable-rotation", &key_a, "--period-days", "90"],
    );
    let a = ebsim_json(&dir, &["key", "describe", &key_a]);
    let rotation = ebsim_json(&dir, &["key", "rotation-status", &key_a]);
    let stored_policy = ebsim_json(&dir, &["key", "policy", "get", &key_b]);

    let target = fixture();
    if target.exists() {
        std::fs::remove_dir_all(&target).unwrap();
    }
    for file in ["kms/state.json", "kms/service-credential"] {
        copy_file(&dir.join(file), &target.join(file));
    }
    for file in ["metadata.json", "data.img"] {
        let rel = Path::new("volumes").join(&vol).join(file);
        copy_file(&dir.join(&rel), &target.join(&rel));
    }
    let manifest = json!({
        "about": "what tests/datadir_fixture.rs generate_datadir_fixture made in datadir-v1/",
        "key_a": key_a,
        "key_a_current_material": a["KeyMetadata"]["CurrentKeyMaterialId"],
        "key_a_next_rotation": rotation["NextRotationDate"],
        "key_b": key_b,
        "key_b_policy": stored_policy["Policy"],
        "alias": "alias/fixture",
        "grant_id": grant_id,
        "volume_id": vol,
        "known_bytes_offset": OFFSET,
        "known_bytes_length": LENGTH,
    });
    std::fs::write(
        manifest_path(),
        serde_json::to_string_pretty(&manifest).unwrap() + "\n",
    )
    .unwrap();
}

fn copy_file(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}
