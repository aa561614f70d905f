//! The KMS journal (docs/formats.md, "The KMS journal"): one JSON line per call that changed
//! the state, holding the entries it changed (a key, alias, principal, managed policy or session whole, or `null` for
//! one removed) and the clock offset, tagged with the generation of the snapshot
//! (`state.json`) it follows. Opening replays the lines of the snapshot's generation; a torn
//! last line (a crash while it was written, before the call was answered) is ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::custom_store_state::CustomKeyStore;
use crate::iam_state::{ManagedPolicy, Session};
use crate::state::{Alias, Key, Principal, State, Tracked};

/// One call's changes, as written.
#[derive(Serialize)]
struct DeltaOut<'a> {
    generation: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    keys: BTreeMap<String, Option<&'a Key>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    aliases: BTreeMap<String, Option<&'a Alias>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    principals: BTreeMap<String, Option<&'a Principal>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    managed_policies: BTreeMap<String, Option<&'a ManagedPolicy>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    sessions: BTreeMap<String, Option<&'a Session>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    custom_key_stores: BTreeMap<String, Option<&'a CustomKeyStore>>,
    clock_offset: f64,
}

/// One call's changes, as read.
#[derive(Deserialize)]
struct DeltaIn {
    generation: u64,
    #[serde(default)]
    keys: BTreeMap<String, Option<Key>>,
    #[serde(default)]
    aliases: BTreeMap<String, Option<Alias>>,
    #[serde(default)]
    principals: BTreeMap<String, Option<Principal>>,
    #[serde(default)]
    managed_policies: BTreeMap<String, Option<ManagedPolicy>>,
    #[serde(default)]
    sessions: BTreeMap<String, Option<Session>>,
    #[serde(default)]
    custom_key_stores: BTreeMap<String, Option<CustomKeyStore>>,
    clock_offset: Option<f64>,
}

fn changed<'a, V>(t: &'a mut Tracked<V>) -> BTreeMap<String, Option<&'a V>> {
    let ids = t.take_changed();
    let t: &'a Tracked<V> = t;
    ids.into_iter()
        .map(|id| {
            let v = t.get(&id);
            (id, v)
        })
        .collect()
}

/// The journal line (newline included) of what changed in `st` since the last line or
/// snapshot; the changes are forgotten.
///
/// # Errors
/// When the state cannot be serialized (it always can).
pub(crate) fn line(st: &mut State) -> serde_json::Result<Zeroizing<Vec<u8>>> {
    let generation = st.generation;
    let clock_offset = st.clock_offset;
    let delta = DeltaOut {
        generation,
        keys: changed(&mut st.keys),
        aliases: changed(&mut st.aliases),
        principals: changed(&mut st.principals),
        managed_policies: changed(&mut st.managed_policies),
        sessions: changed(&mut st.sessions),
        custom_key_stores: changed(&mut st.custom_key_stores),
        clock_offset,
    };
    let mut out = Zeroizing::new(Vec::with_capacity(1024));
    serde_json::to_writer(&mut *out, &delta)?;
    out.push(b'\n');
    Ok(out)
}

fn apply<V>(t: &mut Tracked<V>, changes: BTreeMap<String, Option<V>>) {
    for (id, v) in changes {
        match v {
            Some(v) => {
                t.insert(id, v);
            }
            None => {
                t.remove(&id);
            }
        }
    }
}

/// Applies the journal's lines of `st`'s generation to `st`, in order; returns how many. A
/// line that does not parse ends the replay (only the last line can be torn: each line is
/// synced before the call it records is answered).
pub(crate) fn replay(st: &mut State, journal: &[u8]) -> usize {
    let mut applied = 0;
    for raw in journal.split(|&b| b == b'\n') {
        if raw.is_empty() {
            continue;
        }
        let Ok(delta) = serde_json::from_slice::<DeltaIn>(raw) else {
            break;
        };
        if delta.generation != st.generation {
            continue;
        }
        apply(&mut st.keys, delta.keys);
        apply(&mut st.aliases, delta.aliases);
        apply(&mut st.principals, delta.principals);
        apply(&mut st.managed_policies, delta.managed_policies);
        apply(&mut st.sessions, delta.sessions);
        apply(&mut st.custom_key_stores, delta.custom_key_stores);
        if let Some(offset) = delta.clock_offset.filter(|o| o.is_finite()) {
            st.clock_offset = offset.clamp(0.0, crate::state::MAX_CLOCK_OFFSET);
        }
        applied += 1;
    }
    applied
}

/// Forgets every recorded change of `st` (it has just been written whole, or read).
pub(crate) fn forget_changes(st: &mut State) {
    st.keys.forget_changes();
    st.aliases.forget_changes();
    st.principals.forget_changes();
    st.managed_policies.forget_changes();
    st.sessions.forget_changes();
    st.custom_key_stores.forget_changes();
}
