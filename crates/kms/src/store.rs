//! Persistence: `DIR/kms/state.json` (mode 0600), written atomically (temporary file, fsync,
//! rename, fsync of the directory), under an exclusive lock on `DIR/kms/.lock` held for the
//! life of the [`crate::Kms`] value.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Why a data dir's KMS could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KmsOpenError {
    /// Another process holds the data dir's KMS.
    #[error(
        "the KMS state in {path} is in use by another process (stop it, or route calls to its server)"
    )]
    Locked {
        /// The locked directory.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The state file is not valid.
    #[error("the KMS state file {path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KmsOpenError + '_ {
    move |source| KmsOpenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The open, locked KMS directory.
#[derive(Debug)]
pub struct Store {
    pub dir: PathBuf,
    _lock: File,
}

impl Store {
    pub fn open(data_dir: &Path) -> Result<Self, KmsOpenError> {
        let dir = data_dir.join("kms");
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(KmsOpenError::Locked { path: dir });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
        }
        Ok(Self { dir, _lock: lock })
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    pub fn read_state(&self) -> Result<Option<Zeroizing<Vec<u8>>>, KmsOpenError> {
        let path = self.state_path();
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(Zeroizing::new(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    pub fn write_state(&self, bytes: &[u8]) -> std::io::Result<()> {
        write_atomic(&self.state_path(), bytes)
    }
}

/// Writes `bytes` to `path` atomically with mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    {
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// Ends a line torn by a crash (a JSON Lines file whose last byte is not a newline) so that
/// the records appended next start on a line of their own.
pub fn end_torn_line(path: &Path) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match OpenOptions::new().read(true).append(true).open(path) {
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

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceCredentialFile {
    access_key_id: String,
    secret_access_key: String,
}

/// Reads (creating on first use) the data dir's service credential: (access key id, secret).
pub fn service_credential(path: &Path) -> Result<(String, Zeroizing<String>), KmsOpenError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let f: ServiceCredentialFile =
                serde_json::from_slice(&bytes).map_err(|e| KmsOpenError::Corrupt {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
            Ok((f.access_key_id, Zeroizing::new(f.secret_access_key)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (id, secret) = new_access_key("ASIA");
            let f = ServiceCredentialFile {
                access_key_id: id.clone(),
                secret_access_key: secret.to_string(),
            };
            let json =
                Zeroizing::new(serde_json::to_vec(&f).map_err(|e| KmsOpenError::Corrupt {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?);
            let f = Zeroizing::new(f.secret_access_key);
            drop(f);
            write_atomic(path, &json).map_err(io(path))?;
            Ok((id, secret))
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// A fresh access key: `prefix` + 16 uppercase alphanumerics, and a 40-character secret.
pub fn new_access_key(prefix: &str) -> (String, Zeroizing<String>) {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::rng();
    let mut buf = [0u8; 56];
    rng.fill_bytes(&mut buf);
    let id: String = prefix
        .chars()
        .chain(buf[..16].iter().map(|b| UPPER[(*b % 32) as usize] as char))
        .collect();
    let secret: Zeroizing<String> = Zeroizing::new(
        buf[16..]
            .iter()
            .map(|b| SECRET[(*b % 64) as usize] as char)
            .collect(),
    );
    buf.iter_mut().for_each(|b| *b = 0);
    (id, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_line_is_ended_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("a.jsonl");
        end_torn_line(&p).unwrap_or_else(|e| panic!("{e}"));
        assert!(!p.exists(), "a missing file stays missing");
        std::fs::write(&p, b"{\"a\":1}\n{\"b\"").unwrap_or_else(|e| panic!("{e}"));
        end_torn_line(&p).unwrap_or_else(|e| panic!("{e}"));
        end_torn_line(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read(&p).unwrap_or_default(),
            b"{\"a\":1}\n{\"b\"\n".to_vec()
        );
    }
}
