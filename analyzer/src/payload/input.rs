//! The attacker-controlled parts of one HTTP exchange, borrowed from whatever holds them.
//!
//! [`RequestParts`] is what the payload detector reads: method, raw request-target, request
//! headers as `(name, value)` byte pairs, the content type and the decoded body prefix.
//! [`ResponseParts`] carries what the success hints read. Both borrow; building them copies
//! nothing but the header slice table. Invariant: nothing here is trusted or validated — the
//! extractors check every bound themselves.

use apitap_proto::{FieldBytes, Headers, RequestRecord};

/// Request header fields: raw `(name, value)` pairs, or a record's header buffer read in
/// place (no table of slices built per request).
#[derive(Debug, Clone)]
pub enum HeaderFields<'a> {
    Pairs(Vec<(&'a [u8], &'a [u8])>),
    Buffer(&'a Headers),
}

impl Default for HeaderFields<'_> {
    fn default() -> Self {
        HeaderFields::Pairs(Vec::new())
    }
}

impl<'a> HeaderFields<'a> {
    /// The fields in wire order.
    pub fn iter(&self) -> HeaderIter<'_, 'a> {
        match self {
            HeaderFields::Pairs(p) => HeaderIter::Pairs(p.iter()),
            HeaderFields::Buffer(h) => HeaderIter::Buffer(h.iter_bytes()),
        }
    }
}

/// The fields of a [`HeaderFields`].
pub enum HeaderIter<'r, 'a> {
    Pairs(std::slice::Iter<'r, (&'a [u8], &'a [u8])>),
    Buffer(FieldBytes<'a>),
}

impl<'a> Iterator for HeaderIter<'_, 'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HeaderIter::Pairs(p) => p.next().copied(),
            HeaderIter::Buffer(b) => b.next(),
        }
    }
}

/// The parts of one HTTP request an attacker controls.
#[derive(Debug, Clone, Default)]
pub struct RequestParts<'a> {
    /// Method as sent (`GET`, `POST`, …).
    pub method: &'a [u8],
    /// The raw request-target (`/path?query`, or absolute-form), not decoded.
    pub target: &'a [u8],
    /// Request headers in wire order. Names are matched case-insensitively.
    pub headers: HeaderFields<'a>,
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
            headers: HeaderFields::Pairs(headers),
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
        let headers = &r.extras.request_headers;
        // Names are lowercase here: the content type is found by plain comparison.
        let content_type = headers
            .iter_bytes()
            .find(|(n, _)| *n == b"content-type")
            .map(|(_, v)| v);
        RequestParts {
            method: r.http.request.method.as_bytes(),
            target: r.url.original.as_bytes(),
            headers: HeaderFields::Buffer(headers),
            // The record's contract: header names lowercased by the sensor.
            names_lowercase: true,
            content_type,
            body: &r.extras.request_body,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::extract::{extract, ExtractLimits};
    use crate::test_support::{rec, T0};

    #[test]
    fn a_record_reads_like_the_same_raw_parts() {
        let body = br#"{"q":"x' or 1=1--"}"#;
        let mut r = rec(T0, "198.18.0.1", "POST", "/api/search?page=2", 200, body);
        r.url.original = "/api/search?page=2".into();
        r.extras.request_headers = [
            ("host", "shop.example"),
            ("user-agent", "curl/8"),
            ("content-type", "application/json"),
            ("x-custom", "v"),
        ]
        .into_iter()
        .collect();
        let from_record = RequestParts::from(&r);
        assert_eq!(from_record.content_type, Some(&b"application/json"[..]));
        let pairs: Vec<(&[u8], &[u8])> = r.extras.request_headers.iter_bytes().collect();
        let raw = RequestParts::new(b"POST", b"/api/search?page=2", pairs.clone(), body);
        assert_eq!(from_record.headers.iter().collect::<Vec<_>>(), pairs);
        let lim = ExtractLimits::default();
        let params = |p: &RequestParts<'_>| {
            extract(p, &lim)
                .params
                .iter()
                .map(|p| (p.place, p.name.to_string(), p.value.to_vec()))
                .collect::<Vec<_>>()
        };
        let got = params(&from_record);
        assert_eq!(got, params(&raw));
        assert!(got.iter().any(|(_, n, v)| n == "q" && v.starts_with(b"x'")));
        assert!(got.iter().any(|(_, n, _)| n == "x-custom"));
    }
}
