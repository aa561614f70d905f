//! Block stores: where the ciphertext sectors of a volume live.
//!
//! A [`BlockStore`] holds whole sectors of ciphertext and knows nothing about keys. A sector
//! that was never written, or was trimmed, reads as zeros; the volume layer treats an all-zero
//! sector as a hole (see [`is_hole`]) and does not decrypt it.
//!
//! Three stores:
//! - [`MemoryStore`]: sparse, in memory; memory grows with the data written, not the size.
//! - [`MmapStore`]: a sparse file (`data.img`) accessed through a shared memory map; disk
//!   use grows with the data written, a full disk is an error, never a `SIGBUS`, and writes
//!   go through a small journal (`data.journal`) so that a process killed mid-write never
//!   leaves a sector half written.
//! - [`FileStore`]: the same file accessed with positional reads and writes (one system call
//!   per request, no map).
//!
//! Callers lock the sectors of each request once, through the store's [`RangeLocks`]; the
//! stores check the guard and take no range lock of their own ([`BlockStore`] says exactly
//! what callers hold).

use crate::{IoError, SectorSize};

mod file;
mod journal;
mod memory;
mod mmap;
mod range_lock;
#[allow(unsafe_code)]
mod sys;

pub use file::FileStore;
pub(crate) use file::file_allocation;
pub use memory::MemoryStore;
pub use mmap::MmapStore;
pub use range_lock::{RangeGuard, RangeLocks};

/// A store of fixed-size sectors. All methods take `&self`: a store is shared between threads,
/// and requests to disjoint ranges may run in parallel.
///
/// # What callers hold
///
/// A store takes no lock of its own over the sectors of a request. The caller locks them, once
/// per request, through the store's [`RangeLocks`] ([`BlockStore::range_locks`]) and passes
/// the [`RangeGuard`] along with the request:
/// - reads ([`read_sectors`](BlockStore::read_sectors),
///   [`read_sectors_with_holes`](BlockStore::read_sectors_with_holes),
///   [`read_sectors_via`](BlockStore::read_sectors_via)): a guard covering the request's
///   sectors, shared ([`RangeLocks::read`]) or exclusive;
/// - writes and trims ([`write_sectors`](BlockStore::write_sectors),
///   [`write_sectors_via`](BlockStore::write_sectors_via), [`trim`](BlockStore::trim)): a
///   guard covering them exclusively ([`RangeLocks::write`]);
/// - [`flush`](BlockStore::flush): nothing.
///
/// A guard may cover more than the request, and one guard may serve several requests (a
/// read-modify-write holds one exclusive guard for its read and its write). A request whose
/// guard is not from this store's locks, or does not cover it in the mode it needs, is refused
/// with [`IoError::NotLocked`] before anything is touched.
///
/// What the guards give: overlapping requests never run at once unless both read, so a read
/// sees each earlier write whole and never part of one in progress; and requests that touch the
/// same memory page never run at once either (lock blocks are whole pages), which
/// [`MmapStore`] relies on for its record of the pages that have disk blocks. The stores keep
/// their own structures safe under requests to disjoint ranges ([`MemoryStore`] locks each
/// 256 KiB chunk while it copies into or out of it), but keep no request whole by themselves.
///
/// Every request is checked before anything is touched: a buffer that is not a whole number of
/// sectors gives [`IoError::Misaligned`], a run past the end gives [`IoError::OutOfRange`].
///
/// ```
/// use ebsim_io::{BlockStore, MemoryStore, SectorSize, is_hole};
///
/// // 8 TiB, sparse: memory grows with what is written.
/// let store = MemoryStore::new(SectorSize::S4096, 2u64 << 30)?;
/// let locks = store.range_locks();
/// store.write_sectors(&locks.write(1 << 30, 1), 1 << 30, &[0xAB; 4096])?;
/// let mut buf = vec![0u8; 2 * 4096];
/// store.read_sectors(&locks.read(1 << 30, 2), 1 << 30, &mut buf)?;
/// assert!(!is_hole(&buf[..4096]) && is_hole(&buf[4096..]));
/// let held = locks.write(1 << 30, 2);
/// store.trim(&held, 1 << 30, 1)?;
/// store.read_sectors(&held, 1 << 30, &mut buf)?;
/// assert!(is_hole(&buf));
/// # Ok::<(), ebsim_io::IoError>(())
/// ```
pub trait BlockStore: Send + Sync {
    /// The sector size.
    fn sector_size(&self) -> SectorSize;

    /// The number of sectors.
    fn num_sectors(&self) -> u64;

    /// The size in bytes (`num_sectors × sector_size`).
    fn size_bytes(&self) -> u64 {
        self.num_sectors() << self.sector_size().shift()
    }

    /// The range locks that callers take before each request (see "What callers hold").
    fn range_locks(&self) -> &RangeLocks;

    /// Reads the sectors starting at `first` into `buf` (whole sectors). Holes read as zeros.
    /// `held` covers the sectors (shared or exclusive).
    ///
    /// # Errors
    /// [`IoError::Misaligned`], [`IoError::OutOfRange`], [`IoError::NotLocked`], or an I/O
    /// error of the store.
    fn read_sectors(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        buf: &mut [u8],
    ) -> Result<(), IoError>;

    /// Writes whole sectors starting at `first`. `held` covers them exclusively.
    ///
    /// # Errors
    /// [`IoError::Misaligned`], [`IoError::OutOfRange`], [`IoError::NotLocked`],
    /// [`IoError::NoSpace`] when the backing storage is full, or another I/O error of the
    /// store.
    fn write_sectors(&self, held: &RangeGuard<'_>, first: u64, buf: &[u8]) -> Result<(), IoError>;

    /// Makes `count` sectors starting at `first` a hole: they read as zeros and their storage
    /// is released where the store can release it. `held` covers them exclusively.
    ///
    /// # Errors
    /// [`IoError::OutOfRange`], [`IoError::NotLocked`], or an I/O error of the store.
    fn trim(&self, held: &RangeGuard<'_>, first: u64, count: u64) -> Result<(), IoError>;

    /// Makes every completed write durable (a no-op for memory).
    ///
    /// # Errors
    /// An I/O error of the store.
    fn flush(&self) -> Result<(), IoError>;

    /// Reads like [`BlockStore::read_sectors`] and sets `holes[i]` to whether sector
    /// `first + i` is a hole (all zero). `holes` must have one entry per sector of `buf`.
    /// Stores that know where their holes are answer without scanning those sectors.
    ///
    /// # Errors
    /// As [`BlockStore::read_sectors`]; [`IoError::Misaligned`] if `holes` has the wrong length.
    fn read_sectors_with_holes(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        buf: &mut [u8],
        holes: &mut [bool],
    ) -> Result<(), IoError> {
        let ss = self.sector_size();
        check_holes_len(ss, buf.len(), holes.len())?;
        self.read_sectors(held, first, buf)?;
        for (sector, hole) in buf.chunks_exact(ss.bytes()).zip(holes.iter_mut()) {
            *hole = is_hole(sector);
        }
        Ok(())
    }

    /// How sectors `first..first + count` are allocated in the store's storage: consecutive
    /// runs from `first`, merged (no two neighbours alike), covering at least a first part of
    /// the range and at most [`MAX_ALLOCATION_RUNS`] runs. An unallocated sector is a hole and
    /// reads as zeros; an allocated one may read as zeros too (see
    /// [`BlockStore::zero_sectors`]). Takes no range lock: the answer is a snapshot, as exact
    /// as the storage's own record at the time of the call. The default reports the whole
    /// range as allocated, which is always correct.
    ///
    /// # Errors
    /// [`IoError::OutOfRange`], or an I/O error of the store.
    fn allocation(&self, first: u64, count: u64) -> Result<Vec<AllocationRun>, IoError> {
        check_range(self.num_sectors(), first, count)?;
        Ok(vec![AllocationRun {
            sectors: count,
            allocated: true,
        }])
    }

    /// The size in bytes of the blocks in which the storage allocates (a file system's
    /// blocks, a page of the map, a memory chunk), if known. Where sectors are at least that
    /// large, an allocated sector was written whole, so it holds what was written: in a
    /// volume, never all zeros (an all-zero sector is stored as a hole), and
    /// [`BlockStore::zero_sectors`] has nothing to find. `None` (the default): unknown.
    fn allocation_unit(&self) -> Option<u64> {
        None
    }

    /// Sets `zero[i]` to whether the stored sector `first + i` is all zero (a hole, which
    /// reads as zeros; see [`is_hole`]). Stores that can look at their storage in place do so
    /// without copying it out; the default reads the sectors through a bounce buffer. `held`
    /// covers the sectors (shared or exclusive).
    ///
    /// # Errors
    /// As [`BlockStore::read_sectors`].
    fn zero_sectors(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        zero: &mut [bool],
    ) -> Result<(), IoError> {
        let ss = self.sector_size().bytes();
        let per = (ZERO_SCAN_BUF / ss).max(1);
        let mut buf = vec![0u8; per.min(zero.len()) * ss];
        for (i, flags) in zero.chunks_mut(per).enumerate() {
            let b = &mut buf[..flags.len() * ss];
            self.read_sectors_with_holes(held, first + (i * per) as u64, b, flags)?;
        }
        Ok(())
    }

    /// Stores the transform of `buf` at sector `first`: the same as
    /// `transform.apply(first, buf)` followed by [`BlockStore::write_sectors`] (which is what
    /// this default does), but a store that can write the transform's output straight into its
    /// storage does that and saves a copy. Afterwards `buf` holds unspecified bytes. `held`
    /// covers the sectors exclusively.
    ///
    /// # Errors
    /// As [`BlockStore::write_sectors`], or an error of the transform; a request that fails
    /// its checks changes nothing.
    fn write_sectors_via(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        buf: &mut [u8],
        transform: &dyn SectorTransform,
    ) -> Result<(), IoError> {
        let count = check_request(self.sector_size(), self.num_sectors(), first, buf.len())?;
        held.check(self.range_locks(), first, count, true)?;
        transform.apply(first, buf)?;
        self.write_sectors(held, first, buf)
    }

    /// Reads like [`BlockStore::read_sectors_with_holes`] and transforms every sector that is
    /// not a hole; holes read as zeros and are not transformed. A store that can run the
    /// transform straight from its storage into `buf` does that and saves a copy.
    ///
    /// # Errors
    /// As [`BlockStore::read_sectors_with_holes`], or an error of the transform.
    fn read_sectors_via(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        buf: &mut [u8],
        holes: &mut [bool],
        transform: &dyn SectorTransform,
    ) -> Result<(), IoError> {
        self.read_sectors_with_holes(held, first, buf, holes)?;
        let ss = self.sector_size().bytes();
        for_each_run(holes, |i, j| {
            transform.apply(first + i as u64, &mut buf[i * ss..j * ss])
        })
    }
}

/// A run of sectors with one allocation status (see [`BlockStore::allocation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationRun {
    /// Number of sectors in the run.
    pub sectors: u64,
    /// Whether the storage holds blocks for them (false: a hole, which reads as zeros).
    pub allocated: bool,
}

/// At most this many runs per [`BlockStore::allocation`] answer.
pub const MAX_ALLOCATION_RUNS: usize = 1024;

/// Bytes per bounce buffer of the default [`BlockStore::zero_sectors`].
const ZERO_SCAN_BUF: usize = 1 << 20;

/// Appends a run of `sectors` to `runs`, merging it with the last run when alike. Returns
/// false once `runs` holds [`MAX_ALLOCATION_RUNS`] runs and this one could not be merged.
pub(crate) fn push_run(runs: &mut Vec<AllocationRun>, sectors: u64, allocated: bool) -> bool {
    if sectors == 0 {
        return true;
    }
    let full = runs.len() >= MAX_ALLOCATION_RUNS;
    match runs.last_mut() {
        Some(r) if r.allocated == allocated => r.sectors += sectors,
        _ if full => return false,
        _ => runs.push(AllocationRun { sectors, allocated }),
    }
    true
}

/// A transformation of whole sectors that a store applies on the way in or out: the volume
/// layer's encryption (writes) and decryption (reads). It gives the same bytes in place or
/// from one buffer into another, so a store can run it straight between the caller's buffer
/// and its own storage instead of copying as well.
pub trait SectorTransform: Sync {
    /// Transforms the whole sectors of `buf` in place; the first of them is sector `first`.
    ///
    /// # Errors
    /// Whatever the transformation refuses (for the XTS engine: a run past sector 2^64 − 1).
    fn apply(&self, first: u64, buf: &mut [u8]) -> Result<(), IoError>;

    /// Writes the transform of the whole sectors of `src` into `dst` (the same length); the
    /// first of them is sector `first`.
    ///
    /// # Errors
    /// As [`SectorTransform::apply`], and for buffers of different lengths.
    fn apply_to(&self, first: u64, src: &[u8], dst: &mut [u8]) -> Result<(), IoError>;
}

/// Calls `f(i, j)` for each maximal run `i..j` of sectors whose `skip` flag is false.
pub(crate) fn for_each_run<E>(
    skip: &[bool],
    mut f: impl FnMut(usize, usize) -> Result<(), E>,
) -> Result<(), E> {
    let mut i = 0;
    while i < skip.len() {
        if skip[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < skip.len() && !skip[i] {
            i += 1;
        }
        f(start, i)?;
    }
    Ok(())
}

/// Reads stored sectors `src` (the first is sector `first`) into `dst` through `transform`,
/// in one pass: hole sectors (all zero) become zeros and are flagged in `holes`, each run of
/// data sectors is transformed straight from `src` in one call.
pub(crate) fn transform_out(
    first: u64,
    src: &[u8],
    dst: &mut [u8],
    holes: &mut [bool],
    ss: usize,
    transform: &dyn SectorTransform,
) -> Result<(), IoError> {
    for ((h, sector), out) in holes
        .iter_mut()
        .zip(src.chunks_exact(ss))
        .zip(dst.chunks_exact_mut(ss))
    {
        *h = is_hole(sector);
        if *h {
            out.fill(0);
        }
    }
    for_each_run(holes, |i, j| {
        let range = i * ss..j * ss;
        transform.apply_to(first + i as u64, &src[range.clone()], &mut dst[range])
    })
}

/// Whether a sector's stored bytes are all zero, i.e. the sector is a hole and reads as zeros.
pub fn is_hole(sector: &[u8]) -> bool {
    // Ciphertext answers at its first bytes; only a hole (or rare data) is scanned further,
    // 256 bytes at a time so that data with a zero head still stops early.
    if sector.first_chunk::<16>().is_some_and(|h| *h != [0u8; 16]) {
        return false;
    }
    let mut blocks = sector.chunks_exact(256);
    blocks.all(all_zero) && all_zero(blocks.remainder())
}

/// Whether `bytes` are all zero (no early exit: a plain OR the compiler vectorises).
fn all_zero(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(32);
    // OR 32 bytes at a time; the compiler turns this into vector loads.
    let mut acc = [0u64; 4];
    for w in &mut words {
        for (a, c) in acc.iter_mut().zip(w.chunks_exact(8)) {
            *a |= u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        }
    }
    acc.iter().fold(0, |x, y| x | y) == 0 && words.remainder().iter().all(|&b| b == 0)
}

pub(crate) fn check_holes_len(
    ss: SectorSize,
    buf_len: usize,
    holes_len: usize,
) -> Result<(), IoError> {
    if buf_len / ss.bytes() != holes_len {
        return Err(IoError::Misaligned {
            len: holes_len as u64,
            sector_size: ss.get(),
        });
    }
    Ok(())
}

/// Checks a request of `len` bytes at sector `first` against a store of `num_sectors`
/// sectors; returns the number of sectors.
pub(crate) fn check_request(
    ss: SectorSize,
    num_sectors: u64,
    first: u64,
    len: usize,
) -> Result<u64, IoError> {
    let len = len as u64;
    if !len.is_multiple_of(u64::from(ss.get())) {
        return Err(IoError::Misaligned {
            len,
            sector_size: ss.get(),
        });
    }
    check_range(num_sectors, first, len >> ss.shift())?;
    Ok(len >> ss.shift())
}

/// Checks that sectors `first..first + count` lie inside a store of `num_sectors` sectors.
pub(crate) fn check_range(num_sectors: u64, first: u64, count: u64) -> Result<(), IoError> {
    match first.checked_add(count) {
        Some(end) if end <= num_sectors => Ok(()),
        Some(end) => Err(IoError::OutOfRange {
            first,
            end,
            num_sectors,
        }),
        None => Err(IoError::SectorOverflow { first, count }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_hole_sees_any_nonzero_byte() {
        let mut s = vec![0u8; 4096];
        assert!(is_hole(&s));
        for i in [0, 31, 32, 1000, 4095] {
            s[i] = 1;
            assert!(!is_hole(&s), "byte {i}");
            s[i] = 0;
        }
        let mut odd = vec![0u8; 45];
        assert!(is_hole(&odd));
        odd[44] = 7;
        assert!(!is_hole(&odd));
    }

    #[test]
    fn requests_are_checked() {
        let ss = SectorSize::S512;
        assert!(matches!(
            check_request(ss, 10, 0, 100),
            Err(IoError::Misaligned { .. })
        ));
        assert!(matches!(
            check_request(ss, 10, 9, 1024),
            Err(IoError::OutOfRange { .. })
        ));
        assert!(matches!(
            check_range(10, u64::MAX, 2),
            Err(IoError::SectorOverflow { .. })
        ));
        assert_eq!(check_request(ss, 10, 8, 1024).ok(), Some(2));
    }
}
