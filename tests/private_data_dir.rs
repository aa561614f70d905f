//! A data dir is private: every directory ebsim creates in it is 0700 and every file 0600,
//! and an existing data dir that other users could enter is made private when its KMS opens,
//! with one warning.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ebsim_test_support::ebsim::Ebsim;

/// Every path under `dir` (itself included) whose mode gives group or others any access.
fn open_to_others(dir: &Path, found: &mut Vec<String>) {
    let mode = std::fs::symlink_metadata(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        found.push(format!("{} {:o}", dir.display(), mode & 0o777));
    }
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")) {
            let entry = entry.unwrap_or_else(|e| panic!("{e}"));
            open_to_others(&entry.path(), found);
        }
    }
}

#[test]
fn everything_ebsim_creates_in_a_data_dir_is_private() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = tmp.path().join("data");
    let e = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    e.ok(&["key", "create"]);
    let vol = e.ok(&["volume", "create", "--size", "1MiB"]);
    let vol = vol
        .split_whitespace()
        .find(|w| w.starts_with("vol-"))
        .unwrap_or_default();
    assert!(!vol.is_empty());
    e.ok(&[
        "volume",
        "write",
        vol,
        "--offset",
        "0",
        "--input",
        "/etc/hostname",
    ]);
    e.ok(&["iam", "root-credentials"]);
    e.ok(&["state", "save", "s1"]);
    e.ok(&[
        "workspace",
        "launch",
        "--user-sid",
        "S-1-5-21-1-2-3-1001",
        "--directory",
        "d-1234abcd01",
    ]);
    let mut found = Vec::new();
    open_to_others(&data, &mut found);
    assert!(found.is_empty(), "open to other users: {found:#?}");
}

#[test]
fn an_existing_data_dir_open_to_others_is_made_private_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = tmp.path().join("data");
    let e = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    e.ok(&["key", "create"]);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = e.output(&["key", "list"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("made it private").count(),
        1,
        "one warning: {stderr}"
    );
    let mode = std::fs::metadata(&data)
        .unwrap_or_else(|e| panic!("{e}"))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let again = e.output(&["key", "list"]);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("made it private"));
}
