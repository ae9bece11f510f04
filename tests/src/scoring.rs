//! Scoring a replayed capture against its labels (apitap-gen's labels format, which the
//! real-tool captures of `fixtures/real/` share): records and alerts are attributed to the
//! labeled actor that owns their source address.
//!
//! Invariant: every record and alert comes from a labeled address (an unlabeled one panics:
//! the labels are the whole truth about a capture).

use apitap_gen::labels::Labels;
use apitap_proto::{Alert, RequestRecord};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// Categories the payload detectors own: an actor must never get one of these that it did
/// not send.
pub const PAYLOAD: &[&str] = &[
    "sqli",
    "xss",
    "path_traversal",
    "command_injection",
    "ssrf",
    "jndi_injection",
    "xxe",
    "request_smuggling",
    "protocol_anomaly",
];

/// A capture's labels with the records and alerts apitap made from it.
pub struct Run {
    pub labels: Labels,
    pub records: Vec<RequestRecord>,
    pub alerts: Vec<Alert>,
}

impl Run {
    /// Labeled actor (index into `labels.actors`) by source address.
    pub fn owner(&self) -> HashMap<IpAddr, usize> {
        self.labels
            .actors
            .iter()
            .enumerate()
            .flat_map(|(i, a)| a.source_ips.iter().map(move |ip| (ip.parse().unwrap(), i)))
            .collect()
    }

    /// Alerts per labeled actor.
    pub fn alerts_by_actor(&self) -> BTreeMap<usize, Vec<&Alert>> {
        self.group(&self.alerts, |a| a.source.ip, "alert")
    }

    /// Records per labeled actor.
    pub fn records_by_actor(&self) -> BTreeMap<usize, Vec<&RequestRecord>> {
        self.group(&self.records, |r| r.source.ip, "record")
    }

    fn group<'a, T>(
        &self,
        items: &'a [T],
        ip: impl Fn(&T) -> IpAddr,
        what: &str,
    ) -> BTreeMap<usize, Vec<&'a T>> {
        let owner = self.owner();
        let mut m: BTreeMap<usize, Vec<&T>> = BTreeMap::new();
        for x in items {
            let i = *owner
                .get(&ip(x))
                .unwrap_or_else(|| panic!("{what} from unlabeled {}", ip(x)));
            m.entry(i).or_default().push(x);
        }
        m
    }

    fn actor_ips(&self, actor: usize) -> BTreeSet<IpAddr> {
        self.labels.actors[actor]
            .source_ips
            .iter()
            .map(|s| s.parse().unwrap())
            .collect()
    }

    /// The actor's requests up to and including packet time `ts`.
    pub fn requests_until(&self, actor: usize, ts: u64) -> usize {
        let ips = self.actor_ips(actor);
        self.records
            .iter()
            .filter(|r| ips.contains(&r.source.ip) && r.timestamp <= ts)
            .count()
    }

    /// Packet time of the actor's first request.
    pub fn first_request(&self, actor: usize) -> u64 {
        let ips = self.actor_ips(actor);
        self.records
            .iter()
            .filter(|r| ips.contains(&r.source.ip))
            .map(|r| r.timestamp)
            .min()
            .unwrap()
    }

    /// Packet time of the actor's first alert of `category`.
    pub fn first_alert(&self, actor: usize, category: &str) -> Option<u64> {
        self.alerts_by_actor().get(&actor).and_then(|v| {
            v.iter()
                .filter(|x| x.apitap.category.as_str() == category)
                .map(|x| x.timestamp)
                .min()
        })
    }
}
