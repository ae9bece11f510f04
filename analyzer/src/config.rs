//! Analyzer configuration: every threshold, window and limit by name, strict serde (unknown
//! fields are errors) with documented defaults, read from the `[analyzer]` table of the
//! sensor's TOML.

use crate::intel::parse::ListFormat;
use apitap_proto::Severity;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// All analyzer settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyzerConfig {
    /// Tracked actors (source addresses, identities, accounts) per detector table.
    pub max_actors: usize,
    /// An actor untouched this long (packet time) may be evicted first.
    pub actor_ttl_secs: u64,
    /// Distinct values remembered per windowed set (per half-window).
    pub distinct_cap: usize,
    pub brute_force: BruteForceConfig,
    pub credential_stuffing: CredentialStuffingConfig,
    pub forced_browsing: ForcedBrowsingConfig,
    pub enumeration: EnumerationConfig,
    pub rate_anomaly: RateAnomalyConfig,
    pub bot: BotConfig,
    pub scraping: ScrapingConfig,
    pub account_takeover: AccountTakeoverConfig,
    pub payload: PayloadSettings,
    pub protocol: ProtocolConfig,
    pub threat_intel: ThreatIntelConfig,
    pub data_exfiltration: DataExfiltrationConfig,
    pub unauthenticated_access: UnauthenticatedAccessConfig,
    pub baseline: BaselineConfig,
    pub alerts: AlertConfig,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        AnalyzerConfig {
            max_actors: 100_000,
            actor_ttl_secs: 3600,
            distinct_cap: 64,
            brute_force: BruteForceConfig::default(),
            credential_stuffing: CredentialStuffingConfig::default(),
            forced_browsing: ForcedBrowsingConfig::default(),
            enumeration: EnumerationConfig::default(),
            rate_anomaly: RateAnomalyConfig::default(),
            bot: BotConfig::default(),
            scraping: ScrapingConfig::default(),
            account_takeover: AccountTakeoverConfig::default(),
            payload: PayloadSettings::default(),
            protocol: ProtocolConfig::default(),
            threat_intel: ThreatIntelConfig::default(),
            data_exfiltration: DataExfiltrationConfig::default(),
            unauthenticated_access: UnauthenticatedAccessConfig::default(),
            baseline: BaselineConfig::default(),
            alerts: AlertConfig::default(),
        }
    }
}

/// Many failed logins from one source against few accounts, or against one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BruteForceConfig {
    pub window_secs: u64,
    /// Failed logins in the window that make a brute force.
    pub min_failures: u32,
    /// At most this many distinct accounts from one source (more is credential stuffing).
    pub max_accounts: usize,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        BruteForceConfig {
            window_secs: 300,
            min_failures: 20,
            max_accounts: 3,
        }
    }
}

/// Many distinct accounts tried from one source with a low success ratio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialStuffingConfig {
    pub window_secs: u64,
    pub min_accounts: usize,
    pub min_attempts: u32,
    /// Successes / attempts below this.
    pub max_success_ratio: f64,
    /// Campaigns (logins spread over many sources that share a request-header shape or an
    /// address prefix): failed logins in the window ...
    pub campaign_min_failures: u32,
    /// ... over at least this many distinct accounts ...
    pub campaign_min_accounts: usize,
    /// ... from at least this many distinct sources (and the same success-ratio bar).
    pub campaign_min_sources: usize,
    /// Prefix length grouping IPv4 sources (IPv6 uses `campaign_prefix_v6`).
    pub campaign_prefix_v4: u8,
    pub campaign_prefix_v6: u8,
    /// Campaign keys tracked per worker (evictions counted).
    pub max_campaigns: usize,
}

impl Default for CredentialStuffingConfig {
    fn default() -> Self {
        CredentialStuffingConfig {
            window_secs: 600,
            min_accounts: 10,
            min_attempts: 15,
            max_success_ratio: 0.3,
            campaign_min_failures: 30,
            campaign_min_accounts: 20,
            campaign_min_sources: 5,
            campaign_prefix_v4: 24,
            campaign_prefix_v6: 48,
            max_campaigns: 4096,
        }
    }
}

/// Directory and path scanning: many distinct unknown paths, mostly answered 404.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForcedBrowsingConfig {
    pub window_secs: u64,
    pub min_not_found: u32,
    pub min_distinct_paths: usize,
    /// 404 (and 403/405) share of the source's requests in the window.
    pub min_error_share: f64,
}

impl Default for ForcedBrowsingConfig {
    fn default() -> Self {
        ForcedBrowsingConfig {
            window_secs: 300,
            min_not_found: 25,
            min_distinct_paths: 20,
            min_error_share: 0.5,
        }
    }
}

/// Object-ID walking (BOLA): one actor reading many ids of one templated endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnumerationConfig {
    pub window_secs: u64,
    /// Distinct object ids of one template in the window that make a walk when they are
    /// mostly sequential (`min_sequential_share`) or mostly denied (`min_denied_share`).
    pub min_distinct_ids: usize,
    /// Share of ids that follow the previous one by ±1.
    pub min_sequential_share: f64,
    /// Share of 401/403/404 answers (then half of `min_distinct_ids` suffices).
    pub min_denied_share: f64,
    /// Distinct ids in the window that are a bulk read whatever their order or answers
    /// (integrations that sync many objects stay below it; raise it for busy ones).
    pub bulk_distinct_ids: usize,
}

impl Default for EnumerationConfig {
    fn default() -> Self {
        EnumerationConfig {
            window_secs: 300,
            min_distinct_ids: 40,
            min_sequential_share: 0.5,
            min_denied_share: 0.5,
            bulk_distinct_ids: 300,
        }
    }
}

/// Request floods: a source far above its own usual peak and the population's, or above an
/// absolute ceiling; an endpoint or the whole API far above its learned rate (DoS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateAnomalyConfig {
    /// Window of a source's request count.
    pub window_secs: u64,
    /// Requests per window from one source that are a flood whatever its history.
    pub max_requests: u32,
    /// Requests per window below which a source is never judged by the relative rules.
    pub min_requests: u32,
    /// The population's requests per source per active minute is read at this quantile ...
    pub population_quantile: f64,
    /// ... and a flood is at least this many times it.
    pub population_factor: f64,
    /// Source-minutes the population must have learned before the relative rule applies.
    pub min_population_minutes: u32,
    /// A flood is at least this many times the source's own (decaying) peak minute ...
    pub own_factor: f64,
    /// ... once the source has this many active minutes learned.
    pub own_min_minutes: u16,
    /// Endpoint and global floods: requests in the exfiltration window at least this many
    /// times the learned rate (hour-of-day aware), after the baseline warm-up ...
    pub endpoint_factor: f64,
    /// ... and at least this many requests in that window (per worker: each worker sees its
    /// shard of the traffic and learns its shard's rate).
    pub endpoint_min_requests: u32,
    /// Minutes an endpoint's rate must have learned before it is judged.
    pub endpoint_min_minutes: u32,
}

impl Default for RateAnomalyConfig {
    fn default() -> Self {
        RateAnomalyConfig {
            window_secs: 60,
            max_requests: 1200,
            min_requests: 600,
            population_quantile: 0.9,
            population_factor: 10.0,
            min_population_minutes: 30,
            own_factor: 5.0,
            own_min_minutes: 10,
            endpoint_factor: 10.0,
            endpoint_min_requests: 3000,
            endpoint_min_minutes: 60,
        }
    }
}

/// Unauthenticated automated clients (scripted fingerprint and machine timing), and
/// crawler user agents from addresses the crawler does not use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BotConfig {
    pub window_secs: u64,
    /// Requests in the window before a source is judged.
    pub min_requests: u32,
    /// Gap standard deviation / mean below this is clockwork timing.
    pub max_timing_cv: f64,
    /// Or a mean gap below this (no think time).
    pub max_mean_gap_ms: f64,
    /// Addresses or prefixes search crawlers and monitors really use (e.g. Google's and
    /// Bing's published ranges). Empty: crawler user agents are believed.
    pub verified_crawler_sources: Vec<String>,
}

impl Default for BotConfig {
    fn default() -> Self {
        BotConfig {
            window_secs: 300,
            min_requests: 100,
            max_timing_cv: 0.25,
            max_mean_gap_ms: 500.0,
            verified_crawler_sources: Vec::new(),
        }
    }
}

/// Collections paged through at machine pace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapingConfig {
    pub window_secs: u64,
    /// Distinct (endpoint, page) pairs in the window ...
    pub min_distinct_pages: usize,
    /// ... read with a mean gap under this ...
    pub max_mean_gap_ms: f64,
    /// ... mostly in order (page n+1 after page n).
    pub min_sequential_share: f64,
    /// Or this many pages whatever the pace.
    pub bulk_distinct_pages: usize,
}

impl Default for ScrapingConfig {
    fn default() -> Self {
        ScrapingConfig {
            window_secs: 600,
            min_distinct_pages: 30,
            max_mean_gap_ms: 2000.0,
            min_sequential_share: 0.5,
            bulk_distinct_pages: 200,
        }
    }
}

/// Sources on threat-intelligence IP/CIDR lists. No lists: the detector is off.
///
/// Reload: the sensor checks the list files every `reload_check_secs` of *wall-clock* time
/// in live capture (and on SIGHUP); a file whose modification time, size or inode changed is
/// re-read and swapped in without a restart. A replay loads the lists once and never
/// reloads them, so the same capture and the same files give the same alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThreatIntelConfig {
    pub lists: Vec<IntelListConfig>,
    /// Wall-clock seconds between checks of the list files in live capture. 0: only on
    /// SIGHUP.
    pub reload_check_secs: u64,
    /// Networks kept per list; lines beyond are counted (`entries_over_limit`), not loaded.
    pub max_entries_per_list: usize,
    /// A list file larger than this is refused (a runaway download, not a list).
    pub max_file_bytes: u64,
    /// 0: only the packet's source address is looked up. N > 0: there are N proxies you
    /// trust in front of the API, each appending to `X-Forwarded-For`; the N-th address from
    /// the right (the one the outermost trusted proxy saw) is looked up as well, and a
    /// listed one is the alert's actor. Never set it without such proxies: clients write
    /// whatever they like in that header.
    pub forwarded_for_hops: u8,
}

impl Default for ThreatIntelConfig {
    fn default() -> Self {
        ThreatIntelConfig {
            lists: Vec::new(),
            reload_check_secs: 60,
            max_entries_per_list: 1_000_000,
            max_file_bytes: 64 * 1024 * 1024,
            forwarded_for_hops: 0,
        }
    }
}

impl ThreatIntelConfig {
    /// Names present, unique and usable as metric labels; paths present.
    pub fn validate(&self) -> Result<(), String> {
        if self.lists.len() > usize::from(u16::MAX) {
            return Err("too many threat_intel lists".into());
        }
        for (i, l) in self.lists.iter().enumerate() {
            if l.name.is_empty()
                || !l
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(format!(
                    "threat_intel list name {:?}: use letters, digits, '-', '_' or '.'",
                    l.name
                ));
            }
            if self.lists[..i].iter().any(|o| o.name == l.name) {
                return Err(format!("threat_intel list name {:?} is used twice", l.name));
            }
            if l.path.as_os_str().is_empty() {
                return Err(format!("threat_intel list {:?} has no path", l.name));
            }
        }
        Ok(())
    }
}

/// One list file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelListConfig {
    /// Named in alerts and metrics.
    pub name: String,
    pub path: PathBuf,
    /// `plain` (one address or CIDR per line), `csv` (header row), `drop` (Spamhaus).
    #[serde(default)]
    pub format: ListFormat,
    /// What the list holds, in the alert's evidence (e.g. `scanner`, `botnet`, `tor_exit`,
    /// `hijacked_netblock`).
    #[serde(default = "default_intel_category")]
    pub category: String,
    /// Severity of alerts for sources on this list.
    #[serde(default = "default_intel_severity")]
    pub severity: Severity,
}

fn default_intel_category() -> String {
    "malicious".into()
}

fn default_intel_severity() -> Severity {
    Severity::High
}

/// The alert manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// Same actor + category + endpoint within this long → folded into the first alert.
    pub dedupe_secs: u64,
    /// At most this many alerts per minute of packet time; the rest are counted, not sent.
    pub max_per_minute: u32,
    /// Keys remembered for dedupe.
    pub max_open: usize,
    /// Categories never alerted (suppression by category).
    pub suppress_categories: Vec<String>,
    /// Source addresses or CIDR prefixes never alerted (e.g. the scanner you run yourself).
    pub suppress_sources: Vec<String>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            dedupe_secs: 3600,
            max_per_minute: 600,
            max_open: 100_000,
            suppress_categories: Vec::new(),
            suppress_sources: Vec::new(),
        }
    }
}

/// Injection payloads (sqli, xss, path traversal, command injection, SSRF, JNDI, XXE) in
/// every attacker-controlled location; every work bound is named here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PayloadSettings {
    pub enabled: bool,
    /// Findings of one family from one source are gathered this long (packet time) into one
    /// alert with a count, the endpoints and parameters probed and the success hints.
    pub aggregate_secs: u64,
    /// Findings below this confidence (0–1) are dropped.
    pub min_confidence: f32,
    /// The bar for parameters learned to carry free text (search boxes, comments, code).
    pub free_text_min_confidence: f32,
    /// Confidence added when an id/enum parameter carries a value of another shape.
    pub off_profile_boost: f32,
    /// Values of a parameter seen before its learned profile is used.
    pub profile_min_samples: u32,
    /// Endpoints whose parameter profiles are learned (per worker); least recent evicted.
    pub max_endpoint_profiles: usize,
    /// Parameters remembered per endpoint profile.
    pub max_params_per_endpoint: usize,
    /// Open (source, family) aggregates per worker; the oldest is emitted early when full.
    pub max_open_groups: usize,
    pub decode_base64: bool,
    pub max_decode_passes: u8,
    pub max_jndi_rounds: u8,
    /// Findings kept per request.
    pub max_findings: usize,
    /// Parameters extracted per request.
    pub max_params: usize,
    /// JSON/XML nesting followed.
    pub max_depth: usize,
    /// Bytes of one value examined.
    pub max_value_bytes: usize,
    /// Bytes examined per request, all locations together.
    pub max_request_bytes: usize,
    /// Parameter values remembered per worker as scanned clean, so a repeat (the same user
    /// agent, `limit=20`) is not scanned again; emptied when full. 0 turns the memo off.
    pub clean_memo_entries: usize,
    /// Longest parameter (name and value together) the clean memo remembers, bytes.
    pub clean_memo_value_bytes: usize,
}

impl Default for PayloadSettings {
    fn default() -> Self {
        let d = crate::payload::PayloadConfig::default();
        PayloadSettings {
            enabled: true,
            aggregate_secs: 30,
            min_confidence: d.min_confidence,
            free_text_min_confidence: d.free_text_min_confidence,
            off_profile_boost: d.off_profile_boost,
            profile_min_samples: d.profile_min_samples,
            max_endpoint_profiles: 10_000,
            max_params_per_endpoint: 128,
            max_open_groups: 50_000,
            decode_base64: d.decode_base64,
            max_decode_passes: d.max_decode_passes,
            max_jndi_rounds: d.max_jndi_rounds,
            max_findings: d.max_findings,
            max_params: d.extract.max_params,
            max_depth: d.extract.max_depth,
            max_value_bytes: d.extract.max_value_bytes,
            max_request_bytes: d.extract.max_request_bytes,
            clean_memo_entries: 16_384,
            clean_memo_value_bytes: 256,
        }
    }
}

impl PayloadSettings {
    /// The payload engine's settings.
    pub fn engine(&self) -> crate::payload::PayloadConfig {
        crate::payload::PayloadConfig {
            extract: crate::payload::ExtractLimits {
                max_params: self.max_params,
                max_depth: self.max_depth,
                max_value_bytes: self.max_value_bytes,
                max_request_bytes: self.max_request_bytes,
            },
            max_decode_passes: self.max_decode_passes,
            max_jndi_rounds: self.max_jndi_rounds,
            min_confidence: self.min_confidence,
            free_text_min_confidence: self.free_text_min_confidence,
            off_profile_boost: self.off_profile_boost,
            profile_min_samples: self.profile_min_samples,
            decode_base64: self.decode_base64,
            max_findings: self.max_findings,
        }
    }
}

/// Request smuggling and protocol anomalies, from the sensor's framing anomalies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtocolConfig {
    pub enabled: bool,
    /// Evasion-grade anomalies (malformed heads, chunk tricks, inconsistent TCP overlaps)
    /// from one source before a `protocol_anomaly` alert.
    pub min_anomalies: u32,
    pub window_secs: u64,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            enabled: true,
            min_anomalies: 3,
            window_secs: 300,
        }
    }
}

/// An account used by someone else: lock-out changes, success after failures, concurrent
/// use from far-apart networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountTakeoverConfig {
    /// Window for a burst of sensitive writes (credentials, contact, payment, API keys).
    pub window_secs: u64,
    /// Distinct kinds of account-recovery data changed in the window.
    pub min_sensitive_kinds: u32,
    /// A login succeeding after this many failures from its source (brute-force window).
    pub min_failures_before_success: u32,
    /// Requests and age before an identity's networks and clients count as its history.
    pub min_history_requests: u32,
    pub min_history_secs: u64,
    /// Switches between networks with no common /16 within `concurrent_secs`.
    pub min_network_switches: u32,
    pub concurrent_secs: u64,
}

impl Default for AccountTakeoverConfig {
    fn default() -> Self {
        AccountTakeoverConfig {
            window_secs: 600,
            min_sensitive_kinds: 2,
            min_failures_before_success: 10,
            min_history_requests: 5,
            min_history_secs: 300,
            min_network_switches: 4,
            concurrent_secs: 120,
        }
    }
}

/// Learned baselines: warm-up, size limits, snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineConfig {
    /// Packet time the baselines learn before baseline-based detectors may alert (a loaded
    /// snapshot brings its learned time along).
    pub warmup_secs: u64,
    /// Endpoint baselines kept per worker (least recently used evicted, counted).
    pub max_endpoints: usize,
    /// Where the sensor keeps the snapshot (none: baselines live and die with the process).
    pub snapshot_path: Option<std::path::PathBuf>,
    /// How often (packet time) the snapshot is rewritten; it is also written at shutdown.
    pub snapshot_interval_secs: u64,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            warmup_secs: 1800,
            max_endpoints: 10_000,
            snapshot_path: None,
            snapshot_interval_secs: 300,
        }
    }
}

/// Response volume far above an actor's own baseline and the population's, and single
/// bulk-export responses far above their endpoint's usual size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataExfiltrationConfig {
    /// Window the response bytes of an actor are summed over.
    pub window_secs: u64,
    /// Response bytes in the window below which nothing is judged.
    pub min_bytes: u64,
    /// Window bytes over this many times the actor's own expected bytes per window (from
    /// its bytes per active minute) ...
    pub actor_factor: f64,
    /// Active minutes an actor must have learned, over at least two windows of packet time,
    /// before its own baseline is used (newer actors are judged against the population
    /// alone, with `new_actor_factor`: an actor that starts pulling data at once has no
    /// baseline of its own but the pull).
    pub min_actor_minutes: u16,
    /// ... and over this many times the population's p99 of bytes per actor-minute, scaled
    /// to the window (p99 sustained over the whole window: already far above what any
    /// actor of the population does).
    pub population_factor: f64,
    /// For an actor without its own baseline: times the population's p99 per window.
    pub new_actor_factor: f64,
    /// Actor-minutes the population must have learned before it is used.
    pub min_population_minutes: f64,
    /// One response this large (bytes) ...
    pub bulk_response_bytes: u64,
    /// ... and this many times its endpoint's p99 response size is a bulk export.
    pub bulk_factor: f64,
    /// Responses an endpoint must have learned before its sizes are used.
    pub min_endpoint_responses: f64,
}

impl Default for DataExfiltrationConfig {
    fn default() -> Self {
        DataExfiltrationConfig {
            window_secs: 300,
            min_bytes: 1024 * 1024,
            actor_factor: 10.0,
            min_actor_minutes: 5,
            population_factor: 2.0,
            new_actor_factor: 3.0,
            min_population_minutes: 200.0,
            bulk_response_bytes: 20 * 1024 * 1024,
            bulk_factor: 20.0,
            min_endpoint_responses: 50.0,
        }
    }
}

/// An endpoint that normally sees credentials answering 2xx without them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnauthenticatedAccessConfig {
    pub window_secs: u64,
    /// Requests an endpoint must have learned before it is judged.
    pub min_endpoint_requests: f64,
    /// Share of the endpoint's requests that carried credentials.
    pub min_credential_share: f64,
    /// Share of the endpoint's requests answered 2xx without credentials before (above it,
    /// the endpoint is public, or partly so).
    pub max_unauth_success_share: f64,
    /// 2xx answers without credentials from one source, on such endpoints, in the window.
    pub min_successes: u32,
}

impl Default for UnauthenticatedAccessConfig {
    fn default() -> Self {
        UnauthenticatedAccessConfig {
            window_secs: 600,
            min_endpoint_requests: 50.0,
            min_credential_share: 0.9,
            max_unauth_success_share: 0.02,
            min_successes: 3,
        }
    }
}
