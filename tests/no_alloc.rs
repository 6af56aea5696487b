//! Proves that the real-time path does not allocate: a counting global allocator wraps the
//! system one, and the engine's `process` must not touch it once prepared.
//!
//! The engine is fed the simulated patient (stimuli, electrocautery, bursts, every status) in
//! blocks of several sizes, with the counter armed only around what the DSP thread does per
//! block: `Engine::process` and the latency meter that times every verdict on its way out
//! (block stamps in, verdicts timed, figures published).

use std::time::Instant;

use lsrmon::detect::Engine;
use lsrmon::pipeline::latency::{LatencyFigures, LatencyMeter, Stamp};
use lsrmon::settings::Settings;
use lsrmon::sim::{Scenario, SimConfig, SimPatient};
use lsrmon::source::Source;

mod counting_alloc;

use counting_alloc::allocations_during;

fn check(rate: f64, block: usize, timing_from_artifact: bool) {
    let cfg = SimConfig {
        scenario: Scenario::Abrupt,
        sample_rate_hz: rate,
        duration_s: 120.0,
        seed: 3,
        cautery: 2,
        bursts_per_min: 5.0,
        trigger: !timing_from_artifact,
        ..SimConfig::default()
    };
    let mut sim = SimPatient::new(cfg).unwrap();
    let info = sim.info().clone();
    let mut engine = Engine::new(&info, &Settings::default()).unwrap();
    let nch = info.channel_count();
    let mut buf = vec![0.0f32; block * nch];
    let mut events = Vec::with_capacity(64);
    let mut sweeps = 0u64;
    let mut total = 0u64;
    let mut meter = LatencyMeter::new(engine.geometry(), Instant::now(), 16_384);
    let (decision, processing) = (LatencyFigures::default(), LatencyFigures::default());
    let mut frames = 0u64;
    loop {
        events.clear();
        let n = sim.read(&mut buf, &mut events).unwrap();
        if n == 0 {
            break;
        }
        let data = &buf[..n * nch];
        let evs = &events[..];
        frames += n as u64;
        total += allocations_during(|| {
            meter.arrived(Stamp {
                end_frame: frames,
                at_ns: frames,
            });
            engine.process(data, evs, &mut |e| {
                meter.observe(e);
                if matches!(e, lsrmon::detect::EngineEvent::Sweep(_)) {
                    sweeps += 1;
                }
            });
            meter.publish(&decision, &processing);
        });
    }
    assert!(
        sweeps > 150,
        "the engine judged {sweeps} sweeps: the test must exercise it"
    );
    assert_eq!(
        total, 0,
        "Engine::process or the latency meter allocated {total} times at {rate} Hz, block {block}"
    );
    assert_eq!(meter.untimed, 0, "every verdict must be timed");
    assert_eq!(decision.load().count, sweeps);
}

#[test]
fn engine_process_never_allocates() {
    check(48_000.0, 64, false);
    check(10_000.0, 1000, false);
    check(5_000.0, 4096, true);
}
