//! Stimulus timing: when exactly was each stimulus delivered?
//!
//! Every later stage (sweep cutting, artifact blanking, latency measurement) is referenced to
//! the stimulus time, so it must be known to a fraction of a sample: a sweep averaged over
//! stimuli that are jittered by a whole sample smears a 10 kHz-wide LSR, and an onset latency
//! is only as good as its time zero. When the source does not deliver stimulus events
//! (device events, a stimulus table), the engine finds them in the signal:
//!
//! - [`TriggerDetector`]: the stimulator's sync pulse recorded on a channel of its own. This
//!   is the preferred signal-derived timing: a clean, large, fast edge.
//! - [`ArtifactDetector`]: the stimulus artifact on an EMG channel, the last resort when
//!   nothing else marks the stimuli.
//!
//! Both detectors are streaming stages in the house style: `new` validates the settings and
//! allocates everything, `process` walks one block of interleaved frames without allocating,
//! and reports each stimulus through a callback as an absolute frame time with fraction
//! (`f64`). Their state is carried sample by sample, so the times do not depend on how the
//! stream is cut into blocks; the tests prove it with random chunkings. A detector may report
//! a stimulus a few milliseconds after it happened (it needs to see the pulse or artifact
//! first); [`TriggerDetector::max_latency_frames`] and [`ArtifactDetector::max_latency_frames`]
//! say how long, which is far less than the sweep's post-stimulus span.

pub mod artifact;
pub mod trigger;

pub use artifact::ArtifactDetector;
pub use trigger::{Polarity, TriggerDetector};

/// What a detector has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectorCounts {
    /// Stimuli reported.
    pub detections: u64,
    /// Candidates refused: inside the refractory period of an earlier stimulus, or (artifact
    /// detector) part of continuous activity such as electrocautery.
    pub suppressed: u64,
}

/// A stimulus-timing setting that cannot work.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StimError {
    #[error("stimulus timing: {name} must be {expected} (got {value})")]
    InvalidSetting {
        name: &'static str,
        expected: &'static str,
        value: f64,
    },
}

pub(crate) fn check(
    name: &'static str,
    value: f64,
    ok: bool,
    expected: &'static str,
) -> Result<(), StimError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(StimError::InvalidSetting {
            name,
            expected,
            value,
        })
    }
}

/// The samples of one channel of an interleaved block (only complete frames; nothing when the
/// layout is impossible, so a bad call cannot panic).
pub(crate) fn channel_samples(
    frames: &[f32],
    channels: usize,
    channel: usize,
) -> impl Iterator<Item = f32> + '_ {
    let (width, usable) = match frames.len().checked_div(channels) {
        Some(n) if channel < channels => (channels, n * channels),
        _ => (1, 0),
    };
    frames[..usable]
        .chunks_exact(width)
        .filter_map(move |f| f.get(channel).copied())
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Deterministic noise and random chunking for the detector tests.

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
        pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * self.uniform()
        }
        /// Standard normal (Box-Muller).
        pub fn gauss(&mut self) -> f64 {
            let u1 = self.uniform().max(1e-300);
            let u2 = self.uniform();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }
    }

    /// Cuts `frames` (interleaved, `channels` wide) into random blocks of 1 to `max` frames and
    /// calls `f(block, start_frame)` for each.
    pub fn random_chunks(
        frames: &[f32],
        channels: usize,
        max: usize,
        seed: u64,
        mut f: impl FnMut(&[f32], u64),
    ) {
        let mut rng = Rng::new(seed);
        let total = frames.len() / channels;
        let mut start = 0usize;
        while start < total {
            let n = 1 + (rng.next_u64() as usize % max).min(total - start - 1);
            f(
                &frames[start * channels..(start + n) * channels],
                start as u64,
            );
            start += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_samples_never_panics_on_bad_layouts() {
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(
            channel_samples(&x, 2, 1).collect::<Vec<_>>(),
            vec![2.0, 4.0]
        );
        assert_eq!(channel_samples(&x, 0, 0).count(), 0);
        assert_eq!(channel_samples(&x, 2, 2).count(), 0);
        assert_eq!(channel_samples(&x, 1, 0).count(), 5);
    }
}
