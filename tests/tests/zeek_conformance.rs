//! Conformance against the Zeek HTTP corpus: every trace replays without error, and each
//! transaction Zeek logged is compared with apitap's record on method, host, uri,
//! status_code, request_body_len and response_body_len.
//!
//! The agreement figure and every remaining difference are written to
//! `target/conformance-report.md`; the set of differences must equal the reviewed list in
//! `tests/conformance/differences.tsv` (so a regression and an improvement both show up),
//! and agreement must not fall below the reviewed figure (`MIN_AGREEMENT`). The issue's
//! target is 95 %; the reviewed differences explain why apitap stops short of it.

use apitap_proto::RequestRecord;
use apitap_sensor::config::SensorConfig;
use apitap_sensor::redact::RedactMode;
use apitap_tests::{corpus_dir, replay, tshark, workspace_root};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The agreement reached with every remaining difference reviewed (173 of 197).
const MIN_AGREEMENT: f64 = 87.8;

const FIELDS: [&str; 6] = [
    "method",
    "host",
    "uri",
    "status_code",
    "request_body_len",
    "response_body_len",
];

/// Zeek's percent-decoding of a URI: `%XX` becomes the byte; a bad escape stays as is.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Zeek's ASCII-log escaping: backslash doubled, control bytes and invalid UTF-8 as `\xHH`.
fn zeek_escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// apitap's record in Zeek's terms.
fn as_zeek(r: &RequestRecord) -> BTreeMap<&'static str, Value> {
    let mut m = BTreeMap::new();
    let method = &r.http.request.method;
    m.insert(
        "method",
        if method.is_empty() {
            Value::Null
        } else {
            Value::from(method.clone())
        },
    );
    let host = r.url.domain.as_ref().map(|d| match r.url.port {
        Some(p) => format!("{d}:{p}"),
        None => d.clone(),
    });
    m.insert("host", host.map_or(Value::Null, Value::from));
    m.insert(
        "uri",
        if method.is_empty() {
            Value::Null
        } else {
            Value::from(zeek_escape(&percent_decode(&r.url.original)))
        },
    );
    m.insert(
        "status_code",
        r.http
            .response
            .as_ref()
            .map_or(Value::Null, |s| Value::from(s.status_code)),
    );
    m.insert(
        "request_body_len",
        Value::from(r.apitap.request.decoded_body_bytes),
    );
    m.insert(
        "response_body_len",
        Value::from(
            r.apitap
                .response
                .as_ref()
                .map_or(0, |s| s.decoded_body_bytes),
        ),
    );
    m
}

fn same(field: &str, expected: &Value, got: &Value) -> bool {
    match (expected, got) {
        (Value::Null, Value::Null) => true,
        // Zeek leaves the lengths unset where apitap counts zero.
        (Value::Null, Value::Number(n)) if field.ends_with("_len") => n.as_u64() == Some(0),
        (e, g) => e == g,
    }
}

#[test]
fn zeek_http_corpus() {
    let dir = corpus_dir().join("zeek-http");
    assert!(
        dir.join("MANIFEST.tsv").exists(),
        "corpus not found at {}",
        dir.display()
    );
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let cfg = SensorConfig::default();
    let (mut total, mut agree) = (0usize, 0usize);
    let mut differences: BTreeSet<String> = BTreeSet::new();
    let mut report = String::new();
    let mut replay_errors = Vec::new();
    for line in manifest.lines().skip(1) {
        let name = line.split('\t').next().unwrap_or_default();
        let trace = dir.join("traces").join(name);
        let records = match replay(std::slice::from_ref(&trace), &cfg, RedactMode::None) {
            Ok(r) => r,
            Err(e) => {
                replay_errors.push(format!("{name}: {e:#}"));
                continue;
            }
        };
        let stem = name.trim_end_matches(".pcapng").trim_end_matches(".pcap");
        let expected_path = dir.join("expected").join(format!("{stem}.http.jsonl"));
        let Ok(expected_text) = std::fs::read_to_string(&expected_path) else {
            continue;
        };
        let expected: Vec<Value> = expected_text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        // Columns this baseline really has (some are zeek-cut subsets).
        let present: BTreeSet<&str> = FIELDS
            .iter()
            .copied()
            .chain(["id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"])
            .filter(|f| expected.iter().any(|e| !e[*f].is_null()))
            .collect();
        let ours: Vec<(BTreeMap<&str, Value>, &RequestRecord)> =
            records.iter().map(|r| (as_zeek(r), r)).collect();
        let has_depth = expected.iter().any(|e| !e["trans_depth"].is_null());
        let mut used = vec![false; ours.len()];
        for e in &expected {
            total += 1;
            let depth = e["trans_depth"].as_u64().unwrap_or(0);
            let matches_conn = |z: &BTreeMap<&str, Value>, r: &RequestRecord| {
                (!present.contains("id.orig_h")
                    || e["id.orig_h"].as_str() == Some(r.source.ip.to_string().as_str()))
                    && (!present.contains("id.orig_p")
                        || e["id.orig_p"].as_u64() == Some(u64::from(r.source.port)))
                    && (!present.contains("id.resp_h")
                        || e["id.resp_h"].as_str() == Some(r.destination.ip.to_string().as_str()))
                    && (!present.contains("id.resp_p")
                        || e["id.resp_p"].as_u64() == Some(u64::from(r.destination.port)))
                    && if has_depth {
                        u64::from(r.apitap.trans_depth) == depth
                    } else {
                        // Subset baselines without trans_depth: pair by what they do have.
                        ["method", "uri"]
                            .iter()
                            .all(|f| e[*f].is_null() || e[*f] == z[f])
                    }
            };
            let key = format!(
                "{stem}\t{}:{}->{}:{}#{}",
                e["id.orig_h"].as_str().unwrap_or("?"),
                e["id.orig_p"].as_u64().unwrap_or(0),
                e["id.resp_h"].as_str().unwrap_or("?"),
                e["id.resp_p"].as_u64().unwrap_or(0),
                if has_depth {
                    depth.to_string()
                } else {
                    e["uri"].as_str().unwrap_or("-").to_string()
                }
            );
            let found = ours
                .iter()
                .enumerate()
                .position(|(i, (z, r))| !used[i] && matches_conn(z, r));
            let Some(i) = found else {
                differences.insert(format!("{key}\tmissing"));
                let _ = writeln!(report, "- `{key}` missing: expected {}", compact(e));
                continue;
            };
            used[i] = true;
            let z = &ours[i].0;
            let mut bad = Vec::new();
            for f in FIELDS.iter().filter(|f| present.contains(**f)) {
                if !same(f, &e[*f], &z[f]) {
                    bad.push(format!("{f}: zeek={} apitap={}", e[*f], z[f]));
                }
            }
            if bad.is_empty() {
                agree += 1;
            } else {
                differences.insert(format!(
                    "{key}\t{}",
                    bad.iter()
                        .map(|b| b.split(':').next().unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join(",")
                ));
                let _ = writeln!(report, "- `{key}` {}", bad.join("; "));
            }
        }
    }
    let pct = 100.0 * agree as f64 / total.max(1) as f64;
    let head = format!(
        "Zeek HTTP corpus: {agree} of {total} transactions agree on every field ({pct:.1} %)\n\n"
    );
    let full = format!("{head}{report}");
    let target = workspace_root().join("target");
    let _ = std::fs::create_dir_all(&target);
    let _ = std::fs::write(target.join("conformance-report.md"), &full);
    println!("{full}");
    assert!(
        replay_errors.is_empty(),
        "traces that failed to replay: {replay_errors:#?}"
    );

    let reviewed_path = workspace_root().join("tests/conformance/differences.tsv");
    let reviewed: BTreeSet<String> = std::fs::read_to_string(&reviewed_path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.splitn(4, '\t').take(3).collect::<Vec<_>>().join("\t"))
        .collect();
    let new: Vec<_> = differences.difference(&reviewed).collect();
    let fixed: Vec<_> = reviewed.difference(&differences).collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "differences changed (update tests/conformance/differences.tsv after review)\nnew: {new:#?}\nno longer differing: {fixed:#?}"
    );
    assert!(
        pct >= MIN_AGREEMENT,
        "agreement {pct:.1} % is below {MIN_AGREEMENT} %"
    );
}

fn compact(v: &Value) -> String {
    FIELDS
        .iter()
        .map(|f| format!("{f}={}", v[*f]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs tshark on a trace: the values of `field` in packets matching `filter`, one per line.
fn tshark_values(trace: &std::path::Path, filter: &str, field: &str) -> Vec<String> {
    tshark(trace, &["-Y", filter, "-T", "fields", "-e", field])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Each argued difference in `second_opinion.tsv` is checked against tshark: the field as
/// apitap records it must equal tshark's dissection of the same transaction.
#[test]
fn tshark_second_opinion() {
    let dir = corpus_dir().join("zeek-http");
    let rows_path = workspace_root().join("tests/conformance/second_opinion.tsv");
    let rows = std::fs::read_to_string(&rows_path).unwrap();
    let cfg = SensorConfig::default();
    let mut checked = 0;
    let mut records_by_trace: BTreeMap<String, Vec<RequestRecord>> = BTreeMap::new();
    for line in rows
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let c: Vec<&str> = line.split('\t').collect();
        assert_eq!(c.len(), 7, "bad row: {line}");
        let (trace, port, depth, field, filter, tfield, nth) = (
            c[0],
            c[1].parse::<u16>().unwrap(),
            c[2].parse::<u32>().unwrap(),
            c[3],
            c[4],
            c[5],
            c[6].parse::<usize>().unwrap(),
        );
        let path = dir.join("traces").join(format!("{trace}.pcap"));
        let records = records_by_trace
            .entry(trace.to_string())
            .or_insert_with(|| {
                replay(std::slice::from_ref(&path), &cfg, RedactMode::None).unwrap()
            });
        if field == "client_payload_bytes" {
            // Every byte the client sent on the connection (tshark's TCP payload lengths,
            // summed) is in apitap's requests on it: no bytes are left for another one.
            let ours: u64 = records
                .iter()
                .filter(|r| r.source.port == port)
                .map(|r| r.http.request.bytes)
                .sum();
            let theirs: u64 = tshark_values(&path, filter, tfield)
                .iter()
                .map(|v| v.parse::<u64>().unwrap_or(0))
                .sum();
            assert_eq!(
                ours, theirs,
                "{trace} :{port} client bytes: apitap requests={ours} tshark TCP payload={theirs}"
            );
            checked += 1;
            continue;
        }
        if field == "server_payload_bytes" {
            // Every byte the server sent on the connection is in apitap's responses on it, so
            // a body apitap ends where the connection closes has no byte more than it counts.
            let ours: u64 = records
                .iter()
                .filter(|r| r.source.port == port)
                .filter_map(|r| r.http.response.as_ref().map(|resp| resp.bytes))
                .sum();
            let theirs: u64 = tshark_values(&path, filter, tfield)
                .iter()
                .map(|v| v.parse::<u64>().unwrap_or(0))
                .sum();
            assert!(theirs > 0, "{trace} :{port}: tshark saw no server payload");
            assert_eq!(
                ours, theirs,
                "{trace} :{port} server bytes: apitap responses={ours} tshark TCP payload={theirs}"
            );
            checked += 1;
            continue;
        }
        let r = records
            .iter()
            .find(|r| r.source.port == port && r.apitap.trans_depth == depth)
            .unwrap_or_else(|| panic!("apitap has no record {trace} :{port} #{depth}"));
        let ours = as_zeek(r)[field].to_string();
        let theirs = tshark_values(&path, filter, tfield);
        let theirs = theirs.get(nth - 1).map(String::as_str).unwrap_or("<none>");
        assert_eq!(
            ours, theirs,
            "{trace} :{port} #{depth} {field}: apitap={ours} tshark={theirs}"
        );
        checked += 1;
    }
    println!("{checked} argued differences agree with tshark");
    assert!(
        checked >= 20,
        "second-opinion table shrank to {checked} rows"
    );
}
