//! `lsrmon live --serial` against an emulated SpikerBox on a pseudo-terminal: the real binary,
//! the real port code, a device that streams the simulated patient's EMG with EVNT stimulus
//! messages, damaged bytes, and an unplug/replug in the middle.
//!
//! ## How "the device returns" is emulated
//! A closed pty cannot be reopened: its `/dev/pts/N` goes away with the master. So the test
//! does what `socat ... link=PATH` does: lsrmon is given a symlink (`ttyLSR` in a scratch
//! directory) pointing at the slave of a pty pair the test owns. Unplugging = closing both
//! ends and removing the link (lsrmon's read fails with an I/O error, exactly like a USB CDC
//! device that disappears); replugging = a new pty pair and the link pointing at it. lsrmon
//! only ever opens the path, as it would `/dev/ttyACM0` (which udev recreates the same way).
//!
//! ## What is checked
//! - the file is valid NWB (pynwb, nwbinspector);
//! - the samples in the file are exactly the frames the device sent, minus the frames the
//!   damage destroyed, split at the unplug by a gap;
//! - the unplug is announced on stderr at once and its return too, counted
//!   (`reconnect_disconnects`, `reconnect_reconnects`, `reconnect_outage_frames`) and
//!   recorded as a gap; the sweep cut by the unplug and the sweep hit by a dropped frame are
//!   `rejected` (lost samples), never `absent`;
//! - the decoder's counters (discarded bytes, malformed frames, EVNT events) reach the file;
//! - analysing the file gives the same verdicts as the live run.
//!
//! Set `LSRMON_LIVE_SERIAL_LONG=SECONDS` to run a clean real-time session of that length
//! instead (no damage, no unplug): the manual 10-minute check.

mod live_common;
mod nwb_common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use live_common::{analyze_file, assert_same_verdicts, counter, output, scratch_dir, spawn};
use lsrmon::acquisition::serial::decoder::{encode_frame, encode_message};
use lsrmon::nwb::{NwbSource, ReadOptions};
use lsrmon::sim::{Scenario, SimConfig, SimPatient, UV_PER_COUNT};
use lsrmon::source::{Source, SourceEvent};
use serde_json::Value;
use serialport::{SerialPort, TTYPort};

const RATE: f64 = 5000.0;
const CH: usize = 3;
/// µV at full scale (the configuration says the same): 5000 / 8192 µV per count.
const UV_FULL_SCALE: f64 = 5000.0;

/// The simulated patient as 14-bit SpikerBox frames, and its stimulus frames.
fn device_signal(seconds: f64, seed: u64) -> (Vec<[u16; CH]>, Vec<u64>) {
    let cfg = SimConfig {
        scenario: Scenario::Abrupt,
        seed,
        sample_rate_hz: RATE,
        duration_s: seconds,
        trigger: false,
        ..SimConfig::default()
    };
    let mut sim = SimPatient::new(cfg).unwrap();
    assert_eq!(sim.info().channel_count(), CH);
    let stims: Vec<u64> = sim
        .truth()
        .stimuli
        .iter()
        .filter(|s| s.frame_time.is_finite())
        .map(|s| s.frame_time.floor() as u64)
        .collect();
    let per_count = UV_FULL_SCALE / 8192.0;
    let mut frames = Vec::new();
    let mut buf = vec![0f32; 4096 * CH];
    loop {
        let n = sim.read(&mut buf, &mut Vec::new()).unwrap();
        if n == 0 {
            break;
        }
        for f in buf[..n * CH].chunks(CH) {
            let mut out = [0u16; CH];
            for (o, &v) in out.iter_mut().zip(f) {
                let counts = (f64::from(v) * UV_PER_COUNT / per_count).round() + 8192.0;
                *o = counts.clamp(0.0, 16383.0) as u16;
            }
            frames.push(out);
        }
    }
    (frames, stims)
}

/// Damage done to the byte stream at a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Damage {
    /// The frame loses its second byte: that frame is dropped.
    MissingByte,
    /// The frame's flag byte is corrupted: it and the frame before it are dropped.
    BadFlag,
    /// Five garbage bytes after the frame's EVNT message (between a message and the next
    /// frame: discarded, and a gap of at least one frame is reported; nothing is dropped).
    /// Only at a stimulus frame: right after a frame they would join it.
    Garbage,
}

/// A pty pair whose slave is reachable at `link`.
struct Plug {
    master: TTYPort,
    _slave: TTYPort,
}

fn plug_in(link: &Path) -> Plug {
    let (mut master, slave) = TTYPort::pair().expect("a pseudo-terminal pair");
    let name = slave.name().expect("the slave's path");
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(&name, link).unwrap();
    master.set_timeout(Duration::from_millis(200)).unwrap();
    Plug {
        master,
        _slave: slave,
    }
}

fn unplug(p: Plug, link: &Path) {
    drop(p);
    std::fs::remove_file(link).unwrap();
}

/// Waits for the host's set-up commands (the Human SpikerBox gets `c:3;?:;`).
fn await_handshake(p: &mut Plug) {
    let want = b"c:3;?:;";
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut b = [0u8; 64];
    while got.len() < want.len() && Instant::now() < deadline {
        if let Ok(k) = p.master.read(&mut b) {
            got.extend_from_slice(&b[..k]);
        }
    }
    assert_eq!(got, want, "the host's set-up commands");
}

/// Streams frames `a..b` (with EVNT after each stimulus frame and the damage), paced to
/// `speed` × real time. Returns the frames sent in order with the damaged ones left out
/// (what the host should record), or stops early if the host went away.
fn stream(
    p: &mut Plug,
    sig: &[[u16; CH]],
    stims: &[u64],
    damage: &[(u64, Damage)],
    a: u64,
    b: u64,
    speed: f64,
) -> (Vec<[u16; CH]>, usize) {
    let t0 = Instant::now();
    let chunk = (RATE * speed * 0.02).max(1.0) as u64; // 20 ms of signal per write
    let mut kept: Vec<[u16; CH]> = Vec::new();
    let mut events = 0;
    let mut at = a;
    while at < b {
        let end = (at + chunk).min(b);
        let mut bytes = Vec::new();
        for f in at..end {
            let mut fb = Vec::new();
            encode_frame(&sig[f as usize], &mut fb);
            let hit = damage.iter().find(|(d, _)| *d == f).map(|x| x.1);
            match hit {
                Some(Damage::MissingByte) => {
                    fb.remove(1);
                }
                Some(Damage::BadFlag) => {
                    fb[0] &= 0x7F;
                    kept.pop();
                }
                Some(Damage::Garbage) | None => kept.push(sig[f as usize]),
            }
            bytes.extend(fb);
            let stim = stims.binary_search(&f).is_ok();
            if stim {
                encode_message("EVNT:1;", &mut bytes);
                events += 1;
            }
            if hit == Some(Damage::Garbage) {
                assert!(stim, "garbage only after an EVNT message");
                bytes.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55]);
            }
        }
        if !write_patiently(&mut p.master, &bytes) {
            break; // the host closed the port (its session ended)
        }
        at = end;
        let due = Duration::from_secs_f64((at - a) as f64 / RATE / speed);
        if let Some(w) = due.checked_sub(t0.elapsed()) {
            thread::sleep(w);
        }
    }
    (kept, events)
}

/// Writes everything, waiting while the host is briefly slower than the device (a pty holds
/// only a few kB; a test machine busy compiling can pause the reader for a moment). False
/// when nothing could be written for 5 s: the host has gone.
fn write_patiently(master: &mut TTYPort, mut bytes: &[u8]) -> bool {
    let mut last_progress = Instant::now();
    while !bytes.is_empty() {
        match master.write(bytes) {
            Ok(n) if n > 0 => {
                bytes = &bytes[n..];
                last_progress = Instant::now();
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
        if last_progress.elapsed() > Duration::from_secs(5) {
            return false;
        }
    }
    true
}

fn site_config(dir: &Path) -> PathBuf {
    let p = dir.join("site.toml");
    let mut text = String::from(
        "[serial]\nprofile = \"human\"\nevents = \"zygomatic\"\nstall_timeout_s = 5.0\n",
    );
    for m in ["orbicularis_oculi", "orbicularis_oris", "mentalis"] {
        text.push_str(&format!(
            "\n[[channel]]\nlabel = \"{m}\"\nmuscle = \"{m}\"\nuv_full_scale = {UV_FULL_SCALE:.1}\n"
        ));
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// Reads the recording: frames (as 14-bit counts) and events.
fn recorded(path: &Path) -> (Vec<[u16; CH]>, Vec<SourceEvent>) {
    let mut src = NwbSource::open(path, &ReadOptions::default()).unwrap();
    let mut buf = vec![0f32; 4096 * CH];
    let (mut frames, mut events) = (Vec::new(), Vec::new());
    loop {
        let n = src.read(&mut buf, &mut events).unwrap();
        if n == 0 {
            return (frames, events);
        }
        for f in buf[..n * CH].chunks(CH) {
            let mut o = [0u16; CH];
            for (x, &v) in o.iter_mut().zip(f) {
                *x = (v + 8192.0) as u16;
            }
            frames.push(o);
        }
    }
}

fn sweeps_at(analysis: &Value, stim_frame: u64) -> Vec<Value> {
    analysis["sweeps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| (s["stim_time_s"].as_f64().unwrap() * RATE - stim_frame as f64).abs() < 0.5)
        .cloned()
        .collect()
}

fn wait(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("lsrmon live did not end within {limit:?}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serial_device_with_damage_and_an_unplug_is_recorded_and_judged_like_its_file() {
    if let Some(secs) = std::env::var("LSRMON_LIVE_SERIAL_LONG")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        return long_clean_run(secs);
    }
    let dir = scratch_dir("serial");
    let link = dir.join("ttyLSR");
    let nwb = dir.join("case.nwb");
    let json = dir.join("live.json");
    let (sig, stims) = device_signal(34.0, 5);
    let speed = 3.0;
    // Unplug 10 ms after the stimulus nearest 15 s; come back 1.5 s (of signal) later.
    let s_cut = *stims.iter().min_by_key(|&&s| s.abs_diff(75_000)).unwrap();
    let a = s_cut + 50;
    let b = a + 7_500;
    // Damage 5 ms after three stimuli of the first part, and garbage between two frames.
    let damage = [
        (stims[3] + 25, Damage::MissingByte),
        (stims[5] + 25, Damage::BadFlag),
        (stims[7], Damage::Garbage),
    ];

    let mut plug = plug_in(&link);
    let cfg = site_config(&dir);
    let mut child = spawn(
        &dir,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "live",
            "--serial",
            link.to_str().unwrap(),
            "--duration",
            "30",
            "--changes-only",
            "--record",
            nwb.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    await_handshake(&mut plug);
    let mut hello = Vec::new();
    encode_message("FWV:0.9;HWT:HUMANSB;", &mut hello);
    plug.master.write_all(&hello).unwrap();
    let (part1, ev1) = stream(&mut plug, &sig, &stims, &damage, 0, a, speed);
    // Let the host read everything, then pull the cable.
    thread::sleep(Duration::from_millis(500));
    unplug(plug, &link);
    thread::sleep(Duration::from_millis(1_500));
    let mut plug = plug_in(&link);
    await_handshake(&mut plug);
    let (part2, _) = stream(&mut plug, &sig, &stims, &[], b, sig.len() as u64, speed);
    let status = wait(&mut child, Duration::from_secs(120));
    drop(plug);
    let (out, err) = output(&dir);
    assert!(
        status.success(),
        "lsrmon live failed: {status}\n{out}\n{err}"
    );
    assert!(
        err.contains("DEVICE LOST") && err.contains("ttyLSR"),
        "{err}"
    );
    assert!(err.contains("DEVICE BACK"), "{err}");

    nwb_common::check_nwb(&[&nwb], false);

    // The samples are the frames the device sent, minus the damage, split by the unplug.
    let (frames, events) = recorded(&nwb);
    let outage = events
        .iter()
        .filter_map(|e| match *e {
            SourceEvent::Gap { frame, lost_frames } => Some((frame, lost_frames)),
            _ => None,
        })
        .max_by_key(|g| g.1)
        .expect("the unplug is a gap in the file");
    let k1 = outage.0 as usize;
    assert!(outage.1 >= 5_000, "the outage is at least 1 s: {outage:?}");
    // All of part 1 but the last frame, which the device's next flag byte would have closed.
    assert_eq!(k1, part1.len() - 1, "frames recorded before the unplug");
    assert!(frames[..k1] == part1[..k1], "part 1 differs");
    let rest = &frames[k1..];
    assert!(
        rest.len() > 40_000,
        "only {} frames after the return",
        rest.len()
    );
    assert!(rest == &part2[..rest.len()], "part 2 differs");

    // Counters in the file.
    let src = NwbSource::open(&nwb, &ReadOptions::default()).unwrap();
    assert_eq!(counter(&src, "reconnect_disconnects"), Some(1));
    assert_eq!(counter(&src, "reconnect_reconnects"), Some(1));
    assert_eq!(counter(&src, "reconnect_outage_frames"), Some(outage.1));
    assert_eq!(counter(&src, "serial_discarded_bytes"), Some(5));
    assert_eq!(counter(&src, "serial_malformed_frames"), Some(2));
    assert_eq!(counter(&src, "pipeline_frames_dropped"), Some(0));
    assert_eq!(counter(&src, "recorder_dropped_frames"), Some(0));
    let evnt = counter(&src, "serial_events").unwrap();
    assert!(evnt as usize >= ev1 + 10, "{evnt} EVNT messages counted");

    // The sweeps cut by the unplug and by a dropped frame: rejected, never absent.
    let live: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // Stream frames do not count dropped frames: three were dropped before the unplug.
    for (stim, what) in [(s_cut - 3, "the unplug"), (stims[3], "a missing byte")] {
        let sw = sweeps_at(&live, stim);
        assert_eq!(
            sw.len(),
            2,
            "two LSR channels judged at the stimulus before {what}"
        );
        for s in sw {
            assert_eq!(s["status"], "rejected", "{what}: {s}");
            assert_eq!(s["reject_reason"], "lost_samples", "{what}: {s}");
        }
    }
    let n = assert_same_verdicts(&live, &analyze_file(&nwb));
    assert!(n > 40, "only {n} sweeps compared");
}

/// The manual check: a clean real-time session of `secs` seconds from the pty device.
fn long_clean_run(secs: f64) {
    let dir = scratch_dir("serial_long");
    let link = dir.join("ttyLSR");
    let nwb = dir.join("case.nwb");
    let json = dir.join("live.json");
    let (sig, stims) = device_signal(secs + 5.0, 9);
    let mut plug = plug_in(&link);
    let cfg = site_config(&dir);
    let secs_arg = format!("{secs}");
    let mut child = spawn(
        &dir,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "live",
            "--serial",
            link.to_str().unwrap(),
            "--duration",
            &secs_arg,
            "--changes-only",
            "--record",
            nwb.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    await_handshake(&mut plug);
    let t0 = Instant::now();
    let (sent, _) = stream(&mut plug, &sig, &stims, &[], 0, sig.len() as u64, 1.0);
    let status = wait(&mut child, Duration::from_secs_f64(secs + 120.0));
    let (out, err) = output(&dir);
    assert!(status.success(), "{status}\n{out}\n{err}");
    nwb_common::check_nwb(&[&nwb], false);
    let (frames, events) = recorded(&nwb);
    let total = (secs * RATE).round() as usize;
    assert_eq!(frames.len(), total);
    assert!(
        frames[..] == sent[..total],
        "the recording differs from what was sent"
    );
    assert!(!events.iter().any(|e| matches!(e, SourceEvent::Gap { .. })));
    let src = NwbSource::open(&nwb, &ReadOptions::default()).unwrap();
    for c in [
        "engine_lost_frames",
        "pipeline_frames_dropped",
        "recorder_dropped_frames",
        "serial_lost_frames",
        "reconnect_disconnects",
    ] {
        assert_eq!(counter(&src, c), Some(0), "{c}");
    }
    let live: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let n = assert_same_verdicts(&live, &analyze_file(&nwb));
    eprintln!(
        "long serial run: {secs} s in {:.1} s wall, {} frames, {n} sweeps compared, counters {:?}\n{out}",
        t0.elapsed().as_secs_f64(),
        frames.len(),
        src.recorded_counters()
    );
}
