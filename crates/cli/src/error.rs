/// A failed command: one clear sentence for stderr, and an exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Bad command-line usage (also `--help` and `--version`, which exit 0).
    #[error("{0}")]
    Usage(clap::Error),
    /// An error of the sector engine or a block store.
    #[error(transparent)]
    Io(#[from] ebsim_io::IoError),
    /// An error answered by KMS.
    #[error(transparent)]
    Kms(#[from] ebsim_kms::KmsError),
    /// Anything else, already worded for the user.
    #[error("{0}")]
    Other(String),
    /// Standard output could not be written (closed early, as by `| head`, or failing).
    #[error("writing to standard output: {0}")]
    Stdout(std::io::Error),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(e) => e.exit_code(),
            // As a process killed by SIGPIPE reports itself to the shell (128 + 13).
            CliError::Stdout(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 141,
            _ => 1,
        }
    }

    /// Prints the error the way the CLI reports it (clap renders its own usage errors).
    pub fn report(&self) {
        match self {
            CliError::Usage(e) => {
                let _ = e.print();
            }
            // The reader went away (`ebsim audit --json | head`): nothing to report.
            CliError::Stdout(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => eprintln!("error: {other}"),
        }
    }
}
