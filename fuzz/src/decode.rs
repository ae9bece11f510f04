//! Target `decode`: packets of a chosen link type through [`Decoder::decode`].
//!
//! Input: byte 0 selects the link type (low nibble, modulo [`LINKTYPES`]), whether the rest is
//! one packet or several (bit 4), and the decoder config (bits 5-6: default, tiny fragment
//! limits, tunnel depth 1, tunnel depth 16). One packet: the rest of the input. Several: a
//! sequence of `[len: u16 LE][len bytes]` packets, 1 ms apart (fragments, expiry, eviction).
//!
//! Checks: no panic; every packet is counted exactly once (a segment or one skip reason);
//! the fragment table stays under its limits; a segment's payload lies within the packet
//! or the decoder's reassembly buffer (length-wise: never more than a datagram).

use apitap_sensor::decode::{DecodeConfig, Decoded, Decoder};

/// The link types the decoder supports, in selector order.
pub const LINKTYPES: [i32; 9] = [0, 1, 101, 108, 113, 228, 229, 239, 276];

/// Index in [`LINKTYPES`] of `linktype`, for corpus builders.
pub fn selector_for(linktype: i32) -> Option<u8> {
    LINKTYPES
        .iter()
        .position(|&l| l == linktype)
        .map(|i| i as u8)
}

fn config(variant: u8) -> DecodeConfig {
    let mut c = DecodeConfig::default();
    match variant & 3 {
        0 => {}
        1 => {
            c.max_fragment_sets = 2;
            c.max_fragment_bytes = 3000;
            c.fragment_timeout_ns = 5_000_000;
        }
        2 => c.max_tunnel_depth = 1,
        _ => c.max_tunnel_depth = 64, // clamped to the ceiling by the decoder
    }
    c
}

fn check(dec: &Decoder, packets: u64) {
    let s = dec.stats();
    assert_eq!(s.packets, packets, "packet counter");
    assert_eq!(
        s.tcp_segments + s.skipped_total(),
        s.packets,
        "every packet is a segment or one skip: {s:?}"
    );
    let c = dec.config();
    assert!(
        s.fragment_bytes_held <= c.max_fragment_bytes as u64,
        "fragment bytes {} over the limit {}",
        s.fragment_bytes_held,
        c.max_fragment_bytes
    );
    assert!(
        s.fragment_sets_held <= c.max_fragment_sets as u64,
        "fragment sets {} over the limit {}",
        s.fragment_sets_held,
        c.max_fragment_sets
    );
}

fn one(dec: &mut Decoder, linktype: i32, ts: u64, pkt: &[u8]) {
    match dec.decode(linktype, ts, pkt) {
        Decoded::Tcp(seg) => {
            // A reassembled datagram is at most 64 KiB of IP payload (jumbograms aside,
            // which need a hop-by-hop option and are still bounded by the captured bytes).
            assert!(
                seg.payload.len() <= pkt.len().max(65_535),
                "payload of {} bytes from a {}-byte packet",
                seg.payload.len(),
                pkt.len()
            );
            let _ = seg.has(apitap_sensor::decode::tcp_flags::SYN);
        }
        Decoded::Skipped(reason) => {
            let _ = reason.as_str();
        }
    }
}

pub fn run(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let linktype = LINKTYPES[(sel & 0x0f) as usize % LINKTYPES.len()];
    let mut dec = Decoder::new(config(sel >> 5));
    let mut ts: u64 = 1_700_000_000_000_000_000;
    if sel & 0x10 == 0 {
        one(&mut dec, linktype, ts, rest);
        check(&dec, 1);
        return;
    }
    let mut rest = rest;
    let mut n = 0u64;
    while rest.len() >= 2 && n < 4096 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        let take = len.min(rest.len());
        let (pkt, tail) = rest.split_at(take);
        rest = tail;
        one(&mut dec, linktype, ts, pkt);
        n += 1;
        check(&dec, n);
        ts += 1_000_000;
    }
}
