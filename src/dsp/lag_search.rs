//! Normalised correlation of a signal with a template at every lag of a range, by FFT.
//!
//! Correlating a template of `n` samples at `2L + 1` lags directly costs `n (2L + 1)`
//! multiply-adds; both grow with the sample rate, so the cost grows with its square (at
//! 48 kHz, a 34 ms template over ±1 ms: 160 000 per sweep and channel). Here the
//! cross-correlation at every lag comes from one forward and one inverse FFT of the span the
//! lags cover (the signal and the template share the forward transform as its real and
//! imaginary parts), and each lag's signal energy from a running prefix sum: the cost grows
//! as `N log N` with the span.
//!
//! [`LagCorrelator::new`] (the `prepare` step) makes the FFT plans and every buffer for the
//! largest template and lag range it will see; [`LagCorrelator::best`] never allocates.
//! Results equal the direct sums to floating-point rounding (tested below against them).

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// FFT correlation of a template against a signal over a lag range.
pub struct LagCorrelator {
    n: usize,
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
    buf: Vec<Complex<f64>>,
    spec: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    /// Prefix sums of the squared signal over the span.
    energy: Vec<f64>,
}

impl LagCorrelator {
    /// Plans for templates of up to `max_template` samples and lags up to `±max_lag`.
    pub fn new(max_template: usize, max_lag: usize) -> Self {
        let n = (max_template + 2 * max_lag).max(2).next_power_of_two();
        let mut planner = FftPlanner::<f64>::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let scratch_len = fwd
            .get_inplace_scratch_len()
            .max(inv.get_inplace_scratch_len());
        Self {
            n,
            fwd,
            inv,
            buf: vec![Complex::default(); n],
            spec: vec![Complex::default(); n],
            scratch: vec![Complex::default(); scratch_len],
            energy: vec![0.0; n + 1],
        }
    }

    /// Largest normalised correlation between `x` and `template` over lags
    /// `-max_lag..=max_lag`: `x[at + lag + i]` against `template[i]` over the template's
    /// length; lags that would leave `x` are skipped. NaN when the template is flat or no lag
    /// fits. A template or span larger than this correlator was planned for falls back to
    /// the direct sums (correct, slower; never allocates).
    pub fn best(&mut self, x: &[f32], at: usize, template: &[f32], max_lag: usize) -> f32 {
        let len = template.len();
        let tt: f64 = template.iter().map(|&v| (v as f64) * (v as f64)).sum();
        if tt <= 0.0 || len == 0 {
            return f32::NAN;
        }
        // Valid lags: at + lag >= 0 and at + lag + len <= x.len().
        let ml = max_lag as isize;
        let lo = (-ml).max(-(at as isize));
        let hi = ml.min(x.len() as isize - len as isize - at as isize);
        if hi < lo {
            return f32::NAN;
        }
        let s0 = (at as isize + lo) as usize;
        let lags = (hi - lo) as usize + 1;
        let span = lags - 1 + len;
        if span > self.n {
            return direct_best(x, at, template, max_lag, tt);
        }
        let seg = &x[s0..s0 + span];
        // One complex FFT of (signal + i template).
        for (k, b) in self.buf.iter_mut().enumerate() {
            let re = seg.get(k).map_or(0.0, |&v| v as f64);
            let im = template.get(k).map_or(0.0, |&v| v as f64);
            *b = Complex::new(re, im);
        }
        self.fwd
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        // Split the spectra: S = (Z[k] + conj Z[-k]) / 2, T = (Z[k] - conj Z[-k]) / 2i;
        // cross-correlation spectrum S · conj(T).
        let n = self.n;
        for k in 0..n {
            let z = self.buf[k];
            let zm = self.buf[(n - k) % n].conj();
            let s = (z + zm) * 0.5;
            let t = (z - zm) * Complex::new(0.0, -0.5);
            self.spec[k] = s * t.conj();
        }
        self.inv
            .process_with_scratch(&mut self.spec, &mut self.scratch);
        self.energy[0] = 0.0;
        for (k, &v) in seg.iter().enumerate() {
            self.energy[k + 1] = self.energy[k] + (v as f64) * (v as f64);
        }
        // A span of zeros after signal leaves rounding residue in the prefix sums: energies
        // this far below the span's are zero.
        let floor = self.energy[span] * 1e-13;
        let scale = 1.0 / n as f64;
        let mut best = f64::NEG_INFINITY;
        for k in 0..lags {
            let xx = self.energy[k + len] - self.energy[k];
            if xx > floor && xx > 0.0 {
                let xt = self.spec[k].re * scale;
                best = best.max(xt / (xx * tt).sqrt());
            }
        }
        if best.is_finite() {
            best as f32
        } else {
            f32::NAN
        }
    }
}

/// The direct sums (templates longer than planned for).
fn direct_best(x: &[f32], at: usize, template: &[f32], max_lag: usize, tt: f64) -> f32 {
    let mut best = f64::NEG_INFINITY;
    let ml = max_lag as isize;
    for lag in -ml..=ml {
        let s = at as isize + lag;
        if s < 0 || s as usize + template.len() > x.len() {
            continue;
        }
        let seg = &x[s as usize..s as usize + template.len()];
        let (mut xt, mut xx) = (0.0f64, 0.0f64);
        for (&a, &b) in seg.iter().zip(template) {
            xt += a as f64 * b as f64;
            xx += a as f64 * a as f64;
        }
        if xx > 0.0 {
            best = best.max(xt / (xx * tt).sqrt());
        }
    }
    if best.is_finite() {
        best as f32
    } else {
        f32::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    #[test]
    fn equals_the_direct_sums() {
        let mut c = LagCorrelator::new(300, 20);
        for seed in 0..20u64 {
            let x = noise(seed, 700);
            let len = 50 + (seed as usize * 13) % 250;
            let mut t = noise(seed + 100, len);
            // Half the cases: a scaled, shifted copy of the signal plus noise.
            if seed % 2 == 0 {
                let at = 200 + (seed as usize % 7);
                for (i, v) in t.iter_mut().enumerate() {
                    *v = 0.3 * *v + 2.0 * x[at + i];
                }
            }
            for (at, lag) in [(200, 20), (5, 20), (700 - len - 3, 20), (300, 0)] {
                let tt: f64 = t.iter().map(|&v| (v as f64) * (v as f64)).sum();
                let want = direct_best(&x, at, &t, lag, tt);
                let got = c.best(&x, at, &t, lag);
                assert!(
                    (want - got).abs() < 1e-5,
                    "seed {seed} at {at}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn finds_a_shifted_copy_and_handles_edges() {
        let t: Vec<f32> = (0..50).map(|i| (i as f32 * 0.3).sin()).collect();
        let mut x = vec![0.0f32; 200];
        x[103..153].copy_from_slice(&t);
        let mut c = LagCorrelator::new(64, 8);
        assert!((c.best(&x, 100, &t, 5) - 1.0).abs() < 1e-5);
        assert!(c.best(&x, 100, &t, 1) < 0.9);
        // Flat template, no lag inside x, zero signal: NaN.
        assert!(c.best(&x, 100, &[0.0; 50], 5).is_nan());
        assert!(c.best(&x[..40], 0, &t, 5).is_nan());
        assert!(c.best(&[0.0; 200], 100, &t, 5).is_nan());
        // Larger than planned: the direct sums.
        let long: Vec<f32> = (0..120).map(|i| (i as f32 * 0.1).cos()).collect();
        let mut y = vec![0.0f32; 300];
        y[52..172].copy_from_slice(&long);
        assert!((c.best(&y, 50, &long, 4) - 1.0).abs() < 1e-5);
    }
}
