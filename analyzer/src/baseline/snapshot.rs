//! Baseline snapshots: what a restart needs so it neither forgets nor re-alerts.
//!
//! Format (version [`VERSION`]): one JSON header line `{"format":"apitap-baseline",
//! "version":1}`, then one JSON object ([`Snapshot`]): learned packet time, global, endpoint,
//! per-address and per-identity baselines (with their last-touched packet time, so eviction
//! order survives), and the alert manager's open dedupe keys (so an alert already sent is not
//! sent again after a restart). A file whose header names another format or version is
//! refused as a whole ([`SnapshotError`]), never half-read; so is one with non-finite or
//! negative counts. The analyzer does no file I/O: it reads and writes any `Read`/`Write`,
//! the sensor owns paths and atomic replacement.
//!
//! With N workers each worker's snapshot is a part; [`Snapshot::merge`] adds the parts up
//! (actors are disjoint; endpoint and global rates, histograms and counts are sums), and
//! [`Snapshot::part_for`] gives a worker back its share: the addresses of its shard,
//! identities by the address they were last used from, 1/N of every endpoint and global
//! baseline. With one worker, part and whole are the same, and a save/load round trip is
//! exact (floats are written in shortest round-trip form).

use super::{ActorBaseline, EndpointBaseline, GlobalBaseline, IdentityBaseline};
use apitap_proto::{Category, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::sync::Arc;

pub const FORMAT: &str = "apitap-baseline";
/// Bumped whenever a field's meaning or layout changes; other versions are refused.
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
}

/// One address's baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceEntry {
    pub ip: IpAddr,
    pub last_seen: u64,
    pub baseline: ActorBaseline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityEntry {
    pub id: Arc<str>,
    pub last_seen: u64,
    pub baseline: IdentityBaseline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointEntry {
    pub last_seen: u64,
    pub baseline: EndpointBaseline,
}

/// An alert the manager already sent and still folds repeats into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAlertEntry {
    pub category: Category,
    pub actor: Arc<str>,
    pub endpoint: Option<String>,
    pub opened: u64,
    pub first_seen: u64,
    pub last_seen: u64,
    pub candidates: u64,
    pub requests: u64,
    pub severity: Option<Severity>,
}

/// Everything learned, in a form that outlives the process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Packet time learned (ns; idle gaps credited at most five minutes each).
    pub learned_ns: u64,
    /// Packet time of the last record learned.
    pub last_ts: u64,
    pub global: GlobalBaseline,
    pub endpoints: Vec<EndpointEntry>,
    pub sources: Vec<SourceEntry>,
    pub identities: Vec<IdentityEntry>,
    /// Learned slug positions of the endpoint templater (hashes of host and parent →
    /// hashes of the literal values seen).
    pub templates: Vec<(u64, Vec<u64>)>,
    pub alerts: Vec<OpenAlertEntry>,
    /// Actors with a specific (non-bot) alert, by its packet time.
    pub specific: Vec<(Arc<str>, u64)>,
}

/// Why a snapshot was not loaded.
#[derive(Debug)]
pub enum SnapshotError {
    Io(std::io::Error),
    /// The first line is not an apitap baseline header.
    NotASnapshot,
    /// Written by a build with another snapshot version.
    IncompatibleVersion {
        found: u32,
        supported: u32,
    },
    /// The body does not parse, or holds impossible values.
    Invalid(String),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Io(e) => write!(f, "reading the baseline snapshot: {e}"),
            SnapshotError::NotASnapshot => write!(f, "not an apitap baseline snapshot"),
            SnapshotError::IncompatibleVersion { found, supported } => write!(
                f,
                "baseline snapshot version {found} is not supported (this build reads {supported})"
            ),
            SnapshotError::Invalid(e) => write!(f, "invalid baseline snapshot: {e}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

impl From<std::io::Error> for SnapshotError {
    fn from(e: std::io::Error) -> Self {
        SnapshotError::Io(e)
    }
}

impl Snapshot {
    /// Writes the header line and the body.
    pub fn write_to(&self, mut w: impl Write) -> std::io::Result<()> {
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
        };
        serde_json::to_writer(&mut w, &header)?;
        w.write_all(b"\n")?;
        serde_json::to_writer(&mut w, self)?;
        w.write_all(b"\n")?;
        w.flush()
    }

    /// Reads a snapshot, refusing other formats and versions and invalid values.
    pub fn read_from(mut r: impl BufRead) -> Result<Snapshot, SnapshotError> {
        let mut line = String::new();
        std::io::Read::take(&mut r, 4096).read_line(&mut line)?;
        let header: Header =
            serde_json::from_str(line.trim()).map_err(|_| SnapshotError::NotASnapshot)?;
        if header.format != FORMAT {
            return Err(SnapshotError::NotASnapshot);
        }
        if header.version != VERSION {
            return Err(SnapshotError::IncompatibleVersion {
                found: header.version,
                supported: VERSION,
            });
        }
        let s: Snapshot =
            serde_json::from_reader(r).map_err(|e| SnapshotError::Invalid(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), SnapshotError> {
        let bad = |what: &str| Err(SnapshotError::Invalid(format!("{what} out of range")));
        if !self.global.is_valid() {
            return bad("global baseline");
        }
        if let Some(e) = self.endpoints.iter().find(|e| !e.baseline.is_valid()) {
            return bad(&format!("endpoint {:?}", e.baseline.name));
        }
        if self.sources.iter().any(|s| !s.baseline.is_valid())
            || self.identities.iter().any(|s| !s.baseline.base.is_valid())
        {
            return bad("actor baseline");
        }
        Ok(())
    }

    /// Adds up the parts N workers wrote.
    pub fn merge(parts: Vec<Snapshot>) -> Snapshot {
        let mut out = Snapshot::default();
        let mut endpoints: BTreeMap<Box<str>, EndpointEntry> = BTreeMap::new();
        let mut identities: BTreeMap<Arc<str>, IdentityEntry> = BTreeMap::new();
        let mut alerts: BTreeMap<(Category, Arc<str>, Option<String>), OpenAlertEntry> =
            BTreeMap::new();
        let mut specific: BTreeMap<Arc<str>, u64> = BTreeMap::new();
        let mut sources: BTreeMap<IpAddr, SourceEntry> = BTreeMap::new();
        let mut templates: BTreeMap<u64, std::collections::BTreeSet<u64>> = BTreeMap::new();
        for p in parts {
            out.learned_ns = out.learned_ns.max(p.learned_ns);
            out.last_ts = out.last_ts.max(p.last_ts);
            out.global.merge(&p.global);
            for e in p.endpoints {
                match endpoints.get_mut(&e.baseline.name) {
                    Some(have) => {
                        have.baseline.merge(&e.baseline);
                        have.last_seen = have.last_seen.max(e.last_seen);
                    }
                    None => {
                        endpoints.insert(e.baseline.name.clone(), e);
                    }
                }
            }
            for s in p.sources {
                match sources.get(&s.ip) {
                    Some(have) if have.last_seen >= s.last_seen => {}
                    _ => {
                        sources.insert(s.ip, s);
                    }
                }
            }
            for i in p.identities {
                match identities.get_mut(&i.id) {
                    Some(have) => {
                        // Pieces of one identity seen on several shards: the most recent
                        // one's state, the sum of their volumes.
                        let mut keep = if i.last_seen > have.last_seen {
                            i.clone()
                        } else {
                            have.clone()
                        };
                        let other = if i.last_seen > have.last_seen {
                            &*have
                        } else {
                            &i
                        };
                        keep.baseline.base.volume.active_mean +=
                            other.baseline.base.volume.active_mean;
                        keep.baseline.base.mix.merge(&other.baseline.base.mix);
                        *have = keep;
                    }
                    None => {
                        identities.insert(i.id.clone(), i);
                    }
                }
            }
            for a in p.alerts {
                let key = (a.category, a.actor.clone(), a.endpoint.clone());
                match alerts.get(&key) {
                    Some(have) if have.opened >= a.opened => {}
                    _ => {
                        alerts.insert(key, a);
                    }
                }
            }
            for (k, vals) in p.templates {
                templates.entry(k).or_default().extend(vals);
            }
            for (k, t) in p.specific {
                let v = specific.entry(k).or_default();
                *v = (*v).max(t);
            }
        }
        out.endpoints = endpoints.into_values().collect();
        out.sources = sources.into_values().collect();
        out.identities = identities.into_values().collect();
        out.alerts = alerts.into_values().collect();
        out.specific = specific.into_iter().collect();
        out.templates = templates
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        out
    }

    /// The share of worker `index` of `n`: `in_shard` says whether an address belongs to
    /// it. Endpoint and global baselines are split evenly; actors go whole to their shard;
    /// alert dedupe keys go to every worker (an alert already sent stays sent).
    pub fn part_for(&self, n: usize, in_shard: impl Fn(IpAddr) -> bool) -> Snapshot {
        let f = 1.0 / n.max(1) as f32;
        let mut out = self.clone();
        if n > 1 {
            out.global.scale(f);
            for e in &mut out.endpoints {
                e.baseline.scale(f);
            }
            out.sources.retain(|s| in_shard(s.ip));
            out.identities
                .retain(|i| i.baseline.last_ip.is_none_or(&in_shard));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_versions() {
        let s = Snapshot {
            learned_ns: 42,
            ..Default::default()
        };
        let mut buf = Vec::new();
        s.write_to(&mut buf).unwrap();
        assert!(buf.starts_with(br#"{"format":"apitap-baseline","version":1}"#));
        let back = Snapshot::read_from(&buf[..]).unwrap();
        assert_eq!(back, s);

        let other =
            String::from_utf8(buf.clone())
                .unwrap()
                .replacen("\"version\":1", "\"version\":99", 1);
        match Snapshot::read_from(other.as_bytes()) {
            Err(SnapshotError::IncompatibleVersion { found: 99, .. }) => {}
            r => panic!("{r:?}"),
        }
        assert!(matches!(
            Snapshot::read_from(&b"{\"records\":1}\n{}"[..]),
            Err(SnapshotError::NotASnapshot)
        ));
        assert!(matches!(
            Snapshot::read_from(&b"garbage"[..]),
            Err(SnapshotError::NotASnapshot)
        ));
        let truncated = &buf[..buf.len() - 10];
        assert!(matches!(
            Snapshot::read_from(truncated),
            Err(SnapshotError::Invalid(_))
        ));
    }

    #[test]
    fn negative_counts_are_refused() {
        let mut s = Snapshot::default();
        s.global.mix.requests = -1.0;
        let mut buf = Vec::new();
        s.write_to(&mut buf).unwrap();
        assert!(matches!(
            Snapshot::read_from(&buf[..]),
            Err(SnapshotError::Invalid(_))
        ));
    }
}
