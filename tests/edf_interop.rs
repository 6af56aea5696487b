//! `lsrmon export` checked against the reference EDF readers, through the real binary:
//!
//! - simulated and written cases exported as EDF+C and BDF+C read back alike in pyedflib,
//!   edfio and MNE: every sample within half a quantisation step of the session's, every
//!   stimulus, marker and state change as an annotation at its time (to 1 us) with its text;
//! - the header passes EDFbrowser-style checks (reserved field, record duration, annotation
//!   signal, time-keeping TALs, anonymised patient and recording fields, file length);
//! - `analyze` of the exported file gives the states and declaration times of `analyze` of
//!   the session it came from (within one sweep).

mod edf_common;
mod nwb_common;

use std::path::{Path, PathBuf};

use edf_common::{analyze, field, lsrmon_ok, read_with_libraries, scratch_dir, signal_field};
use lsrmon::model::Branch;
use lsrmon::nwb::{NwbSource, ReadOptions, SessionMeta, WriterOptions};
use lsrmon::source::{Source, SourceEvent};
use serde_json::Value;

/// One annotation a reader must report: onset in s from the first sample, duration, text.
#[derive(Clone, Debug)]
struct Expected {
    onset: f64,
    duration: Option<f64>,
    text: String,
}

/// What a session holds, as lsrmon's own NWB reader gives it.
struct Session {
    rate: f64,
    labels: Vec<String>,
    /// Per channel, microvolts.
    uv: Vec<Vec<f64>>,
    annotations: Vec<Expected>,
    subject: String,
    /// The first sample's local clock time, ISO 8601 without offset.
    start: String,
}

fn simulate(out: &Path, extra: &[&str]) {
    let mut args = vec![
        "simulate",
        "--out",
        out.to_str().unwrap(),
        "--scenario",
        "abrupt",
        "--seed",
        "7",
        "--overwrite",
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"--rate") {
        args.extend_from_slice(&["--rate", "5000"]);
    }
    lsrmon_ok(&args);
}

/// A session written through the library: 4 channels at 2 kHz with a trigger, a start time
/// 0.375 s past the second, 6.3 s (so the last record is padded), stimuli a fraction of a
/// frame off the sample grid.
fn written_session(out: &Path) {
    let info = nwb_common::info(2000.0);
    let mut meta = SessionMeta::new(
        "0b1f3f2e-3c4d-4e5f-8a6b-7c8d9e0f1a15",
        "2026-03-02T08:30:00.375+09:00",
        "case-0015",
    );
    meta.sex = "U".into();
    let opts = WriterOptions::default();
    let mut w =
        lsrmon::nwb::SessionWriter::create_with(out, &info, &meta, "{}", &opts).expect("writer");
    let total = (6.3 * 2000.0) as u64;
    w.append_frames(&nwb_common::frames(3, 0, total, 4))
        .unwrap();
    for k in 0..12u64 {
        let br = if k % 2 == 0 {
            Branch::Zygomatic
        } else {
            Branch::MarginalMandibular
        };
        w.add_stimulus(&nwb_common::stimulus(
            k,
            (k as f64 * 0.5 + 0.25) * 2000.0 + 0.375,
            br,
        ));
    }
    for (t, label) in [(0.7, "dural opening"), (4.2, "pad placed")] {
        w.add_marker(&lsrmon::model::Marker {
            time_s: t,
            label: label.into(),
        });
    }
    w.commit().unwrap();
    w.finish().unwrap();
}

/// `written.nwb` with its series starting `t0` s after the session's start (the stimuli
/// and markers keep their times in the file: those before `t0` fall before the first sample).
fn shifted_session(written: &Path, out: &Path, t0: f64) {
    std::fs::copy(written, out).unwrap();
    let code = format!(
        "import h5py, sys\nwith h5py.File(sys.argv[1], 'r+') as f:\n    \
         f['acquisition/emg_raw/starting_time'][()] = {t0}\n"
    );
    let out = nwb_common::command(edf_common::python())
        .args(["-c", &code])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn session(path: &Path, subject: &str, start: &str) -> Session {
    let mut src = NwbSource::open(path, &ReadOptions::default()).unwrap();
    // Markers come on the stream's time, state changes in the file's time; the export's
    // annotations are from its first sample, `t0` after the file's time zero.
    let t0 = src.starting_time_s();
    let info = src.info().clone();
    let c = info.channels.len();
    let rate = info.sample_rate_hz;
    let mut uv = vec![Vec::new(); c];
    let mut buf = vec![0f32; 4096 * c];
    let mut events = Vec::new();
    loop {
        let n = src.read(&mut buf, &mut events).unwrap();
        if n == 0 {
            break;
        }
        for f in buf[..n * c].chunks_exact(c) {
            for (j, &v) in f.iter().enumerate() {
                let ch = &info.channels[j];
                uv[j].push((v as f64 * ch.volts_per_unit + ch.offset_volts) * 1e6);
            }
        }
    }
    let mut annotations = Vec::new();
    for e in events {
        if let SourceEvent::Stimulus {
            frame_time,
            branch,
            intensity_ma,
            pulse_width_s,
        } = e
        {
            let ma = if intensity_ma.is_finite() {
                format!(" {intensity_ma} mA")
            } else {
                String::new()
            };
            annotations.push(Expected {
                onset: frame_time / rate,
                duration: (pulse_width_s > 0.0).then_some(pulse_width_s as f64),
                text: format!("stimulus {}{ma}", branch.name()),
            });
        }
    }
    for m in src.markers() {
        annotations.push(Expected {
            onset: m.time_s,
            duration: None,
            text: m.label,
        });
    }
    let a = analyze(path, &[]);
    for ch in a["channels"].as_array().unwrap() {
        for e in ch["events"].as_array().unwrap() {
            annotations.push(Expected {
                onset: e["time_s"].as_f64().unwrap() - t0,
                duration: None,
                text: format!(
                    "LSR {}: {} (declared at {} s)",
                    ch["channel"].as_str().unwrap(),
                    e["state"].as_str().unwrap(),
                    e["declared_at_s"].as_f64().unwrap()
                ),
            });
        }
    }
    Session {
        rate,
        labels: info.channels.iter().map(|c| c.label.clone()).collect(),
        uv,
        annotations,
        subject: subject.into(),
        start: start.into(),
    }
}

fn export(nwb: &Path, out: &Path) {
    let flag = if out.extension().unwrap() == "bdf" {
        "--bdf"
    } else {
        "--edf"
    };
    lsrmon_ok(&["export", nwb.to_str().unwrap(), flag, out.to_str().unwrap()]);
}

/// EDFbrowser-style checks of the raw bytes; returns every problem found.
fn header_problems(bytes: &[u8], bdf: bool, s: &Session) -> Vec<String> {
    let mut p = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            p.push(what);
        }
    };
    if bytes.len() < 256 {
        return vec![format!("{} bytes", bytes.len())];
    }
    let version_ok = if bdf {
        &bytes[0..8] == b"\xffBIOSEMI"
    } else {
        &bytes[0..8] == b"0       "
    };
    check(version_ok, "version".into());
    let ns: usize = field(bytes, 252, 4).parse().unwrap_or(0);
    let hb = 256 * (ns + 1);
    check(
        bytes[1..hb.min(bytes.len())]
            .iter()
            .all(|b| (0x20..=0x7e).contains(b)),
        "the header is printable ASCII".into(),
    );
    check(
        field(bytes, 184, 8) == hb.to_string(),
        format!("header bytes {} for {ns} signals", field(bytes, 184, 8)),
    );
    let kind = if bdf { "BDF" } else { "EDF" };
    check(
        field(bytes, 192, 44) == format!("{kind}+C"),
        format!("reserved '{}'", field(bytes, 192, 44)),
    );
    // Patient: code, sex, birthdate, name; only the pseudonymous code is given.
    check(
        field(bytes, 8, 80) == format!("{} X X X", s.subject),
        format!("patient '{}'", field(bytes, 8, 80)),
    );
    // Recording: Startdate dd-MMM-yyyy, then admin code, technician, equipment unknown.
    let rec = field(bytes, 88, 80);
    let words: Vec<&str> = rec.split(' ').collect();
    let (date, time) = (field(bytes, 168, 8), field(bytes, 176, 8));
    let months = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let same_date = words.len() == 5 && words[1].len() == 11 && {
        let d: Vec<&str> = date.split('.').collect();
        let m = months
            .iter()
            .position(|&m| m == &words[1][3..6])
            .map(|i| format!("{:02}", i + 1));
        d.len() == 3
            && words[1][0..2] == *d[0]
            && m.as_deref() == Some(d[1])
            && words[1][9..11] == *d[2]
    };
    check(
        words[0] == "Startdate" && same_date && words[2..].iter().all(|&w| w == "X"),
        format!("recording '{rec}' with start date {date}"),
    );
    check(
        s.start.starts_with(&format!(
            "20{}-{}-{}T{}:{}:{}",
            &date[6..8],
            &date[3..5],
            &date[0..2],
            &time[0..2],
            &time[3..5],
            &time[6..8]
        )),
        format!("start {date} {time}, the session starts at {}", s.start),
    );
    let records: u64 = field(bytes, 236, 8).parse().unwrap_or(0);
    let duration = field(bytes, 244, 8);
    let dur: f64 = duration.parse().unwrap_or(0.0);
    check(
        records > 0 && dur > 0.0,
        format!("{records} records of '{duration}' s"),
    );
    let bps = if bdf { 3 } else { 2 };
    let mut record_bytes = 0;
    let mut annotation = None;
    let mut offset = 0;
    for k in 0..ns {
        let label = signal_field(bytes, ns, 0, 16, k);
        let spr: usize = signal_field(bytes, ns, 216, 8, k).parse().unwrap_or(0);
        let num = |off| signal_field(bytes, ns, off, 8, k).parse::<f64>();
        let (pmin, pmax, dmin, dmax) = (num(104), num(112), num(120), num(128));
        let (dlo, dhi) = if bdf {
            (-8_388_608.0, 8_388_607.0)
        } else {
            (-32_768.0, 32_767.0)
        };
        let numbers_ok = matches!((&pmin, &pmax, &dmin, &dmax), (Ok(a), Ok(b), Ok(c), Ok(d))
            if a != b && c < d && *c >= dlo && *d <= dhi);
        check(numbers_ok, format!("signal {k} '{label}': ranges"));
        if label == format!("{kind} Annotations") {
            annotation = Some((offset, spr));
            check(
                dmin == Ok(dlo) && dmax == Ok(dhi),
                format!("annotation signal digital range {dmin:?} {dmax:?}"),
            );
        } else {
            check(
                (spr as f64 / dur - s.rate).abs() < 1e-9,
                format!(
                    "'{label}': {spr} samples per {dur} s record, rate {}",
                    s.rate
                ),
            );
        }
        offset += spr * bps;
        record_bytes += spr * bps;
    }
    check(
        annotation.is_some(),
        format!("no '{kind} Annotations' signal"),
    );
    check(
        bytes.len() as u64 == hb as u64 + records * record_bytes as u64,
        format!(
            "file of {} bytes, header and {records} records make {}",
            bytes.len(),
            hb as u64 + records * record_bytes as u64
        ),
    );
    // Every record starts with its time-keeping TAL, the records follow each other.
    if let Some((off, spr)) = annotation {
        let first = hb + off;
        let mut t0 = None;
        for r in 0..records as usize {
            let a = first + r * record_bytes;
            let Some(tal) = bytes.get(a..a + spr * bps) else {
                break;
            };
            let end = tal.iter().position(|&b| b == 0x14).unwrap_or(0);
            let onset: f64 = std::str::from_utf8(&tal[..end])
                .ok()
                .and_then(|t| t.strip_prefix('+'))
                .and_then(|t| t.parse().ok())
                .unwrap_or(f64::NAN);
            let t0 = *t0.get_or_insert(onset);
            check(
                tal.get(end + 1) == Some(&0x14) && (onset - t0 - r as f64 * dur).abs() < 1e-9,
                format!(
                    "record {r}: time-keeping TAL {:?}",
                    String::from_utf8_lossy(&tal[..end])
                ),
            );
        }
    }
    p
}

/// Compares what each library read with the session; panics with every difference.
fn compare(file: &Path, s: &Session) {
    let bdf = file.extension().unwrap() == "bdf";
    let bytes = std::fs::read(file).unwrap();
    let problems = header_problems(&bytes, bdf, s);
    assert!(problems.is_empty(), "{}: {problems:#?}", file.display());
    let frames = s.uv[0].len();
    let records: usize = field(&bytes, 236, 8).parse().unwrap();
    let seen = read_with_libraries(file);
    let steps: Vec<f64> = seen[0].json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mut expected = s.annotations.clone();
    let padded = seen[0].samples[0].len() - frames;
    if padded > 0 {
        expected.push(Expected {
            onset: frames as f64 / s.rate,
            duration: Some(padded as f64 / s.rate),
            text: format!("end of recording: the last {padded} samples repeat the last value"),
        });
    }
    for v in &seen {
        let lib = v.lib;
        let j = &v.json;
        let labels: Vec<&str> = j["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let want: Vec<String> = s
            .labels
            .iter()
            .map(|l| l.chars().take(16).collect())
            .collect();
        assert_eq!(labels, want, "{lib}: labels of {}", file.display());
        for r in j["rates"].as_array().unwrap() {
            assert_eq!(r.as_f64().unwrap(), s.rate, "{lib}: rate");
        }
        // Samples: within half a step (rounding); the padding repeats the last sample.
        for (k, got) in v.samples.iter().enumerate() {
            assert_eq!(got.len(), records * (got.len() / records), "{lib}: samples");
            let mut worst: f64 = 0.0;
            for (i, &g) in got.iter().enumerate() {
                let want = s.uv[k][i.min(frames - 1)];
                worst = worst.max((g - want).abs() / steps[k]);
            }
            assert!(
                worst <= 0.5 + 1e-6,
                "{lib}: {} '{}' differs by {worst} quantisation steps",
                file.display(),
                labels[k]
            );
        }
        // Start time: pyedflib and edfio to the microsecond; MNE drops the sub-second.
        let start = j["start"].as_str().unwrap_or("");
        let whole = &s.start[..19];
        if lib == "mne" {
            assert_eq!(&start[..19.min(start.len())], whole, "{lib}: start");
        } else {
            let frac = s.start.get(19..).unwrap_or("");
            let frac = format!("{:.6}", format!("0{frac}").parse::<f64>().unwrap_or(0.0));
            let want = if frac == "0.000000" {
                whole.to_string()
            } else {
                format!("{whole}{}", &frac[1..])
            };
            assert_eq!(start, want, "{lib}: start of {}", file.display());
            assert_eq!(
                j["patient"].as_str().unwrap(),
                s.subject,
                "{lib}: patient code"
            );
        }
        // Annotations: the same set, each at its time to 1 us, durations alike.
        let got: Vec<(f64, Option<f64>, String)> = j["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a[0].as_f64().unwrap(),
                    a[1].as_f64(),
                    a[2].as_str().unwrap().into(),
                )
            })
            .collect();
        let mut used = vec![false; got.len()];
        for e in &expected {
            let hit = got
                .iter()
                .enumerate()
                .position(|(i, g)| !used[i] && g.2 == e.text && (g.0 - e.onset).abs() <= 1e-6);
            let Some(i) = hit else {
                panic!(
                    "{lib}: {}: no annotation '{}' at {} s; nearest: {:?}",
                    file.display(),
                    e.text,
                    e.onset,
                    got.iter()
                        .filter(|g| g.2 == e.text)
                        .min_by(|a, b| (a.0 - e.onset).abs().total_cmp(&(b.0 - e.onset).abs()))
                );
            };
            used[i] = true;
            if let Some(d) = e.duration {
                let gd = got[i].1.unwrap_or(f64::NAN);
                assert!(
                    (gd - d).abs() <= 1e-6,
                    "{lib}: duration of '{}': {gd} vs {d}",
                    e.text
                );
            }
        }
        let extra: Vec<_> = got.iter().zip(&used).filter(|(_, u)| !**u).collect();
        assert!(
            extra.is_empty(),
            "{lib}: annotations not in the session: {extra:?}"
        );
    }
}

fn cases(dir: &Path) -> Vec<(PathBuf, Session)> {
    let sim = dir.join("sim_i16.nwb");
    // Past 214.7 s: onsets beyond what 32-bit counters of 100 ns ticks hold.
    simulate(&sim, &["--duration", "220"]);
    let f32 = dir.join("sim_f32.nwb");
    simulate(&f32, &["--duration", "20", "--sample-format", "f32"]);
    // 44.1 kHz: records of 0.1 s (4410 samples; not the 1-s records readers often assume).
    let cd = dir.join("sim_44k.nwb");
    simulate(&cd, &["--duration", "10", "--rate", "44100"]);
    let written = dir.join("written.nwb");
    written_session(&written);
    let shifted = dir.join("shifted.nwb");
    shifted_session(&written, &shifted, 0.5);
    vec![
        (
            sim.clone(),
            session(&sim, "sim-abrupt-7", "2026-01-01T08:00:00"),
        ),
        (
            f32.clone(),
            session(&f32, "sim-abrupt-7", "2026-01-01T08:00:00"),
        ),
        (
            cd.clone(),
            session(&cd, "sim-abrupt-7", "2026-01-01T08:00:00"),
        ),
        (
            written.clone(),
            session(&written, "case-0015", "2026-03-02T08:30:00.375"),
        ),
        (
            shifted.clone(),
            session(&shifted, "case-0015", "2026-03-02T08:30:00.875"),
        ),
    ]
}

#[test]
fn exports_read_back_alike_in_pyedflib_edfio_and_mne() {
    let dir = scratch_dir("export");
    for (nwb, s) in cases(&dir) {
        assert!(
            s.annotations.iter().any(|a| a.text.starts_with("stimulus")),
            "{}: the case has stimuli",
            nwb.display()
        );
        for ext in ["edf", "bdf"] {
            let out = nwb.with_extension(ext);
            export(&nwb, &out);
            compare(&out, &s);
        }
    }
}

/// A state change: state, time, declared at.
type Change = (String, f64, f64);

/// Per channel: label, final state, state changes.
fn states(a: &Value) -> Vec<(String, String, Vec<Change>)> {
    a["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["channel"].as_str().unwrap().to_string(),
                c["final_state"].as_str().unwrap().to_string(),
                c["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| {
                        (
                            e["state"].as_str().unwrap().to_string(),
                            e["time_s"].as_f64().unwrap(),
                            e["declared_at_s"].as_f64().unwrap(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

/// The longest interval between stimuli of an analysis (one sweep).
fn sweep_of(a: &Value) -> f64 {
    let mut stim: Vec<f64> = a["sweeps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stim_time_s"].as_f64().unwrap())
        .collect();
    stim.sort_by(f64::total_cmp);
    stim.dedup();
    stim.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

/// `b` has `a`'s stimuli count, markers, channels, final states and state changes, each at
/// its time and declaration time within one sweep.
fn assert_same_analysis(what: &str, a: &Value, b: &Value) {
    let sweep = sweep_of(a);
    assert!(sweep > 0.0, "the case has sweeps");
    assert_eq!(
        b["counters"]["stimuli"], a["counters"]["stimuli"],
        "{what}: stimuli"
    );
    let marks = |x: &Value| -> Vec<(String, f64)> {
        x["markers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["label"].as_str().unwrap().into(),
                    m["time_s"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let (gm, wm) = (marks(b), marks(a));
    assert!(!wm.is_empty(), "the case has markers");
    assert_eq!(gm.len(), wm.len(), "{what}: markers");
    for (g, w) in gm.iter().zip(&wm) {
        assert!(
            g.0 == w.0 && (g.1 - w.1).abs() < 1e-6,
            "{what}: marker {g:?} vs {w:?}"
        );
    }
    let (got, want) = (states(b), states(a));
    assert!(
        want.iter().any(|c| !c.2.is_empty()),
        "the case has state changes"
    );
    assert_eq!(got.len(), want.len(), "{what}: channels");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            (&g.0, &g.1),
            (&w.0, &w.1),
            "{what}: channel and final state"
        );
        let gs: Vec<&str> = g.2.iter().map(|e| e.0.as_str()).collect();
        let ws: Vec<&str> = w.2.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(gs, ws, "{what}: '{}' state changes", g.0);
        for (ge, we) in g.2.iter().zip(&w.2) {
            assert!(
                (ge.1 - we.1).abs() <= sweep && (ge.2 - we.2).abs() <= sweep,
                "{what}: '{}' {}: at {} / declared {} vs {} / {} (one sweep is {sweep} s)",
                g.0,
                ge.0,
                ge.1,
                ge.2,
                we.1,
                we.2
            );
        }
    }
}

#[test]
fn analyze_of_an_export_matches_analyze_of_the_session() {
    let dir = scratch_dir("analyze");
    let nwb = dir.join("case.nwb");
    simulate(&nwb, &["--duration", "150", "--cautery", "1"]);
    let a = analyze(&nwb, &[]);
    for ext in ["edf", "bdf"] {
        let out = dir.join(format!("case.{ext}"));
        export(&nwb, &out);
        let b = analyze(&out, &[]);
        assert_eq!(
            b["source"]["stimulus_timing"],
            a["source"]["stimulus_timing"]
        );
        assert_same_analysis(ext, &a, &b);
    }

    // replay too: the same channels end in the same states.
    let finals = |f: &Path| -> Vec<String> {
        let out = lsrmon_ok(&[
            "replay",
            f.to_str().unwrap(),
            "--fast",
            "--headless",
            "--changes-only",
        ]);
        String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| l.contains(" final "))
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .collect()
    };
    let want = finals(&nwb);
    assert!(!want.is_empty(), "replay prints a summary");
    assert_eq!(finals(&dir.join("case.bdf")), want, "replay of the export");

    // Without the stimulus annotations (rewritten by edfio): the stimuli come from the
    // trigger channel, or, with the trigger channel left out, from a --stimuli table.
    let edf = dir.join("case.edf");
    let bare = dir.join("bare.edf");
    let code = "import edfio, sys\n\
        e = edfio.read_edf(sys.argv[1])\n\
        e.set_annotations([a for a in e.annotations if not a.text.startswith('stimulus')])\n\
        e.write(sys.argv[2])\n";
    let out = nwb_common::command(edf_common::python())
        .args(["-W", "ignore", "-c", code])
        .args([&edf, &bare])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = analyze(&bare, &[]);
    assert_eq!(
        b["source"]["stimulus_timing"], "trigger channel",
        "{}",
        b["source"]
    );
    assert_same_analysis("trigger channel", &a, &b);

    let table = dir.join("stimuli.csv");
    let mut csv = String::from("time_s,branch\n");
    let mut seen = std::collections::BTreeSet::new();
    for s in a["sweeps"].as_array().unwrap() {
        if seen.insert(s["stim_index"].as_u64().unwrap()) {
            csv += &format!(
                "{},{}\n",
                s["stim_time_s"].as_f64().unwrap(),
                s["branch"].as_str().unwrap()
            );
        }
    }
    std::fs::write(&table, csv).unwrap();
    let mut args: Vec<String> = Vec::new();
    for c in a["source"]["channels"].as_array().unwrap() {
        if c["role"] == "emg" {
            args.push("--channel".into());
            args.push(format!(
                "{}:{}:emg",
                c["label"].as_str().unwrap(),
                c["muscle"].as_str().unwrap()
            ));
        }
    }
    args.push("--stimuli".into());
    args.push(table.to_str().unwrap().into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let b = analyze(&bare, &args);
    assert_eq!(b["source"]["channels"].as_array().unwrap().len(), 3);
    assert_eq!(b["source"]["stimulus_timing"], "stimulus events");
    assert_same_analysis("--stimuli table", &a, &b);
}

#[test]
fn bids_sidecars_describe_the_export() {
    let dir = scratch_dir("bids");
    let nwb = dir.join("written.nwb");
    written_session(&nwb);
    let s = session(&nwb, "case-0015", "2026-03-02T08:30:00.375");
    let out = dir.join("sub-0015_task-lsrmonitoring_emg.bdf");
    let bids = dir.join("bids");
    lsrmon_ok(&[
        "export",
        nwb.to_str().unwrap(),
        "--bdf",
        out.to_str().unwrap(),
        "--bids",
        bids.to_str().unwrap(),
    ]);
    let base = bids.join("sub-0015_task-lsrmonitoring");
    let read = |suffix: &str| {
        std::fs::read_to_string(format!("{}{suffix}", base.display()))
            .unwrap_or_else(|e| panic!("{suffix}: {e}"))
    };
    let json: Value = serde_json::from_str(&read("_emg.json")).unwrap();
    assert_eq!(json["SamplingFrequency"], 2000.0);
    assert_eq!(json["EMGChannelCount"], 3);
    assert_eq!(json["TriggerChannelCount"], 1);
    let frames = s.uv[0].len() as f64;
    assert!((json["RecordingDuration"].as_f64().unwrap() - frames / 2000.0).abs() < 1e-9);
    // One row per channel, in the file's order, with the file's unit and step.
    let channels = read("_channels.tsv");
    let rows: Vec<Vec<&str>> = channels.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "name",
            "type",
            "units",
            "sampling_frequency",
            "description",
            "resolution"
        ]
    );
    assert_eq!(rows.len(), 1 + s.labels.len());
    let seen = read_with_libraries(&out);
    for (k, r) in rows[1..].iter().enumerate() {
        assert_eq!(r[0], s.labels[k]);
        assert_eq!(
            r[1],
            if s.labels[k] == "trigger" {
                "TRIG"
            } else {
                "EMG"
            }
        );
        assert_eq!(r[2], "uV");
        let step = seen[0].json["steps"][k].as_f64().unwrap();
        assert!((r[5].parse::<f64>().unwrap() - step).abs() < 1e-12 * step.max(1.0));
    }
    // One row per annotation of the file, onsets from the first sample.
    let events = read("_events.tsv");
    let rows: Vec<Vec<&str>> = events.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows[0], ["onset", "duration", "trial_type", "value"]);
    let got = seen[0].json["annotations"].as_array().unwrap();
    assert_eq!(rows.len() - 1, got.len());
    for r in &rows[1..] {
        let onset: f64 = r[0].parse().unwrap();
        assert!(
            got.iter()
                .any(|a| a[2] == r[3] && (a[0].as_f64().unwrap() - onset).abs() < 1e-6),
            "events.tsv row {r:?} is not an annotation of the file"
        );
        let kind = match r[3] {
            t if t.starts_with("stimulus") => "stimulus",
            t if t.starts_with("LSR ") => "state_change",
            t if t.starts_with("end of recording") => "padding",
            _ => "marker",
        };
        assert_eq!(r[2], kind, "{r:?}");
    }
}

#[test]
fn exports_that_cannot_be_made_exit_2_naming_the_file() {
    let dir = scratch_dir("export_errors");
    // A session with lost samples: EDF+C promises contiguous records.
    let gappy = dir.join("gappy.nwb");
    let info = nwb_common::info(2000.0);
    let mut w = lsrmon::nwb::SessionWriter::create_with(
        &gappy,
        &info,
        &nwb_common::meta(),
        "{}",
        &WriterOptions::default(),
    )
    .unwrap();
    w.append_frames(&nwb_common::frames(1, 0, 4000, 4)).unwrap();
    w.add_gap(2000, 500);
    w.commit().unwrap();
    w.finish().unwrap();
    let edf = dir.join("good.edf");
    edf_common::good::write_good(&edf, 3);
    let out = dir.join("out.edf");
    let (g, e, o) = (
        gappy.to_str().unwrap(),
        edf.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let absent = dir.join("absent.nwb");
    let a = absent.to_str().unwrap();
    let cases: &[(&[&str], &str, &[&str])] = &[
        (&["export", g, "--edf", o], g, &["gaps", "EDF+C"]),
        (&["export", e, "--edf", o], e, &["NWB"]),
        (&["export", a, "--bdf", o], a, &[]),
    ];
    for (args, file, words) in cases {
        let r = edf_common::lsrmon(args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(file), "{args:?}: {err}");
        for w in *words {
            assert!(err.contains(w), "{args:?}: '{w}' missing in {err}");
        }
        assert!(!out.exists(), "{args:?} left {o} behind");
    }
    // No temporary file is left either.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
