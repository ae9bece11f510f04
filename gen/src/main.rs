//! `apitap-gen`: writes a labeled capture from a scenario file, or measures its own speed.
//!
//! ```text
//! apitap-gen --scenario fixtures/scenarios/attacks-all.toml --out capture.pcap --labels labels.json [--seed N]
//! apitap-gen --bench [--scenario FILE] [--out FILE]
//! ```

use anyhow::{Context as _, Result};
use apitap_gen::scenario::Scenario;
use clap::Parser;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

/// Generate a labeled pcap of benign and attack API traffic from a scenario file.
#[derive(Parser, Debug)]
#[command(name = "apitap-gen", version)]
struct Args {
    /// Scenario file (TOML). With --bench, defaults to a built-in large scenario.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Output pcap.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Output labels (JSON).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Seed (default: the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Measure generation speed: print MB/s and exchanges/s (writes to --out or a temporary
    /// file that is removed afterwards).
    #[arg(long)]
    bench: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
}

/// The --bench scenario: 100,000 clients at a busy hour, every attack category.
pub const BENCH_SCENARIO: &str = include_str!("../../fixtures/scenarios/bench-large.toml");

fn main() -> Result<()> {
    let args = Args::parse();
    let scenario = match &args.scenario {
        Some(p) => Scenario::load(p)?,
        None if args.bench => {
            Scenario::from_toml(BENCH_SCENARIO).context("built-in bench scenario")?
        }
        None => anyhow::bail!("--scenario is required (or --bench)"),
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let (out_path, temp) = match (&args.out, args.bench) {
        (Some(p), _) => (p.clone(), false),
        (None, true) => (
            std::env::temp_dir().join(format!("apitap-gen-bench-{}.pcap", std::process::id())),
            true,
        ),
        (None, false) => anyhow::bail!("--out is required"),
    };
    let started = Instant::now();
    let file =
        File::create(&out_path).with_context(|| format!("creating {}", out_path.display()))?;
    let result = apitap_gen::generate(&scenario, seed, BufWriter::with_capacity(4 << 20, file));
    let secs = started.elapsed().as_secs_f64();
    if temp {
        let _ = std::fs::remove_file(&out_path);
    }
    let (labels, stats) = result?;
    if let Some(p) = &args.labels {
        let f = File::create(p).with_context(|| format!("creating {}", p.display()))?;
        serde_json::to_writer_pretty(BufWriter::new(f), &labels)?;
    }
    if !args.quiet {
        println!(
            "wrote {}: {} packets, {} bytes, {} requests in {} exchanges over {} connections ({} sessions), {:.1} s of traffic, {} actors labeled",
            if temp { "(bench, removed)".to_string() } else { out_path.display().to_string() },
            stats.packets,
            stats.file_bytes,
            stats.requests,
            stats.exchanges,
            stats.connections,
            stats.sessions,
            stats.span_us as f64 / 1e6,
            labels.actors.len()
        );
        println!(
            "responses: gzip {} (compressions run {}), chunked {}",
            stats.gzip, stats.gzip_runs, stats.chunked
        );
    }
    if args.bench {
        let mb = stats.file_bytes as f64 / 1e6;
        println!(
            "bench: {:.1} MB in {:.2} s = {:.1} MB/s ({:.2} GB/min), {:.0} exchanges/s, {:.0} packets/s",
            mb,
            secs,
            mb / secs,
            mb / secs * 60.0 / 1000.0,
            stats.exchanges as f64 / secs,
            stats.packets as f64 / secs
        );
    }
    Ok(())
}
