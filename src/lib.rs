//! ebsim — an EBS-style encrypted block volume simulator.
//!
//! A test starts a simulator — KMS, EBS and WorkSpaces — in memory (or on a data dir with
//! [`Simulator::open`]), drives launch, I/O, reboot, key changes and faults, and asserts on the
//! KMS audit trail:
//!
//! ```
//! use ebsim::{Fault, Identity, LaunchRequest, Simulator};
//! use serde_json::json;
//!
//! let sim = Simulator::in_memory();
//! let key = sim.kms().call(&Identity::Default, "CreateKey", json!({}))?;
//! let key_arn = key["KeyMetadata"]["Arn"].as_str().unwrap_or_default().to_owned();
//!
//! // Launch: the WorkSpace's grant, two volumes (grant + wrapped data key each), both attached.
//! let mut req = LaunchRequest::new("S-1-5-21-277731876-1789304096-451871588-1107", "d-1234abcd01");
//! req.key_id = Some(key_arn.clone());
//! let ws = sim.workspaces().launch(&req)?;
//! sim.workspaces().with_volumes(&ws.workspace_id, |_root, user| user.write_at(100, b"hello"))??;
//!
//! // Reboot: the data keys leave memory and are unwrapped again; the data survives.
//! sim.workspaces().reboot(&ws.workspace_id)?;
//! let mut buf = [0u8; 5];
//! sim.workspaces().with_volumes(&ws.workspace_id, |_root, user| user.read_at(100, &mut buf))??;
//! assert_eq!(&buf, b"hello");
//!
//! // A disabled key does not stop attached volumes, but the next attach fails.
//! sim.kms().call(&Identity::Default, "DisableKey", json!({"KeyId": key_arn}))?;
//! let err = sim.workspaces().reboot(&ws.workspace_id).unwrap_err();
//! assert_eq!(err.kms_error_type().map(|t| t.name()), Some("DisabledException"));
//! sim.kms().call(&Identity::Default, "EnableKey", json!({"KeyId": key_arn}))?;
//!
//! // Faults: a KMS outage makes the attach fail with a typed error.
//! sim.inject_fault("Decrypt", Fault::Outage)?;
//! assert!(sim.workspaces().start(&ws.workspace_id).is_err());
//! sim.clear_faults()?;
//! sim.workspaces().start(&ws.workspace_id)?;
//!
//! // Terminate retires every grant; the trail shows it.
//! sim.workspaces().terminate(&ws.workspace_id)?;
//! let trail = sim.audit_records()?;
//! assert_eq!(trail.iter().filter(|r| r["eventName"] == "RetireGrant").count(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
pub use ebsim_snapshot as snapshot;
pub use ebsim_volume as volume;
pub use ebsim_workspaces as workspaces;

// The test-facing API.
pub use ebsim_kms_client::{EncryptionContext, Identity, KmsClient};
pub use ebsim_volume::{AttachedVolume, VolumeError, VolumeMetadata, VolumeRoot};
pub use ebsim_workspaces::{
    ControlPlaneError, CreateVolumeRequest, Ebs, Endpoint, Fault, LaunchRequest, ServeError,
    Simulator, WorkSpaces, Workspace,
};
