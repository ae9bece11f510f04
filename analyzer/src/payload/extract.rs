//! Extraction: every attacker-controlled location of one request, as named parameters.
//!
//! Locations: the path (whole, for traversal) and its segments, query parameters,
//! urlencoded form fields, JSON bodies (every string leaf, nested, named by its JSON path
//! such as `user.tags[2]`), multipart fields and file names, XML bodies (text and attributes,
//! named by element path; the DOCTYPE declaration as its own location for XXE) and headers
//! (User-Agent, Referer, X-Forwarded-For and friends, custom headers; cookies split into
//! their values). Parameter names that are not plain identifiers are examined as values too.
//!
//! Invariants: no input panics (truncated and malformed JSON/XML/multipart included); the
//! work is bounded by [`ExtractLimits`] — parameter count, nesting depth, bytes per value and
//! bytes per request — and every limit hit is recorded in [`LimitsHit`] for the caller to
//! count and report. Values are borrowed from the request unless they had to be unescaped.

use super::input::RequestParts;
use std::borrow::Cow;
use std::sync::LazyLock;

/// Where in the request a parameter was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// The whole request path (examined for traversal only).
    Path,
    PathSegment,
    Query,
    Form,
    Json,
    Multipart,
    MultipartFilename,
    Xml,
    /// An XML `<!DOCTYPE …>` declaration.
    XmlDoctype,
    Header,
    Cookie,
    /// A body of no known structure, examined whole.
    Body,
}

impl Place {
    /// Snake_case name used in findings and alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Path => "path",
            Place::PathSegment => "path_segment",
            Place::Query => "query",
            Place::Form => "form",
            Place::Json => "json",
            Place::Multipart => "multipart",
            Place::MultipartFilename => "multipart_filename",
            Place::Xml => "xml",
            Place::XmlDoctype => "xml_doctype",
            Place::Header => "header",
            Place::Cookie => "cookie",
            Place::Body => "body",
        }
    }
    /// Whether `+` means a space in values from here.
    pub fn plus_is_space(self) -> bool {
        matches!(self, Place::Query | Place::Form)
    }
}

/// One attacker-controlled value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param<'a> {
    pub place: Place,
    /// Parameter name: query/form key, JSON path, XML element path, header or cookie name.
    pub name: Cow<'a, str>,
    pub value: Cow<'a, [u8]>,
}

/// Bounds on extraction work per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Parameters extracted per request; the rest are skipped.
    pub max_params: usize,
    /// JSON/XML nesting depth followed; deeper content is skipped.
    pub max_depth: usize,
    /// Bytes of one value examined; longer values are cut.
    pub max_value_bytes: usize,
    /// Bytes of values examined per request, all locations together.
    pub max_request_bytes: usize,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            max_params: 256,
            max_depth: 32,
            max_value_bytes: 4096,
            max_request_bytes: 64 * 1024,
        }
    }
}

/// Which extraction limits one request hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitsHit {
    pub params: bool,
    pub depth: bool,
    pub value_bytes: bool,
    pub request_bytes: bool,
}

impl LimitsHit {
    pub fn any(&self) -> bool {
        self.params || self.depth || self.value_bytes || self.request_bytes
    }
    /// Snake_case anomaly names of the limits hit.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.params {
            v.push("payload_too_many_params");
        }
        if self.depth {
            v.push("payload_too_deep");
        }
        if self.value_bytes {
            v.push("payload_value_truncated");
        }
        if self.request_bytes {
            v.push("payload_request_bytes_exceeded");
        }
        v
    }
}

/// The extracted parameters of one request.
#[derive(Debug, Default)]
pub struct Extracted<'a> {
    pub params: Vec<Param<'a>>,
    pub limits_hit: LimitsHit,
    /// Bytes of values taken (after per-value cuts).
    pub bytes: usize,
}

struct Sink<'a, 'l> {
    out: Extracted<'a>,
    lim: &'l ExtractLimits,
    full: bool,
}

impl<'a> Sink<'a, '_> {
    fn push(&mut self, place: Place, name: Cow<'a, str>, value: Cow<'a, [u8]>) {
        if self.full {
            return;
        }
        if value.is_empty() {
            return;
        }
        if self.out.params.len() >= self.lim.max_params {
            self.out.limits_hit.params = true;
            self.full = true;
            return;
        }
        let mut value = value;
        if value.len() > self.lim.max_value_bytes {
            self.out.limits_hit.value_bytes = true;
            value = match value {
                Cow::Borrowed(b) => Cow::Borrowed(&b[..self.lim.max_value_bytes]),
                Cow::Owned(mut v) => {
                    v.truncate(self.lim.max_value_bytes);
                    Cow::Owned(v)
                }
            };
        }
        let left = self.lim.max_request_bytes.saturating_sub(self.out.bytes);
        if value.len() > left {
            self.out.limits_hit.request_bytes = true;
            self.full = true;
            if left == 0 {
                return;
            }
            value = Cow::Owned(value[..left].to_vec());
        }
        self.out.bytes += value.len();
        self.out.params.push(Param { place, name, value });
    }
}

/// A parameter name from bytes (at most 128 of them), invalid UTF-8 replaced. Validating
/// first: names are almost always UTF-8, and `from_utf8` checks that faster than the lossy
/// chunk iterator.
fn lossy(b: &[u8]) -> Cow<'_, str> {
    let b = &b[..b.len().min(128)];
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

fn is_plain_name(b: &[u8]) -> bool {
    b.iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'[' | b']'))
}

/// Extracts every parameter of a request within `lim`.
pub fn extract<'a>(req: &RequestParts<'a>, lim: &ExtractLimits) -> Extracted<'a> {
    let mut sink = Sink {
        out: Extracted {
            // Room for a typical request; 16 parameters stay under the allocator's small-block
            // size (its fast path).
            params: Vec::with_capacity(16),
            ..Extracted::default()
        },
        lim,
        full: false,
    };
    let target = req.target;
    let (path, query) = match memchr::memchr(b'?', target) {
        Some(q) => (&target[..q], Some(&target[q + 1..])),
        None => (target, None),
    };
    let path = strip_fragment(strip_authority(path));
    path_params(path, &mut sink);
    if let Some(q) = query {
        urlencoded(strip_fragment(q), Place::Query, &mut sink);
    }
    body_params(req, &mut sink);
    header_params(req, &mut sink);
    sink.out
}

fn strip_fragment(b: &[u8]) -> &[u8] {
    match memchr::memchr(b'#', b) {
        Some(p) => &b[..p],
        None => b,
    }
}

/// `http://host:port/path` → `/path` (absolute-form request-targets).
fn strip_authority(path: &[u8]) -> &[u8] {
    if path.first() == Some(&b'/') {
        // Origin form: a `://` later in it follows a `/`, never a scheme of letters alone.
        return path;
    }
    if let Some(p) = memchr::memmem::find(path, b"://") {
        if path[..p].iter().all(|c| c.is_ascii_alphabetic()) {
            let rest = &path[p + 3..];
            return match memchr::memchr(b'/', rest) {
                Some(s) => &rest[s..],
                None => b"/",
            };
        }
    }
    path
}

fn path_params<'a>(path: &'a [u8], sink: &mut Sink<'a, '_>) {
    if path.len() <= 1 {
        return;
    }
    let needs_whole = path
        .iter()
        .any(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'/' | b'-' | b'_')));
    if !needs_whole {
        // Every segment is then made of letters, digits, `-` and `_`: a plain name.
        return;
    }
    sink.push(Place::Path, Cow::Borrowed("path"), Cow::Borrowed(path));
    for (i, seg) in path
        .split(|&c| c == b'/')
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        if is_plain_name(seg) {
            continue;
        }
        sink.push(
            Place::PathSegment,
            Cow::Owned(format!("path[{i}]")),
            Cow::Borrowed(seg),
        );
    }
}

fn urlencoded<'a>(s: &'a [u8], place: Place, sink: &mut Sink<'a, '_>) {
    for pair in s.split(|&c| c == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = match memchr::memchr(b'=', pair) {
            Some(e) => (&pair[..e], &pair[e + 1..]),
            None => (pair, &b""[..]),
        };
        let name = if k.contains(&b'%') || k.contains(&b'+') {
            let mut t = super::normalize::Transforms::default();
            match super::normalize::percent_decode(k, true, &mut t) {
                Some(d) => Cow::Owned(lossy(&d).into_owned()),
                None => lossy(k),
            }
        } else {
            lossy(k)
        };
        if !is_plain_name(k) {
            sink.push(place, Cow::Borrowed("(name)"), Cow::Borrowed(k));
        }
        sink.push(place, name, Cow::Borrowed(v));
    }
}

fn body_params<'a>(req: &RequestParts<'a>, sink: &mut Sink<'a, '_>) {
    let body = req.body;
    if body.is_empty() {
        return;
    }
    let ct = req.content_type.unwrap_or(b"");
    // Content types are short: a window compare ignoring case needs no lowered copy and no
    // substring searcher built per request.
    let contains = |needle: &[u8]| {
        ct.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    if contains(b"multipart/") {
        let boundary = req.content_type.and_then(boundary_of);
        match boundary {
            Some(b) => multipart(body, b, sink),
            None => sink.push(Place::Body, Cow::Borrowed("body"), Cow::Borrowed(body)),
        }
    } else if contains(b"x-www-form-urlencoded") {
        urlencoded(body, Place::Form, sink);
    } else if contains(b"json") {
        json(body, Place::Json, "", sink);
    } else if contains(b"xml") || contains(b"soap") {
        xml(body, sink);
    } else {
        let first = body.iter().find(|c| !c.is_ascii_whitespace()).copied();
        match first {
            Some(b'{') | Some(b'[') => json(body, Place::Json, "", sink),
            Some(b'<') => xml(body, sink),
            Some(_) => sink.push(Place::Body, Cow::Borrowed("body"), Cow::Borrowed(body)),
            None => {}
        }
    }
}

fn boundary_of(ct: &[u8]) -> Option<&[u8]> {
    let lower = ct.to_ascii_lowercase();
    let p = memchr::memmem::find(&lower, b"boundary=")?;
    let mut b = &ct[p + 9..];
    if let Some(e) = memchr::memchr(b';', b) {
        b = &b[..e];
    }
    let b = b.trim_ascii();
    let b = b
        .strip_prefix(b"\"")
        .and_then(|x| x.strip_suffix(b"\""))
        .unwrap_or(b);
    (!b.is_empty() && b.len() <= 200).then_some(b)
}

fn multipart<'a>(body: &'a [u8], boundary: &[u8], sink: &mut Sink<'a, '_>) {
    let mut delim = Vec::with_capacity(boundary.len() + 2);
    delim.extend_from_slice(b"--");
    delim.extend_from_slice(boundary);
    let finder = memchr::memmem::Finder::new(&delim);
    let mut starts: Vec<usize> = finder
        .find_iter(body)
        .take(sink.lim.max_params + 1)
        .collect();
    starts.push(body.len());
    for w in starts.windows(2) {
        let (s, e) = (w[0] + delim.len(), w[1]);
        if s >= e {
            continue;
        }
        let part = &body[s..e];
        if part.starts_with(b"--") {
            break;
        }
        let part = part
            .strip_prefix(b"\r\n")
            .or_else(|| part.strip_prefix(b"\n"))
            .unwrap_or(part);
        let (head, content) = match memchr::memmem::find(part, b"\r\n\r\n") {
            Some(h) => (&part[..h], &part[h + 4..]),
            None => match memchr::memmem::find(part, b"\n\n") {
                Some(h) => (&part[..h], &part[h + 2..]),
                None => (part, &b""[..]),
            },
        };
        let content = content
            .strip_suffix(b"\r\n")
            .or_else(|| content.strip_suffix(b"\n"))
            .unwrap_or(content);
        let name = disposition_param(head, b"name").unwrap_or(b"part");
        let filename = disposition_param(head, b"filename");
        let name_s = lossy(name);
        if let Some(f) = filename {
            sink.push(Place::MultipartFilename, name_s.clone(), Cow::Borrowed(f));
        }
        let lower_head = head.to_ascii_lowercase();
        let is_json = memchr::memmem::find(&lower_head, b"json").is_some();
        let textual = content.iter().take(512).all(|&c| c >= 0x09 && c != 0x7f);
        if is_json {
            json(content, Place::Multipart, &name_s, sink);
        } else if textual {
            sink.push(Place::Multipart, name_s, Cow::Borrowed(content));
        }
    }
}

fn disposition_param<'a>(head: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(p) = memchr::memmem::find(&lower[from..], key) {
        let at = from + p;
        from = at + key.len();
        let before_ok = at == 0 || matches!(lower[at - 1], b' ' | b';' | b'\t');
        let rest = &head[from..];
        if before_ok && rest.first() == Some(&b'=') {
            let v = &rest[1..];
            if let Some(v) = v.strip_prefix(b"\"") {
                let end = memchr::memchr(b'"', v).unwrap_or(v.len());
                return Some(&v[..end]);
            }
            let end = v
                .iter()
                .position(|&c| matches!(c, b';' | b'\r' | b'\n'))
                .unwrap_or(v.len());
            return Some(v[..end].trim_ascii());
        }
    }
    None
}

enum Frame<'a> {
    Obj {
        /// The member's key as it names parameters (read once, however many leaves it has).
        key: Option<Cow<'a, str>>,
        want_key: bool,
    },
    Arr {
        index: u32,
    },
}

fn json_path(prefix: &str, stack: &[Frame<'_>]) -> String {
    let mut s = String::with_capacity(prefix.len() + 8 * stack.len());
    s.push_str(prefix);
    for f in stack {
        match f {
            Frame::Obj { key: Some(k), .. } => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Frame::Obj { key: None, .. } => {}
            Frame::Arr { index } => {
                s.push('[');
                s.push_str(itoa::Buffer::new().format(*index));
                s.push(']');
            }
        }
        if s.len() > 200 {
            break;
        }
    }
    if s.is_empty() {
        s.push('$');
    }
    s
}

/// Reads a JSON string starting after its opening quote; returns the decoded contents and
/// the index after the closing quote (or the end, when truncated).
fn json_string(b: &[u8], start: usize) -> (Cow<'_, [u8]>, usize) {
    let mut i = start;
    let mut escaped = false;
    // Jump from one quote or backslash to the next (SIMD search) instead of byte by byte.
    while let Some(at) = b
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
    {
        i += at;
        if b[i] == b'"' {
            break;
        }
        escaped = true;
        i += 2;
    }
    if b.get(i).is_none_or(|&c| c != b'"') {
        i = b.len();
    }
    let end = i.min(b.len());
    let raw = &b[start..end];
    let next = (end + 1).min(b.len());
    if !escaped {
        return (Cow::Borrowed(raw), next);
    }
    let mut t = super::normalize::Transforms::default();
    match super::normalize::json_escapes(raw, &mut t) {
        Some(v) => (Cow::Owned(v), next),
        None => (Cow::Borrowed(raw), next),
    }
}

/// Tolerant JSON walk: string leaves with their paths; truncated or malformed input ends the
/// walk quietly.
fn json<'a>(b: &'a [u8], place: Place, prefix: &str, sink: &mut Sink<'a, '_>) {
    let mut stack: Vec<Frame<'a>> = Vec::with_capacity(8);
    let mut i = 0;
    while i < b.len() && !sink.full {
        match b[i] {
            b'{' | b'[' => {
                if stack.len() >= sink.lim.max_depth {
                    sink.out.limits_hit.depth = true;
                    return;
                }
                stack.push(if b[i] == b'{' {
                    Frame::Obj {
                        key: None,
                        want_key: true,
                    }
                } else {
                    Frame::Arr { index: 0 }
                });
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                i += 1;
            }
            b',' => {
                match stack.last_mut() {
                    Some(Frame::Arr { index }) => *index = index.saturating_add(1),
                    Some(Frame::Obj { want_key, .. }) => *want_key = true,
                    None => {}
                }
                i += 1;
            }
            b':' => {
                if let Some(Frame::Obj { want_key, .. }) = stack.last_mut() {
                    *want_key = false;
                }
                i += 1;
            }
            b'"' => {
                let (s, next) = json_string(b, i + 1);
                i = next;
                if let Some(Frame::Obj {
                    key,
                    want_key: want @ true,
                }) = stack.last_mut()
                {
                    if !is_plain_name(&s) {
                        sink.push(place, Cow::Borrowed("(name)"), s.clone());
                    }
                    *key = Some(match s {
                        Cow::Borrowed(k) => lossy(k),
                        Cow::Owned(k) => Cow::Owned(lossy(&k).into_owned()),
                    });
                    *want = false;
                } else {
                    let name = match stack.as_slice() {
                        // A top-level member is named by its key alone: borrow it.
                        [Frame::Obj {
                            key: Some(Cow::Borrowed(k)),
                            ..
                        }] if prefix.is_empty() => Cow::Borrowed(*k),
                        _ => Cow::Owned(json_path(prefix, &stack)),
                    };
                    sink.push(place, name, s);
                }
            }
            _ => i += 1,
        }
    }
}

/// Tolerant XML walk: element text and attribute values named by element path, the DOCTYPE
/// declaration whole. Comments and processing instructions are skipped; CDATA is text.
fn xml<'a>(b: &'a [u8], sink: &mut Sink<'a, '_>) {
    let mut stack: Vec<&'a [u8]> = Vec::new();
    let mut i = 0;
    while i < b.len() && !sink.full {
        let rest = &b[i..];
        if rest[0] != b'<' {
            let end = memchr::memchr(b'<', rest).map(|e| i + e).unwrap_or(b.len());
            let text = b[i..end].trim_ascii();
            if !text.is_empty() {
                sink.push(
                    Place::Xml,
                    Cow::Owned(xml_path(&stack, None)),
                    Cow::Borrowed(text),
                );
            }
            i = end;
            continue;
        }
        if rest.starts_with(b"<!--") {
            i = memchr::memmem::find(&rest[4..], b"-->")
                .map(|e| i + 4 + e + 3)
                .unwrap_or(b.len());
        } else if rest.starts_with(b"<![CDATA[") {
            let body = &rest[9..];
            let end = memchr::memmem::find(body, b"]]>").unwrap_or(body.len());
            sink.push(
                Place::Xml,
                Cow::Owned(xml_path(&stack, None)),
                Cow::Borrowed(&body[..end]),
            );
            i += 9 + end + 3;
        } else if rest.starts_with(b"<!") {
            // DOCTYPE (with an internal subset in brackets) or another declaration.
            let end = match (memchr::memchr(b'[', rest), memchr::memchr(b'>', rest)) {
                (Some(o), Some(g)) if o < g => memchr::memmem::find(&rest[o..], b"]>")
                    .map(|e| o + e + 2)
                    .or_else(|| memchr::memchr(b'>', &rest[o..]).map(|e| o + e + 1)),
                (_, Some(g)) => Some(g + 1),
                _ => None,
            }
            .unwrap_or(rest.len());
            sink.push(
                Place::XmlDoctype,
                Cow::Borrowed("doctype"),
                Cow::Borrowed(&rest[..end]),
            );
            i += end;
        } else if rest.starts_with(b"<?") {
            i = memchr::memmem::find(rest, b"?>")
                .map(|e| i + e + 2)
                .unwrap_or(b.len());
        } else if rest.starts_with(b"</") {
            let end = memchr::memchr(b'>', rest).unwrap_or(rest.len());
            let name = rest[2..end].trim_ascii();
            if let Some(pos) = stack.iter().rposition(|n| *n == name) {
                stack.truncate(pos);
            } else {
                stack.pop();
            }
            i += end + 1;
        } else {
            let end = tag_end(rest);
            let tag = &rest[1..end];
            let self_closing = tag.last() == Some(&b'/');
            let tag = if self_closing {
                &tag[..tag.len() - 1]
            } else {
                tag
            };
            let name_len = tag
                .iter()
                .position(|c| c.is_ascii_whitespace())
                .unwrap_or(tag.len());
            let name = &tag[..name_len];
            let attrs = &tag[name_len..];
            if stack.len() >= sink.lim.max_depth {
                sink.out.limits_hit.depth = true;
                return;
            }
            if memchr::memmem::find(&tag.to_ascii_lowercase(), b"xinclude").is_some() {
                // The XInclude namespace declaration is what makes `href` an inclusion.
                sink.push(
                    Place::XmlDoctype,
                    Cow::Borrowed("xinclude"),
                    Cow::Borrowed(&rest[..(end + 1).min(rest.len())]),
                );
            }
            stack.push(name);
            xml_attrs(attrs, &stack, sink);
            if self_closing {
                stack.pop();
            }
            i += end + 1;
        }
    }
}

fn xml_path(stack: &[&[u8]], attr: Option<&[u8]>) -> String {
    let mut s = String::new();
    for (n, el) in stack.iter().enumerate() {
        if n > 0 {
            s.push('/');
        }
        s.push_str(&lossy(el));
        if s.len() > 200 {
            break;
        }
    }
    if let Some(a) = attr {
        s.push_str("/@");
        s.push_str(&lossy(a));
    }
    s
}

fn tag_end(rest: &[u8]) -> usize {
    let mut quote = None;
    for (k, &c) in rest.iter().enumerate().skip(1) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' => return k,
            None => {}
        }
    }
    rest.len()
}

fn xml_attrs<'a>(attrs: &'a [u8], stack: &[&'a [u8]], sink: &mut Sink<'a, '_>) {
    let mut i = 0;
    while i < attrs.len() {
        let Some(eq) = memchr::memchr(b'=', &attrs[i..]) else {
            return;
        };
        let name = attrs[i..i + eq].trim_ascii();
        let mut j = i + eq + 1;
        while j < attrs.len() && attrs[j].is_ascii_whitespace() {
            j += 1;
        }
        let (value, next) = match attrs.get(j) {
            Some(&q @ (b'"' | b'\'')) => {
                let v = &attrs[j + 1..];
                let e = memchr::memchr(q, v).unwrap_or(v.len());
                (&v[..e], j + 1 + e + 1)
            }
            Some(_) => {
                let v = &attrs[j..];
                let e = v
                    .iter()
                    .position(|c| c.is_ascii_whitespace())
                    .unwrap_or(v.len());
                (&v[..e], j + e)
            }
            None => (&b""[..], attrs.len()),
        };
        if !name.starts_with(b"xmlns") {
            sink.push(
                Place::Xml,
                Cow::Owned(xml_path(stack, Some(name))),
                Cow::Borrowed(value),
            );
        }
        i = next.min(attrs.len());
    }
}

/// What the engine does with a request header, by its lowercased name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderKind {
    /// Never examined: framing, encodings and credentials (hashed by the sensor).
    Skip,
    /// Split into one parameter per cookie.
    Cookie,
    /// A common header: its parameter name is borrowed from here.
    Inspected(&'static str),
    /// Any other header: examined under its own (lowercased) name.
    Other,
}

/// Headers never examined: framing, encodings and credentials (hashed by the sensor).
const SKIP_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "accept-encoding",
    "content-encoding",
    "authorization",
    "proxy-authorization",
    "content-type",
    "if-none-match",
    "if-modified-since",
    "x-request-id",
    "x-correlation-id",
    "traceparent",
    "tracestate",
];

/// Common request headers that are inspected, in lowercase: a name sent as `User-Agent`
/// borrows its parameter name from here instead of lowering it into a new string.
const INSPECTED_HEADERS: &[&str] = &[
    "host",
    "user-agent",
    "accept",
    "accept-language",
    "referer",
    "origin",
    "x-forwarded-for",
    "x-real-ip",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-api-key",
    "x-api-version",
    "cache-control",
    "pragma",
    "dnt",
    "x-requested-with",
];

/// The listed header names by length: a lowered name is compared only with the listed names
/// as long as it (none to four), not with every name on the lists.
static HEADER_KINDS: LazyLock<Vec<Vec<(&'static str, HeaderKind)>>> = LazyLock::new(|| {
    let mut by_len = vec![Vec::new(); MAX_HEADER_NAME + 1];
    let listed = SKIP_HEADERS
        .iter()
        .map(|&n| (n, HeaderKind::Skip))
        .chain([("cookie", HeaderKind::Cookie)])
        .chain(
            INSPECTED_HEADERS
                .iter()
                .map(|&n| (n, HeaderKind::Inspected(n))),
        );
    for (name, kind) in listed {
        by_len[name.len()].push((name, kind));
    }
    by_len
});

/// The kind of the header whose lowercased name is `lower` (at most [`MAX_HEADER_NAME`] bytes).
fn header_kind(lower: &[u8]) -> HeaderKind {
    HEADER_KINDS
        .get(lower.len())
        .and_then(|same_len| {
            // The first byte rules out most names of the same length without a compare call.
            same_len
                .iter()
                .find(|(n, _)| n.as_bytes().first() == lower.first() && n.as_bytes() == lower)
        })
        .map_or(HeaderKind::Other, |&(_, kind)| kind)
}

/// Longest header name examined; longer names are skipped.
const MAX_HEADER_NAME: usize = 64;

fn header_params<'a>(req: &RequestParts<'a>, sink: &mut Sink<'a, '_>) {
    for (name, value) in req.headers.iter() {
        if name.len() > MAX_HEADER_NAME || name.starts_with(b"sec-") || name.starts_with(b"Sec-") {
            continue;
        }
        let mut buf = [0u8; MAX_HEADER_NAME];
        let lower = if req.names_lowercase {
            debug_assert!(
                !name.iter().any(u8::is_ascii_uppercase),
                "header names said to be lowercase are"
            );
            name
        } else {
            // Lowered on the stack, the whole buffer at once (a fixed length the compiler
            // turns into a few vector operations).
            buf[..name.len()].copy_from_slice(name);
            for b in &mut buf {
                *b = b.to_ascii_lowercase();
            }
            &buf[..name.len()]
        };
        let kind = header_kind(lower);
        let name = match kind {
            HeaderKind::Skip => continue,
            HeaderKind::Cookie => {
                for c in value.split(|&c| c == b';') {
                    let c = c.trim_ascii();
                    let (k, v) = match memchr::memchr(b'=', c) {
                        Some(e) => (&c[..e], &c[e + 1..]),
                        None => (&b""[..], c),
                    };
                    sink.push(Place::Cookie, lossy(k), Cow::Borrowed(v));
                }
                continue;
            }
            HeaderKind::Inspected(k) => Cow::Borrowed(k),
            HeaderKind::Other => match std::str::from_utf8(name) {
                Ok(n) if lower == name => Cow::Borrowed(n),
                _ => Cow::Owned(lossy(name).to_ascii_lowercase()),
            },
        };
        sink.push(Place::Header, name, Cow::Borrowed(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(
        target: &'a [u8],
        headers: Vec<(&'a [u8], &'a [u8])>,
        body: &'a [u8],
    ) -> RequestParts<'a> {
        RequestParts::new(b"POST", target, headers, body)
    }

    /// The byte-at-a-time string scan `json_string` replaced with a SIMD search.
    fn json_string_bytewise(b: &[u8], start: usize) -> (Vec<u8>, usize) {
        let mut i = start;
        let mut escaped = false;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                b'"' => break,
                _ => i += 1,
            }
        }
        let end = i.min(b.len());
        let raw = &b[start..end];
        let next = (end + 1).min(b.len());
        let mut t = super::super::normalize::Transforms::default();
        let v = if escaped {
            super::super::normalize::json_escapes(raw, &mut t).unwrap_or(raw.to_vec())
        } else {
            raw.to_vec()
        };
        (v, next)
    }

    #[test]
    fn json_strings_end_where_a_bytewise_scan_ends() {
        // Every string of up to 7 bytes over quote, backslash, `u` and `a`, from each start.
        let alphabet = [b'"', b'\\', b'u', b'a'];
        for len in 0..=7u32 {
            for n in 0..4usize.pow(len) {
                let b: Vec<u8> = (0..len).map(|k| alphabet[n / 4usize.pow(k) % 4]).collect();
                for start in 0..=b.len() {
                    let (v, next) = json_string(&b, start);
                    assert_eq!(
                        (v.into_owned(), next),
                        json_string_bytewise(&b, start),
                        "{b:?} {start}"
                    );
                }
            }
        }
    }

    fn names(e: &Extracted<'_>) -> Vec<(Place, String, String)> {
        e.params
            .iter()
            .map(|p| {
                (
                    p.place,
                    p.name.to_string(),
                    String::from_utf8_lossy(&p.value).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn query_path_and_headers() {
        let r = req(
            b"/api/v1/items/..%2f..%2fetc?id=5&q=a+b&x%27=1&flag",
            vec![
                (b"Host", b"api.example.com"),
                (b"User-Agent", b"curl/8"),
                (b"Cookie", b"sid=abc; theme=dark"),
                (b"Content-Length", b"0"),
            ],
            b"",
        );
        let e = extract(&r, &ExtractLimits::default());
        let n = names(&e);
        assert!(n.contains(&(
            Place::Path,
            "path".into(),
            "/api/v1/items/..%2f..%2fetc".into()
        )));
        assert!(n.contains(&(Place::PathSegment, "path[3]".into(), "..%2f..%2fetc".into())));
        assert!(n.contains(&(Place::Query, "id".into(), "5".into())));
        assert!(n.contains(&(Place::Query, "q".into(), "a+b".into())));
        assert!(n.contains(&(Place::Query, "(name)".into(), "x%27".into())));
        assert!(!n.iter().any(|p| p.1 == "flag"));
        assert!(n.contains(&(Place::Header, "user-agent".into(), "curl/8".into())));
        assert!(n.contains(&(Place::Cookie, "theme".into(), "dark".into())));
        assert!(!n.iter().any(|p| p.1 == "content-length"));
    }

    #[test]
    fn header_names_are_lowercase_however_they_are_sent() {
        let r = req(
            b"/",
            vec![
                (b"USER-agent", b"a"),
                (b"X-Custom-Thing", b"b"),
                (b"referer", b"c"),
                (b"X-Forwarded-For", b"d"),
            ],
            b"",
        );
        let e = extract(&r, &ExtractLimits::default());
        let headers: Vec<(&str, bool)> = e
            .params
            .iter()
            .filter(|p| p.place == Place::Header)
            .map(|p| (p.name.as_ref(), matches!(p.name, Cow::Borrowed(_))))
            .collect();
        assert_eq!(
            headers,
            [
                ("user-agent", true),
                ("x-custom-thing", false),
                ("referer", true),
                ("x-forwarded-for", true)
            ]
        );
        assert!(INSPECTED_HEADERS
            .iter()
            .all(|h| !SKIP_HEADERS.contains(h) && !h.bytes().any(|c| c.is_ascii_uppercase())));
    }

    #[test]
    fn every_listed_header_is_classified_in_any_case() {
        for name in SKIP_HEADERS
            .iter()
            .chain(&["cookie"])
            .chain(INSPECTED_HEADERS)
        {
            for sent in [
                name.to_string(),
                name.to_ascii_uppercase(),
                title_case(name),
            ] {
                let r = req(b"/", vec![(sent.as_bytes(), b"v=1")], b"");
                let e = extract(&r, &ExtractLimits::default());
                let got: Vec<(Place, &str, bool)> = e
                    .params
                    .iter()
                    .map(|p| (p.place, p.name.as_ref(), matches!(p.name, Cow::Borrowed(_))))
                    .collect();
                let want = if SKIP_HEADERS.contains(name) {
                    vec![]
                } else if *name == "cookie" {
                    vec![(Place::Cookie, "v", true)]
                } else {
                    vec![(Place::Header, *name, true)]
                };
                assert_eq!(got, want, "{sent}");
                if sent == *name {
                    // Names a record says are lowercase are read as they are, to the same end.
                    let r = RequestParts {
                        names_lowercase: true,
                        ..r
                    };
                    let e = extract(&r, &ExtractLimits::default());
                    let again: Vec<(Place, &str, bool)> = e
                        .params
                        .iter()
                        .map(|p| (p.place, p.name.as_ref(), matches!(p.name, Cow::Borrowed(_))))
                        .collect();
                    assert_eq!(again, want, "{sent} (lowercase)");
                }
            }
        }
        // Prefixes, lengths and bytes that are not UTF-8.
        let long = "x".repeat(MAX_HEADER_NAME + 1);
        let r = req(
            b"/",
            vec![
                (b"sec-fetch-mode", b"a"),
                (b"Sec-Fetch-Site", b"b"),
                (b"SEC-Other", b"c"),
                (long.as_bytes(), b"d"),
                (b"x-\xffName", b"e"),
                (b"x-custom", b"f"),
            ],
            b"",
        );
        let e = extract(&r, &ExtractLimits::default());
        let got: Vec<(&str, bool)> = e
            .params
            .iter()
            .map(|p| (p.name.as_ref(), matches!(p.name, Cow::Borrowed(_))))
            .collect();
        assert_eq!(
            got,
            [
                ("sec-other", false),
                ("x-\u{fffd}name", false),
                ("x-custom", true)
            ]
        );
    }

    fn title_case(name: &str) -> String {
        name.split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("-")
    }

    #[test]
    fn absolute_form_target() {
        let r = req(b"http://h:80/a/b'c?x=1", vec![], b"");
        let n = names(&extract(&r, &ExtractLimits::default()));
        assert!(n.contains(&(Place::PathSegment, "path[1]".into(), "b'c".into())));
    }

    #[test]
    fn json_nested_paths_and_escapes() {
        let body =
            br#"{"user":{"name":"O'Brien","tags":["a","b\u0027c"],"n":5,"ok":true},"q":"x"}"#;
        let r = req(b"/", vec![(b"content-type", b"application/json")], body);
        let n = names(&extract(&r, &ExtractLimits::default()));
        assert_eq!(
            n,
            vec![
                (Place::Json, "user.name".into(), "O'Brien".into()),
                (Place::Json, "user.tags[0]".into(), "a".into()),
                (Place::Json, "user.tags[1]".into(), "b'c".into()),
                (Place::Json, "q".into(), "x".into()),
            ]
        );
        // Escaped and non-UTF-8 keys, indexes past one digit; a plain top-level key names its
        // value without a new string.
        let mut body = br#"{"k\u0065y":{"a":[0,1,2,3,4,5,6,7,8,9,"ten"]},"x"#.to_vec();
        body.extend_from_slice(b"\xff\":\"v\",\"top\":\"t\"}");
        let r = req(b"/", vec![(b"content-type", b"application/json")], &body);
        let e = extract(&r, &ExtractLimits::default());
        assert_eq!(
            names(&e),
            vec![
                (Place::Json, "key.a[10]".into(), "ten".into()),
                (Place::Json, "(name)".into(), "x\u{fffd}".into()),
                (Place::Json, "x\u{fffd}".into(), "v".into()),
                (Place::Json, "top".into(), "t".into()),
            ]
        );
        assert!(matches!(e.params[3].name, Cow::Borrowed("top")));
    }

    #[test]
    fn json_truncated_and_malformed_do_not_panic() {
        for body in [
            &br#"{"a":"unterminated"#[..],
            br#"{"a":"x\"#,
            br#"{"a":[1,2,{"b":"#,
            br#"}}}]]]"#,
            br#"{"#,
            br#"""#,
            br#"[[[[[[[[[["deep"]]]]]]]]]]"#,
            b"\xff\xfe{\"\xff\":\"\xfe\"}",
        ] {
            let r = req(b"/", vec![(b"content-type", b"application/json")], body);
            let _ = extract(&r, &ExtractLimits::default());
        }
        let r = req(
            b"/",
            vec![(b"content-type", b"application/json")],
            br#"{"a":"trunc"#,
        );
        let n = names(&extract(&r, &ExtractLimits::default()));
        assert_eq!(n, vec![(Place::Json, "a".into(), "trunc".into())]);
    }

    #[test]
    fn json_depth_limit() {
        let body = format!("{}\"x\"{}", "[".repeat(40), "]".repeat(40));
        let r = req(
            b"/",
            vec![(b"content-type", b"application/json")],
            body.as_bytes(),
        );
        let e = extract(&r, &ExtractLimits::default());
        assert!(e.limits_hit.depth);
        assert!(e.params.is_empty());
    }

    #[test]
    fn xml_text_attributes_doctype() {
        let body = br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><u id="7">&x;</u><!-- c --><d><![CDATA[<b>]]></d></r>"#;
        let r = req(b"/", vec![(b"Content-Type", b"text/xml")], body);
        let n = names(&extract(&r, &ExtractLimits::default()));
        assert_eq!(
            n,
            vec![
                (
                    Place::XmlDoctype,
                    "doctype".into(),
                    r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>"#.into()
                ),
                (Place::Xml, "r/u/@id".into(), "7".into()),
                (Place::Xml, "r/u".into(), "&x;".into()),
                (Place::Xml, "r/d".into(), "<b>".into()),
            ]
        );
    }

    #[test]
    fn xml_truncated_and_malformed_do_not_panic() {
        for body in [
            &b"<a><b x='1"[..],
            b"<!DOCTYPE [",
            b"<![CDATA[x",
            b"<!-- x",
            b"</a></b><",
            b"<?xml",
            b"<a =x =>t</a>",
            b"<a b=>",
            b"<",
        ] {
            let r = req(b"/", vec![(b"Content-Type", b"application/xml")], body);
            let _ = extract(&r, &ExtractLimits::default());
        }
    }

    #[test]
    fn multipart_fields_and_filenames() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../a.txt\"\r\nContent-Type: text/plain\r\n\r\ndata\r\n--XyZ--\r\n";
        let r = req(
            b"/up",
            vec![(b"Content-Type", b"multipart/form-data; boundary=\"XyZ\"")],
            body,
        );
        let n = names(&extract(&r, &ExtractLimits::default()));
        assert_eq!(
            n,
            vec![
                (Place::Multipart, "title".into(), "hello".into()),
                (
                    Place::MultipartFilename,
                    "file".into(),
                    "../../a.txt".into()
                ),
                (Place::Multipart, "file".into(), "data".into()),
            ]
        );
        // Truncated multipart.
        let r = req(
            b"/up",
            vec![(b"Content-Type", b"multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a",
        );
        let _ = extract(&r, &ExtractLimits::default());
    }

    #[test]
    fn form_body_and_sniffing() {
        let r = req(
            b"/",
            vec![(b"Content-Type", b"application/x-www-form-urlencoded")],
            b"user=bob&pw=x%27",
        );
        let n = names(&extract(&r, &ExtractLimits::default()));
        assert!(n.contains(&(Place::Form, "pw".into(), "x%27".into())));
        let r = req(b"/", vec![], b"  {\"a\":\"b\"}");
        let n = names(&extract(&r, &ExtractLimits::default()));
        assert_eq!(n, vec![(Place::Json, "a".into(), "b".into())]);
    }

    #[test]
    fn limits_are_counted() {
        let q: String = (0..300).map(|i| format!("p{i}=v&")).collect();
        let target = format!("/?{q}");
        let r = req(target.as_bytes(), vec![], b"");
        let e = extract(&r, &ExtractLimits::default());
        assert_eq!(e.params.len(), 256);
        assert!(e.limits_hit.params);
        let long = format!("/?a={}", "x".repeat(5000));
        let r = req(long.as_bytes(), vec![], b"");
        let e = extract(&r, &ExtractLimits::default());
        assert!(e.limits_hit.value_bytes);
        assert_eq!(e.params[0].value.len(), 4096);
        let lim = ExtractLimits {
            max_request_bytes: 100,
            ..Default::default()
        };
        let e = extract(&r, &lim);
        assert!(e.limits_hit.request_bytes);
        assert_eq!(e.bytes, 100);
    }
}
