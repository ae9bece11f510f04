//! Test helpers: packets built with `etherparse::PacketBuilder` plus hand-made wrappers
//! (tunnel headers, fragmenting), and unwrapping of [`Decoded`] results.

use std::net::IpAddr;

use etherparse::{IpNumber, PacketBuilder};

use super::types::{Decoded, SkipReason, TcpSegment};
use super::Decoder;

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 2];
pub const SRC4: [u8; 4] = [10, 0, 0, 1];
pub const DST4: [u8; 4] = [10, 0, 0, 2];
pub const OUT_SRC4: [u8; 4] = [192, 168, 1, 1];
pub const OUT_DST4: [u8; 4] = [192, 168, 1, 2];
pub const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

pub fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

pub fn v6(a: [u8; 16]) -> IpAddr {
    IpAddr::from(a)
}

#[track_caller]
pub fn tcp(d: Decoded<'_>) -> TcpSegment<'_> {
    match d {
        Decoded::Tcp(s) => s,
        Decoded::Skipped(r) => panic!("expected a TCP segment, got Skipped({r:?})"),
    }
}

#[track_caller]
pub fn skip(d: Decoded<'_>) -> SkipReason {
    match d {
        Decoded::Skipped(r) => r,
        Decoded::Tcp(s) => panic!("expected a skip, got {s:?}"),
    }
}

/// IPv4 + TCP (ports 40000 → 80, seq 1000, ack 2000, ACK|PSH, window 5000), no link layer.
pub fn ipv4_tcp_raw(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(SRC4, DST4, 64)
        .tcp(40000, 80, 1000, 5000)
        .ack(2000)
        .psh()
        .write(&mut v, payload)
        .unwrap();
    v
}

/// IPv6 + TCP, same TCP fields as [`ipv4_tcp_raw`].
pub fn ipv6_tcp_raw(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(SRC6, DST6, 64)
        .tcp(40000, 80, 1000, 5000)
        .ack(2000)
        .psh()
        .write(&mut v, payload)
        .unwrap();
    v
}

/// Ethernet + IPv4 + TCP.
pub fn eth_ipv4_tcp(payload: &[u8]) -> Vec<u8> {
    eth(0x0800, &ipv4_tcp_raw(payload))
}

/// Ethernet + IPv4 + UDP.
pub fn eth_ipv4_udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    eth(0x0800, &ipv4_udp_raw(SRC4, DST4, sp, dp, payload))
}

/// IPv4 + UDP, no link layer.
pub fn ipv4_udp_raw(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(sp, dp)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// An outer IPv4 header (OUT_SRC4 → OUT_DST4) with protocol `proto` around `payload`.
pub fn outer_ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(OUT_SRC4, OUT_DST4, 64)
        .write(&mut v, IpNumber(proto), payload)
        .unwrap();
    v
}

/// Ethernet + outer IPv4 + UDP around a tunnel payload.
pub fn eth_outer_udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    eth(0x0800, &ipv4_udp_raw(OUT_SRC4, OUT_DST4, sp, dp, payload))
}

/// An Ethernet II header with `ethertype` in front of `payload`.
pub fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + payload.len());
    v.extend_from_slice(&MAC_B);
    v.extend_from_slice(&MAC_A);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Splits an IPv4 packet (no link layer) into fragments of at most `chunk` payload bytes
/// (`chunk` a multiple of 8). Checksums are not recomputed (the decoder ignores them).
pub fn fragment_v4(pkt: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    assert_eq!(chunk % 8, 0);
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let (hdr, body) = pkt.split_at(ihl);
    let mut out = Vec::new();
    let mut off = 0;
    while off < body.len() {
        let end = (off + chunk).min(body.len());
        let more = end < body.len();
        out.push(v4_fragment(hdr, off, more, &body[off..end]));
        off = end;
    }
    out
}

/// One IPv4 fragment with header `hdr` (copied) carrying `data` at byte `off`.
pub fn v4_fragment(hdr: &[u8], off: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut f = hdr.to_vec();
    let total = (hdr.len() + data.len()) as u16;
    f[2..4].copy_from_slice(&total.to_be_bytes());
    let fo = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
    f[6..8].copy_from_slice(&fo.to_be_bytes());
    f.extend_from_slice(data);
    f
}

/// Splits an IPv6 packet (no link layer, no extension headers) into fragments with a
/// fragment header (identification `id`) of at most `chunk` payload bytes each.
pub fn fragment_v6(pkt: &[u8], chunk: usize, id: u32) -> Vec<Vec<u8>> {
    assert_eq!(chunk % 8, 0);
    let (hdr, body) = pkt.split_at(40);
    let next = hdr[6];
    let mut out = Vec::new();
    let mut off = 0;
    while off < body.len() {
        let end = (off + chunk).min(body.len());
        let more = end < body.len();
        out.push(v6_fragment(hdr, next, id, off, more, &body[off..end]));
        off = end;
    }
    out
}

/// One IPv6 fragment: header `hdr` (next header rewritten to 44) + fragment header + data.
pub fn v6_fragment(hdr: &[u8], next: u8, id: u32, off: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut f = hdr[..40].to_vec();
    f[6] = 44;
    let plen = (8 + data.len()) as u16;
    f[4..6].copy_from_slice(&plen.to_be_bytes());
    f.push(next);
    f.push(0);
    let fo = (off as u16) & 0xfff8 | u16::from(more);
    f.extend_from_slice(&fo.to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(data);
    f
}

/// Decodes every prefix of `pkt` (must not panic) and returns how many gave TCP.
pub fn all_prefixes(linktype: i32, pkt: &[u8]) -> usize {
    let mut d = Decoder::default();
    let mut n = 0;
    for len in 0..=pkt.len() {
        if let Decoded::Tcp(seg) = d.decode(linktype, 0, &pkt[..len]) {
            assert!(seg.payload.len() <= pkt.len());
            n += 1;
        }
    }
    assert_eq!(d.stats().packets, pkt.len() as u64 + 1);
    assert_eq!(
        d.stats().skipped_total() + d.stats().tcp_segments,
        d.stats().packets
    );
    n
}

/// A variety of valid packets (link type, bytes): every link type, VLAN/MPLS, each tunnel,
/// fragments. Used as seeds for mutation tests.
pub fn sample_packets() -> Vec<(i32, Vec<u8>)> {
    use super::types::linktype::*;
    let ip4 = ipv4_tcp_raw(b"GET / HTTP/1.1\r\n\r\n");
    let ip6 = ipv6_tcp_raw(b"HTTP/1.1 200 OK\r\n\r\n");
    let gre = |flags: u16, proto: u16, extra: &[u8], inner: &[u8]| {
        let mut g = flags.to_be_bytes().to_vec();
        g.extend_from_slice(&proto.to_be_bytes());
        g.extend_from_slice(extra);
        g.extend_from_slice(inner);
        outer_ipv4(47, &g)
    };
    let mut v = vec![
        (ETHERNET, eth(0x0800, &ip4)),
        (ETHERNET, eth(0x86dd, &ip6)),
        (
            ETHERNET,
            eth(
                0x8100,
                &[&[0, 5, 0x88, 0xa8, 0, 6, 0x08, 0x00][..], &ip4].concat(),
            ),
        ),
        (
            ETHERNET,
            eth(0x8847, &[&[0, 1, 0x01, 0x40][..], &ip4].concat()),
        ),
        (
            ETHERNET,
            eth(
                0x8864,
                &[&[0x11, 0, 0, 1, 0, 60, 0, 0x21][..], &ip4].concat(),
            ),
        ),
        (RAW, ip4.clone()),
        (RAW, ip6.clone()),
        (NULL, [&[2, 0, 0, 0][..], &ip4].concat()),
        (
            LINUX_SLL,
            [
                &[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0][..],
                &ip4,
            ]
            .concat(),
        ),
        (
            NFLOG,
            [
                &[2, 0, 0, 0][..],
                &((ip4.len() + 4) as u16).to_le_bytes(),
                &[9, 0],
                &ip4,
            ]
            .concat(),
        ),
        (
            ETHERNET,
            eth_outer_udp(
                1,
                4789,
                &[&[8, 0, 0, 0, 0, 0, 1, 0][..], &eth(0x0800, &ip4)].concat(),
            ),
        ),
        (
            ETHERNET,
            eth_outer_udp(
                1,
                6081,
                &[
                    &[1, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0, 0, 0][..],
                    &eth(0x0800, &ip4),
                ]
                .concat(),
            ),
        ),
        (ETHERNET, eth_outer_udp(3544, 1, &ip6)),
        (
            ETHERNET,
            eth_outer_udp(
                5072,
                1,
                &[
                    &[0x11, 0x10, 0x01, 41, 0, 0, 0, 0, 1, 2, 1, 2, 3, 4][..],
                    &ip6,
                ]
                .concat(),
            ),
        ),
        (
            ETHERNET,
            eth_outer_udp(
                2152,
                2152,
                &[
                    &[
                        0x34,
                        255,
                        0,
                        (ip4.len() + 8) as u8,
                        0,
                        0,
                        0,
                        1,
                        0,
                        0,
                        0,
                        0x85,
                        1,
                        0,
                        0,
                        0,
                    ][..],
                    &ip4,
                ]
                .concat(),
            ),
        ),
        (RAW, gre(0xb000, 0x6558, &[0; 12], &eth(0x0800, &ip4))),
        (
            RAW,
            gre(
                0x1000,
                0x88be,
                &[0; 4],
                &[&[0x10, 0, 0, 1, 0, 0, 0, 0][..], &eth(0x0800, &ip4)].concat(),
            ),
        ),
        (
            RAW,
            gre(
                0x1000,
                0x22eb,
                &[0; 4],
                &[
                    &[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1][..],
                    &[0; 8],
                    &eth(0x0800, &ip4),
                ]
                .concat(),
            ),
        ),
        (
            RAW,
            gre(
                0x3081,
                0x880b,
                &[0; 12],
                &[&[0xff, 0x03, 0, 0x21][..], &ip4].concat(),
            ),
        ),
        (RAW, outer_ipv4(4, &ip4)),
        (RAW, outer_ipv4(41, &ip6)),
    ];
    let big: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
    for f in fragment_v4(&ipv4_tcp_raw(&big), 256) {
        v.push((RAW, f));
    }
    for f in fragment_v6(&ipv6_tcp_raw(&big), 256, 77) {
        v.push((RAW, f));
    }
    v
}
