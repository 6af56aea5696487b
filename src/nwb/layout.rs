//! Names and paths of the session layout (see `docs/session-format`, NWB 2.x on HDF5).
//!
//! One place for every group, dataset, column and attribute name the recorder writes and the
//! reader looks for, so the two cannot drift apart. Column lists are in `@colnames` order.

/// NWB version written to `/@nwb_version`. The layout is valid against core 2.7 to 2.11;
/// 2.9.0 is the newest that pynwb 3.x and MatNWB both bundle.
pub const NWB_VERSION: &str = "2.9.0";

pub const ACQUISITION: &str = "acquisition";
pub const ANALYSIS: &str = "analysis";
pub const GENERAL: &str = "general";
pub const INTERVALS: &str = "intervals";
pub const PROCESSING: &str = "processing";
pub const STIMULUS_PRESENTATION: &str = "stimulus/presentation";
pub const STIMULUS_TEMPLATES: &str = "stimulus/templates";

/// The raw EMG `TimeSeries`.
pub const EMG_RAW: &str = "/acquisition/emg_raw";
pub const EMG_RAW_NAME: &str = "emg_raw";
/// One row per column of `emg_raw/data`.
pub const EMG_CHANNELS: &str = "/acquisition/emg_channels";
/// Surgical markers (`AnnotationSeries`).
pub const SURGICAL_EVENTS: &str = "/acquisition/surgical_events";
/// Delivered stimuli (`TimeIntervals`).
pub const STIMULI: &str = "/intervals/stimuli";
/// Lost samples (`TimeIntervals`), so a replay rejects sweeps over them.
pub const GAPS: &str = "/intervals/gaps";
/// The processing module that holds the per-sweep results.
pub const ECEPHYS: &str = "/processing/ecephys";
/// Per-sweep, per-channel LSR results (`DynamicTable`).
pub const LSR_SWEEPS: &str = "/processing/ecephys/lsr_sweeps";
/// Final named counters (`DynamicTable` name/value).
pub const LSR_COUNTERS: &str = "/processing/ecephys/lsr_counters";
/// Every detection setting used, as JSON text. NWBFile's `data_collection` is "notes about
/// data collection and analysis": pynwb exposes it as `nwbfile.data_collection`.
pub const SETTINGS: &str = "/general/data_collection";

/// Marker events in NWB >= 2.11 files written by other tools (`EventsTable`s live here).
pub const EVENTS: &str = "/events";

/// Attribute holding the number of committed rows of an appended dataset or table while a
/// recording is live. Readers of a live or killed file trust only that many rows; `finish`
/// and `recover` remove it.
pub const COMMITTED_ROWS: &str = "lsrmon_committed_rows";

/// `kind` value of a gap whose samples were lost before they reached the program: the
/// frames are absent from the file too.
pub const GAP_KIND_SOURCE: &str = "source";
/// `kind` value of a gap whose samples the recorder could not keep up with: the file holds
/// zeros there (so file time stays equal to stream time) and a replay skips them.
pub const GAP_KIND_RECORDER: &str = "recorder";

/// What a table column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColKind {
    F64,
    I64,
    Str,
}

/// A column: name, kind, `@description`.
pub type ColDef = (&'static str, ColKind, &'static str);

use ColKind::{Str, F64, I64};

pub const EMG_CHANNEL_COLUMNS: &[ColDef] = &[
    (
        "label",
        Str,
        "channel label, unique in the file (column of emg_raw/data, in order)",
    ),
    (
        "muscle",
        Str,
        "muscle the electrodes record from, or none for a non-EMG channel",
    ),
    ("role", Str, "emg, trigger (stimulator sync pulse) or other"),
    (
        "volts_per_unit",
        F64,
        "volts per stored unit of this channel's emg_raw/data column (equals data@conversion)",
    ),
    (
        "offset_volts",
        F64,
        "volts added after scaling (equals data@offset)",
    ),
    (
        "range_min",
        F64,
        "lowest value the device can report, in stored units (NaN if unknown)",
    ),
    (
        "range_max",
        F64,
        "highest value the device can report, in stored units (NaN if unknown)",
    ),
    (
        "trigger_branch",
        Str,
        "for a trigger channel: the nerve branch its sync pulses stimulate; else none",
    ),
];

pub const STIMULI_COLUMNS: &[ColDef] = &[
    ("start_time", F64, "stimulus time, in seconds"),
    (
        "stop_time",
        F64,
        "end of the pulse (start + pulse width, 0.2 ms if unknown), in seconds",
    ),
    ("branch", Str, "stimulated facial-nerve branch"),
    (
        "intensity_mA",
        F64,
        "stimulus intensity in milliamperes (NaN if unknown)",
    ),
    (
        "pulse_width_s",
        F64,
        "pulse width in seconds (NaN if unknown)",
    ),
    (
        "stim_index",
        I64,
        "running number of the stimulus (see lsr_sweeps.stim_index)",
    ),
];

pub const GAPS_COLUMNS: &[ColDef] = &[
    (
        "start_time",
        F64,
        "time of the first sample after the gap (source) or of the filled span",
    ),
    (
        "stop_time",
        F64,
        "start_time + duration of the lost samples, in seconds",
    ),
    ("frame", I64, "frame index in emg_raw/data where the gap is"),
    ("lost_frames", I64, "number of frames lost"),
    (
        "kind",
        Str,
        "source: samples lost before the recorder (absent from the file); recorder: samples the \
         recorder could not store (zeros in the file over lost_frames frames)",
    ),
];

pub const SWEEP_COLUMNS: &[ColDef] = &[
    ("stim_index", I64, "running number of the stimulus"),
    ("stim_time_s", F64, "stimulus time in seconds"),
    ("branch", Str, "stimulated facial-nerve branch"),
    (
        "channel",
        Str,
        "channel label (see acquisition/emg_channels)",
    ),
    (
        "status",
        Str,
        "present, absent or rejected (cannot be judged)",
    ),
    (
        "reject_reason",
        Str,
        "why the sweep was rejected; empty when it was not",
    ),
    ("lsr_p2p_uv", F64, "LSR peak-to-peak amplitude, microvolts"),
    (
        "lsr_onset_ms",
        F64,
        "LSR onset latency after the stimulus, ms (NaN = no LSR)",
    ),
    (
        "noise_p2p_uv",
        F64,
        "pre-stimulus noise peak-to-peak, microvolts",
    ),
    ("noise_rms_uv", F64, "pre-stimulus noise RMS, microvolts"),
    ("snr", F64, "RMS in the LSR window divided by the noise RMS"),
    (
        "direct_p2p_uv",
        F64,
        "direct response peak-to-peak, microvolts (NaN if not measured)",
    ),
    (
        "template_corr",
        F64,
        "correlation with the baseline LSR (NaN before a baseline)",
    ),
    (
        "percent_of_baseline",
        F64,
        "LSR amplitude in percent of baseline (NaN without one)",
    ),
    (
        "state",
        Str,
        "the channel's monitored state after this sweep",
    ),
    (
        "tail_removed_uv",
        F64,
        "stimulus-artifact tail removed before filtering, at the end of the blank, microvolts",
    ),
    (
        "tail_at_window_uv",
        F64,
        "the removed tail at the start of the LSR window, microvolts",
    ),
    (
        "evidence",
        F64,
        "this sweep's evidence that the LSR is gone, as the sequential criterion counted it",
    ),
    (
        "verdict",
        Str,
        "the channel's verdict after this sweep: baseline, present, appeared, absent, \
         no_baseline or cannot_judge",
    ),
    (
        "verdict_reason",
        Str,
        "why the channel cannot be judged; empty when it can",
    ),
];

pub const COUNTER_COLUMNS: &[ColDef] = &[
    (
        "counter",
        Str,
        "counter name (a `name` column would clash with the table's own name in pynwb)",
    ),
    ("value", I64, "final value"),
];

/// Data columns of the `AnnotationSeries` (not a table: no `id`, no `@colnames`).
pub const ANNOTATION_DATASETS: &[ColDef] = &[
    ("data", Str, "marker text"),
    ("timestamps", F64, "marker time in seconds"),
];

/// Every appended object: the group that carries the committed-row counter (for the EMG
/// data: the dataset itself), in the order `commit` and `recover` visit them.
pub const APPENDED_TABLES: &[&str] = &[STIMULI, GAPS, SURGICAL_EVENTS, LSR_SWEEPS, LSR_COUNTERS];
pub const EMG_DATA: &str = "/acquisition/emg_raw/data";

/// Filter ids of well-known HDF5 plugins, for error messages.
pub fn filter_name(id: i32) -> String {
    let name = match id {
        1 => "gzip/deflate",
        2 => "shuffle",
        3 => "fletcher32",
        4 => "szip",
        5 => "n-bit",
        6 => "scale-offset",
        307 => "bzip2",
        32000 => "LZF",
        32001 => "Blosc",
        32004 => "LZ4",
        32008 => "bitshuffle",
        32013 => "ZFP",
        32015 => "Zstandard (Zstd)",
        32017 => "SZ",
        32026 => "Blosc2",
        _ => return format!("HDF5 filter id {id}"),
    };
    format!("{name} (HDF5 filter id {id})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_unique_and_described() {
        for cols in [
            EMG_CHANNEL_COLUMNS,
            STIMULI_COLUMNS,
            GAPS_COLUMNS,
            SWEEP_COLUMNS,
            COUNTER_COLUMNS,
        ] {
            let mut names: Vec<_> = cols.iter().map(|c| c.0).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), cols.len());
            assert!(cols.iter().all(|c| !c.2.is_empty() && c.0 != "id"));
        }
        // TimeIntervals need start_time and stop_time first.
        assert_eq!(STIMULI_COLUMNS[0].0, "start_time");
        assert_eq!(GAPS_COLUMNS[1].0, "stop_time");
    }

    #[test]
    fn filter_names() {
        assert_eq!(filter_name(32001), "Blosc (HDF5 filter id 32001)");
        assert_eq!(filter_name(999), "HDF5 filter id 999");
    }
}
