//! Baseline learning: mixes, volumes, fingerprints, warm-up, snapshot round trips and the
//! merge/split of per-worker parts.

use super::*;
use crate::test_support::{rec_with, S, T0};

/// The endpoint key learning uses for `host METHOD /template`.
fn key(name: &str) -> u64 {
    endpoint_key_of_name(name)
}

/// The keys of a record on endpoint `name` (its identity hashed by learning).
fn keys(name: &str) -> Keys {
    Keys {
        host_endpoint: key(name),
        identity: None,
    }
}

/// Learns `r` as a request to `GET /x` on host `h`.
fn learn_on_x(b: &mut Baselines, ip: &mut ActorBaseline, r: &RequestRecord) {
    b.learn(&Features::of(r), r, ip, "h", "GET /x", keys("h GET /x"));
}

fn baselines(warmup_secs: u64) -> Baselines {
    let cfg = BaselineConfig {
        warmup_secs,
        ..Default::default()
    };
    Baselines::new(cfg, 1000, 3600 * S, 300 * S)
}

#[test]
fn learns_mix_volume_and_warms_up_on_packet_time() {
    let mut b = baselines(600);
    let mut ip = ActorBaseline::default();
    for i in 0..1200u64 {
        let (status, id) = if i % 10 == 0 {
            (401, None)
        } else {
            (200, Some("k1:a"))
        };
        let r = rec_with(
            T0 + i * S,
            "198.18.0.1",
            "/api/v1/users/1",
            status,
            1000,
            id,
        );
        let f = Features::of(&r);
        let seen = b.learn(
            &f,
            &r,
            &mut ip,
            "api.test",
            "GET /api/v1/users/{id}",
            keys("api.test GET /api/v1/users/{id}"),
        );
        assert_eq!(seen.warm, i >= 600, "{i}");
    }
    let e = b.endpoints.iter().next().unwrap().2;
    assert_eq!(&*e.name, "api.test GET /api/v1/users/{id}");
    assert!((e.mix.credential_share() - 0.9).abs() < 0.01);
    assert!((e.mix.auth_failure_ratio() - 0.1).abs() < 0.01);
    assert!((ip.mix.class_share(2) - 0.9).abs() < 0.01);
    // 60 requests a minute of 1000 bytes (the 401s too).
    assert!(
        (f64::from(ip.volume.active_mean) - 60_000.0).abs() < 2_000.0,
        "{}",
        ip.volume.active_mean
    );
    assert!((ip.rate.expected_per_minute(T0 + 1200 * S) - 60.0).abs() < 5.0);
    let p50 = e.sizes.quantile(0.5);
    assert!((1000.0..=1250.0).contains(&p50), "{p50}");
    assert_eq!(b.stats().identities, 1);
}

#[test]
fn a_long_idle_gap_is_not_learned_time() {
    let mut b = baselines(600);
    let mut ip = ActorBaseline::default();
    for ts in [T0, T0 + 10 * S, T0 + 10 * 3600 * S] {
        let r = rec_with(ts, "198.18.0.1", "/x", 200, 10, None);
        learn_on_x(&mut b, &mut ip, &r);
    }
    assert_eq!(b.stats().learned_secs, 310);
    assert!(!b.warm());
}

#[test]
fn fingerprint_changes_are_counted() {
    let mut fp = Fingerprints::default();
    assert!(!fp.see(7));
    assert!(!fp.see(7));
    assert!(fp.see(8));
    assert!(!fp.see(7));
    assert_eq!(fp.changes, 1);
    let mut r = rec_with(T0, "198.18.0.1", "/x", 200, 10, None);
    let a = fingerprint(&r);
    r.extras.request_headers = [("host", "x"), ("accept", "*/*")].into_iter().collect();
    let b = fingerprint(&r);
    r.extras.request_headers = r.extras.request_headers.iter().rev().collect();
    assert!(a != b && b != fingerprint(&r));
}

#[test]
fn merged_parts_split_back_to_the_same_totals() {
    let mut parts = Vec::new();
    for w in 0..2u64 {
        let mut b = baselines(0);
        let mut ip = ActorBaseline::default();
        for i in 0..600u64 {
            let r = rec_with(T0 + i * S, "198.18.0.1", "/x", 200, 100 * (w + 1), None);
            learn_on_x(&mut b, &mut ip, &r);
        }
        parts.push(b.export());
    }
    let whole = snapshot::Snapshot::merge(parts.clone());
    assert_eq!(whole.endpoints.len(), 1);
    assert_eq!(whole.global.mix.requests, 1200.0);
    let e = &whole.endpoints[0].baseline;
    assert!(
        (f64::from(e.volume.active_mean) - 18_000.0).abs() < 1_000.0,
        "{}",
        e.volume.active_mean
    );
    let half = whole.part_for(2, |_| true);
    assert_eq!(half.global.mix.requests, 600.0);
    assert!(whole.global.is_valid() && half.global.is_valid());
}

/// Benign population for `mins` minutes, an unauthenticated reader from minute 20 to the
/// end, and a key pulling large pages from minute 30.
fn capture(mins: u64) -> Vec<apitap_proto::RequestRecord> {
    let mut v = Vec::new();
    for t in 0..mins * 3 {
        for c in 0..100u64 {
            let ip = format!("198.18.0.{}", c + 1);
            let ts = T0 + t * 20 * S + c * 1000;
            v.push(rec_with(
                ts,
                &ip,
                "/api/v1/users/7",
                200,
                2000,
                Some("k1:user"),
            ));
        }
        if t >= 60 {
            let ip = "203.0.113.9";
            v.push(rec_with(
                T0 + t * 20 * S + 500_000,
                ip,
                "/api/v1/users/8",
                200,
                2000,
                None,
            ));
        }
        if t >= 90 {
            for k in 0..10 {
                let ts = T0 + t * 20 * S + 600_000 + k * 1000;
                v.push(rec_with(
                    ts,
                    "203.0.113.50",
                    "/api/v2/orders",
                    200,
                    300_000,
                    Some("k1:key"),
                ));
            }
        }
    }
    v.sort_by_key(|r| r.timestamp);
    v
}

fn analyzer() -> crate::Analyzer {
    let mut c = crate::config::AnalyzerConfig::default();
    c.baseline.warmup_secs = 900;
    crate::Analyzer::new(c).unwrap()
}

#[test]
fn a_restart_from_a_snapshot_neither_forgets_nor_re_alerts() {
    let recs = capture(45);
    let mut continuous = analyzer();
    let mut want = Vec::new();
    for r in &recs {
        continuous.observe(r, &mut want);
    }
    let cats: std::collections::BTreeSet<_> = want.iter().map(|a| a.apitap.category).collect();
    assert!(
        cats.contains(&apitap_proto::Category::UnauthenticatedAccess)
            && cats.contains(&apitap_proto::Category::DataExfiltration),
        "{want:#?}"
    );

    // Stop at minute 25 (after the unauthenticated reader's alert), save, load, go on.
    let split = recs.partition_point(|r| r.timestamp < T0 + 25 * 60 * S);
    let mut first = analyzer();
    let mut got = Vec::new();
    for r in &recs[..split] {
        first.observe(r, &mut got);
    }
    let mut file = Vec::new();
    first.snapshot().write_to(&mut file).unwrap();
    let loaded = snapshot::Snapshot::read_from(&file[..]).unwrap();
    assert_eq!(loaded, first.snapshot());
    let mut second = analyzer();
    second.restore(loaded);
    assert!(second.stats().baseline.warm, "no second warm-up");
    assert_eq!(second.stats().baseline.snapshots_loaded, 1);
    for r in &recs[split..] {
        second.observe(r, &mut got);
    }
    let json = |v: &Vec<apitap_proto::Alert>| serde_json::to_string_pretty(v).unwrap();
    assert_eq!(json(&got), json(&want));
}

#[test]
fn without_a_snapshot_a_restart_warms_up_again_and_forgets() {
    let recs = capture(45);
    let split = recs.partition_point(|r| r.timestamp < T0 + 25 * 60 * S);
    let mut fresh = analyzer();
    let mut got = Vec::new();
    for r in &recs[split..] {
        fresh.observe(r, &mut got);
    }
    // 20 minutes left: not warm until minute 40, so the exfiltration at 30 is missed.
    assert!(!got.iter().any(
        |a| a.apitap.category == apitap_proto::Category::DataExfiltration
            && a.timestamp < T0 + 40 * 60 * S
    ));
}

#[test]
fn a_loaded_endpoint_is_keyed_as_learning_keys_it() {
    // The analyzer keys an endpoint by its templater's host-and-template hash and the method;
    // a snapshot only has the name, so loading must rebuild the same key (empty host too).
    for (host, method, template) in [("api.test", "GET", "/users/{id}"), ("", "POST", "/")] {
        let learned =
            crate::template::endpoint_key(crate::hashing::hash64(&(host, template)), method);
        assert_eq!(key(&format!("{host} {method} {template}")), learned);
    }
}
