//! Case-insensitive word lists compiled once into one automaton, so "does this user agent,
//! path or body name any of these words" is a single pass over the text with no lowered copy
//! and no loop over the list (detectors used to lower every record's text and call
//! `contains` once per word, which cost more than all their arithmetic).
//!
//! Words are ASCII and matched as substrings, ignoring ASCII case, exactly like lowering the
//! text and calling `contains` for each word.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// A compiled list of words, each with a tag (a bit set the caller defines).
#[derive(Debug, Clone)]
pub struct WordSet {
    automaton: AhoCorasick,
    words: Vec<&'static str>,
    tags: Vec<u8>,
}

impl WordSet {
    /// One list, every word tagged 1.
    pub fn new(words: &[&'static str]) -> Self {
        Self::tagged(&[(words, 1)])
    }

    /// Several lists, each word carrying its list's tag; list order is kept for
    /// [`WordSet::first`].
    pub fn tagged(groups: &[(&[&'static str], u8)]) -> Self {
        let mut words = Vec::new();
        let mut tags = Vec::new();
        for (list, tag) in groups {
            for w in *list {
                words.push(*w);
                tags.push(*tag);
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&words)
            .expect("a few hundred fixed ASCII words always compile");
        WordSet {
            automaton,
            words,
            tags,
        }
    }

    /// Whether `text` contains any word.
    pub fn any(&self, text: &[u8]) -> bool {
        self.automaton.is_match(text)
    }

    /// The first word of the list (in list order, not text order) that `text` contains.
    pub fn first(&self, text: &[u8]) -> Option<&'static str> {
        self.automaton
            .find_overlapping_iter(text)
            .map(|m| m.pattern().as_usize())
            .min()
            .map(|i| self.words[i])
    }

    /// The tags of every word `text` contains, OR-ed.
    pub fn tags(&self, text: &[u8]) -> u8 {
        self.automaton
            .find_overlapping_iter(text)
            .fold(0, |acc, m| acc | self.tags[m.pattern().as_usize()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The behaviour it replaces: lower the text, `contains` each word.
    fn naive_first(text: &str, words: &[&'static str]) -> Option<&'static str> {
        let lower = text.to_ascii_lowercase();
        words.iter().copied().find(|w| lower.contains(w))
    }

    #[test]
    fn agrees_with_lowering_and_contains() {
        let words = ["otp", "totp", "password", "card", "api-key", "pass"];
        let set = WordSet::new(&words);
        for text in [
            "/api/v1/Users/{id}/PASSWORD",
            "/api/v1/mfa/TOTP",
            "/wallet/cards",
            "/x/Api-Key",
            "/nothing/here",
            "",
            "pasSword",
        ] {
            assert_eq!(
                set.first(text.as_bytes()),
                naive_first(text, &words),
                "{text}"
            );
            assert_eq!(
                set.any(text.as_bytes()),
                naive_first(text, &words).is_some()
            );
        }
    }

    #[test]
    fn tags_collect_every_list_that_matches() {
        let set = WordSet::tagged(&[(&["password", "otp"], 1), (&["email", "phone"], 2)]);
        assert_eq!(set.tags(b"/users/{id}/Email"), 2);
        assert_eq!(set.tags(b"/users/{id}/password-and-phone"), 3);
        // A word inside another word of a different list still counts.
        let nested = WordSet::tagged(&[(&["totp"], 1), (&["otp"], 4)]);
        assert_eq!(nested.tags(b"/mfa/totp"), 5);
        assert_eq!(set.tags(b"/cart"), 0);
    }
}
