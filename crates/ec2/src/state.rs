//! The EC2 control-plane state: volumes, instances, attachments and encryption by default,
//! per account and region, persisted as `DIR/ec2/state.json` (0600, written atomically) by
//! the one process that holds the data dir's KMS lock (docs/formats.md, "EC2 state").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The largest state file read (a bound on input from a file).
const MAX_STATE_BYTES: u64 = 64 << 20;

/// A volume's state (`creating` is only ever answered by CreateVolume itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeStatus {
    /// Ready to attach.
    Available,
    /// Attached to an instance.
    InUse,
    /// Creation failed (an unusable KMS key).
    Error,
}

impl VolumeStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::InUse => "in-use",
            Self::Error => "error",
        }
    }
}

/// A volume's attachment to an instance, with the grant that lets the instance's EC2
/// infrastructure session unwrap the volume's data key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// `i-…`
    pub instance_id: String,
    /// `/dev/sdf`, …
    pub device: String,
    /// ISO 8601.
    pub attach_time: String,
    /// Whether terminating the instance deletes the volume.
    pub delete_on_termination: bool,
    /// The attachment's KMS grant (encrypted volumes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// Its grantee: `arn:aws:sts::ACCOUNT:assumed-role/aws:ec2-infrastructure/INSTANCE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee: Option<String>,
}

/// One EBS volume as EC2 describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// `vol-…`
    pub volume_id: String,
    /// GiB.
    pub size_gib: u64,
    /// `gp2`, `gp3`, `io1`, `io2`, `st1`, `sc1`, `standard`.
    pub volume_type: String,
    /// Provisioned (gp3, io1, io2) or reported (gp2) IOPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
    /// MiB/s (gp3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<u32>,
    /// `us-west-2a`, …
    pub availability_zone: String,
    /// Whether the volume is encrypted (then it has data under `DIR/volumes/`).
    pub encrypted: bool,
    /// The key ARN (or, when it could not be resolved, the key as named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// The state.
    pub status: VolumeStatus,
    /// ISO 8601.
    pub create_time: String,
    /// The snapshot it was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The attachment, when `in-use`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    /// Why creation failed, when `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_cause: Option<String>,
    /// The principal that created it.
    pub creator: String,
}

/// An instance state, with AWS's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    /// 0
    Pending,
    /// 16
    Running,
    /// 32
    ShuttingDown,
    /// 48
    Terminated,
    /// 64
    Stopping,
    /// 80
    Stopped,
}

impl InstanceState {
    /// `(code, name)` as the wire carries them.
    pub fn wire(self) -> (u32, &'static str) {
        match self {
            Self::Pending => (0, "pending"),
            Self::Running => (16, "running"),
            Self::ShuttingDown => (32, "shutting-down"),
            Self::Terminated => (48, "terminated"),
            Self::Stopping => (64, "stopping"),
            Self::Stopped => (80, "stopped"),
        }
    }
}

/// Why an instance is in its state (`Client.InternalError` after a launch with an unusable
/// key, `Client.UserInitiatedShutdown`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReason {
    /// The code.
    pub code: String,
    /// The message.
    pub message: String,
}

/// One simulated instance: nothing runs, it has an id, a state and attachments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// `i-…`
    pub instance_id: String,
    /// `r-…`
    pub reservation_id: String,
    /// `ami-…`, as given.
    pub image_id: String,
    /// `t3.micro`, …
    pub instance_type: String,
    /// The zone.
    pub availability_zone: String,
    /// The state.
    pub state: InstanceState,
    /// Why, when it stopped or terminated for a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<StateReason>,
    /// ISO 8601.
    pub launch_time: String,
    /// The account that owns it.
    pub owner_id: String,
    /// Its root device name.
    pub root_device_name: String,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Encryption by default, per account and region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionByDefault {
    /// Whether new volumes are encrypted whatever `Encrypted` says.
    pub enabled: bool,
    /// The default key as the customer named it (None: `alias/aws/ebs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

/// The EC2 state of one account in one region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Volumes by id.
    #[serde(default)]
    pub volumes: BTreeMap<String, Volume>,
    /// Instances by id.
    #[serde(default)]
    pub instances: BTreeMap<String, Instance>,
    /// Encryption by default.
    #[serde(default)]
    pub encryption_by_default: EncryptionByDefault,
    /// The tags of snapshots, by snapshot id (the snapshots themselves are the snapshot
    /// engine's, under `DIR/snapshots/`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub snapshot_tags: BTreeMap<String, BTreeMap<String, String>>,
}

/// The whole EC2 state: scopes keyed `ACCOUNT/REGION`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec2State {
    /// The format version (1).
    pub version: u32,
    /// The scopes.
    #[serde(default)]
    pub scopes: BTreeMap<String, Scope>,
}

/// The key of a scope.
pub fn scope_key(account: &str, region: &str) -> String {
    format!("{account}/{region}")
}

/// `DIR/ec2/state.json`.
pub fn state_file(dir: &Path) -> PathBuf {
    dir.join("ec2").join("state.json")
}

impl Ec2State {
    /// The scope of `account` in `region`, created empty when missing.
    pub fn scope_mut(&mut self, account: &str, region: &str) -> &mut Scope {
        self.scopes.entry(scope_key(account, region)).or_default()
    }

    /// The volume `id` in any scope, with its scope key.
    pub fn find_volume(&self, id: &str) -> Option<(&str, &Volume)> {
        self.scopes
            .iter()
            .find_map(|(k, s)| s.volumes.get(id).map(|v| (k.as_str(), v)))
    }

    /// Reads `DIR/ec2/state.json` (an empty state when there is none).
    ///
    /// # Errors
    /// A message naming the file when it cannot be read or parsed.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = state_file(dir);
        match ebsim_data_dir::read_regular(&path, MAX_STATE_BYTES) {
            Ok(bytes) => {
                let st: Self = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{} is not valid EC2 state: {e}", path.display()))?;
                if st.version != 1 {
                    return Err(format!(
                        "{} has format version {}, this build reads version 1",
                        path.display(),
                        st.version
                    ));
                }
                Ok(st)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self {
                version: 1,
                scopes: BTreeMap::new(),
            }),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes `DIR/ec2/state.json` (directory 0700, file 0600, atomically).
    ///
    /// # Errors
    /// A message naming the file.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        let path = state_file(dir);
        let parent = dir.join("ec2");
        ebsim_data_dir::create_private_dir_all(&parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| format!("cannot encode the EC2 state: {e}"))?;
        ebsim_data_dir::write_private_atomic(&path, &json)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// Now, ISO 8601 with milliseconds as EC2 writes it (`2026-01-02T03:04:05.000Z`).
pub fn now_iso() -> String {
    let now = jiff::Timestamp::now();
    format!("{}", now.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_privately() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(Ec2State::load(dir.path()).expect("empty").scopes.len(), 0);
        let mut st = Ec2State {
            version: 1,
            ..Default::default()
        };
        st.scope_mut("111122223333", "us-west-2")
            .encryption_by_default
            .enabled = true;
        st.save(dir.path()).expect("save");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(state_file(dir.path()))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(Ec2State::load(dir.path()).expect("load"), st);
        std::fs::write(state_file(dir.path()), b"{\"version\": 9}").expect("write");
        assert!(Ec2State::load(dir.path()).is_err());
        assert!(now_iso().ends_with(".000Z"));
    }
}
