//! A standalone mutation fuzzer for the targets, for toolchains where `cargo fuzz` (which
//! needs nightly-only compiler flags) is not available.
//!
//! It is not coverage-guided: it loads a corpus, runs every input once, then runs mutations of
//! corpus inputs (bit flips, interesting values, inserts, deletes, duplications, splices,
//! protocol tokens) until the time or run budget is spent. The first panic (or an input that
//! runs longer than the hang limit) is written to the artifacts directory and ends the run
//! with status 1, like libFuzzer; `<target> FILE...` with `--seconds 0` replays inputs.

use crate::rng::Rng;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str = "usage: TARGET [--seconds N] [--runs N] [--seed N] [--max-len N] \
[--artifacts DIR] [--hang-seconds N] [CORPUS_DIR_OR_FILE...]
  --seconds N       fuzz for N seconds after running the corpus (default 30; 0: corpus only)
  --runs N          stop after N executions (default: no limit)
  --seed N          PRNG seed (default: from the clock)
  --max-len N       longest input (default 65536)
  --artifacts DIR   where a crashing input is written (default ./artifacts/TARGET)
  --hang-seconds N  an input running longer is a hang (default 20)";

/// Tokens spliced into inputs: HTTP syntax and the magic numbers of the link layers and
/// tunnels the decoder walks.
const DICTIONARY: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"CONNECT ",
    b"PUT ",
    b" HTTP/1.1\r\n",
    b" HTTP/1.0\r\n",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\n",
    b"HTTP/1.1 204 No Content\r\n",
    b"HTTP/1.1 304 Not Modified\r\n",
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"Host: a\r\n",
    b"Content-Length: ",
    b"Content-Length: 0\r\n",
    b"Content-Length: 18446744073709551616\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Content-Encoding: gzip\r\n",
    b"Content-Encoding: deflate\r\n",
    b"Content-Encoding: br\r\n",
    b"Connection: close\r\n",
    b"Connection: Upgrade\r\nUpgrade: websocket\r\n",
    b"Expect: 100-continue\r\n",
    b"Authorization: Basic YWxpY2U6c2VjcmV0\r\n",
    b"Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.\r\n",
    b"Cookie: session=abc\r\n",
    b"Content-Type: application/json\r\n",
    b"Content-Type: multipart/form-data; boundary=x\r\n",
    b"0\r\n\r\n",
    b"ffffffffffffffff\r\n",
    b"5;ext=1\r\nhello\r\n",
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
    b"?token=secret&a=b",
    b"\x08\x00",
    b"\x86\xdd",
    b"\x81\x00",
    b"\x88\xa8",
    b"\x88\x47",
    b"\x88\xbe",
    b"\x22\xeb",
    b"\x65\x58",
    b"\x12\xb5",
    b"\x17\xc1",
    b"\x0d\x96",
    b"\x45\x00",
    b"\x60\x00\x00\x00",
    b"\x00\x50",
    b"\x1f\x90",
    b"\x50\x18",
    b"\x20\x00",
    b"\x3f\xff",
];

const INTERESTING_8: [u8; 9] = [0, 1, 2, 16, 32, 64, 0x7f, 0x80, 0xff];
const INTERESTING_16: [u16; 10] = [
    0, 1, 0x80, 0xff, 0x100, 0x3fff, 0x7fff, 0x8000, 0xfffe, 0xffff,
];
const INTERESTING_32: [u32; 8] = [
    0,
    1,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x10000,
    65535,
];

struct Opts {
    seconds: u64,
    runs: Option<u64>,
    seed: u64,
    max_len: usize,
    artifacts: PathBuf,
    hang: Duration,
    inputs: Vec<PathBuf>,
}

fn parse_args(name: &str) -> Result<Opts, String> {
    let mut o = Opts {
        seconds: 30,
        runs: None,
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        max_len: 65_536,
        artifacts: PathBuf::from("artifacts").join(name),
        hang: Duration::from_secs(20),
        inputs: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |what: &str| args.next().ok_or_else(|| format!("{what} needs a value"));
        let num = |s: String| s.parse::<u64>().map_err(|e| format!("{s}: {e}"));
        match a.as_str() {
            "--seconds" => o.seconds = num(val("--seconds")?)?,
            "--runs" => o.runs = Some(num(val("--runs")?)?),
            "--seed" => o.seed = num(val("--seed")?)?,
            "--max-len" => o.max_len = num(val("--max-len")?)?.max(1) as usize,
            "--artifacts" => o.artifacts = PathBuf::from(val("--artifacts")?),
            "--hang-seconds" => o.hang = Duration::from_secs(num(val("--hang-seconds")?)?.max(1)),
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => o.inputs.push(PathBuf::from(a)),
        }
    }
    Ok(o)
}

fn load(paths: &[PathBuf], max_len: usize) -> std::io::Result<Vec<Vec<u8>>> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                walk(&e, out)?;
            }
        } else if p.is_file() {
            out.push(p.to_path_buf());
        }
        Ok(())
    }
    let mut files = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}", p.display()),
            ));
        }
        walk(p, &mut files)?;
    }
    let mut out = Vec::new();
    for f in files {
        let mut b = std::fs::read(&f)?;
        b.truncate(max_len);
        out.push(b);
    }
    Ok(out)
}

fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>], max_len: usize) {
    let rounds = 1 << rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        let pos = |rng: &mut Rng| rng.below(len.max(1) as u64) as usize;
        match rng.below(12) {
            0 if len > 0 => {
                let p = pos(rng);
                input[p] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let p = pos(rng);
                input[p] = rng.next_u64() as u8;
            }
            2 if len > 0 => {
                let p = pos(rng);
                input[p] = INTERESTING_8[rng.below(INTERESTING_8.len() as u64) as usize];
            }
            3 if len >= 2 => {
                let p = rng.below(len as u64 - 1) as usize;
                let v = INTERESTING_16[rng.below(INTERESTING_16.len() as u64) as usize];
                let b = if rng.chance(2) {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                input[p..p + 2].copy_from_slice(&b);
            }
            4 if len >= 4 => {
                let p = rng.below(len as u64 - 3) as usize;
                let v = INTERESTING_32[rng.below(INTERESTING_32.len() as u64) as usize];
                let b = if rng.chance(2) {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                input[p..p + 4].copy_from_slice(&b);
            }
            5 if len > 0 => {
                // Small arithmetic on a byte (lengths, offsets, counts).
                let p = pos(rng);
                let d = rng.range(1, 16) as u8;
                input[p] = if rng.chance(2) {
                    input[p].wrapping_add(d)
                } else {
                    input[p].wrapping_sub(d)
                };
            }
            6 => {
                let n = rng.range(1, 16) as usize;
                let p = rng.below(len as u64 + 1) as usize;
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                input.splice(p..p, bytes);
            }
            7 if len > 0 => {
                let p = pos(rng);
                let n = (rng.range(1, 64) as usize).min(len - p);
                input.drain(p..p + n);
            }
            8 if len > 0 => {
                // Duplicate a range somewhere else.
                let p = pos(rng);
                let n = (rng.range(1, 256) as usize).min(len - p);
                let piece = input[p..p + n].to_vec();
                let q = rng.below(len as u64 + 1) as usize;
                input.splice(q..q, piece);
            }
            9 if !corpus.is_empty() => {
                // Splice: our prefix, another input's suffix.
                let other = &corpus[rng.below(corpus.len() as u64) as usize];
                let cut_a = rng.below(len as u64 + 1) as usize;
                let cut_b = rng.below(other.len() as u64 + 1) as usize;
                input.truncate(cut_a);
                input.extend_from_slice(&other[cut_b..]);
            }
            10 | 11 => {
                let tok = DICTIONARY[rng.below(DICTIONARY.len() as u64) as usize];
                let p = rng.below(len as u64 + 1) as usize;
                if rng.chance(2) || p + tok.len() > len {
                    input.splice(p..p, tok.iter().copied());
                } else {
                    input[p..p + tok.len()].copy_from_slice(tok);
                }
            }
            _ => {}
        }
        input.truncate(max_len);
    }
}

type Target = fn(&[u8]);

/// Runs `target` under the standalone driver; returns the process exit status.
pub fn main(name: &str, target: Target) -> i32 {
    let opts = match parse_args(name) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{name}: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() { 0 } else { 2 };
        }
    };
    let mut corpus = match load(&opts.inputs, opts.max_len) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{name}: reading the corpus: {e}");
            return 2;
        }
    };
    let mut rng = Rng::new(opts.seed);
    if corpus.is_empty() {
        for _ in 0..16 {
            let n = rng.range(1, 256) as usize;
            corpus.push((0..n).map(|_| rng.next_u64() as u8).collect());
        }
    }

    // Panics are reported by us (once, with the input); the message is kept for the report.
    let last_panic: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    {
        let slot = last_panic.clone();
        std::panic::set_hook(Box::new(move |info| {
            let bt = std::backtrace::Backtrace::force_capture();
            if let Ok(mut s) = slot.lock() {
                *s = Some(format!("{info}\n{bt}"));
            }
        }));
    }

    // Hang watchdog: the current input and when it started.
    let current: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let started_ms = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    {
        let (current, started_ms, artifacts, hang) = (
            current.clone(),
            started_ms.clone(),
            opts.artifacts.clone(),
            opts.hang,
        );
        let name = name.to_string();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let s = started_ms.load(Ordering::Relaxed);
            if s == 0 {
                continue;
            }
            let now = epoch.elapsed().as_millis() as u64;
            if now.saturating_sub(s) > hang.as_millis() as u64 {
                let input = current.lock().map(|c| c.clone()).unwrap_or_default();
                let path = write_artifact(&artifacts, "timeout", &input);
                eprintln!("{name}: HANG: an input ran longer than {hang:?}; written to {path}");
                std::process::exit(1);
            }
        });
    }

    let mut execs: u64 = 0;
    let start = Instant::now();
    let mut last_report = Instant::now();
    let deadline = start + Duration::from_secs(opts.seconds);
    let exec_one = |input: &[u8], execs: &mut u64| -> bool {
        if let Ok(mut c) = current.lock() {
            c.clear();
            c.extend_from_slice(input);
        }
        started_ms.store(epoch.elapsed().as_millis().max(1) as u64, Ordering::Relaxed);
        let ok = std::panic::catch_unwind(|| target(input)).is_ok();
        started_ms.store(0, Ordering::Relaxed);
        *execs += 1;
        if !ok {
            let msg = last_panic
                .lock()
                .ok()
                .and_then(|m| m.clone())
                .unwrap_or_default();
            let path = write_artifact(&opts.artifacts, "crash", input);
            eprintln!("{name}: CRASH after {execs} executions: {msg}");
            eprintln!("{name}: input ({} bytes) written to {path}", input.len());
            let shown = &input[..input.len().min(256)];
            eprintln!("{name}: input bytes (first {}): {shown:02x?}", shown.len());
        }
        ok
    };

    for input in &corpus {
        if !exec_one(input, &mut execs) {
            return 1;
        }
    }
    let corpus_execs = execs;
    let mut buf = Vec::new();
    while Instant::now() < deadline && opts.runs.is_none_or(|r| execs < r) {
        if rng.chance(64) {
            let n = rng.range(0, 512) as usize;
            buf.clear();
            buf.extend((0..n).map(|_| rng.next_u64() as u8));
        } else {
            buf.clear();
            buf.extend_from_slice(&corpus[rng.below(corpus.len() as u64) as usize]);
            mutate(&mut rng, &mut buf, &corpus, opts.max_len);
        }
        if !exec_one(&buf, &mut execs) {
            return 1;
        }
        // Keep a few mutants as new seeds (without coverage feedback, a small random sample
        // lets mutations stack over generations).
        if rng.chance(512) && corpus.len() < 4096 {
            corpus.push(buf.clone());
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            let t = start.elapsed().as_secs_f64();
            eprintln!(
                "{name}: #{execs} {:.0} exec/s, corpus {}",
                execs as f64 / t,
                corpus.len()
            );
        }
    }
    let t = start.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "{name}: done: {execs} executions ({corpus_execs} corpus inputs) in {t:.1} s, {:.0} exec/s, seed {}, no crash",
        execs as f64 / t,
        opts.seed
    );
    0
}

fn write_artifact(dir: &Path, kind: &str, input: &[u8]) -> String {
    let path = dir.join(format!("{kind}-{:016x}", fnv(input)));
    let _ = std::fs::create_dir_all(dir);
    match std::fs::write(&path, input) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(not written: {e})"),
    }
}
