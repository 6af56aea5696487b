//! `lsrmon devices`: the audio inputs (with the rates, channel counts and sample formats they
//! support) and the serial ports this machine has, numbered as `live --audio INDEX` means.

use std::collections::BTreeMap;
use std::io::Write;

use crate::acquisition::audio::{list_input_devices, ConfigRange, InputDevice};

use super::error::CliError;

/// What a device supports, one line: formats, channel and rate ranges, buffer sizes.
pub fn describe_configs(configs: &[ConfigRange]) -> String {
    if configs.is_empty() {
        return "no input configuration reported".into();
    }
    // Per format: channel range, rate range, buffer range.
    #[derive(Clone, Copy)]
    struct Ranges {
        channels: (u16, u16),
        rates: (u32, u32),
        buffers: Option<(u32, u32)>,
    }
    let mut by: BTreeMap<&str, Ranges> = BTreeMap::new();
    for c in configs {
        let e = by.entry(c.format.as_str()).or_insert(Ranges {
            channels: (u16::MAX, 0),
            rates: (u32::MAX, 0),
            buffers: None,
        });
        e.channels = (e.channels.0.min(c.channels), e.channels.1.max(c.channels));
        e.rates = (e.rates.0.min(c.min_rate_hz), e.rates.1.max(c.max_rate_hz));
        if let Some((a, b)) = c.buffer_frames {
            e.buffers = Some(e.buffers.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
        }
    }
    let span = |a: u64, b: u64| {
        if a == b {
            a.to_string()
        } else {
            format!("{a}-{b}")
        }
    };
    by.iter()
        .map(|(f, r)| {
            let buf = r
                .buffers
                .map(|(a, b)| format!(", buffers {} frames", span(a.into(), b.into())))
                .unwrap_or_default();
            format!(
                "{f}: {} ch, {} Hz{buf}",
                span(r.channels.0.into(), r.channels.1.into()),
                span(r.rates.0.into(), r.rates.1.into())
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn print_audio(out: &mut dyn Write, devices: &[InputDevice]) -> std::io::Result<()> {
    writeln!(out, "Audio inputs (use: lsrmon live --audio INDEX or ID):")?;
    writeln!(
        out,
        "  [default]  the host's default input (the sound server when one runs)"
    )?;
    if devices.is_empty() {
        writeln!(out, "  none found")?;
    }
    for d in devices {
        writeln!(out, "  [{}] {}  {}", d.index, d.id, d.name)?;
        match &d.error {
            Some(e) => writeln!(out, "      cannot be queried: {e}")?,
            None => writeln!(out, "      {}", describe_configs(&d.configs))?,
        }
        if let Some(c) = &d.default_config {
            writeln!(out, "      default: {c}")?;
        }
    }
    Ok(())
}

fn print_serial(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Serial ports (use: lsrmon live --serial PORT --profile NAME):"
    )?;
    match serialport::available_ports() {
        Ok(ports) if ports.is_empty() => writeln!(out, "  none found")?,
        Ok(ports) => {
            for p in ports {
                let what = match p.port_type {
                    serialport::SerialPortType::UsbPort(u) => format!(
                        "USB {:04x}:{:04x}{}{}",
                        u.vid,
                        u.pid,
                        u.manufacturer.map(|m| format!(" {m}")).unwrap_or_default(),
                        u.product.map(|m| format!(" {m}")).unwrap_or_default()
                    ),
                    serialport::SerialPortType::PciPort => "PCI".into(),
                    serialport::SerialPortType::BluetoothPort => "Bluetooth".into(),
                    serialport::SerialPortType::Unknown => "unknown type".into(),
                };
                writeln!(out, "  {}  {what}", p.port_name)?;
            }
        }
        Err(e) => writeln!(out, "  cannot list the serial ports: {e}")?,
    }
    writeln!(
        out,
        "  SpikerBox profiles: muscle-pro, human, neuron-pro, spike-station, shield"
    )
}

pub fn run() -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match list_input_devices() {
        Ok(d) => print_audio(&mut out, &d)?,
        Err(e) => writeln!(out, "Audio inputs: {e}")?,
    }
    print_serial(&mut out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_are_summarised_per_format() {
        let r = |ch, a, b, f: &str, buf| ConfigRange {
            channels: ch,
            min_rate_hz: a,
            max_rate_hz: b,
            format: f.into(),
            buffer_frames: buf,
        };
        let s = describe_configs(&[
            r(1, 8000, 48000, "i16", Some((64, 4096))),
            r(2, 44100, 96000, "i16", Some((32, 8192))),
            r(2, 48000, 48000, "f32", None),
        ]);
        assert_eq!(
            s,
            "f32: 2 ch, 48000 Hz; i16: 1-2 ch, 8000-96000 Hz, buffers 32-8192 frames"
        );
        assert_eq!(describe_configs(&[]), "no input configuration reported");
    }
}
