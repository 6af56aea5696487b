//! The case's episodes, drawn once from the seed: spontaneous EMG bursts, electrode pops,
//! electrocautery and lost-sample gaps.
//!
//! They are the things a monitor must not be fooled by. Each is planned in continuous time
//! (so it is the same at every sample rate) and kept as a short list; the renderer evaluates
//! them sample by sample and the ground truth reports them as contamination.
//!
//! - Bursts: a renewal process per EMG channel (never two at once on a channel), 50-500 ms
//!   of 1-3 motor units firing at 10-40 Hz with triphasic potentials of 50-500 µV.
//! - Pops: a 10-25 mV step that decays over 50-200 ms on one channel, after the baseline:
//!   it saturates the amplifier.
//! - Electrocautery: 2-10 s of broadband noise (shaped by a slow on/off modulation) during
//!   the opening and the closure, when surgeons use it, plus any episodes given.
//! - Gaps: given episodes of lost samples, converted to frames.

use std::f64::consts::TAU;

use super::config::Episode;
use super::rng::Rng;
use super::waveform::Wave;

/// Longest motor-unit potential, seconds.
pub(crate) const MUAP_MAX_S: f64 = 4.5e-3;
/// Most spikes one burst can hold (3 units x 0.5 s x 40 Hz / 0.8, plus margin).
pub(crate) const MAX_BURST_SPIKES: usize = 96;
/// Rise time of an electrode pop, seconds.
const POP_RISE_S: f64 = 1.0e-4;
/// Raised-cosine on/off ramp of an electrocautery episode, seconds.
const CAUTERY_RAMP_S: f64 = 0.03;

// Stream names (the physiology uses the others).
const S_BURSTS: u64 = 5;
const S_POPS: u64 = 6;
const S_CAUTERY: u64 = 7;

/// One motor unit of a spontaneous burst.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct MuapUnit {
    pub rate_hz: f64,
    pub p2p_uv: f64,
    pub sign: f64,
    pub mags: [f64; 3],
    pub durs_s: [f64; 3],
}

impl MuapUnit {
    pub(crate) fn wave(&self) -> Wave {
        let mut w = Wave::starting_at(0.0);
        let mut s = self.sign;
        for (m, d) in self.mags.iter().zip(&self.durs_s) {
            w.push(*d, s * m);
            s = -s;
        }
        w.scale_to_p2p(self.p2p_uv);
        w
    }
}

/// A burst of spontaneous EMG on one channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Burst {
    pub channel: usize,
    pub start_s: f64,
    pub duration_s: f64,
    pub units: [MuapUnit; 3],
    pub n_units: usize,
    pub seed: u64,
}

impl Burst {
    /// Last instant the burst can show (spikes start before `start + duration`).
    pub(crate) fn end_s(&self) -> f64 {
        self.start_s + self.duration_s + MUAP_MAX_S
    }
}

/// A large slow electrode artifact on one channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Pop {
    pub channel: usize,
    pub start_s: f64,
    pub amp_uv: f64,
    pub tau_s: f64,
}

impl Pop {
    pub(crate) fn end_s(&self) -> f64 {
        self.start_s + self.tau_s * (self.amp_uv.abs() / 0.5).ln().max(0.0)
    }
    #[inline]
    pub(crate) fn value(&self, t: f64) -> f64 {
        let dt = t - self.start_s;
        if dt < 0.0 || t >= self.end_s() {
            return 0.0;
        }
        self.amp_uv * (1.0 - (-dt / POP_RISE_S).exp()) * (-dt / self.tau_s).exp()
    }
}

/// An electrocautery episode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cautery {
    pub start_s: f64,
    pub end_s: f64,
    pub mod_hz: f64,
    pub mod_phase: f64,
}

impl Cautery {
    /// Envelope (0..1) at `t`.
    #[inline]
    pub(crate) fn envelope(&self, t: f64) -> f64 {
        if t < self.start_s || t >= self.end_s {
            return 0.0;
        }
        let edge = (t - self.start_s).min(self.end_s - t);
        let ramp = if edge < CAUTERY_RAMP_S {
            0.5 - 0.5 * (std::f64::consts::PI * edge / CAUTERY_RAMP_S).cos()
        } else {
            1.0
        };
        ramp * (0.75 + 0.25 * (TAU * self.mod_hz * t + self.mod_phase).sin())
    }
}

/// A run of lost samples, in physical frames `[start_frame, end_frame)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Gap {
    pub episode: Episode,
    pub start_frame: u64,
    pub end_frame: u64,
}

impl Burst {
    /// The spikes of a burst: (time, unit) sorted by time, written into `out`; returns the
    /// count. Deterministic from the burst's seed.
    pub(crate) fn spikes(&self, out: &mut [(f64, u8); MAX_BURST_SPIKES]) -> usize {
        let b = self;
        let mut r = Rng::new(b.seed);
        let mut n = 0;
        let end = b.start_s + b.duration_s;
        for (u, unit) in b.units.iter().enumerate().take(b.n_units) {
            let period = 1.0 / unit.rate_hz;
            let mut t = b.start_s + r.uniform() * period;
            while t < end && n < MAX_BURST_SPIKES {
                out[n] = (t, u as u8);
                n += 1;
                t += period * (1.0 + 0.1 * r.normal()).clamp(0.8, 1.2);
            }
        }
        out[..n].sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        n
    }
}

/// Spontaneous bursts on the EMG channels `emg` (index, stable slot), sorted by start.
pub(crate) fn draw_bursts(seed: u64, d: f64, per_min: f64, emg: &[(usize, u64)]) -> Vec<Burst> {
    let mut bursts = Vec::new();
    if per_min <= 0.0 {
        return bursts;
    }
    let mean_gap = 60.0 / per_min;
    for &(c, slot) in emg {
        let mut r = Rng::stream(seed, &[S_BURSTS, slot]);
        let mut t = r.exponential(mean_gap);
        while t < d {
            let duration_s = r.range(0.05, 0.5);
            let n_units = r.int(1, 3) as usize;
            let units = std::array::from_fn(|_| MuapUnit {
                rate_hz: r.range(10.0, 40.0),
                p2p_uv: r.range(50.0, 500.0),
                sign: r.sign(),
                mags: [r.range(0.2, 0.4), 1.0, r.range(0.3, 0.6)],
                durs_s: [
                    r.range(0.4e-3, 1.5e-3),
                    r.range(0.4e-3, 1.5e-3),
                    r.range(0.4e-3, 1.5e-3),
                ],
            });
            let seed = r.next_u64();
            bursts.push(Burst {
                channel: c,
                start_s: t,
                duration_s,
                units,
                n_units,
                seed,
            });
            t += duration_s + 0.05 + r.exponential(mean_gap);
        }
    }
    bursts.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    bursts
}

/// `count` electrode pops on random EMG channels after the baseline, sorted by start.
pub(crate) fn draw_pops(seed: u64, d: f64, count: u32, emg: &[(usize, u64)]) -> Vec<Pop> {
    let mut r = Rng::stream(seed, &[S_POPS]);
    let last = emg.len().saturating_sub(1) as u32;
    let mut pops: Vec<Pop> = (0..count)
        .filter_map(|_| {
            let start_s = r.range(0.2 * d, 0.95 * d);
            let channel = emg.get(r.int(0, last) as usize)?.0;
            let amp_uv = r.sign() * r.range(10_000.0, 25_000.0);
            Some(Pop {
                channel,
                start_s,
                amp_uv,
                tau_s: r.range(0.05, 0.2),
            })
        })
        .collect();
    pops.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    pops
}

/// `count` electrocautery episodes, alternately during the opening (22-40 % of the case)
/// and the closure (88-98 %), plus the `given` ones, sorted by start.
pub(crate) fn draw_cautery(seed: u64, d: f64, count: u32, given: &[Episode]) -> Vec<Cautery> {
    let mut r = Rng::stream(seed, &[S_CAUTERY]);
    let mut cautery: Vec<Cautery> = Vec::new();
    for i in 0..count {
        let (a, b) = if i % 2 == 0 {
            (0.22 * d, 0.40 * d)
        } else {
            (0.88 * d, 0.98 * d)
        };
        let len = r.range(2.0, 10.0).min(0.9 * (b - a));
        let start_s = r.range(a, b - len);
        let (mod_hz, mod_phase) = (r.range(3.0, 8.0), r.range(0.0, TAU));
        cautery.push(Cautery {
            start_s,
            end_s: start_s + len,
            mod_hz,
            mod_phase,
        });
    }
    for e in given {
        let (mod_hz, mod_phase) = (r.range(3.0, 8.0), r.range(0.0, TAU));
        cautery.push(Cautery {
            start_s: e.start_s,
            end_s: e.end_s(),
            mod_hz,
            mod_phase,
        });
    }
    cautery.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    cautery
}

/// The given gaps as frame ranges of a recording of `frames` frames at `fs`.
pub(crate) fn gaps_in_frames(given: &[Episode], fs: f64, frames: u64) -> Vec<Gap> {
    let mut gaps: Vec<Gap> = given
        .iter()
        .map(|&e| Gap {
            episode: e,
            start_frame: (e.start_s * fs).ceil() as u64,
            end_frame: ((e.end_s() * fs).ceil() as u64).min(frames),
        })
        .filter(|g| g.end_frame > g.start_frame)
        .collect();
    gaps.sort_by_key(|g| g.start_frame);
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_do_not_overlap_on_a_channel_and_spikes_fit() {
        let emg = [(0, 0), (1, 1), (2, 2)];
        let bursts = draw_bursts(2, 600.0, 5.0, &emg);
        // About 5 per minute per channel, a little less (bursts take time).
        assert!(
            (100..=160).contains(&bursts.len()),
            "{} bursts",
            bursts.len()
        );
        assert!(bursts.windows(2).all(|w| w[0].start_s <= w[1].start_s));
        for c in 0..3 {
            let b: Vec<&Burst> = bursts.iter().filter(|b| b.channel == c).collect();
            assert!(b.windows(2).all(|w| w[1].start_s > w[0].end_s()));
        }
        let mut spikes = [(0.0, 0u8); MAX_BURST_SPIKES];
        for b in &bursts {
            let n = b.spikes(&mut spikes);
            assert!((1..MAX_BURST_SPIKES).contains(&n));
            assert!(spikes[..n].windows(2).all(|w| w[0].0 <= w[1].0));
            assert!(spikes[..n]
                .iter()
                .all(|s| s.0 >= b.start_s && s.0 < b.start_s + b.duration_s));
            let wave = b.units[0].wave();
            assert!(wave.end() <= MUAP_MAX_S && (wave.p2p() - b.units[0].p2p_uv).abs() < 1e-9);
        }
        assert!(draw_bursts(2, 600.0, 0.0, &emg).is_empty());
    }

    #[test]
    fn pops_and_cautery_land_where_planned() {
        let emg = [(0, 0), (2, 2)];
        let pops = draw_pops(4, 600.0, 20, &emg);
        assert_eq!(pops.len(), 20);
        assert!(pops
            .iter()
            .all(|p| (120.0..570.0).contains(&p.start_s) && (p.channel == 0 || p.channel == 2)));
        let p = pops[0];
        assert!(p.value(p.start_s + 0.01).abs() > 6554.0 * 0.5);
        assert_eq!(p.value(p.end_s() + 1e-6), 0.0);
        let given = [Episode {
            start_s: 300.0,
            duration_s: 4.0,
        }];
        let c = draw_cautery(4, 600.0, 4, &given);
        assert_eq!(c.len(), 5);
        for e in &c {
            let len = e.end_s - e.start_s;
            assert!((2.0..=10.0).contains(&len));
            let opening = e.start_s >= 132.0 && e.end_s <= 240.0;
            let closing = e.start_s >= 528.0 && e.end_s <= 588.0;
            assert!(opening || closing || e.start_s == 300.0, "{e:?}");
            assert_eq!(e.envelope(e.start_s - 0.01), 0.0);
            let mid = e.envelope(0.5 * (e.start_s + e.end_s));
            assert!((0.5..=1.0).contains(&mid));
        }
    }

    #[test]
    fn gaps_become_frame_ranges() {
        let g = gaps_in_frames(
            &[
                Episode {
                    start_s: 2.0,
                    duration_s: 0.5,
                },
                Episode {
                    start_s: 1.00001,
                    duration_s: 0.1,
                },
            ],
            10_000.0,
            100_000,
        );
        assert_eq!((g[0].start_frame, g[0].end_frame), (10_001, 11_001));
        assert_eq!((g[1].start_frame, g[1].end_frame), (20_000, 25_000));
    }
}
