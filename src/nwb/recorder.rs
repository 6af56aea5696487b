//! [`Recorder`]: the session writer on its own thread.
//!
//! The pipeline must never wait for the disk. It sends [`RecordMsg`]s through a
//! [`RecordSender`], which only ever calls `try_send`; when the queue is full the message is
//! dropped and **counted** (per kind, in atomics: no lock, no allocation). Sample blocks
//! travel in buffers taken from a pool that the recorder refills after writing, so sending
//! samples does not allocate either; an empty pool counts as dropped frames too.
//!
//! Frames carry their stream frame number. When frames were dropped, the recorder writes
//! filler frames of the same length and records a `recorder` gap: the file's time stays the
//! stream's time (stimuli, sweeps and markers stay aligned with the samples), and a replay
//! skips the filler and rejects sweeps over it.
//!
//! The thread commits at least every `commit_interval` of wall time and at the end, and can
//! `fsync` every few seconds for power loss. Errors stop the recording, are flagged at once
//! ([`Recorder::failed`]) and returned by [`Recorder::finish`]; they never panic.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use super::error::NwbError;
use super::writer::{SessionMeta, SessionWriter, WriterOptions};
use crate::model::{Marker, Stimulus, SweepResult};
use crate::source::SourceInfo;

/// What the pipeline records.
// A sweep result is ~1 KB; boxing it would allocate on the DSP thread, so the queue's
// slots are that large instead.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum RecordMsg {
    /// Interleaved device-unit samples starting at stream frame `first_frame`.
    Frames {
        first_frame: u64,
        samples: Vec<f32>,
    },
    Stimulus(Stimulus),
    Marker(Marker),
    /// A sweep result; the channel label is looked up in the source's channel list.
    Sweep(SweepResult),
    /// Samples lost at the source: `lost_frames` missing before stream frame `frame`.
    Gap {
        frame: u64,
        lost_frames: u64,
    },
    /// The pipeline's counters (replace the previous set).
    Counters(Vec<(String, u64)>),
}

#[allow(clippy::large_enum_variant)] // see RecordMsg
enum Envelope {
    Msg(RecordMsg),
    Stop,
}

/// Tuning of the recorder thread.
#[derive(Clone, Debug, PartialEq)]
pub struct RecorderOptions {
    pub writer: WriterOptions,
    /// Messages the queue holds before `try_send` drops.
    pub queue_capacity: usize,
    /// Sample buffers in the pool.
    pub pool_buffers: usize,
    /// Frames per pool buffer (a larger block is split over several buffers).
    pub buffer_frames: usize,
    /// Commit at least this often (wall time).
    pub commit_interval: Duration,
    /// `fsync` the file this often, if set (power-loss safety; a kill needs no fsync).
    pub fsync_interval: Option<Duration>,
    /// Longest run of frames lost between pipeline and recorder that is filled in the file
    /// (seconds); a longer jump is recorded as a plain gap.
    pub max_fill_s: f64,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        Self {
            writer: WriterOptions::default(),
            queue_capacity: 1024,
            pool_buffers: 256,
            buffer_frames: 2048,
            commit_interval: Duration::from_millis(500),
            fsync_interval: Some(Duration::from_secs(5)),
            max_fill_s: 60.0,
        }
    }
}

/// What the recording did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecorderReport {
    pub path: PathBuf,
    pub frames_written: u64,
    /// Filler frames written for frames the pipeline could not hand over.
    pub frames_filled: u64,
    pub stimuli: u64,
    pub markers: u64,
    pub sweeps: u64,
    pub gaps: u64,
    pub commits: u64,
    /// Messages dropped because the queue was full (frames included).
    pub dropped_messages: u64,
    /// Frames dropped because the queue or the buffer pool was full.
    pub dropped_frames: u64,
}

#[derive(Default)]
struct Shared {
    dropped_messages: AtomicU64,
    dropped_frames: AtomicU64,
    failed: AtomicBool,
}

/// The pipeline's handle: never blocks, never allocates.
#[derive(Clone)]
pub struct RecordSender {
    tx: Sender<Envelope>,
    pool: Receiver<Vec<f32>>,
    shared: Arc<Shared>,
    channels: usize,
}

impl RecordSender {
    /// Queues a message; `false` (and counted) if the queue is full or the recorder died.
    pub fn send(&self, msg: RecordMsg) -> bool {
        let frames = match &msg {
            RecordMsg::Frames { samples, .. } => (samples.len() / self.channels) as u64,
            _ => 0,
        };
        match self.tx.try_send(Envelope::Msg(msg)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.shared.dropped_messages.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .dropped_frames
                    .fetch_add(frames, Ordering::Relaxed);
                false
            }
        }
    }

    /// Copies interleaved frames into pooled buffers and queues them. Returns the frames
    /// queued; the rest were dropped and counted.
    pub fn send_frames(&self, first_frame: u64, interleaved: &[f32]) -> u64 {
        let c = self.channels;
        let mut queued = 0u64;
        let mut at = 0usize;
        let total = interleaved.len() / c;
        while at < total {
            let Ok(mut buf) = self.pool.try_recv() else {
                self.shared
                    .dropped_frames
                    .fetch_add((total - at) as u64, Ordering::Relaxed);
                self.shared.dropped_messages.fetch_add(1, Ordering::Relaxed);
                return queued;
            };
            buf.clear();
            let n = (buf.capacity() / c).max(1).min(total - at);
            buf.extend_from_slice(&interleaved[at * c..(at + n) * c]);
            let msg = RecordMsg::Frames {
                first_frame: first_frame + at as u64,
                samples: buf,
            };
            if self.send(msg) {
                queued += n as u64;
            }
            at += n;
        }
        queued
    }

    /// True once the recorder stopped on an error.
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Relaxed)
    }
}

/// The recorder thread.
pub struct Recorder {
    sender: RecordSender,
    handle: Option<JoinHandle<Result<RecorderReport, NwbError>>>,
    path: PathBuf,
}

impl Recorder {
    /// Creates the file (errors come back here, before anything runs) and starts the thread.
    pub fn spawn(
        path: impl AsRef<Path>,
        info: &SourceInfo,
        meta: &SessionMeta,
        settings_json: &str,
        opts: RecorderOptions,
    ) -> Result<Self, NwbError> {
        let path = path.as_ref().to_path_buf();
        let writer = SessionWriter::create_with(&path, info, meta, settings_json, &opts.writer)?;
        let c = info.channels.len().max(1);
        let (tx, rx) = bounded(opts.queue_capacity.max(1));
        let (pool_tx, pool_rx) = bounded(opts.pool_buffers.max(1));
        for _ in 0..opts.pool_buffers.max(1) {
            let _ = pool_tx.try_send(Vec::with_capacity(opts.buffer_frames.max(1) * c));
        }
        let shared = Arc::new(Shared::default());
        let labels: Vec<String> = info.channels.iter().map(|c| c.label.clone()).collect();
        let max_fill = (opts.max_fill_s.max(0.0) * info.sample_rate_hz) as u64;
        let th = Thread {
            writer,
            rx,
            pool: pool_tx,
            shared: shared.clone(),
            labels,
            channels: c,
            opts,
            next_frame: 0,
            max_fill,
            user_counters: Vec::new(),
            report: RecorderReport {
                path: path.clone(),
                ..Default::default()
            },
        };
        let handle = std::thread::Builder::new()
            .name("lsrmon-recorder".into())
            .spawn(move || th.run())
            .map_err(|source| NwbError::Io {
                file: path.clone(),
                source,
            })?;
        Ok(Self {
            sender: RecordSender {
                tx,
                pool: pool_rx,
                shared,
                channels: c,
            },
            handle: Some(handle),
            path,
        })
    }

    /// A handle for the pipeline (clone it freely).
    pub fn sender(&self) -> RecordSender {
        self.sender.clone()
    }

    /// True once the recorder stopped on an error (the pipeline keeps running).
    pub fn failed(&self) -> bool {
        self.sender.failed()
    }

    /// Processes everything queued, commits, finalises the file and returns the report.
    pub fn finish(mut self) -> Result<RecorderReport, NwbError> {
        let _ = self.sender.tx.send(Envelope::Stop);
        let handle = self.handle.take();
        match handle.map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(NwbError::invalid(
                &self.path,
                "the recorder thread stopped unexpectedly",
            )),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = self.sender.tx.send(Envelope::Stop);
            let _ = h.join();
        }
    }
}

struct Thread {
    writer: SessionWriter,
    rx: Receiver<Envelope>,
    pool: Sender<Vec<f32>>,
    shared: Arc<Shared>,
    labels: Vec<String>,
    channels: usize,
    opts: RecorderOptions,
    next_frame: u64,
    max_fill: u64,
    user_counters: Vec<(String, u64)>,
    report: RecorderReport,
}

impl Thread {
    fn run(mut self) -> Result<RecorderReport, NwbError> {
        let r = self.record();
        let Self {
            writer,
            rx,
            shared,
            report,
            ..
        } = self;
        let r = r.and_then(|()| writer.finish());
        if r.is_err() {
            shared.failed.store(true, Ordering::Relaxed);
        }
        // Dropping the receiver makes further sends fail fast (and be counted).
        drop(rx);
        r.map(|()| report)
    }

    fn record(&mut self) -> Result<(), NwbError> {
        let mut next_commit = Instant::now() + self.opts.commit_interval;
        let mut next_sync = self.opts.fsync_interval.map(|d| Instant::now() + d);
        loop {
            let wait = next_commit.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(Envelope::Msg(m)) => self.handle(m)?,
                Ok(Envelope::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if now >= next_commit {
                self.commit()?;
                next_commit = now + self.opts.commit_interval;
                if let (Some(t), Some(d)) = (next_sync, self.opts.fsync_interval) {
                    if now >= t {
                        self.fsync()?;
                        next_sync = Some(now + d);
                    }
                }
            }
        }
        // Drain anything that raced with the stop (queued before it by other senders).
        while let Ok(Envelope::Msg(m)) = self.rx.try_recv() {
            self.handle(m)?;
        }
        self.commit()
    }

    fn handle(&mut self, m: RecordMsg) -> Result<(), NwbError> {
        match m {
            RecordMsg::Frames {
                first_frame,
                samples,
            } => {
                let c = self.channels;
                let n = (samples.len() / c) as u64;
                let mut skip = 0u64;
                if first_frame > self.next_frame {
                    let lost = first_frame - self.next_frame;
                    // Filler keeps file time = stream time; a runaway jump is not filled
                    // beyond the cap but recorded as lost (later times then shift by it).
                    let fill = lost.min(self.max_fill);
                    self.writer.append_lost_frames(fill)?;
                    if lost > fill {
                        let at = self.writer.frames();
                        self.writer.add_gap(at, lost - fill);
                    }
                    self.report.frames_filled += fill;
                    self.report.gaps += 1;
                } else if first_frame < self.next_frame {
                    // Overlap (a resent block): keep only the new frames.
                    skip = (self.next_frame - first_frame).min(n);
                }
                let s = &samples[(skip as usize * c).min(samples.len())..];
                self.writer.append_frames(s)?;
                let end = first_frame + n;
                self.next_frame = self.next_frame.max(end);
                self.report.frames_written = self.writer.frames();
                let _ = self.pool.try_send(samples);
            }
            RecordMsg::Stimulus(s) => {
                self.writer.add_stimulus(&s);
                self.report.stimuli += 1;
            }
            RecordMsg::Marker(m) => {
                self.writer.add_marker(&m);
                self.report.markers += 1;
            }
            RecordMsg::Sweep(r) => {
                let label = self
                    .labels
                    .get(r.channel)
                    .cloned()
                    .unwrap_or_else(|| format!("ch{}", r.channel + 1));
                self.writer.add_sweep(&r, &label);
                self.report.sweeps += 1;
            }
            RecordMsg::Gap { frame, lost_frames } => {
                self.writer.add_gap(frame, lost_frames);
                self.report.gaps += 1;
            }
            RecordMsg::Counters(c) => self.user_counters = c,
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), NwbError> {
        let dm = self.shared.dropped_messages.load(Ordering::Relaxed);
        let df = self.shared.dropped_frames.load(Ordering::Relaxed);
        self.report.dropped_messages = dm;
        self.report.dropped_frames = df;
        let mut all = self.user_counters.clone();
        all.push(("recorder_dropped_messages".into(), dm));
        all.push(("recorder_dropped_frames".into(), df));
        all.push(("recorder_filled_frames".into(), self.report.frames_filled));
        let w = &mut self.writer;
        w.set_counters(&all);
        w.commit()?;
        self.report.frames_written = w.frames();
        self.report.commits += 1;
        Ok(())
    }

    fn fsync(&mut self) -> Result<(), NwbError> {
        let p = self.writer.path().to_path_buf();
        std::fs::File::open(&p)
            .and_then(|f| f.sync_data())
            .map_err(|source| NwbError::Io { file: p, source })
    }
}
