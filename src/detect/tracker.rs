//! What the engine remembers about each LSR channel between sweeps: running noise levels (to
//! recognise spontaneous activity and electrocautery), the baseline average sweep (the
//! patient's own LSR, for display and correlation), the sweeps of the absent run in progress
//! (for the run-average check), and the criterion state machine.
//!
//! Everything is allocated in [`Tracker::new`]; the per-sweep methods do not allocate.

use crate::model::{MonitorState, RejectReason, DISPLAY_POINTS};
use crate::settings::Settings;

use super::criterion::{median, ChannelCriterion, Observation, Step};
use super::measure;
use super::sweep::{Geometry, JudgeContext, Judgement, Measured, SweepAnalyzer, SweepFacts};
use crate::dsp::lag_search::LagCorrelator;

/// Sweeps kept for noise levels before spontaneous activity is judged.
pub const MIN_LEVELS: usize = 3;

/// Number of recent clean sweeps whose noise levels make the running reference.
const NOISE_MEMORY: usize = 15;

/// Running median of the last few values of a level.
#[derive(Clone, Debug)]
pub struct RunningLevel {
    values: [f32; NOISE_MEMORY],
    count: usize,
}

impl RunningLevel {
    fn new() -> Self {
        Self {
            values: [0.0; NOISE_MEMORY],
            count: 0,
        }
    }
    pub fn push(&mut self, v: f32) {
        if v.is_finite() {
            self.values[self.count % NOISE_MEMORY] = v;
            self.count += 1;
        }
    }
    /// Median of what is held, or None before `min` values were seen.
    pub fn get(&self, min: usize) -> Option<f32> {
        let n = self.count.min(NOISE_MEMORY);
        if n < min.max(1) {
            return None;
        }
        let mut tmp = self.values;
        Some(median(&mut tmp[..n]))
    }
}

/// Sweeps' worth of evidence the criterion needs (at least 3).
fn absent_need(c: &ChannelCriterion) -> usize {
    (c.evidence_needed().ceil() as usize).max(3)
}

/// When the average of a disappearance run still shows an LSR: its SNR above `max_snr` and,
/// once there is a baseline LSR, a correlation with it of at least `min_corr` (best lag
/// within `lag` samples): a residue repeated in every sweep is above the noise in the
/// average too, but it is not an LSR.
#[derive(Clone, Copy, Debug)]
pub struct RunAverageCheck {
    pub max_snr: f32,
    pub min_corr: f32,
    pub lag: usize,
    /// Samples after the window's start where the judged part begins (past a residue).
    pub offset: usize,
}

/// Per-LSR-channel memory.
#[derive(Clone, Debug)]
pub struct Tracker {
    pub channel: usize,
    pub criterion: ChannelCriterion,
    /// Running pre-stimulus noise RMS of clean sweeps.
    pub noise: RunningLevel,
    /// Running high-band RMS of clean sweeps.
    pub high_band: RunningLevel,
    /// Running score of pure noise on the SNR statistic.
    pub null: RunningLevel,
    /// Sum and count of the present baseline sweeps over the display span.
    baseline_sum: Vec<f32>,
    baseline_n: u32,
    /// Baseline average over the display span, once established.
    pub baseline_avg: Vec<f32>,
    pub has_template: bool,
    /// Ring of the sweeps that added evidence to the run in progress: `[noise span | LSR
    /// window]` each.
    run: Vec<f32>,
    run_len: usize,
    run_count: usize,
    run_slots: usize,
    pub baseline_direct_p2p: f32,
}

impl Tracker {
    /// `span_len`: samples of the display span; `run_item_len`: samples kept per run sweep.
    pub fn new(channel: usize, settings: &Settings, span_len: usize, run_item_len: usize) -> Self {
        let slots = super::MAX_RUN;
        Self {
            channel,
            criterion: ChannelCriterion::new(&settings.criterion),
            noise: RunningLevel::new(),
            high_band: RunningLevel::new(),
            null: RunningLevel::new(),
            baseline_sum: vec![0.0; span_len],
            baseline_n: 0,
            baseline_avg: vec![0.0; span_len],
            has_template: false,
            run: vec![0.0; slots * run_item_len],
            run_len: run_item_len,
            run_count: 0,
            run_slots: slots,
            baseline_direct_p2p: f32::NAN,
        }
    }

    pub fn state(&self) -> MonitorState {
        self.criterion.state()
    }

    pub fn rebaseline(&mut self) {
        self.criterion.rebaseline();
        self.baseline_sum.fill(0.0);
        self.baseline_n = 0;
        self.has_template = false;
        self.run_count = 0;
        self.baseline_direct_p2p = f32::NAN;
    }

    /// Adds a present baseline sweep's display span to the baseline average.
    pub fn add_baseline_sweep(&mut self, span: &[f32]) {
        if self.criterion.state() != MonitorState::Baseline {
            return;
        }
        for (s, &v) in self.baseline_sum.iter_mut().zip(span) {
            *s += v;
        }
        self.baseline_n += 1;
    }

    /// Keeps a sweep that adds evidence to the run, for the run average (the run is forgotten
    /// in [`Self::conclude`] whenever the sequential test is back at zero).
    pub fn note_run_sweep(&mut self, adds: bool, item: &[f32]) {
        if adds {
            let slot = self.run_count % self.run_slots;
            let dst = &mut self.run[slot * self.run_len..(slot + 1) * self.run_len];
            let n = item.len().min(self.run_len);
            dst[..n].copy_from_slice(&item[..n]);
            self.run_count += 1;
        }
    }

    /// Average of the last `n` run sweeps into `scratch` (`run_item_len` long); returns the
    /// number averaged (0: none).
    fn run_average(&self, n: usize, scratch: &mut [f32]) -> usize {
        let n = n.min(self.run_count).min(self.run_slots);
        if n == 0 || scratch.len() < self.run_len {
            return 0;
        }
        let avg = &mut scratch[..self.run_len];
        avg.fill(0.0);
        for k in 0..n {
            let slot = (self.run_count - 1 - k) % self.run_slots;
            let src = &self.run[slot * self.run_len..(slot + 1) * self.run_len];
            for (a, &v) in avg.iter_mut().zip(src) {
                *a += v;
            }
        }
        let inv = 1.0 / n as f32;
        avg.iter_mut().for_each(|v| *v *= inv);
        n
    }

    /// SNR of the average of the last `n` run sweeps: max sub-window RMS in the LSR window
    /// part `offset` samples into the window on, over the RMS of the noise part. `scratch`
    /// must hold `run_item_len`; it is left holding the average.
    pub fn run_average_snr(
        &self,
        n: usize,
        noise_len: usize,
        offset: usize,
        geo: &Geometry,
        scratch: &mut [f32],
    ) -> f32 {
        if self.run_average(n, scratch) == 0 {
            return f32::INFINITY;
        }
        let avg = &scratch[..self.run_len];
        let noise_len = noise_len.min(self.run_len);
        let sigma = measure::rms(&avg[..noise_len]);
        if sigma <= 0.0 {
            return f32::INFINITY;
        }
        let part = &avg[(noise_len + offset).min(avg.len())..];
        measure::max_window_rms(part, geo.sub_len.min(part.len().max(1)), geo.step) / sigma
    }

    /// The baseline LSR's onset, once the channel has one.
    pub fn baseline_onset(&self) -> Option<f32> {
        self.criterion
            .baseline()
            .filter(|b| b.present && b.onset_ms.is_finite())
            .map(|b| b.onset_ms)
    }

    /// Judges one measured sweep of this channel against its running levels and its
    /// baseline LSR (`template_corr`: the sweep's correlation with it), and learns the
    /// levels from it unless the sweep is contaminated (a rejected sweep may still show the
    /// channel's noise, but not one in electrocautery, saturated, with lost samples, with
    /// spontaneous activity or incomplete).
    pub fn judge(
        &mut self,
        an: &SweepAnalyzer,
        facts: &SweepFacts,
        m: &Measured,
        template_corr: Option<f32>,
    ) -> Judgement {
        let ctx = JudgeContext {
            running_noise: self.noise.get(MIN_LEVELS),
            running_high: self.high_band.get(MIN_LEVELS),
            running_null: self.null.get(MIN_LEVELS),
            baseline_direct: self.baseline_direct_p2p,
            template_corr: template_corr.filter(|_| self.has_template),
            baseline_onset: self.baseline_onset(),
        };
        let j = an.judge(facts, m, &ctx);
        let clean_levels = !matches!(
            j.reason,
            Some(
                RejectReason::Electrocautery
                    | RejectReason::Saturation
                    | RejectReason::LostSamples
                    | RejectReason::SpontaneousActivity
                    | RejectReason::Incomplete
            )
        );
        if clean_levels {
            self.noise.push(m.noise_rms);
            self.high_band.push(m.high_band);
            self.null.push(m.null_snr);
        }
        j
    }

    /// The baseline LSR over the LSR window (the template sweeps are correlated with).
    pub fn template(&self, geo: &Geometry) -> &[f32] {
        let off = geo.window_in_display().min(self.baseline_avg.len());
        let len = geo.window_len.min(self.baseline_avg.len() - off);
        &self.baseline_avg[off..off + len]
    }

    /// Feeds the criterion with one judged sweep and returns what happened and the sweep's
    /// LSR as a percentage of the baseline's. When the sweep would declare a disappearance,
    /// the average of the run's sweeps is checked first (see [`RunAverageCheck`]); `scratch`
    /// is as long as a run item.
    pub fn conclude(
        &mut self,
        obs: &Observation,
        geo: &Geometry,
        scratch: &mut [f32],
        correlator: &mut LagCorrelator,
        check: &RunAverageCheck,
    ) -> (Step, f32) {
        let shows = self.criterion.would_declare(obs) && {
            // The run's latest sweeps (twice the evidence needed, at most): an LSR fading
            // out at the run's start must not hold back a clear absence that followed it.
            let n = (self.criterion.run_sweeps() + 1).min(2 * absent_need(&self.criterion));
            let off = check.offset.min(geo.window_len.saturating_sub(1));
            let snr = self.run_average_snr(n, geo.noise_len, off, geo, scratch);
            snr.is_finite()
                && snr > check.max_snr
                && (!self.has_template || {
                    let t = self.template(geo);
                    let corr = correlator.best(
                        &scratch[..self.run_len],
                        geo.noise_len + off,
                        &t[off.min(t.len())..],
                        check.lag,
                    );
                    // NaN (a flat template) cannot rule the LSR out.
                    corr.is_nan() || corr >= check.min_corr
                })
        };
        let step = self.observe(obs, &mut |_| shows);
        if self.criterion.evidence() <= 0.0 {
            self.run_count = 0;
        }
        let percent = match self.criterion.baseline() {
            Some(b) if b.present && b.p2p_uv > 0.0 => 100.0 * obs.lsr_p2p_uv / b.p2p_uv,
            _ => f32::NAN,
        };
        (step, percent)
    }

    /// Feeds the criterion; on a new baseline, freezes the baseline average.
    pub fn observe(
        &mut self,
        obs: &Observation,
        run_average_shows_lsr: &mut dyn FnMut(usize) -> bool,
    ) -> Step {
        let step = self.criterion.observe(obs, run_average_shows_lsr);
        if let Some(b) = step.baseline {
            self.baseline_direct_p2p = b.direct_p2p_uv;
            if b.present && self.baseline_n > 0 {
                let inv = 1.0 / self.baseline_n as f32;
                for (a, &s) in self.baseline_avg.iter_mut().zip(&self.baseline_sum) {
                    *a = s * inv;
                }
                self.has_template = true;
            }
        }
        step
    }

    /// The baseline average reduced for display.
    pub fn baseline_trace(&self) -> [f32; DISPLAY_POINTS] {
        let mut t = [0.0; DISPLAY_POINTS];
        if self.has_template {
            measure::display_trace(&self.baseline_avg, &mut t);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_level_is_a_median_of_recent_values() {
        let mut r = RunningLevel::new();
        assert_eq!(r.get(1), None);
        for v in [5.0, 1.0, 100.0] {
            r.push(v);
        }
        assert_eq!(r.get(3), Some(5.0));
        for _ in 0..20 {
            r.push(2.0);
        }
        assert_eq!(r.get(3), Some(2.0), "old values are forgotten");
    }

    #[test]
    fn run_average_reveals_a_small_repeated_response() {
        let s = Settings::default();
        let mut t = Tracker::new(0, &s, 10, 200);
        // Noise part 100 samples of alternating ±1, window part with a tiny 0.8 bump that is
        // identical in every sweep while the noise alternates sign between sweeps.
        for k in 0..5 {
            let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
            let item: Vec<f32> = (0..200)
                .map(|i| {
                    let noise = if i % 2 == 0 { sign } else { -sign };
                    let bump = if (140..160).contains(&i) { 0.8 } else { 0.0 };
                    noise + bump
                })
                .collect();
            t.note_run_sweep(true, &item);
        }
        let mut scratch = vec![0.0; 200];
        let geo = {
            let mut s = Settings::default();
            s.judge.snr_subwindow_ms = 4.0;
            Geometry::new(5000.0, &s)
        };
        assert_eq!((geo.sub_len, geo.step), (20, 5));
        let snr = t.run_average_snr(5, 100, 0, &geo, &mut scratch);
        // Average noise is ±0.2 (one sweep left over), the bump is 0.8.
        assert!(snr > 3.0, "snr {snr}");
        assert!(t
            .run_average_snr(0, 100, 0, &geo, &mut scratch)
            .is_infinite());
    }
}
