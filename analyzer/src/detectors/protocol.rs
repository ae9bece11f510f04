//! `request_smuggling` and `protocol_anomaly`, from the framing anomalies the sensor's HTTP
//! parser attaches to each record.
//!
//! - **Smuggling**: a request whose body framing two servers could read differently —
//!   Content-Length together with Transfer-Encoding (CL.TE / TE.CL), several or malformed
//!   Content-Length values, an unsupported or obfuscated Transfer-Encoding, and obs-fold,
//!   bare LF or a space before the colon in a request that carries a framing header. One
//!   such request is enough: clients never send them by accident.
//! - **Protocol anomaly**: evasion-grade oddities (malformed heads and header lines, HTTP/0.9,
//!   duplicate Host, bad chunk framing, oversized or too many headers, unexpected versions,
//!   TCP segments that overlap with different bytes). One can be a broken client, so
//!   `min_anomalies` within `window_secs` from one source make an alert.
//!
//! A record's anomalies cover both directions. When the record carries its request headers
//! (`with_extras`), an anomaly about body framing counts against the client only when the
//! request itself had the framing header in question; otherwise the anomaly is trusted.

use super::{push_sample, Candidate, Observation, SECOND};
use crate::config::ProtocolConfig;
use crate::window::WindowCount;
use apitap_proto::{Category, Evidence, Measure, Recommendation, RequestRecord, Severity};
use std::sync::Arc;

/// Anomalies that make a request a smuggling attempt, with the header they need.
const SMUGGLING: &[(&str, Framing)] = &[
    ("http_cl_and_te", Framing::Both),
    ("http_conflicting_content_length", Framing::ContentLength),
    ("http_invalid_content_length", Framing::ContentLength),
    (
        "http_unsupported_transfer_encoding",
        Framing::TransferEncoding,
    ),
    ("http_obs_fold", Framing::Either),
    ("http_bare_lf", Framing::Either),
    ("http_space_before_colon", Framing::Either),
];

/// Anomalies a normal client does not produce.
const EVASION: &[(&str, Framing)] = &[
    ("tcp_inconsistent_overlap", Framing::None),
    ("http_malformed_head", Framing::None),
    ("http_malformed_header_line", Framing::None),
    ("http_09", Framing::None),
    ("http_duplicate_host", Framing::None),
    ("http_too_many_headers", Framing::None),
    ("http_header_too_large", Framing::None),
    ("http_unexpected_version", Framing::None),
    ("http_invalid_chunk_size", Framing::TransferEncoding),
    ("http_chunk_size_overflow", Framing::TransferEncoding),
    ("http_chunk_missing_crlf", Framing::TransferEncoding),
];

#[derive(Debug, Clone, Copy)]
enum Framing {
    None,
    ContentLength,
    TransferEncoding,
    Both,
    Either,
}

/// Which framing headers the request carried; `None` when the record has no headers.
fn request_framing(r: &RequestRecord) -> Option<(bool, bool)> {
    let h = &r.extras.request_headers;
    if h.is_empty() {
        return None;
    }
    let has = |n: &str| h.iter().any(|(k, _)| k.trim().eq_ignore_ascii_case(n));
    Some((has("content-length"), has("transfer-encoding")))
}

fn attributable(need: Framing, framing: Option<(bool, bool)>) -> bool {
    let Some((cl, te)) = framing else {
        // Without the request's headers, only anomalies that name a framing header are
        // taken as the client's (obs-fold or bare LF may be the server's).
        return !matches!(need, Framing::Either);
    };
    match need {
        Framing::None => true,
        Framing::ContentLength => cl,
        Framing::TransferEncoding => te,
        Framing::Both => cl && te,
        Framing::Either => cl || te,
    }
}

/// The anomalies of `list` on the record that the client is to blame for.
fn client_anomalies(
    r: &RequestRecord,
    list: &[(&'static str, Framing)],
    framing: Option<(bool, bool)>,
) -> Vec<&'static str> {
    list.iter()
        .filter(|(name, need)| {
            r.apitap.anomalies.iter().any(|a| a == name) && attributable(*need, framing)
        })
        .map(|(name, _)| *name)
        .collect()
}

/// Per-source evasion count.
#[derive(Debug, Default)]
pub struct State {
    anomalies: WindowCount,
    first_seen: u64,
    samples: Vec<String>,
    names: Vec<&'static str>,
}

pub struct Protocol {
    config: ProtocolConfig,
}

impl Protocol {
    pub fn new(config: ProtocolConfig) -> Self {
        Protocol { config }
    }

    /// A smuggling candidate for this request, if it is one.
    pub fn smuggling(&self, o: &Observation<'_>) -> Option<Candidate> {
        let r = o.record;
        if !self.config.enabled || r.apitap.anomalies.is_empty() {
            return None;
        }
        let framing = request_framing(r);
        let found = client_anomalies(r, SMUGGLING, framing);
        if found.is_empty() {
            return None;
        }
        let (cl, te) = framing.unwrap_or((false, false));
        let strong = found.iter().any(|n| {
            matches!(
                *n,
                "http_cl_and_te"
                    | "http_conflicting_content_length"
                    | "http_invalid_content_length"
            )
        });
        Some(Candidate {
            category: Category::RequestSmuggling,
            detector: "protocol",
            rule_id: "apitap.protocol.request_smuggling",
            rule_name: "HTTP request smuggling: ambiguous body framing",
            severity: if strong {
                Severity::High
            } else {
                Severity::Medium
            },
            score: if strong { 0.9 } else { 0.6 },
            actor_kind: "ip",
            actor: Arc::from(o.ip.to_string()),
            endpoint: None,
            count: 1,
            first_seen: o.ts,
            evidence: Evidence {
                summary: format!(
                    "{} {} from {} has ambiguous body framing: {}",
                    r.http.request.method,
                    o.endpoint,
                    o.ip,
                    found.join(", ")
                ),
                observed: vec![
                    Measure::new("framing_anomalies", found.len() as f64),
                    Measure::new("content_length_header", f64::from(u8::from(cl))),
                    Measure::new("transfer_encoding_header", f64::from(u8::from(te))),
                ],
                expected: vec![Measure::new("framing_anomalies", 0.0)],
                samples: vec![o.sample()],
            },
            recommendation: Some(Recommendation {
                action: "block_ip".into(),
                target: o.ip.to_string(),
                value: Some(3_600.0),
            }),
        })
    }

    /// Counts evasion-grade anomalies per source; a candidate once there are enough.
    pub fn evasion(
        &self,
        o: &Observation<'_>,
        state: &mut Option<Box<State>>,
    ) -> Option<Candidate> {
        let r = o.record;
        if !self.config.enabled || r.apitap.anomalies.is_empty() {
            return None;
        }
        let framing = request_framing(r);
        let found = client_anomalies(r, EVASION, framing);
        if found.is_empty() {
            return None;
        }
        let w = self.config.window_secs * SECOND;
        let s = state.get_or_insert_with(Box::default);
        if s.anomalies.value(o.ts, w) < 1.0 {
            s.first_seen = o.ts;
            s.samples.clear();
            s.names.clear();
        }
        s.anomalies.add(o.ts, w);
        for n in &found {
            if s.names.len() < 8 && !s.names.contains(n) {
                s.names.push(n);
            }
        }
        let n = s.anomalies.value(o.ts, w);
        let min = f64::from(self.config.min_anomalies.max(1));
        push_sample(&mut s.samples, n / min, 3, o);
        if n < min {
            return None;
        }
        Some(Candidate {
            category: Category::ProtocolAnomaly,
            detector: "protocol",
            rule_id: "apitap.protocol.evasion",
            rule_name: "Malformed HTTP/TCP a normal client does not send",
            severity: Severity::Medium,
            score: (n / (min * 3.0)).clamp(0.5, 1.0),
            actor_kind: "ip",
            actor: Arc::from(o.ip.to_string()),
            endpoint: None,
            count: n as u64,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{n:.0} requests from {} with protocol anomalies in {} s: {}",
                    o.ip,
                    self.config.window_secs,
                    s.names.join(", ")
                ),
                observed: vec![
                    Measure::new("anomalous_requests", n),
                    Measure::new("distinct_anomalies", s.names.len() as f64),
                ],
                expected: vec![
                    Measure::new("min_anomalies", min),
                    Measure::new("window_secs", self.config.window_secs as f64),
                ],
                samples: s.samples.clone(),
            },
            recommendation: None,
        })
    }
}
