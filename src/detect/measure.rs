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

/// First index in `start..end` from which the centred moving average of |x| over `smooth`
/// samples stays below `threshold` for `min_len` samples: where something that runs into
/// the window from before it (a residue of the artifact or of the crosstalk) has died away.
/// `end` when it never does.
pub fn quiet_from(
    x: &[f32],
    start: usize,
    end: usize,
    smooth: usize,
    threshold: f32,
    min_len: usize,
) -> usize {
    let end = end.min(x.len());
    let half = smooth / 2;
    let mut run = 0usize;
    for i in start..end {
        let a = i.saturating_sub(half);
        let b = (i + half + 1).min(x.len());
        let m = x[a..b].iter().map(|v| v.abs()).sum::<f32>() / (b - a) as f32;
        if m < threshold {
            run += 1;
            if run >= min_len.max(1) {
                return i + 1 - run;
            }
        } else {
            run = 0;
        }
    }
    end
}

/// Parameters of [`onset`], in samples and microvolts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OnsetParams {
    /// Width of the moving average of |x| used for detection.
    pub smooth: usize,
    /// Detection threshold of that average.
    pub threshold: f32,
    /// Noise RMS.
    pub noise: f32,
    /// Smallest peak of an earlier phase that still belongs to the response.
    pub phase_min: f32,
    /// Samples the average must stay above the threshold.
    pub min_len: usize,
    /// Furthest the onset may lie before the detection.
    pub max_back: usize,
    /// Shortest earlier phase that still belongs to the response.
    pub min_phase: usize,
}

/// Onset of a response inside `window` (indices into `x`), as a fractional index.
///
/// 1. *Detection:* the first index from which a centred moving average of |x| over `smooth`
///    samples stays at or above `threshold` for `min_len` samples.
/// 2. *Back to the first deflection:* from there, back to the zero crossing that starts that
///    phase (linear interpolation between the two samples around it), then through earlier
///    phases as long as each reaches `phase_min` and lasts `min_phase` samples (a real phase
///    of the response, not noise) and the onset stays inside the window and within
///    `max_back` samples of the detection.
///
/// The response's first phase rises from the baseline, so the zero crossing is where it
/// leaves it. `env` is scratch at least as long as `x`.
pub fn onset(x: &[f32], window: Range<usize>, p: &OnsetParams, env: &mut [f32]) -> Option<f64> {
    let OnsetParams {
        smooth,
        threshold,
        noise,
        phase_min,
        min_len,
        max_back,
        min_phase,
    } = *p;
    let end = window.end.min(x.len()).min(env.len());
    let start = window.start.min(end);
    if start >= end {
        return None;
    }
    let half = smooth / 2;
    for (i, e) in env.iter_mut().enumerate().take(end).skip(start) {
        let a = i.saturating_sub(half);
        let b = (i + half + 1).min(x.len());
        let s: f32 = x[a..b].iter().map(|v| v.abs()).sum();
        *e = s / (b - a) as f32;
    }
    let mut run = 0usize;
    let mut detected = None;
    for (i, &e) in env.iter().enumerate().take(end).skip(start) {
        if e >= threshold {
            run += 1;
            if run >= min_len.max(1) {
                detected = Some(i + 1 - run);
                break;
            }
        } else {
            run = 0;
        }
    }
    let det = detected?;
    let floor = det.saturating_sub(max_back).max(start);
    // From here on, phases are followed on a signed moving average (same width), so that a
    // noise sample crossing zero does not split a phase.
    for (i, e) in env.iter_mut().enumerate().take(end).skip(floor) {
        let a = i.saturating_sub(half);
        let b = (i + half + 1).min(x.len());
        let s: f32 = x[a..b].iter().sum();
        *e = s / (b - a) as f32;
    }
    let sm = &env[..end];
    // The sample of largest magnitude near the detection fixes the phase we are in.
    let look = (det + smooth + 1).min(end);
    let mut k = det;
    for i in det..look {
        if sm[i].abs() > sm[k].abs() {
            k = i;
        }
    }
    let mut onset = rising_edge(x, sm, k, floor, noise);
    // Earlier phases that are clearly part of the response: a phase of the other sign, ending
    // where this one starts, whose peak reaches `phase_min` and that lasts `min_phase`.
    // Noise blips shorter than `min_phase` do not split a phase.
    loop {
        let before = onset.floor() as usize;
        if before <= floor {
            break;
        }
        let cur = sm[k].signum();
        let begin = phase_start(sm, before, floor, cur, min_phase);
        if begin <= floor {
            break;
        }
        let prev_end = begin - 1;
        if sm[prev_end].signum() != -cur {
            break;
        }
        let prev_start = phase_start(sm, prev_end, floor, -cur, min_phase);
        let mut peak = prev_end;
        for j in prev_start..=prev_end {
            if -cur * sm[j] > -cur * sm[peak] {
                peak = j;
            }
        }
        if -cur * sm[peak] < phase_min || prev_end - prev_start + 1 < min_phase {
            break;
        }
        k = peak;
        onset = rising_edge(x, sm, k, floor, noise);
    }
    Some(onset.max(start as f64))
}

/// First index of the phase of sign `sign` that contains `j`, walking back (not before
/// `floor`); runs of the other sign shorter than `blip` samples do not end it.
fn phase_start(sm: &[f32], j: usize, floor: usize, sign: f32, blip: usize) -> usize {
    let mut i = j;
    while i > floor {
        if sm[i - 1].signum() == sign {
            i -= 1;
            continue;
        }
        // A run of the other sign: is it a blip with this sign again before it?
        let mut r = i - 1;
        while r > floor && sm[r].signum() != sign && i - r < blip {
            r -= 1;
        }
        if sm[r].signum() == sign && i - r <= blip {
            i = r;
        } else {
            break;
        }
    }
    i
}

/// Where the phase whose extremum is at `k` leaves the baseline: walk back from the peak
/// while the signal stays above 2 x `noise` (same sign), then extend the rising
/// edge (a straight line through its first samples, up to 6 x `noise`) to zero. A straight
/// edge cannot be pulled early by a noise sample of the same sign just before it, as a zero
/// crossing can. Returns a fractional index, not before `floor`.
fn rising_edge(x: &[f32], sm: &[f32], k: usize, floor: usize, noise: f32) -> f64 {
    // The phase's sign and size come from the smoothed signal; the edge is read on the raw
    // one (smoothing rounds the very start of an edge and moves it early).
    let s = sm[k].signum();
    let peak = s * sm[k];
    let lo = 2.0 * noise;
    let mut start = k;
    while start > floor && s * sm[start - 1] > lo {
        start -= 1;
    }
    // The edge's straight part: from 15 % to 45 % of the peak (and clear of the noise). The
    // very start of an edge is rounded by the low-pass and the smoothing, the top of a phase
    // by its own curvature; a sine's first 45 % is straight within 5 %. The samples are
    // chosen on the smoothed signal (robust to noise) and fitted on the raw one (unbiased).
    let a = lo.max(0.15 * peak);
    let b = (6.0 * noise).max(0.45 * peak).max(a);
    let mut j0 = start;
    while j0 < k && s * sm[j0] < a {
        j0 += 1;
    }
    let mut j1 = j0;
    while j1 < k && s * sm[j1] < b {
        j1 += 1;
    }
    let j1 = j1.max(j0 + 1).min(x.len() - 1);
    let origin = start;
    let n = (j1 - j0 + 1) as f64;
    let (mut st, mut sx, mut stt, mut stx) = (0.0, 0.0, 0.0, 0.0);
    for (t, &xi) in x[j0..=j1].iter().enumerate() {
        let t = t as f64;
        let v = (s * xi) as f64;
        st += t;
        sx += v;
        stt += t * t;
        stx += t * v;
    }
    let den = n * stt - st * st;
    let slope = if den > 0.0 {
        (n * stx - st * sx) / den
    } else {
        0.0
    };
    let icept = (sx - slope * st) / n;
    let back = if slope > 0.0 { icept / slope } else { 0.0 };
    // The extension may not reach further back than the edge is long plus one sample.
    let back = back.clamp(0.0, (j0 - origin) as f64 + 2.0);
    (j0 as f64 - back).max(floor as f64)
}

/// Taps of the crosstalk model.
pub const CROSSTALK_TAPS: usize = 5;
const HALF_TAPS: isize = (CROSSTALK_TAPS / 2) as isize;

/// Crosstalk model: `x(t) ≈ Σ_k taps[k] · d(t − lag − (k − 2))`, a short filter on the
/// reference at an integer lag. The taps absorb a fractional delay (volume conduction is not
/// sample-aligned, and at 5 kHz half a sample is 0.1 ms, a large error on a millivolt M wave)
/// and mild smoothing.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Crosstalk {
    pub taps: [f32; CROSSTALK_TAPS],
    pub lag: isize,
}

impl Crosstalk {
    /// Overall gain (sum of the taps).
    pub fn gain(&self) -> f32 {
        self.taps.iter().sum()
    }
}

fn at(d: &[f32], j: isize) -> f64 {
    if j >= 0 && (j as usize) < d.len() {
        d[j as usize] as f64
    } else {
        0.0
    }
}

type Mat = [[f64; CROSSTALK_TAPS]; CROSSTALK_TAPS];

/// Solves `a · x = b` (Gaussian elimination with partial pivoting); None when singular.
/// (Elimination reads two rows at once, so the loops index.)
#[allow(clippy::needless_range_loop)]
fn solve(mut a: Mat, mut b: [f64; CROSSTALK_TAPS]) -> Option<[f64; CROSSTALK_TAPS]> {
    const N: usize = CROSSTALK_TAPS;
    let scale: f64 = (0..N).map(|i| a[i][i].abs()).sum::<f64>() + 1.0;
    for col in 0..N {
        let piv = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 * scale {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for r in col + 1..N {
            let f = a[r][col] / a[col][col];
            for c in col..N {
                a[r][c] -= f * a[col][c];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = [0.0; N];
    for r in (0..N).rev() {
        let mut s = b[r];
        for c in r + 1..N {
            s -= a[r][c] * x[c];
        }
        x[r] = s / a[r][r];
    }
    Some(x)
}

/// Least-squares fit of the crosstalk of reference `d` in `x` over `fit`, for integer lags
/// in `-max_lag..=max_lag`; the lag with the smallest residual wins. A flat reference gives
/// no crosstalk (all taps 0).
///
/// Every lag's normal equations are made of the same few sums: the reference's lagged
/// products `Σ d(i-u)·d(i-u-δ)` (δ < taps) and its correlation with the signal
/// `Σ x(i)·d(i-u)`, for the shifts `u` the lags and taps reach. They are summed once per
/// shift (in the same order as one lag at a time would, so the fit is the same to the last
/// bit) instead of once per lag and tap pair: `(2L + taps) · (taps + 1)` sums over the fit
/// window instead of `(2L + 1) · taps · (taps + 1)`. `sums` is scratch of at least
/// [`crosstalk_scratch_len`]`(max_lag)` values; a shorter one fits fewer lags.
pub fn fit_crosstalk(
    x: &[f32],
    d: &[f32],
    fit: Range<usize>,
    max_lag: usize,
    sums: &mut [f64],
) -> Crosstalk {
    const N: usize = CROSSTALK_TAPS;
    let mut best = Crosstalk::default();
    let mut best_res = f64::INFINITY;
    if fit.end > x.len() || fit.start >= fit.end || fit.len() < 4 * N || sums.len() < N * (N + 1) {
        return best;
    }
    // Shifts u = lag + (k - HALF_TAPS) in -ml - HALF_TAPS ..= ml + HALF_TAPS; per shift the
    // N products with the reference (δ = 0..N) then the correlation with x.
    let ml = max_lag.min((sums.len() / (N + 1) - N) / 2) as isize;
    let shifts = (2 * ml) as usize + N;
    let u0 = -ml - HALF_TAPS;
    for (si, row) in sums.chunks_exact_mut(N + 1).take(shifts).enumerate() {
        let u = u0 + si as isize;
        row.fill(0.0);
        for i in fit.clone() {
            let j = i as isize - u;
            let a = at(d, j);
            for (delta, acc) in row[..N].iter_mut().enumerate() {
                *acc += a * at(d, j - delta as isize);
            }
            row[N] += a * x[i] as f64;
        }
    }
    let xx: f64 = x[fit.clone()]
        .iter()
        .map(|&v| (v as f64) * (v as f64))
        .sum();
    let row = |u: isize| -> &[f64] {
        let si = (u - u0) as usize;
        &sums[si * (N + 1)..(si + 1) * (N + 1)]
    };
    for lag in -ml..=ml {
        let mut g: Mat = [[0.0; N]; N];
        let mut b = [0.0f64; N];
        #[allow(clippy::needless_range_loop)] // p and q index two arrays and build shifts
        for p in 0..N {
            // Tap p reads d(j - (p - HALF_TAPS)), j = i - lag: shift u = lag + p - HALF_TAPS.
            let up = lag + p as isize - HALF_TAPS;
            b[p] = row(up)[N];
            for q in 0..N {
                // Σ d(i-up)·d(i-uq) with uq = up + (q - p): the row of the smaller shift.
                let (u, delta) = if q >= p {
                    (up, q - p)
                } else {
                    (up + q as isize - p as isize, p - q)
                };
                g[p][q] = row(u)[delta];
            }
        }
        let Some(t) = solve(g, b) else { continue };
        let res = xx - (0..N).map(|k| t[k] * b[k]).sum::<f64>();
        if res < best_res {
            best_res = res;
            let mut taps = [0.0f32; N];
            for k in 0..N {
                taps[k] = t[k] as f32;
            }
            best = Crosstalk { taps, lag };
        }
    }
    best
}

/// Scratch values [`fit_crosstalk`] needs for lags up to `max_lag`.
pub fn crosstalk_scratch_len(max_lag: usize) -> usize {
    (2 * max_lag + CROSSTALK_TAPS) * (CROSSTALK_TAPS + 1)
}

/// Subtracts the fitted crosstalk of `d` from `x` everywhere.
pub fn subtract_crosstalk(x: &mut [f32], d: &[f32], c: &Crosstalk) {
    if c.taps.iter().all(|&t| t == 0.0) {
        return;
    }
    for (i, v) in x.iter_mut().enumerate() {
        let j = i as isize - c.lag;
        let y: f64 = c
            .taps
            .iter()
            .enumerate()
            .map(|(k, &t)| t as f64 * at(d, j - (k as isize - HALF_TAPS)))
            .sum();
        *v -= y as f32;
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
        let p = OnsetParams {
            smooth: 5,
            threshold: 20.0,
            noise: 1.0,
            phase_min: 10.0,
            min_len: 10,
            max_back: 100,
            min_phase: 5,
        };
        let on = onset(&x, 100..500, &p, &mut env).unwrap();
        assert!((on - 200.0).abs() < 0.2, "onset {on}");
        assert_eq!(onset(&x, 300..500, &p, &mut env), None);
        // A small first phase of the other sign, then the big one: the onset is the first.
        let mut y = vec![0.0f32; 600];
        for i in 0..20 {
            y[300 + i] = -15.0 * (std::f32::consts::PI * i as f32 / 20.0).sin();
        }
        for i in 0..40 {
            y[320 + i] = 100.0 * (std::f32::consts::PI * i as f32 / 40.0).sin();
        }
        let on = onset(&y, 100..500, &p, &mut env).unwrap();
        assert!((on - 300.0).abs() < 0.2, "onset {on}");
        // ... unless that phase is no bigger than noise.
        let on = onset(
            &y,
            100..500,
            &OnsetParams {
                phase_min: 20.0,
                ..p
            },
            &mut env,
        )
        .unwrap();
        assert!((on - 320.0).abs() < 0.2, "onset {on}");
    }

    #[test]
    fn crosstalk_is_found_with_its_lag_and_removed() {
        let d: Vec<f32> = (0..400)
            .map(|i| {
                let t = (i as f32 - 100.0) / 15.0;
                1000.0 * t * (-t * t).exp()
            })
            .collect();
        let mut sums = vec![0.0; crosstalk_scratch_len(4)];
        let mut x = vec![0.0f32; 400];
        for i in 0..400 {
            if i >= 2 {
                x[i] = 0.05 * d[i - 2];
            }
        }
        let c = fit_crosstalk(&x, &d, 60..160, 4, &mut sums);
        assert!((c.gain() - 0.05).abs() < 1e-4, "{c:?}");
        subtract_crosstalk(&mut x, &d, &c);
        assert!(rms(&x) < 1e-3);
        // A fractional delay (half a sample, by linear interpolation) is absorbed too.
        let mut y = vec![0.0f32; 400];
        for i in 1..400 {
            y[i] = 0.04 * 0.5 * (d[i] + d[i - 1]);
        }
        let before = rms(&y);
        let c = fit_crosstalk(&y, &d, 60..160, 4, &mut sums);
        subtract_crosstalk(&mut y, &d, &c);
        assert!(
            rms(&y) < 1e-3 * before,
            "residual {} of {}",
            rms(&y),
            before
        );
    }

    /// The fit one lag at a time, as it was before the sums were shared between lags.
    fn fit_direct(x: &[f32], d: &[f32], fit: Range<usize>, max_lag: usize) -> Crosstalk {
        const N: usize = CROSSTALK_TAPS;
        let mut best = Crosstalk::default();
        let mut best_res = f64::INFINITY;
        if fit.end > x.len() || fit.start >= fit.end || fit.len() < 4 * N {
            return best;
        }
        let ml = max_lag as isize;
        for lag in -ml..=ml {
            let mut g: Mat = [[0.0; N]; N];
            let mut b = [0.0f64; N];
            let mut xx = 0.0f64;
            for i in fit.clone() {
                let j = i as isize - lag;
                let mut r = [0.0f64; N];
                for (k, v) in r.iter_mut().enumerate() {
                    *v = at(d, j - (k as isize - HALF_TAPS));
                }
                let xv = x[i] as f64;
                xx += xv * xv;
                for p in 0..N {
                    b[p] += r[p] * xv;
                    for q in 0..N {
                        g[p][q] += r[p] * r[q];
                    }
                }
            }
            let Some(t) = solve(g, b) else { continue };
            let res = xx - (0..N).map(|k| t[k] * b[k]).sum::<f64>();
            if res < best_res {
                best_res = res;
                let mut taps = [0.0f32; N];
                for k in 0..N {
                    taps[k] = t[k] as f32;
                }
                best = Crosstalk { taps, lag };
            }
        }
        best
    }

    #[test]
    fn shared_sums_fit_exactly_as_lag_by_lag() {
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        for case in 0..12usize {
            let n = 300 + 37 * case;
            let d: Vec<f32> = (0..n).map(|_| 100.0 * rnd()).collect();
            let x: Vec<f32> = (0..n)
                .map(|i| 0.07 * d[(i + n - case % 5) % n] + rnd())
                .collect();
            let max_lag = case % 6;
            let fit = 3 + case..n / 2 + case;
            let mut sums = vec![0.0; crosstalk_scratch_len(max_lag)];
            let got = fit_crosstalk(&x, &d, fit.clone(), max_lag, &mut sums);
            let want = fit_direct(&x, &d, fit, max_lag);
            assert_eq!(got.lag, want.lag, "case {case}");
            for (a, b) in got.taps.iter().zip(&want.taps) {
                assert_eq!(a.to_bits(), b.to_bits(), "case {case}: {got:?} vs {want:?}");
            }
        }
        // Scratch for fewer lags: fits those; too little scratch: no fit.
        let d: Vec<f32> = (0..400).map(|_| rnd()).collect();
        let mut small = vec![0.0; crosstalk_scratch_len(1)];
        let c = fit_crosstalk(&d, &d, 50..150, 4, &mut small);
        assert_eq!(c, fit_direct(&d, &d, 50..150, 1));
        assert_eq!(
            fit_crosstalk(&d, &d, 50..150, 4, &mut [0.0; 3]),
            Crosstalk::default()
        );
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
