//! The simulated patient (in progress).
