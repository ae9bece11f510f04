//! The `apitap-gen` binary: same arguments give byte-identical pcap and labels files, another
//! seed gives other bytes, and bad input is refused with a message.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(tag: &str, seed: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (pcap, labels) = (
        dir.join(format!("cli-{tag}.pcap")),
        dir.join(format!("cli-{tag}.json")),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_apitap-gen"))
        .arg("--scenario")
        .arg(root().join("fixtures/scenarios/benign-small.toml"))
        .arg("--out")
        .arg(&pcap)
        .arg("--labels")
        .arg(&labels)
        .args(["--seed", seed, "--quiet"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (std::fs::read(pcap).unwrap(), std::fs::read(labels).unwrap())
}

#[test]
fn same_arguments_same_files() {
    let a = run("a", "42");
    let b = run("b", "42");
    assert!(a.0 == b.0, "pcaps differ");
    assert!(a.1 == b.1, "labels differ");
    assert!(a.0.len() > 100_000);
    let c = run("c", "43");
    assert!(a.0 != c.0 && a.1 != c.1);
    let v: serde_json::Value = serde_json::from_slice(&a.1).unwrap();
    assert_eq!(v["seed"], 42);
}

#[test]
fn a_bad_scenario_is_refused_with_its_reason() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bad = dir.join("cli-bad.toml");
    std::fs::write(&bad, "duration = \"1m\"\n[benign]\nclients = 5\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_apitap-gen"))
        .arg("--scenario")
        .arg(&bad)
        .arg("--out")
        .arg(dir.join("cli-bad.pcap"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("benign.clients must be"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        &bad,
        "duration = \"1m\"\n[[actor]]\nname = \"x\"\ncategory = \"threat_intel\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_apitap-gen"))
        .arg("--scenario")
        .arg(&bad)
        .arg("--out")
        .arg(dir.join("cli-bad.pcap"))
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "threat_intel is not something traffic shows"
    );
}
