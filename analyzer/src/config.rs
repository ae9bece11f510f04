//! Analyzer configuration: every threshold, window and limit by name, strict serde (unknown
//! fields are errors) with documented defaults, read from the `[analyzer]` table of the
//! sensor's TOML.

use serde::{Deserialize, Serialize};

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
}

impl Default for CredentialStuffingConfig {
    fn default() -> Self {
        CredentialStuffingConfig {
            window_secs: 600,
            min_accounts: 10,
            min_attempts: 15,
            max_success_ratio: 0.3,
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

/// Request floods: an actor far above a fixed ceiling (baselines come later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateAnomalyConfig {
    pub window_secs: u64,
    /// Requests per window from one actor that are a flood whatever its history.
    pub max_requests: u32,
}

impl Default for RateAnomalyConfig {
    fn default() -> Self {
        RateAnomalyConfig {
            window_secs: 60,
            max_requests: 1200,
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
