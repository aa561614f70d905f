//! `ebsim state …` end to end with the built binary: save → change → restore gives back the
//! keys, ciphertexts that decrypt and the volume bytes (through a running `ebsim kms serve`);
//! bad and missing names are refused with nothing changed; a reset is refused while
//! `ebsim volume serve` has a volume attached, and works embedded and through the server.

use std::net::SocketAddr;
use std::path::Path;

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::http::{KmsRequest, post};
use serde_json::{Value, json};

fn ebsim(dir: &Path) -> Ebsim {
    Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir)
}

fn json_of(e: &Ebsim, args: &[&str]) -> Value {
    let mut argv = vec!["--json"];
    argv.extend_from_slice(args);
    let out = e.ok(&argv);
    serde_json::from_str(&out).unwrap_or_else(|err| panic!("ebsim {args:?}: {err}: {out}"))
}

/// Runs a command that must fail; returns its stderr.
fn fails(e: &Ebsim, args: &[&str]) -> String {
    let out = e.output(args);
    assert!(!out.status.success(), "ebsim {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn key_ids(e: &Ebsim) -> Vec<String> {
    let keys = json_of(e, &["key", "list"]);
    let mut ids: Vec<String> = keys["Keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["KeyId"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

fn volume_ids(e: &Ebsim) -> Vec<String> {
    let list = json_of(e, &["volume", "list"]);
    let items = list
        .as_array()
        .or_else(|| list["volumes"].as_array())
        .cloned()
        .unwrap_or_default();
    let mut ids: Vec<String> = items
        .iter()
        .filter_map(|v| v["volume_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// A KMS call over HTTP signed with `test`/`test`.
fn kms_call(addr: SocketAddr, op: &str, body: &Value) -> Value {
    let body = body.to_string();
    let target = format!("TrentService.{op}");
    let req = KmsRequest::new(&target, body.as_bytes());
    let resp = post(addr, &req.signed_headers(addr), body.as_bytes())
        .unwrap_or_else(|e| panic!("{op}: {e}"));
    assert_eq!(resp.status, 200, "{op}: {}", resp.body);
    resp.json()
}

fn write_at(e: &Ebsim, scratch: &Path, vol: &str, offset: u64, bytes: &[u8]) {
    let input = scratch.join("input.bin");
    std::fs::write(&input, bytes).unwrap_or_else(|err| panic!("{err}"));
    e.ok(&[
        "volume",
        "write",
        vol,
        "--offset",
        &offset.to_string(),
        "--input",
        input.to_str().unwrap_or_default(),
    ]);
}

fn read_at(e: &Ebsim, scratch: &Path, vol: &str, offset: u64, len: usize) -> Vec<u8> {
    let output = scratch.join("output.bin");
    let _ = std::fs::remove_file(&output);
    e.ok(&[
        "volume",
        "read",
        vol,
        "--offset",
        &offset.to_string(),
        "--length",
        &len.to_string(),
        "--output",
        output.to_str().unwrap_or_default(),
    ]);
    std::fs::read(&output).unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn save_change_restore_through_a_running_server() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("data");
    let e = ebsim(&dir);
    e.ok(&["key", "create", "--description", "before the server"]);
    let server = e.serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let addr = addr_of(&server.url());

    let key = json_of(&e, &["key", "create", "--description", "saved"]);
    let key_id = key["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    e.ok(&["alias", "create", "alias/saved", &key_id]);
    let ctx = json!({"suite": "state"});
    let blob = kms_call(
        addr,
        "Encrypt",
        &json!({"KeyId": "alias/saved", "Plaintext": "c2F2ZWQ=", "EncryptionContext": ctx}),
    )["CiphertextBlob"]
        .clone();
    let vol = json_of(
        &e,
        &["volume", "create", "--size", "1MiB", "--key", "alias/saved"],
    )["volume_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let known: Vec<u8> = (0..5000u32).map(|i| (i * 13 % 251) as u8).collect();
    write_at(&e, tmp.path(), &vol, 4000, &known);
    let keys_saved = key_ids(&e);

    assert_eq!(
        json_of(&e, &["state", "save", "base"]),
        json!({"name": "base", "status": "saved"})
    );
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).map_or(0, |m| m.permissions().mode() & 0o777)
    };
    assert_eq!(mode(&dir.join("states/base")), 0o700);

    // Change keys, aliases and volumes.
    e.ok(&["key", "create", "--description", "after the save"]);
    e.ok(&["alias", "delete", "alias/saved"]);
    write_at(&e, tmp.path(), &vol, 4000, &vec![0xEE; 5000]);
    e.ok(&["volume", "create", "--size", "1MiB", "--key", &key_id]);
    assert_eq!(volume_ids(&e).len(), 2);

    assert_eq!(
        json_of(&e, &["state", "restore", "base"]),
        json!({"name": "base", "status": "restored"})
    );
    assert_eq!(key_ids(&e), keys_saved);
    let described = json_of(&e, &["key", "describe", "alias/saved"]);
    assert_eq!(described["KeyMetadata"]["KeyId"], json!(key_id));
    let plain = kms_call(
        addr,
        "Decrypt",
        &json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
    );
    assert_eq!(plain["Plaintext"], json!("c2F2ZWQ="));
    assert_eq!(volume_ids(&e), vec![vol.clone()]);
    assert_eq!(read_at(&e, tmp.path(), &vol, 4000, known.len()), known);

    let list = json_of(&e, &["state", "list"]);
    assert_eq!(list["states"][0]["name"], json!("base"));
    assert_eq!(list["states"][0]["volumes"], json!(1));
    let text = e.ok(&["state", "list"]);
    assert!(text.starts_with("base\t"), "{text}");
    server.stop();

    // Embedded, once the server is gone: the saved state is still there.
    e.ok(&["key", "create"]);
    e.ok(&["state", "restore", "base"]);
    assert_eq!(key_ids(&e), keys_saved);
    assert_eq!(
        e.ok(&["state", "delete", "base"]).trim(),
        "deleted state base"
    );
    assert_eq!(json_of(&e, &["state", "list"]), json!({"states": []}));
}

#[test]
fn bad_and_missing_names_are_refused_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("data");
    let e = ebsim(&dir);
    let missing = fails(&e, &["state", "reset"]);
    assert!(missing.contains("no data dir"), "{missing}");
    e.ok(&["key", "create"]);
    let keys = key_ids(&e);
    for bad in ["../escape", "a/b", ".", "..", "with space", &"n".repeat(65)] {
        for cmd in ["save", "restore", "delete"] {
            let err = fails(&e, &["state", cmd, bad]);
            assert!(
                err.contains("ValidationException") && err.contains("1 to 64 characters"),
                "state {cmd} {bad:?}: {err}"
            );
        }
    }
    for cmd in ["restore", "delete"] {
        let err = fails(&e, &["state", cmd, "nope"]);
        assert!(err.contains("State nope does not exist."), "{err}");
    }
    assert_eq!(key_ids(&e), keys);
    assert!(!dir.join("escape").exists());
    let saved: Vec<_> = std::fs::read_dir(dir.join("states"))
        .map(|r| r.flatten().map(|d| d.file_name()).collect())
        .unwrap_or_default();
    assert!(saved.is_empty(), "{saved:?}");

    let help = e.ok(&["state", "--help"]);
    for word in ["reset", "save", "restore", "list", "delete"] {
        assert!(help.contains(word), "{help}");
    }
    let help = e.ok(&["state", "reset", "--help"]);
    assert!(help.contains("service credential"), "{help}");
}

#[test]
fn a_reset_is_refused_while_a_volume_is_attached() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("data");
    let e = ebsim(&dir);
    let server = e.serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let key = json_of(&e, &["key", "create"]);
    let key_id = key["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let vol = json_of(
        &e,
        &["volume", "create", "--size", "1MiB", "--key", &key_id],
    )["volume_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let nbd = e.serve(&["volume", "serve", &vol, "--listen", "127.0.0.1:0"]);

    let err = fails(&e, &["state", "reset"]);
    assert!(
        err.contains(&format!(
            "Volume {vol} is attached; detach it before a reset."
        )),
        "{err}"
    );
    let err = fails(&e, &["state", "save", "attached"]);
    assert!(err.contains("ConflictException"), "{err}");
    assert!(key_ids(&e).contains(&key_id));
    assert_eq!(volume_ids(&e), vec![vol.clone()]);

    nbd.stop();
    assert_eq!(e.ok(&["state", "reset"]).trim(), "data dir reset");
    assert!(key_ids(&e).is_empty());
    assert!(volume_ids(&e).is_empty());
    assert!(
        dir.join("kms/service-credential").exists(),
        "the service credential stays"
    );
    server.stop();

    // Embedded (no server): the same reset.
    e.ok(&["key", "create"]);
    assert_eq!(json_of(&e, &["state", "reset"]), json!({"status": "ok"}));
    assert!(key_ids(&e).is_empty());
}
