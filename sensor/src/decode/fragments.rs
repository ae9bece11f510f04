//! Bounded IPv4/IPv6 fragment reassembly driven by packet time.
//!
//! Sets are keyed by (source, destination, protocol, identification); for IPv6 the protocol is
//! the fragment header's next-header value, which every fragment of a datagram carries.
//! Policy:
//! - overlapping fragments must agree byte for byte (the first copy wins, an identical copy is
//!   harmless); disagreeing overlap, a second or moved end, data past the end, or a datagram
//!   over 65 535 bytes drops the whole set (`FragmentDropped`);
//! - at most `max_fragment_sets` sets and `max_fragment_bytes` buffered bytes: the oldest sets
//!   are evicted to make room (`fragment_sets_evicted`); a datagram that cannot fit alone is
//!   dropped;
//! - a set is discarded once its first fragment is `fragment_timeout_ns` old in packet time
//!   (`fragments_expired`);
//! - non-final fragments must carry a non-zero multiple of 8 bytes (else `Malformed`).
//!
//! A completed datagram is moved out into [`FragTable::take_completed`]'s buffer; nothing is
//! copied on the way out.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::config::{DecodeConfig, DecodeStats};

/// Largest reassembled payload: offsets are 13 bits of 8-byte units, lengths 16 bits.
pub(crate) const MAX_DATAGRAM: usize = 65_535;

/// Most disjoint received ranges one set may hold; a sender spraying tiny out-of-order
/// fragments beyond this loses the datagram rather than making insertion quadratic.
pub(crate) const MAX_RANGES_PER_SET: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub id: u32,
}

/// One fragment: its payload `data` sits at byte `offset` of the datagram; `more` is the
/// more-fragments flag.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fragment<'b> {
    pub key: FragKey,
    pub offset: usize,
    pub more: bool,
    pub data: &'b [u8],
}

/// What inserting one fragment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FragOutcome {
    /// Stored; the datagram is not complete yet.
    Held,
    /// The datagram is complete and waiting in the completed buffer.
    Complete,
    /// The fragment (and its set, if any) was dropped: limit hit or inconsistent data.
    Dropped,
    /// The fragment itself is invalid (empty or misaligned non-final fragment).
    Malformed,
}

#[derive(Debug)]
struct FragSet {
    buf: Vec<u8>,
    /// Received byte ranges, sorted, disjoint and non-adjacent.
    have: Vec<(usize, usize)>,
    /// Datagram length, once the final fragment has been seen.
    total: Option<usize>,
    first_ts: u64,
    seq: u64,
}

impl FragSet {
    fn max_end(&self) -> usize {
        self.have.last().map_or(0, |r| r.1)
    }

    fn is_complete(&self) -> bool {
        matches!((self.total, self.have.as_slice()), (Some(t), [(0, e)]) if *e == t)
    }

    /// True when `data` at `offset` agrees with every byte already received.
    fn agrees(&self, offset: usize, data: &[u8]) -> bool {
        let end = offset.saturating_add(data.len());
        self.have.iter().all(|&(s, e)| {
            let lo = s.max(offset);
            let hi = e.min(end);
            lo >= hi
                || match (
                    self.buf.get(lo..hi),
                    data.get(lo.wrapping_sub(offset)..hi.wrapping_sub(offset)),
                ) {
                    (Some(old), Some(new)) => old == new,
                    _ => false,
                }
        })
    }

    /// Adds `[s, e)` to the received ranges, merging overlapping and adjacent ones.
    fn add_range(&mut self, s: usize, e: usize) {
        let i = self.have.partition_point(|r| r.1 < s);
        let mut j = i;
        let (mut ns, mut ne) = (s, e);
        while let Some(&(rs, re)) = self.have.get(j) {
            if rs > ne {
                break;
            }
            ns = ns.min(rs);
            ne = ne.max(re);
            j += 1;
        }
        self.have.splice(i..j, std::iter::once((ns, ne)));
    }
}

/// The reassembly table. Only touched for fragments (and one emptiness check per packet).
#[derive(Debug, Default)]
pub(crate) struct FragTable {
    sets: HashMap<FragKey, FragSet>,
    /// (first fragment time, creation sequence) → key: oldest first, for expiry and eviction.
    age: BTreeMap<(u64, u64), FragKey>,
    bytes: usize,
    next_seq: u64,
    completed: Vec<u8>,
}

impl FragTable {
    pub(crate) fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Swaps the last completed datagram into `out` (and `out`'s old buffer in, for reuse).
    pub(crate) fn take_completed(&mut self, out: &mut Vec<u8>) {
        std::mem::swap(&mut self.completed, out);
    }

    /// Discards sets whose first fragment is at least `fragment_timeout_ns` older than `now`.
    pub(crate) fn expire(&mut self, now: u64, cfg: &DecodeConfig, stats: &mut DecodeStats) {
        while let Some((&(ts, _), &key)) = self.age.first_key_value() {
            if ts.saturating_add(cfg.fragment_timeout_ns) > now {
                break;
            }
            self.remove(&key);
            stats.fragments_expired = stats.fragments_expired.wrapping_add(1);
        }
        self.publish(stats);
    }

    /// Stores one fragment.
    pub(crate) fn insert(
        &mut self,
        frag: Fragment<'_>,
        now: u64,
        cfg: &DecodeConfig,
        stats: &mut DecodeStats,
    ) -> FragOutcome {
        let outcome = self.insert_inner(frag, now, cfg, stats);
        self.publish(stats);
        outcome
    }

    fn insert_inner(
        &mut self,
        frag: Fragment<'_>,
        now: u64,
        cfg: &DecodeConfig,
        stats: &mut DecodeStats,
    ) -> FragOutcome {
        let Fragment {
            key,
            offset,
            more,
            data,
        } = frag;
        if more && (data.is_empty() || data.len() & 7 != 0) {
            return FragOutcome::Malformed;
        }
        let end = offset.saturating_add(data.len());
        if end > MAX_DATAGRAM {
            self.remove(&key);
            return FragOutcome::Dropped;
        }

        if !self.sets.contains_key(&key) {
            if cfg.max_fragment_sets == 0 {
                return FragOutcome::Dropped;
            }
            while self.sets.len() >= cfg.max_fragment_sets {
                if !self.evict_oldest_except(&key, stats) {
                    return FragOutcome::Dropped;
                }
            }
            let seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1);
            self.sets.insert(
                key,
                FragSet {
                    buf: Vec::new(),
                    have: Vec::new(),
                    total: None,
                    first_ts: now,
                    seq,
                },
            );
            self.age.insert((now, seq), key);
        }

        // Consistency with what the set already knows.
        let consistent = match self.sets.get(&key) {
            Some(set) => {
                let ends_ok = if more {
                    !matches!(set.total, Some(t) if end > t)
                } else {
                    !matches!(set.total, Some(t) if t != end) && set.max_end() <= end
                };
                ends_ok && set.agrees(offset, data) && set.have.len() < MAX_RANGES_PER_SET
            }
            None => false,
        };
        if !consistent {
            self.remove(&key);
            return FragOutcome::Dropped;
        }

        // Room for the bytes this fragment adds to the buffer.
        let grow = self
            .sets
            .get(&key)
            .map_or(0, |set| end.saturating_sub(set.buf.len()));
        if grow > 0 {
            while self.bytes.saturating_add(grow) > cfg.max_fragment_bytes {
                if !self.evict_oldest_except(&key, stats) {
                    self.remove(&key);
                    return FragOutcome::Dropped;
                }
            }
        }

        let Some(set) = self.sets.get_mut(&key) else {
            return FragOutcome::Dropped;
        };
        if grow > 0 {
            set.buf.resize(end, 0);
            self.bytes = self.bytes.saturating_add(grow);
        }
        if let Some(dst) = set.buf.get_mut(offset..end) {
            dst.copy_from_slice(data);
        }
        if !more {
            set.total = Some(end);
        }
        if end > offset {
            set.add_range(offset, end);
        }
        if !set.is_complete() {
            return FragOutcome::Held;
        }

        match self.remove(&key) {
            Some(mut set) => {
                if let Some(t) = set.total {
                    set.buf.truncate(t);
                }
                self.completed = set.buf;
                stats.fragments_reassembled = stats.fragments_reassembled.wrapping_add(1);
                FragOutcome::Complete
            }
            None => FragOutcome::Dropped,
        }
    }

    /// Evicts the oldest set other than `keep`; false when there is none.
    fn evict_oldest_except(&mut self, keep: &FragKey, stats: &mut DecodeStats) -> bool {
        let victim = self.age.values().find(|k| *k != keep).copied();
        match victim {
            Some(k) => {
                self.remove(&k);
                stats.fragment_sets_evicted = stats.fragment_sets_evicted.wrapping_add(1);
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, key: &FragKey) -> Option<FragSet> {
        let set = self.sets.remove(key)?;
        self.age.remove(&(set.first_ts, set.seq));
        self.bytes = self.bytes.saturating_sub(set.buf.len());
        Some(set)
    }

    fn publish(&self, stats: &mut DecodeStats) {
        stats.fragment_bytes_held = self.bytes as u64;
        stats.fragment_sets_held = self.sets.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            proto: 17,
            id,
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 3) as u8).collect()
    }

    struct T {
        t: FragTable,
        cfg: DecodeConfig,
        st: DecodeStats,
    }

    impl T {
        fn new(cfg: DecodeConfig) -> Self {
            T {
                t: FragTable::default(),
                cfg,
                st: DecodeStats::default(),
            }
        }
        fn ins(&mut self, id: u32, off: usize, more: bool, d: &[u8], now: u64) -> FragOutcome {
            let frag = Fragment {
                key: key(id),
                offset: off,
                more,
                data: d,
            };
            self.t.insert(frag, now, &self.cfg, &mut self.st)
        }
        fn done(&mut self) -> Vec<u8> {
            let mut v = Vec::new();
            self.t.take_completed(&mut v);
            v
        }
    }

    #[test]
    fn in_order_reversed_and_shuffled_complete() {
        let d = data(40);
        for order in [[0usize, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
            let mut t = T::new(DecodeConfig::default());
            let mut last = FragOutcome::Held;
            for (n, &i) in order.iter().enumerate() {
                let (s, e) = [(0, 16), (16, 32), (32, 40)][i];
                last = t.ins(1, s, i != 2, &d[s..e], 1);
                if n < 2 {
                    assert_eq!(last, FragOutcome::Held, "order {order:?}");
                }
            }
            assert_eq!(last, FragOutcome::Complete);
            assert_eq!(t.done(), d);
            assert_eq!(t.st.fragments_reassembled, 1);
            assert_eq!(t.st.fragment_bytes_held, 0);
            assert_eq!(t.st.fragment_sets_held, 0);
            assert!(t.t.is_empty());
        }
    }

    #[test]
    fn consistent_overlap_is_accepted() {
        let d = data(48);
        let mut t = T::new(DecodeConfig::default());
        assert_eq!(t.ins(1, 0, true, &d[0..24], 1), FragOutcome::Held);
        assert_eq!(t.ins(1, 16, true, &d[16..40], 1), FragOutcome::Held);
        assert_eq!(t.ins(1, 8, true, &d[8..16], 1), FragOutcome::Held);
        assert_eq!(t.ins(1, 32, false, &d[32..48], 1), FragOutcome::Complete);
        assert_eq!(t.done(), d);
    }

    #[test]
    fn inconsistent_overlap_drops_the_set() {
        let d = data(48);
        let mut t = T::new(DecodeConfig::default());
        assert_eq!(t.ins(1, 0, true, &d[0..24], 1), FragOutcome::Held);
        let mut bad = d[16..40].to_vec();
        bad[3] ^= 0xff;
        assert_eq!(t.ins(1, 16, true, &bad, 1), FragOutcome::Dropped);
        assert!(t.t.is_empty());
        assert_eq!(t.st.fragment_bytes_held, 0);
        // The rest of the datagram now starts a fresh set that never completes.
        assert_eq!(t.ins(1, 40, false, &d[40..48], 1), FragOutcome::Held);
    }

    #[test]
    fn conflicting_ends_drop_the_set() {
        let d = data(48);
        let mut t = T::new(DecodeConfig::default());
        assert_eq!(t.ins(1, 32, false, &d[32..48], 1), FragOutcome::Held);
        // the same end again is harmless, a different end is not
        assert_eq!(t.ins(1, 40, false, &d[40..48], 1), FragOutcome::Held);
        assert_eq!(t.ins(1, 8, false, &d[8..16], 1), FragOutcome::Dropped);
        let mut t = T::new(DecodeConfig::default());
        assert_eq!(t.ins(1, 16, false, &d[16..32], 1), FragOutcome::Held);
        assert_eq!(t.ins(1, 32, true, &d[32..48], 1), FragOutcome::Dropped);
        let mut t = T::new(DecodeConfig::default());
        assert_eq!(t.ins(1, 16, true, &d[16..32], 1), FragOutcome::Held);
        assert_eq!(t.ins(1, 0, false, &d[0..8], 1), FragOutcome::Dropped);
    }

    #[test]
    fn bad_fragment_shapes() {
        let mut t = T::new(DecodeConfig::default());
        assert_eq!(t.ins(1, 0, true, &[], 1), FragOutcome::Malformed);
        assert_eq!(t.ins(1, 0, true, &[1, 2, 3], 1), FragOutcome::Malformed);
        assert_eq!(t.ins(1, 65_528, false, &data(16), 1), FragOutcome::Dropped);
        assert!(t.t.is_empty());
    }

    #[test]
    fn expiry_runs_on_packet_time() {
        let d = data(16);
        let cfg = DecodeConfig {
            fragment_timeout_ns: 100,
            ..DecodeConfig::default()
        };
        let mut t = T::new(cfg);
        assert_eq!(t.ins(1, 0, true, &d[0..8], 1_000), FragOutcome::Held);
        assert_eq!(t.ins(2, 0, true, &d[0..8], 1_050), FragOutcome::Held);
        t.t.expire(1_099, &t.cfg, &mut t.st);
        assert_eq!(t.st.fragments_expired, 0);
        t.t.expire(1_100, &t.cfg, &mut t.st);
        assert_eq!(t.st.fragments_expired, 1);
        assert_eq!(t.st.fragment_sets_held, 1);
        // set 1 is gone: its tail alone does not complete anything
        assert_eq!(t.ins(1, 8, false, &d[8..16], 1_100), FragOutcome::Held);
        // set 2 is still there
        assert_eq!(t.ins(2, 8, false, &d[8..16], 1_100), FragOutcome::Complete);
        t.t.expire(10_000, &t.cfg, &mut t.st);
        assert_eq!(t.st.fragments_expired, 2);
        assert!(t.t.is_empty());
    }

    #[test]
    fn set_limit_evicts_oldest() {
        let d = data(16);
        let cfg = DecodeConfig {
            max_fragment_sets: 2,
            ..DecodeConfig::default()
        };
        let mut t = T::new(cfg);
        assert_eq!(t.ins(1, 0, true, &d[0..8], 1), FragOutcome::Held);
        assert_eq!(t.ins(2, 0, true, &d[0..8], 2), FragOutcome::Held);
        assert_eq!(t.ins(3, 0, true, &d[0..8], 3), FragOutcome::Held);
        assert_eq!(t.st.fragment_sets_evicted, 1);
        assert_eq!(t.st.fragment_sets_held, 2);
        assert_eq!(t.ins(1, 8, false, &d[8..16], 4), FragOutcome::Held); // 1 was evicted
        assert_eq!(t.st.fragment_sets_evicted, 2); // ... and re-creating it evicted 2
        assert_eq!(t.ins(3, 8, false, &d[8..16], 5), FragOutcome::Complete);
    }

    #[test]
    fn byte_limit_evicts_then_drops() {
        let d = data(64);
        let cfg = DecodeConfig {
            max_fragment_bytes: 32,
            ..DecodeConfig::default()
        };
        let mut t = T::new(cfg);
        assert_eq!(t.ins(1, 0, true, &d[0..24], 1), FragOutcome::Held);
        assert_eq!(t.st.fragment_bytes_held, 24);
        assert_eq!(t.ins(2, 0, true, &d[0..16], 2), FragOutcome::Held);
        assert_eq!(t.st.fragment_sets_evicted, 1);
        assert_eq!(t.st.fragment_bytes_held, 16);
        // A datagram larger than the whole budget cannot be held.
        assert_eq!(t.ins(3, 40, false, &d[40..64], 3), FragOutcome::Dropped);
        assert_eq!(t.st.fragment_sets_evicted, 2);
        assert_eq!(t.st.fragment_bytes_held, 0);
        let cfg0 = DecodeConfig {
            max_fragment_sets: 0,
            ..DecodeConfig::default()
        };
        let mut t = T::new(cfg0);
        assert_eq!(t.ins(1, 0, true, &d[0..8], 1), FragOutcome::Dropped);
    }

    #[test]
    fn range_merging() {
        let mut s = FragSet {
            buf: Vec::new(),
            have: Vec::new(),
            total: None,
            first_ts: 0,
            seq: 0,
        };
        s.add_range(16, 24);
        s.add_range(0, 8);
        s.add_range(40, 48);
        assert_eq!(s.have, [(0, 8), (16, 24), (40, 48)]);
        s.add_range(8, 16);
        assert_eq!(s.have, [(0, 24), (40, 48)]);
        s.add_range(20, 44);
        assert_eq!(s.have, [(0, 48)]);
        s.add_range(0, 8);
        assert_eq!(s.have, [(0, 48)]);
    }

    #[test]
    fn too_many_holes_drops() {
        let mut t = T::new(DecodeConfig::default());
        let d = [0u8; 8];
        let mut out = FragOutcome::Held;
        for i in 0..=MAX_RANGES_PER_SET {
            out = t.ins(1, i * 16, true, &d, 1);
            if out != FragOutcome::Held {
                break;
            }
        }
        assert_eq!(out, FragOutcome::Dropped);
        assert!(t.t.is_empty());
    }
}
