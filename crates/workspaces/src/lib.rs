//! The control planes over the simulated KMS: EBS (CreateVolume with its grant and wrapped
//! data key, DeleteVolume, attach/detach) and WorkSpaces (launch, reboot, rebuild, terminate),
//! as docs/architecture.md describes them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ebs;
pub mod ekm;
mod error;
mod simulator;
mod workspace;

// The public interface is:
pub use ebs::{
    CreateVolumeRequest, DEFAULT_CALLER, DEFAULT_EBS_KEY, Ebs, ForcedDelete, KeyInfo, arn_account,
    attach_principal, ec2_infrastructure_principal,
};
pub use error::ControlPlaneError;
pub use simulator::{DEFAULT_REGION, Endpoint, Fault, ServeError, Simulator};
pub use workspace::{
    DEFAULT_ROOT_SIZE, DEFAULT_USER_SIZE, DEFAULT_WORKSPACES_KEY, LaunchExtras, LaunchRequest,
    WorkSpaces, Workspace, WorkspaceState, is_workspace_id, new_workspace_id,
};
