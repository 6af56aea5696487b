//! Every threshold and criterion the engine uses, with conservative defaults.
//!
//! A verdict is only as credible as the criterion behind it, and the literature has no single
//! definition of "disappeared" (see `docs` in the README). So every number the detector uses
//! lives here, is written into every analysis result and session file, and can be set in the
//! `[detection]` part of a site's TOML file. Unknown keys are rejected; [`Settings::validate`]
//! explains, in one pass, everything that is wrong.

use serde::{Deserialize, Serialize};

use crate::anatomy::Anatomy;

/// How the engine learns when stimuli happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StimulusTiming {
    /// Stimulus events from the source if it has them, else a trigger channel, else the
    /// stimulus artifact.
    Auto,
    /// Events from the device, the session file's stimuli table or a stimulus table file.
    Events,
    /// Sync pulses on a `trigger` channel.
    Trigger,
    /// The stimulus artifact on the EMG channels (last resort).
    Artifact,
}

/// Mains frequency handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mains {
    /// Detect 50 or 60 Hz from the signal.
    Auto,
    #[serde(rename = "50")]
    Hz50,
    #[serde(rename = "60")]
    Hz60,
    /// No mains removal.
    Off,
}

impl Mains {
    /// The fixed frequency, if set.
    pub fn fixed_hz(self) -> Option<f64> {
        match self {
            Self::Hz50 => Some(50.0),
            Self::Hz60 => Some(60.0),
            _ => None,
        }
    }
}

/// Sweep cutting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepSettings {
    /// Span kept before each stimulus, ms (noise floor, mains and drift fit).
    pub pre_ms: f64,
    /// Span kept after each stimulus, ms. The sweep is analysed once this much signal after
    /// the stimulus has arrived.
    pub post_ms: f64,
}

impl Default for SweepSettings {
    fn default() -> Self {
        Self {
            pre_ms: 100.0,
            post_ms: 80.0,
        }
    }
}

/// Signal conditioning applied to each sweep before anything is measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConditioningSettings {
    /// Stimulus-artifact rejection period after the stimulus, ms: blanked (bridged by a
    /// straight line) *before* any filter touches the signal, so it cannot smear.
    pub artifact_blank_ms: f64,
    /// Also blank this long before the stimulus time, ms (trigger jitter, pulse width).
    pub artifact_pre_blank_ms: f64,
    /// Corners of the linear-phase FIR, Hz. The high corner is capped at 45% of the sample
    /// rate. The high-pass side of the band-pass is normally the least-squares offset and
    /// drift fit (0 here): an FIR high-pass is linear-phase, so it spreads the slow part of a
    /// response *before* it and makes onsets early. Set a corner only if drift remains.
    pub highpass_hz: f64,
    pub lowpass_hz: f64,
    /// Length of the band-pass FIR, ms (the same filter in time at every sample rate).
    pub fir_length_ms: f64,
    /// Mains frequency: auto, 50, 60 or off.
    pub mains: Mains,
    /// Highest mains harmonic removed (1 = fundamental only).
    pub mains_harmonics: u32,
    /// Model and remove what is left of the stimulus artifact after the blanking period (an
    /// exponential recovery of 0.2-5 ms, fitted per sweep together with the crosstalk of the
    /// direct response) *before* the blank is bridged and the low-pass applied, so neither the
    /// tail nor the blank's edge is spread into the LSR window.
    pub artifact_tail: bool,
    /// The tail is fitted from the end of the blank to this many ms after the stimulus
    /// (before any LSR can start).
    pub tail_fit_end_ms: f64,
}

impl Default for ConditioningSettings {
    fn default() -> Self {
        Self {
            artifact_blank_ms: 2.0,
            artifact_pre_blank_ms: 0.2,
            highpass_hz: 0.0,
            lowpass_hz: 3000.0,
            fir_length_ms: 4.0,
            mains: Mains::Auto,
            mains_harmonics: 7,
            artifact_tail: true,
            tail_fit_end_ms: 7.0,
        }
    }
}

/// Stimulus timing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StimulusSettings {
    pub timing: StimulusTiming,
    /// Trigger threshold as a fraction of the trigger channel's full pulse height (learned
    /// from the signal), or an absolute level in device units if `trigger_level` is set.
    pub trigger_fraction: f64,
    /// Absolute trigger level in device units (overrides `trigger_fraction`).
    pub trigger_level: Option<f64>,
    /// Hysteresis: the detector re-arms when the trigger falls below this fraction of the
    /// threshold.
    pub trigger_hysteresis: f64,
    /// No second stimulus is accepted within this time of the previous one, ms.
    pub refractory_ms: f64,
    /// Artifact detection: the sample-to-sample step that marks a stimulus artifact,
    /// microvolts, and as a multiple of the channel's robust step noise (both must hold).
    pub artifact_step_uv: f64,
    pub artifact_step_noise_factor: f64,
    /// Branch assumed for stimuli found from the artifact or from an unlabelled trigger.
    pub default_branch: crate::model::Branch,
}

impl Default for StimulusSettings {
    fn default() -> Self {
        Self {
            timing: StimulusTiming::Auto,
            trigger_fraction: 0.5,
            trigger_level: None,
            trigger_hysteresis: 0.5,
            refractory_ms: 100.0,
            artifact_step_uv: 300.0,
            artifact_step_noise_factor: 30.0,
            default_branch: crate::model::Branch::Zygomatic,
        }
    }
}

/// What is measured where, in ms after the stimulus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeasureSettings {
    /// The LSR window: where the lateral spread response is looked for.
    pub lsr_window_ms: [f64; 2],
    /// Where the direct (M) response is measured on the direct-response channels.
    pub direct_window_ms: [f64; 2],
    /// Where crosstalk of the direct response is fitted on an LSR channel (before any LSR can
    /// begin).
    pub crosstalk_fit_ms: [f64; 2],
    /// Largest lag tried when fitting crosstalk, ms.
    pub crosstalk_max_lag_ms: f64,
    /// Pre-stimulus span for the noise floor, ms ([start, end], negative). It ends at least
    /// half the band-pass FIR before the stimulus, so no post-stimulus signal can leak into it
    /// through the (non-causal, linear-phase) filter.
    pub noise_span_ms: [f64; 2],
    /// Onset: the smoothed rectified signal must exceed this many noise RMS ...
    pub onset_threshold_noise: f64,
    /// ... for at least this long, ms; the onset is then traced back to the zero crossing
    /// that starts that phase, and through earlier phases that reach
    /// `onset_phase_noise` x the noise RMS and last `onset_min_phase_ms`, at most
    /// `onset_max_back_ms` back.
    pub onset_min_duration_ms: f64,
    pub onset_phase_noise: f64,
    pub onset_min_phase_ms: f64,
    pub onset_max_back_ms: f64,
}

impl Default for MeasureSettings {
    fn default() -> Self {
        Self {
            lsr_window_ms: [6.0, 40.0],
            direct_window_ms: [2.0, 15.0],
            crosstalk_fit_ms: [3.0, 7.0],
            crosstalk_max_lag_ms: 0.3,
            noise_span_ms: [-90.0, -5.0],
            onset_threshold_noise: 4.0,
            onset_min_duration_ms: 0.5,
            onset_phase_noise: 2.5,
            onset_min_phase_ms: 0.4,
            onset_max_back_ms: 6.0,
        }
    }
}

/// Per-sweep judgement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JudgeSettings {
    /// A sweep is `present` when the RMS in the LSR window is at least this many times the
    /// noise RMS (for noise 3 kHz wide; with a narrower band, as at 5 kHz sampling, the excess
    /// over 1 is scaled by the square root of the bandwidth ratio) ...
    pub present_snr: f64,
    /// ... and `absent` only when it is at most this (between the two: equivocal, rejected).
    pub absent_snr: f64,
    /// An absent sweep's LSR peak-to-peak must also stay below this multiple of the noise
    /// peak-to-peak.
    pub absent_p2p_noise_ratio: f64,
    /// Length of the sliding sub-window over which the LSR-window RMS is taken, ms (about the
    /// length of an LSR), moved in 1 ms steps.
    pub snr_subwindow_ms: f64,
    /// Lags tried when correlating a sweep with the baseline average, ± ms.
    pub template_max_lag_ms: f64,
    /// Direct response smaller than this many microvolts peak-to-peak: no direct response.
    pub min_direct_uv: f64,
    /// ... or smaller than this fraction of the baseline direct response.
    pub min_direct_fraction: f64,
    /// Pre-stimulus RMS above this multiple of the channel's running noise floor:
    /// spontaneous activity (or cautery, if broadband).
    pub noisy_baseline_factor: f64,
    /// High-band (above `cautery_band_hz`) RMS above this multiple of the channel's running
    /// high-band noise: electrocautery.
    pub cautery_factor: f64,
    pub cautery_band_hz: f64,
    /// Samples within this fraction of the device rails count as saturated.
    pub saturation_fraction: f64,
    /// "Present means an LSR": a sweep above `present_snr` is `present` only if its
    /// response is what a technologist would call an LSR. Its peak-to-peak in the LSR window
    /// must reach this many microvolts (the smallest LSRs reported are tens of µV; a few µV
    /// over a very quiet noise floor are not one) ...
    pub min_lsr_uv: f64,
    /// ... its onset must lie in this range, ms after the stimulus (the physiological
    /// 8-13 ms with margin; an onset on the window's first sample is a residue of the
    /// artifact or the crosstalk running into the window, not an LSR) ...
    pub lsr_onset_ms: [f64; 2],
    /// ... and, once the channel has a baseline LSR, it must resemble it: correlation with
    /// the baseline average at least this (best lag within `template_max_lag_ms`) ...
    pub template_min_corr: f64,
    /// ... or an onset within this many ms of the baseline onset.
    pub onset_tolerance_ms: f64,
}

impl Default for JudgeSettings {
    fn default() -> Self {
        Self {
            present_snr: 1.4,
            absent_snr: 1.3,
            absent_p2p_noise_ratio: 1.6,
            snr_subwindow_ms: 12.0,
            template_max_lag_ms: 1.0,
            min_direct_uv: 100.0,
            min_direct_fraction: 0.2,
            noisy_baseline_factor: 2.5,
            cautery_factor: 4.0,
            cautery_band_hz: 2000.0,
            saturation_fraction: 0.995,
            min_lsr_uv: 15.0,
            lsr_onset_ms: [6.8, 16.0],
            template_min_corr: 0.35,
            onset_tolerance_ms: 2.5,
        }
    }
}

/// The criterion that turns sweeps into a monitored state. Written into every result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CriterionSettings {
    /// Judged (not rejected) sweeps that make the baseline.
    pub baseline_sweeps: u32,
    /// Fraction of the baseline sweeps that must be `present` for "LSR present at baseline".
    pub baseline_present_fraction: f64,
    /// Evidence needed to declare `absent`, in clear absent sweeps. A sequential test
    /// (CUSUM) adds each judged sweep's evidence: up to 1 for a flat sweep (less near the
    /// present threshold, half when it still resembles the baseline LSR), negative for a
    /// present one; the sum never goes below 0 and the channel is declared `absent` when it
    /// reaches this. Rejected sweeps add nothing. Three clear sweeps declare a clear
    /// disappearance; a weak one takes as many as its evidence needs.
    pub absent_run: u32,
    /// A `present` sweep (an LSR by every test) with an SNR of at least this resets the
    /// evidence to 0.
    pub run_break_snr: f64,
    /// Consecutive `present` sweeps that match the baseline LSR before a channel that was
    /// `absent` is declared `present` again (and LSR-like sweeps before a channel without a
    /// baseline LSR is said to show one that has appeared).
    pub present_run: u32,
    /// Every sweep of an absent run must come with a direct response (the stimulus reached
    /// the nerve and the muscle can answer).
    pub require_direct_response: bool,
    /// Before declaring `absent`, the average of the run's sweeps must show no LSR either
    /// (a small LSR hidden in the noise of single sweeps shows in their average).
    pub check_run_average: bool,
    /// SNR of the run average above which the run is not declared absent.
    pub run_average_max_snr: f64,
}

impl Default for CriterionSettings {
    fn default() -> Self {
        Self {
            baseline_sweeps: 10,
            baseline_present_fraction: 0.6,
            absent_run: 3,
            run_break_snr: 2.0,
            present_run: 3,
            require_direct_response: true,
            check_run_average: true,
            run_average_max_snr: 1.35,
        }
    }
}

/// All detection settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub sweep: SweepSettings,
    pub conditioning: ConditioningSettings,
    pub stimulus: StimulusSettings,
    pub measure: MeasureSettings,
    pub judge: JudgeSettings,
    pub criterion: CriterionSettings,
    pub anatomy: Anatomy,
}

/// Everything wrong with a set of settings, one line each.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid detection settings:\n  - {}", .problems.join("\n  - "))]
pub struct SettingsError {
    pub problems: Vec<String>,
}

impl Settings {
    /// Checks every setting at once and reports all problems together.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let mut p = Vec::new();
        let s = &self.sweep;
        let c = &self.conditioning;
        let m = &self.measure;
        let j = &self.judge;
        let k = &self.criterion;
        let pos = |p: &mut Vec<String>, name: &str, v: f64| {
            if !(v.is_finite() && v > 0.0) {
                p.push(format!("{name} must be a positive number (got {v})"));
            }
        };
        pos(&mut p, "sweep.pre_ms", s.pre_ms);
        pos(&mut p, "sweep.post_ms", s.post_ms);
        pos(
            &mut p,
            "conditioning.artifact_blank_ms",
            c.artifact_blank_ms,
        );
        if !(c.highpass_hz.is_finite() && c.highpass_hz >= 0.0) {
            p.push(format!(
                "conditioning.highpass_hz must be 0 (none) or a positive number (got {})",
                c.highpass_hz
            ));
        }
        pos(&mut p, "conditioning.lowpass_hz", c.lowpass_hz);
        pos(&mut p, "conditioning.fir_length_ms", c.fir_length_ms);
        pos(&mut p, "judge.snr_subwindow_ms", j.snr_subwindow_ms);
        pos(&mut p, "judge.cautery_band_hz", j.cautery_band_hz);
        if j.template_max_lag_ms < 0.0 {
            p.push("judge.template_max_lag_ms must be 0 or more".into());
        }
        if c.artifact_pre_blank_ms < 0.0 || !c.artifact_pre_blank_ms.is_finite() {
            p.push("conditioning.artifact_pre_blank_ms must be 0 or more".into());
        }
        if c.highpass_hz >= c.lowpass_hz {
            p.push(format!(
                "conditioning.highpass_hz ({}) must be below lowpass_hz ({})",
                c.highpass_hz, c.lowpass_hz
            ));
        }
        if c.mains_harmonics == 0 || c.mains_harmonics > 15 {
            p.push("conditioning.mains_harmonics must be 1 to 15".into());
        }
        let window = |p: &mut Vec<String>, name: &str, w: [f64; 2]| {
            if !(w[0].is_finite() && w[1].is_finite() && w[0] < w[1]) {
                p.push(format!(
                    "{name} must be [start, end] with start < end (got {w:?})"
                ));
            }
        };
        window(&mut p, "measure.lsr_window_ms", m.lsr_window_ms);
        window(&mut p, "measure.direct_window_ms", m.direct_window_ms);
        window(&mut p, "measure.crosstalk_fit_ms", m.crosstalk_fit_ms);
        window(&mut p, "measure.noise_span_ms", m.noise_span_ms);
        if m.lsr_window_ms[0] < c.artifact_blank_ms {
            p.push(format!(
                "measure.lsr_window_ms starts at {} ms, inside the artifact blanking ({} ms)",
                m.lsr_window_ms[0], c.artifact_blank_ms
            ));
        }
        let fir_half = c.fir_length_ms / 2.0;
        if m.lsr_window_ms[1] + fir_half > s.post_ms {
            p.push(format!(
                "measure.lsr_window_ms ends at {} ms, but sweep.post_ms ({}) leaves no room for \
                 half the band-pass filter ({} ms) after it",
                m.lsr_window_ms[1], s.post_ms, fir_half
            ));
        }
        if m.noise_span_ms[1] > 0.0 || -m.noise_span_ms[0] + fir_half > s.pre_ms {
            p.push(format!(
                "measure.noise_span_ms {:?} must lie before the stimulus and at least half the \
                 band-pass filter ({} ms) inside sweep.pre_ms ({})",
                m.noise_span_ms, fir_half, s.pre_ms
            ));
        }
        if j.absent_snr > j.present_snr {
            p.push(format!(
                "judge.absent_snr ({}) must not exceed judge.present_snr ({})",
                j.absent_snr, j.present_snr
            ));
        }
        if !(j.min_lsr_uv.is_finite() && j.min_lsr_uv >= 0.0) {
            p.push("judge.min_lsr_uv must be 0 or more".into());
        }
        window(&mut p, "judge.lsr_onset_ms", j.lsr_onset_ms);
        if !(-1.0..=1.0).contains(&j.template_min_corr) {
            p.push("judge.template_min_corr must be between -1 and 1".into());
        }
        if !(j.onset_tolerance_ms.is_finite() && j.onset_tolerance_ms >= 0.0) {
            p.push("judge.onset_tolerance_ms must be 0 or more".into());
        }
        if c.artifact_tail
            && !(c.tail_fit_end_ms > c.artifact_blank_ms + 1.0
                && c.tail_fit_end_ms <= m.lsr_window_ms[1])
        {
            p.push(format!(
                "conditioning.tail_fit_end_ms ({}) must be at least 1 ms after the blank ({} ms) \
                 and inside the LSR window",
                c.tail_fit_end_ms, c.artifact_blank_ms
            ));
        }
        if j.absent_snr < 1.0 {
            p.push("judge.absent_snr below 1.0 would call pure noise present".into());
        }
        if !(0.0..=1.0).contains(&j.saturation_fraction) {
            p.push("judge.saturation_fraction must be between 0 and 1".into());
        }
        if self.stimulus.refractory_ms < 0.0 {
            p.push("stimulus.refractory_ms must be 0 or more".into());
        }
        if !(0.0..1.0).contains(&self.stimulus.trigger_fraction) {
            p.push("stimulus.trigger_fraction must be between 0 and 1".into());
        }
        if k.baseline_sweeps == 0 || k.baseline_sweeps > crate::detect::MAX_RUN as u32 {
            p.push(format!(
                "criterion.baseline_sweeps must be 1 to {} (got {})",
                crate::detect::MAX_RUN,
                k.baseline_sweeps
            ));
        }
        if !(0.0..=1.0).contains(&k.baseline_present_fraction) {
            p.push("criterion.baseline_present_fraction must be between 0 and 1".into());
        }
        if k.absent_run == 0 || k.absent_run > crate::detect::MAX_RUN as u32 {
            p.push(format!(
                "criterion.absent_run must be 1 to {} (got {})",
                crate::detect::MAX_RUN,
                k.absent_run
            ));
        }
        if k.present_run == 0 || k.present_run > crate::detect::MAX_RUN as u32 {
            p.push(format!(
                "criterion.present_run must be 1 to {} (got {})",
                crate::detect::MAX_RUN,
                k.present_run
            ));
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(SettingsError { problems: p })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Settings::default().validate().unwrap();
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut s = Settings::default();
        s.judge.absent_snr = 2.0;
        s.criterion.absent_run = 0;
        s.conditioning.highpass_hz = 5000.0;
        let e = s.validate().unwrap_err();
        assert_eq!(e.problems.len(), 3, "{e}");
    }

    #[test]
    fn toml_rejects_unknown_keys() {
        let err = toml::from_str::<Settings>("[criterion]\nabsent_runs = 3\n").unwrap_err();
        assert!(err.to_string().contains("absent_runs"), "{err}");
        let ok: Settings = toml::from_str("[criterion]\nabsent_run = 7\n").unwrap();
        assert_eq!(ok.criterion.absent_run, 7);
        assert_eq!(ok.sweep, SweepSettings::default());
    }
}
