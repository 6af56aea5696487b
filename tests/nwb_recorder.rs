//! The recorder thread: everything sent arrives in the file; frames the pipeline could not
//! hand over become a skipped `recorder` gap; drops are counted, never silent.

mod nwb_common;

use std::time::Duration;

use lsrmon::model::{
    Branch, Marker, MonitorState, RejectReason, SweepResult, SweepStatus, DISPLAY_POINTS,
};
use lsrmon::nwb::{NwbSource, ReadOptions, RecordMsg, Recorder, RecorderOptions};
use lsrmon::source::{Source, SourceEvent};
use nwb_common::*;

fn sweep(stim_index: u64, channel: usize) -> SweepResult {
    SweepResult {
        stim_index,
        stim_time_s: 0.2,
        branch: Branch::Zygomatic,
        channel,
        status: SweepStatus::Rejected,
        reject_reason: Some(RejectReason::Electrocautery),
        lsr_p2p_uv: 0.0,
        lsr_onset_ms: None,
        noise_p2p_uv: 300.0,
        noise_rms_uv: 90.0,
        snr: 0.5,
        template_corr: f32::NAN,
        direct_p2p_uv: f32::NAN,
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
fn everything_sent_is_recorded_and_holes_are_filled_then_skipped() {
    let path = scratch("recorder.nwb");
    let info = info(4_000.0);
    let opts = RecorderOptions {
        commit_interval: Duration::from_millis(20),
        fsync_interval: Some(Duration::from_millis(50)),
        buffer_frames: 300,
        ..Default::default()
    };
    let rec = Recorder::spawn(&path, &info, &meta(), r#"{"a":1}"#, opts).unwrap();
    let tx = rec.sender();
    // 1000 frames, then a hole of 500 (dropped upstream), then 1000 more, in pooled buffers
    // (300 frames each, so blocks are split).
    assert_eq!(tx.send_frames(0, &frames(4, 0, 1_000, 4)), 1_000);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(tx.send_frames(1_500, &frames(4, 1_500, 2_500, 4)), 1_000);
    assert!(tx.send(RecordMsg::Stimulus(stimulus(0, 800.0, Branch::Zygomatic))));
    assert!(tx.send(RecordMsg::Stimulus(stimulus(
        1,
        2_000.0,
        Branch::MarginalMandibular
    ))));
    assert!(tx.send(RecordMsg::Sweep(sweep(0, 2))));
    assert!(tx.send(RecordMsg::Marker(Marker {
        time_s: 0.1,
        label: "pad placed".into()
    })));
    assert!(tx.send(RecordMsg::Gap {
        frame: 300,
        lost_frames: 12
    }));
    assert!(tx.send(RecordMsg::Counters(vec![("overruns".into(), 7)])));
    assert!(!rec.failed());
    let rep = rec.finish().unwrap();
    assert_eq!(rep.frames_written, 2_500);
    assert_eq!(rep.frames_filled, 500);
    assert_eq!(
        (rep.stimuli, rep.sweeps, rep.markers, rep.gaps),
        (2, 1, 1, 2)
    );
    assert_eq!((rep.dropped_messages, rep.dropped_frames), (0, 0));
    assert!(rep.commits >= 2, "{rep:?}");

    let mut src = NwbSource::open(&path, &ReadOptions::default()).unwrap();
    assert_eq!(
        src.info().total_frames,
        Some(2_000),
        "the filled hole is skipped on replay"
    );
    let counters = src.recorded_counters();
    for (k, v) in [
        ("overruns", 7),
        ("recorder_dropped_frames", 0),
        ("recorder_filled_frames", 500),
    ] {
        assert!(
            counters.contains(&(k.to_string(), v)),
            "{k}={v} in {counters:?}"
        );
    }
    assert_eq!(
        src.markers(),
        vec![Marker {
            time_s: 0.1,
            label: "pad placed".into()
        }]
    );
    let (samples, events) = read_all(&mut src, 700);
    let mut want = frames(4, 0, 1_000, 4);
    want.extend(frames(4, 1_500, 2_500, 4));
    assert_eq!(samples, want);
    // The stimulus after the hole moves back by the skipped 500 frames.
    let summary: Vec<String> = events
        .iter()
        .map(|e| match e {
            SourceEvent::Stimulus {
                frame_time, branch, ..
            } => format!("stim {frame_time} {branch}"),
            SourceEvent::Gap { frame, lost_frames } => format!("gap {frame} {lost_frames}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "gap 300 12",
            "stim 800 zygomatic",
            "gap 1000 500",
            "stim 1500 marginal_mandibular"
        ]
    );
    drop(src);
    let sum = check_nwb(&[&path], true);
    let sw = &sum[path.to_str().unwrap()]["tables"]["processing/ecephys/lsr_sweeps"]["columns"];
    assert_eq!(sw["channel"], serde_json::json!(["oris"]));
    assert_eq!(sw["reject_reason"], serde_json::json!(["electrocautery"]));
}

#[test]
fn a_full_pool_or_queue_drops_and_counts() {
    let path = scratch("recorder_drops.nwb");
    let info = info(4_000.0);
    // One small buffer and a one-slot queue: a burst cannot all fit.
    let opts = RecorderOptions {
        queue_capacity: 1,
        pool_buffers: 1,
        buffer_frames: 10,
        commit_interval: Duration::from_millis(5),
        fsync_interval: None,
        ..Default::default()
    };
    let rec = Recorder::spawn(&path, &info, &meta(), "{}", opts).unwrap();
    let tx = rec.sender();
    let mut queued = 0;
    let mut sent_markers = 0;
    let mut ok_markers = 0;
    for k in 0..200u64 {
        queued += tx.send_frames(k * 50, &frames(4, k * 50, k * 50 + 50, 4));
        sent_markers += 1;
        ok_markers += tx.send(RecordMsg::Marker(Marker {
            time_s: k as f64 * 0.0125,
            label: format!("m{k}"),
        })) as u64;
    }
    let rep = rec.finish().unwrap();
    assert!(
        rep.dropped_frames > 0,
        "a 10-frame pool cannot take 50-frame bursts"
    );
    assert_eq!(
        queued + rep.dropped_frames,
        10_000,
        "every frame is either queued or counted"
    );
    assert_eq!(rep.markers, ok_markers);
    let dropped_markers = sent_markers - ok_markers;
    assert!(rep.dropped_messages >= dropped_markers, "{rep:?}");
    // In the file: queued frames plus filler for every hole before the last queued frame.
    assert_eq!(rep.frames_written, queued + rep.frames_filled);
    let src = NwbSource::open(&path, &ReadOptions::default()).unwrap();
    assert_eq!(src.info().total_frames, Some(queued));
    let counters = src.recorded_counters();
    assert!(
        counters.contains(&("recorder_dropped_frames".into(), rep.dropped_frames)),
        "{counters:?}"
    );
    assert!(
        counters.contains(&("recorder_dropped_messages".into(), rep.dropped_messages)),
        "{counters:?}"
    );
}

#[test]
fn a_runaway_jump_is_filled_only_up_to_the_cap() {
    let path = scratch("recorder_cap.nwb");
    let opts = RecorderOptions {
        max_fill_s: 0.05,
        fsync_interval: None,
        ..Default::default()
    };
    let rec = Recorder::spawn(&path, &info(4_000.0), &meta(), "{}", opts).unwrap();
    let tx = rec.sender();
    tx.send_frames(0, &frames(8, 0, 400, 4));
    tx.send_frames(900, &frames(8, 900, 1_300, 4));
    let rep = rec.finish().unwrap();
    // 500 lost: 200 (0.05 s) filled (skipped on replay), the other 300 recorded as lost.
    assert_eq!((rep.frames_written, rep.frames_filled), (1_000, 200));
    let mut src = NwbSource::open(&path, &ReadOptions::default()).unwrap();
    assert_eq!(src.info().total_frames, Some(800));
    let (_, events) = read_all(&mut src, 1_000);
    assert_eq!(
        events,
        vec![
            SourceEvent::Gap {
                frame: 400,
                lost_frames: 300
            },
            SourceEvent::Gap {
                frame: 400,
                lost_frames: 200
            },
        ]
    );
}
