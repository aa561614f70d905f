//! `ebsim key …`: create, list, describe, enable/disable, deletion, rotation, tags, policy;
//! sign, verify, public-key, mac and verify-mac are in `super::sign`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ebsim_kms_client::Identity;
use serde_json::{Value, json};

use super::{date, pairs, read_policy, s};
use crate::common::{DataDir, kms_client, paginate, print_json};
use crate::{CliError, GlobalArgs};

/// `ebsim key …`
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    cmd: KeyCmd,
}

#[derive(Debug, Subcommand)]
enum KeyCmd {
    /// Create a key (symmetric by default).
    Create(CreateArgs),
    /// List the account's keys.
    List,
    /// Describe a key (id, ARN, alias name or alias ARN).
    Describe { key: String },
    /// Enable a key.
    Enable { key: String },
    /// Disable a key (crypto calls then fail with DisabledException).
    Disable { key: String },
    /// Schedule the deletion of a key (7..30 days).
    ScheduleDeletion {
        key: String,
        /// Waiting period in days.
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
    /// Cancel a scheduled deletion (the key ends Disabled).
    CancelDeletion { key: String },
    /// Rotate the key material now (old ciphertexts keep decrypting).
    Rotate { key: String },
    /// Turn on automatic rotation.
    EnableRotation {
        key: String,
        /// Rotation period in days (90..2560).
        #[arg(long, default_value_t = 365)]
        period_days: i64,
    },
    /// Turn off automatic rotation.
    DisableRotation { key: String },
    /// Show the rotation status.
    RotationStatus { key: String },
    /// Add tags to a key, or change their values.
    Tag {
        key: String,
        /// Tags to set.
        #[arg(required = true, value_name = "KEY=VALUE")]
        tags: Vec<String>,
    },
    /// Remove tags from a key (tags it does not have are ignored).
    Untag {
        key: String,
        /// Tag keys to remove.
        #[arg(required = true, value_name = "TAG_KEY")]
        tag_keys: Vec<String>,
    },
    /// List the tags of a key.
    Tags { key: String },
    /// Get or put the key policy.
    Policy {
        #[command(subcommand)]
        cmd: PolicyCmd,
    },
    /// Sign a message (or its digest) with an asymmetric SIGN_VERIFY key; prints the
    /// signature in base64.
    Sign(super::sign::SignArgs),
    /// Verify a signature (exit status 0 when it verifies).
    Verify(super::sign::VerifyArgs),
    /// Print the public key of an asymmetric key (PEM), or write it as DER.
    PublicKey(super::sign::PublicKeyArgs),
    /// Compute the HMAC of a message with an HMAC key; prints it in base64.
    Mac(super::sign::MacArgs),
    /// Verify an HMAC (exit status 0 when it matches).
    VerifyMac(super::sign::VerifyMacArgs),
    /// Bring your own key material: create (or name) a key of origin EXTERNAL, wrap the
    /// material with its wrapping public key, import it.
    Import(super::import::ImportArgs),
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// Description of the key.
    #[arg(long, default_value = "")]
    description: String,
    /// Key spec: SYMMETRIC_DEFAULT, RSA_2048, HMAC_256, ECC_NIST_P256, …
    #[arg(long)]
    key_spec: Option<String>,
    /// Key usage: ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT.
    #[arg(long)]
    key_usage: Option<String>,
    /// Key policy file (JSON); default: the account root may do everything.
    #[arg(long, value_name = "FILE")]
    policy_file: Option<PathBuf>,
    /// Skip the check that the policy still lets you change it.
    #[arg(long)]
    bypass_policy_lockout_safety_check: bool,
    /// A tag for the new key (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// Print the key policy.
    Get { key: String },
    /// Replace the key policy with the contents of FILE.
    Put {
        key: String,
        /// Policy file (JSON).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// Skip the check that the policy still lets you change it.
        #[arg(long)]
        bypass_policy_lockout_safety_check: bool,
    },
}

/// `KEY=VALUE` arguments as a KMS `Tags` list.
fn tag_list(tags: &[String]) -> Result<Value, CliError> {
    Ok(Value::Array(
        pairs(tags, "tag")?
            .into_iter()
            .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
            .collect(),
    ))
}

fn print_key(m: &Value) -> Result<(), CliError> {
    outln!("KeyId:       {}", s(&m["KeyId"]))?;
    outln!("Arn:         {}", s(&m["Arn"]))?;
    outln!("KeyState:    {}", s(&m["KeyState"]))?;
    outln!("KeySpec:     {} ({})", s(&m["KeySpec"]), s(&m["KeyUsage"]))?;
    outln!("KeyManager:  {}", s(&m["KeyManager"]))?;
    outln!("Description: {}", m["Description"].as_str().unwrap_or(""))?;
    outln!("Created:     {}", date(&m["CreationDate"]))?;
    if m.get("DeletionDate").is_some() {
        outln!("DeletionDate: {}", date(&m["DeletionDate"]))?;
    }
    if let Some(id) = m["CurrentKeyMaterialId"].as_str() {
        outln!("KeyMaterial: {id}")?;
    }
    Ok(())
}

fn create_request(a: &CreateArgs) -> Result<Value, CliError> {
    let CreateArgs {
        description,
        key_spec,
        key_usage,
        policy_file,
        bypass_policy_lockout_safety_check,
        tags,
    } = a;
    let mut req = json!({"Description": description});
    if !tags.is_empty() {
        req["Tags"] = tag_list(tags)?;
    }
    if let Some(s) = key_spec {
        req["KeySpec"] = json!(s);
    }
    if let Some(u) = key_usage {
        req["KeyUsage"] = json!(u);
    }
    if let Some(p) = policy_file {
        req["Policy"] = json!(read_policy(p)?);
    }
    if *bypass_policy_lockout_safety_check {
        req["BypassPolicyLockoutSafetyCheck"] = json!(true);
    }
    Ok(req)
}

/// Runs `ebsim key`.
pub(crate) fn run(global: &GlobalArgs, args: &KeyArgs) -> Result<(), CliError> {
    let need = match args.cmd {
        KeyCmd::Create(_) | KeyCmd::Import(_) => DataDir::Create,
        _ => DataDir::Existing,
    };
    let kms = kms_client(global, need)?;
    match &args.cmd {
        KeyCmd::Sign(a) => return super::sign::sign(global, &kms, a),
        KeyCmd::Verify(a) => return super::sign::verify(global, &kms, a),
        KeyCmd::PublicKey(a) => return super::sign::public_key(global, &kms, a),
        KeyCmd::Mac(a) => return super::sign::mac(global, &kms, a),
        KeyCmd::VerifyMac(a) => return super::sign::verify_mac(global, &kms, a),
        KeyCmd::Import(a) => return super::import::import(global, &kms, a),
        _ => {}
    }
    let (op, req) = match &args.cmd {
        KeyCmd::Create(a) => ("CreateKey", create_request(a)?),
        KeyCmd::List => {
            let keys = paginate(&kms, "ListKeys", &json!({"Limit": 1000}), "Keys")?;
            if global.json {
                return print_json(&json!({"Keys": keys, "Truncated": false}));
            }
            for k in &keys {
                outln!("{}", s(&k["KeyArn"]))?;
            }
            return Ok(());
        }
        KeyCmd::Describe { key } => ("DescribeKey", json!({"KeyId": key})),
        KeyCmd::Enable { key } => ("EnableKey", json!({"KeyId": key})),
        KeyCmd::Disable { key } => ("DisableKey", json!({"KeyId": key})),
        KeyCmd::ScheduleDeletion { key, days } => (
            "ScheduleKeyDeletion",
            json!({"KeyId": key, "PendingWindowInDays": days}),
        ),
        KeyCmd::CancelDeletion { key } => ("CancelKeyDeletion", json!({"KeyId": key})),
        KeyCmd::Rotate { key } => ("RotateKeyOnDemand", json!({"KeyId": key})),
        KeyCmd::EnableRotation { key, period_days } => (
            "EnableKeyRotation",
            json!({"KeyId": key, "RotationPeriodInDays": period_days}),
        ),
        KeyCmd::DisableRotation { key } => ("DisableKeyRotation", json!({"KeyId": key})),
        KeyCmd::RotationStatus { key } => ("GetKeyRotationStatus", json!({"KeyId": key})),
        KeyCmd::Tag { key, tags } => (
            "TagResource",
            json!({"KeyId": key, "Tags": tag_list(tags)?}),
        ),
        KeyCmd::Untag { key, tag_keys } => {
            ("UntagResource", json!({"KeyId": key, "TagKeys": tag_keys}))
        }
        KeyCmd::Tags { key } => {
            let tags = paginate(
                &kms,
                "ListResourceTags",
                &json!({"KeyId": key, "Limit": 50}),
                "Tags",
            )?;
            if global.json {
                return print_json(&json!({"Tags": tags, "Truncated": false}));
            }
            for t in &tags {
                outln!(
                    "{}={}",
                    s(&t["TagKey"]),
                    t["TagValue"].as_str().unwrap_or("")
                )?;
            }
            return Ok(());
        }
        KeyCmd::Policy {
            cmd: PolicyCmd::Get { key },
        } => {
            let out = kms.call(&Identity::Default, "GetKeyPolicy", json!({"KeyId": key}))?;
            if global.json {
                return print_json(&out);
            }
            return outln!("{}", s(&out["Policy"]));
        }
        KeyCmd::Policy {
            cmd:
                PolicyCmd::Put {
                    key,
                    file,
                    bypass_policy_lockout_safety_check,
                },
        } => (
            "PutKeyPolicy",
            json!({"KeyId": key, "Policy": read_policy(file)?,
                   "BypassPolicyLockoutSafetyCheck": bypass_policy_lockout_safety_check}),
        ),
        KeyCmd::Sign(_)
        | KeyCmd::Verify(_)
        | KeyCmd::PublicKey(_)
        | KeyCmd::Mac(_)
        | KeyCmd::VerifyMac(_)
        | KeyCmd::Import(_) => return Ok(()),
    };
    let out = kms.call(&Identity::Default, op, req)?;
    if global.json {
        return print_json(&out);
    }
    match op {
        "CreateKey" | "DescribeKey" => print_key(&out["KeyMetadata"]),
        "ScheduleKeyDeletion" => outln!(
            "{} is pending deletion; it will be deleted on {}",
            s(&out["KeyId"]),
            date(&out["DeletionDate"])
        ),
        "CancelKeyDeletion" => outln!(
            "{}: deletion cancelled; the key is Disabled",
            s(&out["KeyId"])
        ),
        "RotateKeyOnDemand" => outln!("{}: rotated to new key material", s(&out["KeyId"])),
        "GetKeyRotationStatus" if out["KeyRotationEnabled"] == json!(true) => outln!(
            "rotation enabled, every {} days, next on {}",
            out["RotationPeriodInDays"],
            date(&out["NextRotationDate"])
        ),
        "GetKeyRotationStatus" => outln!("rotation disabled"),
        _ => outln!("ok"),
    }
}
