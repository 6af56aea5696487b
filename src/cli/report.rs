//! `lsrmon report FILE... -o CASE.html|DIR`: the case report, one self-contained HTML page
//! per case; and the tap that lets `replay --report` (and `live --report`) write the same
//! page from a running pipeline.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use clap::Args;
use crossbeam_channel::{bounded, TrySendError};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::case_report::{self, CaseFacts, CaseRecorder};
use crate::dashboard::{ReportSoFar, SoFar};
use crate::detect::EngineCounters;
use crate::model::Marker;
use crate::pipeline::{Health, Output, Running};
use crate::settings::Settings;
use crate::source::SourceInfo;

use super::analyze::{analyse_file_with, read_options};
use super::args::GlobalArgs;
use super::error::CliError;

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Session files (NWB), or EDF/EDF+/BDF/BDF+ files (.edf, .bdf): anything `analyze` reads.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Where to write: a .html file for one input; a directory (created if missing) for
    /// several, one page per case named after its input (CASE.nwb -> DIR/CASE.html).
    #[arg(short, long, value_name = "CASE.html|DIR")]
    pub output: PathBuf,
    /// The series to analyse when a file has several.
    #[arg(long, value_name = "NAME")]
    pub series: Option<String>,
    /// Channels, for files without a channel table (see `analyze --help`).
    #[arg(long = "channel", value_name = "SPEC")]
    pub channels: Vec<String>,
    /// Stimulus times from a table (see `analyze --help`).
    #[arg(long, value_name = "FILE.csv")]
    pub stimuli: Option<PathBuf>,
}

/// Refuses, before any work, a page destination that cannot be written: a directory, or a
/// file in a directory that does not exist.
pub fn check_destination(path: &Path) -> Result<(), CliError> {
    if path.is_dir() {
        return Err(CliError::bad_input(format!(
            "{}: is a directory; give the page's file name (CASE.html)",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(CliError::bad_input(format!(
            "{}: the directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// The pages to write: (input, output) pairs.
fn destinations(a: &ReportArgs) -> Result<Vec<(PathBuf, PathBuf)>, CliError> {
    let batch = a.files.len() > 1 || a.output.is_dir();
    if !batch {
        check_destination(&a.output)?;
        return Ok(vec![(a.files[0].clone(), a.output.clone())]);
    }
    if a.output.exists() && !a.output.is_dir() {
        return Err(CliError::bad_input(format!(
            "{}: several inputs need a directory for -o (one page per case)",
            a.output.display()
        )));
    }
    let mut out: Vec<(PathBuf, PathBuf)> = Vec::new();
    for f in &a.files {
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "case".into());
        let dest = a.output.join(format!("{stem}.html"));
        if let Some((other, _)) = out.iter().find(|(_, d)| *d == dest) {
            return Err(CliError::bad_input(format!(
                "{} and {} would both be written to {}: rename one, or make one page at a time",
                other.display(),
                f.display(),
                dest.display()
            )));
        }
        out.push((f.clone(), dest));
    }
    std::fs::create_dir_all(&a.output).map_err(|e| {
        CliError::bad_input(format!(
            "{}: cannot create the directory: {e}",
            a.output.display()
        ))
    })?;
    Ok(out)
}

fn files_bar(n: usize, show: bool) -> ProgressBar {
    let pb = ProgressBar::new(n as u64);
    if !show {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_style(
        ProgressStyle::with_template("pages [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb
}

/// Analyses one file and writes its page.
fn one(
    g: &GlobalArgs,
    a: &ReportArgs,
    input: &Path,
    dest: &Path,
    bars: Option<&MultiProgress>,
) -> Result<(), CliError> {
    let opts = read_options(&a.series, &a.channels)?;
    let mut traces = case_report::TraceStore::default();
    let (analysis, facts) =
        analyse_file_with(g, input, &opts, a.stimuli.as_deref(), bars, &mut |e| {
            traces.push(e)
        })?;
    let facts = CaseFacts {
        subject_id: facts.subject_id,
        device: facts.device,
        settings_from: facts.settings_from.to_string(),
        offset_s: facts.offset_s,
        results_lost: 0,
        so_far_s: None,
    };
    case_report::write_page(dest, &analysis, &traces, &facts).map_err(report_error)?;
    eprintln!(
        "lsrmon: {}: case report written to {}",
        input.display(),
        dest.display()
    );
    Ok(())
}

/// Maps a report failure to the command line's errors.
pub fn report_error(e: case_report::ReportError) -> CliError {
    match e {
        case_report::ReportError::Write { .. } => CliError::bad_input(e.to_string()),
        case_report::ReportError::Page { .. } => CliError::internal(e.to_string()),
    }
}

pub fn run(g: &GlobalArgs, a: &ReportArgs) -> Result<(), CliError> {
    let pages = destinations(a)?;
    let show = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bars = MultiProgress::new();
    let overall = bars.add(files_bar(pages.len(), show && pages.len() > 1));
    let mut failed = Vec::new();
    let mut last_err = None;
    for (input, dest) in &pages {
        overall.set_message(input.display().to_string());
        match one(g, a, input, dest, show.then_some(&bars)) {
            Ok(()) => {}
            Err(e) => {
                let _ = bars.println(format!("lsrmon: {e}"));
                if !show {
                    eprintln!("lsrmon: {e}");
                }
                failed.push(input.display().to_string());
                last_err = Some(e);
            }
        }
        overall.inc(1);
    }
    overall.finish_and_clear();
    match (failed.len(), last_err) {
        (0, _) => Ok(()),
        (_, Some(e)) if pages.len() == 1 => Err(CliError {
            exit: e.exit,
            message: String::new(),
        }),
        _ => Err(CliError::bad_input(format!(
            "{} of {} files got no report: {}",
            failed.len(),
            pages.len(),
            failed.join(", ")
        ))),
    }
}

/// What a tapped run hands back when its output ends.
struct TapEnd {
    counters: Option<EngineCounters>,
    /// Results the pipeline dropped before the tap saw them.
    lost: u64,
}

/// The recorder between a running pipeline and its consumer, shared with the dashboard's
/// report-so-far key.
pub struct Tap {
    recorder: Arc<Mutex<CaseRecorder>>,
    health: Arc<Health>,
    handle: JoinHandle<TapEnd>,
}

/// Locks the recorder; a panic elsewhere while it was held leaves it usable (it is only ever
/// appended to).
fn lock(m: &Mutex<CaseRecorder>) -> MutexGuard<'_, CaseRecorder> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Puts a recorder between a running pipeline and its consumer (dashboard or headless
/// output): every result goes to the recorder, then on to the consumer. The consumer may
/// miss results when it falls behind (counted as dropped, as before); the report does not.
/// The recorder is locked for one result at a time, and by a report so far only while it is
/// copied: the tap never waits for a page to be made.
pub fn tap(
    mut running: Running,
    info: &SourceInfo,
    capacity: usize,
) -> Result<(Running, Tap), CliError> {
    let (tx, rx) = bounded::<Output>(capacity.max(16));
    let upstream = std::mem::replace(&mut running.output, rx);
    let health = running.health.clone();
    let recorder = Arc::new(Mutex::new(CaseRecorder::new(info)));
    let (rec, h) = (recorder.clone(), health.clone());
    let handle = std::thread::Builder::new()
        .name("lsrmon-report".into())
        .spawn(move || {
            let mut counters = None;
            let mut missed_by_display = 0u64;
            let before = h.outputs_dropped.load(Ordering::Relaxed);
            for msg in upstream.iter() {
                match &msg {
                    Output::Engine(e) => lock(&rec).push(e),
                    Output::End(c) => counters = Some(*c),
                    Output::SourceFailed(_) => {}
                }
                if let Err(TrySendError::Full(_)) = tx.try_send(msg) {
                    missed_by_display += 1;
                    h.outputs_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            let all = h.outputs_dropped.load(Ordering::Relaxed);
            TapEnd {
                counters,
                lost: all.saturating_sub(before + missed_by_display),
            }
        });
    let handle =
        handle.map_err(|e| CliError::internal(format!("cannot start the report thread: {e}")))?;
    Ok((
        running,
        Tap {
            recorder,
            health,
            handle,
        },
    ))
}

/// A tap when the run writes a report (`dest`), with the dashboard's report-so-far key for
/// it; the run as it was otherwise.
pub fn tap_for_report(
    running: Running,
    info: &SourceInfo,
    capacity: usize,
    dest: Option<&Path>,
    run: &RunFacts<'_>,
) -> Result<(Running, Option<Tap>, Option<ReportSoFar>), CliError> {
    let Some(dest) = dest else {
        return Ok((running, None, None));
    };
    let (running, t) = tap(running, info, capacity)?;
    let so_far = t.report_so_far(dest, run);
    Ok((running, Some(t), Some(so_far)))
}

/// What a tapped run needs to name its page.
pub struct RunFacts<'a> {
    pub path: &'a str,
    pub info: &'a SourceInfo,
    pub settings: &'a Settings,
    pub timing: &'a str,
    pub markers: &'a [Marker],
    pub facts: CaseFacts,
}

impl Tap {
    /// The dashboard's report-so-far key for this run: writes the page to `dest` from a copy
    /// of what the tap has recorded so far, with the markers the dashboard shows.
    pub fn report_so_far(&self, dest: &Path, run: &RunFacts<'_>) -> ReportSoFar {
        let recorder = self.recorder.clone();
        let health = self.health.clone();
        let (path, info, settings, timing, facts) = (
            run.path.to_string(),
            run.info.clone(),
            run.settings.clone(),
            run.timing.to_string(),
            run.facts.clone(),
        );
        let to = dest.to_path_buf();
        let write = move |sf: &SoFar| {
            // Copy under the lock (a few ms on an hour's case), make the page without it.
            let rec = lock(&recorder).clone();
            let frames = health.frames_processed.load(Ordering::Relaxed);
            let counters = EngineCounters {
                frames,
                ..rec.counted
            };
            let analysis = rec.collector.finish(
                &path,
                &info,
                &settings,
                &timing,
                &sf.markers,
                &counters,
                frames,
                facts.offset_s,
            );
            let facts = CaseFacts {
                so_far_s: Some(sf.at_s),
                results_lost: health.outputs_dropped.load(Ordering::Relaxed),
                ..facts.clone()
            };
            case_report::write_page(&to, &analysis, &rec.traces, &facts).map_err(|e| e.to_string())
        };
        ReportSoFar {
            path: dest.to_path_buf(),
            write: Arc::new(write),
        }
    }

    /// Waits for the end of the run and writes the page.
    pub fn finish(self, dest: &Path, run: RunFacts<'_>) -> Result<(), CliError> {
        let end = self
            .handle
            .join()
            .map_err(|_| CliError::internal("the report thread failed"))?;
        let recorder = lock(&self.recorder);
        let counters = end.counters.unwrap_or_default();
        // Markers after the end of the signal (a run quit early) are not part of the case.
        let end_s = run.facts.offset_s + counters.frames as f64 / run.info.sample_rate_hz;
        let markers: Vec<Marker> = run
            .markers
            .iter()
            .filter(|m| end.counters.is_none() || m.time_s <= end_s)
            .cloned()
            .collect();
        let analysis = recorder.collector.finish(
            run.path,
            run.info,
            run.settings,
            run.timing,
            &markers,
            &counters,
            counters.frames,
            run.facts.offset_s,
        );
        let facts = CaseFacts {
            results_lost: end.lost,
            ..run.facts
        };
        case_report::write_page(dest, &analysis, &recorder.traces, &facts).map_err(report_error)?;
        eprintln!("lsrmon: case report written to {}", dest.display());
        Ok(())
    }
}
