//! Band-pass FIR design: a Kaiser-windowed sinc, linear phase, exactly zero gain at DC.
//!
//! Called once, when the engine is prepared (any thread; it allocates the tap vector). The
//! taps are then applied by [`super::overlap_save`].
//!
//! Design choices:
//! - **Window method with a Kaiser window.** One parameter, `beta`, sets the stopband
//!   attenuation independently of the length; the length alone sets the transition width.
//!   We use `beta` = 0.1102·(A − 8.7) with A = 60 dB (Kaiser's formula), so [`KAISER_BETA`]
//!   ≈ 5.65 gives sidelobes about 60 dB down and passband ripple about ±0.01 dB. The full
//!   transition width (passband edge to stopband edge) is then about
//!   (A − 7.95) / (2.285 · 2π · (taps − 1)) · fs, i.e. 91 Hz for a 40 ms filter, centred on
//!   each corner ([`transition_width_hz`]).
//! - **Difference of two unity-DC-gain low-passes.** The band-pass is
//!   `lowpass(high) − lowpass(low)`, each low-pass normalised to a DC gain of exactly 1, so the
//!   band-pass has a DC gain of exactly 0 (in f64, then corrected once more after rounding
//!   to f32 through the centre tap). A slow electrode drift or an offset that survives the
//!   mains/drift fit is removed, not passed at a fraction of a percent.
//! - **Symmetric taps, odd length.** Linear phase with an integer group delay of
//!   `(taps − 1) / 2` samples, which [`super::overlap_save::SegmentFilter`] removes exactly, so
//!   latencies are not shifted at any sample rate.
//! - **High corner capped at 0.45 fs** ([`MAX_HIGH_FRACTION`]): a 3 kHz corner at 5 kHz would
//!   sit above Nyquist; 0.45 fs keeps the upper transition band (about ±45 Hz for 40 ms)
//!   below Nyquist at every rate we support.
//! - **What a 40 ms filter cannot do.** The low corner (30 Hz by default) lies inside the
//!   ~91 Hz transition band, so there is no real stopband below it: the gain rises from exactly
//!   0 at DC (quadratically in frequency) through about −6 dB near the corner to the passband
//!   near 3 × low. 50/60 Hz mains therefore passes almost unattenuated: it is removed by the
//!   least-squares fit in [`super::mains`], not by this filter.

use std::f64::consts::PI;

/// Designed stopband attenuation, dB.
pub const STOPBAND_DB: f64 = 60.0;

/// Kaiser `beta` for [`STOPBAND_DB`]: 0.1102 · (60 − 8.7) (Kaiser's empirical formula for
/// A > 50 dB).
pub const KAISER_BETA: f64 = 0.1102 * (STOPBAND_DB - 8.7);

/// The high corner is capped at this fraction of the sample rate.
pub const MAX_HIGH_FRACTION: f64 = 0.45;

/// Why a band-pass could not be designed.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum DesignError {
    #[error("band-pass filter: the sample rate ({0} Hz) must be a positive number")]
    BadSampleRate(f64),
    #[error(
        "band-pass filter: the corner frequencies ({low} Hz, {high} Hz) must be positive numbers"
    )]
    BadCorner { low: f64, high: f64 },
    #[error(
        "band-pass filter: the low corner ({low} Hz) must be below the high corner ({high} Hz, \
         after capping at 45% of the sample rate)"
    )]
    LowNotBelowHigh { low: f64, high: f64 },
    #[error("band-pass filter: the number of taps ({0}) must be odd, for an integer group delay")]
    EvenTaps(usize),
    #[error(
        "band-pass filter: {taps} taps are too few; the filter must span at least one period \
         of the low corner ({needed} taps) and never fewer than 3"
    )]
    TooFewTaps { taps: usize, needed: usize },
}

/// The odd number of taps (at least 3) closest to `length_ms` at `sample_rate_hz`
/// (a filter of `n` taps spans `n` sample periods). Non-finite or non-positive inputs give 3.
pub fn taps_for_length(sample_rate_hz: f64, length_ms: f64) -> usize {
    let samples = sample_rate_hz * length_ms / 1000.0;
    if !samples.is_finite() || samples <= 3.0 {
        return 3;
    }
    // Nearest odd integer to `samples`: 2·round((s − 1) / 2) + 1.
    let half = ((samples - 1.0) / 2.0).round();
    (2.0 * half) as usize + 1
}

/// Group delay of a symmetric FIR with `taps` taps, in samples.
pub fn group_delay_samples(taps: usize) -> usize {
    taps.saturating_sub(1) / 2
}

/// Full transition width (passband edge to stopband edge) of the Kaiser design, Hz, from
/// Kaiser's length formula `taps − 1 = (A − 7.95) / (2.285 · Δω)`.
pub fn transition_width_hz(sample_rate_hz: f64, taps: usize) -> f64 {
    let order = taps.saturating_sub(1).max(1) as f64;
    (STOPBAND_DB - 7.95) / (2.285 * 2.0 * PI * order) * sample_rate_hz
}

/// The high corner actually used: `high_hz` capped at 0.45 fs.
pub fn effective_high_hz(sample_rate_hz: f64, high_hz: f64) -> f64 {
    high_hz.min(MAX_HIGH_FRACTION * sample_rate_hz)
}

/// Linear-phase band-pass from `low_hz` to `high_hz` (capped at 0.45 fs), `taps` long (odd).
///
/// A Kaiser-windowed sinc with `beta` = [`KAISER_BETA`] (≈ 60 dB stopband), built as the
/// difference of two low-passes each normalised to unity DC gain: the DC gain is 0 to float
/// precision. The corners are the −6 dB points of the two low-pass edges.
pub fn bandpass(
    sample_rate_hz: f64,
    low_hz: f64,
    high_hz: f64,
    taps: usize,
) -> Result<Vec<f32>, DesignError> {
    if !(sample_rate_hz.is_finite() && sample_rate_hz > 0.0) {
        return Err(DesignError::BadSampleRate(sample_rate_hz));
    }
    if !(low_hz.is_finite() && high_hz.is_finite() && low_hz > 0.0 && high_hz > 0.0) {
        return Err(DesignError::BadCorner {
            low: low_hz,
            high: high_hz,
        });
    }
    let high = effective_high_hz(sample_rate_hz, high_hz);
    if low_hz >= high {
        return Err(DesignError::LowNotBelowHigh { low: low_hz, high });
    }
    if taps.is_multiple_of(2) {
        return Err(DesignError::EvenTaps(taps));
    }
    let needed = ((sample_rate_hz / low_hz).ceil() as usize).max(3);
    if taps < needed {
        return Err(DesignError::TooFewTaps { taps, needed });
    }

    let window = kaiser_window(taps, KAISER_BETA);
    let lp_high = windowed_lowpass(&window, high / sample_rate_hz);
    let lp_low = windowed_lowpass(&window, low_hz / sample_rate_hz);
    let mut h: Vec<f32> = lp_high
        .iter()
        .zip(&lp_low)
        .map(|(a, b)| (a - b) as f32)
        .collect();

    // Rounding to f32 leaves a DC residue of order 1e-8; fold it into the centre tap (the one
    // tap that has no mirror, so symmetry is kept).
    let centre = taps / 2;
    let residue: f64 = h.iter().map(|&v| f64::from(v)).sum();
    h[centre] = (f64::from(h[centre]) - residue) as f32;
    Ok(h)
}

/// Kaiser-windowed sinc low-pass with its −6 dB corner at `high_hz` (capped at 0.45 fs),
/// DC gain exactly 1 (to float precision), symmetric, odd length.
///
/// This is the FIR side of the conditioning band-pass when its high-pass side is done by the
/// least-squares offset and drift fit: a linear-phase high-pass spreads the slow part of a
/// response symmetrically in time, so it would put a precursor deflection *before* the LSR
/// and pull its onset early.
pub fn lowpass(sample_rate_hz: f64, high_hz: f64, taps: usize) -> Result<Vec<f32>, DesignError> {
    if !(sample_rate_hz.is_finite() && sample_rate_hz > 0.0) {
        return Err(DesignError::BadSampleRate(sample_rate_hz));
    }
    if !(high_hz.is_finite() && high_hz > 0.0) {
        return Err(DesignError::BadCorner {
            low: 0.0,
            high: high_hz,
        });
    }
    if taps.is_multiple_of(2) {
        return Err(DesignError::EvenTaps(taps));
    }
    if taps < 3 {
        return Err(DesignError::TooFewTaps { taps, needed: 3 });
    }
    let high = effective_high_hz(sample_rate_hz, high_hz);
    let window = kaiser_window(taps, KAISER_BETA);
    let mut h: Vec<f32> = windowed_lowpass(&window, high / sample_rate_hz)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let centre = taps / 2;
    let sum: f64 = h.iter().map(|&v| f64::from(v)).sum();
    h[centre] = (f64::from(h[centre]) + 1.0 - sum) as f32;
    Ok(h)
}

/// Windowed-sinc low-pass with cutoff `fc` (cycles per sample), normalised to DC gain 1.
fn windowed_lowpass(window: &[f64], fc: f64) -> Vec<f64> {
    let centre = (window.len() as f64 - 1.0) / 2.0;
    let mut h: Vec<f64> = window
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let m = i as f64 - centre;
            let sinc = if m == 0.0 {
                2.0 * fc
            } else {
                (2.0 * PI * fc * m).sin() / (PI * m)
            };
            sinc * w
        })
        .collect();
    let sum: f64 = h.iter().sum();
    if sum != 0.0 {
        h.iter_mut().for_each(|v| *v /= sum);
    }
    h
}

/// Kaiser window of `n` points: `I0(beta · sqrt(1 − (2i/(n−1) − 1)²)) / I0(beta)`.
pub fn kaiser_window(n: usize, beta: f64) -> Vec<f64> {
    if n == 1 {
        return vec![1.0];
    }
    let denom = bessel_i0(beta);
    (0..n)
        .map(|i| {
            let r = 2.0 * i as f64 / (n - 1) as f64 - 1.0;
            bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / denom
        })
        .collect()
}

/// Modified Bessel function of the first kind, order 0, by its power series
/// `Σ ((x/2)^k / k!)²`, summed until the terms no longer change the result (fine for the
/// arguments a window needs, |x| < 50).
pub fn bessel_i0(x: f64) -> f64 {
    let half = x / 2.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..500 {
        let f = half / k as f64;
        term *= f * f;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Magnitude of the frequency response of `taps` at `freq_hz`: `|Σ h[k] e^{−jωk}|` in f64.
pub fn magnitude_at(taps: &[f32], sample_rate_hz: f64, freq_hz: f64) -> f64 {
    let w = 2.0 * PI * freq_hz / sample_rate_hz;
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (k, &h) in taps.iter().enumerate() {
        let (s, c) = (w * k as f64).sin_cos();
        re += f64::from(h) * c;
        im -= f64::from(h) * s;
    }
    re.hypot(im)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATES: [f64; 4] = [5000.0, 10000.0, 44100.0, 48000.0];
    const LOW: f64 = 30.0;
    const HIGH: f64 = 3000.0;
    const LENGTH_MS: f64 = 40.0;

    fn default_design(fs: f64) -> Vec<f32> {
        bandpass(fs, LOW, HIGH, taps_for_length(fs, LENGTH_MS)).unwrap()
    }

    fn db(g: f64) -> f64 {
        20.0 * g.log10()
    }

    #[test]
    fn taps_are_odd_and_nearest_to_the_duration() {
        assert_eq!(taps_for_length(10000.0, 40.0), 401);
        assert_eq!(taps_for_length(48000.0, 40.0), 1921);
        // 44.1 kHz · 40 ms = 1764 samples: 1763 and 1765 are equally close; either is odd.
        assert_eq!(taps_for_length(44100.0, 40.0) % 2, 1);
        assert!(taps_for_length(44100.0, 40.0).abs_diff(1764) == 1);
        // 10 kHz · 40.25 ms = 402.5 samples: nearest odd is 403.
        assert_eq!(taps_for_length(10000.0, 40.25), 403);
        assert_eq!(taps_for_length(10000.0, 0.1), 3);
        assert_eq!(taps_for_length(f64::NAN, 40.0), 3);
    }

    #[test]
    fn group_delay_is_half_the_order() {
        assert_eq!(group_delay_samples(401), 200);
        assert_eq!(group_delay_samples(1), 0);
        assert_eq!(group_delay_samples(0), 0);
    }

    #[test]
    fn bessel_i0_matches_reference_values() {
        // Abramowitz & Stegun table 9.8: I0(1) = 1.266065878, I0(5) = 27.23987182.
        assert!((bessel_i0(0.0) - 1.0).abs() < 1e-15);
        assert!((bessel_i0(1.0) - 1.266_065_878).abs() < 1e-8);
        assert!((bessel_i0(5.0) - 27.239_871_82).abs() < 1e-6);
    }

    #[test]
    fn kaiser_window_is_symmetric_and_peaks_at_one() {
        let w = kaiser_window(11, KAISER_BETA);
        assert!((w[5] - 1.0).abs() < 1e-15);
        for i in 0..11 {
            assert!((w[i] - w[10 - i]).abs() < 1e-15);
        }
        assert!((w[0] - 1.0 / bessel_i0(KAISER_BETA)).abs() < 1e-15);
    }

    #[test]
    fn dc_gain_is_zero_and_taps_are_symmetric() {
        for fs in RATES {
            let h = default_design(fs);
            assert_eq!(h.len() % 2, 1);
            assert!(magnitude_at(&h, fs, 0.0) < 1e-6, "DC gain at {fs}");
            let n = h.len();
            for i in 0..n / 2 {
                assert_eq!(h[i], h[n - 1 - i], "asymmetric tap {i} at {fs}");
            }
        }
    }

    #[test]
    fn passband_is_flat_within_half_a_db() {
        for fs in RATES {
            let h = default_design(fs);
            let hi = effective_high_hz(fs, HIGH);
            let (f0, f1) = (3.0 * LOW, 0.8 * hi);
            for i in 0..=200 {
                let f = f0 + (f1 - f0) * i as f64 / 200.0;
                let g = db(magnitude_at(&h, fs, f));
                assert!(g.abs() < 0.5, "{g:.3} dB at {f:.0} Hz, fs {fs}");
            }
        }
    }

    #[test]
    fn high_corner_is_the_half_amplitude_point() {
        // A windowed sinc's transition is antisymmetric about its cutoff: gain 0.5 there.
        for fs in RATES {
            let h = default_design(fs);
            let g = magnitude_at(&h, fs, effective_high_hz(fs, HIGH));
            assert!(
                (g - 0.5).abs() < 0.01,
                "gain {g} at the high corner, fs {fs}"
            );
        }
    }

    #[test]
    fn stopband_above_the_band_is_at_least_40_db_down() {
        // Theory: beyond the high corner plus half the transition width the Kaiser design is
        // ~60 dB down. We test from corner + one full width to Nyquist against 40 dB.
        for fs in RATES {
            let h = default_design(fs);
            let f0 = effective_high_hz(fs, HIGH) + transition_width_hz(fs, h.len());
            let f1 = fs / 2.0;
            for i in 0..=400 {
                let f = f0 + (f1 - f0) * i as f64 / 400.0;
                let g = db(magnitude_at(&h, fs, f));
                assert!(g < -40.0, "only {g:.1} dB at {f:.0} Hz, fs {fs}");
            }
        }
    }

    #[test]
    fn gain_near_dc_rises_quadratically_from_zero() {
        // A(f) = Σ h[k] cos(ω (k − d)) with A(0) = 0, so A(f) ≈ −ω²/2 · Σ h[k](k − d)²:
        // the response below the low corner is governed by the second moment of the taps,
        // and with a 40 ms filter it is > 40 dB down only below a few Hz.
        for fs in RATES {
            let h = default_design(fs);
            let d = group_delay_samples(h.len()) as f64;
            let m2: f64 = h
                .iter()
                .enumerate()
                .map(|(k, &v)| f64::from(v) * (k as f64 - d).powi(2))
                .sum();
            for f in [0.25, 0.5, 1.0] {
                let w = 2.0 * PI * f / fs;
                let predicted = (w * w / 2.0 * m2).abs();
                let g = magnitude_at(&h, fs, f);
                assert!(
                    (g - predicted).abs() < 0.01 * predicted,
                    "{g:e} vs {predicted:e} at {f} Hz"
                );
                assert!(db(g) < -40.0, "{:.1} dB at {f} Hz, fs {fs}", db(g));
            }
            // And the band edge is not a stopband: 50 Hz mains is within a few dB of unity.
            assert!(db(magnitude_at(&h, fs, 50.0)) > -6.0);
        }
    }

    #[test]
    fn design_errors_are_reported() {
        assert_eq!(
            bandpass(0.0, 30.0, 3000.0, 401),
            Err(DesignError::BadSampleRate(0.0))
        );
        assert!(matches!(
            bandpass(10000.0, -1.0, 3000.0, 401),
            Err(DesignError::BadCorner { .. })
        ));
        assert!(matches!(
            bandpass(10000.0, 3000.0, 300.0, 401),
            Err(DesignError::LowNotBelowHigh { .. })
        ));
        // The 5 kHz cap (0.45 · 5000 = 2250 Hz) puts a 2500 Hz low corner above the high one.
        assert!(matches!(
            bandpass(5000.0, 2500.0, 3000.0, 401),
            Err(DesignError::LowNotBelowHigh { .. })
        ));
        assert_eq!(
            bandpass(10000.0, 30.0, 3000.0, 400),
            Err(DesignError::EvenTaps(400))
        );
        assert_eq!(
            bandpass(10000.0, 30.0, 3000.0, 201),
            Err(DesignError::TooFewTaps {
                taps: 201,
                needed: 334
            })
        );
        let msg = DesignError::EvenTaps(400).to_string();
        assert!(msg.contains("400") && msg.contains("odd"), "{msg}");
    }

    #[test]
    fn lowpass_has_unity_dc_and_a_corner_at_the_setting() {
        for fs in [5_000.0, 48_000.0] {
            let taps = taps_for_length(fs, 4.0);
            let h = lowpass(fs, 3000.0, taps).unwrap();
            let dc: f64 = h.iter().map(|&v| f64::from(v)).sum();
            assert!((dc - 1.0).abs() < 1e-6, "DC gain {dc}");
            let corner = effective_high_hz(fs, 3000.0);
            assert!((magnitude_at(&h, fs, corner) - 0.5).abs() < 0.02);
            assert!(magnitude_at(&h, fs, 300.0) > 0.99);
            for i in 0..h.len() / 2 {
                assert_eq!(h[i], h[h.len() - 1 - i]);
            }
        }
        assert!(lowpass(10_000.0, 3000.0, 4).is_err());
    }
}
