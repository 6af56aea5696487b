//! The `lsrmon.analysis/1` result: what `analyze --json` prints and other programs read.
//!
//! The field names are a contract (see the README): fields may be added, never renamed or
//! dropped. The output is a pure function of the input file and the settings: no wall-clock
//! time, no paths other than the one given, values rounded to fixed decimals, so replaying a
//! file twice gives byte-identical JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::detect::verdict::{CannotJudgeWhy, Now, VerdictBook, VerdictKind};
use crate::detect::{EngineCounters, EngineEvent, REJECT_REASONS};
use crate::model::{Branch, Marker, MonitorState, RejectReason, SweepResult, SweepStatus};
use crate::settings::Settings;
use crate::source::SourceInfo;

/// Schema name of the output.
pub const SCHEMA: &str = "lsrmon.analysis/1";

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

fn opt(v: f32, decimals: i32) -> Option<f64> {
    v.is_finite().then(|| round(v as f64, decimals))
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ChannelRow {
    pub index: usize,
    pub label: String,
    pub muscle: String,
    pub role: String,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct SourceSummary {
    pub path: String,
    pub sample_rate_hz: f64,
    pub duration_s: f64,
    pub channels: Vec<ChannelRow>,
    pub stimulus_timing: String,
    pub mains_hz: Option<f64>,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct SweepRow {
    pub stim_index: u64,
    pub stim_time_s: f64,
    pub branch: String,
    pub channel: String,
    pub status: String,
    pub reject_reason: Option<String>,
    pub lsr_p2p_uv: f64,
    pub lsr_onset_ms: Option<f64>,
    pub noise_p2p_uv: f64,
    pub noise_rms_uv: f64,
    pub snr: f64,
    pub direct_p2p_uv: Option<f64>,
    pub template_corr: Option<f64>,
    pub percent_of_baseline: Option<f64>,
    pub state: String,
    /// The stimulus artifact's tail removed before filtering, µV: at the end of the blank
    /// and at the LSR window's start.
    pub tail_removed_uv: f64,
    pub tail_at_window_uv: f64,
    /// The sweep's evidence that the LSR is gone, as the sequential criterion counted it.
    pub evidence: f64,
    /// The channel's verdict right after this sweep (`crate::detect::verdict`): `baseline`,
    /// `present`, `appeared`, `absent`, `no_baseline` or `cannot_judge`.
    pub verdict: &'static str,
    /// Why the channel cannot be judged (`null` when it can).
    pub verdict_reason: Option<String>,
}

/// What the analysis keeps of one sweep until the end: the measures without the display
/// trace (a tenth of the size), so a 4-hour case costs about 2 MB, not 30.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeptSweep {
    pub stim_index: u64,
    pub stim_time_s: f64,
    pub branch: Branch,
    pub channel: usize,
    pub status: SweepStatus,
    pub reject_reason: Option<RejectReason>,
    pub lsr_p2p_uv: f32,
    pub lsr_onset_ms: Option<f32>,
    pub noise_p2p_uv: f32,
    pub noise_rms_uv: f32,
    pub snr: f32,
    pub template_corr: f32,
    pub direct_p2p_uv: f32,
    pub percent_of_baseline: f32,
    pub state: MonitorState,
    pub tail_removed_uv: f32,
    pub tail_at_window_uv: f32,
    pub evidence: f32,
    /// The channel's verdict right after this sweep, and why it cannot be judged.
    pub verdict: VerdictKind,
    pub verdict_why: Option<CannotJudgeWhy>,
}

impl From<&SweepResult> for KeptSweep {
    fn from(r: &SweepResult) -> Self {
        Self {
            stim_index: r.stim_index,
            stim_time_s: r.stim_time_s,
            branch: r.branch,
            channel: r.channel,
            status: r.status,
            reject_reason: r.reject_reason,
            lsr_p2p_uv: r.lsr_p2p_uv,
            lsr_onset_ms: r.lsr_onset_ms,
            noise_p2p_uv: r.noise_p2p_uv,
            noise_rms_uv: r.noise_rms_uv,
            snr: r.snr,
            template_corr: r.template_corr,
            direct_p2p_uv: r.direct_p2p_uv,
            percent_of_baseline: r.percent_of_baseline,
            state: r.state,
            tail_removed_uv: r.tail_removed_uv,
            tail_at_window_uv: r.tail_at_window_uv,
            evidence: r.evidence,
            verdict: VerdictKind::Baseline,
            verdict_why: None,
        }
    }
}

impl SweepRow {
    /// One row; `offset_s` moves stream time to the file's time zero.
    pub fn new(r: &KeptSweep, label: &str, offset_s: f64) -> Self {
        Self {
            stim_index: r.stim_index,
            stim_time_s: round(r.stim_time_s + offset_s, 6),
            branch: r.branch.name().to_string(),
            channel: label.to_string(),
            status: r.status.as_str().to_string(),
            reject_reason: r.reject_reason.map(|x| x.as_str().to_string()),
            lsr_p2p_uv: round(r.lsr_p2p_uv as f64, 2),
            lsr_onset_ms: r.lsr_onset_ms.and_then(|v| opt(v, 3)),
            noise_p2p_uv: round(r.noise_p2p_uv as f64, 2),
            noise_rms_uv: round(r.noise_rms_uv as f64, 3),
            snr: round(r.snr as f64, 3),
            direct_p2p_uv: opt(r.direct_p2p_uv, 1),
            template_corr: opt(r.template_corr, 3),
            percent_of_baseline: opt(r.percent_of_baseline, 1),
            state: r.state.as_str().to_string(),
            tail_removed_uv: round(r.tail_removed_uv as f64, 1),
            tail_at_window_uv: round(r.tail_at_window_uv as f64, 2),
            evidence: round(r.evidence as f64, 3),
            verdict: r.verdict.as_str(),
            verdict_reason: r.verdict_why.map(|w| w.sentence()),
        }
    }
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct EventRow {
    pub time_s: f64,
    pub declared_at_s: f64,
    pub state: String,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ChannelSummary {
    pub channel: String,
    pub baseline_present: Option<bool>,
    pub baseline_p2p_uv: Option<f64>,
    pub baseline_onset_ms: Option<f64>,
    pub baseline_established_at_s: Option<f64>,
    pub events: Vec<EventRow>,
    pub first_disappeared_at_s: Option<f64>,
    pub declared_at_s: Option<f64>,
    pub final_state: String,
    /// The channel's verdict at the end (`crate::detect::verdict`): `final_state`, or
    /// `cannot_judge` when its last sweeps could not be judged or the source failed.
    pub verdict: &'static str,
    /// Why it cannot be judged (`null` when it can).
    pub verdict_reason: Option<String>,
    pub sweeps_present: u64,
    pub sweeps_absent: u64,
    pub sweeps_rejected: u64,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct MarkerRow {
    pub time_s: f64,
    pub label: String,
}

/// The whole result.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Analysis {
    pub schema: &'static str,
    pub source: SourceSummary,
    pub settings: Settings,
    pub sweeps: Vec<SweepRow>,
    pub channels: Vec<ChannelSummary>,
    pub markers: Vec<MarkerRow>,
    pub counters: BTreeMap<String, u64>,
}

/// Collects engine events into an [`Analysis`].
#[derive(Clone, Debug)]
pub struct Collector {
    labels: Vec<String>,
    pub sweeps: Vec<KeptSweep>,
    /// Keep every sweep's measures (the per-sweep table); off, only the summaries grow.
    keep_sweeps: bool,
    channels: BTreeMap<usize, ChannelSummary>,
    verdicts: VerdictBook,
    source_failed: bool,
    pub mains_hz: Option<f64>,
}

impl Collector {
    pub fn new(info: &SourceInfo) -> Self {
        Self {
            labels: info.channels.iter().map(|c| c.label.clone()).collect(),
            sweeps: Vec::new(),
            keep_sweeps: true,
            channels: BTreeMap::new(),
            verdicts: VerdictBook::default(),
            source_failed: false,
            mains_hz: None,
        }
    }

    /// A collector for the channel summaries and counters only: [`Self::finish`] gives an
    /// empty per-sweep table, and memory does not grow with the number of sweeps (a live
    /// session that writes neither `--json` nor `--report` needs nothing more).
    pub fn summaries_only(info: &SourceInfo) -> Self {
        Self {
            keep_sweeps: false,
            ..Self::new(info)
        }
    }

    fn summary(&mut self, ch: usize) -> &mut ChannelSummary {
        let label = self.labels.get(ch).cloned().unwrap_or_default();
        self.channels.entry(ch).or_insert_with(|| ChannelSummary {
            channel: label,
            baseline_present: None,
            baseline_p2p_uv: None,
            baseline_onset_ms: None,
            baseline_established_at_s: None,
            events: Vec::new(),
            first_disappeared_at_s: None,
            declared_at_s: None,
            final_state: MonitorState::Baseline.as_str().into(),
            verdict: VerdictKind::Baseline.as_str(),
            verdict_reason: None,
            sweeps_present: 0,
            sweeps_absent: 0,
            sweeps_rejected: 0,
        })
    }

    pub fn push(&mut self, e: &EngineEvent) {
        self.verdicts.apply(e);
        match e {
            EngineEvent::Stimulus(_) => {}
            EngineEvent::Sweep(r) => {
                if self.keep_sweeps {
                    let v = self
                        .verdicts
                        .verdict(r.channel, Now::at_sweep(r.stim_time_s));
                    self.sweeps.push(KeptSweep {
                        verdict: v.as_ref().map_or(VerdictKind::Baseline, |v| v.kind()),
                        verdict_why: v.and_then(|v| v.cannot_judge_why()),
                        ..KeptSweep::from(r)
                    });
                }
                let s = self.summary(r.channel);
                match r.status {
                    SweepStatus::Present => s.sweeps_present += 1,
                    SweepStatus::Absent => s.sweeps_absent += 1,
                    SweepStatus::Rejected => s.sweeps_rejected += 1,
                }
                s.final_state = r.state.as_str().into();
            }
            EngineEvent::Baseline(b) => {
                let s = self.summary(b.channel);
                s.baseline_present = Some(b.present);
                s.baseline_p2p_uv = b.present.then(|| round(b.p2p_uv as f64, 2));
                s.baseline_onset_ms = if b.present { opt(b.onset_ms, 3) } else { None };
                s.baseline_established_at_s = Some(round(b.established_at_s, 6));
                s.final_state = if b.present { "present" } else { "no_baseline" }.into();
            }
            EngineEvent::State(ev) => {
                let s = self.summary(ev.channel);
                s.events.push(EventRow {
                    time_s: round(ev.time_s, 6),
                    declared_at_s: round(ev.declared_at_s, 6),
                    state: ev.state.as_str().into(),
                });
                if ev.state == MonitorState::Absent
                    && s.first_disappeared_at_s.is_none()
                    && s.baseline_present == Some(true)
                {
                    s.first_disappeared_at_s = Some(round(ev.time_s, 6));
                    s.declared_at_s = Some(round(ev.declared_at_s, 6));
                }
            }
            EngineEvent::Mains(hz) => self.mains_hz = *hz,
        }
    }

    /// The source failed: at the end, no channel can be judged.
    pub fn source_failed(&mut self) {
        self.source_failed = true;
    }

    /// The verdict each channel ends with: the state as it stands, or `cannot_judge` when
    /// its last sweeps could not be judged or the source failed.
    fn final_verdict(&self, ch: usize, c: &ChannelSummary) -> (&'static str, Option<String>) {
        let now = Now {
            stream_s: 0.0,
            ended: true,
            source_failed: self.source_failed,
        };
        match self.verdicts.verdict(ch, now) {
            Some(v) => (v.kind().as_str(), v.reason()),
            None => (c.verdict, None),
        }
    }

    /// Channel summaries collected so far, each with its verdict as it stands.
    pub fn channel_summaries(&self) -> Vec<ChannelSummary> {
        self.channels
            .iter()
            .map(|(&ch, c)| {
                let (verdict, verdict_reason) = self.final_verdict(ch, c);
                ChannelSummary {
                    verdict,
                    verdict_reason,
                    ..c.clone()
                }
            })
            .collect()
    }

    /// Builds the result. Times inside the engine are stream times (from the first sample);
    /// `offset_s` (the series' starting time) moves them to the file's time zero.
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        &self,
        path: &str,
        info: &SourceInfo,
        settings: &Settings,
        timing: &str,
        markers: &[Marker],
        counters: &EngineCounters,
        frames: u64,
        offset_s: f64,
    ) -> Analysis {
        let shift = |t: Option<f64>| t.map(|v| round(v + offset_s, 6));
        let mut c = BTreeMap::new();
        c.insert("frames".to_string(), counters.frames);
        c.insert("stimuli".to_string(), counters.stimuli);
        c.insert("stimuli_dropped".to_string(), counters.stimuli_dropped);
        c.insert("gaps".to_string(), counters.gaps);
        c.insert("lost_frames".to_string(), counters.lost_frames);
        c.insert("sweeps_present".to_string(), counters.sweeps_present);
        c.insert("sweeps_absent".to_string(), counters.sweeps_absent);
        c.insert("sweeps_rejected".to_string(), counters.sweeps_rejected);
        for (r, n) in REJECT_REASONS.iter().zip(counters.rejected_by_reason) {
            c.insert(format!("rejected_{}", r.as_str()), n);
        }
        let mut markers: Vec<MarkerRow> = markers
            .iter()
            .map(|m| MarkerRow {
                time_s: round(m.time_s, 6),
                label: m.label.clone(),
            })
            .collect();
        markers.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        Analysis {
            schema: SCHEMA,
            source: SourceSummary {
                path: path.to_string(),
                sample_rate_hz: info.sample_rate_hz,
                duration_s: round(frames as f64 / info.sample_rate_hz, 6),
                channels: info
                    .channels
                    .iter()
                    .enumerate()
                    .map(|(i, ch)| ChannelRow {
                        index: i,
                        label: ch.label.clone(),
                        muscle: ch.muscle.name().into(),
                        role: ch.role.name().into(),
                    })
                    .collect(),
                stimulus_timing: timing.to_string(),
                mains_hz: self.mains_hz,
            },
            settings: settings.clone(),
            sweeps: self
                .sweeps
                .iter()
                .map(|r| SweepRow::new(r, &self.labels[r.channel], offset_s))
                .collect(),
            channels: self
                .channel_summaries()
                .into_iter()
                .map(|c| ChannelSummary {
                    baseline_established_at_s: shift(c.baseline_established_at_s),
                    first_disappeared_at_s: shift(c.first_disappeared_at_s),
                    declared_at_s: shift(c.declared_at_s),
                    events: c
                        .events
                        .iter()
                        .map(|e| EventRow {
                            time_s: round(e.time_s + offset_s, 6),
                            declared_at_s: round(e.declared_at_s + offset_s, 6),
                            state: e.state.clone(),
                        })
                        .collect(),
                    ..c.clone()
                })
                .collect(),
            markers,
            counters: c,
        }
    }
}
