//! `rate_anomaly`: request floods — one source far above a fixed ceiling per window.
//!
//! This first version compares against a configured ceiling; learned per-actor and
//! population baselines (EWMA with hour-of-day) will refine it.

use super::{Candidate, Observation, SECOND};
use crate::config::RateAnomalyConfig;
use crate::window::WindowCount;
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};

#[derive(Debug, Default)]
pub struct State {
    requests: WindowCount,
    first_seen: u64,
}

pub struct RateAnomaly {
    config: RateAnomalyConfig,
}

impl RateAnomaly {
    pub fn new(config: RateAnomalyConfig) -> Self {
        RateAnomaly { config }
    }

    pub fn observe(&mut self, o: &Observation<'_>, s: &mut State) -> Option<Candidate> {
        let w = self.config.window_secs * SECOND;
        if s.requests.value(o.ts, w) < 1.0 {
            s.first_seen = o.ts;
        }
        s.requests.add(o.ts, w);
        let n = s.requests.value(o.ts, w);
        if n < f64::from(self.config.max_requests) {
            return None;
        }
        let per_min = n * 60.0 / self.config.window_secs.max(1) as f64;
        Some(Candidate {
            category: Category::RateAnomaly,
            detector: "rate_anomaly",
            rule_id: "apitap.rate_anomaly.source_flood",
            rule_name: "Request flood from one source",
            severity: if n >= 4.0 * f64::from(self.config.max_requests) {
                Severity::High
            } else {
                Severity::Medium
            },
            score: (0.5 + 0.1 * n / f64::from(self.config.max_requests)).min(1.0),
            actor_kind: "ip",
            actor: o.ip.to_string().into(),
            endpoint: None,
            count: n.round() as u64,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{n:.0} requests in {}s from {} ({per_min:.0}/min)",
                    self.config.window_secs, o.ip
                ),
                observed: vec![
                    Measure::new("requests", n.round()),
                    Measure::new("window_secs", self.config.window_secs as f64),
                ],
                expected: vec![Measure::new(
                    "max_requests",
                    f64::from(self.config.max_requests),
                )],
                samples: vec![o.sample()],
            },
            recommendation: Some(Recommendation {
                action: "rate_limit".into(),
                target: o.ip.to_string(),
                value: Some(
                    (f64::from(self.config.max_requests) * 60.0
                        / self.config.window_secs.max(1) as f64
                        / 2.0)
                        .round(),
                ),
            }),
        })
    }
}
