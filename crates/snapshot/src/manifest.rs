//! The manifest of one snapshot (docs/formats.md, "Snapshots"): what it is, its key lineage and
//! its block list. Nothing in it is secret; the data key is wrapped by KMS.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{BLOCK_SIZE, SnapshotError, SnapshotId};

/// The format version written into every manifest.
pub(crate) const FORMAT: u32 = 1;
/// The largest manifest read (a bound on input from a file): 64 MiB holds the block list of a
/// full 64 TiB volume.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 64 << 20;
/// The largest volume a snapshot may hold: 64 TiB, EBS's largest volume.
pub(crate) const MAX_SIZE_BYTES: u64 = 64 << 40;
/// The longest description (EC2's limit).
pub(crate) const MAX_DESCRIPTION: usize = 255;

/// The state of a snapshot (EC2's `pending` → `completed` or `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotState {
    /// Being written.
    Pending,
    /// Complete: can be copied, restored and read.
    Completed,
    /// Failed (see the state message); only deleting it is left.
    Error,
}

impl std::fmt::Display for SnapshotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Error => "error",
        })
    }
}

/// One stored block: its index (byte offset / 512 KiB) and the SHA-256 of its stored bytes
/// (ciphertext for an encrypted snapshot), which also names it in the block store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockRef {
    /// Block index: the block holds bytes `index × 512 KiB ..`.
    pub index: u64,
    /// SHA-256 of the stored bytes.
    pub sha256: [u8; 32],
}

impl BlockRef {
    /// The checksum as 64 lowercase hex digits.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

impl Serialize for BlockRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.index, hex::encode(self.sha256)).serialize(s)
    }
}

impl<'de> Deserialize<'de> for BlockRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (index, h) = <(u64, String)>::deserialize(d)?;
        Ok(Self {
            index,
            sha256: parse_sha256(&h).map_err(serde::de::Error::custom)?,
        })
    }
}

/// Parses 64 lowercase hex digits.
pub(crate) fn parse_sha256(h: &str) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    if h.len() != 64
        || !h
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "'{}' is not 64 lowercase hex digits",
            h.chars().take(70).collect::<String>()
        ));
    }
    hex::decode_to_slice(h, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The data key a snapshot lineage shares: wrapped by KMS under `kms_key_arn` with
/// `encryption_context` (the `aws:ebs:id` of the volume the lineage began with, or of the
/// snapshot a re-keying copy made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageKey {
    /// ARN of the KMS key that wrapped the data key.
    pub kms_key_arn: String,
    /// Base64 of the KMS `CiphertextBlob` of the 64-byte data key.
    pub encrypted_data_key: String,
    /// The encryption context the key was wrapped under.
    pub encryption_context: BTreeMap<String, String>,
    /// EC2's `DataEncryptionKeyId`: the same for every snapshot and volume of the lineage.
    pub data_encryption_key_id: String,
}

impl LineageKey {
    /// The wrapped key (decoded).
    pub(crate) fn wrapped_key(&self) -> Result<Vec<u8>, String> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&self.encrypted_data_key)
            .map_err(|e| format!("encrypted_data_key is not base64: {e}"))
    }
}

/// Where a copy came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopiedFrom {
    /// The source snapshot.
    pub snapshot_id: SnapshotId,
    /// The source's region.
    pub region: String,
}

/// `DIR/snapshots/manifests/<snap-id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub format: u32,
    pub snapshot_id: SnapshotId,
    pub volume_id: String,
    pub region: String,
    pub owner_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<SnapshotId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copied_from: Option<CopiedFrom>,
    pub size_bytes: u64,
    pub sector_size: u32,
    pub block_size: u64,
    /// `None`: an unencrypted snapshot (its blocks are plaintext).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<LineageKey>,
    #[serde(default)]
    pub description: String,
    pub state: SnapshotState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_message: Option<String>,
    /// RFC 3339, UTC.
    pub start_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<String>,
    /// 0–100.
    pub progress: u8,
    /// Blocks this snapshot stored that its parent did not have (changed or new).
    pub changed_blocks: u64,
    /// Every non-empty block of the snapshot, ascending by index.
    pub blocks: Vec<BlockRef>,
}

impl Manifest {
    pub(crate) fn validate(&self, expected: Option<&SnapshotId>) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format {} is not {FORMAT}", self.format));
        }
        if let Some(id) = expected
            && *id != self.snapshot_id
        {
            return Err(format!(
                "snapshot_id {} does not match its name {id}",
                self.snapshot_id
            ));
        }
        if !ebsim_volume::is_volume_id(&self.volume_id) {
            return Err(format!("volume_id '{}' is not a volume id", self.volume_id));
        }
        if ebsim_kms_api::Region::parse(&self.region).is_none() {
            return Err(format!("region '{}' is unknown", self.region));
        }
        if self.block_size != BLOCK_SIZE {
            return Err(format!(
                "block_size {} is not {BLOCK_SIZE}",
                self.block_size
            ));
        }
        if self.sector_size != 512 && self.sector_size != 4096 {
            return Err(format!(
                "sector_size {} is not 512 or 4096",
                self.sector_size
            ));
        }
        if self.size_bytes == 0
            || self.size_bytes > MAX_SIZE_BYTES
            || !self.size_bytes.is_multiple_of(u64::from(self.sector_size))
        {
            return Err(format!("size_bytes {} is out of range", self.size_bytes));
        }
        if self.progress > 100 {
            return Err(format!("progress {} is over 100", self.progress));
        }
        let n = self.size_bytes.div_ceil(BLOCK_SIZE);
        let mut last = None;
        for b in &self.blocks {
            if b.index >= n || last.is_some_and(|l| l >= b.index) {
                return Err(format!("block index {} is out of order or range", b.index));
            }
            last = Some(b.index);
        }
        if let Some(k) = &self.encryption {
            let blob = k.wrapped_key()?;
            if blob.is_empty() || k.kms_key_arn.is_empty() {
                return Err("the lineage key is empty".to_owned());
            }
            if !k
                .encryption_context
                .contains_key(ebsim_kms_client::EBS_CONTEXT_KEY)
            {
                return Err("the lineage's encryption context has no aws:ebs:id".to_owned());
            }
        }
        Ok(())
    }

    pub(crate) fn parse(
        bytes: &[u8],
        expected: Option<&SnapshotId>,
        path: &Path,
    ) -> Result<Self, SnapshotError> {
        let corrupt = |reason: String| SnapshotError::CorruptManifest {
            path: path.to_path_buf(),
            reason,
        };
        let m: Self = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        m.validate(expected).map_err(corrupt)?;
        Ok(m)
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Now, RFC 3339 in UTC with milliseconds (as EC2 prints `StartTime`).
pub(crate) fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    format!("{:.3}", now)
}
