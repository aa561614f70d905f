//! Where each file of a data dir lives.

use std::path::{Path, PathBuf};

use crate::states::StateName;

/// A volume's metadata file, in its directory.
pub const VOLUME_METADATA: &str = "metadata.json";
/// A volume's ciphertext file, in its directory.
pub const VOLUME_DATA: &str = "data.img";
/// A volume's lock file, in its directory.
pub const VOLUME_LOCK: &str = "lock";

/// A data dir: every persistent file of ebsim lives below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data dir at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `DIR/kms/`: the KMS state, its lock, the service credential, the endpoint record.
    pub fn kms(&self) -> PathBuf {
        self.root.join("kms")
    }

    /// `DIR/kms/state.json`.
    pub fn kms_state(&self) -> PathBuf {
        self.kms().join("state.json")
    }

    /// `DIR/kms/state.journal`: the changes made since `state.json` was written
    /// (docs/formats.md, "The KMS journal").
    pub fn kms_journal(&self) -> PathBuf {
        self.kms().join("state.journal")
    }

    /// `DIR/kms/key-last-usage.json`: each key's last successful cryptographic use
    /// (GetKeyLastUsage), written when the KMS closes (docs/formats.md).
    pub fn kms_key_last_usage(&self) -> PathBuf {
        self.kms().join("key-last-usage.json")
    }

    /// `DIR/kms/.lock`: held by whichever process has the KMS open.
    pub fn kms_lock(&self) -> PathBuf {
        self.kms().join(".lock")
    }

    /// `DIR/kms/endpoint`: the record of a running `ebsim kms serve`.
    pub fn kms_endpoint(&self) -> PathBuf {
        self.kms().join("endpoint")
    }

    /// `DIR/kms/service-credential`.
    pub fn service_credential(&self) -> PathBuf {
        self.kms().join("service-credential")
    }

    /// `DIR/kms/root-credentials`: the account roots' access keys for strict servers.
    pub fn root_credentials(&self) -> PathBuf {
        self.kms().join("root-credentials")
    }

    /// `DIR/audit/`: the KMS audit trail and its rotated files.
    pub fn audit(&self) -> PathBuf {
        self.root.join("audit")
    }

    /// `DIR/audit/kms-audit.jsonl`.
    pub fn audit_log(&self) -> PathBuf {
        self.audit().join("kms-audit.jsonl")
    }

    /// `DIR/volumes/`.
    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// `DIR/volumes/<id>/`.
    pub fn volume(&self, volume_id: &str) -> PathBuf {
        self.volumes().join(volume_id)
    }

    /// `DIR/volumes/<id>/metadata.json`.
    pub fn volume_metadata(&self, volume_id: &str) -> PathBuf {
        self.volume(volume_id).join(VOLUME_METADATA)
    }

    /// `DIR/volumes/<id>/data.img`.
    pub fn volume_data(&self, volume_id: &str) -> PathBuf {
        self.volume(volume_id).join(VOLUME_DATA)
    }

    /// `DIR/volumes/<id>/lock`: held while the volume is attached.
    pub fn volume_lock(&self, volume_id: &str) -> PathBuf {
        self.volume(volume_id).join(VOLUME_LOCK)
    }

    /// `DIR/workspaces/`: one `<ws-id>.json` record per WorkSpace.
    pub fn workspaces(&self) -> PathBuf {
        self.root.join("workspaces")
    }

    /// `DIR/states/`: the saved states (`ebsim state save`).
    pub fn states(&self) -> PathBuf {
        self.root.join("states")
    }

    /// `DIR/states/NAME/`: one saved state, laid out as a data dir (`kms/state.json`,
    /// `volumes/`, `workspaces/`).
    pub fn state(&self, name: &StateName) -> PathBuf {
        self.states().join(name.as_str())
    }
}
