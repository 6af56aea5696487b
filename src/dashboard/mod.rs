//! The terminal dashboard: what the surgeon reads from two metres and the technologist works.
//!
//! ```text
//!  pipeline::Running.output ──try_recv each tick──▶ DashboardState ──view::render──▶ terminal
//!  pipeline::Health atomics ──read each tick──────▶   (state.rs: the one place it changes)
//!  keys ──input::action_for──▶ Action ──apply_action──▶ Command ──▶ marker channel / Control
//!                                                                  └─▶ report writer thread
//! ```
//!
//! Design:
//! - **The pipeline never waits for the screen.** Results are drained with `try_recv` once a
//!   tick; if the screen falls behind, the DSP thread's bounded channel drops and counts
//!   (shown in the health line), it never blocks.
//! - **Rendering is a pure function of [`DashboardState`]** ([`view::render_into`]), so every
//!   panel is tested on ratatui's `TestBackend` from a state built out of engine events.
//! - **Redraw** at most ~30 times a second, and at once when a verdict changes or a key is
//!   pressed.
//! - **The terminal is always given back**: `ratatui::try_init` installs a panic hook that
//!   restores it, and the normal and error paths call `ratatui::restore`.
//! - **No terminal, no dashboard**: when stdout is not a terminal, `CI` is set or `TERM` is
//!   `dumb`, [`run`] prints the headless report instead (the same as `--headless`).
//! - Words and colour for every state, never colour alone (see [`theme`]). No mouse: it works
//!   over SSH.
//! - **Freeze** (`f`) holds the waveform panels only; acquisition, verdicts, the trend and the
//!   health line carry on (a frozen verdict would mislead), and unfreezing shows the newest
//!   sweeps at once, nothing lost.
//! - Markers the user adds are drawn on the trend at once and handed to the caller through
//!   [`DashboardOptions::marker_tx`] (the recorder writes them). Markers the source scheduled
//!   appear when the stream reaches them.
//! - **Report so far** (`r`): the caller's [`ReportSoFar`] writes the case report as it
//!   stands. It runs on a thread of its own, started by the run loop, so neither the screen
//!   nor the pipeline waits for it (a page of a long case takes a while); the footer says
//!   when it is written, where, and how long it took, or why it failed. One at a time: a key
//!   pressed while a page is being written says so and does nothing else.

pub mod headless;
pub mod input;
pub mod panels;
pub mod state;
pub mod theme;
pub mod view;

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender, TryRecvError};
use ratatui::crossterm::event::{self, Event};
use ratatui::DefaultTerminal;

use crate::detect::EngineCounters;
use crate::model::Marker;
use crate::pipeline::{Control, Health, Output, Running};
use crate::settings::Settings;
use crate::source::SourceInfo;

pub use state::{
    Action, Command, DashboardState, HealthSnapshot, Mode, RecordingSnapshot, StateConfig, Verdict,
    VerdictKind,
};

/// Longest time between two frames.
const FRAME: Duration = Duration::from_millis(33);
/// Most pipeline messages taken per tick (the rest wait for the next tick).
const MAX_DRAIN: usize = 20_000;
/// How long to wait for the pipeline to stop after quitting.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A recording in progress, for the health line (optional).
pub struct RecordingInfo {
    /// The session file; its size is read about once a second.
    pub path: PathBuf,
    /// Tells whether the recorder has failed (e.g. `move || sender.failed()`).
    pub failed: Option<Box<dyn Fn() -> bool>>,
}

/// What the report-so-far writer is given: the moment and the markers the trend shows.
#[derive(Clone, Debug, PartialEq)]
pub struct SoFar {
    /// Seconds of signal processed when the key was pressed.
    pub at_s: f64,
    /// Markers reached so far (scheduled and added), in time order.
    pub markers: Vec<Marker>,
}

/// Writes the case report as it stands; called on a thread of its own. `Err` says why not.
pub type WriteSoFar = dyn Fn(&SoFar) -> Result<(), String> + Send + Sync;

/// The case report the `r` key writes ("report so far").
#[derive(Clone)]
pub struct ReportSoFar {
    /// The page's file (`--report`), shown in the notices.
    pub path: PathBuf,
    pub write: Arc<WriteSoFar>,
}

/// A report-so-far being written.
struct ReportJob {
    at_s: f64,
    started: Instant,
    handle: JoinHandle<Result<(), String>>,
}

/// How the dashboard is run.
pub struct DashboardOptions {
    /// Shown in the title bar (e.g. `demo x10`).
    pub title: String,
    /// Capacity of the pipeline's sample ring in frames (`PipelineConfig::ring_frames`).
    pub ring_frames: usize,
    /// Where markers the user adds go (e.g. to the recorder). `try_send`: a full channel is
    /// reported on screen, never waited for.
    pub marker_tx: Option<Sender<Marker>>,
    pub recording: Option<RecordingInfo>,
    /// Print the headless report even on a terminal (`--headless`).
    pub headless: bool,
    /// In the headless report, print every sweep (else only baselines, changes, markers).
    pub headless_sweeps: bool,
    /// The case report the `r` key writes as it stands (None: the key says how to get one).
    pub report: Option<ReportSoFar>,
}

impl Default for DashboardOptions {
    fn default() -> Self {
        Self {
            title: String::new(),
            ring_frames: crate::pipeline::PipelineConfig::default().ring_frames,
            marker_tx: None,
            recording: None,
            headless: false,
            headless_sweeps: true,
            report: None,
        }
    }
}

/// Which output was shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    Dashboard,
    Headless,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct DashboardOutcome {
    pub shown: Shown,
    /// Markers the user added, in order.
    pub user_markers: Vec<Marker>,
    /// The engine's final counters (None if the pipeline stopped without them).
    pub counters: Option<EngineCounters>,
    /// The user quit before the stream ended.
    pub quit_early: bool,
    /// Results that did not fit in the output channel.
    pub outputs_dropped: u64,
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("the terminal could not be used for the dashboard ({0}); run with --headless")]
    Terminal(#[source] io::Error),
    #[error("writing the headless output failed: {0}")]
    Output(#[source] io::Error),
    #[error("the source failed: {0}")]
    SourceFailed(String),
    #[error("the processing thread ended without its final counters")]
    NoSummary,
}

/// True when the dashboard can be drawn: stdout is a terminal, not in CI, `TERM` not `dumb`.
pub fn terminal_available() -> bool {
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    io::stdout().is_terminal() && !dumb && !ci
}

/// Shows a running pipeline: the dashboard on a terminal, else the headless report. Returns
/// when the user quits (the pipeline is then stopped) or, headless, when the stream ends.
pub fn run(
    running: Running,
    info: &SourceInfo,
    settings: &Settings,
    markers: Vec<Marker>,
    opts: DashboardOptions,
) -> Result<DashboardOutcome, DashboardError> {
    if opts.headless || !terminal_available() {
        let mut out = io::stdout().lock();
        let counters = headless::watch(&mut out, running, info, markers, opts.headless_sweeps)?;
        return Ok(DashboardOutcome {
            shown: Shown::Headless,
            user_markers: Vec::new(),
            counters: Some(counters.counters),
            quit_early: false,
            outputs_dropped: counters.outputs_dropped,
        });
    }
    let cfg = StateConfig {
        title: opts.title.clone(),
        ring_frames: opts.ring_frames,
        recording: opts
            .recording
            .as_ref()
            .map(|r| r.path.display().to_string()),
        report: opts.report.as_ref().map(|r| r.path.display().to_string()),
    };
    let mut st = DashboardState::new(info, settings, markers, cfg);
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            stop(running, None);
            return Err(DashboardError::Terminal(e));
        }
    };
    let mut user_markers = Vec::new();
    let mut job = None;
    let result = event_loop(
        &mut terminal,
        &mut st,
        &running,
        &opts,
        &mut user_markers,
        &mut job,
    );
    ratatui::restore();
    if let Some(j) = job {
        // A page being written is finished, never abandoned half-way (it is written to a
        // temporary file and renamed, so even then the file would be whole).
        if let Ok(Err(e)) = j.handle.join() {
            eprintln!("lsrmon: the report so far could not be written: {e}");
        }
    }
    let quit_early = st.ended.is_none();
    let outputs_dropped = running.health.outputs_dropped.load(Ordering::Relaxed);
    let counters = stop(running, st.ended);
    result.map_err(DashboardError::Terminal)?;
    if let Some(m) = st.source_failed {
        return Err(DashboardError::SourceFailed(m));
    }
    Ok(DashboardOutcome {
        shown: Shown::Dashboard,
        user_markers,
        counters,
        quit_early,
        outputs_dropped,
    })
}

/// Reads the pipeline's atomics (and the recording's size) into a snapshot.
fn snapshot(h: &Health, rec: Option<RecordingSnapshot>) -> HealthSnapshot {
    HealthSnapshot {
        frames_in: h.frames_in.load(Ordering::Relaxed),
        frames_dropped: h.frames_dropped.load(Ordering::Relaxed),
        frames_processed: h.frames_processed.load(Ordering::Relaxed),
        outputs_dropped: h.outputs_dropped.load(Ordering::Relaxed),
        ring_fill: h.ring_fill.load(Ordering::Relaxed),
        source_done: h.source_done.load(Ordering::Acquire),
        recording: rec,
        decision: h.decision(),
        processing: h.processing(),
    }
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    st: &mut DashboardState,
    running: &Running,
    opts: &DashboardOptions,
    user_markers: &mut Vec<Marker>,
    job: &mut Option<ReportJob>,
) -> io::Result<()> {
    let started = Instant::now();
    let mut last_draw: Option<Instant> = None;
    let mut dirty = true;
    let mut urgent = true;
    let mut kinds = st.verdict_kinds();
    let mut rec_bytes: Option<u64> = None;
    let mut rec_checked: Option<Instant> = None;
    let mut pipeline_gone = false;
    loop {
        // 1. What the pipeline sent since the last tick.
        for _ in 0..MAX_DRAIN {
            match running.output.try_recv() {
                Ok(o) => {
                    st.apply_output(&o);
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if !pipeline_gone && st.ended.is_none() && st.source_failed.is_none() {
                        st.apply_output(&Output::SourceFailed(
                            "the processing thread stopped unexpectedly".into(),
                        ));
                        dirty = true;
                    }
                    pipeline_gone = true;
                    break;
                }
            }
        }
        // 2. Health, and the recording's size about once a second.
        let rec = opts.recording.as_ref().map(|r| {
            if rec_checked.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                rec_bytes = std::fs::metadata(&r.path).ok().map(|m| m.len());
                rec_checked = Some(Instant::now());
            }
            RecordingSnapshot {
                bytes: rec_bytes,
                elapsed_s: started.elapsed().as_secs_f64(),
                failed: r.failed.as_ref().is_some_and(|f| f()),
            }
        });
        let snap = snapshot(&running.health, rec);
        if snap != st.health {
            st.apply_health(snap);
            dirty = true;
        }
        // A report so far that is done: say where it went, or why not.
        if job.as_ref().is_some_and(|j| j.handle.is_finished()) {
            if let Some(j) = job.take() {
                report_done(st, opts, j);
                dirty = true;
                urgent = true;
            }
        }
        let now_kinds = st.verdict_kinds();
        if now_kinds != kinds {
            kinds = now_kinds;
            urgent = true;
        }
        // 3. Draw: at most every FRAME, at once for a new verdict or a key.
        let due = last_draw.is_none_or(|t| t.elapsed() >= FRAME);
        if dirty && (urgent || due) {
            terminal.draw(|f| view::render(f, st))?;
            last_draw = Some(Instant::now());
            dirty = false;
            urgent = false;
        }
        // 4. Keys, waiting at most until the next frame is due.
        // With nothing to draw, wait a whole frame (a zero wait here spun a core at 100 %
        // once the case had ended).
        let wait = if dirty {
            last_draw.map_or(Duration::ZERO, |t| FRAME.saturating_sub(t.elapsed()))
        } else {
            FRAME
        };
        if event::poll(wait)? {
            loop {
                match event::read()? {
                    Event::Key(k) => {
                        if let Some(a) = input::action_for(&st.mode, k) {
                            if let Some(cmd) = st.apply_action(a) {
                                execute(cmd, st, running, opts, user_markers, job);
                            }
                            dirty = true;
                            urgent = true;
                        }
                    }
                    Event::Resize(..) => {
                        dirty = true;
                        urgent = true;
                    }
                    _ => {}
                }
                if st.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        if st.quit {
            return Ok(());
        }
    }
}

/// Carries out what an action asked for.
fn execute(
    cmd: Command,
    st: &mut DashboardState,
    running: &Running,
    opts: &DashboardOptions,
    user_markers: &mut Vec<Marker>,
    job: &mut Option<ReportJob>,
) {
    match cmd {
        Command::AddMarker(m) => {
            if let Some(tx) = &opts.marker_tx {
                if tx.try_send(m.clone()).is_err() {
                    st.notice(format!(
                        "marker \"{}\" is on screen but did NOT reach the recorder (queue full or closed)",
                        m.label
                    ));
                }
            }
            user_markers.push(m);
        }
        Command::Rebaseline => {
            if running.control.try_send(Control::Rebaseline).is_err() {
                st.notice("re-baseline could NOT be sent to the processing thread");
            }
        }
        Command::WriteReport { at_s } => {
            let Some(r) = &opts.report else {
                return;
            };
            if let Some(j) = job {
                st.notice(format!(
                    "still writing the report so far ({}) to {}: try again when it is done",
                    crate::report::clock(j.at_s),
                    r.path.display()
                ));
                return;
            }
            let so_far = SoFar {
                at_s,
                markers: st.markers.clone(),
            };
            let write = r.write.clone();
            let spawned = std::thread::Builder::new()
                .name("lsrmon-report-so-far".into())
                .spawn(move || write(&so_far));
            match spawned {
                Ok(handle) => {
                    *job = Some(ReportJob {
                        at_s,
                        started: Instant::now(),
                        handle,
                    })
                }
                Err(e) => st.notice(format!(
                    "the report so far could NOT be written: no thread for it ({e})"
                )),
            }
        }
        Command::Quit => {}
    }
}

/// Tells how a report so far went.
fn report_done(st: &mut DashboardState, opts: &DashboardOptions, j: ReportJob) {
    let took = j.started.elapsed().as_secs_f64();
    let path = opts
        .report
        .as_ref()
        .map(|r| r.path.display().to_string())
        .unwrap_or_default();
    let at = crate::report::clock(j.at_s);
    match j.handle.join() {
        Ok(Ok(())) => st.notice(format!(
            "report so far ({at}) written to {path} in {took:.1} s"
        )),
        Ok(Err(e)) => st.notice(format!("report so far ({at}) could NOT be written: {e}")),
        Err(_) => st.notice(format!(
            "report so far ({at}) could NOT be written: the writer failed"
        )),
    }
}

/// Stops the pipeline (unless it has ended), takes its last messages until the final counters
/// arrive (the DSP thread waits for room to send them), and joins the threads.
pub(crate) fn stop(running: Running, ended: Option<EngineCounters>) -> Option<EngineCounters> {
    let mut counters = ended;
    if counters.is_none() {
        let _ = running.control.try_send(Control::Stop);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            match running.output.recv_timeout(Duration::from_millis(50)) {
                Ok(Output::End(c)) => {
                    counters = Some(c);
                    break;
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    }
    running.join();
    counters
}
