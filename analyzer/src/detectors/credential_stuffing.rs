//! `credential_stuffing`: many distinct accounts tried from one source, few successes.
//!
//! Per source address over a sliding window: login attempts, successes and distinct
//! accounts. At `min_accounts` accounts and `min_attempts` attempts with a success ratio
//! under `max_success_ratio` it proposes an alert.

use super::{push_sample, Candidate, Observation, SECOND};
use crate::config::CredentialStuffingConfig;
use crate::window::{WindowCount, WindowDistinct};
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};

#[derive(Debug, Default)]
pub struct State {
    attempts: WindowCount,
    successes: WindowCount,
    accounts: WindowDistinct,
    first_seen: u64,
    samples: Vec<String>,
}

pub struct CredentialStuffing {
    config: CredentialStuffingConfig,
    distinct_cap: usize,
}

impl CredentialStuffing {
    pub fn new(config: CredentialStuffingConfig, distinct_cap: usize) -> Self {
        CredentialStuffing {
            config,
            distinct_cap,
        }
    }

    pub fn observe(&mut self, o: &Observation<'_>, s: &mut State) -> Option<Candidate> {
        let login = o.login?;
        let w = self.config.window_secs * SECOND;
        if s.attempts.value(o.ts, w) < 1.0 {
            s.first_seen = o.ts;
            s.samples.clear();
        }
        s.attempts.add(o.ts, w);
        if !login.failed {
            s.successes.add(o.ts, w);
        }
        if let Some(a) = login.account {
            s.accounts.add(o.ts, w, a, self.distinct_cap);
        }
        let attempts = s.attempts.value(o.ts, w);
        let successes = s.successes.value(o.ts, w);
        let accounts = s.accounts.count();
        let progress = accounts as f64 / self.config.min_accounts as f64;
        push_sample(&mut s.samples, progress, 3, o);
        let ratio = successes / attempts.max(1.0);
        if accounts < self.config.min_accounts
            || attempts < f64::from(self.config.min_attempts)
            || ratio >= self.config.max_success_ratio
        {
            return None;
        }
        let strength = (accounts as f64 / self.config.min_accounts as f64).min(5.0);
        // A success inside a stuffing run is an account most likely taken over.
        let severity = if successes >= 1.0 || strength >= 3.0 {
            Severity::High
        } else {
            Severity::Medium
        };
        Some(Candidate {
            category: Category::CredentialStuffing,
            detector: "credential_stuffing",
            rule_id: "apitap.credential_stuffing.many_accounts",
            rule_name: "Many accounts tried from one source with few successes",
            severity,
            score: (0.6 + strength * 0.08).min(1.0),
            actor_kind: "ip",
            actor: o.ip.to_string().into(),
            endpoint: Some(o.endpoint.to_string()),
            count: attempts.round() as u64,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{accounts} distinct accounts in {attempts:.0} login attempts from {} in {}s, {:.0}% succeeded",
                    o.ip,
                    self.config.window_secs,
                    ratio * 100.0
                ),
                observed: vec![
                    Measure::new("distinct_accounts", accounts as f64),
                    Measure::new("login_attempts", attempts.round()),
                    Measure::new("success_ratio", ratio),
                    Measure::new("window_secs", self.config.window_secs as f64),
                ],
                expected: vec![
                    Measure::new("min_accounts", self.config.min_accounts as f64),
                    Measure::new("max_success_ratio", self.config.max_success_ratio),
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
