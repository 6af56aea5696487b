//! Fuzzes the EDF/BDF header parser and the annotation (TAL) parser: any bytes. Neither may
//! panic or hang; a header that parses must describe records of a bounded size and write
//! back to bytes of its own declared length that parse again to the same layout.
//!
//! Run (nightly toolchain): `cargo +nightly fuzz run edf_header` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lsrmon::edf::header::{Header, MAX_RECORD_BYTES};
use lsrmon::edf::tal::parse_record;

fuzz_target!(|data: &[u8]| {
    if let Ok(len) = Header::length_from_prefix(data) {
        assert!(len >= 512);
    }
    match Header::parse(data) {
        Ok(h) => {
            assert!(h.record_bytes() <= MAX_RECORD_BYTES);
            assert!(h.records >= 1 && h.record_ticks > 0);
            if let Ok(bytes) = h.to_bytes() {
                assert_eq!(bytes.len(), h.header_bytes());
                if let Ok(again) = Header::parse(&bytes) {
                    assert_eq!(again.signals.len(), h.signals.len());
                    assert_eq!(again.record_ticks, h.record_ticks);
                    assert_eq!(again.records, h.records);
                    assert_eq!(again.bdf, h.bdf);
                }
            }
            // What follows the header, read as one record's annotations.
            let _ = parse_record(&data[h.header_bytes()..]);
        }
        Err(e) => assert!(!e.field.is_empty()),
    }
    let _ = parse_record(data);
});
