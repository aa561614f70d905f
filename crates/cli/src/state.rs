//! `ebsim state …`: return the data dir to a fresh one's state, and keep named copies of it
//! (`DIR/states/NAME/`), through the KMS admin API (of the running `ebsim kms serve`, or of
//! the embedded KMS).

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::common::{DataDir, kms_client, print_json};
use crate::{CliError, GlobalArgs};

/// `ebsim state …`
#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Return the data dir to a fresh one's state.
    ///
    /// Removes every key, alias, grant, IAM user and role, volume and WorkSpace record, the
    /// clock offset, the injected faults and the audit trail. The service credential, a
    /// running server's endpoint and the saved states stay. Refused, with nothing changed,
    /// while a volume is attached in any process.
    Reset,
    /// Save the KMS state, the volumes and the WorkSpace records as DIR/states/NAME/.
    ///
    /// A state of that name is replaced. Volume images are copied with their holes, so a
    /// sparse volume costs what it holds. Refused while a volume is attached.
    Save(NameArg),
    /// Replace the KMS state, the volumes and the WorkSpace records with a saved state.
    ///
    /// The saved state is checked before anything changes; the audit trail and the
    /// injected faults start empty. Refused, with nothing changed, while a volume is
    /// attached, or when there is no state NAME.
    Restore(NameArg),
    /// List the saved states: name, when saved, how many volumes.
    List,
    /// Remove a saved state.
    Delete(NameArg),
}

#[derive(Debug, Args)]
struct NameArg {
    /// The state's name: 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'.
    name: String,
}

/// Runs `ebsim state …`.
pub(crate) fn run(global: &GlobalArgs, args: &StateArgs) -> Result<(), CliError> {
    let client = kms_client(global, DataDir::Existing)?;
    match &args.command {
        StateCommand::Reset => {
            client.admin("Reset", json!({}))?;
            if global.json {
                print_json(&json!({ "status": "ok" }))
            } else {
                outln!("data dir reset")
            }
        }
        StateCommand::Save(a) => {
            client.admin("SaveState", json!({ "Name": a.name }))?;
            done(global, "saved", &a.name)
        }
        StateCommand::Restore(a) => {
            client.admin("RestoreState", json!({ "Name": a.name }))?;
            done(global, "restored", &a.name)
        }
        StateCommand::Delete(a) => {
            client.admin("DeleteState", json!({ "Name": a.name }))?;
            done(global, "deleted", &a.name)
        }
        StateCommand::List => {
            let out = client.admin("ListStates", json!({}))?;
            let states = out["States"].as_array().cloned().unwrap_or_default();
            if global.json {
                let list: Vec<Value> = states
                    .iter()
                    .map(|s| {
                        json!({
                            "name": s["Name"],
                            "saved_at": s["SavedAtIso"],
                            "saved_at_epoch_seconds": s["SavedAt"],
                            "volumes": s["Volumes"],
                        })
                    })
                    .collect();
                print_json(&json!({ "states": list }))
            } else {
                for s in &states {
                    outln!(
                        "{}\t{}\t{} volume(s)",
                        s["Name"].as_str().unwrap_or_default(),
                        s["SavedAtIso"].as_str().unwrap_or_default(),
                        s["Volumes"].as_u64().unwrap_or(0)
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Prints that state `name` was `what` (saved, restored, deleted).
fn done(global: &GlobalArgs, what: &str, name: &str) -> Result<(), CliError> {
    if global.json {
        print_json(&json!({ "name": name, "status": what }))
    } else {
        outln!("{what} state {name}")
    }
}
