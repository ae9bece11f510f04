//! Builds the exchange record (`apitap_proto::RequestRecord`) from a parsed exchange and its
//! flow, applying redaction: no secret reaches the record in clear.

use crate::flow::FlowInfo;
use crate::http::{Exchange, Field, Head};
use crate::redact::{LastAuthorization, Redactor};
use apitap_proto as proto;
use std::borrow::Cow;

/// Record options.
#[derive(Debug, Clone, Default)]
pub struct RecordOptions {
    /// Write (masked) body prefixes into `apitap.*.body_prefix`.
    pub write_bodies: bool,
    /// Fill the in-memory extras (redacted headers, body prefixes) for an analyzer that
    /// reads them; off when nothing consumes them.
    pub with_extras: bool,
    /// Largest body prefix written, in bytes.
    pub written_body_bytes: usize,
}

pub struct RecordBuilder {
    pub redactor: Redactor,
    pub options: RecordOptions,
}

fn lossy(b: &[u8]) -> String {
    lossy_cow(b).into_owned()
}

/// `String::from_utf8_lossy` with the validating fast path first (header values are almost
/// always valid, and `from_utf8` checks them faster than the lossy chunk iterator).
fn lossy_cow(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// `b` as text, borrowed from `common` when it is one of those strings (compared with
/// `eq`), so the values that repeat on almost every record cost no allocation.
fn interned(
    b: &[u8],
    common: &[&'static str],
    eq: fn(&[u8], &[u8]) -> bool,
) -> Option<&'static str> {
    common.iter().copied().find(|c| eq(c.as_bytes(), b))
}

fn exact(a: &[u8], b: &[u8]) -> bool {
    a == b
}

const COMMON_METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];

const COMMON_REASONS: [&str; 24] = [
    "OK",
    "Created",
    "Accepted",
    "No Content",
    "Partial Content",
    "Moved Permanently",
    "Found",
    "See Other",
    "Not Modified",
    "Temporary Redirect",
    "Bad Request",
    "Unauthorized",
    "Forbidden",
    "Not Found",
    "Method Not Allowed",
    "Conflict",
    "Unprocessable Entity",
    "Too Many Requests",
    "Internal Server Error",
    "Bad Gateway",
    "Service Unavailable",
    "Gateway Timeout",
    "Continue",
    "Switching Protocols",
];

/// Lower-case forms; Content-Type values are compared ignoring ASCII case.
const COMMON_MIME_TYPES: [&str; 14] = [
    "application/json",
    "text/html",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "application/xml",
    "text/xml",
    "application/octet-stream",
    "application/problem+json",
    "application/javascript",
    "text/css",
    "image/png",
    "image/jpeg",
    "text/event-stream",
];

/// Text of a head element, shared when it is a common value.
fn text(b: &[u8], common: &[&'static str]) -> Cow<'static, str> {
    match interned(b, common, exact) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(lossy(b)),
    }
}

/// A request-target as text without losing bytes: valid UTF-8 as is, every byte of an
/// invalid sequence percent-encoded (which is what a URL would carry anyway).
pub fn target_text(b: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(b) {
        return s.to_string();
    }
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `type/subtype` of a Content-Type value, lower-cased.
fn mime(value: Option<&[u8]>) -> Option<Cow<'static, str>> {
    let v = value?;
    let end = v.iter().position(|&b| b == b';').unwrap_or(v.len());
    let t = v[..end].trim_ascii();
    // Values mostly come lower-case already: the exact comparison settles those quickly.
    let same = |c: &[u8], t: &[u8]| c == t || c.eq_ignore_ascii_case(t);
    if let Some(s) = interned(t, &COMMON_MIME_TYPES, same) {
        return Some(Cow::Borrowed(s));
    }
    let t = String::from_utf8_lossy(t).to_ascii_lowercase();
    (!t.is_empty()).then_some(Cow::Owned(t))
}

/// Splits a Host value (or authority) into host and optional port; IPv6 literals keep
/// their brackets off.
pub fn split_host(host: &str) -> (&str, Option<u16>) {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let port = rest[end + 1..]
                .strip_prefix(':')
                .and_then(|p| p.parse().ok());
            return (&rest[..end], port);
        }
    }
    match host.rsplit_once(':') {
        Some((h, p))
            if !h.contains(':') && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (h, p.parse().ok())
        }
        _ => (host, None),
    }
}

impl RecordBuilder {
    pub fn build(
        &self,
        flow: &FlowInfo,
        ex: &Exchange,
        extra_anomalies: &[&'static str],
        last_authorization: &mut LastAuthorization,
    ) -> proto::RequestRecord {
        let req = ex.request.as_ref();
        let resp = ex.response.as_ref();
        let start = req
            .map(|r| r.start_ts)
            .or(resp.map(|r| r.start_ts))
            .unwrap_or(flow.first_ts);
        let end = req
            .map(|r| r.end_ts)
            .max(resp.map(|r| r.end_ts))
            .unwrap_or(start)
            .max(start);
        let head: Option<&Head> = req.map(|r| &r.head);
        let target = head.map(|h| target_text(h.target())).unwrap_or_default();
        let url = self.url(target, head);
        let version = head
            .or(resp.map(|r| &r.head))
            .map(|h| h.version_string())
            .unwrap_or_default();
        let identity = head.and_then(|h| self.redactor.identity(h.headers(), last_authorization));
        let mut anomalies: Vec<Cow<'static, str>> = ex
            .anomalies
            .iter()
            .map(|a| Cow::Borrowed(a.as_str()))
            .collect();
        anomalies.extend(extra_anomalies.iter().map(|&s| Cow::Borrowed(s)));
        let written = |body: &[u8]| {
            self.options.write_bodies.then(|| {
                let n = body.len().min(self.options.written_body_bytes);
                self.redactor.body(&body[..n])
            })
        };
        proto::RequestRecord {
            timestamp: start,
            event: proto::Event {
                kind: Cow::Borrowed("event"),
                category: vec![Cow::Borrowed("network"), Cow::Borrowed("web")],
                dataset: Cow::Borrowed("apitap.http"),
                start,
                end,
                duration: end - start,
            },
            source: proto::Endpoint {
                ip: flow.client,
                port: flow.client_port,
            },
            destination: proto::Endpoint {
                ip: flow.server,
                port: flow.server_port,
            },
            network: proto::Network {
                transport: Cow::Borrowed("tcp"),
                protocol: Cow::Borrowed("http"),
                community_id: flow.community_id.clone(),
                vlan: flow.vlan.map(|id| proto::Vlan { id }),
            },
            url,
            http: proto::Http {
                version,
                request: proto::HttpRequest {
                    method: head
                        .map(|h| text(h.method(), &COMMON_METHODS))
                        .unwrap_or_default(),
                    bytes: req.map_or(0, |r| r.wire_bytes),
                    body: proto::Body {
                        bytes: req.map_or(0, |r| r.body.bytes),
                    },
                    mime_type: head.and_then(|h| mime(h.field(Field::ContentType))),
                },
                response: resp.map(|r| proto::HttpResponse {
                    status_code: r.head.status(),
                    bytes: r.wire_bytes,
                    body: proto::Body {
                        bytes: r.body.bytes,
                    },
                    mime_type: mime(r.head.field(Field::ContentType)),
                }),
            },
            user_agent: head
                .and_then(|h| h.field(Field::UserAgent))
                .map(|ua| proto::UserAgent {
                    original: lossy(ua),
                }),
            user: identity.as_ref().map(|i| proto::User { id: i.id.clone() }),
            apitap: proto::Apitap {
                trans_depth: ex.trans_depth,
                flow_id: flow.flow_id,
                anomalies,
                tunnel: flow.tunnel.map(|t| proto::Tunnel {
                    kind: Cow::Borrowed(t.kind.as_str()),
                    outer_source_ip: t.outer_src,
                    outer_destination_ip: t.outer_dst,
                    id: t.id,
                }),
                request: proto::ApitapRequest {
                    decoded_body_bytes: req.map_or(0, |r| r.body.decoded_bytes),
                    body_prefix: req.and_then(|r| written(&r.body.prefix)),
                },
                response: resp.map(|r| proto::ApitapResponse {
                    decoded_body_bytes: r.body.decoded_bytes,
                    status_msg: text(r.head.reason(), &COMMON_REASONS),
                    informational: ex.informational.clone(),
                    body_prefix: written(&r.body.prefix),
                }),
                identity: identity.map(|i| proto::Identity {
                    kind: Cow::Borrowed(i.kind),
                    id: i.id,
                    source: Some(i.source),
                }),
                midstream: flow.midstream,
            },
            extras: if self.options.with_extras {
                proto::Extras {
                    request_headers: head.map(|h| self.headers(h)).unwrap_or_default(),
                    response_headers: resp.map(|r| self.headers(&r.head)).unwrap_or_default(),
                    request_body: req.map(|r| r.body.prefix.clone()).unwrap_or_default(),
                    response_body: resp.map(|r| r.body.prefix.clone()).unwrap_or_default(),
                }
            } else {
                proto::Extras::default()
            },
        }
    }

    fn headers(&self, h: &Head) -> proto::Headers {
        let fields = h.headers();
        let (count, bytes) = fields
            .clone()
            .fold((0, 0), |(c, b), (n, v)| (c + 1, b + n.len() + v.len()));
        let mut out = proto::Headers::with_capacity(count, bytes);
        for (n, v) in fields {
            let name = lossy_cow(n);
            self.redactor
                .with_header_value(n, v, |value| out.push_lowercase_name(&name, value));
        }
        out
    }

    fn url(&self, target: String, head: Option<&Head>) -> proto::Url {
        let original = self.redactor.url(target);
        // absolute-form: scheme://authority/path?query, with a scheme of ASCII letters (the
        // first "://" can only follow the leading letters, so nothing else is searched).
        let scheme_len = original
            .bytes()
            .position(|b| !b.is_ascii_alphabetic())
            .unwrap_or(original.len());
        let (authority, rest) = match original[scheme_len..].strip_prefix("://") {
            Some(after) if scheme_len > 0 => {
                let slash = after.find(['/', '?']).unwrap_or(after.len());
                (Some(&after[..slash]), &after[slash..])
            }
            _ => (None, original.as_str()),
        };
        // '#' and '?' are ASCII: a byte search finds the same positions as a char search.
        let no_fragment = memchr::memchr(b'#', rest.as_bytes()).map_or(rest, |i| &rest[..i]);
        let (path, query) = match memchr::memchr(b'?', no_fragment.as_bytes()) {
            Some(i) => (
                no_fragment[..i].to_string(),
                Some(no_fragment[i + 1..].to_string()),
            ),
            None => (no_fragment.to_string(), None),
        };
        let host: Option<Cow<'_, str>> = head
            .and_then(|h| h.field(Field::Host))
            .map(lossy_cow)
            .or(authority.map(|a| Cow::Borrowed(a.rsplit('@').next().unwrap_or_default())))
            .filter(|h| !h.trim().is_empty());
        let (domain, port) = match host.as_deref().map(split_host) {
            Some((d, p)) => (Some(d.to_string()), p),
            None => (None, None),
        };
        proto::Url {
            original,
            path,
            query,
            domain,
            port,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_record(req: &[u8], resp: &[u8], options: RecordOptions) -> proto::RequestRecord {
        use crate::flow::{Direction, FlowInfo};
        use crate::http::{HttpConfig, HttpConnection, HttpOutput};
        let mut c = HttpConnection::new(std::sync::Arc::new(HttpConfig::default()));
        let mut out = HttpOutput::default();
        c.on_data(Direction::ToServer, 1_000, req, &mut out);
        c.on_data(Direction::ToClient, 2_000, resp, &mut out);
        c.on_close(3_000, &mut out);
        let flow = FlowInfo {
            flow_id: 9,
            client: "198.18.0.2".parse().unwrap(),
            client_port: 40000,
            server: "198.18.0.1".parse().unwrap(),
            server_port: 8080,
            vlan: Some(12),
            tunnel: None,
            community_id: "1:x".into(),
            first_ts: 500,
            midstream: false,
        };
        let b = RecordBuilder {
            redactor: Redactor::new(crate::redact::RedactMode::Hash, [3; 32]),
            options,
        };
        b.build(
            &flow,
            &out.exchanges[0],
            &["tcp_inconsistent_overlap"],
            &mut LastAuthorization::default(),
        )
    }

    #[test]
    fn record_fields_and_no_secret_in_clear() {
        let req = b"POST /api/login?api_key=SEKRET1&page=2 HTTP/1.1\r\nHost: api.test:8443\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\nCookie: sid=SEKRET2\r\nContent-Type: application/json\r\nContent-Length: 22\r\n\r\n{\"password\":\"SEKRET3\"}";
        let resp = b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=SEKRET4\r\nContent-Length: 2\r\n\r\n{}";
        let options = RecordOptions {
            write_bodies: true,
            written_body_bytes: 1024,
            with_extras: true,
        };
        let r = one_record(req, resp, options);
        assert_eq!(
            (r.timestamp, r.event.end, r.event.duration),
            (1_000, 2_000, 1_000)
        );
        assert_eq!(r.url.path, "/api/login");
        assert_eq!(
            (r.url.domain.as_deref(), r.url.port),
            (Some("api.test"), Some(8443))
        );
        assert_eq!(r.network.vlan.as_ref().map(|v| v.id), Some(12));
        assert_eq!(
            r.http.request.mime_type.as_deref(),
            Some("application/json")
        );
        assert_eq!(r.apitap.anomalies, ["tcp_inconsistent_overlap"]);
        assert_eq!(
            r.apitap.identity.as_ref().map(|i| i.kind.as_ref()),
            Some("basic")
        );
        let json = serde_json::to_string(&r).unwrap();
        let extras = format!(
            "{:?}",
            (&r.extras.request_headers, &r.extras.response_headers)
        );
        for secret in [
            "SEKRET1",
            "SEKRET2",
            "SEKRET3",
            "SEKRET4",
            "alice",
            "YWxpY2U6c2VjcmV0",
        ] {
            assert!(!json.contains(secret), "{secret} in record: {json}");
            assert!(!extras.contains(secret), "{secret} in extras: {extras}");
        }
        assert!(r.url.query.as_deref().unwrap().starts_with("api_key=k1:"));
        assert!(r
            .extras
            .request_headers
            .iter()
            .any(|(n, v)| n == "authorization" && v.starts_with("k1:")));
        // Body prefixes stay raw in memory (the analyzers look for payloads in them); only
        // the written prefix is masked.
        assert_eq!(r.extras.request_body, br#"{"password":"SEKRET3"}"#);
        assert!(r
            .apitap
            .request
            .body_prefix
            .as_deref()
            .unwrap()
            .starts_with("{\"password\":\"k1:"));
    }

    #[test]
    fn extras_stay_empty_unless_asked_for() {
        let r = one_record(
            b"GET / HTTP/1.1\r\nCookie: sid=1\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            RecordOptions::default(),
        );
        assert!(r.extras.request_headers.is_empty() && r.extras.request_body.is_empty());
        assert!(r.apitap.request.body_prefix.is_none());
    }

    /// The URL split as it was written with string searches: `url` must agree with it.
    fn reference_split(original: &str) -> (Option<&str>, String, Option<String>) {
        let (authority, rest) = match original.split_once("://") {
            Some((scheme, after))
                if !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphabetic()) =>
            {
                let slash = after.find(['/', '?']).unwrap_or(after.len());
                (Some(&after[..slash]), &after[slash..])
            }
            _ => (None, original),
        };
        let no_fragment = rest.split('#').next().unwrap_or_default();
        let (path, query) = match no_fragment.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (no_fragment.to_string(), None),
        };
        (authority, path, query)
    }

    #[test]
    fn url_split_matches_string_searches() {
        let b = RecordBuilder {
            redactor: Redactor::new(crate::redact::RedactMode::None, [0; 32]),
            options: RecordOptions::default(),
        };
        for t in [
            "/api/v1/users/9494",
            "/a?b=1#frag?x",
            "/a#f",
            "?q",
            "",
            "*",
            "http://h.test:80/p?q=1#f",
            "HTTPS://h.test?x",
            "http://h.test",
            "h2c://a/b",
            "1http://h/p",
            "/x?u=http://h/p",
            "ht-tp://h/p",
            "://h/p",
            "http:/h/p",
            "http://user@h.test/p",
            "\u{e9}://h/p",
            "abc\u{e9}://h/p",
            "/\u{e9}t\u{e9}?\u{e9}=1#\u{e9}",
        ] {
            let (authority, path, query) = reference_split(t);
            let u = b.url(t.to_string(), None);
            assert_eq!(
                (u.path.as_str(), u.query.as_deref()),
                (path.as_str(), query.as_deref()),
                "{t}"
            );
            let domain = authority
                .map(|a| a.rsplit('@').next().unwrap_or_default())
                .filter(|h| !h.trim().is_empty())
                .map(|h| split_host(h).0.to_string());
            assert_eq!(u.domain, domain, "{t}");
        }
    }

    #[test]
    fn host_splitting() {
        assert_eq!(split_host("api.test:8080"), ("api.test", Some(8080)));
        assert_eq!(split_host("api.test"), ("api.test", None));
        assert_eq!(split_host("[2001:db8::1]:443"), ("2001:db8::1", Some(443)));
        assert_eq!(split_host("2001:db8::1"), ("2001:db8::1", None));
    }

    #[test]
    fn invalid_utf8_in_targets_is_percent_encoded() {
        assert_eq!(target_text(b"/a\xfcb?q=\xc3\xa9"), "/a%FCb?q=\u{e9}");
    }

    #[test]
    fn mime_is_bare_type() {
        assert_eq!(
            mime(Some(b"Application/JSON; charset=utf-8")),
            Some("application/json".into())
        );
        assert_eq!(mime(Some(b" ")), None);
    }
}
