//! The analysis contract end to end, through the real binary:
//!
//! - `simulate` then `analyze --json` gives the scenario's verdicts, and the file we wrote
//!   passes pynwb validation, a full pynwb read and nwbinspector;
//! - `analyze` twice gives identical bytes;
//! - files written by pynwb from the same signal, in every layout the reader accepts, give
//!   the same verdicts as our own file.

mod nwb_common;

use std::path::Path;

use nwb_common::{check_nwb, command, run_py, scratch};
use serde_json::Value;

fn lsrmon(args: &[&str]) -> Vec<u8> {
    let out = command(env!("CARGO_BIN_EXE_lsrmon"))
        .args(args)
        .output()
        .expect("running lsrmon");
    assert!(
        out.status.success(),
        "lsrmon {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn simulate(path: &Path, scenario: &str, seed: &str) {
    let _ = std::fs::remove_file(path);
    lsrmon(&[
        "simulate",
        "--out",
        path.to_str().unwrap(),
        "--scenario",
        scenario,
        "--rate",
        "5000",
        "--duration",
        "150",
        "--seed",
        seed,
        "--cautery",
        "1",
    ]);
}

fn analyze(path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["analyze", path.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    serde_json::from_slice(&lsrmon(&args)).expect("analyze prints one JSON object")
}

fn channel<'a>(a: &'a Value, label: &str) -> &'a Value {
    a["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == label)
        .unwrap()
}

#[test]
fn simulate_then_analyze_gives_the_scenario_and_identical_bytes() {
    let f = scratch("interop_abrupt.nwb");
    simulate(&f, "abrupt", "21");
    check_nwb(&[&f], true);
    let a1 = lsrmon(&["analyze", f.to_str().unwrap(), "--json"]);
    let a2 = lsrmon(&["analyze", f.to_str().unwrap(), "--json"]);
    assert!(a1 == a2, "analyze must give identical bytes on every run");
    let a: Value = serde_json::from_slice(&a1).unwrap();
    assert_eq!(a["schema"], "lsrmon.analysis/1");
    let pad = a["markers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["label"] == "pad placed")
        .unwrap()["time_s"]
        .as_f64()
        .unwrap();
    for ch in ["mentalis", "orbicularis_oris"] {
        let c = channel(&a, ch);
        assert_eq!(c["baseline_present"], true, "{ch}");
        assert_eq!(c["final_state"], "absent", "{ch}");
        let gone = c["first_disappeared_at_s"].as_f64().unwrap();
        assert!(
            (pad..pad + 4.0).contains(&gone),
            "{ch}: disappeared at {gone}, pad at {pad}"
        );
    }
    // The CSV view has one row per sweep row of the JSON.
    let csv = String::from_utf8(lsrmon(&["analyze", f.to_str().unwrap(), "--csv"])).unwrap();
    assert_eq!(
        csv.lines().count() - 1,
        a["sweeps"].as_array().unwrap().len()
    );

    let n = scratch("interop_nobaseline.nwb");
    simulate(&n, "no-baseline", "22");
    let a = analyze(&n, &[]);
    for ch in ["mentalis", "orbicularis_oris"] {
        assert_eq!(channel(&a, ch)["final_state"], "no_baseline", "{ch}");
        assert!(channel(&a, ch)["first_disappeared_at_s"].is_null());
    }
}

#[test]
fn files_written_by_pynwb_give_the_same_verdicts() {
    let ours = scratch("interop_ours.nwb");
    simulate(&ours, "abrupt", "23");
    let reference = analyze(&ours, &[]);
    let statuses = |a: &Value| -> Vec<(String, String)> {
        a["sweeps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["channel"].as_str().unwrap().to_string(),
                    s["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let want = statuses(&reference);
    let channels = [
        "--channel",
        "orbicularis_oculi:orbicularis_oculi:emg",
        "--channel",
        "orbicularis_oris:orbicularis_oris:emg",
        "--channel",
        "mentalis:mentalis:emg",
        "--channel",
        "trigger:none:trigger:zygomatic",
    ];
    for variant in [
        "electrical",
        "int16_gzip",
        "timestamps",
        "events",
        "no_tables",
    ] {
        let f = scratch(&format!("interop_{variant}.nwb"));
        let _ = std::fs::remove_file(&f);
        run_py(
            "write_pynwb.py",
            &[
                f.to_str().unwrap(),
                "--variant",
                variant,
                "--from",
                ours.to_str().unwrap(),
            ],
        );
        let a = match variant {
            "no_tables" => analyze(&f, &channels),
            // Two series share the timestamps (a soft link): name the one to analyse.
            "timestamps" => analyze(&f, &["--series", "emg"]),
            _ => analyze(&f, &[]),
        };
        for ch in ["mentalis", "orbicularis_oris"] {
            let (r, c) = (channel(&reference, ch), channel(&a, ch));
            assert_eq!(c["final_state"], r["final_state"], "{variant} {ch}");
            assert_eq!(
                c["baseline_present"], r["baseline_present"],
                "{variant} {ch}"
            );
            let (t0, t1) = (
                r["first_disappeared_at_s"].as_f64().unwrap(),
                c["first_disappeared_at_s"].as_f64().unwrap(),
            );
            assert!(
                (t0 - t1).abs() < 0.002,
                "{variant} {ch}: disappeared at {t1} vs {t0}"
            );
        }
        let got = statuses(&a);
        if variant == "no_tables" {
            // The same file, its trigger channel unused, stimuli from a table instead.
            let csv = scratch("interop_stimuli.csv");
            let mut text = String::from("time_s,branch\n");
            let mut last = -1i64;
            for sw in reference["sweeps"].as_array().unwrap() {
                let i = sw["stim_index"].as_i64().unwrap();
                if i != last {
                    text += &format!("{},zygomatic\n", sw["stim_time_s"]);
                    last = i;
                }
            }
            std::fs::write(&csv, text).unwrap();
            let mut no_trigger = channels;
            no_trigger[7] = "trigger:none:other";
            let mut args = no_trigger.to_vec();
            args.extend(["--stimuli", csv.to_str().unwrap()]);
            let t = analyze(&f, &args);
            assert!(t["source"]["stimulus_timing"]
                .as_str()
                .unwrap()
                .contains("events"));
            let agree = want
                .iter()
                .zip(statuses(&t))
                .filter(|(x, y)| **x == *y)
                .count();
            assert!(
                agree + 4 >= want.len(),
                "stimulus table: {agree} of {} agree",
                want.len()
            );
        }
        // The `timestamps` variant drops 50 samples mid-file (a gap: the sweep over it is
        // rejected) and `no_tables` times stimuli from the trigger channel instead of the
        // table: allow a handful of differing sweeps, no more.
        let same = want.iter().zip(&got).filter(|(x, y)| x == y).count();
        assert!(
            got.len().abs_diff(want.len()) <= 2 && same + 4 >= want.len(),
            "{variant}: {same} of {} sweep verdicts agree ({} sweeps)",
            want.len(),
            got.len()
        );
    }
}
