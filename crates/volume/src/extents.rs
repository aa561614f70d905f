//! Where a volume holds data, where it has holes and where it reads as zeros: the answer to a
//! block client's "block status" question, from the store's allocation record merged with the
//! hole rule (a stored sector of all zeros reads as zeros).

use ebsim_io::BlockStore;

/// A run of a volume's bytes with one status (see [`AttachedVolume::extents`]).
///
/// [`AttachedVolume::extents`]: crate::AttachedVolume::extents
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Length in bytes.
    pub length: u64,
    /// The run has no storage: data.img's file system holds no blocks for it (never written,
    /// trimmed, written with zeros), or the memory store no chunk. A hole reads as zeros.
    pub hole: bool,
    /// The run reads as zeros: a hole, or stored sectors of all zeros (the hole rule).
    pub zero: bool,
}

/// What a run of sectors is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Stored data.
    Data,
    /// Stored, all zeros: reads as zeros.
    Zero,
    /// No storage: reads as zeros.
    Hole,
}

impl Kind {
    pub(crate) fn hole(self) -> bool {
        self == Kind::Hole
    }

    pub(crate) fn zero(self) -> bool {
        self != Kind::Data
    }
}

/// At most this many extents per answer.
pub const MAX_EXTENTS: usize = 1024;

/// At most this many bytes of allocated sectors are looked at per answer (for all-zero
/// sectors); holes cost nothing to report.
const MAX_SCAN_BYTES: u64 = 64 << 20;

/// Sectors looked at under one range lock, in bytes.
const SCAN_WINDOW_BYTES: u64 = 4 << 20;

/// Runs of sectors (count, kind), merged, at most [`MAX_EXTENTS`].
#[derive(Default)]
struct Runs(Vec<(u64, Kind)>);

impl Runs {
    /// Adds a run; false when it could not be added because the list is full.
    fn push(&mut self, sectors: u64, kind: Kind) -> bool {
        if sectors == 0 {
            return true;
        }
        let full = self.0.len() >= MAX_EXTENTS;
        match self.0.last_mut() {
            Some(r) if r.1 == kind => r.0 += sectors,
            _ if full => return false,
            _ => self.0.push((sectors, kind)),
        }
        true
    }
}

/// The extents of sectors `first..first + count` of `store`: consecutive from `first`,
/// covering at least a first part of the range.
pub(crate) fn sector_extents(
    store: &dyn BlockStore,
    first: u64,
    count: u64,
) -> Result<Vec<(u64, Kind)>, ebsim_io::IoError> {
    let ss = store.sector_size().bytes() as u64;
    let window = (SCAN_WINDOW_BYTES / ss).max(1);
    let mut budget = MAX_SCAN_BYTES / ss;
    // Sectors no smaller than the storage's allocation blocks were written whole where
    // allocated: never all zeros (the volume stores zero sectors as holes), nothing to look for.
    let scan = store.allocation_unit().is_none_or(|unit| ss < unit);
    let mut runs = Runs::default();
    let mut flags = Vec::new();
    let mut at = first;
    'runs: for run in store.allocation(first, count)? {
        if !run.allocated {
            if !runs.push(run.sectors, Kind::Hole) {
                break;
            }
            at += run.sectors;
            continue;
        }
        if !scan {
            if !runs.push(run.sectors, Kind::Data) {
                break;
            }
            at += run.sectors;
            continue;
        }
        // Allocated: look at each sector for all zeros, a window at a time, shared-locked
        // so that no write is half seen.
        let end = at + run.sectors;
        while at < end {
            if budget == 0 {
                break 'runs;
            }
            let n = window.min(end - at).min(budget);
            flags.clear();
            flags.resize(n as usize, false);
            {
                let held = store.range_locks().read(at, n);
                store.zero_sectors(&held, at, &mut flags)?;
            }
            let mut i = 0;
            while i < flags.len() {
                let z = flags[i];
                let start = i;
                while i < flags.len() && flags[i] == z {
                    i += 1;
                }
                let kind = if z { Kind::Zero } else { Kind::Data };
                if !runs.push((i - start) as u64, kind) {
                    break 'runs;
                }
            }
            at += n;
            budget -= n;
        }
    }
    Ok(runs.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebsim_io::{MemoryStore, SectorSize};

    #[test]
    fn holes_zero_sectors_and_data_are_told_apart() {
        let store = MemoryStore::new(SectorSize::S4096, 1 << 20).expect("store");
        let locks = store.range_locks();
        // Data at sectors 100..104 and 110; sector 105 is written as zeros. The memory store
        // keeps 256 KiB chunks (64 sectors): 0..64 is a hole, 64..128 stored.
        store
            .write_sectors(&locks.write(100, 4), 100, &[7u8; 4 * 4096])
            .expect("write");
        store
            .write_sectors(&locks.write(105, 1), 105, &[0u8; 4096])
            .expect("write");
        store
            .write_sectors(&locks.write(110, 1), 110, &[9u8; 4096])
            .expect("write");
        let e = sector_extents(&store, 0, 1 << 20).expect("extents");
        assert_eq!(
            e,
            [
                (64, Kind::Hole),
                (36, Kind::Zero),
                (4, Kind::Data),
                (6, Kind::Zero),
                (1, Kind::Data),
                (17, Kind::Zero),
                ((1 << 20) - 128, Kind::Hole)
            ]
        );
        // A range inside: starts where asked.
        assert_eq!(
            sector_extents(&store, 102, 4).expect("extents"),
            [(2, Kind::Data), (2, Kind::Zero)]
        );
    }

    #[test]
    fn whole_block_sectors_are_not_scanned() {
        use ebsim_io::FileStore;
        let dir = tempfile::tempdir().expect("tempdir");
        // Stored zeros at sector 8 and data at 9, on 512-byte and on 4096-byte sectors.
        for (ss, name) in [(SectorSize::S512, "small"), (SectorSize::S4096, "large")] {
            let store = FileStore::create(dir.path().join(name), ss, 1 << 20).expect("store");
            let n = ss.bytes();
            let mut buf = vec![0u8; 2 * n];
            buf[n..].fill(5);
            store
                .write_sectors(&store.range_locks().write(8, 2), 8, &buf)
                .expect("write");
            let e = sector_extents(&store, 8, 2).expect("extents");
            let unit = store.allocation_unit().expect("block size");
            if (n as u64) < unit {
                // Looked at: the stored zeros are told from the data.
                assert_eq!(e, [(1, Kind::Zero), (1, Kind::Data)], "{name}");
            } else {
                // A whole block per sector: allocated means written; not looked at.
                assert_eq!(e, [(2, Kind::Data)], "{name}");
            }
        }
    }

    #[test]
    fn answers_are_bounded() {
        let store = MemoryStore::new(SectorSize::S512, 1 << 22).expect("store");
        let locks = store.range_locks();
        // Every other sector of 4096 holds data: far more runs than one answer carries.
        for s in (0..4096u64).step_by(2) {
            store
                .write_sectors(&locks.write(s, 1), s, &[1u8; 512])
                .expect("write");
        }
        let e = sector_extents(&store, 0, 1 << 22).expect("extents");
        assert_eq!(e.len(), MAX_EXTENTS);
        assert_eq!(e[0], (1, Kind::Data));
        assert_eq!(e[1], (1, Kind::Zero));
        // Whole allocated ranges are looked at only up to the scan budget.
        let big = MemoryStore::new(SectorSize::S4096, 1 << 16).expect("store");
        let all = 1u64 << 16;
        let guard = big.range_locks().write(0, all);
        big.write_sectors(&guard, 0, &vec![3u8; (all * 4096) as usize])
            .expect("write");
        drop(guard);
        let e = sector_extents(&big, 0, all).expect("extents");
        assert_eq!(e, [(MAX_SCAN_BYTES / 4096, Kind::Data)]);
    }
}
