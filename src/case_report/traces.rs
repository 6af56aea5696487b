//! The sweep traces a case report draws, kept in bounded memory while the case runs.
//!
//! The analysis keeps every sweep's *measures* (a few dozen bytes each) but not its display
//! traces (256 points, 1 KB each). The report needs only a few traces: each channel's baseline
//! average (from the engine), the last [`FINAL_SWEEPS`] judged sweeps (their average is the
//! "final" sweep), and short cascades of sweeps around each state change (at most
//! [`MAX_CASCADES`] per channel); and for the direct response, the average of the judged
//! sweeps that made the baseline (a running sum) and the direct traces of the same last
//! judged sweeps. Memory stays below about 200 KB per channel, whatever the length of the
//! case.

use std::collections::{BTreeMap, VecDeque};

use crate::detect::EngineEvent;
use crate::model::{MonitorState, SweepResult, SweepStatus, DISPLAY_POINTS};

/// Judged sweeps at the end of the case whose measures make the "final" values.
pub const FINAL_SWEEPS: usize = 10;
/// Sweeps shown before a declared state change (the run that caused it, and some before).
pub const CASCADE_BEFORE: usize = 10;
/// Sweeps shown after a declared state change.
pub const CASCADE_AFTER: usize = 4;
/// State changes per channel that get a cascade; later ones are counted, not drawn.
pub const MAX_CASCADES: usize = 8;

/// One sweep's display trace with what was said about it.
#[derive(Clone, Debug, PartialEq)]
pub struct TracedSweep {
    /// Stimulus time, s from the stream's start.
    pub stim_time_s: f64,
    pub status: SweepStatus,
    pub trace: Vec<f32>,
    /// The direct response's trace, kept only for the last judged sweeps (the final
    /// average) and only when it was measured.
    pub direct: Option<Vec<f32>>,
}

impl From<&SweepResult> for TracedSweep {
    fn from(r: &SweepResult) -> Self {
        Self {
            stim_time_s: r.stim_time_s,
            status: r.status,
            trace: r.trace.to_vec(),
            direct: None,
        }
    }
}

/// The direct response was measured on this sweep (a direct channel, a complete sweep).
fn has_direct(r: &SweepResult) -> bool {
    r.direct_p2p_uv.is_finite()
}

/// Point-by-point mean of some traces (None when there are none).
fn mean<'a>(traces: impl Iterator<Item = &'a Vec<f32>>) -> Option<Vec<f32>> {
    let mut sum = vec![0.0f64; DISPLAY_POINTS];
    let mut n = 0usize;
    for t in traces {
        for (a, v) in sum.iter_mut().zip(t) {
            *a += *v as f64;
        }
        n += 1;
    }
    (n > 0).then(|| sum.iter().map(|a| (*a / n as f64) as f32).collect())
}

/// Sweeps around one declared state change.
#[derive(Clone, Debug, PartialEq)]
pub struct Cascade {
    pub state: MonitorState,
    /// Stream times (s) of the first sweep of the run and of the declaration.
    pub time_s: f64,
    pub declared_at_s: f64,
    pub sweeps: Vec<TracedSweep>,
    /// Sweeps still to be added after the declaration.
    waiting: usize,
}

/// The traces of one channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelTraces {
    /// The baseline average (the engine's template), when established.
    pub baseline: Option<Vec<f32>>,
    /// The direct response's average over the judged sweeps that made the baseline (those
    /// since the start, or since the previous baseline), when established.
    pub baseline_direct: Option<Vec<f32>>,
    /// Running sum and count of the direct traces of the judged sweeps since the last
    /// baseline (the next baseline's direct average).
    direct_sum: Vec<f64>,
    direct_n: usize,
    /// The last sweeps, any status (feeds the cascades).
    recent: VecDeque<TracedSweep>,
    /// The last [`FINAL_SWEEPS`] judged (present or absent) sweeps.
    pub last_judged: VecDeque<TracedSweep>,
    pub cascades: Vec<Cascade>,
    /// State changes beyond [`MAX_CASCADES`] (not drawn).
    pub cascades_left_out: usize,
}

impl ChannelTraces {
    /// Point-by-point mean of the last judged sweeps (None when there are none).
    pub fn final_average(&self) -> Option<Vec<f32>> {
        mean(self.last_judged.iter().map(|s| &s.trace))
    }

    /// Point-by-point mean of the direct responses of the last judged sweeps that had one.
    pub fn final_direct_average(&self) -> Option<Vec<f32>> {
        mean(self.last_judged.iter().filter_map(|s| s.direct.as_ref()))
    }
}

/// Bounded store of the traces of every channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceStore {
    pub channels: BTreeMap<usize, ChannelTraces>,
}

impl TraceStore {
    pub fn push(&mut self, e: &EngineEvent) {
        match e {
            EngineEvent::Sweep(r) => {
                let c = self.channels.entry(r.channel).or_default();
                for cas in c.cascades.iter_mut().filter(|k| k.waiting > 0) {
                    cas.sweeps.push(TracedSweep::from(r));
                    cas.waiting -= 1;
                }
                if c.recent.len() == CASCADE_BEFORE {
                    c.recent.pop_front();
                }
                c.recent.push_back(TracedSweep::from(r));
                if r.status != SweepStatus::Rejected {
                    if c.last_judged.len() == FINAL_SWEEPS {
                        c.last_judged.pop_front();
                    }
                    let mut kept = TracedSweep::from(r);
                    if has_direct(r) {
                        kept.direct = Some(r.direct_trace.to_vec());
                        if c.direct_sum.len() != DISPLAY_POINTS {
                            c.direct_sum = vec![0.0; DISPLAY_POINTS];
                        }
                        for (a, v) in c.direct_sum.iter_mut().zip(&r.direct_trace) {
                            *a += *v as f64;
                        }
                        c.direct_n += 1;
                    }
                    c.last_judged.push_back(kept);
                }
            }
            EngineEvent::Baseline(b) => {
                let c = self.channels.entry(b.channel).or_default();
                c.baseline = b.present.then(|| b.trace.to_vec());
                let n = c.direct_n as f64;
                c.baseline_direct = (c.direct_n > 0)
                    .then(|| c.direct_sum.iter().map(|a| (*a / n) as f32).collect());
                c.direct_sum.iter_mut().for_each(|a| *a = 0.0);
                c.direct_n = 0;
            }
            EngineEvent::State(s) => {
                let c = self.channels.entry(s.channel).or_default();
                if c.cascades.len() >= MAX_CASCADES {
                    c.cascades_left_out += 1;
                    return;
                }
                c.cascades.push(Cascade {
                    state: s.state,
                    time_s: s.time_s,
                    declared_at_s: s.declared_at_s,
                    sweeps: c.recent.iter().cloned().collect(),
                    waiting: CASCADE_AFTER,
                });
            }
            EngineEvent::Stimulus(_) | EngineEvent::Mains(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Branch, StateEvent};

    fn sweep(i: u64, status: SweepStatus, level: f32) -> EngineEvent {
        EngineEvent::Sweep(SweepResult {
            stim_index: i,
            stim_time_s: i as f64,
            branch: Branch::Zygomatic,
            channel: 0,
            status,
            reject_reason: None,
            lsr_p2p_uv: level,
            lsr_onset_ms: None,
            noise_p2p_uv: 1.0,
            noise_rms_uv: 1.0,
            snr: 1.0,
            template_corr: f32::NAN,
            direct_p2p_uv: 1000.0,
            crosstalk_gain: 0.0,
            tail_removed_uv: 0.0,
            tail_at_window_uv: 0.0,
            evidence: 0.0,
            state: MonitorState::Present,
            percent_of_baseline: f32::NAN,
            trace: [level; DISPLAY_POINTS],
            direct_trace: [level * 10.0; DISPLAY_POINTS],
        })
    }

    #[test]
    fn memory_stays_bounded_and_the_final_average_uses_judged_sweeps() {
        let mut st = TraceStore::default();
        for i in 0..1000 {
            st.push(&sweep(i, SweepStatus::Present, 100.0));
        }
        for i in 1000..1010 {
            st.push(&sweep(i, SweepStatus::Absent, 10.0));
        }
        for i in 1010..1015 {
            st.push(&sweep(i, SweepStatus::Rejected, 5000.0));
        }
        let c = &st.channels[&0];
        assert_eq!(c.last_judged.len(), FINAL_SWEEPS);
        assert!(c.recent.len() <= CASCADE_BEFORE);
        let avg = c.final_average().unwrap();
        assert!((avg[0] - 10.0).abs() < 1e-3, "{}", avg[0]);
    }

    #[test]
    fn cascades_hold_sweeps_before_and_after_and_are_capped() {
        let mut st = TraceStore::default();
        let mut i = 0;
        for k in 0..(MAX_CASCADES + 3) {
            for _ in 0..20 {
                st.push(&sweep(i, SweepStatus::Present, k as f32));
                i += 1;
            }
            st.push(&EngineEvent::State(StateEvent {
                channel: 0,
                state: MonitorState::Absent,
                time_s: i as f64 - 5.0,
                declared_at_s: i as f64 - 1.0,
            }));
        }
        for _ in 0..20 {
            st.push(&sweep(i, SweepStatus::Present, 0.0));
            i += 1;
        }
        let c = &st.channels[&0];
        assert_eq!(c.cascades.len(), MAX_CASCADES);
        assert_eq!(c.cascades_left_out, 3);
        for cas in &c.cascades {
            assert_eq!(cas.sweeps.len(), CASCADE_BEFORE + CASCADE_AFTER);
            assert!(cas.sweeps[CASCADE_BEFORE - 1].stim_time_s <= cas.declared_at_s);
            assert!(cas.sweeps[CASCADE_BEFORE].stim_time_s > cas.declared_at_s);
        }
    }

    #[test]
    fn direct_averages_cover_the_baseline_sweeps_and_the_last_judged_ones() {
        let mut st = TraceStore::default();
        // Baseline: judged sweeps with a direct response of 10 x 100 µV; a rejected one and
        // one without a direct response do not count.
        for i in 0..10 {
            st.push(&sweep(i, SweepStatus::Present, 100.0));
        }
        st.push(&sweep(10, SweepStatus::Rejected, 900.0));
        let mut none = sweep(11, SweepStatus::Present, 700.0);
        if let EngineEvent::Sweep(r) = &mut none {
            r.direct_p2p_uv = f32::NAN;
        }
        st.push(&none);
        st.push(&EngineEvent::Baseline(crate::model::BaselineInfo {
            channel: 0,
            present: true,
            p2p_uv: 100.0,
            onset_ms: 10.0,
            established_at_s: 11.0,
            trace: [100.0; DISPLAY_POINTS],
        }));
        // Later sweeps: the direct response halves.
        for i in 12..40 {
            st.push(&sweep(i, SweepStatus::Absent, 50.0));
        }
        let c = &st.channels[&0];
        let b = c.baseline_direct.as_ref().unwrap();
        assert_eq!(b.len(), DISPLAY_POINTS);
        assert!((b[0] - 1000.0).abs() < 1e-3, "{}", b[0]);
        let f = c.final_direct_average().unwrap();
        assert!((f[100] - 500.0).abs() < 1e-3, "{}", f[100]);
        // No direct response on any of the last sweeps: no final direct average.
        for i in 40..60 {
            st.push(&none_at(i));
        }
        assert!(st.channels[&0].final_direct_average().is_none());
    }

    fn none_at(i: u64) -> EngineEvent {
        let mut e = sweep(i, SweepStatus::Absent, 10.0);
        if let EngineEvent::Sweep(r) = &mut e {
            r.direct_p2p_uv = f32::NAN;
        }
        e
    }
}
