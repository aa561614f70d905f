//! `ebsim workspace …`: a front of the WorkSpaces API (docs/workspaces.md) — through the
//! data dir's running `ebsim serve`, else in this process — and the raw control plane for a
//! WorkSpace launched by SID (`launch --user-sid`) or through an explicit `--kms-endpoint`.

use std::sync::Arc;

use clap::{Args, Subcommand};
use ebsim_kms::{Caller, Kms, KmsConfig};
use ebsim_kms_client::{ClientError, Identity};
use ebsim_workspaces::{LaunchRequest, Workspace};
use serde_json::{Value, json};

use crate::args::parse_size;
use crate::common::{DataDir, data_dir, simulator};
use crate::{CliError, GlobalArgs};

/// `ebsim workspace <command>`
#[derive(Debug, Args)]
pub struct WorkspaceArgs {
    /// The WorkSpace command.
    #[command(subcommand)]
    pub command: WorkspaceCommand,
}

/// WorkSpace commands.
#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Launch an encrypted WorkSpace (CreateWorkspaces): the WorkSpace's grant, then a root
    /// and a user volume (each with its EBS grant and wrapped data key).
    Launch(LaunchArgs),
    /// List WorkSpaces (DescribeWorkspaces).
    List {
        /// Only those of this directory.
        #[arg(long, value_name = "D")]
        directory: Option<String>,
    },
    /// Show a WorkSpace.
    Describe(WsId),
    /// Reboot: both volumes' keys unwrapped again from their wrapped keys.
    Reboot(WsId),
    /// Rebuild: a new root volume; the user volume is kept.
    Rebuild(WsId),
    /// Start a stopped WorkSpace.
    Start(WsId),
    /// Stop: both volumes detached.
    Stop(WsId),
    /// Terminate: delete both volumes and retire every grant.
    Terminate(WsId),
}

/// A WorkSpace id argument.
#[derive(Debug, Args)]
pub struct WsId {
    /// The WorkSpace id (ws-…).
    #[arg(value_name = "WS")]
    pub workspace_id: String,
}

/// `ebsim workspace launch`
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// The user's name in the directory (`ebsim directory add-user`).
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "user_sid",
        required_unless_present = "user_sid"
    )]
    pub user: Option<String>,
    /// Raw control plane: the user's AD SID (S-1-…), with any directory id, no bundle.
    #[arg(long, value_name = "SID")]
    pub user_sid: Option<String>,
    /// The directory id (d-…).
    #[arg(long, value_name = "D")]
    pub directory: String,
    /// The bundle (DescribeWorkspaceBundles; `aws workspaces describe-workspace-bundles
    /// --owner AMAZON`).
    #[arg(long, value_name = "BUNDLE", default_value = "wsb-valuew10x1")]
    pub bundle: String,
    /// KMS key (default alias/aws/workspaces). Symmetric keys only.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Root volume size (raw control plane).
    #[arg(long, value_parser = parse_size, default_value = "8MiB")]
    pub root_size: u64,
    /// User volume size (raw control plane).
    #[arg(long, value_parser = parse_size, default_value = "8MiB")]
    pub user_size: u64,
}

fn print(global: &GlobalArgs, ws: &Workspace) -> Result<(), CliError> {
    if global.json {
        outln!("{}", serde_json::to_string_pretty(ws).unwrap_or_default())?;
    } else {
        outln!("workspace_id   {}", ws.workspace_id)?;
        outln!("state          {}", ws.state.as_str())?;
        outln!("user           [{}]@[{}]", ws.user_sid, ws.directory_id)?;
        outln!("kms_key_arn    {}", ws.kms_key_arn)?;
        outln!("grant_id       {}", ws.grant_id)?;
        outln!("root_volume    {}", ws.root_volume_id)?;
        outln!("user_volume    {}", ws.user_volume_id)?;
    }
    Ok(())
}

/// The principal WorkSpaces calls are made as: `--as`, else the root of `--account`.
fn principal(global: &GlobalArgs) -> String {
    global
        .as_principal
        .clone()
        .unwrap_or_else(|| global.account().root_arn())
}

fn service_error(e: ClientError) -> CliError {
    match e {
        ClientError::Service {
            type_name, message, ..
        } => CliError::Ec2 {
            code: type_name,
            message: message.unwrap_or_default(),
        },
        other => other.into(),
    }
}

/// One WorkSpaces operation: on the running server, else in this process.
fn api(global: &GlobalArgs, op: &str, body: &Value) -> Result<Value, CliError> {
    let need = if op == "CreateWorkspaces" {
        DataDir::Create
    } else {
        DataDir::Existing
    };
    let who = principal(global);
    let dir = data_dir(global, need)?;
    if let Some(client) = crate::ebs::own_server(global)? {
        return client
            .json_call_as(
                &Identity::Principal(who),
                "workspaces",
                &format!("WorkspacesService.{op}"),
                body,
            )
            .map_err(service_error);
    }
    let config = KmsConfig::default()
        .account(global.account().as_str())
        .region(global.region());
    let kms = Arc::new(Kms::open(&dir, config)?);
    let service = ebsim_ec2::WorkspacesService::open(&dir, kms, global.region());
    let caller = Caller::new(who).in_region(global.region());
    let out = service
        .call(&caller, op, body.to_string().as_bytes())
        .map_err(|e| CliError::Ec2 {
            code: e.code,
            message: e.message,
        })?;
    serde_json::from_slice(&out).map_err(|e| CliError::Tool(e.to_string()))
}

/// The first per-item failure of a batch answer, as an error.
fn first_failure(out: &Value) -> Result<(), CliError> {
    match out["FailedRequests"].as_array().and_then(|a| a.first()) {
        Some(f) => Err(CliError::Ec2 {
            code: f["ErrorCode"].as_str().unwrap_or_default().to_owned(),
            message: f["ErrorMessage"].as_str().unwrap_or_default().to_owned(),
        }),
        None => Ok(()),
    }
}

fn print_api(global: &GlobalArgs, w: &Value) -> Result<(), CliError> {
    if global.json {
        return outln!("{}", serde_json::to_string_pretty(w).unwrap_or_default());
    }
    let s = |k: &str| w[k].as_str().unwrap_or("-").to_owned();
    outln!("workspace_id   {}", s("WorkspaceId"))?;
    outln!("state          {}", s("State"))?;
    outln!("user           {} in {}", s("UserName"), s("DirectoryId"))?;
    outln!("bundle         {}", s("BundleId"))?;
    outln!("kms_key_arn    {}", s("VolumeEncryptionKey"))?;
    if let Some(c) = w["ErrorCode"].as_str() {
        outln!("error          {c}: {}", s("ErrorMessage"))?;
    }
    Ok(())
}

fn describe_one(global: &GlobalArgs, id: &str) -> Result<Value, CliError> {
    let out = api(global, "DescribeWorkspaces", &json!({"WorkspaceIds": [id]}))?;
    out["Workspaces"]
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .ok_or_else(|| CliError::Ec2 {
            code: "ResourceNotFound.Workspace".into(),
            message: format!("WorkSpace {id} does not exist"),
        })
}

/// Runs `ebsim workspace …`.
pub fn run(global: &GlobalArgs, args: &WorkspaceArgs) -> Result<(), CliError> {
    let raw = global.kms_endpoint.is_some()
        || matches!(&args.command, WorkspaceCommand::Launch(l) if l.user_sid.is_some());
    if raw {
        return run_raw(global, args);
    }
    match &args.command {
        WorkspaceCommand::Launch(l) => {
            let mut req = json!({
                "DirectoryId": l.directory,
                "UserName": l.user.clone().unwrap_or_default(),
                "BundleId": l.bundle,
                "RootVolumeEncryptionEnabled": true,
                "UserVolumeEncryptionEnabled": true,
            });
            if let Some(k) = &l.key {
                req["VolumeEncryptionKey"] = json!(k);
            }
            let out = api(global, "CreateWorkspaces", &json!({"Workspaces": [req]}))?;
            first_failure(&out)?;
            let id = out["PendingRequests"][0]["WorkspaceId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            print_api(global, &describe_one(global, &id)?)
        }
        WorkspaceCommand::List { directory } => {
            let mut all = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut body = json!({});
                if let Some(d) = directory {
                    body["DirectoryId"] = json!(d);
                }
                if let Some(t) = &token {
                    body["NextToken"] = json!(t);
                }
                let out = api(global, "DescribeWorkspaces", &body)?;
                all.extend(out["Workspaces"].as_array().cloned().unwrap_or_default());
                match out["NextToken"].as_str() {
                    Some(t) => token = Some(t.to_owned()),
                    None => break,
                }
            }
            if global.json {
                return outln!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
            }
            for w in &all {
                let s = |k: &str| w[k].as_str().unwrap_or("-").to_owned();
                outln!(
                    "{:<16} {:<11} {} in {}",
                    s("WorkspaceId"),
                    s("State"),
                    s("UserName"),
                    s("DirectoryId")
                )?;
            }
            Ok(())
        }
        WorkspaceCommand::Describe(w) => print_api(global, &describe_one(global, &w.workspace_id)?),
        WorkspaceCommand::Reboot(w)
        | WorkspaceCommand::Rebuild(w)
        | WorkspaceCommand::Start(w)
        | WorkspaceCommand::Stop(w)
        | WorkspaceCommand::Terminate(w) => {
            let (op, member) = match &args.command {
                WorkspaceCommand::Reboot(_) => ("RebootWorkspaces", "RebootWorkspaceRequests"),
                WorkspaceCommand::Rebuild(_) => ("RebuildWorkspaces", "RebuildWorkspaceRequests"),
                WorkspaceCommand::Start(_) => ("StartWorkspaces", "StartWorkspaceRequests"),
                WorkspaceCommand::Stop(_) => ("StopWorkspaces", "StopWorkspaceRequests"),
                _ => ("TerminateWorkspaces", "TerminateWorkspaceRequests"),
            };
            let mut body = serde_json::Map::new();
            body.insert(member.into(), json!([{"WorkspaceId": w.workspace_id}]));
            first_failure(&api(global, op, &Value::Object(body))?)?;
            print_api(global, &describe_one(global, &w.workspace_id)?)
        }
    }
}

/// The raw control plane (a WorkSpace by SID, or through `--kms-endpoint`).
fn run_raw(global: &GlobalArgs, args: &WorkspaceArgs) -> Result<(), CliError> {
    let need = match args.command {
        WorkspaceCommand::Launch(_) => DataDir::Create,
        _ => DataDir::Existing,
    };
    let sim = simulator(global, need)?;
    let ws = sim.workspaces();
    match &args.command {
        WorkspaceCommand::Launch(l) => {
            let Some(user_sid) = l.user_sid.clone() else {
                return Err(CliError::InvalidArgument(
                    "with --kms-endpoint, a WorkSpace is launched by --user-sid".into(),
                ));
            };
            let w = ws.launch(&LaunchRequest {
                user_sid,
                directory_id: l.directory.clone(),
                key_id: l.key.clone(),
                admin: global.as_principal.clone(),
                root_size: l.root_size,
                user_size: l.user_size,
            })?;
            print(global, &w)
        }
        WorkspaceCommand::List { .. } => {
            let list = ws.list()?;
            if global.json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                )?;
            } else {
                for w in &list {
                    outln!(
                        "{:<16} {:<11} [{}]@[{}]",
                        w.workspace_id,
                        w.state.as_str(),
                        w.user_sid,
                        w.directory_id
                    )?;
                }
            }
            Ok(())
        }
        WorkspaceCommand::Describe(w) => print(global, &ws.describe(&w.workspace_id)?),
        WorkspaceCommand::Reboot(w) => print(global, &ws.reboot(&w.workspace_id)?),
        WorkspaceCommand::Rebuild(w) => print(global, &ws.rebuild(&w.workspace_id)?),
        WorkspaceCommand::Start(w) => print(global, &ws.start(&w.workspace_id)?),
        WorkspaceCommand::Stop(w) => print(global, &ws.stop(&w.workspace_id)?),
        WorkspaceCommand::Terminate(w) => print(global, &ws.terminate(&w.workspace_id)?),
    }
}
