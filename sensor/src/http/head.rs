//! Message heads: finding where a head ends, parsing it strictly with httparse, and falling
//! back to a lenient reader (obs-fold, bare LF, odd request lines) the way robust servers do.
//!
//! A parsed [`Head`] owns one copy of the head bytes; names and values are ranges into it, so
//! a head costs two allocations whatever its header count.

use super::anomaly::{AnomalySet, HttpAnomaly};
use memchr::memmem;
use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::LazyLock;

/// Request line or status line facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadKind {
    Request {
        method: Range<u32>,
        target: Range<u32>,
    },
    Response {
        status: u16,
        reason: Range<u32>,
    },
}

/// The header fields the sensor itself reads, found once when the head is parsed (each has a
/// name length no other has, so one length match and one compare classify a line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Host,
    Upgrade,
    UserAgent,
    ContentType,
    ContentLength,
    ContentEncoding,
    TransferEncoding,
}

impl Field {
    const ALL: [Field; 7] = [
        Field::Host,
        Field::Upgrade,
        Field::UserAgent,
        Field::ContentType,
        Field::ContentLength,
        Field::ContentEncoding,
        Field::TransferEncoding,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Host => "host",
            Field::Upgrade => "upgrade",
            Field::UserAgent => "user-agent",
            Field::ContentType => "content-type",
            Field::ContentLength => "content-length",
            Field::ContentEncoding => "content-encoding",
            Field::TransferEncoding => "transfer-encoding",
        }
    }

    /// The field a header name is (ASCII case-insensitive), if it is one of these.
    fn of(name: &[u8]) -> Option<Field> {
        let f = match name.len() {
            4 => Field::Host,
            7 => Field::Upgrade,
            10 => Field::UserAgent,
            12 => Field::ContentType,
            14 => Field::ContentLength,
            16 => Field::ContentEncoding,
            17 => Field::TransferEncoding,
            _ => return None,
        };
        eq_lowercase_name(name, f.name().as_bytes()).then_some(f)
    }
}

/// Whether `name` is `want` ignoring ASCII case, where `want` (at least 4 bytes) holds only
/// lower-case letters, digits and '-'. Compared a word at a time (overlapping words cover
/// the tail): bit 0x20 of a name byte is forced on where `want` has a letter (bit 0x40 set),
/// so `A`-`Z` match their lower case, and every other byte must be equal as is.
fn eq_lowercase_name(name: &[u8], want: &[u8]) -> bool {
    debug_assert!(want.len() >= 4);
    debug_assert!(want
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    fn word<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
        let mut w = [0; N];
        w.copy_from_slice(&b[at..at + N]);
        w
    }
    let n = want.len();
    if name.len() != n {
        return false;
    }
    if n < 8 {
        let same = |at| {
            let (x, w) = (
                u32::from_le_bytes(word(name, at)),
                u32::from_le_bytes(word(want, at)),
            );
            x | ((w & 0x4040_4040) >> 1) == w
        };
        return same(0) && same(n - 4);
    }
    let same = |at| {
        let (x, w) = (
            u64::from_le_bytes(word(name, at)),
            u64::from_le_bytes(word(want, at)),
        );
        x | ((w & 0x4040_4040_4040_4040) >> 1) == w
    };
    (0..n - 8).step_by(8).all(same) && same(n - 8)
}

/// Where each [`Field`] occurs among a head's lines: the first and last line index (equal
/// when it occurs once; `NOT_PRESENT` when it does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldIndex {
    first: [u32; Field::ALL.len()],
    last: [u32; Field::ALL.len()],
}

const NOT_PRESENT: u32 = u32::MAX;

impl FieldIndex {
    fn of(raw: &[u8], headers: &[(Range<u32>, Range<u32>)]) -> FieldIndex {
        let mut index = FieldIndex {
            first: [NOT_PRESENT; Field::ALL.len()],
            last: [NOT_PRESENT; Field::ALL.len()],
        };
        for (i, (n, _)) in headers.iter().enumerate() {
            if let Some(f) = Field::of(slice(raw, n)) {
                let i = i as u32;
                if index.first[f as usize] == NOT_PRESENT {
                    index.first[f as usize] = i;
                }
                index.last[f as usize] = i;
            }
        }
        index
    }
}

/// A parsed request or response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    raw: Vec<u8>,
    pub kind: HeadKind,
    /// (major, minor); HTTP/0.9 is (0, 9).
    pub version: (u8, u8),
    headers: Vec<(Range<u32>, Range<u32>)>,
    fields: FieldIndex,
    /// Bytes this head took on the wire (leading empty lines included).
    pub wire_len: u64,
}

fn slice<'a>(raw: &'a [u8], r: &Range<u32>) -> &'a [u8] {
    raw.get(r.start as usize..r.end as usize)
        .unwrap_or_default()
}

impl Head {
    fn new(
        raw: Vec<u8>,
        kind: HeadKind,
        version: (u8, u8),
        headers: Vec<(Range<u32>, Range<u32>)>,
        wire_len: u64,
    ) -> Head {
        let fields = FieldIndex::of(&raw, &headers);
        Head {
            raw,
            kind,
            version,
            headers,
            fields,
            wire_len,
        }
    }

    pub fn method(&self) -> &[u8] {
        match &self.kind {
            HeadKind::Request { method, .. } => slice(&self.raw, method),
            HeadKind::Response { .. } => b"",
        }
    }
    pub fn target(&self) -> &[u8] {
        match &self.kind {
            HeadKind::Request { target, .. } => slice(&self.raw, target),
            HeadKind::Response { .. } => b"",
        }
    }
    pub fn status(&self) -> u16 {
        match &self.kind {
            HeadKind::Response { status, .. } => *status,
            HeadKind::Request { .. } => 0,
        }
    }
    pub fn reason(&self) -> &[u8] {
        match &self.kind {
            HeadKind::Response { reason, .. } => slice(&self.raw, reason),
            HeadKind::Request { .. } => b"",
        }
    }
    /// All header lines in order, names as sent.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
        self.headers
            .iter()
            .map(|(n, v)| (slice(&self.raw, n), slice(&self.raw, v)))
    }
    /// Whether header line `(n, _)` is called `name` (ASCII case-insensitive). The lengths
    /// are compared first, from the ranges, so most lines are passed over without touching
    /// their bytes (every range lies within `raw`).
    fn is_named(&self, (n, _): &(Range<u32>, Range<u32>), name: &[u8]) -> bool {
        n.len() == name.len() && slice(&self.raw, n).eq_ignore_ascii_case(name)
    }
    /// The first value of `name` (ASCII case-insensitive), searched for; the fields the
    /// sensor reads on every message are indexed instead ([`Head::field`]).
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| self.is_named(h, name.as_bytes()))
            .map(|(_, v)| slice(&self.raw, v))
    }
    /// The first value of a field the sensor reads, without searching.
    pub fn field(&self, f: Field) -> Option<&[u8]> {
        let i = self.fields.first[f as usize];
        self.headers
            .get(i as usize)
            .map(|(_, v)| slice(&self.raw, v))
    }
    /// Every value of a field the sensor reads, in order; only the lines between its first
    /// and last occurrence are looked at.
    pub fn field_values(&self, f: Field) -> impl Iterator<Item = &[u8]> + '_ {
        let (first, last) = (self.fields.first[f as usize], self.fields.last[f as usize]);
        let lines = match (first, last) {
            (NOT_PRESENT, _) | (_, NOT_PRESENT) => &[][..],
            _ => self
                .headers
                .get(first as usize..=last as usize)
                .unwrap_or_default(),
        };
        let name = f.name().as_bytes();
        lines
            .iter()
            .filter(move |h| self.is_named(h, name))
            .map(|(_, v)| slice(&self.raw, v))
    }
    /// Heap bytes this head holds (for the memory cap).
    pub fn memory_bytes(&self) -> usize {
        self.raw.capacity()
            + self.headers.capacity() * std::mem::size_of::<(Range<u32>, Range<u32>)>()
    }

    pub fn version_string(&self) -> Cow<'static, str> {
        match self.version {
            (1, 1) => Cow::Borrowed("1.1"),
            (1, 0) => Cow::Borrowed("1.0"),
            (0, 9) => Cow::Borrowed("0.9"),
            (major, minor) => Cow::Owned(format!("{major}.{minor}")),
        }
    }
    /// A head for an HTTP/0.9 response, which has none on the wire.
    pub fn http09_response() -> Head {
        Head::new(
            Vec::new(),
            HeadKind::Response {
                status: 0,
                reason: 0..0,
            },
            (0, 9),
            Vec::new(),
            0,
        )
    }
}

/// Where a head ends in a buffer that starts at the head's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadEnd {
    /// Not yet: scan again from `resume` when more bytes arrive.
    Incomplete { resume: usize },
    /// The head is `buf[..len]`. `http09` when it is a version-less request line.
    Complete { len: usize, http09: bool },
}

/// Finds the end of a head: the first empty line (CRLF or bare LF). For requests a first
/// line without an HTTP version is an HTTP/0.9 request and ends at that line.
pub fn find_head_end(buf: &[u8], is_request: bool, from: usize) -> HeadEnd {
    if from == 0 {
        return find_head_end_fresh(buf, is_request);
    }
    find_head_end_walk(buf, is_request, from)
}

/// [`find_head_end`] line by line from `from` (resuming a scan of a growing buffer).
fn find_head_end_walk(buf: &[u8], is_request: bool, from: usize) -> HeadEnd {
    let from = from.min(buf.len());
    let mut line_start = memchr::memrchr(b'\n', &buf[..from]).map_or(0, |p| p + 1);
    let mut pos = from;
    while let Some(off) = memchr::memchr(b'\n', &buf[pos..]) {
        let i = pos + off;
        if line_start == 0 {
            // A version-less request line is HTTP/0.9 — unless header lines follow it, as
            // some clients send (then the head runs to the empty line as usual).
            if is_request && is_http09_line(&buf[..i]) && !starts_header_line(&buf[i + 1..]) {
                return HeadEnd::Complete {
                    len: i + 1,
                    http09: true,
                };
            }
        } else {
            let line = &buf[line_start..i];
            if line.is_empty() || line == b"\r" {
                return HeadEnd::Complete {
                    len: i + 1,
                    http09: false,
                };
            }
        }
        line_start = i + 1;
        pos = i + 1;
    }
    HeadEnd::Incomplete { resume: buf.len() }
}

static CRLF_EMPTY_LINE: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\n\r\n"));
static LF_EMPTY_LINE: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\n\n"));

/// [`find_head_end`] from the start of a head, with vectorised searches for the empty line
/// instead of a walk line by line (same result: the first line ending that closes an empty
/// line, `\n\r\n` or `\n\n`, after the first line).
fn find_head_end_fresh(buf: &[u8], is_request: bool) -> HeadEnd {
    let Some(first) = memchr::memchr(b'\n', buf) else {
        return HeadEnd::Incomplete { resume: buf.len() };
    };
    if is_request && is_http09_line(&buf[..first]) && !starts_header_line(&buf[first + 1..]) {
        return HeadEnd::Complete {
            len: first + 1,
            http09: true,
        };
    }
    let rest = &buf[first..];
    let crlf = CRLF_EMPTY_LINE.find(rest);
    // A bare-LF empty line counts only if it comes first; search no further than the CRLF one.
    let lf_window = crlf.map_or(rest, |p| &rest[..p + 2]);
    let end = match (LF_EMPTY_LINE.find(lf_window), crlf) {
        (Some(p), _) => p + 2,
        (None, Some(p)) => p + 3,
        (None, None) => return HeadEnd::Incomplete { resume: buf.len() },
    };
    HeadEnd::Complete {
        len: first + end,
        http09: false,
    }
}

/// Whether bytes start with `token:` (a header line).
fn starts_header_line(rest: &[u8]) -> bool {
    let name = rest.iter().take_while(|&&b| is_tchar(b)).count();
    name > 0 && rest.get(name) == Some(&b':')
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_http09_line(line: &[u8]) -> bool {
    let line = trim_cr(line);
    let last = line
        .split(|&b| b == b' ' || b == b'\t')
        .rfind(|t| !t.is_empty())
        .unwrap_or_default();
    !(last.len() >= 5 && last[..5].eq_ignore_ascii_case(b"HTTP/"))
}

/// RFC 9110 token characters.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether bytes could start a request: a method token then a space. `None`: too few bytes
/// to tell.
pub fn looks_like_request(buf: &[u8]) -> Option<bool> {
    for (i, &b) in buf.iter().enumerate().take(24) {
        if b == b' ' {
            return Some(i > 0);
        }
        if !is_tchar(b) {
            return Some(false);
        }
    }
    if buf.len() >= 24 {
        Some(false)
    } else {
        None
    }
}

/// Whether bytes could start a response (`HTTP/`, any case). `None`: too few bytes to tell.
pub fn looks_like_response(buf: &[u8]) -> Option<bool> {
    let n = buf.len().min(5);
    if !buf[..n].eq_ignore_ascii_case(&b"HTTP/"[..n]) {
        return Some(false);
    }
    if n == 5 {
        Some(true)
    } else {
        None
    }
}

fn parse_version(token: &[u8], anomalies: &mut AnomalySet) -> (u8, u8) {
    // token like HTTP/1.1 (any case)
    let v = token.get(5..).unwrap_or_default();
    let mut it = v.split(|&b| b == b'.');
    let major = it
        .next()
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse::<u8>().ok());
    let minor = it
        .next()
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse::<u8>().ok());
    match (major, minor) {
        (Some(1), Some(m @ (0 | 1))) => (1, m),
        (Some(a), Some(b)) => {
            anomalies.insert(HttpAnomaly::UnexpectedVersion);
            (a, b)
        }
        (Some(a), None) => {
            anomalies.insert(HttpAnomaly::UnexpectedVersion);
            (a, 0)
        }
        _ => {
            anomalies.insert(HttpAnomaly::UnexpectedVersion);
            (1, 0)
        }
    }
}

fn offset_of(base: &[u8], part: &[u8]) -> u32 {
    (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize) as u32
}

fn range_in(base: &[u8], part: &[u8]) -> Range<u32> {
    let start = offset_of(base, part);
    start..start + part.len() as u32
}

const STACK_HEADERS: usize = 64;

/// Room for `n` headers that httparse fills in (left uninitialised: httparse only hands back
/// the ones it wrote, so the slots need no clearing first).
fn uninit_headers<'b>(n: usize) -> Vec<MaybeUninit<httparse::Header<'b>>> {
    std::iter::repeat_with(MaybeUninit::uninit)
        .take(n)
        .collect()
}

/// Name and value ranges of httparse's headers within the head they were parsed from.
fn header_ranges(buf: &[u8], headers: &[httparse::Header<'_>]) -> Vec<(Range<u32>, Range<u32>)> {
    headers
        .iter()
        .map(|h| (range_in(buf, h.name.as_bytes()), range_in(buf, h.value)))
        .collect()
}

/// Whether `buf` has line feeds but not one CRLF: its lines end in bare LF only.
/// The usual head answers from its first line end, without a substring search.
fn only_bare_lf(buf: &[u8]) -> bool {
    match memchr::memchr(b'\n', buf) {
        None => false,
        Some(p) if p > 0 && buf[p - 1] == b'\r' => false,
        Some(p) => memmem::find(&buf[p..], b"\r\n").is_none(),
    }
}

/// Parses a request head (`buf` is exactly the head). `None` when it is not a request.
pub fn parse_request(
    buf: &[u8],
    http09: bool,
    max_headers: usize,
    anomalies: &mut AnomalySet,
) -> Option<Head> {
    if http09 {
        return parse_http09_request(buf, anomalies);
    }
    if only_bare_lf(buf) {
        anomalies.insert(HttpAnomaly::BareLf);
    }
    let mut stack = [const { MaybeUninit::uninit() }; STACK_HEADERS];
    let mut strict = parse_request_strict(buf, &mut stack[..max_headers.min(STACK_HEADERS)]);
    if matches!(strict, Err(httparse::Error::TooManyHeaders)) && max_headers > STACK_HEADERS {
        let mut heap = uninit_headers(max_headers);
        strict = parse_request_strict(buf, &mut heap);
    }
    if let Ok(h) = strict {
        return Some(h);
    }
    if let Err(httparse::Error::TooManyHeaders) = strict {
        anomalies.insert(HttpAnomaly::TooManyHeaders);
    }
    lenient(buf, true, max_headers, anomalies)
}

/// Parses a response head (`buf` is exactly the head).
pub fn parse_response(buf: &[u8], max_headers: usize, anomalies: &mut AnomalySet) -> Option<Head> {
    if only_bare_lf(buf) {
        anomalies.insert(HttpAnomaly::BareLf);
    }
    let mut stack = [const { MaybeUninit::uninit() }; STACK_HEADERS];
    let mut strict = parse_response_strict(buf, &mut stack[..max_headers.min(STACK_HEADERS)]);
    if matches!(strict, Err(httparse::Error::TooManyHeaders)) && max_headers > STACK_HEADERS {
        let mut heap = uninit_headers(max_headers);
        strict = parse_response_strict(buf, &mut heap);
    }
    if let Ok(h) = strict {
        return Some(h);
    }
    if let Err(httparse::Error::TooManyHeaders) = strict {
        anomalies.insert(HttpAnomaly::TooManyHeaders);
    }
    lenient(buf, false, max_headers, anomalies)
}

/// A head at the very start of `buf`, when httparse takes it whole there: the usual case of
/// a well-formed head that arrived in one piece, which spares the search for where it ends.
/// The head (and its length, `wire_len`) is what finding the end and parsing up to it gives
/// (property-tested); `None` sends the caller down that general path. Adds `bare_lf` to
/// `anomalies` as the general path does.
pub fn parse_leading(
    buf: &[u8],
    is_request: bool,
    max_headers: usize,
    anomalies: &mut AnomalySet,
) -> Option<Head> {
    let mut stack = [const { MaybeUninit::uninit() }; STACK_HEADERS];
    let headers = &mut stack[..max_headers.min(STACK_HEADERS)];
    let head = if is_request {
        parse_request_strict(buf, headers)
    } else {
        parse_response_strict(buf, headers)
    }
    .ok()?;
    if only_bare_lf(&head.raw) {
        anomalies.insert(HttpAnomaly::BareLf);
    }
    Some(head)
}

/// httparse on the head (`buf` starts with it; the head is the part httparse says is
/// complete); `Err(Partial)` stands for anything it did not accept.
fn parse_request_strict<'b>(
    buf: &'b [u8],
    headers: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Head, httparse::Error> {
    let mut req = httparse::Request::new(&mut []);
    let status = httparse::ParserConfig::default()
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .parse_request_with_uninit_headers(&mut req, buf, headers)?;
    let (httparse::Status::Complete(len), Some(method), Some(path), Some(minor)) =
        (status, req.method, req.path, req.version)
    else {
        return Err(httparse::Error::Token);
    };
    let buf = &buf[..len];
    let kind = HeadKind::Request {
        method: range_in(buf, method.as_bytes()),
        target: range_in(buf, path.as_bytes()),
    };
    let headers = header_ranges(buf, req.headers);
    Ok(Head::new(
        buf.to_vec(),
        kind,
        (1, minor),
        headers,
        buf.len() as u64,
    ))
}

fn parse_response_strict<'b>(
    buf: &'b [u8],
    headers: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Head, httparse::Error> {
    let mut resp = httparse::Response::new(&mut []);
    let status = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, headers)?;
    let (httparse::Status::Complete(len), Some(code), Some(minor)) =
        (status, resp.code, resp.version)
    else {
        return Err(httparse::Error::Token);
    };
    let buf = &buf[..len];
    let reason = resp.reason.unwrap_or("");
    let reason_range = if reason.is_empty() {
        0..0
    } else {
        range_in(buf, reason.as_bytes())
    };
    let headers = header_ranges(buf, resp.headers);
    Ok(Head::new(
        buf.to_vec(),
        HeadKind::Response {
            status: code,
            reason: reason_range,
        },
        (1, minor),
        headers,
        buf.len() as u64,
    ))
}

fn parse_http09_request(buf: &[u8], anomalies: &mut AnomalySet) -> Option<Head> {
    let line = trim_cr(buf.strip_suffix(b"\n").unwrap_or(buf));
    let mut tokens = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|t| !t.is_empty());
    let method = tokens.next()?;
    if !method.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    anomalies.insert(HttpAnomaly::Http09);
    let target = tokens.next().unwrap_or_default();
    let mut raw = Vec::with_capacity(method.len() + target.len());
    raw.extend_from_slice(method);
    raw.extend_from_slice(target);
    let m = method.len() as u32;
    Some(Head::new(
        raw,
        HeadKind::Request {
            method: 0..m,
            target: m..m + target.len() as u32,
        },
        (0, 9),
        Vec::new(),
        buf.len() as u64,
    ))
}

/// Lenient head reader: line by line, LF or CRLF, obs-fold joined, lines without a colon
/// skipped. Builds a normalised copy of the head that names and values point into.
fn lenient(
    buf: &[u8],
    is_request: bool,
    max_headers: usize,
    anomalies: &mut AnomalySet,
) -> Option<Head> {
    let mut lines = buf.split(|&b| b == b'\n').map(trim_cr);
    let first = lines.next()?;
    let mut raw: Vec<u8> = Vec::with_capacity(buf.len());
    let kind;
    let version;
    if is_request {
        let first = first.trim_ascii();
        let sp = first.iter().position(|&b| b == b' ' || b == b'\t')?;
        let method = &first[..sp];
        if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
            return None;
        }
        let rest = first[sp..].trim_ascii();
        let (target, ver) = match rest.iter().rposition(|&b| b == b' ' || b == b'\t') {
            Some(p)
                if rest[p + 1..].len() >= 5
                    && rest[p + 1..p + 6].eq_ignore_ascii_case(b"HTTP/") =>
            {
                (rest[..p].trim_ascii(), Some(&rest[p + 1..]))
            }
            _ if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case(b"HTTP/") => {
                (&b""[..], Some(rest))
            }
            _ => (rest, None),
        };
        version = match ver {
            Some(v) => parse_version(v, anomalies),
            None => {
                anomalies.insert(HttpAnomaly::Http09);
                (0, 9)
            }
        };
        raw.extend_from_slice(method);
        raw.extend_from_slice(target);
        let m = method.len() as u32;
        kind = HeadKind::Request {
            method: 0..m,
            target: m..m + target.len() as u32,
        };
    } else {
        let first = first.trim_ascii();
        if first.len() < 5 || !first[..5].eq_ignore_ascii_case(b"HTTP/") {
            return None;
        }
        let sp = first.iter().position(|&b| b == b' ' || b == b'\t');
        let (ver, rest) = match sp {
            Some(p) => (&first[..p], first[p..].trim_ascii()),
            None => (first, &b""[..]),
        };
        version = parse_version(ver, anomalies);
        let code_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let status = std::str::from_utf8(&rest[..code_len])
            .ok()
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|_| code_len == 3)?;
        let reason = rest[code_len..].trim_ascii();
        raw.extend_from_slice(reason);
        kind = HeadKind::Response {
            status,
            reason: 0..reason.len() as u32,
        };
    }
    let mut headers: Vec<(Range<u32>, Range<u32>)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // obs-fold: continue the previous value
            anomalies.insert(HttpAnomaly::ObsFold);
            if let Some((_, v)) = headers.last_mut() {
                if v.end as usize == raw.len() {
                    if v.end > v.start {
                        raw.push(b' ');
                    }
                    raw.extend_from_slice(line.trim_ascii());
                    v.end = raw.len() as u32;
                }
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            anomalies.insert(HttpAnomaly::MalformedHeaderLine);
            continue;
        };
        if headers.len() >= max_headers {
            anomalies.insert(HttpAnomaly::TooManyHeaders);
            continue;
        }
        let name_raw = &line[..colon];
        let name = name_raw.trim_ascii();
        if name.len() != name_raw.len() {
            anomalies.insert(HttpAnomaly::SpaceBeforeColon);
        }
        let value = line[colon + 1..].trim_ascii();
        let ns = raw.len() as u32;
        raw.extend_from_slice(name);
        let vs = raw.len() as u32;
        raw.extend_from_slice(value);
        headers.push((ns..vs, vs..raw.len() as u32));
    }
    anomalies.insert(HttpAnomaly::MalformedHead);
    Some(Head::new(raw, kind, version, headers, buf.len() as u64))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The vectorised search from a head's start agrees with the line walk on any bytes
        /// (an alphabet rich in line endings, spaces, colons and version text).
        #[test]
        fn fresh_head_search_matches_line_walk(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"\r\n\r\n a:HTTP/1.GET".to_vec()), 0..80),
            is_request in any::<bool>(),
        ) {
            prop_assert_eq!(
                super::find_head_end_fresh(&bytes, is_request),
                super::find_head_end_walk(&bytes, is_request, 0)
            );
        }
    }

    use super::*;

    /// Bytes that look like a head most of the time: a request or status line, header lines
    /// with names and values drawn from tricky sets, CRLF or bare-LF line ends, an empty line
    /// (or not), body bytes after it; then a few bytes overwritten at random.
    fn head_like() -> impl Strategy<Value = Vec<u8>> {
        let first = proptest::sample::select(vec![
            &b"GET /a?b=1 HTTP/1.1"[..],
            b"POST /x HTTP/1.0",
            b"GET  /two-spaces  HTTP/1.1",
            b"GET /HTTP/1.1",
            b"PUT / HTTP/2.0",
            b"HTTP/1.1 200 OK",
            b"HTTP/1.0 404 Not Found",
            b"HTTP/1.1 204 ",
            b"HTTP/1.1 999",
            b"G\tET / HTTP/1.1",
        ]);
        let name = proptest::sample::select(vec![
            &b"Host"[..],
            b"content-length",
            b"Transfer-Encoding",
            b"X-A",
            b"User-Agent",
            b"Host",
            b"X-A",
            b"Content-Type",
            b"Bad Name",
            b"",
        ]);
        // Mostly ordinary value bytes; now and then a control byte or a line end.
        let value = proptest::collection::vec(
            prop_oneof![
                30 => proptest::sample::select(b"abcdefghijklmnopqrstuvwxyz 0123456789;:,=/.-\t".to_vec()),
                1 => proptest::sample::select(b"\r\n\x80\x00".to_vec()),
            ],
            0..8,
        );
        let eol =
            prop_oneof![8 => Just(&b"\r\n"[..]), 1 => Just(&b"\n"[..]), 1 => Just(&b"\r"[..])];
        let fold = proptest::bool::weighted(0.1);
        let line = (name, value, eol.clone(), fold);
        (
            first,
            eol.clone(),
            proptest::collection::vec(line, 0..6),
            proptest::option::weighted(0.9, eol),
            proptest::collection::vec(any::<u8>(), 0..6),
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..2),
        )
            .prop_map(|(first, eol1, lines, end, body, edits)| {
                let mut b = first.to_vec();
                b.extend_from_slice(eol1);
                for (n, v, e, fold) in lines {
                    if fold {
                        b.push(b' ');
                    }
                    b.extend_from_slice(n);
                    b.extend_from_slice(b": ");
                    b.extend_from_slice(&v);
                    b.extend_from_slice(e);
                }
                if let Some(e) = end {
                    b.extend_from_slice(e);
                }
                b.extend_from_slice(&body);
                for (at, byte) in edits {
                    if !b.is_empty() {
                        let i = at.index(b.len());
                        b[i] = byte;
                    }
                }
                b
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// A head parsed where it starts is the one the general path finds: its end where
        /// the end search puts it, and the same head and anomalies as parsing up to that end.
        #[test]
        fn leading_parse_matches_find_end_then_parse(bytes in head_like(), is_request in any::<bool>()) {
            let mut quick = AnomalySet::default();
            if let Some(h) = parse_leading(&bytes, is_request, 16, &mut quick) {
                let len = h.wire_len as usize;
                prop_assert_eq!(
                    find_head_end(&bytes, is_request, 0),
                    HeadEnd::Complete { len, http09: false }
                );
                let mut general = AnomalySet::default();
                let g = if is_request {
                    parse_request(&bytes[..len], false, 16, &mut general)
                } else {
                    parse_response(&bytes[..len], 16, &mut general)
                };
                prop_assert_eq!(Some(h), g);
                prop_assert_eq!(quick, general);
            }
        }
    }

    /// The generator above reaches both outcomes often (a property over inputs that never
    /// parse would prove nothing).
    #[test]
    fn head_like_inputs_often_parse_and_often_do_not() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (mut parsed, mut not) = (0, 0);
        for i in 0..2000 {
            let bytes = head_like().new_tree(&mut runner).unwrap().current();
            let mut a = AnomalySet::default();
            let is_request = !bytes.starts_with(b"HTTP/") || i % 7 == 0;
            match parse_leading(&bytes, is_request, 16, &mut a) {
                Some(_) => parsed += 1,
                None => not += 1,
            }
        }
        assert!(parsed > 200 && not > 200, "parsed {parsed}, not {not}");
    }

    fn req(buf: &[u8]) -> (Head, AnomalySet) {
        let mut a = AnomalySet::default();
        let HeadEnd::Complete { len, http09 } = find_head_end(buf, true, 0) else {
            panic!("incomplete")
        };
        (parse_request(&buf[..len], http09, 128, &mut a).unwrap(), a)
    }

    /// The word-at-a-time name comparison agrees with `eq_ignore_ascii_case` for every
    /// name the index knows against every byte at every position, and on every length.
    #[test]
    fn lowercase_name_comparison_matches_eq_ignore_ascii_case() {
        for f in Field::ALL {
            let want = f.name().as_bytes();
            assert!(eq_lowercase_name(want, want));
            assert!(!eq_lowercase_name(&want[1..], want));
            for at in 0..want.len() {
                for b in 0..=255u8 {
                    let mut name = want.to_vec();
                    name[at] = b;
                    assert_eq!(
                        eq_lowercase_name(&name, want),
                        name.eq_ignore_ascii_case(want),
                        "{f:?} with {b:#04x} at {at}"
                    );
                }
            }
            let upper = want.to_ascii_uppercase();
            assert!(eq_lowercase_name(&upper, want));
        }
        assert!(eq_lowercase_name(b"X-Api-Key-2", b"x-api-key-2"));
        assert!(!eq_lowercase_name(b"X-Api-Key\r2", b"x-api-key-2"));
    }

    /// The index answers exactly what a search of every line by name does: first value and
    /// every value, in order, through duplicates, case variants, look-alike names of the same
    /// length and the lenient reader's heads.
    #[test]
    fn field_index_agrees_with_a_search_by_name() {
        let heads: [&[u8]; 4] = [
            b"POST /a HTTP/1.1\r\nHOST: x\r\nContent-Length: 5\r\nX-Long-Header-Nam: 1\r\n\
              content-length: 6\r\nTransfer-Encoding: gzip\r\nhosT: y\r\n\
              transfer-encoding: chunked\r\nUser-Agent: ua\r\nContent-Type: a/b\r\n\
              Content-Encoding: br\r\nUpgrade: h2c\r\nHost: z\r\n\r\n",
            b"GET / HTTP/1.1\r\nHots: x\r\nContent-Lengtx: 5\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : a\r\nContent-Length: 1\r\n folded\r\n\r\n",
            b"GET /\r\n",
        ];
        for raw in heads {
            let (h, _) = req(raw);
            for f in Field::ALL {
                let searched: Vec<&[u8]> = h
                    .headers()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(f.name().as_bytes()))
                    .map(|(_, v)| v)
                    .collect();
                let indexed: Vec<&[u8]> = h.field_values(f).collect();
                assert_eq!(
                    indexed,
                    searched,
                    "{f:?} in {:?}",
                    String::from_utf8_lossy(raw)
                );
                assert_eq!(h.field(f), searched.first().copied(), "{f:?}");
                assert_eq!(h.field(f), h.value(f.name()), "{f:?}");
            }
        }
        let (h, _) = req(heads[0]);
        let hosts: Vec<&[u8]> = h.field_values(Field::Host).collect();
        assert_eq!(hosts, [&b"x"[..], b"y", b"z"]);
        assert_eq!(h.field(Field::ContentLength), Some(&b"5"[..]));
    }

    #[test]
    fn strict_request() {
        let (h, a) = req(b"GET /a?b=1 HTTP/1.1\r\nHost: x.test:8080\r\nUser-Agent: t\r\n\r\nBODY");
        assert_eq!(h.method(), b"GET");
        assert_eq!(h.target(), b"/a?b=1");
        assert_eq!(h.version, (1, 1));
        assert_eq!(h.value("host"), Some(&b"x.test:8080"[..]));
        assert_eq!(h.wire_len, 57);
        assert!(a.is_empty());
    }

    #[test]
    fn head_end_waits_for_blank_line_and_resumes() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\n";
        assert_eq!(
            find_head_end(buf, true, 0),
            HeadEnd::Incomplete { resume: buf.len() }
        );
        let full = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(
            find_head_end(full, true, buf.len()),
            HeadEnd::Complete {
                len: full.len(),
                http09: false
            }
        );
    }

    #[test]
    fn bare_lf_head() {
        let (h, a) = req(b"GET / HTTP/1.0\nHost: a\n\n");
        assert_eq!(h.value("Host"), Some(&b"a"[..]));
        assert!(a.contains(HttpAnomaly::BareLf));
    }

    #[test]
    fn obs_fold_is_joined_and_flagged() {
        let (h, a) = req(b"POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\nHost: a\r\n\r\n");
        assert_eq!(h.value("transfer-encoding"), Some(&b"chunked"[..]));
        assert!(a.contains(HttpAnomaly::ObsFold));
        assert!(a.contains(HttpAnomaly::MalformedHead));
    }

    #[test]
    fn http09_request_line() {
        let (h, a) = req(b"GET /zeek.html\r\n");
        assert_eq!(h.version, (0, 9));
        assert_eq!(h.target(), b"/zeek.html");
        assert!(a.contains(HttpAnomaly::Http09));
    }

    #[test]
    fn versionless_request_line_with_headers_keeps_them() {
        let (h, a) = req(b"GET /HTTP/1.1\r\nHost: www.example.test\r\n\r\n");
        assert_eq!(h.version, (0, 9));
        assert_eq!(h.target(), b"/HTTP/1.1");
        assert_eq!(h.value("host"), Some(&b"www.example.test"[..]));
        assert!(a.contains(HttpAnomaly::Http09));
    }

    #[test]
    fn request_target_with_spaces_is_kept_whole() {
        let (h, _) = req(b"CONNECT mail.test:25 / HTTP/1.0\r\n\r\n");
        assert_eq!(h.method(), b"CONNECT");
        assert_eq!(h.target(), b"mail.test:25 /");
        assert_eq!(h.version, (1, 0));
    }

    #[test]
    fn response_strict_and_lenient() {
        let mut a = AnomalySet::default();
        let h = parse_response(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n",
            128,
            &mut a,
        )
        .unwrap();
        assert_eq!(h.status(), 404);
        assert_eq!(h.reason(), b"Not Found");
        let h = parse_response(b"HTTP/1.1 200\r\nX: a\r\n b\r\n\r\n", 128, &mut a).unwrap();
        assert_eq!(h.status(), 200);
        assert_eq!(h.value("x"), Some(&b"a b"[..]));
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", 128, &mut a).is_none());
    }

    #[test]
    fn prefix_detection() {
        assert_eq!(looks_like_request(b"GET / HTTP/1.1"), Some(true));
        assert_eq!(looks_like_request(b"GE"), None);
        assert_eq!(looks_like_request(b"\x16\x03\x01"), Some(false));
        assert_eq!(looks_like_response(b"HTTP/1.1 200"), Some(true));
        assert_eq!(looks_like_response(b"HT"), None);
        assert_eq!(looks_like_response(b"SSH-2"), Some(false));
    }

    #[test]
    fn too_many_headers_are_cut_not_fatal() {
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..10 {
            buf.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        let mut a = AnomalySet::default();
        let h = parse_request(&buf, false, 4, &mut a).unwrap();
        assert_eq!(h.headers().count(), 4);
        assert!(a.contains(HttpAnomaly::TooManyHeaders));
    }

    #[test]
    fn more_headers_than_the_stack_holds_are_parsed_strictly() {
        for (start, parse_as_request) in [
            (&b"GET / HTTP/1.1\r\n"[..], true),
            (b"HTTP/1.1 200 OK\r\n", false),
        ] {
            let mut buf = start.to_vec();
            for i in 0..STACK_HEADERS + 10 {
                buf.extend_from_slice(format!("X-{i}: v{i}\r\n").as_bytes());
            }
            buf.extend_from_slice(b"\r\n");
            let mut a = AnomalySet::default();
            let h = if parse_as_request {
                parse_request(&buf, false, 128, &mut a)
            } else {
                parse_response(&buf, 128, &mut a)
            }
            .unwrap();
            assert!(a.is_empty(), "{a:?}");
            assert_eq!(h.headers().count(), STACK_HEADERS + 10);
            assert_eq!(h.value("x-70"), Some(&b"v70"[..]));
        }
    }

    #[test]
    fn every_prefix_of_a_head_is_safe() {
        let buf = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
        for n in 0..buf.len() {
            let mut a = AnomalySet::default();
            let _ = find_head_end(&buf[..n], true, 0);
            let _ = parse_request(&buf[..n], false, 128, &mut a);
            let _ = parse_response(&buf[..n], 128, &mut a);
        }
    }
}
