//! CreateSnapshot: copy a volume's ciphertext blocks, only those changed since its previous
//! snapshot, with no KMS call.

use std::collections::HashMap;
use std::sync::Arc;

use ebsim_volume::{AttachedVolume, CiphertextAccess, VolumeError, is_volume_id};
use rayon::prelude::*;

use crate::blocks::sha256;
use crate::keys::lineage_key;
use crate::manifest::{FORMAT, MAX_DESCRIPTION, Manifest, now_rfc3339};
use crate::store::{block_count, block_len};
use crate::{
    BLOCK_SIZE, BlockRef, SnapshotError, SnapshotId, SnapshotJob, SnapshotState, SnapshotStore,
};

/// Blocks read and hashed per batch (over rayon), bounding memory to this many 512 KiB
/// buffers.
const BATCH: usize = 64;

/// What CreateSnapshot needs.
#[derive(Debug, Clone)]
pub struct CreateSnapshot {
    /// The volume (`vol-…`).
    pub volume_id: String,
    /// The description (at most 255 characters).
    pub description: Option<String>,
    /// The principal calling EC2 (the account root when `None`): the snapshot's owner.
    pub caller: Option<String>,
    /// The volume as attached in this process, if it is: the copy then reads through it,
    /// under its range locks, while writes go on. Without it the volume must not be attached
    /// anywhere; the copy takes the volume's lock for as long as it runs.
    pub attached: Option<Arc<AttachedVolume>>,
}

impl CreateSnapshot {
    /// A snapshot of `volume_id`, which no process has attached.
    pub fn new(volume_id: impl Into<String>) -> Self {
        Self {
            volume_id: volume_id.into(),
            description: None,
            caller: None,
            attached: None,
        }
    }

    /// A snapshot of a volume attached in this process, copied while it stays in use.
    pub fn of_attached(volume: Arc<AttachedVolume>) -> Self {
        Self {
            volume_id: volume.volume_id().to_owned(),
            description: None,
            caller: None,
            attached: Some(volume),
        }
    }
}

/// The owner account of a caller ARN (the default account when it names none).
pub(crate) fn owner_of(caller: &str) -> String {
    ebsim_kms_api::id::arn_account(caller)
        .unwrap_or(ebsim_kms_api::id::DEFAULT_ACCOUNT)
        .to_owned()
}

pub(crate) fn check_description(d: Option<&str>) -> Result<String, SnapshotError> {
    let d = d.unwrap_or_default();
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(SnapshotError::InvalidParameter(format!(
            "The description is longer than {MAX_DESCRIPTION} characters."
        )));
    }
    Ok(d.to_owned())
}

impl SnapshotStore {
    /// CreateSnapshot: starts copying the volume's blocks and returns at once with the
    /// snapshot `pending`. No KMS call: the snapshot shares the volume's wrapped data key and
    /// encryption context. Only blocks that differ from the volume's latest completed snapshot
    /// in this region (its parent) are stored; blocks of all zeros are not stored at all.
    ///
    /// # Errors
    /// [`SnapshotError::MalformedVolumeId`], [`SnapshotError::VolumeNotFound`],
    /// [`SnapshotError::VolumeAttachedElsewhere`] (attached in another process, or in this
    /// one without [`CreateSnapshot::attached`]), [`SnapshotError::InvalidParameter`] (a
    /// description too long); nothing is written then.
    pub fn create(&self, req: CreateSnapshot) -> Result<SnapshotJob, SnapshotError> {
        let description = check_description(req.description.as_deref())?;
        let caller = req
            .caller
            .clone()
            .unwrap_or_else(|| ebsim_kms_api::id::DEFAULT_ROOT.to_owned());
        let source: Box<dyn CiphertextAccess> = match req.attached {
            Some(v) => {
                if v.volume_id() != req.volume_id {
                    return Err(SnapshotError::InvalidParameter(format!(
                        "the attached volume is {}, not {}",
                        v.volume_id(),
                        req.volume_id.chars().take(64).collect::<String>()
                    )));
                }
                Box::new(ArcSource(v))
            }
            None => {
                if !is_volume_id(&req.volume_id) {
                    return Err(SnapshotError::MalformedVolumeId(
                        req.volume_id.chars().take(64).collect(),
                    ));
                }
                match self.0.volumes.open_raw(&req.volume_id) {
                    Ok(raw) => Box::new(raw),
                    Err(VolumeError::NotFound(id)) => {
                        return Err(SnapshotError::VolumeNotFound(id));
                    }
                    // Attached by another process: copy through it, under its range locks.
                    Err(VolumeError::InUse(id)) => match self.0.volumes.connect_holder(&id) {
                        Ok(held) => Box::new(held),
                        Err(_) => return Err(SnapshotError::VolumeAttachedElsewhere(id)),
                    },
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let meta = source.meta().clone();
        let blob = meta
            .wrapped_key()
            .map_err(SnapshotError::InvalidParameter)?;
        let lineage = lineage_key(&meta.kms_key_arn, &blob, &meta.context());
        let parent = self.latest_of(
            &meta.volume_id,
            &lineage.encrypted_data_key,
            meta.size_bytes,
            meta.sector_size,
        )?;
        let m = Manifest {
            format: FORMAT,
            snapshot_id: SnapshotId::new(),
            volume_id: meta.volume_id.clone(),
            region: self.0.region.as_str().to_owned(),
            owner_id: owner_of(&caller),
            parent: parent.as_ref().map(|p| p.snapshot_id.clone()),
            copied_from: None,
            size_bytes: meta.size_bytes,
            sector_size: meta.sector_size,
            block_size: BLOCK_SIZE,
            encryption: Some(lineage),
            description,
            state: SnapshotState::Pending,
            state_message: None,
            start_time: now_rfc3339(),
            completion_time: None,
            progress: 0,
            changed_blocks: 0,
            blocks: Vec::new(),
        };
        let parent_blocks: HashMap<u64, [u8; 32]> = parent
            .map(|p| p.blocks.iter().map(|b| (b.index, b.sha256)).collect())
            .unwrap_or_default();
        let store = self.clone();
        let cheap = self.0.backend.cheap_reads();
        self.start_job(
            m,
            Box::new(move |m, progress| {
                let indexes = allocated_blocks(source.as_ref(), m.size_bytes)?;
                let total = indexes.len() as u64;
                let mut done = 0u64;
                for batch in indexes.chunks(BATCH) {
                    let results: Vec<Result<Option<(BlockRef, bool)>, SnapshotError>> = batch
                        .par_iter()
                        .map(|&index| {
                            let mut buf = vec![0u8; block_len(m.size_bytes, index)];
                            source.read_stored(index * BLOCK_SIZE, &mut buf)?;
                            if ebsim_io::is_hole(&buf) {
                                return Ok(None);
                            }
                            let parent = parent_blocks.get(&index);
                            // Where the parent's block reads back cheaply, comparing bytes
                            // spares hashing an unchanged block.
                            if let Some(p) = parent
                                && cheap
                            {
                                let mut old = Vec::new();
                                if store.0.backend.get_block(p, &mut old)? && old == buf {
                                    return Ok(Some((BlockRef { index, sha256: *p }, false)));
                                }
                            }
                            let sha = sha256(&buf);
                            let unchanged = parent == Some(&sha);
                            if !unchanged {
                                store.0.backend.put_block(&sha, &buf)?;
                            }
                            Ok(Some((BlockRef { index, sha256: sha }, !unchanged)))
                        })
                        .collect();
                    for r in results {
                        if let Some((b, changed)) = r? {
                            m.blocks.push(b);
                            m.changed_blocks += u64::from(changed);
                        }
                    }
                    done += batch.len() as u64;
                    progress.set(done, total);
                }
                Ok(())
            }),
        )
    }

    /// The latest completed snapshot of `volume_id` in this region under the same wrapped key
    /// and geometry: the parent a new snapshot is incremental to.
    fn latest_of(
        &self,
        volume_id: &str,
        wrapped: &str,
        size_bytes: u64,
        sector_size: u32,
    ) -> Result<Option<Manifest>, SnapshotError> {
        let mut best: Option<Manifest> = None;
        for id in self.0.backend.list_manifests()? {
            let Ok(Some(m)) = self.load(&id) else {
                continue;
            };
            let fits = m.volume_id == volume_id
                && m.copied_from.is_none()
                && m.region == self.0.region.as_str()
                && m.state == SnapshotState::Completed
                && m.size_bytes == size_bytes
                && m.sector_size == sector_size
                && m.encryption
                    .as_ref()
                    .is_some_and(|k| k.encrypted_data_key == wrapped);
            if fits
                && best.as_ref().is_none_or(|b| {
                    (&m.start_time, &m.snapshot_id) > (&b.start_time, &b.snapshot_id)
                })
            {
                best = Some(m);
            }
        }
        Ok(best)
    }
}

/// An attached volume shared with the copy's thread.
struct ArcSource(Arc<AttachedVolume>);

impl CiphertextAccess for ArcSource {
    fn meta(&self) -> &ebsim_volume::VolumeMetadata {
        self.0.metadata()
    }
    fn allocated(&self, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, VolumeError> {
        self.0.allocated(offset, len)
    }
    fn read_stored(&self, offset: u64, buf: &mut [u8]) -> Result<(), VolumeError> {
        self.0.read_stored(offset, buf)
    }
}

/// The indexes of the blocks that hold any allocated sector, ascending.
fn allocated_blocks(source: &dyn CiphertextAccess, size: u64) -> Result<Vec<u64>, SnapshotError> {
    let mut out: Vec<u64> = Vec::new();
    for (offset, len) in source.allocated(0, size)? {
        let first = offset / BLOCK_SIZE;
        let last = (offset + len - 1) / BLOCK_SIZE;
        let from = match out.last() {
            Some(&l) if l >= first => l + 1,
            _ => first,
        };
        out.extend(from..=last);
    }
    debug_assert!(out.last().is_none_or(|&l| l < block_count(size)));
    Ok(out)
}
