//! Where blocks and manifests are kept: the data dir (`DIR/snapshots/`), or, behind the
//! feature `s3-snapshots`, an S3-compatible object store. Locks are always files in the data
//! dir (docs/formats.md, "Snapshots").

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use crate::manifest::{MAX_MANIFEST_BYTES, parse_sha256};
use crate::{BLOCK_SIZE, SnapshotError, SnapshotId};

/// What a block and manifest store does; one implementation per kind of storage.
pub(crate) trait Backend: Send + Sync + std::fmt::Debug {
    /// Stores a block under its checksum, unless one is there already; whether it wrote.
    fn put_block(&self, sha: &[u8; 32], bytes: &[u8]) -> Result<bool, SnapshotError>;
    /// Reads a block into `out` (replacing its contents); `false` when there is none.
    fn get_block(&self, sha: &[u8; 32], out: &mut Vec<u8>) -> Result<bool, SnapshotError>;
    /// Removes a block (missing is fine).
    fn delete_block(&self, sha: &[u8; 32]) -> Result<(), SnapshotError>;
    /// Every stored block's checksum.
    fn list_blocks(&self) -> Result<Vec<[u8; 32]>, SnapshotError>;
    /// Makes every stored block durable.
    fn sync(&self) -> Result<(), SnapshotError>;
    /// Whether reading a block back costs less than hashing it (a local file in the page
    /// cache, not an object across the network).
    fn cheap_reads(&self) -> bool {
        false
    }
    /// Replaces a manifest atomically.
    fn put_manifest(&self, id: &SnapshotId, bytes: &[u8]) -> Result<(), SnapshotError>;
    /// A manifest's bytes, and where they were read (for errors); `None` when there is none.
    fn get_manifest(&self, id: &SnapshotId) -> Result<Option<(Vec<u8>, PathBuf)>, SnapshotError>;
    /// Removes a manifest (missing is fine).
    fn delete_manifest(&self, id: &SnapshotId) -> Result<(), SnapshotError>;
    /// The ids of every manifest.
    fn list_manifests(&self) -> Result<Vec<SnapshotId>, SnapshotError>;
}

/// `DIR/snapshots/{manifests,blocks}`.
#[derive(Debug)]
pub(crate) struct LocalBackend {
    root: PathBuf,
}

fn mkdir(path: &Path) -> Result<(), SnapshotError> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let m = std::fs::symlink_metadata(path)
                .map_err(|e| SnapshotError::io("cannot inspect", path, e))?;
            if m.is_dir() {
                Ok(())
            } else {
                Err(SnapshotError::io(
                    "not a directory (a symbolic link is not followed)",
                    path,
                    std::io::Error::from(std::io::ErrorKind::InvalidInput),
                ))
            }
        }
        Err(e) => Err(SnapshotError::io("cannot create", path, e)),
    }
}

/// Writes `bytes` to a new temporary file beside `path` (0600, `O_EXCL`) and renames it into
/// place; with `sync`, the data is synced before the rename.
pub(crate) fn write_new(path: &Path, bytes: &[u8], sync: bool) -> Result<(), SnapshotError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".tmp~{}~{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut f =
            ebsim_data_dir::no_follow(OpenOptions::new().write(true).create_new(true).mode(0o600))
                .open(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_data()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(SnapshotError::io("cannot write", path, e));
    }
    Ok(())
}

impl LocalBackend {
    /// The store under `root` (`DIR/snapshots`), its directories made 0700.
    pub(crate) fn open(root: &Path) -> Result<Self, SnapshotError> {
        if let Some(parent) = root.parent() {
            ebsim_data_dir::create_private_dir_all(parent)
                .map_err(|e| SnapshotError::io("cannot create", parent, e))?;
        }
        mkdir(root)?;
        mkdir(&root.join("manifests"))?;
        mkdir(&root.join("blocks"))?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    fn block_path(&self, sha: &[u8; 32]) -> PathBuf {
        let h = hex::encode(sha);
        self.root.join("blocks").join(&h[..2]).join(h)
    }

    fn manifest_path(&self, id: &SnapshotId) -> PathBuf {
        self.root.join("manifests").join(format!("{id}.json"))
    }
}

impl Backend for LocalBackend {
    fn put_block(&self, sha: &[u8; 32], bytes: &[u8]) -> Result<bool, SnapshotError> {
        let path = self.block_path(sha);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            return Ok(false);
        }
        if let Some(dir) = path.parent() {
            mkdir(dir)?;
        }
        // Synced all at once before the manifest that lists it is completed (`sync`).
        write_new(&path, bytes, false)?;
        Ok(true)
    }

    fn get_block(&self, sha: &[u8; 32], out: &mut Vec<u8>) -> Result<bool, SnapshotError> {
        let path = self.block_path(sha);
        let mut f: File = match ebsim_data_dir::open_regular(&path, OpenOptions::new().read(true)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(SnapshotError::io("cannot open", path, e)),
        };
        let len = f
            .metadata()
            .map_err(|e| SnapshotError::io("cannot inspect", &path, e))?
            .len();
        if len > BLOCK_SIZE {
            return Err(SnapshotError::io(
                "a block over 512 KiB",
                path,
                std::io::Error::from(std::io::ErrorKind::InvalidData),
            ));
        }
        out.clear();
        out.resize(len as usize, 0);
        f.read_exact(out)
            .map_err(|e| SnapshotError::io("cannot read", &path, e))?;
        Ok(true)
    }

    fn delete_block(&self, sha: &[u8; 32]) -> Result<(), SnapshotError> {
        let path = self.block_path(sha);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(SnapshotError::io("cannot remove", path, e))
            }
            _ => Ok(()),
        }
    }

    fn list_blocks(&self) -> Result<Vec<[u8; 32]>, SnapshotError> {
        let blocks = self.root.join("blocks");
        let mut out = Vec::new();
        let top =
            std::fs::read_dir(&blocks).map_err(|e| SnapshotError::io("cannot list", &blocks, e))?;
        for sub in top.filter_map(Result::ok) {
            let Ok(entries) = std::fs::read_dir(sub.path()) else {
                continue;
            };
            for e in entries.filter_map(Result::ok) {
                if let Some(sha) = e.file_name().to_str().and_then(|n| parse_sha256(n).ok()) {
                    out.push(sha);
                }
            }
        }
        Ok(out)
    }

    fn cheap_reads(&self) -> bool {
        true
    }

    fn sync(&self) -> Result<(), SnapshotError> {
        let dir =
            File::open(&self.root).map_err(|e| SnapshotError::io("cannot open", &self.root, e))?;
        rustix::fs::syncfs(&dir).map_err(|e| SnapshotError::io("cannot sync", &self.root, e.into()))
    }

    fn put_manifest(&self, id: &SnapshotId, bytes: &[u8]) -> Result<(), SnapshotError> {
        write_new(&self.manifest_path(id), bytes, true)
    }

    fn get_manifest(&self, id: &SnapshotId) -> Result<Option<(Vec<u8>, PathBuf)>, SnapshotError> {
        let path = self.manifest_path(id);
        match ebsim_data_dir::read_regular(&path, MAX_MANIFEST_BYTES) {
            Ok(b) => Ok(Some((b, path))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SnapshotError::io("cannot read", path, e)),
        }
    }

    fn delete_manifest(&self, id: &SnapshotId) -> Result<(), SnapshotError> {
        let path = self.manifest_path(id);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(SnapshotError::io("cannot remove", path, e))
            }
            _ => Ok(()),
        }
    }

    fn list_manifests(&self) -> Result<Vec<SnapshotId>, SnapshotError> {
        let dir = self.root.join("manifests");
        let entries =
            std::fs::read_dir(&dir).map_err(|e| SnapshotError::io("cannot list", &dir, e))?;
        let mut ids: Vec<SnapshotId> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let n = e.file_name().into_string().ok()?;
                SnapshotId::parse(n.strip_suffix(".json")?).ok()
            })
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// An flock on a file of the data dir: shared or exclusive, released on drop.
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    fn open(path: &Path) -> Result<File, SnapshotError> {
        ebsim_data_dir::open_regular(
            path,
            ebsim_data_dir::no_follow(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .mode(0o600),
            ),
        )
        .map_err(|e| SnapshotError::io("cannot open", path, e))
    }

    /// Waits for a shared lock.
    pub(crate) fn shared(path: &Path) -> Result<Self, SnapshotError> {
        let f = Self::open(path)?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockShared)
            .map_err(|e| SnapshotError::io("cannot lock", path, e.into()))?;
        Ok(Self { _file: f })
    }

    /// An exclusive lock if nobody holds any; `None` otherwise.
    pub(crate) fn try_exclusive(path: &Path) -> Result<Option<Self>, SnapshotError> {
        let f = Self::open(path)?;
        match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(Self { _file: f })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(SnapshotError::io("cannot lock", path, e.into())),
        }
    }
}
