//! Stimulus times from the stimulus artifact on an EMG channel: the last resort when neither
//! the source nor a trigger channel marks the stimuli.
//!
//! ## What an artifact looks like, and what does not
//! The stimulus couples into the recording electrodes as a millivolt-sized spike in the first
//! 1-3 ms. Its edge is limited only by the amplifier's bandwidth: it happens within a sample
//! or two, out of a quiet background. Everything else is either slower (mains, motor-unit
//! potentials, the LSR, even a millivolt M response: their sample-to-sample steps grow and
//! shrink gradually) or does not stop (electrocautery, a saturating amplifier).
//!
//! ## Candidates, sample by sample
//! A step `d = x[n] - x[n-1]` (in microvolts) is a candidate when
//! 1. `|d|` exceeds both `artifact_step_uv` and `artifact_step_noise_factor` x the channel's
//!    **step noise**, a running mean of `|d|` (time constant 50 ms) in which each step counts
//!    at most 4 x the current estimate (so isolated spikes, artifacts included, barely move
//!    it, while a lasting rise of the noise, such as electrocautery, is followed within
//!    about 100 ms); and
//! 2. the step is **abrupt**: at least 2.5 x every step of the 0.5 ms before it. A smooth
//!    wave's big steps follow steps of a similar size, even near its peaks where they turn
//!    fast; an artifact's edge follows a quiet baseline. At 44.1/48 kHz an edge may span two
//!    samples, and it still passes when its full step is 2.5 x the partial step before it
//!    (edges of about 40 µs, artifacts from about 2 mV up), while M responses there have
//!    steps far below the step threshold.
//!
//! ## Stimulus or not: the "too busy" guard
//! A candidate is held for 13 ms. The channel is **too busy** when more than 20% of the samples
//! in the 10 ms before the candidate, or in the 10 ms starting 3 ms after it (past the
//! artifact itself), have a second difference `|x[n] - 2x[n-1] + x[n-2]|` above
//! `artifact_step_uv`: broadband activity that does not stop, such as the onset or the end of
//! an electrocautery burst, not an isolated spike. Physiological waves, even a 5 mV M response
//! at 5 kHz, have second differences well below that; cautery has them on most samples.
//! A busy candidate is counted as suppressed, and so is a candidate within `refractory_ms` of
//! the previous stimulus (held like the others, so that one artifact counts once). During a
//! long burst the step noise rises until no step is a candidate at all, so a burst yields a
//! handful of suppressed candidates and no stimulus; for about 0.3 s after it the detector is
//! insensitive while the noise estimate decays.
//!
//! ## The time
//! The time is the **onset** of the step: the steepest step of the edge (the candidate and the
//! next steps of the same sign, at most 4) is extended back to the baseline (a 0.5 ms running
//! mean of the signal before the candidate), and the sub-sample point where it leaves the
//! baseline is the stimulus time. On a sampled edge that spans a sample or more this is exact;
//! an edge faster than a sample can only be placed within that sample (error below one
//! sample). The report comes 13 ms after the stimulus.
//!
//! Non-finite samples are treated as a repeat of the previous sample.

use super::{channel_samples, check, DetectorCounts, StimError};
use crate::settings::StimulusSettings;

const NOISE_TAU_S: f64 = 0.05;
const BASE_TAU_S: f64 = 0.0005;
/// A step counts in the noise estimate at most this many times the current estimate.
const NOISE_CLIP: f64 = 4.0;
/// A candidate step must be at least this many times every step of the last `ABRUPT_S`.
const ABRUPT: f64 = 2.5;
const ABRUPT_S: f64 = 0.0005;
/// Busy windows: 10 ms before the candidate, and 10 ms starting 3 ms after it.
const BUSY_WINDOW_S: f64 = 0.010;
const BUSY_SKIP_S: f64 = 0.003;
/// More than this fraction of rough samples in a window: too busy.
const BUSY_FRACTION: f64 = 0.2;
/// Steps of an edge examined for the steepest one.
const EDGE_MAX: u32 = 4;
const WARMUP_S: f64 = 0.002;
const MIN_WARMUP: u64 = 8;

/// A candidate waiting for the end of its busy windows.
#[derive(Clone, Copy, Debug)]
struct Pending {
    first: u64,
    sign: f64,
    base: f64,
    /// Steepest step of the edge, its frame and the sample before it.
    best_step: f64,
    best_frame: u64,
    best_before: f64,
    edge_steps: u32,
    edge_open: bool,
    /// Inside the refractory period of the previous stimulus: will be suppressed.
    refractory: bool,
    busy_before: u32,
    busy_after: u32,
    /// Samples seen since the candidate.
    age: u32,
}

/// Finds stimulus artifacts on an EMG channel. See the module documentation.
#[derive(Clone, Debug)]
pub struct ArtifactDetector {
    uv_per_unit: f64,
    step_uv: f64,
    noise_factor: f64,
    refractory: f64,
    alpha: f64,
    beta: f64,
    warmup: u64,
    window: u32,
    skip: u32,
    // state
    seen: u64,
    prev_x: f64,
    prev_d: f64,
    base: f64,
    noise: f64,
    /// |step| of the last 0.5 ms, µV, indexed by absolute frame modulo its length.
    recent_steps: Vec<f32>,
    /// Whether each of the last `window` samples was rough (second difference above
    /// `artifact_step_uv`), and how many of them were.
    rough: Vec<bool>,
    rough_count: u32,
    pending: Option<Pending>,
    last: Option<f64>,
    counts: DetectorCounts,
}

impl ArtifactDetector {
    /// A detector for an EMG channel sampled at `sample_rate_hz` whose samples are converted
    /// to microvolts by `uv_per_unit` (1.0 when the samples are already in µV).
    pub fn new(
        settings: &StimulusSettings,
        sample_rate_hz: f64,
        uv_per_unit: f64,
    ) -> Result<Self, StimError> {
        check(
            "sample rate",
            sample_rate_hz,
            sample_rate_hz > 0.0,
            "a positive number of Hz",
        )?;
        check(
            "microvolts per unit",
            uv_per_unit,
            uv_per_unit > 0.0,
            "a positive number",
        )?;
        let s = settings.artifact_step_uv;
        check("stimulus.artifact_step_uv", s, s > 0.0, "a positive number")?;
        let k = settings.artifact_step_noise_factor;
        check(
            "stimulus.artifact_step_noise_factor",
            k,
            k >= 0.0,
            "0 or more",
        )?;
        let r = settings.refractory_ms;
        check("stimulus.refractory_ms", r, r >= 0.0, "0 or more")?;
        let frames = |s: f64| (s * sample_rate_hz).ceil() as u32;
        let window = frames(BUSY_WINDOW_S).max(4);
        Ok(Self {
            uv_per_unit,
            step_uv: s,
            noise_factor: k,
            refractory: r * 1e-3 * sample_rate_hz,
            alpha: 1.0 / (NOISE_TAU_S * sample_rate_hz).max(1.0),
            beta: 1.0 / (BASE_TAU_S * sample_rate_hz).max(1.0),
            warmup: (frames(WARMUP_S) as u64).max(MIN_WARMUP),
            window,
            skip: frames(BUSY_SKIP_S),
            seen: 0,
            prev_x: 0.0,
            prev_d: 0.0,
            base: 0.0,
            noise: 0.0,
            recent_steps: vec![0.0; frames(ABRUPT_S).max(1) as usize],
            rough: vec![false; window as usize],
            rough_count: 0,
            pending: None,
            last: None,
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

    /// The running step noise (mean absolute sample-to-sample difference), µV.
    pub fn step_noise_uv(&self) -> f64 {
        self.noise
    }

    /// The step a stimulus artifact must exceed right now, µV.
    pub fn threshold_uv(&self) -> f64 {
        self.step_uv.max(self.noise_factor * self.noise)
    }

    /// The delay between a stimulus and its report, in frames.
    pub fn max_latency_frames(&self) -> u64 {
        (self.skip + self.window) as u64 + 1
    }

    fn step(&mut self, x: f32, n: u64, emit: &mut impl FnMut(f64)) {
        let x = if x.is_finite() {
            x as f64 * self.uv_per_unit
        } else {
            self.prev_x
        };
        if self.seen == 0 {
            self.prev_x = x;
            self.base = x;
            self.seen = 1;
            return;
        }
        let d = x - self.prev_x;
        let ad = d.abs();
        let rough = self.seen >= 2 && (d - self.prev_d).abs() > self.step_uv;
        let threshold = self.threshold_uv();
        if let Some(mut p) = self.pending.take() {
            p.age += 1;
            if p.edge_open && d * p.sign > 0.0 && p.edge_steps < EDGE_MAX {
                if ad > p.best_step.abs() {
                    p.best_step = d;
                    p.best_frame = n;
                    p.best_before = self.prev_x;
                }
                p.edge_steps += 1;
            } else {
                p.edge_open = false;
            }
            if p.age > self.skip && rough {
                p.busy_after += 1;
            }
            if p.age >= self.skip + self.window {
                self.decide(&p, emit);
            } else {
                self.pending = Some(p);
            }
        } else if self.seen > self.warmup && ad > threshold && self.abrupt(ad) {
            let refractory = self
                .last
                .is_some_and(|last| n as f64 - 1.0 - last < self.refractory);
            self.pending = Some(Pending {
                first: n,
                sign: d.signum(),
                base: self.base,
                best_step: d,
                best_frame: n,
                best_before: self.prev_x,
                edge_steps: 1,
                edge_open: true,
                refractory,
                busy_before: self.rough_count,
                busy_after: 0,
                age: 0,
            });
        }
        self.remember(n, ad, rough);
        if self.seen <= self.warmup {
            self.noise += (ad - self.noise) / self.seen as f64;
        } else {
            let clip = (NOISE_CLIP * self.noise).max(self.step_uv / self.noise_factor.max(1.0));
            self.noise += self.alpha * (ad.min(clip) - self.noise);
        }
        self.base += self.beta * (self.prev_x - self.base);
        self.prev_d = d;
        self.prev_x = x;
        self.seen = self.seen.saturating_add(1);
    }

    /// The step stands out against every step of the last 0.5 ms.
    fn abrupt(&self, ad: f64) -> bool {
        let recent = self.recent_steps.iter().fold(0f32, |m, &s| m.max(s)) as f64;
        ad >= ABRUPT * recent
    }

    fn remember(&mut self, n: u64, ad: f64, rough: bool) {
        let len = self.recent_steps.len().max(1) as u64;
        if let Some(s) = self.recent_steps.get_mut((n % len) as usize) {
            *s = ad as f32;
        }
        let len = self.rough.len().max(1) as u64;
        if let Some(r) = self.rough.get_mut((n % len) as usize) {
            self.rough_count = self.rough_count - u32::from(*r) + u32::from(rough);
            *r = rough;
        }
    }

    fn decide(&mut self, p: &Pending, emit: &mut impl FnMut(f64)) {
        let limit = (BUSY_FRACTION * self.window as f64) as u32;
        if p.refractory || p.busy_before > limit || p.busy_after > limit {
            self.counts.suppressed += 1;
            return;
        }
        let back = if p.best_step != 0.0 {
            (p.best_before - p.base) / p.best_step
        } else {
            0.0
        };
        let onset = p.best_frame as f64 - 1.0 - back;
        let time = onset.clamp(p.first as f64 - 2.0, p.best_frame as f64);
        self.last = Some(time);
        self.counts.detections += 1;
        emit(time);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stim::testutil::{random_chunks, Rng};

    /// EMG background: white noise, mains with a harmonic.
    fn background(rng: &mut Rng, fs: f64, len: usize, noise_uv: f64) -> Vec<f64> {
        (0..len)
            .map(|n| {
                let t = n as f64 / fs;
                noise_uv * rng.gauss()
                    + 80.0 * (std::f64::consts::TAU * 60.0 * t).sin()
                    + 20.0 * (std::f64::consts::TAU * 180.0 * t + 0.3).sin()
            })
            .collect()
    }

    /// Stimulus artifact at `ts` seconds: a 40 µs linear rise to `amp` µV, then an exponential
    /// decay (0.4 ms); and an M-like biphasic wave (6 ms) starting 3 ms later.
    fn add_stimulus(x: &mut [f64], fs: f64, ts: f64, amp: f64, m_amp: f64) {
        let rise = 40e-6;
        let start = (ts * fs).floor() as usize;
        for (n, v) in x
            .iter_mut()
            .enumerate()
            .skip(start)
            .take((0.02 * fs) as usize)
        {
            let tau = n as f64 / fs - ts;
            if tau > 0.0 {
                let a = if tau < rise {
                    tau / rise
                } else {
                    (-(tau - rise) / 0.4e-3).exp()
                };
                *v += amp * a;
            }
            let tm = tau - 3e-3;
            if (0.0..6e-3).contains(&tm) {
                let hann = 0.5 - 0.5 * (std::f64::consts::TAU * tm / 6e-3).cos();
                *v += m_amp * hann * (std::f64::consts::TAU * tm / 6e-3).sin();
            }
        }
    }

    /// Motor-unit potential trains in bursts: Ricker (triphasic) MUAPs, 50-600 µV, phases of
    /// about 0.6-1.2 ms, two to three units at 8-20 Hz per burst.
    fn add_muap_bursts(rng: &mut Rng, x: &mut [f64], fs: f64) {
        let len = x.len() as f64 / fs;
        let mut t = rng.range(0.2, 2.0);
        while t < len {
            let dur = rng.range(0.3, 1.5);
            for _ in 0..2 + (rng.next_u64() % 2) {
                let amp = rng.range(50.0, 600.0) * if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
                let sigma = rng.range(0.6e-3, 1.2e-3);
                let rate = rng.range(8.0, 20.0);
                let mut f = t + rng.range(0.0, 0.05);
                while f < (t + dur).min(len) {
                    let c = (f * fs) as i64;
                    let half = (6.0 * sigma * fs) as i64;
                    for n in (c - half).max(0)..(c + half).min(x.len() as i64) {
                        let u = (n as f64 / fs - f) / sigma;
                        x[n as usize] += amp * (1.0 - u * u) * (-0.5 * u * u).exp();
                    }
                    f += 1.0 / rate * rng.range(0.9, 1.1);
                }
            }
            t += dur + rng.range(0.5, 4.0);
        }
    }

    fn detect(fs: f64, x: &[f64]) -> (Vec<f64>, DetectorCounts) {
        let frames: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let mut det = ArtifactDetector::new(&StimulusSettings::default(), fs, 1.0).unwrap();
        let mut out = Vec::new();
        det.process(&frames, 1, 0, 0, &mut |t| out.push(t));
        (out, det.counts())
    }

    #[test]
    fn artifacts_are_found_within_a_sample_at_every_rate() {
        for fs in [5_000.0, 10_000.0, 44_100.0, 48_000.0] {
            let mut rng = Rng::new(fs as u64);
            let mut x = background(&mut rng, fs, (12.0 * fs) as usize, 8.0);
            let mut truth = Vec::new();
            for i in 0..11 {
                let ts = 0.5 + i as f64 + rng.range(0.0, 0.3);
                let amp = rng.range(2000.0, 6000.0) * if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
                add_stimulus(&mut x, fs, ts, amp, rng.range(500.0, 5000.0));
                truth.push(ts * fs);
            }
            let (found, counts) = detect(fs, &x);
            assert_eq!(found.len(), truth.len(), "{fs} Hz: {found:?} vs {truth:?}");
            for (f, t) in found.iter().zip(&truth) {
                assert!((f - t).abs() < 1.0, "{fs} Hz: found {f}, true {t}");
            }
            assert_eq!(counts.detections, truth.len() as u64);
        }
    }

    #[test]
    fn an_edge_spanning_samples_is_timed_to_a_fraction_of_a_sample() {
        // At 48 kHz the 40 µs rise spans about two samples: the back-extension is near exact.
        let fs = 48_000.0;
        let mut rng = Rng::new(2);
        let mut x = background(&mut rng, fs, (6.0 * fs) as usize, 5.0);
        let mut truth = Vec::new();
        for i in 0..5 {
            let ts = 0.7 + i as f64 + rng.range(0.0, 0.01);
            add_stimulus(&mut x, fs, ts, 4000.0, 1000.0);
            truth.push(ts * fs);
        }
        let (found, _) = detect(fs, &x);
        assert_eq!(found.len(), truth.len());
        for (f, t) in found.iter().zip(&truth) {
            assert!((f - t).abs() < 0.25, "found {f}, true {t}");
        }
    }

    #[test]
    fn no_false_stimulus_in_a_minute_of_noise_mains_and_muap_bursts() {
        for fs in [5_000.0, 48_000.0] {
            let mut rng = Rng::new(17);
            let mut x = background(&mut rng, fs, (60.0 * fs) as usize, 8.0);
            add_muap_bursts(&mut rng, &mut x, fs);
            // M-like waves without artifacts (e.g. a stimulus artifact that was too small)
            for i in 0..20 {
                let m = if i % 2 == 0 { 5000.0 } else { -3000.0 };
                add_stimulus(
                    &mut x,
                    fs,
                    1.3 + 3.0 * i as f64 + 0.37 * i as f64 / fs,
                    0.0,
                    m,
                );
            }
            let (found, _) = detect(fs, &x);
            assert!(found.is_empty(), "{fs} Hz: false stimuli at {found:?}");
        }
    }

    #[test]
    fn electrocautery_is_suppressed_not_detected() {
        for fs in [5_000.0, 48_000.0] {
            let mut rng = Rng::new(23);
            let len = (10.0 * fs) as usize;
            let mut x = background(&mut rng, fs, len, 8.0);
            let stimuli: Vec<f64> = (1..10).map(|i| i as f64 + 0.0123).collect();
            for &ts in &stimuli {
                add_stimulus(&mut x, fs, ts, 3000.0, 1500.0);
            }
            // 2.4 s of broadband noise (one-pole low-pass at 5 kHz) clipped at the rails.
            let (b0, b1) = ((3.3 * fs) as usize, (5.7 * fs) as usize);
            let a = (-std::f64::consts::TAU * 5000.0 / fs).exp();
            let gain = 3000.0 * ((1.0 + a) / (1.0 - a)).sqrt(); // 3 mV RMS after the filter
            let mut lp = 0.0;
            for v in &mut x[b0..b1] {
                lp = a * lp + (1.0 - a) * gain * rng.gauss();
                *v = (*v + lp).clamp(-5000.0, 5000.0);
            }
            let (found, counts) = detect(fs, &x);
            let in_burst = |t: f64| t > b0 as f64 - 1.0 && t < b1 as f64 + 0.01 * fs;
            assert!(found.iter().all(|&t| !in_burst(t)), "{fs} Hz: {found:?}");
            assert!(counts.suppressed > 0);
            let outside: Vec<f64> = stimuli
                .iter()
                .map(|t| t * fs)
                .filter(|&t| !in_burst(t))
                .collect();
            assert_eq!(
                found.len(),
                outside.len(),
                "{fs} Hz: {found:?} vs {outside:?}"
            );
            for (f, t) in found.iter().zip(&outside) {
                assert!((f - t).abs() < 1.0);
            }
        }
    }

    #[test]
    fn refractory_period_suppresses_a_second_artifact() {
        let fs = 10_000.0;
        let mut rng = Rng::new(4);
        let mut x = background(&mut rng, fs, 30_000, 8.0);
        for ts in [0.5, 0.55, 0.7, 1.5] {
            add_stimulus(&mut x, fs, ts, 3000.0, 0.0);
        }
        let (found, counts) = detect(fs, &x);
        // 0.55 is 50 ms after 0.5 (suppressed); 0.7 is 200 ms after (found).
        let expected = [0.5, 0.7, 1.5];
        assert_eq!(found.len(), 3, "{found:?}");
        for (f, e) in found.iter().zip(expected) {
            assert!((f - e * fs).abs() < 1.0);
        }
        assert_eq!(counts.suppressed, 1);
    }

    #[test]
    fn results_do_not_depend_on_block_boundaries() {
        let fs = 44_100.0;
        let mut rng = Rng::new(8);
        let mut x = background(&mut rng, fs, (5.0 * fs) as usize, 8.0);
        add_muap_bursts(&mut rng, &mut x, fs);
        for i in 0..4 {
            add_stimulus(
                &mut x,
                fs,
                0.4 + i as f64 + rng.uniform() * 0.3,
                -2500.0,
                2000.0,
            );
        }
        // Two channels: the EMG is the second, in device units of 0.5 µV.
        let frames: Vec<f32> = x.iter().flat_map(|&v| [0.0, (v * 2.0) as f32]).collect();
        let run = |seed: Option<u64>| {
            let mut det = ArtifactDetector::new(&StimulusSettings::default(), fs, 0.5).unwrap();
            let mut out = Vec::new();
            match seed {
                None => det.process(&frames, 2, 1, 0, &mut |t| out.push(t)),
                Some(s) => random_chunks(&frames, 2, 3000, s, |b, start| {
                    det.process(b, 2, 1, start, &mut |t| out.push(t))
                }),
            }
            (out, det.counts())
        };
        let reference = run(None);
        assert_eq!(reference.0.len(), 4);
        for seed in 0..4 {
            assert_eq!(run(Some(seed)), reference, "chunking seed {seed}");
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let s = StimulusSettings {
            artifact_step_uv: -1.0,
            ..Default::default()
        };
        assert!(ArtifactDetector::new(&s, 5000.0, 1.0).is_err());
        assert!(ArtifactDetector::new(&StimulusSettings::default(), 5000.0, 0.0).is_err());
        let mut det = ArtifactDetector::new(&StimulusSettings::default(), 5000.0, 1.0).unwrap();
        let junk = [f32::NAN, f32::INFINITY, -f32::INFINITY, 1e38, -1e38, 0.0];
        det.process(&junk, 1, 0, u64::MAX - 3, &mut |_| {});
        det.process(&junk, 0, 0, 0, &mut |_| panic!());
    }
}
