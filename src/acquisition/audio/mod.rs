//! [`AudioSource`]: an audio-class input (USB sound card, line input) as a
//! [`crate::source::Source`], through cpal.
//!
//! An isolated EMG amplifier's outputs go into the line inputs of an audio interface; the
//! stimulator's sync output, attenuated, into one more input of the same interface, so that
//! stimulus times are sample-exact (see `hardware.md`). The interface then delivers 1-8
//! channels at 44.1-48 kHz (or whatever it supports) in 16-bit, 32-bit or float samples.
//!
//! ## Design
//! - cpal owns the driver's thread; its data callback only copies into a pre-allocated SPSC
//!   ring and counts ([`capture`]). [`Source::read`] pops from the ring on the pipeline's
//!   source thread and waits briefly (1 ms polls) when it is empty, so the existing pipeline
//!   (source thread → ring → DSP thread) runs unchanged.
//! - Samples stay in **device units** (`i16`/`i32` counts, or floats in -1..1), stored in the
//!   session file in the device's own type. Calibration comes from the site configuration:
//!   `uv_full_scale` per channel is the input at the electrodes, in µV, that drives the
//!   converter to full scale (a sine of that amplitude just clips), so
//!   `volts_per_unit = uv_full_scale × 1e-6 / full scale in units` (32768, 2³¹ or 1).
//! - Lost frames (ring overrun, driver xrun) become [`SourceEvent::Gap`]s at the place they
//!   were lost, so the engine rejects the sweeps over them.
//! - A device that disappears (cpal reports it, or no callback for `stall_timeout`) ends the
//!   read with [`SourceError::Disconnected`] once the frames already captured are delivered;
//!   [`super::reconnect::ReconnectingSource`] reopens it.
//! - The stream is opened exactly as asked (rate, channels, format, buffer): the driver
//!   refuses what it cannot do, and the error names the device and the setting. Nothing is
//!   resampled or converted behind the user's back.

pub mod capture;
pub mod devices;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use serde::{Deserialize, Serialize};

use super::counters::DeviceCounters;
use crate::model::{Branch, ChannelInfo, Muscle, Role, SampleFormat};
use crate::source::{Source, SourceError, SourceEvent, SourceInfo};
use capture::{Delivery, Shared, Stamp};

pub use capture::AUDIO_COUNTERS;
pub use devices::{find_input_device, list_input_devices, ConfigRange, DeviceError, InputDevice};

/// How often the reading thread looks for new audio when there is none.
const AUDIO_POLL: Duration = Duration::from_micros(250);

/// The sample type asked of the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioFormat {
    /// 16-bit integers (every audio interface has it).
    #[default]
    I16,
    /// 32-bit integers (24-bit converters deliver their samples in the high bits).
    I32,
    /// 32-bit floats, full scale ±1.
    F32,
}

impl AudioFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::I16 => "i16",
            Self::I32 => "i32",
            Self::F32 => "f32",
        }
    }

    /// The positive full scale in device units.
    pub fn full_scale_units(self) -> f64 {
        match self {
            Self::I16 => 32768.0,
            Self::I32 => 2_147_483_648.0,
            Self::F32 => 1.0,
        }
    }

    /// The representable range in device units.
    pub fn range_units(self) -> (f64, f64) {
        match self {
            Self::I16 => (-32768.0, 32767.0),
            Self::I32 => (-2_147_483_648.0, 2_147_483_647.0),
            Self::F32 => (-1.0, 1.0),
        }
    }

    /// The type the session file stores.
    pub fn sample_format(self) -> SampleFormat {
        match self {
            Self::I16 => SampleFormat::I16,
            Self::I32 => SampleFormat::I32,
            Self::F32 => SampleFormat::F32,
        }
    }
}

impl FromStr for AudioFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "i16" | "s16" => Ok(Self::I16),
            "i32" | "s32" => Ok(Self::I32),
            "f32" | "float" => Ok(Self::F32),
            other => Err(format!(
                "'{other}' is not a sample format (i16, i32 or f32)"
            )),
        }
    }
}

/// What one input carries, and its calibration.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioChannel {
    pub label: String,
    pub muscle: Muscle,
    pub role: Role,
    pub trigger_branch: Option<Branch>,
    /// µV at the electrodes that drive the converter to full scale.
    pub uv_full_scale: f64,
}

/// How to open an audio input.
#[derive(Clone, Debug)]
pub struct AudioConfig {
    /// Index, id, description or `default` (see [`devices`]).
    pub device: String,
    pub rate_hz: u32,
    pub format: AudioFormat,
    /// One per input, in the device's order; their number is the channel count.
    pub channels: Vec<AudioChannel>,
    /// Frames per driver period (`None`: the driver's default).
    pub buffer_frames: Option<u32>,
    /// Capacity of the ring between the callback and the reader, seconds.
    pub ring_seconds: f64,
    /// Longest wait for the first block after starting the stream (a sound server can take
    /// about 2 s).
    pub start_timeout: Duration,
    /// No block for this long once started: the device is considered gone.
    pub stall_timeout: Duration,
    /// When set, a waiting read returns the end of the stream.
    pub stop: Option<Arc<AtomicBool>>,
}

impl AudioConfig {
    pub fn new(device: impl Into<String>, rate_hz: u32, channels: Vec<AudioChannel>) -> Self {
        Self {
            device: device.into(),
            rate_hz,
            format: AudioFormat::I16,
            channels,
            buffer_frames: None,
            ring_seconds: 2.0,
            start_timeout: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(2),
            stop: None,
        }
    }
}

/// Why an audio input could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("audio input '{device}': {detail}")]
    Config { device: String, detail: String },
    #[error("audio input '{device}' refused {what}: {detail}")]
    Open {
        device: String,
        what: String,
        detail: String,
    },
}

/// An audio input as a source. See the module documentation.
pub struct AudioSource {
    info: SourceInfo,
    device: String,
    // Dropping the stream stops the callback; it must outlive nothing else here.
    _stream: cpal::Stream,
    delivery: Delivery,
    shared: Arc<Shared>,
    counters: Arc<DeviceCounters>,
    start_timeout: Duration,
    stall_timeout: Duration,
    stop: Option<Arc<AtomicBool>>,
}

fn stamp(info: &cpal::InputCallbackInfo) -> Option<Stamp> {
    let t = info.timestamp();
    Some(Stamp {
        capture_ns: u64::try_from(t.capture.as_nanos()).ok()?,
        callback_ns: u64::try_from(t.callback.as_nanos()).ok()?,
    })
}

impl AudioSource {
    /// Opens and starts the input. `counters` (see [`AUDIO_COUNTERS`]) may be shared with
    /// earlier connections of the same device, so totals cover the whole case.
    pub fn open(cfg: &AudioConfig, counters: Arc<DeviceCounters>) -> Result<Self, AudioError> {
        let bad = |detail: String| AudioError::Config {
            device: cfg.device.clone(),
            detail,
        };
        let nch = cfg.channels.len();
        if !(1..=8).contains(&nch) {
            return Err(bad(format!("1 to 8 channels can be recorded (got {nch})")));
        }
        if !(1000..=384_000).contains(&cfg.rate_hz) {
            return Err(bad(format!(
                "the sample rate must be 1000 to 384000 Hz (got {})",
                cfg.rate_hz
            )));
        }
        for (i, c) in cfg.channels.iter().enumerate() {
            if !(c.uv_full_scale.is_finite() && c.uv_full_scale > 0.0) {
                return Err(bad(format!(
                    "channel {} ({}): uv_full_scale must be a positive number (got {})",
                    i + 1,
                    c.label,
                    c.uv_full_scale
                )));
            }
        }
        if !(cfg.ring_seconds.is_finite() && cfg.ring_seconds > 0.0) {
            return Err(bad(format!(
                "the ring must hold a positive time (got {} s)",
                cfg.ring_seconds
            )));
        }
        let (device, id) = find_input_device(&cfg.device)?;
        let fmt = cfg.format;
        let full = fmt.full_scale_units();
        let channels = cfg
            .channels
            .iter()
            .map(|c| ChannelInfo {
                label: c.label.clone(),
                muscle: c.muscle,
                role: c.role,
                volts_per_unit: c.uv_full_scale * 1e-6 / full,
                offset_volts: 0.0,
                range_units: Some(fmt.range_units()),
                trigger_branch: c.trigger_branch,
            })
            .collect();
        let buffer = cfg
            .buffer_frames
            .map_or("the driver's buffer".to_string(), |b| {
                format!("{b}-frame buffers")
            });
        let info = SourceInfo {
            sample_rate_hz: f64::from(cfg.rate_hz),
            channels,
            sample_format: fmt.sample_format(),
            description: format!(
                "audio input {id} ({nch} channels, {} Hz, {}, {buffer})",
                cfg.rate_hz,
                fmt.name()
            ),
            stimulus_events: false,
            total_frames: None,
        };

        let shared = Shared::new();
        let ring_frames = (cfg.ring_seconds * f64::from(cfg.rate_hz)).ceil() as usize;
        let (mut cap, delivery) = capture::pair(
            nch,
            f64::from(cfg.rate_hz),
            ring_frames,
            counters.clone(),
            shared.clone(),
        );
        let sc = cpal::StreamConfig {
            channels: nch as u16,
            sample_rate: cfg.rate_hz,
            buffer_size: cfg
                .buffer_frames
                .map_or(cpal::BufferSize::Default, cpal::BufferSize::Fixed),
        };
        let err_shared = shared.clone();
        let err_counters = counters.clone();
        let on_error = move |e: cpal::Error| match e.kind() {
            cpal::ErrorKind::Xrun => {
                err_counters.add(capture::XRUNS, 1);
                err_shared.xrun.store(true, Ordering::Release);
            }
            cpal::ErrorKind::DeviceNotAvailable
            | cpal::ErrorKind::HostUnavailable
            | cpal::ErrorKind::StreamInvalidated => {
                err_counters.add(capture::STREAM_ERRORS, 1);
                err_shared.gone.store(true, Ordering::Release);
            }
            _ => err_counters.add(capture::STREAM_ERRORS, 1),
        };
        let built = match fmt {
            AudioFormat::I16 => device.build_input_stream::<i16, _, _>(
                sc,
                move |d: &[i16], i: &cpal::InputCallbackInfo| cap.block(d, stamp(i), f32::from),
                on_error,
                Some(Duration::from_secs(5)),
            ),
            AudioFormat::I32 => device.build_input_stream::<i32, _, _>(
                sc,
                move |d: &[i32], i: &cpal::InputCallbackInfo| cap.block(d, stamp(i), to_f32),
                on_error,
                Some(Duration::from_secs(5)),
            ),
            AudioFormat::F32 => device.build_input_stream::<f32, _, _>(
                sc,
                move |d: &[f32], i: &cpal::InputCallbackInfo| cap.block(d, stamp(i), |x| x),
                on_error,
                Some(Duration::from_secs(5)),
            ),
        };
        let what = format!(
            "{nch} channels at {} Hz in {} with {buffer}",
            cfg.rate_hz,
            fmt.name()
        );
        let stream = built.map_err(|e| AudioError::Open {
            device: id.clone(),
            what: what.clone(),
            detail: e.to_string(),
        })?;
        stream.play().map_err(|e| AudioError::Open {
            device: id.clone(),
            what: format!("to start ({what})"),
            detail: e.to_string(),
        })?;
        Ok(Self {
            info,
            device: id,
            _stream: stream,
            delivery,
            shared,
            counters,
            start_timeout: cfg.start_timeout,
            stall_timeout: cfg.stall_timeout,
            stop: cfg.stop.clone(),
        })
    }

    /// cpal's id of the device that was opened.
    pub fn device_id(&self) -> &str {
        &self.device
    }

    /// The device's counters (see [`AUDIO_COUNTERS`]).
    pub fn counters(&self) -> &Arc<DeviceCounters> {
        &self.counters
    }

    fn gone(&self, detail: String) -> SourceError {
        SourceError::Disconnected {
            device: self.device.clone(),
            detail,
        }
    }
}

/// `i32` samples to `f32` device units (exact for 24-bit samples in the high bits).
fn to_f32(x: i32) -> f32 {
    x as f32
}

impl Source for AudioSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError> {
        let c = self.info.channels.len();
        if buf.len() < c {
            return Err(SourceError::Other(format!(
                "audio input '{}': the read buffer holds no frame of {c} channels",
                self.device
            )));
        }
        loop {
            let n = self.delivery.take(buf, events);
            if n > 0 {
                return Ok(n);
            }
            if self
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
            {
                return Ok(0);
            }
            if self.shared.gone.load(Ordering::Acquire) {
                return Err(
                    self.gone("the driver reports the device is no longer available".into())
                );
            }
            let now = self.shared.base.elapsed();
            let last = self.shared.last_callback.load(Ordering::Relaxed);
            if last == 0 {
                if now > self.start_timeout {
                    return Err(self.gone(format!(
                        "no audio arrived within {:.1} s of starting the stream",
                        self.start_timeout.as_secs_f64()
                    )));
                }
            } else {
                let since = now.saturating_sub(Duration::from_nanos(last - 1));
                if since > self.stall_timeout {
                    return Err(self.gone(format!("no audio for {:.1} s", since.as_secs_f64())));
                }
            }
            // Short: this wait is part of how old a verdict is (not counted by the pipeline's
            // latency figures, which start at its own ring), and a 64-frame period at 48 kHz
            // is only 1.3 ms.
            std::thread::sleep(AUDIO_POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_name_their_full_scale_and_storage() {
        assert_eq!("S16".parse::<AudioFormat>().unwrap(), AudioFormat::I16);
        assert_eq!("f32".parse::<AudioFormat>().unwrap(), AudioFormat::F32);
        assert!("u8"
            .parse::<AudioFormat>()
            .unwrap_err()
            .contains("i16, i32 or f32"));
        assert_eq!(AudioFormat::I32.full_scale_units(), 2f64.powi(31));
        assert_eq!(AudioFormat::I16.range_units(), (-32768.0, 32767.0));
        assert_eq!(AudioFormat::F32.sample_format(), SampleFormat::F32);
        // 24-bit samples in the high bits of an i32 survive the trip through f32 exactly.
        for v in [8_388_607i32 << 8, -8_388_608 << 8, 12_345 << 8] {
            assert_eq!(to_f32(v) as i64, v as i64);
        }
    }

    #[test]
    fn bad_settings_are_refused_before_any_device_is_touched() {
        let ch = |uv: f64| AudioChannel {
            label: "mentalis".into(),
            muscle: Muscle::Mentalis,
            role: Role::Emg,
            trigger_branch: None,
            uv_full_scale: uv,
        };
        let counters = DeviceCounters::new("audio", AUDIO_COUNTERS);
        let e = AudioSource::open(&AudioConfig::new("x", 48_000, vec![]), counters.clone())
            .err()
            .unwrap();
        assert!(e.to_string().contains("1 to 8 channels"), "{e}");
        let e = AudioSource::open(
            &AudioConfig::new("x", 48_000, vec![ch(-1.0)]),
            counters.clone(),
        )
        .err()
        .unwrap();
        assert!(
            e.to_string().contains("uv_full_scale") && e.to_string().contains("'x'"),
            "{e}"
        );
        let e = AudioSource::open(&AudioConfig::new("x", 50, vec![ch(5000.0)]), counters)
            .err()
            .unwrap();
        assert!(e.to_string().contains("sample rate"), "{e}");
    }
}
