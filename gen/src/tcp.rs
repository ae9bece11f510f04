//! TCP conversations: one [`Conn`] carries a planned [`Session`]'s requests over one or more
//! connections and turns each step into timed packets — three-way handshake, request and
//! response data segmented at the MSS, cumulative and delayed ACKs, keep-alive reuse, idle
//! close by the server after its keep-alive timeout, FIN close, and (by configured fractions)
//! duplicate retransmissions and swapped adjacent segments.
//!
//! Invariants: sequence and acknowledgement numbers are exact; a retransmission repeats the
//! same bytes at the same sequence number; reordering swaps two adjacent data segments of one
//! burst without changing their content; a step's packets are returned in time order.

use crate::http::{Bodies, Req};
use crate::net::{ACK, FIN, PSH, SYN};
use crate::rng::Rng;
use std::collections::VecDeque;

/// The MSS both sides announce.
pub const MSS: usize = 1460;
/// Servers close idle keep-alive connections after this long, µs (nginx's default is 75 s;
/// API gateways use less).
pub const KEEPALIVE_US: u64 = 15_000_000;

/// A client endpoint.
#[derive(Clone, Debug)]
pub struct Client {
    pub ip: [u8; 4],
    pub mac: [u8; 6],
    pub ttl: u8,
    /// Round trip sensor → client → sensor, µs.
    pub rtt_us: u64,
}

/// A server endpoint.
#[derive(Clone, Debug)]
pub struct Server {
    pub ip: [u8; 4],
    pub mac: [u8; 6],
    pub port: u16,
}

/// A planned conversation: one client's requests to one server, in order.
#[derive(Debug)]
pub struct Session {
    pub actor: u32,
    pub client: Client,
    pub server: u16,
    pub start_us: u64,
    pub reqs: VecDeque<Req>,
    /// Usernames or key ids the session acts as (for labels).
    pub identities: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Buf {
    None,
    Req,
    Resp,
}

/// One packet of a connection, its payload a range of the current request or response.
#[derive(Clone, Copy, Debug)]
pub struct Pkt {
    pub ts: u64,
    pub from_client: bool,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub buf: Buf,
    pub start: u32,
    pub len: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Closed,
    Open,
    /// The server closes the idle connection at the next step; the next request comes later.
    IdleClose,
    /// Client closes at the next step.
    Finish,
    Done,
}

/// Knobs of the packet layer.
#[derive(Clone, Debug)]
pub struct TcpKnobs {
    /// Fraction of data segments seen twice (a retransmission after loss past the tap).
    pub retransmit: f64,
    /// Fraction of multi-segment bursts in which two adjacent segments arrive swapped.
    pub reorder: f64,
}

/// Ephemeral ports per client address: each client hands out ports in sequence from a random
/// start (as Linux does per destination), so a client's connections do not collide.
#[derive(Default)]
pub struct Ports(std::collections::HashMap<[u8; 4], u16>);

impl Ports {
    pub fn next(&mut self, ip: [u8; 4], rng: &mut Rng) -> u16 {
        let p = self
            .0
            .entry(ip)
            .or_insert_with(|| rng.range(32_768, 61_000) as u16);
        let port = *p;
        *p = if *p >= 60_999 { 32_768 } else { *p + 1 };
        port
    }
}

/// What one exchange contributed (for labels and totals).
#[derive(Clone, Copy, Debug, Default)]
pub struct ExchangeInfo {
    pub ts: u64,
    pub records: u32,
    pub gzip: bool,
    pub chunked: bool,
}

/// A session being written.
pub struct Conn {
    pub session: Session,
    pub sport: u16,
    phase: Phase,
    c_seq: u32,
    s_seq: u32,
    pub c_ipid: u16,
    pub s_ipid: u16,
    /// Round trip sensor → server → sensor, µs.
    rtt_s: u64,
    /// Packets planned, in time order.
    pub queue: VecDeque<Pkt>,
    pub req: Vec<u8>,
    pub resp: Vec<u8>,
    rng: Rng,
    /// Impairments draw from their own stream, so content does not depend on them.
    imp: Rng,
    /// When the next step starts once the queue is empty.
    next_step: u64,
    closed_by_server: bool,
}

/// A packet without payload (handshake, ACK, FIN).
pub fn ctl(ts: u64, from_client: bool, flags: u8, seq: u32, ack: u32) -> Pkt {
    Pkt {
        ts,
        from_client,
        flags,
        seq,
        ack,
        buf: Buf::None,
        start: 0,
        len: 0,
    }
}

/// Segments `len` bytes of `buf` at the MSS, back to back; returns the last segment's time
/// and the next sequence number.
pub fn push_data(
    q: &mut Vec<Pkt>,
    ts0: u64,
    seq0: u32,
    ack: u32,
    buf: Buf,
    len: usize,
) -> (u64, u32) {
    let from_client = buf == Buf::Req;
    let gap_us = if from_client { 8 } else { 12 };
    let (mut off, mut ts, mut seq) = (0usize, ts0, seq0);
    while off < len {
        let n = (len - off).min(MSS);
        let last = off + n == len;
        q.push(Pkt {
            ts,
            from_client,
            flags: if last { ACK | PSH } else { ACK },
            seq,
            ack,
            buf,
            start: off as u32,
            len: n as u32,
        });
        seq = seq.wrapping_add(n as u32);
        off += n;
        if !last {
            ts += gap_us;
        }
    }
    (ts, seq)
}

impl Conn {
    pub fn new(session: Session, mut rng: Rng) -> Self {
        let start = session.start_us;
        let imp = rng.fork();
        Conn {
            sport: rng.range(32_768, 61_000) as u16,
            phase: Phase::Closed,
            c_seq: rng.next_u64() as u32,
            s_seq: rng.next_u64() as u32,
            c_ipid: rng.next_u64() as u16,
            s_ipid: rng.next_u64() as u16,
            rtt_s: rng.range(80, 1_500),
            queue: VecDeque::new(),
            req: Vec::new(),
            resp: Vec::new(),
            session,
            rng,
            imp,
            next_step: start,
            closed_by_server: false,
        }
    }

    /// Time of this connection's next packet, or `None` when it is finished.
    pub fn next_time(&self) -> Option<u64> {
        match self.queue.front() {
            Some(p) => Some(p.ts),
            None if self.phase == Phase::Done => None,
            None => Some(self.next_step),
        }
    }

    /// Plans the next step if the queue is empty. Returns the exchange written, if any.
    pub fn step(
        &mut self,
        bodies: &mut Bodies,
        knobs: &TcpKnobs,
        epoch_secs: u64,
        ports: &mut Ports,
    ) -> Option<ExchangeInfo> {
        if !self.queue.is_empty() || self.phase == Phase::Done {
            return None;
        }
        let mut t = self.next_step;
        let rtt_c = self.session.client.rtt_us;
        let mut q: Vec<Pkt> = Vec::with_capacity(32);
        let mut info = None;
        match self.phase {
            Phase::Done => return None,
            Phase::Closed => {
                if self.session.reqs.is_empty() {
                    self.phase = Phase::Done;
                    return None;
                }
                // A new connection (the old one's packets are all out: the queue is empty):
                // the client's next ephemeral port, fresh ISNs.
                self.sport = ports.next(self.session.client.ip, &mut self.rng);
                self.c_seq = self.rng.next_u64() as u32;
                self.s_seq = self.rng.next_u64() as u32;
                q.push(ctl(t, true, SYN, self.c_seq, 0));
                self.c_seq = self.c_seq.wrapping_add(1);
                t += self.rtt_s;
                q.push(ctl(t, false, SYN | ACK, self.s_seq, self.c_seq));
                self.s_seq = self.s_seq.wrapping_add(1);
                t += rtt_c;
                q.push(ctl(t, true, ACK, self.c_seq, self.s_seq));
                t += self.rng.range(20, 400);
                self.phase = Phase::Open;
                info = Some(self.exchange(t, &mut q, bodies, knobs, epoch_secs));
            }
            Phase::Open => info = Some(self.exchange(t, &mut q, bodies, knobs, epoch_secs)),
            Phase::IdleClose => {
                self.server_close(t, &mut q);
                self.phase = Phase::Closed;
            }
            Phase::Finish => {
                q.push(ctl(t, true, FIN | ACK, self.c_seq, self.s_seq));
                self.c_seq = self.c_seq.wrapping_add(1);
                t += self.rtt_s;
                q.push(ctl(t, false, FIN | ACK, self.s_seq, self.c_seq));
                self.s_seq = self.s_seq.wrapping_add(1);
                t += rtt_c;
                q.push(ctl(t, true, ACK, self.c_seq, self.s_seq));
                self.phase = Phase::Done;
            }
        }
        q.sort_by_key(|p| p.ts);
        let last = q.last().map_or(t, |p| p.ts);
        self.queue.extend(q);
        self.plan_next(last);
        info
    }

    /// Decides what follows once the packets up to `last` are out.
    fn plan_next(&mut self, last: u64) {
        match self.phase {
            Phase::Done => {}
            Phase::Closed => {
                // A new connection (new port, new ISNs) for the next request, if any.
                match self.session.reqs.front() {
                    Some(r) => self.next_step = last + r.gap_us.max(1),
                    None => self.phase = Phase::Done,
                }
            }
            Phase::Open => match self.session.reqs.front() {
                Some(r) if r.gap_us > KEEPALIVE_US => {
                    self.phase = Phase::IdleClose;
                    self.next_step = last + KEEPALIVE_US;
                    // After the idle close the next request opens a new connection: its gap
                    // counts from the original response end.
                    if let Some(r) = self.session.reqs.front_mut() {
                        r.gap_us -= KEEPALIVE_US;
                    }
                }
                Some(r) => self.next_step = last + r.gap_us.max(1),
                None => {
                    self.phase = Phase::Finish;
                    self.next_step = last + self.rng.log_uniform(10_000.0, 3_000_000.0) as u64;
                }
            },
            Phase::IdleClose | Phase::Finish => self.next_step = last + 1,
        }
    }

    fn server_close(&mut self, mut t: u64, q: &mut Vec<Pkt>) {
        let rtt_c = self.session.client.rtt_us;
        q.push(ctl(t, false, FIN | ACK, self.s_seq, self.c_seq));
        self.s_seq = self.s_seq.wrapping_add(1);
        t += rtt_c;
        q.push(ctl(t, true, FIN | ACK, self.c_seq, self.s_seq));
        self.c_seq = self.c_seq.wrapping_add(1);
        t += self.rtt_s;
        q.push(ctl(t, false, ACK, self.s_seq, self.c_seq));
        self.closed_by_server = true;
    }

    /// Adds duplicates and swaps to the data segments `q[from..]` of one burst.
    fn impair(&mut self, q: &mut Vec<Pkt>, from: usize, knobs: &TcpKnobs, resend_after: u64) {
        let n = q.len() - from;
        if n >= 2 && knobs.reorder > 0.0 && self.imp.chance(knobs.reorder) {
            let i = from + self.imp.below(n as u64 - 1) as usize;
            let (a, b) = (q[i], q[i + 1]);
            q[i] = Pkt { ts: a.ts, ..b };
            q[i + 1] = Pkt { ts: b.ts, ..a };
        }
        if knobs.retransmit > 0.0 {
            for i in from..from + n {
                if self.imp.chance(knobs.retransmit) {
                    let p = q[i];
                    q.push(Pkt {
                        ts: p.ts + resend_after,
                        ..p
                    });
                }
            }
        }
    }

    /// One request and its response starting at `t`.
    fn exchange(
        &mut self,
        t: u64,
        q: &mut Vec<Pkt>,
        bodies: &mut Bodies,
        knobs: &TcpKnobs,
        epoch_secs: u64,
    ) -> ExchangeInfo {
        let rtt_c = self.session.client.rtt_us;
        let Some(r) = self.session.reqs.pop_front() else {
            return ExchangeInfo::default();
        };
        self.req.clear();
        self.req.extend_from_slice(&r.bytes);
        let rid = self.rng.next_u64();
        let date = epoch_secs + t / 1_000_000;
        self.resp.clear();
        let close = r.close;
        bodies.write_response(
            &mut self.resp,
            &r.resp,
            date,
            rid,
            close && r.resp2.is_none(),
        );
        if let Some(r2) = &r.resp2 {
            bodies.write_response(&mut self.resp, r2, date, rid ^ 1, close);
        }
        let info = ExchangeInfo {
            ts: t,
            records: r.records,
            gzip: r.resp.gzip,
            chunked: r.resp.chunked,
        };

        // Request segments back to back.
        let from = q.len();
        let (t_req_end, c_seq) = push_data(q, t, self.c_seq, self.s_seq, Buf::Req, self.req.len());
        self.impair(q, from, knobs, rtt_c + self.rtt_s + 200);
        self.c_seq = c_seq;
        let think = r.resp.think_us;
        let mut t_resp = t_req_end + self.rtt_s + think;
        // The server ACKs the request on its own when it thinks long (delayed ACK) or when
        // the request took several segments.
        if think > 20_000 || self.req.len() > MSS {
            q.push(ctl(
                t_req_end + self.rtt_s / 2 + 40,
                false,
                ACK,
                self.s_seq,
                self.c_seq,
            ));
            t_resp += 5;
        }
        let resp_len = self.resp.len();
        let first_seq = self.s_seq;
        let from = q.len();
        let (t_resp_end, s_seq) = push_data(q, t_resp, first_seq, self.c_seq, Buf::Resp, resp_len);
        self.impair(q, from, knobs, rtt_c + self.rtt_s + 200);
        self.s_seq = s_seq;
        // The client ACKs every second segment; an odd last one gets a delayed ACK.
        let segs = resp_len.div_ceil(MSS);
        for i in (2..=segs).step_by(2) {
            let acked = first_seq.wrapping_add((i * MSS).min(resp_len) as u32);
            q.push(ctl(
                t_resp + (i as u64 - 1) * 12 + rtt_c,
                true,
                ACK,
                self.c_seq,
                acked,
            ));
        }
        if segs % 2 == 1 && !close {
            q.push(ctl(
                t_resp_end
                    + rtt_c
                    + 40_000.min(
                        self.session
                            .reqs
                            .front()
                            .map_or(40_000, |n| n.gap_us / 2)
                            .max(1),
                    ),
                true,
                ACK,
                self.c_seq,
                self.s_seq,
            ));
        }
        if close {
            // The server closes right after the response (and after any retransmission).
            let t_last = q.iter().map(|p| p.ts).max().unwrap_or(t_resp_end);
            self.server_close(t_last + 50, q);
            self.phase = Phase::Closed;
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{BodySpec, ReqBuilder, Resp};

    fn session(reqs: Vec<Req>) -> Session {
        Session {
            actor: 0,
            client: Client {
                ip: [198, 18, 0, 1],
                mac: [2, 0, 0, 0, 0, 1],
                ttl: 64,
                rtt_us: 20_000,
            },
            server: 0,
            start_us: 1_000,
            reqs: reqs.into(),
            identities: Vec::new(),
        }
    }

    fn run(conn: &mut Conn, knobs: &TcpKnobs) -> Vec<(Pkt, Vec<u8>)> {
        run_ports(conn, knobs)
            .into_iter()
            .map(|(p, d, _)| (p, d))
            .collect()
    }

    /// Packets with the client port each went out on.
    fn run_ports(conn: &mut Conn, knobs: &TcpKnobs) -> Vec<(Pkt, Vec<u8>, u16)> {
        let mut bodies = Bodies::new(1, 100);
        let mut ports = Ports::default();
        let mut out = Vec::new();
        while let Some(t) = conn.next_time() {
            conn.step(&mut bodies, knobs, 0, &mut ports);
            let Some(p) = conn.queue.pop_front() else {
                continue;
            };
            assert!(p.ts >= t.min(p.ts));
            let data = match p.buf {
                Buf::None => Vec::new(),
                Buf::Req => conn.req[p.start as usize..(p.start + p.len) as usize].to_vec(),
                Buf::Resp => conn.resp[p.start as usize..(p.start + p.len) as usize].to_vec(),
            };
            out.push((p, data, conn.sport));
        }
        out
    }

    /// Reassembles one direction by sequence number, as a receiver would.
    fn stream(pkts: &[(Pkt, Vec<u8>)], from_client: bool) -> Vec<u8> {
        let mut segs: Vec<(u32, Vec<u8>)> = pkts
            .iter()
            .filter(|(p, d)| p.from_client == from_client && !d.is_empty())
            .map(|(p, d)| (p.seq, d.clone()))
            .collect();
        segs.sort_by_key(|s| s.0);
        segs.dedup_by_key(|s| s.0);
        let mut out = Vec::new();
        for (i, (seq, d)) in segs.iter().enumerate() {
            if i > 0 {
                assert_eq!(
                    *seq,
                    segs[i - 1].0.wrapping_add(segs[i - 1].1.len() as u32),
                    "no hole, no overlap"
                );
            }
            out.extend_from_slice(d);
        }
        out
    }

    #[test]
    fn impaired_stream_reassembles_to_the_same_bytes() {
        let mk = |gap| {
            let mut resp = Resp::new(200, BodySpec::ExportV0 { page: 1, limit: 40 });
            resp.chunked = true;
            ReqBuilder::new("GET", "/api/v0/export/users?page=1&limit=40").build(gap, resp)
        };
        let clean = run(
            &mut Conn::new(session(vec![mk(0), mk(500_000)]), Rng::new(1)),
            &TcpKnobs {
                retransmit: 0.0,
                reorder: 0.0,
            },
        );
        let bad = run(
            &mut Conn::new(session(vec![mk(0), mk(500_000)]), Rng::new(1)),
            &TcpKnobs {
                retransmit: 0.3,
                reorder: 1.0,
            },
        );
        assert!(bad.len() > clean.len(), "retransmissions added packets");
        let seqs = |v: &[(Pkt, Vec<u8>)]| {
            v.iter()
                .filter(|(p, d)| !p.from_client && !d.is_empty())
                .map(|(p, _)| p.seq)
                .collect::<Vec<_>>()
        };
        let s = seqs(&bad);
        assert!(
            s.windows(2).any(|w| w[1] < w[0]),
            "some segment arrives out of order"
        );
        assert!(
            stream(&clean, true) == stream(&bad, true),
            "request bytes differ"
        );
        assert!(
            stream(&clean, false) == stream(&bad, false),
            "response bytes differ"
        );
        assert_eq!(
            stream(&clean, true)
                .windows(4)
                .filter(|w| w == b"GET ")
                .count(),
            2
        );
        for w in clean.windows(2).chain(bad.windows(2)) {
            assert!(w[0].0.ts <= w[1].0.ts, "time order");
        }
    }

    #[test]
    fn long_think_time_closes_and_reopens_the_connection() {
        let reqs = vec![
            ReqBuilder::new("GET", "/health").build(0, Resp::new(200, BodySpec::Health)),
            ReqBuilder::new("GET", "/health")
                .build(KEEPALIVE_US * 2, Resp::new(200, BodySpec::Health)),
        ];
        let pkts = run(
            &mut Conn::new(session(reqs), Rng::new(2)),
            &TcpKnobs {
                retransmit: 0.0,
                reorder: 0.0,
            },
        );
        let syns = pkts.iter().filter(|(p, _)| p.flags == SYN).count();
        let fins = pkts.iter().filter(|(p, _)| p.flags & FIN != 0).count();
        assert_eq!((syns, fins), (2, 4));
        let server_fin_first = pkts.iter().find(|(p, _)| p.flags & FIN != 0).unwrap();
        assert!(
            !server_fin_first.0.from_client,
            "the idle close is the server's"
        );
    }

    /// Regression: the idle close's FINs went out on the port of the connection replacing it.
    #[test]
    fn every_packet_of_a_connection_uses_its_port() {
        let reqs = (0..4)
            .map(|i| {
                let b = ReqBuilder::new("GET", "/health");
                let b = if i == 1 { b.close() } else { b };
                b.build(
                    if i == 3 { KEEPALIVE_US + 1 } else { 1_000 },
                    Resp::new(200, BodySpec::Health),
                )
            })
            .collect();
        let pkts = run_ports(
            &mut Conn::new(session(reqs), Rng::new(3)),
            &TcpKnobs {
                retransmit: 0.0,
                reorder: 0.0,
            },
        );
        // Split at SYNs: each connection's packets share one port, and ports differ.
        let mut conns: Vec<Vec<u16>> = Vec::new();
        for (p, _, port) in &pkts {
            if p.flags == SYN {
                conns.push(Vec::new());
            }
            conns.last_mut().unwrap().push(*port);
        }
        assert_eq!(
            conns.len(),
            3,
            "close after the 2nd request, idle close before the 4th"
        );
        for c in &conns {
            assert!(c.iter().all(|p| *p == c[0]), "{c:?}");
        }
        assert!(conns[0][0] != conns[1][0] && conns[1][0] != conns[2][0]);
    }
}
