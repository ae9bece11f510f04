//! Tunnel decapsulation: VXLAN, GENEVE, GRE (versions 0 and 1, with ERSPAN I/II/III, Aruba
//! 802.11, PPP, MPLS), GRE-in-UDP, IP-in-IP, Teredo, AYIYA and GTP-U.
//!
//! Each tunnel layer goes through [`Ctx::enter`], which enforces `max_tunnel_depth` and counts
//! the tunnel; the segment reports the innermost tunnel with its outer IP addresses and
//! identifier (VNI, GRE key or PPTP call id, ERSPAN session, GTP TEID). UDP tunnels are matched
//! by the configured ports: VXLAN, GENEVE and GRE-in-UDP by destination port, Teredo, AYIYA and
//! GTP-U by either port (GTP-U peers often send from an ephemeral port). Teredo is also
//! recognised by shape on other ports (`teredo_heuristic`). A port match whose header does not
//! carry data (GTP signalling, AYIYA heartbeats, non-IPv6 Teredo) is plain `Udp`.

use super::bytes::{be16, be32, need, rest, u8_at};
use super::decoder::{Ctx, Layer, Step};
use super::ip::{self, IpCtx};
use super::link;
use super::types::{SkipReason, TunnelKind};

/// Enters a tunnel layer or ends the walk with `TunnelTooDeep`.
macro_rules! enter {
    ($ctx:expr, $layer:expr, $kind:expr, $ipc:expr, $id:expr) => {
        match $ctx.enter($layer, $kind, &$ipc, $id) {
            Ok(l) => l,
            Err(reason) => return Step::Skip(reason),
        }
    };
}

/// UDP payload: a tunnel on a configured port, or plain UDP.
pub(crate) fn udp<'d>(
    ctx: &mut Ctx<'_>,
    ipc: IpCtx,
    sp: u16,
    dp: u16,
    p: &'d [u8],
    layer: Layer,
) -> Step<'d> {
    let cfg = ctx.cfg;
    let either = |ports: &[u16]| ports.contains(&dp) || ports.contains(&sp);
    if cfg.vxlan_ports.contains(&dp) {
        return vxlan(ctx, ipc, p, layer);
    }
    if cfg.geneve_ports.contains(&dp) {
        return geneve(ctx, ipc, p, layer);
    }
    if cfg.gre_udp_ports.contains(&dp) {
        return gre(ctx, ipc, p, layer);
    }
    if either(&cfg.gtpu_ports) {
        return gtpu(ctx, ipc, p, layer);
    }
    if either(&cfg.teredo_ports) {
        return match teredo_inner(p) {
            Some(inner) => teredo(ctx, ipc, inner, layer),
            None => Step::Skip(SkipReason::Udp),
        };
    }
    if either(&cfg.ayiya_ports) {
        return ayiya(ctx, ipc, p, layer);
    }
    if cfg.teredo_heuristic && ipc.complete {
        if let Some(inner) = teredo_inner(p).filter(|i| looks_like_teredo_ipv6(i)) {
            return teredo(ctx, ipc, inner, layer);
        }
    }
    Step::Skip(SkipReason::Udp)
}

/// IPv4 (protocol 4) or IPv6 (protocol 41) directly in IP.
pub(crate) fn ip_in_ip<'d>(
    ctx: &mut Ctx<'_>,
    ipc: IpCtx,
    p: &'d [u8],
    layer: Layer,
    v6: bool,
) -> Step<'d> {
    let layer = enter!(ctx, layer, TunnelKind::IpInIp, ipc, None);
    if v6 {
        ip::ipv6(ctx, p, layer)
    } else {
        ip::ipv4(ctx, p, layer)
    }
}

/// VXLAN (RFC 7348): 8-byte header, VNI valid when the I flag is set, inner Ethernet.
fn vxlan<'d>(ctx: &mut Ctx<'_>, ipc: IpCtx, p: &'d [u8], layer: Layer) -> Step<'d> {
    let flags = need!(u8_at(p, 0));
    let vni = need!(be32(p, 4)) >> 8;
    let inner = need!(rest(p, 8));
    let id = (flags & 0x08 != 0).then_some(vni);
    let layer = enter!(ctx, layer, TunnelKind::Vxlan, ipc, id);
    link::ethernet(ctx, inner, layer)
}

const ETHERTYPE_TEB: u16 = 0x6558;

/// GENEVE (RFC 8926): version 0, options of `opt_len * 4` bytes, then the protocol type.
fn geneve<'d>(ctx: &mut Ctx<'_>, ipc: IpCtx, p: &'d [u8], layer: Layer) -> Step<'d> {
    let b0 = need!(u8_at(p, 0));
    if b0 >> 6 != 0 {
        return Step::Skip(SkipReason::Malformed);
    }
    let opt_len = usize::from(b0 & 0x3f) * 4;
    let proto = need!(be16(p, 2));
    let vni = need!(be32(p, 4)) >> 8;
    let inner = need!(rest(p, 8 + opt_len));
    let layer = enter!(ctx, layer, TunnelKind::Geneve, ipc, Some(vni));
    if proto == ETHERTYPE_TEB {
        link::ethernet(ctx, inner, layer)
    } else {
        link::ethertype(ctx, proto, inner, layer)
    }
}

const GRE_CSUM: u16 = 0x8000;
const GRE_ROUTING: u16 = 0x4000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQ: u16 = 0x1000;
const GRE_ACK: u16 = 0x0080;
const GRE_PROTO_PPP: u16 = 0x880b;
const GRE_PROTO_ERSPAN2: u16 = 0x88be;
const GRE_PROTO_ERSPAN3: u16 = 0x22eb;

/// Aruba's WLAN-over-GRE protocol types (802.11 frames inside).
fn is_aruba_wlan(proto: u16) -> bool {
    proto == 0x9000
        || (proto & 0x0f == 0 && (proto >> 8 == 0x82 || (0x8300..=0x8370).contains(&proto)))
}

/// GRE (IP protocol 47, or GRE-in-UDP). Version 0 (RFC 2784/2890) with optional checksum,
/// key and sequence number; version 1 (PPTP enhanced GRE) carrying PPP. The routing field of
/// RFC 1701 is not supported (`Malformed`).
pub(crate) fn gre<'d>(ctx: &mut Ctx<'_>, ipc: IpCtx, p: &'d [u8], layer: Layer) -> Step<'d> {
    let flags = need!(be16(p, 0));
    let proto = need!(be16(p, 2));
    if flags & GRE_ROUTING != 0 {
        return Step::Skip(SkipReason::Malformed);
    }
    let mut off = 4usize;
    let id = match flags & 0x7 {
        0 => {
            if flags & GRE_CSUM != 0 {
                off += 4;
            }
            let key = if flags & GRE_KEY != 0 {
                let k = need!(be32(p, off));
                off += 4;
                Some(k)
            } else {
                None
            };
            if flags & GRE_SEQ != 0 {
                off += 4;
            }
            key
        }
        1 => {
            if flags & GRE_KEY == 0 || proto != GRE_PROTO_PPP {
                return Step::Skip(SkipReason::Malformed);
            }
            let call_id = need!(be16(p, off + 2));
            off += 4;
            if flags & GRE_SEQ != 0 {
                off += 4;
            }
            if flags & GRE_ACK != 0 {
                off += 4;
            }
            Some(u32::from(call_id))
        }
        _ => return Step::Skip(SkipReason::Malformed),
    };
    let inner = need!(rest(p, off));
    match proto {
        GRE_PROTO_ERSPAN2 if flags & GRE_SEQ != 0 => erspan2(ctx, ipc, inner, layer),
        GRE_PROTO_ERSPAN2 => {
            // ERSPAN type I: no ERSPAN header, the mirrored frame follows directly.
            let layer = enter!(ctx, layer, TunnelKind::ErspanII, ipc, None);
            link::ethernet(ctx, inner, layer)
        }
        GRE_PROTO_ERSPAN3 => erspan3(ctx, ipc, inner, layer),
        _ => {
            let layer = enter!(ctx, layer, TunnelKind::Gre, ipc, id);
            match proto {
                ETHERTYPE_TEB => link::ethernet(ctx, inner, layer),
                GRE_PROTO_PPP => link::ppp(ctx, inner, layer),
                a if is_aruba_wlan(a) => wlan(ctx, inner, layer),
                other => link::ethertype(ctx, other, inner, layer),
            }
        }
    }
}

/// ERSPAN type II: 8-byte header (version, VLAN, session id in the low 10 bits of bytes
/// 2–3, index), then the mirrored Ethernet frame.
fn erspan2<'d>(ctx: &mut Ctx<'_>, ipc: IpCtx, p: &'d [u8], layer: Layer) -> Step<'d> {
    let session = need!(be16(p, 2)) & 0x03ff;
    let inner = need!(rest(p, 8));
    let layer = enter!(
        ctx,
        layer,
        TunnelKind::ErspanII,
        ipc,
        Some(u32::from(session))
    );
    link::ethernet(ctx, inner, layer)
}

/// ERSPAN type III: 12-byte header plus an 8-byte platform-specific subheader when the O bit
/// (last bit of byte 11) is set. Frame type 0 is Ethernet, 2 is IP.
fn erspan3<'d>(ctx: &mut Ctx<'_>, ipc: IpCtx, p: &'d [u8], layer: Layer) -> Step<'d> {
    let session = need!(be16(p, 2)) & 0x03ff;
    let word = need!(be16(p, 10));
    let frame_type = (word >> 10) & 0x1f;
    let hl = if word & 1 != 0 { 20 } else { 12 };
    let inner = need!(rest(p, hl));
    let layer = enter!(
        ctx,
        layer,
        TunnelKind::ErspanIII,
        ipc,
        Some(u32::from(session))
    );
    match frame_type {
        0 => link::ethernet(ctx, inner, layer),
        2 => ip::ip_any(ctx, inner, layer),
        _ => Step::Skip(SkipReason::NotIp),
    }
}

/// An 802.11 data frame (as Aruba tunnels them): header by flags, then LLC/SNAP.
fn wlan<'d>(ctx: &mut Ctx<'_>, p: &'d [u8], layer: Layer) -> Step<'d> {
    let fc0 = need!(u8_at(p, 0));
    let fc1 = need!(u8_at(p, 1));
    let frame_type = (fc0 >> 2) & 0x3;
    let subtype = fc0 >> 4;
    if frame_type != 2 || subtype & 0x4 != 0 || fc1 & 0x40 != 0 {
        // not data, a null-data frame, or encrypted
        return Step::Skip(SkipReason::NotIp);
    }
    let mut hl = 24;
    if fc1 & 0x3 == 0x3 {
        hl += 6; // fourth address (WDS)
    }
    if subtype & 0x8 != 0 {
        hl += 2; // QoS control
        if fc1 & 0x80 != 0 {
            hl += 4; // HT control
        }
    }
    link::llc(ctx, need!(rest(p, hl)), layer)
}

/// Skips Teredo's optional authentication (0x0001) and origin indication (0x0000) headers;
/// returns the encapsulated bytes if they start like an IPv6 packet.
fn teredo_inner(p: &[u8]) -> Option<&[u8]> {
    let mut off = 0usize;
    if be16(p, off)? == 0x0001 {
        let id_len = usize::from(u8_at(p, off + 2)?);
        let au_len = usize::from(u8_at(p, off + 3)?);
        off += 4 + id_len + au_len + 8 + 1;
    }
    if be16(p, off)? == 0x0000 {
        off += 8;
    }
    let inner = rest(p, off)?;
    (u8_at(inner, 0)? >> 4 == 6).then_some(inner)
}

/// Shape test for Teredo on non-Teredo ports: a whole IPv6 packet exactly filling the UDP
/// payload, with a source or destination in the Teredo prefix 2001:0::/32.
fn looks_like_teredo_ipv6(p: &[u8]) -> bool {
    const PREFIX: [u8; 4] = [0x20, 0x01, 0x00, 0x00];
    let Some(plen) = be16(p, 4) else {
        return false;
    };
    usize::from(plen) + 40 == p.len()
        && (p.get(8..12) == Some(&PREFIX[..]) || p.get(24..28) == Some(&PREFIX[..]))
}

fn teredo<'d>(ctx: &mut Ctx<'_>, ipc: IpCtx, inner: &'d [u8], layer: Layer) -> Step<'d> {
    let layer = enter!(ctx, layer, TunnelKind::Teredo, ipc, None);
    ip::ipv6(ctx, inner, layer)
}

/// AYIYA: 8 bytes, then an identity of 2^id_len bytes and a signature of sig_len * 4 bytes.
/// Only the forward opcode (1) carries a packet; next header 41 is IPv6, 4 is IPv4.
fn ayiya<'d>(ctx: &mut Ctx<'_>, ipc: IpCtx, p: &'d [u8], layer: Layer) -> Step<'d> {
    let b0 = need!(u8_at(p, 0));
    let b1 = need!(u8_at(p, 1));
    let opcode = need!(u8_at(p, 2)) & 0x0f;
    let next = need!(u8_at(p, 3));
    let hl = 8 + (1usize << (b0 >> 4)) + usize::from(b1 >> 4) * 4;
    if opcode != 1 {
        return Step::Skip(SkipReason::Udp);
    }
    let inner = need!(rest(p, hl));
    match next {
        41 => {
            let layer = enter!(ctx, layer, TunnelKind::Ayiya, ipc, None);
            ip::ipv6(ctx, inner, layer)
        }
        4 => {
            let layer = enter!(ctx, layer, TunnelKind::Ayiya, ipc, None);
            ip::ipv4(ctx, inner, layer)
        }
        _ => Step::Skip(SkipReason::NotIp),
    }
}

const GTP_GPDU: u8 = 255;

/// GTPv1-U: 8-byte header (version 1, PT = 1), 4 more bytes when any of E/S/PN is set, then
/// extension headers (length in 4-byte units, next type in the last byte) while E chains them.
/// Only G-PDUs (message type 255) carry user packets.
fn gtpu<'d>(ctx: &mut Ctx<'_>, ipc: IpCtx, p: &'d [u8], layer: Layer) -> Step<'d> {
    let b0 = need!(u8_at(p, 0));
    let msg_type = need!(u8_at(p, 1));
    let len = usize::from(need!(be16(p, 2)));
    let teid = need!(be32(p, 4));
    if b0 >> 5 != 1 || b0 & 0x10 == 0 || msg_type != GTP_GPDU {
        return Step::Skip(SkipReason::Udp);
    }
    let p = p.get(..len.saturating_add(8)).unwrap_or(p);
    let mut off = 8usize;
    if b0 & 0x07 != 0 {
        let mut next = need!(u8_at(p, 11));
        off = 12;
        if b0 & 0x04 == 0 {
            next = 0;
        }
        while next != 0 {
            let ext_len = usize::from(need!(u8_at(p, off))) * 4;
            if ext_len == 0 {
                return Step::Skip(SkipReason::Malformed);
            }
            next = need!(u8_at(p, off + ext_len - 1));
            off += ext_len;
        }
    }
    let inner = need!(rest(p, off));
    let layer = enter!(ctx, layer, TunnelKind::GtpU, ipc, Some(teid));
    match need!(u8_at(inner, 0)) >> 4 {
        4 => ip::ipv4(ctx, inner, layer),
        6 => ip::ipv6(ctx, inner, layer),
        _ => Step::Skip(SkipReason::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::testutil::*;
    use crate::decode::types::linktype::{ETHERNET, RAW};
    use crate::decode::types::{TunnelInfo, TunnelKind};
    use crate::decode::{DecodeConfig, Decoder};

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// Decodes `pkt`, expects TCP with payload `want` inside a tunnel of `kind` / `id` whose
    /// outer addresses are OUT_SRC4 → OUT_DST4, and checks every prefix.
    #[track_caller]
    fn check(lt: i32, pkt: &[u8], kind: TunnelKind, id: Option<u32>, want: &[u8]) {
        let mut d = Decoder::default();
        let s = tcp(d.decode(lt, 0, pkt));
        assert_eq!(s.payload, want);
        assert_eq!(
            s.tunnel,
            Some(TunnelInfo {
                kind,
                outer_src: v4(OUT_SRC4),
                outer_dst: v4(OUT_DST4),
                id
            })
        );
        assert_eq!(d.stats().tunnel(kind), 1);
        assert!(all_prefixes(lt, pkt) >= 1);
    }

    #[test]
    fn vxlan() {
        let inner = eth_ipv4_tcp(b"vx");
        let hdr = [0x08, 0, 0, 0, 0x00, 0x12, 0x34, 0x00];
        let pkt = eth_outer_udp(55555, 4789, &cat(&[&hdr, &inner]));
        check(ETHERNET, &pkt, TunnelKind::Vxlan, Some(0x1234), b"vx");
        let pkt = eth_outer_udp(55555, 8472, &cat(&[&hdr, &inner]));
        check(ETHERNET, &pkt, TunnelKind::Vxlan, Some(0x1234), b"vx");
        // the VXLAN port as *source* is not VXLAN
        let pkt = eth_outer_udp(4789, 55555, &cat(&[&hdr, &inner]));
        assert_eq!(
            skip(Decoder::default().decode(ETHERNET, 0, &pkt)),
            SkipReason::Udp
        );
    }

    #[test]
    fn geneve_with_options_and_ip_payload() {
        let inner = eth_ipv4_tcp(b"gnv");
        let mut hdr = vec![0x02, 0x00, 0x65, 0x58, 0xab, 0xcd, 0xef, 0x00];
        hdr.extend_from_slice(&[0x01, 0x02, 0x80, 0x01, 1, 2, 3, 4]); // 8 bytes of options
        let pkt = eth_outer_udp(1000, 6081, &cat(&[&hdr, &inner]));
        check(ETHERNET, &pkt, TunnelKind::Geneve, Some(0xabcdef), b"gnv");
        let hdr_ip = [0x00, 0x00, 0x08, 0x00, 0, 0, 7, 0];
        let pkt = eth_outer_udp(1000, 6081, &cat(&[&hdr_ip, &ipv4_tcp_raw(b"gip")]));
        check(ETHERNET, &pkt, TunnelKind::Geneve, Some(7), b"gip");
        let bad = eth_outer_udp(
            1000,
            6081,
            &cat(&[&[0x40, 0, 0x65, 0x58, 0, 0, 0, 0], &inner]),
        );
        assert_eq!(
            skip(Decoder::default().decode(ETHERNET, 0, &bad)),
            SkipReason::Malformed
        );
    }

    fn gre_hdr(flags: u16, proto: u16, extra: &[u8]) -> Vec<u8> {
        cat(&[&flags.to_be_bytes(), &proto.to_be_bytes(), extra])
    }

    #[test]
    fn gre_variants() {
        let ip4 = ipv4_tcp_raw(b"gre");
        // plain, IPv4 payload
        let pkt = outer_ipv4(47, &cat(&[&gre_hdr(0, 0x0800, &[]), &ip4]));
        check(RAW, &pkt, TunnelKind::Gre, None, b"gre");
        // checksum + key + sequence, transparent Ethernet bridging
        let extra = [0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 9];
        let pkt = outer_ipv4(
            47,
            &cat(&[&gre_hdr(0xb000, 0x6558, &extra), &eth_ipv4_tcp(b"teb")]),
        );
        check(RAW, &pkt, TunnelKind::Gre, Some(42), b"teb");
        // IPv6 payload, key only
        let pkt = outer_ipv4(
            47,
            &cat(&[
                &gre_hdr(0x2000, 0x86dd, &[0, 0, 1, 0]),
                &ipv6_tcp_raw(b"g6"),
            ]),
        );
        check(RAW, &pkt, TunnelKind::Gre, Some(256), b"g6");
        // MPLS payload
        let pkt = outer_ipv4(
            47,
            &cat(&[&gre_hdr(0, 0x8847, &[]), &[0, 0x01, 0x01, 0x40], &ip4]),
        );
        check(RAW, &pkt, TunnelKind::Gre, None, b"gre");
        // version 1 (PPTP) with PPP
        let v1 = cat(&[
            &gre_hdr(0x3081, 0x880b, &[0, 30, 0, 77, 0, 0, 0, 1, 0, 0, 0, 0]),
            &[0xff, 0x03, 0x00, 0x21],
            &ip4,
        ]);
        check(RAW, &outer_ipv4(47, &v1), TunnelKind::Gre, Some(77), b"gre");
        // routing bit and unknown versions are malformed; unknown payload is not IP
        let mut d = Decoder::default();
        let r = outer_ipv4(47, &cat(&[&gre_hdr(0x4000, 0x0800, &[0; 8]), &ip4]));
        assert_eq!(skip(d.decode(RAW, 0, &r)), SkipReason::Malformed);
        let v2 = outer_ipv4(47, &cat(&[&gre_hdr(0x0002, 0x0800, &[]), &ip4]));
        assert_eq!(skip(d.decode(RAW, 0, &v2)), SkipReason::Malformed);
        let other = outer_ipv4(47, &cat(&[&gre_hdr(0, 0x1234, &[]), &ip4]));
        assert_eq!(skip(d.decode(RAW, 0, &other)), SkipReason::NotIp);
    }

    #[test]
    fn gre_in_udp() {
        let pkt = eth_outer_udp(
            1,
            4754,
            &cat(&[&gre_hdr(0, 0x0800, &[]), &ipv4_tcp_raw(b"gu")]),
        );
        check(ETHERNET, &pkt, TunnelKind::Gre, None, b"gu");
    }

    #[test]
    fn gre_aruba_wlan() {
        let mut wlan = vec![0x88, 0x01, 0, 0];
        wlan.extend_from_slice(&[0; 18]); // 3 addresses
        wlan.extend_from_slice(&[0, 0]); // sequence control
        wlan.extend_from_slice(&[0, 0]); // QoS
        wlan.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        wlan.extend_from_slice(&ipv4_tcp_raw(b"wifi"));
        let pkt = outer_ipv4(47, &cat(&[&gre_hdr(0, 0x8200, &[]), &wlan]));
        check(RAW, &pkt, TunnelKind::Gre, None, b"wifi");
        let mut protected = wlan.clone();
        protected[1] |= 0x40;
        let pkt = outer_ipv4(47, &cat(&[&gre_hdr(0, 0x8200, &[]), &protected]));
        assert_eq!(
            skip(Decoder::default().decode(RAW, 0, &pkt)),
            SkipReason::NotIp
        );
    }

    #[test]
    fn erspan_types() {
        let frame = eth_ipv4_tcp(b"span");
        // type I: no sequence bit, no ERSPAN header
        let t1 = outer_ipv4(47, &cat(&[&gre_hdr(0, 0x88be, &[]), &frame]));
        check(RAW, &t1, TunnelKind::ErspanII, None, b"span");
        // type II: sequence bit + 8-byte header, session 0x155
        let e2 = [0x10, 0x00, 0x09, 0x55, 0, 0, 0, 0];
        let t2 = outer_ipv4(
            47,
            &cat(&[&gre_hdr(0x1000, 0x88be, &[0, 0, 0, 1]), &e2, &frame]),
        );
        check(RAW, &t2, TunnelKind::ErspanII, Some(0x155), b"span");
        // type III without and with the platform-specific subheader
        let e3 = [0x20, 0x00, 0x00, 0x07, 1, 2, 3, 4, 0, 0, 0x00, 0x00];
        let t3 = outer_ipv4(
            47,
            &cat(&[&gre_hdr(0x1000, 0x22eb, &[0, 0, 0, 1]), &e3, &frame]),
        );
        check(RAW, &t3, TunnelKind::ErspanIII, Some(7), b"span");
        let mut e3o = e3;
        e3o[11] = 0x01;
        let t3o = outer_ipv4(
            47,
            &cat(&[
                &gre_hdr(0x1000, 0x22eb, &[0, 0, 0, 1]),
                &e3o,
                &[9; 8],
                &frame,
            ]),
        );
        check(RAW, &t3o, TunnelKind::ErspanIII, Some(7), b"span");
        // type III carrying IP (frame type 2)
        let mut e3ip = e3;
        e3ip[10] = 2 << 2;
        let t3ip = outer_ipv4(
            47,
            &cat(&[
                &gre_hdr(0x1000, 0x22eb, &[0, 0, 0, 1]),
                &e3ip,
                &ipv4_tcp_raw(b"ip"),
            ]),
        );
        check(RAW, &t3ip, TunnelKind::ErspanIII, Some(7), b"ip");
    }

    #[test]
    fn ip_in_ip() {
        let pkt = outer_ipv4(4, &ipv4_tcp_raw(b"4in4"));
        check(RAW, &pkt, TunnelKind::IpInIp, None, b"4in4");
        let pkt = outer_ipv4(41, &ipv6_tcp_raw(b"6in4"));
        check(RAW, &pkt, TunnelKind::IpInIp, None, b"6in4");
    }

    #[test]
    fn teredo_plain_authenticated_and_origin() {
        let ip6 = ipv6_tcp_raw(b"teredo");
        let pkt = eth_outer_udp(3544, 50000, &ip6);
        check(ETHERNET, &pkt, TunnelKind::Teredo, None, b"teredo");
        let auth = [
            0x00, 0x01, 2, 1, 0xaa, 0xbb, 0xcc, 1, 2, 3, 4, 5, 6, 7, 8, 0,
        ];
        let origin = [0x00, 0x00, 0x12, 0x34, 1, 2, 3, 4];
        let pkt = eth_outer_udp(50000, 3544, &cat(&[&auth, &origin, &ip6]));
        check(ETHERNET, &pkt, TunnelKind::Teredo, None, b"teredo");
        let pkt = eth_outer_udp(50000, 3544, &cat(&[&origin, &ip6]));
        check(ETHERNET, &pkt, TunnelKind::Teredo, None, b"teredo");
        let pkt = eth_outer_udp(50000, 3544, b"\x45not ipv6");
        assert_eq!(
            skip(Decoder::default().decode(ETHERNET, 0, &pkt)),
            SkipReason::Udp
        );
    }

    #[test]
    fn teredo_heuristic_needs_prefix_and_exact_length() {
        let mut ip6 = ipv6_tcp_raw(b"heur");
        let mut d = Decoder::default();
        // not in 2001:0::/32: plain UDP
        let pkt = eth_outer_udp(40000, 50000, &ip6);
        assert_eq!(skip(d.decode(ETHERNET, 0, &pkt)), SkipReason::Udp);
        ip6[8..12].copy_from_slice(&[0x20, 0x01, 0, 0]);
        let pkt = eth_outer_udp(40000, 50000, &ip6);
        assert_eq!(
            tcp(d.decode(ETHERNET, 0, &pkt)).tunnel.unwrap().kind,
            TunnelKind::Teredo
        );
        let pkt = eth_outer_udp(40000, 50000, &cat(&[&ip6, b"x"]));
        assert_eq!(skip(d.decode(ETHERNET, 0, &pkt)), SkipReason::Udp);
        let mut off = Decoder::new(DecodeConfig {
            teredo_heuristic: false,
            ..DecodeConfig::default()
        });
        let pkt = eth_outer_udp(40000, 50000, &ip6);
        assert_eq!(skip(off.decode(ETHERNET, 0, &pkt)), SkipReason::Udp);
    }

    #[test]
    fn ayiya() {
        // identity length 2^4 = 16, signature 5 * 4 = 20, forward opcode, next header 41
        let mut hdr = vec![0x41, 0x52, 0x11, 41, 0, 0, 0, 0];
        hdr.extend_from_slice(&[0xaa; 16]);
        hdr.extend_from_slice(&[0xbb; 20]);
        let pkt = eth_outer_udp(5072, 5072, &cat(&[&hdr, &ipv6_tcp_raw(b"ayiya")]));
        check(ETHERNET, &pkt, TunnelKind::Ayiya, None, b"ayiya");
        let mut hdr4 = hdr.clone();
        hdr4[3] = 4;
        let pkt = eth_outer_udp(1, 5072, &cat(&[&hdr4, &ipv4_tcp_raw(b"ay4")]));
        check(ETHERNET, &pkt, TunnelKind::Ayiya, None, b"ay4");
        let mut hb = hdr.clone();
        hb[2] = 0x10; // heartbeat
        let pkt = eth_outer_udp(5072, 5072, &hb);
        assert_eq!(
            skip(Decoder::default().decode(ETHERNET, 0, &pkt)),
            SkipReason::Udp
        );
    }

    fn gtp(flags: u8, msg: u8, teid: u32, opt: &[u8], inner: &[u8]) -> Vec<u8> {
        let len = (opt.len() + inner.len()) as u16;
        cat(&[
            &[flags, msg],
            &len.to_be_bytes(),
            &teid.to_be_bytes(),
            opt,
            inner,
        ])
    }

    #[test]
    fn gtpu() {
        let ip4 = ipv4_tcp_raw(b"gtp");
        let pkt = eth_outer_udp(2152, 2152, &gtp(0x30, 255, 0xdead_beef, &[], &ip4));
        check(ETHERNET, &pkt, TunnelKind::GtpU, Some(0xdead_beef), b"gtp");
        // source port only, sequence number present
        let pkt = eth_outer_udp(2152, 5906, &gtp(0x32, 255, 1, &[0, 7, 0, 0], &ip4));
        check(ETHERNET, &pkt, TunnelKind::GtpU, Some(1), b"gtp");
        // extension header chain (PDU session container, then end)
        let opt = [0, 0, 0, 0x85, 1, 0x10, 0x01, 0x00];
        let pkt = eth_outer_udp(5906, 2152, &gtp(0x34, 255, 2, &opt, &ipv6_tcp_raw(b"g6")));
        check(ETHERNET, &pkt, TunnelKind::GtpU, Some(2), b"g6");
        // trailing bytes beyond the GTP length are cut
        let mut g = gtp(0x30, 255, 3, &[], &ip4);
        g.extend_from_slice(&[0; 7]);
        let pkt = eth_outer_udp(2152, 2152, &g);
        check(ETHERNET, &pkt, TunnelKind::GtpU, Some(3), b"gtp");
        // echo request and GTPv2 are not user data
        let mut d = Decoder::default();
        let echo = eth_outer_udp(2152, 2152, &gtp(0x32, 1, 0, &[0, 1, 0, 0], &[]));
        assert_eq!(skip(d.decode(ETHERNET, 0, &echo)), SkipReason::Udp);
        let v2 = eth_outer_udp(2152, 2152, &gtp(0x48, 255, 0, &[], &ip4));
        assert_eq!(skip(d.decode(ETHERNET, 0, &v2)), SkipReason::Udp);
        let zero_ext = [0, 0, 0, 0x85, 0, 0, 0, 0];
        let bad = eth_outer_udp(2152, 2152, &gtp(0x34, 255, 0, &zero_ext, &ip4));
        assert_eq!(skip(d.decode(ETHERNET, 0, &bad)), SkipReason::Malformed);
    }

    #[test]
    fn tunnel_depth_limit() {
        let mut pkt = ipv4_tcp_raw(b"deep");
        for _ in 0..5 {
            pkt = outer_ipv4(4, &pkt);
        }
        let mut d = Decoder::default(); // depth 4
        assert_eq!(skip(d.decode(RAW, 0, &pkt)), SkipReason::TunnelTooDeep);
        assert_eq!(d.stats().skipped(SkipReason::TunnelTooDeep), 1);
        let mut d = Decoder::new(DecodeConfig {
            max_tunnel_depth: 5,
            ..DecodeConfig::default()
        });
        let s = tcp(d.decode(RAW, 0, &pkt));
        assert_eq!(s.payload, b"deep");
        assert_eq!(d.stats().tunnel(TunnelKind::IpInIp), 5);
        let mut d = Decoder::new(DecodeConfig {
            max_tunnel_depth: 0,
            ..DecodeConfig::default()
        });
        let one = outer_ipv4(4, &ipv4_tcp_raw(b"x"));
        assert_eq!(skip(d.decode(RAW, 0, &one)), SkipReason::TunnelTooDeep);
    }

    #[test]
    fn deepest_nesting_fits_a_small_stack() {
        // TUNNEL_DEPTH_CEILING layers of VXLAN-in-GRE-over-VLAN, then MPLS pseudowires up to
        // the link nesting limit, decoded on a 256 KiB stack (debug build).
        let mut pkt = eth_ipv4_tcp(b"bottom");
        for _ in 0..crate::decode::decoder::MAX_LINK_NESTING {
            let mut mpls = vec![0, 1, 0x01, 0x40, 0, 0, 0, 0];
            mpls.extend_from_slice(&pkt);
            pkt = eth(0x8847, &mpls);
        }
        for i in 0..crate::decode::TUNNEL_DEPTH_CEILING {
            if i % 2 == 0 {
                let vx = cat(&[&[0x08, 0, 0, 0, 0, 0, i as u8, 0], &pkt]);
                pkt = eth(0x0800, &ipv4_udp_raw(OUT_SRC4, OUT_DST4, 1, 4789, &vx));
            } else {
                let g = cat(&[&gre_hdr(0, 0x6558, &[]), &pkt]);
                pkt = eth(0x8100, &cat(&[&[0, 9, 0x08, 0x00], &outer_ipv4(47, &g)]));
            }
        }
        let seg = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut d = Decoder::new(DecodeConfig {
                    max_tunnel_depth: usize::MAX,
                    ..DecodeConfig::default()
                });
                let r = d.decode(ETHERNET, 0, &pkt);
                let s = tcp(r);
                (s.payload.to_vec(), s.tunnel.map(|t| t.kind))
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(seg, (b"bottom".to_vec(), Some(TunnelKind::Vxlan)));
    }

    #[test]
    fn innermost_tunnel_is_reported() {
        // VXLAN inside GRE: the VXLAN layer (with the inner outer addresses) wins.
        let vx = cat(&[&[0x08, 0, 0, 0, 0, 0, 5, 0], &eth_ipv4_tcp(b"in")]);
        let udp = ipv4_udp_raw([172, 16, 0, 1], [172, 16, 0, 2], 9, 4789, &vx);
        let pkt = outer_ipv4(47, &cat(&[&gre_hdr(0, 0x0800, &[]), &udp]));
        let mut d = Decoder::default();
        let s = tcp(d.decode(RAW, 0, &pkt));
        let t = s.tunnel.unwrap();
        assert_eq!(t.kind, TunnelKind::Vxlan);
        assert_eq!(t.id, Some(5));
        assert_eq!(t.outer_src, v4([172, 16, 0, 1]));
        assert_eq!(d.stats().tunnel(TunnelKind::Gre), 1);
        assert_eq!(d.stats().tunnel(TunnelKind::Vxlan), 1);
    }

    #[test]
    fn fragmented_outer_tunnel_packet() {
        // A GTP-U packet whose outer IPv4 datagram is fragmented (as in the GTP corpus trace).
        let body: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
        let inner = ipv4_tcp_raw(&body);
        let outer = ipv4_udp_raw(
            OUT_SRC4,
            OUT_DST4,
            2152,
            2152,
            &gtp(0x30, 255, 9, &[], &inner),
        );
        let frags = fragment_v4(&outer, 1024);
        let mut d = Decoder::default();
        assert_eq!(skip(d.decode(RAW, 0, &frags[0])), SkipReason::FragmentHeld);
        assert_eq!(skip(d.decode(RAW, 0, &frags[1])), SkipReason::FragmentHeld);
        let s = tcp(d.decode(RAW, 0, &frags[2]));
        assert_eq!(s.payload, &body[..]);
        assert_eq!(s.tunnel.unwrap().id, Some(9));
    }

    #[test]
    fn nested_reassembly_inside_reassembled_tunnel() {
        // Outer datagram fragmented; inside it an IP-in-IP packet whose inner datagram is a
        // fragment too: both layers reassemble, the segment borrows the decoder's buffer.
        let body: Vec<u8> = (0..1500u32).map(|i| (i * 3) as u8).collect();
        let inner = ipv4_tcp_raw(&body);
        let inner_frags = fragment_v4(&inner, 800);
        let mut d = Decoder::default();
        let first = outer_ipv4(4, &inner_frags[0]);
        assert_eq!(skip(d.decode(RAW, 0, &first)), SkipReason::FragmentHeld);
        let second = outer_ipv4(4, &inner_frags[1]);
        let outer_frags = fragment_v4(&second, 400);
        let n = outer_frags.len();
        for f in &outer_frags[..n - 1] {
            assert_eq!(skip(d.decode(RAW, 0, f)), SkipReason::FragmentHeld);
        }
        let s = tcp(d.decode(RAW, 0, &outer_frags[n - 1]));
        assert_eq!(s.payload, &body[..]);
        assert_eq!(d.stats().fragments_reassembled, 2);
    }
}
