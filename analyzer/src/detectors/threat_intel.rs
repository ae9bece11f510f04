//! `threat_intel`: the actor's address is on a configured IP/CIDR list.
//!
//! Every exchange's source address is looked up in the shared lists ([`crate::intel`]);
//! with `forwarded_for_hops = N > 0` the N-th `X-Forwarded-For` address from the right (the
//! one the outermost trusted proxy saw) is looked up too, and wins when listed. A listed
//! actor gives a candidate on its first request and then at most once a minute of packet
//! time (the alert manager folds repeats into the open alert), naming the list, its
//! category, the most specific listed prefix, the list's reason (e.g. the Spamhaus SBL id)
//! and the requests seen from the actor so far.
//!
//! Cost: one atomic load and one binary search per address looked up; only listed actors
//! get state (bounded [`ActorTable`], evictions counted). No lists configured: nothing is
//! looked up.

use super::{Candidate, Observation, SECOND};
use crate::actors::ActorTable;
use crate::config::ThreatIntelConfig;
use crate::intel::{IntelReader, ThreatIntel, ThreatIntelStats};
use apitap_proto::{Category, Evidence, Measure, Recommendation};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

/// Packet time between two candidates for the same listed actor.
const REOFFER_NS: u64 = 60 * SECOND;
/// Samples kept per listed actor.
const SAMPLES: usize = 3;

/// What is kept about one listed actor.
#[derive(Debug, Default)]
pub struct State {
    requests: u64,
    first_seen: u64,
    /// Packet time of the last candidate (0: none yet).
    last_offered: Option<u64>,
    samples: Vec<String>,
}

pub struct ThreatIntelDetector {
    reader: Option<IntelReader>,
    forwarded_for_hops: u8,
    /// Listed actors only.
    pub actors: ActorTable<IpAddr, State>,
    lookups: u64,
    matches: u64,
    forwarded_lookups: u64,
    /// Requests matched, by list index.
    matches_by_list: Vec<u64>,
}

/// The `hops`-th address from the right of the `X-Forwarded-For` headers (all of them, in
/// order, as one comma-separated list), if it parses. Ports and brackets are tolerated.
pub fn forwarded_client(headers: &apitap_proto::Headers, hops: u8) -> Option<IpAddr> {
    if hops == 0 {
        return None;
    }
    let mut items: Vec<&str> = Vec::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("x-forwarded-for") {
            items.extend(value.split(',').map(str::trim));
        }
    }
    let item = *items.iter().rev().nth(usize::from(hops) - 1)?;
    parse_forwarded_item(item)
}

fn parse_forwarded_item(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    // `[v6]:port` or `[v6]`.
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    // `v4:port`.
    let (a, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    a.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

impl ThreatIntelDetector {
    pub fn new(
        config: &ThreatIntelConfig,
        shared: Option<Arc<ThreatIntel>>,
        max_actors: usize,
        ttl_ns: u64,
    ) -> Self {
        let lists = shared.as_ref().map_or(0, |s| s.snapshot().lists.len());
        ThreatIntelDetector {
            reader: shared.map(IntelReader::new),
            forwarded_for_hops: config.forwarded_for_hops,
            actors: ActorTable::new(max_actors, ttl_ns),
            lookups: 0,
            matches: 0,
            forwarded_lookups: 0,
            matches_by_list: vec![0; lists],
        }
    }

    /// This worker's lookups and matches with the shared lists' counters.
    pub fn stats(&self) -> ThreatIntelStats {
        let Some(r) = &self.reader else {
            return ThreatIntelStats::default();
        };
        let mut s = r.shared().stats();
        s.lookups = self.lookups;
        s.matches = self.matches;
        s.forwarded_lookups = self.forwarded_lookups;
        let set = r.shared().snapshot();
        for (info, n) in set.lists.iter().zip(&self.matches_by_list) {
            if let Some(l) = s.by_list.get_mut(&*info.name) {
                l.matches = *n;
            }
        }
        s
    }

    pub fn observe(&mut self, o: &Observation<'_>) -> Option<Candidate> {
        let set = self.reader.as_mut()?.current();
        let forwarded = forwarded_client(&o.record.extras.request_headers, self.forwarded_for_hops)
            .filter(|ip| *ip != o.ip);
        self.lookups += 1;
        let mut hit = None;
        if let Some(f) = forwarded {
            self.forwarded_lookups += 1;
            self.lookups += 1;
            hit = set.lookup(f).map(|m| (f, m));
        }
        let (actor, m) = match hit {
            Some(h) => h,
            None => (o.ip, set.lookup(o.ip)?),
        };
        self.matches += 1;
        if self.matches_by_list.len() < set.lists.len() {
            // A reload added lists.
            self.matches_by_list.resize(set.lists.len(), 0);
        }
        if let Some(h) = self.matches_by_list.get_mut(m.list_index) {
            *h += 1;
        }
        let s = self.actors.entry(&actor, o.ts);
        if s.requests == 0 {
            s.first_seen = o.ts;
        }
        s.requests += 1;
        if s.samples.len() < SAMPLES {
            s.samples.push(o.sample());
        }
        if s.last_offered
            .is_some_and(|t| o.ts.saturating_sub(t) < REOFFER_NS)
        {
            return None;
        }
        s.last_offered = Some(o.ts);
        let reason = m.reason.map_or(String::new(), |r| format!(", {r}"));
        let host_len = if m.net.is_v4() { 32 } else { 128 };
        let exact = m.net.prefix_len() == host_len;
        let via = if hit.is_some() {
            format!(" (X-Forwarded-For via {})", o.ip)
        } else {
            String::new()
        };
        Some(Candidate {
            category: Category::ThreatIntel,
            detector: "threat_intel",
            rule_id: "apitap.threat_intel.listed_source",
            rule_name: "Source address on a threat-intelligence list",
            severity: m.list.severity,
            // A listed host is surer than a host somewhere in a listed block.
            score: if exact { 0.95 } else { 0.85 },
            actor_kind: "ip",
            actor: actor.to_string().into(),
            endpoint: None,
            count: s.requests,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{actor}{via} is on list {} ({}: {}{reason}); {} request(s) seen from it",
                    m.list.name, m.list.category, m.net, s.requests
                ),
                observed: vec![
                    Measure::new("requests", s.requests as f64),
                    Measure {
                        name: Cow::Owned(format!("list:{}", m.list.name)),
                        value: m.list.entries as f64,
                    },
                    Measure {
                        name: Cow::Owned(format!("matched_prefix:{}", m.net)),
                        value: f64::from(m.net.prefix_len()),
                    },
                    Measure::new("matched_prefix_len", f64::from(m.net.prefix_len())),
                    Measure::new("list_entries", m.list.entries as f64),
                    Measure::new("list_generation", set.generation as f64),
                ],
                expected: vec![Measure::new("requests_from_listed_sources", 0.0)],
                samples: s.samples.clone(),
            },
            recommendation: Some(Recommendation {
                action: "block_ip".into(),
                target: actor.to_string(),
                value: None,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> apitap_proto::Headers {
        [("x-forwarded-for", v)].into_iter().collect()
    }

    #[test]
    fn forwarded_for_takes_the_trusted_hop() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let xff = h("203.0.113.9, 198.51.100.1, 192.0.2.7");
        assert_eq!(forwarded_client(&xff, 0), None, "not trusted: ignored");
        assert_eq!(forwarded_client(&xff, 1), Some(ip("192.0.2.7")));
        assert_eq!(forwarded_client(&xff, 2), Some(ip("198.51.100.1")));
        assert_eq!(forwarded_client(&xff, 3), Some(ip("203.0.113.9")));
        assert_eq!(forwarded_client(&xff, 4), None);
        // Two headers are one list; ports and brackets are tolerated; garbage is ignored.
        let two: apitap_proto::Headers = [
            ("X-Forwarded-For", "198.51.100.1:4711"),
            ("x-forwarded-for", "[2001:db8::1]:443"),
        ]
        .into_iter()
        .collect();
        assert_eq!(forwarded_client(&two, 1), Some(ip("2001:db8::1")));
        assert_eq!(forwarded_client(&two, 2), Some(ip("198.51.100.1")));
        assert_eq!(forwarded_client(&h("unknown, evil"), 1), None);
        assert_eq!(forwarded_client(&apitap_proto::Headers::default(), 1), None);
    }
}
