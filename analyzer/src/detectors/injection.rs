//! Injection payloads as alerts (`sqli`, `xss`, `path_traversal`, `command_injection`,
//! `ssrf`, `jndi_injection`, `xxe`): the [`crate::payload`] engine scans every request, and
//! its findings are gathered per (source address, family) the way Zeek's SQL-injection policy
//! sums attempts per attacker.
//!
//! - **Learning**: each endpoint template (`METHOD /path/{id}`) keeps a parameter profile
//!   (value type, length, distinct values) learned from requests that carried no finding, so a
//!   free-text parameter is judged by a stricter bar than an id; and a response-size baseline
//!   of its 2xx answers for the "unusually large response" success hint. Both tables are
//!   bounded (`max_endpoint_profiles`, evictions counted).
//! - **Aggregation**: the first finding of a family from a source opens a group; findings of
//!   that family from that source for the next `aggregate_secs` of packet time join it. The
//!   group then becomes one candidate with the count, the endpoints and parameters probed,
//!   the rules that matched, the other families the source tried and the success hints
//!   (database error text, reflected payload, oversized 2xx), which raise severity. At most
//!   `max_open_groups` are open; when full, the oldest is emitted early (counted). Groups
//!   still open at the end of a replay are emitted by [`Injection::flush`].

use super::{Candidate, Observation, SECOND};
use crate::actors::ActorTable;
use crate::config::PayloadSettings;
use crate::hashing::{fixed, hash64, Fixed};
use crate::manager::AlertSubject;
use crate::payload::memo::CleanValues;
use crate::payload::{
    EndpointProfile, Family, PayloadCounters, PayloadDetector, ProfileLimits, RequestParts,
    ResponseParts, ResponseSizeBaseline, SuccessHint,
};
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

/// Endpoints, parameters and rules named in an alert; the distinct counts go further.
const LISTED: usize = 5;
/// Distinct endpoints counted exactly per group.
const DISTINCT_CAP: usize = 256;
const SAMPLES: usize = 3;

/// What one endpoint template taught the detector.
#[derive(Debug, Default)]
pub struct EndpointState {
    profile: EndpointProfile,
    sizes: ResponseSizeBaseline,
}

/// Findings of one family from one source, gathered into one alert.
#[derive(Debug, Default)]
struct Group {
    first_seen: u64,
    last_seen: u64,
    requests: u64,
    max_confidence: f32,
    endpoint_hashes: Vec<u64>,
    endpoints: Vec<String>,
    locations: Vec<String>,
    rules: Vec<String>,
    samples: Vec<String>,
    /// database_error, reflected_payload, large_response.
    hints: [u64; 3],
    dbms: Option<&'static str>,
    subject: Option<AlertSubject>,
}

/// Counters for the summary and metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InjectionStats {
    pub requests_scanned: u64,
    pub params_examined: u64,
    pub bytes_examined: u64,
    /// Findings by family name.
    pub findings: std::collections::BTreeMap<&'static str, u64>,
    /// Requests that hit each extraction bound (the rest of the request was not examined).
    pub limit_params: u64,
    pub limit_depth: u64,
    pub limit_value_bytes: u64,
    pub limit_request_bytes: u64,
    pub base64_decoded: u64,
    pub endpoint_profiles: usize,
    pub endpoint_profiles_evicted: u64,
    /// Parameters not profiled because their endpoint's profile was full.
    pub profile_params_dropped: u64,
    /// Findings dropped because another family matched the same value more surely.
    pub findings_outranked: u64,
    pub groups_emitted: u64,
    /// Groups emitted before `aggregate_secs` because `max_open_groups` were open.
    pub groups_emitted_early: u64,
    /// Parameters not rescanned because their value was already scanned clean, and times
    /// the full memo of clean values was emptied.
    pub clean_memo_hits: u64,
    pub clean_memo_resets: u64,
}

impl InjectionStats {
    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &InjectionStats) {
        self.requests_scanned += o.requests_scanned;
        self.params_examined += o.params_examined;
        self.bytes_examined += o.bytes_examined;
        for (k, v) in &o.findings {
            *self.findings.entry(k).or_default() += v;
        }
        self.limit_params += o.limit_params;
        self.limit_depth += o.limit_depth;
        self.limit_value_bytes += o.limit_value_bytes;
        self.limit_request_bytes += o.limit_request_bytes;
        self.base64_decoded += o.base64_decoded;
        self.endpoint_profiles += o.endpoint_profiles;
        self.endpoint_profiles_evicted += o.endpoint_profiles_evicted;
        self.profile_params_dropped += o.profile_params_dropped;
        self.findings_outranked += o.findings_outranked;
        self.groups_emitted += o.groups_emitted;
        self.groups_emitted_early += o.groups_emitted_early;
        self.clean_memo_hits += o.clean_memo_hits;
        self.clean_memo_resets += o.clean_memo_resets;
    }
}

type GroupKey = (IpAddr, Family);

pub struct Injection {
    config: PayloadSettings,
    detector: Arc<PayloadDetector>,
    limits: ProfileLimits,
    endpoints: ActorTable<String, EndpointState>,
    groups: HashMap<GroupKey, Group, Fixed>,
    /// Open groups by deadline (packet time), oldest first.
    order: VecDeque<(u64, GroupKey)>,
    counters: PayloadCounters,
    /// Values this worker has scanned clean (skipped when they repeat).
    clean: CleanValues,
    profile_params_dropped: u64,
    findings_outranked: u64,
    groups_emitted: u64,
    groups_emitted_early: u64,
}

impl Injection {
    pub fn new(config: PayloadSettings, detector: Arc<PayloadDetector>, ttl: u64) -> Self {
        Injection {
            clean: CleanValues::new(config.clean_memo_entries, config.clean_memo_value_bytes),
            limits: ProfileLimits {
                max_params: config.max_params_per_endpoint,
                min_samples: config.profile_min_samples,
            },
            endpoints: ActorTable::new(config.max_endpoint_profiles, ttl),
            config,
            detector,
            groups: HashMap::with_hasher(fixed()),
            order: VecDeque::new(),
            counters: PayloadCounters::default(),
            profile_params_dropped: 0,
            findings_outranked: 0,
            groups_emitted: 0,
            groups_emitted_early: 0,
        }
    }

    /// Scans one exchange; findings join their groups.
    pub fn observe(&mut self, o: &Observation<'_>) {
        if !self.config.enabled {
            return;
        }
        let r = o.record;
        let st = self.endpoints.entry_by(o.endpoint, o.ts);
        if st.profile.is_empty() {
            st.profile.limits = self.limits;
        }
        let dropped_before = st.profile.dropped_params;
        let req = RequestParts::from(r);
        let scan = self.detector.scan_and_learn(
            &req,
            &mut st.profile,
            &mut self.counters,
            &mut self.clean,
        );
        self.profile_params_dropped += st.profile.dropped_params - dropped_before;
        let resp = ResponseParts::from_record(r);
        if scan.findings.is_empty() {
            if let Some(resp) = resp.filter(|x| (200..300).contains(&x.status)) {
                st.sizes.observe(resp.body_bytes);
            }
            return;
        }
        let hints = resp
            .map(|x| self.detector.success_hints(&x, &scan, st.sizes.typical()))
            .unwrap_or_default();
        let mut seen: u8 = 0;
        for (i, f) in scan.findings.iter().enumerate() {
            if outranked(&scan.findings, i) {
                self.findings_outranked += 1;
                continue;
            }
            let bit = 1u8 << f.family.index();
            let key = (o.ip, f.family);
            if !self.groups.contains_key(&key) {
                if self.groups.len() >= self.config.max_open_groups.max(1) {
                    self.groups_emitted_early += 1;
                    self.expire_oldest();
                }
                self.order
                    .push_back((o.ts + self.config.aggregate_secs * SECOND, key));
            }
            let g = self.groups.entry(key).or_default();
            if g.requests == 0 {
                g.first_seen = o.ts;
                g.subject = Some(AlertSubject::of(r));
            }
            if seen & bit == 0 {
                seen |= bit;
                g.requests += 1;
                g.last_seen = o.ts;
                let h = hash64(o.endpoint);
                if g.endpoint_hashes.len() < DISTINCT_CAP && !g.endpoint_hashes.contains(&h) {
                    g.endpoint_hashes.push(h);
                    if g.endpoints.len() < LISTED {
                        g.endpoints.push(o.endpoint.to_string());
                    }
                }
                for h in &hints {
                    match h {
                        SuccessHint::DatabaseError { dbms, .. } => {
                            g.hints[0] += 1;
                            g.dbms.get_or_insert(dbms);
                        }
                        SuccessHint::Reflected { finding } if *finding == i => g.hints[1] += 1,
                        SuccessHint::Reflected { .. } => {}
                        SuccessHint::LargeResponse { .. } => g.hints[2] += 1,
                    }
                }
            }
            if f.confidence > g.max_confidence {
                g.max_confidence = f.confidence;
            }
            let loc = format!("{}:{}", f.location.place.as_str(), f.location.name);
            if g.locations.len() < LISTED && !g.locations.contains(&loc) {
                g.locations.push(loc.clone());
            }
            if g.rules.len() < LISTED && !g.rules.contains(&f.rule) {
                g.rules.push(f.rule.clone());
            }
            if g.samples.len() < SAMPLES {
                let mut s = o.sample();
                let _ = write!(s, " | {loc}: {}", f.fragment);
                g.samples.push(s.chars().take(240).collect());
            }
        }
    }

    /// Groups whose time is up at packet time `now`, as candidates with the exchange each
    /// points at.
    pub fn due(&mut self, now: u64, out: &mut Vec<(Candidate, AlertSubject)>) {
        while let Some(&(deadline, key)) = self.order.front() {
            if deadline > now {
                break;
            }
            self.order.pop_front();
            if let Some(c) = self.close(key) {
                out.push(c);
            }
        }
    }

    /// Every open group, oldest first (end of a replay, or shutdown).
    pub fn flush(&mut self, out: &mut Vec<(Candidate, AlertSubject)>) {
        while let Some((_, key)) = self.order.pop_front() {
            if let Some(c) = self.close(key) {
                out.push(c);
            }
        }
    }

    /// Makes the oldest group due at once; the next [`Self::due`] emits it.
    fn expire_oldest(&mut self) {
        if let Some(front) = self.order.front_mut() {
            front.0 = 0;
        }
    }

    fn close(&mut self, key: GroupKey) -> Option<(Candidate, AlertSubject)> {
        let g = self.groups.remove(&key)?;
        let subject = g.subject.clone()?;
        self.groups_emitted += 1;
        let others: Vec<&'static str> = Family::ALL
            .into_iter()
            .filter(|f| *f != key.1 && self.groups.contains_key(&(key.0, *f)))
            .map(Family::as_str)
            .collect();
        Some((candidate(key, &g, &others, &self.config), subject))
    }

    pub fn stats(&self) -> InjectionStats {
        let c = &self.counters;
        InjectionStats {
            requests_scanned: c.requests,
            params_examined: c.params,
            bytes_examined: c.bytes,
            findings: Family::ALL
                .into_iter()
                .filter(|f| c.findings[f.index()] > 0)
                .map(|f| (f.as_str(), c.findings[f.index()]))
                .collect(),
            limit_params: c.limit_params,
            limit_depth: c.limit_depth,
            limit_value_bytes: c.limit_value_bytes,
            limit_request_bytes: c.limit_request_bytes,
            base64_decoded: c.base64_decoded,
            endpoint_profiles: self.endpoints.len(),
            endpoint_profiles_evicted: self.endpoints.evicted,
            profile_params_dropped: self.profile_params_dropped,
            findings_outranked: self.findings_outranked,
            groups_emitted: self.groups_emitted,
            groups_emitted_early: self.groups_emitted_early,
            clean_memo_hits: self.clean.hits,
            clean_memo_resets: self.clean.resets,
        }
    }

    /// Groups open now (for tests and metrics).
    pub fn open_groups(&self) -> usize {
        self.groups.len()
    }
}

/// One value, one intent: a finding is dropped when another family matched the same
/// location with more confidence (or as much, and is the more specific family) — a
/// `'-alert(1)-'` XSS breakout also tokenizes as SQL, an XXE entity URL also names an address.
fn outranked(findings: &[crate::payload::Finding], i: usize) -> bool {
    let f = &findings[i];
    findings.iter().enumerate().any(|(j, g)| {
        j != i
            && g.location == f.location
            && (g.confidence > f.confidence
                || (g.confidence == f.confidence && specificity(g.family) < specificity(f.family)))
    })
}

/// Lower is more specific.
fn specificity(f: Family) -> u8 {
    match f {
        Family::JndiInjection => 0,
        Family::Xxe => 1,
        Family::CommandInjection => 2,
        Family::Ssrf => 3,
        Family::PathTraversal => 4,
        Family::Xss => 5,
        Family::Sqli => 6,
    }
}

fn category(f: Family) -> Category {
    match f {
        Family::Sqli => Category::Sqli,
        Family::Xss => Category::Xss,
        Family::PathTraversal => Category::PathTraversal,
        Family::CommandInjection => Category::CommandInjection,
        Family::Ssrf => Category::Ssrf,
        Family::JndiInjection => Category::JndiInjection,
        Family::Xxe => Category::Xxe,
    }
}

fn base_severity(f: Family) -> Severity {
    match f {
        Family::Xss => Severity::Medium,
        _ => Severity::High,
    }
}

fn raise(s: Severity) -> Severity {
    match s {
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        _ => Severity::Critical,
    }
}

fn candidate(
    (ip, family): GroupKey,
    g: &Group,
    others: &[&str],
    config: &PayloadSettings,
) -> Candidate {
    let success = g.hints.iter().any(|&n| n > 0);
    let severity = if success {
        raise(base_severity(family))
    } else {
        base_severity(family)
    };
    let hint_kinds = g.hints.iter().filter(|&&n| n > 0).count() as f64;
    let score = (f64::from(g.max_confidence) + 0.1 * hint_kinds).min(1.0);
    let rule_name = match family {
        Family::Sqli => "SQL injection payloads",
        Family::Xss => "Cross-site scripting payloads",
        Family::PathTraversal => "Path traversal payloads",
        Family::CommandInjection => "OS command injection payloads",
        Family::Ssrf => "Server-side request forgery targets",
        Family::JndiInjection => "JNDI lookup (Log4Shell) payloads",
        Family::Xxe => "XML external entity payloads",
    };
    let rule_id = match family {
        Family::Sqli => "apitap.payload.sqli",
        Family::Xss => "apitap.payload.xss",
        Family::PathTraversal => "apitap.payload.path_traversal",
        Family::CommandInjection => "apitap.payload.command_injection",
        Family::Ssrf => "apitap.payload.ssrf",
        Family::JndiInjection => "apitap.payload.jndi_injection",
        Family::Xxe => "apitap.payload.xxe",
    };
    let mut summary = format!(
        "{} request(s) from {ip} carried {} payloads over {:.0} s, against {} endpoint(s) ({}) in {}",
        g.requests,
        family.as_str(),
        (g.last_seen - g.first_seen) as f64 / SECOND as f64,
        g.endpoint_hashes.len(),
        g.endpoints.join(", "),
        g.locations.join(", "),
    );
    let _ = write!(summary, "; rules: {}", g.rules.join(", "));
    if !others.is_empty() {
        let _ = write!(summary, "; the source also tried {}", others.join(", "));
    }
    if success {
        let mut parts = Vec::new();
        if g.hints[0] > 0 {
            parts.push(format!(
                "database error text ({}) in {} response(s)",
                g.dbms.unwrap_or("generic"),
                g.hints[0]
            ));
        }
        if g.hints[1] > 0 {
            parts.push(format!("payload reflected in {} response(s)", g.hints[1]));
        }
        if g.hints[2] > 0 {
            parts.push(format!("{} unusually large 2xx response(s)", g.hints[2]));
        }
        let _ = write!(summary, "; it may have worked: {}", parts.join(", "));
    }
    Candidate {
        category: category(family),
        detector: "payload",
        rule_id,
        rule_name,
        severity,
        score,
        actor_kind: "ip",
        actor: Arc::from(ip.to_string()),
        endpoint: None,
        count: g.requests,
        first_seen: g.first_seen,
        evidence: Evidence {
            summary,
            observed: vec![
                Measure::new("requests", g.requests as f64),
                Measure::new("distinct_endpoints", g.endpoint_hashes.len() as f64),
                Measure::new(
                    "max_confidence",
                    (f64::from(g.max_confidence) * 100.0).round() / 100.0,
                ),
                Measure::new("other_families", others.len() as f64),
                Measure::new("database_error_responses", g.hints[0] as f64),
                Measure::new("reflected_responses", g.hints[1] as f64),
                Measure::new("large_responses", g.hints[2] as f64),
                Measure::new(
                    "duration_secs",
                    ((g.last_seen - g.first_seen) / SECOND) as f64,
                ),
            ],
            expected: vec![
                Measure::new("min_confidence", f64::from(config.min_confidence)),
                Measure::new("aggregate_secs", config.aggregate_secs as f64),
            ],
            samples: g.samples.clone(),
        },
        recommendation: Some(Recommendation {
            action: "block_ip".into(),
            target: ip.to_string(),
            value: Some(if success { 86_400.0 } else { 3_600.0 }),
        }),
    }
}
