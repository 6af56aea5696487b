//! The detection criterion in words and every setting as a flat list, for the quality
//! section: a reader can audit a verdict without the program.

use crate::settings::Settings;

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The criterion, in sentences, with the values actually used.
pub fn criterion(s: &Settings) -> Vec<String> {
    let mains = serde_json::to_value(s.conditioning.mains)
        .map(|v| json_text(&v))
        .unwrap_or_else(|_| "?".into());
    let [w0, w1] = s.measure.lsr_window_ms;
    let c = &s.criterion;
    let mut absent = format!(
        "A channel is declared absent by a sequential test: each judged sweep adds its \
         evidence that the LSR is gone (1 for a flat sweep, less near the threshold or when it \
         still resembles the baseline LSR, negative for a present one; sweeps that cannot be \
         judged add nothing), and absent is declared when the sum reaches {} (a present sweep \
         with SNR of at least {} resets it)",
        c.absent_run, c.run_break_snr
    );
    if c.require_direct_response {
        absent.push_str(", every counted sweep with a direct response");
    }
    if c.check_run_average {
        absent.push_str(&format!(
            ", and only if the average of the run's latest sweeps shows no LSR either (SNR of \
             the average at most {}, or unlike the baseline LSR)",
            c.run_average_max_snr
        ));
    }
    absent.push_str(&format!(
        "; it is declared present again after {} consecutive present sweeps that match the \
         baseline LSR's shape. Without a baseline LSR a channel never turns present: an \
         LSR-like response there is reported as appeared.",
        c.present_run
    ));
    vec![
        format!(
            "Each sweep runs from {} ms before to {} ms after the stimulus. The stimulus artifact \
             is blanked from {} ms before to {} ms after the stimulus before any filtering; the \
             sweep is low-passed at {} Hz (high-pass {} Hz, 0 = offset and drift fit only) and \
             mains hum ({mains}, up to harmonic {}) is fitted and removed; crosstalk of the \
             direct response is subtracted using the direct-response channel.",
            s.sweep.pre_ms,
            s.sweep.post_ms,
            s.conditioning.artifact_pre_blank_ms,
            s.conditioning.artifact_blank_ms,
            s.conditioning.lowpass_hz,
            s.conditioning.highpass_hz,
            s.conditioning.mains_harmonics,
        ),
        format!(
            "A sweep is present when the largest {} ms RMS in the LSR window ({w0}-{w1} ms, \
             past any residue of the artifact or the crosstalk) reaches {} times the \
             pre-stimulus noise RMS and the response is an LSR: at least {} µV peak to peak, an \
             onset between {} and {} ms, and, once there is a baseline LSR, a correlation of at \
             least {} with it or an onset within {} ms of its onset; absent when it stays at or \
             below {} times and its peak-to-peak stays near the noise's, or when what is there \
             is not an LSR; in between it is equivocal and cannot be judged. The artifact's \
             tail after the blank is {}.",
            s.judge.snr_subwindow_ms,
            s.judge.present_snr,
            s.judge.min_lsr_uv,
            s.judge.lsr_onset_ms[0],
            s.judge.lsr_onset_ms[1],
            s.judge.template_min_corr,
            s.judge.onset_tolerance_ms,
            s.judge.absent_snr,
            if s.conditioning.artifact_tail {
                "fitted (exponential recovery) and removed before filtering"
            } else {
                "left as it is"
            }
        ),
        format!(
            "A sweep cannot be judged (never counted as absent) when it carries electrocautery, \
             saturates, straddles lost samples, is incomplete, shows spontaneous EMG before the \
             stimulus, or comes without a direct response (below {} µV or {} % of its usual \
             size).",
            s.judge.min_direct_uv,
            s.judge.min_direct_fraction * 100.0
        ),
        format!(
            "The baseline is the first {} judged sweeps of a channel; an LSR is present at \
             baseline when at least {} % of them are present. Without an LSR at baseline \
             nothing can disappear.",
            c.baseline_sweeps,
            c.baseline_present_fraction * 100.0
        ),
        absent,
    ]
}

/// Every setting as `section.name = value`, in the order of the settings' sections.
pub fn settings_list(s: &Settings) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(v) = serde_json::to_value(s) {
        flatten("", &v, &mut out);
    }
    out
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        other => out.push((prefix.to_string(), json_text(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_listed_and_the_criterion_names_its_values() {
        let s = Settings::default();
        let list = settings_list(&s);
        assert!(list
            .iter()
            .any(|(k, v)| k == "criterion.absent_run" && v == "3"));
        assert!(list.iter().any(|(k, _)| k == "measure.lsr_window_ms"));
        assert!(list.iter().any(|(k, _)| k.starts_with("anatomy")));
        let words = criterion(&s).join(" ");
        assert!(words.contains("when the sum reaches 3"), "{words}");
        assert!(words.contains("(6-40 ms,"), "{words}");
    }
}
