//! The [`Decoder`]: one call per packet, link layer to TCP segment.
//!
//! The header walkers in `link`, `ip` and `tunnels` are free functions over a [`Ctx`] (config,
//! counters, fragment table) that return a [`Step`]: a TCP segment borrowing the bytes they
//! were given, a skip reason, or — when a fragment completed a datagram — a [`Resume`] point.
//! On `Resume` the decoder moves the reassembled datagram into its own buffer and continues
//! from the transport layer there; the returned segment then borrows that buffer. This keeps
//! the common path (no fragments) free of allocation and copying, and keeps borrows simple.

use std::ops::Range;

use super::config::{DecodeConfig, DecodeStats, TUNNEL_DEPTH_CEILING};
use super::fragments::FragTable;
use super::ip::{self, IpCtx};
use super::link;
use super::types::{Decoded, SkipReason, TcpSegment, TunnelInfo, TunnelKind};

/// Mutable state the header walkers share for one packet.
pub(crate) struct Ctx<'c> {
    pub cfg: &'c DecodeConfig,
    pub stats: &'c mut DecodeStats,
    pub frags: &'c mut FragTable,
    pub ts_ns: u64,
}

/// Most link-layer re-entries (Ethernet inside an MPLS pseudowire) that are not tunnels.
pub(crate) const MAX_LINK_NESTING: u8 = 8;

/// What the layers above the current header contributed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Layer {
    /// Innermost VLAN id seen so far (outer frames included).
    pub vlan: Option<u16>,
    /// Innermost tunnel entered so far.
    pub tunnel: Option<TunnelInfo>,
    /// Tunnel layers entered.
    pub depth: usize,
    /// Link layers re-entered without a tunnel (see [`MAX_LINK_NESTING`]).
    pub nest: u8,
}

impl Ctx<'_> {
    /// Enters one tunnel layer: checks the depth limit and counts the tunnel.
    pub(crate) fn enter(
        &mut self,
        layer: Layer,
        kind: TunnelKind,
        outer: &IpCtx,
        id: Option<u32>,
    ) -> Result<Layer, SkipReason> {
        let depth = layer.depth.saturating_add(1);
        if depth > self.cfg.max_tunnel_depth {
            return Err(SkipReason::TunnelTooDeep);
        }
        self.stats.count_tunnel(kind);
        Ok(Layer {
            depth,
            tunnel: Some(TunnelInfo {
                kind,
                outer_src: outer.src,
                outer_dst: outer.dst,
                id,
            }),
            ..layer
        })
    }
}

/// Where decoding continues once a datagram has been reassembled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resume {
    pub layer: Layer,
    pub ip: IpCtx,
    pub proto: u8,
}

/// Result of walking some headers.
#[derive(Debug)]
pub(crate) enum Step<'d> {
    Tcp(TcpSegment<'d>),
    Skip(SkipReason),
    Resume(Resume),
}

/// Packet decoder: owns its config, counters and the fragment table. Not `Sync`-shared: one
/// per capture thread.
#[derive(Debug)]
pub struct Decoder {
    cfg: DecodeConfig,
    stats: DecodeStats,
    frags: FragTable,
    /// The last reassembled datagram; segments decoded from it borrow it.
    reasm: Vec<u8>,
}

impl Decoder {
    /// A decoder with `cfg` (`max_tunnel_depth` clamped to [`TUNNEL_DEPTH_CEILING`]).
    pub fn new(mut cfg: DecodeConfig) -> Self {
        cfg.max_tunnel_depth = cfg.max_tunnel_depth.min(TUNNEL_DEPTH_CEILING);
        Decoder {
            cfg,
            stats: DecodeStats::default(),
            frags: FragTable::default(),
            reasm: Vec::new(),
        }
    }

    /// The effective configuration.
    pub fn config(&self) -> &DecodeConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Decodes one captured packet of link type `linktype`.
    ///
    /// `ts_ns` is packet time (ns since epoch); it drives fragment expiry (no wall clock
    /// anywhere). Every `Skipped` result is counted in [`DecodeStats::skipped`]. Never panics.
    pub fn decode<'a>(&'a mut self, linktype: i32, ts_ns: u64, data: &'a [u8]) -> Decoded<'a> {
        self.stats.packets = self.stats.packets.wrapping_add(1);
        if !self.frags.is_empty() {
            self.frags.expire(ts_ns, &self.cfg, &mut self.stats);
        }
        let step = {
            let mut ctx = Ctx {
                cfg: &self.cfg,
                stats: &mut self.stats,
                frags: &mut self.frags,
                ts_ns,
            };
            link::decode_link(&mut ctx, linktype, data)
        };
        let mut resume = match step {
            Step::Tcp(seg) => {
                self.stats.tcp_segments = self.stats.tcp_segments.wrapping_add(1);
                return Decoded::Tcp(seg);
            }
            Step::Skip(reason) => return self.skip(reason),
            Step::Resume(r) => r,
        };

        // A fragment completed a datagram: continue inside it. Another completion can only
        // happen one tunnel layer deeper, so the rounds are bounded by the tunnel depth.
        let mut rounds = 0usize;
        let (seg, range) = loop {
            rounds += 1;
            if rounds > TUNNEL_DEPTH_CEILING + 2 {
                return self.skip(SkipReason::Malformed);
            }
            self.frags.take_completed(&mut self.reasm);
            let mut ctx = Ctx {
                cfg: &self.cfg,
                stats: &mut self.stats,
                frags: &mut self.frags,
                ts_ns,
            };
            match ip::resume(&mut ctx, &self.reasm, resume) {
                Step::Tcp(seg) => break (detach(&seg), subslice_range(&self.reasm, seg.payload)),
                Step::Skip(reason) => return self.skip(reason),
                Step::Resume(r) => resume = r,
            }
        };
        self.stats.tcp_segments = self.stats.tcp_segments.wrapping_add(1);
        let payload = range.and_then(|r| self.reasm.get(r)).unwrap_or_default();
        Decoded::Tcp(TcpSegment { payload, ..seg })
    }

    fn skip<'a>(&mut self, reason: SkipReason) -> Decoded<'a> {
        self.stats.count_skip(reason);
        Decoded::Skipped(reason)
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DecodeConfig::default())
    }
}

/// The segment's fields without its payload borrow.
fn detach(seg: &TcpSegment<'_>) -> TcpSegment<'static> {
    TcpSegment {
        src: seg.src,
        dst: seg.dst,
        src_port: seg.src_port,
        dst_port: seg.dst_port,
        seq: seg.seq,
        ack: seg.ack,
        flags: seg.flags,
        window: seg.window,
        payload: &[],
        vlan: seg.vlan,
        tunnel: seg.tunnel,
    }
}

/// Position of `inner` within `outer`, if it is a sub-slice of it.
fn subslice_range(outer: &[u8], inner: &[u8]) -> Option<Range<usize>> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    let end = start.checked_add(inner.len())?;
    (end <= outer.len()).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::testutil::*;
    use crate::decode::types::linktype;

    #[test]
    fn sample_packets_all_decode() {
        let mut d = Decoder::default();
        let samples = sample_packets();
        let n = samples
            .iter()
            .filter(|(lt, p)| matches!(d.decode(*lt, 0, p), Decoded::Tcp(_)))
            .count();
        // every sample yields TCP except the non-final fragments (2 IPv4 + 2 IPv6 held)
        assert_eq!(n, samples.len() - 4, "{:?}", d.stats());
        assert_eq!(d.stats().fragments_reassembled, 2);
        assert!(d.stats().tunnels.iter().all(|&n| n > 0), "{:?}", d.stats());
        for (lt, p) in &samples {
            all_prefixes(*lt, p);
        }
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        const LINKTYPES: [i32; 12] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 239, 276, 7];

        proptest! {
            #[test]
            fn random_bytes_never_panic(
                lt in proptest::sample::select(&LINKTYPES[..]),
                data in proptest::collection::vec(any::<u8>(), 0..300),
            ) {
                let mut d = Decoder::default();
                let _ = d.decode(lt, 0, &data);
                prop_assert_eq!(d.stats().skipped_total() + d.stats().tcp_segments, 1);
            }

            #[test]
            fn mutated_packets_never_panic(
                edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..40),
            ) {
                let samples = sample_packets();
                let mut d = Decoder::new(DecodeConfig {
                    max_fragment_sets: 4,
                    max_fragment_bytes: 2048,
                    fragment_timeout_ns: 50,
                    ..DecodeConfig::default()
                });
                for (i, (pick, byte, pos)) in edits.iter().enumerate() {
                    let (lt, mut p) = samples[pick % samples.len()].clone();
                    let at = pos % p.len();
                    p[at] = *byte;
                    if i % 3 == 0 {
                        p.truncate(pos % (p.len() + 1));
                    }
                    let _ = d.decode(lt, i as u64 * 10, &p);
                }
                let s = d.stats();
                prop_assert_eq!(s.skipped_total() + s.tcp_segments, s.packets);
                prop_assert!(s.fragment_bytes_held <= 2048);
                prop_assert!(s.fragment_sets_held <= 4);
            }
        }
    }

    #[test]
    fn subslice_ranges() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(subslice_range(&b, &b[1..3]), Some(1..3));
        assert_eq!(subslice_range(&b, &b[5..]), Some(5..5));
        let other = [9u8; 3];
        assert_eq!(subslice_range(&b, &other), None);
    }

    #[test]
    fn plain_tcp_counts_and_fields() {
        let pkt = eth_ipv4_tcp(b"hello");
        let mut d = Decoder::default();
        let seg = tcp(d.decode(linktype::ETHERNET, 1, &pkt));
        assert_eq!(seg.src, v4(SRC4));
        assert_eq!(seg.dst, v4(DST4));
        assert_eq!((seg.src_port, seg.dst_port), (40000, 80));
        assert_eq!(seg.seq, 1000);
        assert_eq!(seg.ack, 2000);
        assert!(seg.has(crate::decode::tcp_flags::ACK));
        assert!(seg.has(crate::decode::tcp_flags::PSH));
        assert_eq!(seg.window, 5000);
        assert_eq!(seg.payload, b"hello");
        assert_eq!(seg.vlan, None);
        assert!(seg.tunnel.is_none());
        assert_eq!(d.stats().packets, 1);
        assert_eq!(d.stats().tcp_segments, 1);
        assert_eq!(d.stats().skipped_total(), 0);
    }

    #[test]
    fn every_skip_is_counted() {
        let mut d = Decoder::default();
        assert_eq!(
            skip(d.decode(9999, 0, &[1, 2, 3])),
            SkipReason::UnsupportedLinkType
        );
        assert_eq!(
            skip(d.decode(linktype::ETHERNET, 0, &[])),
            SkipReason::Truncated
        );
        assert_eq!(
            skip(d.decode(linktype::ETHERNET, 0, &eth_ipv4_udp(53, 53, b"x"))),
            SkipReason::Udp
        );
        let s = d.stats();
        assert_eq!(s.skipped(SkipReason::UnsupportedLinkType), 1);
        assert_eq!(s.skipped(SkipReason::Truncated), 1);
        assert_eq!(s.skipped(SkipReason::Udp), 1);
        assert_eq!(s.skipped_total(), 3);
        assert_eq!(s.packets, 3);
    }

    #[test]
    fn tunnel_depth_is_clamped() {
        let d = Decoder::new(DecodeConfig {
            max_tunnel_depth: 1_000_000,
            ..DecodeConfig::default()
        });
        assert_eq!(d.config().max_tunnel_depth, TUNNEL_DEPTH_CEILING);
    }

    #[test]
    fn reassembled_payload_borrows_decoder_buffer() {
        let body: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let pkt = ipv4_tcp_raw(&body);
        let frags = fragment_v4(&pkt, 1480);
        let mut d = Decoder::default();
        let n = frags.len();
        for (i, f) in frags.iter().enumerate() {
            let r = d.decode(linktype::RAW, 10, f);
            if i + 1 < n {
                assert_eq!(skip(r), SkipReason::FragmentHeld);
            } else {
                let seg = tcp(r);
                assert_eq!(seg.payload, &body[..]);
            }
        }
        // the next plain packet still decodes from the packet itself
        let plain = eth_ipv4_tcp(b"after");
        assert_eq!(
            tcp(d.decode(linktype::ETHERNET, 11, &plain)).payload,
            b"after"
        );
    }
}
