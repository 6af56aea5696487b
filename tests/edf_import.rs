//! Files written by pyedflib, edfio and MNE (EDF+C, BDF+C, several rates, a sub-second
//! start, records of 0.5 s), an EDF+D with a gap, and the sample file pyedflib ships, opened
//! by lsrmon's reader: samples within one quantisation step, stimuli and markers from the
//! annotations at their times, the gap as a gap, signals at another rate left out (or a
//! clear error when `--channel` names EMG channels at two rates); `analyze` accepts them.

mod edf_common;
mod nwb_common;

use std::path::Path;

use edf_common::{analyze, lsrmon, python, read_with_libraries, run_py, scratch_dir};
use lsrmon::edf::EdfSource;
use lsrmon::model::{Branch, ChannelInfo};
use lsrmon::nwb::ChannelSpec;
use lsrmon::source::{Source, SourceEvent};
use serde_json::Value;

struct Read {
    channels: Vec<ChannelInfo>,
    rate: f64,
    /// Per channel, in the signal's physical unit (microvolts here).
    samples: Vec<Vec<f64>>,
    stimuli: Vec<(f64, Branch, f32, f32)>,
    gaps: Vec<(u64, u64)>,
    markers: Vec<(f64, String)>,
    notes: Vec<String>,
}

fn read(path: &Path, channels: Option<&[ChannelSpec]>) -> Read {
    let mut src = EdfSource::open(path, channels).unwrap_or_else(|e| panic!("{e}"));
    let info = src.info().clone();
    let c = info.channels.len();
    let mut samples = vec![Vec::new(); c];
    let (mut stimuli, mut gaps) = (Vec::new(), Vec::new());
    let mut buf = vec![0f32; 777 * c];
    let mut events = Vec::new();
    loop {
        let n = src.read(&mut buf, &mut events).unwrap();
        if n == 0 {
            break;
        }
        for f in buf[..n * c].chunks_exact(c) {
            for (j, &v) in f.iter().enumerate() {
                let ch = &info.channels[j];
                samples[j].push((v as f64 * ch.volts_per_unit + ch.offset_volts) * 1e6);
            }
        }
    }
    for e in events {
        match e {
            SourceEvent::Stimulus {
                frame_time,
                branch,
                intensity_ma,
                pulse_width_s,
            } => stimuli.push((frame_time, branch, intensity_ma, pulse_width_s)),
            SourceEvent::Gap { frame, lost_frames } => gaps.push((frame, lost_frames)),
        }
    }
    Read {
        rate: info.sample_rate_hz,
        channels: info.channels,
        samples,
        stimuli,
        gaps,
        markers: src
            .markers()
            .into_iter()
            .map(|m| (m.time_s, m.label))
            .collect(),
        notes: src.notes().to_vec(),
    }
}

/// Checks one file against what its writer says it holds (`NAME.json`).
fn check(path: &Path, want: &Value) {
    let name = path.display();
    let r = read(path, None);
    let signals = want["signals"].as_array().unwrap();
    let top = signals
        .iter()
        .map(|s| s["rate"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let emg: Vec<&Value> = signals
        .iter()
        .filter(|s| s["rate"].as_f64().unwrap() == top)
        .collect();
    assert_eq!(r.rate, top, "{name}: rate");
    let labels: Vec<&str> = r.channels.iter().map(|c| c.label.as_str()).collect();
    let want_labels: Vec<&str> = emg.iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(labels, want_labels, "{name}: channels");
    for s in signals
        .iter()
        .filter(|s| s["rate"].as_f64().unwrap() != top)
    {
        let l = s["label"].as_str().unwrap();
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains(l) && n.contains("left out")),
            "{name}: a note says '{l}' is left out: {:?}",
            r.notes
        );
    }
    for (k, s) in emg.iter().enumerate() {
        let step = s["step"].as_f64().unwrap();
        let x: Vec<f64> = s["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(
            r.samples[k].len(),
            x.len(),
            "{name}: samples of {}",
            labels[k]
        );
        let worst = r.samples[k]
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b).abs() / step)
            .fold(0.0, f64::max);
        assert!(worst <= 1.0, "{name}: '{}' off by {worst} steps", labels[k]);
    }
    // Annotations: stimuli become stimuli, anything else a marker, on the stream of samples.
    let (mut stims, mut marks) = (Vec::new(), Vec::new());
    for a in want["annotations"].as_array().unwrap() {
        let t = a.get(3).unwrap_or(&a[0]).as_f64().unwrap();
        let text = a[2].as_str().unwrap();
        if text.starts_with("stimulus") {
            stims.push((t, text, a[1].as_f64()));
        } else {
            marks.push((t, text));
        }
    }
    assert_eq!(
        r.stimuli.len(),
        stims.len(),
        "{name}: stimuli {:?}",
        r.stimuli
    );
    for ((frame, branch, ma, pw), (t, text, d)) in r.stimuli.iter().zip(&stims) {
        assert!(
            (frame / r.rate - t).abs() < 1e-6,
            "{name}: '{text}' at {frame}"
        );
        let words: Vec<&str> = text.split(' ').collect();
        assert_eq!(branch.name(), words[1], "{name}: branch of '{text}'");
        assert_eq!(
            *ma,
            words[2].parse::<f32>().unwrap(),
            "{name}: mA of '{text}'"
        );
        assert!(
            (*pw as f64 - d.unwrap_or(f64::NAN)).abs() < 1e-7,
            "{name}: pulse width of '{text}': {pw}"
        );
    }
    // Markers are on the stream's time (from the first sample), as every source gives them.
    assert_eq!(
        r.markers.len(),
        marks.len(),
        "{name}: markers {:?}",
        r.markers
    );
    for ((t, l), (wt, wl)) in r.markers.iter().zip(&marks) {
        assert_eq!(l, wl, "{name}: marker");
        assert!(
            (t - wt).abs() < 1e-6,
            "{name}: marker '{l}' at {t}, want {wt}"
        );
    }
    let gaps: Vec<(u64, u64)> = want["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let rec = g[0].as_u64().unwrap();
            let per = (want["record_s"].as_f64().unwrap() * top).round() as u64;
            (rec * per, (g[1].as_f64().unwrap() * top).round() as u64)
        })
        .collect();
    assert_eq!(r.gaps, gaps, "{name}: gaps");
    // The whole file through the binary.
    let a = analyze(path, &[]);
    assert_eq!(
        a["source"]["channels"].as_array().unwrap().len(),
        labels.len(),
        "{name}: analyze"
    );
}

#[test]
fn files_written_by_pyedflib_edfio_and_mne_open_in_lsrmon() {
    let dir = scratch_dir("import");
    run_py("write_edf.py", &[&dir]);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let file = p.with_extension("");
            let want: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            check(&file, &want);
            n += 1;
        }
    }
    assert_eq!(n, 9, "write_edf.py writes nine files");
}

#[test]
fn channels_by_label_and_rates_that_differ() {
    let dir = scratch_dir("channels");
    run_py("write_edf.py", &[&dir]);
    let file = dir.join("pyedflib_plus.edf");
    let f = file.to_str().unwrap();
    // One signal by its label, with its muscle.
    let a = analyze(&file, &["--channel", "EMG oculi:orbicularis_oculi:emg"]);
    let ch = a["source"]["channels"].as_array().unwrap();
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0]["label"], "EMG oculi");
    assert_eq!(ch[0]["muscle"], "orbicularis_oculi");
    // EMG channels at two rates: exit 2, and the message says why and what to do.
    let out = lsrmon(&[
        "analyze",
        f,
        "--channel",
        "EMG mentalis:mentalis:emg",
        "--channel",
        "Resp:other:emg",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(f) && err.contains("one sample rate") && err.contains("--channel"),
        "{err}"
    );
    // A label no signal has.
    let out = lsrmon(&["analyze", f, "--channel", "EMG frontalis:frontalis:emg"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("EMG frontalis") && err.contains("EMG mentalis"),
        "{err}"
    );
}

#[test]
fn the_sample_file_pyedflib_ships() {
    let out = nwb_common::command(python())
        .args([
            "-c",
            "import pyedflib; print(pyedflib.data.get_generator_filename())",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let r = read(&path, None);
    // What pyedflib itself reads, signal by signal (matched by label).
    let seen = read_with_libraries(&path);
    let py = &seen[0];
    let labels: Vec<&str> = py.json["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(!r.channels.is_empty());
    for (k, ch) in r.channels.iter().enumerate() {
        let i = labels.iter().position(|&l| l == ch.label).unwrap();
        let step = py.json["steps"][i].as_f64().unwrap();
        assert_eq!(r.samples[k].len(), py.samples[i].len(), "'{}'", ch.label);
        let worst = r.samples[k]
            .iter()
            .zip(&py.samples[i])
            .map(|(a, b)| (a - b).abs() / step)
            .fold(0.0, f64::max);
        assert!(worst <= 1.0, "'{}': {worst} steps off pyedflib", ch.label);
    }
    // Its 200 Hz is below what the analysis accepts: a clear refusal, not a crash.
    let out = lsrmon(&["analyze", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("200 Hz") && err.contains(path.to_str().unwrap()),
        "{err}"
    );
    let markers: Vec<(f64, String)> = py.json["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a[0].as_f64().unwrap(), a[2].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(r.markers.len(), markers.len(), "{:?}", r.markers);
    for ((t, l), (wt, wl)) in r.markers.iter().zip(&markers) {
        assert_eq!(l, wl);
        assert!((t - wt).abs() < 1e-6, "'{l}' at {t}, pyedflib says {wt}");
    }
}
