//! The scenario file (TOML): capture window, packet-layer knobs, the benign population and
//! the attack actors. Strict serde (`deny_unknown_fields`), durations in humantime form
//! ("90s", "5m", "1h 30m"), the start as RFC 3339. [`Scenario::validate`] checks ranges once;
//! the generator then trusts the values.

use crate::actors::Category;
use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Deserializer};
use std::path::Path;
use std::time::Duration;

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map_err(serde::de::Error::custom)
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| humantime::parse_duration(&s).map_err(serde::de::Error::custom))
        .transpose()
}

fn start_time<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let s = String::deserialize(d)?;
    let t = humantime::parse_rfc3339(&s).map_err(serde::de::Error::custom)?;
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(serde::de::Error::custom)
}

/// A whole scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Seed when `--seed` is not given.
    #[serde(default = "one")]
    pub seed: u64,
    /// Capture start (RFC 3339, UTC); default 2025-01-15T12:00:00Z.
    #[serde(default = "default_start", deserialize_with = "start_time")]
    pub start: u64,
    /// How long benign sessions keep starting; actors have their own windows inside it.
    #[serde(deserialize_with = "duration")]
    pub duration: Duration,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub benign: Benign,
    #[serde(default, rename = "actor")]
    pub actors: Vec<Actor>,
}

fn one() -> u64 {
    1
}
fn default_start() -> u64 {
    crate::data::DEFAULT_EPOCH_SECS
}

/// Packet-layer knobs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    /// API servers behind the tap (198.19.255.10 and up), all answering for api.shop.example.
    pub servers: u16,
    /// TCP port of the API.
    pub port: u16,
    /// Fraction of data segments retransmitted (seen twice).
    pub retransmit: f64,
    /// Fraction of multi-segment bursts with two adjacent segments swapped.
    pub reorder: f64,
    /// 802.1Q VLAN id on every frame.
    pub vlan: Option<u16>,
    /// Wrap every frame in VXLAN with this VNI (outer 198.19.255.200 → 198.19.255.201).
    pub vxlan_vni: Option<u32>,
    /// Fraction of compressible responses sent gzip-encoded (when the client accepts gzip).
    pub gzip: f64,
    /// Fraction of responses sent chunked.
    pub chunked: f64,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            servers: 2,
            port: 80,
            retransmit: 0.002,
            reorder: 0.002,
            vlan: None,
            vxlan_vni: None,
            gzip: 0.3,
            chunked: 0.2,
        }
    }
}

/// The benign population.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Benign {
    /// Human and integration clients (10..=100000; 0 for none).
    pub clients: u32,
    /// Sessions each client starts per hour at the daily peak.
    pub sessions_per_client_per_hour: f64,
    /// Shares of browsers, mobile apps and server-to-server integrations.
    pub mix: Mix,
    /// `daily` (trough 04:00, peak 16:00 UTC, 15% at the trough) or `flat`.
    pub rate_curve: RateCurve,
    /// Median think time between a person's requests.
    #[serde(deserialize_with = "duration")]
    pub think_median: Duration,
    /// Mean requests per browsing session.
    pub requests_per_session: f64,
    /// Share of logins with a mistyped password first (401, then success).
    pub login_typo_rate: f64,
    /// Share of lookups that ask for something that does not exist (404).
    pub not_found_rate: f64,
    /// Load-balancer health checkers (GET /health every 10 s each).
    pub health_checkers: u32,
    /// Uptime monitors (GET /health every 60 s each).
    pub uptime_monitors: u32,
    /// Search-engine crawlers (one address each).
    pub crawlers: u32,
}

impl Default for Benign {
    fn default() -> Self {
        Benign {
            clients: 100,
            sessions_per_client_per_hour: 2.0,
            mix: Mix::default(),
            rate_curve: RateCurve::Daily,
            think_median: Duration::from_secs(3),
            requests_per_session: 10.0,
            login_typo_rate: 0.05,
            not_found_rate: 0.02,
            health_checkers: 2,
            uptime_monitors: 2,
            crawlers: 2,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mix {
    pub browser: f64,
    pub mobile: f64,
    pub integration: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            browser: 0.55,
            mobile: 0.35,
            integration: 0.10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateCurve {
    Daily,
    Flat,
}

/// One attack actor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// Label name (unique).
    pub name: String,
    /// What it does (one alert-vocabulary category).
    pub category: Category,
    /// Offset from the capture start.
    #[serde(default, deserialize_with = "opt_duration")]
    pub start: Option<Duration>,
    /// How long it acts (default: until the end of the capture).
    #[serde(default, deserialize_with = "opt_duration")]
    pub duration: Option<Duration>,
    /// Mean requests per second, all addresses together (a target: a tool whose workers all
    /// wait on round trips falls somewhat short; raise `concurrency` for high rates).
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// Stop after this many requests.
    pub max_requests: Option<u64>,
    /// Share of attempts that succeed (the server answers as a vulnerable one would);
    /// default per category ([`Category::default_success`]).
    pub success_rate: Option<f64>,
    /// Requests per keep-alive connection.
    #[serde(default = "default_rpc")]
    pub requests_per_connection: u32,
    /// Parallel connections (tools' thread counts).
    #[serde(default = "one_u32")]
    pub concurrency: u32,
    #[serde(default)]
    pub stealth: Stealth,
}

/// How an actor hides.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Stealth {
    /// One request per connection, heavy-tailed random gaps around the mean rate.
    pub low_and_slow: bool,
    /// Source addresses the requests are spread over (default 1).
    pub ips: u32,
    /// A browser user agent per connection instead of the tool's own.
    pub rotate_user_agents: bool,
    /// Present valid bearer tokens of real users (stolen or the attacker's own account).
    pub valid_tokens: bool,
    /// Percent-encoding variants, comment-for-space and case tricks on payloads.
    pub encodings: bool,
}

fn default_rate() -> f64 {
    1.0
}
fn default_rpc() -> u32 {
    20
}
fn one_u32() -> u32 {
    1
}

impl Actor {
    /// The success rate in force.
    pub fn success(&self) -> f64 {
        self.success_rate
            .unwrap_or_else(|| self.category.default_success())
    }
}

impl Scenario {
    pub fn from_toml(text: &str) -> Result<Self> {
        let s: Scenario = toml::from_str(text)?;
        s.validate()?;
        Ok(s)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("scenario {}", path.display()))
    }

    /// Range checks, once.
    pub fn validate(&self) -> Result<()> {
        let n = &self.network;
        let frac = |v: f64, what: &str| -> Result<()> {
            if !(0.0..=1.0).contains(&v) {
                bail!("{what} must be within 0..=1, got {v}");
            }
            Ok(())
        };
        frac(n.retransmit, "network.retransmit")?;
        frac(n.reorder, "network.reorder")?;
        frac(n.gzip, "network.gzip")?;
        frac(n.chunked, "network.chunked")?;
        if n.servers == 0 || n.servers > 100 {
            bail!("network.servers must be 1..=100");
        }
        if n.port == 0 || n.port == crate::net::VXLAN_PORT {
            bail!("network.port must be a TCP port other than 0 and 4789");
        }
        if let Some(v) = n.vlan {
            if v == 0 || v >= 4095 {
                bail!("network.vlan must be 1..=4094");
            }
        }
        if let Some(v) = n.vxlan_vni {
            if v >= 1 << 24 {
                bail!("network.vxlan_vni must fit 24 bits");
            }
        }
        let b = &self.benign;
        if b.clients != 0 && !(10..=100_000).contains(&b.clients) {
            bail!("benign.clients must be 0 or 10..=100000, got {}", b.clients);
        }
        if b.sessions_per_client_per_hour < 0.0 || b.requests_per_session < 1.0 {
            bail!("benign: sessions_per_client_per_hour >= 0 and requests_per_session >= 1");
        }
        frac(b.login_typo_rate, "benign.login_typo_rate")?;
        frac(b.not_found_rate, "benign.not_found_rate")?;
        if b.health_checkers + b.uptime_monitors + b.crawlers > 200 {
            bail!("at most 200 good bots");
        }
        if self.duration.is_zero() {
            bail!("duration must be positive");
        }
        let mut ips = 0u64;
        let mut names = std::collections::HashSet::new();
        for a in &self.actors {
            if !names.insert(a.name.as_str()) {
                bail!("actor name {:?} used twice", a.name);
            }
            if !(a.rate > 0.0 && a.rate <= 100_000.0) {
                bail!("actor {}: rate must be within (0, 100000]", a.name);
            }
            frac(a.success(), "success_rate")?;
            if a.requests_per_connection == 0 || a.concurrency == 0 {
                bail!(
                    "actor {}: requests_per_connection and concurrency must be >= 1",
                    a.name
                );
            }
            if a.start.is_some_and(|s| s >= self.duration) {
                bail!("actor {}: starts after the capture ends", a.name);
            }
            ips += u64::from(a.stealth.ips.max(1));
        }
        if ips > u64::from(crate::actors::ATTACK_IPS) {
            bail!(
                "actors use {ips} addresses; at most {} are available",
                crate::actors::ATTACK_IPS
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_scenarios_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                Scenario::load(&p).unwrap();
                n += 1;
            }
        }
        assert!(n >= 3);
    }

    #[test]
    fn fields_parse_and_default() {
        let s = Scenario::from_toml(
            r#"
start = "2025-03-01T08:30:00Z"
duration = "1h 30m"
[network]
vxlan_vni = 7
[[actor]]
name = "a"
category = "credential_stuffing"
start = "10m"
stealth = { ips = 300, rotate_user_agents = true }
"#,
        )
        .unwrap();
        assert_eq!(s.start, 1_740_817_800);
        assert_eq!(s.duration, Duration::from_secs(5400));
        assert_eq!(s.network.vxlan_vni, Some(7));
        assert_eq!(s.benign.clients, 100);
        let a = &s.actors[0];
        assert_eq!(
            (a.category, a.stealth.ips, a.start),
            (
                Category::CredentialStuffing,
                300,
                Some(Duration::from_secs(600))
            )
        );
        assert_eq!(a.success(), Category::CredentialStuffing.default_success());
    }

    #[test]
    fn bad_scenarios_say_what_is_wrong() {
        let err = |t: &str| format!("{:#}", Scenario::from_toml(t).unwrap_err());
        assert!(err("duration = \"1m\"\n[benign]\nclients = 5").contains("benign.clients"));
        assert!(err("duration = \"1m\"\n[benign]\nclients = 100001").contains("benign.clients"));
        assert!(err("duration = \"1m\"\nbogus = 1").contains("bogus"));
        assert!(err("duration = \"1m\"\n[network]\nretransmit = 2.0").contains("retransmit"));
        assert!(err(
            "duration = \"1m\"\n[[actor]]\nname = \"x\"\ncategory = \"sqli\"\nstart = \"2m\""
        )
        .contains("starts after"));
        assert!(err("duration = \"1m\"\n[[actor]]\nname = \"x\"\ncategory = \"sqli\"\n[[actor]]\nname = \"x\"\ncategory = \"xss\"").contains("twice"));
        assert!(err("duration = \"1m\"\n[[actor]]\nname = \"x\"\ncategory = \"sqli\"\nstealth = { ips = 40000 }").contains("addresses"));
        assert!(err(
            "duration = \"1m\"\n[[actor]]\nname = \"x\"\ncategory = \"behavioral_anomaly\""
        )
        .contains("unknown variant"));
    }
}
