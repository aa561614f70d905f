//! The KMS service as a library: keys and their material versions, aliases, key policies and
//! IAM policies, grants, rotation, key states, data keys bound to an encryption context, the
//! audit trail, the clock, fault injection and persistence.
//!
//! Every operation goes through one entry point that takes the AWS KMS JSON 1.1 request body
//! and returns the response body, so the HTTP front end is a thin mapping:
//! [`Kms::call`]`(&Caller, "Decrypt", body)`.
//!
//! ```
//! use ebsim_kms::{Caller, Kms, KmsConfig};
//! use serde_json::json;
//!
//! let kms = Kms::in_memory(KmsConfig::default());
//! let root = Caller::new("arn:aws:iam::111122223333:root");
//! let key = kms.call_json(&root, "CreateKey", json!({}))?;
//! let key_id = key["KeyMetadata"]["KeyId"].as_str().unwrap_or_default();
//! let ctx = json!({"aws:ebs:id": "vol-0123456789abcdef0"});
//! let wrapped = kms.call_json(&root, "GenerateDataKeyWithoutPlaintext",
//!     json!({"KeyId": key_id, "NumberOfBytes": 64, "EncryptionContext": ctx}))?;
//! let plain = kms.call_json(&root, "Decrypt",
//!     json!({"CiphertextBlob": wrapped["CiphertextBlob"], "EncryptionContext": ctx}))?;
//! assert!(plain["Plaintext"].is_string());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The vocabulary shared with the server and the clients (`ebsim-kms-api`).
mod api {
    pub use ebsim_kms_api::{Caller, ErrorType, KmsError, Region};
}
pub mod asym;
mod audit;
mod custom_store_state;
mod iam_state;
mod import_state;
mod journal;
mod key_slots;
mod tracked;
pub mod xks;
pub use audit::{
    Dropped as AuditDropped, MIN_TRAIL_BYTES, ROTATE_KEEP, TRAIL_BYTES, dropped_from_disk,
};
mod blob;
mod clock;
mod fault;
mod jsonw;
pub use ebsim_kms_api::ops;
pub mod policy;
mod service;
mod state;
mod store;
pub use ebsim_kms_api::trust;
pub use ebsim_kms_api::types;

// The public interface is:
pub use api::{Caller, ErrorType, KmsError, Region};
pub use clock::{Clock, ManualClock, SystemClock, iso8601};
pub use service::{
    ADMIN_OPERATIONS, Credential, GRANT_OPERATIONS, GRANT_QUOTA, KEY_QUOTA, Kms, KmsConfig,
};
pub use store::{KmsOpenError, PersistStats};

/// Entry points for the fuzz targets.
#[doc(hidden)]
pub mod internal {
    pub use crate::blob::{HEADER_LEN, MAGIC, VERSION, encode_context, parse as parse_blob};

    /// Feeds arbitrary bytes to the ciphertext blob parser.
    pub fn fuzz_blob_parser(data: &[u8]) {
        crate::blob::fuzz(data);
    }
}
