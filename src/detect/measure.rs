//! Measures on a conditioned sweep: noise floor, peak-to-peak, windowed SNR, onset latency,
//! direct-response crosstalk, correlation with the baseline, and the display trace.
//!
//! All functions work on slices the caller owns and never allocate.
//!
//! - **SNR** is the largest RMS over sliding sub-windows of the LSR window divided by the
//!   pre-stimulus noise RMS. The LSR is a 5-15 ms event inside a 30-40 ms window; a sub-window
//!   about its length collects most of its energy and little noise, so it is markedly more
//!   sensitive than the peak-to-peak or the whole-window RMS, and unlike a single sample's peak
//!   its noise distribution is narrow (many samples), which keeps false alarms rare.
//! - **Onset** is where the smoothed rectified signal first stays above a multiple of the
//!   noise RMS, traced back to where it left the noise: the first deflection from baseline, as a
//!   technologist would put the cursor.
//! - **Crosstalk.** The direct (M) response of the stimulated branch's muscle is volume
//!   conducted onto the LSR electrodes at 1-10 %: a scaled copy that starts at 2-3 ms and runs
//!   into the LSR window. It is fitted (gain and a small lag) on the early window where no LSR
//!   can be yet, using the direct-response channel as the reference, and subtracted. The same
//!   subtraction removes the crosstalk of the facial F-wave (~9 ms), which is part of that
//!   channel's signal.

use std::ops::Range;

/// Root mean square (0 for an empty slice).
pub fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    let s: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    (s / x.len() as f64).sqrt() as f32
}

/// Peak-to-peak (0 for an empty slice).
pub fn p2p(x: &[f32]) -> f32 {
    let mut lo = f32::INFINITY;
    let mut hi = f32::NEG_INFINITY;
    for &v in x {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if x.is_empty() {
        0.0
    } else {
        hi - lo
    }
}

/// Largest RMS over windows of `len` samples moved by `step` samples across `x` (the whole of
/// `x` if it is shorter than `len`).
pub fn max_window_rms(x: &[f32], len: usize, step: usize) -> f32 {
    if x.len() <= len || len == 0 {
        return rms(x);
    }
    let step = step.max(1);
    // Running sum of squares, exact enough in f64 for these lengths.
    let mut best = 0.0f64;
    let mut start = 0;
    while start + len <= x.len() {
        let s: f64 = x[start..start + len]
            .iter()
            .map(|&v| (v as f64) * (v as f64))
            .sum();
        best = best.max(s);
        start += step;
    }
    // Cover the tail so the last samples are never skipped.
    let s: f64 = x[x.len() - len..]
        .iter()
        .map(|&v| (v as f64) * (v as f64))
        .sum();
    best = best.max(s);
    (best / len as f64).sqrt() as f32
}

/// Onset of a response inside `window` (indices into `x`): the first index from which a
/// centred moving average of |x| over `smooth` samples stays at or above `threshold` for
/// `min_len` samples, traced back to where that average was last below `floor`. `env` is
/// scratch at least as long as `x`.
pub fn onset(
    x: &[f32],
    window: Range<usize>,
    smooth: usize,
    threshold: f32,
    floor: f32,
    min_len: usize,
    env: &mut [f32],
) -> Option<usize> {
    let end = window.end.min(x.len()).min(env.len());
    let start = window.start.min(end);
    if start >= end {
        return None;
    }
    // Centred moving average of |x|, computed from a little before the window so the
    // back-trace can run past its start.
    let half = smooth / 2;
    let from = start.saturating_sub(smooth * 4 + half);
    for (i, e) in env.iter_mut().enumerate().take(end).skip(from) {
        let a = i.saturating_sub(half);
        let b = (i + half + 1).min(x.len());
        let s: f32 = x[a..b].iter().map(|v| v.abs()).sum();
        *e = s / (b - a) as f32;
    }
    let mut run = 0usize;
    let mut i = start;
    while i < end {
        if env[i] >= threshold {
            run += 1;
            if run >= min_len.max(1) {
                let first = i + 1 - run;
                let mut j = first;
                while j > from && env[j - 1] >= floor {
                    j -= 1;
                }
                return Some(j.max(start.saturating_sub(smooth)));
            }
        } else {
            run = 0;
        }
        i += 1;
    }
    None
}

/// Least-squares fit of `x ≈ gain · d(· − lag)` over `fit`, for lags in `-max_lag..=max_lag`
/// samples; returns the (gain, lag) with the smallest residual, or (0, 0) when `d` is flat.
pub fn fit_crosstalk(x: &[f32], d: &[f32], fit: Range<usize>, max_lag: usize) -> (f32, isize) {
    let mut best = (0.0f32, 0isize);
    let mut best_res = f64::INFINITY;
    let n = x.len().min(d.len());
    if fit.end > n || fit.start >= fit.end {
        return best;
    }
    let ml = max_lag as isize;
    for lag in -ml..=ml {
        let mut xd = 0.0f64;
        let mut dd = 0.0f64;
        let mut xx = 0.0f64;
        for i in fit.clone() {
            let j = i as isize - lag;
            let dv = if j >= 0 && (j as usize) < n {
                d[j as usize] as f64
            } else {
                0.0
            };
            let xv = x[i] as f64;
            xd += xv * dv;
            dd += dv * dv;
            xx += xv * xv;
        }
        if dd <= 0.0 {
            continue;
        }
        let g = xd / dd;
        let res = xx - g * xd;
        if res < best_res {
            best_res = res;
            best = (g as f32, lag);
        }
    }
    best
}

/// `x[i] -= gain · d[i − lag]` for every i where d is defined.
pub fn subtract_scaled(x: &mut [f32], d: &[f32], gain: f32, lag: isize) {
    if gain == 0.0 {
        return;
    }
    for (i, v) in x.iter_mut().enumerate() {
        let j = i as isize - lag;
        if j >= 0 && (j as usize) < d.len() {
            *v -= gain * d[j as usize];
        }
    }
}

/// Largest normalised correlation between `x` and `template` over lags `-max_lag..=max_lag`
/// (x[i + lag] against template[i], over the template's length starting at `at` in x).
pub fn best_correlation(x: &[f32], at: usize, template: &[f32], max_lag: usize) -> f32 {
    let tt: f64 = template.iter().map(|&v| (v as f64) * (v as f64)).sum();
    if tt <= 0.0 {
        return f32::NAN;
    }
    let mut best = f64::NEG_INFINITY;
    let ml = max_lag as isize;
    for lag in -ml..=ml {
        let s = at as isize + lag;
        if s < 0 || s as usize + template.len() > x.len() {
            continue;
        }
        let seg = &x[s as usize..s as usize + template.len()];
        let mut xt = 0.0f64;
        let mut xx = 0.0f64;
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

/// Fills `out` with `x` reduced to `out.len()` points, keeping in each bin the sample of
/// largest magnitude (a spike stays visible; a straight average would hide it).
pub fn display_trace(x: &[f32], out: &mut [f32]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    if x.is_empty() {
        out.fill(0.0);
        return;
    }
    for (k, o) in out.iter_mut().enumerate() {
        let a = k * x.len() / n;
        let b = ((k + 1) * x.len() / n).max(a + 1).min(x.len());
        let mut v = 0.0f32;
        for &s in &x[a.min(x.len() - 1)..b] {
            if s.abs() > v.abs() {
                v = s;
            }
        }
        *o = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_statistics() {
        assert_eq!(rms(&[3.0, -3.0, 3.0, -3.0]), 3.0);
        assert_eq!(p2p(&[1.0, -2.0, 5.0]), 7.0);
        assert_eq!(p2p(&[]), 0.0);
        let mut x = vec![0.0f32; 100];
        x[50..60].fill(2.0);
        assert!((max_window_rms(&x, 10, 1) - 2.0).abs() < 1e-6);
        // Coarse steps still catch a burst at the very end.
        let mut y = vec![0.0f32; 100];
        y[90..100].fill(2.0);
        assert!((max_window_rms(&y, 10, 7) - 2.0).abs() < 1e-6);
    }

    #[test]
    fn onset_is_the_first_deflection() {
        // Half-sine from index 200, 100 µV, above 1 µV noise-free floor.
        let mut x = vec![0.0f32; 600];
        for i in 0..40 {
            x[200 + i] = 100.0 * (std::f32::consts::PI * i as f32 / 40.0).sin();
        }
        let mut env = vec![0.0; 600];
        let on = onset(&x, 100..500, 5, 20.0, 1.0, 10, &mut env).unwrap();
        assert!((198..=202).contains(&on), "onset {on}");
        assert_eq!(onset(&x, 300..500, 5, 20.0, 1.0, 10, &mut env), None);
    }

    #[test]
    fn crosstalk_is_found_with_its_lag_and_removed() {
        let d: Vec<f32> = (0..400)
            .map(|i| {
                let t = (i as f32 - 100.0) / 15.0;
                1000.0 * t * (-t * t).exp()
            })
            .collect();
        let mut x = vec![0.0f32; 400];
        for i in 0..400 {
            if i >= 2 {
                x[i] = 0.05 * d[i - 2];
            }
        }
        let (g, lag) = fit_crosstalk(&x, &d, 60..160, 4);
        assert_eq!(lag, 2);
        assert!((g - 0.05).abs() < 1e-4);
        subtract_scaled(&mut x, &d, g, lag);
        assert!(rms(&x) < 1e-3);
    }

    #[test]
    fn correlation_finds_a_shifted_copy() {
        let t: Vec<f32> = (0..50).map(|i| (i as f32 * 0.3).sin()).collect();
        let mut x = vec![0.0f32; 200];
        x[103..153].copy_from_slice(&t);
        assert!((best_correlation(&x, 100, &t, 5) - 1.0).abs() < 1e-5);
        assert!(best_correlation(&x, 100, &t, 1) < 0.9);
    }

    #[test]
    fn display_keeps_spikes() {
        let mut x = vec![0.0f32; 1000];
        x[503] = -50.0;
        let mut out = [0.0f32; 10];
        display_trace(&x, &mut out);
        assert_eq!(out[5], -50.0);
        assert_eq!(out.iter().filter(|v| **v != 0.0).count(), 1);
    }
}
