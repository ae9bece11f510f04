//! `data_exfiltration`: response volume far above what is normal, from the baselines.
//!
//! Two rules, both only once the baselines are warm:
//! - **Volume** (`apitap.data_exfiltration.volume`): an actor's response bytes over the
//!   sliding window (`window_secs`) are at least `min_bytes`, and far above both its own
//!   baseline (`actor_factor` × its bytes per active minute, scaled to the window) and the
//!   population's (`population_factor` × the p99 of bytes per actor-minute over all
//!   sources, sustained over the window). An actor too new to have a baseline of its own
//!   (`min_actor_minutes` active minutes over at least two windows) is judged against the
//!   population alone, with `new_actor_factor`: a key that starts pulling at once has no
//!   history but the pull, and must not learn it as normal first.
//!   The actor is the source address, and the identity (API key, token subject) when the
//!   request carried one: a stolen key pulling data is caught under its own name.
//! - **Bulk export** (`apitap.data_exfiltration.bulk_response`): one response of at least
//!   `bulk_response_bytes` and `bulk_factor` times its endpoint's p99 response size.
//!
//! Evidence: the window's bytes and responses, the actor's expected bytes, the population's
//! p99, the thresholds.

use super::{Candidate, Observation, SECOND};
use crate::baseline::{ActorBaseline, Features, Seen};
use crate::config::DataExfiltrationConfig;
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};
use std::sync::Arc;

pub struct DataExfiltration {
    config: DataExfiltrationConfig,
}

/// The population's p99 of response bytes per actor-minute, once learned.
fn population_p99(seen: &Seen<'_>, min_minutes: f64) -> Option<f64> {
    let h = &seen.global.actor_minute_bytes;
    (h.total() >= min_minutes).then(|| h.quantile(0.99))
}

impl DataExfiltration {
    pub fn new(config: DataExfiltrationConfig) -> Self {
        DataExfiltration { config }
    }

    /// Judges one exchange, already learned into the baselines (`ip_base` is the source
    /// address's baseline).
    pub fn observe(
        &self,
        o: &Observation<'_>,
        f: &Features,
        ip_base: &ActorBaseline,
        seen: &Seen<'_>,
    ) -> Option<Candidate> {
        if !seen.warm {
            return None;
        }
        if let Some(c) = self.bulk(o, f, seen) {
            return Some(c);
        }
        // The address is spelled out only for an alert (most records raise none).
        if let Some(c) = self.volume(o, "ip", None, ip_base, seen) {
            return Some(c);
        }
        let (id, base) = seen.identity?;
        self.volume(o, "identity", Some(id), base, seen)
    }

    /// The volume rule for one actor: `actor` is its name, `None` for the source address.
    fn volume(
        &self,
        o: &Observation<'_>,
        kind: &'static str,
        actor: Option<&Arc<str>>,
        base: &ActorBaseline,
        seen: &Seen<'_>,
    ) -> Option<Candidate> {
        let c = &self.config;
        let w = c.window_secs * SECOND;
        let bytes = base.volume.window.value(o.ts, w);
        if bytes < c.min_bytes as f64 {
            return None;
        }
        let minutes = (c.window_secs as f64 / 60.0).max(1.0);
        let pop = population_p99(seen, c.min_population_minutes)? * minutes;
        let own = base
            .volume
            .expected_per_window(c.window_secs, c.min_actor_minutes)
            .filter(|_| o.ts.saturating_sub(base.first_seen) >= 2 * w);
        let threshold = match own {
            Some(own) => (c.actor_factor * own).max(c.population_factor * pop),
            None => c.new_actor_factor * pop,
        }
        .max(c.min_bytes as f64);
        if bytes < threshold {
            return None;
        }
        let actor: Arc<str> = actor.cloned().unwrap_or_else(|| o.ip.to_string().into());
        let responses = base.volume.window_responses.value(o.ts, w).round();
        let ratio = bytes / threshold;
        let mut expected = vec![
            Measure::new("population_p99_bytes_per_window", pop.round()),
            Measure::new("threshold_bytes", threshold.round()),
            Measure::new("min_bytes", c.min_bytes as f64),
        ];
        if let Some(own) = own {
            expected.insert(
                0,
                Measure::new("actor_expected_bytes_per_window", own.round()),
            );
        }
        Some(Candidate {
            category: Category::DataExfiltration,
            detector: "data_exfiltration",
            rule_id: "apitap.data_exfiltration.volume",
            rule_name: "Response volume far above the actor's and the population's baseline",
            severity: if ratio >= 4.0 {
                Severity::Critical
            } else {
                Severity::High
            },
            score: (0.6 + 0.1 * ratio).min(1.0),
            actor_kind: kind,
            actor: actor.clone(),
            endpoint: None,
            count: responses as u64,
            first_seen: o.ts.saturating_sub(w).max(base.first_seen),
            evidence: Evidence {
                summary: format!(
                    "{:.1} MiB of responses in {}s to {kind} {actor} ({responses:.0} responses), {:.1}x the threshold from its baseline and the population's",
                    bytes / 1048576.0,
                    c.window_secs,
                    ratio
                ),
                observed: vec![
                    Measure::new("response_bytes", bytes.round()),
                    Measure::new("responses", responses),
                    Measure::new("window_secs", c.window_secs as f64),
                    Measure::new("actor_active_minutes", f64::from(base.volume.active_minutes)),
                ],
                expected,
                samples: vec![o.sample()],
            },
            recommendation: Some(Recommendation {
                action: if kind == "identity" {
                    "revoke_credential".into()
                } else {
                    "block_source".into()
                },
                target: actor.to_string(),
                value: None,
            }),
        })
    }

    fn bulk(&self, o: &Observation<'_>, f: &Features, seen: &Seen<'_>) -> Option<Candidate> {
        let c = &self.config;
        if f.response_bytes < c.bulk_response_bytes || !f.success() {
            return None;
        }
        let sizes = &seen.endpoint.sizes;
        if sizes.total() < c.min_endpoint_responses {
            return None;
        }
        let p99 = sizes.quantile(0.99);
        let bytes = f.response_bytes as f64;
        if bytes < c.bulk_factor * p99 {
            return None;
        }
        let (kind, actor): (&'static str, Arc<str>) = match seen.identity {
            Some((id, _)) => ("identity", id.clone()),
            None => ("ip", o.ip.to_string().into()),
        };
        Some(Candidate {
            category: Category::DataExfiltration,
            detector: "data_exfiltration",
            rule_id: "apitap.data_exfiltration.bulk_response",
            rule_name: "Bulk export far larger than the endpoint's usual responses",
            severity: Severity::High,
            score: (0.6 + 0.01 * bytes / p99.max(1.0)).min(1.0),
            actor_kind: kind,
            actor: actor.clone(),
            endpoint: Some(o.endpoint.to_string()),
            count: 1,
            first_seen: o.ts,
            evidence: Evidence {
                summary: format!(
                    "one {:.1} MiB response from {}, {:.0}x the endpoint's p99 of {:.0} bytes",
                    bytes / 1048576.0,
                    o.endpoint,
                    bytes / p99.max(1.0),
                    p99
                ),
                observed: vec![Measure::new("response_bytes", bytes)],
                expected: vec![
                    Measure::new("endpoint_p99_bytes", p99),
                    Measure::new("endpoint_responses_learned", sizes.total().round()),
                    Measure::new("bulk_response_bytes", c.bulk_response_bytes as f64),
                    Measure::new("bulk_factor", c.bulk_factor),
                ],
                samples: vec![o.sample()],
            },
            recommendation: Some(Recommendation {
                action: "review_export".into(),
                target: actor.to_string(),
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

    fn config() -> AnalyzerConfig {
        let mut c = AnalyzerConfig::default();
        c.baseline.warmup_secs = 600;
        c
    }

    /// 200 sources reading ~2 KB answers every 20 s for `mins` minutes from `start`.
    fn population(start: u64, mins: u64) -> Vec<apitap_proto::RequestRecord> {
        let mut v = Vec::new();
        for t in 0..mins * 3 {
            for c in 0..200u64 {
                let ip = format!("198.18.{}.{}", c / 250, c % 250 + 1);
                v.push(rec_with(
                    start + t * 20 * S + c * 1000,
                    &ip,
                    "/api/v1/users/7",
                    200,
                    2000,
                    None,
                ));
            }
        }
        v
    }

    #[test]
    fn an_actor_pulling_far_more_than_anyone_alerts_with_numbers() {
        let mut a = Analyzer::new(config()).unwrap();
        let mut out = Vec::new();
        for r in population(T0, 15) {
            a.observe(&r, &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        // A key pulling 500 KB pages twice a second.
        let t1 = T0 + 15 * 60 * S;
        for i in 0..600u64 {
            let r = rec_with(
                t1 + i * S / 2,
                "203.0.113.50",
                "/api/v2/orders",
                200,
                500_000,
                Some("k1:stolen"),
            );
            a.observe(&r, &mut out);
        }
        let ex: Vec<_> = out
            .iter()
            .filter(|x| x.apitap.category == Category::DataExfiltration)
            .collect();
        assert!(!ex.is_empty(), "{out:#?}");
        let al = ex[0];
        assert_eq!(al.rule.id, "apitap.data_exfiltration.volume");
        let bytes = al
            .apitap
            .evidence
            .observed
            .iter()
            .find(|m| m.name == "response_bytes")
            .unwrap()
            .value;
        assert!(bytes >= 1048576.0, "{bytes}");
        assert!(al
            .apitap
            .evidence
            .expected
            .iter()
            .any(|m| m.name == "population_p99_bytes_per_window" && m.value > 0.0));
        // Found as the window crosses the 1 MiB floor (3 responses).
        assert!(al.apitap.count <= 4, "{}", al.apitap.count);
    }

    #[test]
    fn nothing_during_warm_up_or_for_steady_heavy_readers() {
        let mut a = Analyzer::new(config()).unwrap();
        let mut out = Vec::new();
        // The heavy reader is there from the start: its baseline is heavy too.
        let mut v = population(T0, 40);
        for i in 0..(40 * 60 / 2) {
            v.push(rec_with(
                T0 + i * 2 * S + 7,
                "198.18.9.9",
                "/api/v2/export",
                200,
                200_000,
                None,
            ));
        }
        v.sort_by_key(|r| r.timestamp);
        for r in &v {
            a.observe(r, &mut out);
        }
        assert!(
            !out.iter()
                .any(|x| x.apitap.category == Category::DataExfiltration),
            "{out:#?}"
        );
    }

    #[test]
    fn one_bulk_export_far_above_the_endpoint_p99() {
        let mut a = Analyzer::new(config()).unwrap();
        let mut out = Vec::new();
        for r in population(T0, 12) {
            a.observe(&r, &mut out);
        }
        let r = rec_with(
            T0 + 12 * 60 * S,
            "198.18.0.5",
            "/api/v1/users/7",
            200,
            64 << 20,
            None,
        );
        a.observe(&r, &mut out);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].rule.id, "apitap.data_exfiltration.bulk_response");
    }
}
