//! The report model: every number the page shows, computed from the analysis result
//! ([`Analysis`]) and the few traces kept while the case ran ([`TraceStore`]).
//!
//! Definitions (also in docs/report.md):
//! - **baseline amplitude / onset**: the engine's baseline, the median LSR peak-to-peak and
//!   onset of the baseline sweeps that showed an LSR;
//! - **final amplitude**: the median LSR peak-to-peak of the channel's last
//!   [`FINAL_SWEEPS`] judged (present or absent) sweeps after its baseline; an absent LSR
//!   gives the noise's peak-to-peak in the window, so the final amplitude never reaches 0;
//!   at least [`MIN_FINAL_SWEEPS`] are needed;
//! - **final onset**: the median onset of the present sweeps among those;
//! - **final-to-baseline ratio**: final amplitude / baseline amplitude, in %;
//! - **phase class**: see [`super::phase`].

use serde::Serialize;

use crate::analysis::{Analysis, ChannelRow, ChannelSummary, MarkerRow, SweepRow};
use crate::detect::REJECT_REASONS;
use crate::model::Marker;

use super::phase::{self, ChannelCourse, PhaseClass};
use super::traces::{TraceStore, FINAL_SWEEPS};
use super::verdict;
use super::words;

/// Fewest judged sweeps after the baseline for a final amplitude.
pub const MIN_FINAL_SWEEPS: usize = 3;

/// What the file says about the case besides the signal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaseFacts {
    /// Pseudonymous subject id (never a name or a birth date).
    pub subject_id: Option<String>,
    /// The recording device or source, as the file describes it.
    pub device: String,
    /// Where the settings came from ("recorded in the file", "defaults", "--config").
    pub settings_from: String,
    /// Stream time (s) to file time: added to trace times.
    pub offset_s: f64,
    /// Results the pipeline could not deliver to the report (live runs; 0 for files).
    pub results_lost: u64,
    /// A report while the case runs ("report so far", the dashboard's `r` key): the seconds
    /// of signal processed when it was asked for. None for a whole case.
    pub so_far_s: Option<f64>,
}

/// The final values of one channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FinalMeasures {
    /// Judged sweeps used (at most [`FINAL_SWEEPS`]).
    pub sweeps: usize,
    pub present: usize,
    pub from_s: f64,
    pub to_s: f64,
    pub p2p_uv: f64,
    pub onset_ms: Option<f64>,
    pub noise_p2p_uv: f64,
    pub direct_uv: Option<f64>,
}

/// Colour band of the trend: what the monitor said after each sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Baseline,
    Present,
    Absent,
    CannotJudge,
    NoBaseline,
    /// No LSR at baseline, one appeared later (never a return).
    Appeared,
}

impl Band {
    pub fn label(self) -> &'static str {
        match self {
            Self::Baseline => "collecting baseline",
            Self::Present => "present",
            Self::Absent => "absent",
            Self::CannotJudge => "cannot judge",
            Self::NoBaseline => "no LSR at baseline",
            Self::Appeared => "LSR appeared (none at baseline)",
        }
    }
}

/// One sweep on the trend.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TrendPoint {
    pub t_s: f64,
    pub p2p_uv: f64,
    pub judged: bool,
    pub direct_uv: Option<f64>,
    pub band: Band,
}

/// Sweeps around one state change, ready to draw.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CascadeModel {
    pub state: String,
    pub time_s: f64,
    pub declared_at_s: f64,
    /// (file time, status, trace).
    pub sweeps: Vec<(f64, String, Vec<f32>)>,
}

/// Everything about one muscle.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MuscleReport {
    pub channel: String,
    pub muscle: String,
    pub verdict: String,
    pub class: PhaseClass,
    pub class_label: String,
    pub final_state: String,
    pub baseline_present: Option<bool>,
    pub baseline_p2p_uv: Option<f64>,
    pub baseline_onset_ms: Option<f64>,
    pub baseline_at_s: Option<f64>,
    pub baseline_direct_uv: Option<f64>,
    pub final_measures: Option<FinalMeasures>,
    /// Final amplitude / baseline amplitude, %.
    pub ratio_pct: Option<f64>,
    pub first_disappeared_at_s: Option<f64>,
    pub first_declared_at_s: Option<f64>,
    /// Start and declaration of the lasting disappearance (the case ended absent).
    pub lasting_disappearance_s: Option<f64>,
    pub lasting_declared_s: Option<f64>,
    /// Times the LSR came back after being declared absent.
    pub returns: usize,
    pub sweeps_present: u64,
    pub sweeps_absent: u64,
    pub sweeps_rejected: u64,
    pub rejected_by_reason: Vec<(String, u64)>,
    pub trend: Vec<TrendPoint>,
    pub baseline_trace: Option<Vec<f32>>,
    pub final_trace: Option<Vec<f32>>,
    /// The direct response's averages: over the judged sweeps that made the baseline, and
    /// over the same last judged sweeps as `final_trace` (those that had one).
    pub baseline_direct_trace: Option<Vec<f32>>,
    pub final_direct_trace: Option<Vec<f32>>,
    pub cascades: Vec<CascadeModel>,
    pub cascades_left_out: usize,
}

/// One row of the event table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventLine {
    pub time_s: f64,
    pub declared_at_s: Option<f64>,
    pub channel: String,
    pub what: String,
}

/// The quality section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quality {
    pub frames: u64,
    pub lost_frames: u64,
    pub lost_s: f64,
    pub gaps: u64,
    pub stimuli: u64,
    pub stimuli_dropped: u64,
    pub sweeps_present: u64,
    pub sweeps_absent: u64,
    pub sweeps_rejected: u64,
    /// (reason in words, count), every reason listed.
    pub rejected_by_reason: Vec<(String, u64)>,
    pub results_lost: u64,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseReport {
    pub file_name: String,
    pub subject_id: String,
    pub device: String,
    pub duration_s: f64,
    pub sample_rate_hz: f64,
    pub stimulus_timing: String,
    pub mains_hz: Option<f64>,
    pub channels: Vec<ChannelRow>,
    pub case_class: PhaseClass,
    pub case_class_label: String,
    /// Plain statements about what is missing (no stimuli, no markers, ...).
    pub notices: Vec<String>,
    pub muscles: Vec<MuscleReport>,
    pub markers: Vec<MarkerRow>,
    pub events: Vec<EventLine>,
    pub quality: Quality,
    pub criterion: Vec<String>,
    pub settings: Vec<(String, String)>,
    pub settings_from: String,
    pub final_sweeps: usize,
    /// Display span of the traces and the windows, ms after the stimulus.
    pub display_ms: [f64; 2],
    pub lsr_window_ms: [f64; 2],
    pub direct_window_ms: [f64; 2],
    /// See [`CaseFacts::so_far_s`].
    pub so_far_s: Option<f64>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

fn round(v: f64, d: i32) -> f64 {
    let f = 10f64.powi(d);
    (v * f).round() / f
}

/// Final values of one channel from its sweeps (file times), or None with too few.
pub fn final_measures(sweeps: &[&SweepRow], after_s: Option<f64>) -> Option<FinalMeasures> {
    let after = after_s?;
    let judged: Vec<&&SweepRow> = sweeps
        .iter()
        .filter(|r| r.status != "rejected" && r.stim_time_s > after)
        .collect();
    let last = &judged[judged.len().saturating_sub(FINAL_SWEEPS)..];
    if last.len() < MIN_FINAL_SWEEPS {
        return None;
    }
    let present: Vec<&&&SweepRow> = last.iter().filter(|r| r.status == "present").collect();
    Some(FinalMeasures {
        sweeps: last.len(),
        present: present.len(),
        from_s: last[0].stim_time_s,
        to_s: last[last.len() - 1].stim_time_s,
        p2p_uv: round(median(last.iter().map(|r| r.lsr_p2p_uv).collect())?, 2),
        onset_ms: median(present.iter().filter_map(|r| r.lsr_onset_ms).collect())
            .map(|v| round(v, 3)),
        noise_p2p_uv: round(median(last.iter().map(|r| r.noise_p2p_uv).collect())?, 2),
        direct_uv: median(last.iter().filter_map(|r| r.direct_p2p_uv).collect())
            .map(|v| round(v, 1)),
    })
}

/// Final amplitude as a percentage of the baseline amplitude.
pub fn ratio_pct(baseline_uv: Option<f64>, fin: Option<&FinalMeasures>) -> Option<f64> {
    let b = baseline_uv.filter(|b| *b > 0.0)?;
    Some(round(100.0 * fin?.p2p_uv / b, 1))
}

/// The monitor's verdict after the sweep (`crate::detect::verdict`), as a band.
fn band(r: &SweepRow) -> Band {
    match r.verdict {
        "present" => Band::Present,
        "appeared" => Band::Appeared,
        "absent" => Band::Absent,
        "no_baseline" => Band::NoBaseline,
        "cannot_judge" => Band::CannotJudge,
        _ => Band::Baseline,
    }
}

fn muscle_of(a: &Analysis, label: &str) -> String {
    a.source
        .channels
        .iter()
        .find(|c| c.label == label)
        .map(|c| c.muscle.replace('_', " "))
        .unwrap_or_default()
}

fn channel_index(a: &Analysis, label: &str) -> Option<usize> {
    a.source
        .channels
        .iter()
        .find(|c| c.label == label)
        .map(|c| c.index)
}

fn muscle_report(
    a: &Analysis,
    c: &ChannelSummary,
    traces: &TraceStore,
    facts: &CaseFacts,
    markers: &[Marker],
) -> MuscleReport {
    let sweeps: Vec<&SweepRow> = a.sweeps.iter().filter(|r| r.channel == c.channel).collect();
    let fin = final_measures(&sweeps, c.baseline_established_at_s);
    let baseline_direct = c.baseline_established_at_s.and_then(|b| {
        median(
            sweeps
                .iter()
                .filter(|r| r.stim_time_s <= b)
                .filter_map(|r| r.direct_p2p_uv)
                .collect(),
        )
        .map(|v| round(v, 1))
    });
    let final_absent = c.final_state == "absent";
    let lasting = c
        .events
        .iter()
        .rev()
        .find(|e| e.state == "absent")
        .filter(|_| final_absent);
    let returns = c
        .events
        .iter()
        .skip_while(|e| e.state != "absent")
        .filter(|e| e.state == "present")
        .count();
    let class = phase::classify(
        &ChannelCourse {
            baseline_present: c.baseline_present,
            final_absent,
            lasting_disappearance_s: lasting.map(|e| e.time_s),
        },
        markers,
    );
    let ratio = ratio_pct(c.baseline_p2p_uv, fin.as_ref());
    let mut by_reason: Vec<(String, u64)> = REJECT_REASONS
        .iter()
        .map(|r| {
            let n = sweeps
                .iter()
                .filter(|s| s.reject_reason.as_deref() == Some(r.as_str()))
                .count() as u64;
            (r.describe().to_string(), n)
        })
        .collect();
    by_reason.retain(|(_, n)| *n > 0);
    let tr = channel_index(a, &c.channel).and_then(|i| traces.channels.get(&i));
    let off = facts.offset_s;
    let mut m = MuscleReport {
        channel: c.channel.clone(),
        muscle: muscle_of(a, &c.channel),
        verdict: String::new(),
        class,
        class_label: class.label().to_string(),
        final_state: c.final_state.clone(),
        baseline_present: c.baseline_present,
        baseline_p2p_uv: c.baseline_p2p_uv,
        baseline_onset_ms: c.baseline_onset_ms,
        baseline_at_s: c.baseline_established_at_s,
        baseline_direct_uv: baseline_direct,
        final_measures: fin,
        ratio_pct: ratio,
        first_disappeared_at_s: c.first_disappeared_at_s,
        first_declared_at_s: c.declared_at_s,
        lasting_disappearance_s: lasting.map(|e| e.time_s),
        lasting_declared_s: lasting.map(|e| e.declared_at_s),
        returns,
        sweeps_present: c.sweeps_present,
        sweeps_absent: c.sweeps_absent,
        sweeps_rejected: c.sweeps_rejected,
        rejected_by_reason: by_reason,
        trend: sweeps
            .iter()
            .map(|r| TrendPoint {
                t_s: r.stim_time_s,
                p2p_uv: r.lsr_p2p_uv,
                judged: r.status != "rejected",
                direct_uv: r.direct_p2p_uv,
                band: band(r),
            })
            .collect(),
        baseline_trace: tr.and_then(|t| t.baseline.clone()),
        final_trace: tr.and_then(|t| t.final_average()),
        baseline_direct_trace: tr.and_then(|t| t.baseline_direct.clone()),
        final_direct_trace: tr.and_then(|t| t.final_direct_average()),
        cascades: tr
            .map(|t| {
                t.cascades
                    .iter()
                    .map(|k| CascadeModel {
                        state: k.state.as_str().to_string(),
                        time_s: round(k.time_s + off, 6),
                        declared_at_s: round(k.declared_at_s + off, 6),
                        sweeps: k
                            .sweeps
                            .iter()
                            .map(|s| {
                                (
                                    round(s.stim_time_s + off, 6),
                                    s.status.as_str().to_string(),
                                    s.trace.clone(),
                                )
                            })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        cascades_left_out: tr.map_or(0, |t| t.cascades_left_out),
    };
    m.verdict = verdict::line(&m, markers, a.settings.criterion.baseline_sweeps);
    m
}

fn notices(a: &Analysis, muscles: &[MuscleReport]) -> Vec<String> {
    let n = |k: &str| a.counters.get(k).copied().unwrap_or(0);
    let mut v = Vec::new();
    if n("frames") == 0 {
        v.push("The recording is empty: it holds no samples.".to_string());
    } else if n("stimuli") == 0 {
        v.push(
            "No stimulus was found in this recording: no sweep could be judged. Stimuli come \
             from the file's stimuli table, a trigger channel, or the stimulus artifact."
                .to_string(),
        );
    } else if muscles.is_empty() {
        v.push(
            "No channel of this recording can show an LSR for the stimulated branch(es): \
             nothing could be judged."
                .to_string(),
        );
    }
    if a.markers.is_empty() {
        v.push(
            "No surgical markers in this recording: the phase in which an LSR disappeared \
             cannot be told (\"unknown phase\")."
                .to_string(),
        );
    }
    for m in muscles.iter().filter(|m| m.baseline_present.is_none()) {
        v.push(format!(
            "{}: the baseline was never completed, so the LSR could not be judged.",
            m.channel
        ));
    }
    v
}

fn events(a: &Analysis) -> Vec<EventLine> {
    let mut ev: Vec<(f64, u8, EventLine)> = Vec::new();
    for m in &a.markers {
        ev.push((
            m.time_s,
            0,
            EventLine {
                time_s: m.time_s,
                declared_at_s: None,
                channel: String::new(),
                what: format!("marker: {}", m.label),
            },
        ));
    }
    for c in &a.channels {
        if let (Some(t), Some(p)) = (c.baseline_established_at_s, c.baseline_present) {
            let what = match (p, c.baseline_p2p_uv, c.baseline_onset_ms) {
                (true, Some(uv), Some(on)) => {
                    format!("baseline: LSR present, {uv:.0} µV, onset {on:.1} ms")
                }
                (true, _, _) => "baseline: LSR present".to_string(),
                (false, _, _) => "baseline: no LSR".to_string(),
            };
            ev.push((
                t,
                1,
                EventLine {
                    time_s: t,
                    declared_at_s: None,
                    channel: c.channel.clone(),
                    what,
                },
            ));
        }
        for e in &c.events {
            ev.push((
                e.time_s,
                2,
                EventLine {
                    time_s: e.time_s,
                    declared_at_s: Some(e.declared_at_s),
                    channel: c.channel.clone(),
                    what: format!("LSR {}", e.state),
                },
            ));
        }
    }
    ev.sort_by(|x, y| {
        x.0.total_cmp(&y.0)
            .then(x.1.cmp(&y.1))
            .then(x.2.channel.cmp(&y.2.channel))
    });
    ev.into_iter().map(|e| e.2).collect()
}

fn quality(a: &Analysis, facts: &CaseFacts) -> Quality {
    let n = |k: &str| a.counters.get(k).copied().unwrap_or(0);
    Quality {
        frames: n("frames"),
        lost_frames: n("lost_frames"),
        lost_s: round(
            n("lost_frames") as f64 / a.source.sample_rate_hz.max(1.0),
            3,
        ),
        gaps: n("gaps"),
        stimuli: n("stimuli"),
        stimuli_dropped: n("stimuli_dropped"),
        sweeps_present: n("sweeps_present"),
        sweeps_absent: n("sweeps_absent"),
        sweeps_rejected: n("sweeps_rejected"),
        rejected_by_reason: REJECT_REASONS
            .iter()
            .map(|r| {
                (
                    r.describe().to_string(),
                    n(&format!("rejected_{}", r.as_str())),
                )
            })
            .collect(),
        results_lost: facts.results_lost,
    }
}

/// File name without its directories (the page never shows where the file lived).
fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// Builds the report model.
pub fn build(a: &Analysis, traces: &TraceStore, facts: &CaseFacts) -> CaseReport {
    let markers: Vec<Marker> = a
        .markers
        .iter()
        .map(|m| Marker {
            time_s: m.time_s,
            label: m.label.clone(),
        })
        .collect();
    let muscles: Vec<MuscleReport> = a
        .channels
        .iter()
        .map(|c| muscle_report(a, c, traces, facts, &markers))
        .collect();
    let classes: Vec<PhaseClass> = muscles.iter().map(|m| m.class).collect();
    let case_class = phase::case_class(&classes);
    let s = &a.settings;
    CaseReport {
        file_name: file_name(&a.source.path),
        subject_id: facts
            .subject_id
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "not recorded".to_string()),
        device: facts.device.clone(),
        duration_s: a.source.duration_s,
        sample_rate_hz: a.source.sample_rate_hz,
        stimulus_timing: a.source.stimulus_timing.clone(),
        mains_hz: a.source.mains_hz,
        channels: a.source.channels.clone(),
        case_class,
        case_class_label: case_class.label().to_string(),
        notices: notices(a, &muscles),
        events: events(a),
        quality: quality(a, facts),
        markers: a.markers.clone(),
        muscles,
        criterion: words::criterion(s),
        settings: words::settings_list(s),
        settings_from: facts.settings_from.clone(),
        final_sweeps: FINAL_SWEEPS,
        display_ms: [
            -crate::detect::sweep::DISPLAY_PRE_MS.min(s.sweep.pre_ms),
            crate::detect::sweep::DISPLAY_POST_MS.min(s.sweep.post_ms),
        ],
        lsr_window_ms: s.measure.lsr_window_ms,
        direct_window_ms: s.measure.direct_window_ms,
        so_far_s: facts.so_far_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: f64, status: &str, p2p: f64) -> SweepRow {
        SweepRow {
            stim_index: t as u64,
            stim_time_s: t,
            branch: "zygomatic".into(),
            channel: "mentalis".into(),
            status: status.into(),
            reject_reason: None,
            lsr_p2p_uv: p2p,
            lsr_onset_ms: (status == "present").then_some(10.0),
            noise_p2p_uv: 20.0,
            noise_rms_uv: 4.0,
            snr: 1.0,
            direct_p2p_uv: Some(2000.0),
            template_corr: None,
            percent_of_baseline: None,
            state: "present".into(),
            tail_removed_uv: 0.0,
            tail_at_window_uv: 0.0,
            evidence: 0.0,
            verdict: "present",
            verdict_reason: None,
        }
    }

    #[test]
    fn final_is_the_median_of_the_last_judged_sweeps_after_the_baseline() {
        let mut rows = Vec::new();
        for i in 0..50 {
            rows.push(row(i as f64, "present", 200.0));
        }
        for i in 50..58 {
            rows.push(row(i as f64, "absent", 20.0 + i as f64 - 50.0));
        }
        rows.push(row(58.0, "present", 190.0));
        rows.push(row(59.0, "present", 195.0));
        // Rejected sweeps at the end are not judged: left out.
        for i in 60..70 {
            rows.push(row(i as f64, "rejected", 5000.0));
        }
        let refs: Vec<&SweepRow> = rows.iter().collect();
        let f = final_measures(&refs, Some(10.0)).unwrap();
        assert_eq!(f.sweeps, FINAL_SWEEPS);
        assert_eq!((f.from_s, f.to_s), (50.0, 59.0));
        // 20..27 and 190, 195: median of the 10 is (24 + 25) / 2.
        assert_eq!(f.p2p_uv, 24.5);
        assert_eq!(f.present, 2);
        assert_eq!(f.onset_ms, Some(10.0));
        assert_eq!(ratio_pct(Some(200.0), Some(&f)), Some(12.3));
        assert_eq!(ratio_pct(None, Some(&f)), None);
        assert_eq!(ratio_pct(Some(0.0), Some(&f)), None);
    }

    #[test]
    fn too_few_sweeps_after_the_baseline_give_no_final() {
        let rows: Vec<SweepRow> = (0..12).map(|i| row(i as f64, "present", 100.0)).collect();
        let refs: Vec<&SweepRow> = rows.iter().collect();
        assert!(final_measures(&refs, Some(9.5)).is_none());
        assert!(final_measures(&refs, None).is_none());
        assert_eq!(final_measures(&refs, Some(8.5)).unwrap().sweeps, 3);
    }
}
