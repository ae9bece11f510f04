//! Login attempts: which exchanges are credential checks, whether they failed, and which
//! account they were for.
//!
//! A login is a POST to a path that names authentication (`login`, `signin`, `auth`,
//! `token`, `session`…), or any request carrying HTTP Basic/Digest credentials answered 401.
//! It failed when the answer is 401 or 403 (or 400/422 on a login path, which many APIs use
//! for bad credentials), or 200 with a body that says the credentials were wrong (a
//! server-rendered sign-in form shown again with its error, as most web forms do); it
//! succeeded on other 2xx/3xx. The account is the username, email or
//! login field of a JSON or form body — kept only as an in-memory 64-bit hash, never written —
//! or the record's keyed identity for Basic/Digest.

use crate::words::WordSet;
use apitap_proto::RequestRecord;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::hash::{BuildHasher, Hasher};
use std::sync::LazyLock;

/// What a login exchange says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginAttempt {
    pub failed: bool,
    /// In-memory hash of the account name, when the request says which account.
    pub account: Option<u64>,
}

const LOGIN_WORDS: [&str; 9] = [
    "login",
    "signin",
    "sign-in",
    "sign_in",
    "logon",
    "auth",
    "token",
    "session",
    "authenticate",
];

const ACCOUNT_FIELDS: [&str; 7] = [
    "username",
    "user",
    "email",
    "login",
    "user_name",
    "userName",
    "account",
];

/// Whether a path names an authentication endpoint.
pub fn is_login_path(path: &str) -> bool {
    path.split(['/', '.', '?']).any(|seg| {
        LOGIN_WORDS.iter().any(|w| {
            seg.len() >= w.len()
                && seg.as_bytes()[..w.len()].eq_ignore_ascii_case(w.as_bytes())
                && !seg.as_bytes()[w.len()..]
                    .first()
                    .is_some_and(u8::is_ascii_alphabetic)
        })
    })
}

/// The login this exchange is, if it is one. `hasher` keys the account hashes.
pub fn login_attempt(r: &RequestRecord, hasher: &impl BuildHasher) -> Option<LoginAttempt> {
    let status = r.http.response.as_ref()?.status_code;
    let basic = r
        .apitap
        .identity
        .as_ref()
        .is_some_and(|i| matches!(i.kind.as_ref(), "basic" | "digest"));
    let login_path = r.http.request.method == "POST" && is_login_path(&r.url.path);
    if !(login_path || (basic && status == 401)) {
        return None;
    }
    let failed = match status {
        401 | 403 => true,
        400 | 422 => login_path,
        200 => login_path && says_login_failed(&r.extras.response_body),
        201..=399 => false,
        _ => return None,
    };
    let account = if basic {
        r.user.as_ref().map(|u| hash_str(hasher, &u.id))
    } else {
        body_account(&r.extras.request_body).map(|a| hash_str(hasher, &a.to_ascii_lowercase()))
    };
    Some(LoginAttempt { failed, account })
}

/// What sign-in pages and APIs answer a wrong password with when the status says 200
/// (matched ignoring case).
const FAILURE_PHRASES: [&str; 10] = [
    "invalid username or password",
    "invalid credentials",
    "invalid_credentials",
    "incorrect username or password",
    "incorrect password",
    "wrong password",
    "invalid password",
    "invalid login",
    "login failed",
    "authentication failed",
];

/// How much of the answer is searched for a failure phrase: the error sits near the top of a
/// sign-in form or in a short JSON body.
const FAILURE_SEARCH_BYTES: usize = 8192;

/// Every failure phrase contains one of these words: a body that has none of them cannot
/// say the login failed, and looking for four fixed words runs on SIMD substring finders at a
/// fraction of the cost of the phrase automaton (most logins succeed).
const FAILURE_ANCHORS: [&str; 4] = ["invalid", "incorrect", "wrong", "failed"];

/// Whether a 200 answer to a login says that the login failed.
fn says_login_failed(body: &[u8]) -> bool {
    static PHRASES: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(&FAILURE_PHRASES));
    static ANCHORS: LazyLock<[memchr::memmem::Finder<'static>; 4]> =
        LazyLock::new(|| FAILURE_ANCHORS.map(memchr::memmem::Finder::new));
    let lower = body[..body.len().min(FAILURE_SEARCH_BYTES)].to_ascii_lowercase();
    ANCHORS.iter().any(|f| f.find(&lower).is_some()) && PHRASES.any(&lower)
}

fn hash_str(hasher: &impl BuildHasher, s: &str) -> u64 {
    let mut h = hasher.build_hasher();
    h.write(s.as_bytes());
    h.finish()
}

/// The account named in a login body (JSON object or urlencoded form).
pub fn body_account(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim_start();
    if text.starts_with('{') {
        let fields: AccountFields<'_> = serde_json::from_str(text).ok()?;
        return fields.0.into_iter().flatten().next().map(Cow::into_owned);
    }
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        ACCOUNT_FIELDS
            .contains(&k)
            .then(|| v.replace('+', " "))
            .filter(|v| !v.is_empty())
    })
}

/// The string values of a JSON object's [`ACCOUNT_FIELDS`], in that order. The body must be
/// a valid JSON object; other members are skipped without being built (no tree of values is
/// made), a field that is not a string counts as absent, and of repeated keys the last wins.
struct AccountFields<'a>([Option<Cow<'a, str>>; ACCOUNT_FIELDS.len()]);

impl<'de> Deserialize<'de> for AccountFields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = AccountFields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found: [Option<Cow<'de, str>>; ACCOUNT_FIELDS.len()] = Default::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match ACCOUNT_FIELDS.iter().position(|f| *f == key) {
                        Some(i) => found[i] = map.next_value::<StringOnly<'de>>()?.0,
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(AccountFields(found))
            }
        }
        d.deserialize_map(Fields)
    }
}

/// Any JSON value, kept only when it is a string (borrowed when it has no escapes).
struct StringOnly<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for StringOnly<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Value;
        impl<'de> Visitor<'de> for Value {
            type Value = StringOnly<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(StringOnly(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOnly(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(StringOnly(Some(Cow::Owned(v))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(StringOnly(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(StringOnly(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(StringOnly(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(StringOnly(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(StringOnly(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StringOnly(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StringOnly(None))
            }
        }
        d.deserialize_any(Value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_paths() {
        assert!(is_login_path("/api/v1/login"));
        assert!(is_login_path("/oauth/token"));
        assert!(is_login_path("/auth/signin"));
        assert!(is_login_path("/users/sign_in.json"));
        assert!(!is_login_path("/api/v1/products"));
        assert!(is_login_path("/api/login_v2"));
        assert!(!is_login_path("/authors/12"));
        assert!(!is_login_path("/tokenizer"));
        assert!(is_login_path("/API/LOGIN"));
    }

    #[test]
    fn a_sign_in_form_shown_again_with_its_error_is_a_failure() {
        assert!(says_login_failed(
            b"<html><p class=\"error\">Invalid username or password.</p><form>..."
        ));
        assert!(says_login_failed(
            br#"{"success":false,"message":"Login failed"}"#
        ));
        assert!(!says_login_failed(
            br#"{"access_token":"eyJ...","token_type":"Bearer","expires_in":3600}"#
        ));
        assert!(!says_login_failed(b""));
        assert!(says_login_failed(b"<h1>INVALID LOGIN</h1>"));
        // The phrase past the searched prefix is not seen.
        let mut long = vec![b' '; FAILURE_SEARCH_BYTES];
        long.extend_from_slice(b"login failed");
        assert!(!says_login_failed(&long));
    }

    #[test]
    fn every_failure_phrase_holds_an_anchor() {
        for phrase in FAILURE_PHRASES {
            assert!(
                FAILURE_ANCHORS.iter().any(|a| phrase.contains(a)),
                "{phrase}"
            );
        }
    }

    #[test]
    fn accounts_from_bodies() {
        assert_eq!(
            body_account(br#"{"username":"alice","password":"x"}"#).as_deref(),
            Some("alice")
        );
        assert_eq!(
            body_account(b"email=bob%40example.com&password=x").as_deref(),
            Some("bob%40example.com")
        );
        assert_eq!(body_account(b"password=x"), None);
        assert_eq!(body_account(b"\xff\xfe"), None);
        assert_eq!(body_account(br#"{"user": 5}"#), None);
        // Field order decides, not body order; escapes are decoded; the last repeat wins;
        // other members of any shape are skipped; the body must be one valid JSON object.
        assert_eq!(
            body_account(br#"{"email":"e@x","meta":{"a":[1,{"b":null}]},"username":"u"}"#)
                .as_deref(),
            Some("u")
        );
        assert_eq!(
            body_account(br#"{"user":5,"email":"a\u0040b","login":true}"#).as_deref(),
            Some("a@b")
        );
        assert_eq!(
            body_account(br#"{"username":"first","username":"last"}"#).as_deref(),
            Some("last")
        );
        assert_eq!(body_account(br#"{"username":"a"} trailing"#), None);
        assert_eq!(body_account(br#"{"username":"a""#), None);
        assert_eq!(body_account(br#"["username","a"]"#), None);
    }
}
