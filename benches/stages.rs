//! Cost of each stage of the pipeline, per sweep and per second of signal, at 5, 10 and
//! 48 kHz with 1, 2, 4 and 8 channels.
//!
//! Stages (each a criterion benchmark `<rate>-<n>ch/<stage>`):
//!
//! 1. `conditioning`: [`SweepAnalyzer::condition`] (cut from the history, saturation check,
//!    drift and mains fit, artifact bridge, FFT FIR low-pass, direct-response peak-to-peak)
//!    of every stimulus of the input, over the LSR and direct channels of its branch;
//! 2. `timing-trigger` / `timing-artifact`: [`TriggerDetector`] and [`ArtifactDetector`]
//!    `process` over the whole input in 1024-frame chunks (as the engine feeds them). Both look
//!    at one channel only, whatever the channel count (the trigger channel; the artifact
//!    detector on the channel the engine would pick);
//! 3. `measures`: per LSR channel of a conditioned sweep, [`SweepAnalyzer::measure`]
//!    (crosstalk fit and subtraction, noise, peak-to-peak, SNR, null SNR, onset), the display
//!    trace and the template correlation (always computed here; the engine computes it only
//!    once a channel has a baseline template);
//! 4. `detector`: per LSR channel, the judge, the running levels, the tracker (baseline
//!    average, absent-run ring, run-average SNR when asked) and the criterion state machine,
//!    replaying every sweep of the input through fresh trackers (mirrors the part of
//!    `Engine::analyse` after the measures);
//! 5. `engine`: [`Engine::process`] over the whole input in 1024-frame blocks (a fresh engine
//!    per iteration, created outside the timed region).
//!
//! Inputs are read into memory before timing: the committed fixtures at 5 and 10 kHz with
//! 4 channels (trigger + 3 EMG), the seeded simulator otherwise (1 channel: mentalis alone,
//! stimulus events; 2: orbicularis oculi + mentalis, stimulus events; 4: 3 EMG + trigger;
//! 8: 7 EMG + trigger). With a trigger channel the engine times stimuli from it (as a live
//! device with a sync channel would); without one it takes the source's stimulus events.
//!
//! The sweeps replayed by stages 1, 3 and 4 are the ones a first run of the engine analysed
//! (with the mains frequency it was using), and setup checks that the replay reaches the
//! engine's own results, sweep by sweep (status, reason, state, SNR, peak-to-peak).
//!
//! The table (stdout and `target/bench/stages.md`) is built from the very samples criterion
//! measured: the median of the per-iteration times of its measurement samples. Set
//! `LSRMON_BENCH_FULL=1` for longer inputs and measurements.

use std::cell::{OnceCell, RefCell};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};

mod common;

use lsrmon::anatomy::BranchChannels;
use lsrmon::detect::criterion::Observation;
use lsrmon::detect::history::{History, Scale};
use lsrmon::detect::measure;
use lsrmon::detect::sweep::{Measured, SweepAnalyzer, SweepFacts};
use lsrmon::detect::tracker::{RunAverageCheck, Tracker};
use lsrmon::detect::{Engine, EngineEvent};
use lsrmon::model::DISPLAY_POINTS;
use lsrmon::model::{Branch, MonitorState, Muscle, RejectReason, Role, Stimulus, SweepStatus};
use lsrmon::nwb::{NwbSource, ReadOptions};
use lsrmon::settings::{Settings, StimulusTiming};
use lsrmon::sim::{SimConfig, SimPatient};
use lsrmon::source::{Source, SourceEvent, SourceInfo};
use lsrmon::stim::{ArtifactDetector, Polarity, TriggerDetector};

/// Frames per block fed to the detectors and the engine (the engine's own chunk).
const BLOCK: usize = 1024;
const RATES: [u32; 3] = [5_000, 10_000, 48_000];
const CHANNELS: [usize; 4] = [1, 2, 4, 8];
const SEED: u64 = 7;

/// Run settings (default, or `LSRMON_BENCH_FULL=1`, or criterion's test mode).
#[derive(Clone, Copy)]
struct Mode {
    signal_s: f64,
    samples: usize,
    warm_up: Duration,
    measurement: Duration,
    name: &'static str,
}

/// One input, all in memory.
struct Input {
    origin: String,
    info: SourceInfo,
    frames: Vec<f32>,
    events: Vec<SourceEvent>,
}

impl Input {
    fn nch(&self) -> usize {
        self.info.channels.len()
    }
    fn n_frames(&self) -> usize {
        self.frames.len() / self.nch()
    }
    fn seconds(&self) -> f64 {
        self.n_frames() as f64 / self.info.sample_rate_hz
    }
}

fn read_all(src: &mut dyn Source, max_frames: usize) -> (Vec<f32>, Vec<SourceEvent>) {
    let nch = src.info().channel_count();
    let mut buf = vec![0.0f32; 4096 * nch];
    let mut frames = Vec::with_capacity(max_frames * nch);
    let mut events = Vec::new();
    loop {
        let done = frames.len() / nch;
        if done >= max_frames {
            break;
        }
        let want = (max_frames - done).min(4096);
        let n = src.read(&mut buf[..want * nch], &mut events).expect("read");
        if n == 0 {
            break;
        }
        frames.extend_from_slice(&buf[..n * nch]);
    }
    let end = (frames.len() / nch) as f64;
    events.retain(|e| e.frame() < end);
    (frames, events)
}

/// Keeps the listed channels (in that order).
fn keep_channels(mut input: Input, keep: &[usize], what: &str) -> Input {
    let nch = input.nch();
    let frames = input
        .frames
        .chunks_exact(nch)
        .flat_map(|f| keep.iter().map(move |&c| f[c]))
        .collect();
    input.info.channels = keep
        .iter()
        .map(|&c| input.info.channels[c].clone())
        .collect();
    input.frames = frames;
    input.origin = format!("{}, {what} kept", input.origin);
    input
}

fn sim(rate: u32, trigger: bool, extra: Vec<Muscle>, seconds: f64) -> Input {
    let cfg = SimConfig {
        sample_rate_hz: rate as f64,
        duration_s: seconds,
        seed: SEED,
        trigger,
        stimulus_events: true,
        extra_channels: extra,
        ..SimConfig::default()
    };
    let mut src = SimPatient::new(cfg).expect("simulator settings");
    let max = (seconds * rate as f64).round() as usize;
    let (frames, events) = read_all(&mut src, max);
    Input {
        origin: format!("simulator (abrupt, seed {SEED}, {seconds} s)"),
        info: src.info().clone(),
        frames,
        events,
    }
}

fn fixture(name: &str, seconds: f64) -> Input {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    let mut src = NwbSource::open(&path, &ReadOptions::default()).expect("fixture");
    let max = (seconds * src.info().sample_rate_hz).round() as usize;
    let (frames, events) = read_all(&mut src, max);
    let secs = frames.len() as f64 / src.info().channel_count() as f64 / src.info().sample_rate_hz;
    Input {
        origin: format!("fixtures/{name} (first {secs:.0} s)"),
        info: src.info().clone(),
        frames,
        events,
    }
}

/// The input for a rate and channel count.
fn input_for(rate: u32, nch: usize, seconds: f64) -> Input {
    use Muscle::*;
    match (rate, nch) {
        (5_000, 4) => fixture("abrupt_5k.nwb", seconds),
        (10_000, 4) => fixture("no_baseline_10k.nwb", seconds),
        (_, 4) => sim(rate, true, Vec::new(), seconds),
        // Simulator channels: orbicularis oculi, orbicularis oris, mentalis, [extras], [trigger].
        (_, 1) => keep_channels(
            sim(rate, false, Vec::new(), seconds),
            &[2],
            "1 of 3 EMG channels",
        ),
        (_, 2) => keep_channels(
            sim(rate, false, Vec::new(), seconds),
            &[0, 2],
            "2 of 3 EMG channels",
        ),
        (_, 8) => sim(
            rate,
            true,
            vec![Frontalis, Mentalis, OrbicularisOris, Mentalis],
            seconds,
        ),
        _ => unreachable!("no input for {nch} channels"),
    }
}

/// One analysed stimulus, with what the stages after conditioning need.
struct Sweep {
    stim: Stimulus,
    mains_hz: Option<f64>,
    branch: usize,
    facts: SweepFacts,
    /// Conditioned segment of every channel the branch uses.
    conditioned: Vec<(usize, Vec<f32>)>,
    /// Per LSR channel: its measures and its segment after crosstalk removal.
    measured: Vec<(usize, Measured, Vec<f32>)>,
}

/// What the detector stage decides for one channel of one sweep.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Verdict {
    stim_index: u64,
    channel: usize,
    status: SweepStatus,
    reason: Option<RejectReason>,
    state: MonitorState,
    percent: f32,
}

/// Everything prepared for one input before any timing.
struct Prepared {
    input: Input,
    settings: Settings,
    timing: &'static str,
    trigger_ch: Option<usize>,
    artifact_ch: usize,
    branches: Vec<(Branch, BranchChannels)>,
    history: History,
    analyzer: RefCell<SweepAnalyzer>,
    sweeps: Vec<Sweep>,
    trackers: Vec<Option<Tracker>>,
    /// Per channel: a template over the LSR window (the average of all its sweeps).
    templates: Vec<Vec<f32>>,
    /// Block boundaries: frame range and event range.
    blocks: Vec<(usize, usize, usize, usize)>,
}

impl Prepared {
    fn new(input: Input) -> Self {
        let info = &input.info;
        let nch = input.nch();
        let fs = info.sample_rate_hz;
        let trigger_ch = info.channels.iter().position(|c| c.role == Role::Trigger);
        let mut settings = Settings::default();
        settings.stimulus.timing = if trigger_ch.is_some() {
            StimulusTiming::Trigger
        } else {
            StimulusTiming::Events
        };
        let branches: Vec<(Branch, BranchChannels)> = settings
            .anatomy
            .branches
            .iter()
            .map(|b| {
                (
                    b.branch,
                    settings.anatomy.channels_for(b.branch, &info.channels),
                )
            })
            .collect();
        // The artifact detector's channel, chosen as the engine chooses it.
        let artifact_ch = branches
            .iter()
            .find(|(b, _)| *b == settings.stimulus.default_branch)
            .and_then(|(_, bc)| bc.direct.first().or(bc.lsr.first()).copied())
            .or_else(|| info.channels.iter().position(|c| c.role == Role::Emg))
            .expect("an EMG channel");

        // Blocks and the events inside each.
        let mut blocks = Vec::new();
        let mut e0 = 0;
        for start in (0..input.n_frames()).step_by(BLOCK) {
            let end = (start + BLOCK).min(input.n_frames());
            let mut e1 = e0;
            while e1 < input.events.len() && input.events[e1].frame() < end as f64 {
                e1 += 1;
            }
            blocks.push((start, end, e0, e1));
            e0 = e1;
        }

        // A first run of the engine: which stimuli it analyses, with which mains frequency.
        let mut engine = Engine::new(info, &settings).expect("engine");
        let timing = engine.timing_name();
        let mut stims: Vec<Stimulus> = Vec::new();
        let mut analysed: Vec<(Stimulus, Option<f64>)> = Vec::new();
        let mut mains: Option<f64> = None;
        let mut engine_verdicts: Vec<(Verdict, f32, f32)> = Vec::new();
        for &(a, b, ea, eb) in &blocks {
            engine.process(
                &input.frames[a * nch..b * nch],
                &input.events[ea..eb],
                &mut |ev| match ev {
                    EngineEvent::Stimulus(s) => stims.push(*s),
                    EngineEvent::Mains(h) => mains = *h,
                    EngineEvent::Sweep(r) => {
                        engine_verdicts.push((
                            Verdict {
                                stim_index: r.stim_index,
                                channel: r.channel,
                                status: r.status,
                                reason: r.reject_reason,
                                state: r.state,
                                percent: r.percent_of_baseline,
                            },
                            r.snr,
                            r.lsr_p2p_uv,
                        ));
                        if analysed.last().is_none_or(|(s, _)| s.index != r.stim_index) {
                            let s = stims.iter().find(|s| s.index == r.stim_index).unwrap();
                            analysed.push((*s, mains));
                        }
                    }
                    _ => {}
                },
            );
        }

        // The whole input in one history.
        let scale = info
            .channels
            .iter()
            .map(|c| Scale {
                gain: c.uv_per_unit(),
                offset: c.offset_uv(),
            })
            .collect();
        let mut history = History::new(scale, input.n_frames());
        for e in &input.events {
            if let SourceEvent::Gap { frame, .. } = *e {
                history.mark_gap(frame);
            }
        }
        history.push(&input.frames);

        let mut analyzer = SweepAnalyzer::new(fs, &info.channels, &settings).expect("analyzer");
        let geo = analyzer.geo;
        let mut sweeps = Vec::new();
        for (stim, mains_hz) in analysed {
            let bi = branches
                .iter()
                .position(|(b, _)| *b == stim.branch)
                .unwrap();
            let chans = &branches[bi].1;
            let facts = analyzer.condition(&history, &stim, chans, mains_hz);
            if facts.incomplete {
                continue;
            }
            let conditioned = chans
                .lsr
                .iter()
                .chain(&chans.direct)
                .map(|&c| (c, analyzer.seg[c].clone()))
                .collect();
            let measured = chans
                .lsr
                .iter()
                .map(|&c| {
                    let m = analyzer.measure(c, chans, &facts);
                    (c, m, analyzer.seg[c].clone())
                })
                .collect();
            sweeps.push(Sweep {
                stim,
                mains_hz,
                branch: bi,
                facts,
                conditioned,
                measured,
            });
        }
        assert!(!sweeps.is_empty(), "{}: no sweep analysed", input.origin);

        let run_item = geo.noise_len + geo.window_len;
        let mut trackers: Vec<Option<Tracker>> = (0..nch).map(|_| None).collect();
        let mut templates = vec![Vec::new(); nch];
        for (_, bc) in &branches {
            for &ch in &bc.lsr {
                trackers[ch] = Some(Tracker::new(ch, &settings, geo.display_len, run_item));
                let mut avg = vec![0.0f32; geo.display_len];
                let mut n = 0;
                for s in &sweeps {
                    for (c, _, seg) in &s.measured {
                        if *c == ch {
                            let d = geo.display(s.facts.frac);
                            avg.iter_mut().zip(&seg[d]).for_each(|(a, &v)| *a += v);
                            n += 1;
                        }
                    }
                }
                avg.iter_mut().for_each(|a| *a /= n.max(1) as f32);
                let off = geo.window_in_display().min(avg.len());
                let t = &avg[off..];
                templates[ch] = t[..geo.window_len.min(t.len())].to_vec();
            }
        }

        let p = Self {
            input,
            settings,
            timing,
            trigger_ch,
            artifact_ch,
            branches,
            history,
            analyzer: RefCell::new(analyzer),
            sweeps,
            trackers,
            templates,
            blocks,
        };
        p.check(&engine_verdicts);
        p
    }

    /// The stages replayed here must reach the engine's own results, sweep by sweep.
    fn check(&self, engine: &[(Verdict, f32, f32)]) {
        let mut an = self.analyzer.borrow_mut();
        let mut trackers = self.trackers.clone();
        let mut item = vec![0.0f32; an.geo.noise_len + an.geo.window_len];
        let mut scratch = vec![0.0f32; an.geo.seg_len];
        let mut mine = Vec::new();
        self.replay(&mut an, &mut trackers, &mut item, &mut scratch, &mut |v| {
            mine.push(v)
        });
        let measured = self.sweeps.iter().flat_map(|s| &s.measured);
        assert_eq!(
            mine.len(),
            engine.len(),
            "{}: sweep count",
            self.input.origin
        );
        for ((v, (e, snr, p2p)), (_, m, _)) in mine.iter().zip(engine).zip(measured) {
            let same_percent = v.percent.to_bits() == e.percent.to_bits();
            let same = Verdict { percent: 0.0, ..*v } == Verdict { percent: 0.0, ..*e };
            assert!(
                same && same_percent && m.snr == *snr && m.lsr_p2p == *p2p,
                "{}: the replay differs from the engine: {v:?} vs {e:?}",
                self.input.origin
            );
        }
    }

    fn chans(&self, s: &Sweep) -> &BranchChannels {
        &self.branches[s.branch].1
    }

    fn conditioned_channels(&self) -> String {
        let bc = self.chans(&self.sweeps[0]);
        format!(
            "{} ch ({} LSR + {} direct)",
            bc.lsr.len() + bc.direct.len(),
            bc.lsr.len(),
            bc.direct.len()
        )
    }

    fn lsr_channels(&self) -> String {
        format!("{} LSR ch", self.chans(&self.sweeps[0]).lsr.len())
    }

    // ---- the timed stages; each returns the time of `iters` passes over the input ----

    fn conditioning(&self, iters: u64) -> Duration {
        let mut an = self.analyzer.borrow_mut();
        let t = Instant::now();
        for _ in 0..iters {
            for s in &self.sweeps {
                let f = an.condition(&self.history, &s.stim, self.chans(s), s.mains_hz);
                black_box(f);
            }
        }
        t.elapsed()
    }

    fn timing_trigger(&self, iters: u64) -> Duration {
        let ch = self.trigger_ch.expect("a trigger channel");
        let c = &self.input.info.channels[ch];
        let fs = self.input.info.sample_rate_hz;
        self.stim_timing(iters, ch, || {
            let mut d = TriggerDetector::new(
                &self.settings.stimulus,
                fs,
                Polarity::Positive,
                c.range_units,
            )
            .expect("trigger detector");
            move |chunk: &[f32], nch: usize, ch: usize, first: u64, emit: &mut dyn FnMut(f64)| {
                d.process(chunk, nch, ch, first, &mut |t| emit(t))
            }
        })
    }

    fn timing_artifact(&self, iters: u64) -> Duration {
        let ch = self.artifact_ch;
        let c = &self.input.info.channels[ch];
        let fs = self.input.info.sample_rate_hz;
        self.stim_timing(iters, ch, || {
            let mut d = ArtifactDetector::new(&self.settings.stimulus, fs, c.uv_per_unit())
                .expect("artifact detector");
            move |chunk: &[f32], nch: usize, ch: usize, first: u64, emit: &mut dyn FnMut(f64)| {
                d.process(chunk, nch, ch, first, &mut |t| emit(t))
            }
        })
    }

    /// A fresh detector per pass (made outside the timed region), fed in engine-sized chunks.
    fn stim_timing<D, P>(&self, iters: u64, ch: usize, make: D) -> Duration
    where
        D: Fn() -> P,
        P: FnMut(&[f32], usize, usize, u64, &mut dyn FnMut(f64)),
    {
        let nch = self.input.nch();
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let mut det = make();
            let mut found = 0u64;
            let t = Instant::now();
            for (k, chunk) in self.input.frames.chunks(BLOCK * nch).enumerate() {
                det(chunk, nch, ch, (k * BLOCK) as u64, &mut |_| found += 1);
            }
            total += t.elapsed();
            black_box(found);
        }
        total
    }

    fn measures(&self, iters: u64) -> Duration {
        let mut an = self.analyzer.borrow_mut();
        let geo = an.geo;
        let lag = (self.settings.judge.template_max_lag_ms * geo.fs / 1000.0) as usize;
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            for s in &self.sweeps {
                // Back to the conditioned segments (measure subtracts crosstalk in place).
                for (c, seg) in &s.conditioned {
                    an.seg[*c].copy_from_slice(seg);
                }
                let chans = self.chans(s);
                let frac = s.facts.frac;
                let t = Instant::now();
                for &ch in &chans.lsr {
                    let m = an.measure(ch, chans, &s.facts);
                    let seg = &an.seg[ch];
                    let mut trace = [0.0f32; DISPLAY_POINTS];
                    measure::display_trace(&seg[geo.display(frac)], &mut trace);
                    let win = geo.window(frac);
                    let a = &mut *an;
                    let corr = a
                        .correlator
                        .best(&a.seg[ch], win.start, &self.templates[ch], lag);
                    black_box((m, &trace, corr));
                }
                total += t.elapsed();
            }
        }
        total
    }

    fn detector(&self, iters: u64) -> Duration {
        let mut an = self.analyzer.borrow_mut();
        let mut item = vec![0.0f32; an.geo.noise_len + an.geo.window_len];
        let mut scratch = vec![0.0f32; an.geo.seg_len];
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let mut trackers = self.trackers.clone();
            let t = Instant::now();
            self.replay(&mut an, &mut trackers, &mut item, &mut scratch, &mut |v| {
                black_box(v);
            });
            total += t.elapsed();
            drop(trackers);
        }
        total
    }

    /// Every measured sweep through the judge, the trackers and the criterion, with the same
    /// `Tracker::judge` and `Tracker::conclude` as `detect::engine::judge_channel` after the
    /// measures. `seen` gets each channel's verdict.
    fn replay(
        &self,
        an: &mut SweepAnalyzer,
        trackers: &mut [Option<Tracker>],
        item: &mut [f32],
        scratch: &mut [f32],
        seen: &mut dyn FnMut(Verdict),
    ) {
        let geo = an.geo;
        let lag = (self.settings.judge.template_max_lag_ms * geo.fs / 1000.0) as usize;
        for s in &self.sweeps {
            let facts = &s.facts;
            let frac = facts.frac;
            let stim_time_s = s.stim.frame_time / geo.fs;
            for (ch, m, seg) in &s.measured {
                let tr = trackers[*ch].as_mut().unwrap();
                let off = m.judged_offset;
                let win = geo.window(frac);
                let corr = if tr.has_template {
                    let t = tr.template(&geo);
                    an.correlator
                        .best(seg, win.start + off, &t[off.min(t.len())..], lag)
                } else {
                    f32::NAN
                };
                let j = tr.judge(an, facts, m, Some(corr));
                let (status, reason) = (j.status, j.reason);
                if status == SweepStatus::Present {
                    tr.add_baseline_sweep(&seg[geo.display(frac)]);
                }
                let noise = geo.noise(frac);
                let nl = noise.len();
                item[..nl].copy_from_slice(&seg[noise]);
                item[nl..nl + win.len()].copy_from_slice(&seg[win]);
                tr.note_run_sweep(j.evidence > 0.0, item);
                let obs = Observation {
                    stim_time_s,
                    status,
                    equivocal: reason == Some(RejectReason::Equivocal),
                    lsr_p2p_uv: m.lsr_p2p,
                    onset_ms: m.onset_ms,
                    direct_p2p_uv: facts.direct_p2p,
                    snr: m.snr,
                    evidence: j.evidence,
                    matches_baseline: j.matches_baseline,
                };
                let check = RunAverageCheck {
                    max_snr: self.settings.criterion.run_average_max_snr as f32,
                    min_corr: 0.5 * self.settings.judge.template_min_corr as f32,
                    lag,
                    offset: off,
                };
                let (step, percent) = tr.conclude(&obs, &geo, scratch, &mut an.correlator, &check);
                if step.baseline.is_some() {
                    black_box(tr.baseline_trace());
                }
                seen(Verdict {
                    stim_index: s.stim.index,
                    channel: *ch,
                    status,
                    reason,
                    state: tr.state(),
                    percent,
                });
            }
        }
    }

    fn engine(&self, iters: u64) -> Duration {
        let nch = self.input.nch();
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let mut engine = Engine::new(&self.input.info, &self.settings).expect("engine");
            let mut n = 0u64;
            let t = Instant::now();
            for &(a, b, ea, eb) in &self.blocks {
                engine.process(
                    &self.input.frames[a * nch..b * nch],
                    &self.input.events[ea..eb],
                    &mut |e| {
                        black_box(e);
                        n += 1;
                    },
                );
            }
            total += t.elapsed();
            black_box(n);
            drop(engine);
        }
        total
    }
}

/// One row of the summary.
struct Row {
    rate: u32,
    nch: usize,
    stage: &'static str,
    works_on: String,
    sweeps: usize,
    seconds: f64,
    /// Median time of one pass over the input, ns.
    pass_ns: f64,
}

impl Row {
    fn us_per_sweep(&self) -> f64 {
        self.pass_ns / 1e3 / self.sweeps as f64
    }
    fn us_per_second(&self) -> f64 {
        self.pass_ns / 1e3 / self.seconds
    }
    fn x_real_time(&self) -> f64 {
        1e6 / self.us_per_second()
    }
}

/// A stage: times `iters` passes over the prepared input.
type Pass = fn(&Prepared, u64) -> Duration;

/// Runs one criterion benchmark of `pass` and returns the median time of one pass over
/// criterion's measurement samples (None if the benchmark was filtered out). The input is
/// prepared (on first use) before criterion's clock starts.
fn bench<'a>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    get: &dyn Fn() -> &'a Prepared,
    pass: Pass,
) -> Option<f64> {
    let calls: RefCell<Vec<(u64, Duration)>> = RefCell::new(Vec::new());
    group.bench_function(name, |b| {
        let p = get();
        b.iter_custom(|iters| {
            let d = pass(p, iters);
            calls.borrow_mut().push((iters, d));
            d
        })
    });
    let calls = calls.into_inner();
    let &(last_iters, _) = calls.last()?;
    // With flat sampling every measurement sample has the same iteration count; the warm-up
    // before them doubles it call after call.
    let mut per: Vec<f64> = calls
        .iter()
        .rev()
        .take_while(|(i, _)| *i == last_iters)
        .map(|(i, d)| d.as_nanos() as f64 / *i as f64)
        .collect();
    per.sort_by(f64::total_cmp);
    let n = per.len();
    Some(if n % 2 == 1 {
        per[n / 2]
    } else {
        (per[n / 2 - 1] + per[n / 2]) / 2.0
    })
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn table(
    rows: &[Row],
    inputs: &[(u32, usize, String, &'static str, usize, f64)],
    mode: Mode,
) -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut command = "cargo bench --bench stages".to_string();
    if !args.is_empty() {
        command.push_str(" -- ");
        command.push_str(&args.join(" "));
    }
    if std::env::var_os("LSRMON_BENCH_FULL").is_some() {
        command = format!("LSRMON_BENCH_FULL=1 {command}");
    }
    let mut s = String::new();
    s.push_str("## Pipeline stages: cost per sweep and per second of signal\n\n");
    s.push_str(&format!("- Machine: {}\n", common::machine()));
    s.push_str(&format!("- Date: {}\n", common::utc_now()));
    s.push_str(&format!("- Command: `{command}` (mode: {})\n", mode.name));
    s.push_str(&format!(
        "- Criterion: {} samples, {:.1} s measurement, {:.1} s warm-up, flat sampling; each \
         figure is the median over criterion's measurement samples of one pass over the input, \
         divided by the input's sweeps or seconds. One core; the machine is shared, so figures \
         are noisy.\n",
        mode.samples,
        mode.measurement.as_secs_f64(),
        mode.warm_up.as_secs_f64()
    ));
    s.push_str(
        "- \"x real time\" = 1 s / (cost per second of signal): how many times faster than real \
         time the stage runs on one core. Stimulation is 1 Hz in every input.\n\n",
    );
    s.push_str("Inputs (read into memory before timing):\n\n");
    s.push_str("| rate | channels | input | stimulus timing in the engine | sweeps | seconds |\n");
    s.push_str("|---:|---:|---|---|---:|---:|\n");
    for (rate, nch, origin, timing, sweeps, secs) in inputs {
        s.push_str(&format!(
            "| {} kHz | {nch} | {origin} | {timing} | {sweeps} | {secs:.1} |\n",
            rate / 1000
        ));
    }
    s.push_str(
        "\n| rate | channels | stage | works on | µs / sweep | µs / s of signal | x real time |\n",
    );
    s.push_str("|---:|---:|---|---|---:|---:|---:|\n");
    for r in rows {
        s.push_str(&format!(
            "| {} kHz | {} | {} | {} | {} | {} | {} |\n",
            r.rate / 1000,
            r.nch,
            r.stage,
            r.works_on,
            fmt_num(r.us_per_sweep()),
            fmt_num(r.us_per_second()),
            fmt_num(r.x_real_time())
        ));
    }
    // The engine against the sum of its stages.
    let find = |rate: u32, nch: usize, stage: &str| {
        rows.iter()
            .find(|r| r.rate == rate && r.nch == nch && r.stage == stage)
            .map(Row::us_per_second)
    };
    let mut sums = String::new();
    for (rate, nch, _, timing, _, _) in inputs {
        let mut parts = vec!["conditioning", "measures", "detector"];
        if *timing == "trigger channel" {
            parts.push("timing-trigger");
        }
        let stages: Option<Vec<f64>> = parts.iter().map(|st| find(*rate, *nch, st)).collect();
        if let (Some(e), Some(st)) = (find(*rate, *nch, "engine"), stages) {
            let sum: f64 = st.iter().sum();
            sums.push_str(&format!(
                "| {} kHz | {nch} | {} | {} | {} |\n",
                rate / 1000,
                fmt_num(e),
                fmt_num(sum),
                fmt_num(e - sum)
            ));
        }
    }
    if !sums.is_empty() {
        s.push_str(
            "\nThe engine against its stages, µs per second of signal (stages = conditioning + \
             measures + detector, + trigger timing when the engine times stimuli from the trigger \
             channel; the rest is the history, mains detection and bookkeeping, plus noise):\n\n\
             | rate | channels | engine | sum of stages | rest |\n|---:|---:|---:|---:|---:|\n",
        );
        s.push_str(&sums);
    }
    // The whole engine at a glance.
    let engine: Vec<&Row> = rows.iter().filter(|r| r.stage == "engine").collect();
    if !engine.is_empty() {
        s.push_str("\nWhole `Engine::process`, x real time (one core):\n\n| rate |");
        for n in CHANNELS {
            s.push_str(&format!(" {n} ch |"));
        }
        s.push_str("\n|---:|");
        for _ in CHANNELS {
            s.push_str("---:|");
        }
        s.push('\n');
        for rate in RATES {
            s.push_str(&format!("| {} kHz |", rate / 1000));
            for n in CHANNELS {
                match engine.iter().find(|r| r.rate == rate && r.nch == n) {
                    Some(r) => s.push_str(&format!(" {} |", fmt_num(r.x_real_time()))),
                    None => s.push_str(" - |"),
                }
            }
            s.push('\n');
        }
    }
    s
}

fn main() {
    let test_mode =
        !std::env::args().any(|a| a == "--bench") || std::env::args().any(|a| a == "--test");
    let full = std::env::var_os("LSRMON_BENCH_FULL").is_some();
    let mode = if test_mode {
        Mode {
            signal_s: 10.0,
            samples: 10,
            warm_up: Duration::from_millis(100),
            measurement: Duration::from_millis(200),
            name: "test (each benchmark once)",
        }
    } else if full {
        Mode {
            signal_s: 120.0,
            samples: 50,
            warm_up: Duration::from_secs(2),
            measurement: Duration::from_secs(5),
            name: "full, 120 s inputs",
        }
    } else {
        Mode {
            signal_s: 30.0,
            samples: 20,
            warm_up: Duration::from_secs(1),
            measurement: Duration::from_secs(2),
            name: "default, 30 s inputs",
        }
    };
    let mut c = Criterion::default()
        .sample_size(mode.samples)
        .warm_up_time(mode.warm_up)
        .measurement_time(mode.measurement)
        .configure_from_args();

    let mut rows = Vec::new();
    let mut inputs = Vec::new();
    for rate in RATES {
        for nch in CHANNELS {
            // Prepared on first use, so a filtered run only builds the inputs it times.
            let prepared: OnceCell<Prepared> = OnceCell::new();
            let get =
                || prepared.get_or_init(|| Prepared::new(input_for(rate, nch, mode.signal_s)));
            let mut group = c.benchmark_group(format!("{}kHz-{nch}ch", rate / 1000));
            group.sampling_mode(SamplingMode::Flat);
            let mut stages: Vec<(&'static str, Pass)> =
                vec![("conditioning", Prepared::conditioning)];
            if nch >= 4 {
                stages.push(("timing-trigger", Prepared::timing_trigger));
            }
            stages.extend([
                ("timing-artifact", Prepared::timing_artifact as Pass),
                ("measures", Prepared::measures),
                ("detector", Prepared::detector),
                ("engine", Prepared::engine),
            ]);
            let results: Vec<(&'static str, Option<f64>)> = stages
                .into_iter()
                .map(|(name, pass)| (name, bench(&mut group, name, &get, pass)))
                .collect();
            group.finish();
            let Some(p) = prepared.get() else {
                continue;
            };
            let seconds = p.input.seconds();
            let sweeps = p.sweeps.len();
            let labels: Vec<&str> = p
                .input
                .info
                .channels
                .iter()
                .map(|c| c.label.as_str())
                .collect();
            let origin = format!("{}: {}", p.input.origin, labels.join(", "));
            inputs.push((rate, nch, origin, p.timing, sweeps, seconds));
            for (stage, ns) in results {
                let Some(pass_ns) = ns else { continue };
                let works_on = match stage {
                    "conditioning" => p.conditioned_channels(),
                    "timing-trigger" => "1 ch (trigger)".to_string(),
                    "timing-artifact" => {
                        format!("1 ch ({})", p.input.info.channels[p.artifact_ch].label)
                    }
                    "measures" | "detector" => p.lsr_channels(),
                    _ => format!("all {nch} ch"),
                };
                rows.push(Row {
                    rate,
                    nch,
                    stage,
                    works_on,
                    sweeps,
                    seconds,
                    pass_ns,
                });
            }
        }
    }
    c.final_summary();

    let md = table(&rows, &inputs, mode);
    println!("\n{md}");
    if test_mode {
        println!("(test mode: target/bench/stages.md not written)");
        return;
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let path = dir.join("stages.md");
    std::fs::write(&path, &md).expect("write stages.md");
    println!("written to {}", path.display());
}
