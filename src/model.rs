//! The vocabulary of the monitor: channels, muscles, stimuli, sweeps, verdicts.
//!
//! These types are shared by every stage (acquisition, conditioning, detection, the session
//! file, the dashboard). They are plain data: no behaviour beyond naming and parsing, so that a
//! technologist reading a result, a JSON file or an NWB table finds the same words.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A facial muscle an EMG channel records from (the session format's `muscle` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Muscle {
    OrbicularisOculi,
    OrbicularisOris,
    Mentalis,
    Frontalis,
    Nasalis,
    Other,
    /// Not an EMG channel (trigger, spare input).
    None,
}

/// What a recorded channel carries (the session format's `role` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Emg,
    /// The stimulator's sync pulse, recorded on the same ADC.
    Trigger,
    Other,
}

/// The facial-nerve branch a stimulus was delivered to (the stimuli table's `branch` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Branch {
    /// Zygomatic, also used for the temporal branch.
    Zygomatic,
    MarginalMandibular,
    Buccal,
    Other,
}

/// Native sample type of a source: the session file stores samples in this type, with a
/// conversion factor to volts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleFormat {
    I16,
    U16,
    I32,
    F32,
}

/// One input channel of a source, with its calibration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// Unique within a session, e.g. `mentalis`, `oculi_2`, `trigger`.
    pub label: String,
    pub muscle: Muscle,
    pub role: Role,
    /// Volts per device unit: value in volts = sample x `volts_per_unit` + `offset_volts`
    /// (the NWB `conversion` and `offset`).
    pub volts_per_unit: f64,
    pub offset_volts: f64,
    /// The device's representable range in device units, when known; samples at the rails
    /// mean the amplifier or converter saturated.
    pub range_units: Option<(f64, f64)>,
    /// For a trigger channel: the branch its sync pulses stimulate.
    pub trigger_branch: Option<Branch>,
}

impl ChannelInfo {
    /// Microvolts per device unit.
    pub fn uv_per_unit(&self) -> f64 {
        self.volts_per_unit * 1e6
    }
    /// Offset in microvolts.
    pub fn offset_uv(&self) -> f64 {
        self.offset_volts * 1e6
    }
}

/// A stimulus delivered to the nerve, timed to a fraction of a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stimulus {
    /// Running number, from 0, in stream order.
    pub index: u64,
    /// Time in frames from the start of the stream (frame index plus fraction).
    pub frame_time: f64,
    pub branch: Branch,
    /// Stimulus intensity if known, else NaN.
    pub intensity_ma: f32,
    /// Pulse width in seconds if known, else NaN.
    pub pulse_width_s: f32,
}

/// Verdict on one sweep of one channel (the analysis contract's `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepStatus {
    /// An LSR is there.
    Present,
    /// The sweep is clean and no LSR is there.
    Absent,
    /// The sweep cannot be judged; `reject_reason` says why. Never counts as absent.
    Rejected,
}

/// Why a sweep cannot be judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Broadband, high-amplitude energy (electrocautery or a similar interference).
    Electrocautery,
    /// The amplifier or converter hit its rails outside the stimulus-artifact blanking.
    Saturation,
    /// Samples were lost inside the sweep (device overrun, serial framing errors, gap).
    LostSamples,
    /// The stimulated branch's own muscle did not answer: the stimulus did not reach the
    /// nerve, or neuromuscular blockade. Without it, an absence means nothing.
    NoDirectResponse,
    /// Spontaneous EMG activity (a burst or spasm) before the stimulus: the noise floor is
    /// not a noise floor.
    SpontaneousActivity,
    /// Evidence too weak either way: neither clearly present nor clearly absent.
    Equivocal,
    /// The sweep runs past the start or the end of the recording.
    Incomplete,
}

impl SweepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Present => "present",
            Self::Absent => "absent",
            Self::Rejected => "rejected",
        }
    }
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Electrocautery => "electrocautery",
            Self::Saturation => "saturation",
            Self::LostSamples => "lost_samples",
            Self::NoDirectResponse => "no_direct_response",
            Self::SpontaneousActivity => "spontaneous_activity",
            Self::Equivocal => "equivocal",
            Self::Incomplete => "incomplete",
        }
    }
    /// Words for people (dashboard, headless output).
    pub fn describe(self) -> &'static str {
        match self {
            Self::Electrocautery => "electrocautery",
            Self::Saturation => "amplifier saturated",
            Self::LostSamples => "signal lost",
            Self::NoDirectResponse => "no direct response",
            Self::SpontaneousActivity => "spontaneous EMG",
            Self::Equivocal => "equivocal",
            Self::Incomplete => "incomplete sweep",
        }
    }
}

/// The monitored state of one LSR channel (the analysis contract's `final_state` and
/// event `state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorState {
    /// Still collecting the baseline sweeps.
    Baseline,
    Present,
    Absent,
    /// No LSR at baseline: nothing can disappear.
    NoBaseline,
    /// No LSR at baseline, but a response with the look of an LSR (onset in the
    /// physiological range, above the amplitude floor) has appeared since: its own state,
    /// never `present` (there is no baseline LSR it could be the return of).
    Appeared,
}

impl MonitorState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Present => "present",
            Self::Absent => "absent",
            Self::NoBaseline => "no_baseline",
            Self::Appeared => "appeared",
        }
    }
}

/// Number of points in the display trace carried by every sweep result (for the dashboard:
/// the sweep from `-display_pre_ms` to `+display_post_ms`, decimated by peak-preserving
/// min/max so that a spike stays visible).
pub const DISPLAY_POINTS: usize = 256;

/// Everything measured on one sweep of one channel. Fixed size (no heap), so it can cross
/// a bounded channel from the DSP thread without allocating.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepResult {
    pub stim_index: u64,
    /// Stimulus time in seconds from the stream's time zero.
    pub stim_time_s: f64,
    pub branch: Branch,
    /// Index of the channel in the source's channel list.
    pub channel: usize,
    pub status: SweepStatus,
    pub reject_reason: Option<RejectReason>,
    /// LSR peak-to-peak in the LSR window, microvolts (after crosstalk removal).
    pub lsr_p2p_uv: f32,
    /// Onset latency of the LSR in ms after the stimulus, if an LSR was found.
    pub lsr_onset_ms: Option<f32>,
    /// Peak-to-peak of the pre-stimulus noise over a span as long as the LSR window.
    pub noise_p2p_uv: f32,
    /// RMS of the pre-stimulus noise, microvolts.
    pub noise_rms_uv: f32,
    /// RMS in the LSR window divided by the noise RMS.
    pub snr: f32,
    /// Best normalised correlation with the patient's baseline LSR (NaN before a baseline).
    pub template_corr: f32,
    /// Direct-response peak-to-peak for this stimulus, microvolts (NaN if not measured).
    pub direct_p2p_uv: f32,
    /// Crosstalk gain removed from this channel (LSR channel / direct channel).
    pub crosstalk_gain: f32,
    /// The stimulus artifact's tail removed before filtering: its size at the end of the
    /// blanking period and at the start of the LSR window, µV (signed; 0 when none).
    pub tail_removed_uv: f32,
    pub tail_at_window_uv: f32,
    /// This sweep's evidence that the LSR is gone, as the sequential criterion counted it
    /// (up to 1 for a flat sweep, negative for a present one, 0 when it cannot be judged).
    pub evidence: f32,
    /// The channel's monitored state after this sweep.
    pub state: MonitorState,
    /// Percentage of the baseline LSR amplitude (NaN without a baseline).
    pub percent_of_baseline: f32,
    /// Conditioned sweep for display, microvolts (see [`DISPLAY_POINTS`]).
    pub trace: [f32; DISPLAY_POINTS],
    /// The direct response for display: the conditioned sweep of the direct channel that gave
    /// `direct_p2p_uv`, the same points and span as `trace` (zeros when it was not measured:
    /// no direct channel, or an incomplete sweep).
    pub direct_trace: [f32; DISPLAY_POINTS],
}

/// A change of a channel's monitored state, as announced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StateEvent {
    pub channel: usize,
    pub state: MonitorState,
    /// Stimulus time of the first sweep of the run that caused the change.
    pub time_s: f64,
    /// Stimulus time of the sweep at which the change was declared.
    pub declared_at_s: f64,
}

/// The baseline of one LSR channel, once established.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BaselineInfo {
    pub channel: usize,
    pub present: bool,
    /// Median LSR peak-to-peak of the baseline sweeps that showed one.
    pub p2p_uv: f32,
    /// Median onset latency of those sweeps, ms.
    pub onset_ms: f32,
    /// Stimulus time of the sweep that completed the baseline.
    pub established_at_s: f64,
    /// Baseline average sweep for display (same points as [`SweepResult::trace`]).
    pub trace: [f32; DISPLAY_POINTS],
}

/// A surgical marker (a step of the operation, or free text).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    pub time_s: f64,
    pub label: String,
}

/// The usual steps of an MVD that a technologist marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SurgicalStep {
    Baseline,
    DuraOpened,
    ArachnoidDissection,
    VesselIdentified,
    PadPlaced,
    SecondVessel,
    DuraClosed,
}

impl SurgicalStep {
    pub const ALL: [Self; 7] = [
        Self::Baseline,
        Self::DuraOpened,
        Self::ArachnoidDissection,
        Self::VesselIdentified,
        Self::PadPlaced,
        Self::SecondVessel,
        Self::DuraClosed,
    ];
    /// The marker text written to the session file.
    pub fn label(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::DuraOpened => "dura opened",
            Self::ArachnoidDissection => "arachnoid dissection",
            Self::VesselIdentified => "vessel identified",
            Self::PadPlaced => "pad placed",
            Self::SecondVessel => "second vessel",
            Self::DuraClosed => "dura closed",
        }
    }
}

macro_rules! str_enum {
    ($t:ty, $($v:ident => $s:literal),+ $(,)?) => {
        impl $t {
            /// The spelling used in files, JSON and on the command line.
            pub fn name(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($s => Ok(Self::$v),)+
                    other => Err(format!(
                        "'{}' is not one of: {}",
                        other,
                        [$($s),+].join(", ")
                    )),
                }
            }
        }
    };
}

str_enum!(Muscle,
    OrbicularisOculi => "orbicularis_oculi",
    OrbicularisOris => "orbicularis_oris",
    Mentalis => "mentalis",
    Frontalis => "frontalis",
    Nasalis => "nasalis",
    Other => "other",
    None => "none",
);
str_enum!(Role, Emg => "emg", Trigger => "trigger", Other => "other");
str_enum!(Branch,
    Zygomatic => "zygomatic",
    MarginalMandibular => "marginal_mandibular",
    Buccal => "buccal",
    Other => "other",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in [Muscle::Mentalis, Muscle::OrbicularisOculi, Muscle::None] {
            assert_eq!(m.name().parse::<Muscle>().unwrap(), m);
        }
        assert_eq!(
            "Marginal_Mandibular".parse::<Branch>().unwrap(),
            Branch::MarginalMandibular
        );
        assert!("thumb".parse::<Muscle>().unwrap_err().contains("mentalis"));
    }
}
