//! CreateVolume from a snapshot: a new volume with the snapshot's blocks. Within the lineage
//! (the snapshot's own key) the volume keeps the lineage's wrapped data key and encryption
//! context; under another key (or from an unencrypted snapshot) it gets a new data key and
//! the blocks are re-encrypted.

use ebsim_kms_api::types::grants::{CreateGrantRequest, GrantConstraints, RetireGrantRequest};
use ebsim_kms_client::EncryptionContext;
use ebsim_volume::{NewVolume, VolumeMetadata, new_volume_id};
use rayon::prelude::*;

use crate::backend::FileLock;
use crate::blocks::{fetch_bulk, rekey};
use crate::copy::sector_size;
use crate::keys::{DEFAULT_EBS_KEY, Ebs, engine};
use crate::manifest::MAX_SIZE_BYTES;
use crate::{BLOCK_SIZE, SnapshotError, SnapshotId, SnapshotStore};

const BATCH: usize = 64;

/// What CreateVolume with a `SnapshotId` needs.
#[derive(Debug, Clone, Default)]
pub struct RestoreVolume {
    /// The snapshot (`snap-…`, completed, in the store's region).
    pub snapshot_id: String,
    /// The volume's size in bytes: the snapshot's when `None`, never less.
    pub size_bytes: Option<u64>,
    /// `Some(false)` is refused for an encrypted snapshot (encryption cannot be removed) and
    /// with a key. Volumes are always encrypted: one from an unencrypted snapshot gets
    /// `kms_key_id` or `alias/aws/ebs`.
    pub encrypted: Option<bool>,
    /// The volume's key; the snapshot's when `None` for an encrypted snapshot.
    pub kms_key_id: Option<String>,
    /// The principal calling EC2 (the account root when `None`).
    pub caller: Option<String>,
}

impl RestoreVolume {
    /// A volume from `snapshot_id`, of its size, under its key.
    pub fn new(snapshot_id: impl Into<String>) -> Self {
        Self {
            snapshot_id: snapshot_id.into(),
            ..Default::default()
        }
    }
}

impl SnapshotStore {
    /// CreateVolume from a snapshot; see [`SnapshotStore::restore_with_progress`].
    ///
    /// # Errors
    /// As [`SnapshotStore::restore_with_progress`].
    pub fn restore(&self, req: RestoreVolume) -> Result<VolumeMetadata, SnapshotError> {
        self.restore_with_progress(req, &|_, _| {})
    }

    /// CreateVolume from a snapshot, calling `progress(done, total)` as blocks are written.
    ///
    /// KMS calls, on behalf of the caller via `ec2.<region>.amazonaws.com`: within the
    /// lineage, GenerateDataKeyWithoutPlaintext under the lineage's key and context (EBS's
    /// check that the caller may use the key; the lineage's data key is reused, so
    /// `DataEncryptionKeyId` stays the same) and CreateGrant for the volume's EC2
    /// infrastructure session, constrained to the lineage's context. Under another key:
    /// DescribeKey, GenerateDataKeyWithoutPlaintext (context `aws:ebs:id` = the new volume),
    /// Decrypt of it and of the snapshot's key, and CreateGrant; the new volume's metadata MAC
    /// is written at once.
    ///
    /// # Errors
    /// [`SnapshotError::MalformedSnapshotId`], [`SnapshotError::SnapshotNotFound`],
    /// [`SnapshotError::IncorrectState`], [`SnapshotError::SizeTooSmall`],
    /// [`SnapshotError::KmsKeyWithoutEncryption`], [`SnapshotError::EncryptionCannotBeRemoved`],
    /// [`SnapshotError::Kms`], or a volume or storage error (the half-made volume is removed and
    /// its grant retired).
    pub fn restore_with_progress(
        &self,
        req: RestoreVolume,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<VolumeMetadata, SnapshotError> {
        let id = SnapshotId::parse(&req.snapshot_id)?;
        if req.encrypted == Some(false) && req.kms_key_id.is_some() {
            return Err(SnapshotError::KmsKeyWithoutEncryption);
        }
        let m = self.completed(&id)?;
        if m.encryption.is_some() && req.encrypted == Some(false) {
            return Err(SnapshotError::EncryptionCannotBeRemoved(id));
        }
        let ss = sector_size(&m)?;
        let size = req.size_bytes.unwrap_or(m.size_bytes);
        if size < m.size_bytes {
            return Err(SnapshotError::SizeTooSmall {
                snapshot_id: id,
                requested_bytes: size,
                minimum_bytes: m.size_bytes,
            });
        }
        if size > MAX_SIZE_BYTES || !size.is_multiple_of(u64::from(m.sector_size)) {
            return Err(SnapshotError::InvalidParameter(format!(
                "The size {size} is not a multiple of the sector size {} up to 64 TiB.",
                m.sector_size
            )));
        }
        let caller = req
            .caller
            .clone()
            .unwrap_or_else(|| ebsim_kms_api::id::DEFAULT_ROOT.to_owned());
        let ebs = Ebs::new(&self.0.client, self.0.region, &caller);
        let volume_id = new_volume_id();
        let target = match &req.kms_key_id {
            Some(named) => Some(ebs.key_arn(named)?),
            None => None,
        };
        let same_lineage = m
            .encryption
            .as_ref()
            .is_some_and(|k| target.as_ref().is_none_or(|t| *t == k.kms_key_arn));
        // The volume's key: the lineage's, or a new one (plaintext kept to re-encrypt).
        let (key_arn, blob, context, keys) = match &m.encryption {
            Some(k) if same_lineage => {
                let ctx = EncryptionContext::from_map(k.encryption_context.clone());
                ebs.generate(&k.kms_key_arn, &ctx)?;
                let blob = k.wrapped_key().map_err(SnapshotError::InvalidParameter)?;
                (k.kms_key_arn.clone(), blob, ctx, None)
            }
            _ => {
                let key_id = target.clone().unwrap_or_else(|| DEFAULT_EBS_KEY.to_owned());
                let ctx = EncryptionContext::ebs(&volume_id)
                    .map_err(|e| SnapshotError::InvalidParameter(e.to_string()))?;
                let wrapped = ebs.generate(&key_id, &ctx)?;
                let new_key = ebs.decrypt(&wrapped.ciphertext_blob, &ctx, &wrapped.key_arn)?;
                let from = match &m.encryption {
                    Some(k) => Some(engine(ebs.unwrap_lineage(k)?, ss)?),
                    None => None,
                };
                (
                    wrapped.key_arn,
                    wrapped.ciphertext_blob,
                    ctx,
                    Some((from, new_key)),
                )
            }
        };
        let grantee = ebsim_workspaces::attach_principal(&key_arn, &volume_id);
        let grant = ebs
            .client
            .send(
                &ebs.who,
                &CreateGrantRequest {
                    key_id: Some(key_arn.clone()),
                    grantee_principal: Some(grantee.clone()),
                    retiring_principal: Some(caller.clone()),
                    operations: Some(vec!["Decrypt".to_owned()]),
                    constraints: Some(GrantConstraints {
                        encryption_context_subset: Some(context.as_map().clone()),
                        encryption_context_equals: None,
                    }),
                    name: Some(volume_id.clone()),
                    ..Default::default()
                },
            )
            .map_err(|e| SnapshotError::kms("CreateGrant", &key_arn, e))?;
        let meta = self.0.volumes.create(NewVolume {
            volume_id: volume_id.clone(),
            size_bytes: size,
            sector_size: ss,
            kms_key_arn: key_arn.clone(),
            wrapped_key: blob,
            context,
            grant_id: Some(grant.grant_id.clone()),
            grantee_principal: Some(grantee),
            retiring_principal: Some(caller.clone()),
            owner: None,
        });
        let meta = match meta {
            Ok(meta) => meta,
            Err(e) => {
                self.retire(&ebs, &key_arn, &grant.grant_id);
                return Err(e.into());
            }
        };
        let written = (|| {
            let _shared = FileLock::shared(&self.store_lock())?;
            let mut raw = self.0.volumes.open_raw_unattached(&volume_id)?;
            let (from, to) = match keys {
                Some((from, new_key)) => {
                    raw.bind_metadata(new_key.as_ref())?;
                    (from, Some(engine(new_key, ss)?))
                }
                None => (None, None),
            };
            let total = m.blocks.len() as u64;
            let mut done = 0;
            for batch in m.blocks.chunks(BATCH) {
                batch
                    .par_iter()
                    .map(|b| {
                        let mut buf = Vec::new();
                        fetch_bulk(self, &m, b, &mut buf)?;
                        if to.is_some() {
                            rekey(from.as_ref(), to.as_ref(), ss.bytes(), b.index, &mut buf)?;
                        }
                        raw.write_stored(b.index * BLOCK_SIZE, &buf)?;
                        Ok(())
                    })
                    .collect::<Result<Vec<()>, SnapshotError>>()?;
                done += batch.len() as u64;
                progress(done, total);
            }
            raw.flush()?;
            Ok::<_, SnapshotError>(())
        })();
        if let Err(e) = written {
            let _ = self.0.volumes.delete(&volume_id);
            self.retire(&ebs, &key_arn, &grant.grant_id);
            return Err(e);
        }
        Ok(self.0.volumes.load(&meta.volume_id)?)
    }

    fn retire(&self, ebs: &Ebs, key_arn: &str, grant_id: &str) {
        let _ = ebs.client.send(
            &ebs.who,
            &RetireGrantRequest {
                key_id: Some(key_arn.to_owned()),
                grant_id: Some(grant_id.to_owned()),
                ..Default::default()
            },
        );
    }
}
