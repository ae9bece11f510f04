//! Message content after framing: counts body bytes, decodes gzip/deflate under the bomb
//! limit, and keeps a bounded prefix of the decoded body for the analyzers.
//!
//! A compressed body is decoded one of two ways, with the same figures either way:
//! - **whole**: a body of at most `whole_inflate_bytes` compressed bytes (API answers
//!   mostly are) is held until it ends and decoded in one libdeflate call, which is about a
//!   third faster than streaming for bodies of a few KiB (its Huffman tables are built
//!   faster and it keeps no window);
//! - **streamed**: larger bodies, and any held body libdeflate does not take whole (corrupt,
//!   truncated, cut by a gap, over the output room), go through zlib-rs piece by piece, so
//!   what was decodable before the damage still counts.

use super::anomaly::{AnomalySet, HttpAnomaly};
use flate2::{Decompress, FlushDecompress, Status};
use std::cell::RefCell;

/// What one message body amounted to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyStats {
    /// Body bytes after de-chunking (gap bytes included: the framing says they were sent).
    pub bytes: u64,
    /// Bytes after de-chunking and decompression.
    pub decoded_bytes: u64,
    /// The first `body_capture_bytes` of the decoded body.
    pub prefix: Vec<u8>,
    /// How a compressed body was decoded (for the counters).
    pub inflated: Inflated,
}

/// How a body's content coding was undone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Inflated {
    /// Not compressed (or an unsupported coding, counted as-is).
    #[default]
    No,
    /// Held and decoded in one call.
    Whole,
    /// Decoded piece by piece.
    Streamed,
}

/// The limits one body is decoded under (from [`super::HttpConfig`]).
#[derive(Debug, Clone, Copy)]
pub struct ContentLimits {
    /// Decoded bytes kept as the prefix.
    pub prefix_cap: usize,
    /// Decoded bytes after which decoding stops (the bomb limit).
    pub max_decoded: u64,
    /// Compressed bodies up to this size are held and decoded whole (0: always stream).
    pub whole_inflate_bytes: usize,
}

/// Receives decoded bytes: counts them, keeps the prefix, enforces the limit.
struct Collector {
    decoded: u64,
    prefix: Vec<u8>,
    prefix_cap: usize,
    limit: u64,
    limit_hit: bool,
}

impl Collector {
    fn take(&mut self, buf: &[u8]) {
        let room = self.limit.saturating_sub(self.decoded);
        let n = (buf.len() as u64).min(room) as usize;
        if n < buf.len() {
            self.limit_hit = true;
        }
        self.decoded += n as u64;
        if self.prefix.len() < self.prefix_cap {
            let room = self.prefix_cap - self.prefix.len();
            let keep = room.min(n);
            if self.prefix.capacity() - self.prefix.len() < keep {
                // Double, but never past the cap (the prefix's capacity stays within it).
                self.prefix
                    .reserve_exact(keep.max(self.prefix.len()).min(room));
            }
            self.prefix.extend_from_slice(&buf[..keep]);
        }
    }

    /// Accounts for `n` bytes the inflater appended to `prefix` itself: the same limit
    /// and prefix cap as [`Collector::take`].
    fn took_in_place(&mut self, n: usize) {
        let room = self.limit.saturating_sub(self.decoded);
        let counted = (n as u64).min(room);
        if counted < n as u64 {
            self.limit_hit = true;
        }
        self.decoded += counted;
        let keep_to = self.prefix.len() - n + (counted as usize);
        self.prefix.truncate(keep_to.min(self.prefix_cap));
    }
}

/// Which inflater a coding needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InflateKind {
    Zlib,
    Raw,
}

/// Longest gzip header accepted (FEXTRA, FNAME and FCOMMENT included).
const MAX_GZIP_HEADER: usize = 4096;

/// Length of the gzip member header at the start of `b` (RFC 1952 §2.3): `Ok(None)` when
/// more bytes are needed, `Err` when it is not gzip. The member's deflate data follows it;
/// its CRC is not checked (apitap counts, it does not verify).
fn gzip_header_len(b: &[u8]) -> Result<Option<usize>, ()> {
    if b.len() < 10 {
        return if b.iter().zip([0x1f, 0x8b, 8]).all(|(x, y)| *x == y) {
            Ok(None)
        } else {
            Err(())
        };
    }
    if b[..3] != [0x1f, 0x8b, 8] {
        return Err(());
    }
    let flags = b[3];
    let mut pos = 10usize;
    if flags & 0x04 != 0 {
        let Some(x) = b.get(pos..pos + 2) else {
            return Ok(None);
        };
        pos += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
    }
    for bit in [0x08, 0x10] {
        if flags & bit != 0 {
            match b.get(pos..).and_then(|rest| memchr::memchr(0, rest)) {
                Some(z) => pos += z + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 0x02 != 0 {
        pos += 2;
    }
    Ok((b.len() >= pos).then_some(pos))
}

/// Inflaters kept per thread for reuse: a new one allocates and clears tens of KiB of
/// state, which would otherwise happen for every compressed body.
const POOLED_INFLATERS: usize = 32;
/// Scratch output of one inflate call.
const INFLATE_CHUNK: usize = 32 * 1024;
/// Spare prefix capacity below which the prefix is grown before inflating into it.
const MIN_SPARE: usize = 4 * 1024;

/// Most decoded bytes one whole decode may produce; a body that inflates to more is
/// streamed instead (a bound on the per-thread output buffer, not on what is counted).
const WHOLE_OUTPUT_MAX: usize = 1 << 20;

thread_local! {
    static POOL: RefCell<Vec<(InflateKind, Decompress)>> = const { RefCell::new(Vec::new()) };
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// libdeflate's decompressor and the output buffer of whole decodes (grown on demand
    /// up to [`WHOLE_OUTPUT_MAX`]).
    static WHOLE: RefCell<Option<(libdeflater::Decompressor, Vec<u8>)>> = const { RefCell::new(None) };
}

/// Which inflater the first bytes of a `deflate` body need: zlib-wrapped (RFC 1950 header
/// check) or raw deflate (what some servers send instead).
fn deflate_kind(head: &[u8]) -> InflateKind {
    let zlib = head.len() >= 2
        && (head[0] & 0x0f) == 8
        && u16::from_be_bytes([head[0], head[1]]).is_multiple_of(31);
    if zlib {
        InflateKind::Zlib
    } else {
        InflateKind::Raw
    }
}

/// Decodes a complete held body in one libdeflate call into `c`; false (with `c`
/// untouched) when libdeflate cannot take it whole: not a complete valid stream, or more
/// output than the room under the limit and [`WHOLE_OUTPUT_MAX`].
fn inflate_whole(coding: Coding, held: &[u8], c: &mut Collector) -> bool {
    let (kind, stream) = match coding {
        Coding::Gzip => match gzip_header_len(held) {
            Ok(Some(n)) => (InflateKind::Raw, &held[n..]),
            _ => return false,
        },
        Coding::Deflate if held.len() >= 2 => (deflate_kind(held), held),
        _ => return false,
    };
    if let (Coding::Gzip, Some(isize)) = (coding, stream.last_chunk::<4>()) {
        // ISIZE (decoded length mod 2^32): skip a decode that would not fit anyway.
        if u32::from_le_bytes(*isize) as usize > WHOLE_OUTPUT_MAX {
            return false;
        }
    }
    let room = usize::try_from(c.limit.saturating_sub(c.decoded))
        .unwrap_or(usize::MAX)
        .min(WHOLE_OUTPUT_MAX);
    WHOLE.with(|w| {
        let mut w = w.borrow_mut();
        let (dec, out) = w.get_or_insert_with(|| (libdeflater::Decompressor::new(), Vec::new()));
        if out.len() < room {
            out.resize(room, 0);
        }
        let result = match kind {
            InflateKind::Raw => dec.deflate_decompress(stream, &mut out[..room]),
            InflateKind::Zlib => dec.zlib_decompress(stream, &mut out[..room]),
        };
        match result {
            Ok(n) => {
                c.take(&out[..n]);
                true
            }
            Err(_) => false,
        }
    })
}

fn take_inflater(kind: InflateKind) -> Decompress {
    // The most recently returned one: its state and window are the likeliest to be cached.
    let pooled = POOL.with(|p| {
        let mut p = p.borrow_mut();
        let i = p.iter().rposition(|(k, _)| *k == kind)?;
        Some(p.swap_remove(i).1)
    });
    pooled.unwrap_or_else(|| Decompress::new(kind == InflateKind::Zlib))
}

fn return_inflater(kind: InflateKind, mut d: Decompress) {
    d.reset(kind == InflateKind::Zlib);
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOLED_INFLATERS {
            p.push((kind, d));
        }
    });
}

struct Inflater {
    kind: InflateKind,
    d: Decompress,
    /// The compressed stream ended (bytes after it are not decoded).
    ended: bool,
}

impl Inflater {
    /// Inflates `input` into the collector; `Err` on a corrupt stream or the limit.
    /// While the prefix has room the output goes straight into it; after that into a
    /// per-thread scratch chunk that is only counted.
    fn feed(&mut self, mut input: &[u8], c: &mut Collector) -> Result<(), ()> {
        SCRATCH.with(|s| {
            let mut buf = s.borrow_mut();
            loop {
                if self.ended {
                    return Ok(());
                }
                let (in0, out0) = (self.d.total_in(), self.d.total_out());
                let room = c.prefix_cap.saturating_sub(c.prefix.len());
                let (status, produced, chunk) = if room > 0 {
                    // Grow by at most the room left, so the prefix never exceeds its cap.
                    let chunk = room.min(INFLATE_CHUNK);
                    if c.prefix.capacity() - c.prefix.len() < chunk.min(MIN_SPARE) {
                        c.prefix.reserve_exact(chunk);
                    }
                    let spare = c.prefix.capacity() - c.prefix.len();
                    let status = self
                        .d
                        .decompress_vec(input, &mut c.prefix, FlushDecompress::None)
                        .map_err(|_| ())?;
                    let produced = usize::try_from(self.d.total_out() - out0).unwrap_or(0);
                    c.took_in_place(produced);
                    (status, produced, spare)
                } else {
                    if buf.len() < INFLATE_CHUNK {
                        buf.resize(INFLATE_CHUNK, 0);
                    }
                    let status = self
                        .d
                        .decompress(input, &mut buf[..], FlushDecompress::None)
                        .map_err(|_| ())?;
                    let produced = usize::try_from(self.d.total_out() - out0).unwrap_or(0);
                    c.take(&buf[..produced.min(buf.len())]);
                    (status, produced, buf.len())
                };
                if c.limit_hit {
                    return Err(());
                }
                let used = usize::try_from(self.d.total_in() - in0).unwrap_or(input.len());
                input = input.get(used..).unwrap_or_default();
                if status == Status::StreamEnd {
                    self.ended = true;
                }
                // More to do while input remains or the output chunk came back full.
                if (input.is_empty() && produced < chunk) || (used == 0 && produced == 0) {
                    return Ok(());
                }
            }
        })
    }
}

enum Mode {
    Identity,
    /// A compressed body held whole (up to `whole_inflate_bytes`), decoded when it ends.
    Held(Coding, Vec<u8>),
    /// Decoded whole.
    Whole,
    Inflate(Inflater),
    /// Deflate whose first two bytes have not arrived yet (zlib-wrapped or raw is decided
    /// on them).
    DeflatePending(Vec<u8>),
    /// A gzip member header being read; raw deflate follows it.
    GzipHeader(Vec<u8>),
    /// Decoding stopped (error or limit): only wire bytes are counted from here on.
    Stopped,
}

/// Content codings apitap decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Deflate,
    /// Anything else: counted as-is.
    Other,
}

impl Coding {
    pub fn from_header(value: Option<&[u8]>) -> Coding {
        let Some(v) = value else {
            return Coding::Identity;
        };
        let v = v.trim_ascii();
        if v.is_empty() || v.eq_ignore_ascii_case(b"identity") {
            Coding::Identity
        } else if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") {
            Coding::Gzip
        } else if v.eq_ignore_ascii_case(b"deflate") {
            Coding::Deflate
        } else {
            Coding::Other
        }
    }
}

/// Streams one body's content through the right decoder.
pub struct Content {
    bytes: u64,
    mode: Mode,
    c: Collector,
    whole_max: usize,
    /// Some bytes went through the streaming inflater.
    streamed: bool,
}

/// The streaming decoder's start state for a compressed coding.
fn streaming_start(coding: Coding) -> Mode {
    match coding {
        Coding::Gzip => Mode::GzipHeader(Vec::new()),
        Coding::Deflate => Mode::DeflatePending(Vec::new()),
        Coding::Identity | Coding::Other => Mode::Identity,
    }
}

impl Content {
    pub fn new(coding: Coding, limits: ContentLimits, anomalies: &mut AnomalySet) -> Content {
        let c = Collector {
            decoded: 0,
            prefix: Vec::new(),
            prefix_cap: limits.prefix_cap,
            limit: limits.max_decoded,
            limit_hit: false,
        };
        let mode = match coding {
            Coding::Identity => Mode::Identity,
            Coding::Gzip | Coding::Deflate if limits.whole_inflate_bytes > 0 => {
                Mode::Held(coding, Vec::new())
            }
            Coding::Gzip | Coding::Deflate => streaming_start(coding),
            Coding::Other => {
                anomalies.insert(HttpAnomaly::UnsupportedContentEncoding);
                Mode::Identity
            }
        };
        Content {
            bytes: 0,
            mode,
            c,
            whole_max: limits.whole_inflate_bytes,
            streamed: false,
        }
    }

    /// Heap bytes this body holds (prefix and held compressed bytes).
    pub fn memory_bytes(&self) -> usize {
        let held = match &self.mode {
            Mode::Held(_, h) | Mode::GzipHeader(h) | Mode::DeflatePending(h) => h.capacity(),
            _ => 0,
        };
        self.c.prefix.capacity() + held
    }

    /// Gives up holding: the held bytes go through the streaming inflater.
    fn stream_held(&mut self, anomalies: &mut AnomalySet) {
        if let Mode::Held(coding, held) = &mut self.mode {
            let (coding, held) = (*coding, std::mem::take(held));
            self.mode = streaming_start(coding);
            self.feed_streaming(&held, anomalies);
        }
    }

    /// Sizes the prefix buffer for a body of about `wire_len` bytes, so it is not grown
    /// (and copied) piece by piece. Compressed bodies are assumed to expand about 4×.
    pub fn reserve_for(&mut self, wire_len: u64) {
        if let Mode::Held(_, held) = &mut self.mode {
            let want = usize::try_from(wire_len).map_or(0, |n| n.min(self.whole_max));
            held.reserve_exact(want);
        }
        let factor = if matches!(self.mode, Mode::Identity) {
            1
        } else {
            4
        };
        let want = usize::try_from(wire_len.saturating_mul(factor)).unwrap_or(usize::MAX);
        let want = want.min(self.c.prefix_cap);
        self.c
            .prefix
            .reserve_exact(want.saturating_sub(self.c.prefix.len()));
    }

    /// De-chunked body bytes.
    pub fn feed(&mut self, data: &[u8], anomalies: &mut AnomalySet) {
        self.bytes += data.len() as u64;
        if let Mode::Held(_, held) = &mut self.mode {
            if held.len() + data.len() <= self.whole_max {
                held.extend_from_slice(data);
                return;
            }
            self.stream_held(anomalies);
        }
        self.feed_streaming(data, anomalies);
    }

    fn feed_streaming(&mut self, data: &[u8], anomalies: &mut AnomalySet) {
        if !matches!(self.mode, Mode::Identity | Mode::Stopped) {
            self.streamed = true;
        }
        let ok = match &mut self.mode {
            Mode::Identity => {
                self.c.take(data);
                true
            }
            // (Held never reaches here: `feed` and `stream_held` release it first.)
            Mode::Stopped | Mode::Whole | Mode::Held(..) => true,
            Mode::Inflate(inf) => inf.feed(data, &mut self.c).is_ok(),
            Mode::GzipHeader(head) => {
                let have = head.len();
                head.extend_from_slice(&data[..data.len().min(MAX_GZIP_HEADER)]);
                match gzip_header_len(head) {
                    Ok(Some(n)) => {
                        // The header ends inside `data`: inflate the rest of `data` directly.
                        let rest = data.get(n.saturating_sub(have)..).unwrap_or_default();
                        let mut inf = Inflater {
                            kind: InflateKind::Raw,
                            d: take_inflater(InflateKind::Raw),
                            ended: false,
                        };
                        let ok = inf.feed(rest, &mut self.c).is_ok();
                        self.mode = Mode::Inflate(inf);
                        ok
                    }
                    Ok(None) => head.len() < MAX_GZIP_HEADER,
                    Err(()) => false,
                }
            }
            Mode::DeflatePending(head) => {
                head.extend_from_slice(data);
                if head.len() < 2 {
                    true
                } else {
                    let head = std::mem::take(head);
                    let kind = deflate_kind(&head);
                    let mut inf = Inflater {
                        kind,
                        d: take_inflater(kind),
                        ended: false,
                    };
                    let ok = inf.feed(&head, &mut self.c).is_ok();
                    self.mode = Mode::Inflate(inf);
                    ok
                }
            }
        };
        if !ok {
            self.stop(anomalies);
        }
    }

    /// Bytes of the body were lost in a TCP gap: counted on the wire, decoding stops.
    pub fn gap(&mut self, len: u64, anomalies: &mut AnomalySet) {
        self.stream_held(anomalies);
        self.bytes += len;
        anomalies.insert(HttpAnomaly::ContentGap);
        if let Mode::Identity = self.mode {
            self.c.decoded += len;
        } else {
            self.stop(anomalies);
        }
    }

    fn stop(&mut self, anomalies: &mut AnomalySet) {
        if let Mode::Inflate(inf) = std::mem::replace(&mut self.mode, Mode::Stopped) {
            return_inflater(inf.kind, inf.d);
        }
        if self.c.limit_hit {
            anomalies.insert(HttpAnomaly::DecompressionLimit);
        } else {
            anomalies.insert(HttpAnomaly::DecompressionError);
        }
    }

    /// The body ended: return the figures (a compressed stream that did not end is an
    /// anomaly; what it decoded so far counts).
    pub fn finish(mut self, anomalies: &mut AnomalySet) -> BodyStats {
        if let Mode::Held(coding, held) = &self.mode {
            if held.is_empty() {
                self.mode = Mode::Stopped;
            } else if inflate_whole(*coding, held, &mut self.c) {
                self.mode = Mode::Whole;
            } else {
                self.stream_held(anomalies);
            }
        }
        let inflated = match self.mode {
            Mode::Whole => Inflated::Whole,
            _ if self.streamed => Inflated::Streamed,
            _ => Inflated::No,
        };
        match std::mem::replace(&mut self.mode, Mode::Stopped) {
            Mode::Inflate(inf) => {
                if !inf.ended {
                    anomalies.insert(HttpAnomaly::DecompressionError);
                }
                return_inflater(inf.kind, inf.d);
            }
            Mode::DeflatePending(head) => {
                // One byte of deflate is not a stream; count it as-is.
                if !head.is_empty() {
                    self.c.take(&head);
                    anomalies.insert(HttpAnomaly::DecompressionError);
                }
            }
            Mode::GzipHeader(head) => {
                if !head.is_empty() {
                    anomalies.insert(HttpAnomaly::DecompressionError);
                }
            }
            // (Held was decoded or streamed above.)
            Mode::Identity | Mode::Stopped | Mode::Whole | Mode::Held(..) => {}
        }
        if self.c.limit_hit {
            anomalies.insert(HttpAnomaly::DecompressionLimit);
        }
        BodyStats {
            bytes: self.bytes,
            decoded_bytes: self.c.decoded,
            prefix: std::mem::take(&mut self.c.prefix),
            inflated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write as _;

    fn limits(prefix_cap: usize, max_decoded: u64, whole_inflate_bytes: usize) -> ContentLimits {
        ContentLimits {
            prefix_cap,
            max_decoded,
            whole_inflate_bytes,
        }
    }

    /// One body through a [`Content`] that holds bodies up to `whole` bytes (0: streams).
    fn run_with(
        coding: Coding,
        body: &[u8],
        cap: usize,
        limit: u64,
        piece: usize,
        whole: usize,
    ) -> (BodyStats, AnomalySet) {
        let mut a = AnomalySet::default();
        let mut c = Content::new(coding, limits(cap, limit, whole), &mut a);
        for p in body.chunks(piece.max(1)) {
            c.feed(p, &mut a);
        }
        (c.finish(&mut a), a)
    }

    /// The body decoded whole (held up to 16 MiB) and streamed: the figures, the prefix and
    /// the anomalies must be the same both ways; returns the whole-decode result.
    fn run(
        coding: Coding,
        body: &[u8],
        cap: usize,
        limit: u64,
        piece: usize,
    ) -> (BodyStats, AnomalySet) {
        let (streamed, a_streamed) = run_with(coding, body, cap, limit, piece, 0);
        let (whole, a_whole) = run_with(coding, body, cap, limit, piece, 16 << 20);
        assert_eq!(
            (whole.bytes, whole.decoded_bytes, &whole.prefix, &a_whole),
            (
                streamed.bytes,
                streamed.decoded_bytes,
                &streamed.prefix,
                &a_streamed
            ),
            "{coding:?}: whole and streamed decoding differ"
        );
        assert_ne!(streamed.inflated, Inflated::Whole);
        (whole, a_whole)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn plain() -> Vec<u8> {
        (0..20_000u32)
            .flat_map(|i| format!("{{\"id\":{i}}},").into_bytes())
            .collect()
    }

    #[test]
    fn identity_counts_and_keeps_prefix() {
        let (s, a) = run(Coding::Identity, b"hello world", 5, 1 << 20, 3);
        assert_eq!((s.bytes, s.decoded_bytes), (11, 11));
        assert_eq!(s.prefix, b"hello");
        assert!(a.is_empty());
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_decode_in_pieces() {
        let p = plain();
        let (gz, zl, raw) = (gzip(&p), zlib(&p), raw_deflate(&p));
        for (coding, data) in [
            (Coding::Gzip, &gz),
            (Coding::Deflate, &zl),
            (Coding::Deflate, &raw),
        ] {
            for piece in [1, 7, 1460, 100_000] {
                let (s, a) = run(coding, data, 16, 1 << 30, piece);
                assert_eq!(s.bytes, data.len() as u64);
                assert_eq!(s.decoded_bytes, p.len() as u64, "{coding:?} piece {piece}");
                assert_eq!(&s.prefix[..], &p[..16]);
                assert!(a.is_empty(), "{a:?}");
            }
        }
    }

    #[test]
    fn inflated_prefix_is_exactly_the_first_cap_bytes_for_any_cap() {
        let p = plain();
        let gz = gzip(&p);
        // Caps below, at and above one inflate chunk, and above the whole body.
        for cap in [1, 4095, 4096, 32 * 1024, 100_000, p.len() + 10] {
            for piece in [1460, 1 << 20] {
                let (s, a) = run(Coding::Gzip, &gz, cap, 1 << 30, piece);
                assert_eq!(s.decoded_bytes, p.len() as u64, "cap {cap} piece {piece}");
                assert_eq!(s.prefix, &p[..cap.min(p.len())], "cap {cap} piece {piece}");
                assert!(
                    s.prefix.capacity() <= cap,
                    "cap {cap}: {}",
                    s.prefix.capacity()
                );
                assert!(a.is_empty(), "{a:?}");
            }
        }
    }

    #[test]
    fn pooled_inflaters_are_clean_after_broken_and_finished_streams() {
        let p = plain();
        let gz = gzip(&p);
        for round in 0..4 {
            // a stream cut in the middle, then a corrupt one, then a whole one: the whole one
            // must decode exactly whatever the pooled inflater went through before.
            let (s, a) = run(Coding::Gzip, &gz[..gz.len() / 2], 0, 1 << 30, 700);
            assert!(
                s.decoded_bytes < p.len() as u64 && a.contains(HttpAnomaly::DecompressionError)
            );
            let (_, a) = run(
                Coding::Gzip,
                b"\x1f\x8b\x08\x00garbage-garbage",
                0,
                1 << 30,
                3,
            );
            assert!(a.contains(HttpAnomaly::DecompressionError));
            let (s, a) = run(Coding::Gzip, &gz, 8, 1 << 30, 1000 + round);
            assert_eq!(s.decoded_bytes, p.len() as u64, "round {round}");
            assert!(a.is_empty(), "{a:?}");
        }
    }

    #[test]
    fn bomb_limit_stops_decoding() {
        let zeros = vec![0u8; 10 << 20];
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&zeros).unwrap();
        let gz = gz.finish().unwrap();
        for cap in [0, 64 << 10, 2 << 20] {
            let (s, a) = run(Coding::Gzip, &gz, cap, 1 << 20, 1460);
            assert_eq!(s.decoded_bytes, 1 << 20, "cap {cap}");
            assert_eq!(s.prefix.len(), cap.min(1 << 20), "cap {cap}");
            assert!(a.contains(HttpAnomaly::DecompressionLimit));
        }
    }

    #[test]
    fn small_bodies_are_decoded_whole_and_large_or_broken_ones_streamed() {
        let p = plain();
        let zl = zlib(&p[..3000]);
        let small = gzip(&p[..3000]);
        let large = gzip(&p);
        assert!(small.len() < 4096 && large.len() > 4096);
        let (s, _) = run_with(Coding::Gzip, &small, 64, 1 << 30, 1460, 4096);
        assert_eq!((s.inflated, s.decoded_bytes), (Inflated::Whole, 3000));
        let (s, _) = run_with(Coding::Deflate, &zl, 64, 1 << 30, 1460, 4096);
        assert_eq!((s.inflated, s.decoded_bytes), (Inflated::Whole, 3000));
        let (s, _) = run_with(Coding::Gzip, &large, 64, 1 << 30, 1460, 4096);
        assert_eq!(
            (s.inflated, s.decoded_bytes),
            (Inflated::Streamed, p.len() as u64)
        );
        // Cut short, or a corrupted checksum: streamed, so what decoded before still counts.
        let (s, a) = run(Coding::Gzip, &small[..small.len() / 2], 64, 1 << 30, 1460);
        assert_eq!(s.inflated, Inflated::Streamed);
        assert!(s.decoded_bytes > 0 && a.contains(HttpAnomaly::DecompressionError));
        let mut bad_adler = zl.clone();
        *bad_adler.last_mut().unwrap() ^= 1;
        let (s, a) = run(Coding::Deflate, &bad_adler, 64, 1 << 30, 1460);
        assert_eq!(s.inflated, Inflated::Streamed);
        assert!(a.contains(HttpAnomaly::DecompressionError));
        // Identity bodies are not inflated at all.
        let (s, _) = run(Coding::Identity, &p[..10], 64, 1 << 30, 3);
        assert_eq!(s.inflated, Inflated::No);
    }

    #[test]
    fn a_gap_in_a_held_body_decodes_what_came_before_it() {
        let p = plain();
        let gz = gzip(&p);
        let figures = |whole: usize| {
            let mut a = AnomalySet::default();
            let mut c = Content::new(Coding::Gzip, limits(100, 1 << 30, whole), &mut a);
            c.feed(&gz[..gz.len() / 2], &mut a);
            c.gap(100, &mut a);
            c.feed(&gz[gz.len() / 2 + 100..], &mut a);
            let s = c.finish(&mut a);
            (s.bytes, s.decoded_bytes, s.prefix, s.inflated, a)
        };
        // An identity body counts the lost bytes as decoded and is not a decoding error.
        let mut a = AnomalySet::default();
        let mut c = Content::new(Coding::Identity, limits(100, 1 << 30, 1 << 20), &mut a);
        c.feed(b"abc", &mut a);
        c.gap(7, &mut a);
        let s = c.finish(&mut a);
        assert_eq!((s.bytes, s.decoded_bytes), (10, 10));
        assert!(!a.contains(HttpAnomaly::DecompressionError));
        let (held, streamed) = (figures(1 << 20), figures(0));
        assert_eq!(held, streamed);
        assert!(held.1 > 0 && held.1 < p.len() as u64);
        assert_eq!(held.3, Inflated::Streamed);
        assert!(held.4.contains(HttpAnomaly::ContentGap));
    }

    #[test]
    fn garbage_gzip_is_an_anomaly_not_a_failure() {
        let (s, a) = run(Coding::Gzip, b"this is not gzip at all", 0, 1 << 20, 4);
        assert_eq!(s.bytes, 23);
        assert!(a.contains(HttpAnomaly::DecompressionError));
    }

    #[test]
    fn gzip_headers_with_optional_fields() {
        // FEXTRA + FNAME + FCOMMENT + FHCRC
        let mut h = vec![
            0x1f,
            0x8b,
            8,
            0x04 | 0x08 | 0x10 | 0x02,
            0,
            0,
            0,
            0,
            0,
            3,
            2,
            0,
            b'x',
            b'y',
        ];
        h.extend_from_slice(b"name\0comment\0\xaa\xbb");
        assert_eq!(gzip_header_len(&h), Ok(Some(h.len())));
        for n in 0..h.len() {
            assert_eq!(gzip_header_len(&h[..n]), Ok(None), "prefix {n}");
        }
        assert_eq!(gzip_header_len(b"\x1f\x8c"), Err(()));
        assert_eq!(gzip_header_len(b"PK\x03\x04zip-not-gzip"), Err(()));
    }

    #[test]
    fn codings_from_header() {
        assert_eq!(Coding::from_header(Some(b" x-gzip ")), Coding::Gzip);
        assert_eq!(Coding::from_header(Some(b"DEFLATE")), Coding::Deflate);
        assert_eq!(Coding::from_header(Some(b"br")), Coding::Other);
        assert_eq!(Coding::from_header(None), Coding::Identity);
    }
}
