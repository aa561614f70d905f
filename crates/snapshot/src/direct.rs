//! Snapshots written and read block by block, as the EBS direct APIs do (docs/ebs-direct.md):
//! [`SnapshotStore::start_direct`] makes a pending snapshot and a [`DirectWriter`] that takes
//! 512 KiB blocks of plaintext, encrypts them under the lineage's data key exactly as a
//! volume's sectors are (XTS-AES-256, tweak = the sector number, all-zero sectors left as
//! zeros; docs/formats.md, "Snapshots") and stores them; [`DirectWriter::complete`] seals it.
//! [`SnapshotStore::read_plain`] reads a block back as plaintext.
//!
//! The snapshot is an ordinary snapshot of the store: DescribeSnapshots lists it and it
//! restores to a volume like any other.

use std::collections::BTreeMap;

use ebsim_io::XtsEngine;

use crate::backend::FileLock;
use crate::blocks::{rekey, sha256};
use crate::create::{check_description, owner_of};
use crate::keys::{Ebs, engine};
use crate::manifest::{FORMAT, Manifest, now_rfc3339};
use crate::store::block_count;
use crate::{
    BLOCK_SIZE, BlockRef, Snapshot, SnapshotError, SnapshotId, SnapshotState, SnapshotStore,
};

/// The volume id AWS reports for a snapshot that no volume was the source of.
pub const DIRECT_VOLUME_ID: &str = "vol-ffffffff";
/// The sector size of a snapshot written through EBS direct (and of volumes restored from it).
const DIRECT_SECTOR: u32 = 512;
/// The largest `VolumeSize` (GiB) of EBS direct.
pub const MAX_DIRECT_VOLUME_GIB: u64 = 65_536;

/// What StartSnapshot asks for. The encryption outcome (docs/ebs-direct.md, "Encryption") is
/// decided by the caller; here `kms_key_id` is the key of a new data key, if any.
#[derive(Debug, Clone)]
pub struct StartDirect {
    /// The size of the volume the snapshot holds, in GiB (1–65,536).
    pub volume_size_gib: u64,
    /// The completed snapshot this one is incremental to: its blocks are inherited and its
    /// data key shared.
    pub parent: Option<SnapshotId>,
    /// A new data key under this KMS key (GenerateDataKeyWithoutPlaintext with context
    /// `aws:ebs:id` = the new snapshot's id). Ignored with a parent (the parent's key is
    /// used); without either the snapshot is unencrypted.
    pub kms_key_id: Option<String>,
    /// The description (at most 255 characters).
    pub description: Option<String>,
    /// The principal calling (the snapshot's owner; KMS calls are made on its behalf).
    pub caller: String,
}

/// A pending snapshot being written block by block. Holding it holds the snapshot's job lock
/// (so the snapshot reads as `pending`, not `error`) and a shared lock on the store (so no
/// sweep removes blocks written but not yet listed). Dropping it without
/// [`DirectWriter::complete`] leaves the snapshot in `error` once the lock is gone.
pub struct DirectWriter {
    store: SnapshotStore,
    m: Manifest,
    /// Blocks written: index → (SHA-256 of the plaintext, the stored block or `None` for
    /// all zeros).
    written: BTreeMap<u64, ([u8; 32], Option<[u8; 32]>)>,
    _job_lock: FileLock,
    _store_lock: FileLock,
}

impl std::fmt::Debug for DirectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectWriter")
            .field("snapshot_id", &self.m.snapshot_id)
            .field("written", &self.written.len())
            .finish_non_exhaustive()
    }
}

impl SnapshotStore {
    /// StartSnapshot: a new pending snapshot of `req.volume_size_gib` GiB.
    ///
    /// # Errors
    /// [`SnapshotError::InvalidParameter`] (size, description, a parent smaller than the
    /// size… ), [`SnapshotError::SnapshotNotFound`] / [`SnapshotError::IncorrectState`] for
    /// the parent, [`SnapshotError::Kms`] when the data key cannot be made or unwrapped;
    /// nothing is written then.
    pub fn start_direct(&self, req: StartDirect) -> Result<DirectWriter, SnapshotError> {
        if !(1..=MAX_DIRECT_VOLUME_GIB).contains(&req.volume_size_gib) {
            return Err(SnapshotError::InvalidParameter(format!(
                "The volume size {} GiB is not within 1-{MAX_DIRECT_VOLUME_GIB}.",
                req.volume_size_gib
            )));
        }
        let description = check_description(req.description.as_deref())?;
        let size_bytes = req.volume_size_gib << 30;
        let id = SnapshotId::new();
        let ebs = Ebs::new(&self.0.client, self.0.region, &req.caller);
        let parent = match &req.parent {
            Some(p) => Some(self.completed(p)?),
            None => None,
        };
        if let Some(p) = &parent
            && (p.size_bytes > size_bytes || p.sector_size != DIRECT_SECTOR)
        {
            return Err(SnapshotError::InvalidParameter(format!(
                "The volume size {} GiB is smaller than the parent snapshot's, or the parent's sector size is not 512.",
                req.volume_size_gib
            )));
        }
        // The data key is unwrapped here (the caller must be able to use it) and again for
        // each block written, never kept between requests.
        let encryption = match (&parent, &req.kms_key_id) {
            (Some(p), _) => match &p.encryption {
                Some(k) => {
                    drop(ebs.unwrap_lineage(k)?);
                    Some(k.clone())
                }
                None => None,
            },
            (None, Some(key_id)) => {
                let ctx = crate::copy::copy_context(&id);
                let (lineage, key) = ebs.new_lineage(key_id, &ctx)?;
                drop(key);
                Some(lineage)
            }
            (None, None) => None,
        };
        let m = Manifest {
            format: FORMAT,
            snapshot_id: id.clone(),
            volume_id: DIRECT_VOLUME_ID.to_owned(),
            region: self.0.region.as_str().to_owned(),
            owner_id: owner_of(&req.caller),
            parent: req.parent.clone(),
            copied_from: None,
            size_bytes,
            sector_size: DIRECT_SECTOR,
            block_size: BLOCK_SIZE,
            encryption,
            description,
            state: SnapshotState::Pending,
            state_message: None,
            start_time: now_rfc3339(),
            completion_time: None,
            progress: 0,
            changed_blocks: 0,
            blocks: parent.map(|p| p.blocks).unwrap_or_default(),
        };
        let job_lock = FileLock::try_exclusive(&self.job_lock(&id))?.ok_or_else(|| {
            SnapshotError::Store(format!("snapshot {id} is already being written"))
        })?;
        let store_lock = FileLock::shared(&self.store_lock())?;
        self.save(&m)?;
        Ok(DirectWriter {
            store: self.clone(),
            m,
            written: BTreeMap::new(),
            _job_lock: job_lock,
            _store_lock: store_lock,
        })
    }

    /// Block `index` of a completed snapshot as plaintext (decrypted under the lineage's data
    /// key, unwrapped by KMS on behalf of `caller`), checked against its stored checksum;
    /// `None` for a block the snapshot does not hold (it reads as zeros).
    ///
    /// # Errors
    /// As [`SnapshotStore::read_block`]; [`SnapshotError::Kms`] when the key cannot be
    /// unwrapped.
    pub fn read_plain(
        &self,
        snapshot_id: &SnapshotId,
        index: u64,
        caller: &str,
    ) -> Result<Option<Vec<u8>>, SnapshotError> {
        let m = self.completed(snapshot_id)?;
        let Some(mut block) = self.read_block(snapshot_id.as_str(), index)? else {
            return Ok(None);
        };
        if let Some(k) = &m.encryption {
            let sector = crate::copy::sector_size(&m)?;
            let key = Ebs::new(&self.0.client, self.0.region, caller).unwrap_lineage(k)?;
            let e = engine(key, sector)?;
            rekey(Some(&e), None, m.sector_size as usize, index, &mut block)?;
        }
        Ok(Some(block))
    }
}

impl DirectWriter {
    /// The snapshot as DescribeSnapshots tells it now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::from_manifest(&self.m)
    }

    /// The snapshot's id.
    pub fn id(&self) -> &SnapshotId {
        &self.m.snapshot_id
    }

    /// How many blocks the volume has (valid indexes are `0..block_count()`).
    pub fn block_count(&self) -> u64 {
        block_count(self.m.size_bytes)
    }

    /// How many distinct blocks were written so far.
    pub fn written(&self) -> u64 {
        self.written.len() as u64
    }

    /// PutSnapshotBlock by `caller`: stores `plaintext` (exactly 512 KiB, already checked
    /// against its SHA-256 `checksum`) as block `index`, replacing a block written before. An
    /// encrypted snapshot's data key is unwrapped by KMS (Decrypt) on behalf of `caller` for
    /// the block.
    ///
    /// # Errors
    /// [`SnapshotError::InvalidParameter`] for an index out of range or a wrong length;
    /// [`SnapshotError::Kms`] when the caller cannot use the key; a storage error. The
    /// snapshot is unchanged then.
    pub fn put(
        &mut self,
        caller: &str,
        index: u64,
        plaintext: &[u8],
        checksum: [u8; 32],
        progress: Option<u8>,
    ) -> Result<(), SnapshotError> {
        if index >= self.block_count() || plaintext.len() as u64 != BLOCK_SIZE {
            return Err(SnapshotError::InvalidParameter(format!(
                "block {index} of {} bytes does not fit a volume of {} blocks of {BLOCK_SIZE} bytes",
                plaintext.len(),
                self.block_count()
            )));
        }
        let engine: Option<XtsEngine> = match &self.m.encryption {
            Some(k) => {
                let ebs = Ebs::new(&self.store.0.client, self.store.0.region, caller);
                Some(engine(ebs.unwrap_lineage(k)?, direct_sector()?)?)
            }
            None => None,
        };
        let stored = if ebsim_io::is_hole(plaintext) {
            None
        } else {
            let mut buf = plaintext.to_vec();
            rekey(
                None,
                engine.as_ref(),
                DIRECT_SECTOR as usize,
                index,
                &mut buf,
            )?;
            let sha = sha256(&buf);
            self.store.0.backend.put_block(&sha, &buf)?;
            Some(sha)
        };
        self.written.insert(index, (checksum, stored));
        if let Some(p) = progress {
            self.m.progress = p.min(99);
        }
        Ok(())
    }

    /// The LINEAR aggregate of the written blocks' checksums: SHA-256 of their raw digests
    /// concatenated in ascending index order (docs/ebs-direct.md, "Checksums").
    pub fn aggregate_checksum(&self) -> [u8; 32] {
        let mut all = Vec::with_capacity(self.written.len() * 32);
        for (sha, _) in self.written.values() {
            all.extend_from_slice(sha);
        }
        sha256(&all)
    }

    /// The same aggregate over the base64 checksums concatenated (the other reading of AWS's
    /// documentation, also accepted).
    pub fn aggregate_checksum_of_base64(&self) -> [u8; 32] {
        use base64::Engine as _;
        let mut all = String::with_capacity(self.written.len() * 44);
        for (sha, _) in self.written.values() {
            all.push_str(&base64::engine::general_purpose::STANDARD.encode(sha));
        }
        sha256(all.as_bytes())
    }

    /// CompleteSnapshot: lists the written blocks over the parent's, syncs the store and
    /// marks the snapshot `completed`. The writer is done with then (drop it).
    ///
    /// # Errors
    /// A storage error; the snapshot is left pending.
    pub fn complete(&mut self) -> Result<Snapshot, SnapshotError> {
        let mut blocks: BTreeMap<u64, [u8; 32]> =
            self.m.blocks.iter().map(|b| (b.index, b.sha256)).collect();
        for (&index, (_, stored)) in &self.written {
            match stored {
                Some(sha) => blocks.insert(index, *sha),
                None => blocks.remove(&index),
            };
        }
        let mut done = self.m.clone();
        done.blocks = blocks
            .into_iter()
            .map(|(index, sha256)| BlockRef { index, sha256 })
            .collect();
        done.changed_blocks = self.written.len() as u64;
        done.state = SnapshotState::Completed;
        done.progress = 100;
        done.completion_time = Some(now_rfc3339());
        self.store.0.backend.sync()?;
        self.store.save(&done)?;
        self.m = done;
        Ok(Snapshot::from_manifest(&self.m))
    }

    /// Ends a pending snapshot in `error` with `message` (a timeout, say).
    ///
    /// # Errors
    /// A storage error writing the manifest.
    pub fn fail(mut self, message: &str) -> Result<(), SnapshotError> {
        self.m.state = SnapshotState::Error;
        self.m.state_message = Some(message.chars().take(512).collect());
        self.m.blocks.clear();
        self.store.save(&self.m)
    }
}

fn direct_sector() -> Result<ebsim_io::SectorSize, SnapshotError> {
    ebsim_io::SectorSize::new(u64::from(DIRECT_SECTOR))
        .map_err(|e| SnapshotError::InvalidParameter(e.to_string()))
}
