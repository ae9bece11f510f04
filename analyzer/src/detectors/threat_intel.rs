//! `threat_intel`: the source address is on a configured IP/CIDR list.
//!
//! Every exchange's source is looked up in the shared lists ([`crate::intel`]); a listed
//! source gives a candidate on each request (the alert manager sends the first and folds
//! the rest per actor), naming the list, the most specific listed prefix, the list's reason
//! (e.g. the Spamhaus SBL id) and the requests seen from the source so far. Only listed
//! sources get state (bounded, evictions counted). No lists configured: nothing is looked up.

use super::{push_sample, Candidate, Observation};
use crate::actors::ActorTable;
use crate::intel::{IntelReader, LookupCounters, ThreatIntel};
use apitap_proto::{Category, Evidence, Measure, Recommendation};
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct State {
    requests: u64,
    first_seen: u64,
    samples: Vec<String>,
}

pub struct ThreatIntelDetector {
    reader: Option<IntelReader>,
    pub sources: ActorTable<IpAddr, State>,
    pub counters: LookupCounters,
}

impl ThreatIntelDetector {
    pub fn new(shared: Option<Arc<ThreatIntel>>, max_actors: usize, ttl_ns: u64) -> Self {
        let lists = shared.as_ref().map_or(0, |s| s.snapshot().lists.len());
        ThreatIntelDetector {
            reader: shared.map(IntelReader::new),
            sources: ActorTable::new(max_actors, ttl_ns),
            counters: LookupCounters {
                hits_by_list: vec![0; lists],
                ..Default::default()
            },
        }
    }

    pub fn observe(&mut self, o: &Observation<'_>) -> Option<Candidate> {
        let set = self.reader.as_mut()?.current();
        self.counters.lookups += 1;
        let m = set.lookup(o.ip)?;
        self.counters.hits += 1;
        if let Some(h) = self.counters.hits_by_list.get_mut(m.list_index) {
            *h += 1;
        }
        let s = self.sources.entry(&o.ip, o.ts);
        if s.requests == 0 {
            s.first_seen = o.ts;
        }
        s.requests += 1;
        push_sample(&mut s.samples, o.sample(), 3);
        let reason = m.reason.map_or(String::new(), |r| format!(", {r}"));
        let exact = m.net.len() == if o.ip.is_ipv4() { 32 } else { 128 };
        Some(Candidate {
            category: Category::ThreatIntel,
            detector: "threat_intel",
            rule_id: "apitap.threat_intel.listed_source",
            rule_name: "Source address on a threat-intelligence list",
            severity: m.list.severity,
            // A listed host is surer than a host somewhere in a listed block.
            score: if exact { 0.95 } else { 0.85 },
            actor_kind: "ip",
            actor: o.ip.to_string().into(),
            endpoint: None,
            count: s.requests,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{} is on list {} ({}{reason}); {} request(s) seen from it",
                    o.ip, m.list.name, m.net, s.requests
                ),
                observed: vec![
                    Measure::new("requests", s.requests as f64),
                    Measure::new("matched_prefix_len", f64::from(m.net.len())),
                    Measure::new("list_entries", m.list.entries as f64),
                ],
                expected: vec![Measure::new("requests_from_listed_sources", 0.0)],
                samples: s.samples.clone(),
            },
            recommendation: Some(Recommendation {
                action: "block_ip".into(),
                target: o.ip.to_string(),
                value: None,
            }),
        })
    }
}
