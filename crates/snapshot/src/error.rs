//! Typed errors of the snapshot store, each with the EC2 error code it answers with.

use std::path::PathBuf;

use ebsim_kms_client::ClientError;
use ebsim_volume::VolumeError;

use crate::{SnapshotId, SnapshotState};

/// What went wrong. Every error of bad input is raised before anything changes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Not a snapshot id (a volume id where a snapshot id is needed, too).
    #[error("Invalid id: \"{0}\" (expected snap- followed by 17 lowercase hex digits)")]
    MalformedSnapshotId(String),
    /// Not a volume id (a snapshot id where a volume id is needed, too).
    #[error("Invalid id: \"{0}\" (expected vol- followed by 17 lowercase hex digits)")]
    MalformedVolumeId(String),
    /// No snapshot with this id in this region.
    #[error("The snapshot '{0}' does not exist.")]
    SnapshotNotFound(SnapshotId),
    /// No volume with this id.
    #[error("The volume '{0}' does not exist.")]
    VolumeNotFound(String),
    /// A region name that is not one of the partition's regions.
    #[error("Value ({0}) for parameter region is invalid. Unknown region.")]
    UnknownRegion(String),
    /// A key named while `Encrypted` is false.
    #[error("The parameter KmsKeyId requires the parameter Encrypted to be set.")]
    KmsKeyWithoutEncryption,
    /// `Encrypted=false` for an encrypted snapshot: encryption can never be removed.
    #[error(
        "Encryption cannot be removed: snapshot {0} is encrypted, so its copies and volumes are too."
    )]
    EncryptionCannotBeRemoved(SnapshotId),
    /// A restore size below the snapshot's size.
    #[error(
        "Volume of {requested_bytes} bytes is too small; snapshot {snapshot_id} needs at least {minimum_bytes} bytes."
    )]
    SizeTooSmall {
        /// The snapshot.
        snapshot_id: SnapshotId,
        /// The size asked for.
        requested_bytes: u64,
        /// The snapshot's size.
        minimum_bytes: u64,
    },
    /// Another parameter is out of range or malformed.
    #[error("{0}")]
    InvalidParameter(String),
    /// The snapshot is not `completed` (copies and restores need a completed one), or it is
    /// still being written (delete).
    #[error("Snapshot {snapshot_id} is in state {state}; this needs a completed snapshot.")]
    IncorrectState {
        /// The snapshot.
        snapshot_id: SnapshotId,
        /// Its state.
        state: SnapshotState,
    },
    /// The volume is attached in another process, which alone may copy its ciphertext
    /// crash-consistently.
    #[error(
        "volume {0} is attached in another process; snapshot it through that process (or detach it first)"
    )]
    VolumeAttachedElsewhere(String),
    /// A KMS call failed.
    #[error("{operation} on {key} failed: {source}")]
    Kms {
        /// The KMS operation.
        operation: &'static str,
        /// The key (as named).
        key: String,
        /// What KMS said.
        #[source]
        source: ClientError,
    },
    /// A volume operation failed.
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// A manifest that does not parse or validate.
    #[error("snapshot manifest {path} is corrupt: {reason}")]
    CorruptManifest {
        /// The file (or object key).
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A stored block whose bytes do not match its checksum, or that is missing.
    #[error("block {index} of snapshot {snapshot_id} is missing or corrupt ({reason})")]
    CorruptBlock {
        /// The snapshot.
        snapshot_id: SnapshotId,
        /// The block index (offset / 512 KiB).
        index: u64,
        /// Why.
        reason: String,
    },
    /// A storage failure (file system or object store).
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The store location is not usable (a malformed `s3://` URL, a backend not compiled in).
    #[error("snapshot store: {0}")]
    Store(String),
}

impl SnapshotError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn kms(operation: &'static str, key: &str, source: ClientError) -> Self {
        Self::Kms {
            operation,
            key: key.to_owned(),
            source,
        }
    }

    /// The EC2 error code this error answers with (EC2's names, docs/ec2.md:
    /// `InvalidSnapshot.NotFound`, `InvalidSnapshotID.Malformed`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedSnapshotId(_) => "InvalidSnapshotID.Malformed",
            Self::MalformedVolumeId(_) => "InvalidVolumeID.Malformed",
            Self::SnapshotNotFound(_) => "InvalidSnapshot.NotFound",
            Self::VolumeNotFound(_) => "InvalidVolume.NotFound",
            Self::UnknownRegion(_)
            | Self::EncryptionCannotBeRemoved(_)
            | Self::SizeTooSmall { .. }
            | Self::InvalidParameter(_) => "InvalidParameterValue",
            Self::KmsKeyWithoutEncryption => "InvalidParameterDependency",
            Self::IncorrectState { .. } | Self::VolumeAttachedElsewhere(_) => "IncorrectState",
            Self::Kms { source, .. } => match source.kms_error_type().map(|t| t.name()) {
                Some("NotFoundException") => "InvalidKMSKey.Id",
                Some("DisabledException" | "KMSInvalidStateException") => "InvalidKMSKey.State",
                _ => "KMS.DependencyFailure",
            },
            Self::Volume(VolumeError::NotFound(_)) => "InvalidVolume.NotFound",
            Self::Volume(VolumeError::InvalidVolumeId(_)) => "InvalidVolumeID.Malformed",
            Self::Volume(VolumeError::InUse(_)) => "VolumeInUse",
            Self::Volume(_)
            | Self::CorruptManifest { .. }
            | Self::CorruptBlock { .. }
            | Self::Io { .. }
            | Self::Store(_) => "InternalError",
        }
    }

    /// Whether the input was at fault (a 4xx), rather than the service (a 5xx).
    pub fn is_client_error(&self) -> bool {
        self.code() != "InternalError"
    }
}
