//! Detection: from stimuli and samples to per-sweep verdicts and per-channel states.
//!
//! - [`history`]: the last second or so of every channel, where sweeps are cut from;
//! - [`sweep`]: conditioning, measures and the per-sweep judgement of one stimulus;
//! - [`measure`]: the measures themselves (noise, peak-to-peak, SNR, onset, crosstalk);
//! - [`tracker`] and [`criterion`]: what is remembered per channel, and the state machine
//!   that turns sweeps into a monitored state;
//! - [`engine`]: the scheduler that ties them to a stream of samples and events.
//!
//! ## How a sweep is judged, and why
//!
//! A sweep of an LSR channel is **rejected** (cannot be judged, never counts as absent) when
//! it is incomplete, straddles lost samples, carries electrocautery (high-band energy far above
//! the channel's clean level, or saturation with raised high-band energy), saturates, comes
//! without a direct response (the stimulus did not reach the nerve, or neuromuscular
//! blockade), or its pre-stimulus noise is far above the channel's running level (spontaneous
//! EMG: the noise floor is not a noise floor). Otherwise it is **present** when the largest
//! sub-window RMS in the LSR window reaches `present_snr` times the noise RMS, **absent** only
//! when it stays at or below `absent_snr` *and* its peak-to-peak stays near the noise's, and
//! **equivocal** (rejected) in between. The stimulus artifact cannot fool it (blanked before
//! filtering), nor the direct response's crosstalk or the F-wave (subtracted, using the direct
//! channel), nor mains (fitted and removed).

pub mod criterion;
pub mod engine;
pub mod history;
pub mod measure;
pub mod sweep;
pub mod tracker;
pub mod verdict;

pub use engine::{Engine, EngineCounters, EngineEvent, REJECT_REASONS};

/// Longest run (of absent or present sweeps) and longest baseline the criterion may ask for;
/// buffers are allocated for this many sweeps up front.
pub const MAX_RUN: usize = 64;

/// Why the engine could not be prepared for a source.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Settings(String),
    #[error("{0}")]
    Source(String),
}
