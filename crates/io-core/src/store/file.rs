//! A block store on a sparse file.
//!
//! I/O goes through positional reads and writes (`pread`/`pwrite`), and through a shared
//! memory map for the 64 KiB chunks this process has written whole (see `mapped.rs`): a copy
//! into a mapped page skips the per-page work of `pwrite` (lookup, lock, dirty marking), which
//! is most of a write's cost on a page-cache file. The map never touches a page that is not
//! allocated, so a full disk is still `ENOSPC` ([`IoError::NoSpace`]) and never `SIGBUS`;
//! writes to parts of chunks that were not written whole stay `pwrite`s, so scattered small
//! writes keep the file sparse. An 8 TiB volume maps 8 TiB of address space (no memory);
//! where a map cannot be made, everything is `pread`/`pwrite`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::mapped::FileMap;
use super::{BlockStore, check_range, check_request, sys};
use crate::{IoError, SectorSize};

/// A block store on a sparse file: sector *i* at byte offset *i × sector_size*.
///
/// Disk use grows with the data written; never-written and trimmed sectors are holes and read
/// as zeros. Requests may run in parallel from several threads.
#[derive(Debug)]
pub struct FileStore {
    file: File,
    path: PathBuf,
    sector_size: SectorSize,
    num_sectors: u64,
    map: Option<FileMap>,
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
            .open(path)
            .map_err(|e| io_error(path, e))?;
        if let Err(e) = file.set_len(size_bytes) {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(io_error(path, e));
        }
        Ok(Self {
            map: FileMap::new(&file, size_bytes),
            file,
            path: path.to_path_buf(),
            sector_size,
            num_sectors: size_bytes >> sector_size.shift(),
        })
    }

    /// Opens an existing volume data file.
    ///
    /// # Errors
    /// [`IoError::NotAVolume`] if `path` is not a regular file or its size is zero or not a
    /// whole number of sectors; [`IoError::Io`] if it cannot be opened for reading and writing.
    pub fn open(path: impl AsRef<Path>, sector_size: SectorSize) -> Result<Self, IoError> {
        let path = path.as_ref();
        // Refuse before opening what could block or have side effects (FIFOs, devices).
        let meta = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
        if !meta.is_file() {
            return Err(not_a_volume(path, "not a regular file"));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io_error(path, e))?;
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
        Ok(Self {
            map: FileMap::new(&file, len),
            file,
            path: path.to_path_buf(),
            sector_size,
            num_sectors: len >> sector_size.shift(),
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
        use std::os::unix::fs::MetadataExt;
        let meta = self.file.metadata().map_err(|e| io_error(&self.path, e))?;
        Ok(meta.blocks() * 512)
    }
}

fn not_a_volume(path: &Path, reason: &str) -> IoError {
    IoError::NotAVolume {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    }
}

fn io_error(path: &Path, e: io::Error) -> IoError {
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

    fn read_sectors(&self, first: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_request(self.sector_size, self.num_sectors, first, buf.len())?;
        let at = first << self.sector_size.shift();
        match &self.map {
            Some(m) => m.read(at, buf),
            None => self.file.read_exact_at(buf, at),
        }
        .map_err(|e| io_error(&self.path, e))
    }

    fn write_sectors(&self, first: u64, buf: &[u8]) -> Result<(), IoError> {
        check_request(self.sector_size, self.num_sectors, first, buf.len())?;
        let at = first << self.sector_size.shift();
        match &self.map {
            Some(m) => m.write(at, buf),
            None => self.file.write_all_at(buf, at),
        }
        .map_err(|e| io_error(&self.path, e))
    }

    fn trim(&self, first: u64, count: u64) -> Result<(), IoError> {
        check_range(self.num_sectors, first, count)?;
        if count == 0 {
            return Ok(());
        }
        let shift = self.sector_size.shift();
        match &self.map {
            Some(m) => m.trim(first << shift, count << shift),
            None => sys::punch_hole(&self.file, first << shift, count << shift),
        }
        .map_err(|e| io_error(&self.path, e))
    }

    fn flush(&self) -> Result<(), IoError> {
        self.file.sync_data().map_err(|e| io_error(&self.path, e))
    }
}
