//! `ebsim grant …`: create, list (every page), retire, revoke.

use clap::{Args, Subcommand};
use ebsim_kms_client::Identity;
use serde_json::{Value, json};

use super::{pair_map, s};
use crate::common::{DataDir, kms_client, paginate, print_json};
use crate::{CliError, GlobalArgs};

/// `ebsim grant …`
#[derive(Debug, Args)]
pub struct GrantArgs {
    #[command(subcommand)]
    cmd: GrantCmd,
}

#[derive(Debug, Subcommand)]
enum GrantCmd {
    /// Create a grant on a key (id or ARN).
    Create(CreateArgs),
    /// List the grants of a key.
    List { key: String },
    /// Retire a grant by token, or by key ARN and grant id.
    Retire {
        /// The grant token.
        #[arg(long, conflicts_with_all = ["key", "grant_id"])]
        token: Option<String>,
        /// The key ARN.
        #[arg(long, requires = "grant_id")]
        key: Option<String>,
        /// The grant id.
        #[arg(long, requires = "key")]
        grant_id: Option<String>,
    },
    /// Revoke a grant.
    Revoke { key: String, grant_id: String },
}

#[derive(Debug, Args)]
struct CreateArgs {
    key: String,
    /// The principal the grant is for.
    #[arg(long)]
    grantee: String,
    /// Operations, comma-separated (Decrypt,GenerateDataKeyWithoutPlaintext,…).
    #[arg(long, value_delimiter = ',', required = true)]
    operations: Vec<String>,
    /// The principal that may retire the grant.
    #[arg(long)]
    retiring: Option<String>,
    /// EncryptionContextSubset pair KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    subset: Vec<String>,
    /// EncryptionContextEquals pair KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    equals: Vec<String>,
    /// Grant name (a retry with the same name and properties returns the same grant).
    #[arg(long)]
    name: Option<String>,
}

fn create_request(a: &CreateArgs) -> Result<Value, CliError> {
    let mut req =
        json!({"KeyId": a.key, "GranteePrincipal": a.grantee, "Operations": a.operations});
    if let Some(r) = &a.retiring {
        req["RetiringPrincipal"] = json!(r);
    }
    if let Some(n) = &a.name {
        req["Name"] = json!(n);
    }
    let mut c = serde_json::Map::new();
    if !a.subset.is_empty() {
        c.insert(
            "EncryptionContextSubset".into(),
            json!(pair_map(&a.subset, "constraint")?),
        );
    }
    if !a.equals.is_empty() {
        c.insert(
            "EncryptionContextEquals".into(),
            json!(pair_map(&a.equals, "constraint")?),
        );
    }
    if !c.is_empty() {
        req["Constraints"] = Value::Object(c);
    }
    Ok(req)
}

/// Runs `ebsim grant`.
pub(crate) fn run(global: &GlobalArgs, args: &GrantArgs) -> Result<(), CliError> {
    let need = match args.cmd {
        GrantCmd::Create(_) => DataDir::Create,
        _ => DataDir::Existing,
    };
    let kms = kms_client(global, need)?;
    let (op, req) = match &args.cmd {
        GrantCmd::Create(a) => ("CreateGrant", create_request(a)?),
        GrantCmd::List { key } => {
            let req = json!({"KeyId": key, "Limit": 100});
            let grants = paginate(&kms, "ListGrants", &req, "Grants")?;
            if global.json {
                return print_json(&json!({"Grants": grants, "Truncated": false}));
            }
            for g in &grants {
                outln!(
                    "{}  grantee {}  operations {}  constraints {}",
                    s(&g["GrantId"]),
                    s(&g["GranteePrincipal"]),
                    g["Operations"],
                    g.get("Constraints")
                        .map_or_else(|| "none".to_string(), Value::to_string)
                )?;
            }
            return Ok(());
        }
        GrantCmd::Retire {
            token,
            key,
            grant_id,
        } => match (token, key, grant_id) {
            (Some(t), _, _) => ("RetireGrant", json!({"GrantToken": t})),
            (None, Some(k), Some(g)) => ("RetireGrant", json!({"KeyId": k, "GrantId": g})),
            _ => {
                return Err(CliError::InvalidArgument(
                    "grant retire needs --token, or --key ARN and --grant-id".into(),
                ));
            }
        },
        GrantCmd::Revoke { key, grant_id } => {
            ("RevokeGrant", json!({"KeyId": key, "GrantId": grant_id}))
        }
    };
    let out = kms.call(&Identity::Default, op, req)?;
    if global.json {
        print_json(&out)
    } else if op == "CreateGrant" {
        outln!("GrantId:    {}", s(&out["GrantId"]))?;
        outln!("GrantToken: {}", s(&out["GrantToken"]))
    } else {
        outln!("ok")
    }
}
