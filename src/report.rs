//! Headless output (in progress).
