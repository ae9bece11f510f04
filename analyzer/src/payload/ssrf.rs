//! Server-side request forgery: URL-like values that point at loopback, link-local, cloud
//! metadata or private addresses, in any encoding, or use schemes a server should never
//! fetch (`file://`, `gopher://`, `dict://`, …).
//!
//! Hosts are parsed the way `inet_aton` and URL libraries do, so `2852039166`, `0xA9FEA9FE`,
//! `0251.0376.0251.0376`, `169.254.43518`, `127.1`, `0`, `[::ffff:169.254.169.254]`,
//! `[::ffff:a9fe:a9fe]` and `[0:0:0:0:0:ffff:127.0.0.1]` all resolve to the address they mean.
//! A bare value (no scheme) is judged only when it is unmistakably an address in dotted or
//! hex/octal form or the parameter name says it holds a URL or host; a bare decimal number is
//! an id unless the name says otherwise.

use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Metadata,
    Loopback,
    LinkLocal,
    Unspecified,
    Private,
    SharedCgnat,
}

#[derive(Debug, Clone)]
pub struct Verdict {
    pub confidence: f32,
    pub rule: &'static str,
    pub start: usize,
}

/// Schemes a server-side fetch should never follow.
const DANGEROUS_SCHEMES: &[&[u8]] = &[
    b"file",
    b"gopher",
    b"dict",
    b"ldap",
    b"ldaps",
    b"jar",
    b"netdoc",
    b"php",
    b"expect",
    b"phar",
    b"tftp",
    b"sftp",
    b"smb",
    b"rmi",
    b"glob",
    b"data",
    b"zip",
    b"compress.zlib",
];

const METADATA_NAMES: &[&[u8]] = &[
    b"metadata.google.internal",
    b"metadata.goog",
    b"metadata",
    b"instance-data",
    b"instance-data.ec2.internal",
    b"metadata.azure.com",
    b"kubernetes.default",
    b"kubernetes.default.svc",
];

/// Parses one inet_aton-style part: decimal, `0`-prefixed octal or `0x` hex.
fn part(p: &[u8]) -> Option<u64> {
    if p.is_empty() || p.len() > 34 {
        return None;
    }
    let (digits, radix) = if let Some(h) = p.strip_prefix(b"0x") {
        (h, 16)
    } else if p.len() > 1 && p[0] == b'0' {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() {
        return (radix == 16).then_some(0);
    }
    let mut v: u64 = 0;
    for &d in digits {
        let x = (d as char).to_digit(radix)?;
        v = v.checked_mul(u64::from(radix))?.checked_add(u64::from(x))?;
        if v > u64::from(u32::MAX) {
            return None;
        }
    }
    Some(v)
}

/// inet_aton: `a`, `a.b`, `a.b.c` or `a.b.c.d`, each part decimal/octal/hex, the last part
/// filling the remaining bytes. Returns the address and whether it was in an unusual form.
pub fn parse_ipv4_any(host: &[u8]) -> Option<(Ipv4Addr, bool)> {
    let host = host.strip_suffix(b".").unwrap_or(host);
    if host.is_empty() || !host[0].is_ascii_digit() {
        return None;
    }
    let parts: Vec<&[u8]> = host.split(|&c| c == b'.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut vals = Vec::with_capacity(4);
    for p in &parts {
        vals.push(part(p)?);
    }
    let n = vals.len();
    let mut addr: u64 = 0;
    for (i, &v) in vals.iter().enumerate() {
        if i + 1 < n {
            if v > 255 {
                return None;
            }
            addr |= v << (8 * (3 - i));
        } else {
            let bytes_left = 4 - i;
            if v >= 1u64 << (8 * bytes_left) {
                return None;
            }
            addr |= v;
        }
    }
    let plain = n == 4
        && parts
            .iter()
            .all(|p| !p.starts_with(b"0x") && (p.len() == 1 || p[0] != b'0'));
    Some((Ipv4Addr::from(addr as u32), !plain))
}

pub fn classify_v4(a: Ipv4Addr) -> Option<Target> {
    let o = a.octets();
    Some(match o {
        [169, 254, 169, 254] | [169, 254, 170, 2] | [100, 100, 100, 200] | [192, 0, 0, 192] => {
            Target::Metadata
        }
        [127, ..] => Target::Loopback,
        [0, ..] => Target::Unspecified,
        [169, 254, ..] => Target::LinkLocal,
        [10, ..] | [192, 168, ..] => Target::Private,
        [172, b, ..] if (16..32).contains(&b) => Target::Private,
        [100, b, ..] if (64..128).contains(&b) => Target::SharedCgnat,
        _ => return None,
    })
}

pub fn classify_v6(a: Ipv6Addr) -> Option<Target> {
    if let Some(v4) = a.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = a.segments();
    if a.is_loopback() {
        return Some(Target::Loopback);
    }
    if a.is_unspecified() {
        return Some(Target::Unspecified);
    }
    if s == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254] {
        return Some(Target::Metadata);
    }
    if s[0] & 0xffc0 == 0xfe80 {
        return Some(Target::LinkLocal);
    }
    if s[0] & 0xfe00 == 0xfc00 {
        return Some(Target::Private);
    }
    // IPv4-compatible (deprecated) ::a.b.c.d
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return classify_v4(v4);
    }
    None
}

/// Classifies a host: returns the target kind and whether its form was unusual (an evasion).
pub fn classify_host(host: &[u8]) -> Option<(Target, bool)> {
    let host = host.trim_ascii();
    if let Some(inner) = host.strip_prefix(b"[") {
        let inner = inner.strip_suffix(b"]").unwrap_or(inner);
        let inner = match memchr::memchr(b'%', inner) {
            Some(z) => &inner[..z],
            None => inner,
        };
        let a: Ipv6Addr = std::str::from_utf8(inner).ok()?.parse().ok()?;
        return classify_v6(a).map(|t| (t, true));
    }
    if let Some((a, unusual)) = parse_ipv4_any(host) {
        return classify_v4(a).map(|t| (t, unusual));
    }
    let h = host.strip_suffix(b".").unwrap_or(host);
    if h == b"localhost"
        || h.ends_with(b".localhost")
        || h == b"ip6-localhost"
        || h == b"localhost.localdomain"
    {
        return Some((Target::Loopback, false));
    }
    if METADATA_NAMES.contains(&h) {
        return Some((Target::Metadata, false));
    }
    // Wildcard DNS services that resolve an embedded address: 169.254.169.254.nip.io.
    for svc in [&b".nip.io"[..], b".xip.io", b".sslip.io", b".localtest.me"] {
        if let Some(inner) = h.strip_suffix(svc) {
            if svc == b".localtest.me" {
                return Some((Target::Loopback, true));
            }
            let inner = inner.rsplit(|&c| c == b'-').next().unwrap_or(inner);
            let inner_dots = memchr::memmem::rfind(inner, b".")
                .map(|_| inner)
                .unwrap_or(inner);
            let tail: Vec<&[u8]> = inner_dots.split(|&c| c == b'.').collect();
            let tail = if tail.len() > 4 {
                &tail[tail.len() - 4..]
            } else {
                &tail[..]
            };
            let joined = tail.join(&b'.');
            if let Some((a, _)) = parse_ipv4_any(&joined) {
                return classify_v4(a).map(|t| (t, true));
            }
        }
    }
    None
}

/// Splits `scheme://[userinfo@]host[:port]/…` into scheme and host.
fn split_url(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr::memchr(b':', v)?;
    let scheme = &v[..colon];
    if scheme.is_empty()
        || scheme.len() > 16
        || !scheme[0].is_ascii_alphabetic()
        || !scheme
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let rest = &v[colon + 1..];
    let rest = rest.trim_ascii_start();
    let authority = match rest
        .strip_prefix(b"//")
        .or_else(|| rest.strip_prefix(b"/\\"))
    {
        Some(a) => a,
        None => return Some((scheme, b"")),
    };
    let end = authority
        .iter()
        .position(|&c| matches!(c, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(authority.len());
    let auth = &authority[..end];
    let host_port = match memchr::memrchr(b'@', auth) {
        Some(at) => &auth[at + 1..],
        None => auth,
    };
    Some((scheme, strip_port(host_port)))
}

fn strip_port(hp: &[u8]) -> &[u8] {
    if hp.starts_with(b"[") {
        return match memchr::memchr(b']', hp) {
            Some(e) => &hp[..=e],
            None => hp,
        };
    }
    match memchr::memrchr(b':', hp) {
        Some(c) if hp[c + 1..].iter().all(|d| d.is_ascii_digit()) => &hp[..c],
        _ => hp,
    }
}

/// Parameter names that say the value is a URL or host the server may fetch.
pub fn url_like_name(name: &str) -> bool {
    // A parameter name, not text that happens to sit where a name goes (a form body that is
    // really a smuggled request head says `urlencoded`).
    if name.len() > 64 || name.bytes().any(|b| b.is_ascii_whitespace()) {
        return false;
    }
    use aho_corasick::automaton::Automaton;
    let dfa = &*URL_NAME_WORDS;
    let Ok(mut sid) = dfa.start_state(aho_corasick::Anchored::No) else {
        // Cannot happen (built unanchored); if it did, say URL-like (the looser reading).
        return true;
    };
    for &b in name.as_bytes() {
        sid = dfa.next_state(aho_corasick::Anchored::No, sid, b);
        if dfa.is_special(sid) && dfa.is_match(sid) {
            return true;
        }
    }
    false
}

/// Name fragments of URL/host-like parameters, matched case-insensitively anywhere in a name;
/// a DFA walked by hand (names are short: no search set-up per call).
static URL_NAME_WORDS: std::sync::LazyLock<aho_corasick::dfa::DFA> =
    std::sync::LazyLock::new(|| {
        aho_corasick::dfa::DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(aho_corasick::MatchKind::Standard)
            .start_kind(aho_corasick::StartKind::Unanchored)
            .prefilter(false)
            .build([
                "url", "uri", "host", "dest", "redirect", "callback", "webhook", "target",
                "endpoint", "proxy", "domain", "site", "feed", "image", "img", "link", "src",
                "fetch", "remote", "server", "address", "addr", "next", "return", "continue",
                "load", "file", "path", "ip",
            ])
            .expect("static patterns build")
    });

fn target_conf(t: Target) -> (f32, &'static str) {
    match t {
        Target::Metadata => (0.97, "metadata_address"),
        Target::Loopback => (0.9, "loopback_address"),
        Target::Unspecified => (0.85, "unspecified_address"),
        Target::LinkLocal => (0.85, "link_local_address"),
        Target::Private => (0.7, "private_address"),
        Target::SharedCgnat => (0.5, "shared_address"),
    }
}

/// Judges one lower-cased, decoded value. `name_hint`: the parameter is URL/host-named.
/// `restricted`: a header that proxies fill in (Referer, Origin, Host): only metadata targets
/// and dangerous schemes count there.
pub fn judge(lower: &[u8], name_hint: bool, restricted: bool) -> Option<Verdict> {
    let v = lower.trim_ascii();
    let start = lower.len() - lower.trim_ascii_start().len();
    // URLs embedded in text or after a redirect prefix: find `scheme:` occurrences cheaply.
    let mut best: Option<Verdict> = None;
    fn consider(best: &mut Option<Verdict>, c: f32, r: &'static str, s: usize) {
        if best.as_ref().is_none_or(|b| c > b.confidence) {
            *best = Some(Verdict {
                confidence: c,
                rule: r,
                start: s,
            });
        }
    }
    let mut candidates: Vec<usize> = vec![0];
    for p in memchr::memmem::find_iter(v, b"://").take(8) {
        let s = v[..p]
            .iter()
            .rposition(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
            .map(|x| x + 1)
            .unwrap_or(0);
        if s != 0 {
            candidates.push(s);
        }
    }
    for s in candidates {
        let u = &v[s..];
        if let Some((scheme, host)) = split_url(u) {
            let has_slashes = u.len() > scheme.len() + 1;
            if DANGEROUS_SCHEMES.contains(&scheme)
                && has_slashes
                && (u[scheme.len() + 1..].starts_with(b"/")
                    || scheme == b"php"
                    || scheme == b"jar"
                    || scheme == b"expect")
                && scheme != b"data"
            {
                let c = if matches!(
                    scheme,
                    b"file" | b"gopher" | b"dict" | b"php" | b"expect" | b"jar" | b"netdoc"
                ) {
                    0.92
                } else {
                    0.8
                };
                consider(&mut best, c, "dangerous_scheme", start + s);
            }
            if !host.is_empty() {
                if let Some((t, unusual)) = classify_host(host) {
                    if restricted && t != Target::Metadata {
                        continue;
                    }
                    let (c, r) = target_conf(t);
                    let c = if unusual { (c + 0.05).min(0.99) } else { c };
                    consider(&mut best, c, r, start + s);
                }
            }
        }
    }
    if best.is_none() && !restricted {
        // Bare host[:port][/path].
        let end = v
            .iter()
            .position(|&c| matches!(c, b'/' | b'?' | b'#'))
            .unwrap_or(v.len());
        let hp = v.strip_prefix(b"//").map(|x| {
            let e = x.iter().position(|&c| c == b'/').unwrap_or(x.len());
            let auth = &x[..e];
            match memchr::memrchr(b'@', auth) {
                Some(at) => &auth[at + 1..],
                None => auth,
            }
        });
        let host = strip_port(hp.unwrap_or(&v[..end]));
        let looks_address = host.starts_with(b"[")
            || host.contains(&b'.')
                && host
                    .iter()
                    .all(|c| c.is_ascii_hexdigit() || *c == b'.' || *c == b'x')
            || host.starts_with(b"0x");
        // A URL-named parameter holding a small bare number (`callback_url=0`, `image=1`)
        // is a flag or an index, not the address 0.0.0.0: numeric hosts need the size of a
        // whole 32-bit address (`2130706433`) to count without a scheme or dots.
        let small_number =
            !host.is_empty() && host.len() < 8 && host.iter().all(|c| c.is_ascii_digit());
        if hp.is_some() || looks_address || (name_hint && !small_number) {
            if let Some((t, unusual)) = classify_host(host) {
                let (c, r) = target_conf(t);
                let c = if hp.is_some() || name_hint {
                    c
                } else {
                    c - 0.1
                };
                let c = if unusual { (c + 0.05).min(0.99) } else { c };
                consider(&mut best, c, r, start);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DFA walk answers as lower-casing the name and testing each fragment does.
    #[test]
    fn url_like_name_matches_substring_tests() {
        const WORDS: &[&str] = &[
            "url", "uri", "host", "dest", "redirect", "callback", "webhook", "target", "endpoint",
            "proxy", "domain", "site", "feed", "image", "img", "link", "src", "fetch", "remote",
            "server", "address", "addr", "next", "return", "continue", "load", "file", "path",
            "ip",
        ];
        let reference = |name: &str| {
            if name.len() > 64 || name.bytes().any(|b| b.is_ascii_whitespace()) {
                return false;
            }
            let n = name.to_ascii_lowercase();
            WORDS.iter().any(|k| n.contains(k))
        };
        let pieces = [
            "U", "r", "L", "i", "p", "x", "_", ".", "[0]", "customer", "email", "id", "HOST", "-",
            "é", "file", "ima", "ge", "ad", "dr", " ", "sort",
        ];
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        for _ in 0..20_000 {
            let name: String = (0..next(10)).map(|_| pieces[next(pieces.len())]).collect();
            assert_eq!(url_like_name(&name), reference(&name), "{name:?}");
        }
    }

    fn t(s: &str) -> Option<(Target, bool)> {
        classify_host(s.as_bytes())
    }

    #[test]
    fn metadata_in_every_encoding() {
        for h in [
            "169.254.169.254",
            "2852039166",
            "0xa9fea9fe",
            "0251.0376.0251.0376",
            "0xa9.0xfe.0xa9.0xfe",
            "169.254.43518",
            "169.16689662",
            "[::ffff:169.254.169.254]",
            "[::ffff:a9fe:a9fe]",
            "[0:0:0:0:0:ffff:169.254.169.254]",
            "169.254.169.254.nip.io",
            "metadata.google.internal",
            "[fd00:ec2::254]",
        ] {
            assert_eq!(t(h).map(|x| x.0), Some(Target::Metadata), "{h}");
        }
    }

    #[test]
    fn loopback_short_forms() {
        for h in [
            "127.1",
            "127.0.1",
            "0x7f000001",
            "2130706433",
            "017700000001",
            "[::1]",
            "localhost",
            "0x7f.1",
            "127.000.000.001",
        ] {
            assert_eq!(t(h).map(|x| x.0), Some(Target::Loopback), "{h}");
        }
        assert_eq!(t("0").map(|x| x.0), Some(Target::Unspecified));
        assert_eq!(t("8.8.8.8"), None);
        assert_eq!(t("example.com"), None);
        assert_eq!(t("999.1.1.1"), None);
        assert_eq!(t("1.2.3.4.5"), None);
    }

    #[test]
    fn urls_and_bare_values() {
        let j = |s: &str, hint| judge(s.as_bytes(), hint, false).map(|v| v.rule);
        assert_eq!(
            j("http://169.254.169.254/latest/meta-data/", false),
            Some("metadata_address")
        );
        assert_eq!(
            j("http://user@[::ffff:127.0.0.1]:8080/x", false),
            Some("loopback_address")
        );
        assert_eq!(
            j("gopher://example.com:70/_x", false),
            Some("dangerous_scheme")
        );
        assert_eq!(j("file:///etc/passwd", false), Some("dangerous_scheme"));
        assert_eq!(
            j("https://example.com/?next=http://127.0.0.1/", false),
            Some("loopback_address")
        );
        assert_eq!(j("https://www.example.com/a.png", true), None);
        assert_eq!(j("2852039166", false), None);
        assert_eq!(j("2852039166", true), Some("metadata_address"));
        assert_eq!(j("127.0.0.1:6379", false), Some("loopback_address"));
        assert_eq!(j("mailto:a@example.com", false), None);
        // Referer-like headers: loopback is a developer, metadata is not.
        assert!(judge(b"http://localhost:3000/", false, true).is_none());
        assert!(judge(b"http://169.254.169.254/", false, true).is_some());
    }
}
