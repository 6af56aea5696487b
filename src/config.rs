//! The site configuration: a TOML file describing a site's setup and its detection settings.
//!
//! ```toml
//! [detection.criterion]
//! absent_run = 8
//!
//! [detection.conditioning]
//! mains = "60"
//!
//! [audio]                      # an audio-class input (`lsrmon live --audio`)
//! device = "default"           # index, id or name from `lsrmon devices`
//! rate = 48000
//! format = "i16"               # i16, i32 or f32
//! buffer_frames = 480          # optional: frames per driver period
//!
//! [serial]                     # a SpikerBox (`lsrmon live --serial`)
//! port = "/dev/ttyACM0"
//! profile = "human"            # muscle-pro, human, neuron-pro, spike-station, shield
//! events = "zygomatic"         # EVNT messages are stimuli of this branch
//!
//! [[channel]]                  # one table per input, in the device's order
//! label = "mentalis"
//! muscle = "mentalis"
//! uv_full_scale = 5000.0       # µV at the electrodes that drive the converter to full scale
//!
//! [[channel]]
//! label = "trigger"
//! role = "trigger"
//! trigger_branch = "zygomatic"
//! ```
//!
//! `examples/site.toml` is a complete, commented example (a test parses it).
//!
//! Unknown keys are rejected (a misspelt key must not silently keep a default), and one
//! validation pass reports everything that is wrong, naming the file and each key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::acquisition::audio::{AudioChannel, AudioFormat};
use crate::acquisition::serial::{ChannelSpec, DeviceProfile};
use crate::model::{Branch, Muscle, Role};
use crate::settings::Settings;

/// Full scale assumed for a trigger or spare channel without `uv_full_scale` (1 V: a line
/// level; only the shape of a sync pulse matters, not its volts).
pub const DEFAULT_TRIGGER_UV_FULL_SCALE: f64 = 1e6;

/// A site's configuration file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// Detection settings (every threshold and criterion).
    pub detection: Settings,
    /// `[[channel]]` tables: what each input of the device carries, in the device's order.
    #[serde(rename = "channel")]
    pub channels: Vec<ChannelConfig>,
    /// `[audio]`: the audio-class input.
    pub audio: Option<AudioSection>,
    /// `[serial]`: the SpikerBox.
    pub serial: Option<SerialSection>,
}

/// One input: its label, muscle, role and calibration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Unique label, e.g. `mentalis`, `oculi_2`, `trigger`.
    pub label: String,
    /// The muscle of an EMG channel (required for `role = "emg"`).
    #[serde(default)]
    pub muscle: Option<Muscle>,
    /// `emg` (default), `trigger` (the stimulator's sync pulse) or `other`.
    #[serde(default = "default_role")]
    pub role: Role,
    /// µV at the electrodes that drive the converter to full scale (the positive peak).
    /// Required for EMG channels of an audio input; a serial device's default is its
    /// profile's nominal calibration.
    #[serde(default)]
    pub uv_full_scale: Option<f64>,
    /// For a trigger channel: the branch its pulses stimulate.
    #[serde(default)]
    pub trigger_branch: Option<Branch>,
}

fn default_role() -> Role {
    Role::Emg
}

/// `[audio]`: how to open the audio input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioSection {
    /// Index, id or name as `lsrmon devices` lists it, or `default`.
    pub device: Option<String>,
    /// Sample rate, Hz.
    pub rate: Option<u32>,
    /// Channel count (default: the number of `[[channel]]` tables).
    pub channels: Option<u16>,
    /// `i16`, `i32` or `f32` (default `i16`).
    pub format: Option<AudioFormat>,
    /// Frames per driver period (default: the driver's).
    pub buffer_frames: Option<u32>,
    /// Ring between the driver and the pipeline, seconds (default 2).
    pub ring_seconds: Option<f64>,
    /// No audio for this long: the device is considered gone (default 2 s).
    pub stall_timeout_s: Option<f64>,
}

/// `[serial]`: how to open the SpikerBox.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SerialSection {
    /// e.g. `/dev/ttyACM0`.
    pub port: Option<String>,
    /// `muscle-pro`, `human`, `neuron-pro`, `spike-station` or `shield`.
    pub profile: Option<String>,
    /// Channel count (default: the number of `[[channel]]` tables, else the profile's).
    pub channels: Option<usize>,
    /// Baud rate (default: the profile's; USB CDC devices ignore it).
    pub baud: Option<u32>,
    /// `EVNT` messages mark stimuli of this branch (the stimulator's sync output is wired to
    /// the expansion port). Absent: events are not stimuli.
    pub events: Option<Branch>,
    /// No byte for this long: the device is considered gone (default 3 s).
    pub stall_timeout_s: Option<f64>,
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file '{path}': {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file '{path}' is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the configuration file '{path}' has {problems}")]
    Invalid { path: PathBuf, problems: String },
}

impl SiteConfig {
    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates configuration text (`path` is only used in messages).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let problems = cfg.problems();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems: format!(
                    "{} problem{}:\n  - {}",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" },
                    problems.join("\n  - ")
                ),
            })
        }
    }

    /// Everything wrong with the configuration, one line each, naming the key.
    pub fn problems(&self) -> Vec<String> {
        let mut p: Vec<String> = match self.detection.validate() {
            Ok(()) => Vec::new(),
            Err(e) => e
                .problems
                .iter()
                .map(|x| format!("detection.{x}"))
                .collect(),
        };
        let positive = |p: &mut Vec<String>, key: &str, v: Option<f64>| {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    p.push(format!("{key} must be a positive number (got {v})"));
                }
            }
        };
        let mut labels: Vec<&str> = Vec::new();
        for (i, c) in self.channels.iter().enumerate() {
            let key = format!("channel[{}] ({})", i + 1, c.label);
            if c.label.trim().is_empty() {
                p.push(format!("channel[{}].label must not be empty", i + 1));
            } else if labels.contains(&c.label.as_str()) {
                p.push(format!("{key}.label is used twice"));
            }
            labels.push(&c.label);
            match (c.role, c.muscle) {
                (Role::Emg, None | Some(Muscle::None)) => p.push(format!(
                    "{key}.muscle is required for an EMG channel (e.g. \"mentalis\")"
                )),
                (Role::Trigger, Some(m)) if m != Muscle::None => p.push(format!(
                    "{key}.muscle: a trigger channel records no muscle (got \"{m}\")"
                )),
                _ => {}
            }
            if c.trigger_branch.is_some() && c.role != Role::Trigger {
                p.push(format!(
                    "{key}.trigger_branch is only for a channel with role = \"trigger\""
                ));
            }
            positive(&mut p, &format!("{key}.uv_full_scale"), c.uv_full_scale);
        }
        if self.channels.len() > 8 {
            p.push(format!(
                "channel: at most 8 channels can be recorded (got {})",
                self.channels.len()
            ));
        }
        let n = self.channels.len();
        if let Some(a) = &self.audio {
            if let Some(r) = a.rate {
                if !(1000..=384_000).contains(&r) {
                    p.push(format!("audio.rate must be 1000 to 384000 Hz (got {r})"));
                }
            }
            if let Some(c) = a.channels {
                if !(1..=8).contains(&c) {
                    p.push(format!("audio.channels must be 1 to 8 (got {c})"));
                } else if n > 0 && usize::from(c) != n {
                    p.push(format!(
                        "audio.channels is {c} but there are {n} [[channel]] tables"
                    ));
                }
            }
            if let Some(b) = a.buffer_frames {
                if !(16..=65_536).contains(&b) {
                    p.push(format!("audio.buffer_frames must be 16 to 65536 (got {b})"));
                }
            }
            positive(&mut p, "audio.ring_seconds", a.ring_seconds);
            positive(&mut p, "audio.stall_timeout_s", a.stall_timeout_s);
        }
        if let Some(s) = &self.serial {
            let profile = s.profile.as_deref().map(str::parse::<DeviceProfile>);
            if let Some(Err(e)) = &profile {
                p.push(format!("serial.profile: {e}"));
            }
            let count = s.channels.or((n > 0).then_some(n));
            if let (Some(Ok(prof)), Some(c)) = (&profile, count) {
                if prof.sample_rate_hz(c).is_none() {
                    p.push(format!(
                        "serial: the {} has {:?} channels, not {c}",
                        prof.name,
                        prof.channel_choices()
                    ));
                }
            }
            if let (Some(c), true) = (s.channels, n > 0) {
                if c != n {
                    p.push(format!(
                        "serial.channels is {c} but there are {n} [[channel]] tables"
                    ));
                }
            }
            if s.baud == Some(0) {
                p.push("serial.baud must be positive".into());
            }
            positive(&mut p, "serial.stall_timeout_s", s.stall_timeout_s);
        }
        p
    }

    /// The `[[channel]]` tables as audio channels. EMG channels need `uv_full_scale`;
    /// others default to [`DEFAULT_TRIGGER_UV_FULL_SCALE`].
    pub fn audio_channels(&self) -> Result<Vec<AudioChannel>, String> {
        self.channels
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let uv = match (c.uv_full_scale, c.role) {
                    (Some(v), _) => v,
                    (None, Role::Emg) => {
                        return Err(format!(
                            "channel[{}] ({}).uv_full_scale is required for an audio input: \
                             the µV at the electrodes that drive the converter to full scale \
                             (see hardware.md, Calibration)",
                            i + 1,
                            c.label
                        ))
                    }
                    (None, _) => DEFAULT_TRIGGER_UV_FULL_SCALE,
                };
                Ok(AudioChannel {
                    label: c.label.clone(),
                    muscle: c.muscle.unwrap_or(Muscle::None),
                    role: c.role,
                    trigger_branch: c.trigger_branch,
                    uv_full_scale: uv,
                })
            })
            .collect()
    }

    /// The `[[channel]]` tables as serial channel descriptions, with each channel's
    /// calibration (`None`: the device's).
    pub fn serial_channels(&self) -> (Vec<ChannelSpec>, Vec<Option<f64>>) {
        self.channels
            .iter()
            .map(|c| {
                (
                    ChannelSpec {
                        label: c.label.clone(),
                        muscle: c.muscle.unwrap_or(Muscle::None),
                        role: c.role,
                        trigger_branch: c.trigger_branch,
                    },
                    c.uv_full_scale,
                )
            })
            .unzip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_the_key() {
        let p = Path::new("site.toml");
        let e = SiteConfig::parse("[detection.criterion]\nabsent_rn = 3\n", p).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("site.toml") && msg.contains("absent_rn"),
            "{msg}"
        );
        let e = SiteConfig::parse("[detection.judge]\nabsent_snr = 9.0\n", p).unwrap_err();
        assert!(e.to_string().contains("absent_snr"), "{e}");
        let ok = SiteConfig::parse("[detection.conditioning]\nmains = \"60\"\n", p).unwrap();
        assert_eq!(
            ok.detection.conditioning.mains,
            crate::settings::Mains::Hz60
        );
    }

    #[test]
    fn the_shipped_example_parses_and_describes_both_devices() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/site.toml");
        let cfg = SiteConfig::load(&path).unwrap();
        let audio = cfg.audio.as_ref().unwrap();
        assert_eq!(audio.rate, Some(48_000));
        assert_eq!(audio.format, Some(AudioFormat::I16));
        let ch = cfg.audio_channels().unwrap();
        assert_eq!(ch.len(), 4);
        assert_eq!(ch[3].role, Role::Trigger);
        assert_eq!(ch[3].trigger_branch, Some(Branch::Zygomatic));
        assert!(ch[..3]
            .iter()
            .all(|c| c.role == Role::Emg && c.uv_full_scale > 0.0));
        let serial = cfg.serial.as_ref().unwrap();
        assert!(serial
            .profile
            .as_deref()
            .unwrap()
            .parse::<DeviceProfile>()
            .is_ok());
        assert_eq!(serial.events, Some(Branch::Zygomatic));
        let (specs, cal) = cfg.serial_channels();
        assert_eq!((specs.len(), cal.len()), (4, 4));
        assert_eq!(specs[2].muscle, Muscle::Mentalis);
    }

    #[test]
    fn one_pass_names_every_bad_key() {
        let p = Path::new("/etc/lsrmon/site.toml");
        let text = r#"
[detection.criterion]
absent_run = 0

[audio]
rate = 50
channels = 3
buffer_frames = 4

[serial]
profile = "toaster"

[[channel]]
label = "mentalis"
muscle = "mentalis"
uv_full_scale = -5.0

[[channel]]
label = "mentalis"
role = "emg"

[[channel]]
label = "trigger"
role = "trigger"
muscle = "mentalis"

[[channel]]
label = "x"
muscle = "nasalis"
trigger_branch = "zygomatic"
"#;
        let e = SiteConfig::parse(text, p).unwrap_err().to_string();
        for key in [
            "/etc/lsrmon/site.toml",
            "detection.",
            "audio.rate",
            "audio.channels is 3 but there are 4",
            "audio.buffer_frames",
            "serial.profile",
            "channel[1] (mentalis).uv_full_scale",
            "channel[2] (mentalis).label is used twice",
            "channel[2] (mentalis).muscle is required",
            "channel[3] (trigger).muscle",
            "channel[4] (x).trigger_branch",
        ] {
            assert!(e.contains(key), "'{key}' missing from:\n{e}");
        }
        // Unknown keys inside the new sections are refused, naming the key.
        let e = SiteConfig::parse("[audio]\nrat = 48000\n", p).unwrap_err();
        assert!(e.to_string().contains("rat"), "{e}");
        let e = SiteConfig::parse("[[channel]]\nlabel = \"a\"\nmuscel = \"mentalis\"\n", p)
            .unwrap_err();
        assert!(e.to_string().contains("muscel"), "{e}");
        // An EMG channel of an audio input needs its calibration.
        let cfg =
            SiteConfig::parse("[[channel]]\nlabel = \"m\"\nmuscle = \"mentalis\"\n", p).unwrap();
        assert!(cfg.audio_channels().unwrap_err().contains("uv_full_scale"));
        // A serial profile that cannot have this many channels.
        let e = SiteConfig::parse("[serial]\nprofile = \"spike-station\"\nchannels = 3\n", p)
            .unwrap_err();
        assert!(e.to_string().contains("not 3"), "{e}");
    }
}
