//! `rate_anomaly`: request floods, from one source or aimed at one endpoint or the whole API.
//!
//! **Source floods** (`apitap.rate_anomaly.source_flood`), on a sliding `window_secs` count:
//! - above `max_requests` whatever the history (an absolute ceiling that works from the
//!   first record), or
//! - above `min_requests` **and** `population_factor` × the population's requests per source
//!   per active minute at `population_quantile` (once `min_population_minutes` source-minutes
//!   are learned) **and** `own_factor` × the source's own decaying peak minute (once it has
//!   `own_min_minutes` active minutes; a new source has no own bar). The population figure
//!   is learned from the first record, so it works before the baseline warm-up; the peak
//!   grows at most about twofold per minute, so a flood does not become its own baseline.
//!
//! **Endpoint and global floods** (`apitap.rate_anomaly.endpoint_flood`, `.global_flood`),
//! for DoS spread over many sources: requests in the exfiltration window on one endpoint
//! template (or on everything the worker sees) at least `endpoint_factor` × the learned
//! hour-of-day rate and `endpoint_min_requests`, once the baselines are warm. Each worker
//! judges its shard against its shard's own baseline (see [`crate::baseline`]), so the ratio
//! holds and the absolute floor is per worker.

use super::{Candidate, Observation, SECOND};
use crate::baseline::{ActorBaseline, Seen};
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
    /// Everything this worker saw, in the endpoint window.
    global: WindowCount,
    global_first_seen: u64,
}

/// Which bar a source crossed, for the evidence.
struct SourceBars {
    floor: f64,
    population: Option<f64>,
    own: Option<f64>,
}

impl SourceBars {
    fn bar(&self) -> f64 {
        self.floor
            .max(self.population.unwrap_or(0.0))
            .max(self.own.unwrap_or(0.0))
    }
}

impl RateAnomaly {
    pub fn new(config: RateAnomalyConfig) -> Self {
        RateAnomaly {
            config,
            global: WindowCount::default(),
            global_first_seen: 0,
        }
    }

    /// Judges the source of `o` (its baseline already includes this exchange).
    pub fn observe(
        &mut self,
        o: &Observation<'_>,
        s: &mut State,
        own: &ActorBaseline,
        seen: &Seen<'_>,
    ) -> Option<Candidate> {
        let c = &self.config;
        let w = c.window_secs.max(1) * SECOND;
        if s.requests.value(o.ts, w) < 1.0 {
            s.first_seen = o.ts;
        }
        s.requests.add(o.ts, w);
        let n = s.requests.value(o.ts, w);
        if n < f64::from(c.min_requests.min(c.max_requests)) {
            return None;
        }
        // Relative bars, in requests per window.
        let per_window = c.window_secs.max(1) as f64 / 60.0;
        let pop = &seen.global.actor_minute_requests;
        let population = (pop.total() >= f64::from(c.min_population_minutes))
            .then(|| c.population_factor * pop.quantile(c.population_quantile) * per_window);
        let own_bar = (own.active_minutes >= c.own_min_minutes)
            .then(|| c.own_factor * f64::from(own.peak_per_minute) * per_window);
        let bars = SourceBars {
            floor: f64::from(c.min_requests),
            population,
            own: own_bar,
        };
        let ceiling = f64::from(c.max_requests);
        let relative = bars.population.is_some() && n >= bars.bar();
        if n < ceiling && !relative {
            return None;
        }
        let bar = if relative { bars.bar() } else { ceiling };
        let severity = if n >= 4.0 * bar {
            Severity::High
        } else {
            Severity::Medium
        };
        let per_min = n / per_window;
        let mut expected = vec![
            Measure::new("max_requests", ceiling),
            Measure::new("min_requests", bars.floor),
        ];
        if let Some(p) = bars.population {
            expected.push(Measure::new("population_bar", p.round()));
            expected.push(Measure::new(
                "population_per_minute",
                pop.quantile(c.population_quantile),
            ));
        }
        if let Some(b) = bars.own {
            expected.push(Measure::new("own_bar", b.round()));
            expected.push(Measure::new(
                "own_peak_per_minute",
                f64::from(own.peak_per_minute).round(),
            ));
        }
        let why = if relative {
            let mut parts = vec![format!("floor {:.0}", bars.floor)];
            if let Some(p) = bars.population {
                parts.push(format!(
                    "{}x the population's p{:.0} = {p:.0}",
                    c.population_factor,
                    c.population_quantile * 100.0
                ));
            }
            if let Some(b) = bars.own {
                parts.push(format!("{}x its own peak minute = {b:.0}", c.own_factor));
            }
            format!("over the bar of {bar:.0} ({})", parts.join(", "))
        } else {
            format!("over the ceiling of {ceiling:.0}")
        };
        // A limit that leaves the source its usual peak (or the population's) with room.
        let own_usual = bars.own.map_or(0.0, |b| b / c.own_factor);
        let population_usual = bars.population.map_or(0.0, |p| p / c.population_factor);
        let usual: f64 = if own_usual > 0.0 || population_usual > 0.0 {
            own_usual.max(population_usual) / per_window
        } else {
            ceiling / 4.0 / per_window
        };
        Some(Candidate {
            category: Category::RateAnomaly,
            detector: "rate_anomaly",
            rule_id: "apitap.rate_anomaly.source_flood",
            rule_name: "Request flood from one source",
            severity,
            score: (0.5 + 0.1 * n / bar).min(1.0),
            actor_kind: "ip",
            actor: o.ip.to_string().into(),
            endpoint: None,
            count: n.round() as u64,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{n:.0} requests in {}s from {} ({per_min:.0}/min), {why}",
                    c.window_secs, o.ip
                ),
                observed: vec![
                    Measure::new("requests", n.round()),
                    Measure::new("window_secs", c.window_secs as f64),
                    Measure::new("requests_per_minute", per_min.round()),
                ],
                expected,
                samples: vec![o.sample()],
            },
            recommendation: Some(Recommendation {
                action: "rate_limit".into(),
                target: o.ip.to_string(),
                value: Some((2.0 * usual).max(60.0).round()),
            }),
        })
    }

    /// Judges the endpoint of `o` and the worker's whole traffic against their learned
    /// rates (quiet until the baselines are warm). At most one candidate per exchange: the
    /// endpoint's, else the global one.
    pub fn observe_target(&mut self, o: &Observation<'_>, seen: &Seen<'_>) -> Option<Candidate> {
        let c = &self.config;
        let window_ns = seen.window_ns;
        if self.global.value(o.ts, window_ns) < 1.0 {
            self.global_first_seen = o.ts;
        }
        self.global.add(o.ts, window_ns);
        if !seen.warm {
            return None;
        }
        let minutes = (window_ns as f64 / (60 * SECOND) as f64).max(1.0);
        let e = seen.endpoint;
        let n = e.volume.window_responses.value(o.ts, window_ns);
        if n >= f64::from(c.endpoint_min_requests)
            && e.rate.minutes_learned() >= c.endpoint_min_minutes
        {
            let expected = e.rate.expected_per_minute(o.ts) * minutes;
            if n >= c.endpoint_factor * expected.max(1.0) {
                let t = Target::Endpoint(&e.name);
                return Some(self.target_candidate(o, t, n, expected, minutes));
            }
        }
        let n = self.global.value(o.ts, window_ns);
        let g = &seen.global.rate;
        if n >= f64::from(c.endpoint_min_requests) && g.minutes_learned() >= c.endpoint_min_minutes
        {
            let expected = g.expected_per_minute(o.ts) * minutes;
            if n >= c.endpoint_factor * expected.max(1.0) {
                return Some(self.target_candidate(o, Target::Global, n, expected, minutes));
            }
        }
        None
    }

    fn target_candidate(
        &self,
        o: &Observation<'_>,
        target: Target<'_>,
        n: f64,
        expected: f64,
        window_minutes: f64,
    ) -> Candidate {
        let c = &self.config;
        let (rule_id, rule_name, what) = match target {
            Target::Endpoint(name) => (
                "apitap.rate_anomaly.endpoint_flood",
                "Request flood on one endpoint",
                name.to_string(),
            ),
            Target::Global => (
                "apitap.rate_anomaly.global_flood",
                "Request flood on the whole API",
                "all endpoints".to_string(),
            ),
        };
        let ratio = n / expected.max(1.0);
        Candidate {
            category: Category::RateAnomaly,
            detector: "rate_anomaly",
            rule_id,
            rule_name,
            severity: if ratio >= 4.0 * c.endpoint_factor {
                Severity::Critical
            } else {
                Severity::High
            },
            score: (0.6 + 0.02 * ratio).min(1.0),
            actor_kind: "endpoint",
            actor: what.as_str().into(),
            endpoint: matches!(target, Target::Endpoint(_)).then(|| o.endpoint.to_string()),
            count: n.round() as u64,
            first_seen: match target {
                Target::Global => self.global_first_seen,
                Target::Endpoint(_) => o.ts,
            },
            evidence: Evidence {
                summary: format!(
                    "{n:.0} requests on {what} in the last window, {ratio:.0}x the {expected:.0} its baseline expects at this hour"
                ),
                observed: vec![Measure::new("requests", n.round())],
                expected: vec![
                    Measure::new("baseline_requests", expected.round()),
                    Measure::new("factor", c.endpoint_factor),
                    Measure::new("min_requests", f64::from(c.endpoint_min_requests)),
                ],
                samples: vec![o.sample()],
            },
            recommendation: Some(Recommendation {
                action: "rate_limit".into(),
                target: what,
                value: Some((2.0 * expected / window_minutes).max(60.0).round()),
            }),
        }
    }
}

enum Target<'a> {
    Endpoint(&'a str),
    Global,
}

#[cfg(test)]
mod tests {
    use crate::config::AnalyzerConfig;
    use crate::test_support::{rec, S, T0};
    use crate::Analyzer;
    use apitap_proto::{Alert, Category};

    fn analyzer(warmup_secs: u64) -> Analyzer {
        let mut cfg = AnalyzerConfig::default();
        cfg.baseline.warmup_secs = warmup_secs;
        Analyzer::new(cfg).unwrap()
    }

    /// `sources` clients (198.18.1.x, 198.18.2.x, ...) each sending `per_minute` requests a
    /// minute, from minute `from` to minute `to`.
    fn steady(sources: u32, per_minute: u64, from: u64, to: u64) -> Vec<(u64, String)> {
        let mut v = Vec::new();
        for m in from..to {
            for s in 0..sources {
                let ip = format!("198.18.{}.{}", 1 + s / 200, 1 + s % 200);
                for k in 0..per_minute {
                    let ts =
                        T0 + m * 60 * S + (u64::from(s) * 7 + k * 60_000 / per_minute) * S / 1000;
                    v.push((ts, ip.clone()));
                }
            }
        }
        v
    }

    fn feed(a: &mut Analyzer, mut reqs: Vec<(u64, String)>, path: &str) -> Vec<Alert> {
        reqs.sort();
        let mut out = Vec::new();
        for (ts, ip) in reqs {
            a.observe(&rec(ts, &ip, "GET", path, 200, b""), &mut out);
        }
        out
    }

    fn rule(a: &Alert) -> &str {
        &a.rule.id
    }

    #[test]
    fn flood_far_above_the_population_alerts_before_the_ceiling() {
        let mut a = analyzer(1800);
        let mut reqs = steady(150, 10, 0, 5);
        // One source at 15 requests/s from minute 5: 900/min, under the 1,200 ceiling.
        reqs.extend((0..900).map(|i| (T0 + 5 * 60 * S + i * S / 15, "203.0.113.7".to_string())));
        let alerts = feed(&mut a, reqs, "/api/products");
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        let al = &alerts[0];
        assert_eq!(al.apitap.category, Category::RateAnomaly);
        assert_eq!(rule(al), "apitap.rate_anomaly.source_flood");
        assert_eq!(al.apitap.actor.as_ref(), "203.0.113.7");
        // The 600-request floor decided (the population's p90 of 10/min gives a bar of ~120).
        let obs = &al.apitap.evidence.observed[0];
        assert_eq!((obs.name.as_ref(), obs.value), ("requests", 600.0));
        assert!(al
            .apitap
            .evidence
            .expected
            .iter()
            .any(|m| m.name == "population_bar" && m.value <= 200.0));
        assert!(
            al.apitap
                .evidence
                .summary
                .contains("over the bar of 600 (floor 600, 10x the population's p90"),
            "{}",
            al.apitap.evidence.summary
        );
    }

    #[test]
    fn a_source_busy_by_habit_is_judged_by_its_own_peak() {
        let mut a = analyzer(1800);
        // 100 quiet sources and one integration at 700/min, learned without alerting.
        let mut learn = steady(100, 5, 0, 20);
        learn.extend((0..20 * 700).map(|i| (T0 + i * S * 60 / 700, "198.19.9.9".to_string())));
        a.set_alerting(false);
        assert!(feed(&mut a, learn, "/api/sync").is_empty());
        a.set_alerting(true);
        // The same habit goes on: no flood.
        let mut more = steady(100, 5, 20, 23);
        more.extend((0..3 * 700).map(|i| {
            (
                T0 + 20 * 60 * S + i * S * 60 / 700,
                "198.19.9.9".to_string(),
            )
        }));
        assert!(feed(&mut a, more, "/api/sync").is_empty());
        // Ten times its habit is one (and only the absolute ceiling or its own bar decides).
        let burst: Vec<_> = (0..7000)
            .map(|i| {
                (
                    T0 + 23 * 60 * S + i * S * 60 / 7000,
                    "198.19.9.9".to_string(),
                )
            })
            .collect();
        let alerts = feed(&mut a, burst, "/api/sync");
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(rule(&alerts[0]), "apitap.rate_anomaly.source_flood");
    }

    #[test]
    fn distributed_flood_on_one_endpoint_alerts_as_endpoint_flood() {
        let mut a = analyzer(600);
        // 50 clients at 1/min for 70 minutes: the endpoint learns about 50/min.
        let learn = steady(50, 1, 0, 70);
        assert!(feed(&mut a, learn, "/api/products").is_empty());
        // 300 sources at 1 request/s each (60/min: no source is a flood by itself).
        let flood = steady(300, 60, 70, 71);
        let alerts = feed(&mut a, flood, "/api/products");
        let rules: Vec<_> = alerts.iter().map(rule).collect();
        assert_eq!(rules, ["apitap.rate_anomaly.endpoint_flood"], "{alerts:#?}");
        let al = &alerts[0];
        assert_eq!(al.apitap.actor_kind, "endpoint");
        assert_eq!(al.apitap.actor.as_ref(), "api.test GET /api/products");
        assert!(al.apitap.evidence.observed[0].value >= 3000.0);
        let rec = al.apitap.recommendation.as_ref().unwrap();
        assert_eq!(rec.action, "rate_limit");
    }
}
