//! `lsrmon replay FILE`: a session file through the live pipeline (source thread, ring, DSP
//! thread), at real speed, at a multiple, or as fast as possible.

use std::path::PathBuf;

use clap::Args;

use crate::case_report::CaseFacts;
use crate::detect::Engine;
use crate::pipeline::{self, Backpressure, Pace, PipelineConfig};

use super::analyze::{open, read_options, settings_for, with_table};
use super::args::GlobalArgs;
use super::error::CliError;

#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    /// The session file to play (NWB, or EDF/BDF: .edf, .bdf).
    pub file: PathBuf,
    /// Playback speed: 1 = real time.
    #[arg(long, default_value_t = 1.0, conflicts_with = "fast")]
    pub speed: f64,
    /// As fast as possible.
    #[arg(long)]
    pub fast: bool,
    /// Print only baselines, state changes, markers and the summary.
    #[arg(long)]
    pub changes_only: bool,
    /// The headless report even on a terminal (no dashboard).
    #[arg(long)]
    pub headless: bool,
    /// The series to play when a file has several.
    #[arg(long, value_name = "NAME")]
    pub series: Option<String>,
    /// Channels, for files without a channel table (see `analyze --help`).
    #[arg(long = "channel", value_name = "SPEC")]
    pub channels: Vec<String>,
    /// Stimulus times from a table (see `analyze --help`).
    #[arg(long, value_name = "FILE.csv")]
    pub stimuli: Option<PathBuf>,
    /// Also write the case report (one HTML page) here when the replay ends.
    #[arg(long, value_name = "CASE.html")]
    pub report: Option<PathBuf>,
}

pub fn run(g: &GlobalArgs, a: &ReplayArgs) -> Result<(), CliError> {
    let speed_ok = a.speed.is_finite() && a.speed > 0.0;
    if !a.fast && !speed_ok {
        return Err(CliError::bad_input(format!(
            "--speed must be a positive number (got {})",
            a.speed
        )));
    }
    if let Some(dest) = &a.report {
        super::report::check_destination(dest)?;
    }
    let opts = read_options(&a.series, &a.channels)?;
    let source = open(&a.file, &opts)?;
    let (settings, from) = settings_for(g, &source)?;
    let subject_id = source.subject_id();
    let device = source.device();
    let offset_s = source.starting_time_s();
    let source = with_table(source, a.stimuli.as_deref(), &settings)?;
    let info = source.info().clone();
    let markers = source.markers();
    let engine = Engine::new(&info, &settings)
        .map_err(|e| CliError::bad_input(format!("{}: {e}", a.file.display())))?;
    let timing = engine.timing_name();
    let speed = if a.fast {
        "as fast as possible".to_string()
    } else {
        format!("speed x{}", a.speed)
    };
    let cfg = PipelineConfig {
        pace: if a.fast {
            Pace::Unpaced
        } else {
            Pace::Speed(a.speed)
        },
        backpressure: Backpressure::Wait,
        ..PipelineConfig::default()
    };
    let running = pipeline::spawn(source, engine, cfg);
    let path = a.file.display().to_string();
    let run_facts = |markers| super::report::RunFacts {
        path: &path,
        info: &info,
        settings: &settings,
        timing,
        markers,
        facts: CaseFacts {
            subject_id: subject_id.clone(),
            device: device.clone(),
            settings_from: from.to_string(),
            offset_s,
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
                "lsrmon replay: {} at {} Hz, {} channels, stimuli from the {timing}, settings {from}; {speed}",
                a.file.display(),
                info.sample_rate_hz,
                info.channel_count(),
            ),
            title: format!("replay {} ({speed})", a.file.display()),
            ring_frames: cfg.ring_frames,
            command: "replay",
            report,
        },
    );
    if let (Some(dest), Some(t)) = (&a.report, tapped) {
        // The file's markers and those added on the dashboard.
        let mut all = markers.clone();
        if let Ok(added) = &monitored {
            // Stamped in stream time on the dashboard; the page is in file time.
            all.extend(added.iter().map(|m| crate::model::Marker {
                time_s: m.time_s + offset_s,
                label: m.label.clone(),
            }));
        }
        t.finish(dest, run_facts(&all))?;
    }
    monitored.map(|_| ())
}
