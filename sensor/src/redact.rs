//! Secrets and identity: keyed hashing with the per-deployment key, caller identity from
//! Basic auth, bearer JWTs, API-key headers and session cookies, and masking of secret
//! values in URLs, headers and body prefixes.
//!
//! Invariant: with [`RedactMode::Hash`] no Authorization, Cookie, API-key, token or
//! password value leaves this module in clear; only `k1:`-prefixed keyed hashes do.

use base64::Engine as _;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// How secrets are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum RedactMode {
    /// Keyed hash (BLAKE3 keyed mode, per-deployment key), so equal secrets still correlate.
    Hash,
    /// Clear text: for lab use only.
    None,
}

/// Header names whose values are secrets.
const SECRET_HEADERS: [&str; 12] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "apikey",
    "x-api-token",
    "x-auth-token",
    "x-access-token",
    "x-csrf-token",
    "x-amz-security-token",
];

/// Headers that carry an API key identifying the caller.
const API_KEY_HEADERS: [&str; 7] = [
    "x-api-key",
    "api-key",
    "apikey",
    "x-api-token",
    "x-auth-token",
    "x-access-token",
    "x-client-id",
];

/// Cookie names that identify a session.
const SESSION_COOKIES: [&str; 9] = [
    "sessionid",
    "session",
    "session_id",
    "jsessionid",
    "phpsessid",
    "connect.sid",
    "asp.net_sessionid",
    "sid",
    "_session_id",
];

/// Parameter and JSON key names whose values are secrets (compared case-insensitively).
const SECRET_PARAMS: [&str; 20] = [
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "client_secret",
    "auth",
    "authorization",
    "signature",
    "sig",
    "session",
    "sessionid",
];

/// The caller's identity taken from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub kind: &'static str,
    /// Shared: the same caller shows up on many records.
    pub id: std::sync::Arc<str>,
    pub source: std::borrow::Cow<'static, str>,
}

pub struct Redactor {
    mode: RedactMode,
    key: [u8; 32],
    /// Authorization value → identity, because clients resend the same credentials on
    /// every request.
    auth_cache: ValueCache<Option<CallerIdentity>>,
    /// Secret header value → its protected form, for the same reason: a client's token,
    /// cookie or key comes back on every request, and hashing a 200-byte token is most of
    /// what writing a record's headers costs.
    protected_headers: ValueCache<Arc<str>>,
}

/// Entries a [`ValueCache`] keeps before it is cleared.
const VALUE_CACHE_ENTRIES: usize = 8_192;

/// Longest value a [`ValueCache`] keeps (a JWT is one or two KiB). Longer ones are worked
/// out every time: the keys are attacker-chosen and a head may be 64 KiB, so without this a
/// full cache could hold half a gigabyte; with it each holds at most 16 MiB of keys.
const MAX_CACHED_VALUE_BYTES: usize = 2048;

/// What was worked out from a header value, remembered per value: at most
/// [`VALUE_CACHE_ENTRIES`] values of at most [`MAX_CACHED_VALUE_BYTES`] each, cleared when
/// full. Seeded fast hash: the keys are attacker-chosen, but per-process random seeds keep
/// collisions unpredictable and the cache is bounded anyway.
struct ValueCache<V>(RefCell<HashMap<Vec<u8>, V, foldhash::fast::RandomState>>);

impl<V: Clone> ValueCache<V> {
    fn new() -> Self {
        ValueCache(RefCell::new(HashMap::default()))
    }

    /// The remembered result for `value`, or `work()`'s (remembered when `value` is short
    /// enough). `work` may use other caches; this one is not borrowed while it runs.
    fn get_or_work(&self, value: &[u8], work: impl FnOnce() -> V) -> V {
        let known = self.0.borrow().get(value).cloned();
        if let Some(v) = known {
            return v;
        }
        let v = work();
        if value.len() <= MAX_CACHED_VALUE_BYTES {
            let mut cache = self.0.borrow_mut();
            if cache.len() >= VALUE_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(value.to_vec(), v.clone());
        }
        v
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.borrow().len()
    }
}

/// The last Authorization value of one connection and the identity it gave. Clients resend
/// the same credentials on every request of a connection, so most requests are settled by
/// comparing bytes that are already in cache instead of a lookup in the shared cache (whose
/// entries are mostly cold). Values longer than [`MAX_CACHED_VALUE_BYTES`] are not kept, so
/// a connection holds at most that much here.
#[derive(Debug, Default)]
pub struct LastAuthorization(Option<(Box<[u8]>, Option<CallerIdentity>)>);

impl LastAuthorization {
    /// Heap bytes held (for the flow table's memory cap).
    pub fn memory_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |(value, _)| value.len())
    }
}

impl Redactor {
    pub fn new(mode: RedactMode, key: [u8; 32]) -> Redactor {
        Redactor {
            mode,
            key,
            auth_cache: ValueCache::new(),
            protected_headers: ValueCache::new(),
        }
    }

    pub fn mode(&self) -> RedactMode {
        self.mode
    }

    /// The keyed hash of a secret, or the clear value when redaction is off.
    pub fn protect(&self, value: &[u8]) -> String {
        match self.mode {
            RedactMode::None => String::from_utf8_lossy(value).into_owned(),
            RedactMode::Hash => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let h = blake3::keyed_hash(&self.key, value);
                let mut s = String::with_capacity(3 + 32);
                s.push_str("k1:");
                for b in &h.as_bytes()[..16] {
                    s.push(char::from(HEX[usize::from(b >> 4)]));
                    s.push(char::from(HEX[usize::from(b & 0x0f)]));
                }
                s
            }
        }
    }

    pub fn is_secret_header(name: &[u8]) -> bool {
        SECRET_HEADERS
            .iter()
            .any(|s| name.eq_ignore_ascii_case(s.as_bytes()))
    }

    /// Hands `write` the header value as it may be written: a secret header's protected form
    /// (remembered per value), any other value as sent (borrowed when it is UTF-8).
    pub fn with_header_value<R>(
        &self,
        name: &[u8],
        value: &[u8],
        write: impl FnOnce(&str) -> R,
    ) -> R {
        if self.mode == RedactMode::Hash && Self::is_secret_header(name) {
            let protected = self
                .protected_headers
                .get_or_work(value, || self.protect(value).into());
            write(&protected)
        } else {
            write(&Self::header_value(value))
        }
    }

    /// A non-secret header value as it is written.
    fn header_value(value: &[u8]) -> std::borrow::Cow<'_, str> {
        // Validating first: header values are almost always UTF-8, and `from_utf8` checks
        // that faster than the lossy chunk iterator.
        match std::str::from_utf8(value) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(value),
        }
    }

    /// Who is calling, strongest evidence first: Authorization, API-key headers, session
    /// cookie. `last` is the connection's last Authorization value and its identity.
    pub fn identity<'a>(
        &self,
        headers: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
        last: &mut LastAuthorization,
    ) -> Option<CallerIdentity> {
        for (name, value) in headers.clone() {
            if name.eq_ignore_ascii_case(b"authorization") {
                if let Some(id) = self.cached_authorization(value, last) {
                    return Some(id);
                }
            }
        }
        for (name, value) in headers.clone() {
            if let Some(h) = API_KEY_HEADERS
                .iter()
                .find(|h| name.eq_ignore_ascii_case(h.as_bytes()))
            {
                return Some(CallerIdentity {
                    kind: "api_key",
                    id: self.protect(value.trim_ascii()).into(),
                    source: std::borrow::Cow::Borrowed(h),
                });
            }
        }
        for (name, value) in headers {
            if !name.eq_ignore_ascii_case(b"cookie") {
                continue;
            }
            for pair in value.split(|&b| b == b';') {
                let pair = pair.trim_ascii();
                let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                    continue;
                };
                let (cname, cval) = (pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii());
                if let Some(c) = SESSION_COOKIES
                    .iter()
                    .find(|c| cname.eq_ignore_ascii_case(c.as_bytes()))
                {
                    return Some(CallerIdentity {
                        kind: "session_cookie",
                        id: self.protect(cval).into(),
                        source: format!("cookie:{c}").into(),
                    });
                }
            }
        }
        None
    }

    fn cached_authorization(
        &self,
        value: &[u8],
        last: &mut LastAuthorization,
    ) -> Option<CallerIdentity> {
        if let Some((known, identity)) = &last.0 {
            if **known == *value {
                return identity.clone();
            }
        }
        let identity = self
            .auth_cache
            .get_or_work(value, || self.identity_from_authorization(value));
        last.0 = (value.len() <= MAX_CACHED_VALUE_BYTES).then(|| (value.into(), identity.clone()));
        identity
    }

    fn identity_from_authorization(&self, value: &[u8]) -> Option<CallerIdentity> {
        let value = value.trim_ascii();
        let sp = value.iter().position(|&b| b == b' ')?;
        let (scheme, cred) = (&value[..sp], value[sp..].trim_ascii());
        let source = std::borrow::Cow::Borrowed("authorization");
        if scheme.eq_ignore_ascii_case(b"basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(cred)
                .ok()?;
            let user = match decoded.iter().position(|&b| b == b':') {
                Some(p) => &decoded[..p],
                None => &decoded[..],
            };
            return Some(CallerIdentity {
                kind: "basic",
                id: self.protect(user).into(),
                source,
            });
        }
        if scheme.eq_ignore_ascii_case(b"bearer") {
            if let Some(claim) = jwt_subject(cred) {
                return Some(CallerIdentity {
                    kind: "jwt",
                    id: self.protect(claim.as_bytes()).into(),
                    source,
                });
            }
            return Some(CallerIdentity {
                kind: "bearer",
                id: self.protect(cred).into(),
                source,
            });
        }
        if scheme.eq_ignore_ascii_case(b"digest") {
            let user = digest_username(cred)?;
            return Some(CallerIdentity {
                kind: "digest",
                id: self.protect(user).into(),
                source,
            });
        }
        None
    }

    /// Masks secret-named query parameter values in a request-target.
    pub fn url(&self, target: String) -> String {
        if self.mode == RedactMode::None {
            return target;
        }
        // '?' is ASCII: the byte search finds the char.
        let Some(q) = memchr::memchr(b'?', target.as_bytes()) else {
            return target;
        };
        let (path, query) = target.split_at(q + 1);
        let secret_param = |pair: &str| {
            pair.split_once('=')
                .is_some_and(|(k, v)| is_secret_param(k.as_bytes()) && !v.is_empty())
        };
        if !query.split('&').any(secret_param) {
            return target;
        }
        let mut out = String::with_capacity(target.len());
        out.push_str(path);
        out.push_str(&self.form(query));
        out
    }

    /// Masks secret-named values in `a=1&b=2` text.
    pub fn form(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for (i, pair) in text.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((k, v)) if is_secret_param(k.as_bytes()) && !v.is_empty() => {
                    out.push_str(k);
                    out.push('=');
                    out.push_str(&self.protect(v.as_bytes()));
                }
                _ => out.push_str(pair),
            }
        }
        out
    }

    /// Masks secret values in a body prefix (JSON keys and form fields), for writing.
    pub fn body(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        if self.mode == RedactMode::None {
            return text.into_owned();
        }
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            self.json_text(&text)
        } else {
            self.form(&text)
        }
    }

    /// Replaces the string value after every `"secret-name":` in JSON text (also in
    /// truncated JSON, where a parser would give up).
    fn json_text(&self, text: &str) -> String {
        let b = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        let mut copied = 0;
        while i < b.len() {
            if b[i] != b'"' {
                i += 1;
                continue;
            }
            let Some(end) = text[i + 1..].find('"').map(|e| i + 1 + e) else {
                break;
            };
            let key = &b[i + 1..end];
            let mut j = end + 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < b.len() && b[j] == b':' && is_secret_param(key) {
                j += 1;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < b.len() && b[j] == b'"' {
                    let vstart = j + 1;
                    let mut k = vstart;
                    while k < b.len() && b[k] != b'"' {
                        k += if b[k] == b'\\' { 2 } else { 1 };
                    }
                    let vend = k.min(b.len());
                    out.push_str(&text[copied..vstart]);
                    out.push_str(&self.protect(&b[vstart..vend]));
                    copied = vend;
                    i = vend + 1;
                    continue;
                }
            }
            i = end + 1;
        }
        out.push_str(&text[copied.min(text.len())..]);
        out
    }
}

fn is_secret_param(name: &[u8]) -> bool {
    SECRET_PARAMS
        .iter()
        .any(|p| name.eq_ignore_ascii_case(p.as_bytes()))
}

/// `sub`, else `client_id`, else `azp` of an unverified JWT.
fn jwt_subject(token: &[u8]) -> Option<String> {
    let mut parts = token.split(|&b| b == b'.');
    let (_h, p, _s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p.strip_suffix(b"=").unwrap_or(p))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    ["sub", "client_id", "azp"]
        .iter()
        .find_map(|k| match v.get(k)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

fn digest_username(cred: &[u8]) -> Option<&[u8]> {
    let text = cred;
    let pos = text
        .windows(9)
        .position(|w| w.eq_ignore_ascii_case(b"username="))?;
    let rest = &text[pos + 9..];
    let rest = rest.strip_prefix(b"\"").unwrap_or(rest);
    let end = rest
        .iter()
        .position(|&b| b == b'"' || b == b',')
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Loads the per-deployment key, creating it (random, mode 0600) if the file is missing.
pub fn load_or_create_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    use anyhow::Context as _;
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let t = text.trim();
            let raw = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
                (0..32)
                    .map(|i| u8::from_str_radix(&t[i * 2..i * 2 + 2], 16).unwrap_or(0))
                    .collect::<Vec<u8>>()
            } else {
                bytes.clone()
            };
            anyhow::ensure!(
                raw.len() >= 16,
                "key file {} holds fewer than 16 bytes",
                path.display()
            );
            Ok(*blake3::hash(&raw).as_bytes())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            use std::io::Read as _;
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut key))
                .context("reading /dev/urandom for a new identity key")?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            write_private(path, hex.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "created a new per-deployment identity key");
            Ok(*blake3::hash(&key).as_bytes())
        }
        Err(e) => Err(e).with_context(|| format!("reading key file {}", path.display())),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::new(RedactMode::Hash, [7u8; 32])
    }

    #[test]
    fn header_values_are_protected_the_same_whether_remembered_or_not() {
        let red = r();
        let token = b"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";
        let expect = red.protect(token);
        assert!(expect.starts_with("k1:"));
        for _ in 0..3 {
            let got = red.with_header_value(b"Authorization", token, str::to_owned);
            assert_eq!(got, expect);
        }
        assert_eq!(red.protected_headers.len(), 1);
        // A value too long to keep is protected the same, and not kept.
        let long = vec![b'a'; MAX_CACHED_VALUE_BYTES + 1];
        let got = red.with_header_value(b"cookie", &long, str::to_owned);
        assert_eq!(got, red.protect(&long));
        assert_eq!(red.protected_headers.len(), 1);
        let long_auth = format!("Bearer {}", "x".repeat(MAX_CACHED_VALUE_BYTES));
        let fields = [(&b"authorization"[..], long_auth.as_bytes())];
        let first = red
            .identity(fields.iter().copied(), &mut LastAuthorization::default())
            .map(|i| i.id);
        assert!(first.is_some());
        assert_eq!(
            red.identity(fields.iter().copied(), &mut LastAuthorization::default())
                .map(|i| i.id),
            first
        );
        assert_eq!(red.auth_cache.len(), 0);
        assert_eq!(
            red.with_header_value(b"user-agent", b"curl/8", str::to_owned),
            "curl/8"
        );
        assert_eq!(
            red.with_header_value(b"x-note", b"caf\xe9", str::to_owned),
            "caf\u{fffd}"
        );
        let clear = Redactor::new(RedactMode::None, [7u8; 32]);
        assert_eq!(
            clear.with_header_value(b"cookie", b"sid=1", str::to_owned),
            "sid=1"
        );
    }

    /// A connection's remembered credentials answer only for the same bytes: a changed
    /// value gets its own identity, an unusable one none, and a value too long to keep is
    /// still worked out.
    #[test]
    fn connection_memo_follows_the_credentials_sent() {
        let red = r();
        let alice = b"Basic YWxpY2U6c2VjcmV0"; // alice:secret
        let bob = b"Basic Ym9iOnB3"; // bob:pw
        let long_bearer = format!("Bearer {}", "y".repeat(MAX_CACHED_VALUE_BYTES));
        let sequence: [&[u8]; 7] = [
            alice,
            alice,
            bob,
            b"Negotiate abc",
            alice,
            long_bearer.as_bytes(),
            bob,
        ];
        let mut last = LastAuthorization::default();
        for value in sequence {
            let fields = [(&b"Authorization"[..], value)];
            let with_memo = red.identity(fields.iter().copied(), &mut last);
            let fresh = r().identity(fields.iter().copied(), &mut LastAuthorization::default());
            assert_eq!(with_memo, fresh, "{}", String::from_utf8_lossy(value));
            let kept = if value.len() <= MAX_CACHED_VALUE_BYTES {
                value.len()
            } else {
                0
            };
            assert_eq!(last.memory_bytes(), kept);
        }
        let fields = [(&b"Authorization"[..], &alice[..])];
        assert_eq!(
            red.identity(fields.iter().copied(), &mut last)
                .map(|i| i.id.to_string()),
            Some(red.protect(b"alice"))
        );
    }

    #[test]
    fn basic_auth_user_is_hashed_not_clear() {
        // alice:secret
        let h: Vec<(&[u8], &[u8])> = vec![(b"Authorization", b"Basic YWxpY2U6c2VjcmV0")];
        let id = r()
            .identity(h.iter().copied(), &mut LastAuthorization::default())
            .unwrap();
        assert_eq!(id.kind, "basic");
        assert_eq!(*id.id, r().protect(b"alice"));
        assert!(id.id.starts_with("k1:") && !id.id.contains("alice"));
    }

    #[test]
    fn jwt_subject_is_the_identity() {
        // {"alg":"none"}.{"sub":"user-42","iat":1}.sig
        let token = b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLTQyIiwiaWF0IjoxfQ.c2ln";
        let h: Vec<(&[u8], &[u8])> = vec![(b"authorization", token)];
        let id = r()
            .identity(h.iter().copied(), &mut LastAuthorization::default())
            .unwrap();
        assert_eq!(
            (id.kind, &*id.id),
            ("jwt", r().protect(b"user-42").as_str())
        );
    }

    #[test]
    fn api_key_and_session_cookie() {
        let h: Vec<(&[u8], &[u8])> = vec![(b"X-Api-Key", b" abc123 ")];
        assert_eq!(
            *r().identity(h.iter().copied(), &mut LastAuthorization::default())
                .unwrap()
                .id,
            r().protect(b"abc123")
        );
        let h: Vec<(&[u8], &[u8])> = vec![(b"Cookie", b"theme=dark; JSESSIONID=XYZ")];
        let id = r()
            .identity(h.iter().copied(), &mut LastAuthorization::default())
            .unwrap();
        assert_eq!(
            (id.kind, &*id.id),
            ("session_cookie", r().protect(b"XYZ").as_str())
        );
    }

    #[test]
    fn secret_query_params_and_bodies_are_masked() {
        let u = r().url("/login?user=bob&password=hunter2&x=1".into());
        assert!(!u.contains("hunter2"), "{u}");
        assert!(u.starts_with("/login?user=bob&password=k1:") && u.ends_with("&x=1"));
        let b = r().body(br#"{"username":"bob","password":"hunter2","nested":{"token":"abc"}}"#);
        assert!(!b.contains("hunter2") && !b.contains("\"abc\""), "{b}");
        assert!(b.contains("\"username\":\"bob\""));
        let b = r().body(br#"{"password":"trunc"#);
        assert!(!b.contains("trunc"), "{b}");
        let f = r().body(b"user=bob&pwd=hunter2");
        assert!(!f.contains("hunter2"));
    }

    #[test]
    fn keys_differ_per_deployment() {
        let a = Redactor::new(RedactMode::Hash, [1u8; 32]).protect(b"x");
        let b = Redactor::new(RedactMode::Hash, [2u8; 32]).protect(b"x");
        assert_ne!(a, b);
        assert_eq!(
            Redactor::new(RedactMode::None, [1u8; 32]).protect(b"x"),
            "x"
        );
    }
}
