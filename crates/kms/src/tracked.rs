//! A map that remembers which of its entries changed since it was last asked, so that the
//! KMS state is persisted by the entries a call changed and not whole (docs/formats.md,
//! "The KMS journal"). Reading goes through `Deref` to the `BTreeMap`; every way to change it
//! goes through a method here that records the key, so a change cannot be missed.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `BTreeMap<String, V>` with a record of the keys changed (inserted, changed through
/// [`Tracked::get_mut`] or removed) since [`Tracked::take_changed`].
#[derive(Debug)]
pub struct Tracked<V> {
    map: BTreeMap<String, V>,
    changed: BTreeSet<String>,
}

impl<V> Default for Tracked<V> {
    fn default() -> Self {
        Self {
            map: BTreeMap::new(),
            changed: BTreeSet::new(),
        }
    }
}

impl<V> Deref for Tracked<V> {
    type Target = BTreeMap<String, V>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl<V> Tracked<V> {
    /// The entry of `key` to change, if there is one (recorded as changed).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let v = self.map.get_mut(key)?;
        if !self.changed.contains(key) {
            self.changed.insert(key.to_owned());
        }
        Some(v)
    }

    /// Inserts or replaces the entry of `key`.
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        self.changed.insert(key.clone());
        self.map.insert(key, value)
    }

    /// Removes the entry of `key`.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let v = self.map.remove(key)?;
        self.changed.insert(key.to_owned());
        Some(v)
    }

    /// Removes the entries `keep` refuses.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &V) -> bool) {
        let gone: Vec<String> = self
            .map
            .iter()
            .filter(|(k, v)| !keep(k, v))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.remove(&k);
        }
    }

    /// Every entry, each recorded as changed (for rebuilding what is not serialized).
    pub fn values_mut_all(&mut self) -> impl Iterator<Item = &mut V> {
        self.changed.extend(self.map.keys().cloned());
        self.map.values_mut()
    }

    /// The keys changed since the last call, forgotten as they are returned.
    pub fn take_changed(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.changed)
    }

    /// Forgets the changes (the whole map has just been written).
    pub fn forget_changes(&mut self) {
        self.changed.clear();
    }
}

impl<V: Serialize> Serialize for Tracked<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(s)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Tracked<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self {
            map: BTreeMap::deserialize(d)?,
            changed: BTreeSet::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_is_recorded_once_and_reads_are_not() {
        let mut t: Tracked<u32> = Tracked::default();
        t.insert("a".into(), 1);
        t.insert("b".into(), 2);
        assert_eq!(t.take_changed().len(), 2);
        assert!(t.take_changed().is_empty());
        assert_eq!(t.get("a"), Some(&1));
        assert_eq!(t.values().sum::<u32>(), 3);
        assert!(t.take_changed().is_empty(), "reading changes nothing");
        if let Some(v) = t.get_mut("a") {
            *v = 5;
        }
        assert!(t.get_mut("missing").is_none());
        t.remove("b");
        t.remove("never");
        let changed: Vec<String> = t.take_changed().into_iter().collect();
        assert_eq!(changed, ["a", "b"]);
        t.insert("c".into(), 3);
        t.retain(|k, _| k != "c");
        assert_eq!(t.take_changed().into_iter().collect::<Vec<_>>(), ["c"]);
        assert_eq!(serde_json::to_string(&t).unwrap_or_default(), r#"{"a":5}"#);
        let mut back: Tracked<u32> = serde_json::from_str(r#"{"x":1}"#).unwrap_or_default();
        assert_eq!(back.get("x"), Some(&1));
        assert!(back.take_changed().is_empty());
    }
}
