//! The case's class by surgical phase: *when* the LSR went, read from the technician's markers.
//!
//! The classes are those of the published series (Al Menabbawy et al. 2025): not detected at
//! baseline, persisted, gone during opening, gone during dissection, gone after
//! decompression; plus "unknown phase" when the markers needed to place the disappearance
//! are missing, and "no baseline" when the baseline was never completed.
//!
//! Marker labels map to surgical steps by name, case-insensitively, with a few usual synonyms
//! ("Teflon placed" is "pad placed"); the dashboard's marker keys write the standard labels
//! ([`SurgicalStep::label`]). Phases, in time order:
//!
//! - *opening*: from the end of the baseline until "arachnoid dissection" (dural opening and
//!   CSF release; also anything before "dura opened");
//! - *dissection*: from "arachnoid dissection" (or, without it, "vessel identified") until
//!   "pad placed";
//! - *after decompression*: from the first "pad placed" on (a second vessel, the
//!   observation period and the closure included).

use serde::Serialize;

use crate::model::{Marker, SurgicalStep};

/// A channel's (or the case's) class by surgical phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum PhaseClass {
    /// No LSR at baseline: nothing could disappear.
    NotDetectedAtBaseline,
    /// The LSR was still there at the end of the case.
    Persisted,
    GoneDuringOpening,
    GoneDuringDissection,
    GoneAfterDecompression,
    /// The LSR went, but the markers needed to say in which phase are missing.
    UnknownPhase,
    /// The baseline was never completed (too few judged sweeps, or no stimuli).
    NoBaseline,
}

impl PhaseClass {
    /// Words on the page.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotDetectedAtBaseline => "not detected at baseline",
            Self::Persisted => "persisted",
            Self::GoneDuringOpening => "gone during opening",
            Self::GoneDuringDissection => "gone during dissection",
            Self::GoneAfterDecompression => "gone after decompression",
            Self::UnknownPhase => "unknown phase",
            Self::NoBaseline => "no baseline",
        }
    }

    fn is_gone(self) -> bool {
        matches!(
            self,
            Self::GoneDuringOpening
                | Self::GoneDuringDissection
                | Self::GoneAfterDecompression
                | Self::UnknownPhase
        )
    }
}

/// The surgical step a marker label names, if any.
pub fn step_of(label: &str) -> Option<SurgicalStep> {
    let l = label.trim().to_ascii_lowercase();
    if let Some(s) = SurgicalStep::ALL.into_iter().find(|s| s.label() == l) {
        return Some(s);
    }
    const SYNONYMS: [(&str, SurgicalStep); 9] = [
        ("teflon placed", SurgicalStep::PadPlaced),
        ("teflon", SurgicalStep::PadPlaced),
        ("decompression", SurgicalStep::PadPlaced),
        ("dural opening", SurgicalStep::DuraOpened),
        ("dura open", SurgicalStep::DuraOpened),
        ("csf release", SurgicalStep::ArachnoidDissection),
        ("csf released", SurgicalStep::ArachnoidDissection),
        ("dissection", SurgicalStep::ArachnoidDissection),
        ("dural closure", SurgicalStep::DuraClosed),
    ];
    SYNONYMS
        .iter()
        .find(|(s, _)| *s == l)
        .map(|(_, step)| *step)
}

/// First time of a step among the markers.
fn first(markers: &[Marker], step: SurgicalStep) -> Option<f64> {
    markers
        .iter()
        .filter(|m| step_of(&m.label) == Some(step))
        .map(|m| m.time_s)
        .min_by(f64::total_cmp)
}

/// The phase a disappearance at `t` (file time, s) falls in, from the markers.
pub fn phase_at(markers: &[Marker], t: f64) -> PhaseClass {
    let dura = first(markers, SurgicalStep::DuraOpened);
    let arachnoid = first(markers, SurgicalStep::ArachnoidDissection);
    let vessel = first(markers, SurgicalStep::VesselIdentified);
    let pad = first(markers, SurgicalStep::PadPlaced);
    if pad.is_some_and(|p| t >= p) {
        return PhaseClass::GoneAfterDecompression;
    }
    let dissecting = arachnoid.or(vessel).is_some_and(|d| t >= d);
    if dissecting {
        // Dissection had begun; without a "pad placed" marker the decompression may have
        // happened before t, unmarked.
        return if pad.is_some() {
            PhaseClass::GoneDuringDissection
        } else {
            PhaseClass::UnknownPhase
        };
    }
    if arachnoid.is_some_and(|a| t < a) || dura.is_some_and(|d| t < d) {
        return PhaseClass::GoneDuringOpening;
    }
    PhaseClass::UnknownPhase
}

/// What the class of one channel depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelCourse {
    /// `Some(false)`: no LSR at baseline; `None`: the baseline was never completed.
    pub baseline_present: Option<bool>,
    /// The state at the end of the case.
    pub final_absent: bool,
    /// Start of the lasting disappearance (the last change to absent), file time, s.
    pub lasting_disappearance_s: Option<f64>,
}

/// The class of one channel: the phase of its *lasting* disappearance (the last change to
/// absent, when the case ended absent); a transient disappearance that came back is not a
/// disappearance.
pub fn classify(course: &ChannelCourse, markers: &[Marker]) -> PhaseClass {
    match course.baseline_present {
        None => PhaseClass::NoBaseline,
        Some(false) => PhaseClass::NotDetectedAtBaseline,
        Some(true) => match (course.final_absent, course.lasting_disappearance_s) {
            (true, Some(t)) => phase_at(markers, t),
            _ => PhaseClass::Persisted,
        },
    }
}

/// The case's class from its channels' classes: the LSR is gone from the case when it is
/// gone from every muscle that had one, so the latest phase among them counts; one muscle
/// whose LSR persisted makes the case "persisted"; no muscle with an LSR at baseline makes
/// it "not detected at baseline".
pub fn case_class(classes: &[PhaseClass]) -> PhaseClass {
    if classes.is_empty() || classes.iter().all(|c| *c == PhaseClass::NoBaseline) {
        return PhaseClass::NoBaseline;
    }
    if classes.contains(&PhaseClass::Persisted) {
        return PhaseClass::Persisted;
    }
    let gone: Vec<PhaseClass> = classes.iter().copied().filter(|c| c.is_gone()).collect();
    if gone.is_empty() {
        return if classes.contains(&PhaseClass::NotDetectedAtBaseline) {
            PhaseClass::NotDetectedAtBaseline
        } else {
            PhaseClass::NoBaseline
        };
    }
    if gone.contains(&PhaseClass::UnknownPhase) {
        return PhaseClass::UnknownPhase;
    }
    gone.into_iter().max().unwrap_or(PhaseClass::UnknownPhase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: f64, label: &str) -> Marker {
        Marker {
            time_s: t,
            label: label.into(),
        }
    }

    fn standard() -> Vec<Marker> {
        vec![
            m(10.0, "baseline"),
            m(100.0, "dura opened"),
            m(200.0, "arachnoid dissection"),
            m(300.0, "vessel identified"),
            m(400.0, "pad placed"),
            m(500.0, "second vessel"),
            m(700.0, "dura closed"),
        ]
    }

    #[test]
    fn labels_map_to_steps_with_synonyms() {
        assert_eq!(step_of(" Pad Placed "), Some(SurgicalStep::PadPlaced));
        assert_eq!(step_of("Teflon placed"), Some(SurgicalStep::PadPlaced));
        assert_eq!(
            step_of("CSF release"),
            Some(SurgicalStep::ArachnoidDissection)
        );
        assert_eq!(step_of("coffee"), None);
    }

    #[test]
    fn phases_follow_the_markers() {
        let mk = standard();
        assert_eq!(phase_at(&mk, 50.0), PhaseClass::GoneDuringOpening);
        assert_eq!(phase_at(&mk, 150.0), PhaseClass::GoneDuringOpening);
        assert_eq!(phase_at(&mk, 250.0), PhaseClass::GoneDuringDissection);
        assert_eq!(phase_at(&mk, 350.0), PhaseClass::GoneDuringDissection);
        assert_eq!(phase_at(&mk, 400.0), PhaseClass::GoneAfterDecompression);
        assert_eq!(phase_at(&mk, 600.0), PhaseClass::GoneAfterDecompression);
    }

    #[test]
    fn missing_markers_give_unknown_phase() {
        assert_eq!(phase_at(&[], 250.0), PhaseClass::UnknownPhase);
        // Dissection begun, no pad marker: decompression may have happened unmarked.
        let no_pad = vec![m(100.0, "dura opened"), m(200.0, "arachnoid dissection")];
        assert_eq!(phase_at(&no_pad, 250.0), PhaseClass::UnknownPhase);
        assert_eq!(phase_at(&no_pad, 150.0), PhaseClass::GoneDuringOpening);
        // Only a pad marker: before it, opening or dissection cannot be told apart.
        let pad_only = vec![m(400.0, "Teflon placed")];
        assert_eq!(phase_at(&pad_only, 300.0), PhaseClass::UnknownPhase);
        assert_eq!(
            phase_at(&pad_only, 450.0),
            PhaseClass::GoneAfterDecompression
        );
    }

    #[test]
    fn a_channel_is_classed_by_its_lasting_disappearance() {
        let mk = standard();
        let c = |b, fa, t| ChannelCourse {
            baseline_present: b,
            final_absent: fa,
            lasting_disappearance_s: t,
        };
        assert_eq!(classify(&c(None, false, None), &mk), PhaseClass::NoBaseline);
        assert_eq!(
            classify(&c(Some(false), false, None), &mk),
            PhaseClass::NotDetectedAtBaseline
        );
        // Gone during dissection but back at the end: persisted.
        assert_eq!(
            classify(&c(Some(true), false, Some(250.0)), &mk),
            PhaseClass::Persisted
        );
        assert_eq!(
            classify(&c(Some(true), true, Some(410.0)), &mk),
            PhaseClass::GoneAfterDecompression
        );
    }

    #[test]
    fn the_case_class_combines_the_muscles() {
        use PhaseClass::*;
        assert_eq!(
            case_class(&[GoneDuringOpening, GoneAfterDecompression]),
            GoneAfterDecompression
        );
        assert_eq!(case_class(&[GoneDuringOpening, Persisted]), Persisted);
        assert_eq!(
            case_class(&[NotDetectedAtBaseline, GoneDuringDissection]),
            GoneDuringDissection
        );
        assert_eq!(
            case_class(&[NotDetectedAtBaseline, NotDetectedAtBaseline]),
            NotDetectedAtBaseline
        );
        assert_eq!(case_class(&[UnknownPhase, GoneDuringOpening]), UnknownPhase);
        assert_eq!(case_class(&[]), NoBaseline);
    }
}
