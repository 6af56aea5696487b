//! Everything the dashboard shows, and the one place it changes.
//!
//! [`DashboardState`] is plain data. It changes only through four methods:
//! [`apply_output`](DashboardState::apply_output) (what the pipeline sent),
//! [`apply_health`](DashboardState::apply_health) (the pipeline's atomics, read once a tick),
//! [`apply_action`](DashboardState::apply_action) (a key the user pressed, already decoded)
//! and [`notice`](DashboardState::notice) (a message from the run loop). Drawing reads it and
//! nothing else, so every screen can be tested by building a state from events and rendering
//! it onto a test backend.
//!
//! ## The verdict of a channel
//! Decided in the library ([`crate::detect::verdict`]), not here: every channel view keeps a
//! [`ChannelVerdict`] fed with the engine's events, and the banners, the trend's state band
//! and the health line read [`DashboardState::verdict`]. The headless report, the analysis
//! JSON and the session file read the same verdict the same way.
//!
//! ## Freeze
//! Freezing keeps a copy of the sweep and cascade panels' data so a waveform can be studied.
//! Everything underneath keeps updating, and the verdict banners, the trend and the health line
//! stay live: a frozen verdict would mislead the surgeon.

use std::collections::VecDeque;

use crate::detect::sweep::{DISPLAY_POST_MS, DISPLAY_PRE_MS};
pub use crate::detect::verdict::{
    CannotJudgeWhy, Verdict, VerdictKind, CANNOT_JUDGE_AFTER, NO_STIMULI_AFTER_S,
};
use crate::detect::verdict::{ChannelVerdict, Now};
use crate::detect::{EngineCounters, EngineEvent};
use crate::model::{
    BaselineInfo, Branch, Marker, MonitorState, RejectReason, SurgicalStep, SweepResult,
    SweepStatus, DISPLAY_POINTS,
};
use crate::pipeline::latency::LatencySummary;
use crate::pipeline::Output;
use crate::report::clock;
use crate::settings::Settings;
use crate::source::SourceInfo;

/// Most sweeps kept for the cascade.
pub const CASCADE_MAX: usize = 40;
/// Sensitivities of the sweep charts, microvolts per division (`+`/`-` step through them).
pub const UV_PER_DIV: [f32; 11] = [
    5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];
/// Default sensitivity: 50 uV/div shows a typical 200 uV LSR over four divisions.
pub const DEFAULT_UV_PER_DIV: usize = 3;
/// Longest free-text marker, characters.
pub const MARKER_TEXT_MAX: usize = 60;
/// Stimuli over which the stimulation rate is measured.
const STIM_RATE_WINDOW: usize = 8;

/// One sweep on the trend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrendPoint {
    pub t: f64,
    pub p2p_uv: f32,
    /// NaN when not measured.
    pub direct_uv: f32,
    pub status: SweepStatus,
    /// The channel's verdict right after this sweep (the trend's state band).
    pub kind: VerdictKind,
}

/// Everything about one LSR channel.
#[derive(Clone, Debug)]
pub struct ChannelView {
    /// Index in the source's channel list.
    pub channel: usize,
    pub label: String,
    /// What the channel's verdict is made from (the library decides it).
    pub verdict: ChannelVerdict,
    /// The baseline as established (its average sweep is drawn under the current one).
    pub baseline: Option<BaselineInfo>,
    /// Newest last.
    pub cascade: VecDeque<SweepResult>,
    pub trend: Vec<TrendPoint>,
    /// Largest judged LSR p2p on the trend (its scale), microvolts.
    pub trend_max_uv: f32,
}

impl ChannelView {
    fn new(channel: usize, label: String) -> Self {
        Self {
            channel,
            label,
            verdict: ChannelVerdict::default(),
            baseline: None,
            cascade: VecDeque::with_capacity(CASCADE_MAX),
            trend: Vec::new(),
            trend_max_uv: 0.0,
        }
    }

    /// The latest sweep, if any.
    pub fn latest(&self) -> Option<&SweepResult> {
        self.cascade.back()
    }
}

/// Frozen copy of the waveform panels' data.
#[derive(Clone, Debug)]
pub struct Frozen {
    pub at_s: f64,
    /// Per channel (same order as [`DashboardState::channels`]): its cascade at freeze time.
    pub cascades: Vec<VecDeque<SweepResult>>,
}

/// What the sweep and cascade panels draw for one channel (live or frozen).
pub struct DisplaySweeps<'a> {
    pub latest: Option<&'a SweepResult>,
    /// Newest last.
    pub cascade: &'a VecDeque<SweepResult>,
}

/// The pipeline's health figures as read in one tick.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthSnapshot {
    pub frames_in: u64,
    pub frames_dropped: u64,
    pub frames_processed: u64,
    pub outputs_dropped: u64,
    pub ring_fill: u64,
    pub source_done: bool,
    pub recording: Option<RecordingSnapshot>,
    /// From the last sample of a sweep's LSR window entering the ring to its verdict.
    pub decision: LatencySummary,
    /// From the last sample a sweep needs entering the ring to its verdict.
    pub processing: LatencySummary,
}

/// The recorder's state as read in one tick.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordingSnapshot {
    /// File size, if it could be read.
    pub bytes: Option<u64>,
    /// Seconds since the recording started.
    pub elapsed_s: f64,
    pub failed: bool,
}

/// What the dialogs and keys are doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    /// Typing a free-text marker.
    MarkerInput(String),
    ConfirmRebaseline,
    ConfirmQuit,
}

/// A decoded key (see [`super::input`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Marker(SurgicalStep),
    OpenMarkerInput,
    TypeChar(char),
    Backspace,
    /// Enter in the marker input.
    Submit,
    /// Esc, `n`: close a dialog.
    Cancel,
    /// `y`: confirm a dialog.
    Confirm,
    AskRebaseline,
    ToggleFreeze,
    /// Larger sweeps (fewer uV per division).
    Enlarge,
    /// Smaller sweeps (more uV per division).
    Shrink,
    NextChannel,
    PrevChannel,
    ToggleHelp,
    AskQuit,
    /// `r`: write the case report as it stands ("report so far").
    ReportSoFar,
}

/// What the run loop must do after an action.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Hand this marker to the caller (the recorder).
    AddMarker(Marker),
    /// Send `pipeline::Control::Rebaseline`.
    Rebaseline,
    /// Write the case report as it stands to [`StateConfig::report`], at this stream time
    /// (s), with the markers the trend shows.
    WriteReport {
        at_s: f64,
    },
    Quit,
}

/// Fixed facts the state is built with.
#[derive(Clone, Debug, PartialEq)]
pub struct StateConfig {
    /// Shown in the title (e.g. `demo x10`).
    pub title: String,
    /// Capacity of the pipeline's sample ring, frames (for the fill percentage).
    pub ring_frames: usize,
    /// File being recorded, if any.
    pub recording: Option<String>,
    /// Where the case report goes (`--report`), if anywhere: the `r` key writes it so far.
    pub report: Option<String>,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            title: String::new(),
            ring_frames: crate::pipeline::PipelineConfig::default().ring_frames,
            recording: None,
            report: None,
        }
    }
}

/// Everything the dashboard shows.
#[derive(Clone, Debug)]
pub struct DashboardState {
    pub cfg: StateConfig,
    pub description: String,
    pub sample_rate_hz: f64,
    pub labels: Vec<String>,
    /// LSR window, ms after the stimulus.
    pub lsr_window_ms: [f64; 2],
    /// Span of the display traces, ms after the stimulus (`[-pre, post]`).
    pub display_ms: [f64; 2],
    pub baseline_sweeps: u32,
    pub min_direct_uv: f32,
    /// Direct-response channel labels per branch.
    direct_labels: Vec<(Branch, String)>,
    /// Direct-response channels of the latest sweep's branch.
    pub direct_label: String,
    pub channels: Vec<ChannelView>,
    /// Channel shown in the sweep, cascade and trend panels (index into `channels`).
    pub selected: usize,
    /// Markers the stream has reached (scheduled and taken live), in time order.
    pub markers: Vec<Marker>,
    /// Scheduled markers still ahead, in time order.
    scheduled: VecDeque<Marker>,
    /// Seconds of signal processed (or the latest sweep, if later).
    pub stream_time_s: f64,
    /// Seconds of signal acquired: "now" for a marker.
    pub acquired_s: f64,
    pub health: HealthSnapshot,
    stim_times: VecDeque<f64>,
    /// None until the engine says; Some(None) = no mains found.
    pub mains_hz: Option<Option<f64>>,
    /// Sweeps rejected for lost samples, all channels.
    pub lost_sample_sweeps: u64,
    pub ended: Option<EngineCounters>,
    pub source_failed: Option<String>,
    pub mode: Mode,
    pub frozen: Option<Frozen>,
    /// Index into [`UV_PER_DIV`].
    pub sensitivity: usize,
    /// Largest direct response seen (scale of its bar), microvolts.
    pub direct_max_uv: f32,
    /// Last message for the user (footer).
    pub notice: Option<String>,
    pub quit: bool,
}

impl DashboardState {
    /// A state before anything has happened. `markers` are the source's scheduled markers;
    /// they appear when the stream reaches them.
    pub fn new(
        info: &SourceInfo,
        settings: &Settings,
        markers: Vec<Marker>,
        cfg: StateConfig,
    ) -> Self {
        let labels: Vec<String> = info.channels.iter().map(|c| c.label.clone()).collect();
        let joined = |idx: &[usize]| {
            idx.iter()
                .filter_map(|&i| labels.get(i).cloned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let direct_labels: Vec<(Branch, String)> = settings
            .anatomy
            .branches
            .iter()
            .map(|b| {
                let bc = settings.anatomy.channels_for(b.branch, &info.channels);
                (b.branch, joined(&bc.direct))
            })
            .collect();
        // The branches stimulated: those of the trigger channels, else the default branch.
        let mut branches: Vec<Branch> = info
            .channels
            .iter()
            .filter(|c| c.role == crate::model::Role::Trigger)
            .map(|c| c.trigger_branch.unwrap_or(settings.stimulus.default_branch))
            .collect();
        if branches.is_empty() {
            branches.push(settings.stimulus.default_branch);
        }
        let mut lsr: Vec<usize> = Vec::new();
        for b in &branches {
            lsr.extend(settings.anatomy.channels_for(*b, &info.channels).lsr);
        }
        lsr.sort_unstable();
        lsr.dedup();
        let channels = lsr
            .iter()
            .map(|&c| ChannelView::new(c, labels.get(c).cloned().unwrap_or_default()))
            .collect();
        let direct_label = direct_labels
            .iter()
            .find(|(b, _)| *b == branches[0])
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        let mut scheduled = markers;
        scheduled.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        Self {
            cfg,
            description: info.description.clone(),
            sample_rate_hz: info.sample_rate_hz,
            labels,
            lsr_window_ms: settings.measure.lsr_window_ms,
            display_ms: [
                -DISPLAY_PRE_MS.min(settings.sweep.pre_ms),
                DISPLAY_POST_MS.min(settings.sweep.post_ms),
            ],
            baseline_sweeps: settings.criterion.baseline_sweeps,
            min_direct_uv: settings.judge.min_direct_uv as f32,
            direct_labels,
            direct_label,
            channels,
            selected: 0,
            markers: Vec::new(),
            scheduled: scheduled.into(),
            stream_time_s: 0.0,
            acquired_s: 0.0,
            health: HealthSnapshot::default(),
            stim_times: VecDeque::with_capacity(STIM_RATE_WINDOW),
            mains_hz: None,
            lost_sample_sweeps: 0,
            ended: None,
            source_failed: None,
            mode: Mode::Normal,
            frozen: None,
            sensitivity: DEFAULT_UV_PER_DIV,
            direct_max_uv: 0.0,
            notice: None,
            quit: false,
        }
    }

    // ----- reading -------------------------------------------------------------------------

    /// The banner of channel `i` (index into `channels`).
    pub fn verdict(&self, i: usize) -> Option<Verdict> {
        let c = self.channels.get(i)?;
        Some(self.verdict_of(c))
    }

    fn verdict_of(&self, c: &ChannelView) -> Verdict {
        let now = Now {
            stream_s: self.stream_time_s,
            ended: self.ended.is_some(),
            source_failed: self.source_failed.is_some(),
        };
        c.verdict.verdict(now)
    }

    /// Kinds of every banner (the run loop redraws at once when they change).
    pub fn verdict_kinds(&self) -> Vec<VerdictKind> {
        self.channels
            .iter()
            .map(|c| self.verdict_of(c).kind())
            .collect()
    }

    /// What the waveform panels draw for channel `i` (the frozen copy while frozen).
    pub fn display_sweeps(&self, i: usize) -> Option<DisplaySweeps<'_>> {
        let c = self.channels.get(i)?;
        let cascade = match &self.frozen {
            Some(f) => f.cascades.get(i).unwrap_or(&c.cascade),
            None => &c.cascade,
        };
        Some(DisplaySweeps {
            latest: cascade.back(),
            cascade,
        })
    }

    /// Microvolts per division of the sweep charts.
    /// Time of point `k` of a display trace, ms after the stimulus (the middle of its bin).
    pub fn trace_ms(&self, k: usize) -> f64 {
        let [a, b] = self.display_ms;
        a + (k as f64 + 0.5) * (b - a) / DISPLAY_POINTS as f64
    }

    pub fn uv_per_div(&self) -> f32 {
        UV_PER_DIV[self.sensitivity.min(UV_PER_DIV.len() - 1)]
    }

    /// Stimuli per second over the last few stimuli.
    pub fn stim_rate_hz(&self) -> Option<f64> {
        let n = self.stim_times.len();
        if n < 2 {
            return None;
        }
        let span = self.stim_times[n - 1] - self.stim_times[0];
        (span > 0.0).then(|| (n - 1) as f64 / span)
    }

    /// The acquisition is still running (quitting needs a confirmation).
    pub fn running(&self) -> bool {
        self.ended.is_none() && self.source_failed.is_none()
    }

    // ----- changing ------------------------------------------------------------------------

    /// Applies one message from the pipeline. Returns true when a verdict may have changed
    /// (the run loop then redraws at once).
    pub fn apply_output(&mut self, out: &Output) -> bool {
        match out {
            Output::Engine(e) => self.apply_event(e),
            Output::End(c) => {
                self.ended = Some(*c);
                let end = c.frames as f64 / self.sample_rate_hz.max(1.0);
                self.advance_to(end.max(self.stream_time_s), end);
                self.notice = Some("the stream has ended: q quits".into());
                true
            }
            Output::SourceFailed(m) => {
                self.source_failed = Some(m.clone());
                true
            }
        }
    }

    fn apply_event(&mut self, e: &EngineEvent) -> bool {
        match e {
            EngineEvent::Stimulus(s) => {
                if self.stim_times.len() == STIM_RATE_WINDOW {
                    self.stim_times.pop_front();
                }
                self.stim_times
                    .push_back(s.frame_time / self.sample_rate_hz.max(1.0));
                false
            }
            EngineEvent::Mains(hz) => {
                self.mains_hz = Some(*hz);
                false
            }
            EngineEvent::Sweep(r) => {
                self.apply_sweep(r);
                true
            }
            EngineEvent::Baseline(b) => {
                let i = self.channel_slot(b.channel);
                let c = &mut self.channels[i];
                c.baseline = Some(*b);
                c.verdict.on_baseline(b);
                if b.present {
                    c.trend_max_uv = c.trend_max_uv.max(b.p2p_uv);
                }
                self.retag_last_point(i);
                true
            }
            EngineEvent::State(s) => {
                let i = self.channel_slot(s.channel);
                let c = &mut self.channels[i];
                c.verdict.on_state(s);
                self.retag_last_point(i);
                true
            }
        }
    }

    fn apply_sweep(&mut self, r: &SweepResult) {
        let i = self.channel_slot(r.channel);
        if let Some(d) = self.direct_labels.iter().find(|(b, _)| *b == r.branch) {
            if self.direct_label != d.1 {
                self.direct_label = d.1.clone();
            }
        }
        let judged = r.status != SweepStatus::Rejected;
        let equivocal = r.reject_reason == Some(RejectReason::Equivocal);
        // The direct response's scale: only sweeps that say something (cautery is huge).
        if (judged || equivocal) && r.direct_p2p_uv.is_finite() {
            self.direct_max_uv = self.direct_max_uv.max(r.direct_p2p_uv);
        }
        if r.status == SweepStatus::Rejected && r.reject_reason == Some(RejectReason::LostSamples) {
            self.lost_sample_sweeps += 1;
        }
        let c = &mut self.channels[i];
        if r.state == MonitorState::Baseline && c.verdict.state != MonitorState::Baseline {
            // A (re-)baseline has started: the old one is no longer drawn.
            c.baseline = None;
        }
        c.verdict.on_sweep(r);
        if judged && r.lsr_p2p_uv.is_finite() {
            c.trend_max_uv = c.trend_max_uv.max(r.lsr_p2p_uv);
        }
        if c.cascade.len() == CASCADE_MAX {
            c.cascade.pop_front();
        }
        c.cascade.push_back(*r);
        c.trend.push(TrendPoint {
            t: r.stim_time_s,
            p2p_uv: r.lsr_p2p_uv,
            direct_uv: r.direct_p2p_uv,
            status: r.status,
            kind: VerdictKind::Baseline,
        });
        let t = r.stim_time_s.max(self.stream_time_s);
        self.advance_to(t, self.acquired_s.max(t));
        self.retag_last_point(i);
    }

    /// The trend point of the latest sweep carries the verdict as it stands after it.
    fn retag_last_point(&mut self, i: usize) {
        let kind = self.verdict_of(&self.channels[i]).kind();
        if let Some(p) = self.channels[i].trend.last_mut() {
            p.kind = kind;
        }
    }

    /// Index into `channels` of source channel `ch`, adding it if a sweep of an unexpected
    /// branch brought a new one.
    fn channel_slot(&mut self, ch: usize) -> usize {
        if let Some(i) = self.channels.iter().position(|c| c.channel == ch) {
            return i;
        }
        let label = self
            .labels
            .get(ch)
            .cloned()
            .unwrap_or_else(|| format!("channel {ch}"));
        let pos = self.channels.partition_point(|c| c.channel < ch);
        self.channels.insert(pos, ChannelView::new(ch, label));
        if let Some(f) = &mut self.frozen {
            f.cascades
                .insert(pos.min(f.cascades.len()), VecDeque::new());
        }
        if self.selected >= pos && self.channels.len() > 1 {
            self.selected = (self.selected + 1).min(self.channels.len() - 1);
        }
        pos
    }

    /// Moves the stream clock forward and reveals the scheduled markers it has passed.
    fn advance_to(&mut self, processed_s: f64, acquired_s: f64) {
        self.stream_time_s = self.stream_time_s.max(processed_s);
        self.acquired_s = self.acquired_s.max(acquired_s).max(self.stream_time_s);
        while let Some(m) = self.scheduled.front() {
            if m.time_s > self.acquired_s {
                break;
            }
            if let Some(m) = self.scheduled.pop_front() {
                self.insert_marker(m);
            }
        }
    }

    fn insert_marker(&mut self, m: Marker) {
        let pos = self.markers.partition_point(|x| x.time_s <= m.time_s);
        self.markers.insert(pos, m);
    }

    /// Applies the pipeline's health figures.
    pub fn apply_health(&mut self, h: HealthSnapshot) {
        let fs = self.sample_rate_hz.max(1.0);
        let processed = h.frames_processed as f64 / fs;
        let acquired = h.frames_in as f64 / fs;
        self.health = h;
        self.advance_to(processed, acquired);
    }

    /// Shows a message in the footer.
    pub fn notice(&mut self, text: impl Into<String>) {
        self.notice = Some(text.into());
    }

    /// Applies a decoded key; returns what the run loop must do.
    pub fn apply_action(&mut self, a: Action) -> Option<Command> {
        match (&mut self.mode, a) {
            (Mode::MarkerInput(text), Action::TypeChar(ch)) => {
                if text.chars().count() < MARKER_TEXT_MAX && !ch.is_control() {
                    text.push(ch);
                }
                None
            }
            (Mode::MarkerInput(text), Action::Backspace) => {
                text.pop();
                None
            }
            (Mode::MarkerInput(text), Action::Submit) => {
                let label = text.trim().to_string();
                self.mode = Mode::Normal;
                if label.is_empty() {
                    self.notice = Some("empty marker not added".into());
                    None
                } else {
                    Some(self.add_marker(label))
                }
            }
            (Mode::ConfirmRebaseline, Action::Confirm) => {
                self.mode = Mode::Normal;
                for c in &mut self.channels {
                    c.verdict.ask_rebaseline();
                }
                self.notice = Some(format!(
                    "re-baseline asked for at {}: collecting {} new baseline sweeps",
                    clock(self.acquired_s),
                    self.baseline_sweeps
                ));
                Some(Command::Rebaseline)
            }
            (Mode::ConfirmQuit, Action::Confirm) => {
                self.mode = Mode::Normal;
                self.quit = true;
                Some(Command::Quit)
            }
            (Mode::Normal, _) => self.normal_action(a),
            (_, Action::Cancel | Action::ToggleHelp) => {
                self.mode = Mode::Normal;
                None
            }
            _ => None,
        }
    }

    fn normal_action(&mut self, a: Action) -> Option<Command> {
        match a {
            Action::Marker(step) => Some(self.add_marker(step.label().to_string())),
            Action::OpenMarkerInput => {
                self.mode = Mode::MarkerInput(String::new());
                None
            }
            Action::AskRebaseline => {
                if self.running() {
                    self.mode = Mode::ConfirmRebaseline;
                } else {
                    self.notice = Some("the stream has ended: nothing to re-baseline".into());
                }
                None
            }
            Action::ToggleFreeze => {
                if self.frozen.take().is_some() {
                    self.notice = Some("waveforms live again".into());
                } else {
                    self.frozen = Some(Frozen {
                        at_s: self.stream_time_s,
                        cascades: self.channels.iter().map(|c| c.cascade.clone()).collect(),
                    });
                    self.notice = Some(format!(
                        "waveforms frozen at {} (verdicts, trend and acquisition carry on)",
                        clock(self.stream_time_s)
                    ));
                }
                None
            }
            Action::Enlarge => {
                self.sensitivity = self.sensitivity.saturating_sub(1);
                None
            }
            Action::Shrink => {
                self.sensitivity = (self.sensitivity + 1).min(UV_PER_DIV.len() - 1);
                None
            }
            Action::NextChannel => {
                if !self.channels.is_empty() {
                    self.selected = (self.selected + 1) % self.channels.len();
                }
                None
            }
            Action::PrevChannel => {
                if !self.channels.is_empty() {
                    self.selected = (self.selected + self.channels.len() - 1) % self.channels.len();
                }
                None
            }
            Action::ToggleHelp => {
                self.mode = Mode::Help;
                None
            }
            Action::AskQuit => {
                if self.running() || self.cfg.recording.is_some() {
                    self.mode = Mode::ConfirmQuit;
                    None
                } else {
                    self.quit = true;
                    Some(Command::Quit)
                }
            }
            Action::ReportSoFar => match &self.cfg.report {
                Some(path) => {
                    self.notice = Some(format!(
                        "writing the report so far ({}) to {path} ...",
                        clock(self.stream_time_s)
                    ));
                    Some(Command::WriteReport {
                        at_s: self.stream_time_s,
                    })
                }
                None => {
                    self.notice = Some(
                        "no report file: start with --report CASE.html to write the report \
                         so far with r (and the whole case's at the end)"
                            .into(),
                    );
                    None
                }
            },
            Action::TypeChar(_)
            | Action::Backspace
            | Action::Submit
            | Action::Cancel
            | Action::Confirm => None,
        }
    }

    fn add_marker(&mut self, label: String) -> Command {
        let m = Marker {
            time_s: self.acquired_s,
            label,
        };
        self.notice = Some(format!("marker \"{}\" at {}", m.label, clock(m.time_s)));
        self.insert_marker(m.clone());
        Command::AddMarker(m)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{ChannelInfo, Muscle, Role, SampleFormat, StateEvent};

    fn ch(label: &str, muscle: Muscle, role: Role) -> ChannelInfo {
        ChannelInfo {
            label: label.into(),
            muscle,
            role,
            volts_per_unit: 1e-6,
            offset_volts: 0.0,
            range_units: None,
            trigger_branch: (role == Role::Trigger).then_some(Branch::Zygomatic),
        }
    }

    /// The simulated patient's channels: oculi (direct), oris and mentalis (LSR), trigger.
    pub fn info() -> SourceInfo {
        SourceInfo {
            sample_rate_hz: 10_000.0,
            channels: vec![
                ch("orbicularis_oculi", Muscle::OrbicularisOculi, Role::Emg),
                ch("orbicularis_oris", Muscle::OrbicularisOris, Role::Emg),
                ch("mentalis", Muscle::Mentalis, Role::Emg),
                ch("trigger", Muscle::None, Role::Trigger),
            ],
            sample_format: SampleFormat::I16,
            description: "test patient".into(),
            stimulus_events: false,
            total_frames: None,
        }
    }

    pub fn sweep(channel: usize, t: f64, status: SweepStatus, state: MonitorState) -> SweepResult {
        let present = status == SweepStatus::Present;
        let mut trace = [0.0f32; DISPLAY_POINTS];
        for (i, v) in trace.iter_mut().enumerate() {
            let ms = -10.0 + 70.0 * i as f32 / (DISPLAY_POINTS - 1) as f32;
            if present && (9.5..20.0).contains(&ms) {
                *v = 100.0 * ((ms - 9.5) * 0.6).sin();
            }
        }
        SweepResult {
            stim_index: t as u64,
            stim_time_s: t,
            branch: Branch::Zygomatic,
            channel,
            status,
            reject_reason: None,
            lsr_p2p_uv: if present { 200.0 } else { 8.0 },
            lsr_onset_ms: present.then_some(9.5),
            noise_p2p_uv: 10.0,
            noise_rms_uv: 2.0,
            snr: if present { 5.0 } else { 1.0 },
            template_corr: f32::NAN,
            direct_p2p_uv: 2000.0,
            crosstalk_gain: 0.02,
            tail_removed_uv: 0.0,
            tail_at_window_uv: 0.0,
            evidence: if present { -3.0 } else { 1.0 },
            state,
            percent_of_baseline: if matches!(
                state,
                MonitorState::Baseline | MonitorState::NoBaseline
            ) {
                f32::NAN
            } else if present {
                100.0
            } else {
                4.0
            },
            trace,
            direct_trace: [0.0; DISPLAY_POINTS],
        }
    }

    pub fn rejected(
        channel: usize,
        t: f64,
        reason: RejectReason,
        state: MonitorState,
    ) -> SweepResult {
        let mut r = sweep(channel, t, SweepStatus::Rejected, state);
        r.reject_reason = Some(reason);
        r.lsr_p2p_uv = 900.0;
        r
    }

    pub fn ev(r: SweepResult) -> Output {
        Output::Engine(EngineEvent::Sweep(r))
    }

    pub fn baseline_done(channel: usize, t: f64, present: bool) -> Output {
        Output::Engine(EngineEvent::Baseline(BaselineInfo {
            channel,
            present,
            p2p_uv: 200.0,
            onset_ms: 9.5,
            established_at_s: t,
            trace: sweep(channel, t, SweepStatus::Present, MonitorState::Present).trace,
        }))
    }

    pub fn state_change(channel: usize, state: MonitorState, t: f64, declared: f64) -> Output {
        Output::Engine(EngineEvent::State(StateEvent {
            channel,
            state,
            time_s: t,
            declared_at_s: declared,
        }))
    }

    pub fn new_state(markers: Vec<Marker>) -> DashboardState {
        DashboardState::new(
            &info(),
            &Settings::default(),
            markers,
            StateConfig::default(),
        )
    }

    /// Ten present baseline sweeps on both LSR channels, baseline established at t = 10.
    pub fn with_baseline(st: &mut DashboardState) {
        for k in 1..=10 {
            let t = k as f64;
            let state = if k == 10 {
                MonitorState::Present
            } else {
                MonitorState::Baseline
            };
            for c in [1, 2] {
                st.apply_output(&ev(sweep(c, t, SweepStatus::Present, state)));
                if k == 10 {
                    st.apply_output(&baseline_done(c, t, true));
                }
            }
        }
    }

    #[test]
    fn lsr_channels_come_from_the_anatomy_of_the_stimulated_branch() {
        let st = new_state(vec![]);
        let labels: Vec<&str> = st.channels.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["orbicularis_oris", "mentalis"]);
        assert_eq!(st.direct_label, "orbicularis_oculi");
        assert_eq!(
            st.verdict(0),
            Some(Verdict::Collecting {
                judged: 0,
                requested: false
            })
        );
    }

    #[test]
    fn baseline_counts_judged_sweeps_only() {
        let mut st = new_state(vec![]);
        st.apply_output(&ev(sweep(
            2,
            1.0,
            SweepStatus::Present,
            MonitorState::Baseline,
        )));
        st.apply_output(&ev(rejected(
            2,
            2.0,
            RejectReason::Electrocautery,
            MonitorState::Baseline,
        )));
        st.apply_output(&ev(rejected(
            2,
            3.0,
            RejectReason::Equivocal,
            MonitorState::Baseline,
        )));
        st.apply_output(&ev(sweep(
            2,
            4.0,
            SweepStatus::Absent,
            MonitorState::Baseline,
        )));
        assert_eq!(
            st.verdict(1),
            Some(Verdict::Collecting {
                judged: 3,
                requested: false
            })
        );
    }

    #[test]
    fn baseline_then_absence_with_time_and_percentage() {
        let mut st = new_state(vec![]);
        with_baseline(&mut st);
        assert_eq!(
            st.verdict(1),
            Some(Verdict::Present {
                since_s: Some(10.0),
                percent: Some(100.0),
            })
        );
        for k in 11..=15 {
            let state = if k == 15 {
                MonitorState::Absent
            } else {
                MonitorState::Present
            };
            st.apply_output(&ev(sweep(2, k as f64, SweepStatus::Absent, state)));
            st.apply_output(&ev(sweep(
                1,
                k as f64,
                SweepStatus::Present,
                MonitorState::Present,
            )));
        }
        st.apply_output(&state_change(2, MonitorState::Absent, 11.0, 15.0));
        assert_eq!(
            st.verdict(1),
            Some(Verdict::Absent {
                since_s: Some(11.0),
                declared_at_s: Some(15.0),
                percent: Some(4.0)
            })
        );
        // The other channel is untouched.
        assert_eq!(st.verdict(0).unwrap().kind(), VerdictKind::Present);
        // The trend's last point carries the new verdict; earlier ones the old.
        let trend = &st.channels[1].trend;
        assert_eq!(trend.last().unwrap().kind, VerdictKind::Absent);
        assert_eq!(trend[trend.len() - 2].kind, VerdictKind::Present);
    }

    #[test]
    fn two_rejected_sweeps_in_a_row_mean_cannot_judge_with_the_reason() {
        let mut st = new_state(vec![]);
        with_baseline(&mut st);
        st.apply_output(&ev(rejected(
            2,
            11.0,
            RejectReason::Electrocautery,
            MonitorState::Present,
        )));
        // One rejected sweep is not enough.
        assert_eq!(st.verdict(1).unwrap().kind(), VerdictKind::Present);
        st.apply_output(&ev(rejected(
            2,
            12.0,
            RejectReason::Electrocautery,
            MonitorState::Present,
        )));
        match st.verdict(1).unwrap() {
            Verdict::CannotJudge {
                why,
                underneath,
                percent,
            } => {
                assert_eq!(why.words(), "electrocautery");
                assert_eq!(underneath, MonitorState::Present);
                assert_eq!(percent, Some(100.0));
            }
            v => panic!("expected cannot judge, got {v:?}"),
        }
        // The latest reason is shown.
        st.apply_output(&ev(rejected(
            2,
            13.0,
            RejectReason::NoDirectResponse,
            MonitorState::Present,
        )));
        let v = st.verdict(1).unwrap();
        assert!(
            matches!(
                v,
                Verdict::CannotJudge {
                    why: CannotJudgeWhy::Rejected {
                        reason: RejectReason::NoDirectResponse,
                        count: 3
                    },
                    ..
                }
            ),
            "{v:?}"
        );
        // A judged sweep ends it.
        st.apply_output(&ev(sweep(
            2,
            14.0,
            SweepStatus::Present,
            MonitorState::Present,
        )));
        assert_eq!(st.verdict(1).unwrap().kind(), VerdictKind::Present);
    }

    #[test]
    fn equivocal_sweeps_do_not_make_cannot_judge() {
        let mut st = new_state(vec![]);
        with_baseline(&mut st);
        for t in [11.0, 12.0, 13.0] {
            st.apply_output(&ev(rejected(
                2,
                t,
                RejectReason::Equivocal,
                MonitorState::Present,
            )));
        }
        assert_eq!(st.verdict(1).unwrap().kind(), VerdictKind::Present);
    }

    #[test]
    fn lost_signal_and_missing_stimuli_cannot_be_judged() {
        let mut st = new_state(vec![]);
        with_baseline(&mut st);
        st.apply_output(&ev(rejected(
            2,
            11.0,
            RejectReason::LostSamples,
            MonitorState::Present,
        )));
        st.apply_output(&ev(rejected(
            2,
            12.0,
            RejectReason::LostSamples,
            MonitorState::Present,
        )));
        let v = st.verdict(1).unwrap();
        match &v {
            Verdict::CannotJudge { why, .. } => assert_eq!(why.words(), "signal lost"),
            _ => panic!("{v:?}"),
        }
        // No sweep for 6 s of processed signal on the other channel.
        st.apply_health(HealthSnapshot {
            frames_processed: 160_000,
            frames_in: 160_000,
            ..Default::default()
        });
        match st.verdict(0).unwrap() {
            Verdict::CannotJudge {
                why: CannotJudgeWhy::NoStimuli { for_s },
                ..
            } => assert!((for_s - 6.0).abs() < 1e-9),
            v => panic!("{v:?}"),
        }
        st.apply_output(&Output::SourceFailed("device unplugged".into()));
        assert_eq!(
            st.verdict(0).unwrap(),
            Verdict::CannotJudge {
                why: CannotJudgeWhy::SourceFailed,
                underneath: MonitorState::Present,
                percent: Some(100.0)
            }
        );
    }

    #[test]
    fn no_lsr_at_baseline() {
        let mut st = new_state(vec![]);
        for k in 1..=10 {
            let state = if k == 10 {
                MonitorState::NoBaseline
            } else {
                MonitorState::Baseline
            };
            st.apply_output(&ev(sweep(1, k as f64, SweepStatus::Absent, state)));
        }
        st.apply_output(&baseline_done(1, 10.0, false));
        assert_eq!(st.verdict(0), Some(Verdict::NoBaseline));
        // An LSR that appears later is reported as present, marked as none at baseline.
        st.apply_output(&state_change(1, MonitorState::Present, 11.0, 13.0));
        assert_eq!(
            st.verdict(0),
            Some(Verdict::Appeared {
                since_s: Some(11.0),
                percent: None,
            })
        );
        // ... and when it goes again, the channel is back to "no LSR at baseline".
        st.apply_output(&state_change(1, MonitorState::Absent, 14.0, 18.0));
        assert_eq!(st.verdict(0), Some(Verdict::NoBaseline));
    }

    #[test]
    fn scheduled_markers_appear_when_the_stream_reaches_them() {
        let m = |t: f64, l: &str| Marker {
            time_s: t,
            label: l.into(),
        };
        let mut st = new_state(vec![m(60.0, "pad placed"), m(5.0, "dura opened")]);
        assert!(st.markers.is_empty());
        st.apply_output(&ev(sweep(
            1,
            6.0,
            SweepStatus::Present,
            MonitorState::Baseline,
        )));
        assert_eq!(st.markers, vec![m(5.0, "dura opened")]);
        st.apply_health(HealthSnapshot {
            frames_in: 610_000,
            frames_processed: 600_000,
            ..Default::default()
        });
        assert_eq!(st.markers.len(), 2);
        assert_eq!(st.markers[1].label, "pad placed");
    }

    #[test]
    fn report_key_asks_the_run_loop_for_a_page_or_says_how_to_get_one() {
        // Without --report: nothing to do, and the footer says how to get a report.
        let mut st = new_state(vec![]);
        assert_eq!(st.apply_action(Action::ReportSoFar), None);
        let n = st.notice.clone().unwrap();
        assert!(n.contains("--report CASE.html"), "{n}");
        // With it: a command stamped with the processed stream time, and a notice that the
        // page is being written (the run loop replaces it with the outcome).
        let mut st = DashboardState::new(
            &info(),
            &Settings::default(),
            vec![],
            StateConfig {
                report: Some("case.html".into()),
                ..StateConfig::default()
            },
        );
        st.apply_health(HealthSnapshot {
            frames_in: 125_000,
            frames_processed: 123_000,
            ..Default::default()
        });
        assert_eq!(
            st.apply_action(Action::ReportSoFar),
            Some(Command::WriteReport { at_s: 12.3 })
        );
        let n = st.notice.clone().unwrap();
        assert!(n.contains("case.html") && n.contains("0:00:12.3"), "{n}");
        assert_eq!(st.mode, Mode::Normal);
        // Only from the normal screen: in the marker input `r` is text.
        st.apply_action(Action::OpenMarkerInput);
        assert_eq!(st.apply_action(Action::ReportSoFar), None);
        assert_eq!(st.mode, Mode::MarkerInput(String::new()));
    }

    #[test]
    fn marker_keys_stamp_the_acquisition_time_and_go_out() {
        let mut st = new_state(vec![]);
        st.apply_health(HealthSnapshot {
            frames_in: 123_000,
            frames_processed: 120_000,
            ..Default::default()
        });
        let cmd = st.apply_action(Action::Marker(SurgicalStep::PadPlaced));
        let want = Marker {
            time_s: 12.3,
            label: "pad placed".into(),
        };
        assert_eq!(cmd, Some(Command::AddMarker(want.clone())));
        assert_eq!(st.markers, vec![want]);
        // Free text: typed, edited, submitted.
        assert_eq!(st.apply_action(Action::OpenMarkerInput), None);
        for ch in "second felt?".chars() {
            st.apply_action(Action::TypeChar(ch));
        }
        st.apply_action(Action::Backspace);
        assert_eq!(st.mode, Mode::MarkerInput("second felt".into()));
        // Keys that are commands elsewhere are text here.
        st.apply_action(Action::TypeChar('q'));
        st.apply_action(Action::Backspace);
        match st.apply_action(Action::Submit) {
            Some(Command::AddMarker(m)) => assert_eq!(m.label, "second felt"),
            c => panic!("{c:?}"),
        }
        assert_eq!(st.mode, Mode::Normal);
        // Empty text adds nothing.
        st.apply_action(Action::OpenMarkerInput);
        st.apply_action(Action::TypeChar(' '));
        assert_eq!(st.apply_action(Action::Submit), None);
        assert_eq!(st.markers.len(), 2);
    }

    #[test]
    fn rebaseline_needs_confirmation_and_restarts_the_count() {
        let mut st = new_state(vec![]);
        with_baseline(&mut st);
        assert_eq!(st.apply_action(Action::AskRebaseline), None);
        assert_eq!(st.mode, Mode::ConfirmRebaseline);
        assert_eq!(st.apply_action(Action::Cancel), None);
        assert_eq!(st.mode, Mode::Normal);
        assert_eq!(st.verdict(1).unwrap().kind(), VerdictKind::Present);
        st.apply_action(Action::AskRebaseline);
        assert_eq!(st.apply_action(Action::Confirm), Some(Command::Rebaseline));
        assert_eq!(
            st.verdict(1),
            Some(Verdict::Collecting {
                judged: 0,
                requested: true
            })
        );
        // A sweep still from the old baseline does not end the request ...
        st.apply_output(&ev(sweep(
            2,
            11.0,
            SweepStatus::Present,
            MonitorState::Present,
        )));
        assert!(st.channels[1].verdict.rebaseline_requested);
        // ... the first sweep of the new baseline does.
        st.apply_output(&ev(sweep(
            2,
            12.0,
            SweepStatus::Present,
            MonitorState::Baseline,
        )));
        assert_eq!(
            st.verdict(1),
            Some(Verdict::Collecting {
                judged: 1,
                requested: false
            })
        );
        assert_eq!(st.channels[1].baseline, None);
    }

    #[test]
    fn freeze_holds_the_waveforms_while_state_updates_underneath() {
        let mut st = new_state(vec![]);
        with_baseline(&mut st);
        st.apply_action(Action::ToggleFreeze);
        let frozen_at = st.display_sweeps(1).unwrap().latest.unwrap().stim_time_s;
        assert_eq!(frozen_at, 10.0);
        for k in 11..=15 {
            st.apply_output(&ev(sweep(
                2,
                k as f64,
                SweepStatus::Absent,
                MonitorState::Present,
            )));
        }
        st.apply_output(&state_change(2, MonitorState::Absent, 11.0, 15.0));
        // Display: still the frozen sweep; state: live.
        let d = st.display_sweeps(1).unwrap();
        assert_eq!(d.latest.unwrap().stim_time_s, 10.0);
        assert_eq!(d.cascade.len(), 10);
        assert_eq!(st.channels[1].latest().unwrap().stim_time_s, 15.0);
        assert_eq!(st.verdict(1).unwrap().kind(), VerdictKind::Absent);
        assert_eq!(st.channels[1].trend.len(), 15);
        // Unfreeze: the live sweeps are back, nothing was lost.
        st.apply_action(Action::ToggleFreeze);
        let d = st.display_sweeps(1).unwrap();
        assert_eq!(d.latest.unwrap().stim_time_s, 15.0);
        assert_eq!(d.cascade.len(), 15);
    }

    #[test]
    fn cascade_keeps_the_newest_sweeps() {
        let mut st = new_state(vec![]);
        for k in 0..(CASCADE_MAX + 5) {
            st.apply_output(&ev(sweep(
                1,
                k as f64,
                SweepStatus::Present,
                MonitorState::Baseline,
            )));
        }
        let c = &st.channels[0].cascade;
        assert_eq!(c.len(), CASCADE_MAX);
        assert_eq!(c.front().unwrap().stim_time_s, 5.0);
        assert_eq!(c.back().unwrap().stim_time_s, (CASCADE_MAX + 4) as f64);
    }

    #[test]
    fn sensitivity_channels_and_quit() {
        let mut st = new_state(vec![]);
        assert_eq!(st.uv_per_div(), 50.0);
        st.apply_action(Action::Enlarge);
        assert_eq!(st.uv_per_div(), 20.0);
        for _ in 0..20 {
            st.apply_action(Action::Enlarge);
        }
        assert_eq!(st.uv_per_div(), 5.0);
        for _ in 0..20 {
            st.apply_action(Action::Shrink);
        }
        assert_eq!(st.uv_per_div(), 10000.0);
        st.apply_action(Action::NextChannel);
        assert_eq!(st.selected, 1);
        st.apply_action(Action::NextChannel);
        assert_eq!(st.selected, 0);
        st.apply_action(Action::PrevChannel);
        assert_eq!(st.selected, 1);
        // While acquiring, quitting asks first.
        assert_eq!(st.apply_action(Action::AskQuit), None);
        assert_eq!(st.mode, Mode::ConfirmQuit);
        assert_eq!(st.apply_action(Action::Cancel), None);
        assert!(!st.quit);
        st.apply_action(Action::AskQuit);
        assert_eq!(st.apply_action(Action::Confirm), Some(Command::Quit));
        assert!(st.quit);
        // After the end of the stream it does not.
        let mut st = new_state(vec![]);
        st.apply_output(&Output::End(EngineCounters::default()));
        assert_eq!(st.apply_action(Action::AskQuit), Some(Command::Quit));
    }

    #[test]
    fn a_sweep_of_an_unexpected_channel_adds_it_in_order() {
        let mut st = new_state(vec![]);
        st.apply_action(Action::NextChannel);
        assert_eq!(st.channels[st.selected].label, "mentalis");
        let mut r = sweep(0, 1.0, SweepStatus::Present, MonitorState::Baseline);
        r.branch = Branch::MarginalMandibular;
        st.apply_output(&ev(r));
        let labels: Vec<&str> = st.channels.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            ["orbicularis_oculi", "orbicularis_oris", "mentalis"]
        );
        // The selection still points at the same channel.
        assert_eq!(st.channels[st.selected].label, "mentalis");
        // For marginal mandibular stimulation the direct response is in the lower face.
        assert_eq!(st.direct_label, "orbicularis_oris, mentalis");
    }

    #[test]
    fn stimulation_rate() {
        let mut st = new_state(vec![]);
        for k in 0..5 {
            st.apply_output(&Output::Engine(EngineEvent::Stimulus(
                crate::model::Stimulus {
                    index: k,
                    frame_time: k as f64 * 10_000.0,
                    branch: Branch::Zygomatic,
                    intensity_ma: f32::NAN,
                    pulse_width_s: f32::NAN,
                },
            )));
        }
        assert!((st.stim_rate_hz().unwrap() - 1.0).abs() < 1e-12);
    }

    /// One verdict: the dashboard's trend band, the analysis JSON's rows and channel summary,
    /// and the headless report all say what `detect::verdict` decides, sweep by sweep.
    #[test]
    fn the_dashboard_the_json_and_the_headless_report_give_one_verdict() {
        use crate::analysis::Collector;
        use crate::detect::EngineCounters;
        use crate::report::Reporter;
        let info = info();
        let mut st = new_state(vec![]);
        let mut col = Collector::new(&info);
        let labels = info.channels.iter().map(|c| c.label.clone()).collect();
        let mut rep = Reporter::new(labels, vec![], false);
        let mut text = Vec::new();
        let mut outs = Vec::new();
        for k in 1..=10 {
            let state = if k == 10 {
                MonitorState::Present
            } else {
                MonitorState::Baseline
            };
            outs.push(ev(sweep(1, k as f64, SweepStatus::Present, state)));
        }
        outs.push(baseline_done(1, 10.0, true));
        let cautery = RejectReason::Electrocautery;
        outs.push(ev(rejected(1, 11.0, cautery, MonitorState::Present)));
        outs.push(ev(rejected(1, 12.0, cautery, MonitorState::Present)));
        outs.push(ev(sweep(
            1,
            13.0,
            SweepStatus::Absent,
            MonitorState::Present,
        )));
        outs.push(ev(sweep(
            1,
            14.0,
            SweepStatus::Absent,
            MonitorState::Absent,
        )));
        outs.push(state_change(1, MonitorState::Absent, 13.0, 14.0));
        outs.push(ev(rejected(1, 15.0, cautery, MonitorState::Absent)));
        outs.push(ev(rejected(
            1,
            16.0,
            RejectReason::LostSamples,
            MonitorState::Absent,
        )));
        for o in &outs {
            st.apply_output(o);
            if let Output::Engine(e) = o {
                col.push(e);
                rep.event(&mut text, e).unwrap();
            }
        }
        let band: Vec<&str> = st.channels[0]
            .trend
            .iter()
            .map(|p| p.kind.as_str())
            .collect();
        let a = col.finish(
            "x.nwb",
            &info,
            &Settings::default(),
            "trigger",
            &[],
            &EngineCounters::default(),
            170_000,
            0.0,
        );
        let rows: Vec<&str> = a.sweeps.iter().map(|r| r.verdict).collect();
        assert_eq!(band, rows, "the trend band and the JSON rows differ");
        assert_eq!(
            &rows[9..],
            [
                "present",
                "present",
                "cannot_judge",
                "present",
                "absent",
                "absent",
                "cannot_judge"
            ]
        );
        assert_eq!(
            a.sweeps[11].verdict_reason.as_deref(),
            Some("electrocautery (last 2 sweeps rejected)")
        );
        let c = &a.channels[0];
        assert_eq!(c.final_state, "absent");
        assert_eq!(c.verdict, "cannot_judge");
        assert_eq!(
            c.verdict_reason.as_deref(),
            Some("signal lost (last 2 sweeps rejected)")
        );
        assert_eq!(st.verdict(0).unwrap().kind(), VerdictKind::CannotJudge);
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text.matches("CANNOT JUDGE: ").count(), 2, "{text}");
        assert_eq!(
            text.matches("can be judged again (present)").count(),
            1,
            "{text}"
        );
    }
}
