//! Values a full scan found nothing in, remembered exactly so a repeat skips the scan.
//!
//! API traffic repeats most of its values: every request of a client carries the same user
//! agent, `Accept` and `Content-Type`, and many query and body values recur (`limit=20`,
//! `"status":"active"`). A parameter's scan is a pure function of its place, name and value
//! (the engine's settings are fixed), so a value that produced no candidate once produces
//! none again: the memo returns that answer without normalising, gating and matching again.
//!
//! Exact, not probabilistic: each entry keeps the whole key (place, name, value), so a value
//! whose hash collides with a clean one is scanned, never waved through. Bounded: at most
//! `capacity` entries of at most `max_value_bytes` (name and value together) each; when full it is emptied (counted).
//! Values whose scan decoded base64 are not remembered, so the counters stay what an
//! unmemoised scan would count. Per worker (it is mutable), owned by the injection detector.
//!
//! Each entry also keeps the value's [`ValueFacts`] (shape, length, enum hash), which the
//! endpoint profiles learn from: a repeated value is neither scanned nor classified again.

use super::extract::Param;
use super::profile::ValueFacts;
use crate::hashing::{fixed, Fixed};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// Bounded memo of clean (place, name, value) keys.
#[derive(Debug)]
pub struct CleanValues {
    entries: HashMap<u64, (Box<[u8]>, ValueFacts), Fixed>,
    capacity: usize,
    max_value_bytes: usize,
    /// The hash of the key [`CleanValues::is_clean`] last looked up and missed, for
    /// [`CleanValues::remember_last`].
    missed: Option<u64>,
    /// The request being scanned: each parameter's facts, when the memo knew or learned
    /// them (filled by the detector's scan, read by its profile learning; reused).
    pub(crate) facts: Vec<Option<ValueFacts>>,
    /// Parameters whose scan was skipped because their value was known clean.
    pub hits: u64,
    /// Times the full memo was emptied.
    pub resets: u64,
}

impl CleanValues {
    /// A memo of at most `capacity` parameters whose name and value together are at most
    /// `max_value_bytes` long (a capacity of 0 disables it).
    pub fn new(capacity: usize, max_value_bytes: usize) -> Self {
        CleanValues {
            entries: HashMap::with_hasher(fixed()),
            capacity,
            max_value_bytes,
            missed: None,
            facts: Vec::new(),
            hits: 0,
            resets: 0,
        }
    }

    /// Whether `p` can be remembered: the memo is on and its name and value together fit.
    fn fits(&self, p: &Param<'_>) -> bool {
        self.capacity > 0 && p.name.len() + p.value.len() <= self.max_value_bytes
    }

    /// The hash of `p`'s key, fed piece by piece (no key is built to look one up).
    fn hash(&self, p: &Param<'_>) -> u64 {
        let mut h = self.entries.hasher().build_hasher();
        h.write_u8(p.place as u8);
        h.write(p.name.as_bytes());
        h.write_u8(KEY_SEPARATOR);
        h.write(&p.value);
        h.finish()
    }

    /// The facts of `p`'s value when `p` is known clean (counted as a hit). A miss keeps
    /// the key's hash for [`CleanValues::remember_last`].
    pub fn is_clean(&mut self, p: &Param<'_>) -> Option<ValueFacts> {
        self.missed = None;
        if !self.fits(p) {
            return None;
        }
        let h = self.hash(p);
        let hit = self
            .entries
            .get(&h)
            .filter(|(k, _)| key_is(k, p))
            .map(|&(_, facts)| facts);
        self.hits += u64::from(hit.is_some());
        if hit.is_none() {
            self.missed = Some(h);
        }
        hit
    }

    /// Remembers that a full scan found nothing in `p`, the parameter
    /// [`CleanValues::is_clean`] last missed, with its value's `facts` (nothing when it was
    /// too long to remember).
    pub fn remember_last(&mut self, p: &Param<'_>, facts: ValueFacts) {
        let Some(h) = self.missed.take() else {
            return;
        };
        debug_assert_eq!(
            h,
            self.hash(p),
            "remember_last is given the parameter that missed"
        );
        if self.entries.len() >= self.capacity {
            self.entries.clear();
            self.resets += 1;
        }
        let mut key = Vec::with_capacity(2 + p.name.len() + p.value.len());
        key.push(p.place as u8);
        key.extend_from_slice(p.name.as_bytes());
        key.push(KEY_SEPARATOR);
        key.extend_from_slice(&p.value);
        self.entries.insert(h, (key.into_boxed_slice(), facts));
    }
}

/// Between a key's name and value: a byte no UTF-8 name holds.
const KEY_SEPARATOR: u8 = 0xff;

/// Whether the stored `key` is `p`'s (place, name, separator, value), compared piece by piece.
fn key_is(key: &[u8], p: &Param<'_>) -> bool {
    let name = p.name.as_bytes();
    key.len() == 2 + name.len() + p.value.len()
        && key[0] == p.place as u8
        && key[1..1 + name.len()] == *name
        && key[1 + name.len()] == KEY_SEPARATOR
        && key[2 + name.len()..] == *p.value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::extract::Place;
    use std::borrow::Cow;

    fn param<'a>(place: Place, name: &'a str, value: &'a [u8]) -> Param<'a> {
        Param {
            place,
            name: Cow::Borrowed(name),
            value: Cow::Borrowed(value),
        }
    }

    #[test]
    fn remembers_exact_keys_within_bounds() {
        let mut m = CleanValues::new(2, 20);
        let ua = param(Place::Header, "user-agent", b"curl/8");
        assert!(m.is_clean(&ua).is_none());
        m.remember_last(&ua, ValueFacts::of(b"curl/8"));
        assert_eq!(m.is_clean(&ua), Some(ValueFacts::of(b"curl/8")));
        // A hit leaves nothing to remember.
        m.remember_last(&ua, ValueFacts::of(b"x"));
        assert_eq!(m.is_clean(&ua), Some(ValueFacts::of(b"curl/8")));
        // Same value under another name or place is another key, and so is the same bytes
        // split differently between name and value.
        assert!(m
            .is_clean(&param(Place::Header, "user-agen", b"tcurl/8"))
            .is_none());
        assert!(m
            .is_clean(&param(Place::Header, "referer", b"curl/8"))
            .is_none());
        assert!(m
            .is_clean(&param(Place::Query, "user-agent", b"curl/8"))
            .is_none());
        // Too long to remember (name and value together).
        let long = param(Place::Query, "q", b"12345678901234567890");
        assert!(m.is_clean(&long).is_none());
        m.remember_last(&long, ValueFacts::of(b"x"));
        assert!(m.is_clean(&long).is_none());
        // Full: emptied, counted.
        let (a, b) = (
            param(Place::Query, "a", b"1"),
            param(Place::Query, "b", b"2"),
        );
        m.is_clean(&a);
        m.remember_last(&a, ValueFacts::of(b"x"));
        m.is_clean(&b);
        m.remember_last(&b, ValueFacts::of(b"x"));
        assert_eq!(m.resets, 1);
        assert!(m.is_clean(&ua).is_none());
        assert_eq!(m.hits, 2);
        // Off.
        let mut off = CleanValues::new(0, 20);
        assert!(off.is_clean(&ua).is_none());
        off.remember_last(&ua, ValueFacts::of(b"x"));
        assert!(off.is_clean(&ua).is_none());
    }
}
