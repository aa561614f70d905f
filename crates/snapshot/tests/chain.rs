//! Incremental snapshots, deleting inside a chain, restores byte for byte, and copies under
//! another customer key (with the KMS calls in the audit trail).

mod common;

use common::{env, pattern};
use ebsim_snapshot::{BLOCK_SIZE, CopySnapshot, CreateSnapshot, RestoreVolume, SnapshotState};

const MIB: u64 = 1 << 20;

#[test]
fn second_snapshot_stores_only_changed_blocks() {
    let e = env();
    let vol = e.volume(8 * MIB);
    e.write(&vol, 0, &pattern(1, 8 * MIB as usize));
    let audit_before = e.audit().len();
    let s1 = e
        .store
        .create(CreateSnapshot::new(&vol))
        .expect("create")
        .wait()
        .expect("s1");
    // CreateSnapshot makes no KMS call.
    assert_eq!(e.audit().len(), audit_before);
    assert_eq!(s1.state, SnapshotState::Completed);
    assert_eq!(s1.progress, 100);
    assert_eq!(s1.block_count, 16);
    assert_eq!(s1.changed_blocks, 16);
    assert_eq!(e.stored_blocks(), 16);
    // Two blocks change (one partly, one in a single sector).
    e.write(&vol, 3 * BLOCK_SIZE + 4096, &pattern(2, 8192));
    e.write(&vol, 10 * BLOCK_SIZE, &pattern(3, 4096));
    let s2 = e
        .store
        .create(CreateSnapshot::new(&vol))
        .expect("create")
        .wait()
        .expect("s2");
    assert_eq!(s2.parent.as_ref(), Some(&s1.snapshot_id));
    assert_eq!(s2.block_count, 16);
    assert_eq!(s2.changed_blocks, 2);
    assert_eq!(e.stored_blocks(), 18);
    assert_eq!(s2.data_encryption_key_id, s1.data_encryption_key_id);
    assert_eq!(s2.kms_key_id, s1.kms_key_id);
    let want = e.read_all(&vol);
    let restored = e
        .store
        .restore(RestoreVolume::new(s2.snapshot_id.as_str()))
        .expect("restore");
    // Within the lineage: the volume keeps the lineage's wrapped key and context.
    assert_eq!(restored.encryption_context["aws:ebs:id"], vol);
    assert_eq!(e.read_all(&restored.volume_id), want);
}

#[test]
fn deleting_the_middle_of_a_chain_keeps_what_later_snapshots_need() {
    let e = env();
    let vol = e.volume(4 * MIB);
    e.write(&vol, 0, &pattern(1, 4 * MIB as usize));
    let s1 = e
        .store
        .create(CreateSnapshot::new(&vol))
        .expect("c1")
        .wait()
        .expect("s1");
    e.write(&vol, BLOCK_SIZE, &pattern(2, BLOCK_SIZE as usize));
    let s2 = e
        .store
        .create(CreateSnapshot::new(&vol))
        .expect("c2")
        .wait()
        .expect("s2");
    e.write(&vol, 5 * BLOCK_SIZE, &pattern(3, 100));
    let v3 = e.read_all(&vol);
    let s3 = e
        .store
        .create(CreateSnapshot::new(&vol))
        .expect("c3")
        .wait()
        .expect("s3");
    assert_eq!(s3.parent.as_ref(), Some(&s2.snapshot_id));
    assert_eq!(e.stored_blocks(), 8 + 1 + 1);
    e.store.delete(s2.snapshot_id.as_str()).expect("delete s2");
    assert_eq!(
        e.store
            .describe(s2.snapshot_id.as_str())
            .expect_err("gone")
            .code(),
        "InvalidSnapshot.NotFound"
    );
    // s2's block 1 is s3's too; only blocks no snapshot lists go.
    assert_eq!(e.stored_blocks(), 10);
    let r3 = e
        .store
        .restore(RestoreVolume::new(s3.snapshot_id.as_str()))
        .expect("restore s3");
    assert_eq!(e.read_all(&r3.volume_id), v3);
    e.store.delete(s1.snapshot_id.as_str()).expect("delete s1");
    // s1's original block 1 is now unreferenced.
    assert_eq!(e.stored_blocks(), 8);
    let r3b = e
        .store
        .restore(RestoreVolume::new(s3.snapshot_id.as_str()))
        .expect("restore s3 again");
    assert_eq!(e.read_all(&r3b.volume_id), v3);
    e.store.delete(s3.snapshot_id.as_str()).expect("delete s3");
    assert_eq!(e.stored_blocks(), 0);
    assert!(e.store.list().expect("list").is_empty());
}

#[test]
fn copy_under_another_key_then_restore_reads_the_same_bytes() {
    let e = env();
    let key = e.customer_key();
    let vol = e.volume(2 * MIB + 8192);
    e.write(&vol, 12345, &pattern(9, 1_500_000));
    let want = e.read_all(&vol);
    let s = e
        .store
        .create(CreateSnapshot::new(&vol))
        .expect("create")
        .wait()
        .expect("snap");
    let before = e.audit().len();
    let copy = e
        .store
        .copy(CopySnapshot {
            kms_key_id: Some(key.clone()),
            ..CopySnapshot::new(s.snapshot_id.as_str(), "us-west-2")
        })
        .expect("copy")
        .wait()
        .expect("copied");
    assert!(copy.encrypted);
    assert_eq!(copy.kms_key_id.as_deref(), Some(key.as_str()));
    assert_ne!(copy.data_encryption_key_id, s.data_encryption_key_id);
    assert_eq!(copy.block_count, s.block_count);
    assert_eq!(
        copy.description,
        format!("[Copied {} from us-west-2]", s.snapshot_id)
    );
    let calls = &e.audit()[before..];
    let gdk = calls
        .iter()
        .find(|(n, _)| n == "GenerateDataKeyWithoutPlaintext")
        .expect("a new data key for the copy");
    assert_eq!(
        gdk.1["encryptionContext"]["aws:ebs:id"],
        copy.snapshot_id.as_str()
    );
    assert_eq!(gdk.1["numberOfBytes"], 64);
    let decrypts: Vec<_> = calls.iter().filter(|(n, _)| n == "Decrypt").collect();
    assert_eq!(
        decrypts.len(),
        2,
        "the source's key and the copy's: {calls:?}"
    );
    assert!(
        decrypts
            .iter()
            .any(|(_, p)| p["encryptionContext"]["aws:ebs:id"] == vol.as_str())
    );
    // The copy's blocks are its own ciphertext.
    assert_eq!(e.stored_blocks() as u64, 2 * s.block_count);
    let before = e.audit().len();
    let r = e
        .store
        .restore(RestoreVolume::new(copy.snapshot_id.as_str()))
        .expect("restore");
    assert_eq!(r.kms_key_arn, key);
    assert_eq!(
        r.encryption_context["aws:ebs:id"],
        copy.snapshot_id.as_str()
    );
    let names: Vec<String> = e.audit()[before..].iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, ["GenerateDataKeyWithoutPlaintext", "CreateGrant"]);
    assert_eq!(e.read_all(&r.volume_id), want);
    // And under yet another key at restore: a new data key, the blocks re-encrypted.
    let key2 = e.customer_key();
    let r2 = e
        .store
        .restore(RestoreVolume {
            kms_key_id: Some(key2.clone()),
            size_bytes: Some(4 * MIB),
            ..RestoreVolume::new(copy.snapshot_id.as_str())
        })
        .expect("restore under key2");
    assert_eq!(r2.encryption_context["aws:ebs:id"], r2.volume_id);
    assert!(r2.metadata_mac.is_some(), "bound at restore");
    let back = e.read_all(&r2.volume_id);
    assert_eq!(&back[..want.len()], &want[..]);
    assert!(back[want.len()..].iter().all(|&b| b == 0));
}

#[test]
fn a_copy_under_the_same_key_shares_blocks_and_makes_no_kms_call() {
    let e = env();
    let vol = e.volume(MIB);
    e.write(&vol, 0, &pattern(4, MIB as usize));
    let s = e
        .store
        .create(CreateSnapshot::new(&vol))
        .expect("create")
        .wait()
        .expect("snap");
    let before = e.audit().len();
    let c = e
        .store
        .copy(CopySnapshot::new(s.snapshot_id.as_str(), "us-west-2"))
        .expect("copy")
        .wait()
        .expect("copied");
    assert_eq!(e.audit().len(), before);
    assert_eq!(c.data_encryption_key_id, s.data_encryption_key_id);
    assert_eq!(e.stored_blocks(), 2);
    e.store
        .delete(s.snapshot_id.as_str())
        .expect("delete source");
    assert_eq!(e.stored_blocks(), 2);
    let r = e
        .store
        .restore(RestoreVolume::new(c.snapshot_id.as_str()))
        .expect("restore");
    assert_eq!(e.read_all(&r.volume_id), e.read_all(&vol));
}

#[test]
fn a_corrupt_or_missing_block_is_a_typed_error_and_a_failed_restore_leaves_no_volume() {
    let e = env();
    let vol = e.volume(MIB);
    e.write(&vol, 0, &pattern(5, MIB as usize));
    let s = e
        .store
        .create(CreateSnapshot::new(&vol))
        .expect("create")
        .wait()
        .expect("snap");
    let blocks = e.store.blocks(s.snapshot_id.as_str()).expect("blocks");
    assert_eq!(blocks.len(), 2);
    let h = blocks[0].sha256_hex();
    let path = e.dir.path().join("snapshots/blocks").join(&h[..2]).join(&h);
    let mut bytes = std::fs::read(&path).expect("block");
    bytes[100] ^= 1;
    std::fs::write(&path, &bytes).expect("corrupt it");
    let err = e
        .store
        .read_block(s.snapshot_id.as_str(), 0)
        .expect_err("corrupt");
    assert_eq!(err.code(), "InternalError");
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    // The other block still reads.
    assert!(
        e.store
            .read_block(s.snapshot_id.as_str(), 1)
            .expect("read")
            .is_some()
    );
    std::fs::remove_file(&path).expect("remove");
    let volumes = e.ebs.volumes().list().expect("list").volumes.len();
    let err = e
        .store
        .restore(RestoreVolume::new(s.snapshot_id.as_str()))
        .expect_err("missing");
    assert!(err.to_string().contains("missing"), "{err}");
    assert_eq!(e.ebs.volumes().list().expect("list").volumes.len(), volumes);
    // Its grant was retired again.
    assert_eq!(
        e.audit().last().map(|(n, _)| n.as_str()),
        Some("RetireGrant")
    );
}
