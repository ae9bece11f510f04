//! apitap-gen: writes labeled captures of API traffic from a scenario file. A capture holds a
//! benign population (browsers, mobile apps, integrations, good bots) and attack actors for
//! every alert-vocabulary category traffic can show, as exact TCP/IPv4 over Ethernet (optionally
//! VLAN-tagged or VXLAN-wrapped) in a classic pcap; the labels file says who did what.
//!
//! Flow: [`scenario::Scenario`] → planners ([`actors`]) yield sessions in start order →
//! [`tcp::Conn`]s turn sessions into timed packets → a time-ordered merge over all
//! connections → [`net::PcapWriter`]. Deterministic: one thread, every random choice from
//! the seed, so the same scenario and seed give the same bytes.

pub mod actors;
pub mod api;
pub mod data;
pub mod http;
pub mod labels;
pub mod net;
pub mod payloads;
pub mod rng;
pub mod scenario;
pub mod tcp;

use actors::{Attacker, GoodBot, GoodBots, Planner, Population, World};
use anyhow::Result;
use labels::{LabelAcc, Labels};
use net::{PcapWriter, TcpSeg, Vxlan, Wrap};
use rng::Rng;
use scenario::Scenario;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use tcp::{Buf, Conn, Server, TcpKnobs};

/// First API server address (198.19.255.10).
pub const SERVER_BASE: u32 = u32::from_be_bytes([198, 19, 255, 10]);

/// What a run wrote.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub packets: u64,
    pub file_bytes: u64,
    pub requests: u64,
    pub exchanges: u64,
    pub connections: u64,
    pub sessions: u64,
    pub gzip: u64,
    pub chunked: u64,
    pub gzip_runs: u64,
    /// Capture time span, µs.
    pub span_us: u64,
}

enum Slot {
    Free(Option<usize>),
    Conn(Box<Conn>),
}

/// Writes the capture for `sc` with `seed` into `out` and returns its labels.
pub fn generate<W: Write>(sc: &Scenario, seed: u64, out: W) -> Result<(Labels, Stats)> {
    sc.validate()?;
    let catalogue = api::Catalogue::load()?;
    catalogue.check()?;
    let net = &sc.network;
    let w = World {
        seed,
        users: u64::from(sc.benign.clients).max(1000),
        epoch_secs: sc.start,
        duration_us: sc.duration.as_micros() as u64,
        servers: net.servers,
        gzip: net.gzip,
        chunked: net.chunked,
    };
    let servers: Vec<Server> = (0..u32::from(net.servers))
        .map(|i| Server {
            ip: (SERVER_BASE + i).to_be_bytes(),
            mac: [0x02, 0x42, 0xc6, 0x13, 0xff, (10 + i) as u8],
            port: net.port,
        })
        .collect();
    let wrap = Wrap {
        vlan: net.vlan,
        vxlan: net.vxlan_vni.map(|vni| Vxlan {
            vni,
            outer_src: [198, 19, 255, 200],
            outer_dst: [198, 19, 255, 201],
        }),
    };
    let knobs = TcpKnobs {
        retransmit: net.retransmit,
        reorder: net.reorder,
    };

    // Planners, each with its own stream, and their labels.
    let mut root = Rng::new(seed);
    let mut labels: Vec<LabelAcc> = Vec::new();
    let mut planners: Vec<Box<dyn Planner>> = Vec::new();
    let base = labels.len() as u32;
    for info in Population::label_infos() {
        labels.push(LabelAcc::new(info));
    }
    planners.push(Box::new(Population::new(
        &sc.benign,
        &w,
        root.fork(),
        [base, base + 1, base + 2],
    )));
    for (kind, count) in [
        (GoodBot::HealthCheck, sc.benign.health_checkers),
        (GoodBot::Uptime, sc.benign.uptime_monitors),
        (GoodBot::Crawler, sc.benign.crawlers),
    ] {
        let l = labels.len() as u32;
        labels.push(LabelAcc::new(GoodBots::label_info(kind)));
        planners.push(Box::new(GoodBots::new(kind, count, &w, root.fork(), l)));
    }
    let mut ip_next = 0u32;
    for a in &sc.actors {
        let l = labels.len() as u32;
        labels.push(LabelAcc::new(Attacker::label_info(a)));
        planners.push(Box::new(Attacker::new(a, &w, root.fork(), l, ip_next)));
        ip_next += Attacker::ip_count(a);
    }

    // The merge: (time, kind, index); kind 0 = connection, 1 = planner.
    let mut heap: BinaryHeap<Reverse<(u64, u8, u32)>> = BinaryHeap::new();
    for (i, p) in planners.iter().enumerate() {
        if let Some(t) = p.next_start() {
            heap.push(Reverse((t, 1, i as u32)));
        }
    }
    let mut slots: Vec<Slot> = Vec::new();
    let mut free: Option<usize> = None;
    let mut writer = PcapWriter::new(out, wrap)?;
    let mut bodies = http::Bodies::new(seed, w.users);
    let mut stats = Stats::default();
    let epoch_us = sc.start * 1_000_000;
    let mut conn_no = 0u64;
    let mut ports = tcp::Ports::default();

    while let Some(Reverse((t, kind, idx))) = heap.pop() {
        if kind == 1 {
            let p = &mut planners[idx as usize];
            let s = p.session(&w);
            if let Some(n) = p.next_start() {
                heap.push(Reverse((n, 1, idx)));
            }
            stats.sessions += 1;
            let acc = &mut labels[s.actor as usize];
            acc.ips.insert(u32::from_be_bytes(s.client.ip));
            for id in &s.identities {
                acc.identity(id);
            }
            conn_no += 1;
            let conn = Box::new(Conn::new(s, Rng::keyed(seed, 500, conn_no)));
            let at = match free {
                Some(i) => {
                    free = match slots[i] {
                        Slot::Free(n) => n,
                        Slot::Conn(_) => None,
                    };
                    slots[i] = Slot::Conn(conn);
                    i
                }
                None => {
                    slots.push(Slot::Conn(conn));
                    slots.len() - 1
                }
            };
            heap.push(Reverse((t, 0, at as u32)));
            continue;
        }
        let i = idx as usize;
        let Slot::Conn(conn) = &mut slots[i] else {
            continue;
        };
        if conn.queue.is_empty() {
            if let Some(info) = conn.step(&mut bodies, &knobs, sc.start, &mut ports) {
                stats.exchanges += 1;
                stats.requests += u64::from(info.records);
                stats.gzip += u64::from(info.gzip);
                stats.chunked += u64::from(info.chunked);
                labels[conn.session.actor as usize].request(epoch_us + info.ts, info.records);
            }
        }
        // A step may start later than the slot's key: wait for its first packet's turn.
        if let Some(front) = conn.queue.front() {
            if front.ts > t {
                heap.push(Reverse((front.ts, 0, idx)));
                continue;
            }
        }
        if let Some(p) = conn.queue.pop_front() {
            let server = &servers[usize::from(conn.session.server)];
            let c = &conn.session.client;
            if p.flags == net::SYN {
                stats.connections += 1;
                labels[conn.session.actor as usize].connections += 1;
            }
            let seg = if p.from_client {
                TcpSeg {
                    src_mac: c.mac,
                    dst_mac: server.mac,
                    src: c.ip,
                    dst: server.ip,
                    sport: conn.sport,
                    dport: server.port,
                    seq: p.seq,
                    ack: p.ack,
                    flags: p.flags,
                    window: if p.flags & net::SYN != 0 { 64_240 } else { 502 },
                    ttl: c.ttl,
                    ip_id: conn.c_ipid,
                }
            } else {
                TcpSeg {
                    src_mac: server.mac,
                    dst_mac: c.mac,
                    src: server.ip,
                    dst: c.ip,
                    sport: server.port,
                    dport: conn.sport,
                    seq: p.seq,
                    ack: p.ack,
                    flags: p.flags,
                    window: if p.flags & net::SYN != 0 { 65_160 } else { 501 },
                    ttl: 64,
                    ip_id: conn.s_ipid,
                }
            };
            let payload: &[u8] = match p.buf {
                Buf::None => &[],
                Buf::Req => &conn.req[p.start as usize..(p.start + p.len) as usize],
                Buf::Resp => &conn.resp[p.start as usize..(p.start + p.len) as usize],
            };
            writer.tcp(epoch_us + p.ts, &seg, payload)?;
            stats.span_us = stats.span_us.max(p.ts);
            if p.from_client {
                conn.c_ipid = conn.c_ipid.wrapping_add(1);
            } else {
                conn.s_ipid = conn.s_ipid.wrapping_add(1);
            }
        }
        match conn.next_time() {
            Some(n) => heap.push(Reverse((n.max(t), 0, idx))),
            None => {
                slots[i] = Slot::Free(free);
                free = Some(i);
            }
        }
    }
    stats.packets = writer.packets;
    stats.file_bytes = writer.file_bytes;
    stats.gzip_runs = bodies.gzip_runs;
    writer.finish()?;

    let actors = labels
        .into_iter()
        .filter(|l| l.info.kind == "attack" || l.requests > 0)
        .map(LabelAcc::finish)
        .collect();
    let labels = Labels {
        generator: format!("apitap-gen {}", env!("CARGO_PKG_VERSION")),
        seed,
        description: sc.description.clone(),
        start: labels::rfc3339_us(epoch_us),
        end: labels::rfc3339_us(epoch_us + stats.span_us),
        servers: servers
            .iter()
            .map(|s| format!("{}:{}", std::net::Ipv4Addr::from(s.ip), s.port))
            .collect(),
        tunnel: net
            .vxlan_vni
            .map(|v| format!("vxlan vni {v} 198.19.255.200 -> 198.19.255.201")),
        vlan: net.vlan,
        packets: stats.packets,
        requests: stats.requests,
        actors,
    };
    Ok((labels, stats))
}
