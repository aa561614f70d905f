//! Control-plane errors.

use ebsim_kms_client::ClientError;
use ebsim_volume::VolumeError;

/// A failed EBS or WorkSpaces operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlPlaneError {
    /// The volume layer failed (including attach-time KMS failures, which name the KMS error).
    #[error(transparent)]
    Volume(Box<VolumeError>),
    /// A KMS call the control plane made failed.
    #[error("{operation} on {key} failed: {source}; {meaning}")]
    Kms {
        /// The KMS operation.
        operation: &'static str,
        /// The key (as given, or its ARN).
        key: String,
        /// What KMS (or the transport) answered.
        #[source]
        source: Box<ClientError>,
        /// What it means for the request.
        meaning: String,
    },
    /// Only symmetric encryption keys can encrypt volumes.
    #[error(
        "key {key_arn} has key spec {key_spec} (usage {key_usage}); EBS and WorkSpaces volumes need a symmetric encryption key (SYMMETRIC_DEFAULT)"
    )]
    NotSymmetric {
        /// The key.
        key_arn: String,
        /// Its KeySpec.
        key_spec: String,
        /// Its KeyUsage.
        key_usage: String,
    },
    /// KMS answered something the control plane cannot use.
    #[error("unexpected {operation} response: {message}")]
    Protocol {
        /// The KMS operation.
        operation: &'static str,
        /// What was missing.
        message: String,
    },
    /// The volume is attached (control-plane state in-use) and cannot be deleted.
    #[error(
        "volume {volume_id} is attached to WorkSpace {attached_to}; terminate it first (`ebsim workspace terminate {attached_to}`, which also deletes its volumes)"
    )]
    VolumeAttached {
        /// The volume.
        volume_id: String,
        /// What holds it.
        attached_to: String,
    },
    /// Not `ws-` followed by 8 to 63 lowercase letters or digits.
    #[error(
        "invalid WorkSpace id '{0}': expected ws- followed by 8 to 63 lowercase letters or digits"
    )]
    InvalidWorkspaceId(String),
    /// No such WorkSpace.
    #[error("WorkSpace {0} does not exist")]
    WorkspaceNotFound(String),
    /// The WorkSpace was terminated.
    #[error("WorkSpace {0} is terminated")]
    WorkspaceTerminated(String),
    /// A malformed user SID or directory id.
    #[error(transparent)]
    Context(#[from] ebsim_kms_client::ContextError),
    /// A WorkSpace record on disk cannot be read or written.
    #[error("WorkSpace record {path}: {message}")]
    Record {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        message: String,
    },
}

impl From<VolumeError> for ControlPlaneError {
    fn from(e: VolumeError) -> Self {
        Self::Volume(Box::new(e))
    }
}

impl ControlPlaneError {
    /// The KMS error type behind this error, when there is one.
    pub fn kms_error_type(&self) -> Option<ebsim_kms::ErrorType> {
        match self {
            Self::Kms { source, .. } => source.kms_error_type(),
            Self::Volume(v) => v.kms_error_type(),
            _ => None,
        }
    }
}

pub(crate) fn kms_err(
    operation: &'static str,
    key: &str,
    source: ClientError,
) -> ControlPlaneError {
    let meaning = match source.kms_error_type().map(|t| t.name()) {
        Some("AccessDeniedException") => format!(
            "the calling principal is not allowed to {operation} on this key (key policy, IAM policy or grant)"
        ),
        Some("NotFoundException") => "no such key or alias".to_owned(),
        Some("DisabledException") => "the key is disabled; enable it and try again".to_owned(),
        Some("KMSInvalidStateException") => {
            "the key is pending deletion or not usable in its state".to_owned()
        }
        Some("ThrottlingException") => "KMS kept throttling (after retries)".to_owned(),
        Some("KMSInternalException" | "DependencyTimeoutException") => {
            "KMS is having an outage (after retries)".to_owned()
        }
        Some(_) => "KMS refused the request".to_owned(),
        None => "KMS could not be reached (after retries)".to_owned(),
    };
    ControlPlaneError::Kms {
        operation,
        key: key.to_owned(),
        source: Box::new(source),
        meaning,
    }
}
