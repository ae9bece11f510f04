//! `enumeration` (BOLA): one actor walking the object ids of one templated endpoint.
//!
//! Per (actor, endpoint template with an id placeholder) over a sliding window: distinct
//! object ids, 403/404 answers, and how many ids followed the previous one by ±1 (sequential
//! walking). A walk is `min_distinct_ids` ids that are mostly sequential, half as many that
//! are mostly denied, or `bulk_distinct_ids` ids whatever their order (random ids read at a
//! pace no person reads at). The actor is the caller's identity when the request carries one (a logged-in user
//! reading other users' objects), else the source address.

use super::{push_sample, Candidate, Observation, SECOND};
use crate::actors::ActorTable;
use crate::config::EnumerationConfig;
use crate::window::{WindowCount, WindowDistinct};
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct State {
    requests: WindowCount,
    denied: WindowCount,
    sequential: WindowCount,
    ids: WindowDistinct,
    last_numeric: Option<u64>,
    first_seen: u64,
    samples: Vec<String>,
}

pub struct Enumeration {
    config: EnumerationConfig,
    distinct_cap: usize,
    /// Keyed by a hash of (actor, endpoint): no allocation per request.
    pub walks: ActorTable<u64, State>,
}

/// The raw object id: the path segment at the template's object position.
fn object_id(path: &str, position: usize) -> Option<&str> {
    crate::template::segments(path).nth(position)
}

impl Enumeration {
    pub fn new(
        config: EnumerationConfig,
        max_actors: usize,
        ttl_ns: u64,
        distinct_cap: usize,
    ) -> Self {
        Enumeration {
            config,
            distinct_cap,
            walks: ActorTable::new(max_actors, ttl_ns),
        }
    }

    pub fn observe(&mut self, o: &Observation<'_>) -> Option<Candidate> {
        if o.record.http.request.method != "GET" {
            return None;
        }
        let id = object_id(&o.record.url.path, o.object_position?)?;
        let w = self.config.window_secs * SECOND;
        // The walker: its identity when it has one, else its address.
        let key = match o.user_key {
            Some(u) => crate::hashing::hash64(&(u, o.endpoint_key)),
            None => crate::hashing::hash64(&(o.ip, o.endpoint_key)),
        };
        let s = self.walks.entry(&key, o.ts);
        if s.requests.value(o.ts, w) < 1.0 {
            s.first_seen = o.ts;
            s.samples.clear();
        }
        s.requests.add(o.ts, w);
        if matches!(o.status, Some(401 | 403 | 404)) {
            s.denied.add(o.ts, w);
        }
        if let Ok(n) = id.parse::<u64>() {
            if s.last_numeric.is_some_and(|p| p.abs_diff(n) == 1) {
                s.sequential.add(o.ts, w);
            }
            s.last_numeric = Some(n);
        }
        let h = crate::hashing::hash64(id);
        s.ids.add(o.ts, w, h, self.distinct_cap);
        let ids = s.ids.count();
        push_sample(
            &mut s.samples,
            ids as f64 / self.config.min_distinct_ids as f64,
            5,
            o,
        );
        let c = &self.config;
        // Below every rule's bar on distinct ids, the shares cannot matter.
        if ids < (c.min_distinct_ids / 2).min(c.bulk_distinct_ids) {
            return None;
        }
        let requests = s.requests.value(o.ts, w).max(1.0);
        let denied_share = (s.denied.value(o.ts, w) / requests).min(1.0);
        let sequential_share = (s.sequential.value(o.ts, w) / requests).min(1.0);
        let min = c.min_distinct_ids;
        let sequential = ids >= min && sequential_share >= c.min_sequential_share;
        let denied = ids >= min / 2 && denied_share >= c.min_denied_share;
        let bulk = ids >= c.bulk_distinct_ids;
        if !(sequential || denied || bulk) {
            return None;
        }
        let (actor_kind, actor): (&'static str, Arc<str>) = match &o.record.user {
            Some(u) => ("identity", u.id.clone()),
            None => ("ip", o.ip.to_string().into()),
        };
        let severity = if denied || (sequential && bulk) {
            Severity::High
        } else {
            Severity::Medium
        };
        Some(Candidate {
            category: Category::Enumeration,
            detector: "enumeration",
            rule_id: "apitap.enumeration.object_walk",
            rule_name: "Object-ID enumeration on one endpoint",
            severity,
            score: (0.5 + 0.25 * sequential_share + 0.25 * denied_share).min(1.0),
            actor_kind,
            actor,
            endpoint: Some(o.endpoint.to_string()),
            count: requests.round() as u64,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{ids} distinct object ids of {} read in {}s ({:.0}% sequential, {:.0}% denied)",
                    o.endpoint,
                    c.window_secs,
                    sequential_share * 100.0,
                    denied_share * 100.0
                ),
                observed: vec![
                    Measure::new("distinct_ids", ids as f64),
                    Measure::new("requests", requests.round()),
                    Measure::new("sequential_share", sequential_share),
                    Measure::new("denied_share", denied_share),
                    Measure::new("window_secs", c.window_secs as f64),
                ],
                expected: vec![
                    Measure::new("min_distinct_ids", min as f64),
                    Measure::new("min_sequential_share", c.min_sequential_share),
                    Measure::new("min_denied_share", c.min_denied_share),
                    Measure::new("bulk_distinct_ids", c.bulk_distinct_ids as f64),
                ],
                samples: s.samples.clone(),
            },
            recommendation: Some(Recommendation {
                action: "review_endpoint".into(),
                target: o.endpoint.to_string(),
                value: None,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::object_id;

    #[test]
    fn object_ids() {
        assert_eq!(object_id("/users/42/orders", 1), Some("42"));
        assert_eq!(object_id("/orders/7/items/9", 3), Some("9"));
        assert_eq!(object_id("/health", 1), None);
    }
}
