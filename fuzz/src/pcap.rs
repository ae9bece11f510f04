//! Packet framings for the `engine` target: classic pcap files (so real captures seed the
//! corpus as they are), and a compact framing for everything else.
//!
//! - pcap: the 24-byte global header (either byte order, micro- or nanosecond magic), then
//!   16-byte record headers; lengths are clamped to what is there (mutated inputs).
//! - compact (anything not starting with a pcap magic): byte 0 selects the link type as in
//!   [`crate::decode::LINKTYPES`]; then records `[dt: u8][len: u16 LE][len bytes]`, where `dt`
//!   advances packet time by `dt` ms (255: by 10 s).

use crate::decode::LINKTYPES;

/// One framed packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub ts_ns: u64,
    pub linktype: i32,
    pub data: &'a [u8],
    pub wire_len: u32,
}

/// Most packets taken from one input.
pub const MAX_PACKETS: usize = 20_000;

const BASE_TS: u64 = 1_700_000_000_000_000_000;

pub fn packets(input: &[u8]) -> Vec<Packet<'_>> {
    parse_pcap(input).unwrap_or_else(|| parse_compact(input))
}

fn parse_pcap(input: &[u8]) -> Option<Vec<Packet<'_>>> {
    let magic = input.get(..4)?;
    let (le, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => return None,
    };
    let u32_at = |b: &[u8], off: usize| -> Option<u32> {
        let w: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        })
    };
    let linktype = (u32_at(input, 20)? & 0x0fff_ffff) as i32;
    let mut rest = input.get(24..)?;
    let mut out = Vec::new();
    while rest.len() >= 16 && out.len() < MAX_PACKETS {
        let sec = u64::from(u32_at(rest, 0)?);
        let frac = u64::from(u32_at(rest, 4)?);
        let incl = u32_at(rest, 8)? as usize;
        let orig = u32_at(rest, 12)?;
        rest = &rest[16..];
        let take = incl.min(rest.len());
        let (data, tail) = rest.split_at(take);
        rest = tail;
        let ts_ns = sec.saturating_mul(1_000_000_000).saturating_add(if nanos {
            frac
        } else {
            frac.saturating_mul(1000)
        });
        out.push(Packet {
            ts_ns,
            linktype,
            data,
            wire_len: orig.max(take as u32),
        });
    }
    Some(out)
}

fn parse_compact(input: &[u8]) -> Vec<Packet<'_>> {
    let Some((&sel, mut rest)) = input.split_first() else {
        return Vec::new();
    };
    let linktype = LINKTYPES[(sel & 0x0f) as usize % LINKTYPES.len()];
    let mut ts = BASE_TS;
    let mut out = Vec::new();
    while rest.len() >= 3 && out.len() < MAX_PACKETS {
        let dt = rest[0];
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]]));
        rest = &rest[3..];
        let take = len.min(rest.len());
        let (data, tail) = rest.split_at(take);
        rest = tail;
        ts += if dt == 255 {
            10_000_000_000
        } else {
            u64::from(dt) * 1_000_000
        };
        out.push(Packet {
            ts_ns: ts,
            linktype,
            data,
            wire_len: take as u32,
        });
    }
    out
}
