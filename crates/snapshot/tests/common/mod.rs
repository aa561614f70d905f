//! What the snapshot tests share: a data dir with an embedded KMS, EBS over it, and helpers.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use ebsim_kms::{Kms, KmsConfig};
use ebsim_kms_api::Region;
use ebsim_kms_api::types::keys::CreateKeyRequest;
use ebsim_kms_client::{Identity, KmsClient};
use ebsim_snapshot::SnapshotStore;
use ebsim_volume::VolumeRoot;
use ebsim_workspaces::{CreateVolumeRequest, Ebs};

#[allow(missing_debug_implementations)]
pub struct Env {
    pub dir: tempfile::TempDir,
    pub kms: Arc<Kms>,
    pub client: KmsClient,
    pub ebs: Ebs,
    pub store: SnapshotStore,
}

pub fn region() -> Region {
    Region::parse("us-west-2").expect("region")
}

pub fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let kms = Arc::new(Kms::open(dir.path(), KmsConfig::default()).expect("kms"));
    let client = KmsClient::in_process(kms.clone());
    let ebs = Ebs::new(client.clone(), VolumeRoot::dir(dir.path()), "us-west-2");
    let store = SnapshotStore::open(dir.path(), client.clone(), region()).expect("store");
    Env {
        dir,
        kms,
        client,
        ebs,
        store,
    }
}

impl Env {
    pub fn volume(&self, size: u64) -> String {
        self.ebs
            .create_volume(&CreateVolumeRequest::new(size))
            .expect("create volume")
            .volume_id
    }

    pub fn write(&self, volume_id: &str, offset: u64, data: &[u8]) {
        let v = self.ebs.attach(volume_id).expect("attach");
        v.write_at(offset, data).expect("write");
        v.detach().expect("detach");
    }

    pub fn read_all(&self, volume_id: &str) -> Vec<u8> {
        let v = self.ebs.attach(volume_id).expect("attach");
        let mut buf = vec![0u8; v.size() as usize];
        v.read_at(0, &mut buf).expect("read");
        v.detach().expect("detach");
        buf
    }

    pub fn customer_key(&self) -> String {
        self.client
            .send(&Identity::Default, &CreateKeyRequest::default())
            .expect("create key")
            .key_metadata
            .arn
    }

    /// Files under DIR/snapshots/blocks.
    pub fn stored_blocks(&self) -> usize {
        count_files(&self.dir.path().join("snapshots/blocks"))
    }

    /// The audit trail's records as (eventName, requestParameters).
    pub fn audit(&self) -> Vec<(String, serde_json::Value)> {
        self.kms
            .audit_records()
            .into_iter()
            .map(|r| {
                (
                    r["eventName"].as_str().unwrap_or_default().to_owned(),
                    r["requestParameters"].clone(),
                )
            })
            .collect()
    }
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            let p = e.path();
            if p.is_dir() { count_files(&p) } else { 1 }
        })
        .sum()
}

/// Deterministic bytes: `len` bytes of a pattern seeded by `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
