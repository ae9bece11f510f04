//! `brute_force`: many failed logins from one source against few accounts.
//!
//! Per source address, over a sliding window: failed logins and the distinct accounts they
//! named. At `min_failures` failures against at most `max_accounts` accounts it proposes an
//! alert (more accounts than that is credential stuffing, which its own detector reports).

use super::{push_sample, Candidate, Observation, SECOND};
use crate::config::BruteForceConfig;
use crate::window::{WindowCount, WindowDistinct};
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};

#[derive(Debug, Default)]
pub struct State {
    failures: WindowCount,
    accounts: WindowDistinct,
    first_seen: u64,
    samples: Vec<String>,
}

impl State {
    /// Failed logins in the window ending at `ts`.
    pub fn recent_failures(&self, ts: u64, window: u64) -> f64 {
        self.failures.value(ts, window)
    }
}

pub struct BruteForce {
    config: BruteForceConfig,
    distinct_cap: usize,
}

impl BruteForce {
    pub fn new(config: BruteForceConfig, distinct_cap: usize) -> Self {
        BruteForce {
            config,
            distinct_cap,
        }
    }

    pub fn window(&self) -> u64 {
        self.config.window_secs * SECOND
    }

    pub fn observe(&mut self, o: &Observation<'_>, s: &mut State) -> Option<Candidate> {
        let login = o.login.filter(|l| l.failed)?;
        let w = self.config.window_secs * SECOND;
        if s.failures.value(o.ts, w) < 1.0 {
            s.first_seen = o.ts;
            s.samples.clear();
        }
        s.failures.add(o.ts, w);
        if let Some(a) = login.account {
            s.accounts.add(o.ts, w, a, self.distinct_cap);
        }
        let failures = s.failures.value(o.ts, w);
        push_sample(
            &mut s.samples,
            failures / f64::from(self.config.min_failures),
            3,
            o,
        );
        let accounts = s.accounts.count();
        if failures < f64::from(self.config.min_failures) || accounts > self.config.max_accounts {
            return None;
        }
        let strength = (failures / f64::from(self.config.min_failures)).min(5.0);
        Some(Candidate {
            category: Category::BruteForce,
            detector: "brute_force",
            rule_id: "apitap.brute_force.failed_logins",
            rule_name: "Repeated failed logins from one source",
            severity: if strength >= 3.0 {
                Severity::High
            } else {
                Severity::Medium
            },
            score: (0.6 + strength * 0.08).min(1.0),
            actor_kind: "ip",
            actor: o.ip.to_string().into(),
            endpoint: Some(o.endpoint.to_string()),
            count: failures.round() as u64,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{failures:.0} failed logins in {}s from {} against {accounts} account(s)",
                    self.config.window_secs, o.ip
                ),
                observed: vec![
                    Measure::new("failed_logins", failures.round()),
                    Measure::new("distinct_accounts", accounts as f64),
                    Measure::new("window_secs", self.config.window_secs as f64),
                ],
                expected: vec![
                    Measure::new("min_failed_logins", f64::from(self.config.min_failures)),
                    Measure::new("max_accounts", self.config.max_accounts as f64),
                ],
                samples: s.samples.clone(),
            },
            recommendation: Some(Recommendation {
                action: "rate_limit".into(),
                target: o.ip.to_string(),
                value: Some(5.0),
            }),
        })
    }
}
