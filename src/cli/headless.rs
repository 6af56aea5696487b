//! The headless monitor: consumes a running pipeline and prints the report (used by `demo`,
//! `replay` and `live` when there is no terminal for the dashboard, or when asked).

use std::io::Write;
use std::sync::atomic::Ordering;

use crate::analysis::Collector;
use crate::model::Marker;
use crate::pipeline::{Output, Running};
use crate::report::Reporter;
use crate::source::SourceInfo;

use super::error::CliError;

/// Prints every result as it comes, then the summary. Returns when the stream ends.
pub fn watch(
    out: &mut dyn Write,
    running: Running,
    info: &SourceInfo,
    markers: Vec<Marker>,
    every_sweep: bool,
) -> Result<(), CliError> {
    let labels = info.channels.iter().map(|c| c.label.clone()).collect();
    let mut reporter = Reporter::new(labels, markers, every_sweep);
    let mut collector = Collector::new(info);
    let mut end = None;
    let mut failure = None;
    for msg in running.output.iter() {
        match msg {
            Output::Engine(e) => {
                collector.push(&e);
                reporter.event(out, &e)?;
            }
            Output::End(c) => {
                end = Some(c);
                break;
            }
            Output::SourceFailed(m) => failure = Some(m),
        }
    }
    let health = running.health.clone();
    running.join();
    if let Some(m) = failure {
        return Err(CliError::device(m));
    }
    let counters =
        end.ok_or_else(|| CliError::internal("the DSP thread ended without a summary"))?;
    let end_s = counters.frames as f64 / info.sample_rate_hz;
    reporter.summary(out, &collector, &counters, end_s)?;
    let dropped = health.outputs_dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        writeln!(
            out,
            "  {dropped} results did not reach the display (output queue full)"
        )?;
    }
    Ok(())
}
