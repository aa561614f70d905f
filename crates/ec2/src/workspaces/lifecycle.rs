//! CreateWorkspaces, DescribeWorkspaces and the lifecycle operations (docs/workspaces.md).

use ebsim_kms_client::Identity;
use ebsim_kms_server::JsonError;
use ebsim_workspaces::{
    ControlPlaneError, LaunchExtras, LaunchRequest, WorkSpaces, Workspace, WorkspaceState,
    arn_account, is_workspace_id, new_workspace_id,
};
use serde_json::{Map, Value, json};

use super::directory::{Directories, bundle, is_directory_id, is_user_name};
use super::{WorkspacesService, Wx, internal, invalid, list, page, string};

const GIB: u64 = 1 << 30;
const KEY_UNAVAILABLE: &str =
    "The specified key is not available. Please provide a valid key for encryption.";
const KEY_NOT_FOUND: &str =
    "The specified key could not be found. Please provide a valid key for encryption.";

/// A WorkSpace as the API answers it.
pub(crate) fn workspace_json(ws: &Workspace, state: Option<WorkspaceState>) -> Value {
    let extra = ws.properties.clone().unwrap_or_else(|| json!({}));
    let flag = |name: &str| extra.get(name).and_then(Value::as_bool).unwrap_or(true);
    let n = ws
        .workspace_id
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    let mut out = Map::new();
    out.insert("WorkspaceId".into(), json!(ws.workspace_id));
    out.insert("DirectoryId".into(), json!(ws.directory_id));
    out.insert("UserName".into(), json!(ws.user_name));
    out.insert(
        "IpAddress".into(),
        json!(format!("10.0.{}.{}", (n >> 8) % 250, n % 250 + 2)),
    );
    out.insert("State".into(), json!(state.unwrap_or(ws.state).as_str()));
    out.insert("BundleId".into(), json!(ws.bundle_id));
    out.insert("SubnetId".into(), json!("subnet-0ebs1m0000000001"));
    out.insert("ComputerName".into(), json!(format!("WSAMZN-{:08X}", n)));
    if !ws.kms_key_arn.is_empty() {
        out.insert("VolumeEncryptionKey".into(), json!(ws.kms_key_arn));
    }
    out.insert(
        "UserVolumeEncryptionEnabled".into(),
        json!(flag("UserVolumeEncryptionEnabled")),
    );
    out.insert(
        "RootVolumeEncryptionEnabled".into(),
        json!(flag("RootVolumeEncryptionEnabled")),
    );
    if let Some(n) = extra.get("WorkspaceName").and_then(Value::as_str) {
        out.insert("WorkspaceName".into(), json!(n));
    }
    if let Some(p) = extra.get("WorkspaceProperties") {
        out.insert("WorkspaceProperties".into(), p.clone());
    }
    if let Some(c) = &ws.error_code {
        out.insert("ErrorCode".into(), json!(c));
    }
    if let Some(m) = &ws.error_message {
        out.insert("ErrorMessage".into(), json!(m));
    }
    out.insert("ModificationStates".into(), json!([]));
    Value::Object(out)
}

/// `^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$`.
fn is_workspace_name(s: &str) -> bool {
    let ok = |b: u8, first: bool| {
        b.is_ascii_alphanumeric()
            || b == b'_'
            || b == b'('
            || b == b')'
            || (!first && (b == b'.' || b == b'-'))
    };
    (2..=64).contains(&s.len()) && s.bytes().enumerate().all(|(i, b)| ok(b, i == 0))
}

fn workspace_name(w: &Workspace) -> Option<&str> {
    w.properties.as_ref()?.get("WorkspaceName")?.as_str()
}

fn failed(req: &Value, code: &str, message: impl Into<String>) -> Value {
    json!({"WorkspaceRequest": req, "ErrorCode": code, "ErrorMessage": message.into()})
}

/// The WorkSpaces of the caller's account (by the account of the principal that made them).
fn mine(plane: &WorkSpaces, wx: &Wx<'_>) -> Result<Vec<Workspace>, JsonError> {
    Ok(plane
        .list()
        .map_err(internal)?
        .into_iter()
        .filter(|w| arn_account(&w.admin) == Some(wx.account.as_str()))
        .collect())
}

/// `WorkspaceProperties` with its defaults, and the volume sizes it asks for.
fn properties(req: &Value, root_gib: u64, user_gib: u64) -> Result<(Value, u64, u64), String> {
    let given = req
        .get("WorkspaceProperties")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let Value::Object(given) = given else {
        return Err("WorkspaceProperties must be an object.".into());
    };
    // Only the members the model has are kept, each bounded (the record stays small).
    let mut p = Map::new();
    for (k, v) in given {
        let ok = match k.as_str() {
            "RunningMode" | "ComputeTypeName" | "OperatingSystemName" => {
                v.as_str().is_some_and(|s| s.len() <= 64)
            }
            "RunningModeAutoStopTimeoutInMinutes" | "RootVolumeSizeGib" | "UserVolumeSizeGib" => {
                v.is_u64()
            }
            "Protocols" => v.as_array().is_some_and(|a| {
                a.len() <= 4 && a.iter().all(|x| x.as_str().is_some_and(|s| s.len() <= 16))
            }),
            _ => continue,
        };
        if !ok {
            return Err(format!("WorkspaceProperties.{k} is not valid."));
        }
        p.insert(k, v);
    }
    let mode = p
        .get("RunningMode")
        .and_then(Value::as_str)
        .unwrap_or("AUTO_STOP")
        .to_owned();
    if !["AUTO_STOP", "ALWAYS_ON", "MANUAL"].contains(&mode.as_str()) {
        return Err(format!("The running mode {mode} is not valid."));
    }
    p.insert("RunningMode".into(), json!(mode));
    if mode == "AUTO_STOP" && !p.contains_key("RunningModeAutoStopTimeoutInMinutes") {
        p.insert("RunningModeAutoStopTimeoutInMinutes".into(), json!(60));
    }
    let size = |name: &str, default: u64| -> Result<u64, String> {
        match p.get(name) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=2000).contains(n))
                .ok_or_else(|| format!("{name} must be between 1 and 2000.")),
        }
    };
    let root = size("RootVolumeSizeGib", root_gib)?;
    let user = size("UserVolumeSizeGib", user_gib)?;
    p.insert("RootVolumeSizeGib".into(), json!(root));
    p.insert("UserVolumeSizeGib".into(), json!(user));
    Ok((Value::Object(p), root, user))
}

impl WorkspacesService {
    pub(crate) fn create_workspaces(&self, wx: &Wx<'_>, body: &Value) -> Result<Value, JsonError> {
        let reqs = list(body, "Workspaces", 25)?;
        if reqs.is_empty() {
            return Err(invalid("Workspaces must hold 1 to 25 requests."));
        }
        for r in reqs {
            let ok = r.is_object()
                && string(r, "DirectoryId")?.is_some_and(is_directory_id)
                && string(r, "UserName")?.is_some_and(is_user_name)
                && string(r, "BundleId")?.is_some_and(|b| {
                    b.strip_prefix("wsb-").is_some_and(|t| {
                        (8..=63).contains(&t.len())
                            && t.bytes()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                    })
                });
            if !ok {
                return Err(invalid(
                    "Each request needs a DirectoryId (d-…), a UserName (1–63 characters) and a BundleId (wsb-…).",
                ));
            }
        }
        let plane = self.plane(wx.region);
        let dirs = Directories::load(&self.dir).map_err(internal)?;
        let mut failures = Vec::new();
        let mut pending = Vec::new();
        for r in reqs {
            match self.create_one(wx, &plane, &dirs, r)? {
                Ok(ws) => pending.push(workspace_json(&ws, Some(WorkspaceState::Pending))),
                Err((code, message)) => failures.push(failed(r, code, message)),
            }
        }
        Ok(json!({"FailedRequests": failures, "PendingRequests": pending}))
    }

    /// One WorkSpace: the per-item failure, or the WorkSpace accepted (which may have ended
    /// in `ERROR`).
    #[allow(clippy::type_complexity)]
    fn create_one(
        &self,
        wx: &Wx<'_>,
        plane: &WorkSpaces,
        dirs: &Directories,
        r: &Value,
    ) -> Result<Result<Workspace, (&'static str, String)>, JsonError> {
        let dir_id = string(r, "DirectoryId")?.unwrap_or_default();
        let user_name = string(r, "UserName")?.unwrap_or_default();
        let bundle_id = string(r, "BundleId")?.unwrap_or_default();
        let Some(dir) = dirs
            .get(dir_id, &wx.account, wx.region.as_str())
            .filter(|d| d.registered)
        else {
            return Ok(Err((
                "ResourceNotFound.Directory",
                "The specified directory could not be found in the specified region.".into(),
            )));
        };
        let Some(b) = bundle(bundle_id) else {
            return Ok(Err((
                "ResourceNotFound.Bundle",
                "The specified bundle could not be found.".into(),
            )));
        };
        let Some(user) = dir.users.get(&user_name.to_lowercase()) else {
            return Ok(Err((
                "ResourceNotFound.User",
                "The specified user could not be found in the directory.".into(),
            )));
        };
        let taken = mine(plane, wx)?.into_iter().any(|w| {
            w.directory_id == dir_id
                && w.user_name.eq_ignore_ascii_case(user_name)
                && w.state != WorkspaceState::Terminated
        });
        if taken {
            return Ok(Err((
                "ResourceExists.WorkSpace",
                "A WorkSpace already exists for the specified user.".into(),
            )));
        }
        let (props, root_gib, user_gib) = match properties(r, b.root_gib, b.user_gib) {
            Ok(p) => p,
            Err(m) => return Ok(Err(("InvalidParameterValuesException", m))),
        };
        let flag = |name: &str| r.get(name).and_then(Value::as_bool).unwrap_or(false);
        let (root_enc, user_enc) = (
            flag("RootVolumeEncryptionEnabled"),
            flag("UserVolumeEncryptionEnabled"),
        );
        let name = string(r, "WorkspaceName")?;
        if let Some(n) = name
            && !is_workspace_name(n)
        {
            return Ok(Err((
                "InvalidParameterValuesException",
                format!("The WorkSpace name {n} is not valid."),
            )));
        }
        let key = string(r, "VolumeEncryptionKey")?;
        if key.is_some() && !root_enc && !user_enc {
            return Ok(Err((
                "InvalidParameterValuesException",
                "A VolumeEncryptionKey needs RootVolumeEncryptionEnabled or UserVolumeEncryptionEnabled.".into(),
            )));
        }
        let key_id = key
            .unwrap_or(ebsim_workspaces::DEFAULT_WORKSPACES_KEY)
            .to_owned();
        // The key is resolved in the caller's account and region before the WorkSpace is
        // accepted (AWS-style per-item failure); what fails later ends the WorkSpace in ERROR.
        let admin = wx.caller.principal.clone();
        let as_admin = Identity::OnBehalfOf {
            principal: admin.clone(),
            via_service: format!("workspaces.{}.amazonaws.com", wx.region.as_str()),
        };
        let described = plane.ebs().describe_key(&as_admin, &key_id);
        let extras = LaunchExtras {
            user_name: user.name.clone(),
            bundle_id: bundle_id.to_owned(),
            properties: Some(json!({
                "WorkspaceProperties": props,
                "RootVolumeEncryptionEnabled": root_enc,
                "UserVolumeEncryptionEnabled": user_enc,
                "WorkspaceName": name,
            })),
            workspace_id: Some(new_workspace_id()),
        };
        let mut record = Workspace {
            workspace_id: extras.workspace_id.clone().unwrap_or_default(),
            user_sid: user.sid.clone(),
            directory_id: dir_id.to_owned(),
            kms_key_arn: String::new(),
            grant_id: String::new(),
            grantee_principal: String::new(),
            admin: admin.clone(),
            root_volume_id: String::new(),
            user_volume_id: String::new(),
            state: WorkspaceState::Error,
            created_time: 0,
            user_name: extras.user_name.clone(),
            bundle_id: extras.bundle_id.clone(),
            properties: extras.properties.clone(),
            error_code: None,
            error_message: None,
        };
        let key_info = match described {
            Ok(k) => k,
            Err(e) => {
                let not_found = e.kms_error_type().map(|t| t.name()) == Some("NotFoundException");
                if not_found {
                    return Ok(Err(("ResourceNotFound.KmsKey", KEY_NOT_FOUND.into())));
                }
                return Ok(Ok(self.error_record(plane, record, "InvalidKmsKey", &e)?));
            }
        };
        record.kms_key_arn = key_info.arn.clone();
        if key_info.key_state != "Enabled"
            || key_info.key_spec != "SYMMETRIC_DEFAULT"
            || key_info.key_usage != "ENCRYPT_DECRYPT"
        {
            record.error_code = Some("InvalidKmsKey".into());
            record.error_message = Some(format!(
                "{KEY_UNAVAILABLE} ({}: state {}, spec {}, usage {})",
                key_info.arn, key_info.key_state, key_info.key_spec, key_info.key_usage
            ));
            plane.record(&record).map_err(internal)?;
            return Ok(Ok(record));
        }
        let launch = LaunchRequest {
            user_sid: user.sid.clone(),
            directory_id: dir_id.to_owned(),
            key_id: Some(key_info.arn.clone()),
            admin: Some(admin),
            root_size: root_gib * GIB,
            user_size: user_gib * GIB,
        };
        match plane.launch_with(&launch, extras) {
            Ok(ws) => Ok(Ok(ws)),
            Err(e) => {
                let code = match e.kms_error_type().map(|t| t.name()) {
                    Some("AccessDeniedException") => "InvalidKmsKey.AccessDenied",
                    _ => "InvalidKmsKey",
                };
                Ok(Ok(self.error_record(plane, record, code, &e)?))
            }
        }
    }

    fn error_record(
        &self,
        plane: &WorkSpaces,
        mut record: Workspace,
        code: &str,
        e: &ControlPlaneError,
    ) -> Result<Workspace, JsonError> {
        record.state = WorkspaceState::Error;
        record.error_code = Some(code.to_owned());
        record.error_message = Some(format!("{KEY_UNAVAILABLE} ({e})"));
        plane.record(&record).map_err(internal)?;
        Ok(record)
    }

    pub(crate) fn describe_workspaces(
        &self,
        wx: &Wx<'_>,
        body: &Value,
    ) -> Result<Value, JsonError> {
        let ids = list(body, "WorkspaceIds", 25)?;
        let dir = string(body, "DirectoryId")?;
        let user = string(body, "UserName")?;
        let bundle_id = string(body, "BundleId")?;
        let name = string(body, "WorkspaceName")?;
        if !ids.is_empty()
            && (dir.is_some() || user.is_some() || bundle_id.is_some() || name.is_some())
        {
            return Err(invalid(
                "WorkspaceIds cannot be combined with other filters.",
            ));
        }
        if user.is_some() && dir.is_none() {
            return Err(invalid("UserName needs DirectoryId."));
        }
        if dir.is_some() && bundle_id.is_some() {
            return Err(invalid("DirectoryId and BundleId cannot be used together."));
        }
        let mut wanted = Vec::new();
        for v in ids {
            let id = v
                .as_str()
                .filter(|s| is_workspace_id(s))
                .ok_or_else(|| invalid("WorkspaceIds must hold WorkSpace ids (ws-…)."))?;
            wanted.push(id);
        }
        let (limit, start) = page(body, 25)?;
        let all: Vec<Workspace> = mine(&self.plane(wx.region), wx)?
            .into_iter()
            .filter(|w| wanted.is_empty() || wanted.contains(&w.workspace_id.as_str()))
            .filter(|w| dir.is_none_or(|d| w.directory_id == d))
            .filter(|w| user.is_none_or(|u| w.user_name.eq_ignore_ascii_case(u)))
            .filter(|w| bundle_id.is_none_or(|b| w.bundle_id == b))
            .filter(|w| name.is_none_or(|n| workspace_name(w) == Some(n)))
            .filter(|w| {
                start
                    .as_deref()
                    .is_none_or(|s| w.workspace_id.as_str() >= s)
            })
            .collect();
        let mut out = Map::new();
        out.insert(
            "Workspaces".into(),
            all.iter()
                .take(limit)
                .map(|w| workspace_json(w, None))
                .collect(),
        );
        if let Some(next) = all.get(limit) {
            out.insert("NextToken".into(), json!(next.workspace_id));
        }
        Ok(Value::Object(out))
    }

    pub(crate) fn change_workspaces(
        &self,
        wx: &Wx<'_>,
        op: &str,
        body: &Value,
    ) -> Result<Value, JsonError> {
        let (member, max) = match op {
            "RebootWorkspaces" => ("RebootWorkspaceRequests", 25),
            "RebuildWorkspaces" => ("RebuildWorkspaceRequests", 1),
            "StartWorkspaces" => ("StartWorkspaceRequests", 25),
            "StopWorkspaces" => ("StopWorkspaceRequests", 25),
            _ => ("TerminateWorkspaceRequests", 25),
        };
        let reqs = list(body, member, max)?;
        if reqs.is_empty() {
            return Err(invalid(format!("{member} must hold 1 to {max} requests.")));
        }
        let mut ids = Vec::new();
        for r in reqs {
            let id = string(r, "WorkspaceId")?
                .filter(|s| is_workspace_id(s))
                .ok_or_else(|| invalid("Each request needs a WorkspaceId (ws-…)."))?;
            ids.push(id);
        }
        let plane = self.plane(wx.region);
        let mine = mine(&plane, wx)?;
        let mut failures = Vec::new();
        for id in ids {
            let fail = |code: &str, message: &str| json!({"WorkspaceId": id, "ErrorCode": code, "ErrorMessage": message});
            let Some(ws) = mine.iter().find(|w| w.workspace_id == id) else {
                failures.push(fail(
                    "ResourceNotFound.Workspace",
                    "The specified WorkSpace cannot be found. Confirm that the workspace exists in your AWS account, and try again.",
                ));
                continue;
            };
            use WorkspaceState as S;
            let has_volumes = !ws.root_volume_id.is_empty();
            let allowed = match op {
                "RebootWorkspaces" => {
                    matches!(ws.state, S::Available | S::Unhealthy | S::Rebooting)
                }
                "RebuildWorkspaces" => {
                    has_volumes
                        && matches!(
                            ws.state,
                            S::Available | S::Error | S::Unhealthy | S::Stopped | S::Rebooting
                        )
                }
                "StartWorkspaces" => ws.state == S::Stopped,
                "StopWorkspaces" => {
                    has_volumes && matches!(ws.state, S::Available | S::Unhealthy | S::Error)
                }
                _ => true,
            };
            if !allowed {
                failures.push(fail(
                    "InvalidResourceState",
                    &format!(
                        "The specified WorkSpace has an invalid state for this operation ({}).",
                        ws.state.as_str()
                    ),
                ));
                continue;
            }
            // An unusable key leaves the WorkSpace UNHEALTHY with the error recorded on it
            // (the request itself was accepted).
            let done = match op {
                "RebootWorkspaces" => plane.reboot(id).map(drop),
                "RebuildWorkspaces" => plane.rebuild(id).map(drop),
                "StartWorkspaces" => plane.start(id).map(drop),
                "StopWorkspaces" => plane.stop(id).map(drop),
                _ if ws.state == S::Terminated => Ok(()),
                _ if !has_volumes => {
                    let mut w = ws.clone();
                    w.state = S::Terminated;
                    plane.record(&w)
                }
                _ => plane.terminate(id).map(drop),
            };
            match done {
                Ok(()) => {}
                Err(e) if e.kms_error_type().is_some() => {}
                Err(e) => failures.push(fail("InternalError", &e.to_string())),
            }
        }
        Ok(json!({"FailedRequests": failures}))
    }
}
