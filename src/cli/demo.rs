//! `lsrmon demo`: the simulated patient through the live pipeline, in real time, on the
//! dashboard (or the headless report when there is no terminal or with `--headless`).

use crate::case_report::CaseFacts;
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
    if let Some(dest) = &a.report {
        super::report::check_destination(dest)?;
    }
    let running = pipeline::spawn(Box::new(patient), engine, cfg);
    let run_facts = |markers| super::report::RunFacts {
        path: "demo",
        info: &info,
        settings: &settings,
        timing,
        markers,
        facts: CaseFacts {
            subject_id: Some(format!("simulated (seed {})", a.sim.seed)),
            device: info.description.clone(),
            settings_from: if g.config.is_some() {
                "site configuration".into()
            } else {
                "defaults".into()
            },
            offset_s: 0.0,
            results_lost: 0,
            so_far_s: None,
        },
    };
    let (running, tapped, report) = super::report::tap_for_report(
        running,
        &info,
        cfg.output_capacity,
        a.report.as_deref(),
        &run_facts(&[]),
    )?;
    let monitored = super::headless::monitor(
        running,
        &info,
        &settings,
        markers.clone(),
        super::headless::Monitor {
            headless: a.headless,
            every_sweep: !a.changes_only,
            header: format!(
                "lsrmon demo: {} at {} Hz, {} channels, stimuli from the {}; speed x{}",
                info.description,
                info.sample_rate_hz,
                info.channel_count(),
                timing,
                a.speed
            ),
            title: format!("demo x{}, stimuli from the {timing}", a.speed),
            ring_frames: cfg.ring_frames,
            command: "demo",
            report,
        },
    );
    if let (Some(dest), Some(t)) = (&a.report, tapped) {
        // The scheduled markers the case reached, and those added on the dashboard.
        let mut all = markers;
        if let Ok(added) = &monitored {
            all.extend(added.iter().cloned());
        }
        t.finish(dest, run_facts(&all))?;
    }
    monitored.map(|_| ())
}
