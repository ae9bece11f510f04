//! The run loop: the capture thread pulls packets from a source into the [`Engine`] and
//! hands records to the writer thread and (when alerts are asked for) to the analysis
//! workers over bounded crossbeam channels. With the `drop` policy capture never waits: a
//! full channel drops the record for that consumer and counts it.

use crate::analysis::{Analysis, AnalysisOptions};
use crate::config::FullPolicy;
use crate::decode::{SkipReason, TunnelKind};
use crate::engine::Engine;
use crate::flow::CloseReason;
use crate::source::{Next, PacketSource};
use crate::summary::{RecordCounters, Summary};
use anyhow::{Context as _, Result};
use apitap_proto::RequestRecord;
use crossbeam_channel::{bounded, Sender, TrySendError};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where records go.
#[derive(Debug, Clone)]
pub enum RecordSink {
    /// Built, then discarded (benchmarks; analysis-only runs).
    None,
    Stdout,
    File(PathBuf),
}

pub struct RunOptions {
    pub records: RecordSink,
    pub full_policy: FullPolicy,
    pub channel_capacity: usize,
    /// Pace packets at capture speed (replay).
    pub realtime: bool,
    pub progress: bool,
    /// Rewrite this file with Prometheus metrics every `metrics_interval` and at the end.
    pub metrics_path: Option<PathBuf>,
    pub metrics_interval: Duration,
    /// Set by SIGINT/SIGTERM.
    pub stop: Arc<AtomicBool>,
    /// Stop after this many packets (tcpdump's `-c`).
    pub max_packets: Option<u64>,
    /// Stop after this much wall-clock time (live capture).
    pub max_duration: Option<Duration>,
    /// Run the analyzer on the records (alerts).
    pub analysis: Option<AnalysisOptions>,
}

struct Writer {
    tx: Sender<Arc<RequestRecord>>,
    handle: JoinHandle<(u64, u64)>,
}

fn spawn_writer(sink: &RecordSink, capacity: usize) -> Result<Option<Writer>> {
    let out: Box<dyn std::io::Write + Send> = match sink {
        RecordSink::None => return Ok(None),
        RecordSink::Stdout => Box::new(std::io::stdout()),
        RecordSink::File(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
    };
    let (tx, rx) = bounded::<Arc<RequestRecord>>(capacity);
    let handle = std::thread::Builder::new()
        .name("apitap-records".into())
        .spawn(move || {
            let mut w = std::io::BufWriter::with_capacity(256 * 1024, out);
            let (mut written, mut failed) = (0u64, 0u64);
            for rec in rx {
                let ok = serde_json::to_writer(&mut w, &*rec).is_ok() && w.write_all(b"\n").is_ok();
                if ok {
                    written += 1;
                } else {
                    failed += 1;
                }
            }
            if w.flush().is_err() {
                tracing::error!("flushing the records output failed");
            }
            (written, failed)
        })?;
    Ok(Some(Writer { tx, handle }))
}

/// Runs a source to its end (or until `stop`), returning the summary.
pub fn run(
    mut source: Box<dyn PacketSource>,
    mut engine: Engine,
    mut opts: RunOptions,
) -> Result<Summary> {
    let started = Instant::now();
    let writer = spawn_writer(&opts.records, opts.channel_capacity)?;
    let mut analysis = match opts.analysis.take() {
        Some(a) => Some(Analysis::start(a, opts.full_policy)?),
        None => None,
    };
    let mut records = RecordCounters::default();
    let progress = progress_bar(opts.progress, source.as_ref());
    let mut pace: Option<(Instant, u64)> = None;
    let mut last_metrics = Instant::now();
    // Wall time of the last idle read that followed packets (reading the clock per packet
    // would cost more than the packet).
    let mut last_packet_wall = Instant::now();
    let mut saw_packet = false;
    let mut n: u64 = 0;
    loop {
        if opts.stop.load(Ordering::Relaxed) {
            tracing::info!("stop requested");
            break;
        }
        if opts
            .max_packets
            .is_some_and(|m| engine.counters.packets >= m)
            || opts.max_duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        match source.next_packet()? {
            Next::Packet(p) => {
                if opts.realtime {
                    let (wall0, ts0) = *pace.get_or_insert((Instant::now(), p.ts_ns));
                    let due = wall0 + Duration::from_nanos(p.ts_ns.saturating_sub(ts0));
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                }
                engine.packet(&p);
                saw_packet = true;
            }
            Next::Idle => {
                // Live capture and no traffic: let packet time run on with the wall clock
                // so idle flows still expire.
                if saw_packet {
                    saw_packet = false;
                    last_packet_wall = Instant::now();
                } else if engine.now_ns() > 0 {
                    let idle = last_packet_wall.elapsed().as_nanos() as u64;
                    engine.tick(engine.now_ns().saturating_add(idle));
                    last_packet_wall = Instant::now();
                }
            }
            Next::End => break,
        }
        deliver(
            &mut engine,
            writer.as_ref(),
            analysis.as_mut(),
            opts.full_policy,
            &mut records,
        );
        n += 1;
        if n.is_multiple_of(8192) || (opts.metrics_path.is_some() && n.is_multiple_of(64)) {
            if let (Some(pb), Some((done, _))) = (&progress, source.progress()) {
                pb.set_position(done);
            }
            if let Some(path) = &opts.metrics_path {
                if last_metrics.elapsed() >= opts.metrics_interval {
                    let s = summarize(&engine, source.as_mut(), &records, None, started);
                    write_metrics(path, &s);
                    last_metrics = Instant::now();
                }
            }
        }
    }
    engine.finish();
    deliver(
        &mut engine,
        writer.as_ref(),
        analysis.as_mut(),
        opts.full_policy,
        &mut records,
    );
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    if let Some(w) = writer {
        drop(w.tx);
        let (written, failed) = w.handle.join().unwrap_or((0, 0));
        records.written = written;
        records.dropped_write_error += failed;
    }
    let analysis = analysis.map(Analysis::finish);
    let summary = summarize(&engine, source.as_mut(), &records, analysis, started);
    if let Some(path) = &opts.metrics_path {
        write_metrics(path, &summary);
    }
    Ok(summary)
}

fn deliver(
    engine: &mut Engine,
    writer: Option<&Writer>,
    mut analysis: Option<&mut Analysis>,
    policy: FullPolicy,
    c: &mut RecordCounters,
) {
    if engine.ctx.records.is_empty() {
        return;
    }
    c.built += engine.ctx.records.len() as u64;
    if writer.is_none() && analysis.is_none() {
        engine.ctx.records.clear();
        return;
    }
    for rec in engine.ctx.records.drain(..) {
        let rec = Arc::new(rec);
        if let Some(a) = analysis.as_deref_mut() {
            a.offer(rec.clone());
        }
        let Some(w) = writer else {
            continue;
        };
        match policy {
            FullPolicy::Block => {
                if w.tx.send(rec).is_err() {
                    c.dropped_write_error += 1;
                }
            }
            FullPolicy::Drop => match w.tx.try_send(rec) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => c.dropped_channel_full += 1,
                Err(TrySendError::Disconnected(_)) => c.dropped_write_error += 1,
            },
        }
    }
}

fn summarize(
    engine: &Engine,
    source: &mut dyn PacketSource,
    records: &RecordCounters,
    analysis: Option<crate::analysis::AnalysisSummary>,
    started: Instant,
) -> Summary {
    let to = |v: serde_json::Result<serde_json::Value>| v.unwrap_or(serde_json::Value::Null);
    Summary {
        packets: to(serde_json::to_value(&engine.counters)),
        capture: source.drops().map(|d| {
            serde_json::json!({
                "received": d.received,
                "kernel_dropped": d.kernel_dropped,
                "interface_dropped": d.interface_dropped,
            })
        }),
        decode: named_arrays(
            to(serde_json::to_value(engine.decoder().stats())),
            &[
                ("skipped", &SkipReason::ALL.map(SkipReason::as_str)),
                ("tunnels", &TunnelKind::ALL.map(TunnelKind::as_str)),
            ],
        ),
        flow: named_arrays(
            to(serde_json::to_value(engine.flows().stats())),
            &[(
                "flows_closed_by_reason",
                &CloseReason::ALL.map(CloseReason::as_str),
            )],
        ),
        http: to(serde_json::to_value(engine.http_stats())),
        anomalies: engine
            .ctx
            .anomalies
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        records: records.clone(),
        analysis,
        elapsed_secs: started.elapsed().as_secs_f64(),
    }
}

/// Turns counter arrays indexed by an enum into objects keyed by the enum's names.
fn named_arrays(mut v: serde_json::Value, names: &[(&str, &[&'static str])]) -> serde_json::Value {
    for (field, labels) in names {
        if let Some(serde_json::Value::Array(a)) = v.get(*field) {
            let obj: serde_json::Map<String, serde_json::Value> = labels
                .iter()
                .zip(a.iter())
                .map(|(k, n)| (k.to_string(), n.clone()))
                .collect();
            v[*field] = serde_json::Value::Object(obj);
        }
    }
    v
}

fn write_metrics(path: &PathBuf, s: &Summary) {
    let tmp = path.with_extension("prom.tmp");
    let ok = std::fs::write(&tmp, s.render_prometheus()).and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = ok {
        tracing::warn!(path = %path.display(), error = %e, "writing metrics failed");
    }
}

fn progress_bar(enabled: bool, source: &dyn PacketSource) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let (_, total) = source.progress()?;
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} replay [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    Some(pb)
}
