//! WorkSpaces over JSON 1.1 (`X-Amz-Target: WorkspacesService.<Op>`, scope `workspaces`;
//! docs/workspaces.md): WorkSpaces on the WorkSpaces control plane of `ebsim-workspaces`,
//! their volumes EBS volumes of the EC2 state, simulated directories with their users and a
//! few fixed bundles. Every action is authorized as `workspaces:ACTION` by the KMS's policy
//! engine.

pub mod directory;
mod lifecycle;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ebsim_kms::{Caller, Kms};
use ebsim_kms_api::Region;
use ebsim_kms_client::KmsClient;
use ebsim_kms_server::JsonError;
use ebsim_volume::VolumeRoot;
use ebsim_workspaces::{Ebs, WorkSpaces};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use directory::{Directories, bundle_json, directory_json, is_directory_id};

/// The operations served, with whether each changes state.
pub const OPERATIONS: &[(&str, bool)] = &[
    ("CreateWorkspaces", true),
    ("DescribeWorkspaces", false),
    ("RebootWorkspaces", true),
    ("RebuildWorkspaces", true),
    ("StartWorkspaces", true),
    ("StopWorkspaces", true),
    ("TerminateWorkspaces", true),
    ("RegisterWorkspaceDirectory", true),
    ("DescribeWorkspaceDirectories", false),
    ("DescribeWorkspaceBundles", false),
];

/// The WorkSpaces service of one data dir.
pub struct WorkspacesService {
    kms: Arc<Kms>,
    dir: PathBuf,
    default_region: Region,
    /// One request at a time changes the records.
    lock: Mutex<()>,
}

impl std::fmt::Debug for WorkspacesService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspacesService")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// One request: who and where.
pub(crate) struct Wx<'a> {
    pub(crate) caller: &'a Caller,
    pub(crate) account: String,
    pub(crate) region: Region,
}

pub(crate) fn invalid(message: impl Into<String>) -> JsonError {
    JsonError::new("InvalidParameterValuesException", message)
}

pub(crate) fn internal(message: impl std::fmt::Display) -> JsonError {
    JsonError {
        status: 500,
        code: "InternalFailure".into(),
        message: message.to_string(),
    }
}

/// A list member of the request: absent, or an array of at most `max` items.
pub(crate) fn list<'a>(body: &'a Value, name: &str, max: usize) -> Result<&'a [Value], JsonError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) if a.len() <= max => Ok(a),
        Some(Value::Array(_)) => Err(invalid(format!("{name} holds more than {max} items."))),
        Some(_) => Err(JsonError::new(
            "SerializationException",
            format!("{name} must be a list."),
        )),
    }
}

/// A string member: absent, or a string.
pub(crate) fn string<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, JsonError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JsonError::new(
            "SerializationException",
            format!("{name} must be a string."),
        )),
    }
}

impl WorkspacesService {
    /// The WorkSpaces service of data dir `dir`, calling `kms` in process; `region` is the
    /// region of requests whose signature names none.
    pub fn open(dir: &Path, kms: Arc<Kms>, region: Region) -> Self {
        Self {
            kms,
            dir: dir.to_owned(),
            default_region: region,
            lock: Mutex::new(()),
        }
    }

    /// The WorkSpaces control plane in `region`, checking keys at each start rather than
    /// holding the volumes (they stay free for `ebsim volume write`).
    pub(crate) fn plane(&self, region: Region) -> WorkSpaces {
        let client = KmsClient::in_process(self.kms.clone()).in_region(region);
        let ebs = Ebs::new(client, VolumeRoot::dir(&self.dir), region.as_str());
        WorkSpaces::new(ebs, region.as_str(), Some(&self.dir)).check_only()
    }

    /// Answers one request of `operation` with JSON `body`, made by `caller`.
    ///
    /// # Errors
    /// WorkSpaces' error: `UnknownOperationException`, `AccessDeniedException`,
    /// `InvalidParameterValuesException`, `ResourceNotFoundException`, …
    pub fn call(
        &self,
        caller: &Caller,
        operation: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, JsonError> {
        let Some(&(op, _)) = OPERATIONS.iter().find(|(n, _)| *n == operation) else {
            return Err(JsonError::new("UnknownOperationException", ""));
        };
        let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(body).map_err(|_| {
                JsonError::new("SerializationException", "The request body is not JSON.")
            })?
        };
        if !body.is_object() {
            return Err(JsonError::new(
                "SerializationException",
                "The request body must be a JSON object.",
            ));
        }
        if caller.via_service.is_some() {
            return Err(JsonError::new(
                "AccessDeniedException",
                "A forwarding service cannot call WorkSpaces.",
            ));
        }
        let wx = Wx {
            caller,
            account: self.kms.account_of(caller),
            region: caller.region.unwrap_or(self.default_region),
        };
        let action = format!("workspaces:{op}");
        let resource = format!(
            "arn:aws:workspaces:{}:{}:workspace/*",
            wx.region.as_str(),
            wx.account
        );
        self.kms
            .authorize_action(caller, &action, &resource)
            .map_err(|why| JsonError::new("AccessDeniedException", why))?;
        let _guard = self.lock.lock();
        let out = match op {
            "CreateWorkspaces" => self.create_workspaces(&wx, &body)?,
            "DescribeWorkspaces" => self.describe_workspaces(&wx, &body)?,
            "RegisterWorkspaceDirectory" => self.register_directory(&wx, &body)?,
            "DescribeWorkspaceDirectories" => self.describe_directories(&wx, &body)?,
            "DescribeWorkspaceBundles" => describe_bundles(&body)?,
            _ => self.change_workspaces(&wx, op, &body)?,
        };
        Ok(out.to_string().into_bytes())
    }

    fn register_directory(&self, wx: &Wx<'_>, body: &Value) -> Result<Value, JsonError> {
        let id = string(body, "DirectoryId")?.ok_or_else(|| invalid("DirectoryId is required."))?;
        if !is_directory_id(id) {
            return Err(invalid(format!("The directory id {id} is not valid.")));
        }
        let mut dirs = Directories::load(&self.dir).map_err(internal)?;
        let d = dirs
            .directories
            .get_mut(id)
            .filter(|d| d.account == wx.account && d.region == wx.region.as_str())
            .ok_or_else(|| {
                JsonError::new(
                    "ResourceNotFoundException",
                    "The specified directory could not be found in the specified region.",
                )
            })?;
        if d.registered {
            return Err(JsonError::new(
                "ResourceAlreadyExistsException",
                "The specified directory is already registered.",
            ));
        }
        d.registered = true;
        dirs.save(&self.dir).map_err(internal)?;
        Ok(json!({"DirectoryId": id, "State": "REGISTERING"}))
    }

    fn describe_directories(&self, wx: &Wx<'_>, body: &Value) -> Result<Value, JsonError> {
        let ids = list(body, "DirectoryIds", 25)?;
        let mut wanted = Vec::new();
        for v in ids {
            let id = v
                .as_str()
                .filter(|s| is_directory_id(s))
                .ok_or_else(|| invalid("DirectoryIds must hold directory ids (d-…)."))?;
            wanted.push(id);
        }
        let (limit, start) = page(body, 25)?;
        let dirs = Directories::load(&self.dir).map_err(internal)?;
        let all: Vec<&directory::Directory> = dirs
            .directories
            .values()
            .filter(|d| d.account == wx.account && d.region == wx.region.as_str())
            .filter(|d| d.registered)
            .filter(|d| wanted.is_empty() || wanted.contains(&d.directory_id.as_str()))
            .filter(|d| {
                start
                    .as_deref()
                    .is_none_or(|s| d.directory_id.as_str() >= s)
            })
            .collect();
        let mut out = Map::new();
        out.insert(
            "Directories".into(),
            all.iter().take(limit).map(|d| directory_json(d)).collect(),
        );
        if let Some(next) = all.get(limit) {
            out.insert("NextToken".into(), Value::String(next.directory_id.clone()));
        }
        Ok(Value::Object(out))
    }
}

/// `Limit` (1..=max, default max) and `NextToken` (the id to start at).
pub(crate) fn page(body: &Value, max: u64) -> Result<(usize, Option<String>), JsonError> {
    let limit = match body.get("Limit") {
        None | Some(Value::Null) => max,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| invalid(format!("Limit must be between 1 and {max}.")))?,
    };
    let token = string(body, "NextToken")?;
    if let Some(t) = token
        && (t.is_empty()
            || t.len() > 63
            || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(invalid("The specified NextToken is not valid."));
    }
    Ok((
        usize::try_from(limit).unwrap_or(25),
        token.map(str::to_owned),
    ))
}

fn describe_bundles(body: &Value) -> Result<Value, JsonError> {
    let ids = list(body, "BundleIds", 25)?;
    let owner = string(body, "Owner")?;
    if !ids.is_empty() && owner.is_some() {
        return Err(invalid("BundleIds and Owner cannot be used together."));
    }
    let bundles: Vec<Value> = if ids.is_empty() {
        match owner {
            Some(o) if o.eq_ignore_ascii_case("AMAZON") => {
                directory::BUNDLES.iter().map(bundle_json).collect()
            }
            _ => Vec::new(),
        }
    } else {
        let mut v = Vec::new();
        for id in ids {
            let id = id
                .as_str()
                .ok_or_else(|| invalid("BundleIds must hold bundle ids (wsb-…)."))?;
            if let Some(b) = directory::bundle(id) {
                v.push(bundle_json(b));
            }
        }
        v
    };
    Ok(json!({"Bundles": bundles}))
}

impl ebsim_kms_server::JsonHandler for WorkspacesService {
    fn scope(&self) -> &'static str {
        "workspaces"
    }

    fn target_prefix(&self) -> &'static str {
        "WorkspacesService"
    }

    fn handle(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, JsonError> {
        self.call(caller, operation, body)
    }
}
