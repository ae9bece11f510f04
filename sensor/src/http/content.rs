//! Message content after framing: counts body bytes, decodes gzip/deflate under the bomb
//! limit, and keeps a bounded prefix of the decoded body for the analyzers.

use super::anomaly::{AnomalySet, HttpAnomaly};
use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};
use std::io::Write;

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
}

impl Write for Collector {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.limit_hit {
            return Err(std::io::Error::other("decompression limit"));
        }
        self.take(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Identity(Collector),
    Gzip(Box<GzDecoder<Collector>>),
    Zlib(Box<ZlibDecoder<Collector>>),
    Raw(Box<DeflateDecoder<Collector>>),
    /// Deflate whose first bytes have not arrived yet (zlib-wrapped or raw is decided on them).
    DeflatePending(Collector, Vec<u8>),
    /// Decoding stopped (error or limit): only wire bytes are counted from here on.
    Stopped(Collector),
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
        let v = trim(v);
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

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &b[s..e.max(s)]
}

/// Streams one body's content through the right decoder.
pub struct Content {
    bytes: u64,
    decoder: Decoder,
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
        let decoder = match coding {
            Coding::Identity => Decoder::Identity(c),
            Coding::Gzip => Decoder::Gzip(Box::new(GzDecoder::new(c))),
            Coding::Deflate => Decoder::DeflatePending(c, Vec::new()),
            Coding::Other => {
                anomalies.insert(HttpAnomaly::UnsupportedContentEncoding);
                Decoder::Identity(c)
            }
        };
        Content { bytes: 0, decoder }
    }

    /// Sizes the prefix buffer for a body of about `wire_len` bytes, so it is not grown
    /// (and copied) piece by piece. Compressed bodies are assumed to expand about 4×.
    pub fn reserve_for(&mut self, wire_len: u64) {
        let factor = if matches!(self.decoder_kind(), Coding::Identity) {
            1
        } else {
            4
        };
        let c = match &mut self.decoder {
            Decoder::Identity(c) | Decoder::Stopped(c) | Decoder::DeflatePending(c, _) => c,
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Zlib(d) => d.get_mut(),
            Decoder::Raw(d) => d.get_mut(),
        };
        let want = usize::try_from(wire_len.saturating_mul(factor)).unwrap_or(usize::MAX);
        let want = want.min(c.prefix_cap);
        c.prefix.reserve_exact(want.saturating_sub(c.prefix.len()));
    }

    fn decoder_kind(&self) -> Coding {
        match &self.decoder {
            Decoder::Identity(_) | Decoder::Stopped(_) => Coding::Identity,
            Decoder::Gzip(_) => Coding::Gzip,
            Decoder::Zlib(_) | Decoder::Raw(_) | Decoder::DeflatePending(..) => Coding::Deflate,
        }
    }

    /// De-chunked body bytes.
    pub fn feed(&mut self, data: &[u8], anomalies: &mut AnomalySet) {
        self.bytes += data.len() as u64;
        let result = match &mut self.decoder {
            Decoder::Identity(c) => {
                c.take(data);
                Ok(())
            }
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Zlib(d) => d.write_all(data),
            Decoder::Raw(d) => d.write_all(data),
            Decoder::Stopped(_) => Ok(()),
            Decoder::DeflatePending(_, head) => {
                head.extend_from_slice(data);
                if head.len() >= 2 {
                    let Decoder::DeflatePending(c, head) =
                        std::mem::replace(&mut self.decoder, Decoder::Stopped(empty_collector()))
                    else {
                        unreachable!("matched above")
                    };
                    let zlib =
                        (head[0] & 0x0f) == 8 && u16::from_be_bytes([head[0], head[1]]) % 31 == 0;
                    self.decoder = if zlib {
                        Decoder::Zlib(Box::new(ZlibDecoder::new(c)))
                    } else {
                        Decoder::Raw(Box::new(DeflateDecoder::new(c)))
                    };
                    match &mut self.decoder {
                        Decoder::Zlib(d) => d.write_all(&head),
                        Decoder::Raw(d) => d.write_all(&head),
                        _ => Ok(()),
                    }
                } else {
                    Ok(())
                }
            }
        };
        if result.is_err() {
            self.stop(anomalies);
        }
    }

    /// Bytes of the body were lost in a TCP gap: counted on the wire, decoding stops.
    pub fn gap(&mut self, len: u64, anomalies: &mut AnomalySet) {
        self.bytes += len;
        anomalies.insert(HttpAnomaly::ContentGap);
        if let Decoder::Identity(c) = &mut self.decoder {
            c.decoded += len;
        } else {
            self.stop(anomalies);
        }
    }

    fn stop(&mut self, anomalies: &mut AnomalySet) {
        let old = std::mem::replace(&mut self.decoder, Decoder::Stopped(empty_collector()));
        let c = match old {
            Decoder::Identity(c) | Decoder::Stopped(c) | Decoder::DeflatePending(c, _) => c,
            Decoder::Gzip(mut d) => std::mem::replace(d.get_mut(), empty_collector()),
            Decoder::Zlib(mut d) => std::mem::replace(d.get_mut(), empty_collector()),
            Decoder::Raw(mut d) => std::mem::replace(d.get_mut(), empty_collector()),
        };
        if c.limit_hit {
            anomalies.insert(HttpAnomaly::DecompressionLimit);
        } else {
            anomalies.insert(HttpAnomaly::DecompressionError);
        }
        self.decoder = Decoder::Stopped(c);
    }

    /// The body ended: flush the decoder and return the figures.
    pub fn finish(self, anomalies: &mut AnomalySet) -> BodyStats {
        let bytes = self.bytes;
        let (c, ok) = match self.decoder {
            Decoder::Identity(c) | Decoder::Stopped(c) => (c, true),
            Decoder::DeflatePending(mut c, head) => {
                // One byte of deflate is not a stream; count it as-is.
                c.take(&head);
                (c, head.is_empty())
            }
            Decoder::Gzip(mut d) => {
                let ok = d.try_finish().is_ok();
                (std::mem::replace(d.get_mut(), empty_collector()), ok)
            }
            Decoder::Zlib(mut d) => {
                let ok = d.try_finish().is_ok();
                (std::mem::replace(d.get_mut(), empty_collector()), ok)
            }
            Decoder::Raw(mut d) => {
                let ok = d.try_finish().is_ok();
                (std::mem::replace(d.get_mut(), empty_collector()), ok)
            }
        };
        if c.limit_hit {
            anomalies.insert(HttpAnomaly::DecompressionLimit);
        } else if !ok {
            anomalies.insert(HttpAnomaly::DecompressionError);
        }
        BodyStats {
            bytes,
            decoded_bytes: c.decoded,
            prefix: c.prefix,
        }
    }
}

fn empty_collector() -> Collector {
    Collector {
        decoded: 0,
        prefix: Vec::new(),
        prefix_cap: 0,
        limit: 0,
        limit_hit: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;

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
    fn bomb_limit_stops_decoding() {
        let zeros = vec![0u8; 10 << 20];
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&zeros).unwrap();
        let gz = gz.finish().unwrap();
        let (s, a) = run(Coding::Gzip, &gz, 0, 1 << 20, 1460);
        assert_eq!(s.decoded_bytes, 1 << 20);
        assert!(a.contains(HttpAnomaly::DecompressionLimit));
    }

    #[test]
    fn garbage_gzip_is_an_anomaly_not_a_failure() {
        let (s, a) = run(Coding::Gzip, b"this is not gzip at all", 0, 1 << 20, 4);
        assert_eq!(s.bytes, 23);
        assert!(a.contains(HttpAnomaly::DecompressionError));
    }

    #[test]
    fn codings_from_header() {
        assert_eq!(Coding::from_header(Some(b" x-gzip ")), Coding::Gzip);
        assert_eq!(Coding::from_header(Some(b"DEFLATE")), Coding::Deflate);
        assert_eq!(Coding::from_header(Some(b"br")), Coding::Other);
        assert_eq!(Coding::from_header(None), Coding::Identity);
    }
}
