//! IPv4 and IPv6 (header slices from etherparse), IPv6 extension headers and IPv4 AH, the
//! transport dispatch (TCP segment out, UDP to the tunnel matchers, ICMP, IP-in-IP, GRE), and
//! the hand-off of fragments to the reassembly table.
//!
//! Lengths: the IP length field cuts link-layer padding (Ethernet pads short frames); when the
//! capture is shorter than the IP length (snaplen), decoding goes on with the bytes present
//! and a TCP segment carries the short payload. A length of 0 (TSO captures, jumbograms) means
//! "the rest of the frame".

use std::net::IpAddr;

use etherparse::{err, Ipv4HeaderSlice, Ipv6HeaderSlice, TcpSlice, UdpSlice};

use super::bytes::{be16, be32, need, rest, u8_at};
use super::decoder::{Ctx, Layer, Resume, Step};
use super::fragments::{FragKey, FragOutcome, Fragment};
use super::tunnels;
use super::types::{SkipReason, TcpSegment};

/// The IP header a transport payload came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpCtx {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub v6: bool,
    /// False when the capture ended before the IP length said the packet ends.
    pub complete: bool,
    /// True inside a reassembled datagram.
    pub reassembled: bool,
}

const IPPROTO_HOPOPTS: u8 = 0;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_ROUTING: u8 = 43;
const IPPROTO_FRAGMENT: u8 = 44;
const IPPROTO_GRE: u8 = 47;
const IPPROTO_AH: u8 = 51;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_DSTOPTS: u8 = 60;
const IPPROTO_MOBILITY: u8 = 135;
const IPPROTO_HIP: u8 = 139;
const IPPROTO_SHIM6: u8 = 140;

/// IPv4 or IPv6, chosen by the version nibble (anything else is `Malformed`).
pub(crate) fn ip_any<'d>(ctx: &mut Ctx<'_>, data: &'d [u8], layer: Layer) -> Step<'d> {
    match need!(u8_at(data, 0)) >> 4 {
        4 => ipv4(ctx, data, layer),
        6 => ipv6(ctx, data, layer),
        _ => Step::Skip(SkipReason::Malformed),
    }
}

pub(crate) fn ipv4<'d>(ctx: &mut Ctx<'_>, data: &'d [u8], layer: Layer) -> Step<'d> {
    let hdr = match Ipv4HeaderSlice::from_slice(data) {
        Ok(h) => h,
        Err(err::ipv4::HeaderSliceError::Len(_)) => return Step::Skip(SkipReason::Truncated),
        Err(err::ipv4::HeaderSliceError::Content(_)) => return Step::Skip(SkipReason::Malformed),
    };
    let hlen = hdr.slice().len();
    let total = usize::from(hdr.total_len());
    let (body, complete) = if total == 0 {
        (rest(data, hlen), true)
    } else if total < hlen {
        return Step::Skip(SkipReason::Malformed);
    } else if let Some(b) = data.get(hlen..total) {
        (Some(b), true)
    } else {
        (rest(data, hlen), false)
    };
    let body = need!(body);
    let ipc = IpCtx {
        src: IpAddr::V4(hdr.source_addr()),
        dst: IpAddr::V4(hdr.destination_addr()),
        v6: false,
        complete,
        reassembled: false,
    };
    let proto = hdr.protocol().0;
    if hdr.is_fragmenting_payload() {
        let key = FragKey {
            src: ipc.src,
            dst: ipc.dst,
            proto,
            id: u32::from(hdr.identification()),
        };
        let offset = usize::from(hdr.fragments_offset().byte_offset());
        return fragment(ctx, ipc, key, offset, hdr.more_fragments(), body, layer);
    }
    transport(ctx, ipc, proto, body, layer)
}

pub(crate) fn ipv6<'d>(ctx: &mut Ctx<'_>, data: &'d [u8], layer: Layer) -> Step<'d> {
    let hdr = match Ipv6HeaderSlice::from_slice(data) {
        Ok(h) => h,
        Err(err::ipv6::HeaderSliceError::Len(_)) => return Step::Skip(SkipReason::Truncated),
        Err(err::ipv6::HeaderSliceError::Content(_)) => return Step::Skip(SkipReason::Malformed),
    };
    let hlen = hdr.slice().len();
    let plen = usize::from(hdr.payload_length());
    let (body, complete) = if plen == 0 {
        (rest(data, hlen), true)
    } else if let Some(b) = data.get(hlen..hlen.saturating_add(plen)) {
        (Some(b), true)
    } else {
        (rest(data, hlen), false)
    };
    let body = need!(body);
    let ipc = IpCtx {
        src: IpAddr::V6(hdr.source_addr()),
        dst: IpAddr::V6(hdr.destination_addr()),
        v6: true,
        complete,
        reassembled: false,
    };
    transport(ctx, ipc, hdr.next_header().0, body, layer)
}

/// Continues after reassembly: `data` is the reassembled datagram payload.
pub(crate) fn resume<'d>(ctx: &mut Ctx<'_>, data: &'d [u8], r: Resume) -> Step<'d> {
    transport(ctx, r.ip, r.proto, data, r.layer)
}

fn fragment<'d>(
    ctx: &mut Ctx<'_>,
    ipc: IpCtx,
    key: FragKey,
    offset: usize,
    more: bool,
    data: &[u8],
    layer: Layer,
) -> Step<'d> {
    if !ipc.complete {
        // Part of the fragment is missing from the capture: it cannot be reassembled.
        return Step::Skip(SkipReason::Truncated);
    }
    if ipc.reassembled {
        // A fragment header inside a reassembled IPv6 datagram.
        return Step::Skip(SkipReason::Malformed);
    }
    let frag = Fragment {
        key,
        offset,
        more,
        data,
    };
    match ctx.frags.insert(frag, ctx.ts_ns, ctx.cfg, ctx.stats) {
        FragOutcome::Held => Step::Skip(SkipReason::FragmentHeld),
        FragOutcome::Dropped => Step::Skip(SkipReason::FragmentDropped),
        FragOutcome::Malformed => Step::Skip(SkipReason::Malformed),
        FragOutcome::Complete => Step::Resume(Resume {
            layer,
            ip: IpCtx {
                complete: true,
                reassembled: true,
                ..ipc
            },
            proto: key.proto,
        }),
    }
}

/// Walks IPv6 extension headers / IPv4 AH, then dispatches on the transport protocol.
pub(crate) fn transport<'d>(
    ctx: &mut Ctx<'_>,
    ipc: IpCtx,
    proto: u8,
    body: &'d [u8],
    layer: Layer,
) -> Step<'d> {
    let mut proto = proto;
    let mut body = body;
    loop {
        match proto {
            IPPROTO_TCP => return tcp_segment(ipc, body, layer),
            IPPROTO_UDP => return udp_datagram(ctx, ipc, body, layer),
            IPPROTO_ICMP | IPPROTO_ICMPV6 => return Step::Skip(SkipReason::Icmp),
            IPPROTO_IPIP => return tunnels::ip_in_ip(ctx, ipc, body, layer, false),
            IPPROTO_IPV6 => return tunnels::ip_in_ip(ctx, ipc, body, layer, true),
            IPPROTO_GRE => return tunnels::gre(ctx, ipc, body, layer),
            IPPROTO_AH => {
                let next = need!(u8_at(body, 0));
                let len = (usize::from(need!(u8_at(body, 1))) + 2) * 4;
                body = need!(rest(body, len));
                proto = next;
            }
            IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS | IPPROTO_MOBILITY
            | IPPROTO_HIP | IPPROTO_SHIM6
                if ipc.v6 =>
            {
                let next = need!(u8_at(body, 0));
                let len = (usize::from(need!(u8_at(body, 1))) + 1) * 8;
                body = need!(rest(body, len));
                proto = next;
            }
            IPPROTO_FRAGMENT if ipc.v6 => {
                let next = need!(u8_at(body, 0));
                let off_flags = need!(be16(body, 2));
                let id = need!(be32(body, 4));
                let data = need!(rest(body, 8));
                let offset = usize::from(off_flags & 0xfff8);
                let more = off_flags & 1 != 0;
                if offset == 0 && !more {
                    // Atomic fragment (RFC 6946): the whole packet.
                    body = data;
                    proto = next;
                    continue;
                }
                let key = FragKey {
                    src: ipc.src,
                    dst: ipc.dst,
                    proto: next,
                    id,
                };
                return fragment(ctx, ipc, key, offset, more, data, layer);
            }
            _ => return Step::Skip(SkipReason::OtherIpProtocol),
        }
    }
}

fn tcp_segment(ipc: IpCtx, body: &[u8], layer: Layer) -> Step<'_> {
    match TcpSlice::from_slice(body) {
        Ok(t) => Step::Tcp(TcpSegment {
            src: ipc.src,
            dst: ipc.dst,
            src_port: t.source_port(),
            dst_port: t.destination_port(),
            seq: t.sequence_number(),
            ack: t.acknowledgment_number(),
            flags: u8_at(t.header_slice(), 13).unwrap_or(0),
            window: t.window_size(),
            payload: t.payload(),
            vlan: layer.vlan,
            tunnel: layer.tunnel,
        }),
        Err(err::tcp::HeaderSliceError::Len(_)) => Step::Skip(SkipReason::Truncated),
        Err(err::tcp::HeaderSliceError::Content(_)) => Step::Skip(SkipReason::Malformed),
    }
}

fn udp_datagram<'d>(ctx: &mut Ctx<'_>, ipc: IpCtx, body: &'d [u8], layer: Layer) -> Step<'d> {
    let Ok(u) = UdpSlice::from_slice_lax(body) else {
        return Step::Skip(SkipReason::Truncated);
    };
    let complete = ipc.complete && usize::from(u.length()) <= body.len();
    let ipc = IpCtx { complete, ..ipc };
    tunnels::udp(
        ctx,
        ipc,
        u.source_port(),
        u.destination_port(),
        u.payload(),
        layer,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::testutil::*;
    use crate::decode::types::linktype::{ETHERNET, IPV4, IPV6, RAW};
    use crate::decode::{tcp_flags, DecodeConfig, Decoder};

    #[test]
    fn ipv4_tcp() {
        let pkt = ipv4_tcp_raw(b"GET / HTTP/1.1\r\n\r\n");
        let mut d = Decoder::default();
        let s = tcp(d.decode(RAW, 0, &pkt));
        assert_eq!((s.src, s.dst), (v4(SRC4), v4(DST4)));
        assert_eq!(s.payload, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(s.flags, tcp_flags::ACK | tcp_flags::PSH);
        let s = tcp(d.decode(IPV4, 0, &pkt));
        assert_eq!(s.dst_port, 80);
    }

    #[test]
    fn ipv6_tcp() {
        let pkt = ipv6_tcp_raw(b"hi");
        let mut d = Decoder::default();
        let s = tcp(d.decode(RAW, 0, &pkt));
        assert_eq!((s.src, s.dst), (v6(SRC6), v6(DST6)));
        assert_eq!(s.payload, b"hi");
        assert_eq!(tcp(d.decode(IPV6, 0, &pkt)).payload, b"hi");
        // IPV4 link type with an IPv6 packet is malformed
        assert_eq!(skip(d.decode(IPV4, 0, &pkt)), SkipReason::Malformed);
    }

    #[test]
    fn padding_is_cut_by_ip_length() {
        let mut pkt = eth_ipv4_tcp(b"");
        assert!(pkt.len() < 60);
        pkt.resize(60, 0xee); // Ethernet minimum frame, padded
        let mut d = Decoder::default();
        assert!(tcp(d.decode(ETHERNET, 0, &pkt)).payload.is_empty());

        let mut pkt = eth(0x86dd, &ipv6_tcp_raw(b"ab"));
        pkt.extend_from_slice(&[0xee; 6]);
        assert_eq!(tcp(d.decode(ETHERNET, 0, &pkt)).payload, b"ab");
    }

    #[test]
    fn snaplen_truncation_yields_short_payload() {
        let pkt = eth_ipv4_tcp(&[b'x'; 100]);
        let mut d = Decoder::default();
        let cut = &pkt[..pkt.len() - 60];
        assert_eq!(tcp(d.decode(ETHERNET, 0, cut)).payload.len(), 40);
        // header cut: truncated
        assert_eq!(
            skip(d.decode(ETHERNET, 0, &pkt[..14 + 20 + 10])),
            SkipReason::Truncated
        );
    }

    #[test]
    fn tso_zero_length_uses_the_frame() {
        let mut pkt = ipv4_tcp_raw(b"abcd");
        pkt[2] = 0;
        pkt[3] = 0;
        let mut d = Decoder::default();
        assert_eq!(tcp(d.decode(RAW, 0, &pkt)).payload, b"abcd");
    }

    #[test]
    fn bad_headers_are_malformed() {
        let mut d = Decoder::default();
        let mut pkt = ipv4_tcp_raw(b"x");
        pkt[0] = 0x44; // ihl 4
        assert_eq!(skip(d.decode(RAW, 0, &pkt)), SkipReason::Malformed);
        let mut pkt = ipv4_tcp_raw(b"x");
        pkt[3] = 10; // total length < header
        assert_eq!(skip(d.decode(RAW, 0, &pkt)), SkipReason::Malformed);
        let mut pkt = ipv4_tcp_raw(b"x");
        pkt[20 + 12] = 0x40; // TCP data offset 4
        assert_eq!(skip(d.decode(RAW, 0, &pkt)), SkipReason::Malformed);
        assert_eq!(skip(d.decode(RAW, 0, &[0x50; 30])), SkipReason::Malformed);
    }

    #[test]
    fn other_protocols() {
        let mut d = Decoder::default();
        let mut icmp = Vec::new();
        etherparse::PacketBuilder::ipv4(SRC4, DST4, 1)
            .icmpv4_echo_request(1, 1)
            .write(&mut icmp, b"ping")
            .unwrap();
        assert_eq!(skip(d.decode(RAW, 0, &icmp)), SkipReason::Icmp);
        let mut icmp6 = Vec::new();
        etherparse::PacketBuilder::ipv6(SRC6, DST6, 1)
            .icmpv6_echo_request(1, 1)
            .write(&mut icmp6, b"ping")
            .unwrap();
        assert_eq!(skip(d.decode(RAW, 0, &icmp6)), SkipReason::Icmp);
        let ospf = outer_ipv4(89, &[0; 24]);
        assert_eq!(skip(d.decode(RAW, 0, &ospf)), SkipReason::OtherIpProtocol);
        let udp = ipv4_udp_raw(SRC4, DST4, 1234, 53, b"dns");
        assert_eq!(skip(d.decode(RAW, 0, &udp)), SkipReason::Udp);
        assert_eq!(d.stats().skipped(SkipReason::Icmp), 2);
    }

    /// IPv6 packet with extension headers `exts` (each (type, bytes)) before TCP.
    fn ipv6_with_exts(exts: &[(u8, Vec<u8>)], payload: &[u8]) -> Vec<u8> {
        let inner = ipv6_tcp_raw(payload);
        let (hdr, tcp) = inner.split_at(40);
        let mut body = Vec::new();
        for (i, (_, e)) in exts.iter().enumerate() {
            let mut e = e.clone();
            e[0] = exts.get(i + 1).map_or(6, |n| n.0);
            body.extend_from_slice(&e);
        }
        body.extend_from_slice(tcp);
        let mut p = hdr.to_vec();
        p[6] = exts.first().map_or(6, |e| e.0);
        p[4..6].copy_from_slice(&(body.len() as u16).to_be_bytes());
        p.extend_from_slice(&body);
        p
    }

    #[test]
    fn ipv6_extension_headers_are_skipped() {
        let hop = vec![0, 0, 1, 4, 0, 0, 0, 0]; // PadN
        let dst = vec![0, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let rt = vec![0, 0, 4, 0, 0, 0, 0, 0];
        let ah = vec![
            0, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let atomic = vec![0, 0, 0, 0, 0, 0, 0, 9];
        let pkt = ipv6_with_exts(
            &[(0, hop), (60, dst), (43, rt), (51, ah), (44, atomic)],
            b"ext",
        );
        let mut d = Decoder::default();
        assert_eq!(tcp(d.decode(RAW, 0, &pkt)).payload, b"ext");
        assert_eq!(all_prefixes(RAW, &pkt), 4); // payload 0..=3 bytes present
        let none = ipv6_with_exts(&[(59, vec![0; 8])], b"");
        let mut none = none[..40].to_vec();
        none[6] = 59;
        none[4] = 0;
        none[5] = 0;
        assert_eq!(skip(d.decode(RAW, 0, &none)), SkipReason::OtherIpProtocol);
    }

    #[test]
    fn ipv4_ah_is_skipped() {
        let tcp_bytes = ipv4_tcp_raw(b"ah")[20..].to_vec();
        let mut ah = vec![6, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
        ah.extend_from_slice(&[0; 12]);
        ah.extend_from_slice(&tcp_bytes);
        let pkt = outer_ipv4(51, &ah);
        let mut d = Decoder::default();
        assert_eq!(tcp(d.decode(RAW, 0, &pkt)).payload, b"ah");
    }

    #[test]
    fn every_prefix_of_ip_packets() {
        // 20 + 20 header bytes, then 5 payload bytes: prefixes 40..=45 give TCP.
        assert_eq!(all_prefixes(RAW, &ipv4_tcp_raw(b"hello")), 6);
        assert_eq!(all_prefixes(RAW, &ipv6_tcp_raw(b"hello")), 6);
    }

    fn ipv4_tcp_body(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 13 % 256) as u8).collect()
    }

    fn run(frags: &[Vec<u8>], lt: i32) -> (Vec<Option<Vec<u8>>>, Decoder) {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        for f in frags {
            out.push(match d.decode(lt, 5, f) {
                crate::decode::Decoded::Tcp(s) => Some(s.payload.to_vec()),
                crate::decode::Decoded::Skipped(r) => {
                    assert_eq!(r, SkipReason::FragmentHeld);
                    None
                }
            });
        }
        (out, d)
    }

    #[test]
    fn ipv4_fragments_in_order_and_reversed() {
        let body = ipv4_tcp_body(4000);
        let frags = fragment_v4(&ipv4_tcp_raw(&body), 1000);
        assert_eq!(frags.len(), 5);
        let (out, d) = run(&frags, RAW);
        assert_eq!(out.last().unwrap().as_deref(), Some(&body[..]));
        assert!(out[..4].iter().all(Option::is_none));
        assert_eq!(d.stats().fragments_reassembled, 1);
        assert_eq!(d.stats().skipped(SkipReason::FragmentHeld), 4);
        assert_eq!(d.stats().fragment_bytes_held, 0);

        let rev: Vec<_> = frags.iter().rev().cloned().collect();
        let (out, _) = run(&rev, RAW);
        assert_eq!(out.last().unwrap().as_deref(), Some(&body[..]));
    }

    #[test]
    fn ipv4_fragments_behind_ethernet_padding() {
        let body = ipv4_tcp_body(30);
        let pkt = ipv4_tcp_raw(&body);
        let frags: Vec<_> = fragment_v4(&pkt, 16)
            .into_iter()
            .map(|f| {
                let mut e = eth(0x0800, &f);
                e.resize(e.len().max(60), 0xee);
                e
            })
            .collect();
        let (out, _) = run(&frags, ETHERNET);
        assert_eq!(out.last().unwrap().as_deref(), Some(&body[..]));
    }

    #[test]
    fn ipv4_overlapping_fragments() {
        let body = ipv4_tcp_body(100);
        let pkt = ipv4_tcp_raw(&body);
        let (hdr, b) = pkt.split_at(20);
        // consistent overlap
        let frags = vec![
            v4_fragment(hdr, 0, true, &b[0..64]),
            v4_fragment(hdr, 32, true, &b[32..96]),
            v4_fragment(hdr, 96, false, &b[96..]),
        ];
        let (out, _) = run(&frags, RAW);
        assert_eq!(out[2].as_deref(), Some(&body[..]));

        // inconsistent overlap: the set is dropped
        let mut bad = b[32..96].to_vec();
        bad[0] ^= 1;
        let mut d = Decoder::default();
        assert_eq!(
            skip(d.decode(RAW, 0, &v4_fragment(hdr, 0, true, &b[0..64]))),
            SkipReason::FragmentHeld
        );
        assert_eq!(
            skip(d.decode(RAW, 0, &v4_fragment(hdr, 32, true, &bad))),
            SkipReason::FragmentDropped
        );
        assert_eq!(
            skip(d.decode(RAW, 0, &v4_fragment(hdr, 96, false, &b[96..]))),
            SkipReason::FragmentHeld
        );
        assert_eq!(d.stats().skipped(SkipReason::FragmentDropped), 1);
    }

    #[test]
    fn ipv4_fragment_expiry_on_packet_time() {
        let body = ipv4_tcp_body(64);
        let frags = fragment_v4(&ipv4_tcp_raw(&body), 48);
        let mut d = Decoder::new(DecodeConfig {
            fragment_timeout_ns: 1_000,
            ..DecodeConfig::default()
        });
        assert_eq!(
            skip(d.decode(RAW, 10_000, &frags[0])),
            SkipReason::FragmentHeld
        );
        assert_eq!(d.stats().fragment_sets_held, 1);
        // any later packet advances packet time and expires the set
        let other = ipv4_tcp_raw(b"x");
        tcp(d.decode(RAW, 11_000, &other));
        assert_eq!(d.stats().fragments_expired, 1);
        assert_eq!(d.stats().fragment_sets_held, 0);
        assert_eq!(
            skip(d.decode(RAW, 11_000, &frags[1])),
            SkipReason::FragmentHeld
        );
        // within the timeout: completes
        let mut d = Decoder::default();
        d.decode(RAW, 10_000, &frags[0]);
        assert_eq!(tcp(d.decode(RAW, 10_999, &frags[1])).payload, &body[..]);
    }

    #[test]
    fn fragment_limits() {
        let body = ipv4_tcp_body(64);
        let pkt = ipv4_tcp_raw(&body);
        let mut d = Decoder::new(DecodeConfig {
            max_fragment_sets: 1,
            ..DecodeConfig::default()
        });
        let a = fragment_v4(&pkt, 48);
        let mut pkt_b = pkt.clone();
        pkt_b[5] ^= 0x55; // another identification
        let b = fragment_v4(&pkt_b, 48);
        d.decode(RAW, 0, &a[0]);
        d.decode(RAW, 0, &b[0]); // evicts a
        assert_eq!(d.stats().fragment_sets_evicted, 1);
        assert_eq!(tcp(d.decode(RAW, 0, &b[1])).payload, &body[..]);

        let mut d = Decoder::new(DecodeConfig {
            max_fragment_bytes: 40,
            ..DecodeConfig::default()
        });
        assert_eq!(skip(d.decode(RAW, 0, &a[0])), SkipReason::FragmentDropped);
        assert_eq!(d.stats().fragment_bytes_held, 0);
    }

    #[test]
    fn truncated_fragment_is_not_reassembled() {
        let frags = fragment_v4(&ipv4_tcp_raw(&ipv4_tcp_body(64)), 48);
        let mut d = Decoder::default();
        let f = &frags[0];
        assert_eq!(
            skip(d.decode(RAW, 0, &f[..f.len() - 1])),
            SkipReason::Truncated
        );
        assert_eq!(d.stats().fragment_sets_held, 0);
        for f in &frags {
            all_prefixes(RAW, f);
        }
    }

    #[test]
    fn ipv6_fragments() {
        let body = ipv4_tcp_body(3000);
        let pkt = ipv6_tcp_raw(&body);
        let frags = fragment_v6(&pkt, 1232, 0x1234_5678);
        assert_eq!(frags.len(), 3);
        let (out, d) = run(&frags, RAW);
        assert_eq!(out[2].as_deref(), Some(&body[..]));
        assert_eq!(d.stats().fragments_reassembled, 1);
        let shuffled = vec![frags[1].clone(), frags[2].clone(), frags[0].clone()];
        let (out, _) = run(&shuffled, RAW);
        assert_eq!(out[2].as_deref(), Some(&body[..]));
        let seg_src = {
            let mut d = Decoder::default();
            d.decode(RAW, 0, &frags[0]);
            d.decode(RAW, 0, &frags[1]);
            let s = tcp(d.decode(RAW, 0, &frags[2]));
            (s.src, s.dst, s.dst_port)
        };
        assert_eq!(seg_src, (v6(SRC6), v6(DST6), 80));
    }

    #[test]
    fn ipv6_atomic_fragment_is_a_whole_packet() {
        let pkt = ipv6_tcp_raw(b"atomic");
        let frag = v6_fragment(&pkt, 6, 7, 0, false, &pkt[40..]);
        let mut d = Decoder::default();
        assert_eq!(tcp(d.decode(RAW, 0, &frag)).payload, b"atomic");
        assert_eq!(d.stats().fragments_reassembled, 0);
        assert_eq!(d.stats().fragment_sets_held, 0);
    }

    #[test]
    fn ipv6_fragment_inside_reassembled_datagram_is_malformed() {
        // The reassembled payload itself starts with a (non-atomic) fragment header.
        let inner_frag_hdr = [6u8, 0, 0, 1, 0, 0, 0, 1];
        let mut payload = inner_frag_hdr.to_vec();
        payload.extend_from_slice(&[0; 16]);
        let hdr = ipv6_tcp_raw(b"")[..40].to_vec();
        let f1 = v6_fragment(&hdr, 44, 9, 0, true, &payload[..16]);
        let f2 = v6_fragment(&hdr, 44, 9, 16, false, &payload[16..]);
        let mut d = Decoder::default();
        assert_eq!(skip(d.decode(RAW, 0, &f1)), SkipReason::FragmentHeld);
        assert_eq!(skip(d.decode(RAW, 0, &f2)), SkipReason::Malformed);
    }
}
