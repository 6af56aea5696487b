//! Deterministic helpers shared by the dsp unit tests: a seeded generator and reference
//! (direct, f64) convolutions to compare the FFT paths against.

/// SplitMix64: small, seeded, good enough for test signals.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn gauss(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    pub fn gauss_vec(&mut self, n: usize, sigma: f64) -> Vec<f32> {
        (0..n).map(|_| (sigma * self.gauss()) as f32).collect()
    }
}

/// Causal convolution `y[n] = Σ h[k] x[n − k]`, x = 0 before the start, same length as x.
pub fn convolve_causal(x: &[f32], h: &[f32]) -> Vec<f64> {
    (0..x.len())
        .map(|n| {
            h.iter()
                .enumerate()
                .take(n + 1)
                .map(|(k, &hk)| f64::from(hk) * f64::from(x[n - k]))
                .sum()
        })
        .collect()
}

/// Delay-compensated convolution `y[n] = Σ h[k] x[n + d − k]`, d = (taps − 1)/2, x = 0
/// outside the segment.
pub fn convolve_centred(x: &[f32], h: &[f32]) -> Vec<f64> {
    let d = (h.len() - 1) / 2;
    (0..x.len())
        .map(|n| {
            h.iter()
                .enumerate()
                .filter_map(|(k, &hk)| {
                    let i = (n + d).checked_sub(k)?;
                    x.get(i).map(|&v| f64::from(hk) * f64::from(v))
                })
                .sum()
        })
        .collect()
}

pub fn max_abs(x: impl IntoIterator<Item = f64>) -> f64 {
    x.into_iter().fold(0.0, |m, v| m.max(v.abs()))
}
