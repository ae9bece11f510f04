//! Request↔response pairing against tshark over the whole Zeek corpus (143 traces, with or
//! without a Zeek log): every final response tshark pairs with a request must be in
//! apitap's records of the same client connection, on the same URI, with the same status,
//! in the same order. Packet loss is where pairing goes wrong (a lost response head shifts
//! every later answer by one), and many of these traces were captured with loss.
//!
//! The responses where apitap and tshark part are reviewed in
//! `tests/conformance/tshark_pairing.tsv`; the test fails when that set changes, so a
//! regression and a fix both show. The agreement figure is printed.

use apitap_proto::RequestRecord;
use apitap_sensor::config::SensorConfig;
use apitap_sensor::redact::RedactMode;
use apitap_tests::{corpus_dir, replay, tshark, workspace_root};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A client connection: client address and port.
type Client = (String, u16);

/// The path part of a request target as tshark or apitap writes it: an absolute URI loses
/// its scheme and authority.
fn path_of(uri: &str) -> String {
    match uri.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]).to_string(),
        None => uri.to_string(),
    }
}

/// tshark's final responses of a trace, by client connection, in order: (path, status).
fn tshark_responses(trace: &Path) -> BTreeMap<Client, Vec<(String, u16)>> {
    let fields = tshark(
        trace,
        &[
            "-Y",
            "http.response and http.response_for.uri",
            "-T",
            "fields",
            "-E",
            "separator=\t",
            "-E",
            "occurrence=l",
            "-e",
            "ipv6.dst",
            "-e",
            "ip.dst",
            "-e",
            "tcp.dstport",
            "-e",
            "http.response_for.uri",
            "-e",
            "http.response.code",
        ],
    );
    let mut by_client: BTreeMap<Client, Vec<(String, u16)>> = BTreeMap::new();
    for line in fields.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [v6, v4, port, uri, code] = f[..] else {
            continue;
        };
        let (Ok(port), Ok(code)) = (port.parse::<u16>(), code.parse::<u16>()) else {
            continue;
        };
        if code < 200 {
            continue; // apitap keeps interim answers on the exchange they precede
        }
        let addr = if v6.is_empty() { v4 } else { v6 };
        by_client
            .entry((addr.to_string(), port))
            .or_default()
            .push((path_of(uri), code));
    }
    by_client
}

/// apitap's answered exchanges by client connection, in record order: (path, status).
fn apitap_responses(records: &[RequestRecord]) -> BTreeMap<Client, Vec<(String, u16)>> {
    let mut by_client: BTreeMap<Client, Vec<(String, u16)>> = BTreeMap::new();
    for r in records {
        if let Some(resp) = &r.http.response {
            by_client
                .entry((r.source.ip.to_string(), r.source.port))
                .or_default()
                .push((path_of(&r.url.original), resp.status_code));
        }
    }
    by_client
}

/// One response tshark pairs and apitap does not: trace, client, path, tshark's status.
type Parted = (String, String, String, u16);

#[test]
fn pairing_agrees_with_tshark_across_the_corpus() {
    let traces_dir = corpus_dir().join("zeek-http/traces");
    let mut traces: Vec<_> = std::fs::read_dir(&traces_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", traces_dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    traces.sort();
    assert!(traces.len() >= 140, "corpus incomplete: {}", traces.len());
    let (mut total, mut same) = (0usize, 0usize);
    let mut parted: BTreeSet<Parted> = BTreeSet::new();
    for trace in &traces {
        let name = trace.file_name().unwrap().to_string_lossy().to_string();
        let records = replay(
            std::slice::from_ref(trace),
            &SensorConfig::default(),
            RedactMode::None,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ours = apitap_responses(&records);
        for (client, theirs) in tshark_responses(trace) {
            let mine = ours.get(&client).map(Vec::as_slice).unwrap_or_default();
            // In order: each of tshark's answers is looked for after the last one found.
            let mut from = 0;
            for (path, code) in theirs {
                total += 1;
                match mine[from..].iter().position(|m| *m == (path.clone(), code)) {
                    Some(i) => {
                        same += 1;
                        from += i + 1;
                    }
                    None => {
                        let who = format!("{}:{}", client.0, client.1);
                        parted.insert((name.clone(), who, path, code));
                    }
                }
            }
        }
    }
    let reviewed_path = workspace_root().join("tests/conformance/tshark_pairing.tsv");
    let reviewed: BTreeSet<Parted> = std::fs::read_to_string(&reviewed_path)
        .unwrap_or_else(|e| panic!("{}: {e}", reviewed_path.display()))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 5, "bad line in tshark_pairing.tsv: {l}");
            let code = f[3].parse().expect("status in column 4");
            (f[0].into(), f[1].into(), f[2].into(), code)
        })
        .collect();
    println!(
        "{same} of {total} final responses tshark pairs with a request are paired the same way \
         by apitap ({:.1} %)",
        100.0 * same as f64 / total as f64
    );
    let new: Vec<_> = parted.difference(&reviewed).collect();
    let gone: Vec<_> = reviewed.difference(&parted).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "pairing against tshark changed; update tests/conformance/tshark_pairing.tsv after \
         review.\nnewly parted: {new:#?}\nno longer parted: {gone:#?}"
    );
}

/// The corpus's 1000 keep-alive requests whose first response head was dropped in capture:
/// one answer is lost, the other 999 pair with their requests.
#[test]
fn one_dropped_response_head_loses_one_answer() {
    let trace = corpus_dir().join("zeek-http/traces/http__1000-requests-one-dropped-response.pcap");
    let rs = replay(&[trace], &SensorConfig::default(), RedactMode::None).unwrap();
    assert_eq!(rs.len(), 1000);
    let answered: Vec<_> = rs
        .iter()
        .filter_map(|r| r.http.response.as_ref())
        .map(|resp| (resp.status_code, resp.body.bytes))
        .collect();
    assert_eq!(answered, vec![(200, 615); 999]);
    let lost: Vec<u32> = rs
        .iter()
        .filter(|r| r.http.response.is_none())
        .inspect(|r| assert!(r.apitap.anomalies.iter().any(|a| a == "http_content_gap")))
        .map(|r| r.apitap.trans_depth)
        .collect();
    assert_eq!(lost, [1]);
    assert!(rs.iter().all(|r| !r
        .apitap
        .anomalies
        .iter()
        .any(|a| a == "http_too_many_pending_requests")));
}
