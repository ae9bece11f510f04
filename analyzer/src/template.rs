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
}

impl Default for TemplateConfig {
    fn default() -> Self {
        TemplateConfig {
            slug_cardinality: 50,
            max_positions: 20_000,
            max_segments: 16,
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
}

/// The shape placeholder for a segment, if its shape alone says it is a parameter.
pub fn shape_placeholder(seg: &str) -> Option<&'static str> {
    let b = seg.as_bytes();
    if b.is_empty() {
        return None;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return Some("{id}");
    }
    if is_uuid(b) {
        return Some("{uuid}");
    }
    if b.len() >= 16 && b.len().is_multiple_of(2) && b.iter().all(u8::is_ascii_hexdigit) {
        return Some("{hash}");
    }
    if is_date(b) {
        return Some("{date}");
    }
    if seg.contains('@') && seg.contains('.') && !seg.contains('/') {
        return Some("{email}");
    }
    // Opaque tokens: long, no separators a word would have, letters mixed with digits.
    if b.len() >= 20
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'=' | b'+' | b'.'))
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_alphabetic)
    {
        return Some("{token}");
    }
    // Numeric ids with a short prefix or suffix: `u123`, `123.json`.
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits >= 3
        && digits * 2 >= b.len()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'.')
    {
        return Some("{id}");
    }
    // Route literals are short words of unreserved characters; a segment carrying escapes,
    // quotes, spaces, brackets or operators is a value someone typed (often an injection
    // attempt), not a new endpoint.
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

/// Placeholders that stand for one object of a collection.
const OBJECT_PLACEHOLDERS: [&str; 3] = ["{id}", "{uuid}", "{hash}"];

/// The segment index of the object id in an object endpoint: the last `{id}`/`{uuid}`/`{hash}`
/// that follows a literal segment (`/orders/{id}`). Slug positions (`{slug}`, learned from
/// cardinality, as a path scanner's wordlist also produces) are not objects.
pub fn object_position(template: &str) -> Option<usize> {
    let segs: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let i = segs.iter().rposition(|s| OBJECT_PLACEHOLDERS.contains(s))?;
    (i > 0 && !segs[i - 1].starts_with('{')).then_some(i)
}

/// Templates paths, learning slug positions by cardinality.
#[derive(Debug, Default)]
pub struct Templater {
    config: TemplateConfig,
    /// hash(host, parent template) → hashes of the literal values seen at the next position
    /// (bounded); hashes, so templating a path allocates nothing but its template.
    positions: HashMap<u64, HashSet<u64, Fixed>, Fixed>,
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

    /// [`Templater::template`] into a reused buffer (cleared first).
    pub fn template_into(&mut self, host: &str, path: &str, out: &mut String) {
        out.clear();
        let segments = path.split('/').filter(|s| !s.is_empty());
        let mut n = 0;
        for seg in segments {
            n += 1;
            if n > self.config.max_segments {
                out.push_str("/{rest}");
                break;
            }
            let parent_len = out.len();
            out.push('/');
            if let Some(p) = shape_placeholder(seg) {
                out.push_str(p);
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
    use super::*;

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
    fn object_positions() {
        assert_eq!(object_position("/users/{id}"), Some(1));
        assert_eq!(object_position("/orders/{id}/items/{id}"), Some(3));
        assert_eq!(object_position("/{slug}"), None);
        assert_eq!(object_position("/{id}"), None);
        assert_eq!(object_position("/products"), None);
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
