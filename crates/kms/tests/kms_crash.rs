//! Crash consistency: a child process mutates the KMS state of a data dir in a loop (keys,
//! encryptions, rotations, key policies, grants, aliases) and is killed with SIGKILL at
//! random moments. After each kill the data dir is reopened and must hold either the old or
//! the new state of every write: everything the child saw complete is there, every blob made
//! before the kill still decrypts, a stray temporary file does not confuse the loader, and
//! every complete audit line parses.
//!
//! The child is this test binary itself, re-executed to run the ignored `crash_child`
//! function with the data dir and a journal path in its environment. The child appends one
//! journal line per completed operation (and a `try-` line before the operations whose
//! in-flight state is ambiguous at a kill), each in a single write.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig};
use rand::RngExt;
use serde_json::{Value, json};

const ROOT: &str = "arn:aws:iam::111122223333:root";
const DIR_ENV: &str = "EBSIM_KMS_CRASH_DIR";
const JOURNAL_ENV: &str = "EBSIM_KMS_CRASH_JOURNAL";
const ROUNDS: usize = 8;
/// The child stops by itself after this many operations (it is normally killed long before).
const CHILD_MAX_OPS: usize = 20_000;

fn policy(tag: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
            {"Sid": format!("v{tag}"), "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:user/crash"},
             "Action": "kms:Decrypt", "Resource": "*"}
        ]
    })
    .to_string()
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The child: runs only when re-executed by `kill_9_at_random_moments_keeps_state_consistent`.
#[test]
#[ignore = "child process of kill_9_at_random_moments_keeps_state_consistent"]
fn crash_child() {
    let (Some(dir), Some(journal)) = (std::env::var_os(DIR_ENV), std::env::var_os(JOURNAL_ENV))
    else {
        panic!("crash_child runs only as the child of the crash test");
    };
    let kms = Kms::open(Path::new(&dir), KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut journal = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(journal)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut log = |line: String| {
        journal
            .write_all(format!("{line}\n").as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    };
    let root = Caller::new(ROOT);
    let call = |op: &str, req: Value| kms.call_json(&root, op, req);
    let pid = std::process::id();
    let mut rng = rand::rng();
    log(format!("start {pid}"));
    for n in 0..CHILD_MAX_OPS {
        let tag = format!("{pid}-{n}");
        let keys: Vec<String> = call("ListKeys", json!({"Limit": 1000}))
            .map(|v| {
                v["Keys"]
                    .as_array()
                    .map(|a| a.iter().map(|k| s(&k["KeyId"])).collect())
                    .unwrap_or_default()
            })
            .unwrap_or_else(|e| panic!("ListKeys: {e}"));
        let choice = if keys.is_empty() {
            0
        } else {
            rng.random_range(0..10)
        };
        let key = if keys.is_empty() {
            String::new()
        } else {
            keys[rng.random_range(0..keys.len())].clone()
        };
        // The operations below are for symmetric keys; asymmetric and HMAC keys are made
        // and used by choice 6 only.
        if !key.is_empty() && choice != 6 {
            let d = call("DescribeKey", json!({"KeyId": key}))
                .unwrap_or_else(|e| panic!("DescribeKey: {e}"));
            if d["KeyMetadata"]["KeySpec"] != json!("SYMMETRIC_DEFAULT") {
                continue;
            }
        }
        match choice {
            6 => {
                let msg = B64.encode(format!("message {tag}"));
                if n % 2 == 0 {
                    let k = call(
                        "CreateKey",
                        json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
                    )
                    .unwrap_or_else(|e| panic!("CreateKey: {e}"));
                    let id = s(&k["KeyMetadata"]["KeyId"]);
                    log(format!("key {id}"));
                    let m = call(
                        "GenerateMac",
                        json!({"KeyId": id, "Message": msg, "MacAlgorithm": "HMAC_SHA_256"}),
                    )
                    .unwrap_or_else(|e| panic!("GenerateMac: {e}"));
                    log(format!("mac {id} {msg} {}", s(&m["Mac"])));
                } else {
                    let k = call(
                        "CreateKey",
                        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
                    )
                    .unwrap_or_else(|e| panic!("CreateKey: {e}"));
                    let id = s(&k["KeyMetadata"]["KeyId"]);
                    log(format!("key {id}"));
                    let m = call(
                        "Sign",
                        json!({"KeyId": id, "Message": msg, "SigningAlgorithm": "ECDSA_SHA_256"}),
                    )
                    .unwrap_or_else(|e| panic!("Sign: {e}"));
                    log(format!("sig {id} {msg} {}", s(&m["Signature"])));
                }
            }
            0 => {
                let k = call("CreateKey", json!({"Description": format!("crash {tag}")}))
                    .unwrap_or_else(|e| panic!("CreateKey: {e}"));
                log(format!("key {}", s(&k["KeyMetadata"]["KeyId"])));
            }
            1 => {
                let pt = B64.encode(format!("plaintext {tag}"));
                let e = call(
                    "Encrypt",
                    json!({"KeyId": key, "Plaintext": pt, "EncryptionContext": {"n": tag}}),
                )
                .unwrap_or_else(|e| panic!("Encrypt: {e}"));
                log(format!("blob {key} {tag} {pt} {}", s(&e["CiphertextBlob"])));
            }
            2 => match call("RotateKeyOnDemand", json!({"KeyId": key})) {
                Ok(_) => {
                    let d = call("DescribeKey", json!({"KeyId": key}))
                        .unwrap_or_else(|e| panic!("DescribeKey: {e}"));
                    log(format!(
                        "rotate {key} {}",
                        s(&d["KeyMetadata"]["CurrentKeyMaterialId"])
                    ));
                }
                // 25 rotations done, or an automatic one due within 20 minutes.
                Err(e)
                    if matches!(
                        e.error_type,
                        ErrorType::LimitExceededException | ErrorType::ConflictException
                    ) => {}
                Err(e) => panic!("RotateKeyOnDemand: {e}"),
            },
            3 => {
                log(format!("try-policy {key} {tag}"));
                call(
                    "PutKeyPolicy",
                    json!({"KeyId": key, "Policy": policy(&tag)}),
                )
                .unwrap_or_else(|e| panic!("PutKeyPolicy: {e}"));
                log(format!("policy {key} {tag}"));
            }
            4 => {
                let g = call(
                    "CreateGrant",
                    json!({"KeyId": key, "GranteePrincipal": format!("arn:aws:iam::111122223333:user/g{tag}"),
                           "Operations": ["Decrypt"], "Constraints": {"EncryptionContextSubset": {"n": tag}}}),
                )
                .unwrap_or_else(|e| panic!("CreateGrant: {e}"));
                log(format!("grant {key} {}", s(&g["GrantId"])));
            }
            5 => {
                let grants = call("ListGrants", json!({"KeyId": key}))
                    .unwrap_or_else(|e| panic!("ListGrants: {e}"));
                let ids: Vec<String> = grants["Grants"]
                    .as_array()
                    .map(|a| a.iter().map(|g| s(&g["GrantId"])).collect())
                    .unwrap_or_default();
                if let Some(gid) = ids.first() {
                    let arn = s(&grants["Grants"][0]["KeyId"]);
                    log(format!("try-retire {key} {gid}"));
                    call("RetireGrant", json!({"KeyId": arn, "GrantId": gid}))
                        .unwrap_or_else(|e| panic!("RetireGrant: {e}"));
                    log(format!("retired {key} {gid}"));
                }
            }
            7 => {
                log(format!("try-tag {key} {tag}"));
                call(
                    "TagResource",
                    json!({"KeyId": key, "Tags": [{"TagKey": "t", "TagValue": tag}]}),
                )
                .unwrap_or_else(|e| panic!("TagResource: {e}"));
                log(format!("tag {key} {tag}"));
            }
            8 => {
                call(
                    "EnableKeyRotation",
                    json!({"KeyId": key, "RotationPeriodInDays": 90}),
                )
                .unwrap_or_else(|e| panic!("EnableKeyRotation: {e}"));
                log(format!("rotation-on {key}"));
            }
            9 if n % 4 == 0 => {
                // Automatic rotations fall due and are persisted by the next call.
                let c = kms
                    .admin_json(&root, "AdvanceClock", json!({"Days": 30}))
                    .unwrap_or_else(|e| panic!("AdvanceClock: {e}"));
                log(format!("clock {}", c["OffsetSeconds"]));
            }
            _ => {
                let name = format!("alias/c{tag}");
                call(
                    "CreateAlias",
                    json!({"AliasName": name, "TargetKeyId": key}),
                )
                .unwrap_or_else(|e| panic!("CreateAlias: {e}"));
                log(format!("alias {key} {name}"));
            }
        }
    }
}

#[derive(Default)]
struct Expected {
    keys: BTreeSet<String>,
    /// (key, context value, plaintext b64, ciphertext b64)
    blobs: Vec<(String, String, String, String)>,
    rotations: Vec<(String, String)>,
    /// key → (last completed policy tag, tag of a PutKeyPolicy in flight at a kill)
    policies: BTreeMap<String, (Option<String>, Option<String>)>,
    /// grant → Some(true) present, Some(false) retired, None unknown (retire in flight)
    grants: BTreeMap<String, (String, Option<bool>)>,
    aliases: Vec<(String, String)>,
    /// key → (last completed tag value, value of a TagResource in flight at a kill)
    tags: BTreeMap<String, (Option<String>, Option<String>)>,
    rotation_on: BTreeSet<String>,
    /// (HMAC key, message b64, MAC b64)
    macs: Vec<(String, String, String)>,
    /// (ECC key, message b64, signature b64)
    signatures: Vec<(String, String, String)>,
    /// The largest clock offset a completed AdvanceClock returned.
    clock: f64,
    ops: usize,
}

fn read_journal(path: &Path) -> Expected {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut x = Expected::default();
    // Only newline-terminated lines are complete.
    let complete = text.rfind('\n').map_or("", |i| &text[..i]);
    for line in complete.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let own = |i: usize| f.get(i).map(|v| (*v).to_string()).unwrap_or_default();
        match f.first().copied() {
            Some("key") => {
                x.keys.insert(own(1));
            }
            Some("blob") => x.blobs.push((own(1), own(2), own(3), own(4))),
            Some("rotate") => x.rotations.push((own(1), own(2))),
            Some("try-policy") => x.policies.entry(own(1)).or_default().1 = Some(own(2)),
            Some("policy") => *x.policies.entry(own(1)).or_default() = (Some(own(2)), None),
            Some("grant") => {
                x.grants.insert(own(2), (own(1), Some(true)));
            }
            Some("try-retire") => {
                x.grants.insert(own(2), (own(1), None));
            }
            Some("retired") => {
                x.grants.insert(own(2), (own(1), Some(false)));
            }
            Some("alias") => x.aliases.push((own(1), own(2))),
            Some("try-tag") => x.tags.entry(own(1)).or_default().1 = Some(own(2)),
            Some("tag") => *x.tags.entry(own(1)).or_default() = (Some(own(2)), None),
            Some("rotation-on") => {
                x.rotation_on.insert(own(1));
            }
            Some("mac") => x.macs.push((own(1), own(2), own(3))),
            Some("sig") => x.signatures.push((own(1), own(2), own(3))),
            Some("clock") => x.clock = x.clock.max(own(1).parse().unwrap_or(0.0)),
            _ => continue,
        }
        x.ops += 1;
    }
    x
}

fn journal_ops(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| !l.starts_with("start")).count())
        .unwrap_or(0)
}

fn verify(dir: &Path, journal: &Path) {
    let x = read_journal(journal);
    let kms = Kms::open(dir, KmsConfig::default())
        .unwrap_or_else(|e| panic!("the data dir does not reopen after a kill: {e}"));
    let root = Caller::new(ROOT);
    let ok = |op: &str, req: Value| {
        kms.call_json(&root, op, req.clone())
            .unwrap_or_else(|e| panic!("{op} {req} after a kill: {e}"))
    };
    for id in &x.keys {
        let d = ok("DescribeKey", json!({"KeyId": id}));
        assert_eq!(d["KeyMetadata"]["KeyState"], json!("Enabled"), "{id}");
    }
    for (key, ctx, pt, blob) in &x.blobs {
        let d = ok(
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": {"n": ctx}}),
        );
        assert_eq!(d["Plaintext"], json!(pt), "blob of {key}");
        assert!(s(&d["KeyId"]).ends_with(key.as_str()));
    }
    // The material of asymmetric and HMAC keys came back: their MACs and signatures verify.
    for (key, msg, mac) in &x.macs {
        ok(
            "VerifyMac",
            json!({"KeyId": key, "Message": msg, "Mac": mac, "MacAlgorithm": "HMAC_SHA_256"}),
        );
    }
    for (key, msg, sig) in &x.signatures {
        ok(
            "Verify",
            json!({"KeyId": key, "Message": msg, "Signature": sig, "SigningAlgorithm": "ECDSA_SHA_256"}),
        );
    }
    for (key, material) in &x.rotations {
        let r = ok(
            "ListKeyRotations",
            json!({"KeyId": key, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
        );
        let ids: Vec<String> = r["Rotations"]
            .as_array()
            .map(|a| a.iter().map(|m| s(&m["KeyMaterialId"])).collect())
            .unwrap_or_default();
        assert!(ids.contains(material), "{key} lost material {material}");
    }
    for (key, (done, in_flight)) in &x.policies {
        let text = s(&ok("GetKeyPolicy", json!({"KeyId": key}))["Policy"]);
        let p: Value = serde_json::from_str(&text).unwrap_or_default();
        let sid = p["Statement"][1]["Sid"]
            .as_str()
            .map(|v| v[1..].to_string());
        let allowed: Vec<Option<String>> = [done.clone(), in_flight.clone()]
            .into_iter()
            .filter(|t| t.is_some() || done.is_none())
            .collect();
        assert!(
            allowed.contains(&sid),
            "policy of {key} is {sid:?}, expected one of {allowed:?}"
        );
    }
    let mut listed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (gid, (key, present)) in &x.grants {
        let ids = listed.entry(key.clone()).or_insert_with(|| {
            ok("ListGrants", json!({"KeyId": key, "Limit": 100}))["Grants"]
                .as_array()
                .map(|a| a.iter().map(|g| s(&g["GrantId"])).collect())
                .unwrap_or_default()
        });
        if let Some(p) = present {
            assert_eq!(ids.contains(gid), *p, "grant {gid} of {key}");
        }
    }
    for (key, (done, in_flight)) in &x.tags {
        let tags = ok("ListResourceTags", json!({"KeyId": key}));
        let value = tags["Tags"]
            .as_array()
            .and_then(|a| a.iter().find(|t| t["TagKey"] == json!("t")))
            .map(|t| s(&t["TagValue"]));
        let allowed: Vec<Option<String>> = [done.clone(), in_flight.clone()]
            .into_iter()
            .filter(|t| t.is_some() || done.is_none())
            .collect();
        assert!(
            allowed.contains(&value),
            "tag of {key} is {value:?}, expected one of {allowed:?}"
        );
    }
    for key in &x.rotation_on {
        let r = ok("GetKeyRotationStatus", json!({"KeyId": key}));
        assert_eq!(r["KeyRotationEnabled"], json!(true), "{key}");
    }
    let clock = kms
        .admin_json(&root, "GetClock", json!({}))
        .unwrap_or_else(|e| panic!("GetClock: {e}"));
    assert!(
        clock["OffsetSeconds"].as_f64().unwrap_or(-1.0) >= x.clock,
        "the clock went back: {clock} < {}",
        x.clock
    );
    for (key, alias) in &x.aliases {
        let d = ok("DescribeKey", json!({"KeyId": alias}));
        assert_eq!(d["KeyMetadata"]["KeyId"], json!(key), "{alias}");
    }
    let audit = std::fs::read_to_string(dir.join("audit/kms-audit.jsonl")).unwrap_or_default();
    if let Some(end) = audit.rfind('\n') {
        for line in audit[..end].lines() {
            assert!(
                serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()),
                "a complete audit line does not parse: {line}"
            );
        }
    }
}

#[test]
fn kill_9_at_random_moments_keeps_state_consistent() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    let journal = dir.path().join("journal");
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let mut rng = rand::rng();
    for round in 0..ROUNDS {
        let before = journal_ops(&journal);
        let mut child = Command::new(&exe)
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_ENV, &data)
            .env(JOURNAL_ENV, &journal)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        // Let the child get going (a few completed operations), then kill it at a random
        // moment.
        let wait_start = Instant::now();
        let target = before + rng.random_range(3..40);
        while journal_ops(&journal) < target {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("the child stopped by itself ({status}): {err}");
            }
            assert!(
                wait_start.elapsed() < Duration::from_secs(30),
                "the child made no progress"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..20_000)));
        child.kill().unwrap_or_else(|e| panic!("{e}"));
        let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "the child was killed, not finished: {status}"
        );
        if round % 2 == 1 {
            // A temporary file left by a write that never got renamed (a kill between the
            // fsync and the rename) must not confuse the loader.
            std::fs::write(data.join("kms/state.tmp"), b"{\"torn")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        verify(&data, &journal);
    }
    let x = read_journal(&journal);
    assert!(
        x.ops >= ROUNDS * 3
            && !x.keys.is_empty()
            && !x.blobs.is_empty()
            && x.macs.len() + x.signatures.len() > 0,
        "the children did too little to test anything: {} operations",
        x.ops
    );
    eprintln!(
        "{} operations journaled over {ROUNDS} kills: {} keys, {} blobs, {} rotations, {} grants, clock +{} days",
        x.ops,
        x.keys.len(),
        x.blobs.len(),
        x.rotations.len(),
        x.grants.len(),
        x.clock / 86_400.0
    );
}
