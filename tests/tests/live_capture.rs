//! Live capture end to end: runs `tests/live/live_capture.sh`, which captures real HTTP
//! traffic between two network namespaces with `apitap capture` and checks the records.
//!
//! Needs root and `ip netns`; skipped (with a message) otherwise. The binary is taken from
//! `APITAP_BIN`, else built (`cargo build -p apitap-sensor --bin apitap`) into the target
//! directory this test was built into.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Upper bound for the whole script run (it takes about 5 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

fn is_root() -> bool {
    // /proc/self/status: "Uid:\treal\teffective\tsaved\tfs".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn has_ip_netns() -> bool {
    Command::new("ip")
        .args(["netns", "list"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Builds `apitap` into the target directory this test was built into (a no-op when it is
/// up to date, so a stale binary is never tested) and returns its path.
fn build_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // <target>/<profile>/deps/live_capture-<hash>
    let profile_dir = exe.parent()?.parent()?;
    let target_dir = profile_dir.parent()?;
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
    let status = cmd.status().ok()?;
    assert!(
        status.success(),
        "cargo build -p apitap-sensor --bin apitap failed"
    );
    let bin = profile_dir.join("apitap");
    bin.is_file().then_some(bin)
}

#[test]
fn live_capture_between_namespaces() {
    if !is_root() || !has_ip_netns() {
        eprintln!("live_capture: skipped: needs root and ip netns");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("live/live_capture.sh");
    assert!(script.is_file(), "missing {}", script.display());

    let mut cmd = Command::new("bash");
    cmd.arg(&script);
    if std::env::var_os("APITAP_BIN").is_none() {
        if let Some(bin) = build_binary() {
            cmd.env("APITAP_BIN", bin);
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());

    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawning bash");
    // Read stdout on a thread so a chatty script can never block on a full pipe.
    let mut out = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        use std::io::Read as _;
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the script") {
            break status;
        }
        if start.elapsed() > SCRIPT_TIMEOUT {
            // SIGTERM first so the script's trap removes its namespaces, then SIGKILL.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let grace = Instant::now();
            while grace.elapsed() < Duration::from_secs(15) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("live_capture.sh did not finish within {SCRIPT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Background processes the script left behind could hold the pipe open; the script's
    // trap kills them, so this join is bounded by the script's own exit.
    let stdout = reader.join().unwrap_or_default();
    print!("{stdout}");
    eprintln!(
        "live_capture: script took {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(
        status.success() && stdout.contains("PASS"),
        "live_capture.sh failed ({status}):\n{stdout}"
    );
}
