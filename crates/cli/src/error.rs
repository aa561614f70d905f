use std::path::PathBuf;

use ebsim_kms::ErrorType;
use ebsim_kms_client::ClientError;
use ebsim_volume::VolumeError;
use ebsim_workspaces::ControlPlaneError;
use ebsim_workspaces::ekm::EkmError;

/// A failed command: one clear sentence for stderr, and an exit code.
///
/// The variants a caller can act on are typed (a missing data dir, state or a volume held by
/// another process, a bad argument, a file, a KMS error type); each `Display` is the sentence
/// the CLI prints after `error: `.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Bad command-line usage (also `--help` and `--version`, which exit 0).
    #[error("{0}")]
    Usage(clap::Error),
    /// A command that reads or uses existing state was pointed at a data dir that does not
    /// exist (commands that create things create it).
    #[error("no data dir at {}", path.display())]
    NoDataDir {
        /// The data dir in force.
        path: PathBuf,
    },
    /// A command that creates things was pointed at a data dir whose parent directory does
    /// not exist (only the data dir itself is created, never the path to it).
    #[error(
        "no data dir at {}, and it is not created: its parent {} does not exist (create that first, or check --data-dir)",
        path.display(),
        parent.display()
    )]
    NoDataDirParent {
        /// The data dir in force.
        path: PathBuf,
        /// Its missing parent.
        parent: PathBuf,
    },
    /// The data dir's KMS state is held by another process (a running `ebsim kms serve` that
    /// could not be used, or another command).
    #[error(
        "the KMS state in {} is in use by another process (stop it, or route calls to its server)",
        path.display()
    )]
    Locked {
        /// The locked directory.
        path: PathBuf,
    },
    /// A volume is attached by another process.
    #[error("volume {volume_id} is in use by another process")]
    InUse {
        /// The volume.
        volume_id: String,
    },
    /// An argument clap accepted but the command cannot use (a value out of range, a
    /// malformed `KEY=VALUE`, options that only work together).
    #[error("{0}")]
    InvalidArgument(String),
    /// A file or directory could not be read, written or created.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done: `read`, `write`, `create`, …
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A snapshot operation failed (the message starts with EC2's error code).
    #[error("{code}: {source}", code = source.code())]
    Snapshot {
        /// What the snapshot store said.
        #[from]
        source: ebsim_snapshot::SnapshotError,
    },
    /// An external program the command runs (`openssl` for `bench --compare-openssl`) is
    /// missing or failed.
    #[error("{0}")]
    Tool(String),
    /// EC2 or WorkSpaces refused the request.
    #[error("{code}: {message}")]
    Ec2 {
        /// The EC2 error code (`InvalidVolume.NotFound`, …).
        code: String,
        /// Its message.
        message: String,
    },
    /// A server could not install its SIGINT/SIGTERM handlers.
    #[error("cannot install the signal handlers: {0}")]
    Signal(std::io::Error),
    /// The worker threads of `ebsim bench` could not be started.
    #[error("cannot start the bench threads: {0}")]
    Threads(rayon::ThreadPoolBuildError),
    /// An error of the sector engine or a block store.
    #[error(transparent)]
    Engine(#[from] ebsim_io::IoError),
    /// An error answered by KMS (its `error_type` names it).
    #[error(transparent)]
    Kms(ebsim_kms::KmsError),
    /// The KMS could not be reached or opened, or answered outside its protocol.
    #[error(transparent)]
    KmsClient(ClientError),
    /// A KMS list operation answered a page with the marker it was asked for, so the
    /// listing would never end.
    #[error(
        "KMS answered {operation} with the same NextMarker it was given ({marker}); the listing would never end"
    )]
    Pagination {
        /// The list operation.
        operation: &'static str,
        /// The repeated marker.
        marker: String,
    },
    /// `volume delete` of a volume whose metadata cannot be read.
    #[error(
        "{source}; `ebsim volume delete --force {volume_id}` removes the volume and retires its grant"
    )]
    BrokenVolume {
        /// The volume.
        volume_id: String,
        /// Why its metadata cannot be read.
        source: Box<VolumeError>,
    },
    /// A volume operation failed.
    #[error(transparent)]
    Volume(VolumeError),
    /// An EBS or WorkSpaces control-plane operation failed.
    #[error(transparent)]
    ControlPlane(ControlPlaneError),
    /// `ekm connect` found the key unusable for the app, with the cause and the fix.
    #[error("{source} — {} — fix: {}", source.cause(), source.fix())]
    Ekm {
        /// What the check found.
        source: EkmError,
    },
    /// The data dir's KMS state could not be opened (other than [`CliError::Locked`]).
    #[error(transparent)]
    KmsState(ebsim_kms::KmsOpenError),
    /// The KMS endpoint could not be started or failed.
    #[error(transparent)]
    Server(#[from] ebsim_kms_server::ServerError),
    /// The NBD server failed.
    #[error(transparent)]
    Nbd(#[from] ebsim_nbd::NbdError),
    /// `demo --kms-endpoint URL` names a server whose data dir the demo does not hold (the
    /// demo acts for EBS with that data dir's service credential).
    #[error("{endpoint} is not the KMS server of {}: {reason}", dir.display())]
    NotOwnServer {
        /// The endpoint given.
        endpoint: String,
        /// The data dir in force.
        dir: PathBuf,
        /// Why it is not (no credential, no running server, another server).
        reason: String,
    },
    /// Standard output could not be written (closed early, as by `| head`, or failing).
    #[error("writing to standard output: {0}")]
    Stdout(std::io::Error),
}

impl CliError {
    /// The process exit code for this error: clap's for usage (2, or 0 for `--help`), 141
    /// for a closed standard output (as SIGPIPE would), 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(e) => e.exit_code(),
            // As a process killed by SIGPIPE reports itself to the shell (128 + 13).
            CliError::Stdout(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 141,
            _ => 1,
        }
    }

    /// The KMS error type behind this error, when KMS answered with one.
    pub fn kms_error_type(&self) -> Option<ErrorType> {
        match self {
            CliError::Kms(e) => Some(e.error_type),
            CliError::KmsClient(e) => e.kms_error_type(),
            CliError::Volume(e) => e.kms_error_type(),
            CliError::ControlPlane(e) => e.kms_error_type(),
            _ => None,
        }
    }

    /// Reports the error the way the CLI does: clap renders its own usage errors, a closed
    /// pipe is silent, everything else is one `error` event (the binary prints it on stderr
    /// as `error: …`).
    pub fn report(&self) {
        match self {
            CliError::Usage(e) => {
                let _ = e.print();
            }
            // The reader went away (`ebsim audit --json | head`): nothing to report.
            CliError::Stdout(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => tracing::error!("{other}"),
        }
    }

    /// A file error: `cannot {action} {path}: {source}`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| CliError::Io {
            action,
            path,
            source,
        }
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Kms(k) => CliError::Kms(k),
            e => CliError::KmsClient(e),
        }
    }
}

impl From<VolumeError> for CliError {
    fn from(e: VolumeError) -> Self {
        match e {
            VolumeError::InUse(volume_id) => CliError::InUse { volume_id },
            e => CliError::Volume(e),
        }
    }
}

impl From<ControlPlaneError> for CliError {
    fn from(e: ControlPlaneError) -> Self {
        match e {
            ControlPlaneError::Volume(v) => CliError::from(*v),
            e => CliError::ControlPlane(e),
        }
    }
}

impl From<EkmError> for CliError {
    fn from(source: EkmError) -> Self {
        CliError::Ekm { source }
    }
}

impl From<ebsim_kms::KmsOpenError> for CliError {
    fn from(e: ebsim_kms::KmsOpenError) -> Self {
        match e {
            ebsim_kms::KmsOpenError::Locked { path } => CliError::Locked { path },
            e => CliError::KmsState(e),
        }
    }
}
