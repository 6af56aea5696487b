//! How `live` opens its source: the simulated patient, or a device behind a
//! [`ReconnectingSource`], with the site configuration filling in what the command line
//! does not say.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver};

use crate::acquisition::audio::{
    AudioConfig, AudioError, AudioFormat, AudioSource, AUDIO_COUNTERS,
};
use crate::acquisition::counters::DeviceCounters;
use crate::acquisition::reconnect::{
    DeviceNotice, Opener, ReconnectOptions, ReconnectingSource, RECONNECT_COUNTERS,
};
use crate::acquisition::serial::{
    CountedSerial, DeviceProfile, SerialConfig, SerialSource, SERIAL_COUNTERS,
};
use crate::config::SiteConfig;
use crate::model::Branch;
use crate::pipeline::{Backpressure, Pace};
use crate::sim::SimPatient;
use crate::source::Source;

use super::super::error::CliError;
use super::LiveArgs;

/// Which options were typed (clap cannot tell a default from a typed value once parsed, and
/// `--rate`/`--duration` are shared with the simulated patient's options).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Typed {
    pub rate: bool,
    pub duration: bool,
}

impl Typed {
    /// From the process's command line.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Self {
        let mut t = Self::default();
        for a in args {
            let is = |flag: &str| a == flag || a.starts_with(&format!("{flag}="));
            t.rate |= is("--rate");
            t.duration |= is("--duration");
        }
        t
    }
}

/// The source and what goes with it.
pub(super) struct Opened {
    pub source: Box<dyn Source>,
    pub counters: Vec<Arc<DeviceCounters>>,
    pub pace: Pace,
    pub backpressure: Backpressure,
    pub limit_frames: Option<u64>,
    pub notices: Receiver<DeviceNotice>,
}

fn branch(s: &str, what: &str) -> Result<Branch, CliError> {
    s.parse()
        .map_err(|e| CliError::bad_input(format!("{what}: {e}")))
}

fn reconnect_options(a: &LiveArgs) -> Result<ReconnectOptions, CliError> {
    let give_up_after = match a.give_up_after {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(CliError::bad_input(format!(
                "--give-up-after must be a positive number of seconds (got {s})"
            )))
        }
        None => None,
    };
    Ok(ReconnectOptions {
        give_up_after,
        ..ReconnectOptions::default()
    })
}

fn limit(a: &LiveArgs, typed: Typed, rate: f64) -> Result<Option<u64>, CliError> {
    if !typed.duration {
        return Ok(None);
    }
    let d = a.sim.duration;
    if !(d.is_finite() && d > 0.0) {
        return Err(CliError::bad_input(format!(
            "--duration must be a positive number of seconds (got {d})"
        )));
    }
    Ok(Some((d * rate).round() as u64))
}

pub(super) fn open_source(
    a: &LiveArgs,
    site: &SiteConfig,
    stop: &Arc<AtomicBool>,
    typed: Typed,
) -> Result<Opened, CliError> {
    let (ntx, nrx) = bounded::<DeviceNotice>(64);
    let kinds = [a.audio.is_some(), a.serial.is_some(), a.simulate];
    let chosen = match kinds {
        [false, false, false] => match (&site.audio, &site.serial) {
            (Some(_), None) => "audio",
            (None, Some(_)) => "serial",
            _ => {
                return Err(CliError::bad_input(
                    "say what to monitor: --audio NAME|INDEX, --serial PORT or --simulate \
                     (or give a site configuration with exactly one of [audio] and [serial])",
                ))
            }
        },
        [true, _, _] => "audio",
        [_, true, _] => "serial",
        _ => "sim",
    };
    if chosen != "sim" && a.speed != 1.0 {
        return Err(CliError::bad_input(
            "--speed is only for --simulate: a device runs in real time",
        ));
    }
    let reconnect = DeviceCounters::new("reconnect", RECONNECT_COUNTERS);
    let (id, first, open, counters) = match chosen {
        "sim" => {
            if !(a.speed.is_finite() && a.speed > 0.0) {
                return Err(CliError::bad_input(format!(
                    "--speed must be a positive number (got {})",
                    a.speed
                )));
            }
            let patient = SimPatient::new(super::super::demo::sim_config(&a.sim)?)
                .map_err(|e| CliError::bad_input(e.to_string()))?;
            drop(ntx);
            return Ok(Opened {
                source: Box::new(patient),
                counters: Vec::new(),
                pace: Pace::Speed(a.speed),
                backpressure: Backpressure::Wait,
                limit_frames: None,
                notices: nrx,
            });
        }
        "audio" => {
            let sect = site.audio.clone().unwrap_or_default();
            let channels = site.audio_channels().map_err(CliError::bad_input)?;
            if channels.is_empty() {
                return Err(CliError::bad_input(
                    "an audio input needs its channels described: add [[channel]] tables \
                     (label, muscle, role, uv_full_scale) to the site configuration given \
                     with --config (see examples/site.toml)",
                ));
            }
            let wanted = a.channels.or(sect.channels.map(usize::from));
            if let Some(n) = wanted.filter(|&n| n != channels.len()) {
                return Err(CliError::bad_input(format!(
                    "{n} channels asked for, but the site configuration describes {}",
                    channels.len()
                )));
            }
            let rate = if typed.rate {
                let r = a.sim.rate;
                if !(r.is_finite() && r >= 1.0 && r.fract() == 0.0 && r <= 384_000.0) {
                    return Err(CliError::bad_input(format!(
                        "--rate must be a whole number of Hz up to 384000 (got {r})"
                    )));
                }
                r as u32
            } else {
                sect.rate.unwrap_or(48_000)
            };
            let format = match &a.format {
                Some(f) => f
                    .parse()
                    .map_err(|e: String| CliError::bad_input(format!("--format: {e}")))?,
                None => sect.format.unwrap_or(AudioFormat::I16),
            };
            let mut cfg = AudioConfig::new(
                a.audio
                    .clone()
                    .or(sect.device.clone())
                    .unwrap_or_else(|| "default".into()),
                rate,
                channels,
            );
            cfg.format = format;
            cfg.buffer_frames = a.buffer_frames.or(sect.buffer_frames);
            if let Some(r) = sect.ring_seconds {
                cfg.ring_seconds = r;
            }
            if let Some(s) = sect.stall_timeout_s {
                cfg.stall_timeout = Duration::from_secs_f64(s);
            }
            cfg.stop = Some(stop.clone());
            let counters = DeviceCounters::new("audio", AUDIO_COUNTERS);
            let first = AudioSource::open(&cfg, counters.clone()).map_err(|e| match e {
                AudioError::Open { .. } => CliError::device(e.to_string()),
                _ => CliError::bad_input(e.to_string()),
            })?;
            let id = first.device_id().to_string();
            let c2 = counters.clone();
            let open: Opener = Box::new(move || {
                AudioSource::open(&cfg, c2.clone())
                    .map(|s| Box::new(s) as Box<dyn Source>)
                    .map_err(|e| e.to_string())
            });
            (id, Box::new(first) as Box<dyn Source>, open, counters)
        }
        _ => {
            let sect = site.serial.clone().unwrap_or_default();
            let port = a.serial.clone().or(sect.port.clone()).ok_or_else(|| {
                CliError::bad_input("--serial PORT (or [serial] port in the site configuration)")
            })?;
            let profile: DeviceProfile = a
                .profile
                .clone()
                .or(sect.profile.clone())
                .ok_or_else(|| {
                    CliError::bad_input(
                        "--profile NAME is required for a SpikerBox: muscle-pro, human, \
                         neuron-pro, spike-station or shield",
                    )
                })?
                .parse()
                .map_err(|e: String| CliError::bad_input(format!("--profile: {e}")))?;
            let (specs, calibration) = site.serial_channels();
            if specs.is_empty() {
                return Err(CliError::bad_input(
                    "a SpikerBox needs its channels described: add [[channel]] tables \
                     (label, muscle, role) to the site configuration given with --config \
                     (see examples/site.toml)",
                ));
            }
            let channels = a.channels.or(sect.channels).unwrap_or(specs.len());
            if channels != specs.len() {
                return Err(CliError::bad_input(format!(
                    "{channels} channels asked for, but the site configuration describes {}",
                    specs.len()
                )));
            }
            let events = match (&a.events, sect.events) {
                (Some(s), _) => Some(branch(s, "--events")?),
                (None, b) => b,
            };
            let mut cfg = SerialConfig::new(port.clone(), profile);
            cfg.channels = Some(channels);
            cfg.baud = a.baud.or(sect.baud);
            cfg.channel_specs = specs;
            cfg.stimulus_events = events.is_some();
            cfg.event_branch = events.unwrap_or(Branch::Zygomatic);
            if let Some(s) = sect.stall_timeout_s {
                cfg.stall_timeout = Duration::from_secs_f64(s);
            }
            let counters = DeviceCounters::new("serial", SERIAL_COUNTERS);
            let open_one = {
                let counters = counters.clone();
                move || -> Result<CountedSerial, String> {
                    let s = SerialSource::open(&cfg).map_err(|e| e.to_string())?;
                    CountedSerial::new(s, &calibration, counters.clone()).map_err(|e| e.to_string())
                }
            };
            let first = open_one().map_err(CliError::device)?;
            let again = open_one;
            let open: Opener = Box::new(move || again().map(|s| Box::new(s) as Box<dyn Source>));
            (port, Box::new(first) as Box<dyn Source>, open, counters)
        }
    };
    // A device: reopened when it goes away, its outages announced and counted.
    let source = ReconnectingSource::new(id, first, open, reconnect_options(a)?, reconnect.clone())
        .with_stop(stop.clone())
        .with_notices(ntx);
    let rate = source.info().sample_rate_hz;
    Ok(Opened {
        source: Box::new(source),
        counters: vec![counters, reconnect],
        pace: Pace::Unpaced,
        backpressure: Backpressure::Drop,
        limit_frames: limit(a, typed, rate)?,
        notices: nrx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_options_are_told_from_defaults() {
        let t =
            Typed::from_args(["lsrmon", "live", "--duration=5", "--serial", "x"].map(String::from));
        assert_eq!(
            t,
            Typed {
                rate: false,
                duration: true
            }
        );
        let t = Typed::from_args(["lsrmon", "live", "--rate", "48000"].map(String::from));
        assert_eq!(
            t,
            Typed {
                rate: true,
                duration: false
            }
        );
        assert_eq!(
            Typed::from_args(["--rates"].map(String::from)),
            Typed::default()
        );
    }
}
