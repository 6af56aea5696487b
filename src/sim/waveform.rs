//! Waveform shapes of the simulated EMG, as continuous functions of time since the stimulus.
//!
//! Evoked responses (M response, F-wave, LSR, afterdischarge, motor-unit potentials) are
//! built from *lobes*: half-sine phases of alternating sign laid end to end. That gives the
//! polyphasic look of real responses, an exact peak-to-peak (the largest positive lobe plus
//! the largest negative lobe), and an onset that is well defined: the waveform leaves zero at
//! the first lobe's start and rises along a half-cycle. Because shapes are functions of
//! continuous time, the same patient sampled at 5 kHz and at 48 kHz has the same physiology.
//!
//! The stimulus artifact is the 0.2 ms pulse, then an exponential recovery (one or two time
//! constants, up to milliseconds: what any fixed blanking period leaves behind). It is sampled as its
//! average over each sample period, like an amplifier that integrates, so its size does not
//! depend on where the samples happen to fall.
//!
//! Everything here is allocation-free once built: waves are fixed-size arrays.

use std::f64::consts::PI;

use super::rng::Rng;

/// Most lobes one wave can hold (a long afterdischarge is the largest user).
pub(crate) const MAX_LOBES: usize = 40;

/// A sequence of half-sine lobes, timed in seconds after the stimulus.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Wave {
    n: usize,
    /// Lobe boundaries: lobe `i` spans `edges[i]..edges[i + 1]`.
    edges: [f64; MAX_LOBES + 1],
    /// Signed peak of each lobe, µV.
    amps: [f64; MAX_LOBES],
}

impl Wave {
    pub(crate) const EMPTY: Wave = Wave {
        n: 0,
        edges: [0.0; MAX_LOBES + 1],
        amps: [0.0; MAX_LOBES],
    };

    /// An empty wave that will start at `onset_s`.
    pub(crate) fn starting_at(onset_s: f64) -> Self {
        let mut w = Self::EMPTY;
        w.edges[0] = onset_s;
        w
    }

    /// Appends a lobe; returns false (and does nothing) when the wave is full or the lobe
    /// has no length.
    pub(crate) fn push(&mut self, duration_s: f64, amp: f64) -> bool {
        if self.n == MAX_LOBES || duration_s.is_nan() || duration_s <= 0.0 {
            return false;
        }
        self.edges[self.n + 1] = self.edges[self.n] + duration_s;
        self.amps[self.n] = amp;
        self.n += 1;
        true
    }

    #[cfg(test)]
    pub(crate) fn onset(&self) -> f64 {
        self.edges[0]
    }

    pub(crate) fn end(&self) -> f64 {
        self.edges[self.n]
    }

    #[cfg(test)]
    pub(crate) fn lobes(&self) -> usize {
        self.n
    }

    /// Value at `t` seconds after the stimulus, µV.
    #[inline]
    pub(crate) fn value(&self, t: f64) -> f64 {
        let n = self.n;
        if n == 0 || !(t >= self.edges[0] && t < self.edges[n]) {
            return 0.0;
        }
        let i = self.edges[1..=n].partition_point(|&e| e <= t).min(n - 1);
        let (a, b) = (self.edges[i], self.edges[i + 1]);
        self.amps[i] * (PI * (t - a) / (b - a)).sin()
    }

    /// The largest positive and the largest negative lobe peak (both >= 0).
    pub(crate) fn peaks(&self) -> (f64, f64) {
        self.amps[..self.n]
            .iter()
            .fold((0.0_f64, 0.0_f64), |(p, m), &a| (p.max(a), m.max(-a)))
    }

    /// Peak-to-peak of the continuous waveform, µV.
    pub(crate) fn p2p(&self) -> f64 {
        let (p, m) = self.peaks();
        p + m
    }

    pub(crate) fn scale(&mut self, k: f64) {
        for a in &mut self.amps[..self.n] {
            *a *= k;
        }
    }

    /// The wave as another electrode sees it through other tissue (volume conduction):
    /// delayed by `lag_s`, every lobe widened by `stretch` (the tissue's low-pass), each lobe's
    /// peak scaled by `gain` times its own factor from `shape` (cycled), and, when `tail_end_s`
    /// lies past the copy's end, a slow lobe of the other sign than the last one, `tail_rel`
    /// of the largest peak, reaching `tail_end_s`. Never an exact copy, so no fit of the
    /// original removes it exactly.
    pub(crate) fn distorted(
        &self,
        lag_s: f64,
        stretch: f64,
        gain: f64,
        shape: &[f64],
        tail_rel: f64,
        tail_end_s: f64,
    ) -> Wave {
        let mut w = Wave::starting_at(self.edges[0] + lag_s);
        if self.n == 0 {
            return Wave::EMPTY;
        }
        let mut biggest = 0.0_f64;
        for i in 0..self.n {
            let k = if shape.is_empty() {
                1.0
            } else {
                shape[i % shape.len()]
            };
            let a = self.amps[i] * gain * k;
            biggest = biggest.max(a.abs());
            w.push((self.edges[i + 1] - self.edges[i]) * stretch, a);
        }
        if tail_rel > 0.0 && tail_end_s > w.end() + 0.5e-3 {
            let last = w.amps[w.n - 1];
            w.push(tail_end_s - w.end(), -last.signum() * tail_rel * biggest);
        }
        w
    }

    /// Scales the wave so its peak-to-peak is `p2p`.
    pub(crate) fn scale_to_p2p(&mut self, p2p: f64) {
        let now = self.p2p();
        if now > 0.0 {
            self.scale(p2p / now);
        }
    }
}

/// A patient's lobe pattern: signed relative lobe peaks and relative lobe durations.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pattern {
    pub amps: Vec<f64>,
    pub weights: Vec<f64>,
}

impl Pattern {
    /// Alternating-sign pattern with the given magnitudes and duration weights.
    pub(crate) fn alternating(first_sign: f64, magnitudes: &[f64], weights: &[f64]) -> Self {
        let mut s = first_sign;
        let amps = magnitudes
            .iter()
            .map(|m| {
                let a = s * m;
                s = -s;
                a
            })
            .collect();
        Self {
            amps,
            weights: weights.to_vec(),
        }
    }

    /// The pattern as a wave starting at `onset` lasting `duration`, scaled to `p2p`.
    pub(crate) fn wave(&self, onset: f64, duration: f64, p2p: f64) -> Wave {
        let total: f64 = self.weights.iter().sum();
        let mut w = Wave::starting_at(onset);
        for (a, wt) in self.amps.iter().zip(&self.weights) {
            w.push(duration * wt / total, *a);
        }
        w.scale_to_p2p(p2p);
        w
    }
}

/// The LSR of one patient and channel: its lobe pattern and the length of its first phase.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LsrPattern {
    pub pattern: Pattern,
    /// Duration of the first phase, seconds (1-2 ms): the half-cycle that defines the onset.
    pub first_s: f64,
}

/// Draws a patient's LSR pattern: polyphasic (3-5 phases) about half the time, else
/// biphasic.
pub(crate) fn draw_lsr_pattern(r: &mut Rng) -> LsrPattern {
    let phases = if r.chance(0.5) {
        r.int(3, 5) as usize
    } else {
        2
    };
    let sign = r.sign();
    let mut mags = Vec::with_capacity(phases);
    let mut weights = Vec::with_capacity(phases);
    for i in 0..phases {
        mags.push(if i == 0 {
            r.range(0.5, 1.0)
        } else if i + 1 == phases && phases > 2 {
            r.range(0.2, 0.5)
        } else {
            r.range(0.5, 1.0)
        });
        weights.push(if i == 0 { 0.0 } else { r.range(0.6, 1.4) });
    }
    LsrPattern {
        pattern: Pattern::alternating(sign, &mags, &weights),
        first_s: r.range(1.0e-3, 2.0e-3),
    }
}

/// One sweep's LSR: the patient's pattern, perturbed sweep by sweep (lobe peaks ±15 %, lobe
/// durations ±10 %), from `onset` for `duration` seconds, scaled to `p2p` µV; then, if
/// `after_end` is later than the main response, a small irregular afterdischarge up to
/// `after_end` (its lobes stay below both main peaks, so the peak-to-peak is unchanged).
pub(crate) fn lsr_wave(
    p: &LsrPattern,
    onset: f64,
    duration: f64,
    p2p: f64,
    after_end: f64,
    late: Option<LateComponent>,
    r: &mut Rng,
) -> Wave {
    let n = p.pattern.amps.len();
    let first = (p.first_s * (1.0 + 0.05 * r.normal()))
        .clamp(1.0e-3, 2.0e-3)
        .min(0.5 * duration);
    let mut durs = [0.0_f64; 8];
    let mut rest_total = 0.0;
    for (d, wt) in durs.iter_mut().zip(&p.pattern.weights).take(n).skip(1) {
        *d = wt * (1.0 + 0.1 * r.normal()).clamp(0.7, 1.3);
        rest_total += *d;
    }
    let mut w = Wave::starting_at(onset);
    for (i, (a, d)) in p.pattern.amps.iter().zip(&durs).enumerate() {
        let amp = a * (1.0 + 0.15 * r.normal()).clamp(0.3, 1.7);
        let dur = if i == 0 {
            first
        } else {
            (duration - first) * d / rest_total
        };
        w.push(dur, amp);
    }
    w.scale_to_p2p(p2p);
    if after_end > w.end() + 1.0e-3 {
        let (pos, neg) = w.peaks();
        let cap = pos.min(neg);
        let mut sign = r.sign();
        let mut t = w.end();
        // A short pause, then irregular small lobes with occasional silences.
        let pause = r.range(0.0, 1.5e-3);
        if pause > 0.0 && w.push(pause, 0.0) {
            t += pause;
        }
        while t < after_end - 0.6e-3 {
            let (dur, amp) = if r.chance(0.2) {
                (r.range(0.5e-3, 3.0e-3), 0.0)
            } else {
                sign = -sign;
                (r.range(0.6e-3, 1.5e-3), sign * cap * r.range(0.1, 0.35))
            };
            let dur = dur.min(after_end - t);
            if !w.push(dur, amp) {
                break;
            }
            t += dur;
        }
    }
    if let Some(l) = late {
        // A pause, then a few small lobes of the later, variable component.
        let (pos, neg) = w.peaks();
        let cap = pos.min(neg);
        if l.onset_s > w.end() + 0.5e-3 && w.push(l.onset_s - w.end(), 0.0) {
            let lobes = r.int(2, 4);
            let mut sign = r.sign();
            let each = l.duration_s / f64::from(lobes);
            for _ in 0..lobes {
                let amp = sign * cap * l.relative * r.range(0.6, 1.0);
                if !w.push(each * r.range(0.8, 1.2), amp) {
                    break;
                }
                sign = -sign;
            }
        }
    }
    w
}

/// The later, variable LSR component some patients have (about 25-40 ms).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LateComponent {
    pub onset_s: f64,
    pub duration_s: f64,
    /// Its lobes' size relative to the smaller main peak (below 1: the p2p is unchanged).
    pub relative: f64,
}

/// One sweep's F-wave: 3-5 irregular lobes from `onset`, scaled to `p2p`.
pub(crate) fn f_wave(onset: f64, duration: f64, p2p: f64, r: &mut Rng) -> Wave {
    let n = r.int(3, 5) as usize;
    let mut weights = [0.0_f64; 5];
    let mut total = 0.0;
    for w in weights.iter_mut().take(n) {
        *w = r.range(0.5, 1.5);
        total += *w;
    }
    let mut sign = r.sign();
    let mut w = Wave::starting_at(onset);
    for wt in weights.iter().take(n) {
        w.push(duration * wt / total, sign * r.range(0.4, 1.0));
        sign = -sign;
    }
    w.scale_to_p2p(p2p);
    w
}

/// The stimulus artifact: a rectangular pulse of `amp_uv` for `width_s`, then the recovery
/// of the electrodes and the amplifier: from `tail_uv` at the end of the pulse, a fast
/// exponential (`decay_s`, 0.2-1.5 ms in real recordings) plus, in some patients, a slower
/// one (`slow_s`, 2-5 ms) carrying `slow_fraction` of it. A large artifact may also hold the
/// amplifier at its rail for `hold_s` after the stimulus (the renderer clips to the rail).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Artifact {
    pub amp_uv: f64,
    pub width_s: f64,
    pub tail_uv: f64,
    pub decay_s: f64,
    pub slow_fraction: f64,
    pub slow_s: f64,
    pub hold_s: f64,
}

impl Artifact {
    pub(crate) const NONE: Artifact = Artifact {
        amp_uv: 0.0,
        width_s: 2.0e-4,
        tail_uv: 0.0,
        decay_s: 3.0e-4,
        slow_fraction: 0.0,
        slow_s: 3.0e-3,
        hold_s: 0.0,
    };

    /// The classic charge-balanced artifact: a recovery of opposite sign carrying the
    /// pulse's charge, one time constant.
    #[cfg(test)]
    pub(crate) fn balanced(amp_uv: f64, width_s: f64, decay_s: f64) -> Self {
        Self {
            amp_uv,
            width_s,
            tail_uv: -amp_uv * width_s / decay_s,
            decay_s,
            ..Self::NONE
        }
    }

    /// Integral of the artifact from before the stimulus to `tau` seconds after it (µV·s).
    fn integral(&self, tau: f64) -> f64 {
        if tau <= 0.0 {
            0.0
        } else if tau < self.width_s {
            self.amp_uv * tau
        } else {
            let x = tau - self.width_s;
            let f = self.slow_fraction;
            let fast = (1.0 - f) * self.decay_s * (-(-x / self.decay_s).exp_m1());
            let slow = if f > 0.0 {
                f * self.slow_s * (-(-x / self.slow_s).exp_m1())
            } else {
                0.0
            };
            self.amp_uv * self.width_s + self.tail_uv * (fast + slow)
        }
    }

    /// The artifact averaged over the sample period `period_s` centred `tau` seconds after
    /// the stimulus, µV.
    #[inline]
    pub(crate) fn sample(&self, tau: f64, period_s: f64) -> f64 {
        if self.amp_uv == 0.0 && self.tail_uv == 0.0 || tau + 0.5 * period_s <= 0.0 {
            return 0.0;
        }
        (self.integral(tau + 0.5 * period_s) - self.integral(tau - 0.5 * period_s)) / period_s
    }

    /// Whether the amplifier is held at its rail `tau` seconds after the stimulus, and at
    /// which one (the sign of the larger of pulse and recovery).
    #[inline]
    pub(crate) fn held(&self, tau: f64) -> Option<f64> {
        (self.hold_s > 0.0 && (0.0..self.hold_s).contains(&tau)).then(|| {
            if self.amp_uv.abs() >= self.tail_uv.abs() {
                self.amp_uv.signum()
            } else {
                self.tail_uv.signum()
            }
        })
    }

    /// Largest magnitude of the recovery from `tau` seconds after the stimulus on, µV.
    pub(crate) fn tail_after(&self, tau: f64) -> f64 {
        let x = (tau - self.width_s).max(0.0);
        let f = self.slow_fraction;
        self.tail_uv.abs()
            * ((1.0 - f) * (-x / self.decay_s).exp()
                + if f > 0.0 {
                    f * (-x / self.slow_s).exp()
                } else {
                    0.0
                })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lobes_make_a_continuous_polyphasic_wave_with_exact_p2p() {
        let p = Pattern::alternating(1.0, &[0.5, 1.0, 0.25], &[1.0, 2.0, 1.0]);
        let w = p.wave(0.010, 0.008, 300.0);
        assert_eq!(w.lobes(), 3);
        assert!((w.p2p() - 300.0).abs() < 1e-9);
        assert_eq!(w.value(0.00999), 0.0);
        assert_eq!(w.value(0.010), 0.0);
        assert!(w.value(0.0101) > 0.0);
        assert_eq!(w.value(0.0181), 0.0);
        // Peaks in the middle of the lobes: lobe 0 spans 10-12 ms, lobe 1 12-16 ms.
        assert!((w.value(0.011) - 100.0).abs() < 1e-9);
        assert!((w.value(0.014) + 200.0).abs() < 1e-9);
        // Continuity across a lobe boundary.
        assert!(w.value(0.012 - 1e-9).abs() < 1e-3 && w.value(0.012 + 1e-9).abs() < 1e-3);
        // Finely sampled p2p matches the analytic one.
        let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
        for i in 0..20_000 {
            let v = w.value(0.009 + i as f64 * 1e-6);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        assert!((hi - lo - 300.0).abs() < 0.01);
    }

    #[test]
    fn lsr_sweeps_start_with_a_clear_first_phase_and_keep_their_p2p() {
        let mut r = Rng::new(11);
        for _ in 0..200 {
            let pat = draw_lsr_pattern(&mut r);
            let after = if r.chance(0.5) { 0.035 } else { 0.0 };
            let w = lsr_wave(&pat, 0.0098, 0.010, 250.0, after, None, &mut r);
            assert!((w.p2p() - 250.0).abs() < 1e-6);
            assert_eq!(w.onset(), 0.0098);
            let first = w.edges[1] - w.edges[0];
            assert!((1.0e-3..=2.0e-3).contains(&first), "first phase {first}");
            assert!(w.amps[0] != 0.0);
            assert!(w.end() <= 0.035 + 1e-12);
            // Main response: 2 to 5 phases lasting exactly the requested duration.
            let main_phases = pat.pattern.amps.len();
            assert!((2..=5).contains(&main_phases));
            assert!((w.edges[main_phases] - 0.0198).abs() < 1e-9);
        }
    }

    #[test]
    fn artifact_is_charge_balanced_and_sampling_preserves_charge() {
        let a = Artifact::balanced(2000.0, 2e-4, 3e-4);
        for fs in [5000.0, 10_000.0, 48_000.0] {
            let t = 1.0 / fs;
            for offset in [0.0, 0.3, 0.77] {
                let pos: f64 = (-2..400)
                    .map(|k| a.sample((k as f64 - offset) * t, t) * t)
                    .filter(|v| *v > 0.0)
                    .sum();
                let net: f64 = (-2..400)
                    .map(|k| a.sample((k as f64 - offset) * t, t) * t)
                    .sum();
                // Positive charge = pulse charge (2000 µV x 0.2 ms), net charge ~ 0.
                assert!((pos - 0.4).abs() < 0.4 * 0.5, "fs {fs}: {pos}");
                assert!(net.abs() < 1e-6, "fs {fs}: net {net}");
            }
        }
        assert!((a.tail_after(0.0) - 2000.0 * 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(Artifact::NONE.sample(0.0001, 1e-4), 0.0);
    }

    #[test]
    fn a_slow_recovery_leaves_a_tail_past_the_blank() {
        // 3 mV recovery, 1.5 ms fast and 4 ms slow (4 %): hundreds of µV at 2 ms, still
        // microvolts at 6 ms, as real recordings show.
        let a = Artifact {
            amp_uv: -3000.0,
            width_s: 2e-4,
            tail_uv: 3000.0,
            decay_s: 1.5e-3,
            slow_fraction: 0.04,
            slow_s: 4e-3,
            hold_s: 0.0,
        };
        let fs = 48_000.0;
        let at = |ms: f64| a.sample(ms * 1e-3, 1.0 / fs);
        assert!(at(2.0) > 500.0 && at(2.0) < 1200.0, "{}", at(2.0));
        assert!(at(6.0) > 40.0 && at(6.0) < 150.0, "{}", at(6.0));
        assert!((at(6.0) - a.tail_after(6e-3)).abs() < 0.05 * at(6.0));
        assert!(at(30.0) < 0.1);
        let held = Artifact {
            hold_s: 1.5e-3,
            ..a
        };
        assert_eq!(held.held(1.0e-3), Some(-1.0));
        assert_eq!(held.held(1.6e-3), None);
        assert_eq!(a.held(0.0), None);
    }

    #[test]
    fn f_waves_are_polyphasic_with_requested_p2p() {
        let mut r = Rng::new(4);
        let w = f_wave(0.009, 0.006, 80.0, &mut r);
        assert!((3..=5).contains(&w.lobes()));
        assert!((w.p2p() - 80.0).abs() < 1e-9);
        assert!((w.end() - 0.015).abs() < 1e-12);
    }
}
