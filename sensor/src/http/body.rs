//! Body framing: Content-Length, chunked (extensions, trailers) and close-delimited bodies.
//!
//! The reader consumes wire bytes, hands de-chunked content to [`Content`], and says when the
//! body is complete. Chunk sizes are parsed with checked arithmetic; a broken frame ends the
//! body with an anomaly and the caller resynchronises.

use super::anomaly::{AnomalySet, HttpAnomaly};
use super::content::Content;

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    Length(u64),
    Chunked,
    /// Until the sender closes (responses only).
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkDataEnd { cr_seen: bool },
    Trailer,
    UntilClose,
    Done,
}

/// What a feed achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    NeedMore,
    Done,
    /// Framing is broken: the body ends here and the stream must resync.
    Broken,
    /// A gap ran past the end of a body of known length: the body is complete, and the
    /// start of whatever followed it on the stream is lost with the rest of the gap.
    Overrun,
}

pub struct BodyReader {
    state: State,
    wire: u64,
    line: Vec<u8>,
    max_line: usize,
}

impl BodyReader {
    pub fn new(framing: Framing, max_line: usize) -> BodyReader {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        BodyReader {
            state,
            wire: 0,
            line: Vec::new(),
            max_line,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Body bytes taken from the wire so far (chunk framing included).
    pub fn wire_bytes(&self) -> u64 {
        self.wire
    }

    /// Consumes body bytes from `data`; returns how many were consumed and the progress.
    pub fn feed(
        &mut self,
        data: &[u8],
        content: &mut Content,
        anomalies: &mut AnomalySet,
    ) -> (usize, Progress) {
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            match self.state {
                State::Done => return (pos, Progress::Done),
                _ if rest.is_empty() => return (pos, Progress::NeedMore),
                State::Length(remaining) => {
                    let n = (rest.len() as u64).min(remaining) as usize;
                    content.feed(&rest[..n], anomalies);
                    pos += n;
                    self.wire += n as u64;
                    self.state = match remaining - n as u64 {
                        0 => State::Done,
                        left => State::Length(left),
                    };
                }
                State::UntilClose => {
                    content.feed(rest, anomalies);
                    self.wire += rest.len() as u64;
                    return (data.len(), Progress::NeedMore);
                }
                State::ChunkData(remaining) => {
                    let n = (rest.len() as u64).min(remaining) as usize;
                    content.feed(&rest[..n], anomalies);
                    pos += n;
                    self.wire += n as u64;
                    self.state = match remaining - n as u64 {
                        0 => State::ChunkDataEnd { cr_seen: false },
                        left => State::ChunkData(left),
                    };
                }
                State::ChunkDataEnd { cr_seen } => {
                    // Expect CRLF or a bare LF; anything else is taken as the next size line.
                    match (cr_seen, rest[0]) {
                        (false, b'\r') => {
                            pos += 1;
                            self.wire += 1;
                            self.state = State::ChunkDataEnd { cr_seen: true };
                        }
                        (_, b'\n') => {
                            pos += 1;
                            self.wire += 1;
                            self.state = State::ChunkSize;
                        }
                        _ => {
                            anomalies.insert(HttpAnomaly::ChunkMissingCrlf);
                            self.state = State::ChunkSize;
                        }
                    }
                }
                State::ChunkSize | State::Trailer => {
                    let Some(nl) = memchr::memchr(b'\n', rest) else {
                        if self.line.len() + rest.len() > self.max_line {
                            anomalies.insert(HttpAnomaly::InvalidChunkSize);
                            self.wire += rest.len() as u64;
                            return (data.len(), Progress::Broken);
                        }
                        self.line.extend_from_slice(rest);
                        self.wire += rest.len() as u64;
                        return (data.len(), Progress::NeedMore);
                    };
                    if self.line.len() + nl > self.max_line {
                        anomalies.insert(HttpAnomaly::InvalidChunkSize);
                        self.wire += nl as u64 + 1;
                        return (pos + nl + 1, Progress::Broken);
                    }
                    self.line.extend_from_slice(&rest[..nl]);
                    pos += nl + 1;
                    self.wire += nl as u64 + 1;
                    let line = std::mem::take(&mut self.line);
                    if self.state == State::Trailer {
                        let l = line.strip_suffix(b"\r").unwrap_or(&line);
                        if l.is_empty() {
                            self.state = State::Done;
                        }
                    } else {
                        match parse_chunk_size(&line) {
                            Ok(0) => self.state = State::Trailer,
                            Ok(n) => self.state = State::ChunkData(n),
                            Err(a) => {
                                anomalies.insert(a);
                                return (pos, Progress::Broken);
                            }
                        }
                    }
                    self.line = line;
                    self.line.clear();
                }
            }
        }
    }

    /// `len` bytes were lost. Length- and close-delimited bodies absorb the gap; inside chunk
    /// framing it is fatal to the body.
    pub fn gap(&mut self, len: u64, content: &mut Content, anomalies: &mut AnomalySet) -> Progress {
        match self.state {
            State::Length(remaining) => {
                let n = len.min(remaining);
                content.gap(n, anomalies);
                self.wire += n;
                if remaining == n {
                    self.state = State::Done;
                    if len > n {
                        // The gap runs past this body into whatever follows.
                        return Progress::Overrun;
                    }
                    return Progress::Done;
                }
                self.state = State::Length(remaining - n);
                Progress::NeedMore
            }
            State::UntilClose => {
                content.gap(len, anomalies);
                self.wire += len;
                Progress::NeedMore
            }
            State::ChunkData(remaining) if len <= remaining => {
                content.gap(len, anomalies);
                self.wire += len;
                self.state = if remaining == len {
                    State::ChunkDataEnd { cr_seen: false }
                } else {
                    State::ChunkData(remaining - len)
                };
                Progress::NeedMore
            }
            State::Done => Progress::Done,
            _ => {
                anomalies.insert(HttpAnomaly::ContentGap);
                Progress::Broken
            }
        }
    }

    /// The sender closed. Close-delimited bodies complete; others were cut short.
    pub fn end_of_stream(&mut self, anomalies: &mut AnomalySet) {
        match self.state {
            State::Done | State::UntilClose => {}
            _ => anomalies.insert(HttpAnomaly::TruncatedBody),
        }
        self.state = State::Done;
    }
}

/// Parses a chunk-size line (without its LF): hex digits, optional extensions after `;`.
fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpAnomaly> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let digits = line[start..]
        .iter()
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    if digits == 0 {
        return Err(HttpAnomaly::InvalidChunkSize);
    }
    let after = &line[start + digits..];
    if let Some(&b) = after.first() {
        if b != b';' && !b.is_ascii_whitespace() {
            return Err(HttpAnomaly::InvalidChunkSize);
        }
    }
    let mut n: u64 = 0;
    for &d in &line[start..start + digits] {
        let v = (d as char).to_digit(16).unwrap_or(0) as u64;
        n = n
            .checked_mul(16)
            .and_then(|n| n.checked_add(v))
            .ok_or(HttpAnomaly::ChunkSizeOverflow)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::content::{Coding, ContentLimits};
    use super::*;

    fn limits(prefix_cap: usize) -> ContentLimits {
        ContentLimits {
            prefix_cap,
            max_decoded: 1 << 30,
            whole_inflate_bytes: 16 << 10,
        }
    }

    fn read_all(
        framing: Framing,
        wire: &[u8],
        piece: usize,
    ) -> (usize, Progress, u64, Vec<u8>, AnomalySet) {
        let mut a = AnomalySet::default();
        let mut content = Content::new(Coding::Identity, limits(1 << 20), &mut a);
        let mut r = BodyReader::new(framing, 64);
        let mut used = 0;
        let mut progress = Progress::NeedMore;
        for p in wire.chunks(piece) {
            let (n, pr) = r.feed(p, &mut content, &mut a);
            used += n;
            progress = pr;
            if pr != Progress::NeedMore {
                break;
            }
        }
        let wire_bytes = r.wire_bytes();
        let stats = content.finish(&mut a);
        (used, progress, wire_bytes, stats.prefix, a)
    }

    #[test]
    fn content_length_stops_at_length() {
        let (used, p, wire, body, _) = read_all(Framing::Length(5), b"helloGET /", 3);
        assert_eq!((used, p, wire), (5, Progress::Done, 5));
        assert_eq!(body, b"hello");
    }

    #[test]
    fn chunked_with_extensions_and_trailers_in_every_split() {
        let wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for piece in 1..wire.len() {
            let (used, p, w, body, a) = read_all(Framing::Chunked, wire, piece);
            assert_eq!(p, Progress::Done, "piece {piece}");
            assert_eq!(used, wire.len() - 4, "piece {piece}");
            assert_eq!(w, used as u64);
            assert_eq!(body, b"hello world");
            assert!(a.is_empty(), "{a:?}");
        }
    }

    #[test]
    fn chunked_bare_lf_is_accepted() {
        let (_, p, _, body, _) = read_all(Framing::Chunked, b"3\nabc\n0\n\n", 2);
        assert_eq!(p, Progress::Done);
        assert_eq!(body, b"abc");
    }

    #[test]
    fn chunk_size_overflow_breaks_the_body() {
        let (_, p, _, _, a) = read_all(Framing::Chunked, b"10000000000000000\r\nxx", 100);
        assert_eq!(p, Progress::Broken);
        assert!(a.contains(HttpAnomaly::ChunkSizeOverflow));
        assert_eq!(parse_chunk_size(b"FFFFFFFFFFFFFFFF"), Ok(u64::MAX));
        assert_eq!(parse_chunk_size(b"000000000000000000001a"), Ok(26));
    }

    #[test]
    fn invalid_chunk_size_breaks_the_body() {
        let (_, p, _, _, a) = read_all(Framing::Chunked, b"zz\r\n", 100);
        assert_eq!(p, Progress::Broken);
        assert!(a.contains(HttpAnomaly::InvalidChunkSize));
    }

    #[test]
    fn overlong_chunk_line_is_bounded() {
        let mut wire = b"5".to_vec();
        wire.extend(std::iter::repeat_n(b' ', 1000));
        let (_, p, _, _, a) = read_all(Framing::Chunked, &wire, 10);
        assert_eq!(p, Progress::Broken);
        assert!(a.contains(HttpAnomaly::InvalidChunkSize));
    }

    #[test]
    fn gap_inside_length_body_is_absorbed() {
        let mut a = AnomalySet::default();
        let mut content = Content::new(Coding::Identity, limits(0), &mut a);
        let mut r = BodyReader::new(Framing::Length(10), 64);
        assert_eq!(r.feed(b"abc", &mut content, &mut a).1, Progress::NeedMore);
        assert_eq!(r.gap(4, &mut content, &mut a), Progress::NeedMore);
        assert_eq!(r.feed(b"defXYZ", &mut content, &mut a), (3, Progress::Done));
        assert_eq!(content.finish(&mut a).bytes, 10);
        assert!(a.contains(HttpAnomaly::ContentGap));
    }
}
