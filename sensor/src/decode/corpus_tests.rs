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
type Expect = (
    &'static str,
    usize,
    Option<(TunnelKind, usize)>,
    Option<u16>,
);

const EXPECT: &[Expect] = &[
    (
        "tunnels__vxlan-encapsulated-http.pcap",
        12,
        Some((TunnelKind::Vxlan, 12)),
        None,
    ),
    (
        "tunnels__gre-over-udp-4754.pcap",
        10,
        Some((TunnelKind::Gre, 10)),
        None,
    ),
    // Teredo data after the server exchange runs on ports 3797 <-> 32900: found by shape.
    (
        "tunnels__Teredo.pcap",
        55,
        Some((TunnelKind::Teredo, 22)),
        None,
    ),
    (
        "tunnels__teredo_bubble_with_payload.pcap",
        22,
        Some((TunnelKind::Teredo, 22)),
        None,
    ),
    (
        "tunnels__ayiya3.pcap",
        21,
        Some((TunnelKind::Ayiya, 21)),
        None,
    ),
    (
        "tunnels__gtp__gtp2_different_udp_port.pcap",
        78,
        Some((TunnelKind::GtpU, 78)),
        None,
    ),
    (
        "tunnels__gtp__gtp1_gn_normal_incl_fragmentation.pcap",
        68,
        Some((TunnelKind::GtpU, 68)),
        None,
    ),
    (
        "tunnels__geneve-many-options.pcap",
        10,
        Some((TunnelKind::Geneve, 10)),
        None,
    ),
    (
        "tunnels__gre-aruba.pcap",
        2407,
        Some((TunnelKind::Gre, 2407)),
        Some(300),
    ),
    // Despite its name this trace is GRE transparent Ethernet bridging (0x6558) with a key,
    // not ERSPAN; some of its GRE packets are IP-fragmented.
    ("erspan.pcap", 106, Some((TunnelKind::Gre, 106)), None),
    ("mixed-vlan-mpls.pcap", 47, None, Some(4093)),
    ("mpls-in-vlan.pcap", 3, None, Some(0)),
    ("http-qinq-0.pcap", 14, None, Some(0)),
    ("http-vlan-0.pcap", 14, None, Some(0)),
    ("vlan-qinqinq.pcap", 14, None, Some(10)), // tags 30, 20, 10: innermost is 10
    ("vlan-collisions.pcap", 42, None, Some(20)),
    ("nflog-http.pcap", 13, None, None),
    ("http__basic-auth-with-colon.pcap", 12, None, None),
    ("tcp__payload-syn.pcap", 6, None, None),
    ("http__connect-with-header.pcap", 58, None, None),
    ("ipv6-http-atomic-frag.pcap", 36, None, None),
    ("snap-tcp.pcap", 8, None, None),
    ("http__cooper-grill-dvwa.pcapng", 48, None, None),
];

/// (trace, packets, TCP segments, TCP payload bytes) as tshark decodes them: `tshark -r TRACE
/// -Y tcp` count and sum of `tcp.len` (IP reassembly on; the two Teredo traces with
/// `-d udp.port==32900,teredo`, as their data runs off port 3544). communityid__tcp.pcap was
/// captured with snaplen 96: its bytes are those present in the capture, not `tcp.len`.
const TSHARK: &[(&str, usize, usize, usize)] = &[
    ("bittorrent__tracker.pcap", 10, 10, 874),
    ("chksums__localhost-bad-chksum.pcap", 10, 10, 506),
    ("communityid__tcp.pcap", 12, 12, 90),
    ("erspan.pcap", 287, 106, 84065),
    ("http-qinq-0.pcap", 14, 14, 5143),
    ("http-vlan-0.pcap", 14, 14, 5143),
    ("http__100-continue.pcap", 66, 66, 63324),
    (
        "http__1000-requests-one-dropped-response.pcap",
        4102,
        4102,
        996757,
    ),
    ("http__206_example_a.pcap", 672, 672, 581878),
    ("http__206_example_b.pcap", 1556, 1556, 1379737),
    ("http__206_example_c.pcap", 1069, 1069, 551925),
    (
        "http__261__variant-01-chunk_2pow64_overflow.pcap",
        8,
        8,
        135,
    ),
    ("http__261__variant-02-cl_uint64max.pcap", 8, 8, 124),
    ("http__261__variant-03-cl_negative.pcap", 8, 8, 105),
    ("http__261__variant-04-te_cl_desync.pcap", 8, 8, 132),
    ("http__261__variant-07-expect_100_cl0.pcap", 8, 8, 125),
    ("http__261__variant-08-leading_zeros.pcap", 8, 8, 187),
    ("http__261__variant-09-te_obs_fold.pcap", 8, 8, 116),
    ("http__261__variant-10-multi_value_te.pcap", 8, 8, 125),
    ("http__basic-auth-with-colon.pcap", 12, 12, 984),
    ("http__basic-auth-with-extra-space.pcap", 38, 38, 2024),
    ("http__byteranges.pcap", 68, 68, 57444),
    (
        "http__concurrent-range-requests-complete.pcap",
        34,
        34,
        1119,
    ),
    ("http__concurrent-range-requests.pcap", 57, 57, 31209),
    ("http__connect-with-header.pcap", 58, 58, 59143),
    ("http__connect-with-smtp.pcap", 30, 30, 1977),
    ("http__content-length-in-request-body.pcap", 21, 21, 631),
    ("http__content-length-overflow.pcap", 10, 10, 228),
    ("http__content-range-gap-skip.pcap", 67, 67, 56072),
    ("http__content-range-gap.pcap", 26, 26, 9822),
    ("http__content-range-less-than-len.pcap", 7, 7, 452),
    ("http__cooper-grill-dvwa.pcapng", 64, 48, 16649),
    ("http__ctu-62604-80.pcap", 20, 20, 1988),
    ("http__curl_http_09.pcap", 8, 8, 133),
    ("http__deeply-nested-mime.pcap", 55, 55, 40633),
    ("http__docker-http-upgrade.pcap", 200, 200, 4749),
    ("http__entity_gap.pcap", 13, 13, 3695),
    ("http__entity_gap2.pcap", 13, 13, 3695),
    ("http__fake-content-length.pcap", 7, 7, 398),
    ("http__flash-version.pcap", 74, 74, 59991),
    ("http__get-gzip.pcap", 14, 14, 421),
    ("http__get-to-ssh-server.pcap", 9, 9, 626),
    ("http__get-without-fins.pcap", 11, 11, 5143),
    ("http__get.pcap", 14, 14, 5143),
    ("http__get_nosyn.pcap", 11, 11, 5143),
    ("http__http-09-content-length-confusion.pcap", 18, 18, 66),
    ("http__http-11-request-then-cruft.pcap", 20, 20, 770),
    ("http__http-bad-content-range-01.pcap", 22, 22, 185),
    ("http__http-bad-request-with-version.pcap", 12, 12, 276),
    ("http__http-body-match.pcap", 207, 207, 4761),
    ("http__http-desync-request-response-5.pcap", 53, 53, 1306),
    ("http__http-filename.pcap", 11, 11, 903),
    (
        "http__http-inner-transfer-encoding-ossfuzz.pcap",
        16,
        16,
        1563,
    ),
    (
        "http__http-inner-transfer-encoding-reproducer.pcap",
        17,
        17,
        351,
    ),
    ("http__http-large-gap.pcap", 10, 10, 479),
    ("http__http-lower-case-nonstandard-port.pcap", 10, 10, 1227),
    ("http__http-lower-case.pcap", 10, 10, 1227),
    ("http__http-non-printable-characters.pcap", 44, 44, 2620),
    ("http__http-post-large.pcap", 38, 38, 244780),
    ("http__http-single-conn-22.pcap", 28, 28, 12667),
    ("http__http-to-ssh.pcap", 13, 13, 153),
    ("http__http_09.pcap", 50, 50, 148),
    ("http__http_large_req_8001.pcap", 13, 13, 2103),
    ("http__interleaved-http-entity.pcap", 30, 30, 186),
    ("http__invalid-content-ranges.pcap", 30, 30, 434),
    ("http__iso-download.pcap", 289, 289, 358740),
    ("http__m57-long-49583-80.pcap", 227, 227, 201210),
    ("http__m57-long-49600-80.pcap", 52, 52, 37360),
    ("http__methods.pcap", 655, 655, 184311),
    ("http__missing-zlib-header.pcap", 28, 28, 12760),
    ("http__multipart-form-data.pcap", 7, 7, 1429),
    ("http__multipart.pcap", 10, 10, 1160),
    ("http__no-uri.pcap", 14, 14, 5143),
    ("http__no-version.pcap", 11, 11, 446),
    ("http__no_crlf.pcap", 1519, 1519, 1520294),
    ("http__percent-end-of-line.pcap", 23, 23, 1627),
    ("http__pipelined-requests.pcap", 49, 49, 42362),
    ("http__post.pcap", 14, 14, 679),
    ("http__proxy.pcap", 26, 26, 16345),
    ("http__putty-upload.pcap", 30, 30, 83883),
    ("http__query-method-non-standard-port.pcap", 10, 10, 308),
    ("http__query-method.pcap", 10, 10, 308),
    ("http__smuggle-http-request.pcap", 23, 23, 664),
    ("http__testmyids.pcap", 10, 10, 433),
    ("http__version-mismatch.pcap", 24, 24, 15277),
    (
        "http__vnd.ms-cab-compressed-multi-conn.pcap",
        158,
        158,
        88634,
    ),
    ("http__websocket.pcap", 27, 27, 1966),
    ("http__x-gzip.pcap", 7, 7, 420),
    ("http__zeek-image-1080-80-x.pcapng", 17, 17, 6137),
    ("http__zeek-image-post-1080-8000-x.pcap", 19, 19, 6140),
    ("http__zero-length-bodies-with-drops.pcap", 44, 44, 16437),
    ("ipv6-http-atomic-frag.pcap", 38, 36, 412),
    ("mixed-vlan-mpls.pcap", 47, 47, 12979),
    ("mpls-in-vlan.pcap", 3, 3, 2311),
    ("nflog-http.pcap", 13, 13, 1682),
    ("postgresql__http-on-port-5432.pcap", 14, 14, 5143),
    ("snap-tcp.pcap", 8, 8, 114),
    ("socks.pcap", 53, 53, 6794),
    ("spicy__gap-recovery.pcap", 58, 58, 125732),
    ("ssh__ssh-on-port-80.pcap", 70, 70, 5292),
    ("tcp-http-with-padding.pcap", 25, 25, 207),
    ("tcp__handshake-reorder.pcap", 14, 14, 5143),
    ("tcp__http-on-irc-port-missing-syn.pcapng", 13, 13, 5143),
    ("tcp__miss_end_data.pcap", 9, 9, 538),
    ("tcp__missing-syn.pcap", 21, 21, 9515),
    ("tcp__no-handshake.pcap", 1, 1, 136),
    ("tcp__options.pcap", 4, 4, 104),
    ("tcp__payload-syn.pcap", 6, 6, 100),
    ("tcp__payload-synack.pcap", 6, 6, 110),
    ("tcp__qi_internet_SYNACK_curl_jsonip.pcap", 14, 14, 544),
    ("tcp__reassembly.pcap", 117, 117, 34370),
    ("tcp__retransmit-timeout.pcapng", 3, 3, 36),
    ("tcp__tcp-fast-open.pcap", 16, 16, 1658),
    ("tls__ssl-to-http-server.pcap", 14, 14, 460),
    ("tunnels__Teredo.pcap", 78, 55, 17488),
    ("tunnels__ayiya3.pcap", 35, 21, 7646),
    ("tunnels__geneve-many-options.pcap", 10, 10, 658),
    ("tunnels__gre-aruba.pcap", 2407, 2407, 22049),
    ("tunnels__gre-over-udp-4754.pcap", 14, 10, 451),
    (
        "tunnels__gtp__gtp1_gn_normal_incl_fragmentation.pcap",
        108,
        68,
        53042,
    ),
    ("tunnels__gtp__gtp2_different_udp_port.pcap", 120, 78, 64562),
    ("tunnels__socks.pcap", 18, 18, 4102),
    ("tunnels__teredo_bubble_with_payload.pcap", 29, 22, 12142),
    ("tunnels__vxlan-encapsulated-http.pcap", 12, 12, 9299),
    ("var-services-std-ports.pcap", 263, 184, 25805),
    ("vlan-collisions.pcap", 42, 42, 15429),
    ("vlan-qinqinq.pcap", 14, 14, 5143),
    ("web.pcap", 24, 24, 9515),
    ("websocket__broker-websocket.pcap", 22, 22, 3259),
    ("websocket__fragmented-http-reply.pcap", 18, 18, 584),
    ("websocket__jupyter-websocket.pcap", 20, 20, 8660),
    ("websocket__message-too-big-status.pcap", 14, 14, 496),
    ("websocket__oversized-close-frame.pcapng", 8, 8, 551),
    ("websocket__reply-ping-coalesced.pcap", 16, 16, 508),
    ("websocket__reply-ping-separate.pcap", 18, 18, 508),
    ("websocket__two-binary-fragments.pcap", 18, 18, 510),
    ("websocket__wrong-accept-header.pcap", 12, 12, 461),
    ("websocket__wstunnel-http.pcap", 13, 13, 1087),
    ("websocket__wstunnel-https.pcap", 124, 124, 87718),
    ("websocket__wstunnel-ssh.pcap", 258, 258, 23198),
    ("wikipedia.pcap", 136, 78, 13807),
    ("workshop_2011_browse.pcap", 121, 121, 11065),
    ("www-odd-url.pcap", 12, 12, 915),
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
            failures.push(format!(
                "{name}: {} TCP segments, want {want_tcp}: {s:?}",
                s.tcp
            ));
        }
        if let Some((kind, n)) = tunnel {
            let got = s.by_tunnel.get(kind.as_str()).copied().unwrap_or(0);
            if got != n {
                failures.push(format!(
                    "{name}: {got} segments via {kind:?}, want {n}: {s:?}"
                ));
            }
        }
        if let Some(v) = vlan {
            if !s.vlans.contains_key(&v) {
                failures.push(format!("{name}: no segment on VLAN {v}: {s:?}"));
            }
        }
    }
    // Every trace: the same packet count as tshark reads, and the same TCP segments and
    // payload bytes as tshark decodes.
    for &(name, packets, want_tcp, bytes) in TSHARK {
        match summaries.get(name) {
            Some(s) if s.packets == packets && s.tcp == want_tcp && s.payload_bytes == bytes => {}
            Some(s) => failures.push(format!(
                "{name}: {} packets / {} TCP / {} bytes, tshark {packets} / {want_tcp} / {bytes}",
                s.packets, s.tcp, s.payload_bytes
            )),
            None => failures.push(format!("{name}: missing from corpus")),
        }
    }
    for (name, s) in &summaries {
        if s.tcp == 0 {
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
        if matches!(
            d.decode(full.linktype, full.ts_ns, &full.data),
            Decoded::Tcp(_)
        ) {
            let _ = tcp(d.decode(full.linktype, full.ts_ns, &full.data));
        }
    }
}
