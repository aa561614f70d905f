//! The snapshot store of a data dir: opening it, describing, listing and deleting snapshots,
//! and the sweep that removes blocks no snapshot lists.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use ebsim_kms_api::Region;
use ebsim_kms_client::KmsClient;
use ebsim_volume::VolumeRoot;
use serde::Serialize;

use crate::backend::{Backend, FileLock, LocalBackend};
use crate::manifest::{CopiedFrom, Manifest};
use crate::{BLOCK_SIZE, BlockRef, SnapshotError, SnapshotId, SnapshotState};

/// Where a store keeps its blocks and manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `DIR/snapshots/` of the data dir (the default).
    DataDir,
    /// An S3-compatible object store: `s3://bucket/prefix` (endpoint and credentials from
    /// `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`).
    /// Needs the feature `s3-snapshots`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix (may be empty; no leading or trailing `/`).
        prefix: String,
    },
}

impl StoreLocation {
    /// Parses `--snapshot-store`: `s3://bucket[/prefix]`, or `dir` / empty for the data dir.
    ///
    /// # Errors
    /// [`SnapshotError::Store`] for anything else.
    pub fn parse(s: &str) -> Result<Self, SnapshotError> {
        if s.is_empty() || s == "dir" {
            return Ok(Self::DataDir);
        }
        let Some(rest) = s.strip_prefix("s3://") else {
            return Err(SnapshotError::Store(format!(
                "'{}' is not s3://bucket/prefix",
                s.chars().take(256).collect::<String>()
            )));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        let prefix = prefix.trim_matches('/');
        if !bucket_ok || prefix.len() > 512 || prefix.contains("//") {
            return Err(SnapshotError::Store(format!(
                "'{}' is not s3://bucket/prefix (bucket: 3-63 of a-z 0-9 . -)",
                s.chars().take(256).collect::<String>()
            )));
        }
        Ok(Self::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

/// A snapshot as DescribeSnapshots tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// The id.
    pub snapshot_id: SnapshotId,
    /// The volume it was taken of (for a copy, the source's volume).
    pub volume_id: String,
    /// Its region.
    pub region: String,
    /// The owning account.
    pub owner_id: String,
    /// `pending`, `completed` or `error`.
    pub state: SnapshotState,
    /// Why it is in `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_message: Option<String>,
    /// 0–100 (percent of blocks copied).
    pub progress: u8,
    /// RFC 3339, UTC.
    pub start_time: String,
    /// When it completed (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<String>,
    /// The volume's size in bytes.
    pub size_bytes: u64,
    /// EC2's `VolumeSize`: the size in GiB, rounded up.
    pub volume_size_gib: u64,
    /// The volume's sector size.
    pub sector_size: u32,
    /// Whether its blocks are encrypted.
    pub encrypted: bool,
    /// The ARN of the key of its lineage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// EC2's `DataEncryptionKeyId`, shared by the lineage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_encryption_key_id: Option<String>,
    /// The description.
    pub description: String,
    /// The snapshot this one is incremental to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<SnapshotId>,
    /// Where a copy came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copied_from: Option<CopiedFrom>,
    /// Non-empty 512 KiB blocks the snapshot holds.
    pub block_count: u64,
    /// Blocks it stored that its parent did not have (changed since the parent).
    pub changed_blocks: u64,
}

impl Snapshot {
    pub(crate) fn from_manifest(m: &Manifest) -> Self {
        Self {
            snapshot_id: m.snapshot_id.clone(),
            volume_id: m.volume_id.clone(),
            region: m.region.clone(),
            owner_id: m.owner_id.clone(),
            state: m.state,
            state_message: m.state_message.clone(),
            progress: m.progress,
            start_time: m.start_time.clone(),
            completion_time: m.completion_time.clone(),
            size_bytes: m.size_bytes,
            volume_size_gib: m.size_bytes.div_ceil(1 << 30),
            sector_size: m.sector_size,
            encrypted: m.encryption.is_some(),
            kms_key_id: m.encryption.as_ref().map(|k| k.kms_key_arn.clone()),
            data_encryption_key_id: m
                .encryption
                .as_ref()
                .map(|k| k.data_encryption_key_id.clone()),
            description: m.description.clone(),
            parent: m.parent.clone(),
            copied_from: m.copied_from.clone(),
            block_count: m.blocks.len() as u64,
            changed_blocks: m.changed_blocks,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) backend: Box<dyn Backend>,
    /// `DIR/snapshots`: the locks live here whatever the backend.
    pub(crate) root: PathBuf,
    pub(crate) volumes: VolumeRoot,
    pub(crate) client: KmsClient,
    pub(crate) region: Region,
}

/// The snapshots of one data dir, seen from one region (EC2's scope). Cheap to clone; every
/// clone shares one store. Several processes may use one store at once: manifests are
/// replaced atomically and blocks are named by their checksum.
#[derive(Clone)]
pub struct SnapshotStore(pub(crate) Arc<Inner>);

impl std::fmt::Debug for SnapshotStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotStore")
            .field("root", &self.0.root)
            .field("backend", &self.0.backend)
            .field("region", &self.0.region.as_str())
            .finish()
    }
}

impl SnapshotStore {
    /// The store of the data dir `data_dir` (blocks and manifests under `DIR/snapshots/`,
    /// volumes under `DIR/volumes/`), calling KMS through `client`, in `region`.
    ///
    /// # Errors
    /// A file-system error creating `DIR/snapshots/`.
    pub fn open(
        data_dir: impl Into<PathBuf>,
        client: KmsClient,
        region: Region,
    ) -> Result<Self, SnapshotError> {
        Self::open_at(data_dir, client, region, &StoreLocation::DataDir)
    }

    /// As [`SnapshotStore::open`], keeping blocks and manifests at `location`.
    ///
    /// # Errors
    /// As [`SnapshotStore::open`]; [`SnapshotError::Store`] for an S3 location without the
    /// feature `s3-snapshots`, or one that cannot be reached.
    pub fn open_at(
        data_dir: impl Into<PathBuf>,
        client: KmsClient,
        region: Region,
        location: &StoreLocation,
    ) -> Result<Self, SnapshotError> {
        let data_dir: PathBuf = data_dir.into();
        let root = data_dir.join("snapshots");
        let local = LocalBackend::open(&root)?;
        ebsim_data_dir::create_private_dir_all(&root.join("jobs"))
            .map_err(|e| SnapshotError::io("cannot create", root.join("jobs"), e))?;
        let backend: Box<dyn Backend> = match location {
            StoreLocation::DataDir => Box::new(local),
            #[cfg(feature = "s3-snapshots")]
            StoreLocation::S3 { bucket, prefix } => {
                Box::new(crate::s3::S3Backend::open(bucket, prefix)?)
            }
            #[cfg(not(feature = "s3-snapshots"))]
            StoreLocation::S3 { .. } => {
                return Err(SnapshotError::Store(
                    "this build has no S3 support (cargo feature s3-snapshots)".to_owned(),
                ));
            }
        };
        Ok(Self(Arc::new(Inner {
            backend,
            root,
            volumes: VolumeRoot::dir(data_dir),
            client,
            region,
        })))
    }

    /// The region this store acts in.
    pub fn region(&self) -> Region {
        self.0.region
    }

    /// The volumes of the data dir (where restores go).
    pub fn volumes(&self) -> &VolumeRoot {
        &self.0.volumes
    }

    pub(crate) fn store_lock(&self) -> PathBuf {
        self.0.root.join("lock")
    }

    pub(crate) fn job_lock(&self, id: &SnapshotId) -> PathBuf {
        self.0.root.join("jobs").join(format!("{id}.lock"))
    }

    /// A manifest as stored; a `pending` one whose writer is gone reads as `error`.
    pub(crate) fn load(&self, id: &SnapshotId) -> Result<Option<Manifest>, SnapshotError> {
        let Some((bytes, path)) = self.0.backend.get_manifest(id)? else {
            return Ok(None);
        };
        let mut m = Manifest::parse(&bytes, Some(id), &path)?;
        if m.state == SnapshotState::Pending && self.writer_gone(id)? {
            m.state = SnapshotState::Error;
            m.state_message = Some("the process copying the snapshot stopped".to_owned());
        }
        Ok(Some(m))
    }

    fn writer_gone(&self, id: &SnapshotId) -> Result<bool, SnapshotError> {
        Ok(FileLock::try_exclusive(&self.job_lock(id))?.is_some())
    }

    /// A manifest of this region, or [`SnapshotError::SnapshotNotFound`].
    pub(crate) fn load_here(
        &self,
        id: &SnapshotId,
        region: Region,
    ) -> Result<Manifest, SnapshotError> {
        match self.load(id)? {
            Some(m) if m.region == region.as_str() => Ok(m),
            _ => Err(SnapshotError::SnapshotNotFound(id.clone())),
        }
    }

    pub(crate) fn save(&self, m: &Manifest) -> Result<(), SnapshotError> {
        self.0.backend.put_manifest(&m.snapshot_id, &m.to_bytes())
    }

    /// DescribeSnapshots of one snapshot (`snap-…`, in this store's region).
    ///
    /// # Errors
    /// [`SnapshotError::MalformedSnapshotId`], [`SnapshotError::SnapshotNotFound`],
    /// [`SnapshotError::CorruptManifest`].
    pub fn describe(&self, snapshot_id: &str) -> Result<Snapshot, SnapshotError> {
        let id = SnapshotId::parse(snapshot_id)?;
        Ok(Snapshot::from_manifest(
            &self.load_here(&id, self.0.region)?,
        ))
    }

    /// Every snapshot of this store's region, by start time then id. Manifests that do not
    /// read are skipped with a warning.
    ///
    /// # Errors
    /// A storage error listing the manifests.
    pub fn list(&self) -> Result<Vec<Snapshot>, SnapshotError> {
        let mut out = Vec::new();
        for id in self.0.backend.list_manifests()? {
            match self.load(&id) {
                Ok(Some(m)) if m.region == self.0.region.as_str() => {
                    out.push(Snapshot::from_manifest(&m));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("skipping snapshot {id}: {e}"),
            }
        }
        out.sort_by(|a, b| (&a.start_time, &a.snapshot_id).cmp(&(&b.start_time, &b.snapshot_id)));
        Ok(out)
    }

    /// The blocks of a completed snapshot, ascending by index (what EBS direct's
    /// ListSnapshotBlocks lists).
    ///
    /// # Errors
    /// As [`SnapshotStore::describe`]; [`SnapshotError::IncorrectState`] unless completed.
    pub fn blocks(&self, snapshot_id: &str) -> Result<Vec<BlockRef>, SnapshotError> {
        let id = SnapshotId::parse(snapshot_id)?;
        let m = self.completed(&id)?;
        Ok(m.blocks)
    }

    /// The stored bytes of block `index` of a completed snapshot (ciphertext under the
    /// lineage's key for an encrypted one), checked against its checksum; `None` for a block
    /// the snapshot does not hold (it reads as zeros).
    ///
    /// # Errors
    /// As [`SnapshotStore::blocks`]; [`SnapshotError::CorruptBlock`].
    pub fn read_block(
        &self,
        snapshot_id: &str,
        index: u64,
    ) -> Result<Option<Vec<u8>>, SnapshotError> {
        let id = SnapshotId::parse(snapshot_id)?;
        let m = self.completed(&id)?;
        let Ok(at) = m.blocks.binary_search_by_key(&index, |b| b.index) else {
            return Ok(None);
        };
        let _shared = FileLock::shared(&self.store_lock())?;
        let mut buf = Vec::new();
        crate::blocks::fetch(self, &m, &m.blocks[at], &mut buf)?;
        Ok(Some(buf))
    }

    pub(crate) fn completed(&self, id: &SnapshotId) -> Result<Manifest, SnapshotError> {
        let m = self.load_here(id, self.0.region)?;
        if m.state != SnapshotState::Completed {
            return Err(SnapshotError::IncorrectState {
                snapshot_id: id.clone(),
                state: m.state,
            });
        }
        Ok(m)
    }

    /// DeleteSnapshot: removes the snapshot; blocks that another snapshot lists stay (later
    /// snapshots of a chain keep working). Refused while it is being written.
    ///
    /// # Errors
    /// [`SnapshotError::MalformedSnapshotId`], [`SnapshotError::SnapshotNotFound`],
    /// [`SnapshotError::IncorrectState`] (a copy in progress), or a storage error.
    pub fn delete(&self, snapshot_id: &str) -> Result<(), SnapshotError> {
        let id = SnapshotId::parse(snapshot_id)?;
        let m = self.load_here(&id, self.0.region)?;
        // Held while deleting: a writer cannot start meanwhile, and a running one refuses.
        let Some(_job) = FileLock::try_exclusive(&self.job_lock(&id))? else {
            return Err(SnapshotError::IncorrectState {
                snapshot_id: id,
                state: m.state,
            });
        };
        self.0.backend.delete_manifest(&id)?;
        let _ = std::fs::remove_file(self.job_lock(&id));
        self.sweep()?;
        Ok(())
    }

    /// Removes every block no manifest lists, unless a snapshot is being written, copied or
    /// restored right now (then the next sweep does it). Returns how many it removed.
    ///
    /// # Errors
    /// A storage error; a manifest that does not read stops the sweep (nothing is removed).
    pub fn sweep(&self) -> Result<u64, SnapshotError> {
        let Some(_exclusive) = FileLock::try_exclusive(&self.store_lock())? else {
            return Ok(0);
        };
        let mut keep: HashSet<[u8; 32]> = HashSet::new();
        for id in self.0.backend.list_manifests()? {
            if let Some((bytes, path)) = self.0.backend.get_manifest(&id)? {
                let m = Manifest::parse(&bytes, Some(&id), &path)?;
                keep.extend(m.blocks.iter().map(|b| b.sha256));
            }
        }
        let mut removed = 0;
        for sha in self.0.backend.list_blocks()? {
            if !keep.contains(&sha) {
                self.0.backend.delete_block(&sha)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The number of blocks of a volume of `size_bytes`.
pub(crate) fn block_count(size_bytes: u64) -> u64 {
    size_bytes.div_ceil(BLOCK_SIZE)
}

/// The length of block `index` of a volume of `size_bytes` (the last may be shorter).
pub(crate) fn block_len(size_bytes: u64, index: u64) -> usize {
    (size_bytes - index * BLOCK_SIZE).min(BLOCK_SIZE) as usize
}
