//! Message content after framing: counts body bytes, decodes gzip/deflate under the bomb
//! limit, and keeps a bounded prefix of the decoded body for the analyzers.

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
            let keep = (self.prefix_cap - self.prefix.len()).min(n);
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

thread_local! {
    static POOL: RefCell<Vec<(InflateKind, Decompress)>> = const { RefCell::new(Vec::new()) };
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
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
}

impl Content {
    pub fn new(
        coding: Coding,
        prefix_cap: usize,
        limit: u64,
        anomalies: &mut AnomalySet,
    ) -> Content {
        let c = Collector {
            decoded: 0,
            prefix: Vec::new(),
            prefix_cap,
            limit,
            limit_hit: false,
        };
        let mode = match coding {
            Coding::Identity => Mode::Identity,
            Coding::Gzip => Mode::GzipHeader(Vec::new()),
            Coding::Deflate => Mode::DeflatePending(Vec::new()),
            Coding::Other => {
                anomalies.insert(HttpAnomaly::UnsupportedContentEncoding);
                Mode::Identity
            }
        };
        Content { bytes: 0, mode, c }
    }

    /// Sizes the prefix buffer for a body of about `wire_len` bytes, so it is not grown
    /// (and copied) piece by piece. Compressed bodies are assumed to expand about 4×.
    pub fn reserve_for(&mut self, wire_len: u64) {
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
        let ok = match &mut self.mode {
            Mode::Identity => {
                self.c.take(data);
                true
            }
            Mode::Stopped => true,
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
                    let zlib =
                        (head[0] & 0x0f) == 8 && u16::from_be_bytes([head[0], head[1]]) % 31 == 0;
                    let kind = if zlib {
                        InflateKind::Zlib
                    } else {
                        InflateKind::Raw
                    };
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
            Mode::Identity | Mode::Stopped => {}
        }
        if self.c.limit_hit {
            anomalies.insert(HttpAnomaly::DecompressionLimit);
        }
        BodyStats {
            bytes: self.bytes,
            decoded_bytes: self.c.decoded,
            prefix: std::mem::take(&mut self.c.prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write as _;

    fn run(
        coding: Coding,
        body: &[u8],
        cap: usize,
        limit: u64,
        piece: usize,
    ) -> (BodyStats, AnomalySet) {
        let mut a = AnomalySet::default();
        let mut c = Content::new(coding, cap, limit, &mut a);
        for p in body.chunks(piece.max(1)) {
            c.feed(p, &mut a);
        }
        (c.finish(&mut a), a)
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
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&p).unwrap();
        let gz = gz.finish().unwrap();
        let mut zl = ZlibEncoder::new(Vec::new(), Compression::default());
        zl.write_all(&p).unwrap();
        let zl = zl.finish().unwrap();
        let mut raw = DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(&p).unwrap();
        let raw = raw.finish().unwrap();
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
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&p).unwrap();
        let gz = gz.finish().unwrap();
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
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&p).unwrap();
        let gz = gz.finish().unwrap();
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
