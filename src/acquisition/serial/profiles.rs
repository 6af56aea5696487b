//! The SpikerBox devices that stream the serial protocol, as profiles: channels, rates, bit
//! depth, baud rate, the commands that start and stop them, and a calibration.
//!
//! The numbers come from the maker's USB communication guide (R7): channel counts and rates,
//! 10 or 14 bits, the baud rates of the UART devices, `c:n;` to set the channel count,
//! `start:;`/`h:;` to start and stop the Pro devices, `?:;` to ask for versions.
//!
//! ## Calibration is not in the protocol
//! The stream carries raw converter counts; mid-scale (512 or 8192) is 0 V. How many volts at
//! the electrodes one count is depends on the amplifier gain (and its knob on some devices),
//! which the protocol does not report. Each profile therefore has a **nominal** default,
//! the same convention for all: the converter's full scale spans ±5 mV at the electrodes
//! (the usual range of an EMG amplifier), i.e. 10 mV / 1024 = 9.77 µV per count at 10 bits
//! and 10 mV / 16384 = 0.61 µV per count at 14 bits. It is a placeholder that keeps
//! amplitudes in a plausible range, **not** a measurement: for amplitudes that mean something,
//! record a known test signal and set `volts_per_count` in the configuration. The value used
//! is written into the session file with the samples.

use std::fmt;
use std::str::FromStr;

/// Full scale of the nominal calibration: ±5 mV at the electrodes.
pub const NOMINAL_FULL_SCALE_VOLTS: f64 = 10e-3;

/// Which device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    MuscleSpikerBoxPro,
    HumanSpikerBox,
    NeuronSpikerBoxPro,
    SpikeStation,
    MuscleSpikerShield,
}

/// How channels map to the sample rate.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rates {
    /// (channels, Hz) pairs.
    Table(&'static [(usize, f64)]),
    /// A total rate shared by 1..=max channels.
    Shared { total_hz: f64, max_channels: usize },
}

/// A device profile. See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceProfile {
    pub kind: DeviceKind,
    /// The maker's name.
    pub name: &'static str,
    /// What the command line accepts (`muscle-pro`, `human`, ...).
    pub short_name: &'static str,
    /// 10 or 14.
    pub bits: u8,
    pub default_channels: usize,
    rates: Rates,
    /// Baud rate used to open the port (ignored by USB CDC devices and pseudo-terminals).
    pub baud: u32,
    /// Send `c:n;` to set the channel count.
    pub sets_channel_count: bool,
    /// Send `?:;` to ask for firmware version and hardware type.
    pub asks_versions: bool,
    /// Sent after the set-up to start streaming, and when closing to stop it.
    pub start_command: Option<&'static str>,
    pub stop_command: Option<&'static str>,
    /// Time to wait after opening before sending anything (an Arduino resets when its port
    /// opens and its boot loader ignores commands meanwhile), ms.
    pub boot_delay_ms: u64,
}

const PROFILES: [DeviceProfile; 5] = [
    DeviceProfile {
        kind: DeviceKind::MuscleSpikerBoxPro,
        name: "Muscle SpikerBox Pro",
        short_name: "muscle-pro",
        bits: 10,
        default_channels: 2,
        rates: Rates::Table(&[(2, 10_000.0), (3, 5_000.0), (4, 5_000.0)]),
        baud: 230_400,
        sets_channel_count: true,
        asks_versions: true,
        start_command: Some("start:;"),
        stop_command: Some("h:;"),
        boot_delay_ms: 0,
    },
    DeviceProfile {
        kind: DeviceKind::HumanSpikerBox,
        name: "Human SpikerBox",
        short_name: "human",
        bits: 14,
        default_channels: 2,
        rates: Rates::Table(&[(2, 5_000.0), (3, 5_000.0), (4, 5_000.0)]),
        baud: 230_400,
        sets_channel_count: true,
        asks_versions: true,
        start_command: None,
        stop_command: None,
        boot_delay_ms: 0,
    },
    DeviceProfile {
        kind: DeviceKind::NeuronSpikerBoxPro,
        name: "Neuron SpikerBox Pro",
        short_name: "neuron-pro",
        bits: 14,
        default_channels: 2,
        rates: Rates::Table(&[(2, 10_000.0), (3, 10_000.0)]),
        baud: 500_000,
        sets_channel_count: true,
        asks_versions: true,
        start_command: Some("start:;"),
        stop_command: Some("h:;"),
        boot_delay_ms: 0,
    },
    DeviceProfile {
        kind: DeviceKind::SpikeStation,
        name: "Spike Station",
        short_name: "spike-station",
        bits: 14,
        default_channels: 2,
        rates: Rates::Table(&[(2, 42_660.0)]),
        baud: 230_400,
        sets_channel_count: false,
        asks_versions: true,
        start_command: None,
        stop_command: None,
        boot_delay_ms: 0,
    },
    DeviceProfile {
        kind: DeviceKind::MuscleSpikerShield,
        name: "Muscle SpikerShield",
        short_name: "shield",
        bits: 10,
        default_channels: 1,
        rates: Rates::Shared {
            total_hz: 10_000.0,
            max_channels: 6,
        },
        baud: 230_400,
        sets_channel_count: true,
        asks_versions: false,
        start_command: None,
        stop_command: None,
        boot_delay_ms: 2_000,
    },
];

impl DeviceProfile {
    /// Every known device.
    pub fn all() -> &'static [DeviceProfile] {
        &PROFILES
    }

    pub fn of(kind: DeviceKind) -> &'static DeviceProfile {
        PROFILES
            .iter()
            .find(|p| p.kind == kind)
            .unwrap_or(&PROFILES[0])
    }

    /// Sample rate per channel with `channels` channels, if the device supports that count.
    pub fn sample_rate_hz(&self, channels: usize) -> Option<f64> {
        match self.rates {
            Rates::Table(t) => t.iter().find(|(c, _)| *c == channels).map(|(_, hz)| *hz),
            Rates::Shared {
                total_hz,
                max_channels,
            } => (1..=max_channels)
                .contains(&channels)
                .then(|| total_hz / channels as f64),
        }
    }

    /// The channel counts the device supports.
    pub fn channel_choices(&self) -> Vec<usize> {
        match self.rates {
            Rates::Table(t) => t.iter().map(|(c, _)| *c).collect(),
            Rates::Shared { max_channels, .. } => (1..=max_channels).collect(),
        }
    }

    /// The count that means 0 V (512 or 8192).
    pub fn midscale(&self) -> u16 {
        1 << (self.bits - 1)
    }

    /// The largest count (1023 or 16383).
    pub fn max_count(&self) -> u16 {
        (1u16 << self.bits) - 1
    }

    /// The nominal calibration (see the module documentation), volts per count.
    pub fn nominal_volts_per_count(&self) -> f64 {
        NOMINAL_FULL_SCALE_VOLTS / f64::from(1u32 << self.bits)
    }

    /// What to send after opening the port, in order: the channel count, the version query,
    /// the start command.
    pub fn handshake(&self, channels: usize) -> String {
        let mut s = String::new();
        if self.sets_channel_count {
            s.push_str(&format!("c:{channels};"));
        }
        if self.asks_versions {
            s.push_str("?:;");
        }
        if let Some(start) = self.start_command {
            s.push_str(start);
        }
        s
    }
}

impl fmt::Display for DeviceProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl FromStr for DeviceProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        PROFILES
            .iter()
            .find(|p| p.short_name == wanted)
            .copied()
            .ok_or_else(|| {
                let names: Vec<&str> = PROFILES.iter().map(|p| p.short_name).collect();
                format!(
                    "'{}' is not a SpikerBox device (one of: {})",
                    s.trim(),
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_makers_table() {
        let p = |s: &str| s.parse::<DeviceProfile>().unwrap();
        let muscle = p("muscle-pro");
        assert_eq!(
            (muscle.bits, muscle.sample_rate_hz(2)),
            (10, Some(10_000.0))
        );
        assert_eq!(muscle.sample_rate_hz(4), Some(5_000.0));
        assert_eq!(muscle.sample_rate_hz(1), None);
        let human = p("Human");
        assert_eq!((human.bits, human.sample_rate_hz(3)), (14, Some(5_000.0)));
        assert_eq!(p("neuron-pro").baud, 500_000);
        assert_eq!(p("neuron-pro").sample_rate_hz(3), Some(10_000.0));
        assert_eq!(p("spike_station").sample_rate_hz(2), Some(42_660.0));
        let shield = p("shield");
        assert_eq!(shield.sample_rate_hz(4), Some(2_500.0));
        assert_eq!(shield.channel_choices(), vec![1, 2, 3, 4, 5, 6]);
        assert!(DeviceProfile::all()
            .iter()
            .all(|d| d.sample_rate_hz(d.default_channels).is_some()));
        let err = "mouse".parse::<DeviceProfile>().unwrap_err();
        assert!(
            err.contains("muscle-pro") && err.contains("shield"),
            "{err}"
        );
    }

    #[test]
    fn handshake_and_calibration() {
        let muscle = DeviceProfile::of(DeviceKind::MuscleSpikerBoxPro);
        assert_eq!(muscle.handshake(3), "c:3;?:;start:;");
        assert_eq!(
            DeviceProfile::of(DeviceKind::SpikeStation).handshake(2),
            "?:;"
        );
        assert_eq!(
            DeviceProfile::of(DeviceKind::MuscleSpikerShield).handshake(2),
            "c:2;"
        );
        assert_eq!((muscle.midscale(), muscle.max_count()), (512, 1023));
        let human = DeviceProfile::of(DeviceKind::HumanSpikerBox);
        assert_eq!((human.midscale(), human.max_count()), (8192, 16383));
        // Full scale spans 10 mV at the electrodes.
        let full = |d: &DeviceProfile| d.nominal_volts_per_count() * (d.max_count() as f64 + 1.0);
        assert!((full(muscle) - 0.01).abs() < 1e-12 && (full(human) - 0.01).abs() < 1e-12);
    }
}
