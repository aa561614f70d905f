//! What someone with write access to a data dir can and cannot do to a volume through its
//! files (docs/security.md, "Storage and the command line"): the identity attach calls KMS as is not read
//! from metadata.json, edited geometry is refused by the metadata MAC, and no data-dir file is
//! opened through a symbolic link.

use std::path::{Path, PathBuf};

use ebsim_test_support::ebsim::Ebsim;
use serde_json::Value;

fn ebsim(dir: &Path) -> Ebsim {
    Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir)
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// A data dir with a customer managed key and a volume under it; returns the key ARN and the
/// volume id.
fn key_and_volume(e: &Ebsim, extra: &[&str]) -> (String, String) {
    let key = json(&e.ok(&["--json", "key", "create"]))["KeyMetadata"]["Arn"]
        .as_str()
        .expect("key ARN")
        .to_owned();
    let mut args = vec!["volume", "create", "--size", "1MiB", "--key", &key];
    args.extend_from_slice(extra);
    let vol = e.ok(&args).trim().to_owned();
    assert!(vol.starts_with("vol-"), "{vol}");
    (key, vol)
}

fn metadata_path(dir: &Path, vol: &str) -> PathBuf {
    dir.join("volumes").join(vol).join("metadata.json")
}

fn read_meta(dir: &Path, vol: &str) -> Value {
    json(&std::fs::read_to_string(metadata_path(dir, vol)).expect("metadata"))
}

fn write_meta(dir: &Path, vol: &str, meta: &Value) {
    std::fs::write(
        metadata_path(dir, vol),
        serde_json::to_vec_pretty(meta).expect("JSON"),
    )
    .expect("write metadata");
}

fn write_file(e: &Ebsim, dir: &Path, vol: &str, offset: &str, bytes: &[u8]) {
    let input = dir.join("input.bin");
    std::fs::write(&input, bytes).expect("input");
    e.ok(&[
        "volume",
        "write",
        vol,
        "--offset",
        offset,
        "--input",
        input.to_str().expect("utf-8"),
    ]);
}

fn read_bytes(e: &Ebsim, vol: &str, offset: &str, len: &str) -> std::process::Output {
    e.output(&["volume", "read", vol, "--offset", offset, "--length", len])
}

#[test]
fn a_grantee_written_into_metadata_does_not_get_around_a_revoked_grant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = ebsim(dir.path());
    let (key, vol) = key_and_volume(&e, &[]);
    write_file(&e, dir.path(), &vol, "0", b"secret");
    // Revoke the volume's grant: the next attach must be refused.
    let grants = json(&e.ok(&["--json", "grant", "list", &key]));
    let grant_id = grants["Grants"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["Name"] == vol.as_str()))
        .and_then(|g| g["GrantId"].as_str())
        .expect("the volume's grant")
        .to_owned();
    e.ok(&["grant", "revoke", &key, &grant_id]);
    let out = read_bytes(&e, &vol, "0", "6");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("AccessDeniedException"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Name the account root (allowed by the key policy) as the grantee in the file.
    let mut meta = read_meta(dir.path(), &vol);
    meta["grantee_principal"] = Value::from("arn:aws:iam::111122223333:root");
    write_meta(dir.path(), &vol, &meta);
    let out = read_bytes(&e, &vol, "0", "6");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the edited grantee was used");
    assert!(out.stdout.is_empty(), "plaintext was printed");
    assert!(stderr.contains("AccessDeniedException"), "{stderr}");
    // KMS saw the EC2 infrastructure session, not the root, at every attach.
    let trail = std::fs::read_to_string(dir.path().join("audit/kms-audit.jsonl")).expect("trail");
    let decrypts: Vec<Value> = trail
        .lines()
        .map(json)
        .filter(|r| r["eventName"] == "Decrypt")
        .collect();
    assert_eq!(decrypts.len(), 3, "{decrypts:?}");
    for d in &decrypts {
        let who = d["userIdentity"]["arn"].as_str().unwrap_or_default();
        assert!(
            who.ends_with(&format!("aws:ec2-infrastructure/{vol}")),
            "{d}"
        );
    }
}

#[test]
fn edited_geometry_is_refused_and_old_volumes_gain_the_mac() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = ebsim(dir.path());
    let (_key, vol) = key_and_volume(&e, &["--sector-size", "4096"]);
    let before = read_meta(dir.path(), &vol);
    assert!(
        before.get("metadata_mac").is_none(),
        "no MAC before the first attach (no plaintext key at create)"
    );
    let data: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8 | 1).collect();
    write_file(&e, dir.path(), &vol, "4096", &data);
    let bound = read_meta(dir.path(), &vol);
    let mac = bound["metadata_mac"]
        .as_str()
        .expect("MAC written at attach");
    assert_eq!(mac.len(), 44, "base64 of 32 bytes: {mac}");

    // Sector size 4096 -> 512: refused, nothing printed.
    let mut meta = bound.clone();
    meta["sector_size"] = Value::from(512);
    write_meta(dir.path(), &vol, &meta);
    let out = read_bytes(&e, &vol, "4096", "8192");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(stderr.contains("does not match its data key"), "{stderr}");

    // A larger size with a data file grown to match: refused.
    let img = dir.path().join("volumes").join(&vol).join("data.img");
    let mut meta = bound.clone();
    meta["size_bytes"] = Value::from(2u64 << 20);
    write_meta(dir.path(), &vol, &meta);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .and_then(|f| f.set_len(2 << 20))
        .expect("grow data.img");
    let out = read_bytes(&e, &vol, "4096", "8192");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match its data key"));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .and_then(|f| f.set_len(1 << 20))
        .expect("shrink data.img");

    // A MAC that is not base64, or empty: refused the same way.
    for bad in ["not base64!", ""] {
        let mut meta = bound.clone();
        meta["metadata_mac"] = Value::from(bad);
        write_meta(dir.path(), &vol, &meta);
        let out = read_bytes(&e, &vol, "4096", "8192");
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
    }

    // The file as written: reads back.
    write_meta(dir.path(), &vol, &bound);
    let out = read_bytes(&e, &vol, "4096", "8192");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, data);

    // A volume written by a build without the MAC still attaches and gains it.
    let mut legacy = bound.clone();
    legacy
        .as_object_mut()
        .expect("object")
        .remove("metadata_mac");
    write_meta(dir.path(), &vol, &legacy);
    let out = read_bytes(&e, &vol, "4096", "8192");
    assert_eq!(out.stdout, data, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        read_meta(dir.path(), &vol)["metadata_mac"],
        bound["metadata_mac"]
    );
}

#[test]
fn data_dir_files_are_never_opened_through_a_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let e = ebsim(dir.path());
    let (_key, vol) = key_and_volume(&e, &[]);
    let vdir = dir.path().join("volumes").join(&vol);

    // data.img replaced by a link to a file elsewhere: no write goes through it.
    let target = outside.path().join("victim.img");
    std::fs::copy(vdir.join("data.img"), &target).expect("copy");
    let before = std::fs::read(&target).expect("victim");
    std::fs::remove_file(vdir.join("data.img")).expect("rm");
    std::os::unix::fs::symlink(&target, vdir.join("data.img")).expect("symlink");
    let input = dir.path().join("in.bin");
    std::fs::write(&input, [0x5Au8; 4096]).expect("input");
    let out = e.output(&[
        "volume",
        "write",
        &vol,
        "--input",
        input.to_str().expect("utf-8"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(
        std::fs::read(&target).expect("victim"),
        before,
        "ciphertext written to the link's target"
    );
    std::fs::remove_file(vdir.join("data.img")).expect("rm link");
    std::fs::copy(&target, vdir.join("data.img")).expect("restore");

    // metadata.json as a link: refused (not read through it).
    let meta_target = outside.path().join("metadata.json");
    std::fs::rename(vdir.join("metadata.json"), &meta_target).expect("move");
    std::os::unix::fs::symlink(&meta_target, vdir.join("metadata.json")).expect("symlink");
    let out = e.output(&["volume", "describe", &vol]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    std::fs::remove_file(vdir.join("metadata.json")).expect("rm link");
    std::fs::rename(&meta_target, vdir.join("metadata.json")).expect("move back");

    // The lock file as a link to a file elsewhere: refused, the file untouched.
    let lock_target = outside.path().join("precious");
    std::fs::write(&lock_target, b"keep").expect("write");
    std::fs::remove_file(vdir.join("lock")).expect("rm");
    std::os::unix::fs::symlink(&lock_target, vdir.join("lock")).expect("symlink");
    let out = e.output(&["volume", "read", &vol, "--length", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&lock_target).expect("read"), b"keep");
    std::fs::remove_file(vdir.join("lock")).expect("rm link");

    // A FIFO in place of data.img: refused at once, never opened (an open would block).
    std::fs::rename(vdir.join("data.img"), outside.path().join("saved.img")).expect("move");
    let made = std::process::Command::new("mkfifo")
        .arg(vdir.join("data.img"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let out = e.output(&["volume", "read", &vol, "--length", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
    std::fs::remove_file(vdir.join("data.img")).expect("rm fifo");
    std::fs::rename(outside.path().join("saved.img"), vdir.join("data.img")).expect("back");
    e.ok(&["volume", "read", &vol, "--length", "1"]);
}
