//! Target `engine`: packets (pcap or the compact framing of [`crate::pcap`]) through the
//! whole [`Engine`]: decode, flow table, HTTP, record building with redaction.
//!
//! Checks: no panic; every record serializes to JSON and reads back equal, timestamps at the
//! written microsecond precision (the written shape is the contract with the analyzer);
//! `trans_depth >= 1`; the packet counters add up.

use crate::pcap::packets;
use apitap_proto::RequestRecord;
use apitap_sensor::config::SensorConfig;
use apitap_sensor::engine::Engine;
use apitap_sensor::record::{RecordBuilder, RecordOptions};
use apitap_sensor::redact::{RedactMode, Redactor};
use apitap_sensor::source::PacketRef;

fn check_records(engine: &mut Engine) -> usize {
    let n = engine.ctx.records.len();
    for rec in engine.ctx.records.drain(..) {
        let json = serde_json::to_string(&rec).expect("a record serializes");
        let mut back: RequestRecord = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("a written record does not read back: {e}: {json}"));
        back.extras = rec.extras.clone();
        // Timestamps are written with microseconds (apitap_proto::time).
        let mut rec = rec;
        for t in [&mut rec.timestamp, &mut rec.event.start, &mut rec.event.end] {
            *t -= *t % 1000;
        }
        if back != rec {
            let (a, b) = (format!("{rec:#?}"), format!("{back:#?}"));
            let diff: Vec<String> = a
                .lines()
                .zip(b.lines())
                .filter(|(x, y)| x != y)
                .take(8)
                .map(|(x, y)| format!("built {} / read back {}", x.trim(), y.trim()))
                .collect();
            panic!("record changed through JSON: {diff:?}\n{json}");
        }
        assert!(rec.apitap.trans_depth >= 1, "trans_depth 0: {json}");
    }
    n
}

pub fn run(data: &[u8]) {
    let pkts = packets(data);
    if pkts.is_empty() {
        return;
    }
    let mut cfg = SensorConfig::default();
    // Small limits so eviction and memory caps are reached by small inputs.
    cfg.flow.max_flows = 64;
    cfg.flow.memcap_bytes = 1 << 20;
    cfg.flow.max_ooo_bytes_per_direction = 64 * 1024;
    cfg.flow.max_ooo_segments_per_direction = 64;
    let builder = RecordBuilder {
        redactor: Redactor::new(RedactMode::Hash, [0x42; 32]),
        options: RecordOptions {
            write_bodies: true,
            with_extras: true,
            written_body_bytes: 256,
        },
    };
    let mut engine = Engine::new(&cfg, builder);
    let mut records = 0usize;
    for p in &pkts {
        engine.packet(&PacketRef {
            ts_ns: p.ts_ns,
            linktype: p.linktype,
            data: p.data,
            wire_len: p.wire_len,
        });
        records += check_records(&mut engine);
    }
    engine.tick(engine.now_ns().saturating_add(1_000_000_000));
    records += check_records(&mut engine);
    engine.finish();
    records += check_records(&mut engine);
    assert_eq!(engine.counters.packets, pkts.len() as u64, "packet counter");
    assert_eq!(
        engine.ctx.records_built, records as u64,
        "records built vs taken"
    );
    assert!(engine.counters.tcp_segments <= engine.counters.packets);
}
