//! One HTTP connection: a parser per direction and the queue that pairs requests with
//! responses.
//!
//! Each direction is a small state machine ([`SideState`]): reading a head, reading a body,
//! resynchronising after a gap or garbage, holding client bytes while a CONNECT/Upgrade is
//! being answered, tunnelled (after a protocol switch), or given up as not HTTP. Transactions
//! live in a FIFO; the response side walks it with a cursor so pipelined requests pair in
//! order. A transaction is emitted as an [`Exchange`] once both of its halves are done, when
//! the pending limit pushes it out, or when the connection closes.

use super::anomaly::{AnomalySet, HttpAnomaly};
use super::body::{BodyReader, Framing, Progress};
use super::config::HttpConfig;
use super::content::{BodyStats, Coding, Content, Inflated};
use super::head::{self, Field, Head, HeadEnd};
use crate::flow::Direction;
use std::collections::VecDeque;
use std::sync::Arc;

/// A request as seen on the wire.
#[derive(Debug, Clone)]
pub struct RequestPart {
    pub head: Head,
    pub start_ts: u64,
    pub end_ts: u64,
    /// Head plus body bytes on the wire.
    pub wire_bytes: u64,
    pub body: BodyStats,
}

/// A final response as seen on the wire (interim 1xx responses are counted into it).
#[derive(Debug, Clone)]
pub struct ResponsePart {
    pub head: Head,
    pub start_ts: u64,
    pub end_ts: u64,
    pub wire_bytes: u64,
    pub body: BodyStats,
}

/// One request/response exchange, either half possibly missing.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// 1-based position on the connection.
    pub trans_depth: u32,
    pub request: Option<RequestPart>,
    pub response: Option<ResponsePart>,
    /// Interim (1xx) status codes seen before the final response.
    pub informational: Vec<u16>,
    pub anomalies: AnomalySet,
}

/// Parser counters, summed over connections by the caller.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HttpStats {
    pub requests: u64,
    pub responses: u64,
    pub exchanges: u64,
    /// Bytes skipped while looking for a message start after losing sync.
    pub resync_skipped_bytes: u64,
    pub resyncs: u64,
    /// Responses whose start fell in a TCP gap (their requests are recorded without one).
    pub responses_lost: u64,
    /// Directions given up as not HTTP.
    pub not_http_directions: u64,
    /// Exchanges pushed out early by `max_pending_requests`.
    pub pending_overflows: u64,
    pub heads_too_large: u64,
    pub protocol_switches: u64,
    /// Client bytes held during a CONNECT/Upgrade that had to be dropped (over the hold limit).
    pub held_bytes_dropped: u64,
    /// Bytes after a protocol switch or on directions that are not HTTP (not parsed).
    pub unparsed_bytes: u64,
    /// Compressed bodies decoded in one call (held up to `whole_inflate_bytes`).
    pub bodies_inflated_whole: u64,
    /// Compressed bodies decoded piece by piece (larger, or not decodable whole).
    pub bodies_inflated_streamed: u64,
}

impl HttpStats {
    fn count_inflated(&mut self, how: Inflated) {
        match how {
            Inflated::Whole => self.bodies_inflated_whole += 1,
            Inflated::Streamed => self.bodies_inflated_streamed += 1,
            Inflated::No => {}
        }
    }
}

#[derive(Debug)]
struct Txn {
    depth: u32,
    request: Option<RequestPart>,
    req_done: bool,
    response: Option<ResponsePart>,
    resp_done: bool,
    informational: Vec<u16>,
    interim_bytes: u64,
    anomalies: AnomalySet,
    http09: bool,
    /// CONNECT or Upgrade asked: the client's next bytes wait for the answer.
    switch_requested: bool,
    /// How many response-stream bytes the client had acknowledged when the request began:
    /// its answer starts there or later (used to pair responses after lost sync).
    resp_acked: Option<u64>,
}

impl Txn {
    fn new(depth: u32) -> Txn {
        Txn {
            depth,
            request: None,
            req_done: false,
            response: None,
            resp_done: false,
            informational: Vec::new(),
            interim_bytes: 0,
            anomalies: AnomalySet::default(),
            http09: false,
            switch_requested: false,
            resp_acked: None,
        }
    }
    fn is_connect(&self) -> bool {
        self.request
            .as_ref()
            .is_some_and(|r| r.head.method().eq_ignore_ascii_case(b"CONNECT"))
    }
    fn is_head(&self) -> bool {
        self.request
            .as_ref()
            .is_some_and(|r| r.head.method().eq_ignore_ascii_case(b"HEAD"))
    }
    fn into_exchange(self) -> Exchange {
        Exchange {
            trans_depth: self.depth,
            request: self.request,
            response: self.response,
            informational: self.informational,
            anomalies: self.anomalies,
        }
    }
}

struct BodyInProgress {
    reader: BodyReader,
    content: Content,
}

enum SideState {
    Head,
    Body(Box<BodyInProgress>),
    Resync,
    /// Client bytes held until the CONNECT/Upgrade answer arrives.
    AwaitSwitch,
    Tunnel,
    NotHttp,
    Closed,
}

struct Side {
    state: SideState,
    buf: Vec<u8>,
    scan_from: usize,
    start_ts: u64,
    /// A message was parsed on this side at least once.
    seen_message: bool,
    /// While resyncing: the last piece ended a line, so the next one starts at a line start.
    resync_at_boundary: bool,
    resync_scanned: u64,
    /// Stream offset of the next byte this side is given (delivered bytes and gaps).
    stream_pos: u64,
    /// Stream offset where the message being read began.
    start_pos: u64,
    /// A gap swallowed the start of a message: the next one found is not the one awaited
    /// (kept by the response side, where it moves the pairing).
    lost_start: bool,
    /// Anomalies for the next message of this side.
    pending: AnomalySet,
    /// Client bytes held during AwaitSwitch.
    held: Vec<u8>,
}

impl Side {
    /// Heap bytes of the body being read (its prefix and held compressed bytes).
    fn body_memory_bytes(&self) -> usize {
        match &self.state {
            SideState::Body(b) => b.content.memory_bytes(),
            _ => 0,
        }
    }

    fn new() -> Side {
        Side {
            state: SideState::Head,
            buf: Vec::new(),
            scan_from: 0,
            start_ts: 0,
            seen_message: false,
            resync_at_boundary: false,
            resync_scanned: 0,
            stream_pos: 0,
            start_pos: 0,
            lost_start: false,
            pending: AnomalySet::default(),
            held: Vec::new(),
        }
    }
    fn lose_sync(&mut self, why: HttpAnomaly, stats: &mut HttpStats) {
        self.buf.clear();
        self.scan_from = 0;
        self.pending.insert(why);
        self.pending.insert(HttpAnomaly::Resync);
        self.state = SideState::Resync;
        // Where the bytes after a gap begin is unknown: a message start there must show
        // a whole start line (see `resync_scan`).
        self.resync_at_boundary = false;
        stats.resyncs += 1;
    }
    fn is_dead(&self) -> bool {
        matches!(
            self.state,
            SideState::Tunnel | SideState::NotHttp | SideState::Closed
        )
    }

    /// Takes head bytes: skips empty lines before a message, checks that it starts like a
    /// request (or response), and finds the end of the head, buffering across pieces up to
    /// `max_header_bytes` (beyond it the side loses sync).
    fn read_head(
        &mut self,
        ts: u64,
        data: &[u8],
        is_request: bool,
        (max_header_bytes, max_headers): (usize, usize),
        stats: &mut HttpStats,
    ) -> HeadRead {
        let mut skipped = 0;
        if self.buf.is_empty() {
            skipped = data
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            if skipped == data.len() {
                return HeadRead::Pending { used: skipped };
            }
            self.start_ts = ts;
            self.start_pos = self.stream_pos + skipped as u64;
        }
        let data = &data[skipped..];
        let looks_like = if is_request {
            head::looks_like_request
        } else {
            head::looks_like_response
        };
        let probe = if is_request { 24 } else { 5 };
        let verdict = if self.buf.is_empty() {
            looks_like(data)
        } else if self.buf.len() < probe {
            let mut start = self.buf.clone();
            start.extend_from_slice(&data[..(probe - self.buf.len()).min(data.len())]);
            looks_like(&start)
        } else {
            Some(true)
        };
        if verdict == Some(false) {
            return HeadRead::NotAMessage { skipped };
        }
        let old = self.buf.len();
        let end = if old == 0 {
            if let Some(mut head) =
                head::parse_leading(data, is_request, max_headers, &mut self.pending)
            {
                head.wire_len += skipped as u64;
                return HeadRead::Parsed { head };
            }
            head::find_head_end(data, is_request, 0)
        } else {
            let from = self.scan_from.saturating_sub(3);
            self.buf.extend_from_slice(data);
            head::find_head_end(&self.buf, is_request, from)
        };
        match end {
            HeadEnd::Complete { len, http09 } if old == 0 => HeadRead::Complete {
                skipped,
                used: len,
                buf: None,
                http09,
            },
            HeadEnd::Complete { len, http09 } => {
                let mut buf = std::mem::take(&mut self.buf);
                buf.truncate(len);
                HeadRead::Complete {
                    skipped,
                    used: len - old,
                    buf: Some(buf),
                    http09,
                }
            }
            HeadEnd::Incomplete { resume } => {
                if old + data.len() > max_header_bytes {
                    stats.heads_too_large += 1;
                    self.lose_sync(HttpAnomaly::HeaderTooLarge, stats);
                } else {
                    if old == 0 {
                        self.buf.extend_from_slice(data);
                    }
                    self.scan_from = resume;
                }
                HeadRead::Pending {
                    used: skipped + data.len(),
                }
            }
        }
    }

    /// Gives a head buffer back for the next message (keeps its capacity).
    fn recycle(&mut self, buf: Option<Vec<u8>>) {
        if let Some(mut b) = buf {
            b.clear();
            if self.buf.is_empty() {
                self.buf = b;
            }
        }
        self.scan_from = 0;
    }

    /// Scans for a message start after lost sync. Returns the bytes to skip (a message starts
    /// after them when found, else all of `data` was scanned) and whether the scan limit ran out.
    fn resync(
        &mut self,
        data: &[u8],
        is_request: bool,
        max_resync_bytes: u64,
        stats: &mut HttpStats,
    ) -> (usize, bool) {
        let at_line_start = std::mem::take(&mut self.resync_at_boundary);
        match resync_scan(data, at_line_start, is_request) {
            Some(p) => {
                stats.resync_skipped_bytes += p as u64;
                self.state = SideState::Head;
                (p, false)
            }
            None => {
                stats.resync_skipped_bytes += data.len() as u64;
                self.resync_scanned += data.len() as u64;
                // A piece that ends a line leaves the next one at a line start.
                self.resync_at_boundary = data.last() == Some(&b'\n');
                (data.len(), self.resync_scanned > max_resync_bytes)
            }
        }
    }
}

/// What feeding head bytes to a side gave.
enum HeadRead {
    /// `used` bytes were taken and the head is not complete (or was too large, and the side
    /// is resyncing).
    Pending { used: usize },
    /// After `skipped` empty-line bytes, the data does not start a message of this kind.
    NotAMessage { skipped: usize },
    /// A head parsed where it arrived (it came whole); its `wire_len` counts the empty-line
    /// bytes skipped before it, so it is all the data used.
    Parsed { head: Head },
    /// A complete head of `used` bytes after `skipped`; `buf` holds the whole head when it
    /// was assembled from several pieces.
    Complete {
        skipped: usize,
        used: usize,
        buf: Option<Vec<u8>>,
        http09: bool,
    },
}

/// Methods accepted as a message start when resynchronising (stricter than the first
/// message of a direction, to not mistake binary data for a request).
const RESYNC_METHODS: [&[u8]; 14] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
];

/// Collects what the parser produces.
#[derive(Debug, Default)]
pub struct HttpOutput {
    pub exchanges: Vec<Exchange>,
    pub stats: HttpStats,
}

/// HTTP state for one TCP connection.
pub struct HttpConnection {
    cfg: Arc<HttpConfig>,
    req: Side,
    resp: Side,
    txns: VecDeque<Txn>,
    /// Index in `txns` of the first transaction still waiting for its response.
    resp_cursor: usize,
    next_depth: u32,
    /// The highest response-stream offset the client has acknowledged.
    resp_acked_by_client: Option<u64>,
}

impl HttpConnection {
    pub fn new(cfg: Arc<HttpConfig>) -> HttpConnection {
        HttpConnection {
            cfg,
            req: Side::new(),
            resp: Side::new(),
            txns: VecDeque::new(),
            resp_cursor: 0,
            next_depth: 1,
            resp_acked_by_client: None,
        }
    }

    /// False once neither direction can carry HTTP any more (switched protocols, not HTTP,
    /// or closed): the caller may stop delivering bytes.
    pub fn wants_data(&self) -> bool {
        !(self.req.is_dead() && self.resp.is_dead())
    }

    /// Bytes this connection holds in buffers (for the memory cap).
    pub fn memory_bytes(&self) -> usize {
        self.req.buf.capacity()
            + self.resp.buf.capacity()
            + self.req.held.capacity()
            + self.req.body_memory_bytes()
            + self.resp.body_memory_bytes()
            + self.txns.len() * std::mem::size_of::<Txn>()
            + self
                .txns
                .iter()
                .map(|t| {
                    t.request
                        .as_ref()
                        .map_or(0, |r| r.body.prefix.capacity() + r.head.memory_bytes())
                        + t.response
                            .as_ref()
                            .map_or(0, |r| r.body.prefix.capacity() + r.head.memory_bytes())
                })
                .sum::<usize>()
    }

    pub fn on_data(&mut self, dir: Direction, ts: u64, data: &[u8], out: &mut HttpOutput) {
        match dir {
            Direction::ToServer => self.request_data(ts, data, out),
            Direction::ToClient => self.response_data(ts, data, out),
        }
        self.emit_ready(out);
    }

    /// The peer of `dir` acknowledged `dir`'s bytes before `offset`. The client's
    /// acknowledgments of the response stream are remembered: each request notes how much
    /// of it the client had received when the request began.
    pub fn on_ack(&mut self, dir: Direction, offset: u64) {
        if dir == Direction::ToClient && self.resp_acked_by_client.is_none_or(|a| a < offset) {
            self.resp_acked_by_client = Some(offset);
        }
    }

    pub fn on_gap(&mut self, dir: Direction, ts: u64, len: u64, out: &mut HttpOutput) {
        match dir {
            Direction::ToServer => self.request_gap(ts, len, out),
            Direction::ToClient => self.response_gap(ts, len, out),
        }
        self.emit_ready(out);
    }

    /// One direction ended (FIN).
    pub fn on_fin(&mut self, dir: Direction, ts: u64, out: &mut HttpOutput) {
        match dir {
            Direction::ToServer => self.request_end(ts),
            Direction::ToClient => self.response_end(ts, out),
        }
        self.emit_ready(out);
    }

    /// The connection is gone: finish both directions and emit everything pending.
    pub fn on_close(&mut self, ts: u64, out: &mut HttpOutput) {
        self.request_end(ts);
        self.response_end(ts, out);
        while let Some(t) = self.txns.pop_front() {
            out.stats.exchanges += 1;
            out.exchanges.push(t.into_exchange());
        }
        self.resp_cursor = 0;
    }

    // ----- request direction -----

    fn request_data(&mut self, ts: u64, mut data: &[u8], out: &mut HttpOutput) {
        while !data.is_empty() {
            let before = data.len();
            match &mut self.req.state {
                SideState::Head => {
                    let used = self.request_head_bytes(ts, data, out);
                    data = &data[used..];
                }
                SideState::Body(b) => {
                    let mut anomalies = AnomalySet::default();
                    let (used, progress) = b.reader.feed(data, &mut b.content, &mut anomalies);
                    data = &data[used..];
                    if let Some(t) = self.txns.back_mut() {
                        t.anomalies.union(anomalies);
                    }
                    match progress {
                        Progress::NeedMore => {}
                        Progress::Done => self.finish_request_body(ts, false, out),
                        Progress::Broken | Progress::Overrun => {
                            self.finish_request_body(ts, true, out)
                        }
                    }
                }
                SideState::Resync => {
                    let max = self.cfg.max_resync_bytes;
                    let (skip, give_up) = self.req.resync(data, true, max, &mut out.stats);
                    data = &data[skip..];
                    if give_up {
                        self.give_up(Direction::ToServer, out);
                    }
                }
                SideState::AwaitSwitch => {
                    let room = self
                        .cfg
                        .max_header_bytes
                        .saturating_sub(self.req.held.len());
                    let keep = room.min(data.len());
                    self.req.held.extend_from_slice(&data[..keep]);
                    out.stats.held_bytes_dropped += (data.len() - keep) as u64;
                    data = &[];
                }
                SideState::Tunnel | SideState::NotHttp | SideState::Closed => {
                    out.stats.unparsed_bytes += data.len() as u64;
                    data = &[];
                }
            }
            self.req.stream_pos += (before - data.len()) as u64;
        }
    }

    /// Feeds head bytes; returns how many were used.
    fn request_head_bytes(&mut self, ts: u64, data: &[u8], out: &mut HttpOutput) -> usize {
        let max = (self.cfg.max_header_bytes, self.cfg.max_headers);
        let (skipped, used, buf, http09) =
            match self.req.read_head(ts, data, true, max, &mut out.stats) {
                HeadRead::Pending { used } => return used,
                HeadRead::Parsed { head } => {
                    let used = head.wire_len as usize;
                    let anomalies = std::mem::take(&mut self.req.pending);
                    self.request_head(ts, head, anomalies, out);
                    self.req.recycle(None);
                    return used;
                }
                HeadRead::NotAMessage { skipped } => {
                    self.not_http_or_resync(Direction::ToServer, out);
                    return skipped;
                }
                HeadRead::Complete {
                    skipped,
                    used,
                    buf,
                    http09,
                } => (skipped, used, buf, http09),
            };
        let head_slice: &[u8] = buf.as_deref().unwrap_or(&data[skipped..skipped + used]);
        let mut anomalies = std::mem::take(&mut self.req.pending);
        match head::parse_request(head_slice, http09, self.cfg.max_headers, &mut anomalies) {
            Some(mut h) => {
                h.wire_len += skipped as u64;
                self.request_head(ts, h, anomalies, out);
            }
            None => {
                self.req.pending = anomalies;
                self.not_http_or_resync(Direction::ToServer, out);
            }
        }
        self.req.recycle(buf);
        skipped + used
    }

    fn request_head(&mut self, ts: u64, h: Head, mut anomalies: AnomalySet, out: &mut HttpOutput) {
        out.stats.requests += 1;
        self.req.seen_message = true;
        self.req.resync_scanned = 0;
        let http09 = h.version == (0, 9);
        let framing = if http09 {
            Framing::Empty
        } else {
            request_framing(&h, &mut anomalies)
        };
        if h.field_values(Field::Host).nth(1).is_some() {
            anomalies.insert(HttpAnomaly::DuplicateHost);
        }
        let is_connect = h.method().eq_ignore_ascii_case(b"CONNECT");
        let upgrade = h.field(Field::Upgrade).is_some();
        let h2_preface = h.method() == b"PRI" && h.target() == b"*" && h.version == (2, 0);
        let coding = Coding::from_header(h.field(Field::ContentEncoding));
        let mut txn = Txn::new(self.take_depth());
        txn.http09 = http09;
        txn.switch_requested = is_connect || upgrade;
        txn.resp_acked = self.resp_acked_by_client;
        txn.anomalies = anomalies;
        let start_ts = self.req.start_ts;
        let wire = h.wire_len;
        txn.request = Some(RequestPart {
            head: h,
            start_ts,
            end_ts: ts,
            wire_bytes: wire,
            body: BodyStats::default(),
        });
        self.push_txn(txn, out);
        if h2_preface {
            // HTTP/2 with prior knowledge: not HTTP/1 from here on.
            if let Some(t) = self.txns.back_mut() {
                t.anomalies.insert(HttpAnomaly::ProtocolSwitch);
                t.req_done = true;
            }
            out.stats.protocol_switches += 1;
            self.req.state = SideState::Tunnel;
            self.resp.state = SideState::Tunnel;
            return;
        }
        let mut content_anoms = AnomalySet::default();
        let content = Content::new(coding, self.cfg.content_limits(), &mut content_anoms);
        if let Some(t) = self.txns.back_mut() {
            t.anomalies.union(content_anoms);
        }
        let mut content = content;
        if let Framing::Length(n) = framing {
            content.reserve_for(n);
        }
        let reader = BodyReader::new(framing, self.cfg.max_chunk_line_bytes);
        self.req.state = SideState::Body(Box::new(BodyInProgress { reader, content }));
        if let SideState::Body(b) = &self.req.state {
            if b.reader.is_done() {
                self.finish_request_body(ts, false, out);
            }
        }
    }

    fn finish_request_body(&mut self, ts: u64, broken: bool, out: &mut HttpOutput) {
        let state = std::mem::replace(&mut self.req.state, SideState::Head);
        let SideState::Body(b) = state else {
            self.req.state = state;
            return;
        };
        let mut anomalies = AnomalySet::default();
        let wire = b.reader.wire_bytes();
        let stats = b.content.finish(&mut anomalies);
        out.stats.count_inflated(stats.inflated);
        let mut switch = false;
        if let Some(t) = self.txns.back_mut() {
            t.anomalies.union(anomalies);
            t.req_done = true;
            switch = t.switch_requested && !t.resp_done;
            if let Some(r) = &mut t.request {
                r.end_ts = ts;
                r.wire_bytes += wire;
                r.body = stats;
            }
        }
        if broken {
            self.req.lose_sync(HttpAnomaly::Resync, &mut out.stats);
        } else if switch {
            self.req.state = SideState::AwaitSwitch;
        }
    }

    fn request_gap(&mut self, ts: u64, len: u64, out: &mut HttpOutput) {
        self.req.stream_pos += len;
        match &mut self.req.state {
            SideState::Body(b) => {
                let mut anomalies = AnomalySet::default();
                let progress = b.reader.gap(len, &mut b.content, &mut anomalies);
                if let Some(t) = self.txns.back_mut() {
                    t.anomalies.union(anomalies);
                }
                match progress {
                    Progress::NeedMore => {}
                    Progress::Done => self.finish_request_body(ts, false, out),
                    // After an overrun the next request's start is in the gap too: its
                    // answer pairs as a response without a request.
                    Progress::Broken | Progress::Overrun => self.finish_request_body(ts, true, out),
                }
            }
            SideState::Head => {
                self.req.lose_sync(HttpAnomaly::ContentGap, &mut out.stats);
            }
            SideState::Resync => self.req.resync_at_boundary = false,
            SideState::AwaitSwitch => out.stats.held_bytes_dropped += len,
            SideState::Tunnel | SideState::NotHttp | SideState::Closed => {}
        }
    }

    fn request_end(&mut self, ts: u64) {
        if matches!(self.req.state, SideState::Head) && !self.req.buf.is_empty() {
            // The connection ended inside a head: report what there is.
            let buf = std::mem::take(&mut self.req.buf);
            let mut anomalies = std::mem::take(&mut self.req.pending);
            anomalies.insert(HttpAnomaly::TruncatedHead);
            if let Some(h) = head::parse_request(&buf, false, self.cfg.max_headers, &mut anomalies)
            {
                let mut scratch = HttpOutput::default();
                self.request_head(ts, h, anomalies, &mut scratch);
            }
        }
        if let SideState::Body(b) = &mut self.req.state {
            let mut anomalies = AnomalySet::default();
            b.reader.end_of_stream(&mut anomalies);
            if let Some(t) = self.txns.back_mut() {
                t.anomalies.union(anomalies);
            }
            let mut scratch = HttpOutput::default();
            self.finish_request_body(ts, false, &mut scratch);
        }
        if let SideState::AwaitSwitch = self.req.state {
            self.req.held.clear();
        }
        self.req.state = SideState::Closed;
    }

    // ----- response direction -----

    fn response_data(&mut self, ts: u64, mut data: &[u8], out: &mut HttpOutput) {
        while !data.is_empty() {
            let before = data.len();
            match &mut self.resp.state {
                SideState::Head => {
                    let used = self.response_head_bytes(ts, data, out);
                    data = &data[used..];
                }
                SideState::Body(b) => {
                    let mut anomalies = AnomalySet::default();
                    let (used, progress) = b.reader.feed(data, &mut b.content, &mut anomalies);
                    data = &data[used..];
                    if let Some(t) = self.txns.get_mut(self.resp_cursor) {
                        t.anomalies.union(anomalies);
                    }
                    match progress {
                        Progress::NeedMore => {}
                        Progress::Done => self.finish_response(ts, false, out),
                        Progress::Broken | Progress::Overrun => self.finish_response(ts, true, out),
                    }
                }
                SideState::Resync => {
                    let max = self.cfg.max_resync_bytes;
                    let (skip, give_up) = self.resp.resync(data, false, max, &mut out.stats);
                    data = &data[skip..];
                    if give_up {
                        self.give_up(Direction::ToClient, out);
                    }
                }
                SideState::AwaitSwitch
                | SideState::Tunnel
                | SideState::NotHttp
                | SideState::Closed => {
                    out.stats.unparsed_bytes += data.len() as u64;
                    data = &[];
                }
            }
            self.resp.stream_pos += (before - data.len()) as u64;
        }
    }

    fn response_head_bytes(&mut self, ts: u64, data: &[u8], out: &mut HttpOutput) -> usize {
        let max = (self.cfg.max_header_bytes, self.cfg.max_headers);
        let (skipped, used, buf) = match self.resp.read_head(ts, data, false, max, &mut out.stats) {
            HeadRead::Pending { used } => return used,
            HeadRead::Parsed { head } => {
                let used = head.wire_len as usize;
                let anomalies = std::mem::take(&mut self.resp.pending);
                self.response_head(ts, head, anomalies, out);
                self.resp.recycle(None);
                return used;
            }
            HeadRead::NotAMessage { skipped } => {
                // The answer to an HTTP/0.9 request has no head: it is all body, until close.
                let awaiting_09 = self.txns.get(self.resp_cursor).is_some_and(|t| t.http09);
                if awaiting_09 && self.resp.buf.is_empty() {
                    self.start_http09_response(ts, out);
                } else {
                    self.not_http_or_resync(Direction::ToClient, out);
                }
                return skipped;
            }
            HeadRead::Complete {
                skipped, used, buf, ..
            } => (skipped, used, buf),
        };
        let head_slice: &[u8] = buf.as_deref().unwrap_or(&data[skipped..skipped + used]);
        let mut anomalies = std::mem::take(&mut self.resp.pending);
        match head::parse_response(head_slice, self.cfg.max_headers, &mut anomalies) {
            Some(mut h) => {
                h.wire_len += skipped as u64;
                self.response_head(ts, h, anomalies, out);
            }
            None => {
                self.resp.pending = anomalies;
                self.not_http_or_resync(Direction::ToClient, out);
            }
        }
        self.resp.recycle(buf);
        skipped + used
    }

    /// The transaction the response side is working on, created response-only if the
    /// request was never seen.
    fn cursor_txn(&mut self, out: &mut HttpOutput) -> &mut Txn {
        if self.resp_cursor >= self.txns.len() {
            let mut t = Txn::new(self.take_depth());
            t.req_done = true;
            t.anomalies.insert(HttpAnomaly::ResponseWithoutRequest);
            self.push_txn(t, out);
            self.resp_cursor = self.txns.len() - 1;
        }
        let i = self.resp_cursor;
        &mut self.txns[i]
    }

    fn response_head(&mut self, ts: u64, h: Head, anomalies: AnomalySet, out: &mut HttpOutput) {
        if anomalies.contains(HttpAnomaly::Resync) {
            self.realign_after_resync(ts, self.resp.start_pos, out);
        }
        self.resp.seen_message = true;
        self.resp.resync_scanned = 0;
        let status = h.status();
        let start_ts = self.resp.start_ts;
        let (limits, max_line) = (self.cfg.content_limits(), self.cfg.max_chunk_line_bytes);
        let txn = self.cursor_txn(out);
        txn.anomalies.union(anomalies);
        if (100..200).contains(&status) && status != 101 {
            txn.informational.push(status);
            txn.interim_bytes += h.wire_len;
            return;
        }
        out.stats.responses += 1;
        let is_head = txn.is_head();
        let is_connect = txn.is_connect();
        let mut anomalies = AnomalySet::default();
        let switching = status == 101 || (is_connect && (200..300).contains(&status));
        let framing = if is_head || switching || status == 304 {
            Framing::Empty
        } else if status == 204 {
            if request_framing_len(&h) > 0 {
                anomalies.insert(HttpAnomaly::BodyNotAllowed);
            }
            Framing::Empty
        } else {
            response_framing(&h, &mut anomalies)
        };
        txn.anomalies.union(anomalies);
        let coding = Coding::from_header(h.field(Field::ContentEncoding));
        let wire = h.wire_len + txn.interim_bytes;
        txn.response = Some(ResponsePart {
            head: h,
            start_ts,
            end_ts: ts,
            wire_bytes: wire,
            body: BodyStats::default(),
        });
        let mut content_anoms = AnomalySet::default();
        let content = Content::new(coding, limits, &mut content_anoms);
        txn.anomalies.union(content_anoms);
        let mut content = content;
        if let Framing::Length(n) = framing {
            content.reserve_for(n);
        }
        let reader = BodyReader::new(framing, max_line);
        let done = reader.is_done();
        self.resp.state = SideState::Body(Box::new(BodyInProgress { reader, content }));
        if done {
            self.finish_response(ts, false, out);
        }
    }

    fn start_http09_response(&mut self, ts: u64, out: &mut HttpOutput) {
        out.stats.responses += 1;
        self.resp.seen_message = true;
        let txn = self.cursor_txn(out);
        txn.response = Some(ResponsePart {
            head: Head::http09_response(),
            start_ts: ts,
            end_ts: ts,
            wire_bytes: 0,
            body: BodyStats::default(),
        });
        let mut a = AnomalySet::default();
        let content = Content::new(Coding::Identity, self.cfg.content_limits(), &mut a);
        let reader = BodyReader::new(Framing::UntilClose, self.cfg.max_chunk_line_bytes);
        self.resp.state = SideState::Body(Box::new(BodyInProgress { reader, content }));
    }

    fn finish_response(&mut self, ts: u64, broken: bool, out: &mut HttpOutput) {
        let state = std::mem::replace(&mut self.resp.state, SideState::Head);
        let SideState::Body(b) = state else {
            self.resp.state = state;
            return;
        };
        let mut anomalies = AnomalySet::default();
        let wire = b.reader.wire_bytes();
        let stats = b.content.finish(&mut anomalies);
        out.stats.count_inflated(stats.inflated);
        let Some(t) = self.txns.get_mut(self.resp_cursor) else {
            return;
        };
        t.anomalies.union(anomalies);
        t.resp_done = true;
        let status = t.response.as_ref().map_or(0, |r| r.head.status());
        let switched = status == 101 || (t.is_connect() && (200..300).contains(&status));
        if let Some(r) = &mut t.response {
            r.end_ts = ts;
            r.wire_bytes += wire;
            r.body = stats;
        }
        let awaited_switch = t.switch_requested;
        if switched {
            t.anomalies.insert(HttpAnomaly::ProtocolSwitch);
        }
        self.resp_cursor += 1;
        if switched {
            out.stats.protocol_switches += 1;
            self.resp.state = SideState::Tunnel;
            if !matches!(self.req.state, SideState::Closed) {
                self.req.state = SideState::Tunnel;
            }
            out.stats.unparsed_bytes += self.req.held.len() as u64;
            self.req.held = Vec::new();
            return;
        }
        if awaited_switch && matches!(self.req.state, SideState::AwaitSwitch) {
            // Refused: the client's held bytes are HTTP again, and come before any
            // further response.
            self.req.state = SideState::Head;
            let held = std::mem::take(&mut self.req.held);
            if !held.is_empty() {
                self.request_data(ts, &held, out);
            }
        }
        if broken {
            self.resp.lose_sync(HttpAnomaly::Resync, &mut out.stats);
        }
    }

    fn response_gap(&mut self, ts: u64, len: u64, out: &mut HttpOutput) {
        self.resp.stream_pos += len;
        match &mut self.resp.state {
            SideState::Body(b) => {
                let mut anomalies = AnomalySet::default();
                let progress = b.reader.gap(len, &mut b.content, &mut anomalies);
                if let Some(t) = self.txns.get_mut(self.resp_cursor) {
                    t.anomalies.union(anomalies);
                }
                match progress {
                    Progress::NeedMore => {}
                    Progress::Done => self.finish_response(ts, false, out),
                    Progress::Broken => self.finish_response(ts, true, out),
                    Progress::Overrun => {
                        self.finish_response(ts, true, out);
                        self.resp.lost_start = true;
                    }
                }
            }
            SideState::Head => {
                self.resp.lose_sync(HttpAnomaly::ContentGap, &mut out.stats);
                self.resp.lost_start = true;
            }
            SideState::Resync => self.resp.resync_at_boundary = false,
            _ => {}
        }
    }

    /// After lost sync, the response found at stream offset `at` is paired with the request
    /// it answers, and the requests before that one are recorded as having lost their
    /// responses (`http_content_gap`, counted in `responses_lost`). A request's answer starts
    /// at or after what its client had acknowledged when sending it, and a client that waits
    /// for each answer sends its next request only after receiving the previous answer, so
    /// the response answers the first waiting request with the highest acknowledgment not
    /// past `at`. Without acknowledgments to go by (or none that fits), a gap that swallowed
    /// the start of a response means the response found is the next one's.
    fn realign_after_resync(&mut self, ts: u64, at: u64, out: &mut HttpOutput) {
        let lost_start = std::mem::take(&mut self.resp.lost_start);
        let first = self.resp_cursor;
        if first >= self.txns.len() {
            return;
        }
        let mut best: Option<(u64, usize)> = None;
        let mut all_known = true;
        for (i, t) in self.txns.iter().enumerate().skip(first) {
            match t.resp_acked {
                Some(a) if a <= at => {
                    if best.is_none_or(|(b, _)| a > b) {
                        best = Some((a, i));
                    }
                }
                Some(_) => {}
                None => all_known = false,
            }
        }
        let target = match best {
            Some((_, i)) if all_known => i,
            _ => first + usize::from(lost_start),
        };
        for _ in first..target.min(self.txns.len()) {
            self.lose_awaited_response(ts, out);
        }
    }

    /// The transaction waiting for a response will not get one (its start was lost in a
    /// gap): it keeps its request, is marked `http_content_gap`, and counts as lost.
    fn lose_awaited_response(&mut self, ts: u64, out: &mut HttpOutput) {
        let Some(t) = self.txns.get_mut(self.resp_cursor) else {
            return;
        };
        t.anomalies.insert(HttpAnomaly::ContentGap);
        t.resp_done = true;
        let awaited_switch = t.switch_requested;
        self.resp_cursor += 1;
        out.stats.responses_lost += 1;
        if awaited_switch && matches!(self.req.state, SideState::AwaitSwitch) {
            // The answer is unknown; the client's held bytes are read as HTTP, which
            // they are unless the switch was accepted (then the request side resyncs).
            self.req.state = SideState::Head;
            let held = std::mem::take(&mut self.req.held);
            if !held.is_empty() {
                self.request_data(ts, &held, out);
            }
        }
    }

    fn response_end(&mut self, ts: u64, out: &mut HttpOutput) {
        if std::mem::take(&mut self.resp.lost_start) {
            self.lose_awaited_response(ts, out);
        }
        if matches!(self.resp.state, SideState::Head) && !self.resp.buf.is_empty() {
            let buf = std::mem::take(&mut self.resp.buf);
            let mut anomalies = std::mem::take(&mut self.resp.pending);
            anomalies.insert(HttpAnomaly::TruncatedHead);
            if let Some(h) = head::parse_response(&buf, self.cfg.max_headers, &mut anomalies) {
                self.response_head(ts, h, anomalies, out);
            }
        }
        if let SideState::Body(b) = &mut self.resp.state {
            let mut anomalies = AnomalySet::default();
            b.reader.end_of_stream(&mut anomalies);
            if let Some(t) = self.txns.get_mut(self.resp_cursor) {
                t.anomalies.union(anomalies);
            }
            self.finish_response(ts, false, out);
        }
        if !matches!(self.resp.state, SideState::Tunnel) {
            self.resp.state = SideState::Closed;
        }
    }

    // ----- shared -----

    fn take_depth(&mut self) -> u32 {
        let d = self.next_depth;
        self.next_depth = self.next_depth.saturating_add(1);
        d
    }

    fn push_txn(&mut self, txn: Txn, out: &mut HttpOutput) {
        self.txns.push_back(txn);
        while self.txns.len() > self.cfg.max_pending_requests.max(1) {
            let Some(mut t) = self.txns.pop_front() else {
                break;
            };
            t.anomalies.insert(HttpAnomaly::TooManyPendingRequests);
            out.stats.pending_overflows += 1;
            out.stats.exchanges += 1;
            out.exchanges.push(t.into_exchange());
            self.resp_cursor = self.resp_cursor.saturating_sub(1);
        }
    }

    /// Emits finished transactions from the front of the queue, in order.
    fn emit_ready(&mut self, out: &mut HttpOutput) {
        let resp_dead = self.resp.is_dead();
        while let Some(t) = self.txns.front() {
            let req_finished = t.req_done || t.request.is_none();
            let resp_finished = t.resp_done || (resp_dead && req_finished && self.resp_cursor == 0);
            if !(req_finished && resp_finished) {
                break;
            }
            let Some(t) = self.txns.pop_front() else {
                break;
            };
            self.resp_cursor = self.resp_cursor.saturating_sub(1);
            out.stats.exchanges += 1;
            out.exchanges.push(t.into_exchange());
        }
    }

    /// Bytes that are not a message where one was expected: on a direction that never
    /// carried HTTP and whose peer is not HTTP either, give up; otherwise resync.
    fn not_http_or_resync(&mut self, dir: Direction, out: &mut HttpOutput) {
        let (side, other) = match dir {
            Direction::ToServer => (&mut self.req, &self.resp),
            Direction::ToClient => (&mut self.resp, &self.req),
        };
        let other_not_http = matches!(
            other.state,
            SideState::NotHttp | SideState::Resync | SideState::Closed
        ) && !other.seen_message;
        if !side.seen_message && other_not_http {
            self.give_up(Direction::ToServer, out);
            self.give_up(Direction::ToClient, out);
            return;
        }
        side.lose_sync(HttpAnomaly::NotHttp, &mut out.stats);
    }

    fn give_up(&mut self, dir: Direction, out: &mut HttpOutput) {
        let side = match dir {
            Direction::ToServer => &mut self.req,
            Direction::ToClient => &mut self.resp,
        };
        if !matches!(
            side.state,
            SideState::NotHttp | SideState::Closed | SideState::Tunnel
        ) {
            out.stats.not_http_directions += 1;
            side.state = SideState::NotHttp;
            side.buf = Vec::new();
        }
    }
}

/// Finds where a message starts after lost sync: at a line start (position 0 counts as one
/// when `at_line_start`), or at position 0 of the piece when a whole start line is there.
/// Senders write a head in a segment of its own more often than not, and a body of markup
/// or JSON seldom ends in a line break, so after a gap the next head usually begins a
/// segment rather than a line.
pub(super) fn resync_scan(data: &[u8], at_line_start: bool, is_request: bool) -> Option<usize> {
    let is_start = |p: usize| -> bool {
        let rest = &data[p..];
        if is_request {
            RESYNC_METHODS.iter().any(|m| rest.starts_with(m))
        } else {
            rest.starts_with(b"HTTP/1.")
        }
    };
    if is_start(0) && (at_line_start || is_whole_start_line(data, is_request)) {
        return Some(0);
    }
    let mut pos = 0;
    while let Some(off) = memchr::memchr(b'\n', &data[pos..]) {
        let p = pos + off + 1;
        if p < data.len() && is_start(p) {
            return Some(p);
        }
        pos = p;
        if pos >= data.len() {
            break;
        }
    }
    None
}

/// Whether `data` begins with a start line in full shape, for a message start that no line
/// break vouches for: `HTTP/1.x NNN` for a response; for a request, a method, a target that
/// starts like one (`/`, `*`, or a scheme), and an `HTTP/1.x` version closing the line when
/// the line ends within `data`.
fn is_whole_start_line(data: &[u8], is_request: bool) -> bool {
    if !is_request {
        return data.len() >= 12
            && data.starts_with(b"HTTP/1.")
            && data[7].is_ascii_digit()
            && data[8] == b' '
            && data[9..12].iter().all(u8::is_ascii_digit);
    }
    let Some(method) = RESYNC_METHODS.iter().find(|m| data.starts_with(m)) else {
        return false;
    };
    let line_end = memchr::memchr(b'\n', data);
    let line = &data[..line_end.unwrap_or(data.len())];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let target_starts = matches!(
        line.get(method.len()),
        Some(b'/' | b'*' | b'a'..=b'z' | b'A'..=b'Z')
    );
    let version_ends =
        line_end.is_none() || (line.len() >= 9 && line[line.len() - 9..].starts_with(b" HTTP/1."));
    target_starts && version_ends
}

/// Content-Length value(s) of a head, or `Err` when present but unusable.
fn content_length(h: &Head, anomalies: &mut AnomalySet) -> Option<Result<u64, ()>> {
    let mut found: Option<u64> = None;
    let mut any = false;
    for v in h.field_values(Field::ContentLength) {
        for part in v.split(|&b| b == b',') {
            any = true;
            let t = part.trim_ascii();
            // Servers keep lengths in a signed 64-bit offset: anything larger is invalid.
            let parsed = if !t.is_empty() && t.iter().all(u8::is_ascii_digit) {
                std::str::from_utf8(t)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .filter(|n| i64::try_from(*n).is_ok())
            } else {
                None
            };
            match (parsed, found) {
                (None, _) => {
                    anomalies.insert(HttpAnomaly::InvalidContentLength);
                    return Some(Err(()));
                }
                (Some(n), None) => found = Some(n),
                (Some(n), Some(f)) if n != f => {
                    anomalies.insert(HttpAnomaly::ConflictingContentLength);
                }
                _ => {}
            }
        }
    }
    if !any {
        return None;
    }
    found.map(Ok)
}

fn request_framing_len(h: &Head) -> u64 {
    let mut scratch = AnomalySet::default();
    match content_length(h, &mut scratch) {
        Some(Ok(n)) => n,
        _ => 0,
    }
}

/// Whether Transfer-Encoding is present, and whether `chunked` is its final coding.
fn transfer_encoding(h: &Head, anomalies: &mut AnomalySet) -> Option<bool> {
    let mut last: Option<&[u8]> = None;
    let mut chunked_count = 0;
    for v in h.field_values(Field::TransferEncoding) {
        for part in v.split(|&b| b == b',') {
            let t = part.trim_ascii();
            if t.is_empty() {
                continue;
            }
            if t.eq_ignore_ascii_case(b"chunked") {
                chunked_count += 1;
            }
            last = Some(t);
        }
    }
    let last = last?;
    let chunked = last.eq_ignore_ascii_case(b"chunked");
    if !chunked || chunked_count > 1 {
        anomalies.insert(HttpAnomaly::UnsupportedTransferEncoding);
    }
    Some(chunked)
}

/// RFC 9112 §6.3 for requests: TE wins over CL; an unusable TE or CL means no body.
fn request_framing(h: &Head, anomalies: &mut AnomalySet) -> Framing {
    let te = transfer_encoding(h, anomalies);
    let cl = content_length(h, anomalies);
    if te.is_some() && cl.is_some() {
        anomalies.insert(HttpAnomaly::ContentLengthWithTransferEncoding);
    }
    match (te, cl) {
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) => Framing::Empty,
        (None, Some(Ok(n))) => Framing::Length(n),
        (None, Some(Err(()))) | (None, None) => Framing::Empty,
    }
}

/// RFC 9112 §6.3 for responses: TE chunked, else CL, else until close.
fn response_framing(h: &Head, anomalies: &mut AnomalySet) -> Framing {
    let te = transfer_encoding(h, anomalies);
    let cl = content_length(h, anomalies);
    if te.is_some() && cl.is_some() {
        anomalies.insert(HttpAnomaly::ContentLengthWithTransferEncoding);
    }
    match (te, cl) {
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) => Framing::UntilClose,
        (None, Some(Ok(n))) => Framing::Length(n),
        (None, Some(Err(()))) | (None, None) => Framing::UntilClose,
    }
}
