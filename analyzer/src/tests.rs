//! Analyzer behaviour on record sequences: each detector fires on its pattern with numeric
//! evidence, benign traffic of the same shape does not, and the manager folds repeats.

use super::*;
use apitap_proto::{
    ApitapRequest, ApitapResponse, Body, Category, Endpoint, Event, Extras, Http, HttpRequest,
    HttpResponse, Network, Url,
};
use std::borrow::Cow;

const S: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * S;

fn rec(
    ts: u64,
    ip: &str,
    method: &'static str,
    path: &str,
    status: u16,
    body: &[u8],
) -> RequestRecord {
    RequestRecord {
        timestamp: ts,
        event: Event {
            kind: Cow::Borrowed("event"),
            category: vec![],
            dataset: Cow::Borrowed("apitap.http"),
            start: ts,
            end: ts,
            duration: 0,
        },
        source: Endpoint {
            ip: ip.parse().unwrap(),
            port: 40000,
        },
        destination: Endpoint {
            ip: "198.19.255.10".parse().unwrap(),
            port: 80,
        },
        network: Network {
            transport: Cow::Borrowed("tcp"),
            protocol: Cow::Borrowed("http"),
            community_id: "1:x".into(),
            vlan: None,
        },
        url: Url {
            original: path.to_string(),
            path: path.split('?').next().unwrap().to_string(),
            query: None,
            domain: Some("api.test".into()),
            port: None,
        },
        http: Http {
            version: Cow::Borrowed("1.1"),
            request: HttpRequest {
                method: Cow::Borrowed(method),
                bytes: 100,
                body: Body {
                    bytes: body.len() as u64,
                },
                mime_type: None,
            },
            response: Some(HttpResponse {
                status_code: status,
                bytes: 200,
                body: Body { bytes: 100 },
                mime_type: None,
            }),
        },
        // A browser unless a test says otherwise (the bot detector judges user agents).
        user_agent: Some(apitap_proto::UserAgent {
            original: "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0".into(),
        }),
        user: None,
        apitap: apitap_proto::Apitap {
            request: ApitapRequest::default(),
            response: Some(ApitapResponse::default()),
            ..Default::default()
        },
        extras: Extras {
            request_body: body.to_vec(),
            ..Default::default()
        },
    }
}

fn run(records: &[RequestRecord]) -> (Vec<Alert>, Analyzer) {
    let mut a = Analyzer::new(AnalyzerConfig::default()).unwrap();
    let mut out = Vec::new();
    for r in records {
        a.observe(r, &mut out);
    }
    (out, a)
}

fn categories(alerts: &[Alert]) -> Vec<Category> {
    alerts.iter().map(|a| a.apitap.category).collect()
}

#[test]
fn brute_force_on_one_account_alerts_once_with_evidence() {
    let rs: Vec<_> = (0..60)
        .map(|i| {
            rec(
                T0 + i * 2 * S,
                "203.0.113.9",
                "POST",
                "/api/v1/login",
                401,
                br#"{"username":"alice","password":"guess"}"#,
            )
        })
        .collect();
    let (alerts, a) = run(&rs);
    assert_eq!(categories(&alerts), [Category::BruteForce]);
    let al = &alerts[0];
    assert_eq!(al.apitap.actor.as_ref(), "203.0.113.9");
    assert_eq!(al.apitap.endpoint.as_deref(), Some("POST /api/v1/login"));
    // Fired at the 20th failure, with the numbers that made it fire.
    assert_eq!(al.timestamp, T0 + 19 * 2 * S);
    let failed = al
        .apitap
        .evidence
        .observed
        .iter()
        .find(|m| m.name == "failed_logins")
        .unwrap();
    assert_eq!(failed.value, 20.0);
    // Later failures are folded into it, not re-sent.
    assert_eq!(a.stats().alerts.deduplicated, 40);
    // The password never reaches the alert.
    assert!(!serde_json::to_string(&alerts).unwrap().contains("guess"));
}

#[test]
fn credential_stuffing_many_accounts() {
    let rs: Vec<_> = (0..40)
        .map(|i| {
            let body = format!(r#"{{"email":"user{i}@example.com","password":"p{i}"}}"#);
            let status = if i == 33 { 200 } else { 401 };
            rec(
                T0 + i * S,
                "203.0.113.7",
                "POST",
                "/auth/login",
                status,
                body.as_bytes(),
            )
        })
        .collect();
    let (alerts, _) = run(&rs);
    assert_eq!(categories(&alerts), [Category::CredentialStuffing]);
    assert!(!serde_json::to_string(&alerts)
        .unwrap()
        .contains("example.com"));
}

#[test]
fn benign_logins_with_typos_do_not_alert() {
    // 300 users, each logs in once (a tenth mistype first), over an hour.
    let mut rs = Vec::new();
    for u in 0..300u64 {
        let ip = format!("198.18.{}.{}", u / 200, u % 200 + 1);
        let body = format!(r#"{{"username":"user{u}","password":"x"}}"#);
        let t = T0 + u * 12 * S;
        if u % 10 == 0 {
            rs.push(rec(t, &ip, "POST", "/api/v1/login", 401, body.as_bytes()));
        }
        rs.push(rec(
            t + S,
            &ip,
            "POST",
            "/api/v1/login",
            200,
            body.as_bytes(),
        ));
        for k in 0..5 {
            rs.push(rec(
                t + (2 + k) * S,
                &ip,
                "GET",
                &format!("/api/v1/users/{u}"),
                200,
                b"",
            ));
        }
    }
    let (alerts, a) = run(&rs);
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert_eq!(a.stats().failed_logins, 30);
}

#[test]
fn forced_browsing_scanner() {
    let words = [
        "admin",
        ".env",
        "backup.zip",
        "wp-login.php",
        ".git/config",
        "phpinfo.php",
    ];
    let rs: Vec<_> = (0..120u64)
        .map(|i| {
            let path = format!("/{}{}", words[(i % 6) as usize], i);
            rec(T0 + i * S / 4, "203.0.113.50", "GET", &path, 404, b"")
        })
        .collect();
    let (alerts, _) = run(&rs);
    assert_eq!(categories(&alerts), [Category::ForcedBrowsing]);
    assert!(alerts[0].apitap.evidence.samples.len() <= 5);
}

#[test]
fn a_few_404s_are_not_a_scan() {
    let mut rs = Vec::new();
    for i in 0..200u64 {
        let (path, status) = if i % 20 == 0 {
            (format!("/api/v1/products/missing-{i}"), 404)
        } else {
            ("/api/v1/products".to_string(), 200)
        };
        rs.push(rec(T0 + i * S, "198.18.0.5", "GET", &path, status, b""));
    }
    let (alerts, _) = run(&rs);
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn sequential_object_walk_is_enumeration() {
    let rs: Vec<_> = (0..100u64)
        .map(|i| {
            let status = if i % 3 == 0 { 200 } else { 403 };
            rec(
                T0 + i * S,
                "203.0.113.77",
                "GET",
                &format!("/api/v1/orders/{}", 1000 + i),
                status,
                b"",
            )
        })
        .collect();
    let (alerts, _) = run(&rs);
    assert_eq!(categories(&alerts), [Category::Enumeration]);
    let a = &alerts[0];
    assert_eq!(
        a.apitap.endpoint.as_deref(),
        Some("GET /api/v1/orders/{id}")
    );
    assert_eq!(a.apitap.severity, apitap_proto::Severity::High);
}

#[test]
fn flood_from_one_source() {
    let rs: Vec<_> = (0..3000u64)
        .map(|i| {
            rec(
                T0 + i * S / 50,
                "203.0.113.99",
                "GET",
                "/api/v1/products?page=1",
                200,
                b"",
            )
        })
        .collect();
    let (alerts, _) = run(&rs);
    assert_eq!(categories(&alerts), [Category::RateAnomaly]);
}

#[test]
fn suppression_by_source_prefix() {
    let mut cfg = AnalyzerConfig::default();
    cfg.alerts.suppress_sources = vec!["203.0.113.0/24".into()];
    let mut a = Analyzer::new(cfg).unwrap();
    let mut out = Vec::new();
    for i in 0..3000u64 {
        a.observe(
            &rec(T0 + i * S / 50, "203.0.113.99", "GET", "/x", 200, b""),
            &mut out,
        );
    }
    assert!(out.is_empty());
    assert!(a.stats().alerts.suppressed > 0);
}

#[test]
fn alerts_are_deterministic() {
    let rs: Vec<_> = (0..200u64)
        .map(|i| {
            rec(
                T0 + i * S,
                &format!("203.0.113.{}", i % 3),
                "GET",
                &format!("/nope{i}"),
                404,
                b"",
            )
        })
        .collect();
    let a = serde_json::to_string(&run(&rs).0).unwrap();
    let b = serde_json::to_string(&run(&rs).0).unwrap();
    assert_eq!(a, b);
}

#[test]
fn random_reads_by_a_busy_client_are_not_a_walk_but_a_bulk_read_is() {
    // 120 random user ids in 5 minutes, all found: an ordinary busy integration.
    let ids = |n: u64| (0..n).map(|i| (i * 7919 + 13) % 10_000);
    let rs: Vec<_> = ids(120)
        .enumerate()
        .map(|(i, id)| {
            rec(
                T0 + i as u64 * 2 * S,
                "198.18.0.9",
                "GET",
                &format!("/api/v1/users/{id}"),
                200,
                b"",
            )
        })
        .collect();
    assert!(run(&rs).0.is_empty());
    // 400 in five minutes is not what a person or a normal sync does.
    let rs: Vec<_> = ids(400)
        .enumerate()
        .map(|(i, id)| {
            rec(
                T0 + i as u64 * S / 2,
                "198.18.0.9",
                "GET",
                &format!("/api/v1/users/{id}"),
                200,
                b"",
            )
        })
        .collect();
    assert_eq!(categories(&run(&rs).0), [Category::Enumeration]);
}

fn with_ua(mut r: RequestRecord, ua: &str) -> RequestRecord {
    r.user_agent = Some(apitap_proto::UserAgent {
        original: ua.to_string(),
    });
    r
}

fn with_query(mut r: RequestRecord, q: &str) -> RequestRecord {
    r.url.query = Some(q.to_string());
    r.url.original = format!("{}?{q}", r.url.path);
    r
}

#[test]
fn scripted_clockwork_client_is_a_bot_but_a_monitor_is_not() {
    let bot: Vec<_> = (0..400u64)
        .map(|i| {
            with_ua(
                rec(
                    T0 + i * S,
                    "203.0.113.20",
                    "GET",
                    "/api/v1/products",
                    200,
                    b"",
                ),
                "python-requests/2.31",
            )
        })
        .collect();
    assert_eq!(categories(&run(&bot).0), [Category::Bot]);
    // The same timing on a health endpoint from a monitor, or with an API key: no alert.
    let monitor: Vec<_> = (0..400u64)
        .map(|i| {
            with_ua(
                rec(T0 + i * S, "203.0.113.21", "GET", "/health", 200, b""),
                "curl/8.0",
            )
        })
        .collect();
    assert!(run(&monitor).0.is_empty());
    let integration: Vec<_> = (0..400u64)
        .map(|i| {
            let mut r = with_ua(
                rec(
                    T0 + i * S,
                    "203.0.113.22",
                    "GET",
                    "/api/v1/orders",
                    200,
                    b"",
                ),
                "python-requests/2.31",
            );
            r.apitap.identity = Some(apitap_proto::Identity {
                kind: Cow::Borrowed("api_key"),
                id: "k1:abc".into(),
                source: None,
            });
            r
        })
        .collect();
    assert!(run(&integration).0.is_empty());
}

#[test]
fn a_person_with_a_browser_is_not_a_bot() {
    // Irregular think time, browser user agent, 200 requests over ~25 minutes.
    let mut t = T0;
    let rs: Vec<_> = (0..200u64)
        .map(|i| {
            t += S * (1 + (i * 7919) % 13);
            with_ua(
                rec(t, "198.18.0.77", "GET", "/api/v1/products", 200, b""),
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0",
            )
        })
        .collect();
    assert!(run(&rs).0.is_empty());
}

#[test]
fn fake_googlebot_when_verified_ranges_are_configured() {
    let rs: Vec<_> = (0..300u64)
        .map(|i| {
            with_ua(
                rec(
                    T0 + i * S,
                    "203.0.113.30",
                    "GET",
                    &format!("/products/p{i}"),
                    200,
                    b"",
                ),
                "Mozilla/5.0 (compatible; Googlebot/2.1)",
            )
        })
        .collect();
    assert!(
        run(&rs).0.is_empty(),
        "without a verified list the claim is believed"
    );
    let mut cfg = AnalyzerConfig::default();
    cfg.bot.verified_crawler_sources = vec!["66.249.64.0/19".into()];
    let mut a = Analyzer::new(cfg).unwrap();
    let mut out = Vec::new();
    for r in &rs {
        a.observe(r, &mut out);
    }
    assert_eq!(categories(&out), [Category::Bot]);
    assert_eq!(out[0].rule.id, "apitap.bot.impersonated_crawler");
}

#[test]
fn paging_through_a_catalogue_is_scraping() {
    let rs: Vec<_> = (0..80u64)
        .map(|i| {
            with_query(
                with_ua(
                    rec(
                        T0 + i * S / 2,
                        "203.0.113.40",
                        "GET",
                        "/api/v1/products",
                        200,
                        b"",
                    ),
                    "Mozilla/5.0 Chrome/120",
                ),
                &format!("page={i}&size=50"),
            )
        })
        .collect();
    assert_eq!(categories(&run(&rs).0), [Category::Scraping]);
    // A shopper looking at a few pages with think time: nothing.
    let shopper: Vec<_> = (0..8u64)
        .map(|i| {
            with_query(
                with_ua(
                    rec(
                        T0 + i * 20 * S,
                        "198.18.0.41",
                        "GET",
                        "/api/v1/products",
                        200,
                        b"",
                    ),
                    "Mozilla/5.0 Chrome/120",
                ),
                &format!("page={i}"),
            )
        })
        .collect();
    assert!(run(&shopper).0.is_empty());
}

#[test]
fn a_scanner_is_reported_as_what_it_does_not_also_as_a_bot() {
    let rs: Vec<_> = (0..400u64)
        .map(|i| {
            with_ua(
                rec(
                    T0 + i * S / 4,
                    "203.0.113.60",
                    "GET",
                    &format!("/w{i}"),
                    404,
                    b"",
                ),
                "gobuster/3.6",
            )
        })
        .collect();
    let (alerts, a) = run(&rs);
    assert_eq!(categories(&alerts), [Category::ForcedBrowsing]);
    assert!(a.stats().alerts.subsumed > 0);
}
