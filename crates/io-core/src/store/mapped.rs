//! The memory-mapped fast path of [`super::FileStore`].
//!
//! A positional write into a page-cache file costs, per 4 KiB page, a page lookup, a page
//! lock and unlock and dirty marking on top of the copy; a copy into a shared mapping of the
//! same file costs the copy alone once the page is mapped. Writing through a map is unsafe in
//! one way that matters here: a store into a page the file system has not allocated yet
//! faults, and if the file system is full the process gets `SIGBUS` instead of `ENOSPC`.
//!
//! So the map is used only for *ready* chunks (64 KiB): chunks this process has written whole
//! with `pwrite` (which allocates them, or reports `ENOSPC` as an error) and has not trimmed
//! since. The first write of a whole chunk is a `pwrite` that makes it ready; later writes
//! that touch it, whole or in part, go through the map. A write to part of a chunk that is not
//! ready stays a `pwrite` (nothing beyond what is written gets allocated, so small scattered
//! writes keep the file sparse). Reads of ready chunks come from the map; every other read is
//! a `pread` (a read through the map of a hole would allocate a page on some file systems). A
//! trim takes the gate exclusively, so no chunk it punches is ever touched through the map
//! while it is not ready.
//!
//! While it is open, nothing else may shrink the file or punch holes in it (the volume's
//! exclusive lock keeps other ebsim processes and attachments away): a chunk shrunk away
//! would fault here as it would under any mapped database, and one punched behind our back
//! could fault if the file system were also full.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use memmap2::{Advice, MmapOptions, MmapRaw};

/// Bytes per chunk: the unit of allocation and of the ready bitmap.
const CHUNK_SHIFT: u32 = 16; // 64 KiB
const CHUNK: u64 = 1 << CHUNK_SHIFT;
/// Words per leaf of the ready bitmap (a leaf covers 4096 × 64 chunks = 16 GiB; 32 KiB).
const LEAF_WORDS: usize = 4096;
const LEAF_CHUNKS: u64 = LEAF_WORDS as u64 * 64;
/// Lock stripes that serialise accesses through the map to the same chunk.
const STRIPES: usize = 64;

/// A leaf of the ready bitmap, allocated on first use.
type Leaf = OnceLock<Box<[AtomicU64]>>;

/// A shared mapping of a whole data file, with the chunks known safe to access through it.
pub(super) struct FileMap {
    /// Our own descriptor of the mapped file (the ready bits describe this file only).
    file: File,
    map: MmapRaw,
    len: u64,
    /// Leaves of the ready bitmap, allocated on first use.
    ready: Box<[Leaf]>,
    /// Shared by reads and writes, exclusive for trims: no ready bit is cleared while a read
    /// or write is under way.
    gate: RwLock<()>,
    /// Accesses through the map to chunk *c* hold stripe *c* mod `STRIPES`.
    stripes: Box<[RwLock<()>]>,
}

impl std::fmt::Debug for FileMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileMap")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

fn read_lock(l: &RwLock<()>) -> RwLockReadGuard<'_, ()> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_lock(l: &RwLock<()>) -> RwLockWriteGuard<'_, ()> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FileMap {
    /// Maps `file` (of `len` bytes) shared and writable; `None` if that is not possible here
    /// (the store then uses `pread`/`pwrite` only).
    pub(super) fn new(file: &File, len: u64) -> Option<Self> {
        let map_len = usize::try_from(len).ok()?;
        if map_len == 0 {
            return None;
        }
        let file = file.try_clone().ok()?;
        let map = MmapOptions::new().len(map_len).map_raw(&file).ok()?;
        let leaves = len.div_ceil(CHUNK).div_ceil(LEAF_CHUNKS) as usize;
        Some(Self {
            file,
            map,
            len,
            ready: (0..leaves).map(|_| OnceLock::new()).collect(),
            gate: RwLock::new(()),
            stripes: (0..STRIPES).map(|_| RwLock::new(())).collect(),
        })
    }

    fn bit(&self, chunk: u64) -> Option<(&Leaf, usize, u64)> {
        let leaf = self.ready.get((chunk / LEAF_CHUNKS) as usize)?;
        let within = chunk % LEAF_CHUNKS;
        Some((leaf, (within / 64) as usize, 1u64 << (within % 64)))
    }

    fn is_ready(&self, chunk: u64) -> bool {
        self.bit(chunk).is_some_and(|(leaf, w, m)| {
            leaf.get()
                .is_some_and(|words| words[w].load(Ordering::Acquire) & m != 0)
        })
    }

    fn set_ready(&self, chunk: u64) {
        if let Some((leaf, w, m)) = self.bit(chunk) {
            let words = leaf.get_or_init(|| (0..LEAF_WORDS).map(|_| AtomicU64::new(0)).collect());
            words[w].fetch_or(m, Ordering::Release);
        }
    }

    fn clear_ready(&self, chunk: u64) {
        if let Some((leaf, w, m)) = self.bit(chunk)
            && let Some(words) = leaf.get()
        {
            words[w].fetch_and(!m, Ordering::Release);
        }
    }

    fn stripe(&self, chunk: u64) -> &RwLock<()> {
        &self.stripes[(chunk % STRIPES as u64) as usize]
    }

    /// Calls `f(chunk, chunk_start, chunk_end, at, range)` for the pieces of
    /// `[offset, offset + len)` within each chunk.
    fn pieces(
        &self,
        offset: u64,
        len: usize,
        mut f: impl FnMut(u64, u64, u64, u64, std::ops::Range<usize>) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut pos = 0usize;
        while pos < len {
            let at = offset + pos as u64;
            let chunk = at >> CHUNK_SHIFT;
            let start = chunk << CHUNK_SHIFT;
            let end = (start + CHUNK).min(self.len);
            let n = ((end - at) as usize).min(len - pos);
            f(chunk, start, end, at, pos..pos + n)?;
            pos += n;
        }
        Ok(())
    }

    fn check(&self, offset: u64, len: usize) -> io::Result<()> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
        }
    }

    /// Writes `buf` at byte `offset` of the file.
    pub(super) fn write(&self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.check(offset, buf.len())?;
        let _gate = read_lock(&self.gate);
        self.pieces(offset, buf.len(), |chunk, start, end, at, r| {
            let piece = &buf[r];
            let whole = at == start && at + piece.len() as u64 == end;
            if !whole && !self.is_ready(chunk) {
                return self.file.write_all_at(piece, at);
            }
            let _s = write_lock(self.stripe(chunk));
            if !self.is_ready(chunk) {
                // A whole chunk that is not ready: a positional write allocates all of it (a
                // full file system is ENOSPC here), after which it is ready. Its pages are then
                // mapped in one call rather than one fault each on the next write (best
                // effort: older kernels fault them in as they are written).
                self.file.write_all_at(piece, at)?;
                let _ = self.map.advise_range(
                    Advice::PopulateWrite,
                    start as usize,
                    (end - start) as usize,
                );
                self.set_ready(chunk);
                return Ok(());
            }
            // SAFETY: `at..at + piece.len()` lies inside the mapping (checked above; pieces
            // stay inside `0..self.len`, the mapping's length). The chunk is ready: all of it
            // was written (so allocated) in this file, and not punched since (trims clear the bit under
            // the exclusive gate, and we hold the gate shared), so the store cannot fault for
            // lack of space. No other access of this process touches these bytes through the
            // map meanwhile: all of them hold the chunk's stripe, which we hold exclusively.
            // The source is a plain slice that cannot overlap a shared file mapping we own.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    piece.as_ptr(),
                    self.map.as_mut_ptr().add(at as usize),
                    piece.len(),
                );
            }
            Ok(())
        })
    }

    /// Reads `buf.len()` bytes at byte `offset` of the file.
    pub(super) fn read(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.check(offset, buf.len())?;
        let _gate = read_lock(&self.gate);
        self.pieces(offset, buf.len(), |chunk, _, _, at, r| {
            let piece = &mut buf[r];
            if !self.is_ready(chunk) {
                return self.file.read_exact_at(piece, at);
            }
            let _s = read_lock(self.stripe(chunk));
            // SAFETY: inside the mapping (checked above); the chunk is ready (allocated, not
            // punched while we hold the gate), so reading it cannot fault for lack of space
            // or allocate; writers through the map hold the stripe exclusively, we hold it
            // shared. The destination is a plain slice, not part of the mapping.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.map.as_ptr().add(at as usize),
                    piece.as_mut_ptr(),
                    piece.len(),
                );
            }
            Ok(())
        })
    }

    /// Punches a hole of `len` bytes at `offset`; the chunks it touches stop being ready.
    pub(super) fn trim(&self, offset: u64, len: u64) -> io::Result<()> {
        let Some(end) = offset.checked_add(len).filter(|&e| e <= self.len) else {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        };
        if len == 0 {
            return Ok(());
        }
        let _gate = write_lock(&self.gate);
        for chunk in (offset >> CHUNK_SHIFT)..end.div_ceil(CHUNK) {
            self.clear_ready(chunk);
        }
        super::sys::punch_hole(&self.file, offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `len` bytes in the temp dir, removed on drop.
    struct TempFile(std::path::PathBuf, File);

    impl TempFile {
        fn new(name: &str, len: u64) -> Self {
            let path = std::env::temp_dir()
                .join(format!("ebsim-mapped-{name}-{}.img", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .expect("create");
            file.set_len(len).expect("set_len");
            Self(path, file)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Random writes (whole chunks, parts of chunks, across chunks), trims and reads through
    /// the map agree with a model, and with what `pread` of another descriptor sees.
    #[test]
    fn mapped_io_matches_a_model() {
        // Four and a half chunks: the last chunk is short.
        let len = 4 * CHUNK + CHUNK / 2;
        let t = TempFile::new("model", len);
        let m = FileMap::new(&t.1, len).expect("map");
        let mut model = vec![0u8; len as usize];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let sector = 512u64;
        for step in 0..400u64 {
            let first = next(len / sector);
            let count = match next(4) {
                0 => CHUNK / sector,
                1 => 1 + next(8),
                _ => 1 + next(3 * CHUNK / sector),
            }
            .min(len / sector - first);
            let (at, n) = (first * sector, (count * sector) as usize);
            match next(5) {
                0 => {
                    m.trim(at, n as u64).expect("trim");
                    model[at as usize..at as usize + n].fill(0);
                }
                1 | 2 => {
                    let data: Vec<u8> = (0..n).map(|i| (i as u64 ^ step) as u8 | 1).collect();
                    m.write(at, &data).expect("write");
                    model[at as usize..at as usize + n].copy_from_slice(&data);
                }
                _ => {
                    let mut back = vec![0xEEu8; n];
                    m.read(at, &mut back).expect("read");
                    assert_eq!(back, model[at as usize..at as usize + n], "step {step}");
                }
            }
        }
        // Whole chunks are ready after a whole-chunk write; the short last chunk counts.
        m.write(4 * CHUNK, &vec![7u8; (CHUNK / 2) as usize])
            .expect("last chunk");
        model[(4 * CHUNK) as usize..].fill(7);
        assert!(m.is_ready(4));
        let mut all = vec![0u8; len as usize];
        m.read(0, &mut all).expect("read all");
        assert_eq!(all, model);
        let other = File::open(&t.0).expect("open");
        other.read_exact_at(&mut all, 0).expect("pread");
        assert_eq!(all, model);
        // A trim of part of a chunk makes it not ready; out-of-range requests are refused.
        m.trim(4 * CHUNK, sector).expect("trim");
        assert!(!m.is_ready(4));
        assert!(m.write(len - sector, &[1u8; 1024]).is_err());
        assert!(m.read(u64::MAX - 10, &mut [0u8; 512]).is_err());
        assert!(m.trim(len, 1).is_err());
    }

    /// Small writes into chunks that are not ready stay positional writes: the file stays
    /// sparse.
    #[test]
    fn small_writes_allocate_no_whole_chunks() {
        use std::os::unix::fs::MetadataExt;
        let len = 64 * CHUNK;
        let t = TempFile::new("sparse", len);
        let m = FileMap::new(&t.1, len).expect("map");
        for c in 0..64 {
            m.write(c * CHUNK + 4096, &[3u8; 4096]).expect("write");
        }
        let used = t.1.metadata().expect("metadata").blocks() * 512;
        assert!(used <= 64 * 8192, "{used} bytes allocated for 64 × 4 KiB");
        assert!((0..64).all(|c| !m.is_ready(c)));
        let mut back = [0u8; 4096];
        m.read(5 * CHUNK + 4096, &mut back).expect("read");
        assert_eq!(back, [3u8; 4096]);
    }
}
