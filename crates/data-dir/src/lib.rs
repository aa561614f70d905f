//! The ebsim data dir (docs/formats.md): where each file lives ([`DataDir`]), private files
//! written atomically ([`write_private_atomic`]), exclusive locks ([`ExclusiveLock`]), the
//! service credential file, the endpoint record a running `ebsim kms serve` publishes, and
//! the files side of a reset and of saved states ([`VolumeLocks`], [`clear_resources`],
//! [`save_state`], [`stage_restore`]).
//!
//! ```
//! use ebsim_data_dir::DataDir;
//! let d = DataDir::new("/srv/ebsim");
//! assert_eq!(d.kms_state(), std::path::Path::new("/srv/ebsim/kms/state.json"));
//! assert_eq!(d.volume_data("vol-1"), std::path::Path::new("/srv/ebsim/volumes/vol-1/data.img"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod copy;
mod credential;
mod endpoint;
mod files;
mod layout;
mod states;

// The public interface is:
pub use copy::{copy_file_sparse, copy_tree_sparse};
pub use credential::{CredentialError, read_service_credential, write_service_credential};
pub use endpoint::{
    EndpointRecord, MalformedRecord, holds_lock, process_start_time, publish_endpoint,
    read_endpoint, remove_endpoint, withdraw_endpoint,
};
pub use files::{
    ExclusiveLock, LockError, create_private_dir_all, end_torn_line, no_follow, open_regular,
    read_regular, tighten_data_dir, write_private_atomic,
};
pub use layout::{DataDir, VOLUME_DATA, VOLUME_LOCK, VOLUME_METADATA};
pub use states::{
    BadStateName, RESOURCE_DIRS, SavedState, StagedRestore, StateError, StateName, VolumeLocks,
    clear_resources, delete_state, list_states, read_saved_kms_state, save_state, stage_restore,
};
