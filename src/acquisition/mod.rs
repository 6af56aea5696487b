//! Live acquisition: audio-class inputs and serial SpikerBox devices, kept going through
//! disconnections and recorded while they are monitored.
//!
//! ```text
//!  device ──▶ AudioSource / CountedSerial ──▶ ReconnectingSource ──▶ RecordingSource ──▶ pipeline
//!             (driver callback → SPSC ring,     (reopen with backoff,   (tee to the NWB
//!              decoder, device counters)         outage → Gap)           recorder, stop, limit)
//! ```
//!
//! - [`audio`]: cpal inputs ([`audio::AudioSource`]) and the device list.
//! - [`serial`]: the SpikerBox byte protocol and [`serial::SerialSource`].
//! - [`reconnect`]: [`reconnect::ReconnectingSource`], for unplugged devices.
//! - [`recording`]: [`recording::RecordingSource`], the tee to the session recorder.
//! - [`counters`]: [`counters::DeviceCounters`], totals shared across threads and connections.
//!
//! Every layer is a [`crate::source::Source`], so the pipeline is the same for a device, a
//! file and the simulated patient.

pub mod audio;
pub mod counters;
pub mod reconnect;
pub mod recording;
pub mod serial;
