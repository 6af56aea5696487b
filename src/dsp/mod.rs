//! Signal-processing primitives used by conditioning (owned by the dsp work package).
pub mod fir;
pub mod mains;
pub mod overlap_save;
