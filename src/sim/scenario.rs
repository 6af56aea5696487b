//! The course of a simulated case: the surgical timeline, its markers, and how the LSR (and
//! the direct response) change along it, scenario by scenario.
//!
//! The timeline is the usual MVD sequence (baseline, dural opening, arachnoid dissection,
//! vessel identified, pad placed, sometimes a second vessel, dural closure) at fixed
//! fractions of the case length, so a 2-minute test case and a 4-hour case tell the same
//! story. The baseline runs from 0.5 % to 20 % of the case: at 1 Hz that is at least 10
//! sweeps for any case of 90 s or more.
//!
//! Each scenario turns the timeline into *envelopes*: a level per LSR channel (1 = the
//! patient's baseline amplitude, 0 = no LSR) and a level for the direct response (below 1
//! only under neuromuscular blockade, which also scales the LSR: a blocked muscle cannot
//! answer at all). Steps that happen "within 1-3 sweeps" are placed on actual stimulus
//! times. The shapes follow the courses reported in the literature (abrupt, gradual with
//! ±50 % swings, early at dural opening or arachnoid dissection, partial, persistent,
//! transient or lasting return, two vessels) and the relaxant pitfall.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::{Marker, SurgicalStep};

use super::rng::Rng;

/// How the LSR behaves over the case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Gone within 1-3 sweeps after the pad is placed.
    #[default]
    Abrupt,
    /// A fluctuating (±50 %) decline to zero over 1-10 min after the pad is placed.
    Gradual,
    /// Disappears at dural opening or arachnoid dissection, before any decompression.
    Early,
    /// Drops to 30-50 % of baseline after the pad and stays there.
    Partial,
    /// Never disappears (another vessel is still compressing).
    Persistent,
    /// Disappears, comes back for 5-60 s while the nerve is handled again, disappears again.
    TransientReturn,
    /// Disappears, then comes back for good (the pad slipped).
    LastingReturn,
    /// Halves after the first pad, disappears after the second vessel is decompressed.
    TwoVessels,
    /// No LSR at all, ever.
    NoBaseline,
    /// A neuromuscular-blocker bolus abolishes the direct response and the LSR for a few
    /// minutes; both recover; then the LSR disappears after the pad (abruptly).
    Relaxant,
}

impl Scenario {
    pub const ALL: [Self; 10] = [
        Self::Abrupt,
        Self::Gradual,
        Self::Early,
        Self::Partial,
        Self::Persistent,
        Self::TransientReturn,
        Self::LastingReturn,
        Self::TwoVessels,
        Self::NoBaseline,
        Self::Relaxant,
    ];

    /// The spelling used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Abrupt => "abrupt",
            Self::Gradual => "gradual",
            Self::Early => "early",
            Self::Partial => "partial",
            Self::Persistent => "persistent",
            Self::TransientReturn => "transient-return",
            Self::LastingReturn => "lasting-return",
            Self::TwoVessels => "two-vessels",
            Self::NoBaseline => "no-baseline",
            Self::Relaxant => "relaxant",
        }
    }

    /// One line for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Abrupt => "LSR gone within 1-3 sweeps after the pad is placed",
            Self::Gradual => "LSR fades with ±50 % swings over 1-10 min after decompression",
            Self::Early => "LSR disappears at dural opening / arachnoid dissection",
            Self::Partial => "LSR drops to 30-50 % of baseline and stays",
            Self::Persistent => "LSR never disappears",
            Self::TransientReturn => {
                "LSR disappears, returns for 5-60 s on re-manipulation, disappears"
            }
            Self::LastingReturn => "LSR disappears, then returns for good (pad slipped)",
            Self::TwoVessels => {
                "LSR halves after the first pad, disappears after the second vessel"
            }
            Self::NoBaseline => "no LSR at any time",
            Self::Relaxant => {
                "relaxant bolus abolishes direct response and LSR for minutes, both recover"
            }
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let want = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|sc| sc.name() == want)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|sc| sc.name()).collect();
                format!(
                    "'{}' is not a scenario; choose one of: {}",
                    s.trim(),
                    names.join(", ")
                )
            })
    }
}

/// Times of the surgical steps, seconds, scaled to the case length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Timeline {
    pub duration: f64,
    pub baseline: f64,
    pub dura_opened: f64,
    pub arachnoid: f64,
    pub vessel: f64,
    pub pad: f64,
    pub second_vessel: f64,
    pub dura_closed: f64,
}

impl Timeline {
    pub(crate) fn new(duration: f64) -> Self {
        Self {
            duration,
            baseline: 0.005 * duration,
            dura_opened: 0.20 * duration,
            arachnoid: 0.30 * duration,
            vessel: 0.42 * duration,
            pad: 0.50 * duration,
            second_vessel: 0.66 * duration,
            dura_closed: 0.90 * duration,
        }
    }
}

/// A piecewise-linear level over time. Two points at the same time make a step: from that
/// time on, the later one holds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Envelope {
    points: Vec<(f64, f64)>,
}

impl Envelope {
    pub(crate) fn constant(level: f64) -> Self {
        Self {
            points: vec![(0.0, level)],
        }
    }

    fn from_points(points: Vec<(f64, f64)>) -> Self {
        debug_assert!(points.windows(2).all(|w| w[0].0 <= w[1].0));
        Self { points }
    }

    pub(crate) fn level(&self, t: f64) -> f64 {
        let p = &self.points;
        let i = p.partition_point(|q| q.0 <= t);
        match (i, p.len()) {
            (_, 0) => 1.0,
            (0, _) => p[0].1,
            (i, n) if i == n => p[n - 1].1,
            (i, _) => {
                let (t0, v0) = p[i - 1];
                let (t1, v1) = p[i];
                v0 + (v1 - v0) * (t - t0) / (t1 - t0)
            }
        }
    }
}

/// Extra per-sweep swings of the LSR amplitude inside a time window ("pre-decompression
/// instability"): each sweep is multiplied by a factor drawn uniformly in 1 ± `amount`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Fluctuation {
    pub from: f64,
    pub to: f64,
    pub amount: f64,
}

/// The planned course of one case.
#[derive(Clone, Debug)]
pub(crate) struct Course {
    pub timeline: Timeline,
    /// One envelope per LSR channel, in the order of the LSR channels.
    pub lsr: Vec<Envelope>,
    pub fluctuation: Vec<Option<Fluctuation>>,
    /// The direct response (and everything muscular) under neuromuscular blockade.
    pub direct: Envelope,
    pub markers: Vec<Marker>,
}

/// Stream names for the course's random draws.
const CASE_STREAM: u64 = 0xC0_0125;
const CHANNEL_STREAM: u64 = 0xC0_0126;

/// Time of the `k`-th stimulus (k >= 1) at or after `t`; past the end, `t + k` seconds.
fn sweep_after(stim_times: &[f64], t: f64, k: u32) -> f64 {
    let first = stim_times.partition_point(|&s| s < t);
    let idx = first + k.max(1) as usize - 1;
    stim_times.get(idx).copied().unwrap_or(t + f64::from(k))
}

impl Course {
    /// Plans the course. `lsr_slots` are the stable identities of the LSR channels (each
    /// channel's own draws come from its own stream).
    pub(crate) fn new(
        scenario: Scenario,
        duration: f64,
        stim_times: &[f64],
        lsr_slots: &[u64],
        seed: u64,
    ) -> Self {
        let tl = Timeline::new(duration);
        let d = duration;
        let mut case = Rng::stream(seed, &[CASE_STREAM]);
        let mut markers: Vec<Marker> = SurgicalStep::ALL
            .iter()
            .filter(|s| **s != SurgicalStep::SecondVessel || scenario == Scenario::TwoVessels)
            .map(|s| Marker {
                time_s: match s {
                    SurgicalStep::Baseline => tl.baseline,
                    SurgicalStep::DuraOpened => tl.dura_opened,
                    SurgicalStep::ArachnoidDissection => tl.arachnoid,
                    SurgicalStep::VesselIdentified => tl.vessel,
                    SurgicalStep::PadPlaced => tl.pad,
                    SurgicalStep::SecondVessel => tl.second_vessel,
                    SurgicalStep::DuraClosed => tl.dura_closed,
                },
                label: s.label().to_string(),
            })
            .collect();

        // Case-level events shared by every channel (drawn for every scenario, so the
        // stream stays aligned whatever the scenario).
        let return_at = tl.pad + case.range(0.25, 0.5) * (tl.dura_closed - tl.pad);
        let return_len = case.range(5.0, 60.0).min(0.08 * d).max(5.0);
        let slip_at = tl.pad + case.range(0.3, 0.6) * (tl.dura_closed - tl.pad);
        let slip_ramp = case.range(10.0, 30.0).min(0.05 * d);
        let bolus_at = tl.dura_opened + case.range(0.05, 0.25) * (tl.vessel - tl.dura_opened);
        let block_down = case.range(10.0, 20.0).min(0.03 * d);
        let block_hold = case.range(120.0, 300.0).min(0.15 * d);
        let block_up = case.range(20.0, 40.0).min(0.06 * d);
        let gradual_frac = case.range(0.1, 0.3);

        let direct = if scenario == Scenario::Relaxant {
            markers.push(Marker {
                time_s: bolus_at,
                label: "relaxant given".into(),
            });
            let t1 = bolus_at + block_down;
            let t2 = t1 + block_hold;
            Envelope::from_points(vec![
                (bolus_at, 1.0),
                (t1, 0.0),
                (t2, 0.0),
                (t2 + block_up, 1.0),
            ])
        } else {
            Envelope::constant(1.0)
        };
        if scenario == Scenario::TransientReturn {
            markers.push(Marker {
                time_s: return_at,
                label: "nerve manipulated".into(),
            });
        }

        let mut lsr = Vec::new();
        let mut fluctuation = Vec::new();
        for &slot in lsr_slots {
            let mut r = Rng::stream(seed, &[CHANNEL_STREAM, slot]);
            // Fixed draws per channel, whatever the scenario.
            let k_pad = r.int(1, 3);
            let k_second = r.int(1, 3);
            let level_a = r.uniform();
            let level_b = r.uniform();
            let when = r.uniform();
            let ramp = r.uniform();
            let shape = r.range(0.7, 1.5);
            let wiggle: [f64; 4] = [
                r.range(0.8, 1.2),
                r.range(0.8, 1.2),
                r.range(0.8, 1.2),
                r.range(0.8, 1.2),
            ];
            let len_factor = r.range(0.85, 1.0);

            let gone_after_pad = sweep_after(stim_times, tl.pad, k_pad);
            let abrupt = vec![(0.0, 1.0), (gone_after_pad, 1.0), (gone_after_pad, 0.0)];
            let mut fl = None;
            let points = match scenario {
                Scenario::Abrupt | Scenario::Relaxant => abrupt,
                Scenario::Gradual => {
                    // 1-10 min (less in a short case), a little different per channel.
                    let len = (gradual_frac * len_factor * d)
                        .clamp(60.0, 600.0)
                        .min(0.35 * d);
                    let mut p = vec![(0.0, 1.0), (tl.pad, 1.0)];
                    for (j, w) in wiggle.iter().enumerate() {
                        let x = (j as f64 + 1.0) / 5.0;
                        p.push((tl.pad + x * len, ((1.0 - x).powf(shape) * w).min(1.2)));
                    }
                    p.push((tl.pad + len, 0.0));
                    fl = Some(Fluctuation {
                        from: tl.pad,
                        to: tl.pad + len,
                        amount: 0.5,
                    });
                    p
                }
                Scenario::Early => {
                    // The first LSR channel goes at dural opening, the others at arachnoid
                    // dissection; each fades over a few seconds.
                    let (a, b) = if fluctuation.is_empty() {
                        (tl.dura_opened, tl.arachnoid)
                    } else {
                        (tl.arachnoid, tl.vessel)
                    };
                    let start = a + 0.5 * when * (b - a);
                    let len = (3.0 + 12.0 * ramp).min(0.04 * d);
                    vec![(0.0, 1.0), (start, 1.0), (start + len, 0.0)]
                }
                Scenario::Partial => {
                    let to = 0.3 + 0.2 * level_a;
                    let len = (5.0 + 55.0 * ramp).min(0.05 * d);
                    vec![(0.0, 1.0), (tl.pad, 1.0), (tl.pad + len, to)]
                }
                Scenario::Persistent => {
                    let to = 0.75 + 0.35 * level_a;
                    let len = (10.0 + 50.0 * ramp).min(0.05 * d);
                    vec![(0.0, 1.0), (tl.pad, 1.0), (tl.pad + len, to)]
                }
                Scenario::TransientReturn => {
                    let lvl = 0.5 + 0.5 * level_a;
                    let edge = 1.0_f64.min(return_len / 4.0);
                    let mut p = abrupt;
                    p.extend([
                        (return_at, 0.0),
                        (return_at + edge, lvl),
                        (return_at + return_len - edge, lvl),
                        (return_at + return_len, 0.0),
                    ]);
                    p
                }
                Scenario::LastingReturn => {
                    let lvl = 0.6 + 0.4 * level_a;
                    let mut p = abrupt;
                    p.extend([(slip_at, 0.0), (slip_at + slip_ramp, lvl)]);
                    p
                }
                Scenario::TwoVessels => {
                    let half = 0.4 + 0.2 * level_b;
                    let gone = sweep_after(stim_times, tl.second_vessel, k_second);
                    vec![
                        (0.0, 1.0),
                        (gone_after_pad, 1.0),
                        (gone_after_pad, half),
                        (gone, half),
                        (gone, 0.0),
                    ]
                }
                Scenario::NoBaseline => vec![(0.0, 0.0)],
            };
            lsr.push(Envelope::from_points(points));
            fluctuation.push(fl);
        }
        markers.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        Self {
            timeline: tl,
            lsr,
            fluctuation,
            direct,
            markers,
        }
    }

    /// The LSR level of LSR channel `k` at time `t` (before per-sweep variability), already
    /// including any neuromuscular blockade.
    pub(crate) fn lsr_level(&self, k: usize, t: f64) -> f64 {
        let own = self.lsr.get(k).map_or(0.0, |e| e.level(t));
        own * self.direct.level(t)
    }

    /// The per-sweep swing factor for LSR channel `k` at `t`, given a uniform draw `u`.
    pub(crate) fn swing(&self, k: usize, t: f64, u: f64) -> f64 {
        match self.fluctuation.get(k).copied().flatten() {
            Some(f) if t >= f.from && t < f.to => 1.0 + f.amount * (2.0 * u - 1.0),
            _ => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{ChangeKind, SimConfig, SimPatient, SimRole, Truth};

    fn stims(d: f64) -> Vec<f64> {
        (0..(d as usize)).map(|i| 0.5 + i as f64).collect()
    }

    #[test]
    fn names_round_trip_and_bad_names_list_the_choices() {
        for s in Scenario::ALL {
            assert_eq!(s.to_string().parse::<Scenario>().unwrap(), s);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.name()));
        }
        assert_eq!(
            "Two_Vessels".parse::<Scenario>().unwrap(),
            Scenario::TwoVessels
        );
        let e = "sudden".parse::<Scenario>().unwrap_err();
        assert!(e.contains("abrupt") && e.contains("relaxant"), "{e}");
    }

    #[test]
    fn envelope_steps_and_ramps() {
        let e = Envelope::from_points(vec![
            (0.0, 1.0),
            (10.0, 1.0),
            (10.0, 0.0),
            (20.0, 0.0),
            (30.0, 1.0),
        ]);
        assert_eq!(e.level(-1.0), 1.0);
        assert_eq!(e.level(9.999), 1.0);
        assert_eq!(e.level(10.0), 0.0);
        assert_eq!(e.level(15.0), 0.0);
        assert!((e.level(25.0) - 0.5).abs() < 1e-12);
        assert_eq!(e.level(99.0), 1.0);
    }

    #[test]
    fn markers_follow_the_surgical_order_at_any_length() {
        for d in [60.0, 120.0, 600.0, 14_400.0] {
            for s in Scenario::ALL {
                let c = Course::new(s, d, &stims(d), &[1, 2], 3);
                assert!(c.markers.windows(2).all(|w| w[0].time_s <= w[1].time_s));
                let labels: Vec<&str> = c.markers.iter().map(|m| m.label.as_str()).collect();
                let pos = |l: &str| labels.iter().position(|x| *x == l).unwrap();
                assert!(pos("baseline") < pos("dura opened"));
                assert!(pos("dura opened") < pos("arachnoid dissection"));
                assert!(pos("arachnoid dissection") < pos("vessel identified"));
                assert!(pos("vessel identified") < pos("pad placed"));
                assert!(pos("pad placed") < pos("dura closed"));
                assert_eq!(labels.contains(&"second vessel"), s == Scenario::TwoVessels);
                assert!(c.markers.iter().all(|m| m.time_s > 0.0 && m.time_s < d));
                // The baseline period is at least 15 % of the case.
                assert!(c.timeline.dura_opened - c.timeline.baseline >= 0.15 * d);
            }
        }
    }

    #[test]
    fn relaxant_block_is_over_before_the_pad() {
        for seed in 0..20 {
            for d in [60.0, 600.0, 14_400.0] {
                let c = Course::new(Scenario::Relaxant, d, &stims(d), &[1], seed);
                let tl = c.timeline;
                assert_eq!(c.direct.level(tl.dura_opened - 0.01), 1.0);
                assert_eq!(c.direct.level(tl.pad), 1.0);
                let blocked = (0..1000).any(|i| {
                    c.direct
                        .level(tl.dura_opened + i as f64 * (tl.pad - tl.dura_opened) / 1000.0)
                        == 0.0
                });
                assert!(blocked, "seed {seed}, d {d}");
            }
        }
    }

    // The course as the ground truth reports it, scenario by scenario.

    fn truth(scenario: Scenario, seed: u64, duration: f64) -> Truth {
        SimPatient::new(SimConfig::quiet(scenario, seed, 5000.0, duration))
            .unwrap()
            .truth()
            .clone()
    }

    fn amps(t: &Truth, c: usize) -> Vec<f32> {
        (0..t.stimuli.len())
            .map(|i| t.sweep(i, c).unwrap().lsr_p2p_uv)
            .collect()
    }

    fn median(mut v: Vec<f32>) -> f32 {
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    }

    /// Median amplitude of the sweeps in [a, b) seconds.
    fn median_between(t: &Truth, c: usize, a: f64, b: f64) -> f32 {
        median(
            t.stimuli
                .iter()
                .filter(|s| s.time_s >= a && s.time_s < b)
                .map(|s| t.sweep(s.index as usize, c).unwrap().lsr_p2p_uv)
                .collect(),
        )
    }

    fn kinds(t: &Truth, c: usize) -> Vec<ChangeKind> {
        t.changes_of(c).iter().map(|x| x.kind).collect()
    }

    const SEEDS: std::ops::Range<u64> = 0..6;

    #[test]
    fn every_scenario_has_an_lsr_at_baseline_except_no_baseline() {
        for s in Scenario::ALL {
            for d in [90.0, 600.0] {
                let t = truth(s, 1, d);
                let (b, o) = (
                    t.marker_time("baseline").unwrap(),
                    t.marker_time("dura opened").unwrap(),
                );
                let n = t
                    .stimuli
                    .iter()
                    .filter(|x| x.time_s >= b && x.time_s < o)
                    .count();
                assert!(n >= 10, "{s} {d} s: {n} baseline sweeps");
                for &c in &t.lsr_channels {
                    assert_eq!(
                        t.channels[c].baseline_present,
                        s != Scenario::NoBaseline,
                        "{s}"
                    );
                }
                assert!(t
                    .channels
                    .iter()
                    .filter(|c| c.role != SimRole::Lsr)
                    .all(|c| !c.baseline_present));
            }
        }
    }

    #[test]
    fn abrupt_is_gone_within_three_sweeps_of_the_pad() {
        for seed in SEEDS {
            let t = truth(Scenario::Abrupt, seed, 300.0);
            let ip = t
                .first_stimulus_after(t.marker_time("pad placed").unwrap())
                .unwrap();
            for &c in &t.lsr_channels {
                let a = amps(&t, c);
                assert!(a[..ip].iter().all(|&x| x > 0.0));
                assert!(a[ip + 2..].iter().all(|&x| x == 0.0), "seed {seed} ch {c}");
                let d = t.final_disappearance(c).unwrap();
                assert!((ip..=ip + 2).contains(&(d.stim_index as usize)));
                assert_eq!(kinds(&t, c), [ChangeKind::Disappeared]);
            }
        }
    }

    #[test]
    fn gradual_fades_with_swings_over_minutes() {
        for seed in SEEDS {
            let t = truth(Scenario::Gradual, seed, 600.0);
            let pad = t.marker_time("pad placed").unwrap();
            for &c in &t.lsr_channels {
                let d = t.final_disappearance(c).unwrap();
                let len = d.time_s - pad;
                assert!(
                    (59.0..=0.35 * 600.0 + 1.0).contains(&len),
                    "seed {seed}: decline over {len} s"
                );
                assert_eq!(kinds(&t, c), [ChangeKind::Disappeared]);
                // Fluctuating: during the decline some sweep is at least 1.3 x the one before.
                let ip = t.first_stimulus_after(pad).unwrap();
                let a = amps(&t, c);
                let decline = &a[ip..d.stim_index as usize];
                assert!(decline.windows(2).any(|w| w[1] > 1.3 * w[0]), "seed {seed}");
                // And it declines: the last quarter is well below the first.
                let q = decline.len() / 4;
                assert!(median(decline[3 * q..].to_vec()) < 0.6 * median(decline[..q].to_vec()));
            }
        }
    }

    #[test]
    fn early_disappears_before_decompression() {
        for seed in SEEDS {
            let t = truth(Scenario::Early, seed, 600.0);
            let opened = t.marker_time("dura opened").unwrap();
            let vessel = t.marker_time("vessel identified").unwrap();
            for &c in &t.lsr_channels {
                let d = t.final_disappearance(c).unwrap();
                assert!(
                    d.time_s > opened && d.time_s < vessel,
                    "seed {seed}: {}",
                    d.time_s
                );
                assert_eq!(kinds(&t, c), [ChangeKind::Disappeared]);
            }
        }
    }

    #[test]
    fn partial_drops_to_a_third_or_a_half_and_never_to_zero() {
        for seed in SEEDS {
            let t = truth(Scenario::Partial, seed, 600.0);
            let pad = t.marker_time("pad placed").unwrap();
            for &c in &t.lsr_channels {
                assert!(amps(&t, c).iter().all(|&x| x > 0.0));
                assert!(t.changes_of(c).is_empty());
                let before = median_between(&t, c, 0.0, t.marker_time("dura opened").unwrap());
                let after = median_between(&t, c, pad + 60.0, 600.0);
                let r = after / before;
                assert!((0.2..0.65).contains(&r), "seed {seed}: ratio {r}");
            }
        }
    }

    #[test]
    fn persistent_never_disappears_and_no_baseline_never_appears() {
        for seed in SEEDS {
            let t = truth(Scenario::Persistent, seed, 300.0);
            for &c in &t.lsr_channels {
                assert!(amps(&t, c).iter().all(|&x| x > 0.0));
                assert!(t.final_disappearance(c).is_none());
            }
            let t = truth(Scenario::NoBaseline, seed, 300.0);
            for &c in &t.lsr_channels {
                assert!(amps(&t, c).iter().all(|&x| x == 0.0));
                assert!(t.sweep(5, c).unwrap().onset_ms.is_nan());
            }
            assert!(t.changes.is_empty());
        }
    }

    #[test]
    fn transient_return_comes_back_briefly_lasting_return_for_good() {
        for seed in SEEDS {
            let t = truth(Scenario::TransientReturn, seed, 600.0);
            let manip = t.marker_time("nerve manipulated").unwrap();
            for &c in &t.lsr_channels {
                let ch = t.changes_of(c);
                assert_eq!(
                    kinds(&t, c),
                    [
                        ChangeKind::Disappeared,
                        ChangeKind::Returned,
                        ChangeKind::Disappeared
                    ]
                );
                let back = ch[2].time_s - ch[1].time_s;
                assert!(
                    (3.0..=61.0).contains(&back),
                    "seed {seed}: back for {back} s"
                );
                assert!((ch[1].time_s - manip).abs() < 3.0);
                assert!(t.final_disappearance(c).is_some());
            }
            let t = truth(Scenario::LastingReturn, seed, 600.0);
            for &c in &t.lsr_channels {
                assert_eq!(
                    kinds(&t, c),
                    [ChangeKind::Disappeared, ChangeKind::Returned]
                );
                assert!(*amps(&t, c).last().unwrap() > 0.0);
                assert!(t.final_disappearance(c).is_none());
            }
        }
    }

    #[test]
    fn two_vessels_halves_then_goes_after_the_second() {
        for seed in SEEDS {
            let t = truth(Scenario::TwoVessels, seed, 600.0);
            let pad = t.marker_time("pad placed").unwrap();
            let second = t.marker_time("second vessel").unwrap();
            for &c in &t.lsr_channels {
                let before = median_between(&t, c, 0.0, t.marker_time("dura opened").unwrap());
                let between = median_between(&t, c, pad + 5.0, second);
                assert!(
                    (0.3..0.75).contains(&(between / before)),
                    "seed {seed}: {}",
                    between / before
                );
                let d = t.final_disappearance(c).unwrap();
                let i2 = t.first_stimulus_after(second).unwrap();
                assert!((i2..=i2 + 2).contains(&(d.stim_index as usize)));
            }
        }
    }

    #[test]
    fn relaxant_abolishes_both_responses_then_both_recover() {
        for seed in SEEDS {
            let t = truth(Scenario::Relaxant, seed, 600.0);
            let given = t.marker_time("relaxant given").unwrap();
            let pad = t.marker_time("pad placed").unwrap();
            let block = t.blockade.unwrap();
            assert!(block.start_s > given && block.end_s < pad);
            let base = median(
                t.stimuli
                    .iter()
                    .filter(|s| s.time_s < given)
                    .map(|s| s.direct_p2p_uv)
                    .collect(),
            );
            for s in &t.stimuli {
                if s.direct_abolished {
                    assert!(s.direct_p2p_uv < 0.25 * base);
                    for &c in &t.lsr_channels {
                        assert!(t.sweep(s.index as usize, c).unwrap().direct_abolished);
                    }
                }
            }
            assert!(t.stimuli.iter().filter(|s| s.direct_abolished).count() >= 10);
            // Recovered before the pad: direct response back to the patient's own.
            let i = t.first_stimulus_after(pad).unwrap() - 1;
            assert!(t.stimuli[i].direct_p2p_uv > 0.8 * base);
            for &c in &t.lsr_channels {
                let ch = t.changes_of(c);
                assert_eq!(
                    kinds(&t, c),
                    [
                        ChangeKind::Disappeared,
                        ChangeKind::Returned,
                        ChangeKind::Disappeared
                    ]
                );
                // The first "disappearance" is blockade: the direct response went too.
                assert!(ch[0].time_s > given && ch[0].time_s < block.end_s);
                assert!(t.stimuli[ch[0].stim_index as usize].direct_p2p_uv < 0.5 * base);
                assert!(ch[0].direct_abolished);
                // It comes back while the block wears off (the muscle answers again).
                assert!(
                    ch[1].time_s > ch[0].time_s
                        && ch[1].time_s <= block.end_s + 1.5
                        && ch[1].time_s < pad
                );
                let d = t.final_disappearance(c).unwrap();
                assert!(d.time_s >= pad && !d.direct_abolished);
            }
        }
    }
}
