//! Broken EDF files, one table of cases: each breaks one thing in a valid file, and
//! `lsrmon analyze` must exit with code 2 and a message naming the file and the field,
//! never panic. A proptest then breaks files at random and reads them through the library.

mod edf_common;
mod nwb_common;

use edf_common::good::{write_good, SIGNALS, SPR, TAL_BYTES};
use edf_common::{lsrmon, scratch_dir};
use lsrmon::edf::EdfSource;
use lsrmon::source::Source;
use proptest::prelude::*;

/// Byte offset of signal `k`'s field that starts `offset` bytes into a signal header block
/// of fields `width` wide.
fn sig(offset: usize, width: usize, k: usize) -> usize {
    256 + offset * SIGNALS + k * width
}

/// Overwrites `at..` with `text`, padded with spaces to `width`.
fn put(b: &mut [u8], at: usize, width: usize, text: &[u8]) {
    let mut v = text.to_vec();
    v.resize(width, b' ');
    b[at..at + width].copy_from_slice(&v);
}

/// Where record `r`'s annotation bytes start.
fn tal(r: usize) -> usize {
    256 * (SIGNALS + 1) + r * (2 * SPR * 2 + TAL_BYTES) + 2 * SPR * 2
}

type Break = fn(&mut Vec<u8>);

/// (what is broken, how, words the message must hold besides the file's name)
const CASES: &[(&str, Break, &[&str])] = &[
    ("empty file", |b| b.clear(), &["empty"]),
    (
        "shorter than a header",
        |b| b.truncate(100),
        &["'header'", "100 bytes"],
    ),
    ("version", |b| put(b, 0, 8, b"1"), &["'version'"]),
    (
        "number of signals not a number",
        |b| put(b, 252, 4, b"x"),
        &["'number of signals'"],
    ),
    (
        "number of signals zero",
        |b| put(b, 252, 4, b"0"),
        &["'number of signals'"],
    ),
    (
        "number of signals negative",
        |b| put(b, 252, 4, b"-1"),
        &["'number of signals'"],
    ),
    (
        "more signals than the header holds",
        |b| put(b, 252, 4, b"9"),
        &["'number of bytes in header'", "9 signals"],
    ),
    (
        "cut inside the signal headers",
        |b| b.truncate(600),
        &["'signal headers'", "600 bytes"],
    ),
    (
        "header length field",
        |b| put(b, 184, 8, b"999"),
        &["'number of bytes in header'", "999"],
    ),
    (
        "record count -1",
        |b| put(b, 236, 8, b"-1"),
        &["'number of data records'", "did not finish"],
    ),
    (
        "record count zero",
        |b| put(b, 236, 8, b"0"),
        &["'number of data records'"],
    ),
    (
        "record count too small",
        |b| put(b, 236, 8, b"2"),
        &["'number of data records'"],
    ),
    (
        "record count too large",
        |b| put(b, 236, 8, b"4"),
        &["'number of data records'", "truncated"],
    ),
    (
        "record count not a number",
        |b| put(b, 236, 8, b"three"),
        &["'number of data records'", "three"],
    ),
    (
        "truncated data",
        |b| b.truncate(b.len() - 7),
        &["'number of data records'", "truncated"],
    ),
    (
        "record duration not a number",
        |b| put(b, 244, 8, b"1,5"),
        &["'duration of a data record'", "1,5"],
    ),
    (
        "record duration zero",
        |b| put(b, 244, 8, b"0"),
        &["'duration of a data record'"],
    ),
    (
        "record duration negative",
        |b| put(b, 244, 8, b"-1"),
        &["'duration of a data record'"],
    ),
    (
        "start date",
        |b| put(b, 168, 8, b"32.13.26"),
        &["'start date'", "dd.mm.yy"],
    ),
    (
        "start time",
        |b| put(b, 176, 8, b"25.61.00"),
        &["'start time'", "hh.mm.ss"],
    ),
    (
        "non-ASCII label",
        |b| put(b, sig(0, 16, 0), 16, b"ment\xc3\xa4lis"),
        &["'label of signal 1'", "ASCII"],
    ),
    (
        "non-ASCII physical dimension",
        |b| put(b, sig(96, 8, 1), 8, b"\xb5V"),
        &["'physical dimension of signal 2", "ASCII"],
    ),
    (
        "physical minimum not a number",
        |b| put(b, sig(104, 8, 0), 8, b"x1"),
        &["'physical minimum of signal 1 'EMG mentalis''"],
    ),
    (
        "physical maximum not a number",
        |b| put(b, sig(112, 8, 1), 8, b"1e999"),
        &["'physical maximum of signal 2 'EMG oculi''"],
    ),
    (
        "physical minimum equals maximum",
        |b| put(b, sig(104, 8, 0), 8, b"3276.7"),
        &["'physical maximum of signal 1"],
    ),
    (
        "digital minimum beyond 16 bits",
        |b| put(b, sig(120, 8, 0), 8, b"-40000"),
        &["'digital minimum of signal 1", "16 bits"],
    ),
    (
        "digital maximum below minimum",
        |b| put(b, sig(128, 8, 0), 8, b"-32768"),
        &["'digital maximum of signal 1"],
    ),
    (
        "samples per record zero",
        |b| put(b, sig(216, 8, 0), 8, b"0"),
        &[
            "'number of samples in each data record of signal 1",
            "at least 1",
        ],
    ),
    (
        "samples per record not a number",
        |b| put(b, sig(216, 8, 1), 8, b"ten"),
        &["'number of samples in each data record of signal 2"],
    ),
    (
        "samples per record huge",
        |b| put(b, sig(216, 8, 0), 8, b"99999999"),
        &[
            "'number of samples in each data record of signal 1",
            "more than 67108864 bytes",
        ],
    ),
    (
        "no annotation signal in EDF+",
        |b| put(b, sig(0, 16, 2), 16, b"Annotations"),
        &["'label'", "no 'EDF Annotations'"],
    ),
    (
        "only annotation signals",
        |b| {
            put(b, sig(0, 16, 0), 16, b"EDF Annotations");
            put(b, sig(0, 16, 1), 16, b"EDF Annotations");
        },
        &["'label'", "no signal other than annotations"],
    ),
    (
        "an EMG channel not in volts",
        |b| put(b, sig(96, 8, 0), 8, b"degC"),
        &["'physical dimension of signal 'EMG mentalis''", "degC"],
    ),
    (
        "annotation onset not a number",
        |b| b[tal(0)] = b'x',
        &["'annotations of data record 1'"],
    ),
    (
        "annotation without its separator",
        |b| {
            let a = tal(0);
            b[a..a + TAL_BYTES].fill(b'7');
        },
        &["'annotations of data record 1'", "0x14"],
    ),
    (
        "a gap in a continuous file",
        |b| b[tal(1) + 1] = b'5',
        &["'annotations of data record 2'", "EDF+C"],
    ),
    (
        "records going back in time",
        |b| b[tal(2) + 1] = b'0',
        &["'annotations of data record 3'"],
    ),
];

#[test]
fn every_broken_file_gets_exit_2_and_a_message_naming_file_and_field() {
    let dir = scratch_dir("malformed");
    let good = dir.join("good.edf");
    write_good(&good, 3);
    let bytes = std::fs::read(&good).unwrap();
    let out = lsrmon(&["analyze", good.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut failures = Vec::new();
    for (i, (what, breaks, words)) in CASES.iter().enumerate() {
        let mut b = bytes.clone();
        breaks(&mut b);
        let path = dir.join(format!("case{i:02}.edf"));
        std::fs::write(&path, &b).unwrap();
        let out = lsrmon(&["analyze", path.to_str().unwrap(), "--json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        let named = err.contains(path.to_str().unwrap());
        let missing: Vec<&&str> = words.iter().filter(|w| !err.contains(**w)).collect();
        if out.status.code() != Some(2) || !named || !missing.is_empty() || err.contains("panicked")
        {
            failures.push(format!(
                "{what}: exit {:?}, file named: {named}, missing {missing:?}:\n{err}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_missing_file_and_a_directory_are_errors_too() {
    let dir = scratch_dir("malformed_paths");
    for p in [dir.join("absent.edf"), dir.join("dir.edf")] {
        if p.ends_with("dir.edf") {
            std::fs::create_dir_all(&p).unwrap();
        }
        let out = lsrmon(&["analyze", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(p.to_str().unwrap()), "{err}");
    }
}

/// Opens and reads a whole file; an error must name the file.
fn open_and_read(path: &std::path::Path) {
    match EdfSource::open(path, None) {
        Err(e) => assert!(e.to_string().contains(path.to_str().unwrap()), "{e}"),
        Ok(mut s) => {
            let c = s.info().channels.len();
            let mut buf = vec![0f32; 64 * c];
            let mut ev = Vec::new();
            loop {
                match s.read(&mut buf, &mut ev) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        assert!(e.to_string().contains(path.to_str().unwrap()), "{e}");
                        break;
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Any bytes changed anywhere (header, samples, annotations), or the file cut short:
    /// an error naming the file, or samples; never a panic.
    #[test]
    fn randomly_broken_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("edf_tests");
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("proptest_good.edf");
        if !good.exists() {
            write_good(&good, 3);
        }
        let mut b = std::fs::read(&good).unwrap();
        for (at, v) in &edits {
            let i = at.index(b.len());
            b[i] = *v;
        }
        if let Some(c) = cut {
            b.truncate(c.index(b.len()));
        }
        let path = dir.join(format!("proptest_{}.edf", std::process::id()));
        std::fs::write(&path, &b).unwrap();
        open_and_read(&path);
    }

    /// Arbitrary bytes as a file.
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("edf_tests");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("proptest_any_{}.edf", std::process::id()));
        std::fs::write(&path, &b).unwrap();
        open_and_read(&path);
    }
}
