//! The two ends of an audio capture: [`Capture`], which runs inside the audio driver's
//! callback, and [`Delivery`], which hands the captured frames to the pipeline.
//!
//! ## Why the callback does so little
//! The driver calls the callback on its own high-priority thread with a deadline of one
//! period (a few ms). If it is late, the driver's buffer overflows and samples are lost for
//! good (an *xrun*). So the callback only copies the block into a lock-free SPSC ring that was
//! allocated when the stream was opened, converting each sample to `f32` device units on the
//! way, and bumps atomic counters: no allocation, no lock, no I/O, nothing that can panic on
//! the data. Everything else (events, waiting, errors) happens on the reading side.
//!
//! ## Lost frames are marked where they were lost
//! Frames are numbered by the order they enter the ring; frames that never entered it do not
//! get numbers (that is what [`crate::source::SourceEvent::Gap`] means). Two things lose frames:
//! - **overrun**: the ring is full because the reader fell behind. The frames that do not fit
//!   (whole frames only) are dropped and counted;
//! - **xrun**: the driver reported that its own buffer overflowed (cpal's error callback sets
//!   a flag). How much was lost is estimated at the next block from the capture timestamps:
//!   the jump between where this block was expected to start and where it did, at least one
//!   frame (the protocol of the driver does not say more).
//!
//! Either way the callback records a gap mark `(frame, lost)` in a second small ring, placed
//! *before* the next frame that does enter the sample ring, so the reader emits the gap with
//! the block that contains that frame. If the mark ring is full, the lost frames are carried
//! into the next mark (a gap is never forgotten, only merged).
//!
//! ## Late callbacks
//! A callback whose data was captured more than two of its own blocks plus 20 ms before the
//! callback ran is counted as late: the system is struggling to keep up (a warning, not a
//! loss).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::super::counters::DeviceCounters;
use crate::source::SourceEvent;

/// Counter names of an audio device (see [`DeviceCounters`]), in index order.
pub const AUDIO_COUNTERS: &[&str] = &[
    "callbacks",
    "frames",
    "overruns",
    "overrun_frames",
    "xruns",
    "xrun_frames",
    "late_callbacks",
    "stream_errors",
];
pub(crate) const CALLBACKS: usize = 0;
pub(crate) const FRAMES: usize = 1;
pub(crate) const OVERRUNS: usize = 2;
pub(crate) const OVERRUN_FRAMES: usize = 3;
pub(crate) const XRUNS: usize = 4;
pub(crate) const XRUN_FRAMES: usize = 5;
pub(crate) const LATE_CALLBACKS: usize = 6;
pub(crate) const STREAM_ERRORS: usize = 7;

/// Fixed lateness allowance on top of two blocks, ns.
const LATE_SLACK_NS: u64 = 20_000_000;
/// Gap marks the mark ring holds.
const GAP_MARKS: usize = 256;

/// Frames lost before frame `frame` of the ring's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GapMark {
    pub frame: u64,
    pub lost: u64,
}

/// When a block was captured and when the callback ran, ns on the driver's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub capture_ns: u64,
    pub callback_ns: u64,
}

/// State the callback and the reader share (atomics only).
#[derive(Debug)]
pub struct Shared {
    /// Set by the error callback on an xrun, cleared by the next data callback.
    pub xrun: AtomicBool,
    /// Set when the driver says the device is gone.
    pub gone: AtomicBool,
    /// Time of the last data callback, ns since `base` plus one (0: none yet).
    pub last_callback: AtomicU64,
    pub base: Instant,
}

impl Shared {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            xrun: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            last_callback: AtomicU64::new(0),
            base: Instant::now(),
        })
    }
}

/// The callback's side. See the module documentation.
pub struct Capture {
    channels: usize,
    rate_hz: f64,
    samples: HeapProd<f32>,
    marks: HeapProd<GapMark>,
    counters: Arc<DeviceCounters>,
    shared: Arc<Shared>,
    /// Frames pushed into the ring so far.
    pushed: u64,
    /// Lost frames not yet marked.
    pending_lost: u64,
    /// Where the next block is expected to start (capture time, ns).
    expected_ns: Option<u64>,
}

/// The reader's side. See the module documentation.
pub struct Delivery {
    channels: usize,
    samples: HeapCons<f32>,
    marks: HeapCons<GapMark>,
    delivered: u64,
}

/// Allocates the rings (`ring_frames` frames of `channels` samples) and returns both ends.
pub fn pair(
    channels: usize,
    rate_hz: f64,
    ring_frames: usize,
    counters: Arc<DeviceCounters>,
    shared: Arc<Shared>,
) -> (Capture, Delivery) {
    let channels = channels.max(1);
    let (sp, sc) = HeapRb::<f32>::new(ring_frames.max(1) * channels).split();
    let (mp, mc) = HeapRb::<GapMark>::new(GAP_MARKS).split();
    (
        Capture {
            channels,
            rate_hz,
            samples: sp,
            marks: mp,
            counters,
            shared,
            pushed: 0,
            pending_lost: 0,
            expected_ns: None,
        },
        Delivery {
            channels,
            samples: sc,
            marks: mc,
            delivered: 0,
        },
    )
}

impl Capture {
    /// One block from the driver, converted sample by sample with `conv`. Real-time safe:
    /// no allocation, no lock, no panic on any data.
    pub fn block<T: Copy>(&mut self, data: &[T], stamp: Option<Stamp>, conv: impl Fn(T) -> f32) {
        let c = self.channels;
        let frames = data.len() / c;
        self.counters.add(CALLBACKS, 1);
        self.counters.add(FRAMES, frames as u64);
        let now = self.shared.base.elapsed().as_nanos() as u64;
        self.shared
            .last_callback
            .store(now.saturating_add(1), Ordering::Relaxed);
        let block_ns = (frames as f64 * 1e9 / self.rate_hz) as u64;

        if let Some(s) = stamp {
            let latency = s.callback_ns.saturating_sub(s.capture_ns);
            if latency > 2 * block_ns + LATE_SLACK_NS {
                self.counters.add(LATE_CALLBACKS, 1);
            }
        }
        if self.shared.xrun.swap(false, Ordering::AcqRel) {
            let lost = match (stamp, self.expected_ns) {
                (Some(s), Some(e)) if s.capture_ns > e => {
                    (((s.capture_ns - e) as f64 * self.rate_hz / 1e9).round() as u64).max(1)
                }
                _ => 1,
            };
            self.counters.add(XRUN_FRAMES, lost);
            self.pending_lost += lost;
        }
        self.expected_ns = stamp.map(|s| s.capture_ns.saturating_add(block_ns));

        let room = self.samples.vacant_len() / c;
        let n = frames.min(room);
        if n > 0 && self.pending_lost > 0 {
            let mark = GapMark {
                frame: self.pushed,
                lost: self.pending_lost,
            };
            if self.marks.try_push(mark).is_ok() {
                self.pending_lost = 0;
            }
        }
        if n > 0 {
            let pushed = self
                .samples
                .push_iter(data.iter().take(n * c).map(|&x| conv(x)));
            self.pushed += (pushed / c) as u64;
        }
        if n < frames {
            self.counters.add(OVERRUNS, 1);
            self.counters.add(OVERRUN_FRAMES, (frames - n) as u64);
            self.pending_lost += (frames - n) as u64;
        }
    }

    /// Frames pushed so far.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }
}

impl Delivery {
    /// Frames waiting in the ring.
    pub fn available(&self) -> usize {
        self.samples.occupied_len() / self.channels
    }

    /// Frames delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Moves up to `buf.len() / channels` waiting frames into `buf` and the gaps that fall
    /// before them into `events`; returns the number of frames (0 if none are waiting).
    pub fn take(&mut self, buf: &mut [f32], events: &mut Vec<SourceEvent>) -> usize {
        let c = self.channels;
        let n = self.available().min(buf.len() / c);
        if n == 0 {
            return 0;
        }
        let got = self.samples.pop_slice(&mut buf[..n * c]) / c;
        let end = self.delivered + got as u64;
        while let Some(m) = self.marks.try_peek().copied() {
            if m.frame >= end {
                break;
            }
            self.marks.try_pop();
            events.push(SourceEvent::Gap {
                frame: m.frame.max(self.delivered),
                lost_frames: m.lost,
            });
        }
        self.delivered = end;
        got
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(ring_frames: usize) -> (Capture, Delivery, Arc<DeviceCounters>, Arc<Shared>) {
        let counters = DeviceCounters::new("audio", AUDIO_COUNTERS);
        let shared = Shared::new();
        let (cap, del) = pair(2, 1000.0, ring_frames, counters.clone(), shared.clone());
        (cap, del, counters, shared)
    }

    fn drain(del: &mut Delivery, block: usize) -> (Vec<f32>, Vec<SourceEvent>) {
        let (mut out, mut ev) = (Vec::new(), Vec::new());
        let mut buf = vec![0.0; block * 2];
        loop {
            let n = del.take(&mut buf, &mut ev);
            if n == 0 {
                return (out, ev);
            }
            out.extend_from_slice(&buf[..n * 2]);
        }
    }

    #[test]
    fn blocks_arrive_converted_and_in_order() {
        let (mut cap, mut del, counters, shared) = setup(100);
        let a: Vec<i16> = (0..20).collect();
        cap.block(&a, None, f32::from);
        cap.block(&[i16::MIN, i16::MAX, 5], None, f32::from); // a half frame is ignored
        let (out, ev) = drain(&mut del, 3);
        let mut want: Vec<f32> = (0..20).map(|v| v as f32).collect();
        want.extend([-32768.0, 32767.0]);
        assert_eq!(out, want);
        assert!(ev.is_empty());
        assert_eq!(del.delivered(), 11);
        assert_eq!((counters.get(CALLBACKS), counters.get(FRAMES)), (2, 11));
        assert!(shared.last_callback.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn an_overrun_drops_whole_frames_and_marks_the_gap_before_the_next_frame() {
        let (mut cap, mut del, counters, _) = setup(8);
        let block = |k: i32| -> Vec<i32> { (0..12).map(|i| k * 100 + i).collect() };
        cap.block(&block(1), None, |x| x as f32); // 6 frames fit
        cap.block(&block(2), None, |x| x as f32); // 2 fit, 4 lost
        cap.block(&block(3), None, |x| x as f32); // full: 6 lost
        assert_eq!(counters.get(OVERRUNS), 2);
        assert_eq!(counters.get(OVERRUN_FRAMES), 10);
        let (out, ev) = drain(&mut del, 5);
        assert_eq!(out.len(), 16);
        assert!(ev.is_empty(), "no frame after the loss yet: {ev:?}");
        cap.block(&block(4), None, |x| x as f32);
        let (out, ev) = drain(&mut del, 5);
        assert_eq!(out[0], 400.0);
        assert_eq!(
            ev,
            vec![SourceEvent::Gap {
                frame: 8,
                lost_frames: 10
            }]
        );
    }

    #[test]
    fn an_xrun_is_measured_from_the_capture_timestamps() {
        let (mut cap, mut del, counters, shared) = setup(1000);
        let s = |capture_ms: u64| {
            Some(Stamp {
                capture_ns: capture_ms * 1_000_000,
                callback_ns: capture_ms * 1_000_000 + 5_000_000,
            })
        };
        let ten = [0.5f32; 20]; // 10 frames = 10 ms at 1 kHz
        cap.block(&ten, s(0), |x| x);
        cap.block(&ten, s(10), |x| x);
        // The driver overflowed: the next block starts 37 ms late.
        shared.xrun.store(true, Ordering::Release);
        counters.add(XRUNS, 1);
        cap.block(&ten, s(57), |x| x);
        // An xrun without usable timestamps still marks at least one frame.
        shared.xrun.store(true, Ordering::Release);
        cap.block(&ten, None, |x| x);
        let (out, ev) = drain(&mut del, 1000);
        assert_eq!(out.len(), 80);
        assert_eq!(
            ev,
            vec![
                SourceEvent::Gap {
                    frame: 20,
                    lost_frames: 37
                },
                SourceEvent::Gap {
                    frame: 30,
                    lost_frames: 1
                }
            ]
        );
        assert_eq!(counters.get(XRUN_FRAMES), 38);
        assert_eq!(counters.get(LATE_CALLBACKS), 0);
        // Captured 100 ms before the callback ran, for a 10 ms block: late.
        cap.block(
            &ten,
            Some(Stamp {
                capture_ns: 200_000_000,
                callback_ns: 300_000_000,
            }),
            |x| x,
        );
        assert_eq!(counters.get(LATE_CALLBACKS), 1);
    }

    #[test]
    fn a_full_mark_ring_merges_gaps_instead_of_forgetting_them() {
        let (mut cap, mut del, counters, shared) = setup(1000);
        let one = [1.0f32; 2];
        // 300 xruns in a row, one frame each, while the reader is away: more than the
        // mark ring holds.
        for _ in 0..300 {
            shared.xrun.store(true, Ordering::Release);
            cap.block(&one, None, |x| x);
        }
        let (out, ev) = drain(&mut del, 1000);
        assert_eq!(out.len(), 600);
        assert_eq!(ev.len(), GAP_MARKS);
        assert!(ev
            .iter()
            .all(|e| matches!(e, SourceEvent::Gap { lost_frames: 1, .. })));
        // The rest is carried into the next mark, before the next frame.
        cap.block(&one, None, |x| x);
        let (_, ev) = drain(&mut del, 1000);
        assert_eq!(
            ev,
            vec![SourceEvent::Gap {
                frame: 300,
                lost_frames: 300 - GAP_MARKS as u64
            }]
        );
        assert_eq!(counters.get(XRUN_FRAMES), 300);
    }
}
