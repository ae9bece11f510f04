//! The attacker-controlled parts of one HTTP exchange, borrowed from whatever holds them.
//!
//! [`RequestParts`] is what the payload detector reads: method, raw request-target, request
//! headers as `(name, value)` byte pairs, the content type and the decoded body prefix.
//! [`ResponseParts`] carries what the success hints read. Both borrow; building them copies
//! nothing but the header slice table. Invariant: nothing here is trusted or validated — the
//! extractors check every bound themselves.

use apitap_proto::RequestRecord;

/// The parts of one HTTP request an attacker controls.
#[derive(Debug, Clone, Default)]
pub struct RequestParts<'a> {
    /// Method as sent (`GET`, `POST`, …).
    pub method: &'a [u8],
    /// The raw request-target (`/path?query`, or absolute-form), not decoded.
    pub target: &'a [u8],
    /// Request headers in wire order. Names are matched case-insensitively.
    pub headers: Vec<(&'a [u8], &'a [u8])>,
    /// Every header name is already lowercase (a sensor record's are): the engine then reads
    /// the names as they are instead of lowering a copy of each.
    pub names_lowercase: bool,
    /// The `Content-Type` header value, if any (taken from `headers` when built from a record).
    pub content_type: Option<&'a [u8]>,
    /// Decoded (de-chunked, decompressed) request body prefix.
    pub body: &'a [u8],
}

/// What the success hints read from the response to the same request.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponseParts<'a> {
    pub status: u16,
    /// Decoded response body length as seen on the wire (may exceed `body.len()`).
    pub body_bytes: u64,
    /// Decoded response body prefix.
    pub body: &'a [u8],
}

impl<'a> RequestParts<'a> {
    /// Builds the parts from raw pieces; the content type is looked up in `headers`.
    pub fn new(
        method: &'a [u8],
        target: &'a [u8],
        headers: Vec<(&'a [u8], &'a [u8])>,
        body: &'a [u8],
    ) -> Self {
        let content_type = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(b"content-type"))
            .map(|(_, v)| *v);
        RequestParts {
            method,
            target,
            headers,
            names_lowercase: false,
            content_type,
            body,
        }
    }
}

impl<'a> From<&'a RequestRecord> for RequestParts<'a> {
    /// The sensor's record: `url.original` is the request-target as sent (secret-named query
    /// values already masked), `extras.request_headers` the headers (secrets hashed) and
    /// `extras.request_body` the decoded body prefix.
    fn from(r: &'a RequestRecord) -> Self {
        let headers = r.extras.request_headers.iter_bytes().collect();
        RequestParts {
            // The record's contract: header names lowercased by the sensor.
            names_lowercase: true,
            ..RequestParts::new(
                r.http.request.method.as_bytes(),
                r.url.original.as_bytes(),
                headers,
                &r.extras.request_body,
            )
        }
    }
}

impl<'a> ResponseParts<'a> {
    /// The response half of a record, when a response was seen.
    pub fn from_record(r: &'a RequestRecord) -> Option<Self> {
        let resp = r.http.response.as_ref()?;
        let body_bytes = r
            .apitap
            .response
            .as_ref()
            .map(|x| x.decoded_body_bytes)
            .unwrap_or(resp.body.bytes);
        Some(ResponseParts {
            status: resp.status_code,
            body_bytes,
            body: &r.extras.response_body,
        })
    }
}
