//! Snapshots of unencrypted data (ebsim's own volumes are always encrypted, so these are made
//! here from their parts): copied with `Encrypted` they become encrypted, and volumes restored
//! from them are encrypted.

use std::sync::Arc;

use ebsim_kms::{Kms, KmsConfig};
use ebsim_kms_client::KmsClient;
use ebsim_workspaces::Ebs;

use crate::blocks::sha256;
use crate::manifest::{FORMAT, Manifest, now_rfc3339};
use crate::{
    BLOCK_SIZE, BlockRef, CopySnapshot, RestoreVolume, SnapshotId, SnapshotState, SnapshotStore,
};

fn plaintext(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
        .collect()
}

#[test]
fn an_unencrypted_snapshot_copied_with_encrypted_becomes_encrypted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kms = Arc::new(Kms::open(dir.path(), KmsConfig::default()).expect("kms"));
    let client = KmsClient::in_process(kms.clone());
    let region = ebsim_kms_api::Region::parse("us-west-2").expect("region");
    let store = SnapshotStore::open(dir.path(), client.clone(), region).expect("store");
    // 1 MiB + 8 KiB: two full blocks and a short one; block 1 is left empty.
    let size = 2 * BLOCK_SIZE + 8192;
    let b0 = plaintext(BLOCK_SIZE as usize, 1);
    let b2 = plaintext(8192, 2);
    let mut blocks = Vec::new();
    for (index, bytes) in [(0u64, &b0), (2, &b2)] {
        let sha = sha256(bytes);
        store.0.backend.put_block(&sha, bytes).expect("put");
        blocks.push(BlockRef { index, sha256: sha });
    }
    let id = SnapshotId::new();
    store
        .save(&Manifest {
            format: FORMAT,
            snapshot_id: id.clone(),
            volume_id: "vol-0123456789abcdef0".into(),
            region: "us-west-2".into(),
            owner_id: "111122223333".into(),
            parent: None,
            copied_from: None,
            size_bytes: size,
            sector_size: 4096,
            block_size: BLOCK_SIZE,
            encryption: None,
            description: String::new(),
            state: SnapshotState::Completed,
            state_message: None,
            start_time: now_rfc3339(),
            completion_time: None,
            progress: 100,
            changed_blocks: 2,
            blocks,
        })
        .expect("manifest");
    let plain = store.describe(id.as_str()).expect("describe");
    assert!(!plain.encrypted && plain.kms_key_id.is_none());

    // Without Encrypted the copy stays unencrypted and shares the blocks; a key alone is refused.
    let same = store
        .copy(CopySnapshot::new(id.as_str(), "us-west-2"))
        .expect("copy")
        .wait()
        .expect("done");
    assert!(!same.encrypted);
    let err = store
        .copy(CopySnapshot {
            kms_key_id: Some("alias/aws/ebs".into()),
            ..CopySnapshot::new(id.as_str(), "us-west-2")
        })
        .expect_err("a key without Encrypted");
    assert_eq!(err.code(), "InvalidParameterDependency");

    let enc = store
        .copy(CopySnapshot {
            encrypted: Some(true),
            ..CopySnapshot::new(id.as_str(), "us-west-2")
        })
        .expect("copy")
        .wait()
        .expect("encrypted copy");
    assert!(enc.encrypted);
    assert!(
        enc.kms_key_id
            .as_deref()
            .is_some_and(|k| k.contains(":key/"))
    );
    // Its blocks are ciphertext: none equals the plaintext.
    let stored = store
        .read_block(enc.snapshot_id.as_str(), 0)
        .expect("read")
        .expect("block 0");
    assert_ne!(stored, b0);
    // Encryption cannot be removed again.
    let err = store
        .copy(CopySnapshot {
            encrypted: Some(false),
            ..CopySnapshot::new(enc.snapshot_id.as_str(), "us-west-2")
        })
        .expect_err("remove encryption");
    assert_eq!(err.code(), "InvalidParameterValue");

    // Volumes restored from either read the plaintext back, and are encrypted.
    let ebs = Ebs::new(client, store.volumes().clone(), "us-west-2");
    for snap in [id.as_str(), enc.snapshot_id.as_str()] {
        let meta = store.restore(RestoreVolume::new(snap)).expect("restore");
        assert!(meta.kms_key_arn.contains(":key/"));
        let v = ebs.attach(&meta.volume_id).expect("attach");
        let mut back = vec![0u8; size as usize];
        v.read_at(0, &mut back).expect("read");
        assert_eq!(&back[..BLOCK_SIZE as usize], &b0[..]);
        assert!(
            back[BLOCK_SIZE as usize..2 * BLOCK_SIZE as usize]
                .iter()
                .all(|&b| b == 0)
        );
        assert_eq!(&back[2 * BLOCK_SIZE as usize..], &b2[..]);
        v.detach().expect("detach");
    }
}
