//! Memory of `lsrmon live` over a long simulated case: is it flat?
//!
//! Runs `lsrmon live --simulate --rate 48000 --duration D --speed S --record FILE` headless
//! (stdout is a pipe), reads its per-sweep lines to know the simulated time, and samples the
//! process's resident memory (`VmRSS` in /proc) every `LSRMON_LIVE_POLL_S` seconds (2). The
//! peak is the kernel's (`wait4` ru_maxrss).
//!
//! - `LSRMON_LIVE_MINUTES`: simulated length (60; 240 with `LSRMON_BENCH_FULL=1`);
//! - `LSRMON_LIVE_SPEED`: `--speed`; by default the highest of 64, 48, 32, 24, 16, 8 at which
//!   a 5-minute probe ran with no sample dropped by the pipeline or the recorder and kept
//!   pace (simulated time advanced at 95 % of the speed asked or more).
//!
//! The recording (about 0.8 GB per hour) is deleted afterwards unless `LSRMON_BENCH_KEEP=1`.
//! Report: stdout and `target/bench/live_memory.md`. Run: `cargo bench --bench live_memory`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{env_f64, env_flag, file_mb, lsrmon_bin, publish, slope, target_dir, wait4};

const RATE: &str = "48000";

/// Simulated time at the start of a headless line: ` 0:01:02.3  mentalis ...`,
/// `### 0:01:00.0  marker: ...`, `--- ...`, `*** ...`.
fn line_time(line: &str) -> Option<f64> {
    let t = line.trim_start();
    let t = ["### ", "--- ", "*** "]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .unwrap_or(t);
    let tok = t.split_whitespace().next()?;
    let mut parts = tok.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let h: f64 = h.parse().ok()?;
    let m: f64 = m.parse().ok()?;
    let s: f64 = s.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// Drops reported in the closing summary: (pipeline ring-full frames, recorder dropped
/// frames). `None` when a line is missing.
fn drops(summary: &str) -> (Option<u64>, Option<u64>) {
    let num_before = |line: &str, word: &str| -> Option<u64> {
        let i = line.find(word)?;
        line[..i]
            .split_whitespace()
            .last()?
            .trim_matches('(')
            .parse()
            .ok()
    };
    let mut pipeline = None;
    let mut recorder = None;
    for l in summary.lines() {
        if l.contains("pipeline:") {
            pipeline = num_before(l, "dropped (ring full)");
        }
        if l.trim_start().starts_with("recorded ") {
            recorder = num_before(l, "dropped)");
        }
    }
    (pipeline, recorder)
}

struct Sample {
    wall_s: f64,
    sim_s: f64,
    rss_mb: f64,
}

struct LiveRun {
    wall: Duration,
    samples: Vec<Sample>,
    max_rss_mb: f64,
    summary: String,
    record_mb: f64,
}

fn vm_rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn run_live(seconds: f64, speed: f64, record: &Path, poll: Duration, quiet: bool) -> LiveRun {
    let _ = std::fs::remove_file(record);
    let stderr_path = record.with_extension("stderr");
    let mut child = Command::new(lsrmon_bin())
        .args(["live", "--simulate", "--rate", RATE, "--duration"])
        .arg(seconds.to_string())
        .arg("--speed")
        .arg(speed.to_string())
        .arg("--record")
        .arg(record)
        .arg("--overwrite")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("starting lsrmon live");
    let pid = child.id();
    let sim_ms = Arc::new(AtomicU64::new(0));
    let summary = Arc::new(Mutex::new(String::new()));
    let reader = {
        let out = child.stdout.take().unwrap();
        let (sim_ms, summary) = (sim_ms.clone(), summary.clone());
        std::thread::spawn(move || {
            let mut in_summary = false;
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = line_time(&line) {
                    sim_ms.fetch_max((t * 1000.0) as u64, Ordering::Relaxed);
                }
                if line.starts_with("Summary") {
                    in_summary = true;
                }
                if in_summary {
                    let mut s = summary.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        })
    };
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut next_print = 0.0;
    let common::Exit {
        status, max_rss, ..
    } = loop {
        if let Some(done) = wait4(pid, true).expect("wait4") {
            break done;
        }
        if let Some(kb) = vm_rss_kb(pid) {
            let s = Sample {
                wall_s: start.elapsed().as_secs_f64(),
                sim_s: sim_ms.load(Ordering::Relaxed) as f64 / 1000.0,
                rss_mb: kb as f64 * 1024.0 / 1e6,
            };
            if !quiet && s.sim_s >= next_print {
                eprintln!(
                    "bench:   sim {:>6.0} s  wall {:>6.1} s  VmRSS {:.1} MB",
                    s.sim_s, s.wall_s, s.rss_mb
                );
                next_print = s.sim_s + 600.0;
            }
            samples.push(s);
        }
        std::thread::sleep(poll);
    };
    let wall = start.elapsed();
    reader.join().unwrap();
    drop(child);
    assert!(
        status.success(),
        "lsrmon live failed ({status}):\n{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    let summary = summary.lock().unwrap().clone();
    // The kernel's high-water mark, or the largest sample if that is higher (the two are
    // counted at different moments).
    let max_rss_mb = samples
        .iter()
        .map(|s| s.rss_mb)
        .fold(max_rss as f64 / 1e6, f64::max);
    LiveRun {
        wall,
        samples,
        max_rss_mb,
        summary,
        record_mb: file_mb(record),
    }
}

/// Simulated seconds per wall second while the case ran (least squares over the samples).
fn achieved_speed(samples: &[Sample]) -> f64 {
    let pts: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.sim_s > 0.0)
        .map(|s| (s.wall_s, s.sim_s))
        .collect();
    slope(&pts)
}

/// The highest speed that ran a 5-minute probe cleanly and kept pace.
fn probe_speed(dir: &Path) -> (f64, String) {
    let mut log = String::new();
    let probe_s = 300.0;
    for speed in [64.0, 48.0, 32.0, 24.0, 16.0, 8.0] {
        let run = run_live(
            probe_s,
            speed,
            &dir.join("live_probe.nwb"),
            Duration::from_millis(500),
            true,
        );
        let (p, r) = drops(&run.summary);
        let achieved = achieved_speed(&run.samples);
        let on_time = achieved >= 0.95 * speed;
        let clean = p == Some(0) && r == Some(0);
        let verdict = if clean && on_time { "ok" } else { "too fast" };
        eprintln!(
            "bench: probe --speed {speed}: ran at {achieved:.1}x, dropped: pipeline {p:?}, recorder {r:?}: {verdict}"
        );
        log += &format!(
            "--speed {speed}: ran at {achieved:.1}x, dropped pipeline {p:?} recorder {r:?}: {verdict}; "
        );
        let _ = std::fs::remove_file(dir.join("live_probe.nwb"));
        if clean && on_time {
            return (speed, log);
        }
    }
    panic!("no speed down to 8x ran without drops: {log}");
}

fn nearest(samples: &[Sample], sim_s: f64) -> Option<&Sample> {
    samples
        .iter()
        .min_by(|a, b| (a.sim_s - sim_s).abs().total_cmp(&(b.sim_s - sim_s).abs()))
}

fn main() {
    if common::skipped_under_cargo_test("live_memory") {
        return;
    }
    let full = env_flag("LSRMON_BENCH_FULL");
    let keep = env_flag("LSRMON_BENCH_KEEP");
    let minutes = env_f64("LSRMON_LIVE_MINUTES", if full { 240.0 } else { 60.0 });
    let poll = Duration::from_secs_f64(env_f64("LSRMON_LIVE_POLL_S", 2.0));
    let load_start = common::load_average();
    let dir: PathBuf = target_dir().join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let (speed, probe_log) = match std::env::var("LSRMON_LIVE_SPEED") {
        Ok(s) => (
            s.parse::<f64>().expect("LSRMON_LIVE_SPEED: a number"),
            "given by LSRMON_LIVE_SPEED".to_string(),
        ),
        Err(_) => probe_speed(&dir),
    };
    let seconds = minutes * 60.0;
    eprintln!(
        "bench: lsrmon live --simulate --rate {RATE} --duration {seconds} --speed {speed} (about {:.0} s)",
        seconds / speed
    );
    let record = dir.join("live_memory.nwb");
    let run = run_live(seconds, speed, &record, poll, false);
    if !keep {
        let _ = std::fs::remove_file(&record);
    }

    let (p, r) = drops(&run.summary);
    let settled: Vec<(f64, f64)> = run
        .samples
        .iter()
        .filter(|s| s.sim_s >= 60.0)
        .map(|s| (s.sim_s / 3600.0, s.rss_mb))
        .collect();
    let second_half: Vec<(f64, f64)> = settled
        .iter()
        .copied()
        .filter(|&(h, _)| h * 3600.0 >= seconds / 2.0)
        .collect();
    let at = |t: f64| nearest(&run.samples, t).map_or(f64::NAN, |s| s.rss_mb);
    let first = run
        .samples
        .iter()
        .find(|s| s.sim_s >= 60.0)
        .map_or(f64::NAN, |s| s.rss_mb);
    let last = run.samples.last().map_or(f64::NAN, |s| s.rss_mb);
    let sim_end = run.samples.last().map_or(0.0, |s| s.sim_s);

    let mut md = format!(
        "## lsrmon live: memory over a long simulated case\n\n\
         `lsrmon live --simulate --rate {RATE} --duration {seconds} --speed {speed} --record FILE` \
         (4 channels, headless: per-sweep lines on a pipe, recording shuffle+deflate int16). \
         VmRSS sampled every {:.1} s of wall time; simulated time from the printed sweep lines. \
         Load average at the start: {load_start}. Speed: {probe_log}\n\n\
         | simulated | wall s | achieved speed | samples | RSS after 1 min MB | RSS middle MB | RSS end MB | peak RSS MB | slope MB per simulated hour (all / 2nd half) | dropped: pipeline / recorder frames | recording MB |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n\
         | {:.0} min | {:.0} | {:.1}x | {} | {first:.1} | {:.1} | {last:.1} | {:.1} | {:.2} / {:.2} | {} / {} | {:.0} |\n",
        poll.as_secs_f64(),
        seconds / 60.0,
        run.wall.as_secs_f64(),
        achieved_speed(&run.samples),
        run.samples.len(),
        at(seconds / 2.0),
        run.max_rss_mb,
        slope(&settled),
        slope(&second_half),
        p.map_or("?".into(), |v| v.to_string()),
        r.map_or("?".into(), |v| v.to_string()),
        run.record_mb,
    );
    md += "\nRSS over the case:\n\n| simulated | VmRSS MB |\n|---|---|\n";
    let steps = 8;
    let mut shown = f64::NAN;
    for i in 0..=steps {
        let t = 60.0 + (sim_end - 60.0).max(0.0) * i as f64 / steps as f64;
        if let Some(s) = nearest(&run.samples, t).filter(|s| s.sim_s != shown) {
            shown = s.sim_s;
            md += &format!(
                "| {}:{:02}:{:02} | {:.1} |\n",
                (s.sim_s / 3600.0) as u64,
                (s.sim_s / 60.0) as u64 % 60,
                s.sim_s as u64 % 60,
                s.rss_mb
            );
        }
    }
    md += &format!("\nThe run's closing summary:\n\n```\n{}```\n", run.summary);
    publish("live_memory", &md);
}
