//! Differential property test through the whole engine: an HTTP conversation is cut into
//! random TCP segments, which are reordered, duplicated and re-sent with consistent
//! overlaps (sequence numbers wrapping past 2^32), framed as Ethernet/IPv4 packets and fed
//! to the same engine the sensor runs. The exchanges must be exactly those of the in-order
//! stream, with no gap and no anomaly.

use apitap_proto::RequestRecord;
use apitap_sensor::config::SensorConfig;
use apitap_sensor::engine::Engine;
use apitap_sensor::record::{RecordBuilder, RecordOptions};
use apitap_sensor::redact::{RedactMode, Redactor};
use apitap_sensor::source::PacketRef;
use etherparse::PacketBuilder;
use proptest::prelude::*;

const REQS: &[u8] = b"POST /api/orders HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\nGET /api/orders/7?x=1 HTTP/1.1\r\nHost: shop.test\r\n\r\nPUT /api/cart HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\n\r\nhello";
const RESPS: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX: y\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";

const CLIENT: [u8; 4] = [198, 18, 0, 2];
const SERVER: [u8; 4] = [198, 18, 0, 1];

#[derive(Debug, Clone)]
struct Seg {
    from_client: bool,
    seq: u32,
    ack: u32,
    syn: bool,
    fin: bool,
    payload: Vec<u8>,
}

fn frame(s: &Seg) -> Vec<u8> {
    let (src, dst, sp, dp) = if s.from_client {
        (CLIENT, SERVER, 40000, 8080)
    } else {
        (SERVER, CLIENT, 8080, 40000)
    };
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, s.seq, 65535);
    if s.syn {
        b = b.syn();
    }
    if s.fin {
        b = b.fin();
    }
    if !(s.syn && s.from_client) {
        b = b.ack(s.ack);
    }
    let mut out = Vec::new();
    b.write(&mut out, &s.payload).unwrap();
    out
}

/// Cuts `data` (starting at sequence `isn + 1`) into segments at `cuts`.
fn segments(data: &[u8], isn: u32, peer_isn: u32, from_client: bool, cuts: &[usize]) -> Vec<Seg> {
    let mut points: Vec<usize> = cuts.iter().map(|c| 1 + c % data.len()).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points.into_iter().chain([data.len()]) {
        if p > last {
            out.push(Seg {
                from_client,
                seq: isn.wrapping_add(1).wrapping_add(last as u32),
                ack: peer_isn.wrapping_add(1),
                syn: false,
                fin: false,
                payload: data[last..p].to_vec(),
            });
            last = p;
        }
    }
    out
}

/// Reorders within a small window, duplicates some segments and adds consistent
/// overlapping re-sends (a copy spanning two neighbours).
fn perturb(
    segs: Vec<Seg>,
    swaps: &[(usize, usize)],
    dups: &[usize],
    overlaps: &[usize],
) -> Vec<Seg> {
    let mut out = segs.clone();
    for &o in overlaps {
        let i = o % segs.len();
        if i + 1 < segs.len() {
            let (a, b) = (&segs[i], &segs[i + 1]);
            let mut payload = a.payload[a.payload.len() / 2..].to_vec();
            payload.extend_from_slice(&b.payload[..b.payload.len().div_ceil(2)]);
            out.push(Seg {
                seq: a.seq.wrapping_add((a.payload.len() / 2) as u32),
                payload,
                ..a.clone()
            });
        }
    }
    for &d in dups {
        let s = out[d % out.len()].clone();
        out.push(s);
    }
    for &(i, dist) in swaps {
        let n = out.len();
        let (a, b) = (i % n, (i % n + 1 + dist % 6).min(n - 1));
        out.swap(a, b);
    }
    out
}

fn run(packets: &[Vec<u8>]) -> Vec<RequestRecord> {
    let builder = RecordBuilder {
        redactor: Redactor::new(RedactMode::None, [0; 32]),
        options: RecordOptions::default(),
    };
    let mut engine = Engine::new(&SensorConfig::default(), builder);
    for (i, p) in packets.iter().enumerate() {
        engine.packet(&PacketRef {
            ts_ns: 1_700_000_000_000_000_000 + i as u64 * 1_000,
            linktype: 1,
            data: p,
            wire_len: p.len() as u32,
        });
    }
    engine.finish();
    std::mem::take(&mut engine.ctx.records)
}

type View = (String, String, Option<u16>, u64, u64, Vec<String>);

fn views(rs: &[RequestRecord]) -> Vec<View> {
    rs.iter()
        .map(|r| {
            (
                r.http.request.method.to_string(),
                r.url.original.clone(),
                r.http.response.as_ref().map(|s| s.status_code),
                r.http.request.body.bytes,
                r.http.response.as_ref().map_or(0, |s| s.body.bytes),
                r.apitap.anomalies.iter().map(|a| a.to_string()).collect(),
            )
        })
        .collect()
}

fn conversation(client_isn: u32, server_isn: u32, req: Vec<Seg>, resp: Vec<Seg>) -> Vec<Vec<u8>> {
    let syn = |from_client, seq, ack| Seg {
        from_client,
        seq,
        ack,
        syn: true,
        fin: false,
        payload: vec![],
    };
    let mut all = vec![
        syn(true, client_isn, 0),
        syn(false, server_isn, client_isn.wrapping_add(1)),
        Seg {
            syn: false,
            ..syn(true, client_isn.wrapping_add(1), server_isn.wrapping_add(1))
        },
    ];
    all.extend(req);
    all.extend(resp);
    let c_end = client_isn.wrapping_add(1).wrapping_add(REQS.len() as u32);
    let s_end = server_isn.wrapping_add(1).wrapping_add(RESPS.len() as u32);
    all.push(Seg {
        from_client: true,
        seq: c_end,
        ack: s_end,
        syn: false,
        fin: true,
        payload: vec![],
    });
    all.push(Seg {
        from_client: false,
        seq: s_end,
        ack: c_end.wrapping_add(1),
        syn: false,
        fin: true,
        payload: vec![],
    });
    all.iter().map(frame).collect()
}

#[test]
fn in_order_conversation_gives_three_clean_exchanges() {
    let (c, s) = (u32::MAX - 40, 7);
    let packets = conversation(
        c,
        s,
        segments(REQS, c, s, true, &[]),
        segments(RESPS, s, c, false, &[]),
    );
    let v = views(&run(&packets));
    assert_eq!(v.len(), 3, "{v:#?}");
    assert_eq!(v[0].0, "POST");
    assert_eq!((v[1].2, v[1].4), (Some(200), 11));
    assert!(v.iter().all(|x| x.5.is_empty()), "{v:#?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn perturbed_segments_give_the_in_order_exchanges(
        client_isn in prop_oneof![Just(u32::MAX - 100), any::<u32>()],
        server_isn in any::<u32>(),
        req_cuts in proptest::collection::vec(any::<usize>(), 0..30),
        resp_cuts in proptest::collection::vec(any::<usize>(), 0..30),
        swaps in proptest::collection::vec((any::<usize>(), any::<usize>()), 0..20),
        dups in proptest::collection::vec(any::<usize>(), 0..6),
        overlaps in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let in_order = conversation(
            client_isn,
            server_isn,
            segments(REQS, client_isn, server_isn, true, &[]),
            segments(RESPS, server_isn, client_isn, false, &[]),
        );
        let expected = views(&run(&in_order));
        prop_assert_eq!(expected.len(), 3);
        let req = perturb(segments(REQS, client_isn, server_isn, true, &req_cuts), &swaps, &dups, &overlaps);
        let resp = perturb(segments(RESPS, server_isn, client_isn, false, &resp_cuts), &swaps, &dups, &overlaps);
        let got = views(&run(&conversation(client_isn, server_isn, req, resp)));
        prop_assert_eq!(got, expected);
    }
}
