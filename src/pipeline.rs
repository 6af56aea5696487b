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
    let (out_tx, out_rx) = bounded::<Output>(cfg.output_capacity);
    let (ctl_tx, ctl_rx) = bounded::<Control>(16);
    let health = Arc::new(Health::default());
    let stop = Arc::new(AtomicBool::new(false));

    let h = health.clone();
    let stop_src = stop.clone();
    let src_out = out_tx.clone();
    let source_thread = thread::Builder::new()
        .name("lsrmon-source".into())
        .spawn(move || {
            let mut buf = vec![0.0f32; cfg.block_frames * nch];
            let mut events: Vec<SourceEvent> = Vec::with_capacity(256);
            let start = Instant::now();
            let mut produced: u64 = 0;
            let mut dropped_since: u64 = 0;
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
                        sp.push_slice(data);
                        produced += n as u64;
                        h.frames_in.fetch_add(n as u64, Ordering::Relaxed);
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
        })
        .expect("spawning the source thread");

    let h = health.clone();
    let dsp_thread = thread::Builder::new()
        .name("lsrmon-dsp".into())
        .spawn(move || {
            let mut block = vec![0.0f32; 4096 * nch];
            let mut evs: Vec<SourceEvent> = Vec::with_capacity(cfg.ring_events);
            let mut emit = |e: &EngineEvent| {
                if let Err(TrySendError::Full(_)) = out_tx.try_send(Output::Engine(*e)) {
                    h.outputs_dropped.fetch_add(1, Ordering::Relaxed);
                }
            };
            loop {
                match ctl_rx.try_recv() {
                    Ok(Control::Rebaseline) => engine.rebaseline(),
                    Ok(Control::Stop) => {
                        stop.store(true, Ordering::Relaxed);
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
                h.ring_fill.store((fill / nch) as u64, Ordering::Relaxed);
                let want = (fill / nch).min(block.len() / nch) * nch;
                let got = sc.pop_slice(&mut block[..want]);
                if got > 0 || !evs.is_empty() {
                    engine.process(&block[..got], &evs, &mut emit);
                    h.frames_processed
                        .fetch_add((got / nch) as u64, Ordering::Relaxed);
                } else if done && sc.is_empty() && ec.is_empty() {
                    break;
                } else {
                    thread::sleep(Duration::from_micros(200));
                }
            }
            engine.finish(&mut emit);
            // The end marker must arrive: wait for room (consumers are draining).
            let _ = out_tx.send(Output::End(*engine.counters()));
        })
        .expect("spawning the DSP thread");

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
