//! `forced_browsing`: directory and path scanning — many distinct paths from one source,
//! mostly answered 404 (or 403/405).
//!
//! Per source address over a sliding window: requests, error answers and distinct raw paths
//! among the errors (raw, not templated: a scanner's wordlist is what is distinct). Misses on
//! object endpoints are left to `enumeration`.

use super::{push_sample, Candidate, Observation, SECOND};
use crate::config::ForcedBrowsingConfig;
use crate::window::{WindowCount, WindowDistinct};
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};

/// Every source's request count (the denominator of the error share).
#[derive(Debug, Default)]
pub struct State {
    requests: WindowCount,
    /// Allocated at the source's first miss: most sources never have one.
    misses: Option<Box<Misses>>,
}

#[derive(Debug, Default)]
pub struct Misses {
    errors: WindowCount,
    paths: WindowDistinct,
    first_seen: u64,
    samples: Vec<String>,
}

pub struct ForcedBrowsing {
    config: ForcedBrowsingConfig,
    distinct_cap: usize,
}

impl ForcedBrowsing {
    pub fn new(config: ForcedBrowsingConfig, distinct_cap: usize) -> Self {
        ForcedBrowsing {
            config,
            distinct_cap,
        }
    }

    pub fn observe(&mut self, o: &Observation<'_>, state: &mut State) -> Option<Candidate> {
        let w = self.config.window_secs * SECOND;
        state.requests.add(o.ts, w);
        // Misses on object endpoints (`/orders/{id}`) are id walking, the enumeration
        // detector's business; a scanner's wordlist misses are unknown paths.
        let miss = matches!(o.status, Some(404 | 403 | 405 | 410)) && o.object_position.is_none();
        if !miss {
            return None;
        }
        let requests = state.requests.value(o.ts, w).max(1.0);
        let s = state.misses.get_or_insert_with(Box::default);
        if s.errors.value(o.ts, w) < 1.0 {
            s.first_seen = o.ts;
            s.samples.clear();
        }
        s.errors.add(o.ts, w);
        let h = crate::hashing::hash64(o.record.url.path.as_str());
        s.paths.add(o.ts, w, h, self.distinct_cap);
        let errors = s.errors.value(o.ts, w);
        push_sample(
            &mut s.samples,
            errors / f64::from(self.config.min_not_found),
            5,
            o,
        );
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
