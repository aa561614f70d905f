//! EC2, the EBS part, over the AWS Query protocol (docs/ec2.md): volumes, instances,
//! attachments, snapshots (on `ebsim-snapshot`) and encryption by default, with the KMS calls EBS makes (as
//! docs/key-flow.md tells it) and its typed state under `DIR/ec2/state.json`.
//!
//! `ebsim serve` routes requests whose SigV4 scope names `ec2` to [`Ec2::handle`], after
//! authenticating them as every request; `ec2:ACTION` is authorized by the KMS's IAM policy
//! engine. The XML goes through the Query services' one encoder (`ebsim_iam::xml`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod adopt;
mod attach;
mod direct;
mod ebd;
pub mod error;
mod filters;
pub mod ids;
mod instances;
pub mod ops;
mod params;
mod service;
mod snapshots;
pub mod state;
mod types;
mod volumes;
pub mod workspaces;

// The public interface is:
pub use service::{EVENTS_FILE, Ec2, instance_principal};
pub use state::{Ec2State, state_file};
pub use volumes::DEFAULT_EBS_KEY;
pub use workspaces::WorkspacesService;

/// The principal the process doing a volume's I/O unwraps its key as, by the EC2 state of
/// `dir` (never `metadata.json`): the EC2 infrastructure session of the instance it is
/// attached to, or `None` when no instance has it (the per-volume grant of `ebsim volume
/// create` applies then).
///
/// # Errors
/// A message when the state cannot be read.
pub fn attached_instance_principal(
    dir: &std::path::Path,
    volume_id: &str,
) -> Result<Option<String>, String> {
    let st = Ec2State::load(dir)?;
    Ok(st
        .find_volume(volume_id)
        .and_then(|(_, v)| v.attachment.as_ref())
        .and_then(|a| a.grantee.clone()))
}
