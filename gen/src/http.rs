//! HTTP/1.1 messages as the generator plans and writes them: [`Req`] (request bytes built when
//! a session is planned) and [`Resp`] (a small description whose body is built, compressed and
//! framed only when the exchange is written), plus [`Bodies`], which builds bodies from the
//! demo API's data model and caches gzip output per distinct body.
//!
//! Invariants: a request's bytes are one complete message (or, for request smuggling, exactly
//! the messages its `records` count says a TE-first parser sees); a response with a 1xx, 204
//! or 304 status never carries a body; chunked responses end with the zero chunk.

use crate::data;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::collections::HashMap;
use std::io::Write as _;

/// What a response body is: a piece of the demo API's data model or literal bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BodySpec {
    Empty,
    Json(String),
    Text(String),
    Health,
    User(u64),
    UserV2(u64),
    PaymentMethods(u64),
    Product(u64),
    ProductPage {
        start: u64,
        limit: u64,
        total: u64,
        v2: bool,
    },
    Reviews(u64),
    Order(u64),
    OrdersPage {
        user: u64,
        page: u64,
        limit: u64,
    },
    Cart {
        user: u64,
        salt: u64,
    },
    ExportV0 {
        page: u64,
        limit: u64,
    },
    Token {
        user: u64,
        iat: u64,
    },
}

impl BodySpec {
    fn is_text(&self) -> bool {
        matches!(self, BodySpec::Text(_))
    }
}

/// A planned response.
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub body: BodySpec,
    pub gzip: bool,
    pub chunked: bool,
    /// Extra header lines, each ending in CRLF.
    pub extra_headers: String,
    /// Server processing time, µs.
    pub think_us: u64,
}

impl Resp {
    pub fn new(status: u16, body: BodySpec) -> Self {
        Resp {
            status,
            body,
            gzip: false,
            chunked: false,
            extra_headers: String::new(),
            think_us: 2_000,
        }
    }
    pub fn json_error(status: u16, code: &str, message: &str) -> Self {
        let mut s = String::new();
        data::error_json(&mut s, status, code, message);
        let mut r = Resp::new(status, BodySpec::Json(s));
        match status {
            401 => r
                .extra_headers
                .push_str("WWW-Authenticate: Bearer realm=\"api.shop.example\"\r\n"),
            429 => r.extra_headers.push_str("Retry-After: 30\r\n"),
            _ => {}
        }
        r
    }
    pub fn header(mut self, line: &str) -> Self {
        self.extra_headers.push_str(line);
        self.extra_headers.push_str("\r\n");
        self
    }
}

/// A planned request and what answers it.
#[derive(Clone, Debug)]
pub struct Req {
    /// Time from the end of the previous exchange (or the session start) to this request, µs.
    pub gap_us: u64,
    /// The request bytes on the wire.
    pub bytes: Vec<u8>,
    pub resp: Resp,
    /// A second response sent right after the first (a smuggled request's answer).
    pub resp2: Option<Resp>,
    /// HTTP requests a parser sees in `bytes` (2 for a CL.TE smuggling attempt).
    pub records: u32,
    /// The request asks `Connection: close`: the server closes after answering.
    pub close: bool,
}

/// Builds request bytes: request line, headers in order, optional body with its length.
pub struct ReqBuilder {
    verbatim: bool,
    head: Vec<u8>,
    body: Vec<u8>,
    close: bool,
    no_length: bool,
}

impl ReqBuilder {
    pub fn new(method: &str, target: &str) -> Self {
        let mut head = Vec::with_capacity(512);
        let _ = write!(
            head,
            "{method} {target} HTTP/1.1\r\nHost: api.shop.example\r\n"
        );
        ReqBuilder {
            verbatim: false,
            head,
            body: Vec::new(),
            close: false,
            no_length: false,
        }
    }
    /// A request line and no `Host` header added (for hand-made protocol variants).
    pub fn raw(line: &str) -> Self {
        let mut head = Vec::with_capacity(512);
        head.extend_from_slice(line.as_bytes());
        head.extend_from_slice(b"\r\n");
        ReqBuilder {
            verbatim: false,
            head,
            body: Vec::new(),
            close: false,
            no_length: false,
        }
    }
    /// A whole message given byte for byte (header methods then do nothing).
    pub fn verbatim(bytes: &[u8]) -> Self {
        ReqBuilder {
            verbatim: true,
            head: bytes.to_vec(),
            body: Vec::new(),
            close: false,
            no_length: true,
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if self.verbatim {
            return self;
        }
        let _ = write!(self.head, "{name}: {value}\r\n");
        self
    }
    /// A header line written exactly as given (CRLF added).
    pub fn line(mut self, line: &str) -> Self {
        if self.verbatim {
            return self;
        }
        self.head.extend_from_slice(line.as_bytes());
        self.head.extend_from_slice(b"\r\n");
        self
    }
    pub fn body(mut self, content_type: &str, body: &[u8]) -> Self {
        let _ = write!(self.head, "Content-Type: {content_type}\r\n");
        self.body = body.to_vec();
        self
    }
    /// The body is framed by headers the caller wrote (smuggling variants).
    pub fn framed_body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self.no_length = true;
        self
    }
    pub fn close(mut self) -> Self {
        self.close = true;
        self
    }
    pub fn build(self, gap_us: u64, resp: Resp) -> Req {
        if self.verbatim {
            return Req {
                gap_us,
                bytes: self.head,
                resp,
                resp2: None,
                records: 1,
                close: false,
            };
        }
        let mut b = self.head;
        if !self.body.is_empty() && !self.no_length {
            let _ = write!(b, "Content-Length: {}\r\n", self.body.len());
        }
        if self.close {
            b.extend_from_slice(b"Connection: close\r\n");
        }
        b.extend_from_slice(b"\r\n");
        b.extend_from_slice(&self.body);
        Req {
            gap_us,
            bytes: b,
            resp,
            resp2: None,
            records: 1,
            close: self.close,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Builds response bodies; keeps the gzip output of each distinct body (bounded).
pub struct Bodies {
    seed: u64,
    users: u64,
    gz: HashMap<BodySpec, Vec<u8>>,
    scratch: String,
    /// Gzip compressions run (cache misses).
    pub gzip_runs: u64,
}

/// Most gzip outputs kept before the cache is cleared.
const GZ_CACHE_MAX: usize = 20_000;

impl Bodies {
    pub fn new(seed: u64, users: u64) -> Self {
        Bodies {
            seed,
            users,
            gz: HashMap::new(),
            scratch: String::with_capacity(64 * 1024),
            gzip_runs: 0,
        }
    }

    /// The plain body bytes of `spec` into `self.scratch`.
    fn build(&mut self, spec: &BodySpec) {
        let s = &mut self.scratch;
        s.clear();
        let seed = self.seed;
        match spec {
            BodySpec::Empty => {}
            BodySpec::Json(j) | BodySpec::Text(j) => s.push_str(j),
            BodySpec::Health => s.push_str(r#"{"status":"ok","version":"2.4.0","checks":{"db":"ok","cache":"ok","queue":"ok"}}"#),
            BodySpec::User(id) => data::user_json(s, seed, *id),
            BodySpec::UserV2(id) => data::user_v2_json(s, seed, *id),
            BodySpec::PaymentMethods(u) => data::payment_methods_json(s, seed, *u),
            BodySpec::Product(id) => data::product_json(s, seed, *id),
            BodySpec::ProductPage { start, limit, total, v2 } => data::product_page_json(s, seed, *start, *limit, *total, *v2),
            BodySpec::Reviews(p) => data::reviews_json(s, seed, *p),
            BodySpec::Order(id) => data::order_json(s, seed, *id),
            BodySpec::OrdersPage { user, page, limit } => data::orders_page_json(s, seed, *user, *page, *limit),
            BodySpec::Cart { user, salt } => data::cart_json(s, seed, *user, *salt),
            BodySpec::ExportV0 { page, limit } => data::export_v0_json(s, seed, *page, *limit, self.users),
            BodySpec::Token { user, iat } => data::token_json(s, seed, *user, *iat),
        }
    }

    /// Appends the full response (head and framed body) for `r` to `out`.
    pub fn write_response(
        &mut self,
        out: &mut Vec<u8>,
        r: &Resp,
        date_secs: u64,
        request_id: u64,
        close: bool,
    ) {
        let no_body = matches!(r.status, 100..=199 | 204 | 304);
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\nServer: nginx/1.24.0\r\nDate: ",
            r.status,
            reason(r.status)
        );
        data::http_date(out, date_secs);
        out.extend_from_slice(b"\r\n");
        if no_body {
            let _ = write!(
                out,
                "X-Request-Id: {request_id:032x}\r\n{}",
                r.extra_headers
            );
            let _ = write!(
                out,
                "Connection: {}\r\n\r\n",
                if close { "close" } else { "keep-alive" }
            );
            return;
        }
        self.build(&r.body);
        let gzip = r.gzip && !self.scratch.is_empty();
        let body: &[u8] = if gzip {
            if self.gz.len() >= GZ_CACHE_MAX {
                self.gz.clear();
            }
            if !self.gz.contains_key(&r.body) {
                let mut enc = GzEncoder::new(
                    Vec::with_capacity(self.scratch.len() / 3 + 64),
                    Compression::new(5),
                );
                let _ = enc.write_all(self.scratch.as_bytes());
                let z = enc.finish().unwrap_or_default();
                self.gz.insert(r.body.clone(), z);
                self.gzip_runs += 1;
            }
            self.gz.get(&r.body).map(Vec::as_slice).unwrap_or_default()
        } else {
            self.scratch.as_bytes()
        };
        let ctype = if r.body.is_text() {
            "text/plain; charset=utf-8"
        } else {
            "application/json; charset=utf-8"
        };
        let _ = write!(out, "Content-Type: {ctype}\r\n");
        let chunked = r.chunked && !body.is_empty();
        if chunked {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        } else {
            let _ = write!(out, "Content-Length: {}\r\n", body.len());
        }
        if gzip {
            out.extend_from_slice(b"Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
        }
        let _ = write!(
            out,
            "Cache-Control: no-store\r\nX-Request-Id: {request_id:032x}\r\n{}",
            r.extra_headers
        );
        let _ = write!(
            out,
            "Connection: {}\r\n\r\n",
            if close { "close" } else { "keep-alive" }
        );
        if chunked {
            // Chunk sizes as a streaming server produces them: a few KB each.
            let mut off = 0;
            let mut i = request_id as usize;
            while off < body.len() {
                let n = [4096usize, 8192, 1024, 2048, 6000][i % 5].min(body.len() - off);
                let _ = write!(out, "{n:x}\r\n");
                out.extend_from_slice(&body[off..off + n]);
                out.extend_from_slice(b"\r\n");
                off += n;
                i += 1;
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            out.extend_from_slice(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn split(resp: &[u8]) -> (String, Vec<u8>) {
        let at = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        (
            String::from_utf8(resp[..at].to_vec()).unwrap(),
            resp[at..].to_vec(),
        )
    }

    #[test]
    fn chunked_gzip_response_decodes_to_the_body() {
        let mut b = Bodies::new(1, 100);
        let mut r = Resp::new(200, BodySpec::ExportV0 { page: 1, limit: 50 });
        r.gzip = true;
        r.chunked = true;
        let mut out = Vec::new();
        b.write_response(&mut out, &r, data::DEFAULT_EPOCH_SECS, 7, false);
        let (head, mut rest) = split(&out);
        assert!(
            head.contains("Transfer-Encoding: chunked\r\n")
                && head.contains("Content-Encoding: gzip\r\n")
        );
        let mut gz = Vec::new();
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
            if n == 0 {
                assert_eq!(&rest[eol..], b"\r\n\r\n");
                break;
            }
            gz.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
            assert_eq!(&rest[eol + 2 + n..eol + 4 + n], b"\r\n");
            rest.drain(..eol + 4 + n);
        }
        let mut plain = String::new();
        GzDecoder::new(&gz[..]).read_to_string(&mut plain).unwrap();
        let mut expect = String::new();
        data::export_v0_json(&mut expect, 1, 1, 50, 100);
        assert_eq!(plain, expect);
        assert_eq!(b.gzip_runs, 1);
        b.write_response(&mut Vec::new(), &r, 0, 8, false);
        assert_eq!(b.gzip_runs, 1, "cached");
    }

    #[test]
    fn no_body_statuses_have_no_framing_and_requests_carry_length() {
        let mut b = Bodies::new(1, 10);
        let mut out = Vec::new();
        b.write_response(
            &mut out,
            &Resp::new(204, BodySpec::Json("{}".into())),
            0,
            1,
            true,
        );
        let (head, body) = split(&out);
        assert!(
            body.is_empty()
                && !head.contains("Content-Length")
                && head.contains("Connection: close")
        );
        let q = ReqBuilder::new("POST", "/api/v1/auth/login")
            .body("application/json", b"{}")
            .close()
            .build(0, Resp::new(200, BodySpec::Empty));
        let s = String::from_utf8(q.bytes).unwrap();
        assert!(s.starts_with("POST /api/v1/auth/login HTTP/1.1\r\nHost: api.shop.example\r\n"));
        assert!(
            s.ends_with("Content-Length: 2\r\nConnection: close\r\n\r\n{}"),
            "{s}"
        );
        assert!(q.close);
    }
}
