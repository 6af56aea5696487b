//! Seeded random numbers for the simulated patient, written here so that a seed means the
//! same patient forever (no dependence on a crate's version or algorithm choice).
//!
//! Two kinds, for two jobs:
//! - [`Rng`] (xoshiro256**, seeded through SplitMix64) draws the *physiology*: stimulus times,
//!   amplitudes, latencies, episodes. Each concern gets its own stream, keyed by the seed and
//!   a stream name (and the channel's stable slot), so adding a channel or changing the
//!   sample rate never shifts another stream's numbers.
//! - [`normal_at`] is counter-based: the `n`-th standard normal of a keyed stream is a pure
//!   function of `(key, n)`. The per-sample noise uses it, so any sample of the recording can
//!   be computed without generating the ones before it (the renderer can seek, and the ground
//!   truth can look at exactly the samples the stream will produce).

use std::f64::consts::TAU;

/// SplitMix64's increment (the golden ratio in 64 bits).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a strong 64-bit mixer.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A key for an independent stream: the seed mixed with each of `parts` in turn.
pub(crate) fn stream_key(seed: u64, parts: &[u64]) -> u64 {
    let mut k = mix64(seed ^ 0x5EED_0F1A_7E5A_1D00);
    for &p in parts {
        k = mix64(k ^ mix64(p.wrapping_add(GOLDEN)));
    }
    k
}

/// The `n`-th standard normal value of the counter-based stream `key` (Box–Muller on the two
/// 32-bit halves of one SplitMix64 output; the tail is cut at about 6.7 sigma).
pub(crate) fn normal_at(key: u64, n: u64) -> f64 {
    let h = mix64(key.wrapping_add(n.wrapping_add(1).wrapping_mul(GOLDEN)));
    let u1 = ((h >> 32) as f64 + 1.0) * (1.0 / 4_294_967_296.0); // (0, 1]
    let u2 = (h & 0xFFFF_FFFF) as f64 * (1.0 / 4_294_967_296.0); // [0, 1)
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// xoshiro256** (Blackman and Vigna), the sequential generator for physiology draws.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    s: [u64; 4],
    spare: Option<f64>,
}

impl Rng {
    /// A generator whose state is filled from `key` by SplitMix64 (never all zero).
    pub(crate) fn new(key: u64) -> Self {
        let mut x = key;
        let mut s = [0u64; 4];
        for v in &mut s {
            x = x.wrapping_add(GOLDEN);
            *v = mix64(x);
        }
        if s == [0; 4] {
            s[0] = GOLDEN;
        }
        Self { s, spare: None }
    }

    /// The generator of the named stream of `seed` (see [`stream_key`]).
    pub(crate) fn stream(seed: u64, parts: &[u64]) -> Self {
        Self::new(stream_key(seed, parts))
    }

    #[cfg(test)]
    fn from_state(s: [u64; 4]) -> Self {
        Self { s, spare: None }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1), 53 bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in [lo, hi).
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in [lo, hi] (inclusive).
    /// Log-uniform in `[lo, hi)` (both > 0): as many draws per decade at every scale.
    pub(crate) fn log_range(&mut self, lo: f64, hi: f64) -> f64 {
        (self.range(lo.ln(), hi.ln())).exp()
    }

    pub(crate) fn int(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi.saturating_sub(lo)) + 1;
        lo + (self.next_u64() % span) as u32
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// +1 or -1 with equal probability.
    pub(crate) fn sign(&mut self) -> f64 {
        if self.chance(0.5) {
            1.0
        } else {
            -1.0
        }
    }

    /// Standard normal (Box–Muller; the second value of each pair is kept for the next call).
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (TAU * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
    }

    /// Exponential with the given mean.
    pub(crate) fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }

    /// Log-normal with mean 1 and coefficient of variation `cv`.
    pub(crate) fn lognormal_unit_mean(&mut self, cv: f64) -> f64 {
        let sigma2 = (1.0 + cv * cv).ln();
        (self.normal() * sigma2.sqrt() - 0.5 * sigma2).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro256starstar_matches_the_reference_sequence() {
        // First outputs of the reference implementation from state {1, 2, 3, 4}.
        let mut r = Rng::from_state([1, 2, 3, 4]);
        let expected: [u64; 6] = [
            11520,
            0,
            1509978240,
            1215971899390074240,
            1216172134540287360,
            607988272756665600,
        ];
        for e in expected {
            assert_eq!(r.next_u64(), e);
        }
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(7, &[1, 2]).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = Rng::stream(7, &[1, 2]);
        let mut y = Rng::stream(7, &[1, 3]);
        let mut z = Rng::stream(8, &[1, 2]);
        let (vx, vy, vz) = (x.next_u64(), y.next_u64(), z.next_u64());
        assert!(vx != vy && vx != vz && vy != vz);
    }

    fn mean_var(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        (m, v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n)
    }

    #[test]
    fn sequential_normals_have_unit_variance() {
        let mut r = Rng::new(42);
        let v: Vec<f64> = (0..200_000).map(|_| r.normal()).collect();
        let (m, var) = mean_var(&v);
        // Standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for the variance.
        assert!(m.abs() < 0.01, "mean {m}");
        assert!((var - 1.0).abs() < 0.015, "variance {var}");
    }

    #[test]
    fn counter_normals_have_unit_variance_and_no_lag_correlation() {
        let v: Vec<f64> = (0..200_000u64).map(|n| normal_at(99, n)).collect();
        let (m, var) = mean_var(&v);
        assert!(m.abs() < 0.01, "mean {m}");
        assert!((var - 1.0).abs() < 0.015, "variance {var}");
        let lag1 = v.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / v.len() as f64;
        assert!(lag1.abs() < 0.01, "lag-1 correlation {lag1}");
        assert_eq!(normal_at(99, 12345), v[12345]);
    }

    #[test]
    fn lognormal_has_the_requested_mean_and_cv() {
        let mut r = Rng::new(3);
        let v: Vec<f64> = (0..200_000).map(|_| r.lognormal_unit_mean(0.3)).collect();
        let (m, var) = mean_var(&v);
        assert!((m - 1.0).abs() < 0.005, "mean {m}");
        assert!((var.sqrt() / m - 0.3).abs() < 0.01, "cv {}", var.sqrt() / m);
        assert!(v.iter().all(|&x| x > 0.0));
    }

    #[test]
    fn int_covers_its_inclusive_range() {
        let mut r = Rng::new(5);
        let mut seen = [false; 3];
        for _ in 0..100 {
            let k = r.int(1, 3);
            assert!((1..=3).contains(&k));
            seen[(k - 1) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
