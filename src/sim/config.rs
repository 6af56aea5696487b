//! Settings of the simulated patient, with defaults that make a realistic demonstration case.
//!
//! Everything a test or the `demo` command may want to vary is here, named in the units a
//! technologist uses (µV, Hz, seconds). Unknown keys are rejected, missing keys take the
//! defaults, and [`SimConfig::validate`] lists every problem in one pass.

use serde::{Deserialize, Serialize};

use crate::model::Muscle;

use super::scenario::Scenario;
use super::SimError;

/// Volts per ADC count of the simulated 16-bit amplifier (0.2 µV per count, ±6.55 mV range).
pub const VOLTS_PER_COUNT: f64 = 0.2e-6;
/// Microvolts per ADC count.
pub const UV_PER_COUNT: f64 = 0.2;
/// The converter's rails, in counts.
pub const RAIL_LOW: f64 = -32768.0;
pub const RAIL_HIGH: f64 = 32767.0;
/// Most channels a simulation may have.
pub const MAX_CHANNELS: usize = 8;

/// A span of time in the case (an electrocautery episode, a run of lost samples).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Episode {
    /// Start, seconds from the start of the recording.
    pub start_s: f64,
    /// Length, seconds.
    pub duration_s: f64,
}

impl Episode {
    pub fn end_s(&self) -> f64 {
        self.start_s + self.duration_s
    }
}

/// Everything that defines a simulated case. The same settings (and seed) give the same
/// samples; the same settings at another sample rate give the same physiology.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// How the LSR behaves over the case.
    pub scenario: Scenario,
    /// 5000 to 48000 Hz.
    pub sample_rate_hz: f64,
    /// Length of the case, seconds (the surgical timeline is scaled to it).
    pub duration_s: f64,
    pub seed: u64,
    /// RMS of the amplifier/electrode noise on every EMG channel, µV (band-limited to
    /// min(3 kHz, 0.45 x sample rate)).
    pub noise_uv: f64,
    /// Mains hum, µV peak of the fundamental (averaged over the EMG channels; each channel
    /// gets its own share and phase, plus the 3rd and 5th harmonics).
    pub mains_uv: f64,
    /// Mains frequency, Hz: 50 or 60.
    pub mains_hz: u32,
    /// Slow baseline wander, µV (sum of the peaks of three slow components).
    pub drift_uv: f64,
    /// Median LSR amplitude across patients, µV peak to peak (mentalis is larger than
    /// orbicularis oris).
    pub lsr_uv: f64,
    /// Spontaneous EMG bursts per minute on each EMG channel.
    pub bursts_per_min: f64,
    /// Number of electrocautery episodes placed from the seed (during opening and closing).
    pub cautery: u32,
    /// Electrocautery episodes at given times, in addition to `cautery`.
    pub cautery_times: Vec<Episode>,
    /// Number of electrode "pops" (large slow artifacts that saturate one channel), placed
    /// from the seed after the baseline.
    pub electrode_pops: u32,
    /// Stimulation rate, Hz (0.1 to 5).
    pub stim_rate_hz: f64,
    /// Record the stimulator's sync pulse on a `trigger` channel.
    pub trigger: bool,
    /// Also announce each stimulus as a source event.
    pub stimulus_events: bool,
    /// EMG channels added after mentalis (e.g. frontalis, nasalis), up to 8 channels in all.
    pub extra_channels: Vec<Muscle>,
    /// Runs of lost samples (for testing): their frames are dropped and a gap is announced.
    pub gaps: Vec<Episode>,
    /// The tidy physiology of lsrmon's first simulator: an artifact that recovers within
    /// 0.45 ms (gone soon after the blank), crosstalk that is an exact scaled copy of the
    /// direct response, LSR onsets of 9-10.5 ms, no late component. It flatters a detector
    /// and is kept only so that the first scenario targets are measured on exactly the
    /// patients they were set on; everything else (demo, simulate, `lsrmon validate`) uses
    /// the operating room's harder side (false).
    pub tidy: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            scenario: Scenario::default(),
            sample_rate_hz: 10_000.0,
            duration_s: 600.0,
            seed: 1,
            noise_uv: 5.0,
            mains_uv: 20.0,
            mains_hz: 50,
            drift_uv: 30.0,
            lsr_uv: 200.0,
            bursts_per_min: 1.0,
            cautery: 2,
            cautery_times: Vec::new(),
            electrode_pops: 1,
            stim_rate_hz: 1.0,
            trigger: true,
            stimulus_events: false,
            extra_channels: Vec::new(),
            gaps: Vec::new(),
            tidy: false,
        }
    }
}

impl SimConfig {
    /// A quiet configuration for tests: the given scenario, seed, rate and length, no
    /// cautery, bursts, pops or drift (the caller turns on what it wants to see).
    pub fn quiet(scenario: Scenario, seed: u64, sample_rate_hz: f64, duration_s: f64) -> Self {
        Self {
            scenario,
            seed,
            sample_rate_hz,
            duration_s,
            bursts_per_min: 0.0,
            cautery: 0,
            electrode_pops: 0,
            drift_uv: 0.0,
            ..Self::default()
        }
    }

    /// Number of EMG channels.
    pub fn emg_channel_count(&self) -> usize {
        3 + self.extra_channels.len()
    }

    /// Number of channels in the stream.
    pub fn channel_count(&self) -> usize {
        self.emg_channel_count() + usize::from(self.trigger)
    }

    /// Checks every setting; the error lists every problem found.
    pub fn validate(&self) -> Result<(), SimError> {
        let mut p = Vec::new();
        let mut in_range = |name: &str, v: f64, lo: f64, hi: f64, unit: &str| {
            if !(v.is_finite() && v >= lo && v <= hi) {
                p.push(format!(
                    "{name} is {v}{unit}; it must be between {lo} and {hi}{unit}"
                ));
            }
        };
        in_range(
            "sample_rate_hz",
            self.sample_rate_hz,
            5000.0,
            48000.0,
            " Hz",
        );
        in_range("duration_s", self.duration_s, 10.0, 86_400.0, " s");
        in_range("noise_uv", self.noise_uv, 0.0, 500.0, " µV");
        in_range("mains_uv", self.mains_uv, 0.0, 2000.0, " µV");
        in_range("drift_uv", self.drift_uv, 0.0, 2000.0, " µV");
        in_range("lsr_uv", self.lsr_uv, 1.0, 3000.0, " µV");
        in_range("bursts_per_min", self.bursts_per_min, 0.0, 60.0, "");
        in_range("stim_rate_hz", self.stim_rate_hz, 0.1, 5.0, " Hz");
        if self.mains_hz != 50 && self.mains_hz != 60 {
            p.push(format!(
                "mains_hz is {}; it must be 50 or 60",
                self.mains_hz
            ));
        }
        if self.cautery > 50 {
            p.push(format!("cautery is {} episodes; at most 50", self.cautery));
        }
        if self.electrode_pops > 100 {
            p.push(format!(
                "electrode_pops is {}; at most 100",
                self.electrode_pops
            ));
        }
        for e in &self.extra_channels {
            if matches!(e, Muscle::None) {
                p.push("extra_channels: 'none' is not a muscle an EMG channel can record".into());
            }
        }
        if self.channel_count() > MAX_CHANNELS {
            p.push(format!(
                "{} channels requested (3 + {} extra{}); at most {MAX_CHANNELS}",
                self.channel_count(),
                self.extra_channels.len(),
                if self.trigger { " + trigger" } else { "" }
            ));
        }
        let d = self.duration_s;
        for (i, e) in self.cautery_times.iter().enumerate() {
            if !(e.start_s.is_finite() && e.start_s >= 0.0 && e.end_s() <= d) {
                p.push(format!(
                    "cautery_times[{i}] runs from {} s to {} s, outside the case (0 to {d} s)",
                    e.start_s,
                    e.end_s()
                ));
            }
            if !(e.duration_s.is_finite() && (0.1..=120.0).contains(&e.duration_s)) {
                p.push(format!(
                    "cautery_times[{i}] lasts {} s; it must last 0.1 to 120 s",
                    e.duration_s
                ));
            }
        }
        for (i, e) in self.gaps.iter().enumerate() {
            if !(e.start_s.is_finite() && e.start_s > 0.0 && e.end_s() < d) {
                p.push(format!(
                    "gaps[{i}] runs from {} s to {} s; a gap must lie inside the case (after 0 s, \
                     ending before {d} s)",
                    e.start_s,
                    e.end_s()
                ));
            }
            if !(e.duration_s.is_finite() && e.duration_s > 0.0 && e.duration_s <= 60.0) {
                p.push(format!(
                    "gaps[{i}] lasts {} s; it must last more than 0 and at most 60 s",
                    e.duration_s
                ));
            }
        }
        let mut gaps: Vec<&Episode> = self.gaps.iter().collect();
        gaps.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        for w in gaps.windows(2) {
            if w[1].start_s < w[0].end_s() + 0.01 {
                p.push(format!(
                    "gaps starting at {} s and {} s overlap or touch; separate them",
                    w[0].start_s, w[1].start_s
                ));
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(SimError::Invalid(p))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_have_four_channels() {
        let c = SimConfig::default();
        c.validate().unwrap();
        assert_eq!(c.channel_count(), 4);
        assert_eq!(c.emg_channel_count(), 3);
    }

    #[test]
    fn every_problem_is_reported_by_name() {
        let c = SimConfig {
            sample_rate_hz: 4000.0,
            mains_hz: 55,
            stim_rate_hz: 0.0,
            extra_channels: vec![Muscle::Frontalis; 5],
            gaps: vec![Episode {
                start_s: 700.0,
                duration_s: 1.0,
            }],
            ..SimConfig::default()
        };
        let msg = c.validate().unwrap_err().to_string();
        for word in [
            "sample_rate_hz is 4000",
            "mains_hz is 55",
            "stim_rate_hz",
            "9 channels",
            "gaps[0]",
        ] {
            assert!(msg.contains(word), "'{word}' missing from: {msg}");
        }
    }

    #[test]
    fn overlapping_gaps_are_refused() {
        let c = SimConfig {
            gaps: vec![
                Episode {
                    start_s: 10.0,
                    duration_s: 2.0,
                },
                Episode {
                    start_s: 11.0,
                    duration_s: 1.0,
                },
            ],
            ..SimConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("overlap"));
    }

    #[test]
    fn parses_from_toml_with_defaults_and_rejects_unknown_keys() {
        let c: SimConfig = toml::from_str(
            "scenario = \"transient-return\"\nsample_rate_hz = 48000.0\nextra_channels = [\"frontalis\"]\n\
             gaps = [{ start_s = 30.0, duration_s = 0.5 }]",
        )
        .unwrap();
        assert_eq!(c.scenario, Scenario::TransientReturn);
        assert_eq!(c.sample_rate_hz, 48000.0);
        assert_eq!(c.extra_channels, vec![Muscle::Frontalis]);
        assert_eq!(c.noise_uv, SimConfig::default().noise_uv);
        assert_eq!(c.gaps.len(), 1);
        let err = toml::from_str::<SimConfig>("noise = 3.0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("noise"), "{err}");
    }
}
