//! `ebsim clock …`: simulated time (advance, show, reset).

use clap::{Args, Subcommand};
use serde_json::json;

use super::date;
use crate::common::{DataDir, kms_client, print_json};
use crate::{CliError, GlobalArgs};

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
        /// Days (fractions allowed); simulated time runs at most 36,500 days (100 years)
        /// ahead of the wall clock.
        days: f64,
    },
    /// Show simulated time and its offset from the wall clock.
    Show,
    /// Return to wall time (offset 0). Rotations and deletions that already happened stay.
    Reset,
}

/// Runs `ebsim clock`.
pub(crate) fn run(global: &GlobalArgs, args: &ClockArgs) -> Result<(), CliError> {
    let kms = kms_client(global, DataDir::Existing)?;
    let out = match &args.cmd {
        ClockCmd::Advance { days } => kms.admin("AdvanceClock", json!({"Days": days}))?,
        ClockCmd::Show => kms.admin("GetClock", json!({}))?,
        ClockCmd::Reset => kms.admin("ResetClock", json!({}))?,
    };
    let offset = out["OffsetSeconds"].as_f64().unwrap_or(0.0);
    if global.json {
        print_json(&json!({
            "now": date(&out["Now"]),
            "now_epoch_seconds": out["Now"],
            "offset_seconds": offset,
            "offset_days": offset / 86_400.0,
        }))
    } else {
        outln!(
            "simulated time {} (wall clock + {:.3} days)",
            date(&out["Now"]),
            offset / 86_400.0
        )
    }
}
