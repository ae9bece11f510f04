//! The alert manager: turns detector candidates into alerts an analyst can live with.
//!
//! - **Suppression** by category and by source address/prefix (config).
//! - **Dedupe and aggregation**: the first candidate for (category, actor, endpoint) becomes
//!   an alert at once; later candidates for the same key within `dedupe_secs` are folded
//!   into it (count, last seen) and counted, not re-sent. The aggregate is available from
//!   [`AlertManager::open_alerts`] for the end-of-run table.
//! - **Priority**: `event.risk_score` = detector score × severity weight, 0–100.
//! - **Rate cap**: at most `max_per_minute` alerts per minute of packet time; the rest are
//!   counted as dropped.
//!
//! Memory: at most `max_open` keys are remembered (evictions counted).

use crate::actors::ActorTable;
use crate::config::AlertConfig;
use crate::detectors::Candidate;
use apitap_proto::{
    Alert, AlertApitap, AlertDestination, AlertEvent, AlertHttp, AlertHttpRequest,
    AlertHttpResponse, AlertSource, AlertUrl, Category, RequestRecord, Rule, Severity, Technique,
    Threat,
};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

const SECOND: u64 = 1_000_000_000;

/// Counters, all visible in the summary and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertStats {
    pub candidates: u64,
    pub emitted: u64,
    /// Folded into an already-sent alert (same actor, category, endpoint).
    pub deduplicated: u64,
    /// Matched a suppression rule.
    pub suppressed: u64,
    /// Over the per-minute cap: dropped and counted.
    pub dropped_rate_cap: u64,
    /// Dedupe keys forgotten to stay within `max_open`.
    pub open_evicted: u64,
    /// Generic `bot` candidates not sent because the same actor already has a more specific
    /// alert (a scanner is reported as a scanner, not also as a bot).
    pub subsumed: u64,
    pub by_category: BTreeMap<String, u64>,
}

/// One aggregated alert as the manager knows it.
#[derive(Debug, Clone, Default)]
pub struct OpenAlert {
    pub opened: u64,
    pub first_seen: u64,
    pub last_seen: u64,
    pub candidates: u64,
    pub requests: u64,
    pub severity: Option<Severity>,
}

type Key = (Category, Arc<str>, Option<String>);

/// An address or CIDR prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    pub fn parse(s: &str) -> Option<Prefix> {
        let (a, l) = match s.trim().split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max)?,
            None => max,
        };
        Some(Prefix { addr, len })
    }

    /// The prefix of `ip` of length `v4` (IPv4) or `v6` (IPv6), host bits cleared.
    pub fn of(ip: IpAddr, v4: u8, v6: u8) -> Prefix {
        match ip {
            IpAddr::V4(a) => {
                let len = v4.min(32);
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                let addr = std::net::Ipv4Addr::from(u32::from(a) & mask).into();
                Prefix { addr, len }
            }
            IpAddr::V6(a) => {
                let len = v6.min(128);
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                let addr = std::net::Ipv6Addr::from(u128::from(a) & mask).into();
                Prefix { addr, len }
            }
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u32) {
            match a {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        let ((net, w1), (x, w2)) = (bits(self.addr), bits(ip));
        if w1 != w2 {
            return false;
        }
        let shift = w1 - u32::from(self.len);
        if shift >= 128 {
            return true;
        }
        (net >> shift) == (x >> shift)
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

pub struct AlertManager {
    config: AlertConfig,
    suppress_categories: Vec<Category>,
    suppress_sources: Vec<Prefix>,
    open: ActorTable<Key, OpenAlert>,
    /// Actors with a specific (non-`bot`) alert, by the packet time of its opening.
    specific: ActorTable<Arc<str>, u64>,
    minute: u64,
    in_minute: u32,
    stats: AlertStats,
}

fn severity_weight(s: Severity) -> f64 {
    match s {
        Severity::Low => 0.4,
        Severity::Medium => 0.6,
        Severity::High => 0.85,
        Severity::Critical => 1.0,
    }
}

impl AlertManager {
    /// Builds the manager; unknown category names or bad prefixes in the config are errors.
    pub fn new(config: AlertConfig) -> Result<Self, String> {
        let suppress_categories = config
            .suppress_categories
            .iter()
            .map(|name| {
                Category::ALL
                    .into_iter()
                    .find(|c| c.as_str() == name)
                    .ok_or_else(|| format!("unknown alert category {name:?}"))
            })
            .collect::<Result<_, _>>()?;
        let suppress_sources = config
            .suppress_sources
            .iter()
            .map(|p| Prefix::parse(p).ok_or_else(|| format!("bad address or prefix {p:?}")))
            .collect::<Result<_, _>>()?;
        Ok(AlertManager {
            open: ActorTable::new(config.max_open, config.dedupe_secs * SECOND),
            specific: ActorTable::new(config.max_open, config.dedupe_secs * SECOND),
            config,
            suppress_categories,
            suppress_sources,
            minute: 0,
            in_minute: 0,
            stats: AlertStats::default(),
        })
    }

    /// Decides what becomes of a candidate raised by record `r`.
    pub fn offer(&mut self, c: Candidate, r: &RequestRecord, ts: u64) -> Option<Alert> {
        self.offer_for(c, Subject::Record(r), ts)
    }

    /// [`Self::offer`] for a candidate whose example exchange is kept as an [`AlertSubject`]
    /// (aggregating detectors that emit after the exchange is gone).
    pub fn offer_subject(&mut self, c: Candidate, s: &AlertSubject, ts: u64) -> Option<Alert> {
        self.offer_for(c, Subject::Kept(s), ts)
    }

    fn offer_for(&mut self, c: Candidate, subject: Subject<'_>, ts: u64) -> Option<Alert> {
        self.stats.candidates += 1;
        let source_ip = match subject {
            Subject::Record(r) => r.source.ip,
            Subject::Kept(s) => s.source,
        };
        if self.suppress_categories.contains(&c.category)
            || self.suppress_sources.iter().any(|p| p.contains(source_ip))
        {
            self.stats.suppressed += 1;
            return None;
        }
        let window = self.config.dedupe_secs * SECOND;
        if c.category == Category::Bot {
            let opened = self.specific.get(&c.actor).copied();
            if opened.is_some_and(|t| t != 0 && ts.saturating_sub(t) < window) {
                self.stats.subsumed += 1;
                return None;
            }
        }
        let key: Key = (c.category, c.actor.clone(), c.endpoint.clone());
        let open = self.open.entry(&key, ts);
        let fresh = open.candidates == 0 || ts.saturating_sub(open.opened) >= window;
        if !fresh {
            open.candidates += 1;
            open.last_seen = ts;
            open.requests = open.requests.max(c.count);
            open.severity = open.severity.max(Some(c.severity));
            self.stats.deduplicated += 1;
            return None;
        }
        let minute = ts / (60 * SECOND);
        if minute != self.minute {
            self.minute = minute;
            self.in_minute = 0;
        }
        if self.in_minute >= self.config.max_per_minute {
            self.stats.dropped_rate_cap += 1;
            return None;
        }
        self.in_minute += 1;
        *open = OpenAlert {
            opened: ts,
            first_seen: c.first_seen,
            last_seen: ts,
            candidates: 1,
            requests: c.count,
            severity: Some(c.severity),
        };
        self.stats.emitted += 1;
        if c.category != Category::Bot {
            *self.specific.entry(&c.actor, ts) = ts;
        }
        *self
            .stats
            .by_category
            .entry(c.category.as_str().to_string())
            .or_default() += 1;
        let kept;
        let s = match subject {
            Subject::Record(r) => {
                kept = AlertSubject::of(r);
                &kept
            }
            Subject::Kept(s) => s,
        };
        Some(build_alert(c, s, ts))
    }

    /// The dedupe state (for snapshots): open alerts and actors with a specific alert.
    pub fn export(
        &self,
    ) -> (
        Vec<crate::baseline::snapshot::OpenAlertEntry>,
        Vec<(Arc<str>, u64)>,
    ) {
        let mut open: Vec<_> = self
            .open
            .iter()
            .filter(|(_, _, o)| o.candidates > 0)
            .map(
                |((category, actor, endpoint), _, o)| crate::baseline::snapshot::OpenAlertEntry {
                    category: *category,
                    actor: actor.clone(),
                    endpoint: endpoint.clone(),
                    opened: o.opened,
                    first_seen: o.first_seen,
                    last_seen: o.last_seen,
                    candidates: o.candidates,
                    requests: o.requests,
                    severity: o.severity,
                },
            )
            .collect();
        open.sort_by(|a, b| {
            (a.category, &a.actor, &a.endpoint).cmp(&(b.category, &b.actor, &b.endpoint))
        });
        let mut specific: Vec<_> = self
            .specific
            .iter()
            .map(|(k, _, t)| (k.clone(), *t))
            .collect();
        specific.sort();
        (open, specific)
    }

    /// Restores dedupe state saved by [`AlertManager::export`].
    pub fn import(
        &mut self,
        open: Vec<crate::baseline::snapshot::OpenAlertEntry>,
        specific: Vec<(Arc<str>, u64)>,
    ) {
        for a in open {
            let v = OpenAlert {
                opened: a.opened,
                first_seen: a.first_seen,
                last_seen: a.last_seen,
                candidates: a.candidates,
                requests: a.requests,
                severity: a.severity,
            };
            self.open
                .insert((a.category, a.actor, a.endpoint), v, a.last_seen);
        }
        for (k, t) in specific {
            self.specific.insert(k, t, t);
        }
    }

    /// Alert keys still remembered for dedupe.
    pub fn open_alerts(&self) -> usize {
        self.open.len()
    }

    pub fn stats(&self) -> AlertStats {
        AlertStats {
            open_evicted: self.open.evicted,
            ..self.stats.clone()
        }
    }
}

/// The exchange an alert points at: what the alert's `source`, `destination`, `user`, `url`
/// and `http` fields show.
#[derive(Debug, Clone)]
pub struct AlertSubject {
    pub source: IpAddr,
    pub destination: (IpAddr, u16),
    pub user: Option<apitap_proto::User>,
    pub path: String,
    pub method: Cow<'static, str>,
    pub status: Option<u16>,
}

impl AlertSubject {
    pub fn of(r: &RequestRecord) -> AlertSubject {
        AlertSubject {
            source: r.source.ip,
            destination: (r.destination.ip, r.destination.port),
            user: r.user.clone(),
            path: r.url.path.clone(),
            method: r.http.request.method.clone(),
            status: r.http.response.as_ref().map(|s| s.status_code),
        }
    }
}

#[derive(Clone, Copy)]
enum Subject<'a> {
    Record(&'a RequestRecord),
    Kept(&'a AlertSubject),
}

fn build_alert(c: Candidate, r: &AlertSubject, ts: u64) -> Alert {
    let (tid, tname) = c.category.technique();
    let risk = (c.score * severity_weight(c.severity) * 100.0).clamp(0.0, 100.0);
    Alert {
        timestamp: ts,
        event: AlertEvent {
            kind: Cow::Borrowed("alert"),
            category: vec![Cow::Borrowed("intrusion_detection"), Cow::Borrowed("web")],
            dataset: Cow::Borrowed("apitap.alert"),
            severity: c.severity.number(),
            risk_score: (risk * 10.0).round() / 10.0,
        },
        rule: Rule {
            id: Cow::Borrowed(c.rule_id),
            name: Cow::Borrowed(c.rule_name),
        },
        source: AlertSource { ip: r.source },
        destination: Some(AlertDestination {
            ip: r.destination.0,
            port: r.destination.1,
        }),
        user: r.user.clone(),
        url: Some(AlertUrl {
            path: r.path.clone(),
        }),
        http: Some(AlertHttp {
            request: AlertHttpRequest {
                method: r.method.clone(),
            },
            response: r
                .status
                .map(|status_code| AlertHttpResponse { status_code }),
        }),
        threat: Threat {
            framework: Cow::Borrowed("MITRE ATT&CK"),
            technique: Technique {
                id: Cow::Borrowed(tid),
                name: Cow::Borrowed(tname),
            },
        },
        apitap: AlertApitap {
            category: c.category,
            detector: Cow::Borrowed(c.detector),
            severity: c.severity,
            score: (c.score * 1000.0).round() / 1000.0,
            count: c.count,
            first_seen: c.first_seen,
            last_seen: ts,
            endpoint: c.endpoint,
            actor_kind: Cow::Borrowed(c.actor_kind),
            actor: c.actor,
            evidence: c.evidence,
            recommendation: c.recommendation,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_of_an_address_clears_host_bits() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            Prefix::of(ip("198.19.160.55"), 24, 48).to_string(),
            "198.19.160.0/24"
        );
        assert_eq!(
            Prefix::of(ip("198.19.160.55"), 0, 48).to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(
            Prefix::of(ip("2001:db8:1:2::9"), 24, 48).to_string(),
            "2001:db8:1::/48"
        );
        let p = Prefix::of(ip("198.19.160.55"), 24, 48);
        assert!(p.contains(ip("198.19.160.1")) && !p.contains(ip("198.19.161.1")));
    }

    #[test]
    fn prefixes() {
        let p = Prefix::parse("198.18.0.0/15").unwrap();
        assert!(p.contains("198.19.1.2".parse().unwrap()));
        assert!(!p.contains("198.20.0.1".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
        assert!(Prefix::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
        assert!(Prefix::parse("2001:db8::1")
            .unwrap()
            .contains("2001:db8::1".parse().unwrap()));
        assert_eq!(Prefix::parse("10.0.0.0/33"), None);
        assert_eq!(Prefix::parse("nonsense"), None);
    }

    #[test]
    fn config_errors_are_reported() {
        let bad = AlertConfig {
            suppress_categories: vec!["sqlinjection".into()],
            ..Default::default()
        };
        assert!(AlertManager::new(bad).is_err());
    }
}
