//! The flow table: one entry per TCP connection, its lifecycle and its memory.
//!
//! Owns: [`FlowTable`] — lookup by canonical [`FlowKey`] (one hash lookup per packet), client /
//! server orientation, opening the [`StreamSink`] of a flow, routing each segment to the
//! [`HalfStream`] of its direction and each ACK to the opposite one, FIN/RST handling, the
//! closed-linger state, idle expiry on packet time, port reuse, and eviction under `max_flows`
//! and `memcap_bytes`.
//!
//! Orientation: a SYN's sender is the client, a SYN/ACK's sender the server. Without a
//! handshake the first segment with payload decides: an HTTP request line start (`TOKEN ` of
//! A-Z letters) → its sender is the client; `HTTP/` → its sender is the server; otherwise the
//! side on a well-known server port (< 1024, 3000, 5000, 8000, 8080, 8443, 8888, 9200) is the
//! server, else the sender is the client. Until then only pure ACK/FIN/RST packets were seen and
//! are just tracked; the sink is opened once the orientation is known.
//!
//! Entries live in a slab and on one of three intrusive doubly-linked lists — handshake (never
//! carried data), established, closed (lingering) — each ordered by last activity on the table's
//! packet clock (the highest packet time seen, so the lists stay sorted even when timestamps
//! step back). The list links live in a dense array beside the slab, not in the (large)
//! entries: moving an entry to the back of its list on every packet then touches a few bytes
//! per neighbour instead of a cache line of each neighbouring entry. Expiry pops list heads
//! while they are past their timeout, and eviction takes the oldest head (lingering entries
//! first), so both are O(1) per flow: there is never a table scan on the packet path.
//!
//! Port reuse: a SYN (without ACK) with a new ISN on a lingering entry starts a new flow; on an
//! open entry it does too when that flow never carried data or already saw a FIN (the old flow
//! is closed with [`CloseReason::Evicted`] and counted in `port_reuse`); on an established flow
//! without a FIN it is ignored and counted (`syn_on_established_ignored`), so a spoofed SYN
//! cannot tear down a tracked connection.
//!
//! Memory: each entry is charged a fixed overhead plus its buffers (out-of-order data and the
//! retransmission-check tails) plus what its sink reports; when the total would exceed the cap
//! the least recently active other flows are evicted. The flow being processed is never evicted
//! for memory: its out-of-order buffering is bounded by skipping holes instead.
//!
//! Invariants: a sink's `open` precedes every other call and `on_close` is its last; flow ids
//! are assigned in creation order; nothing here panics on any input.

use super::key::{FlowHashBuilder, FlowKey};
use super::reassembly::{Deliver, HalfStream, Limits};
use super::{CloseReason, Direction, FlowConfig, FlowInfo, FlowStats, StreamAnomaly, StreamSink};
use crate::decode::{tcp_flags, TcpSegment, TunnelInfo};
use std::collections::HashMap;
use std::net::IpAddr;

const NIL: u32 = u32::MAX;

/// Which intrusive list an entry is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListId {
    /// Open, never carried payload: `handshake_timeout_ns`.
    Handshake = 0,
    /// Open, carried payload: `idle_timeout_ns`.
    Established = 1,
    /// Closed by FIN or RST, lingering: `closed_linger_ns`.
    Closed = 2,
}

#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY_LIST: List = List {
    head: NIL,
    tail: NIL,
};

struct App<S> {
    info: FlowInfo,
    sink: S,
}

struct Flow<S> {
    key: FlowKey,
    flow_id: u64,
    list: ListId,
    /// Table clock at the last packet (or at the close, when lingering).
    last_seen: u64,
    first_ts: u64,
    /// (address, port) of side 0 and side 1 of the key.
    ep: [(IpAddr, u16); 2],
    vlan: Option<u16>,
    tunnel: Option<TunnelInfo>,
    /// Side (0/1) of the client, once known.
    client_side: Option<usize>,
    midstream: bool,
    app: Option<App<S>>,
    /// Reassembly of the bytes *sent by* side 0 and side 1.
    half: [HalfStream; 2],
    had_data: bool,
    ignoring: bool,
    /// Bytes charged against the memcap for this entry.
    mem: usize,
}

/// The list neighbours of the entry in the same slab slot (`NIL` at the ends).
#[derive(Debug, Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
};

impl<S> Flow<S> {
    fn dir_of(&self, side: usize) -> Direction {
        if self.client_side == Some(side) {
            Direction::ToServer
        } else {
            Direction::ToClient
        }
    }

    fn side_of(&self, dir: Direction) -> usize {
        let c = self.client_side.unwrap_or(0);
        match dir {
            Direction::ToServer => c,
            Direction::ToClient => 1 - c,
        }
    }
}

/// Adapter from a direction's reassembly to the flow's sink.
struct Out<'a, S: StreamSink> {
    sink: &'a mut S,
    ctx: &'a mut S::Ctx,
    info: &'a FlowInfo,
    dir: Direction,
    ts: u64,
}

impl<S: StreamSink> Deliver for Out<'_, S> {
    fn data(&mut self, data: &[u8]) {
        self.sink
            .on_data(self.ctx, self.info, self.dir, self.ts, data);
    }
    fn gap(&mut self, len: u64) {
        self.sink
            .on_gap(self.ctx, self.info, self.dir, self.ts, len);
    }
    fn anomaly(&mut self, anomaly: StreamAnomaly) {
        self.sink
            .on_anomaly(self.ctx, self.info, self.dir, self.ts, anomaly);
    }
    fn fin(&mut self) {
        self.sink.on_fin(self.ctx, self.info, self.dir, self.ts);
    }
    fn wants_data(&self) -> bool {
        self.sink.wants_data()
    }
}

/// What to do with a segment that hit an existing entry.
enum Existing {
    Continue,
    /// Counted and dropped.
    Drop,
    /// A new connection on the same 4-tuple: close/remove the entry, create a new one.
    Replace,
}

/// Ports treated as server ports when orienting a mid-stream flow.
pub(crate) fn is_server_port(p: u16) -> bool {
    p < 1024 || matches!(p, 3000 | 5000 | 8000 | 8080 | 8443 | 8888 | 9200)
}

/// `TOKEN ` at the start: 1..=24 of A-Z (then also `-`/`_`), followed by a space.
pub(crate) fn looks_like_request(p: &[u8]) -> bool {
    let mut n = 0;
    for &b in p.iter().take(25) {
        match b {
            b'A'..=b'Z' => n += 1,
            b'-' | b'_' if n > 0 => n += 1,
            b' ' => return n > 0,
            _ => return false,
        }
    }
    false
}

/// The side of the client given the first payload, sent by `side`.
fn orient_by_payload(seg: &TcpSegment<'_>, side: usize) -> usize {
    let p = seg.payload;
    let sender_is_server = if looks_like_request(p) {
        false
    } else if p.starts_with(b"HTTP/") {
        true
    } else {
        is_server_port(seg.src_port) && !is_server_port(seg.dst_port)
    };
    if sender_is_server {
        1 - side
    } else {
        side
    }
}

/// The sink wants no more payload: free both directions' buffers, and end a direction whose
/// FIN was seen but not reached yet (it will not be reached: nothing is delivered any more).
fn stop_payload<S: StreamSink>(
    half: &mut [HalfStream; 2],
    app: &mut App<S>,
    ctx: &mut S::Ctx,
    client_side: Option<usize>,
    ts: u64,
    stats: &mut FlowStats,
) {
    for (side, h) in half.iter_mut().enumerate() {
        h.stop(stats);
        if h.fin_seen() && !h.fin_delivered() {
            let dir = if client_side == Some(side) {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            let mut out = Out {
                sink: &mut app.sink,
                ctx: &mut *ctx,
                info: &app.info,
                dir,
                ts,
            };
            h.fin_now(stats, &mut out);
        }
    }
}

/// The flow table and TCP reassembly. See the module documentation.
pub struct FlowTable<S: StreamSink> {
    cfg: FlowConfig,
    lim: Limits,
    map: HashMap<FlowKey, u32, FlowHashBuilder>,
    slots: Vec<Option<Flow<S>>>,
    /// `links[i]`: list neighbours of `slots[i]` (meaningful while the slot is occupied).
    links: Vec<Link>,
    free: Vec<u32>,
    lists: [List; 3],
    next_flow_id: u64,
    /// Highest packet time seen (ns).
    clock: u64,
    mem_used: usize,
    stats: FlowStats,
}

impl<S: StreamSink> FlowTable<S> {
    /// Memory charged per entry besides its buffers and its sink.
    pub const FLOW_OVERHEAD: usize = std::mem::size_of::<Option<Flow<S>>>()
        + std::mem::size_of::<Link>()
        + std::mem::size_of::<(FlowKey, u32)>()
        + std::mem::size_of::<u32>()
        + 16;

    pub fn new(cfg: FlowConfig) -> Self {
        let cfg = cfg.sanitized();
        let lim = Limits {
            max_ooo_bytes: cfg.max_ooo_bytes_per_direction,
            max_ooo_segments: cfg.max_ooo_segments_per_direction,
        };
        FlowTable {
            lim,
            map: HashMap::with_hasher(FlowHashBuilder::random()),
            slots: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            lists: [EMPTY_LIST; 3],
            next_flow_id: 0,
            clock: 0,
            mem_used: 0,
            stats: FlowStats::default(),
            cfg,
        }
    }

    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &FlowStats {
        &self.stats
    }

    /// Entries in the table (open and lingering).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes currently charged against `memcap_bytes`.
    pub fn memory_bytes(&self) -> usize {
        self.mem_used
    }

    // ---- intrusive lists -------------------------------------------------------------------

    fn flow(&self, i: u32) -> Option<&Flow<S>> {
        self.slots.get(i as usize).and_then(Option::as_ref)
    }

    fn flow_mut(&mut self, i: u32) -> Option<&mut Flow<S>> {
        self.slots.get_mut(i as usize).and_then(Option::as_mut)
    }

    /// The list neighbours of entry `i` (every entry on a list is occupied).
    fn link(&self, i: u32) -> Link {
        self.links.get(i as usize).copied().unwrap_or(UNLINKED)
    }

    fn link_mut(&mut self, i: u32) -> Option<&mut Link> {
        self.links.get_mut(i as usize)
    }

    fn unlink(&mut self, i: u32) {
        let Some(f) = self.flow(i) else { return };
        let list = f.list as usize;
        let Link { prev, next } = self.link(i);
        match self.link_mut(prev) {
            Some(p) => p.next = next,
            None => self.lists[list].head = next,
        }
        match self.link_mut(next) {
            Some(n) => n.prev = prev,
            None => self.lists[list].tail = prev,
        }
        if let Some(l) = self.link_mut(i) {
            *l = UNLINKED;
        }
    }

    fn push_back(&mut self, i: u32, list: ListId) {
        let tail = self.lists[list as usize].tail;
        if let Some(f) = self.flow_mut(i) {
            f.list = list;
        }
        if let Some(l) = self.link_mut(i) {
            *l = Link {
                prev: tail,
                next: NIL,
            };
        }
        match self.link_mut(tail) {
            Some(t) => t.next = i,
            None => self.lists[list as usize].head = i,
        }
        self.lists[list as usize].tail = i;
    }

    /// Mark activity now and move the entry to the back of `list`.
    fn touch(&mut self, i: u32, list: ListId) {
        let clock = self.clock;
        let at_back = self.link(i).next == NIL;
        let Some(f) = self.flow_mut(i) else { return };
        f.last_seen = clock;
        if f.list == list && at_back {
            return;
        }
        self.unlink(i);
        self.push_back(i, list);
    }

    /// Remove the entry entirely (map, list, slab, memory). Returns it.
    fn remove(&mut self, i: u32) -> Option<Flow<S>> {
        self.unlink(i);
        let f = self.slots.get_mut(i as usize)?.take()?;
        self.map.remove(&f.key);
        self.free.push(i);
        self.mem_used = self.mem_used.saturating_sub(f.mem);
        self.stats.memory_bytes_current = self.mem_used as u64;
        if f.list == ListId::Closed {
            self.stats.flows_lingering = self.stats.flows_lingering.saturating_sub(1);
        }
        Some(f)
    }

    /// Recompute the memory charged for entry `i`.
    fn account(&mut self, i: u32) {
        let Some(f) = self.slots.get_mut(i as usize).and_then(Option::as_mut) else {
            return;
        };
        let now = Self::FLOW_OVERHEAD
            + f.half[0].mem_bytes()
            + f.half[1].mem_bytes()
            + f.app
                .as_ref()
                .map_or(0, |a| a.sink.memory_bytes() + a.info.community_id.len());
        self.mem_used = self.mem_used.saturating_sub(f.mem) + now;
        f.mem = now;
        self.stats.memory_bytes_current = self.mem_used as u64;
    }

    // ---- packet path ---------------------------------------------------------------------

    /// Process one TCP segment seen at packet time `ts_ns`.
    pub fn process(&mut self, seg: &TcpSegment<'_>, ts_ns: u64, ctx: &mut S::Ctx) {
        self.stats.segments += 1;
        self.stats.payload_bytes += seg.payload.len() as u64;
        self.clock = self.clock.max(ts_ns);
        let (key, side) = FlowKey::from_segment(seg);
        let is_syn =
            seg.has(tcp_flags::SYN) && !seg.has(tcp_flags::ACK) && !seg.has(tcp_flags::RST);

        let mut idx = self.map.get(&key).copied();
        if let Some(i) = idx {
            match self.classify_existing(i, seg, side, is_syn) {
                Existing::Continue => {}
                Existing::Drop => return,
                Existing::Replace => {
                    self.stats.port_reuse += 1;
                    let open = self.flow(i).is_some_and(|f| f.list != ListId::Closed);
                    if open {
                        self.close(i, CloseReason::Evicted, ts_ns, ctx, false);
                    } else {
                        self.remove(i);
                    }
                    idx = None;
                }
            }
        }
        let i = match idx {
            Some(i) => i,
            None if seg.has(tcp_flags::RST) => {
                // Nothing to track: a reset of a connection we never saw.
                self.stats.rst_without_flow += 1;
                return;
            }
            None => self.create(key, side, seg, ts_ns, ctx),
        };
        let list = match self.flow(i) {
            Some(f) if f.had_data || (!seg.payload.is_empty() && !seg.has(tcp_flags::RST)) => {
                ListId::Established
            }
            Some(_) => ListId::Handshake,
            None => return,
        };
        self.touch(i, list);
        self.make_room_for_buffering(i, side, seg, ts_ns, ctx);
        self.handle(i, side, seg, ts_ns, ctx);
        self.account(i);
        if self.mem_used > self.cfg.memcap_bytes {
            self.stats.memcap_hits += 1;
            self.evict_until(self.cfg.memcap_bytes, Some(i), ts_ns, ctx);
        }
    }

    fn classify_existing(
        &mut self,
        i: u32,
        seg: &TcpSegment<'_>,
        side: usize,
        is_syn: bool,
    ) -> Existing {
        let stats = &mut self.stats;
        let Some(f) = self.slots.get(i as usize).and_then(Option::as_ref) else {
            return Existing::Replace;
        };
        let half = &f.half[side];
        if f.list == ListId::Closed {
            if is_syn && half.syn_isn() != Some(seg.seq) {
                return Existing::Replace;
            }
            stats.segments_after_close += 1;
            let data_seq = if seg.has(tcp_flags::SYN) {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            if !seg.has(tcp_flags::RST) && half.is_new_data(data_seq, seg.payload.len()) {
                stats.data_after_close += 1;
            }
            return Existing::Drop;
        }
        if !is_syn {
            return Existing::Continue;
        }
        let any_fin = f.half[0].fin_seen() || f.half[1].fin_seen();
        match half.syn_isn() {
            Some(isn) if isn == seg.seq => Existing::Continue,
            Some(_) => {
                if f.had_data && !any_fin {
                    stats.syn_on_established_ignored += 1;
                    Existing::Drop
                } else {
                    Existing::Replace
                }
            }
            None => {
                if half.base() == Some(seg.seq.wrapping_add(1)) {
                    // The SYN/ACK was seen first; this is the late SYN of the same connection.
                    Existing::Continue
                } else if !f.had_data {
                    if f.client_side.is_some_and(|c| c != side)
                        && f.half[1 - side].syn_isn().is_some()
                    {
                        Existing::Continue // simultaneous open
                    } else {
                        Existing::Replace
                    }
                } else if any_fin {
                    Existing::Replace
                } else {
                    stats.syn_on_established_ignored += 1;
                    Existing::Drop
                }
            }
        }
    }

    fn create(
        &mut self,
        key: FlowKey,
        side: usize,
        seg: &TcpSegment<'_>,
        ts: u64,
        ctx: &mut S::Ctx,
    ) -> u32 {
        if self.map.len() >= self.cfg.max_flows {
            self.make_room_for_flow(ts, ctx);
        }
        if self.mem_used + Self::FLOW_OVERHEAD > self.cfg.memcap_bytes {
            self.stats.memcap_hits += 1;
            let target = self.cfg.memcap_bytes.saturating_sub(Self::FLOW_OVERHEAD);
            self.evict_until(target, None, ts, ctx);
        }
        let mut ep = [(seg.src, seg.src_port); 2];
        ep[1 - side] = (seg.dst, seg.dst_port);
        let flow = Flow {
            key,
            flow_id: self.next_flow_id,
            list: ListId::Handshake,
            last_seen: self.clock,
            first_ts: ts,
            ep,
            vlan: seg.vlan,
            tunnel: seg.tunnel,
            client_side: None,
            midstream: false,
            app: None,
            half: [
                HalfStream::new(self.cfg.overlap_check_bytes),
                HalfStream::new(self.cfg.overlap_check_bytes),
            ],
            had_data: false,
            ignoring: false,
            mem: 0,
        };
        self.next_flow_id += 1;
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(flow);
                if let Some(l) = self.link_mut(i) {
                    *l = UNLINKED;
                }
                i
            }
            None => {
                self.slots.push(Some(flow));
                self.links.push(UNLINKED);
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, i);
        self.push_back(i, ListId::Handshake);
        self.stats.flows_created += 1;
        self.stats.flows_active += 1;
        self.account(i);
        i
    }

    /// Make room for one more entry under `max_flows`: expire what is due, then drop the oldest
    /// lingering entry, else evict the least recently active open flow.
    fn make_room_for_flow(&mut self, ts: u64, ctx: &mut S::Ctx) {
        self.expire_due(ts, ctx);
        while self.map.len() >= self.cfg.max_flows {
            let Some(v) = self.lru_victim(None) else {
                return;
            };
            self.evict(v, ts, ctx);
        }
    }

    /// Before a segment that will be buffered out of order: evict other flows so it fits.
    fn make_room_for_buffering(
        &mut self,
        i: u32,
        side: usize,
        seg: &TcpSegment<'_>,
        ts: u64,
        ctx: &mut S::Ctx,
    ) {
        if seg.payload.is_empty() || seg.has(tcp_flags::RST) {
            return;
        }
        let Some(f) = self.flow(i) else { return };
        if f.ignoring || f.app.is_none() {
            return;
        }
        let seq = if seg.has(tcp_flags::SYN) {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        let need = f.half[side].buffer_need(seq, seg.payload.len());
        if need > 0 && self.mem_used + need > self.cfg.memcap_bytes {
            self.stats.memcap_hits += 1;
            let target = self.cfg.memcap_bytes.saturating_sub(need);
            self.evict_until(target, Some(i), ts, ctx);
        }
    }

    /// The oldest entry other than `exclude`: lingering ones first, then the least recently
    /// active open flow.
    fn lru_victim(&self, exclude: Option<u32>) -> Option<u32> {
        let first = |l: ListId| -> Option<u32> {
            let h = self.lists[l as usize].head;
            let h = if Some(h) == exclude {
                self.flow(h).map_or(NIL, |_| self.link(h).next)
            } else {
                h
            };
            (h != NIL).then_some(h)
        };
        if let Some(c) = first(ListId::Closed) {
            return Some(c);
        }
        match (first(ListId::Handshake), first(ListId::Established)) {
            (Some(a), Some(b)) => {
                let la = self.flow(a).map_or(0, |f| f.last_seen);
                let lb = self.flow(b).map_or(0, |f| f.last_seen);
                Some(if la <= lb { a } else { b })
            }
            (a, b) => a.or(b),
        }
    }

    /// Remove entry `v` to make room: a lingering entry silently, an open flow that is past
    /// its timeout as `IdleTimeout`, any other open flow as `Evicted`.
    fn evict(&mut self, v: u32, ts: u64, ctx: &mut S::Ctx) {
        let Some(f) = self.flow(v) else { return };
        match f.list {
            ListId::Closed => {
                self.stats.lingering_dropped += 1;
                self.remove(v);
            }
            list => {
                let timeout = if list == ListId::Handshake {
                    self.cfg.handshake_timeout_ns
                } else {
                    self.cfg.idle_timeout_ns
                };
                if f.last_seen.saturating_add(timeout) <= self.clock {
                    self.close(v, CloseReason::IdleTimeout, ts, ctx, false);
                } else {
                    self.stats.flows_evicted += 1;
                    self.close(v, CloseReason::Evicted, ts, ctx, false);
                }
            }
        }
    }

    fn evict_until(&mut self, target: usize, exclude: Option<u32>, ts: u64, ctx: &mut S::Ctx) {
        while self.mem_used > target {
            let Some(v) = self.lru_victim(exclude) else {
                return;
            };
            self.evict(v, ts, ctx);
        }
    }

    /// Open the sink once the orientation is known, then deliver FINs seen before.
    fn open_if_oriented(&mut self, i: u32, ts: u64, ctx: &mut S::Ctx) {
        let Some(f) = self.slots.get_mut(i as usize).and_then(Option::as_mut) else {
            return;
        };
        if f.app.is_some() {
            return;
        }
        let Some(c) = f.client_side else { return };
        let (client, client_port) = f.ep[c];
        let (server, server_port) = f.ep[1 - c];
        let info = FlowInfo {
            flow_id: f.flow_id,
            client,
            client_port,
            server,
            server_port,
            vlan: f.vlan,
            tunnel: f.tunnel,
            community_id: super::community_id_v1(0, client, client_port, server, server_port)
                .into(),
            first_ts: f.first_ts,
            midstream: f.midstream,
        };
        let sink = S::open(ctx, &info);
        f.app = Some(App { info, sink });
        for side in [c, 1 - c] {
            let dir = f.dir_of(side);
            let Flow {
                app: Some(app),
                half,
                ..
            } = &mut *f
            else {
                return;
            };
            let mut out = Out {
                sink: &mut app.sink,
                ctx: &mut *ctx,
                info: &app.info,
                dir,
                ts,
            };
            half[side].poll_fin(&mut self.stats, &mut out);
        }
    }

    /// Apply one segment to entry `i` (already looked up, touched, and with memory room made).
    fn handle(&mut self, i: u32, side: usize, seg: &TcpSegment<'_>, ts: u64, ctx: &mut S::Ctx) {
        let (syn, ack, fin, rst) = (
            seg.has(tcp_flags::SYN),
            seg.has(tcp_flags::ACK),
            seg.has(tcp_flags::FIN),
            seg.has(tcp_flags::RST),
        );
        let payload = if rst { &[][..] } else { seg.payload };
        {
            let Some(f) = self.slots.get_mut(i as usize).and_then(Option::as_mut) else {
                return;
            };
            if syn && !rst {
                if f.client_side.is_none() {
                    f.client_side = Some(if ack { 1 - side } else { side });
                }
                f.half[side].on_syn(seg.seq);
                if ack {
                    f.half[1 - side].set_base_if_none(seg.ack);
                }
            }
            if !payload.is_empty() {
                if f.client_side.is_none() {
                    f.client_side = Some(orient_by_payload(seg, side));
                    f.midstream = true;
                    self.stats.midstream_pickups += 1;
                }
                f.had_data = true;
            }
        }
        self.open_if_oriented(i, ts, ctx);

        let room0 = self.cfg.memcap_bytes.saturating_sub(self.mem_used);
        let Some(f) = self.slots.get_mut(i as usize).and_then(Option::as_mut) else {
            return;
        };
        let stats = &mut self.stats;
        let data_seq = if syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        if f.app.is_none() {
            stats.segments_before_orientation += 1;
            if fin && !rst {
                f.half[side].record_fin(data_seq, 0);
            }
            if let Some(a) = ack
                .then(|| f.half[1 - side].acked_offset(seg.ack))
                .flatten()
            {
                f.half[1 - side].note_ack(a);
            }
        } else {
            let dir = f.dir_of(side);
            let client_side = f.client_side;
            let Flow {
                app: Some(app),
                half,
                ignoring,
                ..
            } = f
            else {
                return;
            };
            // What this segment acknowledges of the other direction: told to the sink before
            // the payload it rides with, and to the other half's reassembly after it.
            let acked = if ack && !*ignoring {
                half[1 - side].acked_offset(seg.ack)
            } else {
                None
            };
            if let Some(off) = acked {
                app.sink.on_ack(ctx, dir.reverse(), off);
            }
            if !rst && (!payload.is_empty() || fin) {
                if !*ignoring && !app.sink.wants_data() {
                    *ignoring = true;
                    stop_payload(half, app, ctx, client_side, ts, stats);
                }
                let mut out = Out {
                    sink: &mut app.sink,
                    ctx: &mut *ctx,
                    info: &app.info,
                    dir,
                    ts,
                };
                if *ignoring {
                    if !payload.is_empty() {
                        stats.segments_ignored_not_wanted += 1;
                    }
                    if fin {
                        half[side].fin_now(stats, &mut out);
                    }
                } else {
                    if syn && !payload.is_empty() {
                        stats.syn_with_data += 1;
                        half[side].report(StreamAnomaly::SynWithData, &mut out);
                    }
                    let mut room = room0;
                    half[side]
                        .on_segment(data_seq, payload, fin, self.lim, &mut room, stats, &mut out);
                }
            }
            if let Some(acked) = acked.filter(|_| !*ignoring) {
                let other = 1 - side;
                if let Some(a) = half[other].note_ack(acked) {
                    let mut out = Out {
                        sink: &mut app.sink,
                        ctx: &mut *ctx,
                        info: &app.info,
                        dir: dir.reverse(),
                        ts,
                    };
                    half[other].skip_acked_hole(a, stats, &mut out);
                }
            }
            if !*ignoring && !app.sink.wants_data() {
                *ignoring = true;
                stop_payload(half, app, ctx, client_side, ts, stats);
            }
        }

        if rst {
            self.stats.rsts += 1;
            self.close(i, CloseReason::Rst, ts, ctx, true);
            return;
        }
        let done = self.flow(i).is_some_and(|f| {
            if f.app.is_some() {
                f.half[0].fin_delivered() && f.half[1].fin_delivered()
            } else {
                f.half[0].fin_seen() && f.half[1].fin_seen()
            }
        });
        if done {
            self.close(i, CloseReason::Fin, ts, ctx, true);
        }
    }

    /// Close entry `i`: finish both directions (client to server first), call `on_close`,
    /// then linger (FIN/RST) or remove it.
    fn close(&mut self, i: u32, reason: CloseReason, ts: u64, ctx: &mut S::Ctx, linger: bool) {
        let Some(f) = self.slots.get_mut(i as usize).and_then(Option::as_mut) else {
            return;
        };
        if f.list == ListId::Closed {
            return;
        }
        let stats = &mut self.stats;
        if let Some(mut app) = f.app.take() {
            if !f.ignoring {
                for dir in [Direction::ToServer, Direction::ToClient] {
                    let side = f.side_of(dir);
                    let mut out = Out {
                        sink: &mut app.sink,
                        ctx: &mut *ctx,
                        info: &app.info,
                        dir,
                        ts,
                    };
                    f.half[side].finish(stats, &mut out);
                }
            }
            app.sink.on_close(ctx, &app.info, ts, reason);
        }
        f.half[0].drop_buffers(stats);
        f.half[1].drop_buffers(stats);
        stats.count_close(reason);
        stats.flows_active = stats.flows_active.saturating_sub(1);
        if linger {
            stats.flows_lingering += 1;
            self.touch(i, ListId::Closed);
            self.account(i);
        } else {
            self.remove(i);
        }
    }

    // ---- time ----------------------------------------------------------------------------

    /// Expire idle flows with packet time `now_ns`; call often (the pipeline calls it when
    /// packet time advances by ≥ 1 s). Cost is proportional to the number of entries expired.
    pub fn expire(&mut self, now_ns: u64, ctx: &mut S::Ctx) {
        self.clock = self.clock.max(now_ns);
        self.expire_due(now_ns, ctx);
    }

    fn expire_due(&mut self, ts: u64, ctx: &mut S::Ctx) {
        let clock = self.clock;
        let due = |f: &Flow<S>, timeout: u64| f.last_seen.saturating_add(timeout) <= clock;
        loop {
            let h = self.lists[ListId::Closed as usize].head;
            match self.flow(h) {
                Some(f) if due(f, self.cfg.closed_linger_ns) => {
                    self.remove(h);
                }
                _ => break,
            }
        }
        for (list, timeout) in [
            (ListId::Handshake, self.cfg.handshake_timeout_ns),
            (ListId::Established, self.cfg.idle_timeout_ns),
        ] {
            loop {
                let h = self.lists[list as usize].head;
                match self.flow(h) {
                    Some(f) if due(f, timeout) => {
                        self.close(h, CloseReason::IdleTimeout, ts, ctx, false)
                    }
                    _ => break,
                }
            }
        }
    }

    /// Close every flow (end of capture): deliver what is buffered (reporting gaps for holes),
    /// then `on_close(EndOfCapture)`, in flow-id order. Lingering entries are dropped.
    pub fn flush_all(&mut self, now_ns: u64, ctx: &mut S::Ctx) {
        self.clock = self.clock.max(now_ns);
        let mut open: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                f.as_ref()
                    .filter(|f| f.list != ListId::Closed)
                    .map(|f| (f.flow_id, i as u32))
            })
            .collect();
        open.sort_unstable();
        for (_, i) in open {
            self.close(i, CloseReason::EndOfCapture, now_ns, ctx, false);
        }
        while self.lists[ListId::Closed as usize].head != NIL {
            let h = self.lists[ListId::Closed as usize].head;
            if self.remove(h).is_none() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_token_detection() {
        assert!(looks_like_request(b"GET / HTTP/1.1\r\n"));
        assert!(looks_like_request(b"PROPFIND /x HTTP/1.1"));
        assert!(looks_like_request(b"M-SEARCH * HTTP/1.1"));
        assert!(!looks_like_request(b"get / HTTP/1.1"));
        assert!(!looks_like_request(b" GET /"));
        assert!(!looks_like_request(b"GET"));
        assert!(!looks_like_request(b"HTTP/1.1 200 OK"));
        assert!(!looks_like_request(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ /"));
        assert!(!looks_like_request(b""));
    }

    #[test]
    fn server_ports() {
        for p in [80, 443, 8080, 8000, 8443, 8888, 3000, 5000, 9200] {
            assert!(is_server_port(p));
        }
        assert!(!is_server_port(50000));
        assert!(!is_server_port(1024));
    }
}
