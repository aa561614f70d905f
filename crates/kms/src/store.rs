//! Persistence: `DIR/kms/state.json` (mode 0600, written atomically by `ebsim-data-dir`) and
//! the journal of the changes since, `DIR/kms/state.journal` (mode 0600, appended and synced
//! per call; docs/formats.md, "The KMS journal"), under an exclusive lock on
//! `DIR/kms/.lock` held for the life of the [`crate::Kms`] value.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

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
    files: Mutex<Files>,
}

/// The journal, opened on first append, and what has been written.
#[derive(Debug, Default)]
struct Files {
    journal: Option<File>,
    /// Bytes in the journal now.
    journal_len: u64,
    /// Bytes of the last snapshot written or read.
    snapshot_len: u64,
    stats: PersistStats,
}

/// What persisting the KMS state has written since it was opened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PersistStats {
    /// Journal lines appended (one per call that changed the state).
    pub journal_lines: u64,
    /// Bytes appended to the journal.
    pub journal_bytes: u64,
    /// Snapshots (`state.json`) written.
    pub snapshots: u64,
    /// Bytes of snapshots written.
    pub snapshot_bytes: u64,
}

/// The journal is folded into a new snapshot once it holds more than this, or more than the
/// snapshot itself, whichever is larger: a call's share of the snapshot's cost stays
/// proportional to what it changed.
pub const JOURNAL_MIN_COMPACT: u64 = 1024 * 1024;

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
            files: Mutex::new(Files::default()),
        })
    }

    /// Where the files of the data dir are.
    pub fn layout(&self) -> &DataDir {
        &self.layout
    }

    pub fn state_path(&self) -> PathBuf {
        self.layout.kms_state()
    }

    pub fn journal_path(&self) -> PathBuf {
        self.layout.kms_journal()
    }

    pub fn read_state(&self) -> Result<Option<Zeroizing<Vec<u8>>>, KmsOpenError> {
        let path = self.state_path();
        match std::fs::read(&path) {
            Ok(b) => {
                self.files.lock().snapshot_len = b.len() as u64;
                Ok(Some(Zeroizing::new(b)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The journal's bytes (empty when there is none).
    pub fn read_journal(&self) -> Result<Zeroizing<Vec<u8>>, KmsOpenError> {
        let path = self.journal_path();
        match std::fs::read(&path) {
            Ok(b) => Ok(Zeroizing::new(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Zeroizing::new(Vec::new())),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Writes a whole state (atomically, synced), then empties the journal: its lines are in
    /// the snapshot (and name an older generation, so a crash before the journal is emptied
    /// replays none of them).
    pub fn write_state(&self, bytes: &[u8]) -> std::io::Result<()> {
        write_private_atomic(&self.state_path(), bytes)?;
        let mut files = self.files.lock();
        files.snapshot_len = bytes.len() as u64;
        files.stats.snapshots += 1;
        files.stats.snapshot_bytes += bytes.len() as u64;
        if files.journal_len > 0 || files.journal.is_none() {
            // The snapshot is what counts: a journal left as it was names an older
            // generation, which no replay applies.
            let emptied = Self::open_journal(&self.journal_path()).and_then(|f| {
                f.set_len(0)?;
                f.sync_all()?;
                Ok(f)
            });
            match emptied {
                Ok(f) => {
                    files.journal = Some(f);
                    files.journal_len = 0;
                }
                Err(e) => {
                    files.journal = None;
                    tracing::warn!(error = %e, "the KMS journal could not be emptied");
                }
            }
        }
        Ok(())
    }

    /// Appends one line (a call's changes, newline included) to the journal and syncs it.
    /// Returns whether the journal has grown enough to be folded into a new snapshot.
    pub fn append_journal(&self, line: &[u8]) -> std::io::Result<bool> {
        let mut files = self.files.lock();
        if files.journal.is_none() {
            let f = Self::open_journal(&self.journal_path())?;
            files.journal_len = f.metadata()?.len();
            files.journal = Some(f);
        }
        let f = files
            .journal
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no journal"))?;
        f.write_all(line)?;
        f.sync_data()?;
        files.journal_len += line.len() as u64;
        files.stats.journal_lines += 1;
        files.stats.journal_bytes += line.len() as u64;
        Ok(files.journal_len > files.snapshot_len.max(JOURNAL_MIN_COMPACT))
    }

    /// Whether the journal holds lines (changes not yet in `state.json`).
    pub fn journal_is_empty(&self) -> bool {
        let files = self.files.lock();
        files.journal.is_none() || files.journal_len == 0
    }

    /// What persisting has written since the store was opened.
    pub fn stats(&self) -> PersistStats {
        self.files.lock().stats
    }

    fn open_journal(path: &Path) -> std::io::Result<File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
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
