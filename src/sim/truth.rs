//! Ground truth of a simulated case: what really happened, to score the detector against.
//!
//! Computed once at construction from the plan (cheap: no sample is generated except to
//! find real clipping, and only where the plan says a channel could reach its rails).
//! It answers, per stimulus and channel: the noise-free LSR peak-to-peak and onset, the
//! direct response, whether the direct response was abolished (neuromuscular blockade), and
//! whether the sweep was contaminated (lost samples, electrocautery, saturation, a
//! spontaneous burst) for a given sweep span. Per channel: was there an LSR at baseline,
//! and when did it truly disappear and return. It also exposes the noise-free LSR
//! waveform of any sweep, so tests can decide what was detectable at all.

use std::sync::Arc;

use crate::model::{Branch, Marker, Muscle};

use super::config::{RAIL_HIGH, RAIL_LOW, UV_PER_COUNT};
use super::episodes::MUAP_MAX_S;
use super::physiology::{Physiology, ABOLISHED_FRACTION, PULSE_WIDTH_S, STIM_SPAN_S};
use super::render::Renderer;
use super::scenario::Scenario;

/// Default sweep span used by [`Truth::sweep`], ms before and after the stimulus (the
/// engine's default sweep).
pub const DEFAULT_PRE_MS: f64 = 100.0;
pub const DEFAULT_POST_MS: f64 = 80.0;
/// Clipping this soon after a stimulus is the stimulus artifact, not saturation, ms.
pub const ARTIFACT_CLIP_MS: f64 = 2.0;

/// What a simulated channel shows for the stimulated branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimRole {
    /// The stimulated branch's own muscle: M response and F-wave.
    Direct,
    /// A muscle of the other branch: the LSR (and crosstalk of the direct response).
    Lsr,
    /// Neither (crosstalk only).
    Other,
    /// The stimulator's sync pulse.
    Trigger,
}

/// Why a sweep cannot be judged, as the simulation knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Contamination {
    /// Samples were lost inside the sweep.
    Gap,
    /// An electrocautery episode overlaps the sweep.
    Cautery,
    /// The channel clipped inside the sweep (outside the first 2 ms after a stimulus).
    Saturation,
    /// A spontaneous EMG burst on the channel overlaps the sweep.
    Burst,
}

/// One delivered stimulus.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StimulusTruth {
    pub index: u64,
    /// Position in the *stream* (frames from the start, with fraction; lost frames are not
    /// counted). NaN when the stimulus fell inside a gap.
    pub frame_time: f64,
    /// Real time of the stimulus, seconds from the start of the case.
    pub time_s: f64,
    pub branch: Branch,
    pub intensity_ma: f32,
    pub pulse_width_s: f32,
    /// Noise-free M response peak-to-peak on the first direct-response channel, µV.
    pub direct_p2p_uv: f32,
    /// The direct response is below 20 % of the patient's own (neuromuscular blockade).
    pub direct_abolished: bool,
}

/// The truth about one sweep of one channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepTruth {
    pub stim_index: u64,
    pub time_s: f64,
    pub channel: usize,
    /// Peak-to-peak of the noise-free LSR component, µV (0.0 when there is none).
    pub lsr_p2p_uv: f32,
    /// LSR onset after the stimulus, ms: where the LSR waveform leaves zero (NaN: none).
    pub onset_ms: f32,
    /// See [`StimulusTruth::direct_p2p_uv`].
    pub direct_p2p_uv: f32,
    pub direct_abolished: bool,
    pub contamination: Option<Contamination>,
}

/// The truth about one channel.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelTruth {
    pub index: usize,
    pub label: String,
    pub muscle: Muscle,
    pub role: SimRole,
    /// The LSR was there during the baseline period (most baseline sweeps had one).
    pub baseline_present: bool,
    /// The patient's LSR amplitude before any course change, µV p2p (0: not an LSR
    /// channel).
    pub lsr_base_uv: f32,
    /// Median LSR p2p of the baseline sweeps, µV (0 when none had one).
    pub baseline_median_uv: f32,
    /// The patient's mean LSR onset on this channel, ms (NaN: not an LSR channel).
    pub lsr_onset_ms: f32,
    /// The patient's M response, µV p2p (0: not a direct channel).
    pub direct_base_uv: f32,
    /// Gain of the volume-conducted copy of the direct response (0: none).
    pub crosstalk_gain: f32,
    /// Mains fundamental, µV peak.
    pub mains_uv: f32,
    /// Noise, µV RMS.
    pub noise_uv: f32,
}

/// Direction of a true change of a channel's LSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The LSR amplitude became 0 at this sweep (and stayed 0 until any return).
    Disappeared,
    /// The LSR amplitude became > 0 again at this sweep.
    Returned,
}

/// A true change of a channel's LSR.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StateChange {
    pub channel: usize,
    pub kind: ChangeKind,
    /// First sweep of the new state.
    pub stim_index: u64,
    pub time_s: f64,
    /// The direct response was abolished at that sweep: not a real disappearance (blockade).
    pub direct_abolished: bool,
}

/// A span of real time, seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub start_s: f64,
    pub end_s: f64,
}

impl Span {
    fn overlaps(&self, a: f64, b: f64) -> bool {
        self.start_s < b && a < self.end_s
    }
}

/// A spontaneous burst on one channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurstTruth {
    pub channel: usize,
    pub span: Span,
}

/// Clipping on one channel (outside the first 2 ms after any stimulus and outside cautery).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SaturationTruth {
    pub channel: usize,
    pub span: Span,
}

/// An electrode pop (a large slow artifact) on one channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PopTruth {
    pub channel: usize,
    pub time_s: f64,
    pub amplitude_uv: f64,
}

/// A run of lost samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GapTruth {
    pub span: Span,
    /// The stream frame the `Gap` event names (the first frame after the gap).
    pub frame: u64,
    pub lost_frames: u64,
}

/// Everything true about the simulated case.
#[derive(Clone)]
pub struct Truth {
    pub scenario: Scenario,
    pub seed: u64,
    pub sample_rate_hz: f64,
    pub duration_s: f64,
    /// Frames in the stream (after gaps).
    pub total_frames: u64,
    pub stimuli: Vec<StimulusTruth>,
    pub channels: Vec<ChannelTruth>,
    pub lsr_channels: Vec<usize>,
    pub direct_channels: Vec<usize>,
    pub markers: Vec<Marker>,
    pub cautery: Vec<Span>,
    pub bursts: Vec<BurstTruth>,
    pub pops: Vec<PopTruth>,
    pub saturation: Vec<SaturationTruth>,
    pub gaps: Vec<GapTruth>,
    /// True LSR changes, in time order, all channels.
    pub changes: Vec<StateChange>,
    /// From the first to the last stimulus whose direct response was abolished.
    pub blockade: Option<Span>,
    phys: Arc<Physiology>,
}

impl std::fmt::Debug for Truth {
    /// A summary: the lists of a long case are long (read the fields for details).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Truth")
            .field("scenario", &self.scenario)
            .field("seed", &self.seed)
            .field("sample_rate_hz", &self.sample_rate_hz)
            .field("duration_s", &self.duration_s)
            .field("stimuli", &self.stimuli.len())
            .field("channels", &self.channels)
            .field("markers", &self.markers)
            .field("changes", &self.changes)
            .field("blockade", &self.blockade)
            .finish_non_exhaustive()
    }
}

impl Truth {
    pub(crate) fn new(phys: Arc<Physiology>, scenario: Scenario, seed: u64) -> Self {
        let p = &*phys;
        let fs = p.fs;
        let src = p.direct_source;
        let stimuli: Vec<StimulusTruth> = p
            .stim_times
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let x = t * fs;
                let frame_time = if p.in_gap(x) {
                    f64::NAN
                } else {
                    x - p.lost_before(x) as f64
                };
                let level = f64::from(p.direct_level[i]);
                StimulusTruth {
                    index: i as u64,
                    frame_time,
                    time_s: t,
                    branch: p.branch,
                    intensity_ma: p.intensity_ma,
                    pulse_width_s: PULSE_WIDTH_S as f32,
                    direct_p2p_uv: src
                        .and_then(|c| p.params(i, c))
                        .map_or(f32::NAN, |s| s.m_uv),
                    direct_abolished: level < ABOLISHED_FRACTION,
                }
            })
            .collect();

        let tl = p.course.timeline;
        let baseline: Vec<usize> = (0..stimuli.len())
            .filter(|&i| stimuli[i].time_s >= tl.baseline && stimuli[i].time_s < tl.dura_opened)
            .collect();
        let channels: Vec<ChannelTruth> = p
            .channels
            .iter()
            .enumerate()
            .map(|(c, ch)| {
                let mut base: Vec<f32> = baseline
                    .iter()
                    .filter_map(|&i| p.params(i, c))
                    .map(|s| s.lsr_uv)
                    .filter(|&v| v > 0.0)
                    .collect();
                base.sort_by(f32::total_cmp);
                let is_lsr = ch.lsr.is_some();
                ChannelTruth {
                    index: c,
                    label: ch.info.label.clone(),
                    muscle: ch.info.muscle,
                    role: ch.role,
                    baseline_present: is_lsr
                        && !baseline.is_empty()
                        && 2 * base.len() >= baseline.len(),
                    lsr_base_uv: ch.lsr.as_ref().map_or(0.0, |l| l.p2p_uv as f32),
                    baseline_median_uv: base.get(base.len() / 2).copied().unwrap_or(0.0),
                    lsr_onset_ms: ch
                        .lsr
                        .as_ref()
                        .map_or(f32::NAN, |l| (l.onset_s * 1e3) as f32),
                    direct_base_uv: ch.m.as_ref().map_or(0.0, |m| m.p2p_uv as f32),
                    crosstalk_gain: ch.crosstalk.as_ref().map_or(0.0, |x| x.gain as f32),
                    mains_uv: ch.mains_uv as f32,
                    noise_uv: if ch.role == SimRole::Trigger {
                        0.0
                    } else {
                        p.noise_uv as f32
                    },
                }
            })
            .collect();

        let mut changes = Vec::new();
        for &c in &p.lsr_channels {
            let mut present: Option<bool> = None;
            for (i, s) in stimuli.iter().enumerate() {
                let now = p.params(i, c).is_some_and(|x| x.lsr_uv > 0.0);
                if let Some(before) = present {
                    if before != now {
                        changes.push(StateChange {
                            channel: c,
                            kind: if now {
                                ChangeKind::Returned
                            } else {
                                ChangeKind::Disappeared
                            },
                            stim_index: i as u64,
                            time_s: s.time_s,
                            direct_abolished: s.direct_abolished,
                        });
                    }
                }
                present = Some(now);
            }
        }
        changes.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));

        let abolished: Vec<f64> = stimuli
            .iter()
            .filter(|s| s.direct_abolished)
            .map(|s| s.time_s)
            .collect();
        let blockade = match (abolished.first(), abolished.last()) {
            (Some(&a), Some(&b)) => Some(Span {
                start_s: a,
                end_s: b,
            }),
            _ => None,
        };

        let gaps = p
            .gaps
            .iter()
            .map(|g| GapTruth {
                span: Span {
                    start_s: g.episode.start_s,
                    end_s: g.episode.end_s(),
                },
                frame: g.start_frame - p.lost_before(g.start_frame as f64),
                lost_frames: g.end_frame - g.start_frame,
            })
            .collect::<Vec<_>>();
        let lost: u64 = gaps.iter().map(|g| g.lost_frames).sum();

        let saturation = find_saturation(&phys);
        Self {
            scenario,
            seed,
            sample_rate_hz: fs,
            duration_s: p.duration_s,
            total_frames: p.frames - lost,
            stimuli,
            channels,
            lsr_channels: p.lsr_channels.clone(),
            direct_channels: p.direct_channels.clone(),
            markers: p.course.markers.clone(),
            cautery: p
                .cautery
                .iter()
                .map(|e| Span {
                    start_s: e.start_s,
                    end_s: e.end_s,
                })
                .collect(),
            bursts: p
                .bursts
                .iter()
                .map(|b| BurstTruth {
                    channel: b.channel,
                    span: Span {
                        start_s: b.start_s,
                        end_s: b.end_s(),
                    },
                })
                .collect(),
            pops: p
                .pops
                .iter()
                .map(|x| PopTruth {
                    channel: x.channel,
                    time_s: x.start_s,
                    amplitude_uv: x.amp_uv,
                })
                .collect(),
            saturation,
            gaps,
            changes,
            blockade,
            phys,
        }
    }

    /// The truth of one sweep, for the default span (100 ms before, 80 ms after).
    pub fn sweep(&self, stim_index: usize, channel: usize) -> Option<SweepTruth> {
        self.sweep_in(stim_index, channel, DEFAULT_PRE_MS, DEFAULT_POST_MS)
    }

    /// The truth of one sweep spanning `pre_ms` before to `post_ms` after the stimulus.
    /// `None` for an unknown stimulus or a channel that is not EMG.
    pub fn sweep_in(
        &self,
        stim_index: usize,
        channel: usize,
        pre_ms: f64,
        post_ms: f64,
    ) -> Option<SweepTruth> {
        let s = self.stimuli.get(stim_index)?;
        let ch = self.channels.get(channel)?;
        if ch.role == SimRole::Trigger {
            return None;
        }
        let p = self.phys.params(stim_index, channel)?;
        let has = p.lsr_uv > 0.0;
        Some(SweepTruth {
            stim_index: s.index,
            time_s: s.time_s,
            channel,
            lsr_p2p_uv: p.lsr_uv,
            onset_ms: if has { p.lsr_onset_s * 1e3 } else { f32::NAN },
            direct_p2p_uv: s.direct_p2p_uv,
            direct_abolished: s.direct_abolished,
            contamination: self.contamination(
                channel,
                s.time_s - pre_ms * 1e-3,
                s.time_s + post_ms * 1e-3,
            ),
        })
    }

    /// Every sweep of one channel, for the given span.
    pub fn sweeps(&self, channel: usize, pre_ms: f64, post_ms: f64) -> Vec<SweepTruth> {
        (0..self.stimuli.len())
            .filter_map(|i| self.sweep_in(i, channel, pre_ms, post_ms))
            .collect()
    }

    /// What spoils the time span `[start_s, end_s]` on `channel`, by priority: lost
    /// samples, electrocautery, saturation, a spontaneous burst.
    pub fn contamination(&self, channel: usize, start_s: f64, end_s: f64) -> Option<Contamination> {
        if self.gaps.iter().any(|g| g.span.overlaps(start_s, end_s)) {
            return Some(Contamination::Gap);
        }
        if self.cautery.iter().any(|c| c.overlaps(start_s, end_s)) {
            return Some(Contamination::Cautery);
        }
        if self
            .saturation
            .iter()
            .any(|x| x.channel == channel && x.span.overlaps(start_s, end_s))
        {
            return Some(Contamination::Saturation);
        }
        // Bursts are sorted by start and last at most 0.5 s (+ one MUAP).
        let from = self
            .bursts
            .partition_point(|b| b.span.start_s < start_s - 0.5 - MUAP_MAX_S);
        let burst = self.bursts[from..]
            .iter()
            .take_while(|b| b.span.start_s < end_s)
            .any(|b| b.channel == channel && b.span.overlaps(start_s, end_s));
        burst.then_some(Contamination::Burst)
    }

    /// The noise-free LSR component alone of one sweep, µV, sampled at `sample_rate_hz`:
    /// sample `i` is at `(i - pre) / sample_rate_hz` seconds from the stimulus, with
    /// `pre = round(pre_ms * rate / 1000)`; `pre + round(post_ms * rate / 1000)` samples.
    /// All zeros for a sweep without LSR; empty for an unknown stimulus or channel.
    pub fn lsr_waveform(
        &self,
        stim_index: usize,
        channel: usize,
        sample_rate_hz: f64,
        pre_ms: f64,
        post_ms: f64,
    ) -> Vec<f32> {
        if stim_index >= self.stimuli.len()
            || channel >= self.channels.len()
            || sample_rate_hz.is_nan()
            || sample_rate_hz <= 0.0
        {
            return Vec::new();
        }
        let pre = (pre_ms.max(0.0) * sample_rate_hz / 1000.0).round() as usize;
        let post = (post_ms.max(0.0) * sample_rate_hz / 1000.0).round() as usize;
        let w = self.phys.lsr_wave(stim_index, channel);
        (0..pre + post)
            .map(|i| w.value((i as f64 - pre as f64) / sample_rate_hz) as f32)
            .collect()
    }

    /// Time of the first marker with this label.
    pub fn marker_time(&self, label: &str) -> Option<f64> {
        self.markers
            .iter()
            .find(|m| m.label == label)
            .map(|m| m.time_s)
    }

    /// Index of the first stimulus at or after `time_s`.
    pub fn first_stimulus_after(&self, time_s: f64) -> Option<usize> {
        let i = self.stimuli.partition_point(|s| s.time_s < time_s);
        (i < self.stimuli.len()).then_some(i)
    }

    /// The true changes of one channel, in time order.
    pub fn changes_of(&self, channel: usize) -> Vec<StateChange> {
        self.changes
            .iter()
            .filter(|c| c.channel == channel)
            .copied()
            .collect()
    }

    /// The channel's final disappearance: its last change, if that is a disappearance not
    /// caused by blockade.
    pub fn final_disappearance(&self, channel: usize) -> Option<StateChange> {
        self.changes_of(channel)
            .last()
            .copied()
            .filter(|c| c.kind == ChangeKind::Disappeared && !c.direct_abolished)
    }
}

/// Finds every run of clipped samples outside the first 2 ms after a stimulus and outside
/// electrocautery, by rendering exactly the samples the stream will carry, but only where
/// a bound on the planned signal says the rails can be reached.
fn find_saturation(phys: &Arc<Physiology>) -> Vec<SaturationTruth> {
    let p = &**phys;
    let fs = p.fs;
    let rail_uv = RAIL_HIGH * UV_PER_COUNT;
    let nch = p.channel_count();
    // Bound on everything but stimuli and pops, per channel.
    let base: Vec<f64> = p
        .channels
        .iter()
        .enumerate()
        .map(|(c, ch)| {
            let mains: f64 = ch.mains.iter().map(|(s, co)| s.hypot(*co)).sum();
            let drift: f64 = ch.drift.iter().map(|(s, co)| s.hypot(*co)).sum();
            let burst = if p.bursts.iter().any(|b| b.channel == c) {
                3.0 * 500.0
            } else {
                0.0
            };
            mains + drift + 12.0 * p.noise_uv + burst + 1.0
        })
        .collect();
    let stim_bound = |i: usize, c: usize| -> f64 {
        let (Some(s), ch) = (p.params(i, c), &p.channels[c]) else {
            return 0.0;
        };
        let art = p.artifact(i, c);
        let tail = art.tail_after(ARTIFACT_CLIP_MS * 1e-3);
        let xt = match (&ch.crosstalk, p.direct_source.and_then(|d| p.params(i, d))) {
            // Shape factors reach 1.3, the slow tail lobe 0.25 of the peak.
            (Some(_), Some(d)) => 1.6 * f64::from(s.xt_gain) * f64::from(d.m_uv + d.f_uv),
            _ => 0.0,
        };
        f64::from(s.m_uv + s.f_uv + s.lsr_uv) + xt + tail
    };
    let mut windows: Vec<(f64, f64)> = Vec::new();
    let max_stim: Vec<f64> = (0..nch)
        .map(|c| {
            (0..p.stim_times.len())
                .map(|i| stim_bound(i, c))
                .fold(0.0, f64::max)
        })
        .collect();
    for (c, ch) in p.channels.iter().enumerate() {
        if ch.role == SimRole::Trigger {
            continue;
        }
        for (i, &ts) in p.stim_times.iter().enumerate() {
            if base[c] + stim_bound(i, c) >= rail_uv {
                windows.push((ts + ARTIFACT_CLIP_MS * 1e-3, ts + STIM_SPAN_S));
            }
        }
    }
    for pop in &p.pops {
        let room = rail_uv - base[pop.channel] - max_stim[pop.channel];
        let end = if room > 1.0 {
            (pop.start_s + pop.tau_s * (pop.amp_uv.abs() / room).ln().max(0.0)).min(pop.end_s())
        } else {
            pop.end_s()
        };
        if end > pop.start_s {
            windows.push((pop.start_s, end + 1.0 / fs));
        }
    }
    windows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in windows {
        let fa = (a * fs).floor().max(0.0) as u64;
        let fb = ((b * fs).ceil() as u64 + 1).min(p.frames);
        match merged.last_mut() {
            Some(last) if fa <= last.1 => last.1 = last.1.max(fb),
            _ if fb > fa => merged.push((fa, fb)),
            _ => {}
        }
    }
    let mut out: Vec<SaturationTruth> = Vec::new();
    let mut open: Vec<Option<u64>> = vec![None; nch];
    let mut r = Renderer::new(phys.clone());
    let mut frame = vec![0.0_f32; nch];
    let excluded = |n: u64| -> bool {
        let t = n as f64 / fs;
        let k = p.stim_times.partition_point(|&s| s <= t + 1.0 / fs);
        let near_stim = k > 0 && t < p.stim_times[k - 1] + ARTIFACT_CLIP_MS * 1e-3;
        near_stim || p.cautery.iter().any(|e| t >= e.start_s && t < e.end_s) || p.in_gap(n as f64)
    };
    let close = |out: &mut Vec<SaturationTruth>, c: usize, a: u64, b: u64| {
        out.push(SaturationTruth {
            channel: c,
            span: Span {
                start_s: a as f64 / fs,
                end_s: b as f64 / fs,
            },
        });
    };
    for (a, b) in merged {
        r.seek(a);
        for n in a..b {
            r.render_frame(&mut frame);
            let skip = excluded(n);
            for c in 0..nch {
                if p.channels[c].role == SimRole::Trigger {
                    continue;
                }
                let v = f64::from(frame[c]);
                let clipped = !skip && (v <= RAIL_LOW || v >= RAIL_HIGH);
                match (clipped, open[c]) {
                    (true, None) => open[c] = Some(n),
                    (false, Some(s)) => {
                        close(&mut out, c, s, n);
                        open[c] = None;
                    }
                    _ => {}
                }
            }
        }
        for (c, o) in open.iter_mut().enumerate() {
            if let Some(s) = o.take() {
                close(&mut out, c, s, b);
            }
        }
    }
    out.sort_by(|a, b| a.span.start_s.total_cmp(&b.span.start_s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Episode, SimConfig, SimPatient};
    use crate::source::Source;

    fn truth(scenario: Scenario, seed: u64, duration: f64) -> Truth {
        SimPatient::new(SimConfig::quiet(scenario, seed, 5000.0, duration))
            .unwrap()
            .truth()
            .clone()
    }

    #[test]
    fn onset_and_p2p_truth_match_the_waveform() {
        let t = truth(Scenario::Persistent, 4, 120.0);
        let fs = 48_000.0;
        for i in [3, 17, 40, 90] {
            for &c in &t.lsr_channels {
                let s = t.sweep(i, c).unwrap();
                let w = t.lsr_waveform(i, c, fs, 20.0, 60.0);
                assert_eq!(w.len(), (80.0e-3 * fs) as usize);
                let pre = (20.0e-3 * fs) as usize;
                let first = w.iter().position(|&x| x != 0.0).unwrap();
                let onset = (first as f64 - pre as f64) / fs * 1e3;
                assert!(
                    onset >= f64::from(s.onset_ms)
                        && onset - f64::from(s.onset_ms) <= 1e3 / fs + 1e-9,
                    "{onset} vs {}",
                    s.onset_ms
                );
                assert!((9.0 - 1.6..10.5 + 1.6).contains(&onset));
                let hi = w.iter().cloned().fold(f32::MIN, f32::max);
                let lo = w.iter().cloned().fold(f32::MAX, f32::min);
                assert!(
                    ((hi - lo) / s.lsr_p2p_uv - 1.0).abs() < 0.01,
                    "{} vs {}",
                    hi - lo,
                    s.lsr_p2p_uv
                );
                // The first phase is a clear half-cycle: 1-2 ms of one sign.
                let sign = w[first].signum();
                let run =
                    w[first..].iter().take_while(|x| x.signum() == sign).count() as f64 / fs * 1e3;
                assert!((0.9..=2.1).contains(&run), "first phase {run} ms");
            }
        }
        assert!(t
            .lsr_waveform(0, 0, fs, 10.0, 10.0)
            .iter()
            .all(|&x| x == 0.0));
        assert!(t.lsr_waveform(100_000, 1, fs, 10.0, 10.0).is_empty());
    }

    /// The stream really carries the LSR the truth describes: with noise, mains and drift off,
    /// a persistent case minus the same patient without LSR leaves exactly the LSR waveform.
    #[test]
    fn the_rendered_lsr_is_the_truth_waveform() {
        let fs = 10_000.0;
        let quiet = |s| SimConfig {
            noise_uv: 0.0,
            mains_uv: 0.0,
            ..SimConfig::quiet(s, 7, fs, 20.0)
        };
        let mut a = SimPatient::new(quiet(Scenario::Persistent)).unwrap();
        let mut b = SimPatient::new(quiet(Scenario::NoBaseline)).unwrap();
        let n = 200_000;
        let (mut va, mut vb) = (vec![0.0; 4 * n], vec![0.0; 4 * n]);
        let mut ev = Vec::new();
        assert_eq!(a.read(&mut va, &mut ev).unwrap(), n);
        assert_eq!(b.read(&mut vb, &mut ev).unwrap(), n);
        let t = a.truth();
        for i in [2, 8, 15] {
            let s = t.stimuli[i];
            let start = s.time_s * fs;
            let k0 = start.floor() as usize - 100;
            for &c in &t.lsr_channels {
                let w = t.lsr_waveform(i, c, fs, 0.0, 60.0);
                let mut worst = 0.0_f64;
                for k in k0..k0 + 700 {
                    let diff = f64::from(va[4 * k + c] - vb[4 * k + c]) * UV_PER_COUNT;
                    let tau = k as f64 / fs - s.time_s;
                    // The truth waveform at the sample time (frame grid, not the stimulus grid).
                    let expect = if tau < 0.0 {
                        0.0
                    } else {
                        t.phys.lsr_wave(i, c).value(tau)
                    };
                    worst = worst.max((diff - expect).abs());
                }
                assert!(
                    worst <= UV_PER_COUNT * 1.01,
                    "stim {i} ch {c}: off by {worst} µV"
                );
                assert!(w.iter().any(|&x| x.abs() > 10.0));
            }
        }
    }

    #[test]
    fn saturation_truth_is_exactly_the_clipping_in_the_stream() {
        let cfg = SimConfig {
            electrode_pops: 4,
            ..SimConfig::quiet(Scenario::Abrupt, 13, 5000.0, 60.0)
        };
        let mut p = SimPatient::new(cfg).unwrap();
        let t = p.truth().clone();
        assert!(!t.saturation.is_empty());
        let mut v = vec![0.0; 4 * 300_000];
        let mut ev = Vec::new();
        assert_eq!(p.read(&mut v, &mut ev).unwrap(), 300_000);
        let fs = 5000.0;
        for c in 0..3 {
            for k in 0..300_000 {
                let x = v[4 * k + c];
                let tm = k as f64 / fs;
                let i = t.stimuli.partition_point(|s| s.time_s <= tm + 1.0 / fs);
                let near_stim = i > 0 && tm < t.stimuli[i - 1].time_s + ARTIFACT_CLIP_MS * 1e-3;
                let clipped = !near_stim && (x <= RAIL_LOW as f32 || x >= RAIL_HIGH as f32);
                let listed = t.saturation.iter().any(|s| {
                    s.channel == c && tm >= s.span.start_s - 1e-9 && tm < s.span.end_s - 1e-9
                });
                assert_eq!(clipped, listed, "ch {c} frame {k}");
            }
        }
        for s in &t.saturation {
            let i = t.first_stimulus_after(s.span.start_s).unwrap();
            let sw = t.sweep(i, s.channel).unwrap();
            if sw.time_s - 0.1 < s.span.end_s {
                assert_eq!(sw.contamination, Some(Contamination::Saturation));
            }
        }
    }

    #[test]
    fn contamination_names_what_spoils_a_sweep() {
        let cfg = SimConfig {
            bursts_per_min: 5.0,
            cautery_times: vec![Episode {
                start_s: 100.0,
                duration_s: 3.0,
            }],
            gaps: vec![Episode {
                start_s: 200.0,
                duration_s: 0.2,
            }],
            ..SimConfig::quiet(Scenario::Persistent, 3, 5000.0, 300.0)
        };
        let t = SimPatient::new(cfg).unwrap().truth().clone();
        let i = t.first_stimulus_after(101.0).unwrap();
        assert_eq!(
            t.sweep(i, 1).unwrap().contamination,
            Some(Contamination::Cautery)
        );
        let g = t.first_stimulus_after(199.5).unwrap();
        assert_eq!(
            t.sweep_in(g, 2, 100.0, 1000.0).unwrap().contamination,
            Some(Contamination::Gap)
        );
        let b = t
            .bursts
            .iter()
            .find(|b| b.span.start_s > 110.0 && b.span.start_s < 190.0 && b.channel != 0)
            .unwrap();
        let k = t.first_stimulus_after(b.span.start_s).unwrap();
        assert_eq!(
            t.sweep_in(k, b.channel, 2000.0, 10.0)
                .unwrap()
                .contamination,
            Some(Contamination::Burst)
        );
        // A sweep far from everything is clean.
        let clean = (0..t.stimuli.len())
            .filter(|&i| t.sweep(i, 1).unwrap().contamination.is_none())
            .count();
        assert!(clean > t.stimuli.len() / 2);
        assert!(
            t.sweep(0, 3).is_none(),
            "the trigger channel has no sweep truth"
        );
        assert_eq!(
            t.contamination(1, 50.0, 50.0 + 1e-6),
            t.contamination(1, 50.0, 50.0 + 1e-6)
        );
    }
}
