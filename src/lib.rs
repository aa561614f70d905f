//! ebsim — an EBS-style encrypted block volume simulator.
//!
//! This crate re-exports the workspace's crates under one roof; tests and embedders depend on
//! it alone.
#![forbid(unsafe_code)]

pub use ebsim_cli as cli;
pub use ebsim_io as io;
pub use ebsim_kms as kms;
pub use ebsim_kms_client as kms_client;
pub use ebsim_kms_server as kms_server;
pub use ebsim_nbd as nbd;
pub use ebsim_volume as volume;
pub use ebsim_workspaces as workspaces;

// The test-facing API.
pub use ebsim_kms_client::{EncryptionContext, Identity, KmsClient};
pub use ebsim_volume::{AttachedVolume, VolumeError, VolumeMetadata, VolumeRoot};
pub use ebsim_workspaces::{
    ControlPlaneError, CreateVolumeRequest, Ebs, Fault, LaunchRequest, Simulator, WorkSpaces,
    Workspace,
};
