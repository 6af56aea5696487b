//! Crash safety: a recording process is SIGKILLed at random moments; every killed file
//! must (1) open and read up to its last commit without recovery, and (2) recover into a
//! valid NWB file holding the same samples, losing at most about a commit interval.
//!
//! The writer is a separate process, because only a real kill leaves HDF5's caches
//! half-written. By default it is the program itself:
//! `lsrmon simulate --out FILE --duration S --speed 1 --seed N`, recovered with
//! `lsrmon recover FILE`. `LSRMON_CRASH_WRITER=example` uses
//! `examples/nwb_crash_writer.rs` instead (the same `Recorder`, writing a deterministic
//! signal, so the samples are also checked bit-exactly) and the library's `recover`.
//! `LSRMON_CRASH_KILLS=N` sets the number of kills (default 50, four at a time; more for a
//! soak run); with the example,
//! `LSRMON_CRASH_COMMIT_MS=MS` its commit interval (default 200; a short one puts more
//! kills inside a commit), and the kills alternate between the two HDF5 storage
//! behaviours: compressed chunks (written once, when full) and uncompressed chunks
//! (rewritten in place at every commit).

mod nwb_common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lsrmon::nwb::{needs_recovery, recover, NwbSource, ReadOptions};
use lsrmon::source::Source;
use nwb_common::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Writer {
    /// `lsrmon simulate` / `lsrmon recover`.
    Program,
    /// `examples/nwb_crash_writer.rs` / `lsrmon::nwb::recover`.
    Example,
}

fn writer_kind() -> Writer {
    match std::env::var("LSRMON_CRASH_WRITER").as_deref() {
        Ok("example") => Writer::Example,
        _ => Writer::Program,
    }
}

fn example_binary() -> PathBuf {
    let status = command(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--example", "nwb_crash_writer"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running cargo build --example nwb_crash_writer");
    assert!(
        status.success(),
        "building examples/nwb_crash_writer failed"
    );
    let exe = Path::new(env!("CARGO_BIN_EXE_lsrmon"));
    exe.parent().unwrap().join("examples/nwb_crash_writer")
}

/// The command that records `secs` seconds of real-time signal to `out`.
fn writer_command(
    kind: Writer,
    example: Option<&Path>,
    out: &Path,
    seed: u64,
    secs: f64,
) -> Command {
    match kind {
        Writer::Program => {
            let mut c = command(env!("CARGO_BIN_EXE_lsrmon"));
            c.arg("simulate").arg("--out").arg(out);
            c.args([
                "--duration",
                &secs.to_string(),
                "--speed",
                "1",
                "--seed",
                &seed.to_string(),
            ]);
            c
        }
        Writer::Example => {
            let mut c = command(example.expect("example binary"));
            c.arg(out)
                .args(["--duration", &secs.to_string(), "--seed", &seed.to_string()]);
            let commit_ms =
                std::env::var("LSRMON_CRASH_COMMIT_MS").unwrap_or_else(|_| "200".into());
            c.args(["--rate", "48000", "--commit-ms", &commit_ms]);
            c.args(["--deflate", if seed.is_multiple_of(2) { "1" } else { "0" }]);
            c
        }
    }
}

fn recover_file(kind: Writer, path: &Path) -> String {
    match kind {
        Writer::Program => {
            let out = command(env!("CARGO_BIN_EXE_lsrmon"))
                .arg("recover")
                .arg(path)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "lsrmon recover {} failed:\n{text}",
                path.display()
            );
            text
        }
        Writer::Example => recover(path).unwrap_or_else(|e| panic!("{e}")).to_string(),
    }
}

/// Starts the writer and returns once it is recording (the example says so; the program
/// is taken to be recording once its file exists).
fn start(mut cmd: Command, kind: Writer, out: &Path) -> (Child, Instant) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("starting the writer");
    let deadline = Instant::now() + Duration::from_secs(60);
    if kind == Writer::Example {
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "recording", "unexpected writer output");
    } else {
        while !out.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    std::io::Read::read_to_string(&mut e, &mut err).ok();
                }
                panic!(
                    "`lsrmon simulate --out` exited ({status}) before creating {}: {err}\n\
                     (until the program has `simulate` and `recover`, run this test with \
                     LSRMON_CRASH_WRITER=example)",
                    out.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the writer did not create {}",
                out.display()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    (child, Instant::now())
}

/// Deterministic "random" kill delays.
fn delays(n: usize, seed: u64) -> Vec<Duration> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            Duration::from_millis(300 + (x >> 33) % 2700)
        })
        .collect()
}

fn read_everything(path: &Path) -> (u64, Vec<f32>, f64, usize) {
    let mut src = NwbSource::open(path, &ReadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let rate = src.info().sample_rate_hz;
    let c = src.info().channels.len();
    let (samples, _events) = read_all(&mut src, 48_000);
    ((samples.len() / c) as u64, samples, rate, c)
}

/// One recording, killed after `delay`, checked and recovered. Returns the file and the
/// seconds lost (None when nothing had been committed yet).
fn one_kill(
    i: usize,
    delay: Duration,
    kind: Writer,
    example: Option<&Path>,
) -> (PathBuf, Option<f64>) {
    let mut lost = None;
    let out = scratch(&format!("crash_{i}.nwb"));
    let seed = 100 + i as u64;
    let cmd = writer_command(kind, example, &out, seed, 30.0);
    let (mut child, t0) = start(cmd, kind, &out);
    std::thread::sleep(delay);
    child.kill().unwrap(); // SIGKILL
    let elapsed = t0.elapsed().as_secs_f64();
    child.wait().unwrap();

    // (1) The killed file: unfinished, readable up to its last commit.
    assert!(
        needs_recovery(&out),
        "kill {i}: the file should carry its commit counters"
    );
    let live = NwbSource::open(&out, &ReadOptions::default());
    let before = match live {
        Ok(src) => {
            assert!(src.is_unfinished());
            let strict = NwbSource::open(
                &out,
                &ReadOptions {
                    require_finished: true,
                    ..Default::default()
                },
            );
            assert!(
                strict.err().unwrap().to_string().contains("recover"),
                "kill {i}"
            );
            drop(src);
            Some(read_everything(&out))
        }
        Err(e) => {
            // Nothing committed yet (killed before the first commit).
            assert!(
                e.to_string().contains("at least one sample"),
                "kill {i}: {e}"
            );
            None
        }
    };

    // (2) Recovery keeps exactly the committed samples.
    let report = recover_file(kind, &out);
    assert!(
        !needs_recovery(&out),
        "kill {i}: still unfinished after recovery:\n{report}"
    );
    let frames_before = before.as_ref().map_or(0, |b| b.0);
    if let Some((n_before, samples_before, rate, c)) = &before {
        let (n_after, samples_after, _, _) = read_everything(&out);
        assert_eq!(
            n_after, *n_before,
            "kill {i}: recovery changed the sample count\n{report}"
        );
        assert!(
            samples_after == *samples_before,
            "kill {i}: recovery changed samples"
        );
        if kind == Writer::Example {
            assert!(
                samples_after == frames(seed, 0, n_after, *c),
                "kill {i}: samples differ from the signal"
            );
        }
        let loss = elapsed - *n_before as f64 / rate;
        lost = Some(loss);
        eprintln!(
            "kill {i} after {elapsed:.2} s: kept {:.2} s (lost {loss:.2} s)",
            *n_before as f64 / rate
        );
    } else {
        eprintln!("kill {i} after {elapsed:.2} s: nothing committed yet");
    }
    let dropped: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("dropped") && !l.contains("dropped 0"))
        .collect();
    eprintln!(
        "  recovery of {frames_before} frames: {}",
        if dropped.is_empty() {
            "nothing to drop".to_string()
        } else {
            dropped.join("; ")
        }
    );
    (out, lost)
}

#[test]
fn killed_recordings_read_to_the_last_commit_and_recover() {
    let kind = writer_kind();
    let kills: usize = std::env::var("LSRMON_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let example = (kind == Writer::Example).then(example_binary);
    let mut recovered = Vec::new();
    let mut worst_loss = 0.0f64;
    // Four recordings at a time (the kills are at random moments in each).
    let jobs: Vec<(usize, Duration)> = delays(kills, 0x5eed).into_iter().enumerate().collect();
    let jobs = std::sync::Mutex::new(jobs);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let Some((i, delay)) = jobs.lock().unwrap().pop() else {
                    break;
                };
                let r = one_kill(i, delay, kind, example.as_deref());
                results.lock().unwrap().push(r);
            });
        }
    });
    for (out, lost) in results.into_inner().unwrap() {
        if let Some(l) = lost {
            worst_loss = worst_loss.max(l);
        }
        recovered.push(out);
    }
    eprintln!("worst loss over {kills} kills: {worst_loss:.2} s (commit interval + scheduling)");
    // The writer commits five times a second; "at most the last second" plus a margin for
    // process start-up and a loaded machine.
    assert!(
        worst_loss < 1.5,
        "lost {worst_loss:.2} s: commits are not happening about once a second"
    );
    let refs: Vec<&Path> = recovered.iter().map(|p| p.as_path()).collect();
    check_nwb(&refs, true);
}
