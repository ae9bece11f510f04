//! The bundled demo capture replays to exactly the committed records
//! (`fixtures/demo/expected-records.jsonl`, written with the test key). Any change to
//! decoding, reassembly, HTTP parsing, redaction or the record schema shows up here.
//! After a reviewed, intended change: `APITAP_BLESS=1 cargo test -p apitap-tests --test demo_records`.

use apitap_sensor::config::SensorConfig;
use apitap_sensor::redact::RedactMode;
use apitap_tests::{replay, workspace_root};

#[test]
fn demo_capture_gives_the_expected_records() {
    let root = workspace_root();
    let records = replay(
        &[root.join("fixtures/demo/demo.pcap")],
        &SensorConfig::default(),
        RedactMode::Hash,
    )
    .unwrap();
    let mut got = String::new();
    for r in &records {
        got.push_str(&serde_json::to_string(r).unwrap());
        got.push('\n');
    }
    let expected_path = root.join("fixtures/demo/expected-records.jsonl");
    if std::env::var_os("APITAP_BLESS").is_some() {
        std::fs::write(&expected_path, &got).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    assert_eq!(records.len(), 1500, "one record per generated exchange");
    let (g, e): (Vec<_>, Vec<_>) = (got.lines().collect(), expected.lines().collect());
    assert_eq!(g.len(), e.len());
    for (i, (g, e)) in g.iter().zip(&e).enumerate() {
        assert_eq!(g, e, "record {i} differs");
    }
    // No secret leaves in clear: the generator's bearer tokens start with "eyJ" or "tok_".
    assert!(
        !got.contains("Bearer") && !got.contains("tok_"),
        "a token leaked into records"
    );
}
