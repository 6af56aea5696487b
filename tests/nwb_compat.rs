//! Files written by pynwb in the layouts other tools use replay like our own file of the
//! same signal: same samples in microvolts, same stimuli, same markers.

mod nwb_common;

use lsrmon::model::{Branch, Muscle, Role};
use lsrmon::nwb::{ChannelSpec, NwbSource, ReadOptions, WriterOptions};
use lsrmon::source::{Source, SourceEvent};
use nwb_common::*;

const RATE: f64 = 10_000.0;
const FRAMES: u64 = 30_500;
/// `write_pynwb.py`'s clock jump in the timestamps variant, in sample periods.
const JUMP: u64 = 50;

struct Replay {
    labels: Vec<String>,
    uv: Vec<f64>,
    stims: Vec<(f64, Branch, f32, f32)>,
    gaps: Vec<(u64, u64)>,
    markers: Vec<(f64, String)>,
    stimulus_events: bool,
    rate: f64,
}

fn replay(path: &std::path::Path, opts: &ReadOptions) -> Replay {
    let mut src = NwbSource::open(path, opts).unwrap_or_else(|e| panic!("{e}"));
    let info = src.info().clone();
    let (samples, events) = read_all(&mut src, 1000);
    let c = info.channels.len();
    let uv = samples
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = &info.channels[i % c];
            (v as f64 * ch.volts_per_unit + ch.offset_volts) * 1e6
        })
        .collect();
    let mut stims = Vec::new();
    let mut gaps = Vec::new();
    for e in events {
        match e {
            SourceEvent::Stimulus {
                frame_time,
                branch,
                intensity_ma,
                pulse_width_s,
            } => stims.push((frame_time, branch, intensity_ma, pulse_width_s)),
            SourceEvent::Gap { frame, lost_frames } => gaps.push((frame, lost_frames)),
        }
    }
    Replay {
        labels: info.channels.iter().map(|c| c.label.clone()).collect(),
        uv,
        stims,
        gaps,
        markers: src
            .markers()
            .into_iter()
            .map(|m| (m.time_s, m.label))
            .collect(),
        stimulus_events: info.stimulus_events,
        rate: info.sample_rate_hz,
    }
}

fn assert_same_signal(variant: &str, want: &Replay, got: &Replay, rel_tol: f64) {
    assert_eq!(got.uv.len(), want.uv.len(), "{variant}: sample count");
    for (i, (a, b)) in got.uv.iter().zip(&want.uv).enumerate() {
        assert!(
            (a - b).abs() <= b.abs() * rel_tol + 1e-9,
            "{variant}: sample {i}: {a} µV vs {b} µV"
        );
    }
    assert!(
        (got.rate - want.rate).abs() < want.rate * 1e-9,
        "{variant}: rate {} vs {}",
        got.rate,
        want.rate
    );
}

fn assert_same_events(variant: &str, want: &Replay, got: &Replay) {
    assert_eq!(got.stims.len(), want.stims.len(), "{variant}: stimuli");
    for (g, w) in got.stims.iter().zip(&want.stims) {
        assert!(
            (g.0 - w.0).abs() < 1e-3,
            "{variant}: stimulus at frame {} vs {}",
            g.0,
            w.0
        );
        assert_eq!((g.1, g.2, g.3), (w.1, w.2, w.3), "{variant}");
    }
    assert_eq!(got.markers.len(), want.markers.len(), "{variant}: markers");
    for (g, w) in got.markers.iter().zip(&want.markers) {
        assert!(
            (g.0 - w.0).abs() < 1e-6 && g.1 == w.1,
            "{variant}: marker {g:?} vs {w:?}"
        );
    }
}

#[test]
fn pynwb_layouts_replay_like_our_file() {
    let ours = scratch("compat_ours.nwb");
    let info = info(RATE);
    write_session(
        &ours,
        &info,
        11,
        FRAMES as f64 / RATE,
        &WriterOptions::default(),
    );
    let want = replay(&ours, &ReadOptions::default());
    assert_eq!(want.stims.len(), 6);
    assert_eq!(want.markers.len(), 2);
    let labels: Vec<String> = info.channels.iter().map(|c| c.label.clone()).collect();

    let variants = [
        "electrical",
        "int16_gzip",
        "timestamps",
        "events",
        "no_tables",
    ];
    let paths: Vec<_> = variants
        .iter()
        .map(|v| scratch(&format!("compat_{v}.nwb")))
        .collect();
    for (v, p) in variants.iter().zip(&paths) {
        run_py(
            "write_pynwb.py",
            &[
                p.to_str().unwrap(),
                "--variant",
                v,
                "--from",
                ours.to_str().unwrap(),
            ],
        );
    }
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    check_nwb(&refs, false);

    for (v, p) in variants.iter().zip(&paths) {
        let mut opts = ReadOptions::default();
        match *v {
            "timestamps" => opts.series = Some("emg".into()),
            "no_tables" => {
                opts.channels = Some(
                    info.channels
                        .iter()
                        .map(|c| ChannelSpec {
                            label: c.label.clone(),
                            muscle: c.muscle,
                            role: c.role,
                            trigger_branch: c.trigger_branch,
                        })
                        .collect(),
                )
            }
            _ => {}
        }
        let got = replay(p, &opts);
        let tol = if *v == "timestamps" { 1e-6 } else { 1e-12 };
        assert_same_signal(v, &want, &got, tol);
        assert_eq!(got.labels, labels, "{v}: channel labels");
        match *v {
            "no_tables" => {
                assert!(
                    !got.stimulus_events,
                    "no stimuli table: the engine must find stimuli"
                );
                assert!(got.stims.is_empty() && got.markers.is_empty());
            }
            "timestamps" => {
                assert_eq!(
                    got.gaps,
                    vec![(FRAMES / 2, JUMP)],
                    "the clock jump is a gap"
                );
                assert!(got.stimulus_events);
                assert_same_events(v, &want, &got);
            }
            _ => {
                assert!(got.gaps.is_empty(), "{v}");
                assert!(got.stimulus_events);
                assert_same_events(v, &want, &got);
            }
        }
    }
}

#[test]
fn ambiguous_series_needs_a_name() {
    let ours = scratch("compat_amb_src.nwb");
    write_session(&ours, &info(2_000.0), 2, 0.5, &WriterOptions::default());
    let p = scratch("compat_amb.nwb");
    run_py(
        "write_pynwb.py",
        &[
            p.to_str().unwrap(),
            "--variant",
            "timestamps",
            "--from",
            ours.to_str().unwrap(),
        ],
    );
    let e = NwbSource::open(&p, &ReadOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("compat_amb.nwb: /acquisition:") && e.contains("--series"),
        "{e}"
    );
    assert!(e.contains("emg") && e.contains("emg_copy"), "{e}");
    let e = NwbSource::open(
        &p,
        &ReadOptions {
            series: Some("nope".into()),
            ..Default::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("/acquisition/nope") && e.contains("emg_copy"),
        "{e}"
    );
    // The soft-linked timestamps of the second series work too.
    let src = NwbSource::open(
        &p,
        &ReadOptions {
            series: Some("emg_copy".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(src.info().channels.len(), 1);
    assert_eq!(src.info().channels[0].label, "ch1");
    assert_eq!(
        (src.info().channels[0].muscle, src.info().channels[0].role),
        (Muscle::Other, Role::Emg)
    );
}

#[test]
fn channel_spec_must_match_the_column_count() {
    let ours = scratch("compat_spec.nwb");
    write_session(&ours, &info(2_000.0), 3, 0.2, &WriterOptions::default());
    let spec = vec![ChannelSpec {
        label: "x".into(),
        muscle: Muscle::Mentalis,
        role: Role::Emg,
        trigger_branch: None,
    }];
    let e = NwbSource::open(
        &ours,
        &ReadOptions {
            channels: Some(spec),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(
        e.to_string().contains("1 channels were named") && e.to_string().contains("has 4 columns"),
        "{e}"
    );
}
