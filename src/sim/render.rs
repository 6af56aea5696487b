//! Turns the planned case into samples, one frame at a time, without allocating.
//!
//! Every sample is a pure function of its frame number: noise is counter-based white noise
//! shaped by a short FIR (kept in a ring so each frame costs one new random number),
//! mains and drift are sinusoids of absolute time, and stimulus responses, bursts, pops and
//! cautery come from the precomputed plan. So the stream does not depend on how the caller
//! slices it into blocks, and [`Renderer::seek`] can start anywhere and produce exactly the
//! samples a run from the start would (the ground truth uses that to find real clipping).
//!
//! Values are summed in µV, converted to ADC counts (0.2 µV each), rounded and clipped to
//! the 16-bit rails: clipping is how saturation happens.

use std::f64::consts::TAU;
use std::sync::Arc;

use super::config::{RAIL_HIGH, RAIL_LOW, UV_PER_COUNT};
use super::episodes::{MAX_BURST_SPIKES, MUAP_MAX_S};
use super::physiology::{
    Physiology, STIM_SPAN_S, TRIGGER_CAUTERY_COUNTS, TRIGGER_COUNTS, TRIGGER_NOISE_COUNTS,
    TRIGGER_WIDTH_S,
};
use super::rng::normal_at;
use super::truth::SimRole;
use super::waveform::{Artifact, Wave};

/// Longest a spontaneous burst lasts, seconds (see the physiology's draw).
const BURST_MAX_S: f64 = 0.5 + MUAP_MAX_S;
/// Longest an electrode pop lasts, seconds (25 mV decaying with 0.2 s to 0.5 µV).
const POP_MAX_S: f64 = 2.5;
/// Longest an electrocautery episode lasts, seconds (the configuration's limit).
const CAUTERY_MAX_S: f64 = 120.0;

/// White noise shaped by the noise filter, in a doubled ring so the filter reads a slice.
#[derive(Clone, Debug)]
struct NoiseRing {
    key: u64,
    buf: Vec<f64>,
    pos: usize,
    /// The frame whose noise value the window is centred on.
    centre: u64,
}

impl NoiseRing {
    fn new(key: u64, len: usize) -> Self {
        Self {
            key,
            buf: vec![0.0; 2 * len],
            pos: 0,
            centre: 0,
        }
    }

    fn fill(&mut self, n: u64, len: usize) {
        let half = (len / 2) as u64;
        for j in 0..len {
            let w = normal_at(self.key, (n + j as u64).wrapping_sub(half));
            self.buf[j] = w;
            self.buf[j + len] = w;
        }
        self.pos = 0;
        self.centre = n;
    }

    #[inline]
    fn next(&mut self, fir: &[f64]) -> f64 {
        let len = fir.len();
        let win = &self.buf[self.pos..self.pos + len];
        let out: f64 = fir.iter().zip(win).map(|(h, w)| h * w).sum();
        let w = normal_at(self.key, self.centre + (len / 2) as u64 + 1);
        self.buf[self.pos] = w;
        self.buf[self.pos + len] = w;
        self.pos = if self.pos + 1 == len { 0 } else { self.pos + 1 };
        self.centre += 1;
        out
    }
}

/// One stimulus's expanded waveforms, per channel.
#[derive(Clone, Debug)]
struct Slot {
    stim: Option<usize>,
    t_s: f64,
    art: Vec<Artifact>,
    m: Vec<Wave>,
    f: Vec<Wave>,
    lsr: Vec<Wave>,
    /// Crosstalk of the direct channel's M response and F-wave.
    xt_m: Vec<Wave>,
    xt_f: Vec<Wave>,
}

/// The burst running on one channel, expanded to spikes.
#[derive(Clone, Debug)]
struct BurstSlot {
    active: bool,
    waves: [Wave; 3],
    spikes: [(f64, u8); MAX_BURST_SPIKES],
    n: usize,
    first: usize,
}

/// Sample generator for one simulated case.
#[derive(Clone, Debug)]
pub(crate) struct Renderer {
    phys: Arc<Physiology>,
    n: u64,
    period: f64,
    rings: Vec<NoiseRing>,
    slots: Vec<Slot>,
    next_stim: usize,
    bursts: Vec<BurstSlot>,
    next_burst: usize,
    pop_lo: usize,
    pop_hi: usize,
    cautery_lo: usize,
    cautery_hi: usize,
}

impl Renderer {
    /// A renderer positioned at frame 0 (allocates everything it will ever need).
    pub(crate) fn new(phys: Arc<Physiology>) -> Self {
        let nch = phys.channel_count();
        let len = phys.noise_fir.len();
        let rings = phys
            .channels
            .iter()
            .map(|c| NoiseRing::new(c.noise_key, len))
            .collect();
        let slot = Slot {
            stim: None,
            t_s: 0.0,
            art: vec![Artifact::NONE; nch],
            m: vec![Wave::EMPTY; nch],
            f: vec![Wave::EMPTY; nch],
            lsr: vec![Wave::EMPTY; nch],
            xt_m: vec![Wave::EMPTY; nch],
            xt_f: vec![Wave::EMPTY; nch],
        };
        let burst = BurstSlot {
            active: false,
            waves: [Wave::EMPTY; 3],
            spikes: [(0.0, 0); MAX_BURST_SPIKES],
            n: 0,
            first: 0,
        };
        let mut r = Self {
            period: 1.0 / phys.fs,
            n: 0,
            rings,
            slots: vec![slot; 2],
            next_stim: 0,
            bursts: vec![burst; nch],
            next_burst: 0,
            pop_lo: 0,
            pop_hi: 0,
            cautery_lo: 0,
            cautery_hi: 0,
            phys,
        };
        r.seek(0);
        r
    }

    /// The next frame to be rendered.
    pub(crate) fn position(&self) -> u64 {
        self.n
    }

    /// Moves to frame `n`; the following frames are exactly those a run from the start
    /// would produce there. Does not allocate.
    pub(crate) fn seek(&mut self, n: u64) {
        let p = &self.phys;
        let t = n as f64 / p.fs;
        self.n = n;
        if p.noise_uv > 0.0 {
            let len = p.noise_fir.len();
            for (ring, ch) in self.rings.iter_mut().zip(&p.channels) {
                if ch.role != SimRole::Trigger {
                    ring.fill(n, len);
                }
            }
        }
        for s in &mut self.slots {
            s.stim = None;
        }
        self.next_stim = p.stim_times.partition_point(|&ts| ts + STIM_SPAN_S <= t);
        for b in &mut self.bursts {
            b.active = false;
        }
        self.next_burst = p.bursts.partition_point(|b| b.start_s + BURST_MAX_S <= t);
        self.pop_lo = p.pops.partition_point(|x| x.start_s + POP_MAX_S <= t);
        self.pop_hi = self.pop_lo;
        self.cautery_lo = p
            .cautery
            .partition_point(|x| x.start_s + CAUTERY_MAX_S <= t);
        self.cautery_hi = self.cautery_lo;
    }

    /// Brings stimuli, bursts, pops and cautery episodes that matter at `t` into view.
    fn activate(&mut self, t: f64) {
        let lead = 2.0 * self.period;
        while let Some(&ts) = self.phys.stim_times.get(self.next_stim) {
            if ts - lead > t {
                break;
            }
            let i = self.next_stim;
            self.next_stim += 1;
            let k = match self.slots.iter().position(|s| s.stim.is_none()) {
                Some(k) => k,
                None => {
                    let first_older = self.slots[0].t_s <= self.slots[1].t_s;
                    if first_older {
                        0
                    } else {
                        1
                    }
                }
            };
            let p = &self.phys;
            let slot = &mut self.slots[k];
            slot.stim = Some(i);
            slot.t_s = ts;
            for c in 0..p.channel_count() {
                slot.art[c] = p.artifact(i, c);
                slot.m[c] = p.m_wave(i, c);
                slot.f[c] = p.f_wave(i, c);
                slot.lsr[c] = p.lsr_wave(i, c);
                (slot.xt_m[c], slot.xt_f[c]) = p.crosstalk_wave(i, c);
            }
        }
        for s in &mut self.slots {
            if s.stim.is_some() && t >= s.t_s + STIM_SPAN_S {
                s.stim = None;
            }
        }
        while let Some(b) = self.phys.bursts.get(self.next_burst) {
            if b.start_s > t {
                break;
            }
            self.next_burst += 1;
            if let Some(slot) = self.bursts.get_mut(b.channel) {
                slot.active = true;
                slot.first = 0;
                for (w, u) in slot.waves.iter_mut().zip(&b.units) {
                    *w = u.wave();
                }
                slot.n = b.spikes(&mut slot.spikes);
            }
        }
        let pops = &self.phys.pops;
        while self.pop_lo < pops.len() && pops[self.pop_lo].start_s + POP_MAX_S <= t {
            self.pop_lo += 1;
        }
        while self.pop_hi < pops.len() && pops[self.pop_hi].start_s <= t {
            self.pop_hi += 1;
        }
        let cau = &self.phys.cautery;
        while self.cautery_lo < cau.len() && cau[self.cautery_lo].start_s + CAUTERY_MAX_S <= t {
            self.cautery_lo += 1;
        }
        while self.cautery_hi < cau.len() && cau[self.cautery_hi].start_s <= t {
            self.cautery_hi += 1;
        }
    }

    /// Renders the current frame into `out` (one value per channel, ADC counts) and moves
    /// to the next. Does not allocate.
    pub(crate) fn render_frame(&mut self, out: &mut [f32]) {
        let n = self.n;
        let fs = self.phys.fs;
        let t = n as f64 / fs;
        self.activate(t);
        let p = &*self.phys;

        // Shared phasors: mains harmonics 1, 3, 5 and the three drift components.
        let nf = n as f64;
        let phase = |f: f64| {
            let x = f * nf / fs;
            (TAU * (x - x.floor())).sin_cos()
        };
        let mains = [
            phase(p.mains_hz),
            phase(3.0 * p.mains_hz),
            phase(5.0 * p.mains_hz),
        ];
        let drift = [
            phase(p.drift_hz[0]),
            phase(p.drift_hz[1]),
            phase(p.drift_hz[2]),
        ];
        let cautery = &p.cautery[self.cautery_lo..self.cautery_hi];

        for (c, o) in out.iter_mut().enumerate().take(p.channel_count()) {
            let ch = &p.channels[c];
            if ch.role == SimRole::Trigger {
                let mut v = TRIGGER_NOISE_COUNTS * normal_at(ch.noise_key, n);
                for s in self.slots.iter().filter(|s| s.stim.is_some()) {
                    v += trigger_pulse(t - s.t_s, self.period);
                }
                let env: f64 = cautery.iter().map(|e| e.envelope(t)).fold(0.0, f64::max);
                if env > 0.0 {
                    v += env * TRIGGER_CAUTERY_COUNTS * normal_at(ch.cautery_key, n);
                }
                *o = v.round().clamp(RAIL_LOW, RAIL_HIGH) as f32;
                continue;
            }
            let mut v = 0.0;
            if p.noise_uv > 0.0 {
                v += p.noise_uv * self.rings[c].next(&p.noise_fir);
            }
            for (k, (s, co)) in mains.iter().enumerate() {
                v += ch.mains[k].0 * s + ch.mains[k].1 * co;
            }
            for (k, (s, co)) in drift.iter().enumerate() {
                v += ch.drift[k].0 * s + ch.drift[k].1 * co;
            }
            let mut rail = None;
            for s in self.slots.iter().filter(|s| s.stim.is_some()) {
                let tau = t - s.t_s;
                v += s.art[c].sample(tau, self.period)
                    + s.m[c].value(tau)
                    + s.f[c].value(tau)
                    + s.lsr[c].value(tau)
                    + s.xt_m[c].value(tau)
                    + s.xt_f[c].value(tau);
                rail = rail.or(s.art[c].held(tau));
            }
            let b = &mut self.bursts[c];
            if b.active {
                while b.first < b.n && b.spikes[b.first].0 + MUAP_MAX_S <= t {
                    b.first += 1;
                }
                if b.first >= b.n {
                    b.active = false;
                } else {
                    for &(ts, u) in &b.spikes[b.first..b.n] {
                        if ts > t {
                            break;
                        }
                        v += b.waves[usize::from(u).min(2)].value(t - ts);
                    }
                }
            }
            for pop in &p.pops[self.pop_lo..self.pop_hi] {
                if pop.channel == c {
                    v += pop.value(t);
                }
            }
            let env: f64 = cautery.iter().map(|e| e.envelope(t)).fold(0.0, f64::max);
            if env > 0.0 {
                v += env * ch.cautery_uv * normal_at(ch.cautery_key, n);
            }
            *o = match rail {
                Some(sign) if sign > 0.0 => RAIL_HIGH,
                Some(_) => RAIL_LOW,
                None => (v / UV_PER_COUNT).round().clamp(RAIL_LOW, RAIL_HIGH),
            } as f32;
        }
        self.n += 1;
    }
}

/// The stimulator's sync pulse, counts: a 1 ms pulse whose edges are straight ramps two
/// sample periods wide centred on the true edge times, so that linear interpolation of the
/// half-height crossing between the two samples around an edge lands exactly on it.
#[inline]
pub(crate) fn trigger_pulse(tau: f64, period: f64) -> f64 {
    let rise = (tau / (2.0 * period) + 0.5).clamp(0.0, 1.0);
    let fall = ((tau - TRIGGER_WIDTH_S) / (2.0 * period) + 0.5).clamp(0.0, 1.0);
    TRIGGER_COUNTS * (rise - fall)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Muscle;
    use crate::sim::config::SimConfig;
    use crate::sim::scenario::Scenario;

    fn render(r: &mut Renderer, frames: usize) -> Vec<f32> {
        let nch = r.phys.channel_count();
        let mut v = vec![0.0; frames * nch];
        for f in v.chunks_mut(nch) {
            r.render_frame(f);
        }
        v
    }

    #[test]
    fn seeking_gives_the_same_samples_as_running_from_the_start() {
        let cfg = SimConfig {
            bursts_per_min: 30.0,
            cautery_times: vec![crate::sim::config::Episode {
                start_s: 3.0,
                duration_s: 1.0,
            }],
            extra_channels: vec![Muscle::Frontalis],
            ..SimConfig::quiet(Scenario::Abrupt, 5, 10_000.0, 20.0)
        };
        let phys = Arc::new(Physiology::new(&cfg));
        let mut a = Renderer::new(phys.clone());
        let all = render(&mut a, 60_000);
        let nch = phys.channel_count();
        for start in [1u64, 12_345, 29_999, 33_000] {
            let mut b = Renderer::new(phys.clone());
            b.seek(start);
            let part = render(&mut b, 5_000);
            let s = start as usize * nch;
            assert_eq!(&all[s..s + part.len()], &part[..], "seek to {start}");
        }
    }

    #[test]
    fn trigger_pulse_edges_interpolate_exactly() {
        for period in [1.0 / 5000.0, 1.0 / 44_100.0] {
            for frac in [0.0, 0.1, 0.5, 0.93] {
                let ts = (100.0 + frac) * period;
                let v: Vec<f64> = (0..200)
                    .map(|k| trigger_pulse(k as f64 * period - ts, period))
                    .collect();
                let k = v.iter().position(|&x| x >= TRIGGER_COUNTS / 2.0).unwrap();
                let (a, b) = (v[k - 1], v[k]);
                let x = (k - 1) as f64 + (TRIGGER_COUNTS / 2.0 - a) / (b - a);
                assert!(
                    (x - (100.0 + frac)).abs() < 1e-9,
                    "period {period} frac {frac}: {x}"
                );
                let top = v.iter().cloned().fold(0.0, f64::max);
                assert_eq!(top, TRIGGER_COUNTS);
            }
        }
    }
}
