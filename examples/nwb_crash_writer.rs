//! Records the deterministic test signal to an NWB file in real time, for crash testing.
//!
//! ```text
//! cargo run --example nwb_crash_writer -- OUT.nwb [--duration S] [--seed N]
//!     [--rate HZ] [--commit-ms MS] [--deflate LEVEL (0: uncompressed; default 1)]
//! ```
//!
//! It runs the real [`Recorder`] thread: 4 channels of int16 in 10 ms blocks paced to the
//! wall clock, a stimulus every 0.1 s with one sweep row for each of two channels, a marker
//! every 0.5 s, counters at every commit. It prints `recording` once the file exists and
//! `done FRAMES` at the end. `tests/nwb_crash.rs` SIGKILLs it at random moments
//! (`LSRMON_CRASH_WRITER=example`) and checks that every killed file reads up to its last
//! commit, recovers, and is valid NWB.

use std::io::Write;
use std::time::{Duration, Instant};

use lsrmon::model::{
    Branch, Marker, MonitorState, Muscle, Role, SampleFormat, Stimulus, SweepResult, SweepStatus,
};
use lsrmon::model::{ChannelInfo, DISPLAY_POINTS};
use lsrmon::nwb::{RecordMsg, Recorder, RecorderOptions, SessionMeta, WriterOptions};
use lsrmon::source::SourceInfo;

#[path = "../tests/nwb_common/signal.rs"]
mod signal;

fn arg(args: &[String], name: &str, default: f64) -> f64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .ok_or("usage: nwb_crash_writer OUT.nwb [--duration S]")?;
    let duration = arg(&args, "--duration", 10.0);
    let seed = arg(&args, "--seed", 1.0) as u64;
    let rate = arg(&args, "--rate", 48_000.0);
    let commit = Duration::from_secs_f64(arg(&args, "--commit-ms", 200.0) / 1000.0);

    let ch = |label: &str, muscle, role| ChannelInfo {
        label: label.into(),
        muscle,
        role,
        volts_per_unit: 0.195e-6,
        offset_volts: 0.0,
        range_units: Some((-32768.0, 32767.0)),
        trigger_branch: None,
    };
    let info = SourceInfo {
        sample_rate_hz: rate,
        channels: vec![
            ch("mentalis", Muscle::Mentalis, Role::Emg),
            ch("oculi", Muscle::OrbicularisOculi, Role::Emg),
            ch("oris", Muscle::OrbicularisOris, Role::Emg),
            ch("trigger", Muscle::None, Role::Trigger),
        ],
        sample_format: SampleFormat::I16,
        description: format!("crash-test signal, seed {seed}"),
        stimulus_events: true,
        total_frames: None,
    };
    let meta = SessionMeta::new(
        "4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b",
        "2026-03-02T08:30:00+09:00",
        "crash-test",
    );
    let deflate = arg(&args, "--deflate", 1.0) as u8;
    let writer = WriterOptions {
        deflate: (deflate > 0).then_some(deflate),
        ..Default::default()
    };
    let opts = RecorderOptions {
        writer,
        commit_interval: commit,
        fsync_interval: None,
        ..Default::default()
    };
    let rec = Recorder::spawn(out, &info, &meta, r#"{"crash_test":true}"#, opts)?;
    let tx = rec.sender();
    println!("recording");
    std::io::stdout().flush()?;

    let c = info.channels.len();
    let block = (rate / 100.0) as u64;
    let total = (duration * rate) as u64;
    let start = Instant::now();
    let mut buf = Vec::with_capacity(block as usize * c);
    let (mut frame, mut stim, mut mark) = (0u64, 0u64, 0u64);
    while frame < total {
        let end = (frame + block).min(total);
        buf.clear();
        buf.extend((frame..end).flat_map(|f| (0..c).map(move |k| signal::sample(seed, f, k))));
        tx.send_frames(frame, &buf);
        while (stim as f64 * 0.1 + 0.05) * rate < end as f64 {
            let t = stim as f64 * 0.1 + 0.05;
            let s = Stimulus {
                index: stim,
                frame_time: t * rate,
                branch: Branch::Zygomatic,
                intensity_ma: 5.0,
                pulse_width_s: f32::NAN,
            };
            tx.send(RecordMsg::Stimulus(s));
            for channel in [0, 2] {
                tx.send(RecordMsg::Sweep(sweep(stim, t, channel)));
            }
            stim += 1;
        }
        while marker_time(mark) * rate < end as f64 {
            tx.send(RecordMsg::Marker(Marker {
                time_s: marker_time(mark),
                label: format!("marker {mark}"),
            }));
            mark += 1;
        }
        tx.send(RecordMsg::Counters(vec![
            ("stimuli".into(), stim),
            ("frames".into(), end),
        ]));
        frame = end;
        let due = start + Duration::from_secs_f64(frame as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let report = rec.finish()?;
    println!("done {}", report.frames_written);
    Ok(())
}

/// Irregular marker times (regular ones make nwbinspector suggest a rate instead).
fn marker_time(k: u64) -> f64 {
    0.3 + 0.5 * k as f64 + 0.01 * (k * k % 7) as f64
}

fn sweep(stim_index: u64, t: f64, channel: usize) -> SweepResult {
    SweepResult {
        stim_index,
        stim_time_s: t,
        branch: Branch::Zygomatic,
        channel,
        status: SweepStatus::Present,
        reject_reason: None,
        lsr_p2p_uv: 100.0 + stim_index as f32,
        lsr_onset_ms: Some(10.0),
        noise_p2p_uv: 5.0,
        noise_rms_uv: 1.0,
        snr: 8.0,
        template_corr: 0.9,
        direct_p2p_uv: 500.0,
        crosstalk_gain: 0.0,
        tail_removed_uv: 0.0,
        tail_at_window_uv: 0.0,
        evidence: 0.0,
        state: MonitorState::Present,
        percent_of_baseline: 100.0,
        trace: [0.0; DISPLAY_POINTS],
        direct_trace: [0.0; DISPLAY_POINTS],
    }
}
