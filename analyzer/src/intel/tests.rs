//! Loading, sharing and reloading lists from real files.

use super::*;
use crate::config::IntelListConfig;
use parse::ListFormat;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "apitap-intel-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    /// Writes `name` atomically (temp file + rename, as list updaters should).
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn list(name: &str, path: PathBuf, format: ListFormat, severity: Severity) -> IntelListConfig {
    IntelListConfig {
        name: name.into(),
        path,
        format,
        category: "test".into(),
        severity,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn lists_load_and_the_most_specific_prefix_wins_across_lists() {
    let d = TempDir::new();
    let config = ThreatIntelConfig {
        lists: vec![
            list(
                "spamhaus-drop",
                d.write(
                    "drop.txt",
                    "; DROP\n198.51.0.0/16 ; SBL1\n2001:db8::/32 ; SBL2\n",
                ),
                ListFormat::Drop,
                Severity::High,
            ),
            list(
                "scanners",
                d.write(
                    "scan.txt",
                    "198.51.100.7 # a scanner\n198.51.0.0/16\nbad line\n",
                ),
                ListFormat::Plain,
                Severity::Medium,
            ),
            list(
                "feed",
                d.write("feed.csv", "ip,threat\n203.0.113.0/24,botnet\n"),
                ListFormat::Csv,
                Severity::Critical,
            ),
        ],
        ..Default::default()
    };
    let (ti, events) = ThreatIntel::load(&config).unwrap();
    let bad: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            IntelEvent::BadLine { list, bad, .. } => Some((list.as_str(), bad.line)),
            _ => None,
        })
        .collect();
    assert_eq!(bad, [("scanners", 3)]);
    let set = ti.snapshot();
    assert_eq!(set.entries(), 5);
    let m = set.lookup(ip("198.51.100.7")).unwrap();
    assert_eq!(
        (&*m.list.name, m.net.to_string()),
        ("scanners", "198.51.100.7/32".into())
    );
    // Same /16 in two lists: the list configured first.
    let m = set.lookup(ip("198.51.3.3")).unwrap();
    assert_eq!(&*m.list.name, "spamhaus-drop");
    assert_eq!(m.reason.map(|r| &**r), Some("SBL1"));
    let m = set.lookup(ip("2001:db8::99")).unwrap();
    assert_eq!(
        (m.net.to_string(), m.reason.map(|r| &**r)),
        ("2001:db8::/32".into(), Some("SBL2"))
    );
    let m = set.lookup(ip("203.0.113.200")).unwrap();
    assert_eq!(
        (&*m.list.name, m.list.severity),
        ("feed", Severity::Critical)
    );
    assert!(set.lookup(ip("192.0.2.1")).is_none());
    let s = ti.stats();
    assert_eq!((s.lists, s.entries_loaded, s.lines_rejected), (3, 5, 1));
    assert_eq!(s.by_list["scanners"].rejected_lines, 1);
}

#[test]
fn unusable_lists_fail_at_start() {
    let d = TempDir::new();
    let missing = ThreatIntelConfig {
        lists: vec![list(
            "x",
            d.0.join("nope.txt"),
            ListFormat::Plain,
            Severity::High,
        )],
        ..Default::default()
    };
    assert!(ThreatIntel::load(&missing)
        .unwrap_err()
        .contains("nope.txt"));
    let html = ThreatIntelConfig {
        lists: vec![list(
            "x",
            d.write("x.txt", "<html>\n<p>429 Too Many Requests</p>\n</html>\n"),
            ListFormat::Plain,
            Severity::High,
        )],
        ..Default::default()
    };
    assert!(ThreatIntel::load(&html).is_err());
    let dup = ThreatIntelConfig {
        lists: vec![
            list(
                "x",
                d.write("a", "1.2.3.4\n"),
                ListFormat::Plain,
                Severity::High,
            ),
            list(
                "x",
                d.write("b", "1.2.3.5\n"),
                ListFormat::Plain,
                Severity::High,
            ),
        ],
        ..Default::default()
    };
    assert!(ThreatIntel::load(&dup).unwrap_err().contains("twice"));
}

#[test]
fn a_changed_file_is_reloaded_and_a_broken_one_keeps_the_old_list() {
    let d = TempDir::new();
    let path = d.write("drop.txt", "; v1\n203.0.113.0/24 ; SBL100\n");
    let other = d.write("other.txt", "192.0.2.9\n");
    let config = ThreatIntelConfig {
        lists: vec![
            list("drop", path.clone(), ListFormat::Drop, Severity::High),
            list("other", other, ListFormat::Plain, Severity::Low),
        ],
        ..Default::default()
    };
    let (ti, _) = ThreatIntel::load(&config).unwrap();
    let mut reader = IntelReader::new(ti.clone());
    assert!(reader.current().lookup(ip("203.0.113.5")).is_some());
    assert!(reader.current().lookup(ip("198.51.100.5")).is_none());

    // Nothing changed: no reload, same generation.
    assert!(ti.check(false).is_empty());
    assert_eq!(ti.generation(), 1);

    // Rewritten: the new contents, seen by the reader without any call on it but a lookup.
    d.write(
        "drop.txt",
        "; v2\n198.51.100.0/24 ; SBL200\n198.51.101.0/24 ; SBL201\n",
    );
    let ev = ti.check(false);
    assert!(
        matches!(&ev[..], [IntelEvent::Loaded { list, entries: 2, generation: 2, .. }] if list == "drop"),
        "{ev:?}"
    );
    let set = reader.current();
    assert_eq!(set.generation, 2);
    assert!(set.lookup(ip("203.0.113.5")).is_none());
    let m = set.lookup(ip("198.51.100.5")).unwrap();
    assert_eq!(m.reason.map(|r| &**r), Some("SBL200"));
    // The other list is untouched.
    assert!(set.lookup(ip("192.0.2.9")).is_some());

    // A broken rewrite (an error page instead of the list): old contents kept, counted once.
    d.write(
        "drop.txt",
        "<html>\n<body>503 Service Unavailable</body>\n</html>\n",
    );
    let ev = ti.check(false);
    assert!(
        matches!(&ev[..], [IntelEvent::ReloadFailed { list, .. }] if list == "drop"),
        "{ev:?}"
    );
    assert!(
        ti.check(false).is_empty(),
        "the same broken file is reported once"
    );
    assert_eq!(ti.generation(), 2);
    assert!(reader.current().lookup(ip("198.51.100.5")).is_some());
    // A truncated (empty) file and a deleted one: the same.
    d.write("drop.txt", "");
    assert!(matches!(
        &ti.check(false)[..],
        [IntelEvent::ReloadFailed { .. }]
    ));
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        &ti.check(false)[..],
        [IntelEvent::ReloadFailed { .. }]
    ));
    assert!(
        ti.check(false).is_empty(),
        "a missing file is reported once"
    );
    assert!(reader.current().lookup(ip("198.51.100.5")).is_some());

    // Fixed again: reloaded.
    d.write("drop.txt", "2001:db8::/32 ; SBL300\n");
    assert_eq!(ti.check(false).len(), 1);
    let set = reader.current();
    assert_eq!(set.generation, 3);
    assert!(set.lookup(ip("198.51.100.5")).is_none());
    assert!(set.lookup(ip("2001:db8::1")).is_some());

    // Forced (SIGHUP): every list re-read even if unchanged.
    assert_eq!(ti.check(true).len(), 2);
    assert_eq!(ti.generation(), 4);

    let s = ti.stats();
    assert_eq!((s.reloads, s.reload_failures, s.generation), (4, 3, 4));
    assert_eq!(s.by_list["drop"].reload_failures, 3);
    assert_eq!(s.by_list["drop"].entries, 1);
}

#[test]
fn workers_see_a_reload_from_another_thread() {
    let d = TempDir::new();
    d.write("l.txt", "10.0.0.0/8\n");
    let config = ThreatIntelConfig {
        lists: vec![list(
            "l",
            d.0.join("l.txt"),
            ListFormat::Plain,
            Severity::High,
        )],
        ..Default::default()
    };
    let (ti, _) = ThreatIntel::load(&config).unwrap();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let mut r = IntelReader::new(ti.clone());
            std::thread::spawn(move || {
                // Spin on lookups until the new list shows (bounded).
                for _ in 0..50_000_000u64 {
                    if r.current().lookup(ip("172.16.0.1")).is_some() {
                        return true;
                    }
                    std::hint::spin_loop();
                }
                false
            })
        })
        .collect();
    d.write("l.txt", "172.16.0.0/12\n10.0.0.0/8\n");
    assert_eq!(ti.check(false).len(), 1);
    for w in workers {
        assert!(w.join().unwrap());
    }
}

/// Lookups per second on a 200,000-prefix list (run with `--ignored --nocapture`, ideally
/// with optimisations).
#[test]
#[ignore]
fn bench_lookups_on_200k_prefixes() {
    // A deterministic pseudo-random stream (xorshift).
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut text = String::new();
    for i in 0..200_000u32 {
        let r = next();
        if i % 10 == 0 {
            let len = 32 + (r % 33) as u8;
            let a = (0x2001_0db8u128 << 96) | (u128::from(r) << 32);
            text.push_str(&format!("{}/{len}\n", std::net::Ipv6Addr::from(a)));
        } else {
            let len = 8 + (r >> 40) % 25;
            text.push_str(&format!("{}/{len}\n", std::net::Ipv4Addr::from(r as u32)));
        }
    }
    let t0 = std::time::Instant::now();
    let parsed = parse::parse(ListFormat::Plain, text.as_bytes());
    assert_eq!(parsed.entries.len(), 200_000);
    let lists = vec![LoadedList {
        config: list("bench", "bench".into(), ListFormat::Plain, Severity::High),
        stamp: None,
        entries: Arc::new(parsed.entries),
        rejected: 0,
        over_limit: 0,
        reload_failures: 0,
        reloads: 0,
    }];
    let set = IntelSet::build(&lists, 1);
    let load = t0.elapsed();
    let probes: Vec<IpAddr> = (0..1_000_000)
        .map(|i| {
            let r = next();
            if i % 10 == 0 {
                IpAddr::V6(std::net::Ipv6Addr::from(
                    (0x2001_0db8u128 << 96) | (u128::from(r) << 32),
                ))
            } else {
                IpAddr::V4(std::net::Ipv4Addr::from(r as u32))
            }
        })
        .collect();
    let t1 = std::time::Instant::now();
    let mut hits = 0u64;
    let rounds = 5;
    for _ in 0..rounds {
        for p in &probes {
            hits += u64::from(std::hint::black_box(set.lookup(*p)).is_some());
        }
    }
    let secs = t1.elapsed().as_secs_f64();
    let n = (probes.len() * rounds) as f64;
    println!(
        "200000 prefixes ({} ranges): parse+build {:.0} ms; {:.1} M lookups/s ({:.0} ns each), {:.1}% hits",
        set.ranges(),
        load.as_secs_f64() * 1e3,
        n / secs / 1e6,
        secs / n * 1e9,
        hits as f64 / n * 100.0
    );
}
