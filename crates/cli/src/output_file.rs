//! Files a command writes (the demo's trail and diagrams, `volume read --output`): checked before any call (a temporary file made in the target's
//! directory), then replaced atomically (write, sync, rename), never left half-written.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::CliError;

/// One output file, prepared.
#[derive(Debug)]
pub(crate) struct Output {
    pub path: PathBuf,
    pub what: &'static str,
    tmp: Option<tempfile::NamedTempFile>,
}

impl Output {
    /// Checks that `path` can be written: not a directory, its directory exists and takes a
    /// new file.
    pub(crate) fn prepare(path: &Path, what: &'static str) -> Result<Self, CliError> {
        if path.is_dir() {
            return Err(CliError::Io {
                action: "write",
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a directory"),
            });
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".ebsim-out-")
            .tempfile_in(&parent)
            .map_err(CliError::io("write", path))?;
        Ok(Self {
            path: path.to_path_buf(),
            what,
            tmp: Some(tmp),
        })
    }

    /// Writes `bytes` and renames the file over `path`.
    pub(crate) fn commit(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        let Some(mut tmp) = self.tmp.take() else {
            return Ok(());
        };
        let f = tmp.as_file_mut();
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(CliError::io("write", &self.path))?;
        tmp.persist(&self.path)
            .map_err(|e| CliError::io("write", &self.path)(e.error))?;
        Ok(())
    }
}
