//! Finding audio input devices: the list `lsrmon devices` prints, and the device that
//! `--audio NAME|INDEX` means.
//!
//! cpal's default host is used (ALSA on Linux: through its PulseAudio/PipeWire plugin when a
//! sound server runs, since the `default` and `pulse` PCMs route there). A device is named by
//! - its position in the list (`--audio 2`),
//! - its cpal id as listed (`alsa:hw:CARD=1,DEV=0`) or the same without the host
//!   (`hw:CARD=1,DEV=0`),
//! - its description (exactly, or a part of it that only one device has, case ignored),
//! - or `default`, the host's default input.
//!
//! Listing what a device supports opens it briefly; a device that cannot be opened is still
//! listed, with the reason.

use cpal::traits::{DeviceTrait, HostTrait};

/// One supported range of an input device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigRange {
    pub channels: u16,
    pub min_rate_hz: u32,
    pub max_rate_hz: u32,
    /// cpal's name of the sample type (`i16`, `i32`, `f32`, ...).
    pub format: String,
    /// Smallest and largest buffer (frames), when the driver says.
    pub buffer_frames: Option<(u32, u32)>,
}

/// An input device as `lsrmon devices` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputDevice {
    /// Position in the list (what `--audio INDEX` means).
    pub index: usize,
    /// cpal's id, e.g. `alsa:pulse`.
    pub id: String,
    /// The driver's description.
    pub name: String,
    pub configs: Vec<ConfigRange>,
    /// The driver's default input configuration, as `channels x rate format`.
    pub default_config: Option<String>,
    /// Why the device could not be queried, if it could not.
    pub error: Option<String>,
}

/// Why no device could be found.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("cannot list the audio devices: {0}")]
    Host(String),
    #[error("no audio input device '{wanted}'; run `lsrmon devices` to see them ({available})")]
    NotFound { wanted: String, available: String },
    #[error("audio input '{wanted}' is ambiguous: it matches {matches}; give the index or the id")]
    Ambiguous { wanted: String, matches: String },
}

fn id_of(d: &cpal::Device) -> String {
    d.id().map(|i| i.to_string()).unwrap_or_else(|_| "?".into())
}

fn name_of(d: &cpal::Device) -> String {
    d.description()
        .map(|x| x.name().replace('\n', " / "))
        .unwrap_or_else(|_| d.to_string())
}

fn input_devices(host: &cpal::Host) -> Result<Vec<cpal::Device>, DeviceError> {
    host.input_devices()
        .map(|it| it.collect())
        .map_err(|e| DeviceError::Host(e.to_string()))
}

/// Every input device of the default host, with what it supports.
pub fn list_input_devices() -> Result<Vec<InputDevice>, DeviceError> {
    let host = cpal::default_host();
    let devices = input_devices(&host)?;
    Ok(devices
        .iter()
        .enumerate()
        .map(|(index, d)| {
            let (configs, error) = match d.supported_input_configs() {
                Ok(it) => (
                    it.map(|r| ConfigRange {
                        channels: r.channels(),
                        min_rate_hz: r.min_sample_rate(),
                        max_rate_hz: r.max_sample_rate(),
                        format: r.sample_format().to_string(),
                        buffer_frames: match r.buffer_size() {
                            cpal::SupportedBufferSize::Range { min, max } => Some((*min, *max)),
                            cpal::SupportedBufferSize::Unknown => None,
                        },
                    })
                    .collect(),
                    None,
                ),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            let default_config = d.default_input_config().ok().map(|c| {
                format!(
                    "{} ch x {} Hz {}",
                    c.channels(),
                    c.sample_rate(),
                    c.sample_format()
                )
            });
            InputDevice {
                index,
                id: id_of(d),
                name: name_of(d),
                configs,
                default_config,
                error,
            }
        })
        .collect())
}

/// The device `wanted` names (see the module documentation), with its id.
pub fn find_input_device(wanted: &str) -> Result<(cpal::Device, String), DeviceError> {
    let host = cpal::default_host();
    let w = wanted.trim();
    if w.is_empty() || w.eq_ignore_ascii_case("default") {
        if let Some(d) = host.default_input_device() {
            let id = id_of(&d);
            return Ok((d, id));
        }
    }
    let devices = input_devices(&host)?;
    let ids: Vec<String> = devices.iter().map(id_of).collect();
    let names: Vec<String> = devices.iter().map(name_of).collect();
    let pick = |i: usize| Ok((devices[i].clone(), ids[i].clone()));
    if let Ok(i) = w.parse::<usize>() {
        if i < devices.len() {
            return pick(i);
        }
    }
    let short = |id: &str| id.split_once(':').map(|x| x.1.to_string());
    if let Some(i) = ids
        .iter()
        .position(|id| id == w || short(id).as_deref() == Some(w))
    {
        return pick(i);
    }
    if let Some(i) = names.iter().position(|n| n == w) {
        return pick(i);
    }
    let lw = w.to_lowercase();
    let hits: Vec<usize> = (0..devices.len())
        .filter(|&i| names[i].to_lowercase().contains(&lw) || ids[i].to_lowercase().contains(&lw))
        .collect();
    match hits.as_slice() {
        [i] => pick(*i),
        [] => Err(DeviceError::NotFound {
            wanted: w.to_string(),
            available: if ids.is_empty() {
                "there are none".into()
            } else {
                format!("available: {}", ids.join(", "))
            },
        }),
        many => Err(DeviceError::Ambiguous {
            wanted: w.to_string(),
            matches: many
                .iter()
                .map(|&i| format!("{} {}", i, ids[i]))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}
