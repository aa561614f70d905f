//! `ebsim iam …`: IAM users, roles and their identity policies, through the KMS admin API
//! (of the running `ebsim kms serve`, or of the embedded KMS).

use std::path::PathBuf;

use clap::{Args, Subcommand};
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
    /// Create an IAM user with an access key; prints its ARN, access key id and secret.
    CreateUser(CreateArgs),
    /// Create an IAM role with an access key (for signing as the role); prints its ARN,
    /// access key id and secret.
    CreateRole(CreateArgs),
    /// Attach an identity policy (a JSON file) to a user or role.
    PutPolicy(PutPolicyArgs),
    /// List the users and roles known to the data dir.
    List,
    /// Print the access key of an account's root (`--account`, default 111122223333),
    /// generated on first use and kept in DIR/kms/root-credentials (mode 0600). Every
    /// credential mode of `ebsim kms serve` accepts it; `strict` accepts no other root key.
    RootCredentials,
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// User or role name (in the account of `--account`, default 111122223333).
    name: String,
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

/// Runs `ebsim iam …`.
pub(crate) fn run(global: &GlobalArgs, args: &IamArgs) -> Result<(), CliError> {
    let need = match args.command {
        IamCommand::CreateUser(_) | IamCommand::CreateRole(_) | IamCommand::RootCredentials => {
            DataDir::Create
        }
        _ => DataDir::Existing,
    };
    let client = kms_client(global, need)?;
    match &args.command {
        IamCommand::CreateUser(a) => create(global, &client, "CreateUser", "UserName", a),
        IamCommand::CreateRole(a) => create(global, &client, "CreateRole", "RoleName", a),
        IamCommand::PutPolicy(a) => put_policy(global, &client, a),
        IamCommand::List => list(global, &client),
        IamCommand::RootCredentials => root_credentials(global, &client),
    }
}

fn create(
    global: &GlobalArgs,
    client: &KmsClient,
    op: &str,
    name_field: &str,
    a: &CreateArgs,
) -> Result<(), CliError> {
    let mut req = json!({ name_field: a.name });
    if let (Some(acct), Some(obj)) = (&global.account, req.as_object_mut()) {
        obj.insert("AccountId".to_owned(), acct.as_str().into());
    }
    let out = client.admin(op, req)?;
    print_key(global, &out)
}

fn root_credentials(global: &GlobalArgs, client: &KmsClient) -> Result<(), CliError> {
    let out = client.admin(
        "GetRootCredentials",
        json!({ "AccountId": global.account().as_str() }),
    )?;
    print_key(global, &out)
}

/// Prints the ARN, access key id and secret of an admin answer.
fn print_key(global: &GlobalArgs, out: &Value) -> Result<(), CliError> {
    let field = |k: &str| {
        out.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (arn, id, secret) = (field("Arn"), field("AccessKeyId"), field("SecretAccessKey"));
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

fn principals(client: &KmsClient) -> Result<Vec<Value>, CliError> {
    let out = client.admin("ListPrincipals", json!({}))?;
    Ok(out
        .get("Principals")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

fn put_policy(global: &GlobalArgs, client: &KmsClient, a: &PutPolicyArgs) -> Result<(), CliError> {
    let doc =
        std::fs::read_to_string(&a.file).map_err(CliError::io("read the policy file", &a.file))?;
    let arn = if a.name.starts_with("arn:") {
        a.name.clone()
    } else {
        let matches: Vec<String> = principals(client)?
            .iter()
            .filter_map(|p| p.get("Arn").and_then(Value::as_str))
            .filter(|arn| {
                arn.rsplit_once('/').is_some_and(|(kind, name)| {
                    name == a.name && (kind.ends_with(":user") || kind.ends_with(":role"))
                })
            })
            .map(str::to_owned)
            .collect();
        match matches.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(CliError::InvalidArgument(format!(
                    "no user or role named '{}'",
                    a.name
                )));
            }
            _ => {
                return Err(CliError::InvalidArgument(format!(
                    "'{}' names several principals ({}); pass the ARN",
                    a.name,
                    matches.join(", ")
                )));
            }
        }
    };
    let policy_name = a.policy_name.clone().unwrap_or_else(|| {
        a.file
            .file_stem()
            .map_or_else(|| "inline".to_owned(), |s| s.to_string_lossy().into_owned())
    });
    client.admin(
        "PutPrincipalPolicy",
        json!({ "PrincipalArn": arn, "PolicyName": policy_name, "PolicyDocument": doc }),
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

fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let chars: Vec<char> = key.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_ascii_uppercase())) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn snake_case_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (snake(k), snake_case_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(snake_case_keys).collect()),
        other => other.clone(),
    }
}

fn list(global: &GlobalArgs, client: &KmsClient) -> Result<(), CliError> {
    let principals = principals(client)?;
    if global.json {
        outln!(
            "{}",
            json!({ "principals": snake_case_keys(&Value::Array(principals)) })
        )?;
    } else {
        for p in &principals {
            let arn = p.get("Arn").and_then(Value::as_str).unwrap_or_default();
            let key = p
                .get("AccessKeyId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            outln!("{arn}\t{key}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn pascal_to_snake() {
        assert_eq!(snake("Arn"), "arn");
        assert_eq!(snake("AccessKeyId"), "access_key_id");
        assert_eq!(snake("AWSAccountId"), "aws_account_id");
        assert_eq!(snake("PolicyNames"), "policy_names");
    }
}
