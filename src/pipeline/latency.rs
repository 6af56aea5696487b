//! Decision latency: how old the newest verdict is when it leaves the DSP thread.
//!
//! The technologist must be able to trust that the verdict on screen is current. Two figures
//! are measured for every sweep verdict (one LSR channel of one stimulus):
//!
//! - **decision latency**: from the moment the block holding the *last sample of the sweep's
//!   LSR window* entered the sample ring, to the moment the verdict is handed to the consumers'
//!   channel. It includes the signal the engine deliberately waits for after the window (see
//!   `sweep.post_ms`: the drift and mains fit and the zero-phase filter need signal after the
//!   window) as well as the time spent computing.
//! - **processing latency**: from the moment the block holding the *last sample the sweep
//!   needs* (the end of its post-stimulus span) entered the ring, to the same moment. This is
//!   what the pipeline itself costs: waking up, conditioning, measuring, judging.
//!
//! ## How, without allocating or locking
//! The source thread stamps every block it pushes into the sample ring with
//! `(frames pushed so far, time)` and pushes the stamp into a small SPSC ring of its own
//! ([`Stamp`]). The DSP thread moves the stamps into a fixed circular list ([`Arrivals`]) and,
//! for each verdict, finds the first block whose end lies past the frame in question: that
//! block's stamp is when the frame entered the ring. The latencies go into fixed-size
//! histograms ([`LatencyHistogram`]: 10 µs bins up to 250 ms, exact maximum) from which the
//! DSP thread publishes p50/p99/max through atomics ([`LatencyFigures`]) after each block it
//! processed, for the dashboard's health line and the session file's counters.
//!
//! Frame numbers are the engine's: frames that never entered the ring (dropped while the ring
//! was full) have none, so stamps and sweeps agree even across drops. Time is nanoseconds since
//! one `Instant` shared by both threads.
//!
//! Sweeps cut short by the end of the stream (`incomplete`) are not timed: nobody waited for
//! them. What is *not* included: for an audio or serial device, the time between the driver
//! delivering a buffer and the source thread pushing it into this ring (for audio, the
//! reading thread looks every 0.25 ms); for the simulated patient the source thread *is* the
//! device: it pushes each buffer at the moment its last sample would have been captured.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::detect::sweep::Geometry;
use crate::detect::EngineEvent;
use crate::model::RejectReason;

/// One block entering the sample ring: the engine frame count after it, and when.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    /// Frames pushed into the ring up to and including this block.
    pub end_frame: u64,
    /// When the block was pushed, ns since the pipeline's start.
    pub at_ns: u64,
}

/// Stamps of the recent blocks, oldest first (a fixed circular list).
#[derive(Debug)]
pub struct Arrivals {
    buf: Vec<Stamp>,
    head: usize,
    len: usize,
    /// Frames before this one belonged to blocks already forgotten.
    known_from: u64,
}

impl Arrivals {
    /// Room for `capacity` blocks (allocates once).
    pub fn new(capacity: usize) -> Self {
        Self {
            buf: vec![Stamp::default(); capacity.max(1)],
            head: 0,
            len: 0,
            known_from: 0,
        }
    }

    /// Adds the newest block. When full, the oldest is forgotten (a verdict that needed it is
    /// counted as not timed).
    pub fn push(&mut self, s: Stamp) {
        let cap = self.buf.len();
        if self.len == cap {
            self.forget_oldest();
        }
        self.buf[(self.head + self.len) % cap] = s;
        self.len += 1;
    }

    fn forget_oldest(&mut self) {
        self.known_from = self.buf[self.head].end_frame;
        self.head = (self.head + 1) % self.buf.len();
        self.len -= 1;
    }

    /// When frame `frame` entered the ring: the stamp of the first block ending after it.
    /// Blocks that end before `keep_from` are forgotten on the way (no later question can be
    /// about them). None if that block is not (or no longer) known: a forgotten block's time
    /// is never guessed from a later one.
    pub fn arrival_of(&mut self, frame: u64, keep_from: u64) -> Option<u64> {
        let cap = self.buf.len();
        while self.len > 0 && self.buf[self.head].end_frame <= keep_from {
            self.forget_oldest();
        }
        if frame < self.known_from {
            return None;
        }
        (0..self.len)
            .map(|i| self.buf[(self.head + i) % cap])
            .find(|s| s.end_frame > frame)
            .map(|s| s.at_ns)
    }
}

/// Bin width of [`LatencyHistogram`], ns.
pub const BIN_NS: u64 = 10_000;
/// Bins of [`LatencyHistogram`]: 10 µs each, up to 250 ms; longer latencies share the last.
pub const BINS: usize = 25_000;

/// Latencies in 10 µs bins, with the exact maximum. Percentiles are read as the upper edge of
/// the bin that holds them (so they are never flattering by more than 10 µs).
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    bins: Vec<u32>,
    count: u64,
    max_ns: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        Self {
            bins: vec![0; BINS],
            count: 0,
            max_ns: 0,
        }
    }

    pub fn record(&mut self, ns: u64) {
        let i = ((ns / BIN_NS) as usize).min(BINS - 1);
        self.bins[i] = self.bins[i].saturating_add(1);
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max_ns(&self) -> u64 {
        self.max_ns
    }

    /// The latency that `q` (0-1) of the verdicts did not exceed, ns (0 when empty). Never
    /// above the exact maximum.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let want = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &n) in self.bins.iter().enumerate() {
            seen += u64::from(n);
            if seen >= want {
                // The last bin has no upper edge: everything beyond is only known by the
                // maximum.
                if i == BINS - 1 {
                    return self.max_ns;
                }
                return ((i as u64 + 1) * BIN_NS).min(self.max_ns);
            }
        }
        self.max_ns
    }
}

/// p50, p99 and max of one latency, in ns, readable from any thread.
#[derive(Debug, Default)]
pub struct LatencyFigures {
    pub count: AtomicU64,
    pub p50_ns: AtomicU64,
    pub p99_ns: AtomicU64,
    pub max_ns: AtomicU64,
}

/// A plain copy of [`LatencyFigures`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

impl LatencySummary {
    /// As milliseconds (p50, p99, max); None before the first verdict.
    pub fn ms(&self) -> Option<(f64, f64, f64)> {
        (self.count > 0).then(|| {
            let ms = |ns: u64| ns as f64 / 1e6;
            (ms(self.p50_ns), ms(self.p99_ns), ms(self.max_ns))
        })
    }
}

impl LatencyFigures {
    /// Publishes a histogram's figures.
    pub fn publish(&self, h: &LatencyHistogram) {
        self.p50_ns.store(h.quantile_ns(0.50), Ordering::Relaxed);
        self.p99_ns.store(h.quantile_ns(0.99), Ordering::Relaxed);
        self.max_ns.store(h.max_ns(), Ordering::Relaxed);
        self.count.store(h.count(), Ordering::Release);
    }

    pub fn load(&self) -> LatencySummary {
        LatencySummary {
            count: self.count.load(Ordering::Acquire),
            p50_ns: self.p50_ns.load(Ordering::Relaxed),
            p99_ns: self.p99_ns.load(Ordering::Relaxed),
            max_ns: self.max_ns.load(Ordering::Relaxed),
        }
    }

    /// Named counters for the session file: `{prefix}_{verdicts,p50_us,p99_us,max_us}`.
    pub fn counters(&self, prefix: &str) -> Vec<(String, u64)> {
        let s = self.load();
        vec![
            (format!("{prefix}_verdicts"), s.count),
            (format!("{prefix}_p50_us"), s.p50_ns / 1000),
            (format!("{prefix}_p99_us"), s.p99_ns / 1000),
            (format!("{prefix}_max_us"), s.max_ns / 1000),
        ]
    }
}

/// Stimuli remembered for their sweeps' verdicts (more than the engine lets wait).
const STIMS: usize = 128;

/// The DSP thread's side: knows when each frame arrived and times each verdict. Prepared
/// (allocated) once; [`arrived`](Self::arrived) and [`observe`](Self::observe) do not
/// allocate.
#[derive(Debug)]
pub struct LatencyMeter {
    geo: Geometry,
    base: Instant,
    arrivals: Arrivals,
    /// `(stimulus index, frame time)` by index modulo [`STIMS`].
    stims: [(u64, f64); STIMS],
    pub decision: LatencyHistogram,
    pub processing: LatencyHistogram,
    /// Verdicts whose frames' arrival was not known (not timed).
    pub untimed: u64,
    fresh: bool,
}

impl LatencyMeter {
    /// `base` is the time zero the source thread's stamps count from; `blocks` the number of
    /// recent blocks remembered.
    pub fn new(geo: Geometry, base: Instant, blocks: usize) -> Self {
        Self {
            geo,
            base,
            arrivals: Arrivals::new(blocks),
            stims: [(u64::MAX, f64::NAN); STIMS],
            decision: LatencyHistogram::new(),
            processing: LatencyHistogram::new(),
            untimed: 0,
            fresh: false,
        }
    }

    /// A block entered the ring.
    pub fn arrived(&mut self, s: Stamp) {
        self.arrivals.push(s);
    }

    /// Call with every engine event just before it is handed on: stimuli are remembered,
    /// sweep verdicts timed (now).
    pub fn observe(&mut self, e: &EngineEvent) {
        let now = self.base.elapsed().as_nanos() as u64;
        self.observe_at(e, now);
    }

    /// [`observe`](Self::observe) at a given time, ns since the base.
    pub fn observe_at(&mut self, e: &EngineEvent, now: u64) {
        match e {
            EngineEvent::Stimulus(s) => {
                self.stims[(s.index % STIMS as u64) as usize] = (s.index, s.frame_time);
            }
            // A sweep cut short by the end of the stream is not a decision anyone waited for.
            EngineEvent::Sweep(r) if r.reject_reason == Some(RejectReason::Incomplete) => {}
            EngineEvent::Sweep(r) => {
                let (index, frame_time) = self.stims[(r.stim_index % STIMS as u64) as usize];
                if index != r.stim_index {
                    self.untimed += 1;
                    return;
                }
                let (window_end, sweep_end) = self.geo.decision_frames(frame_time);
                match (
                    self.arrivals.arrival_of(window_end, window_end),
                    self.arrivals.arrival_of(sweep_end, window_end),
                ) {
                    (Some(w), Some(s)) => {
                        self.decision.record(now.saturating_sub(w));
                        self.processing.record(now.saturating_sub(s));
                        self.fresh = true;
                    }
                    _ => self.untimed += 1,
                }
            }
            _ => {}
        }
    }

    /// Publishes the figures if verdicts were timed since the last time.
    pub fn publish(&mut self, decision: &LatencyFigures, processing: &LatencyFigures) {
        if std::mem::take(&mut self.fresh) {
            decision.publish(&self.decision);
            processing.publish(&self.processing);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_arrives_with_the_block_that_holds_it() {
        let mut a = Arrivals::new(8);
        for (k, t) in [(64u64, 1000u64), (128, 2000), (192, 3000)] {
            a.push(Stamp {
                end_frame: k,
                at_ns: t,
            });
        }
        assert_eq!(a.arrival_of(0, 0), Some(1000));
        assert_eq!(a.arrival_of(63, 0), Some(1000));
        assert_eq!(a.arrival_of(64, 0), Some(2000));
        assert_eq!(a.arrival_of(191, 0), Some(3000));
        // Not arrived yet.
        assert_eq!(a.arrival_of(192, 0), None);
        // Forgetting blocks that end at or before 128 keeps the answer for later frames.
        assert_eq!(a.arrival_of(150, 128), Some(3000));
        assert_eq!(a.arrival_of(10, 128), None, "forgotten, not guessed");
    }

    #[test]
    fn a_full_list_forgets_the_oldest() {
        let mut a = Arrivals::new(2);
        for k in 1..=3u64 {
            a.push(Stamp {
                end_frame: k * 10,
                at_ns: k,
            });
        }
        assert_eq!(
            a.arrival_of(5, 0),
            None,
            "block 1 is forgotten, not guessed"
        );
        assert_eq!(a.arrival_of(25, 0), Some(3));
        assert_eq!(a.arrival_of(15, 0), Some(2));
    }

    #[test]
    fn quantiles_are_bin_upper_edges_capped_by_the_maximum() {
        let mut h = LatencyHistogram::new();
        assert_eq!(h.quantile_ns(0.5), 0);
        for us in 1..=100u64 {
            h.record(us * 1000 + 500); // 1.5 µs .. 100.5 µs
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.max_ns(), 100_500);
        // The 50th value is 50.5 µs, in bin [50, 60) µs.
        assert_eq!(h.quantile_ns(0.5), 60_000);
        // The 99th is 99.5 µs, in bin [90, 100) µs.
        assert_eq!(h.quantile_ns(0.99), 100_000);
        assert_eq!(h.quantile_ns(1.0), 100_500);
        // Beyond the last bin: counted there, maximum exact.
        h.record(3_000_000_000);
        assert_eq!(h.max_ns(), 3_000_000_000);
        assert_eq!(h.quantile_ns(1.0), 3_000_000_000);
    }

    #[test]
    fn a_verdict_is_timed_from_its_window_and_from_its_last_sample() {
        use crate::dashboard::state::tests::sweep as result;
        use crate::model::{Branch, MonitorState, Stimulus, SweepStatus};
        use crate::settings::Settings;
        // 10 kHz: a stimulus at frame 5000 has its window end at 5399, its sweep end at 5800.
        let geo = Geometry::new(10_000.0, &Settings::default());
        let mut m = LatencyMeter::new(geo, Instant::now(), 64);
        for k in 1..=60u64 {
            // 100-frame blocks, block k arriving at k ms.
            m.arrived(Stamp {
                end_frame: k * 100,
                at_ns: k * 1_000_000,
            });
        }
        let stim = Stimulus {
            index: 7,
            frame_time: 5000.0,
            branch: Branch::Zygomatic,
            intensity_ma: f32::NAN,
            pulse_width_s: f32::NAN,
        };
        let sweep = |index: u64| {
            let mut r = result(0, 0.0, SweepStatus::Absent, MonitorState::Baseline);
            r.stim_index = index;
            EngineEvent::Sweep(r)
        };
        m.observe_at(&EngineEvent::Stimulus(stim), 0);
        // Frame 5399 came with the block ending at 5400 (54 ms), 5800 with the one ending at
        // 5900 (59 ms); the verdict leaves at 59.5 ms.
        m.observe_at(&sweep(7), 59_500_000);
        assert_eq!(m.decision.max_ns(), 5_500_000);
        assert_eq!(m.processing.max_ns(), 500_000);
        // A second channel of the same stimulus is timed the same way.
        m.observe_at(&sweep(7), 59_500_000);
        assert_eq!((m.decision.count(), m.processing.count()), (2, 2));
        // A sweep of a stimulus never seen is counted, not guessed.
        m.observe_at(&sweep(8), 60_000_000);
        assert_eq!(m.untimed, 1);
        let (d, p) = (LatencyFigures::default(), LatencyFigures::default());
        m.publish(&d, &p);
        assert_eq!(d.load().count, 2);
        assert_eq!(p.load().max_ns, 500_000);
    }

    #[test]
    fn figures_publish_and_name_their_counters() {
        let mut h = LatencyHistogram::new();
        for _ in 0..10 {
            h.record(1_234_567);
        }
        let f = LatencyFigures::default();
        assert_eq!(f.load().ms(), None);
        f.publish(&h);
        let s = f.load();
        assert_eq!(s.count, 10);
        assert_eq!(s.max_ns, 1_234_567);
        assert_eq!(s.p50_ns, 1_234_567, "capped by the maximum");
        let c = f.counters("latency_decision");
        assert_eq!(c[0], ("latency_decision_verdicts".to_string(), 10));
        assert_eq!(c[3], ("latency_decision_max_us".to_string(), 1234));
    }
}
