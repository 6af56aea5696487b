//! [`SerialSource`]: a SpikerBox on a serial port, as a [`Source`].
//!
//! Opens the port by path with the profile's baud rate and a read timeout, sends the
//! profile's set-up (channel count, version query, start command), then turns bytes into
//! frames with the [`Decoder`]. On drop it sends the stop command, if the device has one.
//!
//! ## Samples
//! A sample is delivered as `count - midscale` (so 0.0 is 0 V, from -512 to +511 at 10 bits,
//! -8192 to +8191 at 14 bits): a signed 16-bit quantity, so the native
//! [`SampleFormat`] is **`I16`**, with `volts_per_unit` from the calibration and no offset;
//! `range_units` is the converter's full range, so a sample at its ends shows saturation.
//!
//! ## Events
//! - `EVNT:n` becomes [`SourceEvent::Stimulus`] at the frame it arrived after, with the
//!   configured branch (default zygomatic); intensity and pulse width are unknown (NaN). The
//!   event is delivered in the same [`Source::read`] as that frame: while a message is still
//!   arriving, the last decoded frame is held back.
//! - A decoder gap becomes [`SourceEvent::Gap`] before the next good frame.
//!
//! ## Failure
//! A read error (the device was unplugged: the port reports a hang-up or an I/O error), an
//! end of file, or no byte at all for `stall_timeout` ends the stream with
//! [`SourceError::Disconnected`] naming the port. A timeout shorter than that is not an
//! error: the source keeps waiting (so `read` can block up to `stall_timeout`).

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use serialport::SerialPort;

use super::decoder::{Decoder, DecoderCounters, FrameSink, MAX_CHANNELS};
use super::profiles::DeviceProfile;
use crate::model::{Branch, ChannelInfo, Muscle, Role, SampleFormat};
use crate::source::{Source, SourceError, SourceEvent, SourceInfo};

/// Bytes read from the port at a time.
const READ_BYTES: usize = 4096;

/// What one channel records (its label, muscle and role in the session).
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelSpec {
    pub label: String,
    pub muscle: Muscle,
    pub role: Role,
    /// For a trigger channel: the branch its pulses stimulate.
    pub trigger_branch: Option<Branch>,
}

/// How to open a SpikerBox.
#[derive(Clone, Debug)]
pub struct SerialConfig {
    /// The port, e.g. `/dev/ttyACM0`.
    pub path: String,
    pub profile: DeviceProfile,
    /// Channel count; the profile's default when `None`.
    pub channels: Option<usize>,
    /// Baud rate; the profile's when `None`.
    pub baud: Option<u32>,
    /// Volts per count at the electrodes; the profile's nominal value when `None`.
    pub volts_per_count: Option<f64>,
    /// One per channel, or empty for `ch1`, `ch2`, ... recording EMG from an unnamed muscle.
    pub channel_specs: Vec<ChannelSpec>,
    /// Branch of the stimuli reported by `EVNT` messages.
    pub event_branch: Branch,
    /// Whether `EVNT` messages mark every stimulus (the stimulator's sync output is wired to
    /// the expansion port). Sets [`SourceInfo::stimulus_events`].
    pub stimulus_events: bool,
    /// Longest wait for one read from the port.
    pub read_timeout: Duration,
    /// No byte for this long: the device is considered gone.
    pub stall_timeout: Duration,
}

impl SerialConfig {
    /// The profile's defaults on `path`.
    pub fn new(path: impl Into<String>, profile: DeviceProfile) -> Self {
        Self {
            path: path.into(),
            profile,
            channels: None,
            baud: None,
            volts_per_count: None,
            channel_specs: Vec::new(),
            event_branch: Branch::Zygomatic,
            stimulus_events: false,
            read_timeout: Duration::from_millis(100),
            stall_timeout: Duration::from_secs(3),
        }
    }
}

/// Why a serial device could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    #[error("cannot open serial port '{path}': {detail}")]
    Open { path: String, detail: String },
    #[error("serial port '{path}': {detail}")]
    Config { path: String, detail: String },
    #[error("serial port '{path}': cannot send the start-up commands: {detail}")]
    Handshake { path: String, detail: String },
}

/// A SpikerBox on a serial port. See the module documentation.
pub struct SerialSource {
    info: SourceInfo,
    path: String,
    port: Box<dyn SerialPort>,
    decoder: Decoder,
    bytes: Vec<u8>,
    /// Decoded frames not yet delivered (interleaved), from `staged_pos`.
    staged: Vec<f32>,
    staged_pos: usize,
    events: VecDeque<SourceEvent>,
    /// Frames delivered so far.
    delivered: u64,
    midscale: f32,
    event_branch: Branch,
    stop_command: Option<&'static str>,
    stall_timeout: Duration,
    last_data: Instant,
}

impl SerialSource {
    /// Opens the port and starts the device.
    pub fn open(config: &SerialConfig) -> Result<Self, SerialError> {
        let path = config.path.clone();
        let profile = config.profile;
        let bad = |detail: String| SerialError::Config {
            path: path.clone(),
            detail,
        };
        let channels = config.channels.unwrap_or(profile.default_channels);
        let rate = profile.sample_rate_hz(channels).ok_or_else(|| {
            bad(format!(
                "the {} has {:?} channels, not {channels}",
                profile.name,
                profile.channel_choices()
            ))
        })?;
        let decoder = Decoder::new(channels, profile.bits).map_err(|e| bad(e.to_string()))?;
        let volts_per_count = config
            .volts_per_count
            .unwrap_or(profile.nominal_volts_per_count());
        if !(volts_per_count.is_finite() && volts_per_count > 0.0) {
            return Err(bad(format!(
                "volts per count must be positive (got {volts_per_count})"
            )));
        }
        if !config.channel_specs.is_empty() && config.channel_specs.len() != channels {
            return Err(bad(format!(
                "{} channel descriptions for {channels} channels",
                config.channel_specs.len()
            )));
        }
        let mid = f64::from(profile.midscale());
        let range = Some((-mid, f64::from(profile.max_count()) - mid));
        let channel_infos = (0..channels)
            .map(|i| {
                let spec = config
                    .channel_specs
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| ChannelSpec {
                        label: format!("ch{}", i + 1),
                        muscle: Muscle::Other,
                        role: Role::Emg,
                        trigger_branch: None,
                    });
                ChannelInfo {
                    label: spec.label,
                    muscle: spec.muscle,
                    role: spec.role,
                    volts_per_unit: volts_per_count,
                    offset_volts: 0.0,
                    range_units: range,
                    trigger_branch: spec.trigger_branch,
                }
            })
            .collect();
        let calibration = if config.volts_per_count.is_some() {
            "configured"
        } else {
            "nominal"
        };
        let info = SourceInfo {
            sample_rate_hz: rate,
            channels: channel_infos,
            sample_format: SampleFormat::I16,
            description: format!(
                "{} on {path} ({channels} channels, {rate} Hz, {} bits, {:.3} uV per count {calibration})",
                profile.name,
                profile.bits,
                volts_per_count * 1e6
            ),
            stimulus_events: config.stimulus_events,
            total_frames: None,
        };

        let baud = config.baud.unwrap_or(profile.baud);
        let mut port = serialport::new(&path, baud)
            .timeout(config.read_timeout)
            .open()
            .map_err(|e| SerialError::Open {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        if profile.boot_delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(profile.boot_delay_ms));
        }
        let _ = port.clear(serialport::ClearBuffer::Input);
        let handshake = profile.handshake(channels);
        if !handshake.is_empty() {
            port.write_all(handshake.as_bytes())
                .and_then(|()| port.flush())
                .map_err(|e| SerialError::Handshake {
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
        }
        Ok(Self {
            info,
            path,
            port,
            decoder,
            bytes: vec![0; READ_BYTES],
            staged: Vec::with_capacity((READ_BYTES / 2 + 2) * channels.min(MAX_CHANNELS)),
            staged_pos: 0,
            events: VecDeque::with_capacity(64),
            delivered: 0,
            midscale: mid as f32,
            event_branch: config.event_branch,
            stop_command: profile.stop_command,
            stall_timeout: config.stall_timeout,
            last_data: Instant::now(),
        })
    }

    /// What the decoder has counted (frames, errors, gaps, events).
    pub fn decoder_counters(&self) -> DecoderCounters {
        self.decoder.counters()
    }

    /// The decoder, for the device's reported versions and type.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The port's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn disconnected(&self, detail: impl Into<String>) -> SourceError {
        SourceError::Disconnected {
            device: self.path.clone(),
            detail: detail.into(),
        }
    }

    /// Frames staged and deliverable now (the last one waits while a message is arriving,
    /// so that an event after it travels with it).
    fn deliverable(&self) -> usize {
        let c = self.info.channels.len().max(1);
        let staged = (self.staged.len() - self.staged_pos) / c;
        staged.saturating_sub(usize::from(self.decoder.in_message()))
    }
}

/// Collects decoded frames and events for [`SerialSource`].
struct Staging<'a> {
    samples: &'a mut Vec<f32>,
    events: &'a mut VecDeque<SourceEvent>,
    midscale: f32,
    branch: Branch,
}

impl FrameSink for Staging<'_> {
    fn frame(&mut self, _index: u64, samples: &[u16]) {
        self.samples
            .extend(samples.iter().map(|&v| f32::from(v) - self.midscale));
    }
    fn event(&mut self, after_frame: Option<u64>, _number: u32) {
        self.events.push_back(SourceEvent::Stimulus {
            frame_time: after_frame.unwrap_or(0) as f64,
            branch: self.branch,
            intensity_ma: f32::NAN,
            pulse_width_s: f32::NAN,
        });
    }
    fn gap(&mut self, before_frame: u64, lost_frames: u64) {
        self.events.push_back(SourceEvent::Gap {
            frame: before_frame,
            lost_frames,
        });
    }
}

impl Source for SerialSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError> {
        let c = self.info.channels.len();
        let room = buf.len() / c.max(1);
        if room == 0 {
            return Err(SourceError::Other(format!(
                "serial port '{}': the read buffer holds no frame of {c} channels",
                self.path
            )));
        }
        loop {
            let n = self.deliverable().min(room);
            if n > 0 {
                let from = self.staged_pos;
                buf[..n * c].copy_from_slice(&self.staged[from..from + n * c]);
                self.staged_pos += n * c;
                if self.staged_pos == self.staged.len() {
                    self.staged.clear();
                    self.staged_pos = 0;
                }
                self.delivered += n as u64;
                let end = self.delivered as f64;
                while self.events.front().is_some_and(|e| e.frame() < end) {
                    events.extend(self.events.pop_front());
                }
                return Ok(n);
            }
            match self.port.read(&mut self.bytes) {
                Ok(0) => return Err(self.disconnected("the port reached end of file")),
                Ok(k) => {
                    self.last_data = Instant::now();
                    let mut sink = Staging {
                        samples: &mut self.staged,
                        events: &mut self.events,
                        midscale: self.midscale,
                        branch: self.event_branch,
                    };
                    self.decoder
                        .decode(&self.bytes[..k.min(READ_BYTES)], &mut sink);
                }
                Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::Interrupted => {
                    if self.last_data.elapsed() >= self.stall_timeout {
                        let secs = self.stall_timeout.as_secs_f64();
                        return Err(self.disconnected(format!("no data for {secs:.1} s")));
                    }
                }
                Err(e) => return Err(self.disconnected(e.to_string())),
            }
        }
    }
}

impl Drop for SerialSource {
    fn drop(&mut self) {
        if let Some(stop) = self.stop_command {
            let _ = self
                .port
                .write_all(stop.as_bytes())
                .and_then(|()| self.port.flush());
        }
    }
}
