//! A sparse in-memory block store.

use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{
    AllocationRun, BlockStore, RangeGuard, RangeLocks, SectorTransform, check_holes_len,
    check_range, check_request, is_hole, push_run, transform_out,
};
use crate::{IoError, SectorSize};

/// Bytes per chunk: the unit of allocation. A chunk is allocated on its first write and
/// freed when a trim covers it whole.
const CHUNK_SHIFT: u32 = 18; // 256 KiB
const CHUNK: usize = 1 << CHUNK_SHIFT;
/// Chunks per region: the unit of the directory (8 KiB), allocated on the first write into it.
/// Small, so that scattered small writes into a huge store cost little beyond their chunk.
const REGION_SHIFT: u32 = 8; // 256 chunks = 64 MiB
const REGION_CHUNKS: usize = 1 << REGION_SHIFT;
/// The largest memory store: 64 TiB (its top-level directory is then 24 MiB).
pub(crate) const MAX_BYTES: u64 = 1 << 46;

/// One chunk: its bytes once written, behind a lock of its own. The lock is what lets requests
/// to different sectors of one chunk run at once safely (each copies under it); it keeps no
/// request whole: callers hold the store's [`RangeLocks`] for that.
type Chunk = RwLock<Option<ChunkBytes>>;

/// The bytes of one chunk, starting on a 64-byte boundary so that the XTS kernels can write
/// them with non-temporal stores (the allocator only promises 16): an allocation 63 bytes
/// larger, used from its first aligned byte. Zeroed when made.
struct ChunkBytes {
    bytes: Box<[u8]>,
    start: usize,
}

impl ChunkBytes {
    fn zeroed() -> Self {
        let bytes = vec![0u8; CHUNK + 63].into_boxed_slice();
        // Never more than 63 for a byte pointer; bounded anyway (then merely unaligned).
        let start = bytes.as_ptr().align_offset(64).min(63);
        Self { bytes, start }
    }
}

impl std::ops::Deref for ChunkBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[self.start..self.start + CHUNK]
    }
}

impl std::ops::DerefMut for ChunkBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + CHUNK]
    }
}

/// A sparse in-memory block store.
///
/// Memory grows with the data written (in 256 KiB chunks allocated on first write, plus 8 KiB
/// of directory per 64 MiB region written), not with the size of the store: an empty 8 TiB
/// store costs 3 MiB of directory. The largest store is 64 TiB. Unwritten sectors
/// read as zeros; a trim that covers a whole chunk frees it, a partial one zeroes the sectors.
/// Requests to disjoint ranges run in parallel, each holding its range lock (see
/// [`BlockStore`]); those in different chunks never wait for each other.
pub struct MemoryStore {
    sector_size: SectorSize,
    num_sectors: u64,
    regions: Box<[OnceLock<Box<[Chunk]>>]>,
    locks: RangeLocks,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sector_size", &self.sector_size)
            .field("num_sectors", &self.num_sectors)
            .field("allocated_bytes", &self.allocated_bytes())
            .finish()
    }
}

impl MemoryStore {
    /// An empty (all-hole) store of `num_sectors` sectors.
    ///
    /// # Errors
    /// [`IoError::TooLarge`] if the store would exceed 64 TiB.
    pub fn new(sector_size: SectorSize, num_sectors: u64) -> Result<Self, IoError> {
        let bytes = u128::from(num_sectors) << sector_size.shift();
        if bytes > u128::from(MAX_BYTES) {
            return Err(IoError::TooLarge {
                size_bytes: bytes,
                max_bytes: MAX_BYTES,
            });
        }
        let bytes = bytes as u64;
        let region_bytes = (CHUNK as u64) << REGION_SHIFT;
        let n_regions = bytes.div_ceil(region_bytes) as usize;
        let regions = (0..n_regions).map(|_| OnceLock::new()).collect();
        Ok(Self {
            sector_size,
            num_sectors,
            regions,
            locks: RangeLocks::new(sector_size),
        })
    }

    /// Bytes of sector data currently held in memory (whole chunks).
    pub fn allocated_bytes(&self) -> u64 {
        let mut n = 0u64;
        for region in self.regions.iter().filter_map(OnceLock::get) {
            for chunk in region.iter() {
                if read_lock(chunk).is_some() {
                    n += CHUNK as u64;
                }
            }
        }
        n
    }

    fn chunk(&self, index: u64) -> Option<&Chunk> {
        let region = self.regions.get((index >> REGION_SHIFT) as usize)?.get()?;
        region.get((index as usize) & (REGION_CHUNKS - 1))
    }

    fn chunk_or_alloc(&self, index: u64) -> Option<&Chunk> {
        let region = self
            .regions
            .get((index >> REGION_SHIFT) as usize)?
            .get_or_init(|| (0..REGION_CHUNKS).map(|_| RwLock::new(None)).collect());
        region.get((index as usize) & (REGION_CHUNKS - 1))
    }

    /// Calls `f(chunk_index, offset_in_chunk, range_in_request)` for each chunk piece of the
    /// byte range `[start, start + len)`.
    fn for_each_piece<E>(
        start: u64,
        len: usize,
        mut f: impl FnMut(u64, usize, std::ops::Range<usize>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut done = 0usize;
        while done < len {
            let pos = start + done as u64;
            let off = (pos as usize) & (CHUNK - 1);
            let n = (CHUNK - off).min(len - done);
            f(pos >> CHUNK_SHIFT, off, done..done + n)?;
            done += n;
        }
        Ok(())
    }
}

fn read_lock(c: &Chunk) -> RwLockReadGuard<'_, Option<ChunkBytes>> {
    // A panic while holding the lock cannot leave the bytes inconsistent beyond a torn
    // write, which a disk can show too; keep serving.
    c.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_lock(c: &Chunk) -> RwLockWriteGuard<'_, Option<ChunkBytes>> {
    c.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl BlockStore for MemoryStore {
    fn sector_size(&self) -> SectorSize {
        self.sector_size
    }

    fn num_sectors(&self) -> u64 {
        self.num_sectors
    }

    fn range_locks(&self) -> &RangeLocks {
        &self.locks
    }

    fn read_sectors(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        buf: &mut [u8],
    ) -> Result<(), IoError> {
        let count = check_request(self.sector_size, self.num_sectors, first, buf.len())?;
        held.check(&self.locks, first, count, false)?;
        let start = first << self.sector_size.shift();
        Self::for_each_piece(start, buf.len(), |index, off, range| {
            let dst = &mut buf[range];
            match self.chunk(index) {
                Some(chunk) => match read_lock(chunk).as_deref() {
                    Some(data) => dst.copy_from_slice(&data[off..off + dst.len()]),
                    None => dst.fill(0),
                },
                None => dst.fill(0),
            }
            Ok(())
        })
    }

    fn read_sectors_with_holes(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        buf: &mut [u8],
        holes: &mut [bool],
    ) -> Result<(), IoError> {
        let ss = self.sector_size.bytes();
        check_holes_len(self.sector_size, buf.len(), holes.len())?;
        let count = check_request(self.sector_size, self.num_sectors, first, buf.len())?;
        held.check(&self.locks, first, count, false)?;
        let start = first << self.sector_size.shift();
        // Chunks are multiples of the sector size, so a piece is whole sectors.
        Self::for_each_piece(start, buf.len(), |index, off, range| {
            let holes = &mut holes[range.start / ss..range.end / ss];
            let dst = &mut buf[range];
            let guard = self.chunk(index).map(read_lock);
            match guard.as_ref().and_then(|g| g.as_deref()) {
                Some(data) => {
                    dst.copy_from_slice(&data[off..off + dst.len()]);
                    for (s, h) in dst.chunks_exact(ss).zip(holes.iter_mut()) {
                        *h = is_hole(s);
                    }
                }
                None => {
                    dst.fill(0);
                    holes.fill(true);
                }
            }
            Ok(())
        })
    }

    fn allocation_unit(&self) -> Option<u64> {
        Some(CHUNK as u64)
    }

    fn allocation(&self, first: u64, count: u64) -> Result<Vec<AllocationRun>, IoError> {
        check_range(self.num_sectors, first, count)?;
        // From the chunk map: a chunk never written (or freed by a trim) is a hole; whole
        // regions never written are skipped at once.
        let shift = self.sector_size.shift();
        let chunk_sectors = (CHUNK as u64) >> shift;
        let region_sectors = chunk_sectors << REGION_SHIFT;
        let end = first + count;
        let mut runs = Vec::new();
        let mut at = first;
        while at < end {
            let index = at / chunk_sectors;
            let region = self.regions.get((index >> REGION_SHIFT) as usize);
            let (next, allocated) = match region.and_then(OnceLock::get) {
                None => ((at / region_sectors + 1) * region_sectors, false),
                Some(_) => {
                    let here = self.chunk(index).is_some_and(|c| read_lock(c).is_some());
                    ((index + 1) * chunk_sectors, here)
                }
            };
            let next = next.min(end);
            if !push_run(&mut runs, next - at, allocated) {
                break;
            }
            at = next;
        }
        Ok(runs)
    }

    fn zero_sectors(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        zero: &mut [bool],
    ) -> Result<(), IoError> {
        let ss = self.sector_size.bytes();
        let len = zero.len().checked_mul(ss).ok_or(IoError::SectorOverflow {
            first,
            count: zero.len() as u64,
        })?;
        let count = check_request(self.sector_size, self.num_sectors, first, len)?;
        held.check(&self.locks, first, count, false)?;
        let start = first << self.sector_size.shift();
        // Looked at in place, chunk by chunk (chunks are whole sectors).
        Self::for_each_piece(start, len, |index, off, range| {
            let flags = &mut zero[range.start / ss..range.end / ss];
            let guard = self.chunk(index).map(read_lock);
            match guard.as_ref().and_then(|g| g.as_deref()) {
                Some(data) => {
                    let src = &data[off..off + range.len()];
                    for (s, z) in src.chunks_exact(ss).zip(flags.iter_mut()) {
                        *z = is_hole(s);
                    }
                }
                None => flags.fill(true),
            }
            Ok(())
        })
    }

    fn write_sectors(&self, held: &RangeGuard<'_>, first: u64, buf: &[u8]) -> Result<(), IoError> {
        let count = check_request(self.sector_size, self.num_sectors, first, buf.len())?;
        held.check(&self.locks, first, count, true)?;
        let start = first << self.sector_size.shift();
        Self::for_each_piece(start, buf.len(), |index, off, range| {
            let src = &buf[range];
            // The request was checked against the store's range, whose chunks all have slots.
            let chunk = self.chunk_or_alloc(index).ok_or(IoError::OutOfRange {
                first,
                end: first + (buf.len() >> self.sector_size.shift()) as u64,
                num_sectors: self.num_sectors,
            })?;
            let mut guard = write_lock(chunk);
            let data = guard.get_or_insert_with(ChunkBytes::zeroed);
            data[off..off + src.len()].copy_from_slice(src);
            Ok(())
        })
    }

    fn write_sectors_via(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        buf: &mut [u8],
        transform: &dyn SectorTransform,
    ) -> Result<(), IoError> {
        let count = check_request(self.sector_size, self.num_sectors, first, buf.len())?;
        held.check(&self.locks, first, count, true)?;
        let shift = self.sector_size.shift();
        let start = first << shift;
        Self::for_each_piece(start, buf.len(), |index, off, range| {
            let chunk = self.chunk_or_alloc(index).ok_or(IoError::OutOfRange {
                first,
                end: first + (buf.len() >> shift) as u64,
                num_sectors: self.num_sectors,
            })?;
            let mut guard = write_lock(chunk);
            let data = guard.get_or_insert_with(ChunkBytes::zeroed);
            let n = range.len();
            // Chunks are whole sectors, so each piece is too: transform it straight into the
            // chunk.
            let s = first + (range.start >> shift) as u64;
            transform.apply_to(s, &buf[range], &mut data[off..off + n])
        })
    }

    fn read_sectors_via(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        buf: &mut [u8],
        holes: &mut [bool],
        transform: &dyn SectorTransform,
    ) -> Result<(), IoError> {
        let ss = self.sector_size.bytes();
        check_holes_len(self.sector_size, buf.len(), holes.len())?;
        let count = check_request(self.sector_size, self.num_sectors, first, buf.len())?;
        held.check(&self.locks, first, count, false)?;
        let shift = self.sector_size.shift();
        let start = first << shift;
        Self::for_each_piece(start, buf.len(), |index, off, range| {
            let s = first + (range.start >> shift) as u64;
            let holes = &mut holes[range.start / ss..range.end / ss];
            let dst = &mut buf[range];
            let guard = self.chunk(index).map(read_lock);
            let Some(data) = guard.as_ref().and_then(|g| g.as_deref()) else {
                dst.fill(0);
                holes.fill(true);
                return Ok(());
            };
            transform_out(s, &data[off..off + dst.len()], dst, holes, ss, transform)
        })
    }

    fn trim(&self, held: &RangeGuard<'_>, first: u64, count: u64) -> Result<(), IoError> {
        check_range(self.num_sectors, first, count)?;
        held.check(&self.locks, first, count, true)?;
        let start = first << self.sector_size.shift();
        let len = count << self.sector_size.shift();
        let mut pos = start;
        while pos < start + len {
            let index = pos >> CHUNK_SHIFT;
            let off = (pos as usize) & (CHUNK - 1);
            let n = ((CHUNK - off) as u64).min(start + len - pos) as usize;
            if let Some(chunk) = self.chunk(index) {
                let mut guard = write_lock(chunk);
                if off == 0 && n == CHUNK {
                    *guard = None;
                } else if let Some(data) = guard.as_mut() {
                    data[off..off + n].fill(0);
                    // Free the chunk once nothing in it is left (stops at the first data).
                    if data.chunks(4096).all(is_hole) {
                        *guard = None;
                    }
                }
            }
            pos += n as u64;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), IoError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_whole_zeroed_and_64_byte_aligned() {
        for _ in 0..8 {
            let mut c = ChunkBytes::zeroed();
            assert_eq!(c.len(), CHUNK);
            assert_eq!(c.as_ptr().addr() % 64, 0);
            assert!(c.iter().all(|&b| b == 0));
            c[CHUNK - 1] = 7;
            assert_eq!(c.last(), Some(&7));
        }
    }

    #[test]
    fn pieces_split_at_chunk_boundaries() {
        let mut seen = Vec::new();
        let r: Result<(), ()> =
            MemoryStore::for_each_piece(CHUNK as u64 - 512, 1024 + CHUNK, |i, o, r| {
                seen.push((i, o, r));
                Ok(())
            });
        assert!(r.is_ok());
        assert_eq!(
            seen,
            vec![
                (0, CHUNK - 512, 0..512),
                (1, 0, 512..512 + CHUNK),
                (2, 0, 512 + CHUNK..1024 + CHUNK)
            ]
        );
    }

    #[test]
    fn trim_frees_whole_chunks_and_zeroes_partial_ones() -> Result<(), IoError> {
        let s = MemoryStore::new(SectorSize::S4096, 1024)?;
        let held = s.range_locks().write(0, 1024);
        s.write_sectors(&held, 0, &vec![7u8; 2 * CHUNK])?;
        assert_eq!(s.allocated_bytes(), 2 * CHUNK as u64);
        s.trim(&held, 0, (CHUNK / 4096) as u64)?;
        assert_eq!(s.allocated_bytes(), CHUNK as u64);
        s.trim(&held, (CHUNK / 4096) as u64, 1)?;
        assert_eq!(s.allocated_bytes(), CHUNK as u64);
        let mut b = vec![1u8; 8192];
        s.read_sectors(&held, (CHUNK / 4096) as u64, &mut b)?;
        assert!(b[..4096].iter().all(|&x| x == 0));
        assert!(b[4096..].iter().all(|&x| x == 7));
        Ok(())
    }
}
