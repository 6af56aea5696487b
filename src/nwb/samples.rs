//! The raw EMG samples: device units in, the device's native type out.
//!
//! An hour of 4 channels at 48 kHz is 2.8 GB as f32 but 1.4 GB as the converter's int16,
//! so the recorder stores what the device produced (`SourceInfo::sample_format`) with NWB's
//! `conversion`/`offset` giving volts. Device units arrive as `f32`; integer formats round
//! to nearest and clamp to the type (a value outside it is a device fault, not data).
//!
//! NWB's `TimeSeries` has one `conversion` for all columns. When the channels' calibrations
//! differ (mixed amplifiers), the samples are stored as f32 **microvolts** with conversion
//! 1e-6 instead: still exact to f32 precision, valid for every NWB reader, and the
//! `emg_channels` table records that scale. (`channel_conversion` exists only on
//! `ElectricalSeries`, which needs object references; see the format spec.)

use hdf5::Dataset;
use ndarray::ArrayView2;

use crate::model::{ChannelInfo, SampleFormat};

/// How samples are stored.
#[derive(Clone, Debug, PartialEq)]
pub enum Storage {
    /// The device's native type; every channel shares `volts_per_unit` and `offset_volts`.
    Native {
        format: SampleFormat,
        volts_per_unit: f64,
        offset_volts: f64,
    },
    /// f32 microvolts (channels with different calibrations). Per channel:
    /// (microvolts per device unit, offset in microvolts).
    MicroVolts { scale: Vec<(f64, f64)> },
}

impl Storage {
    /// Chooses the storage for these channels.
    pub fn for_channels(format: SampleFormat, channels: &[ChannelInfo]) -> Self {
        let first = &channels[0];
        let uniform = channels.iter().all(|c| {
            c.volts_per_unit == first.volts_per_unit && c.offset_volts == first.offset_volts
        });
        if uniform {
            Self::Native {
                format,
                volts_per_unit: first.volts_per_unit,
                offset_volts: first.offset_volts,
            }
        } else {
            Self::MicroVolts {
                scale: channels
                    .iter()
                    .map(|c| (c.uv_per_unit(), c.offset_uv()))
                    .collect(),
            }
        }
    }

    /// NWB `conversion` and `offset` of the stored values.
    pub fn conversion_offset(&self) -> (f64, f64) {
        match self {
            Self::Native {
                volts_per_unit,
                offset_volts,
                ..
            } => (*volts_per_unit, *offset_volts),
            Self::MicroVolts { .. } => (1e-6, 0.0),
        }
    }

    /// NWB `resolution`: one converter step for integer storage, unknown (-1) otherwise.
    pub fn resolution(&self) -> f64 {
        match self {
            Self::Native {
                format: SampleFormat::F32,
                ..
            }
            | Self::MicroVolts { .. } => -1.0,
            Self::Native { volts_per_unit, .. } => *volts_per_unit,
        }
    }

    /// A device-unit value of channel `c` in stored units (f64, before rounding).
    pub fn to_stored(&self, c: usize, v: f64) -> f64 {
        match self {
            Self::Native { .. } => v,
            Self::MicroVolts { scale } => scale.get(c).map_or(v, |&(k, o)| v * k + o),
        }
    }

    pub fn format(&self) -> SampleFormat {
        match self {
            Self::Native { format, .. } => *format,
            Self::MicroVolts { .. } => SampleFormat::F32,
        }
    }
}

/// Native-typed pending samples.
pub enum NativeBuf {
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    F32(Vec<f32>),
}

/// Counts of values that could not be stored as given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConversionCounts {
    /// Outside the native type's range: clamped to it.
    pub clamped: u64,
    /// NaN or infinite device values (stored as 0 in integer formats).
    pub non_finite: u64,
}

impl NativeBuf {
    pub fn new(format: SampleFormat) -> Self {
        match format {
            SampleFormat::I16 => Self::I16(Vec::new()),
            SampleFormat::U16 => Self::U16(Vec::new()),
            SampleFormat::I32 => Self::I32(Vec::new()),
            SampleFormat::F32 => Self::F32(Vec::new()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::I16(v) => v.len(),
            Self::U16(v) => v.len(),
            Self::I32(v) => v.len(),
            Self::F32(v) => v.len(),
        }
    }

    /// Appends interleaved device-unit samples converted to the stored type.
    pub fn extend(
        &mut self,
        storage: &Storage,
        channels: usize,
        x: &[f32],
        counts: &mut ConversionCounts,
    ) {
        let ch = channels.max(1);
        match self {
            Self::I16(v) => v.extend(
                x.iter()
                    .map(|&s| round_clamp(s as f64, -32768.0, 32767.0, counts) as i16),
            ),
            Self::U16(v) => v.extend(
                x.iter()
                    .map(|&s| round_clamp(s as f64, 0.0, 65535.0, counts) as u16),
            ),
            Self::I32(v) => {
                v.extend(x.iter().map(|&s| {
                    round_clamp(s as f64, i32::MIN as f64, i32::MAX as f64, counts) as i32
                }))
            }
            Self::F32(v) => v.extend(x.iter().enumerate().map(|(i, &s)| {
                if !s.is_finite() {
                    counts.non_finite += 1;
                }
                storage.to_stored(i % ch, s as f64) as f32
            })),
        }
    }

    /// Appends `n` values equal to `fill` (stored units).
    pub fn extend_fill(&mut self, n: usize, fill: f64) {
        match self {
            Self::I16(v) => v.resize(v.len() + n, fill as i16),
            Self::U16(v) => v.resize(v.len() + n, fill as u16),
            Self::I32(v) => v.resize(v.len() + n, fill as i32),
            Self::F32(v) => v.resize(v.len() + n, fill as f32),
        }
    }

    /// Writes the first `rows` queued rows (all if `None`) as rows `at..` of the
    /// `[N, channels]` dataset and removes them from the queue. Returns the rows written.
    pub fn write_at(
        &mut self,
        ds: &Dataset,
        at: usize,
        channels: usize,
        rows: Option<usize>,
    ) -> hdf5::Result<usize> {
        let queued = self.len() / channels.max(1);
        let rows = rows.map_or(queued, |r| r.min(queued));
        if rows == 0 {
            return Ok(0);
        }
        ds.resize((at + rows, channels))?;
        let shape = (rows, channels);
        let sel = (at..at + rows, 0..channels);
        let n = rows * channels;
        match self {
            Self::I16(v) => {
                ds.write_slice(view(shape, v)?, sel)?;
                v.drain(..n);
            }
            Self::U16(v) => {
                ds.write_slice(view(shape, v)?, sel)?;
                v.drain(..n);
            }
            Self::I32(v) => {
                ds.write_slice(view(shape, v)?, sel)?;
                v.drain(..n);
            }
            Self::F32(v) => {
                ds.write_slice(view(shape, v)?, sel)?;
                v.drain(..n);
            }
        }
        Ok(rows)
    }
}

fn view<T>(shape: (usize, usize), v: &[T]) -> hdf5::Result<ArrayView2<'_, T>> {
    ArrayView2::from_shape(shape, &v[..shape.0 * shape.1]).map_err(|e| e.to_string().into())
}

fn round_clamp(x: f64, lo: f64, hi: f64, counts: &mut ConversionCounts) -> f64 {
    if !x.is_finite() {
        counts.non_finite += 1;
        return 0.0;
    }
    let r = x.round();
    if r < lo {
        counts.clamped += 1;
        lo
    } else if r > hi {
        counts.clamped += 1;
        hi
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Muscle, Role};

    fn ch(vpu: f64) -> ChannelInfo {
        ChannelInfo {
            label: "a".into(),
            muscle: Muscle::Mentalis,
            role: Role::Emg,
            volts_per_unit: vpu,
            offset_volts: 0.0,
            range_units: None,
            trigger_branch: None,
        }
    }

    #[test]
    fn uniform_calibration_keeps_native_type() {
        let s = Storage::for_channels(SampleFormat::I16, &[ch(1e-7), ch(1e-7)]);
        assert_eq!(s.conversion_offset(), (1e-7, 0.0));
        assert_eq!(s.resolution(), 1e-7);
        let mixed = Storage::for_channels(SampleFormat::I16, &[ch(1e-7), ch(2e-7)]);
        assert_eq!(mixed.format(), SampleFormat::F32);
        assert_eq!(mixed.conversion_offset(), (1e-6, 0.0));
        assert!((mixed.to_stored(1, 10.0) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn integers_round_and_clamp() {
        let s = Storage::for_channels(SampleFormat::I16, &[ch(1e-7)]);
        let mut b = NativeBuf::new(SampleFormat::I16);
        let mut c = ConversionCounts::default();
        b.extend(
            &s,
            1,
            &[1.4, 1.6, -2.5, 40000.0, -40000.0, f32::NAN],
            &mut c,
        );
        match b {
            NativeBuf::I16(v) => assert_eq!(v, vec![1, 2, -3, 32767, -32768, 0]),
            _ => unreachable!(),
        }
        assert_eq!(
            c,
            ConversionCounts {
                clamped: 2,
                non_finite: 1
            }
        );
        let mut u = NativeBuf::new(SampleFormat::U16);
        u.extend(&s, 1, &[-1.0, 65536.0, 3.0], &mut c);
        match u {
            NativeBuf::U16(v) => assert_eq!(v, vec![0, 65535, 3]),
            _ => unreachable!(),
        }
    }
}
