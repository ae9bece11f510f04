//! Endpoint templates: `/users/123` and `/users/456` are one endpoint, `/users/{id}`.
//!
//! A path segment becomes a placeholder by its shape — numeric id (`{id}`), UUID (`{uuid}`),
//! hex hash (`{hash}`), ISO date (`{date}`), email (`{email}`), long token (`{token}`), a
//! value no route literal looks like (escapes, quotes, spaces, operators: `{value}`) — or
//! by cardinality: when one position under the same parent has seen more than
//! `slug_cardinality` distinct literal values, further new values there become `{slug}`.
//! Literal values are remembered only up to that bound per position, and the number of
//! positions (parents) tracked per host is capped; past the cap every unknown segment is
//! kept literal and the overflow is counted.
//!
//! Templates are cached (bounded, `cache_entries`) by host and *shape view* — the path with
//! its shape parameters already placeholders, which is all the template depends on besides
//! the learned positions. Once a shape view has been templated its template cannot change:
//! its literal values are then known at their positions, or were refused there for good (a
//! full position or a full table never shrinks). So `/users/1` and `/users/2` cost one
//! lookup, not a walk with a position lookup per literal segment. The cache is emptied when
//! it fills and when learned positions are restored.

use crate::hashing::{hash64, Fixed};
use std::collections::{HashMap, HashSet};

/// Limits for templating.
#[derive(Debug, Clone)]
pub struct TemplateConfig {
    /// Distinct literal values one position may show before new ones become `{slug}`.
    pub slug_cardinality: usize,
    /// Positions (host + parent template + depth) tracked for cardinality, per templater.
    pub max_positions: usize,
    /// Longest path considered, in segments; deeper segments collapse into `{rest}`.
    pub max_segments: usize,
    /// (host, shape view) pairs remembered with their template.
    pub cache_entries: usize,
}

impl Default for TemplateConfig {
    fn default() -> Self {
        TemplateConfig {
            slug_cardinality: 50,
            max_positions: 20_000,
            max_segments: 16,
            cache_entries: 8192,
        }
    }
}

/// Counters for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TemplateStats {
    pub positions_tracked: u64,
    /// Segments kept literal because the position table was full.
    pub positions_full: u64,
    pub slugs: u64,
    /// Paths whose template came from the cache.
    pub cache_hits: u64,
    /// Times the full cache was emptied.
    pub cache_resets: u64,
}

impl TemplateStats {
    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &TemplateStats) {
        self.positions_tracked += o.positions_tracked;
        self.positions_full += o.positions_full;
        self.slugs += o.slugs;
        self.cache_hits += o.cache_hits;
        self.cache_resets += o.cache_resets;
    }
}

/// A templated path remembered with what templating it counted.
#[derive(Debug)]
struct CachedTemplate {
    host: Box<str>,
    shape: Box<str>,
    template: Box<str>,
    /// [`object_position`] of the template.
    object_position: Option<usize>,
    /// [`is_health_path`] of every path of this shape; `None` when the shape stops at
    /// `max_segments` (the segments after it are not in the shape).
    health_path: Option<bool>,
    /// [`Templated::template_key`] and [`Templated::host_template_key`] of the template.
    template_key: u64,
    host_template_key: u64,
    slugs: u64,
    positions_full: u64,
}

/// Byte classes a segment's shape is read from (bits of [`SEGMENT_CLASSES`]).
mod class {
    pub const DIGIT: u16 = 1;
    /// Hex digit (`0-9a-fA-F`).
    pub const HEX: u16 = 1 << 1;
    pub const LETTER: u16 = 1 << 2;
    /// What a long opaque token is made of: letters, digits, `-_=+.`.
    pub const TOKEN: u16 = 1 << 3;
    /// What a prefixed numeric id is made of: letters, digits, `.`.
    pub const ID: u16 = 1 << 4;
    /// What a route literal is made of: letters, digits, `-_.~:@+!$`.
    pub const ROUTE: u16 = 1 << 5;
    pub const AT: u16 = 1 << 6;
    pub const DOT: u16 = 1 << 7;
    pub const SLASH: u16 = 1 << 8;

    const fn bit(on: bool, b: u16) -> u16 {
        if on {
            b
        } else {
            0
        }
    }

    pub const fn of(c: u8) -> u16 {
        let digit = c.is_ascii_digit();
        let letter = c.is_ascii_alphabetic();
        let alnum = digit || letter;
        bit(digit, DIGIT)
            | bit(c.is_ascii_hexdigit(), HEX)
            | bit(letter, LETTER)
            | bit(
                alnum || matches!(c, b'-' | b'_' | b'=' | b'+' | b'.'),
                TOKEN,
            )
            | bit(alnum || c == b'.', ID)
            | bit(
                alnum
                    || matches!(
                        c,
                        b'-' | b'_' | b'.' | b'~' | b':' | b'@' | b'+' | b'!' | b'$'
                    ),
                ROUTE,
            )
            | bit(c == b'@', AT)
            | bit(c == b'.', DOT)
            | bit(c == b'/', SLASH)
    }
}

/// [`class::of`] for every byte value.
static SEGMENT_CLASSES: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class::of(i as u8);
        i += 1;
    }
    t
};

/// The shape placeholder for a segment, if its shape alone says it is a parameter. One pass
/// over the bytes gathers which classes every byte is in and which any byte is in; the rules
/// are then read off those, in order.
pub fn shape_placeholder(seg: &str) -> Option<&'static str> {
    let b = seg.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (mut every, mut any, mut digits) = (u16::MAX, 0u16, 0usize);
    for &c in b {
        let k = SEGMENT_CLASSES[usize::from(c)];
        every &= k;
        any |= k;
        digits += usize::from(k & class::DIGIT);
    }
    let all = |bits: u16| every & bits == bits;
    let some = |bits: u16| any & bits == bits;
    if all(class::DIGIT) {
        return Some("{id}");
    }
    if is_uuid(b) {
        return Some("{uuid}");
    }
    if b.len() >= 16 && b.len().is_multiple_of(2) && all(class::HEX) {
        return Some("{hash}");
    }
    if is_date(b) {
        return Some("{date}");
    }
    if some(class::AT | class::DOT) && !some(class::SLASH) {
        return Some("{email}");
    }
    // Opaque tokens: long, no separators a word would have, letters mixed with digits.
    if b.len() >= 20 && all(class::TOKEN) && some(class::DIGIT | class::LETTER) {
        return Some("{token}");
    }
    // Numeric ids with a short prefix or suffix: `u123`, `123.json`.
    if digits >= 3 && digits * 2 >= b.len() && all(class::ID) {
        return Some("{id}");
    }
    // Route literals are short words of unreserved characters; a segment carrying escapes,
    // quotes, spaces, brackets or operators is a value someone typed (often an injection
    // attempt), not a new endpoint.
    if b.len() > 64 || !all(class::ROUTE) {
        return Some("{value}");
    }
    None
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_date(b: &[u8]) -> bool {
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// What templating a path gives besides the template text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Templated {
    /// [`object_position`] of the template.
    pub object_position: Option<usize>,
    /// The hash of the template alone (cached with it): with the method it makes the key of
    /// the endpoint on any host ([`endpoint_key`]), which detectors key per-endpoint state
    /// by, so no per-request state hashes the strings.
    pub template_key: u64,
    /// The hash of host and template: with the method it makes the key of the endpoint on
    /// this host, which the endpoint baselines are keyed by.
    pub host_template_key: u64,
    /// [`is_health_path`] of the path (cached with the shape: a health word is never a
    /// shape parameter, so every path of one complete shape has the same health segments).
    pub health_path: bool,
}

/// Path segments monitors poll (matched ignoring case, as a whole segment).
const HEALTH_SEGMENTS: [&str; 7] = [
    "health", "healthz", "ready", "readyz", "livez", "ping", "status",
];

/// Whether a path has a segment monitors poll (`/health`, `/v1/status`, `/readyz`…).
pub fn is_health_path(path: &str) -> bool {
    segments(path).any(|seg| HEALTH_SEGMENTS.iter().any(|h| seg.eq_ignore_ascii_case(h)))
}

/// The key of endpoint `METHOD template`, from [`Templated::template_key`] (any host) or
/// [`Templated::host_template_key`] (one host).
pub fn endpoint_key(template_key: u64, method: &str) -> u64 {
    hash64(&(template_key, method))
}

/// Placeholders that stand for one object of a collection.
const OBJECT_PLACEHOLDERS: [&str; 3] = ["{id}", "{uuid}", "{hash}"];

/// The non-empty `/`-separated segments of a path or template. Split on bytes: `/` is never
/// part of a multi-byte UTF-8 character, so every piece is a whole `str` (and one pass with
/// no per-segment searcher setup is what the hot path wants; records hold short paths).
pub fn segments(path: &str) -> impl Iterator<Item = &str> + '_ {
    let bytes = path.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || loop {
        if start >= bytes.len() {
            return None;
        }
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(bytes.len(), |p| start + p);
        let seg = &path[start..end];
        start = end + 1;
        if !seg.is_empty() {
            return Some(seg);
        }
    })
}

/// The segment index of the object id in an object endpoint: the last `{id}`/`{uuid}`/`{hash}`
/// that follows a literal segment (`/orders/{id}`). Slug positions (`{slug}`, learned from
/// cardinality, as a path scanner's wordlist also produces) are not objects.
pub fn object_position(template: &str) -> Option<usize> {
    let mut last = None;
    let mut previous_literal = false;
    for (i, seg) in segments(template).enumerate() {
        if OBJECT_PLACEHOLDERS.contains(&seg) {
            last = previous_literal.then_some(i);
        }
        previous_literal = !seg.starts_with('{');
    }
    last
}

/// Templates paths, learning slug positions by cardinality.
#[derive(Debug, Default)]
pub struct Templater {
    config: TemplateConfig,
    /// hash(host, parent template) → hashes of the literal values seen at the next position
    /// (bounded); hashes, so templating a path allocates nothing but its template.
    positions: HashMap<u64, HashSet<u64, Fixed>, Fixed>,
    /// hash(host, shape view) → the template (bounded by `cache_entries`).
    cache: HashMap<u64, CachedTemplate, Fixed>,
    /// Reused buffer for a path's shape view.
    shape_buf: String,
    pub stats: TemplateStats,
}

impl Templater {
    pub fn new(config: TemplateConfig) -> Self {
        Templater {
            config,
            ..Default::default()
        }
    }

    /// The learned slug positions (for snapshots), sorted so the output is stable.
    pub fn export(&self) -> Vec<(u64, Vec<u64>)> {
        let mut v: Vec<(u64, Vec<u64>)> = self
            .positions
            .iter()
            .map(|(k, vals)| {
                let mut vals: Vec<u64> = vals.iter().copied().collect();
                vals.sort_unstable();
                (*k, vals)
            })
            .collect();
        v.sort_unstable_by_key(|(k, _)| *k);
        v
    }

    /// Restores learned positions (within this templater's limits).
    pub fn import(&mut self, positions: Vec<(u64, Vec<u64>)>) {
        self.cache.clear();
        for (k, vals) in positions {
            if self.positions.len() >= self.config.max_positions {
                break;
            }
            let set = self.positions.entry(k).or_insert_with(|| {
                self.stats.positions_tracked += 1;
                HashSet::default()
            });
            set.extend(vals.into_iter().take(self.config.slug_cardinality));
        }
    }

    /// The template of `path` on `host` (query and fragment already removed).
    pub fn template(&mut self, host: &str, path: &str) -> String {
        let mut out = String::with_capacity(path.len());
        self.template_into(host, path, &mut out);
        out
    }

    /// [`Templater::template`] into a reused buffer (cleared first); returns the template's
    /// [`object_position`] and key (cached with it).
    pub fn template_into(&mut self, host: &str, path: &str, out: &mut String) -> Templated {
        out.clear();
        // The path with every shape-parameter segment already a placeholder: what the
        // template depends on (with the learned positions), so `/users/1` and `/users/2`
        // share one cache entry.
        let mut shape = std::mem::take(&mut self.shape_buf);
        let complete = self.shape_view(path, &mut shape);
        let key = hash64(&(host, shape.as_str()));
        let templated = match self.cache.get(&key) {
            Some(c) if *c.host == *host && *c.shape == *shape => {
                out.push_str(&c.template);
                self.stats.slugs += c.slugs;
                self.stats.positions_full += c.positions_full;
                self.stats.cache_hits += 1;
                Templated {
                    object_position: c.object_position,
                    template_key: c.template_key,
                    host_template_key: c.host_template_key,
                    health_path: c.health_path.unwrap_or_else(|| is_health_path(path)),
                }
            }
            _ => {
                let (slugs, full) = (self.stats.slugs, self.stats.positions_full);
                self.walk(host, &shape, out);
                let templated = Templated {
                    object_position: object_position(out),
                    template_key: hash64(out.as_str()),
                    host_template_key: hash64(&(host, out.as_str())),
                    health_path: is_health_path(path),
                };
                if self.config.cache_entries > 0 {
                    if self.cache.len() >= self.config.cache_entries {
                        self.cache.clear();
                        self.stats.cache_resets += 1;
                    }
                    self.cache.insert(
                        key,
                        CachedTemplate {
                            host: host.into(),
                            shape: shape.as_str().into(),
                            template: out.as_str().into(),
                            object_position: templated.object_position,
                            template_key: templated.template_key,
                            host_template_key: templated.host_template_key,
                            health_path: complete.then_some(templated.health_path),
                            slugs: self.stats.slugs - slugs,
                            positions_full: self.stats.positions_full - full,
                        },
                    );
                }
                templated
            }
        };
        self.shape_buf = shape;
        templated
    }

    /// `/`-joined segments of `path` (at most `max_segments`, then `{rest}`), each shape
    /// parameter replaced by its placeholder. Literal segments never contain `{` (such a
    /// segment has the `{value}` shape), so placeholders are unambiguous. Returns whether
    /// every segment is in it (no `{rest}`).
    fn shape_view(&self, path: &str, out: &mut String) -> bool {
        out.clear();
        for (n, seg) in segments(path).enumerate() {
            if n >= self.config.max_segments {
                out.push_str("/{rest}");
                return false;
            }
            out.push('/');
            out.push_str(shape_placeholder(seg).unwrap_or(seg));
        }
        true
    }

    /// Templates a shape view segment by segment, learning cardinality (the uncached path).
    fn walk(&mut self, host: &str, shape: &str, out: &mut String) {
        for seg in segments(shape) {
            let parent_len = out.len();
            out.push('/');
            if seg.starts_with('{') {
                out.push_str(seg);
                continue;
            }
            let slug = self.is_slug(host, &out[..parent_len], seg);
            if slug {
                self.stats.slugs += 1;
                out.push_str("{slug}");
            } else {
                out.push_str(seg);
            }
        }
        if out.is_empty() {
            out.push('/');
        }
    }

    fn is_slug(&mut self, host: &str, parent: &str, seg: &str) -> bool {
        let cap = self.config.slug_cardinality;
        let key = hash64(&(host, parent));
        let value = hash64(seg);
        let full = self.positions.len() >= self.config.max_positions;
        match self.positions.get_mut(&key) {
            Some(values) => {
                if values.contains(&value) {
                    false
                } else if values.len() >= cap {
                    true
                } else {
                    values.insert(value);
                    false
                }
            }
            None if full => {
                self.stats.positions_full += 1;
                false
            }
            None => {
                self.stats.positions_tracked += 1;
                let mut values = HashSet::default();
                values.insert(value);
                self.positions.insert(key, values);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The rule-by-rule classification `shape_placeholder` replaced with one pass.
    fn shape_placeholder_by_rules(seg: &str) -> Option<&'static str> {
        let b = seg.as_bytes();
        if b.is_empty() {
            return None;
        }
        if b.iter().all(u8::is_ascii_digit) {
            return Some("{id}");
        }
        if super::is_uuid(b) {
            return Some("{uuid}");
        }
        if b.len() >= 16 && b.len().is_multiple_of(2) && b.iter().all(u8::is_ascii_hexdigit) {
            return Some("{hash}");
        }
        if super::is_date(b) {
            return Some("{date}");
        }
        if seg.contains('@') && seg.contains('.') && !seg.contains('/') {
            return Some("{email}");
        }
        if b.len() >= 20
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'=' | b'+' | b'.'))
            && b.iter().any(u8::is_ascii_digit)
            && b.iter().any(u8::is_ascii_alphabetic)
        {
            return Some("{token}");
        }
        let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
        if digits >= 3
            && digits * 2 >= b.len()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'.')
        {
            return Some("{id}");
        }
        if b.len() > 64
            || b.iter().any(|c| {
                !(c.is_ascii_alphanumeric()
                    || matches!(
                        c,
                        b'-' | b'_' | b'.' | b'~' | b':' | b'@' | b'+' | b'!' | b'$'
                    ))
            })
        {
            return Some("{value}");
        }
        None
    }

    #[test]
    fn one_pass_shape_matches_the_rules_on_every_short_segment() {
        // Every string of up to 4 bytes over bytes that decide some rule.
        let alphabet = b"0a9fgZ-_=+.~:@!$/%\x80";
        let mut seg = Vec::new();
        fn walk(seg: &mut Vec<u8>, alphabet: &[u8], left: usize) {
            let s = String::from_utf8_lossy(seg).into_owned();
            assert_eq!(
                super::shape_placeholder(&s),
                shape_placeholder_by_rules(&s),
                "{s:?}"
            );
            if left == 0 {
                return;
            }
            for &c in alphabet {
                seg.push(c);
                walk(seg, alphabet, left - 1);
                seg.pop();
            }
        }
        walk(&mut seg, alphabet, 4);
    }

    proptest::proptest! {
        #[test]
        fn one_pass_shape_matches_the_rules(
            seg in "[0-9a-fA-Z@./_=+~:!$%-]{0,70}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9]{4}-[0-9]{2}-[0-9]{2}|[a-z0-9.]{1,8}@[a-z0-9]{1,8}\\.[a-z]{2,3}|[A-Za-z0-9_=-]{18,24}|u?[0-9]{1,6}(\\.json)?"
        ) {
            proptest::prop_assert_eq!(super::shape_placeholder(&seg), shape_placeholder_by_rules(&seg));
        }
    }

    use super::*;

    #[test]
    fn segments_are_the_non_empty_pieces_between_slashes() {
        fn all(p: &str) -> Vec<&str> {
            segments(p).collect()
        }
        assert_eq!(all("/users/42//orders/"), ["users", "42", "orders"]);
        assert_eq!(all("é/ü"), ["é", "ü"]);
        assert!(all("").is_empty() && all("///").is_empty());
        for p in ["/a/b", "a", "//x//y", "/ü/{id}/", "/"] {
            let split: Vec<_> = p.split('/').filter(|s| !s.is_empty()).collect();
            assert_eq!(all(p), split, "{p}");
        }
    }

    #[test]
    fn shapes() {
        let t = |s| shape_placeholder(s);
        assert_eq!(t("123"), Some("{id}"));
        assert_eq!(t("3f2b8c1e-9a4d-4e2b-8c1f-0a9b8c7d6e5f"), Some("{uuid}"));
        assert_eq!(t("d41d8cd98f00b204e9800998ecf8427e"), Some("{hash}"));
        assert_eq!(t("2024-05-01"), Some("{date}"));
        assert_eq!(t("alice@example.com"), Some("{email}"));
        assert_eq!(t("eyJhbGciOiJIUzI1NiJ9x1"), Some("{token}"));
        assert_eq!(t("u12345"), Some("{id}"));
        assert_eq!(t("users"), None);
        assert_eq!(t("v2"), None);
        assert_eq!(t("search"), None);
        assert_eq!(t("health-check"), None);
    }

    #[test]
    fn health_words_are_never_shape_parameters() {
        // What lets the templater cache is_health_path with a shape.
        for w in HEALTH_SEGMENTS {
            for v in [
                w.to_string(),
                w.to_ascii_uppercase(),
                format!("{}{}", &w[..1].to_ascii_uppercase(), &w[1..]),
            ] {
                assert_eq!(shape_placeholder(&v), None, "{v}");
            }
        }
    }

    #[test]
    fn health_paths_read_from_the_cache_are_the_paths_own() {
        let mut t = Templater::new(TemplateConfig {
            max_segments: 3,
            ..TemplateConfig::default()
        });
        let mut out = String::new();
        for path in [
            "/v1/health",
            "/v1/Health",
            "/v1/users",
            "/v1/users/12/status",
            "/v1/users/13/status",
            "/v1/users/14/orders",
            "/a/b/c/ping",
            "/a/b/c/pong",
            "/a/b/c/READYZ",
            "/status",
            "/statuses",
        ] {
            for _ in 0..2 {
                let templated = t.template_into("h", path, &mut out);
                assert_eq!(templated.health_path, is_health_path(path), "{path}");
            }
        }
        assert!(is_health_path("/api/HEALTHZ") && !is_health_path("/api/healthy"));
    }

    #[test]
    fn object_positions() {
        assert_eq!(object_position("/users/{id}"), Some(1));
        assert_eq!(object_position("/orders/{id}/items/{id}"), Some(3));
        assert_eq!(object_position("/{slug}"), None);
        assert_eq!(object_position("/{id}"), None);
        assert_eq!(object_position("/products"), None);
        // The templater hands out the same position with a template it walked and with one
        // it took from its cache.
        let mut t = Templater::new(TemplateConfig::default());
        let mut out = String::new();
        for path in [
            "/orders/7/items/9",
            "/orders/8/items/1",
            "/users/5",
            "/v1/health",
            "/42",
        ] {
            for _ in 0..2 {
                let templated = t.template_into("h", path, &mut out);
                assert_eq!(templated.object_position, object_position(&out), "{path}");
                assert_eq!(templated.template_key, hash64(out.as_str()));
                assert_eq!(templated.host_template_key, hash64(&("h", out.as_str())));
            }
        }
        assert_eq!(t.stats.cache_hits, 6);
    }

    #[test]
    fn ids_collapse_and_words_stay() {
        let mut t = Templater::new(TemplateConfig::default());
        assert_eq!(t.template("api", "/users/123"), "/users/{id}");
        assert_eq!(t.template("api", "/users/456/orders"), "/users/{id}/orders");
        assert_eq!(t.template("api", "/"), "/");
        assert_eq!(t.template("api", "/v2/products"), "/v2/products");
    }

    #[test]
    fn the_cache_changes_no_template_and_no_counter() {
        // Repeats, slug positions filling up, a full position table and a tiny cache that
        // keeps resetting: the cached templater must agree with an uncached one throughout.
        let config = TemplateConfig {
            slug_cardinality: 4,
            max_positions: 6,
            ..Default::default()
        };
        let mut cached = Templater::new(TemplateConfig {
            cache_entries: 5,
            ..config.clone()
        });
        let mut plain = Templater::new(TemplateConfig {
            cache_entries: 0,
            ..config
        });
        let mut x: u64 = 7;
        for _ in 0..5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let host = ["a", "b", "c"][(x >> 60) as usize % 3];
            let word = ["red", "blue", "green", "pink", "gold", "jade"][(x >> 40) as usize % 6];
            let sub = ["x", "y", "z", "w", "v"][(x >> 20) as usize % 5];
            let path = format!("/{sub}/{word}/{}/{sub}", (x >> 8) % 3);
            assert_eq!(cached.template(host, &path), plain.template(host, &path));
        }
        assert!(cached.stats.cache_hits > 0 && cached.stats.cache_resets > 0);
        assert_eq!(cached.stats.slugs, plain.stats.slugs);
        assert_eq!(cached.stats.positions_full, plain.stats.positions_full);
        assert!(plain.stats.slugs > 0 && plain.stats.positions_full > 0);
    }

    #[test]
    fn slugs_by_cardinality() {
        let mut t = Templater::new(TemplateConfig {
            slug_cardinality: 3,
            ..Default::default()
        });
        for name in ["red-shoe", "blue-hat", "green-scarf"] {
            assert_eq!(
                t.template("shop", &format!("/products/{name}")),
                format!("/products/{name}")
            );
        }
        // A value already seen stays literal; a fourth distinct one is a slug.
        assert_eq!(
            t.template("shop", "/products/red-shoe"),
            "/products/red-shoe"
        );
        assert_eq!(
            t.template("shop", "/products/pink-sock"),
            "/products/{slug}"
        );
        // Other hosts and parents learn separately.
        assert_eq!(
            t.template("other", "/products/pink-sock"),
            "/products/pink-sock"
        );
        assert_eq!(t.stats.slugs, 1);
    }

    #[test]
    fn position_table_is_bounded() {
        let mut t = Templater::new(TemplateConfig {
            max_positions: 2,
            ..Default::default()
        });
        t.template("h", "/a/x");
        t.template("h", "/b/x");
        t.template("h", "/c/x");
        assert!(t.stats.positions_full > 0);
        assert!(t.positions.len() <= 2);
        let deep = "/a".repeat(40);
        assert!(t.template("h", &deep).ends_with("/{rest}"));
    }
}
