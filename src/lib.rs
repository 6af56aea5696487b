//! # lsrmon: a real-time monitor of the lateral spread response
//!
//! lsrmon watches the lateral spread response (LSR) during microvascular decompression for
//! hemifacial spasm and says, per muscle, whether it is present, absent, or cannot be judged,
//! and whether it has disappeared. **It is a research and teaching tool, not a certified
//! medical device.**
//!
//! ## The pipeline
//!
//! ```text
//!  source thread                 DSP thread                              consumers
//!  ┌──────────────┐  SPSC ring  ┌───────────────────────────────────┐  bounded   ┌───────────┐
//!  │ device / sim │ ──samples──▶│ stim timing ▶ sweep cutter ▶      │  channel   │ terminal, │
//!  │ / file       │ ──events───▶│ conditioning ▶ measures ▶ judge ▶ │──results──▶│ recorder, │
//!  └──────────────┘  (ringbuf)  │ per-channel state machine         │ (crossbeam)│ dashboard │
//!                               └───────────────────────────────────┘            └───────────┘
//! ```
//!
//! - [`source`]: the seam every input implements (blocks of samples plus events).
//! - [`sim`]: the simulated patient, with ground truth.
//! - [`stim`]: stimulus timing from a trigger channel or the stimulus artifact.
//! - [`dsp`]: FIR design, FFT overlap-save filtering, mains removal.
//! - [`detect`]: sweep history and cutting, conditioning, measures, the per-sweep judge and
//!   the per-channel state machine; [`detect::Engine`] ties them together.
//! - [`pipeline`]: the threads, rings and channels around the engine.
//! - [`report`]: what the headless run prints.
//! - [`case_report`]: the case report, one self-contained HTML page per case.
//! - [`dashboard`]: the terminal dashboard (verdict banners, sweeps, trend, health).
//!
//! Every stage follows one rule: a constructor (`new`/`prepare`) may allocate, `process` may
//! not. `tests/no_alloc.rs` proves it with a counting allocator.

pub mod acquisition;
pub mod analysis;
pub mod anatomy;
pub mod case_report;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod detect;
pub mod dsp;
pub mod edf;
pub mod model;
pub mod nwb;
pub mod pipeline;
pub mod report;
pub mod settings;
pub mod sim;
pub mod source;
pub mod stim;
