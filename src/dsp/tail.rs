//! What is left of the stimulus artifact after the blanking period, modelled and removed.
//!
//! Electrode polarisation and amplifier recovery leave an exponential tail behind the
//! stimulus artifact: time constants of 0.2-1.5 ms, sometimes a slower component of 2-5 ms
//! carrying a few percent. A fixed blank cannot remove it (hundreds of µV are still there at
//! 2 ms, a few µV at 5-10 ms), and any filter spreads it, and the edge of the blank, into the
//! LSR window, where it looks like a small response at the window's start that never
//! disappears. A longer blank is no cure: it cuts into the crosstalk and leaves a larger step.
//!
//! So the tail is fitted on each sweep's own samples, *before* the blank is bridged and
//! before any filter, over the stretch from the end of the blank to just before the earliest
//! LSR onset (`fit`), and subtracted from the end of the blank on. The model is
//!
//! ```text
//! x(t) ≈ Σ_k c_k · d(t − lag − k) + a_f · e^(−(t−t_b)/τ_f) [+ a_s · e^(−(t−t_b)/τ_s)]
//! ```
//!
//! three taps of the direct-response channel `d` at a lag (the crosstalk of the M response,
//! which overlaps the tail and would otherwise be taken for it), one fast exponential and
//! optionally a slow one, `t_b` the end of the blank. The time constants come from a grid and
//! the lag from a search; the combination with the best Bayesian information criterion wins,
//! so a sweep with no tail gets none (the crosstalk-only model), and two exponentials are
//! used only when the data ask for them, and only with one sign (a recovery shrinks; two
//! components of opposite signs would cancel at the blank's end and part later, putting a
//! made-up response into the window). Only the exponentials are subtracted: the crosstalk
//! is removed later, on the filtered signal, by its own fit.
//!
//! [`TailFit::new`] allocates every buffer; [`TailFit::remove`] does not allocate.

use std::ops::Range;

/// Fast time constants tried, ms.
pub const FAST_TAUS_MS: [f64; 8] = [0.2, 0.3, 0.4, 0.55, 0.75, 1.0, 1.3, 1.7];
/// Slow time constants tried, ms.
pub const SLOW_TAUS_MS: [f64; 6] = [2.0, 2.5, 3.0, 3.5, 4.2, 5.0];
const TAUS: usize = FAST_TAUS_MS.len() + SLOW_TAUS_MS.len();
/// Crosstalk taps in the model.
const TAPS: usize = 3;
/// Most unknowns of one model.
const MAX_K: usize = TAPS + 2;

/// What was removed from one sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TailRemoved {
    /// The removed tail at the end of the blank, µV (signed).
    pub at_blank_end: f32,
    /// The removed tail at `probe` (the LSR window's start), µV (signed).
    pub at_probe: f32,
    /// Time constants used, ms (0 when that component was not used).
    pub fast_ms: f32,
    pub slow_ms: f32,
    /// The best model of this sweep alone had a slow component (whether or not it was used;
    /// see [`TailFit::remove`]'s `allow_slow`).
    pub slow_preferred: bool,
}

/// A fitted model: its score, coefficients, number of exponentials, their time constants'
/// indices and the number of crosstalk taps.
type Fitted = (f64, [f64; MAX_K], usize, [usize; 2], usize);

/// Prepared fitter for one sample rate and fit length.
pub struct TailFit {
    fs: f64,
    max_lag: usize,
    /// Exponential basis over the fit span, per time constant.
    basis: Vec<Vec<f64>>,
    /// Per shift `u` in `-max_lag-1..=max_lag+1`: `[Σd(i-u)d(i-u-δ) for δ<TAPS, Σx d(i-u),
    /// Σ e_τ d(i-u) for every τ]`.
    sums: Vec<f64>,
}

impl TailFit {
    /// `fit_len`: the longest fit span in samples; `max_lag`: largest crosstalk lag, samples.
    pub fn new(fs: f64, fit_len: usize, max_lag: usize) -> Self {
        let shifts = 2 * max_lag + 3 + TAPS;
        Self {
            fs,
            max_lag,
            basis: vec![vec![0.0; fit_len]; TAUS],
            sums: vec![0.0; shifts * Self::row_len()],
        }
    }

    const fn row_len() -> usize {
        TAPS + 1 + TAUS
    }

    fn tau_ms(k: usize) -> f64 {
        if k < FAST_TAUS_MS.len() {
            FAST_TAUS_MS[k]
        } else {
            SLOW_TAUS_MS[k - FAST_TAUS_MS.len()]
        }
    }

    /// Fits and removes the tail of `x` over `fit` (segment indices; `fit.start` is the first
    /// sample after the blank, at `t_b_samples` from the segment start in fractional samples).
    /// `d` is the direct-response reference (None: no crosstalk in the model). `probe` is a
    /// segment index where the removed amount is reported. With `allow_slow` false the best
    /// model without a slow component is removed (the returned `slow_preferred` still says
    /// whether the best model of all had one). Returns None (and leaves `x` as it was) when
    /// the span is too short or nothing is worth removing.
    #[allow(clippy::needless_range_loop)] // p and q index the Gram matrix and build shifts
    pub fn remove(
        &mut self,
        x: &mut [f32],
        d: Option<&[f32]>,
        fit: Range<usize>,
        t_b_samples: f64,
        probe: usize,
        allow_slow: bool,
    ) -> Option<TailRemoved> {
        let n = fit.len().min(self.basis[0].len());
        let fit = fit.start..fit.start + n;
        if fit.end > x.len() || n < 2 * MAX_K + 2 {
            return None;
        }
        let ms_per_sample = 1000.0 / self.fs;
        for (k, b) in self.basis.iter_mut().enumerate() {
            let tau = Self::tau_ms(k);
            for (j, v) in b[..n].iter_mut().enumerate() {
                let t = ((fit.start + j) as f64 - t_b_samples).max(0.0) * ms_per_sample;
                *v = (-t / tau).exp();
            }
        }
        let xs = &x[fit.clone()];
        let xx: f64 = xs.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        let xe: [f64; TAUS] = std::array::from_fn(|k| {
            self.basis[k][..n]
                .iter()
                .zip(xs)
                .map(|(b, &v)| b * f64::from(v))
                .sum()
        });
        let ee = |a: usize, b: usize| -> f64 {
            self.basis[a][..n]
                .iter()
                .zip(&self.basis[b][..n])
                .map(|(p, q)| p * q)
                .sum()
        };
        // Per-shift sums with the reference.
        let ml = self.max_lag as isize;
        let u0 = -ml - 1;
        let shifts = (2 * ml + 3) as usize;
        let rl = Self::row_len();
        if let Some(d) = d {
            let at = |j: isize| -> f64 {
                if j >= 0 && (j as usize) < d.len() {
                    f64::from(d[j as usize])
                } else {
                    0.0
                }
            };
            for si in 0..shifts {
                let u = u0 + si as isize;
                let row = &mut self.sums[si * rl..(si + 1) * rl];
                row.fill(0.0);
                for (j, i) in fit.clone().enumerate() {
                    let a = at(i as isize - u);
                    for (delta, acc) in row[..TAPS].iter_mut().enumerate() {
                        *acc += a * at(i as isize - u - delta as isize);
                    }
                    row[TAPS] += a * f64::from(x[i]);
                    for k in 0..TAUS {
                        row[TAPS + 1 + k] += a * self.basis[k][j];
                    }
                }
            }
        }
        let nf = n as f64;
        let bic = |rss: f64, k: usize| nf * (rss.max(1e-12) / nf).ln() + k as f64 * nf.ln();
        // Models: `taus` holds the exponentials used (none, fast, fast + slow).
        let mut best: Option<Fitted> = None;
        let mut best_fast: Option<Fitted> = None;
        let lags: Range<isize> = if d.is_some() { -ml..ml + 1 } else { 0..1 };
        let mut tried_none = false;
        for lag in lags {
            let taps = if d.is_some() { TAPS } else { 0 };
            let models = std::iter::once((0usize, [0usize; 2]))
                .chain((0..FAST_TAUS_MS.len()).map(|f| (1, [f, 0])))
                .chain((0..FAST_TAUS_MS.len()).flat_map(|f| {
                    (0..SLOW_TAUS_MS.len()).map(move |s| (2, [f, FAST_TAUS_MS.len() + s]))
                }));
            for (ne, taus) in models {
                if taps == 0 && ne == 0 {
                    if tried_none {
                        continue;
                    }
                    tried_none = true;
                }
                let k = taps + ne;
                let mut g = [[0.0f64; MAX_K]; MAX_K];
                let mut b = [0.0f64; MAX_K];
                // Tap p reads d(i - lag - (p - 1)): shift u = lag + p - 1.
                let row = |u: isize| -> &[f64] {
                    let si = (u - u0) as usize;
                    &self.sums[si * rl..(si + 1) * rl]
                };
                for p in 0..taps {
                    let up = lag + p as isize - 1;
                    b[p] = row(up)[TAPS];
                    for q in 0..taps {
                        let (u, delta) = if q >= p {
                            (up, q - p)
                        } else {
                            (up + q as isize - p as isize, p - q)
                        };
                        g[p][q] = row(u)[delta];
                    }
                    for (e, &t) in taus[..ne].iter().enumerate() {
                        let v = row(up)[TAPS + 1 + t];
                        g[p][taps + e] = v;
                        g[taps + e][p] = v;
                    }
                }
                for (e, &t) in taus[..ne].iter().enumerate() {
                    b[taps + e] = xe[t];
                    for (f, &t2) in taus[..ne].iter().enumerate() {
                        g[taps + e][taps + f] = ee(t, t2);
                    }
                }
                let Some(beta) = solve(&g, &b, k) else {
                    continue;
                };
                // A recovery is one polarisation relaxing: both components of one sign, so
                // the tail only shrinks. Opposite signs cancel at the blank's end and grow
                // apart later: a fit of something else, extrapolated into the window.
                if ne == 2 && beta[taps] * beta[taps + 1] < 0.0 {
                    continue;
                }
                let rss = xx - (0..k).map(|i| beta[i] * b[i]).sum::<f64>();
                let score = bic(rss, k);
                if best.as_ref().is_none_or(|bst| score < bst.0) {
                    best = Some((score, beta, ne, taus, taps));
                }
                if ne < 2 && best_fast.as_ref().is_none_or(|bst| score < bst.0) {
                    best_fast = Some((score, beta, ne, taus, taps));
                }
            }
        }
        let slow_preferred = best.as_ref().is_some_and(|b| b.2 == 2);
        let (_, beta, ne, taus, taps) = if allow_slow { best } else { best_fast }?;
        if ne == 0 {
            // Nothing removed; the sweep's own preference is still reported.
            return slow_preferred.then(|| TailRemoved {
                slow_preferred,
                ..TailRemoved::default()
            });
        }
        // Subtract the exponentials from the end of the blank on.
        let amps: [f64; 2] = std::array::from_fn(|e| if e < ne { beta[taps + e] } else { 0.0 });
        let value = |i: usize| -> f64 {
            let t = (i as f64 - t_b_samples).max(0.0) * ms_per_sample;
            (0..ne)
                .map(|e| amps[e] * (-t / Self::tau_ms(taus[e])).exp())
                .sum()
        };
        let scale = amps.iter().map(|a| a.abs()).sum::<f64>();
        let mut out = TailRemoved {
            at_blank_end: value(fit.start) as f32,
            at_probe: if probe >= fit.start {
                value(probe) as f32
            } else {
                0.0
            },
            fast_ms: Self::tau_ms(taus[0]) as f32,
            slow_ms: if ne > 1 {
                Self::tau_ms(taus[1]) as f32
            } else {
                0.0
            },
            slow_preferred,
        };
        for (i, v) in x.iter_mut().enumerate().skip(fit.start) {
            let r = value(i);
            if r.abs() < 1e-4 * scale.max(1e-9) && i > probe {
                break;
            }
            *v -= r as f32;
        }
        if !out.at_probe.is_finite() {
            out.at_probe = 0.0;
        }
        Some(out)
    }
}

/// Solves the leading `k`×`k` system (Gaussian elimination, partial pivoting, a whisper of
/// ridge for near-collinear columns); None when singular.
#[allow(clippy::needless_range_loop)] // elimination reads two rows at once
fn solve(g: &[[f64; MAX_K]; MAX_K], b: &[f64; MAX_K], k: usize) -> Option<[f64; MAX_K]> {
    if k == 0 {
        return Some([0.0; MAX_K]);
    }
    let mut a = *g;
    let mut y = *b;
    let trace: f64 = (0..k).map(|i| a[i][i].abs()).sum::<f64>();
    if trace <= 0.0 {
        return None;
    }
    for i in 0..k {
        a[i][i] += 1e-10 * trace;
    }
    for col in 0..k {
        let piv = (col..k).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-14 * trace {
            return None;
        }
        a.swap(col, piv);
        y.swap(col, piv);
        for r in col + 1..k {
            let f = a[r][col] / a[col][col];
            for c in col..k {
                a[r][c] -= f * a[col][c];
            }
            y[r] -= f * y[col];
        }
    }
    let mut x = [0.0; MAX_K];
    for r in (0..k).rev() {
        let mut s = y[r];
        for c in r + 1..k {
            s -= a[r][c] * x[c];
        }
        x[r] = s / a[r][r];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(fs: f64, n: usize, t_b: f64, a: f64, tau: f64, slow: f64, tau_s: f64) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = (i as f64 - t_b).max(0.0) * 1000.0 / fs;
                if (i as f64) < t_b {
                    0.0
                } else {
                    (a * (-t / tau).exp() + slow * (-t / tau_s).exp()) as f32
                }
            })
            .collect()
    }

    #[test]
    fn a_two_component_tail_is_removed_from_the_window() {
        for fs in [5_000.0, 10_000.0, 48_000.0] {
            let ms = |m: f64| (m * fs / 1000.0).round() as usize;
            let n = ms(40.0);
            let t_b = ms(2.0) as f64;
            // 600 µV at 1.4 ms plus 30 µV at 4 ms: tens of µV left at the window start.
            let mut x = tail(fs, n, t_b, 600.0, 1.4, 30.0, 4.0);
            let before = x[ms(6.0)];
            assert!(before > 10.0, "{before}");
            let mut f = TailFit::new(fs, ms(5.0) + 1, ms(0.7));
            let got = f
                .remove(&mut x, None, ms(2.0)..ms(7.0), t_b, ms(6.0), true)
                .unwrap();
            assert!((got.at_probe - before).abs() < 0.2 * before, "{got:?}");
            let worst = x[ms(6.0)..].iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(worst < 0.15 * before, "fs {fs}: {worst} left of {before}");
        }
    }

    #[test]
    fn the_crosstalk_is_not_taken_for_a_tail_and_noise_gets_none() {
        let fs = 10_000.0;
        let ms = |m: f64| (m * fs / 1000.0).round() as usize;
        let n = ms(40.0);
        // Reference: an M response from 3 to 10 ms; x sees 5 % of it, no tail.
        let d: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f64 / fs * 1000.0;
                if (3.0..10.0).contains(&t) {
                    (2000.0 * (std::f64::consts::PI * (t - 3.0) / 3.5).sin()) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let mut x: Vec<f32> = d.iter().map(|v| 0.05 * v).collect();
        let orig = x.clone();
        let mut f = TailFit::new(fs, ms(5.0) + 1, ms(0.7));
        let r = f.remove(
            &mut x,
            Some(&d),
            ms(2.0)..ms(7.0),
            ms(2.0) as f64,
            ms(6.0),
            true,
        );
        let worst = x
            .iter()
            .zip(&orig)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(r.is_none() || worst < 1.0, "{r:?} changed x by {worst}");
    }
}
