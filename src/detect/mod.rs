//! Detection: from stimuli and samples to per-sweep verdicts and per-channel states.

pub mod criterion;
pub mod history;
pub mod measure;

/// Longest run (of absent or present sweeps) and longest baseline the criterion may ask for;
/// buffers are allocated for this many sweeps up front.
pub const MAX_RUN: usize = 64;
