//! Sources of multichannel EMG: the seam between acquisition and the engine.
//!
//! A source yields blocks of interleaved samples in *device units* (the numbers the converter
//! produced, as `f32`), plus events that happened inside those blocks: stimuli it knows the
//! time of (device events, a stimulus table, the simulator), and gaps where samples were lost.
//! Calibration to volts travels in [`SourceInfo`], so the recorder can store the device's
//! native samples with a conversion factor, as NWB wants.
//!
//! Implementations: the simulated patient ([`crate::sim`]), session files ([`crate::nwb`]),
//! and the live devices ([`crate::acquisition`]).

pub mod table;

use crate::model::{Branch, ChannelInfo, Marker, SampleFormat};

/// What a source is: rate, channels, calibration.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    pub sample_rate_hz: f64,
    pub channels: Vec<ChannelInfo>,
    /// The device's native sample type (what the session file stores).
    pub sample_format: SampleFormat,
    /// Human-readable description, e.g. "simulated patient (scenario abrupt, seed 1)".
    pub description: String,
    /// True when the source emits [`SourceEvent::Stimulus`] for every stimulus it delivers.
    pub stimulus_events: bool,
    /// Total length in frames, when known in advance (files, finite simulations).
    pub total_frames: Option<u64>,
}

impl SourceInfo {
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }
}

/// Something that happened inside the stream. Plain data (`Copy`), so it can travel through
/// a lock-free ring next to the samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SourceEvent {
    /// A stimulus at `frame_time` (frames from the start of the stream, with fraction).
    Stimulus {
        frame_time: f64,
        branch: Branch,
        /// NaN when unknown.
        intensity_ma: f32,
        /// NaN when unknown.
        pulse_width_s: f32,
    },
    /// Samples were lost just before frame `frame`: about `lost_frames` frames are missing
    /// from the stream (the frame count does not include them).
    Gap { frame: u64, lost_frames: u64 },
}

impl SourceEvent {
    /// The frame the event belongs to (for ordering).
    pub fn frame(&self) -> f64 {
        match *self {
            Self::Stimulus { frame_time, .. } => frame_time,
            Self::Gap { frame, .. } => frame as f64,
        }
    }
}

/// Why a source stopped or failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("device '{device}' is gone: {detail}")]
    Disconnected { device: String, detail: String },
    #[error("{0}")]
    Other(String),
}

/// A block-oriented source of samples and events.
pub trait Source: Send {
    fn info(&self) -> &SourceInfo;

    /// Fills `buf` (interleaved, `channels` values per frame) with up to
    /// `buf.len() / channels` frames and appends the events that fall inside them to
    /// `events`. Returns the number of frames written; `Ok(0)` means the end of the stream.
    /// Frames are numbered from 0 at the start of the stream; an event's frame is absolute.
    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError>;

    /// Surgical markers the source knows about (scheduled in a simulation, stored in a file).
    fn markers(&self) -> Vec<Marker> {
        Vec::new()
    }
}

/// A boxed source is a source (so wrappers and the pipeline can take either).
impl<S: Source + ?Sized> Source for Box<S> {
    fn info(&self) -> &SourceInfo {
        (**self).info()
    }
    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError> {
        (**self).read(buf, events)
    }
    fn markers(&self) -> Vec<Marker> {
        (**self).markers()
    }
}
