//! Allocation records of the stores (`BlockStore::allocation`, `zero_sectors`): a 1 TiB
//! sparse file reports holes where nothing was written and after a trim, and stored
//! all-zero sectors are found in place.

use ebsim_io::{
    AllocationRun, BlockStore, FileStore, MAX_ALLOCATION_RUNS, MemoryStore, MmapStore, SectorSize,
};

const TIB: u64 = 1 << 40;
const MIB: u64 = 1 << 20;

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("alloc-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir")
}

fn write(store: &dyn BlockStore, first: u64, bytes: &[u8]) {
    let n = bytes.len() as u64 / store.sector_size().bytes() as u64;
    let held = store.range_locks().write(first, n);
    store.write_sectors(&held, first, bytes).expect("write");
}

fn trim(store: &dyn BlockStore, first: u64, n: u64) {
    let held = store.range_locks().write(first, n);
    store.trim(&held, first, n).expect("trim");
}

/// The allocated (start, count) runs of the whole store.
fn allocated(store: &dyn BlockStore) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = 0;
    let n = store.num_sectors();
    while at < n {
        let runs: Vec<AllocationRun> = store.allocation(at, n - at).expect("allocation");
        assert!(!runs.is_empty() && runs.len() <= MAX_ALLOCATION_RUNS);
        for r in runs {
            assert!(r.sectors > 0);
            if r.allocated {
                out.push((at, r.sectors));
            }
            at += r.sectors;
        }
    }
    assert_eq!(at, n, "runs cover the store exactly");
    out
}

fn check_store(store: &dyn BlockStore, page: u64) {
    let ss = store.sector_size().bytes() as u64;
    assert_eq!(allocated(store), [], "a new store is one hole");
    // 1 MiB of data at 512 GiB, and one sector at 1 GiB.
    let at = (512 << 30) / ss;
    write(store, at, &vec![0x5a; MIB as usize]);
    let one = (1 << 30) / ss;
    write(store, one, &vec![0x11; ss as usize]);
    let got = allocated(store);
    // The file system allocates whole blocks (pages for the map): a run may be wider than the
    // sector written, never narrower, and never far off.
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].0 <= one && got[0].0 + got[0].1 > one && got[0].1 * ss <= page.max(ss) * 64);
    assert!(got[1].0 <= at && got[1].0 + got[1].1 >= at + MIB / ss);
    assert!(got[1].1 * ss <= MIB + 2 * page.max(256 << 10));
    // A range query inside a hole, and one starting inside the data.
    assert_eq!(
        store.allocation(0, 1000).expect("allocation"),
        [AllocationRun {
            sectors: 1000,
            allocated: false
        }]
    );
    let r = store.allocation(at + 1, 10).expect("allocation");
    assert_eq!(
        r,
        [AllocationRun {
            sectors: 10,
            allocated: true
        }]
    );
    // Trimmed: a hole again.
    trim(store, at, MIB / ss);
    trim(store, one, 1);
    let got = allocated(store);
    assert!(
        got.iter().all(|&(_, n)| n * ss <= 2 * page.max(256 << 10)),
        "{got:?}"
    );
    // zero_sectors finds stored zeros and data in place.
    write(
        store,
        8,
        &[vec![0u8; ss as usize], vec![3u8; ss as usize]].concat(),
    );
    let mut z = [false; 3];
    let held = store.range_locks().read(8, 3);
    store.zero_sectors(&held, 8, &mut z).expect("zero sectors");
    assert_eq!(z, [true, false, true]);
    // Bad input changes nothing and is refused.
    assert!(store.allocation(store.num_sectors(), 1).is_err());
    assert!(store.allocation(u64::MAX, 2).is_err());
}

#[test]
fn file_stores_report_the_file_systems_holes() {
    let dir = tempdir();
    let page = 4096;
    for ss in [SectorSize::S512, SectorSize::S4096] {
        let p = dir.path().join(format!("f{}", ss.get()));
        let f = FileStore::create(&p, ss, TIB).expect("file store");
        check_store(&f, page);
        let p = dir.path().join(format!("m{}", ss.get()));
        let m = MmapStore::create(&p, ss, TIB).expect("mmap store");
        check_store(&m, page);
    }
}

#[test]
fn memory_store_reports_its_chunk_map() {
    for ss in [SectorSize::S512, SectorSize::S4096] {
        let m = MemoryStore::new(ss, TIB >> ss.shift()).expect("memory store");
        check_store(&m, 256 << 10);
    }
}
