//! The project's own scorer: what the engine said about a simulated case, against the truth.
//!
//! It counts every error a surgeon would act on, with definitions that cannot flatter the
//! detector:
//!
//! - **clean** sweep: the truth says the sweep span has no electrocautery, saturation,
//!   spontaneous burst or lost samples, and the direct response was not abolished;
//! - **unambiguous present**: the noise-free LSR alone has, in some 12 ms stretch of the LSR
//!   window (6-40 ms), an RMS of at least 1.5 x the noise RMS (a response a technologist
//!   would see on the screen); **unambiguous absent**: no LSR at all. Sweeps in between are
//!   not scored as sweeps, but a disappearance declared while the LSR is clearly there is
//!   always an error;
//! - **false disappearance**: the state turns `absent` at a sweep whose LSR is clearly present,
//!   or while the direct response is abolished (neuromuscular blockade);
//! - **missed disappearance**: the LSR went (and stayed gone for at least 12 sweeps) but the
//!   state never turned `absent` before it came back or the case ended;
//! - **false return**: the state turns `present` (or an LSR is said to have appeared) at a
//!   sweep with no LSR at all in the truth;
//! - **declaration delay**: judgeable sweeps (not contaminated, direct response there) from
//!   the first LSR-free sweep to the one that declared the disappearance, both included.

use crate::detect::{Engine, EngineEvent};
use crate::model::{BaselineInfo, MonitorState, StateEvent, SweepResult, SweepStatus};
use crate::pipeline::run_to_end;
use crate::settings::Settings;
use crate::source::Source;

use super::{ChangeKind, Contamination, SimConfig, SimPatient, Truth};

/// Minimum LSR-free stretch (sweeps) for a disappearance to count as missed when undeclared.
pub const MIN_SPAN_FOR_MISS: usize = 12;

/// What the engine said about one case.
#[derive(Clone, Debug, Default)]
pub struct CaseRun {
    pub sweeps: Vec<SweepResult>,
    pub states: Vec<StateEvent>,
    pub baselines: Vec<BaselineInfo>,
}

/// Runs one simulated case through the engine (the same path as `analyze`).
pub fn run_case(cfg: SimConfig, settings: &Settings) -> Result<(Truth, CaseRun), String> {
    let mut sim = SimPatient::new(cfg).map_err(|e| e.to_string())?;
    let truth = sim.truth().clone();
    let info = sim.info().clone();
    let mut engine = Engine::new(&info, settings).map_err(|e| e.to_string())?;
    let mut run = CaseRun::default();
    run_to_end(
        &mut sim,
        &mut engine,
        997,
        &mut |e| match e {
            EngineEvent::Sweep(r) => run.sweeps.push(*r),
            EngineEvent::State(s) => run.states.push(*s),
            EngineEvent::Baseline(b) => run.baselines.push(*b),
            _ => {}
        },
        &mut |_| {},
    )
    .map_err(|e| e.to_string())?;
    Ok((truth, run))
}

/// Counts of one case (or a sum of cases).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    pub cases: u64,
    pub hours: f64,
    pub clean_present: u64,
    pub present_right: u64,
    pub clean_absent: u64,
    pub absent_right: u64,
    /// Clean LSR-free sweeps judged equivocal (neither present nor absent).
    pub absent_equivocal: u64,
    /// Clean LSR-free sweeps judged present.
    pub absent_called_present: u64,
    pub onset_n: u64,
    pub onset_within_half_ms: u64,
    pub onset_err_sum_ms: f64,
    pub amp_n: u64,
    /// Sum of |measured - true| / true peak-to-peak.
    pub amp_rel_err_sum: f64,
    pub cautery_called_absent: u64,
    pub true_disappearances: u64,
    pub declared: u64,
    pub missed: u64,
    pub false_disappearances: u64,
    pub false_returns: u64,
    pub baseline_wrong: u64,
    /// Declaration delays, judgeable sweeps.
    pub delays: Vec<u32>,
    /// One line per error, naming the case.
    pub problems: Vec<String>,
}

impl Score {
    pub fn add(&mut self, o: &Score) {
        self.cases += o.cases;
        self.hours += o.hours;
        self.clean_present += o.clean_present;
        self.present_right += o.present_right;
        self.clean_absent += o.clean_absent;
        self.absent_right += o.absent_right;
        self.absent_equivocal += o.absent_equivocal;
        self.absent_called_present += o.absent_called_present;
        self.onset_n += o.onset_n;
        self.onset_within_half_ms += o.onset_within_half_ms;
        self.onset_err_sum_ms += o.onset_err_sum_ms;
        self.amp_n += o.amp_n;
        self.amp_rel_err_sum += o.amp_rel_err_sum;
        self.cautery_called_absent += o.cautery_called_absent;
        self.true_disappearances += o.true_disappearances;
        self.declared += o.declared;
        self.missed += o.missed;
        self.false_disappearances += o.false_disappearances;
        self.false_returns += o.false_returns;
        self.baseline_wrong += o.baseline_wrong;
        self.delays.extend_from_slice(&o.delays);
        self.problems.extend(o.problems.iter().cloned());
    }

    /// Clean unambiguous sweeps classified right, fraction.
    pub fn accuracy(&self) -> f64 {
        let n = self.clean_present + self.clean_absent;
        if n == 0 {
            return f64::NAN;
        }
        (self.present_right + self.absent_right) as f64 / n as f64
    }

    pub fn equivocal_fraction(&self) -> f64 {
        self.absent_equivocal as f64 / self.clean_absent.max(1) as f64
    }

    pub fn onset_fraction(&self) -> f64 {
        self.onset_within_half_ms as f64 / self.onset_n.max(1) as f64
    }

    pub fn mean_onset_err_ms(&self) -> f64 {
        self.onset_err_sum_ms / self.onset_n.max(1) as f64
    }

    pub fn mean_amp_err(&self) -> f64 {
        self.amp_rel_err_sum / self.amp_n.max(1) as f64
    }

    /// Median and largest declaration delay (None without any declaration).
    pub fn delay_median_max(&self) -> Option<(f64, u32)> {
        if self.delays.is_empty() {
            return None;
        }
        let mut d = self.delays.clone();
        d.sort_unstable();
        let n = d.len();
        let med = if n % 2 == 1 {
            f64::from(d[n / 2])
        } else {
            0.5 * f64::from(d[n / 2 - 1] + d[n / 2])
        };
        Some((med, d[n - 1]))
    }
}

fn max_window_rms(x: &[f32], len: usize) -> f32 {
    let len = len.max(1);
    let mut best = 0.0f64;
    for s in 0..x.len().saturating_sub(len) + 1 {
        let e: f64 = x[s..(s + len).min(x.len())]
            .iter()
            .map(|v| f64::from(*v).powi(2))
            .sum();
        best = best.max(e);
    }
    (best / len as f64).sqrt() as f32
}

/// Truth label of one sweep: Some(true) unambiguous present, Some(false) unambiguous absent,
/// None ambiguous (see the module documentation).
pub fn label(truth: &Truth, stim: usize, ch: usize) -> Option<bool> {
    let fs = truth.sample_rate_hz;
    let t = truth.sweep(stim, ch)?;
    if t.lsr_p2p_uv == 0.0 {
        return Some(false);
    }
    let w = truth.lsr_waveform(stim, ch, fs, 0.0, 40.0);
    let from = (6.0 * fs / 1000.0) as usize;
    let rms = max_window_rms(&w[from.min(w.len())..], (12.0 * fs / 1000.0) as usize);
    (rms >= 1.5 * truth.channels[ch].noise_uv).then_some(true)
}

/// Scores one case.
pub fn score(name: &str, truth: &Truth, run: &CaseRun) -> Score {
    let fs = truth.sample_rate_hz;
    let mut sc = Score {
        cases: 1,
        hours: truth.duration_s / 3600.0,
        ..Score::default()
    };
    let problem = |sc: &mut Score, s: String| sc.problems.push(format!("{name}: {s}"));
    let stim_of = |t: f64| -> Option<usize> {
        let frame = t * fs;
        let k = truth
            .stimuli
            .partition_point(|s| s.frame_time < frame - 0.001 * fs || s.frame_time.is_nan());
        (k..truth.stimuli.len().min(k + 3))
            .find(|&i| (truth.stimuli[i].frame_time - frame).abs() < 0.001 * fs)
    };
    let n = truth.stimuli.len();
    for &ch in &truth.lsr_channels {
        let ct = &truth.channels[ch];
        let mut mine: Vec<Option<&SweepResult>> = vec![None; n];
        for r in run.sweeps.iter().filter(|r| r.channel == ch) {
            if let Some(i) = stim_of(r.stim_time_s) {
                mine[i] = Some(r);
            }
        }
        for (i, r) in mine.iter().enumerate() {
            let Some(r) = r else { continue };
            let Some(t) = truth.sweep(i, ch) else {
                continue;
            };
            if t.contamination == Some(Contamination::Cautery) && r.status == SweepStatus::Absent {
                sc.cautery_called_absent += 1;
                problem(
                    &mut sc,
                    format!("{}: sweep {i} in electrocautery called absent", ct.label),
                );
            }
            if t.contamination.is_some() || t.direct_abolished {
                continue;
            }
            match label(truth, i, ch) {
                Some(true) => {
                    sc.clean_present += 1;
                    if r.status == SweepStatus::Present {
                        sc.present_right += 1;
                        if let Some(on) = r.lsr_onset_ms {
                            let err = f64::from((on - t.onset_ms).abs());
                            sc.onset_n += 1;
                            sc.onset_err_sum_ms += err;
                            if err <= 0.5 {
                                sc.onset_within_half_ms += 1;
                            }
                        }
                        if t.lsr_p2p_uv > 0.0 {
                            sc.amp_n += 1;
                            sc.amp_rel_err_sum +=
                                f64::from((r.lsr_p2p_uv - t.lsr_p2p_uv).abs() / t.lsr_p2p_uv);
                        }
                    }
                }
                Some(false) => {
                    sc.clean_absent += 1;
                    match r.status {
                        SweepStatus::Absent => sc.absent_right += 1,
                        SweepStatus::Present => sc.absent_called_present += 1,
                        SweepStatus::Rejected => sc.absent_equivocal += 1,
                    }
                }
                None => {}
            }
        }
        let b = run.baselines.iter().find(|b| b.channel == ch);
        match b {
            Some(b) if b.present != ct.baseline_present => {
                sc.baseline_wrong += 1;
                problem(
                    &mut sc,
                    format!(
                        "{}: baseline present {} but truth {}",
                        ct.label, b.present, ct.baseline_present
                    ),
                );
            }
            None => {
                sc.baseline_wrong += 1;
                problem(&mut sc, format!("{}: no baseline established", ct.label));
            }
            _ => {}
        }
        let states: Vec<&StateEvent> = run.states.iter().filter(|s| s.channel == ch).collect();
        // False returns: an LSR said to be there (present again, or appeared) with none.
        for s in states
            .iter()
            .filter(|s| matches!(s.state, MonitorState::Present | MonitorState::Appeared))
        {
            if let Some(i) = stim_of(s.declared_at_s) {
                if truth.sweep(i, ch).is_some_and(|t| t.lsr_p2p_uv == 0.0) {
                    sc.false_returns += 1;
                    problem(
                        &mut sc,
                        format!(
                            "{}: '{}' declared at {:.1} s with no LSR there",
                            ct.label,
                            s.state.as_str(),
                            s.declared_at_s
                        ),
                    );
                }
            }
        }
        if !ct.baseline_present {
            continue;
        }
        for s in states.iter().filter(|s| s.state == MonitorState::Absent) {
            let Some(i) = stim_of(s.declared_at_s) else {
                continue;
            };
            let t = truth.sweep(i, ch);
            if label(truth, i, ch) == Some(true) || t.is_some_and(|t| t.direct_abolished) {
                sc.false_disappearances += 1;
                problem(
                    &mut sc,
                    format!(
                        "{}: disappearance declared at {:.1} s while the LSR is there ({:.0} uV{})",
                        ct.label,
                        s.declared_at_s,
                        t.map_or(f32::NAN, |t| t.lsr_p2p_uv),
                        if t.is_some_and(|t| t.direct_abolished) {
                            ", neuromuscular blockade"
                        } else {
                            ""
                        }
                    ),
                );
            }
        }
        let changes = truth.changes_of(ch);
        for c in changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Disappeared && !c.direct_abolished)
        {
            let start = c.stim_index as usize;
            let end = changes
                .iter()
                .find(|r| r.kind == ChangeKind::Returned && r.stim_index > c.stim_index)
                .map_or(n, |r| r.stim_index as usize);
            sc.true_disappearances += 1;
            // Already absent when the LSR went (declared while it faded): no delay.
            let before = mine[..start]
                .iter()
                .rev()
                .flatten()
                .next()
                .is_some_and(|r| r.state == MonitorState::Absent);
            if before {
                sc.declared += 1;
                sc.delays.push(0);
                continue;
            }
            let mut judgeable = 0u32;
            let mut at = None;
            for (i, r) in mine.iter().enumerate().take(end).skip(start) {
                let t = truth.sweep(i, ch);
                if t.is_some_and(|t| t.contamination.is_none() && !t.direct_abolished) {
                    judgeable += 1;
                }
                if r.is_some_and(|r| r.state == MonitorState::Absent) {
                    at = Some(judgeable);
                    break;
                }
            }
            match at {
                Some(d) => {
                    sc.declared += 1;
                    sc.delays.push(d);
                }
                None if end - start >= MIN_SPAN_FOR_MISS => {
                    sc.missed += 1;
                    problem(
                        &mut sc,
                        format!(
                            "{}: disappearance at {:.1} s never declared",
                            ct.label, c.time_s
                        ),
                    );
                }
                None => sc.true_disappearances -= 1,
            }
        }
    }
    sc
}

#[cfg(test)]
mod tests {
    //! The detector's failures that issue 11 named, each pinned on a patient who has the
    //! pitfall: a slowly recovering artifact (time constant of 1.2 ms or more, often with a
    //! slower component) and a large, distorted crosstalk.
    use super::*;
    use crate::sim::physiology::Physiology;
    use crate::sim::{Scenario, SimRole};

    /// The first seed whose LSR channels all recover slowly and carry a visible crosstalk.
    fn hard_patient(scenario: Scenario, seconds: f64) -> SimConfig {
        (1..400)
            .map(|seed| SimConfig {
                scenario,
                seed,
                duration_s: seconds,
                sample_rate_hz: 10_000.0,
                noise_uv: 3.0,
                cautery: 1,
                ..SimConfig::default()
            })
            .find(|cfg| {
                let p = Physiology::new(cfg);
                p.channels
                    .iter()
                    .filter(|c| c.role == SimRole::Lsr)
                    .all(|c| {
                        c.artifact.decay_s >= 1.2e-3
                            && c.artifact.tail_uv.abs() >= 1000.0
                            && c.crosstalk.as_ref().is_some_and(|x| x.gain >= 0.03)
                    })
            })
            .expect("a patient with slow artifact tails and crosstalk")
    }

    fn run(cfg: SimConfig) -> (Truth, CaseRun, Score) {
        let (truth, run) = run_case(cfg, &Settings::default()).unwrap();
        let sc = score("pitfall", &truth, &run);
        (truth, run, sc)
    }

    #[test]
    fn artifact_tails_and_crosstalk_residue_are_flat_sweeps_not_an_lsr() {
        let (_, run, sc) = run(hard_patient(Scenario::NoBaseline, 150.0));
        assert!(sc.clean_absent > 150, "{sc:?}");
        // Flat sweeps are absent: at most 1 % called present (a stray sweep, never a state).
        // Equivocal: the goal is 2 %; this patient (3 µV noise, slow tails) measured 4.1 %,
        // a miss reported in docs/validation.md. The bound pins it from getting worse.
        assert!(
            sc.absent_called_present as f64 <= 0.01 * sc.clean_absent as f64,
            "{sc:?}"
        );
        assert!(sc.equivocal_fraction() <= 0.05, "{sc:?}");
        // A channel without a baseline LSR stays so: no appearance on residue.
        assert!(
            run.states.is_empty(),
            "no state change expected: {:?}",
            run.states
        );
        assert_eq!(sc.baseline_wrong, 0, "{:?}", sc.problems);
    }

    #[test]
    fn a_disappearance_behind_a_residue_is_declared_fast_and_never_returns() {
        let (_, run, sc) = run(hard_patient(Scenario::Early, 240.0));
        assert_eq!(sc.missed, 0, "{:?}", sc.problems);
        assert_eq!(sc.false_disappearances, 0, "{:?}", sc.problems);
        assert_eq!(sc.false_returns, 0, "{:?}", sc.problems);
        let (med, max) = sc.delay_median_max().expect("declared");
        assert!(med <= 3.0 && max <= 6, "delays {:?}", sc.delays);
        assert!(
            !run.states.iter().any(|s| s.state == MonitorState::Present),
            "{:?}",
            run.states
        );
    }

    #[test]
    fn a_small_lsr_that_matches_the_baseline_stays_present() {
        // Partial: the LSR drops to 30-50 % of its baseline and stays.
        let (_, run, sc) = run(hard_patient(Scenario::Partial, 200.0));
        assert!(sc.clean_present > 200, "{sc:?}");
        assert!(
            sc.present_right as f64 >= 0.95 * sc.clean_present as f64,
            "{sc:?}"
        );
        assert!(
            !run.states.iter().any(|s| s.state == MonitorState::Absent),
            "{:?}",
            run.states
        );
    }
}
