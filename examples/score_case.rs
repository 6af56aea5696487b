//! Runs one simulated case through the engine and lists every sweep where the detector and
//! the ground truth disagree (for tuning the detector; the scored matrix is
//! `tests/scenarios.rs`).
//!
//! `cargo run --release --example score_case -- SCENARIO RATE NOISE_UV MAINS_UV SEED`

use lsrmon::detect::{Engine, EngineEvent};
use lsrmon::pipeline::run_to_end;
use lsrmon::settings::Settings;
use lsrmon::sim::{SimConfig, SimPatient};
use lsrmon::source::Source;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let get = |i: usize, d: &str| a.get(i).cloned().unwrap_or_else(|| d.to_string());
    let cfg = SimConfig {
        scenario: get(1, "abrupt").parse().expect("scenario"),
        sample_rate_hz: get(2, "10000").parse().unwrap(),
        noise_uv: get(3, "5").parse().unwrap(),
        mains_uv: get(4, "20").parse().unwrap(),
        seed: get(5, "1").parse().unwrap(),
        duration_s: 300.0,
        cautery: 2,
        bursts_per_min: 2.0,
        ..SimConfig::default()
    };
    let fs = cfg.sample_rate_hz;
    let mut sim = SimPatient::new(cfg).unwrap();
    let truth = sim.truth().clone();
    let info = sim.info().clone();
    let mut engine = Engine::new(&info, &Settings::default()).unwrap();
    let mut out = Vec::new();
    run_to_end(
        &mut sim,
        &mut engine,
        1000,
        &mut |e| out.push(*e),
        &mut |_| {},
    )
    .unwrap();
    for e in &out {
        match e {
            EngineEvent::Sweep(r) => {
                let Some(i) = truth
                    .stimuli
                    .iter()
                    .position(|s| (s.frame_time / fs - r.stim_time_s).abs() < 1e-3)
                else {
                    println!("{:8.3} unmatched", r.stim_time_s);
                    continue;
                };
                let t = truth.sweep(i, r.channel).unwrap();
                let on_err = match r.lsr_onset_ms {
                    Some(o) if t.onset_ms.is_finite() => (o - t.onset_ms) as f64,
                    _ => 0.0,
                };
                let truth_present = t.lsr_p2p_uv > 0.0;
                let agree = (r.status == lsrmon::model::SweepStatus::Present) == truth_present;
                if let Ok(at) = std::env::var("TRACE") {
                    let (at, ch): (f64, usize) = {
                        let mut it = at.split(',');
                        (
                            it.next().unwrap().parse().unwrap(),
                            it.next().unwrap().parse().unwrap(),
                        )
                    };
                    if (r.stim_time_s - at).abs() < 0.01 && r.channel == ch {
                        let w = truth.lsr_waveform(i, ch, fs, 10.0, 60.0);
                        println!(
                            "onset {:?} truth {} snr {} noise_rms {}",
                            r.lsr_onset_ms, t.onset_ms, r.snr, r.noise_rms_uv
                        );
                        for k in 0..256 {
                            let tm = -10.0 + 70.0 * k as f64 / 256.0;
                            if tm > 2.0 && tm < 20.0 {
                                let wi = ((tm + 10.0) * fs / 1000.0) as usize;
                                println!(
                                    "{:6.2} {:8.1} {:8.1}",
                                    tm,
                                    r.trace[k],
                                    w.get(wi).copied().unwrap_or(0.0)
                                );
                            }
                        }
                    }
                    continue;
                }
                if let Ok(ch) = std::env::var("ALL") {
                    if r.channel.to_string() == ch {
                        println!("{:8.3} {:?} {:?} snr {:.2} p2p {:.1} noise_p2p {:.1} state {:?} | truth {:.1}", r.stim_time_s, r.status, r.reject_reason, r.snr, r.lsr_p2p_uv, r.noise_p2p_uv, r.state, t.lsr_p2p_uv);
                    }
                    continue;
                }
                if std::env::var("NULL").is_ok() {
                    if !truth_present && t.contamination.is_none() && !t.direct_abolished {
                        println!(
                            "NULL {:?} {:?} snr {:.3} p2p/noise {:.2}",
                            r.status,
                            r.reject_reason,
                            r.snr,
                            r.lsr_p2p_uv / r.noise_p2p_uv
                        );
                    }
                    continue;
                }
                if std::env::var("ONSET").is_ok() {
                    if r.status == lsrmon::model::SweepStatus::Present
                        && truth_present
                        && t.contamination.is_none()
                    {
                        println!(
                            "ONSET {:+.3} snr {:.1} p2p {:.0} truth_on {:.2} at {:.3},{}",
                            on_err, r.snr, t.lsr_p2p_uv, t.onset_ms, r.stim_time_s, r.channel
                        );
                    }
                    continue;
                }
                if !agree || on_err.abs() > 0.5 {
                    println!(
                        "{:8.3} ch{} {:?} {:?} p2p {:6.1} snr {:5.2} onset {:?} | truth p2p {:6.1} onset {:5.2} {:?} xt {:.3}",
                        r.stim_time_s, r.channel, r.status, r.reject_reason, r.lsr_p2p_uv, r.snr, r.lsr_onset_ms,
                        t.lsr_p2p_uv, t.onset_ms, t.contamination, r.crosstalk_gain
                    );
                }
            }
            EngineEvent::State(s) => println!("STATE {s:?}"),
            EngineEvent::Baseline(b) => println!(
                "BASELINE ch{} present {} p2p {:.0} onset {:.2}",
                b.channel, b.present, b.p2p_uv, b.onset_ms
            ),
            _ => {}
        }
    }
}
