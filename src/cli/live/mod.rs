//! `lsrmon live`: monitor a live device (audio input, SpikerBox) or the simulated patient in
//! real time, record the session to NWB while monitoring, take surgical markers from stdin.
//!
//! ```text
//! source (device / sim) ─▶ ReconnectingSource ─▶ RecordingSource ─▶ pipeline ─▶ this thread
//!                                                   │ frames, gaps        │ sweeps, stimuli
//!                                                   ▼                     ▼
//!                                               Recorder thread ◀── markers (stdin), counters
//! ```
//!
//! - Frames are recorded on the source thread ([`RecordingSource`]): the file holds exactly
//!   what the engine analyses, with the same frame numbers, so analysing the file later gives
//!   the same verdicts.
//! - A device that disappears is announced at once on stderr, recorded as a gap, and reopened
//!   when it returns ([`ReconnectingSource`]).
//! - Ctrl-C or SIGTERM end the session normally: the source ends, the pipeline drains, the
//!   counters are written and the file is finalised (exit 0). A second Ctrl-C exits at once
//!   (exit 130; the file then needs `recover`).
//! - Live devices never wait for the pipeline (`Backpressure::Drop`: a block that does not fit
//!   is dropped, counted and marked as a gap for the engine); the simulated patient, which is
//!   not real hardware, waits instead (`Backpressure::Wait`) and is paced to real time × speed.
//! - No child process is ever started while the HDF5 file is open (HDF5 opens files without
//!   close-on-exec).

mod session;
mod source;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use crossbeam_channel::{never, select};

use crate::acquisition::recording::RecordingSource;
use crate::analysis::Collector;
use crate::config::SiteConfig;
use crate::detect::{Engine, EngineEvent};
use crate::nwb::{RecordMsg, RecordSender, Recorder, RecorderOptions, WriterOptions};
use crate::pipeline::{self, Output, PipelineConfig};
use crate::report::Reporter;

use super::args::{GlobalArgs, SimArgs};
use super::error::CliError;
use session::{counter_list, send_surely, session_meta, stdin_lines, Session};
use source::{open_source, Typed};

/// Results the DSP thread may queue for this thread. A result is about 1.1 KB (a sweep's
/// display trace travels inline), and the queue's memory becomes resident slot by slot as
/// it is first used: with the pipeline's default (8192) the process grew by 9 MB over the
/// first 45 minutes of a case. 1024 results are 5 minutes of a case at 1 stimulus per
/// second (each gives a stimulus and two sweeps), far more than this thread ever lags.
const LIVE_OUTPUT_CAPACITY: usize = 1024;

/// Monitor a live device or the simulated patient, recording while monitoring.
///
/// Exactly one source: `--audio`, `--serial` or `--simulate` (or the one device section of
/// the site configuration). Type a line and Enter to add a marker: 1-7 are the usual steps
/// (1 baseline, 2 dura opened, 3 arachnoid dissection, 4 vessel identified, 5 pad placed,
/// 6 second vessel, 7 dura closed); anything else is free text. Ctrl-C ends the session and
/// finalises the file. `--duration` is the length of the session (the simulated case's length;
/// with a device, stop after that much signal; without it a device runs until Ctrl-C).
#[derive(Args, Debug, Clone)]
pub struct LiveArgs {
    /// Audio input: index, id or name from `lsrmon devices`, or "default".
    #[arg(long, value_name = "NAME|INDEX", conflicts_with_all = ["serial", "simulate"])]
    pub audio: Option<String>,
    /// SpikerBox on this serial port (e.g. /dev/ttyACM0).
    #[arg(long, value_name = "PORT", conflicts_with = "simulate")]
    pub serial: Option<String>,
    /// Monitor the simulated patient in real time (no hardware needed).
    #[arg(long)]
    pub simulate: bool,
    /// Channels to record (default: one per [[channel]] table of the site configuration).
    #[arg(long)]
    pub channels: Option<usize>,
    /// Audio sample format: i16, i32 or f32 (default: [audio] format, else i16).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Frames per device buffer: the audio driver's period (default: [audio] buffer_frames,
    /// else the driver's), or the simulated patient's buffers (default 256).
    #[arg(long, value_name = "FRAMES")]
    pub buffer_frames: Option<u32>,
    /// SpikerBox model: muscle-pro, human, neuron-pro, spike-station, shield.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Serial baud rate (default: the profile's).
    #[arg(long)]
    pub baud: Option<u32>,
    /// SpikerBox EVNT messages are stimuli of this branch (zygomatic, marginal_mandibular).
    #[arg(long, value_name = "BRANCH")]
    pub events: Option<String>,
    /// Record the session to this NWB file.
    #[arg(long, value_name = "FILE.nwb")]
    pub record: Option<PathBuf>,
    /// Replace the recording file if it exists.
    #[arg(long)]
    pub overwrite: bool,
    /// Pseudonymous subject id written into the file (never a name).
    #[arg(long, default_value = "anonymous")]
    pub subject: String,
    /// At the end, write the run's results (lsrmon.analysis/1 JSON) to this file.
    #[arg(long, value_name = "FILE.json")]
    pub json: Option<PathBuf>,
    /// At the end, write the case report (one HTML page) to this file.
    #[arg(long, value_name = "CASE.html")]
    pub report: Option<PathBuf>,
    /// Simulated patient only: playback speed (1 = real time).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Print only baselines, state changes, markers and the summary (not every sweep).
    #[arg(long)]
    pub changes_only: bool,
    /// Stop reopening a device that stays away this long, seconds (default: keep trying).
    #[arg(long, value_name = "SECONDS")]
    pub give_up_after: Option<f64>,
    #[command(flatten)]
    pub sim: SimArgs,
}

/// Runs `lsrmon live` as the command line asked.
pub fn run(g: &GlobalArgs, a: &LiveArgs) -> Result<(), CliError> {
    run_with(g, a, Typed::from_args(std::env::args()))
}

fn site_config(g: &GlobalArgs) -> Result<SiteConfig, CliError> {
    match &g.config {
        Some(p) => SiteConfig::load(p).map_err(|e| CliError::bad_input(e.to_string())),
        None => Ok(SiteConfig::default()),
    }
}

/// Runs a live session; `typed` says which of the shared options were given explicitly.
pub fn run_with(g: &GlobalArgs, a: &LiveArgs, typed: Typed) -> Result<(), CliError> {
    if let Some(dest) = &a.report {
        super::report::check_destination(dest)?;
    }
    let site = site_config(g)?;
    let settings = site.detection.clone();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping exits at once; the first only sets the flag.
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())
            .and_then(|_| signal_hook::flag::register(sig, stop.clone()))
            .map_err(|e| CliError::internal(format!("cannot handle Ctrl-C: {e}")))?;
    }
    let opened = open_source(a, &site, &stop, typed)?;
    let info = opened.source.info().clone();
    let sim_markers = opened.source.markers();
    let engine = Engine::new(&info, &settings)?;
    let timing = engine.timing_name();

    let recorder = match &a.record {
        Some(path) => {
            let settings_json = serde_json::json!({ "detection": &settings }).to_string();
            // Room for ~10 s of recorder lag at 48 kHz (a slow disk's fsync): blocks arrive
            // in 256-frame pieces, one pooled buffer each (16 MB at 8 channels).
            let opts = RecorderOptions {
                writer: WriterOptions {
                    overwrite: a.overwrite,
                    ..WriterOptions::default()
                },
                queue_capacity: 4096,
                pool_buffers: 2048,
                buffer_frames: PipelineConfig::default().block_frames,
                ..RecorderOptions::default()
            };
            Some(
                Recorder::spawn(path, &info, &session_meta(&a.subject), &settings_json, opts)
                    .map_err(|e| CliError::bad_input(e.to_string()))?,
            )
        }
        None => None,
    };
    let rec_tx = recorder.as_ref().map(Recorder::sender);

    let mut head = RecordingSource::new(opened.source, rec_tx.clone()).with_stop(stop.clone());
    if let Some(limit) = opened.limit_frames {
        head = head.with_limit(limit);
    }
    let position = head.position();

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "lsrmon live: {} at {} Hz, {} channels, stimuli from the {}",
        info.description,
        info.sample_rate_hz,
        info.channel_count(),
        timing
    )?;
    if let Some(p) = &a.record {
        writeln!(out, "recording to {}", p.display())?;
    }
    writeln!(
        out,
        "markers: type a line + Enter (1 baseline, 2 dura opened, 3 arachnoid dissection, \
         4 vessel identified, 5 pad placed, 6 second vessel, 7 dura closed, or free text); \
         Ctrl-C ends the session"
    )?;
    writeln!(
        out,
        "lsrmon is a research and teaching tool, not a medical device."
    )?;
    out.flush()?;

    let mut cfg = PipelineConfig {
        pace: opened.pace,
        backpressure: opened.backpressure,
        output_capacity: LIVE_OUTPUT_CAPACITY,
        ..PipelineConfig::default()
    };
    if a.simulate {
        // The simulated patient delivers buffers like a device: this many frames at a time,
        // each at the moment its last sample would have been captured.
        if let Some(n) = a.buffer_frames {
            if !(1..=65_536).contains(&n) {
                return Err(CliError::bad_input(format!(
                    "--buffer-frames must be 1 to 65536 (got {n})"
                )));
            }
            cfg.block_frames = n as usize;
        }
    }
    let labels = info.channels.iter().map(|c| c.label.clone()).collect();
    let mut reporter = Reporter::new(labels, sim_markers.clone(), !a.changes_only);
    // The per-sweep table is only written out by --json and --report.
    let mut collector = if a.json.is_some() || a.report.is_some() {
        Collector::new(&info)
    } else {
        Collector::summaries_only(&info)
    };
    let mut traces = crate::case_report::TraceStore::default();
    let running = pipeline::spawn(Box::new(head), engine, cfg);
    let lines = stdin_lines();

    let mut session = Session {
        rate: info.sample_rate_hz,
        position,
        rec_tx: rec_tx.clone(),
        scheduled: sim_markers,
        next_scheduled: 0,
        markers: Vec::new(),
    };
    let mut end = None;
    let mut failure: Option<String> = None;
    let mut lines_rx = lines;
    let mut notices_rx = opened.notices;
    let mut stop_seen: Option<Instant> = None;
    let mut last_counters = Instant::now();
    let mut receiving = false;
    let mut recorder_failed = false;
    let device_counters = opened.counters;
    loop {
        select! {
            recv(running.output) -> msg => match msg {
                Ok(Output::Engine(e)) => {
                    session.markers_due();
                    collector.push(&e);
                    traces.push(&e);
                    reporter.event(&mut out, &e)?;
                    if let Some(tx) = &rec_tx {
                        match e {
                            EngineEvent::Sweep(r) => { tx.send(RecordMsg::Sweep(r)); }
                            EngineEvent::Stimulus(s) => { tx.send(RecordMsg::Stimulus(s)); }
                            _ => {}
                        }
                    }
                }
                Ok(Output::End(c)) => { end = Some(c); break; }
                Ok(Output::SourceFailed(m)) => {
                    eprintln!("lsrmon: the source failed: {m}");
                    collector.source_failed();
                    failure = Some(m);
                }
                Err(_) => break,
            },
            recv(lines_rx) -> line => match line {
                Ok(l) => {
                    if let Some(m) = session.typed_marker(&l) {
                        reporter.live_marker(&mut out, m)?;
                    }
                }
                Err(_) => lines_rx = never(),
            },
            recv(notices_rx) -> n => match n {
                Ok(n) => eprintln!("lsrmon: {n}"),
                Err(_) => notices_rx = never(),
            },
            default(Duration::from_millis(200)) => {}
        }
        // "No stimuli" is a verdict of time, not of a sweep: said as the signal goes by.
        let processed = running.health.frames_processed.load(Ordering::Relaxed);
        reporter.tick(&mut out, processed as f64 / info.sample_rate_hz.max(1.0))?;
        out.flush()?;
        session.markers_due();
        if !receiving && session.position.load(Ordering::Relaxed) > 0 {
            // A device can take seconds to deliver its first block (a sound server ~2 s).
            eprintln!("lsrmon: receiving samples");
            receiving = true;
        }
        if last_counters.elapsed() > Duration::from_secs(5) {
            // Keep the file's counters current, so a crash still leaves them.
            if let Some(tx) = &rec_tx {
                tx.send(RecordMsg::Counters(counter_list(
                    &running.health,
                    &device_counters,
                    None,
                )));
            }
            last_counters = Instant::now();
        }
        if !recorder_failed && rec_tx.as_ref().is_some_and(RecordSender::failed) {
            eprintln!(
                "lsrmon: RECORDING FAILED (the file is kept up to its last commit); \
                 monitoring goes on"
            );
            recorder_failed = true;
        }
        if stop.load(Ordering::Relaxed) {
            let since = *stop_seen.get_or_insert_with(Instant::now);
            // The source ends at its next read; if it is stuck, stop the DSP thread.
            if since.elapsed() > Duration::from_secs(10) {
                let _ = running.control.try_send(pipeline::Control::Stop);
            }
        }
    }
    while let Ok(n) = notices_rx.try_recv() {
        eprintln!("lsrmon: {n}");
    }
    let health = running.health.clone();
    running.join();
    session.markers_due();
    let counters =
        end.ok_or_else(|| CliError::internal("the DSP thread ended without a summary"))?;
    let end_s = counters.frames as f64 / info.sample_rate_hz;
    let path = a
        .record
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "live".into());
    let analysis = collector.finish(
        &path,
        &info,
        &settings,
        timing,
        &session.markers,
        &counters,
        counters.frames,
        0.0,
    );
    let all_counters = counter_list(&health, &device_counters, Some(&analysis.counters));

    let mut recording_error = None;
    let report = match recorder {
        Some(rec) => {
            if let Some(tx) = &rec_tx {
                send_surely(tx, RecordMsg::Counters(all_counters.clone()));
            }
            match rec.finish() {
                Ok(r) => Some(r),
                Err(e) => {
                    recording_error = Some(format!("the recording failed: {e}"));
                    None
                }
            }
        }
        None => None,
    };

    reporter.summary(&mut out, &collector, &counters, end_s)?;
    for c in &device_counters {
        writeln!(out, "  {}: {}", c.prefix(), c.describe_nonzero())?;
    }
    writeln!(
        out,
        "  pipeline: {} frames in, {} dropped (ring full), {} results not displayed",
        health.frames_in.load(Ordering::Relaxed),
        health.frames_dropped.load(Ordering::Relaxed),
        health.outputs_dropped.load(Ordering::Relaxed)
    )?;
    writeln!(out, "  {}", latency_line(&health))?;
    if let Some(r) = &report {
        writeln!(
            out,
            "  recorded {}: {} frames ({} filled, {} dropped), {} stimuli, {} sweeps, {} gaps, \
             {} markers",
            r.path.display(),
            r.frames_written,
            r.frames_filled,
            r.dropped_frames,
            r.stimuli,
            r.sweeps,
            r.gaps,
            r.markers
        )?;
    }
    if let Some(dest) = &a.report {
        let facts = crate::case_report::CaseFacts {
            subject_id: Some(a.subject.clone()),
            device: info.description.clone(),
            settings_from: if g.config.is_some() {
                "site configuration".into()
            } else {
                "defaults".into()
            },
            offset_s: 0.0,
            results_lost: health.outputs_dropped.load(Ordering::Relaxed),
            so_far_s: None,
        };
        crate::case_report::write_page(dest, &analysis, &traces, &facts)
            .map_err(super::report::report_error)?;
        writeln!(out, "  case report written to {}", dest.display())?;
    }
    if let Some(j) = &a.json {
        let text = serde_json::to_string_pretty(&analysis)
            .map_err(|e| CliError::internal(format!("cannot write the results: {e}")))?;
        std::fs::write(j, text + "\n")
            .map_err(|e| CliError::bad_input(format!("cannot write '{}': {e}", j.display())))?;
    }
    out.flush()?;
    if let Some(m) = recording_error {
        return Err(CliError::internal(m));
    }
    match failure {
        Some(m) => Err(CliError::device(m)),
        None => Ok(()),
    }
}

/// The decision and processing latency, in words.
fn latency_line(h: &pipeline::Health) -> String {
    match (h.decision().ms(), h.processing().ms()) {
        (Some((d50, d99, dmax)), Some((p50, p99, pmax))) => format!(
            "latency over {} verdicts: from the end of the LSR window p50 {d50:.2} ms, p99 \
             {d99:.2} ms, max {dmax:.2} ms; processing (from the last sample the sweep needs) \
             p50 {p50:.2} ms, p99 {p99:.2} ms, max {pmax:.2} ms{}",
            h.decision().count,
            match h.latency_untimed.load(Ordering::Relaxed) {
                0 => String::new(),
                n => format!(" ({n} verdicts not timed)"),
            }
        ),
        _ => "latency: no verdict was timed".to_string(),
    }
}
