//! `lsrmon replay FILE`: a session file through the live pipeline (source thread, ring, DSP
//! thread), at real speed, at a multiple, or as fast as possible.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::detect::Engine;
use crate::pipeline::{self, Backpressure, Pace, PipelineConfig};
use crate::source::Source;

use super::analyze::{open, read_options, settings_for};
use super::args::GlobalArgs;
use super::error::CliError;

#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    /// The session file to play.
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
    /// The series to play when a file has several.
    #[arg(long, value_name = "NAME")]
    pub series: Option<String>,
    /// Channels, for files without a channel table (see `analyze --help`).
    #[arg(long = "channel", value_name = "SPEC")]
    pub channels: Vec<String>,
}

pub fn run(g: &GlobalArgs, a: &ReplayArgs) -> Result<(), CliError> {
    let speed_ok = a.speed.is_finite() && a.speed > 0.0;
    if !a.fast && !speed_ok {
        return Err(CliError::bad_input(format!(
            "--speed must be a positive number (got {})",
            a.speed
        )));
    }
    let opts = read_options(&a.series, &a.channels)?;
    let source = open(&a.file, &opts)?;
    let (settings, from) = settings_for(g, &source)?;
    let info = source.info().clone();
    let markers = source.markers();
    let engine = Engine::new(&info, &settings)
        .map_err(|e| CliError::bad_input(format!("{}: {e}", a.file.display())))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "lsrmon replay: {} at {} Hz, {} channels, stimuli from the {}, settings {from}; {}",
        a.file.display(),
        info.sample_rate_hz,
        info.channel_count(),
        engine.timing_name(),
        if a.fast {
            "as fast as possible".to_string()
        } else {
            format!("speed x{}", a.speed)
        }
    )?;
    writeln!(
        out,
        "lsrmon is a research and teaching tool, not a medical device."
    )?;
    let cfg = PipelineConfig {
        pace: if a.fast {
            Pace::Unpaced
        } else {
            Pace::Speed(a.speed)
        },
        backpressure: Backpressure::Wait,
        ..PipelineConfig::default()
    };
    let running = pipeline::spawn(Box::new(source), engine, cfg);
    super::headless::watch(&mut out, running, &info, markers, !a.changes_only)
}
