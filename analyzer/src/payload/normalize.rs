//! Normalisation: undo the encodings and evasions an attacker wraps a payload in, with the
//! work per value bounded.
//!
//! [`normalize`] repeats the decoding steps (percent-decoding with `+` and `%uXXXX`, HTML
//! entities, JSON/JS escapes, overlong UTF-8 and full-width forms) until a pass changes nothing
//! or [`NormalizeLimits::max_passes`] is reached, then drops null bytes. Every step is one
//! linear pass that never grows its input, so the work per value is at most
//! `max_passes × steps × len`. The family views ([`sql_view`], [`path_view`], [`shell_view`],
//! [`jndi_view`]) derive from the decoded, lower-cased text. [`base64_decode_evident`] decodes a
//! value only when it evidently is base64 text. Each step records itself in [`Transforms`],
//! which a finding carries as evidence.

use std::borrow::Cow;

/// The set of normalisations applied to a value (a bit set; see [`Transforms::names`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Transforms(pub u16);

impl Transforms {
    pub const PERCENT: Transforms = Transforms(1);
    pub const MULTI_PERCENT: Transforms = Transforms(1 << 1);
    pub const PLUS: Transforms = Transforms(1 << 2);
    pub const PERCENT_U: Transforms = Transforms(1 << 3);
    pub const OVERLONG_UTF8: Transforms = Transforms(1 << 4);
    pub const HTML_ENTITY: Transforms = Transforms(1 << 5);
    pub const BACKSLASH: Transforms = Transforms(1 << 6);
    pub const CASE_FOLD: Transforms = Transforms(1 << 7);
    pub const SQL_COMMENT: Transforms = Transforms(1 << 8);
    pub const NULL_BYTE: Transforms = Transforms(1 << 9);
    pub const JSON_ESCAPE: Transforms = Transforms(1 << 10);
    pub const BASE64: Transforms = Transforms(1 << 11);
    pub const FULLWIDTH: Transforms = Transforms(1 << 12);
    pub const WHITESPACE: Transforms = Transforms(1 << 13);
    pub const SHELL_QUOTES: Transforms = Transforms(1 << 14);
    pub const JNDI_LOOKUP: Transforms = Transforms(1 << 15);

    const NAMES: [&'static str; 16] = [
        "percent",
        "multi_percent",
        "plus",
        "percent_u",
        "overlong_utf8",
        "html_entity",
        "backslash",
        "case_fold",
        "sql_comment",
        "null_byte",
        "json_escape",
        "base64",
        "fullwidth",
        "whitespace",
        "shell_quotes",
        "jndi_lookup",
    ];

    pub fn contains(self, other: Transforms) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn insert(&mut self, other: Transforms) {
        self.0 |= other.0;
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Snake_case names of the applied steps, in a fixed order.
    pub fn names(self) -> Vec<&'static str> {
        (0..16)
            .filter(|i| self.0 & (1 << i) != 0)
            .map(|i| Self::NAMES[i])
            .collect()
    }
}

impl std::ops::BitOr for Transforms {
    type Output = Transforms;
    fn bitor(self, rhs: Transforms) -> Transforms {
        Transforms(self.0 | rhs.0)
    }
}

/// Bounds on the work spent normalising one value.
#[derive(Debug, Clone, Copy)]
pub struct NormalizeLimits {
    /// Decoding passes (percent, entities, escapes) before giving up on deeper nesting.
    pub max_passes: u8,
    /// Treat `+` as a space (query strings and urlencoded forms).
    pub plus_is_space: bool,
}

impl Default for NormalizeLimits {
    fn default() -> Self {
        NormalizeLimits {
            max_passes: 4,
            plus_is_space: false,
        }
    }
}

/// A normalised value and the steps that changed it.
#[derive(Debug, Clone)]
pub struct Normalized<'v> {
    pub text: Cow<'v, [u8]>,
    pub applied: Transforms,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    let c = char::from_u32(cp).unwrap_or('\u{fffd}');
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Percent-decodes `%XX`, `%uXXXX` and (optionally) `+`. Malformed escapes are kept as they
/// are. Returns `None` when nothing changed.
pub fn percent_decode(input: &[u8], plus: bool, applied: &mut Transforms) -> Option<Vec<u8>> {
    if !input.iter().any(|&b| b == b'%' || (plus && b == b'+')) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            let rest = &input[i + 1..];
            if let [h, l, ..] = rest {
                if let (Some(h), Some(l)) = (hex(*h), hex(*l)) {
                    out.push(h << 4 | l);
                    applied.insert(Transforms::PERCENT);
                    changed = true;
                    i += 3;
                    continue;
                }
            }
            if let [u, a, b2, c, d, ..] = rest {
                if *u == b'u' || *u == b'U' {
                    if let (Some(a), Some(b2), Some(c), Some(d)) =
                        (hex(*a), hex(*b2), hex(*c), hex(*d))
                    {
                        let cp = u32::from(a) << 12
                            | u32::from(b2) << 8
                            | u32::from(c) << 4
                            | u32::from(d);
                        push_utf8(&mut out, cp);
                        applied.insert(Transforms::PERCENT_U);
                        changed = true;
                        i += 6;
                        continue;
                    }
                }
            }
            out.push(b);
        } else if b == b'+' && plus {
            out.push(b' ');
            applied.insert(Transforms::PLUS);
            changed = true;
        } else {
            out.push(b);
        }
        i += 1;
    }
    changed.then_some(out)
}

const NAMED_ENTITIES: &[(&[u8], u8)] = &[
    (b"lt", b'<'),
    (b"gt", b'>'),
    (b"amp", b'&'),
    (b"quot", b'"'),
    (b"apos", b'\''),
    (b"sol", b'/'),
    (b"bsol", b'\\'),
    (b"lpar", b'('),
    (b"rpar", b')'),
    (b"colon", b':'),
    (b"semi", b';'),
    (b"tab", b'\t'),
    (b"newline", b'\n'),
    (b"equals", b'='),
    (b"num", b'#'),
    (b"period", b'.'),
    (b"comma", b','),
    (b"nbsp", b' '),
    (b"grave", b'`'),
    (b"lsqb", b'['),
    (b"rsqb", b']'),
    (b"lcub", b'{'),
    (b"rcub", b'}'),
    (b"excl", b'!'),
    (b"dollar", b'$'),
    (b"percnt", b'%'),
    (b"ast", b'*'),
    (b"plus", b'+'),
    (b"vert", b'|'),
    (b"quest", b'?'),
    (b"commat", b'@'),
];

/// Decodes HTML character references: numeric (`&#39;`, `&#x27;`, with or without the `;`,
/// with leading zeros) and the named ones an evasion uses. Unknown names are kept.
pub fn html_entities(input: &[u8], applied: &mut Transforms) -> Option<Vec<u8>> {
    memchr::memchr(b'&', input)?;
    let mut out = Vec::with_capacity(input.len());
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'&' {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = &input[i + 1..];
        if rest.first() == Some(&b'#') {
            let (radix, start) = match rest.get(1) {
                Some(b'x') | Some(b'X') => (16u32, 2),
                _ => (10u32, 1),
            };
            let mut j = start;
            let mut cp: u32 = 0;
            while let Some(&d) = rest.get(j) {
                let v = match hex(d) {
                    Some(v) if u32::from(v) < radix => u32::from(v),
                    _ => break,
                };
                cp = cp.saturating_mul(radix).saturating_add(v);
                j += 1;
                if j - start > 8 {
                    break;
                }
            }
            if j > start {
                if rest.get(j) == Some(&b';') {
                    j += 1;
                }
                push_utf8(&mut out, cp.min(0x10FFFF));
                applied.insert(Transforms::HTML_ENTITY);
                changed = true;
                i += 1 + j;
                continue;
            }
        } else {
            let name_len = rest
                .iter()
                .take(8)
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
            if name_len > 0 {
                let name = &rest[..name_len];
                if let Some(&(_, c)) = NAMED_ENTITIES
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                {
                    let mut j = name_len;
                    if rest.get(j) == Some(&b';') {
                        j += 1;
                    }
                    out.push(c);
                    applied.insert(Transforms::HTML_ENTITY);
                    changed = true;
                    i += 1 + j;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

/// Decodes JSON and JavaScript escapes: `\uXXXX`, `\u{X}`, `\xHH` and the one-letter ones
/// (`\"`, `\'`, `\/`, `\\`, `\n`, `\t`, `\r`). Other backslashes are kept.
pub fn json_escapes(input: &[u8], applied: &mut Transforms) -> Option<Vec<u8>> {
    memchr::memchr(b'\\', input)?;
    let mut out = Vec::with_capacity(input.len());
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'\\' {
            let rest = &input[i + 1..];
            match rest {
                [b'u', a, b2, c, d, ..]
                    if hex(*a).is_some()
                        && hex(*b2).is_some()
                        && hex(*c).is_some()
                        && hex(*d).is_some() =>
                {
                    let cp = [*a, *b2, *c, *d]
                        .iter()
                        .fold(0u32, |acc, &h| acc << 4 | u32::from(hex(h).unwrap_or(0)));
                    push_utf8(&mut out, cp);
                    i += 6;
                    changed = true;
                    continue;
                }
                [b'x', h, l, ..] if hex(*h).is_some() && hex(*l).is_some() => {
                    out.push(hex(*h).unwrap_or(0) << 4 | hex(*l).unwrap_or(0));
                    i += 4;
                    changed = true;
                    continue;
                }
                [c @ (b'"' | b'\'' | b'/' | b'\\' | b'n' | b't' | b'r'), ..] => {
                    out.push(match c {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => *other,
                    });
                    i += 2;
                    changed = true;
                    continue;
                }
                _ => {}
            }
        }
        out.push(b);
        i += 1;
    }
    if changed {
        applied.insert(Transforms::JSON_ESCAPE);
    }
    changed.then_some(out)
}

/// Folds overlong UTF-8 encodings of ASCII (`C0 AF`, `E0 80 AF`) and full-width forms
/// (U+FF01..U+FF5E) to the ASCII they stand for.
pub fn fold_unicode(input: &[u8], applied: &mut Transforms) -> Option<Vec<u8>> {
    if input.iter().all(|b| b.is_ascii()) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        match &input[i..] {
            [a @ (0xC0 | 0xC1), b, ..] if (0x80..0xC0).contains(b) => {
                out.push(((a & 0x1F) << 6) | (b & 0x3F));
                applied.insert(Transforms::OVERLONG_UTF8);
                changed = true;
                i += 2;
            }
            [0xE0, b @ 0x80..=0x81, c, ..] if (0x80..0xC0).contains(c) => {
                out.push(((b & 0x3F) << 6) | (c & 0x3F));
                applied.insert(Transforms::OVERLONG_UTF8);
                changed = true;
                i += 3;
            }
            // Division slash, fraction slash, set minus, small reverse solidus.
            [0xE2, 0x88, 0x95, ..] | [0xE2, 0x81, 0x84, ..] => {
                out.push(b'/');
                applied.insert(Transforms::FULLWIDTH);
                changed = true;
                i += 3;
            }
            [0xE2, 0x88, 0x96, ..] | [0xEF, 0xB9, 0xA8, ..] => {
                out.push(b'\\');
                applied.insert(Transforms::FULLWIDTH);
                changed = true;
                i += 3;
            }
            [0xEF, 0xBC, c @ 0x81..=0xBF, ..] => {
                out.push(c - 0x81 + 0x21);
                applied.insert(Transforms::FULLWIDTH);
                changed = true;
                i += 3;
            }
            [0xEF, 0xBD, c @ 0x80..=0x9E, ..] => {
                out.push(c - 0x80 + 0x60);
                applied.insert(Transforms::FULLWIDTH);
                changed = true;
                i += 3;
            }
            [b, ..] => {
                out.push(*b);
                i += 1;
            }
            [] => break,
        }
    }
    changed.then_some(out)
}

/// Bytes a decoding step (or the null-byte removal) starts from: `%`, `&`, `\`, NUL and
/// every non-ASCII byte (`+` is one only where it means a space).
static DECODE_TRIGGER: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = matches!(i as u8, b'%' | b'&' | b'\\' | 0) || i >= 0x80;
        i += 1;
    }
    t
};

/// Runs the decoding steps until nothing changes or `limits.max_passes` passes are done,
/// then removes null bytes. Never grows the value.
pub fn normalize<'v>(raw: &'v [u8], limits: &NormalizeLimits) -> Normalized<'v> {
    let mut applied = Transforms::default();
    // Most values hold none of the bytes a step starts from: one look-up per byte, no passes.
    let plus = limits.plus_is_space && limits.max_passes > 0;
    if !raw
        .iter()
        .any(|&b| DECODE_TRIGGER[usize::from(b)] || (plus && b == b'+'))
    {
        return Normalized {
            text: Cow::Borrowed(raw),
            applied,
        };
    }
    let mut cur: Cow<'v, [u8]> = Cow::Borrowed(raw);
    let mut percent_passes = 0u8;
    for pass in 0..limits.max_passes {
        let mut changed = false;
        let plus = limits.plus_is_space && pass == 0;
        if let Some(v) = percent_decode(&cur, plus, &mut applied) {
            if v.len() < cur.len() {
                percent_passes += 1;
            }
            cur = Cow::Owned(v);
            changed = true;
        }
        if let Some(v) = fold_unicode(&cur, &mut applied) {
            cur = Cow::Owned(v);
            changed = true;
        }
        if let Some(v) = html_entities(&cur, &mut applied) {
            cur = Cow::Owned(v);
            changed = true;
        }
        if let Some(v) = json_escapes(&cur, &mut applied) {
            cur = Cow::Owned(v);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    if percent_passes > 1 {
        applied.insert(Transforms::MULTI_PERCENT);
    }
    if memchr::memchr(0, &cur).is_some() {
        applied.insert(Transforms::NULL_BYTE);
        cur = Cow::Owned(cur.iter().copied().filter(|&b| b != 0).collect());
    }
    Normalized { text: cur, applied }
}

/// ASCII lower-case copy (non-ASCII bytes kept).
pub fn lower(input: &[u8], applied: &mut Transforms) -> Vec<u8> {
    if input.iter().any(|b| b.is_ascii_uppercase()) {
        applied.insert(Transforms::CASE_FOLD);
    }
    input.to_ascii_lowercase()
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// SQL view of lower-cased text: `/* … */` comments become a space (the body of a MySQL
/// versioned comment `/*!50000 … */` is kept), `--` and `#` comments become a space with
/// their tails kept (an evasion hides keywords behind `#\n`), whitespace runs (including
/// `\xa0`-free ASCII controls) collapse to one space.
pub fn sql_view(lower: &[u8], applied: &mut Transforms) -> Vec<u8> {
    let mut out = Vec::with_capacity(lower.len());
    let mut i = 0;
    let push_space = |out: &mut Vec<u8>| {
        if out.last() != Some(&b' ') {
            out.push(b' ');
        }
    };
    while i < lower.len() {
        let b = lower[i];
        if b == b'/' && lower.get(i + 1) == Some(&b'*') {
            applied.insert(Transforms::SQL_COMMENT);
            let body_start = i + 2;
            let end = memchr::memmem::find(&lower[body_start..], b"*/")
                .map(|e| body_start + e)
                .unwrap_or(lower.len());
            if lower.get(body_start) == Some(&b'!') {
                // MySQL executable comment: keep the body without its version digits.
                let mut k = body_start + 1;
                while k < end && lower[k].is_ascii_digit() {
                    k += 1;
                }
                push_space(&mut out);
                for &c in &lower[k..end] {
                    if is_space(c) {
                        push_space(&mut out);
                    } else {
                        out.push(c);
                    }
                }
            }
            push_space(&mut out);
            i = (end + 2).min(lower.len()).max(i + 2);
            continue;
        }
        if (b == b'-' && lower.get(i + 1) == Some(&b'-')) || b == b'#' {
            applied.insert(Transforms::SQL_COMMENT);
            push_space(&mut out);
            i += if b == b'#' { 1 } else { 2 };
            continue;
        }
        if is_space(b) {
            if b != b' ' {
                applied.insert(Transforms::WHITESPACE);
            }
            push_space(&mut out);
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// Path view: backslashes become slashes (Windows separators), runs of `/` collapse and
/// `./` segments vanish (`./.././../` is `../../`).
pub fn path_view(lower: &[u8], applied: &mut Transforms) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(lower.len());
    for &b in lower {
        let c = if b == b'\\' {
            applied.insert(Transforms::BACKSLASH);
            b'/'
        } else {
            b
        };
        if c == b'/' {
            if out.last() == Some(&b'/') {
                continue;
            }
            // Drop a `./` segment: the previous byte is a lone `.` at a segment start.
            let n = out.len();
            if n >= 1 && out[n - 1] == b'.' && (n == 1 || out[n - 2] == b'/') {
                out.pop();
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Shell view: quote and backslash games inside words are removed (`w'h'o"am"i`, `c\at`),
/// `$IFS`, `${IFS}`, `$IFS$9` and tabs become spaces, and `$@`/`$9`-style empty expansions vanish.
pub fn shell_view(lower: &[u8], applied: &mut Transforms) -> Vec<u8> {
    let mut out = Vec::with_capacity(lower.len());
    let mut i = 0;
    while i < lower.len() {
        let rest = &lower[i..];
        if rest.starts_with(b"```") {
            // A markdown code fence, not a substitution.
            i += 3;
            while lower.get(i) == Some(&b'`') {
                i += 1;
            }
            continue;
        }
        if rest.starts_with(b"${ifs}") {
            out.push(b' ');
            applied.insert(Transforms::SHELL_QUOTES);
            i += 6;
            continue;
        }
        if rest.starts_with(b"$ifs") {
            out.push(b' ');
            applied.insert(Transforms::SHELL_QUOTES);
            i += 4;
            continue;
        }
        match rest {
            [b'$', b'@' | b'0'..=b'9', ..] => {
                applied.insert(Transforms::SHELL_QUOTES);
                i += 2;
                continue;
            }
            [b'\'' | b'"', ..] if i > 0 && lower[i - 1].is_ascii_alphanumeric() => {
                applied.insert(Transforms::SHELL_QUOTES);
                i += 1;
                continue;
            }
            [b'\'' | b'"', n, ..] if n.is_ascii_alphanumeric() && i > 0 => {
                applied.insert(Transforms::SHELL_QUOTES);
                i += 1;
                continue;
            }
            [b'\\', n, ..] if n.is_ascii_alphanumeric() => {
                applied.insert(Transforms::SHELL_QUOTES);
                i += 1;
                continue;
            }
            [b'\t', ..] => {
                out.push(b' ');
                i += 1;
                continue;
            }
            _ => {}
        }
        out.push(lower[i]);
        i += 1;
    }
    out
}

/// JNDI view: resolves the Log4j lookups an obfuscation nests (`${lower:j}`, `${upper:N}`,
/// `${::-d}`, `${env:NOPE:-i}`, `${date:'j'}`, any `${xxx:-c}` default) to the text they yield,
/// innermost first, in at most `max_rounds` rounds.
pub fn jndi_view(lower: &[u8], max_rounds: u8, applied: &mut Transforms) -> Vec<u8> {
    let mut cur = lower.to_vec();
    for _ in 0..max_rounds {
        let mut out = Vec::with_capacity(cur.len());
        let mut changed = false;
        let mut i = 0;
        while i < cur.len() {
            if cur[i] == b'$' && cur.get(i + 1) == Some(&b'{') {
                // Innermost lookup: no `${` before the closing `}`.
                let body_start = i + 2;
                let close = cur[body_start..].iter().position(|&c| c == b'}');
                let nested = memchr::memmem::find(&cur[body_start..], b"${");
                if let Some(close) = close {
                    if nested.is_none_or(|n| n > close) {
                        let body = &cur[body_start..body_start + close];
                        if let Some(value) = resolve_lookup(body) {
                            out.extend_from_slice(value);
                            changed = true;
                            i = body_start + close + 1;
                            continue;
                        }
                    }
                }
            }
            out.push(cur[i]);
            i += 1;
        }
        cur = out;
        if !changed {
            break;
        }
        applied.insert(Transforms::JNDI_LOOKUP);
    }
    cur
}

fn resolve_lookup(body: &[u8]) -> Option<&[u8]> {
    // `${prefix:...:-default}` → default.
    if let Some(p) = memchr::memmem::find(body, b":-") {
        return Some(&body[p + 2..]);
    }
    for prefix in [&b"lower:"[..], b"upper:"] {
        if let Some(rest) = body.strip_prefix(prefix) {
            return Some(rest);
        }
    }
    if let Some(rest) = body.strip_prefix(b"date:") {
        let r = rest.strip_prefix(b"'").unwrap_or(rest);
        return Some(r.strip_suffix(b"'").unwrap_or(r));
    }
    None
}

const B64_UPPER: u8 = 1;
const B64_LOWER: u8 = 1 << 1;
const B64_DIGIT: u8 = 1 << 2;
/// `+` and `/`: the standard alphabet only.
const B64_STD: u8 = 1 << 3;
/// `-` and `_`: the URL-safe alphabet only.
const B64_URL: u8 = 1 << 4;

static B64_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match i as u8 {
            b'A'..=b'Z' => B64_UPPER,
            b'a'..=b'z' => B64_LOWER,
            b'0'..=b'9' => B64_DIGIT,
            b'+' | b'/' => B64_STD,
            b'-' | b'_' => B64_URL,
            _ => 0,
        };
        i += 1;
    }
    t
};

/// Decodes a value that evidently is base64 text: 16+ characters of one base64 alphabet
/// (standard or URL-safe, padding only at the end), not a plain word or number, decoding to
/// printable text. Binary payloads (images) and ordinary words return `None`.
pub fn base64_decode_evident(input: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let trimmed = input.trim_ascii();
    let padded = trimmed.ends_with(b"=");
    if trimmed.len() < if padded { 8 } else { 12 } || trimmed.len() > 8192 {
        return None;
    }
    let body = trimmed
        .strip_suffix(b"==")
        .or_else(|| trimmed.strip_suffix(b"="));
    let body = body.unwrap_or(trimmed);
    // One pass: the classes seen, stopping at the first byte of neither alphabet.
    let mut seen = 0u8;
    for &b in body {
        let c = B64_CLASS[usize::from(b)];
        if c == 0 {
            return None;
        }
        seen |= c;
    }
    let std = seen & B64_URL == 0;
    let url = seen & B64_STD == 0;
    if !std && !url {
        return None;
    }
    let upper = seen & B64_UPPER != 0;
    let lowc = seen & B64_LOWER != 0;
    let digit = seen & B64_DIGIT != 0;
    if !(upper && lowc) && !(digit && (upper || lowc)) {
        return None;
    }
    let decoded = if std {
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(body)
    } else {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body)
    }
    .ok()?;
    let printable = decoded
        .iter()
        .filter(|&&b| (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\t' || b == b'\r')
        .count();
    (printable * 100 >= decoded.len() * 95).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: &[u8]) -> (Vec<u8>, Vec<&'static str>) {
        let r = normalize(raw, &NormalizeLimits::default());
        (r.text.into_owned(), r.applied.names())
    }

    #[test]
    fn percent_single_double_and_mixed() {
        assert_eq!(n(b"%27%20OR%201=1").0, b"' OR 1=1");
        let (t, a) = n(b"%2527");
        assert_eq!(t, b"'");
        assert!(a.contains(&"multi_percent"));
        assert_eq!(n(b"%252e%2E/").0, b"../");
        // Malformed and truncated escapes are kept.
        assert_eq!(n(b"100%").0, b"100%");
        assert_eq!(n(b"%zz%4").0, b"%zz%4");
        assert_eq!(n(b"%").0, b"%");
    }

    #[test]
    fn plus_only_when_asked() {
        let lim = NormalizeLimits {
            plus_is_space: true,
            ..Default::default()
        };
        assert_eq!(&*normalize(b"a+b", &lim).text, b"a b");
        assert_eq!(n(b"a+b").0, b"a+b");
        // `%2B` decodes to a literal plus that is not turned into a space later.
        assert_eq!(&*normalize(b"1%2B1", &lim).text, b"1+1");
    }

    #[test]
    fn percent_u() {
        let (t, a) = n(b"%u003cscript%u003E");
        assert_eq!(t, b"<script>");
        assert!(a.contains(&"percent_u"));
        assert_eq!(n(b"%u00").0, b"%u00");
    }

    #[test]
    fn overlong_and_fullwidth() {
        let (t, a) = n(b"..%c0%af..%c0%afetc");
        assert_eq!(t, b"../../etc");
        assert!(a.contains(&"overlong_utf8"));
        assert_eq!(n(b"%e0%80%af").0, b"/");
        // Full-width "＜script＞".
        assert_eq!(n("＜ｓｃｒｉｐｔ＞".as_bytes()).0, b"<script>");
        // Truncated sequences stay.
        assert_eq!(n(&[0xc0]).0, vec![0xc0]);
        assert_eq!(n(&[0xef, 0xbc]).0, vec![0xef, 0xbc]);
    }

    #[test]
    fn html_entities_named_numeric() {
        assert_eq!(n(b"&lt;img src=x&gt;").0, b"<img src=x>");
        assert_eq!(n(b"&#60;&#x3C;&#0000060&#X3c;").0, b"<<<<");
        assert_eq!(
            n(b"javascript&colon;alert&lpar;1&rpar;").0,
            b"javascript:alert(1)"
        );
        assert_eq!(
            n(b"Tom &amp; Jerry &unknown; &").0,
            b"Tom & Jerry &unknown; &"
        );
        assert!(!n(b"&#99999999999999;").0.is_empty());
        assert_eq!(n(b"&#").0, b"&#");
    }

    #[test]
    fn json_and_js_escapes() {
        let (t, a) = n(br"\u0027 or \u00271\u0027=\u00271");
        assert_eq!(t, b"' or '1'='1");
        assert!(a.contains(&"json_escape"));
        assert_eq!(n(br"\x3cscript\x3e").0, b"<script>");
        assert_eq!(n(br"C:\windows").0, br"C:\windows");
        assert_eq!(n(br"\u12").0, br"\u12");
        assert_eq!(n(b"\\").0, b"\\");
    }

    #[test]
    fn nulls_dropped() {
        let (t, a) = n(b"../../etc/passwd%00.png");
        assert_eq!(t, b"../../etc/passwd.png");
        assert!(a.contains(&"null_byte"));
    }

    #[test]
    fn passes_are_bounded() {
        // Five levels of encoding, four passes: one level stays.
        let lim = NormalizeLimits::default();
        let r = normalize(b"%2525252527", &lim);
        assert_eq!(&*r.text, b"%27");
    }

    #[test]
    fn sql_comments_and_whitespace() {
        let mut a = Transforms::default();
        assert_eq!(
            sql_view(b"1/**/union/*foo*/select\t1", &mut a),
            b"1 union select 1"
        );
        assert_eq!(
            sql_view(b"1 /*!50000union*/ /*!select*/ 2", &mut a),
            b"1 union select 2"
        );
        assert_eq!(sql_view(b"admin'--", &mut a), b"admin' ");
        assert_eq!(sql_view(b"a'#\nor 1", &mut a), b"a' or 1");
        assert_eq!(sql_view(b"x /* unterminated", &mut a), b"x ");
        assert_eq!(sql_view(b"/*", &mut a), b" ");
        assert!(a.contains(Transforms::SQL_COMMENT));
    }

    #[test]
    fn path_view_backslashes() {
        let mut a = Transforms::default();
        assert_eq!(
            path_view(br"..\..\\windows\win.ini", &mut a),
            b"../../windows/win.ini"
        );
        assert!(a.contains(Transforms::BACKSLASH));
    }

    #[test]
    fn shell_view_games() {
        let mut a = Transforms::default();
        assert_eq!(shell_view(b"w'h'o\"am\"i", &mut a), b"whoami");
        assert_eq!(
            shell_view(b"cat${ifs}/etc/passwd", &mut a),
            b"cat /etc/passwd"
        );
        assert_eq!(
            shell_view(b"c\\at$@ /e$9tc/pa\\sswd", &mut a),
            b"cat /etc/passwd"
        );
    }

    #[test]
    fn jndi_lookups() {
        let mut a = Transforms::default();
        assert_eq!(
            jndi_view(b"${${lower:j}ndi:${lower:l}dap://x}", 8, &mut a),
            b"${jndi:ldap://x}"
        );
        assert_eq!(
            jndi_view(b"${${::-j}${::-n}${::-d}${::-i}:rmi://x}", 8, &mut a),
            b"${jndi:rmi://x}"
        );
        assert_eq!(
            jndi_view(b"${${env:nope:-j}ndi${date:':'}ldap://x}", 8, &mut a),
            b"${jndi:ldap://x}"
        );
        assert!(a.contains(Transforms::JNDI_LOOKUP));
        assert_eq!(jndi_view(b"${unclosed", 8, &mut a), b"${unclosed");
    }

    #[test]
    fn base64_only_when_evident() {
        assert_eq!(
            base64_decode_evident(b"JyBPUiAxPTEgLS0gaGVsbG8=").as_deref(),
            Some(&b"' OR 1=1 -- hello"[..])
        );
        assert_eq!(base64_decode_evident(b"administrator"), None);
        assert_eq!(base64_decode_evident(b"internationalization"), None);
        // A PNG header is binary.
        assert_eq!(
            base64_decode_evident(b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"),
            None
        );
        assert_eq!(base64_decode_evident(b"not base64 at all!"), None);
    }

    #[test]
    fn transforms_names() {
        let t = Transforms::PERCENT | Transforms::BASE64;
        assert_eq!(t.names(), vec!["percent", "base64"]);
    }
}
