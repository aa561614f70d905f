//! `ebsim volume …`: create, list, describe, delete, and one-shot read/write (attach, I/O,
//! detach) of encrypted volumes in the data dir.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use ebsim_io::SectorSize;
use ebsim_kms_client::KmsClient;
use ebsim_volume::{AttachedVolume, VolumeMetadata, VolumeOwner};
use ebsim_workspaces::{CreateVolumeRequest, Simulator};

use crate::bench::parse_size;
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
    Delete(VolumeId),
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

/// `ebsim volume create`
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Size in bytes (suffixes KiB, MiB, GiB, TiB), a multiple of the sector size.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub size: u64,
    /// KMS key: id, ARN, alias or alias ARN (default alias/aws/ebs). Symmetric keys only.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Sector size: 512 or 4096.
    #[arg(long, default_value_t = 4096, value_parser = parse_sector_size)]
    pub sector_size: u32,
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
    /// File to write the bytes to, or `-` for stdout.
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub output: PathBuf,
}

fn parse_sector_size(s: &str) -> Result<u32, String> {
    match s {
        "512" => Ok(512),
        "4096" => Ok(4096),
        _ => Err(format!("invalid sector size {s:?}: use 512 or 4096")),
    }
}

fn other(e: impl std::fmt::Display) -> CliError {
    CliError::Other(e.to_string())
}

/// The KMS client of a command: `--kms-endpoint`, else a running `ebsim kms serve` on the
/// data dir, else the embedded KMS; `--as` is the default principal.
pub(crate) fn kms_client(global: &GlobalArgs) -> Result<KmsClient, CliError> {
    let dir = global.data_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| other(format!("cannot create the data dir {}: {e}", dir.display())))?;
    KmsClient::for_data_dir(
        &dir,
        global.as_principal.clone(),
        global.kms_endpoint.clone(),
    )
    .map_err(other)
}

/// The simulator over the data dir.
pub(crate) fn simulator(global: &GlobalArgs) -> Result<Simulator, CliError> {
    let dir = global.data_dir();
    Ok(Simulator::with_client(kms_client(global)?, Some(&dir)))
}

/// Attaches a volume of the data dir in this process (Decrypt as the EC2 infrastructure
/// session through the volume's grant).
pub(crate) fn attach_volume(
    global: &GlobalArgs,
    volume_id: &str,
) -> Result<AttachedVolume, CliError> {
    simulator(global)?.ebs().attach(volume_id).map_err(other)
}

fn print_meta(global: &GlobalArgs, meta: &VolumeMetadata) -> Result<(), CliError> {
    if global.json {
        outln!("{}", serde_json::to_string_pretty(meta).map_err(other)?)?;
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
    let dir = global.data_dir();
    let volumes = ebsim_volume::VolumeRoot::dir(&dir);
    match &args.command {
        VolumeCommand::List => {
            let list = volumes.list().map_err(other)?;
            if global.json {
                outln!("{}", serde_json::to_string_pretty(&list).map_err(other)?)?;
            } else if list.is_empty() {
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
            }
            Ok(())
        }
        VolumeCommand::Describe(v) => {
            print_meta(global, &volumes.load(&v.volume_id).map_err(other)?)
        }
        VolumeCommand::Create(c) => {
            let sector_size = SectorSize::new(u64::from(c.sector_size)).map_err(other)?;
            let owner = match (&c.workspace_user, &c.directory) {
                (Some(u), Some(d)) => Some(VolumeOwner {
                    user_sid: u.clone(),
                    directory_id: d.clone(),
                }),
                _ => None,
            };
            let sim = simulator(global)?;
            let meta = sim
                .ebs()
                .create_volume(&CreateVolumeRequest {
                    size_bytes: c.size,
                    sector_size,
                    key_id: c.key.clone(),
                    owner,
                    caller: global.as_principal.clone(),
                    key_info: None,
                })
                .map_err(other)?;
            if global.json {
                print_meta(global, &meta)
            } else {
                outln!("{}", meta.volume_id)?;
                Ok(())
            }
        }
        VolumeCommand::Delete(v) => {
            simulator(global)?
                .ebs()
                .delete_volume(&v.volume_id, global.as_principal.as_deref())
                .map_err(other)?;
            if global.json {
                outln!(
                    "{}",
                    serde_json::json!({"volume_id": v.volume_id, "deleted": true})
                )?;
            } else {
                outln!("deleted {}", v.volume_id)?;
            }
            Ok(())
        }
        VolumeCommand::Write(w) => {
            let mut data = Vec::new();
            if w.input.as_os_str() == "-" {
                std::io::stdin().read_to_end(&mut data).map_err(other)?;
            } else {
                data = std::fs::read(&w.input)
                    .map_err(|e| other(format!("cannot read {}: {e}", w.input.display())))?;
            }
            let vol = attach_volume(global, &w.volume_id)?;
            vol.write_at(w.offset, &data).map_err(other)?;
            vol.detach().map_err(other)?;
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
                return Err(other(format!(
                    "--length {} is more than 1 GiB per command",
                    r.length
                )));
            }
            let vol = attach_volume(global, &r.volume_id)?;
            let mut buf = vec![0u8; r.length as usize];
            vol.read_at(r.offset, &mut buf).map_err(other)?;
            vol.detach().map_err(other)?;
            if r.output.as_os_str() == "-" {
                std::io::stdout().write_all(&buf).map_err(other)?;
            } else {
                std::fs::write(&r.output, &buf)
                    .map_err(|e| other(format!("cannot write {}: {e}", r.output.display())))?;
            }
            Ok(())
        }
    }
}
