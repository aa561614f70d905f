//! `ebsim snapshot …`: create (incremental), list, describe, copy and delete EBS snapshots of
//! the data dir's volumes (docs/usage.md, "Snapshots").

use clap::{Args, Subcommand};
use ebsim_snapshot::{
    CopySnapshot, CreateSnapshot, Snapshot, SnapshotJob, SnapshotStore, StoreLocation,
};

use crate::common::{DataDir, data_dir, kms_client};
use crate::{CliError, GlobalArgs};

/// `ebsim snapshot <command>`
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Where snapshots are kept: the data dir (default), or `s3://bucket/prefix` (endpoint
    /// and credentials from the usual AWS variables; builds with the s3-snapshots feature).
    #[arg(
        long,
        global = true,
        value_name = "LOCATION",
        env = "EBSIM_SNAPSHOT_STORE"
    )]
    pub snapshot_store: Option<String>,
    /// The snapshot command.
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

/// Snapshot commands.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Snapshot a volume (EC2 CreateSnapshot): copies its ciphertext blocks, only those
    /// changed since its previous snapshot, with no KMS call. The volume must not be attached
    /// by another process.
    Create(CreateArgs),
    /// List the snapshots of the region.
    List,
    /// Show one snapshot.
    Describe(IdArg),
    /// Copy a snapshot (EC2 CopySnapshot), under its key or another.
    Copy(CopyArgs),
    /// Delete a snapshot; blocks later snapshots need are kept.
    Delete(IdArg),
}

/// A snapshot id argument.
#[derive(Debug, Args)]
pub struct IdArg {
    /// The snapshot id (snap-…).
    #[arg(value_name = "SNAP")]
    pub snapshot_id: String,
}

/// `ebsim snapshot create`
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The volume id (vol-…).
    #[arg(value_name = "VOL")]
    pub volume_id: String,
    /// A description (at most 255 characters).
    #[arg(long)]
    pub description: Option<String>,
    /// Print the snapshot once completed rather than as it started (pending). The copy runs
    /// in this command either way, with progress on stderr when it is a terminal.
    #[arg(long)]
    pub wait: bool,
}

/// `ebsim snapshot copy`
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The source snapshot id (snap-…).
    #[arg(value_name = "SNAP")]
    pub snapshot_id: String,
    /// The source's region [default: the region in force].
    #[arg(long, value_name = "REGION")]
    pub source_region: Option<String>,
    /// Encrypt a copy of an unencrypted snapshot (encryption can never be removed).
    #[arg(long)]
    pub encrypted: bool,
    /// The copy's KMS key (id, ARN, alias, alias ARN); a new data key is made under it and
    /// every block re-encrypted.
    #[arg(long, value_name = "KEY")]
    pub kms_key_id: Option<String>,
    /// A description.
    #[arg(long)]
    pub description: Option<String>,
    /// Print the copy once completed.
    #[arg(long)]
    pub wait: bool,
}

/// The snapshot store of the data dir in force.
pub(crate) fn store(
    global: &GlobalArgs,
    location: Option<&str>,
    need: DataDir,
) -> Result<SnapshotStore, CliError> {
    let dir = data_dir(global, need)?;
    let client = kms_client(global, need)?;
    let location = StoreLocation::parse(location.unwrap_or_default())?;
    Ok(SnapshotStore::open_at(
        dir,
        client,
        global.region(),
        &location,
    )?)
}

/// Runs `ebsim snapshot …`.
///
/// # Errors
/// A [`CliError`] naming what failed.
pub fn run(global: &GlobalArgs, args: &SnapshotArgs) -> Result<(), CliError> {
    let loc = args.snapshot_store.as_deref();
    match &args.command {
        SnapshotCommand::Create(c) => {
            let store = store(global, loc, DataDir::Existing)?;
            let job = store.create(CreateSnapshot {
                description: c.description.clone(),
                caller: global.as_principal.clone(),
                ..CreateSnapshot::new(&c.volume_id)
            })?;
            finish(global, job, c.wait)
        }
        SnapshotCommand::Copy(c) => {
            let store = store(global, loc, DataDir::Existing)?;
            let job = store.copy(CopySnapshot {
                source_snapshot_id: c.snapshot_id.clone(),
                source_region: c
                    .source_region
                    .clone()
                    .unwrap_or_else(|| global.region().as_str().to_owned()),
                encrypted: c.encrypted.then_some(true),
                kms_key_id: c.kms_key_id.clone(),
                description: c.description.clone(),
                caller: global.as_principal.clone(),
            })?;
            finish(global, job, c.wait)
        }
        SnapshotCommand::List => {
            let store = store(global, loc, DataDir::Existing)?;
            let all = store.list()?;
            if global.json {
                outln!("{}", serde_json::to_string_pretty(&all).unwrap_or_default())?;
                return Ok(());
            }
            outln!(
                "{:<22} {:<22} {:<9} {:>5} {:>8} {:>8}  {}",
                "SNAPSHOT",
                "VOLUME",
                "STATE",
                "PROG",
                "BLOCKS",
                "CHANGED",
                "KEY"
            )?;
            for s in all {
                outln!(
                    "{:<22} {:<22} {:<9} {:>4}% {:>8} {:>8}  {}",
                    s.snapshot_id,
                    s.volume_id,
                    s.state,
                    s.progress,
                    s.block_count,
                    s.changed_blocks,
                    s.kms_key_id.as_deref().unwrap_or("(unencrypted)")
                )?;
            }
            Ok(())
        }
        SnapshotCommand::Describe(d) => {
            let store = store(global, loc, DataDir::Existing)?;
            print(global, &store.describe(&d.snapshot_id)?)
        }
        SnapshotCommand::Delete(d) => {
            let store = store(global, loc, DataDir::Existing)?;
            store.delete(&d.snapshot_id)?;
            if global.json {
                outln!(
                    "{}",
                    serde_json::json!({ "snapshot_id": d.snapshot_id, "deleted": true })
                )?;
            } else {
                outln!("deleted {}", d.snapshot_id)?;
            }
            Ok(())
        }
    }
}

/// Prints the snapshot as started (or, with `wait`, as completed), and runs the copy to its
/// end with a progress bar on a terminal.
fn finish(global: &GlobalArgs, job: SnapshotJob, wait: bool) -> Result<(), CliError> {
    if !wait {
        print(global, job.started())?;
    }
    let bar = indicatif::ProgressBar::new(100);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    while !job.is_finished() {
        bar.set_position(u64::from(job.progress()));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    bar.finish_and_clear();
    let done = job.wait()?;
    if wait {
        print(global, &done)?;
    }
    Ok(())
}

fn print(global: &GlobalArgs, s: &Snapshot) -> Result<(), CliError> {
    if global.json {
        outln!("{}", serde_json::to_string_pretty(s).unwrap_or_default())?;
        return Ok(());
    }
    outln!("{}", s.snapshot_id)?;
    outln!("  volume              {}", s.volume_id)?;
    outln!("  state               {} ({}%)", s.state, s.progress)?;
    if let Some(m) = &s.state_message {
        outln!("  state message       {m}")?;
    }
    outln!(
        "  size                {} bytes ({} GiB)",
        s.size_bytes,
        s.volume_size_gib
    )?;
    outln!("  start time          {}", s.start_time)?;
    outln!("  encrypted           {}", s.encrypted)?;
    if let Some(k) = &s.kms_key_id {
        outln!("  kms key             {k}")?;
    }
    if let Some(d) = &s.data_encryption_key_id {
        outln!("  data key id         {d}")?;
    }
    if let Some(p) = &s.parent {
        outln!("  parent              {p}")?;
    }
    if let Some(c) = &s.copied_from {
        outln!("  copied from         {} ({})", c.snapshot_id, c.region)?;
    }
    outln!(
        "  blocks              {} ({} changed since the parent)",
        s.block_count,
        s.changed_blocks
    )?;
    if !s.description.is_empty() {
        outln!("  description         {}", s.description)?;
    }
    Ok(())
}
