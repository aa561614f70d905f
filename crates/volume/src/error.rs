//! Volume errors.

use std::path::PathBuf;

use ebsim_io::IoError;
use ebsim_kms_client::ClientError;

/// A failed volume operation. Nothing on disk changes when one of these is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VolumeError {
    /// Not `vol-` followed by 17 (or 8) lowercase hex digits.
    #[error("invalid volume id '{0}': expected vol- followed by 17 lowercase hex digits")]
    InvalidVolumeId(String),
    /// No such volume in this data dir.
    #[error("volume {0} does not exist")]
    NotFound(String),
    /// A volume with this id already exists.
    #[error("volume {0} already exists")]
    AlreadyExists(String),
    /// The volume's metadata.json cannot be parsed or is inconsistent.
    #[error("volume metadata {path} is corrupt: {reason}")]
    CorruptMetadata {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `metadata.json` does not carry the MAC of its geometry and identity under the volume's
    /// data key: `volume_id`, `size_bytes`, `sector_size`, `kms_key_arn` or the encryption
    /// context was changed since the volume was bound (docs/formats.md, "The metadata MAC").
    #[error(
        "the metadata of volume {volume_id} ({}) does not match its data key: its size, sector size, key ARN or encryption context was changed; restore the file (nothing was read or written)",
        path.display()
    )]
    MetadataMismatch {
        /// The volume.
        volume_id: String,
        /// Its metadata file.
        path: std::path::PathBuf,
    },
    /// Another process (or another attachment in this one) holds the volume.
    #[error("volume {0} is in use by another process")]
    InUse(String),
    /// A size that is zero or not a whole number of sectors, or a bad sector size.
    #[error(
        "invalid volume size {size_bytes}: must be a non-zero multiple of the sector size {sector_size}"
    )]
    InvalidSize {
        /// Size asked for.
        size_bytes: u64,
        /// Sector size.
        sector_size: u64,
    },
    /// An I/O request past the end of the volume.
    #[error(
        "request of {len} bytes at offset {offset} passes the end of volume {volume_id} ({size_bytes} bytes)"
    )]
    OutOfRange {
        /// The volume.
        volume_id: String,
        /// Byte offset asked for.
        offset: u64,
        /// Length asked for.
        len: u64,
        /// Size of the volume.
        size_bytes: u64,
    },
    /// KMS refused or failed the call the volume needed; the message says what it means for
    /// the volume.
    #[error("{operation} for volume {volume_id} failed: {source}; {meaning}")]
    Kms {
        /// The volume.
        volume_id: String,
        /// The KMS operation (`Decrypt`, `GenerateDataKeyWithoutPlaintext`, …).
        operation: &'static str,
        /// What KMS (or the transport) answered.
        #[source]
        source: Box<ClientError>,
        /// What this means for the volume.
        meaning: String,
    },
    /// KMS returned a data key that is not a valid 64-byte XTS-AES-256 key.
    #[error("the data key of volume {volume_id} is not a valid XTS-AES-256 key: {source}")]
    BadDataKey {
        /// The volume.
        volume_id: String,
        /// Why.
        #[source]
        source: IoError,
    },
    /// The engine or the block store failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A file-system operation on the volume's directory failed.
    #[error("{action} {path}: {source}")]
    Fs {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl VolumeError {
    /// The KMS error type behind this error, when there is one.
    pub fn kms_error_type(&self) -> Option<ebsim_kms_api::ErrorType> {
        match self {
            Self::Kms { source, .. } => source.kms_error_type(),
            _ => None,
        }
    }

    pub(crate) fn fs(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Fs {
            action,
            path: path.into(),
            source,
        }
    }
}

/// What a failed KMS call means for a volume, in words for the error message.
pub fn kms_failure_meaning(operation: &str, error: &ClientError) -> String {
    let attach = operation == "Decrypt";
    let what = if attach {
        "the volume cannot be attached"
    } else {
        "the volume was not created"
    };
    let why = match error.kms_error_type().map(|t| t.name()) {
        Some("DisabledException") => "the KMS key is disabled; enable it and try again",
        Some("KMSInvalidStateException") => {
            "the KMS key is pending deletion or not usable in its state; cancel the deletion and enable it"
        }
        Some("NotFoundException") => "the KMS key (or its material) no longer exists",
        Some("AccessDeniedException") => {
            "the caller is not allowed to use the key (no key policy statement, IAM policy or live grant allows it; a retired grant no longer does)"
        }
        Some("InvalidCiphertextException") => {
            "the wrapped data key does not match the key or the encryption context"
        }
        Some("ThrottlingException") => "KMS kept throttling the requests (after retries)",
        Some("KMSInternalException") | Some("DependencyTimeoutException") => {
            "KMS is having an outage (after retries)"
        }
        Some(_) => "KMS refused the request",
        None => "KMS could not be reached (after retries)",
    };
    format!("{what}: {why}")
}
