//! `metadata.json`: what a volume keeps next to its ciphertext (nothing secret).

use std::collections::BTreeMap;

use ebsim_io::SectorSize;
use ebsim_kms_client::EncryptionContext;
use serde::{Deserialize, Serialize};

use crate::VolumeError;

/// Control-plane attachment state (outlives processes; the key never does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeState {
    /// Not attached to anything.
    Available,
    /// Attached (for example to a WorkSpace).
    InUse,
}

impl std::fmt::Display for VolumeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Available => "available",
            Self::InUse => "in-use",
        })
    }
}

/// The WorkSpace user and directory that own a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeOwner {
    /// The user's AD SID (`S-1-…`).
    pub user_sid: String,
    /// The directory id (`d-…`).
    pub directory_id: String,
}

/// The contents of `DIR/volumes/<volume-id>/metadata.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeMetadata {
    /// `vol-` + 17 lowercase hex digits.
    pub volume_id: String,
    /// Size in bytes (a whole number of sectors).
    pub size_bytes: u64,
    /// 512 or 4096.
    pub sector_size: u32,
    /// ARN of the KMS key that wrapped the data key.
    pub kms_key_arn: String,
    /// Base64 of the KMS `CiphertextBlob` (the wrapped 64-byte data key).
    pub encrypted_data_key: String,
    /// The encryption context every KMS call about this volume passes.
    pub encryption_context: BTreeMap<String, String>,
    /// Control-plane attachment state.
    pub state: VolumeState,
    /// The EBS grant on the key for this volume, if one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// The grantee of that grant (the EC2 infrastructure role session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee_principal: Option<String>,
    /// Who may retire that grant (the principal that created the volume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    /// The owning WorkSpace user and directory, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<VolumeOwner>,
    /// What the volume is attached to (a WorkSpace id), when `state` is `in-use`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created_time: u64,
    /// The MAC binding `volume_id`, `size_bytes`, `sector_size`, `kms_key_arn` and
    /// `encryption_context` to the data key (base64; docs/formats.md, "The metadata MAC").
    /// Written at the volume's first attach; a mismatch refuses the attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_mac: Option<String>,
}

impl VolumeMetadata {
    /// The sector size, validated.
    ///
    /// # Errors
    /// [`VolumeError::CorruptMetadata`]-worthy: the stored size is not a supported sector size.
    pub fn sector_size(&self) -> Result<SectorSize, ebsim_io::IoError> {
        SectorSize::new(u64::from(self.sector_size))
    }

    /// The stored encryption context.
    pub fn context(&self) -> EncryptionContext {
        EncryptionContext::from_map(self.encryption_context.clone())
    }

    /// The wrapped data key (decoded from base64).
    ///
    /// # Errors
    /// A message when the stored value is not base64.
    pub fn wrapped_key(&self) -> Result<Vec<u8>, String> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&self.encrypted_data_key)
            .map_err(|e| format!("encrypted_data_key is not base64: {e}"))
    }

    /// Checks what a loaded file must satisfy; returns the reason when it does not.
    pub(crate) fn validate(&self, expected_id: Option<&str>) -> Result<(), String> {
        if !is_volume_id(&self.volume_id) {
            return Err(format!("volume_id '{}' is not a volume id", self.volume_id));
        }
        if let Some(id) = expected_id
            && id != self.volume_id
        {
            return Err(format!(
                "volume_id '{}' does not match its directory {id}",
                self.volume_id
            ));
        }
        let ss = self
            .sector_size()
            .map_err(|_| format!("sector_size {} is not 512 or 4096", self.sector_size))?;
        if self.sector_size != 512 && self.sector_size != 4096 {
            return Err(format!(
                "sector_size {} is not 512 or 4096",
                self.sector_size
            ));
        }
        if self.size_bytes == 0 || !self.size_bytes.is_multiple_of(u64::from(ss.get())) {
            return Err(format!(
                "size_bytes {} is not a non-zero multiple of the sector size",
                self.size_bytes
            ));
        }
        let blob = self.wrapped_key()?;
        if blob.is_empty() {
            return Err("encrypted_data_key is empty".to_owned());
        }
        // `aws:ebs:id` names this volume, or, for a volume restored within a snapshot lineage,
        // the volume or snapshot the lineage's data key was made for (docs/formats.md,
        // "Snapshots"); the metadata MAC binds it either way.
        match self
            .encryption_context
            .get(ebsim_kms_client::EBS_CONTEXT_KEY)
        {
            Some(id) if *id == self.volume_id || is_ebs_resource_id(id) => {}
            _ => {
                return Err(
                    "encryption_context has no aws:ebs:id naming this volume or its lineage"
                        .to_owned(),
                );
            }
        }
        Ok(())
    }

    /// Parses and validates a metadata file's bytes.
    pub(crate) fn parse(
        bytes: &[u8],
        expected_id: Option<&str>,
        path: &std::path::Path,
    ) -> Result<Self, VolumeError> {
        let corrupt = |reason: String| VolumeError::CorruptMetadata {
            path: path.to_path_buf(),
            reason,
        };
        let meta: Self = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        meta.validate(expected_id).map_err(corrupt)?;
        Ok(meta)
    }
}

/// Whether `s` is a volume id: `vol-` + 17 (or 8) lowercase hex digits.
pub fn is_volume_id(s: &str) -> bool {
    s.strip_prefix("vol-").is_some_and(|hex| {
        (hex.len() == 17 || hex.len() == 8)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Whether `s` is the id of an EBS volume or snapshot (`vol-`/`snap-` + 17 or 8 lowercase hex
/// digits): what a lineage's `aws:ebs:id` may name.
fn is_ebs_resource_id(s: &str) -> bool {
    is_volume_id(s)
        || s.strip_prefix("snap-").is_some_and(|hex| {
            (hex.len() == 17 || hex.len() == 8)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// A new volume id: `vol-` + 17 lowercase hex digits from the OS random generator.
pub fn new_volume_id() -> String {
    use rand::RngExt as _;
    let mut rng = rand::rng();
    let mut s = String::from("vol-");
    for _ in 0..17 {
        let d: u8 = rng.random_range(0..16);
        s.push(char::from_digit(u32::from(d), 16).unwrap_or('0'));
    }
    s
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The body of the `metadata_json` fuzz target (see [`crate::internal::fuzz_metadata`]).
pub(crate) fn fuzz(data: &[u8]) {
    let path = std::path::Path::new("metadata.json");
    let Ok(meta) = VolumeMetadata::parse(data, None, path) else {
        return;
    };
    let again = serde_json::to_vec_pretty(&meta).unwrap_or_default();
    match VolumeMetadata::parse(&again, Some(&meta.volume_id), path) {
        Ok(back) => assert!(back == meta, "metadata changed through a write and a read"),
        Err(e) => panic!("metadata ebsim wrote does not read back: {e}"),
    }
    let key = crate::binding::MetadataKey::derive(&[7u8; 64]);
    let mut signed = meta;
    signed.metadata_mac = Some(key.sign(&signed));
    let mac = signed.metadata_mac.clone().unwrap_or_default();
    assert!(key.verify(&signed, &mac), "a fresh MAC does not verify");
    signed.size_bytes ^= 1 << 40;
    assert!(!key.verify(&signed, &mac), "a changed size verifies");
}
