//! `ebsim iam …` and `ebsim sts …`: thin fronts of the IAM and STS actions (docs/iam.md),
//! called on the running `ebsim serve` or on the embedded KMS.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ebsim_iam::QueryService::{Iam, Sts};
use ebsim_kms_client::KmsClient;
use serde_json::{Value, json};

use crate::common::{DataDir, kms_client};
use crate::{CliError, GlobalArgs};

/// `ebsim iam …`
#[derive(Debug, Args)]
pub struct IamArgs {
    #[command(subcommand)]
    command: IamCommand,
}

#[derive(Debug, Subcommand)]
enum IamCommand {
    /// Create an IAM user with an access key (CreateUser, CreateAccessKey); prints its ARN,
    /// access key id and secret.
    CreateUser(NameArgs),
    /// Create an IAM role (CreateRole), assumable through `ebsim sts assume-role`; prints
    /// its ARN. Roles get no access keys: they are used through sessions.
    CreateRole(CreateRoleArgs),
    /// Give a user another access key (at most two); prints it.
    CreateAccessKey(NameArgs),
    /// Delete an access key (of a user, or of a role made before roles took sessions only):
    /// requests signed with it are refused from then on.
    DeleteAccessKey(DeleteKeyArgs),
    /// Delete a user with its access keys and inline policies, after detaching its managed
    /// policies.
    DeleteUser(NameArgs),
    /// Put an inline identity policy (a JSON file) on a user or role.
    PutPolicy(PutPolicyArgs),
    /// List the users and roles of the account.
    List,
    /// Print the access key of an account's root (`--account`, default 111122223333),
    /// generated on first use and kept in DIR/kms/root-credentials (mode 0600). Every
    /// credential mode of `ebsim serve` accepts it; `strict` accepts no other root key.
    RootCredentials,
}

#[derive(Debug, Args)]
struct NameArgs {
    /// User name (in the account of `--account`, default 111122223333).
    name: String,
}

#[derive(Debug, Args)]
struct CreateRoleArgs {
    /// Role name (in the account of `--account`, default 111122223333).
    name: String,
    /// The trust policy (AssumeRolePolicyDocument, a JSON file); default: the account's
    /// principals may assume it (as their identity policies allow).
    #[arg(long, value_name = "FILE")]
    trust_policy: Option<PathBuf>,
    /// The longest session, seconds (3600 to 43200; default 3600).
    #[arg(long, value_name = "SECONDS")]
    max_session_duration: Option<u32>,
}

#[derive(Debug, Args)]
struct DeleteKeyArgs {
    /// The access key id (`AKIA…`).
    access_key_id: String,
}

#[derive(Debug, Args)]
struct PutPolicyArgs {
    /// The principal: an ARN, or the name of a user or role.
    name: String,
    /// The policy document (JSON file).
    file: PathBuf,
    /// Name of the policy (default: the file name without extension).
    #[arg(long, value_name = "NAME")]
    policy_name: Option<String>,
}

/// `ebsim sts …`
#[derive(Debug, Args)]
pub struct StsArgs {
    #[command(subcommand)]
    command: StsCommand,
}

#[derive(Debug, Subcommand)]
enum StsCommand {
    /// Assume a role (AssumeRole, as `--as` or the account root): prints the session's
    /// temporary credentials (access key id, secret, session token, expiration on the
    /// simulated clock) and its assumed-role ARN. The role's trust policy must allow the
    /// caller; account roots cannot assume roles.
    AssumeRole(AssumeRoleArgs),
    /// Who the command's credentials are (GetCallerIdentity).
    GetCallerIdentity,
}

#[derive(Debug, Args)]
struct AssumeRoleArgs {
    /// The role's ARN, or its name in the caller's account.
    role: String,
    /// The session name (2 to 64 characters of `[A-Za-z0-9_+=,.@-]`).
    #[arg(long, default_value = "ebsim-cli", value_name = "NAME")]
    session_name: String,
    /// Seconds the credentials last (900 up to the role's MaxSessionDuration; default 3600).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<u32>,
    /// A session policy (JSON file): the session may do only what it and the role allow.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

/// Runs `ebsim iam …`.
pub(crate) fn run(global: &GlobalArgs, args: &IamArgs) -> Result<(), CliError> {
    let need = match args.command {
        IamCommand::CreateUser(_) | IamCommand::CreateRole(_) | IamCommand::RootCredentials => {
            DataDir::Create
        }
        _ => DataDir::Existing,
    };
    // A policy for an ARN of another account is put as that account's root.
    let mut other = global.clone();
    if let IamCommand::PutPolicy(a) = &args.command
        && global.as_principal.is_none()
        && let Some(acct) = a
            .name
            .strip_prefix("arn:aws:iam::")
            .and_then(|r| r.split(':').next())
            .and_then(|acct| acct.parse::<ebsim_kms_api::id::AccountId>().ok())
    {
        other.account = Some(acct);
    }
    let client = kms_client(&other, need)?;
    match &args.command {
        IamCommand::CreateUser(a) => {
            let user = client.query(Iam, "CreateUser", &[("UserName", &a.name)])?;
            let arn = field(&user, "Arn");
            let key = client.query(Iam, "CreateAccessKey", &[("UserName", &a.name)])?;
            print_key(global, &arn, &key)
        }
        IamCommand::CreateAccessKey(a) => {
            let user = client.query(Iam, "GetUser", &[("UserName", &a.name)])?;
            let key = client.query(Iam, "CreateAccessKey", &[("UserName", &a.name)])?;
            print_key(global, &field(&user, "Arn"), &key)
        }
        IamCommand::CreateRole(a) => create_role(global, &client, a),
        IamCommand::DeleteAccessKey(a) => {
            client.query(Iam, "DeleteAccessKey", &[("AccessKeyId", &a.access_key_id)])?;
            done(
                global,
                json!({"access_key_id": a.access_key_id, "status": "deleted"}),
            )
        }
        IamCommand::DeleteUser(a) => delete_user(global, &client, &a.name),
        IamCommand::PutPolicy(a) => put_policy(global, &client, a),
        IamCommand::List => list(global, &client),
        IamCommand::RootCredentials => root_credentials(global, &client),
    }
}

/// Runs `ebsim sts …`.
pub(crate) fn run_sts(global: &GlobalArgs, args: &StsArgs) -> Result<(), CliError> {
    let client = kms_client(global, DataDir::Existing)?;
    match &args.command {
        StsCommand::GetCallerIdentity => {
            let me = client.query(Sts, "GetCallerIdentity", &[])?;
            let v = json!({"user_id": field(&me, "UserId"), "account": field(&me, "Account"), "arn": field(&me, "Arn")});
            if global.json {
                outln!("{v}")?;
            } else {
                outln!("{}", field(&me, "Arn"))?;
            }
            Ok(())
        }
        StsCommand::AssumeRole(a) => assume_role(global, &client, a),
    }
}

/// The text of the first element `name` of an answer.
fn field(leaves: &[(String, String)], name: &str) -> String {
    leaves
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Every text of elements `name` of an answer.
fn fields<'a>(leaves: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    leaves
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn done(global: &GlobalArgs, v: Value) -> Result<(), CliError> {
    if global.json {
        outln!("{v}")?;
    } else if let Some(obj) = v.as_object() {
        let parts: Vec<String> = obj
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
            .collect();
        outln!("{}", parts.join(", "))?;
    }
    Ok(())
}

fn read_file(path: &PathBuf, what: &'static str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(CliError::io(what, path))
}

fn create_role(
    global: &GlobalArgs,
    client: &KmsClient,
    a: &CreateRoleArgs,
) -> Result<(), CliError> {
    let trust = match &a.trust_policy {
        Some(p) => read_file(p, "read the trust policy file")?,
        None => json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": global.account().root_arn()}, "Action": "sts:AssumeRole"}]})
        .to_string(),
    };
    let max = a.max_session_duration.map(|m| m.to_string());
    let mut params = vec![
        ("RoleName", a.name.as_str()),
        ("AssumeRolePolicyDocument", &trust),
    ];
    if let Some(m) = &max {
        params.push(("MaxSessionDuration", m));
    }
    let role = client.query(Iam, "CreateRole", &params)?;
    done(
        global,
        json!({"arn": field(&role, "Arn"), "role_id": field(&role, "RoleId")}),
    )
}

fn delete_user(global: &GlobalArgs, client: &KmsClient, name: &str) -> Result<(), CliError> {
    let user = [("UserName", name)];
    let keys = client.query(Iam, "ListAccessKeys", &user)?;
    for id in fields(&keys, "AccessKeyId") {
        client.query(
            Iam,
            "DeleteAccessKey",
            &[("UserName", name), ("AccessKeyId", id)],
        )?;
    }
    let policies = client.query(Iam, "ListUserPolicies", &user)?;
    for p in fields(&policies, "member") {
        client.query(
            Iam,
            "DeleteUserPolicy",
            &[("UserName", name), ("PolicyName", p)],
        )?;
    }
    let attached = client.query(Iam, "ListAttachedUserPolicies", &user)?;
    for arn in fields(&attached, "PolicyArn") {
        client.query(
            Iam,
            "DetachUserPolicy",
            &[("UserName", name), ("PolicyArn", arn)],
        )?;
    }
    client.query(Iam, "DeleteUser", &user)?;
    done(global, json!({"user_name": name, "status": "deleted"}))
}

fn assume_role(
    global: &GlobalArgs,
    client: &KmsClient,
    a: &AssumeRoleArgs,
) -> Result<(), CliError> {
    let arn = if a.role.starts_with("arn:") {
        a.role.clone()
    } else {
        format!("arn:aws:iam::{}:role/{}", global.account().as_str(), a.role)
    };
    let duration = a.duration.map(|d| d.to_string());
    let policy = match &a.policy {
        Some(p) => Some(read_file(p, "read the session policy file")?),
        None => None,
    };
    let mut params = vec![
        ("RoleArn", arn.as_str()),
        ("RoleSessionName", a.session_name.as_str()),
    ];
    if let Some(d) = &duration {
        params.push(("DurationSeconds", d));
    }
    if let Some(p) = &policy {
        params.push(("Policy", p));
    }
    let out = client.query(Sts, "AssumeRole", &params)?;
    let (id, secret, token, expires) = (
        field(&out, "AccessKeyId"),
        field(&out, "SecretAccessKey"),
        field(&out, "SessionToken"),
        field(&out, "Expiration"),
    );
    let session_arn = fields(&out, "Arn").last().unwrap_or_default().to_owned();
    if global.json {
        outln!(
            "{}",
            json!({"arn": session_arn, "access_key_id": id, "secret_access_key": secret,
                "session_token": token, "expiration": expires})
        )?;
    } else {
        outln!("# {session_arn}, until {expires} (simulated time)")?;
        outln!("export AWS_ACCESS_KEY_ID={id}")?;
        outln!("export AWS_SECRET_ACCESS_KEY={secret}")?;
        outln!("export AWS_SESSION_TOKEN={token}")?;
    }
    Ok(())
}

fn root_credentials(global: &GlobalArgs, client: &KmsClient) -> Result<(), CliError> {
    let out = client.admin(
        "GetRootCredentials",
        json!({ "AccountId": global.account().as_str() }),
    )?;
    let text = |k: &str| {
        out.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let key = vec![
        ("AccessKeyId".to_owned(), text("AccessKeyId")),
        ("SecretAccessKey".to_owned(), text("SecretAccessKey")),
    ];
    print_key(global, &text("Arn"), &key)
}

/// Prints an ARN and the access key of a CreateAccessKey answer.
fn print_key(global: &GlobalArgs, arn: &str, key: &[(String, String)]) -> Result<(), CliError> {
    let (id, secret) = (field(key, "AccessKeyId"), field(key, "SecretAccessKey"));
    if global.json {
        outln!(
            "{}",
            json!({ "arn": arn, "access_key_id": id, "secret_access_key": secret })
        )?;
    } else {
        outln!("arn:               {arn}")?;
        outln!("access_key_id:     {id}")?;
        outln!("secret_access_key: {secret}")?;
    }
    Ok(())
}

/// The account's users and roles: (kind, name, ARN).
fn principals(client: &KmsClient) -> Result<Vec<(&'static str, String, String)>, CliError> {
    let mut out = Vec::new();
    for (kind, action, name_field) in [
        ("user", "ListUsers", "UserName"),
        ("role", "ListRoles", "RoleName"),
    ] {
        let mut marker: Option<String> = None;
        loop {
            let mut params = vec![("MaxItems", "1000")];
            if let Some(m) = &marker {
                params.push(("Marker", m.as_str()));
            }
            let page = client.query(Iam, action, &params)?;
            let names = fields(&page, name_field);
            let arns = fields(&page, "Arn");
            out.extend(
                names
                    .zip(arns)
                    .map(|(n, a)| (kind, n.to_owned(), a.to_owned())),
            );
            if field(&page, "IsTruncated") != "true" {
                break;
            }
            marker = Some(field(&page, "Marker"));
        }
    }
    Ok(out)
}

fn put_policy(global: &GlobalArgs, client: &KmsClient, a: &PutPolicyArgs) -> Result<(), CliError> {
    let doc = read_file(&a.file, "read the policy file")?;
    let all = principals(client)?;
    let matches: Vec<&(&str, String, String)> = all
        .iter()
        .filter(|(_, name, arn)| *arn == a.name || *name == a.name)
        .collect();
    let (kind, name, arn) = match matches.as_slice() {
        [one] => *one,
        [] => {
            return Err(CliError::InvalidArgument(format!(
                "no user or role named '{}'",
                a.name
            )));
        }
        _ => {
            return Err(CliError::InvalidArgument(format!(
                "'{}' names both a user and a role; pass the ARN",
                a.name
            )));
        }
    };
    let policy_name = a.policy_name.clone().unwrap_or_else(|| {
        a.file
            .file_stem()
            .map_or_else(|| "inline".to_owned(), |s| s.to_string_lossy().into_owned())
    });
    let (action, name_field) = if *kind == "role" {
        ("PutRolePolicy", "RoleName")
    } else {
        ("PutUserPolicy", "UserName")
    };
    client.query(
        Iam,
        action,
        &[
            (name_field, name),
            ("PolicyName", &policy_name),
            ("PolicyDocument", &doc),
        ],
    )?;
    if global.json {
        outln!(
            "{}",
            json!({ "principal_arn": arn, "policy_name": policy_name })
        )?;
    } else {
        outln!("policy {policy_name} attached to {arn}")?;
    }
    Ok(())
}

fn list(global: &GlobalArgs, client: &KmsClient) -> Result<(), CliError> {
    let principals = principals(client)?;
    if global.json {
        let list: Vec<Value> = principals
            .iter()
            .map(|(kind, name, arn)| json!({"arn": arn, "type": kind, "name": name}))
            .collect();
        outln!("{}", json!({ "principals": list }))?;
    } else {
        for (kind, _, arn) in &principals {
            outln!("{arn}\t{kind}")?;
        }
    }
    Ok(())
}
