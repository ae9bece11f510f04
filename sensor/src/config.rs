//! The sensor's configuration: a strict TOML file (`deny_unknown_fields` everywhere), with
//! command-line flags applied on top, resolved once into the structs each stage takes.

use crate::decode::DecodeConfig;
use crate::flow::FlowConfig;
use crate::http::HttpConfig;
use crate::redact::RedactMode;
use anyhow::{Context as _, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What to do when a record channel is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum FullPolicy {
    /// Drop the record and count it: capture never waits (default for live capture).
    Drop,
    /// Wait for room: lossless, for replays (default for replay).
    Block,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Records in flight between the capture thread and the record writer.
    pub channel_capacity: usize,
    /// Policy when the channel is full; unset: `drop` live, `block` in replay.
    pub full_policy: Option<FullPolicy>,
    /// Seconds between metrics-file rewrites during live capture.
    pub metrics_interval_secs: u64,
    /// Analyzer worker threads (records are sharded to them by source address).
    pub analyzer_workers: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            channel_capacity: 65_536,
            full_policy: None,
            metrics_interval_secs: 10,
            analyzer_workers: 2,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactionConfig {
    pub mode: RedactMode,
    /// Per-deployment key for keyed hashes; created (random, 0600) when missing.
    pub key_file: Option<PathBuf>,
}

impl Default for RedactionConfig {
    fn default() -> Self {
        RedactionConfig {
            mode: RedactMode::Hash,
            key_file: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordsConfig {
    /// Write masked body prefixes into records (off by default).
    pub write_bodies: bool,
    /// Largest body prefix written per message.
    pub written_body_bytes: usize,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        RecordsConfig {
            write_bodies: false,
            written_body_bytes: 1024,
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensorConfig {
    pub decode: DecodeConfig,
    pub flow: FlowConfig,
    pub http: HttpConfig,
    pub pipeline: PipelineConfig,
    pub redaction: RedactionConfig,
    pub records: RecordsConfig,
    /// Detectors, windows, limits and the alert manager.
    pub analyzer: apitap_analyzer::config::AnalyzerConfig,
}

impl SensorConfig {
    pub fn load(path: &Path) -> Result<SensorConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Checks values no stage could work with.
    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            self.pipeline.channel_capacity > 0,
            "pipeline.channel_capacity must be > 0"
        );
        anyhow::ensure!(self.http.max_headers > 0, "http.max_headers must be > 0");
        anyhow::ensure!(
            self.http.max_header_bytes >= 64,
            "http.max_header_bytes must be >= 64"
        );
        anyhow::ensure!(
            self.http.max_pending_requests > 0,
            "http.max_pending_requests must be > 0"
        );
        anyhow::ensure!(
            self.pipeline.analyzer_workers > 0,
            "pipeline.analyzer_workers must be > 0"
        );
        apitap_analyzer::manager::AlertManager::new(self.analyzer.alerts.clone())
            .map_err(|e| anyhow::anyhow!("analyzer.alerts: {e}"))?;
        Ok(())
    }
}

/// Where the identity key lives when the config does not say: `$STATE_DIRECTORY` (systemd),
/// else `$XDG_STATE_HOME/apitap`, else `~/.local/state/apitap`, else `./.apitap`.
pub fn default_key_file() -> PathBuf {
    let dir = std::env::var_os("STATE_DIRECTORY")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("apitap")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/apitap")))
        .unwrap_or_else(|| PathBuf::from(".apitap"));
    dir.join("identity.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(toml::from_str::<SensorConfig>("[http]\nmax_headerz = 3\n").is_err());
        let c: SensorConfig =
            toml::from_str("[http]\nmax_headers = 3\n[pipeline]\nfull_policy = \"block\"\n")
                .unwrap();
        assert_eq!(c.http.max_headers, 3);
        assert_eq!(c.pipeline.full_policy, Some(FullPolicy::Block));
    }
}

#[cfg(test)]
mod deploy_example {
    #[test]
    fn the_shipped_example_config_parses_and_equals_the_defaults() {
        let text = include_str!("../../deploy/apitap.toml");
        let c: super::SensorConfig = toml::from_str(text).expect("deploy/apitap.toml parses");
        c.validate().unwrap();
        let d = super::SensorConfig::default();
        assert_eq!(format!("{:?}", c.http), format!("{:?}", d.http));
        assert_eq!(format!("{:?}", c.flow), format!("{:?}", d.flow));
        assert_eq!(format!("{:?}", c.decode), format!("{:?}", d.decode));
        assert_eq!(c.analyzer, d.analyzer);
        assert_eq!(c.pipeline.analyzer_workers, d.pipeline.analyzer_workers);
    }
}
