//! FIR filtering by FFT: a streaming overlap-save convolver and a zero-delay segment filter.
//!
//! Both types are built in a constructor that plans the FFTs (rustfft), transforms the taps
//! once and allocates every buffer; their `process`/`filter_pair` calls run on the DSP thread
//! and do not allocate, lock or panic (`process_with_scratch` with pre-sized scratch).
//!
//! - [`OverlapSave`] is the classic streaming convolver `y[n] = Σ h[k] x[n − k]` for
//!   continuous signals (a live trace, a monitor output). It accepts any chunk size and keeps
//!   its state between calls, so the result does not depend on how the stream is cut; the
//!   price is a fixed block latency of [`OverlapSave::latency_samples`] on top of the
//!   filter's own group delay.
//! - [`SegmentFilter`] filters one finite sweep at a time with the group delay removed
//!   exactly (`out[n] = Σ h[k] x[n + d − k]`, d = (taps − 1)/2): the kernel is circularly
//!   shifted by `d` before its transform, which is the same as multiplying the spectrum by
//!   `e^{+j2πkd/N}`. A linear-phase filter then has zero phase, so a response at 10.0 ms
//!   stays at 10.0 ms at every sample rate. Two real sweeps share one complex FFT (the
//!   "pair trick": a as the real part, b as the imaginary part; since h is real the two
//!   outputs stay in the real and imaginary parts), halving the FFT work per channel.
//!   On the way, from the forward spectrum of the *unfiltered* inputs, it measures the RMS of
//!   the content above a set frequency (Parseval), which the engine uses to recognise
//!   electrocautery: broadband energy where the LSR has little.
//!
//! FFT sizes have only the factors 2, 3 and 5 ([`next_fft_len`]): rustfft's mixed-radix
//! kernels are fastest there, and such numbers are dense (always within a few percent of the
//! length needed), where a power of two can cost up to twice the work.

use std::ops::Range;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// The smallest length `≥ n` (and ≥ 1) whose only prime factors are 2, 3 and 5.
pub fn next_fft_len(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for p in [2, 3, 5] {
            while r.is_multiple_of(p) {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

/// A planned rustfft transform, shared by reference counting.
pub(crate) type FftPlan = Arc<dyn Fft<f32>>;

/// Plans a forward and an inverse FFT of `n` points and a scratch buffer big enough for both.
fn plan(n: usize) -> (FftPlan, FftPlan, Vec<Complex<f32>>) {
    let mut planner = FftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let scratch_len = forward
        .get_inplace_scratch_len()
        .max(inverse.get_inplace_scratch_len());
    (forward, inverse, vec![Complex::default(); scratch_len])
}

/// Spectrum of `taps` placed circularly from index `-shift` in an `n`-point frame, divided by
/// `n` so that the inverse transform needs no further scaling. Computed in f64.
fn kernel_spectrum(taps: &[f32], n: usize, shift: usize) -> Vec<Complex<f32>> {
    let mut frame = vec![Complex::<f64>::default(); n];
    for (k, &h) in taps.iter().enumerate() {
        // (k − shift) mod n; taps.len() ≤ n is guaranteed by the callers.
        let i = (k + n - shift % n) % n;
        frame[i].re += f64::from(h);
    }
    let fft = FftPlanner::<f64>::new().plan_fft_forward(n);
    fft.process(&mut frame);
    let scale = 1.0 / n as f64;
    frame
        .iter()
        .map(|c| Complex::new((c.re * scale) as f32, (c.im * scale) as f32))
        .collect()
}

/// Streaming causal FIR convolution by overlap-save.
///
/// `output[n] = y[n − latency]`, where `y[n] = Σ h[k] x[n − k]` over the whole stream since the
/// last [`reset`](Self::reset) and `latency` = [`latency_samples`](Self::latency_samples)
/// (zeros before). Chunk sizes are free and do not change the result.
pub struct OverlapSave {
    /// Number of taps (≥ 1).
    taps_len: usize,
    /// New samples per FFT block (= block latency).
    hop: usize,
    forward: FftPlan,
    inverse: FftPlan,
    /// Filter spectrum / N.
    spectrum: Vec<Complex<f32>>,
    /// The FFT frame being assembled: `taps_len − 1` samples of history, then `hop` new ones.
    frame: Vec<f32>,
    /// New samples already in `frame` (0..hop).
    fill: usize,
    /// Output of the last completed block, handed out while the next one fills.
    out_block: Vec<f32>,
    buf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl OverlapSave {
    /// Prepares a convolver for `taps` with blocks of at least `block_len` new samples (the FFT
    /// size `taps + block − 1` is rounded up to a 2·3·5-smooth length and the block grown to
    /// fill it). Empty `taps` act as a single zero tap; `block_len` 0 acts as 1. Allocates.
    pub fn new(taps: &[f32], block_len: usize) -> Self {
        let zero = [0.0f32];
        let taps = if taps.is_empty() { &zero[..] } else { taps };
        let taps_len = taps.len();
        let fft_len = next_fft_len(taps_len - 1 + block_len.max(1));
        let hop = fft_len - (taps_len - 1);
        let (forward, inverse, scratch) = plan(fft_len);
        Self {
            taps_len,
            hop,
            forward,
            inverse,
            spectrum: kernel_spectrum(taps, fft_len, 0),
            frame: vec![0.0; fft_len],
            fill: 0,
            out_block: vec![0.0; hop],
            buf: vec![Complex::default(); fft_len],
            scratch,
        }
    }

    /// Samples between an input sample and the output sample that holds `y` for it (the block
    /// length; the filter's own group delay comes on top).
    pub fn latency_samples(&self) -> usize {
        self.hop
    }

    /// FFT length in use.
    pub fn fft_len(&self) -> usize {
        self.frame.len()
    }

    /// Filters `input` into `output`. Processes `min(input.len(), output.len())` samples (the
    /// two are meant to be equally long). Does not allocate.
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) {
        let n = input.len().min(output.len());
        let history = self.taps_len - 1;
        let mut i = 0;
        while i < n {
            let take = (n - i).min(self.hop - self.fill);
            let (f, e) = (self.fill, self.fill + take);
            output[i..i + take].copy_from_slice(&self.out_block[f..e]);
            self.frame[history + f..history + e].copy_from_slice(&input[i..i + take]);
            self.fill = e;
            i += take;
            if self.fill == self.hop {
                self.run_block();
                self.fill = 0;
            }
        }
    }

    fn run_block(&mut self) {
        for (c, &x) in self.buf.iter_mut().zip(&self.frame) {
            *c = Complex::new(x, 0.0);
        }
        self.forward
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        for (c, h) in self.buf.iter_mut().zip(&self.spectrum) {
            *c *= h;
        }
        self.inverse
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        let history = self.taps_len - 1;
        for (o, c) in self.out_block.iter_mut().zip(&self.buf[history..]) {
            *o = c.re;
        }
        // Keep the last `taps_len − 1` input samples as the next frame's history.
        self.frame.copy_within(self.hop.., 0);
    }

    /// Forgets the stream: history and pending output become zero. Does not allocate.
    pub fn reset(&mut self) {
        self.frame.fill(0.0);
        self.out_block.fill(0.0);
        self.fill = 0;
    }
}

/// Why a segment could not be filtered (returned instead of panicking; no allocation).
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum SegmentError {
    #[error("segment filter: a segment of {len} samples exceeds the {max} it was prepared for")]
    TooLong { len: usize, max: usize },
    #[error("segment filter: the paired segments differ in length ({a} and {b} samples)")]
    LengthMismatch { a: usize, b: usize },
    #[error("segment filter: the high-band edge ({0} Hz) must be a positive number")]
    BadHighBand(f64),
}

/// Zero-delay FIR filtering of finite segments, two at a time in one complex FFT.
///
/// `out[n] = Σ_k h[k] · x[n + d − k]`, d = (taps − 1)/2, with x = 0 outside the segment. The
/// first and last `d` output samples therefore see the zero padding and are not valid
/// filtered signal ([`valid_range`](Self::valid_range)); the engine keeps its measurement
/// windows at least `d` samples away from the sweep edges.
pub struct SegmentFilter {
    taps_len: usize,
    delay: usize,
    max_len: usize,
    forward: FftPlan,
    inverse: FftPlan,
    /// Spectrum of the taps shifted left by `delay`, divided by N.
    spectrum: Vec<Complex<f32>>,
    buf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// First FFT bin of the high band; above N/2 means "not measured".
    high_from_bin: usize,
    /// High-band RMS of the last `filter_pair` inputs (a, b), input units.
    high_rms: [f32; 2],
}

impl SegmentFilter {
    /// Prepares for segments up to `max_segment_len` samples. The FFT length is the smallest
    /// 2·3·5-smooth number ≥ `max_segment_len + taps − 1`, the length of the full linear
    /// convolution, so no part of it wraps around the circular FFT and the result equals the
    /// linear convolution with the segment zero-padded. Empty `taps` act as a single zero tap.
    /// Allocates.
    pub fn new(taps: &[f32], max_segment_len: usize) -> Self {
        let zero = [0.0f32];
        let taps = if taps.is_empty() { &zero[..] } else { taps };
        let taps_len = taps.len();
        let delay = (taps_len - 1) / 2;
        let fft_len = next_fft_len(max_segment_len + taps_len - 1);
        let (forward, inverse, scratch) = plan(fft_len);
        Self {
            taps_len,
            delay,
            max_len: max_segment_len,
            forward,
            inverse,
            spectrum: kernel_spectrum(taps, fft_len, delay),
            buf: vec![Complex::default(); fft_len],
            scratch,
            high_from_bin: usize::MAX,
            high_rms: [0.0; 2],
        }
    }

    /// FFT length in use.
    pub fn fft_len(&self) -> usize {
        self.buf.len()
    }

    /// Number of taps.
    pub fn taps_len(&self) -> usize {
        self.taps_len
    }

    /// Compensated group delay `d`, samples.
    pub fn delay_samples(&self) -> usize {
        self.delay
    }

    /// Longest segment accepted.
    pub fn max_segment_len(&self) -> usize {
        self.max_len
    }

    /// Output samples of a `len`-sample segment that do not reach into the zero padding:
    /// `d .. len − d` (empty if the segment is shorter than the filter).
    pub fn valid_range(&self, len: usize) -> Range<usize> {
        let end = len.saturating_sub(self.delay);
        self.delay.min(end)..end
    }

    /// Measure, in later [`filter_pair`](Self::filter_pair) calls, the RMS of the input
    /// content at and above `from_hz` (a frequency at or above Nyquist measures nothing).
    pub fn set_high_band(&mut self, sample_rate_hz: f64, from_hz: f64) -> Result<(), SegmentError> {
        if !(from_hz.is_finite() && from_hz > 0.0 && sample_rate_hz.is_finite())
            || sample_rate_hz <= 0.0
        {
            self.high_from_bin = usize::MAX;
            return Err(SegmentError::BadHighBand(from_hz));
        }
        let n = self.buf.len() as f64;
        let bin = (from_hz * n / sample_rate_hz).ceil();
        self.high_from_bin = if bin > n / 2.0 {
            usize::MAX
        } else {
            (bin as usize).max(1)
        };
        Ok(())
    }

    /// RMS (input units, µV for µV input) above the high-band edge of the unfiltered inputs of
    /// the last [`filter_pair`](Self::filter_pair), over the segment length: `[a, b]`
    /// (`b` is 0 when no second signal was given; both are 0 until
    /// [`set_high_band`](Self::set_high_band)).
    pub fn high_band_rms(&self) -> [f32; 2] {
        self.high_rms
    }

    /// Filters `a` (and `b`, when given, in the same complex FFT) in place with the group
    /// delay compensated. `b` must be as long as `a`; both at most `max_segment_len`.
    /// Does not allocate. On error nothing is modified.
    pub fn filter_pair(
        &mut self,
        a: &mut [f32],
        b: Option<&mut [f32]>,
    ) -> Result<(), SegmentError> {
        let len = a.len();
        if len > self.max_len {
            return Err(SegmentError::TooLong {
                len,
                max: self.max_len,
            });
        }
        if let Some(b) = &b {
            if b.len() != len {
                return Err(SegmentError::LengthMismatch { a: len, b: b.len() });
            }
        }
        let (head, tail) = self.buf.split_at_mut(len);
        match b.as_deref() {
            Some(b) => {
                for ((c, &x), &y) in head.iter_mut().zip(a.iter()).zip(b) {
                    *c = Complex::new(x, y);
                }
            }
            None => {
                for (c, &x) in head.iter_mut().zip(a.iter()) {
                    *c = Complex::new(x, 0.0);
                }
            }
        }
        tail.fill(Complex::default());

        self.forward
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        self.high_rms = self.measure_high_band(len);
        if b.is_none() {
            // Only rounding noise lives in the imaginary part.
            self.high_rms[1] = 0.0;
        }
        for (c, h) in self.buf.iter_mut().zip(&self.spectrum) {
            *c *= h;
        }
        self.inverse
            .process_with_scratch(&mut self.buf, &mut self.scratch);

        for (x, c) in a.iter_mut().zip(&self.buf) {
            *x = c.re;
        }
        if let Some(b) = b {
            for (y, c) in b.iter_mut().zip(&self.buf) {
                *y = c.im;
            }
        }
        Ok(())
    }

    /// Parseval over the bins from the high-band edge to Nyquist of the two real signals
    /// packed in `self.buf` (the forward spectrum Z = A + iB):
    /// `A[k] = (Z[k] + conj Z[N−k]) / 2`, `B[k] = (Z[k] − conj Z[N−k]) / 2i`.
    fn measure_high_band(&self, len: usize) -> [f32; 2] {
        let n = self.buf.len();
        let half = n / 2;
        if self.high_from_bin > half || len == 0 {
            return [0.0; 2];
        }
        let (mut ea, mut eb) = (0.0f64, 0.0f64);
        for k in self.high_from_bin..=half {
            let (Some(&z), Some(&zm)) = (self.buf.get(k), self.buf.get((n - k) % n)) else {
                break;
            };
            let zc = zm.conj();
            let xa = (z + zc) * 0.5;
            let d = (z - zc) * 0.5;
            // d / i = −i·d: (re, im) → (im, −re); only the magnitude is needed.
            let pa = f64::from(xa.norm_sqr());
            let pb = f64::from(d.norm_sqr());
            // Bins 0 < k < N/2 stand for themselves and their mirror N − k.
            let w = if 2 * k == n { 1.0 } else { 2.0 };
            ea += w * pa;
            eb += w * pb;
        }
        let norm = n as f64 * len as f64;
        [(ea / norm).sqrt() as f32, (eb / norm).sqrt() as f32]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::fir;
    use crate::dsp::test_util::{convolve_causal, convolve_centred, max_abs, Rng};
    use std::f64::consts::PI;

    /// Tolerance relative to the signal scale for the f32 FFT paths.
    const REL_TOL: f64 = 1e-4;

    #[test]
    fn fft_lengths_are_smooth_and_minimal() {
        assert_eq!(next_fft_len(0), 1);
        assert_eq!(next_fft_len(7), 8);
        assert_eq!(next_fft_len(10560), 10800);
        assert_eq!(next_fft_len(1001), 1024);
        assert_eq!(next_fft_len(241), 243);
    }

    fn run_chunked(os: &mut OverlapSave, x: &[f32], chunks: &mut dyn FnMut() -> usize) -> Vec<f32> {
        let mut out = vec![0.0; x.len()];
        let mut i = 0;
        while i < x.len() {
            let n = chunks().clamp(1, x.len() - i);
            os.process(&x[i..i + n], &mut out[i..i + n]);
            i += n;
        }
        out
    }

    #[test]
    fn overlap_save_equals_direct_convolution_for_any_chunking() {
        let mut rng = Rng::new(7);
        let x = rng.gauss_vec(6000, 100.0);
        let h = fir::bandpass(10000.0, 30.0, 3000.0, 401).unwrap();
        let y = convolve_causal(&x, &h);
        let scale = max_abs(y.iter().copied());
        for block in [1, 64, 700, 4096] {
            let mut os = OverlapSave::new(&h, block);
            let lat = os.latency_samples();
            assert!(lat >= block);
            let mut outputs = Vec::new();
            outputs.push(run_chunked(&mut os, &x, &mut || usize::MAX));
            os.reset();
            outputs.push(run_chunked(&mut os, &x, &mut || 1));
            os.reset();
            let mut r = Rng::new(block as u64);
            outputs.push(run_chunked(&mut os, &x, &mut || {
                1 + (r.next_u64() % 997) as usize
            }));
            for out in &outputs {
                for n in 0..x.len() {
                    let expect = if n >= lat { y[n - lat] } else { 0.0 };
                    let err = (f64::from(out[n]) - expect).abs();
                    assert!(err < REL_TOL * scale, "block {block} n {n}: err {err}");
                }
            }
            // Chunk independence, directly: the runs agree to float rounding.
            for out in &outputs[1..] {
                assert!(out
                    .iter()
                    .zip(&outputs[0])
                    .all(|(a, b)| (a - b).abs() <= 1e-3));
            }
        }
    }

    #[test]
    fn overlap_save_handles_mismatched_and_tiny_inputs() {
        let mut os = OverlapSave::new(&[1.0], 4);
        assert_eq!(os.latency_samples(), 4);
        let mut out = [9.0f32; 3];
        os.process(&[1.0, 2.0, 3.0, 4.0, 5.0], &mut out);
        assert_eq!(out, [0.0, 0.0, 0.0]);
        let mut os = OverlapSave::new(&[], 0);
        let mut out = [9.0f32; 5];
        os.process(&[1.0; 5], &mut out);
        assert_eq!(out, [0.0; 5]);
    }

    #[test]
    fn segment_filter_equals_delay_compensated_convolution() {
        let mut rng = Rng::new(11);
        let h = fir::bandpass(10000.0, 30.0, 3000.0, 401).unwrap();
        let mut f = SegmentFilter::new(&h, 1800);
        assert_eq!(f.fft_len(), next_fft_len(1800 + 400));
        for len in [1800, 1000, 150] {
            let x = rng.gauss_vec(len, 50.0);
            let expect = convolve_centred(&x, &h);
            let scale = max_abs(expect.iter().copied());
            let mut y = x.clone();
            f.filter_pair(&mut y, None).unwrap();
            let err = max_abs(y.iter().zip(&expect).map(|(&a, &b)| f64::from(a) - b));
            assert!(err < REL_TOL * scale, "len {len}: err {err} scale {scale}");
        }
    }

    #[test]
    fn pair_equals_two_single_runs() {
        let mut rng = Rng::new(3);
        let h = fir::bandpass(48000.0, 30.0, 3000.0, 1921).unwrap();
        let mut f = SegmentFilter::new(&h, 8640);
        f.set_high_band(48000.0, 2000.0).unwrap();
        let a = rng.gauss_vec(8640, 20.0);
        let b: Vec<f32> = (0..8640)
            .map(|i| (300.0 * (2.0 * PI * 50.0 * i as f64 / 48000.0).sin()) as f32)
            .collect();
        let (mut a1, mut b1) = (a.clone(), b.clone());
        f.filter_pair(&mut a1, None).unwrap();
        let ha = f.high_band_rms()[0];
        assert_eq!(f.high_band_rms()[1], 0.0);
        f.filter_pair(&mut b1, None).unwrap();
        let hb = f.high_band_rms()[0];
        let (mut a2, mut b2) = (a.clone(), b.clone());
        f.filter_pair(&mut a2, Some(&mut b2)).unwrap();
        let scale = max_abs(b1.iter().map(|&v| f64::from(v)));
        let ea = max_abs(a1.iter().zip(&a2).map(|(&p, &q)| f64::from(p - q)));
        let eb = max_abs(b1.iter().zip(&b2).map(|(&p, &q)| f64::from(p - q)));
        assert!(ea < REL_TOL * scale && eb < REL_TOL * scale, "{ea} {eb}");
        let [pa, pb] = f.high_band_rms();
        assert!((pa - ha).abs() < 1e-3 * ha, "{pa} vs {ha}");
        // The 50 Hz sine has (almost) nothing above 2 kHz; leakage from the zero-padded edges
        // of a 300 µV sine stays far below the noise's ~17 µV.
        assert!((pb - hb).abs() < 0.05 && pb < 0.5, "{pb} vs {hb}");
    }

    #[test]
    fn segment_errors_leave_the_input_untouched() {
        let h = fir::bandpass(10000.0, 30.0, 3000.0, 401).unwrap();
        let mut f = SegmentFilter::new(&h, 100);
        let mut a = vec![1.0f32; 101];
        assert_eq!(
            f.filter_pair(&mut a, None),
            Err(SegmentError::TooLong { len: 101, max: 100 })
        );
        assert!(a.iter().all(|&v| v == 1.0));
        let mut a = vec![1.0f32; 50];
        let mut b = vec![1.0f32; 49];
        assert_eq!(
            f.filter_pair(&mut a, Some(&mut b)),
            Err(SegmentError::LengthMismatch { a: 50, b: 49 })
        );
        assert!(f.set_high_band(10000.0, -5.0).is_err());
        assert_eq!(f.valid_range(1000), 200..800);
        assert!(f.valid_range(300).is_empty());
        let mut empty: [f32; 0] = [];
        assert!(f.filter_pair(&mut empty, None).is_ok());
    }

    #[test]
    fn high_band_rms_of_white_noise_matches_the_band_fraction() {
        // White noise of variance σ² spreads its power evenly over 0..fs/2, so the RMS above f
        // is σ·sqrt(1 − 2f/fs). With 9000 samples the estimate's relative spread is ~1%.
        let fs = 10000.0;
        let sigma = 40.0;
        let h = fir::bandpass(fs, 30.0, 3000.0, 401).unwrap();
        let mut f = SegmentFilter::new(&h, 9000);
        let mut rng = Rng::new(99);
        for from in [1000.0, 2000.0, 4000.0] {
            f.set_high_band(fs, from).unwrap();
            let mut a = rng.gauss_vec(9000, sigma);
            let mut b = rng.gauss_vec(9000, sigma / 4.0);
            f.filter_pair(&mut a, Some(&mut b)).unwrap();
            let expect = sigma * (1.0 - 2.0 * from / fs).sqrt();
            let [ra, rb] = f.high_band_rms();
            assert!(
                (f64::from(ra) / expect - 1.0).abs() < 0.04,
                "{ra} vs {expect}"
            );
            assert!((f64::from(rb) / (expect / 4.0) - 1.0).abs() < 0.04, "{rb}");
        }
        f.set_high_band(fs, 6000.0).unwrap();
        let mut a = rng.gauss_vec(9000, sigma);
        f.filter_pair(&mut a, None).unwrap();
        assert_eq!(f.high_band_rms(), [0.0, 0.0]);
    }

    /// Hilbert envelope |x + i·H{x}| by FFT (test reference, allocates).
    fn envelope(x: &[f32]) -> Vec<f64> {
        let n = x.len();
        let mut buf: Vec<Complex<f64>> =
            x.iter().map(|&v| Complex::new(f64::from(v), 0.0)).collect();
        let mut planner = FftPlanner::<f64>::new();
        planner.plan_fft_forward(n).process(&mut buf);
        for (k, c) in buf.iter_mut().enumerate() {
            if k == 0 || 2 * k == n {
                continue;
            }
            *c *= if 2 * k < n { 2.0 } else { 0.0 };
        }
        planner.plan_fft_inverse(n).process(&mut buf);
        buf.iter().map(|c| c.norm() / n as f64).collect()
    }

    fn argmax(x: &[f64]) -> usize {
        x.iter()
            .enumerate()
            .fold(
                (0, f64::MIN),
                |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) },
            )
            .0
    }

    /// First index where |x| reaches `frac` of its maximum.
    fn first_crossing(x: &[f32], frac: f32) -> usize {
        let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        x.iter().position(|v| v.abs() >= frac * peak).unwrap()
    }

    #[test]
    fn latency_is_preserved_at_every_rate() {
        for fs in [5000.0, 10000.0, 44100.0, 48000.0] {
            let taps = fir::taps_for_length(fs, 40.0);
            let h = fir::bandpass(fs, 30.0, 3000.0, taps).unwrap();
            let stim = (0.100 * fs).round() as usize;
            let len = stim + (0.080 * fs).round() as usize;
            let at = stim as f64 + 0.010 * fs; // 10.0 ms after the stimulus sample
            let mut f = SegmentFilter::new(&h, len);

            // Gaussian-windowed 300 Hz burst (σ = 2 ms) centred at 10.0 ms.
            let burst: Vec<f32> = (0..len)
                .map(|i| {
                    let t = (i as f64 - at) / fs;
                    (100.0 * (-0.5 * (t / 0.002).powi(2)).exp() * (2.0 * PI * 300.0 * t).cos())
                        as f32
                })
                .collect();
            // Sharp-onset wavelet starting at 10.0 ms: (t/τ)·e^(1 − t/τ)·sin(2π·600·t),
            // τ = 1 ms: its onset kink carries little energy outside the pass band.
            let wavelet: Vec<f32> = (0..len)
                .map(|i| {
                    let t = (i as f64 - at) / fs;
                    if t <= 0.0 {
                        return 0.0;
                    }
                    let u = t / 0.001;
                    (100.0 * u * (1.0 - u).exp() * (2.0 * PI * 600.0 * t).sin()) as f32
                })
                .collect();
            let (mut fb, mut fw) = (burst.clone(), wavelet.clone());
            f.filter_pair(&mut fb, Some(&mut fw)).unwrap();

            let peak = argmax(&envelope(&fb)) as f64;
            assert!(
                (peak - at).abs() <= 1.0,
                "burst peak {peak} vs {at} at {fs}"
            );
            let onset_in = first_crossing(&wavelet, 0.1) as f64;
            let onset_out = first_crossing(&fw, 0.1) as f64;
            assert!(
                (onset_out - onset_in).abs() <= 1.0,
                "onset {onset_out} vs {onset_in} at {fs}"
            );
            // The input's 10% crossing is itself within a fraction of a ms of 10.0 ms.
            assert!(onset_in - at < 0.0002 * fs + 1.0);
        }
    }
}
