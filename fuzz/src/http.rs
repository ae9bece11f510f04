//! Target `http`: one connection's request and response streams through [`HttpConnection`].
//!
//! Input: `[config: u8][split: u16 LE][schedule seed: u8][streams...]`. The streams part is
//! split at `split % (len + 1)` into the client's bytes and the server's bytes. The schedule
//! (which side speaks next, how the bytes are cut, gaps, repeated chunks, FINs) comes from a
//! PRNG seeded by the seed byte and the stream lengths only, so mutating stream content keeps
//! the schedule and mutating the seed reshuffles it.
//!
//! Checks: no panic; after every call `memory_bytes()` stays under [`memory_bound`] of the
//! config (a leak that grows with the input trips it: repeated chunks, enabled by bit 7 of
//! the seed, feed up to 1 MiB);
//! exchanges have a depth >= 1 and the `exchanges` counter matches what was emitted; a second
//! `on_close` emits nothing.

use crate::rng::Rng;
use apitap_sensor::flow::Direction;
use apitap_sensor::http::{HttpConfig, HttpConnection, HttpOutput};
use std::sync::Arc;

/// Largest piece handed to `on_data` at once (what the flow table delivers is at most one
/// reassembled segment run; 64 KiB covers any single segment).
pub const MAX_CHUNK: usize = 65_536;
/// Most bytes fed by repeating chunks, per run.
pub const MAX_AMPLIFIED: usize = 1 << 20;
/// Most calls per run.
const MAX_STEPS: usize = 20_000;

pub fn config(variant: u8) -> HttpConfig {
    match variant % 3 {
        0 => HttpConfig::default(),
        1 => HttpConfig {
            max_header_bytes: 256,
            max_headers: 8,
            max_pending_requests: 3,
            body_capture_bytes: 64,
            max_decompressed_bytes: 4096,
            whole_inflate_bytes: 0,
            max_chunk_line_bytes: 64,
            max_resync_bytes: 512,
        },
        _ => HttpConfig {
            max_header_bytes: 4096,
            max_headers: 32,
            max_pending_requests: 8,
            body_capture_bytes: 1024,
            max_decompressed_bytes: 1 << 20,
            whole_inflate_bytes: 512,
            max_chunk_line_bytes: 256,
            max_resync_bytes: 64 * 1024,
        },
    }
}

/// What one connection may hold at most, by construction of the limits: per direction a head
/// buffer (a head under the limit plus the chunk that overran it, at most doubled by `Vec`
/// growth), the bytes held during a CONNECT/Upgrade, and per pending request the
/// transaction and both body prefixes (doubled for growth), and per direction the compressed
/// bytes of a body held for a whole decode (doubled for growth).
pub fn memory_bound(c: &HttpConfig) -> usize {
    let txn = 1024;
    2 * 2 * (c.max_header_bytes + c.max_chunk_line_bytes + MAX_CHUNK)
        + 2 * c.max_header_bytes
        + (c.max_pending_requests + 2) * (txn + 2 * 2 * c.body_capture_bytes)
        + 2 * 2 * c.whole_inflate_bytes
}

struct Harness {
    conn: HttpConnection,
    out: HttpOutput,
    bound: usize,
    exchanges: u64,
}

impl Harness {
    fn after(&mut self, what: &str) {
        let m = self.conn.memory_bytes();
        assert!(
            m <= self.bound,
            "memory_bytes() = {m} over the bound {} after {what}",
            self.bound
        );
        for ex in self.out.exchanges.drain(..) {
            assert!(ex.trans_depth >= 1, "exchange depth {}", ex.trans_depth);
            self.exchanges += 1;
        }
        assert_eq!(
            self.out.stats.exchanges, self.exchanges,
            "exchanges counted vs emitted"
        );
    }
}

pub fn run(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let cfg = config(data[0]);
    let split_raw = usize::from(u16::from_le_bytes([data[1], data[2]]));
    let streams = &data[4..];
    let split = split_raw % (streams.len() + 1);
    let (req, resp) = streams.split_at(split);
    let mut rng =
        Rng::new(u64::from(data[3]) | (req.len() as u64) << 8 | (resp.len() as u64) << 32);

    let bound = memory_bound(&cfg);
    let mut h = Harness {
        conn: HttpConnection::new(Arc::new(cfg)),
        out: HttpOutput::default(),
        bound,
        exchanges: 0,
    };
    let streams = [req, resp];
    let dirs = [Direction::ToServer, Direction::ToClient];
    let mut pos = [0usize; 2];
    let mut fin = [false; 2];
    let mut amplified = 0usize;
    let mut ts: u64 = 1_700_000_000_000_000_000;
    let mut side = 0usize;
    // Repeated chunks are costly: only seeds with bit 7 set use them.
    let amplify = data[3] & 0x80 != 0;

    for _ in 0..MAX_STEPS {
        let open: Vec<usize> = (0..2).filter(|&s| !fin[s]).collect();
        if open.is_empty() {
            break;
        }
        // Mostly alternate like a request/response exchange, sometimes not.
        if rng.chance(3) || fin[side] {
            side = open[rng.below(open.len() as u64) as usize];
        }
        let s = side;
        let remaining = streams[s].len() - pos[s];
        ts += rng.range(0, 2_000_000);
        match rng.below(16) {
            0..=9 if remaining > 0 => {
                let len = match rng.below(4) {
                    0 => 1,
                    1 => rng.range(1, 16) as usize,
                    2 => rng.range(1, 600) as usize,
                    _ => remaining,
                }
                .min(remaining)
                .min(MAX_CHUNK);
                let chunk = &streams[s][pos[s]..pos[s] + len];
                pos[s] += len;
                h.conn.on_data(dirs[s], ts, chunk, &mut h.out);
                h.after("on_data");
            }
            10 => {
                // A hole: skip some of the stream (or lose bytes that are not in the input).
                let skip = (rng.range(1, 64) as usize).min(remaining);
                let len = match rng.below(4) {
                    0 => rng.range(1, 1 << 20),
                    1 => rng.range(1, u64::from(u32::MAX)),
                    _ => skip.max(1) as u64,
                };
                pos[s] += skip;
                h.conn.on_gap(dirs[s], ts, len, &mut h.out);
                h.after("on_gap");
            }
            11 if amplify && remaining > 0 && amplified < MAX_AMPLIFIED => {
                // The same chunk many times: long headers, huge bodies, endless pipelines.
                let len = (rng.range(1, 256) as usize).min(remaining);
                let chunk = &streams[s][pos[s]..pos[s] + len];
                pos[s] += len;
                let times = rng.range(2, 4096) as usize;
                for _ in 0..times {
                    if amplified >= MAX_AMPLIFIED {
                        break;
                    }
                    amplified += len;
                    h.conn.on_data(dirs[s], ts, chunk, &mut h.out);
                    h.after("on_data (repeated)");
                }
            }
            13 => {
                // The peer's acknowledgment: near what it was given, or anywhere.
                let offset = match rng.below(3) {
                    0 => rng.range(0, u64::from(u32::MAX)),
                    _ => pos[1 - s] as u64 + rng.range(0, 64),
                };
                h.conn.on_ack(dirs[1 - s], offset);
                h.after("on_ack");
            }
            12 if remaining == 0 || rng.chance(8) => {
                fin[s] = true;
                h.conn.on_fin(dirs[s], ts, &mut h.out);
                h.after("on_fin");
            }
            _ if remaining > 0 => {
                let len = remaining.min(MAX_CHUNK);
                let chunk = &streams[s][pos[s]..pos[s] + len];
                pos[s] += len;
                h.conn.on_data(dirs[s], ts, chunk, &mut h.out);
                h.after("on_data (rest)");
            }
            _ => {
                if remaining == 0 && rng.chance(2) {
                    fin[s] = true;
                    h.conn.on_fin(dirs[s], ts, &mut h.out);
                    h.after("on_fin");
                }
            }
        }
        let _ = h.conn.wants_data();
    }
    h.conn.on_close(ts + 1, &mut h.out);
    h.after("on_close");
    // Everything is flushed at close: nothing pending may be left behind.
    h.conn.on_close(ts + 2, &mut h.out);
    assert!(
        h.out.exchanges.is_empty(),
        "a second on_close emitted exchanges"
    );
}
