//! Behavioural baselines on packet time: what is normal for every actor, every endpoint
//! template and the whole population, so detectors can say "far above its own baseline and
//! the population's" with numbers.
//!
//! What is learned:
//! - **Per actor** ([`ActorBaseline`], about 250 bytes, inside the per-source table entry;
//!   [`IdentityBaseline`] for identities, in their own bounded table): request rate per
//!   minute as an EWMA with hour-of-day buckets ([`sketch::HourlyRate`]); status mix,
//!   auth-failure ratio and credential share ([`Mix`], decayed counts); response volume per
//!   active minute and over a sliding window ([`Volume`]); client fingerprints (user agent
//!   plus the request header names in order, [`Fingerprints`]).
//! - **Per endpoint** (`host METHOD /template`, [`EndpointBaseline`], bounded by
//!   `max_endpoints`, evictions counted): rate, mix (credential share and 2xx answered
//!   without credentials included), response-size distribution ([`sketch::LogHistogram`]),
//!   volume.
//! - **Global** ([`GlobalBaseline`]): rate, mix, response sizes, and the population's
//!   distribution of response bytes per actor per active minute (what "the population's"
//!   means for exfiltration).
//!
//! **Warm-up**: baselines learn from the first record; detectors that judge against them
//! ([`Baselines::warm`]) stay quiet until `warmup_secs` of packet time have been learned
//! (idle gaps count at most five minutes each). A loaded snapshot brings its learned time
//! with it, so a restart needs no new warm-up.
//!
//! **Sharding and the lock-free choice.** The sensor shards records by source address over N
//! workers; each worker owns one analyzer and so one `Baselines`. Per-address baselines are
//! exact (one worker sees all of an address). For endpoint-wide and global baselines each
//! worker keeps **its own view of its shard's traffic**: no lock, no message, no tick on the
//! hot path, and because both the learned baseline and the current measure come from the
//! same shard, ratios ("10× this endpoint's usual volume") stay meaningful. Costs: memory for
//! endpoint and global state is N times one copy (endpoints are bounded, a few KiB each);
//! absolute per-endpoint figures are 1/N of the real ones (thresholds on endpoint totals are
//! per worker); an identity used from addresses on several shards is learned in pieces.
//! Snapshots are where the views meet: the sensor merges the N partial baselines (sums of
//! rates, histograms and counts; union of actors) into one file, and a worker loading it
//! takes the actors of its shard and 1/N of every endpoint and global baseline
//! ([`snapshot`]), so a run with a different worker count starts from the same totals.
//!
//! Decay: counts are halved when they reach a cap (actors 1,000 requests, endpoints 20,000,
//! global 200,000), so mixes follow recent behaviour and floats stay exact enough.

pub mod sketch;
pub mod snapshot;

use crate::actors::ActorTable;
use crate::config::BaselineConfig;
use crate::detectors::SECOND;
use crate::window::{WindowCount, WindowSum};
use apitap_proto::RequestRecord;
use serde::{Deserialize, Serialize};
use sketch::{HourlyRate, LogHistogram};
use std::net::IpAddr;
use std::sync::Arc;

const MINUTE: u64 = 60 * SECOND;
/// Idle packet time credited to learning per gap between records.
const MAX_IDLE_CREDIT: u64 = 5 * MINUTE;
const ACTOR_DECAY_AT: f32 = 1_000.0;
const ENDPOINT_DECAY_AT: f32 = 20_000.0;
const GLOBAL_DECAY_AT: f32 = 200_000.0;

/// Header names that carry credentials (lower case, as records hold them).
const CREDENTIAL_HEADERS: [&str; 6] = [
    "authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
];

/// Whether the request carried credentials: an identity the sensor recognised, or a
/// credential header.
pub fn has_credentials(r: &RequestRecord) -> bool {
    r.apitap.identity.is_some()
        || r.user.is_some()
        || r.extras
            .request_headers
            .iter_bytes()
            .any(|(n, _)| CREDENTIAL_HEADERS.iter().any(|c| c.as_bytes() == n))
}

/// What one exchange contributes to the baselines, computed once per record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    pub ts: u64,
    pub status: Option<u16>,
    /// Response body bytes: the larger of the wire and the decoded size.
    pub response_bytes: u64,
    pub credentialed: bool,
    /// Hash of the user agent and the request header names in order (0: nothing known).
    pub fingerprint: u32,
}

impl Features {
    pub fn of(r: &RequestRecord) -> Features {
        let response_bytes = r.http.response.as_ref().map_or(0, |s| s.body.bytes).max(
            r.apitap
                .response
                .as_ref()
                .map_or(0, |s| s.decoded_body_bytes),
        );
        Features {
            ts: r.timestamp,
            status: r.http.response.as_ref().map(|s| s.status_code),
            response_bytes,
            credentialed: has_credentials(r),
            fingerprint: fingerprint(r),
        }
    }

    pub fn success(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }
}

/// The client fingerprint: user agent and request header names, in order.
pub fn fingerprint(r: &RequestRecord) -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let ua = r.user_agent.as_ref().map(|u| u.original.as_str());
    if ua.is_none() && r.extras.request_headers.is_empty() {
        return 0;
    }
    let mut h = crate::hashing::fixed().build_hasher();
    h.write(ua.unwrap_or("").as_bytes());
    for (name, _) in r.extras.request_headers.iter_bytes() {
        h.write_u8(0xff);
        h.write(name);
    }
    let v = h.finish();
    ((v >> 32) as u32 ^ v as u32).max(1)
}

/// Decayed counts of one actor's, endpoint's or the population's exchanges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mix {
    pub requests: f32,
    /// By status class: 2xx, 3xx, 4xx, 5xx (no response counts in none).
    pub by_class: [f32; 4],
    /// 401 and 403.
    pub auth_failures: f32,
    /// Requests that carried credentials.
    pub credentialed: f32,
    /// 2xx answers to requests without credentials.
    pub unauth_success: f32,
}

impl Mix {
    fn add(&mut self, f: &Features, decay_at: f32) {
        if self.requests >= decay_at {
            self.scale(0.5);
        }
        self.requests += 1.0;
        if let Some(s) = f.status {
            if (200..600).contains(&s) {
                self.by_class[usize::from(s / 100 - 2)] += 1.0;
            }
            if s == 401 || s == 403 {
                self.auth_failures += 1.0;
            }
        }
        if f.credentialed {
            self.credentialed += 1.0;
        } else if f.success() {
            self.unauth_success += 1.0;
        }
    }

    pub fn scale(&mut self, f: f32) {
        self.requests *= f;
        for c in &mut self.by_class {
            *c *= f;
        }
        self.auth_failures *= f;
        self.credentialed *= f;
        self.unauth_success *= f;
    }

    pub fn merge(&mut self, o: &Mix) {
        self.requests += o.requests;
        for (a, b) in self.by_class.iter_mut().zip(o.by_class) {
            *a += b;
        }
        self.auth_failures += o.auth_failures;
        self.credentialed += o.credentialed;
        self.unauth_success += o.unauth_success;
    }

    fn share(&self, v: f32) -> f64 {
        if self.requests <= 0.0 {
            0.0
        } else {
            f64::from(v / self.requests)
        }
    }

    /// Share of requests that carried credentials.
    pub fn credential_share(&self) -> f64 {
        self.share(self.credentialed)
    }

    /// Share of requests answered 401 or 403.
    pub fn auth_failure_ratio(&self) -> f64 {
        self.share(self.auth_failures)
    }

    /// Share of requests answered with status class `c` (2 for 2xx ... 5 for 5xx).
    pub fn class_share(&self, c: u16) -> f64 {
        match c {
            2..=5 => self.share(self.by_class[usize::from(c - 2)]),
            _ => 0.0,
        }
    }

    fn is_valid(&self) -> bool {
        std::iter::once(self.requests)
            .chain(self.by_class)
            .chain([self.auth_failures, self.credentialed, self.unauth_success])
            .all(|v| v.is_finite() && v >= 0.0)
    }
}

/// Response volume: bytes per active minute (EWMA over the minutes with traffic) and the
/// sliding-window total the exfiltration rules compare with it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// Minute index being summed (0: none yet).
    minute: u32,
    minute_bytes: u64,
    /// Mean bytes per active minute.
    pub active_mean: f32,
    /// Active minutes learned (saturating).
    pub active_minutes: u16,
    /// The first minute (partial: the actor appeared in its middle) has passed unlearned.
    started: bool,
    /// Bytes and responses in the detection window.
    pub window: WindowSum,
    pub window_responses: WindowCount,
}

/// Smoothing of the per-active-minute volume (memory of about 30 active minutes).
const ALPHA_VOLUME: f32 = 1.0 / 30.0;

impl Volume {
    /// Adds `bytes` at `ts`; returns the bytes of an active minute that just closed.
    fn add(&mut self, ts: u64, bytes: u64, window_ns: u64) -> Option<u64> {
        let m = (ts / MINUTE).min(u64::from(u32::MAX)) as u32;
        let mut closed = None;
        if m > self.minute {
            if self.minute != 0 {
                closed = Some(self.minute_bytes);
                if self.started {
                    self.fold(self.minute_bytes);
                }
                self.started = true;
            }
            self.minute = m;
            self.minute_bytes = 0;
        }
        self.minute_bytes = self.minute_bytes.saturating_add(bytes);
        self.window.add(ts, window_ns, bytes);
        self.window_responses.add(ts, window_ns);
        closed
    }

    fn fold(&mut self, bytes: u64) {
        let b = bytes as f32;
        if self.active_minutes == 0 {
            self.active_mean = b;
        } else {
            self.active_mean += ALPHA_VOLUME * (b - self.active_mean);
        }
        self.active_minutes = self.active_minutes.saturating_add(1);
    }

    /// Expected bytes over a window of `window_secs` (as if active every minute of it), once
    /// `min_minutes` active minutes are learned.
    pub fn expected_per_window(&self, window_secs: u64, min_minutes: u16) -> Option<f64> {
        (self.active_minutes >= min_minutes)
            .then(|| f64::from(self.active_mean) * (window_secs as f64 / 60.0).max(1.0))
    }

    pub fn scale(&mut self, f: f32) {
        self.minute_bytes = (self.minute_bytes as f32 * f) as u64;
        self.active_mean *= f;
        self.window.scale(f64::from(f));
    }

    pub fn merge(&mut self, o: &Volume) {
        // Rates of disjoint partitions add up; the learned length is the longer one.
        self.active_mean += o.active_mean;
        self.active_minutes = self.active_minutes.max(o.active_minutes);
        self.started |= o.started;
        if o.minute == self.minute {
            self.minute_bytes = self.minute_bytes.saturating_add(o.minute_bytes);
        } else if o.minute > self.minute {
            self.minute = o.minute;
            self.minute_bytes = o.minute_bytes;
        }
        self.window.merge(&o.window);
    }
}

/// Up to four recent client fingerprints of an actor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fingerprints {
    pub recent: [u32; 4],
    /// Times a fingerprint not among the recent ones appeared after the first.
    pub changes: u16,
}

impl Fingerprints {
    /// Remembers `fp`; true when it is new for an actor that had one before.
    fn see(&mut self, fp: u32) -> bool {
        if fp == 0 || self.recent.contains(&fp) {
            return false;
        }
        let had = self.recent[0] != 0;
        self.recent.rotate_right(1);
        self.recent[0] = fp;
        if had {
            self.changes = self.changes.saturating_add(1);
        }
        had
    }
}

/// What is normal for one actor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActorBaseline {
    pub rate: HourlyRate,
    pub mix: Mix,
    pub volume: Volume,
    pub fingerprints: Fingerprints,
    pub first_seen: u64,
    /// The busiest whole minute's requests, decaying by [`PEAK_DECAY`] per active minute:
    /// what "far above its own baseline" compares with for bursty clients.
    #[serde(default)]
    pub peak_per_minute: f32,
    /// Whole active minutes learned (saturating).
    #[serde(default)]
    pub active_minutes: u16,
}

/// Decay of an actor's peak requests per minute per active minute (half-life of about 35
/// active minutes).
const PEAK_DECAY: f32 = 0.98;
/// Requests per minute a peak may grow by beyond doubling, per active minute.
const PEAK_GROWTH_SLACK: f32 = 30.0;

/// What one exchange closed in an actor's baseline.
pub struct Learned {
    /// Response bytes of an active minute that closed.
    pub minute_bytes: Option<u64>,
    /// Requests of an active minute that closed.
    pub minute_requests: Option<f32>,
    /// The client fingerprint was new for the actor.
    pub new_fingerprint: bool,
}

impl ActorBaseline {
    /// Learns one exchange.
    fn learn(&mut self, f: &Features, window_ns: u64) -> Learned {
        if self.first_seen == 0 {
            self.first_seen = f.ts;
        }
        let minute_requests = self.rate.add(f.ts);
        if let Some(n) = minute_requests {
            // A sudden jump is learned over several minutes (at most about doubling per
            // minute), so a flood does not become its own baseline in its first minute.
            let grown = n.min(2.0 * self.peak_per_minute + PEAK_GROWTH_SLACK);
            self.peak_per_minute = (self.peak_per_minute * PEAK_DECAY).max(grown);
            self.active_minutes = self.active_minutes.saturating_add(1);
        }
        self.mix.add(f, ACTOR_DECAY_AT);
        let minute_bytes = self.volume.add(f.ts, f.response_bytes, window_ns);
        Learned {
            minute_bytes,
            minute_requests,
            new_fingerprint: self.fingerprints.see(f.fingerprint),
        }
    }

    fn is_valid(&self) -> bool {
        self.rate.is_valid()
            && self.mix.is_valid()
            && self.volume.active_mean.is_finite()
            && self.peak_per_minute.is_finite()
            && self.peak_per_minute >= 0.0
    }
}

/// An identity's baseline and the address it was last used from (which shard a loaded
/// snapshot gives it to).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityBaseline {
    pub base: ActorBaseline,
    pub last_ip: Option<IpAddr>,
}

/// The [`crate::template::endpoint_key`] of an endpoint baseline's name (`host METHOD
/// /template`), as learning computed it.
fn endpoint_key_of_name(name: &str) -> u64 {
    let (host, endpoint) = name.split_once(' ').unwrap_or(("", ""));
    let (method, template) = endpoint.split_once(' ').unwrap_or(("", ""));
    crate::template::endpoint_key(crate::hashing::hash64(&(host, template)), method)
}

/// What is normal for one endpoint template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointBaseline {
    /// `host METHOD /template`.
    pub name: Box<str>,
    pub rate: HourlyRate,
    pub mix: Mix,
    pub sizes: LogHistogram,
    pub volume: Volume,
}

impl EndpointBaseline {
    fn learn(&mut self, f: &Features, window_ns: u64) {
        self.rate.add(f.ts);
        self.mix.add(f, ENDPOINT_DECAY_AT);
        if f.status.is_some() {
            if self.sizes.total() >= f64::from(ENDPOINT_DECAY_AT) {
                self.sizes.scale(0.5);
            }
            self.sizes.add(f.response_bytes);
        }
        self.volume.add(f.ts, f.response_bytes, window_ns);
    }

    fn scale(&mut self, f: f32) {
        self.rate.scale(f);
        self.mix.scale(f);
        self.sizes.scale(f);
        self.volume.scale(f);
    }

    fn merge(&mut self, o: &EndpointBaseline) {
        self.rate.merge(&o.rate);
        self.mix.merge(&o.mix);
        self.sizes.merge(&o.sizes);
        self.volume.merge(&o.volume);
    }

    fn is_valid(&self) -> bool {
        self.rate.is_valid() && self.mix.is_valid() && self.sizes.is_valid()
    }
}

/// What is normal for all traffic a worker sees.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GlobalBaseline {
    pub rate: HourlyRate,
    pub mix: Mix,
    pub sizes: LogHistogram,
    /// Response bytes per source address per active minute, over all sources.
    pub actor_minute_bytes: LogHistogram,
    /// Requests per source address per active minute, over all sources (what "the
    /// population's" rate means for floods).
    #[serde(default)]
    pub actor_minute_requests: LogHistogram,
}

impl GlobalBaseline {
    fn scale(&mut self, f: f32) {
        self.rate.scale(f);
        self.mix.scale(f);
        self.sizes.scale(f);
        self.actor_minute_bytes.scale(f);
        self.actor_minute_requests.scale(f);
    }

    fn merge(&mut self, o: &GlobalBaseline) {
        self.rate.merge(&o.rate);
        self.mix.merge(&o.mix);
        self.sizes.merge(&o.sizes);
        self.actor_minute_bytes.merge(&o.actor_minute_bytes);
        self.actor_minute_requests.merge(&o.actor_minute_requests);
    }

    fn is_valid(&self) -> bool {
        self.rate.is_valid()
            && self.mix.is_valid()
            && self.sizes.is_valid()
            && self.actor_minute_bytes.is_valid()
            && self.actor_minute_requests.is_valid()
    }
}

/// Baseline counters for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BaselineStats {
    /// Packet time learned, seconds.
    pub learned_secs: u64,
    pub warm: bool,
    pub endpoints: u64,
    pub identities: u64,
    /// Endpoint and identity baselines evicted to stay within their caps.
    pub endpoints_evicted: u64,
    pub identities_evicted: u64,
    /// Actors seen with a client fingerprint they had not used recently.
    pub fingerprint_changes: u64,
    /// Snapshots loaded, and refused (unknown format, other version, invalid values).
    pub snapshots_loaded: u64,
    pub snapshots_rejected: u64,
}

/// What the detectors read after one exchange was learned.
pub struct Seen<'a> {
    pub global: &'a GlobalBaseline,
    pub endpoint: &'a EndpointBaseline,
    pub identity: Option<(&'a Arc<str>, &'a ActorBaseline)>,
    pub warm: bool,
    /// The window endpoint and actor volumes slide over (the exfiltration window).
    pub window_ns: u64,
    /// The client fingerprint was new for the source address.
    pub new_fingerprint: bool,
}

/// The table keys of one record's endpoint and identity, hashed once per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keys {
    /// [`crate::template::endpoint_key`] of the endpoint on its host.
    pub host_endpoint: u64,
    /// Hash of the identity learned: `user.id`, else `apitap.identity.id`.
    pub identity: Option<u64>,
}

/// The [`Keys::identity`] of an identity.
pub fn identity_key(id: &str) -> u64 {
    crate::hashing::hash64(id)
}

/// Endpoint, identity and global baselines of one worker (per-address ones live in the
/// per-source table entry, next to the detectors' state).
pub struct Baselines {
    config: BaselineConfig,
    /// The exfiltration window the volumes slide over.
    window_ns: u64,
    pub global: GlobalBaseline,
    endpoints: ActorTable<u64, EndpointBaseline>,
    /// Keyed by the identity's hash ([`Keys::identity`]), holding the identity itself.
    identities: ActorTable<u64, (Arc<str>, IdentityBaseline)>,
    learned_ns: u64,
    last_ts: u64,
    stats: BaselineStats,
}

impl Baselines {
    pub fn new(config: BaselineConfig, max_identities: usize, ttl_ns: u64, window_ns: u64) -> Self {
        Baselines {
            endpoints: ActorTable::new(config.max_endpoints, u64::MAX),
            identities: ActorTable::new(max_identities, ttl_ns),
            config,
            window_ns,
            global: GlobalBaseline::default(),
            learned_ns: 0,
            last_ts: 0,
            stats: BaselineStats::default(),
        }
    }

    /// Enough packet time learned for baseline-based detectors to judge.
    pub fn warm(&self) -> bool {
        self.learned_ns >= self.config.warmup_secs.saturating_mul(SECOND)
    }

    pub fn window_ns(&self) -> u64 {
        self.window_ns
    }

    /// Learns one exchange of `ip` (whose baseline is `ip_base`) on `endpoint` (`METHOD
    /// /template` of `host`); `keys` are the record's table keys.
    #[allow(clippy::too_many_arguments)]
    pub fn learn<'a>(
        &'a mut self,
        f: &Features,
        r: &RequestRecord,
        ip_base: &mut ActorBaseline,
        host: &str,
        endpoint: &str,
        keys: Keys,
    ) -> Seen<'a> {
        if self.last_ts == 0 {
            self.last_ts = f.ts;
        }
        if f.ts > self.last_ts {
            self.learned_ns += (f.ts - self.last_ts).min(MAX_IDLE_CREDIT);
            self.last_ts = f.ts;
        }
        let w = self.window_ns;
        let g = &mut self.global;
        g.rate.add(f.ts);
        g.mix.add(f, GLOBAL_DECAY_AT);
        if f.status.is_some() {
            if g.sizes.total() >= f64::from(GLOBAL_DECAY_AT) {
                g.sizes.scale(0.5);
            }
            g.sizes.add(f.response_bytes);
        }
        let learned = ip_base.learn(f, w);
        let new_fp = learned.new_fingerprint;
        if let Some(b) = learned.minute_bytes {
            if g.actor_minute_bytes.total() >= f64::from(GLOBAL_DECAY_AT) {
                g.actor_minute_bytes.scale(0.5);
            }
            g.actor_minute_bytes.add(b);
        }
        if let Some(n) = learned.minute_requests {
            if g.actor_minute_requests.total() >= f64::from(GLOBAL_DECAY_AT) {
                g.actor_minute_requests.scale(0.5);
            }
            g.actor_minute_requests.add(n as u64);
        }
        self.stats.fingerprint_changes += u64::from(new_fp);
        let endpoint_slot = self.endpoints.entry_slot(&keys.host_endpoint, f.ts);
        let e = self.endpoints.at_mut(endpoint_slot);
        if e.name.is_empty() {
            e.name = format!("{host} {endpoint}").into();
        }
        e.learn(f, w);
        let identity = r
            .user
            .as_ref()
            .map(|u| &u.id)
            .or(r.apitap.identity.as_ref().map(|i| &i.id));
        let identity_slot = identity.map(|id| {
            let key = keys.identity.unwrap_or_else(|| identity_key(id));
            let i = self.identities.entry_slot(&key, f.ts);
            let (known, s) = self.identities.at_mut(i);
            if known.is_empty() {
                *known = id.clone();
            }
            s.base.learn(f, w);
            s.last_ip = Some(r.source.ip);
            i
        });
        let warm = self.warm();
        Seen {
            global: &self.global,
            endpoint: self.endpoints.at(endpoint_slot).1,
            identity: identity_slot.map(|i| {
                let (id, v) = self.identities.at(i).1;
                (id, &v.base)
            }),
            warm,
            window_ns: w,
            new_fingerprint: new_fp,
        }
    }

    /// The endpoint, identity and global part of a snapshot (the analyzer adds the rest).
    pub fn export(&self) -> snapshot::Snapshot {
        let mut endpoints: Vec<_> = self
            .endpoints
            .iter()
            .map(|(_, last_seen, b)| snapshot::EndpointEntry {
                last_seen,
                baseline: b.clone(),
            })
            .collect();
        endpoints.sort_by(|a, b| a.baseline.name.cmp(&b.baseline.name));
        let mut identities: Vec<_> = self
            .identities
            .iter()
            .map(|(_, last_seen, (id, b))| snapshot::IdentityEntry {
                id: id.clone(),
                last_seen,
                baseline: b.clone(),
            })
            .collect();
        identities.sort_by(|a, b| a.id.cmp(&b.id));
        snapshot::Snapshot {
            learned_ns: self.learned_ns,
            last_ts: self.last_ts,
            global: self.global.clone(),
            endpoints,
            identities,
            ..Default::default()
        }
    }

    /// Replaces endpoint, identity and global baselines with a snapshot's.
    pub fn import(&mut self, s: snapshot::Snapshot) {
        self.learned_ns = s.learned_ns;
        self.last_ts = s.last_ts;
        self.global = s.global;
        for e in s.endpoints {
            let key = endpoint_key_of_name(&e.baseline.name);
            self.endpoints.insert(key, e.baseline, e.last_seen);
        }
        for i in s.identities {
            self.identities
                .insert(identity_key(&i.id), (i.id, i.baseline), i.last_seen);
        }
    }

    pub fn stats(&self) -> BaselineStats {
        BaselineStats {
            learned_secs: self.learned_ns / SECOND,
            warm: self.warm(),
            endpoints: self.endpoints.len() as u64,
            identities: self.identities.len() as u64,
            endpoints_evicted: self.endpoints.evicted,
            identities_evicted: self.identities.evicted,
            ..self.stats.clone()
        }
    }
}

#[cfg(test)]
mod tests;
