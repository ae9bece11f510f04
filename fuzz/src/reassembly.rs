//! Target `reassembly`: synthetic TCP segments of up to four connections through
//! [`FlowTable`], with a sink that checks what it is given.
//!
//! Input: `[client ISN: u32 LE][server ISN: u32 LE][config: u8]` then 5-byte segments:
//! - byte 0: TCP flags (bits 0-4: FIN SYN RST PSH ACK), bit 5 corrupts the payload (an
//!   inconsistent retransmission), bit 6 picks the sender (0 client, 1 server), bit 7 makes the
//!   offset coarse and signed (±2 MiB: before the stream start, far ahead);
//! - byte 1: connection (bits 0-1; connection 3 is IPv6), time step (bits 2-7, in ms; 63 jumps
//!   10 s and runs `expire`);
//! - bytes 2-3: offset of the segment from the sender's ISN + 1 (u16 LE);
//! - byte 4: payload length.
//!
//! A SYN is sent at the sender's ISN (its payload, if any, follows it). Payload bytes are a
//! fixed function of (connection, sender, sequence number), so any retransmission carries the
//! same bytes unless corrupted. ACK numbers acknowledge everything the peer sent so far.
//!
//! Checks: no panic; the sink is opened before anything else and called nothing after
//! `on_close`; no data after a direction's FIN; the bytes delivered continue one stream
//! position (data + gaps) and equal the sender's bytes at that position (when nothing was
//! corrupted on that side); the table's counters (bytes delivered, gap bytes, FINs, memory
//! gauge) match what the sinks saw; memory stays under the cap plus one flow; after
//! `flush_all` every opened flow was closed and the table holds nothing.

use apitap_sensor::decode::{tcp_flags, TcpSegment};
use apitap_sensor::flow::{
    CloseReason, Direction, FlowConfig, FlowInfo, FlowTable, StreamAnomaly, StreamSink,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const CONNS: usize = 4;
const SERVER_PORT: u16 = 80;
const CLIENT_PORT_BASE: u16 = 40_000;
const MAX_SEGMENTS: usize = 4096;
/// Sequence-number candidates kept per (connection, side).
const MAX_CANDIDATES: usize = 8192;

fn addrs(conn: usize) -> (IpAddr, IpAddr) {
    if conn == 3 {
        (
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        )
    }
}

/// The byte a sender puts at sequence number `seq`.
pub fn pattern(conn: usize, side: usize, seq: u32) -> u8 {
    let x = seq ^ ((conn as u32) << 28) ^ ((side as u32) << 31);
    let mut z = u64::from(x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z ^= z >> 29;
    (z >> 56) as u8
}

fn config(variant: u8) -> FlowConfig {
    let d = FlowConfig::default();
    match variant & 3 {
        0 => FlowConfig {
            idle_timeout_ns: 20_000_000_000,
            handshake_timeout_ns: 5_000_000_000,
            closed_linger_ns: 1_000_000_000,
            ..d
        },
        1 => FlowConfig {
            max_flows: 2,
            memcap_bytes: 4096,
            max_ooo_bytes_per_direction: 1024,
            max_ooo_segments_per_direction: 4,
            idle_timeout_ns: 3_000_000_000,
            handshake_timeout_ns: 1_000_000_000,
            closed_linger_ns: 500_000_000,
            overlap_check_bytes: 64,
        },
        2 => FlowConfig {
            max_flows: 8,
            memcap_bytes: 64 * 1024,
            max_ooo_bytes_per_direction: 16 * 1024,
            max_ooo_segments_per_direction: 32,
            overlap_check_bytes: 0,
            ..d
        },
        _ => FlowConfig {
            max_flows: 3,
            memcap_bytes: 0,
            max_ooo_bytes_per_direction: 4096,
            max_ooo_segments_per_direction: 16,
            overlap_check_bytes: 2048,
            ..d
        },
    }
}

/// What the harness knows and the sinks report, shared through the table's context.
#[derive(Default)]
pub struct Ctx {
    /// Per (connection, side): sequence numbers where a stream could start.
    candidates: Vec<Vec<u32>>,
    /// Per (connection, side): a corrupted copy was sent.
    corrupted: Vec<bool>,
    next_sink: u64,
    opens: u64,
    closes: u64,
    delivered: u64,
    gap_bytes: u64,
    fins: u64,
}

fn slot(conn: usize, side: usize) -> usize {
    conn * 2 + side
}

struct DirState {
    /// Stream position (bytes + gap bytes so far).
    pos: u64,
    /// Candidate start sequence numbers consistent with everything delivered so far
    /// (`None` until the first data).
    bases: Option<Vec<u32>>,
    fin: bool,
}

pub struct Sink {
    id: u64,
    conn: usize,
    /// Harness side sending in `Direction::ToServer`.
    client_side: usize,
    dirs: [DirState; 2],
    closed: bool,
    delivered: u64,
}

impl Sink {
    fn side(&self, dir: Direction) -> usize {
        match dir {
            Direction::ToServer => self.client_side,
            Direction::ToClient => 1 - self.client_side,
        }
    }
    fn live(&self, what: &str) {
        assert!(
            !self.closed,
            "sink {} called ({what}) after on_close",
            self.id
        );
    }
}

impl StreamSink for Sink {
    type Ctx = Ctx;

    fn open(ctx: &mut Ctx, info: &FlowInfo) -> Self {
        let (client_port, server_port) = (info.client_port, info.server_port);
        let harness_client = if server_port == SERVER_PORT {
            client_port
        } else {
            assert_eq!(client_port, SERVER_PORT, "unknown ports in {info:?}");
            server_port
        };
        let conn = usize::from(harness_client - CLIENT_PORT_BASE);
        assert!(conn < CONNS, "unknown connection in {info:?}");
        ctx.opens += 1;
        ctx.next_sink += 1;
        Sink {
            id: ctx.next_sink,
            conn,
            client_side: if server_port == SERVER_PORT { 0 } else { 1 },
            dirs: [
                DirState {
                    pos: 0,
                    bases: None,
                    fin: false,
                },
                DirState {
                    pos: 0,
                    bases: None,
                    fin: false,
                },
            ],
            closed: false,
            delivered: 0,
        }
    }

    fn on_data(&mut self, ctx: &mut Ctx, _info: &FlowInfo, dir: Direction, _ts: u64, data: &[u8]) {
        self.live("on_data");
        assert!(!data.is_empty(), "empty on_data");
        let side = self.side(dir);
        let (conn, id) = (self.conn, self.id);
        let d = &mut self.dirs[dir.index()];
        assert!(
            !d.fin,
            "sink {id}: {} bytes of data after the FIN of {dir:?}",
            data.len()
        );
        ctx.delivered += data.len() as u64;
        self.delivered += data.len() as u64;
        let s = slot(conn, side);
        if !ctx.corrupted[s] {
            let pos = d.pos;
            let fits = |base: u32| {
                data.iter().enumerate().all(|(i, &b)| {
                    let seq = base.wrapping_add((pos + i as u64) as u32);
                    b == pattern(conn, side, seq)
                })
            };
            let kept: Vec<u32> = match d.bases.take() {
                None => ctx.candidates[s]
                    .iter()
                    .copied()
                    .filter(|&b| fits(b))
                    .collect(),
                Some(v) => v.into_iter().filter(|&b| fits(b)).collect(),
            };
            assert!(
                !kept.is_empty(),
                "sink {id} {dir:?}: {} bytes delivered at stream position {pos} match no start of \
                 the sender's stream (byte or gap accounting is off): {:02x?}",
                data.len(),
                &data[..data.len().min(32)]
            );
            d.bases = Some(kept);
        }
        d.pos += data.len() as u64;
    }

    fn on_ack(&mut self, _ctx: &mut Ctx, dir: Direction, offset: u64) {
        self.live("on_ack");
        // Only plausible acknowledgments are passed on: not further past the bytes given
        // so far than a sequence jump may be (gaps included).
        let pos = self.dirs[dir.index()].pos;
        assert!(
            offset <= pos + (16 << 20),
            "sink {}: ack at {offset} for {dir:?}, far past position {pos}",
            self.id
        );
    }

    fn on_gap(&mut self, ctx: &mut Ctx, _info: &FlowInfo, dir: Direction, _ts: u64, len: u64) {
        self.live("on_gap");
        assert!(len > 0, "zero-length gap");
        assert!(
            len <= 1 << 32,
            "gap of {len} bytes: more than the sequence space"
        );
        ctx.gap_bytes += len;
        self.dirs[dir.index()].pos += len;
    }

    fn on_anomaly(
        &mut self,
        _ctx: &mut Ctx,
        _info: &FlowInfo,
        _dir: Direction,
        _ts: u64,
        a: StreamAnomaly,
    ) {
        self.live("on_anomaly");
        let _ = a.as_str();
    }

    fn on_fin(&mut self, ctx: &mut Ctx, _info: &FlowInfo, dir: Direction, _ts: u64) {
        self.live("on_fin");
        let d = &mut self.dirs[dir.index()];
        assert!(!d.fin, "sink {}: second FIN for {dir:?}", self.id);
        d.fin = true;
        ctx.fins += 1;
    }

    fn on_close(&mut self, ctx: &mut Ctx, _info: &FlowInfo, _ts: u64, reason: CloseReason) {
        self.live("on_close");
        let _ = reason.as_str();
        self.closed = true;
        ctx.closes += 1;
    }

    fn wants_data(&self) -> bool {
        self.delivered < STOP_AFTER.with(|s| s.get())
    }

    fn memory_bytes(&self) -> usize {
        0
    }
}

thread_local! {
    /// `wants_data` has no context argument: the per-run threshold lives here.
    static STOP_AFTER: std::cell::Cell<u64> = const { std::cell::Cell::new(u64::MAX) };
}

pub fn run(data: &[u8]) {
    if data.len() < 9 {
        return;
    }
    let isn = [
        u32::from_le_bytes([data[0], data[1], data[2], data[3]]),
        u32::from_le_bytes([data[4], data[5], data[6], data[7]]),
    ];
    let variant = data[8];
    let cfg = config(variant);
    // Bit 2: the sink loses interest after a few hundred bytes (exercises stop_payload).
    let stop_after = if variant & 4 != 0 {
        u64::from(variant >> 3) * 16
    } else {
        u64::MAX
    };
    STOP_AFTER.with(|s| s.set(stop_after));
    let memcap = cfg.memcap_bytes;
    let one_flow = 2
        * (cfg.max_ooo_bytes_per_direction
            + cfg.max_ooo_segments_per_direction * 256
            + cfg.overlap_check_bytes)
        + FlowTable::<Sink>::FLOW_OVERHEAD
        + 4096;
    let mut table: FlowTable<Sink> = FlowTable::new(cfg);
    let mut ctx = Ctx {
        candidates: vec![Vec::new(); CONNS * 2],
        corrupted: vec![false; CONNS * 2],
        ..Ctx::default()
    };
    // Highest sequence end each (connection, side) sent, relative to its ISN + 1.
    let mut sent_end = [0u32; CONNS * 2];
    let mut ts: u64 = 1_700_000_000_000_000_000;
    let mut payload = Vec::with_capacity(256);

    for rec in data[9..].chunks_exact(5).take(MAX_SEGMENTS) {
        let flags = rec[0] & 0x1f;
        let corrupt = rec[0] & 0x20 != 0;
        let side = usize::from(rec[0] >> 6 & 1);
        let coarse = rec[0] & 0x80 != 0;
        let conn = usize::from(rec[1] & 3);
        let step = rec[1] >> 2;
        let offset = u16::from_le_bytes([rec[2], rec[3]]);
        let len = usize::from(rec[4]);

        if step == 63 {
            ts += 10_000_000_000;
            table.expire(ts, &mut ctx);
        } else {
            ts += u64::from(step) * 1_000_000;
        }

        let rel: u32 = if coarse {
            (i32::from(offset as i16) * 64) as u32
        } else {
            u32::from(offset)
        };
        let syn = flags & tcp_flags::SYN != 0;
        let seq = if syn && !coarse {
            isn[side]
        } else {
            isn[side].wrapping_add(1).wrapping_add(rel)
        };
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        let s = slot(conn, side);
        payload.clear();
        payload.extend((0..len).map(|i| {
            let b = pattern(conn, side, data_seq.wrapping_add(i as u32));
            if corrupt {
                b ^ 0x5a
            } else {
                b
            }
        }));
        if corrupt && len > 0 {
            ctx.corrupted[s] = true;
        }
        let end_rel = data_seq
            .wrapping_add(len as u32)
            .wrapping_add(u32::from(flags & tcp_flags::FIN != 0))
            .wrapping_sub(isn[side].wrapping_add(1));
        if end_rel < 1 << 31 && end_rel > sent_end[s] {
            sent_end[s] = end_rel;
        }
        let other = slot(conn, 1 - side);
        let ack = isn[1 - side].wrapping_add(1).wrapping_add(sent_end[other]);
        for cand in [data_seq, isn[side].wrapping_add(1)] {
            let c = &mut ctx.candidates[s];
            if c.len() < MAX_CANDIDATES && !c.contains(&cand) {
                c.push(cand);
            }
        }
        if flags & tcp_flags::ACK != 0 {
            let c = &mut ctx.candidates[other];
            if c.len() < MAX_CANDIDATES && !c.contains(&ack) {
                c.push(ack);
            }
        }

        let (client_ip, server_ip) = addrs(conn);
        let client_port = CLIENT_PORT_BASE + conn as u16;
        let (src, dst, src_port, dst_port) = if side == 0 {
            (client_ip, server_ip, client_port, SERVER_PORT)
        } else {
            (server_ip, client_ip, SERVER_PORT, client_port)
        };
        let seg = TcpSegment {
            src,
            dst,
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window: 65_535,
            payload: &payload,
            vlan: None,
            tunnel: None,
        };
        table.process(&seg, ts, &mut ctx);

        let mem = table.memory_bytes();
        assert!(
            mem <= memcap + one_flow,
            "memory {mem} over the cap {memcap} plus one flow ({one_flow})"
        );
        let st = table.stats();
        assert_eq!(
            st.memory_bytes_current, mem as u64,
            "memory gauge vs memory_bytes()"
        );
        assert_eq!(
            st.bytes_delivered, ctx.delivered,
            "bytes_delivered vs bytes the sinks got"
        );
        assert_eq!(
            st.gap_bytes, ctx.gap_bytes,
            "gap_bytes vs gap bytes the sinks got"
        );
        assert_eq!(st.fins, ctx.fins, "fins vs on_fin calls");
        assert!(ctx.closes <= ctx.opens, "more closes than opens");
    }

    table.flush_all(ts + 1, &mut ctx);
    let st = table.stats();
    assert_eq!(ctx.closes, ctx.opens, "flush_all left flows open");
    assert_eq!(st.flows_active, 0, "flows_active after flush_all");
    assert!(
        table.is_empty(),
        "entries left after flush_all: {}",
        table.len()
    );
    assert_eq!(
        table.memory_bytes(),
        0,
        "memory still charged after flush_all"
    );
    assert_eq!(
        st.bytes_delivered, ctx.delivered,
        "bytes_delivered vs bytes the sinks got"
    );
    assert_eq!(
        st.gap_bytes, ctx.gap_bytes,
        "gap_bytes vs gap bytes the sinks got"
    );
    assert_eq!(st.fins, ctx.fins, "fins vs on_fin calls");
    assert!(
        ctx.opens <= st.flows_created,
        "more sinks opened than flows created"
    );
}
