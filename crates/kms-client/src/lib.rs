//! What EBS uses to talk to KMS: encryption contexts, wrap and unwrap of volume data keys,
//! and any other KMS operation, over one interface with two transports — the KMS in this
//! process, or an HTTP endpoint (`ebsim kms serve`, real AWS KMS, another emulator) with
//! SigV4 signing and bounded retries.
//!
//! ```
//! use ebsim_kms_client::EncryptionContext;
//! let ctx = EncryptionContext::ebs("vol-0123456789abcdef0")?;
//! assert_eq!(ctx.get("aws:ebs:id"), Some("vol-0123456789abcdef0"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod context;
mod discovery;
mod error;
mod http;
mod key;

// The public interface is:
pub use client::{
    DEFAULT_ROOT, Identity, KmsClient, LocalKms, SessionIdentity, VOLUME_KEY_BYTES, is_kms_error,
};
pub use context::{ContextError, EBS_CONTEXT_KEY, EncryptionContext, WORKSPACES_CONTEXT_KEY};
pub use discovery::{
    EndpointRecord, Untrusted, endpoint_file, lock_file, publish_endpoint, running_server,
    service_credential_file, verify_endpoint, withdraw_endpoint,
};
pub use ebsim_kms_api::sign::AccessKey;
pub use error::ClientError;
pub use http::{
    HttpConfig, PING_PATH, PRINCIPAL_HEADER, RetryPolicy, VIA_SERVICE_HEADER, ping,
    read_service_credential,
};
pub use key::{DataKey, WrappedKey};
