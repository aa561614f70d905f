//! `ebsim ebs …` and the EC2 calls other commands make: on the data dir's running `ebsim
//! serve` (which owns the EC2 state while it runs), else on the EC2 service opened in this
//! process (docs/ec2.md, "From the command line").

use std::sync::Arc;

use clap::{Args, Subcommand};
use ebsim_iam::QueryService;
use ebsim_kms::{Caller, Kms, KmsConfig};
use ebsim_kms_client::{Identity, KmsClient};
use serde_json::json;

use crate::common::{DataDir, data_dir};
use crate::{CliError, GlobalArgs};

/// `ebsim ebs …`
#[derive(Debug, Args)]
pub struct EbsArgs {
    #[command(subcommand)]
    command: EbsCommand,
}

#[derive(Debug, Subcommand)]
enum EbsCommand {
    /// EBS encryption by default, per account (`--account`) and region (`--region`): new
    /// volumes are encrypted whatever `Encrypted` says; existing volumes are unaffected.
    EncryptionByDefault(EbdArgs),
    /// The default KMS key of new encrypted volumes (`alias/aws/ebs` until set).
    DefaultKey(DefaultKeyArgs),
}

#[derive(Debug, Args)]
struct EbdArgs {
    #[command(subcommand)]
    command: EbdCommand,
}

#[derive(Debug, Subcommand)]
enum EbdCommand {
    /// Turn encryption by default on (EnableEbsEncryptionByDefault).
    Enable,
    /// Turn it off (DisableEbsEncryptionByDefault).
    Disable,
    /// Show whether it is on, and the default key.
    Status,
}

#[derive(Debug, Args)]
struct DefaultKeyArgs {
    #[command(subcommand)]
    command: DefaultKeyCommand,
}

#[derive(Debug, Subcommand)]
enum DefaultKeyCommand {
    /// Show the default key (GetEbsDefaultKmsKeyId).
    Show,
    /// Set it (ModifyEbsDefaultKmsKeyId): a key id, ARN, alias or alias ARN of a symmetric
    /// encryption key.
    Set {
        /// The key.
        #[arg(value_name = "KEY")]
        key: String,
    },
    /// Back to `alias/aws/ebs` (ResetEbsDefaultKmsKeyId).
    Reset,
}

/// The principal EC2 calls are made as: `--as`, else the root of `--account`.
fn principal(global: &GlobalArgs) -> String {
    global
        .as_principal
        .clone()
        .unwrap_or_else(|| global.account().root_arn())
}

/// The HTTP client of the data dir's own running server (not an explicit
/// `--kms-endpoint`), when one runs.
pub(crate) fn own_server(global: &GlobalArgs) -> Result<Option<KmsClient>, CliError> {
    if global.kms_endpoint.is_some() {
        return Ok(None);
    }
    let dir = global.data_dir();
    if !dir.is_dir() {
        return Ok(None);
    }
    Ok(KmsClient::routed(&dir, None, None)?.map(|c| c.in_region(global.region())))
}

/// One EC2 action: on the running server, else in this process. The answer's leaf elements
/// in document order.
pub(crate) fn ec2_query(
    global: &GlobalArgs,
    action: &str,
    params: &[(&str, &str)],
) -> Result<Vec<(String, String)>, CliError> {
    let who = principal(global);
    if let Some(client) = own_server(global)? {
        return Ok(client.query_as(
            &Identity::Principal(who),
            QueryService::Ec2,
            action,
            params,
        )?);
    }
    let dir = data_dir(global, DataDir::Create)?;
    let config = KmsConfig::default()
        .account(global.account().as_str())
        .region(global.region());
    let kms = Arc::new(Kms::open(&dir, config)?);
    let ec2 = ebsim_ec2::Ec2::open(&dir, kms, global.region()).map_err(CliError::Tool)?;
    let mut form = vec![("Action", action), ("Version", QueryService::Ec2.version())];
    form.extend_from_slice(params);
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{}={}", k, encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let req = ebsim_iam::QueryRequest::parse(body.as_bytes()).map_err(ec2_error)?;
    let caller = Caller::new(who).in_region(global.region());
    let out = ec2.handle(&caller, &req, "cli").map_err(ec2_error)?;
    ebsim_iam::xml::leaves(&out).map_err(CliError::Tool)
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn ec2_error(e: ebsim_iam::QueryError) -> CliError {
    CliError::Ec2 {
        code: e.code.to_owned(),
        message: e.message,
    }
}

/// The first leaf named `name`.
pub(crate) fn leaf<'a>(leaves: &'a [(String, String)], name: &str) -> Option<&'a str> {
    leaves
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Runs `ebsim ebs …`.
pub(crate) fn run(global: &GlobalArgs, args: &EbsArgs) -> Result<(), CliError> {
    match &args.command {
        EbsCommand::EncryptionByDefault(a) => {
            let action = match a.command {
                EbdCommand::Enable => "EnableEbsEncryptionByDefault",
                EbdCommand::Disable => "DisableEbsEncryptionByDefault",
                EbdCommand::Status => "GetEbsEncryptionByDefault",
            };
            let out = ec2_query(global, action, &[])?;
            let on = leaf(&out, "ebsEncryptionByDefault") == Some("true");
            let key = leaf(
                &ec2_query(global, "GetEbsDefaultKmsKeyId", &[])?,
                "kmsKeyId",
            )
            .unwrap_or(ebsim_ec2::DEFAULT_EBS_KEY)
            .to_owned();
            if global.json {
                outln!(
                    "{}",
                    json!({"region": global.region().as_str(), "ebs_encryption_by_default": on,
                        "kms_key_id": key})
                )
            } else {
                outln!(
                    "encryption by default is {} in {} (default key {key})",
                    if on { "on" } else { "off" },
                    global.region().as_str()
                )
            }
        }
        EbsCommand::DefaultKey(a) => {
            let out = match &a.command {
                DefaultKeyCommand::Show => ec2_query(global, "GetEbsDefaultKmsKeyId", &[])?,
                DefaultKeyCommand::Set { key } => {
                    ec2_query(global, "ModifyEbsDefaultKmsKeyId", &[("KmsKeyId", key)])?
                }
                DefaultKeyCommand::Reset => ec2_query(global, "ResetEbsDefaultKmsKeyId", &[])?,
            };
            let key = leaf(&out, "kmsKeyId").unwrap_or_default();
            if global.json {
                outln!(
                    "{}",
                    json!({"region": global.region().as_str(), "kms_key_id": key})
                )
            } else {
                outln!("{key}")
            }
        }
    }
}

/// The principal the process doing a volume's I/O unwraps its key as, by the EC2 state
/// (never `metadata.json`): the session of the instance the volume is attached to, asked of
/// the running server (DescribeVolumes) or read from `DIR/ec2/state.json` when none runs;
/// `None` for a volume no instance has (its per-volume grant applies).
pub(crate) fn io_principal(
    global: &GlobalArgs,
    volume_id: &str,
) -> Result<Option<String>, CliError> {
    // The account whose EC2 state has the volume: that of `--as`, else `--account`.
    let account = global
        .as_principal
        .as_deref()
        .and_then(ebsim_kms_api::id::arn_account)
        .map_or_else(|| global.account().as_str().to_owned(), str::to_owned);
    if let Some(client) = own_server(global)? {
        // The control plane's own lookup, as the account's root (the I/O process asks who
        // may unwrap the key, not whether the user may describe volumes).
        let who = Identity::Principal(format!("arn:aws:iam::{account}:root"));
        let out = match client.query_as(
            &who,
            QueryService::Ec2,
            "DescribeVolumes",
            &[("VolumeId.1", volume_id)],
        ) {
            Ok(out) => out,
            // A volume EC2 does not know in this account and region: no instance has it.
            Err(ebsim_kms_client::ClientError::Service { type_name, .. })
                if type_name == "InvalidVolume.NotFound" =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        return Ok(leaf(&out, "instanceId").map(|i| ebsim_ec2::instance_principal(&account, i)));
    }
    let dir = data_dir(global, DataDir::Existing)?;
    ebsim_ec2::attached_instance_principal(&dir, volume_id).map_err(CliError::Tool)
}
