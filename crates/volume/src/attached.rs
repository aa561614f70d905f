//! An attached volume: the only thing that can read or write a volume's plaintext.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ebsim_io::{BlockStore, RangeGuard, SectorSize, XtsEngine, XtsTransform, is_hole};

use crate::VolumeError;
use crate::extents::{Extent, sector_extents};
use crate::metadata::VolumeMetadata;

/// Whether a plaintext sector is all zeros; a data sector answers at its first bytes.
fn is_zero_sector(sector: &[u8]) -> bool {
    is_hole(sector)
}

/// What keeps a volume exclusively ours while attached.
pub(crate) enum LockHolder {
    /// The flock on `DIR/volumes/<id>/lock` (released when dropped).
    File(#[allow(dead_code)] ebsim_data_dir::ExclusiveLock),
    /// The in-memory attached flag.
    Memory(Arc<AtomicBool>),
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        if let Self::Memory(flag) = self {
            flag.store(false, Ordering::Release);
        }
    }
}

/// A volume attached in this process: it holds the XTS engine (the expanded data key) in
/// memory, and the volume's exclusive lock, until [`AttachedVolume::detach`] or drop.
///
/// Every method takes `&self` and may be called from many threads. Each request locks its
/// sectors once, through the store's [`RangeLocks`](ebsim_io::RangeLocks) (shared to read,
/// exclusive to write or trim), and holds them until it is done, so overlapping requests never
/// interleave: a reader sees each write whole. Reads and writes accept any byte offset and
/// length: partial sectors are read, decrypted, patched, re-encrypted and written under that
/// one lock. A sector whose plaintext is all zeros is stored as a hole (zeros), never as
/// ciphertext.
pub struct AttachedVolume {
    meta: VolumeMetadata,
    store: Arc<dyn BlockStore>,
    engine: Option<XtsEngine>,
    sector_size: SectorSize,
    /// Whether long runs are encrypted/decrypted over the rayon pool.
    fan_out: AtomicBool,
    flushed_on_detach: bool,
    _holder: LockHolder,
}

impl std::fmt::Debug for AttachedVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachedVolume")
            .field("volume_id", &self.meta.volume_id)
            .field("size_bytes", &self.meta.size_bytes)
            .field("sector_size", &self.meta.sector_size)
            .finish_non_exhaustive()
    }
}

impl AttachedVolume {
    pub(crate) fn new(
        meta: VolumeMetadata,
        store: Arc<dyn BlockStore>,
        engine: XtsEngine,
        holder: LockHolder,
    ) -> Self {
        let sector_size = engine.sector_size();
        Self {
            meta,
            store,
            engine: Some(engine),
            sector_size,
            fan_out: AtomicBool::new(true),
            flushed_on_detach: false,
            _holder: holder,
        }
    }

    pub(crate) fn store(&self) -> &dyn BlockStore {
        self.store.as_ref()
    }

    /// The volume id.
    pub fn volume_id(&self) -> &str {
        &self.meta.volume_id
    }

    /// The volume's metadata as it was when attached.
    pub fn metadata(&self) -> &VolumeMetadata {
        &self.meta
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.meta.size_bytes
    }

    /// Sector size.
    pub fn sector_size(&self) -> SectorSize {
        self.sector_size
    }

    /// Chooses whether a request's long runs of sectors are encrypted and decrypted over the
    /// rayon pool (`true`, the default: one large request uses every core) or on the calling
    /// thread (`false`: for callers such as a block server that already run many requests in
    /// parallel, where handing each request to the pool only adds thread hand-offs and idle
    /// spinning). The data written and read is the same either way.
    pub fn set_parallel_crypto(&self, on: bool) {
        self.fan_out.store(on, Ordering::Relaxed);
    }

    fn engine(&self) -> &XtsEngine {
        // Only `drop` takes the engine out, after which `self` is gone.
        self.engine
            .as_ref()
            .unwrap_or_else(|| unreachable!("engine present while attached"))
    }

    fn check(&self, offset: u64, len: u64) -> Result<(), VolumeError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.meta.size_bytes => Ok(()),
            _ => Err(VolumeError::OutOfRange {
                volume_id: self.meta.volume_id.clone(),
                offset,
                len,
                size_bytes: self.meta.size_bytes,
            }),
        }
    }

    /// The engine as a store transform: encrypting or decrypting, long runs over the rayon pool
    /// when fan-out is on.
    fn crypt(&self, encrypt: bool) -> XtsTransform<'_> {
        let engine = self.engine();
        let t = if encrypt {
            engine.encryptor()
        } else {
            engine.decryptor()
        };
        t.parallel(self.fan_out.load(Ordering::Relaxed))
    }

    /// Reads whole sectors `first..` into `buf` and decrypts them (holes read as zeros).
    /// `held` covers the sectors.
    fn read_sectors_locked(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        buf: &mut [u8],
    ) -> Result<(), VolumeError> {
        let n = buf.len() / self.sector_size.bytes();
        // Small requests keep their hole map on the stack.
        let mut small = [false; 64];
        let mut large = Vec::new();
        let holes: &mut [bool] = if n <= small.len() {
            &mut small[..n]
        } else {
            large.resize(n, false);
            &mut large
        };
        // The store decrypts straight from its storage into `buf` where it can.
        Ok(self
            .store
            .read_sectors_via(held, first, buf, holes, &self.crypt(false))?)
    }

    /// Encrypts plaintext sectors and stores them: all-zero plaintext sectors become holes.
    /// The store encrypts from `buf` straight into its storage where it can, otherwise `buf`
    /// is encrypted in place; either way `buf` is scratch afterwards. `held` covers the
    /// sectors exclusively.
    fn write_sectors_locked(
        &self,
        held: &RangeGuard<'_>,
        first: u64,
        buf: &mut [u8],
    ) -> Result<(), VolumeError> {
        let ss = self.sector_size.bytes();
        let n = buf.len() / ss;
        // Small requests keep their zero map on the stack. Random data answers at the first
        // bytes of each sector.
        let mut small = [false; 64];
        let mut large = Vec::new();
        let zeros: &mut [bool] = if n <= small.len() {
            &mut small[..n]
        } else {
            large.resize(n, false);
            &mut large
        };
        let mut any_zero = false;
        for (z, sector) in zeros.iter_mut().zip(buf.chunks_exact(ss)) {
            *z = is_zero_sector(sector);
            any_zero |= *z;
        }
        // The store encrypts straight from `buf` into its storage where it can.
        let encrypt = self.crypt(true);
        if !any_zero {
            self.store.write_sectors_via(held, first, buf, &encrypt)?;
            return Ok(());
        }
        let mut i = 0;
        while i < zeros.len() {
            let start = i;
            let z = zeros[i];
            while i < zeros.len() && zeros[i] == z {
                i += 1;
            }
            let s = first + start as u64;
            if z {
                self.store.trim(held, s, (i - start) as u64)?;
            } else {
                self.store
                    .write_sectors_via(held, s, &mut buf[start * ss..i * ss], &encrypt)?;
            }
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes at byte `offset` (any alignment).
    ///
    /// # Errors
    /// [`VolumeError::OutOfRange`], or an error of the store.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), VolumeError> {
        let len = buf.len() as u64;
        self.check(offset, len)?;
        if buf.is_empty() {
            return Ok(());
        }
        let ss = self.sector_size.bytes() as u64;
        let first = offset / ss;
        let end = (offset + len).div_ceil(ss);
        let count = end - first;
        let held = self.store.range_locks().read(first, count);
        if offset.is_multiple_of(ss) && len.is_multiple_of(ss) {
            return self.read_sectors_locked(&held, first, buf);
        }
        let mut tmp = vec![0u8; (count * ss) as usize];
        self.read_sectors_locked(&held, first, &mut tmp)?;
        let skip = (offset - first * ss) as usize;
        buf.copy_from_slice(&tmp[skip..skip + buf.len()]);
        Ok(())
    }

    /// Writes `data` at byte `offset` (any alignment; partial sectors are read-modify-written).
    ///
    /// # Errors
    /// [`VolumeError::OutOfRange`], or an error of the store (e.g. no space); on error the
    /// sectors written so far may hold the new data.
    pub fn write_at(&self, offset: u64, data: &[u8]) -> Result<(), VolumeError> {
        let len = data.len() as u64;
        self.check(offset, len)?;
        if data.is_empty() {
            return Ok(());
        }
        let ss = self.sector_size.bytes() as u64;
        let first = offset / ss;
        let end = (offset + len).div_ceil(ss);
        let count = end - first;
        // One exclusive lock for the whole read-modify-write.
        let held = self.store.range_locks().write(first, count);
        let mut buf = vec![0u8; (count * ss) as usize];
        let head = (offset - first * ss) as usize;
        let tail_partial = !(offset + len).is_multiple_of(ss);
        if head != 0 {
            self.read_sectors_locked(&held, first, &mut buf[..ss as usize])?;
        }
        if tail_partial && (count > 1 || head == 0) {
            let last = buf.len() - ss as usize;
            self.read_sectors_locked(&held, end - 1, &mut buf[last..])?;
        }
        buf[head..head + data.len()].copy_from_slice(data);
        self.write_sectors_locked(&held, first, &mut buf)
    }

    /// Writes `buf` at byte `offset` like [`AttachedVolume::write_at`], but uses the caller's
    /// buffer as scratch instead of a copy of it: **afterwards `buf` holds unspecified bytes**
    /// (ciphertext, or the original data). A request of whole sectors at a sector boundary is
    /// encrypted from `buf` straight into the store (or in place, then stored, where the store
    /// cannot take it directly) without allocating or copying; any other request goes through
    /// [`AttachedVolume::write_at`] (leaving `buf` unchanged).
    ///
    /// # Errors
    /// As [`AttachedVolume::write_at`]; an out-of-range request changes nothing, neither the
    /// volume nor `buf`.
    pub fn write_at_in_place(&self, offset: u64, buf: &mut [u8]) -> Result<(), VolumeError> {
        let len = buf.len() as u64;
        self.check(offset, len)?;
        if buf.is_empty() {
            return Ok(());
        }
        let ss = self.sector_size.bytes() as u64;
        if !offset.is_multiple_of(ss) || !len.is_multiple_of(ss) {
            return self.write_at(offset, buf);
        }
        let first = offset / ss;
        let held = self.store.range_locks().write(first, len / ss);
        self.write_sectors_locked(&held, first, buf)
    }

    /// Makes `len` bytes at `offset` read as zeros; whole sectors become holes (their storage
    /// is released), partial sectors at the edges are zeroed by read-modify-write.
    ///
    /// # Errors
    /// [`VolumeError::OutOfRange`], or an error of the store.
    pub fn trim(&self, offset: u64, len: u64) -> Result<(), VolumeError> {
        self.check(offset, len)?;
        let ss = self.sector_size.bytes() as u64;
        let end = offset + len;
        let first_whole = offset.div_ceil(ss);
        let end_whole = end / ss;
        if first_whole >= end_whole {
            // No whole sector inside: zero the bytes.
            return self.write_at(offset, &vec![0u8; len as usize]);
        }
        if offset < first_whole * ss {
            self.write_at(offset, &vec![0u8; (first_whole * ss - offset) as usize])?;
        }
        {
            let count = end_whole - first_whole;
            let held = self.store.range_locks().write(first_whole, count);
            self.store.trim(&held, first_whole, count)?;
        }
        if end > end_whole * ss {
            self.write_at(end_whole * ss, &vec![0u8; (end - end_whole * ss) as usize])?;
        }
        Ok(())
    }

    /// Where `[offset, offset + len)` holds data, where it has holes and where it reads as
    /// zeros: consecutive extents from `offset`, covering at least a first part of the range
    /// (at most [`MAX_EXTENTS`], and stored sectors are looked at up to 64 MiB per call; ask
    /// again from where the answer ends). A hole is what data.img's file system does not
    /// allocate (SEEK_DATA / SEEK_HOLE; the chunk map of a memory store); stored sectors of
    /// all zeros read as zeros too (the hole rule). The answer is a snapshot: writes running meanwhile may or may not be
    /// in it. Extents are reported in whole sectors, except that the first starts at `offset`
    /// and none goes past `offset + len`.
    ///
    /// # Errors
    /// [`VolumeError::OutOfRange`], or an error of the store.
    ///
    /// [`MAX_EXTENTS`]: crate::MAX_EXTENTS
    pub fn extents(&self, offset: u64, len: u64) -> Result<Vec<Extent>, VolumeError> {
        self.check(offset, len)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let ss = self.sector_size.bytes() as u64;
        let first = offset / ss;
        let end = (offset + len).div_ceil(ss);
        let runs = sector_extents(self.store.as_ref(), first, end - first)?;
        let mut out = Vec::with_capacity(runs.len());
        let mut at = first * ss;
        for (sectors, kind) in runs {
            let next = at + sectors * ss;
            let (a, b) = (at.max(offset), next.min(offset + len));
            if b > a {
                out.push(Extent {
                    length: b - a,
                    hole: kind.hole(),
                    zero: kind.zero(),
                });
            }
            at = next;
        }
        Ok(out)
    }

    /// Makes every completed write durable.
    ///    /// Makes every completed write durable.
    ///
    /// # Errors
    /// An error of the store.
    pub fn flush(&self) -> Result<(), VolumeError> {
        Ok(self.store.flush()?)
    }

    /// Detaches: flushes, drops the key schedule (zeroizing what it holds) and releases the
    /// volume's lock.
    ///
    /// # Errors
    /// The flush failed (the key is dropped and the lock released anyway).
    pub fn detach(mut self) -> Result<(), VolumeError> {
        let result = self.flush();
        self.flushed_on_detach = true;
        drop(self);
        result
    }
}

impl Drop for AttachedVolume {
    fn drop(&mut self) {
        if !self.flushed_on_detach {
            let _ = self.store.flush();
        }
        // Drop the engine (the expanded key) before the lock is released.
        self.engine = None;
    }
}
