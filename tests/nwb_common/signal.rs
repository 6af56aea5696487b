//! The deterministic test signal, shared by the tests and `examples/nwb_crash_writer.rs`
//! (included there by path), so a test can check any recorded prefix bit-exactly.

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The test signal, in integer device units: a per-channel sine plus hashed noise. Pure
/// function of (seed, frame, channel), so a reader can check any prefix bit-exactly.
pub fn sample(seed: u64, frame: u64, ch: usize) -> f32 {
    let h = splitmix(seed ^ frame.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ ((ch as u64) << 56));
    let noise = (h % 2001) as f64 - 1000.0;
    let sine = 8000.0 * (frame as f64 * 0.0131 * (ch + 1) as f64).sin();
    (sine + noise).round() as f32
}
