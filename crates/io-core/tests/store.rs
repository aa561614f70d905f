//! Block stores: round trips, holes, trim, huge sparse volumes, bad input, a full disk,
//! parallel writers.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ebsim_io::{
    BlockStore, FileStore, IoError, MemoryStore, MmapStore, SectorSize, SectorTransform, XtsEngine,
    XtsKey, is_hole,
};

const TIB: u64 = 1 << 40;

/// A fresh directory under the target's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
    store.read_sectors(first, &mut b).expect("read");
    b
}

fn stores(dir: &TempDir, ss: SectorSize, size: u64) -> Vec<Box<dyn BlockStore>> {
    vec![
        Box::new(MemoryStore::new(ss, size / ss.bytes() as u64).expect("memory store")),
        Box::new(
            FileStore::create(dir.path(&format!("data-{ss}.img")), ss, size).expect("file store"),
        ),
        Box::new(
            MmapStore::create(dir.path(&format!("mapped-{ss}.img")), ss, size).expect("mmap store"),
        ),
    ]
}

#[test]
fn round_trips_and_unwritten_sectors_read_zeros() {
    let dir = TempDir::new("roundtrip");
    for ss in [SectorSize::S512, SectorSize::S4096] {
        for store in stores(&dir, ss, 8 << 20) {
            let n = store.num_sectors();
            assert_eq!(store.size_bytes(), 8 << 20);
            assert!(is_hole(&read(&*store, 0, 16)), "fresh store reads zeros");
            // Runs crossing the memory store's 256 KiB chunks, at the start, middle and end.
            for (first, count, seed) in [(0u64, 3usize, 1u8), (n / 2 - 7, 300, 2), (n - 5, 5, 3)] {
                let data = pattern(ss, first, count, seed);
                store.write_sectors(first, &data).expect("write");
                assert_eq!(read(&*store, first, count), data);
            }
            // Neighbours of written runs stay zero.
            assert!(is_hole(&read(&*store, 3, 1)));
            assert!(is_hole(&read(&*store, n / 2 - 8, 1)));
            assert!(is_hole(&read(&*store, n - 6, 1)));
            // Overwrite part of a run.
            let data = pattern(ss, n / 2, 2, 9);
            store.write_sectors(n / 2, &data).expect("overwrite");
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
    let dir = TempDir::new("via");
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
                    .write_sectors_via(first, &mut scratch, &enc)
                    .expect("write via");
                assert!(
                    read(&*store, first, count) == ciphertext(first, &pt),
                    "{ss} {seed}"
                );
                let mut back = vec![0xAAu8; pt.len()];
                let mut holes = vec![true; count];
                store
                    .read_sectors_via(first, &mut back, &mut holes, &dec)
                    .expect("read via");
                assert!(back == pt, "{ss} {seed}");
                assert!(holes.iter().all(|h| !h));
            }
            // Holes read as zeros without being decrypted, around a data sector.
            let mut one = pattern(ss, 5, 1, 7);
            store.write_sectors_via(5, &mut one, &enc).expect("write");
            let mut buf = vec![0xAAu8; 4 * ss.bytes()];
            let mut holes = vec![false; 4];
            store
                .read_sectors_via(3, &mut buf, &mut holes, &dec)
                .expect("read");
            assert_eq!(holes, [true, true, false, true]);
            assert!(is_hole(&buf[..2 * ss.bytes()]) && is_hole(&buf[3 * ss.bytes()..]));
            assert!(buf[2 * ss.bytes()..3 * ss.bytes()] == pattern(ss, 5, 1, 7)[..]);

            // Bad requests and a refusing transform change nothing.
            let before = read(&*store, first, count);
            let mut junk = vec![9u8; 2 * ss.bytes()];
            assert!(matches!(
                store.write_sectors_via(n - 1, &mut junk, &enc),
                Err(IoError::OutOfRange { .. })
            ));
            assert!(matches!(
                store.write_sectors_via(first, &mut junk[..100], &enc),
                Err(IoError::Misaligned { .. })
            ));
            assert!(matches!(
                store.write_sectors_via(first, &mut junk, &Refuse),
                Err(IoError::SectorOverflow { .. })
            ));
            assert!(matches!(
                store.read_sectors_via(first, &mut junk, &mut [false; 2], &Refuse),
                Err(IoError::SectorOverflow { .. })
            ));
            assert!(matches!(
                store.read_sectors_via(first, &mut junk, &mut [false; 3], &dec),
                Err(IoError::Misaligned { .. })
            ));
            assert!(read(&*store, first, count) == before);
        }
    }
}

#[test]
fn file_store_data_survives_reopen() {
    let dir = TempDir::new("reopen");
    let ss = SectorSize::S4096;
    let path = dir.path("data.img");
    let data = pattern(ss, 10, 4, 5);
    {
        let s = FileStore::create(&path, ss, 1 << 20).expect("create");
        s.write_sectors(10, &data).expect("write");
        s.flush().expect("flush");
    }
    let s = FileStore::open(&path, ss).expect("open");
    assert_eq!(s.num_sectors(), 256);
    assert_eq!(read(&s, 10, 4), data);
    assert!(is_hole(&read(&s, 0, 10)));
}

#[test]
fn holes_are_reported_with_reads() {
    let dir = TempDir::new("holes");
    let ss = SectorSize::S512;
    for store in stores(&dir, ss, 4 << 20) {
        store
            .write_sectors(1, &pattern(ss, 1, 1, 1))
            .expect("write");
        store
            .write_sectors(3, &vec![0u8; 512])
            .expect("write zeros");
        // A chunk never written (memory: no allocation) at 1 MiB.
        let mut buf = vec![0u8; 5 * 512];
        let mut holes = vec![false; 5];
        store
            .read_sectors_with_holes(0, &mut buf, &mut holes)
            .expect("read");
        assert_eq!(holes, [true, false, true, true, true]);
        assert_eq!(&buf[512..1024], &pattern(ss, 1, 1, 1)[..]);
        let mut holes = vec![false; 4];
        store
            .read_sectors_with_holes(2048, &mut buf[..2048], &mut holes)
            .expect("read");
        assert_eq!(holes, [true; 4]);
        let mut wrong = vec![false; 3];
        assert!(matches!(
            store.read_sectors_with_holes(0, &mut buf, &mut wrong),
            Err(IoError::Misaligned { .. })
        ));
    }
}

#[test]
fn trim_makes_zeros_again_and_releases_space() {
    let dir = TempDir::new("trim");
    let ss = SectorSize::S4096;
    let size = 16u64 << 20;
    let data = pattern(ss, 0, 1024, 4); // 4 MiB

    let file = FileStore::create(dir.path("data.img"), ss, size).expect("create");
    assert_eq!(file.allocated_bytes().expect("blocks"), 0);
    file.write_sectors(0, &data).expect("write");
    file.flush().expect("flush");
    let before = std::fs::metadata(file.path()).expect("metadata").blocks() * 512;
    assert!(before >= 4 << 20, "4 MiB written, {before} bytes allocated");
    file.trim(256, 512).expect("trim"); // the middle 2 MiB
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
    mem.write_sectors(0, &data).expect("write");
    let before = mem.allocated_bytes();
    assert_eq!(before, 4 << 20);
    mem.trim(256, 512).expect("trim");
    assert_eq!(mem.allocated_bytes(), 2 << 20);
    assert!(is_hole(&read(&mem, 256, 512)));
    // A trim of single sectors zeroes them; trimming the rest of the chunk frees it.
    mem.trim(0, 1).expect("trim");
    assert!(is_hole(&read(&mem, 0, 1)));
    assert_eq!(read(&mem, 1, 1), data[4096..8192]);
    mem.trim(1, 63).expect("trim");
    assert_eq!(mem.allocated_bytes(), (2 << 20) - (256 << 10));
    // Trim of nothing, and of the last sector, are fine.
    mem.trim(mem.num_sectors(), 0).expect("empty trim");
    file.trim(file.num_sectors() - 1, 1).expect("last sector");
}

#[test]
fn eight_tib_stores_stay_small() {
    let dir = TempDir::new("huge");
    let ss = SectorSize::S4096;
    let size = 8 * TIB;
    let file = FileStore::create(dir.path("data.img"), ss, size).expect("8 TiB sparse file");
    let mem = MemoryStore::new(ss, size / 4096).expect("8 TiB memory store");
    let n = size / 4096;
    for store in [&file as &dyn BlockStore, &mem] {
        assert_eq!(store.num_sectors(), n);
        for (i, first) in [0, n / 2, n - 1].into_iter().enumerate() {
            let data = pattern(ss, first, 1, i as u8);
            store.write_sectors(first, &data).expect("write");
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
    let file = FileStore::open(dir.path("data.img"), ss).expect("reopen");
    assert_eq!(read(&file, n - 1, 1), pattern(ss, n - 1, 1, 2));
    drop(file);
    // The same file through an 8 TiB map: address space, not memory or disk.
    let mapped = MmapStore::open(dir.path("data.img"), ss).expect("map 8 TiB");
    assert_eq!(read(&mapped, n - 1, 1), pattern(ss, n - 1, 1, 2));
    let data = pattern(ss, n / 3, 1, 9);
    mapped.write_sectors(n / 3, &data).expect("write");
    mapped.flush().expect("flush");
    assert_eq!(read(&mapped, n / 3, 1), data);
    assert!(is_hole(&read(&mapped, n / 4, 1)));
    let on_disk = mapped.allocated_bytes().expect("blocks");
    assert!(on_disk <= 1 << 20, "{on_disk} bytes on disk");
}

#[test]
fn bad_requests_are_typed_and_write_nothing() {
    let dir = TempDir::new("bad");
    let ss = SectorSize::S4096;
    for store in stores(&dir, ss, 1 << 20) {
        let n = store.num_sectors();
        let mut buf = vec![0u8; 4096 + 100];
        assert!(matches!(
            store.read_sectors(0, &mut buf),
            Err(IoError::Misaligned { .. })
        ));
        assert!(matches!(
            store.write_sectors(0, &pattern(ss, 0, 1, 1)[..4000]),
            Err(IoError::Misaligned { .. })
        ));
        // A run starting inside and ending past the end: refused whole, nothing written.
        let err = store
            .write_sectors(n - 1, &pattern(ss, n - 1, 2, 1))
            .expect_err("past end");
        assert!(
            matches!(err, IoError::OutOfRange { first, end, num_sectors } if first == n - 1 && end == n + 1 && num_sectors == n)
        );
        assert!(err.to_string().contains("past the end"), "{err}");
        assert!(is_hole(&read(&*store, n - 1, 1)), "nothing written");
        let mut one = vec![0u8; 4096];
        assert!(matches!(
            store.read_sectors(n, &mut one),
            Err(IoError::OutOfRange { .. })
        ));
        assert!(matches!(
            store.write_sectors(u64::MAX, &one),
            Err(IoError::SectorOverflow { .. })
        ));
        assert!(matches!(
            store.trim(n - 1, 2),
            Err(IoError::OutOfRange { .. })
        ));
        assert!(matches!(
            store.trim(1, u64::MAX),
            Err(IoError::SectorOverflow { .. })
        ));
        // Empty requests inside the store are fine.
        store.write_sectors(n, &[]).expect("empty write at the end");
    }
}

#[test]
fn files_that_are_not_volumes_are_refused() {
    let dir = TempDir::new("notvol");
    let ss = SectorSize::S4096;
    let not_a_volume = |r: Result<FileStore, IoError>| match r {
        Err(e @ IoError::NotAVolume { .. }) => e.to_string(),
        other => panic!("expected NotAVolume, got {other:?}"),
    };
    let msg = not_a_volume(FileStore::open(&dir.0, ss));
    assert!(msg.contains("not a regular file"), "{msg}");

    let odd = dir.path("odd.img");
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

    let empty = dir.path("empty.img");
    std::fs::write(&empty, b"").expect("write");
    assert!(not_a_volume(FileStore::open(&empty, ss)).contains("empty"));

    assert!(matches!(
        FileStore::open(dir.path("missing.img"), ss),
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
        let p = dir.path(&format!("bad-{size}.img"));
        assert!(matches!(
            FileStore::create(&p, ss, size),
            Err(IoError::Misaligned { .. })
        ));
        assert!(!p.exists());
    }
    // Larger than any file can be (past i64::MAX): an I/O error, and no file left.
    let p = dir.path("too-big.img");
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
        let dir = TempDir::new("enospc");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir.0)
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
            .arg(&self.0.0)
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
    let file = FileStore::create(fs.0.path("data.img"), ss, 64 << 20).expect("create");
    fills_up_cleanly(&file, ss);
    drop(file);
    std::fs::remove_file(fs.0.path("data.img")).expect("remove");
    // Through a memory map, a write into a hole of a full file system would be a SIGBUS
    // without the allocation the store does first.
    let mapped = MmapStore::create(fs.0.path("mapped.img"), ss, 64 << 20).expect("create");
    fills_up_cleanly(&mapped, ss);
}

fn fills_up_cleanly(store: &dyn BlockStore, ss: SectorSize) {
    let data = pattern(ss, 0, 64, 1); // 256 KiB
    let mut written = 0u64;
    let err = loop {
        match store.write_sectors(written, &data) {
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
    store.trim(0, written).expect("trim");
    store
        .write_sectors(written, &data)
        .expect("write after trim");
    assert_eq!(read(store, written, 64), data);
}

#[test]
fn parallel_writers_to_disjoint_ranges() {
    let dir = TempDir::new("parallel");
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
                        store
                            .write_sectors(first, &pattern(ss, first, 8, t as u8))
                            .expect("write");
                        if k % 16 == 0 {
                            store.trim(first + 4, 2).expect("trim");
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
    let dir = TempDir::new("model");
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
                    store.write_sectors(first, &data).expect("write");
                    model[a..b].copy_from_slice(&data);
                }
                1 => {
                    store.trim(first, count).expect("trim");
                    model[a..b].fill(0);
                }
                _ => {
                    let mut holes = vec![false; count as usize];
                    let mut buf = vec![0xEEu8; b - a];
                    store
                        .read_sectors_with_holes(first, &mut buf, &mut holes)
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

/// Writers encrypting straight into the mmap store race readers decrypting straight out of
/// it, over the same sectors: every read sees one whole write (all sectors of a request carry
/// the same writer's pattern), never a torn mix — its range locks and the fence after the
/// non-temporal stores at work. (Only `MmapStore` promises whole requests to overlapping
/// callers; the memory store locks per 256 KiB chunk, and volumes lock ranges themselves.)
#[test]
fn one_pass_writers_and_readers_never_see_torn_requests() {
    let dir = TempDir::new("via-race");
    let ss = SectorSize::S4096;
    let key_bytes: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(7) ^ 0x3C).collect();
    let engine = XtsEngine::new(&XtsKey::from_slice(&key_bytes).expect("key"), ss);
    // Requests of 16 sectors (64 KiB) at 8 places, each written whole by every writer.
    const SECTORS: usize = 16;
    let places: Vec<u64> = (0..8).map(|i| i * 40 + 3).collect();
    {
        let store = MmapStore::create(dir.path("race.img"), ss, 4 << 20).expect("mmap store");
        // Allocated first, so that the store writes through its map.
        for &p in &places {
            store
                .write_sectors_via(p, &mut pattern(ss, p, SECTORS, 0), &engine.encryptor())
                .expect("prefill");
        }
        std::thread::scope(|s| {
            for w in 1..=2u8 {
                let (store, engine, places) = (&store, &engine, &places);
                s.spawn(move || {
                    for round in 0..1000 {
                        let p = places[round % places.len()];
                        let mut buf = pattern(ss, p, SECTORS, w);
                        store
                            .write_sectors_via(p, &mut buf, &engine.encryptor())
                            .expect("write");
                    }
                });
            }
            for _ in 0..2 {
                let (store, engine, places) = (&store, &engine, &places);
                s.spawn(move || {
                    let mut buf = vec![0u8; SECTORS * ss.bytes()];
                    let mut holes = [false; SECTORS];
                    for round in 0..2000 {
                        let p = places[round % places.len()];
                        store
                            .read_sectors_via(p, &mut buf, &mut holes, &engine.decryptor())
                            .expect("read");
                        let whole = (0..=2u8).any(|w| buf == pattern(ss, p, SECTORS, w));
                        assert!(whole, "torn read at sector {p}");
                    }
                });
            }
        });
    }
}
