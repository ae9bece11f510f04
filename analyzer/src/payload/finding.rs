//! What a detection says: the family (alert vocabulary name), where it was found, how sure
//! the detector is, the matched fragment (truncated, never a secret) and the normalisations
//! that had to be undone to see it.

use super::extract::Place;
use super::normalize::Transforms;

/// A payload family; [`Family::as_str`] is the `Alert.category` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Sqli,
    Xss,
    PathTraversal,
    CommandInjection,
    Ssrf,
    JndiInjection,
    Xxe,
}

impl Family {
    pub const ALL: [Family; 7] = [
        Family::Sqli,
        Family::Xss,
        Family::PathTraversal,
        Family::CommandInjection,
        Family::Ssrf,
        Family::JndiInjection,
        Family::Xxe,
    ];

    /// The alert vocabulary name (`sqli`, `xss`, `path_traversal`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Sqli => "sqli",
            Family::Xss => "xss",
            Family::PathTraversal => "path_traversal",
            Family::CommandInjection => "command_injection",
            Family::Ssrf => "ssrf",
            Family::JndiInjection => "jndi_injection",
            Family::Xxe => "xxe",
        }
    }

    pub fn from_name(s: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Where a finding was made: the kind of location and the parameter name in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    pub place: Place,
    /// Query/form key, JSON path, XML element path, header or cookie name.
    pub name: String,
}

/// One detected payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub family: Family,
    pub location: Location,
    /// 0–1, after the parameter's learned profile was taken into account.
    pub confidence: f32,
    /// The rule that matched, e.g. `libinjection:s&sos`, `union_select`, `metadata_address`.
    pub rule: String,
    /// The matched part of the normalised value, at most [`FRAGMENT_MAX`] bytes, control
    /// characters escaped; `[redacted]` when the parameter is secret-named.
    pub fragment: String,
    /// The normalisations that were undone to see the payload.
    pub normalizations: Transforms,
}

/// Longest evidence fragment kept, in bytes.
pub const FRAGMENT_MAX: usize = 64;

/// A printable fragment of `text` starting at `start`, at most [`FRAGMENT_MAX`] bytes.
pub fn fragment(text: &[u8], start: usize) -> String {
    let start = start.min(text.len());
    let mut s = String::with_capacity(FRAGMENT_MAX);
    for c in String::from_utf8_lossy(&text[start..text.len().min(start + FRAGMENT_MAX * 2)]).chars()
    {
        let add = if c.is_control() {
            c.escape_default().to_string()
        } else {
            c.to_string()
        };
        if s.len() + add.len() > FRAGMENT_MAX {
            break;
        }
        s.push_str(&add);
    }
    s
}

/// Parameter names whose values are credentials: their fragments are never kept.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "api-key",
        "auth",
        "session",
        "sessid",
        "jwt",
        "credential",
        "private_key",
        "otp",
    ]
    .iter()
    .any(|s| n.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_are_bounded_and_printable() {
        let long = vec![b'a'; 500];
        assert_eq!(fragment(&long, 0).len(), FRAGMENT_MAX);
        assert_eq!(fragment(b"a\nb\x00", 0), "a\\nb\\u{0}");
        assert_eq!(fragment(b"abc", 10), "");
        assert_eq!(fragment("ééé".as_bytes(), 1), "\u{fffd}éé");
    }

    #[test]
    fn family_names_round_trip() {
        for f in Family::ALL {
            assert_eq!(Family::from_name(f.as_str()), Some(f));
        }
        assert!(is_secret_name("X-Api-Key"));
        assert!(!is_secret_name("q"));
    }
}
