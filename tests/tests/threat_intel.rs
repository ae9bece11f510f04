//! Threat-intel lists end to end: a generated capture of benign traffic, lists in the three
//! formats naming some of its clients (exact addresses and one prefix, plus garbage lines),
//! replayed through one analyzer and through the sensor's analysis stage (two workers
//! sharing the lists): exactly the listed clients are alerted, once each, as `threat_intel`.

use apitap_analyzer::config::IntelListConfig;
use apitap_analyzer::intel::parse::ListFormat;
use apitap_analyzer::intel::table::Net;
use apitap_proto::{Category, Severity};
use apitap_sensor::analysis::{AlertSink, Analysis, AnalysisOptions};
use apitap_sensor::config::{FullPolicy, SensorConfig};
use apitap_sensor::record::RecordOptions;
use apitap_sensor::redact::RedactMode;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

fn list(name: &str, path: PathBuf, format: ListFormat) -> IntelListConfig {
    IntelListConfig {
        name: name.into(),
        path,
        format,
        category: "test".into(),
        severity: Severity::High,
    }
}

#[test]
fn exactly_the_listed_clients_are_alerted() {
    let dir = std::env::temp_dir().join(format!("apitap-intel-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("clients.pcap");
    let st = Command::new(env!("CARGO_BIN_EXE_gen_bench_pcap"))
        .args(["--clients", "300", "--exchanges", "6000"])
        .args(["--duration-secs", "600", "--seed", "11", "--quiet"])
        .arg("-o")
        .arg(&pcap)
        .status()
        .unwrap();
    assert!(st.success());
    let cfg = SensorConfig::default();
    let records = apitap_tests::replay_with(
        std::slice::from_ref(&pcap),
        &cfg,
        RedactMode::Hash,
        RecordOptions {
            with_extras: true,
            ..Default::default()
        },
    )
    .unwrap();
    let clients: Vec<IpAddr> = records
        .iter()
        .map(|r| r.source.ip)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(clients.len() >= 250, "{} clients", clients.len());

    // Two exact addresses (plain), one (CSV), and a /30 around a fourth (DROP), with
    // garbage lines and entries nobody uses.
    let prefix = Net::parse(&format!("{}/30", clients[40])).unwrap();
    std::fs::write(
        dir.join("plain.txt"),
        format!(
            "# listed clients\n{}\n{} scanner\nnot an address\n2001:db8::1\n",
            clients[3], clients[10]
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("feed.csv"),
        format!(
            "first_seen,ip,threat\n2024-01-01,{},botnet\n2024-01-02,999.1.1.1,x\n2024-01-03,192.0.2.1,y\n",
            clients[20]
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("drop.txt"),
        format!("; DROP\n{prefix} ; SBL1\n198.18.0.0/33 ; SBL2\n203.0.113.0/24 ; SBL3\n"),
    )
    .unwrap();
    let mut cfg = cfg;
    cfg.analyzer.threat_intel.lists = vec![
        list("plain", dir.join("plain.txt"), ListFormat::Plain),
        list("feed", dir.join("feed.csv"), ListFormat::Csv),
        list("drop", dir.join("drop.txt"), ListFormat::Drop),
    ];
    let mut expected: BTreeMap<IpAddr, &str> = BTreeMap::new();
    expected.insert(clients[3], "plain");
    expected.insert(clients[10], "plain");
    expected.insert(clients[20], "feed");
    for c in &clients {
        if prefix.contains(*c) {
            expected.insert(*c, "drop");
        }
    }
    let listed_requests = records
        .iter()
        .filter(|r| expected.contains_key(&r.source.ip))
        .count() as u64;

    // One analyzer, as one worker sees it.
    let (_, alerts) = apitap_tests::analyze(std::slice::from_ref(&pcap), &cfg).unwrap();
    let mut got: BTreeMap<IpAddr, &str> = BTreeMap::new();
    for a in &alerts {
        assert_eq!(a.apitap.category, Category::ThreatIntel, "{a:#?}");
        let ip: IpAddr = a.apitap.actor.parse().unwrap();
        let list = a
            .apitap
            .evidence
            .observed
            .iter()
            .find_map(|m| m.name.strip_prefix("list:"))
            .unwrap();
        let name = *expected.get(&ip).unwrap_or(&"?");
        assert_eq!(list, name, "{ip}");
        assert!(got.insert(ip, name).is_none(), "{ip} alerted twice");
        assert!(a
            .apitap
            .evidence
            .observed
            .iter()
            .any(|m| m.name == "requests"));
    }
    println!(
        "{} records, {} clients, {} listed, {} alerts",
        records.len(),
        clients.len(),
        expected.len(),
        alerts.len()
    );
    assert_eq!(got, expected);

    // The sensor's analysis stage: two workers share the lists; the summary counts them.
    let out = dir.join("alerts.jsonl");
    let mut analysis = Analysis::start(
        AnalysisOptions {
            config: cfg.analyzer.clone(),
            workers: 2,
            channel_capacity: 1024,
            sink: AlertSink::File(out.clone()),
            sorted: true,
            reload_lists: false,
            baseline: None,
            alerting: true,
        },
        FullPolicy::Block,
    )
    .unwrap();
    let mut sorted = records;
    sorted.sort_by_key(|r| r.timestamp);
    for r in sorted {
        analysis.offer(Arc::new(r));
    }
    let s = analysis.finish();
    let t = s.threat_intel.clone().unwrap();
    assert_eq!((t.lists, t.entries_loaded, t.lines_rejected), (3, 7, 3));
    assert_eq!(t.matches, listed_requests);
    assert_eq!(
        t.by_list.values().map(|l| l.matches).sum::<u64>(),
        listed_requests
    );
    assert_eq!(
        s.alerts_by_category.get("threat_intel"),
        Some(&(expected.len() as u64))
    );
    let written = std::fs::read_to_string(&out).unwrap();
    let actors: BTreeSet<IpAddr> = written
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["apitap"]["actor"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(actors, expected.keys().copied().collect());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The example lists in fixtures/intel load without a rejected line.
#[test]
fn the_fixture_lists_load_cleanly() {
    let root = apitap_tests::workspace_root().join("fixtures/intel");
    let c = apitap_analyzer::config::ThreatIntelConfig {
        lists: vec![
            list("scanners", root.join("scanners.txt"), ListFormat::Plain),
            list("feed", root.join("feed.csv"), ListFormat::Csv),
            list("drop", root.join("drop.txt"), ListFormat::Drop),
        ],
        ..Default::default()
    };
    let (ti, _) = apitap_analyzer::intel::ThreatIntel::load(&c).unwrap();
    let s = ti.stats();
    assert_eq!((s.entries_loaded, s.lines_rejected), (10, 0));
    let set = ti.snapshot();
    let m = set.lookup("203.0.113.200".parse().unwrap()).unwrap();
    assert_eq!(
        (&*m.list.name, m.net.to_string()),
        ("drop", "203.0.113.128/25".into())
    );
    let m = set.lookup("198.18.201.9".parse().unwrap()).unwrap();
    assert_eq!(&*m.list.name, "scanners");
}
