//! Link layers: Ethernet II and 802.3 LLC/SNAP, VLAN tag stacks (802.1Q, 802.1ad, QinQ and
//! deeper), MPLS label stacks (IP guessed by version nibble; Ethernet pseudowires with a
//! control word), PPPoE sessions and PPP, Linux SLL/SLL2, BSD NULL/LOOP and NFLOG.
//!
//! The innermost VLAN id seen on the way in is reported on the segment.

use super::bytes::{array, be16, be32, le16, need, rest, u8_at};
use super::decoder::{Ctx, Layer, Step, MAX_LINK_NESTING};
use super::ip;
use super::types::{linktype, SkipReason};

pub(crate) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(crate) const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD1: u16 = 0x9100;
const ETHERTYPE_QINQ_OLD2: u16 = 0x9200;
const ETHERTYPE_QINQ_OLD3: u16 = 0x9300;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MC: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;

/// Largest 802.3 length value; larger values are EtherTypes (from 0x0600).
const MAX_8023_LEN: u16 = 1500;

/// Entry point: dispatch on the pcap link type.
pub(crate) fn decode_link<'d>(ctx: &mut Ctx<'_>, lt: i32, data: &'d [u8]) -> Step<'d> {
    let layer = Layer::default();
    match lt {
        linktype::ETHERNET => ethernet(ctx, data, layer),
        linktype::RAW | linktype::RAW_ALT12 | linktype::RAW_ALT14 => ip::ip_any(ctx, data, layer),
        linktype::IPV4 => ip::ipv4(ctx, data, layer),
        linktype::IPV6 => ip::ipv6(ctx, data, layer),
        linktype::NULL | linktype::LOOP => null(ctx, data, layer),
        linktype::LINUX_SLL => sll(ctx, data, layer),
        linktype::LINUX_SLL2 => sll2(ctx, data, layer),
        linktype::NFLOG => nflog(ctx, data, layer),
        _ => Step::Skip(SkipReason::UnsupportedLinkType),
    }
}

/// Ethernet II, or 802.3 with an LLC header.
pub(crate) fn ethernet<'d>(ctx: &mut Ctx<'_>, data: &'d [u8], layer: Layer) -> Step<'d> {
    let et = need!(be16(data, 12));
    let p = need!(rest(data, 14));
    ethertype(ctx, et, p, layer)
}

/// Dispatch on an EtherType (or an 802.3 length), walking any VLAN tags first.
pub(crate) fn ethertype<'d>(ctx: &mut Ctx<'_>, et: u16, p: &'d [u8], layer: Layer) -> Step<'d> {
    let mut et = et;
    let mut p = p;
    let mut layer = layer;
    loop {
        match et {
            ETHERTYPE_IPV4 => return ip::ipv4(ctx, p, layer),
            ETHERTYPE_IPV6 => return ip::ipv6(ctx, p, layer),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD1 | ETHERTYPE_QINQ_OLD2
            | ETHERTYPE_QINQ_OLD3 => {
                let tci = need!(be16(p, 0));
                et = need!(be16(p, 2));
                p = need!(rest(p, 4));
                layer.vlan = Some(tci & 0x0fff);
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MC => return mpls(ctx, p, layer),
            ETHERTYPE_PPPOE_SESSION => return pppoe_session(ctx, p, layer),
            len if len <= MAX_8023_LEN => {
                // 802.3: the field is the frame length; cut padding with it.
                let p = p.get(..usize::from(len)).unwrap_or(p);
                return llc(ctx, p, layer);
            }
            _ => return Step::Skip(SkipReason::NotIp),
        }
    }
}

/// 802.2 LLC: only SNAP with an EtherType carries IP.
pub(crate) fn llc<'d>(ctx: &mut Ctx<'_>, p: &'d [u8], layer: Layer) -> Step<'d> {
    if need!(array::<3>(p, 0)) != [0xaa, 0xaa, 0x03] {
        return Step::Skip(SkipReason::NotIp);
    }
    let et = need!(be16(p, 6));
    if et <= MAX_8023_LEN {
        return Step::Skip(SkipReason::NotIp);
    }
    ethertype(ctx, et, need!(rest(p, 8)), layer)
}

/// MPLS label stack. After bottom of stack: explicit-null labels name the IP version,
/// otherwise the first nibble decides (4, 6, or 0 = pseudowire control word + Ethernet).
fn mpls<'d>(ctx: &mut Ctx<'_>, p: &'d [u8], layer: Layer) -> Step<'d> {
    let mut p = p;
    let label = loop {
        let entry = need!(be32(p, 0));
        p = need!(rest(p, 4));
        if entry & 0x100 != 0 {
            break entry >> 12;
        }
    };
    match label {
        0 => return ip::ipv4(ctx, p, layer),
        2 => return ip::ipv6(ctx, p, layer),
        _ => {}
    }
    match need!(u8_at(p, 0)) >> 4 {
        4 => ip::ipv4(ctx, p, layer),
        6 => ip::ipv6(ctx, p, layer),
        0 => {
            if layer.nest >= MAX_LINK_NESTING {
                return Step::Skip(SkipReason::TunnelTooDeep);
            }
            let layer = Layer {
                nest: layer.nest + 1,
                ..layer
            };
            ethernet(ctx, need!(rest(p, 4)), layer)
        }
        _ => Step::Skip(SkipReason::NotIp),
    }
}

/// PPPoE session stage: 6-byte header, then PPP.
fn pppoe_session<'d>(ctx: &mut Ctx<'_>, p: &'d [u8], layer: Layer) -> Step<'d> {
    let ver_type = need!(u8_at(p, 0));
    let code = need!(u8_at(p, 1));
    let len = usize::from(need!(be16(p, 4)));
    if ver_type != 0x11 || code != 0 {
        return Step::Skip(SkipReason::Malformed);
    }
    let body = need!(rest(p, 6));
    let body = body.get(..len).unwrap_or(body);
    ppp(ctx, body, layer)
}

/// PPP: optional address/control (FF 03), then a 1- or 2-byte protocol field.
pub(crate) fn ppp<'d>(ctx: &mut Ctx<'_>, p: &'d [u8], layer: Layer) -> Step<'d> {
    let p = if p.starts_with(&[0xff, 0x03]) {
        need!(rest(p, 2))
    } else {
        p
    };
    let first = need!(u8_at(p, 0));
    let (proto, hl) = if first & 1 == 1 {
        (u16::from(first), 1)
    } else {
        (need!(be16(p, 0)), 2)
    };
    let body = need!(rest(p, hl));
    match proto {
        0x0021 => ip::ipv4(ctx, body, layer),
        0x0057 => ip::ipv6(ctx, body, layer),
        _ => Step::Skip(SkipReason::NotIp),
    }
}

const ARPHRD_NETLINK: u16 = 824;
const SLL_PROTO_LLC: u16 = 0x0004;

/// Linux cooked capture v1: 16-byte header, protocol at offset 14.
fn sll<'d>(ctx: &mut Ctx<'_>, data: &'d [u8], layer: Layer) -> Step<'d> {
    let hatype = need!(be16(data, 2));
    let proto = need!(be16(data, 14));
    sll_payload(ctx, hatype, proto, need!(rest(data, 16)), layer)
}

/// Linux cooked capture v2: 20-byte header, protocol at offset 0.
fn sll2<'d>(ctx: &mut Ctx<'_>, data: &'d [u8], layer: Layer) -> Step<'d> {
    let proto = need!(be16(data, 0));
    let hatype = need!(be16(data, 8));
    sll_payload(ctx, hatype, proto, need!(rest(data, 20)), layer)
}

fn sll_payload<'d>(
    ctx: &mut Ctx<'_>,
    hatype: u16,
    proto: u16,
    p: &'d [u8],
    layer: Layer,
) -> Step<'d> {
    if hatype == ARPHRD_NETLINK {
        return Step::Skip(SkipReason::NotIp);
    }
    match proto {
        SLL_PROTO_LLC => llc(ctx, p, layer),
        // Other small values are Linux pseudo-protocols (raw 802.3, CAN, ...), not lengths.
        p_ if p_ <= MAX_8023_LEN => Step::Skip(SkipReason::NotIp),
        _ => ethertype(ctx, proto, p, layer),
    }
}

/// BSD NULL/LOOP: a 4-byte address family in host order (NULL) or network order (LOOP); both
/// orders are accepted for either link type.
fn null<'d>(ctx: &mut Ctx<'_>, data: &'d [u8], layer: Layer) -> Step<'d> {
    let fam = need!(array::<4>(data, 0));
    let le = u32::from_le_bytes(fam);
    let be = u32::from_be_bytes(fam);
    let is = |v: u32| le == v || be == v;
    let p = need!(rest(data, 4));
    if is(2) {
        ip::ipv4(ctx, p, layer)
    } else if is(24) || is(28) || is(30) {
        ip::ipv6(ctx, p, layer)
    } else {
        Step::Skip(SkipReason::NotIp)
    }
}

const NFULA_PAYLOAD: u16 = 9;

/// NFLOG: 4-byte header, then TLVs (little-endian length including the 4-byte TLV header,
/// little-endian type, padded to 4 bytes); the NFULA_PAYLOAD TLV holds the IP packet.
fn nflog<'d>(ctx: &mut Ctx<'_>, data: &'d [u8], layer: Layer) -> Step<'d> {
    let tlvs = need!(rest(data, 4));
    let mut off = 0usize;
    while off < tlvs.len() {
        let len = usize::from(need!(le16(tlvs, off)));
        let ty = need!(le16(tlvs, off + 2));
        if len < 4 {
            return Step::Skip(SkipReason::Malformed);
        }
        if ty & 0x7fff == NFULA_PAYLOAD {
            let v = need!(rest(tlvs, off + 4));
            let v = v.get(..len - 4).unwrap_or(v);
            return ip::ip_any(ctx, v, layer);
        }
        off = off.saturating_add((len + 3) & !3);
    }
    Step::Skip(SkipReason::NotIp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::testutil::*;
    use crate::decode::types::linktype::*;
    use crate::decode::Decoder;

    fn vlan(tci: u16, et: u16) -> Vec<u8> {
        let mut v = tci.to_be_bytes().to_vec();
        v.extend_from_slice(&et.to_be_bytes());
        v
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn ethernet_ipv4_and_ipv6() {
        let mut d = Decoder::default();
        let pkt4 = eth_ipv4_tcp(b"a");
        assert_eq!(tcp(d.decode(ETHERNET, 0, &pkt4)).payload, b"a");
        let pkt = eth(ETHERTYPE_IPV6, &ipv6_tcp_raw(b"b"));
        assert_eq!(tcp(d.decode(ETHERNET, 0, &pkt)).payload, b"b");
        assert_eq!(all_prefixes(ETHERNET, &pkt), 2);
    }

    #[test]
    fn non_ip_ethernet() {
        let mut d = Decoder::default();
        let arp = eth(0x0806, &[0; 28]);
        assert_eq!(skip(d.decode(ETHERNET, 0, &arp)), SkipReason::NotIp);
        // 802.3 + LLC (STP)
        let stp = eth(38, &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]);
        assert_eq!(skip(d.decode(ETHERNET, 0, &stp)), SkipReason::NotIp);
        assert_eq!(d.stats().skipped(SkipReason::NotIp), 2);
    }

    #[test]
    fn llc_snap_carries_ip() {
        let ip = ipv4_tcp_raw(b"snap");
        let mut body = vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
        body.extend_from_slice(&ip);
        let mut pkt = eth(body.len() as u16, &body);
        pkt.extend_from_slice(&[0; 4]); // padding beyond the 802.3 length
        let mut d = Decoder::default();
        assert_eq!(tcp(d.decode(ETHERNET, 0, &pkt)).payload, b"snap");
    }

    #[test]
    fn vlan_stacks_report_innermost_id() {
        let ip = ipv4_tcp_raw(b"v");
        let mut d = Decoder::default();
        let one = eth(ETHERTYPE_VLAN, &cat(&[&vlan(0x2064, 0x0800), &ip]));
        assert_eq!(tcp(d.decode(ETHERNET, 0, &one)).vlan, Some(100));
        let qinq = eth(
            ETHERTYPE_QINQ,
            &cat(&[&vlan(10, ETHERTYPE_VLAN), &vlan(20, 0x0800), &ip]),
        );
        assert_eq!(tcp(d.decode(ETHERNET, 0, &qinq)).vlan, Some(20));
        let qinqinq = eth(
            ETHERTYPE_VLAN,
            &cat(&[
                &vlan(1, ETHERTYPE_VLAN),
                &vlan(2, ETHERTYPE_QINQ_OLD1),
                &vlan(3, 0x86dd),
                &ipv6_tcp_raw(b"6"),
            ]),
        );
        let s = tcp(d.decode(ETHERNET, 0, &qinqinq));
        assert_eq!((s.vlan, s.payload), (Some(3), &b"6"[..]));
        assert_eq!(all_prefixes(ETHERNET, &qinq), 2);
        // a long stack of tags is just a loop
        let mut deep = Vec::new();
        for i in 0..200u16 {
            deep.extend_from_slice(&vlan(i, ETHERTYPE_VLAN));
        }
        deep.extend_from_slice(&vlan(999, 0x0800));
        deep.extend_from_slice(&ip);
        assert_eq!(
            tcp(d.decode(ETHERNET, 0, &eth(ETHERTYPE_VLAN, &deep))).vlan,
            Some(999)
        );
    }

    fn mpls_label(label: u32, bottom: bool) -> [u8; 4] {
        ((label << 12) | (u32::from(bottom) << 8) | 64).to_be_bytes()
    }

    #[test]
    fn mpls_stacks() {
        let mut d = Decoder::default();
        let ip4 = ipv4_tcp_raw(b"m4");
        let ip6 = ipv6_tcp_raw(b"m6");
        let one = eth(ETHERTYPE_MPLS, &cat(&[&mpls_label(100, true), &ip4]));
        assert_eq!(tcp(d.decode(ETHERNET, 0, &one)).payload, b"m4");
        let two = eth(
            ETHERTYPE_MPLS,
            &cat(&[&mpls_label(100, false), &mpls_label(200, true), &ip6]),
        );
        assert_eq!(tcp(d.decode(ETHERNET, 0, &two)).payload, b"m6");
        // explicit null labels
        let null6 = eth(ETHERTYPE_MPLS, &cat(&[&mpls_label(2, true), &ip6]));
        assert_eq!(tcp(d.decode(ETHERNET, 0, &null6)).payload, b"m6");
        // MPLS inside VLAN
        let in_vlan = eth(
            ETHERTYPE_VLAN,
            &cat(&[&vlan(7, ETHERTYPE_MPLS), &mpls_label(5, true), &ip4]),
        );
        let s = tcp(d.decode(ETHERNET, 0, &in_vlan));
        assert_eq!((s.vlan, s.payload), (Some(7), &b"m4"[..]));
        // Ethernet pseudowire with control word
        let pw = eth(
            ETHERTYPE_MPLS,
            &cat(&[&mpls_label(16, true), &[0, 0, 0, 0], &eth_ipv4_tcp(b"pw")]),
        );
        assert_eq!(tcp(d.decode(ETHERNET, 0, &pw)).payload, b"pw");
        // unknown payload
        let junk = eth(ETHERTYPE_MPLS, &cat(&[&mpls_label(16, true), &[0x90; 30]]));
        assert_eq!(skip(d.decode(ETHERNET, 0, &junk)), SkipReason::NotIp);
        assert_eq!(all_prefixes(ETHERNET, &two), 3);
    }

    #[test]
    fn mpls_pseudowire_nesting_is_bounded() {
        let mut pkt = eth_ipv4_tcp(b"deep");
        for _ in 0..20 {
            pkt = eth(
                ETHERTYPE_MPLS,
                &cat(&[&mpls_label(16, true), &[0; 4], &pkt]),
            );
        }
        let mut d = Decoder::default();
        assert_eq!(skip(d.decode(ETHERNET, 0, &pkt)), SkipReason::TunnelTooDeep);
    }

    #[test]
    fn pppoe_session() {
        let ip = ipv4_tcp_raw(b"ppp");
        let mut body = vec![0x11, 0x00, 0x12, 0x34];
        body.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
        body.extend_from_slice(&[0x00, 0x21]);
        body.extend_from_slice(&ip);
        let pkt = eth(ETHERTYPE_PPPOE_SESSION, &body);
        let mut d = Decoder::default();
        assert_eq!(tcp(d.decode(ETHERNET, 0, &pkt)).payload, b"ppp");
        let mut lcp = body.clone();
        lcp[6] = 0xc0;
        assert_eq!(
            skip(d.decode(ETHERNET, 0, &eth(ETHERTYPE_PPPOE_SESSION, &lcp))),
            SkipReason::NotIp
        );
        all_prefixes(ETHERNET, &pkt);
    }

    #[test]
    fn linux_sll_and_sll2() {
        let ip = ipv4_tcp_raw(b"sll");
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&ip);
        let mut d = Decoder::default();
        assert_eq!(tcp(d.decode(LINUX_SLL, 0, &sll)).payload, b"sll");
        // SLL with a VLAN tag left in place
        let mut sllv = sll[..14].to_vec();
        sllv.extend_from_slice(&[0x81, 0x00]);
        sllv.extend_from_slice(&vlan(42, 0x0800));
        sllv.extend_from_slice(&ip);
        assert_eq!(tcp(d.decode(LINUX_SLL, 0, &sllv)).vlan, Some(42));
        let mut sll2 = vec![
            0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend_from_slice(&ipv6_tcp_raw(b"sll2"));
        assert_eq!(tcp(d.decode(LINUX_SLL2, 0, &sll2)).payload, b"sll2");
        let mut arp = sll[..16].to_vec();
        arp[14] = 0x08;
        arp[15] = 0x06;
        assert_eq!(skip(d.decode(LINUX_SLL, 0, &arp)), SkipReason::NotIp);
        assert_eq!(all_prefixes(LINUX_SLL, &sll), 4);
        assert_eq!(all_prefixes(LINUX_SLL2, &sll2), 5);
    }

    #[test]
    fn null_and_loop_families_in_both_orders() {
        let ip4 = ipv4_tcp_raw(b"n4");
        let ip6 = ipv6_tcp_raw(b"n6");
        let mut d = Decoder::default();
        for lt in [NULL, LOOP] {
            for fam in [[2, 0, 0, 0], [0, 0, 0, 2]] {
                let p = cat(&[&fam, &ip4]);
                assert_eq!(tcp(d.decode(lt, 0, &p)).payload, b"n4");
            }
            for af in [24u32, 28, 30] {
                for fam in [af.to_le_bytes(), af.to_be_bytes()] {
                    let p = cat(&[&fam, &ip6]);
                    assert_eq!(tcp(d.decode(lt, 0, &p)).payload, b"n6");
                }
            }
            let p = cat(&[&[7, 0, 0, 0], &ip4]);
            assert_eq!(skip(d.decode(lt, 0, &p)), SkipReason::NotIp);
        }
        assert_eq!(all_prefixes(NULL, &cat(&[&[2, 0, 0, 0], &ip4])), 3);
    }

    fn tlv(ty: u16, v: &[u8]) -> Vec<u8> {
        let mut t = ((v.len() + 4) as u16).to_le_bytes().to_vec();
        t.extend_from_slice(&ty.to_le_bytes());
        t.extend_from_slice(v);
        while t.len() & 3 != 0 {
            t.push(0);
        }
        t
    }

    #[test]
    fn nflog_payload_tlv() {
        let ip = ipv4_tcp_raw(b"nflog!");
        let pkt = cat(&[
            &[2, 0, 0, 0],
            &tlv(1, &[0x08, 0x00, 3, 0]), // packet header
            &tlv(10, b"prefix\0"),        // prefix, needs padding
            &tlv(NFULA_PAYLOAD, &ip),
        ]);
        let mut d = Decoder::default();
        assert_eq!(tcp(d.decode(NFLOG, 0, &pkt)).payload, b"nflog!");
        let no_payload = cat(&[&[2, 0, 0, 0], &tlv(1, &[0, 0, 0, 0])]);
        assert_eq!(skip(d.decode(NFLOG, 0, &no_payload)), SkipReason::NotIp);
        let bad = cat(&[&[2, 0, 0, 0], &[2, 0, 9, 0]]);
        assert_eq!(skip(d.decode(NFLOG, 0, &bad)), SkipReason::Malformed);
        all_prefixes(NFLOG, &pkt);
    }

    #[test]
    fn raw_link_types() {
        let ip4 = ipv4_tcp_raw(b"r");
        let mut d = Decoder::default();
        for lt in [RAW, RAW_ALT12, RAW_ALT14, IPV4] {
            assert_eq!(tcp(d.decode(lt, 0, &ip4)).payload, b"r");
        }
        assert_eq!(skip(d.decode(IPV6, 0, &ip4)), SkipReason::Malformed);
        assert_eq!(skip(d.decode(RAW, 0, &[0x10; 40])), SkipReason::Malformed);
        assert_eq!(
            skip(d.decode(147, 0, &ip4)),
            SkipReason::UnsupportedLinkType
        );
    }
}
