//! Serial acquisition from Backyard Brains SpikerBox devices (USB CDC or UART).
//!
//! Several SpikerBoxes are EMG devices that stream a documented byte protocol over a serial
//! port: that makes them a cheap, real input for the monitor (and for teaching). The work is
//! split so that the part that must be right on every byte can be tested without hardware:
//!
//! - [`decoder`]: the byte protocol: frames, escape-delimited messages, resynchronisation,
//!   and counters for everything that went wrong. Pure, allocation-free, fuzzed and
//!   property-tested.
//! - [`profiles`]: the devices: channels, rates, bit depth, baud rate, start-up commands and
//!   a documented nominal calibration.
//! - [`port`]: [`SerialSource`], the [`crate::source::Source`] over a real port opened by
//!   path; tested through a pseudo-terminal (`tests/serial_pty.rs`).
//! - [`counted`]: [`CountedSerial`], which publishes the decoder's counters for the whole case
//!   (across reconnections) and applies per-channel calibration from the site configuration.

pub mod counted;
pub mod decoder;
pub mod port;
pub mod profiles;

pub use counted::{CountedSerial, SERIAL_COUNTERS};
pub use decoder::{Decoder, DecoderCounters, DecoderError, FrameSink, Message, MessageKind};
pub use port::{ChannelSpec, SerialConfig, SerialError, SerialSource};
pub use profiles::{DeviceKind, DeviceProfile};
