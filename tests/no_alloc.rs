//! Proves that the real-time path does not allocate: a counting global allocator wraps the
//! system one, and the engine's `process` must not touch it once prepared.
//!
//! The engine is fed the simulated patient (stimuli, electrocautery, bursts, every status) in
//! blocks of several sizes, with the counter armed only around `Engine::process`.

use lsrmon::detect::Engine;
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
    loop {
        events.clear();
        let n = sim.read(&mut buf, &mut events).unwrap();
        if n == 0 {
            break;
        }
        let data = &buf[..n * nch];
        let evs = &events[..];
        total += allocations_during(|| {
            engine.process(data, evs, &mut |e| {
                if matches!(e, lsrmon::detect::EngineEvent::Sweep(_)) {
                    sweeps += 1;
                }
            })
        });
    }
    assert!(
        sweeps > 150,
        "the engine judged {sweeps} sweeps: the test must exercise it"
    );
    assert_eq!(
        total, 0,
        "Engine::process allocated {total} times at {rate} Hz, block {block}"
    );
}

#[test]
fn engine_process_never_allocates() {
    check(48_000.0, 64, false);
    check(10_000.0, 1000, false);
    check(5_000.0, 4096, true);
}
