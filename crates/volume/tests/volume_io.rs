//! Volume create / attach / I/O / detach against a stand-in unwrap closure (the KMS path is
//! tested end to end in the root crate's tests).

use std::sync::Arc;

use aes::Aes256;
use aes::cipher::KeyInit;
use ebsim_io::SectorSize;
use ebsim_kms::{ErrorType, KmsError};
use ebsim_kms_client::{ClientError, EncryptionContext};
use ebsim_volume::{
    AttachedVolume, NewVolume, VolumeError, VolumeMetadata, VolumeRoot, new_volume_id,
};
use xts_mode::{Xts128, get_tweak_default};

const KEY: [u8; 64] = {
    let mut k = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        k[i] = (i as u8).wrapping_mul(37).wrapping_add(11);
        i += 1;
    }
    k
};
const WRAPPED: &[u8] = b"wrapped-by-a-stand-in";

fn create(root: &VolumeRoot, size: u64, ss: SectorSize) -> String {
    let id = new_volume_id();
    root.create(NewVolume {
        volume_id: id.clone(),
        size_bytes: size,
        sector_size: ss,
        kms_key_arn: "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            .into(),
        wrapped_key: WRAPPED.to_vec(),
        context: EncryptionContext::ebs(&id).expect("valid id"),
        grant_id: None,
        grantee_principal: None,
        retiring_principal: None,
        owner: None,
    })
    .expect("create");
    id
}

/// Unwraps only the stand-in blob under the volume's own context (like KMS would).
fn unwrap(blob: &[u8], ctx: &EncryptionContext) -> Result<Vec<u8>, ClientError> {
    if blob == WRAPPED && ctx.get("aws:ebs:id").is_some() {
        Ok(KEY.to_vec())
    } else {
        Err(ClientError::Kms(KmsError::invalid_ciphertext()))
    }
}

fn attach(root: &VolumeRoot, id: &str) -> AttachedVolume {
    root.attach_with(id, unwrap).expect("attach")
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed | 1)
        .collect()
}

#[test]
fn unaligned_writes_survive_detach_and_reattach() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = VolumeRoot::dir(dir.path());
    for ss in [SectorSize::S512, SectorSize::S4096] {
        let id = create(&root, 4 << 20, ss);
        let vol = attach(&root, &id);
        let writes = [
            (0u64, 1usize),
            (511, 2),
            (4095, 4099),
            (100_000, 300_000),
            ((4 << 20) - 7, 7),
        ];
        for (n, &(off, len)) in writes.iter().enumerate() {
            vol.write_at(off, &pattern(len, n as u8)).expect("write");
        }
        vol.detach().expect("detach");
        let vol = attach(&root, &id);
        for (n, &(off, len)) in writes.iter().enumerate() {
            let mut buf = vec![0u8; len];
            vol.read_at(off, &mut buf).expect("read");
            assert_eq!(buf, pattern(len, n as u8), "write {n} at {off}");
        }
        // Bytes around the writes stay zero.
        let mut b = [0xffu8; 3];
        vol.read_at(1, &mut b[..1]).expect("read");
        vol.read_at(2_000_000, &mut b).expect("read");
        assert_eq!(b, [0, 0, 0]);
        vol.detach().expect("detach");
    }
}

#[test]
fn data_img_is_dm_crypt_plain64_and_zero_plaintext_is_a_hole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = VolumeRoot::dir(dir.path());
    let id = create(&root, 1 << 20, SectorSize::S4096);
    let vol = attach(&root, &id);
    let data = pattern(3 * 4096, 9);
    vol.write_at(8192, &data).expect("write");
    vol.write_at(12288, &[0u8; 4096]).expect("write zeros");
    vol.detach().expect("detach");

    let img =
        std::fs::read(dir.path().join("volumes").join(&id).join("data.img")).expect("read img");
    assert_eq!(img.len(), 1 << 20);
    // Independent XTS: key1 ‖ key2, tweak = sector number little-endian.
    let xts = Xts128::new(
        Aes256::new((&KEY[..32]).try_into().expect("32")),
        Aes256::new((&KEY[32..]).try_into().expect("32")),
    );
    let mut ct = img[8192..8192 + 3 * 4096].to_vec();
    assert!(
        ct[..4096] != data[..4096],
        "ciphertext on disk, not plaintext"
    );
    // Sector 3 was overwritten with zeros: a hole, not ciphertext.
    assert!(img[12288..16384].iter().all(|&b| b == 0));
    xts.decrypt_area(&mut ct[..4096], 4096, 2, get_tweak_default);
    xts.decrypt_area(&mut ct[8192..], 4096, 4, get_tweak_default);
    assert!(
        ct[..4096] == data[..4096],
        "sector 2 decrypts independently"
    );
    assert!(
        ct[8192..] == data[8192..],
        "sector 4 decrypts independently"
    );
    // Never-written sectors are zeros too.
    assert!(img[..8192].iter().all(|&b| b == 0));
    assert!(img[20480..].iter().all(|&b| b == 0));
}

#[test]
fn trim_reads_zeros_and_keeps_neighbours() {
    let root = VolumeRoot::in_memory();
    let id = create(&root, 1 << 20, SectorSize::S512);
    let vol = attach(&root, &id);
    let data = pattern(8192, 3);
    vol.write_at(0, &data).expect("write");
    vol.trim(100, 5000).expect("trim");
    let mut back = vec![0u8; 8192];
    vol.read_at(0, &mut back).expect("read");
    assert_eq!(back[..100], data[..100]);
    assert!(back[100..5100].iter().all(|&b| b == 0));
    assert_eq!(back[5100..], data[5100..]);
}

#[test]
fn second_attach_is_refused_until_detach() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = VolumeRoot::dir(dir.path());
    let id = create(&root, 1 << 20, SectorSize::S4096);
    let vol = attach(&root, &id);
    let err = root.attach_with(&id, unwrap).expect_err("second attach");
    assert!(
        matches!(err, VolumeError::InUse(ref v) if *v == id),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("volume {id} is in use by another process")
    );
    assert!(matches!(root.delete(&id), Err(VolumeError::InUse(_))));
    drop(vol); // drop releases like detach
    attach(&root, &id).detach().expect("detach");
    root.delete(&id).expect("delete");
    assert!(matches!(root.load(&id), Err(VolumeError::NotFound(_))));

    let mem = VolumeRoot::in_memory();
    let id = create(&mem, 1 << 20, SectorSize::S4096);
    let vol = attach(&mem, &id);
    assert!(matches!(
        mem.attach_with(&id, unwrap),
        Err(VolumeError::InUse(_))
    ));
    vol.detach().expect("detach");
    attach(&mem, &id);
}

#[test]
fn kms_refusal_is_typed_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = VolumeRoot::dir(dir.path());
    let id = create(&root, 1 << 20, SectorSize::S4096);
    let meta_path = dir.path().join("volumes").join(&id).join("metadata.json");
    let before = std::fs::read(&meta_path).expect("read");
    for (ty, words) in [
        (ErrorType::DisabledException, "disabled"),
        (ErrorType::KMSInvalidStateException, "pending deletion"),
        (ErrorType::AccessDeniedException, "not allowed"),
        (ErrorType::KMSInternalException, "outage"),
    ] {
        let err = root
            .attach_with(&id, |_, _| {
                Err::<Vec<u8>, _>(ClientError::Kms(KmsError::bare(ty)))
            })
            .expect_err("refused");
        assert_eq!(err.kms_error_type(), Some(ty));
        let msg = err.to_string();
        assert!(
            msg.contains(ty.name()) && msg.contains(words) && msg.contains(&id),
            "{msg}"
        );
    }
    assert_eq!(std::fs::read(&meta_path).expect("read"), before);
    // The lock was released each time.
    attach(&root, &id);
}

#[test]
fn bad_input_is_typed_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = VolumeRoot::dir(dir.path());
    let id = create(&root, 1 << 20, SectorSize::S4096);
    let vol = attach(&root, &id);
    vol.write_at(0, b"keep").expect("write");
    for (off, len) in [(1u64 << 20, 1usize), ((1 << 20) - 1, 2), (u64::MAX, 1)] {
        let err = vol
            .write_at(off, &vec![1u8; len])
            .expect_err("out of range");
        assert!(matches!(err, VolumeError::OutOfRange { .. }), "{err}");
        let err = vol
            .read_at(off, &mut vec![0u8; len])
            .expect_err("out of range");
        assert!(matches!(err, VolumeError::OutOfRange { .. }), "{err}");
    }
    assert!(matches!(
        vol.trim(1 << 20, 1),
        Err(VolumeError::OutOfRange { .. })
    ));
    let mut b = [0u8; 4];
    vol.read_at(0, &mut b).expect("read");
    assert_eq!(&b, b"keep");
    vol.detach().expect("detach");

    // Invalid ids and sizes.
    assert!(matches!(
        root.load("vol-XYZ"),
        Err(VolumeError::InvalidVolumeId(_))
    ));
    assert!(matches!(
        root.load("../etc"),
        Err(VolumeError::InvalidVolumeId(_))
    ));
    let mut bad = NewVolume {
        volume_id: new_volume_id(),
        size_bytes: 1000,
        sector_size: SectorSize::S4096,
        kms_key_arn: "k".into(),
        wrapped_key: WRAPPED.to_vec(),
        context: EncryptionContext::default(),
        grant_id: None,
        grantee_principal: None,
        retiring_principal: None,
        owner: None,
    };
    assert!(matches!(
        root.create(bad.clone()),
        Err(VolumeError::InvalidSize { .. })
    ));
    bad.size_bytes = 4096;
    assert!(
        matches!(root.create(bad), Err(VolumeError::CorruptMetadata { .. })),
        "context must name the volume"
    );

    // Corrupt metadata: typed error, file untouched.
    let vdir = dir.path().join("volumes").join(&id);
    std::fs::write(vdir.join("metadata.json"), b"{\"volume_id\": 3").expect("write");
    let err = root.attach_with(&id, unwrap).expect_err("corrupt");
    assert!(matches!(err, VolumeError::CorruptMetadata { .. }), "{err}");
    assert_eq!(
        std::fs::read(vdir.join("metadata.json")).expect("read"),
        b"{\"volume_id\": 3"
    );
    // The listing names it apart and lists the rest.
    let listing = root.list().expect("list");
    assert_eq!(listing.broken.len(), 1);
    assert_eq!(listing.broken[0].volume_id, id);
    assert!(matches!(
        listing.broken[0].error,
        VolumeError::CorruptMetadata { .. }
    ));
    assert!(listing.volumes.iter().all(|m| m.volume_id != id));

    // A data.img that is not the volume's data file.
    let id2 = create(&root, 1 << 20, SectorSize::S4096);
    let vdir2 = dir.path().join("volumes").join(&id2);
    std::fs::write(vdir2.join("data.img"), b"not a volume").expect("write");
    let err = root.attach_with(&id2, unwrap).expect_err("not a volume");
    assert!(
        matches!(err, VolumeError::Io(ebsim_io::IoError::NotAVolume { .. })),
        "{err}"
    );
    assert_eq!(
        std::fs::read(vdir2.join("data.img")).expect("read"),
        b"not a volume"
    );
    // Metadata of another volume copied into this dir.
    let mut meta: VolumeMetadata =
        serde_json::from_slice(&std::fs::read(vdir2.join("metadata.json")).expect("read"))
            .expect("json");
    meta.volume_id = new_volume_id();
    std::fs::write(
        vdir2.join("metadata.json"),
        serde_json::to_vec(&meta).expect("json"),
    )
    .expect("write");
    assert!(matches!(
        root.load(&id2),
        Err(VolumeError::CorruptMetadata { .. })
    ));
}

#[test]
fn concurrent_writers_never_tear_a_sector() {
    let root = VolumeRoot::in_memory();
    let ss = 4096usize;
    let id = create(&root, 64 * ss as u64, SectorSize::S4096);
    let vol = Arc::new(attach(&root, &id));
    let rounds = 200;
    std::thread::scope(|s| {
        // Writers: runs that overlap each other and straddle sector boundaries; every sector
        // a writer touches is filled entirely with the writer's byte for that round.
        for w in 0..3u8 {
            let vol = &vol;
            s.spawn(move || {
                for r in 0..rounds {
                    let first = (r * 7 + usize::from(w) * 5) % 60;
                    let count = 1 + (r + usize::from(w)) % 4;
                    let byte = 1 + (w * 80) + (r % 79) as u8;
                    vol.write_at((first * ss) as u64, &vec![byte; count * ss])
                        .expect("write");
                }
            });
        }
        // Readers: every sector read is uniform (one writer's whole sector, or zeros).
        for _ in 0..2 {
            let vol = &vol;
            s.spawn(move || {
                let mut buf = vec![0u8; 64 * ss];
                for _ in 0..rounds / 4 {
                    vol.read_at(0, &mut buf).expect("read");
                    for (i, sector) in buf.chunks_exact(ss).enumerate() {
                        assert!(sector.iter().all(|&b| b == sector[0]), "sector {i} torn");
                    }
                }
            });
        }
    });
}

#[test]
fn large_requests_fan_out_and_match_small_ones() {
    let root = VolumeRoot::in_memory();
    let id = create(&root, 8 << 20, SectorSize::S512);
    let vol = attach(&root, &id);
    let big = pattern(3 << 20, 5);
    vol.write_at(4096 + 17, &big).expect("big write");
    // Read back sector-sized pieces on this thread.
    let mut small = vec![0u8; big.len()];
    for (n, chunk) in small.chunks_mut(512).enumerate() {
        vol.read_at(4096 + 17 + (n * 512) as u64, chunk)
            .expect("read");
    }
    assert_eq!(small, big);
}

#[test]
fn in_place_writes_store_what_write_at_stores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = VolumeRoot::dir(dir.path());
    let size = 4u64 << 20;
    let (a_id, b_id) = (
        create(&root, size, SectorSize::S4096),
        create(&root, size, SectorSize::S4096),
    );
    let (a, b) = (attach(&root, &a_id), attach(&root, &b_id));
    b.set_parallel_crypto(false);
    // Whole sectors (one all-zero sector in the middle becomes a hole), a long run, and an
    // unaligned request (read-modify-write through write_at).
    let mut with_zero = pattern(5 * 4096, 1);
    with_zero[2 * 4096..3 * 4096].fill(0);
    let writes: Vec<(u64, Vec<u8>)> = vec![
        (8192, with_zero),
        (1 << 20, pattern(1 << 20, 2)),
        (40 * 4096 + 100, pattern(9000, 3)),
        (size - 4096, pattern(4096, 4)),
    ];
    for (off, data) in &writes {
        a.write_at(*off, data).expect("write_at");
        let mut buf = data.clone();
        b.write_at_in_place(*off, &mut buf)
            .expect("write_at_in_place");
    }
    // Out of range: refused, nothing changed, the buffer untouched.
    let mut buf = pattern(8192, 9);
    let err = b
        .write_at_in_place(size - 4096, &mut buf)
        .expect_err("out of range");
    assert!(matches!(err, VolumeError::OutOfRange { .. }), "{err}");
    assert_eq!(buf, pattern(8192, 9));
    let (mut ra, mut rb) = (vec![0u8; size as usize], vec![0u8; size as usize]);
    a.read_at(0, &mut ra).expect("read");
    b.read_at(0, &mut rb).expect("read");
    assert_eq!(ra, rb);
    assert_eq!(&rb[size as usize - 4096..], &pattern(4096, 4)[..]);
    assert!(rb[2 * 4096 + 8192..3 * 4096 + 8192].iter().all(|&x| x == 0));
    a.detach().expect("detach");
    b.detach().expect("detach");
    // Same key, same tweaks: the two data files hold the same ciphertext and the same holes.
    let img = |id: &str| std::fs::read(dir.path().join("volumes").join(id).join("data.img"));
    let (ia, ib) = (img(&a_id).expect("a"), img(&b_id).expect("b"));
    assert!(ia == ib, "data.img files differ");
    assert!(
        ib[4 * 4096..5 * 4096].iter().all(|&x| x == 0),
        "zero sector is a hole"
    );
    assert_ne!(&ib[size as usize - 4096..], &pattern(4096, 4)[..]);
}

/// Writers encrypting straight into a volume's mapped data file race readers decrypting
/// straight out of it, over the same sectors: every read sees one whole write (all sectors of
/// a request carry the same writer's pattern), never a torn mix. The volume's one range lock
/// per request keeps requests whole (the mmap store takes none of its own), and the fence after
/// the kernels' non-temporal stores makes a finished write visible whole.
#[test]
fn one_pass_writers_and_readers_on_mmap_never_see_torn_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = VolumeRoot::dir(dir.path());
    let ss = 4096usize;
    let id = create(&root, 4 << 20, SectorSize::S4096);
    let vol = attach(&root, &id);
    // Requests of 16 sectors (64 KiB, long enough for non-temporal stores) at 8 places, each
    // written whole by every writer; a sector's bytes differ per sector and per writer.
    const SECTORS: usize = 16;
    let places: Vec<u64> = (0..8).map(|i| (i * 40 + 3) * ss as u64).collect();
    let request = |at: u64, writer: u8| -> Vec<u8> {
        let first = at / ss as u64;
        (0..SECTORS * ss)
            .map(|i| ((first as usize + i / ss) as u8).wrapping_mul(29) ^ (i as u8) ^ writer | 1)
            .collect()
    };
    // Written once first, so that every later write goes through the map.
    for &at in &places {
        vol.write_at_in_place(at, &mut request(at, 0))
            .expect("prefill");
    }
    std::thread::scope(|s| {
        for w in 1..=2u8 {
            let (vol, places, request) = (&vol, &places, &request);
            s.spawn(move || {
                for round in 0..1000 {
                    let at = places[round % places.len()];
                    vol.write_at_in_place(at, &mut request(at, w))
                        .expect("write");
                }
            });
        }
        for _ in 0..2 {
            let (vol, places, request) = (&vol, &places, &request);
            s.spawn(move || {
                let mut buf = vec![0u8; SECTORS * ss];
                for round in 0..2000 {
                    let at = places[round % places.len()];
                    vol.read_at(at, &mut buf).expect("read");
                    let whole = (0..=2u8).any(|w| buf == request(at, w));
                    assert!(whole, "torn read at byte {at}");
                }
            });
        }
    });
    vol.detach().expect("detach");
}
