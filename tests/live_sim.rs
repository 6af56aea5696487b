//! `lsrmon live --simulate`: the whole live path (source thread, tee to the recorder, DSP
//! thread, consumer, markers from stdin, counters, signals) without hardware.
//!
//! The recording must hold exactly the simulator's samples, be a valid NWB file, and give
//! the same verdicts when analysed as the live run printed; SIGTERM must end the session
//! with a finalised file.

mod live_common;
mod nwb_common;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use live_common::{analyze_file, assert_same_verdicts, counter, output, scratch_dir, spawn};
use lsrmon::nwb::{NwbSource, ReadOptions};
use lsrmon::sim::{Scenario, SimConfig, SimPatient};
use lsrmon::source::Source;

fn read_all(src: &mut dyn Source) -> Vec<f32> {
    let c = src.info().channel_count();
    let mut buf = vec![0f32; 4096 * c];
    let mut out = Vec::new();
    loop {
        let n = src.read(&mut buf, &mut Vec::new()).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n * c]);
    }
}

#[test]
fn simulated_case_is_recorded_exactly_with_markers_and_the_same_verdicts() {
    // LSRMON_LIVE_SIM_LONG=SECONDS: the manual check, a real-time case of that length.
    match std::env::var("LSRMON_LIVE_SIM_LONG")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        Some(secs) => run_case("sim_long", secs, 1.0),
        None => run_case("sim", 60.0, 20.0),
    }
}

/// Runs `live --simulate` for `secs` of case at `speed`, typing two markers, and checks the
/// recording against the simulator and the live verdicts against the file's.
fn run_case(name: &str, secs: f64, speed: f64) {
    let dir = scratch_dir(name);
    let nwb = dir.join("case.nwb");
    let json = dir.join("live.json");
    let (secs_arg, speed_arg) = (format!("{secs}"), format!("{speed}"));
    let t0 = Instant::now();
    let mut child = spawn(
        &dir,
        &[
            "live",
            "--simulate",
            "--scenario",
            "gradual",
            "--seed",
            "3",
            "--duration",
            &secs_arg,
            "--speed",
            &speed_arg,
            "--changes-only",
            "--record",
            nwb.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    // Markers typed while the case runs: a step by number and free text.
    let mut stdin = child.stdin.take().unwrap();
    thread::sleep(Duration::from_millis(800));
    writeln!(stdin, "2").unwrap();
    writeln!(stdin, "  suction near the nerve  ").unwrap();
    writeln!(stdin).unwrap();
    stdin.flush().unwrap();
    let status = child.wait().unwrap();
    let wall = t0.elapsed();
    let (out, err) = output(&dir);
    assert!(
        status.success(),
        "lsrmon live failed: {status}\n{out}\n{err}"
    );
    assert!(out.contains("marker: dura opened"), "{out}");
    assert!(out.contains("marker: suction near the nerve"), "{out}");
    assert!(out.contains("Summary ("), "{out}");

    // A valid NWB file that pynwb and nwbinspector accept.
    nwb_common::check_nwb(&[&nwb], false);

    // Exactly the simulator's samples, frame for frame.
    let cfg = SimConfig {
        scenario: Scenario::Gradual,
        seed: 3,
        duration_s: secs,
        ..SimConfig::default()
    };
    let mut sim = SimPatient::new(cfg).unwrap();
    let expected = read_all(&mut sim);
    let mut file = NwbSource::open(&nwb, &ReadOptions::default()).unwrap();
    assert_eq!(file.info().channels, sim.info().channels);
    let got = read_all(&mut file);
    assert_eq!(got.len(), expected.len());
    assert!(
        got == expected,
        "the recorded samples differ from the simulator's"
    );

    // Markers: the simulator's schedule plus the two typed ones (not the blank line).
    let labels: Vec<String> = file.markers().into_iter().map(|m| m.label).collect();
    assert!(labels.contains(&"dura opened".to_string()), "{labels:?}");
    assert!(
        labels.contains(&"suction near the nerve".to_string()),
        "{labels:?}"
    );
    assert!(labels.contains(&"pad placed".to_string()), "{labels:?}");
    assert_eq!(
        labels.len(),
        sim.markers().iter().filter(|m| m.time_s <= secs).count() + 2
    );

    // Counters of the whole run, nothing lost anywhere.
    let frames = (secs * 10_000.0).round() as u64;
    assert_eq!(counter(&file, "engine_frames"), Some(frames));
    assert_eq!(counter(&file, "pipeline_frames_dropped"), Some(0));
    assert_eq!(counter(&file, "recorder_dropped_frames"), Some(0));
    assert_eq!(counter(&file, "recorder_filled_frames"), Some(0));
    assert_eq!(counter(&file, "engine_lost_frames"), Some(0));

    // Every verdict was timed, and the figures are consistent: a sweep's window ends before
    // the sweep does, so each verdict's decision latency is at least its processing latency,
    // and so is every quantile.
    let lat = |k: &str| counter(&file, k).unwrap_or_else(|| panic!("no counter {k}"));
    let verdicts = lat("latency_decision_verdicts");
    assert_eq!(lat("latency_processing_verdicts"), verdicts);
    assert_eq!(lat("latency_untimed_verdicts"), 0);
    let judged =
        lat("engine_sweeps_present") + lat("engine_sweeps_absent") + lat("engine_sweeps_rejected");
    assert_eq!(
        verdicts,
        judged - lat("engine_rejected_incomplete"),
        "every sweep verdict is timed (but those cut short by the end of the stream)"
    );
    for kind in ["decision", "processing"] {
        let q = |p: &str| lat(&format!("latency_{kind}_{p}_us"));
        assert!(
            q("p50") <= q("p99") && q("p99") <= q("max"),
            "{kind} quantiles out of order"
        );
    }
    for p in ["p50", "p99", "max"] {
        assert!(
            lat(&format!("latency_decision_{p}_us")) >= lat(&format!("latency_processing_{p}_us")),
            "decision latency {p} below processing latency"
        );
    }
    assert!(out.contains("latency over"), "{out}");

    // Analysing the file gives the live run's verdicts.
    let live: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let n = assert_same_verdicts(&live, &analyze_file(&nwb));
    assert!(n as f64 > secs * 1.5, "only {n} sweeps compared");
    eprintln!(
        "live --simulate: {secs} s at x{speed} in {:.1} s wall; {} frames; {n} sweeps with the \
         same verdicts; counters {:?}\n{out}",
        wall.as_secs_f64(),
        got.len() / 4,
        file.recorded_counters()
    );
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGTERM: i32 = 15;

#[test]
fn sigterm_ends_the_session_with_a_finalised_file() {
    let dir = scratch_dir("sigterm");
    let nwb = dir.join("case.nwb");
    let json = dir.join("live.json");
    let mut child = spawn(
        &dir,
        &[
            "live",
            "--simulate",
            "--duration",
            "600",
            "--speed",
            "10",
            "--changes-only",
            "--record",
            nwb.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    thread::sleep(Duration::from_secs(3));
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { kill(child.id() as i32, SIGTERM) }, 0);
    let t0 = Instant::now();
    let status = child.wait().unwrap();
    let (out, err) = output(&dir);
    assert!(status.success(), "{status}\n{out}\n{err}");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "the session took {:?} to end",
        t0.elapsed()
    );
    assert!(out.contains("Summary"), "{out}");
    let file = NwbSource::open(&nwb, &ReadOptions::default()).unwrap();
    assert!(!file.is_unfinished(), "the file was not finalised");
    let frames = counter(&file, "engine_frames").unwrap();
    assert!(
        (100_000..6_000_000).contains(&frames),
        "{frames} frames recorded"
    );
    assert_eq!(file.info().total_frames, Some(frames));
    let live: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_same_verdicts(&live, &analyze_file(&nwb));
}

#[test]
fn bad_invocations_say_what_is_wrong() {
    let dir = scratch_dir("bad");
    let run = |args: &[&str]| {
        let o = live_common::lsrmon()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["live"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--audio") && err.contains("--simulate"),
        "{err}"
    );
    let (code, err) = run(&["live", "--serial", "/dev/null", "--profile", "human"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("[[channel]]"), "{err}");
    let cfg = dir.join("site.toml");
    std::fs::write(
        &cfg,
        "[[channel]]\nlabel = \"mentalis\"\nmuscle = \"mentalis\"\nuv_full_scale = 5000.0\n",
    )
    .unwrap();
    let (code, err) = run(&[
        "--config",
        cfg.to_str().unwrap(),
        "live",
        "--serial",
        "/dev/no-such-port",
        "--profile",
        "shield",
    ]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("/dev/no-such-port"), "{err}");
    let (code, err) = run(&["live", "--simulate", "--speed", "0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--speed"), "{err}");
    let (code, err) = run(&[
        "--config",
        cfg.to_str().unwrap(),
        "live",
        "--audio",
        "no-such-card",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no-such-card"), "{err}");
}
