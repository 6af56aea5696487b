//! A small, valid EDF+C file written with lsrmon's own writer, for tests that break it.

use std::path::Path;

use lsrmon::edf::tal::{encode, time_keeping, Annotation};
use lsrmon::edf::{Continuity, EdfWriter, Header, SignalHeader};

/// Signals in [`write_good`]'s files: two EMG channels and the annotation signal.
pub const SIGNALS: usize = 3;
/// Samples per record of each EMG channel.
pub const SPR: usize = 1000;
/// Bytes of the annotation signal in each record.
pub const TAL_BYTES: usize = 60;

fn signal(label: &str, spr: usize, annotation: bool) -> SignalHeader {
    SignalHeader {
        label: label.into(),
        transducer: if annotation { "" } else { "AgAgCl electrode" }.into(),
        physical_dimension: if annotation { "" } else { "uV" }.into(),
        physical_min: if annotation { -1.0 } else { -3276.8 },
        physical_max: if annotation { 1.0 } else { 3276.7 },
        digital_min: -32768,
        digital_max: 32767,
        prefilter: String::new(),
        samples_per_record: spr,
        annotation,
    }
}

/// Writes `records` one-second records at 1 kHz (a ramp on each channel), a stimulus in the
/// first record and a marker in the second (when there is one).
pub fn write_good(path: &Path, records: u64) {
    let header = Header {
        bdf: false,
        continuity: Continuity::Contiguous,
        patient: "case-0015 X X X".into(),
        recording: "Startdate 02-MAR-2026 X X X".into(),
        start_date: "02.03.26".into(),
        start_time: "10.00.00".into(),
        records,
        record_ticks: 10_000_000,
        signals: vec![
            signal("EMG mentalis", SPR, false),
            signal("EMG oculi", SPR, false),
            signal("EDF Annotations", TAL_BYTES / 2, true),
        ],
    };
    let mut w = EdfWriter::create(path, header).unwrap();
    for r in 0..records {
        let a: Vec<i32> = (0..SPR as i32).map(|i| i - 500).collect();
        let b: Vec<i32> = (0..SPR as i32).map(|i| 300 - i * 3).collect();
        let mut tals = time_keeping(r as i64 * 10_000_000);
        let note = match r {
            0 => Some(("stimulus zygomatic 5 mA", 2_500_000)),
            1 => Some(("dural opening", 15_000_000)),
            _ => None,
        };
        if let Some((text, onset)) = note {
            tals.extend(encode(&Annotation {
                onset,
                duration: None,
                text: text.into(),
            }));
        }
        w.write_record(&[&a, &b], &tals).unwrap();
    }
    w.finish().unwrap();
}
