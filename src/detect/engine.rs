//! The engine: a stream of samples and events in, per-sweep results and state changes out.
//!
//! [`Engine::new`] prepares everything (allocates); [`Engine::process`] takes one block of
//! interleaved device-unit frames with the events inside it and never allocates. The results
//! do not depend on how the stream is cut into blocks: the engine ingests at most
//! `CHUNK` frames at a time, and everything that happens at a frame position (a sweep
//! becoming complete, a mains re-estimate) happens at that position, so a file replayed in
//! 64-frame blocks and in 1-second blocks gives identical results.
//!
//! Stimulus timing comes, in order of preference (`stimulus.timing = auto`): from the
//! source's own stimulus events (device events, a stimuli table), from a trigger channel,
//! or from the stimulus artifact.

use crate::anatomy::BranchChannels;
use crate::dsp::mains::MainsDetector;
use crate::model::{
    BaselineInfo, Branch, ChannelInfo, MonitorState, RejectReason, Role, StateEvent, Stimulus,
    SweepResult, SweepStatus, DISPLAY_POINTS,
};
use crate::settings::{Mains, Settings, StimulusTiming};
use crate::source::{SourceEvent, SourceInfo};
use crate::stim::{ArtifactDetector, Polarity, TriggerDetector};

use super::criterion::Observation;
use super::history::{History, Scale};
use super::measure;
use super::sweep::{Geometry, SweepAnalyzer};
use super::tracker::{RunAverageCheck, Tracker};
use super::EngineError;

/// Largest number of frames ingested before pending sweeps are looked at.
const CHUNK: usize = 1024;
/// Stimuli waiting for their post-stimulus span.
const PENDING: usize = 64;
/// Length of signal the mains detector looks at, and how often, seconds.
const MAINS_WINDOW_S: f64 = 0.5;
const MAINS_EVERY_S: f64 = 2.0;
/// Recent stimuli remembered for the mains detector.
const RECENT: usize = 16;
/// Span around each stimulus bridged before mains detection, ms.
const MAINS_SKIP_MS: [f64; 2] = [-1.0, 45.0];

/// What the engine reports. Plain `Copy` data without heap (a sweep carries its display
/// trace inline), so it crosses the bounded channel to the consumers without allocating; hence
/// the variants' different sizes are deliberate.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EngineEvent {
    /// A stimulus was found (or announced by the source).
    Stimulus(Stimulus),
    /// One LSR channel of one sweep, judged.
    Sweep(SweepResult),
    /// A channel's baseline was established.
    Baseline(BaselineInfo),
    /// A channel's monitored state changed.
    State(StateEvent),
    /// The mains frequency in use changed (None = no mains found).
    Mains(Option<f64>),
}

/// Running totals, for the health line and the session file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineCounters {
    pub frames: u64,
    pub stimuli: u64,
    /// Stimuli dropped because too many were waiting (a misfiring trigger).
    pub stimuli_dropped: u64,
    pub gaps: u64,
    pub lost_frames: u64,
    pub sweeps_present: u64,
    pub sweeps_absent: u64,
    pub sweeps_rejected: u64,
    /// Rejected sweeps by reason, in the order of [`REJECT_REASONS`].
    pub rejected_by_reason: [u64; 7],
}

/// Reject reasons in counter order.
pub const REJECT_REASONS: [RejectReason; 7] = [
    RejectReason::Electrocautery,
    RejectReason::Saturation,
    RejectReason::LostSamples,
    RejectReason::NoDirectResponse,
    RejectReason::SpontaneousActivity,
    RejectReason::Equivocal,
    RejectReason::Incomplete,
];

enum Timing {
    Events,
    Trigger(Vec<(usize, Branch, TriggerDetector)>),
    Artifact(usize, Box<ArtifactDetector>),
}

/// The LSR engine for one source.
pub struct Engine {
    fs: f64,
    channels: Vec<ChannelInfo>,
    settings: Settings,
    history: History,
    timing: Timing,
    pending: [Option<Stimulus>; PENDING],
    pending_head: usize,
    pending_len: usize,
    analyzer: SweepAnalyzer,
    /// Channels per branch, resolved once.
    branches: Vec<(Branch, BranchChannels)>,
    /// One tracker per channel index that can show an LSR for some branch.
    trackers: Vec<Option<Tracker>>,
    mains: Option<MainsDetector>,
    mains_hz: Option<f64>,
    mains_decided: bool,
    mains_channel: usize,
    mains_scratch: Vec<f32>,
    mains_window: usize,
    mains_every: u64,
    next_mains: u64,
    run_scratch: Vec<f32>,
    /// Frame times of the most recent stimuli (their artifacts and responses are bridged
    /// out of the stretch the mains detector looks at).
    recent_stims: [f64; RECENT],
    recent_count: usize,
    counters: EngineCounters,
    found: Vec<f64>,
}

impl Engine {
    /// Prepares the engine for a source: validates the settings against it and allocates
    /// every buffer.
    pub fn new(info: &SourceInfo, settings: &Settings) -> Result<Self, EngineError> {
        settings
            .validate()
            .map_err(|e| EngineError::Settings(e.to_string()))?;
        let fs = info.sample_rate_hz;
        if !(1000.0..=200_000.0).contains(&fs) {
            return Err(EngineError::Source(format!(
                "sample rate {fs} Hz is outside what lsrmon can analyse (1-200 kHz)"
            )));
        }
        let channels = info.channels.clone();
        if channels.is_empty() {
            return Err(EngineError::Source("the source has no channels".into()));
        }
        let analyzer = SweepAnalyzer::new(fs, &channels, settings)?;
        let geo = &analyzer.geo;
        let mains_window = (MAINS_WINDOW_S * fs).round() as usize;
        let capacity = geo.seg_len.max(mains_window) + 2 * CHUNK;
        let scale = channels
            .iter()
            .map(|c| Scale {
                gain: c.uv_per_unit(),
                offset: c.offset_uv(),
            })
            .collect();
        let history = History::new(scale, capacity);

        let mut branches: Vec<(Branch, BranchChannels)> = Vec::new();
        for b in &settings.anatomy.branches {
            branches.push((b.branch, settings.anatomy.channels_for(b.branch, &channels)));
        }
        let mut trackers: Vec<Option<Tracker>> = (0..channels.len()).map(|_| None).collect();
        let run_item = geo.noise_len + geo.window_len;
        for (_, bc) in &branches {
            for &ch in &bc.lsr {
                if trackers[ch].is_none() {
                    trackers[ch] = Some(Tracker::new(ch, settings, geo.display_len, run_item));
                }
            }
        }
        if trackers.iter().all(Option::is_none) {
            return Err(EngineError::Source(
                "no channel can show a lateral spread response: label at least one EMG channel \
                 with a muscle of the branch opposite the stimulated one (e.g. mentalis for \
                 zygomatic stimulation)"
                    .into(),
            ));
        }
        let timing = Self::choose_timing(info, settings, &branches)?;
        let emg: Vec<usize> = (0..channels.len())
            .filter(|&c| channels[c].role == Role::Emg)
            .collect();
        let mains_channel = trackers.iter().position(Option::is_some).unwrap_or(emg[0]);
        let (mains, mains_hz, mains_decided) = match settings.conditioning.mains {
            Mains::Auto => (Some(MainsDetector::new(fs, mains_window)), None, false),
            Mains::Off => (None, None, true),
            m => (None, m.fixed_hz(), true),
        };
        Ok(Self {
            fs,
            run_scratch: vec![0.0; run_item],
            recent_stims: [f64::NAN; RECENT],
            recent_count: 0,
            mains_scratch: vec![0.0; mains_window],
            mains_window,
            mains_every: (MAINS_EVERY_S * fs).round() as u64,
            next_mains: mains_window as u64,
            mains,
            mains_hz,
            mains_decided,
            mains_channel,
            channels,
            settings: settings.clone(),
            history,
            timing,
            pending: [None; PENDING],
            pending_head: 0,
            pending_len: 0,
            analyzer,
            branches,
            trackers,
            counters: EngineCounters::default(),
            found: Vec::with_capacity(CHUNK),
        })
    }

    fn choose_timing(
        info: &SourceInfo,
        s: &Settings,
        branches: &[(Branch, BranchChannels)],
    ) -> Result<Timing, EngineError> {
        let fs = info.sample_rate_hz;
        let stim_err = |e: crate::stim::StimError| EngineError::Settings(e.to_string());
        let mut triggers: Vec<(usize, Branch, TriggerDetector)> = Vec::new();
        for (i, c) in info.channels.iter().enumerate() {
            if c.role == Role::Trigger {
                let b = c.trigger_branch.unwrap_or(s.stimulus.default_branch);
                let det = TriggerDetector::new(&s.stimulus, fs, Polarity::Positive, c.range_units)
                    .map_err(stim_err)?;
                triggers.push((i, b, det));
            }
        }
        let artifact = || {
            // The artifact is largest near the stimulation site: prefer a direct-response
            // channel of the default branch, else any EMG channel.
            let near = branches
                .iter()
                .find(|(b, _)| *b == s.stimulus.default_branch)
                .and_then(|(_, bc)| bc.direct.first().or(bc.lsr.first()).copied());
            let ch = near.or_else(|| info.channels.iter().position(|c| c.role == Role::Emg));
            match ch {
                Some(ch) => Ok(Timing::Artifact(
                    ch,
                    Box::new(
                        ArtifactDetector::new(&s.stimulus, fs, info.channels[ch].uv_per_unit())
                            .map_err(stim_err)?,
                    ),
                )),
                None => Err(EngineError::Source(
                    "no EMG channel to find stimulus artifacts on".into(),
                )),
            }
        };
        match s.stimulus.timing {
            StimulusTiming::Events => Ok(Timing::Events),
            StimulusTiming::Trigger if triggers.is_empty() => Err(EngineError::Source(
                "stimulus timing 'trigger' was asked for, but no channel has the role 'trigger'"
                    .into(),
            )),
            StimulusTiming::Trigger => Ok(Timing::Trigger(triggers)),
            StimulusTiming::Artifact => artifact(),
            StimulusTiming::Auto if info.stimulus_events => Ok(Timing::Events),
            StimulusTiming::Auto if !triggers.is_empty() => Ok(Timing::Trigger(triggers)),
            StimulusTiming::Auto => artifact(),
        }
    }

    pub fn sample_rate_hz(&self) -> f64 {
        self.fs
    }

    pub fn channels(&self) -> &[ChannelInfo] {
        &self.channels
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn counters(&self) -> &EngineCounters {
        &self.counters
    }

    /// How stimuli are being timed, in words.
    pub fn timing_name(&self) -> &'static str {
        match self.timing {
            Timing::Events => "stimulus events",
            Timing::Trigger(_) => "trigger channel",
            Timing::Artifact(..) => "stimulus artifact",
        }
    }

    /// The mains frequency in use (None: none found or removal off).
    pub fn mains_hz(&self) -> Option<f64> {
        self.mains_hz
    }

    /// Monitored state of a channel (None if it cannot show an LSR).
    pub fn state(&self, channel: usize) -> Option<MonitorState> {
        self.trackers.get(channel)?.as_ref().map(Tracker::state)
    }

    /// The sweep geometry (what is cut around each stimulus, where the LSR window lies).
    pub fn geometry(&self) -> Geometry {
        self.analyzer.geo
    }

    /// Starts every channel's baseline again.
    pub fn rebaseline(&mut self) {
        for t in self.trackers.iter_mut().flatten() {
            t.rebaseline();
        }
    }

    /// Processes one block: `frames` is interleaved, in device units; `events` are the
    /// source's events that fall inside it. Calls `out` for everything that happens. Does not
    /// allocate.
    pub fn process(
        &mut self,
        frames: &[f32],
        events: &[SourceEvent],
        out: &mut dyn FnMut(&EngineEvent),
    ) {
        for ev in events {
            match *ev {
                SourceEvent::Stimulus {
                    frame_time,
                    branch,
                    intensity_ma,
                    pulse_width_s,
                } => {
                    if matches!(self.timing, Timing::Events) {
                        self.enqueue(frame_time, branch, intensity_ma, pulse_width_s, out);
                    }
                }
                SourceEvent::Gap { frame, lost_frames } => {
                    self.history.mark_gap(frame);
                    self.counters.gaps += 1;
                    self.counters.lost_frames += lost_frames;
                }
            }
        }
        let nch = self.channels.len();
        let mut rest = &frames[..frames.len() - frames.len() % nch];
        while !rest.is_empty() {
            // Stop at the next mains re-estimate so it happens at a fixed frame position.
            let mut n = (rest.len() / nch).min(CHUNK);
            if self.mains.is_some() && self.next_mains > self.history.end() {
                n = n.min((self.next_mains - self.history.end()) as usize);
            }
            let (chunk, tail) = rest.split_at(n * nch);
            rest = tail;
            let first = self.history.end();
            self.history.push(chunk);
            self.counters.frames += n as u64;
            self.find_stimuli(chunk, first, out);
            self.run_ready(out);
            if self.mains.is_some() && self.history.end() >= self.next_mains {
                self.update_mains(out);
                self.next_mains += self.mains_every;
                self.run_ready(out);
            }
        }
    }

    /// The stream ended: sweeps still waiting for their post-stimulus span are reported as
    /// incomplete.
    pub fn finish(&mut self, out: &mut dyn FnMut(&EngineEvent)) {
        self.mains_decided = true;
        self.run_ready(out);
        while let Some(stim) = self.pop_pending() {
            self.analyse(&stim, true, out);
        }
    }

    fn find_stimuli(&mut self, chunk: &[f32], first: u64, out: &mut dyn FnMut(&EngineEvent)) {
        let nch = self.channels.len();
        let mut found = std::mem::take(&mut self.found);
        found.clear();
        let mut branch = self.settings.stimulus.default_branch;
        match &mut self.timing {
            Timing::Events => {}
            Timing::Trigger(list) => {
                // Several trigger channels: merge their stimuli in time order per chunk.
                for (ch, b, det) in list.iter_mut() {
                    let before = found.len();
                    det.process(chunk, nch, *ch, first, &mut |t| {
                        if found.len() < found.capacity() {
                            found.push(t);
                        }
                    });
                    if found.len() > before {
                        branch = *b;
                    }
                }
            }
            Timing::Artifact(ch, det) => {
                det.process(chunk, nch, *ch, first, &mut |t| {
                    if found.len() < found.capacity() {
                        found.push(t);
                    }
                });
            }
        }
        // With one trigger per branch a chunk holds stimuli of one branch in practice (the
        // refractory period is far longer than a chunk); keep the order of time.
        found.sort_unstable_by(f64::total_cmp);
        for &t in &found {
            self.enqueue(t, branch, f32::NAN, f32::NAN, out);
        }
        self.found = found;
    }

    fn enqueue(
        &mut self,
        frame_time: f64,
        branch: Branch,
        intensity_ma: f32,
        pulse_width_s: f32,
        out: &mut dyn FnMut(&EngineEvent),
    ) {
        if self.pending_len == PENDING {
            self.counters.stimuli_dropped += 1;
            return;
        }
        let stim = Stimulus {
            index: self.counters.stimuli,
            frame_time,
            branch,
            intensity_ma,
            pulse_width_s,
        };
        self.counters.stimuli += 1;
        self.recent_stims[self.recent_count % RECENT] = frame_time;
        self.recent_count += 1;
        let slot = (self.pending_head + self.pending_len) % PENDING;
        self.pending[slot] = Some(stim);
        self.pending_len += 1;
        out(&EngineEvent::Stimulus(stim));
    }

    fn pop_pending(&mut self) -> Option<Stimulus> {
        if self.pending_len == 0 {
            return None;
        }
        let s = self.pending[self.pending_head].take();
        self.pending_head = (self.pending_head + 1) % PENDING;
        self.pending_len -= 1;
        s
    }

    fn run_ready(&mut self, out: &mut dyn FnMut(&EngineEvent)) {
        if !self.mains_decided {
            return;
        }
        let post = (self.analyzer.geo.seg_len - self.analyzer.geo.pre_n) as u64;
        while self.pending_len > 0 {
            let Some(stim) = self.pending[self.pending_head] else {
                break;
            };
            let end = stim.frame_time.floor().max(0.0) as u64 + post;
            if end > self.history.end() {
                break;
            }
            self.pop_pending();
            self.analyse(&stim, false, out);
        }
    }

    fn update_mains(&mut self, out: &mut dyn FnMut(&EngineEvent)) {
        let Some(det) = self.mains.as_mut() else {
            return;
        };
        let start = self.history.end() - self.mains_window as u64;
        if !self
            .history
            .copy(self.mains_channel, start, &mut self.mains_scratch)
        {
            return;
        }
        // Stimulus artifacts are mV-sized and broadband: bridge them (and the responses)
        // out, or they raise the periodogram's floor above the hum.
        let (a, b) = (
            MAINS_SKIP_MS[0] * self.fs / 1000.0,
            MAINS_SKIP_MS[1] * self.fs / 1000.0,
        );
        let len = self.mains_scratch.len();
        for &t in &self.recent_stims {
            if !t.is_finite() {
                continue;
            }
            let lo = (t + a - start as f64).floor().max(0.0) as usize;
            let hi = (t + b - start as f64).ceil().max(0.0) as usize;
            if lo < len && hi > 0 {
                crate::dsp::blank::bridge(&mut self.mains_scratch, lo..hi.min(len));
            }
        }
        let est = det.detect(&self.mains_scratch);
        let was = (self.mains_decided, self.mains_hz);
        self.mains_hz = est.hz.or(self.mains_hz.filter(|_| self.mains_decided));
        self.mains_decided = true;
        if was != (true, self.mains_hz) {
            out(&EngineEvent::Mains(self.mains_hz));
        }
    }

    fn analyse(&mut self, stim: &Stimulus, at_end: bool, out: &mut dyn FnMut(&EngineEvent)) {
        let Some(bi) = self.branches.iter().position(|(b, _)| *b == stim.branch) else {
            return;
        };
        let chans = &self.branches[bi].1;
        if chans.lsr.is_empty() {
            return;
        }
        let mut facts = if at_end {
            super::sweep::SweepFacts {
                incomplete: true,
                direct_p2p: f32::NAN,
                ..Default::default()
            }
        } else {
            self.analyzer
                .condition(&self.history, stim, chans, self.mains_hz)
        };
        if facts.incomplete {
            facts.direct_p2p = f32::NAN;
        }
        let stim_time_s = stim.frame_time / self.fs;
        for k in 0..chans.lsr.len() {
            let ch = self.branches[bi].1.lsr[k];
            let Some(tr) = self.trackers[ch].as_mut() else {
                continue;
            };
            let (result, step) = judge_channel(
                &mut self.analyzer,
                tr,
                &mut self.run_scratch,
                &self.branches[bi].1,
                &facts,
                ch,
                stim,
                stim_time_s,
            );
            let status = result.status;
            let reason = result.reject_reason;
            match status {
                SweepStatus::Present => self.counters.sweeps_present += 1,
                SweepStatus::Absent => self.counters.sweeps_absent += 1,
                SweepStatus::Rejected => {
                    self.counters.sweeps_rejected += 1;
                    if let Some(r) = reason {
                        if let Some(i) = REJECT_REASONS.iter().position(|x| *x == r) {
                            self.counters.rejected_by_reason[i] += 1;
                        }
                    }
                }
            }
            out(&EngineEvent::Sweep(result));
            if let Some(b) = step.baseline {
                out(&EngineEvent::Baseline(BaselineInfo {
                    channel: ch,
                    present: b.present,
                    p2p_uv: b.p2p_uv,
                    onset_ms: b.onset_ms,
                    established_at_s: b.established_at_s,
                    trace: self.trackers[ch]
                        .as_ref()
                        .map_or([0.0; DISPLAY_POINTS], Tracker::baseline_trace),
                }));
            }
            if let Some(c) = step.change {
                out(&EngineEvent::State(StateEvent {
                    channel: ch,
                    state: c.state,
                    time_s: c.time_s,
                    declared_at_s: c.declared_at_s,
                }));
            }
        }
    }
}

/// One LSR channel of one sweep, after the sweep was conditioned: measure, correlate with
/// the baseline LSR, judge, feed the criterion. The engine calls it for every channel; the
/// stages bench calls it too, so what is measured is what runs. Does not allocate.
#[allow(clippy::too_many_arguments)]
pub fn judge_channel(
    an: &mut SweepAnalyzer,
    tr: &mut Tracker,
    run_scratch: &mut [f32],
    chans: &BranchChannels,
    facts: &super::sweep::SweepFacts,
    ch: usize,
    stim: &Stimulus,
    stim_time_s: f64,
) -> (SweepResult, super::criterion::Step) {
    let geo = an.geo;
    let frac = facts.frac;
    let measured = if facts.incomplete {
        super::sweep::Measured::default()
    } else {
        an.measure(ch, chans, facts)
    };
    let lag = (an.settings().judge.template_max_lag_ms * geo.fs / 1000.0) as usize;
    // Correlation with the baseline LSR over the part of the window the sweep is judged on
    // (a crosstalk residue before it is in the baseline average too).
    let off = measured.judged_offset;
    let mut template_corr = f32::NAN;
    if !facts.incomplete && tr.has_template {
        let win = geo.window(frac);
        let t = tr.template(&geo);
        template_corr =
            an.correlator
                .best(&an.seg[ch], win.start + off, &t[off.min(t.len())..], lag);
    }
    let judgement = tr.judge(an, facts, &measured, Some(template_corr));
    let status = judgement.status;
    let mut trace = [0.0f32; DISPLAY_POINTS];
    let mut direct_trace = [0.0f32; DISPLAY_POINTS];
    let adds = judgement.evidence > 0.0;
    if !facts.incomplete {
        let seg = &an.seg[ch];
        let display = geo.display(frac);
        measure::display_trace(&seg[display.clone()], &mut trace);
        if let Some(d) = facts.direct_channel {
            measure::display_trace(&an.seg[d][display.clone()], &mut direct_trace);
        }
        if status == SweepStatus::Present {
            tr.add_baseline_sweep(&seg[display]);
        }
        // Run item: noise span followed by the LSR window.
        let noise = geo.noise(frac);
        let win = geo.window(frac);
        run_scratch[..noise.len()].copy_from_slice(&seg[noise.clone()]);
        run_scratch[noise.len()..noise.len() + win.len()].copy_from_slice(&seg[win]);
        tr.note_run_sweep(adds, run_scratch);
    } else {
        tr.note_run_sweep(false, &[]);
    }
    let obs = Observation {
        stim_time_s,
        status,
        equivocal: judgement.reason == Some(RejectReason::Equivocal),
        lsr_p2p_uv: measured.lsr_p2p,
        onset_ms: measured.onset_ms,
        direct_p2p_uv: facts.direct_p2p,
        snr: measured.snr,
        evidence: judgement.evidence,
        matches_baseline: judgement.matches_baseline,
    };
    let s = an.settings();
    let check = RunAverageCheck {
        max_snr: s.criterion.run_average_max_snr as f32,
        min_corr: 0.5 * s.judge.template_min_corr as f32,
        lag,
        offset: off,
    };
    let SweepAnalyzer {
        correlator, env, ..
    } = an;
    let (step, percent) = tr.conclude(&obs, &geo, env, correlator, &check);
    let result = SweepResult {
        stim_index: stim.index,
        stim_time_s,
        branch: stim.branch,
        channel: ch,
        status,
        reject_reason: judgement.reason,
        lsr_p2p_uv: measured.lsr_p2p,
        lsr_onset_ms: if status == SweepStatus::Present {
            measured.onset_ms
        } else {
            None
        },
        noise_p2p_uv: measured.noise_p2p,
        noise_rms_uv: measured.noise_rms,
        snr: measured.snr,
        template_corr,
        direct_p2p_uv: facts.direct_p2p,
        crosstalk_gain: measured.crosstalk_gain,
        tail_removed_uv: measured.tail.at_blank_end,
        tail_at_window_uv: measured.tail.at_probe,
        evidence: judgement.evidence,
        state: tr.state(),
        percent_of_baseline: percent,
        trace,
        direct_trace,
    };
    (result, step)
}
