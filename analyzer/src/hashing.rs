//! The analyzer's one hasher: fast, well mixed (HyperLogLog reads its top bits), and keyed
//! with a fixed seed so the same input gives the same tables, evictions and alerts on every
//! run (replays are deterministic).

use std::hash::{BuildHasher, Hash};

/// Build-hasher for every analyzer map and sketch.
pub type Fixed = foldhash::quality::FixedState;

/// The fixed seed.
const SEED: u64 = 0x6170_6974_6170_2d31; // "apitap-1"

/// A hasher builder with the analyzer's seed.
pub fn fixed() -> Fixed {
    Fixed::with_seed(SEED)
}

/// The 64-bit hash of `v`.
pub fn hash64<T: Hash + ?Sized>(v: &T) -> u64 {
    fixed().hash_one(v)
}
