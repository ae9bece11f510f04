//! Compiled multi-pattern rule sets: one `regex::bytes::RegexSet` per family decides in one
//! pass which rules match; only the strongest match is then re-run alone for its position.
//!
//! Invariant: patterns are written against the family's normalised, lower-cased view, so no
//! rule needs case-insensitive matching or encoding alternatives.

use regex::bytes::{Regex, RegexSet, RegexSetBuilder};

/// One named pattern and the confidence a match alone gives.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    pub pattern: &'static str,
    pub confidence: f32,
}

/// The best match of a rule set in one text.
#[derive(Debug, Clone, Copy)]
pub struct RuleMatch {
    pub rule: &'static Rule,
    pub start: usize,
    /// How many rules of the set matched (more rules, more certainty).
    pub matched: usize,
}

#[derive(Debug)]
pub struct RuleSet {
    set: RegexSet,
    regexes: Vec<Regex>,
    rules: &'static [Rule],
}

impl RuleSet {
    pub fn new(rules: &'static [Rule]) -> Result<RuleSet, regex::Error> {
        // ASCII word boundaries and byte semantics: the lazy DFA handles every rule.
        let patterns: Vec<String> = rules
            .iter()
            .map(|r| format!("(?-u){}", r.pattern))
            .collect();
        let set = RegexSetBuilder::new(&patterns)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()?;
        let regexes = patterns
            .iter()
            .map(|p| Regex::new(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RuleSet {
            set,
            regexes,
            rules,
        })
    }

    /// The highest-confidence matching rule, if any.
    pub fn best(&self, text: &[u8]) -> Option<RuleMatch> {
        let m = self.set.matches(text);
        if !m.matched_any() {
            return None;
        }
        let mut best: Option<usize> = None;
        let mut matched = 0;
        for i in m.iter() {
            matched += 1;
            if best.is_none_or(|b| self.rules[i].confidence > self.rules[b].confidence) {
                best = Some(i);
            }
        }
        let i = best?;
        let start = self.regexes[i].find(text).map(|x| x.start()).unwrap_or(0);
        Some(RuleMatch {
            rule: &self.rules[i],
            start,
            matched,
        })
    }
}
