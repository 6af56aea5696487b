//! Fuzzes the SpikerBox decoder: any bytes, any frame shape, any cutting into blocks.
//! It must never panic or hang, and decoding in blocks must equal decoding byte by byte.
//!
//! Run (nightly toolchain): `cargo +nightly fuzz run serial_decoder` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lsrmon::acquisition::serial::{Decoder, FrameSink, Message};

#[derive(Default, PartialEq, Debug)]
struct Log(Vec<(u8, u64, u64)>);

impl FrameSink for Log {
    fn frame(&mut self, index: u64, samples: &[u16]) {
        let sum = samples
            .iter()
            .fold(0u64, |a, &v| a.wrapping_mul(31).wrapping_add(v as u64));
        self.0.push((0, index, sum));
    }
    fn event(&mut self, after: Option<u64>, n: u32) {
        self.0.push((1, after.map_or(u64::MAX, |a| a), n as u64));
    }
    fn message(&mut self, m: &Message<'_>) {
        self.0.push((2, m.tag.len() as u64, m.value.len() as u64));
    }
    fn gap(&mut self, before: u64, lost: u64) {
        self.0.push((3, before, lost));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let Some((&cut, bytes)) = rest.split_first() else {
        return;
    };
    let channels = 1 + (shape & 0x07) as usize;
    let bits = if shape & 0x08 == 0 { 10 } else { 14 };
    let Ok(mut whole) = Decoder::new(channels, bits) else {
        return;
    };
    let mut a = Log::default();
    whole.decode(bytes, &mut a);
    whole.finish(&mut a);

    let mut blocks = Decoder::new(channels, bits).expect("same shape");
    let mut b = Log::default();
    let step = 1 + cut as usize;
    for chunk in bytes.chunks(step) {
        blocks.decode(chunk, &mut b);
    }
    blocks.finish(&mut b);
    assert_eq!(a, b);
    assert_eq!(whole.counters(), blocks.counters());
    assert_eq!(whole.counters().bytes, bytes.len() as u64);
});
