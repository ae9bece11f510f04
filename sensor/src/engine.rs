//! The single-threaded core of the capture thread: packet → decode → flow table →
//! HTTP → records. Owns no I/O; the pipeline feeds it packets and takes its records.

use crate::config::SensorConfig;
use crate::decode::{Decoded, Decoder};
use crate::flow::{CloseReason, Direction, FlowInfo, FlowTable, StreamAnomaly, StreamSink};
use crate::http::{HttpConfig, HttpConnection, HttpOutput};
use crate::record::RecordBuilder;
use crate::redact::LastAuthorization;
use crate::source::PacketRef;
use apitap_proto::RequestRecord;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How often (packet time) idle flows are expired.
const EXPIRE_EVERY_NS: u64 = 1_000_000_000;

/// What the flows' sinks share: the HTTP output, the record builder and its results.
pub struct EngineCtx {
    http_cfg: Arc<HttpConfig>,
    http: HttpOutput,
    builder: RecordBuilder,
    /// Records built and not yet taken by the pipeline.
    pub records: Vec<RequestRecord>,
    /// Anomalies by name, over all records.
    pub anomalies: BTreeMap<&'static str, u64>,
    pub records_built: u64,
}

/// Per-flow application state: the HTTP parser, stream anomalies not yet attached to a
/// record, and the connection's last credentials (most requests resend them).
pub struct HttpFlow {
    conn: HttpConnection,
    stream_anomalies: Vec<&'static str>,
    last_authorization: LastAuthorization,
}

impl HttpFlow {
    fn emit(&mut self, ctx: &mut EngineCtx, info: &FlowInfo) {
        if ctx.http.exchanges.is_empty() {
            return;
        }
        for ex in ctx.http.exchanges.drain(..) {
            let rec = ctx.builder.build(
                info,
                &ex,
                &self.stream_anomalies,
                &mut self.last_authorization,
            );
            for a in ex.anomalies.iter() {
                *ctx.anomalies.entry(a.as_str()).or_default() += 1;
            }
            ctx.records_built += 1;
            ctx.records.push(rec);
        }
        self.stream_anomalies.clear();
    }
}

impl StreamSink for HttpFlow {
    type Ctx = EngineCtx;

    fn open(ctx: &mut EngineCtx, _info: &FlowInfo) -> Self {
        HttpFlow {
            conn: HttpConnection::new(ctx.http_cfg.clone()),
            stream_anomalies: Vec::new(),
            last_authorization: LastAuthorization::default(),
        }
    }

    fn on_data(
        &mut self,
        ctx: &mut EngineCtx,
        info: &FlowInfo,
        dir: Direction,
        ts: u64,
        data: &[u8],
    ) {
        self.conn.on_data(dir, ts, data, &mut ctx.http);
        self.emit(ctx, info);
    }

    fn on_ack(&mut self, _ctx: &mut EngineCtx, dir: Direction, offset: u64) {
        self.conn.on_ack(dir, offset);
    }

    fn on_gap(&mut self, ctx: &mut EngineCtx, info: &FlowInfo, dir: Direction, ts: u64, len: u64) {
        self.conn.on_gap(dir, ts, len, &mut ctx.http);
        self.emit(ctx, info);
    }

    fn on_anomaly(
        &mut self,
        ctx: &mut EngineCtx,
        _info: &FlowInfo,
        _dir: Direction,
        _ts: u64,
        anomaly: StreamAnomaly,
    ) {
        *ctx.anomalies.entry(anomaly.as_str()).or_default() += 1;
        if !self.stream_anomalies.contains(&anomaly.as_str()) {
            self.stream_anomalies.push(anomaly.as_str());
        }
    }

    fn on_fin(&mut self, ctx: &mut EngineCtx, info: &FlowInfo, dir: Direction, ts: u64) {
        self.conn.on_fin(dir, ts, &mut ctx.http);
        self.emit(ctx, info);
    }

    fn on_close(&mut self, ctx: &mut EngineCtx, info: &FlowInfo, ts: u64, _reason: CloseReason) {
        self.conn.on_close(ts, &mut ctx.http);
        self.emit(ctx, info);
    }

    fn wants_data(&self) -> bool {
        self.conn.wants_data()
    }

    fn memory_bytes(&self) -> usize {
        self.conn.memory_bytes() + self.last_authorization.memory_bytes()
    }
}

/// Packet counters of the capture thread.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PacketCounters {
    pub packets: u64,
    /// Bytes on the wire.
    pub bytes: u64,
    /// Bytes captured (after the snap length).
    pub captured_bytes: u64,
    pub tcp_segments: u64,
    /// Packets whose timestamp went backwards (kept, but they do not move the clock).
    pub out_of_order_timestamps: u64,
}

pub struct Engine {
    decoder: Decoder,
    flows: FlowTable<HttpFlow>,
    pub ctx: EngineCtx,
    pub counters: PacketCounters,
    last_expire_ns: u64,
    now_ns: u64,
}

impl Engine {
    pub fn new(cfg: &SensorConfig, builder: RecordBuilder) -> Engine {
        Engine {
            decoder: Decoder::new(cfg.decode.clone()),
            flows: FlowTable::new(cfg.flow.clone()),
            ctx: EngineCtx {
                http_cfg: Arc::new(cfg.http.clone()),
                http: HttpOutput::default(),
                builder,
                records: Vec::new(),
                anomalies: BTreeMap::new(),
                records_built: 0,
            },
            counters: PacketCounters::default(),
            last_expire_ns: 0,
            now_ns: 0,
        }
    }

    pub fn packet(&mut self, p: &PacketRef<'_>) {
        self.counters.packets += 1;
        self.counters.bytes += u64::from(p.wire_len);
        self.counters.captured_bytes += p.data.len() as u64;
        if p.ts_ns < self.now_ns {
            self.counters.out_of_order_timestamps += 1;
        } else {
            self.now_ns = p.ts_ns;
        }
        if let Decoded::Tcp(seg) = self.decoder.decode(p.linktype, p.ts_ns, p.data) {
            self.counters.tcp_segments += 1;
            self.flows.process(&seg, p.ts_ns, &mut self.ctx);
        }
        if self.now_ns >= self.last_expire_ns.saturating_add(EXPIRE_EVERY_NS) {
            self.flows.expire(self.now_ns, &mut self.ctx);
            self.last_expire_ns = self.now_ns;
        }
    }

    /// Packet time moved on without a packet (live capture idle): expire by it.
    pub fn tick(&mut self, now_ns: u64) {
        if now_ns > self.now_ns {
            self.now_ns = now_ns;
            self.flows.expire(now_ns, &mut self.ctx);
            self.last_expire_ns = now_ns;
        }
    }

    /// End of input: close every flow.
    pub fn finish(&mut self) {
        self.flows.flush_all(self.now_ns, &mut self.ctx);
    }

    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    pub fn flows(&self) -> &FlowTable<HttpFlow> {
        &self.flows
    }

    pub fn http_stats(&self) -> &crate::http::HttpStats {
        &self.ctx.http.stats
    }
}
