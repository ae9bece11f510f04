//! Detection on captures of real tools (`fixtures/real/`, written by
//! `fixtures/real/capture.sh`: a real nginx + Flask/SQLite shop in network namespaces, real
//! benign clients and real attack tools from Debian, recorded by tcpdump on the server's
//! bridge). Each committed capture is replayed through the sensor into one analyzer and
//! scored against its labels by source address.
//!
//! Asserted per labeled actor: apitap writes exactly as many records as tshark counted
//! requests (the label's `request_count`); every attack actor is alerted with each of its
//! labeled categories, except the known misses listed below (asserted as misses, so a fix
//! shows); no actor gets a payload family it did not send; benign actors get no alert; no
//! record or alert shows a lab password in clear. A per-actor table is printed (tool, requests,
//! categories expected and found, the actor's requests up to its first alert).

use apitap_gen::labels::Labels;
use apitap_sensor::config::SensorConfig;
use apitap_tests::scoring::{Run, PAYLOAD};
use apitap_tests::{analyze, workspace_root};
use std::collections::BTreeSet;

/// Real tools that send payloads of more than their labeled family, with why.
const EXTRA_FAMILIES: &[(&str, &str, &str)] = &[
    (
        "sqlmap",
        "xss",
        "sqlmap's WAF/IPS check (its first request) adds a parameter holding \
         `AND 1=1 UNION ALL SELECT 1,NULL,'<script>alert(\"XSS\")</script>',table_name ...`",
    ),
    (
        "wapiti",
        "ssrf",
        "wapiti's file module sends file:///etc/passwd and its own https://wapiti3.ovh/e.php \
         as values (local and remote file inclusion)",
    ),
];

/// Labeled categories apitap does not raise for a real tool yet: (actor, category, why).
/// None today: every tool in the captures is alerted with its category.
const KNOWN_MISSES: &[(&str, &str, &str)] = &[];

/// Passwords of the lab's accounts that the captures carry (in login bodies).
const LAB_PASSWORDS: &[&str] = &[
    "Spring2024!",
    "hunter2hunter2",
    "C4rol#Shop",
    "letmein123",
    "sunshine",
    "Mall0ry-2025",
    "Frank1985",
    "Welcome1!",
];

fn check_capture(name: &str) {
    let dir = workspace_root().join("fixtures/real");
    let labels: Labels = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}-labels.json"))).unwrap(),
    )
    .unwrap();
    let (records, alerts) = analyze(
        &[dir.join(format!("{name}.pcap"))],
        &SensorConfig::default(),
    )
    .unwrap();
    let run = Run {
        labels,
        records,
        alerts,
    };
    let records = run.records_by_actor();
    let alerts = run.alerts_by_actor();
    let mut errors = Vec::new();
    println!(
        "{name}.pcap\n{:<16} {:<24} {:>8} {:>8}  {:<22} {:<44} {:>10}",
        "actor", "tool", "requests", "records", "expected", "found", "before 1st"
    );
    for (i, a) in run.labels.actors.iter().enumerate() {
        let n = records.get(&i).map_or(0, Vec::len);
        let found: BTreeSet<&str> = alerts
            .get(&i)
            .map(|v| v.iter().map(|x| x.apitap.category.as_str()).collect())
            .unwrap_or_default();
        let first = a
            .categories
            .iter()
            .filter_map(|c| run.first_alert(i, c))
            .min();
        let before = first.map_or("-".to_string(), |t| run.requests_until(i, t).to_string());
        let tool = a.description.split(':').next().unwrap_or("");
        println!(
            "{:<16} {tool:<24} {:>8} {n:>8}  {:<22} {:<44} {before:>10}",
            a.name,
            a.request_count,
            a.categories.join(","),
            found.iter().copied().collect::<Vec<_>>().join(","),
        );
        if n as u64 != a.request_count {
            errors.push(format!(
                "{}: {n} records, tshark counted {} requests",
                a.name, a.request_count
            ));
        }
        if a.kind != "attack" {
            if !found.is_empty() {
                errors.push(format!("benign {} alerted: {found:?}", a.name));
            }
            continue;
        }
        for f in found.iter().filter(|f| PAYLOAD.contains(f)) {
            let sent = a.categories.iter().any(|c| c == f)
                || EXTRA_FAMILIES
                    .iter()
                    .any(|(who, fam, _)| *who == a.name && fam == f);
            if !sent {
                errors.push(format!("{} got a {f} alert", a.name));
            }
        }
        for c in &a.categories {
            let known_miss = KNOWN_MISSES
                .iter()
                .find(|(who, cat, _)| *who == a.name && cat == c);
            match (found.contains(c.as_str()), known_miss) {
                (true, None) | (false, Some(_)) => {}
                (false, None) => errors.push(format!("{} ({c}) not alerted: {found:?}", a.name)),
                (true, Some((_, _, why))) => errors.push(format!(
                    "{} is now alerted with {c}: remove it from KNOWN_MISSES ({why})",
                    a.name
                )),
            }
        }
    }
    let written = run
        .alerts
        .iter()
        .map(|a| ("an alert", serde_json::to_string(a).unwrap()))
        .chain(
            run.records
                .iter()
                .map(|r| ("a record", serde_json::to_string(r).unwrap())),
        );
    for (what, text) in written {
        for p in LAB_PASSWORDS {
            if text.contains(p) {
                errors.push(format!("{what} shows the password {p:?} in clear"));
            }
        }
    }
    assert!(errors.is_empty(), "{name}.pcap:\n  {}", errors.join("\n  "));
}

#[test]
fn sqlmap_capture() {
    check_capture("sqli");
}

#[test]
fn hydra_brute_force_and_credential_stuffing_capture() {
    check_capture("login");
}

#[test]
fn ffuf_and_gobuster_scan_capture() {
    check_capture("scan");
}

#[test]
fn wfuzz_bola_capture() {
    check_capture("bola");
}

#[test]
fn ab_flood_capture() {
    check_capture("flood");
}

#[test]
fn wapiti_scan_capture() {
    check_capture("wapiti");
}

#[test]
fn every_tool_at_once_capture() {
    check_capture("mixed");
}
