//! Packet bytes: Ethernet (optionally 802.1Q-tagged), IPv4 and TCP headers with correct
//! checksums, optional VXLAN wrapping (outer Ethernet/IPv4/UDP 4789), and the classic pcap file
//! format (microsecond timestamps, Ethernet link type).
//!
//! Invariants: every frame written is complete (caplen == wire length), checksums are exact,
//! and one reusable buffer is used per writer so writing allocates nothing per packet.

use std::io::{self, Write};

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// The VXLAN UDP port (IANA).
pub const VXLAN_PORT: u16 = 4789;

/// How frames are wrapped on the monitoring link.
#[derive(Clone, Debug, Default)]
pub struct Wrap {
    /// 802.1Q tag on the (inner) Ethernet frame.
    pub vlan: Option<u16>,
    /// VXLAN tunnel (as cloud traffic mirroring delivers it).
    pub vxlan: Option<Vxlan>,
}

/// A VXLAN tunnel between two VTEPs.
#[derive(Clone, Debug)]
pub struct Vxlan {
    pub vni: u32,
    pub outer_src: [u8; 4],
    pub outer_dst: [u8; 4],
}

/// One TCP segment's header fields.
#[derive(Clone, Copy, Debug)]
pub struct TcpSeg {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub ttl: u8,
    pub ip_id: u16,
}

/// Ones' complement sum of big-endian 32-bit words (zero-padded), folded by [`fold`].
pub fn sum32(mut sum: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        sum += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut b = [0u8; 4];
        b[..rem.len()].copy_from_slice(rem);
        sum += u64::from(u32::from_be_bytes(b));
    }
    sum
}

/// Folds a [`sum32`] into the 16-bit ones' complement checksum.
pub fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The classic pcap global header: microsecond magic, v2.4, snaplen 262144, Ethernet.
pub fn pcap_header() -> [u8; 24] {
    let mut gh = [0u8; 24];
    gh[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    gh[4..6].copy_from_slice(&2u16.to_le_bytes());
    gh[6..8].copy_from_slice(&4u16.to_le_bytes());
    gh[16..20].copy_from_slice(&262_144u32.to_le_bytes());
    gh[20..24].copy_from_slice(&1u32.to_le_bytes());
    gh
}

/// Appends an IPv4 header (no options, DF set) with its checksum.
fn ipv4(
    f: &mut Vec<u8>,
    total_len: usize,
    id: u16,
    ttl: u8,
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
) {
    let at = f.len();
    f.extend_from_slice(&[0x45, 0x00]);
    f.extend_from_slice(&(total_len as u16).to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&[0x40, 0x00, ttl, proto, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    let c = fold(sum32(0, &f[at..at + 20]));
    f[at + 10..at + 12].copy_from_slice(&c.to_be_bytes());
}

/// Writes packets into a classic pcap stream, counting what it wrote.
pub struct PcapWriter<W: Write> {
    out: W,
    frame: Vec<u8>,
    wrap: Wrap,
    /// Packets written.
    pub packets: u64,
    /// Bytes written, file header included.
    pub file_bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header.
    pub fn new(mut out: W, wrap: Wrap) -> io::Result<Self> {
        out.write_all(&pcap_header())?;
        Ok(PcapWriter {
            out,
            frame: Vec::with_capacity(2048),
            wrap,
            packets: 0,
            file_bytes: 24,
        })
    }

    /// Writes one TCP segment at `ts_us` (µs since the Unix epoch). SYN segments carry the
    /// MSS 1460 / window scale 7 / SACK-permitted options.
    pub fn tcp(&mut self, ts_us: u64, s: &TcpSeg, payload: &[u8]) -> io::Result<()> {
        let f = &mut self.frame;
        f.clear();
        let outer = if self.wrap.vxlan.is_some() {
            14 + 20 + 8 + 8
        } else {
            0
        };
        f.resize(outer, 0);
        let inner_start = f.len();
        f.extend_from_slice(&s.dst_mac);
        f.extend_from_slice(&s.src_mac);
        if let Some(vid) = self.wrap.vlan {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
        }
        f.extend_from_slice(&[0x08, 0x00]);
        let syn = s.flags & SYN != 0;
        let tcp_hlen = if syn { 32 } else { 20 };
        let ip_at = f.len();
        ipv4(
            f,
            20 + tcp_hlen + payload.len(),
            s.ip_id,
            s.ttl,
            6,
            s.src,
            s.dst,
        );
        let tcp_at = f.len();
        f.extend_from_slice(&s.sport.to_be_bytes());
        f.extend_from_slice(&s.dport.to_be_bytes());
        f.extend_from_slice(&s.seq.to_be_bytes());
        f.extend_from_slice(&(if s.flags & ACK != 0 { s.ack } else { 0 }).to_be_bytes());
        f.push(((tcp_hlen / 4) as u8) << 4);
        f.push(s.flags);
        f.extend_from_slice(&s.window.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0]);
        if syn {
            // MSS 1460, NOP, window scale 7, NOP, NOP, SACK permitted.
            f.extend_from_slice(&[2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2]);
        }
        f.extend_from_slice(payload);
        let tcp_len = (tcp_hlen + payload.len()) as u64;
        let pseudo = u64::from(u32::from_be_bytes(s.src))
            + u64::from(u32::from_be_bytes(s.dst))
            + 6
            + tcp_len;
        let c = fold(sum32(pseudo, &f[tcp_at..]));
        f[tcp_at + 16..tcp_at + 18].copy_from_slice(&c.to_be_bytes());
        debug_assert_eq!(f.len() - ip_at, 20 + tcp_len as usize);

        if let Some(vx) = &self.wrap.vxlan {
            let inner_len = f.len() - inner_start;
            let mut o = Vec::with_capacity(outer);
            o.extend_from_slice(&[0x02, 0x42, 0xc6, 0x13, 0xfe, 0x02]);
            o.extend_from_slice(&[0x02, 0x42, 0xc6, 0x13, 0xfe, 0x01]);
            o.extend_from_slice(&[0x08, 0x00]);
            // Outer IP id and UDP source port: a hash of the inner flow, as VTEPs do.
            let h = (u32::from(s.sport) ^ u32::from(s.dport)).wrapping_mul(0x9e37_79b1)
                ^ u32::from_be_bytes(s.src)
                ^ u32::from_be_bytes(s.dst);
            ipv4(
                &mut o,
                20 + 8 + 8 + inner_len,
                s.ip_id,
                64,
                17,
                vx.outer_src,
                vx.outer_dst,
            );
            o.extend_from_slice(&(49_152 + (h % 16_384) as u16).to_be_bytes());
            o.extend_from_slice(&VXLAN_PORT.to_be_bytes());
            o.extend_from_slice(&((8 + 8 + inner_len) as u16).to_be_bytes());
            o.extend_from_slice(&[0, 0]); // UDP checksum 0: allowed over IPv4
            o.extend_from_slice(&[0x08, 0, 0, 0]);
            o.extend_from_slice(&(vx.vni << 8).to_be_bytes());
            f[..outer].copy_from_slice(&o);
        }

        let len = f.len() as u32;
        let mut hdr = [0u8; 16];
        hdr[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        hdr[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        hdr[8..12].copy_from_slice(&len.to_le_bytes());
        hdr[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&hdr)?;
        self.out.write_all(f)?;
        self.packets += 1;
        self.file_bytes += 16 + u64::from(len);
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(flags: u8) -> TcpSeg {
        TcpSeg {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src: [198, 18, 0, 1],
            dst: [198, 19, 255, 10],
            sport: 40_000,
            dport: 80,
            seq: 1000,
            ack: 2000,
            flags,
            window: 502,
            ttl: 64,
            ip_id: 7,
        }
    }

    #[test]
    fn checksums_verify_to_zero() {
        let mut w = PcapWriter::new(Vec::new(), Wrap::default()).unwrap();
        w.tcp(1_000_000, &seg(ACK | PSH), b"GET / HTTP/1.1\r\n\r\n")
            .unwrap();
        let buf = w.finish().unwrap();
        let f = &buf[24 + 16..];
        assert_eq!(f.len(), 14 + 20 + 20 + 18);
        assert_eq!(fold(sum32(0, &f[14..34])), 0, "IPv4 header checksum");
        let tcp = &f[34..];
        let pseudo = u64::from(u32::from_be_bytes([198, 18, 0, 1]))
            + u64::from(u32::from_be_bytes([198, 19, 255, 10]))
            + 6
            + tcp.len() as u64;
        assert_eq!(fold(sum32(pseudo, tcp)), 0, "TCP checksum");
    }

    #[test]
    fn vlan_and_vxlan_layers_are_where_they_belong() {
        let wrap = Wrap {
            vlan: Some(42),
            vxlan: Some(Vxlan {
                vni: 0x1234,
                outer_src: [198, 19, 255, 200],
                outer_dst: [198, 19, 255, 201],
            }),
        };
        let mut w = PcapWriter::new(Vec::new(), wrap).unwrap();
        w.tcp(0, &seg(SYN), b"").unwrap();
        let buf = w.finish().unwrap();
        let f = &buf[40..];
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert_eq!(f[23], 17, "outer UDP");
        assert_eq!(&f[36..38], &VXLAN_PORT.to_be_bytes());
        assert_eq!(&f[42..50], &[0x08, 0, 0, 0, 0, 0x12, 0x34, 0]);
        let inner = &f[50..];
        assert_eq!(&inner[12..16], &[0x81, 0x00, 0, 42]);
        assert_eq!(&inner[16..18], &[0x08, 0x00]);
        assert_eq!(
            usize::from(u16::from_be_bytes([f[38], f[39]])),
            8 + 8 + inner.len()
        );
        assert_eq!(inner.len(), 18 + 20 + 32, "SYN carries 12 option bytes");
    }
}
