//! Block stores: round trips, holes, trim, huge sparse volumes, bad input, a full disk,
//! parallel writers.

use std::os::unix::fs::MetadataExt;

use ebsim_io::{
    BlockStore, FileStore, IoError, MemoryStore, MmapStore, RangeGuard, SectorSize,
    SectorTransform, XtsEngine, XtsKey, is_hole,
};
use tempfile::TempDir;

const TIB: u64 = 1 << 40;

/// A fresh directory under the target's temp dir (a real file system, as volumes use), removed
/// on drop.
fn tempdir(name: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("store-{name}-"))
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create temp dir")
}

/// Sector-sized pattern that is never all zero and differs per sector and seed.
fn pattern(ss: SectorSize, first: u64, count: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0u8; count * ss.bytes()];
    for (i, s) in v.chunks_exact_mut(ss.bytes()).enumerate() {
        let n = first + i as u64;
        for (j, b) in s.iter_mut().enumerate() {
            *b = (n as u8) ^ (j as u8).wrapping_mul(31) ^ seed | 1;
        }
    }
    v
}

fn read(store: &dyn BlockStore, first: u64, count: usize) -> Vec<u8> {
    let mut b = vec![0xAAu8; count * store.sector_size().bytes()];
    let held = store.range_locks().read(first, count as u64);
    store.read_sectors(&held, first, &mut b).expect("read");
    b
}

/// Every sector of `store`, locked exclusively: for requests made one at a time.
fn all<S: BlockStore + ?Sized>(store: &S) -> RangeGuard<'_> {
    store.range_locks().write(0, store.num_sectors())
}

fn stores(dir: &TempDir, ss: SectorSize, size: u64) -> Vec<Box<dyn BlockStore>> {
    vec![
        Box::new(MemoryStore::new(ss, size / ss.bytes() as u64).expect("memory store")),
        Box::new(
            FileStore::create(dir.path().join(format!("data-{ss}.img")), ss, size)
                .expect("file store"),
        ),
        Box::new(
            MmapStore::create(dir.path().join(format!("mapped-{ss}.img")), ss, size)
                .expect("mmap store"),
        ),
    ]
}

#[test]
fn round_trips_and_unwritten_sectors_read_zeros() {
    let dir = tempdir("roundtrip");
    for ss in [SectorSize::S512, SectorSize::S4096] {
        for store in stores(&dir, ss, 8 << 20) {
            let n = store.num_sectors();
            assert_eq!(store.size_bytes(), 8 << 20);
            assert!(is_hole(&read(&*store, 0, 16)), "fresh store reads zeros");
            // Runs crossing the memory store's 256 KiB chunks, at the start, middle and end.
            for (first, count, seed) in [(0u64, 3usize, 1u8), (n / 2 - 7, 300, 2), (n - 5, 5, 3)] {
                let data = pattern(ss, first, count, seed);
                store
                    .write_sectors(&all(&*store), first, &data)
                    .expect("write");
                assert_eq!(read(&*store, first, count), data);
            }
            // Neighbours of written runs stay zero.
            assert!(is_hole(&read(&*store, 3, 1)));
            assert!(is_hole(&read(&*store, n / 2 - 8, 1)));
            assert!(is_hole(&read(&*store, n - 6, 1)));
            // Overwrite part of a run.
            let data = pattern(ss, n / 2, 2, 9);
            store
                .write_sectors(&all(&*store), n / 2, &data)
                .expect("overwrite");
            assert_eq!(read(&*store, n / 2, 2), data);
            assert_eq!(read(&*store, n / 2 - 7, 1), pattern(ss, n / 2 - 7, 1, 2));
            store.flush().expect("flush");
        }
    }
}

/// A transform that refuses everything, touching nothing.
struct Refuse;

impl SectorTransform for Refuse {
    fn apply(&self, first: u64, _: &mut [u8]) -> Result<(), IoError> {
        Err(IoError::SectorOverflow { first, count: 0 })
    }
    fn apply_to(&self, first: u64, _: &[u8], _: &mut [u8]) -> Result<(), IoError> {
        Err(IoError::SectorOverflow { first, count: 0 })
    }
}

#[test]
fn transforms_run_between_buffers_and_storage() {
    let dir = tempdir("via");
    let key_bytes: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(13) ^ 0x5C).collect();
    let key = XtsKey::from_slice(&key_bytes).expect("key");
    for ss in [SectorSize::S512, SectorSize::S4096] {
        let engine = XtsEngine::new(&key, ss);
        let (enc, dec) = (engine.encryptor(), engine.decryptor());
        let ciphertext = |first: u64, pt: &[u8]| {
            let mut c = pt.to_vec();
            engine.encrypt_sectors(first, &mut c).expect("encrypt");
            c
        };
        for store in stores(&dir, ss, 8 << 20) {
            let n = store.num_sectors();
            // A run crossing the memory store's chunks and the mmap store's lock chunks.
            let (first, count) = (n / 2 - 7, 300usize);
            for seed in [1u8, 2] {
                // The first write allocates (the mmap store writes with pwrite), the second
                // overwrites (the mmap store encrypts straight into its map).
                let pt = pattern(ss, first, count, seed);
                let mut scratch = pt.clone();
                store
                    .write_sectors_via(&all(&*store), first, &mut scratch, &enc)
                    .expect("write via");
                assert!(
                    read(&*store, first, count) == ciphertext(first, &pt),
                    "{ss} {seed}"
                );
                let mut back = vec![0xAAu8; pt.len()];
                let mut holes = vec![true; count];
                store
                    .read_sectors_via(&all(&*store), first, &mut back, &mut holes, &dec)
                    .expect("read via");
                assert!(back == pt, "{ss} {seed}");
                assert!(holes.iter().all(|h| !h));
            }
            // Holes read as zeros without being decrypted, around a data sector.
            let mut one = pattern(ss, 5, 1, 7);
            store
                .write_sectors_via(&all(&*store), 5, &mut one, &enc)
                .expect("write");
            let mut buf = vec![0xAAu8; 4 * ss.bytes()];
            let mut holes = vec![false; 4];
            store
                .read_sectors_via(&all(&*store), 3, &mut buf, &mut holes, &dec)
                .expect("read");
            assert_eq!(holes, [true, true, false, true]);
            assert!(is_hole(&buf[..2 * ss.bytes()]) && is_hole(&buf[3 * ss.bytes()..]));
            assert!(buf[2 * ss.bytes()..3 * ss.bytes()] == pattern(ss, 5, 1, 7)[..]);

            // Bad requests and a refusing transform change nothing.
            let before = read(&*store, first, count);
            let mut junk = vec![9u8; 2 * ss.bytes()];
            assert!(matches!(
                store.write_sectors_via(&all(&*store), n - 1, &mut junk, &enc),
                Err(IoError::OutOfRange { .. })
            ));
            assert!(matches!(
                store.write_sectors_via(&all(&*store), first, &mut junk[..100], &enc),
                Err(IoError::Misaligned { .. })
            ));
            assert!(matches!(
                store.write_sectors_via(&all(&*store), first, &mut junk, &Refuse),
                Err(IoError::SectorOverflow { .. })
            ));
            assert!(matches!(
                store.read_sectors_via(&all(&*store), first, &mut junk, &mut [false; 2], &Refuse),
                Err(IoError::SectorOverflow { .. })
            ));
            assert!(matches!(
                store.read_sectors_via(&all(&*store), first, &mut junk, &mut [false; 3], &dec),
                Err(IoError::Misaligned { .. })
            ));
            assert!(read(&*store, first, count) == before);
        }
    }
}

#[test]
fn file_store_data_survives_reopen() {
    let dir = tempdir("reopen");
    let ss = SectorSize::S4096;
    let path = dir.path().join("data.img");
    let data = pattern(ss, 10, 4, 5);
    {
        let s = FileStore::create(&path, ss, 1 << 20).expect("create");
        s.write_sectors(&all(&s), 10, &data).expect("write");
        s.flush().expect("flush");
    }
    let s = FileStore::open(&path, ss).expect("open");
    assert_eq!(s.num_sectors(), 256);
    assert_eq!(read(&s, 10, 4), data);
    assert!(is_hole(&read(&s, 0, 10)));
}

#[test]
fn holes_are_reported_with_reads() {
    let dir = tempdir("holes");
    let ss = SectorSize::S512;
    for store in stores(&dir, ss, 4 << 20) {
        store
            .write_sectors(&all(&*store), 1, &pattern(ss, 1, 1, 1))
            .expect("write");
        store
            .write_sectors(&all(&*store), 3, &vec![0u8; 512])
            .expect("write zeros");
        // A chunk never written (memory: no allocation) at 1 MiB.
        let mut buf = vec![0u8; 5 * 512];
        let mut holes = vec![false; 5];
        store
            .read_sectors_with_holes(&all(&*store), 0, &mut buf, &mut holes)
            .expect("read");
        assert_eq!(holes, [true, false, true, true, true]);
        assert_eq!(&buf[512..1024], &pattern(ss, 1, 1, 1)[..]);
        let mut holes = vec![false; 4];
        store
            .read_sectors_with_holes(&all(&*store), 2048, &mut buf[..2048], &mut holes)
            .expect("read");
        assert_eq!(holes, [true; 4]);
        let mut wrong = vec![false; 3];
        assert!(matches!(
            store.read_sectors_with_holes(&all(&*store), 0, &mut buf, &mut wrong),
            Err(IoError::Misaligned { .. })
        ));
    }
}

#[test]
fn trim_makes_zeros_again_and_releases_space() {
    let dir = tempdir("trim");
    let ss = SectorSize::S4096;
    let size = 16u64 << 20;
    let data = pattern(ss, 0, 1024, 4); // 4 MiB

    let file = FileStore::create(dir.path().join("data.img"), ss, size).expect("create");
    assert_eq!(file.allocated_bytes().expect("blocks"), 0);
    file.write_sectors(&all(&file), 0, &data).expect("write");
    file.flush().expect("flush");
    let before = std::fs::metadata(file.path()).expect("metadata").blocks() * 512;
    assert!(before >= 4 << 20, "4 MiB written, {before} bytes allocated");
    file.trim(&all(&file), 256, 512).expect("trim"); // the middle 2 MiB
    let after = std::fs::metadata(file.path()).expect("metadata").blocks() * 512;
    assert!(
        before - after >= 2 << 20,
        "trim released {} bytes",
        before - after
    );
    assert!(is_hole(&read(&file, 256, 512)));
    assert_eq!(read(&file, 0, 256), data[..256 * 4096]);
    assert_eq!(read(&file, 768, 256), data[768 * 4096..]);

    let mem = MemoryStore::new(ss, size / 4096).expect("memory");
    mem.write_sectors(&all(&mem), 0, &data).expect("write");
    let before = mem.allocated_bytes();
    assert_eq!(before, 4 << 20);
    mem.trim(&all(&mem), 256, 512).expect("trim");
    assert_eq!(mem.allocated_bytes(), 2 << 20);
    assert!(is_hole(&read(&mem, 256, 512)));
    // A trim of single sectors zeroes them; trimming the rest of the chunk frees it.
    mem.trim(&all(&mem), 0, 1).expect("trim");
    assert!(is_hole(&read(&mem, 0, 1)));
    assert_eq!(read(&mem, 1, 1), data[4096..8192]);
    mem.trim(&all(&mem), 1, 63).expect("trim");
    assert_eq!(mem.allocated_bytes(), (2 << 20) - (256 << 10));
    // Trim of nothing, and of the last sector, are fine.
    mem.trim(&all(&mem), mem.num_sectors(), 0)
        .expect("empty trim");
    file.trim(&all(&file), file.num_sectors() - 1, 1)
        .expect("last sector");
}

#[test]
fn eight_tib_stores_stay_small() {
    let dir = tempdir("huge");
    let ss = SectorSize::S4096;
    let size = 8 * TIB;
    let file = FileStore::create(dir.path().join("data.img"), ss, size).expect("8 TiB sparse file");
    let mem = MemoryStore::new(ss, size / 4096).expect("8 TiB memory store");
    let n = size / 4096;
    for store in [&file as &dyn BlockStore, &mem] {
        assert_eq!(store.num_sectors(), n);
        for (i, first) in [0, n / 2, n - 1].into_iter().enumerate() {
            let data = pattern(ss, first, 1, i as u8);
            store
                .write_sectors(&all(store), first, &data)
                .expect("write");
            assert_eq!(read(store, first, 1), data);
        }
        assert!(is_hole(&read(store, n / 4, 1)));
        assert!(is_hole(&read(store, n - 2, 1)));
        store.flush().expect("flush");
    }
    assert_eq!(
        std::fs::metadata(file.path()).expect("metadata").len(),
        size
    );
    let on_disk = file.allocated_bytes().expect("blocks");
    assert!(
        on_disk <= 1 << 20,
        "8 TiB file with 3 sectors written uses {on_disk} bytes"
    );
    assert_eq!(mem.allocated_bytes(), 3 * (256 << 10));
    // And reopen it.
    drop(file);
    let file = FileStore::open(dir.path().join("data.img"), ss).expect("reopen");
    assert_eq!(read(&file, n - 1, 1), pattern(ss, n - 1, 1, 2));
    drop(file);
    // The same file through an 8 TiB map: address space, not memory or disk.
    let mapped = MmapStore::open(dir.path().join("data.img"), ss).expect("map 8 TiB");
    assert_eq!(read(&mapped, n - 1, 1), pattern(ss, n - 1, 1, 2));
    let data = pattern(ss, n / 3, 1, 9);
    mapped
        .write_sectors(&all(&mapped), n / 3, &data)
        .expect("write");
    mapped.flush().expect("flush");
    assert_eq!(read(&mapped, n / 3, 1), data);
    assert!(is_hole(&read(&mapped, n / 4, 1)));
    let on_disk = mapped.allocated_bytes().expect("blocks");
    assert!(on_disk <= 1 << 20, "{on_disk} bytes on disk");
}

#[test]
fn bad_requests_are_typed_and_write_nothing() {
    let dir = tempdir("bad");
    let ss = SectorSize::S4096;
    for store in stores(&dir, ss, 1 << 20) {
        let n = store.num_sectors();
        let mut buf = vec![0u8; 4096 + 100];
        assert!(matches!(
            store.read_sectors(&all(&*store), 0, &mut buf),
            Err(IoError::Misaligned { .. })
        ));
        assert!(matches!(
            store.write_sectors(&all(&*store), 0, &pattern(ss, 0, 1, 1)[..4000]),
            Err(IoError::Misaligned { .. })
        ));
        // A run starting inside and ending past the end: refused whole, nothing written.
        let err = store
            .write_sectors(&all(&*store), n - 1, &pattern(ss, n - 1, 2, 1))
            .expect_err("past end");
        assert!(
            matches!(err, IoError::OutOfRange { first, end, num_sectors } if first == n - 1 && end == n + 1 && num_sectors == n)
        );
        assert!(err.to_string().contains("past the end"), "{err}");
        assert!(is_hole(&read(&*store, n - 1, 1)), "nothing written");
        let mut one = vec![0u8; 4096];
        assert!(matches!(
            store.read_sectors(&all(&*store), n, &mut one),
            Err(IoError::OutOfRange { .. })
        ));
        assert!(matches!(
            store.write_sectors(&all(&*store), u64::MAX, &one),
            Err(IoError::SectorOverflow { .. })
        ));
        assert!(matches!(
            store.trim(&all(&*store), n - 1, 2),
            Err(IoError::OutOfRange { .. })
        ));
        assert!(matches!(
            store.trim(&all(&*store), 1, u64::MAX),
            Err(IoError::SectorOverflow { .. })
        ));
        // Empty requests inside the store are fine.
        store
            .write_sectors(&all(&*store), n, &[])
            .expect("empty write at the end");
        // Requests whose sectors the caller has not locked as they need are refused whole:
        // a guard that misses a sector, a shared guard for a write or a trim, and a guard of
        // another store's locks.
        let data = pattern(ss, 4, 2, 3);
        let locks = store.range_locks();
        let other = MemoryStore::new(ss, n).expect("memory store");
        let not_locked = |r: Result<(), IoError>| matches!(r, Err(IoError::NotLocked { .. }));
        assert!(not_locked(store.write_sectors(
            &locks.write(4, 1),
            4,
            &data
        )));
        assert!(not_locked(store.write_sectors(
            &locks.write(5, 2),
            4,
            &data
        )));
        assert!(not_locked(store.write_sectors(&locks.read(4, 2), 4, &data)));
        assert!(not_locked(store.write_sectors_via(
            &locks.read(4, 2),
            4,
            &mut data.clone(),
            &Refuse
        )));
        assert!(not_locked(store.trim(&locks.read(0, n), 4, 2)));
        assert!(not_locked(store.write_sectors(
            &other.range_locks().write(4, 2),
            4,
            &data
        )));
        let mut buf = vec![0u8; 2 * 4096];
        let err = store
            .read_sectors(&other.range_locks().read(4, 2), 4, &mut buf)
            .expect_err("another store's guard");
        assert!(err.to_string().contains("range locks"), "{err}");
        assert!(not_locked(store.read_sectors_with_holes(
            &locks.read(4, 1),
            4,
            &mut buf,
            &mut [false; 2]
        )));
        assert!(is_hole(&read(&*store, 4, 2)), "nothing written");
    }
}

#[test]
fn files_that_are_not_volumes_are_refused() {
    let dir = tempdir("notvol");
    let ss = SectorSize::S4096;
    let not_a_volume = |r: Result<FileStore, IoError>| match r {
        Err(e @ IoError::NotAVolume { .. }) => e.to_string(),
        other => panic!("expected NotAVolume, got {other:?}"),
    };
    let msg = not_a_volume(FileStore::open(dir.path(), ss));
    assert!(msg.contains("not a regular file"), "{msg}");

    let odd = dir.path().join("odd.img");
    std::fs::write(&odd, vec![1u8; 4096 + 512]).expect("write");
    let msg = not_a_volume(FileStore::open(&odd, ss));
    assert!(
        msg.contains("not a multiple of the sector size 4096"),
        "{msg}"
    );
    // The same file is a fine 512-byte-sector volume.
    assert_eq!(
        FileStore::open(&odd, SectorSize::S512)
            .expect("512")
            .num_sectors(),
        9
    );
    assert_eq!(
        std::fs::read(&odd).expect("read"),
        vec![1u8; 4096 + 512],
        "unchanged"
    );

    let empty = dir.path().join("empty.img");
    std::fs::write(&empty, b"").expect("write");
    assert!(not_a_volume(FileStore::open(&empty, ss)).contains("empty"));

    assert!(matches!(
        FileStore::open(dir.path().join("missing.img"), ss),
        Err(IoError::Io { .. })
    ));
    // Create refuses an existing file, a zero size and a size that is not whole sectors,
    // and leaves nothing behind.
    assert!(matches!(
        FileStore::create(&odd, ss, 8192),
        Err(IoError::Io { .. })
    ));
    assert_eq!(
        std::fs::read(&odd).expect("read").len(),
        4096 + 512,
        "existing file untouched"
    );
    for size in [0, 4096 + 512] {
        let p = dir.path().join(format!("bad-{size}.img"));
        assert!(matches!(
            FileStore::create(&p, ss, size),
            Err(IoError::Misaligned { .. })
        ));
        assert!(!p.exists());
    }
    // Larger than any file can be (past i64::MAX): an I/O error, and no file left.
    let p = dir.path().join("too-big.img");
    assert!(matches!(
        FileStore::create(&p, ss, u64::MAX - 4095),
        Err(IoError::Io { .. })
    ));
    assert!(!p.exists());
    // Memory stores have a limit too.
    assert!(matches!(
        MemoryStore::new(ss, u64::MAX),
        Err(IoError::TooLarge { .. })
    ));
    // Unsupported sector sizes cannot even be named.
    assert!(matches!(
        SectorSize::new(1000),
        Err(IoError::UnsupportedSectorSize(1000))
    ));
}

/// A size-limited tmpfs mounted for the life of the value.
struct SmallFs(TempDir);

impl SmallFs {
    fn mount(size: &str) -> Self {
        let dir = tempdir("enospc");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test needs to mount a {size} tmpfs (run as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(dir)
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

#[test]
#[cfg_attr(
    not(feature = "external-tools"),
    ignore = "mounts a tmpfs: needs root and --features external-tools"
)]
fn a_full_disk_is_a_typed_error() {
    let fs = SmallFs::mount("1m");
    let ss = SectorSize::S4096;
    // A 64 MiB sparse volume on a 1 MiB file system: creating it is fine.
    let file = FileStore::create(fs.0.path().join("data.img"), ss, 64 << 20).expect("create");
    fills_up_cleanly(&file, ss);
    drop(file);
    std::fs::remove_file(fs.0.path().join("data.img")).expect("remove");
    // Through a memory map, a write into a hole of a full file system would be a SIGBUS
    // without the allocation the store does first.
    let mapped = MmapStore::create(fs.0.path().join("mapped.img"), ss, 64 << 20).expect("create");
    fills_up_cleanly(&mapped, ss);
}

fn fills_up_cleanly(store: &dyn BlockStore, ss: SectorSize) {
    let data = pattern(ss, 0, 64, 1); // 256 KiB
    let mut written = 0u64;
    let err = loop {
        match store.write_sectors(&all(store), written, &data) {
            Ok(()) => written += 64,
            Err(e) => break e,
        }
        assert!(written < 1024, "64 MiB written to a 1 MiB file system");
    };
    assert!(matches!(err, IoError::NoSpace { .. }), "{err:?}");
    assert!(err.to_string().contains("no space left"), "{err}");
    // Reads still work, and what was written is intact.
    assert!(written > 0);
    assert_eq!(read(store, 0, 64), data);
    // A trim frees space and writes work again.
    store.trim(&all(store), 0, written).expect("trim");
    store
        .write_sectors(&all(store), written, &data)
        .expect("write after trim");
    assert_eq!(read(store, written, 64), data);
}

#[test]
fn parallel_writers_to_disjoint_ranges() {
    let dir = tempdir("parallel");
    let ss = SectorSize::S512;
    for store in stores(&dir, ss, 8 << 20) {
        let threads = 4u64;
        let per = store.num_sectors() / threads;
        std::thread::scope(|s| {
            for t in 0..threads {
                let store = &*store;
                s.spawn(move || {
                    // Interleaved small writes, so threads meet in the same chunks.
                    for k in 0..per / 8 {
                        let first = t * per + k * 8;
                        // Each request holds only its own sectors, as volumes do.
                        let locks = store.range_locks();
                        store
                            .write_sectors(
                                &locks.write(first, 8),
                                first,
                                &pattern(ss, first, 8, t as u8),
                            )
                            .expect("write");
                        if k % 16 == 0 {
                            store
                                .trim(&locks.write(first + 4, 2), first + 4, 2)
                                .expect("trim");
                        }
                    }
                });
            }
        });
        for t in 0..threads {
            for k in 0..per / 8 {
                let first = t * per + k * 8;
                let mut expect = pattern(ss, first, 8, t as u8);
                if k % 16 == 0 {
                    expect[4 * 512..6 * 512].fill(0);
                }
                assert_eq!(read(&*store, first, 8), expect, "thread {t} run {k}");
            }
        }
    }
}

#[test]
fn random_operations_match_a_plain_buffer() {
    let dir = tempdir("model");
    let ss = SectorSize::S512;
    let size = 2u64 << 20; // 8 memory-store chunks, 4096 sectors
    let n = size / 512;
    for store in stores(&dir, ss, size) {
        let mut model = vec![0u8; size as usize];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for step in 0..2000u64 {
            let first = next(n);
            let count = 1 + next((n - first).min(1200));
            let (a, b) = ((first * 512) as usize, ((first + count) * 512) as usize);
            match next(3) {
                0 => {
                    let data = pattern(ss, first, count as usize, step as u8);
                    store
                        .write_sectors(&all(&*store), first, &data)
                        .expect("write");
                    model[a..b].copy_from_slice(&data);
                }
                1 => {
                    store.trim(&all(&*store), first, count).expect("trim");
                    model[a..b].fill(0);
                }
                _ => {
                    let mut holes = vec![false; count as usize];
                    let mut buf = vec![0xEEu8; b - a];
                    store
                        .read_sectors_with_holes(&all(&*store), first, &mut buf, &mut holes)
                        .expect("read");
                    assert!(
                        buf == model[a..b],
                        "step {step}: sectors {first}+{count} differ"
                    );
                    for (i, h) in holes.iter().enumerate() {
                        assert_eq!(
                            *h,
                            is_hole(&model[a + i * 512..a + (i + 1) * 512]),
                            "step {step}"
                        );
                    }
                }
            }
        }
        assert!(
            read(&*store, 0, n as usize) == model,
            "final contents differ"
        );
    }
}
