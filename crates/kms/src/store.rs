//! Persistence: `DIR/kms/state.json` (mode 0600, written atomically by `ebsim-data-dir`),
//! under an exclusive lock on `DIR/kms/.lock` held for the life of the [`crate::Kms`] value.

use std::path::{Path, PathBuf};

use ebsim_data_dir::{
    CredentialError, DataDir, ExclusiveLock, LockError, read_service_credential,
    write_private_atomic, write_service_credential,
};
use rand::Rng;
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

/// The open, locked KMS directory of a data dir.
#[derive(Debug)]
pub struct Store {
    layout: DataDir,
    _lock: ExclusiveLock,
}

impl Store {
    pub fn open(data_dir: &Path) -> Result<Self, KmsOpenError> {
        let layout = DataDir::new(data_dir);
        let dir = layout.kms();
        ebsim_data_dir::create_private_dir_all(&dir).map_err(io(&dir))?;
        ebsim_data_dir::tighten_data_dir(data_dir).map_err(io(data_dir))?;
        let lock = match ExclusiveLock::try_acquire(&layout.kms_lock()) {
            Ok(lock) => lock,
            Err(LockError::Held { .. }) => return Err(KmsOpenError::Locked { path: dir }),
            Err(LockError::Io { path, source }) => return Err(KmsOpenError::Io { path, source }),
            Err(e) => return Err(io(&dir)(std::io::Error::other(e.to_string()))),
        };
        Ok(Self {
            layout,
            _lock: lock,
        })
    }

    /// Where the files of the data dir are.
    pub fn layout(&self) -> &DataDir {
        &self.layout
    }

    pub fn state_path(&self) -> PathBuf {
        self.layout.kms_state()
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
        write_private_atomic(&self.state_path(), bytes)
    }
}

/// Reads (creating on first use) the data dir's service credential: (access key id, secret).
pub fn service_credential(path: &Path) -> Result<(String, Zeroizing<String>), KmsOpenError> {
    let credential_error = |e: CredentialError| match e {
        CredentialError::Io { path, source } => KmsOpenError::Io { path, source },
        other => KmsOpenError::Corrupt {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    };
    if let Some(found) = read_service_credential(path).map_err(credential_error)? {
        return Ok(found);
    }
    let (id, secret) = new_access_key("ASIA");
    write_service_credential(path, &id, &secret).map_err(credential_error)?;
    Ok((id, secret))
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
