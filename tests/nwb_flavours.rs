//! Other writers store the same things with other HDF5 types: numeric attributes as f32,
//! i32 or i64; text as fixed-length or variable-length, ASCII or UTF-8. The reader must
//! read them all the same.

mod nwb_common;

use std::path::Path;

use hdf5::types::{FixedAscii, FixedUnicode, VarLenAscii};
use hdf5::{File, Location};
use lsrmon::nwb::{NwbSource, ReadOptions, WriterOptions};
use lsrmon::source::{Source, SourceEvent};
use ndarray::Array1;
use nwb_common::*;

fn replace_attr<T: hdf5::H5Type>(loc: &Location, name: &str, v: T) {
    loc.delete_attr(name).unwrap();
    loc.new_attr::<T>()
        .create(name)
        .unwrap()
        .write_scalar(&v)
        .unwrap();
}

fn texts(f: &File, path: &str) -> Vec<String> {
    let d = f.dataset(path).unwrap();
    d.read_raw::<hdf5::types::VarLenUnicode>()
        .unwrap()
        .iter()
        .map(|s| s.as_str().to_string())
        .collect()
}

fn rewrite_text<T: hdf5::H5Type>(f: &File, path: &str, conv: impl Fn(&str) -> T) {
    let vals = texts(f, path);
    let (parent, name) = path.rsplit_once('/').unwrap();
    let g = f.group(parent).unwrap();
    let attrs: Vec<(String, String)> = {
        let d = g.dataset(name).unwrap();
        d.attr_names()
            .unwrap()
            .into_iter()
            .filter_map(|a| {
                let v = d
                    .attr(&a)
                    .ok()?
                    .read_scalar::<hdf5::types::VarLenUnicode>()
                    .ok()?;
                Some((a, v.as_str().to_string()))
            })
            .collect()
    };
    g.unlink(name).unwrap();
    let arr: Array1<T> = vals.iter().map(|s| conv(s)).collect();
    let d = g
        .new_dataset_builder()
        .with_data(&arr)
        .create(name)
        .unwrap();
    for (a, v) in attrs {
        d.new_attr::<FixedAscii<256>>()
            .create(a.as_str())
            .unwrap()
            .write_scalar(&FixedAscii::<256>::from_ascii(&v).unwrap())
            .unwrap();
    }
}

fn events(
    p: &Path,
) -> (
    lsrmon::source::SourceInfo,
    Vec<f32>,
    Vec<SourceEvent>,
    Vec<lsrmon::model::Marker>,
) {
    let mut s = NwbSource::open(p, &ReadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let info = s.info().clone();
    let markers = s.markers();
    let (x, ev) = read_all(&mut s, 999);
    (info, x, ev, markers)
}

#[test]
fn numeric_and_text_flavours_read_the_same() {
    let original = scratch("flavour_ref.nwb");
    write_session(
        &original,
        &info(8_000.0),
        21,
        2.0,
        &WriterOptions {
            deflate: None,
            ..Default::default()
        },
    );
    let p = scratch("flavour.nwb");
    std::fs::copy(&original, &p).unwrap();
    {
        let f = File::open_rw(&p).unwrap();
        replace_attr(
            &f,
            "neurodata_type",
            FixedAscii::<16>::from_ascii("NWBFile").unwrap(),
        );
        replace_attr(
            &f,
            "nwb_version",
            FixedAscii::<8>::from_ascii("2.9.0").unwrap(),
        );
        let st = f.dataset("/acquisition/emg_raw/starting_time").unwrap();
        replace_attr(&st, "rate", 8_000i64);
        let d = f.dataset("/acquisition/emg_raw/data").unwrap();
        replace_attr(&d, "conversion", VPU as f32);
        replace_attr(&d, "offset", 0i32);
        let stim = f.group("/intervals/stimuli").unwrap();
        stim.delete_attr("colnames").unwrap();
        let names: Array1<FixedAscii<16>> = [
            "start_time",
            "stop_time",
            "branch",
            "intensity_mA",
            "pulse_width_s",
            "stim_index",
        ]
        .iter()
        .map(|s| FixedAscii::from_ascii(s).unwrap())
        .collect();
        stim.new_attr_builder()
            .with_data(&names)
            .create("colnames")
            .unwrap();
        rewrite_text(&f, "/intervals/stimuli/branch", |s| {
            FixedAscii::<32>::from_ascii(s).unwrap()
        });
        rewrite_text(&f, "/acquisition/emg_channels/label", |s| {
            s.parse::<FixedUnicode<24>>().unwrap()
        });
        rewrite_text(&f, "/acquisition/surgical_events/data", |s| {
            VarLenAscii::from_ascii(s).unwrap()
        });
        f.close().unwrap();
    }
    let (ri, rx, rev, rm) = events(&original);
    let (gi, gx, gev, gm) = events(&p);
    assert_eq!(gi.sample_rate_hz, 8_000.0, "i64 rate");
    for (g, r) in gi.channels.iter().zip(&ri.channels) {
        assert_eq!(g.label, r.label, "fixed-length UTF-8 labels");
        assert_eq!(g.volts_per_unit, (VPU as f32) as f64, "f32 conversion");
        assert_eq!(g.offset_volts, 0.0, "i32 offset");
    }
    assert_eq!(gx, rx);
    assert_eq!(
        gev, rev,
        "stimuli with fixed-length ASCII branches, colnames fixed-length"
    );
    assert_eq!(gm, rm, "markers as variable-length ASCII");
    assert!(rev.len() >= 3 && rm.len() == 1);
}
