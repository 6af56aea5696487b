//! The sweep cascade: the last sweeps of one channel stacked, newest on top, each with its
//! time and its own verdict in words, so a response that fades (or comes back) over a few
//! sweeps is seen at a glance. The LSR window is shaded behind the traces.
//!
//! Each sweep gets its own strip (one or two text rows, braille: 4 or 8 dots high) and is
//! clipped to it; the scale is the sweep chart's, two divisions either side of zero.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker as Dots;
use ratatui::text::Span;
use ratatui::widgets::canvas::{Canvas, Line as CLine};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::super::state::DashboardState;
use super::super::theme;
use crate::model::{SweepResult, SweepStatus};
use crate::report::clock;

/// Divisions either side of zero in one strip.
const STRIP_DIVISIONS: f32 = 2.0;

/// Short verdict of one sweep for the strip label.
pub fn short_status(r: &SweepResult) -> &'static str {
    match (r.status, r.reject_reason) {
        (SweepStatus::Present, _) => "present",
        (SweepStatus::Absent, _) => "absent",
        (SweepStatus::Rejected, Some(reason)) => match reason {
            crate::model::RejectReason::Electrocautery => "cautery",
            crate::model::RejectReason::Saturation => "saturated",
            crate::model::RejectReason::LostSamples => "lost",
            crate::model::RejectReason::NoDirectResponse => "no direct",
            crate::model::RejectReason::SpontaneousActivity => "spont.",
            crate::model::RejectReason::Equivocal => "equivocal",
            crate::model::RejectReason::Incomplete => "truncated",
        },
        (SweepStatus::Rejected, None) => "rejected",
    }
}

/// Draws the cascade of channel `i`.
pub fn render(st: &DashboardState, i: usize, area: Rect, buf: &mut Buffer) {
    let Some(c) = st.channels.get(i) else {
        return;
    };
    let Some(d) = st.display_sweeps(i) else {
        return;
    };
    let mut title = format!(" cascade · {} · newest on top ", c.label);
    if st.frozen.is_some() {
        title.push_str("· FROZEN ");
    }
    let block = Block::bordered().title(Span::styled(title, theme::title()));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width < 12 {
        return;
    }
    if d.cascade.is_empty() {
        Paragraph::new("no sweeps yet").render(inner, buf);
        return;
    }
    let rows_per: u16 = if inner.height >= 16 { 2 } else { 1 };
    let n = (inner.height / rows_per) as usize;
    let label_w: u16 = if inner.width >= 44 { 20 } else { 11 };
    let half = (STRIP_DIVISIONS * st.uv_per_div()) as f64;
    let [a, b] = st.display_ms;
    let [w0, w1] = st.lsr_window_ms;
    for (k, r) in d.cascade.iter().rev().take(n).enumerate() {
        let y = inner.y + k as u16 * rows_per;
        let color = theme::sweep_color(r.status);
        let time = clock(r.stim_time_s);
        let st_word = short_status(r);
        let style = Style::default().fg(color);
        if label_w >= 20 {
            buf.set_stringn(inner.x, y, format!("{time} {st_word}"), 19, style);
        } else if rows_per >= 2 {
            buf.set_stringn(inner.x, y, &time, 9, style);
            buf.set_stringn(inner.x, y + 1, st_word, 9, style);
        } else {
            // Narrow and one row: the time and the verdict's first letter (key below).
            buf.set_stringn(inner.x, y, &time, 9, style);
            buf.set_stringn(inner.x + 9, y, &st_word[..1], 1, style);
        }
        let strip = Rect::new(
            inner.x + label_w,
            y,
            inner.width - label_w,
            rows_per.min(inner.y + inner.height - y),
        );
        let pts: Vec<(f64, f64)> = r
            .trace
            .iter()
            .enumerate()
            .map(|(k, &v)| (st.trace_ms(k), (v as f64).clamp(-half, half)))
            .collect();
        Canvas::default()
            .x_bounds([a, b])
            .y_bounds([-half, half])
            .marker(Dots::Braille)
            .paint(|ctx| {
                for w in pts.windows(2) {
                    ctx.draw(&CLine {
                        x1: w[0].0,
                        y1: w[0].1,
                        x2: w[1].0,
                        y2: w[1].1,
                        color,
                    });
                }
            })
            .render(strip, buf);
        // Shade the LSR window (after the canvas, which paints its own background).
        let col = |ms: f64| strip.x + super::canvas_col((ms - a) / (b - a), strip.width);
        for x in col(w0)..=col(w1) {
            for yy in strip.y..strip.y + strip.height {
                buf[(x, yy)].set_bg(theme::WINDOW_BG);
            }
        }
    }
    if label_w < 20 && rows_per == 1 {
        let long = " p=present a=absent other=rejected ";
        let short = " p=present a=absent ";
        let key = if area.width > long.chars().count() as u16 + 2 {
            long
        } else {
            short
        };
        let w = key.chars().count() as u16;
        if area.width > w + 2 {
            buf.set_string(area.x + 1, area.y + area.height - 1, key, theme::dim());
        }
    }
}
