//! The `apitap` command: replay capture files or capture live, write exchange records and
//! alerts, print the summary.

#![forbid(unsafe_code)]

use anyhow::{Context as _, Result};
use apitap_sensor::analysis::{AlertSink, AnalysisOptions};
use apitap_sensor::config::{default_key_file, FullPolicy, SensorConfig};
use apitap_sensor::engine::Engine;
use apitap_sensor::pipeline::{self, RecordSink, RunOptions};
use apitap_sensor::record::{RecordBuilder, RecordOptions};
use apitap_sensor::redact::{load_or_create_key, RedactMode, Redactor};
use apitap_sensor::source::{self, LiveOptions, LiveSource};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// mimalloc: the sensor allocates and frees small buffers per exchange (records, header
/// values, body prefixes); glibc's malloc took about 5 % of a replay, mimalloc about half.
/// Its v2 line (the `v2` feature): the crate asks for every block by alignment, and v3 serves
/// an aligned request whose size is not a power of two by over-allocating it into another
/// size class once the page's free list runs dry (about 3 of the analyzer's 5 allocations
/// per record took that path); v2 knows any alignment up to 16 is already met.
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// apitap: a passive API-security sensor. Rebuilds HTTP API exchanges from mirrored
/// packets (SPAN, tap, cloud traffic mirroring) or from capture files, and writes one
/// ECS-shaped JSON record per request/response exchange. It never sends a packet.
#[derive(Parser, Debug)]
#[command(name = "apitap", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Replay pcap/pcapng files (several are merged in timestamp order).
    #[command(visible_alias = "read")]
    Replay(ReplayArgs),
    /// Capture live from an interface (SPAN/tap port or mirroring target).
    Capture(CaptureArgs),
    /// Learn baselines from capture files (alerting off) and write the snapshot that
    /// `replay`/`capture --baseline PATH` start from. An existing snapshot at PATH is
    /// loaded first and learned on.
    Learn(LearnArgs),
}

#[derive(Args, Debug)]
struct LearnArgs {
    /// Capture files (pcap or pcapng; several are merged in timestamp order).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Snapshot to write (and to start from when it exists).
    #[arg(long, value_name = "PATH")]
    baseline: PathBuf,
    /// Analyzer worker threads [default: pipeline.analyzer_workers, 2].
    #[arg(long, value_name = "N")]
    analyzer_workers: Option<usize>,
    /// Configuration file (TOML; see deploy/apitap.toml).
    #[arg(short = 'C', long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Per-deployment key for keyed hashes (identities are learned by their hash: use the
    /// key the sensor uses).
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// Also write the final summary as JSON to PATH.
    #[arg(long, value_name = "PATH")]
    summary_json: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Do not print the summary.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct Common {
    /// Write exchange records as JSON lines to PATH ('-' for stdout).
    #[arg(short = 'w', long = "records", value_name = "PATH|-")]
    records: Option<String>,
    /// Run the analyzer and write alerts as JSON lines to PATH ('-' for stdout).
    #[arg(short = 'a', long = "alerts", value_name = "PATH|-")]
    alerts: Option<String>,
    /// Analyzer worker threads [default: pipeline.analyzer_workers, 2].
    #[arg(long, value_name = "N")]
    analyzer_workers: Option<usize>,
    /// Baseline snapshot: loaded at start (no warm-up needed), rewritten periodically and at
    /// the end [default: analyzer.baseline.snapshot_path]. Runs the analyzer even without
    /// --alerts.
    #[arg(long, value_name = "PATH")]
    baseline: Option<PathBuf>,
    /// Configuration file (TOML; see deploy/apitap.toml).
    #[arg(short = 'C', long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// How secrets are written: keyed hashes, or clear text (lab use only).
    #[arg(long, value_enum, value_name = "MODE")]
    redact: Option<RedactMode>,
    /// Per-deployment key for keyed hashes (created if missing).
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// Write masked body prefixes into records.
    #[arg(long)]
    write_bodies: bool,
    /// Write Prometheus metrics to PATH (rewritten periodically and at the end).
    #[arg(long, value_name = "PATH")]
    metrics: Option<PathBuf>,
    /// Also write the final summary as JSON to PATH.
    #[arg(long, value_name = "PATH")]
    summary_json: Option<PathBuf>,
    /// What to do when the record channel is full [default: drop live, block in replay].
    #[arg(long, value_enum, value_name = "POLICY")]
    on_full: Option<FullPolicy>,
    /// Stop after COUNT packets.
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    count: Option<u64>,
    /// Do not print the summary.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct ReplayArgs {
    /// Capture files (pcap or pcapng).
    #[arg(value_name = "FILE", required_unless_present = "read")]
    files: Vec<PathBuf>,
    /// Capture file (tcpdump style; may repeat).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    read: Vec<PathBuf>,
    /// Pace packets at the speed they were captured.
    #[arg(long)]
    realtime: bool,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug)]
struct CaptureArgs {
    /// Interface to capture on.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    interface: String,
    /// BPF capture filter, e.g. 'tcp port 80 or tcp port 8080'.
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    filter: Option<String>,
    /// Bytes captured per packet.
    #[arg(short = 's', long, default_value_t = 262_144, value_name = "N")]
    snaplen: i32,
    /// Kernel capture buffer, MiB.
    #[arg(
        short = 'B',
        long = "buffer-mb",
        default_value_t = 64,
        value_name = "N"
    )]
    buffer_mb: i32,
    /// Do not put the interface in promiscuous mode.
    #[arg(short = 'p', long)]
    no_promisc: bool,
    /// Stop after SECS seconds.
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
    #[command(flatten)]
    common: Common,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("APITAP_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("apitap: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    match cli.command {
        Command::Replay(a) => {
            let mut files = a.read.clone();
            files.extend(a.files.iter().cloned());
            let src = source::open_files(&files)?;
            execute(
                src,
                &a.common,
                FullPolicy::Block,
                a.realtime,
                !a.no_progress,
                None,
                true,
                stop,
            )
        }
        Command::Learn(a) => {
            let src = source::open_files(&a.files)?;
            let common = Common {
                records: None,
                alerts: None,
                analyzer_workers: a.analyzer_workers,
                baseline: Some(a.baseline.clone()),
                config: a.config.clone(),
                redact: None,
                key_file: a.key_file.clone(),
                write_bodies: false,
                metrics: None,
                summary_json: a.summary_json.clone(),
                on_full: None,
                count: None,
                quiet: a.quiet,
            };
            execute(
                src,
                &common,
                FullPolicy::Block,
                false,
                !a.no_progress,
                None,
                false,
                stop,
            )
        }
        Command::Capture(a) => {
            let src = LiveSource::open(&LiveOptions {
                interface: a.interface.clone(),
                bpf: a.filter.clone(),
                snaplen: a.snaplen,
                buffer_bytes: a.buffer_mb.saturating_mul(1024 * 1024),
                promisc: !a.no_promisc,
                read_timeout_ms: 200,
            })?;
            tracing::info!(interface = %a.interface, "capturing");
            let dur = a.duration.map(Duration::from_secs);
            execute(
                Box::new(src),
                &a.common,
                FullPolicy::Drop,
                false,
                false,
                dur,
                true,
                stop,
            )
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn execute(
    src: Box<dyn source::PacketSource>,
    c: &Common,
    default_policy: FullPolicy,
    realtime: bool,
    progress: bool,
    max_duration: Option<Duration>,
    alerting: bool,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    // Replays (lossless by default) write alerts in a stable order at the end; live capture
    // (drop by default) streams them.
    let sorted_alerts = default_policy == FullPolicy::Block;
    let mut cfg = match &c.config {
        Some(p) => SensorConfig::load(p)?,
        None => SensorConfig::default(),
    };
    if let Some(m) = c.redact {
        cfg.redaction.mode = m;
    }
    if c.write_bodies {
        cfg.records.write_bodies = true;
    }
    if let Some(n) = c.analyzer_workers {
        cfg.pipeline.analyzer_workers = n;
    }
    cfg.validate()?;
    let key = match cfg.redaction.mode {
        RedactMode::None => {
            tracing::warn!("redaction is off: secrets are written in clear (lab use only)");
            [0u8; 32]
        }
        RedactMode::Hash => {
            let path = c
                .key_file
                .clone()
                .or(cfg.redaction.key_file.clone())
                .unwrap_or_else(default_key_file);
            load_or_create_key(&path)?
        }
    };
    let baseline = c
        .baseline
        .clone()
        .or(cfg.analyzer.baseline.snapshot_path.clone());
    // The analyzer runs for alerts, and to keep a baseline snapshot learning.
    let analyze = c.alerts.is_some() || baseline.is_some();
    if !analyze && !cfg.records.write_bodies {
        // Body prefixes are kept for the analyzers and for written bodies only: without
        // either, bodies are still counted and decoded, but no bytes are kept.
        cfg.http.body_capture_bytes = 0;
    }
    let builder = RecordBuilder {
        redactor: Redactor::new(cfg.redaction.mode, key),
        options: RecordOptions {
            // The analyzers read headers and body prefixes; nothing else does.
            with_extras: analyze,
            write_bodies: cfg.records.write_bodies,
            written_body_bytes: cfg.records.written_body_bytes,
        },
    };
    let records = match c.records.as_deref() {
        None => RecordSink::None,
        Some("-") => RecordSink::Stdout,
        Some(p) => RecordSink::File(PathBuf::from(p)),
    };
    let analysis = analyze.then(|| AnalysisOptions {
        config: cfg.analyzer.clone(),
        workers: cfg.pipeline.analyzer_workers,
        channel_capacity: cfg.pipeline.channel_capacity,
        sink: match c.alerts.as_deref() {
            None => AlertSink::None,
            Some("-") => AlertSink::Stdout,
            Some(p) => AlertSink::File(PathBuf::from(p)),
        },
        sorted: sorted_alerts,
        reload_lists: default_policy == FullPolicy::Drop,
        baseline,
        alerting,
    });
    let engine = Engine::new(&cfg, builder);
    let opts = RunOptions {
        records,
        full_policy: c
            .on_full
            .or(cfg.pipeline.full_policy)
            .unwrap_or(default_policy),
        channel_capacity: cfg.pipeline.channel_capacity,
        realtime,
        progress,
        metrics_path: c.metrics.clone(),
        metrics_interval: Duration::from_secs(cfg.pipeline.metrics_interval_secs.max(1)),
        stop,
        max_packets: c.count,
        max_duration,
        analysis,
    };
    let summary = pipeline::run(src, engine, opts)?;
    if let Some(p) = &c.summary_json {
        std::fs::write(p, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if !c.quiet {
        eprint!("{}", summary.render_text());
    }
    Ok(())
}
