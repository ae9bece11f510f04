//! Header fields kept in one buffer: a record's request and response headers for the
//! analyzers (never serialized).
//!
//! A record used to hold its headers as `Vec<(String, String)>`: two heap strings per field,
//! some twenty allocations per exchange for the sensor to make and scattered cache lines for
//! the analyzer to touch. [`Headers`] keeps every name and value back to back in one string
//! and the field boundaries in one vector: two allocations, read front to back.

use std::fmt;

/// `(name, value)` header fields in wire order, in one buffer.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Headers {
    /// Every field's name then value, back to back.
    text: String,
    /// Each field's name and value lengths, in order.
    lens: Vec<(u32, u32)>,
}

impl Headers {
    /// Empty, with room for `fields` fields of `bytes` bytes in all.
    pub fn with_capacity(fields: usize, bytes: usize) -> Self {
        Headers {
            text: String::with_capacity(bytes),
            lens: Vec::with_capacity(fields),
        }
    }

    /// Appends a field.
    pub fn push(&mut self, name: &str, value: &str) {
        self.push_field(name, value, false);
    }

    /// Appends a field with its name lowercased (ASCII letters; what a record stores).
    pub fn push_lowercase_name(&mut self, name: &str, value: &str) {
        self.push_field(name, value, true);
    }

    fn push_field(&mut self, name: &str, value: &str, lowercase: bool) {
        let (Ok(n), Ok(v), Ok(_)) = (
            u32::try_from(name.len()),
            u32::try_from(value.len()),
            u32::try_from(self.text.len() + name.len() + value.len()),
        ) else {
            // Past 4 GiB of fields: the field is not kept (the sensor's head limits are
            // far below).
            return;
        };
        let start = self.text.len();
        self.text.push_str(name);
        if lowercase {
            self.text[start..].make_ascii_lowercase();
        }
        self.text.push_str(value);
        self.lens.push((n, v));
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// The fields in wire order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            text: &self.text,
            lens: self.lens.iter(),
            front: 0,
            back: self.text.len(),
        }
    }

    /// The fields in wire order as bytes: for readers that compare or hash names and values
    /// (split off the front of the buffer, no character-boundary checks on the way).
    pub fn iter_bytes(&self) -> FieldBytes<'_> {
        FieldBytes {
            rest: self.text.as_bytes(),
            lens: self.lens.iter(),
        }
    }
}

/// The fields of a [`Headers`] as bytes ([`Headers::iter_bytes`]).
#[derive(Debug, Clone)]
pub struct FieldBytes<'a> {
    /// The fields not yet taken, back to back.
    rest: &'a [u8],
    lens: std::slice::Iter<'a, (u32, u32)>,
}

impl<'a> Iterator for FieldBytes<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let &(n, v) = self.lens.next()?;
        let (name, after) = self.rest.split_at(n as usize);
        let (value, after) = after.split_at(v as usize);
        self.rest = after;
        Some((name, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.lens.size_hint()
    }
}

impl ExactSizeIterator for FieldBytes<'_> {}

/// The fields of a [`Headers`], as `(name, value)`.
#[derive(Clone)]
pub struct Iter<'a> {
    text: &'a str,
    lens: std::slice::Iter<'a, (u32, u32)>,
    /// Where the next field from the front starts.
    front: usize,
    /// Where the next field from the back ends.
    back: usize,
}

impl<'a> Iter<'a> {
    fn field(&self, start: usize, (n, v): (u32, u32)) -> (&'a str, &'a str) {
        let name_end = start + n as usize;
        (
            &self.text[start..name_end],
            &self.text[name_end..name_end + v as usize],
        )
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let &lens = self.lens.next()?;
        let field = self.field(self.front, lens);
        self.front += (lens.0 + lens.1) as usize;
        Some(field)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.lens.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let &lens = self.lens.next_back()?;
        self.back -= (lens.0 + lens.1) as usize;
        Some(self.field(self.back, lens))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(fields: I) -> Self {
        let mut h = Headers::default();
        for (n, v) in fields {
            h.push(n.as_ref(), v.as_ref());
        }
        h
    }
}

impl fmt::Debug for Headers {
    /// As the list of `(name, value)` pairs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_back_in_order_from_either_end() {
        let h: Headers = [
            ("host", "a.example"),
            ("accept", ""),
            ("", "v"),
            ("x-é", "ü"),
        ]
        .into_iter()
        .collect();
        assert_eq!(h.len(), 4);
        let fwd: Vec<_> = h.iter().collect();
        assert_eq!(
            fwd,
            [
                ("host", "a.example"),
                ("accept", ""),
                ("", "v"),
                ("x-é", "ü")
            ]
        );
        let back: Vec<_> = h.iter().rev().collect();
        assert_eq!(
            back,
            [
                ("x-é", "ü"),
                ("", "v"),
                ("accept", ""),
                ("host", "a.example")
            ]
        );
        // Mixed ends meet in the middle.
        let mut it = h.iter();
        assert_eq!(it.next(), Some(("host", "a.example")));
        assert_eq!(it.next_back(), Some(("x-é", "ü")));
        assert_eq!(it.len(), 2);
        assert_eq!(it.next_back(), Some(("", "v")));
        assert_eq!(it.next(), Some(("accept", "")));
        assert_eq!(it.next(), None);
        assert_eq!(it.next_back(), None);
        let bytes: Vec<_> = h.iter_bytes().collect();
        let text: Vec<_> = h
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        assert_eq!(bytes, text);
        assert_eq!(
            format!("{h:?}"),
            r#"[("host", "a.example"), ("accept", ""), ("", "v"), ("x-é", "ü")]"#
        );
        assert!(Headers::default().is_empty());
        let mut w = Headers::with_capacity(1, 8);
        w.push_lowercase_name("X-Api-KEY", "ValUe");
        assert_eq!(w.iter().collect::<Vec<_>>(), [("x-api-key", "ValUe")]);
    }
}
