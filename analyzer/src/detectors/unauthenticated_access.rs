//! `unauthenticated_access`: an endpoint that normally sees credentials answers 2xx to a
//! request without any (broken or missing authentication checks).
//!
//! The endpoint's baseline ([`crate::baseline::EndpointBaseline`]) says how often its
//! requests carry credentials (an identity, an `Authorization`, `Cookie` or API-key header)
//! and how often it answered 2xx without them. Once the baselines are warm, an endpoint with
//! at least `min_endpoint_requests` learned, a credential share of at least
//! `min_credential_share` and an earlier unauthenticated-success share of at most
//! `max_unauth_success_share` is a protected endpoint. A source whose requests without
//! credentials get 2xx from protected endpoints `min_successes` times within `window_secs`
//! is alerted. Requests without credentials answered 401/403 are what a protected endpoint
//! should do and are never counted; login endpoints are public by nature and skipped.

use super::{push_sample, Candidate, Observation, SECOND};
use crate::baseline::{Features, Seen};
use crate::config::UnauthenticatedAccessConfig;
use crate::window::WindowCount;
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};

/// Per source, allocated at its first unauthenticated success on a protected endpoint.
#[derive(Debug, Default)]
pub struct State {
    successes: WindowCount,
    /// Distinct endpoints (hashes, at most 16 remembered).
    endpoints: Vec<u64>,
    first_seen: u64,
    samples: Vec<String>,
}

pub struct UnauthenticatedAccess {
    config: UnauthenticatedAccessConfig,
}

impl UnauthenticatedAccess {
    pub fn new(config: UnauthenticatedAccessConfig) -> Self {
        UnauthenticatedAccess { config }
    }

    pub fn observe(
        &self,
        o: &Observation<'_>,
        f: &Features,
        seen: &Seen<'_>,
        state: &mut Option<Box<State>>,
    ) -> Option<Candidate> {
        if f.credentialed || !f.success() || !seen.warm || o.login.is_some() {
            return None;
        }
        let c = &self.config;
        let mix = &seen.endpoint.mix;
        // The endpoint as it was before this request.
        let before = (mix.requests - 1.0).max(0.0);
        if f64::from(before) < c.min_endpoint_requests {
            return None;
        }
        let cred_share = f64::from(mix.credentialed) / f64::from(before);
        let unauth_share = f64::from((mix.unauth_success - 1.0).max(0.0)) / f64::from(before);
        if cred_share < c.min_credential_share || unauth_share > c.max_unauth_success_share {
            return None;
        }
        let w = c.window_secs * SECOND;
        let s = state.get_or_insert_with(Box::default);
        if s.successes.value(o.ts, w) < 1.0 {
            s.first_seen = o.ts;
            s.samples.clear();
            s.endpoints.clear();
        }
        s.successes.add(o.ts, w);
        let h = o.endpoint_key;
        if !s.endpoints.contains(&h) && s.endpoints.len() < 16 {
            s.endpoints.push(h);
        }
        let n = s.successes.value(o.ts, w);
        push_sample(&mut s.samples, 1.0, 3, o);
        if n < f64::from(c.min_successes) {
            return None;
        }
        Some(Candidate {
            category: Category::UnauthenticatedAccess,
            detector: "unauthenticated_access",
            rule_id: "apitap.unauthenticated_access.protected_endpoint",
            rule_name: "Protected endpoint answered without credentials",
            severity: Severity::High,
            score: (0.6 + 0.05 * n).min(1.0),
            actor_kind: "ip",
            actor: o.ip.to_string().into(),
            endpoint: None,
            count: n.round() as u64,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{n:.0} requests without credentials answered 2xx in {}s on {} endpoint(s) that see credentials on {:.1}% of requests (last: {})",
                    c.window_secs,
                    s.endpoints.len(),
                    cred_share * 100.0,
                    o.endpoint
                ),
                observed: vec![
                    Measure::new("unauthenticated_successes", n.round()),
                    Measure::new("distinct_endpoints", s.endpoints.len() as f64),
                    Measure::new("window_secs", c.window_secs as f64),
                ],
                expected: vec![
                    Measure::new("endpoint_credential_share", (cred_share * 1000.0).round() / 1000.0),
                    Measure::new("endpoint_unauth_success_share", (unauth_share * 1000.0).round() / 1000.0),
                    Measure::new("endpoint_requests_learned", f64::from(before).round()),
                    Measure::new("min_successes", f64::from(c.min_successes)),
                ],
                samples: s.samples.clone(),
            },
            recommendation: Some(Recommendation {
                action: "fix_authorization".into(),
                target: o.endpoint.to_string(),
                value: None,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::AnalyzerConfig;
    use crate::test_support::{rec_with, T0};
    use crate::Analyzer;
    use apitap_proto::Category;

    const S: u64 = 1_000_000_000;

    fn learned() -> (Analyzer, Vec<apitap_proto::Alert>) {
        let mut c = AnalyzerConfig::default();
        c.baseline.warmup_secs = 300;
        let mut a = Analyzer::new(c).unwrap();
        let mut out = Vec::new();
        // 100 users with tokens read their profile; 3% forget the token and get 401; anyone
        // reads the public catalogue.
        for t in 0..20u64 {
            for u in 0..100u64 {
                let ip = format!("198.18.1.{}", u + 1);
                let ts = T0 + t * 30 * S + u * 1000;
                let (status, id) = if (t * 100 + u) % 33 == 0 {
                    (401, None)
                } else {
                    (200, Some("k1:user"))
                };
                a.observe(
                    &rec_with(ts, &ip, "/api/v1/users/5", status, 800, id),
                    &mut out,
                );
                a.observe(
                    &rec_with(ts + 1, &ip, "/api/v1/products", 200, 800, None),
                    &mut out,
                );
            }
        }
        (a, out)
    }

    #[test]
    fn protected_endpoint_answering_without_credentials_alerts() {
        let (mut a, mut out) = learned();
        assert!(out.is_empty(), "{out:#?}");
        let t1 = T0 + 20 * 30 * S;
        for i in 0..5u64 {
            let r = rec_with(
                t1 + i * S,
                "203.0.113.7",
                &format!("/api/v1/users/{}", 10 + i),
                200,
                800,
                None,
            );
            a.observe(&r, &mut out);
        }
        assert_eq!(out.len(), 1, "{out:#?}");
        let al = &out[0];
        assert_eq!(al.apitap.category, Category::UnauthenticatedAccess);
        assert_eq!(al.apitap.count, 3);
        let share = al
            .apitap
            .evidence
            .expected
            .iter()
            .find(|m| m.name == "endpoint_credential_share")
            .unwrap()
            .value;
        assert!(share > 0.9, "{share}");
    }

    #[test]
    fn public_endpoints_and_denied_requests_do_not() {
        let (mut a, mut out) = learned();
        let t1 = T0 + 20 * 30 * S;
        for i in 0..20u64 {
            a.observe(
                &rec_with(
                    t1 + i * S,
                    "203.0.113.8",
                    "/api/v1/products",
                    200,
                    800,
                    None,
                ),
                &mut out,
            );
            a.observe(
                &rec_with(
                    t1 + i * S + 1,
                    "203.0.113.8",
                    "/api/v1/users/9",
                    401,
                    80,
                    None,
                ),
                &mut out,
            );
        }
        assert!(out.is_empty(), "{out:#?}");
    }
}
