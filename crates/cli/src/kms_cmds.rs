//! `ebsim key|alias|grant|audit|clock`: the KMS from the command line, embedded on the data
//! dir (holding its lock for the command) or through a running `ebsim kms serve` /
//! `--kms-endpoint`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use ebsim_kms_client::{Identity, KmsClient};
use serde_json::{Value, json};

use crate::{CliError, GlobalArgs};

/// The KMS a command talks to: a running server (or `--kms-endpoint`) over HTTP, else the data
/// dir's KMS embedded in this process. `--as` is the default identity.
struct Backend(KmsClient);

fn other(e: impl std::fmt::Display) -> CliError {
    CliError::Other(e.to_string())
}

fn client_err(e: ebsim_kms_client::ClientError) -> CliError {
    match e {
        ebsim_kms_client::ClientError::Kms(k) => CliError::Kms(k),
        e => other(e),
    }
}

fn backend(global: &GlobalArgs) -> Result<Backend, CliError> {
    KmsClient::for_data_dir(
        &global.data_dir(),
        global.as_principal.clone(),
        global.kms_endpoint.clone(),
    )
    .map(Backend)
    .map_err(client_err)
}

impl Backend {
    fn call(&self, op: &str, req: Value) -> Result<Value, CliError> {
        self.0.call(&Identity::Default, op, req).map_err(client_err)
    }

    fn admin(&self, op: &str, req: Value) -> Result<Value, CliError> {
        self.0.admin(op, req).map_err(client_err)
    }
}

fn print_json(v: &Value) -> Result<(), CliError> {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default())?;
    Ok(())
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

fn date(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_string(), ebsim_kms::iso8601)
}

// ---------------------------------------------------------------------------------------
// key

/// `ebsim key …`
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    cmd: KeyCmd,
}

#[derive(Debug, Subcommand)]
enum KeyCmd {
    /// Create a key (symmetric by default).
    Create {
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
    },
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

fn read_policy(path: &PathBuf) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| other(format!("cannot read policy file {}: {e}", path.display())))
}

/// `KEY=VALUE` arguments as a KMS `Tags` list.
fn tag_list(tags: &[String]) -> Result<Value, CliError> {
    tags.iter()
        .map(|t| {
            t.split_once('=')
                .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
                .ok_or_else(|| other(format!("the tag '{t}' is not KEY=VALUE")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
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

/// Runs `ebsim key`.
pub fn run_key(global: &GlobalArgs, args: &KeyArgs) -> Result<(), CliError> {
    let kms = backend(global)?;
    let (op, req) = match &args.cmd {
        KeyCmd::Create {
            description,
            key_spec,
            key_usage,
            policy_file,
            bypass_policy_lockout_safety_check,
            tags,
        } => {
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
            ("CreateKey", req)
        }
        KeyCmd::List => {
            let mut keys = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                let mut req = json!({"Limit": 1000});
                if let Some(m) = &marker {
                    req["Marker"] = json!(m);
                }
                let out = kms.call("ListKeys", req)?;
                keys.extend(out["Keys"].as_array().cloned().unwrap_or_default());
                match out["NextMarker"].as_str() {
                    Some(m) if out["Truncated"] == json!(true) => marker = Some(m.to_string()),
                    _ => break,
                }
            }
            if global.json {
                print_json(&json!({"Keys": keys, "Truncated": false}))?;
            } else {
                for k in &keys {
                    outln!("{}", s(&k["KeyArn"]))?;
                }
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
            let mut tags = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                let mut req = json!({"KeyId": key});
                if let Some(m) = &marker {
                    req["Marker"] = json!(m);
                }
                let out = kms.call("ListResourceTags", req)?;
                tags.extend(out["Tags"].as_array().cloned().unwrap_or_default());
                match out["NextMarker"].as_str() {
                    Some(m) if out["Truncated"] == json!(true) => marker = Some(m.to_string()),
                    _ => break,
                }
            }
            if global.json {
                print_json(&json!({"Tags": tags, "Truncated": false}))?;
            } else {
                for t in &tags {
                    outln!(
                        "{}={}",
                        s(&t["TagKey"]),
                        t["TagValue"].as_str().unwrap_or("")
                    )?;
                }
            }
            return Ok(());
        }
        KeyCmd::Policy {
            cmd: PolicyCmd::Get { key },
        } => {
            let out = kms.call("GetKeyPolicy", json!({"KeyId": key}))?;
            if global.json {
                print_json(&out)?;
            } else {
                outln!("{}", s(&out["Policy"]))?;
            }
            return Ok(());
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
    };
    let out = kms.call(op, req)?;
    if global.json {
        print_json(&out)?;
        return Ok(());
    }
    match op {
        "CreateKey" | "DescribeKey" => print_key(&out["KeyMetadata"])?,
        "ScheduleKeyDeletion" => outln!(
            "{} is pending deletion; it will be deleted on {}",
            s(&out["KeyId"]),
            date(&out["DeletionDate"])
        )?,
        "CancelKeyDeletion" => outln!(
            "{}: deletion cancelled; the key is Disabled",
            s(&out["KeyId"])
        )?,
        "RotateKeyOnDemand" => outln!("{}: rotated to new key material", s(&out["KeyId"]))?,
        "GetKeyRotationStatus" => {
            if out["KeyRotationEnabled"] == json!(true) {
                outln!(
                    "rotation enabled, every {} days, next on {}",
                    out["RotationPeriodInDays"],
                    date(&out["NextRotationDate"])
                )?;
            } else {
                outln!("rotation disabled")?;
            }
        }
        _ => outln!("ok")?,
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// alias

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
pub fn run_alias(global: &GlobalArgs, args: &AliasArgs) -> Result<(), CliError> {
    let kms = backend(global)?;
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
            let out = kms.call("ListAliases", req)?;
            if global.json {
                print_json(&out)?;
            } else {
                for a in out["Aliases"].as_array().into_iter().flatten() {
                    outln!(
                        "{:<40} {}",
                        s(&a["AliasName"]),
                        a["TargetKeyId"].as_str().unwrap_or("(not created yet)")
                    )?;
                }
            }
            return Ok(());
        }
    };
    let out = kms.call(op, req)?;
    if global.json {
        print_json(&out)?;
    } else {
        outln!("ok")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// grant

/// `ebsim grant …`
#[derive(Debug, Args)]
pub struct GrantArgs {
    #[command(subcommand)]
    cmd: GrantCmd,
}

#[derive(Debug, Subcommand)]
enum GrantCmd {
    /// Create a grant on a key (id or ARN).
    Create {
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
    },
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

fn pairs(list: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    list.iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| other(format!("constraint {p:?} must be KEY=VALUE")))
        })
        .collect()
}

/// Runs `ebsim grant`.
pub fn run_grant(global: &GlobalArgs, args: &GrantArgs) -> Result<(), CliError> {
    let kms = backend(global)?;
    let (op, req) = match &args.cmd {
        GrantCmd::Create {
            key,
            grantee,
            operations,
            retiring,
            subset,
            equals,
            name,
        } => {
            let mut req =
                json!({"KeyId": key, "GranteePrincipal": grantee, "Operations": operations});
            if let Some(r) = retiring {
                req["RetiringPrincipal"] = json!(r);
            }
            if let Some(n) = name {
                req["Name"] = json!(n);
            }
            let mut c = serde_json::Map::new();
            if !subset.is_empty() {
                c.insert("EncryptionContextSubset".into(), json!(pairs(subset)?));
            }
            if !equals.is_empty() {
                c.insert("EncryptionContextEquals".into(), json!(pairs(equals)?));
            }
            if !c.is_empty() {
                req["Constraints"] = Value::Object(c);
            }
            ("CreateGrant", req)
        }
        GrantCmd::List { key } => {
            let out = kms.call("ListGrants", json!({"KeyId": key, "Limit": 100}))?;
            if global.json {
                print_json(&out)?;
            } else {
                for g in out["Grants"].as_array().into_iter().flatten() {
                    outln!(
                        "{}  grantee {}  operations {}  constraints {}",
                        s(&g["GrantId"]),
                        s(&g["GranteePrincipal"]),
                        g["Operations"],
                        g.get("Constraints")
                            .map_or_else(|| "none".to_string(), Value::to_string)
                    )?;
                }
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
                return Err(other(
                    "grant retire needs --token, or --key ARN and --grant-id",
                ));
            }
        },
        GrantCmd::Revoke { key, grant_id } => {
            ("RevokeGrant", json!({"KeyId": key, "GrantId": grant_id}))
        }
    };
    let out = kms.call(op, req)?;
    if global.json {
        print_json(&out)?;
    } else if op == "CreateGrant" {
        outln!("GrantId:    {}", s(&out["GrantId"]))?;
        outln!("GrantToken: {}", s(&out["GrantToken"]))?;
    } else {
        outln!("ok")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// audit, clock

/// `ebsim audit`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Show only the newest N records.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
}

/// Runs `ebsim audit`: the trail, one line per call (`--json`: JSON Lines).
pub fn run_audit(global: &GlobalArgs, args: &AuditArgs) -> Result<(), CliError> {
    let kms = backend(global)?;
    let records = if kms.0.is_http() {
        read_audit(&kms, args.limit)?
    } else {
        // The embedded KMS keeps its whole trail in DIR/audit/kms-audit.jsonl (the in-memory
        // ring only holds this process's calls). Only the root may read it.
        kms.admin("GetClock", json!({}))?;
        let path = global.data_dir().join("audit").join("kms-audit.jsonl");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            other(format!(
                "cannot read the audit trail {}: {e}",
                path.display()
            ))
        })?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect()
    };
    let skip = args
        .limit
        .map_or(0, |n| records.len().saturating_sub(n as usize));
    for r in records.iter().skip(skip) {
        if global.json {
            outln!("{}", serde_json::to_string(r).unwrap_or_default())?;
        } else {
            let who = r["userIdentity"]["arn"]
                .as_str()
                .or(r["userIdentity"]["invokedBy"].as_str())
                .unwrap_or("-");
            let via = r["userIdentity"]["invokedBy"]
                .as_str()
                .filter(|_| r["userIdentity"]["arn"].is_string());
            let outcome = r["errorCode"].as_str().unwrap_or("OK");
            let by = match (
                r["additionalEventData"]["grantId"].as_str(),
                r["additionalEventData"]["policyStatementSid"].as_str(),
            ) {
                (Some(g), _) => format!(" (grant {}…)", &g[..g.len().min(12)]),
                (None, Some(sid)) => format!(" (policy {sid:?})"),
                _ => String::new(),
            };
            outln!(
                "{} {:<32} {}{} key={} -> {}{}",
                s(&r["eventTime"]),
                s(&r["eventName"]),
                who,
                via.map(|v| format!(" via {v}")).unwrap_or_default(),
                r["resources"][0]["ARN"].as_str().unwrap_or("-"),
                outcome,
                by
            )?;
        }
    }
    Ok(())
}

fn read_audit(b: &Backend, limit: Option<u64>) -> Result<Vec<Value>, CliError> {
    let mut req = json!({});
    if let Some(n) = limit {
        req["Limit"] = json!(n);
    }
    let out = b.admin("ReadAudit", req)?;
    Ok(out["Records"].as_array().cloned().unwrap_or_default())
}

/// `ebsim clock …`
#[derive(Debug, Args)]
pub struct ClockArgs {
    #[command(subcommand)]
    cmd: ClockCmd,
}

#[derive(Debug, Subcommand)]
enum ClockCmd {
    /// Move simulated time forward (rotations and deletions fall due).
    Advance {
        /// Days (fractions allowed).
        days: f64,
    },
    /// Show simulated time and its offset from the wall clock.
    Show,
}

/// Runs `ebsim clock`.
pub fn run_clock(global: &GlobalArgs, args: &ClockArgs) -> Result<(), CliError> {
    let kms = backend(global)?;
    let out = match &args.cmd {
        ClockCmd::Advance { days } => kms.admin("AdvanceClock", json!({"Days": days}))?,
        ClockCmd::Show => kms.admin("GetClock", json!({}))?,
    };
    let offset = out["OffsetSeconds"].as_f64().unwrap_or(0.0);
    if global.json {
        print_json(
            &json!({"now": date(&out["Now"]), "now_epoch_seconds": out["Now"], "offset_seconds": offset, "offset_days": offset / 86_400.0}),
        )?;
    } else {
        outln!(
            "simulated time {} (wall clock + {:.3} days)",
            date(&out["Now"]),
            offset / 86_400.0
        )?;
    }
    Ok(())
}
