//! Stimulus times from the stimulator's sync pulse, recorded on a channel of its own.
//!
//! ## What is detected
//! A stimulus is the moment the sync pulse crosses its threshold on the way up (or down, with
//! [`Polarity::Negative`]), timed to a fraction of a sample by linear interpolation between the
//! two samples around the crossing. Levels are measured from the channel's **resting level**,
//! a slow running mean (time constant 50 ms) that is only updated while the channel is at
//! rest, so a DC offset, slow drift or the undershoot of an AC-coupled (drooping) pulse does
//! not move the threshold much.
//!
//! ## The threshold
//! - With `trigger_level` set, the threshold is that absolute level in device units (for a
//!   negative pulse, the pulse is detected when the signal falls below it).
//! - Otherwise it is `trigger_fraction` x the **pulse height**, learned from the signal: the
//!   height of a pulse is its peak above the resting level, and the learned height is the
//!   median of the last five detected pulses (so one odd pulse does not move it).
//!
//! ## Before the height is known: the first pulse
//! The very first pulse of a recording must not be spent on learning, so until a height is
//! known a pulse is any rise of more than 20 x the resting noise (mean absolute deviation
//! from the resting level) and at least 1% of the channel's range, when the range is known.
//! The detector then follows that pulse to its peak (until it stops rising for 0.5 ms, falls
//! below half its peak, or 2 ms have passed), takes its own height, and finds where it crossed
//! `trigger_fraction` x that height in a short history of samples: the first pulse is timed
//! exactly like the others, just reported up to 2 ms later. The resting level and noise need
//! 2 ms of signal at the start of the stream (they start as plain running averages), so a
//! pulse in the first 2 ms is not found. A trigger channel that is perfectly flat except for
//! rare one-count flickers, with no known range, could take a flicker for its first pulse;
//! set `trigger_level` for such a channel.
//!
//! ## Hysteresis and refractory period
//! After a crossing the detector re-arms only when the signal has fallen below
//! `trigger_hysteresis` x the threshold (measured from rest), so noise or ringing on the edge
//! or the top of a pulse gives one detection, not several. A crossing within `refractory_ms`
//! of the previous stimulus is counted as suppressed, not reported. A drooping AC-coupled
//! pulse is handled by the same rules: its peak is at the start, it may re-arm before its
//! falling edge (which is not a rising crossing), and its undershoot is part of the rest.
//!
//! Non-finite samples are treated as a repeat of the previous sample.

use std::fmt;
use std::str::FromStr;

use super::{channel_samples, check, DetectorCounts, StimError};
use crate::settings::StimulusSettings;

/// Direction of the sync pulse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Polarity {
    /// The pulse goes up from its resting level.
    #[default]
    Positive,
    /// The pulse goes down from its resting level.
    Negative,
}

impl Polarity {
    pub fn name(self) -> &'static str {
        match self {
            Self::Positive => "positive",
            Self::Negative => "negative",
        }
    }
    fn sign(self) -> f64 {
        match self {
            Self::Positive => 1.0,
            Self::Negative => -1.0,
        }
    }
}

impl fmt::Display for Polarity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Polarity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "positive" | "pos" | "+" => Ok(Self::Positive),
            "negative" | "neg" | "-" => Ok(Self::Negative),
            other => Err(format!(
                "'{other}' is not a trigger polarity (positive, negative)"
            )),
        }
    }
}

/// A pulse is a rise of more than this many resting mean absolute deviations (before the
/// height is learned).
const NOISE_FACTOR: f64 = 20.0;
/// ... and of at least this fraction of the channel's range, when known.
const MIN_RISE_OF_RANGE: f64 = 0.01;
const REST_TAU_S: f64 = 0.05;
const WARMUP_S: f64 = 0.002;
const MIN_WARMUP: u64 = 8;
/// Longest time the first pulse is followed to its peak.
const LEARN_MAX_S: f64 = 0.002;
/// The peak is reached when the signal has not risen further for this long.
const SETTLE_S: f64 = 0.0005;
/// Samples kept before a learning candidate, for the look-back.
const PRE: u64 = 4;
/// Pulse heights kept for the median.
const HEIGHTS: usize = 5;

#[derive(Clone, Copy, Debug)]
enum State {
    /// Waiting for a rising crossing.
    Armed,
    /// Following the first pulse to its peak (no height known yet).
    Learning {
        onset: u64,
        peak: f64,
        since_peak: u64,
    },
    /// Above the threshold, waiting to fall below the re-arm level.
    InPulse { peak: f64, accepted: bool },
}

/// Finds sync pulses on a trigger channel. See the module documentation.
#[derive(Clone, Debug)]
pub struct TriggerDetector {
    sign: f64,
    fraction: f64,
    /// Sign-adjusted absolute level (`trigger_level`).
    level: Option<f64>,
    hysteresis: f64,
    refractory: f64,
    min_rise: f64,
    alpha: f64,
    warmup: u64,
    learn_max: u64,
    settle: u64,
    // state
    seen: u64,
    first_frame: u64,
    prev_y: f64,
    rest: f64,
    noise: f64,
    state: State,
    heights: [f64; HEIGHTS],
    n_heights: usize,
    next_height: usize,
    height: f64,
    last: Option<f64>,
    /// Recent samples (sign-adjusted), indexed by absolute frame modulo its length.
    history: Vec<f64>,
    counts: DetectorCounts,
}

impl TriggerDetector {
    /// A detector for a channel sampled at `sample_rate_hz`. `range_units` is the channel's
    /// representable range in device units, when known (it sets the smallest rise taken for a
    /// first pulse).
    pub fn new(
        settings: &StimulusSettings,
        sample_rate_hz: f64,
        polarity: Polarity,
        range_units: Option<(f64, f64)>,
    ) -> Result<Self, StimError> {
        check(
            "sample rate",
            sample_rate_hz,
            sample_rate_hz > 0.0,
            "a positive number of Hz",
        )?;
        let f = settings.trigger_fraction;
        check(
            "stimulus.trigger_fraction",
            f,
            f > 0.0 && f < 1.0,
            "between 0 and 1",
        )?;
        let h = settings.trigger_hysteresis;
        check(
            "stimulus.trigger_hysteresis",
            h,
            (0.0..1.0).contains(&h),
            "0 or more, below 1",
        )?;
        let r = settings.refractory_ms;
        check("stimulus.refractory_ms", r, r >= 0.0, "0 or more")?;
        if let Some(level) = settings.trigger_level {
            check("stimulus.trigger_level", level, true, "a finite number")?;
        }
        let frames = |s: f64| (s * sample_rate_hz).ceil() as u64;
        let learn_max = frames(LEARN_MAX_S).max(4);
        let min_rise = match range_units {
            Some((lo, hi)) if (hi - lo).is_finite() => MIN_RISE_OF_RANGE * (hi - lo).abs(),
            _ => 0.0,
        };
        Ok(Self {
            sign: polarity.sign(),
            fraction: f,
            level: settings.trigger_level.map(|l| l * polarity.sign()),
            hysteresis: h,
            refractory: r * 1e-3 * sample_rate_hz,
            min_rise,
            alpha: 1.0 / (REST_TAU_S * sample_rate_hz).max(1.0),
            warmup: frames(WARMUP_S).max(MIN_WARMUP),
            learn_max,
            settle: frames(SETTLE_S).max(3),
            seen: 0,
            first_frame: 0,
            prev_y: 0.0,
            rest: 0.0,
            noise: 0.0,
            state: State::Armed,
            heights: [0.0; HEIGHTS],
            n_heights: 0,
            next_height: 0,
            height: 0.0,
            last: None,
            history: vec![0.0; (learn_max + PRE + 4) as usize],
            counts: DetectorCounts::default(),
        })
    }

    /// Walks one block of interleaved frames (`channels` values each; only `channel` is read);
    /// `start_frame` is the absolute index of the block's first frame. Calls `emit` with the
    /// time (absolute frame index plus fraction) of every stimulus found. Does not allocate.
    pub fn process(
        &mut self,
        frames: &[f32],
        channels: usize,
        channel: usize,
        start_frame: u64,
        emit: &mut impl FnMut(f64),
    ) {
        for (i, x) in channel_samples(frames, channels, channel).enumerate() {
            self.step(x, start_frame.wrapping_add(i as u64), emit);
        }
    }

    /// Counts so far.
    pub fn counts(&self) -> DetectorCounts {
        self.counts
    }

    /// The pulse height learned so far (device units above rest), if any.
    pub fn learned_height(&self) -> Option<f64> {
        (self.n_heights > 0).then_some(self.height)
    }

    /// The current resting level of the channel, in device units.
    pub fn resting_level(&self) -> f64 {
        self.rest * self.sign
    }

    /// The longest delay between a stimulus and its report, in frames (the first pulse is
    /// followed to its peak before it is reported; later ones are reported at once).
    pub fn max_latency_frames(&self) -> u64 {
        self.learn_max + 1
    }

    /// Threshold above rest, once it is known.
    fn threshold(&self) -> Option<f64> {
        match self.level {
            Some(level) => Some(level - self.rest),
            None => (self.n_heights > 0).then_some(self.fraction * self.height),
        }
    }

    fn slot(&self, frame: u64) -> usize {
        (frame % self.history.len() as u64) as usize
    }

    fn accept(&mut self, time: f64, emit: &mut impl FnMut(f64)) -> bool {
        let ok = self.last.is_none_or(|last| time - last >= self.refractory);
        if ok {
            self.last = Some(time);
            self.counts.detections += 1;
            emit(time);
        } else {
            self.counts.suppressed += 1;
        }
        ok
    }

    fn step(&mut self, x: f32, n: u64, emit: &mut impl FnMut(f64)) {
        let y = if x.is_finite() {
            x as f64 * self.sign
        } else {
            self.prev_y
        };
        let slot = self.slot(n);
        if let Some(h) = self.history.get_mut(slot) {
            *h = y;
        }
        if self.seen == 0 {
            self.first_frame = n;
            self.rest = y;
            self.prev_y = y;
            self.seen = 1;
            return;
        }
        let e = y - self.rest;
        let e_prev = self.prev_y - self.rest;
        let candidate = (NOISE_FACTOR * self.noise)
            .max(self.min_rise)
            .max(f64::MIN_POSITIVE);
        let mut at_rest = false;
        match self.state {
            State::Armed if self.seen < self.warmup => at_rest = true,
            State::Armed => match self.threshold() {
                Some(t) if e >= t => {
                    let time = if e_prev < t {
                        n as f64 - 1.0 + (t - e_prev) / (e - e_prev)
                    } else {
                        n as f64
                    };
                    let accepted = self.accept(time, emit);
                    self.state = State::InPulse { peak: e, accepted };
                }
                Some(t) => at_rest = e < self.hysteresis * t,
                None if e >= candidate => {
                    self.state = State::Learning {
                        onset: n,
                        peak: e,
                        since_peak: 0,
                    };
                }
                None => at_rest = e < self.hysteresis * candidate,
            },
            State::Learning {
                onset,
                mut peak,
                mut since_peak,
            } => {
                if e > peak {
                    peak = e;
                    since_peak = 0;
                } else {
                    since_peak += 1;
                }
                if since_peak >= self.settle
                    || e < 0.5 * peak
                    || n.saturating_sub(onset) >= self.learn_max
                {
                    let time = self.look_back(onset, n, self.fraction * peak);
                    let accepted = self.accept(time, emit);
                    self.state = State::InPulse { peak, accepted };
                } else {
                    self.state = State::Learning {
                        onset,
                        peak,
                        since_peak,
                    };
                }
            }
            State::InPulse { peak, accepted } => {
                let peak = peak.max(e);
                let t = self.threshold().unwrap_or(self.fraction * peak);
                if e < self.hysteresis * t {
                    if accepted && self.level.is_none() {
                        self.push_height(peak);
                    }
                    self.state = State::Armed;
                } else {
                    self.state = State::InPulse { peak, accepted };
                }
            }
        }
        if at_rest {
            let a = self.alpha.max(1.0 / (self.seen + 1) as f64);
            self.rest += a * (y - self.rest);
            self.noise += a * ((y - self.rest).abs() - self.noise);
        }
        self.prev_y = y;
        self.seen = self.seen.saturating_add(1);
    }

    /// Time of the first upward crossing of `t` (above the current rest) between a few
    /// samples before `onset` and `now`, from the sample history.
    fn look_back(&self, onset: u64, now: u64, t: f64) -> f64 {
        let from = onset.saturating_sub(PRE).max(self.first_frame);
        let value = |k: u64| self.history.get(self.slot(k)).copied().unwrap_or(0.0) - self.rest;
        let mut before = value(from);
        if before >= t {
            return from as f64;
        }
        for k in from + 1..=now {
            let v = value(k);
            if v >= t {
                return k as f64 - 1.0 + (t - before) / (v - before);
            }
            before = v;
        }
        onset as f64
    }

    fn push_height(&mut self, h: f64) {
        if let Some(slot) = self.heights.get_mut(self.next_height) {
            *slot = h;
        }
        self.next_height = (self.next_height + 1) % HEIGHTS;
        self.n_heights = (self.n_heights + 1).min(HEIGHTS);
        let mut sorted = self.heights;
        let used = &mut sorted[..self.n_heights];
        used.sort_unstable_by(f64::total_cmp);
        let mid = used.len() / 2;
        self.height = if used.len() % 2 == 1 {
            used[mid]
        } else {
            0.5 * (used[mid - 1] + used[mid])
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stim::testutil::{random_chunks, Rng};

    const FS: f64 = 10_000.0;

    fn settings() -> StimulusSettings {
        StimulusSettings::default()
    }

    /// A trapezoidal pulse: rises linearly from `rest` to `rest + height` over `ramp` samples
    /// starting at `t0`, stays `width` samples, falls over `ramp` samples.
    fn pulse_value(n: f64, t0: f64, ramp: f64, width: f64, height: f64) -> f64 {
        let up = ((n - t0) / ramp).clamp(0.0, 1.0);
        let down = ((n - (t0 + ramp + width)) / ramp).clamp(0.0, 1.0);
        height * (up - down)
    }

    fn pulse_train(
        len: usize,
        starts: &[f64],
        ramp: f64,
        width: f64,
        rest: f64,
        height: f64,
    ) -> Vec<f32> {
        (0..len)
            .map(|n| {
                let v: f64 = starts
                    .iter()
                    .map(|&t0| pulse_value(n as f64, t0, ramp, width, height))
                    .sum();
                (rest + v) as f32
            })
            .collect()
    }

    fn run(det: &mut TriggerDetector, x: &[f32], channels: usize, channel: usize) -> Vec<f64> {
        let mut out = Vec::new();
        det.process(x, channels, channel, 0, &mut |t| out.push(t));
        out
    }

    fn starts(n: usize, first: f64, spacing: f64) -> Vec<f64> {
        let mut rng = Rng::new(7);
        (0..n)
            .map(|i| first + i as f64 * spacing + rng.uniform())
            .collect()
    }

    #[test]
    fn ramped_edges_are_timed_to_a_twentieth_of_a_sample() {
        let ramp = 3.7;
        let t0 = starts(8, 500.0, 4000.0);
        let x = pulse_train(34_000, &t0, ramp, 20.0, 0.2, 3.0);
        let mut det = TriggerDetector::new(&settings(), FS, Polarity::Positive, None).unwrap();
        let found = run(&mut det, &x, 1, 0);
        assert_eq!(found.len(), t0.len(), "{found:?}");
        for (f, t) in found.iter().zip(&t0) {
            let expected = t + 0.5 * ramp; // half height is reached half-way up the ramp
            assert!(
                (f - expected).abs() < 0.05,
                "found {f}, expected {expected}"
            );
        }
        assert!((det.learned_height().unwrap() - 3.0).abs() < 1e-3);
        assert_eq!(
            det.counts(),
            DetectorCounts {
                detections: 8,
                suppressed: 0
            }
        );
    }

    #[test]
    fn the_first_pulse_is_found_and_timed_like_the_others() {
        // One pulse only, 5 ms into the recording, on a noisy channel.
        let mut rng = Rng::new(3);
        let t0 = 50.3;
        let x: Vec<f32> = (0..2000)
            .map(|n| (pulse_value(n as f64, t0, 2.0, 10.0, 1000.0) + 5.0 * rng.gauss()) as f32)
            .collect();
        let mut det = TriggerDetector::new(&settings(), FS, Polarity::Positive, None).unwrap();
        let found = run(&mut det, &x, 1, 0);
        assert_eq!(found.len(), 1);
        assert!((found[0] - (t0 + 1.0)).abs() < 0.1, "{found:?}");
    }

    #[test]
    fn a_bouncing_noisy_edge_gives_one_detection_per_pulse() {
        let mut rng = Rng::new(11);
        let t0 = starts(20, 300.0, 1000.0);
        // Up to 60% in 2 samples, back to 40%, then up to the top; noisy top.
        let shape = [0.0, 0.3, 0.6, 0.4, 0.45, 0.8, 1.0];
        let x: Vec<f32> = (0..21_000)
            .map(|n| {
                let mut v = 0.0;
                for &t in &t0 {
                    let k = n as f64 - t.floor();
                    if (0.0..shape.len() as f64).contains(&k) {
                        v = shape[k as usize];
                    } else if k >= shape.len() as f64 && k < 60.0 {
                        v = 1.0;
                    }
                }
                (100.0 * v + 3.0 * rng.gauss()) as f32
            })
            .collect();
        let mut s = settings();
        s.refractory_ms = 0.0;
        let mut det = TriggerDetector::new(&s, FS, Polarity::Positive, None).unwrap();
        let found = run(&mut det, &x, 1, 0);
        assert_eq!(found.len(), t0.len(), "{found:?}");
        for (f, t) in found.iter().zip(&t0) {
            assert!(*f > t.floor() && *f < t.floor() + 3.0, "{f} vs {t}");
        }
        // The same signal without hysteresis re-triggers on the bounce: the test has teeth.
        s.trigger_hysteresis = 0.99;
        let mut loose = TriggerDetector::new(&s, FS, Polarity::Positive, None).unwrap();
        assert!(run(&mut loose, &x, 1, 0).len() > t0.len());
    }

    #[test]
    fn pulses_inside_the_refractory_period_are_suppressed() {
        // Pulses every 30 ms, refractory 100 ms: stimuli at 0, 120, 240 ms ... are reported.
        let t0: Vec<f64> = (0..12).map(|i| 100.25 + i as f64 * 300.0).collect();
        let x = pulse_train(4000, &t0, 2.0, 5.0, 0.0, 1.0);
        let mut det = TriggerDetector::new(&settings(), FS, Polarity::Positive, None).unwrap();
        let found = run(&mut det, &x, 1, 0);
        let expected: Vec<f64> = t0.iter().step_by(4).map(|t| t + 1.0).collect();
        assert_eq!(found.len(), expected.len(), "{found:?}");
        for (f, e) in found.iter().zip(&expected) {
            assert!((f - e).abs() < 0.05);
        }
        assert_eq!(det.counts().suppressed, 9);
    }

    #[test]
    fn drooping_ac_coupled_pulses_and_negative_polarity() {
        // 5 ms pulses through a 20 ms first-order high-pass: 22% droop and an undershoot.
        let t0 = starts(10, 1000.0, 5000.0);
        let raw = pulse_train(52_000, &t0, 2.0, 50.0, 0.0, 2.0);
        let a = 0.02 * FS / (0.02 * FS + 1.0);
        let mut hp = vec![0f32; raw.len()];
        for n in 1..raw.len() {
            hp[n] = (a * (hp[n - 1] as f64 + raw[n] as f64 - raw[n - 1] as f64)) as f32;
        }
        for polarity in [Polarity::Positive, Polarity::Negative] {
            let x: Vec<f32> = hp.iter().map(|v| v * polarity.sign() as f32).collect();
            let mut det = TriggerDetector::new(&settings(), FS, polarity, None).unwrap();
            let found = run(&mut det, &x, 1, 0);
            assert_eq!(found.len(), t0.len(), "{polarity}: {found:?}");
            for (f, t) in found.iter().zip(&t0) {
                assert!(
                    (f - (t + 1.0)).abs() < 0.1,
                    "{polarity}: {f} vs {}",
                    t + 1.0
                );
            }
        }
    }

    #[test]
    fn an_absolute_level_is_used_as_given() {
        let t0 = starts(3, 200.0, 2000.0);
        let x = pulse_train(7000, &t0, 4.0, 20.0, 0.0, 8.0);
        let mut s = settings();
        s.trigger_level = Some(2.0); // a quarter of the height: a quarter of the way up
        let mut det = TriggerDetector::new(&s, FS, Polarity::Positive, None).unwrap();
        let found = run(&mut det, &x, 1, 0);
        assert_eq!(found.len(), 3);
        for (f, t) in found.iter().zip(&t0) {
            assert!((f - (t + 1.0)).abs() < 0.05, "{f} vs {t}");
        }
        // Negative polarity: level -2 on an inverted signal.
        s.trigger_level = Some(-2.0);
        let inv: Vec<f32> = x.iter().map(|v| -v).collect();
        let mut det = TriggerDetector::new(&s, FS, Polarity::Negative, None).unwrap();
        assert_eq!(run(&mut det, &inv, 1, 0), found);
    }

    #[test]
    fn results_do_not_depend_on_block_boundaries() {
        let mut rng = Rng::new(5);
        let t0 = starts(15, 100.0, 2200.0);
        let pulses = pulse_train(34_000, &t0, 2.5, 15.0, -40.0, 500.0);
        // Three channels; the trigger is the middle one.
        let mut x = Vec::with_capacity(pulses.len() * 3);
        for p in &pulses {
            x.extend_from_slice(&[rng.gauss() as f32, *p + 4.0 * rng.gauss() as f32, 1.0]);
        }
        let mut whole = TriggerDetector::new(&settings(), FS, Polarity::Positive, None).unwrap();
        let reference = run(&mut whole, &x, 3, 1);
        assert_eq!(reference.len(), t0.len());
        for seed in 0..5 {
            let mut det = TriggerDetector::new(&settings(), FS, Polarity::Positive, None).unwrap();
            let mut found = Vec::new();
            random_chunks(&x, 3, 700, seed, |block, start| {
                det.process(block, 3, 1, start, &mut |t| found.push(t))
            });
            assert_eq!(found, reference, "chunking seed {seed}");
            assert_eq!(det.counts(), whole.counts());
        }
    }

    #[test]
    fn noise_alone_gives_no_stimulus() {
        let mut rng = Rng::new(9);
        let x: Vec<f32> = (0..100_000).map(|_| (10.0 * rng.gauss()) as f32).collect();
        let mut det = TriggerDetector::new(&settings(), FS, Polarity::Positive, None).unwrap();
        assert!(run(&mut det, &x, 1, 0).is_empty());
        assert_eq!(det.learned_height(), None);
    }

    #[test]
    fn the_range_sets_the_smallest_first_pulse() {
        // A flat line with a 1-count flicker, then a real pulse: with the range known, the
        // flicker is not taken for the first pulse.
        let mut x = vec![0f32; 3000];
        x[500] = 1.0;
        for v in &mut x[1500..1520] {
            *v = 400.0;
        }
        let range = Some((-512.0, 511.0));
        let mut det = TriggerDetector::new(&settings(), FS, Polarity::Positive, range).unwrap();
        let found = run(&mut det, &x, 1, 0);
        assert_eq!(found.len(), 1);
        assert!((found[0] - 1499.5).abs() < 1e-3, "{found:?}");
        // Without the range, the flicker is the first "pulse" (documented limitation).
        let mut det = TriggerDetector::new(&settings(), FS, Polarity::Positive, None).unwrap();
        assert!(run(&mut det, &x, 1, 0)[0] < 501.0);
    }

    #[test]
    fn bad_settings_are_refused_and_bad_layouts_ignored() {
        let mut s = settings();
        s.trigger_fraction = 1.5;
        assert!(TriggerDetector::new(&s, FS, Polarity::Positive, None).is_err());
        assert!(TriggerDetector::new(&settings(), 0.0, Polarity::Positive, None).is_err());
        let mut det = TriggerDetector::new(&settings(), FS, Polarity::Positive, None).unwrap();
        det.process(&[1.0, f32::NAN, f32::INFINITY], 0, 3, 0, &mut |_| panic!());
        det.process(&[1.0, f32::NAN, f32::INFINITY], 2, 1, 0, &mut |_| panic!());
        assert_eq!("Negative".parse::<Polarity>().unwrap(), Polarity::Negative);
    }
}
