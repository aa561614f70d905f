//! CopySnapshot: under the same key the copy shares the source's blocks; under another key,
//! into another region, or from an unencrypted snapshot with `Encrypted`, it gets a new data
//! key (context `aws:ebs:id` = the copy's id) and every block is re-encrypted.

use std::collections::BTreeMap;

use ebsim_kms_api::Region;
use ebsim_kms_client::{EBS_CONTEXT_KEY, EncryptionContext};
use rayon::prelude::*;

use crate::blocks::{fetch_bulk, rekey, sha256};
use crate::create::{check_description, owner_of};
use crate::keys::{DEFAULT_EBS_KEY, Ebs, engine};
use crate::manifest::{CopiedFrom, Manifest, now_rfc3339};
use crate::{BlockRef, SnapshotError, SnapshotId, SnapshotJob, SnapshotState, SnapshotStore};

const BATCH: usize = 64;

/// What CopySnapshot needs. The copy lands in the store's region.
#[derive(Debug, Clone, Default)]
pub struct CopySnapshot {
    /// The snapshot to copy (`snap-…`).
    pub source_snapshot_id: String,
    /// Its region (EC2's required `SourceRegion`).
    pub source_region: String,
    /// `Some(true)` encrypts a copy of an unencrypted snapshot; `Some(false)` is refused for
    /// an encrypted one (encryption cannot be removed) and with a key.
    pub encrypted: Option<bool>,
    /// The key of the copy (id, ARN, alias or alias ARN); the source's key when `None` for an
    /// encrypted source, `alias/aws/ebs` when encrypting an unencrypted one.
    pub kms_key_id: Option<String>,
    /// The description (default `[Copied snap-… from REGION]`).
    pub description: Option<String>,
    /// The principal calling EC2 (the account root when `None`).
    pub caller: Option<String>,
}

impl CopySnapshot {
    /// A copy of `source_snapshot_id` from `source_region`, under the source's key.
    pub fn new(source_snapshot_id: impl Into<String>, source_region: impl Into<String>) -> Self {
        Self {
            source_snapshot_id: source_snapshot_id.into(),
            source_region: source_region.into(),
            ..Default::default()
        }
    }
}

impl SnapshotStore {
    /// CopySnapshot: checks the request, makes the KMS calls a re-keying copy needs
    /// (DescribeKey of a named key; Decrypt of the source's data key, GenerateDataKeyWithoutPlaintext
    /// under the copy's key with context `aws:ebs:id` = the copy's id, and Decrypt of the new
    /// key), then copies in the background. A copy under the source's own key in the same
    /// region makes no KMS call and shares the blocks.
    ///
    /// # Errors
    /// [`SnapshotError::MalformedSnapshotId`], [`SnapshotError::UnknownRegion`],
    /// [`SnapshotError::SnapshotNotFound`], [`SnapshotError::IncorrectState`],
    /// [`SnapshotError::KmsKeyWithoutEncryption`], [`SnapshotError::EncryptionCannotBeRemoved`],
    /// [`SnapshotError::Kms`]; nothing is written then.
    pub fn copy(&self, req: CopySnapshot) -> Result<SnapshotJob, SnapshotError> {
        let id = SnapshotId::parse(&req.source_snapshot_id)?;
        let src_region = Region::parse(&req.source_region).ok_or_else(|| {
            SnapshotError::UnknownRegion(req.source_region.chars().take(64).collect())
        })?;
        if req.encrypted == Some(false) && req.kms_key_id.is_some() {
            return Err(SnapshotError::KmsKeyWithoutEncryption);
        }
        let description = match &req.description {
            Some(d) => check_description(Some(d))?,
            None => format!("[Copied {id} from {}]", src_region.as_str()),
        };
        let src = self.load_here(&id, src_region)?;
        if src.state != SnapshotState::Completed {
            return Err(SnapshotError::IncorrectState {
                snapshot_id: id,
                state: src.state,
            });
        }
        if src.encryption.is_some() && req.encrypted == Some(false) {
            return Err(SnapshotError::EncryptionCannotBeRemoved(id));
        }
        if src.encryption.is_none() && req.kms_key_id.is_some() && req.encrypted != Some(true) {
            return Err(SnapshotError::KmsKeyWithoutEncryption);
        }
        let caller = req
            .caller
            .clone()
            .unwrap_or_else(|| ebsim_kms_api::id::DEFAULT_ROOT.to_owned());
        let here = Ebs::new(&self.0.client, self.0.region, &caller);
        let new_id = SnapshotId::new();
        let same_region = src_region == self.0.region;
        // What the copy's blocks are: the source's as they are, or re-encrypted.
        let (encryption, from, to) = match (&src.encryption, req.encrypted) {
            (Some(k), _) => {
                let target = match &req.kms_key_id {
                    Some(named) => Some(here.key_arn(named)?),
                    None => None,
                };
                let same_key = target.as_ref().is_none_or(|t| *t == k.kms_key_arn);
                if same_key && same_region {
                    (Some(k.clone()), None, None)
                } else {
                    let key_id = target.unwrap_or_else(|| {
                        // Another region: its own key of the same name.
                        DEFAULT_EBS_KEY.to_owned()
                    });
                    let source_key =
                        Ebs::new(&self.0.client, src_region, &caller).unwrap_lineage(k)?;
                    let from = engine(source_key, sector_size(&src)?)?;
                    let (lineage, new_key) = here.new_lineage(&key_id, &copy_context(&new_id))?;
                    let to = engine(new_key, sector_size(&src)?)?;
                    (Some(lineage), Some(from), Some(to))
                }
            }
            (None, Some(true)) => {
                let key_id = req
                    .kms_key_id
                    .clone()
                    .unwrap_or_else(|| DEFAULT_EBS_KEY.to_owned());
                let (lineage, new_key) = here.new_lineage(&key_id, &copy_context(&new_id))?;
                (
                    Some(lineage),
                    None,
                    Some(engine(new_key, sector_size(&src)?)?),
                )
            }
            (None, _) => (None, None, None),
        };
        let rekeyed = to.is_some();
        let m = Manifest {
            snapshot_id: new_id,
            region: self.0.region.as_str().to_owned(),
            owner_id: owner_of(&caller),
            parent: None,
            copied_from: Some(CopiedFrom {
                snapshot_id: src.snapshot_id.clone(),
                region: src.region.clone(),
            }),
            encryption,
            description,
            state: SnapshotState::Pending,
            state_message: None,
            start_time: now_rfc3339(),
            completion_time: None,
            progress: 0,
            changed_blocks: 0,
            blocks: Vec::new(),
            ..src.clone()
        };
        let store = self.clone();
        self.start_job(
            m,
            Box::new(move |m, progress| {
                if !rekeyed {
                    // Same key, same region: the blocks are shared.
                    m.blocks = src.blocks.clone();
                    return Ok(());
                }
                let ss = src.sector_size as usize;
                let total = src.blocks.len() as u64;
                let mut done = 0;
                for batch in src.blocks.chunks(BATCH) {
                    let results: Vec<Result<Option<BlockRef>, SnapshotError>> = batch
                        .par_iter()
                        .map(|b| {
                            let mut buf = Vec::new();
                            fetch_bulk(&store, &src, b, &mut buf)?;
                            rekey(from.as_ref(), to.as_ref(), ss, b.index, &mut buf)?;
                            if ebsim_io::is_hole(&buf) {
                                return Ok(None);
                            }
                            let sha = sha256(&buf);
                            store.0.backend.put_block(&sha, &buf)?;
                            Ok(Some(BlockRef {
                                index: b.index,
                                sha256: sha,
                            }))
                        })
                        .collect();
                    for r in results {
                        if let Some(b) = r? {
                            m.blocks.push(b);
                            m.changed_blocks += 1;
                        }
                    }
                    done += batch.len() as u64;
                    progress.set(done, total);
                }
                Ok(())
            }),
        )
    }
}

/// The context of a copy's own data key: `{"aws:ebs:id": "<the copy's id>"}`.
pub(crate) fn copy_context(id: &SnapshotId) -> EncryptionContext {
    EncryptionContext::from_map(BTreeMap::from([(
        EBS_CONTEXT_KEY.to_owned(),
        id.to_string(),
    )]))
}

pub(crate) fn sector_size(m: &Manifest) -> Result<ebsim_io::SectorSize, SnapshotError> {
    ebsim_io::SectorSize::new(u64::from(m.sector_size))
        .map_err(|e| SnapshotError::InvalidParameter(e.to_string()))
}
