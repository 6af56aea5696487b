//! Helpers shared by the `nwb_*` integration tests: a deterministic test signal, a test
//! source description, scratch paths, and the Python checker.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use lsrmon::model::{Branch, ChannelInfo, Marker, Muscle, Role, SampleFormat, Stimulus};
use lsrmon::nwb::{NwbSource, SessionMeta, SessionWriter, WriterOptions};
use lsrmon::source::{Source, SourceEvent, SourceInfo};

mod signal;
pub use signal::sample;

/// Volts per unit of the test device (an Intan-like 0.195 µV per bit).
pub const VPU: f64 = 0.195e-6;

/// A scratch path under cargo's per-target temp dir, removed first.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nwb_tests");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// Interleaved frames `a..b` of the test signal.
pub fn frames(seed: u64, a: u64, b: u64, channels: usize) -> Vec<f32> {
    (a..b)
        .flat_map(|f| (0..channels).map(move |c| sample(seed, f, c)))
        .collect()
}

pub fn channel(label: &str, muscle: Muscle, role: Role) -> ChannelInfo {
    ChannelInfo {
        label: label.into(),
        muscle,
        role,
        volts_per_unit: VPU,
        offset_volts: 0.0,
        range_units: Some((-32768.0, 32767.0)),
        trigger_branch: None,
    }
}

/// Four channels, i16: three EMG and a trigger.
pub fn info(rate: f64) -> SourceInfo {
    let mut trig = channel("trigger", Muscle::None, Role::Trigger);
    trig.trigger_branch = Some(Branch::Zygomatic);
    SourceInfo {
        sample_rate_hz: rate,
        channels: vec![
            channel("mentalis", Muscle::Mentalis, Role::Emg),
            channel("oculi", Muscle::OrbicularisOculi, Role::Emg),
            channel("oris", Muscle::OrbicularisOris, Role::Emg),
            trig,
        ],
        sample_format: SampleFormat::I16,
        description: "test signal".into(),
        stimulus_events: true,
        total_frames: None,
    }
}

pub fn meta() -> SessionMeta {
    let mut m = SessionMeta::new(
        "9b1f3f2e-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
        "2026-03-02T08:30:00+09:00",
        "case-0001",
    );
    m.institution = Some("Test Hospital".into());
    m.session_id = Some("session-0001".into());
    m.sex = "U".into();
    m.age = "P45Y".into();
    m.experimenter = vec!["Technologist, Test".into()];
    m
}

pub fn stimulus(index: u64, frame_time: f64, branch: Branch) -> Stimulus {
    Stimulus {
        index,
        frame_time,
        branch,
        intensity_ma: 5.0 + index as f32,
        pulse_width_s: 0.1e-3,
    }
}

/// Writes `secs` seconds of the test signal in 0.1 s blocks, with a stimulus every 0.5 s
/// (a fraction of a frame off the grid) and a marker every 1.5 s, committing every block.
pub fn write_session(
    path: &Path,
    info: &SourceInfo,
    seed: u64,
    secs: f64,
    opts: &WriterOptions,
) -> (Vec<Stimulus>, Vec<Marker>) {
    let mut w =
        SessionWriter::create_with(path, info, &meta(), r#"{"detection":{"k":1}}"#, opts).unwrap();
    let rate = info.sample_rate_hz;
    let total = (secs * rate) as u64;
    let block = (rate / 10.0) as u64;
    let c = info.channels.len();
    let (mut stims, mut marks) = (Vec::new(), Vec::new());
    let mut a = 0;
    while a < total {
        let b = (a + block).min(total);
        w.append_frames(&frames(seed, a, b, c)).unwrap();
        let t_end = b as f64 / rate;
        while (stims.len() as f64 * 0.5 + 0.25) < t_end {
            let k = stims.len() as u64;
            let br = if k.is_multiple_of(2) {
                Branch::Zygomatic
            } else {
                Branch::MarginalMandibular
            };
            let s = stimulus(k, (k as f64 * 0.5 + 0.25) * rate + 0.375, br);
            w.add_stimulus(&s);
            stims.push(s);
        }
        while (marks.len() as f64 * 1.5 + 0.7) < t_end {
            let m = Marker {
                time_s: marks.len() as f64 * 1.5 + 0.7,
                label: format!("step {}", marks.len()),
            };
            w.add_marker(&m);
            marks.push(m);
        }
        w.commit().unwrap();
        a = b;
    }
    w.finish().unwrap();
    (stims, marks)
}

/// Reads a whole source: interleaved samples and events.
pub fn read_all(src: &mut NwbSource, block_frames: usize) -> (Vec<f32>, Vec<SourceEvent>) {
    let c = src.info().channels.len();
    let mut buf = vec![0.0f32; block_frames * c];
    let (mut out, mut ev) = (Vec::new(), Vec::new());
    loop {
        let n = src.read(&mut buf, &mut ev).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n * c]);
    }
    (out, ev)
}

/// A command whose child does not inherit this process's open files. HDF5 opens files
/// without close-on-exec, so a child spawned by one test thread would otherwise keep another
/// thread's HDF5 file (and its lock) open after that thread closed it.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    use std::os::unix::process::CommandExt;
    extern "C" {
        fn close(fd: i32) -> i32;
    }
    let mut cmd = Command::new(program);
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

/// The Python interpreter with pynwb: `LSRMON_PYTHON`, else `target/venv/bin/python`.
/// Fails the test (never skips) if neither works.
pub fn python() -> PathBuf {
    let candidates: Vec<PathBuf> = match std::env::var_os("LSRMON_PYTHON") {
        Some(p) => vec![PathBuf::from(p)],
        None => vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin/python")],
    };
    for p in &candidates {
        let ok = command(p)
            .args(["-c", "import pynwb, nwbinspector, h5py, numpy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return p.clone();
        }
    }
    panic!(
        "no Python with pynwb, nwbinspector, h5py and numpy (tried {candidates:?}); \
         `./dev test` installs it into target/venv, or set LSRMON_PYTHON"
    );
}

pub fn py_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name)
}

/// Runs `tests/py/check_nwb.py` on the files; panics with its output unless all pass.
/// Returns pynwb's summary (JSON) of each file.
pub fn check_nwb(files: &[&Path], strict: bool) -> serde_json::Value {
    let summary = scratch(&format!(
        "summary-{}.json",
        files
            .first()
            .and_then(|f| f.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let mut cmd = command(python());
    cmd.arg(py_script("check_nwb.py"))
        .args(files)
        .arg("--summary")
        .arg(&summary)
        .arg("--quiet");
    if strict {
        cmd.arg("--strict");
    }
    let out = cmd.output().expect("running check_nwb.py");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "check_nwb.py failed:\n{text}");
    for f in files {
        assert!(text.contains(&format!("PASS: {}", f.display())), "{text}");
    }
    eprintln!("{text}");
    serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap()
}

/// Runs a Python script from tests/py with arguments; panics with its output on failure.
pub fn run_py(script: &str, args: &[&str]) {
    let out = command(python())
        .arg(py_script(script))
        .args(args)
        .output()
        .expect("running python");
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
