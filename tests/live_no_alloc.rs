//! Proves that the live acquisition's real-time parts do not allocate: the audio callback's
//! side ([`Capture::block`], in every format, through overruns and xruns), the reading side
//! ([`Delivery::take`]), and the source thread's layers in steady state
//! ([`ReconnectingSource`] and the [`RecordingSource`] tee to the session recorder).
//!
//! A counting global allocator counts allocations on the current thread only while armed
//! (the recorder's own thread may allocate: it is not real-time).

use std::sync::atomic::Ordering;

use lsrmon::acquisition::audio::capture::{pair, Shared, Stamp, AUDIO_COUNTERS};
use lsrmon::acquisition::counters::DeviceCounters;
use lsrmon::acquisition::reconnect::{
    Opener, ReconnectOptions, ReconnectingSource, RECONNECT_COUNTERS,
};
use lsrmon::acquisition::recording::RecordingSource;
use lsrmon::model::{ChannelInfo, Muscle, Role, SampleFormat};
use lsrmon::nwb::{Recorder, RecorderOptions, SessionMeta, WriterOptions};
use lsrmon::source::{Source, SourceError, SourceEvent, SourceInfo};

mod counting_alloc;

use counting_alloc::allocations_during;

#[test]
fn the_audio_callback_and_the_reader_do_not_allocate() {
    let counters = DeviceCounters::new("audio", AUDIO_COUNTERS);
    let shared = Shared::new();
    let (mut cap, mut del) = pair(4, 48_000.0, 2_000, counters.clone(), shared.clone());
    let i16s: Vec<i16> = (0..4 * 480).map(|i| i as i16).collect();
    let i32s: Vec<i32> = (0..4 * 480).map(|i| i << 8).collect();
    let f32s: Vec<f32> = (0..4 * 480).map(|i| i as f32 / 4096.0).collect();
    let mut buf = vec![0f32; 4 * 256];
    let mut events: Vec<SourceEvent> = Vec::with_capacity(512);
    let mut t = 0u64;
    let n = allocations_during(|| {
        for round in 0..200u64 {
            let stamp = Some(Stamp {
                capture_ns: t,
                callback_ns: t + 3_000_000,
            });
            if round % 17 == 0 {
                shared.xrun.store(true, Ordering::Release);
            }
            match round % 3 {
                0 => cap.block(&i16s, stamp, f32::from),
                1 => cap.block(&i32s, stamp, |x| x as f32),
                _ => cap.block(&f32s, stamp, |x| x),
            }
            t += 10_000_000 + (round % 5) * 1_000_000;
            // Read less than arrives, so the ring overruns now and then.
            if round % 2 == 0 {
                events.clear();
                del.take(&mut buf, &mut events);
                del.take(&mut buf, &mut events);
            }
        }
    });
    assert_eq!(n, 0, "{n} allocations in the audio path");
    assert!(
        counters.by_name("overruns").unwrap() > 0,
        "the test overran the ring"
    );
    assert!(counters.by_name("xrun_frames").unwrap() > 0);
    assert_eq!(counters.by_name("callbacks"), Some(200));
}

/// A device that never allocates in `read`: a ramp, with a gap now and then.
struct Ramp {
    info: SourceInfo,
    pos: u64,
}

impl Source for Ramp {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError> {
        let n = buf.len() / 2;
        for (i, v) in buf[..n * 2].iter_mut().enumerate() {
            *v = ((self.pos * 2 + i as u64) % 30_000) as f32;
        }
        if self.pos.is_multiple_of(5_000) {
            events.push(SourceEvent::Gap {
                frame: self.pos,
                lost_frames: 3,
            });
        }
        self.pos += n as u64;
        Ok(n)
    }
}

fn info() -> SourceInfo {
    let ch = |label: &str, muscle| ChannelInfo {
        label: label.into(),
        muscle,
        role: Role::Emg,
        volts_per_unit: 0.2e-6,
        offset_volts: 0.0,
        range_units: Some((-32768.0, 32767.0)),
        trigger_branch: None,
    };
    SourceInfo {
        sample_rate_hz: 10_000.0,
        channels: vec![
            ch("mentalis", Muscle::Mentalis),
            ch("orbicularis_oculi", Muscle::OrbicularisOculi),
        ],
        sample_format: SampleFormat::I16,
        description: "ramp".into(),
        stimulus_events: false,
        total_frames: None,
    }
}

#[test]
fn the_source_threads_layers_and_the_recording_tee_do_not_allocate() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("live_tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("no_alloc.nwb");
    let _ = std::fs::remove_file(&path);
    let meta = SessionMeta::new(
        "0b5f3f2e-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
        "2026-03-02T08:30:00+00:00",
        "test",
    );
    let opts = RecorderOptions {
        writer: WriterOptions::default(),
        queue_capacity: 4096,
        pool_buffers: 1024,
        buffer_frames: 256,
        ..RecorderOptions::default()
    };
    let rec = Recorder::spawn(&path, &info(), &meta, "{}", opts).unwrap();
    let ramp = Box::new(Ramp {
        info: info(),
        pos: 0,
    });
    let open: Opener = Box::new(|| Err("not needed".into()));
    let reconnecting = ReconnectingSource::new(
        "ramp",
        ramp,
        open,
        ReconnectOptions::default(),
        DeviceCounters::new("reconnect", RECONNECT_COUNTERS),
    );
    let mut head = RecordingSource::new(Box::new(reconnecting), Some(rec.sender()));
    let mut buf = vec![0f32; 2 * 250];
    let mut events: Vec<SourceEvent> = Vec::with_capacity(256);
    let n = allocations_during(|| {
        for _ in 0..400 {
            events.clear();
            let got = head.read(&mut buf, &mut events).unwrap();
            assert_eq!(got, 250);
        }
    });
    assert_eq!(n, 0, "{n} allocations on the source thread");
    let report = rec.finish().unwrap();
    assert_eq!(report.frames_written, 100_000);
    assert_eq!(report.dropped_frames, 0);
    assert_eq!(report.gaps, 20);
}
