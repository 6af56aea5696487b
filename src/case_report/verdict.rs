//! The one-line verdict a surgeon reads, per muscle. The only place this line is written.
//!
//! Built from what the analysis result gives (baseline, state changes, final state) and the
//! report's final measures; "cannot judge" reasons per sweep are counted in the quality
//! section.

use crate::model::Marker;
use crate::report::{after_marker, clock};

use super::model::MuscleReport;

fn when(markers: &[Marker], t: f64) -> String {
    after_marker(markers, t).unwrap_or_else(|| format!("at {}", clock(t)))
}

fn final_part(m: &MuscleReport) -> String {
    match (m.ratio_pct, &m.final_measures) {
        (Some(r), _) => format!("final {r:.0} % of baseline"),
        (None, Some(f)) => format!("final {:.0} µV", f.p2p_uv),
        (None, None) => "too few judged sweeps at the end for a final amplitude".to_string(),
    }
}

/// The verdict line of one muscle.
pub fn line(m: &MuscleReport, markers: &[Marker], baseline_sweeps: u32) -> String {
    match m.baseline_present {
        None => {
            let judged = m.sweeps_present + m.sweeps_absent;
            if judged + m.sweeps_rejected == 0 {
                "No sweeps: the LSR could not be judged".to_string()
            } else {
                format!(
                    "Baseline never completed ({judged} judged sweeps of {baseline_sweeps} \
                     needed): the LSR could not be judged"
                )
            }
        }
        Some(false) => {
            "No LSR at baseline: nothing could disappear".to_string()
                + &m.final_measures
                    .as_ref()
                    .map(|f| format!(" (final {:.0} µV)", f.p2p_uv))
                    .unwrap_or_default()
        }
        Some(true) => {
            if let (Some(t), Some(d)) = (m.lasting_disappearance_s, m.lasting_declared_s) {
                let back = match m.returns {
                    0 => String::new(),
                    1 => " (after 1 return)".to_string(),
                    n => format!(" (after {n} returns)"),
                };
                format!(
                    "LSR disappeared {}, declared {}{back}, {}",
                    when(markers, t),
                    clock(d),
                    final_part(m)
                )
            } else if let Some(t) = m.first_disappeared_at_s {
                format!(
                    "LSR disappeared {} but came back and persisted to the end, {}",
                    when(markers, t),
                    final_part(m)
                )
            } else {
                format!("LSR persisted to the end of the case, {}", final_part(m))
            }
        }
    }
}
