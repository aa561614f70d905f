//! Private files written atomically, exclusive locks, and JSON Lines files a crash tore.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Creates directory `path` and any missing parents, each new one readable by the owner only
/// (mode 0700). An existing directory is left as it is.
///
/// # Errors
/// The I/O error.
pub fn create_private_dir_all(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Adds the flags every data-dir file is opened with: `O_NOFOLLOW` (a symbolic link in the last
/// component is an error, `ELOOP`, never followed) and `O_CLOEXEC`. See docs/security.md,
/// "Storage and the command line".
pub fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
}

/// The error for a data-dir path that is a symbolic link or not a regular file: kind
/// `InvalidInput`, naming what it is.
fn not_regular(path: &Path, what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "{} is {what}; ebsim opens only regular files in a data dir",
            path.display()
        ),
    )
}

/// Opens the data-dir file at `path` with `options` (plus [`no_follow`] and, so that a FIFO
/// cannot block the open, `O_NONBLOCK`) and checks that what was opened is a regular file.
///
/// # Errors
/// The I/O error; kind `InvalidInput` for a symbolic link or anything but a regular file.
pub fn open_regular(path: &Path, options: &mut OpenOptions) -> std::io::Result<File> {
    let file = options
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => not_regular(path, "a symbolic link"),
            _ => e,
        })?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(not_regular(path, "not a regular file"));
    }
    Ok(file)
}

/// Reads the whole data-dir file at `path`, a regular file (see [`open_regular`]) of at most
/// `max_len` bytes.
///
/// # Errors
/// The I/O error; kind `NotFound` when it is missing, `InvalidInput` for a symbolic link or
/// anything but a regular file, `InvalidData` when it is larger than `max_len`.
pub fn read_regular(path: &Path, max_len: u64) -> std::io::Result<Vec<u8>> {
    let file = open_regular(path, OpenOptions::new().read(true))?;
    let mut bytes = Vec::new();
    file.take(max_len.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is larger than {max_len} bytes", path.display()),
        ));
    }
    Ok(bytes)
}

/// Makes data dir `dir` private (mode 0700) when group or others have any access to it, so
/// that no other local user can reach anything inside; says so in one warning. `Ok(true)` when
/// it was tightened.
///
/// # Errors
/// The I/O error.
pub fn tighten_data_dir(dir: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))?;
    tracing::warn!(
        "data dir {} was mode {:o}; made it private (0700) so that other local users cannot read its keys and volumes",
        dir.display(),
        mode & 0o777
    );
    Ok(true)
}

/// Writes `bytes` to `path` atomically (a temporary file beside it, fsync, rename, fsync of
/// the directory), readable by the owner only (mode 0600). On failure the temporary file is
/// removed and `path` is as it was.
///
/// # Errors
/// The I/O error.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        // A new file, never one planted at the temporary name (a link would be followed).
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut f =
            no_follow(OpenOptions::new().create_new(true).write(true).mode(0o600)).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Ends a line torn by a crash (a JSON Lines file whose last byte is not a newline) so that
/// the records appended next start on a line of their own. A missing file stays missing.
///
/// # Errors
/// The I/O error.
pub fn end_torn_line(path: &Path) -> std::io::Result<()> {
    let mut f = match open_regular(path, OpenOptions::new().read(true).append(true)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if f.metadata()?.len() == 0 {
        return Ok(());
    }
    f.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    if last[0] != b'\n' {
        f.write_all(b"\n")?;
    }
    Ok(())
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process (or another handle in this one) holds it.
    #[error("{path} is locked by another process")]
    Held {
        /// The lock file.
        path: PathBuf,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// An exclusive `flock` on a file (created, mode 0600, if missing), held until dropped.
#[derive(Debug)]
pub struct ExclusiveLock {
    _file: File,
    path: PathBuf,
}

impl ExclusiveLock {
    /// Takes the lock without waiting.
    ///
    /// # Errors
    /// [`LockError::Held`] when another holder has it; [`LockError::Io`] otherwise.
    pub fn try_acquire(path: &Path) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            path: path.to_owned(),
            source,
        };
        let file = open_regular(
            path,
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600),
        )
        .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(Self {
                _file: file,
                path: path.to_owned(),
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held {
                path: path.to_owned(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_private_writes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_private_atomic(&p, b"one").unwrap();
        write_private_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!dir.path().join("state.json.tmp").exists());
        let missing = dir.path().join("no/such/dir/x");
        assert!(write_private_atomic(&missing, b"x").is_err());
    }

    #[test]
    fn torn_line_is_ended_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        end_torn_line(&p).unwrap();
        assert!(!p.exists(), "a missing file stays missing");
        std::fs::write(&p, b"{\"a\":1}\n{\"b\"").unwrap();
        end_torn_line(&p).unwrap();
        end_torn_line(&p).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"{\"a\":1}\n{\"b\"\n".to_vec());
    }

    #[test]
    fn links_and_special_files_are_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"precious").unwrap();
        let link = dir.path().join("state.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = read_regular(&link, 100).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = ExclusiveLock::try_acquire(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // A link planted at the temporary name is replaced, not written through.
        let planted = dir.path().join("state.json.tmp");
        std::os::unix::fs::symlink(&target, &planted).unwrap();
        write_private_atomic(&dir.path().join("state.json"), b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // A directory is not a regular file; bounds are kept.
        let e = read_regular(dir.path(), 100).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = read_regular(&target, 3).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    }

    #[test]
    fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".lock");
        let held = ExclusiveLock::try_acquire(&p).unwrap();
        assert!(matches!(
            ExclusiveLock::try_acquire(&p),
            Err(LockError::Held { .. })
        ));
        drop(held);
        assert!(ExclusiveLock::try_acquire(&p).is_ok());
    }
}
