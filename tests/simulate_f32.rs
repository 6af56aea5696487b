//! `simulate --sample-format f32` stores the simulated converter's counts as float32: the
//! file really holds float32, the samples are the same values as the int16 file of the same
//! seed, and `analyze` gives the same result (every byte but the file name).

mod nwb_common;

use std::path::Path;

use lsrmon::model::SampleFormat;
use lsrmon::nwb::{NwbSource, ReadOptions};
use lsrmon::source::Source;
use nwb_common::{command, read_all, scratch};
use serde_json::Value;

fn lsrmon(args: &[&str]) -> Vec<u8> {
    let out = command(env!("CARGO_BIN_EXE_lsrmon"))
        .args(args)
        .output()
        .expect("running lsrmon");
    assert!(
        out.status.success(),
        "lsrmon {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn simulate(path: &Path, format: &str, extra: &[&str]) {
    let mut args = vec![
        "simulate",
        "--out",
        path.to_str().unwrap(),
        "--rate",
        "5000",
        "--duration",
        "90",
        "--seed",
        "31",
        "--cautery",
        "1",
        "--sample-format",
        format,
    ];
    args.extend_from_slice(extra);
    lsrmon(&args);
}

/// The analysis JSON without the file's path.
fn analysis(path: &Path) -> Value {
    let mut v: Value = serde_json::from_slice(&lsrmon(&["analyze", path.to_str().unwrap()]))
        .expect("analyze prints one JSON object");
    let source = v["source"].as_object_mut().expect("a source object");
    assert!(source.remove("path").is_some());
    v
}

#[test]
fn float32_files_hold_the_same_samples_and_give_the_same_verdicts() {
    let i16_file = scratch("sim_i16.nwb");
    let f32_file = scratch("sim_f32_raw.nwb");
    simulate(&i16_file, "i16", &[]);
    simulate(&f32_file, "f32", &["--no-compression"]);

    let mut a = NwbSource::open(&i16_file, &ReadOptions::default()).unwrap();
    let mut b = NwbSource::open(&f32_file, &ReadOptions::default()).unwrap();
    assert_eq!(a.info().sample_format, SampleFormat::I16);
    assert_eq!(b.info().sample_format, SampleFormat::F32);
    let (xa, ea) = read_all(&mut a, 4096);
    let (xb, eb) = read_all(&mut b, 4096);
    assert_eq!(xa.len(), 90 * 5000 * a.info().channel_count());
    assert!(
        xa == xb,
        "the float32 file must hold the int16 file's values"
    );
    assert_eq!(ea, eb);

    let ja = analysis(&i16_file);
    let jb = analysis(&f32_file);
    assert!(ja["sweeps"].as_array().is_some_and(|s| !s.is_empty()));
    assert_eq!(ja, jb);
}
