//! Throughput and memory of `lsrmon analyze` against its read floor and a numpy/scipy peer.
//!
//! Files: simulated 4-channel 48 kHz cases (seed 1) written by `lsrmon simulate`, cached in
//! `target/bench-data/` (regenerated when missing): float32 uncompressed and int16
//! shuffle+deflate ("gzip", the recorder's default), `LSRMON_BENCH_MINUTES` long (10).
//! Every measurement runs on a warm page cache (the file is read once first).
//!
//! For each file:
//! - read floor: `NwbSource` opened and every sample read into a buffer, in the blocks
//!   `analyze` uses, nothing else (in this process);
//! - analyze, 1 core: `lsrmon analyze FILE -j 1` (the real binary, a child process), wall
//!   time and peak resident memory (`wait4`);
//! - analyze, all cores: N copies of the file (N = cores) in one `lsrmon analyze -j N`;
//! - the peer: `benches/peer_numpy.py` (h5py + scipy filtfilt/sosfiltfilt + fixed-window
//!   peak-to-peak) with `target/venv/bin/python`, timed the same way, imports included.
//!
//! Then peak memory of `analyze` against file length (int16 gzip): 2 min, the main length and
//! 60 min; `LSRMON_BENCH_FULL=1` adds 4 hours (a 3 GB file, deleted afterwards unless
//! `LSRMON_BENCH_KEEP=1`).
//!
//! Timings are the median of `LSRMON_BENCH_REPS` runs (3); peak memory is the largest seen.
//! Report: stdout and `target/bench/analyze.md`.
//!
//! Run: `cargo bench --bench analyze` (builds the `lsrmon` binary with the bench profile).

mod common;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{
    env_f64, env_flag, file_mb, lsrmon_bin, median, publish, python, run_measured, simulated_file,
    slope, target_dir, Measured,
};
use lsrmon::nwb::{NwbSource, ReadOptions};
use lsrmon::source::Source;
use serde_json::Value;

const RATE: f64 = 48_000.0;

struct Kind {
    tag: &'static str,
    label: &'static str,
    args: &'static [&'static str],
}

/// A 3-channel case written by pynwb (`tests/py/write_pynwb_storage.py`), as a researcher's
/// file would be: the simulated patient's EMG (no trigger channel; stimuli in the file's
/// stimulus table) copied into the given storage.
struct PynwbKind {
    tag: &'static str,
    label: &'static str,
    rate: f64,
    storage: &'static str,
}

const PYNWB_F32: PynwbKind = PynwbKind {
    tag: "pynwb_48k_f32_raw",
    label: "48 kHz float32, uncompressed, pynwb",
    rate: 48_000.0,
    storage: "f32_contiguous",
};
const PYNWB_I16_GZIP: PynwbKind = PynwbKind {
    tag: "pynwb_44k1_i16_gzip",
    label: "44.1 kHz int16, gzip 4, pynwb",
    rate: 44_100.0,
    storage: "i16_gzip",
};

/// The pynwb-written file (made once and cached like the others); `None` without the
/// Python environment.
fn ensure_pynwb(minutes: f64, kind: &PynwbKind) -> Option<PathBuf> {
    let out = data_dir().join(format!("{}_3ch_{}min.nwb", kind.tag, minutes_tag(minutes)));
    if out.exists() {
        return Some(out);
    }
    let py = python()?;
    let src = data_dir().join(format!(
        "sim{}_3ch_{}min_source.nwb",
        kind.rate,
        minutes_tag(minutes)
    ));
    simulated_file(&src, kind.rate, minutes * 60.0, &["--no-trigger"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/write_pynwb_storage.py");
    let tmp = out.with_extension("partial.nwb");
    eprintln!(
        "bench: writing {} with pynwb ({})",
        out.display(),
        kind.storage
    );
    let st = Command::new(py)
        .arg(script)
        .arg(&tmp)
        .arg("--from")
        .arg(&src)
        .args(["--storage", kind.storage])
        .status()
        .expect("running write_pynwb_storage.py");
    assert!(st.success(), "write_pynwb_storage.py failed");
    std::fs::rename(&tmp, &out).unwrap();
    Some(out)
}

/// The plain h5py read of every sample (`peer_numpy.py --read-only`: in-process time of
/// `dataset[:]`, imports and start-up excluded), median of `reps`.
fn h5py_floor(path: &Path, reps: usize) -> Option<f64> {
    let py = python()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer_numpy.py");
    let mut v = Vec::new();
    for _ in 0..reps {
        let out = Command::new(&py)
            .arg(&script)
            .arg(path)
            .arg("--read-only")
            .output()
            .expect("running peer_numpy.py --read-only");
        assert!(out.status.success(), "peer_numpy.py --read-only failed");
        let j: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v.push(j["read_s"].as_f64().unwrap());
    }
    Some(median(&v))
}

const F32_RAW: Kind = Kind {
    tag: "f32_raw",
    label: "float32, uncompressed",
    args: &["--sample-format", "f32", "--no-compression"],
};
const I16_GZIP: Kind = Kind {
    tag: "i16_gzip",
    label: "int16, shuffle+deflate 1",
    args: &[],
};

fn data_dir() -> PathBuf {
    target_dir().join("bench-data")
}

fn minutes_tag(minutes: f64) -> String {
    format!("{minutes}").replace('.', "p")
}

fn data_file(minutes: f64, kind: &Kind) -> PathBuf {
    data_dir().join(format!(
        "sim48k_4ch_{}min_{}.nwb",
        minutes_tag(minutes),
        kind.tag
    ))
}

fn ensure(minutes: f64, kind: &Kind) -> PathBuf {
    let p = data_file(minutes, kind);
    simulated_file(&p, RATE, minutes * 60.0, kind.args);
    p
}

/// The read floor: open, then read every sample in `analyze`'s blocks. Seconds and frames.
fn read_floor(path: &Path) -> (f64, u64, f64) {
    let t = Instant::now();
    let mut src = NwbSource::open(path, &ReadOptions::default()).expect("opening the file");
    let info = src.info().clone();
    let nch = info.channel_count();
    // The block `lsrmon analyze` reads (src/cli/analyze.rs: 0.5 s, at least 256 frames).
    let block = ((info.sample_rate_hz * 0.5) as usize).max(256);
    let mut buf = vec![0.0f32; block * nch];
    let mut events = Vec::with_capacity(256);
    let mut frames = 0u64;
    loop {
        events.clear();
        let n = src.read(&mut buf, &mut events).expect("reading samples");
        if n == 0 {
            break;
        }
        black_box(&buf[..n * nch]);
        frames += n as u64;
    }
    (t.elapsed().as_secs_f64(), frames, info.sample_rate_hz)
}

fn out_dir() -> PathBuf {
    let d = data_dir().join("out");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `lsrmon analyze FILES -j jobs`, stdout to `name.json`.
fn analyze(files: &[PathBuf], jobs: usize, name: &str) -> (Measured, PathBuf) {
    let out = out_dir().join(format!("{name}.json"));
    let err = out_dir().join(format!("{name}.stderr"));
    let m = run_measured(
        Command::new(lsrmon_bin())
            .arg("analyze")
            .args(files)
            .args(["-j", &jobs.to_string()]),
        &out,
        &err,
    );
    (m, out)
}

struct Peer {
    run: Measured,
    result: Value,
}

fn peer(path: &Path, name: &str) -> Option<Peer> {
    let py = python()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer_numpy.py");
    let out = out_dir().join(format!("{name}.peer.json"));
    let err = out_dir().join(format!("{name}.peer.stderr"));
    let run = run_measured(Command::new(py).arg(script).arg(path), &out, &err);
    let result: Value =
        serde_json::from_slice(&std::fs::read(&out).unwrap()).expect("the peer prints JSON");
    Some(Peer { run, result })
}

struct Row {
    label: String,
    size_mb: f64,
    signal_s: f64,
    floor_s: f64,
    /// h5py's plain read of the samples (in-process, seconds).
    h5py_s: Option<f64>,
    analyze_s: f64,
    analyze_rss: f64,
    all_n: usize,
    all_s: f64,
    all_rss: f64,
    /// Cores busy on average during the all-cores run.
    all_cores_used: f64,
    peer: Option<Peer>,
    sanity: String,
}

fn measure(path: &Path, label: &str, tag: &str, reps: usize, cores: usize) -> Row {
    eprintln!("bench: {} ({label})", path.display());
    // Warm the page cache (and check the file).
    let (_, frames, rate) = read_floor(path);
    let signal_s = frames as f64 / rate;
    let floors: Vec<f64> = (0..reps).map(|_| read_floor(path).0).collect();
    let floor_s = median(&floors);
    eprintln!("bench:   read floor {floors:.3?} s");
    let h5py_s = h5py_floor(path, reps);
    eprintln!("bench:   h5py read {h5py_s:.3?} s");

    let mut walls = Vec::new();
    let mut rss: f64 = 0.0;
    let mut json = PathBuf::new();
    for _ in 0..reps {
        let (m, out) = analyze(&[path.to_path_buf()], 1, &format!("analyze_{}", tag));
        walls.push(m.wall.as_secs_f64());
        rss = rss.max(m.rss_mb());
        json = out;
    }
    let analyze_s = median(&walls);
    eprintln!("bench:   analyze -j 1 {walls:.3?} s, peak {rss:.1} MB");

    // N copies (real copies: the same file opened N times would share HDF5's file state).
    let copies_dir = data_dir().join("copies");
    std::fs::create_dir_all(&copies_dir).unwrap();
    let mut files = vec![path.to_path_buf()];
    for i in 1..cores {
        let c = copies_dir.join(format!(
            "copy{i}_{}",
            path.file_name().unwrap().to_string_lossy()
        ));
        std::fs::copy(path, &c).expect("copying the file");
        read_floor(&c); // warm
        files.push(c);
    }
    let mut all_walls = Vec::new();
    let mut all_rss: f64 = 0.0;
    let mut used = Vec::new();
    for _ in 0..reps {
        let (m, _) = analyze(&files, cores, &format!("analyze_all_{}", tag));
        all_walls.push(m.wall.as_secs_f64());
        all_rss = all_rss.max(m.rss_mb());
        used.push(m.cores_used());
    }
    for f in &files[1..] {
        let _ = std::fs::remove_file(f);
    }
    let all_s = median(&all_walls);
    eprintln!(
        "bench:   analyze -j {cores} x {cores} files {all_walls:.3?} s, peak {all_rss:.1} MB"
    );

    let peer = peer(path, tag);
    let sanity = match &peer {
        Some(p) => {
            eprintln!(
                "bench:   peer {:.2} s, peak {:.0} MB, steps {}",
                p.run.wall.as_secs_f64(),
                p.run.rss_mb(),
                p.result["timing_s"]
            );
            sanity(&p.result, &json)
        }
        None => "peer not run: target/venv/bin/python is missing (`./dev setup`)\n".into(),
    };
    Row {
        label: format!("{} ({label})", path.file_name().unwrap().to_string_lossy()),
        size_mb: file_mb(path),
        signal_s,
        floor_s,
        h5py_s,
        analyze_s,
        analyze_rss: rss,
        all_n: cores,
        all_s,
        all_rss,
        all_cores_used: median(&used),
        peer,
        sanity,
    }
}

/// The peer's first p2p values next to lsrmon's LSR p2p of the same stimulus and channel.
fn sanity(peer: &Value, lsrmon_json: &Path) -> String {
    let ours: Value =
        serde_json::from_slice(&std::fs::read(lsrmon_json).unwrap()).expect("analyze prints JSON");
    let sweeps = ours["sweeps"].as_array().cloned().unwrap_or_default();
    let times: Vec<f64> = peer["first_stim_time_s"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let mut s = String::from(
        "| stimulus s | channel | peer p2p uV (6-40 ms, 20-3000 Hz) | lsrmon LSR p2p uV (status) |\n|---|---|---|---|\n",
    );
    let medians = &peer["median_p2p_uv"];
    for (label, values) in peer["first_p2p_uv"].as_object().unwrap() {
        for (t, v) in times.iter().zip(values.as_array().unwrap()) {
            let ours = sweeps
                .iter()
                .find(|w| {
                    w["channel"] == label.as_str()
                        && (w["stim_time_s"].as_f64().unwrap_or(f64::NAN) - t).abs() < 1e-3
                })
                .map_or(
                    "not judged (not innervated by the stimulated branch)".to_string(),
                    |w| {
                        format!(
                            "{} ({})",
                            w["lsr_p2p_uv"],
                            w["status"].as_str().unwrap_or("?")
                        )
                    },
                );
            s += &format!("| {t:.3} | {label} | {v} | {ours} |\n");
        }
    }
    s += &format!("\nPeer median p2p over all stimuli, uV: {medians}\n");
    s
}

fn x_rt(signal_s: f64, wall_s: f64) -> String {
    format!("{:.0}x", signal_s / wall_s)
}

fn main() {
    if common::skipped_under_cargo_test("analyze") {
        return;
    }
    let minutes = env_f64("LSRMON_BENCH_MINUTES", 10.0);
    let reps = env_f64("LSRMON_BENCH_REPS", 3.0).max(1.0) as usize;
    let full = env_flag("LSRMON_BENCH_FULL");
    let keep = env_flag("LSRMON_BENCH_KEEP");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_start = common::load_average();
    let bin = lsrmon_bin();
    assert!(bin.exists(), "{} is missing", bin.display());
    eprintln!("bench: lsrmon binary {}", bin.display());

    let mut rows = Vec::new();
    // The two formats as pynwb writes them (3 channels), then lsrmon's own session
    // files (4 channels, 48 kHz).
    for kind in [&PYNWB_F32, &PYNWB_I16_GZIP] {
        match ensure_pynwb(minutes, kind) {
            Some(path) => rows.push(measure(&path, kind.label, kind.tag, reps, cores)),
            None => eprintln!(
                "bench: no Python environment (`./dev setup`): {} skipped",
                kind.label
            ),
        }
    }
    for kind in [&F32_RAW, &I16_GZIP] {
        let path = ensure(minutes, kind);
        rows.push(measure(&path, kind.label, kind.tag, reps, cores));
    }

    let mut md = format!(
        "## lsrmon analyze: throughput, read floor, memory, numpy/scipy peer\n\n\
         Files: 10-minute cases of the simulated patient (seed 1), copied by pynwb \
         (`tests/py/write_pynwb_storage.py`: 3 EMG channels, stimuli in the stimulus table) \
         into 48 kHz float32 uncompressed and 44.1 kHz int16 gzip, and lsrmon's own session \
         files (4 channels, trigger + 3 EMG, 48 kHz); warm page cache; \
         load average at the start {load_start}. \
         \"x RT\" = seconds of signal per second of wall time. Times: median of {reps}. \
         Read floor = `NwbSource` reading every sample in analyze's 0.5 s blocks, nothing else; \
         h5py read = `peer_numpy.py FILE --read-only` (`dataset[:]`, time inside the process). \
         Analyze = `lsrmon analyze FILE -j 1` as a child process (start-up and JSON output \
         included). All cores = {cores} copies in one `lsrmon analyze -j {cores}`, aggregate. \
         Peer = `benches/peer_numpy.py` (h5py load, iirnotch+filtfilt, Butterworth 20-3000 Hz \
         sosfiltfilt, 6-40 ms p2p on each EMG channel), whole process incl. imports.\n\n\
         | file | size MB | signal s | read floor s (x RT) | h5py read s | analyze 1 core s (x RT) | analyze / floor | analyze / h5py read | all {cores} cores aggregate x RT (cores busy) | peak RSS MB (1 core / all) | peer s (peak MB) | peer / lsrmon |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in &rows {
        let (peer_s, peer_ratio) = match &r.peer {
            Some(p) => {
                let s = p.run.wall.as_secs_f64();
                (
                    format!("{s:.2} ({:.0})", p.run.rss_mb()),
                    format!("{:.1}", s / r.analyze_s),
                )
            }
            None => ("not run".into(), "-".into()),
        };
        md += &format!(
            "| {} | {:.0} | {:.0} | {:.3} ({}) | {} | {:.3} ({}) | {:.2} | {} | {} ({:.2}) | {:.1} / {:.1} | {} | {} |\n",
            r.label,
            r.size_mb,
            r.signal_s,
            r.floor_s,
            x_rt(r.signal_s, r.floor_s),
            r.h5py_s.map_or("-".into(), |h| format!("{h:.3}")),
            r.analyze_s,
            x_rt(r.signal_s, r.analyze_s),
            r.analyze_s / r.floor_s,
            r.h5py_s
                .map_or("-".into(), |h| format!("{:.2}", r.analyze_s / h)),
            x_rt(r.signal_s * r.all_n as f64, r.all_s),
            r.all_cores_used,
            r.analyze_rss,
            r.all_rss,
            peer_s,
            peer_ratio
        );
    }
    for r in &rows {
        md += &format!("\nPeer sanity, {}:\n\n{}", r.label, r.sanity);
        if let Some(p) = &r.peer {
            md += &format!("Peer steps, s: {}\n", p.result["timing_s"]);
        }
    }

    // Peak memory against file length.
    let mut lengths = vec![2.0, minutes, 60.0];
    if full {
        lengths.push(240.0);
    }
    lengths.sort_by(f64::total_cmp);
    lengths.dedup();
    md += "\n### analyze peak memory against file length (int16 gzip, -j 1)\n\n\
           | length | size MB | sweeps in the JSON | analyze s (x RT) | peak RSS MB |\n|---|---|---|---|---|\n";
    let mut points = Vec::new();
    for &m in &lengths {
        let path = ensure(m, &I16_GZIP);
        read_floor(&path); // warm
        let (run, json) = analyze(
            std::slice::from_ref(&path),
            1,
            &format!("analyze_len_{}", minutes_tag(m)),
        );
        let v: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let sweeps = v["sweeps"].as_array().map_or(0, Vec::len);
        let secs = m * 60.0;
        eprintln!(
            "bench: {m} min: {:.2} s, peak {:.1} MB",
            run.wall.as_secs_f64(),
            run.rss_mb()
        );
        md += &format!(
            "| {m} min | {:.0} | {sweeps} | {:.2} ({}) | {:.1} |\n",
            file_mb(&path),
            run.wall.as_secs_f64(),
            x_rt(secs, run.wall.as_secs_f64()),
            run.rss_mb()
        );
        points.push((m / 60.0, run.rss_mb()));
        if m > 120.0 && !keep {
            let _ = std::fs::remove_file(&path);
            eprintln!(
                "bench: deleted {} (LSRMON_BENCH_KEEP=1 keeps it)",
                path.display()
            );
        }
    }
    md += &format!(
        "\nPeak RSS slope: {:.2} MB per hour of signal (least squares over the lengths above).\n",
        slope(&points)
    );
    if !full {
        md += "The 4-hour case: `LSRMON_BENCH_FULL=1` (generates a 3 GB file).\n";
    }

    // Targets.
    md += "\n### Targets\n\n| target | measured |\n|---|---|\n";
    for r in &rows {
        md += &format!(
            "| analyze within 2x of the read floor ({}) | {:.2}x of NwbSource's read{} |\n",
            r.label,
            r.analyze_s / r.floor_s,
            r.h5py_s.map_or(String::new(), |h| format!(
                ", {:.2}x of h5py's",
                r.analyze_s / h
            ))
        );
    }
    for r in &rows {
        if let Some(p) = &r.peer {
            md += &format!(
                "| at least 20x faster than the numpy/scipy peer ({}) | {:.1}x |\n",
                r.label,
                p.run.wall.as_secs_f64() / r.analyze_s
            );
        }
    }
    let (h, mb) = points.last().copied().unwrap_or((0.0, f64::NAN));
    md += &format!(
        "| peak memory independent of file length | {:.1} MB per hour of signal ({:.1} MB at {:.2} h, {mb:.1} MB at {h:.1} h) |\n",
        slope(&points),
        points[0].1,
        points[0].0,
    );
    md += &if h >= 4.0 {
        format!("| peak memory < 100 MB, 4 h 4 ch 48 kHz | {mb:.1} MB |\n")
    } else {
        format!(
            "| peak memory < 100 MB, 4 h 4 ch 48 kHz | not measured (`LSRMON_BENCH_FULL=1`); {mb:.1} MB at {h:.1} h |\n"
        )
    };
    publish("analyze", &md);
}
