//! The only system calls of the block stores that the standard library does not wrap:
//! allocating and punching holes in a file (`fallocate`), finding them (`lseek` with
//! `SEEK_DATA`/`SEEK_HOLE`), the file system's type and the file-size limit (`fstatfs`,
//! `getrlimit`, for the error of a file too large), and views of a shared file map for
//! the duration of a call.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Deallocates `len` bytes at `offset` of `file` without changing its size
/// (`fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)`): the range reads as zeros and
/// whole file-system blocks inside it are released.
pub(super) fn punch_hole(file: &File, offset: u64, len: u64) -> io::Result<()> {
    fallocate(
        file,
        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
        offset,
        len,
    )
}

/// Allocates blocks for `len` bytes at `offset` of `file` without changing its size or any
/// data (`fallocate(FALLOC_FL_KEEP_SIZE)`): afterwards writes to the range cannot fail for lack
/// of space.
pub(super) fn allocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    fallocate(file, libc::FALLOC_FL_KEEP_SIZE, offset, len)
}

fn fallocate(file: &File, mode: libc::c_int, offset: u64, len: u64) -> io::Result<()> {
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    };
    // SAFETY: fallocate takes a file descriptor and three integers and touches no memory of
    // this process; the descriptor is valid for as long as `file` is borrowed.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), mode, offset, len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The offset of the first byte of data (`data`: `SEEK_DATA`) or of a hole (`SEEK_HOLE`) at or
/// after `offset` in `file`; `None` when there is no data at or after `offset` (`ENXIO`). The end
/// of the file counts as a hole. File systems without hole tracking report the whole file as
/// data. Moves the descriptor's file position, which the stores never use (they read and write
/// at explicit offsets).
pub(super) fn seek_data_or_hole(file: &File, offset: u64, data: bool) -> io::Result<Option<u64>> {
    let Ok(off) = libc::off_t::try_from(offset) else {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    };
    let whence = if data {
        libc::SEEK_DATA
    } else {
        libc::SEEK_HOLE
    };
    // SAFETY: lseek takes a file descriptor and two integers and touches no memory of this
    // process; the descriptor is valid for as long as `file` is borrowed.
    let rc = unsafe { libc::lseek(file.as_raw_fd(), off, whence) };
    if rc >= 0 {
        return Ok(u64::try_from(rc).ok());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENXIO) {
        Ok(None)
    } else {
        Err(e)
    }
}

/// Whether `len` bytes at `offset` lie inside `map`.
fn in_map(map: &memmap2::MmapRaw, offset: usize, len: usize) -> bool {
    offset.checked_add(len).is_some_and(|end| end <= map.len())
}

/// Calls `f` with a view of `len` bytes at `offset` of `map`; returns `None`, calling nothing,
/// if the range does not lie inside the map.
///
/// The caller must have checked that the request holds a guard of the store's
/// [`RangeLocks`](super::RangeLocks) covering the range (shared or exclusive), so that no
/// write of this process changes those bytes while `f` runs.
pub(super) fn with_map<R>(
    map: &memmap2::MmapRaw,
    offset: usize,
    len: usize,
    f: impl FnOnce(&[u8]) -> R,
) -> Option<R> {
    if !in_map(map, offset, len) {
        return None;
    }
    // SAFETY: `offset..offset + len` lies inside the live mapping (checked above; the map
    // outlives this call), so it is valid for reads for `len` bytes. Writers of this process
    // are excluded by the range lock the caller checked, held for as long as the slice lives
    // (it cannot escape `f`). Pages of holes read as zeros; no other process shortens the
    // file while it is mapped (the condition `MmapStore::open` and `create` document).
    let view = unsafe { std::slice::from_raw_parts(map.as_ptr().add(offset), len) };
    Some(f(view))
}

/// Calls `f` with a writable view of `len` bytes at `offset` of `map`; returns `None`, calling
/// nothing, if the range does not lie inside the map.
///
/// The caller must have checked that the request holds a guard of the store's
/// [`RangeLocks`](super::RangeLocks) covering the range exclusively (or, for the write
/// journal's map, the lock of the slot the range belongs to), and the file must have
/// blocks behind the whole range (allocated with `fallocate` or written with `pwrite`), so
/// that the page faults of writes through the view cannot fail for lack of space (which would
/// raise `SIGBUS`).
pub(super) fn with_map_mut<R>(
    map: &memmap2::MmapRaw,
    offset: usize,
    len: usize,
    f: impl FnOnce(&mut [u8]) -> R,
) -> Option<R> {
    if !in_map(map, offset, len) {
        return None;
    }
    // SAFETY: `offset..offset + len` lies inside the live, writable shared mapping (checked
    // above; `map_raw` maps read-write), so it is valid for reads and writes of `len` bytes.
    // No other access of this process touches the range while the slice lives (the exclusive
    // range lock the caller checked, or the journal slot's lock; the slice cannot escape `f`),
    // so it is unique. The blocks
    // behind it are allocated, so write faults cannot SIGBUS.
    let view = unsafe { std::slice::from_raw_parts_mut(map.as_mut_ptr().add(offset), len) };
    Some(f(view))
}

/// The size of a memory page.
pub(super) fn page_size() -> u64 {
    // SAFETY: sysconf reads a configuration value and touches no memory of this process.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size)
        .ok()
        .filter(|s| s.is_power_of_two())
        .unwrap_or(4096)
}

/// The `f_type` magic number of the file system holding `file` (`fstatfs`), e.g. `0xEF53`
/// for ext2/3/4; `None` if it cannot be read.
pub(super) fn file_system_magic(file: &File) -> Option<i64> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: fstatfs writes one `struct statfs` to the pointer it is given, which points at
    // a properly aligned, writable `MaybeUninit<statfs>` of this frame; the descriptor is
    // valid for as long as `file` is borrowed.
    let rc = unsafe { libc::fstatfs(file.as_raw_fd(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: fstatfs returned 0, so it filled the whole struct (and it started zeroed).
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    Some(st.f_type as i64)
}

/// The process's file-size limit (`RLIMIT_FSIZE`, `ulimit -f`) in bytes, when it has one.
pub(super) fn file_size_rlimit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `struct rlimit` to the pointer it is given, which points at
    // a writable `rlimit` of this frame.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &raw mut lim) };
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}
