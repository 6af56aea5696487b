//! The per-channel state machine: from per-sweep verdicts to a monitored state.
//!
//! The literature has no single definition of "the LSR disappeared", so the criterion is
//! explicit, configurable ([`CriterionSettings`]) and conservative where it matters:
//!
//! 1. **Baseline.** The first `baseline_sweeps` judged sweeps (present, absent or equivocal;
//!    rejected sweeps do not count) decide whether the channel had an LSR at baseline: at least
//!    `baseline_present_fraction` of them must be present (and `present` already means "what a
//!    technologist calls an LSR", see [`super::sweep::SweepAnalyzer::judge`]). If not, the
//!    state is `no_baseline` and nothing can disappear.
//! 2. **Disappearance: a sequential test.** Each judged sweep carries its evidence that the
//!    LSR is gone (up to 1 for a flat sweep, less near the present threshold or when it still
//!    resembles the baseline LSR, negative for a present one). A CUSUM adds it up, never
//!    below 0; a present sweep with an SNR of `run_break_snr` resets it. When the sum reaches
//!    `absent_run` the channel is declared `absent`: three clear sweeps for a clear
//!    disappearance, more for a weak one. Rejected sweeps (cautery, saturation, lost samples,
//!    no direct response, spontaneous activity) add nothing and break nothing, so a run
//!    never contains a sweep without a direct response. With `check_run_average`, the
//!    average of the run's sweeps must show no LSR either (an LSR too small for single
//!    sweeps shows in their average): a run whose average does is withheld.
//! 3. **Return needs evidence as strong as a disappearance.** From `absent`, `present_run`
//!    consecutive present sweeps that *match the baseline LSR* (shape or latency) declare
//!    `present`; any other judged sweep restarts the count.
//! 4. **No baseline LSR.** A `no_baseline` channel never turns `present`. `present_run`
//!    consecutive LSR-like sweeps make it `appeared` (an LSR that was not there at baseline,
//!    explained as such); the same sequential test takes it back to `no_baseline`.
//!
//! Each change records when its run began (`time_s`) and when it was declared
//! (`declared_at_s`). The machine is plain data with fixed-size arrays: `observe` never
//! allocates.

use crate::model::{MonitorState, SweepStatus};
use crate::settings::CriterionSettings;

use super::MAX_RUN;

/// What the state machine is told about one judged sweep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    pub stim_time_s: f64,
    pub status: SweepStatus,
    /// True for a rejected sweep whose reason is "equivocal" (weak evidence either way).
    pub equivocal: bool,
    pub lsr_p2p_uv: f32,
    pub onset_ms: Option<f32>,
    pub direct_p2p_uv: f32,
    /// The sweep's SNR (see [`crate::detect::measure::max_window_rms`]).
    pub snr: f32,
    /// Evidence that the LSR is gone (see [`super::sweep::Judgement::evidence`]).
    pub evidence: f32,
    /// A present sweep that resembles the baseline LSR.
    pub matches_baseline: bool,
}

/// A declared change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Change {
    pub state: MonitorState,
    pub time_s: f64,
    pub declared_at_s: f64,
}

/// The outcome of the baseline period.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BaselineSummary {
    pub present: bool,
    pub p2p_uv: f32,
    pub onset_ms: f32,
    pub direct_p2p_uv: f32,
    pub established_at_s: f64,
}

/// What happened on this sweep.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Step {
    pub baseline: Option<BaselineSummary>,
    pub change: Option<Change>,
    /// The evidence reached the criterion but the run average still showed an LSR, so the
    /// change was withheld.
    pub withheld_by_average: bool,
}

/// Per-channel monitored state.
#[derive(Clone, Debug)]
pub struct ChannelCriterion {
    settings: CriterionSettings,
    state: MonitorState,
    baseline_p2p: [f32; MAX_RUN],
    baseline_onset: [f32; MAX_RUN],
    baseline_direct: [f32; MAX_RUN],
    baseline_judged: usize,
    baseline_present: usize,
    baseline_onsets: usize,
    baseline: Option<BaselineSummary>,
    /// The sequential test's sum, and the sweeps and start time of the run that built it.
    evidence: f32,
    run_sweeps: usize,
    run_start_s: f64,
    /// Consecutive qualifying present sweeps (return or appearance).
    present_len: usize,
    present_start_s: f64,
}

impl ChannelCriterion {
    pub fn new(settings: &CriterionSettings) -> Self {
        Self {
            settings: settings.clone(),
            state: MonitorState::Baseline,
            baseline_p2p: [0.0; MAX_RUN],
            baseline_onset: [0.0; MAX_RUN],
            baseline_direct: [0.0; MAX_RUN],
            baseline_judged: 0,
            baseline_present: 0,
            baseline_onsets: 0,
            baseline: None,
            evidence: 0.0,
            run_sweeps: 0,
            run_start_s: 0.0,
            present_len: 0,
            present_start_s: 0.0,
        }
    }

    pub fn state(&self) -> MonitorState {
        self.state
    }

    pub fn baseline(&self) -> Option<&BaselineSummary> {
        self.baseline.as_ref()
    }

    /// The sequential test's current sum of evidence that the LSR is gone.
    pub fn evidence(&self) -> f32 {
        self.evidence
    }

    /// The evidence a disappearance needs (`absent_run`).
    pub fn evidence_needed(&self) -> f32 {
        self.settings.absent_run as f32
    }

    /// Sweeps that added evidence to the run in progress.
    pub fn run_sweeps(&self) -> usize {
        self.run_sweeps
    }

    /// Whether this observation would bring the sequential test to a declaration (then the
    /// run average is needed).
    pub fn would_declare(&self, obs: &Observation) -> bool {
        matches!(self.state, MonitorState::Present | MonitorState::Appeared)
            && counts(obs)
            && obs.evidence > 0.0
            && self.evidence + obs.evidence >= self.settings.absent_run as f32
    }

    /// Start the baseline again (the technologist pressed re-baseline).
    pub fn rebaseline(&mut self) {
        *self = Self::new(&self.settings);
    }

    /// Feeds one sweep. `run_average_snr` is asked for only when a disappearance is about to
    /// be declared and `check_run_average` is on; it gets the run's length in sweeps and
    /// must return whether the average of those sweeps still shows an LSR.
    pub fn observe(
        &mut self,
        obs: &Observation,
        run_average_shows_lsr: &mut dyn FnMut(usize) -> bool,
    ) -> Step {
        let mut step = Step::default();
        if obs.status == SweepStatus::Rejected
            && !(obs.equivocal && self.state == MonitorState::Baseline)
        {
            // Cannot be judged: neither counts nor breaks a run. (During the baseline an
            // equivocal sweep counts as a judged sweep without an LSR; an equivocal sweep
            // later adds its own, weak, evidence below.)
            if !counts(obs) {
                return step;
            }
        }
        match self.state {
            MonitorState::Baseline => {
                step.baseline = self.collect_baseline(obs);
            }
            MonitorState::Present | MonitorState::Appeared => {
                let gone = if self.state == MonitorState::Present {
                    MonitorState::Absent
                } else {
                    MonitorState::NoBaseline
                };
                self.accumulate(obs, gone, &mut step, run_average_shows_lsr);
            }
            MonitorState::Absent => {
                let ok = obs.status == SweepStatus::Present && obs.matches_baseline;
                self.watch_present(obs, ok, MonitorState::Present, &mut step);
            }
            MonitorState::NoBaseline => {
                let ok = obs.status == SweepStatus::Present;
                self.watch_present(obs, ok, MonitorState::Appeared, &mut step);
            }
        }
        step
    }

    fn accumulate(
        &mut self,
        obs: &Observation,
        gone: MonitorState,
        step: &mut Step,
        run_average_shows_lsr: &mut dyn FnMut(usize) -> bool,
    ) {
        if obs.status == SweepStatus::Present && obs.snr as f64 >= self.settings.run_break_snr {
            self.reset_run();
            return;
        }
        let sum = (self.evidence + obs.evidence).max(0.0);
        if sum <= 0.0 {
            self.reset_run();
            return;
        }
        if self.evidence <= 0.0 {
            self.run_start_s = obs.stim_time_s;
            self.run_sweeps = 0;
        }
        self.evidence = sum;
        if obs.evidence > 0.0 {
            self.run_sweeps = (self.run_sweeps + 1).min(MAX_RUN);
        }
        if self.evidence >= self.settings.absent_run as f32 {
            let shows = self.settings.check_run_average && run_average_shows_lsr(self.run_sweeps);
            if shows {
                step.withheld_by_average = true;
            } else {
                step.change = Some(self.declare(gone, self.run_start_s, obs));
            }
        }
    }

    fn watch_present(&mut self, obs: &Observation, ok: bool, to: MonitorState, step: &mut Step) {
        if ok {
            if self.present_len == 0 {
                self.present_start_s = obs.stim_time_s;
            }
            self.present_len += 1;
            if self.present_len >= self.settings.present_run as usize {
                step.change = Some(self.declare(to, self.present_start_s, obs));
            }
        } else {
            self.present_len = 0;
        }
    }

    fn reset_run(&mut self) {
        self.evidence = 0.0;
        self.run_sweeps = 0;
    }

    fn declare(&mut self, state: MonitorState, since: f64, obs: &Observation) -> Change {
        self.state = state;
        self.reset_run();
        self.present_len = 0;
        Change {
            state,
            time_s: since,
            declared_at_s: obs.stim_time_s,
        }
    }

    fn collect_baseline(&mut self, obs: &Observation) -> Option<BaselineSummary> {
        let i = self.baseline_judged;
        if i >= MAX_RUN {
            return None;
        }
        self.baseline_direct[i] = obs.direct_p2p_uv;
        if obs.status == SweepStatus::Present {
            self.baseline_p2p[self.baseline_present] = obs.lsr_p2p_uv;
            self.baseline_present += 1;
            if let Some(on) = obs.onset_ms {
                self.baseline_onset[self.baseline_onsets] = on;
                self.baseline_onsets += 1;
            }
        }
        self.baseline_judged += 1;
        let need = (self.settings.baseline_sweeps as usize).clamp(1, MAX_RUN);
        if self.baseline_judged < need {
            return None;
        }
        let present = self.baseline_present as f64
            >= self.settings.baseline_present_fraction * self.baseline_judged as f64
            && self.baseline_present > 0;
        let summary = BaselineSummary {
            present,
            p2p_uv: median(&mut self.baseline_p2p[..self.baseline_present]),
            onset_ms: median(&mut self.baseline_onset[..self.baseline_onsets]),
            direct_p2p_uv: median(&mut self.baseline_direct[..self.baseline_judged]),
            established_at_s: obs.stim_time_s,
        };
        self.baseline = Some(summary);
        self.state = if present {
            MonitorState::Present
        } else {
            MonitorState::NoBaseline
        };
        self.reset_run();
        Some(summary)
    }
}

/// Whether a sweep is evidence at all: judged (present or absent), or equivocal.
fn counts(obs: &Observation) -> bool {
    obs.status != SweepStatus::Rejected || obs.equivocal
}

/// Median of a small slice (sorted in place; NaN when empty). No allocation.
pub fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return f32::NAN;
    }
    v.sort_unstable_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P present (matches the baseline), Q present but unlike the baseline, A clear absent,
    /// W weak absent (evidence 0.5), E equivocal, R rejected.
    fn obs(t: f64, ch: char) -> Observation {
        let status = match ch {
            'P' | 'Q' => SweepStatus::Present,
            'A' | 'W' => SweepStatus::Absent,
            _ => SweepStatus::Rejected,
        };
        Observation {
            stim_time_s: t,
            status,
            equivocal: ch == 'E',
            lsr_p2p_uv: if status == SweepStatus::Present {
                200.0
            } else {
                5.0
            },
            onset_ms: (status == SweepStatus::Present).then_some(10.0),
            direct_p2p_uv: 2000.0,
            snr: if status == SweepStatus::Present {
                10.0
            } else {
                1.0
            },
            evidence: match ch {
                'P' | 'Q' => -3.0,
                'A' => 1.0,
                'W' => 0.5,
                'E' => 0.2,
                _ => 0.0,
            },
            matches_baseline: ch == 'P',
        }
    }

    fn run(c: &mut ChannelCriterion, seq: &str, t0: f64, avg_shows: bool) -> Vec<(f64, Step)> {
        seq.chars()
            .enumerate()
            .map(|(i, ch)| {
                let t = t0 + i as f64;
                (t, c.observe(&obs(t, ch), &mut |_| avg_shows))
            })
            .collect()
    }

    fn settings() -> CriterionSettings {
        CriterionSettings {
            baseline_sweeps: 4,
            absent_run: 3,
            present_run: 2,
            ..CriterionSettings::default()
        }
    }

    fn changes(steps: &[(f64, Step)]) -> Vec<Change> {
        steps.iter().filter_map(|(_, s)| s.change).collect()
    }

    #[test]
    fn three_clear_sweeps_declare_a_disappearance_rejected_ones_skipped() {
        let mut c = ChannelCriterion::new(&settings());
        let steps = run(&mut c, "PPRPPAARPAARA", 0.0, false);
        let b = steps[4]
            .1
            .baseline
            .expect("baseline on the 4th judged sweep");
        assert!(b.present);
        assert_eq!((b.p2p_uv, b.onset_ms), (200.0, 10.0));
        let ch = changes(&steps);
        assert_eq!(ch.len(), 1);
        // A A (R) is broken by P at t=8; A A (R) A from t=9 reaches 3 at t=12.
        assert_eq!(ch[0].state, MonitorState::Absent);
        assert_eq!((ch[0].time_s, ch[0].declared_at_s), (9.0, 12.0));
    }

    #[test]
    fn weak_evidence_takes_longer_and_a_present_sweep_counts_against_it() {
        let mut c = ChannelCriterion::new(&settings());
        run(&mut c, "PPPP", 0.0, false);
        // Six weak sweeps reach 3.0.
        let steps = run(&mut c, "WWWWWWW", 10.0, false);
        let ch = changes(&steps);
        assert_eq!(ch.len(), 1);
        assert_eq!((ch[0].time_s, ch[0].declared_at_s), (10.0, 15.0));
        // A present sweep (SNR above run_break_snr) wipes the evidence.
        let mut c = ChannelCriterion::new(&settings());
        run(&mut c, "PPPP", 0.0, false);
        let steps = run(&mut c, "AAPAA", 10.0, false);
        assert!(changes(&steps).is_empty());
        assert!((c.evidence() - 2.0).abs() < 1e-6);
        let steps = run(&mut c, "A", 15.0, false);
        assert_eq!(changes(&steps)[0].time_s, 13.0);
    }

    #[test]
    fn rejected_sweeps_never_count_towards_absent() {
        let mut c = ChannelCriterion::new(&settings());
        run(&mut c, "PPPP", 0.0, false);
        let steps = run(&mut c, "RRRRRRRRRRAA", 10.0, false);
        assert!(changes(&steps).is_empty());
        assert_eq!(c.state(), MonitorState::Present);
    }

    #[test]
    fn a_run_whose_average_shows_an_lsr_is_withheld() {
        let mut c = ChannelCriterion::new(&settings());
        run(&mut c, "PPPP", 0.0, false);
        let steps = run(&mut c, "AAAAA", 10.0, true);
        assert!(changes(&steps).is_empty());
        assert!(steps[2].1.withheld_by_average);
        let steps = run(&mut c, "A", 15.0, false);
        let ch = changes(&steps)[0];
        assert_eq!((ch.time_s, ch.declared_at_s), (10.0, 15.0));
    }

    #[test]
    fn a_return_needs_sweeps_that_match_the_baseline_lsr() {
        let mut c = ChannelCriterion::new(&settings());
        run(&mut c, "PPPPAAA", 0.0, false);
        assert_eq!(c.state(), MonitorState::Absent);
        // Present sweeps unlike the baseline LSR (a residue, another response) never return.
        let steps = run(&mut c, "QQQQQQ", 10.0, false);
        assert!(changes(&steps).is_empty());
        // An equivocal sweep breaks a return run too.
        let steps = run(&mut c, "PEP", 20.0, false);
        assert!(changes(&steps).is_empty());
        let steps = run(&mut c, "P", 23.0, false);
        let ch = changes(&steps)[0];
        assert_eq!((ch.state, ch.time_s), (MonitorState::Present, 22.0));
    }

    #[test]
    fn without_a_baseline_lsr_an_appearance_is_its_own_state_never_present() {
        let mut n = ChannelCriterion::new(&settings());
        let steps = run(&mut n, "AAQA", 0.0, false);
        assert!(!steps[3].1.baseline.unwrap().present);
        assert_eq!(n.state(), MonitorState::NoBaseline);
        let steps = run(&mut n, "AAAAAA", 10.0, false);
        assert!(changes(&steps).is_empty(), "nothing can disappear");
        let steps = run(&mut n, "QQ", 20.0, false);
        assert_eq!(changes(&steps)[0].state, MonitorState::Appeared);
        assert_eq!(n.state(), MonitorState::Appeared);
        let steps = run(&mut n, "AAA", 30.0, false);
        assert_eq!(changes(&steps)[0].state, MonitorState::NoBaseline);
    }

    #[test]
    fn median_of_even_odd_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
