//! Connection-level tests on byte literals: framing, pairing, switches, gaps, resync, and a
//! property test that any segmentation of the streams yields the same exchanges.

use super::*;
use crate::flow::Direction::{self, ToClient, ToServer};
use std::sync::Arc;

fn conn() -> HttpConnection {
    HttpConnection::new(Arc::new(HttpConfig::default()))
}

/// A compact, comparable view of an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    depth: u32,
    method: String,
    target: String,
    status: Option<u16>,
    req_body: u64,
    resp_body: u64,
    resp_decoded: u64,
    info: Vec<u16>,
    anomalies: Vec<&'static str>,
}

fn view(e: &Exchange) -> View {
    View {
        depth: e.trans_depth,
        method: e
            .request
            .as_ref()
            .map(|r| String::from_utf8_lossy(r.head.method()).into())
            .unwrap_or_default(),
        target: e
            .request
            .as_ref()
            .map(|r| String::from_utf8_lossy(r.head.target()).into())
            .unwrap_or_default(),
        status: e.response.as_ref().map(|r| r.head.status()),
        req_body: e.request.as_ref().map_or(0, |r| r.body.bytes),
        resp_body: e.response.as_ref().map_or(0, |r| r.body.bytes),
        resp_decoded: e.response.as_ref().map_or(0, |r| r.body.decoded_bytes),
        info: e.informational.clone(),
        anomalies: e.anomalies.iter().map(|a| a.as_str()).collect(),
    }
}

/// Feeds alternating (direction, bytes) steps, then closes.
fn run(steps: &[(Direction, &[u8])]) -> Vec<View> {
    let mut c = conn();
    let mut out = HttpOutput::default();
    for (i, (d, b)) in steps.iter().enumerate() {
        c.on_data(*d, i as u64, b, &mut out);
    }
    c.on_close(steps.len() as u64, &mut out);
    out.exchanges.iter().map(view).collect()
}

#[test]
fn simple_exchange() {
    let v = run(&[
        (ToServer, b"GET /api/users/1 HTTP/1.1\r\nHost: a\r\n\r\n"),
        (ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
    ]);
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].method.as_str(), v[0].target.as_str(), v[0].status),
        ("GET", "/api/users/1", Some(200))
    );
    assert_eq!((v[0].resp_body, v[0].depth), (2, 1));
    assert!(v[0].anomalies.is_empty());
}

#[test]
fn exchange_is_emitted_as_soon_as_complete() {
    let mut c = conn();
    let mut out = HttpOutput::default();
    c.on_data(ToServer, 1, b"GET / HTTP/1.1\r\n\r\n", &mut out);
    assert!(out.exchanges.is_empty());
    c.on_data(ToClient, 2, b"HTTP/1.1 204 No Content\r\n\r\n", &mut out);
    assert_eq!(out.exchanges.len(), 1);
    let r = out.exchanges[0].request.as_ref().unwrap();
    assert_eq!((r.start_ts, r.end_ts), (1, 1));
}

#[test]
fn pipelined_requests_pair_in_order() {
    let v = run(&[
        (ToServer, b"GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
        (ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
    ]);
    let got: Vec<_> = v
        .iter()
        .map(|v| {
            (
                v.depth,
                v.target.as_str(),
                v.status,
                v.req_body,
                v.resp_body,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "/a", Some(200), 0, 1),
            (2, "/b", Some(200), 0, 0),
            (3, "/c", Some(201), 3, 2)
        ]
    );
}

#[test]
fn continue_then_final_response() {
    let v = run(&[
        (
            ToServer,
            b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
        ),
        (ToClient, b"HTTP/1.1 100 Continue\r\n\r\n"),
        (ToServer, b"data"),
        (ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].status, v[0].req_body, v[0].info.clone()),
        (Some(200), 4, vec![100])
    );
}

#[test]
fn no_body_statuses() {
    let v = run(&[
        (ToServer, b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
        (ToClient, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
    ]);
    assert_eq!(
        v.iter().map(|v| v.status).collect::<Vec<_>>(),
        [Some(304), Some(204)]
    );
    assert_eq!(v.iter().map(|v| v.resp_body).sum::<u64>(), 0);
}

#[test]
fn close_delimited_response() {
    let mut c = conn();
    let mut out = HttpOutput::default();
    c.on_data(ToServer, 0, b"GET / HTTP/1.0\r\n\r\n", &mut out);
    c.on_data(ToClient, 1, b"HTTP/1.0 200 OK\r\n\r\nhello ", &mut out);
    c.on_data(ToClient, 2, b"world", &mut out);
    assert!(out.exchanges.is_empty());
    c.on_fin(ToClient, 3, &mut out);
    assert_eq!(out.exchanges.len(), 1);
    assert_eq!(view(&out.exchanges[0]).resp_body, 11);
    assert_eq!(out.exchanges[0].response.as_ref().unwrap().end_ts, 3);
}

#[test]
fn gzip_response_is_decoded() {
    use flate2::write::GzEncoder;
    use std::io::Write as _;
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&[b'x'; 5000]).unwrap();
    let body = gz.finish().unwrap();
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    resp.extend_from_slice(&body);
    let v = run(&[(ToServer, b"GET / HTTP/1.1\r\n\r\n"), (ToClient, &resp)]);
    assert_eq!(
        (v[0].resp_body, v[0].resp_decoded),
        (body.len() as u64, 5000)
    );
}

#[test]
fn connect_tunnel_stops_parsing() {
    let mut c = conn();
    let mut out = HttpOutput::default();
    c.on_data(
        ToServer,
        0,
        b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n",
        &mut out,
    );
    c.on_data(ToServer, 1, b"\x16\x03\x01\x02\x00", &mut out);
    c.on_data(
        ToClient,
        2,
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        &mut out,
    );
    c.on_data(ToClient, 3, b"\x16\x03\x03binary", &mut out);
    assert!(!c.wants_data());
    c.on_close(4, &mut out);
    let v: Vec<_> = out.exchanges.iter().map(view).collect();
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].method.as_str(), v[0].status), ("CONNECT", Some(200)));
    assert!(v[0].anomalies.contains(&"http_protocol_switch"));
}

#[test]
fn refused_upgrade_keeps_parsing_held_bytes() {
    let v = run(&[
        (ToServer, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /next HTTP/1.1\r\n\r\n"),
        (ToClient, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(
        v.iter()
            .map(|v| (v.target.as_str(), v.status))
            .collect::<Vec<_>>(),
        [("/ws", Some(400)), ("/next", Some(200))]
    );
}

#[test]
fn websocket_upgrade_switches() {
    let v = run(&[
        (
            ToServer,
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        ),
        (
            ToClient,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
        ),
        (ToServer, b"\x81\x85abcdefghi"),
    ]);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].status, Some(101));
}

#[test]
fn http09_request_and_response() {
    let v = run(&[
        (ToServer, b"GET /zeek.html\r\n"),
        (ToClient, b"<html>hi</html>\n"),
    ]);
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].status, v[0].resp_body), (Some(0), 16));
    assert!(v[0].anomalies.contains(&"http_09"));
}

#[test]
fn response_without_request() {
    let v = run(&[
        (ToServer, b"\x16\x03\x01\x00\x05hello"),
        (
            ToClient,
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        ),
    ]);
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].method.as_str(), v[0].status), ("", Some(400)));
    assert!(v[0].anomalies.contains(&"http_response_without_request"));
}

#[test]
fn not_http_both_ways_gives_up() {
    let mut c = conn();
    let mut out = HttpOutput::default();
    c.on_data(ToClient, 0, b"SSH-2.0-OpenSSH_9.0\r\n", &mut out);
    c.on_data(ToServer, 1, b"SSH-2.0-client\r\n", &mut out);
    assert!(!c.wants_data());
    c.on_close(2, &mut out);
    assert!(out.exchanges.is_empty());
    assert_eq!(out.stats.not_http_directions, 2);
}

#[test]
fn cl_and_te_prefers_chunked_and_flags() {
    let v = run(&[
        (ToServer, b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"),
    ]);
    assert_eq!(
        v.iter().map(|v| v.target.as_str()).collect::<Vec<_>>(),
        ["/", "/smuggled"]
    );
    assert!(v[0].anomalies.contains(&"http_cl_and_te"));
}

#[test]
fn invalid_content_length_means_no_request_body() {
    let v = run(&[(
        ToServer,
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
    )]);
    assert_eq!(
        v.iter().map(|v| v.target.as_str()).collect::<Vec<_>>(),
        ["/", "/next"]
    );
    assert!(v[0].anomalies.contains(&"http_invalid_content_length"));
}

#[test]
fn gap_in_body_is_absorbed_and_gap_at_head_resyncs() {
    let mut c = conn();
    let mut out = HttpOutput::default();
    c.on_data(ToServer, 0, b"GET /a HTTP/1.1\r\n\r\n", &mut out);
    c.on_data(
        ToClient,
        1,
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab",
        &mut out,
    );
    c.on_gap(ToClient, 2, 5, &mut out);
    c.on_data(ToClient, 3, b"cde", &mut out);
    assert_eq!(out.exchanges.len(), 1);
    assert_eq!(view(&out.exchanges[0]).resp_body, 10);
    assert!(view(&out.exchanges[0])
        .anomalies
        .contains(&"http_content_gap"));
    // lose the middle of the next request: resync at the one after
    c.on_data(ToServer, 4, b"GET /b HT", &mut out);
    c.on_gap(ToServer, 5, 20, &mut out);
    c.on_data(
        ToServer,
        6,
        b"ost: x\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
        &mut out,
    );
    c.on_close(7, &mut out);
    let targets: Vec<_> = out.exchanges.iter().map(|e| view(e).target).collect();
    assert_eq!(targets, ["/a", "/c"]);
    assert!(view(&out.exchanges[1]).anomalies.contains(&"http_resync"));
}

/// One keep-alive round: request `/n`, then its answer as a head segment and a body
/// segment that does not end a line (as servers write them), with the client's
/// acknowledgments when `acks` is set. Returns the response bytes the round used.
fn keep_alive_round(
    c: &mut HttpConnection,
    out: &mut HttpOutput,
    n: u64,
    resp_pos: u64,
    acks: bool,
    lose_response: bool,
) -> u64 {
    let body = format!("<p>answer {n}</p>");
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
    if acks {
        c.on_ack(ToClient, resp_pos);
    }
    c.on_data(
        ToServer,
        n * 10,
        format!("GET /{n} HTTP/1.1\r\n\r\n").as_bytes(),
        out,
    );
    if lose_response {
        c.on_gap(ToClient, n * 10 + 1, head.len() as u64, out);
    } else {
        c.on_data(ToClient, n * 10 + 1, head.as_bytes(), out);
    }
    c.on_data(ToClient, n * 10 + 2, body.as_bytes(), out);
    (head.len() + body.len()) as u64
}

/// (target, status, body bytes, lost-in-a-gap) of each exchange.
fn pairing(out: &HttpOutput) -> Vec<(String, Option<u16>, u64, bool)> {
    out.exchanges
        .iter()
        .map(view)
        .map(|v| {
            let gap = v.anomalies.contains(&"http_content_gap") && v.status.is_none();
            (v.target, v.status, v.resp_body, gap)
        })
        .collect()
}

#[test]
fn lost_response_head_resyncs_at_the_next_segment_and_pairs_in_order() {
    for acks in [false, true] {
        let mut c = conn();
        let mut out = HttpOutput::default();
        let mut pos = 0;
        for n in 1..=4 {
            pos += keep_alive_round(&mut c, &mut out, n, pos, acks, n == 2);
        }
        c.on_close(100, &mut out);
        let got = pairing(&out);
        let want = [
            ("/1".to_string(), Some(200), 15, false),
            ("/2".to_string(), None, 0, true),
            ("/3".to_string(), Some(200), 15, false),
            ("/4".to_string(), Some(200), 15, false),
        ];
        assert_eq!(got, want, "acks: {acks}");
        assert_eq!(out.stats.responses_lost, 1);
        assert_eq!(out.stats.resyncs, 1);
        // Only the answer's 15 body bytes were skipped: the next head began a segment.
        assert_eq!(out.stats.resync_skipped_bytes, 15);
    }
}

#[test]
fn acknowledgments_pair_the_response_after_a_gap_that_ate_several() {
    let mut c = conn();
    let mut out = HttpOutput::default();
    let mut pos = 0;
    pos += keep_alive_round(&mut c, &mut out, 1, pos, true, false);
    // The answers to /2, /3 and /4 are lost whole; the client's acks say where each began.
    let mut lost = 0;
    for n in 2..=4 {
        c.on_ack(ToClient, pos + lost);
        c.on_data(
            ToServer,
            n * 10,
            format!("GET /{n} HTTP/1.1\r\n\r\n").as_bytes(),
            &mut out,
        );
        lost += 54; // head 39 + body 15
    }
    c.on_gap(ToClient, 50, lost, &mut out);
    pos += lost;
    keep_alive_round(&mut c, &mut out, 5, pos, true, false);
    c.on_close(100, &mut out);
    let got = pairing(&out);
    assert_eq!(got[4], ("/5".to_string(), Some(200), 15, false));
    assert!(got[1..4]
        .iter()
        .all(|(_, status, _, gap)| status.is_none() && *gap));
    assert_eq!(out.stats.responses_lost, 3);
    // Without acknowledgments the gap is taken to hold one response: /3 gets /5's answer.
    let mut c = conn();
    let mut out = HttpOutput::default();
    keep_alive_round(&mut c, &mut out, 1, 0, false, false);
    for n in 2..=4 {
        c.on_data(
            ToServer,
            n * 10,
            format!("GET /{n} HTTP/1.1\r\n\r\n").as_bytes(),
            &mut out,
        );
    }
    c.on_gap(ToClient, 50, 3 * 54, &mut out);
    keep_alive_round(&mut c, &mut out, 5, 0, false, false);
    c.on_close(100, &mut out);
    assert_eq!(pairing(&out)[2], ("/3".to_string(), Some(200), 15, false));
}

#[test]
fn resync_takes_a_segment_start_only_with_a_whole_start_line() {
    let mut c = conn();
    let mut out = HttpOutput::default();
    c.on_data(
        ToServer,
        0,
        b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
        &mut out,
    );
    c.on_gap(ToClient, 1, 30, &mut out);
    // Body bytes that merely begin like a status line are skipped...
    c.on_data(ToClient, 2, b"HTTP/1.x is what it says", &mut out);
    c.on_data(ToClient, 3, b"HTTP/1.1 20", &mut out);
    // ...and a segment that begins with one is taken.
    c.on_data(ToClient, 4, b"HTTP/1.1 204 No Content\r\n\r\n", &mut out);
    c.on_close(5, &mut out);
    let got = pairing(&out);
    assert_eq!(got[0], ("/1".to_string(), None, 0, true));
    assert_eq!(got[1], ("/2".to_string(), Some(204), 0, false));
    assert_eq!(out.stats.resync_skipped_bytes, 24 + 11);
    // Requests: a method alone at a segment start is not enough, a request line is.
    for (piece, found) in [
        (&b"GET a cup of coffee\r\n"[..], false),
        (b"POST /x HTTP/1.1\r\n\r\n", true),
        (b"GET http://h/p HTTP/1.0\r\n\r\n", true),
        (b"DELETE /y", true),
    ] {
        assert_eq!(
            connection::resync_scan(piece, false, true).is_some(),
            found,
            "{piece:?}"
        );
        assert!(
            connection::resync_scan(piece, true, true).is_some(),
            "{piece:?}"
        );
    }
}

#[test]
fn pending_limit_pushes_out_the_oldest() {
    let cfg = HttpConfig {
        max_pending_requests: 2,
        ..HttpConfig::default()
    };
    let mut c = HttpConnection::new(Arc::new(cfg));
    let mut out = HttpOutput::default();
    c.on_data(
        ToServer,
        0,
        b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n",
        &mut out,
    );
    assert_eq!(out.exchanges.len(), 1);
    assert!(view(&out.exchanges[0])
        .anomalies
        .contains(&"http_too_many_pending_requests"));
    assert_eq!(out.stats.pending_overflows, 1);
}

#[test]
fn pending_requests_count_their_heads_against_the_memory_cap() {
    // Pipelined requests with big heads and no response: their heads are held, and must
    // show in memory_bytes() so the flow table's memcap sees them.
    let mut c = conn();
    let mut out = HttpOutput::default();
    let filler = "x".repeat(30_000);
    for i in 0..10 {
        let req = format!("GET /{i} HTTP/1.1\r\nX-Filler: {filler}\r\n\r\n");
        c.on_data(ToServer, i, req.as_bytes(), &mut out);
    }
    assert!(out.exchanges.is_empty());
    assert!(c.memory_bytes() >= 10 * 30_000, "{}", c.memory_bytes());
}

#[test]
fn oversized_head_is_bounded() {
    let cfg = HttpConfig {
        max_header_bytes: 128,
        ..HttpConfig::default()
    };
    let mut c = HttpConnection::new(Arc::new(cfg));
    let mut out = HttpOutput::default();
    c.on_data(ToServer, 0, b"GET / HTTP/1.1\r\n", &mut out);
    for _ in 0..100 {
        c.on_data(
            ToServer,
            1,
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
            &mut out,
        );
    }
    assert!(c.memory_bytes() < 4096);
    assert_eq!(out.stats.heads_too_large, 1);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    const REQS: &[u8] = b"POST /api/orders HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\nGET /api/orders/7?x=1 HTTP/1.1\r\nHost: shop.test\r\n\r\nPUT /api/cart HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    const RESPS: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX: y\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";

    fn cut(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        points.sort_unstable();
        let mut out = Vec::new();
        let mut last = 0;
        for p in points.into_iter().chain([data.len()]) {
            if p > last {
                out.push(data[last..p].to_vec());
                last = p;
            }
        }
        out
    }

    proptest! {
        #[test]
        fn any_segmentation_gives_the_same_exchanges(
            req_cuts in proptest::collection::vec(any::<usize>(), 0..40),
            resp_cuts in proptest::collection::vec(any::<usize>(), 0..40),
            order in proptest::collection::vec(any::<bool>(), 0..100),
        ) {
            let expected = run(&[(ToServer, REQS), (ToClient, RESPS)]);
            prop_assert_eq!(expected.len(), 3);
            let (reqs, resps) = (cut(REQS, &req_cuts), cut(RESPS, &resp_cuts));
            // A response may not be seen before its request is complete: a chunk reaching
            // into response k (which starts at resp_starts[k]) needs the request stream fed
            // up to req_ends[k].
            let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle).unwrap();
            let resp_starts = [0, find(RESPS, b"HTTP/1.1 200 OK\r\nTransfer"), find(RESPS, b"HTTP/1.1 100")];
            let req_ends = [find(REQS, b"GET /api/orders/7"), find(REQS, b"PUT /api/cart"), REQS.len()];
            let mut c = conn();
            let mut out = HttpOutput::default();
            let (mut i, mut j, mut k) = (0, 0, 0);
            let (mut req_fed, mut resp_fed) = (0usize, 0usize);
            while i < reqs.len() || j < resps.len() {
                let last = resp_fed + resps.get(j).map_or(1, Vec::len) - 1;
                let msg = resp_starts.iter().rposition(|s| *s <= last).unwrap_or(0);
                let resp_allowed = j < resps.len() && req_fed >= req_ends[msg];
                let want_resp = !*order.get(k).unwrap_or(&true);
                if i < reqs.len() && (!want_resp || !resp_allowed) {
                    c.on_data(ToServer, 0, &reqs[i], &mut out);
                    req_fed += reqs[i].len();
                    i += 1;
                } else {
                    c.on_data(ToClient, 0, &resps[j], &mut out);
                    resp_fed += resps[j].len();
                    j += 1;
                }
                k += 1;
            }
            c.on_close(0, &mut out);
            let got: Vec<View> = out.exchanges.iter().map(view).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
