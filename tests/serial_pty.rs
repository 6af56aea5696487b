//! `SerialSource` against a pseudo-terminal: the test plays the SpikerBox on the master end,
//! the source opens the slave end by its path, like a real port. A pty ignores the baud rate,
//! so nothing here is about timing; it is about bytes, samples, events and counters.

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use lsrmon::acquisition::serial::decoder::{encode_frame, encode_message};
use lsrmon::acquisition::serial::{
    DeviceKind, DeviceProfile, SerialConfig, SerialError, SerialSource,
};
use lsrmon::model::{Branch, SampleFormat};
use lsrmon::source::{Source, SourceError, SourceEvent};
use serialport::{SerialPort, TTYPort};

fn pty() -> (TTYPort, TTYPort, String) {
    let (master, slave) = TTYPort::pair().expect("a pseudo-terminal pair");
    let name = slave.name().expect("the slave's /dev/pts path");
    (master, slave, name)
}

fn config(path: &str, kind: DeviceKind) -> SerialConfig {
    let mut c = SerialConfig::new(path, *DeviceProfile::of(kind));
    c.read_timeout = Duration::from_millis(50);
    c.stall_timeout = Duration::from_secs(10);
    c
}

/// Reads `n` bytes from the master (what the source sent to the "device").
fn read_n(master: &mut TTYPort, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 256];
    while got.len() < n && Instant::now() < deadline {
        if let Ok(k) = master.read(&mut buf[..n - got.len()]) {
            got.extend_from_slice(&buf[..k]);
        }
    }
    got
}

/// Writes `bytes` from a thread (a pty holds only a few kB), in uneven pieces.
fn play(mut master: TTYPort, bytes: Vec<u8>) -> thread::JoinHandle<TTYPort> {
    thread::spawn(move || {
        master.set_timeout(Duration::from_secs(10)).unwrap();
        for (i, piece) in bytes.chunks(777).enumerate() {
            master.write_all(piece).unwrap();
            if i % 7 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        }
        master.flush().unwrap();
        master
    })
}

/// Reads from the source until `frames` frames have arrived.
fn collect(source: &mut SerialSource, frames: usize) -> (Vec<f32>, Vec<SourceEvent>) {
    let c = source.info().channel_count();
    let mut samples = Vec::new();
    let mut events = Vec::new();
    let mut buf = vec![0f32; 300 * c];
    while samples.len() < frames * c {
        let n = source.read(&mut buf, &mut events).expect("reading the pty");
        assert!(n > 0);
        samples.extend_from_slice(&buf[..n * c]);
    }
    (samples, events)
}

#[test]
fn frames_events_and_damage_through_a_pty() {
    let (master, _slave, path) = pty();
    let mut cfg = config(&path, DeviceKind::MuscleSpikerBoxPro);
    cfg.event_branch = Branch::MarginalMandibular;
    let mut source = SerialSource::open(&cfg).expect("opening the pty by path");
    let info = source.info().clone();
    assert_eq!((info.sample_rate_hz, info.channel_count()), (10_000.0, 2));
    assert_eq!(info.sample_format, SampleFormat::I16);
    assert_eq!(info.channels[0].range_units, Some((-512.0, 511.0)));

    let mut master = master;
    assert_eq!(read_n(&mut master, 14), b"c:2;?:;start:;");

    // The device: a stream joined mid-frame, versions, 2000 frames, two events, a frame that
    // loses a byte and a frame whose flag byte is corrupted.
    let value = |i: usize| [(i * 7 % 1024) as u16, (1023 - i % 1024) as u16];
    let mut stream = vec![0x12, 0x34];
    encode_message("FWV:1.2;HWT:MSBPCDC;", &mut stream);
    for i in 0..=2000 {
        let mut f = Vec::new();
        encode_frame(&value(i), &mut f);
        match i {
            800 => {
                f.remove(1);
            }
            1500 => f[0] = 0x05,
            _ => {}
        }
        stream.extend(f);
        if i == 299 || i == 1700 {
            encode_message("EVNT:1;", &mut stream);
        }
    }
    let device = play(master, stream);

    let kept: Vec<usize> = (0..2000)
        .filter(|i| ![800, 1499, 1500].contains(i))
        .collect();
    let (samples, events) = collect(&mut source, kept.len());
    let expected: Vec<f32> = kept
        .iter()
        .flat_map(|&i| value(i).map(|v| v as f32 - 512.0))
        .collect();
    assert_eq!(samples, expected);

    let stim = |t: f64| SourceEvent::Stimulus {
        frame_time: t,
        branch: Branch::MarginalMandibular,
        intensity_ma: f32::NAN,
        pulse_width_s: f32::NAN,
    };
    // Frame indices count delivered frames: original frame 1700 is delivered as 1697.
    let expected_events = [
        stim(299.0),
        SourceEvent::Gap {
            frame: 800,
            lost_frames: 1,
        },
        SourceEvent::Gap {
            frame: 1498,
            lost_frames: 2,
        },
        stim(1697.0),
    ];
    assert_eq!(events.len(), expected_events.len(), "{events:?}");
    for (got, want) in events.iter().zip(&expected_events) {
        match (got, want) {
            (
                SourceEvent::Stimulus {
                    frame_time: a,
                    branch: b,
                    intensity_ma,
                    ..
                },
                SourceEvent::Stimulus {
                    frame_time: c,
                    branch: d,
                    ..
                },
            ) => assert!(a == c && b == d && intensity_ma.is_nan(), "{got:?}"),
            _ => assert_eq!(got, want),
        }
    }

    let c = source.decoder_counters();
    assert_eq!(
        (c.discarded_bytes, c.malformed_frames, c.malformed_messages),
        (2, 2, 0)
    );
    assert_eq!((c.messages, c.events, c.gaps, c.lost_frames), (3, 2, 2, 3));
    assert_eq!(source.decoder().hardware_type(), Some("MSBPCDC"));
    assert_eq!(source.decoder().firmware_version(), Some("1.2"));

    // Closing the source stops the device.
    let mut master = device.join().unwrap();
    drop(source);
    assert_eq!(read_n(&mut master, 3), b"h:;");
}

#[test]
fn unplugging_the_device_is_a_disconnection_naming_the_port() {
    let (master, _slave, path) = pty();
    let mut source = SerialSource::open(&config(&path, DeviceKind::HumanSpikerBox)).unwrap();
    let mut master = master;
    assert_eq!(read_n(&mut master, 7), b"c:2;?:;");
    // 14 bits: values at both rails (16383's first byte is FF, like an escape sequence).
    let mut stream = Vec::new();
    for i in 0..=100u16 {
        encode_frame(&[if i % 2 == 0 { 16383 } else { 0 }, 8192 + i], &mut stream);
    }
    let master = play(master, stream).join().unwrap();
    let (samples, events) = collect(&mut source, 100);
    assert!(events.is_empty());
    assert_eq!(&samples[..4], &[8191.0, 0.0, -8192.0, 1.0]);
    drop(master);
    let mut buf = vec![0f32; 64];
    let mut events = Vec::new();
    let err = loop {
        match source.read(&mut buf, &mut events) {
            Ok(_) => continue, // the last frame, released by the hang-up, or nothing
            Err(e) => break e,
        }
    };
    match &err {
        SourceError::Disconnected { device, .. } => assert_eq!(device, &path),
        other => panic!("expected a disconnection, got {other:?}"),
    }
    assert!(err.to_string().contains(&path));
}

#[test]
fn a_silent_device_times_out_as_disconnected() {
    let (_master, _slave, path) = pty();
    let mut cfg = config(&path, DeviceKind::SpikeStation);
    cfg.stall_timeout = Duration::from_millis(300);
    let mut source = SerialSource::open(&cfg).unwrap();
    let mut buf = vec![0f32; 64];
    let err = source.read(&mut buf, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, SourceError::Disconnected { .. }), "{err}");
    assert!(err.to_string().contains("no data"), "{err}");
}

#[test]
fn bad_configurations_are_refused_with_the_port_named() {
    let (_master, _slave, path) = pty();
    let mut cfg = config(&path, DeviceKind::MuscleSpikerBoxPro);
    cfg.channels = Some(5);
    let err = SerialSource::open(&cfg).err().expect("5 channels refused");
    assert!(
        matches!(err, SerialError::Config { .. }) && err.to_string().contains(&path),
        "{err}"
    );
    let err = SerialSource::open(&config("/dev/no-such-port", DeviceKind::HumanSpikerBox))
        .err()
        .expect("a missing port refused");
    assert!(matches!(err, SerialError::Open { .. }), "{err}");
    assert!(err.to_string().contains("/dev/no-such-port"), "{err}");
}
