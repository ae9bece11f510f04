//! `scraping`: one source paging through collections — many distinct pages of list
//! endpoints (`?page=`, `offset=`, `cursor=`, `start=`, `skip=`) in a window, without the
//! think time a person browsing has.
//!
//! Per source: distinct (endpoint, page value) pairs and requests in the window, plus the
//! mean gap between requests (shared with the bot detector's timing). Alerts at
//! `min_distinct_pages` pages walked mostly in order (page n+1 after page n) with a mean gap
//! under `max_mean_gap_ms`, or at `bulk_distinct_pages` whatever the order and pace.

use super::{push_sample, Candidate, Observation, SECOND};
use crate::config::ScrapingConfig;
use crate::window::{WindowCount, WindowDistinct};
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};

#[derive(Debug, Default)]
pub struct State {
    pages: WindowDistinct,
    page_requests: WindowCount,
    /// Pages that followed the previous numeric page by one.
    sequential: WindowCount,
    last_page: Option<u64>,
    first_seen: u64,
    samples: Vec<String>,
}

const PAGING_PARAMS: [&str; 7] = ["page", "offset", "cursor", "start", "skip", "after", "p"];

/// The paging value of a query, if it pages.
pub fn page_value(query: &str) -> Option<&str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (PAGING_PARAMS.iter().any(|p| k.eq_ignore_ascii_case(p)) && !v.is_empty()).then_some(v)
    })
}

pub struct Scraping {
    config: ScrapingConfig,
    distinct_cap: usize,
}

impl Scraping {
    pub fn new(config: ScrapingConfig, distinct_cap: usize) -> Self {
        Scraping {
            config,
            distinct_cap,
        }
    }

    /// `mean_gap_ms`: the source's mean gap between requests (from the bot detector).
    pub fn observe(
        &mut self,
        o: &Observation<'_>,
        state: &mut Option<Box<State>>,
        mean_gap_ms: f64,
    ) -> Option<Candidate> {
        let r = o.record;
        if r.http.request.method != "GET" {
            return None;
        }
        let page = page_value(r.url.query.as_deref()?)?;
        if !matches!(o.status, Some(200..=299)) {
            return None;
        }
        let w = self.config.window_secs * SECOND;
        let s = state.get_or_insert_with(Box::default);
        if s.page_requests.value(o.ts, w) < 1.0 {
            s.first_seen = o.ts;
            s.samples.clear();
        }
        s.page_requests.add(o.ts, w);
        if let Ok(n) = page.parse::<u64>() {
            if s.last_page.is_some_and(|p| n == p + 1) {
                s.sequential.add(o.ts, w);
            }
            s.last_page = Some(n);
        }
        s.pages.add(
            o.ts,
            w,
            crate::hashing::hash64(&(o.endpoint_key, page)),
            self.distinct_cap,
        );
        let pages = s.pages.count();
        let c = &self.config;
        push_sample(
            &mut s.samples,
            pages as f64 / c.min_distinct_pages as f64,
            3,
            o,
        );
        // Below both rules' bar on distinct pages, the pace and order cannot matter.
        if pages < c.min_distinct_pages.min(c.bulk_distinct_pages) {
            return None;
        }
        let fast = mean_gap_ms < c.max_mean_gap_ms;
        let requests = s.page_requests.value(o.ts, w);
        let sequential_share = (s.sequential.value(o.ts, w) / requests.max(1.0)).min(1.0);
        let walk =
            pages >= c.min_distinct_pages && fast && sequential_share >= c.min_sequential_share;
        if !(walk || pages >= c.bulk_distinct_pages) {
            return None;
        }
        Some(Candidate {
            category: Category::Scraping,
            detector: "scraping",
            rule_id: "apitap.scraping.collection_paging",
            rule_name: "Collection paged through at machine pace",
            severity: if pages >= c.bulk_distinct_pages { Severity::High } else { Severity::Medium },
            score: (0.5 + 0.1 * pages as f64 / c.min_distinct_pages as f64).min(0.95),
            actor_kind: "ip",
            actor: o.ip.to_string().into(),
            endpoint: Some(o.endpoint.to_string()),
            count: requests.round() as u64,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{pages} distinct pages of collections read in {}s from {}, mean gap {mean_gap_ms:.0} ms",
                    c.window_secs, o.ip
                ),
                observed: vec![
                    Measure::new("distinct_pages", pages as f64),
                    Measure::new("paging_requests", requests.round()),
                    Measure::new("mean_gap_ms", (mean_gap_ms * 10.0).round() / 10.0),
                    Measure::new("sequential_share", sequential_share),
                    Measure::new("window_secs", c.window_secs as f64),
                ],
                expected: vec![
                    Measure::new("min_distinct_pages", c.min_distinct_pages as f64),
                    Measure::new("max_mean_gap_ms", c.max_mean_gap_ms),
                    Measure::new("min_sequential_share", c.min_sequential_share),
                    Measure::new("bulk_distinct_pages", c.bulk_distinct_pages as f64),
                ],
                samples: s.samples.clone(),
            },
            recommendation: Some(Recommendation {
                action: "rate_limit".into(),
                target: o.ip.to_string(),
                value: Some(20.0),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::page_value;

    #[test]
    fn paging_values() {
        assert_eq!(page_value("page=3&size=20"), Some("3"));
        assert_eq!(page_value("q=shoes&Offset=40"), Some("40"));
        assert_eq!(page_value("q=shoes"), None);
        assert_eq!(page_value("page="), None);
    }
}
