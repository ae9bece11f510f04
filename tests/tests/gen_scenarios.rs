//! The scenario generator (`apitap-gen`) end to end: its captures are deterministic, parse in
//! apitap and in tshark with the same number of HTTP requests as the labels say, and each
//! labeled actor's records (by source address) match its label's count and what the actor
//! does (payloads, endpoints, identities, tunnels).

use apitap_gen::actors::Category;
use apitap_gen::api::Catalogue;
use apitap_gen::labels::{ActorLabel, Labels};
use apitap_gen::payloads::pct_decode;
use apitap_gen::scenario::Scenario;
use apitap_proto::time::rfc3339_micros;
use apitap_proto::RequestRecord;
use apitap_sensor::config::SensorConfig;
use apitap_sensor::record::RecordOptions;
use apitap_sensor::redact::RedactMode;
use apitap_tests::{replay_with, workspace_root};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Command;

fn scenario(name: &str) -> Scenario {
    Scenario::load(&workspace_root().join("fixtures/scenarios").join(name)).unwrap()
}

/// Generates into the test temp dir; returns the pcap path, its bytes and the labels.
fn generate(sc: &Scenario, seed: u64, tag: &str) -> (PathBuf, Vec<u8>, Labels) {
    let mut buf = Vec::new();
    let (labels, stats) = apitap_gen::generate(sc, seed, &mut buf).unwrap();
    assert_eq!(stats.file_bytes as usize, buf.len());
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("gen-{tag}-{seed}.pcap"));
    std::fs::write(&path, &buf).unwrap();
    (path, buf, labels)
}

fn records(path: &PathBuf) -> Vec<RequestRecord> {
    let opts = RecordOptions {
        with_extras: true,
        ..RecordOptions::default()
    };
    replay_with(
        std::slice::from_ref(path),
        &SensorConfig::default(),
        RedactMode::None,
        opts,
    )
    .unwrap()
}

/// Records grouped by the labeled actor that owns their source address.
fn by_actor<'a>(
    labels: &'a Labels,
    rs: &'a [RequestRecord],
) -> BTreeMap<&'a str, Vec<&'a RequestRecord>> {
    let owner: HashMap<std::net::IpAddr, &str> = labels
        .actors
        .iter()
        .flat_map(|a| {
            a.source_ips
                .iter()
                .map(move |ip| (ip.parse::<std::net::IpAddr>().unwrap(), a.name.as_str()))
        })
        .collect();
    let mut m: BTreeMap<&str, Vec<&RequestRecord>> = BTreeMap::new();
    for r in rs {
        let name = owner
            .get(&r.source.ip)
            .unwrap_or_else(|| panic!("record from unlabeled address {}", r.source.ip));
        m.entry(name).or_default().push(r);
    }
    m
}

fn actor<'a>(labels: &'a Labels, name: &str) -> &'a ActorLabel {
    labels
        .actor(name)
        .unwrap_or_else(|| panic!("no label {name}"))
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let sc = scenario("attacks-all.toml");
    let (_, a, la) = generate(&sc, 7, "det-a");
    let (_, b, lb) = generate(&sc, 7, "det-b");
    assert!(a == b, "same seed, different bytes");
    assert_eq!(
        serde_json::to_string(&la).unwrap(),
        serde_json::to_string(&lb).unwrap()
    );
    let (_, c, lc) = generate(&sc, 8, "det-c");
    assert!(a != c, "another seed gave the same bytes");
    assert_ne!(la.actors, lc.actors);
}

#[test]
fn every_category_is_in_the_example_scenario() {
    let sc = scenario("attacks-all.toml");
    let have: BTreeSet<Category> = sc.actors.iter().map(|a| a.category).collect();
    for c in Category::ALL {
        assert!(
            have.contains(&c),
            "attacks-all.toml has no {} actor",
            c.name()
        );
    }
}

/// Requests tshark sees: one `http.request.method` occurrence per request (a frame can
/// carry two, e.g. a CL.TE smuggling attempt). None when tshark is absent.
fn tshark_requests(path: &PathBuf) -> Option<(usize, usize)> {
    let out = match Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-Y",
            "http.request",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "http.request.method",
        ])
        .output()
    {
        Ok(o) => o,
        Err(_) => {
            println!("tshark not found: skipping the tshark half (CI installs it)");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let frames = text.lines().count();
    let requests = text
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap_or("").split(',').count())
        .sum();
    Some((frames, requests))
}

#[test]
fn apitap_and_tshark_count_the_labeled_requests_per_actor() {
    let sc = scenario("attacks-all.toml");
    let (path, _, labels) = generate(&sc, 1, "counts");
    let rs = records(&path);
    assert_eq!(rs.len() as u64, labels.requests, "apitap records vs labels");
    if let Some((frames, requests)) = tshark_requests(&path) {
        assert_eq!(
            requests as u64, labels.requests,
            "tshark requests vs labels"
        );
        let smuggled = by_actor(&labels, &rs)["smuggler"]
            .iter()
            .filter(|r| r.url.path == "/api/v1/admin/users")
            .count();
        assert_eq!(
            frames + smuggled,
            requests,
            "only smuggling puts two requests in one frame"
        );
    }
    let groups = by_actor(&labels, &rs);
    for a in &labels.actors {
        let got = groups.get(a.name.as_str()).map_or(0, Vec::len) as u64;
        assert_eq!(got, a.request_count, "actor {}", a.name);
        if a.kind == "attack" {
            assert!(a.request_count > 0, "attack actor {} sent nothing", a.name);
        }
        // The label's time span is the span of the actor's requests.
        if let Some(list) = groups.get(a.name.as_str()) {
            let first = list.iter().map(|r| r.timestamp).min().unwrap();
            let last = list.iter().map(|r| r.timestamp).max().unwrap();
            assert_eq!(
                a.first_seen.as_deref(),
                Some(rfc3339_micros(first).as_str()),
                "{}",
                a.name
            );
            assert_eq!(
                a.last_seen.as_deref(),
                Some(rfc3339_micros(last).as_str()),
                "{}",
                a.name
            );
        }
    }
    // Every request is answered.
    let unanswered: Vec<_> = rs
        .iter()
        .filter(|r| r.http.response.is_none())
        .map(|r| (&r.source.ip, &r.url.original))
        .collect();
    assert!(unanswered.is_empty(), "{unanswered:?}");
}

#[test]
fn actors_do_what_their_labels_say() {
    let sc = scenario("attacks-all.toml");
    let (path, _, labels) = generate(&sc, 3, "fields");
    let rs = records(&path);
    let g = by_actor(&labels, &rs);
    let cat = Catalogue::load().unwrap();

    // sqli: payloads in the URL, sqlmap's user agent.
    let sqli = &g["sqlmap"];
    let with_payload = sqli.iter().filter(|r| {
        let u = pct_decode(&r.url.original.replace('+', " "))
            .replace("/**/", " ")
            .to_uppercase();
        [
            "SELECT",
            "UNION",
            "SLEEP(",
            "' OR",
            "AND 1=1",
            "ORDER BY",
            "WAITFOR",
            "'--",
            "EXTRACTVALUE",
            "CAST(",
            "DROP TABLE",
            "5526=5527",
            " OR 1=1",
        ]
        .iter()
        .any(|k| u.contains(k))
    });
    assert_eq!(
        with_payload.count(),
        sqli.len(),
        "every sqlmap request carries a payload"
    );
    assert!(sqli.iter().all(|r| r
        .user_agent
        .as_ref()
        .unwrap()
        .original
        .starts_with("sqlmap/")));
    let slow = &g["slow-sqli"];
    assert_eq!(
        slow.iter()
            .map(|r| &r.source.ip)
            .collect::<BTreeSet<_>>()
            .len(),
        actor(&labels, "slow-sqli").source_ips.len()
    );
    assert!(
        slow.iter()
            .all(|r| !r.user_agent.as_ref().unwrap().original.contains("sqlmap")),
        "rotating browser agents"
    );

    // credential stuffing: the login endpoint, many distinct usernames, mostly 401.
    let cs = &g["stuffing-botnet"];
    assert!(cs
        .iter()
        .all(|r| r.http.request.method == "POST" && r.url.path == "/api/v1/auth/login"));
    let users: BTreeSet<String> = cs
        .iter()
        .map(|r| {
            let body = String::from_utf8_lossy(&r.extras.request_body).into_owned();
            let v: serde_json::Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
            v["username"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(
        users.len() * 10 >= cs.len() * 9,
        "{} distinct usernames over {} attempts",
        users.len(),
        cs.len()
    );
    assert_eq!(
        users.len() as u64,
        actor(&labels, "stuffing-botnet").identity_count
    );
    let fails = cs
        .iter()
        .filter(|r| r.http.response.as_ref().unwrap().status_code == 401)
        .count();
    assert!(fails * 10 >= cs.len() * 9);
    let ips = cs
        .iter()
        .map(|r| &r.source.ip)
        .collect::<BTreeSet<_>>()
        .len();
    assert_eq!(ips, actor(&labels, "stuffing-botnet").source_ips.len());
    assert!(ips > 30, "spread over the botnet's 40 addresses: {ips}");

    // brute force: one or few usernames, many passwords.
    let bf = &g["hydra"];
    assert!(bf.iter().all(|r| r.url.path == "/api/v1/auth/login"));
    let targets = actor(&labels, "hydra").identity_count as usize;
    assert!(
        targets >= 1 && targets * 10 <= bf.len(),
        "{targets} usernames over {} attempts",
        bf.len()
    );

    // BOLA: one token, walking order ids upward.
    let mut walk = g["bola-walker"].clone();
    walk.sort_by_key(|r| r.timestamp);
    let ids: Vec<u64> = walk
        .iter()
        .map(|r| r.url.path.rsplit('/').next().unwrap().parse().unwrap())
        .collect();
    let rising = ids.windows(2).filter(|w| w[1] > w[0]).count();
    assert!(
        rising * 10 >= (ids.len() - 1) * 9 && ids.len() > 100,
        "{rising} rising of {}",
        ids.len()
    );
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "each id once"
    );

    // forced browsing: mostly 404s on paths that are not in the API.
    let ff = &g["ffuf"];
    assert!(ff
        .iter()
        .all(|r| cat.operation(&r.http.request.method, &r.url.path).is_none()));
    assert!(
        ff.iter()
            .filter(|r| r.http.response.as_ref().unwrap().status_code == 404)
            .count()
            * 2
            > ff.len()
    );

    // shadow endpoints are undocumented, the zombie endpoint is documented and deprecated.
    assert!(g["shadow-admin"]
        .iter()
        .all(|r| cat.operation(&r.http.request.method, &r.url.path).is_none()));
    assert!(g["legacy-export"].iter().all(|r| cat
        .operation(&r.http.request.method, &r.url.path)
        .is_some_and(|o| o.deprecated)));

    // Benign traffic only uses documented operations (good bots' robots.txt aside).
    for (name, list) in &g {
        if actor(&labels, name).kind != "benign" {
            continue;
        }
        for r in list {
            if r.url.path == "/robots.txt" {
                continue;
            }
            let op = cat.operation(&r.http.request.method, &r.url.path);
            assert!(
                op.is_some_and(|o| !o.deprecated),
                "{name}: {} {}",
                r.http.request.method,
                r.url.path
            );
        }
    }

    // Callers the sensor identifies (JWT subject, Basic user) are the label's identities.
    let mut checked = 0;
    for (name, list) in &g {
        let ids: BTreeSet<&str> = actor(&labels, name)
            .identities
            .iter()
            .map(String::as_str)
            .collect();
        for r in list {
            if let Some(i) = r
                .apitap
                .identity
                .as_ref()
                .filter(|i| i.kind == "jwt" || i.kind == "basic")
            {
                assert!(
                    ids.contains(&*i.id),
                    "{name}: {} {} not in the label",
                    i.kind,
                    i.id
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");

    // jndi in headers, xxe as XML bodies, unauthenticated access without credentials.
    assert!(g["log4shell-scanner"].iter().all(|r| r
        .extras
        .request_headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("x-api-version") && v.contains("${"))));
    assert!(g["xxe-import"]
        .iter()
        .all(|r| String::from_utf8_lossy(&r.extras.request_body).contains("<!DOCTYPE")));
    assert!(g["no-auth"].iter().all(|r| r.apitap.identity.is_none()));
    // sensitive data exposure: full card numbers in responses.
    assert!(g["card-leak"].iter().all(|r| {
        let body = String::from_utf8_lossy(&r.extras.response_body).into_owned();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .all(|c| apitap_gen::data::luhn_valid(c["number"].as_str().unwrap()))
    }));
    // smuggling: CL and TE together, and the smuggled request is seen.
    let sm = &g["smuggler"];
    assert!(sm
        .iter()
        .filter(|r| r.http.request.method == "POST")
        .all(|r| r.apitap.anomalies.iter().any(|a| a == "http_cl_and_te")));
    // protocol anomalies show up as anomalies.
    assert!(
        g["malformed"]
            .iter()
            .filter(|r| !r.apitap.anomalies.is_empty())
            .count()
            > 0
    );
}

#[test]
fn vxlan_and_vlan_wrapping_reach_the_records() {
    let mut sc = Scenario::from_toml(
        r#"
duration = "1m"
[network]
vxlan_vni = 4242
vlan = 77
[benign]
clients = 20
sessions_per_client_per_hour = 60.0
[[actor]]
name = "sqlmap"
category = "sqli"
rate = 2.0
"#,
    )
    .unwrap();
    sc.seed = 5;
    let (path, _, labels) = generate(&sc, 5, "vxlan");
    let rs = records(&path);
    assert!(!rs.is_empty());
    assert_eq!(rs.len() as u64, labels.requests);
    for r in &rs {
        let t = r.apitap.tunnel.as_ref().expect("tunnel on every record");
        assert_eq!(
            (&*t.kind, t.outer_source_ip.to_string().as_str(), t.id),
            ("vxlan", "198.19.255.200", Some(4242))
        );
        assert_eq!(r.network.vlan.as_ref().map(|v| v.id), Some(77));
    }
    if let Some((_, n)) = tshark_requests(&path) {
        assert_eq!(n as u64, labels.requests);
    }
}

fn in_benchmark_range(ip: &std::net::IpAddr) -> bool {
    let std::net::IpAddr::V4(ip) = ip else {
        return false;
    };
    let o = ip.octets();
    o[0] == 198 && (o[1] == 18 || o[1] == 19)
}

/// Clean benign traffic gives clean records: one per request, every one answered, no
/// anomaly, no midstream pickup, addresses only from 198.18.0.0/15.
#[test]
fn benign_traffic_replays_without_anomalies() {
    let sc = scenario("benign-small.toml");
    let (path, _, labels) = generate(&sc, 11, "benign");
    let rs = records(&path);
    assert_eq!(rs.len() as u64, labels.requests);
    assert!(labels.actors.iter().all(|a| a.kind == "benign"));
    for r in &rs {
        assert!(
            r.apitap.anomalies.is_empty(),
            "{} {}: {:?}",
            r.source.ip,
            r.url.original,
            r.apitap.anomalies
        );
        assert!(!r.apitap.midstream && r.http.response.is_some());
        assert!(in_benchmark_range(&r.source.ip) && in_benchmark_range(&r.destination.ip));
    }
    let by = by_actor(&labels, &rs);
    for a in &labels.actors {
        assert_eq!(
            by.get(a.name.as_str()).map_or(0, Vec::len) as u64,
            a.request_count,
            "{}",
            a.name
        );
    }
    // Some sessions log in with a typo first, some ask for things that are not there.
    let st = |code: u16| {
        rs.iter()
            .filter(|r| r.http.response.as_ref().unwrap().status_code == code)
            .count()
    };
    assert!(
        st(200) > rs.len() / 2 && st(401) > 0 && st(404) > 0,
        "200: {} 401: {} 404: {}",
        st(200),
        st(401),
        st(404)
    );
    if let Some((_, n)) = tshark_requests(&path) {
        assert_eq!(n as u64, labels.requests);
    }
}

/// What a record says about its exchange, without timing, ports or header order.
fn content(r: &RequestRecord) -> String {
    let resp = r.http.response.as_ref();
    format!(
        "{} {} {} {:?} {} {}",
        r.source.ip,
        r.http.request.method,
        r.url.original,
        resp.map(|x| x.status_code),
        String::from_utf8_lossy(&r.extras.request_body),
        String::from_utf8_lossy(&r.extras.response_body)
    )
}

/// Differential: retransmissions and reordering (at rates far above the defaults) change
/// packets, never content, so the impaired capture gives the same exchanges as a clean one.
#[test]
fn retransmissions_and_reordering_do_not_change_the_exchanges() {
    let mut sc = scenario("attacks-all.toml");
    sc.network.retransmit = 0.0;
    sc.network.reorder = 0.0;
    let (clean_path, _, clean_labels) = generate(&sc, 21, "clean");
    sc.network.retransmit = 0.15;
    sc.network.reorder = 0.5;
    let (bad_path, _, bad_labels) = generate(&sc, 21, "impaired");
    assert_eq!(clean_labels.requests, bad_labels.requests);
    let (clean, bad) = (records(&clean_path), records(&bad_path));
    assert_eq!(clean.len(), bad.len());
    let mut a: Vec<String> = clean.iter().map(content).collect();
    let mut b: Vec<String> = bad.iter().map(content).collect();
    a.sort();
    b.sort();
    let diff = a.iter().zip(&b).position(|(x, y)| x != y);
    assert!(
        diff.is_none(),
        "first difference: {:?}",
        diff.map(|i| (&a[i], &b[i]))
    );
    assert!(bad.iter().all(|r| r
        .apitap
        .anomalies
        .iter()
        .all(|x| x != "http_content_gap" && x != "http_resync")));
    // The impairments were there: tshark sees retransmissions and out-of-order segments.
    if let Ok(out) = Command::new("tshark").arg("-r").arg(&bad_path).args(["-Y", "tcp.analysis.retransmission or tcp.analysis.out_of_order or tcp.analysis.spurious_retransmission", "-T", "fields", "-e", "frame.number"]).output() {
        let n = String::from_utf8_lossy(&out.stdout).lines().count();
        assert!(n > 100, "only {n} impaired segments");
        // (tshark's own request count is not compared here: at these rates it loses one or
        // two of the protocol_anomaly actor's malformed requests; apitap must not lose any.)
    }
}

/// The population's upper end: 100,000 clients and a 2,000-address botnet keep disjoint
/// addresses inside 198.18.0.0/15, and every record still belongs to exactly one label.
#[test]
fn a_hundred_thousand_clients_and_a_botnet_stay_apart() {
    let sc = Scenario::from_toml(
        r#"
duration = "20s"
[benign]
clients = 100000
sessions_per_client_per_hour = 3.0
rate_curve = "flat"
[[actor]]
name = "botnet"
category = "credential_stuffing"
rate = 100.0
requests_per_connection = 1
concurrency = 32
stealth = { ips = 2000, rotate_user_agents = true }
"#,
    )
    .unwrap();
    let (path, _, labels) = generate(&sc, 9, "large");
    let mut seen = HashMap::new();
    for a in &labels.actors {
        for ip in &a.source_ips {
            assert!(in_benchmark_range(&ip.parse().unwrap()), "{ip}");
            assert!(
                seen.insert(ip.clone(), a.name.clone()).is_none(),
                "{ip} in two labels"
            );
        }
    }
    let bot = actor(&labels, "botnet");
    assert!(bot.source_ips.len() > 500, "{}", bot.source_ips.len());
    // 32 workers keep up with the configured 100 requests a second.
    assert!(bot.request_count > 1500, "{}", bot.request_count);
    let browsers = labels
        .actors
        .iter()
        .filter(|a| a.name.starts_with("benign-"))
        .map(|a| a.source_ips.len())
        .sum::<usize>();
    assert!(browsers > 100, "{browsers} benign clients active in 20 s");
    let rs = records(&path);
    assert_eq!(rs.len() as u64, labels.requests);
    let g = by_actor(&labels, &rs);
    for a in &labels.actors {
        assert_eq!(
            g.get(a.name.as_str()).map_or(0, Vec::len) as u64,
            a.request_count,
            "{}",
            a.name
        );
    }
}

/// The demo API document is valid OpenAPI 3 (checked by the Python openapi-spec-validator
/// when it is installed: `pip install openapi-spec-validator`; skipped with a message if not).
#[test]
fn the_demo_api_document_is_valid_openapi() {
    let doc = workspace_root().join("fixtures/demo-api/openapi.yaml");
    let script = "import sys\nfrom openapi_spec_validator import validate\nfrom openapi_spec_validator.readers import read_from_filename\nd, _ = read_from_filename(sys.argv[1])\nvalidate(d)\n";
    let probe = Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("openapi-spec-validator not installed: skipping the OpenAPI schema check");
        return;
    }
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&doc)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
