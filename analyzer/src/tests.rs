//! Analyzer behaviour on record sequences: each detector fires on its pattern with numeric
//! evidence, benign traffic of the same shape does not, and the manager folds repeats.

use super::*;
use crate::test_support::rec;
use apitap_proto::Category;
use std::borrow::Cow;

const S: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * S;

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
    // The one success at the end of the run is the account taken over.
    assert_eq!(
        categories(&alerts),
        [Category::CredentialStuffing, Category::AccountTakeover]
    );
    assert_eq!(
        alerts[1].rule.id,
        "apitap.account_takeover.success_after_failures"
    );
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
fn a_source_that_changes_its_client_is_judged_by_the_new_one() {
    // The bot detector remembers what a source's user agent is; a browser that turns into a
    // script on the same address (and back) must be read again each time.
    let client = |i: u64| match i {
        0..=99 => "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        100..=299 => "python-requests/2.31",
        _ => "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    };
    let records: Vec<_> = (0..400u64)
        .map(|i| {
            with_ua(
                rec(
                    T0 + i * S,
                    "203.0.113.23",
                    "GET",
                    "/api/v1/products",
                    200,
                    b"",
                ),
                client(i),
            )
        })
        .collect();
    let alerts = run(&records).0;
    assert_eq!(categories(&alerts), [Category::Bot]);
    assert!(alerts[0].timestamp >= T0 + 100 * S);
    // A browser alone at the same clockwork pace is not one.
    let browser: Vec<_> = records.iter().take(100).cloned().collect();
    assert!(run(&browser).0.is_empty());
}

#[test]
fn headless_browser_driving_a_user_session_is_a_bot_despite_its_token() {
    // A scalper: a logged-in user's token, headless Chrome, a request every 333 ms cycling
    // product -> cart -> checkout.
    let steps = [
        ("GET", "/api/v1/products/77001", 200),
        ("POST", "/api/v1/cart/items", 409),
        ("POST", "/api/v1/cart/checkout", 409),
    ];
    let rs: Vec<_> = (0..180u64)
        .map(|i| {
            let (m, p, st) = steps[(i % 3) as usize];
            let mut r = crate::test_support::rec_with(
                T0 + i * S / 3,
                "203.0.113.44",
                p,
                st,
                200,
                Some("jwt:user-17"),
            );
            r.http.request.method = Cow::Borrowed(m);
            with_ua(
                r,
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
            )
        })
        .collect();
    let (alerts, _) = run(&rs);
    assert_eq!(categories(&alerts), [Category::Bot]);
    assert_eq!(alerts[0].rule.id, "apitap.bot.automated_session");
    // The same session from a real (headed) browser at human pace is not.
    let person: Vec<_> = rs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.clone();
            r.timestamp = T0 + (i as u64) * S * (2 + (i as u64 * 7919) % 11);
            r.event.start = r.timestamp;
            with_ua(
                r,
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36",
            )
        })
        .collect();
    assert!(run(&person).0.is_empty());
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

/// A fresh directory for list files, removed on drop.
struct ListDir(std::path::PathBuf);

impl ListDir {
    fn new(tag: &str) -> ListDir {
        let d = std::env::temp_dir().join(format!("apitap-ti-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        ListDir(d)
    }

    /// Writes atomically (temp file + rename), as list updaters do.
    fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
        let p = self.0.join(name);
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        p
    }
}

impl Drop for ListDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn intel_config(
    lists: Vec<(&str, std::path::PathBuf, intel::parse::ListFormat)>,
) -> AnalyzerConfig {
    let mut c = AnalyzerConfig::default();
    c.threat_intel.lists = lists
        .into_iter()
        .map(|(name, path, format)| config::IntelListConfig {
            name: name.into(),
            path,
            format,
            category: "scanner".into(),
            severity: apitap_proto::Severity::High,
        })
        .collect();
    c
}

fn measure(a: &Alert, name: &str) -> Option<f64> {
    a.apitap.evidence.observed_value(name)
}

#[test]
fn listed_sources_alert_once_each_and_a_rewritten_list_is_picked_up() {
    use intel::parse::ListFormat;
    let d = ListDir::new("reload");
    let drop = d.write("drop.txt", "; Spamhaus DROP\n198.18.5.0/24 ; SBL1\n");
    let plain = d.write(
        "plain.txt",
        "2001:db8::7 # a scanner\ngarbage\n198.18.9.9\n",
    );
    let config = intel_config(vec![
        ("drop", drop, ListFormat::Drop),
        ("scanners", plain, ListFormat::Plain),
    ]);
    let (shared, _) = ThreatIntel::load(&config.threat_intel).unwrap();
    let mut a = Analyzer::with_threat_intel(config, Some(shared.clone())).unwrap();
    let mut out = Vec::new();
    for i in 0..20 {
        let t = T0 + i * S;
        a.observe(
            &rec(t, "198.18.5.9", "GET", "/api/items", 200, b""),
            &mut out,
        );
        a.observe(
            &rec(t, "198.18.6.1", "GET", "/api/items", 200, b""),
            &mut out,
        );
        a.observe(
            &rec(t, "2001:db8::7", "GET", "/api/items", 200, b""),
            &mut out,
        );
        a.observe(
            &rec(t, "2001:db8::8", "GET", "/api/items", 200, b""),
            &mut out,
        );
    }
    let actors: Vec<&str> = out
        .iter()
        .filter(|x| x.apitap.category == Category::ThreatIntel)
        .map(|x| &*x.apitap.actor)
        .collect();
    assert_eq!(actors, ["198.18.5.9", "2001:db8::7"]);
    let first = &out[0];
    assert_eq!(measure(first, "requests"), Some(1.0));
    assert_eq!(measure(first, "matched_prefix_len"), Some(24.0));
    assert_eq!(measure(first, "list:drop"), Some(1.0));
    assert_eq!(measure(first, "matched_prefix:198.18.5.0/24"), Some(24.0));
    assert!(
        first.apitap.evidence.summary.contains("SBL1"),
        "{}",
        first.apitap.evidence.summary
    );
    let st = a.stats().threat_intel;
    assert_eq!(
        (st.lookups, st.matches, st.entries_loaded, st.lines_rejected),
        (80, 40, 3, 1)
    );
    assert_eq!(st.by_list["scanners"].matches, 20);

    // The list is rewritten: after the owner's check, the next request of a newly listed
    // source alerts, and one no longer listed is not looked up as listed any more.
    d.write(
        "drop.txt",
        "; Spamhaus DROP, next day\n198.18.6.0/24 ; SBL2\n",
    );
    assert_eq!(shared.check(false).len(), 1);
    out.clear();
    for i in 20..25 {
        let t = T0 + i * S;
        a.observe(
            &rec(t, "198.18.5.9", "GET", "/api/items", 200, b""),
            &mut out,
        );
        a.observe(
            &rec(t, "198.18.6.1", "GET", "/api/items", 200, b""),
            &mut out,
        );
    }
    let actors: Vec<&str> = out.iter().map(|x| &*x.apitap.actor).collect();
    assert_eq!(actors, ["198.18.6.1"]);
    assert!(out[0].apitap.evidence.summary.contains("SBL2"));
    let st = a.stats().threat_intel;
    assert_eq!((st.reloads, st.generation, st.matches), (1, 2, 45));
}

#[test]
fn forwarded_for_is_looked_up_only_when_trusted() {
    use intel::parse::ListFormat;
    let d = ListDir::new("xff");
    let l = d.write("l.txt", "203.0.113.0/24\n");
    let mut r = rec(T0, "198.18.0.1", "GET", "/api/items", 200, b"");
    r.extras.request_headers = [("x-forwarded-for", "203.0.113.50, 198.18.0.200")]
        .into_iter()
        .collect();
    for (hops, expect) in [(0u8, None), (1, None), (2, Some("203.0.113.50"))] {
        let mut c = intel_config(vec![("l", l.clone(), ListFormat::Plain)]);
        c.threat_intel.forwarded_for_hops = hops;
        let mut a = Analyzer::new(c).unwrap();
        let mut out = Vec::new();
        a.observe(&r, &mut out);
        assert_eq!(out.first().map(|x| &*x.apitap.actor), expect, "hops {hops}");
        if let Some(x) = out.first() {
            assert!(x.apitap.evidence.summary.contains("via 198.18.0.1"));
        }
    }
}

#[test]
fn list_size_limits_are_enforced_and_counted() {
    use intel::parse::ListFormat;
    let d = ListDir::new("limits");
    let l = d.write("l.txt", "198.18.1.1\n198.18.1.2\n198.18.1.3\n");
    let mut c = intel_config(vec![("l", l, ListFormat::Plain)]);
    c.threat_intel.max_entries_per_list = 2;
    let mut a = Analyzer::new(c.clone()).unwrap();
    let mut out = Vec::new();
    for ip in ["198.18.1.1", "198.18.1.2", "198.18.1.3"] {
        a.observe(&rec(T0, ip, "GET", "/", 200, b""), &mut out);
    }
    assert_eq!(out.len(), 2);
    let st = a.stats().threat_intel;
    assert_eq!((st.entries_loaded, st.entries_over_limit), (2, 1));
    c.threat_intel.max_file_bytes = 10;
    let e = Analyzer::new(c).err().unwrap();
    assert!(e.contains("max_file_bytes"), "{e}");
}

fn with_identity(mut r: RequestRecord, id: &str) -> RequestRecord {
    r.apitap.identity = Some(apitap_proto::Identity {
        kind: Cow::Borrowed("jwt"),
        id: id.into(),
        source: None,
    });
    r
}

#[test]
fn lockout_changes_from_a_new_place_are_account_takeover() {
    let mut v = Vec::new();
    // The owner: a week of ordinary reads and one phone change from home.
    for i in 0..20 {
        v.push(with_identity(
            rec(
                i * 60 * S,
                "198.18.7.10",
                "GET",
                "/api/v1/users/42",
                200,
                b"",
            ),
            "k1:owner",
        ));
    }
    v.push(with_identity(
        rec(
            21 * 60 * S,
            "198.18.7.10",
            "PUT",
            "/api/v1/users/42",
            200,
            br#"{"phone":"+1"}"#,
        ),
        "k1:owner",
    ));
    let (alerts, _) = run(&v);
    assert!(alerts.is_empty(), "{alerts:#?}");
    // Someone else: new network and client, email and password and a card within minutes.
    let t = 3600 * S;
    let other = |r| with_ua(with_identity(r, "k1:owner"), "python-requests/2.31");
    v.push(other(rec(
        t,
        "198.19.99.5",
        "GET",
        "/api/v1/users/42",
        200,
        b"",
    )));
    v.push(other(rec(
        t + 5 * S,
        "198.19.99.5",
        "PUT",
        "/api/v1/users/42",
        200,
        br#"{"email":"x@evil.example"}"#,
    )));
    v.push(other(rec(
        t + 9 * S,
        "198.19.99.5",
        "POST",
        "/api/v1/users/42/password",
        204,
        br#"{"new_password":"x"}"#,
    )));
    let (alerts, _) = run(&v);
    let ato: Vec<_> = alerts
        .iter()
        .filter(|a| a.apitap.category == Category::AccountTakeover)
        .collect();
    assert_eq!(ato.len(), 1, "{alerts:#?}");
    let a = ato[0];
    assert_eq!(a.apitap.severity, apitap_proto::Severity::Critical);
    assert_eq!(&*a.apitap.actor, "k1:owner");
    assert!(
        a.apitap.evidence.summary.contains("contact"),
        "{}",
        a.apitap.evidence.summary
    );
    assert!(a.apitap.evidence.summary.contains("credentials"));
}

#[test]
fn one_token_alternating_between_far_networks_is_account_takeover() {
    let mut v = Vec::new();
    for i in 0..8 {
        let ip = if i % 2 == 0 {
            "198.18.1.1"
        } else {
            "198.19.200.1"
        };
        v.push(with_identity(
            rec(1000 * S + i * 10 * S, ip, "GET", "/api/v1/orders", 200, b""),
            "k1:shared",
        ));
    }
    let (alerts, _) = run(&v);
    assert_eq!(
        categories(&alerts),
        [Category::AccountTakeover],
        "{alerts:#?}"
    );
    assert_eq!(alerts[0].apitap.detector, "account_takeover");
    // The same token moving once (home to office) is not.
    let v: Vec<_> = (0..8)
        .map(|i| {
            let ip = if i < 4 { "198.18.1.1" } else { "198.19.200.1" };
            with_identity(
                rec(1000 * S + i * 10 * S, ip, "GET", "/api/v1/orders", 200, b""),
                "k1:mover",
            )
        })
        .collect();
    assert!(run(&v).0.is_empty());
}
