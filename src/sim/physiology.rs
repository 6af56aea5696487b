//! The simulated patient's physiology and the case's events, drawn once from the seed.
//!
//! Everything that is "the patient" or "the operating room" is fixed here, in continuous
//! time, before a single sample exists: the channel layout and which muscles answer how,
//! each channel's mains and drift, the stimulus times, every sweep's response parameters
//! (artifact size, M response, F-wave, LSR amplitude, latency, duration, afterdischarge),
//! and the case's episodes (bursts, pops, electrocautery, gaps: see `episodes`).
//! Only these compact per-stimulus lists are kept (tens of bytes per stimulus and channel);
//! waveforms are expanded from them when a stimulus comes up in the stream.
//!
//! Nothing here depends on the sample rate except the conversion of gaps to frames and the
//! noise filter, so one seed is one patient at every rate.

use std::f64::consts::TAU;

use crate::anatomy::Anatomy;
use crate::model::{Branch, ChannelInfo, Muscle, Role};

use super::config::{SimConfig, RAIL_HIGH, RAIL_LOW, VOLTS_PER_COUNT};
use super::episodes::{self, Burst, Cautery, Gap, Pop};
use super::rng::{mix64, stream_key, Rng};
use super::scenario::Course;
use super::truth::SimRole;
use super::waveform::{self, Artifact, LateComponent, LsrPattern, Pattern, Wave};

/// Longest a stimulus's evoked activity lasts (afterdischarge ends by 35 ms; the artifact,
/// M response and F-wave end earlier), seconds.
pub(crate) const STIM_SPAN_S: f64 = 0.060;
/// Stimulus pulse width, seconds.
pub(crate) const PULSE_WIDTH_S: f64 = 2.0e-4;
/// Height of the sync pulse on the trigger channel, counts, and its width, seconds.
pub(crate) const TRIGGER_COUNTS: f64 = 20_000.0;
pub(crate) const TRIGGER_WIDTH_S: f64 = 1.0e-3;
/// Noise on the trigger channel, counts RMS (and during electrocautery).
pub(crate) const TRIGGER_NOISE_COUNTS: f64 = 2.0;
pub(crate) const TRIGGER_CAUTERY_COUNTS: f64 = 400.0;
/// Direct response below this fraction of the patient's own: "abolished".
pub(crate) const ABOLISHED_FRACTION: f64 = 0.2;

// Stream names (5, 6 and 7 are the episodes').
const S_CASE: u64 = 1;
const S_SCHEDULE: u64 = 2;
const S_PATIENT: u64 = 3;
const S_SWEEPS: u64 = 4;
const S_NOISE: u64 = 8;
const S_CAUTERY_NOISE: u64 = 9;
// Streams added for the operating room's harder side (artifact recovery, distorted
// crosstalk, late LSR component); separate, so the draws above stay what they were.
const S_ARTIFACT: u64 = 10;
const S_CROSSTALK: u64 = 11;
const S_LATE: u64 = 12;
const S_SWEEP_EXTRA: u64 = 13;

/// The stimulated branch's own-muscle response of one patient and channel.
#[derive(Clone, Debug)]
pub(crate) struct MModel {
    pub pattern: Pattern,
    pub p2p_uv: f64,
    pub onset_s: f64,
    pub duration_s: f64,
    /// F-wave size as a fraction of the M response, and its usual onset.
    pub f_ratio: f64,
    pub f_onset_s: f64,
}

/// The LSR of one patient and channel.
#[derive(Clone, Debug)]
pub(crate) struct LsrModel {
    /// Position among the LSR channels (the course's channel index).
    pub index: usize,
    pub pattern: LsrPattern,
    /// Baseline amplitude, µV peak to peak.
    pub p2p_uv: f64,
    pub onset_s: f64,
    /// Sweep-to-sweep latency jitter (standard deviation), seconds.
    pub jitter_s: f64,
    pub duration_s: f64,
    /// Sweep-to-sweep coefficient of variation of the amplitude.
    pub cv: f64,
    pub afterdischarge: bool,
    /// The later, variable component (25-40 ms) some patients have, and how often a sweep
    /// shows it.
    pub late: Option<(LateComponent, f64)>,
}

/// How the direct response reaches an LSR electrode (volume conduction through other
/// tissue: never an exact copy).
#[derive(Clone, Debug)]
pub(crate) struct CrosstalkModel {
    /// Fraction of the direct response (sum over lobes before shape factors).
    pub gain: f64,
    pub lag_s: f64,
    /// Lobe widening (the tissue's low-pass).
    pub stretch: f64,
    /// Per-lobe factors (cycled).
    pub shape: [f64; 4],
    /// Slow lobe after the copy, relative to its largest peak, and where it ends.
    pub tail_rel: f64,
    pub tail_end_s: f64,
}

/// A change of stimulus intensity or electrode during the case: from `time_s` on, the
/// artifact is `factor` times its size (negative: polarity flipped).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArtifactStep {
    pub time_s: f64,
    pub factor: f64,
}

/// One channel: what it records and the patient's answer on it.
#[derive(Clone, Debug)]
pub(crate) struct ChannelModel {
    pub info: ChannelInfo,
    pub role: SimRole,
    /// Stable identity for random streams (independent of the other channels).
    pub slot: u64,
    pub noise_key: u64,
    pub cautery_key: u64,
    /// Mains fundamental, µV peak.
    pub mains_uv: f64,
    /// Mains harmonics 1, 3, 5 as (sine, cosine) coefficients, µV.
    pub mains: [(f64, f64); 3],
    /// Drift components as (sine, cosine) coefficients, µV.
    pub drift: [(f64, f64); 3],
    pub artifact: Artifact,
    pub m: Option<MModel>,
    pub lsr: Option<LsrModel>,
    /// Volume-conducted, distorted copy of the direct response.
    pub crosstalk: Option<CrosstalkModel>,
    /// Intensity or electrode changes that resize the artifact (time order).
    pub artifact_steps: Vec<ArtifactStep>,
    /// Electrocautery noise, µV RMS.
    pub cautery_uv: f64,
}

/// One sweep's response on one channel (compact: expanded to waveforms when needed).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct ChannelStim {
    pub artifact_scale: f32,
    pub m_uv: f32,
    pub m_onset_s: f32,
    pub f_uv: f32,
    pub f_onset_s: f32,
    pub f_dur_s: f32,
    pub lsr_uv: f32,
    pub lsr_onset_s: f32,
    pub lsr_dur_s: f32,
    /// End of the afterdischarge after the stimulus, seconds (0: none).
    pub after_end_s: f32,
    /// Whether this sweep shows the late component.
    pub late: bool,
    /// This sweep's crosstalk gain and lag (the channel's, varied sweep to sweep).
    pub xt_gain: f32,
    pub xt_lag_s: f32,
    pub shape_seed: u64,
}

/// The whole simulated case.
#[derive(Clone, Debug)]
pub(crate) struct Physiology {
    pub fs: f64,
    pub duration_s: f64,
    /// Frames the case lasts (before gaps drop any).
    pub frames: u64,
    pub branch: Branch,
    pub intensity_ma: f32,
    pub channels: Vec<ChannelModel>,
    /// The direct-response channel whose activity is volume-conducted onto the others.
    pub direct_source: Option<usize>,
    pub lsr_channels: Vec<usize>,
    pub direct_channels: Vec<usize>,
    pub stim_times: Vec<f64>,
    /// `stim[i * channels + c]`.
    pub stim: Vec<ChannelStim>,
    /// Level of the direct response per stimulus (1 = the patient's own, 0 = blocked).
    pub direct_level: Vec<f32>,
    pub bursts: Vec<Burst>,
    pub pops: Vec<Pop>,
    pub cautery: Vec<Cautery>,
    pub gaps: Vec<Gap>,
    pub course: Course,
    pub mains_hz: f64,
    pub drift_hz: [f64; 3],
    /// Noise shaping filter (unit energy; scaled by the noise level).
    pub noise_fir: Vec<f64>,
    pub noise_uv: f64,
}

/// Stable identity of the k-th channel recording `muscle`.
fn slot_of(muscle: Muscle, occurrence: u64) -> u64 {
    let base = match muscle {
        Muscle::OrbicularisOculi => 0,
        Muscle::OrbicularisOris => 1,
        Muscle::Mentalis => 2,
        Muscle::Frontalis => 3,
        Muscle::Nasalis => 4,
        Muscle::Other => 5,
        Muscle::None => 6,
    };
    base + 8 * occurrence
}

fn emg_info(label: String, muscle: Muscle) -> ChannelInfo {
    ChannelInfo {
        label,
        muscle,
        role: Role::Emg,
        volts_per_unit: VOLTS_PER_COUNT,
        offset_volts: 0.0,
        range_units: Some((RAIL_LOW, RAIL_HIGH)),
        trigger_branch: None,
    }
}

/// Windowed-sinc low-pass (Hamming) at `fc` for rate `fs`, scaled to unit energy so that
/// white noise of variance 1 comes out with variance 1.
pub(crate) fn noise_filter(fs: f64, fc: f64) -> Vec<f64> {
    let half = (2.5 * fs / fc).ceil() as usize;
    let len = 2 * half + 1;
    let wc = fc / fs;
    let mut h: Vec<f64> = (0..len)
        .map(|i| {
            let k = i as f64 - half as f64;
            let sinc = if k == 0.0 {
                2.0 * wc
            } else {
                (TAU * wc * k).sin() / (std::f64::consts::PI * k)
            };
            let win = 0.54 - 0.46 * (TAU * i as f64 / (len - 1) as f64).cos();
            sinc * win
        })
        .collect();
    let energy: f64 = h.iter().map(|x| x * x).sum();
    let g = 1.0 / energy.sqrt();
    h.iter_mut().for_each(|x| *x *= g);
    h
}

impl Physiology {
    /// Draws the whole case from a validated configuration.
    pub(crate) fn new(cfg: &SimConfig) -> Self {
        let seed = cfg.seed;
        let fs = cfg.sample_rate_hz;
        let d = cfg.duration_s;
        let branch = Branch::Zygomatic;
        let mut case = Rng::stream(seed, &[S_CASE]);
        let intensity_ma = case.range(10.0, 20.0) as f32;
        let lsr_patient = cfg.lsr_uv * (0.25 * case.normal()).exp();
        let drift_hz = [
            case.range(0.03, 0.08),
            case.range(0.1, 0.2),
            case.range(0.25, 0.45),
        ];

        // Channel layout and roles (from the shared anatomy map).
        let mut muscles = vec![
            Muscle::OrbicularisOculi,
            Muscle::OrbicularisOris,
            Muscle::Mentalis,
        ];
        muscles.extend(cfg.extra_channels.iter().copied());
        let mut infos = Vec::new();
        let mut slots = Vec::new();
        for (i, &m) in muscles.iter().enumerate() {
            let occ = muscles[..i].iter().filter(|x| **x == m).count() as u64;
            let label = if occ == 0 {
                m.name().to_string()
            } else {
                format!("{}_{}", m.name(), occ + 1)
            };
            infos.push(emg_info(label, m));
            slots.push(slot_of(m, occ));
        }
        let trigger = if cfg.trigger {
            infos.push(ChannelInfo {
                label: "trigger".into(),
                muscle: Muscle::None,
                role: Role::Trigger,
                volts_per_unit: VOLTS_PER_COUNT,
                offset_volts: 0.0,
                range_units: Some((RAIL_LOW, RAIL_HIGH)),
                trigger_branch: Some(branch),
            });
            slots.push(slot_of(Muscle::None, 0));
            Some(infos.len() - 1)
        } else {
            None
        };
        let map = Anatomy::default().channels_for(branch, &infos);
        let lsr_channels = map.lsr.clone();
        let direct_channels = map.direct.clone();
        let direct_source = direct_channels.first().copied();

        // Per-channel patient draws.
        let mut channels = Vec::new();
        let mut mains_share = Vec::new();
        for (c, info) in infos.into_iter().enumerate() {
            let slot = slots[c];
            let role = if Some(c) == trigger {
                SimRole::Trigger
            } else if lsr_channels.contains(&c) {
                SimRole::Lsr
            } else if direct_channels.contains(&c) {
                SimRole::Direct
            } else {
                SimRole::Other
            };
            let mut r = Rng::stream(seed, &[S_PATIENT, slot]);
            let share = r.range(0.6, 1.4);
            let ph: [f64; 3] = [r.range(0.0, TAU), r.range(0.0, TAU), r.range(0.0, TAU)];
            let ratio = [1.0, r.range(0.2, 0.4), r.range(0.1, 0.2)];
            let dw: [f64; 3] = [r.range(0.5, 1.5), r.range(0.5, 1.5), r.range(0.5, 1.5)];
            let dph: [f64; 3] = [r.range(0.0, TAU), r.range(0.0, TAU), r.range(0.0, TAU)];
            let art_amp = match role {
                SimRole::Direct => r.range(3000.0, 10_000.0),
                SimRole::Lsr => r.range(1000.0, 3000.0),
                _ => r.range(800.0, 2000.0),
            } * r.sign();
            let art_decay = r.range(0.25e-3, 0.45e-3);
            let cautery_uv = r.range(8000.0, 30_000.0);
            let muscle = info.muscle;
            let m = (role == SimRole::Direct).then(|| {
                let sign = r.sign();
                let pattern = if r.chance(0.5) {
                    Pattern::alternating(
                        sign,
                        &[r.range(0.15, 0.35), 1.0, r.range(0.3, 0.6)],
                        &[r.range(0.6, 1.0), r.range(1.2, 1.8), r.range(1.2, 2.0)],
                    )
                } else {
                    Pattern::alternating(sign, &[1.0, r.range(0.5, 0.9)], &[1.0, r.range(1.0, 1.5)])
                };
                let later = if muscle == Muscle::Frontalis {
                    0.5e-3
                } else {
                    0.0
                };
                MModel {
                    pattern,
                    p2p_uv: r.range(1000.0, 5000.0),
                    onset_s: r.range(2.5e-3, 3.5e-3) + later,
                    duration_s: r.range(6.0e-3, 8.0e-3),
                    f_ratio: r.range(0.02, 0.05),
                    f_onset_s: r.range(8.5e-3, 9.5e-3),
                }
            });
            let lsr = (role == SimRole::Lsr).then(|| {
                let pattern = waveform::draw_lsr_pattern(&mut r);
                let muscle_factor = match muscle {
                    Muscle::Mentalis => 1.25,
                    Muscle::OrbicularisOris => 0.8,
                    _ => 1.0,
                };
                let p2p_uv = lsr_patient * muscle_factor * (0.1 * r.normal()).exp();
                let tidy_onset = r.range(9.0e-3, 10.5e-3); // the tidy physiology's onset
                let jitter_s = r.range(0.2e-3, 0.5e-3);
                let duration_s = r.range(8.0e-3, 12.0e-3);
                let cv = r.range(0.2, 0.4);
                let afterdischarge = r.chance(0.35);
                let mut rl = Rng::stream(seed, &[S_LATE, slot]);
                let onset_s = rl.range(8.5e-3, 12.5e-3);
                let onset_s = if cfg.tidy { tidy_onset } else { onset_s };
                let late = (!cfg.tidy && rl.chance(0.3)).then(|| {
                    (
                        LateComponent {
                            onset_s: rl.range(25.0e-3, 32.0e-3),
                            duration_s: rl.range(4.0e-3, 8.0e-3),
                            relative: rl.range(0.2, 0.5),
                        },
                        rl.range(0.5, 0.9),
                    )
                });
                LsrModel {
                    index: lsr_channels.iter().position(|&x| x == c).unwrap_or(0),
                    pattern,
                    p2p_uv,
                    onset_s,
                    jitter_s,
                    duration_s,
                    cv,
                    afterdischarge,
                    late,
                }
            });
            let crosstalk = (matches!(role, SimRole::Lsr | SimRole::Other)
                && direct_source.is_some())
            .then(|| {
                let tidy_gain = match muscle {
                    Muscle::OrbicularisOris => r.range(0.03, 0.08),
                    Muscle::Mentalis => r.range(0.01, 0.05),
                    _ => r.range(0.02, 0.06),
                };
                let tidy_lag = r.range(0.0, 0.15e-3);
                if cfg.tidy {
                    return CrosstalkModel {
                        gain: tidy_gain,
                        lag_s: tidy_lag,
                        stretch: 1.0,
                        shape: [1.0; 4],
                        tail_rel: 0.0,
                        tail_end_s: 0.0,
                    };
                }
                let mut rx = Rng::stream(seed, &[S_CROSSTALK, slot]);
                let gain = match muscle {
                    Muscle::OrbicularisOris => rx.log_range(0.03, 0.10),
                    Muscle::Mentalis => rx.log_range(0.01, 0.06),
                    _ => rx.log_range(0.01, 0.10),
                };
                CrosstalkModel {
                    gain,
                    lag_s: rx.range(0.0, 0.6e-3),
                    stretch: rx.range(1.0, 1.15),
                    shape: std::array::from_fn(|_| rx.range(0.85, 1.15)),
                    tail_rel: if rx.chance(0.6) {
                        rx.range(0.05, 0.25)
                    } else {
                        0.0
                    },
                    tail_end_s: rx.range(10.0e-3, 12.0e-3),
                }
            });
            // The artifact's recovery: 0.5-10 mV, one time constant of 0.2-1.5 ms and in
            // some patients a slower one of 2-5 ms carrying a few percent; large ones may
            // hold the amplifier at its rail for 1-2 ms. Its size and polarity change when
            // the intensity or the electrodes do.
            let mut ra = Rng::stream(seed, &[S_ARTIFACT, slot]);
            let peak = match role {
                SimRole::Direct => ra.log_range(1000.0, 10_000.0),
                _ => ra.log_range(500.0, 10_000.0),
            };
            let pulse_sign = ra.sign();
            let tail_sign = if ra.chance(0.7) {
                -pulse_sign
            } else {
                pulse_sign
            };
            let tail_uv = tail_sign * peak * ra.range(0.3, 1.0);
            let decay_s = ra.log_range(0.2e-3, 1.5e-3);
            let (slow_fraction, slow_s) = if ra.chance(0.4) {
                (ra.range(0.01, 0.04), ra.range(2.0e-3, 5.0e-3))
            } else {
                (0.0, 3.0e-3)
            };
            let hold_s = if peak > 3000.0 && ra.chance(0.3) {
                ra.range(1.0e-3, 1.9e-3)
            } else {
                0.0
            };
            let steps = ra.int(0, 2);
            let mut artifact_steps: Vec<ArtifactStep> = (0..steps)
                .map(|_| ArtifactStep {
                    time_s: ra.range(0.0, d),
                    factor: ra.range(0.6, 1.5) * if ra.chance(0.25) { -1.0 } else { 1.0 },
                })
                .collect();
            artifact_steps.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
            if cfg.tidy {
                artifact_steps.clear();
            }
            if role != SimRole::Trigger {
                mains_share.push((c, share));
            }
            let dsum: f64 = dw.iter().sum();
            let drift = std::array::from_fn(|k| {
                let a = cfg.drift_uv * dw[k] / dsum;
                (a * dph[k].cos(), a * dph[k].sin())
            });
            channels.push(ChannelModel {
                info,
                role,
                slot,
                noise_key: stream_key(seed, &[S_NOISE, slot]),
                cautery_key: stream_key(seed, &[S_CAUTERY_NOISE, slot]),
                mains_uv: 0.0,
                mains: std::array::from_fn(|k| (ratio[k] * ph[k].cos(), ratio[k] * ph[k].sin())),
                drift: if role == SimRole::Trigger {
                    [(0.0, 0.0); 3]
                } else {
                    drift
                },
                artifact: if role == SimRole::Trigger {
                    Artifact::NONE
                } else if cfg.tidy {
                    // A charge-balanced recovery of opposite sign, one time constant.
                    Artifact {
                        amp_uv: art_amp,
                        width_s: PULSE_WIDTH_S,
                        tail_uv: -art_amp * PULSE_WIDTH_S / art_decay,
                        decay_s: art_decay,
                        slow_fraction: 0.0,
                        slow_s: 3.0e-3,
                        hold_s: 0.0,
                    }
                } else {
                    Artifact {
                        amp_uv: pulse_sign * peak,
                        width_s: PULSE_WIDTH_S,
                        tail_uv,
                        decay_s,
                        slow_fraction,
                        slow_s,
                        hold_s,
                    }
                },
                m,
                lsr,
                crosstalk,
                artifact_steps,
                cautery_uv,
            });
        }
        // Mentalis is larger than orbicularis oris (Pan 2025's prevalence, usual practice).
        let oris_max = channels
            .iter()
            .filter(|c| c.info.muscle == Muscle::OrbicularisOris)
            .filter_map(|c| c.lsr.as_ref().map(|l| l.p2p_uv))
            .fold(0.0, f64::max);
        for ch in channels
            .iter_mut()
            .filter(|c| c.info.muscle == Muscle::Mentalis)
        {
            if let Some(l) = ch.lsr.as_mut() {
                if l.p2p_uv <= 1.1 * oris_max {
                    l.p2p_uv = 1.25 * oris_max;
                }
            }
        }
        // Mains: each channel's share, normalised so the EMG channels average `mains_uv`.
        let mean_share =
            mains_share.iter().map(|s| s.1).sum::<f64>() / mains_share.len().max(1) as f64;
        for (c, share) in mains_share {
            let a = cfg.mains_uv * share / mean_share;
            let ch = &mut channels[c];
            ch.mains_uv = a;
            for h in &mut ch.mains {
                h.0 *= a;
                h.1 *= a;
            }
        }
        for ch in channels.iter_mut().filter(|c| c.role == SimRole::Trigger) {
            ch.mains = [(0.0, 0.0); 3];
        }

        // Stimulus schedule: a free-running stimulator with a little timing jitter.
        let mut sched = Rng::stream(seed, &[S_SCHEDULE]);
        let period = 1.0 / cfg.stim_rate_hz;
        let mut stim_times = Vec::new();
        let mut t = 0.3 + sched.uniform() * period;
        while t < d - 0.1 {
            stim_times.push(t);
            t += period * (1.0 + sched.range(-0.002, 0.002));
        }

        let lsr_slots: Vec<u64> = lsr_channels.iter().map(|&c| channels[c].slot).collect();
        let course = Course::new(cfg.scenario, d, &stim_times, &lsr_slots, seed);

        // Per-sweep parameters: each channel draws from its own stream, the same number of
        // values for every stimulus whatever its role.
        let nch = channels.len();
        let mut stim = vec![ChannelStim::default(); stim_times.len() * nch];
        let direct_level: Vec<f32> = stim_times
            .iter()
            .map(|&t| course.direct.level(t) as f32)
            .collect();
        for (c, ch) in channels.iter().enumerate() {
            if ch.role == SimRole::Trigger {
                continue;
            }
            let mut r = Rng::stream(seed, &[S_SWEEPS, ch.slot]);
            let mut rx = Rng::stream(seed, &[S_SWEEP_EXTRA, ch.slot]);
            for (i, &ts) in stim_times.iter().enumerate() {
                let xt_mult = (0.1 * rx.normal()).exp();
                let xt_lag = 0.03e-3 * rx.normal().clamp(-3.0, 3.0);
                let late_u = rx.uniform();
                let step = ch
                    .artifact_steps
                    .iter()
                    .take_while(|s| s.time_s <= ts)
                    .last()
                    .map_or(1.0, |s| s.factor);
                let art = 1.0 + 0.05 * r.normal();
                let m_mult = (0.05 * r.normal()).exp();
                let m_jit = 0.05e-3 * r.normal().clamp(-3.0, 3.0);
                let f_present = r.chance(0.5);
                let f_onset = r.range(-0.5e-3, 1.5e-3);
                let f_dur = r.range(4.0e-3, 8.0e-3);
                let f_amp = r.range(0.6, 1.4);
                let lsr_mult = ch.lsr.as_ref().map_or(1.0, |l| r.lognormal_unit_mean(l.cv));
                let lsr_jit = r.normal().clamp(-3.0, 3.0);
                let lsr_dur = (1.0 + 0.08 * r.normal()).clamp(0.8, 1.2);
                let after_present = r.chance(0.6);
                let after_end = r.range(22.0e-3, 35.0e-3);
                let swing_u = r.uniform();
                let shape_seed = r.next_u64();
                let dl = f64::from(direct_level[i]);
                let mut s = ChannelStim {
                    artifact_scale: (art * step) as f32,
                    shape_seed,
                    ..Default::default()
                };
                if let Some(x) = &ch.crosstalk {
                    let (m, l) = if cfg.tidy {
                        (1.0, 0.0)
                    } else {
                        (xt_mult, xt_lag)
                    };
                    s.xt_gain = (x.gain * m) as f32;
                    s.xt_lag_s = (x.lag_s + l).max(0.0) as f32;
                }
                if let Some(m) = &ch.m {
                    s.m_uv = (m.p2p_uv * m_mult * dl) as f32;
                    s.m_onset_s = (m.onset_s + m_jit) as f32;
                    if f_present {
                        s.f_uv = (m.p2p_uv * m_mult * dl * m.f_ratio * f_amp) as f32;
                        s.f_onset_s = (m.f_onset_s + f_onset) as f32;
                        s.f_dur_s = f_dur as f32;
                    }
                }
                if let Some(l) = &ch.lsr {
                    let level = course.lsr_level(l.index, ts) * course.swing(l.index, ts, swing_u);
                    if level > 0.0 {
                        s.lsr_uv = (l.p2p_uv * level * lsr_mult) as f32;
                        s.lsr_onset_s = (l.onset_s + l.jitter_s * lsr_jit) as f32;
                        s.lsr_dur_s = (l.duration_s * lsr_dur) as f32;
                        if l.afterdischarge && after_present {
                            s.after_end_s = after_end as f32;
                        }
                        s.late = l.late.is_some_and(|(_, p)| late_u < p);
                    }
                }
                stim[i * nch + c] = s;
            }
        }

        // The case's episodes (streams 5, 6, 7: see `episodes`).
        let emg: Vec<(usize, u64)> = channels
            .iter()
            .enumerate()
            .filter(|(_, ch)| ch.role != SimRole::Trigger)
            .map(|(c, ch)| (c, ch.slot))
            .collect();
        let bursts = episodes::draw_bursts(seed, d, cfg.bursts_per_min, &emg);
        let pops = episodes::draw_pops(seed, d, cfg.electrode_pops, &emg);
        let cautery = episodes::draw_cautery(seed, d, cfg.cautery, &cfg.cautery_times);
        let frames = (d * fs).round() as u64;
        let gaps = episodes::gaps_in_frames(&cfg.gaps, fs, frames);

        Self {
            fs,
            duration_s: d,
            frames,
            branch,
            intensity_ma,
            channels,
            direct_source,
            lsr_channels,
            direct_channels,
            stim_times,
            stim,
            direct_level,
            bursts,
            pops,
            cautery,
            gaps,
            course,
            mains_hz: f64::from(cfg.mains_hz),
            drift_hz,
            noise_fir: noise_filter(fs, 3000.0_f64.min(0.45 * fs)),
            noise_uv: cfg.noise_uv,
        }
    }

    pub(crate) fn channel_count(&self) -> usize {
        self.channels.len()
    }

    pub(crate) fn params(&self, stim: usize, channel: usize) -> Option<&ChannelStim> {
        self.stim.get(stim * self.channels.len() + channel)
    }

    /// The LSR component of one sweep on one channel (empty when there is none).
    pub(crate) fn lsr_wave(&self, stim: usize, channel: usize) -> Wave {
        let (Some(p), Some(ch)) = (self.params(stim, channel), self.channels.get(channel)) else {
            return Wave::EMPTY;
        };
        match &ch.lsr {
            Some(l) if p.lsr_uv > 0.0 => {
                let mut r = Rng::new(mix64(p.shape_seed ^ 2));
                waveform::lsr_wave(
                    &l.pattern,
                    f64::from(p.lsr_onset_s),
                    f64::from(p.lsr_dur_s),
                    f64::from(p.lsr_uv),
                    f64::from(p.after_end_s),
                    l.late.filter(|_| p.late).map(|(c, _)| c),
                    &mut r,
                )
            }
            _ => Wave::EMPTY,
        }
    }

    /// The M response of one sweep on a direct channel (empty elsewhere).
    pub(crate) fn m_wave(&self, stim: usize, channel: usize) -> Wave {
        let (Some(p), Some(ch)) = (self.params(stim, channel), self.channels.get(channel)) else {
            return Wave::EMPTY;
        };
        match &ch.m {
            Some(m) if p.m_uv > 0.0 => {
                m.pattern
                    .wave(f64::from(p.m_onset_s), m.duration_s, f64::from(p.m_uv))
            }
            _ => Wave::EMPTY,
        }
    }

    /// The F-wave of one sweep on a direct channel (empty when this sweep has none).
    pub(crate) fn f_wave(&self, stim: usize, channel: usize) -> Wave {
        match self.params(stim, channel) {
            Some(p) if p.f_uv > 0.0 => {
                let mut r = Rng::new(mix64(p.shape_seed ^ 1));
                waveform::f_wave(
                    f64::from(p.f_onset_s),
                    f64::from(p.f_dur_s),
                    f64::from(p.f_uv),
                    &mut r,
                )
            }
            _ => Wave::EMPTY,
        }
    }

    /// The stimulus artifact of one sweep on one channel (`artifact_scale` scales the
    /// channel's own: sweep-to-sweep variation and intensity steps).
    pub(crate) fn artifact(&self, stim: usize, channel: usize) -> Artifact {
        match (self.params(stim, channel), self.channels.get(channel)) {
            (Some(p), Some(ch)) if ch.role != SimRole::Trigger => {
                let k = f64::from(p.artifact_scale);
                Artifact {
                    amp_uv: ch.artifact.amp_uv * k,
                    tail_uv: ch.artifact.tail_uv * k,
                    hold_s: if k.abs() >= 0.8 {
                        ch.artifact.hold_s
                    } else {
                        0.0
                    },
                    ..ch.artifact
                }
            }
            _ => Artifact::NONE,
        }
    }

    /// The crosstalk of the direct response onto one channel for one sweep: the direct
    /// channel's M response and F-wave as this electrode sees them (empty when none).
    pub(crate) fn crosstalk_wave(&self, stim: usize, channel: usize) -> (Wave, Wave) {
        let (Some(p), Some(ch), Some(src)) = (
            self.params(stim, channel),
            self.channels.get(channel),
            self.direct_source,
        ) else {
            return (Wave::EMPTY, Wave::EMPTY);
        };
        let Some(x) = &ch.crosstalk else {
            return (Wave::EMPTY, Wave::EMPTY);
        };
        let (g, lag) = (f64::from(p.xt_gain), f64::from(p.xt_lag_s));
        let m =
            self.m_wave(stim, src)
                .distorted(lag, x.stretch, g, &x.shape, x.tail_rel, x.tail_end_s);
        let f = self
            .f_wave(stim, src)
            .distorted(lag, x.stretch, g, &[], 0.0, 0.0);
        (m, f)
    }

    /// Physical frames lost in gaps before physical frame position `x` (fractional).
    pub(crate) fn lost_before(&self, x: f64) -> u64 {
        self.gaps
            .iter()
            .filter(|g| (g.end_frame as f64) <= x)
            .map(|g| g.end_frame - g.start_frame)
            .sum()
    }

    /// Whether physical frame position `x` falls inside a gap.
    pub(crate) fn in_gap(&self, x: f64) -> bool {
        let f = x.floor();
        self.gaps
            .iter()
            .any(|g| f >= g.start_frame as f64 && f < g.end_frame as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::Scenario;

    #[test]
    fn noise_filter_has_unit_energy_and_cuts_above_the_corner() {
        for fs in [5000.0, 10_000.0, 44_100.0, 48_000.0] {
            let fc = 3000.0_f64.min(0.45 * fs);
            let h = noise_filter(fs, fc);
            assert!((h.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-12);
            let gain = |f: f64| {
                let (mut re, mut im) = (0.0, 0.0);
                for (k, x) in h.iter().enumerate() {
                    re += x * (TAU * f / fs * k as f64).cos();
                    im += x * (TAU * f / fs * k as f64).sin();
                }
                (re * re + im * im).sqrt()
            };
            let pass = gain(0.2 * fc);
            if fs >= 20_000.0 {
                // Well above the corner the shaped noise is at least 40 dB down.
                assert!(gain(2.0 * fc) < 0.01 * pass, "fs {fs}");
            }
            assert!(gain(fc) < 0.75 * pass && gain(fc) > 0.25 * pass, "fs {fs}");
        }
    }

    #[test]
    fn channels_follow_the_anatomy_and_mentalis_beats_oris() {
        for seed in 0..30 {
            let cfg = SimConfig {
                seed,
                extra_channels: vec![Muscle::Frontalis, Muscle::Nasalis],
                ..SimConfig::default()
            };
            let p = Physiology::new(&cfg);
            let roles: Vec<SimRole> = p.channels.iter().map(|c| c.role).collect();
            assert_eq!(
                roles,
                [
                    SimRole::Direct,
                    SimRole::Lsr,
                    SimRole::Lsr,
                    SimRole::Direct,
                    SimRole::Other,
                    SimRole::Trigger
                ]
            );
            assert_eq!(p.lsr_channels, vec![1, 2]);
            assert_eq!(p.direct_channels, vec![0, 3]);
            assert_eq!(p.direct_source, Some(0));
            let oris = p.channels[1].lsr.as_ref().unwrap().p2p_uv;
            let ment = p.channels[2].lsr.as_ref().unwrap().p2p_uv;
            assert!(ment > oris, "seed {seed}");
            let mean_mains = p.channels[..5].iter().map(|c| c.mains_uv).sum::<f64>() / 5.0;
            assert!((mean_mains - cfg.mains_uv).abs() < 1e-9);
        }
    }

    #[test]
    fn adding_channels_does_not_change_the_existing_ones_physiology() {
        let a = Physiology::new(&SimConfig::quiet(Scenario::Gradual, 9, 10_000.0, 120.0));
        let cfg = SimConfig {
            extra_channels: vec![Muscle::Nasalis],
            trigger: false,
            ..SimConfig::quiet(Scenario::Gradual, 9, 10_000.0, 120.0)
        };
        let b = Physiology::new(&cfg);
        for i in 0..a.stim_times.len() {
            for c in 0..3 {
                assert_eq!(a.params(i, c), b.params(i, c));
            }
        }
    }
}
