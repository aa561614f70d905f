//! What the KMS service, its HTTP server and its clients share: the caller, the error types,
//! the identifiers (with the one ARN parser), the endpoint-trust protocol, the header names,
//! and (feature `sign`) the client credential and the SigV4 signing of requests.
//!
//! ```
//! use ebsim_kms_api::id::{Arn, KeyArn};
//! let arn: KeyArn = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".parse()?;
//! assert_eq!(arn.account().as_str(), "111122223333");
//! assert_eq!(Arn::parse("arn:aws:iam::111122223333:root").map(|a| a.service), Some("iam"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backend;
mod error;
pub mod id;
mod key_state;
pub mod ops;
mod region;
mod secret_json;
#[cfg(feature = "sign")]
pub mod sign;
pub mod trust;
pub mod types;

// The public interface is:
pub use backend::{
    BUILTIN_ACCESS_KEY, Backend, CONTENT_TYPE, Credential, CredentialMode, PRINCIPAL_HEADER,
    SessionCredential, TARGET_HEADER, VIA_SERVICE_HEADER,
};
pub use ebsim_iam;
pub use error::{Caller, ErrorType, KmsError};
pub use key_state::KeyState;
pub use region::{AWS_REGIONS, Region};
pub use secret_json::to_wiped_vec;
