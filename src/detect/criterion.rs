//! The per-channel state machine: from per-sweep verdicts to a monitored state.
//!
//! The literature has no single definition of "the LSR disappeared", so the criterion is
//! explicit, configurable ([`CriterionSettings`]) and conservative by default:
//!
//! 1. **Baseline.** The first `baseline_sweeps` judged sweeps (present, absent or equivocal;
//!    rejected sweeps do not count) decide whether the channel had an LSR at baseline: at least
//!    `baseline_present_fraction` of them must be present. If not, the state is `no_baseline`
//!    and nothing can disappear (appearances are still reported as events).
//! 2. **Disappearance.** A run of `absent_run` consecutive `absent` sweeps declares `absent`.
//!    Rejected sweeps (cautery, saturation, lost samples, no direct response, and equivocal
//!    ones, which cannot be judged either way) are skipped: they neither count nor break the
//!    run. A `present` sweep restarts it if its SNR reaches `run_break_snr`; a weaker one,
//!    barely above the threshold (at 5 kHz pure noise gets there about once in a hundred
//!    sweeps), is left to the run-average check like an equivocal one. With
//!    `check_run_average`, the average of the run's sweeps must show no LSR either (its SNR at
//!    most `run_average_max_snr`): an LSR too small for single sweeps shows in their average,
//!    so a fading-but-present response is not called gone.
//! 3. **Return.** From `absent`, `present_run` consecutive present sweeps declare `present`.
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
    /// The current run reached its length but the run average still showed an LSR, so the
    /// change was withheld.
    pub withheld_by_average: bool,
}

/// Per-channel monitored state.
#[derive(Clone, Debug)]
pub struct ChannelCriterion {
    settings: CriterionSettings,
    state: MonitorState,
    /// For `no_baseline` channels: whether an LSR has appeared (events are still reported).
    appeared: bool,
    baseline_p2p: [f32; MAX_RUN],
    baseline_onset: [f32; MAX_RUN],
    baseline_direct: [f32; MAX_RUN],
    baseline_judged: usize,
    baseline_present: usize,
    baseline_onsets: usize,
    baseline: Option<BaselineSummary>,
    run_len: usize,
    run_start_s: f64,
}

impl ChannelCriterion {
    pub fn new(settings: &CriterionSettings) -> Self {
        Self {
            settings: settings.clone(),
            state: MonitorState::Baseline,
            appeared: false,
            baseline_p2p: [0.0; MAX_RUN],
            baseline_onset: [0.0; MAX_RUN],
            baseline_direct: [0.0; MAX_RUN],
            baseline_judged: 0,
            baseline_present: 0,
            baseline_onsets: 0,
            baseline: None,
            run_len: 0,
            run_start_s: 0.0,
        }
    }

    pub fn state(&self) -> MonitorState {
        self.state
    }

    pub fn baseline(&self) -> Option<&BaselineSummary> {
        self.baseline.as_ref()
    }

    /// Length of the run in progress (sweeps that would change the state).
    pub fn run_len(&self) -> usize {
        self.run_len
    }

    /// Start the baseline again (the technologist pressed re-baseline).
    pub fn rebaseline(&mut self) {
        *self = Self::new(&self.settings);
    }

    /// Feeds one sweep. `run_average_snr` is asked for only when a disappearance is about to
    /// be declared and `check_run_average` is on; it gets the run length and must return the
    /// SNR of the average of the last that many absent sweeps.
    pub fn observe(
        &mut self,
        obs: &Observation,
        run_average_snr: &mut dyn FnMut(usize) -> f32,
    ) -> Step {
        let mut step = Step::default();
        if obs.status == SweepStatus::Rejected
            && !(obs.equivocal && self.state == MonitorState::Baseline)
        {
            // Cannot be judged: neither counts nor breaks a run. (During the baseline an
            // equivocal sweep counts as a judged sweep without an LSR.)
            return step;
        }
        match self.state {
            MonitorState::Baseline => {
                step.baseline = self.collect_baseline(obs);
            }
            MonitorState::Present => {
                if obs.status == SweepStatus::Absent {
                    self.extend_run(obs.stim_time_s);
                    if self.run_len >= self.settings.absent_run as usize {
                        let quiet = !self.settings.check_run_average || {
                            let n = (self.settings.absent_run as usize).min(MAX_RUN);
                            run_average_snr(n) <= self.settings.run_average_max_snr as f32
                        };
                        if quiet {
                            step.change = Some(self.declare(MonitorState::Absent, obs));
                        } else {
                            step.withheld_by_average = true;
                        }
                    }
                } else if obs.status == SweepStatus::Present
                    && obs.snr as f64 >= self.settings.run_break_snr
                {
                    self.run_len = 0;
                }
            }
            MonitorState::Absent => self.watch_return(obs, &mut step, MonitorState::Present),
            MonitorState::NoBaseline => {
                // Nothing can disappear, but an LSR that appears is reported.
                let (want, need) = if self.appeared {
                    (SweepStatus::Absent, self.settings.absent_run)
                } else {
                    (SweepStatus::Present, self.settings.present_run)
                };
                if obs.status == want {
                    self.extend_run(obs.stim_time_s);
                    if self.run_len >= need as usize {
                        self.appeared = !self.appeared;
                        let state = if self.appeared {
                            MonitorState::Present
                        } else {
                            MonitorState::Absent
                        };
                        let c = Change {
                            state,
                            time_s: self.run_start_s,
                            declared_at_s: obs.stim_time_s,
                        };
                        self.run_len = 0;
                        step.change = Some(c);
                    }
                } else {
                    self.run_len = 0;
                }
            }
        }
        step
    }

    fn watch_return(&mut self, obs: &Observation, step: &mut Step, to: MonitorState) {
        if obs.status == SweepStatus::Present {
            self.extend_run(obs.stim_time_s);
            if self.run_len >= self.settings.present_run as usize {
                step.change = Some(self.declare(to, obs));
            }
        } else {
            self.run_len = 0;
        }
    }

    fn extend_run(&mut self, t: f64) {
        if self.run_len == 0 {
            self.run_start_s = t;
        }
        self.run_len += 1;
    }

    fn declare(&mut self, state: MonitorState, obs: &Observation) -> Change {
        self.state = state;
        let c = Change {
            state,
            time_s: self.run_start_s,
            declared_at_s: obs.stim_time_s,
        };
        self.run_len = 0;
        c
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
        self.run_len = 0;
        Some(summary)
    }
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

    fn obs(t: f64, status: SweepStatus) -> Observation {
        Observation {
            stim_time_s: t,
            status,
            equivocal: false,
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
        }
    }

    fn run(c: &mut ChannelCriterion, seq: &str, t0: f64, avg_snr: f32) -> Vec<(f64, Step)> {
        let mut out = Vec::new();
        for (i, ch) in seq.chars().enumerate() {
            let t = t0 + i as f64;
            let mut o = match ch {
                'P' => obs(t, SweepStatus::Present),
                'A' => obs(t, SweepStatus::Absent),
                'R' => obs(t, SweepStatus::Rejected),
                'E' => obs(t, SweepStatus::Rejected),
                _ => unreachable!(),
            };
            o.equivocal = ch == 'E';
            let s = c.observe(&o, &mut |_| avg_snr);
            out.push((t, s));
        }
        out
    }

    fn settings() -> CriterionSettings {
        CriterionSettings {
            baseline_sweeps: 4,
            absent_run: 3,
            present_run: 2,
            ..CriterionSettings::default()
        }
    }

    #[test]
    fn baseline_then_disappearance_after_a_run_skipping_rejected_sweeps() {
        let mut c = ChannelCriterion::new(&settings());
        let steps = run(&mut c, "PPRPPAARPAARA", 0.0, 1.0);
        let b = steps[4]
            .1
            .baseline
            .expect("baseline on the 4th judged sweep");
        assert!(b.present);
        assert_eq!(b.p2p_uv, 200.0);
        assert_eq!(b.onset_ms, 10.0);
        let changes: Vec<_> = steps.iter().filter_map(|(_, s)| s.change).collect();
        assert_eq!(changes.len(), 1);
        // Run A A (R) is broken by P at t=8; the run A A (R) A that declares starts at t=9.
        assert_eq!(changes[0].state, MonitorState::Absent);
        assert_eq!(changes[0].time_s, 9.0);
        assert_eq!(changes[0].declared_at_s, 12.0);
    }

    #[test]
    fn a_weak_present_sweep_does_not_restart_an_absent_run() {
        let mut c = ChannelCriterion::new(&settings());
        run(&mut c, "PPPP", 0.0, 1.0);
        run(&mut c, "AA", 10.0, 1.0);
        let mut weak = obs(12.0, SweepStatus::Present);
        weak.snr = 1.5;
        assert!(c.observe(&weak, &mut |_| 1.0).change.is_none());
        let steps = run(&mut c, "A", 13.0, 1.0);
        assert_eq!(steps[0].1.change.unwrap().time_s, 10.0);
    }

    #[test]
    fn rejected_sweeps_never_count_towards_absent() {
        let mut c = ChannelCriterion::new(&settings());
        run(&mut c, "PPPP", 0.0, 1.0);
        let steps = run(&mut c, "RRRRRRRRRRAA", 10.0, 1.0);
        assert!(steps.iter().all(|(_, s)| s.change.is_none()));
        assert_eq!(c.state(), MonitorState::Present);
    }

    #[test]
    fn equivocal_sweeps_are_skipped_like_rejected_ones() {
        let mut c = ChannelCriterion::new(&settings());
        run(&mut c, "PPPP", 0.0, 1.0);
        run(&mut c, "AAE", 10.0, 1.0);
        assert_eq!(c.state(), MonitorState::Present);
        let steps = run(&mut c, "EA", 20.0, 1.0);
        assert_eq!(c.state(), MonitorState::Absent);
        assert_eq!(steps[1].1.change.unwrap().time_s, 10.0);
        // During the baseline an equivocal sweep is a judged sweep without an LSR.
        let mut b = ChannelCriterion::new(&settings());
        let steps = run(&mut b, "PEEP", 0.0, 1.0);
        assert!(
            !steps[3].1.baseline.unwrap().present,
            "2 of 4 present is below 60 %"
        );
    }

    #[test]
    fn run_average_with_an_lsr_withholds_the_declaration() {
        let mut c = ChannelCriterion::new(&settings());
        run(&mut c, "PPPP", 0.0, 1.0);
        let steps = run(&mut c, "AAAAA", 10.0, 3.0);
        assert!(steps.iter().all(|(_, s)| s.change.is_none()));
        assert!(steps[2].1.withheld_by_average);
        // Once the average is quiet too, the run that started at t=10 is declared.
        let steps = run(&mut c, "A", 15.0, 1.0);
        let ch = steps[0].1.change.unwrap();
        assert_eq!((ch.time_s, ch.declared_at_s), (10.0, 15.0));
    }

    #[test]
    fn return_and_no_baseline() {
        let mut c = ChannelCriterion::new(&settings());
        run(&mut c, "PPPPAAA", 0.0, 1.0);
        assert_eq!(c.state(), MonitorState::Absent);
        let steps = run(&mut c, "PAPP", 10.0, 1.0);
        let ch = steps[3].1.change.unwrap();
        assert_eq!((ch.state, ch.time_s), (MonitorState::Present, 12.0));

        let mut n = ChannelCriterion::new(&settings());
        let steps = run(&mut n, "AAPA", 0.0, 1.0);
        assert!(!steps[3].1.baseline.unwrap().present);
        assert_eq!(n.state(), MonitorState::NoBaseline);
        let steps = run(&mut n, "AAAAAA", 10.0, 1.0);
        assert!(
            steps.iter().all(|(_, s)| s.change.is_none()),
            "nothing can disappear"
        );
        let steps = run(&mut n, "PP", 20.0, 1.0);
        assert_eq!(steps[1].1.change.unwrap().state, MonitorState::Present);
        assert_eq!(n.state(), MonitorState::NoBaseline);
    }

    #[test]
    fn median_of_even_odd_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
