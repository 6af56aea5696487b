//! Detection: from stimuli and samples to per-sweep verdicts and per-channel states.

/// Longest run (of absent or present sweeps) the criterion may ask for; run buffers are
/// allocated for this many sweeps up front.
pub const MAX_RUN: usize = 64;
