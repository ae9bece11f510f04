//! Analyzer benchmark (release build; a measurement, not a test): prints records/s through
//! one `Analyzer` (one core, all detectors on) and the memory each tracked actor costs.
//!
//! 1. Throughput: the capture is replayed into records once (with the extras the analyzers
//!    read), then the records are fed to one analyzer `--passes` times (each pass shifted an
//!    hour later), timed.
//! 2. Memory per actor: `--actors` synthetic clients (distinct addresses, a login and three
//!    object reads each; each with its own identity, or none with `--anonymous`) are fed to a
//!    fresh analyzer sized to hold them all; the process's resident memory before and after,
//!    divided by the count, is the cost per client (per address with `--anonymous`).
//!
//! Usage: bench_analyzer --pcap out/bench/rest-250k.pcap [--passes 3] [--actors 1000000]

use apitap_analyzer::config::AnalyzerConfig;
use apitap_analyzer::Analyzer;
use apitap_proto::RequestRecord;
use apitap_sensor::config::SensorConfig;
use apitap_sensor::engine::Engine;
use apitap_sensor::record::{RecordBuilder, RecordOptions};
use apitap_sensor::redact::{RedactMode, Redactor};
use apitap_sensor::source::{self, Next};
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The allocator the `apitap` binary runs the analyzer with, so the figures are its figures.
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "bench_analyzer")]
struct Args {
    /// Capture to turn into records.
    #[arg(long)]
    pcap: PathBuf,
    /// Times the records are fed through the analyzer (time stamps shifted each pass).
    #[arg(long, default_value_t = 3)]
    passes: u32,
    /// Synthetic actors for the memory measurement (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    actors: u64,
    /// Also time the behaviour detectors alone (payload inspection off), the part issue 4's
    /// per-core target is about; payload inspection has its own benchmark (benches/payload.rs).
    #[arg(long)]
    behaviour_only: bool,
    /// Memory actors are bare addresses (no credentials) instead of clients that log in and
    /// carry an identity (an address and an identity: two tracked actors each).
    #[arg(long)]
    anonymous: bool,
    /// Entries of the payload engine's clean-value memo (default: the analyzer's default).
    #[arg(long)]
    memo_entries: Option<usize>,
}

fn records(pcap: &PathBuf) -> anyhow::Result<Vec<RequestRecord>> {
    let builder = RecordBuilder {
        redactor: Redactor::new(RedactMode::Hash, apitap_tests::TEST_KEY),
        options: RecordOptions {
            with_extras: true,
            ..Default::default()
        },
    };
    let mut engine = Engine::new(&SensorConfig::default(), builder);
    let mut src = source::open_files(std::slice::from_ref(pcap))?;
    let mut out = Vec::new();
    loop {
        match src.next_packet()? {
            Next::Packet(p) => engine.packet(&p),
            Next::Idle => {}
            Next::End => break,
        }
        out.append(&mut engine.ctx.records);
    }
    engine.finish();
    out.append(&mut engine.ctx.records);
    out.sort_by_key(|r| r.timestamp);
    Ok(out)
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let recs = records(&args.pcap)?;
    let span = recs.last().map_or(0, |r| r.timestamp) - recs.first().map_or(0, |r| r.timestamp);
    println!(
        "records: {} from {} ({:.0} s of traffic)",
        recs.len(),
        args.pcap.display(),
        span as f64 / 1e9
    );
    let mut cfg = AnalyzerConfig::default();
    cfg.payload.enabled = !args.behaviour_only;
    if let Some(n) = args.memo_entries {
        cfg.payload.clean_memo_entries = n;
    }
    let mut analyzer = Analyzer::new(cfg).map_err(anyhow::Error::msg)?;
    let mut alerts = Vec::new();
    let mut recs = recs;
    let mut busy = 0.0;
    let mut n = 0u64;
    for pass in 0..args.passes {
        if pass > 0 {
            // Each pass is a later hour of the same traffic (shifted outside the timing).
            for r in &mut recs {
                r.timestamp += span + 3_600_000_000_000;
            }
        }
        let t = Instant::now();
        for r in &recs {
            analyzer.observe(r, &mut alerts);
        }
        busy += t.elapsed().as_secs_f64();
        n += recs.len() as u64;
    }
    println!(
        "throughput: {n} records in {busy:.3} s = {:.0} records/s on one core ({}; {} alerts)",
        n as f64 / busy,
        if args.behaviour_only {
            "behaviour detectors, payload inspection off"
        } else {
            "all detectors"
        },
        alerts.len()
    );
    let st = analyzer.stats();
    println!("templates: {:?}", st.templates);
    println!(
        "payload: {} params examined, {} skipped as known clean, memo emptied {} times",
        st.payload.params_examined, st.payload.clean_memo_hits, st.payload.clean_memo_resets
    );

    if args.actors > 0 {
        let cfg = AnalyzerConfig {
            max_actors: args.actors as usize,
            ..Default::default()
        };
        let mut a = Analyzer::new(cfg).map_err(anyhow::Error::msg)?;
        let template = recs
            .iter()
            .find(|r| r.url.path.starts_with("/api/v1/users/"))
            .cloned()
            .unwrap_or_else(|| recs[0].clone());
        let login = recs
            .iter()
            .find(|r| r.url.path.contains("login"))
            .cloned()
            .unwrap_or_else(|| recs[0].clone());
        let before = rss_bytes();
        let t0 = template.timestamp;
        let mut alerts = Vec::new();
        for i in 0..args.actors {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000u32 + i as u32);
            for (k, base) in [&login, &template, &template, &template]
                .into_iter()
                .enumerate()
            {
                let mut r = base.clone();
                r.source.ip = ip.into();
                r.timestamp = t0 + i * 1_000 + k as u64;
                if k > 0 {
                    r.url.path = format!("/api/v1/users/{}", (i * 7 + k as u64) % 100_000);
                }
                if args.anonymous {
                    r.user = None;
                    r.apitap.identity = None;
                } else {
                    // The sensor puts the same keyed identity in both places.
                    let id: Arc<str> = Arc::from(format!("k1:{i:032x}"));
                    r.user = Some(apitap_proto::User { id: id.clone() });
                    if let Some(identity) = r.apitap.identity.as_mut() {
                        identity.id = id;
                    }
                }
                a.observe(&r, &mut alerts);
            }
        }
        let after = rss_bytes();
        let per = (after.saturating_sub(before)) as f64 / args.actors as f64;
        let stats = a.stats();
        println!(
            "memory: {} {} tracked (a login and three object reads each), resident {:.1} MiB -> {:.1} MiB = {per:.0} bytes each ({:.2} GiB for 1,000,000); evicted {}",
            args.actors,
            if args.anonymous {
                "anonymous addresses"
            } else {
                "clients (an address and an identity each)"
            },
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            per * 1e6 / 1073741824.0,
            stats.actors_evicted
        );
    }
    Ok(())
}
