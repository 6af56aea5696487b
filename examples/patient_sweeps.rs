//! Lists every sweep of one drawn patient of the robustness matrix beside its truth (for
//! finding why a case of `lsrmon validate` went wrong).
//!
//! `cargo run --release --example patient_sweeps -- SCENARIO SEED [DURATION_S] [CHANNEL]`

use lsrmon::settings::Settings;
use lsrmon::sim::patients;
use lsrmon::sim::score::{label, run_case};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let scenario = a.get(1).map_or("abrupt", |s| s).parse().expect("scenario");
    let seed: u64 = a.get(2).map_or(Ok(1000), |s| s.parse()).expect("seed");
    let dur: f64 = a.get(3).map_or(Ok(300.0), |s| s.parse()).expect("duration");
    let only: Option<usize> = a.get(4).map(|s| s.parse().expect("channel"));
    let mut cfg = patients::draw(seed, scenario, dur).config;
    // SIM_JSON replaces the drawn case (a SimConfig as JSON, e.g. a scenario test's case).
    if let Ok(j) = std::env::var("SIM_JSON") {
        cfg = serde_json::from_str(&j).expect("SIM_JSON");
    }
    println!("{cfg:?}");
    let (truth, run) = run_case(cfg, &Settings::default()).expect("case");
    for c in &truth.channels {
        println!(
            "ch {} {} lsr {:.0} uV onset {:.1} ms xt {:.3} noise {:.1}",
            c.index, c.label, c.lsr_base_uv, c.lsr_onset_ms, c.crosstalk_gain, c.noise_uv
        );
    }
    for b in &run.baselines {
        println!(
            "baseline {:?}",
            (b.channel, b.present, b.p2p_uv, b.onset_ms)
        );
    }
    for s in &run.states {
        println!("STATE {:?}", s);
    }
    let fs = truth.sample_rate_hz;
    let trace_at: Option<f64> = std::env::var("TRACE_AT").ok().and_then(|v| v.parse().ok());
    for r in &run.sweeps {
        if only.is_some_and(|c| c != r.channel) {
            continue;
        }
        if let Some(t) = trace_at.filter(|t| (t - r.stim_time_s).abs() < 0.5) {
            // The display trace: -10 to 60 ms in 256 points.
            for (k, v) in r.trace.iter().enumerate() {
                let ms = -10.0 + 70.0 * (k as f64 + 0.5) / r.trace.len() as f64;
                if (2.0..30.0).contains(&ms) {
                    println!("  trace {t:.1} ch{} {ms:6.2} ms {v:8.1}", r.channel);
                }
            }
        }
        let i = truth
            .stimuli
            .iter()
            .position(|s| (s.frame_time / fs - r.stim_time_s).abs() < 1e-3);
        let (tp, ton, lab) = match i.and_then(|i| truth.sweep(i, r.channel).map(|t| (i, t))) {
            Some((i, t)) => (t.lsr_p2p_uv, t.onset_ms, label(&truth, i, r.channel)),
            None => (f32::NAN, f32::NAN, None),
        };
        println!(
            "{:7.2} ch{} {:8} {:22} snr {:5.2} p2p {:6.1} on {:>6} corr {:5.2} ev {:5.2} tail {:7.1}/{:6.1} | truth {:6.1} on {:5.1} {:?} st {}",
            r.stim_time_s,
            r.channel,
            r.status.as_str(),
            r.reject_reason.map_or("", |x| x.as_str()),
            r.snr,
            r.lsr_p2p_uv,
            r.lsr_onset_ms.map_or("-".into(), |o| format!("{o:.2}")),
            r.template_corr,
            r.evidence,
            r.tail_removed_uv,
            r.tail_at_window_uv,
            tp,
            ton,
            lab,
            r.state.as_str()
        );
    }
}
