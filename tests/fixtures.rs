//! The committed fixture sessions analyse to their committed summaries
//! (`fixtures/*.summary.json`, made by `fixtures/regenerate.sh`; a detector change that
//! moves a verdict shows up here and must be reviewed), and the pynwb-written copy of a
//! session gives the same verdicts as the session itself.

use std::path::{Path, PathBuf};

use lsrmon::cli::{analyse_file, GlobalArgs};
use lsrmon::nwb::ReadOptions;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn summary(path: &Path) -> Value {
    let a = analyse_file(
        &GlobalArgs::default(),
        path,
        &ReadOptions::default(),
        None,
        None,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let a = serde_json::to_value(&a).unwrap();
    let keep = [
        "channel",
        "baseline_present",
        "baseline_p2p_uv",
        "baseline_onset_ms",
        "events",
        "first_disappeared_at_s",
        "declared_at_s",
        "final_state",
    ];
    let channels: Vec<Value> = a["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            Value::Object(
                keep.iter()
                    .map(|k| (k.to_string(), c[*k].clone()))
                    .collect(),
            )
        })
        .collect();
    serde_json::json!({
        "schema": a["schema"],
        "channels": channels,
        "sweeps": a["sweeps"].as_array().unwrap().len(),
        "counters": a["counters"],
    })
}

#[test]
fn every_fixture_matches_its_summary() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("nwb") {
            continue;
        }
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            size <= 5_000_000,
            "{}: {size} bytes, fixtures stay under 5 MB",
            path.display()
        );
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_extension("summary.json"))
                .unwrap_or_else(|e| panic!("{}: no summary: {e}", path.display())),
        )
        .unwrap();
        assert_eq!(summary(&path), expected, "{}", path.display());
        n += 1;
    }
    assert!(n >= 4, "expected at least four fixtures, found {n}");
}

#[test]
fn the_pynwb_copy_gives_the_same_verdicts() {
    let ours = summary(&fixtures().join("abrupt_5k.nwb"));
    let theirs = summary(&fixtures().join("pynwb_gzip_5k.nwb"));
    assert_eq!(ours["channels"], theirs["channels"]);
    assert_eq!(ours["sweeps"], theirs["sweeps"]);
}
