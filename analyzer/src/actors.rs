//! Bounded per-key state: a map that never holds more than `capacity` entries.
//!
//! Each entry remembers the packet time it was last touched. When the map is full, entries
//! idle longer than the TTL go first; if that frees nothing, the oldest eighth is evicted in
//! one sweep (amortised O(1) per insert). The hasher has a fixed key so which entries go is
//! the same on every run of the same input (replays are deterministic). Every eviction is
//! counted.
//!
//! Layout: entries live in a slab (`Vec`, freed slots reused) and the hash index maps keys
//! to slot numbers. A hash table keeps a share of its buckets empty (up to half of them
//! right after it grows), and with entries of a few hundred bytes stored in the buckets that
//! slack would cost as much as the entries; here it costs a key and a `u32` per bucket, and
//! the slab's unused capacity is never touched (not resident).

use crate::hashing::{fixed, Fixed};
use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug)]
struct Slot<K, V> {
    key: K,
    last_seen: u64,
    value: V,
}

/// A capacity-bounded map of per-actor (or per-endpoint) state.
#[derive(Debug)]
pub struct ActorTable<K, V> {
    index: HashMap<K, u32, Fixed>,
    slots: Vec<Option<Slot<K, V>>>,
    free: Vec<u32>,
    capacity: usize,
    ttl_ns: u64,
    /// Entries removed to stay within capacity.
    pub evicted: u64,
}

impl<K: Hash + Eq + Clone, V: Default> ActorTable<K, V> {
    pub fn new(capacity: usize, ttl_ns: u64) -> Self {
        ActorTable {
            index: HashMap::with_hasher(fixed()),
            slots: Vec::new(),
            free: Vec::new(),
            capacity: capacity.clamp(1, u32::MAX as usize),
            ttl_ns,
            evicted: 0,
        }
    }

    fn slot_mut(&mut self, i: u32) -> &mut Slot<K, V> {
        self.slots[i as usize]
            .as_mut()
            .expect("the index points at occupied slots")
    }

    /// Stores a new entry (room was made) and returns its slot number.
    fn insert_new(&mut self, key: K, value: V, last_seen: u64) -> u32 {
        let slot = Slot {
            key: key.clone(),
            last_seen,
            value,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(key, i);
        i
    }

    /// The entry for `key`, created when missing, touched at `ts`.
    pub fn entry(&mut self, key: &K, ts: u64) -> &mut V {
        let i = self.entry_slot(key, ts);
        &mut self.slot_mut(i).value
    }

    /// [`Self::entry`], returning the entry's slot number instead: [`Self::at`] reads it back
    /// (key and value) without hashing the key again, until the next insertion.
    pub fn entry_slot(&mut self, key: &K, ts: u64) -> u32 {
        self.slot_for(key, ts)
    }

    /// The key and value in slot `i` (from [`Self::entry_slot`]).
    pub fn at(&self, i: u32) -> (&K, &V) {
        let s = self.slots[i as usize]
            .as_ref()
            .expect("slot numbers come from entry_slot");
        (&s.key, &s.value)
    }

    /// The value in slot `i` (from [`Self::entry_slot`]).
    pub fn at_mut(&mut self, i: u32) -> &mut V {
        &mut self.slot_mut(i).value
    }

    /// [`Self::entry`] looked up by a borrowed form of the key (`&str` for `String` keys);
    /// the owned key is built only when the entry is new.
    pub fn entry_by<Q>(&mut self, key: &Q, ts: u64) -> &mut V
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let i = self.slot_for(key, ts);
        &mut self.slot_mut(i).value
    }

    /// The slot of `key` (created when missing, making room first), touched at `ts`.
    fn slot_for<Q>(&mut self, key: &Q, ts: u64) -> u32
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                if self.index.len() >= self.capacity {
                    self.make_room(ts);
                }
                self.insert_new(key.to_owned(), V::default(), ts)
            }
        };
        let slot = self.slot_mut(i);
        slot.last_seen = slot.last_seen.max(ts);
        i
    }

    /// Takes an entry out (not counted as an eviction).
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.index.remove(key)?;
        self.free.push(i);
        self.slots[i as usize].take().map(|s| s.value)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.get_key_value(key).map(|(_, v)| v)
    }

    pub fn get_key_value(&self, key: &K) -> Option<(&K, &V)> {
        let &i = self.index.get(key)?;
        self.slots[i as usize].as_ref().map(|s| (&s.key, &s.value))
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let &i = self.index.get(key)?;
        self.slots[i as usize].as_mut().map(|s| &mut s.value)
    }

    /// Every entry with the packet time it was last touched (in slot order).
    pub fn iter(&self) -> impl Iterator<Item = (&K, u64, &V)> {
        self.slots
            .iter()
            .flatten()
            .map(|s| (&s.key, s.last_seen, &s.value))
    }

    /// Puts `value` under `key` as last touched at `last_seen` (restoring saved state); makes
    /// room like [`ActorTable::entry`].
    pub fn insert(&mut self, key: K, value: V, last_seen: u64) {
        if let Some(&i) = self.index.get(&key) {
            let slot = self.slot_mut(i);
            slot.last_seen = last_seen;
            slot.value = value;
            return;
        }
        if self.index.len() >= self.capacity {
            self.make_room(last_seen);
        }
        self.insert_new(key, value, last_seen);
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Frees slot `i` (its key leaves the index).
    fn evict_slot(&mut self, i: usize) {
        if let Some(s) = self.slots[i].take() {
            self.index.remove(&s.key);
            self.free.push(i as u32);
            self.evicted += 1;
        }
    }

    fn make_room(&mut self, ts: u64) {
        let ttl = self.ttl_ns;
        for i in 0..self.slots.len() {
            let idle = self.slots[i]
                .as_ref()
                .is_some_and(|s| ts.saturating_sub(s.last_seen) >= ttl);
            if idle {
                self.evict_slot(i);
            }
        }
        if self.index.len() >= self.capacity {
            let mut ages: Vec<u64> = self.slots.iter().flatten().map(|s| s.last_seen).collect();
            let k = (ages.len() / 8).max(1) - 1;
            let (_, cutoff, _) = ages.select_nth_unstable(k);
            let cutoff = *cutoff;
            let mut left = k + 1;
            for i in 0..self.slots.len() {
                if left == 0 {
                    break;
                }
                if self.slots[i]
                    .as_ref()
                    .is_some_and(|s| s.last_seen <= cutoff)
                {
                    self.evict_slot(i);
                    left -= 1;
                }
            }
        }
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

    #[test]
    fn freed_slots_are_reused_and_keys_stay_consistent() {
        let mut t: ActorTable<u32, u32> = ActorTable::new(8, u64::MAX);
        for i in 0..100u32 {
            *t.entry(&i, u64::from(i)) = i * 10;
            assert!(t.len() <= 8);
            // Every key the index knows reads back its own value, in place and by iteration.
            for (k, _, v) in t.iter() {
                assert_eq!(*v, k * 10);
                assert_eq!(t.get(k), Some(v));
            }
        }
        assert!(t.slots.len() <= 8, "slab grew to {}", t.slots.len());
        assert_eq!(t.remove(&99), Some(990));
        assert!(t.get(&99).is_none());
        t.insert(7, 70, 200);
        assert_eq!(t.get_key_value(&7), Some((&7, &70)));
    }
}
