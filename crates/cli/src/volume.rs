//! `ebsim volume …`: create, list, describe, delete, and one-shot read/write (attach, I/O,
//! detach) of encrypted volumes in the data dir.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use ebsim_io::SectorSize;
use ebsim_volume::{AttachedVolume, VolumeMetadata, VolumeOwner};
use ebsim_workspaces::CreateVolumeRequest;

use crate::args::{parse_sector_size, parse_size, parse_volume_size};
use crate::common::{DataDir, data_dir, simulator};
use crate::{CliError, GlobalArgs};

/// `ebsim volume <command>`
#[derive(Debug, Args)]
pub struct VolumeArgs {
    /// The volume command.
    #[command(subcommand)]
    pub command: VolumeCommand,
}

/// Volume commands.
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create an encrypted volume (EBS CreateVolume: a grant for the volume and a wrapped
    /// 64-byte data key from KMS).
    Create(CreateArgs),
    /// List the volumes of the data dir.
    List,
    /// Show a volume's metadata (nothing secret is stored in it).
    Describe(VolumeId),
    /// Delete a volume: retire its grant, remove its files.
    Delete(DeleteArgs),
    /// Write bytes to a volume at any offset (attaches, writes, detaches).
    Write(WriteArgs),
    /// Read bytes from a volume at any offset (attaches, reads, detaches).
    Read(ReadArgs),
    /// Export attached volumes over NBD (one export per volume, named by its id) until
    /// SIGINT/SIGTERM; prints `listening on ADDR` first. Example: `qemu-io -f raw
    /// nbd://127.0.0.1:10809/vol-…`.
    Serve(crate::volume_serve::ServeArgs),
}

/// A volume id argument.
#[derive(Debug, Args)]
pub struct VolumeId {
    /// The volume id (vol-…).
    #[arg(value_name = "VOL")]
    pub volume_id: String,
}

/// `ebsim volume delete`
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The volume id (vol-…).
    #[arg(value_name = "VOL")]
    pub volume_id: String,
    /// Also delete a volume whose metadata.json is corrupt or unreadable: its grant is found
    /// by its name (the volume id) among the grants the caller may retire
    /// (ListRetirableGrants) and retired, then its files are removed.
    #[arg(long)]
    pub force: bool,
}

/// `ebsim volume create`
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Size in bytes (suffixes KiB, MiB, GiB, TiB), a multiple of the sector size; with
    /// --snapshot, the snapshot's size by default and never less.
    #[arg(long, value_parser = parse_volume_size, value_name = "SIZE", required_unless_present = "snapshot")]
    pub size: Option<u64>,
    /// Restore the volume from a snapshot (snap-…): under its key it keeps the snapshot
    /// lineage's data key; with --key another, a new data key and the blocks re-encrypted.
    #[arg(long, value_name = "SNAP", conflicts_with_all = ["workspace_user", "directory"])]
    pub snapshot: Option<String>,
    /// Where snapshots are kept (as `ebsim snapshot --snapshot-store`).
    #[arg(
        long,
        value_name = "LOCATION",
        env = "EBSIM_SNAPSHOT_STORE",
        requires = "snapshot"
    )]
    pub snapshot_store: Option<String>,
    /// KMS key: id, ARN, alias or alias ARN (default alias/aws/ebs). Symmetric keys only.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Sector size: 512 or 4096.
    #[arg(long, default_value = "4096", value_parser = parse_sector_size)]
    pub sector_size: SectorSize,
    /// Owning WorkSpace user's SID (S-1-…); adds the WorkSpaces encryption-context pair.
    #[arg(long, value_name = "SID", requires = "directory")]
    pub workspace_user: Option<String>,
    /// Owning WorkSpace directory id (d-…).
    #[arg(long, value_name = "D", requires = "workspace_user")]
    pub directory: Option<String>,
}

/// `ebsim volume write`
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// The volume id.
    #[arg(value_name = "VOL")]
    pub volume_id: String,
    /// Byte offset (any alignment).
    #[arg(long, value_parser = parse_size, default_value = "0")]
    pub offset: u64,
    /// File to write, or `-` for stdin.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
}

/// `ebsim volume read`
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The volume id.
    #[arg(value_name = "VOL")]
    pub volume_id: String,
    /// Byte offset (any alignment).
    #[arg(long, value_parser = parse_size, default_value = "0")]
    pub offset: u64,
    /// Number of bytes (suffixes allowed; at most 1 GiB per command).
    #[arg(long, value_parser = parse_size)]
    pub length: u64,
    /// File to write the bytes to (replaced whole; with --json a line describing the read is
    /// printed), or `-` for stdout.
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub output: PathBuf,
}

/// Attaches a volume of the data dir in this process: Decrypt as the EC2 infrastructure
/// session of the instance the EC2 state names for the volume's attachment (through the
/// attachment's grant), else as the volume's own session (through its per-volume grant).
pub(crate) fn attach_volume(
    global: &GlobalArgs,
    volume_id: &str,
) -> Result<AttachedVolume, CliError> {
    let principal = crate::ebs::io_principal(global, volume_id)?;
    Ok(simulator(global, DataDir::Existing)?
        .ebs()
        .attach_as(volume_id, principal.as_deref())?)
}

fn print_meta(global: &GlobalArgs, meta: &VolumeMetadata) -> Result<(), CliError> {
    if global.json {
        outln!("{}", serde_json::to_string_pretty(meta).unwrap_or_default())?;
    } else {
        outln!("volume_id      {}", meta.volume_id)?;
        outln!(
            "size           {} bytes ({}-byte sectors)",
            meta.size_bytes,
            meta.sector_size
        )?;
        outln!("kms_key_arn    {}", meta.kms_key_arn)?;
        outln!("state          {}", meta.state)?;
        for (k, v) in &meta.encryption_context {
            outln!("context        {k} = {v}")?;
        }
        if let Some(g) = &meta.grant_id {
            outln!("grant_id       {g}")?;
        }
        if let Some(g) = &meta.grantee_principal {
            outln!("grantee        {g}")?;
        }
        if let Some(a) = &meta.attached_to {
            outln!("attached_to    {a}")?;
        }
    }
    Ok(())
}

/// Runs `ebsim volume …`.
pub fn run(global: &GlobalArgs, args: &VolumeArgs) -> Result<(), CliError> {
    let need = match args.command {
        VolumeCommand::Create(_) => DataDir::Create,
        _ => DataDir::Existing,
    };
    let dir = data_dir(global, need)?;
    let volumes = ebsim_volume::VolumeRoot::dir(&dir);
    match &args.command {
        VolumeCommand::List => {
            let listing = volumes.list()?;
            for b in &listing.broken {
                tracing::warn!(
                    "volume {} cannot be read: {}; `ebsim volume delete --force {}` removes it and retires its grant",
                    b.volume_id,
                    b.error,
                    b.volume_id
                );
            }
            let list = listing.volumes;
            if global.json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                )?;
            } else if list.is_empty() && listing.broken.is_empty() {
                outln!("no volumes in {}", dir.display())?;
            } else {
                outln!(
                    "{:<22} {:>14} {:>6}  {:<9} KMS key",
                    "VOLUME",
                    "SIZE",
                    "SECTOR",
                    "STATE"
                )?;
                for m in &list {
                    outln!(
                        "{:<22} {:>14} {:>6}  {:<9} {}",
                        m.volume_id,
                        m.size_bytes,
                        m.sector_size,
                        m.state,
                        m.kms_key_arn
                    )?;
                }
                for b in &listing.broken {
                    outln!(
                        "{:<22} {:>14} {:>6}  {:<9} (metadata.json cannot be read)",
                        b.volume_id,
                        "?",
                        "?",
                        "broken"
                    )?;
                }
            }
            Ok(())
        }
        VolumeCommand::Describe(v) => print_meta(global, &volumes.load(&v.volume_id)?),
        VolumeCommand::Create(c)
            if c.snapshot.is_some()
                && c.snapshot_store.is_none()
                && crate::ebs::own_server(global)?.is_some() =>
        {
            restore_on_server(global, c, &volumes)
        }
        VolumeCommand::Create(c) if c.snapshot.is_some() => {
            let store =
                crate::snapshot::store(global, c.snapshot_store.as_deref(), DataDir::Existing)?;
            let bar = indicatif::ProgressBar::new(0);
            if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let meta = store.restore_with_progress(
                ebsim_snapshot::RestoreVolume {
                    snapshot_id: c.snapshot.clone().unwrap_or_default(),
                    size_bytes: c.size,
                    encrypted: None,
                    kms_key_id: c.key.clone(),
                    caller: global.as_principal.clone(),
                },
                &|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            )?;
            bar.finish_and_clear();
            if global.json {
                print_meta(global, &meta)
            } else {
                outln!("{}", meta.volume_id)?;
                Ok(())
            }
        }
        VolumeCommand::Create(c) => {
            let size = c.size.unwrap_or_default();
            if !size.is_multiple_of(u64::from(c.sector_size.get())) {
                // A usage error (exit 2), found before any KMS call.
                return Err(CliError::Usage(clap::Error::raw(
                    clap::error::ErrorKind::ValueValidation,
                    format!(
                        "invalid value for --size: {} bytes is not a multiple of the sector size {}\n",
                        size, c.sector_size
                    ),
                )));
            }
            let owner = match (&c.workspace_user, &c.directory) {
                (Some(u), Some(d)) => Some(VolumeOwner {
                    user_sid: u.clone(),
                    directory_id: d.clone(),
                }),
                _ => None,
            };
            if crate::ebs::own_server(global)?.is_some() {
                return create_on_server(global, c, &volumes);
            }
            let sim = simulator(global, DataDir::Create)?;
            let meta = sim.ebs().create_volume(&CreateVolumeRequest {
                size_bytes: size,
                sector_size: c.sector_size,
                key_id: c.key.clone(),
                owner,
                caller: global.as_principal.clone(),
                key_info: None,
            })?;
            if global.json {
                print_meta(global, &meta)
            } else {
                outln!("{}", meta.volume_id)?;
                Ok(())
            }
        }
        VolumeCommand::Delete(v) => {
            if !v.force && crate::ebs::own_server(global)?.is_some() {
                // The server owns the EC2 state: it refuses an attached volume and retires
                // the volume's grant.
                crate::ebs::ec2_query(global, "DeleteVolume", &[("VolumeId", &v.volume_id)])?;
                return print_deleted(global, &v.volume_id, &[]);
            }
            if let Some(instance) = attached_instance(&dir, &v.volume_id)? {
                return Err(CliError::Ec2 {
                    code: "VolumeInUse".to_owned(),
                    message: format!("Volume {} is currently attached to {instance}", v.volume_id),
                });
            }
            let sim = simulator(global, DataDir::Existing)?;
            let caller = global.as_principal.as_deref();
            let retired = if v.force {
                sim.ebs()
                    .force_delete_volume(&v.volume_id, caller)?
                    .retired_grants
            } else {
                match sim.ebs().delete_volume(&v.volume_id, caller) {
                    Err(ebsim_workspaces::ControlPlaneError::Volume(e))
                        if matches!(*e, ebsim_volume::VolumeError::CorruptMetadata { .. }) =>
                    {
                        return Err(CliError::BrokenVolume {
                            volume_id: v.volume_id.clone(),
                            source: e,
                        });
                    }
                    other => other?,
                }
                Vec::new()
            };
            print_deleted(global, &v.volume_id, &retired)
        }
        VolumeCommand::Write(w) => {
            let mut data = Vec::new();
            if w.input.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_end(&mut data)
                    .map_err(CliError::io("read", "standard input"))?;
            } else {
                data = std::fs::read(&w.input).map_err(CliError::io("read", &w.input))?;
            }
            let vol = attach_volume(global, &w.volume_id)?;
            vol.write_at(w.offset, &data)?;
            vol.detach()?;
            if global.json {
                outln!(
                    "{}",
                    serde_json::json!({"volume_id": w.volume_id, "offset": w.offset, "bytes_written": data.len()})
                )?;
            } else {
                outln!(
                    "wrote {} bytes to {} at offset {}",
                    data.len(),
                    w.volume_id,
                    w.offset
                )?;
            }
            Ok(())
        }
        VolumeCommand::Serve(a) => {
            crate::volume_serve::run(global, a, &|id| attach_volume(global, id))
        }
        VolumeCommand::Read(r) => {
            if r.length > 1 << 30 {
                return Err(CliError::InvalidArgument(format!(
                    "--length {} is more than 1 GiB per command",
                    r.length
                )));
            }
            // The output file is checked before the volume is attached, and replaced whole.
            let to_stdout = r.output.as_os_str() == "-";
            let mut file = if to_stdout {
                None
            } else {
                Some(crate::output_file::Output::prepare(&r.output, "output")?)
            };
            let vol = attach_volume(global, &r.volume_id)?;
            let mut buf = vec![0u8; r.length as usize];
            vol.read_at(r.offset, &mut buf)?;
            vol.detach()?;
            match &mut file {
                None => std::io::stdout()
                    .write_all(&buf)
                    .map_err(CliError::Stdout)?,
                Some(f) => {
                    f.commit(&buf)?;
                    if global.json {
                        outln!(
                            "{}",
                            serde_json::json!({"volume_id": r.volume_id, "offset": r.offset,
                                "length": buf.len(), "output": r.output.display().to_string()})
                        )?;
                    }
                }
            }
            Ok(())
        }
    }
}

fn print_deleted(global: &GlobalArgs, volume_id: &str, retired: &[String]) -> Result<(), CliError> {
    if global.json {
        outln!(
            "{}",
            serde_json::json!({"volume_id": volume_id, "deleted": true,
                "retired_grants": retired})
        )?;
    } else {
        outln!("deleted {volume_id}")?;
        for g in retired {
            outln!("retired grant {g} (found by the volume's name)")?;
        }
    }
    Ok(())
}

/// The instance the EC2 state of `dir` has `volume_id` attached to, if any.
fn attached_instance(dir: &std::path::Path, volume_id: &str) -> Result<Option<String>, CliError> {
    let st = ebsim_ec2::Ec2State::load(dir).map_err(CliError::Tool)?;
    Ok(st
        .find_volume(volume_id)
        .and_then(|(_, v)| v.attachment.as_ref())
        .map(|a| a.instance_id.clone()))
}

/// `ebsim volume create` on the running server: EC2 CreateVolume with ebsim's own
/// parameters (docs/ec2.md), which makes the volume with its per-volume grant.
fn create_on_server(
    global: &GlobalArgs,
    c: &CreateArgs,
    volumes: &ebsim_volume::VolumeRoot,
) -> Result<(), CliError> {
    let size = c.size.unwrap_or_default().to_string();
    let sector = c.sector_size.get().to_string();
    let mut params = vec![
        ("EbsimSizeBytes", size.as_str()),
        ("EbsimSectorSize", sector.as_str()),
    ];
    if let Some(k) = &c.key {
        params.push(("KmsKeyId", k.as_str()));
    }
    if let (Some(u), Some(d)) = (&c.workspace_user, &c.directory) {
        params.push(("EbsimWorkspaceUser", u.as_str()));
        params.push(("EbsimDirectory", d.as_str()));
    }
    let out = crate::ebs::ec2_query(global, "CreateVolume", &params)?;
    let id = crate::ebs::leaf(&out, "volumeId")
        .unwrap_or_default()
        .to_owned();
    if global.json {
        print_meta(global, &volumes.load(&id)?)
    } else {
        outln!("{id}")
    }
}

/// `ebsim volume create --snapshot` on the running server: EC2 CreateVolume with
/// `SnapshotId` (and the size in bytes, ebsim's `EbsimSizeBytes`).
fn restore_on_server(
    global: &GlobalArgs,
    c: &CreateArgs,
    volumes: &ebsim_volume::VolumeRoot,
) -> Result<(), CliError> {
    let zone = format!("{}a", global.region().as_str());
    let size = c.size.map(|s| s.to_string());
    let mut params = vec![
        ("SnapshotId", c.snapshot.as_deref().unwrap_or_default()),
        ("AvailabilityZone", zone.as_str()),
    ];
    if let Some(s) = &size {
        params.push(("EbsimSizeBytes", s.as_str()));
    }
    if let Some(k) = &c.key {
        params.push(("Encrypted", "true"));
        params.push(("KmsKeyId", k.as_str()));
    }
    let out = crate::ebs::ec2_query(global, "CreateVolume", &params)?;
    let id = crate::ebs::leaf(&out, "volumeId")
        .unwrap_or_default()
        .to_owned();
    if global.json {
        print_meta(global, &volumes.load(&id)?)
    } else {
        outln!("{id}")
    }
}
