//! Every malformed input gives an error naming the file, the HDF5 path and what was
//! expected; none panics.

mod nwb_common;

use std::path::{Path, PathBuf};

use lsrmon::model::SampleFormat;
use lsrmon::nwb::{NwbError, NwbSource, ReadOptions, SessionWriter, WriterOptions};
use nwb_common::*;

/// A valid file of ours to start from.
fn base(name: &str) -> PathBuf {
    let p = scratch(name);
    write_session(&p, &info(2_000.0), 5, 1.0, &WriterOptions::default());
    p
}

fn open_err(p: &Path) -> String {
    match NwbSource::open(p, &ReadOptions::default()) {
        Ok(_) => panic!("{} opened although it is malformed", p.display()),
        Err(e) => e.to_string(),
    }
}

fn assert_names(msg: &str, file: &Path, hdf5_path: &str, expected: &str) {
    eprintln!("{msg}");
    let name = file.display().to_string();
    assert!(
        msg.starts_with(&name),
        "message must start with the file name:\n{msg}"
    );
    assert!(
        msg.contains(&format!("{hdf5_path}:")),
        "message must name {hdf5_path}:\n{msg}"
    );
    assert!(
        msg.contains(expected),
        "message must say '{expected}':\n{msg}"
    );
}

fn edit(p: &Path, f: impl FnOnce(&hdf5::File)) {
    let file = hdf5::File::open_rw(p).unwrap();
    f(&file);
    file.close().unwrap();
}

#[test]
fn truncated_file() {
    let p = base("bad_truncated.nwb");
    let len = std::fs::metadata(&p).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let e = open_err(&p);
    assert_names(&e, &p, "/", "truncated or damaged");
}

#[test]
fn wrong_rank() {
    let p = base("bad_rank.nwb");
    edit(&p, |f| {
        let g = f.group("/acquisition/emg_raw").unwrap();
        g.unlink("data").unwrap();
        let d = g
            .new_dataset::<i16>()
            .shape((10, 2, 2))
            .create("data")
            .unwrap();
        d.new_attr::<f64>()
            .create("conversion")
            .unwrap()
            .write_scalar(&1e-6)
            .unwrap();
    });
    let e = open_err(&p);
    assert_names(
        &e,
        &p,
        "/acquisition/emg_raw/data",
        "expected a 1-D or 2-D [samples, channels] array",
    );
    assert!(e.contains("3 dimensions"), "{e}");
}

#[test]
fn no_rate() {
    let p = base("bad_rate.nwb");
    edit(&p, |f| {
        f.dataset("/acquisition/emg_raw/starting_time")
            .unwrap()
            .delete_attr("rate")
            .unwrap()
    });
    let e = open_err(&p);
    assert_names(
        &e,
        &p,
        "/acquisition/emg_raw/starting_time",
        "expected a @rate attribute",
    );
    let p2 = base("bad_rate2.nwb");
    edit(&p2, |f| {
        f.group("/acquisition/emg_raw")
            .unwrap()
            .unlink("starting_time")
            .unwrap()
    });
    let e = open_err(&p2);
    assert_names(
        &e,
        &p2,
        "/acquisition/emg_raw",
        "expected starting_time with @rate, or timestamps",
    );
    let p3 = base("bad_rate3.nwb");
    edit(&p3, |f| {
        let st = f.dataset("/acquisition/emg_raw/starting_time").unwrap();
        st.attr("rate").unwrap().write_scalar(&-5.0f64).unwrap();
    });
    let e = open_err(&p3);
    assert_names(
        &e,
        &p3,
        "/acquisition/emg_raw/starting_time/@rate",
        "positive sampling rate",
    );
}

#[test]
fn unknown_compression_filter() {
    let p = scratch("bad_lzf.nwb");
    run_py("write_pynwb.py", &[p.to_str().unwrap(), "--variant", "lzf"]);
    let e = open_err(&p);
    assert_names(
        &e,
        &p,
        "/acquisition/emg/data",
        "LZF (HDF5 filter id 32000)",
    );
    assert!(e.contains("h5repack"), "{e}");
}

#[test]
fn nan_only_samples() {
    let p = scratch("bad_nan.nwb");
    let mut inf = info(1_000.0);
    inf.sample_format = SampleFormat::F32;
    let mut w = SessionWriter::create(&p, &inf, &meta(), "").unwrap();
    w.append_frames(&vec![f32::NAN; 4 * 100_000]).unwrap();
    w.finish().unwrap();
    let e = open_err(&p);
    assert_names(
        &e,
        &p,
        "/acquisition/emg_raw/data",
        "expected finite samples",
    );
}

#[test]
fn empty_samples() {
    let p = base("bad_empty.nwb");
    edit(&p, |f| {
        f.dataset("/acquisition/emg_raw/data")
            .unwrap()
            .resize((0, 4))
            .unwrap()
    });
    let e = open_err(&p);
    assert_names(
        &e,
        &p,
        "/acquisition/emg_raw/data",
        "expected at least one sample",
    );
}

#[test]
fn not_hdf5() {
    let p = scratch("bad_text.nwb");
    std::fs::write(&p, "time,mentalis\n0,1\n".repeat(100)).unwrap();
    let e = open_err(&p);
    assert!(
        e.starts_with(&p.display().to_string()) && e.contains("not an HDF5 file"),
        "{e}"
    );
    let empty = scratch("bad_zero.nwb");
    std::fs::write(&empty, b"").unwrap();
    assert!(open_err(&empty).contains("not an HDF5 file"));
    let missing = scratch("bad_missing.nwb");
    let e = open_err(&missing);
    assert!(
        e.starts_with(&missing.display().to_string()) && e.contains("No such file"),
        "{e}"
    );
}

#[test]
fn missing_series() {
    // A session stopped before any sample: finishing removes the empty series.
    let p = scratch("bad_noseries.nwb");
    let w = SessionWriter::create(&p, &info(1_000.0), &meta(), "").unwrap();
    w.finish().unwrap();
    let e = open_err(&p);
    assert_names(
        &e,
        &p,
        "/acquisition",
        "expected a TimeSeries or ElectricalSeries",
    );
    assert!(e.contains("emg_channels"), "lists what is there: {e}");
    let named = NwbSource::open(
        &p,
        &ReadOptions {
            series: Some("emg_raw".into()),
            ..Default::default()
        },
    );
    let e = named.err().unwrap().to_string();
    assert_names(
        &e,
        &p,
        "/acquisition/emg_raw",
        "expected the series named 'emg_raw'",
    );
}

#[test]
fn not_an_nwb_file_and_text_samples() {
    let p = scratch("bad_plain.h5");
    let f = hdf5::File::create(&p).unwrap();
    f.new_dataset::<f32>()
        .shape((10, 2))
        .create("data")
        .unwrap();
    f.close().unwrap();
    let e = open_err(&p);
    assert_names(
        &e,
        &p,
        "/",
        "expected an NWB 2.x file (@neurodata_type NWBFile)",
    );

    let p = base("bad_textdata.nwb");
    edit(&p, |f| {
        let g = f.group("/acquisition/emg_raw").unwrap();
        g.unlink("data").unwrap();
        g.new_dataset::<hdf5::types::VarLenUnicode>()
            .shape(3)
            .create("data")
            .unwrap();
    });
    let e = open_err(&p);
    assert_names(
        &e,
        &p,
        "/acquisition/emg_raw/data",
        "expected numeric samples",
    );
}

#[test]
fn errors_have_a_file() {
    let p = scratch("bad_kind.nwb");
    std::fs::write(&p, b"x").unwrap();
    let e = NwbSource::open(&p, &ReadOptions::default()).err().unwrap();
    assert!(matches!(e, NwbError::NotHdf5 { .. }));
    assert_eq!(e.file(), p.as_path());
}
