//! Session files: NWB 2.x on HDF5 (recording, replay, recovery).
//!
//! A monitoring session is one `.nwb` file that pynwb, MatNWB, nwbinspector and DANDI open
//! as it is, and files those tools wrote replay here. The layout (see the session-format
//! spec and [`layout`]) uses a plain `TimeSeries` for the raw EMG, so the file needs no
//! object references, links or compound types:
//!
//! ```text
//! /acquisition/emg_raw              TimeSeries, data [N, C] in the device's native type
//! /acquisition/emg_channels         label, muscle, role, calibration, range per column
//! /acquisition/surgical_events      AnnotationSeries (markers)
//! /intervals/stimuli                TimeIntervals (branch, intensity_mA, pulse_width_s)
//! /intervals/gaps                   TimeIntervals (frame, lost_frames, kind source|recorder)
//! /processing/ecephys/lsr_sweeps    per sweep and channel: status, LSR p2p, onset, noise, ...
//! /processing/ecephys/lsr_counters  final named counters (name, value)
//! /general/data_collection          every detection setting used, as JSON text
//! ```
//!
//! - [`SessionWriter`] writes a session as it happens, with a two-phase commit so that a
//!   killed program loses at most the last commit interval; [`Recorder`] runs it on its own
//!   thread behind a never-blocking [`RecordSender`].
//! - [`NwbSource`] replays a file (ours or another tool's) as a [`crate::source::Source`].
//! - [`recover`] makes the file of a killed recording valid; [`needs_recovery`] detects one.
//!
//! All failures are [`NwbError`]s naming the file and the HDF5 path; nothing here panics on
//! bad input.

mod append;
mod chunks;
mod dyntable;
mod error;
mod h5util;
pub mod layout;
mod reader;
mod recorder;
mod recover;
mod samples;
mod series;
mod timing;
mod writer;

pub use error::NwbError;
pub use reader::{parse_branch, ChannelSpec, NwbSource, ReadOptions, PLAIN_READ_ENV};
pub use recorder::{RecordMsg, RecordSender, Recorder, RecorderOptions, RecorderReport};
pub use recover::{needs_recovery, recover, RecoveryReport};
pub use samples::Storage;
pub use writer::{SessionMeta, SessionWriter, WriterOptions, DEFAULT_PULSE_WIDTH_S};
