//! Resetting a data dir and its saved states (docs/formats.md, "Reset and saved states").
//!
//! A data dir's *resources* are the KMS state (`kms/state.json`, written by the KMS that
//! holds `kms/.lock`) and the directories of [`RESOURCE_DIRS`]. A reset removes them; a saved
//! state (`DIR/states/NAME/`) is a copy of them. The service credential, the endpoint
//! record, the KMS lock and the saved states themselves are not resources: they survive.
//!
//! Every function here expects the caller to hold the data dir's KMS (its `kms/.lock`) and
//! every volume lock ([`VolumeLocks`]), so that nothing else writes the resources meanwhile.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use zeroize::Zeroizing;

use crate::copy::copy_tree_sparse;
use crate::files::{ExclusiveLock, LockError, write_private_atomic};
use crate::layout::{DataDir, VOLUME_LOCK};

/// The largest saved KMS state a restore reads (a bound on input from a file).
const MAX_SAVED_KMS_STATE: u64 = 1 << 30;

/// The directories below a data dir that hold resources, besides `kms/state.json`: volumes,
/// WorkSpace records, snapshots (none are written yet; a reset and a restore already treat
/// them as resources), and the EC2 state (`ec2/state.json`).
pub const RESOURCE_DIRS: [&str; 4] = ["volumes", "workspaces", "snapshots", "ec2"];

/// The KMS state inside a saved state, relative to it.
const SAVED_KMS_STATE: &str = "kms/state.json";

/// Longest state name.
const MAX_NAME: usize = 64;

/// Temporary and discarded directories carry `~`, which no state name may hold, so that
/// they are never taken for a saved state or a resource.
const TMP_MARK: char = '~';

/// The name of a saved state: 1 to 64 characters of `A-Z a-z 0-9 . _ -`, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StateName(String);

/// A name that is not a [`StateName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "A state name must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-', other than '.' and '..'."
)]
pub struct BadStateName;

impl StateName {
    /// Checks `name`.
    ///
    /// # Errors
    /// [`BadStateName`].
    pub fn parse(name: &str) -> Result<Self, BadStateName> {
        let ok = (1..=MAX_NAME).contains(&name.len())
            && name != "."
            && name != ".."
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(BadStateName)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a reset, save, restore or delete could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A volume is attached by some process (its lock is held).
    #[error("Volume {volume_id} is attached.")]
    Attached {
        /// The volume.
        volume_id: String,
    },
    /// No saved state of that name.
    #[error("State {name} does not exist.")]
    NotFound {
        /// The name.
        name: StateName,
    },
    /// A file or directory could not be read, written or removed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Every volume lock of a data dir, held until dropped: no volume can be attached meanwhile.
#[derive(Debug)]
pub struct VolumeLocks {
    locks: Vec<ExclusiveLock>,
}

impl VolumeLocks {
    /// Takes the lock of every directory in `DIR/volumes/`, without waiting.
    ///
    /// # Errors
    /// [`StateError::Attached`] naming the first volume whose lock another holder has (the
    /// locks taken before it are released); [`StateError::Io`].
    pub fn acquire_all(dir: &DataDir) -> Result<Self, StateError> {
        let volumes = dir.volumes();
        let entries = match std::fs::read_dir(&volumes) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self { locks: Vec::new() });
            }
            Err(e) => return Err(io("list", &volumes)(e)),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io("list", &volumes))?;
            if entry.file_type().map_err(io("list", &volumes))?.is_dir() {
                ids.push(entry.file_name());
            }
        }
        ids.sort();
        let mut locks = Vec::with_capacity(ids.len());
        for id in ids {
            let path = volumes.join(&id).join(VOLUME_LOCK);
            match ExclusiveLock::try_acquire(&path) {
                Ok(lock) => locks.push(lock),
                Err(LockError::Held { .. }) => {
                    return Err(StateError::Attached {
                        volume_id: id.to_string_lossy().into_owned(),
                    });
                }
                Err(LockError::Io { path, source }) => {
                    return Err(StateError::Io {
                        action: "lock",
                        path,
                        source,
                    });
                }
            }
        }
        Ok(Self { locks })
    }

    /// How many volumes are locked.
    pub fn len(&self) -> usize {
        self.locks.len()
    }

    /// Whether there is no volume.
    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }
}

/// The prefixes of the temporary and discarded directories.
const TMP_PREFIXES: [&str; 3] = [".saving", ".restoring", ".discarded"];

/// A fresh name for a temporary or discarded directory: `prefix~` and a suffix unique in
/// this process (and, by the time and process id, across processes).
fn tmp_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{TMP_MARK}{nanos:x}-{}-{n}", std::process::id())
}

fn private_dir(path: &Path) -> Result<(), StateError> {
    DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(io("create", path))
}

/// Removes the temporary and discarded directories a crash left in `dir`.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let leftover = TMP_PREFIXES.iter().any(|p| {
            name.strip_prefix(p)
                .is_some_and(|rest| rest.starts_with(TMP_MARK))
        });
        if leftover {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Moves `path` (if it exists) into a discarded directory beside it and returns where.
fn discard(path: &Path, parent: &Path) -> Result<Option<PathBuf>, StateError> {
    let to = parent.join(tmp_name(".discarded"));
    match std::fs::rename(path, &to) {
        Ok(()) => Ok(Some(to)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("move away", path)(e)),
    }
}

/// Removes the resource directories ([`RESOURCE_DIRS`]) of a data dir. Each is first
/// renamed away (so that a crash leaves it either whole or gone) and then removed; what a
/// crash leaves (`DIR/.discarded~…`) the next reset or restore removes.
///
/// # Errors
/// [`StateError::Io`].
pub fn clear_resources(dir: &DataDir) -> Result<(), StateError> {
    let root = dir.root();
    remove_leftovers(root);
    let mut gone = Vec::new();
    for name in RESOURCE_DIRS {
        if let Some(moved) = discard(&root.join(name), root)? {
            gone.push(moved);
        }
    }
    for moved in gone {
        std::fs::remove_dir_all(&moved).map_err(io("remove", &moved))?;
    }
    Ok(())
}

/// Saves `kms_state` (the serialized KMS state) and a copy of the resource directories as
/// `DIR/states/NAME/` (0700 directories, 0600 files; sparse files stay sparse), replacing a
/// state of that name. The copy is written to a temporary directory and renamed into place,
/// so a failed save leaves any earlier state of that name as it was.
///
/// # Errors
/// [`StateError::Io`].
pub fn save_state(dir: &DataDir, name: &StateName, kms_state: &[u8]) -> Result<(), StateError> {
    let states = dir.states();
    match DirBuilder::new().mode(0o700).create(&states) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io("create", &states)(e)),
    }
    remove_leftovers(&states);
    let tmp = states.join(tmp_name(".saving"));
    private_dir(&tmp)?;
    let result = (|| {
        let kms = tmp.join("kms");
        private_dir(&kms)?;
        let state_file = tmp.join(SAVED_KMS_STATE);
        write_private_atomic(&state_file, kms_state).map_err(io("write", &state_file))?;
        for res in RESOURCE_DIRS {
            let from = dir.root().join(res);
            if from.is_dir() {
                copy_tree_sparse(&from, &tmp.join(res)).map_err(io("copy", &from))?;
            }
        }
        let target = dir.state(name);
        let old = discard(&target, &states)?;
        if let Err(e) = std::fs::rename(&tmp, &target) {
            // Put the earlier state of that name back.
            if let Some(old) = &old {
                let _ = std::fs::rename(old, &target);
            }
            return Err(io("rename", &tmp)(e));
        }
        if let Some(old) = old {
            let _ = std::fs::remove_dir_all(old);
        }
        std::fs::File::open(&states)
            .and_then(|d| d.sync_all())
            .map_err(io("sync", &states))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// The KMS state of the saved state `name` (`DIR/states/NAME/kms/state.json`), for the KMS
/// to check before a restore changes anything.
///
/// # Errors
/// [`StateError::NotFound`] when there is no such state; [`StateError::Io`] (also for a
/// saved state without its KMS state).
pub fn read_saved_kms_state(
    dir: &DataDir,
    name: &StateName,
) -> Result<Zeroizing<Vec<u8>>, StateError> {
    let saved = dir.state(name);
    if !saved.is_dir() {
        return Err(StateError::NotFound { name: name.clone() });
    }
    let path = saved.join(SAVED_KMS_STATE);
    crate::read_regular(&path, MAX_SAVED_KMS_STATE)
        .map(Zeroizing::new)
        .map_err(io("read", &path))
}

/// The resource directories of a saved state, copied beside the data dir's and waiting for
/// [`StagedRestore::commit`]; dropped uncommitted, the copy is removed and nothing changed.
#[derive(Debug)]
pub struct StagedRestore {
    root: PathBuf,
    staging: PathBuf,
    committed: bool,
}

/// Copies the resource directories of the saved state `name` into a staging directory of
/// the data dir, which nothing reads yet: a failure here changes nothing.
///
/// # Errors
/// [`StateError::NotFound`]; [`StateError::Io`].
pub fn stage_restore(dir: &DataDir, name: &StateName) -> Result<StagedRestore, StateError> {
    let saved = dir.state(name);
    if !saved.is_dir() {
        return Err(StateError::NotFound { name: name.clone() });
    }
    let root = dir.root().to_owned();
    remove_leftovers(&root);
    let staging = root.join(tmp_name(".restoring"));
    private_dir(&staging)?;
    let staged = StagedRestore {
        root,
        staging,
        committed: false,
    };
    for res in RESOURCE_DIRS {
        let from = saved.join(res);
        if from.is_dir() {
            copy_tree_sparse(&from, &staged.staging.join(res)).map_err(io("copy", &from))?;
        }
    }
    Ok(staged)
}

impl StagedRestore {
    /// Replaces the data dir's resource directories with the staged ones (each by a rename,
    /// the old one removed afterwards).
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn commit(mut self) -> Result<(), StateError> {
        self.committed = true;
        let mut gone = Vec::new();
        for res in RESOURCE_DIRS {
            let target = self.root.join(res);
            if let Some(moved) = discard(&target, &self.root)? {
                gone.push(moved);
            }
            let staged = self.staging.join(res);
            if staged.is_dir() {
                std::fs::rename(&staged, &target).map_err(io("rename", &staged))?;
            }
        }
        for moved in gone {
            std::fs::remove_dir_all(&moved).map_err(io("remove", &moved))?;
        }
        std::fs::remove_dir_all(&self.staging).map_err(io("remove", &self.staging))
    }
}

impl Drop for StagedRestore {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// One saved state, as [`list_states`] describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedState {
    /// Its name.
    pub name: StateName,
    /// When it was saved (the time of its KMS state file), seconds since the epoch.
    pub saved_at: f64,
    /// How many volumes it holds.
    pub volumes: usize,
}

/// The saved states of a data dir, by name.
///
/// # Errors
/// [`StateError::Io`] when `DIR/states/` cannot be read (a missing one is no state).
pub fn list_states(dir: &DataDir) -> Result<Vec<SavedState>, StateError> {
    let states = dir.states();
    let entries = match std::fs::read_dir(&states) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("list", &states)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io("list", &states))?;
        let Some(name) = entry
            .file_name()
            .to_str()
            .and_then(|n| StateName::parse(n).ok())
        else {
            continue;
        };
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(path.join(SAVED_KMS_STATE)) else {
            continue;
        };
        let saved_at = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        let volumes = std::fs::read_dir(path.join("volumes"))
            .map(|e| e.flatten().filter(|e| e.path().is_dir()).count())
            .unwrap_or(0);
        out.push(SavedState {
            name,
            saved_at,
            volumes,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Removes the saved state `name`.
///
/// # Errors
/// [`StateError::NotFound`]; [`StateError::Io`].
pub fn delete_state(dir: &DataDir, name: &StateName) -> Result<(), StateError> {
    let states = dir.states();
    let target = dir.state(name);
    if !target.is_dir() {
        return Err(StateError::NotFound { name: name.clone() });
    }
    match discard(&target, &states)? {
        Some(moved) => std::fs::remove_dir_all(&moved).map_err(io("remove", &moved)),
        None => Err(StateError::NotFound { name: name.clone() }),
    }
}
