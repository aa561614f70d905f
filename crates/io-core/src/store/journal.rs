//! The write journal of an [`MmapStore`](super::MmapStore): what makes its writes through a
//! shared map whole per sector even when the process is killed in the middle of one.
//!
//! A write through a shared map is many store instructions; a process killed between two of
//! them (SIGKILL, the OOM killer) leaves the page cache, and so the file, with a sector that is
//! part old, part new. So every write goes through a slot of this journal first, a small file
//! beside the data file (`data.journal` for `data.img`; docs/formats.md, "The write
//! journal"), mapped like it:
//!
//! 1. the new bytes (ciphertext: the transform writes its output into the slot) are made in
//!    the slot's data area;
//! 2. the slot's header records where they go (byte offset and length), then its commit word
//!    is set;
//! 3. the bytes are copied from the slot to their place in the data map;
//! 4. the commit word is cleared.
//!
//! A kill before step 2 ends leaves the data file untouched (old contents); a kill after it
//! leaves a committed slot, which the next open of the store copies again (step 3 repeated:
//! new contents). Either way every sector reads back old or new, never a mix. Each store
//! instruction of a killed thread before the one it was stopped at has happened (interrupts
//! are precise), so program order, kept by the compiler fences below, is all the ordering that
//! is needed: the killed process is the only writer, and the page cache outlives it.
//!
//! Requests longer than a slot go through it in pieces of whole sectors (only each sector has
//! to be whole). The copy into the map uses non-temporal stores, past the cache, as the engine
//! does for storage. Slots are taken under a lock each, so requests of several threads run at
//! once.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering, compiler_fence};

use memmap2::{MmapOptions, MmapRaw};
use parking_lot::{Mutex, MutexGuard};

use super::file::io_error;
use super::sys;
use crate::IoError;

/// Slots: requests written at the same time without waiting for each other.
const SLOTS: usize = 8;
/// Bytes of a slot's header (a page, so that its data area starts on one).
const HEADER: usize = 4096;
/// The pieces a request is written in, unless its sectors are larger: small enough to stay
/// in the cache between the transform's writes and the copy's reads (the engine streams its
/// output past the cache from 64 KiB on).
pub(super) const CHUNK: usize = 32 << 10;
/// Bytes of a slot's data area: a piece, or one sector of the largest size (64 KiB).
const AREA: usize = 64 << 10;
const SLOT_BYTES: usize = HEADER + AREA;
/// The journal's size.
const JOURNAL_BYTES: usize = SLOTS * SLOT_BYTES;
/// The first word of a slot header that was ever written.
const MAGIC: u64 = u64::from_le_bytes(*b"EBSJRNL1");
/// Header words: magic, commit, byte offset in the data file, length.
const W_MAGIC: usize = 0;
const W_COMMIT: usize = 8;
const W_OFFSET: usize = 16;
const W_LEN: usize = 24;

/// Makes the bytes for a range of a request (its byte position there) into a slot.
pub(super) type MakeFn<'a> = dyn Fn(usize, &mut [u8]) -> Result<(), IoError> + 'a;
/// Copies bytes of a slot to their place (their byte position in the request).
pub(super) type PlaceFn<'a> = dyn Fn(usize, &[u8]) -> Result<(), IoError> + 'a;

/// The journal of one data file.
pub(super) struct Journal {
    /// Kept open for as long as the map lives.
    _file: File,
    map: MmapRaw,
    path: PathBuf,
    slots: Box<[Mutex<()>]>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

thread_local! {
    /// The slot this thread tries first (threads spread over the slots).
    static HINT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// A committed write found in the journal: `bytes` belong at byte `offset` of the data file.
pub(super) struct Pending<'a> {
    pub(super) offset: u64,
    pub(super) bytes: &'a [u8],
}

impl Journal {
    /// The journal's path beside the data file at `data`: `data.journal` for `data.img`.
    pub(super) fn path_for(data: &Path) -> PathBuf {
        data.with_extension("journal")
    }

    /// Opens the journal of the data file at `data` (creating it, mode 0600, with its blocks
    /// allocated so that writes through its map cannot fault for lack of space) and calls
    /// `replay` with every committed write it holds whose range is valid for a data file of
    /// `data_len` bytes and sectors of `sector_bytes`, then clears them.
    ///
    /// # Errors
    /// [`IoError::NoSpace`] when its blocks cannot be allocated; [`IoError::NotAVolume`] when
    /// the journal path is a symbolic link or not a regular file; [`IoError::Io`] otherwise;
    /// an error of `replay` (the journal is then left as it was).
    pub(super) fn open(
        data: &Path,
        data_len: u64,
        sector_bytes: u64,
        mut replay: impl FnMut(Pending<'_>) -> Result<(), IoError>,
    ) -> Result<Self, IoError> {
        let path = Self::path_for(data);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => not_regular(&path),
                _ => io_error(&path, e),
            })?;
        let meta = file.metadata().map_err(|e| io_error(&path, e))?;
        if !meta.is_file() {
            return Err(not_regular(&path));
        }
        if meta.len() != JOURNAL_BYTES as u64 {
            // New, or not one this build wrote: nothing in it is trusted.
            file.set_len(0).map_err(|e| io_error(&path, e))?;
            file.set_len(JOURNAL_BYTES as u64)
                .map_err(|e| io_error(&path, e))?;
        }
        allocate_all(&file, &path)?;
        let map = MmapOptions::new()
            .len(JOURNAL_BYTES)
            .map_raw(&file)
            .map_err(|e| io_error(&path, e))?;
        let journal = Self {
            _file: file,
            map,
            path,
            slots: (0..SLOTS).map(|_| Mutex::new(())).collect(),
            next: AtomicUsize::new(0),
        };
        for slot in 0..SLOTS {
            let header = journal.header(slot)?;
            if header[W_COMMIT / 8] == 0 {
                continue;
            }
            let (magic, offset, len) =
                (header[W_MAGIC / 8], header[W_OFFSET / 8], header[W_LEN / 8]);
            let valid = magic == MAGIC
                && len > 0
                && len <= AREA as u64
                && offset.is_multiple_of(sector_bytes)
                && len.is_multiple_of(sector_bytes)
                && offset.checked_add(len).is_some_and(|end| end <= data_len);
            if valid {
                let at = slot * SLOT_BYTES + HEADER;
                let len = len as usize;
                sys::with_map(&journal.map, at, len, |bytes| {
                    replay(Pending { offset, bytes })
                })
                .unwrap_or_else(|| Err(outside(&journal.path)))?;
            }
            journal.set_word(slot, W_COMMIT, 0)?;
        }
        Ok(journal)
    }

    /// Writes `len` bytes at byte `offset` of the data file through the journal, in pieces of
    /// at most `piece` bytes (whole sectors, at most 64 KiB): `make(at, out)` writes the bytes for `at..at + out.len()` of
    /// the request into `out` (a slot's data area), the slot is committed, `place(at, bytes)`
    /// copies them to their place in the data map, and the slot is released. The caller holds
    /// the exclusive range lock of the request.
    pub(super) fn write(
        &self,
        offset: u64,
        len: usize,
        piece: usize,
        make: &MakeFn<'_>,
        place: &PlaceFn<'_>,
    ) -> Result<(), IoError> {
        if piece == 0 || piece > AREA {
            return Err(outside(&self.path));
        }
        let (slot, _held) = self.take_slot();
        let area = slot * SLOT_BYTES + HEADER;
        let mut at = 0;
        while at < len {
            let n = piece.min(len - at);
            // 1. The bytes, in the slot.
            sys::with_map_mut(&self.map, area, n, |out| make(at, out))
                .unwrap_or_else(|| Err(outside(&self.path)))?;
            // 2. Where they go, then the commit word.
            self.commit(slot, offset + at as u64, n)?;
            // 3. To their place.
            sys::with_map(&self.map, area, n, |bytes| place(at, bytes))
                .unwrap_or_else(|| Err(outside(&self.path)))?;
            compiler_fence(Ordering::SeqCst);
            // 4. Done.
            self.set_word(slot, W_COMMIT, 0)?;
            at += n;
        }
        Ok(())
    }

    /// Records in `slot`'s header that its `len` bytes belong at byte `offset` of the data
    /// file, then sets its commit word. The caller holds the slot, whose bytes are made.
    fn commit(&self, slot: usize, offset: u64, len: usize) -> Result<(), IoError> {
        compiler_fence(Ordering::SeqCst);
        self.set_word(slot, W_MAGIC, MAGIC)?;
        self.set_word(slot, W_OFFSET, offset)?;
        self.set_word(slot, W_LEN, len as u64)?;
        compiler_fence(Ordering::SeqCst);
        self.set_word(slot, W_COMMIT, 1)?;
        compiler_fence(Ordering::SeqCst);
        Ok(())
    }

    /// A free slot (the thread's own first), locked.
    fn take_slot(&self) -> (usize, MutexGuard<'_, ()>) {
        let hint = HINT.with(|h| {
            h.get().unwrap_or_else(|| {
                let n = self.next.fetch_add(1, Ordering::Relaxed) % SLOTS;
                h.set(Some(n));
                n
            })
        });
        for i in 0..SLOTS {
            let slot = (hint + i) % SLOTS;
            if let Some(g) = self.slots[slot].try_lock() {
                return (slot, g);
            }
        }
        (hint, self.slots[hint].lock())
    }

    /// The four header words of `slot`.
    fn header(&self, slot: usize) -> Result<[u64; 4], IoError> {
        sys::with_map(&self.map, slot * SLOT_BYTES, 32, |b| {
            let mut words = [0u64; 4];
            for (w, bytes) in words.iter_mut().zip(b.chunks_exact(8)) {
                let mut a = [0u8; 8];
                a.copy_from_slice(bytes);
                *w = u64::from_le_bytes(a);
            }
            Ok(words)
        })
        .unwrap_or_else(|| Err(outside(&self.path)))
    }

    /// Sets the header word at byte `at` of `slot`'s header. The caller holds the slot.
    fn set_word(&self, slot: usize, at: usize, value: u64) -> Result<(), IoError> {
        sys::with_map_mut(&self.map, slot * SLOT_BYTES + at, 8, |w| {
            w.copy_from_slice(&value.to_le_bytes());
            Ok(())
        })
        .unwrap_or_else(|| Err(outside(&self.path)))
    }
}

/// Gives every byte of the journal blocks: `fallocate`, or where the file system has none,
/// zeros written with `pwrite`.
fn allocate_all(file: &File, path: &Path) -> Result<(), IoError> {
    match sys::allocate(file, 0, JOURNAL_BYTES as u64) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::ENOSYS)) => {
            let zeros = vec![0u8; SLOT_BYTES];
            for slot in 0..SLOTS {
                // Only where nothing was written: a slot header may hold a pending write.
                let mut head = [0u8; 32];
                file.read_exact_at(&mut head, (slot * SLOT_BYTES) as u64)
                    .map_err(|e| io_error(path, e))?;
                if head.iter().all(|&b| b == 0) {
                    file.write_all_at(&zeros, (slot * SLOT_BYTES) as u64)
                        .map_err(|e| io_error(path, e))?;
                }
            }
            Ok(())
        }
        Err(e) => Err(io_error(path, e)),
    }
}

fn not_regular(path: &Path) -> IoError {
    IoError::NotAVolume {
        path: path.to_path_buf(),
        reason: "the write journal is a symbolic link or not a regular file (not followed)"
            .to_owned(),
    }
}

/// A slot range outside the map (cannot happen: slots are laid out inside it).
fn outside(path: &Path) -> IoError {
    io_error(path, io::Error::from_raw_os_error(libc::EFAULT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SectorSize;
    use crate::store::{BlockStore, MmapStore};

    /// Writes a slot header as a killed process leaves it: bytes made, commit set.
    fn plant(journal: &Path, slot: usize, commit: u64, offset: u64, bytes: &[u8]) {
        let f = OpenOptions::new()
            .write(true)
            .open(journal)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut head = Vec::new();
        for w in [MAGIC, commit, offset, bytes.len() as u64] {
            head.extend_from_slice(&w.to_le_bytes());
        }
        let at = (slot * SLOT_BYTES) as u64;
        f.write_all_at(&head, at).unwrap_or_else(|e| panic!("{e}"));
        f.write_all_at(bytes, at + HEADER as u64)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn committed_writes_are_finished_at_open_and_nothing_else_is() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let data = dir.path().join("data.img");
        let ss = SectorSize::S512;
        let store = MmapStore::create(&data, ss, 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        drop(store);
        let journal = Journal::path_for(&data);
        assert_eq!(
            std::fs::metadata(&journal).map(|m| m.len()).ok(),
            Some(JOURNAL_BYTES as u64)
        );
        // A committed write (to be finished), one not committed, one out of range, one torn.
        plant(&journal, 0, 1, 4096, &[0xA1; 1024]);
        plant(&journal, 1, 0, 8192, &[0xB2; 512]);
        plant(&journal, 2, 1, (1 << 20) - 512, &[0xC3; 1024]);
        plant(&journal, 3, 1, 100, &[0xD4; 512]);
        let store = MmapStore::open(&data, ss).unwrap_or_else(|e| panic!("{e}"));
        let held = store.range_locks().write(0, store.num_sectors());
        let mut all = vec![0u8; 1 << 20];
        store
            .read_sectors(&held, 0, &mut all)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(all[4096..5120].iter().all(|&b| b == 0xA1), "finished");
        let written = all.iter().filter(|&&b| b != 0).count();
        assert_eq!(
            written, 1024,
            "only the committed, valid write was finished"
        );
        drop(held);
        drop(store);
        // Every commit word is cleared: a second open changes nothing.
        let bytes = std::fs::read(&journal).unwrap_or_else(|e| panic!("{e}"));
        for slot in 0..SLOTS {
            let at = slot * SLOT_BYTES + W_COMMIT;
            assert!(bytes[at..at + 8].iter().all(|&b| b == 0), "slot {slot}");
        }
        // A link in place of the journal is refused.
        std::fs::remove_file(&journal).unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &journal)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            MmapStore::open(&data, ss),
            Err(IoError::NotAVolume { .. })
        ));
        assert!(!dir.path().join("elsewhere").exists());
    }
}
