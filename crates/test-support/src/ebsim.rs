//! Running `ebsim` command lines on a data dir: the built binary ([`Ebsim`]), its servers
//! ([`Ebsim::serve`]), or, with the `cli` feature, `ebsim_cli::run` in process ([`Cli`]).
//!
//! Both put `--data-dir DIR` (and `--kms-endpoint URL`) first, and run with a clean
//! environment for ebsim's own variables, so a developer's `EBSIM_*` settings never leak
//! into a test.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::process::Server;

/// The global flags of a command line: `--data-dir DIR`, `--kms-endpoint URL`.
fn global_args(data_dir: Option<&Path>, endpoint: Option<&str>) -> Vec<OsString> {
    let mut argv = Vec::new();
    if let Some(d) = data_dir {
        argv.push("--data-dir".into());
        argv.push(d.as_os_str().to_owned());
    }
    if let Some(u) = endpoint {
        argv.push("--kms-endpoint".into());
        argv.push(u.into());
    }
    argv
}

/// The built `ebsim` binary (`env!("CARGO_BIN_EXE_ebsim")` in the root package's tests).
#[derive(Debug, Clone)]
pub struct Ebsim {
    bin: PathBuf,
    data_dir: Option<PathBuf>,
    endpoint: Option<String>,
}

impl Ebsim {
    /// The binary at `bin`, with no data dir (`ebsim` then uses its default).
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self {
            bin: bin.into(),
            data_dir: None,
            endpoint: None,
        }
    }

    /// Runs every command with `--data-dir DIR`.
    #[must_use]
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Runs every command with `--kms-endpoint URL`.
    #[must_use]
    pub fn kms_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The command for `ebsim [--data-dir DIR] [--kms-endpoint URL] ARGS…`: ebsim's own
    /// environment variables removed, the built-in `test`/`test` AWS credentials set, no
    /// standard input. Add to it (`.stdout(…)`, `.env(…)`) before running it.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(global_args(
            self.data_dir.as_deref(),
            self.endpoint.as_deref(),
        ))
        .args(args)
        .env_remove("EBSIM_DATA_DIR")
        .env_remove("EBSIM_KMS_ENDPOINT")
        .env_remove("EBSIM_PRINCIPAL")
        .env_remove("EBSIM_ACCOUNT")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("RUST_LOG")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdin(Stdio::null());
        c
    }

    /// Runs `ebsim ARGS…` to the end.
    pub fn output<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.bin.display()))
    }

    /// Runs `ebsim ARGS…`, which must succeed, and returns its standard output.
    ///
    /// # Panics
    /// When the command fails (the message holds its status and both outputs).
    pub fn ok<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> String {
        let what: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
        ok(&self.output(args), &format!("ebsim {what:?}"))
    }

    /// Starts a server command (`kms serve`, `volume serve`, …) and waits for its
    /// `listening on ADDR` line; its stderr goes to the test's.
    pub fn serve<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Server {
        let mut c = self.command(args);
        c.stderr(Stdio::inherit());
        Server::start(c)
    }
}

/// The standard output of a command (`what`) that must have succeeded.
///
/// # Panics
/// When it failed: the message names it and holds its status and both outputs.
pub fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ebsim_cli::run` in this process, on a data dir (standard output is the test's).
#[cfg(feature = "cli")]
#[derive(Debug, Clone)]
pub struct Cli {
    data_dir: PathBuf,
    endpoint: Option<String>,
}

#[cfg(feature = "cli")]
impl Cli {
    /// Commands on `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            endpoint: None,
        }
    }

    /// Runs every command with `--kms-endpoint URL`.
    #[must_use]
    pub fn kms_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Runs `ebsim --data-dir DIR [--kms-endpoint URL] ARGS…`.
    ///
    /// # Errors
    /// The command's error.
    pub fn run(&self, args: &[&str]) -> Result<(), ebsim_cli::CliError> {
        let mut argv: Vec<OsString> = vec!["ebsim".into()];
        argv.extend(global_args(Some(&self.data_dir), self.endpoint.as_deref()));
        argv.extend(args.iter().map(OsString::from));
        ebsim_cli::run(argv)
    }

    /// Runs a command that must succeed.
    ///
    /// # Panics
    /// With the command and its error.
    pub fn ok(&self, args: &[&str]) {
        if let Err(e) = self.run(args) {
            panic!("ebsim {args:?}: {e}");
        }
    }
}
