//! Random patients for the robustness matrix: operating-room conditions drawn from ranges,
//! not one tidy value.
//!
//! Each draw fixes what the case configuration controls (sample rate, noise, mains, drift,
//! LSR size, bursts, cautery, electrode pops, stimulation rate, how stimuli are timed); the
//! physiology the seed draws inside the simulator adds the rest (artifact recovery of
//! 0.2-1.5 ms with a slow 2-5 ms component in some patients, amplifier saturation, distorted
//! crosstalk of 1-10 %, LSR onset 8.5-12.5 ms with 2-5 phases, a late component in some).
//! One seed is one patient: the same seed always gives the same case.

use super::rng::Rng;
use super::{Scenario, SimConfig};

/// Sample rates of real acquisition devices (audio interfaces, SpikerBox, EMG amplifiers).
pub const RATES: [f64; 7] = [
    5_000.0, 8_000.0, 10_000.0, 16_000.0, 22_050.0, 44_100.0, 48_000.0,
];

/// How the engine learns the stimulus times in a drawn case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StimulusSource {
    Trigger,
    Events,
    Artifact,
}

/// A drawn patient.
#[derive(Clone, Debug, PartialEq)]
pub struct Patient {
    pub seed: u64,
    pub config: SimConfig,
    pub stimuli: StimulusSource,
}

/// Draws one patient of `scenario` lasting `duration_s` from `seed`.
pub fn draw(seed: u64, scenario: Scenario, duration_s: f64) -> Patient {
    let mut r = Rng::stream(seed, &[0x0b5e_55ed, scenario as u64]);
    let rate = RATES[(r.uniform() * RATES.len() as f64) as usize % RATES.len()];
    let stimuli = match r.uniform() {
        u if u < 0.7 => StimulusSource::Trigger,
        u if u < 0.85 => StimulusSource::Events,
        _ => StimulusSource::Artifact,
    };
    let config = SimConfig {
        scenario,
        sample_rate_hz: rate,
        duration_s,
        seed,
        noise_uv: r.log_range(2.0, 15.0),
        mains_uv: r.log_range(5.0, 200.0),
        mains_hz: if r.chance(0.5) { 50 } else { 60 },
        drift_uv: r.range(5.0, 100.0),
        lsr_uv: r.log_range(60.0, 600.0),
        bursts_per_min: r.range(0.0, 3.0),
        cautery: r.int(0, 3),
        electrode_pops: r.int(0, 2),
        stim_rate_hz: [0.5, 1.0, 1.0, 1.0, 2.0][(r.uniform() * 5.0) as usize % 5],
        trigger: stimuli == StimulusSource::Trigger,
        stimulus_events: stimuli == StimulusSource::Events,
        ..SimConfig::default()
    };
    Patient {
        seed,
        config,
        stimuli,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_valid_repeatable_and_spread_over_the_ranges() {
        let mut rates = std::collections::BTreeSet::new();
        let (mut lo_noise, mut hi_noise) = (f64::MAX, 0.0_f64);
        for seed in 0..200 {
            let p = draw(seed, Scenario::Abrupt, 300.0);
            assert_eq!(p, draw(seed, Scenario::Abrupt, 300.0));
            p.config.validate().unwrap();
            rates.insert(p.config.sample_rate_hz as u64);
            lo_noise = lo_noise.min(p.config.noise_uv);
            hi_noise = hi_noise.max(p.config.noise_uv);
        }
        assert_eq!(rates.len(), RATES.len());
        assert!(lo_noise < 2.5 && hi_noise > 12.0, "{lo_noise} {hi_noise}");
    }
}
