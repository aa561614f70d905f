//! `ebsim volume serve`: exports attached volumes to NBD clients (qemu, nbdcopy, the Linux nbd
//! client) until SIGINT/SIGTERM, then finishes in-flight requests, flushes and detaches.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use ebsim_io::IoError;
use ebsim_nbd::{BlockDevice, Extent, NbdServer, ServerConfig};
use ebsim_volume::{AttachedVolume, VolumeError};
use tracing::Level;

use crate::{CliError, GlobalArgs};

/// Default NBD listen address.
const DEFAULT_LISTEN: &str = "127.0.0.1:10809";

/// `ebsim volume serve VOL... [--listen ADDR] [--unix PATH] [--allow-remote] [--tls-creds DIR]
/// [--tls MODE] [limits]`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Volumes to export: one NBD export each, named by the volume id (the first is also the
    /// default export, reached with an empty name).
    #[arg(required = true, value_name = "VOL")]
    volumes: Vec<String>,
    /// TCP address to listen on, IP:PORT or HOST:PORT (default 127.0.0.1:10809 unless --unix
    /// is given; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", value_parser = crate::args::parse_listen)]
    listen: Option<SocketAddr>,
    /// Listen on a Unix socket at PATH (instead of TCP, or as well with --listen).
    #[arg(long, value_name = "PATH")]
    unix: Option<PathBuf>,
    /// Allow --listen on a non-loopback address (TLS is then required unless --tls off).
    #[arg(long)]
    allow_remote: bool,
    /// TLS credentials: a directory in qemu's x509 layout (ca-cert.pem, server-cert.pem,
    /// server-key.pem). TLS clients must present a certificate signed by ca-cert.pem.
    #[arg(long, value_name = "DIR")]
    tls_creds: Option<PathBuf>,
    /// TLS (NBD_OPT_STARTTLS): require (nothing is served without it), optional (for clients
    /// that ask), or off. Default: require with --tls-creds or --allow-remote, off otherwise.
    #[arg(long, value_enum, value_name = "MODE")]
    tls: Option<TlsMode>,
    /// Seconds a client may take from connecting to the end of the NBD handshake.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    handshake_timeout: u64,
    /// Seconds a connection may stay idle (no request arriving, none in flight) before it is
    /// closed.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    idle_timeout: u64,
    /// Seconds one write of a reply may wait for a client that reads nothing; the client is
    /// then disconnected.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    write_timeout: u64,
    /// Connections served at once; more are refused (and logged).
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_connections: u64,
    /// Connections served at once from one IP address; more from it are refused (and logged).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_connections_per_peer: u64,
}

/// `--tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TlsMode {
    /// Nothing is served without TLS.
    Require,
    /// TLS for clients that ask for it; plaintext for the others.
    Optional,
    /// No TLS.
    Off,
}

/// The TLS mode `volume serve` runs with, from `--tls`, `--tls-creds` and `--allow-remote`.
fn tls_mode(args: &ServeArgs) -> Result<TlsMode, CliError> {
    let mode = args
        .tls
        .unwrap_or(if args.tls_creds.is_some() || args.allow_remote {
            TlsMode::Require
        } else {
            TlsMode::Off
        });
    match (mode, &args.tls_creds) {
        (TlsMode::Require | TlsMode::Optional, None) => Err(CliError::InvalidArgument(
            if args.allow_remote && args.tls.is_none() {
                "--allow-remote requires TLS: pass --tls-creds DIR (or --tls off to serve plaintext to the network)".to_owned()
            } else {
                "--tls require/optional needs --tls-creds DIR".to_owned()
            },
        )),
        (TlsMode::Off, Some(_)) => Err(CliError::InvalidArgument(
            "--tls-creds with --tls off: drop one of them".to_owned(),
        )),
        _ => Ok(mode),
    }
}

/// An attached volume as an NBD block device.
struct VolumeDevice {
    volume: AttachedVolume,
}

fn io_error(e: VolumeError) -> io::Error {
    let kind = match &e {
        VolumeError::OutOfRange { .. } => io::ErrorKind::InvalidInput,
        VolumeError::Io(IoError::NoSpace { .. }) => io::ErrorKind::StorageFull,
        VolumeError::Io(IoError::Io { source, .. }) | VolumeError::Fs { source, .. } => {
            source.kind()
        }
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// A served volume as the source of a snapshot taken by another process.
struct CopySource(Arc<VolumeDevice>);

impl ebsim_volume::CiphertextAccess for CopySource {
    fn meta(&self) -> &ebsim_volume::VolumeMetadata {
        self.0.volume.metadata()
    }
    fn allocated(&self, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, VolumeError> {
        self.0.volume.allocated(offset, len)
    }
    fn read_stored(&self, offset: u64, buf: &mut [u8]) -> Result<(), VolumeError> {
        self.0.volume.read_stored(offset, buf)
    }
}

/// Zeros written per call by `write_zeroes` with `NO_HOLE`.
const ZERO_CHUNK: u64 = 1 << 20;

impl BlockDevice for VolumeDevice {
    fn size(&self) -> u64 {
        self.volume.size()
    }

    fn block_size(&self) -> u32 {
        self.volume.sector_size().get()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.volume.read_at(offset, buf).map_err(io_error)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.volume.write_at(offset, data).map_err(io_error)
    }

    fn write_at_mut(&self, offset: u64, data: &mut [u8]) -> io::Result<()> {
        self.volume
            .write_at_in_place(offset, data)
            .map_err(io_error)
    }

    fn flush(&self) -> io::Result<()> {
        self.volume.flush().map_err(io_error)
    }

    fn trim(&self, offset: u64, len: u64) -> io::Result<()> {
        self.volume.trim(offset, len).map_err(io_error)
    }

    fn extents(&self, offset: u64, len: u32) -> io::Result<Vec<Extent>> {
        // Holes (no blocks in data.img) and stored all-zero sectors read as zeros.
        let extents = self
            .volume
            .extents(offset, u64::from(len))
            .map_err(io_error)?;
        Ok(extents
            .into_iter()
            .map(|e| Extent {
                // Each extent lies inside the request, whose length is a u32.
                length: u32::try_from(e.length).unwrap_or(len),
                hole: e.hole,
                zero: e.zero,
            })
            .collect())
    }

    fn write_zeroes(&self, offset: u64, len: u64, no_hole: bool) -> io::Result<()> {
        if !no_hole {
            return self.trim(offset, len);
        }
        // Written as data; the volume itself keeps all-zero plaintext sectors as holes, which
        // read as zeros (DESIGN: a hole never needs space to be read back).
        let zeros = vec![0u8; ZERO_CHUNK.min(len) as usize];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(ZERO_CHUNK);
            self.write_at(offset + done, &zeros[..n as usize])?;
            done += n;
        }
        Ok(())
    }
}

/// Listens on a Unix socket at `path` that only this user can connect to (mode 0600): the
/// socket is bound under a random name next to `path`, made 0600, then renamed into place, so
/// that it is never reachable with wider permissions. A stale socket at `path` (from an earlier
/// run) is replaced; any other file there is an error.
fn bind_private_unix(path: &std::path::Path) -> Result<UnixListener, CliError> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(m) = std::fs::symlink_metadata(path)
        && !m.file_type().is_socket()
    {
        return Err(CliError::InvalidArgument(format!(
            "--unix {}: the path exists and is not a socket",
            path.display()
        )));
    }
    let name = path.file_name().ok_or_else(|| {
        CliError::InvalidArgument(format!("--unix {}: not a file path", path.display()))
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{:016x}.tmp", rand::random::<u64>()));
    let tmp = path.with_file_name(tmp_name);
    let listener = UnixListener::bind(&tmp).map_err(CliError::io("listen on", path))?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::io("listen on", path)(e));
    }
    Ok(listener)
}

/// Runs `ebsim volume serve`, attaching each volume with `attach` (which unwraps its data key
/// through KMS the way the volume commands do).
pub(crate) fn run(
    global: &GlobalArgs,
    args: &ServeArgs,
    attach: &dyn Fn(&str) -> Result<AttachedVolume, CliError>,
) -> Result<(), CliError> {
    let listen = match (args.listen, &args.unix) {
        (Some(a), _) => Some(a),
        (None, Some(_)) => None,
        (None, None) => DEFAULT_LISTEN.parse().ok(),
    };
    if let Some(a) = listen
        && !a.ip().is_loopback()
        && !args.allow_remote
    {
        return Err(CliError::InvalidArgument(format!(
            "refusing to serve volumes on non-loopback address {a}; pass --allow-remote to expose them to the network"
        )));
    }
    let tls_mode = tls_mode(args)?;
    // Load the credentials before attaching anything: bad ones change nothing.
    let tls_creds = match &args.tls_creds {
        Some(dir) if tls_mode != TlsMode::Off => Some(ebsim_nbd::TlsCreds::from_x509_dir(dir)?),
        _ => None,
    };
    if args.allow_remote && tls_mode != TlsMode::Require {
        tracing::warn!(
            "serving volumes to the network without requiring TLS (--tls {})",
            if tls_mode == TlsMode::Off {
                "off"
            } else {
                "optional"
            }
        );
    }
    for (i, v) in args.volumes.iter().enumerate() {
        if args.volumes[..i].contains(v) {
            return Err(CliError::InvalidArgument(format!(
                "volume {v} is named twice"
            )));
        }
    }

    // Attach everything first; on failure the volumes attached so far are detached on drop.
    let mut devices: Vec<Arc<VolumeDevice>> = Vec::with_capacity(args.volumes.len());
    for id in &args.volumes {
        let volume = attach(id)?;
        // The server runs many requests at once on its own threads; each request's crypto
        // stays on the thread that runs it.
        volume.set_parallel_crypto(false);
        devices.push(Arc::new(VolumeDevice { volume }));
    }
    // Snapshots taken by other processes read each volume through this process, under its
    // range locks (docs/formats.md, "Snapshots").
    let root = ebsim_volume::VolumeRoot::dir(global.data_dir());
    let mut copy_services = Vec::with_capacity(devices.len());
    for d in &devices {
        let source: Arc<dyn ebsim_volume::CiphertextAccess> = Arc::new(CopySource(Arc::clone(d)));
        match ebsim_volume::CopyService::start(&root, source) {
            Ok(s) => copy_services.push(s),
            Err(e) => tracing::warn!(
                "snapshots of {} cannot be taken while it is served: {e}",
                d.volume.volume_id()
            ),
        }
    }
    let exports = args
        .volumes
        .iter()
        .zip(&devices)
        .map(|(id, d)| (id.clone(), Arc::clone(d) as Arc<dyn BlockDevice>))
        .collect();
    // The server's own lines (connections opened and closed, failures of one connection) go
    // to stderr when info events are on for it: `-v`, or RUST_LOG=ebsim_nbd=info.
    let mut config = ServerConfig::default()
        .log(tracing::enabled!(target: "ebsim_nbd", Level::INFO))
        .handshake_timeout(Duration::from_secs(args.handshake_timeout))
        .idle_timeout(Duration::from_secs(args.idle_timeout))
        .write_timeout(Duration::from_secs(args.write_timeout))
        .max_connections(usize::try_from(args.max_connections).unwrap_or(usize::MAX))
        .max_connections_per_peer(
            usize::try_from(args.max_connections_per_peer).unwrap_or(usize::MAX),
        );
    if let Some(creds) = tls_creds {
        config = config.tls(creds, tls_mode == TlsMode::Require);
    }
    let server = Arc::new(NbdServer::with_config(exports, config)?);

    let tcp = match listen {
        Some(a) => Some(TcpListener::bind(a).map_err(CliError::io("listen on", a.to_string()))?),
        None => None,
    };
    let unix = match &args.unix {
        Some(p) => Some(bind_private_unix(p)?),
        None => None,
    };

    let stop = server.shutdown_handle();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.flag()).map_err(CliError::Signal)?;
    }

    let tcp_addr = match &tcp {
        Some(l) => Some(
            l.local_addr()
                .map_err(CliError::io("read the address of", "the NBD listener"))?,
        ),
        None => None,
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if let Some(a) = tcp_addr {
            let _ = writeln!(out, "listening on {a}");
        }
        if let Some(p) = &args.unix {
            let _ = writeln!(out, "listening on unix:{}", p.display());
        }
        let _ = out.flush();
    }
    for (id, d) in args.volumes.iter().zip(&devices) {
        let v = &d.volume;
        let scheme = if tls_mode == TlsMode::Off {
            "nbd"
        } else {
            "nbds"
        };
        let at = match (tcp_addr, &args.unix) {
            (Some(a), _) => format!("{scheme}://{a}/{id}"),
            (None, Some(p)) => format!("{scheme}+unix:///{id}?socket={}", p.display()),
            (None, None) => String::new(),
        };
        tracing::info!(
            "nbd: exporting {id} ({} bytes, {}-byte sectors) at {at}",
            v.size(),
            v.sector_size().get()
        );
    }

    let unix_thread = unix.map(|l| {
        let s = Arc::clone(&server);
        std::thread::spawn(move || s.serve_unix(l))
    });
    let mut result = match tcp {
        Some(l) => server.serve_tcp(l).map_err(CliError::from),
        None => Ok(()),
    };
    if let Some(t) = unix_thread {
        let r = match t.join() {
            Ok(r) => r.map_err(CliError::from),
            Err(_) => Err(CliError::Nbd(ebsim_nbd::NbdError::Io(
                std::io::Error::other("the Unix socket listener panicked"),
            ))),
        };
        result = result.and(r);
    }
    if let Some(p) = &args.unix {
        let _ = std::fs::remove_file(p);
    }

    // The server and its connections are gone: detach (flush, zeroize the key, unlock).
    tracing::info!("nbd: served {}", server.stats());
    drop(copy_services);
    drop(server);
    for d in devices {
        let id = d.volume.volume_id().to_owned();
        match Arc::try_unwrap(d) {
            Ok(d) => {
                let r = d.volume.detach().map_err(CliError::from);
                if let Err(e) = &r {
                    tracing::error!("detaching {id}: {e}");
                }
                result = result.and(r);
            }
            // Still shared (cannot happen once the server returned); dropping detaches.
            Err(d) => drop(d),
        }
    }
    if result.is_ok() {
        tracing::info!("nbd: stopped; volumes flushed and detached");
    }
    result
}
