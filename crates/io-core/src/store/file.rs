//! A block store on a sparse file, through positional reads and writes (`pread`/`pwrite`).
//!
//! Attached volumes use [`MmapStore`](super::MmapStore) on the same file, which avoids a
//! system call per request. This store is the simpler peer: no map, no allocation tracking,
//! one system call per request (a write into a hole of a full file system returns `ENOSPC`,
//! i.e. [`IoError::NoSpace`], directly). It creates the data files of new volumes, and
//! `ebsim bench --store file` measures it next to the map (figures in README.md,
//! "Benchmarking").

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use super::{
    AllocationRun, BlockStore, RangeGuard, RangeLocks, check_range, check_request, push_run, sys,
};
use crate::{IoError, SectorSize};

/// A block store on a sparse file: sector *i* at byte offset *i × sector_size*.
///
/// Disk use grows with the data written; never-written and trimmed sectors are holes and read
/// as zeros. Requests may run in parallel from several threads, each holding its range lock
/// (see [`BlockStore`]).
#[derive(Debug)]
pub struct FileStore {
    file: File,
    path: PathBuf,
    sector_size: SectorSize,
    num_sectors: u64,
    locks: RangeLocks,
}

impl FileStore {
    /// Creates a new sparse file of `size_bytes` (a whole number of sectors, not zero) at
    /// `path`. Fails if the file exists; on failure no file is left behind.
    ///
    /// # Errors
    /// [`IoError::Misaligned`] for a size that is zero or not whole sectors; [`IoError::Io`]
    /// if the file exists or cannot be created at that size.
    pub fn create(
        path: impl AsRef<Path>,
        sector_size: SectorSize,
        size_bytes: u64,
    ) -> Result<Self, IoError> {
        let path = path.as_ref();
        Ok(Self {
            file: create_file(path, sector_size, size_bytes)?,
            path: path.to_path_buf(),
            sector_size,
            num_sectors: size_bytes >> sector_size.shift(),
            locks: RangeLocks::new(sector_size),
        })
    }

    /// Opens an existing volume data file.
    ///
    /// # Errors
    /// [`IoError::NotAVolume`] if `path` is not a regular file or its size is zero or not a
    /// whole number of sectors; [`IoError::Io`] if it cannot be opened for reading and writing.
    pub fn open(path: impl AsRef<Path>, sector_size: SectorSize) -> Result<Self, IoError> {
        let path = path.as_ref();
        let (file, len) = open_file(path, sector_size)?;
        Ok(Self {
            file,
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
        allocated_bytes(&self.file, &self.path)
    }
}

/// Creates a sparse volume data file of `size_bytes` (a whole number of sectors, not zero) at
/// `path`; fails if it exists, and leaves no file behind on failure. Shared by both file
/// stores: they use the same layout.
pub(super) fn create_file(
    path: &Path,
    sector_size: SectorSize,
    size_bytes: u64,
) -> Result<File, IoError> {
    if size_bytes == 0 || !size_bytes.is_multiple_of(u64::from(sector_size.get())) {
        return Err(IoError::Misaligned {
            len: size_bytes,
            sector_size: sector_size.get(),
        });
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    if let Err(e) = file.set_len(size_bytes) {
        let err = if e.raw_os_error() == Some(libc::EFBIG) {
            IoError::FileTooLarge {
                path: path.to_path_buf(),
                size_bytes,
                limit: file_size_limit(&file),
            }
        } else {
            io_error(path, e)
        };
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(err);
    }
    Ok(file)
}

/// What limits the size of `file`, in words, for an `EFBIG`: the process's file-size limit
/// when it has one, else the file system and the largest file it allows.
fn file_size_limit(file: &File) -> String {
    if let Some(max) = sys::file_size_rlimit() {
        return format!("this process may not write files larger than {max} bytes (ulimit -f)");
    }
    let (name, largest) = match sys::file_system_magic(file) {
        Some(0xEF53) => (
            "ext4",
            Some("16 TiB - 4 KiB (17592186040320 bytes) with 4 KiB blocks"),
        ),
        Some(0x0102_1994) => ("tmpfs", None),
        Some(0x5846_5342) => ("XFS", None),
        Some(0x9123_683E) => ("btrfs", None),
        Some(0x4d44) => ("FAT", Some("4 GiB - 1 byte")),
        _ => ("this file system", None),
    };
    match largest {
        Some(l) => format!("{name} allows files of at most {l}"),
        None => format!("{name} does not allow a file that large"),
    }
}

/// Opens an existing volume data file for reading and writing; returns it and its size.
/// Refuses what is not a regular file of a whole, non-zero number of sectors.
pub(super) fn open_file(path: &Path, sector_size: SectorSize) -> Result<(File, u64), IoError> {
    // Refuse before opening what could block or have side effects (FIFOs, devices), and never
    // follow a symbolic link: ciphertext would be written to whatever it points at
    // (docs/security.md, "Storage and the command line").
    let meta = std::fs::symlink_metadata(path).map_err(|e| io_error(path, e))?;
    if meta.file_type().is_symlink() {
        return Err(not_a_volume(path, "a symbolic link (not followed)"));
    }
    if !meta.is_file() {
        return Err(not_a_volume(path, "not a regular file"));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => not_a_volume(path, "a symbolic link (not followed)"),
            _ => io_error(path, e),
        })?;
    // Check what was actually opened, in case the path changed in between.
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    if !meta.is_file() {
        return Err(not_a_volume(path, "not a regular file"));
    }
    let len = meta.len();
    if len == 0 {
        return Err(not_a_volume(path, "the file is empty"));
    }
    if !len.is_multiple_of(u64::from(sector_size.get())) {
        return Err(not_a_volume(
            path,
            &format!("its size {len} is not a multiple of the sector size {sector_size}"),
        ));
    }
    Ok((file, len))
}

/// Bytes of disk `file` occupies (allocated blocks), as `st_blocks × 512`.
pub(super) fn allocated_bytes(file: &File, path: &Path) -> Result<u64, IoError> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    Ok(meta.blocks() * 512)
}

/// The allocation of sectors `first..first + count` of a sparse data file, from the file
/// system's record of its holes (`SEEK_DATA` / `SEEK_HOLE`); see [`BlockStore::allocation`].
/// A sector counts as allocated if any byte of it is. Where the file system cannot tell (an
/// error from `lseek`), the rest of the range is reported allocated, which is always correct.
pub(crate) fn file_allocation(
    file: &File,
    ss: SectorSize,
    num_sectors: u64,
    first: u64,
    count: u64,
) -> Result<Vec<AllocationRun>, IoError> {
    check_range(num_sectors, first, count)?;
    let shift = ss.shift();
    let end = first + count;
    let mut runs = Vec::new();
    let mut at = first;
    while at < end {
        // The next data at or after sector `at`: the sectors before it are a hole.
        let data = match sys::seek_data_or_hole(file, at << shift, true) {
            Ok(Some(d)) => d,
            Ok(None) => {
                push_run(&mut runs, end - at, false);
                break;
            }
            Err(_) => {
                push_run(&mut runs, end - at, true);
                break;
            }
        };
        let data_sector = (data >> shift).clamp(at, end);
        if !push_run(&mut runs, data_sector - at, false) || data_sector >= end {
            break;
        }
        at = data_sector;
        // The data runs to the next hole (the end of the file is one), rounded up to a sector.
        let hole_sector = match sys::seek_data_or_hole(file, data, false) {
            Ok(Some(h)) => h.div_ceil(1 << shift).clamp(at + 1, end),
            Ok(None) | Err(_) => end,
        };
        if !push_run(&mut runs, hole_sector - at, true) {
            break;
        }
        at = hole_sector;
    }
    Ok(runs)
}

/// The file system's block size for `file` (`st_blksize`), if it can be read.
pub(crate) fn file_block_size(file: &File) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    file.metadata().ok().map(|m| m.blksize()).filter(|&b| b > 0)
}

fn not_a_volume(path: &Path, reason: &str) -> IoError {
    IoError::NotAVolume {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    }
}

pub(super) fn io_error(path: &Path, e: io::Error) -> IoError {
    match e.raw_os_error() {
        Some(libc::ENOSPC | libc::EDQUOT) => IoError::NoSpace {
            path: path.to_path_buf(),
        },
        _ => IoError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    }
}

impl BlockStore for FileStore {
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
        self.file
            .read_exact_at(buf, first << self.sector_size.shift())
            .map_err(|e| io_error(&self.path, e))
    }

    fn write_sectors(&self, held: &RangeGuard<'_>, first: u64, buf: &[u8]) -> Result<(), IoError> {
        let count = check_request(self.sector_size, self.num_sectors, first, buf.len())?;
        held.check(&self.locks, first, count, true)?;
        self.file
            .write_all_at(buf, first << self.sector_size.shift())
            .map_err(|e| io_error(&self.path, e))
    }

    fn trim(&self, held: &RangeGuard<'_>, first: u64, count: u64) -> Result<(), IoError> {
        check_range(self.num_sectors, first, count)?;
        held.check(&self.locks, first, count, true)?;
        if count == 0 {
            return Ok(());
        }
        let shift = self.sector_size.shift();
        sys::punch_hole(&self.file, first << shift, count << shift)
            .map_err(|e| io_error(&self.path, e))
    }

    fn flush(&self) -> Result<(), IoError> {
        self.file.sync_data().map_err(|e| io_error(&self.path, e))
    }

    fn allocation(&self, first: u64, count: u64) -> Result<Vec<AllocationRun>, IoError> {
        file_allocation(&self.file, self.sector_size, self.num_sectors, first, count)
    }

    fn allocation_unit(&self) -> Option<u64> {
        file_block_size(&self.file)
    }
}
