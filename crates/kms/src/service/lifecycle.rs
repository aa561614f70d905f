//! Persistence and time: saving the state, and the deletions and rotations that fall due.

use super::*;

impl Kms {
    /// Persists what changed in `st` since it was last persisted: one journal line (synced),
    /// and, once the journal outgrows the snapshot, a new snapshot (docs/formats.md, "The KMS
    /// journal"). A call's cost follows what it changed, not the size of the state.
    pub(super) fn persist(&self, st: &mut State) -> R<()> {
        let Some(store) = &self.store else {
            crate::journal::forget_changes(st);
            return Ok(());
        };
        if self.snapshot_due.load(Ordering::Acquire) {
            return self.persist_whole(st);
        }
        let line =
            crate::journal::line(st).map_err(|_| internal("The KMS state could not be saved."))?;
        let compact = store
            .append_journal(&line)
            .map_err(|e| internal(format!("The KMS state could not be saved: {e}")))?;
        if compact {
            self.persist_whole(st)?;
        }
        self.audit.flush();
        Ok(())
    }

    /// Writes `st` whole, as the snapshot of the next generation, and empties the journal.
    /// After a failure the next [`Kms::persist`] writes a snapshot again.
    pub(super) fn persist_whole(&self, st: &mut State) -> R<()> {
        let Some(store) = &self.store else {
            crate::journal::forget_changes(st);
            return Ok(());
        };
        let written = write_snapshot(store, st);
        self.snapshot_due.store(written.is_err(), Ordering::Release);
        self.audit.flush();
        written
    }

    pub(super) fn update_due(&self, st: &State) {
        let mut due = f64::INFINITY;
        for k in st.keys.values() {
            if let Some(d) = k.deletion_date {
                due = due.min(d);
            }
            if let Some(r) = &k.rotation
                && k.state == KeyState::Enabled
                && !is_replica(k)
            {
                due = due.min(r.next);
            }
            if let Some(v) = import::next_expiry(k) {
                due = due.min(v);
            }
        }
        for s in st.custom_key_stores.values() {
            if let Some(t) = s.settles_at() {
                due = due.min(t);
            }
        }
        self.next_due.store(due.to_bits(), Ordering::Release);
    }

    /// Deletes keys whose window has passed and rotates keys whose period has passed.
    pub(super) fn maintain(&self, now: f64) -> R<()> {
        if now < f64::from_bits(self.next_due.load(Ordering::Acquire)) {
            return Ok(());
        }
        let mut st = self.state.write();
        let mut changed = false;
        let doomed: Vec<String> = st
            .keys
            .values()
            .filter(|k| k.deletion_date.is_some_and(|d| d <= now))
            .map(|k| k.slot())
            .collect();
        for id in doomed {
            st.keys.remove(&id);
            st.aliases.retain(|_, a| a.target_key_id != id);
            changed = true;
        }
        changed |= Self::settle_replica_deletions(&mut st, now);
        changed |= Self::settle_connections(&mut st, now);
        changed |= Self::expire_imported(&mut st, now);
        let due: Vec<String> = st
            .keys
            .values()
            .filter(|k| {
                k.state == KeyState::Enabled
                    && !is_replica(k)
                    && k.rotation.as_ref().is_some_and(|r| r.next <= now)
            })
            .map(|k| k.slot())
            .collect();
        for id in due {
            let Some(key) = st.keys.get_mut(&id) else {
                continue;
            };
            let Some(rot) = key.rotation.clone() else {
                continue;
            };
            let mut next = rot.next;
            while next <= now {
                key.materials
                    .push(Material::generate(next, Some("AUTOMATIC")));
                next += f64::from(rot.period_days) * DAY;
                changed = true;
            }
            if let Some(r) = key.rotation.as_mut() {
                r.next = next;
            }
            Self::sync_replicas(&mut st, &id);
        }
        if changed {
            self.persist(&mut st)?;
        }
        self.update_due(&st);
        Ok(())
    }
}

/// Whether `k` is a multi-Region replica: its primary rotates for it.
fn is_replica(k: &Key) -> bool {
    k.multi_region == Some(crate::state::MultiRegionRole::Replica)
}

/// Writes `st` as the snapshot of the generation after its own, then empties the journal.
pub(super) fn write_snapshot(store: &Store, st: &mut State) -> R<()> {
    st.generation += 1;
    let bytes = Zeroizing::new(
        serde_json::to_vec(&*st).map_err(|_| internal("The KMS state could not be saved."))?,
    );
    store
        .write_state(&bytes)
        .map_err(|e| internal(format!("The KMS state could not be saved: {e}")))?;
    crate::journal::forget_changes(st);
    Ok(())
}

impl Drop for Kms {
    /// A KMS closed cleanly leaves its whole state in `state.json` (the journal folded in),
    /// as a reader of the data dir expects; a crash leaves the journal, which the next open
    /// replays.
    fn drop(&mut self) {
        let Some(store) = &self.store else {
            return;
        };
        if *self.last_usage_dirty.get_mut() {
            // Only keys that still exist.
            let keys = &self.state.get_mut().keys;
            let map = self.last_usage.get_mut();
            let live: std::collections::HashSet<&str> =
                keys.values().map(|k| k.arn.as_str()).collect();
            map.retain(|arn, _| live.contains(arn.as_str()));
            save_last_usage(store, map);
        }
        if store.journal_is_empty() {
            return;
        }
        let st = self.state.get_mut();
        if let Err(e) = write_snapshot(store, st) {
            tracing::warn!(error = %e, "the KMS state could not be folded into state.json; the journal keeps it");
        }
    }
}

/// Largest `key-last-usage.json` read at open (about 40,000 keys).
const LAST_USAGE_MAX: u64 = 8 << 20;

/// The keys' last uses saved by the previous KMS of `data_dir`; none when the file is
/// missing, and none, with a warning, when it is unreadable (it decides nothing but what
/// GetKeyLastUsage reports).
pub(super) fn load_last_usage(data_dir: &Path) -> LastUsage {
    let path = ebsim_data_dir::DataDir::new(data_dir).kms_key_last_usage();
    let bytes = match ebsim_data_dir::read_regular(&path, LAST_USAGE_MAX) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Default::default(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "key last-usage records not read");
            return Default::default();
        }
    };
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        tracing::warn!(path = %path.display(), error = %e, "key last-usage records not read");
        Default::default()
    })
}

/// Writes the keys' last uses next to the state (0600, replaced whole).
fn save_last_usage(store: &Store, map: &LastUsage) {
    let path = store.layout().kms_key_last_usage();
    let written = serde_json::to_vec(map)
        .map_err(std::io::Error::other)
        .and_then(|bytes| ebsim_data_dir::write_private_atomic(&path, &bytes));
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "key last-usage records not saved");
    }
}
