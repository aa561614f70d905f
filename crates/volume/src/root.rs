//! Where volumes live: a data dir (`DIR/volumes/<id>/{metadata.json,data.img,lock}`) or memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ebsim_data_dir::{
    DataDir, ExclusiveLock, LockError, VOLUME_DATA as DATA_FILE, VOLUME_LOCK as LOCK_FILE,
    VOLUME_METADATA as METADATA_FILE, write_private_atomic,
};
use ebsim_io::{BlockStore, FileStore, MemoryStore, SectorSize, XtsEngine, XtsKey};
use ebsim_kms_client::{ClientError, EncryptionContext};
use parking_lot::Mutex;

use crate::VolumeError;
use crate::attached::{AttachedVolume, LockHolder};
use crate::binding::MetadataKey;
use crate::error::kms_failure_meaning;
use crate::metadata::{VolumeMetadata, VolumeOwner, VolumeState, is_volume_id, now_epoch};

/// The largest `metadata.json` a volume may have (a bound on input from a file).
const MAX_METADATA_BYTES: u64 = 1 << 20;

/// The volumes of a data dir as [`VolumeRoot::list`] finds them.
#[derive(Debug, Default)]
pub struct VolumeListing {
    /// The volumes whose metadata reads and validates, sorted by id.
    pub volumes: Vec<VolumeMetadata>,
    /// The volumes that cannot be read, sorted by id.
    pub broken: Vec<BrokenVolume>,
}

/// A volume directory whose `metadata.json` cannot be read or is corrupt.
#[derive(Debug)]
pub struct BrokenVolume {
    /// The volume id (its directory's name).
    pub volume_id: String,
    /// Why it cannot be read.
    pub error: VolumeError,
}

/// Everything needed to record a new volume (the wrapped key was made by KMS beforehand).
#[derive(Debug, Clone)]
pub struct NewVolume {
    /// `vol-` + 17 hex digits (see [`crate::new_volume_id`]).
    pub volume_id: String,
    /// Size in bytes, a non-zero multiple of the sector size.
    pub size_bytes: u64,
    /// Sector size.
    pub sector_size: SectorSize,
    /// ARN of the key that wrapped the data key.
    pub kms_key_arn: String,
    /// The KMS `CiphertextBlob` of the data key.
    pub wrapped_key: Vec<u8>,
    /// The encryption context the key was wrapped under.
    pub context: EncryptionContext,
    /// The EBS grant made for this volume.
    pub grant_id: Option<String>,
    /// That grant's grantee.
    pub grantee_principal: Option<String>,
    /// Who may retire that grant.
    pub retiring_principal: Option<String>,
    /// The owning WorkSpace user and directory.
    pub owner: Option<VolumeOwner>,
}

pub(crate) struct MemVolume {
    meta: VolumeMetadata,
    store: Arc<MemoryStore>,
    attached: Arc<AtomicBool>,
}

#[derive(Clone)]
pub(crate) enum Inner {
    Dir(DataDir),
    Memory(Arc<Mutex<BTreeMap<String, MemVolume>>>),
}

/// The set of volumes of one data dir (or of one in-memory simulator).
#[derive(Clone)]
pub struct VolumeRoot(pub(crate) Inner);

impl std::fmt::Debug for VolumeRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Dir(d) => f.debug_tuple("VolumeRoot").field(&d.root()).finish(),
            Inner::Memory(_) => f.write_str("VolumeRoot(memory)"),
        }
    }
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), VolumeError> {
    write_private_atomic(path, bytes).map_err(|e| VolumeError::fs("cannot write", path, e))
}

impl VolumeRoot {
    /// Volumes under `data_dir/volumes/`.
    pub fn dir(data_dir: impl Into<PathBuf>) -> Self {
        Self(Inner::Dir(DataDir::new(data_dir)))
    }

    /// Volumes in memory (sparse [`MemoryStore`]s), gone with the last clone of this value.
    pub fn in_memory() -> Self {
        Self(Inner::Memory(Arc::default()))
    }

    /// `DIR/volumes/<id>` for a data-dir root.
    pub fn volume_dir(&self, volume_id: &str) -> Option<PathBuf> {
        match &self.0 {
            Inner::Dir(d) => Some(d.volume(volume_id)),
            Inner::Memory(_) => None,
        }
    }

    pub(crate) fn check_id(volume_id: &str) -> Result<(), VolumeError> {
        if is_volume_id(volume_id) {
            Ok(())
        } else {
            Err(VolumeError::InvalidVolumeId(volume_id.to_owned()))
        }
    }

    /// Records a new volume: metadata.json and a sparse, all-hole data.img.
    ///
    /// # Errors
    /// [`VolumeError::InvalidVolumeId`], [`VolumeError::InvalidSize`],
    /// [`VolumeError::AlreadyExists`], or a file-system error (nothing is left behind).
    pub fn create(&self, new: NewVolume) -> Result<VolumeMetadata, VolumeError> {
        Self::check_id(&new.volume_id)?;
        let ss = u64::from(new.sector_size.get());
        if new.size_bytes == 0 || !new.size_bytes.is_multiple_of(ss) || (ss != 512 && ss != 4096) {
            return Err(VolumeError::InvalidSize {
                size_bytes: new.size_bytes,
                sector_size: ss,
            });
        }
        use base64::Engine as _;
        let meta = VolumeMetadata {
            volume_id: new.volume_id.clone(),
            size_bytes: new.size_bytes,
            sector_size: new.sector_size.get(),
            kms_key_arn: new.kms_key_arn,
            encrypted_data_key: base64::engine::general_purpose::STANDARD.encode(&new.wrapped_key),
            encryption_context: new.context.into_map(),
            state: VolumeState::Available,
            grant_id: new.grant_id,
            grantee_principal: new.grantee_principal,
            retiring_principal: new.retiring_principal,
            owner: new.owner,
            attached_to: None,
            created_time: now_epoch(),
            metadata_mac: None,
        };
        meta.validate(None)
            .map_err(|reason| VolumeError::CorruptMetadata {
                path: PathBuf::from(METADATA_FILE),
                reason,
            })?;
        match &self.0 {
            Inner::Memory(m) => {
                let mut map = m.lock();
                if map.contains_key(&meta.volume_id) {
                    return Err(VolumeError::AlreadyExists(meta.volume_id));
                }
                let store = MemoryStore::new(new.sector_size, new.size_bytes / ss)?;
                map.insert(
                    meta.volume_id.clone(),
                    MemVolume {
                        meta: meta.clone(),
                        store: Arc::new(store),
                        attached: Arc::default(),
                    },
                );
                Ok(meta)
            }
            Inner::Dir(_) => {
                let dir = self.volume_dir(&meta.volume_id).unwrap_or_default();
                if let Some(parent) = dir.parent() {
                    ebsim_data_dir::create_private_dir_all(parent)
                        .map_err(|e| VolumeError::fs("cannot create", parent, e))?;
                }
                let private = {
                    use std::os::unix::fs::DirBuilderExt as _;
                    std::fs::DirBuilder::new().mode(0o700).create(&dir)
                };
                match private {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Err(VolumeError::AlreadyExists(meta.volume_id));
                    }
                    Err(e) => return Err(VolumeError::fs("cannot create", &dir, e)),
                }
                let result = (|| {
                    FileStore::create(dir.join(DATA_FILE), new.sector_size, new.size_bytes)?;
                    {
                        use std::os::unix::fs::OpenOptionsExt as _;
                        ebsim_data_dir::no_follow(
                            std::fs::OpenOptions::new()
                                .create_new(true)
                                .write(true)
                                .mode(0o600),
                        )
                        .open(dir.join(LOCK_FILE))
                    }
                    .map_err(|e| VolumeError::fs("cannot create", dir.join(LOCK_FILE), e))?;
                    let json = serde_json::to_vec_pretty(&meta).unwrap_or_default();
                    write_atomic(&dir.join(METADATA_FILE), &json)
                })();
                if let Err(e) = result {
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(e);
                }
                Ok(meta)
            }
        }
    }

    /// Reads a volume's metadata.
    ///
    /// # Errors
    /// [`VolumeError::InvalidVolumeId`], [`VolumeError::NotFound`],
    /// [`VolumeError::CorruptMetadata`].
    pub fn load(&self, volume_id: &str) -> Result<VolumeMetadata, VolumeError> {
        Self::check_id(volume_id)?;
        match &self.0 {
            Inner::Memory(m) => m
                .lock()
                .get(volume_id)
                .map(|v| v.meta.clone())
                .ok_or_else(|| VolumeError::NotFound(volume_id.to_owned())),
            Inner::Dir(_) => {
                let dir = self.volume_dir(volume_id).unwrap_or_default();
                let path = dir.join(METADATA_FILE);
                let bytes = match real_dir(&dir)
                    .and_then(|()| ebsim_data_dir::read_regular(&path, MAX_METADATA_BYTES))
                {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(VolumeError::NotFound(volume_id.to_owned()));
                    }
                    Err(e) => return Err(VolumeError::fs("cannot read", path, e)),
                };
                VolumeMetadata::parse(&bytes, Some(volume_id), &path)
            }
        }
    }

    /// Every volume, sorted by id, and apart from them the volumes that cannot be read (a
    /// corrupt or unreadable `metadata.json`), each with its error. Directories whose names are
    /// not volume ids are skipped.
    ///
    /// # Errors
    /// A file-system error reading the `volumes` directory itself.
    pub fn list(&self) -> Result<VolumeListing, VolumeError> {
        match &self.0 {
            Inner::Memory(m) => Ok(VolumeListing {
                volumes: m.lock().values().map(|v| v.meta.clone()).collect(),
                broken: Vec::new(),
            }),
            Inner::Dir(d) => {
                let vols = d.volumes();
                let entries = match std::fs::read_dir(&vols) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Ok(VolumeListing::default());
                    }
                    Err(e) => return Err(VolumeError::fs("cannot list", vols, e)),
                };
                let mut ids: Vec<String> = entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| is_volume_id(n))
                    .collect();
                ids.sort();
                let mut listing = VolumeListing::default();
                for id in ids {
                    match self.load(&id) {
                        Ok(meta) => listing.volumes.push(meta),
                        // Removed between the listing and the read.
                        Err(VolumeError::NotFound(_)) => {}
                        Err(error) => listing.broken.push(BrokenVolume {
                            volume_id: id,
                            error,
                        }),
                    }
                }
                Ok(listing)
            }
        }
    }

    /// Replaces a volume's metadata (atomically: temp file, fsync, rename).
    ///
    /// # Errors
    /// [`VolumeError::NotFound`], or a file-system error.
    pub fn update(&self, meta: &VolumeMetadata) -> Result<(), VolumeError> {
        Self::check_id(&meta.volume_id)?;
        match &self.0 {
            Inner::Memory(m) => {
                let mut map = m.lock();
                let v = map
                    .get_mut(&meta.volume_id)
                    .ok_or_else(|| VolumeError::NotFound(meta.volume_id.clone()))?;
                v.meta = meta.clone();
                Ok(())
            }
            Inner::Dir(_) => {
                let dir = self.volume_dir(&meta.volume_id).unwrap_or_default();
                if !dir.join(METADATA_FILE).is_file() {
                    return Err(VolumeError::NotFound(meta.volume_id.clone()));
                }
                let json = serde_json::to_vec_pretty(meta).unwrap_or_default();
                write_atomic(&dir.join(METADATA_FILE), &json)
            }
        }
    }

    /// Whether a process (this one or another) has the volume attached right now.
    ///
    /// # Errors
    /// [`VolumeError::NotFound`], or a file-system error.
    pub fn is_attached(&self, volume_id: &str) -> Result<bool, VolumeError> {
        self.load(volume_id)?;
        match &self.0 {
            Inner::Memory(m) => Ok(m
                .lock()
                .get(volume_id)
                .is_some_and(|v| v.attached.load(Ordering::Acquire))),
            Inner::Dir(_) => {
                let dir = self.volume_dir(volume_id).unwrap_or_default();
                match try_lock_dir(&dir, volume_id) {
                    Ok(_) => Ok(false),
                    Err(VolumeError::InUse(_)) => Ok(true),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Whether a process holds the volume's lock right now, without reading its metadata (so
    /// also for a volume whose metadata is corrupt).
    ///
    /// # Errors
    /// [`VolumeError::InvalidVolumeId`], [`VolumeError::NotFound`], or a file-system error.
    pub fn is_locked(&self, volume_id: &str) -> Result<bool, VolumeError> {
        Self::check_id(volume_id)?;
        match &self.0 {
            Inner::Memory(_) => self.is_attached(volume_id),
            Inner::Dir(_) => {
                let dir = self.volume_dir(volume_id).unwrap_or_default();
                if real_dir(&dir).is_err() {
                    return Err(VolumeError::NotFound(volume_id.to_owned()));
                }
                match try_lock_dir(&dir, volume_id) {
                    Ok(_) => Ok(false),
                    Err(VolumeError::InUse(_)) => Ok(true),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Removes a volume's files. Refused while it is attached somewhere.
    ///
    /// # Errors
    /// [`VolumeError::NotFound`], [`VolumeError::InUse`], or a file-system error.
    pub fn delete(&self, volume_id: &str) -> Result<(), VolumeError> {
        self.load(volume_id)?;
        match &self.0 {
            Inner::Memory(m) => {
                let mut map = m.lock();
                if map
                    .get(volume_id)
                    .is_some_and(|v| v.attached.load(Ordering::Acquire))
                {
                    return Err(VolumeError::InUse(volume_id.to_owned()));
                }
                map.remove(volume_id);
                Ok(())
            }
            Inner::Dir(_) => {
                let dir = self.volume_dir(volume_id).unwrap_or_default();
                let _lock = lock_dir(&dir, volume_id)?;
                // Metadata first: a half-removed directory is then no longer a volume.
                std::fs::remove_file(dir.join(METADATA_FILE))
                    .map_err(|e| VolumeError::fs("cannot remove", dir.join(METADATA_FILE), e))?;
                std::fs::remove_dir_all(&dir).map_err(|e| VolumeError::fs("cannot remove", &dir, e))
            }
        }
    }

    /// Removes a volume's files whatever its `metadata.json` holds (a corrupt one included).
    /// Refused while a process has it attached.
    ///
    /// # Errors
    /// [`VolumeError::InvalidVolumeId`], [`VolumeError::NotFound`] (no such directory),
    /// [`VolumeError::InUse`], or a file-system error.
    pub fn delete_files(&self, volume_id: &str) -> Result<(), VolumeError> {
        Self::check_id(volume_id)?;
        match &self.0 {
            Inner::Memory(_) => self.delete(volume_id),
            Inner::Dir(_) => {
                let dir = self.volume_dir(volume_id).unwrap_or_default();
                match std::fs::symlink_metadata(&dir) {
                    Ok(m) if m.file_type().is_symlink() => {
                        // A link planted in place of a volume: remove the link, never its target.
                        return std::fs::remove_file(&dir)
                            .map_err(|e| VolumeError::fs("cannot remove", &dir, e));
                    }
                    Ok(m) if m.is_dir() => {}
                    _ => return Err(VolumeError::NotFound(volume_id.to_owned())),
                }
                let _lock = lock_dir(&dir, volume_id)?;
                match std::fs::remove_file(dir.join(METADATA_FILE)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(VolumeError::fs("cannot remove", dir.join(METADATA_FILE), e));
                    }
                    _ => {}
                }
                std::fs::remove_dir_all(&dir).map_err(|e| VolumeError::fs("cannot remove", &dir, e))
            }
        }
    }

    /// Attaches a volume: takes its exclusive lock, asks `unwrap` for the plaintext data key
    /// (given the wrapped key and the stored encryption context), builds the XTS engine and
    /// drops the key. On any error the lock is released and nothing changes.
    ///
    /// # Errors
    /// [`VolumeError::InUse`], [`VolumeError::NotFound`], [`VolumeError::CorruptMetadata`],
    /// [`VolumeError::Kms`] (naming the KMS error and what it means), [`VolumeError::BadDataKey`].
    pub fn attach_with<K, F>(
        &self,
        volume_id: &str,
        unwrap: F,
    ) -> Result<AttachedVolume, VolumeError>
    where
        K: AsRef<[u8]>,
        F: FnOnce(&[u8], &EncryptionContext) -> Result<K, ClientError>,
    {
        let (meta, store, holder) = self.open_locked(volume_id)?;
        let blob = meta
            .wrapped_key()
            .map_err(|reason| VolumeError::CorruptMetadata {
                path: PathBuf::from(METADATA_FILE),
                reason,
            })?;
        let ss = meta.sector_size()?;
        let key = unwrap(&blob, &meta.context()).map_err(|source| VolumeError::Kms {
            volume_id: meta.volume_id.clone(),
            operation: "Decrypt",
            meaning: kms_failure_meaning("Decrypt", &source),
            source: Box::new(source),
        })?;
        // The geometry and identity in metadata.json must be the ones bound to this data key;
        // a volume from a build without the MAC gets it now (docs/formats.md).
        let mac_key = MetadataKey::derive(key.as_ref());
        let meta = match &meta.metadata_mac {
            Some(stored) if mac_key.verify(&meta, stored) => meta,
            Some(_) => {
                return Err(VolumeError::MetadataMismatch {
                    volume_id: meta.volume_id.clone(),
                    path: self
                        .volume_dir(volume_id)
                        .map_or_else(|| PathBuf::from(METADATA_FILE), |d| d.join(METADATA_FILE)),
                });
            }
            None => {
                let mut bound = meta;
                bound.metadata_mac = Some(mac_key.sign(&bound));
                self.update(&bound)?;
                bound
            }
        };
        drop(mac_key);
        let xts = XtsKey::from_slice(key.as_ref()).map_err(|source| VolumeError::BadDataKey {
            volume_id: meta.volume_id.clone(),
            source,
        });
        drop(key);
        let xts = xts?;
        let engine = XtsEngine::new(&xts, ss);
        drop(xts);
        Ok(AttachedVolume::new(meta, store, engine, holder))
    }
}

impl VolumeRoot {
    /// Takes the volume's lock (the in-memory flag, or the flock of `DIR/volumes/<id>/lock`)
    /// and opens its store: what attaching and [`VolumeRoot::open_raw`] share.
    pub(crate) fn open_locked(
        &self,
        volume_id: &str,
    ) -> Result<(VolumeMetadata, Arc<dyn BlockStore>, LockHolder), VolumeError> {
        Self::check_id(volume_id)?;
        match &self.0 {
            Inner::Memory(m) => {
                let map = m.lock();
                let v = map
                    .get(volume_id)
                    .ok_or_else(|| VolumeError::NotFound(volume_id.to_owned()))?;
                if v.attached
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    return Err(VolumeError::InUse(volume_id.to_owned()));
                }
                Ok((
                    v.meta.clone(),
                    v.store.clone(),
                    LockHolder::Memory(v.attached.clone()),
                ))
            }
            Inner::Dir(_) => self.open_locked_dir(volume_id),
        }
    }
}

/// `Ok` when `dir` is a directory itself, not a symbolic link to one (kind `NotFound` when it is
/// missing, `InvalidInput` when it is something else).
pub(crate) fn real_dir(dir: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is not a directory (a symbolic link is not followed)",
                dir.display()
            ),
        ))
    }
}

/// How long [`lock_dir`] waits out a lock that a process being spawned holds for a moment.
const SPAWN_WINDOW: std::time::Duration = std::time::Duration::from_millis(250);

/// Takes the volume's lock to use the volume (attach, delete, update, resize).
///
/// A lock just released by this process can still be held for a moment: a child that another
/// thread of this process is spawning has a copy of every descriptor until its `exec` closes
/// them (they are close-on-exec), and a `flock` lasts while any copy of its descriptor is
/// open. A test binary that runs commands in threads while spawning processes meets this;
/// so the lock is retried for up to [`SPAWN_WINDOW`] before the volume is reported in use.
/// Probes ([`VolumeRoot::is_attached`], [`VolumeRoot::is_locked`]) do not wait.
pub(crate) fn lock_dir(dir: &Path, volume_id: &str) -> Result<ExclusiveLock, VolumeError> {
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match try_lock_dir(dir, volume_id) {
            Err(VolumeError::InUse(_)) if start.elapsed() < SPAWN_WINDOW => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(32));
            }
            other => return other,
        }
    }
}

/// Opens `dir/lock` and takes an exclusive, non-blocking lock on it.
pub(crate) fn try_lock_dir(dir: &Path, volume_id: &str) -> Result<ExclusiveLock, VolumeError> {
    let path = dir.join(LOCK_FILE);
    match ExclusiveLock::try_acquire(&path) {
        Ok(lock) => Ok(lock),
        Err(LockError::Held { .. }) => Err(VolumeError::InUse(volume_id.to_owned())),
        Err(LockError::Io { source, .. }) => Err(VolumeError::fs("cannot lock", path, source)),
        Err(e) => Err(VolumeError::fs(
            "cannot lock",
            path,
            std::io::Error::other(e.to_string()),
        )),
    }
}
