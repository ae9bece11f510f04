//! Record builders for the analyzer's unit tests.

use apitap_proto::{
    ApitapRequest, ApitapResponse, Body, Endpoint, Event, Extras, Http, HttpRequest, HttpResponse,
    Identity, Network, RequestRecord, Url, User,
};
use std::borrow::Cow;

pub const S: u64 = 1_000_000_000;
pub const T0: u64 = 1_700_000_000 * S;

/// A `method path` exchange from `ip` with a request `body`, answered `status` (100-byte
/// body), from a desktop browser.
pub fn rec(
    ts: u64,
    ip: &str,
    method: &'static str,
    path: &str,
    status: u16,
    body: &[u8],
) -> RequestRecord {
    RequestRecord {
        timestamp: ts,
        event: Event {
            kind: Cow::Borrowed("event"),
            category: vec![],
            dataset: Cow::Borrowed("apitap.http"),
            start: ts,
            end: ts,
            duration: 0,
        },
        source: Endpoint {
            ip: ip.parse().unwrap(),
            port: 40000,
        },
        destination: Endpoint {
            ip: "198.19.255.10".parse().unwrap(),
            port: 80,
        },
        network: Network {
            transport: Cow::Borrowed("tcp"),
            protocol: Cow::Borrowed("http"),
            community_id: "1:x".into(),
            vlan: None,
        },
        url: Url {
            original: path.to_string(),
            path: path.split('?').next().unwrap().to_string(),
            query: None,
            domain: Some("api.test".into()),
            port: None,
        },
        http: Http {
            version: Cow::Borrowed("1.1"),
            request: HttpRequest {
                method: Cow::Borrowed(method),
                bytes: 100,
                body: Body {
                    bytes: body.len() as u64,
                },
                mime_type: None,
            },
            response: Some(HttpResponse {
                status_code: status,
                bytes: 200,
                body: Body { bytes: 100 },
                mime_type: None,
            }),
        },
        // A browser unless a test says otherwise (the bot detector judges user agents).
        user_agent: Some(apitap_proto::UserAgent {
            original: "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0".into(),
        }),
        user: None,
        apitap: apitap_proto::Apitap {
            request: ApitapRequest::default(),
            response: Some(ApitapResponse::default()),
            ..Default::default()
        },
        extras: Extras {
            request_body: body.to_vec(),
            ..Default::default()
        },
    }
}

/// A `GET path` from `ip` answered `status` with `bytes` of body, with a bearer identity
/// when `identity` is given.
pub fn rec_with(
    ts: u64,
    ip: &str,
    path: &str,
    status: u16,
    bytes: u64,
    identity: Option<&str>,
) -> RequestRecord {
    let mut r = rec(ts, ip, "GET", path, status, b"");
    if let Some(resp) = r.http.response.as_mut() {
        resp.bytes = bytes + 200;
        resp.body.bytes = bytes;
    }
    r.user = identity.map(|i| User { id: i.into() });
    r.apitap.identity = identity.map(|i| Identity {
        kind: Cow::Borrowed("bearer"),
        id: i.into(),
        source: None,
    });
    r
}
