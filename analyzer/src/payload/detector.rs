//! The payload detector: extraction → normalisation → the family engines → findings adjusted
//! by the parameter's learned profile, with every limit counted.
//!
//! Work per request is bounded: extraction caps parameters and bytes ([`ExtractLimits`]),
//! normalisation caps decoding passes ([`NormalizeLimits`]), each value is examined in a fixed
//! number of views, and a value is handed to a family's engine only when it holds the bytes
//! that family needs (a quote, `<`, `..`, a shell separator, `${`, `://`, `<!`, …), so plain ids,
//! numbers and words cost one table look-up per byte. Base64 is decoded at most once per value.

use super::extract::{extract, ExtractLimits, LimitsHit, Param, Place};
use super::finding::{fragment, is_secret_name, Family, Finding, Location};
use super::hints::{HintEngine, SuccessHint};
use super::input::{RequestParts, ResponseParts};
use super::memo::CleanValues;
use super::normalize::{
    base64_decode_evident, jndi_view, lower, normalize, path_view, shell_view, sql_view,
    NormalizeLimits, Transforms,
};
use super::patterns::{COMMAND_INJECTION, JNDI, PATH_TRAVERSAL, XXE};
use super::profile::{EndpointProfile, Learned, ValueFacts};
use super::rules::RuleSet;
use super::sqli::SqliEngine;
use super::ssrf;
use super::xss::{markup_view, XssEngine};
use aho_corasick::automaton::Automaton;
use aho_corasick::{dfa::DFA, Anchored, MatchKind, StartKind};
use std::borrow::Cow;

/// Detector settings; every limit is named here.
#[derive(Debug, Clone, Copy)]
pub struct PayloadConfig {
    pub extract: ExtractLimits,
    /// Decoding passes per value.
    pub max_decode_passes: u8,
    /// Rounds of nested Log4j lookup resolution.
    pub max_jndi_rounds: u8,
    /// Findings below this confidence are dropped.
    pub min_confidence: f32,
    /// The bar for parameters learned to carry free text.
    pub free_text_min_confidence: f32,
    /// Confidence added when a typed or enum parameter carries a value of another shape.
    pub off_profile_boost: f32,
    /// Values seen before a parameter profile is used.
    pub profile_min_samples: u32,
    /// Decode values that evidently are base64 and examine the text.
    pub decode_base64: bool,
    /// Findings kept per request (highest confidence first).
    pub max_findings: usize,
}

impl Default for PayloadConfig {
    fn default() -> Self {
        PayloadConfig {
            extract: ExtractLimits::default(),
            max_decode_passes: 4,
            max_jndi_rounds: 8,
            min_confidence: 0.5,
            free_text_min_confidence: 0.85,
            off_profile_boost: 0.1,
            profile_min_samples: 20,
            decode_base64: true,
            max_findings: 16,
        }
    }
}

/// Counters a worker keeps and exports (one per limit, plus the work done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadCounters {
    pub requests: u64,
    pub params: u64,
    pub bytes: u64,
    pub findings: [u64; 7],
    pub limit_params: u64,
    pub limit_depth: u64,
    pub limit_value_bytes: u64,
    pub limit_request_bytes: u64,
    pub base64_decoded: u64,
}

/// A value to look for in the response (the decoded payload), for reflection hints.
#[derive(Debug, Clone)]
pub struct ReflectionProbe {
    pub finding: usize,
    pub bytes: Vec<u8>,
}

/// The result of scanning one request.
#[derive(Debug, Default)]
pub struct Scan {
    /// Highest confidence first; at most one per family and location.
    pub findings: Vec<Finding>,
    /// Extraction limits hit (anomalies for the record and the counters).
    pub limits_hit: LimitsHit,
    pub params_examined: usize,
    pub bytes_examined: usize,
    /// Payload bytes to look for in the response; in memory only, never serialized.
    pub probes: Vec<ReflectionProbe>,
}

/// Why the detector could not be built.
#[derive(Debug)]
pub struct BuildError(pub String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "payload detector: {}", self.0)
    }
}

impl std::error::Error for BuildError {}

/// Compiled engines; immutable, shareable between workers (`Arc<PayloadDetector>`).
#[derive(Debug)]
pub struct PayloadDetector {
    cfg: PayloadConfig,
    sqli: SqliEngine,
    xss: XssEngine,
    path: RuleSet,
    cmd: RuleSet,
    jndi: RuleSet,
    xxe: RuleSet,
    hints: HintEngine,
    /// The gate keywords as one case-insensitive DFA, walked by hand (every keyword ending at
    /// every position, as an overlapping search reports them, without its per-match state).
    keywords: DFA,
}

// Byte classes for the gates.
const C_QUOTE: u32 = 1;
const C_LT: u32 = 1 << 1;
const C_PAREN: u32 = 1 << 2;
const C_SEMI: u32 = 1 << 3;
const C_PIPE: u32 = 1 << 4;
const C_AMP: u32 = 1 << 5;
const C_DOLLAR: u32 = 1 << 6;
const C_BRACE: u32 = 1 << 7;
const C_BACKTICK: u32 = 1 << 8;
const C_DOT: u32 = 1 << 9;
const C_SLASH: u32 = 1 << 10;
const C_BACKSLASH: u32 = 1 << 11;
const C_EQ: u32 = 1 << 12;
const C_HASH: u32 = 1 << 13;
const C_DASH: u32 = 1 << 14;
const C_STAR: u32 = 1 << 15;
const C_COLON: u32 = 1 << 16;
const C_NL: u32 = 1 << 17;
const C_SPACE: u32 = 1 << 18;
const C_DIGIT: u32 = 1 << 19;
const C_ALPHA: u32 = 1 << 20;
const C_OTHER: u32 = 1 << 21;
const C_AT: u32 = 1 << 22;
const C_COMMA: u32 = 1 << 23;
const C_BANG: u32 = 1 << 24;
const C_PLUS: u32 = 1 << 25;

const fn class_table() -> [u32; 256] {
    let mut t = [C_OTHER; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'\'' | b'"' => C_QUOTE,
            b'<' | b'>' => C_LT,
            b'(' | b')' => C_PAREN,
            b';' => C_SEMI,
            b'|' => C_PIPE,
            b'&' => C_AMP,
            b'$' => C_DOLLAR,
            b'{' | b'}' => C_BRACE,
            b'`' => C_BACKTICK,
            b'.' => C_DOT,
            b'/' => C_SLASH,
            b'\\' => C_BACKSLASH,
            b'=' => C_EQ,
            b'#' => C_HASH,
            b'-' => C_DASH,
            b'*' => C_STAR,
            b':' => C_COLON,
            b'\n' | b'\r' => C_NL,
            b' ' | b'\t' | 0x0b | 0x0c => C_SPACE,
            b'0'..=b'9' => C_DIGIT,
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => C_ALPHA,
            b'@' => C_AT,
            b',' => C_COMMA,
            b'!' => C_BANG,
            b'+' => C_PLUS,
            _ => C_OTHER,
        };
        i += 1;
    }
    t
}

static CLASSES: [u32; 256] = class_table();

fn classes(v: &[u8]) -> u32 {
    v.iter().fold(0, |m, &b| m | CLASSES[usize::from(b)])
}

fn has(m: u32, c: u32) -> bool {
    m & c != 0
}

struct Candidate {
    family: Family,
    confidence: f32,
    rule: Cow<'static, str>,
    fragment: String,
    applied: Transforms,
}

impl PayloadDetector {
    pub fn new(cfg: PayloadConfig) -> Result<Self, BuildError> {
        let e = |x: regex::Error| BuildError(x.to_string());
        Ok(PayloadDetector {
            cfg,
            sqli: SqliEngine::new().map_err(e)?,
            xss: XssEngine::new().map_err(e)?,
            path: RuleSet::new(PATH_TRAVERSAL).map_err(e)?,
            cmd: RuleSet::new(COMMAND_INJECTION).map_err(e)?,
            jndi: RuleSet::new(JNDI).map_err(e)?,
            xxe: RuleSet::new(XXE).map_err(e)?,
            hints: HintEngine::new().map_err(|x| BuildError(x.to_string()))?,
            keywords: DFA::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .start_kind(StartKind::Unanchored)
                .prefilter(false)
                .build(KEYWORDS.iter().map(|k| k.0))
                .map_err(|x| BuildError(x.to_string()))?,
        })
    }

    pub fn config(&self) -> &PayloadConfig {
        &self.cfg
    }

    /// Scans one request. `profile` is the endpoint's learned parameter profile, if any.
    pub fn scan(
        &self,
        req: &RequestParts<'_>,
        profile: Option<&EndpointProfile>,
        counters: &mut PayloadCounters,
    ) -> Scan {
        let ex = extract(req, &self.cfg.extract);
        self.scan_extracted(&ex, profile, counters, None)
    }

    /// Scans one request against the endpoint's profile, then teaches the profile the
    /// request's parameters when nothing was found in them (attacks never become normal).
    /// `memo` skips values already scanned clean (see [`super::memo`]).
    pub fn scan_and_learn(
        &self,
        req: &RequestParts<'_>,
        profile: &mut EndpointProfile,
        counters: &mut PayloadCounters,
        memo: &mut CleanValues,
    ) -> Scan {
        let ex = extract(req, &self.cfg.extract);
        let scan = self.scan_extracted(&ex, Some(profile), counters, Some(&mut *memo));
        if scan.findings.is_empty() {
            for (p, f) in ex.params.iter().zip(&memo.facts) {
                if !matches!(p.place, Place::Path | Place::Body | Place::XmlDoctype) {
                    let f = f.unwrap_or_else(|| ValueFacts::of(&p.value));
                    profile.observe_facts(p.place, &p.name, &f);
                }
            }
        }
        scan
    }

    /// Scans extracted parameters. With a memo, values known clean are skipped, and the
    /// memo's `facts` get one entry per parameter: the value's facts when the memo knew them
    /// or learned them now, `None` when it did not (a value too long to remember, or not
    /// clean).
    fn scan_extracted(
        &self,
        ex: &super::extract::Extracted<'_>,
        profile: Option<&EndpointProfile>,
        counters: &mut PayloadCounters,
        mut memo: Option<&mut CleanValues>,
    ) -> Scan {
        let mut scan = Scan {
            limits_hit: ex.limits_hit,
            params_examined: ex.params.len(),
            bytes_examined: ex.bytes,
            ..Scan::default()
        };
        if let Some(m) = memo.as_mut() {
            m.facts.clear();
        }
        counters.requests += 1;
        counters.params += ex.params.len() as u64;
        counters.bytes += ex.bytes as u64;
        counters.limit_params += u64::from(ex.limits_hit.params);
        counters.limit_depth += u64::from(ex.limits_hit.depth);
        counters.limit_value_bytes += u64::from(ex.limits_hit.value_bytes);
        counters.limit_request_bytes += u64::from(ex.limits_hit.request_bytes);
        let mut cands = Vec::new();
        for p in &ex.params {
            if let Some(m) = memo.as_mut() {
                let known = m.is_clean(p);
                m.facts.push(known);
                if known.is_some() {
                    continue;
                }
            }
            cands.clear();
            // Whether the name says URL or host: looked up only when a gate asks.
            let mut url_name = None;
            let base64_before = counters.base64_decoded;
            self.scan_value(
                p,
                &p.value,
                Transforms::default(),
                &mut url_name,
                &mut cands,
                counters,
                0,
            );
            if cands.is_empty() {
                // A value that needed no base64 decoding is remembered clean: a repeat then
                // skips the scan and every counter still reads as if it had run.
                if counters.base64_decoded == base64_before {
                    if let Some(m) = memo.as_mut() {
                        let f = ValueFacts::of(&p.value);
                        m.remember_last(p, f);
                        if let Some(last) = m.facts.last_mut() {
                            *last = Some(f);
                        }
                    }
                }
                continue;
            }
            let (bar, boost) = self.profile_adjustment(p, profile);
            for c in cands.drain(..) {
                let conf = (c.confidence + boost).min(0.99);
                if conf < bar {
                    continue;
                }
                let location = Location {
                    place: p.place,
                    name: p.name.to_string(),
                };
                if let Some(f) = scan
                    .findings
                    .iter_mut()
                    .find(|f| f.family == c.family && f.location == location)
                {
                    if conf > f.confidence {
                        f.confidence = conf;
                    }
                    continue;
                }
                let secret = is_secret_name(&p.name);
                scan.findings.push(Finding {
                    family: c.family,
                    location,
                    confidence: conf,
                    rule: c.rule.into_owned(),
                    fragment: if secret {
                        "[redacted]".to_string()
                    } else {
                        c.fragment
                    },
                    normalizations: c.applied,
                });
                if !secret {
                    let norm = normalize(
                        &p.value,
                        &NormalizeLimits {
                            max_passes: self.cfg.max_decode_passes,
                            plus_is_space: p.place.plus_is_space(),
                        },
                    );
                    scan.probes.push(ReflectionProbe {
                        finding: scan.findings.len() - 1,
                        bytes: norm.text[..norm.text.len().min(256)].to_vec(),
                    });
                }
            }
        }
        let mut order: Vec<usize> = (0..scan.findings.len()).collect();
        order.sort_by(|&a, &b| {
            scan.findings[b]
                .confidence
                .total_cmp(&scan.findings[a].confidence)
        });
        if order.windows(2).any(|w| w[0] > w[1]) || scan.findings.len() > self.cfg.max_findings {
            let mut findings: Vec<Option<Finding>> = scan.findings.drain(..).map(Some).collect();
            let mut probes = Vec::new();
            for (new_i, &old_i) in order.iter().take(self.cfg.max_findings).enumerate() {
                if let Some(f) = findings[old_i].take() {
                    scan.findings.push(f);
                }
                probes.extend(scan.probes.iter().filter(|p| p.finding == old_i).map(|p| {
                    ReflectionProbe {
                        finding: new_i,
                        bytes: p.bytes.clone(),
                    }
                }));
            }
            scan.probes = probes;
        }
        for f in &scan.findings {
            counters.findings[f.family.index()] += 1;
        }
        scan
    }

    /// Success hints from the response to a scanned request.
    pub fn success_hints(
        &self,
        resp: &ResponseParts<'_>,
        scan: &Scan,
        typical_response_bytes: Option<u64>,
    ) -> Vec<SuccessHint> {
        self.hints.hints(resp, scan, typical_response_bytes)
    }

    /// The confidence bar and boost for one parameter, from its learned profile.
    fn profile_adjustment(&self, p: &Param<'_>, profile: Option<&EndpointProfile>) -> (f32, f32) {
        let min = self.cfg.profile_min_samples;
        let Some(pp) = profile.and_then(|e| e.get(p.place, &p.name)) else {
            return (self.cfg.min_confidence, 0.0);
        };
        match pp.learned(min) {
            Some(Learned::FreeText) => (self.cfg.free_text_min_confidence, 0.0),
            Some(Learned::Typed(_)) | Some(Learned::Enum) if !pp.fits(&p.value, min) => {
                (self.cfg.min_confidence, self.cfg.off_profile_boost)
            }
            _ => (self.cfg.min_confidence, 0.0),
        }
    }

    /// Which family keywords occur in `v` (case-insensitive), as a bit mask of `K_*`.
    fn keywords(&self, v: &[u8]) -> u32 {
        let dfa = &self.keywords;
        let Ok(mut sid) = dfa.start_state(Anchored::No) else {
            // Cannot happen (built unanchored); if it did, every gate opens.
            return u32::MAX;
        };
        let is_word = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        let mut m = 0;
        for (i, &b) in v.iter().enumerate() {
            sid = dfa.next_state(Anchored::No, sid, b);
            if !dfa.is_special(sid) {
                continue;
            }
            if dfa.is_dead(sid) {
                break;
            }
            if !dfa.is_match(sid) {
                continue;
            }
            let end = i + 1;
            for k in 0..dfa.match_len(sid) {
                let pid = dfa.match_pattern(sid, k);
                let (_, bit, word) = KEYWORDS[pid.as_usize()];
                if m & bit != 0 {
                    continue;
                }
                if word {
                    let start = end - dfa.pattern_len(pid);
                    let before = start.checked_sub(1).and_then(|j| v.get(j));
                    if is_word(before) || is_word(v.get(end)) {
                        continue;
                    }
                }
                m |= bit;
            }
        }
        m
    }

    #[allow(clippy::too_many_arguments)]
    fn scan_value(
        &self,
        p: &Param<'_>,
        raw: &[u8],
        base: Transforms,
        url_name: &mut Option<bool>,
        out: &mut Vec<Candidate>,
        counters: &mut PayloadCounters,
        depth: u8,
    ) {
        // `+` means a space in query strings and forms; elsewhere a value with `+` and no
        // space that is not base64 is form-encoded text carried somewhere else.
        let plus_is_space = p.place.plus_is_space()
            || (memchr::memchr(b'+', raw).is_some()
                && memchr::memchr(b' ', raw).is_none()
                && base64_decode_evident(raw).is_none());
        let norm = normalize(
            raw,
            &NormalizeLimits {
                max_passes: self.cfg.max_decode_passes,
                plus_is_space,
            },
        );
        let decoded: &[u8] = &norm.text;
        let m = classes(decoded);
        let kw = if m & !(C_DIGIT | C_DASH | C_DOT | C_AT | C_COMMA | C_PLUS) == 0 {
            0
        } else {
            self.keywords(decoded)
        };
        let quote = has(m, C_QUOTE | C_BACKTICK);
        let path_only = p.place == Place::Path;
        let g_sqli = !path_only
            && (quote || has(kw, K_SQL) || (has(m, C_HASH | C_STAR) && has(kw, K_COMMENT)));
        let g_xss = !path_only
            && (has(m, C_LT)
                || has(kw, K_XSS)
                || (quote && has(m, C_EQ | C_PAREN | C_LT | C_BACKTICK)));
        let g_path = has(m, C_SLASH | C_BACKSLASH) && has(kw, K_PATH);
        let g_cmd = !path_only
            && (has(m, C_SEMI | C_PIPE | C_AMP | C_BACKTICK | C_NL)
                || (has(m, C_DOLLAR) && has(m, C_PAREN | C_BRACE))
                || has(kw, K_CMD));
        let first = decoded.first().copied().unwrap_or(0);
        let g_ssrf = !path_only
            && (has(kw, K_SSRF)
                || (has(m, C_DIGIT | C_DOT | C_COLON)
                    && *url_name.get_or_insert_with(|| ssrf::url_like_name(&p.name)))
                || (first.is_ascii_digit() && has(m, C_DOT))
                || decoded.starts_with(b"0x")
                || decoded.starts_with(b"0X"));
        let g_jndi = !path_only && has(kw, K_JNDI);
        let g_xxe = !path_only && has(kw, K_XXE);
        let any = g_sqli || g_xss || g_path || g_cmd || g_ssrf || g_jndi || g_xxe;
        let mut applied = base | norm.applied;
        if any {
            let lo = lower(decoded, &mut applied);
            self.families(
                p,
                decoded,
                &lo,
                applied,
                [g_sqli, g_xss, g_path, g_cmd, g_ssrf, g_jndi, g_xxe],
                g_ssrf && *url_name.get_or_insert_with(|| ssrf::url_like_name(&p.name)),
                out,
            );
        }
        // Base64 wrapping: decode once, examine the text.
        if self.cfg.decode_base64 && depth == 0 && out.is_empty() && decoded.len() >= 8 {
            if let Some(text) = base64_decode_evident(decoded) {
                counters.base64_decoded += 1;
                self.scan_value(
                    p,
                    &text,
                    applied | Transforms::BASE64,
                    url_name,
                    out,
                    counters,
                    1,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn families(
        &self,
        p: &Param<'_>,
        decoded: &[u8],
        lo: &[u8],
        applied: Transforms,
        gates: [bool; 7],
        url_name: bool,
        out: &mut Vec<Candidate>,
    ) {
        let [g_sqli, g_xss, g_path, g_cmd, g_ssrf, g_jndi, g_xxe] = gates;
        let header = matches!(p.place, Place::Header | Place::Cookie);
        let push = |out: &mut Vec<Candidate>,
                    family: Family,
                    confidence: f32,
                    rule: Cow<'static, str>,
                    view: &[u8],
                    start: usize,
                    extra: Transforms| {
            out.push(Candidate {
                family,
                confidence,
                rule,
                fragment: fragment(view, start),
                applied: applied | extra,
            });
        };
        if g_sqli {
            let mut t = Transforms::default();
            let sv = sql_view(lo, &mut t);
            if let Some(v) = self.sqli.judge(decoded, lo, &sv) {
                let view: &[u8] = if v.in_sql_view { &sv } else { lo };
                push(
                    out,
                    Family::Sqli,
                    v.confidence,
                    v.rule.into(),
                    view,
                    v.start,
                    t,
                );
            }
        }
        if g_xss {
            let mv = markup_view(lo);
            if let Some(v) = self.xss.judge(decoded, &mv) {
                push(
                    out,
                    Family::Xss,
                    v.confidence,
                    v.rule.into(),
                    &mv,
                    v.start,
                    Transforms::default(),
                );
            }
        }
        if g_path {
            let mut t = Transforms::default();
            let pv = path_view(lo, &mut t);
            if let Some(r) = self.path.best(&pv) {
                let c = if header && r.rule.confidence < 0.8 {
                    r.rule.confidence - 0.2
                } else {
                    r.rule.confidence
                };
                push(
                    out,
                    Family::PathTraversal,
                    c,
                    r.rule.name.into(),
                    &pv,
                    r.start,
                    t,
                );
            }
        }
        if g_cmd {
            let mut t = Transforms::default();
            let cv = shell_view(lo, &mut t);
            if memchr::memmem::find(lo, b"$ifs").is_some()
                || memchr::memmem::find(lo, b"${ifs").is_some()
            {
                // `$IFS` stands for a space only in a shell command line.
                let at = memchr::memmem::find(lo, b"ifs")
                    .unwrap_or(0)
                    .saturating_sub(2);
                push(
                    out,
                    Family::CommandInjection,
                    0.9,
                    "ifs_expansion".into(),
                    lo,
                    at,
                    t,
                );
            } else if let Some(r) = self.cmd.best(&cv) {
                // A value that *is* a command line (`cd ../src && ls`, pasted into a code or
                // docs field) is not an injection unless it opens a shell back to someone.
                let c = if starts_with_command_line(&cv)
                    && r.rule.name != "shell_path_or_reverse_shell"
                {
                    r.rule.confidence - 0.45
                } else {
                    r.rule.confidence
                };
                push(
                    out,
                    Family::CommandInjection,
                    c,
                    r.rule.name.into(),
                    &cv,
                    r.start,
                    t,
                );
            }
        }
        if g_ssrf {
            // Headers proxies and browsers fill in: only metadata targets and dangerous schemes.
            let restricted = p.place == Place::Cookie
                || (p.place == Place::Header
                    && (!url_name || matches!(&*p.name, "host" | "referer" | "origin")));
            if let Some(v) = ssrf::judge(lo, url_name, restricted) {
                push(
                    out,
                    Family::Ssrf,
                    v.confidence,
                    v.rule.into(),
                    lo,
                    v.start,
                    Transforms::default(),
                );
            }
        }
        if g_jndi {
            let mut t = Transforms::default();
            let jv = jndi_view(lo, self.cfg.max_jndi_rounds, &mut t);
            if let Some(r) = self.jndi.best(&jv) {
                push(
                    out,
                    Family::JndiInjection,
                    r.rule.confidence,
                    r.rule.name.into(),
                    &jv,
                    r.start,
                    t,
                );
            }
        }
        if g_xxe {
            if let Some(r) = self.xxe.best(lo) {
                push(
                    out,
                    Family::Xxe,
                    r.rule.confidence,
                    r.rule.name.into(),
                    lo,
                    r.start,
                    Transforms::default(),
                );
            }
        }
        // A Log4Shell payload names an LDAP/RMI URL; that is the JNDI finding, not SSRF.
        if out.iter().any(|c| c.family == Family::JndiInjection) {
            out.retain(|c| !(c.family == Family::Ssrf && c.rule == "dangerous_scheme"));
        }
    }
}

/// Whether a value starts with a common command word and an argument, the way a command line
/// pasted into a text field does (an injection starts with data, then a separator).
fn starts_with_command_line(v: &[u8]) -> bool {
    const CMDS: &[&[u8]] = &[
        b"cd",
        b"ls",
        b"git",
        b"npm",
        b"npx",
        b"yarn",
        b"make",
        b"docker",
        b"kubectl",
        b"cat",
        b"echo",
        b"python",
        b"python3",
        b"pip",
        b"cargo",
        b"go",
        b"node",
        b"curl",
        b"wget",
        b"grep",
        b"find",
        b"sudo",
        b"apt",
        b"apt-get",
        b"brew",
        b"export",
        b"mkdir",
        b"rm",
        b"cp",
        b"mv",
        b"chmod",
        b"ssh",
        b"tar",
        b"java",
        b"mvn",
        b"gradle",
        b"$",
        b"bash",
        b"sh",
        b"zsh",
        b"./configure",
    ];
    let word_end = v
        .iter()
        .position(|c| c.is_ascii_whitespace())
        .unwrap_or(v.len());
    word_end < v.len() && CMDS.contains(&&v[..word_end])
}

const K_SQL: u32 = 1;
const K_COMMENT: u32 = 1 << 1;
const K_XSS: u32 = 1 << 2;
const K_PATH: u32 = 1 << 3;
const K_CMD: u32 = 1 << 4;
const K_SSRF: u32 = 1 << 5;
const K_JNDI: u32 = 1 << 6;
const K_XXE: u32 = 1 << 7;

/// Gate keywords: (family bit, must stand as a whole word). Matched case-insensitively on the
/// decoded value; a family's engine runs only when its gate opens.
const KEYWORDS: &[(&str, u32, bool)] = &[
    ("select", K_SQL, false),
    ("union", K_SQL, false),
    ("sleep", K_SQL, false),
    ("benchmark", K_SQL, false),
    ("waitfor", K_SQL, false),
    ("having", K_SQL, true),
    ("exec", K_SQL, false),
    ("drop", K_SQL, true),
    ("insert", K_SQL, true),
    ("update", K_SQL, true),
    ("delete", K_SQL, true),
    ("declare", K_SQL, true),
    ("shutdown", K_SQL, true),
    ("truncate", K_SQL, true),
    ("order", K_SQL, true),
    ("group", K_SQL, true),
    ("information_schema", K_SQL, false),
    ("extractvalue", K_SQL, false),
    ("updatexml", K_SQL, false),
    ("xp_", K_SQL, false),
    ("@@", K_SQL, false),
    ("char(", K_SQL, false),
    ("chr(", K_SQL, false),
    ("concat", K_SQL, false),
    ("or", K_SQL, true),
    ("and", K_SQL, true),
    ("xor", K_SQL, true),
    ("div", K_SQL, true),
    ("case when", K_SQL, false),
    ("/*", K_COMMENT, false),
    ("--", K_COMMENT, false),
    ("javascript", K_XSS, false),
    ("vbscript", K_XSS, false),
    ("script:", K_XSS, false),
    ("livescript", K_XSS, false),
    ("data:", K_XSS, false),
    ("expression", K_XSS, false),
    ("..", K_PATH, false),
    ("etc/", K_PATH, false),
    ("etc\\", K_PATH, false),
    ("proc/", K_PATH, false),
    ("win.ini", K_PATH, false),
    ("boot.ini", K_PATH, false),
    ("system32", K_PATH, false),
    ("windows/", K_PATH, false),
    ("windows\\", K_PATH, false),
    ("winnt", K_PATH, false),
    ("web-inf", K_PATH, false),
    (".ssh", K_PATH, false),
    ("passwd", K_PATH, false),
    ("shadow", K_PATH, false),
    ("/var/log", K_PATH, false),
    ("root/", K_PATH, false),
    ("/home/", K_PATH, false),
    ("c:/", K_PATH, false),
    ("c:\\", K_PATH, false),
    ("inetpub", K_PATH, false),
    ("file:", K_PATH, false),
    ("$(", K_CMD, false),
    ("ifs", K_CMD, false),
    ("/bin/", K_CMD, false),
    ("/dev/tcp", K_CMD, false),
    ("powershell", K_CMD, false),
    ("cmd.exe", K_CMD, false),
    ("cmd /c", K_CMD, false),
    ("://", K_SSRF, false),
    ("//", K_SSRF, false),
    ("localhost", K_SSRF, false),
    ("metadata", K_SSRF, false),
    ("instance-data", K_SSRF, false),
    ("[", K_SSRF, false),
    ("nip.io", K_SSRF, false),
    ("xip.io", K_SSRF, false),
    ("sslip.io", K_SSRF, false),
    ("localtest.me", K_SSRF, false),
    ("${", K_JNDI, false),
    ("jndi", K_JNDI, false),
    ("<!", K_XXE, false),
    ("xinclude", K_XXE, false),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::profile::ProfileLimits;

    fn det() -> PayloadDetector {
        PayloadDetector::new(PayloadConfig::default()).unwrap()
    }

    fn families(
        target: &str,
        headers: Vec<(&[u8], &[u8])>,
        body: &[u8],
    ) -> Vec<(String, String, String)> {
        let d = det();
        let r = RequestParts::new(b"POST", target.as_bytes(), headers, body);
        let s = d.scan(&r, None, &mut PayloadCounters::default());
        s.findings
            .iter()
            .map(|f| {
                (
                    f.family.as_str().to_string(),
                    f.location.place.as_str().to_string(),
                    f.location.name.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn finds_each_family_where_it_is() {
        let f = families("/a?id=1%27%20OR%20%271%27%3D%271", vec![], b"");
        assert_eq!(f, vec![("sqli".into(), "query".into(), "id".into())]);
        let f = families(
            "/a",
            vec![(b"Content-Type", b"application/json")],
            br#"{"user":{"bio":"<svg/onload=alert(1)>"}}"#,
        );
        assert_eq!(f, vec![("xss".into(), "json".into(), "user.bio".into())]);
        let f = families(
            "/a",
            vec![(b"User-Agent", b"${${lower:j}ndi:ldap://x.example/a}")],
            b"",
        );
        assert_eq!(
            f,
            vec![(
                "jndi_injection".into(),
                "header".into(),
                "user-agent".into()
            )]
        );
        let f = families("/dl?file=..%252f..%252f..%252fetc%252fpasswd", vec![], b"");
        assert_eq!(f[0].0, "path_traversal");
        let f = families("/ping?host=127.0.0.1%3Bcat%20/etc/passwd", vec![], b"");
        assert!(f.iter().any(|x| x.0 == "command_injection"), "{f:?}");
        let f = families("/fetch?url=http://0xA9FEA9FE/latest/", vec![], b"");
        assert_eq!(f, vec![("ssrf".into(), "query".into(), "url".into())]);
        let f = families(
            "/x",
            vec![(b"Content-Type", b"application/xml")],
            br#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><d>&e;</d>"#,
        );
        assert!(
            f.iter().any(|x| x.0 == "xxe" && x.1 == "xml_doctype"),
            "{f:?}"
        );
        let f = families("/a?t=JyBPUiAxPTEgLS0gaGVsbG8%3D", vec![], b"");
        assert_eq!(f, vec![("sqli".into(), "query".into(), "t".into())]);
    }

    /// The hand-walked keyword DFA gives the mask an overlapping Aho-Corasick search gives.
    #[test]
    fn keyword_walk_matches_an_overlapping_search() {
        let d = det();
        let ac = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(KEYWORDS.iter().map(|k| k.0))
            .unwrap();
        let reference = |v: &[u8]| {
            let mut m = 0;
            for hit in ac.find_overlapping_iter(v) {
                let (_, bit, word) = KEYWORDS[hit.pattern().as_usize()];
                let is_word =
                    |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
                if word
                    && (is_word(hit.start().checked_sub(1).and_then(|i| v.get(i)))
                        || is_word(v.get(hit.end())))
                {
                    continue;
                }
                m |= bit;
            }
            m
        };
        let pieces: Vec<&str> = KEYWORDS
            .iter()
            .map(|k| k.0)
            .chain([
                "a", "x", "_", " ", "1", "'", "OR", "Or", "b", ".", "/", "-", "$", "é",
            ])
            .collect();
        let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        for _ in 0..20_000 {
            let mut v = String::new();
            for _ in 0..next(8) {
                v.push_str(pieces[next(pieces.len())]);
            }
            assert_eq!(d.keywords(v.as_bytes()), reference(v.as_bytes()), "{v:?}");
        }
    }

    #[test]
    fn benign_api_traffic_is_quiet() {
        let f = families(
            "/api/v1/users/42/orders?page=2&sort=-created_at&q=O%27Brien",
            vec![
                (b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
                (b"Referer", b"http://localhost:3000/orders?tab=open"),
                (b"X-Forwarded-For", b"10.1.2.3, 203.0.113.9"),
                (b"Cookie", b"theme=dark; lang=en-GB"),
            ],
            br#"{"comment":"select a plan, then drop me a line","tags":["a","b"],"n":3}"#,
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn secrets_are_redacted_and_fragments_bounded() {
        let d = det();
        let long = format!(
            "/a?password=x%27%20OR%201%3D1--&q=%27%20UNION%20SELECT%20{}",
            "a,".repeat(100) + "b FROM users--"
        );
        let r = RequestParts::new(b"GET", long.as_bytes(), vec![], b"");
        let s = d.scan(&r, None, &mut PayloadCounters::default());
        let pw = s
            .findings
            .iter()
            .find(|f| f.location.name == "password")
            .unwrap();
        assert_eq!(pw.fragment, "[redacted]");
        assert!(!s
            .probes
            .iter()
            .any(|p| s.findings[p.finding].location.name == "password"));
        for f in &s.findings {
            assert!(f.fragment.len() <= 64);
        }
    }

    #[test]
    fn free_text_profile_raises_the_bar_and_typed_lowers_it() {
        let d = det();
        let mut prof = EndpointProfile::new(ProfileLimits::default());
        for i in 0..50 {
            prof.observe(
                Place::Query,
                "q",
                format!("what is the best plan {i}? it's cheap").as_bytes(),
            );
            prof.observe(Place::Query, "id", format!("{}", 1000 + i).as_bytes());
        }
        let mut c = PayloadCounters::default();
        // Weak evidence (a bare "1' --" style truncation) in free text is dropped…
        let r = RequestParts::new(b"GET", b"/s?q=it%27s%20me%27--", vec![], b"");
        let cold = d.scan(&r, None, &mut c);
        let warm = d.scan(&r, Some(&prof), &mut c);
        assert!(warm.findings.len() <= cold.findings.len());
        assert!(warm.findings.iter().all(|f| f.confidence >= 0.85));
        // …and an off-profile value in an int parameter gets a boost.
        let r = RequestParts::new(b"GET", b"/s?id=1%27%20or%20%271%27=%271", vec![], b"");
        let cold = d.scan(&r, None, &mut c);
        let warm = d.scan(&r, Some(&prof), &mut c);
        assert!(warm.findings[0].confidence >= cold.findings[0].confidence);
    }

    #[test]
    fn hints_from_the_response() {
        let d = det();
        let r = RequestParts::new(
            b"GET",
            b"/s?q=%3Cscript%3Ealert(1)%3C/script%3E",
            vec![],
            b"",
        );
        let s = d.scan(&r, None, &mut PayloadCounters::default());
        assert_eq!(s.findings.len(), 1);
        let body = b"<html>You searched <script>alert(1)</script> and You have an error in your SQL syntax near";
        let resp = ResponseParts {
            status: 200,
            body_bytes: 200_000,
            body,
        };
        let h = d.success_hints(&resp, &s, Some(2_000));
        let names: Vec<_> = h.iter().map(|h| h.as_str()).collect();
        assert_eq!(
            names,
            vec!["database_error", "reflected_payload", "large_response"]
        );
    }
}
