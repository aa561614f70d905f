//! `ebsim workspace …`: launch, list, describe, reboot, rebuild, terminate WorkSpaces.

use clap::{Args, Subcommand};
use ebsim_workspaces::{LaunchRequest, Workspace};

use crate::args::parse_size;
use crate::common::{DataDir, simulator};
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
    /// Launch an encrypted WorkSpace: the WorkSpace's grant, then a root and a user volume
    /// (each with its EBS grant and wrapped data key), both attached.
    Launch(LaunchArgs),
    /// List WorkSpaces.
    List,
    /// Show a WorkSpace.
    Describe(WsId),
    /// Reboot: detach both volumes and attach them again from their wrapped keys.
    Reboot(WsId),
    /// Rebuild: a new root volume; the user volume is kept.
    Rebuild(WsId),
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
    /// The user's AD SID (S-1-…).
    #[arg(long, value_name = "SID")]
    pub user_sid: String,
    /// The directory id (d-…).
    #[arg(long, value_name = "D")]
    pub directory: String,
    /// KMS key (default alias/aws/workspaces). Symmetric keys only.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Root volume size.
    #[arg(long, value_parser = parse_size, default_value = "8MiB")]
    pub root_size: u64,
    /// User volume size.
    #[arg(long, value_parser = parse_size, default_value = "8MiB")]
    pub user_size: u64,
}

fn print(global: &GlobalArgs, ws: &Workspace) -> Result<(), CliError> {
    if global.json {
        outln!("{}", serde_json::to_string_pretty(ws).unwrap_or_default())?;
    } else {
        outln!("workspace_id   {}", ws.workspace_id)?;
        outln!("state          {:?}", ws.state)?;
        outln!("user           [{}]@[{}]", ws.user_sid, ws.directory_id)?;
        outln!("kms_key_arn    {}", ws.kms_key_arn)?;
        outln!("grant_id       {}", ws.grant_id)?;
        outln!("root_volume    {}", ws.root_volume_id)?;
        outln!("user_volume    {}", ws.user_volume_id)?;
    }
    Ok(())
}

/// Runs `ebsim workspace …`.
pub fn run(global: &GlobalArgs, args: &WorkspaceArgs) -> Result<(), CliError> {
    let need = match args.command {
        WorkspaceCommand::Launch(_) => DataDir::Create,
        _ => DataDir::Existing,
    };
    let sim = simulator(global, need)?;
    let ws = sim.workspaces();
    match &args.command {
        WorkspaceCommand::Launch(l) => {
            let w = ws.launch(&LaunchRequest {
                user_sid: l.user_sid.clone(),
                directory_id: l.directory.clone(),
                key_id: l.key.clone(),
                admin: global.as_principal.clone(),
                root_size: l.root_size,
                user_size: l.user_size,
            })?;
            print(global, &w)
        }
        WorkspaceCommand::List => {
            let list = ws.list()?;
            if global.json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                )?;
            } else {
                for w in &list {
                    outln!(
                        "{:<16} {:<11?} [{}]@[{}]",
                        w.workspace_id,
                        w.state,
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
        WorkspaceCommand::Terminate(w) => print(global, &ws.terminate(&w.workspace_id)?),
    }
}
