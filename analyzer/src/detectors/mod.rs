//! Behaviour detectors: one module each, all fed the same [`Observation`] per exchange,
//! each returning [`Candidate`] alerts with numeric evidence for the alert manager.
//!
//! Modules: [`account_takeover`], [`brute_force`], [`credential_stuffing`],
//! [`forced_browsing`], [`enumeration`], [`rate_anomaly`], [`bot`], [`scraping`],
//! [`threat_intel`], [`injection`] (payloads), [`protocol`] (smuggling and evasion), and the
//! baseline-based [`data_exfiltration`] and [`unauthenticated_access`] (quiet until the
//! baselines are warm). Each keeps its state in [`crate::actors::ActorTable`]s (bounded,
//! evictions counted) and runs on packet time only.

pub mod account_takeover;
pub mod bot;
pub mod brute_force;
pub mod credential_stuffing;
pub mod data_exfiltration;
pub mod enumeration;
pub mod forced_browsing;
pub mod injection;
pub mod protocol;
pub mod rate_anomaly;
pub mod scraping;
pub mod threat_intel;
pub mod unauthenticated_access;

use crate::login::LoginAttempt;
use apitap_proto::{Category, Evidence, Recommendation, RequestRecord, Severity};
use std::net::IpAddr;
use std::sync::Arc;

/// Everything the per-source detectors keep about one source address, in one table entry
/// (one lookup per record); the login detectors' parts exist only for sources that log in.
#[derive(Debug, Default)]
pub struct SourceState {
    pub brute_force: Option<Box<brute_force::State>>,
    pub credential_stuffing: Option<Box<credential_stuffing::State>>,
    pub forced_browsing: forced_browsing::State,
    pub rate_anomaly: rate_anomaly::State,
    pub bot: bot::State,
    /// Allocated at the source's first paging request.
    pub scraping: Option<Box<scraping::State>>,
    /// Allocated at the source's first evasion-grade protocol anomaly.
    pub protocol: Option<Box<protocol::State>>,
    /// Allocated at the source's first unauthenticated success on a protected endpoint.
    pub unauthenticated_access: Option<Box<unauthenticated_access::State>>,
    /// What is normal for this address (see [`crate::baseline`]).
    pub baseline: crate::baseline::ActorBaseline,
}

/// What every detector sees of one exchange.
#[derive(Debug)]
pub struct Observation<'a> {
    pub record: &'a RequestRecord,
    /// Request start, packet time.
    pub ts: u64,
    pub ip: IpAddr,
    /// `METHOD /template`.
    pub endpoint: &'a str,
    /// The templated path alone.
    pub template: &'a str,
    /// [`crate::template::endpoint_key`] of `endpoint` (on any host, as detectors key
    /// per-endpoint state; hashed once per record, not once per detector).
    pub endpoint_key: u64,
    /// Hash of the record's `user.id`, when it has one (per-user state is keyed by it).
    pub user_key: Option<u64>,
    /// Hash of the record's `apitap.identity.id`, when it has one.
    pub identity_key: Option<u64>,
    /// Hash of the user agent (0 without one): what per-actor state remembers a client by.
    pub user_agent_key: u64,
    /// The path has a segment monitors poll ([`crate::template::is_health_path`]).
    pub health_path: bool,
    /// Segment index of the object id when the template is an object endpoint
    /// ([`crate::template::object_position`]).
    pub object_position: Option<usize>,
    pub status: Option<u16>,
    pub login: Option<LoginAttempt>,
}

impl Observation<'_> {
    /// `METHOD url status`, for evidence samples (the record's URL is already redacted).
    pub fn sample(&self) -> String {
        // Built by pieces (detectors keep samples while a pattern builds up, so this runs
        // far more often than alerts are written; formatting machinery cost ten times more).
        let r = self.record;
        let (method, url) = (r.http.request.method.as_ref(), r.url.original.as_str());
        let mut s = String::with_capacity(method.len() + url.len().min(200) + 8);
        s.push_str(method);
        s.push(' ');
        s.push_str(url);
        if let Some(code) = self.status {
            s.push_str(" -> ");
            s.push_str(itoa::Buffer::new().format(code));
        }
        // At most 200 characters (a string of at most 200 bytes has no more).
        if s.len() > 200 {
            if let Some((cut, _)) = s.char_indices().nth(200) {
                s.truncate(cut);
            }
        }
        s
    }
}

/// An alert a detector proposes; the manager decides whether and how it is emitted.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub category: Category,
    pub detector: &'static str,
    pub rule_id: &'static str,
    pub rule_name: &'static str,
    pub severity: Severity,
    /// 0–1.
    pub score: f64,
    /// `ip`, `identity`, `account`, `endpoint` or `campaign`.
    pub actor_kind: &'static str,
    pub actor: Arc<str>,
    pub endpoint: Option<String>,
    /// Requests behind the candidate.
    pub count: u64,
    pub first_seen: u64,
    pub evidence: Evidence,
    pub recommendation: Option<Recommendation>,
}

/// Time constant helpers.
pub const SECOND: u64 = 1_000_000_000;

/// Keeps up to `n` samples, once `progress` (the share of the alert threshold reached) is at
/// least one half: actors that never get near a threshold cost no sample memory or time.
pub fn push_sample(samples: &mut Vec<String>, progress: f64, n: usize, o: &Observation<'_>) {
    if progress >= 0.5 && samples.len() < n {
        samples.push(o.sample());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{rec, T0};

    fn sample_of(r: &RequestRecord) -> String {
        Observation {
            record: r,
            ts: T0,
            ip: r.source.ip,
            endpoint: "GET /x",
            template: "/x",
            endpoint_key: 0,
            user_key: None,
            identity_key: None,
            user_agent_key: 0,
            health_path: false,
            object_position: None,
            status: Some(404),
            login: None,
        }
        .sample()
    }

    #[test]
    fn samples_are_method_url_status_cut_at_200_characters() {
        let mut r = rec(T0, "198.18.0.1", "GET", "/short", 404, b"");
        assert_eq!(sample_of(&r), format!("GET {} -> 404", r.url.original));
        let path = format!("/search/{}", "é".repeat(300));
        r.url.original = path.clone();
        let long = sample_of(&r);
        assert_eq!(long.chars().count(), 200);
        assert!(format!("GET {path}").starts_with(&long));
    }
}
