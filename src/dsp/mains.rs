//! Mains hum and baseline drift: least-squares removal per sweep, and 50/60 Hz detection.
//!
//! [`MainsFit`] removes `c0 + c1·t + Σ_{k=1..K} (a_k cos + b_k sin)(2π k f0 t)` from one sweep.
//! The coefficients are fitted by least squares on a *fit mask* only (the pre-stimulus part and
//! the late post-stimulus part, where no response is expected), then the fitted model is
//! subtracted from the whole sweep. Why a fit and not a notch filter: a notch is a resonator;
//! the millivolt stimulus artifact and the LSR itself make it ring at 50/60 Hz for tens of
//! milliseconds, right through the response window. A fit over a mask that excludes the
//! artifact and the response cannot be biased by either, and what it subtracts is a pure
//! sinusoid plus a line, which adds nothing to the response window that was not there as hum.
//! The fitting is linear algebra on a fixed design: the basis over the mask and the Cholesky
//! factor of its Gram matrix are computed once in [`MainsFit::new`] (harmonics from the
//! fundamental by the angle-addition recurrence, tabulated at every sample of the sweep); each
//! [`MainsFit::remove`] is one projection over the mask, two triangular solves and one
//! subtraction pass over that table, in f64, without allocation.
//!
//! [`MainsDetector`] decides between 50 and 60 Hz from a long stretch (about 1 s) of one EMG
//! channel: a Hann-windowed FFT periodogram, then, for each family of odd harmonics
//! (50, 150, 250 Hz and 60, 180, 300 Hz; odd multiples of 50 and 60 never coincide), the peak
//! power within ±1 Hz of each harmonic against the median power of its ±20 Hz neighbourhood
//! (a robust noise floor that a neighbouring hum line cannot inflate). Both run off the
//! per-sweep path (setup, or a low-rate background check on the DSP thread); `detect` does not
//! allocate.

use std::f64::consts::PI;
use std::ops::Range;

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

use super::overlap_save::{next_fft_len, FftPlan};

/// Harmonics above this fraction of the sample rate are not fitted.
pub const MAX_HARMONIC_FRACTION: f64 = 0.45;

/// Why a mains fit could not be prepared or applied.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum MainsError {
    #[error("mains fit: the sample rate ({0} Hz) must be a positive number")]
    BadSampleRate(f64),
    #[error("mains fit: the mains frequency ({0} Hz) must be a positive number")]
    BadMainsHz(f64),
    #[error("mains fit: the sweep length is zero")]
    EmptySegment,
    #[error("mains fit: fit range {start}..{end} lies outside the {len}-sample sweep")]
    RangeOutside {
        start: usize,
        end: usize,
        len: usize,
    },
    #[error(
        "mains fit: the fit mask holds {masked} samples; at least {needed} are needed (one \
         mains period and one per fitted coefficient)"
    )]
    MaskTooShort { masked: usize, needed: usize },
    #[error("mains fit: the model cannot be determined from the fit mask (singular system)")]
    Singular,
    #[error("mains fit: a sweep of {got} samples was given to a fit prepared for {expected}")]
    LengthMismatch { got: usize, expected: usize },
    #[error("mains fit: the sweep contains non-finite samples; nothing was removed")]
    NonFinite,
}

/// The model's basis functions at one sample: 1, t, then cos/sin pairs of each harmonic.
struct Basis {
    /// Centre and half-span of the sweep, samples: t = (n − centre) / half_span ∈ [−1, 1].
    centre: f64,
    half_span: f64,
    /// cos / sin of the fundamental at every sample (empty when no harmonic is fitted).
    cos1: Vec<f64>,
    sin1: Vec<f64>,
    harmonics: usize,
}

impl Basis {
    fn params(&self) -> usize {
        2 + 2 * self.harmonics
    }

    /// Writes the basis at sample `n` into `phi` (length `params()`); `n` < sweep length.
    fn fill(&self, n: usize, phi: &mut [f64]) {
        let Some((p0, rest)) = phi.split_first_mut() else {
            return;
        };
        *p0 = 1.0;
        let Some((p1, rest)) = rest.split_first_mut() else {
            return;
        };
        *p1 = (n as f64 - self.centre) / self.half_span;
        let (Some(&c1), Some(&s1)) = (self.cos1.get(n), self.sin1.get(n)) else {
            return;
        };
        let (mut c, mut s) = (c1, s1);
        for pair in rest.chunks_exact_mut(2) {
            pair[0] = c;
            pair[1] = s;
            (c, s) = (c * c1 - s * s1, s * c1 + c * s1);
        }
    }
}

/// Least-squares removal of offset, linear drift and mains harmonics from one sweep.
pub struct MainsFit {
    len: usize,
    basis: Basis,
    /// The basis at every sample of the sweep, row-major `len × params`: computed once, so
    /// each sweep's two passes read it instead of running the recurrence again (same values,
    /// so the same results, about twice as fast at 48 kHz).
    table: Vec<f64>,
    /// Sorted, disjoint fit ranges.
    ranges: Vec<Range<usize>>,
    /// Lower Cholesky factor of the masked Gram matrix, row-major `params × params`.
    chol: Vec<f64>,
    /// Scratch: right-hand side, coefficients.
    rhs: Vec<f64>,
    coef: Vec<f64>,
    last_amplitude: f64,
    last_fundamental: f64,
}

impl MainsFit {
    /// Prepares the fit for sweeps of `segment_len` samples.
    ///
    /// `mains_hz` None (or `harmonics` 0) fits offset and drift only; harmonics above
    /// 0.45 fs are skipped. `fit_ranges` (sample indices into the sweep; may overlap, empty
    /// ones are ignored) form the mask. Errors when a range leaves the sweep, when the mask
    /// holds fewer samples than one mains period or than coefficients, or when the system is
    /// singular. Allocates.
    pub fn new(
        sample_rate_hz: f64,
        segment_len: usize,
        mains_hz: Option<f64>,
        harmonics: u32,
        fit_ranges: &[Range<usize>],
    ) -> Result<Self, MainsError> {
        if !(sample_rate_hz.is_finite() && sample_rate_hz > 0.0) {
            return Err(MainsError::BadSampleRate(sample_rate_hz));
        }
        if let Some(f0) = mains_hz {
            if !(f0.is_finite() && f0 > 0.0) {
                return Err(MainsError::BadMainsHz(f0));
            }
        }
        if segment_len == 0 {
            return Err(MainsError::EmptySegment);
        }
        let ranges = merge_ranges(fit_ranges, segment_len)?;
        let masked: usize = ranges.iter().map(|r| r.len()).sum();

        let (f0, k) = match mains_hz {
            Some(f0) => {
                let fit = (MAX_HARMONIC_FRACTION * sample_rate_hz / f0).floor() as usize;
                (f0, fit.min(harmonics as usize))
            }
            None => (0.0, 0),
        };
        let (cos1, sin1): (Vec<f64>, Vec<f64>) = if k > 0 {
            let w = 2.0 * PI * f0 / sample_rate_hz;
            (0..segment_len)
                .map(|n| {
                    let (s, c) = (w * n as f64).sin_cos();
                    (c, s)
                })
                .unzip()
        } else {
            (Vec::new(), Vec::new())
        };
        let basis = Basis {
            centre: (segment_len as f64 - 1.0) / 2.0,
            half_span: ((segment_len as f64 - 1.0) / 2.0).max(1.0),
            cos1,
            sin1,
            harmonics: k,
        };
        let p = basis.params();
        let period = if k > 0 {
            (sample_rate_hz / f0).ceil() as usize
        } else {
            0
        };
        let needed = p.max(period);
        if masked < needed {
            return Err(MainsError::MaskTooShort { masked, needed });
        }

        let mut gram = vec![0.0f64; p * p];
        let mut phi = vec![0.0f64; p];
        for r in &ranges {
            for n in r.clone() {
                basis.fill(n, &mut phi);
                for i in 0..p {
                    for j in 0..=i {
                        gram[i * p + j] += phi[i] * phi[j];
                    }
                }
            }
        }
        let chol = cholesky(gram, p).ok_or(MainsError::Singular)?;
        let mut table = vec![0.0f64; segment_len * p];
        for (n, row) in table.chunks_exact_mut(p).enumerate() {
            basis.fill(n, row);
        }
        Ok(Self {
            len: segment_len,
            basis,
            table,
            ranges,
            chol,
            rhs: vec![0.0; p],
            coef: vec![0.0; p],
            last_amplitude: 0.0,
            last_fundamental: 0.0,
        })
    }

    /// Sweep length this fit was prepared for.
    pub fn segment_len(&self) -> usize {
        self.len
    }

    /// Number of mains harmonics actually fitted (after the 0.45 fs limit).
    pub fn harmonics(&self) -> usize {
        self.basis.harmonics
    }

    /// Fits the model on the mask of `x` and subtracts it from the whole of `x`.
    /// Does not allocate. On error `x` is left unchanged.
    pub fn remove(&mut self, x: &mut [f32]) -> Result<(), MainsError> {
        if x.len() != self.len {
            return Err(MainsError::LengthMismatch {
                got: x.len(),
                expected: self.len,
            });
        }
        let p = self.basis.params();
        self.rhs.fill(0.0);
        for r in &self.ranges {
            for (n, &v) in x.iter().enumerate().take(r.end).skip(r.start) {
                let phi = &self.table[n * p..(n + 1) * p];
                let v = f64::from(v);
                for (acc, &b) in self.rhs.iter_mut().zip(phi) {
                    *acc += b * v;
                }
            }
        }
        solve_cholesky(&self.chol, &self.rhs, &mut self.coef);
        if !self.coef.iter().all(|c| c.is_finite()) {
            return Err(MainsError::NonFinite);
        }
        for (v, phi) in x.iter_mut().zip(self.table.chunks_exact(p)) {
            let model: f64 = phi.iter().zip(&self.coef).map(|(b, c)| b * c).sum();
            *v = (f64::from(*v) - model) as f32;
        }
        let mut amplitudes = self.coef.get(2..).unwrap_or(&[]).chunks_exact(2);
        self.last_fundamental = amplitudes.next().map_or(0.0, |ab| ab[0].hypot(ab[1]));
        self.last_amplitude =
            self.last_fundamental + amplitudes.map(|ab| ab[0].hypot(ab[1])).sum::<f64>();
        Ok(())
    }

    /// Mains amplitude removed by the last [`remove`](Self::remove): the sum of the peak
    /// amplitudes `sqrt(a_k² + b_k²)` of all fitted harmonics (input units, µV for µV input).
    /// This bounds the peak of the removed hum waveform from above. 0 before the first call
    /// or without mains.
    pub fn last_mains_amplitude(&self) -> f32 {
        self.last_amplitude as f32
    }

    /// Peak amplitude of the fitted fundamental alone, from the last call.
    pub fn last_fundamental_amplitude(&self) -> f32 {
        self.last_fundamental as f32
    }

    /// Offset (at the sweep centre) and drift (change per sample) removed by the last call.
    pub fn last_offset_and_slope(&self) -> (f64, f64) {
        (self.coef[0], self.coef[1] / self.basis.half_span)
    }
}

/// Sorts, merges and bounds-checks the fit ranges.
fn merge_ranges(ranges: &[Range<usize>], len: usize) -> Result<Vec<Range<usize>>, MainsError> {
    let mut out: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    let mut sorted: Vec<Range<usize>> = ranges.iter().filter(|r| !r.is_empty()).cloned().collect();
    if let Some(r) = sorted.iter().find(|r| r.end > len) {
        return Err(MainsError::RangeOutside {
            start: r.start,
            end: r.end,
            len,
        });
    }
    sorted.sort_by_key(|r| r.start);
    for r in sorted {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    Ok(out)
}

/// In-place Cholesky of a symmetric positive-definite `p × p` matrix (lower triangle used).
/// None when a pivot is not clearly positive (relative to the original diagonal).
fn cholesky(mut a: Vec<f64>, p: usize) -> Option<Vec<f64>> {
    for j in 0..p {
        let diag = a[j * p + j];
        let mut d = diag;
        for k in 0..j {
            d -= a[j * p + k] * a[j * p + k];
        }
        if !(d.is_finite() && d > 1e-10 * diag.abs()) {
            return None;
        }
        let d = d.sqrt();
        a[j * p + j] = d;
        for i in j + 1..p {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= a[i * p + k] * a[j * p + k];
            }
            a[i * p + j] = s / d;
        }
        for i in 0..j {
            a[i * p + j] = 0.0;
        }
    }
    Some(a)
}

/// Solves `L Lᵀ x = b` for the factor from [`cholesky`]. No allocation.
fn solve_cholesky(l: &[f64], b: &[f64], x: &mut [f64]) {
    let p = x.len();
    for i in 0..p {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * p + k] * x[k];
        }
        x[i] = s / l[i * p + i];
    }
    for i in (0..p).rev() {
        let mut s = x[i];
        for k in i + 1..p {
            s -= l[k * p + i] * x[k];
        }
        x[i] = s / l[i * p + i];
    }
}

/// Odd harmonics examined per family.
const DETECT_HARMONICS: [f64; 3] = [1.0, 3.0, 5.0];
/// Search half-width around each harmonic, Hz (grid frequency wanders by well under 1 Hz).
const DETECT_SEARCH_HZ: f64 = 1.0;
/// Neighbourhood half-width for the noise floor, Hz, and the part of it left out around the
/// line (Hann main lobe plus the search width).
const DETECT_FLOOR_HZ: f64 = 20.0;
const DETECT_EXCLUDE_HZ: f64 = 4.0;
/// A family is declared when the RMS ratio (peaks over noise floor, amplitude) reaches this.
/// White noise gives about 1.6 (the maximum of a few periodogram bins over their median).
pub const DETECT_MIN_RATIO: f32 = 3.0;

/// Result of [`MainsDetector::detect`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MainsEstimate {
    /// 50.0 or 60.0 when one family of odd harmonics stands clearly out of the noise.
    pub hz: Option<f64>,
    /// Peak amplitude of the stronger family's fundamental (input units), even when `hz` is
    /// None.
    pub fundamental_uv: f32,
    /// Amplitude ratio of the stronger family's harmonic peaks to their noise floor.
    pub ratio: f32,
}

impl MainsEstimate {
    /// No decision, nothing measured.
    pub const NONE: Self = Self {
        hz: None,
        fundamental_uv: 0.0,
        ratio: 0.0,
    };
}

/// 50 vs 60 Hz decision from a Hann-windowed periodogram.
pub struct MainsDetector {
    sample_rate_hz: f64,
    len: usize,
    fft: FftPlan,
    window: Vec<f32>,
    /// Σ w², for the amplitude estimate.
    window_energy: f64,
    buf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// |X[k]|² for k = 0..=N/2.
    power: Vec<f64>,
    floor_scratch: Vec<f64>,
}

impl MainsDetector {
    /// Prepares for stretches of `len` samples (1 s or more recommended; at least 0.25 s is
    /// needed to separate 50 from 60 Hz with a Hann window). Allocates.
    pub fn new(sample_rate_hz: f64, len: usize) -> Self {
        let len = len.max(1);
        let n = next_fft_len(len);
        let fft = FftPlanner::<f32>::new().plan_fft_forward(n);
        let scratch = vec![Complex::default(); fft.get_inplace_scratch_len()];
        let window: Vec<f32> = (0..len)
            .map(|i| {
                let r = i as f64 / (len.max(2) - 1) as f64;
                (0.5 - 0.5 * (2.0 * PI * r).cos()) as f32
            })
            .collect();
        let window_energy = window.iter().map(|&w| f64::from(w).powi(2)).sum();
        let df = sample_rate_hz / n as f64;
        let floor_bins = if df.is_finite() && df > 0.0 {
            2 * (DETECT_FLOOR_HZ / df).round() as usize + 1
        } else {
            1
        };
        Self {
            sample_rate_hz,
            len,
            fft,
            window,
            window_energy,
            buf: vec![Complex::default(); n],
            scratch,
            power: vec![0.0; n / 2 + 1],
            floor_scratch: Vec::with_capacity(floor_bins),
        }
    }

    /// Stretch length analysed, samples.
    pub fn stretch_len(&self) -> usize {
        self.len
    }

    /// Analyses the last `len` samples of `x` (input units). Fewer samples, a sample rate
    /// too low for 300 Hz, or a stretch shorter than 0.25 s give `hz: None`. No allocation.
    pub fn detect(&mut self, x: &[f32]) -> MainsEstimate {
        let fs = self.sample_rate_hz;
        if x.len() < self.len
            || !(fs.is_finite() && fs > 0.0)
            || (self.len as f64) < 0.25 * fs
            || 300.0 > MAX_HARMONIC_FRACTION * fs
        {
            return MainsEstimate::NONE;
        }
        let x = &x[x.len() - self.len..];
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
        let (head, tail) = self.buf.split_at_mut(self.len);
        for ((c, &v), &w) in head.iter_mut().zip(x).zip(&self.window) {
            *c = Complex::new(((f64::from(v) - mean) * f64::from(w)) as f32, 0.0);
        }
        tail.fill(Complex::default());
        self.fft
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        for (p, c) in self.power.iter_mut().zip(&self.buf) {
            *p = f64::from(c.norm_sqr());
        }

        let a = self.family(50.0);
        let b = self.family(60.0);
        let (hz, best) = if a.ratio >= b.ratio {
            (50.0, a)
        } else {
            (60.0, b)
        };
        MainsEstimate {
            hz: (best.ratio >= DETECT_MIN_RATIO && best.ratio.is_finite()).then_some(hz),
            ..best
        }
    }

    /// Peak-to-floor ratio and fundamental amplitude of the odd-harmonic family of `f0`.
    fn family(&mut self, f0: f64) -> MainsEstimate {
        let n = self.buf.len();
        let df = self.sample_rate_hz / n as f64;
        let bin = |f: f64| (f / df).round() as usize;
        let search = bin(DETECT_SEARCH_HZ).max(1);
        let exclude = bin(DETECT_EXCLUDE_HZ).max(search + 1);
        let reach = bin(DETECT_FLOOR_HZ).max(exclude + 2);
        // Hann main lobe half-width, bins (2 bins of the unpadded transform).
        let lobe = (2.0 * n as f64 / self.len as f64).round() as usize + 1;
        let last = self.power.len() - 1;

        let (mut peaks, mut floors, mut fundamental) = (0.0, 0.0, 0.0);
        for (h, m) in DETECT_HARMONICS.iter().enumerate() {
            let k = bin(m * f0);
            if k + reach > last || k < reach {
                continue;
            }
            let (peak_k, peak) = (k - search..=k + search)
                .map(|i| (i, self.power[i]))
                .fold((k, 0.0), |b, c| if c.1 > b.1 { c } else { b });
            self.floor_scratch.clear();
            for i in k - reach..=k + reach {
                if i.abs_diff(k) > exclude
                    && self.floor_scratch.len() < self.floor_scratch.capacity()
                {
                    self.floor_scratch.push(self.power[i]);
                }
            }
            if self.floor_scratch.is_empty() {
                continue;
            }
            let mid = self.floor_scratch.len() / 2;
            let (_, &mut floor, _) = self
                .floor_scratch
                .select_nth_unstable_by(mid, f64::total_cmp);
            peaks += peak;
            floors += floor;
            if h == 0 {
                let lo = peak_k.saturating_sub(lobe);
                let hi = (peak_k + lobe).min(last);
                let energy: f64 = self.power[lo..=hi].iter().sum();
                fundamental = (4.0 * energy / (n as f64 * self.window_energy)).sqrt();
            }
        }
        let ratio = if floors > 0.0 {
            (peaks / floors).sqrt()
        } else if peaks > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        MainsEstimate {
            hz: None,
            fundamental_uv: fundamental as f32,
            ratio: ratio as f32,
        }
    }
}

#[cfg(test)]
// `&[0..len]` is a one-range fit mask here, not a misspelt vector of indices.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use crate::dsp::test_util::{max_abs, Rng};

    /// A sweep layout like the engine's: 100 ms before the stimulus, 80 ms after; the fit
    /// mask is the pre-stimulus part (up to 0.2 ms before it) and 60..80 ms after it.
    fn layout(fs: f64) -> (usize, usize, Vec<Range<usize>>) {
        let stim = (0.100 * fs).round() as usize;
        let len = stim + (0.080 * fs).round() as usize;
        let pre_end = stim - (0.0002 * fs).round() as usize;
        let late = stim + (0.060 * fs).round() as usize;
        (len, stim, vec![0..pre_end, late..len])
    }

    /// Offset + drift + fundamental, 3rd and 5th harmonics with arbitrary phases.
    fn hum(fs: f64, f0: f64, len: usize) -> Vec<f64> {
        (0..len)
            .map(|n| {
                let t = n as f64 / fs;
                let w = 2.0 * PI * f0 * t;
                -150.0
                    + 400.0 * t
                    + 80.0 * (w + 0.7).cos()
                    + 30.0 * (3.0 * w - 1.9).cos()
                    + 15.0 * (5.0 * w + 2.6).cos()
            })
            .collect()
    }

    /// A polyphasic response from 8 to ~28 ms after the stimulus, zero elsewhere.
    fn response(fs: f64, stim: usize, len: usize) -> Vec<f64> {
        (0..len)
            .map(|n| {
                let t = (n as f64 - stim as f64) / fs - 0.008;
                if !(0.0..0.020).contains(&t) {
                    return 0.0;
                }
                let env = (PI * t / 0.020).sin().powi(2);
                100.0 * env * (2.0 * PI * 330.0 * t).sin()
            })
            .collect()
    }

    #[test]
    fn removes_hum_and_drift_but_not_the_response() {
        for (fs, f0) in [
            (10000.0, 50.0),
            (48000.0, 60.0),
            (5000.0, 50.0),
            (44100.0, 60.0),
        ] {
            let (len, stim, mask) = layout(fs);
            let model = hum(fs, f0, len);
            let resp = response(fs, stim, len);
            let noise = Rng::new(fs as u64).gauss_vec(len, 1.0);
            let mut x: Vec<f32> = (0..len)
                .map(|n| (model[n] + resp[n]) as f32 + noise[n])
                .collect();
            let mut fit = MainsFit::new(fs, len, Some(f0), 7, &mask).unwrap();
            assert_eq!(fit.harmonics(), 7);
            fit.remove(&mut x).unwrap();
            // What is left, beyond the response and the noise, is the fit error.
            let err: Vec<f64> = (0..len)
                .map(|n| f64::from(x[n]) - resp[n] - f64::from(noise[n]))
                .collect();
            let hum_peak = max_abs(model.iter().copied());
            let resp_peak = max_abs(resp.iter().copied());
            let e_all = max_abs(err.iter().copied());
            assert!(
                e_all < 0.01 * hum_peak,
                "residual {e_all} of {hum_peak} at {fs}"
            );
            let e_resp = max_abs(err[stim..stim + (0.03 * fs) as usize].iter().copied());
            assert!(
                e_resp < 0.02 * resp_peak,
                "response changed by {e_resp} at {fs}"
            );
            let amp = f64::from(fit.last_mains_amplitude());
            // 80 + 30 + 15 µV plus four empty harmonics fitted to 1 µV noise.
            assert!((amp - 125.0).abs() < 2.5, "amplitude {amp} at {fs}");
            assert!((f64::from(fit.last_fundamental_amplitude()) - 80.0).abs() < 0.5);
            let (_, slope) = fit.last_offset_and_slope();
            assert!(
                (slope * fs - 400.0).abs() < 20.0,
                "slope {} µV/s",
                slope * fs
            );
        }
    }

    #[test]
    fn fitting_the_whole_sweep_would_distort_the_response() {
        // The counterpart of the mask: a fit that sees the response absorbs part of it.
        let fs = 10000.0;
        let (len, stim, _) = layout(fs);
        let resp = response(fs, stim, len);
        let mut x: Vec<f32> = resp.iter().map(|&v| v as f32).collect();
        let mut fit = MainsFit::new(fs, len, Some(50.0), 7, &[0..len]).unwrap();
        fit.remove(&mut x).unwrap();
        let change = max_abs(x.iter().zip(&resp).map(|(&a, &b)| f64::from(a) - b));
        assert!(change > 0.02 * 100.0, "change {change}");
    }

    #[test]
    fn drift_only_fit_removes_a_line() {
        let fs = 10000.0;
        let (len, _, mask) = layout(fs);
        let mut x: Vec<f32> = (0..len).map(|n| (30.0 - 0.05 * n as f64) as f32).collect();
        let mut fit = MainsFit::new(fs, len, None, 7, &mask).unwrap();
        assert_eq!(fit.harmonics(), 0);
        fit.remove(&mut x).unwrap();
        assert!(max_abs(x.iter().map(|&v| f64::from(v))) < 1e-3);
        assert_eq!(fit.last_mains_amplitude(), 0.0);
    }

    #[test]
    fn harmonics_above_045_fs_are_skipped() {
        // At 1 kHz, 0.45 fs = 450 Hz: 50 Hz harmonics 1..=9 fit, the 10th and above do not.
        let fit = MainsFit::new(1000.0, 1000, Some(50.0), 15, &[0..1000]).unwrap();
        assert_eq!(fit.harmonics(), 9);
    }

    #[test]
    fn fit_errors_are_reported() {
        let fs = 10000.0;
        assert_eq!(
            MainsFit::new(fs, 100, Some(50.0), 3, &[0..101]).err(),
            Some(MainsError::RangeOutside {
                start: 0,
                end: 101,
                len: 100
            })
        );
        // 150 samples is less than one 50 Hz period (200 samples) even though it exceeds the
        // number of coefficients.
        assert_eq!(
            MainsFit::new(fs, 1000, Some(50.0), 3, &[0..100, 50..150]).err(),
            Some(MainsError::MaskTooShort {
                masked: 150,
                needed: 200
            })
        );
        assert_eq!(
            MainsFit::new(fs, 1000, None, 3, &[5..6]).err(),
            Some(MainsError::MaskTooShort {
                masked: 1,
                needed: 2
            })
        );
        assert!(matches!(
            MainsFit::new(0.0, 1000, None, 3, &[0..10]),
            Err(MainsError::BadSampleRate(_))
        ));
        assert!(matches!(
            MainsFit::new(fs, 1000, Some(-50.0), 3, &[0..10]),
            Err(MainsError::BadMainsHz(_))
        ));
        assert_eq!(
            MainsFit::new(fs, 0, None, 3, &[]).err(),
            Some(MainsError::EmptySegment)
        );
        let mut fit = MainsFit::new(fs, 1000, Some(50.0), 3, &[0..400]).unwrap();
        let mut short = vec![0.0f32; 999];
        assert_eq!(
            fit.remove(&mut short),
            Err(MainsError::LengthMismatch {
                got: 999,
                expected: 1000
            })
        );
        let mut bad = vec![1.0f32; 1000];
        bad[10] = f32::NAN;
        assert_eq!(fit.remove(&mut bad), Err(MainsError::NonFinite));
        assert_eq!(bad[0], 1.0);
        let msg = MainsError::MaskTooShort {
            masked: 150,
            needed: 200,
        }
        .to_string();
        assert!(msg.contains("150") && msg.contains("200"), "{msg}");
    }

    fn mains_stretch(fs: f64, f0: f64, len: usize, amp: f64, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..len)
            .map(|n| {
                let w = 2.0 * PI * f0 * n as f64 / fs;
                let hum = amp * (w + 0.3).sin() + 0.4 * amp * (3.0 * w + 1.0).sin();
                (hum + 10.0 * rng.gauss() + 25.0) as f32
            })
            .collect()
    }

    #[test]
    fn detector_finds_50_and_60_hz() {
        for (fs, f0, expect) in [
            (10000.0, 50.0, 50.0),
            (44100.0, 60.0, 60.0),
            (48000.0, 50.2, 50.0),
            (5000.0, 59.8, 60.0),
        ] {
            let len = fs as usize;
            let mut det = MainsDetector::new(fs, len);
            let x = mains_stretch(fs, f0, len + 100, 20.0, 5);
            let est = det.detect(&x);
            assert_eq!(est.hz, Some(expect), "{est:?} for {f0} Hz at {fs}");
            assert!(est.ratio > 10.0, "{est:?}");
            let a = f64::from(est.fundamental_uv);
            assert!((a - 20.0).abs() < 0.05 * 20.0, "amplitude {a} at {fs}");
        }
    }

    #[test]
    fn detector_stays_silent_on_noise_and_short_input() {
        for seed in 0..5 {
            let fs = 10000.0;
            let mut det = MainsDetector::new(fs, 10000);
            let x = mains_stretch(fs, 50.0, 10000, 0.0, seed);
            let est = det.detect(&x);
            assert_eq!(est.hz, None, "{est:?}");
            assert!(est.ratio < DETECT_MIN_RATIO);
            assert_eq!(det.detect(&x[..9999]), MainsEstimate::NONE);
        }
        // Weak hum, 2 µV in 10 µV noise over 1 s, is still found: a Hann periodogram raises a
        // line of amplitude A over white noise σ by A²·N/(6σ²) per bin, here 67.
        let mut det = MainsDetector::new(10000.0, 10000);
        let x = mains_stretch(10000.0, 60.0, 10000, 2.0, 9);
        assert_eq!(det.detect(&x).hz, Some(60.0));
    }
}
