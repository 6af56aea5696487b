//! One stimulus, all its channels: cut, condition, measure, judge.
//!
//! Conditioning works on the sweep as a finite segment (`pre` ms before the stimulus to
//! `post` ms after), and only on the channels the stimulated branch makes relevant; the
//! sweeps are a small part of the stream, so this is far cheaper than filtering everything.
//! The order matters:
//!
//! 1. **Offset, drift and mains** are fitted by least squares on the parts of the segment
//!    where no response can be (before the stimulus, and after the LSR window) and subtracted
//!    everywhere. A fit cannot ring; a notch filter would ring on the artifact and the LSR.
//! 2. **The stimulus artifact is blanked** (bridged with a straight line) over the rejection
//!    period, *before* any filter: a filtered millivolt spike becomes a slow tail through the
//!    LSR window that looks like a response that never disappears.
//! 3. **Low-pass** with a linear-phase FIR applied by FFT, its group delay compensated
//!    exactly, so latencies are the same at every sample rate. Two channels share one complex
//!    FFT. The same FFT gives the high-band energy that reveals electrocautery. Together with
//!    step 1 this is the band-pass: its high-pass side is the offset-and-drift fit, which
//!    cannot smear, because a linear-phase FIR high-pass spreads the slow part of the LSR
//!    symmetrically in time and puts a precursor before it (an onset measured early). An FIR
//!    high-pass corner can still be set (`conditioning.highpass_hz`).
//! 4. **Crosstalk** of the direct response is fitted on the early window and subtracted (see
//!    [`super::measure`]).
//! 5. **Measures and judgement** per LSR channel (see [`SweepAnalyzer::judge`]).

use std::ops::Range;

use crate::anatomy::BranchChannels;
use crate::dsp::blank::bridge;
use crate::dsp::fir;
use crate::dsp::lag_search::LagCorrelator;
use crate::dsp::mains::MainsFit;
use crate::dsp::overlap_save::SegmentFilter;
use crate::dsp::tail::{TailFit, TailRemoved};
use crate::model::{ChannelInfo, RejectReason, Stimulus, SweepStatus};
use crate::settings::Settings;

use super::history::History;
use super::measure;
use super::EngineError;

/// Largest crosstalk lag the artifact-tail model tries, ms. Volume conduction lags up to
/// 0.6 ms; on the raw sweep a wide search costs nothing in accuracy (only the exponentials are
/// kept). The crosstalk fit on the filtered sweep keeps its narrower
/// `measure.crosstalk_max_lag_ms`: searching 0.7 ms there fits noise (onsets measured on the
/// first scenario matrix fell from 97.2 % to 96.6 % within 0.5 ms), and what a larger lag
/// leaves behind is judged past the crosstalk's reach.
pub const TAIL_CROSSTALK_LAG_MS: f64 = 0.7;

/// Display span of every sweep trace, ms around the stimulus.
pub const DISPLAY_PRE_MS: f64 = 10.0;
pub const DISPLAY_POST_MS: f64 = 60.0;

/// What was measured on one LSR channel of one sweep, before the tracker's judgement.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measured {
    pub noise_rms: f32,
    pub noise_p2p: f32,
    pub lsr_p2p: f32,
    pub snr: f32,
    /// The same statistic on the stretch of noise just before the stimulus (as long as the
    /// LSR window): what pure noise scores on this channel, at this rate, now.
    pub null_snr: f32,
    pub onset_ms: Option<f32>,
    pub high_band: f32,
    pub saturated: bool,
    pub crosstalk_gain: f32,
    /// The stimulus artifact's tail removed before filtering (zeros when none was).
    pub tail: TailRemoved,
    /// A response was already running where the crosstalk's reach ends (an LSR that started
    /// inside the crosstalk; its onset cannot be read).
    pub running_at_reach: bool,
    /// Peak-to-peak of the part the sweep is judged on, µV, and where that part starts,
    /// samples after the window's start.
    pub judged_p2p: f32,
    pub judged_offset: usize,
}

/// Channel-independent facts about one sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SweepFacts {
    /// The segment could not be cut (before the start of the stream, or too old).
    pub incomplete: bool,
    /// Samples were lost inside the segment.
    pub gap: bool,
    /// Largest direct-response peak-to-peak over the direct channels (NaN if none).
    pub direct_p2p: f32,
    /// The direct channel that gave it (its conditioned sweep is the direct response shown).
    pub direct_channel: Option<usize>,
    /// Fractional position of the stimulus inside its first sample.
    pub frac: f64,
}

/// Sample geometry of a sweep, fixed for a given rate and settings. Plain `Copy` data.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    pub fs: f64,
    pub pre_n: usize,
    pub seg_len: usize,
    pub noise_len: usize,
    pub window_len: usize,
    pub sub_len: usize,
    pub step: usize,
    pub display_len: usize,
    noise_start_ms: f64,
    window_start_ms: f64,
    display_pre_ms: f64,
}

impl Geometry {
    pub fn new(fs: f64, s: &Settings) -> Self {
        let n = |ms: f64| (ms * fs / 1000.0).round().max(0.0) as usize;
        let pre_n = n(s.sweep.pre_ms);
        let post_n = n(s.sweep.post_ms);
        let m = &s.measure;
        let display_post = DISPLAY_POST_MS.min(s.sweep.post_ms);
        let display_pre = DISPLAY_PRE_MS.min(s.sweep.pre_ms);
        Self {
            fs,
            pre_n,
            seg_len: pre_n + post_n + 1,
            noise_len: n(m.noise_span_ms[1] - m.noise_span_ms[0]).max(1),
            window_len: n(m.lsr_window_ms[1] - m.lsr_window_ms[0]).max(1),
            sub_len: n(s.judge.snr_subwindow_ms).max(1),
            step: n(1.0).max(1),
            display_len: n(display_pre + display_post).max(1),
            noise_start_ms: m.noise_span_ms[0],
            window_start_ms: m.lsr_window_ms[0],
            display_pre_ms: display_pre,
        }
    }

    /// Index in the segment of `ms` after the stimulus (`frac` = the stimulus's fraction).
    pub fn at(&self, frac: f64, ms: f64) -> usize {
        let i = (self.pre_n as f64 + frac + ms * self.fs / 1000.0).round();
        (i.max(0.0) as usize).min(self.seg_len)
    }

    /// Fixed-length range starting `ms` after the stimulus.
    pub fn span(&self, frac: f64, ms: f64, len: usize) -> Range<usize> {
        let a = self.at(frac, ms).min(self.seg_len.saturating_sub(len));
        a..a + len
    }

    pub fn noise(&self, frac: f64) -> Range<usize> {
        self.span(frac, self.noise_start_ms, self.noise_len)
    }

    pub fn window(&self, frac: f64) -> Range<usize> {
        self.span(frac, self.window_start_ms, self.window_len)
    }

    pub fn display(&self, frac: f64) -> Range<usize> {
        self.span(frac, -self.display_pre_ms, self.display_len)
    }

    /// Offset of the LSR window's start inside the display span, samples.
    pub fn window_in_display(&self) -> usize {
        self.at(0.0, self.window_start_ms) - self.at(0.0, -self.display_pre_ms)
    }

    /// Time in ms after the stimulus of segment index `i`.
    pub fn ms_of(&self, frac: f64, i: usize) -> f64 {
        (i as f64 - self.pre_n as f64 - frac) * 1000.0 / self.fs
    }

    /// For a stimulus at `frame_time` (in the frames of the stream): the frame holding the
    /// last sample of its LSR window, and the last frame its sweep needs before it can be
    /// judged (the end of the post-stimulus span: the drift fit and the zero-phase filter look
    /// past the window).
    pub fn decision_frames(&self, frame_time: f64) -> (u64, u64) {
        let base = frame_time.floor().max(0.0);
        let start = base - self.pre_n as f64;
        let window_end = start + self.window(frame_time - base).end as f64 - 1.0;
        let sweep_end = start + self.seg_len as f64 - 1.0;
        (window_end.max(0.0) as u64, sweep_end.max(0.0) as u64)
    }
}

/// Saturation thresholds of one channel, in microvolts.
#[derive(Clone, Copy, Debug)]
struct Rails {
    lo: f32,
    hi: f32,
}

/// Conditions and measures the channels of one stimulus.
pub struct SweepAnalyzer {
    pub geo: Geometry,
    settings: Settings,
    filter: SegmentFilter,
    /// Drift-only, 50 Hz and 60 Hz fits (each may be absent if its mask is too short).
    fit_none: MainsFit,
    fit_50: Option<MainsFit>,
    fit_60: Option<MainsFit>,
    /// Conditioned segment per channel (all channels allocated).
    pub seg: Vec<Vec<f32>>,
    high_band: Vec<f32>,
    saturated: Vec<bool>,
    rails: Vec<Option<Rails>>,
    /// Scratch for the onset envelope.
    pub env: Vec<f32>,
    /// Scratch of the crosstalk fit's sums.
    crosstalk_sums: Vec<f64>,
    /// The artifact-tail model (None when `conditioning.artifact_tail` is off) and what it
    /// removed from each channel on the current sweep.
    tail_fit: Option<TailFit>,
    tail: Vec<TailRemoved>,
    /// Per channel, which of its recent sweeps' best tail models had a slow component.
    slow_votes: Vec<SlowVotes>,
    /// Per direct channel, the sweep with the artifact's tail removed, where the direct
    /// response is measured (empty unless `conditioning.artifact_tail`; see
    /// [`Self::condition`]).
    direct_clean: Vec<Vec<f32>>,
    /// FFT plans and buffers of the template correlation (see [`LagCorrelator`]).
    pub correlator: LagCorrelator,
    /// How much the SNR thresholds' excess over 1 grows for this channel bandwidth (see
    /// [`bandwidth_scale`]); the thresholds in effect come from [`SweepAnalyzer::thresholds`].
    bandwidth_scale: f64,
}

/// Noise bandwidth the SNR thresholds are specified for, Hz.
pub const REFERENCE_BANDWIDTH_HZ: f64 = 3000.0;

/// Median of the window statistic on pure 3 kHz-wide noise (measured on the simulated
/// patient at 10-48 kHz).
pub const REFERENCE_NULL_SNR: f64 = 1.125;

/// The SNR thresholds are set for noise of [`REFERENCE_BANDWIDTH_HZ`]. With a narrower band
/// (a 5 kHz device is cut at 2.25 kHz) a sub-window holds fewer independent samples, so pure
/// noise fluctuates more: the thresholds' excess over 1 grows with the square root of the
/// bandwidth ratio, keeping the false-alarm rate the same.
pub fn bandwidth_scale(bandwidth_hz: f64) -> f64 {
    (REFERENCE_BANDWIDTH_HZ / bandwidth_hz.max(1.0))
        .sqrt()
        .max(1.0)
}

impl SweepAnalyzer {
    pub fn new(fs: f64, channels: &[ChannelInfo], s: &Settings) -> Result<Self, EngineError> {
        let geo = Geometry::new(fs, s);
        let c = &s.conditioning;
        let taps_n = fir::taps_for_length(fs, c.fir_length_ms);
        let taps = if c.highpass_hz > 0.0 {
            fir::bandpass(fs, c.highpass_hz, c.lowpass_hz, taps_n)
        } else {
            fir::lowpass(fs, c.lowpass_hz, taps_n)
        }
        .map_err(|e| EngineError::Settings(format!("conditioning filter: {e}")))?;
        let mut filter = SegmentFilter::new(&taps, geo.seg_len);
        filter
            .set_high_band(fs, s.judge.cautery_band_hz.min(0.45 * fs))
            .map_err(|e| EngineError::Settings(format!("judge.cautery_band_hz: {e}")))?;
        // Fit where no response can be: before the stimulus (clear of the pre-blank) and
        // from 5 ms after the end of the LSR window.
        let stim = geo.pre_n;
        let pre_end = geo.at(0.0, -c.artifact_pre_blank_ms - 1.0).min(stim);
        let post_start = geo.at(0.0, s.measure.lsr_window_ms[1] + 5.0);
        let mask = [0..pre_end, post_start..geo.seg_len];
        let fit = |hz: Option<f64>| {
            MainsFit::new(fs, geo.seg_len, hz, c.mains_harmonics, &mask)
                .map_err(|e| EngineError::Settings(format!("mains and drift fit: {e}")))
        };
        let fit_none = fit(None)?;
        let (fit_50, fit_60) = match c.mains {
            crate::settings::Mains::Off => (None, None),
            _ => (Some(fit(Some(50.0))?), Some(fit(Some(60.0))?)),
        };
        let rails = channels
            .iter()
            .map(|ch| {
                ch.range_units.map(|(lo, hi)| {
                    let to_uv = |u: f64| (u * ch.volts_per_unit + ch.offset_volts) * 1e6;
                    let (a, b) = (to_uv(lo), to_uv(hi));
                    let (lo, hi) = (a.min(b), a.max(b));
                    let margin = (1.0 - s.judge.saturation_fraction) * (hi - lo) / 2.0;
                    Rails {
                        lo: (lo + margin) as f32,
                        hi: (hi - margin) as f32,
                    }
                })
            })
            .collect();
        Ok(Self {
            settings: s.clone(),
            filter,
            fit_none,
            fit_50,
            fit_60,
            seg: vec![vec![0.0; geo.seg_len]; channels.len()],
            high_band: vec![0.0; channels.len()],
            saturated: vec![false; channels.len()],
            rails,
            env: vec![0.0; geo.seg_len],
            crosstalk_sums: vec![
                0.0;
                measure::crosstalk_scratch_len(
                    (s.measure.crosstalk_max_lag_ms * fs / 1000.0).round() as usize
                )
            ],
            tail_fit: c.artifact_tail.then(|| {
                let len = ((c.tail_fit_end_ms - c.artifact_blank_ms) * fs / 1000.0).ceil() as usize;
                TailFit::new(
                    fs,
                    len + 2,
                    (TAIL_CROSSTALK_LAG_MS * fs / 1000.0).round() as usize,
                )
            }),
            tail: vec![TailRemoved::default(); channels.len()],
            slow_votes: vec![SlowVotes::default(); channels.len()],
            direct_clean: if c.artifact_tail {
                vec![vec![0.0; geo.seg_len]; channels.len()]
            } else {
                Vec::new()
            },
            correlator: LagCorrelator::new(
                geo.window_len,
                (s.judge.template_max_lag_ms * fs / 1000.0) as usize,
            ),
            bandwidth_scale: bandwidth_scale(fir::effective_high_hz(fs, c.lowpass_hz)),
            geo,
        })
    }

    /// The settings this analyzer was prepared with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Cuts and conditions every channel the branch needs. Returns the channel-independent
    /// facts; the conditioned segments are left in `self.seg`.
    pub fn condition(
        &mut self,
        history: &History,
        stim: &Stimulus,
        chans: &BranchChannels,
        mains_hz: Option<f64>,
    ) -> SweepFacts {
        let base = stim.frame_time.floor();
        let frac = stim.frame_time - base;
        let mut facts = SweepFacts {
            frac,
            direct_p2p: f32::NAN,
            ..Default::default()
        };
        let start = base as i64 - self.geo.pre_n as i64;
        if start < 0 {
            facts.incomplete = true;
            return facts;
        }
        let start = start as u64;
        facts.gap = history.has_gap(start + 1, start + self.geo.seg_len as u64);
        let c = &self.settings.conditioning;
        let blank =
            self.geo.at(frac, -c.artifact_pre_blank_ms)..self.geo.at(frac, c.artifact_blank_ms) + 1;
        let fit = match mains_hz {
            Some(h) if (h - 50.0).abs() < 1.0 => self.fit_50.as_mut().unwrap_or(&mut self.fit_none),
            Some(h) if (h - 60.0).abs() < 1.0 => self.fit_60.as_mut().unwrap_or(&mut self.fit_none),
            _ => &mut self.fit_none,
        };
        for &ch in chans.lsr.iter().chain(&chans.direct) {
            let seg = &mut self.seg[ch];
            if !history.copy(ch, start, seg) {
                facts.incomplete = true;
                return facts;
            }
            self.saturated[ch] = self.rails[ch].is_some_and(|r| {
                seg.iter()
                    .enumerate()
                    .any(|(i, &v)| !blank.contains(&i) && (v >= r.hi || v <= r.lo))
            });
            // Non-finite samples (a file's NaN gaps) make the sweep unusable: lost samples.
            if fit.remove(seg).is_err() {
                facts.gap = true;
                seg.fill(0.0);
            }
        }
        // The artifact's tail, on the raw LSR channels, before the blank is bridged and
        // before any filter can spread it (see `dsp::tail`).
        if let Some(tf) = self.tail_fit.as_mut() {
            let fit_span = blank.end..self.geo.at(frac, c.tail_fit_end_ms);
            let t_b = self.geo.pre_n as f64 + frac + c.artifact_blank_ms * self.geo.fs / 1000.0;
            let probe = self.geo.window(frac).start;
            let dwin = fit_span.start..self.geo.at(frac, self.settings.measure.direct_window_ms[1]);
            let reference = chans.direct.iter().copied().max_by(|&a, &b| {
                measure::p2p(&self.seg[a][dwin.clone()])
                    .total_cmp(&measure::p2p(&self.seg[b][dwin.clone()]))
            });
            for &ch in &chans.lsr {
                let (x, d) = match reference {
                    Some(r) if r != ch => {
                        let (x, d) = two_mut(&mut self.seg, ch, r);
                        (x, Some(&*d))
                    }
                    _ => (self.seg[ch].as_mut_slice(), None),
                };
                let allow_slow = self.slow_votes[ch].allow_slow();
                self.tail[ch] = tf
                    .remove(x, d, fit_span.clone(), t_b, probe, allow_slow)
                    .unwrap_or_default();
                self.slow_votes[ch].push(self.tail[ch].slow_preferred);
            }
        }
        // The direct response is measured on a copy of each direct channel with its own
        // artifact tail removed (the same model, without crosstalk taps): the tail of a
        // millivolt artifact is still hundreds of µV at the blank's end, so under
        // neuromuscular blockade it alone would pass for a direct response and the sweeps
        // would count as evidence that the LSR is gone. The copy is used for that measure
        // only: the crosstalk reference keeps the direct channel as it was (an exponential
        // fitted over the M response would take part of it, and the crosstalk fit would carry
        // that part into the LSR window).
        let clean_direct = self.tail_fit.is_some() && !self.direct_clean.is_empty();
        if let Some(tf) = self.tail_fit.as_mut().filter(|_| clean_direct) {
            let fit_span = blank.end..self.geo.at(frac, c.tail_fit_end_ms);
            let t_b = self.geo.pre_n as f64 + frac + c.artifact_blank_ms * self.geo.fs / 1000.0;
            let probe = self.geo.window(frac).start;
            for &ch in &chans.direct {
                let d = &mut self.direct_clean[ch];
                d.copy_from_slice(&self.seg[ch]);
                let _ = tf.remove(d, None, fit_span.clone(), t_b, probe, true);
                bridge(d, blank.clone());
            }
        }
        for &ch in chans.lsr.iter().chain(&chans.direct) {
            bridge(&mut self.seg[ch], blank.clone());
        }
        // Band-pass two channels per FFT.
        let mut pending: Option<usize> = None;
        for &ch in chans.lsr.iter().chain(&chans.direct) {
            match pending.take() {
                None => pending = Some(ch),
                Some(a) => {
                    let (x, y) = two_mut(&mut self.seg, a, ch);
                    if self.filter.filter_pair(x, Some(y)).is_err() {
                        facts.incomplete = true;
                    }
                    let hb = self.filter.high_band_rms();
                    self.high_band[a] = hb[0];
                    self.high_band[ch] = hb[1];
                }
            }
        }
        if let Some(a) = pending {
            if self.filter.filter_pair(&mut self.seg[a], None).is_err() {
                facts.incomplete = true;
            }
            self.high_band[a] = self.filter.high_band_rms()[0];
        }
        if clean_direct {
            for pair in chans.direct.chunks(2) {
                let r = match *pair {
                    [a, b] => {
                        let (x, y) = two_mut(&mut self.direct_clean, a, b);
                        self.filter.filter_pair(x, Some(y))
                    }
                    [a] => self.filter.filter_pair(&mut self.direct_clean[a], None),
                    _ => Ok(()),
                };
                if r.is_err() {
                    facts.incomplete = true;
                }
            }
        }
        let m = &self.settings.measure;
        let dwin =
            self.geo.at(frac, m.direct_window_ms[0])..self.geo.at(frac, m.direct_window_ms[1]);
        for &ch in &chans.direct {
            let src = if clean_direct {
                &self.direct_clean[ch]
            } else {
                &self.seg[ch]
            };
            let p = measure::p2p(&src[dwin.clone()]);
            if facts.direct_p2p.is_nan() || p > facts.direct_p2p {
                facts.direct_p2p = p;
                facts.direct_channel = Some(ch);
            }
        }
        facts
    }

    /// Measures one LSR channel (after [`Self::condition`]): removes the crosstalk of the
    /// strongest direct channel, then noise, peak-to-peak, SNR and onset.
    pub fn measure(&mut self, ch: usize, chans: &BranchChannels, facts: &SweepFacts) -> Measured {
        let frac = facts.frac;
        let m = &self.settings.measure;
        let geo = &self.geo;
        let mut out = Measured {
            high_band: self.high_band[ch],
            saturated: self.saturated[ch],
            tail: self.tail[ch],
            ..Default::default()
        };
        // Strongest direct channel as the crosstalk reference.
        let dwin = geo.at(frac, m.direct_window_ms[0])..geo.at(frac, m.direct_window_ms[1]);
        let reference = chans.direct.iter().copied().max_by(|&a, &b| {
            measure::p2p(&self.seg[a][dwin.clone()])
                .total_cmp(&measure::p2p(&self.seg[b][dwin.clone()]))
        });
        // Where the crosstalk can still reach (the direct response's end, plus the largest
        // lag and a margin), and how large it was.
        let mut crosstalk_reach = (geo.window(frac).start, 0.0f32);
        if let Some(d) = reference {
            let fit = geo.at(frac, m.crosstalk_fit_ms[0])..geo.at(frac, m.crosstalk_fit_ms[1]);
            let max_lag = (m.crosstalk_max_lag_ms * geo.fs / 1000.0).round() as usize;
            let (x, dref) = two_mut(&mut self.seg, ch, d);
            let xt = measure::fit_crosstalk(x, dref, fit, max_lag, &mut self.crosstalk_sums);
            measure::subtract_crosstalk(x, dref, &xt);
            out.crosstalk_gain = xt.gain();
            let dr = &dref[dwin.clone()];
            let peak = dr.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let end = dr.iter().rposition(|v| v.abs() >= 0.1 * peak).unwrap_or(0);
            // Volume conduction adds a lag and a slow tail of its own (to 10-12 ms): 2.5 ms.
            let margin = (2.5 * geo.fs / 1000.0).round() as usize;
            crosstalk_reach = (
                dwin.start + end + max_lag + margin,
                xt.gain().abs() * measure::p2p(dr),
            );
        }
        let x = &self.seg[ch];
        let noise = geo.noise(frac);
        out.noise_rms = measure::rms(&x[noise.clone()]);
        let wlen = geo.window_len.min(noise.len());
        out.noise_p2p = measure::p2p(&x[noise.end - wlen..noise.end]);
        let win = geo.window(frac);
        if out.noise_rms > 0.0 {
            out.null_snr =
                measure::max_window_rms(&x[noise.end - wlen..noise.end], geo.sub_len, geo.step)
                    / out.noise_rms;
        }
        let samples = |ms: f64| ((ms * geo.fs / 1000.0).round() as usize).max(1);
        let params = measure::OnsetParams {
            smooth: samples(0.3),
            threshold: m.onset_threshold_noise as f32 * out.noise_rms,
            noise: out.noise_rms,
            phase_min: m.onset_phase_noise as f32 * out.noise_rms,
            min_len: samples(m.onset_min_duration_ms),
            max_back: samples(m.onset_max_back_ms),
            min_phase: samples(m.onset_min_phase_ms),
        };
        let ms_of = |i: f64| ((i - geo.pre_n as f64 - frac) * 1000.0 / geo.fs) as f32;
        let earliest = self.settings.judge.lsr_onset_ms[0] as f32;
        // Where the crosstalk fit may have left something behind: where the crosstalk was
        // large enough to leave a visible residue, up to the direct response's reach. An LSR
        // (onset 8-13 ms, lasting 5-15 ms) reaches past it; a residue does not.
        let reach = (crosstalk_reach.1 >= 3.0 * out.noise_rms).then(|| {
            crosstalk_reach
                .0
                .clamp(win.start, win.start + geo.window_len / 4)
        });
        let mut onset = measure::onset(x, win.clone(), &params, &mut self.env);
        // Something already above the onset threshold at the window's start is running in
        // from before it (no LSR starts that early): a residue. Look for the LSR's onset from
        // where it has died away (or from the crosstalk's reach, whichever comes first), so a
        // residue neither looks like a response nor hides one.
        let mut from = win.start;
        let room = |from: usize| from + geo.sub_len.min(win.len() / 2) < win.end;
        // A quiet start with an onset traced back before the earliest LSR onset: the trace
        // went back through noise; look again from the earliest onset.
        let quiet_start = measure::quiet_from(
            x,
            win.start,
            win.end,
            params.smooth,
            params.threshold,
            samples(0.5),
        ) == win.start;
        if quiet_start && onset.is_some_and(|o| ms_of(o) < earliest) {
            let e = geo.at(frac, f64::from(earliest)).clamp(win.start, win.end);
            onset = measure::onset(x, e..win.end, &params, &mut self.env);
            // Traced back to where the search began: cut off there, not an onset.
            if onset.is_some_and(|o| o < e as f64 + 1.0) {
                onset = None;
            }
        }
        for _ in 0..3 {
            let Some(o) = onset.filter(|&o| ms_of(o) < earliest) else {
                break;
            };
            from = match reach {
                // Inside the crosstalk's reach nothing can be told from its residue.
                Some(r) if r > from => r,
                _ => measure::quiet_from(
                    x,
                    (o.floor() as usize).max(from),
                    win.end,
                    params.smooth,
                    params.threshold,
                    samples(0.5),
                ),
            };
            onset = if room(from) {
                measure::onset(x, from..win.end, &params, &mut self.env)
            } else {
                None
            };
            // Already running where the crosstalk ends: a response, onset unknown.
            if reach == Some(from) && onset.is_some_and(|o| o < from as f64 + 1.0) {
                onset = None;
                out.running_at_reach = true;
            }
        }
        if onset.is_some_and(|o| ms_of(o) < earliest) {
            onset = None;
        }
        let judged_from = from.max(reach.unwrap_or(from));
        let judged = &x[judged_from.min(win.end)..win.end];
        out.judged_offset = judged_from.min(win.end) - win.start;
        out.judged_p2p = measure::p2p(judged);
        out.snr = if out.noise_rms > 0.0 && !judged.is_empty() {
            measure::max_window_rms(judged, geo.sub_len.min(judged.len()), geo.step) / out.noise_rms
        } else {
            0.0
        };
        out.onset_ms = onset.map(ms_of);
        // The LSR's size: from its onset on when it has one (what comes before is not the
        // LSR), else over the part the sweep is judged on.
        out.lsr_p2p = match onset {
            Some(o) => {
                let a = (o.floor() as usize).clamp(win.start, win.end.saturating_sub(1));
                measure::p2p(&x[a..win.end])
            }
            None => out.judged_p2p,
        };
        out
    }

    /// The SNR thresholds (present, absent) in effect. The settings give them for 3 kHz-wide
    /// noise; their excess over 1 is scaled by how much more pure noise scores here: measured
    /// on the channel's own noise (`running_null`, the median score of the pre-stimulus
    /// stretch, relative to [`REFERENCE_NULL_SNR`]) once known, and never less than the
    /// bandwidth alone predicts ([`bandwidth_scale`]). One scale, not the product of both.
    pub fn thresholds(&self, running_null: Option<f32>) -> (f64, f64) {
        let measured = running_null
            .map(|m| (m as f64 - 1.0) / (REFERENCE_NULL_SNR - 1.0))
            .unwrap_or(1.0);
        let scale = measured.clamp(self.bandwidth_scale, 3.0_f64.max(self.bandwidth_scale));
        let j = &self.settings.judge;
        (
            1.0 + (j.present_snr - 1.0) * scale,
            1.0 + (j.absent_snr - 1.0) * scale,
        )
    }

    /// The per-sweep verdict and its evidence for the criterion (see [`Judgement`]).
    pub fn judge(&self, facts: &SweepFacts, m: &Measured, ctx: &JudgeContext) -> Judgement {
        let j = &self.settings.judge;
        let reject = |r| Judgement::rejected(r);
        if facts.incomplete {
            return reject(RejectReason::Incomplete);
        }
        if facts.gap {
            return reject(RejectReason::LostSamples);
        }
        let hot = ctx
            .running_high
            .is_some_and(|h| m.high_band > j.cautery_factor as f32 * h);
        let warm = ctx.running_high.is_none_or(|h| m.high_band > 2.0 * h);
        if hot || (m.saturated && warm) {
            return reject(RejectReason::Electrocautery);
        }
        if m.saturated {
            return reject(RejectReason::Saturation);
        }
        if !facts.direct_p2p.is_nan() {
            let mut need = j.min_direct_uv as f32;
            if ctx.baseline_direct.is_finite() {
                need = need.max(j.min_direct_fraction as f32 * ctx.baseline_direct);
            }
            if facts.direct_p2p < need {
                return reject(RejectReason::NoDirectResponse);
            }
        }
        if ctx
            .running_noise
            .is_some_and(|n| m.noise_rms > j.noisy_baseline_factor as f32 * n)
        {
            return reject(RejectReason::SpontaneousActivity);
        }
        let (present, absent) = self.thresholds(ctx.running_null);
        // What pure noise scores here (the median), never above the thresholds.
        let null = ctx
            .running_null
            .map_or(
                1.0 + (REFERENCE_NULL_SNR - 1.0) * self.bandwidth_scale,
                f64::from,
            )
            .min(absent - 0.02)
            .max(1.0);
        let snr = f64::from(m.snr);
        // Evidence that the LSR is gone: 1 at the noise's usual score, falling to 0 at the
        // present threshold, negative above it (3 = a present sweep well above).
        let evidence = (2.0 * (present - snr) / (present - null)).clamp(-3.0, 1.0) as f32;
        let corr = ctx.template_corr.filter(|c| c.is_finite());
        let shape_match = corr.is_some_and(|c| f64::from(c) >= j.template_min_corr);
        let onset_in_range = m.onset_ms.is_some_and(|o| {
            let o = f64::from(o);
            o >= j.lsr_onset_ms[0] && o <= j.lsr_onset_ms[1]
        });
        let latency_match = match (m.onset_ms, ctx.baseline_onset) {
            (Some(o), Some(b)) if b.is_finite() => {
                (f64::from(o) - f64::from(b)).abs() <= j.onset_tolerance_ms
            }
            _ => false,
        };
        // An onset may be unreadable (noise, a residue before it): a sweep shaped like this
        // patient's LSR over the judged part is one all the same.
        // An onset outside the physiological range is not an LSR's; an onset too small to
        // read (a small LSR in noise) is no objection: the judged part is past any residue.
        let onset_ok = m.onset_ms.is_none() || onset_in_range;
        let lsr_like = f64::from(m.judged_p2p) >= j.min_lsr_uv
            && (onset_ok || m.running_at_reach || shape_match);
        // A return must look like this patient's LSR: its shape (a latency alone is matched
        // by anything that happens to start near it). Staying present may rest on either.
        let matches_baseline = lsr_like && shape_match;
        // A latency match keeps a noisy LSR present, but not a response shaped unlike the
        // baseline LSR (a residue near the baseline's onset correlates with it at 0 or below).
        let not_unlike = corr.is_none_or(|c| f64::from(c) >= 0.5 * j.template_min_corr);
        let consistent = lsr_like
            && (ctx.template_corr.is_none()
                || ctx.baseline_onset.is_none()
                || shape_match
                || (latency_match && not_unlike));
        if snr >= present && consistent {
            return Judgement {
                status: SweepStatus::Present,
                reason: None,
                evidence: evidence.min(0.0),
                matches_baseline,
            };
        }
        // Whatever is above the noise here is not what a technologist calls an LSR (too
        // small, the wrong latency, unlike this patient's LSR): the sweep shows no LSR, but a
        // response that still resembles the baseline LSR is weaker evidence of its absence.
        let weight = if shape_match { 0.5 } else { 1.0 };
        let quiet = snr <= absent
            && f64::from(m.judged_p2p) <= j.absent_p2p_noise_ratio * f64::from(m.noise_p2p);
        if quiet || snr >= present {
            let e = if quiet { evidence.max(0.25) } else { 0.5 };
            Judgement {
                status: SweepStatus::Absent,
                reason: None,
                evidence: e * weight,
                matches_baseline: false,
            }
        } else {
            Judgement {
                status: SweepStatus::Rejected,
                reason: Some(RejectReason::Equivocal),
                evidence: evidence.max(0.0) * weight,
                matches_baseline: false,
            }
        }
    }
}

/// What the judge knows of the channel besides the sweep itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct JudgeContext {
    /// Recent clean noise RMS, high-band RMS and null score (None until known).
    pub running_noise: Option<f32>,
    pub running_high: Option<f32>,
    pub running_null: Option<f32>,
    /// Baseline direct response, µV (NaN before the baseline).
    pub baseline_direct: f32,
    /// Correlation of this sweep with the baseline LSR (None without a baseline LSR).
    pub template_corr: Option<f32>,
    /// Baseline LSR onset, ms (None without a baseline LSR).
    pub baseline_onset: Option<f32>,
}

/// The verdict on one sweep of one channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Judgement {
    pub status: SweepStatus,
    pub reason: Option<RejectReason>,
    /// Evidence that the LSR is gone, for the sequential criterion: up to 1 for a flat
    /// sweep, negative for a present one, 0 for a sweep that cannot be judged.
    pub evidence: f32,
    /// A present sweep that resembles the baseline LSR (shape or latency).
    pub matches_baseline: bool,
}

impl Judgement {
    fn rejected(reason: RejectReason) -> Self {
        Self {
            status: SweepStatus::Rejected,
            reason: Some(reason),
            evidence: 0.0,
            matches_baseline: false,
        }
    }
}

/// Recent sweeps a channel's slow tail component is decided on (as many as its running noise
/// levels, see [`super::tracker`]).
const SLOW_MEMORY: u32 = 15;

/// Whether a channel's artifact has a slow recovery component, decided by its recent sweeps.
///
/// The slow component (2-5 ms) is a property of the electrode, the same in every sweep. But
/// on one sweep, over the 5 ms the tail is fitted on, it cannot be told from the slow lobe
/// that volume conduction adds to the crosstalk (to 10-12 ms, varying from sweep to sweep,
/// and not in the crosstalk taps): a sweep that takes that lobe for a slow tail subtracts an
/// exponential that runs on through the LSR window, where it leaves a deflection with an
/// onset just after the window's start (tens of µV, `tail_at_window_uv` far above the
/// channel's other sweeps) that repeats whenever the lobe is large. So a slow component is
/// removed only when most of the channel's recent sweeps' best models have one (until three
/// sweeps are known, each sweep decides for itself).
#[derive(Clone, Copy, Debug, Default)]
struct SlowVotes {
    bits: u32,
    n: u32,
}

impl SlowVotes {
    fn push(&mut self, slow: bool) {
        self.bits = ((self.bits << 1) | u32::from(slow)) & ((1 << SLOW_MEMORY) - 1);
        self.n = (self.n + 1).min(SLOW_MEMORY);
    }

    fn allow_slow(&self) -> bool {
        self.n < 3 || 2 * self.bits.count_ones() > self.n
    }
}

/// Two distinct mutable rows of a table.
fn two_mut(v: &mut [Vec<f32>], a: usize, b: usize) -> (&mut [f32], &mut [f32]) {
    debug_assert_ne!(a, b);
    if a < b {
        let (l, r) = v.split_at_mut(b);
        (&mut l[a], &mut r[0])
    } else {
        let (l, r) = v.split_at_mut(a);
        (&mut r[0], &mut l[b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_waits_for_the_window_and_then_the_rest_of_the_sweep() {
        let g = Geometry::new(10_000.0, &Settings::default());
        // Window 6-40 ms, sweep to 80 ms after a stimulus at frame 5000.
        assert_eq!(g.decision_frames(5000.0), (5399, 5800));
        // A stimulus between samples moves both with it.
        assert_eq!(g.decision_frames(5000.6), (5400, 5800));
    }

    #[test]
    fn a_slow_tail_component_needs_most_of_the_recent_sweeps() {
        let mut v = SlowVotes::default();
        assert!(v.allow_slow(), "each sweep decides until three are known");
        for _ in 0..SLOW_MEMORY {
            v.push(false);
        }
        // An occasional sweep that prefers one (a crosstalk lobe taken for a tail) is outvoted.
        for k in 0..20 {
            v.push(k % 3 == 0);
            assert!(!v.allow_slow(), "sweep {k}");
        }
        // A channel whose artifact has a slow component: most sweeps prefer it.
        for _ in 0..8 {
            v.push(true);
        }
        assert!(v.allow_slow());
    }

    #[test]
    fn thresholds_scale_once_by_bandwidth_or_by_the_measured_noise() {
        let s = Settings::default();
        let wide = SweepAnalyzer::new(48_000.0, &[], &s).unwrap();
        let (p, a) = wide.thresholds(None);
        assert!((p - s.judge.present_snr).abs() < 1e-12 && (a - s.judge.absent_snr).abs() < 1e-12);
        // Noise scoring twice the reference excess doubles the thresholds' excess.
        let (p, _) = wide.thresholds(Some((1.0 + 2.0 * (REFERENCE_NULL_SNR - 1.0)) as f32));
        assert!((p - (1.0 + 2.0 * (s.judge.present_snr - 1.0))).abs() < 1e-6);
        // At 5 kHz the band is 2.25 kHz: at least the bandwidth scale, not multiplied by it.
        let narrow = SweepAnalyzer::new(5_000.0, &[], &s).unwrap();
        let bw = bandwidth_scale(2250.0);
        let (p, _) = narrow.thresholds(Some(REFERENCE_NULL_SNR as f32));
        assert!((p - (1.0 + bw * (s.judge.present_snr - 1.0))).abs() < 1e-6);
        let (p, _) = narrow.thresholds(Some((1.0 + 2.0 * (REFERENCE_NULL_SNR - 1.0)) as f32));
        assert!((p - (1.0 + 2.0 * (s.judge.present_snr - 1.0))).abs() < 1e-6);
    }
}
