//! No plaintext data key at rest after snapshots, copies under another key and restores (which
//! hold plaintext keys in memory to re-encrypt): no file of the data dir (blocks and manifests
//! included) and no audit record contains one, raw or base64.

mod common;

use std::path::Path;

use common::{env, pattern};
use ebsim_kms_client::{EncryptionContext, Identity};
use ebsim_snapshot::{CopySnapshot, CreateSnapshot, RestoreVolume};

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(Result::ok)
    {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_plaintext_data_key_in_any_file_or_audit_record() {
    use base64::Engine as _;
    let e = env();
    let key = e.customer_key();
    let vol = e.volume(1 << 20);
    e.write(&vol, 0, &pattern(7, 600_000));
    let s = e
        .store
        .create(CreateSnapshot::new(&vol))
        .expect("create")
        .wait()
        .expect("snap");
    let copy = e
        .store
        .copy(CopySnapshot {
            kms_key_id: Some(key),
            ..CopySnapshot::new(s.snapshot_id.as_str(), "us-west-2")
        })
        .expect("copy")
        .wait()
        .expect("copied");
    let restored = e
        .store
        .restore(RestoreVolume {
            kms_key_id: Some("alias/aws/ebs".into()),
            ..RestoreVolume::new(copy.snapshot_id.as_str())
        })
        .expect("restore");
    // Every data key involved: the volume's (shared by the first snapshot), the copy's, the
    // restored volume's.
    let mut wrapped = Vec::new();
    for v in [&vol, &restored.volume_id] {
        let m = e.ebs.volumes().load(v).expect("meta");
        wrapped.push((m.wrapped_key().expect("blob"), m.context()));
    }
    let manifest = std::fs::read(
        e.dir
            .path()
            .join("snapshots/manifests")
            .join(format!("{}.json", copy.snapshot_id)),
    )
    .expect("manifest");
    let m: serde_json::Value = serde_json::from_slice(&manifest).expect("json");
    let blob = base64::engine::general_purpose::STANDARD
        .decode(m["encryption"]["encrypted_data_key"].as_str().expect("key"))
        .expect("base64");
    let ctx: std::collections::BTreeMap<String, String> =
        serde_json::from_value(m["encryption"]["encryption_context"].clone()).expect("context");
    wrapped.push((blob, EncryptionContext::from_map(ctx)));
    let keys: Vec<Vec<u8>> = wrapped
        .iter()
        .map(|(b, c)| {
            // The AWS managed key allows its account's principals through EC2 only.
            let via_ec2 = Identity::OnBehalfOf {
                principal: "arn:aws:iam::111122223333:root".into(),
                via_service: "ec2.us-west-2.amazonaws.com".into(),
            };
            let k = e
                .client
                .decrypt_data_key(&via_ec2, b, c)
                .expect("root may decrypt");
            assert_eq!(k.len(), 64);
            k.as_bytes().to_vec()
        })
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys[0] != keys[1] && keys[1] != keys[2]);

    let mut all = Vec::new();
    files(e.dir.path(), &mut all);
    assert!(
        all.iter()
            .any(|p| p.to_string_lossy().contains("snapshots/blocks"))
    );
    let audit = serde_json::to_vec(&e.kms.audit_records()).expect("audit");
    for k in &keys {
        let b64 = base64::engine::general_purpose::STANDARD.encode(k);
        for p in &all {
            let bytes = std::fs::read(p).expect("read");
            assert!(!contains(&bytes, &k[..32]), "a key half in {}", p.display());
            assert!(!contains(&bytes, &k[32..]), "a key half in {}", p.display());
            assert!(
                !contains(&bytes, b64.as_bytes()),
                "a base64 key in {}",
                p.display()
            );
        }
        assert!(
            !contains(&audit, b64.as_bytes()),
            "a key in the audit trail"
        );
    }
}
