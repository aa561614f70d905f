//! A snapshot being written in the background: its id, its progress, and the wait for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread::JoinHandle;

use crate::backend::FileLock;
use crate::manifest::{Manifest, now_rfc3339};
use crate::{Snapshot, SnapshotError, SnapshotId, SnapshotState, SnapshotStore};

/// A snapshot that CreateSnapshot or CopySnapshot started: `pending` until its blocks are
/// copied. The copy runs on a thread of its own; dropping the job leaves it running (until
/// the process ends: a snapshot whose process stopped reads as `error`).
#[derive(Debug)]
pub struct SnapshotJob {
    id: SnapshotId,
    progress: Arc<AtomicU8>,
    handle: Option<JoinHandle<Result<Snapshot, SnapshotError>>>,
    first: Snapshot,
}

impl SnapshotJob {
    /// The new snapshot's id.
    pub fn snapshot_id(&self) -> &SnapshotId {
        &self.id
    }

    /// The snapshot as it was when the job started (`pending`, progress 0): what
    /// CreateSnapshot answers.
    pub fn started(&self) -> &Snapshot {
        &self.first
    }

    /// Percent of the blocks copied so far.
    pub fn progress(&self) -> u8 {
        self.progress.load(Ordering::Relaxed)
    }

    /// Whether the copy has ended (completed or failed).
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the copy to end.
    ///
    /// # Errors
    /// Why the snapshot went to `error` (its manifest says so too).
    pub fn wait(mut self) -> Result<Snapshot, SnapshotError> {
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(SnapshotError::Store(format!(
                "the thread copying {} panicked",
                self.id
            ))),
            None => Err(SnapshotError::Store("already waited".to_owned())),
        }
    }
}

/// What a job's thread does with the pending manifest: fill in the blocks.
pub(crate) type Work =
    Box<dyn FnOnce(&mut Manifest, &Progress) -> Result<(), SnapshotError> + Send>;

/// Progress reporting of a running job: in memory at once, in the manifest now and then.
pub(crate) struct Progress {
    store: SnapshotStore,
    shared: Arc<AtomicU8>,
    last_saved: AtomicU8,
    manifest: parking_lot::Mutex<Option<Manifest>>,
}

impl Progress {
    /// Records `done` of `total` units.
    pub(crate) fn set(&self, done: u64, total: u64) {
        let pct = (done.min(total) * 100).checked_div(total).unwrap_or(100) as u8;
        // 100 is written only with the completed state.
        let pct = pct.min(99);
        self.shared.store(pct, Ordering::Relaxed);
        let last = self.last_saved.load(Ordering::Relaxed);
        if pct >= last.saturating_add(5)
            && self
                .last_saved
                .compare_exchange(last, pct, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            && let Some(m) = self.manifest.lock().as_mut()
        {
            m.progress = pct;
            let _ = self.store.save(m);
        }
    }
}

impl SnapshotStore {
    /// Writes `m` (pending, progress 0) and runs `work` on a thread of its own, holding the
    /// snapshot's job lock and a shared lock on the store (so no sweep removes blocks it has
    /// written but not yet listed). The job lock is taken before the manifest is written.
    pub(crate) fn start_job(
        &self,
        mut m: Manifest,
        work: Work,
    ) -> Result<SnapshotJob, SnapshotError> {
        let job_lock =
            FileLock::try_exclusive(&self.job_lock(&m.snapshot_id))?.ok_or_else(|| {
                SnapshotError::Store(format!(
                    "snapshot {} is already being written",
                    m.snapshot_id
                ))
            })?;
        m.state = SnapshotState::Pending;
        m.progress = 0;
        self.save(&m)?;
        let first = Snapshot::from_manifest(&m);
        let id = m.snapshot_id.clone();
        let progress = Arc::new(AtomicU8::new(0));
        let store = self.clone();
        let shared = progress.clone();
        let handle = std::thread::Builder::new()
            .name(format!("snapshot {id}"))
            .spawn(move || {
                let _job_lock = job_lock;
                let result = (|| {
                    let _store_lock = FileLock::shared(&store.store_lock())?;
                    let p = Progress {
                        store: store.clone(),
                        shared: shared.clone(),
                        last_saved: AtomicU8::new(0),
                        manifest: parking_lot::Mutex::new(Some(m.clone())),
                    };
                    let mut work_m = m.clone();
                    work(&mut work_m, &p)?;
                    store.0.backend.sync()?;
                    work_m.state = SnapshotState::Completed;
                    work_m.progress = 100;
                    work_m.completion_time = Some(now_rfc3339());
                    store.save(&work_m)?;
                    shared.store(100, Ordering::Relaxed);
                    Ok::<_, SnapshotError>(work_m)
                })();
                match result {
                    Ok(done) => Ok(Snapshot::from_manifest(&done)),
                    Err(e) => {
                        let mut failed = m;
                        failed.state = SnapshotState::Error;
                        failed.state_message = Some(e.to_string().chars().take(512).collect());
                        failed.blocks.clear();
                        let _ = store.save(&failed);
                        let _ = store.sweep_after_failure();
                        Err(e)
                    }
                }
            })
            .map_err(|e| SnapshotError::io("cannot start a thread for", "the snapshot", e))?;
        Ok(SnapshotJob {
            id,
            progress,
            handle: Some(handle),
            first,
        })
    }

    fn sweep_after_failure(&self) -> Result<u64, SnapshotError> {
        self.sweep()
    }
}
