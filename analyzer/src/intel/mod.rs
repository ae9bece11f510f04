//! Threat-intelligence IP/CIDR lists: loaded from files ([`parse`]), merged into one
//! longest-prefix-match [`table::Table`], shared by every analyzer worker and reloaded
//! without a restart.
//!
//! Limits: a file over `max_file_bytes` is refused, networks beyond `max_entries_per_list`
//! are dropped; both are counted ([`ThreatIntelStats`]), as are rejected lines.
//!
//! When to reload is the owner's choice, not the analyzer's: the sensor checks on a
//! wall-clock interval and on SIGHUP in live capture only, and never during a replay, so a
//! replay stays deterministic (packet time drives everything else; a list file changing
//! under a replay would make its alerts depend on when the file was written).
//!
//! Sharing and reload: [`ThreatIntel`] holds the current [`IntelSet`] (immutable) behind a
//! `RwLock<Arc<_>>` plus a generation counter. Each worker keeps its own `Arc` of the set in
//! an [`IntelReader`] and reads only the atomic generation per lookup: the lock is taken once
//! per worker per reload, never on the hot path. One owner (the sensor's reload thread, on a
//! timer or SIGHUP) calls [`ThreatIntel::check`], which re-reads the lists whose file
//! changed (modification time, size or inode), rebuilds the table, and swaps it in.
//!
//! A list that fails to reload (unreadable, empty, or mostly unreadable lines — see
//! [`parse::Parsed::verdict`]) keeps its previous contents; the failure is counted and
//! reported as an [`IntelEvent`] (the caller logs it). At start the same failures are
//! errors: a configured list that gives nothing is a configuration mistake.
//!
//! Ties: the most specific prefix wins across all lists; on an identical prefix in two lists
//! the list configured first wins.

pub mod parse;
pub mod table;

use crate::config::{IntelListConfig, ThreatIntelConfig};
use apitap_proto::Severity;
use parse::{BadLine, ParsedEntry};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;
use table::{Net, Table};

/// What identifies one version of a list file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub modified: Option<SystemTime>,
    pub len: u64,
    pub inode: u64,
}

impl FileStamp {
    pub fn of(path: &Path) -> std::io::Result<FileStamp> {
        let m = std::fs::metadata(path)?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(FileStamp {
            modified: m.modified().ok(),
            len: m.len(),
            inode,
        })
    }
}

/// One list as loaded.
#[derive(Debug, Clone)]
struct LoadedList {
    config: IntelListConfig,
    stamp: Option<FileStamp>,
    entries: Arc<Vec<ParsedEntry>>,
    rejected: u64,
    over_limit: u64,
    reload_failures: u64,
    reloads: u64,
}

/// Name and severity of a list, as a match reports it.
#[derive(Debug, Clone)]
pub struct ListInfo {
    pub name: Arc<str>,
    /// What the list holds (`scanner`, `botnet`, ...).
    pub category: Arc<str>,
    pub severity: Severity,
    pub entries: u64,
}

/// One immutable version of all lists, merged.
#[derive(Debug, Default)]
pub struct IntelSet {
    pub lists: Vec<ListInfo>,
    /// Entry id → (list index, network, reason).
    entries: Vec<(u16, Net, Option<Arc<str>>)>,
    table: Table,
    pub generation: u64,
}

/// A listed source.
#[derive(Debug, Clone, Copy)]
pub struct Match<'a> {
    pub list_index: usize,
    pub list: &'a ListInfo,
    /// The most specific listed network holding the address.
    pub net: Net,
    pub reason: Option<&'a Arc<str>>,
}

impl IntelSet {
    fn build(lists: &[LoadedList], generation: u64) -> IntelSet {
        let mut entries = Vec::with_capacity(lists.iter().map(|l| l.entries.len()).sum());
        let mut infos = Vec::with_capacity(lists.len());
        for (i, l) in lists.iter().enumerate() {
            infos.push(ListInfo {
                name: l.config.name.as_str().into(),
                category: l.config.category.as_str().into(),
                severity: l.config.severity,
                entries: l.entries.len() as u64,
            });
            // Reasons repeat (tags, categories): share equal ones.
            let mut last: Option<Arc<str>> = None;
            for e in l.entries.iter() {
                let reason = e.reason.as_deref().map(|r| match &last {
                    Some(a) if a.as_ref() == r => a.clone(),
                    _ => {
                        let a: Arc<str> = r.into();
                        last = Some(a.clone());
                        a
                    }
                });
                entries.push((i as u16, e.net, reason));
            }
        }
        let table = Table::build(entries.iter().zip(0u32..).map(|((_, n, _), id)| (*n, id)));
        IntelSet {
            lists: infos,
            entries,
            table,
            generation,
        }
    }

    /// The most specific listed network holding `ip`, if any.
    pub fn lookup(&self, ip: IpAddr) -> Option<Match<'_>> {
        let id = self.table.lookup(ip)?;
        let (li, net, reason) = self.entries.get(id as usize)?;
        Some(Match {
            list_index: usize::from(*li),
            list: self.lists.get(usize::from(*li))?,
            net: *net,
            reason: reason.as_ref(),
        })
    }

    /// Networks loaded over all lists.
    pub fn entries(&self) -> usize {
        self.entries.len()
    }

    /// Disjoint ranges in the lookup table.
    pub fn ranges(&self) -> usize {
        self.table.ranges()
    }
}

/// What loading or reloading did, for the log.
#[derive(Debug, Clone)]
pub enum IntelEvent {
    Loaded {
        list: String,
        path: String,
        entries: u64,
        rejected: u64,
        generation: u64,
    },
    BadLine {
        list: String,
        path: String,
        bad: BadLine,
    },
    /// The previous contents are kept.
    ReloadFailed {
        list: String,
        path: String,
        error: String,
    },
}

/// Counters of one list.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ListStats {
    pub entries: u64,
    pub rejected_lines: u64,
    /// Networks beyond `max_entries_per_list`, not loaded.
    pub entries_over_limit: u64,
    pub matches: u64,
    pub reloads: u64,
    pub reload_failures: u64,
}

/// Threat-intel counters for the run summary and metrics. Each worker reports its own
/// lookups and matches plus the shared lists' figures; [`ThreatIntelStats::merge`] sums the
/// former and keeps the latter once.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThreatIntelStats {
    pub lists: u64,
    /// Networks loaded over all lists (current generation).
    pub entries_loaded: u64,
    /// Disjoint ranges in the lookup table.
    pub ranges: u64,
    pub lines_rejected: u64,
    pub entries_over_limit: u64,
    /// Successful reloads after the first load, over all lists.
    pub reloads: u64,
    pub reload_failures: u64,
    pub generation: u64,
    /// Addresses looked up (packet source, plus `X-Forwarded-For` when trusted).
    pub lookups: u64,
    /// Requests whose actor was on a list.
    pub matches: u64,
    /// Requests whose trusted `X-Forwarded-For` address was looked up.
    pub forwarded_lookups: u64,
    pub by_list: BTreeMap<String, ListStats>,
}

impl ThreatIntelStats {
    /// Adds another worker's figures: lookups and matches are summed, the shared lists'
    /// figures (the same object seen by every worker) are kept once.
    pub fn merge(&mut self, o: &ThreatIntelStats) {
        self.lookups += o.lookups;
        self.matches += o.matches;
        self.forwarded_lookups += o.forwarded_lookups;
        if o.generation >= self.generation {
            self.lists = o.lists;
            self.entries_loaded = o.entries_loaded;
            self.ranges = o.ranges;
            self.lines_rejected = o.lines_rejected;
            self.entries_over_limit = o.entries_over_limit;
            self.reloads = self.reloads.max(o.reloads);
            self.reload_failures = self.reload_failures.max(o.reload_failures);
            self.generation = o.generation;
        }
        for (name, l) in &o.by_list {
            let m = self.by_list.entry(name.clone()).or_default();
            let matches = m.matches + l.matches;
            if l.reloads >= m.reloads {
                *m = l.clone();
            }
            m.matches = matches;
        }
    }
}

/// Size limits a list file is held to.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_entries: usize,
    max_file_bytes: u64,
}

/// The lists, shared by all workers; one owner reloads them.
#[derive(Debug)]
pub struct ThreatIntel {
    generation: AtomicU64,
    current: RwLock<Arc<IntelSet>>,
    /// The owner's view: what each list was loaded from.
    lists: Mutex<Vec<LoadedList>>,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    limits: Limits,
}

/// Reads and parses one list within the limits: a file over `max_file_bytes` is refused,
/// networks beyond `max_entries` are dropped and counted (the third value).
fn read_list(
    c: &IntelListConfig,
    limits: Limits,
    on_reload: bool,
) -> Result<(FileStamp, parse::Parsed, u64), String> {
    use std::io::Read as _;
    let stamp = FileStamp::of(&c.path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    std::fs::File::open(&c.path)
        .and_then(|f| {
            f.take(limits.max_file_bytes.saturating_add(1))
                .read_to_end(&mut bytes)
        })
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(format!(
            "the file is larger than max_file_bytes ({})",
            limits.max_file_bytes
        ));
    }
    if on_reload && bytes.is_empty() {
        // Most often a writer that truncated the file and has not written it yet.
        return Err("the file is empty".into());
    }
    let mut parsed = parse::parse(c.format, &bytes);
    parsed.verdict()?;
    let over = parsed.entries.len().saturating_sub(limits.max_entries) as u64;
    parsed.entries.truncate(limits.max_entries);
    Ok((stamp, parsed, over))
}

fn loaded_events(c: &IntelListConfig, p: &parse::Parsed, generation: u64) -> Vec<IntelEvent> {
    let path = c.path.display().to_string();
    let mut ev = vec![IntelEvent::Loaded {
        list: c.name.clone(),
        path: path.clone(),
        entries: p.entries.len() as u64,
        rejected: p.rejected,
        generation,
    }];
    ev.extend(p.bad_lines.iter().map(|b| IntelEvent::BadLine {
        list: c.name.clone(),
        path: path.clone(),
        bad: b.clone(),
    }));
    ev
}

impl ThreatIntel {
    /// Loads every configured list; any list that cannot be used is an error.
    pub fn load(config: &ThreatIntelConfig) -> Result<(Arc<ThreatIntel>, Vec<IntelEvent>), String> {
        config.validate()?;
        let limits = Limits {
            max_entries: config.max_entries_per_list,
            max_file_bytes: config.max_file_bytes,
        };
        let mut lists = Vec::with_capacity(config.lists.len());
        let mut events = Vec::new();
        for c in &config.lists {
            let (stamp, parsed, over_limit) = read_list(c, limits, false).map_err(|e| {
                format!("threat_intel list {:?} ({}): {e}", c.name, c.path.display())
            })?;
            events.extend(loaded_events(c, &parsed, 1));
            lists.push(LoadedList {
                config: c.clone(),
                stamp: Some(stamp),
                rejected: parsed.rejected,
                entries: Arc::new(parsed.entries),
                over_limit,
                reload_failures: 0,
                reloads: 0,
            });
        }
        let set = IntelSet::build(&lists, 1);
        Ok((
            Arc::new(ThreatIntel {
                generation: AtomicU64::new(1),
                current: RwLock::new(Arc::new(set)),
                lists: Mutex::new(lists),
                reloads: AtomicU64::new(0),
                reload_failures: AtomicU64::new(0),
                limits,
            }),
            events,
        ))
    }

    /// The current set.
    pub fn snapshot(&self) -> Arc<IntelSet> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Re-reads the lists whose file changed (all of them with `force`), and swaps in a new
    /// set when any did. A list that fails keeps its previous contents.
    pub fn check(&self, force: bool) -> Vec<IntelEvent> {
        let mut lists = self.lists.lock().unwrap_or_else(PoisonError::into_inner);
        let mut events = Vec::new();
        let mut changed = false;
        let next_gen = self.generation() + 1;
        for l in lists.iter_mut() {
            let stamp = FileStamp::of(&l.config.path).ok();
            // Unchanged (a file still missing included): nothing to do, nothing to report.
            if !force && stamp == l.stamp {
                continue;
            }
            match read_list(&l.config, self.limits, true) {
                Ok((stamp, parsed, over_limit)) => {
                    events.extend(loaded_events(&l.config, &parsed, next_gen));
                    l.stamp = Some(stamp);
                    l.rejected = parsed.rejected;
                    l.over_limit = over_limit;
                    l.entries = Arc::new(parsed.entries);
                    l.reloads += 1;
                    self.reloads.fetch_add(1, Ordering::Relaxed);
                    changed = true;
                }
                Err(error) => {
                    l.reload_failures += 1;
                    self.reload_failures.fetch_add(1, Ordering::Relaxed);
                    events.push(IntelEvent::ReloadFailed {
                        list: l.config.name.clone(),
                        path: l.config.path.display().to_string(),
                        error,
                    });
                    // Remember the broken version so it is reported once, not every check.
                    l.stamp = stamp;
                }
            }
        }
        if changed {
            let set = Arc::new(IntelSet::build(&lists, next_gen));
            *self.current.write().unwrap_or_else(PoisonError::into_inner) = set;
            self.generation.store(next_gen, Ordering::Release);
        }
        events
    }

    /// The shared lists' counters (no lookups or matches: the workers add theirs).
    pub fn stats(&self) -> ThreatIntelStats {
        let lists = self.lists.lock().unwrap_or_else(PoisonError::into_inner);
        let set = self.snapshot();
        ThreatIntelStats {
            lists: lists.len() as u64,
            entries_loaded: set.entries() as u64,
            ranges: set.ranges() as u64,
            lines_rejected: lists.iter().map(|l| l.rejected).sum(),
            entries_over_limit: lists.iter().map(|l| l.over_limit).sum(),
            reloads: self.reloads.load(Ordering::Relaxed),
            reload_failures: self.reload_failures.load(Ordering::Relaxed),
            generation: set.generation,
            by_list: lists
                .iter()
                .map(|l| {
                    let s = ListStats {
                        entries: l.entries.len() as u64,
                        rejected_lines: l.rejected,
                        entries_over_limit: l.over_limit,
                        matches: 0,
                        reloads: l.reloads,
                        reload_failures: l.reload_failures,
                    };
                    (l.config.name.clone(), s)
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// A worker's view of the shared lists: one atomic load per lookup, the lock only when
/// the generation moved.
#[derive(Debug)]
pub struct IntelReader {
    shared: Arc<ThreatIntel>,
    seen: u64,
    set: Arc<IntelSet>,
}

impl IntelReader {
    pub fn new(shared: Arc<ThreatIntel>) -> IntelReader {
        let seen = shared.generation();
        let set = shared.snapshot();
        IntelReader { shared, seen, set }
    }

    /// The lists this reader follows.
    pub fn shared(&self) -> &Arc<ThreatIntel> {
        &self.shared
    }

    /// The newest set.
    pub fn current(&mut self) -> &IntelSet {
        let g = self.shared.generation();
        if g != self.seen {
            self.set = self.shared.snapshot();
            self.seen = g;
        }
        &self.set
    }
}

#[cfg(test)]
mod tests;
