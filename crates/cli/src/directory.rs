//! `ebsim directory …`: the simulated directories WorkSpaces launches into, and their users
//! (docs/workspaces.md).

use clap::{Args, Subcommand};
use ebsim_ec2::workspaces::directory::{
    Directories, Directory, DirectoryUser, MAX_DIRECTORIES, MAX_USERS, is_directory_id,
    is_user_name, new_directory_id, new_sid,
};
use serde_json::json;

use crate::common::{DataDir, data_dir};
use crate::{CliError, GlobalArgs};

/// `ebsim directory <command>`
#[derive(Debug, Args)]
pub struct DirectoryArgs {
    /// The directory command.
    #[command(subcommand)]
    pub command: DirectoryCommand,
}

/// Directory commands.
#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Create a directory (`d-…`) in the account and region; register it with WorkSpaces
    /// through RegisterWorkspaceDirectory (or `--register`).
    Create {
        /// Its DNS name, e.g. corp.example.com.
        #[arg(value_name = "NAME")]
        name: String,
        /// Register it with WorkSpaces at once.
        #[arg(long)]
        register: bool,
    },
    /// List the directories of the account and region, with their users.
    List,
    /// Add a user (UserName → SID) to a directory.
    AddUser {
        /// The directory id (d-…).
        #[arg(value_name = "DIRECTORY")]
        directory: String,
        /// The user name (1–63 characters, case-insensitive).
        #[arg(value_name = "NAME")]
        name: String,
        /// The user's SID (S-1-…); one is made when not given.
        #[arg(long, value_name = "SID")]
        sid: Option<String>,
    },
}

fn bad(message: String) -> CliError {
    CliError::InvalidArgument(message)
}

/// Runs `ebsim directory …`.
pub fn run(global: &GlobalArgs, args: &DirectoryArgs) -> Result<(), CliError> {
    let need = match args.command {
        DirectoryCommand::List => DataDir::Existing,
        _ => DataDir::Create,
    };
    let dir = data_dir(global, need)?;
    let account = global.account().as_str().to_owned();
    let region = global.region().as_str().to_owned();
    let mut dirs = Directories::load(&dir).map_err(CliError::Tool)?;
    match &args.command {
        DirectoryCommand::Create { name, register } => {
            let ok = (1..=255).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !ok {
                return Err(bad(format!(
                    "invalid directory name '{name}': 1–255 letters, digits, '.' or '-'"
                )));
            }
            if dirs.directories.len() >= MAX_DIRECTORIES {
                return Err(bad(format!("at most {MAX_DIRECTORIES} directories")));
            }
            let d = Directory {
                directory_id: new_directory_id(),
                name: name.clone(),
                account,
                region,
                registered: *register,
                users: Default::default(),
            };
            let id = d.directory_id.clone();
            dirs.directories.insert(id.clone(), d);
            dirs.save(&dir).map_err(CliError::Tool)?;
            if global.json {
                outln!("{}", json!({"DirectoryId": id, "DirectoryName": name}))
            } else {
                outln!("{id}")
            }
        }
        DirectoryCommand::List => {
            let mine: Vec<&Directory> = dirs
                .directories
                .values()
                .filter(|d| d.account == account && d.region == region)
                .collect();
            if global.json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&mine).unwrap_or_default()
                )
            } else {
                for d in mine {
                    let state = if d.registered {
                        "REGISTERED"
                    } else {
                        "DEREGISTERED"
                    };
                    outln!("{:<14} {:<12} {}", d.directory_id, state, d.name)?;
                    for u in d.users.values() {
                        outln!("  {:<24} {}", u.name, u.sid)?;
                    }
                }
                Ok(())
            }
        }
        DirectoryCommand::AddUser {
            directory,
            name,
            sid,
        } => {
            if !is_directory_id(directory) {
                return Err(bad(format!(
                    "invalid directory id '{directory}': expected d-…"
                )));
            }
            if !is_user_name(name) {
                return Err(bad(format!(
                    "invalid user name '{name}': 1–63 characters, no control characters"
                )));
            }
            let d = dirs
                .directories
                .get_mut(directory)
                .filter(|d| d.account == account && d.region == region)
                .ok_or_else(|| bad(format!("no directory {directory} in this account and region (`ebsim directory list`)")))?;
            let key = name.to_lowercase();
            if d.users.contains_key(&key) {
                return Err(bad(format!("{directory} already has a user {name}")));
            }
            if d.users.len() >= MAX_USERS {
                return Err(bad(format!("at most {MAX_USERS} users per directory")));
            }
            let sid = match sid {
                Some(s) => {
                    // The same check as the WorkSpaces encryption context's.
                    ebsim_kms_client::EncryptionContext::workspaces("vol-00000000", s, directory)
                        .map_err(|e| bad(e.to_string()))?;
                    s.clone()
                }
                None => new_sid(d),
            };
            d.users.insert(
                key,
                DirectoryUser {
                    name: name.clone(),
                    sid: sid.clone(),
                },
            );
            dirs.save(&dir).map_err(CliError::Tool)?;
            if global.json {
                outln!(
                    "{}",
                    json!({"DirectoryId": directory, "UserName": name, "Sid": sid})
                )
            } else {
                outln!("{sid}")
            }
        }
    }
}
