//! The exchange record: one per HTTP request/response exchange, in ECS shape.
//!
//! Invariant: a record never holds a secret in clear. Authorization, Cookie, API-key and
//! password values are replaced by keyed hashes (or dropped) before a record is built; the
//! in-memory extras ([`RequestRecord::extras`]) hold body prefixes and headers for the
//! analyzers and are never serialized.

use crate::time::{as_rfc3339, TimestampNs};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

/// One HTTP request/response exchange as seen on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Request start (first byte of the request line), packet time.
    #[serde(rename = "@timestamp", with = "as_rfc3339")]
    pub timestamp: TimestampNs,
    pub event: Event,
    pub source: Endpoint,
    pub destination: Endpoint,
    pub network: Network,
    pub url: Url,
    pub http: Http,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<UserAgent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub apitap: Apitap,
    /// In-memory only: what the analyzers may read beyond the written fields.
    #[serde(skip)]
    pub extras: Extras,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Always `event`.
    pub kind: Cow<'static, str>,
    /// `["network", "web"]`.
    pub category: Vec<Cow<'static, str>>,
    /// `apitap.http`.
    pub dataset: Cow<'static, str>,
    #[serde(with = "as_rfc3339")]
    pub start: TimestampNs,
    #[serde(with = "as_rfc3339")]
    pub end: TimestampNs,
    /// `end - start` in nanoseconds.
    pub duration: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// `tcp`.
    pub transport: Cow<'static, str>,
    /// `http`.
    pub protocol: Cow<'static, str>,
    /// Shared by every record of the flow.
    pub community_id: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Vlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vlan {
    pub id: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Url {
    /// The request-target exactly as sent (lossy UTF-8; secret-named query values masked
    /// unless redaction is off).
    pub original: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Host header (or absolute-form authority) without the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Port given in the Host header, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Http {
    /// `1.1`, `1.0` or `0.9`.
    pub version: Cow<'static, str>,
    pub request: HttpRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HttpRequest {
    /// Method as sent (case kept). Empty when only a response was seen.
    pub method: Cow<'static, str>,
    /// Head plus body bytes on the wire (chunk framing included).
    pub bytes: u64,
    pub body: Body,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<Cow<'static, str>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HttpResponse {
    pub status_code: u16,
    pub bytes: u64,
    pub body: Body,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<Cow<'static, str>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Body {
    /// Body length after de-chunking, before decompression.
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAgent {
    pub original: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Keyed hash of the caller's identity (see [`Identity`]).
    pub id: Arc<str>,
}

/// Everything apitap-specific.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Apitap {
    /// 1-based position of the exchange on its connection.
    pub trans_depth: u32,
    pub flow_id: u64,
    /// Protocol and stream anomalies seen while parsing this exchange (snake_case names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<Cow<'static, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<Tunnel>,
    pub request: ApitapRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ApitapResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// True when the connection was picked up mid-stream (no handshake seen).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub midstream: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ApitapRequest {
    /// Body length after de-chunking and decompression.
    pub decoded_body_bytes: u64,
    /// Body prefix (decoded, secrets masked); written only when the sensor is asked to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ApitapResponse {
    pub decoded_body_bytes: u64,
    pub status_msg: Cow<'static, str>,
    /// Interim (1xx) responses seen before the final one, e.g. `[100]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub informational: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_prefix: Option<String>,
}

/// The tunnel a mirrored packet arrived in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tunnel {
    /// `vxlan`, `geneve`, `gre`, `erspan2`, `erspan3`, `teredo`, `ayiya`, `gtpu`, `ip_in_ip`.
    pub kind: Cow<'static, str>,
    pub outer_source_ip: IpAddr,
    pub outer_destination_ip: IpAddr,
    /// VNI, ERSPAN session id, GRE key or GTP TEID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
}

/// Who the caller is, as far as the request says, never in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Where it came from: `basic`, `jwt`, `bearer`, `digest`, `api_key`, `session_cookie`.
    pub kind: Cow<'static, str>,
    /// Keyed hash of the identity (`k1:` + hex), or the clear value when redaction is off.
    pub id: Arc<str>,
    /// The header or cookie name it was taken from, e.g. `x-api-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Cow<'static, str>>,
}

/// In-memory extras for the analyzers; never serialized.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extras {
    /// Request headers with secret values replaced by keyed hashes (names lower-cased).
    pub request_headers: crate::Headers,
    pub response_headers: crate::Headers,
    /// Decoded request body prefix, up to the configured capture size.
    pub request_body: Vec<u8>,
    pub response_body: Vec<u8>,
}
