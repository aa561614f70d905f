//! `ebsim alias …`: create, list (every page), update, delete.

use clap::{Args, Subcommand};
use ebsim_kms_client::Identity;
use serde_json::json;

use super::s;
use crate::common::{DataDir, kms_client, paginate, print_json};
use crate::{CliError, GlobalArgs};

/// `ebsim alias …`
#[derive(Debug, Args)]
pub struct AliasArgs {
    #[command(subcommand)]
    cmd: AliasCmd,
}

#[derive(Debug, Subcommand)]
enum AliasCmd {
    /// Create an alias (`alias/NAME`) for a key (id or ARN).
    Create { name: String, key: String },
    /// List aliases (optionally of one key).
    List {
        /// Only aliases of this key (id or ARN).
        #[arg(long)]
        key: Option<String>,
    },
    /// Point an alias at another key.
    Update { name: String, key: String },
    /// Delete an alias.
    Delete { name: String },
}

/// Runs `ebsim alias`.
pub(crate) fn run(global: &GlobalArgs, args: &AliasArgs) -> Result<(), CliError> {
    let need = match args.cmd {
        AliasCmd::Create { .. } => DataDir::Create,
        _ => DataDir::Existing,
    };
    let kms = kms_client(global, need)?;
    let (op, req) = match &args.cmd {
        AliasCmd::Create { name, key } => (
            "CreateAlias",
            json!({"AliasName": name, "TargetKeyId": key}),
        ),
        AliasCmd::Update { name, key } => (
            "UpdateAlias",
            json!({"AliasName": name, "TargetKeyId": key}),
        ),
        AliasCmd::Delete { name } => ("DeleteAlias", json!({"AliasName": name})),
        AliasCmd::List { key } => {
            let mut req = json!({"Limit": 100});
            if let Some(k) = key {
                req["KeyId"] = json!(k);
            }
            let aliases = paginate(&kms, "ListAliases", &req, "Aliases")?;
            if global.json {
                return print_json(&json!({"Aliases": aliases, "Truncated": false}));
            }
            for a in &aliases {
                outln!(
                    "{:<40} {}",
                    s(&a["AliasName"]),
                    a["TargetKeyId"].as_str().unwrap_or("(not created yet)")
                )?;
            }
            return Ok(());
        }
    };
    let out = kms.call(&Identity::Default, op, req)?;
    if global.json {
        print_json(&out)
    } else {
        outln!("ok")
    }
}
