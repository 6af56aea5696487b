//! Round trip through our own writer and reader, checked by pynwb as well.

mod nwb_common;

use lsrmon::model::{
    Branch, Marker, MonitorState, RejectReason, SampleFormat, SweepResult, SweepStatus,
    DISPLAY_POINTS,
};
use lsrmon::nwb::{NwbSource, ReadOptions, SessionWriter, WriterOptions};
use lsrmon::source::{Source, SourceEvent};
use nwb_common::*;

#[test]
fn samples_events_and_markers_round_trip_bit_exact() {
    let path = scratch("roundtrip.nwb");
    let info = info(10_000.0);
    let (stims, marks) = write_session(&path, &info, 7, 3.05, &WriterOptions::default());

    let mut src = NwbSource::open(&path, &ReadOptions::default()).unwrap();
    assert!(!src.is_unfinished());
    let got = src.info().clone();
    assert_eq!(got.sample_rate_hz, 10_000.0);
    assert_eq!(got.sample_format, SampleFormat::I16);
    assert_eq!(got.total_frames, Some(30_500));
    assert!(got.stimulus_events);
    assert_eq!(
        got.channels, info.channels,
        "labels, muscles, roles, calibration, range, trigger branch"
    );
    assert_eq!(src.markers(), marks);
    assert_eq!(
        src.recorded_settings().as_deref(),
        Some(r#"{"detection":{"k":1}}"#)
    );

    // Odd block size: events must still come with the block they fall in.
    let (samples, events) = read_all(&mut src, 777);
    assert_eq!(samples, frames(7, 0, 30_500, 4), "device units, bit-exact");
    let got_stims: Vec<_> = events
        .iter()
        .filter_map(|e| match *e {
            SourceEvent::Stimulus {
                frame_time,
                branch,
                intensity_ma,
                pulse_width_s,
            } => Some((frame_time, branch, intensity_ma, pulse_width_s)),
            SourceEvent::Gap { .. } => None,
        })
        .collect();
    assert_eq!(got_stims.len(), stims.len());
    for (g, s) in got_stims.iter().zip(&stims) {
        assert!(
            (g.0 - s.frame_time).abs() < 1e-6,
            "{} vs {}",
            g.0,
            s.frame_time
        );
        assert_eq!((g.1, g.2, g.3), (s.branch, s.intensity_ma, s.pulse_width_s));
    }

    // pynwb sees the same thing, in volts.
    let sum = check_nwb(&[&path], true);
    let f = &sum[path.to_str().unwrap()];
    let raw = &f["series"]["acquisition/emg_raw"];
    assert_eq!(raw["shape"], serde_json::json!([30_500, 4]));
    assert_eq!(raw["dtype"], "int16");
    assert_eq!(raw["rate"], 10_000.0);
    let row0 = raw["first_rows"][0].as_array().unwrap();
    for (c, v) in row0.iter().enumerate() {
        let want = sample(7, 0, c) as f64 * VPU;
        assert!(
            (v.as_f64().unwrap() - want).abs() < 1e-15,
            "channel {c}: {v} vs {want}"
        );
    }
    assert_eq!(f["tables"]["intervals/stimuli"]["rows"], stims.len());
    assert_eq!(f["markers"].as_array().unwrap().len(), marks.len());
    assert_eq!(
        f["tables"]["acquisition/emg_channels"]["columns"]["label"][3],
        "trigger"
    );
    assert_eq!(f["data_collection"], r#"{"detection":{"k":1}}"#);
}

fn sweep(
    stim_index: u64,
    channel: usize,
    status: SweepStatus,
    reason: Option<RejectReason>,
) -> SweepResult {
    SweepResult {
        stim_index,
        stim_time_s: 0.25 + stim_index as f64 * 0.5,
        branch: Branch::Zygomatic,
        channel,
        status,
        reject_reason: reason,
        lsr_p2p_uv: 120.5,
        lsr_onset_ms: if status == SweepStatus::Present {
            Some(10.25)
        } else {
            None
        },
        noise_p2p_uv: 8.0,
        noise_rms_uv: 2.0,
        snr: 9.5,
        template_corr: f32::NAN,
        direct_p2p_uv: 800.0,
        crosstalk_gain: 0.0,
        tail_removed_uv: 0.0,
        tail_at_window_uv: 0.0,
        evidence: 0.0,
        state: MonitorState::Baseline,
        percent_of_baseline: f32::NAN,
        trace: [0.0; DISPLAY_POINTS],
        direct_trace: [0.0; DISPLAY_POINTS],
    }
}

#[test]
fn sweeps_gaps_counters_are_stored_and_valid() {
    let path = scratch("tables.nwb");
    let info = info(5_000.0);
    let mut w = SessionWriter::create(&path, &info, &meta(), "{}").unwrap();
    w.append_frames(&frames(1, 0, 5_000, 4)).unwrap();
    w.add_gap(2_500, 40);
    w.add_sweep(&sweep(0, 0, SweepStatus::Present, None), "mentalis");
    w.add_sweep(
        &sweep(0, 2, SweepStatus::Rejected, Some(RejectReason::LostSamples)),
        "oris",
    );
    w.add_sweep(&sweep(1, 0, SweepStatus::Absent, None), "mentalis");
    // A second rejected sweep in a row: the channel's verdict turns "cannot judge".
    w.add_sweep(
        &sweep(
            1,
            2,
            SweepStatus::Rejected,
            Some(RejectReason::Electrocautery),
        ),
        "oris",
    );
    w.add_marker(&Marker {
        time_s: 0.5,
        label: "dura opened".into(),
    });
    w.set_counters(&[("overruns".into(), 3), ("rejected_lost_samples".into(), 1)]);
    w.commit().unwrap();
    w.append_lost_frames(100).unwrap();
    w.append_frames(&frames(1, 5_000, 6_000, 4)).unwrap();
    w.finish().unwrap();

    let sum = check_nwb(&[&path], true);
    let f = &sum[path.to_str().unwrap()];
    let sw = &f["tables"]["processing/ecephys/lsr_sweeps"];
    assert_eq!(sw["rows"], 4);
    assert_eq!(
        sw["columns"]["status"],
        serde_json::json!(["present", "rejected", "absent", "rejected"])
    );
    assert_eq!(
        sw["columns"]["reject_reason"],
        serde_json::json!(["", "lost_samples", "", "electrocautery"])
    );
    assert_eq!(
        sw["columns"]["lsr_onset_ms"],
        serde_json::json!([10.25, null, null, null])
    );
    assert_eq!(
        sw["columns"]["channel"],
        serde_json::json!(["mentalis", "oris", "mentalis", "oris"])
    );
    // The library's verdict after each sweep, and why a channel cannot be judged.
    assert_eq!(
        sw["columns"]["verdict"],
        serde_json::json!(["baseline", "baseline", "baseline", "cannot_judge"])
    );
    assert_eq!(
        sw["columns"]["verdict_reason"],
        serde_json::json!(["", "", "", "electrocautery (last 2 sweeps rejected)"])
    );
    assert_eq!(
        sw["columns"]["evidence"].as_array().map(Vec::len),
        Some(4),
        "the criterion's evidence is stored per sweep"
    );
    let gaps = &f["tables"]["intervals/gaps"];
    assert_eq!(
        gaps["columns"]["kind"],
        serde_json::json!(["source", "recorder"])
    );
    assert_eq!(
        gaps["columns"]["frame"],
        serde_json::json!([2500.0, 5000.0])
    );
    assert_eq!(
        f["series"]["acquisition/emg_raw"]["shape"],
        serde_json::json!([6_100, 4])
    );

    // Replay: the recorder gap is skipped (and reported), the source gap reported.
    let mut src = NwbSource::open(&path, &ReadOptions::default()).unwrap();
    assert_eq!(src.info().total_frames, Some(6_000));
    assert!(
        !src.info().stimulus_events,
        "no stimuli table: the engine finds stimuli itself"
    );
    let counters = src.recorded_counters();
    assert_eq!(
        counters,
        vec![
            ("overruns".to_string(), 3),
            ("rejected_lost_samples".to_string(), 1)
        ]
    );
    assert_eq!(src.recorded_settings(), Some("{}".into()));
    let (samples, events) = read_all(&mut src, 4096);
    let mut want = frames(1, 0, 6_000, 4);
    want.truncate(6_000 * 4);
    assert_eq!(samples, want);
    assert_eq!(
        events,
        vec![
            SourceEvent::Gap {
                frame: 2_500,
                lost_frames: 40
            },
            SourceEvent::Gap {
                frame: 5_000,
                lost_frames: 100
            },
        ]
    );
}

#[test]
fn mixed_calibrations_store_microvolts() {
    let path = scratch("mixed.nwb");
    let mut info = info(2_000.0);
    info.channels[1].volts_per_unit = 2.0 * VPU;
    info.channels[2].offset_volts = 1e-3;
    let mut w = SessionWriter::create(&path, &info, &meta(), "").unwrap();
    w.append_frames(&frames(3, 0, 2_000, 4)).unwrap();
    w.finish().unwrap();
    let mut src = NwbSource::open(&path, &ReadOptions::default()).unwrap();
    let ch = src.info().channels.clone();
    assert_eq!(src.info().sample_format, SampleFormat::F32);
    assert!(ch
        .iter()
        .all(|c| c.volts_per_unit == 1e-6 && c.offset_volts == 0.0));
    let (samples, _) = read_all(&mut src, 500);
    for (i, v) in samples.iter().enumerate() {
        let (f, c) = ((i / 4) as u64, i % 4);
        let c_info = &info.channels[c];
        let uv = (sample(3, f, c) as f64 * c_info.volts_per_unit + c_info.offset_volts) * 1e6;
        assert!(
            ((*v as f64) - uv).abs() <= uv.abs() * 1e-6 + 1e-6,
            "{v} vs {uv}"
        );
    }
    // Range converted to stored units too.
    let (lo, hi) = ch[1].range_units.unwrap();
    assert!(
        (lo - (-32768.0 * 2.0 * VPU * 1e6)).abs() < 1e-6
            && (hi - 32767.0 * 2.0 * VPU * 1e6).abs() < 1e-6
    );
    assert!(src.recorded_settings().is_none());
    check_nwb(&[&path], true);
}

#[test]
fn refuses_to_overwrite_unless_told() {
    let path = scratch("exists.nwb");
    std::fs::write(&path, b"keep me").unwrap();
    let e = SessionWriter::create(&path, &info(1000.0), &meta(), "")
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("exists.nwb") && e.to_string().contains("already exists"),
        "{e}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
    let opts = WriterOptions {
        overwrite: true,
        ..Default::default()
    };
    let w = SessionWriter::create_with(&path, &info(1000.0), &meta(), "", &opts).unwrap();
    w.finish().unwrap();
    assert!(
        NwbSource::open(&path, &ReadOptions::default()).is_err(),
        "no samples: nothing to replay"
    );
}

#[test]
fn bad_metadata_is_refused() {
    let path = scratch("badmeta.nwb");
    let mut m = meta();
    m.session_start_time = "2026-03-02T08:30:00".into();
    let e = SessionWriter::create(&path, &info(1000.0), &m, "")
        .err()
        .unwrap();
    assert!(e.to_string().contains("UTC offset"), "{e}");
    assert!(!path.exists());
}

#[test]
fn compressed_samples_commit_in_whole_chunks_only() {
    // 5 kHz: chunks of 1024 frames. A compressed chunk is written once, when full.
    let path = scratch("chunks.nwb");
    let mut w = SessionWriter::create(&path, &info(5_000.0), &meta(), "").unwrap();
    w.append_frames(&frames(2, 0, 2_500, 4)).unwrap();
    w.commit().unwrap();
    assert_eq!((w.frames(), w.frames_committed()), (2_500, 2_048));
    w.append_frames(&frames(2, 2_500, 3_100, 4)).unwrap();
    w.commit().unwrap();
    assert_eq!(w.frames_committed(), 3_072);
    w.finish().unwrap();
    let mut src = NwbSource::open(&path, &ReadOptions::default()).unwrap();
    assert_eq!(read_all(&mut src, 1_000).0, frames(2, 0, 3_100, 4));

    // Uncompressed: everything commits at once.
    let path = scratch("chunks_raw.nwb");
    let opts = WriterOptions {
        deflate: None,
        ..Default::default()
    };
    let mut w = SessionWriter::create_with(&path, &info(5_000.0), &meta(), "", &opts).unwrap();
    w.append_frames(&frames(2, 0, 2_500, 4)).unwrap();
    w.commit().unwrap();
    assert_eq!(w.frames_committed(), 2_500);
    w.finish().unwrap();
}
