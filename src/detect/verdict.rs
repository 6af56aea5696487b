//! The verdict of one LSR channel: what the surgeon is told, decided in one place.
//!
//! The engine announces a monitored state per channel (baseline / present / absent / no LSR at
//! baseline / LSR appeared). The verdict is that state, shown as announced with the time its
//! run began, except when it is not being renewed, because a verdict that is not being renewed
//! must not look current:
//! - **cannot judge**: the last [`CANNOT_JUDGE_AFTER`] sweeps of the channel were all rejected
//!   for a reason that means "this sweep says nothing" (electrocautery, saturation, lost
//!   samples, no direct response, spontaneous EMG, incomplete). Equivocal sweeps do not count:
//!   they are measurements, just weak ones, and the criterion already weighs them.
//! - **no stimuli** / **signal lost**: no sweep for [`NO_STIMULI_AFTER_S`] seconds of processed
//!   signal while the stream runs, or the source failed.
//!
//! Every consumer of the engine's events keeps a [`VerdictBook`] fed with the same events and
//! reads the same [`Verdict`]: the dashboard's banners and trend band, the headless report,
//! the analysis JSON (per sweep and per channel: `verdict`, `verdict_reason`) and the session
//! file's sweep table. The verdict after a sweep depends only on the sweeps before it and the
//! sweep itself (the sweep result carries the state after it), so a row can be written the
//! moment its sweep arrives.

use std::collections::BTreeMap;

use super::EngineEvent;
use crate::model::{
    BaselineInfo, MonitorState, RejectReason, StateEvent, SweepResult, SweepStatus,
};

/// Consecutive rejected sweeps (not equivocal) after which a channel cannot be judged.
pub const CANNOT_JUDGE_AFTER: u32 = 2;
/// Seconds of processed signal without a sweep after which a channel cannot be judged.
pub const NO_STIMULI_AFTER_S: f64 = 5.0;

/// The six things a verdict can say, for colour, glyph and the machine-readable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerdictKind {
    Baseline,
    Present,
    /// No LSR at baseline, one has appeared since (never a return).
    Appeared,
    Absent,
    NoBaseline,
    CannotJudge,
}

impl VerdictKind {
    /// Every kind, in the order a legend lists them.
    pub const ALL: [VerdictKind; 6] = [
        Self::Present,
        Self::Absent,
        Self::CannotJudge,
        Self::Baseline,
        Self::NoBaseline,
        Self::Appeared,
    ];

    /// The name in the analysis JSON and the session file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Present => "present",
            Self::Appeared => "appeared",
            Self::Absent => "absent",
            Self::NoBaseline => "no_baseline",
            Self::CannotJudge => "cannot_judge",
        }
    }

    /// A few words for a legend.
    pub fn words(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Present => "present",
            Self::Appeared => "LSR appeared",
            Self::Absent => "absent",
            Self::NoBaseline => "no LSR at baseline",
            Self::CannotJudge => "cannot judge",
        }
    }
}

/// Why a channel cannot be judged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CannotJudgeWhy {
    /// The last `count` sweeps were rejected; the latest for `reason`.
    Rejected { reason: RejectReason, count: u32 },
    /// No sweep for this many seconds of signal.
    NoStimuli { for_s: f64 },
    /// The source failed: no signal any more.
    SourceFailed,
}

impl CannotJudgeWhy {
    /// Words for a banner: `electrocautery`, `no direct response`, `signal lost`, ...
    pub fn words(&self) -> String {
        match self {
            Self::Rejected { reason, .. } => reason.describe().to_string(),
            Self::NoStimuli { for_s } => format!("no stimuli for {for_s:.0} s"),
            Self::SourceFailed => "signal lost (source failed)".into(),
        }
    }

    /// The whole reason in one phrase, as the JSON and the session file give it.
    pub fn sentence(&self) -> String {
        match self {
            Self::Rejected { reason, count } => {
                format!("{} (last {count} sweeps rejected)", reason.describe())
            }
            _ => self.words(),
        }
    }
}

/// What one LSR channel's verdict says.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Collecting the baseline: `judged` sweeps so far (of the criterion's `baseline_sweeps`).
    Collecting {
        judged: u32,
        /// Re-baseline was asked for and the engine has not started it yet.
        requested: bool,
    },
    Present {
        since_s: Option<f64>,
        percent: Option<f32>,
    },
    /// No LSR at baseline; a response with the look of an LSR has appeared since.
    Appeared {
        since_s: Option<f64>,
        percent: Option<f32>,
    },
    Absent {
        since_s: Option<f64>,
        declared_at_s: Option<f64>,
        percent: Option<f32>,
    },
    NoBaseline,
    CannotJudge {
        why: CannotJudgeWhy,
        /// The engine's state underneath, and the last judged percentage of baseline.
        underneath: MonitorState,
        percent: Option<f32>,
    },
}

impl Verdict {
    pub fn kind(&self) -> VerdictKind {
        match self {
            Self::Collecting { .. } => VerdictKind::Baseline,
            Self::Present { .. } => VerdictKind::Present,
            Self::Appeared { .. } => VerdictKind::Appeared,
            Self::Absent { .. } => VerdictKind::Absent,
            Self::NoBaseline => VerdictKind::NoBaseline,
            Self::CannotJudge { .. } => VerdictKind::CannotJudge,
        }
    }

    /// Why the channel cannot be judged; `None` when it can.
    pub fn cannot_judge_why(&self) -> Option<CannotJudgeWhy> {
        match self {
            Self::CannotJudge { why, .. } => Some(*why),
            _ => None,
        }
    }

    /// Why the channel cannot be judged, in words; `None` when it can.
    pub fn reason(&self) -> Option<String> {
        match self {
            Self::CannotJudge { why, .. } => Some(why.sentence()),
            _ => None,
        }
    }
}

/// The moment a verdict is read at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Now {
    /// Seconds of signal processed (stream time).
    pub stream_s: f64,
    /// The stream has ended: the last verdict stays as it was (no "no stimuli" after the end).
    pub ended: bool,
    /// The source failed: nothing can be judged any more.
    pub source_failed: bool,
}

impl Now {
    /// Right after a sweep at `t`: the verdict a row of that sweep records.
    pub fn at_sweep(t: f64) -> Self {
        Self {
            stream_s: t,
            ended: false,
            source_failed: false,
        }
    }
}

/// What one channel's verdict is made from, updated by the engine's events.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelVerdict {
    /// The state as announced (sweep states and state events).
    pub state: MonitorState,
    /// Start of the run that led to `state` (stream seconds).
    pub since_s: Option<f64>,
    pub declared_at_s: Option<f64>,
    /// The state carried by the latest sweep (to see the engine change it).
    engine_state: Option<MonitorState>,
    /// Whether the baseline showed an LSR; `None` before a baseline.
    pub baseline_present: Option<bool>,
    /// Judged sweeps of the baseline in progress.
    pub baseline_judged: u32,
    pub rebaseline_requested: bool,
    /// Rejected (not equivocal) sweeps in a row, and the latest reason.
    pub rejected_in_row: u32,
    pub last_reject: Option<RejectReason>,
    /// Latest judged sweep's percentage of baseline.
    pub last_percent: Option<f32>,
    pub last_sweep_s: Option<f64>,
}

impl Default for ChannelVerdict {
    fn default() -> Self {
        Self {
            state: MonitorState::Baseline,
            since_s: None,
            declared_at_s: None,
            engine_state: None,
            baseline_present: None,
            baseline_judged: 0,
            rebaseline_requested: false,
            rejected_in_row: 0,
            last_reject: None,
            last_percent: None,
            last_sweep_s: None,
        }
    }
}

impl ChannelVerdict {
    /// A sweep of this channel.
    pub fn on_sweep(&mut self, r: &SweepResult) {
        let judged = r.status != SweepStatus::Rejected;
        let equivocal = r.reject_reason == Some(RejectReason::Equivocal);
        if self.engine_state != Some(r.state) {
            if r.state == MonitorState::Baseline {
                // A (re-)baseline has started.
                self.baseline_present = None;
                self.baseline_judged = 0;
                self.last_percent = None;
                self.rebaseline_requested = false;
            } else if self.engine_state == Some(MonitorState::Baseline)
                || self.baseline_present.is_none()
            {
                // The baseline ended with this sweep: its outcome is in the state.
                self.baseline_present = Some(r.state == MonitorState::Present);
            }
            self.engine_state = Some(r.state);
            self.state = r.state;
            self.since_s = Some(r.stim_time_s);
            self.declared_at_s = Some(r.stim_time_s);
        }
        if r.state == MonitorState::Baseline && (judged || equivocal) {
            self.baseline_judged += 1;
        }
        if judged || equivocal {
            self.rejected_in_row = 0;
        } else {
            self.rejected_in_row += 1;
            self.last_reject = r.reject_reason;
        }
        if judged && r.percent_of_baseline.is_finite() {
            self.last_percent = Some(r.percent_of_baseline);
        }
        self.last_sweep_s = Some(r.stim_time_s);
    }

    /// The baseline was established (it confirms what the sweep's state said).
    pub fn on_baseline(&mut self, b: &BaselineInfo) {
        self.baseline_present = Some(b.present);
        self.since_s = Some(b.established_at_s);
        self.declared_at_s = Some(b.established_at_s);
        self.state = if b.present {
            MonitorState::Present
        } else {
            MonitorState::NoBaseline
        };
    }

    /// A change of state was announced, with the time its run began.
    pub fn on_state(&mut self, s: &StateEvent) {
        self.state = s.state;
        self.since_s = Some(s.time_s);
        self.declared_at_s = Some(s.declared_at_s);
    }

    /// The user asked for a new baseline (shown as collecting until the engine starts it).
    pub fn ask_rebaseline(&mut self) {
        self.rebaseline_requested = true;
    }

    /// The verdict at `now`.
    pub fn verdict(&self, now: Now) -> Verdict {
        let cannot = |why| Verdict::CannotJudge {
            why,
            underneath: self.state,
            percent: self.last_percent,
        };
        if now.source_failed {
            return cannot(CannotJudgeWhy::SourceFailed);
        }
        if self.rejected_in_row >= CANNOT_JUDGE_AFTER {
            if let Some(reason) = self.last_reject {
                return cannot(CannotJudgeWhy::Rejected {
                    reason,
                    count: self.rejected_in_row,
                });
            }
        }
        if !now.ended {
            let quiet = now.stream_s - self.last_sweep_s.unwrap_or(0.0);
            if quiet >= NO_STIMULI_AFTER_S {
                return cannot(CannotJudgeWhy::NoStimuli { for_s: quiet });
            }
        }
        if self.rebaseline_requested {
            return Verdict::Collecting {
                judged: 0,
                requested: true,
            };
        }
        match self.state {
            MonitorState::Baseline => Verdict::Collecting {
                judged: self.baseline_judged,
                requested: false,
            },
            MonitorState::Present if self.baseline_present == Some(false) => Verdict::Appeared {
                since_s: self.since_s,
                percent: self.last_percent,
            },
            MonitorState::Present => Verdict::Present {
                since_s: self.since_s,
                percent: self.last_percent,
            },
            MonitorState::Appeared => Verdict::Appeared {
                since_s: self.since_s,
                percent: self.last_percent,
            },
            MonitorState::Absent if self.baseline_present == Some(false) => Verdict::NoBaseline,
            MonitorState::Absent => Verdict::Absent {
                since_s: self.since_s,
                declared_at_s: self.declared_at_s,
                percent: self.last_percent,
            },
            MonitorState::NoBaseline => Verdict::NoBaseline,
        }
    }
}

/// The verdicts of every channel the engine has spoken about, fed with its events.
#[derive(Clone, Debug, Default)]
pub struct VerdictBook {
    channels: BTreeMap<usize, ChannelVerdict>,
}

impl VerdictBook {
    /// Applies one engine event; returns the channel it concerned, if any.
    pub fn apply(&mut self, e: &EngineEvent) -> Option<usize> {
        match e {
            EngineEvent::Sweep(r) => {
                self.channel_mut(r.channel).on_sweep(r);
                Some(r.channel)
            }
            EngineEvent::Baseline(b) => {
                self.channel_mut(b.channel).on_baseline(b);
                Some(b.channel)
            }
            EngineEvent::State(s) => {
                self.channel_mut(s.channel).on_state(s);
                Some(s.channel)
            }
            EngineEvent::Stimulus(_) | EngineEvent::Mains(_) => None,
        }
    }

    /// The record of channel `ch`, made when first asked for.
    pub fn channel_mut(&mut self, ch: usize) -> &mut ChannelVerdict {
        self.channels.entry(ch).or_default()
    }

    pub fn channel(&self, ch: usize) -> Option<&ChannelVerdict> {
        self.channels.get(&ch)
    }

    /// The verdict of channel `ch` at `now` (`None` before the engine spoke about it).
    pub fn verdict(&self, ch: usize, now: Now) -> Option<Verdict> {
        self.channels.get(&ch).map(|c| c.verdict(now))
    }

    /// Channels spoken about, in index order.
    pub fn channels(&self) -> impl Iterator<Item = usize> + '_ {
        self.channels.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Branch, DISPLAY_POINTS};

    fn sweep(
        t: f64,
        status: SweepStatus,
        reason: Option<RejectReason>,
        state: MonitorState,
    ) -> SweepResult {
        SweepResult {
            channel: 1,
            stim_index: 0,
            stim_time_s: t,
            branch: Branch::Zygomatic,
            status,
            reject_reason: reason,
            lsr_p2p_uv: 100.0,
            lsr_onset_ms: Some(10.0),
            noise_p2p_uv: 5.0,
            noise_rms_uv: 1.0,
            snr: 10.0,
            template_corr: f32::NAN,
            direct_p2p_uv: 800.0,
            crosstalk_gain: 0.0,
            // No percentage before there is a baseline.
            percent_of_baseline: if state == MonitorState::Baseline {
                f32::NAN
            } else {
                80.0
            },
            tail_removed_uv: 0.0,
            tail_at_window_uv: 0.0,
            evidence: 0.0,
            state,
            trace: [0.0; DISPLAY_POINTS],
            direct_trace: [0.0; DISPLAY_POINTS],
        }
    }

    const P: SweepStatus = SweepStatus::Present;
    const A: SweepStatus = SweepStatus::Absent;
    const R: SweepStatus = SweepStatus::Rejected;
    use MonitorState as M;

    /// A channel whose baseline (of 3 sweeps) showed an LSR at 1-3 s.
    fn with_baseline(present: bool) -> ChannelVerdict {
        let mut c = ChannelVerdict::default();
        for t in [1.0, 2.0] {
            c.on_sweep(&sweep(t, P, None, M::Baseline));
        }
        assert_eq!(
            c.verdict(Now::at_sweep(2.0)),
            Verdict::Collecting {
                judged: 2,
                requested: false
            }
        );
        let after = if present { M::Present } else { M::NoBaseline };
        c.on_sweep(&sweep(3.0, P, None, after));
        c
    }

    #[test]
    fn two_rejected_sweeps_mean_cannot_judge_one_does_not_and_equivocal_never() {
        let mut c = with_baseline(true);
        assert_eq!(c.verdict(Now::at_sweep(3.0)).kind(), VerdictKind::Present);
        let cautery = Some(RejectReason::Electrocautery);
        c.on_sweep(&sweep(4.0, R, cautery, M::Present));
        assert_eq!(c.verdict(Now::at_sweep(4.0)).kind(), VerdictKind::Present);
        c.on_sweep(&sweep(5.0, R, cautery, M::Present));
        let v = c.verdict(Now::at_sweep(5.0));
        assert_eq!(v.kind(), VerdictKind::CannotJudge);
        assert_eq!(
            v.reason().as_deref(),
            Some("electrocautery (last 2 sweeps rejected)")
        );
        // Equivocal sweeps are measurements: they end the run of rejections.
        let eq = Some(RejectReason::Equivocal);
        c.on_sweep(&sweep(6.0, R, eq, M::Present));
        c.on_sweep(&sweep(7.0, R, eq, M::Present));
        assert_eq!(c.verdict(Now::at_sweep(7.0)).kind(), VerdictKind::Present);
        assert_eq!(c.verdict(Now::at_sweep(7.0)).reason(), None);
    }

    #[test]
    fn no_stimuli_for_five_seconds_while_running_but_not_after_the_end() {
        let c = with_baseline(true);
        let at = |s, ended| Now {
            stream_s: s,
            ended,
            source_failed: false,
        };
        assert_eq!(c.verdict(at(7.9, false)).kind(), VerdictKind::Present);
        assert_eq!(
            c.verdict(at(8.0, false)).reason().as_deref(),
            Some("no stimuli for 5 s")
        );
        assert_eq!(c.verdict(at(60.0, true)).kind(), VerdictKind::Present);
        let failed = Now {
            stream_s: 3.0,
            ended: false,
            source_failed: true,
        };
        assert_eq!(
            c.verdict(failed),
            Verdict::CannotJudge {
                why: CannotJudgeWhy::SourceFailed,
                underneath: M::Present,
                percent: Some(80.0)
            }
        );
    }

    #[test]
    fn no_lsr_at_baseline_never_reads_present_and_absent_reads_no_baseline() {
        let mut c = with_baseline(false);
        assert_eq!(c.verdict(Now::at_sweep(3.0)), Verdict::NoBaseline);
        c.on_sweep(&sweep(4.0, P, None, M::Appeared));
        assert_eq!(c.verdict(Now::at_sweep(4.0)).kind(), VerdictKind::Appeared);
        // Even a `present` state on a channel without a baseline LSR is not a return.
        c.on_sweep(&sweep(5.0, P, None, M::Present));
        assert_eq!(c.verdict(Now::at_sweep(5.0)).kind(), VerdictKind::Appeared);
        c.on_sweep(&sweep(6.0, A, None, M::Absent));
        assert_eq!(c.verdict(Now::at_sweep(6.0)), Verdict::NoBaseline);
    }

    #[test]
    fn absent_carries_its_run_start_and_declaration_from_the_state_event() {
        let mut b = VerdictBook::default();
        for (t, st) in [(1.0, M::Baseline), (2.0, M::Baseline), (3.0, M::Present)] {
            b.apply(&EngineEvent::Sweep(sweep(t, P, None, st)));
        }
        b.apply(&EngineEvent::Sweep(sweep(6.0, A, None, M::Absent)));
        b.apply(&EngineEvent::State(StateEvent {
            channel: 1,
            state: M::Absent,
            time_s: 4.0,
            declared_at_s: 6.0,
        }));
        assert_eq!(
            b.verdict(1, Now::at_sweep(6.0)),
            Some(Verdict::Absent {
                since_s: Some(4.0),
                declared_at_s: Some(6.0),
                percent: Some(80.0)
            })
        );
        assert_eq!(b.verdict(0, Now::at_sweep(6.0)), None);
    }

    #[test]
    fn a_rebaseline_asked_for_reads_collecting_until_the_engine_starts_it() {
        let mut c = with_baseline(true);
        c.ask_rebaseline();
        assert_eq!(
            c.verdict(Now::at_sweep(3.0)),
            Verdict::Collecting {
                judged: 0,
                requested: true
            }
        );
        c.on_sweep(&sweep(4.0, P, None, M::Baseline));
        assert_eq!(
            c.verdict(Now::at_sweep(4.0)),
            Verdict::Collecting {
                judged: 1,
                requested: false
            }
        );
        assert_eq!(c.baseline_present, None);
        assert_eq!(c.last_percent, None);
    }
}
