//! The dashboard's fallback when there is no terminal: the headless report of
//! [`crate::report::Reporter`] (one line per sweep or per change, markers as the stream
//! reaches them, the closing summary). It waits for every result (a pipe can be slow; the DSP
//! thread still never blocks on it: its channel drops and counts).

use std::io::{self, Write};
use std::sync::atomic::Ordering;

use super::{stop, DashboardError};
use crate::analysis::Collector;
use crate::detect::EngineCounters;
use crate::model::Marker;
use crate::pipeline::{Output, Running};
use crate::report::Reporter;
use crate::source::SourceInfo;

/// How a headless run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadlessEnd {
    pub counters: EngineCounters,
    /// Results that did not fit in the output channel.
    pub outputs_dropped: u64,
}

/// Prints the report of a running pipeline to `out` until the stream ends. A write error
/// (e.g. the reader of a pipe went away) stops the pipeline and is returned.
pub fn watch(
    out: &mut dyn Write,
    running: Running,
    info: &SourceInfo,
    markers: Vec<Marker>,
    every_sweep: bool,
) -> Result<HeadlessEnd, DashboardError> {
    let labels = info.channels.iter().map(|c| c.label.clone()).collect();
    let mut reporter = Reporter::new(labels, markers, every_sweep);
    let mut collector = Collector::new(info);
    let mut end = None;
    let mut failed = None;
    let mut write_err: Option<io::Error> = None;
    for msg in running.output.iter() {
        match msg {
            Output::Engine(e) => {
                collector.push(&e);
                if let Err(err) = reporter.event(out, &e) {
                    write_err = Some(err);
                    break;
                }
            }
            Output::End(c) => {
                end = Some(c);
                break;
            }
            Output::SourceFailed(m) => {
                failed = Some(m);
                break;
            }
        }
    }
    let outputs_dropped = running.health.outputs_dropped.load(Ordering::Relaxed);
    let counters = match end {
        Some(c) => {
            running.join();
            Some(c)
        }
        None => stop(running, None),
    };
    if let Some(e) = write_err {
        return Err(DashboardError::Output(e));
    }
    if let Some(m) = failed {
        return Err(DashboardError::SourceFailed(m));
    }
    let counters = counters.ok_or(DashboardError::NoSummary)?;
    let end_s = counters.frames as f64 / info.sample_rate_hz;
    reporter
        .summary(out, &collector, &counters, end_s)
        .map_err(DashboardError::Output)?;
    if outputs_dropped > 0 {
        writeln!(
            out,
            "  {outputs_dropped} results did not reach the display (output queue full)"
        )
        .map_err(DashboardError::Output)?;
    }
    Ok(HeadlessEnd {
        counters,
        outputs_dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Engine;
    use crate::pipeline::{spawn, Pace, PipelineConfig};
    use crate::settings::Settings;
    use crate::sim::{SimConfig, SimPatient};
    use crate::source::Source;

    #[test]
    fn the_fallback_prints_the_report_and_the_summary() {
        let cfg = SimConfig {
            duration_s: 20.0,
            ..SimConfig::default()
        };
        let patient = SimPatient::new(cfg).unwrap();
        let info = patient.info().clone();
        let markers = patient.markers();
        let engine = Engine::new(&info, &Settings::default()).unwrap();
        let running = spawn(
            Box::new(patient),
            engine,
            PipelineConfig {
                pace: Pace::Unpaced,
                ..PipelineConfig::default()
            },
        );
        let mut out = Vec::new();
        let end = watch(&mut out, running, &info, markers, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("marker: baseline"), "{text}");
        assert!(text.contains("mentalis: baseline LSR present"), "{text}");
        assert!(text.contains("Summary (0:00:20.0 of signal"), "{text}");
        assert!(text.contains("not a medical device"), "{text}");
        assert_eq!(end.counters.frames, 200_000);
    }

    #[test]
    fn a_closed_output_stops_the_pipeline_with_an_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let patient = SimPatient::new(SimConfig {
            duration_s: 600.0,
            ..SimConfig::default()
        })
        .unwrap();
        let info = patient.info().clone();
        let engine = Engine::new(&info, &Settings::default()).unwrap();
        let running = spawn(
            Box::new(patient),
            engine,
            PipelineConfig {
                pace: Pace::Unpaced,
                ..PipelineConfig::default()
            },
        );
        match watch(&mut Closed, running, &info, Vec::new(), true) {
            Err(DashboardError::Output(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
            other => panic!("expected a write error, got {other:?}"),
        }
    }
}
