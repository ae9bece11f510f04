//! Property tests of the flow table against a dumb model.
//!
//! 1. Differential: two random byte streams (one per direction), cut into random segments,
//!    with exact duplicates and consistent overlapping re-sends added, reordered within a
//!    bounded distance, sent after a handshake whose ISNs sit just below `u32::MAX` (so the
//!    sequence space wraps) and before the FINs — the bytes delivered per direction must equal
//!    the original streams exactly, with no gap and no anomaly.
//! 2. Robustness: arbitrary segments (random flags, sequence numbers near a few bases,
//!    payloads) among a few endpoints with tight limits never panic, every opened sink is
//!    closed exactly once by the end, and every gauge returns to zero.

use super::tests::{ip, Harness, S};
use super::*;
use crate::decode::tcp_flags::{ACK, FIN, PSH, RST, SYN};
use proptest::prelude::*;

/// Small deterministic generator driven by a proptest-chosen seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    dir: usize,
    off: usize,
    len: usize,
}

/// The segments of both streams, with duplicates and overlapping re-sends, in a random
/// interleaving reordered by at most `max_disp` positions.
fn schedule(lens: [usize; 2], rng: &mut Rng, max_seg: usize, max_disp: usize) -> Vec<Piece> {
    let mut per_dir: [Vec<Piece>; 2] = [Vec::new(), Vec::new()];
    for (dir, &len) in lens.iter().enumerate() {
        let mut off = 0;
        while off < len {
            let l = rng.range(1, max_seg).min(len - off);
            per_dir[dir].push(Piece { dir, off, len: l });
            off += l;
        }
    }
    // Random interleaving of the two directions, each in order.
    let mut order = Vec::new();
    let (mut i0, mut i1) = (0, 0);
    while i0 < per_dir[0].len() || i1 < per_dir[1].len() {
        let take0 = i1 >= per_dir[1].len() || (i0 < per_dir[0].len() && rng.next() & 1 == 0);
        if take0 {
            order.push(per_dir[0][i0]);
            i0 += 1;
        } else {
            order.push(per_dir[1][i1]);
            i1 += 1;
        }
    }
    // Exact duplicates and consistent overlapping re-sends, inserted at random places.
    let extras = order.len() / 3 + 1;
    for _ in 0..extras {
        if order.is_empty() {
            break;
        }
        let p = if rng.next() & 1 == 0 {
            order[rng.range(0, order.len() - 1)]
        } else {
            let dir = rng.range(0, 1);
            if lens[dir] == 0 {
                continue;
            }
            let off = rng.range(0, lens[dir] - 1);
            let len = rng.range(1, (lens[dir] - off).min(2 * max_seg));
            Piece { dir, off, len }
        };
        let at = rng.range(0, order.len());
        order.insert(at, p);
    }
    // Bounded reordering: sort by position plus a random displacement.
    let mut keyed: Vec<(usize, usize, Piece)> = order
        .into_iter()
        .enumerate()
        .map(|(i, p)| (i + rng.range(0, max_disp), i, p))
        .collect();
    keyed.sort_by_key(|k| (k.0, k.1));
    keyed.into_iter().map(|k| k.2).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn random_segmentation_reordering_and_resends_reassemble_exactly(
        a in proptest::collection::vec(any::<u8>(), 0..3000),
        b in proptest::collection::vec(any::<u8>(), 0..3000),
        ci_back in 0u32..4000,
        si_back in 0u32..4000,
        max_seg in 1usize..300,
        max_disp in 0usize..12,
        seed in any::<u64>(),
    ) {
        let streams = [a, b];
        let isn = [u32::MAX - ci_back, u32::MAX - si_back];
        let first = [isn[0].wrapping_add(1), isn[1].wrapping_add(1)];
        let mut rng = Rng(seed);
        let plan = schedule([streams[0].len(), streams[1].len()], &mut rng, max_seg, max_disp);

        let mut h = Harness::new(FlowConfig::default());
        h.handshake(isn[0], isn[1]);
        // What each side has received so far (contiguous prefix), for honest ACKs.
        let mut covered = [vec![false; streams[0].len()], vec![false; streams[1].len()]];
        let mut prefix = [0usize; 2];
        for p in &plan {
            let peer = 1 - p.dir;
            let ack = first[peer].wrapping_add(prefix[peer] as u32);
            let seq = first[p.dir].wrapping_add(p.off as u32);
            let data = &streams[p.dir][p.off..p.off + p.len];
            if p.dir == 0 {
                h.c(seq, ack, ACK | PSH, data);
            } else {
                h.s(seq, ack, ACK | PSH, data);
            }
            covered[p.dir][p.off..p.off + p.len].iter_mut().for_each(|c| *c = true);
            while prefix[p.dir] < covered[p.dir].len() && covered[p.dir][prefix[p.dir]] {
                prefix[p.dir] += 1;
            }
        }
        let end = [
            first[0].wrapping_add(streams[0].len() as u32),
            first[1].wrapping_add(streams[1].len() as u32),
        ];
        h.c(end[0], end[1], ACK | FIN, b"");
        h.s(end[1], end[0].wrapping_add(1), ACK | FIN, b"");
        h.c(end[0].wrapping_add(1), end[1].wrapping_add(1), ACK, b"");

        let l = h.only();
        prop_assert_eq!(&l.to_server, &streams[0]);
        prop_assert_eq!(&l.to_client, &streams[1]);
        prop_assert!(l.gaps.is_empty(), "gaps {:?}", l.gaps);
        prop_assert!(l.anomalies.is_empty(), "anomalies {:?}", l.anomalies);
        prop_assert_eq!(l.fins.len(), 2);
        prop_assert_eq!(l.close.map(|c| c.0), Some(CloseReason::Fin));
        prop_assert!(!l.info.midstream);
        let st = h.t.stats();
        prop_assert_eq!(st.gaps, 0);
        prop_assert_eq!(st.ooo_bytes_current, 0);
        prop_assert_eq!(st.overlaps_inconsistent, 0);
        prop_assert_eq!(st.bytes_delivered, (streams[0].len() + streams[1].len()) as u64);
    }

    #[test]
    fn arbitrary_segments_never_panic_and_always_close(
        segs in proptest::collection::vec(
            (0u16..6, any::<bool>(), any::<bool>(), 0usize..12, 0u32..4000, 0u32..4000, any::<u32>(),
             proptest::collection::vec(any::<u8>(), 0..300), 0u64..3_000_000_000u64),
            1..150),
    ) {
        let cfg = FlowConfig {
            max_flows: 4,
            memcap_bytes: 4 * FlowTable::<super::tests::TestSink>::FLOW_OVERHEAD + 2500,
            max_ooo_bytes_per_direction: 600,
            max_ooo_segments_per_direction: 5,
            idle_timeout_ns: 20 * S,
            handshake_timeout_ns: 5 * S,
            closed_linger_ns: S,
            overlap_check_bytes: 64,
        };
        let mut h = Harness::new(cfg);
        h.rec.sink_mem = 300;
        let flag_choices = [ACK, ACK | PSH, ACK | PSH, ACK | PSH, ACK, SYN, SYN | ACK, ACK | FIN, RST, RST | ACK, 0];
        // Per direction a sequence base near the wrap, so most segments are close together.
        let bases = [u32::MAX - 1500, 0x7fff_f000];
        for (port, to_server, alt_server, fl, delta, ack_delta, rnd, payload, dt) in segs {
            let cli = (ip("10.9.0.1"), 40000 + port);
            let srv = (ip("10.9.0.2"), if alt_server { 8080 } else { 80 });
            let (from, to, dir) = if to_server { (cli, srv, 0) } else { (srv, cli, 1) };
            let flags = if fl < flag_choices.len() { flag_choices[fl] } else { (rnd >> 24) as u8 & 0x1f };
            let seq = if fl == 11 { rnd } else { bases[dir].wrapping_add(delta) };
            let ack = bases[1 - dir].wrapping_add(ack_delta);
            h.ts += dt;
            h.send(from, to, seq, ack, flags, &payload);
            if dt > 1_000_000_000 {
                h.t.expire(h.ts, &mut h.rec);
            }
            prop_assert!(h.t.len() <= 4);
        }
        h.flush();
        prop_assert!(h.t.is_empty());
        prop_assert_eq!(h.t.memory_bytes(), 0);
        let st = h.t.stats().clone();
        prop_assert_eq!(st.ooo_bytes_current, 0);
        prop_assert_eq!(st.flows_active, 0);
        prop_assert_eq!(st.flows_lingering, 0);
        let closed: u64 = st.flows_closed_by_reason.iter().sum();
        prop_assert_eq!(closed, st.flows_created);
        for l in h.rec.flows.values() {
            prop_assert!(l.close.is_some(), "flow {} never closed", l.info.flow_id);
        }
    }
}
