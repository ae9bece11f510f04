//! The run summary: every counter of every stage, including everything dropped, printed at
//! the end of a replay (and on SIGINT/SIGTERM during capture) and written as metrics in the
//! Prometheus text format (for node_exporter's textfile collector or any scraper).

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Record delivery counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordCounters {
    pub built: u64,
    pub written: u64,
    /// Dropped because the writer's channel was full (never with the `block` policy).
    pub dropped_channel_full: u64,
    /// Dropped because the sink failed to write them.
    pub dropped_write_error: u64,
}

/// Everything a run counted.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub packets: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<Value>,
    pub decode: Value,
    pub flow: Value,
    pub http: Value,
    pub anomalies: BTreeMap<String, u64>,
    pub records: RecordCounters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<crate::analysis::AnalysisSummary>,
    /// Wall-clock seconds the run took (for the human; never used for analysis).
    pub elapsed_secs: f64,
}

fn fmt_num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `name=value` pairs of a flat-or-nested JSON object, zeros left out (arrays: index names).
fn pairs(prefix: &str, v: &Value, out: &mut Vec<(String, u64)>, keep_zero: bool) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                pairs(&name, v, out, keep_zero);
            }
        }
        Value::Number(n) => {
            let n = n.as_u64().unwrap_or(0);
            if n > 0 || keep_zero {
                out.push((prefix.to_string(), n));
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                pairs(&format!("{prefix}.{i}"), v, out, keep_zero);
            }
        }
        _ => {}
    }
}

impl Summary {
    /// The human-readable summary.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "apitap summary ({:.2} s)", self.elapsed_secs);
        let section = |s: &mut String, title: &str, v: &Value| {
            let mut p = Vec::new();
            pairs("", v, &mut p, false);
            let body = if p.is_empty() {
                "-".to_string()
            } else {
                p.iter()
                    .map(|(k, n)| format!("{k}={}", fmt_num(*n)))
                    .collect::<Vec<_>>()
                    .join("  ")
            };
            let _ = writeln!(s, "  {title:<10} {body}");
        };
        section(&mut s, "packets", &self.packets);
        if let Some(c) = &self.capture {
            section(&mut s, "capture", c);
        }
        section(&mut s, "decode", &self.decode);
        section(&mut s, "tcp", &self.flow);
        section(&mut s, "http", &self.http);
        let an = serde_json::to_value(&self.anomalies).unwrap_or(Value::Null);
        section(&mut s, "anomalies", &an);
        let r = &self.records;
        let _ = writeln!(
            s,
            "  {:<10} built={}  written={}  dropped_channel_full={}  dropped_write_error={}",
            "records",
            fmt_num(r.built),
            fmt_num(r.written),
            fmt_num(r.dropped_channel_full),
            fmt_num(r.dropped_write_error)
        );
        if let Some(a) = &self.analysis {
            let _ = writeln!(
                s,
                "  {:<10} workers={}  offered={}  analyzed={}  dropped_channel_full={}  logins={}  failed_logins={}  actors_evicted={}",
                "analysis",
                a.workers,
                fmt_num(a.records_offered),
                fmt_num(a.records_analyzed),
                fmt_num(a.records_dropped_channel_full),
                fmt_num(a.login_attempts),
                fmt_num(a.failed_logins),
                fmt_num(a.actors_evicted)
            );
            let pl = &a.payload;
            let _ = writeln!(
                s,
                "  {:<10} scanned={}  params={}  bytes={}  findings={}  limits: params={} depth={} value_bytes={} request_bytes={}  profiles={} evicted={} params_dropped={}  groups={} early={}  memo_hits={} memo_resets={}",
                "payload",
                fmt_num(pl.requests_scanned),
                fmt_num(pl.params_examined),
                fmt_num(pl.bytes_examined),
                fmt_num(pl.findings.values().sum()),
                fmt_num(pl.limit_params),
                fmt_num(pl.limit_depth),
                fmt_num(pl.limit_value_bytes),
                fmt_num(pl.limit_request_bytes),
                fmt_num(pl.endpoint_profiles as u64),
                fmt_num(pl.endpoint_profiles_evicted),
                fmt_num(pl.profile_params_dropped),
                fmt_num(pl.groups_emitted),
                fmt_num(pl.groups_emitted_early),
                fmt_num(pl.clean_memo_hits),
                fmt_num(pl.clean_memo_resets)
            );
            let t = &a.templates;
            let _ = writeln!(
                s,
                "  {:<10} positions={}  positions_full={}  slugs={}  cache_hits={}  cache_resets={}",
                "templates",
                fmt_num(t.positions_tracked),
                fmt_num(t.positions_full),
                fmt_num(t.slugs),
                fmt_num(t.cache_hits),
                fmt_num(t.cache_resets)
            );
            let cs = &a.stuffing;
            let _ = writeln!(
                s,
                "  {:<10} keys={}  evicted={}  candidates={}  covered={}  grouped={}",
                "campaigns",
                fmt_num(cs.campaign_keys),
                fmt_num(cs.campaign_keys_evicted),
                fmt_num(cs.campaign_candidates),
                fmt_num(cs.campaigns_covered),
                fmt_num(cs.grouped)
            );
            let _ = writeln!(
                s,
                "  {:<10} emitted={}  written={}  deduplicated={}  suppressed={}  dropped_rate_cap={}  dropped_write_error={}",
                "alerts",
                fmt_num(a.alerts_emitted),
                fmt_num(a.alerts_written),
                fmt_num(a.alerts_deduplicated),
                fmt_num(a.alerts_suppressed),
                fmt_num(a.alerts_dropped_rate_cap),
                fmt_num(a.alerts_dropped_write_error)
            );
            if let Some(t) = &a.threat_intel {
                let _ = writeln!(
                    s,
                    "  {:<10} lists={}  entries={}  lines_rejected={}  over_limit={}  reloads={}  reload_failures={}  lookups={}  matches={}",
                    "intel",
                    t.lists,
                    fmt_num(t.entries_loaded),
                    fmt_num(t.lines_rejected),
                    fmt_num(t.entries_over_limit),
                    t.reloads,
                    t.reload_failures,
                    fmt_num(t.lookups),
                    fmt_num(t.matches)
                );
            }
            let _ = writeln!(
                s,
                "  {:<10} learned={}s  warm={}  endpoints={}  identities={}  evicted={}/{}  fingerprint_changes={}  snapshots loaded={} rejected={} written={} write_errors={} ticks_missed={}",
                "baselines",
                fmt_num(a.baseline_learned_secs),
                a.baseline_warm,
                fmt_num(a.baseline_endpoints),
                fmt_num(a.baseline_identities),
                fmt_num(a.baseline_endpoints_evicted),
                fmt_num(a.baseline_identities_evicted),
                fmt_num(a.baseline_fingerprint_changes),
                fmt_num(a.baseline_snapshots_loaded),
                fmt_num(a.baseline_snapshots_rejected),
                fmt_num(a.baseline_snapshots_written),
                fmt_num(a.baseline_snapshot_write_errors),
                fmt_num(a.baseline_snapshot_ticks_missed)
            );
            if !a.alerts_by_category.is_empty() {
                let _ = writeln!(s, "  alerts by category:");
                for (cat, n) in &a.alerts_by_category {
                    let _ = writeln!(s, "    {cat:<26} {:>8}", fmt_num(*n));
                }
            }
            if !a.top_actors.is_empty() {
                let _ = writeln!(s, "  top actors by alerts:");
                for (actor, n) in &a.top_actors {
                    let _ = writeln!(s, "    {actor:<40} {:>8}", fmt_num(*n));
                }
            }
        }
        s
    }

    /// Prometheus text exposition: every counter as `apitap_<stage>_<name>`.
    pub fn render_prometheus(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        let mut p = Vec::new();
        pairs("", &v, &mut p, true);
        let mut s = String::new();
        for (k, n) in p {
            let name: String = format!("apitap_{k}")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let _ = writeln!(s, "# TYPE {name} gauge\n{name} {n}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_prometheus_show_every_stage() {
        let s = Summary {
            packets: serde_json::json!({"packets": 1234567, "bytes": 0}),
            capture: None,
            decode: serde_json::json!({"skipped": {"udp": 2}}),
            flow: serde_json::json!({"gaps": 1}),
            http: serde_json::json!({"requests": 3}),
            anomalies: [("http_bare_lf".to_string(), 4)].into(),
            records: RecordCounters {
                built: 3,
                written: 2,
                dropped_channel_full: 1,
                dropped_write_error: 0,
            },
            analysis: None,
            elapsed_secs: 0.5,
        };
        let t = s.render_text();
        assert!(t.contains("packets=1,234,567"), "{t}");
        assert!(t.contains("skipped.udp=2"));
        assert!(t.contains("http_bare_lf=4"));
        assert!(t.contains("dropped_channel_full=1"));
        let p = s.render_prometheus();
        assert!(p.contains("apitap_packets_bytes 0"), "{p}");
        assert!(p.contains("apitap_records_dropped_channel_full 1"));
        assert!(p.contains("apitap_anomalies_http_bare_lf 4"));
    }
}
