//! `bot`: automated clients that are not declared integrations — scripted or headless
//! fingerprints, clockwork timing, no think time — told apart from good bots.
//!
//! Per source: inter-arrival times as an exponentially weighted mean and variance (their
//! ratio, the coefficient of variation, is near 0 for a timer loop and near or above 1 for a
//! person), and a windowed request count. A candidate needs volume (`min_requests` in the
//! window), an automation fingerprint (a scripting or headless user agent, or none at all),
//! and machine timing (coefficient of variation under `max_timing_cv`, or a mean gap under
//! `max_mean_gap_ms`). Not alerted: sources whose requests mostly carry an API key or a token
//! (integrations are automated by design; abuse by them is for the other detectors) unless
//! the fingerprint is a headless browser — integrations do not drive one, so that is a
//! user's session under automation (`automated_session`: scalpers, checkout bots) —, health
//! and monitoring paths, and user agents of known good bots (search crawlers, uptime monitors) unless a
//! list of their verified addresses is configured and the source is not in it — then the
//! claim is the alert (`impersonated_crawler`).

use super::{Candidate, Observation, SECOND};
use crate::config::BotConfig;
use crate::window::WindowCount;
use crate::words::WordSet;
use apitap_proto::{Category, Evidence, Measure, Recommendation, Severity};
use std::sync::LazyLock;

/// Per-source timing and volume.
#[derive(Debug, Default)]
pub struct State {
    requests: WindowCount,
    /// Requests that carried credentials (an API key, a token, a session).
    authenticated: WindowCount,
    last_ts: u64,
    gaps: u32,
    mean_gap_ms: f64,
    var_gap: f64,
    first_seen: u64,
    /// The last user agent's hash ([`Observation::user_agent_key`]) and what it was found
    /// to be: a source keeps its client, so the word lists run once per client change.
    user_agent_key: u64,
    user_agent: UserAgentClass,
}

/// What a user agent says about the client, in three bytes (it lives in every source's
/// state): list positions, not the words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct UserAgentClass {
    /// The user agent has been read (the other fields mean something).
    read: bool,
    /// 1 + the position in [`GOOD_BOTS`] of the name it carries; 0 for none.
    good_bot: u8,
    /// 1 + the position in [`SCRIPTED`] of the fragment it carries, [`NO_USER_AGENT`], or 0.
    automation: u8,
}

/// [`UserAgentClass::automation`] of a request without a user agent.
const NO_USER_AGENT: u8 = u8::MAX;

/// 1 + the position of `word` in `list` (0 when absent).
fn position_code(list: &[&str], word: Option<&str>) -> u8 {
    word.and_then(|w| list.iter().position(|l| *l == w))
        .and_then(|i| u8::try_from(i + 1).ok())
        .unwrap_or(0)
}

impl UserAgentClass {
    fn of(ua: &str) -> UserAgentClass {
        UserAgentClass {
            read: true,
            good_bot: position_code(&GOOD_BOTS, GOOD_BOT_UA.first(ua.as_bytes())),
            automation: if ua.trim().is_empty() {
                NO_USER_AGENT
            } else {
                position_code(&SCRIPTED, SCRIPTED_UA.first(ua.as_bytes()))
            },
        }
    }

    fn good_bot(self) -> Option<&'static str> {
        GOOD_BOTS
            .get(usize::from(self.good_bot).checked_sub(1)?)
            .copied()
    }

    /// `no_user_agent`, or the [`SCRIPTED`] fragment the user agent carries.
    fn automation(self) -> Option<&'static str> {
        match self.automation {
            0 => None,
            NO_USER_AGENT => Some("no_user_agent"),
            n => SCRIPTED.get(usize::from(n) - 1).copied(),
        }
    }
}

/// User-agent fragments of scripting libraries, tools, scanners and headless browsers
/// (lower case).
const SCRIPTED: [&str; 34] = [
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "curl/",
    "wget/",
    "go-http-client",
    "java/",
    "apache-httpclient",
    "okhttp/3.", // bare okhttp without an app name
    "node-fetch",
    "axios/",
    "libwww-perl",
    "scrapy",
    "headlesschrome",
    "phantomjs",
    "selenium",
    "puppeteer",
    "playwright",
    "httpclient",
    "ruby",
    "postmanruntime",
    "gobuster",
    "fuzz faster u fool",
    "ffuf",
    "wfuzz",
    "feroxbuster",
    "dirbuster",
    "nikto",
    "sqlmap",
    "nuclei",
    "zgrab",
    "masscan",
    "hydra",
];

/// The [`SCRIPTED`] fragments that are browser automation, not HTTP libraries.
const HEADLESS: [&str; 5] = [
    "headlesschrome",
    "phantomjs",
    "selenium",
    "puppeteer",
    "playwright",
];

/// User agents of well-known good bots (lower case).
const GOOD_BOTS: [&str; 12] = [
    "googlebot",
    "bingbot",
    "duckduckbot",
    "applebot",
    "yandexbot",
    "baiduspider",
    "uptimerobot",
    "pingdom",
    "statuscake",
    "site24x7",
    "datadog",
    "kube-probe",
];

/// [`SCRIPTED`] and [`GOOD_BOTS`], compiled once (matched ignoring case).
static SCRIPTED_UA: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(&SCRIPTED));
static GOOD_BOT_UA: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(&GOOD_BOTS));

impl State {
    /// The source's mean gap between requests, ms (∞ before two requests).
    pub fn mean_gap_ms(&self) -> f64 {
        if self.gaps == 0 {
            f64::INFINITY
        } else {
            self.mean_gap_ms
        }
    }
}

pub struct Bot {
    config: BotConfig,
    verified: Vec<crate::manager::Prefix>,
}

impl Bot {
    pub fn new(config: BotConfig) -> Result<Self, String> {
        let verified = config
            .verified_crawler_sources
            .iter()
            .map(|p| {
                crate::manager::Prefix::parse(p)
                    .ok_or_else(|| format!("bad address or prefix {p:?}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Bot { config, verified })
    }

    pub fn observe(&mut self, o: &Observation<'_>, s: &mut State) -> Option<Candidate> {
        let w = self.config.window_secs * SECOND;
        if s.requests.value(o.ts, w) < 1.0 {
            s.first_seen = o.ts;
        }
        s.requests.add(o.ts, w);
        if o.record.apitap.identity.is_some() {
            s.authenticated.add(o.ts, w);
        }
        if s.last_ts != 0 && o.ts >= s.last_ts {
            let gap_ms = (o.ts - s.last_ts) as f64 / 1e6;
            // EWMA mean and variance of gaps (alpha 0.1: about the last 20 gaps).
            let alpha = if s.gaps < 10 {
                1.0 / f64::from(s.gaps + 1)
            } else {
                0.1
            };
            let d = gap_ms - s.mean_gap_ms;
            s.mean_gap_ms += alpha * d;
            s.var_gap = (1.0 - alpha) * (s.var_gap + alpha * d * d);
            s.gaps = s.gaps.saturating_add(1);
        }
        s.last_ts = o.ts;
        let r = o.record;
        if o.health_path {
            return None;
        }
        let requests = s.requests.value(o.ts, w);
        if requests < f64::from(self.config.min_requests) || s.gaps < 20 {
            return None;
        }
        if !s.user_agent.read || s.user_agent_key != o.user_agent_key {
            let ua = r.user_agent.as_ref().map_or("", |u| u.original.as_str());
            s.user_agent = UserAgentClass::of(ua);
            s.user_agent_key = o.user_agent_key;
        }
        let class = s.user_agent;
        if let Some(good) = class.good_bot() {
            if self.verified.is_empty() || self.verified.iter().any(|p| p.contains(o.ip)) {
                return None;
            }
            return Some(self.candidate(
                o,
                s,
                requests,
                "impersonated_crawler",
                good,
                Severity::High,
            ));
        }
        let fingerprint = class.automation()?;
        // Declared integrations (API keys, tokens) are automated by design: a source that
        // mostly authenticates is one, even when some of its requests lack credentials —
        // unless it drives a headless browser, which integrations do not: that is a user's
        // session under automation (scalpers, checkout bots).
        let authenticated = s.authenticated.value(o.ts, w) >= 0.5 * requests;
        let browser_automation = HEADLESS.contains(&fingerprint);
        if authenticated && !browser_automation {
            return None;
        }
        let cv = s.var_gap.sqrt() / s.mean_gap_ms.max(1e-3);
        let machine_timing =
            cv < self.config.max_timing_cv || s.mean_gap_ms < self.config.max_mean_gap_ms;
        if !machine_timing {
            return None;
        }
        let kind = if authenticated {
            "automated_session"
        } else {
            "automated_client"
        };
        Some(self.candidate(o, s, requests, kind, fingerprint, Severity::Medium))
    }

    fn candidate(
        &self,
        o: &Observation<'_>,
        s: &State,
        requests: f64,
        kind: &'static str,
        fingerprint: &str,
        severity: Severity,
    ) -> Candidate {
        let cv = s.var_gap.sqrt() / s.mean_gap_ms.max(1e-3);
        let (rule_id, rule_name) = match kind {
            "impersonated_crawler" => (
                "apitap.bot.impersonated_crawler",
                "Crawler user agent from an address the crawler does not use",
            ),
            "automated_session" => (
                "apitap.bot.automated_session",
                "Browser automation driving a logged-in session (machine timing)",
            ),
            _ => (
                "apitap.bot.automated_client",
                "Unauthenticated automated client (scripted fingerprint, machine timing)",
            ),
        };
        Candidate {
            category: Category::Bot,
            detector: "bot",
            rule_id,
            rule_name,
            severity,
            score: if cv < 0.1 { 0.85 } else { 0.7 },
            actor_kind: "ip",
            actor: o.ip.to_string().into(),
            endpoint: None,
            count: requests.round() as u64,
            first_seen: s.first_seen,
            evidence: Evidence {
                summary: format!(
                    "{requests:.0} requests in {}s from {} with user agent matching '{fingerprint}', mean gap {:.0} ms, timing variation {cv:.2}",
                    self.config.window_secs, o.ip, s.mean_gap_ms
                ),
                observed: vec![
                    Measure::new("requests", requests.round()),
                    Measure::new("mean_gap_ms", (s.mean_gap_ms * 10.0).round() / 10.0),
                    Measure::new("timing_cv", (cv * 1000.0).round() / 1000.0),
                    Measure::new("window_secs", self.config.window_secs as f64),
                ],
                expected: vec![
                    Measure::new("min_requests", f64::from(self.config.min_requests)),
                    Measure::new("max_timing_cv", self.config.max_timing_cv),
                    Measure::new("max_mean_gap_ms", self.config.max_mean_gap_ms),
                ],
                samples: vec![o.sample()],
            },
            recommendation: Some(Recommendation {
                action: "rate_limit".into(),
                target: o.ip.to_string(),
                value: Some(30.0),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_classes_keep_the_words_found() {
        for ua in [
            "",
            "  ",
            "python-requests/2.31",
            "Mozilla/5.0 (compatible; Googlebot/2.1)",
            "Mozilla/5.0 HeadlessChrome/120.0",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
        ] {
            let class = UserAgentClass::of(ua);
            assert_eq!(class.good_bot(), GOOD_BOT_UA.first(ua.as_bytes()), "{ua:?}");
            let automation = if ua.trim().is_empty() {
                Some("no_user_agent")
            } else {
                SCRIPTED_UA.first(ua.as_bytes())
            };
            assert_eq!(class.automation(), automation, "{ua:?}");
        }
        // Every listed word has a code.
        assert!(SCRIPTED.len() < usize::from(NO_USER_AGENT) && GOOD_BOTS.len() < 255);
    }
}
