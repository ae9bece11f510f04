//! Record builders for the analyzer's unit tests.

use apitap_proto::{
    ApitapRequest, ApitapResponse, Body, Endpoint, Event, Extras, Http, HttpRequest, HttpResponse,
    Identity, Network, RequestRecord, Url, User,
};
use std::borrow::Cow;

pub const S: u64 = 1_000_000_000;
pub const T0: u64 = 1_700_000_000 * S;

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
            path: path.to_string(),
            query: None,
            domain: Some("api.test".into()),
            port: None,
        },
        http: Http {
            version: Cow::Borrowed("1.1"),
            request: HttpRequest {
                method: Cow::Borrowed("GET"),
                bytes: 100,
                body: Body { bytes: 0 },
                mime_type: None,
            },
            response: Some(HttpResponse {
                status_code: status,
                bytes: bytes + 200,
                body: Body { bytes },
                mime_type: None,
            }),
        },
        user_agent: Some(apitap_proto::UserAgent {
            original: "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0".into(),
        }),
        user: identity.map(|i| User { id: i.into() }),
        apitap: apitap_proto::Apitap {
            request: ApitapRequest::default(),
            response: Some(ApitapResponse::default()),
            identity: identity.map(|i| Identity {
                kind: Cow::Borrowed("bearer"),
                id: i.into(),
                source: None,
            }),
            ..Default::default()
        },
        extras: Extras::default(),
    }
}
