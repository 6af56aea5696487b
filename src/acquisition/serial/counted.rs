//! [`CountedSerial`]: a [`SerialSource`] whose decoder counters are published to shared
//! atomics, with per-channel calibration from the site configuration.
//!
//! The pipeline moves its source into the source thread and a reconnection replaces the
//! [`SerialSource`] altogether, yet the command line must report (and record) how many bytes
//! were discarded, frames malformed, events seen... over the whole case. After each read this
//! wrapper adds what the decoder counted since the previous read to a [`DeviceCounters`] set
//! that outlives the connection (a few relaxed atomic adds per block).
//!
//! Calibration: the SpikerBox protocol carries raw counts. A channel's `uv_full_scale` (the
//! input in µV that reaches the top of the converter's range, i.e. mid-scale counts above
//! zero) sets that channel's volts per count; channels without one keep the value the
//! [`SerialSource`] was opened with (its profile's nominal calibration, or the configured one).

use std::sync::Arc;

use super::decoder::DecoderCounters;
use super::port::SerialSource;
use crate::acquisition::counters::DeviceCounters;
use crate::source::{Source, SourceError, SourceEvent, SourceInfo};

/// Counter names of a serial device, in index order.
pub const SERIAL_COUNTERS: &[&str] = &[
    "bytes",
    "frames",
    "discarded_bytes",
    "malformed_frames",
    "messages",
    "malformed_messages",
    "events",
    "gaps",
    "lost_frames",
];

fn as_array(c: &DecoderCounters) -> [u64; 9] {
    [
        c.bytes,
        c.frames,
        c.discarded_bytes,
        c.malformed_frames,
        c.messages,
        c.malformed_messages,
        c.events,
        c.gaps,
        c.lost_frames,
    ]
}

/// See the module documentation.
pub struct CountedSerial {
    inner: SerialSource,
    info: SourceInfo,
    counters: Arc<DeviceCounters>,
    last: [u64; 9],
}

impl CountedSerial {
    /// Wraps an open source. `uv_full_scale` holds one entry per channel (or none at all);
    /// `None` keeps the channel's calibration.
    pub fn new(
        inner: SerialSource,
        uv_full_scale: &[Option<f64>],
        counters: Arc<DeviceCounters>,
    ) -> Result<Self, SourceError> {
        let mut info = inner.info().clone();
        if !uv_full_scale.is_empty() && uv_full_scale.len() != info.channels.len() {
            return Err(SourceError::Other(format!(
                "serial port '{}': {} calibrations for {} channels",
                inner.path(),
                uv_full_scale.len(),
                info.channels.len()
            )));
        }
        for (ch, uv) in info.channels.iter_mut().zip(uv_full_scale) {
            if let Some(uv) = *uv {
                let midscale = ch.range_units.map_or(1.0, |(lo, _)| -lo).max(1.0);
                ch.volts_per_unit = uv * 1e-6 / midscale;
            }
        }
        if uv_full_scale.iter().any(Option::is_some) {
            info.description
                .push_str("; calibration per channel from the site configuration");
        }
        Ok(Self {
            last: as_array(&inner.decoder_counters()),
            inner,
            info,
            counters,
        })
    }

    /// The wrapped source.
    pub fn inner(&self) -> &SerialSource {
        &self.inner
    }

    fn publish(&mut self) {
        let now = as_array(&self.inner.decoder_counters());
        for (i, (n, l)) in now.iter().zip(self.last.iter_mut()).enumerate() {
            self.counters.add(i, n.saturating_sub(*l));
            *l = *n;
        }
    }
}

impl Source for CountedSerial {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError> {
        let r = self.inner.read(buf, events);
        self.publish();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acquisition::serial::decoder::encode_frame;
    use crate::acquisition::serial::{DeviceKind, DeviceProfile, SerialConfig};
    use serialport::SerialPort;
    use std::io::Write;
    use std::time::Duration;

    #[test]
    fn calibration_per_channel_and_counters_across_connections() {
        let counters = DeviceCounters::new("serial", SERIAL_COUNTERS);
        for connection in 0..2 {
            let (mut master, slave) = serialport::TTYPort::pair().unwrap();
            let path = slave.name().unwrap();
            let mut cfg = SerialConfig::new(&path, *DeviceProfile::of(DeviceKind::HumanSpikerBox));
            cfg.read_timeout = Duration::from_millis(50);
            let src = SerialSource::open(&cfg).unwrap();
            let nominal = src.info().channels[1].volts_per_unit;
            let mut s = CountedSerial::new(src, &[Some(5000.0), None], counters.clone()).unwrap();
            assert_eq!(s.info().channels[0].volts_per_unit, 5000e-6 / 8192.0);
            assert_eq!(s.info().channels[1].volts_per_unit, nominal);
            assert!(s.info().description.contains("site configuration"));
            // 10 frames, the 5th missing a byte (dropped and counted).
            let mut bytes = Vec::new();
            for i in 0..=10u16 {
                let mut f = Vec::new();
                encode_frame(&[8192 + i, 8192 - i], &mut f);
                if i == 4 {
                    f.remove(1);
                }
                bytes.extend(f);
            }
            master.write_all(&bytes).unwrap();
            let mut buf = [0f32; 64];
            let mut got = 0;
            while got < 9 {
                got += s.read(&mut buf, &mut Vec::new()).unwrap();
            }
            let total = connection + 1;
            assert_eq!(counters.by_name("frames"), Some(9 * total));
            assert_eq!(counters.by_name("malformed_frames"), Some(total));
            assert_eq!(counters.by_name("bytes"), Some(bytes.len() as u64 * total));
        }
        let (_m, slave) = serialport::TTYPort::pair().unwrap();
        let cfg = SerialConfig::new(
            slave.name().unwrap(),
            *DeviceProfile::of(DeviceKind::HumanSpikerBox),
        );
        let src = SerialSource::open(&cfg).unwrap();
        let e = CountedSerial::new(src, &[None], counters).err().unwrap();
        assert!(
            e.to_string().contains("1 calibrations for 2 channels"),
            "{e}"
        );
    }
}
