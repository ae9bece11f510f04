//! `account_takeover`: an account used by someone else.
//!
//! Three signals, each explained in the alert:
//! - **Lock-out changes**: within `window_secs` one identity writes to two or more kinds of
//!   account-recovery data — credentials (password, MFA, recovery), contact (email, phone),
//!   payment (cards, payout), API keys. Owners change one thing at a time; takeovers change
//!   what would let the owner back in and what pays. Raised to high severity when the identity
//!   arrived from a network and a client fingerprint its history never showed.
//! - **Success after failures**: a login succeeds from a source that failed at least
//!   `min_failures_before_success` logins in the brute-force window (the end of a stuffing or
//!   guessing run).
//! - **Concurrent far-apart use**: one identity's requests alternate between networks that
//!   share no /16 (IPv4) or /32 (IPv6) at least `min_network_switches` times within
//!   `concurrent_secs` — two parties holding the same token at once.
//!
//! State is per identity (the keyed hash the sensor puts on the record; the table holds a
//! 64-bit hash of it, computed once per record for every detector), bounded by
//! `max_actors` with evictions counted. Networks are /24 (IPv4) or /48 (IPv6) prefixes;
//! fingerprints are the user agent's hash. The sensor shards records with an identity by
//! that identity, so one worker sees all of an identity's requests.

use super::{Candidate, Observation, SECOND};
use crate::actors::ActorTable;
use crate::config::AccountTakeoverConfig;
use crate::window::WindowCount;
use crate::words::WordSet;
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};
use std::net::IpAddr;

/// Networks and fingerprints remembered per identity.
const KNOWN: usize = 4;

const CREDENTIALS: u8 = 1;
const CONTACT: u8 = 1 << 1;
const PAYMENT: u8 = 1 << 2;
const API_KEYS: u8 = 1 << 3;

#[derive(Debug, Default)]
pub struct State {
    nets: Recent,
    fingerprints: Recent,
    /// Successful authenticated requests seen.
    history: u64,
    first_seen: u64,
    /// The current burst of sensitive writes.
    burst_start: u64,
    kinds: u8,
    writes: u32,
    samples: Vec<String>,
    /// The burst's identity came from an unknown network and fingerprint.
    new_context: bool,
    /// When the identity last arrived from an unknown network and fingerprint.
    new_context_ts: u64,
    /// Network of the previous request and the switches between wide networks.
    last_wide: u64,
    last_wide_ts: u64,
    switches: WindowCount,
    switch_first: u64,
    wide_seen: Vec<String>,
}

pub struct AccountTakeover {
    config: AccountTakeoverConfig,
    /// Keyed by the hash of the identity ([`Observation::identity_key`]).
    pub identities: ActorTable<u64, State>,
}

fn network(ip: IpAddr, wide: bool) -> u64 {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            let bits: u32 = if wide { 16 } else { 24 };
            u64::from(u32::from_be_bytes(o) >> (32 - bits)) | (u64::from(bits) << 40)
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            let n = if wide { 2 } else { 3 };
            let mut h = 0x6u64 << 60 | (n as u64) << 56;
            for x in &s[..n] {
                h = h.rotate_left(16) ^ u64::from(*x);
            }
            h
        }
    }
}

fn wide_label(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            format!("{}.{}.0.0/16", o[0], o[1])
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            format!("{:x}:{:x}::/32", s[0], s[1])
        }
    }
}

/// Path words naming each kind of account-recovery data (matched ignoring case).
static SENSITIVE_PATH_WORDS: std::sync::LazyLock<WordSet> = std::sync::LazyLock::new(|| {
    WordSet::tagged(&[
        (
            &[
                "password",
                "passwd",
                "credential",
                "mfa",
                "2fa",
                "otp",
                "totp",
                "recovery",
                "security",
            ],
            CREDENTIALS,
        ),
        (&["email", "phone", "mobile", "contact"], CONTACT),
        (
            &[
                "payment", "card", "bank", "payout", "wallet", "iban", "billing",
            ],
            PAYMENT,
        ),
        (
            &[
                "api-key",
                "apikey",
                "api_key",
                "/keys",
                "/tokens",
                "access-token",
            ],
            API_KEYS,
        ),
    ])
});

/// JSON keys of a write body that carry account-recovery data, with their kind; the
/// substring finders are built once (building one costs more than searching a short body).
static BODY_KEYS: std::sync::LazyLock<[(memchr::memmem::Finder<'static>, u8); 5]> =
    std::sync::LazyLock::new(|| {
        [
            ("\"email\"", CONTACT),
            ("\"phone\"", CONTACT),
            ("\"mobile\"", CONTACT),
            ("\"password\"", CREDENTIALS),
            ("\"new_password\"", CREDENTIALS),
        ]
        .map(|(key, kind)| (memchr::memmem::Finder::new(key), kind))
    });

/// Which kind of account-recovery data a write touches, from its path and JSON body keys.
fn sensitive_kind(template: &str, body: &[u8]) -> u8 {
    let mut k = SENSITIVE_PATH_WORDS.tags(template.as_bytes());
    if k == 0 && !body.is_empty() {
        // A profile update carrying recovery data (`{"email": …}`).
        let b = &body[..body.len().min(4096)];
        for (finder, kind) in BODY_KEYS.iter() {
            if k & kind == 0 && finder.find(b).is_some() {
                k |= kind;
            }
        }
    }
    k
}

fn kind_names(k: u8) -> Vec<&'static str> {
    [
        (CREDENTIALS, "credentials"),
        (CONTACT, "contact"),
        (PAYMENT, "payment"),
        (API_KEYS, "api_keys"),
    ]
    .into_iter()
    .filter(|(b, _)| k & b != 0)
    .map(|(_, n)| n)
    .collect()
}

/// The last [`KNOWN`] distinct hashes (networks or fingerprints) with when each was last
/// seen, kept inline: a heap vector would cost an allocation and its header per identity.
#[derive(Debug, Default)]
struct Recent {
    entries: [(u64, u64); KNOWN],
    len: u8,
}

impl Recent {
    #[cfg(test)]
    fn as_slice(&self) -> &[(u64, u64)] {
        &self.entries[..usize::from(self.len)]
    }
}

/// Whether `h` was known (it is remembered as seen at `ts` either way; the least recently
/// seen entry makes room).
fn remember(list: &mut Recent, h: u64, ts: u64) -> bool {
    let len = usize::from(list.len);
    if let Some(e) = list.entries[..len].iter_mut().find(|e| e.0 == h) {
        e.1 = ts;
        return true;
    }
    if len < KNOWN {
        list.entries[len] = (h, ts);
        list.len += 1;
    } else if let Some(oldest) = list.entries.iter_mut().min_by_key(|e| e.1) {
        *oldest = (h, ts);
    }
    false
}

impl AccountTakeover {
    pub fn new(config: AccountTakeoverConfig, max_actors: usize, ttl: u64) -> Self {
        AccountTakeover {
            config,
            identities: ActorTable::new(max_actors, ttl),
        }
    }

    /// A login that succeeded after `recent_failures` failed ones from the same source.
    pub fn login_success(&self, o: &Observation<'_>, recent_failures: f64) -> Option<Candidate> {
        let l = o.login?;
        if l.failed || recent_failures < f64::from(self.config.min_failures_before_success) {
            return None;
        }
        Some(Candidate {
            category: Category::AccountTakeover,
            detector: "account_takeover",
            rule_id: "apitap.account_takeover.success_after_failures",
            rule_name: "Login success at the end of a run of failures",
            severity: Severity::High,
            score: (0.7 + recent_failures / 200.0).min(0.95),
            actor_kind: "ip",
            actor: o.ip.to_string().into(),
            endpoint: Some(o.endpoint.to_string()),
            count: 1,
            first_seen: o.ts,
            evidence: Evidence {
                summary: format!(
                    "a login from {} succeeded after {recent_failures:.0} failed logins from the same source",
                    o.ip
                ),
                observed: vec![Measure::new("failed_logins_before", recent_failures)],
                expected: vec![Measure::new(
                    "min_failures_before_success",
                    f64::from(self.config.min_failures_before_success),
                )],
                samples: vec![o.sample()],
            },
            recommendation: Some(Recommendation {
                action: "revoke_credential".into(),
                target: "the account logged in to (see the sample)".into(),
                value: None,
            }),
        })
    }

    /// An authenticated exchange; candidates for lock-out changes and concurrent use.
    pub fn observe(&mut self, o: &Observation<'_>, out: &mut [Option<Candidate>; 2]) {
        let r = o.record;
        let (Some(id), Some(key)) = (r.apitap.identity.as_ref(), o.identity_key) else {
            return;
        };
        let ok = o.status.is_some_and(|s| (200..400).contains(&s));
        if !ok {
            return;
        }
        let cfg = &self.config;
        let w = cfg.window_secs * SECOND;
        let s = self.identities.entry(&key, o.ts);
        if s.history == 0 {
            s.first_seen = o.ts;
        }
        let established = s.history >= u64::from(cfg.min_history_requests)
            && o.ts.saturating_sub(s.first_seen) >= cfg.min_history_secs * SECOND;
        let ua = o.user_agent_key;
        let known_net = remember(&mut s.nets, network(o.ip, false), o.ts);
        let known_fp = remember(&mut s.fingerprints, ua, o.ts);
        if established && !known_net && !known_fp {
            s.new_context_ts = o.ts;
        }
        let new_context = s.new_context_ts != 0 && o.ts.saturating_sub(s.new_context_ts) <= w;
        s.history += 1;

        // Concurrent use from far-apart networks.
        let wide = network(o.ip, true);
        let cw = cfg.concurrent_secs * SECOND;
        if s.last_wide != 0 && s.last_wide != wide && o.ts.saturating_sub(s.last_wide_ts) <= cw {
            if s.switches.value(o.ts, cw) < 1.0 {
                s.switch_first = o.ts;
                s.wide_seen.clear();
            }
            s.switches.add(o.ts, cw);
            let label = wide_label(o.ip);
            if s.wide_seen.len() < 4 && !s.wide_seen.contains(&label) {
                s.wide_seen.push(label);
            }
            let n = s.switches.value(o.ts, cw);
            if n >= f64::from(cfg.min_network_switches) {
                out[1] = Some(Candidate {
                    category: Category::AccountTakeover,
                    detector: "account_takeover",
                    rule_id: "apitap.account_takeover.concurrent_use",
                    rule_name: "One identity used from far-apart networks at once",
                    severity: Severity::High,
                    score: (0.6 + n / 40.0).min(0.95),
                    actor_kind: "identity",
                    actor: id.id.clone(),
                    endpoint: None,
                    count: n as u64,
                    first_seen: s.switch_first,
                    evidence: Evidence {
                        summary: format!(
                            "identity {} switched {n:.0} times between networks with no common /16 within {} s (now {}, also {})",
                            id.id,
                            cfg.concurrent_secs,
                            o.ip,
                            s.wide_seen.join(", ")
                        ),
                        observed: vec![Measure::new("network_switches", n)],
                        expected: vec![
                            Measure::new(
                                "min_network_switches",
                                f64::from(cfg.min_network_switches),
                            ),
                            Measure::new("concurrent_secs", cfg.concurrent_secs as f64),
                        ],
                        samples: vec![o.sample()],
                    },
                    recommendation: Some(Recommendation {
                        action: "revoke_credential".into(),
                        target: id.id.to_string(),
                        value: None,
                    }),
                });
            }
        }
        s.last_wide = wide;
        s.last_wide_ts = o.ts;

        // Lock-out changes.
        let method = r.http.request.method.as_ref();
        if matches!(method, "GET" | "HEAD" | "OPTIONS") || o.login.is_some() {
            return;
        }
        // Body keys say what an update changes; a create (sign-up, login) names them too.
        let body: &[u8] = if matches!(method, "PUT" | "PATCH") {
            &r.extras.request_body
        } else {
            b""
        };
        let kind = sensitive_kind(o.template, body);
        if kind == 0 {
            return;
        }
        if s.kinds == 0 || o.ts.saturating_sub(s.burst_start) > w {
            s.burst_start = o.ts;
            s.kinds = 0;
            s.writes = 0;
            s.samples.clear();
            s.new_context = false;
        }
        s.new_context |= new_context;
        s.kinds |= kind;
        s.writes += 1;
        if s.samples.len() < 4 {
            s.samples.push(o.sample());
        }
        let kinds = s.kinds.count_ones();
        // Kinds changed in separate requests: one form that carries several is one change.
        if kinds < cfg.min_sensitive_kinds || s.writes < 2 {
            return;
        }
        let names = kind_names(s.kinds);
        out[0] = Some(Candidate {
            category: Category::AccountTakeover,
            detector: "account_takeover",
            rule_id: "apitap.account_takeover.lockout_changes",
            rule_name: "Account recovery data changed together",
            severity: if s.new_context {
                Severity::Critical
            } else {
                Severity::High
            },
            score: (0.6 + 0.1 * f64::from(kinds) + if s.new_context { 0.15 } else { 0.0 }).min(1.0),
            actor_kind: "identity",
            actor: id.id.clone(),
            endpoint: None,
            count: u64::from(s.writes),
            first_seen: s.burst_start,
            evidence: Evidence {
                summary: format!(
                    "identity {} changed {} within {:.0} s from {}{}",
                    id.id,
                    names.join(", "),
                    (o.ts - s.burst_start) as f64 / SECOND as f64,
                    o.ip,
                    if s.new_context {
                        ", a network and client its history never showed"
                    } else {
                        ""
                    }
                ),
                observed: vec![
                    Measure::new("sensitive_kinds", f64::from(kinds)),
                    Measure::new("sensitive_writes", f64::from(s.writes)),
                    Measure::new("new_network_and_client", f64::from(u8::from(s.new_context))),
                    Measure::new("identity_history_requests", s.history as f64),
                ],
                expected: vec![
                    Measure::new("min_sensitive_kinds", f64::from(cfg.min_sensitive_kinds)),
                    Measure::new("window_secs", cfg.window_secs as f64),
                ],
                samples: s.samples.clone(),
            },
            recommendation: Some(Recommendation {
                action: "revoke_credential".into(),
                target: id.id.to_string(),
                value: None,
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_kinds_from_paths_and_bodies() {
        assert_eq!(
            sensitive_kind("/api/v1/users/{id}/password", b""),
            CREDENTIALS
        );
        assert_eq!(
            sensitive_kind("/api/v1/users/{id}/payment-methods", b""),
            PAYMENT
        );
        assert_eq!(
            sensitive_kind("/api/v1/users/{id}", br#"{"email":"x@y.example"}"#),
            CONTACT
        );
        assert_eq!(
            sensitive_kind("/api/v1/users/{id}", br#"{"nickname":"x"}"#),
            0
        );
        assert_eq!(sensitive_kind("/api/v1/cart/items", b""), 0);
        assert_eq!(
            sensitive_kind(
                "/api/v1/users/{id}",
                br#"{"mobile":"1","new_password":"x"}"#
            ),
            CONTACT | CREDENTIALS
        );
    }

    #[test]
    fn networks_and_memory() {
        let a: IpAddr = "198.18.1.2".parse().unwrap();
        let b: IpAddr = "198.18.1.99".parse().unwrap();
        let c: IpAddr = "198.19.1.2".parse().unwrap();
        assert_eq!(network(a, false), network(b, false));
        assert_ne!(network(a, true), network(c, true));
        assert_ne!(network(a, true), network(a, false));
        let mut l = Recent::default();
        for i in 0..10 {
            assert!(!remember(&mut l, i, i));
        }
        assert_eq!(l.as_slice().len(), KNOWN);
        // The four most recent stayed; 9 is known and refreshed, 5 was pushed out.
        assert!(remember(&mut l, 9, 20));
        assert!(!remember(&mut l, 5, 21));
        assert!(l.as_slice().iter().all(|e| e.0 != 6));
        assert_eq!(wide_label(c), "198.19.0.0/16");
    }
}
