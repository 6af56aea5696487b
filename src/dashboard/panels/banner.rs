//! The verdict banners: one bold, full-width, coloured block per LSR channel, the first thing
//! the surgeon reads. The words carry the whole message (the colour repeats it): `LSR
//! PRESENT`, `LSR ABSENT since 0:02:31.0 (1 s after "pad placed")`, `NO LSR AT BASELINE`,
//! `BASELINE (3/10)`, `CANNOT JUDGE: electrocautery`, with the percentage of the baseline
//! amplitude. With room (5 rows per channel) the state word is also drawn in big letters.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;

use super::super::state::{CannotJudgeWhy, DashboardState, Verdict, VerdictKind};
use super::super::theme;
use super::bigtext;
use crate::model::{Marker, MonitorState};
use crate::report::{after_marker, clock};

/// The state in a few words, as drawn in big letters.
pub fn big_word(v: &Verdict) -> &'static str {
    match v {
        Verdict::Collecting { .. } => "BASELINE",
        Verdict::Present { .. } => "LSR PRESENT",
        Verdict::Appeared { .. } => "LSR APPEARED",
        Verdict::Absent { .. } => "LSR ABSENT",
        Verdict::NoBaseline => "NO LSR",
        Verdict::CannotJudge { .. } => "CANNOT JUDGE",
    }
}

fn percent(p: Option<f32>) -> Option<String> {
    p.filter(|p| p.is_finite())
        .map(|p| format!("{p:.0}% of baseline"))
}

fn state_words(s: MonitorState) -> &'static str {
    match s {
        MonitorState::Baseline => "baseline",
        MonitorState::Present => "LSR present",
        MonitorState::Absent => "LSR absent",
        MonitorState::NoBaseline => "no LSR at baseline",
        MonitorState::Appeared => "LSR appeared (none at baseline)",
    }
}

/// The whole verdict in one line of words (the banner's main line); `of` is how many sweeps
/// a baseline takes.
pub fn line(v: &Verdict, markers: &[Marker], ended: bool, of: u32) -> String {
    let mut parts: Vec<String> = Vec::new();
    match v {
        Verdict::Collecting { judged, requested } => {
            parts.push(format!("BASELINE ({}/{of})", (*judged).min(of)));
            parts.push(if *requested {
                "re-baseline asked for, waiting for the next sweeps".into()
            } else {
                "collecting the patient's baseline".into()
            });
        }
        Verdict::Present {
            since_s,
            percent: p,
        }
        | Verdict::Appeared {
            since_s,
            percent: p,
        } => {
            let mut head = big_word(v).to_string();
            if let Some(t) = since_s {
                head.push_str(&format!(" since {}", clock(*t)));
            }
            parts.push(head);
            if v.kind() == VerdictKind::Appeared {
                parts.push("none at baseline: not a return".into());
            }
            parts.extend(percent(*p));
        }
        Verdict::Absent {
            since_s,
            declared_at_s,
            percent: p,
        } => {
            let mut head = "LSR ABSENT".to_string();
            if let Some(t) = since_s {
                head.push_str(&format!(" since {}", clock(*t)));
                if let Some(a) = after_marker(markers, *t) {
                    head.push_str(&format!(" ({a})"));
                }
            }
            parts.push(head);
            parts.extend(percent(*p));
            if let Some(d) = declared_at_s {
                parts.push(format!("declared {}", clock(*d)));
            }
        }
        Verdict::NoBaseline => {
            parts.push("NO LSR AT BASELINE".into());
            parts.push("nothing can disappear on this channel".into());
        }
        Verdict::CannotJudge {
            why,
            underneath,
            percent: p,
        } => {
            parts.push(format!("CANNOT JUDGE: {}", why.words()));
            match why {
                CannotJudgeWhy::Rejected { count, .. } => {
                    parts.push(format!("last {count} sweeps rejected"));
                }
                CannotJudgeWhy::NoStimuli { .. } => parts.push("check the stimulator".into()),
                CannotJudgeWhy::SourceFailed => {}
            }
            let mut before = format!("before: {}", state_words(*underneath));
            if let Some(p) = percent(*p) {
                before.push_str(&format!(", {p}"));
            }
            parts.push(before);
        }
    }
    if ended {
        parts.push("stream ended".into());
    }
    parts.join(" · ")
}

/// Rows one banner takes, given the rows available for `n` banners.
pub fn rows_per_banner(total_height: u16, n: usize) -> u16 {
    let n = n.max(1) as u16;
    if total_height >= 40 && n * 5 <= total_height * 2 / 5 {
        5
    } else if total_height >= 30 && n * 2 <= total_height / 4 {
        2
    } else {
        1
    }
}

/// Draws the banner of channel `i` into `area`.
pub fn render(st: &DashboardState, i: usize, area: Rect, buf: &mut Buffer) {
    let (Some(c), Some(v)) = (st.channels.get(i), st.verdict(i)) else {
        return;
    };
    if area.height == 0 || area.width == 0 {
        return;
    }
    let style = theme::banner(v.kind());
    buf.set_style(area, style);
    let sel = if i == st.selected && st.channels.len() > 1 {
        "▶ "
    } else {
        "  "
    };
    let label = format!("{sel}{}", c.label);
    let text = line(&v, &st.markers, st.ended.is_some(), st.baseline_sweeps);
    let w = area.width as usize;
    let main = style.add_modifier(Modifier::BOLD);
    let quiet = style.remove_modifier(Modifier::BOLD);
    if area.height == 1 {
        let s = format!("{label}: {text}");
        buf.set_stringn(area.x, area.y, &s, w, main);
        return;
    }
    let extra = baseline_words(st, i);
    let big = bigtext::width(big_word(&v));
    let label_w = label.chars().count() as u16 + 2;
    // Big letters under the label, at the same column in every banner.
    let big_fits = area.height >= 5 && big + 4 <= area.width;
    buf.set_stringn(area.x, area.y, &label, w, main);
    if let Some(e) = &extra {
        let ew = e.chars().count() as u16;
        if label_w + ew + 2 <= area.width {
            buf.set_stringn(area.x + area.width - ew - 1, area.y, e, w, quiet);
        }
    }
    if big_fits {
        let r = Rect::new(area.x + 2, area.y + 1, area.width - 2, bigtext::HEIGHT);
        bigtext::render(big_word(&v), r, buf, main);
        buf.set_stringn(area.x + 2, area.y + 4, &text, w.saturating_sub(2), main);
    } else {
        buf.set_stringn(area.x + 2, area.y + 1, &text, w.saturating_sub(2), main);
    }
}

/// "baseline 237 uV, onset 9.5 ms" once the channel has a baseline.
fn baseline_words(st: &DashboardState, i: usize) -> Option<String> {
    let b = st.channels.get(i)?.baseline?;
    Some(if b.present {
        format!("baseline {:.0} µV, onset {:.1} ms", b.p2p_uv, b.onset_ms)
    } else {
        "no LSR in the baseline sweeps".to_string()
    })
}
