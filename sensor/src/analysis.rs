//! Analysis stage: records fan out from the capture thread to N analyzer workers, sharded by
//! actor key — the caller identity when the record has one, else the source address — over
//! bounded crossbeam channels; each worker owns one [`apitap_analyzer::Analyzer`] (its
//! shard's state, no locks) and sends the alerts it raises to one alert-writer thread.
//!
//! The choice and its cost: one identity's requests from every address meet in one worker
//! (account takeover, object walking are exact), and so do one address's unauthenticated
//! requests (logins, scanners, floods). An address sending both authenticated and anonymous
//! traffic has its per-source counters split between workers, which can only under-count
//! it. Endpoint-wide and global state (parameter profiles, response-size baselines) is kept
//! per worker: each learns from its share of the traffic, N copies for N workers, no lock.
//! Endpoint and global baselines are kept per worker, each its own shard's view (no lock;
//! see `apitap_analyzer::baseline` for the choice and its cost).
//!
//! Baseline snapshots: with a snapshot path, the file is read once at start (a missing file
//! starts fresh; one of another format or version is refused, counted and logged) and each
//! worker restores its part ([`apitap_analyzer::baseline::snapshot::Snapshot::part_for`]).
//! Every `snapshot_interval_secs` of packet time the record stream carries a tick to every
//! worker (in stream order, so each part covers the same records); the workers send their
//! parts to one snapshot thread, which merges a tick's N parts and replaces the file
//! atomically (write to `PATH.tmp`, rename). The last parts, sent when the workers drain at
//! shutdown, are written the same way.
//!
//! Threat-intel lists are loaded once and shared by every worker (each reads the current
//! version with one atomic load per record). In live capture a reload thread re-reads the
//! list files whose modification time, size or inode changed, every
//! `threat_intel.reload_check_secs` of wall-clock time, and every list at once on SIGHUP;
//! the workers pick the new version up at their next record. A replay never reloads, so
//! its alerts depend on the capture and the files as they were at start only.
//!
//! Capture never waits on analysis with the `drop` policy: a full shard channel drops the
//! record for analysis (it is still written) and counts it. In replay the alerts are written
//! sorted by time, rule and actor when the run ends, so a replay gives byte-identical alert
//! files; live, they are written as they come.

use crate::config::FullPolicy;
use anyhow::{Context as _, Result};
use apitap_analyzer::baseline::snapshot::{Snapshot, SnapshotError};
use apitap_analyzer::config::AnalyzerConfig;
use apitap_analyzer::intel::{IntelEvent, ThreatIntel, ThreatIntelStats};
use apitap_analyzer::{Analyzer, AnalyzerStats};
use apitap_proto::{Alert, RequestRecord};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where alerts go.
#[derive(Debug, Clone)]
pub enum AlertSink {
    /// Raised and counted, not written.
    None,
    Stdout,
    File(PathBuf),
}

pub struct AnalysisOptions {
    pub config: AnalyzerConfig,
    pub workers: usize,
    pub channel_capacity: usize,
    pub sink: AlertSink,
    /// Write alerts sorted at the end (replay) instead of as they come (live).
    pub sorted: bool,
    /// Live capture: threat-intel lists are reloaded when their files change and on SIGHUP.
    /// Off in replay (deterministic).
    pub reload_lists: bool,
    /// Baseline snapshot to load at start and keep up to date (periodically on packet time
    /// and at shutdown); overrides `analyzer.baseline.snapshot_path`.
    pub baseline: Option<PathBuf>,
    /// Detectors and the alert manager on (off: learning only, `apitap learn`).
    pub alerting: bool,
}

/// A record, or the packet-time tick that asks every worker for its snapshot part.
enum Msg {
    Record(Arc<RequestRecord>),
    Snapshot(u64),
}

/// What the analysis stage counted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AnalysisSummary {
    pub workers: usize,
    pub records_offered: u64,
    /// Not analysed because the worker's channel was full (`drop` policy).
    pub records_dropped_channel_full: u64,
    pub records_analyzed: u64,
    pub login_attempts: u64,
    pub failed_logins: u64,
    /// Endpoint templating: positions learned, positions refused (table full), slugs, cache.
    pub templates: apitap_analyzer::template::TemplateStats,
    pub actors_evicted: u64,
    pub alert_candidates: u64,
    pub alerts_emitted: u64,
    pub alerts_deduplicated: u64,
    pub alerts_suppressed: u64,
    pub alerts_dropped_rate_cap: u64,
    pub alerts_written: u64,
    pub alerts_dropped_write_error: u64,
    pub alerts_by_category: BTreeMap<String, u64>,
    /// Payload scanning: work done, findings by family, every bound hit.
    pub payload: apitap_analyzer::detectors::injection::InjectionStats,
    /// Credential-stuffing campaigns: keys tracked and evicted, candidates, single-source
    /// alerts folded into a campaign.
    pub stuffing: apitap_analyzer::detectors::credential_stuffing::StuffingStats,
    /// Lists, entries, rejected lines, reloads, lookups and matches (lists configured only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threat_intel: Option<ThreatIntelStats>,
    /// Packet time the baselines have learned (the longest of the workers'), seconds.
    pub baseline_learned_secs: u64,
    pub baseline_warm: bool,
    pub baseline_endpoints: u64,
    pub baseline_identities: u64,
    pub baseline_endpoints_evicted: u64,
    pub baseline_identities_evicted: u64,
    pub baseline_fingerprint_changes: u64,
    /// Snapshot files loaded at start, refused (other format or version, invalid), written,
    /// and failed to write; ticks a worker missed (its channel was full).
    pub baseline_snapshots_loaded: u64,
    pub baseline_snapshots_rejected: u64,
    pub baseline_snapshots_written: u64,
    pub baseline_snapshot_write_errors: u64,
    pub baseline_snapshot_ticks_missed: u64,
    /// The sources with the most alerts: (actor, alerts), most first (at most 10).
    #[serde(skip)]
    pub top_actors: Vec<(String, u64)>,
}

struct WriterResult {
    written: u64,
    failed: u64,
    top_actors: Vec<(String, u64)>,
    /// Alerts folded across workers, by category.
    folded: BTreeMap<String, u64>,
}

struct SnapshotResult {
    written: u64,
    failed: u64,
}

pub struct Analysis {
    shards: Vec<Sender<Msg>>,
    workers: Vec<JoinHandle<AnalyzerStats>>,
    writer: JoinHandle<WriterResult>,
    snapshots: Option<JoinHandle<SnapshotResult>>,
    /// Packet time of the next snapshot tick, and the interval (0: no periodic snapshots).
    next_tick: u64,
    tick_ns: u64,
    tick: u64,
    ticks_missed: u64,
    policy: FullPolicy,
    offered: u64,
    dropped: u64,
    intel: Option<Arc<ThreatIntel>>,
    reloader: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

/// Logs what loading or reloading a list did.
fn log_intel(events: &[IntelEvent]) {
    for e in events {
        match e {
            IntelEvent::Loaded {
                list,
                path,
                entries,
                rejected,
                generation,
            } => tracing::info!(
                list,
                path,
                entries,
                rejected,
                generation,
                "threat_intel list loaded"
            ),
            IntelEvent::BadLine { list, path, bad } => tracing::warn!(
                list,
                path,
                line = bad.line,
                text = %bad.text,
                why = bad.why,
                "threat_intel line rejected"
            ),
            IntelEvent::ReloadFailed { list, path, error } => tracing::warn!(
                list,
                path,
                error,
                "threat_intel list reload failed; the previous version stays in use"
            ),
        }
    }
}

/// The live reload thread: file changes every `every` (None: never), all lists on SIGHUP;
/// sleeps in short steps so `stop` ends it promptly.
fn spawn_reloader(
    intel: Arc<ThreatIntel>,
    every: Option<Duration>,
) -> Result<(Arc<AtomicBool>, JoinHandle<()>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())?;
    let st = stop.clone();
    let h = std::thread::Builder::new()
        .name("apitap-intel-reload".into())
        .spawn(move || {
            let mut last = Instant::now();
            while !st.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                if hup.swap(false, Ordering::Relaxed) {
                    tracing::info!("SIGHUP: reloading every threat_intel list");
                    log_intel(&intel.check(true));
                    last = Instant::now();
                } else if every.is_some_and(|e| last.elapsed() >= e) {
                    log_intel(&intel.check(false));
                    last = Instant::now();
                }
            }
        })?;
    Ok((stop, h))
}

/// Reads a snapshot file: `Ok(None)` when there is none yet.
pub fn load_snapshot(path: &std::path::Path) -> Result<Option<Snapshot>, SnapshotError> {
    match std::fs::File::open(path) {
        Ok(f) => Snapshot::read_from(std::io::BufReader::new(f)).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SnapshotError::Io(e)),
    }
}

/// Writes a snapshot atomically: `PATH.tmp`, then a rename over `PATH`.
pub fn save_snapshot(path: &std::path::Path, s: &Snapshot) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    s.write_to(&mut w)
        .with_context(|| format!("writing {}", tmp.display()))?;
    w.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// The worker for an address's state (anonymous traffic, snapshot parts).
fn shard_of_ip(ip: std::net::IpAddr, n: usize) -> usize {
    let h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(ip);
    (h % n as u64) as usize
}

/// The worker for a record: by caller identity when the record has one (so one worker sees
/// all of an identity's requests, from every address: account takeover, object walking), else
/// by source address (logins, scanners and floods without credentials).
fn shard_of(rec: &RequestRecord, n: usize) -> usize {
    let h = match &rec.apitap.identity {
        Some(id) => BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(&*id.id),
        None => return shard_of_ip(rec.source.ip, n),
    };
    (h % n as u64) as usize
}

impl Analysis {
    pub fn start(opts: AnalysisOptions, policy: FullPolicy) -> Result<Analysis> {
        // The payload engines are compiled once and shared (they are immutable); lists are
        // loaded once for every worker.
        let engine = Arc::new(
            apitap_analyzer::payload::PayloadDetector::new(opts.config.payload.engine())
                .map_err(|e| anyhow::anyhow!("analyzer: {e}"))?,
        );
        let intel = if opts.config.threat_intel.lists.is_empty() {
            None
        } else {
            let (ti, events) = ThreatIntel::load(&opts.config.threat_intel)
                .map_err(|e| anyhow::anyhow!("analyzer: {e}"))?;
            log_intel(&events);
            Some(ti)
        };
        // Check the configuration once, before any thread starts.
        Analyzer::with_shared(opts.config.clone(), engine.clone(), intel.clone())
            .map_err(|e| anyhow::anyhow!("analyzer: {e}"))?;
        let out: Option<Box<dyn std::io::Write + Send>> = match &opts.sink {
            AlertSink::None => None,
            AlertSink::Stdout => Some(Box::new(std::io::stdout())),
            AlertSink::File(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                Some(Box::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("creating {}", p.display()))?,
                ))
            }
        };
        let (alert_tx, alert_rx) = bounded::<Alert>(opts.channel_capacity.max(1));
        let sorted = opts.sorted;
        let dedupe_window = opts.config.alerts.dedupe_secs.saturating_mul(1_000_000_000);
        let writer = std::thread::Builder::new()
            .name("apitap-alerts".into())
            .spawn(move || write_alerts(alert_rx, out, sorted, dedupe_window))?;
        let n = opts.workers.max(1);
        let snapshot_path = opts
            .baseline
            .clone()
            .or(opts.config.baseline.snapshot_path.clone());
        let (loaded, rejected) = match &snapshot_path {
            None => (None, false),
            Some(p) => match load_snapshot(p) {
                Ok(Some(s)) => {
                    tracing::info!(path = %p.display(), actors = s.sources.len(), endpoints = s.endpoints.len(), learned_secs = s.learned_ns / 1_000_000_000, "baseline snapshot loaded");
                    (Some(s), false)
                }
                Ok(None) => {
                    tracing::info!(path = %p.display(), "no baseline snapshot yet: learning from scratch");
                    (None, false)
                }
                Err(e) => {
                    tracing::warn!(path = %p.display(), "{e}; learning from scratch (the file is replaced at the next snapshot)");
                    (None, true)
                }
            },
        };
        let (snap_tx, snap_rx) = bounded::<(u64, Snapshot)>(2 * n);
        let snapshots = match snapshot_path.clone() {
            Some(p) => Some(
                std::thread::Builder::new()
                    .name("apitap-baseline".into())
                    .spawn(move || write_snapshots(snap_rx, n, p))?,
            ),
            None => {
                drop(snap_rx);
                None
            }
        };
        let mut shards = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = bounded::<Msg>(opts.channel_capacity.max(1));
            let mut analyzer =
                Analyzer::with_shared(opts.config.clone(), engine.clone(), intel.clone())
                    .map_err(|e| anyhow::anyhow!("analyzer: {e}"))?;
            analyzer.set_alerting(opts.alerting);
            if let Some(s) = &loaded {
                analyzer.restore(s.part_for(n, |ip| shard_of_ip(ip, n) == i));
            }
            if rejected {
                analyzer.snapshot_rejected();
            }
            let alert_tx = alert_tx.clone();
            let snap_tx = snapshots.as_ref().map(|_| snap_tx.clone());
            workers.push(
                std::thread::Builder::new()
                    .name(format!("apitap-analyzer-{i}"))
                    .spawn(move || {
                        let mut alerts = Vec::new();
                        for msg in rx {
                            match msg {
                                Msg::Record(rec) => analyzer.observe(&rec, &mut alerts),
                                Msg::Snapshot(tick) => {
                                    if let Some(tx) = &snap_tx {
                                        let _ = tx.send((tick, analyzer.snapshot()));
                                    }
                                }
                            }
                            for a in alerts.drain(..) {
                                // Alerts are few; waiting here never reaches the capture thread
                                // (it only ever try-sends to this worker under `drop`).
                                let _ = alert_tx.send(a);
                            }
                        }
                        analyzer.flush(&mut alerts);
                        for a in alerts.drain(..) {
                            let _ = alert_tx.send(a);
                        }
                        if let Some(tx) = &snap_tx {
                            let _ = tx.send((u64::MAX, analyzer.snapshot()));
                        }
                        analyzer.stats()
                    })?,
            );
            shards.push(tx);
        }
        let reloader = match &intel {
            Some(ti) if opts.reload_lists => {
                let secs = opts.config.threat_intel.reload_check_secs;
                Some(spawn_reloader(
                    ti.clone(),
                    (secs > 0).then(|| Duration::from_secs(secs)),
                )?)
            }
            _ => None,
        };
        let interval = opts.config.baseline.snapshot_interval_secs;
        Ok(Analysis {
            shards,
            workers,
            writer,
            tick_ns: if snapshots.is_some() {
                interval.saturating_mul(1_000_000_000)
            } else {
                0
            },
            snapshots,
            next_tick: 0,
            tick: 0,
            ticks_missed: 0,
            policy,
            offered: 0,
            dropped: 0,
            intel,
            reloader,
        })
    }

    /// Hands a record to its shard (after a snapshot tick to every shard when the record's
    /// packet time has passed the next one).
    pub fn offer(&mut self, rec: Arc<RequestRecord>) {
        self.offered += 1;
        if self.tick_ns > 0 {
            if self.next_tick == 0 {
                self.next_tick = rec.timestamp.saturating_add(self.tick_ns);
            } else if rec.timestamp >= self.next_tick {
                self.tick += 1;
                while self.next_tick <= rec.timestamp {
                    self.next_tick = self.next_tick.saturating_add(self.tick_ns);
                }
                for tx in &self.shards {
                    let ok = match self.policy {
                        FullPolicy::Block => tx.send(Msg::Snapshot(self.tick)).is_ok(),
                        FullPolicy::Drop => tx.try_send(Msg::Snapshot(self.tick)).is_ok(),
                    };
                    self.ticks_missed += u64::from(!ok);
                }
            }
        }
        let tx = &self.shards[shard_of(&rec, self.shards.len())];
        match self.policy {
            FullPolicy::Block => {
                if tx.send(Msg::Record(rec)).is_err() {
                    self.dropped += 1;
                }
            }
            FullPolicy::Drop => match tx.try_send(Msg::Record(rec)) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.dropped += 1,
            },
        }
    }

    /// Counters so far (for periodic metrics) — worker figures arrive at [`Analysis::finish`].
    pub fn offered(&self) -> (u64, u64) {
        (self.offered, self.dropped)
    }

    /// Drains the workers and the writer.
    pub fn finish(self) -> AnalysisSummary {
        let Analysis {
            shards,
            workers,
            writer,
            snapshots,
            ticks_missed,
            offered,
            dropped,
            intel,
            reloader,
            ..
        } = self;
        if let Some((stop, h)) = reloader {
            stop.store(true, Ordering::Relaxed);
            let _ = h.join();
        }
        let n = shards.len();
        drop(shards);
        let mut s = AnalysisSummary {
            workers: n,
            records_offered: offered,
            records_dropped_channel_full: dropped,
            ..Default::default()
        };
        for w in workers {
            let Ok(st) = w.join() else {
                continue;
            };
            s.records_analyzed += st.records;
            s.login_attempts += st.login_attempts;
            s.failed_logins += st.failed_logins;
            s.templates.merge(&st.templates);
            s.actors_evicted += st.actors_evicted + st.alerts.open_evicted;
            if intel.is_some() {
                s.threat_intel
                    .get_or_insert_with(Default::default)
                    .merge(&st.threat_intel);
            }
            s.alert_candidates += st.alerts.candidates;
            s.alerts_emitted += st.alerts.emitted;
            s.alerts_deduplicated += st.alerts.deduplicated;
            s.alerts_suppressed += st.alerts.suppressed;
            s.alerts_dropped_rate_cap += st.alerts.dropped_rate_cap;
            s.payload.merge(&st.payload);
            s.stuffing.merge(&st.credential_stuffing);
            for (k, v) in st.alerts.by_category {
                *s.alerts_by_category.entry(k).or_default() += v;
            }
            let b = st.baseline;
            s.baseline_learned_secs = s.baseline_learned_secs.max(b.learned_secs);
            s.baseline_warm |= b.warm;
            s.baseline_endpoints += b.endpoints;
            s.baseline_identities += b.identities;
            s.baseline_endpoints_evicted += b.endpoints_evicted;
            s.baseline_identities_evicted += b.identities_evicted;
            s.baseline_fingerprint_changes += b.fingerprint_changes;
            // Every worker loads (or refuses) the same file: count it once.
            s.baseline_snapshots_loaded = s.baseline_snapshots_loaded.max(b.snapshots_loaded);
            s.baseline_snapshots_rejected = s.baseline_snapshots_rejected.max(b.snapshots_rejected);
        }
        s.baseline_snapshot_ticks_missed = ticks_missed;
        if let Some(Ok(r)) = snapshots.map(JoinHandle::join) {
            s.baseline_snapshots_written = r.written;
            s.baseline_snapshot_write_errors = r.failed;
        }
        if let Ok(w) = writer.join() {
            s.alerts_written = w.written;
            s.alerts_dropped_write_error = w.failed;
            s.top_actors = w.top_actors;
            for (cat, n) in w.folded {
                s.alerts_emitted -= n;
                s.alerts_deduplicated += n;
                if let Some(c) = s.alerts_by_category.get_mut(&cat) {
                    *c -= n;
                }
            }
        }
        s
    }
}

/// Alerts from different workers about the same thing (an address whose anonymous and
/// authenticated requests went to two workers) are folded here: the first alert for a
/// (category, actor, endpoint) is written, repeats within the dedupe window of packet time are
/// counted and dropped, as each worker's own alert manager does.
struct CrossWorkerDedupe {
    window: u64,
    last: HashMap<(apitap_proto::Category, Arc<str>, Option<String>), u64>,
    folded: BTreeMap<String, u64>,
}

impl CrossWorkerDedupe {
    const MAX_KEYS: usize = 100_000;

    fn keep(&mut self, a: &Alert) -> bool {
        let key = (
            a.apitap.category,
            a.apitap.actor.clone(),
            a.apitap.endpoint.clone(),
        );
        if let Some(&t) = self.last.get(&key) {
            if a.timestamp.abs_diff(t) < self.window {
                *self
                    .folded
                    .entry(a.apitap.category.as_str().to_string())
                    .or_default() += 1;
                return false;
            }
        }
        if self.last.len() >= Self::MAX_KEYS {
            let (now, w) = (a.timestamp, self.window);
            self.last.retain(|_, t| now.abs_diff(*t) < w);
        }
        self.last.insert(key, a.timestamp);
        true
    }
}

/// Collects the workers' parts per tick; a tick with all `n` parts is merged and written
/// (older incomplete ticks are dropped: a newer complete one covers them).
fn write_snapshots(rx: Receiver<(u64, Snapshot)>, n: usize, path: PathBuf) -> SnapshotResult {
    let mut pending: BTreeMap<u64, Vec<Snapshot>> = BTreeMap::new();
    let (mut written, mut failed) = (0u64, 0u64);
    for (tick, part) in rx {
        let parts = pending.entry(tick).or_default();
        parts.push(part);
        if parts.len() < n {
            continue;
        }
        let parts = pending.remove(&tick).unwrap_or_default();
        pending.retain(|t, _| *t > tick);
        let whole = Snapshot::merge(parts);
        match save_snapshot(&path, &whole) {
            Ok(()) => {
                written += 1;
                tracing::debug!(path = %path.display(), tick, "baseline snapshot written");
            }
            Err(e) => {
                failed += 1;
                tracing::error!("baseline snapshot: {e:#}");
            }
        }
    }
    SnapshotResult { written, failed }
}

fn write_alerts(
    rx: Receiver<Alert>,
    out: Option<Box<dyn std::io::Write + Send>>,
    sorted: bool,
    dedupe_window: u64,
) -> WriterResult {
    let mut w = out.map(|o| std::io::BufWriter::with_capacity(64 * 1024, o));
    let (mut written, mut failed) = (0u64, 0u64);
    let mut per_actor: BTreeMap<String, u64> = BTreeMap::new();
    let mut dedupe = CrossWorkerDedupe {
        window: dedupe_window,
        last: HashMap::new(),
        folded: BTreeMap::new(),
    };
    let mut held = Vec::new();
    let mut write_one =
        |a: &Alert, w: &mut Option<std::io::BufWriter<Box<dyn std::io::Write + Send>>>| {
            *per_actor.entry(a.apitap.actor.to_string()).or_default() += 1;
            if let Some(w) = w {
                if serde_json::to_writer(&mut *w, a).is_ok() && w.write_all(b"\n").is_ok() {
                    written += 1;
                } else {
                    failed += 1;
                }
            }
        };
    for a in rx {
        if sorted {
            held.push(a);
        } else if dedupe.keep(&a) {
            write_one(&a, &mut w);
            if let Some(w) = &mut w {
                let _ = w.flush();
            }
        }
    }
    held.sort_by(|a, b| {
        (a.timestamp, &a.rule.id, &a.apitap.actor, &a.apitap.endpoint).cmp(&(
            b.timestamp,
            &b.rule.id,
            &b.apitap.actor,
            &b.apitap.endpoint,
        ))
    });
    for a in &held {
        if dedupe.keep(a) {
            write_one(a, &mut w);
        }
    }
    if let Some(w) = &mut w {
        if w.flush().is_err() {
            tracing::error!("flushing the alerts output failed");
        }
    }
    let mut top: Vec<(String, u64)> = per_actor.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(10);
    WriterResult {
        written,
        failed,
        top_actors: top,
        folded: dedupe.folded,
    }
}
