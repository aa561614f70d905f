//! Snapshots written block by block (EBS direct): encrypted as volume sectors are, read back as
//! plaintext, inherited by a child, and left in `error` when their writer goes away.

use std::sync::Arc;

use ebsim_kms::{Kms, KmsConfig};
use ebsim_kms_client::KmsClient;

use crate::blocks::sha256;
use crate::{
    BLOCK_SIZE, DIRECT_VOLUME_ID, SnapshotError, SnapshotState, SnapshotStore, StartDirect,
};

const ROOT: &str = "arn:aws:iam::111122223333:root";

fn store(dir: &std::path::Path) -> SnapshotStore {
    let kms = Arc::new(Kms::open(dir, KmsConfig::default()).expect("kms"));
    let region = ebsim_kms_api::Region::parse("us-west-2").expect("region");
    SnapshotStore::open(dir, KmsClient::in_process(kms), region).expect("store")
}

fn block(seed: u8) -> Vec<u8> {
    let mut b: Vec<u8> = (0..BLOCK_SIZE as usize)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
        .collect();
    // Sector 3 is all zeros: it stays a hole in the stored block, as in a volume's data.img.
    b[3 * 512..4 * 512].fill(0);
    b
}

fn start(
    store: &SnapshotStore,
    parent: Option<&crate::SnapshotId>,
    key: Option<&str>,
) -> crate::DirectWriter {
    store
        .start_direct(StartDirect {
            volume_size_gib: 1,
            parent: parent.cloned(),
            kms_key_id: key.map(str::to_owned),
            description: Some("direct".into()),
            caller: ROOT.into(),
        })
        .expect("started")
}

#[test]
fn blocks_are_stored_encrypted_and_read_back_as_plaintext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path());
    let mut w = start(&store, None, Some("alias/aws/ebs"));
    let id = w.id().clone();
    assert_eq!(w.block_count(), 2048);
    let (b0, b5) = (block(1), block(2));
    w.put(ROOT, 0, &b0, sha256(&b0), Some(10)).expect("put 0");
    w.put(ROOT, 5, &b5, sha256(&b5), None).expect("put 5");
    w.put(
        ROOT,
        9,
        &vec![0; BLOCK_SIZE as usize],
        sha256(&[0; 8]),
        None,
    )
    .expect("a zero block");
    // Bad input changes nothing.
    assert!(matches!(
        w.put(ROOT, 2048, &b0, sha256(&b0), None),
        Err(SnapshotError::InvalidParameter(_))
    ));
    assert!(matches!(
        w.put(ROOT, 1, &b0[..4096], sha256(&b0), None),
        Err(SnapshotError::InvalidParameter(_))
    ));
    assert_eq!(w.written(), 3);
    let s = store.describe(id.as_str()).expect("described");
    assert_eq!(s.state, SnapshotState::Pending);
    assert!(s.encrypted && s.volume_id == DIRECT_VOLUME_ID);
    assert!(
        store.read_plain(&id, 0, ROOT).is_err(),
        "pending snapshots are not read"
    );
    let mut digests = sha256(&b0).to_vec();
    digests.extend_from_slice(&sha256(&b5));
    digests.extend_from_slice(&sha256(&[0; 8]));
    assert_eq!(w.aggregate_checksum(), sha256(&digests));
    let done = w.complete().expect("completed");
    assert_eq!(done.state, SnapshotState::Completed);
    assert_eq!(done.changed_blocks, 3);
    let listed: Vec<u64> = store
        .blocks(id.as_str())
        .expect("blocks")
        .iter()
        .map(|b| b.index)
        .collect();
    assert_eq!(listed, [0, 5], "the zero block is a hole");
    let stored = store
        .read_block(id.as_str(), 0)
        .expect("read")
        .expect("held");
    assert_ne!(stored, b0, "stored as ciphertext");
    assert!(
        stored[3 * 512..4 * 512].iter().all(|&x| x == 0),
        "a zero sector stays zeros"
    );
    assert_eq!(
        store.read_plain(&id, 0, ROOT).expect("read").expect("held"),
        b0
    );
    assert_eq!(
        store.read_plain(&id, 5, ROOT).expect("read").expect("held"),
        b5
    );
    assert_eq!(store.read_plain(&id, 7, ROOT).expect("read"), None);

    // A child shares the key and inherits the blocks.
    let mut c = start(&store, Some(&id), None);
    let b5b = block(9);
    c.put(ROOT, 5, &b5b, sha256(&b5b), None).expect("put");
    let child = c.complete().expect("completed");
    assert_eq!(child.data_encryption_key_id, done.data_encryption_key_id);
    assert_eq!(child.parent.as_ref(), Some(&id));
    assert_eq!(child.changed_blocks, 1);
    let cid = child.snapshot_id;
    assert_eq!(
        store
            .read_plain(&cid, 0, ROOT)
            .expect("read")
            .expect("held"),
        b0
    );
    assert_eq!(
        store
            .read_plain(&cid, 5, ROOT)
            .expect("read")
            .expect("held"),
        b5b
    );
    assert_eq!(
        store.read_plain(&id, 5, ROOT).expect("read").expect("held"),
        b5,
        "the parent unchanged"
    );
}

#[test]
fn an_unencrypted_snapshot_stores_plaintext_and_a_lost_writer_leaves_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path());
    let mut w = start(&store, None, None);
    let b = block(3);
    w.put(ROOT, 1, &b, sha256(&b), None).expect("put");
    let id = w.id().clone();
    let s = w.complete().expect("completed");
    assert!(!s.encrypted);
    assert_eq!(
        store
            .read_block(id.as_str(), 1)
            .expect("read")
            .expect("held"),
        b
    );
    // A child of an unencrypted parent is unencrypted; a writer dropped leaves it in error.
    let c = start(&store, Some(&id), Some("alias/aws/ebs"));
    let cid = c.id().clone();
    assert!(!c.snapshot().encrypted);
    drop(c);
    assert_eq!(
        store.describe(cid.as_str()).expect("described").state,
        SnapshotState::Error
    );
    // A parent larger than the size asked for is refused.
    let big = store
        .start_direct(StartDirect {
            volume_size_gib: 0,
            parent: None,
            kms_key_id: None,
            description: None,
            caller: ROOT.into(),
        })
        .expect_err("size 0");
    assert!(matches!(big, SnapshotError::InvalidParameter(_)));
}
