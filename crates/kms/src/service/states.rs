//! Reset and saved states, the admin operations on the whole data dir (docs/kms.md, "Reset
//! and saved states"): `Reset` returns the data dir to a fresh one's state; `SaveState`,
//! `RestoreState`, `ListStates` and `DeleteState` keep named copies of it in
//! `DIR/states/NAME/`. The file work is `ebsim-data-dir`'s; the KMS orders it under its
//! state lock, as the one process that has the data dir's KMS open.

use ebsim_data_dir::{
    StateError, StateName, VolumeLocks, clear_resources, delete_state, list_states,
    read_saved_kms_state, save_state, stage_restore,
};

use super::*;

/// The admin operations on the whole data dir.
pub(super) const STATE_OPERATIONS: [&str; 5] = [
    "Reset",
    "SaveState",
    "RestoreState",
    "ListStates",
    "DeleteState",
];

/// The KMS error of a failed reset, save, restore or delete (`action` names it in the
/// message: "reset", "save", "restore", "delete").
fn state_error(e: StateError, action: &str) -> KmsError {
    match e {
        StateError::Attached { volume_id } => err(
            ErrorType::ConflictException,
            format!("Volume {volume_id} is attached; detach it before a {action}."),
        ),
        StateError::NotFound { name } => err(
            ErrorType::NotFoundException,
            format!("State {name} does not exist."),
        ),
        other => internal(format!("The {action} failed: {other}")),
    }
}

/// The `Name` member of a request, checked.
fn state_name(req: &Map<String, Value>) -> R<StateName> {
    let name = req
        .get("Name")
        .and_then(Value::as_str)
        .ok_or_else(|| validation("Name (a string) is required."))?;
    StateName::parse(name).map_err(|e| validation(e.to_string()))
}

impl Kms {
    /// Runs one of [`STATE_OPERATIONS`]. They act on the whole data dir (every account), so
    /// only the default account's root may call them.
    pub(super) fn state_admin(
        &self,
        caller: &Caller,
        operation: &str,
        req: &Map<String, Value>,
    ) -> R<Value> {
        if caller.principal != self.root_arn() {
            return Err(err(
                ErrorType::AccessDeniedException,
                format!(
                    "User: {} is not authorized to perform: ebsim:{operation} (it acts on the whole data dir: the default account's root only)",
                    caller.principal
                ),
            ));
        }
        match operation {
            "Reset" => self.reset().map(|()| json!({})),
            "ListStates" => self.list_saved_states(),
            "SaveState" => self.save_named_state(&state_name(req)?),
            "RestoreState" => self.restore_named_state(&state_name(req)?),
            "DeleteState" => self.delete_named_state(&state_name(req)?),
            _ => Err(err(
                ErrorType::UnknownOperationException,
                format!("Unknown admin operation {operation}"),
            )),
        }
    }

    /// The data dir's files, for the saved-state operations (an in-memory KMS has none).
    fn states_store(&self) -> R<&Store> {
        self.store.as_ref().ok_or_else(|| {
            err(
                ErrorType::UnsupportedOperationException,
                "Saved states need a data dir; this KMS keeps its state in memory.",
            )
        })
    }

    /// What follows a new state in memory: no audit record, no fault, and the deletions and
    /// rotations of the new state scheduled.
    fn start_afresh(&self, st: &State) -> R<()> {
        self.faults.clear();
        self.update_due(st);
        self.audit
            .clear()
            .map_err(|e| internal(format!("The audit trail could not be cleared: {e}")))
    }

    /// Returns the KMS and the data dir to a fresh one's state: no key, alias, grant, IAM
    /// principal, volume, WorkSpace or snapshot, no clock offset, no fault, an empty audit
    /// trail. The service credential, the endpoint record and the saved states stay. Refused
    /// (nothing changed) while a volume is attached in any process.
    fn reset(&self) -> R<()> {
        let mut st = self.state.write();
        let _locks = match &self.store {
            Some(store) => Some(
                VolumeLocks::acquire_all(store.layout()).map_err(|e| state_error(e, "reset"))?,
            ),
            None => None,
        };
        let mut fresh = State {
            format: STATE_FORMAT,
            // The next generation: no journal line of the state replaced applies to it.
            generation: st.generation,
            ..State::default()
        };
        // The commit point: once the empty state is on disk, the keys are gone.
        self.persist_whole(&mut fresh)?;
        *st = fresh;
        let cleared = match &self.store {
            Some(store) => clear_resources(store.layout()).map_err(|e| state_error(e, "reset")),
            None => Ok(()),
        };
        let started = self.start_afresh(&st);
        cleared.and(started)
    }

    /// Saves the KMS state and the resources as `DIR/states/NAME/`, replacing a state of
    /// that name. Refused while a volume is attached (its image could be changing).
    fn save_named_state(&self, name: &StateName) -> R<Value> {
        let store = self.states_store()?;
        // The write lock: no change, and no other state operation, while the copy is made.
        let st = self.state.write();
        let _locks =
            VolumeLocks::acquire_all(store.layout()).map_err(|e| state_error(e, "save"))?;
        let bytes = Zeroizing::new(
            serde_json::to_vec(&*st).map_err(|_| internal("The KMS state could not be saved."))?,
        );
        save_state(store.layout(), name, &bytes).map_err(|e| state_error(e, "save"))?;
        Ok(json!({"Name": name.as_str()}))
    }

    /// Replaces the KMS state and the resources with the saved state `name`. The saved KMS
    /// state is checked and the saved resources copied aside before anything changes; the
    /// audit trail and the faults start empty.
    fn restore_named_state(&self, name: &StateName) -> R<Value> {
        let store = self.states_store()?;
        let layout = store.layout();
        let bytes = read_saved_kms_state(layout, name).map_err(|e| state_error(e, "restore"))?;
        let corrupt = |m: String| internal(format!("State {name} is corrupt: kms/state.json: {m}"));
        let mut saved: State =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        saved.rehydrate().map_err(corrupt)?;
        drop(bytes);
        let mut st = self.state.write();
        let _locks = VolumeLocks::acquire_all(layout).map_err(|e| state_error(e, "restore"))?;
        let staged = stage_restore(layout, name).map_err(|e| state_error(e, "restore"))?;
        // The commit point, as for a reset.
        saved.generation = st.generation;
        self.persist_whole(&mut saved)?;
        *st = saved;
        let committed = staged.commit().map_err(|e| state_error(e, "restore"));
        let started = self.start_afresh(&st);
        committed.and(started)?;
        Ok(json!({"Name": name.as_str()}))
    }

    /// `{"States": [{"Name", "SavedAt", "Volumes"}]}`, by name.
    fn list_saved_states(&self) -> R<Value> {
        let store = self.states_store()?;
        let states = list_states(store.layout()).map_err(|e| state_error(e, "listing"))?;
        let list: Vec<Value> = states
            .iter()
            .map(|s| {
                json!({
                    "Name": s.name.as_str(),
                    "SavedAt": s.saved_at,
                    "SavedAtIso": iso8601(s.saved_at),
                    "Volumes": s.volumes,
                })
            })
            .collect();
        Ok(json!({ "States": list }))
    }

    /// Removes the saved state `name`.
    fn delete_named_state(&self, name: &StateName) -> R<Value> {
        let store = self.states_store()?;
        // Under the write lock, as saves are: they clear what a crashed save left.
        let _st = self.state.write();
        delete_state(store.layout(), name).map_err(|e| state_error(e, "delete"))?;
        Ok(json!({}))
    }
}
