//! `credential_stuffing`: many distinct accounts tried with few successes, from one source
//! or spread over many sources that share a client shape or an address prefix.
//!
//! **One source** (`apitap.credential_stuffing.many_accounts`), over a sliding window: login
//! attempts, successes and distinct accounts. At `min_accounts` accounts and `min_attempts`
//! attempts with a success ratio under `max_success_ratio` it proposes an alert.
//!
//! **Campaigns** (`apitap.credential_stuffing.campaign`): every failed login also counts
//! towards two campaign keys on its login endpoint — the request's header shape (header
//! names in order, values and user agent left out, so rotating user agents do not split a
//! botnet) and the source's address prefix (`/24`, `/48` by default; the nearest thing to an
//! ASN without a database). A key with `campaign_min_failures` failed logins over
//! `campaign_min_accounts` accounts (at least one per two failures: stuffing tries each
//! account about once, users hit by an outage retry their own) from `campaign_min_sources`
//! sources, with a success ratio under `max_success_ratio`, is a campaign. One alert names
//! the shape or prefix, the sources seen failing in it and the numbers; while it is active
//! its sources' own `many_accounts` alerts are folded into it (counted as `grouped`), and a
//! second key made of the same sources (the botnet seen by prefix after its shape) becomes
//! active without a second alert (`covered`). A shape shared by benign users does not
//! alert: their logins mostly succeed. Keys are created by failed logins only and bounded by
//! `max_campaigns` (evictions counted). With several workers each sees the campaign's
//! sources of its shard; the sensor's writer folds the workers' alerts for the same key.

use super::{push_sample, Candidate, Observation, SECOND};
use crate::actors::ActorTable;
use crate::config::CredentialStuffingConfig;
use crate::hashing::hash64;
use crate::manager::Prefix;
use crate::window::{WindowCount, WindowDistinct};
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};
use serde::Serialize;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Sources a campaign remembers by address (the rest are counted).
const MAX_MEMBERS: usize = 32;

/// Campaign counters for the summary and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StuffingStats {
    /// Campaign keys tracked now, and keys or remembered sources evicted to stay within
    /// `max_campaigns` (and 32 sources per campaign).
    pub campaign_keys: u64,
    pub campaign_keys_evicted: u64,
    /// Campaign candidates proposed (the manager dedupes them).
    pub campaign_candidates: u64,
    /// Campaigns not reported because most of their sources were in one already.
    pub campaigns_covered: u64,
    /// Single-source alerts folded into an active campaign.
    pub grouped: u64,
}

impl StuffingStats {
    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &StuffingStats) {
        self.campaign_keys += o.campaign_keys;
        self.campaign_keys_evicted += o.campaign_keys_evicted;
        self.campaign_candidates += o.campaign_candidates;
        self.campaigns_covered += o.campaigns_covered;
        self.grouped += o.grouped;
    }
}

/// One campaign key's window.
#[derive(Debug, Default)]
pub struct Campaign {
    attempts: WindowCount,
    successes: WindowCount,
    failures: WindowCount,
    accounts: WindowDistinct,
    sources: WindowDistinct,
    /// Sources seen failing, first come, at most [`MAX_MEMBERS`].
    members: Vec<IpAddr>,
    first_seen: u64,
    /// Packet time of the last campaign candidate (0: none yet).
    alerted: u64,
    samples: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Grouping {
    Shape,
    Prefix,
}

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
    campaigns: ActorTable<u64, Campaign>,
    /// Sources of reported campaigns, with when they were last seen failing in one.
    campaign_sources: ActorTable<IpAddr, u64>,
    campaign_candidates: u64,
    campaigns_covered: u64,
    grouped: u64,
}

impl CredentialStuffing {
    pub fn new(config: CredentialStuffingConfig, distinct_cap: usize) -> Self {
        let ttl = config.window_secs * 2 * SECOND;
        let campaigns = ActorTable::new(config.max_campaigns, ttl);
        let campaign_sources = ActorTable::new(config.max_campaigns * MAX_MEMBERS, ttl);
        CredentialStuffing {
            config,
            distinct_cap,
            campaigns,
            campaign_sources,
            campaign_candidates: 0,
            campaigns_covered: 0,
            grouped: 0,
        }
    }

    pub fn stats(&self) -> StuffingStats {
        StuffingStats {
            campaign_keys: self.campaigns.len() as u64,
            campaign_keys_evicted: self.campaigns.evicted + self.campaign_sources.evicted,
            campaign_candidates: self.campaign_candidates,
            campaigns_covered: self.campaigns_covered,
            grouped: self.grouped,
        }
    }

    /// Judges one login attempt: its campaigns first, then its source. A source's own alert
    /// is folded into an active campaign it belongs to.
    pub fn observe(&mut self, o: &Observation<'_>, s: &mut State) -> Option<Candidate> {
        o.login?;
        let campaign = self
            .campaign(o, Grouping::Shape)
            .or_else(|| self.campaign(o, Grouping::Prefix));
        let own = self.source(o, s);
        let w = self.config.window_secs * SECOND;
        let in_campaign = self
            .campaign_sources
            .get(&o.ip)
            .is_some_and(|&t| o.ts.saturating_sub(t) < w);
        if own.is_some() && in_campaign {
            self.grouped += 1;
            return campaign;
        }
        campaign.or(own)
    }

    fn source(&mut self, o: &Observation<'_>, s: &mut State) -> Option<Candidate> {
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

impl CredentialStuffing {
    /// Counts the attempt towards its `g` key; returns a campaign candidate when the key
    /// qualifies (once per window; the manager folds repeats). A key whose failing sources
    /// mostly belong to a campaign already reported (the same botnet seen by shape and by
    /// prefix) becomes active without a second alert.
    fn campaign(&mut self, o: &Observation<'_>, g: Grouping) -> Option<Candidate> {
        let login = o.login?;
        let prefix = Prefix::of(
            o.ip,
            self.config.campaign_prefix_v4,
            self.config.campaign_prefix_v6,
        );
        let value = match g {
            Grouping::Shape => header_shape(o),
            Grouping::Prefix => hash64(&prefix),
        };
        let key = hash64(&(g, o.endpoint_key, value));
        let c = if login.failed {
            self.campaigns.entry(&key, o.ts)
        } else {
            self.campaigns.get_mut(&key)?
        };
        let cfg = &self.config;
        let w = cfg.window_secs * SECOND;
        if c.attempts.value(o.ts, w) < 1.0 {
            c.first_seen = o.ts;
            c.members.clear();
            c.samples.clear();
        }
        c.attempts.add(o.ts, w);
        if login.failed {
            c.failures.add(o.ts, w);
            c.sources.add(o.ts, w, hash64(&o.ip), self.distinct_cap);
            if let Some(a) = login.account {
                c.accounts.add(o.ts, w, a, self.distinct_cap);
            }
            if !c.members.contains(&o.ip) && c.members.len() < MAX_MEMBERS {
                c.members.push(o.ip);
            }
        } else {
            c.successes.add(o.ts, w);
        }
        let active = c.alerted != 0 && o.ts.saturating_sub(c.alerted) < w;
        if active && login.failed {
            // A source joining an active campaign is one of its members from now on.
            *self.campaign_sources.entry(&o.ip, o.ts) = o.ts;
        }
        let failures = c.failures.value(o.ts, w);
        let attempts = c.attempts.value(o.ts, w);
        let successes = c.successes.value(o.ts, w);
        let accounts = c.accounts.count();
        let sources = c.sources.count();
        let progress = failures / f64::from(cfg.campaign_min_failures.max(1));
        push_sample(&mut c.samples, progress, 3, o);
        let ratio = successes / attempts.max(1.0);
        // Stuffing tries each account about once; users locked out by an outage retry theirs.
        if failures < f64::from(cfg.campaign_min_failures)
            || accounts < cfg.campaign_min_accounts
            || (accounts as f64) < 0.5 * failures
            || sources < cfg.campaign_min_sources
            || ratio >= cfg.max_success_ratio
            || active
        {
            return None;
        }
        c.alerted = o.ts;
        let known = c
            .members
            .iter()
            .filter(|ip| {
                self.campaign_sources
                    .get(ip)
                    .is_some_and(|&t| o.ts.saturating_sub(t) < w)
            })
            .count();
        for ip in &c.members {
            *self.campaign_sources.entry(ip, o.ts) = o.ts;
        }
        if known * 2 >= c.members.len() {
            self.campaigns_covered += 1;
            return None;
        }
        self.campaign_candidates += 1;
        let mut members = String::new();
        for (i, ip) in c.members.iter().enumerate() {
            let _ = write!(members, "{}{ip}", if i > 0 { "," } else { "" });
        }
        // Named only when reported: the shape or the prefix, and what to block.
        let (label, target) = match g {
            Grouping::Shape => (format!("header shape {:08x}", value as u32), members),
            Grouping::Prefix => (prefix.to_string(), prefix.to_string()),
        };
        let shown: Vec<String> = c.members.iter().take(5).map(|ip| ip.to_string()).collect();
        let more = sources.saturating_sub(shown.len());
        let candidate = Candidate {
            category: Category::CredentialStuffing,
            detector: "credential_stuffing",
            rule_id: "apitap.credential_stuffing.campaign",
            rule_name: "Credential stuffing campaign spread over many sources",
            severity: if successes >= 1.0 {
                Severity::Critical
            } else {
                Severity::High
            },
            score: (0.7 + 0.01 * sources as f64).min(1.0),
            actor_kind: "campaign",
            actor: label.clone().into(),
            endpoint: Some(o.endpoint.to_string()),
            count: attempts.round() as u64,
            first_seen: c.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{failures:.0} failed logins on {accounts} accounts from {sources} sources sharing {label} in {}s ({}{}), {:.0}% of {attempts:.0} attempts succeeded",
                    cfg.window_secs,
                    shown.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() },
                    ratio * 100.0
                ),
                observed: vec![
                    Measure::new("failed_logins", failures.round()),
                    Measure::new("login_attempts", attempts.round()),
                    Measure::new("distinct_accounts", accounts as f64),
                    Measure::new("distinct_sources", sources as f64),
                    Measure::new("success_ratio", ratio),
                    Measure::new("window_secs", cfg.window_secs as f64),
                ],
                expected: vec![
                    Measure::new("min_failures", f64::from(cfg.campaign_min_failures)),
                    Measure::new("min_accounts", cfg.campaign_min_accounts as f64),
                    Measure::new("min_sources", cfg.campaign_min_sources as f64),
                    Measure::new("max_success_ratio", cfg.max_success_ratio),
                ],
                samples: c.samples.clone(),
            },
            recommendation: Some(Recommendation {
                action: "block_ip".into(),
                target,
                value: Some(3600.0),
            }),
        };
        Some(candidate)
    }
}

/// The request's header names in order (values and the user agent left out).
fn header_shape(o: &Observation<'_>) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = crate::hashing::fixed().build_hasher();
    for (name, _) in o.record.extras.request_headers.iter_bytes() {
        h.write(name);
        h.write_u8(0xff);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use crate::config::AnalyzerConfig;
    use crate::test_support::{rec, S, T0};
    use crate::Analyzer;
    use apitap_proto::Alert;

    fn login(ts: u64, ip: &str, user: &str, ok: bool) -> apitap_proto::RequestRecord {
        let body = format!(r#"{{"username":"{user}","password":"pw"}}"#);
        rec(
            ts,
            ip,
            "POST",
            "/api/login",
            if ok { 200 } else { 401 },
            body.as_bytes(),
        )
    }

    fn run(records: Vec<apitap_proto::RequestRecord>) -> (Vec<Alert>, Analyzer) {
        let mut a = Analyzer::new(AnalyzerConfig::default()).unwrap();
        let mut out = Vec::new();
        for r in &records {
            a.observe(r, &mut out);
        }
        (out, a)
    }

    #[test]
    fn stuffing_spread_over_forty_sources_is_one_campaign_alert() {
        // 40 addresses in four /24s, 20 attempts each on fresh accounts, one request every
        // 0.3 s overall, 1 in 50 succeeds: per address, enough for its own alert.
        let rs: Vec<_> = (0..800u64)
            .map(|i| {
                let ip = format!("203.0.{}.{}", 113 + i % 4, 10 + i % 40);
                login(T0 + i * S * 3 / 10, &ip, &format!("user{i}"), i % 50 == 49)
            })
            .collect();
        let (alerts, a) = run(rs);
        let stuffing: Vec<_> = alerts
            .iter()
            .filter(|a| a.apitap.category.as_str() == "credential_stuffing")
            .collect();
        assert_eq!(stuffing.len(), 1, "{stuffing:#?}");
        let al = stuffing[0];
        assert_eq!(al.rule.id, "apitap.credential_stuffing.campaign");
        assert!(al.apitap.actor.starts_with("header shape "));
        // It fired at the 30th failure, from 30 sources.
        assert_eq!(al.timestamp, T0 + 29 * S * 3 / 10);
        let st = a.stats().credential_stuffing;
        assert_eq!(st.campaign_candidates, 1);
        // The prefix keys (same sources) were covered, not reported again; the addresses'
        // own alerts were grouped into the campaign.
        assert!(st.campaigns_covered >= 1, "{st:?}");
        assert!(st.grouped >= 40, "{st:?}");
        let target = &al.apitap.recommendation.as_ref().unwrap().target;
        assert_eq!(target.split(',').count(), 30);
    }

    #[test]
    fn many_users_sharing_a_browser_shape_with_typos_or_an_outage_are_not_a_campaign() {
        // 300 users from 300 addresses (two /24s), logging in four times in ten minutes; one
        // login in three starts with a typo, corrected five seconds later.
        let mut rs = Vec::new();
        for u in 0..300u64 {
            let ip = format!("198.51.{}.{}", 100 + u % 2, 1 + u % 150);
            for k in 0..4u64 {
                let ts = T0 + u * 2 * S + k * 600 * S / 4;
                if (u + k) % 3 == 0 {
                    rs.push(login(ts, &ip, &format!("person{u}"), false));
                }
                rs.push(login(ts + 5 * S, &ip, &format!("person{u}"), true));
            }
        }
        // Later, an outage: for two minutes every login fails, users retry their own account.
        for u in 0..60u64 {
            let ip = format!("198.51.100.{}", 151 + u % 100);
            for k in 0..3u64 {
                rs.push(login(
                    T0 + 2000 * S + u * 2 * S + k * 10 * S,
                    &ip,
                    &format!("late{u}"),
                    false,
                ));
            }
        }
        rs.sort_by_key(|r| r.timestamp);
        let (alerts, a) = run(rs);
        assert!(alerts.is_empty(), "{alerts:#?}");
        assert_eq!(a.stats().credential_stuffing.campaign_candidates, 0);
    }
}
