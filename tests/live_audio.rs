//! Audio capture through a real audio stack, so that the cpal code path itself runs: the
//! driver's callback, the SPSC ring, the reading side, and (for PulseAudio) the whole
//! `lsrmon live --audio ... --record` session.
//!
//! - **ALSA `file` plugin** (fast, deterministic): an ALSA PCM defined in a test-only
//!   configuration (`ALSA_CONFIG_PATH`) reads a raw FLOAT_LE or S16_LE file the test wrote;
//!   [`AudioSource`] must deliver it sample for sample. The plugin is not paced (seconds of
//!   audio arrive in milliseconds), so the ring is sized for the whole take.
//! - **PulseAudio null sink** (real time): the test starts its own PulseAudio daemon with a
//!   null sink, starts `lsrmon live --audio default --record`, waits until lsrmon reports its
//!   first samples (a sound server takes 1-2 s to deliver the first block), plays a known
//!   signal into the sink with `paplay`, and compares the recorded file with the signal
//!   sample for sample after aligning them.
//!
//! A missing tool fails the test with the Debian package to install (`./dev test` installs
//! them); nothing is skipped.

mod live_common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use live_common::{counter, output, scratch_dir};
use lsrmon::acquisition::audio::{
    AudioChannel, AudioConfig, AudioFormat, AudioSource, AUDIO_COUNTERS,
};
use lsrmon::acquisition::counters::DeviceCounters;
use lsrmon::model::{Muscle, Role};
use lsrmon::nwb::{NwbSource, ReadOptions};
use lsrmon::source::{Source, SourceEvent};

const RATE: u32 = 48_000;

/// A deterministic, non-repeating test signal (xorshift), as i16 pairs.
fn signal(frames: usize, seed: u64) -> Vec<[i16; 2]> {
    let mut x = seed | 1;
    (0..frames)
        .map(|_| {
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> 40) % 16_001) as i16 - 8000
            };
            [next(), next()]
        })
        .collect()
}

/// The executable `name` on PATH; fails naming the Debian package if it is missing.
fn need(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is missing: install the Debian package `{package}` (./dev test does)")
        })
}

fn channels() -> Vec<AudioChannel> {
    vec![
        AudioChannel {
            label: "mentalis".into(),
            muscle: Muscle::Mentalis,
            role: Role::Emg,
            trigger_branch: None,
            uv_full_scale: 1000.0,
        },
        AudioChannel {
            label: "orbicularis_oculi".into(),
            muscle: Muscle::OrbicularisOculi,
            role: Role::Emg,
            trigger_branch: None,
            uv_full_scale: 1000.0,
        },
    ]
}

/// Captures `frames` frames from ALSA PCM `pcm` in `format`.
fn capture(pcm: &str, format: AudioFormat, frames: usize) -> (Vec<f32>, Vec<SourceEvent>, u64) {
    let mut cfg = AudioConfig::new(pcm, RATE, channels());
    cfg.format = format;
    cfg.ring_seconds = 8.0;
    let counters = DeviceCounters::new("audio", AUDIO_COUNTERS);
    let mut src = AudioSource::open(&cfg, counters.clone()).expect("opening the test PCM");
    assert_eq!(src.device_id(), format!("alsa:{pcm}"));
    assert_eq!(src.info().sample_format, format.sample_format());
    let vpu = src.info().channels[0].volts_per_unit;
    assert!((vpu - 1000e-6 / format.full_scale_units()).abs() < 1e-15);
    let mut buf = vec![0f32; 1000 * 2];
    let (mut got, mut events) = (Vec::new(), Vec::new());
    let t0 = Instant::now();
    while got.len() < frames * 2 {
        assert!(t0.elapsed() < Duration::from_secs(20), "capture too slow");
        let n = src
            .read(&mut buf, &mut events)
            .expect("reading the test PCM");
        got.extend_from_slice(&buf[..n * 2]);
    }
    got.truncate(frames * 2);
    (got, events, counters.get(1))
}

#[test]
fn alsa_file_plugin_capture_is_bit_exact_in_f32_and_i16() {
    let dir = scratch_dir("alsa_file");
    let sig = signal(RATE as usize * 10, 7);
    // The plugin keeps returning stale data after its file ends: make the file longer than
    // what is read. Float samples: the i16 values / 32768 (exact in f32).
    let mut f32_raw = Vec::new();
    let mut s16_raw = Vec::new();
    for fr in &sig {
        for &v in fr {
            f32_raw.extend_from_slice(&(f32::from(v) / 32768.0).to_le_bytes());
            s16_raw.extend_from_slice(&v.to_le_bytes());
        }
    }
    let (pf, ps) = (dir.join("f32.raw"), dir.join("s16.raw"));
    std::fs::write(&pf, &f32_raw).unwrap();
    std::fs::write(&ps, &s16_raw).unwrap();
    let conf = dir.join("test-asound.conf");
    let pcm = |name: &str, file: &Path| {
        format!(
            "pcm.{name} {{\n  type file\n  slave.pcm \"null\"\n  file \"/dev/null\"\n  \
             infile \"{}\"\n  format \"raw\"\n  hint {{ show on description \"lsrmon test \
             input\" }}\n}}\n",
            file.display()
        )
    };
    let mut c = std::fs::File::create(&conf).unwrap();
    write!(c, "{}{}", pcm("lsrtest_f32", &pf), pcm("lsrtest_s16", &ps)).unwrap();
    drop(c);
    // Only this test uses ALSA in this process; children of the other test drop the variable.
    std::env::set_var(
        "ALSA_CONFIG_PATH",
        format!("/usr/share/alsa/alsa.conf:{}", conf.display()),
    );

    let frames = RATE as usize * 2;
    let want_f32: Vec<f32> = sig[..frames]
        .iter()
        .flat_map(|fr| fr.map(|v| f32::from(v) / 32768.0))
        .collect();
    let (got, events, counted) = capture("lsrtest_f32", AudioFormat::F32, frames);
    assert!(got == want_f32, "f32 capture differs");
    assert!(events.is_empty(), "no gap expected: {events:?}");
    assert!(counted >= frames as u64);

    let want_i16: Vec<f32> = sig[..frames]
        .iter()
        .flat_map(|fr| fr.map(f32::from))
        .collect();
    let (got, events, _) = capture("lsrtest_s16", AudioFormat::I16, frames);
    let first_bad = got.iter().zip(&want_i16).position(|(a, b)| a != b);
    assert_eq!(first_bad, None, "i16 capture differs");
    assert!(events.is_empty(), "no gap expected: {events:?}");
}

/// A PulseAudio daemon of this test, killed on drop.
struct Pulse {
    runtime: PathBuf,
}

impl Pulse {
    fn command(&self, program: &Path) -> std::process::Command {
        // No HDF5 file is open in this process while these run (see live_common::lsrmon).
        let mut c = std::process::Command::new(program);
        c.env("XDG_RUNTIME_DIR", &self.runtime)
            .env_remove("ALSA_CONFIG_PATH")
            .env_remove("PULSE_SERVER")
            .stdin(Stdio::null());
        c
    }

    fn start(dir: &Path) -> Self {
        let pulseaudio = need("pulseaudio", "pulseaudio");
        let pactl = need("pactl", "pulseaudio-utils");
        assert!(
            Path::new("/usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so").exists()
                || Path::new("/usr/lib/aarch64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so")
                    .exists(),
            "the ALSA PulseAudio plugin is missing: install the Debian package \
             `libasound2-plugins`"
        );
        let runtime = dir.join("xdg");
        std::fs::create_dir_all(&runtime).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        let p = Self { runtime };
        let st = p
            .command(&pulseaudio)
            .args([
                "--daemonize=yes",
                "--exit-idle-time=-1",
                "-n",
                "--load=module-native-protocol-unix",
                "--load=module-null-sink sink_name=vsink rate=48000 channels=2",
            ])
            .arg(format!("--log-target=file:{}/pa.log", p.runtime.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "pulseaudio did not start");
        let t0 = Instant::now();
        while !p
            .command(&pactl)
            .arg("info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
        {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "pulseaudio does not answer"
            );
            thread::sleep(Duration::from_millis(100));
        }
        let st = p
            .command(&pactl)
            .args(["set-default-source", "vsink.monitor"])
            .status()
            .unwrap();
        assert!(st.success());
        p
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        if let Ok(pa) = std::panic::catch_unwind(|| need("pulseaudio", "pulseaudio")) {
            let _ = self
                .command(&pa)
                .arg("--kill")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn wav(path: &Path, sig: &[[i16; 2]]) {
    let data: Vec<u8> = sig.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&2u16.to_le_bytes()); // channels
    h.extend_from_slice(&RATE.to_le_bytes());
    h.extend_from_slice(&(RATE * 4).to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&(data.len() as u32).to_le_bytes());
    h.extend(data);
    std::fs::write(path, h).unwrap();
}

#[test]
fn pulseaudio_null_sink_through_live_record_is_bit_exact() {
    let paplay = need("paplay", "pulseaudio-utils");
    let dir = scratch_dir("pulse");
    let pulse = Pulse::start(&dir);
    let sig = signal(RATE as usize * 2, 11);
    let known = dir.join("known.wav");
    wav(&known, &sig);
    let cfg = dir.join("site.toml");
    std::fs::write(
        &cfg,
        "[audio]\ndevice = \"default\"\nrate = 48000\nformat = \"i16\"\n\n\
         [[channel]]\nlabel = \"mentalis\"\nmuscle = \"mentalis\"\nuv_full_scale = 1000.0\n\n\
         [[channel]]\nlabel = \"orbicularis_oculi\"\nmuscle = \"orbicularis_oculi\"\n\
         uv_full_scale = 1000.0\n",
    )
    .unwrap();
    let nwb = dir.join("pulse.nwb");
    let child = {
        let mut c = live_common::lsrmon();
        let out = std::fs::File::create(dir.join("stdout.txt")).unwrap();
        let err = std::fs::File::create(dir.join("stderr.txt")).unwrap();
        c.args(["--config", cfg.to_str().unwrap(), "live", "--duration", "5"])
            .args(["--changes-only", "--record", nwb.to_str().unwrap()])
            .env("XDG_RUNTIME_DIR", &pulse.runtime)
            .env_remove("ALSA_CONFIG_PATH")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap()
    };
    let mut child = child;
    // Wait for the first block before playing.
    let t0 = Instant::now();
    while !output(&dir).1.contains("receiving samples") {
        if let Some(s) = child.try_wait().unwrap() {
            let (o, e) = output(&dir);
            panic!("lsrmon ended early: {s}\n{o}\n{e}");
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no audio arrived");
        thread::sleep(Duration::from_millis(20));
    }
    let st = pulse
        .command(&paplay)
        .arg("--device=vsink")
        .arg(&known)
        .status()
        .unwrap();
    assert!(st.success(), "paplay failed");
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "lsrmon did not end");
        thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = output(&dir);
    assert!(status.success(), "{status}\n{out}\n{err}");
    drop(pulse);

    let mut src = NwbSource::open(&nwb, &ReadOptions::default()).unwrap();
    assert_eq!(src.info().sample_format, lsrmon::model::SampleFormat::I16);
    let mut buf = vec![0f32; 4096 * 2];
    let (mut rec, mut events) = (Vec::<[i16; 2]>::new(), Vec::new());
    loop {
        let n = src.read(&mut buf, &mut events).unwrap();
        if n == 0 {
            break;
        }
        rec.extend(buf[..n * 2].chunks(2).map(|f| [f[0] as i16, f[1] as i16]));
    }
    assert_eq!(rec.len(), RATE as usize * 5);
    assert!(events.is_empty(), "no gap expected: {events:?}");
    for c in [
        "audio_xruns",
        "audio_overruns",
        "pipeline_frames_dropped",
        "recorder_dropped_frames",
    ] {
        assert_eq!(counter(&src, c), Some(0), "{c}");
    }
    // Align: the first sound in the recording is the signal from some frame k (a sound
    // server may drop the first few ms of a stream), then everything must be exact.
    let p = rec
        .iter()
        .position(|f| *f != [0, 0])
        .expect("the played signal is in the recording");
    let k = (0..4800)
        .find(|&k| sig[k] == rec[p] && sig[k + 1..k + 1000] == rec[p + 1..p + 1000])
        .expect("the recording matches the played signal after alignment");
    let n = sig.len() - k;
    assert!(p + n <= rec.len(), "the recording ended before the signal");
    let exact = sig[k..]
        .iter()
        .zip(&rec[p..p + n])
        .filter(|(a, b)| a == b)
        .count();
    eprintln!(
        "pulse: signal found at recorded frame {p} from its frame {k}; {exact} of {n} frames \
         exact; {}",
        err.lines()
            .filter(|l| l.starts_with("lsrmon"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    assert!(
        k < 4800,
        "more than 100 ms of the signal missing at the start"
    );
    assert_eq!(exact, n, "frames differ after alignment");
    assert!(
        rec[p + n..].iter().all(|f| *f == [0, 0]),
        "silence after the signal"
    );
}
