//! Errors a user can act on: one broken volume does not break the others, a mistyped
//! `--data-dir` creates nothing, and sizes, addresses and limits are named in words with the
//! exit codes the README promises (docs/usage.md, "Global flags, output and exit status").

use std::path::Path;

use ebsim_test_support::ebsim::Ebsim;
use serde_json::Value;

fn ebsim(dir: &Path) -> Ebsim {
    Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir)
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_corrupt_volume_is_named_and_the_others_still_listed_and_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = ebsim(dir.path());
    let key = json(&e.ok(&["--json", "key", "create"]))["KeyMetadata"]["Arn"]
        .as_str()
        .expect("key ARN")
        .to_owned();
    let create = || {
        e.ok(&["volume", "create", "--size", "1MiB", "--key", &key])
            .trim()
            .to_owned()
    };
    let (good, broken, other) = (create(), create(), create());
    let meta = dir
        .path()
        .join("volumes")
        .join(&broken)
        .join("metadata.json");
    let len = std::fs::metadata(&meta).expect("metadata").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&meta)
        .and_then(|f| f.set_len(len / 2))
        .expect("truncate");

    let out = e.output(&["volume", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(text.contains(&good) && text.contains(&other), "{text}");
    assert!(text.contains(&broken) && text.contains("broken"), "{text}");
    assert!(stderr(&out).contains(&broken), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    let listed = json(&e.ok(&["--json", "volume", "list"]));
    let ids: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|m| m["volume_id"].as_str())
        .collect();
    let mut want = vec![good.as_str(), other.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);

    // The others are still deleted one by one.
    e.ok(&["volume", "delete", &good]);
    // The broken one: refused without --force, naming it.
    let out = e.output(&["volume", "delete", &broken]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    // With --force: its files go, and its grant (found by its name) is retired.
    let out = json(&e.ok(&["--json", "volume", "delete", "--force", &broken]));
    assert_eq!(out["deleted"], true);
    assert_eq!(
        out["retired_grants"].as_array().map(Vec::len),
        Some(1),
        "{out}"
    );
    assert!(!dir.path().join("volumes").join(&broken).exists());
    let grants = json(&e.ok(&["--json", "grant", "list", &key]));
    let names: Vec<&str> = grants["Grants"]
        .as_array()
        .expect("grants")
        .iter()
        .filter_map(|g| g["Name"].as_str())
        .collect();
    assert_eq!(names, [other.as_str()], "{grants}");
    e.ok(&["volume", "read", &other, "--length", "1"]);
}

#[test]
fn only_commands_that_create_things_create_the_data_dir_and_one_level_only() {
    let base = tempfile::tempdir().expect("tempdir");
    let missing = base.path().join("nope");
    for args in [
        &["volume", "list"][..],
        &["key", "list"],
        &["volume", "describe", "vol-0123456789abcdef0"],
        &["grant", "list", "alias/aws/ebs"],
        &["workspace", "list"],
        &["audit"],
        &["clock", "show"],
    ] {
        let out = ebsim(&missing).output(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("no data dir at {}", missing.display())),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!missing.exists(), "{args:?} created the data dir");
    }
    // A create at a path whose parent is missing: refused, nothing made at any depth.
    let deep = missing.join("deeper");
    for args in [
        &["volume", "create", "--size", "1MiB"][..],
        &["key", "create"],
    ] {
        let out = ebsim(&deep).output(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains("parent") && stderr(&out).contains("does not exist"),
            "{}",
            stderr(&out)
        );
        assert!(!missing.exists(), "{args:?} made {}", missing.display());
    }
    // One level is made, private.
    ebsim(&missing).ok(&["key", "create"]);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&missing)
        .expect("made")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn sizes_addresses_and_pipes_fail_the_way_the_readme_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = ebsim(dir.path());
    // Usage errors exit 2 and make no KMS call (no key is created for alias/aws/ebs).
    for size in ["0", "0MiB", "1000"] {
        let out = e.output(&["volume", "create", "--size", size]);
        assert_eq!(out.status.code(), Some(2), "{size}: {}", stderr(&out));
        assert!(stderr(&out).contains("--size"), "{}", stderr(&out));
    }
    assert!(
        !dir.path().join("kms").exists(),
        "a KMS call was made before the size was checked"
    );

    // A size the file system (here: the process's file-size limit) cannot hold: the limit
    // in words and file systems that allow more; nothing is left behind.
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 4096; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_ebsim"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["volume", "create", "--size", "16TiB"])
        .env_remove("EBSIM_DATA_DIR")
        .output()
        .expect("bash");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ulimit -f") && err.contains("XFS") && err.contains("btrfs"),
        "{err}"
    );
    assert!(!err.contains("os error 27"), "{err}");
    let vols = std::fs::read_dir(dir.path().join("volumes"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(vols, 0, "a failed create left a volume behind");

    // `volume read … | head`: status 141 and no message, as a process killed by SIGPIPE.
    let vol = e
        .ok(&["volume", "create", "--size", "4MiB"])
        .trim()
        .to_owned();
    let mut child = e
        .command(&["volume", "read", &vol, "--length", "4MiB"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(141), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));

    // `--listen localhost:0` is taken, and a loopback address is chosen.
    let server = e.serve(&["volume", "serve", &vol, "--listen", "localhost:0"]);
    assert!(
        server.addr.starts_with("127.0.0.1:") || server.addr.starts_with("[::1]:"),
        "{}",
        server.addr
    );
    server.stop();
    let server = e.serve(&["kms", "serve", "--listen", "localhost:0"]);
    assert!(server.addr.starts_with("127.0.0.1:"), "{}", server.addr);
    server.stop();
    let out = e.output(&["volume", "serve", &vol, "--listen", "localhost"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_volume_held_by_a_workspace_names_a_command_that_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = ebsim(dir.path());
    let launched = json(&e.ok(&[
        "--json",
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
    ]));
    let root = launched["root_volume_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{launched}"))
        .to_owned();
    let out = e.output(&["volume", "delete", &root]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The command the message names runs.
    let named = err
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no command in {err:?}"));
    let words: Vec<&str> = named.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"ebsim"), "{named}");
    e.ok(&words[1..]);
    assert!(!dir.path().join("volumes").join(&root).exists());
}
