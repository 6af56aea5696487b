//! Live acquisition devices (in progress).
pub mod serial;
