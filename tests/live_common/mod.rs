//! Helpers shared by the `live_*` integration tests: running the real binary, analysing a
//! recorded file the way `analyze` does (NwbSource + Engine + Collector), and comparing its
//! verdicts with the live run's.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use lsrmon::analysis::Collector;
use lsrmon::detect::Engine;
use lsrmon::nwb::{NwbSource, ReadOptions};
use lsrmon::pipeline::run_to_end;
use lsrmon::settings::Settings;
use lsrmon::source::Source;
use serde_json::Value;

/// A scratch directory for one test, emptied first.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("live_tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The lsrmon binary, as a command that does not inherit this process's open files (see
/// `nwb_common::command`: HDF5 opens files without close-on-exec).
pub fn lsrmon() -> Command {
    use std::os::unix::process::CommandExt;
    extern "C" {
        fn close(fd: i32) -> i32;
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lsrmon"));
    // SAFETY: `close` is async-signal-safe; stdio (0-2) is already set up when this runs.
    unsafe {
        cmd.pre_exec(|| {
            for fd in 3..4096 {
                close(fd);
            }
            Ok(())
        });
    }
    cmd
}

/// Starts `lsrmon` with `args`; stdout and stderr go to files in `dir` (read them with
/// [`output`]), stdin is a pipe (for markers).
pub fn spawn(dir: &Path, args: &[&str]) -> Child {
    let out = std::fs::File::create(dir.join("stdout.txt")).unwrap();
    let err = std::fs::File::create(dir.join("stderr.txt")).unwrap();
    lsrmon()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("starting lsrmon")
}

/// What a run printed: (stdout, stderr).
pub fn output(dir: &Path) -> (String, String) {
    (
        std::fs::read_to_string(dir.join("stdout.txt")).unwrap_or_default(),
        std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default(),
    )
}

/// The detection settings a recording stored (`{"detection": {...}}`).
pub fn recorded_settings(src: &NwbSource) -> Settings {
    let text = src
        .recorded_settings()
        .expect("the file stores its settings");
    let v: Value = serde_json::from_str(&text).unwrap();
    serde_json::from_value(v["detection"].clone()).unwrap()
}

/// Analyses a session file like `lsrmon analyze --json` does: the stored settings, the
/// file's stimuli and gaps, the engine run to the end. Returns the lsrmon.analysis/1 JSON.
pub fn analyze_file(path: &Path) -> Value {
    let mut src = NwbSource::open(path, &ReadOptions::default()).expect("opening the recording");
    assert!(!src.is_unfinished(), "{} was not finalised", path.display());
    let settings = recorded_settings(&src);
    let info = src.info().clone();
    let mut engine = Engine::new(&info, &settings).unwrap();
    let timing = engine.timing_name();
    let mut collector = Collector::new(&info);
    run_to_end(
        &mut src,
        &mut engine,
        4096,
        &mut |e| collector.push(e),
        &mut |_| {},
    )
    .unwrap();
    let counters = *engine.counters();
    let a = collector.finish(
        &path.display().to_string(),
        &info,
        &settings,
        timing,
        &src.markers(),
        &counters,
        counters.frames,
        src.starting_time_s(),
    );
    serde_json::to_value(a).unwrap()
}

/// Asserts that two analyses reach the same verdicts: every sweep's status, reason and state
/// (stimulus times within 1 µs), every channel's baseline, state changes and final state,
/// and the frame count. Returns the number of sweeps compared.
pub fn assert_same_verdicts(live: &Value, file: &Value) -> usize {
    let ls = live["sweeps"].as_array().unwrap();
    let fs = file["sweeps"].as_array().unwrap();
    assert_eq!(
        ls.len(),
        fs.len(),
        "sweep counts differ: live {}, file {}",
        ls.len(),
        fs.len()
    );
    for (a, b) in ls.iter().zip(fs) {
        for k in [
            "stim_index",
            "channel",
            "status",
            "reject_reason",
            "state",
            "branch",
        ] {
            assert_eq!(
                a[k], b[k],
                "sweep {} differs in {k}:\n{a}\n{b}",
                a["stim_index"]
            );
        }
        let dt = (a["stim_time_s"].as_f64().unwrap() - b["stim_time_s"].as_f64().unwrap()).abs();
        assert!(dt < 1e-6, "stimulus times differ by {dt} s:\n{a}\n{b}");
    }
    let lc = live["channels"].as_array().unwrap();
    let fc = file["channels"].as_array().unwrap();
    assert_eq!(lc.len(), fc.len());
    for (a, b) in lc.iter().zip(fc) {
        for k in [
            "channel",
            "baseline_present",
            "final_state",
            "sweeps_present",
            "sweeps_absent",
            "sweeps_rejected",
        ] {
            assert_eq!(a[k], b[k], "channel summaries differ in {k}:\n{a}\n{b}");
        }
        let (ea, eb) = (
            a["events"].as_array().unwrap(),
            b["events"].as_array().unwrap(),
        );
        assert_eq!(ea.len(), eb.len(), "state changes differ:\n{a}\n{b}");
        for (x, y) in ea.iter().zip(eb) {
            assert_eq!(x["state"], y["state"]);
            let dt = (x["time_s"].as_f64().unwrap() - y["time_s"].as_f64().unwrap()).abs();
            assert!(dt < 1e-6, "state change times differ:\n{x}\n{y}");
        }
    }
    assert_eq!(live["counters"]["frames"], file["counters"]["frames"]);
    assert_eq!(live["counters"]["gaps"], file["counters"]["gaps"]);
    assert_eq!(
        live["counters"]["lost_frames"],
        file["counters"]["lost_frames"]
    );
    ls.len()
}

/// A recorded counter.
pub fn counter(src: &NwbSource, name: &str) -> Option<u64> {
    src.recorded_counters()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}
