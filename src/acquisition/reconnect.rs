//! [`ReconnectingSource`]: keeps a live device going through unplugging and replugging.
//!
//! A USB cable gets pulled, an audio interface resets, a SpikerBox browns out. The case goes
//! on, so the monitor must too:
//! - the moment the device fails (its source returns [`SourceError::Disconnected`] or an I/O
//!   error), a [`DeviceNotice::Lost`] goes out (the command line prints it at once, a
//!   dashboard shows it) and the failure is counted;
//! - the device is reopened with the same settings, retrying with a growing pause
//!   (`first_delay`, doubling up to `max_delay`), until it is back, the program is stopped,
//!   or `give_up_after` has passed;
//! - when samples flow again, the time it was away (from its last samples to the opening
//!   that brought new ones) becomes a [`SourceEvent::Gap`] before the first new frame, with
//!   the frames that time would have held (wall time × sample rate: the device cannot say
//!   what it did not send), so the recording marks the gap and every sweep overlapping it is
//!   rejected, never judged absent. A [`DeviceNotice::Back`] says so.
//! - One outage is one `Lost` and one `Back`, however many openings it takes: a port that
//!   opens but stays silent (its stall timeout ends that connection) is just another failed
//!   attempt.
//!
//! Frame numbers continue across connections (a new connection starts counting at 0; its
//! events are moved by the frames delivered before it). A reopened device must have the same
//! rate, channels and sample type, or the stream could not go on: that is an error.
//!
//! A device that is missing when the program *starts* is not retried here: the caller opens
//! the first connection, so a wrong name or a missing cable is reported at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::counters::DeviceCounters;
use crate::source::{Source, SourceError, SourceEvent, SourceInfo};

/// Opens the device again (same settings as the first time).
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn Source>, String> + Send>;

/// Counter names of the reconnection logic, in index order.
pub const RECONNECT_COUNTERS: &[&str] = &[
    "disconnects",
    "reconnects",
    "failed_attempts",
    "outage_frames",
];
// disconnects: outages begun; reconnects: outages ended (samples flowing again);
// failed_attempts: openings that failed or delivered nothing; outage_frames: their length.
const DISCONNECTS: usize = 0;
const RECONNECTS: usize = 1;
const FAILED_ATTEMPTS: usize = 2;
const OUTAGE_FRAMES: usize = 3;

/// What happened to the device (for the user, at once).
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceNotice {
    /// The device failed after `at_frame` frames.
    Lost {
        device: String,
        detail: String,
        at_frame: u64,
    },
    /// The device is back after `away_s` seconds; about `lost_frames` frames are missing.
    Back {
        device: String,
        away_s: f64,
        lost_frames: u64,
    },
    /// No more attempts.
    GaveUp { device: String, away_s: f64 },
}

impl std::fmt::Display for DeviceNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Lost { device, detail, .. } => write!(
                f,
                "DEVICE LOST: {device}: {detail}. Sweeps are not analysed until it is back; \
                 trying to reopen it"
            ),
            Self::Back {
                device,
                away_s,
                lost_frames,
            } => write!(
                f,
                "DEVICE BACK: {device} after {away_s:.1} s; about {lost_frames} frames are \
                 missing (recorded as a gap, sweeps over it rejected)"
            ),
            Self::GaveUp { device, away_s } => {
                write!(
                    f,
                    "DEVICE GONE: {device}: still missing after {away_s:.0} s, giving up"
                )
            }
        }
    }
}

/// Retry timing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReconnectOptions {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Stop trying after this long (`None`: until the program is stopped).
    pub give_up_after: Option<Duration>,
}

impl Default for ReconnectOptions {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            give_up_after: None,
        }
    }
}

/// See the module documentation.
pub struct ReconnectingSource {
    device: String,
    open: Opener,
    current: Option<Box<dyn Source>>,
    info: SourceInfo,
    /// Frames delivered by earlier connections.
    offset: u64,
    delivered: u64,
    /// When the last samples arrived.
    last_data: Instant,
    /// In an outage: when the current connection was opened (None: not opened yet).
    outage: Option<Option<Instant>>,
    opts: ReconnectOptions,
    counters: Arc<DeviceCounters>,
    stop: Option<Arc<AtomicBool>>,
    notices: Option<Sender<DeviceNotice>>,
}

impl ReconnectingSource {
    /// `first` is the open first connection; `open` makes the next ones. `counters` uses
    /// [`RECONNECT_COUNTERS`].
    pub fn new(
        device: impl Into<String>,
        first: Box<dyn Source>,
        open: Opener,
        opts: ReconnectOptions,
        counters: Arc<DeviceCounters>,
    ) -> Self {
        Self {
            device: device.into(),
            info: first.info().clone(),
            current: Some(first),
            open,
            offset: 0,
            delivered: 0,
            last_data: Instant::now(),
            outage: None,
            opts,
            counters,
            stop: None,
            notices: None,
        }
    }

    /// A waiting reconnection ends the stream when `stop` is set.
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Where [`DeviceNotice`]s go (never blocks: a full channel drops the notice).
    pub fn with_notices(mut self, notices: Sender<DeviceNotice>) -> Self {
        self.notices = Some(notices);
        self
    }

    fn notify(&self, n: DeviceNotice) {
        if let Some(tx) = &self.notices {
            let _ = tx.try_send(n);
        }
    }

    fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Waits `d` in short steps; false if stopped meanwhile.
    fn pause(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.stopped() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20).min(d));
        }
        !self.stopped()
    }

    /// Reopens the device. `Ok(false)`: stopped while waiting.
    fn reconnect(&mut self) -> Result<bool, SourceError> {
        let mut delay = self.opts.first_delay;
        loop {
            if self.stopped() {
                return Ok(false);
            }
            let away = self.last_data.elapsed();
            if self.opts.give_up_after.is_some_and(|g| away > g) {
                self.notify(DeviceNotice::GaveUp {
                    device: self.device.clone(),
                    away_s: away.as_secs_f64(),
                });
                return Err(SourceError::Disconnected {
                    device: self.device.clone(),
                    detail: format!("still missing after {:.0} s", away.as_secs_f64()),
                });
            }
            match (self.open)() {
                Ok(src) => {
                    let (a, b) = (&self.info, src.info());
                    if a.sample_rate_hz != b.sample_rate_hz
                        || a.channels.len() != b.channels.len()
                        || a.sample_format != b.sample_format
                    {
                        return Err(SourceError::Other(format!(
                            "device '{}' came back with other settings ({} Hz, {} channels \
                             instead of {} Hz, {} channels): the recording cannot go on",
                            self.device,
                            b.sample_rate_hz,
                            b.channels.len(),
                            a.sample_rate_hz,
                            a.channels.len()
                        )));
                    }
                    self.outage = Some(Some(Instant::now()));
                    self.offset = self.delivered;
                    self.current = Some(src);
                    return Ok(true);
                }
                Err(_) => {
                    self.counters.add(FAILED_ATTEMPTS, 1);
                    if !self.pause(delay) {
                        return Ok(false);
                    }
                    delay = (delay * 2).min(self.opts.max_delay);
                }
            }
        }
    }

    /// The first samples after an outage: the gap before them, and the notice.
    fn back(&mut self, opened: Instant) -> SourceEvent {
        let away = opened
            .saturating_duration_since(self.last_data)
            .as_secs_f64();
        let lost = ((away * self.info.sample_rate_hz).round() as u64).max(1);
        self.counters.add(RECONNECTS, 1);
        self.counters.add(OUTAGE_FRAMES, lost);
        self.notify(DeviceNotice::Back {
            device: self.device.clone(),
            away_s: away,
            lost_frames: lost,
        });
        SourceEvent::Gap {
            frame: self.delivered,
            lost_frames: lost,
        }
    }
}

fn shift(e: &mut SourceEvent, by: u64) {
    match e {
        SourceEvent::Stimulus { frame_time, .. } => *frame_time += by as f64,
        SourceEvent::Gap { frame, .. } => *frame += by,
    }
}

impl Source for ReconnectingSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError> {
        loop {
            if self.current.is_none() && !self.reconnect()? {
                return Ok(0);
            }
            let Some(src) = self.current.as_mut() else {
                continue;
            };
            let start = events.len();
            match src.read(buf, events) {
                Ok(0) => return Ok(0),
                Ok(n) => {
                    for e in &mut events[start..] {
                        shift(e, self.offset);
                    }
                    if let Some(opened) = self.outage.take() {
                        let gap = self.back(opened.unwrap_or_else(Instant::now));
                        events.insert(start, gap);
                    }
                    self.delivered += n as u64;
                    self.last_data = Instant::now();
                    return Ok(n);
                }
                Err(e @ (SourceError::Disconnected { .. } | SourceError::Io(_))) => {
                    events.truncate(start);
                    if self.outage.is_none() {
                        self.counters.add(DISCONNECTS, 1);
                        let detail = match &e {
                            SourceError::Disconnected { detail, .. } => detail.clone(),
                            other => other.to_string(),
                        };
                        self.notify(DeviceNotice::Lost {
                            device: self.device.clone(),
                            detail,
                            at_frame: self.delivered,
                        });
                        self.outage = Some(None);
                    } else {
                        // Reopened, but it failed again before delivering anything.
                        self.counters.add(FAILED_ATTEMPTS, 1);
                    }
                    // Dropping the old connection closes it (a SpikerBox is told to stop).
                    self.current = None;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChannelInfo, Muscle, Role, SampleFormat};
    use std::sync::Mutex;

    /// A device that delivers `frames` frames (value = running frame number within the
    /// connection), an event at frame 2, then fails.
    struct Flaky {
        info: SourceInfo,
        frames: u64,
        pos: u64,
    }

    fn info(rate: f64, channels: usize) -> SourceInfo {
        SourceInfo {
            sample_rate_hz: rate,
            channels: (0..channels)
                .map(|i| ChannelInfo {
                    label: format!("ch{i}"),
                    muscle: Muscle::Mentalis,
                    role: Role::Emg,
                    volts_per_unit: 1e-6,
                    offset_volts: 0.0,
                    range_units: None,
                    trigger_branch: None,
                })
                .collect(),
            sample_format: SampleFormat::I16,
            description: "flaky".into(),
            stimulus_events: true,
            total_frames: None,
        }
    }

    impl Source for Flaky {
        fn info(&self) -> &SourceInfo {
            &self.info
        }
        fn read(
            &mut self,
            buf: &mut [f32],
            events: &mut Vec<SourceEvent>,
        ) -> Result<usize, SourceError> {
            if self.pos >= self.frames {
                return Err(SourceError::Disconnected {
                    device: "flaky".into(),
                    detail: "unplugged".into(),
                });
            }
            let n = (buf.len() as u64).min(self.frames - self.pos).min(3);
            for i in 0..n {
                buf[i as usize] = (self.pos + i) as f32;
            }
            if (self.pos..self.pos + n).contains(&2) {
                events.push(SourceEvent::Stimulus {
                    frame_time: 2.5,
                    branch: crate::model::Branch::Zygomatic,
                    intensity_ma: f32::NAN,
                    pulse_width_s: f32::NAN,
                });
            }
            self.pos += n;
            Ok(n as usize)
        }
    }

    fn flaky(frames: u64) -> Box<dyn Source> {
        Box::new(Flaky {
            info: info(1000.0, 1),
            frames,
            pos: 0,
        })
    }

    fn fast() -> ReconnectOptions {
        ReconnectOptions {
            first_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            give_up_after: Some(Duration::from_secs(5)),
        }
    }

    #[test]
    fn a_device_that_comes_back_continues_the_numbering_after_a_gap() {
        // Reopening: missing, then a port that opens but fails before any sample, missing
        // again, then the device is back.
        let attempts = Arc::new(Mutex::new(0));
        let a = attempts.clone();
        let open: Opener = Box::new(move || {
            let mut k = a.lock().unwrap();
            *k += 1;
            match *k {
                2 => Ok(flaky(0)),
                1 | 3 => Err("no such device".into()),
                _ => Ok(flaky(5)),
            }
        });
        let counters = DeviceCounters::new("reconnect", RECONNECT_COUNTERS);
        let (tx, rx) = crossbeam_channel::bounded(8);
        let mut s = ReconnectingSource::new("flaky", flaky(4), open, fast(), counters.clone())
            .with_notices(tx);
        let mut buf = [0f32; 8];
        let (mut samples, mut events) = (Vec::new(), Vec::new());
        while samples.len() < 9 {
            let n = s.read(&mut buf, &mut events).unwrap();
            samples.extend_from_slice(&buf[..n]);
        }
        assert_eq!(samples, [0., 1., 2., 3., 0., 1., 2., 3., 4.]);
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[0].frame(), 2.5);
        match events[1] {
            SourceEvent::Gap { frame, lost_frames } => {
                assert_eq!(frame, 4);
                assert!(lost_frames >= 1);
                assert_eq!(counters.by_name("outage_frames"), Some(lost_frames));
            }
            other => panic!("expected the gap, got {other:?}"),
        }
        assert_eq!(
            events[2].frame(),
            6.5,
            "the second connection's event moved by 4"
        );
        assert_eq!(counters.by_name("disconnects"), Some(1));
        assert_eq!(counters.by_name("reconnects"), Some(1));
        assert_eq!(counters.by_name("failed_attempts"), Some(3));
        let notices: Vec<DeviceNotice> = rx.try_iter().collect();
        assert_eq!(
            notices.len(),
            2,
            "one outage, one Lost and one Back: {notices:?}"
        );
        assert!(matches!(
            &notices[0],
            DeviceNotice::Lost { at_frame: 4, .. }
        ));
        assert!(matches!(&notices[1], DeviceNotice::Back { .. }));
        assert!(notices[0]
            .to_string()
            .contains("DEVICE LOST: flaky: unplugged"));
    }

    #[test]
    fn stop_ends_a_waiting_reconnection_and_other_settings_are_an_error() {
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let open: Opener = Box::new(move || {
            st.store(true, Ordering::Relaxed);
            Err("missing".into())
        });
        let counters = DeviceCounters::new("reconnect", RECONNECT_COUNTERS);
        let mut s = ReconnectingSource::new("d", flaky(1), open, fast(), counters).with_stop(stop);
        let mut buf = [0f32; 4];
        assert_eq!(s.read(&mut buf, &mut Vec::new()).unwrap(), 1);
        assert_eq!(
            s.read(&mut buf, &mut Vec::new()).unwrap(),
            0,
            "stopped: end"
        );

        let open: Opener = Box::new(|| {
            Ok(Box::new(Flaky {
                info: info(2000.0, 1),
                frames: 5,
                pos: 0,
            }) as Box<dyn Source>)
        });
        let counters = DeviceCounters::new("reconnect", RECONNECT_COUNTERS);
        let mut s = ReconnectingSource::new("d", flaky(1), open, fast(), counters);
        s.read(&mut buf, &mut Vec::new()).unwrap();
        let e = s.read(&mut buf, &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("other settings"), "{e}");
    }

    #[test]
    fn giving_up_is_a_disconnection() {
        let open: Opener = Box::new(|| Err("missing".into()));
        let counters = DeviceCounters::new("reconnect", RECONNECT_COUNTERS);
        let opts = ReconnectOptions {
            give_up_after: Some(Duration::from_millis(50)),
            ..fast()
        };
        let mut s = ReconnectingSource::new("d", flaky(1), open, opts, counters.clone());
        let mut buf = [0f32; 4];
        s.read(&mut buf, &mut Vec::new()).unwrap();
        let e = s.read(&mut buf, &mut Vec::new()).unwrap_err();
        assert!(matches!(e, SourceError::Disconnected { .. }), "{e}");
        assert!(counters.by_name("failed_attempts").unwrap() >= 1);
    }
}
