//! Persistence and time: saving the state, and the deletions and rotations that fall due.

use super::*;

impl Kms {
    pub(super) fn persist(&self, st: &State) -> R<()> {
        if let Some(store) = &self.store {
            let bytes = Zeroizing::new(
                serde_json::to_vec(st)
                    .map_err(|_| internal("The KMS state could not be saved."))?,
            );
            store
                .write_state(&bytes)
                .map_err(|e| internal(format!("The KMS state could not be saved: {e}")))?;
            self.audit.flush();
        }
        Ok(())
    }

    pub(super) fn update_due(&self, st: &State) {
        let mut due = f64::INFINITY;
        for k in st.keys.values() {
            if let Some(d) = k.deletion_date {
                due = due.min(d);
            }
            if let Some(r) = &k.rotation
                && k.state == KeyState::Enabled
            {
                due = due.min(r.next);
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
            .map(|k| k.id.clone())
            .collect();
        for id in doomed {
            st.keys.remove(&id);
            st.aliases.retain(|_, a| a.target_key_id != id);
            changed = true;
        }
        for key in st.keys.values_mut() {
            if key.state != KeyState::Enabled {
                continue;
            }
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
        }
        if changed {
            self.persist(&st)?;
        }
        self.update_due(&st);
        Ok(())
    }
}
