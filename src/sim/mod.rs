//! The simulated patient: a seeded, deterministic source of realistic multichannel facial
//! EMG during a microvascular decompression, with the ground truth to score a detector.
//!
//! It is the default source of the program (`demo`), the source of test fixtures, and the
//! yardstick of the detector. [`SimPatient`] implements [`crate::source::Source`]; its
//! [`Truth`] says what really happened.
//!
//! # The model
//! The zygomatic branch is stimulated (0.2 ms pulses, about 1 Hz, a little timing jitter so
//! stimuli fall between samples). Channels, in order: `orbicularis_oculi` (the stimulated
//! branch's muscle: direct M response), `orbicularis_oris` and `mentalis` (the other
//! branch: where the lateral spread response appears), optional extra muscles, and a
//! `trigger` channel carrying the stimulator's 1 ms sync pulse. Roles come from the shared
//! anatomy map ([`crate::anatomy`]). Every EMG channel is the sum of:
//! - amplifier/electrode noise: Gaussian, band-limited to min(3 kHz, 0.45 fs), RMS as set;
//! - mains at 50 or 60 Hz with 3rd and 5th harmonics (per-channel share and phase) and a
//!   slow baseline drift;
//! - the stimulus artifact: a charge-balanced biphasic pulse, 1-3 mV on the LSR side and up
//!   to 10 mV on the stimulated side (it may clip for a fraction of a millisecond), decaying
//!   within 1-2 ms;
//! - on direct channels the M response (1-5 mV p2p, onset 2.5-3.5 ms, 6-8 ms, bi- or
//!   triphasic) and, in about half the sweeps, a variable F-wave (onset about 9 ms, 2-5 % of
//!   M); on the other channels a scaled (1-10 %), slightly delayed copy of both (crosstalk);
//! - on LSR channels the LSR: onset 9-10.5 ms per patient and channel with 0.2-0.5 ms sweep
//!   jitter, 8-12 ms long, biphasic or polyphasic (3-5 phases) with a clear first
//!   half-cycle of 1-2 ms, amplitude log-normal around `lsr_uv` (mentalis larger than oris),
//!   sweep-to-sweep CV 20-40 %, sometimes an afterdischarge up to 35 ms; its level over the
//!   case follows the [`Scenario`];
//! - spontaneous EMG bursts (50-500 ms of 50-500 µV motor-unit potentials at 10-40 Hz),
//!   electrode pops that saturate one channel, and electrocautery episodes (2-10 s of
//!   broadband noise that saturates every EMG channel; much weaker on the trigger channel
//!   so stimulus timing survives).
//!
//! Samples are those of a 16-bit amplifier: integer counts of 0.2 µV (±6.55 mV), clipped
//! at the rails, delivered as `f32`.
//!
//! # Design
//! - *Physiology is drawn in continuous time from separate seeded streams* (see
//!   [`rng`](self::rng)), so the same seed gives the same stimuli, amplitudes, latencies and
//!   episodes at 5 kHz and at 48 kHz; only the sampling differs.
//! - *Samples are pure functions of their frame number* (counter-based noise), so the
//!   stream does not depend on block sizes, memory stays flat for a 4-hour case (only the
//!   per-stimulus lists are kept), and the truth can find real clipping by rendering just
//!   the suspect samples.
//! - *The truth is computed at construction*; it never looks at the noisy stream except
//!   for clipping.
//!
//! # Sources of the numbers
//! The clinical numbers (latencies, amplitudes, durations, prevalence, courses of
//! disappearance, anesthesia effects, artifact and noise levels) follow the project's
//! physiology notes: Lee et al. 1992 and Isu et al. 1996 for the ~10 ms onset, Misawa et
//! al. 2006 and Ishikawa et al. 1996 for the afterdischarge, the facial F-wave normative
//! data (Clin Neurophysiol 2018), Pan et al. 2025 for mentalis > orbicularis oris,
//! Wilkinson et al. 2015 and Choe 2013 for anesthesia and blockade, and the published
//! courses of disappearance (abrupt, gradual with instability, early, partial,
//! persistent, reappearance). Where the literature is silent the values are engineering
//! estimates, each of them a setting or a documented constant.

mod config;
mod episodes;
pub mod patients;
mod physiology;
mod render;
mod rng;
mod scenario;
pub mod score;
mod truth;
mod waveform;

use std::sync::Arc;

pub use config::{
    Episode, SimConfig, MAX_CHANNELS, RAIL_HIGH, RAIL_LOW, UV_PER_COUNT, VOLTS_PER_COUNT,
};
pub use scenario::Scenario;
pub use truth::{
    BurstTruth, ChangeKind, ChannelTruth, Contamination, GapTruth, PopTruth, SaturationTruth,
    SimRole, Span, StateChange, StimulusTruth, SweepTruth, Truth, ARTIFACT_CLIP_MS,
    DEFAULT_POST_MS, DEFAULT_PRE_MS,
};

use crate::model::{Marker, SampleFormat};
use crate::source::{Source, SourceError, SourceEvent, SourceInfo};

use physiology::{Physiology, PULSE_WIDTH_S};
use render::Renderer;

/// Why a simulation cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulation settings: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// The simulated patient: a [`Source`] of samples plus its ground truth.
pub struct SimPatient {
    cfg: SimConfig,
    info: SourceInfo,
    phys: Arc<Physiology>,
    truth: Truth,
    render: Renderer,
    /// Next stream frame (gaps excluded).
    out_frame: u64,
    next_gap: usize,
    next_stim_event: usize,
}

impl SimPatient {
    /// Validates the settings and plans the whole case (cheap even for hours).
    pub fn new(cfg: SimConfig) -> Result<Self, SimError> {
        cfg.validate()?;
        let phys = Arc::new(Physiology::new(&cfg));
        let truth = Truth::new(phys.clone(), cfg.scenario, cfg.seed);
        let info = SourceInfo {
            sample_rate_hz: cfg.sample_rate_hz,
            channels: phys.channels.iter().map(|c| c.info.clone()).collect(),
            sample_format: SampleFormat::I16,
            description: format!(
                "simulated patient (scenario {}, seed {})",
                cfg.scenario, cfg.seed
            ),
            stimulus_events: cfg.stimulus_events,
            total_frames: Some(truth.total_frames),
        };
        let render = Renderer::new(phys.clone());
        Ok(Self {
            cfg,
            info,
            phys,
            truth,
            render,
            out_frame: 0,
            next_gap: 0,
            next_stim_event: 0,
        })
    }

    /// What really happened in this case.
    pub fn truth(&self) -> &Truth {
        &self.truth
    }

    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }
}

impl std::fmt::Debug for SimPatient {
    /// Short on purpose: the plan of a long case holds tens of thousands of entries.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimPatient")
            .field("description", &self.info.description)
            .field("config", &self.cfg)
            .field("next_frame", &self.out_frame)
            .finish_non_exhaustive()
    }
}

impl Source for SimPatient {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError> {
        let nch = self.phys.channel_count();
        let max = buf.len() / nch;
        if max == 0 {
            return Err(SourceError::Other(format!(
                "simulated patient: a read buffer of {} values cannot hold one frame of {nch} channels",
                buf.len()
            )));
        }
        let mut written = 0;
        while written < max && self.render.position() < self.phys.frames {
            if let Some(g) = self.phys.gaps.get(self.next_gap) {
                if self.render.position() >= g.start_frame {
                    self.render.seek(g.end_frame);
                    events.push(SourceEvent::Gap {
                        frame: self.out_frame,
                        lost_frames: g.end_frame - g.start_frame,
                    });
                    self.next_gap += 1;
                    continue;
                }
            }
            if self.cfg.stimulus_events {
                while let Some(s) = self.truth.stimuli.get(self.next_stim_event) {
                    if s.frame_time.is_nan() {
                        self.next_stim_event += 1;
                        continue;
                    }
                    if s.frame_time >= (self.out_frame + 1) as f64 {
                        break;
                    }
                    events.push(SourceEvent::Stimulus {
                        frame_time: s.frame_time,
                        branch: s.branch,
                        intensity_ma: s.intensity_ma,
                        pulse_width_s: PULSE_WIDTH_S as f32,
                    });
                    self.next_stim_event += 1;
                }
            }
            self.render
                .render_frame(&mut buf[written * nch..(written + 1) * nch]);
            written += 1;
            self.out_frame += 1;
        }
        Ok(written)
    }

    fn markers(&self) -> Vec<Marker> {
        self.truth.markers.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Branch, Muscle, Role};

    /// Reads the whole stream with block sizes cycling through `blocks` (in frames).
    fn read_all(p: &mut SimPatient, blocks: &[usize]) -> (Vec<f32>, Vec<SourceEvent>) {
        let nch = p.info().channel_count();
        let mut out = Vec::new();
        let mut events = Vec::new();
        let mut buf = vec![0.0; blocks.iter().max().unwrap() * nch];
        for k in 0.. {
            let b = blocks[k % blocks.len()];
            let n = p.read(&mut buf[..b * nch], &mut events).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n * nch]);
        }
        (out, events)
    }

    fn busy(seed: u64, rate: f64, duration: f64) -> SimConfig {
        SimConfig {
            seed,
            sample_rate_hz: rate,
            duration_s: duration,
            bursts_per_min: 20.0,
            cautery: 1,
            electrode_pops: 2,
            stimulus_events: true,
            gaps: vec![Episode {
                start_s: 5.0,
                duration_s: 0.1,
            }],
            extra_channels: vec![Muscle::Nasalis],
            ..SimConfig::default()
        }
    }

    fn channel(v: &[f32], nch: usize, c: usize) -> Vec<f64> {
        v.chunks(nch)
            .map(|f| f64::from(f[c]) * UV_PER_COUNT)
            .collect()
    }

    #[test]
    fn channels_and_calibration_are_as_documented() {
        let p = SimPatient::new(SimConfig::default()).unwrap();
        let info = p.info();
        let labels: Vec<&str> = info.channels.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "orbicularis_oculi",
                "orbicularis_oris",
                "mentalis",
                "trigger"
            ]
        );
        assert_eq!(info.channels[0].muscle, Muscle::OrbicularisOculi);
        assert_eq!(info.channels[3].role, Role::Trigger);
        assert_eq!(info.channels[3].trigger_branch, Some(Branch::Zygomatic));
        for c in &info.channels {
            assert_eq!(c.volts_per_unit, 0.2e-6);
            assert_eq!(c.offset_volts, 0.0);
            assert_eq!(c.range_units, Some((-32768.0, 32767.0)));
        }
        assert_eq!(info.sample_format, SampleFormat::I16);
        assert_eq!(info.total_frames, Some(6_000_000));
        assert!(info.description.contains("abrupt") && info.description.contains("seed 1"));
        assert!(!info.stimulus_events);
        assert_eq!(p.markers(), p.truth().markers);

        let cfg = SimConfig {
            trigger: false,
            extra_channels: vec![Muscle::Frontalis, Muscle::Nasalis, Muscle::Frontalis],
            ..SimConfig::default()
        };
        let p = SimPatient::new(cfg).unwrap();
        let labels: Vec<&str> = p.info().channels.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "orbicularis_oculi",
                "orbicularis_oris",
                "mentalis",
                "frontalis",
                "nasalis",
                "frontalis_2"
            ]
        );
        assert_eq!(p.truth().direct_channels, vec![0, 3, 5]);
        assert!(SimPatient::new(SimConfig {
            sample_rate_hz: 50_000.0,
            ..SimConfig::default()
        })
        .is_err());
    }

    #[test]
    fn same_seed_same_stream_whatever_the_block_sizes() {
        let cfg = busy(3, 5000.0, 12.0);
        let (a, ea) = read_all(&mut SimPatient::new(cfg.clone()).unwrap(), &[1000]);
        let (b, eb) = read_all(
            &mut SimPatient::new(cfg.clone()).unwrap(),
            &[1, 7, 333, 4096, 2],
        );
        assert_eq!(a.len(), b.len());
        assert!(a == b, "samples differ with block sizes");
        assert_eq!(ea, eb);
        assert!(a
            .iter()
            .all(|x| x.fract() == 0.0 && (-32768.0..=32767.0).contains(x)));
        let (c, _) = read_all(
            &mut SimPatient::new(SimConfig { seed: 4, ..cfg }).unwrap(),
            &[1000],
        );
        assert!(a != c, "another seed gives another patient");
    }

    #[test]
    fn the_physiology_does_not_depend_on_the_sample_rate() {
        let reference = SimPatient::new(busy(8, 10_000.0, 120.0)).unwrap();
        let r = reference.truth();
        for rate in [5000.0, 44_100.0, 48_000.0] {
            let p = SimPatient::new(busy(8, rate, 120.0)).unwrap();
            let t = p.truth();
            assert_eq!(t.stimuli.len(), r.stimuli.len());
            for (a, b) in t.stimuli.iter().zip(&r.stimuli) {
                assert_eq!(a.time_s, b.time_s);
                assert_eq!(a.direct_p2p_uv, b.direct_p2p_uv);
            }
            for i in 0..r.stimuli.len() {
                for c in [1, 2] {
                    let (x, y) = (t.sweep(i, c).unwrap(), r.sweep(i, c).unwrap());
                    assert_eq!(x.lsr_p2p_uv, y.lsr_p2p_uv);
                    assert_eq!(x.onset_ms.to_bits(), y.onset_ms.to_bits());
                    assert_eq!(
                        x.contamination.is_some(),
                        y.contamination.is_some(),
                        "stim {i} ch {c} at {rate}"
                    );
                }
            }
            assert_eq!(t.markers, r.markers);
            assert_eq!(t.bursts, r.bursts);
            assert_eq!(t.cautery, r.cautery);
            assert_eq!(t.pops, r.pops);
            assert_eq!(t.changes, r.changes);
            // The waveform itself is the same function of time.
            let i = 20;
            let w48 = t.lsr_waveform(i, 2, 48_000.0, 0.0, 40.0);
            let w10 = r.lsr_waveform(i, 2, 48_000.0, 0.0, 40.0);
            assert_eq!(w48, w10);
        }
    }

    /// Samples of one channel in the quiet part of each sweep (100-900 ms after each
    /// stimulus), as whole windows of `len` samples.
    fn quiet_windows(p: &SimPatient, v: &[f32], c: usize, len: usize) -> Vec<Vec<f64>> {
        let nch = p.info().channel_count();
        let fs = p.info().sample_rate_hz;
        let x = channel(v, nch, c);
        p.truth()
            .stimuli
            .iter()
            .map(|s| (s.time_s * fs) as usize + (0.1 * fs) as usize)
            .filter(|&a| a + len <= x.len())
            .map(|a| x[a..a + len].to_vec())
            .collect()
    }

    #[test]
    fn noise_rms_comes_out_as_configured_and_band_limited() {
        for (rate, noise, secs) in [(10_000.0, 8.0, 20.0), (48_000.0, 3.0, 10.0)] {
            let cfg = SimConfig {
                noise_uv: noise,
                mains_uv: 0.0,
                ..SimConfig::quiet(Scenario::Persistent, 2, rate, secs)
            };
            let mut p = SimPatient::new(cfg).unwrap();
            let (v, _) = read_all(&mut p, &[4096]);
            let len = (0.8 * rate) as usize;
            for c in 0..3 {
                let w = quiet_windows(&p, &v, c, len);
                let all: Vec<f64> = w.concat();
                let rms = (all.iter().map(|x| x * x).sum::<f64>() / all.len() as f64).sqrt();
                assert!(
                    (rms / noise - 1.0).abs() < 0.03,
                    "rate {rate} ch {c}: rms {rms}"
                );
                // Band-limited to 3 kHz: at 48 kHz successive samples are strongly correlated
                // (white noise would give a difference RMS of sqrt(2) x RMS).
                if rate > 40_000.0 {
                    let d: Vec<f64> = w
                        .iter()
                        .flat_map(|x| x.windows(2).map(|p| p[1] - p[0]).collect::<Vec<_>>())
                        .collect();
                    let drms = (d.iter().map(|x| x * x).sum::<f64>() / d.len() as f64).sqrt();
                    assert!(drms < 0.4 * rms, "difference rms {drms} vs {rms}");
                }
            }
        }
    }

    #[test]
    fn mains_amplitude_and_harmonics_come_out_as_configured() {
        for hz in [50u32, 60] {
            let rate = 10_000.0;
            let cfg = SimConfig {
                noise_uv: 2.0,
                mains_uv: 50.0,
                mains_hz: hz,
                ..SimConfig::quiet(Scenario::Abrupt, 6, rate, 10.0)
            };
            let mut p = SimPatient::new(cfg).unwrap();
            let (v, _) = read_all(&mut p, &[3000]);
            let len = (0.8 * rate) as usize; // a whole number of cycles of 50, 60 and harmonics
            let mut fundamentals = Vec::new();
            for c in 0..3 {
                let w = quiet_windows(&p, &v, c, len);
                let amp = |h: f64| {
                    let mut sum = 0.0;
                    for win in &w {
                        let (mut a, mut b) = (0.0, 0.0);
                        for (k, x) in win.iter().enumerate() {
                            // Phase relative to absolute time only matters through |a, b|.
                            let ph = std::f64::consts::TAU * h * f64::from(hz) * k as f64 / rate;
                            a += x * ph.sin();
                            b += x * ph.cos();
                        }
                        sum += 2.0 * a.hypot(b) / len as f64;
                    }
                    sum / w.len() as f64
                };
                let (a1, a3, a5) = (amp(1.0), amp(3.0), amp(5.0));
                let want = f64::from(p.truth().channels[c].mains_uv);
                assert!(
                    (a1 / want - 1.0).abs() < 0.03,
                    "{hz} Hz ch {c}: {a1} vs {want}"
                );
                assert!(
                    (0.18..=0.42).contains(&(a3 / a1)),
                    "3rd harmonic ratio {}",
                    a3 / a1
                );
                assert!(
                    (0.08..=0.22).contains(&(a5 / a1)),
                    "5th harmonic ratio {}",
                    a5 / a1
                );
                fundamentals.push(a1);
            }
            let mean = fundamentals.iter().sum::<f64>() / 3.0;
            assert!((mean / 50.0 - 1.0).abs() < 0.03, "mean mains {mean}");
        }
    }

    /// Rising half-height crossings of the trigger channel, in frames (linear interpolation).
    fn trigger_edges(v: &[f32], nch: usize, c: usize) -> Vec<f64> {
        let x = channel(v, nch, c);
        let half = 10_000.0 * UV_PER_COUNT;
        let mut armed = true;
        let mut out = Vec::new();
        for k in 1..x.len() {
            if armed && x[k - 1] < half && x[k] >= half {
                out.push((k - 1) as f64 + (half - x[k - 1]) / (x[k] - x[k - 1]));
                armed = false;
            } else if x[k] < 0.5 * half {
                armed = true;
            }
        }
        out
    }

    #[test]
    fn trigger_edges_mark_the_stimuli_to_a_fraction_of_a_sample() {
        for rate in [5000.0, 44_100.0] {
            let cfg = SimConfig {
                cautery_times: vec![Episode {
                    start_s: 4.0,
                    duration_s: 3.0,
                }],
                ..SimConfig::quiet(Scenario::Abrupt, 12, rate, 12.0)
            };
            let mut p = SimPatient::new(cfg).unwrap();
            let (v, _) = read_all(&mut p, &[5000]);
            let edges = trigger_edges(&v, 4, 3);
            let stims = &p.truth().stimuli;
            assert_eq!(edges.len(), stims.len(), "rate {rate}");
            let mut fractions = Vec::new();
            for (e, s) in edges.iter().zip(stims) {
                let err = (e - s.frame_time).abs();
                let in_cautery = s.time_s > 3.9 && s.time_s < 7.1;
                let tol = if in_cautery { 0.25 } else { 0.01 };
                assert!(
                    err < tol,
                    "rate {rate}: edge {e} vs stimulus {} (error {err})",
                    s.frame_time
                );
                fractions.push(s.frame_time.fract());
            }
            // Stimuli fall between samples, not on them.
            assert!(fractions.iter().any(|f| (0.2..0.8).contains(f)));
        }
    }

    #[test]
    fn electrocautery_saturates_the_emg_but_not_the_trigger() {
        let cfg = SimConfig {
            cautery_times: vec![Episode {
                start_s: 3.0,
                duration_s: 2.0,
            }],
            ..SimConfig::quiet(Scenario::Persistent, 1, 5000.0, 10.0)
        };
        let mut p = SimPatient::new(cfg).unwrap();
        let (v, _) = read_all(&mut p, &[1024]);
        for c in 0..4 {
            let x: Vec<f32> = v.chunks(4).skip(15_500).take(9_000).map(|f| f[c]).collect();
            let railed = x.iter().filter(|&&s| s <= -32768.0 || s >= 32767.0).count();
            if c < 3 {
                assert!(
                    railed > x.len() / 50,
                    "ch {c}: {railed} samples at the rails"
                );
            } else {
                assert_eq!(railed, 0);
                assert!(x.iter().all(|s| s.abs() < 25_000.0));
            }
        }
        let t = p.truth();
        let i = t.first_stimulus_after(3.5).unwrap();
        assert_eq!(
            t.sweep(i, 1).unwrap().contamination,
            Some(Contamination::Cautery)
        );
        let j = t.first_stimulus_after(7.0).unwrap();
        assert_eq!(t.sweep(j, 1).unwrap().contamination, None);
    }

    #[test]
    fn gaps_drop_frames_and_are_announced() {
        let gap = Episode {
            start_s: 5.0,
            duration_s: 1.2,
        };
        let base = SimConfig {
            stimulus_events: true,
            ..SimConfig::quiet(Scenario::Abrupt, 21, 5000.0, 12.0)
        };
        let (full, full_events) = read_all(&mut SimPatient::new(base.clone()).unwrap(), &[777]);
        let mut p = SimPatient::new(SimConfig {
            gaps: vec![gap],
            ..base
        })
        .unwrap();
        let (v, events) = read_all(&mut p, &[777]);
        let nch = 4;
        assert_eq!(v.len() / nch, 60_000 - 6000);
        assert_eq!(p.info().total_frames, Some(54_000));
        let gaps: Vec<&SourceEvent> = events
            .iter()
            .filter(|e| matches!(e, SourceEvent::Gap { .. }))
            .collect();
        assert_eq!(
            gaps,
            [&SourceEvent::Gap {
                frame: 25_000,
                lost_frames: 6000
            }]
        );
        assert_eq!(p.truth().gaps[0].frame, 25_000);
        // Before the gap the streams agree; after it, they agree shifted by the lost frames.
        assert_eq!(&v[..25_000 * nch], &full[..25_000 * nch]);
        assert_eq!(&v[25_000 * nch..], &full[31_000 * nch..]);
        // Stimulus events: the same as without the gap, minus those in it, shifted after it.
        let stim = |e: &&SourceEvent| matches!(e, SourceEvent::Stimulus { .. });
        let a: Vec<f64> = full_events.iter().filter(stim).map(|e| e.frame()).collect();
        let b: Vec<f64> = events.iter().filter(stim).map(|e| e.frame()).collect();
        let expected: Vec<f64> = a
            .iter()
            .filter(|&&f| !(25_000.0..31_000.0).contains(&f.floor()))
            .map(|&f| if f >= 31_000.0 { f - 6000.0 } else { f })
            .collect();
        assert_eq!(b, expected);
        assert!(a.len() > b.len());
        let t = p.truth();
        let lost = t.stimuli.iter().find(|s| s.frame_time.is_nan()).unwrap();
        assert!(lost.time_s >= 5.0 && lost.time_s < 6.2);
        assert_eq!(
            t.sweep(lost.index as usize, 2).unwrap().contamination,
            Some(Contamination::Gap)
        );
        // Events come in frame order, each inside the block that reported it.
        assert!(events.windows(2).all(|w| w[0].frame() <= w[1].frame()));
    }

    #[test]
    fn stimulus_events_only_when_asked_and_matching_the_truth() {
        let cfg = SimConfig::quiet(Scenario::Abrupt, 2, 5000.0, 10.0);
        let (_, ev) = read_all(&mut SimPatient::new(cfg.clone()).unwrap(), &[500]);
        assert!(ev.is_empty());
        let mut p = SimPatient::new(SimConfig {
            stimulus_events: true,
            ..cfg
        })
        .unwrap();
        assert!(p.info().stimulus_events);
        let mut events = Vec::new();
        let mut buf = vec![0.0; 4 * 1000];
        let mut start = 0u64;
        loop {
            let before = events.len();
            let n = p.read(&mut buf, &mut events).unwrap() as u64;
            if n == 0 {
                break;
            }
            for e in &events[before..] {
                assert!(e.frame() >= start as f64 && e.frame() < (start + n) as f64);
            }
            start += n;
        }
        let t = p.truth();
        assert_eq!(events.len(), t.stimuli.len());
        for (e, s) in events.iter().zip(&t.stimuli) {
            match *e {
                SourceEvent::Stimulus {
                    frame_time,
                    branch,
                    intensity_ma,
                    pulse_width_s,
                } => {
                    assert_eq!(frame_time, s.frame_time);
                    assert_eq!(branch, Branch::Zygomatic);
                    assert!((10.0..20.0).contains(&intensity_ma));
                    assert_eq!(pulse_width_s, 0.2e-3_f32);
                }
                _ => panic!("unexpected event {e:?}"),
            }
        }
    }

    #[test]
    fn end_of_stream_and_bad_buffers() {
        let mut p = SimPatient::new(SimConfig::quiet(Scenario::Abrupt, 1, 5000.0, 10.0)).unwrap();
        let mut ev = Vec::new();
        assert!(p.read(&mut [0.0; 3], &mut ev).is_err());
        let mut buf = vec![0.0; 4 * 60_000];
        assert_eq!(p.read(&mut buf, &mut ev).unwrap(), 50_000);
        assert_eq!(p.read(&mut buf, &mut ev).unwrap(), 0);
        assert_eq!(p.read(&mut buf, &mut ev).unwrap(), 0);
    }

    #[test]
    fn a_four_hour_case_is_planned_cheaply_and_streams() {
        let cfg = SimConfig {
            duration_s: 4.0 * 3600.0,
            sample_rate_hz: 48_000.0,
            ..SimConfig::default()
        };
        let mut p = SimPatient::new(cfg).unwrap();
        let t = p.truth();
        assert!(
            (14_300..=14_400).contains(&t.stimuli.len()),
            "{}",
            t.stimuli.len()
        );
        assert_eq!(t.total_frames, 4 * 3600 * 48_000);
        let pad = t.marker_time("pad placed").unwrap();
        assert_eq!(pad, 7200.0);
        let mut buf = vec![0.0; 4 * 48_000];
        let mut ev = Vec::new();
        assert_eq!(p.read(&mut buf, &mut ev).unwrap(), 48_000);
    }
}
