//! A block store on a sparse file: reads through a shared, read-only memory map (memmap2),
//! writes with one positional write (`pwrite`) per request.
//!
//! **Reads** copy from the map, or, through [`BlockStore::read_sectors_via`], run the caller's
//! transform (the volume's XTS engine) straight from the map into its buffer: no system call
//! per request once the pages are resident, and no copy besides the transform's own pass.
//! Pages of holes read as zeros without allocating disk.
//!
//! **Writes** never go through the map. [`BlockStore::write_sectors_via`] encrypts in the
//! caller's buffer (its scratch) and stores it with `pwrite`, where the kernel copies the data
//! into the page cache one page at a time, each page whole: a process killed at any moment
//! (SIGKILL included) leaves every sector, which lies inside one page, with its old or its new
//! contents, never a mix of the two (docs/security.md, "Storage and CLI"). A transform running
//! straight into a shared map could be stopped between two 16-byte blocks of a sector, and
//! the page cache would keep the torn sector. Writing with `pwrite` also allocates blocks as
//! it writes, so a full file system is a clean [`IoError::NoSpace`], never the `SIGBUS` a
//! write fault into a hole of a full file system raises.
//!
//! **No data races.** Every request comes with the caller's guard from the store's
//! [`RangeLocks`], checked before the map or the file is touched: overlapping requests of this
//! process never run at once. The file itself must not be shortened or written by another
//! process while mapped (see [`MmapStore::open`]); the volume layer guarantees one owner per
//! volume.
//!
//! The map reserves address space for the whole file (an 8 TiB volume maps 8 TiB of the
//! 128 TiB user address space) but no memory or disk: both grow with the data written.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memmap2::{MmapOptions, MmapRaw};

use super::file::{self, io_error};
use super::{
    AllocationRun, BlockStore, RangeGuard, RangeLocks, SectorTransform, check_holes_len,
    check_range, check_request, file_allocation, is_hole, sys, transform_out,
};
use crate::{IoError, SectorSize};

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
    locks: RangeLocks,
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
            .map_raw_read_only(&file)
            .map_err(|e| io_error(path, e))?;
        Ok(Self {
            file,
            map,
            path: path.to_path_buf(),
            sector_size,
            num_sectors: len >> sector_size.shift(),
            locks: RangeLocks::new(sector_size),
        })
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

    /// Stores `buf` at byte `offset` with `pwrite` (allocating blocks as it goes, or failing
    /// with [`IoError::NoSpace`]): the kernel copies each page whole, so no sector is ever
    /// half written, whenever this process dies. The caller has checked its guard: the range
    /// is locked exclusively.
    fn store(&self, offset: u64, buf: &[u8]) -> Result<(), IoError> {
        self.file
            .write_all_at(buf, offset)
            .map_err(|e| io_error(&self.path, e))
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
        self.store(first << self.sector_size.shift(), buf)
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
        // Encrypted in the caller's scratch, then stored whole: never through the map, where
        // a kill between two blocks of a sector would leave it torn.
        transform.apply(first, buf)?;
        self.store(first << self.sector_size.shift(), buf)
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
        sys::punch_hole(&self.file, offset, len).map_err(|e| io_error(&self.path, e))
    }

    fn allocation(&self, first: u64, count: u64) -> Result<Vec<AllocationRun>, IoError> {
        file_allocation(&self.file, self.sector_size, self.num_sectors, first, count)
    }

    fn allocation_unit(&self) -> Option<u64> {
        file::file_block_size(&self.file)
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
        // Writes go through the file, never the (read-only) map: syncing the file is enough.
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

    /// Plain and transformed writes, first writes and overwrites, read back the same through
    /// the map; the map sees every write at once, and writes allocate only what they cover.
    #[test]
    fn writes_are_seen_through_the_map_and_allocate_what_they_cover() {
        let dir = tmp();
        let key = crate::XtsKey::from_slice(&(1u8..=64).collect::<Vec<u8>>())
            .unwrap_or_else(|e| panic!("{e}"));
        let ss = SectorSize::S4096;
        let engine = crate::XtsEngine::new(&key, ss);
        let path = dir.path().join("alloc.img");
        let store = MmapStore::create(&path, ss, 4 << 20).unwrap_or_else(|e| panic!("{e}"));
        let held = all(&store);
        for round in 0u8..2 {
            let plain: Vec<u8> = (0..8 * 4096).map(|i| (i % 253) as u8 | 1 | round).collect();
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
            assert!(back == plain, "round {round}");
            let mut holes = [true; 8];
            store
                .read_sectors_via(&held, 300, &mut back, &mut holes, &engine.decryptor())
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(back == plain && holes == [false; 8], "round {round}");
            // What was stored is the ciphertext, as the file holds it.
            let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&on_disk[300 * 4096..308 * 4096], &scratch[..]);
        }
        let used = store.allocated_bytes().unwrap_or_else(|e| panic!("{e}"));
        assert!(used < 1 << 20, "{used}");
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
