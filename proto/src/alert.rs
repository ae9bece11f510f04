//! The alert: what the analyzer tells a SIEM, in ECS shape, with everything apitap-specific
//! under `apitap.*`.
//!
//! Invariants: an alert carries numbers for what was observed and what was expected
//! ([`Evidence`]), so an analyst can see why it fired; identities are keyed hashes (as on the
//! records); sample requests are the already-redacted record fields, never raw bytes.

use crate::time::{as_rfc3339, TimestampNs};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// What kind of attack or abuse an alert reports (the alert vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Sqli,
    Xss,
    PathTraversal,
    CommandInjection,
    Ssrf,
    JndiInjection,
    Xxe,
    RequestSmuggling,
    BruteForce,
    CredentialStuffing,
    AccountTakeover,
    Enumeration,
    ForcedBrowsing,
    RateAnomaly,
    Scraping,
    Bot,
    DataExfiltration,
    SensitiveDataExposure,
    UnauthenticatedAccess,
    ShadowApi,
    ZombieApi,
    ThreatIntel,
    BehavioralAnomaly,
    ProtocolAnomaly,
}

impl Category {
    pub const ALL: [Category; 24] = [
        Category::Sqli,
        Category::Xss,
        Category::PathTraversal,
        Category::CommandInjection,
        Category::Ssrf,
        Category::JndiInjection,
        Category::Xxe,
        Category::RequestSmuggling,
        Category::BruteForce,
        Category::CredentialStuffing,
        Category::AccountTakeover,
        Category::Enumeration,
        Category::ForcedBrowsing,
        Category::RateAnomaly,
        Category::Scraping,
        Category::Bot,
        Category::DataExfiltration,
        Category::SensitiveDataExposure,
        Category::UnauthenticatedAccess,
        Category::ShadowApi,
        Category::ZombieApi,
        Category::ThreatIntel,
        Category::BehavioralAnomaly,
        Category::ProtocolAnomaly,
    ];

    /// The snake_case name used in alerts and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sqli => "sqli",
            Category::Xss => "xss",
            Category::PathTraversal => "path_traversal",
            Category::CommandInjection => "command_injection",
            Category::Ssrf => "ssrf",
            Category::JndiInjection => "jndi_injection",
            Category::Xxe => "xxe",
            Category::RequestSmuggling => "request_smuggling",
            Category::BruteForce => "brute_force",
            Category::CredentialStuffing => "credential_stuffing",
            Category::AccountTakeover => "account_takeover",
            Category::Enumeration => "enumeration",
            Category::ForcedBrowsing => "forced_browsing",
            Category::RateAnomaly => "rate_anomaly",
            Category::Scraping => "scraping",
            Category::Bot => "bot",
            Category::DataExfiltration => "data_exfiltration",
            Category::SensitiveDataExposure => "sensitive_data_exposure",
            Category::UnauthenticatedAccess => "unauthenticated_access",
            Category::ShadowApi => "shadow_api",
            Category::ZombieApi => "zombie_api",
            Category::ThreatIntel => "threat_intel",
            Category::BehavioralAnomaly => "behavioral_anomaly",
            Category::ProtocolAnomaly => "protocol_anomaly",
        }
    }

    /// The MITRE ATT&CK technique closest to the category: (id, name).
    pub fn technique(self) -> (&'static str, &'static str) {
        match self {
            Category::Sqli
            | Category::Xss
            | Category::PathTraversal
            | Category::CommandInjection
            | Category::Ssrf
            | Category::JndiInjection
            | Category::Xxe
            | Category::RequestSmuggling
            | Category::ProtocolAnomaly => ("T1190", "Exploit Public-Facing Application"),
            Category::BruteForce => ("T1110.001", "Brute Force: Password Guessing"),
            Category::CredentialStuffing => ("T1110.004", "Brute Force: Credential Stuffing"),
            Category::AccountTakeover => ("T1078", "Valid Accounts"),
            Category::Enumeration | Category::Scraping | Category::DataExfiltration => {
                ("T1530", "Data from Cloud Storage")
            }
            Category::ForcedBrowsing => ("T1595.003", "Active Scanning: Wordlist Scanning"),
            Category::RateAnomaly => ("T1499", "Endpoint Denial of Service"),
            Category::Bot | Category::BehavioralAnomaly | Category::ThreatIntel => {
                ("T1595", "Active Scanning")
            }
            Category::SensitiveDataExposure => ("T1213", "Data from Information Repositories"),
            Category::UnauthenticatedAccess => ("T1190", "Exploit Public-Facing Application"),
            Category::ShadowApi | Category::ZombieApi => {
                ("T1190", "Exploit Public-Facing Application")
            }
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad it is. Ordered: `Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// ECS `event.severity` (1 = low … 4 = critical).
    pub fn number(self) -> u8 {
        match self {
            Severity::Low => 1,
            Severity::Medium => 2,
            Severity::High => 3,
            Severity::Critical => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One alert, ECS-shaped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// When the alert was raised (packet time of the request that crossed the threshold).
    #[serde(rename = "@timestamp", with = "as_rfc3339")]
    pub timestamp: TimestampNs,
    pub event: AlertEvent,
    pub rule: Rule,
    pub source: AlertSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<AlertDestination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<crate::User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<AlertUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<AlertHttp>,
    pub threat: Threat,
    pub apitap: AlertApitap,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Always `alert`.
    pub kind: Cow<'static, str>,
    /// `["intrusion_detection", "web"]`.
    pub category: Vec<Cow<'static, str>>,
    /// `apitap.alert`.
    pub dataset: Cow<'static, str>,
    /// 1 (low) to 4 (critical).
    pub severity: u8,
    /// 0–100.
    pub risk_score: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Stable id, e.g. `apitap.brute_force.failed_logins`.
    pub id: Cow<'static, str>,
    pub name: Cow<'static, str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSource {
    pub ip: IpAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDestination {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertUrl {
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertHttp {
    pub request: AlertHttpRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<AlertHttpResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertHttpRequest {
    pub method: Cow<'static, str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertHttpResponse {
    pub status_code: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threat {
    pub framework: Cow<'static, str>,
    pub technique: Technique,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Technique {
    pub id: Cow<'static, str>,
    pub name: Cow<'static, str>,
}

/// The apitap-specific part of an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertApitap {
    pub category: Category,
    pub detector: Cow<'static, str>,
    pub severity: Severity,
    /// Detector confidence and strength combined, 0–1.
    pub score: f64,
    /// Requests (or findings) this alert aggregates.
    pub count: u64,
    #[serde(with = "as_rfc3339")]
    pub first_seen: TimestampNs,
    #[serde(with = "as_rfc3339")]
    pub last_seen: TimestampNs,
    /// The templated endpoint (`GET /users/{id}`), when the alert is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// What the actor is keyed by: `ip`, `identity` or `endpoint`.
    pub actor_kind: Cow<'static, str>,
    /// The actor: an address, a keyed identity hash or an endpoint.
    pub actor: Arc<str>,
    pub evidence: Evidence,
    /// What an enforcement point could do about it (the sensor never does it itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<Recommendation>,
}

/// Why the alert fired: observed values against what was expected, and a few samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Evidence {
    /// One sentence an analyst reads first.
    pub summary: String,
    /// Named measurements, e.g. `failed_logins: 37`, `window_secs: 60`.
    pub observed: Vec<Measure>,
    /// The thresholds or baseline values they were compared with.
    pub expected: Vec<Measure>,
    /// A few redacted sample requests (`METHOD url status`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<String>,
}

impl Evidence {
    /// The observed measurement called `name`, if the alert has one.
    pub fn observed_value(&self, name: &str) -> Option<f64> {
        self.observed
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    pub name: Cow<'static, str>,
    pub value: f64,
}

impl Measure {
    pub fn new(name: &'static str, value: f64) -> Measure {
        Measure {
            name: Cow::Borrowed(name),
            value,
        }
    }
}

/// A suggested enforcement action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// `block_ip`, `rate_limit`, `revoke_credential`, `review_endpoint`.
    pub action: Cow<'static, str>,
    /// What to act on: an address, a CIDR prefix or a comma-separated list of addresses
    /// (`block_ip`), a credential's keyed hash, or an endpoint (`host METHOD /template`).
    pub target: String,
    /// For `rate_limit`: requests per minute; for blocks: how long, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_serialize_as_their_names() {
        for c in Category::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            let back: Category = serde_json::from_str(&json).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn severity_orders_and_numbers() {
        assert!(Severity::Low < Severity::Critical);
        assert_eq!(Severity::High.number(), 3);
    }
}
