//! Learned per-endpoint, per-parameter value profiles, so that a parameter that always carries
//! free text (search boxes, comments, markdown, code) is judged by a stricter bar than an id
//! or an enum, and a typed parameter carrying something of another shape is judged by a
//! looser one.
//!
//! Feed benign values with [`EndpointProfile::observe`]; the detector reads
//! [`ParamProfile::learned`]. Memory is bounded: a profile is a fixed-size struct (kind
//! counts, length statistics and at most [`MAX_ENUM_VALUES`] value
//! hashes), and an endpoint keeps at most [`ProfileLimits::max_params`] parameters (new ones
//! beyond that are counted in `dropped_params`, not stored).

use super::extract::Place;
use crate::hashing::{fixed, Fixed};
use std::collections::HashMap;

/// Distinct values remembered per parameter for enum detection.
pub const MAX_ENUM_VALUES: usize = 16;

/// The shape of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    Int,
    Uuid,
    Hex,
    Email,
    Url,
    /// Identifier-like: letters, digits, `-_.:`, no spaces.
    Word,
    /// Long opaque token (base64, JWT, …).
    Token,
    /// Prose, markdown, code: spaces and punctuation.
    FreeText,
}

const KINDS: usize = 8;

impl ValueKind {
    fn index(self) -> usize {
        self as usize
    }
    fn from_index(i: usize) -> ValueKind {
        [
            ValueKind::Int,
            ValueKind::Uuid,
            ValueKind::Hex,
            ValueKind::Email,
            ValueKind::Url,
            ValueKind::Word,
            ValueKind::Token,
            ValueKind::FreeText,
        ][i.min(KINDS - 1)]
    }
}

/// What a profile has learned about a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// A typed parameter: almost every value had this shape.
    Typed(ValueKind),
    /// A handful of distinct values.
    Enum,
    /// Free text: prose, markdown, code. Judged strictly.
    FreeText,
    /// Mixed shapes.
    Mixed,
}

/// Classifies one value's shape.
pub fn classify(v: &[u8]) -> ValueKind {
    let v = v.trim_ascii();
    let digits = v.strip_prefix(b"-").unwrap_or(v);
    if !digits.is_empty() && digits.len() <= 20 && digits.iter().all(u8::is_ascii_digit) {
        return ValueKind::Int;
    }
    if v.len() == 36
        && v.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    {
        return ValueKind::Uuid;
    }
    if v.len() >= 8 && v.iter().all(u8::is_ascii_hexdigit) {
        return ValueKind::Hex;
    }
    let has_space = v.contains(&b' ');
    if !has_space && v.starts_with(b"http://") || v.starts_with(b"https://") {
        return ValueKind::Url;
    }
    if !has_space {
        if let Some(at) = memchr::memchr(b'@', v) {
            if at > 0 && v[at..].contains(&b'.') && memchr::memrchr(b'@', v) == Some(at) {
                return ValueKind::Email;
            }
        }
        let mixed = v.iter().any(u8::is_ascii_uppercase) && v.iter().any(u8::is_ascii_digit);
        if v.len() >= 24
            && mixed
            && v.iter().all(|&c| {
                c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'=' | b'.' | b'/' | b'+')
            })
        {
            return ValueKind::Token;
        }
        if v.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'))
        {
            return ValueKind::Word;
        }
        if v.len() >= 16
            && v.iter().all(|&c| {
                c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'=' | b'.' | b'/' | b'+')
            })
        {
            return ValueKind::Token;
        }
    }
    ValueKind::FreeText
}

/// Bounds on learning.
#[derive(Debug, Clone, Copy)]
pub struct ProfileLimits {
    /// Parameters remembered per endpoint.
    pub max_params: usize,
    /// Values seen before a profile says anything.
    pub min_samples: u32,
}

impl Default for ProfileLimits {
    fn default() -> Self {
        ProfileLimits {
            max_params: 128,
            min_samples: 20,
        }
    }
}

/// One parameter's learned profile (fixed size).
#[derive(Debug, Clone, Default)]
pub struct ParamProfile {
    pub samples: u32,
    kinds: [u32; KINDS],
    pub min_len: u32,
    pub max_len: u32,
    sum_len: u64,
    enum_hashes: [u64; MAX_ENUM_VALUES],
    enum_len: u8,
    enum_overflow: bool,
}

fn fnv(v: &[u8]) -> u64 {
    v.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// What a profile learns from one value, a pure function of the value: computed once and
/// remembered with it (the clean-value memo keeps it, so a repeated value is not classified
/// and hashed again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueFacts {
    pub len: u32,
    pub kind: ValueKind,
    /// The value's hash for enum detection.
    pub hash: u64,
}

impl ValueFacts {
    pub fn of(v: &[u8]) -> ValueFacts {
        ValueFacts {
            len: u32::try_from(v.len()).unwrap_or(u32::MAX),
            kind: classify(v),
            hash: fnv(v),
        }
    }
}

impl ParamProfile {
    /// Learns from one benign value.
    pub fn observe(&mut self, v: &[u8]) {
        self.observe_facts(&ValueFacts::of(v));
    }

    /// Learns from one benign value, given its facts.
    pub fn observe_facts(&mut self, f: &ValueFacts) {
        let len = f.len;
        if self.samples == 0 || len < self.min_len {
            self.min_len = len;
        }
        self.max_len = self.max_len.max(len);
        self.samples = self.samples.saturating_add(1);
        self.sum_len = self.sum_len.saturating_add(u64::from(len));
        let k = f.kind.index();
        self.kinds[k] = self.kinds[k].saturating_add(1);
        if !self.enum_overflow {
            let h = f.hash;
            let n = usize::from(self.enum_len);
            if !self.enum_hashes[..n].contains(&h) {
                if n < MAX_ENUM_VALUES && len <= 64 {
                    self.enum_hashes[n] = h;
                    self.enum_len += 1;
                } else {
                    self.enum_overflow = true;
                }
            }
        }
    }

    pub fn mean_len(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.sum_len as f64 / f64::from(self.samples)
        }
    }

    /// What the profile says, once it has seen `min_samples` values.
    pub fn learned(&self, min_samples: u32) -> Option<Learned> {
        if self.samples < min_samples {
            return None;
        }
        let total = self.samples;
        let free = self.kinds[ValueKind::FreeText.index()];
        if u64::from(free) * 10 >= u64::from(total) * 3 {
            return Some(Learned::FreeText);
        }
        if !self.enum_overflow && self.enum_len > 0 {
            return Some(Learned::Enum);
        }
        let (i, &top) = self
            .kinds
            .iter()
            .enumerate()
            .max_by_key(|(_, &c)| c)
            .unwrap_or((0, &0));
        if u64::from(top) * 100 >= u64::from(total) * 95 {
            return Some(Learned::Typed(ValueKind::from_index(i)));
        }
        Some(Learned::Mixed)
    }

    /// Whether `v` fits what was learned (same kind for typed, a known value for enums).
    pub fn fits(&self, v: &[u8], min_samples: u32) -> bool {
        match self.learned(min_samples) {
            Some(Learned::Typed(k)) => classify(v) == k,
            Some(Learned::Enum) => self.enum_hashes[..usize::from(self.enum_len)].contains(&fnv(v)),
            _ => true,
        }
    }
}

/// The profiles of one endpoint's parameters, keyed by name and then place (a name is
/// rarely used in more than one place), so that a look-up borrows the name instead of
/// building a key.
#[derive(Debug, Clone, Default)]
pub struct EndpointProfile {
    params: HashMap<String, Vec<(Place, ParamProfile)>, Fixed>,
    /// Parameters remembered, over all names and places.
    count: usize,
    pub limits: ProfileLimits,
    /// Parameters not remembered because the endpoint was full.
    pub dropped_params: u64,
}

impl EndpointProfile {
    pub fn new(limits: ProfileLimits) -> Self {
        EndpointProfile {
            params: HashMap::with_hasher(fixed()),
            count: 0,
            limits,
            dropped_params: 0,
        }
    }

    /// Learns one benign value of one parameter.
    pub fn observe(&mut self, place: Place, name: &str, value: &[u8]) {
        self.observe_facts(place, name, &ValueFacts::of(value));
    }

    /// Learns one benign value of one parameter, given the value's facts.
    pub fn observe_facts(&mut self, place: Place, name: &str, value: &ValueFacts) {
        let full = self.count >= self.limits.max_params;
        if let Some(places) = self.params.get_mut(name) {
            if let Some((_, p)) = places.iter_mut().find(|(pl, _)| *pl == place) {
                p.observe_facts(value);
                return;
            }
            if full {
                self.dropped_params = self.dropped_params.saturating_add(1);
                return;
            }
            let mut p = ParamProfile::default();
            p.observe_facts(value);
            places.push((place, p));
            self.count += 1;
            return;
        }
        if full {
            self.dropped_params = self.dropped_params.saturating_add(1);
            return;
        }
        let mut p = ParamProfile::default();
        p.observe_facts(value);
        self.params.insert(name.to_string(), vec![(place, p)]);
        self.count += 1;
    }

    pub fn get(&self, place: Place, name: &str) -> Option<&ParamProfile> {
        self.params
            .get(name)?
            .iter()
            .find(|(pl, _)| *pl == place)
            .map(|(_, p)| p)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(classify(b"12345"), ValueKind::Int);
        assert_eq!(
            classify(b"0b7c9c0e-6e3a-4e55-a0a5-2f7c6f8e1c11"),
            ValueKind::Uuid
        );
        assert_eq!(classify(b"deadbeef00"), ValueKind::Hex);
        assert_eq!(classify(b"a.b@example.com"), ValueKind::Email);
        assert_eq!(classify(b"https://x.io/a"), ValueKind::Url);
        assert_eq!(classify(b"pro-plan"), ValueKind::Word);
        assert_eq!(
            classify(b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc"),
            ValueKind::Token
        );
        assert_eq!(classify(b"select a plan"), ValueKind::FreeText);
    }

    #[test]
    fn learning_and_bounds() {
        let mut e = EndpointProfile::new(ProfileLimits {
            max_params: 2,
            min_samples: 5,
        });
        for i in 0..10 {
            e.observe(Place::Query, "id", i.to_string().as_bytes());
            e.observe(Place::Query, "q", format!("some words {i}").as_bytes());
            e.observe(Place::Query, "third", b"x");
        }
        assert_eq!(e.len(), 2);
        assert_eq!(e.dropped_params, 10);
        let id = e.get(Place::Query, "id").unwrap();
        assert_eq!(id.learned(5), Some(Learned::Enum));
        let q = e.get(Place::Query, "q").unwrap();
        assert_eq!(q.learned(5), Some(Learned::FreeText));
        let mut p = ParamProfile::default();
        for i in 0..100 {
            p.observe(format!("{}", i * 7919).as_bytes());
        }
        assert_eq!(p.learned(20), Some(Learned::Typed(ValueKind::Int)));
        assert!(p.fits(b"42", 20));
        assert!(!p.fits(b"42' or 1=1", 20));
        assert!(std::mem::size_of::<ParamProfile>() < 256);
    }
}
