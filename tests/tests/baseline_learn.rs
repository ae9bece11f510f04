//! `apitap learn` end to end: baselines learned from a history capture are written as a
//! snapshot, and a replay of the next capture with `--baseline` judges from them at once (no
//! warm-up): the stolen key pulling data and the unauthenticated reader are alerted, while
//! the same replay without the snapshot (still warming up) cannot. A snapshot of another
//! version is refused, counted, and the run goes on from scratch.

use apitap_gen::scenario::Scenario;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `apitap` into the target directory this test was built into and returns its path.
fn apitap_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "-q",
            "-p",
            "apitap-sensor",
            "--bin",
            "apitap",
            "--target-dir",
        ])
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    assert!(cmd.status().unwrap().success(), "building apitap failed");
    profile_dir.join("apitap")
}

const BENIGN: &str = r#"
seed = 5
[network]
servers = 1
[benign]
clients = 150
sessions_per_client_per_hour = 8.0
think_median = "2s"
requests_per_session = 8
health_checkers = 1
uptime_monitors = 1
crawlers = 0
"#;

fn scenario(start: &str, duration: &str, actors: &str) -> Scenario {
    let text = format!(
        "description = \"baseline e2e\"\nstart = \"{start}\"\nduration = \"{duration}\"\n{BENIGN}\n{actors}"
    );
    Scenario::from_toml(&text).unwrap()
}

const ATTACKS: &str = r#"
[[actor]]
name = "exfil-key"
category = "data_exfiltration"
start = "1m"
duration = "6m"
rate = 2.0
requests_per_connection = 30

[[actor]]
name = "no-auth"
category = "unauthenticated_access"
start = "1m"
duration = "4m"
rate = 0.5
success_rate = 0.8
"#;

fn write(sc: &Scenario, path: &Path) -> apitap_gen::labels::Labels {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    apitap_gen::generate(sc, 5, f).unwrap().0
}

fn run(bin: &Path, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = Command::new(bin).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "apitap {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::Value::Null
}

fn alerts(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn learn_then_replay_judges_without_warm_up() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("baseline-learn");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let history = dir.join("history.pcap");
    let today = dir.join("today.pcap");
    // Sessions run on past a scenario's end: the next capture starts well after.
    write(&scenario("2025-01-15T12:00:00Z", "45m", ""), &history);
    let labels = write(&scenario("2025-01-15T13:00:00Z", "10m", ATTACKS), &today);
    let bin = apitap_binary();
    let key = dir.join("key");
    let snap = dir.join("baseline.json");
    let os = |s: &str| std::ffi::OsString::from(s);

    // Learn.
    let learn_summary = dir.join("learn.json");
    run(
        &bin,
        &[
            &os("learn"),
            history.as_os_str(),
            &os("--baseline"),
            snap.as_os_str(),
            &os("--key-file"),
            key.as_os_str(),
            &os("--summary-json"),
            learn_summary.as_os_str(),
            &os("--no-progress"),
            &os("-q"),
        ],
    );
    let text = std::fs::read_to_string(&snap).unwrap();
    assert!(text.starts_with(r#"{"format":"apitap-baseline","version":1}"#));
    let s = summary(&learn_summary);
    let a = &s["analysis"];
    assert!(a["baseline_learned_secs"].as_u64().unwrap() >= 2600, "{a}");
    assert_eq!(a["baseline_warm"], true);
    assert_eq!(a["alerts_emitted"], 0, "learning never alerts");
    // Every 5 minutes of packet time, and at the end.
    assert!(
        a["baseline_snapshots_written"].as_u64().unwrap() >= 9,
        "{a}"
    );
    assert_eq!(a["baseline_snapshot_write_errors"], 0);

    // Replay the next capture from the snapshot (a copy: replay keeps it learning).
    let from = dir.join("baseline-copy.json");
    std::fs::copy(&snap, &from).unwrap();
    let with = dir.join("alerts-with.jsonl");
    let with_summary = dir.join("with.json");
    let replay = |baseline: Option<&Path>, out: &Path, sum: &Path| {
        let mut args = vec![
            os("replay"),
            today.clone().into_os_string(),
            os("--alerts"),
            out.as_os_str().to_owned(),
            os("--key-file"),
            key.clone().into_os_string(),
            os("--summary-json"),
            sum.as_os_str().to_owned(),
            os("--no-progress"),
            os("-q"),
        ];
        if let Some(b) = baseline {
            args.push(os("--baseline"));
            args.push(b.as_os_str().to_owned());
        }
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        run(&bin, &refs);
    };
    replay(Some(&from), &with, &with_summary);
    let got = alerts(&with);
    let s = summary(&with_summary);
    assert_eq!(s["analysis"]["baseline_snapshots_loaded"], 1);
    let ips_of = |name: &str| -> Vec<String> {
        labels
            .actors
            .iter()
            .find(|a| a.name == name)
            .unwrap()
            .source_ips
            .iter()
            .map(|ip| ip.to_string())
            .collect()
    };
    let first_alert = |category: &str, ips: &[String]| {
        got.iter()
            .find(|a| {
                a["apitap"]["category"] == category
                    && ips.contains(&a["source"]["ip"].as_str().unwrap().to_string())
            })
            .cloned()
    };
    let exfil = first_alert("data_exfiltration", &ips_of("exfil-key"))
        .unwrap_or_else(|| panic!("no exfiltration alert: {got:#?}"));
    let unauth = first_alert("unauthenticated_access", &ips_of("no-auth"))
        .unwrap_or_else(|| panic!("no unauthenticated_access alert: {got:#?}"));
    for a in [&exfil, &unauth] {
        assert!(!a["apitap"]["evidence"]["observed"]
            .as_array()
            .unwrap()
            .is_empty());
        println!(
            "{}: {} after {} requests",
            a["apitap"]["category"], a["apitap"]["evidence"]["summary"], a["apitap"]["count"]
        );
    }
    // Found fast: within the actor's first few minutes of requests.
    assert!(unauth["apitap"]["count"].as_u64().unwrap() <= 5);
    assert!(exfil["apitap"]["count"].as_u64().unwrap() <= 400);
    // Only the attackers are alerted by the baseline detectors.
    let attackers: Vec<String> = ips_of("exfil-key")
        .into_iter()
        .chain(ips_of("no-auth"))
        .collect();
    for a in &got {
        let cat = a["apitap"]["category"].as_str().unwrap();
        if cat == "data_exfiltration" || cat == "unauthenticated_access" {
            assert!(
                attackers.contains(&a["source"]["ip"].as_str().unwrap().to_string()),
                "{a:#}"
            );
        }
    }

    // Without the snapshot the baselines are still warming up: nothing to judge from.
    let without = dir.join("alerts-without.jsonl");
    replay(None, &without, &dir.join("without.json"));
    assert!(!alerts(&without).iter().any(|a| {
        let c = &a["apitap"]["category"];
        c == "data_exfiltration" || c == "unauthenticated_access"
    }));

    // A snapshot of another version is refused and counted; the run goes on.
    let other = dir.join("other-version.json");
    std::fs::write(&other, text.replacen("\"version\":1", "\"version\":99", 1)).unwrap();
    let sum = dir.join("other.json");
    replay(Some(&other), &dir.join("alerts-other.jsonl"), &sum);
    let s = summary(&sum);
    assert_eq!(s["analysis"]["baseline_snapshots_rejected"], 1);
    assert_eq!(s["analysis"]["baseline_snapshots_loaded"], 0);
    // ... and replaced by a good one at the end.
    assert!(std::fs::read_to_string(&other)
        .unwrap()
        .starts_with(r#"{"format":"apitap-baseline","version":1}"#));
    let _ = std::fs::remove_dir_all(&dir);
}
