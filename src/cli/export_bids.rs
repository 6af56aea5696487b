//! BIDS-EMG sidecars for an exported file (draft BEP 42): `<base>_emg.json`,
//! `<base>_channels.tsv` and `<base>_events.tsv`, where `<base>` is the exported file's name
//! without its extension and without a trailing `_emg`.

use std::path::Path;

use crate::edf::tal::Annotation;
use crate::edf::time::{format_ticks, s_from_ticks};
use crate::edf::Header;
use crate::model::Role;
use crate::source::SourceInfo;

use super::export::write_atomic;

#[allow(clippy::too_many_arguments)]
pub fn write(
    dir: &Path,
    out: &Path,
    header: &Header,
    info: &SourceInfo,
    notes: &[Annotation],
    frac: i64,
    frames: u64,
    mains_hz: Option<f64>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let stem = out
        .file_stem()
        .map_or_else(|| "export".into(), |s| s.to_string_lossy().into_owned());
    let base = stem.strip_suffix("_emg").unwrap_or(&stem).to_string();
    let count = |r: Role| info.channels.iter().filter(|c| c.role == r).count();
    let rate = info.sample_rate_hz;
    let json = serde_json::json!({
        "TaskName": "lsrmonitoring",
        "TaskDescription": "lateral spread response monitoring during microvascular decompression",
        "SamplingFrequency": rate,
        "RecordingDuration": frames as f64 / rate,
        "RecordingType": "continuous",
        "EMGChannelCount": count(Role::Emg),
        "TriggerChannelCount": count(Role::Trigger),
        "MiscChannelCount": count(Role::Other),
        "EMGReference": "n/a",
        "EMGPlacementScheme": "Other",
        "PowerLineFrequency": mains_hz.map_or(serde_json::json!("n/a"), |m| serde_json::json!(m)),
        "SoftwareFilters": "n/a",
        "SoftwareVersions": format!("lsrmon {}", env!("CARGO_PKG_VERSION")),
        "Notes": "Exported by lsrmon, a research and teaching tool, not a medical device.",
    });
    let text = serde_json::to_string_pretty(&json).map_err(std::io::Error::other)? + "\n";
    write_atomic(&dir.join(format!("{base}_emg.json")), &text)?;

    let mut tsv = String::from("name\ttype\tunits\tsampling_frequency\tdescription\tresolution\n");
    for (ch, s) in info.channels.iter().zip(&header.signals) {
        let kind = match ch.role {
            Role::Emg => "EMG",
            Role::Trigger => "TRIG",
            Role::Other => "MISC",
        };
        tsv.push_str(&format!(
            "{}\t{kind}\t{}\t{rate}\t{}\t{}\n",
            ch.label,
            s.physical_dimension,
            ch.muscle.name(),
            s.gain()
        ));
    }
    write_atomic(&dir.join(format!("{base}_channels.tsv")), &tsv)?;

    let mut ev = String::from("onset\tduration\ttrial_type\tvalue\n");
    for n in notes {
        let kind = if n.text.starts_with("stimulus") {
            "stimulus"
        } else if n.text.starts_with(crate::edf::STATE_PREFIX) {
            "state_change"
        } else if n.text.starts_with("end of recording") {
            "padding"
        } else {
            "marker"
        };
        let onset = s_from_ticks(n.onset - frac);
        ev.push_str(&format!(
            "{}\t{}\t{kind}\t{}\n",
            format_ticks(crate::edf::time::ticks_from_s(onset)),
            n.duration.map_or("n/a".into(), format_ticks),
            n.text.replace(['\t', '\n'], " ")
        ));
    }
    write_atomic(&dir.join(format!("{base}_events.tsv")), &ev)
}
