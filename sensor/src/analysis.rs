//! Analysis stage: records fan out from the capture thread to N analyzer workers, sharded by
//! source address over bounded crossbeam channels; each worker owns one
//! [`apitap_analyzer::Analyzer`] (its shard's state, no locks) and sends the alerts it raises
//! to one alert-writer thread.
//!
//! Sharding by source address keeps every per-source detector exact within one worker.
//! What spans sources (one identity or account used from many addresses, endpoint-wide
//! floods) is seen per shard only; a second keyed stage is the planned answer.
//!
//! Capture never waits on analysis with the `drop` policy: a full shard channel drops the
//! record for analysis (it is still written) and counts it. In replay the alerts are written
//! sorted by time, rule and actor when the run ends, so a replay gives byte-identical alert
//! files; live, they are written as they come.

use crate::config::FullPolicy;
use anyhow::{Context as _, Result};
use apitap_analyzer::config::AnalyzerConfig;
use apitap_analyzer::{Analyzer, AnalyzerStats};
use apitap_proto::{Alert, RequestRecord};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

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
    pub templates_tracked: u64,
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
    /// The sources with the most alerts: (actor, alerts), most first (at most 10).
    #[serde(skip)]
    pub top_actors: Vec<(String, u64)>,
}

struct WriterResult {
    written: u64,
    failed: u64,
    top_actors: Vec<(String, u64)>,
}

pub struct Analysis {
    shards: Vec<Sender<Arc<RequestRecord>>>,
    workers: Vec<JoinHandle<AnalyzerStats>>,
    writer: JoinHandle<WriterResult>,
    policy: FullPolicy,
    offered: u64,
    dropped: u64,
}

fn shard_of(ip: std::net::IpAddr, n: usize) -> usize {
    let h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(ip);
    (h % n as u64) as usize
}

impl Analysis {
    pub fn start(opts: AnalysisOptions, policy: FullPolicy) -> Result<Analysis> {
        // The payload engines are compiled once and shared (they are immutable); the
        // configuration is checked once, before any thread starts.
        let engine = Arc::new(
            apitap_analyzer::payload::PayloadDetector::new(opts.config.payload.engine())
                .map_err(|e| anyhow::anyhow!("analyzer: {e}"))?,
        );
        Analyzer::with_payload_engine(opts.config.clone(), engine.clone())
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
        let writer = std::thread::Builder::new()
            .name("apitap-alerts".into())
            .spawn(move || write_alerts(alert_rx, out, sorted))?;
        let n = opts.workers.max(1);
        let mut shards = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = bounded::<Arc<RequestRecord>>(opts.channel_capacity.max(1));
            let mut analyzer = Analyzer::with_payload_engine(opts.config.clone(), engine.clone())
                .map_err(|e| anyhow::anyhow!("analyzer: {e}"))?;
            let alert_tx = alert_tx.clone();
            workers.push(
                std::thread::Builder::new()
                    .name(format!("apitap-analyzer-{i}"))
                    .spawn(move || {
                        let mut alerts = Vec::new();
                        for rec in rx {
                            analyzer.observe(&rec, &mut alerts);
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
                        analyzer.stats()
                    })?,
            );
            shards.push(tx);
        }
        Ok(Analysis {
            shards,
            workers,
            writer,
            policy,
            offered: 0,
            dropped: 0,
        })
    }

    /// Hands a record to its shard.
    pub fn offer(&mut self, rec: Arc<RequestRecord>) {
        self.offered += 1;
        let tx = &self.shards[shard_of(rec.source.ip, self.shards.len())];
        match self.policy {
            FullPolicy::Block => {
                if tx.send(rec).is_err() {
                    self.dropped += 1;
                }
            }
            FullPolicy::Drop => match tx.try_send(rec) {
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
            offered,
            dropped,
            ..
        } = self;
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
            s.templates_tracked += st.templates.positions_tracked;
            s.actors_evicted += st.actors_evicted + st.alerts.open_evicted;
            s.alert_candidates += st.alerts.candidates;
            s.alerts_emitted += st.alerts.emitted;
            s.alerts_deduplicated += st.alerts.deduplicated;
            s.alerts_suppressed += st.alerts.suppressed;
            s.alerts_dropped_rate_cap += st.alerts.dropped_rate_cap;
            s.payload.merge(&st.payload);
            for (k, v) in st.alerts.by_category {
                *s.alerts_by_category.entry(k).or_default() += v;
            }
        }
        if let Ok(w) = writer.join() {
            s.alerts_written = w.written;
            s.alerts_dropped_write_error = w.failed;
            s.top_actors = w.top_actors;
        }
        s
    }
}

fn write_alerts(
    rx: Receiver<Alert>,
    out: Option<Box<dyn std::io::Write + Send>>,
    sorted: bool,
) -> WriterResult {
    let mut w = out.map(|o| std::io::BufWriter::with_capacity(64 * 1024, o));
    let (mut written, mut failed) = (0u64, 0u64);
    let mut per_actor: BTreeMap<String, u64> = BTreeMap::new();
    let mut held = Vec::new();
    let mut write_one =
        |a: &Alert, w: &mut Option<std::io::BufWriter<Box<dyn std::io::Write + Send>>>| {
            if let Some(w) = w {
                if serde_json::to_writer(&mut *w, a).is_ok() && w.write_all(b"\n").is_ok() {
                    written += 1;
                } else {
                    failed += 1;
                }
            }
        };
    for a in rx {
        *per_actor.entry(a.apitap.actor.to_string()).or_default() += 1;
        if sorted {
            held.push(a);
        } else {
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
        write_one(a, &mut w);
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
    }
}
