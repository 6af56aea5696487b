//! Headless output: one line per sweep, every baseline and state change, surgical markers as
//! the stream reaches them, and a closing summary. Used when there is no terminal for the
//! dashboard (piped output, CI) and by `replay --headless`.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::analysis::Collector;
use crate::detect::verdict::{Now, Verdict, VerdictBook, VerdictKind};
use crate::detect::{EngineCounters, EngineEvent, REJECT_REASONS};
use crate::model::{Marker, MonitorState, SweepStatus};

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SS+00:00` (days to civil date: H. Hinnant).
pub fn utc_iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Formats seconds as `h:mm:ss.s` (case time, as on a monitor).
pub fn clock(t: f64) -> String {
    let t = t.max(0.0);
    let h = (t / 3600.0).floor();
    let m = ((t - h * 3600.0) / 60.0).floor();
    let s = t - h * 3600.0 - m * 60.0;
    format!("{}:{:02}:{:04.1}", h as u64, m as u64, s)
}

/// "4.0 min after \"pad placed\"" relative to the last marker at or before `t`.
pub fn after_marker(markers: &[Marker], t: f64) -> Option<String> {
    let m = markers.iter().rev().find(|m| m.time_s <= t)?;
    let d = t - m.time_s;
    let when = if d < 90.0 {
        format!("{d:.0} s")
    } else {
        format!("{:.1} min", d / 60.0)
    };
    Some(format!("{when} after \"{}\"", m.label))
}

/// Writes the headless report.
pub struct Reporter {
    labels: Vec<String>,
    markers: Vec<Marker>,
    next_marker: usize,
    /// Print every sweep (otherwise only baselines, changes and markers).
    pub sweeps: bool,
    /// The channels' verdicts (the library's), and whether each was last said to be
    /// "cannot judge".
    verdicts: VerdictBook,
    cannot_judge: BTreeMap<usize, bool>,
}

impl Reporter {
    pub fn new(labels: Vec<String>, mut markers: Vec<Marker>, sweeps: bool) -> Self {
        markers.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        Self {
            labels,
            markers,
            next_marker: 0,
            sweeps,
            verdicts: VerdictBook::default(),
            cannot_judge: BTreeMap::new(),
        }
    }

    /// Adds a marker taken live (it is printed at once).
    pub fn live_marker(&mut self, w: &mut dyn Write, m: Marker) -> io::Result<()> {
        writeln!(w, "### {}  marker: {}", clock(m.time_s), m.label)?;
        let pos = self.markers.partition_point(|x| x.time_s <= m.time_s);
        self.markers.insert(pos, m);
        if pos < self.next_marker {
            self.next_marker += 1;
        } else {
            self.next_marker = self.next_marker.max(pos + 1);
        }
        Ok(())
    }

    fn markers_until(&mut self, w: &mut dyn Write, t: f64) -> io::Result<()> {
        while let Some(m) = self.markers.get(self.next_marker) {
            if m.time_s > t {
                break;
            }
            writeln!(w, "### {}  marker: {}", clock(m.time_s), m.label)?;
            self.next_marker += 1;
        }
        Ok(())
    }

    fn label(&self, ch: usize) -> &str {
        self.labels.get(ch).map(String::as_str).unwrap_or("?")
    }

    /// Says when a channel's verdict turns to "cannot judge" and when it can be judged again.
    fn verdict_change(&mut self, w: &mut dyn Write, ch: usize, now: Now) -> io::Result<()> {
        let Some(v) = self.verdicts.verdict(ch, now) else {
            return Ok(());
        };
        let cannot = v.kind() == VerdictKind::CannotJudge;
        let was = self.cannot_judge.insert(ch, cannot).unwrap_or(false);
        match (&v, was) {
            (Verdict::CannotJudge { why, .. }, false) => writeln!(
                w,
                "!!! {}  {}: CANNOT JUDGE: {}",
                clock(now.stream_s),
                self.label(ch),
                why.sentence()
            ),
            (v, true) if !cannot => writeln!(
                w,
                "--- {}  {}: can be judged again ({})",
                clock(now.stream_s),
                self.label(ch),
                v.kind().words()
            ),
            _ => Ok(()),
        }
    }

    /// Signal has been processed up to `stream_s` (seconds): says which channels have had no
    /// stimulus for too long. The live run loop calls it a few times a second.
    pub fn tick(&mut self, w: &mut dyn Write, stream_s: f64) -> io::Result<()> {
        let channels: Vec<usize> = self.verdicts.channels().collect();
        for ch in channels {
            let now = Now {
                stream_s,
                ended: false,
                source_failed: false,
            };
            self.verdict_change(w, ch, now)?;
        }
        Ok(())
    }

    pub fn event(&mut self, w: &mut dyn Write, e: &EngineEvent) -> io::Result<()> {
        self.event_lines(w, e)?;
        if let (Some(ch), EngineEvent::Sweep(r)) = (self.verdicts.apply(e), e) {
            self.verdict_change(w, ch, Now::at_sweep(r.stim_time_s))?;
        }
        Ok(())
    }

    fn event_lines(&mut self, w: &mut dyn Write, e: &EngineEvent) -> io::Result<()> {
        match e {
            EngineEvent::Stimulus(s) => {
                let _ = s;
            }
            EngineEvent::Sweep(r) => {
                self.markers_until(w, r.stim_time_s)?;
                if self.sweeps {
                    let what = match (r.status, r.reject_reason) {
                        (SweepStatus::Rejected, Some(reason)) => {
                            format!("rejected ({})", reason.describe())
                        }
                        (s, _) => s.as_str().to_string(),
                    };
                    let onset = r
                        .lsr_onset_ms
                        .map(|o| format!("onset {o:5.2} ms"))
                        .unwrap_or_else(|| "onset    -    ".into());
                    writeln!(
                        w,
                        "{:>10}  {:<18} {:<30} {:7.1} uV  {}  noise {:5.1} uV p2p",
                        clock(r.stim_time_s),
                        self.label(r.channel),
                        what,
                        r.lsr_p2p_uv,
                        onset,
                        r.noise_p2p_uv
                    )?;
                }
            }
            EngineEvent::Baseline(b) => {
                if b.present {
                    writeln!(
                        w,
                        "--- {}  {}: baseline LSR present, {:.0} uV p2p, onset {:.1} ms",
                        clock(b.established_at_s),
                        self.label(b.channel),
                        b.p2p_uv,
                        b.onset_ms
                    )?;
                } else {
                    writeln!(
                        w,
                        "--- {}  {}: NO LSR AT BASELINE (nothing can disappear on this channel)",
                        clock(b.established_at_s),
                        self.label(b.channel)
                    )?;
                }
            }
            EngineEvent::State(s) => {
                let words = match s.state {
                    MonitorState::Absent => "LSR ABSENT",
                    MonitorState::Present => "LSR PRESENT",
                    MonitorState::NoBaseline => "NO LSR AT BASELINE",
                    MonitorState::Appeared => "LSR APPEARED (none at baseline)",
                    MonitorState::Baseline => "BASELINE",
                };
                let ctx = after_marker(&self.markers, s.time_s)
                    .map(|a| format!(" ({a})"))
                    .unwrap_or_default();
                writeln!(
                    w,
                    "*** {}  {}: {} since {}{}",
                    clock(s.declared_at_s),
                    self.label(s.channel),
                    words,
                    clock(s.time_s),
                    ctx
                )?;
            }
            EngineEvent::Mains(hz) => match hz {
                Some(h) => writeln!(w, "--- mains {h:.0} Hz found and removed")?,
                None => writeln!(w, "--- no mains interference found")?,
            },
        }
        Ok(())
    }

    /// The closing summary.
    pub fn summary(
        &mut self,
        w: &mut dyn Write,
        collector: &Collector,
        counters: &EngineCounters,
        end_s: f64,
    ) -> io::Result<()> {
        self.markers_until(w, end_s)?;
        writeln!(w)?;
        writeln!(
            w,
            "Summary ({} of signal, {} stimuli)",
            clock(end_s),
            counters.stimuli
        )?;
        for c in collector.channel_summaries() {
            let baseline = match (c.baseline_present, c.baseline_p2p_uv) {
                (Some(true), Some(p)) => format!(
                    "baseline {:.0} uV, onset {}",
                    p,
                    c.baseline_onset_ms
                        .map(|o| format!("{o:.1} ms"))
                        .unwrap_or("-".into())
                ),
                (Some(false), _) => "no LSR at baseline".into(),
                _ => "baseline not complete".into(),
            };
            let gone = match (c.first_disappeared_at_s, c.declared_at_s) {
                (Some(t), Some(d)) => format!(
                    "; disappeared at {} (declared {}{})",
                    clock(t),
                    clock(d),
                    after_marker(&self.markers, t)
                        .map(|a| format!(", {a}"))
                        .unwrap_or_default()
                ),
                _ => String::new(),
            };
            let verdict = match &c.verdict_reason {
                Some(why) => format!("CANNOT JUDGE ({why}; {})", c.final_state),
                None => c.verdict.to_uppercase(),
            };
            writeln!(
                w,
                "  {:<18} final {:<12} {}{}; sweeps {} present, {} absent, {} rejected",
                c.channel,
                verdict,
                baseline,
                gone,
                c.sweeps_present,
                c.sweeps_absent,
                c.sweeps_rejected
            )?;
        }
        let rejected: Vec<String> = REJECT_REASONS
            .iter()
            .zip(counters.rejected_by_reason)
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{} {}", n, r.as_str()))
            .collect();
        if !rejected.is_empty() {
            writeln!(w, "  rejected sweeps: {}", rejected.join(", "))?;
        }
        if counters.lost_frames > 0 || counters.stimuli_dropped > 0 {
            writeln!(
                w,
                "  lost: {} frames in {} gaps, {} stimuli dropped",
                counters.lost_frames, counters.gaps, counters.stimuli_dropped
            )?;
        }
        writeln!(
            w,
            "  lsrmon is a research and teaching tool, not a medical device."
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_marker_context() {
        assert_eq!(clock(3725.25), "1:02:05.2");
        let m = vec![
            Marker {
                time_s: 100.0,
                label: "dura opened".into(),
            },
            Marker {
                time_s: 360.0,
                label: "pad placed".into(),
            },
        ];
        assert_eq!(
            after_marker(&m, 600.0).unwrap(),
            "4.0 min after \"pad placed\""
        );
        assert_eq!(
            after_marker(&m, 130.0).unwrap(),
            "30 s after \"dura opened\""
        );
        assert_eq!(after_marker(&m, 50.0), None);
    }
}
