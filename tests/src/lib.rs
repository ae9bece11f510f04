//! Shared helpers for apitap's end-to-end tests: replay a capture through the real engine
//! into records, with a fixed identity key so output is reproducible.

pub mod scoring;

use apitap_proto::RequestRecord;
use apitap_sensor::config::SensorConfig;
use apitap_sensor::engine::Engine;
use apitap_sensor::record::{RecordBuilder, RecordOptions};
use apitap_sensor::redact::{RedactMode, Redactor};
use apitap_sensor::source::{self, Next};
use std::path::{Path, PathBuf};

/// The key tests use, so hashed identities are stable across runs.
pub const TEST_KEY: [u8; 32] = *b"apitap-test-key-not-for-prod-use";

/// Replays capture files through decode → reassembly → HTTP → records.
pub fn replay(
    paths: &[PathBuf],
    cfg: &SensorConfig,
    mode: RedactMode,
) -> anyhow::Result<Vec<RequestRecord>> {
    replay_with(paths, cfg, mode, RecordOptions::default())
}

/// [`replay`] with record options (e.g. the extras the analyzers read).
pub fn replay_with(
    paths: &[PathBuf],
    cfg: &SensorConfig,
    mode: RedactMode,
    options: RecordOptions,
) -> anyhow::Result<Vec<RequestRecord>> {
    let builder = RecordBuilder {
        redactor: Redactor::new(mode, TEST_KEY),
        options,
    };
    let mut engine = Engine::new(cfg, builder);
    let mut src = source::open_files(paths)?;
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
    Ok(out)
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The shared corpus directory: `$APITAP_CORPUS`, else `<workspace>/../shared/corpus`.
pub fn corpus_dir() -> PathBuf {
    std::env::var_os("APITAP_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/corpus"))
}

/// Runs `tshark -r trace ARGS...` and returns its standard output; panics with the reason
/// when tshark is missing or fails (the test suite's `tests/run-all.sh` installs it).
pub fn tshark(trace: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(trace)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("tshark is needed for this test (tests/run-all.sh installs it): {e}")
        });
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        trace.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Records of a capture run through one analyzer (what one worker does), in time order:
/// the records and the alerts.
pub fn analyze(
    paths: &[PathBuf],
    cfg: &SensorConfig,
) -> anyhow::Result<(Vec<RequestRecord>, Vec<apitap_proto::Alert>)> {
    let mut records = replay_with(
        paths,
        cfg,
        RedactMode::Hash,
        RecordOptions {
            with_extras: true,
            ..Default::default()
        },
    )?;
    records.sort_by_key(|r| r.timestamp);
    let mut analyzer =
        apitap_analyzer::Analyzer::new(cfg.analyzer.clone()).map_err(anyhow::Error::msg)?;
    let mut alerts = Vec::new();
    for r in &records {
        analyzer.observe(r, &mut alerts);
    }
    analyzer.flush(&mut alerts);
    Ok((records, alerts))
}
