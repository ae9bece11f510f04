//! Flow keys and the hasher of the flow table.
//!
//! Owns: [`FlowKey`], the canonical identity of a TCP connection — both endpoints (address,
//! port) ordered so that the two directions of a connection give the same key, plus the VLAN
//! and the tunnel id it was seen in — and [`FlowHasher`], a small FxHash-style multiplicative
//! hasher keyed with a per-table random seed (cheap on the per-packet path, and not trivially
//! predictable by someone choosing addresses and ports to collide).
//! Invariant: `FlowKey::from_segment(s)` and the same for the reversed segment give equal keys
//! and complementary sides.

use crate::decode::{TcpSegment, TunnelKind};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

/// Canonical identity of a connection. Side 0 is the endpoint with the smaller
/// (address bytes, port); IPv4 addresses are stored as IPv4-mapped IPv6 with `v6 = false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowKey {
    lo: [u8; 16],
    hi: [u8; 16],
    lo_port: u16,
    hi_port: u16,
    vlan: Option<u16>,
    tunnel_id: Option<u32>,
    v6: bool,
}

/// The address as an IPv6 number (IPv4 mapped) and whether it was IPv6. Ordering these
/// numbers is ordering the 16 address bytes, without a byte-by-byte comparison.
fn addr128(a: &IpAddr) -> (u128, bool) {
    match a {
        IpAddr::V4(v4) => (u128::from(v4.to_ipv6_mapped()), false),
        IpAddr::V6(v6) => (u128::from(*v6), true),
    }
}

impl FlowKey {
    /// The key of a segment and the side (0 or 1) its sender is on.
    pub(crate) fn from_segment(seg: &TcpSegment<'_>) -> (FlowKey, usize) {
        let (s, s6) = addr128(&seg.src);
        let (d, d6) = addr128(&seg.dst);
        let src_first = (s, seg.src_port) <= (d, seg.dst_port);
        let (s, d) = (s.to_be_bytes(), d.to_be_bytes());
        let (lo, lo_port, hi, hi_port, side) = if src_first {
            (s, seg.src_port, d, seg.dst_port, 0)
        } else {
            (d, seg.dst_port, s, seg.src_port, 1)
        };
        let key = FlowKey {
            lo,
            hi,
            lo_port,
            hi_port,
            vlan: seg.vlan,
            // VXLAN/GENEVE VNIs separate tenants whose addresses may overlap and are the same
            // both ways; GTP TEIDs and GRE keys differ per direction, so they do not split flows.
            tunnel_id: seg
                .tunnel
                .filter(|t| matches!(t.kind, TunnelKind::Vxlan | TunnelKind::Geneve))
                .and_then(|t| t.id),
            v6: s6 || d6,
        };
        (key, side)
    }
}

impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let w = |b: &[u8; 16], i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(x)
        };
        state.write_u64(w(&self.lo, 0));
        state.write_u64(w(&self.lo, 8));
        state.write_u64(w(&self.hi, 0));
        state.write_u64(w(&self.hi, 8));
        let vlan = self.vlan.map_or(0x1_0000, u64::from);
        let tun = self.tunnel_id.map_or(0x1_0000_0000, u64::from);
        state.write_u64(
            u64::from(self.lo_port)
                | (u64::from(self.hi_port) << 16)
                | (vlan << 32)
                | ((self.v6 as u64) << 50),
        );
        state.write_u64(tun);
    }
}

const FX_K: u64 = 0xf135_7aea_2e62_a9c5;

/// FxHash-style hasher (rotate, xor, multiply per word) with a seed and a final mix.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowHasher {
    h: u64,
}

impl Hasher for FlowHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut x = [0u8; 8];
            x.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(x));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut x = [0u8; 8];
            x[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(x) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u64(&mut self, w: u64) {
        self.h = (self.h.rotate_left(5) ^ w).wrapping_mul(FX_K);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits into the low bits the table indexes with.
        let h = self.h;
        (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (h >> 32)
    }
}

/// Builds [`FlowHasher`]s with one random seed per table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowHashBuilder {
    seed: u64,
}

impl FlowHashBuilder {
    /// A builder with a seed from the standard library's per-process randomness.
    pub(crate) fn random() -> Self {
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64);
        FlowHashBuilder { seed }
    }
}

impl BuildHasher for FlowHashBuilder {
    type Hasher = FlowHasher;
    #[inline]
    fn build_hasher(&self) -> FlowHasher {
        FlowHasher { h: self.seed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{TunnelInfo, TunnelKind};

    fn seg(src: &str, sp: u16, dst: &str, dp: u16) -> TcpSegment<'static> {
        TcpSegment {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: sp,
            dst_port: dp,
            seq: 0,
            ack: 0,
            flags: 0,
            window: 0,
            payload: &[],
            vlan: None,
            tunnel: None,
        }
    }

    #[test]
    fn both_directions_same_key() {
        let (k1, s1) = FlowKey::from_segment(&seg("10.0.0.2", 80, "10.0.0.1", 5555));
        let (k2, s2) = FlowKey::from_segment(&seg("10.0.0.1", 5555, "10.0.0.2", 80));
        assert_eq!(k1, k2);
        assert_ne!(s1, s2);
        let b = FlowHashBuilder::random();
        assert_eq!(b.hash_one(k1), b.hash_one(k2));
        let (k3, _) = FlowKey::from_segment(&seg("::1", 1, "::1", 2));
        let (k4, _) = FlowKey::from_segment(&seg("::1", 2, "::1", 1));
        assert_eq!(k3, k4);
    }

    #[test]
    fn sides_follow_the_order_of_address_bytes_then_ports() {
        let addrs = [
            "0.0.0.0",
            "10.0.0.1",
            "10.0.0.2",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "fe80::1",
            "ffff::",
        ];
        let bytes = |x: &str| match x.parse::<IpAddr>().unwrap() {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        for a in addrs {
            for b in addrs {
                for (pa, pb) in [(1, 2), (2, 1), (80, 80)] {
                    let (k, side) = FlowKey::from_segment(&seg(a, pa, b, pb));
                    let a_first = (bytes(a), pa) <= (bytes(b), pb);
                    assert_eq!(side, usize::from(!a_first), "{a}:{pa} {b}:{pb}");
                    let (lo, hi) = if a_first { (a, b) } else { (b, a) };
                    assert_eq!((k.lo, k.hi), (bytes(lo), bytes(hi)), "{a}:{pa} {b}:{pb}");
                }
            }
        }
    }

    #[test]
    fn vlan_and_tunnel_separate_flows() {
        let a = seg("10.0.0.1", 5555, "10.0.0.2", 80);
        let mut b = a.clone();
        b.vlan = Some(7);
        let mut c = a.clone();
        c.tunnel = Some(TunnelInfo {
            kind: TunnelKind::Vxlan,
            outer_src: "192.0.2.1".parse().unwrap(),
            outer_dst: "192.0.2.2".parse().unwrap(),
            id: Some(42),
        });
        let ka = FlowKey::from_segment(&a).0;
        assert_ne!(ka, FlowKey::from_segment(&b).0);
        assert_ne!(ka, FlowKey::from_segment(&c).0);
        // v4 and its v4-mapped v6 form are different flows.
        let d = seg("::ffff:10.0.0.1", 5555, "::ffff:10.0.0.2", 80);
        assert_ne!(ka, FlowKey::from_segment(&d).0);
    }

    #[test]
    fn hasher_spreads_ports() {
        let b = FlowHashBuilder::random();
        let mut seen = std::collections::HashSet::new();
        for p in 0..4096u16 {
            let k = FlowKey::from_segment(&seg("10.0.0.1", 10000 + p, "10.0.0.2", 80)).0;
            seen.insert(b.hash_one(k) & 0xfff);
        }
        // A decent hash fills most of 4096 buckets with 4096 keys (~63% expected).
        assert!(seen.len() > 2000, "{}", seen.len());
    }
}
