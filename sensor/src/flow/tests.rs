//! Flow-table tests: hand-built segments through a [`FlowTable`] into a sink that records a
//! transcript (bytes per direction, gaps, anomalies, FINs, close reason) per flow.
//! The shared test harness (`Rec`, `Harness`) is also used by the property tests.

use super::*;
use crate::decode::tcp_flags::{ACK, FIN, PSH, RST, SYN};
use crate::decode::TcpSegment;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub(crate) const S: u64 = 1_000_000_000;

/// What one flow's sink saw.
#[derive(Debug, Clone)]
pub(crate) struct FlowLog {
    pub info: FlowInfo,
    pub to_server: Vec<u8>,
    pub to_client: Vec<u8>,
    pub gaps: Vec<(Direction, u64)>,
    pub anomalies: Vec<(Direction, StreamAnomaly)>,
    pub fins: Vec<Direction>,
    /// Acknowledged offsets reported, per direction acknowledged (kept apart from `calls`).
    pub acks: Vec<(Direction, u64)>,
    pub close: Option<(CloseReason, u64)>,
    /// Every call in order, as short strings, to check ordering.
    pub calls: Vec<String>,
}

impl FlowLog {
    pub fn data(&self, d: Direction) -> &[u8] {
        match d {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }
}

/// Test context: transcripts by flow id and knobs for the sinks.
#[derive(Debug, Default)]
pub(crate) struct Rec {
    pub flows: BTreeMap<u64, FlowLog>,
    /// Sinks stop wanting data once they received this many bytes (both directions).
    pub stop_after: Option<usize>,
    /// Memory each sink reports.
    pub sink_mem: usize,
}

pub(crate) struct TestSink {
    id: u64,
    got: usize,
    stop_after: Option<usize>,
    mem: usize,
    closed: bool,
}

impl TestSink {
    fn log<'a>(&self, ctx: &'a mut Rec) -> &'a mut FlowLog {
        assert!(!self.closed, "call after on_close");
        ctx.flows.get_mut(&self.id).expect("open before any call")
    }
}

impl StreamSink for TestSink {
    type Ctx = Rec;
    fn open(ctx: &mut Rec, info: &FlowInfo) -> Self {
        assert!(!ctx.flows.contains_key(&info.flow_id), "open twice");
        ctx.flows.insert(
            info.flow_id,
            FlowLog {
                info: info.clone(),
                to_server: Vec::new(),
                to_client: Vec::new(),
                gaps: Vec::new(),
                anomalies: Vec::new(),
                fins: Vec::new(),
                acks: Vec::new(),
                close: None,
                calls: vec!["open".into()],
            },
        );
        TestSink {
            id: info.flow_id,
            got: 0,
            stop_after: ctx.stop_after,
            mem: ctx.sink_mem,
            closed: false,
        }
    }
    fn on_data(&mut self, ctx: &mut Rec, info: &FlowInfo, dir: Direction, _ts: u64, data: &[u8]) {
        assert_eq!(info.flow_id, self.id);
        assert!(!data.is_empty());
        self.got += data.len();
        let l = self.log(ctx);
        l.calls.push(format!("data {dir:?} {}", data.len()));
        match dir {
            Direction::ToServer => l.to_server.extend_from_slice(data),
            Direction::ToClient => l.to_client.extend_from_slice(data),
        }
    }
    fn on_ack(&mut self, ctx: &mut Rec, dir: Direction, offset: u64) {
        self.log(ctx).acks.push((dir, offset));
    }
    fn on_gap(&mut self, ctx: &mut Rec, _: &FlowInfo, dir: Direction, _ts: u64, len: u64) {
        assert!(len > 0);
        let l = self.log(ctx);
        l.calls.push(format!("gap {dir:?} {len}"));
        l.gaps.push((dir, len));
    }
    fn on_anomaly(
        &mut self,
        ctx: &mut Rec,
        _: &FlowInfo,
        dir: Direction,
        _ts: u64,
        a: StreamAnomaly,
    ) {
        let l = self.log(ctx);
        l.calls.push(format!("anomaly {dir:?} {}", a.as_str()));
        l.anomalies.push((dir, a));
    }
    fn on_fin(&mut self, ctx: &mut Rec, _: &FlowInfo, dir: Direction, _ts: u64) {
        let l = self.log(ctx);
        assert!(!l.fins.contains(&dir), "fin twice");
        l.calls.push(format!("fin {dir:?}"));
        l.fins.push(dir);
    }
    fn on_close(&mut self, ctx: &mut Rec, _: &FlowInfo, ts: u64, reason: CloseReason) {
        let l = self.log(ctx);
        l.calls.push(format!("close {}", reason.as_str()));
        l.close = Some((reason, ts));
        self.closed = true;
    }
    fn wants_data(&self) -> bool {
        !matches!(self.stop_after, Some(n) if self.got >= n)
    }
    fn memory_bytes(&self) -> usize {
        self.mem
    }
}

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(crate) const CLI: (&str, u16) = ("10.0.0.1", 40000);
pub(crate) const SRV: (&str, u16) = ("10.0.0.2", 80);

/// A table, its transcript, and the current packet time.
pub(crate) struct Harness {
    pub t: FlowTable<TestSink>,
    pub rec: Rec,
    pub ts: u64,
    pub cli: (IpAddr, u16),
    pub srv: (IpAddr, u16),
}

impl Harness {
    pub fn new(cfg: FlowConfig) -> Harness {
        Harness {
            t: FlowTable::new(cfg),
            rec: Rec::default(),
            ts: 1_700_000_000 * S,
            cli: (ip(CLI.0), CLI.1),
            srv: (ip(SRV.0), SRV.1),
        }
    }

    pub fn send(
        &mut self,
        from: (IpAddr, u16),
        to: (IpAddr, u16),
        seq: u32,
        ack: u32,
        flags: u8,
        data: &[u8],
    ) {
        let seg = TcpSegment {
            src: from.0,
            dst: to.0,
            src_port: from.1,
            dst_port: to.1,
            seq,
            ack,
            flags,
            window: 65535,
            payload: data,
            vlan: None,
            tunnel: None,
        };
        self.ts += 1_000_000; // 1 ms per packet
        self.t.process(&seg, self.ts, &mut self.rec);
    }

    /// Client to server.
    pub fn c(&mut self, seq: u32, ack: u32, flags: u8, data: &[u8]) {
        self.send(self.cli, self.srv, seq, ack, flags, data);
    }

    /// Server to client.
    pub fn s(&mut self, seq: u32, ack: u32, flags: u8, data: &[u8]) {
        self.send(self.srv, self.cli, seq, ack, flags, data);
    }

    pub fn flow(&self, id: u64) -> &FlowLog {
        self.rec.flows.get(&id).expect("flow opened")
    }

    pub fn only(&self) -> &FlowLog {
        assert_eq!(self.rec.flows.len(), 1, "{:?}", self.rec.flows.keys());
        self.rec.flows.values().next().unwrap()
    }

    pub fn flush(&mut self) {
        self.t.flush_all(self.ts, &mut self.rec);
    }

    /// Three-way handshake with client ISN `ci` and server ISN `si`.
    pub fn handshake(&mut self, ci: u32, si: u32) {
        self.c(ci, 0, SYN, b"");
        self.s(si, ci.wrapping_add(1), SYN | ACK, b"");
        self.c(ci.wrapping_add(1), si.wrapping_add(1), ACK, b"");
    }
}

const CI: u32 = 1000;
const SI: u32 = 5000;
const REQ: &[u8] = b"GET /api/users/1 HTTP/1.1\r\nHost: x\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn cfg() -> FlowConfig {
    FlowConfig::default()
}

#[test]
fn handshake_in_order_fin_close_and_linger() {
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    let c1 = CI + 1;
    let s1 = SI + 1;
    h.c(c1, s1, ACK | PSH, REQ);
    h.s(s1, c1 + REQ.len() as u32, ACK | PSH, RESP);
    h.c(
        c1 + REQ.len() as u32,
        s1 + RESP.len() as u32,
        ACK | FIN,
        b"",
    );
    h.s(
        s1 + RESP.len() as u32,
        c1 + REQ.len() as u32 + 1,
        ACK | FIN,
        b"",
    );
    h.c(
        c1 + REQ.len() as u32 + 1,
        s1 + RESP.len() as u32 + 1,
        ACK,
        b"",
    );
    let l = h.only();
    assert_eq!(l.info.flow_id, 0);
    assert_eq!(l.info.client, ip(CLI.0));
    assert_eq!(l.info.client_port, CLI.1);
    assert_eq!(l.info.server_port, 80);
    assert!(!l.info.midstream);
    assert_eq!(
        l.info.community_id,
        community_id_v1(0, ip(CLI.0), CLI.1, ip(SRV.0), 80).into()
    );
    assert_eq!(l.to_server, REQ);
    assert_eq!(l.to_client, RESP);
    assert!(l.gaps.is_empty() && l.anomalies.is_empty());
    assert_eq!(l.fins, vec![Direction::ToServer, Direction::ToClient]);
    assert_eq!(l.close.map(|c| c.0), Some(CloseReason::Fin));
    assert_eq!(l.calls.first().map(String::as_str), Some("open"));
    assert_eq!(h.t.stats().closed(CloseReason::Fin), 1);
    assert_eq!(h.t.stats().flows_lingering, 1);
    assert_eq!(h.t.stats().flows_active, 0);
    // The last ACK above arrived after the close; more stray retransmissions do not make a flow.
    h.s(s1, c1 + REQ.len() as u32, ACK | PSH, RESP);
    assert_eq!(h.rec.flows.len(), 1);
    assert_eq!(h.t.stats().flows_created, 1);
    assert_eq!(h.t.stats().segments_after_close, 2);
    assert_eq!(h.t.stats().data_after_close, 0);
    // After the linger time the entry goes away.
    h.t.expire(h.ts + 6 * S, &mut h.rec);
    assert!(h.t.is_empty());
    assert_eq!(h.t.memory_bytes(), 0);
}

#[test]
fn syn_ack_seen_first_and_late_syn() {
    let mut h = Harness::new(cfg());
    h.s(SI, CI + 1, SYN | ACK, b"");
    h.c(CI, 0, SYN, b""); // late SYN of the same connection
    h.c(CI + 1, SI + 1, ACK, REQ);
    let l = h.only();
    assert!(!l.info.midstream);
    assert_eq!(l.info.client, ip(CLI.0));
    assert_eq!(l.to_server, REQ);
    assert_eq!(h.t.stats().port_reuse, 0);
}

#[test]
fn midstream_orientation_by_content() {
    // A response seen first, between two ephemeral ports: its sender is the server.
    let mut h = Harness::new(cfg());
    h.cli = (ip("10.1.0.1"), 50000);
    h.srv = (ip("10.1.0.2"), 40000);
    h.c(77, 99, ACK, b""); // pure ACK before anything: just tracked
    h.s(99, 77, ACK, RESP);
    h.c(77, 99 + RESP.len() as u32, ACK, REQ);
    let l = h.only();
    assert!(l.info.midstream);
    assert_eq!(l.info.server, ip("10.1.0.2"));
    assert_eq!(l.info.server_port, 40000);
    assert_eq!(l.to_client, RESP);
    assert_eq!(l.to_server, REQ);
    assert_eq!(h.t.stats().midstream_pickups, 1);
    assert_eq!(h.t.stats().segments_before_orientation, 1);

    // A request wins over the port: the sender on 8080 talking to 40000 is the client.
    let mut h = Harness::new(cfg());
    h.cli = (ip("10.1.0.1"), 8080);
    h.srv = (ip("10.1.0.2"), 40000);
    h.c(5, 5, ACK, b"PROPFIND /dav HTTP/1.1\r\n\r\n");
    assert_eq!(h.only().info.client_port, 8080);
}

#[test]
fn midstream_orientation_by_port() {
    let cases = [
        // (sender port, receiver port, sender is client)
        (443, 51000, false),
        (51000, 5000, true),
        (9200, 40000, false),
        (40000, 41000, true),
        (80, 8080, true),
    ];
    for (sp, dp, sender_is_client) in cases {
        let mut h = Harness::new(cfg());
        h.cli = (ip("10.2.0.1"), sp);
        h.srv = (ip("10.2.0.2"), dp);
        h.c(1, 1, ACK, b"\x16\x03\x01\x02\x00");
        let l = h.only();
        assert_eq!(l.info.client_port == sp, sender_is_client, "{sp}->{dp}");
        let d = if sender_is_client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        assert_eq!(l.data(d), b"\x16\x03\x01\x02\x00");
    }
}

#[test]
fn out_of_order_and_retransmission() {
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    let c1 = CI + 1;
    h.c(c1 + 10, SI + 1, ACK, &REQ[10..20]);
    h.c(c1 + 20, SI + 1, ACK, &REQ[20..]);
    assert!(h.only().to_server.is_empty());
    assert!(h.t.stats().ooo_bytes_current > 0);
    h.c(c1, SI + 1, ACK, &REQ[..10]);
    assert_eq!(h.only().to_server, REQ);
    // Full retransmission and a partial one: dropped, counted, no anomaly.
    h.c(c1, SI + 1, ACK, REQ);
    h.c(c1 + 5, SI + 1, ACK, &REQ[5..15]);
    assert_eq!(h.only().to_server, REQ);
    assert!(h.only().anomalies.is_empty());
    let st = h.t.stats();
    assert_eq!(st.retransmitted_segments, 2);
    assert_eq!(st.retransmitted_bytes, (REQ.len() + 10) as u64);
    assert_eq!(st.ooo_bytes_current, 0);
    assert_eq!(st.ooo_segments_buffered, 2);
}

#[test]
fn consistent_and_inconsistent_overlap() {
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    let c1 = CI + 1;
    // Consistent overlap with buffered data, and with delivered data.
    h.c(c1 + 8, SI + 1, ACK, &REQ[8..16]);
    h.c(c1 + 4, SI + 1, ACK, &REQ[4..12]); // overlaps the buffered piece, same bytes
    h.c(c1, SI + 1, ACK, &REQ[..6]);
    h.c(c1 + 2, SI + 1, ACK, &REQ[2..20]);
    assert_eq!(h.only().to_server, &REQ[..20]);
    assert!(h.only().anomalies.is_empty());
    // Inconsistent: the first copy wins, reported once per direction, counted each time.
    h.c(c1 + 10, SI + 1, ACK, b"XXXXXXXXXXXXXXXX");
    h.c(c1 + 12, SI + 1, ACK, b"YYYYYYYYYYYYYYYYYYY");
    let l = h.only();
    assert_eq!(&l.to_server[..20], &REQ[..20]);
    assert_eq!(&l.to_server[20..], b"XXXXXXYYYYY" as &[u8]);
    assert_eq!(
        l.anomalies,
        vec![(Direction::ToServer, StreamAnomaly::InconsistentOverlap)]
    );
    assert_eq!(h.t.stats().overlaps_inconsistent, 2);
    // Inconsistent against a buffered segment.
    h.c(c1 + 100, SI + 1, ACK, b"aaaa");
    h.c(c1 + 98, SI + 1, ACK, b"bbbbbb");
    assert_eq!(h.t.stats().overlaps_inconsistent, 3);
}

#[test]
fn sequence_wraps_across_u32() {
    let mut h = Harness::new(cfg());
    let ci = u32::MAX - 10;
    let si = u32::MAX;
    h.handshake(ci, si);
    let c1 = ci.wrapping_add(1);
    let s1 = si.wrapping_add(1); // 0
    h.c(c1.wrapping_add(20), s1, ACK, &REQ[20..]);
    h.c(c1, s1, ACK, &REQ[..20]);
    h.s(s1, c1.wrapping_add(REQ.len() as u32), ACK, RESP);
    h.c(
        c1.wrapping_add(REQ.len() as u32),
        s1.wrapping_add(RESP.len() as u32),
        ACK | FIN,
        b"",
    );
    h.s(
        s1.wrapping_add(RESP.len() as u32),
        c1.wrapping_add(REQ.len() as u32 + 1),
        ACK | FIN,
        b"",
    );
    let l = h.only();
    assert_eq!(l.to_server, REQ);
    assert_eq!(l.to_client, RESP);
    assert!(l.gaps.is_empty());
    assert_eq!(l.close.map(|c| c.0), Some(CloseReason::Fin));
}

#[test]
fn gap_by_ack_above_hole() {
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    let c1 = CI + 1;
    h.c(c1, SI + 1, ACK, &REQ[..5]);
    // REQ[5..15] is never captured.
    h.c(c1 + 15, SI + 1, ACK, &REQ[15..]);
    assert_eq!(h.only().gaps, vec![]);
    // The server acknowledges everything: the hole is declared, the rest delivered.
    h.s(SI + 1, c1 + REQ.len() as u32, ACK, b"");
    let l = h.only();
    assert_eq!(l.gaps, vec![(Direction::ToServer, 10)]);
    let mut want = REQ[..5].to_vec();
    want.extend_from_slice(&REQ[15..]);
    assert_eq!(l.to_server, want);
    assert_eq!(h.t.stats().gaps_ack_above_hole, 1);
    assert_eq!(h.t.stats().gap_bytes, 10);
    let pos = |p: &str| l.calls.iter().position(|c| c.starts_with(p)).unwrap();
    assert!(pos("gap") < pos(&format!("data ToServer {}", REQ.len() - 15)));
}

#[test]
fn acknowledged_offsets_reach_the_sink_before_the_payload_they_ride_with() {
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    let c1 = CI + 1;
    h.c(c1, SI + 1, ACK, REQ);
    h.s(SI + 1, c1 + REQ.len() as u32, ACK, RESP);
    // The next request acknowledges the whole response; a bogus far-away ack is not passed.
    h.c(c1 + REQ.len() as u32, SI + 1 + RESP.len() as u32, ACK, REQ);
    h.s(SI + 1 + RESP.len() as u32, c1 + 0x4000_0000, ACK, b"");
    let l = h.only();
    let acked = |dir: Direction| -> Vec<u64> {
        l.acks.iter().filter(|a| a.0 == dir).map(|a| a.1).collect()
    };
    // The handshake's last ACK and the first request acknowledge offset 0 of the responses.
    assert_eq!(acked(Direction::ToClient), [0, 0, RESP.len() as u64]);
    // The SYN-ACK acknowledges offset 0 of the requests, the response all of the first.
    assert_eq!(acked(Direction::ToServer), [0, REQ.len() as u64]);
}

#[test]
fn ack_beyond_next_without_buffered_data_waits() {
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    let c1 = CI + 1;
    h.s(SI + 1, c1 + REQ.len() as u32, ACK, b""); // ack arrives before the data
    h.c(c1, SI + 1, ACK, REQ);
    let l = h.only();
    assert!(l.gaps.is_empty());
    assert_eq!(l.to_server, REQ);
}

#[test]
fn gap_by_ooo_limit() {
    let mut h = Harness::new(FlowConfig {
        max_ooo_segments_per_direction: 3,
        ..cfg()
    });
    h.handshake(CI, SI);
    let c1 = CI + 1;
    // Hole at offset 0..2, then 4 single-byte segments with holes between.
    for off in [2u32, 4, 6, 8] {
        h.c(c1 + off, SI + 1, ACK, &REQ[off as usize..off as usize + 1]);
    }
    let l = h.only();
    assert_eq!(l.gaps, vec![(Direction::ToServer, 2)]);
    assert_eq!(l.to_server, &REQ[2..3]);
    assert_eq!(
        l.anomalies,
        vec![(Direction::ToServer, StreamAnomaly::OutOfOrderLimit)]
    );
    assert_eq!(h.t.stats().ooo_limit_hits, 1);
    // Byte limit as well.
    let mut h = Harness::new(FlowConfig {
        max_ooo_bytes_per_direction: 10,
        ..cfg()
    });
    h.handshake(CI, SI);
    h.c(c1 + 5, SI + 1, ACK, &REQ[5..30]);
    let l = h.only();
    assert_eq!(l.gaps, vec![(Direction::ToServer, 5)]);
    assert_eq!(l.to_server, &REQ[5..30]);
}

#[test]
fn trailing_gap_at_close() {
    // The server acknowledged request bytes that were never captured; the flow then ends.
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    let c1 = CI + 1;
    h.c(c1, SI + 1, ACK, &REQ[..10]);
    h.s(SI + 1, c1 + REQ.len() as u32, ACK, b"");
    assert!(h.only().gaps.is_empty());
    h.s(SI + 1, c1 + REQ.len() as u32, RST | ACK, b"");
    let l = h.only();
    assert_eq!(l.gaps, vec![(Direction::ToServer, (REQ.len() - 10) as u64)]);
    assert_eq!(l.close.map(|c| c.0), Some(CloseReason::Rst));
    let pos = |p: &str| l.calls.iter().position(|c| c.starts_with(p)).unwrap();
    assert!(pos("gap") < pos("close"));
    assert_eq!(h.t.stats().gaps_trailing, 1);

    // The same with the end of the capture, and the bytes of the final segment before the FIN.
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    h.c(c1, SI + 1, ACK, REQ);
    h.s(SI + 1, c1 + REQ.len() as u32, ACK, &RESP[..10]);
    h.s(
        SI + 1 + RESP.len() as u32,
        c1 + REQ.len() as u32,
        ACK | FIN,
        b"",
    );
    h.c(c1 + REQ.len() as u32, SI + 2 + RESP.len() as u32, ACK, b"");
    // The client acked the FIN, so the hole before it was declared already.
    let l = h.only();
    assert_eq!(
        l.gaps,
        vec![(Direction::ToClient, (RESP.len() - 10) as u64)]
    );
    assert_eq!(l.fins, vec![Direction::ToClient]);
    h.flush();
    assert_eq!(h.only().close.map(|c| c.0), Some(CloseReason::EndOfCapture));
}

#[test]
fn buffered_data_past_a_hole_is_delivered_at_flush() {
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    let c1 = CI + 1;
    h.c(c1, SI + 1, ACK, &REQ[..5]);
    h.c(c1 + 9, SI + 1, ACK, &REQ[9..]);
    h.flush();
    let l = h.only();
    assert_eq!(l.gaps, vec![(Direction::ToServer, 4)]);
    assert_eq!(l.to_server.len(), REQ.len() - 4);
    assert_eq!(l.close.map(|c| c.0), Some(CloseReason::EndOfCapture));
    assert_eq!(h.t.stats().ooo_bytes_current, 0);
    assert_eq!(h.t.memory_bytes(), 0);
    assert!(h.t.is_empty());
}

#[test]
fn rst_closes_delivers_and_lingers() {
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    let c1 = CI + 1;
    h.c(c1, SI + 1, ACK, &REQ[..10]);
    h.c(c1 + 12, SI + 1, ACK, &REQ[12..]);
    h.s(SI + 1, c1 + 10, RST, b"");
    let l = h.only();
    assert_eq!(l.gaps, vec![(Direction::ToServer, 2)]);
    assert_eq!(l.to_server.len(), REQ.len() - 2);
    assert_eq!(l.close.map(|c| c.0), Some(CloseReason::Rst));
    assert_eq!(h.t.stats().rsts, 1);
    // Data in flight after the RST: counted, not a new flow.
    h.c(c1 + REQ.len() as u32, SI + 1, ACK, b"more");
    h.c(c1, SI + 1, ACK, &REQ[..10]);
    assert_eq!(h.t.stats().flows_created, 1);
    assert_eq!(h.t.stats().segments_after_close, 2);
    assert_eq!(h.t.stats().data_after_close, 1);
    assert_eq!(h.t.stats().flows_lingering, 1);
}

#[test]
fn data_after_fin_is_flagged() {
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    let c1 = CI + 1;
    h.c(c1, SI + 1, ACK | FIN, REQ);
    h.c(c1 + REQ.len() as u32 + 1, SI + 1, ACK, b"after");
    let l = h.only();
    assert_eq!(l.to_server, REQ);
    assert_eq!(l.fins, vec![Direction::ToServer]);
    assert_eq!(
        l.anomalies,
        vec![(Direction::ToServer, StreamAnomaly::DataAfterClose)]
    );
    assert!(l.close.is_none());
}

#[test]
fn syn_with_data_is_delivered_and_flagged() {
    let mut h = Harness::new(cfg());
    h.c(CI, 0, SYN, REQ);
    h.s(SI, CI + 1 + REQ.len() as u32, SYN | ACK, b"");
    h.c(CI + 1 + REQ.len() as u32, SI + 1, ACK, b"");
    h.c(CI, 0, SYN, REQ); // retransmitted SYN: same ISN, same flow
    let l = h.only();
    assert_eq!(l.to_server, REQ);
    assert_eq!(
        l.anomalies,
        vec![(Direction::ToServer, StreamAnomaly::SynWithData)]
    );
    assert_eq!(h.t.stats().syn_with_data, 2);
    assert_eq!(h.t.stats().flows_created, 1);
}

#[test]
fn idle_timeout_on_packet_time() {
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    h.c(CI + 1, SI + 1, ACK, REQ);
    let last = h.ts;
    h.t.expire(last + 119 * S, &mut h.rec);
    assert!(h.only().close.is_none());
    h.t.expire(last + 120 * S, &mut h.rec);
    assert_eq!(
        h.only().close,
        Some((CloseReason::IdleTimeout, last + 120 * S))
    );
    assert!(h.t.is_empty());
    assert_eq!(h.t.stats().closed(CloseReason::IdleTimeout), 1);

    // A flow that never carried data times out after the handshake timeout.
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    let last = h.ts;
    h.t.expire(last + 29 * S, &mut h.rec);
    assert!(h.only().close.is_none());
    h.t.expire(last + 30 * S, &mut h.rec);
    assert_eq!(h.only().close.map(|c| c.0), Some(CloseReason::IdleTimeout));

    // Activity keeps a flow alive; the expiry order follows the last activity.
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    h.c(CI + 1, SI + 1, ACK, &REQ[..4]);
    h.cli.1 = 40001;
    h.handshake(CI, SI);
    h.c(CI + 1, SI + 1, ACK, &REQ[..4]);
    h.ts += 100 * S;
    h.cli.1 = 40000;
    h.c(CI + 5, SI + 1, ACK, &REQ[4..8]);
    h.t.expire(h.ts + 50 * S, &mut h.rec);
    assert_eq!(h.flow(1).close.map(|c| c.0), Some(CloseReason::IdleTimeout));
    assert!(h.flow(0).close.is_none());
}

#[test]
fn max_flows_evicts_least_recently_active() {
    let mut h = Harness::new(FlowConfig {
        max_flows: 2,
        ..cfg()
    });
    for port in [40000u16, 40001] {
        h.cli.1 = port;
        h.handshake(CI, SI);
        h.c(CI + 1, SI + 1, ACK, &REQ[..4]);
    }
    // Flow 0 is active again: flow 1 is now the least recently active.
    h.cli.1 = 40000;
    h.c(CI + 5, SI + 1, ACK, &REQ[4..8]);
    h.cli.1 = 40002;
    h.handshake(CI, SI);
    assert_eq!(h.flow(1).close.map(|c| c.0), Some(CloseReason::Evicted));
    assert!(h.flow(0).close.is_none());
    assert!(h.flow(2).close.is_none());
    assert_eq!(h.t.stats().flows_evicted, 1);
    assert_eq!(h.t.len(), 2);

    // A lingering entry is dropped before an open flow is evicted.
    h.cli.1 = 40000;
    h.c(CI + 9, SI + 1, RST, b"");
    assert_eq!(h.flow(0).close.map(|c| c.0), Some(CloseReason::Rst));
    h.cli.1 = 40003;
    h.handshake(CI, SI);
    assert!(h.flow(2).close.is_none());
    assert_eq!(h.t.stats().lingering_dropped, 1);
    assert_eq!(h.t.stats().flows_evicted, 1);
}

#[test]
fn eviction_follows_last_activity_through_slot_reuse() {
    // Many flows through a small table, touched in a scrambled order: every eviction must
    // take the flow a plain least-recently-active list names, also once evicted entries'
    // slots are reused by new flows (and an entry sits at either end of the list).
    const MAX: usize = 4;
    let mut h = Harness::new(FlowConfig {
        max_flows: MAX,
        ..cfg()
    });
    // (client port, flow id), least recently active first.
    let mut model: Vec<(u16, u64)> = Vec::new();
    let mut next_port = 40_000u16;
    let mut next_id = 0u64;
    for step in 0..200usize {
        if step % 3 == 0 || model.is_empty() {
            let evicted = (model.len() == MAX).then(|| model.remove(0));
            h.cli.1 = next_port;
            h.handshake(CI, SI);
            h.c(CI + 1, SI + 1, ACK, &REQ[..4]);
            model.push((next_port, next_id));
            if let Some((_, id)) = evicted {
                assert_eq!(
                    h.flow(id).close.map(|c| c.0),
                    Some(CloseReason::Evicted),
                    "step {step}: flow {id} should have been evicted"
                );
            }
            next_port += 1;
            next_id += 1;
        } else {
            let i = (step * 7 + step / 5) % model.len();
            let (port, id) = model.remove(i);
            h.cli.1 = port;
            h.c(CI + 5, SI + 1, ACK, b"");
            model.push((port, id));
        }
        for &(_, id) in &model {
            assert!(h.flow(id).close.is_none(), "step {step}: flow {id} closed");
        }
        assert_eq!(h.t.len(), model.len());
    }
    assert_eq!(h.t.stats().flows_evicted, next_id - MAX as u64);
}

#[test]
fn memcap_evicts_other_flows() {
    let one = FlowTable::<TestSink>::FLOW_OVERHEAD + 10_000 + 200;
    let mut h = Harness::new(FlowConfig {
        memcap_bytes: 2 * one + 100,
        overlap_check_bytes: 0,
        ..cfg()
    });
    h.rec.sink_mem = 10_000;
    for port in [40000u16, 40001, 40002] {
        h.cli.1 = port;
        h.handshake(CI, SI);
        h.c(CI + 1, SI + 1, ACK, &REQ[..4]);
    }
    assert_eq!(h.flow(0).close.map(|c| c.0), Some(CloseReason::Evicted));
    assert!(h.flow(1).close.is_none());
    assert!(h.flow(2).close.is_none());
    assert!(h.t.stats().memcap_hits >= 1);
    assert!(h.t.memory_bytes() <= 2 * one + 100);

    // Out-of-order data that does not fit evicts other flows first (the flow itself keeps its
    // buffer and sees no gap).
    let ovh = FlowTable::<TestSink>::FLOW_OVERHEAD;
    let mut h = Harness::new(FlowConfig {
        memcap_bytes: 2 * ovh + 6000,
        overlap_check_bytes: 0,
        ..cfg()
    });
    h.handshake(CI, SI);
    h.c(CI + 1, SI + 1, ACK, b"x");
    h.cli.1 = 40001;
    h.handshake(CI, SI);
    let big = vec![b'z'; 3000];
    h.c(CI + 100, SI + 1, ACK, &big);
    assert!(h.flow(0).close.is_none());
    h.c(CI + 3100, SI + 1, ACK, &big);
    assert_eq!(h.flow(0).close.map(|c| c.0), Some(CloseReason::Evicted));
    h.c(CI + 1, SI + 1, ACK, &[b'z'; 99]);
    let l = h.flow(1);
    assert!(l.gaps.is_empty());
    assert_eq!(l.to_server, vec![b'z'; 6099]);
    assert!(h.t.memory_bytes() <= 2 * ovh + 6000);
}

#[test]
fn port_reuse_after_close_and_syn_on_established() {
    let mut h = Harness::new(cfg());
    h.handshake(CI, SI);
    h.c(CI + 1, SI + 1, ACK | FIN, REQ);
    h.s(SI + 1, CI + 2 + REQ.len() as u32, ACK | FIN, RESP);
    assert_eq!(h.flow(0).close.map(|c| c.0), Some(CloseReason::Fin));
    // Retransmitted SYN of the old connection: stray.
    h.c(CI, 0, SYN, b"");
    assert_eq!(h.rec.flows.len(), 1);
    // New ISN: a new connection on the same 4-tuple.
    h.handshake(90_000, 70_000);
    h.c(90_001, 70_001, ACK, REQ);
    assert_eq!(h.rec.flows.len(), 2);
    assert_eq!(h.flow(1).to_server, REQ);
    assert_eq!(h.t.stats().port_reuse, 1);
    // A SYN with yet another ISN in the middle of the established flow is ignored.
    h.c(123_456, 0, SYN, b"");
    h.c(90_001 + REQ.len() as u32, 70_001, ACK, b"more");
    assert_eq!(h.rec.flows.len(), 2);
    assert_eq!(h.t.stats().syn_on_established_ignored, 1);
    assert!(h.flow(1).to_server.ends_with(b"more"));
    // Once a FIN was seen, a new SYN is a new connection (the old one is closed first).
    h.c(90_005 + REQ.len() as u32, 70_001, ACK | FIN, b"");
    h.c(555, 0, SYN, b"");
    assert_eq!(h.flow(1).close.map(|c| c.0), Some(CloseReason::Evicted));
    assert_eq!(h.rec.flows.len(), 3);
    assert_eq!(h.t.stats().port_reuse, 2);
}

#[test]
fn wants_data_false_stops_payload_but_tracks_close() {
    let mut h = Harness::new(cfg());
    h.rec.stop_after = Some(10);
    h.handshake(CI, SI);
    let c1 = CI + 1;
    h.c(c1, SI + 1, ACK, &REQ[..10]);
    h.c(c1 + 20, SI + 1, ACK, &REQ[20..]); // would be buffered: ignored
    h.c(c1 + 10, SI + 1, ACK, &REQ[10..20]);
    h.s(SI + 1, c1 + REQ.len() as u32, ACK, RESP);
    h.c(
        c1 + REQ.len() as u32,
        SI + 1 + RESP.len() as u32,
        ACK | FIN,
        b"",
    );
    h.s(
        SI + 1 + RESP.len() as u32,
        c1 + REQ.len() as u32 + 1,
        ACK | FIN,
        b"",
    );
    let l = h.only();
    assert_eq!(l.to_server, &REQ[..10]);
    assert!(l.to_client.is_empty());
    assert_eq!(l.fins.len(), 2);
    assert_eq!(l.close.map(|c| c.0), Some(CloseReason::Fin));
    assert_eq!(h.t.stats().segments_ignored_not_wanted, 3);
    assert_eq!(h.t.stats().ooo_bytes_current, 0);

    // A FIN waiting behind a hole ends its direction when the sink stops wanting data.
    let mut h = Harness::new(cfg());
    h.rec.stop_after = Some(5);
    h.handshake(CI, SI);
    h.c(c1 + 10, SI + 1, ACK | FIN, &REQ[10..]);
    h.c(c1, SI + 1, ACK, &REQ[..5]);
    assert_eq!(h.only().fins, vec![Direction::ToServer]);
    h.s(SI + 1, c1 + REQ.len() as u32 + 1, ACK | FIN, b"");
    let l = h.only();
    assert_eq!(l.close.map(|c| c.0), Some(CloseReason::Fin));
    assert_eq!(l.to_server, &REQ[..5]);
    assert!(l.gaps.is_empty());
}

#[test]
fn fins_without_data_before_orientation() {
    let mut h = Harness::new(cfg());
    h.cli = (ip("10.3.0.1"), 50000);
    h.srv = (ip("10.3.0.2"), 50001);
    h.c(10, 20, ACK | FIN, b"");
    h.s(20, 11, ACK | FIN, b"");
    assert!(h.rec.flows.is_empty());
    assert_eq!(h.t.stats().closed(CloseReason::Fin), 1);
    h.flush();
    assert!(h.t.is_empty());
}

#[test]
fn unoriented_fin_then_data_from_peer() {
    let mut h = Harness::new(cfg());
    h.c(10, 20, ACK | FIN, b""); // client half-closes before we know who is who
    h.s(20, 11, ACK, RESP);
    let l = h.only();
    assert_eq!(l.info.server_port, 80);
    assert_eq!(l.fins, vec![Direction::ToServer]);
    assert_eq!(l.to_client, RESP);
    let pos = |p: &str| l.calls.iter().position(|c| c.starts_with(p)).unwrap();
    assert!(pos("open") < pos("fin"));
}

#[test]
fn vlan_and_tunnel_keep_flows_apart() {
    let mut h = Harness::new(cfg());
    let mk = |vlan: Option<u16>| TcpSegment {
        src: ip(CLI.0),
        dst: ip(SRV.0),
        src_port: CLI.1,
        dst_port: SRV.1,
        seq: 1,
        ack: 1,
        flags: ACK,
        window: 0,
        payload: REQ,
        vlan,
        tunnel: None,
    };
    h.t.process(&mk(None), h.ts, &mut h.rec);
    h.t.process(&mk(Some(10)), h.ts, &mut h.rec);
    assert_eq!(h.rec.flows.len(), 2);
    assert_eq!(h.flow(1).info.vlan, Some(10));
}

#[test]
fn flush_all_closes_in_flow_id_order() {
    let mut h = Harness::new(cfg());
    for port in [40003u16, 40001, 40002] {
        h.cli.1 = port;
        h.c(1, 1, ACK, REQ);
    }
    h.flush();
    let ids: Vec<_> = h
        .rec
        .flows
        .values()
        .map(|l| (l.info.flow_id, l.info.client_port))
        .collect();
    assert_eq!(ids, vec![(0, 40003), (1, 40001), (2, 40002)]);
    assert!(h
        .rec
        .flows
        .values()
        .all(|l| l.close.map(|c| c.0) == Some(CloseReason::EndOfCapture)));
    assert_eq!(h.t.stats().flows_active, 0);
    assert_eq!(h.t.stats().closed(CloseReason::EndOfCapture), 3);
}
