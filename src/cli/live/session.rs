//! The bookkeeping of a live session: markers (typed on stdin, or scheduled by the
//! simulated patient), the counters written into the file, and the session's metadata.

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, Receiver};

use crate::acquisition::counters::DeviceCounters;
use crate::model::{Marker, SurgicalStep};
use crate::nwb::{RecordMsg, RecordSender, SessionMeta};
use crate::pipeline;
use crate::report::utc_iso8601;

/// Markers of the session: typed ones and the simulated patient's scheduled ones.
pub(super) struct Session {
    pub rate: f64,
    pub position: Arc<AtomicU64>,
    pub rec_tx: Option<RecordSender>,
    pub scheduled: Vec<Marker>,
    pub next_scheduled: usize,
    pub markers: Vec<Marker>,
}

impl Session {
    fn now_s(&self) -> f64 {
        self.position.load(Ordering::Relaxed) as f64 / self.rate
    }

    fn record(&mut self, m: Marker) {
        if let Some(tx) = &self.rec_tx {
            send_surely(tx, RecordMsg::Marker(m.clone()));
        }
        self.markers.push(m);
    }

    /// Records the scheduled markers the stream has reached.
    pub fn markers_due(&mut self) {
        let now = self.now_s();
        while let Some(m) = self.scheduled.get(self.next_scheduled) {
            if m.time_s > now {
                break;
            }
            let m = m.clone();
            self.next_scheduled += 1;
            self.record(m);
        }
    }

    /// A marker typed now (at the newest sample's time).
    pub fn typed_marker(&mut self, line: &str) -> Option<Marker> {
        let m = marker_from_line(line, self.now_s())?;
        self.record(m.clone());
        Some(m)
    }
}

/// `1`..`7` are the usual steps; other text is a free marker; blank lines are nothing.
pub fn marker_from_line(line: &str, time_s: f64) -> Option<Marker> {
    let t = line.trim();
    if t.is_empty() {
        return None;
    }
    let label = match t.parse::<usize>() {
        Ok(n @ 1..=7) => SurgicalStep::ALL[n - 1].label().to_string(),
        _ => t.to_string(),
    };
    Some(Marker { time_s, label })
}

/// Lines typed on stdin, from a thread (ends at end of input).
pub(super) fn stdin_lines() -> Receiver<String> {
    let (tx, rx) = bounded(64);
    let _ = std::thread::Builder::new()
        .name("lsrmon-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
    rx
}

/// Queues a message the recorder must get (markers, the final counters), retrying for up
/// to 2 s while its queue is full. Not for the real-time path.
pub(super) fn send_surely(tx: &RecordSender, msg: RecordMsg) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !tx.send(msg.clone()) && Instant::now() < deadline && !tx.failed() {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every counter of the run: engine (when known), pipeline, devices.
pub(super) fn counter_list(
    health: &pipeline::Health,
    devices: &[Arc<DeviceCounters>],
    engine: Option<&std::collections::BTreeMap<String, u64>>,
) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = engine
        .map(|m| m.iter().map(|(k, n)| (format!("engine_{k}"), *n)).collect())
        .unwrap_or_default();
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    v.push(("pipeline_frames_in".into(), l(&health.frames_in)));
    v.push(("pipeline_frames_dropped".into(), l(&health.frames_dropped)));
    v.push((
        "pipeline_frames_processed".into(),
        l(&health.frames_processed),
    ));
    v.push((
        "pipeline_outputs_dropped".into(),
        l(&health.outputs_dropped),
    ));
    v.extend(health.latency_counters());
    for d in devices {
        v.extend(d.snapshot());
    }
    v
}

/// Session metadata: a fresh identifier and the wall-clock start (a live recording is an
/// event in time; everything *analysed* stays clock-free).
pub(super) fn session_meta(subject: &str) -> SessionMeta {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let identifier = uuid_v4_like(now.as_nanos() as u64 ^ (u64::from(std::process::id()) << 32));
    let mut m = SessionMeta::new(&identifier, &utc_iso8601(now.as_secs()), subject);
    m.session_description = "Live intraoperative monitoring of the lateral spread response".into();
    m
}

/// A version-4-shaped UUID from a seed (SplitMix64 twice).
fn uuid_v4_like(seed: u64) -> String {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let (a, b) = (mix(seed), mix(seed ^ 0xDEAD_BEEF_CAFE_F00D));
    let hi = (a & !0xF000) | 0x4000; // version 4 in bits 12-15 of the third group
    let lo = (b & !(0xC000 << 48)) | (0x8000 << 48); // variant 10xx
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_from_typed_lines() {
        let m = marker_from_line(" 5 \n", 12.5).unwrap();
        assert_eq!((m.time_s, m.label.as_str()), (12.5, "pad placed"));
        assert_eq!(marker_from_line("1", 0.0).unwrap().label, "baseline");
        assert_eq!(marker_from_line("7", 0.0).unwrap().label, "dura closed");
        assert_eq!(marker_from_line("8", 0.0).unwrap().label, "8");
        assert_eq!(
            marker_from_line("  vessel moved by suction", 1.0)
                .unwrap()
                .label,
            "vessel moved by suction"
        );
        assert_eq!(marker_from_line("   ", 1.0), None);
    }

    #[test]
    fn clock_free_helpers() {
        assert_eq!(utc_iso8601(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(utc_iso8601(1_700_000_000), "2023-11-14T22:13:20+00:00");
        assert_eq!(utc_iso8601(951_782_400), "2000-02-29T00:00:00+00:00");
        let u = uuid_v4_like(42);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_ne!(u, uuid_v4_like(43));
    }
}
