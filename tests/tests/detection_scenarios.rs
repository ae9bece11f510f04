//! Detection on labeled scenario captures: the generator writes a pcap and its labels, the
//! sensor rebuilds the exchanges, one analyzer raises alerts, and the alerts are scored
//! against the labels by source address.
//!
//! Asserted: every attack actor whose category has a detector is alerted with its own
//! category, on two seeds; no benign actor gets any alert; no actor gets a payload alert of
//! a family it did not send; how long and how many of the actor's requests it took before
//! the first alert is printed and bounded per detector.

use apitap_gen::labels::Labels;
use apitap_gen::scenario::Scenario;
use apitap_sensor::config::SensorConfig;
use apitap_tests::scoring::{Run, PAYLOAD};
use apitap_tests::{analyze, workspace_root};
use std::path::PathBuf;

/// Behaviour categories with a detector, and the packet time (s) within which the first
/// alert must come after the actor's first request.
const BEHAVIOUR: &[(&str, f64)] = &[
    ("brute_force", 120.0),
    ("credential_stuffing", 120.0),
    ("account_takeover", 120.0),
    ("enumeration", 120.0),
    ("forced_browsing", 60.0),
    ("rate_anomaly", 60.0),
    ("bot", 90.0),
    ("scraping", 120.0),
];

fn run(scenario: &str, seed: u64) -> Run {
    let sc = Scenario::load(&workspace_root().join("fixtures/scenarios").join(scenario)).unwrap();
    let mut buf = Vec::new();
    let (labels, _) = apitap_gen::generate(&sc, seed, &mut buf).unwrap();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "detect-{}-{seed}.pcap",
        scenario.trim_end_matches(".toml")
    ));
    std::fs::write(&path, &buf).unwrap();
    let (records, alerts) = analyze(std::slice::from_ref(&path), &SensorConfig::default()).unwrap();
    let _ = std::fs::remove_file(&path);
    Run {
        labels,
        records,
        alerts,
    }
}

fn check_actors(seed: u64) {
    check_run(&run("attacks-all.toml", seed), seed);
}

/// The demo capture README's first command replays (committed; `apitap-gen --scenario
/// fixtures/scenarios/attacks-all.toml` writes it again).
#[test]
fn the_demo_capture_alerts_every_attacker_it_has_a_detector_for() {
    let dir = workspace_root().join("fixtures/demo");
    let labels: Labels =
        serde_json::from_str(&std::fs::read_to_string(dir.join("mixed-labels.json")).unwrap())
            .unwrap();
    let (records, alerts) = analyze(&[dir.join("mixed.pcap")], &SensorConfig::default()).unwrap();
    check_run(
        &Run {
            labels,
            records,
            alerts,
        },
        0,
    );
}

fn check_run(run: &Run, seed: u64) {
    let by = run.alerts_by_actor();
    let aggregate = SensorConfig::default().analyzer.payload.aggregate_secs;
    let mut checked = 0;
    for (i, a) in run.labels.actors.iter().enumerate() {
        let got: Vec<&str> = by
            .get(&i)
            .map(|v| v.iter().map(|x| x.apitap.category.as_str()).collect())
            .unwrap_or_default();
        if a.kind != "attack" {
            assert!(got.is_empty(), "benign {} alerted: {got:?}", a.name);
            continue;
        }
        for g in &got {
            if PAYLOAD.contains(g) {
                assert!(
                    a.categories.iter().any(|c| c == g),
                    "{} ({:?}) got a {g} alert",
                    a.name,
                    a.categories
                );
            }
        }
        let want = a.categories.iter().find_map(|c| {
            if PAYLOAD.contains(&c.as_str()) {
                // Payload groups are emitted `aggregate_secs` after their first finding.
                Some((c.as_str(), aggregate as f64 + 15.0))
            } else {
                BEHAVIOUR.iter().find(|(b, _)| b == c).copied()
            }
        });
        let Some((want, bound)) = want else {
            continue;
        };
        let first = run
            .first_alert(i, want)
            .unwrap_or_else(|| panic!("seed {seed}: {} ({want}) not alerted: {got:?}", a.name));
        let n = run.requests_until(i, first);
        let secs = (first - run.first_request(i)) as f64 / 1e9;
        println!(
            "seed {seed}: {:<20} {want:<20} first alert after {n:>4} of {:>4} requests, {secs:>5.1} s",
            a.name, a.request_count
        );
        assert!(
            secs <= bound || n as u64 == a.request_count,
            "{}: first {want} alert after {secs} s",
            a.name
        );
        checked += 1;
    }
    assert!(checked >= 15, "{checked} actors checked");
}

#[test]
fn attackers_are_alerted_with_their_category_seed_1() {
    check_actors(1);
}

#[test]
fn attackers_are_alerted_with_their_category_seed_2() {
    check_actors(2);
}

/// Aggregation: one source sending many payloads of one family makes one alert whose count
/// is the number of requests that carried them, with the endpoints and a success hint.
#[test]
fn one_alert_per_source_and_family_with_the_count() {
    let run = run("attacks-all.toml", 1);
    let by = run.alerts_by_actor();
    let (i, sqlmap) = run
        .labels
        .actors
        .iter()
        .enumerate()
        .find(|(_, a)| a.name == "sqlmap")
        .unwrap();
    let alerts = &by[&i];
    let sqli: Vec<_> = alerts
        .iter()
        .filter(|a| a.apitap.category.as_str() == "sqli")
        .collect();
    assert_eq!(sqli.len(), sqlmap.source_ips.len(), "{sqli:#?}");
    let a = sqli[0];
    let measure = |n: &str| a.apitap.evidence.observed_value(n).unwrap();
    assert!(a.apitap.count >= 20, "count {}", a.apitap.count);
    assert_eq!(measure("requests"), a.apitap.count as f64);
    assert!(measure("distinct_endpoints") >= 1.0);
    assert!(a.apitap.evidence.summary.contains("sqli payloads"));
    assert_eq!(a.apitap.detector, "payload");
    assert!(!a.apitap.evidence.samples.is_empty());
    let rec = a.apitap.recommendation.as_ref().unwrap();
    assert_eq!(rec.action, "block_ip");
}

/// Grouping: a stuffing botnet spread over 40 addresses with rotating user agents is one
/// campaign alert (keyed by the header shape they share) naming its sources, not one alert
/// per address; the addresses' own alerts are folded into it.
#[test]
fn a_distributed_stuffing_botnet_is_one_campaign_alert() {
    for seed in [1, 2] {
        let run = run("attacks-all.toml", seed);
        let owner = run.owner();
        let (i, botnet) = run
            .labels
            .actors
            .iter()
            .enumerate()
            .find(|(_, a)| a.name == "stuffing-botnet")
            .unwrap();
        assert!(botnet.source_ips.len() >= 40);
        let stuffing: Vec<_> = run
            .alerts
            .iter()
            .filter(|a| a.apitap.category.as_str() == "credential_stuffing")
            .filter(|a| owner.get(&a.source.ip) == Some(&i))
            .collect();
        assert_eq!(stuffing.len(), 1, "seed {seed}: {stuffing:#?}");
        let a = stuffing[0];
        assert_eq!(a.rule.id, "apitap.credential_stuffing.campaign");
        assert_eq!(a.apitap.actor_kind, "campaign");
        let measure = |n: &str| a.apitap.evidence.observed_value(n).unwrap();
        assert!(measure("distinct_sources") >= 5.0);
        assert!(measure("success_ratio") < 0.3);
        // The block list names botnet addresses only.
        let rec = a.apitap.recommendation.as_ref().unwrap();
        for ip in rec.target.split(',') {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(owner.get(&ip), Some(&i), "{ip} in the block list");
        }
        println!(
            "seed {seed}: one campaign alert for {} addresses: {}",
            botnet.source_ips.len(),
            a.apitap.evidence.summary
        );
    }
}
