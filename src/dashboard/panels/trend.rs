//! The trend over the whole case: LSR peak-to-peak per sweep, the surgical markers as
//! labelled vertical lines, the channel's verdict as a band of glyphs, and the direct
//! response's amplitude beneath (a disappearance only means something while the direct
//! response stays).
//!
//! The time axis always spans the case from its start to now (at least a minute), so the
//! relation of the LSR's course to the steps of the operation stays in view. Marker labels
//! are placed over up to two rows; when they crowd, the later marker wins (recent steps matter
//! most), and the vertical line always stays.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker as Dots;
use ratatui::text::Span;
use ratatui::widgets::canvas::{Canvas, Context, Line as CLine, Points};
use ratatui::widgets::{Block, Widget};

use super::super::state::{DashboardState, VerdictKind, NO_STIMULI_AFTER_S};
use super::super::theme;
use super::{canvas_col, hms};
use crate::model::SweepStatus;

/// Shortest time axis, seconds.
const MIN_SPAN_S: f64 = 60.0;
/// Columns for the vertical scale's labels.
const GUTTER: u16 = 8;

/// Amplitude in at most 7 characters, for the vertical scale.
pub fn fmt_short(v: f32) -> String {
    if v >= 10_000.0 {
        format!("{:.0} mV", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.1} mV", v / 1000.0)
    } else {
        format!("{v:.0} µV")
    }
}

/// The band's key in words.
pub fn band_key() -> String {
    VerdictKind::ALL
        .iter()
        .map(|k| {
            let w = k.words();
            format!("{} {w}", theme::band_glyph(*k))
        })
        .collect::<Vec<_>>()
        .join("  ")
}

/// Draws the trend of channel `i`.
pub fn render(st: &DashboardState, i: usize, area: Rect, buf: &mut Buffer) {
    let Some(c) = st.channels.get(i) else {
        return;
    };
    let block = Block::bordered().title(Span::styled(
        format!(" trend · {} · LSR p2p per sweep, markers, state ", c.label),
        theme::title(),
    ));
    let inner = block.inner(area);
    let block = if inner.width >= 70 {
        block.title_bottom(Span::styled(format!(" {} ", band_key()), theme::dim()))
    } else {
        block
    };
    block.render(area, buf);
    if inner.height < 3 || inner.width < GUTTER + 10 {
        return;
    }
    let h = inner.height;
    let label_rows: u16 = if h >= 8 { 2 } else { 1 };
    let axis_rows: u16 = if h >= 5 { 1 } else { 0 };
    let direct_rows: u16 = if h >= 14 {
        3
    } else if h >= 9 {
        2
    } else {
        0
    };
    let band_rows: u16 = 1;
    let lsr_rows = h - label_rows - axis_rows - direct_rows - band_rows;
    let plot_x = inner.x + GUTTER;
    let plot_w = inner.width - GUTTER;
    let mut y = inner.y;
    let labels_area = Rect::new(plot_x, y, plot_w, label_rows);
    y += label_rows;
    let lsr_area = Rect::new(plot_x, y, plot_w, lsr_rows);
    y += lsr_rows;
    let band_y = y;
    y += band_rows;
    let direct_area = Rect::new(plot_x, y, plot_w, direct_rows);
    y += direct_rows;
    let axis_y = y;

    let last_t = c.trend.last().map(|p| p.t).unwrap_or(0.0);
    let t0 = 0.0;
    let t1 = st.stream_time_s.max(last_t).max(MIN_SPAN_S);
    let col = |t: f64| plot_x + canvas_col((t - t0) / (t1 - t0), plot_w);

    // The LSR amplitude.
    // Scale: twice the baseline amplitude (an outlier must not flatten the course; larger
    // values are drawn at the top), else the largest judged amplitude.
    let baseline = c.baseline.filter(|b| b.present).map(|b| b.p2p_uv as f64);
    let ymax = match baseline {
        Some(b) => 2.0 * b,
        None => c.trend_max_uv as f64 * 1.15,
    }
    .max(20.0);
    let by_status = |s: SweepStatus| -> Vec<(f64, f64)> {
        c.trend
            .iter()
            .filter(|p| p.status == s && p.p2p_uv.is_finite())
            .map(|p| (p.t, (p.p2p_uv as f64).clamp(0.0, ymax)))
            .collect()
    };
    let rejected = by_status(SweepStatus::Rejected);
    let absent = by_status(SweepStatus::Absent);
    let present = by_status(SweepStatus::Present);
    let marker_lines = |ctx: &mut Context, top: f64| {
        for m in &st.markers {
            ctx.draw(&CLine {
                x1: m.time_s,
                y1: 0.0,
                x2: m.time_s,
                y2: top,
                color: theme::MARKER,
            });
        }
    };
    Canvas::default()
        .x_bounds([t0, t1])
        .y_bounds([0.0, ymax])
        .marker(Dots::Braille)
        .paint(|ctx| {
            marker_lines(ctx, ymax);
            if let Some(b) = baseline {
                ctx.draw(&CLine {
                    x1: t0,
                    y1: b,
                    x2: t1,
                    y2: b,
                    color: theme::BASELINE_TRACE,
                });
            }
            ctx.layer();
            for (pts, s) in [
                (&rejected, SweepStatus::Rejected),
                (&absent, SweepStatus::Absent),
                (&present, SweepStatus::Present),
            ] {
                ctx.draw(&Points {
                    coords: pts,
                    color: theme::sweep_color(s),
                });
            }
        })
        .render(lsr_area, buf);
    let dim = theme::dim();
    let gut = GUTTER as usize - 1;
    buf.set_stringn(
        inner.x,
        lsr_area.y,
        format!("{:>gut$}", fmt_short(ymax as f32)),
        gut,
        dim,
    );
    if lsr_rows > 1 {
        buf.set_stringn(
            inner.x,
            lsr_area.y + lsr_rows - 1,
            format!("{:>gut$}", "0"),
            gut,
            dim,
        );
    }
    if let (Some(b), true) = (baseline, lsr_rows >= 4) {
        let row = lsr_area.y + ((1.0 - b / ymax) * (lsr_rows - 1) as f64).round() as u16;
        if row > lsr_area.y && row < lsr_area.y + lsr_rows - 1 {
            buf.set_stringn(
                inner.x,
                row,
                format!("{:>gut$}", "base"),
                gut,
                Style::default().fg(theme::BASELINE_TRACE),
            );
        }
    }

    // The state band: each sweep's verdict holds until the next sweep (unless stimulation
    // paused: then the gap stays blank).
    buf.set_stringn(inner.x, band_y, format!("{:>gut$}", "state"), gut, dim);
    let right_edge = plot_x + plot_w;
    for (k, p) in c.trend.iter().enumerate() {
        let x0 = col(p.t);
        let x1 = match c.trend.get(k + 1) {
            Some(n) if n.t - p.t <= NO_STIMULI_AFTER_S => col(n.t).max(x0 + 1),
            _ => x0 + 1,
        };
        for x in x0..x1.min(right_edge) {
            buf[(x, band_y)]
                .set_symbol(theme::band_glyph(p.kind))
                .set_fg(theme::verdict_color(p.kind));
        }
    }

    // The direct response.
    if direct_rows > 0 {
        let dmax = (st.direct_max_uv as f64 * 1.1).max(st.min_direct_uv as f64 * 2.0);
        let pts: Vec<(f64, f64)> = c
            .trend
            .iter()
            .filter(|p| p.direct_uv.is_finite())
            .map(|p| (p.t, (p.direct_uv as f64).clamp(0.0, dmax)))
            .collect();
        let min_direct = st.min_direct_uv as f64;
        Canvas::default()
            .x_bounds([t0, t1])
            .y_bounds([0.0, dmax])
            .marker(Dots::Braille)
            .paint(|ctx| {
                marker_lines(ctx, dmax);
                ctx.draw(&CLine {
                    x1: t0,
                    y1: min_direct,
                    x2: t1,
                    y2: min_direct,
                    color: theme::WINDOW,
                });
                ctx.layer();
                ctx.draw(&Points {
                    coords: &pts,
                    color: theme::DIRECT,
                });
            })
            .render(direct_area, buf);
        let ds = Style::default().fg(theme::DIRECT);
        buf.set_stringn(
            inner.x,
            direct_area.y,
            format!("{:>gut$}", "direct"),
            gut,
            ds,
        );
        if direct_rows > 1 {
            buf.set_stringn(
                inner.x,
                direct_area.y + 1,
                format!("{:>gut$}", fmt_short(dmax as f32)),
                gut,
                dim,
            );
        }
    }

    // The time axis.
    if axis_rows > 0 {
        let right = plot_x + plot_w;
        for (t, align_end) in [(t0, false), ((t0 + t1) / 2.0, false), (t1, true)] {
            let s = hms(t);
            let w = s.chars().count() as u16;
            let x = if align_end {
                right.saturating_sub(w)
            } else {
                col(t).min(right.saturating_sub(w))
            };
            buf.set_stringn(x, axis_y, &s, w as usize, dim);
        }
    }

    // The marker labels.
    let right = labels_area.x + labels_area.width;
    let mut row_end = vec![labels_area.x; label_rows as usize];
    let style = Style::default()
        .fg(theme::MARKER)
        .add_modifier(Modifier::BOLD);
    for m in &st.markers {
        let text = format!("▏{}", m.label);
        let len = text.chars().count() as u16;
        let x = col(m.time_s);
        let start = x.min(right.saturating_sub(len)).max(labels_area.x);
        let row = row_end
            .iter()
            .position(|&end| start >= end)
            .unwrap_or(row_end.len() - 1);
        let room = right.saturating_sub(start) as usize;
        buf.set_stringn(start, labels_area.y + row as u16, &text, room, style);
        row_end[row] = start + len + 1;
    }
}
