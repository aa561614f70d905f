//! Ciphertext access without the key: what a snapshot copies out of a volume and a restore
//! copies into a new one (docs/formats.md, "Snapshots").
//!
//! [`CiphertextAccess`] reads a volume's stored sectors as they are on disk (ciphertext, holes
//! as zeros) under the store's range locks, so a copy taken while writes run sees each sector
//! whole, old or new. An [`AttachedVolume`] offers it to whoever holds it; a volume nobody has
//! attached is opened with [`VolumeRoot::open_raw`], which takes the volume's lock for as long
//! as the [`RawVolume`] lives.

use std::sync::Arc;

use ebsim_data_dir::{VOLUME_DATA as DATA_FILE, VOLUME_METADATA as METADATA_FILE};
use ebsim_io::{BlockStore, MmapStore, SectorSize};

use crate::attached::LockHolder;
use crate::binding::MetadataKey;
use crate::metadata::VolumeMetadata;
use crate::root::{lock_dir, real_dir};
use crate::{AttachedVolume, VolumeError, VolumeRoot};

/// Reading and writing a volume's stored bytes (ciphertext) directly, sector-aligned.
pub trait CiphertextAccess: Send + Sync {
    /// The volume's metadata.
    fn meta(&self) -> &VolumeMetadata;

    /// The byte ranges `(offset, len)` in `[offset, offset + len)` where the store holds data
    /// (anything else reads as zeros), in ascending order; exact as of the call.
    ///
    /// # Errors
    /// [`VolumeError::OutOfRange`], or an error of the store.
    fn allocated(&self, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, VolumeError>;

    /// Reads the stored bytes of whole sectors at `offset` into `buf` under a shared range
    /// lock: each sector as one write left it (ciphertext; zeros for a hole).
    ///
    /// # Errors
    /// [`VolumeError::OutOfRange`], a misaligned request, or an error of the store.
    fn read_stored(&self, offset: u64, buf: &mut [u8]) -> Result<(), VolumeError>;
}

fn store_allocated(
    store: &dyn BlockStore,
    size: u64,
    offset: u64,
    len: u64,
) -> Result<Vec<(u64, u64)>, VolumeError> {
    let ss = store.sector_size().bytes() as u64;
    if offset.checked_add(len).is_none_or(|e| e > size) || !offset.is_multiple_of(ss) {
        return Err(VolumeError::OutOfRange {
            volume_id: String::new(),
            offset,
            len,
            size_bytes: size,
        });
    }
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut first = offset / ss;
    let end = (offset + len).div_ceil(ss);
    while first < end {
        let runs = store.allocation(first, end - first)?;
        if runs.is_empty() {
            break;
        }
        for r in runs {
            if r.allocated {
                let (o, l) = (first * ss, r.sectors * ss);
                match out.last_mut() {
                    Some(last) if last.0 + last.1 == o => last.1 += l,
                    _ => out.push((o, l)),
                }
            }
            first += r.sectors;
        }
    }
    Ok(out)
}

fn store_read(store: &dyn BlockStore, offset: u64, buf: &mut [u8]) -> Result<(), VolumeError> {
    let ss = store.sector_size().bytes() as u64;
    if !offset.is_multiple_of(ss) || !(buf.len() as u64).is_multiple_of(ss) {
        return Err(ebsim_io::IoError::Misaligned {
            len: buf.len() as u64,
            sector_size: ss as u32,
        }
        .into());
    }
    let first = offset / ss;
    let held = store.range_locks().read(first, buf.len() as u64 / ss);
    Ok(store.read_sectors(&held, first, buf)?)
}

impl CiphertextAccess for AttachedVolume {
    fn meta(&self) -> &VolumeMetadata {
        self.metadata()
    }

    fn allocated(&self, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, VolumeError> {
        store_allocated(self.store(), self.size(), offset, len)
    }

    fn read_stored(&self, offset: u64, buf: &mut [u8]) -> Result<(), VolumeError> {
        store_read(self.store(), offset, buf)
    }
}

/// A volume opened without its key: its lock is held (so nobody attaches it meanwhile) and
/// its stored bytes can be read and written as they are. Dropping it flushes and releases the
/// lock.
pub struct RawVolume {
    meta: VolumeMetadata,
    store: Arc<dyn BlockStore>,
    root: VolumeRoot,
    _holder: LockHolder,
}

impl std::fmt::Debug for RawVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawVolume")
            .field("volume_id", &self.meta.volume_id)
            .finish_non_exhaustive()
    }
}

impl CiphertextAccess for RawVolume {
    fn meta(&self) -> &VolumeMetadata {
        &self.meta
    }

    fn allocated(&self, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, VolumeError> {
        store_allocated(self.store.as_ref(), self.meta.size_bytes, offset, len)
    }

    fn read_stored(&self, offset: u64, buf: &mut [u8]) -> Result<(), VolumeError> {
        store_read(self.store.as_ref(), offset, buf)
    }
}

impl RawVolume {
    /// Writes stored bytes (ciphertext made under this volume's data key, sector *i* with
    /// tweak *i*) of whole sectors at `offset`; sectors of all zeros become holes.
    ///
    /// # Errors
    /// [`VolumeError::OutOfRange`], a misaligned request, or an error of the store
    /// (`NoSpace` when the disk is full).
    pub fn write_stored(&self, offset: u64, buf: &[u8]) -> Result<(), VolumeError> {
        let ss = self.store.sector_size().bytes();
        let ssu = ss as u64;
        if !offset.is_multiple_of(ssu) || !(buf.len() as u64).is_multiple_of(ssu) {
            return Err(ebsim_io::IoError::Misaligned {
                len: buf.len() as u64,
                sector_size: ss as u32,
            }
            .into());
        }
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > self.meta.size_bytes)
        {
            return Err(VolumeError::OutOfRange {
                volume_id: self.meta.volume_id.clone(),
                offset,
                len: buf.len() as u64,
                size_bytes: self.meta.size_bytes,
            });
        }
        let first = offset / ssu;
        let held = self
            .store
            .range_locks()
            .write(first, buf.len() as u64 / ssu);
        let sectors: Vec<&[u8]> = buf.chunks_exact(ss).collect();
        let mut i = 0;
        while i < sectors.len() {
            let start = i;
            let hole = ebsim_io::is_hole(sectors[i]);
            while i < sectors.len() && ebsim_io::is_hole(sectors[i]) == hole {
                i += 1;
            }
            let s = first + start as u64;
            if hole {
                self.store.trim(&held, s, (i - start) as u64)?;
            } else {
                self.store
                    .write_sectors(&held, s, &buf[start * ss..i * ss])?;
            }
        }
        Ok(())
    }

    /// Writes `metadata_mac` from the volume's plaintext data key, as the first attach would
    /// (docs/formats.md, "The metadata MAC"); for a restore that already holds the key.
    ///
    /// # Errors
    /// A file-system error.
    pub fn bind_metadata(&mut self, data_key: &[u8]) -> Result<(), VolumeError> {
        let key = MetadataKey::derive(data_key);
        self.meta.metadata_mac = Some(key.sign(&self.meta));
        self.root.update(&self.meta)
    }

    /// Makes every write durable.
    ///
    /// # Errors
    /// An error of the store.
    pub fn flush(&self) -> Result<(), VolumeError> {
        Ok(self.store.flush()?)
    }

    /// The sector size.
    pub fn sector_size(&self) -> SectorSize {
        self.store.sector_size()
    }
}

impl Drop for RawVolume {
    fn drop(&mut self) {
        let _ = self.store.flush();
    }
}

impl VolumeRoot {
    /// Opens a volume's stored bytes without its key, taking the volume's lock (as an attach
    /// does) for as long as the [`RawVolume`] lives. A write journal left by a killed writer is
    /// replayed first.
    ///
    /// # Errors
    /// [`VolumeError::InUse`] when a process has it attached, [`VolumeError::NotFound`],
    /// [`VolumeError::CorruptMetadata`], or a file-system error.
    pub fn open_raw(&self, volume_id: &str) -> Result<RawVolume, VolumeError> {
        let (meta, store, holder) = self.open_locked(volume_id)?;
        Ok(RawVolume {
            meta,
            store,
            root: self.clone(),
            _holder: holder,
        })
    }

    /// As [`VolumeRoot::open_raw`], for a volume that has never been attached and is being
    /// filled (a restore): writes are positional (`pwrite`), without the write journal, which
    /// such a volume does not have yet. A volume that has a journal is opened as
    /// [`VolumeRoot::open_raw`] opens it.
    ///
    /// # Errors
    /// As [`VolumeRoot::open_raw`].
    pub fn open_raw_unattached(&self, volume_id: &str) -> Result<RawVolume, VolumeError> {
        let Some(dir) = self.volume_dir(volume_id) else {
            return self.open_raw(volume_id);
        };
        if std::fs::symlink_metadata(dir.join("data.journal")).is_ok() {
            return self.open_raw(volume_id);
        }
        if real_dir(&dir).is_err() || !dir.join(METADATA_FILE).is_file() {
            return Err(VolumeError::NotFound(volume_id.to_owned()));
        }
        let lock = lock_dir(&dir, volume_id)?;
        let meta = self.load(volume_id)?;
        let store = ebsim_io::FileStore::open(dir.join(DATA_FILE), meta.sector_size()?)?;
        if store.size_bytes() != meta.size_bytes {
            return Err(VolumeError::CorruptMetadata {
                path: dir.join(METADATA_FILE),
                reason: "size_bytes does not match data.img".to_owned(),
            });
        }
        Ok(RawVolume {
            meta,
            store: Arc::new(store),
            root: self.clone(),
            _holder: LockHolder::File(lock),
        })
    }

    pub(crate) fn open_locked_dir(
        &self,
        volume_id: &str,
    ) -> Result<(VolumeMetadata, Arc<dyn BlockStore>, LockHolder), VolumeError> {
        let dir = self.volume_dir(volume_id).unwrap_or_default();
        if real_dir(&dir).is_err() || !dir.join(METADATA_FILE).is_file() {
            return Err(VolumeError::NotFound(volume_id.to_owned()));
        }
        let lock = lock_dir(&dir, volume_id)?;
        let meta = self.load(volume_id)?;
        let ss = meta.sector_size()?;
        let store = MmapStore::open(dir.join(DATA_FILE), ss)?;
        if store.size_bytes() != meta.size_bytes {
            return Err(VolumeError::CorruptMetadata {
                path: dir.join(METADATA_FILE),
                reason: format!(
                    "size_bytes {} does not match data.img ({} bytes)",
                    meta.size_bytes,
                    store.size_bytes()
                ),
            });
        }
        Ok((meta, Arc::new(store), LockHolder::File(lock)))
    }
}
