//! The KMS service as a library: keys and their material versions, aliases, key policies and
//! IAM policies, grants, rotation, key states, data keys bound to an encryption context, the
//! audit trail, the clock, fault injection and persistence.
//!
//! Every operation goes through one entry point that takes the AWS KMS JSON 1.1 request body
//! and returns the response body, so the HTTP front end is a thin mapping:
//! [`Kms::call`]`(&Caller, "Decrypt", body)`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
pub mod policy;

// The public interface is:
pub use api::{Caller, ErrorType, KmsError};
