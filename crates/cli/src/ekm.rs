//! `ebsim ekm …`: the bring-your-own-key check of an EKM app (the Workato example).

use clap::{Args, Subcommand};
use ebsim_workspaces::ekm::{self, EXAMPLE_ROLE_ARN};

use crate::common::{DataDir, kms_client};
use crate::{CliError, GlobalArgs};

/// `ebsim ekm <command>`
#[derive(Debug, Args)]
pub struct EkmArgs {
    /// The EKM command.
    #[command(subcommand)]
    pub command: EkmCommand,
}

/// EKM commands.
#[derive(Debug, Subcommand)]
pub enum EkmCommand {
    /// Print the key-policy statement that lets the app's role Encrypt and Decrypt (paste it
    /// inside the key policy's Statement array).
    PolicyStatement {
        /// The app's IAM role (in the vendor's account).
        #[arg(long, value_name = "ARN", default_value = EXAMPLE_ROLE_ARN)]
        role_arn: String,
    },
    /// Validate a key for the app as the app does: ARN syntax, key exists, symmetric, enabled,
    /// key policy lets the role Encrypt and Decrypt, a live round trip as a session of the
    /// role, which the app's user `ekm-app` of the role's account takes on with AssumeRole.
    Connect {
        /// The key ARN given to the app.
        #[arg(long, value_name = "ARN")]
        key_arn: String,
        /// The app's IAM role.
        #[arg(long, value_name = "ARN", default_value = EXAMPLE_ROLE_ARN)]
        role_arn: String,
    },
}

/// Runs `ebsim ekm …`.
pub fn run(global: &GlobalArgs, args: &EkmArgs) -> Result<(), CliError> {
    match &args.command {
        EkmCommand::PolicyStatement { role_arn } => {
            ekm::check_role_arn(role_arn)?;
            if global.json {
                outln!("{}", ekm::policy_statement(role_arn))?;
            } else {
                outln!("{}", ekm::policy_statement_lines(role_arn).join("\n"))?;
            }
            Ok(())
        }
        EkmCommand::Connect { key_arn, role_arn } => {
            let client = kms_client(global, DataDir::Existing)?;
            match ekm::validate(&client, key_arn, role_arn) {
                Ok(report) => {
                    if global.json {
                        let mut v = serde_json::to_value(&report).unwrap_or_default();
                        v["valid"] = true.into();
                        outln!("{v}")?;
                    } else {
                        outln!("key {key_arn} is valid for {role_arn}")?;
                        outln!(
                            "  Encrypt allowed by statement {:?}, Decrypt by {:?}; round trip as the role succeeded",
                            report.encrypt_allowed_by.unwrap_or_default(),
                            report.decrypt_allowed_by.unwrap_or_default()
                        )?;
                        outln!(
                            "  the round trip ran as {} (AssumeRole by {}), until {} (simulated time)",
                            report.session_arn,
                            ekm::app_principal(role_arn),
                            report.session_expiration
                        )?;
                        for r in &report.recommendations {
                            outln!("  recommendation: {r}")?;
                        }
                    }
                    Ok(())
                }
                Err(e) => {
                    if global.json {
                        outln!(
                            "{}",
                            serde_json::json!({"valid": false, "error": e.to_string(), "cause": e.cause(), "fix": e.fix()})
                        )?;
                    }
                    Err(e.into())
                }
            }
        }
    }
}
