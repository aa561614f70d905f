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

/// Why [`Simulator::serve`] could not start a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Only an in-memory simulator is served in process; a data dir has `ebsim serve`.
    #[error(
        "only an in-memory simulator can be served in process; serve a data dir with `ebsim serve`"
    )]
    NotInMemory,
    /// The server could not bind or start.
    #[error(transparent)]
    Server(#[from] ebsim_kms_server::ServerError),
}

/// A simulator served on a loopback port ([`Simulator::serve`]); the server stops (finishing
/// in-flight requests) when this is dropped.
#[derive(Debug)]
pub struct Endpoint {
    handle: ebsim_kms_server::ServerHandle,
}

impl Endpoint {
    /// The endpoint URL (`http://127.0.0.1:PORT`) for KMS, IAM and STS alike.
    pub fn url(&self) -> String {
        self.handle.url()
    }

    /// The region the simulator's services run in.
    pub fn region(&self) -> &'static str {
        DEFAULT_REGION
    }

    /// The access key id of the account root (`test`).
    pub fn access_key_id(&self) -> &'static str {
        ebsim_kms_api::BUILTIN_ACCESS_KEY
    }

    /// The secret of the account root's key (`test`).
    pub fn secret_access_key(&self) -> &'static str {
        "test"
    }
}

/// KMS, EBS and WorkSpaces over one KMS client (in-process or HTTP), with volumes and
/// WorkSpace records either in a data dir or in memory.
#[derive(Debug, Clone)]
pub struct Simulator {
    client: KmsClient,
    /// The KMS of an in-memory simulator, which [`Simulator::serve`] can put on a port.
    local: Option<std::sync::Arc<ebsim_kms::Kms>>,
    ebs: Ebs,
    workspaces: WorkSpaces,
    data_dir: Option<PathBuf>,
}

impl Simulator {
    /// Everything in memory: a fresh KMS (account 111122223333, us-west-2), volumes and
    /// WorkSpace records; the client calls as the account root.
    pub fn in_memory() -> Self {
        let kms = std::sync::Arc::new(ebsim_kms::Kms::in_memory(ebsim_kms::KmsConfig::default()));
        Self {
            local: Some(kms.clone()),
            ..Self::with_client(KmsClient::in_process(kms), None)
        }
    }

    /// Serves this in-memory simulator's KMS, with IAM and STS, on a free loopback port of
    /// this process (the server of `ebsim serve`), until the returned [`Endpoint`] is
    /// dropped: the AWS SDKs, boto3 and aws-cli reach it with [`Endpoint::url`] and the
    /// account root's credentials ([`Endpoint::access_key_id`], `test`/`test`), and see what
    /// this handle's calls do (docs/iam.md).
    ///
    /// # Errors
    /// [`ServeError::NotInMemory`] for a simulator over a data dir (serve it with
    /// `ebsim serve`); the server's own error when it cannot bind or start.
    pub fn serve(&self) -> Result<Endpoint, ServeError> {
        let kms = self.local.clone().ok_or(ServeError::NotInMemory)?;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let server =
            ebsim_kms_server::KmsServer::bind(kms, ebsim_kms_server::ServerConfig::new(addr))?;
        Ok(Endpoint {
            handle: server.spawn()?,
        })
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
            local: None,
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
