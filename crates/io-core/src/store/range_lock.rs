//! Range locks over the sectors of a store: the one lock a request takes.
//!
//! A store owns one [`RangeLocks`]; whoever issues a request (the volume layer, a benchmark)
//! locks the request's sectors once, shared to read and exclusive to write or trim, and hands
//! the [`RangeGuard`] to the store with the request. The store checks that the guard is one of
//! its own and covers the request, and takes no lock of its own for the range.
//!
//! Sectors are locked in blocks of 64 KiB (or of a memory page, if pages are larger), block
//! *b* by stripe `stripe_of(b)` of 1024 reader-writer locks. Two requests that touch the same
//! block therefore exclude each other (unless both read), and so do two requests that touch
//! the same memory page: a page never straddles two blocks.

use std::ops::Range;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::sys;
use crate::{IoError, SectorSize};

/// Number of lock stripes.
const STRIPES: u64 = 1024;
/// log2 of the smallest lock block, in bytes (64 KiB).
const MIN_BLOCK_SHIFT: u32 = 16;

/// The stripe guarding lock block `block` (Fibonacci hashing: the top bits of a
/// multiplicative hash), so that requests at distant offsets (say, exactly 1 MiB apart, as
/// parallel sequential copies often are) rarely share a stripe.
fn stripe_of(block: u64) -> usize {
    (block.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - STRIPES.trailing_zeros())) as usize
}

/// The range locks of one store: striped reader-writer locks over blocks of sectors. See
/// [`BlockStore`](super::BlockStore) for what callers hold when.
///
/// ```
/// use ebsim_io::{BlockStore, MemoryStore, SectorSize};
///
/// let store = MemoryStore::new(SectorSize::S4096, 1024)?;
/// let held = store.range_locks().write(8, 2);
/// store.write_sectors(&held, 8, &[7u8; 2 * 4096])?;
/// // The same guard covers a read of the same sectors (read-modify-write).
/// let mut back = vec![0u8; 4096];
/// store.read_sectors(&held, 9, &mut back)?;
/// assert!(back.iter().all(|&b| b == 7));
/// # Ok::<(), ebsim_io::IoError>(())
/// ```
pub struct RangeLocks {
    stripes: Box<[RwLock<()>]>,
    /// log2 of the sectors per lock block.
    block_shift: u32,
}

impl std::fmt::Debug for RangeLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeLocks")
            .field("stripes", &self.stripes.len())
            .field("sectors_per_block", &(1u64 << self.block_shift))
            .finish()
    }
}

impl RangeLocks {
    /// The range locks of a store of `sector_size` sectors.
    pub fn new(sector_size: SectorSize) -> Self {
        let block_bytes_shift = MIN_BLOCK_SHIFT.max(sys::page_size().trailing_zeros());
        Self {
            stripes: (0..STRIPES).map(|_| RwLock::new(())).collect(),
            block_shift: block_bytes_shift.saturating_sub(sector_size.shift()),
        }
    }

    /// Locks sectors `first..first + count` for reading (shared), waiting while a writer
    /// holds any of them. A guard for no sectors holds nothing.
    pub fn read(&self, first: u64, count: u64) -> RangeGuard<'_> {
        self.lock(first, count, false)
    }

    /// Locks sectors `first..first + count` for writing or trimming (exclusive), waiting while
    /// anyone holds any of them. A guard for no sectors holds nothing.
    pub fn write(&self, first: u64, count: u64) -> RangeGuard<'_> {
        self.lock(first, count, true)
    }

    fn lock(&self, first: u64, count: u64, exclusive: bool) -> RangeGuard<'_> {
        let end = first.saturating_add(count);
        let held = if count == 0 {
            Held::Nothing
        } else {
            let (b0, b1) = (first >> self.block_shift, (end - 1) >> self.block_shift);
            if b0 == b1 {
                // One block, the common case: no guard list to allocate.
                let stripe = &self.stripes[stripe_of(b0)];
                if exclusive {
                    Held::WriteOne(stripe.write())
                } else {
                    Held::ReadOne(stripe.read())
                }
            } else {
                // Stripes are always taken in ascending order, so two requests can never
                // deadlock.
                let ids = stripe_ids(b0, b1);
                if exclusive {
                    Held::Write(ids.into_iter().map(|i| self.stripes[i].write()).collect())
                } else {
                    Held::Read(ids.into_iter().map(|i| self.stripes[i].read()).collect())
                }
            }
        };
        RangeGuard {
            locks: self,
            sectors: first..end,
            exclusive,
            _held: held,
        }
    }
}

/// The stripes guarding lock blocks `b0..=b1`, ascending and without repeats.
fn stripe_ids(b0: u64, b1: u64) -> Vec<usize> {
    if b1 - b0 >= STRIPES {
        return (0..STRIPES as usize).collect();
    }
    let mut ids: Vec<usize> = (b0..=b1).map(stripe_of).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Sectors locked by [`RangeLocks::read`] or [`RangeLocks::write`], until dropped.
pub struct RangeGuard<'a> {
    locks: &'a RangeLocks,
    sectors: Range<u64>,
    exclusive: bool,
    _held: Held<'a>,
}

impl std::fmt::Debug for RangeGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeGuard")
            .field("sectors", &self.sectors)
            .field("exclusive", &self.exclusive)
            .finish_non_exhaustive()
    }
}

/// The stripe guards a [`RangeGuard`] holds (only dropped, never read).
enum Held<'a> {
    Nothing,
    ReadOne(#[allow(dead_code)] RwLockReadGuard<'a, ()>),
    WriteOne(#[allow(dead_code)] RwLockWriteGuard<'a, ()>),
    Read(#[allow(dead_code)] Vec<RwLockReadGuard<'a, ()>>),
    Write(#[allow(dead_code)] Vec<RwLockWriteGuard<'a, ()>>),
}

impl RangeGuard<'_> {
    /// The sectors locked.
    pub fn sectors(&self) -> Range<u64> {
        self.sectors.clone()
    }

    /// Whether the sectors are locked exclusively (for writing).
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Checks that this guard comes from `locks` and covers sectors `first..first + count`,
    /// exclusively if `exclusive`. Stores call this on every request.
    ///
    /// # Errors
    /// [`IoError::NotLocked`] otherwise.
    pub fn check(
        &self,
        locks: &RangeLocks,
        first: u64,
        count: u64,
        exclusive: bool,
    ) -> Result<(), IoError> {
        let inside = first
            .checked_add(count)
            .is_some_and(|end| first >= self.sectors.start && end <= self.sectors.end);
        let ok = std::ptr::eq(self.locks, locks)
            && (count == 0 || inside)
            && (self.exclusive || !exclusive);
        if ok {
            Ok(())
        } else {
            Err(IoError::NotLocked {
                first,
                count,
                exclusive,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_cover_their_range_in_their_mode_only() {
        let locks = RangeLocks::new(SectorSize::S512);
        let other = RangeLocks::new(SectorSize::S512);
        let w = locks.write(10, 5);
        assert_eq!((w.sectors(), w.is_exclusive()), (10..15, true));
        assert!(w.check(&locks, 10, 5, true).is_ok());
        assert!(w.check(&locks, 12, 1, false).is_ok());
        assert!(w.check(&locks, 100, 0, true).is_ok(), "an empty request");
        for (first, count) in [(9, 2), (14, 2), (0, 100), (u64::MAX, 2)] {
            assert!(matches!(
                w.check(&locks, first, count, false),
                Err(IoError::NotLocked { .. })
            ));
        }
        assert!(
            w.check(&other, 10, 1, false).is_err(),
            "another store's guard"
        );
        drop(w);
        let r = locks.read(10, 5);
        assert!(r.check(&locks, 10, 5, false).is_ok());
        assert!(r.check(&locks, 10, 5, true).is_err(), "shared guard, write");
    }

    #[test]
    fn blocks_are_whole_pages_and_stripes_ascend() {
        let page = sys::page_size();
        for ss in [SectorSize::S512, SectorSize::S4096] {
            let locks = RangeLocks::new(ss);
            let block_bytes = u64::from(ss.get()) << locks.block_shift;
            assert!(block_bytes >= 64 << 10 && block_bytes.is_multiple_of(page));
        }
        let ids = stripe_ids(5, 5 + 40);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(stripe_ids(0, STRIPES).len(), STRIPES as usize);
    }

    #[test]
    fn writers_exclude_overlapping_requests_and_readers_share() {
        let locks = RangeLocks::new(SectorSize::S4096);
        let r1 = locks.read(0, 100);
        let r2 = locks.read(50, 100);
        drop((r1, r2));
        // A writer over many blocks, and a reader of one of its blocks on another thread:
        // the reader gets in only after the writer lets go.
        let w = locks.write(0, 1000);
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _r = locks.read(500, 1);
                assert!(done.load(std::sync::atomic::Ordering::SeqCst));
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            drop(w);
        });
    }
}
