//! The files side of a reset and of saved states: names, volume locks, what a reset removes
//! and keeps, and save → change → restore giving the same files back.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;

use ebsim_data_dir::{
    DataDir, ExclusiveLock, RESOURCE_DIRS, StateError, StateName, VolumeLocks, clear_resources,
    delete_state, list_states, read_saved_kms_state, save_state, stage_restore,
};

const VOL: &str = "vol-0123456789abcdef0";
const IMAGE_SIZE: u64 = 32 * 1024 * 1024;

fn name(n: &str) -> StateName {
    StateName::parse(n).unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A data dir with a KMS state, a service credential, an endpoint record, an audit file,
/// one sparse volume holding `marker` and one WorkSpace record.
fn populated(marker: &[u8]) -> (tempfile::TempDir, DataDir) {
    let tmp = tempfile::tempdir().unwrap();
    let d = DataDir::new(tmp.path());
    std::fs::create_dir_all(d.kms()).unwrap();
    std::fs::write(d.kms_state(), b"{\"format\":1}").unwrap();
    std::fs::write(d.service_credential(), b"credential").unwrap();
    std::fs::write(d.kms_endpoint(), b"http://127.0.0.1:1\n").unwrap();
    std::fs::create_dir_all(d.audit()).unwrap();
    std::fs::write(d.audit_log(), b"{}\n").unwrap();
    std::fs::create_dir_all(d.volume(VOL)).unwrap();
    std::fs::write(d.volume_metadata(VOL), b"{\"volume_id\":\"vol\"}").unwrap();
    std::fs::write(d.volume_lock(VOL), b"").unwrap();
    let img = std::fs::File::create(d.volume_data(VOL)).unwrap();
    img.set_len(IMAGE_SIZE).unwrap();
    img.write_all_at(marker, 20 * 1024 * 1024).unwrap();
    std::fs::create_dir_all(d.workspaces()).unwrap();
    std::fs::write(d.workspaces().join("ws-1.json"), marker).unwrap();
    (tmp, d)
}

#[test]
fn state_names_follow_the_rule() {
    for good in [
        "a",
        "fixture",
        "v1.2_final-3",
        ".hidden",
        "...",
        &"x".repeat(64),
    ] {
        assert!(StateName::parse(good).is_ok(), "{good:?}");
    }
    for bad in [
        "",
        ".",
        "..",
        "a/b",
        "../x",
        "a b",
        "naïve",
        "a~b",
        "x\0",
        &"x".repeat(65),
    ] {
        assert!(StateName::parse(bad).is_err(), "{bad:?}");
    }
    let msg = StateName::parse("a/b").unwrap_err().to_string();
    assert!(msg.contains("1 to 64 characters"), "{msg}");
}

#[test]
fn an_attached_volume_is_named_and_its_lock_is_left_alone() {
    let (_tmp, d) = populated(b"x");
    let attached = ExclusiveLock::try_acquire(&d.volume_lock(VOL)).unwrap();
    match VolumeLocks::acquire_all(&d) {
        Err(StateError::Attached { volume_id }) => assert_eq!(volume_id, VOL),
        other => panic!("expected Attached, got {other:?}"),
    }
    drop(attached);
    let locks = VolumeLocks::acquire_all(&d).unwrap();
    assert_eq!(locks.len(), 1);
    assert!(
        ExclusiveLock::try_acquire(&d.volume_lock(VOL)).is_err(),
        "held until dropped: no attach meanwhile"
    );
    drop(locks);
    assert!(ExclusiveLock::try_acquire(&d.volume_lock(VOL)).is_ok());
    let empty = tempfile::tempdir().unwrap();
    assert!(
        VolumeLocks::acquire_all(&DataDir::new(empty.path()))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_reset_removes_the_resources_and_keeps_the_rest() {
    let (_tmp, d) = populated(b"x");
    std::fs::create_dir_all(d.root().join("snapshots/snap-1")).unwrap();
    save_state(&d, &name("kept"), b"{}").unwrap();
    // What a crash in an earlier reset would have left.
    std::fs::create_dir_all(d.root().join(".discarded~1-2-3/volumes")).unwrap();
    clear_resources(&d).unwrap();
    for res in RESOURCE_DIRS {
        assert!(!d.root().join(res).exists(), "{res} is gone");
    }
    assert!(!d.root().join(".discarded~1-2-3").exists());
    assert_eq!(
        std::fs::read(d.service_credential()).unwrap(),
        b"credential"
    );
    assert!(d.kms_endpoint().exists());
    assert!(d.kms_state().exists(), "the KMS rewrites its own state");
    assert!(d.audit_log().exists(), "the KMS clears its own audit trail");
    assert!(d.state(&name("kept")).join("volumes").is_dir());
    clear_resources(&d).unwrap();
}

#[test]
fn save_then_restore_gives_the_same_files_back_with_holes() {
    let (_tmp, d) = populated(b"saved bytes");
    save_state(&d, &name("one"), b"{\"saved\":1}").unwrap();
    let saved = d.state(&name("one"));
    assert_eq!(mode(&d.states()), 0o700);
    assert_eq!(mode(&saved), 0o700);
    assert_eq!(mode(&saved.join("volumes").join(VOL)), 0o700);
    assert_eq!(mode(&saved.join("kms/state.json")), 0o600);
    let image = saved.join("volumes").join(VOL).join("data.img");
    assert_eq!(mode(&image), 0o600);
    assert_eq!(std::fs::metadata(&image).unwrap().len(), IMAGE_SIZE);
    assert!(
        std::fs::metadata(&image).unwrap().blocks() * 512 < 1024 * 1024,
        "the saved image keeps its holes"
    );
    assert!(
        !saved.join("kms/service-credential").exists(),
        "the credential is not part of a state"
    );
    assert_eq!(
        read_saved_kms_state(&d, &name("one")).unwrap().as_slice(),
        b"{\"saved\":1}"
    );

    // Change everything, then restore.
    let before = std::fs::read(d.volume_data(VOL)).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(d.volume_data(VOL))
        .unwrap()
        .write_all_at(b"changed", 20 * 1024 * 1024)
        .unwrap();
    std::fs::write(d.workspaces().join("ws-2.json"), b"new").unwrap();
    std::fs::create_dir_all(d.volume("vol-0000000000000000a")).unwrap();
    let staged = stage_restore(&d, &name("one")).unwrap();
    assert_ne!(
        std::fs::read(d.volume_data(VOL)).unwrap(),
        before,
        "nothing changes until the commit"
    );
    staged.commit().unwrap();
    assert_eq!(std::fs::read(d.volume_data(VOL)).unwrap(), before);
    assert!(std::fs::metadata(d.volume_data(VOL)).unwrap().blocks() * 512 < 1024 * 1024);
    assert!(!d.volume("vol-0000000000000000a").exists());
    assert!(!d.workspaces().join("ws-2.json").exists());
    assert_eq!(
        std::fs::read(d.workspaces().join("ws-1.json")).unwrap(),
        b"saved bytes"
    );
    let leftovers: Vec<_> = std::fs::read_dir(d.root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains('~'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_dropped_restore_changes_nothing() {
    let (_tmp, d) = populated(b"a");
    save_state(&d, &name("one"), b"{}").unwrap();
    std::fs::write(d.workspaces().join("ws-1.json"), b"b").unwrap();
    drop(stage_restore(&d, &name("one")).unwrap());
    assert_eq!(
        std::fs::read(d.workspaces().join("ws-1.json")).unwrap(),
        b"b"
    );
    let names: Vec<_> = std::fs::read_dir(d.root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains('~')), "{names:?}");
}

#[test]
fn states_are_listed_replaced_and_deleted_by_name() {
    let (_tmp, d) = populated(b"a");
    assert!(list_states(&d).unwrap().is_empty());
    save_state(&d, &name("b"), b"{\"v\":1}").unwrap();
    save_state(&d, &name("a"), b"{}").unwrap();
    save_state(&d, &name("b"), b"{\"v\":2}").unwrap();
    std::fs::create_dir_all(d.states().join(".saving~9-9-9")).unwrap();
    std::fs::create_dir_all(d.states().join("not a state")).unwrap();
    let list = list_states(&d).unwrap();
    let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list[0].volumes, 1);
    assert!(list[0].saved_at > 1.0e9);
    assert_eq!(
        read_saved_kms_state(&d, &name("b")).unwrap().as_slice(),
        b"{\"v\":2}",
        "a save replaces a state of the same name"
    );

    delete_state(&d, &name("a")).unwrap();
    assert!(!d.state(&name("a")).exists());
    for missing in ["a", "never"] {
        let n = name(missing);
        assert!(matches!(
            delete_state(&d, &n),
            Err(StateError::NotFound { .. })
        ));
        assert!(matches!(
            read_saved_kms_state(&d, &n),
            Err(StateError::NotFound { .. })
        ));
        let e = stage_restore(&d, &n).unwrap_err();
        assert_eq!(e.to_string(), format!("State {missing} does not exist."));
    }
    assert_eq!(list_states(&d).unwrap().len(), 1);
}
