//! No secret at rest: after the full story (launch, writes, reboot, the lessons, terminate) on
//! a data dir, and after `ebsim demo` on another, no file and no audit record contains any
//! plaintext data key. The keys are captured by decrypting each volume's wrapped key with the
//! KMS (as the account root, whom the key policy allows) before the volumes are deleted.

use std::path::Path;
use std::sync::Arc;

use ebsim::kms::{Kms, KmsConfig};
use ebsim::{Identity, KmsClient, LaunchRequest, Simulator};

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(Result::ok)
    {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
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
    let dir = tempfile::tempdir().expect("tempdir");
    let kms = Arc::new(Kms::open(dir.path(), KmsConfig::default()).expect("kms"));
    let sim = Simulator::with_client(KmsClient::in_process(kms), Some(dir.path()));
    // A customer managed key: its default key policy lets the account root decrypt.
    let key = sim
        .kms()
        .call(&Identity::Default, "CreateKey", serde_json::json!({}))
        .expect("CreateKey");
    let mut req = LaunchRequest::new("S-1-5-21-1-2-3-1107", "d-1234abcd01");
    req.key_id = key["KeyMetadata"]["Arn"].as_str().map(str::to_owned);
    let ws = sim.workspaces().launch(&req).expect("launch");
    let mut keys = Vec::new();
    let mut capture = |sim: &Simulator, vol: &str| {
        let m = sim.ebs().volumes().load(vol).expect("meta");
        let k = sim
            .kms()
            .decrypt_data_key(
                &Identity::Default,
                &m.wrapped_key().expect("blob"),
                &m.context(),
            )
            .expect("root may decrypt");
        assert_eq!(k.len(), 64);
        keys.push(k.as_bytes().to_vec());
    };
    capture(&sim, &ws.root_volume_id);
    capture(&sim, &ws.user_volume_id);
    sim.workspaces()
        .with_volumes(&ws.workspace_id, |r, u| {
            r.write_at(0, &[0x5a; 100_000])
                .and_then(|()| u.write_at(12345, b"secret-free"))
        })
        .expect("running")
        .expect("write");
    let ws = sim.workspaces().reboot(&ws.workspace_id).expect("reboot");
    let ws = sim.workspaces().rebuild(&ws.workspace_id).expect("rebuild");
    capture(&sim, &ws.root_volume_id);
    let records = sim.audit_records().expect("audit");
    sim.workspaces()
        .terminate(&ws.workspace_id)
        .expect("terminate");

    let mut all = Vec::new();
    files(dir.path(), &mut all);
    assert!(
        all.iter().any(|p| p.ends_with("kms-audit.jsonl")),
        "the audit file is scanned too"
    );
    let audit_text: String = records.iter().map(|r| r.to_string()).collect();
    for key in &keys {
        let needles = [
            key.clone(),
            key[..32].to_vec(),
            key[32..].to_vec(),
            base64::engine::general_purpose::STANDARD
                .encode(key)
                .into_bytes(),
            hex::encode(key).into_bytes(),
        ];
        for p in &all {
            let bytes = std::fs::read(p).expect("read");
            for n in &needles {
                assert!(!contains(&bytes, n), "{} holds a data key", p.display());
            }
        }
        for n in &needles {
            assert!(
                !contains(audit_text.as_bytes(), n),
                "an audit record holds a data key"
            );
        }
    }
}
