//! apitap analyzer: exchange records in, alerts out (baselines, detectors, alert manager).
//! No pcap, no tokio: a pure library the sensor's workers drive.
//!
//! Modules: [`config`] (every threshold by name), [`template`] (endpoint templates),
//! [`window`] (packet-time sliding counters), [`actors`] (bounded per-key state), [`login`]
//! (credential checks and their outcome), [`baseline`] (what is normal per actor, endpoint
//! and globally, warm-up, snapshots), [`detectors`] (one module per behaviour), [`intel`]
//! (threat-intelligence IP/CIDR lists, shared by workers and reloadable), [`manager`]
//! (dedupe, suppression, priority, rate cap), [`payload`] (the injection engine), [`words`]
//! (case-insensitive word lists matched in one pass).
//!
//! Every record is learned into the baselines first, then judged. With alerting off
//! ([`Analyzer::set_alerting`], `apitap learn`) only the baselines learn. [`Analyzer::snapshot`]
//! and [`Analyzer::restore`] carry baselines, learned templates and the alert manager's
//! dedupe state across restarts.
//!
//! [`Analyzer::observe`] takes one record at a time, in packet-time order, and returns the
//! alerts it raised; everything runs on the records' timestamps, so a replay gives the same
//! alerts every time.

pub mod actors;
pub mod baseline;
pub mod config;
pub mod detectors;
pub mod hashing;
pub mod intel;
pub mod login;
pub mod manager;
pub mod payload;
pub mod template;
pub mod window;
pub mod words;

use apitap_proto::{Alert, RequestRecord};
use baseline::snapshot::{Snapshot, SourceEntry};
use baseline::{BaselineStats, Baselines, Features};
use config::AnalyzerConfig;
use detectors::{
    account_takeover::AccountTakeover, bot::Bot, brute_force::BruteForce,
    credential_stuffing::CredentialStuffing, data_exfiltration::DataExfiltration,
    enumeration::Enumeration, forced_browsing::ForcedBrowsing, injection::Injection,
    protocol::Protocol, rate_anomaly::RateAnomaly, scraping::Scraping,
    threat_intel::ThreatIntelDetector, unauthenticated_access::UnauthenticatedAccess, Candidate,
    Observation, SourceState, SECOND,
};
use intel::{ThreatIntel, ThreatIntelStats};
use manager::{AlertManager, AlertStats};
use serde::Serialize;
use template::{TemplateStats, Templater};

/// Counters for the summary and metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AnalyzerStats {
    pub records: u64,
    pub login_attempts: u64,
    pub failed_logins: u64,
    pub templates: TemplateStats,
    /// Per-actor state evicted to stay within `max_actors`, summed over detectors.
    pub actors_evicted: u64,
    pub payload: detectors::injection::InjectionStats,
    /// Credential-stuffing campaign keys, candidates and single-source alerts grouped.
    pub credential_stuffing: detectors::credential_stuffing::StuffingStats,
    /// Threat-intel lookups and matches in this worker, and the shared lists' counters.
    pub threat_intel: ThreatIntelStats,
    pub baseline: BaselineStats,
    pub alerts: AlertStats,
}

/// Records in, alerts out.
pub struct Analyzer {
    templater: Templater,
    sources: actors::ActorTable<std::net::IpAddr, SourceState>,
    brute_force: BruteForce,
    credential_stuffing: CredentialStuffing,
    forced_browsing: ForcedBrowsing,
    enumeration: Enumeration,
    rate_anomaly: RateAnomaly,
    bot: Bot,
    scraping: Scraping,
    account_takeover: AccountTakeover,
    injection: Injection,
    protocol: Protocol,
    threat_intel: ThreatIntelDetector,
    data_exfiltration: DataExfiltration,
    unauthenticated_access: UnauthenticatedAccess,
    baselines: Baselines,
    alerting: bool,
    snapshots_loaded: u64,
    snapshots_rejected: u64,
    manager: AlertManager,
    /// Reused: aggregated candidates that came due.
    due: Vec<(Candidate, manager::AlertSubject)>,
    account_hasher: hashing::Fixed,
    records: u64,
    /// Latest packet time seen.
    last_ts: u64,
    login_attempts: u64,
    failed_logins: u64,
    /// Reused per record: the template and `METHOD template`.
    template_buf: String,
    endpoint_buf: String,
}

impl Analyzer {
    /// Builds an analyzer; a configuration error (unknown category, bad prefix, unusable
    /// threat-intel list) is returned. Threat-intel lists are loaded for this analyzer
    /// alone: workers that share them (and a reloader) use [`Analyzer::with_threat_intel`].
    pub fn new(config: AnalyzerConfig) -> Result<Self, String> {
        let intel = if config.threat_intel.lists.is_empty() {
            None
        } else {
            Some(ThreatIntel::load(&config.threat_intel)?.0)
        };
        Self::with_threat_intel(config, intel)
    }

    /// Builds an analyzer that reads the given shared lists (`None`: detector off); the
    /// lists in `config.threat_intel` are not loaded again.
    pub fn with_threat_intel(
        config: AnalyzerConfig,
        intel: Option<std::sync::Arc<ThreatIntel>>,
    ) -> Result<Self, String> {
        let engine = payload::PayloadDetector::new(config.payload.engine())
            .map_err(|e| format!("analyzer.payload: {e}"))?;
        Self::with_shared(config, std::sync::Arc::new(engine), intel)
    }

    /// Builds an analyzer sharing an already compiled payload engine (immutable) and
    /// threat-intel lists with other workers.
    pub fn with_shared(
        config: AnalyzerConfig,
        engine: std::sync::Arc<payload::PayloadDetector>,
        intel: Option<std::sync::Arc<ThreatIntel>>,
    ) -> Result<Self, String> {
        let ttl = config.actor_ttl_secs * SECOND;
        let (n, cap) = (config.max_actors, config.distinct_cap);
        Ok(Analyzer {
            templater: Templater::new(template::TemplateConfig::default()),
            sources: actors::ActorTable::new(n, ttl),
            brute_force: BruteForce::new(config.brute_force.clone(), cap),
            credential_stuffing: CredentialStuffing::new(config.credential_stuffing.clone(), cap),
            forced_browsing: ForcedBrowsing::new(config.forced_browsing.clone(), cap),
            enumeration: Enumeration::new(config.enumeration.clone(), n, ttl, cap),
            rate_anomaly: RateAnomaly::new(config.rate_anomaly.clone()),
            bot: Bot::new(config.bot.clone()).map_err(|e| format!("analyzer.bot: {e}"))?,
            scraping: Scraping::new(config.scraping.clone(), cap),
            account_takeover: AccountTakeover::new(config.account_takeover.clone(), n, ttl),
            injection: Injection::new(config.payload.clone(), engine, ttl),
            protocol: Protocol::new(config.protocol.clone()),
            due: Vec::new(),
            threat_intel: ThreatIntelDetector::new(&config.threat_intel, intel, n, ttl),
            data_exfiltration: DataExfiltration::new(config.data_exfiltration.clone()),
            unauthenticated_access: UnauthenticatedAccess::new(
                config.unauthenticated_access.clone(),
            ),
            baselines: Baselines::new(
                config.baseline.clone(),
                n,
                ttl,
                config.data_exfiltration.window_secs * SECOND,
            ),
            alerting: true,
            snapshots_loaded: 0,
            snapshots_rejected: 0,
            manager: AlertManager::new(config.alerts.clone())?,
            account_hasher: hashing::fixed(),
            records: 0,
            last_ts: 0,
            login_attempts: 0,
            failed_logins: 0,
            template_buf: String::new(),
            endpoint_buf: String::new(),
        })
    }

    /// Looks at one exchange; alerts it raised are appended to `out`.
    pub fn observe(&mut self, r: &RequestRecord, out: &mut Vec<Alert>) {
        self.records += 1;
        self.last_ts = self.last_ts.max(r.timestamp);
        let host = r.url.domain.as_deref().unwrap_or("");
        let mut template = std::mem::take(&mut self.template_buf);
        let mut endpoint = std::mem::take(&mut self.endpoint_buf);
        let templated = self
            .templater
            .template_into(host, &r.url.path, &mut template);
        let method: &str = &r.http.request.method;
        let endpoint_key = template::endpoint_key(templated.template_key, method);
        endpoint.clear();
        endpoint.push_str(method);
        endpoint.push(' ');
        endpoint.push_str(&template);
        let identity_key = r
            .apitap
            .identity
            .as_ref()
            .map(|i| baseline::identity_key(&i.id));
        // The sensor writes the same id to both when the identity names the user.
        let user_key = match (&r.user, &r.apitap.identity) {
            (Some(u), Some(i)) if u.id == i.id => identity_key,
            (Some(u), _) => Some(baseline::identity_key(&u.id)),
            (None, _) => None,
        };
        let keys = baseline::Keys {
            host_endpoint: template::endpoint_key(templated.host_template_key, method),
            identity: user_key.or(identity_key),
        };
        let login = login::login_attempt(r, &self.account_hasher);
        if let Some(l) = login {
            self.login_attempts += 1;
            self.failed_logins += u64::from(l.failed);
        }
        let o = Observation {
            record: r,
            ts: r.timestamp,
            ip: r.source.ip,
            endpoint: &endpoint,
            template: &template,
            endpoint_key,
            user_key,
            identity_key,
            user_agent_key: r
                .user_agent
                .as_ref()
                .map_or(0, |u| hashing::hash64(u.original.as_str())),
            object_position: templated.object_position,
            health_path: templated.health_path,
            status: r.http.response.as_ref().map(|s| s.status_code),
            login,
        };
        let f = Features::of(r);
        let src = self.sources.entry(&o.ip, o.ts);
        let seen = self
            .baselines
            .learn(&f, r, &mut src.baseline, host, &endpoint, keys);
        if !self.alerting {
            self.template_buf = template;
            self.endpoint_buf = endpoint;
            return;
        }
        // Each candidate goes to the manager as it is made (no array of them to move).
        let manager = &mut self.manager;
        let mut offer = |c: Option<Candidate>| {
            if let Some(a) = c.and_then(|c| manager.offer(c, r, o.ts)) {
                out.push(a);
            }
        };
        let mut failures_before = 0.0;
        if let Some(l) = login {
            failures_before = src.brute_force.as_ref().map_or(0.0, |bf| {
                bf.recent_failures(o.ts, self.brute_force.window())
            });
            // Brute-force state is only about failures: a source that never failed a login
            // costs none.
            if l.failed {
                let bf = src.brute_force.get_or_insert_with(Box::default);
                offer(self.brute_force.observe(&o, bf));
            }
            let cs = src.credential_stuffing.get_or_insert_with(Box::default);
            offer(self.credential_stuffing.observe(&o, cs));
        }
        offer(self.forced_browsing.observe(&o, &mut src.forced_browsing));
        offer(
            self.rate_anomaly
                .observe(&o, &mut src.rate_anomaly, &src.baseline, &seen),
        );
        offer(self.rate_anomaly.observe_target(&o, &seen));
        offer(self.enumeration.observe(&o));
        offer(self.bot.observe(&o, &mut src.bot));
        let gap = src.bot.mean_gap_ms();
        offer(self.scraping.observe(&o, &mut src.scraping, gap));
        offer(self.protocol.smuggling(&o));
        offer(self.protocol.evasion(&o, &mut src.protocol));
        self.injection.observe(&o);
        offer(self.threat_intel.observe(&o));
        if login.is_some() {
            offer(self.account_takeover.login_success(&o, failures_before));
        }
        let mut ato: [Option<Candidate>; 2] = Default::default();
        self.account_takeover.observe(&o, &mut ato);
        // Moved out only when there is one (moving the pair cost a copy of both per record).
        for c in &mut ato {
            if c.is_some() {
                offer(c.take());
            }
        }
        offer(self.data_exfiltration.observe(&o, &f, &src.baseline, &seen));
        offer(
            self.unauthenticated_access
                .observe(&o, &f, &seen, &mut src.unauthenticated_access),
        );
        self.injection.due(o.ts, &mut self.due);
        self.offer_due(o.ts, out);
        self.template_buf = template;
        self.endpoint_buf = endpoint;
    }

    /// Emits what is still being aggregated (end of a replay, shutdown).
    pub fn flush(&mut self, out: &mut Vec<Alert>) {
        self.injection.flush(&mut self.due);
        // Aggregates emitted at the end are stamped with the last packet time seen.
        let now = self.last_ts;
        self.offer_due(now, out);
    }

    fn offer_due(&mut self, now: u64, out: &mut Vec<Alert>) {
        for (c, subject) in self.due.drain(..) {
            if let Some(a) = self.manager.offer_subject(c, &subject, now) {
                out.push(a);
            }
        }
    }

    pub fn stats(&self) -> AnalyzerStats {
        AnalyzerStats {
            records: self.records,
            login_attempts: self.login_attempts,
            failed_logins: self.failed_logins,
            templates: self.templater.stats.clone(),
            actors_evicted: self.sources.evicted
                + self.enumeration.walks.evicted
                + self.threat_intel.actors.evicted
                + self.account_takeover.identities.evicted,
            payload: self.injection.stats(),
            credential_stuffing: self.credential_stuffing.stats(),
            threat_intel: self.threat_intel.stats(),
            baseline: BaselineStats {
                snapshots_loaded: self.snapshots_loaded,
                snapshots_rejected: self.snapshots_rejected,
                ..self.baselines.stats()
            },
            alerts: self.manager.stats(),
        }
    }

    /// Alerting on (the default) or off (learning only: baselines and templates learn,
    /// detectors and the alert manager are skipped).
    pub fn set_alerting(&mut self, on: bool) {
        self.alerting = on;
    }

    /// Everything a restart needs: baselines, learned templates, alert dedupe state.
    pub fn snapshot(&self) -> Snapshot {
        let mut s = self.baselines.export();
        s.sources = self
            .sources
            .iter()
            .map(|(ip, last_seen, st)| SourceEntry {
                ip: *ip,
                last_seen,
                baseline: st.baseline.clone(),
            })
            .collect();
        s.sources.sort_by_key(|e| e.ip);
        s.templates = self.templater.export();
        (s.alerts, s.specific) = self.manager.export();
        s
    }

    /// Loads a snapshot (one worker's part of it, see [`Snapshot::part_for`]) into this
    /// analyzer, before it sees records. Baselines learned so far are replaced.
    pub fn restore(&mut self, s: Snapshot) {
        let Snapshot {
            sources,
            templates,
            alerts,
            specific,
            ..
        } = &s;
        for e in sources {
            let st = SourceState {
                baseline: e.baseline.clone(),
                ..Default::default()
            };
            self.sources.insert(e.ip, st, e.last_seen);
        }
        self.templater.import(templates.clone());
        self.manager.import(alerts.clone(), specific.clone());
        self.baselines.import(s);
        self.snapshots_loaded += 1;
    }

    /// Counts a snapshot the caller could not load (shown in the stats).
    pub fn snapshot_rejected(&mut self) {
        self.snapshots_rejected += 1;
    }
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
