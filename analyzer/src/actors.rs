//! Bounded per-key state: a map that never holds more than `capacity` entries.
//!
//! Each entry remembers the packet time it was last touched. When the map is full, entries
//! idle longer than the TTL go first; if that frees nothing, the oldest eighth is evicted in
//! one sweep (amortised O(1) per insert). The hasher has a fixed key so which entries go is
//! the same on every run of the same input (replays are deterministic). Every eviction is
//! counted.

use crate::hashing::{fixed, Fixed};
use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug)]
struct Slot<V> {
    last_seen: u64,
    value: V,
}

/// A capacity-bounded map of per-actor (or per-endpoint) state.
#[derive(Debug)]
pub struct ActorTable<K, V> {
    map: HashMap<K, Slot<V>, Fixed>,
    capacity: usize,
    ttl_ns: u64,
    /// Entries removed to stay within capacity.
    pub evicted: u64,
}

impl<K: Hash + Eq + Clone, V: Default> ActorTable<K, V> {
    pub fn new(capacity: usize, ttl_ns: u64) -> Self {
        ActorTable {
            map: HashMap::with_hasher(fixed()),
            capacity: capacity.max(1),
            ttl_ns,
            evicted: 0,
        }
    }

    /// The entry for `key`, created when missing, touched at `ts`.
    pub fn entry(&mut self, key: &K, ts: u64) -> &mut V {
        if !self.map.contains_key(key) && self.map.len() >= self.capacity {
            self.make_room(ts);
        }
        let slot = self.map.entry(key.clone()).or_insert_with(|| Slot {
            last_seen: ts,
            value: V::default(),
        });
        slot.last_seen = slot.last_seen.max(ts);
        &mut slot.value
    }

    /// [`Self::entry`] looked up by a borrowed form of the key (`&str` for `String` keys);
    /// the owned key is built only when the entry is new.
    pub fn entry_by<Q>(&mut self, key: &Q, ts: u64) -> &mut V
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if !self.map.contains_key(key) {
            if self.map.len() >= self.capacity {
                self.make_room(ts);
            }
            self.map.insert(
                key.to_owned(),
                Slot {
                    last_seen: ts,
                    value: V::default(),
                },
            );
        }
        let slot = self.map.get_mut(key).expect("inserted above");
        slot.last_seen = slot.last_seen.max(ts);
        &mut slot.value
    }

    /// Takes an entry out (not counted as an eviction).
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key).map(|s| s.value)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|s| &s.value)
    }

    pub fn get_key_value(&self, key: &K) -> Option<(&K, &V)> {
        self.map.get_key_value(key).map(|(k, s)| (k, &s.value))
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key).map(|s| &mut s.value)
    }

    /// Every entry with the packet time it was last touched (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&K, u64, &V)> {
        self.map.iter().map(|(k, s)| (k, s.last_seen, &s.value))
    }

    /// Puts `value` under `key` as last touched at `last_seen` (restoring saved state); makes
    /// room like [`ActorTable::entry`].
    pub fn insert(&mut self, key: K, value: V, last_seen: u64) {
        if !self.map.contains_key(&key) && self.map.len() >= self.capacity {
            self.make_room(last_seen);
        }
        self.map.insert(key, Slot { last_seen, value });
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn make_room(&mut self, ts: u64) {
        let before = self.map.len();
        let ttl = self.ttl_ns;
        self.map.retain(|_, s| ts.saturating_sub(s.last_seen) < ttl);
        if self.map.len() >= self.capacity {
            let mut ages: Vec<u64> = self.map.values().map(|s| s.last_seen).collect();
            let k = (ages.len() / 8).max(1) - 1;
            let (_, cutoff, _) = ages.select_nth_unstable(k);
            let cutoff = *cutoff;
            let mut left = k + 1;
            self.map.retain(|_, s| {
                if left > 0 && s.last_seen <= cutoff {
                    left -= 1;
                    false
                } else {
                    true
                }
            });
        }
        self.evicted += (before - self.map.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_capacity_and_counts_evictions() {
        let mut t: ActorTable<u32, u32> = ActorTable::new(16, u64::MAX);
        for i in 0..1000u32 {
            *t.entry(&i, u64::from(i)) += 1;
            assert!(t.len() <= 16);
        }
        assert!(t.evicted >= 1000 - 16);
        // The most recent keys survive.
        assert!(t.get(&999).is_some());
    }

    #[test]
    fn idle_entries_go_first() {
        let mut t: ActorTable<u32, u32> = ActorTable::new(2, 10);
        t.entry(&1, 0);
        t.entry(&2, 100);
        t.entry(&3, 105); // 1 is idle past its TTL
        assert!(t.get(&1).is_none() && t.get(&2).is_some() && t.get(&3).is_some());
    }
}
