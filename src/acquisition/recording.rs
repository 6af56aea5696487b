//! [`RecordingSource`]: the head of a live chain. It hands every block it reads to the session
//! recorder, keeps the stream position for markers, and ends the stream on request.
//!
//! ## Why the tee sits here, on the source thread
//! The file must hold exactly the samples the engine analyses, with their stream frame
//! numbers, so that analysing the file later gives the same verdicts as the live run. The
//! source thread is the one place that sees every block once, in order, with its frame number
//! and its gaps, before anything can be dropped downstream. Forwarding costs a copy into a
//! pooled buffer and a `try_send` ([`RecordSender::send_frames`]): it never blocks and never
//! allocates, and if the recorder falls behind the frames are counted as dropped by the
//! recorder (which fills them so the file's time stays right). The alternatives were worse:
//! the DSP thread does not see the raw samples in device units once they are in its history,
//! and a consumer of the results channel would receive the samples too late and too far from
//! the device to keep frame numbers exact.
//!
//! Gaps the source reports (device xruns, serial framing losses, reconnections) go to the
//! recorder as [`RecordMsg::Gap`] before the frames that follow them. Stimuli, sweeps and
//! markers are forwarded by the consumer of the engine's results (they exist only there).
//!
//! ## Position, stop and limit
//! - [`RecordingSource::position`] is the number of frames handed on so far: the stream time
//!   of the newest sample, which is when a marker typed now belongs.
//! - When the stop flag is set (Ctrl-C, SIGTERM), the next read returns the end of the
//!   stream: the pipeline then drains and finishes normally, so the file and the engine end
//!   on the same frame.
//! - With a limit, the stream ends after that much stream time (frames plus the frames of
//!   reported gaps): tests and CI runs get an exact length.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::nwb::{RecordMsg, RecordSender};
use crate::source::{Source, SourceError, SourceEvent, SourceInfo};

/// See the module documentation.
pub struct RecordingSource {
    inner: Box<dyn Source>,
    sender: Option<RecordSender>,
    position: Arc<AtomicU64>,
    /// Frames of the gaps seen so far.
    lost: u64,
    stop: Option<Arc<AtomicBool>>,
    limit_frames: Option<u64>,
}

impl RecordingSource {
    /// Wraps `inner`; with a sender, every block and gap is recorded.
    pub fn new(inner: Box<dyn Source>, sender: Option<RecordSender>) -> Self {
        Self {
            inner,
            sender,
            position: Arc::new(AtomicU64::new(0)),
            lost: 0,
            stop: None,
            limit_frames: None,
        }
    }

    /// The next read after `stop` is set returns the end of the stream.
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// End the stream after `frames` frames of stream time (gaps included).
    pub fn with_limit(mut self, frames: u64) -> Self {
        self.limit_frames = Some(frames);
        self
    }

    /// Frames handed on so far (shared: readable from any thread).
    pub fn position(&self) -> Arc<AtomicU64> {
        self.position.clone()
    }
}

impl Source for RecordingSource {
    fn info(&self) -> &SourceInfo {
        self.inner.info()
    }

    fn markers(&self) -> Vec<crate::model::Marker> {
        self.inner.markers()
    }

    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError> {
        if self
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            return Ok(0);
        }
        let pos = self.position.load(Ordering::Relaxed);
        let room = match self.limit_frames {
            Some(limit) => limit.saturating_sub(pos + self.lost),
            None => u64::MAX,
        };
        if room == 0 {
            return Ok(0);
        }
        let start = events.len();
        let mut n = self.inner.read(buf, events)?;
        if n == 0 {
            return Ok(0);
        }
        if n as u64 > room {
            n = room as usize;
            let end = (pos + n as u64) as f64;
            let mut i = start;
            while i < events.len() {
                if events[i].frame() >= end {
                    events.remove(i);
                } else {
                    i += 1;
                }
            }
        }
        for e in &events[start..] {
            if let SourceEvent::Gap { frame, lost_frames } = *e {
                self.lost += lost_frames;
                if let Some(tx) = &self.sender {
                    tx.send(RecordMsg::Gap { frame, lost_frames });
                }
            }
        }
        let c = self.inner.info().channels.len();
        if let Some(tx) = &self.sender {
            tx.send_frames(pos, &buf[..n * c]);
        }
        self.position.store(pos + n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{SimConfig, SimPatient};

    fn sim() -> Box<dyn Source> {
        let cfg = SimConfig {
            duration_s: 10.0,
            sample_rate_hz: 5000.0,
            gaps: vec![crate::sim::Episode {
                start_s: 0.5,
                duration_s: 0.1,
            }],
            ..SimConfig::default()
        };
        Box::new(SimPatient::new(cfg).unwrap())
    }

    #[test]
    fn limit_counts_gaps_and_cuts_the_last_block_and_its_events() {
        let mut s = RecordingSource::new(sim(), None).with_limit(5000);
        let pos = s.position();
        let mut buf = vec![0f32; 4 * 1024];
        let mut events = Vec::new();
        let mut frames = 0;
        loop {
            let n = s.read(&mut buf, &mut events).unwrap();
            if n == 0 {
                break;
            }
            frames += n as u64;
        }
        // One second of stream time: 0.1 s of it is the simulated gap.
        assert_eq!(frames, 4500);
        assert_eq!(pos.load(Ordering::Relaxed), 4500);
        assert!(events.iter().all(|e| e.frame() < 4500.0));
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, SourceEvent::Gap { .. }))
                .count(),
            1
        );
    }

    #[test]
    fn stop_ends_the_stream_at_the_next_read() {
        let stop = Arc::new(AtomicBool::new(false));
        let mut s = RecordingSource::new(sim(), None).with_stop(stop.clone());
        let mut buf = vec![0f32; 4 * 100];
        assert_eq!(s.read(&mut buf, &mut Vec::new()).unwrap(), 100);
        stop.store(true, Ordering::Relaxed);
        assert_eq!(s.read(&mut buf, &mut Vec::new()).unwrap(), 0);
        assert_eq!(s.position().load(Ordering::Relaxed), 100);
    }
}
