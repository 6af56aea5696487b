//! The threads around the engine: a source thread, the DSP thread, and consumers.
//!
//! ```text
//! source thread ──(SPSC ring: samples)──▶ DSP thread ──(bounded channel)──▶ consumers
//!               ──(SPSC ring: events)───▶
//! ```
//!
//! The rings are lock-free single-producer single-consumer queues (ringbuf), allocated before
//! the threads start. The source side never blocks on the DSP side: a live device's block that
//! does not fit is dropped and *counted* (and marked as a gap, so the sweeps over it are
//! rejected); a file or simulation can afford to wait instead ([`Backpressure::Wait`]). The DSP
//! thread never blocks on its consumers: it `try_send`s, and counts what did not fit.
//!
//! Every block pushed into the sample ring is stamped with the time it entered; the DSP thread
//! times every verdict against those stamps ([`latency`]) and publishes the decision latency
//! with the other health figures.
//!
//! For analysis of files, where nothing is real-time, [`run_to_end`] drives the same engine
//! synchronously; the results are identical because the engine does not depend on block sizes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::HeapRb;

use crate::detect::{Engine, EngineCounters, EngineEvent};
use crate::source::{Source, SourceError, SourceEvent};

pub mod latency;

use latency::{LatencyFigures, LatencyMeter, LatencySummary, Stamp};

/// Block stamps the stamp ring holds (and the DSP thread remembers).
const STAMPS: usize = 16_384;
/// Longest the DSP thread sleeps when there is nothing to do (the source thread wakes it as
/// soon as a block is in the ring).
const IDLE_WAIT: Duration = Duration::from_millis(2);

/// What to do when the sample ring is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backpressure {
    /// Wait for room (files, simulations: nothing may be lost).
    Wait,
    /// Drop the block and count it (live devices: the device cannot wait).
    Drop,
}

/// How fast the source is played.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// As fast as the engine can go.
    Unpaced,
    /// Real time times this factor.
    Speed(f64),
}

/// Pipeline sizes.
#[derive(Clone, Copy, Debug)]
pub struct PipelineConfig {
    /// Frames read from the source per block.
    pub block_frames: usize,
    /// Capacity of the sample ring, in frames.
    pub ring_frames: usize,
    /// Capacity of the event ring.
    pub ring_events: usize,
    /// Capacity of the results channel.
    pub output_capacity: usize,
    pub pace: Pace,
    pub backpressure: Backpressure,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            block_frames: 256,
            ring_frames: 1 << 16,
            ring_events: 1024,
            output_capacity: 8192,
            pace: Pace::Speed(1.0),
            backpressure: Backpressure::Wait,
        }
    }
}

/// Commands to the DSP thread.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    /// Start every channel's baseline again.
    Rebaseline,
    /// Stop at once.
    Stop,
}

/// Health figures shared by the threads (atomics: readable from anywhere at any time).
#[derive(Debug, Default)]
pub struct Health {
    /// Frames the source produced.
    pub frames_in: AtomicU64,
    /// Frames dropped because the ring was full.
    pub frames_dropped: AtomicU64,
    /// Frames the DSP thread processed.
    pub frames_processed: AtomicU64,
    /// Results that did not fit in the output channel.
    pub outputs_dropped: AtomicU64,
    /// Ring fill in frames, as last seen by the DSP thread.
    pub ring_fill: AtomicU64,
    /// Set when the source has ended (or failed).
    pub source_done: AtomicBool,
    /// From the last sample of a sweep's LSR window entering the ring to its verdict leaving
    /// the DSP thread (see [`latency`]).
    pub decision_latency: LatencyFigures,
    /// From the last sample a sweep needs entering the ring to its verdict leaving the DSP
    /// thread: the pipeline's own cost.
    pub processing_latency: LatencyFigures,
    /// Verdicts that could not be timed (their frames' arrival was no longer known).
    pub latency_untimed: AtomicU64,
}

impl Health {
    /// The decision latency so far.
    pub fn decision(&self) -> LatencySummary {
        self.decision_latency.load()
    }

    /// The processing latency so far.
    pub fn processing(&self) -> LatencySummary {
        self.processing_latency.load()
    }

    /// The latency figures as named counters (for the session file), in microseconds.
    pub fn latency_counters(&self) -> Vec<(String, u64)> {
        let mut v = self.decision_latency.counters("latency_decision");
        v.extend(self.processing_latency.counters("latency_processing"));
        v.push((
            "latency_untimed_verdicts".into(),
            self.latency_untimed.load(Ordering::Relaxed),
        ));
        v
    }
}

/// What consumers receive. Engine events travel inline (no allocation on the DSP thread).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Engine(EngineEvent),
    /// The stream ended; final counters.
    End(EngineCounters),
    /// The source failed.
    SourceFailed(String),
}

/// A running pipeline.
pub struct Running {
    pub output: Receiver<Output>,
    pub control: Sender<Control>,
    pub health: Arc<Health>,
    source: Option<JoinHandle<()>>,
    dsp: Option<JoinHandle<()>>,
}

impl Running {
    /// Waits for both threads to end.
    pub fn join(mut self) {
        if let Some(h) = self.source.take() {
            let _ = h.join();
        }
        if let Some(h) = self.dsp.take() {
            let _ = h.join();
        }
    }
}

/// Starts the source and DSP threads.
pub fn spawn(mut source: Box<dyn Source>, mut engine: Engine, cfg: PipelineConfig) -> Running {
    let nch = source.info().channel_count().max(1);
    let fs = source.info().sample_rate_hz;
    let (mut sp, mut sc) = HeapRb::<f32>::new(cfg.ring_frames * nch).split();
    let (mut ep, mut ec) = HeapRb::<SourceEvent>::new(cfg.ring_events).split();
    let (mut tp, mut tc) = HeapRb::<Stamp>::new(STAMPS).split();
    let (out_tx, out_rx) = bounded::<Output>(cfg.output_capacity);
    let (ctl_tx, ctl_rx) = bounded::<Control>(16);
    let health = Arc::new(Health::default());
    let stop = Arc::new(AtomicBool::new(false));
    // The time zero of the block stamps, shared by both threads.
    let base = Instant::now();

    let h = health.clone();
    let stop_dsp = stop.clone();
    let src_out = out_tx.clone();
    let mut meter = LatencyMeter::new(engine.geometry(), base, STAMPS);
    let dsp_thread = thread::Builder::new()
        .name("lsrmon-dsp".into())
        .spawn(move || {
            let mut block = vec![0.0f32; 4096 * nch];
            let mut evs: Vec<SourceEvent> = Vec::with_capacity(cfg.ring_events);
            let emit = |e: &EngineEvent, meter: &mut LatencyMeter| {
                meter.observe(e);
                if let Err(TrySendError::Full(_)) = out_tx.try_send(Output::Engine(*e)) {
                    h.outputs_dropped.fetch_add(1, Ordering::Relaxed);
                }
            };
            loop {
                match ctl_rx.try_recv() {
                    Ok(Control::Rebaseline) => engine.rebaseline(),
                    Ok(Control::Stop) => {
                        stop_dsp.store(true, Ordering::Relaxed);
                        break;
                    }
                    Err(_) => {}
                }
                let done = h.source_done.load(Ordering::Acquire);
                evs.clear();
                while evs.len() < evs.capacity() {
                    match ec.try_pop() {
                        Some(e) => evs.push(e),
                        None => break,
                    }
                }
                let fill = sc.occupied_len();
                // A block's stamp is pushed before its samples: every sample counted in
                // `fill` has its stamp in the stamp ring by now.
                while let Some(st) = tc.try_pop() {
                    meter.arrived(st);
                }
                h.ring_fill.store((fill / nch) as u64, Ordering::Relaxed);
                let want = (fill / nch).min(block.len() / nch) * nch;
                let got = sc.pop_slice(&mut block[..want]);
                if got > 0 || !evs.is_empty() {
                    engine.process(&block[..got], &evs, &mut |e| emit(e, &mut meter));
                    h.frames_processed
                        .fetch_add((got / nch) as u64, Ordering::Relaxed);
                    meter.publish(&h.decision_latency, &h.processing_latency);
                    h.latency_untimed.store(meter.untimed, Ordering::Relaxed);
                } else if done && sc.is_empty() && ec.is_empty() {
                    break;
                } else {
                    thread::park_timeout(IDLE_WAIT);
                }
            }
            engine.finish(&mut |e| emit(e, &mut meter));
            meter.publish(&h.decision_latency, &h.processing_latency);
            // The end marker must arrive: wait for room (consumers are draining).
            let _ = out_tx.send(Output::End(*engine.counters()));
        })
        .expect("spawning the DSP thread");

    let h = health.clone();
    let stop_src = stop;
    let dsp = dsp_thread.thread().clone();
    let source_thread = thread::Builder::new()
        .name("lsrmon-source".into())
        .spawn(move || {
            let mut buf = vec![0.0f32; cfg.block_frames * nch];
            let mut events: Vec<SourceEvent> = Vec::with_capacity(256);
            let start = Instant::now();
            let mut produced: u64 = 0;
            let mut dropped_since: u64 = 0;
            // A block whose stamp did not fit in the stamp ring: its time goes with the next
            // stamp that fits (over-stating the later block's latency, never under-stating).
            let mut unstamped_since: Option<u64> = None;
            loop {
                if stop_src.load(Ordering::Relaxed) {
                    break;
                }
                events.clear();
                let n = match source.read(&mut buf, &mut events) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        let _ = src_out.try_send(Output::SourceFailed(e.to_string()));
                        break;
                    }
                };
                if let Pace::Speed(speed) = cfg.pace {
                    let due = Duration::from_secs_f64(
                        (produced + n as u64) as f64 / fs / speed.max(1e-6),
                    );
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        thread::sleep(wait);
                    }
                }
                let data = &buf[..n * nch];
                loop {
                    if sp.vacant_len() >= data.len() && ep.vacant_len() > events.len() {
                        if dropped_since > 0 {
                            // Tell the engine where the discontinuity is.
                            let _ = ep.try_push(SourceEvent::Gap {
                                frame: produced,
                                lost_frames: dropped_since,
                            });
                            dropped_since = 0;
                        }
                        for ev in events.drain(..) {
                            let ev = shift_event(ev, h.frames_dropped.load(Ordering::Relaxed));
                            let _ = ep.try_push(ev);
                        }
                        produced += n as u64;
                        let now = base.elapsed().as_nanos() as u64;
                        let stamp = Stamp {
                            end_frame: produced,
                            at_ns: unstamped_since.unwrap_or(now),
                        };
                        unstamped_since = match tp.try_push(stamp) {
                            Ok(()) => None,
                            Err(_) => Some(stamp.at_ns),
                        };
                        sp.push_slice(data);
                        h.frames_in.fetch_add(n as u64, Ordering::Relaxed);
                        dsp.unpark();
                        break;
                    }
                    match cfg.backpressure {
                        Backpressure::Drop => {
                            h.frames_dropped.fetch_add(n as u64, Ordering::Relaxed);
                            dropped_since += n as u64;
                            break;
                        }
                        Backpressure::Wait => {
                            if stop_src.load(Ordering::Relaxed) {
                                break;
                            }
                            thread::sleep(Duration::from_micros(200));
                        }
                    }
                }
            }
            h.source_done.store(true, Ordering::Release);
            dsp.unpark();
        })
        .expect("spawning the source thread");

    Running {
        output: out_rx,
        control: ctl_tx,
        health,
        source: Some(source_thread),
        dsp: Some(dsp_thread),
    }
}

/// Events carry the source's frame numbers; frames the ring dropped do not reach the engine,
/// so later events move back by that many frames.
fn shift_event(ev: SourceEvent, dropped: u64) -> SourceEvent {
    match ev {
        SourceEvent::Stimulus {
            frame_time,
            branch,
            intensity_ma,
            pulse_width_s,
        } => SourceEvent::Stimulus {
            frame_time: frame_time - dropped as f64,
            branch,
            intensity_ma,
            pulse_width_s,
        },
        SourceEvent::Gap { frame, lost_frames } => SourceEvent::Gap {
            frame: frame.saturating_sub(dropped),
            lost_frames,
        },
    }
}

/// Runs a source through the engine on the calling thread, as fast as possible: the
/// deterministic path of `analyze`. `progress` is told the frames done so far.
pub fn run_to_end(
    source: &mut dyn Source,
    engine: &mut Engine,
    block_frames: usize,
    out: &mut dyn FnMut(&EngineEvent),
    progress: &mut dyn FnMut(u64),
) -> Result<(), SourceError> {
    let nch = source.info().channel_count().max(1);
    let mut buf = vec![0.0f32; block_frames.max(1) * nch];
    let mut events = Vec::with_capacity(256);
    let mut done = 0u64;
    loop {
        events.clear();
        let n = source.read(&mut buf, &mut events)?;
        if n == 0 {
            break;
        }
        engine.process(&buf[..n * nch], &events, out);
        done += n as u64;
        progress(done);
    }
    engine.finish(out);
    Ok(())
}
