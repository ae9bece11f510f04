//! The labels file: the ground truth of a generated capture. Per actor: name, kind (`benign`
//! or `attack`), alert-vocabulary categories, source addresses, identities (usernames, API key
//! ids, bot user agents), the time span of its requests and how many HTTP requests it sent.
//!
//! Invariants: `request_count` counts requests as an HTTP parser that gives Transfer-Encoding
//! precedence sees them (a CL.TE smuggling attempt counts twice), and equals the number of
//! request records a correct sensor produces from the actor's addresses.

use crate::actors::LabelInfo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Most identities listed per actor (the count is always exact).
pub const MAX_IDENTITIES: usize = 100_000;

/// One actor's truth.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActorLabel {
    pub name: String,
    pub kind: String,
    pub categories: Vec<String>,
    pub description: String,
    pub source_ips: Vec<String>,
    pub identities: Vec<String>,
    pub identity_count: u64,
    /// First and last request, RFC 3339 with microseconds.
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub request_count: u64,
    pub connections: u64,
}

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Labels {
    pub generator: String,
    pub seed: u64,
    pub description: String,
    pub start: String,
    pub end: String,
    pub servers: Vec<String>,
    pub tunnel: Option<String>,
    pub vlan: Option<u16>,
    pub packets: u64,
    pub requests: u64,
    pub actors: Vec<ActorLabel>,
}

impl Labels {
    pub fn actor(&self, name: &str) -> Option<&ActorLabel> {
        self.actors.iter().find(|a| a.name == name)
    }
}

/// RFC 3339 UTC with microseconds.
pub fn rfc3339_us(us: u64) -> String {
    let mut s = String::with_capacity(27);
    crate::data::iso_time(&mut s, us / 1_000_000);
    s.pop();
    let _ = write!(s, ".{:06}Z", us % 1_000_000);
    s
}

/// A label being filled while the capture is written.
pub struct LabelAcc {
    pub info: LabelInfo,
    pub ips: BTreeSet<u32>,
    pub identities: BTreeSet<String>,
    pub identity_overflow: BTreeSet<u64>,
    pub first_us: Option<u64>,
    pub last_us: u64,
    pub requests: u64,
    pub connections: u64,
}

impl LabelAcc {
    pub fn new(info: LabelInfo) -> Self {
        LabelAcc {
            info,
            ips: BTreeSet::new(),
            identities: BTreeSet::new(),
            identity_overflow: BTreeSet::new(),
            first_us: None,
            last_us: 0,
            requests: 0,
            connections: 0,
        }
    }

    pub fn identity(&mut self, id: &str) {
        if self.identities.len() < MAX_IDENTITIES {
            self.identities.insert(id.to_string());
        } else if !self.identities.contains(id) {
            // Beyond the list, count distinct ones by hash.
            let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
            self.identity_overflow.insert(h);
        }
    }

    pub fn request(&mut self, abs_us: u64, n: u32) {
        self.first_us.get_or_insert(abs_us);
        self.last_us = self.last_us.max(abs_us);
        self.requests += u64::from(n);
    }

    pub fn finish(self) -> ActorLabel {
        ActorLabel {
            name: self.info.name,
            kind: self.info.kind.to_string(),
            categories: self.info.categories,
            description: self.info.description,
            source_ips: self
                .ips
                .iter()
                .map(|ip| std::net::Ipv4Addr::from(*ip).to_string())
                .collect(),
            identity_count: (self.identities.len() + self.identity_overflow.len()) as u64,
            identities: self.identities.into_iter().collect(),
            first_seen: self.first_us.map(rfc3339_us),
            last_seen: self.first_us.map(|_| rfc3339_us(self.last_us)),
            request_count: self.requests,
            connections: self.connections,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_microseconds() {
        assert_eq!(
            rfc3339_us(1_736_942_400_000_001),
            "2025-01-15T12:00:00.000001Z"
        );
    }
}
