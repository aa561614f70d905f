//! Bad input gets a typed error with EC2's code and changes nothing; a snapshot of a volume
//! under concurrent writes holds every sector whole.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::{env, pattern};
use ebsim_snapshot::{BLOCK_SIZE, CopySnapshot, CreateSnapshot, RestoreVolume};

const MIB: u64 = 1 << 20;

#[test]
fn bad_input_is_refused_with_typed_errors_and_changes_nothing() {
    let e = env();
    let vol = e.volume(MIB);
    e.write(&vol, 0, &pattern(1, 4096));
    let s = e
        .store
        .create(CreateSnapshot::new(&vol))
        .expect("create")
        .wait()
        .expect("snap");
    let sid = s.snapshot_id.as_str();
    let volumes_before = e.ebs.volumes().list().expect("list").volumes.len();
    let audit_before = e.audit().len();
    let blocks_before = e.stored_blocks();
    let cases: Vec<(&str, ebsim_snapshot::SnapshotError)> = vec![
        (
            "InvalidVolumeID.Malformed",
            e.store
                .create(CreateSnapshot::new(sid))
                .expect_err("snap id as volume"),
        ),
        (
            "InvalidVolume.NotFound",
            e.store
                .create(CreateSnapshot::new("vol-0123456789abcdef0"))
                .expect_err("unknown volume"),
        ),
        (
            "InvalidSnapshotID.Malformed",
            e.store.describe(&vol).expect_err("volume id as snapshot"),
        ),
        (
            "InvalidSnapshot.NotFound",
            e.store
                .describe("snap-0123456789abcdef0")
                .expect_err("unknown"),
        ),
        (
            "InvalidSnapshot.NotFound",
            e.store
                .delete("snap-0123456789abcdef0")
                .expect_err("unknown"),
        ),
        (
            "InvalidSnapshotID.Malformed",
            e.store
                .restore(RestoreVolume::new("snap-XYZ"))
                .expect_err("malformed"),
        ),
        (
            "InvalidParameterValue",
            e.store
                .copy(CopySnapshot::new(sid, "us-nowhere-1"))
                .expect_err("unknown region"),
        ),
        (
            "InvalidSnapshot.NotFound",
            e.store
                .copy(CopySnapshot::new(sid, "eu-west-1"))
                .expect_err("not in that region"),
        ),
        (
            "InvalidParameterDependency",
            e.store
                .copy(CopySnapshot {
                    encrypted: Some(false),
                    kms_key_id: Some("alias/aws/ebs".into()),
                    ..CopySnapshot::new(sid, "us-west-2")
                })
                .expect_err("Encrypted=false with a key"),
        ),
        (
            "InvalidParameterValue",
            e.store
                .copy(CopySnapshot {
                    encrypted: Some(false),
                    ..CopySnapshot::new(sid, "us-west-2")
                })
                .expect_err("encryption removed"),
        ),
        (
            "InvalidParameterValue",
            e.store
                .restore(RestoreVolume {
                    size_bytes: Some(MIB - 4096),
                    ..RestoreVolume::new(sid)
                })
                .expect_err("size below the snapshot's"),
        ),
        (
            "InvalidParameterDependency",
            e.store
                .restore(RestoreVolume {
                    encrypted: Some(false),
                    kms_key_id: Some("alias/aws/ebs".into()),
                    ..RestoreVolume::new(sid)
                })
                .expect_err("Encrypted=false with a key"),
        ),
        (
            "InvalidKMSKey.Id",
            e.store
                .restore(RestoreVolume {
                    kms_key_id: Some("alias/no-such-key".into()),
                    ..RestoreVolume::new(sid)
                })
                .expect_err("unknown key"),
        ),
    ];
    for (code, err) in &cases {
        assert_eq!(err.code(), *code, "{err}");
        assert!(!err.to_string().is_empty());
    }
    assert_eq!(e.store.list().expect("list").len(), 1);
    assert_eq!(
        e.ebs.volumes().list().expect("list").volumes.len(),
        volumes_before
    );
    assert_eq!(e.stored_blocks(), blocks_before);
    // Only the DescribeKey of the unknown key reached KMS.
    let names: Vec<String> = e.audit()[audit_before..]
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    assert!(names.iter().all(|n| n == "DescribeKey"), "{names:?}");
}

#[test]
fn a_volume_attached_elsewhere_is_refused_without_its_holder() {
    let e = env();
    let vol = e.volume(MIB);
    let held = e.ebs.attach(&vol).expect("attach");
    let err = e
        .store
        .create(CreateSnapshot::new(&vol))
        .expect_err("attached");
    assert_eq!(err.code(), "IncorrectState");
    assert!(e.store.list().expect("list").is_empty());
    drop(held);
}

/// Sector `s` written in generation `g` holds `(g, s)` repeated; a snapshot taken while a
/// writer rewrites whole blocks must hold each sector of one generation, whole.
#[test]
fn a_snapshot_under_concurrent_writes_holds_every_sector_whole() {
    let e = env();
    let size = 8 * MIB;
    let vol = e.volume(size);
    let attached = Arc::new(e.ebs.attach(&vol).expect("attach"));
    let fill = |g: u64, block: u64| -> Vec<u8> {
        let mut buf = vec![0u8; BLOCK_SIZE as usize];
        for (i, sector) in buf.chunks_mut(4096).enumerate() {
            let s = block * (BLOCK_SIZE / 4096) + i as u64;
            for word in sector.chunks_mut(16) {
                word[..8].copy_from_slice(&g.to_le_bytes());
                word[8..].copy_from_slice(&s.to_le_bytes());
            }
        }
        buf
    };
    let blocks = size / BLOCK_SIZE;
    for b in 0..blocks {
        attached
            .write_at(b * BLOCK_SIZE, &fill(1, b))
            .expect("write");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let generation = Arc::new(AtomicU64::new(1));
    let writer = {
        let (v, stop, generation) = (attached.clone(), stop.clone(), generation.clone());
        std::thread::spawn(move || {
            let mut g = 1;
            while !stop.load(Ordering::Relaxed) {
                g += 1;
                generation.store(g, Ordering::Relaxed);
                for b in 0..blocks {
                    // Writes that straddle two blocks, and whole ones.
                    let off = b * BLOCK_SIZE + if g % 2 == 0 { 0 } else { BLOCK_SIZE / 2 };
                    let len = (size - off).min(BLOCK_SIZE) as usize;
                    let mut d = vec![0u8; len];
                    for (i, sector) in d.chunks_mut(4096).enumerate() {
                        let s = off / 4096 + i as u64;
                        for word in sector.chunks_mut(16) {
                            word[..8].copy_from_slice(&g.to_le_bytes());
                            word[8..].copy_from_slice(&s.to_le_bytes());
                        }
                    }
                    v.write_at(off, &d).expect("write");
                }
            }
        })
    };
    let mut snaps = Vec::new();
    for _ in 0..3 {
        let job = e
            .store
            .create(CreateSnapshot::of_attached(attached.clone()))
            .expect("create while writing");
        snaps.push(job.wait().expect("snapshot"));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    let last = generation.load(Ordering::Relaxed);
    assert!(last > 2, "the writer ran during the snapshots");
    drop(attached);
    for s in snaps {
        let r = e
            .store
            .restore(RestoreVolume::new(s.snapshot_id.as_str()))
            .expect("restore");
        let data = e.read_all(&r.volume_id);
        for (s, sector) in data.chunks(4096).enumerate() {
            let g = u64::from_le_bytes(sector[..8].try_into().expect("8"));
            assert!((1..=last).contains(&g), "sector {s}: generation {g}");
            for word in sector.chunks(16) {
                assert_eq!(
                    u64::from_le_bytes(word[..8].try_into().expect("8")),
                    g,
                    "sector {s} torn"
                );
                assert_eq!(
                    u64::from_le_bytes(word[8..].try_into().expect("8")),
                    s as u64,
                    "sector {s} misplaced"
                );
            }
        }
    }
}
