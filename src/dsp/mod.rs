//! Signal-processing primitives that condition each sweep before it is measured.
//!
//! The engine conditions every sweep as a finite segment of raw µV samples, from
//! `stim − pre` to `stim + post` (for example 100 ms + 80 ms), in three steps:
//!
//! 1. **Offset, drift and mains** ([`mains::MainsFit`]): `c0 + c1·t + Σ_k (a_k cos + b_k sin)
//!    (2π k f0 t)` is fitted by least squares on a *fit mask* (the pre-stimulus part and the
//!    late post-stimulus part only) and subtracted from the whole sweep. The mains frequency
//!    comes from the settings or from [`mains::MainsDetector`].
//! 2. **Artifact tail and blanking** ([`tail::TailFit`], [`blank::bridge`]): what is left of
//!    the stimulus artifact after the blanking period (an exponential recovery) is fitted on
//!    the raw sweep, with the direct response's crosstalk, and subtracted; then the artifact
//!    span is replaced by a straight line between its neighbours.
//! 3. **Band-pass** ([`fir::bandpass`] applied by [`overlap_save::SegmentFilter`]): a
//!    linear-phase FIR applied by FFT with its group delay removed exactly, two channels per
//!    FFT. The same pass measures the high-band RMS of the unfiltered sweep (electrocautery).
//!
//! Design choices, and why:
//! - **Least-squares mains removal, not a notch.** A notch is a high-Q resonator: the
//!   millivolt stimulus artifact and the LSR itself excite it, and it rings at 50/60 Hz for
//!   tens of milliseconds across the response window. Fitting the hum on a mask that excludes
//!   the artifact and the response is blind to both, removes every harmonic at once, and
//!   subtracts only pure sinusoids and a line. The 40 ms band-pass could not remove the hum
//!   anyway: 50 Hz lies in its transition band, barely attenuated.
//! - **Blank before filtering.** Any filter spreads what it is given over its own length: an
//!   artifact a thousand times larger than the LSR, smeared by a 30 Hz high-pass, becomes a
//!   slow tail of tens of µV through the LSR window that looks like a response that never
//!   disappears. Bridging it first leaves the filter nothing to smear, and a line (rather
//!   than zeros) leaves no step to ring on. The mains fit runs before the bridge because its
//!   mask already excludes the artifact, and the bridge then joins hum-free neighbours.
//! - **Zero-phase (delay-compensated linear-phase) FIR.** Onset latency is a clinical
//!   measure (about 10 ms). A causal IIR delays each frequency differently, so the onset
//!   moves and the waveform changes with the filter corners and the sample rate. A
//!   symmetric FIR delays every frequency by exactly `(taps − 1)/2` samples, which the segment
//!   filter removes by shifting the kernel, so a response at 10.0 ms measures 10.0 ms at every
//!   rate from 5 to 48 kHz. The price is that the filter is non-causal: it looks half its
//!   length ahead and behind, so measurement windows must stay that far from the sweep
//!   edges and from the stimulus (the settings enforce it).
//! - **The pair trick.** The FIR is real, so filtering `a + i·b` in one complex FFT yields
//!   `h*a + i·(h*b)`: two channels for the price of one transform pair. The two input
//!   spectra are separated with `X_a[k] = (Z[k] + conj Z[N−k])/2` and
//!   `X_b[k] = (Z[k] − conj Z[N−k])/2i` when the high-band energy is measured.
//! - **Real-time discipline.** Constructors plan FFTs, design taps and allocate every buffer;
//!   the per-sweep calls (`remove`, `bridge`, `filter_pair`, `process`, `detect`) do not
//!   allocate, lock or panic, and report bad input as small `Copy` errors.
//!
//! [`overlap_save::OverlapSave`] is the streaming counterpart (continuous signals, any chunk
//! size, fixed block latency) for live traces.

pub mod blank;
pub mod fir;
pub mod lag_search;
pub mod mains;
pub mod overlap_save;
pub mod tail;

#[cfg(test)]
mod test_util;

pub use blank::bridge;
pub use fir::{bandpass, group_delay_samples, taps_for_length, DesignError};
pub use lag_search::LagCorrelator;
pub use mains::{MainsDetector, MainsError, MainsEstimate, MainsFit};
pub use overlap_save::{OverlapSave, SegmentError, SegmentFilter};
