//! Monitoring a running pipeline from the command line: the dashboard when stdout is a
//! terminal, else (or with `--headless`) the headless report. Used by `demo` and `replay`.

use std::io::Write;

use crate::dashboard::{self, DashboardError, DashboardOptions, ReportSoFar, Shown};
use crate::model::Marker;
use crate::pipeline::Running;
use crate::settings::Settings;
use crate::source::SourceInfo;

use super::error::CliError;

/// How to monitor.
pub struct Monitor<'a> {
    /// Force the headless report.
    pub headless: bool,
    /// In the headless report, one line per sweep (not only changes).
    pub every_sweep: bool,
    /// The first line of the headless report, and the dashboard's title.
    pub header: String,
    pub title: String,
    pub ring_frames: usize,
    pub command: &'a str,
    /// The case report the dashboard's `r` key writes as it stands (`--report`).
    pub report: Option<ReportSoFar>,
}

fn map(e: DashboardError) -> CliError {
    match e {
        DashboardError::Output(io) => CliError::from(io),
        DashboardError::SourceFailed(m) => CliError::device(m),
        e => CliError::internal(e.to_string()),
    }
}

/// Runs the monitor until the stream ends (or the user quits the dashboard). Returns the
/// markers the user added on the dashboard (none headless).
pub fn monitor(
    running: Running,
    info: &SourceInfo,
    settings: &Settings,
    markers: Vec<Marker>,
    m: Monitor<'_>,
) -> Result<Vec<Marker>, CliError> {
    if m.headless || !dashboard::terminal_available() {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", m.header)?;
        writeln!(
            out,
            "lsrmon is a research and teaching tool, not a medical device."
        )?;
        let end = dashboard::headless::watch(&mut out, running, info, markers, m.every_sweep)
            .map_err(map)?;
        if end.outputs_dropped > 0 {
            writeln!(
                out,
                "  {} results did not reach the display (output queue full)",
                end.outputs_dropped
            )?;
        }
        return Ok(Vec::new());
    }
    let opts = DashboardOptions {
        title: m.title,
        ring_frames: m.ring_frames,
        report: m.report,
        ..DashboardOptions::default()
    };
    let outcome = dashboard::run(running, info, settings, markers, opts).map_err(map)?;
    if outcome.shown == Shown::Dashboard {
        let ended = if outcome.quit_early {
            "quit before the end of the case"
        } else {
            "case complete"
        };
        println!(
            "lsrmon {}: {ended}; {} marker(s) added. lsrmon is a research and teaching tool, \
             not a medical device.",
            m.command,
            outcome.user_markers.len()
        );
    }
    Ok(outcome.user_markers)
}
