//! Client errors: what KMS answered, versus what went wrong getting there.

use std::path::PathBuf;

use ebsim_kms_api::{ErrorType, KmsError};

use crate::context::ContextError;

/// A failed KMS call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// KMS answered with one of its errors (the wire `__type` is kept).
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// The endpoint answered with an error type this client does not model (e.g. another
    /// server's `MissingAuthenticationTokenException`).
    #[error("KMS endpoint answered HTTP {status} {type_name}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Service {
        /// HTTP status.
        status: u16,
        /// The wire `__type` (after botocore's normalization).
        type_name: String,
        /// The message, if any.
        message: Option<String>,
    },
    /// The endpoint could not be reached (after retries), or the connection failed.
    #[error("cannot reach the KMS endpoint {endpoint}: {message}")]
    Transport {
        /// The endpoint URL.
        endpoint: String,
        /// What failed.
        message: String,
    },
    /// The endpoint answered something that is not a KMS response.
    #[error("unexpected response from the KMS endpoint {endpoint}: {message}")]
    Protocol {
        /// The endpoint URL.
        endpoint: String,
        /// What was wrong.
        message: String,
    },
    /// The endpoint URL is not `http://…` or `https://…`.
    #[error("invalid KMS endpoint URL '{0}': expected http://HOST:PORT or https://HOST")]
    InvalidEndpoint(String),
    /// Acting for another principal over HTTP needs the data dir's service credential.
    #[error("acting as another principal over HTTP needs the data dir's service credential ({}), which is not available", path.as_ref().map_or_else(|| "no data dir".to_owned(), |p| p.display().to_string()))]
    NoServiceCredential {
        /// Where it was looked for.
        path: Option<PathBuf>,
    },
    /// The service credential file exists but cannot be read or parsed.
    #[error("cannot read the KMS service credential {path}: {message}")]
    ServiceCredential {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The embedded KMS could not be opened.
    #[error("cannot open the embedded KMS in {dir}: {message}")]
    Open {
        /// The data dir.
        dir: PathBuf,
        /// What failed.
        message: String,
    },
    /// A malformed encryption-context identifier.
    #[error(transparent)]
    Context(#[from] ContextError),
}

impl ClientError {
    /// The KMS error type, when KMS answered with one.
    pub fn kms_error_type(&self) -> Option<ErrorType> {
        match self {
            Self::Kms(e) => Some(e.error_type),
            _ => None,
        }
    }

    /// Whether retrying the same call could succeed (throttling, 5xx, connection failures).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Kms(e) => e.error_type.is_retryable(),
            Self::Service {
                status, type_name, ..
            } => *status >= 500 || type_name.contains("Throttl"),
            Self::Transport { .. } => true,
            _ => false,
        }
    }
}
