//! The WorkSpaces control plane: launch, reboot, rebuild, terminate.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ebsim_io::SectorSize;
use ebsim_kms_api::types::grants::{CreateGrantRequest, GrantConstraints, RetireGrantRequest};
use ebsim_kms_client::{EncryptionContext, Identity, WORKSPACES_CONTEXT_KEY};
use ebsim_volume::{AttachedVolume, VolumeOwner};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::ebs::{CreateVolumeRequest, DEFAULT_CALLER, Ebs, arn_account};
use crate::error::{ControlPlaneError, kms_err};

/// The key WorkSpaces uses when none is named.
pub const DEFAULT_WORKSPACES_KEY: &str = "alias/aws/workspaces";
/// Default root volume size in tests and the demo (small on purpose).
pub const DEFAULT_ROOT_SIZE: u64 = 8 << 20;
/// Default user volume size.
pub const DEFAULT_USER_SIZE: u64 = 8 << 20;

/// Lifecycle state of a WorkSpace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkspaceState {
    /// Accepted, being launched.
    Pending,
    /// Running; both volumes attached.
    Available,
    /// Its volumes could not be attached (e.g. the key is disabled).
    Unhealthy,
    /// Being rebooted.
    Rebooting,
    /// Being rebuilt.
    Rebuilding,
    /// Stopped: both volumes detached, their keys out of memory.
    Stopped,
    /// The launch failed after it was accepted (`error_code`, `error_message` say why).
    Error,
    /// Being terminated.
    Terminating,
    /// Terminated: volumes deleted, grants retired.
    Terminated,
}

impl WorkspaceState {
    /// The name AWS gives the state (`AVAILABLE`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Available => "AVAILABLE",
            Self::Unhealthy => "UNHEALTHY",
            Self::Rebooting => "REBOOTING",
            Self::Rebuilding => "REBUILDING",
            Self::Stopped => "STOPPED",
            Self::Error => "ERROR",
            Self::Terminating => "TERMINATING",
            Self::Terminated => "TERMINATED",
        }
    }
}

/// `DIR/workspaces/<ws-id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// `ws-` + 10 lowercase letters/digits.
    pub workspace_id: String,
    /// The user's AD SID.
    pub user_sid: String,
    /// The directory id.
    pub directory_id: String,
    /// ARN of the key encrypting both volumes.
    pub kms_key_arn: String,
    /// The WorkSpaces grant on the key (constrained to this user and directory).
    pub grant_id: String,
    /// The grantee of that grant: the WorkSpaces infrastructure session of this WorkSpace.
    pub grantee_principal: String,
    /// The admin who launched it (its grant's retiring principal).
    pub admin: String,
    /// Root volume id.
    pub root_volume_id: String,
    /// User volume id.
    pub user_volume_id: String,
    /// State.
    pub state: WorkspaceState,
    /// Creation time, seconds since the Unix epoch.
    pub created_time: u64,
    /// The user's name in the directory (WorkSpaces API launches).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_name: String,
    /// The bundle it was launched from (WorkSpaces API launches).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bundle_id: String,
    /// `WorkspaceProperties` as the WorkSpaces API reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Value>,
    /// Why it is in `ERROR` or `UNHEALTHY`: the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Why it is in `ERROR` or `UNHEALTHY`: the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// What Launch needs.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    /// The user's AD SID (`S-1-…`).
    pub user_sid: String,
    /// The directory id (`d-…`).
    pub directory_id: String,
    /// The key (`alias/aws/workspaces` when `None`): id, ARN or alias.
    pub key_id: Option<String>,
    /// The admin principal (needs `kms:CreateGrant` on the key); the account root when `None`.
    pub admin: Option<String>,
    /// Root volume size.
    pub root_size: u64,
    /// User volume size.
    pub user_size: u64,
}

/// The WorkSpaces API's part of a launch: the user's name, bundle and properties recorded.
#[derive(Debug, Clone, Default)]
pub struct LaunchExtras {
    /// The user's name in the directory.
    pub user_name: String,
    /// The bundle id.
    pub bundle_id: String,
    /// `WorkspaceProperties`.
    pub properties: Option<serde_json::Value>,
    /// The WorkSpace id to use (made here when `None`).
    pub workspace_id: Option<String>,
}

impl LaunchRequest {
    /// A WorkSpace for `user_sid` in `directory_id` with the default key and sizes.
    pub fn new(user_sid: impl Into<String>, directory_id: impl Into<String>) -> Self {
        Self {
            user_sid: user_sid.into(),
            directory_id: directory_id.into(),
            key_id: None,
            admin: None,
            root_size: DEFAULT_ROOT_SIZE,
            user_size: DEFAULT_USER_SIZE,
        }
    }
}

/// Whether `s` is a WorkSpace id: `ws-` + 8..=63 lowercase letters or digits.
pub fn is_workspace_id(s: &str) -> bool {
    s.strip_prefix("ws-").is_some_and(|r| {
        (8..=63).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// A new WorkSpace id: `ws-` + 10 lowercase letters or digits.
pub fn new_workspace_id() -> String {
    use rand::RngExt as _;
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let tail: String = (0..10)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("ws-{tail}")
}

#[derive(Clone)]
enum Records {
    Dir(PathBuf),
    Memory(Arc<Mutex<BTreeMap<String, Workspace>>>),
}

/// The attached volumes of a running WorkSpace (in this process).
struct Running {
    root: AttachedVolume,
    user: AttachedVolume,
}

/// The WorkSpaces control plane.
#[derive(Clone)]
pub struct WorkSpaces {
    ebs: Ebs,
    region: String,
    records: Records,
    running: Arc<Mutex<HashMap<String, Running>>>,
    /// Whether this process keeps a running WorkSpace's volumes attached (the CLI and
    /// embedders), or only checks at each start that its keys unwrap and lets them go, so
    /// that the volumes stay free for `ebsim volume write` (the server).
    hold: bool,
}

impl std::fmt::Debug for WorkSpaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkSpaces")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

fn now_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl WorkSpaces {
    /// WorkSpaces over `ebs`, keeping records under `data_dir/workspaces/` (or in memory).
    pub fn new(ebs: Ebs, region: impl Into<String>, data_dir: Option<&Path>) -> Self {
        Self {
            ebs,
            region: region.into(),
            records: match data_dir {
                Some(d) => Records::Dir(d.join("workspaces")),
                None => Records::Memory(Arc::default()),
            },
            running: Arc::default(),
            hold: true,
        }
    }

    /// A WorkSpaces that checks at each start that the volumes' keys unwrap (attach, then
    /// detach at once) instead of keeping them attached in this process.
    #[must_use]
    pub fn check_only(mut self) -> Self {
        self.hold = false;
        self
    }

    /// The EBS control plane underneath.
    pub fn ebs(&self) -> &Ebs {
        &self.ebs
    }

    fn via_service(&self) -> String {
        format!("workspaces.{}.amazonaws.com", self.region)
    }

    fn save(&self, ws: &Workspace) -> Result<(), ControlPlaneError> {
        match &self.records {
            Records::Memory(m) => {
                m.lock().insert(ws.workspace_id.clone(), ws.clone());
                Ok(())
            }
            Records::Dir(d) => {
                let path = d.join(format!("{}.json", ws.workspace_id));
                let err = |e: std::io::Error| ControlPlaneError::Record {
                    path: path.clone(),
                    message: e.to_string(),
                };
                ebsim_data_dir::create_private_dir_all(d).map_err(err)?;
                let json = serde_json::to_vec_pretty(ws).unwrap_or_default();
                ebsim_data_dir::write_private_atomic(&path, &json).map_err(err)
            }
        }
    }

    /// A WorkSpace's record.
    ///
    /// # Errors
    /// [`ControlPlaneError::InvalidWorkspaceId`], [`ControlPlaneError::WorkspaceNotFound`], or
    /// an unreadable record.
    pub fn describe(&self, workspace_id: &str) -> Result<Workspace, ControlPlaneError> {
        if !is_workspace_id(workspace_id) {
            return Err(ControlPlaneError::InvalidWorkspaceId(
                workspace_id.to_owned(),
            ));
        }
        match &self.records {
            Records::Memory(m) => m
                .lock()
                .get(workspace_id)
                .cloned()
                .ok_or_else(|| ControlPlaneError::WorkspaceNotFound(workspace_id.to_owned())),
            Records::Dir(d) => {
                let path = d.join(format!("{workspace_id}.json"));
                let bytes = match ebsim_data_dir::read_regular(&path, 1 << 20) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(ControlPlaneError::WorkspaceNotFound(
                            workspace_id.to_owned(),
                        ));
                    }
                    Err(e) => {
                        return Err(ControlPlaneError::Record {
                            path,
                            message: e.to_string(),
                        });
                    }
                };
                serde_json::from_slice(&bytes).map_err(|e| ControlPlaneError::Record {
                    path,
                    message: e.to_string(),
                })
            }
        }
    }

    /// Every WorkSpace, sorted by id.
    ///
    /// # Errors
    /// An unreadable record.
    pub fn list(&self) -> Result<Vec<Workspace>, ControlPlaneError> {
        match &self.records {
            Records::Memory(m) => Ok(m.lock().values().cloned().collect()),
            Records::Dir(d) => {
                let Ok(entries) = std::fs::read_dir(d) else {
                    return Ok(Vec::new());
                };
                let mut ids: Vec<String> = entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
                    .filter(|n| is_workspace_id(n))
                    .collect();
                ids.sort();
                ids.iter().map(|id| self.describe(id)).collect()
            }
        }
    }

    /// Launch: DescribeKey and CreateGrant as the admin (via WorkSpaces) — the WorkSpace's
    /// grant, constrained to its `sid-directoryid` pair, with CreateGrant among its operations
    /// so that each EBS volume grant is its child — then a root and a user volume created by
    /// EBS on behalf of the WorkSpace's session, both attached in this process.
    ///
    /// # Errors
    /// A malformed SID or directory, a KMS refusal naming the operation (e.g. an admin without
    /// `kms:CreateGrant`), an asymmetric key, or a volume error. What was made is undone.
    pub fn launch(&self, req: &LaunchRequest) -> Result<Workspace, ControlPlaneError> {
        self.launch_with(req, LaunchExtras::default())
    }

    /// [`WorkSpaces::launch`] with the WorkSpaces API's fields recorded.
    ///
    /// # Errors
    /// As [`WorkSpaces::launch`].
    pub fn launch_with(
        &self,
        req: &LaunchRequest,
        extras: LaunchExtras,
    ) -> Result<Workspace, ControlPlaneError> {
        let admin = req
            .admin
            .clone()
            .unwrap_or_else(|| DEFAULT_CALLER.to_owned());
        let account = arn_account(&admin)
            .unwrap_or(ebsim_kms_api::id::DEFAULT_ACCOUNT)
            .to_owned();
        let owner = VolumeOwner {
            user_sid: req.user_sid.clone(),
            directory_id: req.directory_id.clone(),
        };
        // Validates the SID and directory id (any valid volume id will do here).
        let pair_ctx =
            EncryptionContext::workspaces("vol-00000000", &req.user_sid, &req.directory_id)?;
        let pair = pair_ctx
            .get(WORKSPACES_CONTEXT_KEY)
            .unwrap_or_default()
            .to_owned();
        let admin_id = Identity::OnBehalfOf {
            principal: admin.clone(),
            via_service: self.via_service(),
        };
        let key_id = req
            .key_id
            .clone()
            .unwrap_or_else(|| DEFAULT_WORKSPACES_KEY.to_owned());
        let key = self.ebs.describe_key(&admin_id, &key_id)?;
        if key.key_spec != "SYMMETRIC_DEFAULT" || key.key_usage != "ENCRYPT_DECRYPT" {
            return Err(ControlPlaneError::NotSymmetric {
                key_arn: key.arn,
                key_spec: key.key_spec,
                key_usage: key.key_usage,
            });
        }
        let workspace_id = extras.workspace_id.clone().unwrap_or_else(new_workspace_id);
        let session = format!(
            "arn:aws:sts::{account}:assumed-role/aws:workspaces-infrastructure/{workspace_id}"
        );
        let grant = self
            .ebs
            .client()
            .send(
                &admin_id,
                &CreateGrantRequest {
                    key_id: Some(key.arn.clone()),
                    grantee_principal: Some(session.clone()),
                    retiring_principal: Some(admin.clone()),
                    operations: Some(
                        ["Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant"]
                            .map(str::to_owned)
                            .to_vec(),
                    ),
                    constraints: Some(GrantConstraints {
                        encryption_context_subset: Some(
                            [(WORKSPACES_CONTEXT_KEY.to_owned(), pair.clone())].into(),
                        ),
                        encryption_context_equals: None,
                    }),
                    name: Some(workspace_id.clone()),
                    ..Default::default()
                },
            )
            .map_err(|e| kms_err("CreateGrant", &key.arn, e))?;
        if grant.grant_id.is_empty() {
            return Err(ControlPlaneError::Protocol {
                operation: "CreateGrant",
                message: "no GrantId".into(),
            });
        }
        let grant_id = grant.grant_id;
        let retire = |key_arn: &str, grant_id: &str| RetireGrantRequest {
            key_id: Some(key_arn.to_owned()),
            grant_id: Some(grant_id.to_owned()),
            ..Default::default()
        };
        let retire_ws_grant = || {
            let _ = self
                .ebs
                .client()
                .send(&admin_id, &retire(&key.arn, &grant_id));
        };
        let volume_req = |size| CreateVolumeRequest {
            size_bytes: size,
            sector_size: SectorSize::S4096,
            key_id: Some(key.arn.clone()),
            owner: Some(owner.clone()),
            caller: Some(session.clone()),
            key_info: Some(key.clone()),
        };
        let root = match self.ebs.create_volume(&volume_req(req.root_size)) {
            Ok(v) => v,
            Err(e) => {
                retire_ws_grant();
                return Err(e);
            }
        };
        let user = match self.ebs.create_volume(&volume_req(req.user_size)) {
            Ok(v) => v,
            Err(e) => {
                let _ = self.ebs.delete_volume(&root.volume_id, None);
                retire_ws_grant();
                return Err(e);
            }
        };
        let ws = Workspace {
            workspace_id: workspace_id.clone(),
            user_sid: req.user_sid.clone(),
            directory_id: req.directory_id.clone(),
            kms_key_arn: key.arn.clone(),
            grant_id: grant_id.clone(),
            grantee_principal: session.clone(),
            admin: admin.clone(),
            root_volume_id: root.volume_id.clone(),
            user_volume_id: user.volume_id.clone(),
            state: WorkspaceState::Available,
            created_time: now_epoch(),
            user_name: extras.user_name,
            bundle_id: extras.bundle_id,
            properties: extras.properties,
            error_code: None,
            error_message: None,
        };
        let attached = self.attach_both(&ws);
        let ws = match attached {
            Ok(()) => ws,
            Err(e) => {
                let _ = self.ebs.delete_volume(&root.volume_id, None);
                let _ = self.ebs.delete_volume(&user.volume_id, None);
                retire_ws_grant();
                return Err(e);
            }
        };
        if let Err(e) = self.save(&ws) {
            self.running.lock().remove(&workspace_id);
            return Err(e);
        }
        Ok(ws)
    }

    fn attach_both(&self, ws: &Workspace) -> Result<(), ControlPlaneError> {
        let root = self.ebs.attach(&ws.root_volume_id)?;
        let user = self.ebs.attach(&ws.user_volume_id)?;
        self.ebs
            .set_attachment(&ws.root_volume_id, Some(&ws.workspace_id))?;
        self.ebs
            .set_attachment(&ws.user_volume_id, Some(&ws.workspace_id))?;
        if self.hold {
            self.running
                .lock()
                .insert(ws.workspace_id.clone(), Running { root, user });
        } else {
            root.detach()?;
            user.detach()?;
        }
        Ok(())
    }

    fn detach_both(&self, workspace_id: &str) -> Result<(), ControlPlaneError> {
        if let Some(r) = self.running.lock().remove(workspace_id) {
            r.root.detach()?;
            r.user.detach()?;
        }
        Ok(())
    }

    fn live(&self, workspace_id: &str) -> Result<Workspace, ControlPlaneError> {
        let ws = self.describe(workspace_id)?;
        if ws.state == WorkspaceState::Terminated {
            return Err(ControlPlaneError::WorkspaceTerminated(
                workspace_id.to_owned(),
            ));
        }
        Ok(ws)
    }

    /// Runs `f` with the attached root and user volumes of a running WorkSpace.
    ///
    /// # Errors
    /// [`ControlPlaneError::WorkspaceNotFound`] when it is not running in this process.
    pub fn with_volumes<T>(
        &self,
        workspace_id: &str,
        f: impl FnOnce(&AttachedVolume, &AttachedVolume) -> T,
    ) -> Result<T, ControlPlaneError> {
        let running = self.running.lock();
        let r = running
            .get(workspace_id)
            .ok_or_else(|| ControlPlaneError::WorkspaceNotFound(workspace_id.to_owned()))?;
        Ok(f(&r.root, &r.user))
    }

    /// Starts a WorkSpace whose volumes are not attached in this process (e.g. launched by
    /// an earlier command): attaches both from their stored wrapped keys.
    ///
    /// # Errors
    /// As [`WorkSpaces::reboot`].
    pub fn start(&self, workspace_id: &str) -> Result<Workspace, ControlPlaneError> {
        let ws = self.live(workspace_id)?;
        if self.running.lock().contains_key(workspace_id) {
            return Ok(ws);
        }
        self.reattach(ws)
    }

    /// Stop: both volumes detached (their keys leave memory); `STOPPED`.
    ///
    /// # Errors
    /// A missing or terminated WorkSpace, a volume error.
    pub fn stop(&self, workspace_id: &str) -> Result<Workspace, ControlPlaneError> {
        let mut ws = self.live(workspace_id)?;
        self.detach_both(workspace_id)?;
        ws.state = WorkspaceState::Stopped;
        self.save(&ws)?;
        Ok(ws)
    }

    /// Records `ws` as it is (the WorkSpaces API's `ERROR` WorkSpaces).
    ///
    /// # Errors
    /// The record cannot be written.
    pub fn record(&self, ws: &Workspace) -> Result<(), ControlPlaneError> {
        self.save(ws)
    }

    fn reattach(&self, mut ws: Workspace) -> Result<Workspace, ControlPlaneError> {
        match self.attach_both(&ws) {
            Ok(()) => {
                ws.state = WorkspaceState::Available;
                ws.error_code = None;
                ws.error_message = None;
                self.save(&ws)?;
                Ok(ws)
            }
            Err(e) => {
                ws.state = WorkspaceState::Unhealthy;
                ws.error_code = Some(
                    e.kms_error_type()
                        .map_or("InternalError", |t| t.name())
                        .to_owned(),
                );
                ws.error_message = Some(e.to_string());
                self.save(&ws)?;
                Err(e)
            }
        }
    }

    /// Reboot: detach both volumes (the keys leave memory), then attach them again from the
    /// wrapped keys in their metadata (steps 5–6 again). Data survives. With the key disabled
    /// the WorkSpace becomes unhealthy and the error names the KMS error.
    ///
    /// # Errors
    /// The attach failure, or a missing/terminated WorkSpace.
    pub fn reboot(&self, workspace_id: &str) -> Result<Workspace, ControlPlaneError> {
        let ws = self.live(workspace_id)?;
        self.detach_both(workspace_id)?;
        self.reattach(ws)
    }

    /// Rebuild: a new root volume (the old one deleted, its grant retired); the user volume
    /// is kept and re-attached.
    ///
    /// # Errors
    /// As [`WorkSpaces::launch`].
    pub fn rebuild(&self, workspace_id: &str) -> Result<Workspace, ControlPlaneError> {
        let mut ws = self.live(workspace_id)?;
        let root_size = self
            .ebs
            .volumes()
            .load(&ws.root_volume_id)
            .map_or(DEFAULT_ROOT_SIZE, |m| m.size_bytes);
        self.detach_both(workspace_id)?;
        self.ebs.set_attachment(&ws.root_volume_id, None)?;
        self.ebs
            .delete_volume(&ws.root_volume_id, Some(&ws.grantee_principal))?;
        let key = self.ebs.describe_key(
            &Identity::OnBehalfOf {
                principal: ws.admin.clone(),
                via_service: self.via_service(),
            },
            &ws.kms_key_arn,
        )?;
        let root = self.ebs.create_volume(&CreateVolumeRequest {
            size_bytes: root_size,
            sector_size: SectorSize::S4096,
            key_id: Some(ws.kms_key_arn.clone()),
            owner: Some(VolumeOwner {
                user_sid: ws.user_sid.clone(),
                directory_id: ws.directory_id.clone(),
            }),
            caller: Some(ws.grantee_principal.clone()),
            key_info: Some(key),
        })?;
        ws.root_volume_id = root.volume_id;
        self.save(&ws)?;
        self.reattach(ws)
    }

    /// Terminate: detach both volumes, delete them (retiring each EBS grant), retire the
    /// WorkSpace's grant. Afterwards EBS cannot unwrap the old data keys.
    ///
    /// # Errors
    /// A volume or KMS error (the WorkSpace is left as it was up to that point).
    pub fn terminate(&self, workspace_id: &str) -> Result<Workspace, ControlPlaneError> {
        let mut ws = self.live(workspace_id)?;
        self.detach_both(workspace_id)?;
        for vol in [&ws.root_volume_id, &ws.user_volume_id] {
            if self.ebs.volumes().load(vol).is_ok() {
                self.ebs.set_attachment(vol, None)?;
                self.ebs.delete_volume(vol, Some(&ws.grantee_principal))?;
            }
        }
        let admin_id = Identity::OnBehalfOf {
            principal: ws.admin.clone(),
            via_service: self.via_service(),
        };
        let retire = RetireGrantRequest {
            key_id: Some(ws.kms_key_arn.clone()),
            grant_id: Some(ws.grant_id.clone()),
            ..Default::default()
        };
        match self.ebs.client().send(&admin_id, &retire) {
            Ok(_) => {}
            Err(e) if e.kms_error_type().map(|t| t.name()) == Some("NotFoundException") => {}
            Err(e) => return Err(kms_err("RetireGrant", &ws.kms_key_arn, e)),
        }
        ws.state = WorkspaceState::Terminated;
        self.save(&ws)?;
        Ok(ws)
    }
}
