//! A block store on a sparse file, accessed through a shared memory map (memmap2).
//!
//! Reads and writes are copies to and from the map, or, through
//! [`BlockStore::write_sectors_via`] and [`BlockStore::read_sectors_via`], the caller's
//! transform (the volume's XTS engine) running straight between its buffer and the map: no
//! system call per request once the pages are resident, and no copy besides the transform's
//! own pass. Two hazards of writing through a map are handled here:
//!
//! - **No `SIGBUS` on a full disk.** Writing through a map into a hole of the file makes the
//!   kernel allocate a block at fault time; if the file system is full, the process gets
//!   `SIGBUS`. So the map is written only where the store knows the file has blocks. Before
//!   a write that touches any page not known to have them, the store allocates the blocks of
//!   those pages with `fallocate` (which leaves data as it is and fails cleanly with `ENOSPC`,
//!   [`IoError::NoSpace`]) and maps them in one `madvise(MADV_POPULATE_WRITE)` rather than
//!   one fault at a time; the write then goes through the map like any other. On a file
//!   system without `fallocate` the write is a positional write (`pwrite`) instead, which
//!   allocates as it writes and fails just as cleanly; the pages it covered whole are then
//!   known to be allocated. The knowledge is a bitmap, allocated per GiB region written
//!   (memory proportional to the data, not to the volume size); a trim clears the bits of
//!   every page it touches. After a restart the bitmap is empty, so each page's first write
//!   allocates again (a no-op for blocks that exist).
//! - **No torn sectors.** A write through the map is many store instructions, and a process
//!   killed between two of them would leave a sector part old, part new (the page cache
//!   outlives the process). So every write goes through the store's write journal
//!   (`journal.rs`, a small file beside the data file): the transform writes its output into a
//!   journal slot, the slot is committed, copied into the map and released; a committed slot
//!   left by a killed process is copied again when the store is next opened. Every sector then
//!   reads back old or new, never a mix, whenever the writer dies.
//! - **No data races.** Every request comes with the caller's guard from the store's
//!   [`RangeLocks`], checked before the map is touched: overlapping requests of this process
//!   never copy the same bytes at once, and requests that touch the same page (and so the same
//!   bits of the allocation record, and the same `fallocate`d blocks) never run at once. The
//!   file itself must not be shortened or written by another process while mapped (see
//!   [`MmapStore::open`]); the volume layer guarantees one owner per volume.
//!
//! Reads always copy from the map: pages of holes read as zeros without allocating disk.
//!
//! The map reserves address space for the whole file (an 8 TiB volume maps 8 TiB of the
//! 128 TiB user address space) but no memory or disk: both grow with the data written.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use memmap2::{Advice, MmapOptions, MmapRaw};

use super::file::{self, io_error};
use super::journal::{CHUNK, Journal};
use super::{
    AllocationRun, BlockStore, RangeGuard, RangeLocks, SectorTransform, check_holes_len,
    check_range, check_request, file_allocation, is_hole, sys, transform_out,
};
use crate::{IoError, SectorSize};

/// Writes what is to be stored for sectors `first..` of `piece` into `out`.
type SectorsFn<'a> = dyn Fn(u64, &[u8], &mut [u8]) -> Result<(), IoError> + 'a;

/// Pages per bitmap region (one lazily allocated array of bits each).
const REGION_PAGES: u64 = 1 << 18;

/// A block store on a sparse file accessed through a shared memory map: sector *i* at byte
/// offset *i × sector_size*, the same layout as [`FileStore`](super::FileStore), so either
/// store opens the other's files.
///
/// Disk use grows with the data written; never-written and trimmed sectors are holes and read
/// as zeros. A full file system is [`IoError::NoSpace`], never a signal. Requests may run in
/// parallel from several threads, each holding its range lock (see [`BlockStore`]).
pub struct MmapStore {
    file: File,
    map: MmapRaw,
    path: PathBuf,
    sector_size: SectorSize,
    num_sectors: u64,
    page_shift: u32,
    allocated: PageBits,
    locks: RangeLocks,
    /// Whether the file system allocates with `fallocate` (cleared on its first refusal).
    can_allocate: AtomicBool,
    /// The write journal (always there once the store is open).
    journal: Option<Journal>,
}

impl std::fmt::Debug for MmapStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmapStore")
            .field("path", &self.path)
            .field("sector_size", &self.sector_size)
            .field("num_sectors", &self.num_sectors)
            .finish_non_exhaustive()
    }
}

impl MmapStore {
    /// Creates a new sparse file of `size_bytes` (a whole number of sectors, not zero) at
    /// `path` and maps it. Fails if the file exists; on failure no file is left behind. Other
    /// processes must leave the file alone while the store is open, as [`MmapStore::open`]
    /// says.
    ///
    /// # Errors
    /// [`IoError::Misaligned`] for a size that is zero or not whole sectors; [`IoError::Io`]
    /// if the file exists or cannot be created at that size or mapped.
    pub fn create(
        path: impl AsRef<Path>,
        sector_size: SectorSize,
        size_bytes: u64,
    ) -> Result<Self, IoError> {
        let path = path.as_ref();
        let file = file::create_file(path, sector_size, size_bytes)?;
        let made = Self::map(file, path, sector_size, size_bytes);
        if made.is_err() {
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_file(Journal::path_for(path));
        }
        made
    }

    /// Opens and maps an existing volume data file.
    ///
    /// # Other processes
    /// The store relies on no other process truncating the file while it is open: a mapped
    /// page past a shortened end raises `SIGBUS` when touched, which kills the process and
    /// cannot be turned into an error. Nor may another process write the file meanwhile (reads
    /// could see its writes half done). Nothing here can check either; ebsim keeps to it with
    /// the exclusive lock an attached volume holds on its directory's `lock` file, so that one
    /// process at a time does a volume's I/O. For a file that others may change, use
    /// [`FileStore`](super::FileStore), which has no map. The same holds for a store made with
    /// [`MmapStore::create`].
    ///
    /// # Errors
    /// [`IoError::NotAVolume`] if `path` is not a regular file or its size is zero or not a
    /// whole number of sectors; [`IoError::Io`] if it cannot be opened for reading and writing
    /// or mapped.
    pub fn open(path: impl AsRef<Path>, sector_size: SectorSize) -> Result<Self, IoError> {
        let path = path.as_ref();
        let (file, len) = file::open_file(path, sector_size)?;
        Self::map(file, path, sector_size, len)
    }

    fn map(file: File, path: &Path, sector_size: SectorSize, len: u64) -> Result<Self, IoError> {
        let map_len = usize::try_from(len)
            .map_err(|_| io_error(path, io::Error::from_raw_os_error(libc::EFBIG)))?;
        let map = MmapOptions::new()
            .len(map_len)
            .no_reserve_swap()
            .map_raw(&file)
            .map_err(|e| io_error(path, e))?;
        let page_shift = sys::page_size().trailing_zeros();
        let mut store = Self {
            allocated: PageBits::new(len.div_ceil(1 << page_shift)),
            file,
            map,
            path: path.to_path_buf(),
            sector_size,
            num_sectors: len >> sector_size.shift(),
            page_shift,
            locks: RangeLocks::new(sector_size),
            can_allocate: AtomicBool::new(true),
            journal: None,
        };
        // Writes a killed process committed but did not finish go to their place first.
        let journal = Journal::open(path, len, u64::from(sector_size.get()), |pending| {
            store.store_bytes(pending.offset, pending.bytes)
        })?;
        store.journal = Some(journal);
        Ok(store)
    }

    /// Stores `bytes` at byte `offset` straight into the map (after giving its pages blocks),
    /// or with `pwrite` where the file system has no `fallocate`: for the journal's replay,
    /// when nothing else uses the store.
    fn store_bytes(&self, offset: u64, bytes: &[u8]) -> Result<(), IoError> {
        if self.writable_in_map(offset, bytes.len()) || self.allocate(offset, bytes.len())? {
            self.view_mut(offset, bytes.len(), |dst| {
                dst.copy_from_slice(bytes);
                Ok(())
            })
        } else {
            self.write_through_file(offset, bytes)
        }
    }

    /// Writes sectors `first..` (`src.len()` bytes, whose pages have blocks) through the
    /// journal: `make(first, piece, out)` writes what is to be stored for the sectors of
    /// `piece` (starting at sector `first`) into `out`, a part of a journal slot; the slot is
    /// committed and copied into the map. The caller has checked its guard: the range is
    /// locked exclusively.
    fn write_journaled(&self, first: u64, src: &[u8], make: &SectorsFn<'_>) -> Result<(), IoError> {
        let shift = self.sector_size.shift();
        let Some(journal) = &self.journal else {
            return Err(outside_map(&self.path));
        };
        let offset = first << shift;
        // Pieces of whole sectors: 32 KiB, or one sector where sectors are larger.
        let piece = CHUNK.max(self.sector_size.bytes());
        journal.write(
            offset,
            src.len(),
            piece,
            &|at, out| make(first + (at >> shift) as u64, &src[at..at + out.len()], out),
            &|at, bytes| {
                // Past the cache, as the engine writes storage: nothing reads it soon.
                self.view_mut(offset + at as u64, bytes.len(), |dst| {
                    crate::arch::copy_stream(dst, bytes);
                    Ok(())
                })
            },
        )
    }

    /// The path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of disk the file occupies (allocated blocks), as `st_blocks × 512`.
    ///
    /// # Errors
    /// [`IoError::Io`] if the file's metadata cannot be read.
    pub fn allocated_bytes(&self) -> Result<u64, IoError> {
        file::allocated_bytes(&self.file, &self.path)
    }

    /// The pages covering bytes `offset..offset + len`.
    fn pages(&self, offset: u64, len: u64) -> Range<u64> {
        let mask = (1u64 << self.page_shift) - 1;
        (offset >> self.page_shift)..((offset + len + mask) >> self.page_shift)
    }

    /// The pages lying whole inside bytes `offset..offset + len`.
    fn whole_pages(&self, offset: u64, len: u64) -> Range<u64> {
        let mask = (1u64 << self.page_shift) - 1;
        let start = (offset + mask) >> self.page_shift;
        let end = (offset + len) >> self.page_shift;
        start..end.max(start)
    }

    /// Records that bytes `offset..offset + len` were written with `pwrite`: the pages inside
    /// them have blocks now, and are mapped right away.
    fn written_through_file(&self, offset: u64, len: u64) {
        let pages = self.whole_pages(offset, len);
        if pages.is_empty() {
            return;
        }
        self.allocated.set(pages.clone());
        self.populate(
            pages.start << self.page_shift,
            (pages.end - pages.start) << self.page_shift,
        );
    }

    /// Calls `f` with a view of the mapped bytes `offset..offset + len`. The caller has checked
    /// its guard: the range is locked (shared or exclusive).
    fn view<T>(
        &self,
        offset: u64,
        len: usize,
        f: impl FnOnce(&[u8]) -> Result<T, IoError>,
    ) -> Result<T, IoError> {
        let at = usize::try_from(offset).map_err(|_| outside_map(&self.path))?;
        sys::with_map(&self.map, at, len, f).unwrap_or_else(|| Err(outside_map(&self.path)))
    }

    /// Calls `f` with a writable view of the mapped bytes `offset..offset + len`. The caller
    /// has checked its guard (the range is locked exclusively) and that every page of the
    /// range has blocks.
    fn view_mut<T>(
        &self,
        offset: u64,
        len: usize,
        f: impl FnOnce(&mut [u8]) -> Result<T, IoError>,
    ) -> Result<T, IoError> {
        let at = usize::try_from(offset).map_err(|_| outside_map(&self.path))?;
        sys::with_map_mut(&self.map, at, len, f).unwrap_or_else(|| Err(outside_map(&self.path)))
    }

    /// Whether every page of bytes `offset..offset + len` is known to have blocks, so that
    /// the range may be written through the map.
    fn writable_in_map(&self, offset: u64, len: usize) -> bool {
        self.allocated.all_set(self.pages(offset, len as u64))
    }

    /// Gives every page of bytes `offset..offset + len` blocks with `fallocate` (data stays as
    /// it is), records them and maps them in one `madvise(MADV_POPULATE_WRITE)`. `Ok(false)`
    /// if the file system has no `fallocate` (the caller then writes with `pwrite`, which
    /// allocates as it writes); [`IoError::NoSpace`] if it is full. The caller has checked its
    /// guard: the range, and so every page it touches, is locked exclusively.
    fn allocate(&self, offset: u64, len: usize) -> Result<bool, IoError> {
        if !self.can_allocate.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let pages = self.pages(offset, len as u64);
        let start = pages.start << self.page_shift;
        // The file ends on a sector, not necessarily on a page.
        let end = (pages.end << self.page_shift).min(self.num_sectors << self.sector_size.shift());
        match sys::allocate(&self.file, start, end - start) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::ENOSYS)) => {
                self.can_allocate.store(false, Ordering::Relaxed);
                return Ok(false);
            }
            Err(e) => return Err(io_error(&self.path, e)),
        }
        self.allocated.set(pages);
        self.populate(start, end - start);
        Ok(true)
    }

    /// Maps bytes `offset..offset + len` (which have blocks) into the process in one call
    /// rather than one page fault at a time on the next writes. An optimisation only: if it
    /// fails, or the kernel lacks `MADV_POPULATE_WRITE`, the faults happen later.
    fn populate(&self, offset: u64, len: u64) {
        if let (Ok(at), Ok(bytes)) = (usize::try_from(offset), usize::try_from(len)) {
            let _ = self.map.advise_range(Advice::PopulateWrite, at, bytes);
        }
    }

    /// Writes `buf` at `offset` with `pwrite` (allocating blocks, or failing with
    /// [`IoError::NoSpace`]) and records the pages it allocated. The caller has checked its
    /// guard: the range is locked exclusively.
    fn write_through_file(&self, offset: u64, buf: &[u8]) -> Result<(), IoError> {
        self.file
            .write_all_at(buf, offset)
            .map_err(|e| io_error(&self.path, e))?;
        self.written_through_file(offset, buf.len() as u64);
        Ok(())
    }
}

/// Which pages of the file are known to have disk blocks, in lazily allocated 1 GiB regions
/// (32 KiB of bits per region touched, at 4 KiB pages).
struct PageBits {
    regions: Box<[OnceLock<Box<[AtomicU64]>>]>,
}

impl PageBits {
    fn new(pages: u64) -> Self {
        let regions = usize::try_from(pages.div_ceil(REGION_PAGES)).unwrap_or(usize::MAX);
        Self {
            regions: (0..regions).map(|_| OnceLock::new()).collect(),
        }
    }

    fn word(&self, page: u64, create: bool) -> Option<(&AtomicU64, u64)> {
        let region = self
            .regions
            .get(usize::try_from(page / REGION_PAGES).ok()?)?;
        let words = if create {
            region.get_or_init(|| (0..REGION_PAGES / 64).map(|_| AtomicU64::new(0)).collect())
        } else {
            region.get()?
        };
        let index = page % REGION_PAGES;
        Some((
            words.get(usize::try_from(index / 64).ok()?)?,
            1 << (index % 64),
        ))
    }

    fn all_set(&self, pages: Range<u64>) -> bool {
        pages.into_iter().all(|p| {
            self.word(p, false)
                .is_some_and(|(w, bit)| w.load(Ordering::Acquire) & bit != 0)
        })
    }

    fn set(&self, pages: Range<u64>) {
        for p in pages {
            if let Some((w, bit)) = self.word(p, true) {
                w.fetch_or(bit, Ordering::Release);
            }
        }
    }

    fn clear(&self, pages: Range<u64>) {
        for p in pages {
            if let Some((w, bit)) = self.word(p, false) {
                w.fetch_and(!bit, Ordering::Release);
            }
        }
    }
}

/// The error for a checked range that still does not fit the map (cannot happen: the map
/// covers the whole file and requests are checked against it).
fn outside_map(path: &Path) -> IoError {
    io_error(path, io::Error::from_raw_os_error(libc::EFAULT))
}

impl BlockStore for MmapStore {
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
        let offset = first << self.sector_size.shift();
        self.view(offset, buf.len(), |src| {
            buf.copy_from_slice(src);
            Ok(())
        })
    }

    fn write_sectors(&self, held: &RangeGuard<'_>, first: u64, buf: &[u8]) -> Result<(), IoError> {
        let count = check_request(self.sector_size, self.num_sectors, first, buf.len())?;
        held.check(&self.locks, first, count, true)?;
        if buf.is_empty() {
            return Ok(());
        }
        let offset = first << self.sector_size.shift();
        if self.writable_in_map(offset, buf.len()) || self.allocate(offset, buf.len())? {
            return self.write_journaled(first, buf, &|_, piece, out| {
                out.copy_from_slice(piece);
                Ok(())
            });
        }
        // No fallocate here: let pwrite allocate (or refuse with ENOSPC).
        self.write_through_file(offset, buf)
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
        if buf.is_empty() {
            return Ok(());
        }
        let offset = first << self.sector_size.shift();
        if self.writable_in_map(offset, buf.len()) || self.allocate(offset, buf.len())? {
            // The transform writes into a journal slot, which is then copied into the map.
            return self.write_journaled(first, buf, &|piece_first, piece, out| {
                transform.apply_to(piece_first, piece, out)
            });
        }
        // No fallocate here: transform in place, let pwrite allocate.
        transform.apply(first, buf)?;
        self.write_through_file(offset, buf)
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
        let offset = first << self.sector_size.shift();
        // Data sectors go from the map through the transform into `buf`: one pass.
        self.view(offset, buf.len(), |src| {
            transform_out(first, src, buf, holes, ss, transform)
        })
    }

    fn trim(&self, held: &RangeGuard<'_>, first: u64, count: u64) -> Result<(), IoError> {
        check_range(self.num_sectors, first, count)?;
        held.check(&self.locks, first, count, true)?;
        if count == 0 {
            return Ok(());
        }
        let shift = self.sector_size.shift();
        let (offset, len) = (first << shift, count << shift);
        // Every page the hole touches may have lost blocks (file-system blocks can be smaller
        // than a page): the next write to it allocates again.
        self.allocated.clear(self.pages(offset, len));
        sys::punch_hole(&self.file, offset, len).map_err(|e| io_error(&self.path, e))
    }

    fn allocation(&self, first: u64, count: u64) -> Result<Vec<AllocationRun>, IoError> {
        file_allocation(&self.file, self.sector_size, self.num_sectors, first, count)
    }

    fn allocation_unit(&self) -> Option<u64> {
        // First writes allocate whole pages.
        file::file_block_size(&self.file).map(|b| b.max(1 << self.page_shift))
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
        // In place, in the map: ciphertext answers at its first bytes.
        self.view(first << self.sector_size.shift(), len, |src| {
            for (s, z) in src.chunks_exact(ss).zip(zero.iter_mut()) {
                *z = is_hole(s);
            }
            Ok(())
        })
    }

    fn flush(&self) -> Result<(), IoError> {
        self.map.flush().map_err(|e| io_error(&self.path, e))?;
        self.file.sync_data().map_err(|e| io_error(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::is_hole;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every sector of `store`, locked exclusively: for tests that run one request at a time.
    fn all(store: &dyn BlockStore) -> RangeGuard<'_> {
        store.range_locks().write(0, store.num_sectors())
    }

    #[test]
    fn writes_read_back_and_survive_reopen() {
        let dir = tmp();
        let path = dir.path().join("data.img");
        let ss = SectorSize::S4096;
        let store = MmapStore::create(&path, ss, 64 << 20).unwrap_or_else(|e| panic!("{e}"));
        let held = all(&store);
        let data: Vec<u8> = (0..3 * 4096).map(|i| (i % 251) as u8 | 1).collect();
        // Across a 1 MiB boundary (and so across lock blocks).
        let first = (1 << 20) / 4096 - 1;
        store
            .write_sectors(&held, first, &data)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut back = vec![0u8; data.len()];
        store
            .read_sectors(&held, first, &mut back)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, data);
        store.flush().unwrap_or_else(|e| panic!("{e}"));
        drop(held);
        drop(store);

        // The same layout as the pread/pwrite store.
        let file = super::super::FileStore::open(&path, ss).unwrap_or_else(|e| panic!("{e}"));
        let held = all(&file);
        let mut via_file = vec![0u8; data.len()];
        file.read_sectors(&held, first, &mut via_file)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(via_file, data);
        drop(held);
        drop(file);

        let store = MmapStore::open(&path, ss).unwrap_or_else(|e| panic!("{e}"));
        let held = all(&store);
        let mut again = vec![0u8; data.len() + 4096];
        store
            .read_sectors(&held, first, &mut again)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&again[..data.len()], &data[..]);
        assert!(is_hole(&again[data.len()..]));
    }

    /// Both ways of giving pages blocks before the map is written: `fallocate`, and `pwrite`
    /// where the file system has no `fallocate` (forced here); plain and transformed writes,
    /// first writes and overwrites, read back the same.
    #[test]
    fn first_writes_allocate_with_fallocate_or_pwrite() {
        let dir = tmp();
        let key = crate::XtsKey::from_slice(&(1u8..=64).collect::<Vec<u8>>())
            .unwrap_or_else(|e| panic!("{e}"));
        let ss = SectorSize::S4096;
        let engine = crate::XtsEngine::new(&key, ss);
        for fallocate in [true, false] {
            let path = dir.path().join(format!("alloc-{fallocate}.img"));
            let store = MmapStore::create(&path, ss, 4 << 20).unwrap_or_else(|e| panic!("{e}"));
            store.can_allocate.store(fallocate, Ordering::Relaxed);
            let held = all(&store);
            let plain: Vec<u8> = (0..8 * 4096).map(|i| (i % 253) as u8 | 1).collect();
            for round in 0..2 {
                // Plain, then transformed, each at two places, first writes then overwrites.
                store
                    .write_sectors(&held, 3, &plain)
                    .unwrap_or_else(|e| panic!("{e}"));
                let mut scratch = plain.clone();
                store
                    .write_sectors_via(&held, 300, &mut scratch, &engine.encryptor())
                    .unwrap_or_else(|e| panic!("{e}"));
                let mut back = vec![0u8; plain.len()];
                store
                    .read_sectors(&held, 3, &mut back)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert!(back == plain, "fallocate={fallocate} round {round}");
                let mut holes = [true; 8];
                store
                    .read_sectors_via(&held, 300, &mut back, &mut holes, &engine.decryptor())
                    .unwrap_or_else(|e| panic!("{e}"));
                assert!(
                    back == plain && holes == [false; 8],
                    "fallocate={fallocate}"
                );
                // After the first round every page written is known to have blocks.
                assert!(store.writable_in_map(3 * 4096, plain.len()));
                assert!(store.writable_in_map(300 * 4096, plain.len()));
            }
            assert_eq!(store.can_allocate.load(Ordering::Relaxed), fallocate);
            // Neither way allocates beyond what was written.
            let used = store.allocated_bytes().unwrap_or_else(|e| panic!("{e}"));
            assert!(used < 1 << 20, "{used}");
        }
    }

    #[test]
    fn trim_makes_holes_and_releases_disk() {
        let dir = tmp();
        let path = dir.path().join("data.img");
        let store =
            MmapStore::create(&path, SectorSize::S512, 8 << 20).unwrap_or_else(|e| panic!("{e}"));
        let held = all(&store);
        let before = store.allocated_bytes().unwrap_or_else(|e| panic!("{e}"));
        store
            .write_sectors(&held, 0, &vec![7u8; 1 << 20])
            .unwrap_or_else(|e| panic!("{e}"));
        let written = store.allocated_bytes().unwrap_or_else(|e| panic!("{e}"));
        assert!(written >= before + (1 << 20), "{before} -> {written}");
        store.trim(&held, 0, 2048).unwrap_or_else(|e| panic!("{e}"));
        let trimmed = store.allocated_bytes().unwrap_or_else(|e| panic!("{e}"));
        assert!(trimmed < written, "{written} -> {trimmed}");
        let mut buf = vec![1u8; 1 << 20];
        store
            .read_sectors(&held, 0, &mut buf)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(is_hole(&buf));
        // Writing after a trim allocates again and reads back.
        store
            .write_sectors(&held, 3, &[9u8; 512])
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .read_sectors(&held, 3, &mut buf[..512])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(buf[..512].iter().all(|&b| b == 9));
    }

    #[test]
    fn bad_requests_change_nothing() {
        let dir = tmp();
        let store = MmapStore::create(dir.path().join("d.img"), SectorSize::S512, 4096)
            .unwrap_or_else(|e| panic!("{e}"));
        let held = all(&store);
        assert!(matches!(
            store.write_sectors(&held, 7, &[1u8; 1024]),
            Err(IoError::OutOfRange { .. })
        ));
        assert!(matches!(
            store.write_sectors(&held, 0, &[1u8; 100]),
            Err(IoError::Misaligned { .. })
        ));
        assert!(matches!(
            store.trim(&held, u64::MAX, 2),
            Err(IoError::SectorOverflow { .. })
        ));
        let mut buf = [1u8; 4096];
        store
            .read_sectors(&held, 0, &mut buf)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(is_hole(&buf));
        assert!(matches!(
            MmapStore::create(dir.path().join("e.img"), SectorSize::S512, 1000),
            Err(IoError::Misaligned { .. })
        ));
        assert!(!dir.path().join("e.img").exists());
        assert!(matches!(
            MmapStore::open(dir.path(), SectorSize::S512),
            Err(IoError::NotAVolume { .. })
        ));
    }

    #[test]
    fn eight_tib_is_sparse() {
        let dir = tmp();
        let store = MmapStore::create(dir.path().join("big.img"), SectorSize::S4096, 8 << 40)
            .unwrap_or_else(|e| panic!("{e}"));
        let held = all(&store);
        let last = store.num_sectors() - 1;
        store
            .write_sectors(&held, last, &[0x5Au8; 4096])
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .write_sectors(&held, 1 << 20, &[0xA5u8; 4096])
            .unwrap_or_else(|e| panic!("{e}"));
        let mut buf = [0u8; 4096];
        store
            .read_sectors(&held, last, &mut buf)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(buf.iter().all(|&b| b == 0x5A));
        assert!(store.allocated_bytes().unwrap_or_else(|e| panic!("{e}")) < 1 << 20);
    }

    #[test]
    fn parallel_writers_to_disjoint_and_overlapping_ranges() {
        let dir = tmp();
        let store = MmapStore::create(dir.path().join("p.img"), SectorSize::S4096, 16 << 20)
            .unwrap_or_else(|e| panic!("{e}"));
        std::thread::scope(|s| {
            for t in 0u8..4 {
                let store = &store;
                s.spawn(move || {
                    for i in 0..256u64 {
                        // Every thread writes its own sectors, and all fight over sector 0.
                        let sector = if i % 8 == 0 {
                            0
                        } else {
                            1 + i * 4 + u64::from(t)
                        };
                        // Each write holds its sector's lock, as the volume layer does.
                        let held = store.range_locks().write(sector, 1);
                        store
                            .write_sectors(&held, sector, &[t + 1; 4096])
                            .unwrap_or_else(|e| panic!("{e}"));
                    }
                });
            }
        });
        let held = all(&store);
        let mut buf = [0u8; 4096];
        for i in (1..256u64).filter(|i| i % 8 != 0) {
            for t in 0u8..4 {
                store
                    .read_sectors(&held, 1 + i * 4 + u64::from(t), &mut buf)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert!(buf.iter().all(|&b| b == t + 1));
            }
        }
        store
            .read_sectors(&held, 0, &mut buf)
            .unwrap_or_else(|e| panic!("{e}"));
        // One whole write won; writes of a sector never interleave.
        assert!(buf.iter().all(|&b| b == buf[0]) && (1..=4).contains(&buf[0]));
    }
}
