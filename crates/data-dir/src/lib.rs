//! The ebsim data dir (docs/formats.md): where each file lives ([`DataDir`]), private files
//! written atomically ([`write_private_atomic`]), exclusive locks ([`ExclusiveLock`]), the
//! service credential file, and the endpoint record a running `ebsim kms serve` publishes.
//!
//! ```
//! use ebsim_data_dir::DataDir;
//! let d = DataDir::new("/srv/ebsim");
//! assert_eq!(d.kms_state(), std::path::Path::new("/srv/ebsim/kms/state.json"));
//! assert_eq!(d.volume_data("vol-1"), std::path::Path::new("/srv/ebsim/volumes/vol-1/data.img"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod credential;
mod endpoint;
mod files;
mod layout;

// The public interface is:
pub use credential::{CredentialError, read_service_credential, write_service_credential};
pub use endpoint::{
    EndpointRecord, MalformedRecord, holds_lock, process_start_time, publish_endpoint,
    read_endpoint, remove_endpoint, withdraw_endpoint,
};
pub use files::{ExclusiveLock, LockError, end_torn_line, write_private_atomic};
pub use layout::{DataDir, VOLUME_DATA, VOLUME_LOCK, VOLUME_METADATA};
