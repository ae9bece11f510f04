//! `forced_browsing`: directory and path scanning — many distinct paths from one source,
//! mostly answered 404 (or 403/405).
//!
//! Per source address over a sliding window: requests, error answers and distinct raw paths
//! among the errors (raw, not templated: a scanner's wordlist is what is distinct). Misses on
//! object endpoints are left to `enumeration`.

use super::{push_sample, Candidate, Observation, SECOND};
use crate::actors::ActorTable;
use crate::config::ForcedBrowsingConfig;
use crate::window::{WindowCount, WindowDistinct};
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};
use std::hash::{BuildHasher, BuildHasherDefault};
use std::net::IpAddr;

#[derive(Debug, Default)]
pub struct State {
    requests: WindowCount,
    errors: WindowCount,
    paths: WindowDistinct,
    first_seen: u64,
    samples: Vec<String>,
}

pub struct ForcedBrowsing {
    config: ForcedBrowsingConfig,
    distinct_cap: usize,
    pub sources: ActorTable<IpAddr, State>,
}

impl ForcedBrowsing {
    pub fn new(
        config: ForcedBrowsingConfig,
        max_actors: usize,
        ttl_ns: u64,
        distinct_cap: usize,
    ) -> Self {
        ForcedBrowsing {
            config,
            distinct_cap,
            sources: ActorTable::new(max_actors, ttl_ns),
        }
    }

    pub fn observe(&mut self, o: &Observation<'_>) -> Option<Candidate> {
        let w = self.config.window_secs * SECOND;
        let s = self.sources.entry(&o.ip, o.ts);
        s.requests.add(o.ts, w);
        // Misses on object endpoints (`/orders/{id}`) are id walking, the enumeration
        // detector's business; a scanner's wordlist misses are unknown paths.
        let miss = matches!(o.status, Some(404 | 403 | 405 | 410))
            && crate::template::object_position(o.template).is_none();
        if !miss {
            return None;
        }
        if s.errors.value(o.ts, w) < 1.0 {
            s.first_seen = o.ts;
            s.samples.clear();
        }
        s.errors.add(o.ts, w);
        let h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(o.record.url.path.as_str());
        s.paths.add(o.ts, w, h, self.distinct_cap);
        push_sample(&mut s.samples, o.sample(), 5);
        let errors = s.errors.value(o.ts, w);
        let requests = s.requests.value(o.ts, w).max(1.0);
        let share = (errors / requests).min(1.0);
        let paths = s.paths.count();
        if errors < f64::from(self.config.min_not_found)
            || paths < self.config.min_distinct_paths
            || share < self.config.min_error_share
        {
            return None;
        }
        let strength = (paths as f64 / self.config.min_distinct_paths as f64).min(5.0);
        Some(Candidate {
            category: Category::ForcedBrowsing,
            detector: "forced_browsing",
            rule_id: "apitap.forced_browsing.not_found_scan",
            rule_name: "Path scanning: many distinct unknown paths",
            severity: if strength >= 3.0 { Severity::High } else { Severity::Medium },
            score: (0.5 + strength * 0.1).min(1.0),
            actor_kind: "ip",
            actor: o.ip.to_string().into(),
            endpoint: None,
            count: errors.round() as u64,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{paths} distinct paths answered 404/403 ({:.0}% of {requests:.0} requests) from {} in {}s",
                    share * 100.0,
                    o.ip,
                    self.config.window_secs
                ),
                observed: vec![
                    Measure::new("not_found", errors.round()),
                    Measure::new("distinct_paths", paths as f64),
                    Measure::new("error_share", share),
                    Measure::new("window_secs", self.config.window_secs as f64),
                ],
                expected: vec![
                    Measure::new("min_not_found", f64::from(self.config.min_not_found)),
                    Measure::new("min_distinct_paths", self.config.min_distinct_paths as f64),
                    Measure::new("min_error_share", self.config.min_error_share),
                ],
                samples: s.samples.clone(),
            },
            recommendation: Some(Recommendation {
                action: "block_ip".into(),
                target: o.ip.to_string(),
                value: Some(3600.0),
            }),
        })
    }
}
