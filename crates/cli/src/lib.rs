//! The `ebsim` command line, as a library: [`run`] parses the arguments and runs the command.
//!
//! Global flags (`--data-dir`, `--kms-endpoint`, `--as`, `--json`, `-v`) are accepted before or
//! after the subcommand. Each command lives in its own module. Diagnostics go through
//! `tracing` (the binary installs the subscriber); command output goes to stdout.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `println!` that returns a [`CliError::Stdout`] instead of panicking when standard output
/// cannot be written (a closed pipe, a full disk).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::CliError::Stdout)
    }};
}

mod args;
mod bench;
mod common;
mod demo;
mod directory;
mod ebs;
mod ekm;
mod error;
mod iam;
mod info;
mod kms;
mod output_file;
mod snapshot;
mod state;
mod volume;
mod volume_serve;
mod workspace;

pub use error::CliError;

/// Default data directory when neither `--data-dir` nor `EBSIM_DATA_DIR` is given.
pub const DEFAULT_DATA_DIR: &str = "./ebsim-data";

/// ebsim — an EBS-style encrypted block volume simulator.
///
/// A customer master key in a simulated AWS KMS wraps a per-volume data key; attaching a
/// volume unwraps it under an encryption context; the data key encrypts every sector with
/// XTS-AES-256 and lives only in memory while the volume is attached.
#[derive(Debug, Parser)]
#[command(name = "ebsim", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command (accepted before or after the subcommand).
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Data directory holding KMS state, volumes and the audit log.
    #[arg(long, global = true, env = "EBSIM_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Talk to a running KMS endpoint (`ebsim kms serve`, or real AWS KMS) instead of the
    /// embedded KMS.
    #[arg(long, global = true, env = "EBSIM_KMS_ENDPOINT", value_name = "URL")]
    pub kms_endpoint: Option<String>,
    /// Call KMS as this principal (an ARN known to the data dir) instead of the account root.
    #[arg(
        long = "as",
        global = true,
        env = "EBSIM_PRINCIPAL",
        value_name = "ARN"
    )]
    pub as_principal: Option<String>,
    /// Region to call KMS in: each region has its own keys, aliases and grants [default:
    /// us-west-2].
    #[arg(long, global = true, env = "AWS_REGION", value_name = "REGION")]
    pub region: Option<ebsim_kms_api::Region>,
    /// Account whose root the commands act as (and, for `kms serve`, the server's default
    /// account) [default: 111122223333].
    #[arg(long, global = true, env = "EBSIM_ACCOUNT", value_name = "ID")]
    pub account: Option<ebsim_kms_api::id::AccountId>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log more on stderr: `-v` adds connection and progress lines (info), `-vv` debug,
    /// `-vvv` trace. Errors and warnings are always logged; RUST_LOG, when set, decides
    /// instead (e.g. RUST_LOG=ebsim_nbd=info).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl GlobalArgs {
    /// The region in force: `--region`, else `$AWS_REGION`, else us-west-2.
    pub fn region(&self) -> ebsim_kms_api::Region {
        self.region.unwrap_or_default()
    }

    /// The account in force: `--account`, else `$EBSIM_ACCOUNT`, else 111122223333.
    pub fn account(&self) -> ebsim_kms_api::id::AccountId {
        self.account
            .clone()
            .unwrap_or_else(ebsim_kms_api::id::AccountId::default_account)
    }

    /// The data directory in force: `--data-dir`, else `$EBSIM_DATA_DIR`, else `./ebsim-data`.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }
}

/// Every `ebsim` command.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Show the XTS backend this CPU runs and the settings in force.
    Info(info::InfoArgs),
    /// Measure XTS engine and block store throughput and latency (GB/s, IOPS, p50/p99).
    Bench(bench::BenchArgs),
    /// Encrypted volumes: create, list, describe, delete, read, write, serve (NBD).
    Volume(volume::VolumeArgs),
    /// EBS snapshots: create (incremental), list, describe, copy, delete.
    Snapshot(snapshot::SnapshotArgs),
    /// WorkSpaces (a front of the WorkSpaces API): launch, list, describe, reboot, rebuild,
    /// start, stop, terminate.
    Workspace(workspace::WorkspaceArgs),
    /// Simulated directories for WorkSpaces: create, list, add-user (UserName → SID).
    Directory(directory::DirectoryArgs),
    /// Bring-your-own-key check of an EKM app: the policy statement, and key validation.
    Ekm(ekm::EkmArgs),
    /// Tell the whole key flow with real calls: launch, I/O, reboot, lessons, terminate.
    Demo(demo::DemoArgs),
    /// Serve every API of the data dir on one port (default 127.0.0.1:4566): KMS (JSON 1.1),
    /// IAM, STS and EC2's EBS part (Query protocol) and WorkSpaces (JSON 1.1), routed by the
    /// SigV4 scope's service name.
    ///
    /// Prints `listening on ADDR` as its first line, publishes its URL in DIR/kms/endpoint
    /// (other ebsim commands on the data dir route to it), and stops cleanly on
    /// SIGINT/SIGTERM. Example: `AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws iam
    /// list-users --endpoint-url http://127.0.0.1:4566 --region us-west-2`.
    Serve(kms::serve::ServeArgs),
    /// EBS settings over the EC2 API: encryption by default and its default key, per
    /// region (on the running `ebsim serve`, else in this process).
    Ebs(ebs::EbsArgs),
    /// The KMS endpoint: `ebsim kms serve` is `ebsim serve` on port 4599 by default.
    Kms(kms::serve::KmsArgs),
    /// IAM users, roles, access keys and identity policies (fronts of the IAM actions).
    Iam(iam::IamArgs),
    /// STS: assume a role (temporary credentials on the simulated clock), who am I.
    Sts(iam::StsArgs),
    /// KMS keys: create, list, describe, enable/disable, deletion, rotation, key policy.
    Key(kms::key::KeyArgs),
    /// KMS aliases: create, list, update, delete.
    Alias(kms::alias::AliasArgs),
    /// KMS grants: create, list, retire, revoke.
    Grant(kms::grant::GrantArgs),
    /// The KMS audit trail (CloudTrail-shaped records; --json prints JSON Lines).
    Audit(kms::audit::AuditArgs),
    /// Simulated time: advance by days, show.
    Clock(kms::clock::ClockArgs),
    /// The data dir as a whole: reset it, and save, restore, list and delete named copies.
    State(state::StateArgs),
}

/// Parses `args` (including the program name) and runs the command, printing to stdout.
///
/// # Errors
/// Any failure of the command, as a [`CliError`] whose `Display` is one sentence for stderr.
pub fn run<I, T>(args: I) -> Result<(), CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    execute(parse(args)?)
}

/// Parses `args` (including the program name), for a caller that sets things up (logging)
/// before it runs the command with [`execute`].
///
/// # Errors
/// [`CliError::Usage`], also for `--help` and `--version` (exit code 0).
pub fn parse<I, T>(args: I) -> Result<Cli, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Cli::try_parse_from(args).map_err(CliError::Usage)
}

/// Runs an already-parsed command line.
///
/// # Errors
/// As [`run`].
pub fn execute(cli: Cli) -> Result<(), CliError> {
    let Cli { global, command } = cli;
    match command {
        Command::Info(args) => info::run(&global, &args),
        Command::Bench(args) => bench::run(&global, &args),
        Command::Volume(args) => volume::run(&global, &args),
        Command::Snapshot(args) => snapshot::run(&global, &args),
        Command::Workspace(args) => workspace::run(&global, &args),
        Command::Directory(args) => directory::run(&global, &args),
        Command::Ekm(args) => ekm::run(&global, &args),
        Command::Demo(args) => demo::run(&global, &args),
        Command::Serve(args) => kms::serve::serve(&global, &args, kms::serve::SERVE_PORT),
        Command::Kms(args) => kms::serve::run(&global, &args),
        Command::Ebs(args) => ebs::run(&global, &args),
        Command::Iam(args) => iam::run(&global, &args),
        Command::Sts(args) => iam::run_sts(&global, &args),
        Command::Key(args) => kms::key::run(&global, &args),
        Command::Alias(args) => kms::alias::run(&global, &args),
        Command::Grant(args) => kms::grant::run(&global, &args),
        Command::Audit(args) => kms::audit::run(&global, &args),
        Command::Clock(args) => kms::clock::run(&global, &args),
        Command::State(args) => state::run(&global, &args),
    }
}
