//! Stimulus timing (in progress).
