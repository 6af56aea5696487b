//! `lsrmon demo`: the simulated patient through the live pipeline, in real time, on the
//! dashboard (or the headless report when there is no terminal or with `--headless`).

use std::io::Write;

use crate::dashboard::{self, DashboardError, DashboardOptions, Shown};
use crate::detect::Engine;
use crate::pipeline::{self, Backpressure, Pace, PipelineConfig};
use crate::sim::{SimConfig, SimPatient};
use crate::source::Source;

use super::args::{DemoArgs, GlobalArgs, SimArgs};
use super::error::CliError;

/// Builds the simulated patient's configuration from the command line.
pub fn sim_config(a: &SimArgs) -> Result<SimConfig, CliError> {
    let scenario = a
        .scenario
        .parse()
        .map_err(|e| CliError::bad_input(format!("--scenario: {e}")))?;
    Ok(SimConfig {
        scenario,
        sample_rate_hz: a.rate,
        duration_s: a.duration,
        seed: a.seed,
        noise_uv: a.noise_uv,
        mains_uv: a.mains_uv,
        mains_hz: a.mains_hz,
        cautery: a.cautery,
        bursts_per_min: a.bursts_per_min,
        lsr_uv: a.lsr_uv,
        trigger: !a.no_trigger,
        ..SimConfig::default()
    })
}

/// Detection settings from `--config`, or the defaults.
pub fn settings(g: &GlobalArgs) -> Result<crate::settings::Settings, CliError> {
    match &g.config {
        Some(p) => crate::config::SiteConfig::load(p)
            .map(|c| c.detection)
            .map_err(|e| CliError::bad_input(e.to_string())),
        None => Ok(crate::settings::Settings::default()),
    }
}

pub fn run(g: &GlobalArgs, a: &DemoArgs) -> Result<(), CliError> {
    if !(a.speed.is_finite() && a.speed > 0.0) {
        return Err(CliError::bad_input(format!(
            "--speed must be a positive number (got {})",
            a.speed
        )));
    }
    let settings = settings(g)?;
    let patient =
        SimPatient::new(sim_config(&a.sim)?).map_err(|e| CliError::bad_input(e.to_string()))?;
    let info = patient.info().clone();
    let markers = patient.markers();
    let engine = Engine::new(&info, &settings)?;
    let timing = engine.timing_name();
    let cfg = PipelineConfig {
        pace: Pace::Speed(a.speed),
        backpressure: Backpressure::Wait,
        ..PipelineConfig::default()
    };
    let running = pipeline::spawn(Box::new(patient), engine, cfg);
    // The dashboard when stdout is a terminal, else (or with --headless) the headless report.
    if a.headless || !dashboard::terminal_available() {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "lsrmon demo: {} at {} Hz, {} channels, stimuli from the {}; speed x{}",
            info.description,
            info.sample_rate_hz,
            info.channel_count(),
            timing,
            a.speed
        )?;
        writeln!(
            out,
            "lsrmon is a research and teaching tool, not a medical device."
        )?;
        return super::headless::watch(&mut out, running, &info, markers, !a.changes_only);
    }
    let opts = DashboardOptions {
        title: format!("demo x{}, stimuli from the {timing}", a.speed),
        ring_frames: cfg.ring_frames,
        ..DashboardOptions::default()
    };
    let outcome =
        dashboard::run(running, &info, &settings, markers, opts).map_err(|e| match e {
            DashboardError::Output(io) => CliError::from(io),
            DashboardError::SourceFailed(m) => CliError::device(m),
            e => CliError::internal(e.to_string()),
        })?;
    if outcome.shown == Shown::Dashboard {
        let ended = if outcome.quit_early {
            "quit before the end of the case"
        } else {
            "case complete"
        };
        println!(
            "lsrmon demo: {ended}; {} marker(s) added. lsrmon is a research and teaching tool, \
             not a medical device.",
            outcome.user_markers.len()
        );
    }
    Ok(())
}
