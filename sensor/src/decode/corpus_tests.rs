//! Decodes every packet of every trace in the shared Zeek HTTP corpus (must not panic) and
//! checks per-trace expectations confirmed with tshark: link types, VLAN/MPLS stacks,
//! tunnels, fragments. Includes a tiny pcap/pcapng reader (no libpcap).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::testutil::tcp;
use super::types::{Decoded, SkipReason, TunnelKind};
use super::Decoder;

const CORPUS: &str = "/work/shared/corpus/zeek-http/traces";

/// One captured packet: link type, time in ns, bytes.
struct Packet {
    linktype: i32,
    ts_ns: u64,
    data: Vec<u8>,
}

fn u16_at(b: &[u8], off: usize, le: bool) -> Option<u16> {
    let a: [u8; 2] = b.get(off..off + 2)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    })
}

fn u32_at(b: &[u8], off: usize, le: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    })
}

/// Reads a classic pcap (µs or ns, either byte order) or a pcapng file.
fn read_capture(bytes: &[u8]) -> Option<Vec<Packet>> {
    match bytes.get(..4)? {
        [0x0a, 0x0d, 0x0d, 0x0a] => read_pcapng(bytes),
        _ => read_pcap(bytes),
    }
}

fn read_pcap(b: &[u8]) -> Option<Vec<Packet>> {
    let (le, nanos) = match u32_at(b, 0, true)? {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => return None,
    };
    let linktype = (u32_at(b, 20, le)? & 0xffff) as i32;
    let mut off = 24;
    let mut out = Vec::new();
    while off + 16 <= b.len() {
        let sec = u64::from(u32_at(b, off, le)?);
        let frac = u64::from(u32_at(b, off + 4, le)?);
        let incl = u32_at(b, off + 8, le)? as usize;
        let data = b.get(off + 16..off + 16 + incl)?.to_vec();
        let ts_ns = sec * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        out.push(Packet {
            linktype,
            ts_ns,
            data,
        });
        off += 16 + incl;
    }
    Some(out)
}

fn read_pcapng(b: &[u8]) -> Option<Vec<Packet>> {
    let mut le = true;
    // per interface: (link type, ns per tick as (mul, div))
    let mut ifaces: Vec<(i32, u64, u64)> = Vec::new();
    let mut out = Vec::new();
    let mut off = 0;
    while off + 12 <= b.len() {
        let ty = u32_at(b, off, le)?;
        if ty == 0x0a0d_0d0a {
            le = match b.get(off + 8..off + 12)? {
                [0x4d, 0x3c, 0x2b, 0x1a] => true,
                [0x1a, 0x2b, 0x3c, 0x4d] => false,
                _ => return None,
            };
            ifaces.clear();
        }
        let len = u32_at(b, off + 4, le)? as usize;
        if len < 12 {
            return None;
        }
        let body = b.get(off + 8..off + len - 4)?;
        match ty {
            1 => {
                let lt = i32::from(u16_at(body, 0, le)?);
                let (mut mul, mut div) = (1000u64, 1u64); // default: microseconds
                let mut o = 8;
                while o + 4 <= body.len() {
                    let code = u16_at(body, o, le)?;
                    let olen = usize::from(u16_at(body, o + 2, le)?);
                    if code == 0 {
                        break;
                    }
                    if code == 9 && olen >= 1 {
                        let r = *body.get(o + 4)?;
                        if r & 0x80 == 0 {
                            let ticks = 10u64.pow(u32::from(r));
                            (mul, div) = if ticks <= 1_000_000_000 {
                                (1_000_000_000 / ticks, 1)
                            } else {
                                (1, ticks / 1_000_000_000)
                            };
                        } else {
                            (mul, div) = (1_000_000_000, 1u64 << (r & 0x7f));
                        }
                    }
                    o += 4 + olen.div_ceil(4) * 4;
                }
                ifaces.push((lt, mul, div));
            }
            6 => {
                let iface = u32_at(body, 0, le)? as usize;
                let ts = (u64::from(u32_at(body, 4, le)?) << 32) | u64::from(u32_at(body, 8, le)?);
                let cap = u32_at(body, 12, le)? as usize;
                let data = body.get(20..20 + cap)?.to_vec();
                let &(lt, mul, div) = ifaces.get(iface)?;
                out.push(Packet {
                    linktype: lt,
                    ts_ns: ts.wrapping_mul(mul) / div,
                    data,
                });
            }
            3 => {
                let &(lt, _, _) = ifaces.first()?;
                let orig = u32_at(body, 0, le)? as usize;
                let data = body.get(4..4 + orig.min(body.len() - 4))?.to_vec();
                out.push(Packet {
                    linktype: lt,
                    ts_ns: 0,
                    data,
                });
            }
            _ => {}
        }
        off += len;
    }
    Some(out)
}

/// What decoding one trace produced.
#[derive(Debug, Default)]
struct Summary {
    packets: usize,
    tcp: usize,
    payload_bytes: usize,
    by_tunnel: BTreeMap<&'static str, usize>,
    vlans: BTreeMap<u16, usize>,
    skipped: BTreeMap<&'static str, usize>,
    fragments_reassembled: u64,
}

fn decode_file(path: &Path) -> Summary {
    let bytes = std::fs::read(path).unwrap();
    let pkts = read_capture(&bytes).unwrap_or_else(|| panic!("cannot read {}", path.display()));
    let mut d = Decoder::default();
    let mut s = Summary {
        packets: pkts.len(),
        ..Summary::default()
    };
    for p in &pkts {
        match d.decode(p.linktype, p.ts_ns, &p.data) {
            Decoded::Tcp(seg) => {
                s.tcp += 1;
                s.payload_bytes += seg.payload.len();
                let k = seg.tunnel.map_or("none", |t| t.kind.as_str());
                *s.by_tunnel.entry(k).or_default() += 1;
                if let Some(v) = seg.vlan {
                    *s.vlans.entry(v).or_default() += 1;
                }
            }
            Decoded::Skipped(r) => *s.skipped.entry(r.as_str()).or_default() += 1,
        }
    }
    let st = d.stats();
    assert_eq!(st.packets as usize, pkts.len());
    assert_eq!(st.tcp_segments as usize, s.tcp);
    assert_eq!(st.skipped_total() as usize, pkts.len() - s.tcp);
    s.fragments_reassembled = st.fragments_reassembled;
    s
}

fn corpus_files() -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(CORPUS) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    v
}

/// (trace, TCP segments tshark finds, tunnel kind carrying them (None = untunnelled) and how
/// many of them, innermost VLAN seen).
type Expect = (&'static str, usize, Option<(TunnelKind, usize)>, Option<u16>);

const EXPECT: &[Expect] = &[
    ("tunnels__vxlan-encapsulated-http.pcap", 12, Some((TunnelKind::Vxlan, 12)), None),
    ("tunnels__gre-over-udp-4754.pcap", 10, Some((TunnelKind::Gre, 10)), None),
    ("tunnels__Teredo.pcap", 55, Some((TunnelKind::Teredo, 22)), None),
    ("tunnels__teredo_bubble_with_payload.pcap", 0, None, None),
    ("tunnels__ayiya3.pcap", 21, Some((TunnelKind::Ayiya, 21)), None),
    ("tunnels__gtp__gtp2_different_udp_port.pcap", 78, Some((TunnelKind::GtpU, 78)), None),
    ("tunnels__gtp__gtp1_gn_normal_incl_fragmentation.pcap", 68, Some((TunnelKind::GtpU, 68)), None),
    ("tunnels__geneve-many-options.pcap", 10, Some((TunnelKind::Geneve, 10)), None),
    ("tunnels__gre-aruba.pcap", 2407, Some((TunnelKind::Gre, 2407)), Some(300)),
    // Despite its name this trace is GRE transparent Ethernet bridging (0x6558) with a key,
    // not ERSPAN; some of its GRE packets are IP-fragmented.
    ("erspan.pcap", 106, Some((TunnelKind::Gre, 106)), None),
    ("mixed-vlan-mpls.pcap", 47, None, Some(0)),
    ("mpls-in-vlan.pcap", 3, None, Some(0)),
    ("http-qinq-0.pcap", 14, None, Some(0)),
    ("http-vlan-0.pcap", 14, None, Some(0)),
    ("vlan-qinqinq.pcap", 14, None, Some(0)),
    ("nflog-http.pcap", 13, None, None),
    ("http__basic-auth-with-colon.pcap", 12, None, None),
    ("tcp__payload-syn.pcap", 6, None, None),
    ("http__connect-with-header.pcap", 58, None, None),
    ("ipv6-http-atomic-frag.pcap", 36, None, None),
    ("snap-tcp.pcap", 8, None, None),
    ("tcp-http-with-padding.pcap", 0, None, None),
    ("http__cooper-grill-dvwa.pcapng", 48, None, None),
];

#[test]
fn pcap_reader_reads_both_formats() {
    // minimal pcap: µs, little endian, one 4-byte packet
    let mut p = Vec::new();
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        p.extend_from_slice(&w.to_le_bytes());
    }
    for w in [5u32, 7, 4, 4] {
        p.extend_from_slice(&w.to_le_bytes());
    }
    p.extend_from_slice(&[1, 2, 3, 4]);
    let pk = read_capture(&p).unwrap();
    assert_eq!(pk.len(), 1);
    assert_eq!((pk[0].linktype, pk[0].ts_ns), (1, 5_000_007_000));
    assert_eq!(pk[0].data, [1, 2, 3, 4]);
}

#[test]
fn corpus_traces_decode() {
    let files = corpus_files();
    if files.is_empty() {
        eprintln!("corpus not found at {CORPUS}; skipping");
        return;
    }
    let mut summaries = BTreeMap::new();
    for f in &files {
        let s = decode_file(f);
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        summaries.insert(name, s);
    }
    let mut failures = Vec::new();
    for &(name, want_tcp, tunnel, vlan) in EXPECT {
        let Some(s) = summaries.get(name) else {
            failures.push(format!("{name}: missing from corpus"));
            continue;
        };
        if want_tcp > 0 && s.tcp != want_tcp {
            failures.push(format!("{name}: {} TCP segments, want {want_tcp}: {s:?}", s.tcp));
        }
        if let Some((kind, n)) = tunnel {
            let got = s.by_tunnel.get(kind.as_str()).copied().unwrap_or(0);
            if got != n {
                failures.push(format!("{name}: {got} segments via {kind:?}, want {n}: {s:?}"));
            }
        }
        if let Some(v) = vlan {
            if !s.vlans.contains_key(&v) {
                failures.push(format!("{name}: no segment on VLAN {v}: {s:?}"));
            }
        }
    }
    // Plain traces: every trace except the few non-TCP ones yields TCP segments.
    for (name, s) in &summaries {
        if s.tcp == 0 && !name.contains("teredo_bubble") {
            failures.push(format!("{name}: no TCP segments: {s:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_padding_trace_is_cut() {
    let path = Path::new(CORPUS).join("tcp-http-with-padding.pcap");
    let Ok(bytes) = std::fs::read(&path) else {
        return;
    };
    let pkts = read_capture(&bytes).unwrap();
    let mut d = Decoder::default();
    for p in &pkts {
        if let Decoded::Tcp(seg) = d.decode(p.linktype, p.ts_ns, &p.data) {
            // no Ethernet padding bytes leak into the payload: IP length bounds it
            let ip_total = usize::from(u16::from_be_bytes([p.data[16], p.data[17]]));
            assert!(seg.payload.len() + 40 <= ip_total, "{seg:?}");
        }
    }
    assert_eq!(d.stats().skipped(SkipReason::Malformed), 0);
}

#[test]
fn corpus_every_prefix_of_some_packets() {
    // Truncate the first packets of a few tunnelled traces at every length: no panics.
    for name in [
        "tunnels__vxlan-encapsulated-http.pcap",
        "tunnels__gtp__gtp1_gn_normal_incl_fragmentation.pcap",
        "tunnels__ayiya3.pcap",
        "tunnels__geneve-many-options.pcap",
        "nflog-http.pcap",
        "mixed-vlan-mpls.pcap",
    ] {
        let Ok(bytes) = std::fs::read(Path::new(CORPUS).join(name)) else {
            continue;
        };
        let pkts = read_capture(&bytes).unwrap();
        let mut d = Decoder::default();
        for p in pkts.iter().take(8) {
            for len in 0..=p.data.len() {
                let _ = d.decode(p.linktype, p.ts_ns, &p.data[..len]);
            }
        }
        let full = &pkts[0];
        let mut d = Decoder::default();
        if matches!(d.decode(full.linktype, full.ts_ns, &full.data), Decoded::Tcp(_)) {
            let _ = tcp(d.decode(full.linktype, full.ts_ns, &full.data));
        }
    }
}
