//! [`Simulator`]: KMS, EBS and WorkSpaces in one handle, for tests and embedders.

use std::path::{Path, PathBuf};

use ebsim_kms_client::{ClientError, KmsClient};
use ebsim_volume::VolumeRoot;
use serde_json::{Value, json};

use crate::{Ebs, WorkSpaces};

/// The region the simulator's services run in.
pub const DEFAULT_REGION: &str = "us-west-2";

/// A fault to inject into the KMS (admin `SetFault`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Every matching call fails with `KMSInternalException`.
    Outage,
    /// Matching calls are throttled (`ThrottlingException`).
    Throttle,
}

/// KMS, EBS and WorkSpaces over one KMS client (in-process or HTTP), with volumes and
/// WorkSpace records either in a data dir or in memory.
#[derive(Debug, Clone)]
pub struct Simulator {
    client: KmsClient,
    ebs: Ebs,
    workspaces: WorkSpaces,
    data_dir: Option<PathBuf>,
}

impl Simulator {
    /// Everything in memory: a fresh KMS (account 111122223333, us-west-2), volumes and
    /// WorkSpace records; the client calls as the account root.
    pub fn in_memory() -> Self {
        let kms = ebsim_kms::Kms::in_memory(ebsim_kms::KmsConfig::default());
        Self::with_client(KmsClient::in_process(std::sync::Arc::new(kms)), None)
    }

    /// A data dir (created if missing): its KMS (a running `ebsim kms serve` on it, else the
    /// embedded KMS, locked while this simulator lives), volumes and WorkSpace records.
    ///
    /// # Errors
    /// The KMS could not be opened (e.g. another process holds it and no server answers).
    pub fn open(data_dir: &Path) -> Result<Self, ClientError> {
        ebsim_data_dir::create_private_dir_all(data_dir).map_err(|e| ClientError::Open {
            dir: data_dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let client = KmsClient::for_data_dir(data_dir, None, None)?;
        Ok(Self::with_client(client, Some(data_dir)))
    }

    /// A simulator calling KMS through `client`; volumes and WorkSpace records live under
    /// `data_dir` (`volumes/`, `workspaces/`), or in memory when `None`.
    pub fn with_client(client: KmsClient, data_dir: Option<&Path>) -> Self {
        let volumes = data_dir.map_or_else(VolumeRoot::in_memory, VolumeRoot::dir);
        // The client's region, if it has one.
        let region = client
            .region()
            .map_or(DEFAULT_REGION, ebsim_kms_api::Region::as_str);
        let ebs = Ebs::new(client.clone(), volumes, region);
        let workspaces = WorkSpaces::new(ebs.clone(), region, data_dir);
        Self {
            client,
            ebs,
            workspaces,
            data_dir: data_dir.map(Path::to_path_buf),
        }
    }

    /// The KMS client (calls as the account root by default).
    pub fn kms(&self) -> &KmsClient {
        &self.client
    }

    /// The EBS control plane.
    pub fn ebs(&self) -> &Ebs {
        &self.ebs
    }

    /// The WorkSpaces control plane.
    pub fn workspaces(&self) -> &WorkSpaces {
        &self.workspaces
    }

    /// The data dir, when the simulator has one.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    /// Injects a fault into the KMS for `operation` (`"*"` for every operation).
    ///
    /// # Errors
    /// The admin call failed (e.g. the client is not the account root).
    pub fn inject_fault(&self, operation: &str, fault: Fault) -> Result<(), ClientError> {
        let kind = match fault {
            Fault::Outage => "outage",
            Fault::Throttle => "throttle",
        };
        self.client
            .admin("SetFault", json!({"Operation": operation, "Kind": kind}))
            .map(drop)
    }

    /// Removes every injected fault.
    ///
    /// # Errors
    /// The admin call failed.
    pub fn clear_faults(&self) -> Result<(), ClientError> {
        self.client.admin("ClearFaults", json!({})).map(drop)
    }

    /// The KMS audit trail (CloudTrail-shaped records), oldest first.
    ///
    /// # Errors
    /// The admin call failed.
    pub fn audit_records(&self) -> Result<Vec<Value>, ClientError> {
        let out = self.client.admin("ReadAudit", json!({}))?;
        Ok(out["Records"].as_array().cloned().unwrap_or_default())
    }
}
