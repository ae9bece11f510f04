//! Reassembly of one direction of a TCP connection.
//!
//! Owns: [`HalfStream`] — the mapping of 32-bit wrapping sequence numbers onto a 64-bit stream
//! offset, in-order delivery, the bounded out-of-order buffer, retransmission and overlap
//! handling, gap declaration and the position of the FIN. It reports through the [`Deliver`]
//! trait so it knows nothing about flows or sinks.
//!
//! Sequence numbers: offset 0 is the first data byte (ISN + 1 after a SYN, or the first data
//! segment's sequence number on mid-stream pickup). A segment's offset is found from its signed
//! 32-bit distance to the next expected sequence number, so wrap-around across 2^32 is free.
//! Segments more than [`MAX_SEQ_JUMP`] away from the next expected byte are out of window and
//! dropped (counted); a run of [`FAR_RESYNC_RUN`] consecutive far-ahead segments resynchronises
//! the direction there (declaring the skipped bytes as a gap) so a real large capture loss does
//! not freeze the flow.
//!
//! Overlap policy — **first copy wins**: bytes already accepted (delivered, or held in the
//! out-of-order buffer) are never replaced. A later copy of the same bytes is compared with the
//! accepted one — against the buffered segment, or against the tail of delivered bytes kept per
//! direction (`overlap_check_bytes`) — and when they differ [`StreamAnomaly::InconsistentOverlap`]
//! is reported (once per direction; every occurrence is counted). A 1-byte segment just below
//! the next expected byte is a TCP keep-alive and is never compared.
//!
//! Gap policy — a hole is declared (reported with [`Deliver::gap`], then the data after it is
//! delivered) only when (a) buffering a segment would exceed the direction's out-of-order limits
//! or the global memory cap (the earliest holes are skipped one by one until the segment fits;
//! [`StreamAnomaly::OutOfOrderLimit`] is reported), (b) the peer acknowledges beyond the hole
//! while something (data or the FIN) waits after it (Zeek's "ack above hole"), or (c) the
//! direction is finished (FIN/RST/timeout/eviction/end of capture): every hole before buffered
//! data or before the FIN is declared, and data the peer acknowledged but that was never seen is
//! reported as a trailing gap. An ACK from the peer beyond the next expected byte with nothing
//! buffered only raises the acknowledged mark (the data may still arrive). Acknowledgements more
//! than [`MAX_SEQ_JUMP`] ahead are ignored as bogus, so a gap is never longer than that except
//! on a resynchronisation.
//!
//! Invariants: buffered segments are sorted, non-overlapping and all start at or after the next
//! expected offset; no arithmetic on sequence numbers or lengths can panic; in-order data is
//! delivered straight from the caller's slice (no allocation).

use super::{FlowStats, StreamAnomaly};
use std::collections::VecDeque;

/// Largest distance (bytes) from the next expected byte at which a segment or an ACK is
/// believed. Beyond it, it is out of window (or a bogus ACK).
pub(crate) const MAX_SEQ_JUMP: u64 = 16 << 20;

/// Consecutive far-ahead data segments after which a direction resynchronises.
pub(crate) const FAR_RESYNC_RUN: u8 = 8;

/// Memory charged per buffered segment besides its bytes (the entry and allocator overhead).
pub(crate) const OOO_SEG_OVERHEAD: usize = std::mem::size_of::<OooSeg>() + 16;

/// Where a direction's reassembly sends its output.
pub(crate) trait Deliver {
    /// In-order bytes.
    fn data(&mut self, data: &[u8]);
    /// `len` bytes that will never be delivered.
    fn gap(&mut self, len: u64);
    fn anomaly(&mut self, anomaly: StreamAnomaly);
    /// The FIN was reached in order.
    fn fin(&mut self);
    /// False once the consumer wants no more bytes.
    fn wants_data(&self) -> bool;
}

/// Per-direction limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_ooo_bytes: usize,
    pub max_ooo_segments: usize,
}

#[derive(Debug)]
pub(crate) struct OooSeg {
    off: u64,
    data: Vec<u8>,
}

impl OooSeg {
    fn end(&self) -> u64 {
        self.off + self.data.len() as u64
    }
}

/// The last delivered bytes of a direction, kept to check retransmissions against.
/// Holds the contiguous offsets `[max(base_off, end - cap), end)` where `end` is the
/// direction's next expected offset; byte at offset `o` lives at `(o - base_off) % cap`.
#[derive(Debug, Default)]
struct Tail {
    buf: Vec<u8>,
    base_off: u64,
    cap: usize,
}

impl Tail {
    fn new(cap: usize) -> Self {
        Tail {
            buf: Vec::new(),
            base_off: 0,
            cap,
        }
    }

    /// Forget the held bytes (after a gap, the bytes before it are not contiguous).
    fn reset(&mut self) {
        self.buf.clear();
    }

    fn free(&mut self) {
        self.buf = Vec::new();
        self.cap = 0;
    }

    fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Append `data`, delivered at offset `at` (the previous end).
    fn push(&mut self, at: u64, data: &[u8]) {
        let cap = self.cap;
        if cap == 0 || data.is_empty() {
            return;
        }
        let skip = data.len().saturating_sub(cap);
        let mut o = at + skip as u64;
        let mut d = &data[skip..];
        if self.buf.is_empty() {
            self.base_off = o;
        }
        while !d.is_empty() {
            let i = (o.wrapping_sub(self.base_off) % cap as u64) as usize;
            let n = d.len().min(cap - i);
            let len = self.buf.len();
            if i > len {
                // Cannot happen with sequential writes; stay correct anyway.
                self.reset();
                self.base_off = o;
                continue;
            }
            let over = n.min(len - i);
            self.buf[i..i + over].copy_from_slice(&d[..over]);
            if over < n {
                let need = i + n;
                if self.buf.capacity() < need {
                    // First write: just what it needs (short flows stay small). Once a flow
                    // outgrows that, take the whole ring at once instead of regrowing it.
                    let target = if self.buf.capacity() == 0 { need } else { cap };
                    self.buf.reserve_exact(target.max(need) - self.buf.len());
                }
                self.buf.extend_from_slice(&d[over..n]);
            }
            o += n as u64;
            d = &d[n..];
        }
    }

    /// Whether `data` at offset `off` agrees with the held bytes where they overlap.
    fn consistent(&self, end: u64, off: u64, data: &[u8]) -> bool {
        if self.cap == 0 || self.buf.is_empty() {
            return true;
        }
        let held_start = self.base_off.max(end.saturating_sub(self.buf.len() as u64));
        let from = off.max(held_start);
        let to = (off + data.len() as u64).min(end);
        let mut o = from;
        while o < to {
            let i = (o.wrapping_sub(self.base_off) % self.cap as u64) as usize;
            let n = ((to - o) as usize)
                .min(self.cap - i)
                .min(self.buf.len().saturating_sub(i));
            if n == 0 {
                return true;
            }
            let s = (o - off) as usize;
            if data[s..s + n] != self.buf[i..i + n] {
                return false;
            }
            o += n as u64;
        }
        true
    }
}

/// Reassembly state of one direction.
#[derive(Debug)]
pub(crate) struct HalfStream {
    /// Sequence number of stream offset 0, once known.
    base: Option<u32>,
    /// Next offset to deliver; everything before it was delivered or declared a gap.
    next_off: u64,
    ooo: VecDeque<OooSeg>,
    ooo_bytes: usize,
    tail: Tail,
    /// Offset of the FIN (one past the last data byte), once seen.
    fin_off: Option<u64>,
    fin_delivered: bool,
    /// Highest offset the peer acknowledged (sane values only).
    max_ack_off: Option<u64>,
    syn_isn: Option<u32>,
    /// Anomalies already reported for this direction (bit per [`StreamAnomaly::index`]).
    reported: u8,
    far_run: u8,
    /// No more payload wanted: nothing is buffered or delivered any more.
    ignoring: bool,
}

impl HalfStream {
    pub(crate) fn new(overlap_check_bytes: usize) -> Self {
        HalfStream {
            base: None,
            next_off: 0,
            ooo: VecDeque::new(),
            ooo_bytes: 0,
            tail: Tail::new(overlap_check_bytes),
            fin_off: None,
            fin_delivered: false,
            max_ack_off: None,
            syn_isn: None,
            reported: 0,
            far_run: 0,
            ignoring: false,
        }
    }

    pub(crate) fn syn_isn(&self) -> Option<u32> {
        self.syn_isn
    }

    pub(crate) fn base(&self) -> Option<u32> {
        self.base
    }

    pub(crate) fn fin_delivered(&self) -> bool {
        self.fin_delivered
    }

    pub(crate) fn fin_seen(&self) -> bool {
        self.fin_off.is_some()
    }

    /// Bytes of memory this direction holds (buffers and their bookkeeping).
    pub(crate) fn mem_bytes(&self) -> usize {
        self.ooo_bytes
            + self.ooo.len() * 16
            + self.ooo.capacity() * std::mem::size_of::<OooSeg>()
            + self.tail.capacity()
    }

    /// A SYN (or SYN/ACK) from this direction's sender with initial sequence number `isn`.
    pub(crate) fn on_syn(&mut self, isn: u32) {
        if self.syn_isn.is_none() {
            self.syn_isn = Some(isn);
        }
        if self.base.is_none() {
            self.base = Some(isn.wrapping_add(1));
        }
    }

    /// Set offset 0 at `seq` unless it is already known.
    pub(crate) fn set_base_if_none(&mut self, seq: u32) {
        if self.base.is_none() {
            self.base = Some(seq);
        }
    }

    /// Signed offset of `seq`, relative to the next expected byte, made absolute.
    fn offset_of(&self, seq: u32) -> Option<i64> {
        let base = self.base?;
        let expected = base.wrapping_add(self.next_off as u32);
        let dist = seq.wrapping_sub(expected) as i32 as i64;
        Some(self.next_off as i64 + dist)
    }

    /// The offset in this direction's stream that the peer's `ack` acknowledges, when it is
    /// plausible: not before the stream's first byte, and not further past the next expected
    /// byte than a sequence jump may be.
    pub(crate) fn acked_offset(&self, ack: u32) -> Option<u64> {
        let a = self.offset_of(ack)?;
        let ahead = a - self.next_off as i64;
        (a >= 0 && ahead <= MAX_SEQ_JUMP as i64).then_some(a as u64)
    }

    /// Bytes the segment would add to the out-of-order buffer (0 when it would not be
    /// buffered), so the caller can make room under the memory cap first.
    pub(crate) fn buffer_need(&self, seq: u32, len: usize) -> usize {
        if self.ignoring || len == 0 {
            return 0;
        }
        match self.offset_of(seq) {
            Some(off)
                if off > self.next_off as i64
                    && off - (self.next_off as i64) <= MAX_SEQ_JUMP as i64 =>
            {
                len + OOO_SEG_OVERHEAD
            }
            _ => 0,
        }
    }

    /// Whether a segment at `seq` carrying `len` bytes (of a closed flow) brings bytes beyond
    /// what was delivered, or beyond the FIN.
    pub(crate) fn is_new_data(&self, seq: u32, len: usize) -> bool {
        if len == 0 {
            return false;
        }
        match self.offset_of(seq) {
            Some(off) => {
                let end = off + len as i64;
                let limit = self.fin_off.unwrap_or(self.next_off).max(self.next_off) as i64;
                end > limit && off - limit <= MAX_SEQ_JUMP as i64
            }
            None => true,
        }
    }

    /// Report `anomaly` unless it was already reported for this direction.
    pub(crate) fn report<D: Deliver>(&mut self, anomaly: StreamAnomaly, out: &mut D) {
        let bit = 1u8 << anomaly.index();
        if self.reported & bit == 0 {
            self.reported |= bit;
            out.anomaly(anomaly);
        }
    }

    /// Record the FIN of a segment at `seq` with `len` payload bytes, without delivering.
    pub(crate) fn record_fin(&mut self, seq: u32, len: usize) {
        self.set_base_if_none(seq);
        if self.fin_off.is_some() {
            return;
        }
        if let Some(off) = self.offset_of(seq) {
            let f = off + len as i64;
            let next = self.next_off as i64;
            if f >= next && f - next <= MAX_SEQ_JUMP as i64 {
                self.fin_off = Some(f as u64);
            }
        }
    }

    /// Stop buffering and delivering: free the buffers.
    pub(crate) fn stop(&mut self, stats: &mut FlowStats) {
        self.ignoring = true;
        self.drop_buffers(stats);
        self.tail.free();
    }

    /// Drop buffered data and the retransmission tail (flow closed).
    pub(crate) fn drop_buffers(&mut self, stats: &mut FlowStats) {
        self.clear_ooo(stats);
        self.tail.free();
    }

    fn clear_ooo(&mut self, stats: &mut FlowStats) {
        stats.ooo_bytes_current = stats
            .ooo_bytes_current
            .saturating_sub(self.ooo_bytes as u64);
        self.ooo_bytes = 0;
        self.ooo = VecDeque::new();
    }

    /// While ignoring payload: the FIN ends the direction as soon as it is seen.
    pub(crate) fn fin_now<D: Deliver>(&mut self, stats: &mut FlowStats, out: &mut D) {
        if !self.fin_delivered {
            self.fin_delivered = true;
            stats.fins += 1;
            out.fin();
        }
    }

    fn gap<D: Deliver>(&mut self, len: u64, stats: &mut FlowStats, out: &mut D) {
        if len == 0 {
            return;
        }
        stats.gaps += 1;
        stats.gap_bytes += len;
        out.gap(len);
        self.next_off += len;
        self.tail.reset();
    }

    fn inconsistent<D: Deliver>(&mut self, stats: &mut FlowStats, out: &mut D) {
        stats.overlaps_inconsistent += 1;
        self.report(StreamAnomaly::InconsistentOverlap, out);
    }

    /// Deliver `data` at the next offset. False when the consumer stopped wanting data.
    fn emit<D: Deliver>(&mut self, data: &[u8], stats: &mut FlowStats, out: &mut D) -> bool {
        if self.ignoring {
            return false;
        }
        if !out.wants_data() {
            self.stop(stats);
            return false;
        }
        if data.is_empty() {
            return true;
        }
        out.data(data);
        stats.bytes_delivered += data.len() as u64;
        self.tail.push(self.next_off, data);
        self.next_off += data.len() as u64;
        true
    }

    fn pop_front(&mut self, stats: &mut FlowStats) -> Option<OooSeg> {
        let seg = self.ooo.pop_front()?;
        self.ooo_bytes -= seg.data.len();
        stats.ooo_bytes_current = stats
            .ooo_bytes_current
            .saturating_sub(seg.data.len() as u64);
        if self.ooo.is_empty() && self.ooo.capacity() > 64 {
            self.ooo = VecDeque::new();
        }
        Some(seg)
    }

    /// Deliver `cur` (which starts at the next offset) merged with the buffered segments, then
    /// every buffered segment that has become contiguous. Buffered bytes win over `cur`.
    fn deliver_in_order<D: Deliver>(&mut self, mut cur: &[u8], stats: &mut FlowStats, out: &mut D) {
        loop {
            if self.ignoring {
                return;
            }
            let front = self.ooo.front().map(|s| (s.off, s.end()));
            match front {
                Some((f_off, f_end)) if f_off <= self.next_off => {
                    let Some(seg) = self.pop_front(stats) else {
                        return;
                    };
                    if f_end <= self.next_off {
                        continue; // cannot happen (invariant); drop it
                    }
                    let data = &seg.data[(self.next_off - f_off) as usize..];
                    let ov = cur.len().min(data.len());
                    if ov > 0 {
                        if cur[..ov] != data[..ov] {
                            self.inconsistent(stats, out);
                        }
                        stats.retransmitted_bytes += ov as u64;
                        cur = &cur[ov..];
                    }
                    if !self.emit(data, stats, out) {
                        return;
                    }
                }
                _ => {
                    if cur.is_empty() {
                        return;
                    }
                    let lim = match front {
                        Some((f_off, _)) => ((f_off - self.next_off) as usize).min(cur.len()),
                        None => cur.len(),
                    };
                    if !self.emit(&cur[..lim], stats, out) {
                        return;
                    }
                    cur = &cur[lim..];
                }
            }
        }
    }

    /// Bytes and pieces `[off, off + len)` would add to the buffer (parts not already held).
    fn plan(&self, off: u64, len: usize) -> (usize, usize) {
        let end = off + len as u64;
        let mut i = self.ooo.partition_point(|s| s.end() <= off);
        let (mut cur, mut bytes, mut pieces) = (off, 0usize, 0usize);
        while cur < end {
            match self.ooo.get(i) {
                Some(s) if s.off <= cur => {
                    cur = end.min(s.end());
                    i += 1;
                }
                next => {
                    let pe = next.map_or(end, |s| end.min(s.off));
                    bytes += (pe - cur) as usize;
                    pieces += 1;
                    cur = pe;
                }
            }
        }
        (bytes, pieces)
    }

    /// Insert the parts of `data` at `off` not already held; compare the parts that are.
    fn insert<D: Deliver>(&mut self, off: u64, data: &[u8], stats: &mut FlowStats, out: &mut D) {
        let end = off + data.len() as u64;
        let mut i = self.ooo.partition_point(|s| s.end() <= off);
        let mut cur = off;
        let mut added = false;
        let mut differs = false;
        while cur < end {
            let held = self
                .ooo
                .get(i)
                .filter(|s| s.off <= cur)
                .map(|s| (s.off, s.end()));
            match held {
                Some((s_off, s_end)) => {
                    let to = end.min(s_end);
                    let a = &data[(cur - off) as usize..(to - off) as usize];
                    let b = &self.ooo[i].data[(cur - s_off) as usize..(to - s_off) as usize];
                    differs |= a != b;
                    stats.retransmitted_bytes += to - cur;
                    cur = to;
                    i += 1;
                }
                None => {
                    let pe = self.ooo.get(i).map_or(end, |s| end.min(s.off));
                    let piece = data[(cur - off) as usize..(pe - off) as usize].to_vec();
                    self.ooo_bytes += piece.len();
                    stats.ooo_bytes_current += piece.len() as u64;
                    stats.ooo_segments_buffered += 1;
                    self.ooo.insert(
                        i,
                        OooSeg {
                            off: cur,
                            data: piece,
                        },
                    );
                    i += 1;
                    cur = pe;
                    added = true;
                }
            }
        }
        if !added {
            stats.retransmitted_segments += 1;
        }
        if differs {
            self.inconsistent(stats, out);
        }
    }

    fn ooo_mem(&self) -> usize {
        self.ooo_bytes + self.ooo.len() * OOO_SEG_OVERHEAD
    }

    /// Buffer `data` at `off` (> next offset), skipping holes when a limit is hit.
    fn buffer<D: Deliver>(
        &mut self,
        off: u64,
        data: &[u8],
        lim: Limits,
        room: &mut usize,
        stats: &mut FlowStats,
        out: &mut D,
    ) {
        let mut counted = false;
        loop {
            if self.ignoring {
                return;
            }
            if off <= self.next_off {
                // Earlier holes were skipped up to (or past) this segment.
                self.accept(off, data, lim, room, stats, out);
                return;
            }
            let (bytes, pieces) = self.plan(off, data.len());
            let fits_dir = self.ooo_bytes + bytes <= lim.max_ooo_bytes
                && self.ooo.len() + pieces <= lim.max_ooo_segments;
            let need = bytes + pieces * OOO_SEG_OVERHEAD;
            let fits_mem = need <= *room;
            if fits_dir && fits_mem {
                self.insert(off, data, stats, out);
                *room -= need;
                return;
            }
            if !counted {
                counted = true;
                if fits_dir {
                    stats.memcap_hits += 1;
                } else {
                    stats.ooo_limit_hits += 1;
                }
                self.report(StreamAnomaly::OutOfOrderLimit, out);
            }
            let before = self.ooo_mem();
            match self.ooo.front().map(|s| s.off) {
                Some(f_off) if f_off < off => {
                    // Skip the first hole and deliver what became contiguous.
                    self.gap(f_off - self.next_off, stats, out);
                    self.deliver_in_order(&[], stats, out);
                }
                _ => {
                    // The segment is the earliest data: skip to it.
                    self.gap(off - self.next_off, stats, out);
                    self.deliver_in_order(data, stats, out);
                    *room += before.saturating_sub(self.ooo_mem());
                    return;
                }
            }
            *room += before.saturating_sub(self.ooo_mem());
        }
    }

    /// Accept payload at absolute offset `off` (≥ 0, within the window, before any FIN).
    fn accept<D: Deliver>(
        &mut self,
        off: u64,
        data: &[u8],
        lim: Limits,
        room: &mut usize,
        stats: &mut FlowStats,
        out: &mut D,
    ) {
        if self.ignoring || data.is_empty() {
            return;
        }
        let end = off + data.len() as u64;
        if end <= self.next_off {
            stats.retransmitted_segments += 1;
            stats.retransmitted_bytes += data.len() as u64;
            let keepalive = data.len() == 1 && end == self.next_off;
            if !keepalive && !self.tail.consistent(self.next_off, off, data) {
                self.inconsistent(stats, out);
            }
            return;
        }
        let (off, data) = if off < self.next_off {
            let k = (self.next_off - off) as usize;
            stats.retransmitted_bytes += k as u64;
            if !self.tail.consistent(self.next_off, off, &data[..k]) {
                self.inconsistent(stats, out);
            }
            (self.next_off, &data[k..])
        } else {
            (off, data)
        };
        if off == self.next_off {
            self.deliver_in_order(data, stats, out);
        } else {
            self.buffer(off, data, lim, room, stats, out);
        }
    }

    /// A segment of this direction at `seq` carrying `payload` (SYN already accounted for:
    /// `seq` is the sequence number of the first payload byte) and possibly the FIN.
    /// `room` is what the memory cap still allows to be buffered.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_segment<D: Deliver>(
        &mut self,
        seq: u32,
        payload: &[u8],
        fin: bool,
        lim: Limits,
        room: &mut usize,
        stats: &mut FlowStats,
        out: &mut D,
    ) {
        if payload.is_empty() && !fin {
            return;
        }
        self.set_base_if_none(seq);
        if self.ignoring {
            if fin {
                self.fin_now(stats, out);
            }
            return;
        }
        let Some(mut off) = self.offset_of(seq) else {
            return;
        };
        let next = self.next_off as i64;
        let dist = off - next;
        if dist > MAX_SEQ_JUMP as i64 {
            self.far_run = self.far_run.saturating_add(1);
            if payload.is_empty() || self.far_run < FAR_RESYNC_RUN {
                stats.segments_out_of_window += 1;
                return;
            }
            // A run of far-ahead data: the capture lost a lot; resynchronise here.
            stats.resyncs += 1;
            self.far_run = 0;
            self.flush_holes(stats, out);
            let jump = off - self.next_off as i64;
            if jump > 0 {
                self.gap(jump as u64, stats, out);
            }
        } else if dist + (payload.len() as i64) < -(MAX_SEQ_JUMP as i64) {
            stats.segments_out_of_window += 1;
            return;
        } else if !payload.is_empty() {
            self.far_run = 0;
        }
        let mut data = payload;
        if off < 0 {
            // Bytes before the start of the stream (mid-stream pickup began later).
            let skip = off.unsigned_abs() as usize;
            if skip >= data.len() {
                if !data.is_empty() {
                    stats.segments_out_of_window += 1;
                }
                return;
            }
            data = &data[skip..];
            off = 0;
        }
        let off = off as u64;
        if fin {
            let f = off + data.len() as u64;
            if self.fin_off.is_none() && f >= self.next_off {
                self.fin_off = Some(f);
            }
        }
        if let Some(f) = self.fin_off {
            let end = off + data.len() as u64;
            if end > f {
                stats.data_after_close += 1;
                self.report(StreamAnomaly::DataAfterClose, out);
                data = if off >= f {
                    &[]
                } else {
                    &data[..(f - off) as usize]
                };
            }
        }
        self.accept(off, data, lim, room, stats, out);
        self.poll_fin(stats, out);
    }

    /// The peer acknowledged this direction up to `ack_off` (from [`HalfStream::acked_offset`]).
    /// Returns the offset when it lies beyond a hole after which data or the FIN waits: pass
    /// it to [`HalfStream::skip_acked_hole`].
    pub(crate) fn note_ack(&mut self, ack_off: u64) -> Option<u64> {
        if self.ignoring || ack_off <= self.next_off {
            return None;
        }
        if !matches!(self.max_ack_off, Some(m) if m >= ack_off) {
            self.max_ack_off = Some(ack_off);
        }
        let waiting = self.ooo.front().is_some_and(|s| s.off < ack_off)
            || self
                .fin_off
                .is_some_and(|f| f > self.next_off && f <= ack_off);
        waiting.then_some(ack_off)
    }

    /// Declare the holes before `ack_off` that have data (or the FIN) after them as gaps and
    /// deliver what follows them. Bytes after the last such item stay expected.
    pub(crate) fn skip_acked_hole<D: Deliver>(
        &mut self,
        ack_off: u64,
        stats: &mut FlowStats,
        out: &mut D,
    ) {
        while !self.ignoring {
            match self.ooo.front().map(|s| s.off) {
                Some(f_off) if f_off < ack_off => {
                    if f_off > self.next_off {
                        stats.gaps_ack_above_hole += 1;
                        self.gap(f_off - self.next_off, stats, out);
                    }
                    self.deliver_in_order(&[], stats, out);
                }
                _ => {
                    if let Some(f) = self.fin_off {
                        if f > self.next_off && f <= ack_off {
                            stats.gaps_ack_above_hole += 1;
                            self.gap(f - self.next_off, stats, out);
                        }
                    }
                    break;
                }
            }
        }
        self.poll_fin(stats, out);
    }

    /// Deliver every buffered segment, declaring the holes before them as gaps.
    fn flush_holes<D: Deliver>(&mut self, stats: &mut FlowStats, out: &mut D) {
        while let Some(f_off) = self.ooo.front().map(|s| s.off) {
            if self.ignoring {
                return;
            }
            if f_off > self.next_off {
                self.gap(f_off - self.next_off, stats, out);
            }
            self.deliver_in_order(&[], stats, out);
        }
    }

    /// The direction ends (flow closing): deliver everything buffered with its holes as gaps,
    /// report a trailing gap for data the peer acknowledged but that was never seen, then the
    /// FIN if one was seen.
    pub(crate) fn finish<D: Deliver>(&mut self, stats: &mut FlowStats, out: &mut D) {
        if self.ignoring {
            return;
        }
        self.flush_holes(stats, out);
        if self.ignoring {
            return;
        }
        if let Some(a) = self.max_ack_off {
            let lim = a.min(self.fin_off.unwrap_or(u64::MAX));
            if lim > self.next_off {
                stats.gaps_trailing += 1;
                self.gap(lim - self.next_off, stats, out);
            }
        }
        if let Some(f) = self.fin_off {
            if f > self.next_off {
                self.gap(f - self.next_off, stats, out);
            }
        }
        self.poll_fin(stats, out);
    }

    /// Deliver the FIN once the next offset reached it.
    pub(crate) fn poll_fin<D: Deliver>(&mut self, stats: &mut FlowStats, out: &mut D) {
        if self.fin_delivered || self.ignoring || self.fin_off != Some(self.next_off) {
            return;
        }
        if !self.ooo.is_empty() {
            // Buffered bytes beyond the FIN can never be delivered.
            stats.data_after_close += 1;
            self.report(StreamAnomaly::DataAfterClose, out);
            self.clear_ooo(stats);
        }
        self.fin_delivered = true;
        stats.fins += 1;
        out.fin();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Rec {
        data: Vec<u8>,
        gaps: Vec<u64>,
        anomalies: Vec<StreamAnomaly>,
        fins: usize,
        stop_after: Option<usize>,
    }

    impl Deliver for Rec {
        fn data(&mut self, d: &[u8]) {
            self.data.extend_from_slice(d);
        }
        fn gap(&mut self, len: u64) {
            self.gaps.push(len);
        }
        fn anomaly(&mut self, a: StreamAnomaly) {
            self.anomalies.push(a);
        }
        fn fin(&mut self) {
            self.fins += 1;
        }
        fn wants_data(&self) -> bool {
            !matches!(self.stop_after, Some(n) if self.data.len() >= n)
        }
    }

    const LIM: Limits = Limits {
        max_ooo_bytes: 1 << 20,
        max_ooo_segments: 1024,
    };

    struct H {
        h: HalfStream,
        st: FlowStats,
        rec: Rec,
        room: usize,
        lim: Limits,
    }

    impl H {
        fn new(isn: u32) -> H {
            let mut h = HalfStream::new(2048);
            h.on_syn(isn);
            H {
                h,
                st: FlowStats::default(),
                rec: Rec::default(),
                room: usize::MAX,
                lim: LIM,
            }
        }
        fn seg(&mut self, seq: u32, d: &[u8]) {
            self.h.on_segment(
                seq,
                d,
                false,
                self.lim,
                &mut self.room,
                &mut self.st,
                &mut self.rec,
            );
        }
        fn fin(&mut self, seq: u32, d: &[u8]) {
            self.h.on_segment(
                seq,
                d,
                true,
                self.lim,
                &mut self.room,
                &mut self.st,
                &mut self.rec,
            );
        }
        fn ack(&mut self, a: u32) {
            let acked = self.h.acked_offset(a);
            if let Some(a) = acked.and_then(|a| self.h.note_ack(a)) {
                self.h.skip_acked_hole(a, &mut self.st, &mut self.rec);
            }
        }
        fn finish(&mut self) {
            self.h.finish(&mut self.st, &mut self.rec);
        }
    }

    #[test]
    fn tail_ring_keeps_last_bytes() {
        let mut t = Tail::new(8);
        t.push(0, b"abcdef");
        assert!(t.consistent(6, 0, b"abcdef"));
        assert!(!t.consistent(6, 0, b"abcdeX"));
        t.push(6, b"ghijkl"); // holds "efghijkl" at offsets 4..12
        assert!(t.consistent(12, 4, b"efghijkl"));
        assert!(!t.consistent(12, 10, b"kX"));
        assert!(t.consistent(12, 0, b"XXXXefgh")); // bytes below the tail are not checked
        t.push(12, b"0123456789abcdef0123"); // longer than the ring
        assert!(t.consistent(32, 24, b"cdef0123"));
        assert!(!t.consistent(32, 24, b"cdef0124"));
        assert!(t.capacity() <= 64);
    }

    #[test]
    fn in_order_and_reorder() {
        let mut h = H::new(1000);
        h.seg(1001, b"hello ");
        h.seg(1012, b"!");
        h.seg(1007, b"world");
        h.fin(1013, b"");
        assert_eq!(h.rec.data, b"hello world!");
        assert_eq!(h.rec.fins, 1);
        assert!(h.rec.gaps.is_empty() && h.rec.anomalies.is_empty());
        assert_eq!(h.st.ooo_bytes_current, 0);
    }

    #[test]
    fn overlap_first_copy_wins_and_flags() {
        let mut h = H::new(0);
        h.seg(1 + 4, b"EFGH"); // buffered
        h.seg(1, b"abcdefgh"); // overlaps the buffered copy with different bytes
        assert_eq!(h.rec.data, b"abcdEFGH");
        assert_eq!(h.rec.anomalies, vec![StreamAnomaly::InconsistentOverlap]);
        h.seg(1, b"abcX"); // differs from delivered tail: counted, reported once
        assert_eq!(h.rec.anomalies.len(), 1);
        assert_eq!(h.st.overlaps_inconsistent, 2);
        h.seg(8, b"\0"); // keep-alive shaped, never compared
        h.seg(3, b"cdEF"); // consistent retransmission
        assert_eq!(h.st.overlaps_inconsistent, 2);
    }

    #[test]
    fn buffered_overlap_pieces() {
        let mut h = H::new(0);
        h.seg(11, b"KLM"); // offsets 10..13
        h.seg(16, b"PQ"); // 15..17
        h.seg(9, b"IJKLMNOPQR"); // 8..18: new pieces 8..10, 13..15, 17..18
        assert_eq!(h.h.ooo.len(), 5);
        h.seg(1, b"ABCDEFGH");
        assert_eq!(h.rec.data, b"ABCDEFGHIJKLMNOPQR");
        assert!(h.rec.anomalies.is_empty());
        assert!(h.rec.gaps.is_empty());
    }

    #[test]
    fn wraps_across_u32() {
        let mut h = H::new(u32::MAX - 3);
        h.seg(u32::MAX - 2, b"abc"); // offsets 0..3, last byte at seq u32::MAX
        h.seg(3, b"ghi"); // seq 3 = offset 6 (buffered)
        h.seg(0, b"def");
        assert_eq!(h.rec.data, b"abcdefghi");
        h.seg(u32::MAX - 2, b"abcdef"); // retransmission across the wrap
        assert_eq!(h.st.retransmitted_segments, 1);
        assert!(h.rec.anomalies.is_empty());
    }

    #[test]
    fn ack_above_hole() {
        let mut h = H::new(0);
        h.seg(1, b"ab");
        h.ack(10); // nothing buffered: no gap yet
        assert!(h.rec.gaps.is_empty());
        h.seg(6, b"fg"); // offsets 5..7 buffered
        h.ack(8); // acked up to offset 7: hole 2..5 is lost
        assert_eq!(h.rec.gaps, vec![3]);
        assert_eq!(h.rec.data, b"abfg");
        h.finish(); // trailing: peer acked up to offset 9
        assert_eq!(h.rec.gaps, vec![3, 2]);
        assert_eq!(h.st.gaps_trailing, 1);
    }

    #[test]
    fn bogus_ack_ignored() {
        let mut h = H::new(0);
        h.seg(1, b"ab");
        h.seg(6, b"fg");
        h.ack(1 + (64 << 20));
        h.ack(0u32.wrapping_sub(100));
        assert!(h.rec.gaps.is_empty());
        h.finish();
        assert_eq!(h.rec.gaps, vec![3]);
    }

    #[test]
    fn ooo_limit_skips_holes() {
        let mut h = H::new(0);
        h.lim = Limits {
            max_ooo_bytes: 10,
            max_ooo_segments: 2,
        };
        h.seg(1, b"a");
        h.seg(3, b"c"); // off 2
        h.seg(5, b"e"); // off 4
        h.seg(7, b"g"); // off 6: 3 segments > 2: skip the hole at 1, then it fits
        assert_eq!(h.rec.data, b"ac");
        assert_eq!(h.rec.gaps, vec![1]);
        assert_eq!(h.rec.anomalies, vec![StreamAnomaly::OutOfOrderLimit]);
        h.seg(21, &[b'x'; 12]); // larger than the byte limit: skip every hole up to it
        assert_eq!(h.rec.gaps, vec![1, 1, 1, 13]);
        assert_eq!(h.rec.data.len(), 2 + 1 + 1 + 12);
        assert_eq!(h.st.ooo_limit_hits, 2);
        assert_eq!(h.rec.anomalies.len(), 1);
    }

    #[test]
    fn memcap_room_forces_gap() {
        let mut h = H::new(0);
        h.room = 10 + OOO_SEG_OVERHEAD;
        h.seg(3, b"0123456789"); // fits exactly
        h.seg(20, b"z"); // no room left: skip the hole before the buffered segment
        assert_eq!(h.rec.gaps, vec![2]);
        assert_eq!(h.rec.data, b"0123456789");
        assert_eq!(h.st.memcap_hits, 1);
    }

    #[test]
    fn fin_out_of_order_and_data_after_fin() {
        let mut h = H::new(0);
        h.fin(4, b"de");
        assert_eq!(h.rec.fins, 0);
        h.seg(1, b"abc");
        assert_eq!(h.rec.fins, 1);
        assert_eq!(h.rec.data, b"abcde");
        h.seg(6, b"zz");
        assert_eq!(h.rec.anomalies, vec![StreamAnomaly::DataAfterClose]);
        assert_eq!(h.rec.data, b"abcde");
    }

    #[test]
    fn finish_declares_hole_before_fin() {
        let mut h = H::new(0);
        h.seg(1, b"ab");
        h.fin(10, b"");
        h.finish();
        assert_eq!(h.rec.gaps, vec![7]);
        assert_eq!(h.rec.fins, 1);
    }

    #[test]
    fn pickup_before_start_dropped() {
        let mut h = H {
            h: HalfStream::new(2048),
            st: FlowStats::default(),
            rec: Rec::default(),
            room: usize::MAX,
            lim: LIM,
        };
        h.seg(500, b"later");
        h.seg(490, b"0123456789"); // 490..500 before the pickup point: dropped
        h.seg(495, b"56789laterX"); // trimmed to "X" at offset 5... consistent prefix
        assert_eq!(h.rec.data, b"laterX");
        assert_eq!(h.st.segments_out_of_window, 1);
    }

    #[test]
    fn far_ahead_resync() {
        let mut h = H::new(0);
        h.seg(1, b"a");
        let far = 1 + (100 << 20);
        for i in 0..FAR_RESYNC_RUN as u32 {
            h.seg(far + i, b"b");
        }
        assert_eq!(h.st.resyncs, 1);
        assert_eq!(h.rec.gaps.len(), 1);
        assert_eq!(h.rec.data, b"ab");
    }

    #[test]
    fn stop_wanting_data() {
        let mut h = H::new(0);
        h.rec.stop_after = Some(3);
        h.seg(8, b"zz");
        h.seg(1, b"abc");
        h.seg(4, b"def");
        assert_eq!(h.rec.data, b"abc");
        assert_eq!(h.st.ooo_bytes_current, 0);
        h.fin(100, b"");
        assert_eq!(h.rec.fins, 1);
    }
}
