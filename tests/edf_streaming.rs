//! The EDF reader streams: opening and reading a file of 400 records needs no more memory
//! than a file of 4 records with the same annotations, and at most a few records' worth
//! beyond its fixed read buffer. Memory is measured with a counting allocator (bytes live on
//! this thread, at their peak), not with timings.

mod edf_common;
mod nwb_common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use edf_common::good::{write_good, SIGNALS, SPR, TAL_BYTES};
use edf_common::scratch_dir;
use lsrmon::edf::EdfSource;
use lsrmon::source::Source;

struct Peak;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn note(delta: i64) {
    let _ = ARMED.try_with(|a| {
        if a.get() {
            let _ = LIVE.try_with(|l| {
                l.set(l.get() + delta);
                let _ = PEAK.try_with(|p| p.set(p.get().max(l.get())));
            });
        }
    });
}

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size() as i64);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        note(-(l.size() as i64));
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note(n as i64 - l.size() as i64);
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size() as i64);
        unsafe { System.alloc_zeroed(l) }
    }
}

#[global_allocator]
static GLOBAL: Peak = Peak;

/// Peak bytes live while `path` is opened and read to its end; also the frames read.
fn peak_reading(path: &Path) -> (i64, u64) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    ARMED.with(|a| a.set(true));
    let mut frames = 0u64;
    {
        let mut s = EdfSource::open(path, None).unwrap();
        let c = s.info().channels.len();
        let mut buf = vec![0f32; 256 * c];
        let mut ev = Vec::with_capacity(16);
        loop {
            let n = s.read(&mut buf, &mut ev).unwrap();
            if n == 0 {
                break;
            }
            frames += n as u64;
        }
    }
    ARMED.with(|a| a.set(false));
    (PEAK.with(|p| p.get()), frames)
}

#[test]
fn memory_does_not_grow_with_the_number_of_records() {
    let dir = scratch_dir("streaming");
    let (short, long) = (dir.join("short.edf"), dir.join("long.edf"));
    write_good(&short, 4);
    write_good(&long, 400);
    let (p_short, f_short) = peak_reading(&short);
    let (p_long, f_long) = peak_reading(&long);
    assert_eq!((f_short, f_long), (4 * SPR as u64, 400 * SPR as u64));
    let record = ((SIGNALS - 1) * SPR * 2 + TAL_BYTES) as i64;
    eprintln!(
        "peak bytes while reading: {p_short} (4 records), {p_long} (400 records); a record is {record} bytes"
    );
    assert!(
        p_long <= p_short + 1024,
        "reading 400 records peaked at {p_long} bytes, 4 records at {p_short}"
    );
    // The fixed read buffer (64 KiB), one record of bytes, its samples as f32 (twice the
    // bytes of 16-bit samples) and small bookkeeping: well under 64 KiB + 4 records + 16 KiB.
    assert!(
        p_long <= (64 << 10) + 4 * record + (16 << 10),
        "peak {p_long} bytes"
    );
}
