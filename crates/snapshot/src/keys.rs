//! The KMS calls EBS makes for snapshots (docs/key-flow.md; the calls
//! as docs/formats.md, "Snapshots", lists them), all on behalf of the principal calling EC2
//! via `ec2.<region>.amazonaws.com`.

use ebsim_io::{SectorSize, XtsEngine, XtsKey};
use ebsim_kms_api::Region;
use ebsim_kms_api::types::keys::DescribeKeyRequest;
use ebsim_kms_client::{DataKey, EncryptionContext, Identity, KmsClient, WrappedKey};
use sha2::Digest as _;

use crate::{LineageKey, SnapshotError};

/// The key EBS uses when none is named.
pub(crate) const DEFAULT_EBS_KEY: &str = "alias/aws/ebs";

/// KMS as EBS reaches it in `region`, acting for `caller` (the account root when `None`).
pub(crate) struct Ebs {
    pub(crate) client: KmsClient,
    pub(crate) who: Identity,
}

impl Ebs {
    pub(crate) fn new(client: &KmsClient, region: Region, caller: &str) -> Self {
        Self {
            client: client.in_region(region),
            who: Identity::OnBehalfOf {
                principal: caller.to_owned(),
                via_service: format!("ec2.{}.amazonaws.com", region.as_str()),
            },
        }
    }

    /// DescribeKey: the key's ARN; symmetric encryption keys only.
    pub(crate) fn key_arn(&self, key_id: &str) -> Result<String, SnapshotError> {
        let out = self
            .client
            .send(
                &self.who,
                &DescribeKeyRequest {
                    key_id: Some(key_id.to_owned()),
                    ..Default::default()
                },
            )
            .map_err(|e| SnapshotError::kms("DescribeKey", key_id, e))?;
        let m = out.key_metadata;
        let spec = if m.key_spec.is_empty() {
            "SYMMETRIC_DEFAULT"
        } else {
            m.key_spec.as_str()
        };
        if spec != "SYMMETRIC_DEFAULT"
            || (!m.key_usage.is_empty() && m.key_usage != "ENCRYPT_DECRYPT")
        {
            return Err(SnapshotError::InvalidParameter(format!(
                "The key {} is not a symmetric encryption key ({spec}); EBS needs one.",
                m.arn
            )));
        }
        Ok(m.arn)
    }

    /// GenerateDataKeyWithoutPlaintext (64 bytes) under `context`.
    pub(crate) fn generate(
        &self,
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, SnapshotError> {
        self.client
            .generate_wrapped_data_key(&self.who, key_id, context)
            .map_err(|e| SnapshotError::kms("GenerateDataKeyWithoutPlaintext", key_id, e))
    }

    /// Decrypt of a wrapped data key under `context`, naming the key that wrapped it.
    pub(crate) fn decrypt(
        &self,
        blob: &[u8],
        context: &EncryptionContext,
        key_arn: &str,
    ) -> Result<DataKey, SnapshotError> {
        self.client
            .decrypt_data_key_with(&self.who, blob, context, Some(key_arn))
            .map_err(|e| SnapshotError::kms("Decrypt", key_arn, e))
    }

    /// Decrypt of a lineage's data key.
    pub(crate) fn unwrap_lineage(&self, k: &LineageKey) -> Result<DataKey, SnapshotError> {
        let blob = k.wrapped_key().map_err(SnapshotError::InvalidParameter)?;
        let ctx = EncryptionContext::from_map(k.encryption_context.clone());
        self.decrypt(&blob, &ctx, &k.kms_key_arn)
    }

    /// A new data key for `context` under `key_id`: GenerateDataKeyWithoutPlaintext, then
    /// Decrypt of what it returned (EBS needs the plaintext to write re-encrypted blocks).
    pub(crate) fn new_lineage(
        &self,
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<(LineageKey, DataKey), SnapshotError> {
        let wrapped = self.generate(key_id, context)?;
        let key = self.decrypt(&wrapped.ciphertext_blob, context, &wrapped.key_arn)?;
        Ok((
            lineage_key(&wrapped.key_arn, &wrapped.ciphertext_blob, context),
            key,
        ))
    }
}

/// The lineage record of a wrapped key.
pub(crate) fn lineage_key(key_arn: &str, blob: &[u8], context: &EncryptionContext) -> LineageKey {
    use base64::Engine as _;
    LineageKey {
        kms_key_arn: key_arn.to_owned(),
        encrypted_data_key: base64::engine::general_purpose::STANDARD.encode(blob),
        encryption_context: context.as_map().clone(),
        data_encryption_key_id: data_encryption_key_id(blob),
    }
}

/// EC2's `DataEncryptionKeyId` of a data key: the first 16 bytes of the SHA-256 of its KMS
/// ciphertext blob, as a UUID. Every snapshot and volume sharing the wrapped key shares it.
pub(crate) fn data_encryption_key_id(blob: &[u8]) -> String {
    let d = sha2::Sha256::digest(blob);
    let h = hex::encode(&d[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The XTS engine of a data key; the key bytes are dropped at once.
pub(crate) fn engine(key: DataKey, sector_size: SectorSize) -> Result<XtsEngine, SnapshotError> {
    let xts = XtsKey::from_slice(key.as_ref())
        .map_err(|e| SnapshotError::InvalidParameter(format!("the data key is unusable: {e}")));
    drop(key);
    let xts = xts?;
    Ok(XtsEngine::new(&xts, sector_size))
}
