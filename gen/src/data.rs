//! Realistic fake data and the JSON bodies the demo API returns: people (names, usernames,
//! emails, phone numbers, addresses), Luhn-valid payment card numbers from the card brands'
//! published test ranges, products, orders, reviews, JWTs, and dates.
//!
//! Every value is a pure function of the run seed and what it describes (a user id, a product
//! id, a page), so the same object looks the same wherever it appears in a capture.

use crate::rng::Rng;
use std::fmt::Write as _;

pub const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf", "zoe",
    "amara", "bjorn", "chen", "diego", "elif", "fatima", "goran", "hana", "igor", "jana", "kenji",
    "lucia", "mateo", "nora", "oskar", "priya", "quinn", "rosa", "sven", "tomas", "uma", "wei",
];
pub const LAST: &[&str] = &[
    "smith", "jones", "garcia", "miller", "davis", "martin", "lee", "walker", "hall", "young",
    "king", "wright", "lopez", "hill", "scott", "green", "adams", "baker", "nelson", "carter",
    "novak", "tanaka", "silva", "kowalski", "muller", "rossi", "dubois", "ivanova", "haddad",
    "okafor", "nguyen", "kim", "singh", "larsen", "costa", "weber", "sato", "moreau", "jensen",
];
pub const CITIES: &[&str] = &[
    "Berlin", "Lyon", "Austin", "Osaka", "Porto", "Leeds", "Denver", "Gdansk", "Turin", "Quebec",
    "Utrecht", "Malmo", "Graz", "Tampere", "Bilbao", "Cork", "Adelaide", "Pune",
];
pub const STREETS: &[&str] = &[
    "Main", "Oak", "Station", "Mill", "Park", "Church", "Lake", "Hill", "King", "Elm",
];
pub const ORDER_STATUSES: &[&str] = &[
    "pending",
    "paid",
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
];
pub const CATEGORIES: &[&str] = &[
    "peripherals",
    "audio",
    "displays",
    "storage",
    "furniture",
    "lighting",
    "networking",
    "cables",
];
pub const PRODUCT_NAMES: &[&str] = &[
    "wireless mouse",
    "usb-c hub",
    "mechanical keyboard",
    "27in monitor",
    "laptop stand",
    "noise cancelling headphones",
    "webcam 1080p",
    "desk lamp",
    "ergonomic chair",
    "ssd 1tb",
    "wifi 6 router",
    "hdmi cable 2m",
    "portable speaker",
    "drawing tablet",
    "nas enclosure",
    "standing desk",
    "microphone arm",
    "gaming headset",
    "4k monitor",
    "thunderbolt dock",
];
/// Search terms real shoppers type.
pub const SEARCH_TERMS: &[&str] = &[
    "mouse",
    "keyboard",
    "usb c",
    "monitor 27",
    "headphones",
    "chair",
    "ssd",
    "webcam",
    "lamp",
    "router",
    "hdmi",
    "speaker",
    "desk",
    "dock",
    "tablet",
    "cable",
    "mic",
    "4k",
];

/// Number of products in the catalogue (ids 1..=PRODUCTS).
pub const PRODUCTS: u64 = 5_000;

/// Capture epoch default: 2025-01-15 12:00:00 UTC.
pub const DEFAULT_EPOCH_SECS: u64 = 1_736_942_400;

fn cap(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// A person of the user base (user ids start at 1).
#[derive(Clone, Debug)]
pub struct Person {
    pub id: u64,
    pub first: &'static str,
    pub last: &'static str,
}

impl Person {
    pub fn new(seed: u64, id: u64) -> Self {
        let mut r = Rng::keyed(seed, 100, id);
        Person {
            id,
            first: r.pick_str(FIRST),
            last: r.pick_str(LAST),
        }
    }
    pub fn username(&self) -> String {
        format!("{}.{}{}", self.first, self.last, self.id)
    }
    pub fn email(&self) -> String {
        format!("{}.{}{}@mail.example", self.first, self.last, self.id)
    }
    pub fn name(&self) -> String {
        format!("{} {}", cap(self.first), cap(self.last))
    }
    /// A North-American fictional number (555-01xx is reserved for fiction) or a European one.
    pub fn phone(&self, seed: u64) -> String {
        let mut r = Rng::keyed(seed, 101, self.id);
        if r.chance(0.6) {
            format!("+1-{}-555-01{:02}", r.range(201, 990), r.below(100))
        } else {
            format!("+44 7700 900{:03}", r.below(1000))
        }
    }
}

/// Appends the Luhn check digit to `digits`.
fn luhn_complete(digits: &mut Vec<u8>) {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    digits.push(((10 - sum % 10) % 10) as u8);
}

/// True when `number` (digits only) passes the Luhn check.
pub fn luhn_valid(number: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in number.bytes().rev().enumerate() {
        let mut v = u32::from(c.wrapping_sub(b'0'));
        if v > 9 {
            return false;
        }
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !number.is_empty() && sum.is_multiple_of(10)
}

/// A Luhn-valid card number: (brand, number). Prefixes are real brand ranges; the numbers
/// are random and belong to nobody.
pub fn card(r: &mut Rng) -> (&'static str, String) {
    let (brand, prefix, len): (&str, &str, usize) = *r.pick(&[
        ("visa", "4", 16),
        ("visa", "4539", 16),
        ("mastercard", "51", 16),
        ("mastercard", "55", 16),
        ("amex", "37", 15),
        ("discover", "6011", 16),
    ]);
    let mut d: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
    while d.len() < len - 1 {
        d.push(r.below(10) as u8);
    }
    luhn_complete(&mut d);
    (brand, d.iter().map(|v| (b'0' + v) as char).collect())
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 UTC time of `secs` since the epoch.
pub fn iso_time(out: &mut String, secs: u64) {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    );
}

/// IMF-fixdate (the HTTP `Date` header).
pub fn http_date(out: &mut Vec<u8>, secs: u64) {
    use std::io::Write as _;
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    let t = secs % 86_400;
    let _ = write!(
        out,
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[m as usize - 1],
        t / 3600,
        t / 60 % 60,
        t % 60
    );
}

/// base64url without padding.
pub fn b64url(out: &mut String, data: &[u8]) {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
}

/// An HS256 JWT for `user` issued at `iat`: `sub` is the username (what labels list as the
/// identity); the signature is random, the claims are real.
pub fn jwt(seed: u64, user: u64, iat: u64) -> String {
    let mut r = Rng::keyed(seed, 102, user ^ (iat << 20));
    let mut t = String::from("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.");
    let claims = format!(
        r#"{{"sub":"{}","uid":{user},"iss":"https://accounts.shop.example","aud":"api.shop.example","iat":{iat},"exp":{},"scope":"orders:read orders:write profile","jti":"{:016x}"}}"#,
        Person::new(seed, user).username(),
        iat + 3600,
        r.next_u64()
    );
    b64url(&mut t, claims.as_bytes());
    t.push('.');
    r.token(&mut t, 43);
    t
}

/// An integration's API key (`sk_live_` + 32 hex) and its public key id.
pub fn api_key(seed: u64, integration: u64) -> (String, String) {
    let mut r = Rng::keyed(seed, 103, integration);
    let mut k = String::from("sk_live_");
    r.hex(&mut k, 32);
    (format!("key_{:08x}", r.next_u64() as u32), k)
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// JSON string literal of `s`.
pub fn json_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    json_str(&mut o, s);
    o
}

fn address(out: &mut String, r: &mut Rng) {
    let _ = write!(
        out,
        r#"{{"street":"{} {} St","city":"{}","zip":"{:05}"}}"#,
        r.range(1, 999),
        r.pick(STREETS),
        r.pick(CITIES),
        r.below(100_000)
    );
}

/// `GET /api/v1/users/{id}`.
pub fn user_json(out: &mut String, seed: u64, id: u64) {
    let p = Person::new(seed, id);
    let mut r = Rng::keyed(seed, 104, id);
    let _ = write!(
        out,
        r#"{{"id":{id},"username":"{}","email":"{}","name":"{}","phone":"{}","address":"#,
        p.username(),
        p.email(),
        p.name(),
        p.phone(seed)
    );
    address(out, &mut r);
    out.push_str(r#","roles":["customer""#);
    if r.chance(0.05) {
        out.push_str(r#","support""#);
    }
    out.push_str(r#"],"created_at":""#);
    iso_time(out, DEFAULT_EPOCH_SECS - r.below(3 * 365 * 86_400));
    let _ = write!(
        out,
        r#"","verified":{},"preferences":{{"newsletter":{},"language":"{}","currency":"{}"}},"loyalty_points":{}}}"#,
        r.chance(0.8),
        r.chance(0.4),
        r.pick(&["en", "de", "fr", "ja", "pt"]),
        r.pick(&["USD", "EUR", "JPY", "GBP"]),
        r.below(50_000)
    );
}

/// `GET /api/v2/users/{id}`: nested names, contact block.
pub fn user_v2_json(out: &mut String, seed: u64, id: u64) {
    let p = Person::new(seed, id);
    let _ = write!(
        out,
        r#"{{"data":{{"type":"user","id":"{id}","attributes":{{"username":"{}","name":{{"given":"{}","family":"{}"}},"contact":{{"email":"{}","phone":"{}"}}}}}},"meta":{{"api_version":"2"}}}}"#,
        p.username(),
        cap(p.first),
        cap(p.last),
        p.email(),
        p.phone(seed)
    );
}

/// Masked saved cards of a user.
pub fn payment_methods_json(out: &mut String, seed: u64, user: u64) {
    let mut r = Rng::keyed(seed, 105, user);
    out.push('[');
    for i in 0..r.range(1, 4) {
        if i > 0 {
            out.push(',');
        }
        let (brand, num) = card(&mut r);
        let _ = write!(
            out,
            r#"{{"id":"pm_{:012x}","brand":"{brand}","last4":"{}","exp":"{:02}/{}","default":{}}}"#,
            r.next_u64() & 0xffff_ffff_ffff,
            &num[num.len() - 4..],
            r.range(1, 13),
            r.range(26, 31),
            i == 0
        );
    }
    out.push(']');
}

fn product_obj(out: &mut String, seed: u64, id: u64) {
    let mut r = Rng::keyed(seed, 106, id);
    let _ = write!(
        out,
        r#"{{"id":{id},"sku":"SKU-{:05}","name":"{}","category":"{}","price":{}.{:02},"currency":"USD","rating":{}.{},"stock":{}}}"#,
        id * 7 % 100_000,
        r.pick(PRODUCT_NAMES),
        r.pick(CATEGORIES),
        r.range(5, 900),
        r.below(100),
        r.range(1, 5),
        r.below(10),
        r.below(400)
    );
}

/// `GET /api/v1/products/{id}`.
pub fn product_json(out: &mut String, seed: u64, id: u64) {
    product_obj(out, seed, id);
    out.pop();
    let mut r = Rng::keyed(seed, 107, id);
    out.push_str(r#","description":""#);
    for _ in 0..r.range(2, 8) {
        out.push_str("Solid build, two-year warranty, ships in recyclable packaging. ");
    }
    out.push_str("\"}");
}

/// A page of products (v1 `page`/`limit`, or v2 with a cursor when `cursor` is set).
pub fn product_page_json(
    out: &mut String,
    seed: u64,
    start: u64,
    limit: u64,
    total: u64,
    v2: bool,
) {
    if v2 {
        out.push_str(r#"{"data":["#);
    } else {
        let _ = write!(
            out,
            r#"{{"page":{},"limit":{limit},"total":{total},"data":["#,
            start / limit.max(1) + 1
        );
    }
    let n = limit.min(total.saturating_sub(start));
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        product_obj(out, seed, (start + i) % PRODUCTS + 1);
    }
    if v2 {
        let _ = write!(out, r#"],"next_cursor":"{}"}}"#, cursor_for(start + n));
    } else {
        out.push_str("]}");
    }
}

/// An opaque-looking pagination cursor for an offset.
pub fn cursor_for(offset: u64) -> String {
    let mut s = String::new();
    b64url(&mut s, format!("{{\"o\":{offset}}}").as_bytes());
    s
}

/// Reviews of a product.
pub fn reviews_json(out: &mut String, seed: u64, product: u64) {
    let mut r = Rng::keyed(seed, 108, product);
    let n = r.range(0, 25);
    let _ = write!(out, r#"{{"product_id":{product},"count":{n},"reviews":["#);
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"id":{},"author":"{}","stars":{},"title":"{}","text":"Bought it for my {} setup. "#,
            product * 100 + i,
            cap(r.pick_str(FIRST)),
            r.range(1, 6),
            r.pick(&[
                "Great value",
                "Does the job",
                "Returned it",
                "Excellent",
                "Fine for the price"
            ]),
            r.pick(&["home", "office", "gaming", "studio"])
        );
        for _ in 0..r.range(1, 5) {
            out.push_str("Works as described and arrived quickly. ");
        }
        let _ = write!(out, r#"","helpful":{}}}"#, r.below(300));
    }
    out.push_str("]}");
}

fn order_obj(out: &mut String, seed: u64, id: u64, user: u64) {
    let mut r = Rng::keyed(seed, 109, id);
    let _ = write!(
        out,
        r#"{{"id":{id},"user_id":{user},"status":"{}","total":{}.{:02},"currency":"USD","items":["#,
        r.pick(ORDER_STATUSES),
        r.range(5, 2000),
        r.below(100)
    );
    for i in 0..r.range(1, 4) {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"sku":"SKU-{:05}","name":"{}","qty":{}}}"#,
            r.below(100_000),
            r.pick(PRODUCT_NAMES),
            r.range(1, 4)
        );
    }
    out.push_str(r#"],"shipping_address":"#);
    address(out, &mut r);
    out.push_str(r#","created_at":""#);
    iso_time(out, DEFAULT_EPOCH_SECS - r.below(365 * 86_400));
    out.push_str("\"}");
}

/// Order ids are `user * 1000 + n`: the owner is visible in the id, as in many real APIs.
pub fn order_owner(order: u64) -> u64 {
    order / 1000
}

/// `GET /api/v1/orders/{id}`.
pub fn order_json(out: &mut String, seed: u64, id: u64) {
    order_obj(out, seed, id, order_owner(id));
}

/// A page of a user's orders.
pub fn orders_page_json(out: &mut String, seed: u64, user: u64, page: u64, limit: u64) {
    let total = Rng::keyed(seed, 110, user).range(0, 40);
    let start = (page.max(1) - 1) * limit;
    let _ = write!(
        out,
        r#"{{"page":{page},"limit":{limit},"total":{total},"data":["#
    );
    for i in 0..limit.min(total.saturating_sub(start)) {
        if i > 0 {
            out.push(',');
        }
        order_obj(out, seed, user * 1000 + start + i + 1, user);
    }
    out.push_str("]}");
}

/// The caller's cart.
pub fn cart_json(out: &mut String, seed: u64, user: u64, salt: u64) {
    let mut r = Rng::keyed(seed, 111, user ^ (salt << 32));
    out.push_str(r#"{"items":["#);
    let mut total = 0;
    for i in 0..r.range(0, 5) {
        if i > 0 {
            out.push(',');
        }
        let price = r.range(5, 400);
        total += price;
        let _ = write!(
            out,
            r#"{{"sku":"SKU-{:05}","qty":1,"price":{price}.00}}"#,
            r.below(100_000)
        );
    }
    let _ = write!(out, r#"],"total":{total}.00,"currency":"USD"}}"#);
}

/// One page of the deprecated v0 export: everything about every user, cards unmasked.
pub fn export_v0_json(out: &mut String, seed: u64, page: u64, limit: u64, users: u64) {
    let _ = write!(out, r#"{{"page":{page},"limit":{limit},"users":["#);
    for i in 0..limit {
        let id = ((page.max(1) - 1) * limit + i) % users.max(1) + 1;
        if i > 0 {
            out.push(',');
        }
        let p = Person::new(seed, id);
        let mut r = Rng::keyed(seed, 112, id);
        let (brand, num) = card(&mut r);
        let _ = write!(
            out,
            r#"{{"id":{id},"username":"{}","email":"{}","name":"{}","phone":"{}","date_of_birth":"{}-{:02}-{:02}","address":"#,
            p.username(),
            p.email(),
            p.name(),
            p.phone(seed),
            r.range(1950, 2005),
            r.range(1, 13),
            r.range(1, 29)
        );
        address(out, &mut r);
        let _ = write!(
            out,
            r#","card":{{"brand":"{brand}","number":"{num}","exp":"{:02}/{}","cvc":"{:03}"}},"password_hash":"$2b$12$"#,
            r.range(1, 13),
            r.range(26, 31),
            r.below(1000)
        );
        r.token(out, 53);
        out.push_str("\"}");
    }
    out.push_str("]}");
}

/// A login response with a fresh token.
pub fn token_json(out: &mut String, seed: u64, user: u64, iat: u64) {
    let _ = write!(
        out,
        r#"{{"access_token":"{}","token_type":"Bearer","expires_in":3600,"user_id":{user}}}"#,
        jwt(seed, user, iat)
    );
}

/// An error body.
pub fn error_json(out: &mut String, status: u16, code: &str, message: &str) {
    let _ = write!(
        out,
        r#"{{"error":"{code}","message":{},"status":{status}}}"#,
        json_string(message)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_pass_luhn_and_the_check_catches_a_typo() {
        let mut r = Rng::new(5);
        for _ in 0..200 {
            let (_, n) = card(&mut r);
            assert!(luhn_valid(&n), "{n}");
            let mut b = n.into_bytes();
            b[3] = if b[3] == b'9' { b'0' } else { b[3] + 1 };
            assert!(!luhn_valid(std::str::from_utf8(&b).unwrap()));
        }
        assert!(luhn_valid("4111111111111111"));
    }

    #[test]
    fn bodies_are_json_and_deterministic() {
        let mut a = String::new();
        export_v0_json(&mut a, 1, 2, 5, 100);
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["users"].as_array().unwrap().len(), 5);
        let mut b = String::new();
        export_v0_json(&mut b, 1, 2, 5, 100);
        assert_eq!(a, b);
        for f in [
            user_json,
            user_v2_json,
            payment_methods_json,
            product_json,
            reviews_json,
            order_json,
        ] {
            let mut s = String::new();
            f(&mut s, 9, 1234);
            serde_json::from_str::<serde_json::Value>(&s).unwrap_or_else(|e| panic!("{e}: {s}"));
        }
        let mut s = String::new();
        product_page_json(&mut s, 1, 40, 20, 5000, true);
        serde_json::from_str::<serde_json::Value>(&s).unwrap();
        let mut s = String::new();
        orders_page_json(&mut s, 1, 17, 1, 10);
        serde_json::from_str::<serde_json::Value>(&s).unwrap();
    }

    #[test]
    fn dates_are_right() {
        let mut s = String::new();
        iso_time(&mut s, DEFAULT_EPOCH_SECS);
        assert_eq!(s, "2025-01-15T12:00:00Z");
        let mut d = Vec::new();
        http_date(&mut d, DEFAULT_EPOCH_SECS);
        assert_eq!(d, b"Wed, 15 Jan 2025 12:00:00 GMT");
    }
}
