//! Finding and checking the raw series in a session file.
//!
//! Our files hold `/acquisition/emg_raw`; files from other tools hold the only `TimeSeries`
//! or `ElectricalSeries` in `/acquisition`, or the one the user names. The data may be any
//! integer or float type, 1-D (one channel) or 2-D `[samples, channels]`, gzip-compressed;
//! volts = data × conversion × channel_conversion[c] + offset (pynwb's
//! `get_data_in_units`). Everything that cannot be replayed gets an error naming the file,
//! the HDF5 path and what was expected.

use std::path::Path;

use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5::{Dataset, File, Group};
use ndarray::{s, Ix1, Ix2};

use super::error::{H5Context, NwbError};
use super::h5util::{attr_num, attr_text, is_numeric, type_name};
use super::layout::{self as l, filter_name};
use super::timing::SCAN_BLOCK;
use crate::model::SampleFormat;

/// Series types accepted without `--series`.
const SERIES_TYPES: &[&str] = &["TimeSeries", "ElectricalSeries"];

/// How a series is timed.
#[derive(Clone, Debug)]
pub enum Timing {
    Rate { t0: f64, rate: f64 },
    Timestamps { ds: Dataset, path: String },
}

/// The raw series, checked.
#[derive(Clone, Debug)]
pub struct Series {
    pub path: String,
    pub group: Group,
    pub neurodata_type: String,
    pub data: Dataset,
    pub data_path: String,
    /// Rows to use (committed rows in a live or killed file).
    pub frames: u64,
    pub channels: usize,
    pub two_d: bool,
    pub format: SampleFormat,
    /// The data type's representable range (integers), in data units.
    pub type_range: Option<(f64, f64)>,
    /// Volts per data unit, per channel.
    pub volts_per_unit: Vec<f64>,
    pub offset_volts: f64,
    pub timing: Timing,
}

/// Locates the series: `name` (a name in /acquisition or an absolute path), else
/// `/acquisition/emg_raw`, else the only TimeSeries/ElectricalSeries in /acquisition.
pub fn locate(file: &File, fname: &Path, name: Option<&str>) -> Result<String, NwbError> {
    let acq = file.group(l::ACQUISITION).ok();
    let listing = || -> String {
        acq.as_ref()
            .and_then(|g| g.member_names().ok())
            .map(|v| {
                if v.is_empty() {
                    "nothing".to_string()
                } else {
                    v.join(", ")
                }
            })
            .unwrap_or_else(|| "no /acquisition group".to_string())
    };
    if let Some(n) = name {
        let p = if n.starts_with('/') {
            n.to_string()
        } else {
            format!("/{}/{n}", l::ACQUISITION)
        };
        if file.group(&p).is_err() {
            return Err(NwbError::malformed(
                fname,
                &p,
                format!("the series named '{n}'"),
                format!("no such group (/acquisition holds: {})", listing()),
            ));
        }
        return Ok(p);
    }
    let Some(acq) = acq.as_ref() else {
        return Err(NwbError::malformed(
            fname,
            "/acquisition",
            "a group holding the raw EMG series",
            "none",
        ));
    };
    if acq.group(l::EMG_RAW_NAME).is_ok() {
        return Ok(l::EMG_RAW.to_string());
    }
    let mut found = Vec::new();
    for n in acq.member_names().unwrap_or_default() {
        if let Ok(g) = acq.group(&n) {
            if attr_text(&g, "neurodata_type").is_some_and(|t| SERIES_TYPES.contains(&t.as_str())) {
                found.push(n);
            }
        }
    }
    match found.len() {
        1 => Ok(format!("/{}/{}", l::ACQUISITION, found[0])),
        0 => Err(NwbError::malformed(
            fname,
            "/acquisition",
            "a TimeSeries or ElectricalSeries with the raw EMG",
            format!("none (it holds: {})", listing()),
        )),
        _ => Err(NwbError::malformed(
            fname,
            "/acquisition",
            "one TimeSeries or ElectricalSeries (or name one with --series NAME)",
            format!("several: {}", found.join(", ")),
        )),
    }
}

/// Opens and checks the series at `path`; `committed` caps the rows (live/killed file).
pub fn open_series(file: &File, fname: &Path, path: &str) -> Result<Series, NwbError> {
    let group = file.group(path).at(fname, path, "opening the series")?;
    let ndt = attr_text(&group, "neurodata_type").unwrap_or_default();
    let data_path = format!("{path}/data");
    let data = group
        .dataset("data")
        .map_err(|_| NwbError::malformed(fname, &data_path, "a dataset of samples", "nothing"))?;
    let desc = data.dtype().and_then(|t| t.to_descriptor());
    let desc = match desc {
        Ok(d) if is_numeric(&d) => d,
        _ => {
            return Err(NwbError::malformed(
                fname,
                &data_path,
                "numeric samples",
                type_name(&data),
            ));
        }
    };
    check_filters(fname, &data_path, &data)?;
    let shape = data.shape();
    let (rows, channels, two_d) = match shape.as_slice() {
        [n] => (*n as u64, 1, false),
        [n, c] => (*n as u64, *c, true),
        other => {
            return Err(NwbError::malformed(
                fname,
                &data_path,
                "a 1-D or 2-D [samples, channels] array",
                format!("{} dimensions, shape {:?}", other.len(), other),
            ))
        }
    };
    let frames = match attr_num(&data, l::COMMITTED_ROWS) {
        Some(c) => rows.min(c.max(0.0) as u64),
        None => rows,
    };
    if channels == 0 {
        return Err(NwbError::malformed(
            fname,
            &data_path,
            "at least one channel",
            "0 columns",
        ));
    }
    if frames == 0 {
        return Err(NwbError::malformed(
            fname,
            &data_path,
            "at least one sample",
            "an empty dataset",
        ));
    }
    let (format, type_range) = format_of(&desc);

    // Calibration.
    let conversion = attr_num(&data, "conversion").unwrap_or(1.0);
    let offset = attr_num(&data, "offset").unwrap_or(0.0);
    let unit = attr_text(&data, "unit").unwrap_or_else(|| "volts".into());
    let Some(unit_scale) = unit_scale(&unit) else {
        return Err(NwbError::malformed(
            fname,
            &format!("{data_path}/@unit"),
            "volts (or mV, µV)",
            format!("'{unit}'"),
        ));
    };
    if !(conversion.is_finite() && conversion != 0.0 && offset.is_finite()) {
        return Err(NwbError::malformed(
            fname,
            &data_path,
            "a finite, non-zero @conversion and a finite @offset",
            format!("conversion {conversion}, offset {offset}"),
        ));
    }
    let mut vpu = vec![conversion * unit_scale; channels];
    if let Ok(cc) = group.dataset("channel_conversion") {
        let cpath = format!("{path}/channel_conversion");
        let v = cc
            .read_raw::<f64>()
            .at(fname, &cpath, "reading channel_conversion")?;
        if v.len() != channels || v.iter().any(|x| !x.is_finite() || *x == 0.0) {
            return Err(NwbError::malformed(
                fname,
                &cpath,
                format!("{channels} finite non-zero factors, one per channel"),
                format!("{v:?}"),
            ));
        }
        for (a, b) in vpu.iter_mut().zip(v) {
            *a *= b;
        }
    }

    let timing = timing(&group, fname, path)?;
    let s = Series {
        path: path.to_string(),
        group,
        neurodata_type: ndt,
        data,
        data_path,
        frames,
        channels,
        two_d,
        format,
        type_range,
        volts_per_unit: vpu,
        offset_volts: offset * unit_scale,
        timing,
    };
    if matches!(desc, TypeDescriptor::Float(_)) {
        check_not_all_nan(fname, &s)?;
    }
    Ok(s)
}

fn timing(group: &Group, fname: &Path, path: &str) -> Result<Timing, NwbError> {
    if let Ok(st) = group.dataset("starting_time") {
        let spath = format!("{path}/starting_time");
        let t0 = st.read_scalar::<f64>().or_else(|_| {
            st.read_raw::<f64>()
                .map(|v| v.first().copied().unwrap_or(0.0))
        });
        let t0 = t0.at(fname, &spath, "reading starting_time")?;
        match attr_num(&st, "rate") {
            Some(rate) if rate.is_finite() && rate > 0.0 && t0.is_finite() => {
                return Ok(Timing::Rate { t0, rate });
            }
            Some(rate) if !group.link_exists("timestamps") => {
                return Err(NwbError::malformed(
                    fname,
                    &format!("{spath}/@rate"),
                    "a positive sampling rate in Hz",
                    format!("{rate}"),
                ));
            }
            None if !group.link_exists("timestamps") => {
                return Err(NwbError::malformed(
                    fname,
                    &spath,
                    "a @rate attribute (samples per second)",
                    "no rate",
                ));
            }
            _ => {}
        }
    }
    match group.dataset("timestamps") {
        Ok(ds) => Ok(Timing::Timestamps {
            ds,
            path: format!("{path}/timestamps"),
        }),
        Err(_) => Err(NwbError::malformed(
            fname,
            path,
            "starting_time with @rate, or timestamps",
            "neither (no rate)",
        )),
    }
}

fn format_of(d: &TypeDescriptor) -> (SampleFormat, Option<(f64, f64)>) {
    use TypeDescriptor as T;
    match d {
        T::Integer(IntSize::U1) => (SampleFormat::F32, Some((i8::MIN as f64, i8::MAX as f64))),
        T::Integer(IntSize::U2) => (SampleFormat::I16, Some((i16::MIN as f64, i16::MAX as f64))),
        T::Integer(IntSize::U4) => (SampleFormat::I32, Some((i32::MIN as f64, i32::MAX as f64))),
        T::Integer(IntSize::U8) => (SampleFormat::F32, Some((i64::MIN as f64, i64::MAX as f64))),
        T::Unsigned(IntSize::U1) => (SampleFormat::F32, Some((0.0, u8::MAX as f64))),
        T::Unsigned(IntSize::U2) => (SampleFormat::U16, Some((0.0, u16::MAX as f64))),
        T::Unsigned(IntSize::U4) => (SampleFormat::F32, Some((0.0, u32::MAX as f64))),
        T::Unsigned(IntSize::U8) => (SampleFormat::F32, Some((0.0, u64::MAX as f64))),
        T::Float(FloatSize::U4) | T::Float(FloatSize::U8) => (SampleFormat::F32, None),
        _ => (SampleFormat::F32, None),
    }
}

/// Volts per unit of an NWB `unit` string, for the voltage units other tools write.
fn unit_scale(unit: &str) -> Option<f64> {
    match unit.trim().to_ascii_lowercase().as_str() {
        "volts" | "volt" | "v" => Some(1.0),
        "millivolts" | "millivolt" | "mv" => Some(1e-3),
        "microvolts" | "microvolt" | "uv" | "µv" | "μv" => Some(1e-6),
        _ => None,
    }
}

/// Rejects filters this HDF5 cannot decode, naming them.
fn check_filters(fname: &Path, path: &str, ds: &Dataset) -> Result<(), NwbError> {
    for f in ds.filters() {
        if !f.is_available() || !f.decode_enabled() {
            return Err(NwbError::UnsupportedFilter {
                file: fname.to_path_buf(),
                path: path.to_string(),
                filter: filter_name(f.id()),
            });
        }
    }
    Ok(())
}

/// Errors if every sample is NaN (a series with no usable value). Stops at the first finite
/// value, so normal files cost one block.
fn check_not_all_nan(fname: &Path, s: &Series) -> Result<(), NwbError> {
    let n = s.frames as usize;
    let mut a = 0;
    let rows = (SCAN_BLOCK / s.channels).max(1);
    while a < n {
        let b = n.min(a + rows);
        let finite = if s.two_d {
            s.data
                .read_slice::<f32, _, Ix2>(s![a..b, ..])
                .map(|x| x.iter().any(|v| v.is_finite()))
        } else {
            s.data
                .read_slice::<f32, _, Ix1>(s![a..b])
                .map(|x| x.iter().any(|v| v.is_finite()))
        }
        .at(fname, &s.data_path, "reading samples")?;
        if finite {
            return Ok(());
        }
        a = b;
    }
    Err(NwbError::malformed(
        fname,
        &s.data_path,
        "finite samples",
        "only NaN or infinite values",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voltage_units() {
        assert_eq!(unit_scale("volts"), Some(1.0));
        assert_eq!(unit_scale(" mV"), Some(1e-3));
        assert_eq!(unit_scale("µV"), Some(1e-6));
        assert_eq!(unit_scale("n/a"), None);
    }
}
