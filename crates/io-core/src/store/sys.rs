//! The only system calls of the block stores that the standard library does not wrap:
//! punching a hole in a file.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Deallocates `len` bytes at `offset` of `file` without changing its size
/// (`fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)`): the range reads as zeros and
/// whole file-system blocks inside it are released.
pub(super) fn punch_hole(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    };
    // SAFETY: fallocate takes a file descriptor and three integers and touches no memory of
    // this process; the descriptor is valid for as long as `file` is borrowed.
    let rc = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            offset,
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
