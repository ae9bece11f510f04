//! No alerts on benign traffic: one simulated hour, 1,000 clients (logins with typos, 401s
//! without credentials, 404s, paging, JSON bodies, gzip and chunked answers) from
//! gen_bench_pcap, replayed through the sensor and one analyzer.

use apitap_sensor::config::SensorConfig;
use std::process::Command;

#[test]
fn an_hour_of_benign_traffic_from_1000_clients_raises_no_alert() {
    let dir = std::env::temp_dir().join(format!("apitap-benign-hour-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("benign-hour.pcap");
    let st = Command::new(env!("CARGO_BIN_EXE_gen_bench_pcap"))
        .args([
            "--clients",
            "1000",
            "--exchanges",
            "40000",
            "--duration-secs",
            "3600",
            "--seed",
            "7",
        ])
        .arg("-o")
        .arg(&pcap)
        .status()
        .unwrap();
    assert!(st.success());
    let (records, alerts) =
        apitap_tests::analyze(std::slice::from_ref(&pcap), &SensorConfig::default()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let span = records.last().unwrap().timestamp - records.first().unwrap().timestamp;
    let clients: std::collections::BTreeSet<_> = records.iter().map(|r| r.source.ip).collect();
    println!(
        "{} records, {} clients, {:.0} s, {} alerts",
        records.len(),
        clients.len(),
        span as f64 / 1e9,
        alerts.len()
    );
    assert_eq!(records.len(), 40_000);
    assert!(clients.len() >= 1000, "{} clients", clients.len());
    assert!(span >= 3_600_000_000_000, "{span} ns");
    let failed_logins = records
        .iter()
        .filter(|r| {
            r.url.path.contains("login")
                && r.http
                    .response
                    .as_ref()
                    .is_some_and(|s| s.status_code == 401)
        })
        .count();
    assert!(
        failed_logins > 100,
        "the benign traffic has login typos: {failed_logins}"
    );
    assert!(alerts.is_empty(), "{:#?}", &alerts[..alerts.len().min(3)]);
}
